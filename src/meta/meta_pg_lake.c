/*
 * meta_pg_lake.c - lakehouse_partitions, sql_tables and retention in PostgreSQL.
 *
 * The rules are the SQLite backend's (meta_sqlite_lake.c, meta_sqlite_sql.c):
 * a key has at most one current partition (a unique partial index), a rebuild
 * retires the old row and inserts the new one in one transaction, a SQL
 * table's definition changes by compare-and-set on its version.  These writes
 * are rare and short, so they run on a pooled connection in their own
 * transaction instead of the insert writer's batches.
 */
#include "meta/meta_pg_int.h"

#include "base/alloc.h"
#include "base/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PART_COLUMNS                                                                      \
    "view_set_name, view_instance_id, begin_insert_time, end_insert_time, min_event_time," \
    " max_event_time, file_path, file_size, schema_version, source_token, row_count,"     \
    " event_count, state, updated, retired, retired_time"

typedef struct part_ctx {
    meta_partition_fn fn;
    void *arg;
} part_ctx;

static int part_row(PGresult *r, int row, void *ctx)
{
    part_ctx *c = ctx;
    meta_partition p;
    memset(&p, 0, sizeof p);
    p.view_set_name = mpg_text(r, row, 0);
    p.view_instance_id = mpg_text(r, row, 1);
    p.begin_insert_time_ns = mpg_i64(r, row, 2);
    p.end_insert_time_ns = mpg_i64(r, row, 3);
    p.min_event_time_ns = mpg_i64(r, row, 4);
    p.max_event_time_ns = mpg_i64(r, row, 5);
    p.file_path = mpg_text(r, row, 6);
    p.file_size = (uint64_t)mpg_i64(r, row, 7);
    p.schema_version = (uint32_t)mpg_i64(r, row, 8);
    p.source_token = (uint64_t)mpg_i64(r, row, 9);
    p.row_count = (uint64_t)mpg_i64(r, row, 10);
    p.event_count = (uint64_t)mpg_i64(r, row, 11);
    unsigned char *state = NULL;
    size_t n = 0;
    if (!PQgetisnull(r, row, 12)) {
        state = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, 12), &n);
        if (!state)
            return SL_ENOMEM;
    }
    p.state = state;
    p.state_len = n;
    p.updated_ns = mpg_i64(r, row, 13);
    p.retired = (int)mpg_i64(r, row, 14);
    p.retired_time_ns = mpg_i64(r, row, 15);
    int rc = c->fn(c->arg, &p);
    PQfreemem(state);
    return rc;
}

static int query_parts(meta *mm, const char *where, const pgargs *a, meta_partition_fn fn,
                       void *arg, errmsg *e)
{
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT " PART_COLUMNS " FROM lakehouse_partitions %s", where);
    part_ctx c = {fn, arg};
    int rc = mpg_query((pg_meta *)mm, sql, a, part_row, &c, e);
    if (rc == SL_ENOMEM)
        errmsg_set(e, rc, "out of memory");
    return rc;
}

int mpg_list_partitions(meta *mm, const char *view, const char *instance, meta_partition_fn fn,
                        void *arg, errmsg *e)
{
    pgargs a = {0};
    pga_text(&a, view);
    pga_text(&a, instance);
    return query_parts(mm, "WHERE view_set_name = $1 AND view_instance_id = $2 AND retired = 0"
                       " ORDER BY begin_insert_time", &a, fn, arg, e);
}

int mpg_list_retired(meta *mm, int64_t retired_before_ns, meta_partition_fn fn, void *arg,
                     errmsg *e)
{
    pgargs a = {0};
    pga_i64(&a, retired_before_ns);
    return query_parts(mm, "WHERE retired = 1 AND retired_time < $1::int8 ORDER BY retired_time",
                       &a, fn, arg, e);
}

int mpg_list_partition_files(meta *mm, meta_partition_fn fn, void *arg, errmsg *e)
{
    return query_parts(mm, "", NULL, fn, arg, e);
}

int mpg_replace_partition(meta *mm, const meta_partition *p, errmsg *e)
{
    pg_meta *m = (pg_meta *)mm;
    int64_t now = clock_wall_ns();
    pgargs a = {0};
    pga_text(&a, p->view_set_name);
    pga_text(&a, p->view_instance_id);
    int64_t v[] = {p->begin_insert_time_ns, p->end_insert_time_ns, p->min_event_time_ns,
                   p->max_event_time_ns};
    for (int i = 0; i < 4; i++)
        pga_i64(&a, v[i]);
    pga_text(&a, p->file_path);
    pga_i64(&a, (int64_t)p->file_size);
    pga_i64(&a, p->schema_version);
    pga_i64(&a, (int64_t)p->source_token);
    pga_i64(&a, (int64_t)p->row_count);
    pga_i64(&a, (int64_t)p->event_count);
    if (p->state_len)
        pga_bytes(&a, p->state, p->state_len);
    else
        pga_null(&a);
    pga_i64(&a, now);
    /* Retire, then insert: two statements, one transaction, on one connection. */
    pgconn *c = mpg_take(m);
    int rc = mpg_revive(c->c, e);
    if (!rc)
        rc = mpg_exec(c->c, "BEGIN", NULL, NULL, e);
    pgargs ra = {0};
    pga_text(&ra, p->view_set_name);
    pga_text(&ra, p->view_instance_id);
    pga_i64(&ra, p->begin_insert_time_ns);
    pga_i64(&ra, now);
    if (!rc)
        rc = mpg_exec(c->c, "UPDATE lakehouse_partitions SET retired = 1, retired_time = $4::int8"
                      " WHERE view_set_name = $1 AND view_instance_id = $2"
                      " AND begin_insert_time = $3::int8 AND retired = 0", &ra, NULL, e);
    if (!rc)
        rc = mpg_exec(c->c, "INSERT INTO lakehouse_partitions(" PART_COLUMNS ") VALUES($1, $2,"
                      " $3::int8, $4::int8, $5::int8, $6::int8, $7, $8::int8, $9::int8,"
                      " $10::int8, $11::int8, $12::int8, $13::bytea, $14::int8, 0, 0)",
                      &a, NULL, e);
    if (!rc)
        rc = mpg_exec(c->c, "COMMIT", NULL, NULL, e);
    else
        mpg_exec(c->c, "ROLLBACK", NULL, NULL, NULL);
    mpg_give(m, c);
    return rc;
}

int mpg_forget_partition(meta *mm, const char *file_path, errmsg *e)
{
    pgargs a = {0};
    pga_text(&a, file_path);
    return mpg_write((pg_meta *)mm,
                     "DELETE FROM lakehouse_partitions WHERE file_path = $1 AND retired = 1", &a,
                     NULL, e);
}

int mpg_retire_partition(meta *mm, const char *file_path, int *retired, errmsg *e)
{
    pgargs a = {0};
    pga_text(&a, file_path);
    pga_i64(&a, clock_wall_ns());
    int64_t n = 0;
    int rc = mpg_write((pg_meta *)mm, "UPDATE lakehouse_partitions SET retired = 1,"
                       " retired_time = $2::int8 WHERE file_path = $1 AND retired = 0", &a, &n, e);
    if (!rc && retired)
        *retired = n > 0;
    return rc;
}

int mpg_expire_partitions(meta *mm, int64_t insert_before_ns, int limit, int *retired,
                          errmsg *e)
{
    pgargs a = {0};
    pga_i64(&a, insert_before_ns);
    pga_i64(&a, limit > 0 ? limit : 1);
    pga_i64(&a, clock_wall_ns());
    int64_t n = 0;
    int rc = mpg_write((pg_meta *)mm,
                       "UPDATE lakehouse_partitions SET retired = 1, retired_time = $3::int8"
                       " WHERE file_path IN (SELECT file_path FROM lakehouse_partitions"
                       " WHERE retired = 0 AND begin_insert_time < $1::int8 LIMIT $2::int8)",
                       &a, &n, e);
    if (!rc && retired)
        *retired = (int)n;
    return rc;
}

/* ------------------------------------------------------------ retention of blocks */

typedef struct expired {
    meta_block *rows;
    int n, cap;
} expired;

static int take_expired(PGresult *r, int row, void *ctx)
{
    expired *x = ctx;
    if (x->n < x->cap)
        mpg_read_block(r, row, &x->rows[x->n++]);
    return 0;
}

int mpg_expire_blocks(meta *mm, int64_t before_ns, int limit, meta_block_fn fn, void *arg,
                      errmsg *e)
{
    pg_meta *m = (pg_meta *)mm;
    if (limit < 1)
        limit = 1;
    expired x = {sl_calloc((size_t)limit, sizeof(meta_block)), 0, limit};
    if (!x.rows)
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    pgargs a = {0};
    pga_i64(&a, before_ns);
    pga_i64(&a, limit);
    char sql[512];
    snprintf(sql, sizeof sql, "DELETE FROM blocks WHERE block_id IN (SELECT block_id FROM blocks"
             " WHERE end_time < $1::int8 LIMIT $2::int8) RETURNING %s", mpg_block_columns);
    int rc = mpg_query(m, sql, &a, take_expired, &x, e);
    if (!rc && x.n < limit) {
        /* Nothing older left among the blocks: streams and processes left empty go too. */
        pgargs b = {0};
        pga_i64(&b, before_ns);
        rc = mpg_write(m, "DELETE FROM streams WHERE insert_time < $1::int8 AND NOT EXISTS"
                       " (SELECT 1 FROM blocks b WHERE b.stream_id = streams.stream_id)",
                       &b, NULL, e);
        if (!rc)
            rc = mpg_write(m, "DELETE FROM processes WHERE insert_time < $1::int8 AND NOT EXISTS"
                           " (SELECT 1 FROM streams s WHERE s.process_id = processes.process_id)",
                           &b, NULL, e);
    }
    for (int i = 0; !rc && i < x.n; i++)
        rc = fn(arg, &x.rows[i]);
    sl_free(x.rows);
    return rc ? rc : x.n;
}

/* ------------------------------------------------------------ SQL user tables */

int mpg_sql_table_put(meta *mm, const char *name, int64_t expect_version, const char *def,
                      int64_t *new_version, errmsg *e)
{
    pgargs a = {0};
    pga_text(&a, name);
    pga_i64(&a, expect_version);
    const char *sql = !def ? "DELETE FROM sql_tables WHERE name = $1 AND version = $2::int8"
                      : expect_version == 0
                          ? "INSERT INTO sql_tables(name, version, def, updated)"
                            " SELECT $1, 1, $3, $4::int8 WHERE $2::int8 = 0"
                            " ON CONFLICT (name) DO NOTHING"
                          : "UPDATE sql_tables SET version = version + 1, def = $3,"
                            " updated = $4::int8 WHERE name = $1 AND version = $2::int8";
    if (def) {
        pga_text(&a, def);
        pga_i64(&a, clock_wall_ns());
    }
    int64_t n = 0;
    int rc = mpg_write((pg_meta *)mm, sql, &a, &n, e);
    if (rc)
        return rc;
    if (n == 0) {
        if (def && expect_version == 0)
            return errmsg_set(e, SL_EEXIST, "relation \"%s\" already exists", name);
        return errmsg_set(e, SL_ESTATE, "relation \"%s\" was changed by another statement", name);
    }
    if (new_version)
        *new_version = def ? expect_version + 1 : 0;
    return SL_OK;
}

typedef struct list_ctx {
    meta_sql_table_fn fn;
    void *arg;
} list_ctx;

static int table_row(PGresult *r, int row, void *ctx)
{
    list_ctx *c = ctx;
    meta_sql_table t = {mpg_text(r, row, 0), mpg_i64(r, row, 1), mpg_text(r, row, 2),
                        mpg_i64(r, row, 3)};
    return c->fn(c->arg, &t);
}

int mpg_sql_table_list(meta *mm, const char *name, meta_sql_table_fn fn, void *arg, errmsg *e)
{
    list_ctx c = {fn, arg};
    pgargs a = {0};
    if (name)
        pga_text(&a, name);
    return mpg_query((pg_meta *)mm,
                     name ? "SELECT name, version, def, updated FROM sql_tables WHERE name = $1"
                          : "SELECT name, version, def, updated FROM sql_tables",
                     &a, table_row, &c, e);
}
