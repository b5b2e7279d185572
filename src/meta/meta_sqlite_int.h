/*
 * meta_sqlite_int.h - internals shared by the SQLite backend's files.
 *
 * meta_sqlite.c holds the connections, the writer thread (group commit) and the
 * telemetry tables; meta_sqlite_lake.c holds the lake's lakehouse_partitions
 * table.  Both write through the one writer thread (msq_submit) and read
 * through the pooled reader connections (msq_query_rows).
 */
#ifndef SL_META_SQLITE_INT_H
#define SL_META_SQLITE_INT_H

#include "meta/meta.h"
#include "meta/meta_queue.h"

#include <pthread.h>
#include <sqlite3.h>

enum { REQ_PROCESS = 1, REQ_STREAM, REQ_BLOCK, REQ_PART_REPLACE, REQ_PART_FORGET, REQ_SQL_PUT,
       REQ_PART_RETIRE, REQ_EXPIRE_BLOCKS, REQ_EXPIRE_PARTS };

/* Statements of the write connection. */
enum {
    W_GET_PROCESS,
    W_INS_PROCESS,
    W_GET_STREAM,
    W_INS_STREAM,
    W_GET_BLOCK,
    W_INS_BLOCK,
    W_BEGIN,
    W_COMMIT,
    W_ROLLBACK,
    W_SAVEPOINT,
    W_RELEASE,
    W_ROLLBACK_TO,
    W_N
};

typedef struct reader {
    sqlite3 *db;
    sqlite3_stmt *find_stream, *find_block;
} reader;

typedef struct sqlite_meta {
    meta base;
    sqlite3 *wdb;
    sqlite3_stmt *w[W_N];
    mqueue q;

    reader *readers;
    int n_readers;
    mslots rslots;
} sqlite_meta;


/* Helpers (meta_sqlite.c). */
int msq_db_fail(sqlite3 *db, errmsg *e, const char *what);
void msq_bind_uuid(sqlite3_stmt *st, int i, const sl_uuid *u);
void msq_bind_text(sqlite3_stmt *st, int i, const char *s);
void msq_col_uuid(sqlite3_stmt *st, int i, sl_uuid *out);
const char *msq_col_text(sqlite3_stmt *st, int i);
int msq_exec(sqlite3 *db, const char *sql, errmsg *e);
/* Runs a statement that returns no rows, then resets it and clears its bindings. */
int msq_step_done(sqlite3 *db, sqlite3_stmt *st, errmsg *e, const char *what);
/* Borrows a pooled reader connection (waits if all are busy) and gives it back. */
reader *msq_reader_take(sqlite_meta *m);
void msq_reader_give(sqlite_meta *m, reader *r);
/* Queues one write request for the writer thread and waits for its commit. */
int msq_submit(sqlite_meta *m, int kind, const void *rec, int *existed, errmsg *e);
/* Sets a statement's parameters from arg. */
typedef void (*msq_bind_fn)(sqlite3_stmt *st, const void *arg);
/*
 * Runs a read-only query on a pooled reader; bind (may be NULL) sets its
 * parameters from bind_arg.  each_row gets every row; a non-zero return stops
 * and is returned.
 */
int msq_query(sqlite_meta *m, const char *sql, msq_bind_fn bind, const void *bind_arg,
              int (*each_row)(sqlite3_stmt *st, void *ctx), void *ctx, errmsg *e);
/* msq_query with bind_id (may be NULL) bound to ?1. */
int msq_query_rows(sqlite_meta *m, const char *sql, const sl_uuid *bind_id,
                   int (*each_row)(sqlite3_stmt *st, void *ctx), void *ctx, errmsg *e);

/* Reads a row of the processes list query (19 columns: the table's 14, then 5 aggregates). */
void msq_read_process_row(sqlite3_stmt *st, meta_process_summary *row);

/* The lake's table (meta_sqlite_lake.c). */
extern const char *const msq_lake_schema;
/* Applies REQ_PART_REPLACE / REQ_PART_FORGET inside the writer's transaction. */
int msq_apply_part_replace(sqlite_meta *m, const meta_partition *p, errmsg *e, int64_t now);
int msq_apply_part_forget(sqlite_meta *m, const char *file_path, errmsg *e);
int msq_apply_part_retire(sqlite_meta *m, const char *file_path, int *existed, errmsg *e,
                          int64_t now);
int msq_find_process(meta *m, const sl_uuid *process_id, meta_process_fn fn, void *arg,
                     errmsg *e);
int msq_list_partitions(meta *m, const char *view, const char *instance, meta_partition_fn fn,
                        void *arg, errmsg *e);
int msq_replace_partition(meta *m, const meta_partition *p, errmsg *e);
int msq_list_retired(meta *m, int64_t retired_before_ns, meta_partition_fn fn, void *arg,
                     errmsg *e);
int msq_forget_partition(meta *m, const char *file_path, errmsg *e);
int msq_retire_partition(meta *m, const char *file_path, int *retired, errmsg *e);
int msq_apply_expire_parts(sqlite_meta *m, const void *rec, int *n, errmsg *e, int64_t now);
int msq_expire_partitions(meta *m, int64_t insert_before_ns, int limit, int *retired,
                          errmsg *e);
int msq_list_partition_files(meta *m, meta_partition_fn fn, void *arg, errmsg *e);

/* SQL user tables (meta_sqlite_sql.c). */
extern const char *const msq_sql_schema;
int msq_apply_sql_put(sqlite_meta *m, const void *rec, errmsg *e, int64_t now);
int msq_sql_table_put(meta *m, const char *name, int64_t expect_version, const char *def,
                      int64_t *new_version, errmsg *e);
int msq_sql_table_list(meta *m, const char *name, meta_sql_table_fn fn, void *arg, errmsg *e);

#endif
