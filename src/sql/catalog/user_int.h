/*
 * user_int.h - what the user tables' two files share: user.c (definitions,
 * segments, reading and writing them) and user_stmt.c (the statements that
 * create and change them).
 */
#ifndef SL_SQL_CATALOG_USER_INT_H
#define SL_SQL_CATALOG_USER_INT_H

#include "sql/query_int.h"
#include "sql/catalog/lakescan.h"
#include "parquet/parquet.h"

#include <pthread.h>

#define USER_MAX_COLS 256

enum { UK_TABLE = 1, UK_VIEW };

typedef struct useg {
    const char *key;
    int64_t rows;
    int64_t bytes;
} useg;

/* A definition, parsed (strings in an arena). */
typedef struct udef {
    int kind;
    const char *uid;           /* the table's directory: unique per CREATE */
    int ncols;
    const char **names;
    sql_type *types;
    int nseg;
    useg *segs;
    const char *view_sql;
    int64_t version;
} udef;

typedef struct retired {
    struct retired *next;
    int64_t at;
    char key[];
} retired;

typedef struct sql_user_catalog {
    pthread_mutex_t write_mu;  /* writers of user tables take turns on this server */
    pthread_mutex_t retire_mu;
    retired *retired;
} sql_user_catalog;

typedef struct utab {
    sql_table t;
    sql_engine *eng;
    udef d;
    int only_seg;            /* >= 0: this segment alone (UPDATE/DELETE work per segment) */
} utab;

typedef struct segw {
    sql_engine *eng;
    const udef *d;
    arena *a;
    col_schema *schema;
    pq_writer *w;
    dbuf buf;
    int64_t rows;
    useg *out;               /* segments written */
    int nout, cap;
    sql_err *e;
} segw;

/* A definition: 1 found (d set), 0 none, or an error (e set). */
int user_def_get(sql_engine *eng, const char *name, arena *a, udef *d, sql_err *e);
/* Creates (expect 0), replaces (expect: the version read) or drops (d NULL) a definition. */
int user_def_put(sql_engine *eng, const char *name, const udef *d, int64_t expect, sql_err *e);
/* Replaced segments: deleted a grace period later (queries in flight still read them). */
void user_retire_later(sql_user_catalog *uc, const char *key);
void user_retire_sweep(sql_engine *eng, bool all);
/* The table of a definition, made for one query in a. */
sql_table *user_table_of(sql_engine *eng, const char *name, const udef *d, arena *a);
/* Writing segments: rows added in batches, a segment per SEGMENT_ROWS. */
int user_segw_init(segw *s, sql_engine *eng, const udef *d, arena *a, sql_err *e);
int user_segw_add(segw *s, const sql_batch *b);
int user_segw_flush(segw *s);
void user_segw_abort(segw *s);
void user_segw_done(segw *s);
/* A sink for a query's batches into a segment writer (arg: segw). */
int user_write_rows(void *arg, const sql_batch *b);

#endif
