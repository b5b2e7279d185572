/*
 * test_meta.c - the SQLite metadata store: inserts and reads back, idempotency
 * (same id same content accepted once, different content refused), missing
 * dependencies refused as retryable, aggregates of the API, group commit under
 * concurrent inserts, and persistence across reopen.
 */
#include "test.h"
#include "tmpdir.h"

#include "base/clock.h"
#include "meta/meta.h"

#include <pthread.h>
#include <sqlite3.h>
#include <time.h>

static char g_dir[256]; /* this case's directory (each case runs in its own process) */

static void db_path(char *out, size_t n)
{
    test_tmpdir(g_dir, sizeof g_dir, "meta");
    snprintf(out, n, "%s/meta.sqlite", g_dir);
}

static meta *open_db(const char *path)
{
    meta *m = NULL;
    errmsg e;
    int rc = meta_sqlite_open(path, NULL, &m, &e);
    if (rc)
        TEST_FAIL("open: %s", e.text);
    return m;
}

static void make_process(meta_process *p, uint64_t hash)
{
    memset(p, 0, sizeof *p);
    uuid_v4(&p->process_id);
    p->exe = "/usr/bin/game";
    p->username = "ana";
    p->realname = "Ana";
    p->computer = "box";
    p->distro = "Debian";
    p->cpu_brand = "Xeon";
    p->tsc_frequency = 1000000000;
    p->start_time_ns = 1700000000000000000ll;
    p->start_ticks = 5;
    p->properties_json = "{\"build\":\"1\"}";
    p->content_hash = hash;
}

static void make_stream(meta_stream *s, const meta_process *p, const char *tags, const char *props)
{
    memset(s, 0, sizeof *s);
    uuid_v4(&s->stream_id);
    s->process_id = p->process_id;
    s->tags_json = tags;
    s->properties_json = props;
    s->content_hash = 77;
}

static void make_block(meta_block *b, const meta_stream *s, uint64_t n, uint64_t offset)
{
    memset(b, 0, sizeof *b);
    uuid_v4(&b->block_id);
    b->stream_id = s->stream_id;
    b->process_id = s->process_id;
    b->begin_time_ns = 10;
    b->end_time_ns = 20;
    b->begin_ticks = 1;
    b->end_ticks = 2;
    b->nb_objects = n;
    b->object_offset = offset;
    b->payload_size = n * 10;
    b->content_hash = 1000 + offset;
}

TEST(insert_and_idempotency)
{
    char path[300];
    db_path(path, sizeof path);
    meta *m = open_db(path);
    errmsg e;
    int existed = -1;
    meta_process p;
    make_process(&p, 42);
    CHECK_OK(meta_process_insert(m, &p, &existed, &e));
    CHECK_EQ(existed, 0);
    CHECK_OK(meta_process_insert(m, &p, &existed, &e));
    CHECK_EQ(existed, 1);
    meta_process q = p;
    q.content_hash = 43;
    q.exe = "/other";
    CHECK_EQ(meta_process_insert(m, &q, &existed, &e), SL_EEXIST);
    CHECK(strstr(e.text, "different content") != NULL);

    meta_stream s;
    make_stream(&s, &p, "[\"cpu\"]", "{\"thread-id\":\"7\",\"thread-name\":\"main\"}");
    CHECK_OK(meta_stream_insert(m, &s, &existed, &e));
    CHECK_EQ(existed, 0);
    CHECK_OK(meta_stream_insert(m, &s, &existed, &e));
    CHECK_EQ(existed, 1);
    s.content_hash++;
    CHECK_EQ(meta_stream_insert(m, &s, &existed, &e), SL_EEXIST);
    s.content_hash--;

    meta_block b;
    make_block(&b, &s, 100, 0);
    CHECK_OK(meta_block_insert(m, &b, &existed, &e));
    CHECK_EQ(existed, 0);
    CHECK_OK(meta_block_insert(m, &b, &existed, &e));
    CHECK_EQ(existed, 1);
    meta_block c = b;
    c.content_hash = 5;
    CHECK_EQ(meta_block_insert(m, &c, &existed, &e), SL_EEXIST);

    meta_block got;
    CHECK_OK(meta_block_find(m, &b.block_id, &got, &e));
    CHECK(uuid_eq(&got.stream_id, &s.stream_id));
    CHECK_EQ(got.nb_objects, 100);
    CHECK_EQ(got.payload_size, 1000);
    CHECK_EQ(got.content_hash, b.content_hash);
    CHECK(got.insert_time_ns > 0);
    meta_stream gs;
    CHECK_OK(meta_stream_find(m, &s.stream_id, &gs, &e));
    CHECK(uuid_eq(&gs.process_id, &p.process_id));
    sl_uuid none;
    uuid_v4(&none);
    CHECK_EQ(meta_block_find(m, &none, &got, &e), SL_ENOTFOUND);
    CHECK_EQ(meta_stream_find(m, &none, &gs, &e), SL_ENOTFOUND);
    meta_close(m);
    test_rmtree(g_dir);
}

TEST(missing_dependencies_are_retryable)
{
    char path[300];
    db_path(path, sizeof path);
    meta *m = open_db(path);
    errmsg e;
    meta_process p;
    make_process(&p, 1);
    meta_stream s;
    make_stream(&s, &p, "[]", "{}");
    /* Stream before its process: SL_EAGAIN, and the message names the process. */
    CHECK_EQ(meta_stream_insert(m, &s, NULL, &e), SL_EAGAIN);
    char pid[UUID_STR_LEN];
    uuid_format(&p.process_id, pid);
    CHECK(strstr(e.text, pid) != NULL);
    meta_block b;
    make_block(&b, &s, 5, 0);
    CHECK_EQ(meta_block_insert(m, &b, NULL, &e), SL_EAGAIN);
    /* Once the dependencies arrive, the same inserts succeed. */
    CHECK_OK(meta_process_insert(m, &p, NULL, &e));
    CHECK_OK(meta_stream_insert(m, &s, NULL, &e));
    CHECK_OK(meta_block_insert(m, &b, NULL, &e));
    /* A block that names another process than its stream's is a mismatch. */
    meta_process p2;
    make_process(&p2, 2);
    CHECK_OK(meta_process_insert(m, &p2, NULL, &e));
    meta_block x;
    make_block(&x, &s, 5, 5);
    x.process_id = p2.process_id;
    CHECK_EQ(meta_block_insert(m, &x, NULL, &e), SL_EMISMATCH);
    CHECK_EQ(meta_block_find(m, &x.block_id, &b, &e), SL_ENOTFOUND);
    meta_close(m);
    test_rmtree(g_dir);
}

typedef struct agg {
    int n;
    meta_process_summary rows[8];
    char exe[8][64];
} agg;

static int take_process(void *arg, const meta_process_summary *row)
{
    agg *a = arg;
    if (a->n < 8) {
        a->rows[a->n] = *row;
        snprintf(a->exe[a->n], 64, "%s", row->p.exe);
        a->n++;
    }
    return 0;
}

typedef struct sagg {
    int n;
    meta_stream_summary rows[8];
    char thread_name[8][32];
    char tags[8][64];
} sagg;

static int take_stream(void *arg, const meta_stream_summary *row)
{
    sagg *a = arg;
    if (a->n < 8) {
        a->rows[a->n] = *row;
        snprintf(a->thread_name[a->n], 32, "%s", row->thread_name ? row->thread_name : "(null)");
        snprintf(a->tags[a->n], 64, "%s", row->s.tags_json);
        a->n++;
    }
    return 0;
}

TEST(aggregates)
{
    char path[300];
    db_path(path, sizeof path);
    meta *m = open_db(path);
    errmsg e;
    meta_process p, empty;
    make_process(&p, 1);
    make_process(&empty, 2);
    empty.start_time_ns -= 1000; /* older: listed second */
    empty.exe = "/bin/idle";
    CHECK_OK(meta_process_insert(m, &p, NULL, &e));
    CHECK_OK(meta_process_insert(m, &empty, NULL, &e));
    meta_stream t1, t2, lg;
    make_stream(&t1, &p, "[\"cpu\"]", "{\"thread-id\":\"1\",\"thread-name\":\"main\"}");
    make_stream(&t2, &p, "[\"cpu\"]", "{\"thread-id\":\"2\",\"thread-name\":\"worker\"}");
    make_stream(&lg, &p, "[\"log\"]", "{}");
    CHECK_OK(meta_stream_insert(m, &t1, NULL, &e));
    CHECK_OK(meta_stream_insert(m, &t2, NULL, &e));
    CHECK_OK(meta_stream_insert(m, &lg, NULL, &e));
    meta_block b;
    for (int i = 0; i < 3; i++) {
        make_block(&b, &t1, 100, (uint64_t)i * 100);
        CHECK_OK(meta_block_insert(m, &b, NULL, &e));
    }
    make_block(&b, &lg, 7, 0);
    CHECK_OK(meta_block_insert(m, &b, NULL, &e));

    agg a = {0};
    CHECK_OK(meta_processes_list(m, take_process, &a, &e));
    CHECK_EQ(a.n, 2);
    CHECK(uuid_eq(&a.rows[0].p.process_id, &p.process_id));
    CHECK_EQ(a.rows[0].thread_count, 2);
    CHECK_EQ(a.rows[0].stream_count, 3);
    CHECK_EQ(a.rows[0].block_count, 4);
    CHECK_EQ(a.rows[0].event_count, 307);
    CHECK_EQ(a.rows[0].payload_bytes, 3070);
    CHECK_STR(a.exe[0], "/usr/bin/game");
    CHECK_STR(a.exe[1], "/bin/idle");
    CHECK_EQ(a.rows[1].thread_count, 0);
    CHECK_EQ(a.rows[1].event_count, 0);

    sagg s = {0};
    CHECK_OK(meta_streams_list(m, &p.process_id, take_stream, &s, &e));
    CHECK_EQ(s.n, 3);
    int seen_main = 0;
    for (int i = 0; i < s.n; i++) {
        if (uuid_eq(&s.rows[i].s.stream_id, &t1.stream_id)) {
            seen_main = 1;
            CHECK_STR(s.thread_name[i], "main");
            CHECK_EQ(s.rows[i].block_count, 3);
            CHECK_EQ(s.rows[i].event_count, 300);
            CHECK_STR(s.tags[i], "[\"cpu\"]");
        }
        if (uuid_eq(&s.rows[i].s.stream_id, &lg.stream_id)) {
            CHECK_STR(s.thread_name[i], "(null)");
            CHECK_EQ(s.rows[i].event_count, 7);
        }
    }
    CHECK(seen_main);
    sl_uuid none;
    uuid_v4(&none);
    CHECK_EQ(meta_streams_list(m, &none, take_stream, &s, &e), SL_ENOTFOUND);
    meta_close(m);
    test_rmtree(g_dir);
}

typedef struct worker_arg {
    meta *m;
    meta_stream *s;
    int n;
    int failures;
} worker_arg;

static void *insert_many(void *arg)
{
    worker_arg *w = arg;
    for (int i = 0; i < w->n; i++) {
        meta_block b;
        make_block(&b, w->s, 10, (uint64_t)i * 10);
        errmsg e;
        if (meta_block_insert(w->m, &b, NULL, &e) != 0)
            w->failures++;
    }
    return NULL;
}

static int count_blocks(void *arg, const meta_block *b)
{
    (void)b;
    (*(int *)arg)++;
    return 0;
}

TEST(concurrent_inserts_and_reopen)
{
    char path[300];
    db_path(path, sizeof path);
    meta *m = open_db(path);
    errmsg e;
    meta_process p;
    make_process(&p, 1);
    CHECK_OK(meta_process_insert(m, &p, NULL, &e));
    meta_stream s;
    make_stream(&s, &p, "[\"cpu\"]", "{}");
    CHECK_OK(meta_stream_insert(m, &s, NULL, &e));
    enum { T = 8, N = 200 };
    pthread_t th[T];
    worker_arg w[T];
    for (int i = 0; i < T; i++) {
        w[i] = (worker_arg){m, &s, N, 0};
        pthread_create(&th[i], NULL, insert_many, &w[i]);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ(w[i].failures, 0);
    }
    meta_close(m);
    /* Everything acknowledged is there after reopening. */
    m = open_db(path);
    int n = 0;
    CHECK_OK(meta_blocks_list(m, &s.stream_id, count_blocks, &n, &e));
    CHECK_EQ(n, T * N);
    agg a = {0};
    CHECK_OK(meta_processes_list(m, take_process, &a, &e));
    CHECK_EQ(a.rows[0].event_count, T * N * 10);
    meta_close(m);
    test_rmtree(g_dir);
}

typedef struct since_rows {
    meta_block rows[8];
    int n;
} since_rows;

static int take_since(void *arg, const meta_block *b)
{
    since_rows *r = arg;
    if (r->n < 8)
        r->rows[r->n] = *b;
    r->n++;
    return 0;
}

/* A telemetry job's replay: the blocks inserted at or after a time, oldest first,
 * each with the insert time the store gave it (never before the insert began). */
TEST(blocks_since_an_insert_time)
{
    char path[300];
    db_path(path, sizeof path);
    meta *m = open_db(path);
    errmsg e;
    meta_process p;
    make_process(&p, 1);
    CHECK_OK(meta_process_insert(m, &p, NULL, &e));
    meta_stream s;
    make_stream(&s, &p, "[\"log\"]", "{}");
    CHECK_OK(meta_stream_insert(m, &s, NULL, &e));
    meta_block b[3];
    int64_t began[3];
    for (int i = 0; i < 3; i++) {
        make_block(&b[i], &s, 5, (uint64_t)i * 5);
        began[i] = clock_wall_ns();
        CHECK_OK(meta_block_insert(m, &b[i], NULL, &e));
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    since_rows r = {0};
    CHECK_OK(meta_blocks_since(m, began[1], take_since, &r, &e));
    CHECK_EQ(r.n, 2);
    CHECK(uuid_eq(&r.rows[0].block_id, &b[1].block_id));
    CHECK(uuid_eq(&r.rows[1].block_id, &b[2].block_id));
    CHECK(r.rows[0].insert_time_ns >= began[1]);
    CHECK(r.rows[1].insert_time_ns >= r.rows[0].insert_time_ns);
    r.n = 0;
    CHECK_OK(meta_blocks_since(m, INT64_MIN, take_since, &r, &e));
    CHECK_EQ(r.n, 3);
    r.n = 0;
    CHECK_OK(meta_blocks_since(m, r.rows[2].insert_time_ns + 1, take_since, &r, &e));
    CHECK_EQ(r.n, 0);
    meta_close(m);
    test_rmtree(g_dir);
}

TEST(newer_schema_refused)
{
    char path[300];
    db_path(path, sizeof path);
    meta *m = open_db(path);
    meta_close(m);
    /* Pretend a later build wrote this database. */
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "UPDATE meta_info SET value='99'", NULL, NULL, NULL) == SQLITE_OK);
    CHECK_EQ(sqlite3_changes(db), 1);
    sqlite3_close(db);
    errmsg e;
    m = NULL;
    CHECK_EQ(meta_sqlite_open(path, NULL, &m, &e), SL_EVERSION);
    CHECK(m == NULL);
    test_rmtree(g_dir);
}

/* ------------------------------------------------------------ lake partitions */

typedef struct parts {
    int n;
    char paths[16][128];
    uint64_t tokens[16];
    int64_t begins[16];
    char state[16][32];
} parts;

static int take_part(void *arg, const meta_partition *p)
{
    parts *ps = arg;
    if (ps->n < 16) {
        snprintf(ps->paths[ps->n], 128, "%s", p->file_path);
        ps->tokens[ps->n] = p->source_token;
        ps->begins[ps->n] = p->begin_insert_time_ns;
        snprintf(ps->state[ps->n], 32, "%.*s", (int)p->state_len, (const char *)p->state);
    }
    ps->n++;
    return 0;
}

static meta_partition part(const char *path, int64_t begin, uint64_t token)
{
    meta_partition p;
    memset(&p, 0, sizeof p);
    p.view_set_name = "thread_spans";
    p.view_instance_id = "s1";
    p.begin_insert_time_ns = begin;
    p.end_insert_time_ns = begin + 100;
    p.min_event_time_ns = 5;
    p.max_event_time_ns = 50;
    p.file_path = path;
    p.file_size = 1000;
    p.schema_version = 1;
    p.source_token = token;
    p.row_count = 10;
    p.event_count = 20;
    p.state = "open:1";
    p.state_len = 6;
    return p;
}

TEST(partitions_replace_retire_forget)
{
    char path[300];
    db_path(path, sizeof path);
    meta *m = open_db(path);
    errmsg e;
    meta_partition a = part("views/a.parquet", 0, 11), b = part("views/b.parquet", 100, 12);
    CHECK_OK(meta_partition_replace(m, &a, &e));
    CHECK_OK(meta_partition_replace(m, &b, &e));
    parts ps = {0};
    CHECK_OK(meta_partitions_list(m, "thread_spans", "s1", take_part, &ps, &e));
    CHECK_EQ(ps.n, 2);
    CHECK_EQ(ps.begins[0], 0); /* ordered by insert range */
    CHECK_STR(ps.state[1], "open:1");
    /* A rebuild of the first range retires the old row in the same commit. */
    meta_partition a2 = part("views/a2.parquet", 0, 99);
    CHECK_OK(meta_partition_replace(m, &a2, &e));
    memset(&ps, 0, sizeof ps);
    CHECK_OK(meta_partitions_list(m, "thread_spans", "s1", take_part, &ps, &e));
    CHECK_EQ(ps.n, 2);
    CHECK_STR(ps.paths[0], "views/a2.parquet");
    CHECK_EQ(ps.tokens[0], 99);
    /* Other instances are separate. */
    memset(&ps, 0, sizeof ps);
    CHECK_OK(meta_partitions_list(m, "thread_spans", "s2", take_part, &ps, &e));
    CHECK_EQ(ps.n, 0);
    /* The retired row is listed for the janitor, then forgotten. */
    memset(&ps, 0, sizeof ps);
    CHECK_OK(meta_partitions_retired(m, INT64_MAX, take_part, &ps, &e));
    CHECK_EQ(ps.n, 1);
    CHECK_STR(ps.paths[0], "views/a.parquet");
    memset(&ps, 0, sizeof ps);
    CHECK_OK(meta_partitions_retired(m, 0, take_part, &ps, &e)); /* not old enough */
    CHECK_EQ(ps.n, 0);
    memset(&ps, 0, sizeof ps);
    CHECK_OK(meta_partition_files(m, take_part, &ps, &e));
    CHECK_EQ(ps.n, 3);
    CHECK_OK(meta_partition_forget(m, "views/a.parquet", &e));
    CHECK_OK(meta_partition_forget(m, "views/a2.parquet", &e)); /* current: not forgotten */
    memset(&ps, 0, sizeof ps);
    CHECK_OK(meta_partition_files(m, take_part, &ps, &e));
    CHECK_EQ(ps.n, 2);
    /* The same file path twice is refused and changes nothing. */
    CHECK(meta_partition_replace(m, &b, &e) < 0);
    memset(&ps, 0, sizeof ps);
    CHECK_OK(meta_partitions_list(m, "thread_spans", "s1", take_part, &ps, &e));
    CHECK_EQ(ps.n, 2);
    meta_close(m);
    /* Rows survive a reopen. */
    m = open_db(path);
    memset(&ps, 0, sizeof ps);
    CHECK_OK(meta_partitions_list(m, "thread_spans", "s1", take_part, &ps, &e));
    CHECK_EQ(ps.n, 2);
    meta_close(m);
    test_rmtree(g_dir);
}

static int copy_exe(void *arg, const meta_process_summary *row)
{
    snprintf(arg, 64, "%s/%llu", row->p.exe, (unsigned long long)row->p.tsc_frequency);
    return 0;
}

TEST(find_process)
{
    char path[300];
    db_path(path, sizeof path);
    meta *m = open_db(path);
    errmsg e;
    meta_process p;
    make_process(&p, 1);
    CHECK_OK(meta_process_insert(m, &p, NULL, &e));
    char got[64] = "";
    CHECK_OK(meta_process_find(m, &p.process_id, copy_exe, got, &e));
    CHECK_STR(got, "/usr/bin/game/1000000000");
    sl_uuid other;
    uuid_v4(&other);
    CHECK_EQ(meta_process_find(m, &other, copy_exe, got, &e), SL_ENOTFOUND);
    meta_close(m);
    test_rmtree(g_dir);
}
