/*
 * test_lake.c - the lake runtime over a real metadata store and object store:
 * partitions are built just in time and once, reused until new blocks make them
 * stale, read back in order across partitions, built once under concurrency,
 * and cleaned up after rebuilds and crashes.
 */
#include "test.h"
#include "tmpdir.h"

#include "lake/lake.h"
#include "wire/wire.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

typedef struct fixture {
    char dir[256];
    meta *m;
    objstore *os;
    lake *l;
    sl_uuid process_id, streams[8];
    char stream_str[8][UUID_STR_LEN];
    char process_str[UUID_STR_LEN];
    uint64_t offset[8];
    int64_t tick[8];
    int64_t insert_seq;
} fixture;

static void fx_open_lake(fixture *f, uint64_t max_events)
{
    lake_opts o = {0};
    o.max_partition_events = max_events;
    o.jobs = 2;
    errmsg e;
    if (lake_open(f->m, f->os, &o, &f->l, &e))
        TEST_FAIL("lake_open: %s", e.text);
}

static void fx_init(fixture *f, int nstreams, uint64_t max_events)
{
    memset(f, 0, sizeof *f);
    test_tmpdir(f->dir, sizeof f->dir, "lake");
    char path[400];
    snprintf(path, sizeof path, "%s/meta.sqlite", f->dir);
    errmsg e;
    meta_sqlite_opts mo = {0};
    mo.relaxed_sync = 1;
    if (meta_sqlite_open(path, &mo, &f->m, &e))
        TEST_FAIL("meta: %s", e.text);
    if (objstore_local_open(f->dir, &f->os, &e))
        TEST_FAIL("objstore: %s", e.text);
    uuid_v4(&f->process_id);
    uuid_format(&f->process_id, f->process_str);
    meta_process p = {.process_id = f->process_id, .exe = "/bin/game", .username = "ana",
                      .realname = "", .computer = "box", .distro = "", .cpu_brand = "",
                      .tsc_frequency = 1000000000, .start_time_ns = 0,
                      .properties_json = "{}", .content_hash = 1};
    CHECK_OK(meta_process_insert(f->m, &p, NULL, &e));
    for (int i = 0; i < nstreams; i++) {
        uuid_v4(&f->streams[i]);
        uuid_format(&f->streams[i], f->stream_str[i]);
        char props[64];
        snprintf(props, sizeof props, "{\"thread-id\":\"%d\",\"thread-name\":\"t%d\"}", i + 1, i);
        meta_stream s = {.stream_id = f->streams[i], .process_id = f->process_id,
                         .tags_json = i == 7 ? "[\"log\"]" : "[\"cpu\"]",
                         .properties_json = props, .content_hash = 2};
        CHECK_OK(meta_stream_insert(f->m, &s, NULL, &e));
    }
    fx_open_lake(f, max_events);
}

static void fx_free(fixture *f)
{
    lake_close(f->l);
    objstore_close(f->os);
    meta_close(f->m);
    test_rmtree(f->dir);
}

/* Stores one block as ingestion would: payload object, then metadata row. */
static void store_block(fixture *f, int s, wire_pb *pb, uint64_t *block_hash)
{
    sl_uuid bid;
    uuid_v4(&bid);
    dbuf out;
    dbuf_init(&out, 16 << 20);
    CHECK_OK(wire_pb_finish(pb, WIRE_CODEC_ZSTD, &bid, &f->streams[s], &f->process_id,
                            wire_pb_min_ticks(pb), wire_pb_max_ticks(pb), &out));
    char key[200], bs[UUID_STR_LEN];
    uuid_format(&bid, bs);
    snprintf(key, sizeof key, "blobs/%s/%s/%s", f->process_str, f->stream_str[s], bs);
    errmsg e;
    CHECK_OK(objstore_put(f->os, key, out.p, out.len, OBJSTORE_PUT_ONCE, &e));
    meta_block mb = {.block_id = bid, .stream_id = f->streams[s], .process_id = f->process_id,
                     .begin_ticks = wire_pb_min_ticks(pb), .end_ticks = wire_pb_max_ticks(pb),
                     .nb_objects = wire_pb_count(pb), .object_offset = f->offset[s],
                     .payload_size = out.len, .content_hash = block_hash ? *block_hash : 3};
    CHECK_OK(meta_block_insert(f->m, &mb, NULL, &e));
    f->offset[s] += wire_pb_count(pb);
    lake_notify_block(f->l, &f->streams[s]);
    wire_pb_reset(pb);
    dbuf_free(&out);
    /* Distinct insert times: the store stamps them with the wall clock. */
    struct timespec ts = {0, 100000};
    nanosleep(&ts, NULL);
}

/* n spans per block on stream s: a root "frame" holding n-1 children "work". */
static void frames(fixture *f, int s, int blocks, int n)
{
    wire_pb *pb;
    CHECK_OK(wire_pb_new(1 << 22, &pb));
    for (int b = 0; b < blocks; b++) {
        uint32_t df, dw;
        CHECK_OK(wire_pb_desc(pb, 1, WIRE_DESC_SPAN, 0, "frame", "game", "g.c", 1, NULL, &df));
        CHECK_OK(wire_pb_desc(pb, 2, WIRE_DESC_SPAN, 0, "work", "game", "g.c", 2, NULL, &dw));
        wire_event ev = {.type = WIRE_EV_SPAN_BEGIN, .desc = df, .ticks = f->tick[s] += 10};
        CHECK_OK(wire_pb_event(pb, &ev));
        for (int i = 1; i < n; i++) {
            ev = (wire_event){.type = WIRE_EV_SPAN_BEGIN, .desc = dw, .ticks = f->tick[s] += 10};
            CHECK_OK(wire_pb_event(pb, &ev));
            ev.type = WIRE_EV_SPAN_END;
            ev.ticks = f->tick[s] += 10;
            CHECK_OK(wire_pb_event(pb, &ev));
        }
        ev = (wire_event){.type = WIRE_EV_SPAN_END, .desc = df, .ticks = f->tick[s] += 10};
        CHECK_OK(wire_pb_event(pb, &ev));
        store_block(f, s, pb, NULL);
    }
    wire_pb_free(pb);
}

static int g_defer_scans; /* scan_all asks for deferred commits (lake_scan_opts) */

typedef struct scanned {
    int64_t rows;
    int64_t last_begin;
    int sorted;
    int64_t ids_sum;
} scanned;

static scanned scan_all(fixture *f, lake_view_id v, const char *instance, int64_t begin,
                        int64_t end, lake_mat_stats *st)
{
    lake_scan_opts o;
    lake_scan_opts_init(&o);
    o.begin_ns = begin;
    o.end_ns = end;
    o.batch_rows = 1000;
    o.defer_commit = g_defer_scans;
    lake_scan *sc;
    errmsg e;
    errmsg_clear(&e);
    if (lake_scan_open(f->l, v, instance, &o, st, &sc, &e))
        TEST_FAIL("scan: %s", e.text);
    scanned r = {0, INT64_MIN, 1, 0};
    col_batch *b;
    int key = v == LAKE_THREAD_SPANS ? TS_BEGIN : AE_TIME;
    for (;;) {
        if (lake_scan_next(sc, &b, &e))
            TEST_FAIL("next: %s", e.text);
        if (!b)
            break;
        CHECK_OK(col_batch_validate(b));
        for (int64_t i = 0; i < b->nrows; i++) {
            int64_t k = col_vec_i64(&b->cols[key], i);
            if (k < r.last_begin)
                r.sorted = 0;
            r.last_begin = k;
            if (v == LAKE_THREAD_SPANS)
                r.ids_sum += col_vec_i64(&b->cols[TS_ID], i);
        }
        r.rows += b->nrows;
        col_batch_release(b);
    }
    lake_scan_close(sc);
    return r;
}

TEST(built_once_then_reused)
{
    fixture f;
    fx_init(&f, 1, 0);
    frames(&f, 0, 4, 50); /* 4 blocks x 50 spans */
    lake_mat_stats st = {0};
    scanned r = scan_all(&f, LAKE_THREAD_SPANS, f.stream_str[0], INT64_MIN, INT64_MAX, &st);
    CHECK_EQ(r.rows, 200);
    CHECK(r.sorted);
    CHECK_EQ(st.built, 1);
    CHECK_EQ(lake_builds_total(f.l), 1);
    memset(&st, 0, sizeof st);
    r = scan_all(&f, LAKE_THREAD_SPANS, f.stream_str[0], INT64_MIN, INT64_MAX, &st);
    CHECK_EQ(r.rows, 200);
    CHECK_EQ(st.built, 0);
    CHECK_EQ(lake_builds_total(f.l), 1);
    /* The partition survives a restart of the lake: nothing is rebuilt. */
    lake_close(f.l);
    fx_open_lake(&f, 0);
    memset(&st, 0, sizeof st);
    r = scan_all(&f, LAKE_THREAD_SPANS, f.stream_str[0], INT64_MIN, INT64_MAX, &st);
    CHECK_EQ(r.rows, 200);
    CHECK_EQ(st.built, 0);
    fx_free(&f);
}

TEST(new_blocks_make_the_newest_partition_stale)
{
    fixture f;
    fx_init(&f, 1, 0);
    frames(&f, 0, 2, 10);
    lake_mat_stats st = {0};
    CHECK_EQ(scan_all(&f, LAKE_THREAD_SPANS, f.stream_str[0], INT64_MIN, INT64_MAX, &st).rows,
             20);
    frames(&f, 0, 1, 10);
    memset(&st, 0, sizeof st);
    CHECK_EQ(scan_all(&f, LAKE_THREAD_SPANS, f.stream_str[0], INT64_MIN, INT64_MAX, &st).rows,
             30);
    CHECK_EQ(st.built, 1);
    CHECK_EQ(st.partitions, 1); /* the same partition, rebuilt with the new block */
    fx_free(&f);
}

static int count_key(void *arg, const char *key, const objstore_stat *st)
{
    (void)key;
    (void)st;
    (*(int *)arg)++;
    return 0;
}

TEST(retired_and_orphan_files_are_removed)
{
    fixture f;
    fx_init(&f, 1, 0);
    frames(&f, 0, 1, 10);
    lake_mat_stats st = {0};
    scan_all(&f, LAKE_THREAD_SPANS, f.stream_str[0], INT64_MIN, INT64_MAX, &st);
    frames(&f, 0, 1, 10);
    scan_all(&f, LAKE_THREAD_SPANS, f.stream_str[0], INT64_MIN, INT64_MAX, &st);
    errmsg e;
    int n = 0;
    CHECK_OK(objstore_list(f.os, "views/", count_key, &n, &e));
    CHECK_EQ(n, 2); /* the current file and the retired one */
    /* A file that no row references, as a crash between file and row leaves. */
    CHECK_OK(objstore_put(f.os, "views/thread_spans/x/stray.parquet", "PAR1", 4,
                          OBJSTORE_PUT_ONCE, &e));
    lake_close(f.l);
    lake_opts o = {0};
    o.retire_grace_ns = -1;
    CHECK_OK(lake_open(f.m, f.os, &o, &f.l, &e)); /* startup cleanup */
    n = 0;
    CHECK_OK(objstore_list(f.os, "views/", count_key, &n, &e));
    CHECK_EQ(n, 1);
    memset(&st, 0, sizeof st);
    CHECK_EQ(scan_all(&f, LAKE_THREAD_SPANS, f.stream_str[0], INT64_MIN, INT64_MAX, &st).rows,
             20);
    CHECK_EQ(st.built, 0);
    fx_free(&f);
}

TEST(spans_across_partitions_come_back_once_in_order)
{
    fixture f;
    fx_init(&f, 1, 150); /* a new partition every 150 events */
    /* One long root span over everything, with many short ones inside. */
    wire_pb *pb;
    CHECK_OK(wire_pb_new(1 << 20, &pb));
    int64_t t = 0, idx = 0, want = 0; /* idx: the stream-wide index of each event */
    int spans = 1;
    uint32_t dr, dw;
    CHECK_OK(wire_pb_desc(pb, 1, WIRE_DESC_SPAN, 0, "root", "g", "g.c", 1, NULL, &dr));
    wire_event ev = {.type = WIRE_EV_SPAN_BEGIN, .desc = dr, .ticks = t += 5};
    CHECK_OK(wire_pb_event(pb, &ev));
    idx++;
    for (int b = 0; b < 10; b++) {
        CHECK_OK(wire_pb_desc(pb, 2, WIRE_DESC_SPAN, 0, "w", "g", "g.c", 2, NULL, &dw));
        for (int i = 0; i < 40; i++, spans++) {
            ev = (wire_event){.type = WIRE_EV_SPAN_BEGIN, .desc = dw, .ticks = t += 5};
            CHECK_OK(wire_pb_event(pb, &ev));
            want += idx;
            ev.type = WIRE_EV_SPAN_END;
            ev.ticks = t += 5;
            CHECK_OK(wire_pb_event(pb, &ev));
            idx += 2;
        }
        store_block(&f, 0, pb, NULL);
    }
    CHECK_OK(wire_pb_desc(pb, 1, WIRE_DESC_SPAN, 0, "root", "g", "g.c", 1, NULL, &dr));
    ev = (wire_event){.type = WIRE_EV_SPAN_END, .desc = dr, .ticks = t += 5};
    CHECK_OK(wire_pb_event(pb, &ev));
    store_block(&f, 0, pb, NULL);
    wire_pb_free(pb);
    lake_mat_stats st = {0};
    scanned r = scan_all(&f, LAKE_THREAD_SPANS, f.stream_str[0], INT64_MIN, INT64_MAX, &st);
    CHECK(st.partitions >= 4);
    CHECK_EQ(r.rows, spans);
    CHECK(r.sorted);
    /* ids are begin events' indexes (the root's is 0): each span appears exactly once. */
    CHECK_EQ(r.ids_sum, want);
    /* A time range in the middle: the root (which overlaps everything) and the spans inside. */
    r = scan_all(&f, LAKE_THREAD_SPANS, f.stream_str[0], 2000, 2100, &st);
    CHECK_EQ(r.rows, 1 + 10);
    fx_free(&f);
}

/* Stores a block where "main" begins at 10 and stays open, "step" runs 20..30. */
static void store_main_open_step(fixture *f, wire_pb *pb)
{
    uint32_t d;
    CHECK_OK(wire_pb_desc(pb, 1, WIRE_DESC_SPAN, 0, "main", "g", "g.c", 1, NULL, &d));
    wire_event ev = {.type = WIRE_EV_SPAN_BEGIN, .desc = d, .ticks = 10};
    CHECK_OK(wire_pb_event(pb, &ev));
    CHECK_OK(wire_pb_desc(pb, 2, WIRE_DESC_SPAN, 0, "step", "g", "g.c", 2, NULL, &d));
    ev = (wire_event){.type = WIRE_EV_SPAN_BEGIN, .desc = d, .ticks = 20};
    CHECK_OK(wire_pb_event(pb, &ev));
    ev.type = WIRE_EV_SPAN_END;
    ev.ticks = 30;
    CHECK_OK(wire_pb_event(pb, &ev));
    store_block(f, 0, pb, NULL);
}

TEST(open_spans_are_read_until_they_end)
{
    fixture f;
    fx_init(&f, 1, 0);
    wire_pb *pb;
    CHECK_OK(wire_pb_new(1 << 20, &pb));
    store_main_open_step(&f, pb);
    lake_mat_stats st = {0};
    scanned r = scan_all(&f, LAKE_THREAD_SPANS, f.stream_str[0], INT64_MIN, INT64_MAX, &st);
    CHECK_EQ(r.rows, 2); /* "main" is open: it ends at the last known time */
    /* Now it ends: still one row. */
    uint32_t d;
    CHECK_OK(wire_pb_desc(pb, 1, WIRE_DESC_SPAN, 0, "main", "g", "g.c", 1, NULL, &d));
    wire_event ev = {.type = WIRE_EV_SPAN_END, .desc = d, .ticks = 90};
    CHECK_OK(wire_pb_event(pb, &ev));
    store_block(&f, 0, pb, NULL);
    r = scan_all(&f, LAKE_THREAD_SPANS, f.stream_str[0], INT64_MIN, INT64_MAX, &st);
    CHECK_EQ(r.rows, 2);
    wire_pb_free(pb);
    fx_free(&f);
}

/* Opens a scan of (v, instance) reading the columns cols[0..n); returns the code. */
static int open_projected(fixture *f, lake_view_id v, const char *instance,
                          const char *const *cols, int n, lake_scan **sc, errmsg *e)
{
    lake_scan_opts o;
    lake_scan_opts_init(&o);
    o.columns = cols;
    o.ncolumns = n;
    errmsg_clear(e);
    return lake_scan_open(f->l, v, instance, &o, NULL, sc, e);
}

TEST(projection_reads_only_the_asked_columns)
{
    fixture f;
    fx_init(&f, 1, 0);
    wire_pb *pb;
    CHECK_OK(wire_pb_new(1 << 20, &pb));
    store_main_open_step(&f, pb); /* "main" stays open: it comes from the in-memory source */
    wire_pb_free(pb);
    static const char *const cols[] = {"name", "end", "begin"};
    lake_scan *sc;
    errmsg e;
    CHECK_OK(open_projected(&f, LAKE_THREAD_SPANS, f.stream_str[0], cols, 3, &sc, &e));
    int64_t rows = 0;
    const char *want[] = {"main", "step"};
    for (;;) {
        col_batch *b;
        CHECK_OK(lake_scan_next(sc, &b, &e));
        if (!b)
            break;
        CHECK_OK(col_batch_validate(b));
        CHECK_EQ(b->ncols, 3);
        CHECK_STR(b->schema->fields[0].name, "name");
        CHECK_STR(b->schema->fields[2].name, "begin");
        for (int64_t i = 0; i < b->nrows; i++, rows++) {
            size_t l;
            const uint8_t *p = col_vec_str(&b->cols[0], i, &l);
            CHECK(rows < 2 && l == strlen(want[rows]) && !memcmp(p, want[rows], l));
            CHECK(col_vec_i64(&b->cols[2], i) < col_vec_i64(&b->cols[1], i));
        }
        col_batch_release(b);
    }
    CHECK_EQ(rows, 2);
    lake_scan_close(sc);
    /* Metadata views take a projection too. */
    static const char *const pcols[] = {"start_time", "exe"};
    CHECK_OK(open_projected(&f, LAKE_PROCESSES, "global", pcols, 2, &sc, &e));
    col_batch *b;
    CHECK_OK(lake_scan_next(sc, &b, &e));
    CHECK(b != NULL && b->ncols == 2 && b->nrows == 1);
    col_batch_release(b);
    lake_scan_close(sc);
    /* The sort key must be there; unknown columns are refused by name. */
    static const char *const no_key[] = {"name", "end"};
    CHECK_EQ(open_projected(&f, LAKE_THREAD_SPANS, f.stream_str[0], no_key, 2, &sc, &e),
             SL_EINVAL);
    CHECK(strstr(e.text, "must include 'begin'") != NULL);
    static const char *const bad[] = {"begin", "end", "colour"};
    CHECK_EQ(open_projected(&f, LAKE_THREAD_SPANS, f.stream_str[0], bad, 3, &sc, &e), SL_EINVAL);
    CHECK(strstr(e.text, "no column 'colour'") != NULL);
    fx_free(&f);
}

typedef struct conc {
    fixture *f;
    int which;
    int64_t rows;
} conc;

static void *scanner(void *arg)
{
    conc *c = arg;
    lake_mat_stats st = {0};
    c->rows = scan_all(c->f, LAKE_THREAD_SPANS, c->f->stream_str[c->which % 4], INT64_MIN,
                       INT64_MAX, &st).rows;
    return NULL;
}

TEST(concurrent_requests_build_each_partition_once)
{
    fixture f;
    fx_init(&f, 4, 0);
    for (int s = 0; s < 4; s++)
        frames(&f, s, 3, 100 + s);
    pthread_t th[16];
    conc c[16];
    for (int i = 0; i < 16; i++) {
        c[i] = (conc){&f, i, 0};
        pthread_create(&th[i], NULL, scanner, &c[i]);
    }
    for (int i = 0; i < 16; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 16; i++)
        CHECK_EQ(c[i].rows, 3 * (100 + i % 4));
    CHECK_EQ(lake_builds_total(f.l), 4); /* one partition per stream, each built once */
    fx_free(&f);
}

TEST(materialize_a_whole_process_in_parallel)
{
    fixture f;
    fx_init(&f, 4, 0);
    for (int s = 0; s < 4; s++)
        frames(&f, s, 2, 30);
    lake_mat_stats st = {0};
    errmsg e;
    CHECK_OK(lake_materialize_process(f.l, &f.process_id, 0, &st, NULL, NULL, &e));
    /* 4 thread_spans partitions and async_events over the same cpu blocks (no rows);
     * the log and metrics views have no blocks at all. */
    CHECK_EQ(st.built, 5);
    memset(&st, 0, sizeof st);
    CHECK_OK(lake_materialize_process(f.l, &f.process_id, 0, &st, NULL, NULL, &e));
    CHECK_EQ(st.built, 0);
    fx_free(&f);
}

static int first_key(void *arg, const char *key, const objstore_stat *st)
{
    (void)st;
    snprintf(arg, 256, "%s", key);
    return 1; /* stop */
}

TEST(damaged_payload_is_an_error_not_a_crash)
{
    fixture f;
    fx_init(&f, 1, 0);
    frames(&f, 0, 2, 10);
    /* Damage one stored payload behind the store's back, as a bad disk would. */
    char key[256] = "", path[600];
    errmsg e;
    errmsg_clear(&e);
    objstore_list(f.os, "blobs/", first_key, key, &e);
    CHECK(key[0] != 0);
    snprintf(path, sizeof path, "%s/%s", f.dir, key);
    FILE *fp = fopen(path, "r+b");
    CHECK(fp != NULL);
    fseek(fp, -3, SEEK_END);
    fputc('X', fp);
    fclose(fp);
    lake_scan_opts o;
    lake_scan_opts_init(&o);
    lake_scan *sc;
    int rc = lake_scan_open(f.l, LAKE_THREAD_SPANS, f.stream_str[0], &o, NULL, &sc, &e);
    CHECK_EQ(rc, SL_ECORRUPT);
    CHECK(strstr(e.text, "hash") != NULL);
    CHECK_EQ(lake_builds_total(f.l), 0); /* nothing recorded */
    int n = 0;
    CHECK_OK(objstore_list(f.os, "views/", count_key, &n, &e));
    CHECK_EQ(n, 0);
    /* Unknown instances and bad ids are refused clearly. */
    CHECK_EQ(lake_scan_open(f.l, LAKE_THREAD_SPANS, "not-an-id", &o, NULL, &sc, &e), SL_EINVAL);
    sl_uuid other;
    uuid_v4(&other);
    char os_[UUID_STR_LEN];
    uuid_format(&other, os_);
    CHECK_EQ(lake_scan_open(f.l, LAKE_THREAD_SPANS, os_, &o, NULL, &sc, &e), SL_ENOTFOUND);
    CHECK_EQ(lake_scan_open(f.l, LAKE_ASYNC_EVENTS, os_, &o, NULL, &sc, &e), SL_ENOTFOUND);
    /* A metadata view refuses what is neither "global" nor an id (the scan is freed once). */
    CHECK_EQ(lake_scan_open(f.l, LAKE_STREAMS, "nobody", &o, NULL, &sc, &e), SL_EINVAL);
    fx_free(&f);
}

/*
 * A store that cannot map (as S3): the local store behind it, with map taken away
 * and whole and ranged reads counted.  The lake then reads partition files in
 * ranges: the footer, then the column chunks a scan asks for.
 */
typedef struct nomap_store {
    objstore base;
    objstore *in;
    _Atomic int gets, ranges;
    _Atomic uint64_t range_bytes;
    int slow_gets;                  /* a store across a network: every GET takes 2 ms */
    bool await_overlap;             /* ... and, until two GETs were in flight at once, a
                                       GET waits (up to 5 s) for a second one: whether
                                       GETs overlap does not depend on the scheduler */
    _Atomic int in_flight, in_flight_max;
    _Atomic int hold_puts, puts;    /* puts wait while hold_puts is set; puts done */
} nomap_store;

static int nm_put(objstore *os, const char *k, const void *d, size_t n, int mode, errmsg *e)
{
    nomap_store *nm = (nomap_store *)os;
    while (atomic_load(&nm->hold_puts)) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    atomic_fetch_add(&nm->puts, 1);
    return objstore_put(nm->in, k, d, n, mode, e);
}
static int nm_get(objstore *os, const char *k, dbuf *out, errmsg *e)
{
    nomap_store *nm = (nomap_store *)os;
    atomic_fetch_add(&nm->gets, 1);
    int now = atomic_fetch_add(&nm->in_flight, 1) + 1;
    int top = atomic_load(&nm->in_flight_max);
    while (now > top && !atomic_compare_exchange_weak(&nm->in_flight_max, &top, now))
        ;
    if (nm->slow_gets) {
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
        for (int i = 0; nm->await_overlap && i < 5000 && atomic_load(&nm->in_flight_max) < 2;
             i++) {
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
        }
    }
    int rc = objstore_get(nm->in, k, out, e);
    atomic_fetch_sub(&nm->in_flight, 1);
    return rc;
}
static int nm_range(objstore *os, const char *k, uint64_t off, size_t n, dbuf *out, errmsg *e)
{
    atomic_fetch_add(&((nomap_store *)os)->ranges, 1);
    atomic_fetch_add(&((nomap_store *)os)->range_bytes, n);
    return objstore_get_range(((nomap_store *)os)->in, k, off, n, out, e);
}
static int nm_stat(objstore *os, const char *k, objstore_stat *st, errmsg *e)
{
    return objstore_stat_get(((nomap_store *)os)->in, k, st, e);
}
static int nm_del(objstore *os, const char *k, errmsg *e)
{
    return objstore_delete(((nomap_store *)os)->in, k, e);
}
static int nm_list(objstore *os, const char *p, objstore_list_fn fn, void *arg, errmsg *e)
{
    return objstore_list(((nomap_store *)os)->in, p, fn, arg, e);
}
static void nm_close(objstore *os)
{
    (void)os;
}
static const objstore_ops g_nomap_ops = {nm_put, nm_get, nm_range, nm_stat, nm_del, nm_list,
                                         nm_close, NULL, NULL, NULL, 4};

typedef struct sized {
    uint64_t bytes;
} sized;

static int add_size(void *arg, const char *key, const objstore_stat *st)
{
    (void)key;
    ((sized *)arg)->bytes += st->size_bytes;
    return 0;
}

TEST(unmappable_store_reads_footers_and_chunks_by_range)
{
    fixture f;
    fx_init(&f, 1, 0);
    frames(&f, 0, 8, 20000); /* 160000 spans: a file well past the 64 KiB first read */
    lake_mat_stats st = {0};
    scanned want = scan_all(&f, LAKE_THREAD_SPANS, f.stream_str[0], INT64_MIN, INT64_MAX, &st);
    CHECK_EQ(want.rows, 160000);
    errmsg e;
    sized files = {0};
    CHECK_OK(objstore_list(f.os, "views/thread_spans/", add_size, &files, &e));
    if (files.bytes <= 2 * 65536)
        TEST_FAIL("partition files of %llu bytes", (unsigned long long)files.bytes);
    /* A second lake on the same metadata, over the unmappable store: partitions are
     * current, so nothing is built and no payload is read. */
    nomap_store nm = {.base = {&g_nomap_ops}, .in = f.os};
    lake *mapped = f.l;
    f.os = &nm.base;
    fx_open_lake(&f, 0);
    static const char *const cols[] = {"begin", "end", "depth"};
    lake_scan *sc;
    CHECK_OK(open_projected(&f, LAKE_THREAD_SPANS, f.stream_str[0], cols, 3, &sc, &e));
    int64_t rows = 0, depth_sum = 0;
    for (;;) {
        col_batch *b;
        CHECK_OK(lake_scan_next(sc, &b, &e));
        if (!b)
            break;
        for (int64_t i = 0; i < b->nrows; i++)
            depth_sum += (uint32_t)col_vec_i32(&b->cols[2], i);
        rows += b->nrows;
        col_batch_release(b);
    }
    lake_scan_close(sc);
    CHECK_EQ(rows, 160000);
    CHECK_EQ(depth_sum, 160000 - 8); /* every "work" span is at depth 1 */
    CHECK_EQ(atomic_load(&nm.gets), 0);
    CHECK(atomic_load(&nm.ranges) >= 2);
    CHECK(atomic_load(&nm.range_bytes) < files.bytes); /* three of eleven columns */
    /* Every column, from the same cached images: the rest is fetched, rows match. */
    scanned all = scan_all(&f, LAKE_THREAD_SPANS, f.stream_str[0], INT64_MIN, INT64_MAX, &st);
    CHECK_EQ(all.rows, want.rows);
    CHECK_EQ(all.ids_sum, want.ids_sum);
    CHECK(all.sorted);
    lake_close(f.l);
    f.l = mapped;
    f.os = nm.in;
    fx_free(&f);
}

/*
 * A cold build over a store that cannot map: the payloads of a partition are read
 * with several GETs in flight (objstore_get_many), and the files the build wrote
 * are read back from the file cache, not with ranged GETs of what was just put.
 */
TEST(cold_build_over_unmappable_store_overlaps_gets_and_reads_no_range)
{
    fixture f;
    fx_init(&f, 1, 0);
    frames(&f, 0, 16, 2000); /* 16 blocks of one stream: one partition */
    nomap_store nm = {.base = {&g_nomap_ops}, .in = f.os, .slow_gets = 1,
                      .await_overlap = true};
    lake *mapped = f.l;
    f.os = &nm.base;
    fx_open_lake(&f, 0);
    lake_mat_stats st = {0};
    scanned got = scan_all(&f, LAKE_THREAD_SPANS, f.stream_str[0], INT64_MIN, INT64_MAX, &st);
    CHECK_EQ(got.rows, 16 * 2000);
    CHECK(got.sorted);
    CHECK_EQ(atomic_load(&nm.gets), 16);        /* each payload once */
    CHECK(atomic_load(&nm.in_flight_max) > 1);  /* ... and not one after another */
    CHECK(atomic_load(&nm.in_flight_max) <= 4); /* ... within the store's bound */
    CHECK_EQ(atomic_load(&nm.ranges), 0);       /* the new file came from the cache */
    lake_close(f.l);
    f.l = mapped;
    f.os = nm.in;
    fx_free(&f);
}

/*
 * Builds of one request over a store that cannot map share their payloads: a
 * process's async_events partition reads every thread block that its threads'
 * thread_spans partitions read too, and with the builds running at once each
 * payload is still read once (from the payload cache, or by waiting for the
 * GET another build has in flight).  Over the mapped store each is read twice.
 */
TEST(builds_over_unmappable_store_read_each_payload_once)
{
    fixture f;
    fx_init(&f, 3, 0);
    for (int s = 0; s < 3; s++)
        frames(&f, s, 6, 500);
    nomap_store nm = {.base = {&g_nomap_ops}, .in = f.os, .slow_gets = 1};
    lake *mapped = f.l;
    f.os = &nm.base;
    fx_open_lake(&f, 0);
    lake_mat_stats st = {0};
    errmsg e;
    CHECK_OK(lake_materialize_process(f.l, &f.process_id, 2, &st, NULL, NULL, &e));
    CHECK_EQ(st.failed, 0);
    CHECK(st.built >= 4);                /* 3 thread_spans and async_events */
    CHECK_EQ(atomic_load(&nm.gets), 18); /* 3 streams x 6 blocks, each read once */
    for (int s = 0; s < 3; s++) {
        scanned got = scan_all(&f, LAKE_THREAD_SPANS, f.stream_str[s], INT64_MIN, INT64_MAX,
                               &st);
        CHECK_EQ(got.rows, 6 * 500);
        CHECK(got.sorted);
    }
    CHECK_EQ(atomic_load(&nm.gets), 18);
    lake_close(f.l);
    f.l = mapped;
    f.os = nm.in;
    fx_free(&f);
}

typedef struct failures {
    const char *victim;
    int n, named;
} failures;

static void count_failure(void *arg, const sl_uuid *process_id, const char *view,
                          const char *instance, int rc, const char *msg)
{
    (void)process_id;
    (void)view;
    (void)instance;
    failures *fl = arg;
    fl->n++;
    fl->named += rc == SL_ENOTFOUND && strstr(msg, fl->victim) != NULL;
}

static int drop_one_payload(void *arg, const char *key, const objstore_stat *st)
{
    (void)st;
    snprintf(arg, OBJSTORE_MAX_KEY, "%s", key);
    return 1; /* the first listed is enough */
}

/*
 * A payload missing from the store fails every build that needs it, with its
 * key, whichever build was reading it and whichever waited: no build hangs on a
 * read that failed, and a later request reads the key again.
 */
TEST(a_missing_payload_fails_every_build_that_needs_it)
{
    fixture f;
    fx_init(&f, 2, 0);
    for (int s = 0; s < 2; s++)
        frames(&f, s, 4, 200);
    char victim[OBJSTORE_MAX_KEY + 1] = "";
    errmsg e;
    char prefix[200];
    snprintf(prefix, sizeof prefix, "blobs/%s/%s/", f.process_str, f.stream_str[0]);
    CHECK_EQ(objstore_list(f.os, prefix, drop_one_payload, victim, &e), 1);
    CHECK_OK(objstore_delete(f.os, victim, &e));
    nomap_store nm = {.base = {&g_nomap_ops}, .in = f.os, .slow_gets = 1};
    lake *mapped = f.l;
    f.os = &nm.base;
    fx_open_lake(&f, 0);
    for (int round = 0; round < 2; round++) {
        lake_mat_stats st = {0};
        failures fl = {.victim = victim};
        CHECK_OK(lake_materialize_process(f.l, &f.process_id, 2, &st, count_failure, &fl, &e));
        /* stream 0's thread_spans and the process's async_events need it */
        CHECK_EQ(fl.n, 2);
        CHECK_EQ(fl.named, 2);
        CHECK_EQ(st.failed, 2);
        /* stream 1's thread_spans does not */
        CHECK_OK(lake_materialize(f.l, LAKE_THREAD_SPANS, f.stream_str[1], &st, &e));
    }
    lake_close(f.l);
    f.l = mapped;
    f.os = nm.in;
    fx_free(&f);
}

/*
 * objstore_get_many over a store with GETs in flight: every buffer holds its own
 * key's object, and with keys missing the error is the first missing one's in key
 * order (whichever GET failed first in time).
 */
TEST(get_many_keeps_key_order_and_reports_the_first_missing_key)
{
    fixture f;
    fx_init(&f, 1, 0);
    nomap_store nm = {.base = {&g_nomap_ops}, .in = f.os, .slow_gets = 1,
                      .await_overlap = true};
    enum { N = 12 };
    char names[N][16];
    const char *keys[N];
    dbuf outs[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "many/k%02d", i);
        keys[i] = names[i];
        dbuf_init(&outs[i], 1 << 20);
        errmsg e = {0};
        if (i != 5 && i != 9) /* two keys missing */
            CHECK_OK(objstore_put(f.os, names[i], names[i], strlen(names[i]),
                                  OBJSTORE_PUT_ONCE, &e));
    }
    errmsg e = {0};
    CHECK_EQ(objstore_get_many(&nm.base, keys, 5, outs, &e), SL_OK);
    for (int i = 0; i < 5; i++)
        CHECK(outs[i].len == strlen(names[i]) && !memcmp(outs[i].p, names[i], outs[i].len));
    CHECK(atomic_load(&nm.in_flight_max) > 1);
    CHECK_EQ(objstore_get_many(&nm.base, keys, N, outs, &e), SL_ENOTFOUND);
    CHECK(strstr(e.text, "many/k05") != NULL);
    CHECK(strstr(e.text, "many/k09") == NULL);
    for (int i = 0; i < N; i++)
        dbuf_free(&outs[i]);
    fx_free(&f);
}

#include "lake/cache.h"

static void free_int(void *v) { free(v); }

/*
 * A value loaded before a removal must not be kept: the removal announces a change
 * the loader may not have seen, and a later lookup would read the old value (a scan
 * of a partition just built found no rows this way).
 */
TEST(cache_keeps_no_value_loaded_before_a_removal)
{
    lcache c;
    CHECK_OK(lcache_init(&c, "t", 16, 1 << 20, free_int));
    uint64_t ep = lcache_epoch(&c);  /* a loader starts reading */
    lcache_remove(&c, "k");          /* another thread commits a change and removes k */
    int *v = malloc(sizeof *v);
    *v = 1;
    lcache_entry *en = lcache_put(&c, "k", v, sizeof *v, ep);
    CHECK(en != NULL);
    CHECK_EQ(*(int *)en->val, 1);    /* the loader still gets its value */
    lcache_release(&c, en);
    CHECK(lcache_get(&c, "k") == NULL); /* but nobody else does */
    /* A load that saw no removal is kept. */
    ep = lcache_epoch(&c);
    v = malloc(sizeof *v);
    *v = 2;
    lcache_release(&c, lcache_put(&c, "k", v, sizeof *v, ep));
    en = lcache_get(&c, "k");
    CHECK(en != NULL);
    CHECK_EQ(*(int *)en->val, 2);
    lcache_release(&c, en);
    lcache_destroy(&c);
}

static int count_row(void *arg, const meta_partition *p)
{
    (void)p;
    (*(int *)arg)++;
    return 0;
}

static int partition_rows(fixture *f, const char *instance)
{
    int n = 0;
    errmsg e;
    CHECK_OK(meta_partitions_list(f->m, "thread_spans", instance, count_row, &n, &e));
    return n;
}

/*
 * A scan that asks for deferred commits over a store that cannot map reads the
 * partitions it built at once, from memory, while their puts cannot proceed: no
 * row exists before its file; another scan meanwhile sees the pending partitions
 * as current and builds nothing; closing the lake waits for the commits, after
 * which the rows and files are there and nothing is built again.
 */
TEST(deferred_commits_are_read_at_once_and_committed_after_their_files)
{
    fixture f;
    fx_init(&f, 1, 0);
    frames(&f, 0, 6, 2000); /* 6 blocks of 4000 events: 3 partitions of 8000 */
    nomap_store nm = {.base = {&g_nomap_ops}, .in = f.os};
    atomic_store(&nm.hold_puts, 1);
    lake *mapped = f.l;
    f.os = &nm.base;
    fx_open_lake(&f, 8000);
    lake_mat_stats st = {0};
    g_defer_scans = 1;
    scanned a = scan_all(&f, LAKE_THREAD_SPANS, f.stream_str[0], INT64_MIN, INT64_MAX, &st);
    g_defer_scans = 0;
    CHECK_EQ(a.rows, 12000);
    CHECK(a.sorted);
    CHECK_EQ(st.built, 3);
    CHECK_EQ(atomic_load(&nm.puts), 0);
    CHECK_EQ(partition_rows(&f, f.stream_str[0]), 0); /* the row waits for its file */
    lake_mat_stats st2 = {0};
    scanned b = scan_all(&f, LAKE_THREAD_SPANS, f.stream_str[0], INT64_MIN, INT64_MAX, &st2);
    CHECK_EQ(st2.built, 0); /* the pending partitions are current */
    CHECK_EQ(b.rows, a.rows);
    CHECK_EQ(b.ids_sum, a.ids_sum);
    atomic_store(&nm.hold_puts, 0);
    lake_close(f.l); /* waits for the commits */
    CHECK_EQ(atomic_load(&nm.puts), 3);
    CHECK_EQ(partition_rows(&f, f.stream_str[0]), 3);
    fx_open_lake(&f, 8000);
    lake_mat_stats st3 = {0};
    scanned c = scan_all(&f, LAKE_THREAD_SPANS, f.stream_str[0], INT64_MIN, INT64_MAX, &st3);
    CHECK_EQ(st3.built, 0);
    CHECK_EQ(c.rows, a.rows);
    CHECK_EQ(c.ids_sum, a.ids_sum);
    lake_close(f.l);
    f.l = mapped;
    f.os = nm.in;
    fx_free(&f);
}

/* A lake of 3 partitions over a store that cannot map reads, built by a scan with
 * deferred commits while a trace holds them (f->l the new lake; *mapped the
 * fixture's own). */
static void held_builds(fixture *f, nomap_store *nm, lake **mapped)
{
    fx_init(f, 1, 0);
    frames(f, 0, 6, 2000);
    *nm = (nomap_store){.base = {&g_nomap_ops}, .in = f->os};
    *mapped = f->l;
    f->os = &nm->base;
    fx_open_lake(f, 8000);
    lake_commit_hold(f->l, 1); /* a trace starts */
    lake_mat_stats st = {0};
    g_defer_scans = 1;
    scanned a = scan_all(f, LAKE_THREAD_SPANS, f->stream_str[0], INT64_MIN, INT64_MAX, &st);
    g_defer_scans = 0;
    CHECK_EQ(st.built, 3);
    CHECK_EQ(a.rows, 12000);
}

/*
 * Retention retires the partitions built from the blocks it deletes, also those
 * whose deferred commit was still pending (held by a trace): the row goes in
 * before the retirement, not after it, so no current partition is left over
 * deleted blocks.
 */
TEST(retention_retires_partitions_whose_commit_was_pending)
{
    fixture f;
    nomap_store nm;
    lake *mapped;
    held_builds(&f, &nm, &mapped);
    CHECK_EQ(partition_rows(&f, f.stream_str[0]), 0); /* pending */
    lake_retention_report r = {0};
    errmsg e;
    CHECK_OK(lake_retention(f.l, INT64_MAX, 100, 100, &r, &e));
    CHECK_EQ(r.blocks, 6);
    CHECK_EQ(r.partitions, 3);
    lake_commit_hold(f.l, -1);
    lake_close(f.l); /* every commit done */
    CHECK_EQ(partition_rows(&f, f.stream_str[0]), 0);
    f.l = mapped;
    f.os = nm.in;
    fx_free(&f);
}

/*
 * While a trace runs (lake_commit_hold), the deferred commits of its builds wait
 * (a second at most after their build), so that uploads do not compete with its
 * builds; when it ends they go.
 */
TEST(deferred_commits_wait_for_the_trace_to_end)
{
    fixture f;
    nomap_store nm;
    lake *mapped;
    held_builds(&f, &nm, &mapped);
    struct timespec pause = {0, 300 * 1000000L};
    nanosleep(&pause, NULL);
    CHECK_EQ(atomic_load(&nm.puts), 0); /* held while the trace runs */
    CHECK_EQ(partition_rows(&f, f.stream_str[0]), 0);
    lake_commit_hold(f.l, -1); /* it ended */
    lake_close(f.l);           /* (waits for the commits) */
    CHECK_EQ(atomic_load(&nm.puts), 3);
    CHECK_EQ(partition_rows(&f, f.stream_str[0]), 3);
    f.l = mapped;
    f.os = nm.in;
    fx_free(&f);
}
