/*
 * test_pf_seq.c - sequences: packets, interning resets, timestamps, chunking,
 * concurrent sequences, and the thread-span writer.
 *
 * Traces are decoded back with tdec.h, which applies the format's rules on
 * its own, so these tests check what a reader sees, not our internals.
 */
#include "test.h"
#include "tdec.h"

#include "base/alloc.h"
#include "perfetto/pf_seq.h"
#include "perfetto/pf_spans.h"

#include <pthread.h>

static pf_site mk_site(const char *name, const char *cat, const char *file, uint32_t line)
{
    return (pf_site){name, cat, file, (uint32_t)strlen(name), (uint32_t)strlen(cat),
                     (uint32_t)strlen(file), line, 0};
}

static void seq_open(pf_seq *s, pf_mem_sink *ms, uint32_t id, pf_ts_mode mode, uint64_t def_track)
{
    pf_seq_cfg cfg = {.seq_id = id, .ts_mode = mode, .default_track_uuid = def_track};
    pf_mem_sink_init(ms, 1 << 28);
    errmsg e;
    if (pf_seq_init(s, &cfg, pf_mem_sink_get(ms), &e))
        TEST_FAIL("pf_seq_init: %s", e.text);
}

static void decode(tdec *d, const pf_mem_sink *ms)
{
    memset(d, 0, sizeof *d);
    if (tdec_run(d, ms->buf.p, ms->buf.len))
        TEST_FAIL("decode: %s", d->err);
}

/* The sequence_flags of packet number `which` (0: none; UINT64_MAX: no such packet). */
static uint64_t nth_packet_flags(const uint8_t *p, size_t n, int which)
{
    rd r, q;
    tfield f, g;
    rd_init(&r, p, n);
    for (int i = 0; tfield_next(&r, &f); i++) {
        if (i != which)
            continue;
        rd_init(&q, f.p, f.n);
        while (tfield_next(&q, &g))
            if (g.num == 13)
                return g.v;
        return 0;
    }
    return UINT64_MAX;
}

TEST(a_sequence_starts_by_clearing_its_state)
{
    pf_seq s;
    pf_mem_sink ms;
    seq_open(&s, &ms, 7, PF_TS_ABSOLUTE, 100);
    CHECK_OK(pf_seq_process_track(&s, 1, 4242, "server", 6));
    CHECK_OK(pf_seq_thread_track(&s, 100, 1, 4242, 4243, "main", 4));
    pf_site st = mk_site("handle", "http", "srv.c", 12);
    CHECK_OK(pf_seq_slice_begin(&s, 0, 1000, &st));
    CHECK_OK(pf_seq_slice_end(&s, 0, 2000));
    CHECK_OK(pf_seq_flush(&s));
    /* descriptors before the first event need no state; then clear; then events */
    CHECK_EQ(nth_packet_flags(ms.buf.p, ms.buf.len, 0), 0);
    CHECK_EQ(nth_packet_flags(ms.buf.p, ms.buf.len, 1), 0);
    CHECK_EQ(nth_packet_flags(ms.buf.p, ms.buf.len, 2), 3);
    CHECK_EQ(nth_packet_flags(ms.buf.p, ms.buf.len, 3), 2);
    CHECK_EQ(nth_packet_flags(ms.buf.p, ms.buf.len, 4), 2);
    tdec d;
    decode(&d, &ms);
    CHECK_EQ(d.npackets, 5);
    CHECK_EQ(d.ndesc, 2);
    CHECK(d.desc[0].kind == 0 && d.desc[0].pid == 4242 && tstr_eq(d.desc[0].name, "server"));
    CHECK(d.desc[1].kind == 1 && d.desc[1].tid == 4243 && d.desc[1].parent == 1);
    CHECK_EQ(d.nev, 2);
    CHECK(d.ev[0].type == 1 && d.ev[0].track == 100 && d.ev[0].ts == 1000);
    CHECK(tstr_eq(d.ev[0].name, "handle") && tstr_eq(d.ev[0].cat, "http"));
    CHECK(tstr_eq(d.ev[0].file, "srv.c") && d.ev[0].line == 12);
    CHECK(d.ev[1].type == 2 && d.ev[1].track == 100 && d.ev[1].ts == 2000);
    CHECK_EQ(s.stats.clears, 1);
    tdec_free(&d);
    pf_seq_destroy(&s);
    pf_mem_sink_free(&ms);
}

TEST(interned_strings_appear_once_per_generation)
{
    pf_seq s;
    pf_mem_sink ms;
    seq_open(&s, &ms, 3, PF_TS_INCREMENTAL, 9);
    pf_site a = mk_site("a", "cat", "x.c", 1), b = mk_site("b", "cat", "x.c", 2);
    for (int i = 0; i < 100; i++) {
        CHECK_OK(pf_seq_slice_begin(&s, 0, 10 * i, i % 2 ? &a : &b));
        CHECK_OK(pf_seq_slice_end(&s, 0, 10 * i + 5));
    }
    CHECK_OK(pf_seq_flush(&s));
    CHECK_EQ(s.stats.interned, 2 + 1 + 2); /* two names, one category, two locations */
    /* "cat" must occur exactly once in the bytes. */
    int hits = 0;
    for (size_t i = 0; i + 3 <= ms.buf.len; i++)
        hits += memcmp(ms.buf.p + i, "cat", 3) == 0;
    CHECK_EQ(hits, 1);
    tdec d;
    decode(&d, &ms);
    CHECK_EQ(d.nev, 200);
    for (size_t i = 0; i < d.nev; i += 2)
        CHECK(tstr_eq(d.ev[i].name, (i / 2) % 2 ? "a" : "b"));
    tdec_free(&d);
    pf_seq_destroy(&s);
    pf_mem_sink_free(&ms);
}

TEST(an_interning_reset_clears_the_sequence_state_and_redefines)
{
    pf_seq s;
    pf_mem_sink ms;
    pf_seq_cfg cfg = {.seq_id = 5, .ts_mode = PF_TS_INCREMENTAL, .default_track_uuid = 77,
                      .intern_max_entries = 16};
    pf_mem_sink_init(&ms, 1 << 24);
    CHECK_OK(pf_seq_init(&s, &cfg, pf_mem_sink_get(&ms), NULL));
    char name[32];
    int64_t ts = 1700000000000000000ll;
    for (int i = 0; i < 50; i++) {
        snprintf(name, sizeof name, "span%d", i % 13);
        pf_site st = mk_site(name, name, "f.c", (uint32_t)i % 13);
        CHECK_OK(pf_seq_slice_begin(&s, 0, ts, &st));
        ts += 1 + i;
        CHECK_OK(pf_seq_slice_end(&s, 0, ts));
        ts += 3;
    }
    CHECK_OK(pf_seq_flush(&s));
    CHECK(s.stats.clears > 3);
    CHECK_EQ(s.stats.clears, 1 + s.in.resets);
    tdec d;
    decode(&d, &ms); /* every iid resolves within its generation */
    CHECK_EQ(d.seqs[0].clears, s.stats.clears);
    CHECK_EQ(d.nev, 100);
    int64_t t = 1700000000000000000ll;
    for (int i = 0; i < 50; i++) {
        snprintf(name, sizeof name, "span%d", i % 13);
        CHECK(tstr_eq(d.ev[2 * i].name, name));
        CHECK(tstr_eq(d.ev[2 * i].cat, name));
        CHECK_EQ(d.ev[2 * i].line, (uint32_t)i % 13);
        CHECK_EQ(d.ev[2 * i].ts, t); /* exact ns across every reset */
        t += 1 + i;
        CHECK_EQ(d.ev[2 * i + 1].ts, t);
        t += 3;
        CHECK_EQ(d.ev[2 * i].track, 77);
    }
    tdec_free(&d);
    pf_seq_destroy(&s);
    pf_mem_sink_free(&ms);
}

static void write_pattern(pf_seq *s, const int64_t *ts, int n)
{
    pf_site st = mk_site("x", "y", "z.c", 3);
    for (int i = 0; i < n; i++)
        CHECK_OK(i % 2 ? pf_seq_slice_end(s, 11, ts[i]) : pf_seq_slice_begin(s, 11, ts[i], &st));
    CHECK_OK(pf_seq_flush(s));
}

TEST(timestamps_are_exact_in_both_modes_even_going_backwards)
{
    /* Wall-clock ns, with steps back in time (allowed across tracks). */
    int64_t ts[] = {1700000000123456789ll, 1700000000123456790ll, 1700000000000000001ll,
                    1700000000000000002ll, 1700000000999999999ll, 1700000001000000000ll,
                    0,                     1,                     INT64_MAX - 1,
                    INT64_MAX};
    int n = (int)(sizeof ts / sizeof ts[0]);
    size_t bytes[2];
    for (int mode = 0; mode < 2; mode++) {
        pf_seq s;
        pf_mem_sink ms;
        seq_open(&s, &ms, 1, (pf_ts_mode)mode, 0);
        write_pattern(&s, ts, n);
        tdec d;
        decode(&d, &ms);
        CHECK_EQ(d.nev, (size_t)n);
        for (int i = 0; i < n; i++)
            CHECK_EQ(d.ev[i].ts, ts[i]);
        /* A packet earlier than the clock's last value is written absolute
           and does not move the clock, so both 1.7e18+1 and +2 fall back
           (they are below ...790), and so do 0 and 1. */
        if (mode == PF_TS_INCREMENTAL)
            CHECK_EQ(s.stats.abs_fallbacks, 4);
        bytes[mode] = ms.buf.len;
        tdec_free(&d);
        pf_seq_destroy(&s);
        pf_mem_sink_free(&ms);
    }
    CHECK(bytes[0] > 0 && bytes[1] > 0);
}

TEST(incremental_timestamps_are_smaller)
{
    size_t bytes[2];
    for (int mode = 0; mode < 2; mode++) {
        pf_seq s;
        pf_mem_sink ms;
        seq_open(&s, &ms, 1, (pf_ts_mode)mode, 11);
        pf_site st = mk_site("work", "app", "a.c", 1);
        int64_t t = 1700000000000000000ll;
        for (int i = 0; i < 1000; i++) {
            CHECK_OK(pf_seq_slice_begin(&s, 0, t, &st));
            CHECK_OK(pf_seq_slice_end(&s, 0, t + 700));
            t += 1000;
        }
        CHECK_OK(pf_seq_flush(&s));
        bytes[mode] = ms.buf.len;
        pf_seq_destroy(&s);
        pf_mem_sink_free(&ms);
    }
    /* 10-byte absolute values against 3-byte deltas: 7 bytes saved per
       packet, less the clock snapshot (under 40 bytes) of incremental mode. */
    CHECK(bytes[0] > bytes[1]);
    CHECK(bytes[0] - bytes[1] >= 2 * 1000 * 7 - 40);
}

TEST(negative_timestamps_are_refused_and_errors_stick)
{
    pf_seq s;
    pf_mem_sink ms;
    seq_open(&s, &ms, 1, PF_TS_ABSOLUTE, 0);
    pf_site st = mk_site("x", "", "", 0);
    CHECK_EQ(pf_seq_slice_begin(&s, 1, -5, &st), SL_EINVAL);
    CHECK_EQ(pf_seq_slice_begin(&s, 1, 5, &st), SL_EINVAL);
    CHECK(strstr(pf_seq_error(&s), "negative") != NULL);
    pf_seq_destroy(&s);
    pf_mem_sink_free(&ms);
    errmsg e;
    pf_seq_cfg bad = {.seq_id = 0};
    CHECK_EQ(pf_seq_init(&s, &bad, pf_mem_sink_get(&ms), &e), SL_EINVAL);
}

/* ---- chunking ---------------------------------------------------------- */

typedef struct chunk_log {
    pf_mem_sink all;
    size_t sizes[100000];
    size_t n;
    int bad_boundary;
} chunk_log;

static int log_chunk(void *ctx, const uint8_t *p, size_t n)
{
    chunk_log *cl = ctx;
    cl->sizes[cl->n++] = n;
    /* Each chunk alone must decode as whole packets. */
    rd r;
    tfield f;
    rd_init(&r, p, n);
    while (tfield_next(&r, &f)) {
    }
    if (r.err || rd_left(&r))
        cl->bad_boundary = 1;
    return dbuf_append(&cl->all.buf, p, n);
}

static void write_many(pf_seq *s, int n)
{
    char name[64];
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "name-%d", i % 50);
        pf_site st = mk_site(name, "c", "f.c", (uint32_t)i);
        CHECK_OK(pf_seq_slice_begin(s, 0, 1000 * i, &st));
        CHECK_OK(pf_seq_slice_end(s, 0, 1000 * i + 10));
    }
}

TEST(chunks_are_whole_packets_no_larger_than_asked)
{
    size_t sizes[] = {1, 64, 100, 1000, 4096, 65536};
    pf_mem_sink ref;
    {
        pf_seq s;
        seq_open(&s, &ref, 1, PF_TS_INCREMENTAL, 5);
        write_many(&s, 3000);
        CHECK_OK(pf_seq_flush(&s));
        pf_seq_destroy(&s);
    }
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        static chunk_log cl;
        memset(&cl, 0, sizeof cl);
        pf_mem_sink_init(&cl.all, 1 << 26);
        pf_seq s;
        pf_seq_cfg cfg = {.seq_id = 1, .ts_mode = PF_TS_INCREMENTAL, .default_track_uuid = 5,
                          .chunk_bytes = sizes[k]};
        CHECK_OK(pf_seq_init(&s, &cfg, (pf_sink){log_chunk, &cl}, NULL));
        write_many(&s, 3000);
        size_t before_flush = cl.n;
        CHECK_OK(pf_seq_flush(&s));
        CHECK(!cl.bad_boundary);
        /* the same bytes whatever the chunking */
        CHECK_EQ(cl.all.buf.len, ref.buf.len);
        CHECK(memcmp(cl.all.buf.p, ref.buf.p, ref.buf.len) == 0);
        for (size_t i = 0; i < cl.n; i++) {
            if (sizes[k] >= 100)
                CHECK(cl.sizes[i] <= sizes[k]);
            /* Chunks before the last are as full as whole packets allow: the
             * next packet (at most 60 bytes here) would not have fitted. */
            if (sizes[k] >= 1000 && i + 1 < before_flush)
                CHECK(cl.sizes[i] + 60 > sizes[k]);
        }
        if (sizes[k] == 1)
            CHECK_EQ(cl.n, s.stats.packets); /* tiny chunks: one packet each */
        CHECK_EQ(s.stats.chunks, cl.n);
        pf_seq_destroy(&s);
        pf_mem_sink_free(&cl.all);
    }
    pf_mem_sink_free(&ref);
}

TEST(a_packet_larger_than_a_chunk_goes_out_alone)
{
    static chunk_log cl;
    memset(&cl, 0, sizeof cl);
    pf_mem_sink_init(&cl.all, 1 << 26);
    pf_seq s;
    pf_seq_cfg cfg = {.seq_id = 1, .chunk_bytes = 256};
    CHECK_OK(pf_seq_init(&s, &cfg, (pf_sink){log_chunk, &cl}, NULL));
    static char big[3000];
    memset(big, 'q', sizeof big);
    pf_site small = mk_site("s", "", "", 0);
    CHECK_OK(pf_seq_slice_begin(&s, 3, 1, &small));
    pf_site st = {big, "", "", sizeof big, 0, 0, 0, 0};
    CHECK_OK(pf_seq_slice_begin(&s, 3, 2, &st));
    CHECK_OK(pf_seq_slice_end(&s, 3, 3));
    CHECK_OK(pf_seq_flush(&s));
    CHECK(!cl.bad_boundary);
    CHECK_EQ(cl.n, 3); /* [clear, begin] [big begin] [end] */
    CHECK(cl.sizes[1] > 3000);
    tdec d;
    decode(&d, &cl.all);
    CHECK_EQ(d.ev[1].name.n, 3000);
    tdec_free(&d);
    pf_seq_destroy(&s);
    pf_mem_sink_free(&cl.all);
}

static int failing_sink(void *ctx, const uint8_t *p, size_t n)
{
    (void)ctx, (void)p, (void)n;
    return SL_EIO;
}

TEST(a_sink_error_stops_the_sequence)
{
    pf_seq s;
    pf_seq_cfg cfg = {.seq_id = 1, .chunk_bytes = 100};
    CHECK_OK(pf_seq_init(&s, &cfg, (pf_sink){failing_sink, NULL}, NULL));
    pf_site st = mk_site("a", "b", "c", 1);
    int rc = 0;
    for (int i = 0; i < 100 && !rc; i++)
        rc = pf_seq_slice_begin(&s, 1, i, &st);
    CHECK_EQ(rc, SL_EIO);
    CHECK_EQ(pf_seq_slice_end(&s, 1, 1000), SL_EIO);
    CHECK_EQ(pf_seq_flush(&s), SL_EIO);
    pf_seq_destroy(&s);
}

/* ---- concurrent sequences ---------------------------------------------- */

typedef struct worker {
    uint32_t id;
    pf_mem_sink ms;
    int rc;
} worker;

static void *run_worker(void *arg)
{
    worker *w = arg;
    pf_seq s;
    pf_seq_cfg cfg = {.seq_id = w->id, .ts_mode = PF_TS_INCREMENTAL,
                      .default_track_uuid = 1000 + w->id, .chunk_bytes = 4096,
                      .intern_max_entries = 64};
    pf_mem_sink_init(&w->ms, 1 << 26);
    w->rc = pf_seq_init(&s, &cfg, pf_mem_sink_get(&w->ms), NULL);
    char name[64], tname[32];
    snprintf(tname, sizeof tname, "worker-%u", w->id);
    if (!w->rc)
        w->rc = pf_seq_thread_track(&s, 1000 + w->id, 1, 77, w->id, tname, strlen(tname));
    for (int i = 0; i < 5000 && !w->rc; i++) {
        snprintf(name, sizeof name, "t%u-op%d", w->id, i % 40);
        pf_site st = mk_site(name, tname, "w.c", (uint32_t)i % 40);
        w->rc = pf_seq_slice_begin(&s, 0, 1000000 + 100 * i, &st);
        if (!w->rc)
            w->rc = pf_seq_slice_end(&s, 0, 1000000 + 100 * i + 50);
    }
    if (!w->rc)
        w->rc = pf_seq_flush(&s);
    pf_seq_destroy(&s);
    return NULL;
}

TEST(concurrent_sequences_concatenate_into_one_valid_trace)
{
    enum { N = 6 };
    static worker ws[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        ws[i].id = (uint32_t)i + 1;
        CHECK_OK(pthread_create(&th[i], NULL, run_worker, &ws[i]));
    }
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    dbuf all;
    dbuf_init(&all, 1 << 28);
    for (int i = 0; i < N; i++) {
        CHECK_OK(ws[i].rc);
        CHECK_OK(dbuf_append(&all, ws[i].ms.buf.p, ws[i].ms.buf.len));
    }
    tdec d;
    memset(&d, 0, sizeof d);
    if (tdec_run(&d, all.p, all.len))
        TEST_FAIL("decode: %s", d.err);
    CHECK_EQ(d.nev, N * 10000);
    CHECK_EQ(d.ndesc, N);
    char name[64];
    for (size_t i = 0; i < d.nev; i++) {
        const tev *ev = &d.ev[i];
        size_t k = i % 10000;
        snprintf(name, sizeof name, "t%u-op%zu", ev->seq, (k / 2) % 40);
        CHECK_EQ(ev->track, 1000 + ev->seq);
        CHECK_EQ(ev->ts, 1000000 + 100 * (int64_t)(k / 2) + (k % 2 ? 50 : 0));
        if (ev->type == 1)
            CHECK(tstr_eq(ev->name, name));
    }
    /* Each sequence reset its interning many times, independently. */
    for (size_t i = 0; i < d.nseq; i++)
        CHECK(d.seqs[i].clears > 10);
    tdec_free(&d);
    dbuf_free(&all);
    for (int i = 0; i < N; i++)
        pf_mem_sink_free(&ws[i].ms);
}

/* ---- thread writer ------------------------------------------------------ */

/* Checks per-track order, begin/end pairing and nesting of decoded events. */
static void check_tracks(const tdec *d)
{
    for (size_t i = 0; i < d->nev; i++) {
        uint64_t track = d->ev[i].track;
        int seen = 0;
        for (size_t j = 0; j < i; j++)
            seen |= d->ev[j].track == track;
        if (seen)
            continue;
        int depth = 0;
        int64_t last = INT64_MIN;
        for (size_t j = i; j < d->nev; j++) {
            if (d->ev[j].track != track)
                continue;
            CHECK(d->ev[j].ts >= last);
            last = d->ev[j].ts;
            depth += d->ev[j].type == 1 ? 1 : -1;
            CHECK(depth >= 0);
        }
        CHECK_EQ(depth, 0);
    }
}

TEST(thread_writer_emits_a_nested_call_tree)
{
    pf_seq s;
    pf_mem_sink ms;
    seq_open(&s, &ms, 2, PF_TS_INCREMENTAL, 50);
    pf_site sites[3] = {mk_site("main", "app", "m.c", 1), mk_site("load", "io", "l.c", 2),
                        mk_site("parse", "cpu", "p.c", 3)};
    /* main [0,100] { load [10,40] { parse [20,30] } parse [50,60] } main [100,110] */
    int64_t b[] = {0, 10, 20, 50, 100}, en[] = {100, 40, 30, 60, 110};
    uint32_t depth[] = {0, 1, 2, 1, 0}, idx[] = {0, 1, 2, 2, 0};
    pf_span_rows rows = {.n = 5, .begin_ns = b, .end_ns = en, .depth = depth, .site_idx = idx,
                         .sites = sites, .n_sites = 3};
    pf_thread_writer tw;
    pf_thread_writer_init(&tw, &s, 0);
    errmsg e;
    CHECK_OK(pf_thread_writer_add(&tw, &rows, &e));
    CHECK_OK(pf_thread_writer_finish(&tw, &e));
    CHECK_OK(pf_seq_flush(&s));
    CHECK_EQ(tw.clamped, 0);
    tdec d;
    decode(&d, &ms);
    CHECK_EQ(d.nev, 10);
    const char *want[] = {"B main 0", "B load 10", "B parse 20", "E 30", "E 40",
                          "B parse 50", "E 60", "E 100", "B main 100", "E 110"};
    for (size_t i = 0; i < 10; i++) {
        char got[64];
        if (d.ev[i].type == 1)
            snprintf(got, sizeof got, "B %.*s %lld", (int)d.ev[i].name.n, d.ev[i].name.p,
                     (long long)d.ev[i].ts);
        else
            snprintf(got, sizeof got, "E %lld", (long long)d.ev[i].ts);
        CHECK_STR(got, want[i]);
    }
    check_tracks(&d);
    tdec_free(&d);
    pf_thread_writer_destroy(&tw);
    pf_seq_destroy(&s);
    pf_mem_sink_free(&ms);
}

TEST(thread_writer_repairs_bad_input_into_a_valid_track)
{
    pf_seq s;
    pf_mem_sink ms;
    seq_open(&s, &ms, 2, PF_TS_ABSOLUTE, 50);
    pf_site st = mk_site("f", "", "", 0);
    /* child outlives its parent; sibling overlaps the next; depth jumps by 3;
       end before begin; a "child" that begins after its parent ended */
    int64_t b[] = {0, 10, 20, 25, 30, 40, 200}, en[] = {100, 150, 35, 26, 20, 50, 300};
    uint32_t depth[] = {0, 1, 1, 4, 1, 1, 1}, idx[] = {0, 0, 0, 0, 0, 0, 0};
    pf_span_rows rows = {.n = 7, .begin_ns = b, .end_ns = en, .depth = depth, .site_idx = idx,
                         .sites = &st, .n_sites = 1};
    pf_thread_writer tw;
    pf_thread_writer_init(&tw, &s, 0);
    errmsg e;
    CHECK_OK(pf_thread_writer_add(&tw, &rows, &e));
    CHECK_OK(pf_thread_writer_finish(&tw, &e));
    CHECK_OK(pf_seq_flush(&s));
    CHECK(tw.clamped >= 4);
    tdec d;
    decode(&d, &ms);
    CHECK_EQ(d.nev, 14);
    check_tracks(&d);
    tdec_free(&d);
    /* Unsorted input is an error, not a silent mess. */
    int64_t b2[] = {5, 4}, e2[] = {6, 6};
    pf_span_rows bad = {.n = 2, .begin_ns = b2, .end_ns = e2, .site_idx = idx, .sites = &st,
                        .n_sites = 1};
    CHECK_EQ(pf_thread_writer_add(&tw, &bad, &e), SL_EINVAL);
    CHECK(strstr(e.text, "sorted") != NULL);
    uint32_t badidx[] = {0, 9};
    pf_span_rows badsite = {.n = 2, .begin_ns = e2, .end_ns = e2, .site_idx = badidx,
                            .sites = &st, .n_sites = 1};
    CHECK_EQ(pf_thread_writer_add(&tw, &badsite, &e), SL_EINVAL);
    pf_thread_writer_destroy(&tw);
    pf_seq_destroy(&s);
    pf_mem_sink_free(&ms);
}

TEST(everything_is_freed)
{
    pf_seq s;
    pf_mem_sink ms;
    seq_open(&s, &ms, 1, PF_TS_INCREMENTAL, 1);
    write_many(&s, 500);
    CHECK_OK(pf_seq_flush(&s));
    pf_seq_destroy(&s);
    pf_mem_sink_free(&ms);
    alloc_stats st;
    alloc_stats_get(&st);
    CHECK_EQ(st.live_blocks, 0);
}

TEST(file_sink_writes_the_same_bytes_as_memory)
{
    char path[] = "/tmp/pf_sink_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    pf_file_sink fs;
    errmsg e;
    CHECK_OK(pf_file_sink_open(&fs, path, &e));
    pf_seq s;
    pf_seq_cfg cfg = {.seq_id = 1, .ts_mode = PF_TS_INCREMENTAL, .default_track_uuid = 5,
                      .chunk_bytes = 256};
    CHECK_OK(pf_seq_init(&s, &cfg, pf_file_sink_get(&fs), NULL));
    write_many(&s, 400);
    CHECK_OK(pf_seq_flush(&s));
    CHECK_OK(pf_file_sink_close(&fs));
    CHECK(fs.chunks > 10);
    pf_seq_destroy(&s);
    pf_mem_sink ref;
    seq_open(&s, &ref, 1, PF_TS_INCREMENTAL, 5);
    write_many(&s, 400);
    CHECK_OK(pf_seq_flush(&s));
    pf_seq_destroy(&s);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    static uint8_t got[1 << 20];
    size_t n = fread(got, 1, sizeof got, f);
    fclose(f);
    unlink(path);
    CHECK_EQ(n, ref.buf.len);
    CHECK_EQ(fs.bytes, ref.buf.len);
    CHECK(memcmp(got, ref.buf.p, n) == 0);
    pf_mem_sink_free(&ref);
    CHECK_EQ(pf_file_sink_open(&fs, "/nonexistent-dir/x.pftrace", &e), SL_EIO);
    CHECK(strstr(e.text, "/nonexistent-dir/x.pftrace") != NULL);
}

TEST(memory_sink_refuses_to_pass_its_cap)
{
    pf_seq s;
    pf_mem_sink ms;
    pf_mem_sink_init(&ms, 1000);
    pf_seq_cfg cfg = {.seq_id = 1, .chunk_bytes = 300};
    CHECK_OK(pf_seq_init(&s, &cfg, pf_mem_sink_get(&ms), NULL));
    pf_site st = mk_site("a", "b", "c", 1);
    int rc = 0;
    for (int i = 0; i < 1000 && !rc; i++)
        rc = pf_seq_slice_begin(&s, 1, i, &st);
    CHECK_EQ(rc, SL_ETOOBIG);
    CHECK(ms.buf.len <= 1000);
    pf_seq_destroy(&s);
    pf_mem_sink_free(&ms);
}
