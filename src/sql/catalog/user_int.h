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
#define USER_TABLES_PREFIX "sql/tables/"

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

/* user_cache.c: small segments kept decoded (every column, shared by scans). */
typedef struct user_seg_cache user_seg_cache;
int user_cache_new(user_seg_cache **out);
void user_cache_free(user_seg_cache *c);
/* 1 and a new batch sharing columns cols[0..ncols) when key is cached, else 0. */
int user_cache_get(user_seg_cache *c, const char *key, const int *cols, int ncols,
                   sql_batch **out);
/* Keeps b (every column of segment key; taken) within the budget. */
void user_cache_put(user_seg_cache *c, const char *key, sql_batch *b);
void user_cache_drop(user_seg_cache *c, const char *key);

typedef struct sql_user_catalog {
    pthread_mutex_t write_mu;  /* writers of user tables take turns on this server */
    pthread_mutex_t retire_mu;
    retired *retired;
    user_seg_cache *cache;
    /* Definitions as last read (absent ones too).  One process owns
     * the data directory (the object store's lock) and every change goes through
     * user_def_put, which empties this; a metadata store shared by servers must not
     * use it. */
    pthread_mutex_t def_mu;
    struct def_ent {
        char *name;
        bool found;            /* else the name has no definition */
        arena pa;
        udef ud;               /* parsed once (in pa), copied out on a hit */
    } defs[64];
    int ndefs;
    uint64_t def_gen;          /* +1 at every clear: a read that saw an older one is not kept */
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
    const char *tag;         /* NULL: segments keyed by a new uuid; else {tag}-{next_k} */
    int64_t next_k;
} segw;

/* A definition: 1 found (d set), 0 none, or an error (e set). */
int user_def_get(sql_engine *eng, const char *name, arena *a, udef *d, sql_err *e);
/* Creates (expect 0), replaces (expect: the version read) or drops (d NULL) a definition. */
int user_def_put(sql_engine *eng, const char *name, const udef *d, int64_t expect, sql_err *e);
/* The definition of table name as it is now, under the writers' lock, changed by fn
 * and stored back if fn says it changed it (40001 when the table was dropped, or
 * replaced: its uid is no longer uid, when uid is given).  a holds the change. */
int user_def_change(sql_engine *eng, const char *name, const char *uid,
                    int (*fn)(void *arg, udef *d, arena *a, bool *changed), void *arg,
                    arena *a, sql_err *e);
/* Adds segments written for d to the table's definition as it is now (user_def_change). */
int sql_user_add_segments(sql_engine *eng, const char *name, const udef *d, const useg *segs,
                          int n, arena *a, sql_err *e);
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
/* The user table a statement writes (d, its name in *name): 0, or the error (42809 for a
 * lake table or a view, 42P01 when nothing has the name).  verb: "insert into", ... */
int sql_user_writable(sql_query *q, const PgQuery__RangeVar *rv, const char *verb,
                      const char **name, udef *d);
/* A sink for a query's batches into a segment writer (arg: segw). */
int user_write_rows(void *arg, const sql_batch *b);

#endif
