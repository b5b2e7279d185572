/*
 * meta_pg_int.h - internals shared by the PostgreSQL backend's files.
 *
 * meta_pg.c holds the connections, the schema and its migrations, the writer
 * thread (group commit) for the telemetry tables, the partition locks and the
 * leader lock; meta_pg_lake.c holds lakehouse_partitions, sql_tables and
 * retention.  Statements go as text with typed parameters ($n::type); results
 * come back as text.
 */
#ifndef SL_META_PG_INT_H
#define SL_META_PG_INT_H

#include "meta/meta.h"
#include "meta/meta_queue.h"

#include <libpq-fe.h>
#include <pthread.h>

/* One pooled connection of the reader pool. */
typedef struct pgconn {
    PGconn *c;
} pgconn;

typedef struct pg_meta {
    meta base;
    char *conninfo;
    mqueue q;
    PGconn *wc;              /* the writer's (its thread only) */
    int w_prepared;          /* the writer's statements are prepared on wc */

    pgconn *readers;         /* reads and the short write transactions of the lake */
    int n_readers;
    mslots rslots;

    PGconn **idle_lockers;   /* sessions holding no partition lock */
    int n_idle, n_lockers, max_lockers;
    pthread_mutex_t lmu;
    pthread_cond_t lcv;

    PGconn *leader;          /* the session holding (or trying for) the leader lock */
    int leading;
    pthread_mutex_t leader_mu;
} pg_meta;

/* Statement parameters as text (or binary bytes), built on the stack. */
#define PGA_MAX 16
typedef struct pgargs {
    const char *v[PGA_MAX];
    int len[PGA_MAX];
    int fmt[PGA_MAX];
    char buf[PGA_MAX][40];
    int n;
} pgargs;

void pga_text(pgargs *a, const char *s);
void pga_i64(pgargs *a, int64_t v);
void pga_uuid(pgargs *a, const sl_uuid *u);
void pga_null(pgargs *a);
void pga_bytes(pgargs *a, const void *p, size_t n);

/* Runs sql with a's parameters on c; *out gets the result (PQclear it) when not NULL. */
int mpg_exec(PGconn *c, const char *sql, const pgargs *a, PGresult **out, errmsg *e);
/* Reconnects c if its session broke; 0 when it is usable. */
int mpg_revive(PGconn *c, errmsg *e);
/* Borrows a pooled connection (reconnected if it broke) and gives it back. */
pgconn *mpg_take(pg_meta *m);
void mpg_give(pg_meta *m, pgconn *p);
/* Runs a query on a pooled connection and gives each row to each_row (non-zero stops). */
int mpg_query(pg_meta *m, const char *sql, const pgargs *a,
              int (*each_row)(PGresult *r, int row, void *ctx), void *ctx, errmsg *e);
/* Runs a statement in its own transaction on a pooled connection; *changed: rows touched. */
int mpg_write(pg_meta *m, const char *sql, const pgargs *a, int64_t *changed, errmsg *e);

int64_t mpg_i64(PGresult *r, int row, int col);
const char *mpg_text(PGresult *r, int row, int col);
void mpg_uuid(PGresult *r, int row, int col, sl_uuid *out);
void mpg_read_block(PGresult *r, int row, meta_block *b);

/* meta_pg_lake.c */
extern const char *const mpg_block_columns;
int mpg_list_partitions(meta *m, const char *view, const char *instance, meta_partition_fn fn,
                        void *arg, errmsg *e);
int mpg_replace_partition(meta *m, const meta_partition *p, errmsg *e);
int mpg_list_retired(meta *m, int64_t retired_before_ns, meta_partition_fn fn, void *arg,
                     errmsg *e);
int mpg_forget_partition(meta *m, const char *file_path, errmsg *e);
int mpg_retire_partition(meta *m, const char *file_path, int *retired, errmsg *e);
int mpg_list_partition_files(meta *m, meta_partition_fn fn, void *arg, errmsg *e);
int mpg_sql_table_put(meta *m, const char *name, int64_t expect_version, const char *def,
                      int64_t *new_version, errmsg *e);
int mpg_sql_table_list(meta *m, const char *name, meta_sql_table_fn fn, void *arg, errmsg *e);
int mpg_expire_blocks(meta *m, int64_t before_ns, int limit, meta_block_fn fn, void *arg,
                      errmsg *e);
int mpg_expire_partitions(meta *m, int64_t insert_before_ns, int limit, int *retired,
                          errmsg *e);

#endif
