/*
 * meta_pg.c - the metadata store in PostgreSQL, shared by several servers.
 *
 * Same contract as the SQLite backend (meta.h), and the same tables with
 * PostgreSQL types (docs/internals/meta-postgres.md is the reference).  What
 * changes is that other processes write the same tables:
 *
 *   - Inserts.  One writer thread and connection per server, group commit as in
 *     SQLite: a batch of queued inserts runs in one transaction, one commit,
 *     then every requester is woken with its own outcome.  Each insert is ONE
 *     statement (INSERT ... ON CONFLICT DO NOTHING with the dependency check in
 *     the same statement), so a batch needs no savepoints; if a statement fails
 *     the batch is rolled back and its requests run again one by one, each
 *     atomic on its own.  Another server inserting the same id at the same time
 *     is waited for by ON CONFLICT, then compared like any existing row.
 *   - Partition locks.  pg_advisory_lock(bigint key) on a dedicated session per
 *     holder (a small pool): the lake takes it before it writes the file and
 *     releases it after the row is committed.  A server that dies loses its
 *     sessions and so its locks.
 *   - Leadership.  pg_try_advisory_lock(LEADER_A, LEADER_B) (the two-int lock
 *     space, disjoint from the partition keys) on one more session, polled by the
 *     server's background thread every second; the leader confirms its session
 *     with each poll.  Keepalives on every session bound how long a vanished
 *     host keeps its locks (see the document).
 *   - Schema.  Created and migrated at open, under a transaction-scoped advisory
 *     lock so that servers starting together do it once; a schema newer than
 *     META_PG_SCHEMA_VERSION is refused.
 */
#include "meta/meta_pg_int.h"

#include "base/alloc.h"
#include "base/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEADER_A 0x534c4b45 /* "SLKE" */
#define LEADER_B 1
#define SCHEMA_LOCK_B 2
#define PG_LOCKERS_WARM 4 /* partition-lock sessions opened with the store */

/* Migrations: g_migrations[v - 1] takes the schema from version v - 1 to v. */
static const char *const g_migrations[META_PG_SCHEMA_VERSION] = {
    "CREATE TABLE processes("
    " process_id uuid PRIMARY KEY, exe text NOT NULL, username text NOT NULL,"
    " realname text NOT NULL, computer text NOT NULL, distro text NOT NULL,"
    " cpu_brand text NOT NULL, tsc_frequency bigint NOT NULL, start_time bigint NOT NULL,"
    " start_ticks bigint NOT NULL, parent_process_id uuid, properties text NOT NULL,"
    " insert_time bigint NOT NULL, content_hash bigint NOT NULL);"
    "CREATE TABLE streams("
    " stream_id uuid PRIMARY KEY, process_id uuid NOT NULL, tags text NOT NULL,"
    " properties text NOT NULL, insert_time bigint NOT NULL, content_hash bigint NOT NULL);"
    "CREATE INDEX streams_by_process ON streams(process_id, insert_time);"
    "CREATE TABLE blocks("
    " block_id uuid PRIMARY KEY, stream_id uuid NOT NULL, process_id uuid NOT NULL,"
    " begin_time bigint NOT NULL, end_time bigint NOT NULL, begin_ticks bigint NOT NULL,"
    " end_ticks bigint NOT NULL, nb_objects bigint NOT NULL, object_offset bigint NOT NULL,"
    " payload_size bigint NOT NULL, insert_time bigint NOT NULL,"
    " content_hash bigint NOT NULL);"
    "CREATE INDEX blocks_by_stream ON blocks(stream_id, object_offset);"
    "CREATE INDEX blocks_by_process ON blocks(process_id);"
    "CREATE INDEX blocks_by_end_time ON blocks(end_time);"
    "CREATE TABLE lakehouse_partitions("
    " view_set_name text NOT NULL, view_instance_id text NOT NULL,"
    " begin_insert_time bigint NOT NULL, end_insert_time bigint NOT NULL,"
    " min_event_time bigint NOT NULL, max_event_time bigint NOT NULL,"
    " file_path text PRIMARY KEY, file_size bigint NOT NULL, schema_version bigint NOT NULL,"
    " source_token bigint NOT NULL, row_count bigint NOT NULL, event_count bigint NOT NULL,"
    " state bytea, updated bigint NOT NULL, retired integer NOT NULL DEFAULT 0,"
    " retired_time bigint NOT NULL DEFAULT 0);"
    "CREATE UNIQUE INDEX lakehouse_partitions_current ON"
    " lakehouse_partitions(view_set_name, view_instance_id, begin_insert_time)"
    " WHERE retired = 0;"
    "CREATE INDEX lakehouse_partitions_retired ON lakehouse_partitions(retired, retired_time);"
    "CREATE TABLE sql_tables("
    " name text PRIMARY KEY, version bigint NOT NULL, def text NOT NULL,"
    " updated bigint NOT NULL);",
    /* 2: a resumed telemetry job lists the blocks inserted since its checkpoint */
    "CREATE INDEX IF NOT EXISTS blocks_by_insert_time ON blocks(insert_time);",
};

/* ------------------------------------------------------------ parameters and results */

static void pga_set(pgargs *a, const char *v, int len, int fmt)
{
    if (a->n >= PGA_MAX)
        return; /* statements here have fewer: a programming error shows as a SQL error */
    a->v[a->n] = v;
    a->len[a->n] = len;
    a->fmt[a->n] = fmt;
    a->n++;
}

void pga_text(pgargs *a, const char *s)
{
    pga_set(a, s ? s : "", 0, 0);
}

void pga_i64(pgargs *a, int64_t v)
{
    if (a->n >= PGA_MAX)
        return;
    snprintf(a->buf[a->n], sizeof a->buf[0], "%lld", (long long)v);
    pga_set(a, a->buf[a->n], 0, 0);
}

void pga_uuid(pgargs *a, const sl_uuid *u)
{
    if (a->n >= PGA_MAX)
        return;
    uuid_format(u, a->buf[a->n]);
    pga_set(a, a->buf[a->n], 0, 0);
}

void pga_null(pgargs *a)
{
    pga_set(a, NULL, 0, 0);
}

void pga_bytes(pgargs *a, const void *p, size_t n)
{
    pga_set(a, p, (int)n, 1);
}

int64_t mpg_i64(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

const char *mpg_text(PGresult *r, int row, int col)
{
    return PQgetvalue(r, row, col); /* "" for NULL */
}

void mpg_uuid(PGresult *r, int row, int col, sl_uuid *out)
{
    if (PQgetisnull(r, row, col) || uuid_parse(PQgetvalue(r, row, col), out) != 0)
        memset(out, 0, sizeof *out);
}

/* ------------------------------------------------------------ connections */

static int conn_fail(PGconn *c, errmsg *e, const char *what)
{
    const char *msg = c ? PQerrorMessage(c) : "out of memory";
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    return errmsg_set(e, SL_EIO, "metadata (postgres): %s: %.*s", what, (int)n, msg);
}

static void no_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* "relation already exists, skipping" and the like */
}

/* A new session: keepalives so that a vanished peer's locks go in bounded time. */
static int connect_one(const char *conninfo, PGconn **out, errmsg *e)
{
    static const char *const keys[] = {"dbname", "application_name", "keepalives",
                                       "keepalives_idle", "keepalives_interval",
                                       "keepalives_count", "connect_timeout", NULL};
    const char *vals[] = {conninfo, "streamlake", "1", "5", "2", "3", "10", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        int rc = conn_fail(c, e, "cannot connect");
        PQfinish(c);
        return rc;
    }
    PQsetNoticeProcessor(c, no_notice, NULL);
    /* The server side of the same bound: the backend drops a silent client too. */
    PGresult *r = PQexec(c, "SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2;"
                            " SET tcp_keepalives_count = 3");
    PQclear(r);
    *out = c;
    return SL_OK;
}

/* Reconnects c if its session broke; 0 when it is usable. */
int mpg_revive(PGconn *c, errmsg *e)
{
    if (PQstatus(c) == CONNECTION_OK)
        return SL_OK;
    PQreset(c);
    if (PQstatus(c) != CONNECTION_OK)
        return conn_fail(c, e, "reconnect");
    PQclear(PQexec(c, "SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2;"
                      " SET tcp_keepalives_count = 3"));
    return SL_OK;
}

int mpg_exec(PGconn *c, const char *sql, const pgargs *a, PGresult **out, errmsg *e)
{
    PGresult *r = a && a->n ? PQexecParams(c, sql, a->n, NULL, a->v, a->len, a->fmt, 0)
                            : PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
        size_t n = strlen(msg);
        while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
            n--;
        int rc = errmsg_set(e, SL_EIO, "metadata (postgres): %.*s", (int)n, msg);
        PQclear(r);
        return rc;
    }
    if (out)
        *out = r;
    else
        PQclear(r);
    return SL_OK;
}

pgconn *mpg_take(pg_meta *m)
{
    return &m->readers[mslots_take(&m->rslots)];
}

void mpg_give(pg_meta *m, pgconn *p)
{
    mslots_give(&m->rslots, (int)(p - m->readers));
}

int mpg_query(pg_meta *m, const char *sql, const pgargs *a,
              int (*each_row)(PGresult *r, int row, void *ctx), void *ctx, errmsg *e)
{
    pgconn *p = mpg_take(m);
    PGresult *r = NULL;
    int rc = mpg_revive(p->c, e);
    if (!rc)
        rc = mpg_exec(p->c, sql, a, &r, e);
    mpg_give(m, p);
    for (int i = 0; !rc && i < PQntuples(r); i++)
        rc = each_row(r, i, ctx);
    PQclear(r);
    return rc;
}

int mpg_write(pg_meta *m, const char *sql, const pgargs *a, int64_t *changed, errmsg *e)
{
    pgconn *p = mpg_take(m);
    PGresult *r = NULL;
    int rc = mpg_revive(p->c, e);
    if (!rc)
        rc = mpg_exec(p->c, sql, a, &r, e);
    mpg_give(m, p);
    if (!rc && changed)
        *changed = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return rc;
}

/* ------------------------------------------------------------ inserts (the writer) */

enum { W_PROCESS, W_STREAM, W_BLOCK, W_N };

static const char *const g_wsql[W_N] = {
    [W_PROCESS] =
        "WITH ins AS (INSERT INTO processes VALUES($1::uuid, $2, $3, $4, $5, $6, $7,"
        " $8::int8, $9::int8, $10::int8, $11::uuid, $12, $13::int8, $14::int8)"
        " ON CONFLICT (process_id) DO NOTHING RETURNING 1)"
        " SELECT (SELECT count(*) FROM ins),"
        " (SELECT content_hash FROM processes WHERE process_id = $1::uuid), true",
    [W_STREAM] =
        "WITH ins AS (INSERT INTO streams SELECT $1::uuid, $2::uuid, $3, $4, $5::int8, $6::int8"
        " WHERE EXISTS (SELECT 1 FROM processes WHERE process_id = $2::uuid)"
        " ON CONFLICT (stream_id) DO NOTHING RETURNING 1)"
        " SELECT (SELECT count(*) FROM ins),"
        " (SELECT content_hash FROM streams WHERE stream_id = $1::uuid),"
        " EXISTS (SELECT 1 FROM processes WHERE process_id = $2::uuid)",
    [W_BLOCK] =
        "WITH s AS (SELECT process_id FROM streams WHERE stream_id = $2::uuid),"
        " ins AS (INSERT INTO blocks SELECT $1::uuid, $2::uuid, $3::uuid, $4::int8, $5::int8,"
        " $6::int8, $7::int8, $8::int8, $9::int8, $10::int8, $11::int8, $12::int8"
        " WHERE EXISTS (SELECT 1 FROM s WHERE process_id = $3::uuid)"
        " ON CONFLICT (block_id) DO NOTHING RETURNING 1)"
        " SELECT (SELECT count(*) FROM ins),"
        " (SELECT content_hash FROM blocks WHERE block_id = $1::uuid),"
        " (SELECT process_id::text FROM s)",
};

static const char *const g_wname[W_N] = {"sl_ins_process", "sl_ins_stream", "sl_ins_block"};

static int writer_ready(pg_meta *m, errmsg *e)
{
    if (PQstatus(m->wc) != CONNECTION_OK)
        m->w_prepared = 0;
    int rc = mpg_revive(m->wc, e);
    for (int i = 0; !rc && !m->w_prepared && i < W_N; i++) {
        PGresult *r = PQprepare(m->wc, g_wname[i], g_wsql[i], 0, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            rc = conn_fail(m->wc, e, "prepare");
        PQclear(r);
    }
    if (!rc)
        m->w_prepared = 1;
    return rc;
}

static void args_process(pgargs *a, const meta_process *p, int64_t now)
{
    pga_uuid(a, &p->process_id);
    const char *strs[6] = {p->exe, p->username, p->realname, p->computer, p->distro, p->cpu_brand};
    for (int i = 0; i < 6; i++)
        pga_text(a, strs[i]);
    pga_i64(a, (int64_t)p->tsc_frequency);
    pga_i64(a, p->start_time_ns);
    pga_i64(a, (int64_t)p->start_ticks);
    if (uuid_is_nil(&p->parent_process_id))
        pga_null(a);
    else
        pga_uuid(a, &p->parent_process_id);
    pga_text(a, p->properties_json ? p->properties_json : "{}");
    pga_i64(a, now);
    pga_i64(a, (int64_t)p->content_hash);
}

static void args_stream(pgargs *a, const meta_stream *s, int64_t now)
{
    pga_uuid(a, &s->stream_id);
    pga_uuid(a, &s->process_id);
    pga_text(a, s->tags_json ? s->tags_json : "[]");
    pga_text(a, s->properties_json ? s->properties_json : "{}");
    pga_i64(a, now);
    pga_i64(a, (int64_t)s->content_hash);
}

static void args_block(pgargs *a, const meta_block *b, int64_t now)
{
    pga_uuid(a, &b->block_id);
    pga_uuid(a, &b->stream_id);
    pga_uuid(a, &b->process_id);
    int64_t v[9] = {b->begin_time_ns, b->end_time_ns, b->begin_ticks, b->end_ticks,
                    (int64_t)b->nb_objects, (int64_t)b->object_offset, (int64_t)b->payload_size,
                    now, (int64_t)b->content_hash};
    for (int i = 0; i < 9; i++)
        pga_i64(a, v[i]);
}

/*
 * One insert: runs its statement and reads the outcome (inserted, the existing
 * row's hash, the dependency).  Returns 0, SL_EEXIST, SL_EAGAIN, SL_EMISMATCH,
 * or SL_EIO when the statement failed (then the transaction is aborted).
 */
static int apply(pg_meta *m, wreq *req, int64_t now)
{
    static const char *const what[W_N] = {"process", "stream", "block"};
    int k = req->kind;
    const sl_uuid *id = k == W_PROCESS ? &((const meta_process *)req->rec)->process_id
                        : k == W_STREAM ? &((const meta_stream *)req->rec)->stream_id
                                        : &((const meta_block *)req->rec)->block_id;
    uint64_t want = k == W_PROCESS ? ((const meta_process *)req->rec)->content_hash
                    : k == W_STREAM ? ((const meta_stream *)req->rec)->content_hash
                                    : ((const meta_block *)req->rec)->content_hash;
    *req->existed = 0;
    /* A second round only if another server inserted the same id in between. */
    for (int round = 0; round < 2; round++) {
        pgargs a = {0};
        if (k == W_PROCESS)
            args_process(&a, req->rec, now);
        else if (k == W_STREAM)
            args_stream(&a, req->rec, now);
        else
            args_block(&a, req->rec, now);
        PGresult *r = PQexecPrepared(m->wc, g_wname[k], a.n, a.v, a.len, a.fmt, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
            int rc = conn_fail(m->wc, req->e, what[k]);
            PQclear(r);
            return rc;
        }
        int inserted = mpg_i64(r, 0, 0) > 0, has = !PQgetisnull(r, 0, 1);
        uint64_t hash = (uint64_t)mpg_i64(r, 0, 1);
        char dep[UUID_STR_LEN] = "";
        snprintf(dep, sizeof dep, "%s", mpg_text(r, 0, 2));
        int dep_null = PQgetisnull(r, 0, 2);
        PQclear(r);
        char s[UUID_STR_LEN];
        uuid_format(id, s);
        if (inserted)
            return SL_OK;
        if (has) {
            if (hash == want) {
                *req->existed = 1;
                return SL_OK;
            }
            return errmsg_set(req->e, SL_EEXIST, "%s %s already exists with different content",
                              what[k], s);
        }
        if (k == W_STREAM && strcmp(dep, "t") != 0) {
            char p[UUID_STR_LEN];
            uuid_format(&((const meta_stream *)req->rec)->process_id, p);
            return errmsg_set(req->e, SL_EAGAIN, "unknown process %s (send it before its streams)",
                              p);
        }
        if (k == W_BLOCK) {
            const meta_block *b = req->rec;
            char t[UUID_STR_LEN], o[UUID_STR_LEN];
            uuid_format(&b->stream_id, t);
            uuid_format(&b->process_id, o);
            if (dep_null)
                return errmsg_set(req->e, SL_EAGAIN,
                                  "unknown stream %s (send it before its blocks)", t);
            if (strcmp(dep, o) != 0)
                return errmsg_set(req->e, SL_EMISMATCH, "stream %s belongs to process %s, not "
                                  "to the block's process", t, dep);
        }
    }
    return errmsg_set(req->e, SL_EIO, "metadata (postgres): insert raced and lost twice");
}

/* Runs statement sql on the writer connection, ignoring the result but not errors. */
static int wexec(pg_meta *m, const char *sql, errmsg *e)
{
    return mpg_exec(m->wc, sql, NULL, NULL, e);
}

static void run_batch(void *ctx, wreq *batch)
{
    pg_meta *m = ctx;
    errmsg te;
    errmsg_clear(&te);
    int64_t now = clock_wall_ns();
    int rc = writer_ready(m, &te);
    if (!rc)
        rc = wexec(m, "BEGIN", &te);
    int failed = rc != 0;
    for (wreq *r = batch; r && !failed; r = r->next)
        if ((r->rc = apply(m, r, now)) == SL_EIO)
            failed = 1;
    if (!failed && (rc = wexec(m, "COMMIT", &te)) == SL_OK)
        return;
    /*
     * A statement failed (the transaction is void) or the commit did: nothing of
     * the batch is stored.  Each request runs again on its own (autocommit: one
     * statement, atomic), so one bad request does not fail its neighbours.
     */
    wexec(m, "ROLLBACK", NULL);
    for (wreq *r = batch; r; r = r->next) {
        errmsg_clear(r->e);
        r->rc = writer_ready(m, r->e);
        if (!r->rc)
            r->rc = apply(m, r, now);
    }
}

static int pg_insert_process(meta *mm, const meta_process *p, int *existed, errmsg *e)
{
    return mqueue_submit(&((pg_meta *)mm)->q, W_PROCESS, p, existed, e);
}

static int pg_insert_stream(meta *mm, const meta_stream *s, int *existed, errmsg *e)
{
    return mqueue_submit(&((pg_meta *)mm)->q, W_STREAM, s, existed, e);
}

static int pg_insert_block(meta *mm, const meta_block *b, int *existed, errmsg *e)
{
    return mqueue_submit(&((pg_meta *)mm)->q, W_BLOCK, b, existed, e);
}

/* ------------------------------------------------------------ reads */

const char *const mpg_block_columns =
    "block_id, stream_id, process_id, begin_time, end_time, begin_ticks, end_ticks,"
    " nb_objects, object_offset, payload_size, insert_time, content_hash";

void mpg_read_block(PGresult *r, int row, meta_block *b)
{
    memset(b, 0, sizeof *b);
    mpg_uuid(r, row, 0, &b->block_id);
    mpg_uuid(r, row, 1, &b->stream_id);
    mpg_uuid(r, row, 2, &b->process_id);
    b->begin_time_ns = mpg_i64(r, row, 3);
    b->end_time_ns = mpg_i64(r, row, 4);
    b->begin_ticks = mpg_i64(r, row, 5);
    b->end_ticks = mpg_i64(r, row, 6);
    b->nb_objects = (uint64_t)mpg_i64(r, row, 7);
    b->object_offset = (uint64_t)mpg_i64(r, row, 8);
    b->payload_size = (uint64_t)mpg_i64(r, row, 9);
    b->insert_time_ns = mpg_i64(r, row, 10);
    b->content_hash = (uint64_t)mpg_i64(r, row, 11);
}

typedef struct cb_ctx {
    void *fn;
    void *arg;
    void *out;
    int found;
} cb_ctx;

static int stream_key_row(PGresult *r, int row, void *ctx)
{
    cb_ctx *c = ctx;
    meta_stream *s = c->out;
    memset(s, 0, sizeof *s);
    mpg_uuid(r, row, 0, &s->stream_id);
    mpg_uuid(r, row, 1, &s->process_id);
    s->insert_time_ns = mpg_i64(r, row, 2);
    s->content_hash = (uint64_t)mpg_i64(r, row, 3);
    c->found = 1;
    return 0;
}

static int block_out_row(PGresult *r, int row, void *ctx)
{
    cb_ctx *c = ctx;
    mpg_read_block(r, row, c->out);
    c->found = 1;
    return 0;
}

static int not_found(errmsg *e, const char *what, const sl_uuid *id)
{
    char t[UUID_STR_LEN];
    uuid_format(id, t);
    return errmsg_set(e, SL_ENOTFOUND, "unknown %s %s", what, t);
}

static int pg_find_stream(meta *mm, const sl_uuid *id, meta_stream *out, errmsg *e)
{
    pgargs a = {0};
    pga_uuid(&a, id);
    cb_ctx c = {NULL, NULL, out, 0};
    int rc = mpg_query((pg_meta *)mm, "SELECT stream_id, process_id, insert_time, content_hash"
                       " FROM streams WHERE stream_id = $1::uuid", &a, stream_key_row, &c, e);
    return rc ? rc : c.found ? SL_OK : not_found(e, "stream", id);
}

static int pg_find_block(meta *mm, const sl_uuid *id, meta_block *out, errmsg *e)
{
    pgargs a = {0};
    pga_uuid(&a, id);
    cb_ctx c = {NULL, NULL, out, 0};
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT %s FROM blocks WHERE block_id = $1::uuid",
             mpg_block_columns);
    int rc = mpg_query((pg_meta *)mm, sql, &a, block_out_row, &c, e);
    return rc ? rc : c.found ? SL_OK : not_found(e, "block", id);
}

#define PROCESS_COLUMNS                                                                    \
    "p.process_id, p.parent_process_id, p.exe, p.username, p.realname, p.computer,"        \
    " p.distro, p.cpu_brand, p.tsc_frequency, p.start_time, p.start_ticks, p.properties," \
    " p.insert_time, p.content_hash"

static const char *g_list_processes_sql =
    "SELECT " PROCESS_COLUMNS ","
    " (SELECT count(*) FROM streams s WHERE s.process_id = p.process_id),"
    " (SELECT count(*) FROM streams s WHERE s.process_id = p.process_id"
    "   AND s.tags::jsonb ? 'cpu'),"
    " coalesce(b.n, 0), coalesce(b.ev, 0), coalesce(b.bytes, 0),"
    " coalesce(b.first, 0), coalesce(b.last, 0)"
    " FROM processes p LEFT JOIN (SELECT process_id, count(*) AS n, sum(nb_objects) AS ev,"
    "   sum(payload_size) AS bytes, min(begin_time) AS first, max(end_time) AS last"
    "   FROM blocks GROUP BY process_id) b ON b.process_id = p.process_id"
    " ORDER BY p.start_time DESC, p.process_id";

static int process_row(PGresult *r, int row, void *ctx)
{
    cb_ctx *c = ctx;
    meta_process_summary s;
    memset(&s, 0, sizeof s);
    meta_process *p = &s.p;
    mpg_uuid(r, row, 0, &p->process_id);
    mpg_uuid(r, row, 1, &p->parent_process_id);
    p->exe = mpg_text(r, row, 2);
    p->username = mpg_text(r, row, 3);
    p->realname = mpg_text(r, row, 4);
    p->computer = mpg_text(r, row, 5);
    p->distro = mpg_text(r, row, 6);
    p->cpu_brand = mpg_text(r, row, 7);
    p->tsc_frequency = (uint64_t)mpg_i64(r, row, 8);
    p->start_time_ns = mpg_i64(r, row, 9);
    p->start_ticks = (uint64_t)mpg_i64(r, row, 10);
    p->properties_json = mpg_text(r, row, 11);
    p->insert_time_ns = mpg_i64(r, row, 12);
    p->content_hash = (uint64_t)mpg_i64(r, row, 13);
    uint64_t *agg[5] = {&s.stream_count, &s.thread_count, &s.block_count, &s.event_count,
                        &s.payload_bytes};
    for (int i = 0; i < 5; i++)
        *agg[i] = (uint64_t)mpg_i64(r, row, 14 + i);
    s.first_time_ns = mpg_i64(r, row, 19);
    s.last_time_ns = mpg_i64(r, row, 20);
    c->found = 1;
    return ((meta_process_fn)c->fn)(c->arg, &s);
}

static int pg_list_processes(meta *mm, meta_process_fn fn, void *arg, errmsg *e)
{
    cb_ctx c = {(void *)fn, arg, NULL, 0};
    return mpg_query((pg_meta *)mm, g_list_processes_sql, NULL, process_row, &c, e);
}

static int pg_find_process(meta *mm, const sl_uuid *process_id, meta_process_fn fn, void *arg,
                           errmsg *e)
{
    pgargs a = {0};
    pga_uuid(&a, process_id);
    cb_ctx c = {(void *)fn, arg, NULL, 0};
    int rc = mpg_query((pg_meta *)mm, "SELECT " PROCESS_COLUMNS ", 0, 0, 0, 0, 0, 0, 0"
                       " FROM processes p WHERE process_id = $1::uuid", &a, process_row, &c, e);
    return rc ? rc : c.found ? SL_OK : not_found(e, "process", process_id);
}

static int stream_row(PGresult *r, int row, void *ctx)
{
    cb_ctx *c = ctx;
    meta_stream_summary s;
    memset(&s, 0, sizeof s);
    mpg_uuid(r, row, 0, &s.s.stream_id);
    mpg_uuid(r, row, 1, &s.s.process_id);
    s.s.tags_json = mpg_text(r, row, 2);
    s.s.properties_json = mpg_text(r, row, 3);
    s.s.insert_time_ns = mpg_i64(r, row, 4);
    s.s.content_hash = (uint64_t)mpg_i64(r, row, 5);
    s.thread_id = PQgetisnull(r, row, 6) ? NULL : mpg_text(r, row, 6);
    s.thread_name = PQgetisnull(r, row, 7) ? NULL : mpg_text(r, row, 7);
    s.block_count = (uint64_t)mpg_i64(r, row, 8);
    s.event_count = (uint64_t)mpg_i64(r, row, 9);
    s.payload_bytes = (uint64_t)mpg_i64(r, row, 10);
    return ((meta_stream_fn)c->fn)(c->arg, &s);
}

static int exists_row(PGresult *r, int row, void *ctx)
{
    (void)r;
    (void)row;
    ((cb_ctx *)ctx)->found = 1;
    return 0;
}

static int pg_list_streams(meta *mm, const sl_uuid *process_id, meta_stream_fn fn, void *arg,
                           errmsg *e)
{
    pg_meta *m = (pg_meta *)mm;
    pgargs a = {0};
    pga_uuid(&a, process_id);
    cb_ctx c = {(void *)fn, arg, NULL, 0};
    int rc = mpg_query(m, "SELECT 1 FROM processes WHERE process_id = $1::uuid", &a, exists_row,
                       &c, e);
    if (rc)
        return rc;
    if (!c.found)
        return not_found(e, "process", process_id);
    return mpg_query(m,
                     "SELECT s.stream_id, s.process_id, s.tags, s.properties, s.insert_time,"
                     " s.content_hash, s.properties::jsonb ->> 'thread-id',"
                     " s.properties::jsonb ->> 'thread-name',"
                     " coalesce(b.n, 0), coalesce(b.ev, 0), coalesce(b.bytes, 0)"
                     " FROM streams s LEFT JOIN (SELECT stream_id, count(*) AS n,"
                     "   sum(nb_objects) AS ev, sum(payload_size) AS bytes FROM blocks"
                     "   WHERE process_id = $1::uuid GROUP BY stream_id) b"
                     " ON b.stream_id = s.stream_id"
                     " WHERE s.process_id = $1::uuid ORDER BY s.insert_time, s.stream_id",
                     &a, stream_row, &c, e);
}

static int block_row(PGresult *r, int row, void *ctx)
{
    cb_ctx *c = ctx;
    meta_block b;
    mpg_read_block(r, row, &b);
    return ((meta_block_fn)c->fn)(c->arg, &b);
}

static int pg_list_blocks(meta *mm, const sl_uuid *stream_id, meta_block_fn fn, void *arg,
                          errmsg *e)
{
    pgargs a = {0};
    pga_uuid(&a, stream_id);
    cb_ctx c = {(void *)fn, arg, NULL, 0};
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT %s FROM blocks WHERE stream_id = $1::uuid"
             " ORDER BY object_offset, block_id", mpg_block_columns);
    return mpg_query((pg_meta *)mm, sql, &a, block_row, &c, e);
}

static int pg_list_blocks_since(meta *mm, int64_t since_ns, meta_block_fn fn, void *arg,
                                errmsg *e)
{
    pgargs a = {0};
    pga_i64(&a, since_ns);
    cb_ctx c = {(void *)fn, arg, NULL, 0};
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT %s FROM blocks WHERE insert_time >= $1::int8"
             " ORDER BY insert_time, stream_id, object_offset, block_id", mpg_block_columns);
    return mpg_query((pg_meta *)mm, sql, &a, block_row, &c, e);
}

/* ------------------------------------------------------------ change stamps */

/* the rows' 64-bit key hashes summed (numeric, folded into int8): any added, removed
 * or replaced row changes it, but for a 1-in-2^64 coincidence */
#define STAMP_SUM(key) "coalesce(sum(hashtextextended(" key ", 0)) % 9223372036854775807, 0)::int8"

static int stamp_row(PGresult *r, int row, void *ctx)
{
    /* count and the sum of the rows' hashed keys, mixed so neither cancels the other */
    uint64_t n = (uint64_t)mpg_i64(r, row, 0), sum = (uint64_t)mpg_i64(r, row, 1);
    *(uint64_t *)ctx = n * 0x9e3779b97f4a7c15ull ^ sum;
    return 0;
}

static int pg_change_stamp(meta *mm, int what, const sl_uuid *id, const char *view,
                           const char *instance, uint64_t *stamp, errmsg *e)
{
    pgargs a = {0};
    const char *sql;
    if (what == META_STAMP_STREAMS || what == META_STAMP_BLOCKS) {
        pga_uuid(&a, id);
        sql = what == META_STAMP_STREAMS
                  ? "SELECT count(*), " STAMP_SUM("stream_id::text")
                    " FROM streams WHERE process_id = $1::uuid"
                  : "SELECT count(*), " STAMP_SUM("block_id::text")
                    " FROM blocks WHERE stream_id = $1::uuid";
    } else if (what == META_STAMP_PARTITIONS) {
        pga_text(&a, view);
        pga_text(&a, instance);
        sql = "SELECT count(*), " STAMP_SUM("file_path")
              " FROM lakehouse_partitions"
              " WHERE view_set_name = $1 AND view_instance_id = $2 AND retired = 0";
    } else {
        return errmsg_set(e, SL_EINVAL, "change stamp of unknown kind %d", what);
    }
    *stamp = 0;
    return mpg_query((pg_meta *)mm, sql, &a, stamp_row, stamp, e);
}

/* ------------------------------------------------------------ partition locks */

static int pg_lock_partition(meta *mm, uint64_t key, void **hold, errmsg *e)
{
    pg_meta *m = (pg_meta *)mm;
    PGconn *c = NULL;
    pthread_mutex_lock(&m->lmu);
    while (!m->n_idle && m->n_lockers >= m->max_lockers)
        pthread_cond_wait(&m->lcv, &m->lmu);
    if (m->n_idle)
        c = m->idle_lockers[--m->n_idle];
    else
        m->n_lockers++;
    pthread_mutex_unlock(&m->lmu);
    int rc = c ? mpg_revive(c, e) : connect_one(m->conninfo, &c, e);
    pgargs a = {0};
    pga_i64(&a, (int64_t)key);
    if (!rc)
        rc = mpg_exec(c, "SELECT pg_advisory_lock($1::int8)", &a, NULL, e);
    if (rc) {
        PQfinish(c);
        pthread_mutex_lock(&m->lmu);
        m->n_lockers--;
        pthread_cond_signal(&m->lcv);
        pthread_mutex_unlock(&m->lmu);
        return rc;
    }
    *hold = c;
    return SL_OK;
}

static void pg_unlock_partition(meta *mm, uint64_t key, void *hold)
{
    pg_meta *m = (pg_meta *)mm;
    PGconn *c = hold;
    if (!c)
        return;
    pgargs a = {0};
    pga_i64(&a, (int64_t)key);
    errmsg e;
    int rc = mpg_exec(c, "SELECT pg_advisory_unlock($1::int8)", &a, NULL, &e);
    pthread_mutex_lock(&m->lmu);
    if (rc) {
        PQfinish(c); /* the session is gone, and its lock with it */
        m->n_lockers--;
    } else {
        m->idle_lockers[m->n_idle++] = c;
    }
    pthread_cond_signal(&m->lcv);
    pthread_mutex_unlock(&m->lmu);
}

/* ------------------------------------------------------------ leadership */

static int pg_leader_poll(meta *mm, int *is_leader, errmsg *e)
{
    pg_meta *m = (pg_meta *)mm;
    pthread_mutex_lock(&m->leader_mu);
    int rc = SL_OK;
    if (PQstatus(m->leader) != CONNECTION_OK)
        m->leading = 0; /* a new session holds nothing */
    rc = mpg_revive(m->leader, e);
    PGresult *r = NULL;
    if (!rc && m->leading) {
        /* Still our session (it holds the lock as long as it lives)? */
        if (mpg_exec(m->leader, "SELECT 1", NULL, NULL, e) != SL_OK)
            m->leading = 0;
    }
    if (!rc && !m->leading) {
        char sql[96];
        snprintf(sql, sizeof sql, "SELECT pg_try_advisory_lock(%d, %d)", LEADER_A, LEADER_B);
        if (!(rc = mpg_exec(m->leader, sql, NULL, &r, e)))
            m->leading = PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, 0), "t");
        PQclear(r);
    }
    *is_leader = m->leading;
    pthread_mutex_unlock(&m->leader_mu);
    return rc;
}

/* ------------------------------------------------------------ open / close */

static void pg_close(meta *mm)
{
    pg_meta *m = (pg_meta *)mm;
    mqueue_stop(&m->q);
    mqueue_destroy(&m->q);
    PQfinish(m->wc);
    for (int i = 0; m->readers && i < m->n_readers; i++)
        PQfinish(m->readers[i].c);
    sl_free(m->readers);
    for (int i = 0; i < m->n_idle; i++)
        PQfinish(m->idle_lockers[i]);
    sl_free(m->idle_lockers);
    PQfinish(m->leader);
    mslots_destroy(&m->rslots);
    pthread_mutex_destroy(&m->lmu);
    pthread_cond_destroy(&m->lcv);
    pthread_mutex_destroy(&m->leader_mu);
    sl_free(m->conninfo);
    sl_free(m);
}

static const meta_ops g_pg_ops = {
    .insert_process = pg_insert_process,
    .insert_stream = pg_insert_stream,
    .insert_block = pg_insert_block,
    .find_stream = pg_find_stream,
    .find_block = pg_find_block,
    .list_processes = pg_list_processes,
    .list_streams = pg_list_streams,
    .list_blocks = pg_list_blocks,
    .list_blocks_since = pg_list_blocks_since,
    .find_process = pg_find_process,
    .list_partitions = mpg_list_partitions,
    .replace_partition = mpg_replace_partition,
    .list_retired = mpg_list_retired,
    .forget_partition = mpg_forget_partition,
    .retire_partition = mpg_retire_partition,
    .list_partition_files = mpg_list_partition_files,
    .sql_table_put = mpg_sql_table_put,
    .sql_table_list = mpg_sql_table_list,
    .expire_blocks = mpg_expire_blocks,
    .expire_partitions = mpg_expire_partitions,
    .change_stamp = pg_change_stamp,
    .lock_partition = pg_lock_partition,
    .unlock_partition = pg_unlock_partition,
    .leader_poll = pg_leader_poll,
    .close = pg_close,
};

/*
 * Creates or migrates the schema in one transaction, serialized across servers
 * by a transaction-scoped advisory lock.
 */
static int migrate(PGconn *c, errmsg *e)
{
    char sql[160];
    PGresult *r = NULL;
    int rc = mpg_exec(c, "BEGIN", NULL, NULL, e);
    snprintf(sql, sizeof sql, "SELECT pg_advisory_xact_lock(%d, %d)", LEADER_A, SCHEMA_LOCK_B);
    if (!rc)
        rc = mpg_exec(c, sql, NULL, NULL, e);
    if (!rc)
        rc = mpg_exec(c, "CREATE TABLE IF NOT EXISTS streamlake_schema(version integer NOT NULL)",
                      NULL, NULL, e);
    if (!rc)
        rc = mpg_exec(c, "SELECT coalesce(max(version), 0) FROM streamlake_schema", NULL, &r, e);
    int64_t have = rc ? 0 : mpg_i64(r, 0, 0);
    PQclear(r);
    if (!rc && have > META_PG_SCHEMA_VERSION)
        rc = errmsg_set(e, SL_EVERSION, "metadata schema version %lld in PostgreSQL is newer "
                        "than this build's %d: upgrade streamlake", (long long)have,
                        META_PG_SCHEMA_VERSION);
    for (int64_t v = have + 1; !rc && v <= META_PG_SCHEMA_VERSION; v++)
        rc = mpg_exec(c, g_migrations[v - 1], NULL, NULL, e);
    if (!rc && have < META_PG_SCHEMA_VERSION) {
        snprintf(sql, sizeof sql, "DELETE FROM streamlake_schema;"
                 " INSERT INTO streamlake_schema VALUES(%d)", META_PG_SCHEMA_VERSION);
        rc = mpg_exec(c, sql, NULL, NULL, e);
    }
    if (!rc)
        return mpg_exec(c, "COMMIT", NULL, NULL, e);
    mpg_exec(c, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int meta_pg_open(const char *conninfo, const meta_pg_opts *opts, meta **out, errmsg *e)
{
    pg_meta *m = sl_calloc(1, sizeof *m);
    if (!m)
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    m->base.ops = &g_pg_ops;
    m->base.shared = 1;
    m->n_readers = opts && opts->n_readers > 0 ? opts->n_readers : 4;
    m->max_lockers = opts && opts->max_lockers > 0 ? opts->max_lockers : 16;
    mqueue_init(&m->q, opts ? opts->max_batch : 0, run_batch, m);
    pthread_mutex_init(&m->lmu, NULL);
    pthread_cond_init(&m->lcv, NULL);
    pthread_mutex_init(&m->leader_mu, NULL);
    m->conninfo = sl_strdup(conninfo);
    m->readers = sl_calloc((size_t)m->n_readers, sizeof *m->readers);
    m->idle_lockers = sl_calloc((size_t)m->max_lockers, sizeof *m->idle_lockers);
    int rc = m->conninfo && m->readers && m->idle_lockers && !mslots_init(&m->rslots,
                                                                           m->n_readers)
                 ? SL_OK : errmsg_set(e, SL_ENOMEM, "out of memory");
    if (!rc)
        rc = connect_one(conninfo, &m->wc, e);
    if (!rc)
        rc = migrate(m->wc, e);
    if (!rc)
        rc = writer_ready(m, e);
    for (int i = 0; !rc && i < m->n_readers; i++)
        rc = connect_one(conninfo, &m->readers[i].c, e);
    if (!rc)
        rc = connect_one(conninfo, &m->leader, e);
    /* Partition-lock sessions are opened when builds need them; a few are opened
     * now, so the first builds (a cold trace's, whose locks stay with their deferred
     * commits: docs/internals/lake.md) do not each wait for a new session.  A
     * failure here is not one: the builds connect then. */
    for (int i = 0; !rc && i < PG_LOCKERS_WARM && i < m->max_lockers; i++) {
        errmsg ignored;
        PGconn *c;
        if (connect_one(conninfo, &c, &ignored))
            break;
        m->idle_lockers[m->n_idle++] = c;
        m->n_lockers++;
    }
    if (!rc)
        rc = mqueue_start(&m->q, e);
    if (rc) {
        pg_close(&m->base);
        return rc;
    }
    *out = &m->base;
    return SL_OK;
}
