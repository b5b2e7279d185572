/*
 * test_build.c - golden tests of the view builders: given a script of events
 * cut into blocks (and partitions), the rows must be exactly these.
 *
 * Ticks are nanoseconds here (tsc_frequency 1e9, start time 0), so the
 * expected begin and end columns read as the script's ticks.
 */
#include "test.h"

#include "lake/build.h"
#include "wire/wire.h"

/* One scripted event: 'B' begin, 'E' end, 'N'/'n' named begin/end, '|' block cut. */
typedef struct step {
    char op;
    const char *name;
    int64_t tick;
} step;

static lake_proc g_proc;

static void proc_init(void)
{
    memset(&g_proc, 0, sizeof g_proc);
    uuid_v4(&g_proc.process_id);
    uuid_format(&g_proc.process_id, g_proc.process_id_str);
    g_proc.tsc_frequency = 1000000000;
    g_proc.exe = "/bin/app";
    g_proc.username = "ana";
    g_proc.computer = "box";
    lake_proc_init_clock(&g_proc);
}

typedef struct blocks {
    lake_src_block b[64];
    dbuf payload[64];
    size_t n;
    uint64_t offset;
} blocks;

/* A static descriptor per name; named spans use the descriptor "task". */
static uint64_t key_of(const char *name)
{
    return (uint64_t)name[0] << 8 | (uint64_t)strlen(name);
}

static void seal(blocks *bs, wire_pb *pb, const sl_uuid *stream)
{
    if (!wire_pb_count(pb))
        return;
    lake_src_block *b = &bs->b[bs->n];
    dbuf *out = &bs->payload[bs->n];
    dbuf_init(out, 1 << 20);
    uuid_v4(&b->block_id);
    b->stream_id = *stream;
    b->object_offset = bs->offset;
    b->nb_objects = wire_pb_count(pb);
    b->insert_time_ns = 1000 + (int64_t)bs->n;
    CHECK_OK(wire_pb_finish(pb, WIRE_CODEC_ZSTD, &b->block_id, stream, &g_proc.process_id,
                            wire_pb_min_ticks(pb), wire_pb_max_ticks(pb), out));
    b->payload = out->p;
    b->payload_len = out->len;
    bs->offset += b->nb_objects;
    bs->n++;
    wire_pb_reset(pb);
}

static void script(blocks *bs, const step *steps, size_t n)
{
    memset(bs, 0, sizeof *bs);
    sl_uuid stream;
    uuid_v4(&stream);
    wire_pb *pb;
    CHECK_OK(wire_pb_new(1 << 20, &pb));
    for (size_t i = 0; i < n; i++) {
        const step *s = &steps[i];
        if (s->op == '|') {
            seal(bs, pb, &stream);
            continue;
        }
        int named = s->op == 'N' || s->op == 'n';
        const char *dname = named ? "task" : s->name;
        wire_event ev = {.ticks = s->tick};
        CHECK_OK(wire_pb_desc(pb, key_of(dname), WIRE_DESC_SPAN, 0, dname, "t", "f.c", 7, NULL,
                              &ev.desc));
        ev.type = s->op == 'B' ? WIRE_EV_SPAN_BEGIN : s->op == 'E' ? WIRE_EV_SPAN_END
                  : s->op == 'N' ? WIRE_EV_NAMED_SPAN_BEGIN : WIRE_EV_NAMED_SPAN_END;
        if (named)
            ev.name = (wire_str){s->name, (uint32_t)strlen(s->name)};
        CHECK_OK(wire_pb_event(pb, &ev));
    }
    seal(bs, pb, &stream);
    wire_pb_free(pb);
}

static void blocks_free(blocks *bs)
{
    for (size_t i = 0; i < bs->n; i++)
        dbuf_free(&bs->payload[i]);
}

/* Rows as "id parent depth name begin end" lines. */
static void rows_text(const col_batch *b, char *out, size_t n)
{
    size_t o = 0;
    out[0] = 0;
    for (int64_t r = 0; r < b->nrows; r++) {
        size_t l;
        const uint8_t *name = col_vec_str(&b->cols[TS_NAME], r, &l);
        o += (size_t)snprintf(out + o, n - o, "%lld %lld %u %.*s %lld %lld\n",
                              (long long)col_vec_i64(&b->cols[TS_ID], r),
                              (long long)col_vec_i64(&b->cols[TS_PARENT], r),
                              (unsigned)col_vec_i32(&b->cols[TS_DEPTH], r), (int)l, name,
                              (long long)col_vec_i64(&b->cols[TS_BEGIN], r),
                              (long long)col_vec_i64(&b->cols[TS_END], r));
        CHECK(col_vec_i64(&b->cols[TS_DURATION], r) ==
              col_vec_i64(&b->cols[TS_END], r) - col_vec_i64(&b->cols[TS_BEGIN], r));
    }
}

/* Builds blocks [from, to) as one partition continuing prev; returns its rows' text. */
static void build_part(blocks *bs, size_t from, size_t to, dbuf *state, lake_build_out *out,
                       char *text, size_t n)
{
    lake_build_out_init(out);
    errmsg e;
    errmsg_clear(&e);
    int rc = lake_build_thread_spans(&g_proc, bs->b + from, to - from, state ? state->p : NULL,
                                     state ? state->len : 0, out, &e);
    if (rc)
        TEST_FAIL("build: %s", e.text);
    CHECK_OK(col_batch_validate(out->batch));
    rows_text(out->batch, text, n);
}

static const step g_nest[] = {{'B', "a", 10}, {'B', "b", 20}, {'|', 0, 0}, {'E', "b", 30},
                              {'B', "c", 40}, {'|', 0, 0},    {'E', "c", 50}, {'E', "a", 60}};
static const char *g_nest_rows = "0 -1 0 a 10 60\n1 0 1 b 20 30\n3 0 1 c 40 50\n";

TEST(nesting_in_one_block)
{
    proc_init();
    step s[6];
    size_t k = 0;
    for (size_t i = 0; i < 8; i++)
        if (g_nest[i].op != '|')
            s[k++] = g_nest[i];
    blocks bs;
    script(&bs, s, k);
    CHECK_EQ(bs.n, 1);
    lake_build_out out;
    char text[1024];
    build_part(&bs, 0, bs.n, NULL, &out, text, sizeof text);
    CHECK_STR(text, g_nest_rows);
    CHECK_EQ(out.events, 6);
    CHECK_EQ(out.min_event_ns, 10);
    CHECK_EQ(out.max_event_ns, 60);
    CHECK_EQ(out.unclosed + out.orphan_ends, 0);
    lake_build_out_free(&out);
    blocks_free(&bs);
}

TEST(spans_cross_block_boundaries)
{
    proc_init();
    blocks bs;
    script(&bs, g_nest, 8);
    CHECK_EQ(bs.n, 3);
    lake_build_out out;
    char text[1024];
    build_part(&bs, 0, bs.n, NULL, &out, text, sizeof text);
    CHECK_STR(text, g_nest_rows);
    lake_build_out_free(&out);
    blocks_free(&bs);
}

TEST(one_event_per_block)
{
    proc_init();
    step s[16];
    size_t k = 0;
    for (size_t i = 0; i < 8; i++) {
        if (g_nest[i].op == '|')
            continue;
        s[k++] = g_nest[i];
        s[k++] = (step){'|', 0, 0};
    }
    blocks bs;
    script(&bs, s, k);
    CHECK_EQ(bs.n, 6);
    lake_build_out out;
    char text[1024];
    build_part(&bs, 0, bs.n, NULL, &out, text, sizeof text);
    CHECK_STR(text, g_nest_rows);
    lake_build_out_free(&out);
    blocks_free(&bs);
}

TEST(spans_cross_partitions_once_each)
{
    proc_init();
    blocks bs;
    script(&bs, g_nest, 8); /* blocks: [B a, B b] [E b, B c] [E c, E a] */
    lake_build_out p1, p2, p3;
    char t1[512], t2[512], t3[512];
    build_part(&bs, 0, 1, NULL, &p1, t1, sizeof t1);
    CHECK_STR(t1, ""); /* a and b are still open */
    build_part(&bs, 1, 2, &p1.state, &p2, t2, sizeof t2);
    CHECK_STR(t2, "1 0 1 b 20 30\n"); /* b ends here, with its true begin */
    build_part(&bs, 2, 3, &p2.state, &p3, t3, sizeof t3);
    /* The carried span a comes first (it began earliest), then c. */
    CHECK_STR(t3, "0 -1 0 a 10 60\n3 0 1 c 40 50\n");
    CHECK_EQ(p3.min_event_ns, 10);
    lake_build_out_free(&p1);
    lake_build_out_free(&p2);
    lake_build_out_free(&p3);
    blocks_free(&bs);
}

TEST(open_spans_end_at_the_last_known_time)
{
    proc_init();
    static const step s[] = {{'B', "a", 10}, {'B', "b", 20}, {'E', "b", 30}, {'B', "c", 40}};
    blocks bs;
    script(&bs, s, 4);
    lake_build_out out;
    char text[512];
    build_part(&bs, 0, bs.n, NULL, &out, text, sizeof text);
    CHECK_STR(text, "1 0 1 b 20 30\n");
    CHECK_EQ(lake_spans_state_last_ns(out.state.p, out.state.len), 40);
    col_batch *open;
    uint64_t n_open;
    errmsg e;
    CHECK_OK(lake_spans_open_rows(out.state.p, out.state.len, 40, &open, &n_open, &e));
    CHECK_EQ(n_open, 2);
    rows_text(open, text, sizeof text);
    CHECK_STR(text, "0 -1 0 a 10 40\n3 0 1 c 40 40\n");
    col_batch_release(open);
    lake_build_out_free(&out);
    blocks_free(&bs);
}

TEST(end_without_begin_starts_at_the_first_known_time)
{
    proc_init();
    static const step s[] = {{'B', "a", 10}, {'E', "a", 20}, {'E', "x", 30}, {'B', "b", 40},
                             {'E', "b", 50}};
    blocks bs;
    script(&bs, s, 5);
    lake_build_out out;
    char text[512];
    build_part(&bs, 0, bs.n, NULL, &out, text, sizeof text);
    /* The orphan comes first: it begins at the first known time. */
    CHECK_STR(text, "2 -1 0 x 10 30\n0 -1 0 a 10 20\n3 -1 0 b 40 50\n");
    CHECK_EQ(out.orphan_ends, 1);
    lake_build_out_free(&out);
    blocks_free(&bs);
}

TEST(an_end_closes_the_spans_above_its_begin)
{
    proc_init();
    static const step s[] = {{'B', "a", 10}, {'B', "b", 20}, {'B', "c", 25}, {'E', "a", 30}};
    blocks bs;
    script(&bs, s, 4);
    lake_build_out out;
    char text[512];
    build_part(&bs, 0, bs.n, NULL, &out, text, sizeof text);
    CHECK_STR(text, "0 -1 0 a 10 30\n1 0 1 b 20 30\n2 1 2 c 25 30\n");
    CHECK_EQ(out.unclosed, 2);
    CHECK_EQ(out.state.len > 0, 1);
    lake_build_out_free(&out);
    blocks_free(&bs);
}

TEST(named_spans_take_their_run_time_names)
{
    proc_init();
    static const step s[] = {{'N', "task-1", 10}, {'B', "x", 12}, {'E', "x", 14},
                             {'n', "task-1", 20}, {'N', "task-2", 30}, {'n', "task-2", 40}};
    blocks bs;
    script(&bs, s, 6);
    lake_build_out out;
    char text[512];
    build_part(&bs, 0, bs.n, NULL, &out, text, sizeof text);
    CHECK_STR(text, "0 -1 0 task-1 10 20\n1 0 1 x 12 14\n4 -1 0 task-2 30 40\n");
    /* One descriptor with different run-time names: different call sites, different hashes. */
    const col_vec *h = &out.batch->cols[TS_HASH];
    CHECK(col_vec_i32(h, 0) != col_vec_i32(h, 2));
    lake_build_out_free(&out);
    blocks_free(&bs);
}

TEST(damaged_payload_fails_with_the_block_named)
{
    proc_init();
    blocks bs;
    script(&bs, g_nest, 8);
    bs.payload[1].p[bs.payload[1].len - 1] ^= 0x55; /* body hash no longer matches */
    lake_build_out out;
    lake_build_out_init(&out);
    errmsg e;
    errmsg_clear(&e);
    CHECK(lake_build_thread_spans(&g_proc, bs.b, bs.n, NULL, 0, &out, &e) < 0);
    char id[UUID_STR_LEN];
    uuid_format(&bs.b[1].block_id, id);
    CHECK(strstr(e.text, id) != NULL);
    CHECK(strstr(e.text, "hash") != NULL);
    lake_build_out_free(&out);
    blocks_free(&bs);
}

TEST(damaged_state_is_refused)
{
    proc_init();
    blocks bs;
    script(&bs, g_nest, 8);
    uint8_t bad[] = {9, 0, 0, 0};
    lake_build_out out;
    lake_build_out_init(&out);
    errmsg e;
    errmsg_clear(&e);
    CHECK_EQ(lake_build_thread_spans(&g_proc, bs.b, bs.n, bad, sizeof bad, &out, &e),
             SL_ECORRUPT);
    lake_build_out_free(&out);
    blocks_free(&bs);
}

/* ------------------------------------------------------------ event views */

static void event_block(lake_src_block *b, dbuf *out, const sl_uuid *stream,
                        const wire_event *evs, int n, wire_pb *pb)
{
    memset(b, 0, sizeof *b);
    dbuf_init(out, 1 << 20);
    uuid_v4(&b->block_id);
    b->stream_id = *stream;
    b->nb_objects = (uint64_t)n;
    b->insert_time_ns = 5;
    for (int i = 0; i < n; i++)
        CHECK_OK(wire_pb_event(pb, &evs[i]));
    CHECK_OK(wire_pb_finish(pb, WIRE_CODEC_LZ4, &b->block_id, stream, &g_proc.process_id,
                            wire_pb_min_ticks(pb), wire_pb_max_ticks(pb), out));
    b->payload = out->p;
    b->payload_len = out->len;
    wire_pb_reset(pb);
}

TEST(async_events_from_two_threads_in_time_order)
{
    proc_init();
    sl_uuid s1, s2;
    uuid_v4(&s1);
    uuid_v4(&s2);
    wire_pb *pb;
    CHECK_OK(wire_pb_new(1 << 20, &pb));
    lake_src_block b[2];
    dbuf d[2];
    uint32_t req;
    CHECK_OK(wire_pb_desc(pb, 1, WIRE_DESC_SPAN, 0, "request", "io", "r.c", 3, NULL, &req));
    /* Thread 1 begins spans 5 and 6; thread 2 ends them. A thread span is not an async event. */
    wire_event e1[] = {{.type = WIRE_EV_ASYNC_BEGIN, .ticks = 100, .desc = req, .span_id = 5},
                       {.type = WIRE_EV_SPAN_BEGIN, .ticks = 110, .desc = req},
                       {.type = WIRE_EV_ASYNC_BEGIN, .ticks = 300, .desc = req, .span_id = 6,
                        .parent_span_id = 5, .depth = 1}};
    event_block(&b[0], &d[0], &s1, e1, 3, pb);
    CHECK_OK(wire_pb_desc(pb, 1, WIRE_DESC_SPAN, 0, "request", "io", "r.c", 3, NULL, &req));
    wire_event e2[] = {{.type = WIRE_EV_ASYNC_END, .ticks = 200, .desc = req, .span_id = 5},
                       {.type = WIRE_EV_ASYNC_END, .ticks = 400, .desc = req, .span_id = 6,
                        .parent_span_id = 5, .depth = 1}};
    event_block(&b[1], &d[1], &s2, e2, 2, pb);
    wire_pb_free(pb);
    lake_build_out out;
    lake_build_out_init(&out);
    errmsg e;
    CHECK_OK(lake_build_async_events(&g_proc, b, 2, NULL, 0, &out, &e));
    const col_batch *r = out.batch;
    CHECK_EQ(r->nrows, 4);
    CHECK_EQ(out.events, 5);
    int64_t want_t[] = {100, 200, 300, 400}, want_id[] = {5, 5, 6, 6};
    const char *want_type[] = {"begin", "end", "begin", "end"};
    for (int i = 0; i < 4; i++) {
        size_t l;
        CHECK_EQ(col_vec_i64(&r->cols[AE_TIME], i), want_t[i]);
        CHECK_EQ(col_vec_i64(&r->cols[AE_SPAN_ID], i), want_id[i]);
        const uint8_t *t = col_vec_str(&r->cols[AE_EVENT_TYPE], i, &l);
        CHECK(l == strlen(want_type[i]) && !memcmp(t, want_type[i], l));
        const uint8_t *sid = col_vec_str(&r->cols[AE_STREAM_ID], i, &l);
        char want_sid[UUID_STR_LEN];
        uuid_format(i % 2 ? &s2 : &s1, want_sid);
        CHECK(l == 36 && !memcmp(sid, want_sid, 36));
    }
    CHECK_EQ(col_vec_i64(&r->cols[AE_PARENT_SPAN_ID], 2), 5);
    CHECK_EQ(col_vec_i32(&r->cols[AE_DEPTH], 3), 1);
    CHECK_EQ(out.min_event_ns, 100);
    CHECK_EQ(out.max_event_ns, 400);
    lake_build_out_free(&out);
    dbuf_free(&d[0]);
    dbuf_free(&d[1]);
}

TEST(logs_and_measures)
{
    proc_init();
    sl_uuid s;
    uuid_v4(&s);
    wire_pb *pb;
    CHECK_OK(wire_pb_new(1 << 20, &pb));
    uint32_t dl, dm;
    CHECK_OK(wire_pb_desc(pb, 1, WIRE_DESC_LOG, 3, "disk low", "io", "io.c", 9, NULL, &dl));
    CHECK_OK(wire_pb_desc(pb, 2, WIRE_DESC_METRIC, 0, "fps", "gfx", "g.c", 4, "hz", &dm));
    /* Two threads' logs in one block, out of time order. */
    wire_event ev[] = {{.type = WIRE_EV_LOG_FMT, .ticks = 50, .desc = dl,
                        .name = {"disk at 97%", 11}},
                       {.type = WIRE_EV_LOG, .ticks = 20, .desc = dl},
                       {.type = WIRE_EV_METRIC_FLOAT, .ticks = 30, .desc = dm, .value_f = 59.5},
                       {.type = WIRE_EV_METRIC_INT, .ticks = 10, .desc = dm, .value_i = -3}};
    lake_src_block b;
    dbuf d;
    event_block(&b, &d, &s, ev, 4, pb);
    wire_pb_free(pb);
    lake_build_out out;
    lake_build_out_init(&out);
    errmsg e;
    CHECK_OK(lake_build_log_entries(&g_proc, &b, 1, NULL, 0, &out, &e));
    const col_batch *r = out.batch;
    CHECK_EQ(r->nrows, 2);
    size_t l;
    const uint8_t *m = col_vec_str(&r->cols[LE_MSG], 0, &l);
    CHECK(l == 8 && !memcmp(m, "disk low", 8));
    m = col_vec_str(&r->cols[LE_MSG], 1, &l);
    CHECK(l == 11 && !memcmp(m, "disk at 97%", 11));
    CHECK_EQ(col_vec_i64(&r->cols[LE_TIME], 0), 20);
    CHECK_EQ(col_vec_i32(&r->cols[LE_LEVEL], 1), 3);
    m = col_vec_str(&r->cols[LE_EXE], 1, &l);
    CHECK(l == 8 && !memcmp(m, "/bin/app", 8));
    m = col_vec_str(&r->cols[LE_PROCESS_ID], 0, &l);
    CHECK(l == 36 && !memcmp(m, g_proc.process_id_str, 36));
    lake_build_out_free(&out);

    lake_build_out_init(&out);
    CHECK_OK(lake_build_measures(&g_proc, &b, 1, NULL, 0, &out, &e));
    r = out.batch;
    CHECK_EQ(r->nrows, 2);
    CHECK(col_vec_f64(&r->cols[ME_VALUE], 0) == -3.0);
    CHECK(col_vec_f64(&r->cols[ME_VALUE], 1) == 59.5);
    m = col_vec_str(&r->cols[ME_UNIT], 1, &l);
    CHECK(l == 2 && !memcmp(m, "hz", 2));
    lake_build_out_free(&out);
    dbuf_free(&d);
}
