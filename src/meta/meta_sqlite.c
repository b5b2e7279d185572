/*
 * meta_sqlite.c - the metadata store in one SQLite database (WAL mode).
 *
 * Ownership: one writer thread owns the only write connection.  Inserting
 * threads do not touch SQLite for writes; they queue a request and wait.  The
 * writer takes every queued request (up to max_batch), applies them in one
 * transaction, commits once (one WAL fsync with synchronous=FULL) and then
 * wakes all of them with their own result.  So N concurrent inserts cost one
 * fsync, not N: group commit.  A request's checks (identical row, different
 * row, missing dependency) run inside that transaction, so they see every
 * earlier insert, committed or in the same batch, and no two requests can
 * race between check and insert.
 *
 * Reads use a small pool of separate connections: WAL lets them read the last
 * committed state while the writer writes, and they never see a batch until
 * it is committed, so a 2xx reply and the row becoming visible agree.
 *
 * Schema (docs/internals/storage.md is the reference): uuids as canonical
 * text, times as integer ns since the epoch, tags and properties as JSON
 * text, plus a content_hash column per table (XXH3-64 of the message, stored
 * as a signed 64-bit integer) that makes inserts idempotent.
 */
#include "meta/meta_sqlite_int.h"

#include "base/alloc.h"
#include "base/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *g_schema =
    "CREATE TABLE IF NOT EXISTS meta_info(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS processes("
    " process_id TEXT PRIMARY KEY, exe TEXT NOT NULL, username TEXT NOT NULL,"
    " realname TEXT NOT NULL, computer TEXT NOT NULL, distro TEXT NOT NULL,"
    " cpu_brand TEXT NOT NULL, tsc_frequency INTEGER NOT NULL, start_time INTEGER NOT NULL,"
    " start_ticks INTEGER NOT NULL, parent_process_id TEXT, properties TEXT NOT NULL,"
    " insert_time INTEGER NOT NULL, content_hash INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS streams("
    " stream_id TEXT PRIMARY KEY, process_id TEXT NOT NULL, tags TEXT NOT NULL,"
    " properties TEXT NOT NULL, insert_time INTEGER NOT NULL,"
    " content_hash INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS streams_by_process ON streams(process_id, insert_time);"
    "CREATE TABLE IF NOT EXISTS blocks("
    " block_id TEXT PRIMARY KEY, stream_id TEXT NOT NULL, process_id TEXT NOT NULL,"
    " begin_time INTEGER NOT NULL, end_time INTEGER NOT NULL, begin_ticks INTEGER NOT NULL,"
    " end_ticks INTEGER NOT NULL, nb_objects INTEGER NOT NULL, object_offset INTEGER NOT NULL,"
    " payload_size INTEGER NOT NULL, insert_time INTEGER NOT NULL,"
    " content_hash INTEGER NOT NULL) WITHOUT ROWID;"
    /* Covering indexes: the API's aggregates read only these, never the rows. */
    /* retention deletes by end time */
    "CREATE INDEX IF NOT EXISTS blocks_by_end_time ON blocks(end_time);"
    /* a resumed telemetry job lists the blocks inserted since its checkpoint */
    "CREATE INDEX IF NOT EXISTS blocks_by_insert_time ON blocks(insert_time);"
    "CREATE INDEX IF NOT EXISTS blocks_by_stream ON blocks(stream_id, object_offset,"
    " nb_objects, payload_size);"
    /* the process list's aggregates, times included (replaces blocks_by_process) */
    "DROP INDEX IF EXISTS blocks_by_process;"
    "CREATE INDEX IF NOT EXISTS blocks_by_process_times ON blocks(process_id, nb_objects,"
    " payload_size, begin_time, end_time);";

static const char *g_wsql[W_N] = {
    [W_GET_PROCESS] = "SELECT content_hash FROM processes WHERE process_id = ?1",
    [W_INS_PROCESS] = "INSERT INTO processes VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)",
    [W_GET_STREAM] = "SELECT content_hash, process_id FROM streams WHERE stream_id = ?1",
    [W_INS_STREAM] = "INSERT INTO streams VALUES(?1,?2,?3,?4,?5,?6)",
    [W_GET_BLOCK] = "SELECT content_hash FROM blocks WHERE block_id = ?1",
    [W_INS_BLOCK] = "INSERT INTO blocks VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
    [W_BEGIN] = "BEGIN IMMEDIATE",
    [W_COMMIT] = "COMMIT",
    [W_ROLLBACK] = "ROLLBACK",
    [W_SAVEPOINT] = "SAVEPOINT req",
    [W_RELEASE] = "RELEASE req",
    [W_ROLLBACK_TO] = "ROLLBACK TO req",
};

/* ------------------------------------------------------------ helpers */

int msq_db_fail(sqlite3 *db, errmsg *e, const char *what)
{
    return errmsg_set(e, SL_EIO, "metadata: %s: %s", what, sqlite3_errmsg(db));
}

void msq_bind_uuid(sqlite3_stmt *st, int i, const sl_uuid *u)
{
    char s[UUID_STR_LEN];
    uuid_format(u, s);
    sqlite3_bind_text(st, i, s, 36, SQLITE_TRANSIENT);
}

void msq_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    sqlite3_bind_text(st, i, s ? s : "", -1, SQLITE_STATIC);
}

void msq_col_uuid(sqlite3_stmt *st, int i, sl_uuid *out)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    if (!s || uuid_parse(s, out) != 0)
        memset(out, 0, sizeof *out);
}

const char *msq_col_text(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? s : "";
}

int msq_exec(sqlite3 *db, const char *sql, errmsg *e)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        errmsg_set(e, SL_EIO, "metadata: %s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return SL_EIO;
    }
    return SL_OK;
}

/* Runs a statement that returns no rows and resets it. */
int msq_step_done(sqlite3 *db, sqlite3_stmt *st, errmsg *e, const char *what)
{
    int r = sqlite3_step(st);
    int rc = r == SQLITE_DONE ? SL_OK : msq_db_fail(db, e, what);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

/*
 * Looks up the content hash of the row with id (statement `st`, id in ?1).
 * Returns 1 (found, *hash and, if want_pid, *pid set), 0 (absent) or SL_EIO.
 */
static int lookup(sqlite3 *db, sqlite3_stmt *st, const sl_uuid *id, uint64_t *hash, sl_uuid *pid,
                  errmsg *e)
{
    msq_bind_uuid(st, 1, id);
    int r = sqlite3_step(st), rc;
    if (r == SQLITE_ROW) {
        *hash = (uint64_t)sqlite3_column_int64(st, 0);
        if (pid)
            msq_col_uuid(st, 1, pid);
        rc = 1;
    } else {
        rc = r == SQLITE_DONE ? 0 : msq_db_fail(db, e, "lookup");
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

/* ------------------------------------------------------------ writer: apply one request */

/*
 * The common head of the three inserts: looks up the row with id (statement st)
 * and returns 0 (identical row: *existed = 1), SL_EEXIST (different row), 1 (no
 * row: go on and insert) or SL_EIO.
 */
static int check_existing(sqlite_meta *m, sqlite3_stmt *st, const sl_uuid *id, uint64_t want,
                          int *existed, errmsg *e, const char *what)
{
    uint64_t have = 0;
    int found = lookup(m->wdb, st, id, &have, NULL, e);
    if (found < 0)
        return found;
    if (!found)
        return 1;
    if (have == want) {
        *existed = 1;
        return SL_OK;
    }
    char s[UUID_STR_LEN];
    uuid_format(id, s);
    return errmsg_set(e, SL_EEXIST, "%s %s already exists with different content", what, s);
}

static int apply_process(sqlite_meta *m, const meta_process *p, int *existed, errmsg *e,
                         int64_t now)
{
    int rc = check_existing(m, m->w[W_GET_PROCESS], &p->process_id, p->content_hash, existed, e,
                            "process");
    if (rc != 1)
        return rc;
    sqlite3_stmt *st = m->w[W_INS_PROCESS];
    msq_bind_uuid(st, 1, &p->process_id);
    const char *strs[6] = {p->exe, p->username, p->realname, p->computer, p->distro, p->cpu_brand};
    for (int i = 0; i < 6; i++)
        msq_bind_text(st, 2 + i, strs[i]);
    sqlite3_bind_int64(st, 8, (int64_t)p->tsc_frequency);
    sqlite3_bind_int64(st, 9, p->start_time_ns);
    sqlite3_bind_int64(st, 10, (int64_t)p->start_ticks);
    if (uuid_is_nil(&p->parent_process_id))
        sqlite3_bind_null(st, 11);
    else
        msq_bind_uuid(st, 11, &p->parent_process_id);
    msq_bind_text(st, 12, p->properties_json ? p->properties_json : "{}");
    sqlite3_bind_int64(st, 13, now);
    sqlite3_bind_int64(st, 14, (int64_t)p->content_hash);
    return msq_step_done(m->wdb, st, e, "insert process");
}

static int missing(errmsg *e, const char *what, const sl_uuid *id, const char *needed_by)
{
    char s[UUID_STR_LEN];
    uuid_format(id, s);
    return errmsg_set(e, SL_EAGAIN, "unknown %s %s (send it before its %s)", what, s, needed_by);
}

static int apply_stream(sqlite_meta *m, const meta_stream *s, int *existed, errmsg *e,
                        int64_t now)
{
    int rc = check_existing(m, m->w[W_GET_STREAM], &s->stream_id, s->content_hash, existed, e,
                            "stream");
    if (rc != 1)
        return rc;
    uint64_t have;
    int found = lookup(m->wdb, m->w[W_GET_PROCESS], &s->process_id, &have, NULL, e);
    if (found <= 0)
        return found < 0 ? found : missing(e, "process", &s->process_id, "streams");
    sqlite3_stmt *st = m->w[W_INS_STREAM];
    msq_bind_uuid(st, 1, &s->stream_id);
    msq_bind_uuid(st, 2, &s->process_id);
    msq_bind_text(st, 3, s->tags_json ? s->tags_json : "[]");
    msq_bind_text(st, 4, s->properties_json ? s->properties_json : "{}");
    sqlite3_bind_int64(st, 5, now);
    sqlite3_bind_int64(st, 6, (int64_t)s->content_hash);
    return msq_step_done(m->wdb, st, e, "insert stream");
}

static int apply_block(sqlite_meta *m, const meta_block *b, int *existed, errmsg *e,
                       int64_t now)
{
    int rc = check_existing(m, m->w[W_GET_BLOCK], &b->block_id, b->content_hash, existed, e,
                            "block");
    if (rc != 1)
        return rc;
    sl_uuid owner;
    uint64_t have;
    int found = lookup(m->wdb, m->w[W_GET_STREAM], &b->stream_id, &have, &owner, e);
    if (found <= 0)
        return found < 0 ? found : missing(e, "stream", &b->stream_id, "blocks");
    if (!uuid_eq(&owner, &b->process_id)) {
        char s1[UUID_STR_LEN], s2[UUID_STR_LEN];
        uuid_format(&b->stream_id, s1);
        uuid_format(&owner, s2);
        return errmsg_set(e, SL_EMISMATCH, "stream %s belongs to process %s, not to the "
                          "block's process", s1, s2);
    }
    sqlite3_stmt *st = m->w[W_INS_BLOCK];
    msq_bind_uuid(st, 1, &b->block_id);
    msq_bind_uuid(st, 2, &b->stream_id);
    msq_bind_uuid(st, 3, &b->process_id);
    int64_t v[8] = {b->begin_time_ns, b->end_time_ns, b->begin_ticks, b->end_ticks,
                    (int64_t)b->nb_objects, (int64_t)b->object_offset, (int64_t)b->payload_size,
                    now};
    for (int i = 0; i < 8; i++)
        sqlite3_bind_int64(st, 4 + i, v[i]);
    sqlite3_bind_int64(st, 12, (int64_t)b->content_hash);
    return msq_step_done(m->wdb, st, e, "insert block");
}

static int apply_expire_blocks(sqlite_meta *m, void *rec, errmsg *e);

static int apply(sqlite_meta *m, wreq *r, int64_t now)
{
    *r->existed = 0;
    switch (r->kind) {
    case REQ_PART_REPLACE:
        return msq_apply_part_replace(m, r->rec, r->e, now);
    case REQ_PART_FORGET:
        return msq_apply_part_forget(m, r->rec, r->e);
    case REQ_PART_RETIRE:
        return msq_apply_part_retire(m, r->rec, r->existed, r->e, now);
    case REQ_SQL_PUT:
        return msq_apply_sql_put(m, r->rec, r->e, now);
    case REQ_EXPIRE_BLOCKS:
        return apply_expire_blocks(m, (void *)r->rec, r->e);
    case REQ_EXPIRE_PARTS:
        return msq_apply_expire_parts(m, r->rec, r->existed, r->e, now);
    case REQ_PROCESS:
        return apply_process(m, r->rec, r->existed, r->e, now);
    case REQ_STREAM:
        return apply_stream(m, r->rec, r->existed, r->e, now);
    case REQ_BLOCK:
        return apply_block(m, r->rec, r->existed, r->e, now);
    default:
        return errmsg_set(r->e, SL_EINTERNAL, "metadata: unknown request kind %d", r->kind);
    }
}

/* ------------------------------------------------------------ writer thread */

/* Applies one batch in one transaction; sets every request's rc. */
static void run_batch(void *ctx, wreq *batch)
{
    sqlite_meta *m = ctx;
    errmsg te;
    int rc = msq_step_done(m->wdb, m->w[W_BEGIN], &te, "begin");
    int64_t now = clock_wall_ns();
    for (wreq *r = batch; r; r = r->next) {
        if (rc) {
            r->rc = errmsg_set(r->e, rc, "%s", te.text);
            continue;
        }
        /* Each request is atomic on its own: a failure undoes its partial effects only. */
        r->rc = msq_step_done(m->wdb, m->w[W_SAVEPOINT], r->e, "savepoint");
        if (!r->rc && (r->rc = apply(m, r, now)))
            msq_step_done(m->wdb, m->w[W_ROLLBACK_TO], NULL, "rollback to");
        msq_step_done(m->wdb, m->w[W_RELEASE], NULL, "release");
    }
    if (rc)
        return;
    if ((rc = msq_step_done(m->wdb, m->w[W_COMMIT], &te, "commit")) == SL_OK)
        return;
    /* Nothing of the batch is durable: everyone fails, nobody half-succeeds. */
    msq_step_done(m->wdb, m->w[W_ROLLBACK], NULL, "rollback");
    for (wreq *r = batch; r; r = r->next)
        r->rc = errmsg_set(r->e, SL_EIO, "%s", te.text);
}

int msq_submit(sqlite_meta *m, int kind, const void *rec, int *existed, errmsg *e)
{
    return mqueue_submit(&m->q, kind, rec, existed, e);
}

static int sq_insert_process(meta *mm, const meta_process *p, int *existed, errmsg *e)
{
    return msq_submit((sqlite_meta *)mm, REQ_PROCESS, p, existed, e);
}

static int sq_insert_stream(meta *mm, const meta_stream *s, int *existed, errmsg *e)
{
    return msq_submit((sqlite_meta *)mm, REQ_STREAM, s, existed, e);
}

static int sq_insert_block(meta *mm, const meta_block *b, int *existed, errmsg *e)
{
    return msq_submit((sqlite_meta *)mm, REQ_BLOCK, b, existed, e);
}

/* ------------------------------------------------------------ readers */

reader *msq_reader_take(sqlite_meta *m)
{
    return &m->readers[mslots_take(&m->rslots)];
}

void msq_reader_give(sqlite_meta *m, reader *r)
{
    mslots_give(&m->rslots, (int)(r - m->readers));
}

static void read_block_row(sqlite3_stmt *st, meta_block *b)
{
    memset(b, 0, sizeof *b);
    msq_col_uuid(st, 0, &b->block_id);
    msq_col_uuid(st, 1, &b->stream_id);
    msq_col_uuid(st, 2, &b->process_id);
    b->begin_time_ns = sqlite3_column_int64(st, 3);
    b->end_time_ns = sqlite3_column_int64(st, 4);
    b->begin_ticks = sqlite3_column_int64(st, 5);
    b->end_ticks = sqlite3_column_int64(st, 6);
    b->nb_objects = (uint64_t)sqlite3_column_int64(st, 7);
    b->object_offset = (uint64_t)sqlite3_column_int64(st, 8);
    b->payload_size = (uint64_t)sqlite3_column_int64(st, 9);
    b->insert_time_ns = sqlite3_column_int64(st, 10);
    b->content_hash = (uint64_t)sqlite3_column_int64(st, 11);
}

static void read_stream_key_row(sqlite3_stmt *st, void *out)
{
    meta_stream *s = out;
    memset(s, 0, sizeof *s);
    msq_col_uuid(st, 0, &s->stream_id);
    msq_col_uuid(st, 1, &s->process_id);
    s->insert_time_ns = sqlite3_column_int64(st, 2);
    s->content_hash = (uint64_t)sqlite3_column_int64(st, 3);
}

static void read_block_row_any(sqlite3_stmt *st, void *out)
{
    read_block_row(st, out);
}

/*
 * Point lookup by id on a pooled reader: which_stmt picks the reader's prepared
 * statement (0 stream, 1 block), read fills out from the row.
 */
static int find_one(sqlite_meta *m, int which_stmt, const sl_uuid *id,
                    void (*read)(sqlite3_stmt *, void *), void *out, const char *what, errmsg *e)
{
    reader *r = msq_reader_take(m);
    sqlite3_stmt *st = which_stmt ? r->find_block : r->find_stream;
    msq_bind_uuid(st, 1, id);
    int s = sqlite3_step(st), rc = SL_OK;
    if (s == SQLITE_ROW) {
        read(st, out);
    } else if (s == SQLITE_DONE) {
        char t[UUID_STR_LEN];
        uuid_format(id, t);
        rc = errmsg_set(e, SL_ENOTFOUND, "unknown %s %s", what, t);
    } else {
        rc = msq_db_fail(r->db, e, what);
    }
    sqlite3_reset(st);
    msq_reader_give(m, r);
    return rc;
}

static int sq_find_stream(meta *mm, const sl_uuid *id, meta_stream *out, errmsg *e)
{
    return find_one((sqlite_meta *)mm, 0, id, read_stream_key_row, out, "stream", e);
}

static int sq_find_block(meta *mm, const sl_uuid *id, meta_block *out, errmsg *e)
{
    return find_one((sqlite_meta *)mm, 1, id, read_block_row_any, out, "block", e);
}

static const char *g_list_processes_sql =
    "SELECT p.process_id, p.parent_process_id, p.exe, p.username, p.realname, p.computer,"
    " p.distro, p.cpu_brand, p.tsc_frequency, p.start_time, p.start_ticks, p.properties,"
    " p.insert_time, p.content_hash,"
    " (SELECT count(*) FROM streams s WHERE s.process_id = p.process_id),"
    " (SELECT count(*) FROM streams s WHERE s.process_id = p.process_id AND"
    "   EXISTS (SELECT 1 FROM json_each(s.tags) WHERE json_each.value = 'cpu')),"
    " coalesce(b.n, 0), coalesce(b.ev, 0), coalesce(b.bytes, 0),"
    " coalesce(b.first, 0), coalesce(b.last, 0)"
    " FROM processes p LEFT JOIN (SELECT process_id, count(*) AS n, sum(nb_objects) AS ev,"
    "   sum(payload_size) AS bytes, min(begin_time) AS first, max(end_time) AS last"
    "   FROM blocks GROUP BY process_id) b"
    " ON b.process_id = p.process_id"
    " ORDER BY p.start_time DESC, p.process_id";

void msq_read_process_row(sqlite3_stmt *st, meta_process_summary *row)
{
    memset(row, 0, sizeof *row);
    meta_process *p = &row->p;
    msq_col_uuid(st, 0, &p->process_id);
    msq_col_uuid(st, 1, &p->parent_process_id);
    p->exe = msq_col_text(st, 2);
    p->username = msq_col_text(st, 3);
    p->realname = msq_col_text(st, 4);
    p->computer = msq_col_text(st, 5);
    p->distro = msq_col_text(st, 6);
    p->cpu_brand = msq_col_text(st, 7);
    p->tsc_frequency = (uint64_t)sqlite3_column_int64(st, 8);
    p->start_time_ns = sqlite3_column_int64(st, 9);
    p->start_ticks = (uint64_t)sqlite3_column_int64(st, 10);
    p->properties_json = msq_col_text(st, 11);
    p->insert_time_ns = sqlite3_column_int64(st, 12);
    p->content_hash = (uint64_t)sqlite3_column_int64(st, 13);
    row->stream_count = (uint64_t)sqlite3_column_int64(st, 14);
    row->thread_count = (uint64_t)sqlite3_column_int64(st, 15);
    row->block_count = (uint64_t)sqlite3_column_int64(st, 16);
    row->event_count = (uint64_t)sqlite3_column_int64(st, 17);
    row->payload_bytes = (uint64_t)sqlite3_column_int64(st, 18);
    row->first_time_ns = sqlite3_column_int64(st, 19);
    row->last_time_ns = sqlite3_column_int64(st, 20);
}

/*
 * Runs a read-only query on a pooled reader and feeds every row to each_row.
 * bind (may be NULL) sets the parameters from bind_arg.  A read transaction
 * spans the whole query, so aggregates and rows come from one committed state.
 */
int msq_query(sqlite_meta *m, const char *sql, msq_bind_fn bind, const void *bind_arg,
              int (*each_row)(sqlite3_stmt *st, void *ctx), void *ctx, errmsg *e)
{
    reader *r = msq_reader_take(m);
    sqlite3_stmt *st = NULL;
    int rc = SL_OK;
    if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = msq_db_fail(r->db, e, "prepare");
        goto out;
    }
    if (bind)
        bind(st, bind_arg);
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW)
        if ((rc = each_row(st, ctx)))
            goto out;
    if (s != SQLITE_DONE)
        rc = msq_db_fail(r->db, e, "query");
out:
    sqlite3_finalize(st);
    msq_reader_give(m, r);
    return rc;
}

static void bind_uuid1(sqlite3_stmt *st, const void *id)
{
    msq_bind_uuid(st, 1, id);
}

int msq_query_rows(sqlite_meta *m, const char *sql, const sl_uuid *bind_id,
                   int (*each_row)(sqlite3_stmt *st, void *ctx), void *ctx, errmsg *e)
{
    return msq_query(m, sql, bind_id ? bind_uuid1 : NULL, bind_id, each_row, ctx, e);
}

typedef struct cb_ctx {
    void *fn;
    void *arg;
} cb_ctx;

static int process_row(sqlite3_stmt *st, void *ctx)
{
    cb_ctx *c = ctx;
    meta_process_summary row;
    msq_read_process_row(st, &row);
    return ((meta_process_fn)c->fn)(c->arg, &row);
}

static int sq_list_processes(meta *mm, meta_process_fn fn, void *arg, errmsg *e)
{
    cb_ctx c = {(void *)fn, arg};
    return msq_query_rows((sqlite_meta *)mm, g_list_processes_sql, NULL, process_row, &c, e);
}

static const char *g_list_streams_sql =
    "SELECT s.stream_id, s.process_id, s.tags, s.properties, s.insert_time, s.content_hash,"
    " json_extract(s.properties, '$.\"thread-id\"'),"
    " json_extract(s.properties, '$.\"thread-name\"'),"
    " coalesce(b.n, 0), coalesce(b.ev, 0), coalesce(b.bytes, 0)"
    " FROM streams s LEFT JOIN (SELECT stream_id, count(*) AS n, sum(nb_objects) AS ev,"
    "   sum(payload_size) AS bytes FROM blocks WHERE process_id = ?1 GROUP BY stream_id) b"
    " ON b.stream_id = s.stream_id"
    " WHERE s.process_id = ?1 ORDER BY s.insert_time, s.stream_id";

static int stream_row(sqlite3_stmt *st, void *ctx)
{
    cb_ctx *c = ctx;
    meta_stream_summary row;
    memset(&row, 0, sizeof row);
    msq_col_uuid(st, 0, &row.s.stream_id);
    msq_col_uuid(st, 1, &row.s.process_id);
    row.s.tags_json = msq_col_text(st, 2);
    row.s.properties_json = msq_col_text(st, 3);
    row.s.insert_time_ns = sqlite3_column_int64(st, 4);
    row.s.content_hash = (uint64_t)sqlite3_column_int64(st, 5);
    row.thread_id = (const char *)sqlite3_column_text(st, 6);
    row.thread_name = (const char *)sqlite3_column_text(st, 7);
    row.block_count = (uint64_t)sqlite3_column_int64(st, 8);
    row.event_count = (uint64_t)sqlite3_column_int64(st, 9);
    row.payload_bytes = (uint64_t)sqlite3_column_int64(st, 10);
    return ((meta_stream_fn)c->fn)(c->arg, &row);
}

static int count_row(sqlite3_stmt *st, void *ctx)
{
    *(int64_t *)ctx = sqlite3_column_int64(st, 0);
    return SL_OK;
}

static int sq_list_streams(meta *mm, const sl_uuid *process_id, meta_stream_fn fn, void *arg,
                           errmsg *e)
{
    sqlite_meta *m = (sqlite_meta *)mm;
    int64_t n = 0;
    int rc = msq_query_rows(m, "SELECT count(*) FROM processes WHERE process_id = ?1", process_id,
                        count_row, &n, e);
    if (rc)
        return rc;
    if (n == 0) {
        char t[UUID_STR_LEN];
        uuid_format(process_id, t);
        return errmsg_set(e, SL_ENOTFOUND, "unknown process %s", t);
    }
    cb_ctx c = {(void *)fn, arg};
    return msq_query_rows(m, g_list_streams_sql, process_id, stream_row, &c, e);
}

static int block_row(sqlite3_stmt *st, void *ctx)
{
    cb_ctx *c = ctx;
    meta_block b;
    read_block_row(st, &b);
    return ((meta_block_fn)c->fn)(c->arg, &b);
}

static int sq_list_blocks(meta *mm, const sl_uuid *stream_id, meta_block_fn fn, void *arg,
                          errmsg *e)
{
    cb_ctx c = {(void *)fn, arg};
    return msq_query_rows((sqlite_meta *)mm,
                      "SELECT * FROM blocks WHERE stream_id = ?1 ORDER BY object_offset, block_id",
                      stream_id, block_row, &c, e);
}

static void bind_i64(sqlite3_stmt *st, const void *v)
{
    sqlite3_bind_int64(st, 1, *(const int64_t *)v);
}

static int sq_list_blocks_since(meta *mm, int64_t since_ns, meta_block_fn fn, void *arg,
                                errmsg *e)
{
    cb_ctx c = {(void *)fn, arg};
    return msq_query((sqlite_meta *)mm, "SELECT * FROM blocks WHERE insert_time >= ?1"
                     " ORDER BY insert_time, stream_id, object_offset, block_id",
                     bind_i64, &since_ns, block_row, &c, e);
}

/* ------------------------------------------------------------ retention */

/* What one expiry request deleted (rows copied in the writer, handed out after the commit). */
typedef struct expire_req {
    int64_t before;
    int limit;
    meta_block *rows;
    int n;
} expire_req;

static int apply_expire_blocks(sqlite_meta *m, void *rec, errmsg *e)
{
    expire_req *x = rec;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(m->wdb, "DELETE FROM blocks WHERE block_id IN (SELECT block_id FROM"
                           " blocks WHERE end_time < ?1 LIMIT ?2) RETURNING *", -1, &st,
                           NULL) != SQLITE_OK)
        return msq_db_fail(m->wdb, e, "prepare");
    sqlite3_bind_int64(st, 1, x->before);
    sqlite3_bind_int64(st, 2, x->limit);
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW && x->n < x->limit)
        read_block_row(st, &x->rows[x->n++]);
    int rc = s == SQLITE_DONE || s == SQLITE_ROW ? SL_OK : msq_db_fail(m->wdb, e, "expire");
    sqlite3_finalize(st);
    if (rc || x->n == x->limit)
        return rc;
    /* Nothing older left among the blocks: streams and processes left empty go too. */
    static const char *const sweep[] = {
        "DELETE FROM streams WHERE insert_time < ?1 AND NOT EXISTS (SELECT 1 FROM blocks b"
        " WHERE b.stream_id = streams.stream_id)",
        "DELETE FROM processes WHERE insert_time < ?1 AND NOT EXISTS (SELECT 1 FROM streams s"
        " WHERE s.process_id = processes.process_id)"};
    for (int i = 0; i < 2 && !rc; i++) {
        if (sqlite3_prepare_v2(m->wdb, sweep[i], -1, &st, NULL) != SQLITE_OK)
            return msq_db_fail(m->wdb, e, "prepare");
        sqlite3_bind_int64(st, 1, x->before);
        rc = msq_step_done(m->wdb, st, e, "expire");
        sqlite3_finalize(st);
    }
    return rc;
}

static int sq_expire_blocks(meta *mm, int64_t before_ns, int limit, meta_block_fn fn, void *arg,
                            errmsg *e)
{
    if (limit < 1)
        limit = 1;
    expire_req x = {before_ns, limit, sl_calloc((size_t)limit, sizeof(meta_block)), 0};
    if (!x.rows)
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    int rc = msq_submit((sqlite_meta *)mm, REQ_EXPIRE_BLOCKS, &x, NULL, e);
    for (int i = 0; !rc && i < x.n; i++)
        rc = fn(arg, &x.rows[i]);
    sl_free(x.rows);
    return rc ? rc : x.n;
}

/* ------------------------------------------------------------ open / close */

static void sq_close(meta *mm)
{
    sqlite_meta *m = (sqlite_meta *)mm;
    mqueue_stop(&m->q);
    for (int i = 0; i < W_N; i++)
        sqlite3_finalize(m->w[i]);
    sqlite3_close(m->wdb);
    for (int i = 0; m->readers && i < m->n_readers; i++) {
        sqlite3_finalize(m->readers[i].find_stream);
        sqlite3_finalize(m->readers[i].find_block);
        sqlite3_close(m->readers[i].db);
    }
    sl_free(m->readers);
    mqueue_destroy(&m->q);
    mslots_destroy(&m->rslots);
    sl_free(m);
}

static const meta_ops g_sqlite_ops = {
    .insert_process = sq_insert_process,
    .insert_stream = sq_insert_stream,
    .insert_block = sq_insert_block,
    .find_stream = sq_find_stream,
    .find_block = sq_find_block,
    .list_processes = sq_list_processes,
    .list_streams = sq_list_streams,
    .list_blocks = sq_list_blocks,
    .list_blocks_since = sq_list_blocks_since,
    .find_process = msq_find_process,
    .list_partitions = msq_list_partitions,
    .replace_partition = msq_replace_partition,
    .list_retired = msq_list_retired,
    .forget_partition = msq_forget_partition,
    .retire_partition = msq_retire_partition,
    .list_partition_files = msq_list_partition_files,
    .sql_table_put = msq_sql_table_put,
    .sql_table_list = msq_sql_table_list,
    .expire_blocks = sq_expire_blocks,
    .expire_partitions = msq_expire_partitions,
    .close = sq_close,
};

static int schema_version_check(sqlite_meta *m, errmsg *e)
{
    sqlite3_stmt *st = NULL;
    int rc = SL_OK;
    if (sqlite3_prepare_v2(m->wdb, "SELECT value FROM meta_info WHERE key = 'schema_version'",
                           -1, &st, NULL) != SQLITE_OK)
        return msq_db_fail(m->wdb, e, "schema");
    if (sqlite3_step(st) == SQLITE_ROW) {
        int v = atoi(msq_col_text(st, 0));
        if (v > META_SQLITE_SCHEMA_VERSION)
            rc = errmsg_set(e, SL_EVERSION, "metadata schema version %d is newer than this "
                            "build's %d", v, META_SQLITE_SCHEMA_VERSION);
    }
    sqlite3_finalize(st);
    if (rc)
        return rc;
    char sql[128];
    snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO meta_info VALUES('schema_version', '%d')",
             META_SQLITE_SCHEMA_VERSION);
    return msq_exec(m->wdb, sql, e);
}

static int open_conn(const char *path, int readonly, sqlite3 **db, errmsg *e)
{
    int flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, db, flags, NULL) != SQLITE_OK) {
        int rc = errmsg_set(e, SL_EIO, "metadata: cannot open %s: %s", path,
                            *db ? sqlite3_errmsg(*db) : "out of memory");
        sqlite3_close(*db);
        *db = NULL;
        return rc;
    }
    sqlite3_busy_timeout(*db, 10000);
    return SL_OK;
}

static int open_writer(sqlite_meta *m, const char *path, int sync_full, errmsg *e)
{
    int rc = open_conn(path, 0, &m->wdb, e);
    if (rc)
        return rc;
    /* WAL: readers never block the writer; FULL: every commit is fsynced (durable). */
    if ((rc = msq_exec(m->wdb, "PRAGMA journal_mode=WAL", e)) ||
        (rc = msq_exec(m->wdb, sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
                   e)) ||
        (rc = msq_exec(m->wdb, "BEGIN IMMEDIATE", e)))
        return rc;
    if ((rc = msq_exec(m->wdb, g_schema, e)) || (rc = msq_exec(m->wdb, msq_lake_schema, e)) ||
        (rc = msq_exec(m->wdb, msq_sql_schema, e)) ||
        (rc = schema_version_check(m, e))) {
        msq_exec(m->wdb, "ROLLBACK", NULL);
        return rc;
    }
    if ((rc = msq_exec(m->wdb, "COMMIT", e)))
        return rc;
    for (int i = 0; i < W_N; i++)
        if (sqlite3_prepare_v3(m->wdb, g_wsql[i], -1, SQLITE_PREPARE_PERSISTENT, &m->w[i],
                               NULL) != SQLITE_OK)
            return msq_db_fail(m->wdb, e, g_wsql[i]);
    return SL_OK;
}

static int open_readers(sqlite_meta *m, const char *path, errmsg *e)
{
    m->readers = sl_calloc((size_t)m->n_readers, sizeof *m->readers);
    if (!m->readers)
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    for (int i = 0; i < m->n_readers; i++) {
        reader *r = &m->readers[i];
        int rc = open_conn(path, 1, &r->db, e);
        if (rc)
            return rc;
        if (sqlite3_prepare_v3(r->db, "SELECT stream_id, process_id, insert_time, content_hash "
                               "FROM streams WHERE stream_id = ?1", -1,
                               SQLITE_PREPARE_PERSISTENT, &r->find_stream, NULL) != SQLITE_OK ||
            sqlite3_prepare_v3(r->db, "SELECT * FROM blocks WHERE block_id = ?1", -1,
                               SQLITE_PREPARE_PERSISTENT, &r->find_block, NULL) != SQLITE_OK)
            return msq_db_fail(r->db, e, "prepare reader");
    }
    return SL_OK;
}

int meta_sqlite_open(const char *path, const meta_sqlite_opts *opts, meta **out, errmsg *e)
{
    sqlite_meta *m = sl_calloc(1, sizeof *m);
    if (!m)
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    m->base.ops = &g_sqlite_ops;
    m->n_readers = opts && opts->n_readers > 0 ? opts->n_readers : 4;
    mqueue_init(&m->q, opts ? opts->max_batch : 0, run_batch, m);
    int sync_full = !(opts && opts->relaxed_sync);
    if (mslots_init(&m->rslots, m->n_readers)) {
        mqueue_destroy(&m->q);
        sl_free(m);
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    }
    int rc = open_writer(m, path, sync_full, e);
    if (!rc)
        rc = open_readers(m, path, e);
    if (!rc)
        rc = mqueue_start(&m->q, e);
    if (rc) {
        sq_close(&m->base);
        return rc;
    }
    *out = &m->base;
    return SL_OK;
}
