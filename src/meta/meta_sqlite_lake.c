/*
 * meta_sqlite_lake.c - the lake's lakehouse_partitions table in SQLite.
 *
 * One row per partition build.  The current partition of a key (view,
 * instance, begin_insert_time) is the row with retired = 0; a rebuild retires
 * it and inserts the new row in the same transaction, so at every moment a key
 * has at most one current row and that row's file exists (the lake stores the
 * file before it asks for the row).  Retired rows stay until the janitor has
 * deleted their files, then are forgotten.
 *
 * Writes go through the backend's single writer thread (group commit, as the
 * telemetry inserts); reads use the pooled reader connections.
 */
#include "meta/meta_sqlite_int.h"

#include "base/alloc.h"

#include <string.h>

const char *const msq_lake_schema =
    "CREATE TABLE IF NOT EXISTS lakehouse_partitions("
    " view_set_name TEXT NOT NULL, view_instance_id TEXT NOT NULL,"
    " begin_insert_time INTEGER NOT NULL, end_insert_time INTEGER NOT NULL,"
    " min_event_time INTEGER NOT NULL, max_event_time INTEGER NOT NULL,"
    " file_path TEXT PRIMARY KEY, file_size INTEGER NOT NULL,"
    " schema_version INTEGER NOT NULL, source_token INTEGER NOT NULL,"
    " row_count INTEGER NOT NULL, event_count INTEGER NOT NULL, state BLOB,"
    " updated INTEGER NOT NULL, retired INTEGER NOT NULL DEFAULT 0,"
    " retired_time INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    /* At most one current partition per key. */
    "CREATE UNIQUE INDEX IF NOT EXISTS lakehouse_partitions_current ON"
    " lakehouse_partitions(view_set_name, view_instance_id, begin_insert_time)"
    " WHERE retired = 0;"
    "CREATE INDEX IF NOT EXISTS lakehouse_partitions_retired ON"
    " lakehouse_partitions(retired, retired_time);";

#define PART_COLUMNS                                                                      \
    "view_set_name, view_instance_id, begin_insert_time, end_insert_time, min_event_time," \
    " max_event_time, file_path, file_size, schema_version, source_token, row_count,"     \
    " event_count, state, updated, retired, retired_time"

static void read_partition(sqlite3_stmt *st, meta_partition *p)
{
    memset(p, 0, sizeof *p);
    p->view_set_name = msq_col_text(st, 0);
    p->view_instance_id = msq_col_text(st, 1);
    p->begin_insert_time_ns = sqlite3_column_int64(st, 2);
    p->end_insert_time_ns = sqlite3_column_int64(st, 3);
    p->min_event_time_ns = sqlite3_column_int64(st, 4);
    p->max_event_time_ns = sqlite3_column_int64(st, 5);
    p->file_path = msq_col_text(st, 6);
    p->file_size = (uint64_t)sqlite3_column_int64(st, 7);
    p->schema_version = (uint32_t)sqlite3_column_int64(st, 8);
    p->source_token = (uint64_t)sqlite3_column_int64(st, 9);
    p->row_count = (uint64_t)sqlite3_column_int64(st, 10);
    p->event_count = (uint64_t)sqlite3_column_int64(st, 11);
    p->state = sqlite3_column_blob(st, 12);
    p->state_len = (size_t)sqlite3_column_bytes(st, 12);
    p->updated_ns = sqlite3_column_int64(st, 13);
    p->retired = (int)sqlite3_column_int64(st, 14);
    p->retired_time_ns = sqlite3_column_int64(st, 15);
}

/* Prepares a one-off statement on the writer connection (run in the writer's transaction). */
static int prepare_write(sqlite_meta *m, const char *sql, sqlite3_stmt **out, errmsg *e)
{
    if (sqlite3_prepare_v2(m->wdb, sql, -1, out, NULL) != SQLITE_OK)
        return msq_db_fail(m->wdb, e, "prepare");
    return SL_OK;
}

int msq_apply_part_replace(sqlite_meta *m, const meta_partition *p, errmsg *e, int64_t now)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare_write(m,
                           "UPDATE lakehouse_partitions SET retired = 1, retired_time = ?4"
                           " WHERE view_set_name = ?1 AND view_instance_id = ?2"
                           " AND begin_insert_time = ?3 AND retired = 0",
                           &st, e);
    if (rc)
        return rc;
    msq_bind_text(st, 1, p->view_set_name);
    msq_bind_text(st, 2, p->view_instance_id);
    sqlite3_bind_int64(st, 3, p->begin_insert_time_ns);
    sqlite3_bind_int64(st, 4, now);
    rc = msq_step_done(m->wdb, st, e, "retire partition");
    sqlite3_finalize(st);
    if (rc || (rc = prepare_write(m,
                                  "INSERT INTO lakehouse_partitions(" PART_COLUMNS ")"
                                  " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,0,0)",
                                  &st, e)))
        return rc;
    msq_bind_text(st, 1, p->view_set_name);
    msq_bind_text(st, 2, p->view_instance_id);
    int64_t v[] = {p->begin_insert_time_ns, p->end_insert_time_ns, p->min_event_time_ns,
                   p->max_event_time_ns};
    for (int i = 0; i < 4; i++)
        sqlite3_bind_int64(st, 3 + i, v[i]);
    msq_bind_text(st, 7, p->file_path);
    sqlite3_bind_int64(st, 8, (int64_t)p->file_size);
    sqlite3_bind_int64(st, 9, p->schema_version);
    sqlite3_bind_int64(st, 10, (int64_t)p->source_token);
    sqlite3_bind_int64(st, 11, (int64_t)p->row_count);
    sqlite3_bind_int64(st, 12, (int64_t)p->event_count);
    if (p->state_len)
        sqlite3_bind_blob(st, 13, p->state, (int)p->state_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 13);
    sqlite3_bind_int64(st, 14, now);
    rc = msq_step_done(m->wdb, st, e, "insert partition");
    sqlite3_finalize(st);
    return rc;
}

int msq_apply_part_forget(sqlite_meta *m, const char *file_path, errmsg *e)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare_write(
        m, "DELETE FROM lakehouse_partitions WHERE file_path = ?1 AND retired = 1", &st, e);
    if (rc)
        return rc;
    msq_bind_text(st, 1, file_path);
    rc = msq_step_done(m->wdb, st, e, "forget partition");
    sqlite3_finalize(st);
    return rc;
}

int msq_apply_part_retire(sqlite_meta *m, const char *file_path, int *existed, errmsg *e,
                          int64_t now)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare_write(m,
                           "UPDATE lakehouse_partitions SET retired = 1, retired_time = ?2"
                           " WHERE file_path = ?1 AND retired = 0",
                           &st, e);
    if (rc)
        return rc;
    msq_bind_text(st, 1, file_path);
    sqlite3_bind_int64(st, 2, now);
    rc = msq_step_done(m->wdb, st, e, "retire partition");
    sqlite3_finalize(st);
    if (!rc)
        *existed = sqlite3_changes(m->wdb) > 0; /* 1: this call retired it */
    return rc;
}

typedef struct expire_parts {
    int64_t before;
    int limit;
} expire_parts;

int msq_apply_expire_parts(sqlite_meta *m, const void *rec, int *n, errmsg *e, int64_t now)
{
    const expire_parts *x = rec;
    sqlite3_stmt *st = NULL;
    int rc = prepare_write(m,
                           "UPDATE lakehouse_partitions SET retired = 1, retired_time = ?3"
                           " WHERE file_path IN (SELECT file_path FROM lakehouse_partitions"
                           " WHERE retired = 0 AND begin_insert_time < ?1 LIMIT ?2)",
                           &st, e);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, x->before);
    sqlite3_bind_int64(st, 2, x->limit);
    sqlite3_bind_int64(st, 3, now);
    rc = msq_step_done(m->wdb, st, e, "expire partitions");
    sqlite3_finalize(st);
    if (!rc)
        *n = sqlite3_changes(m->wdb);
    return rc;
}

int msq_expire_partitions(meta *mm, int64_t insert_before_ns, int limit, int *retired,
                          errmsg *e)
{
    expire_parts x = {insert_before_ns, limit > 0 ? limit : 1};
    return msq_submit((sqlite_meta *)mm, REQ_EXPIRE_PARTS, &x, retired, e);
}

int msq_replace_partition(meta *mm, const meta_partition *p, errmsg *e)
{
    return msq_submit((sqlite_meta *)mm, REQ_PART_REPLACE, p, NULL, e);
}

int msq_forget_partition(meta *mm, const char *file_path, errmsg *e)
{
    return msq_submit((sqlite_meta *)mm, REQ_PART_FORGET, file_path, NULL, e);
}

int msq_retire_partition(meta *mm, const char *file_path, int *retired, errmsg *e)
{
    return msq_submit((sqlite_meta *)mm, REQ_PART_RETIRE, file_path, retired, e);
}

typedef struct part_ctx {
    meta_partition_fn fn;
    void *arg;
} part_ctx;

static int part_row(sqlite3_stmt *st, void *ctx)
{
    part_ctx *c = ctx;
    meta_partition p;
    read_partition(st, &p);
    return c->fn(c->arg, &p);
}

/* The parameters of the partition queries: text ?1 and ?2, integer ?3, each optional. */
typedef struct bind2 {
    const char *a, *b;
    int64_t n;
    int has_n;
} bind2;

static void bind_part(sqlite3_stmt *st, const void *arg)
{
    const bind2 *bind = arg;
    if (bind->a)
        msq_bind_text(st, 1, bind->a);
    if (bind->b)
        msq_bind_text(st, 2, bind->b);
    if (bind->has_n)
        sqlite3_bind_int64(st, 3, bind->n);
}

static int query_bound(sqlite_meta *m, const char *sql, const bind2 *bind, part_ctx *c, errmsg *e)
{
    return msq_query(m, sql, bind_part, bind, part_row, c, e);
}

int msq_list_partitions(meta *mm, const char *view, const char *instance, meta_partition_fn fn,
                        void *arg, errmsg *e)
{
    part_ctx c = {fn, arg};
    bind2 b = {view, instance, 0, 0};
    return query_bound((sqlite_meta *)mm,
                       "SELECT " PART_COLUMNS " FROM lakehouse_partitions WHERE view_set_name = ?1"
                       " AND view_instance_id = ?2 AND retired = 0 ORDER BY begin_insert_time",
                       &b, &c, e);
}

int msq_list_retired(meta *mm, int64_t retired_before_ns, meta_partition_fn fn, void *arg,
                     errmsg *e)
{
    part_ctx c = {fn, arg};
    bind2 b = {NULL, NULL, retired_before_ns, 1};
    return query_bound((sqlite_meta *)mm,
                       "SELECT " PART_COLUMNS " FROM lakehouse_partitions WHERE retired = 1"
                       " AND retired_time < ?3 ORDER BY retired_time",
                       &b, &c, e);
}

int msq_list_partition_files(meta *mm, meta_partition_fn fn, void *arg, errmsg *e)
{
    part_ctx c = {fn, arg};
    bind2 b = {0};
    return query_bound((sqlite_meta *)mm, "SELECT " PART_COLUMNS " FROM lakehouse_partitions",
                       &b, &c, e);
}

typedef struct find_ctx {
    meta_process_fn fn;
    void *arg;
    int found;
} find_ctx;

static int process_row(sqlite3_stmt *st, void *ctx)
{
    find_ctx *c = ctx;
    meta_process_summary row;
    msq_read_process_row(st, &row);
    c->found = 1;
    return c->fn(c->arg, &row);
}

int msq_find_process(meta *mm, const sl_uuid *process_id, meta_process_fn fn, void *arg,
                     errmsg *e)
{
    find_ctx c = {fn, arg, 0};
    int rc = msq_query_rows((sqlite_meta *)mm,
                            "SELECT process_id, parent_process_id, exe, username, realname,"
                            " computer, distro, cpu_brand, tsc_frequency, start_time,"
                            " start_ticks, properties, insert_time, content_hash, 0, 0, 0, 0, 0, 0, 0"
                            " FROM processes WHERE process_id = ?1",
                            process_id, process_row, &c, e);
    if (!rc && !c.found) {
        char t[UUID_STR_LEN];
        uuid_format(process_id, t);
        rc = errmsg_set(e, SL_ENOTFOUND, "unknown process %s", t);
    }
    return rc;
}
