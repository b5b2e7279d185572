/*
 * test_pf_gen.c - trace generation over the synthetic source: order and
 * contiguity of threads, exact slice counts, determinism across pool sizes,
 * failures reported with a valid trace, cancel without leaks, unknown
 * process, empty and clipped ranges, bounded memory, progress events.
 *
 * Traces are decoded with tdec.h (written from the format rules, not from
 * the writer) and every track is checked to be balanced and in time order.
 */
#include "test.h"
#include "tdec.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "perfetto/pf_gen.h"
#include "perfetto/pf_synth.h"
#include "synth_util.h"

#include <pthread.h>
#include <stdatomic.h>

#define LANES_OF(nthreads) PF_GEN_THREAD_UUID(nthreads)

typedef struct run {
    pf_mem_sink ms;
    pf_gen_summary sum;
    int rc;
    pf_progress ev[512];
    char names[512][32];
    int nev;
} run;

static void on_progress(void *ctx, const pf_progress *p)
{
    run *r = ctx;
    if (r->nev < 512) {
        r->ev[r->nev] = *p;
        snprintf(r->names[r->nev], sizeof r->names[0], "%s", p->name ? p->name : "");
        r->ev[r->nev].name = r->names[r->nev];
        r->ev[r->nev].message = NULL;
        r->nev++;
    }
}

static void gen_cfg(pf_gen_cfg *g, unsigned jobs)
{
    pf_gen_cfg_init(g);
    g->jobs = jobs;
}

/* Generates the whole trace into memory; returns pf_gen_run's code. */
static int generate(run *r, pf_synth *s, pf_gen_cfg *g)
{
    memset(r, 0, sizeof *r);
    pf_mem_sink_init(&r->ms, (size_t)1 << 30);
    g->progress = on_progress;
    g->progress_ctx = r;
    pf_gen *gen;
    errmsg e;
    int rc = pf_gen_open(&gen, g, pf_synth_source(s), &e);
    if (rc)
        return rc;
    rc = pf_gen_run(gen, pf_mem_sink_get(&r->ms));
    r->sum = *pf_gen_get_summary(gen);
    pf_gen_close(gen);
    r->rc = rc;
    return rc;
}

static void decode(tdec *d, const run *r)
{
    memset(d, 0, sizeof *d);
    if (tdec_run(d, r->ms.buf.p, r->ms.buf.len))
        TEST_FAIL("decode: %s", d->err);
}

/* Sequence ids of the packets form runs 1, 2, 3, ... in order: each part contiguous. */
static void check_contiguous(const run *r, uint32_t nseq)
{
    rd x;
    tfield f, g;
    rd_init(&x, r->ms.buf.p, r->ms.buf.len);
    uint32_t cur = 0;
    while (tfield_next(&x, &f)) {
        rd q;
        rd_init(&q, f.p, f.n);
        uint32_t seq = 0;
        while (tfield_next(&q, &g))
            if (g.num == 10)
                seq = (uint32_t)g.v;
        if (seq != cur) {
            if (seq != cur + 1)
                TEST_FAIL("sequence %u follows %u: parts are not contiguous and in order", seq,
                          cur);
            cur = seq;
        }
    }
    CHECK_EQ(cur, nseq);
}

typedef struct track_sum {
    uint64_t uuid;
    uint64_t begins;
} track_sum;

static int by_track(const void *a, const void *b)
{
    const tev *x = *(tev *const *)a, *y = *(tev *const *)b;
    if (x->track != y->track)
        return x->track < y->track ? -1 : 1;
    return x < y ? -1 : x > y;
}

/*
 * Every track balanced and in time order; returns begins per track in
 * out (sorted by uuid), and the number of tracks.
 */
static size_t check_tracks(const tdec *d, track_sum *out, size_t max)
{
    const tev **v = sl_malloc((d->nev + 1) * sizeof *v);
    for (size_t i = 0; i < d->nev; i++)
        v[i] = &d->ev[i];
    qsort(v, d->nev, sizeof *v, by_track);
    size_t nt = 0;
    for (size_t i = 0; i < d->nev;) {
        uint64_t track = v[i]->track;
        int64_t depth = 0, last = INT64_MIN;
        uint64_t begins = 0;
        for (; i < d->nev && v[i]->track == track; i++) {
            if (v[i]->ts < last)
                TEST_FAIL("track %llu goes back in time", (unsigned long long)track);
            last = v[i]->ts;
            if (v[i]->type == 1) {
                depth++;
                begins++;
            } else if (--depth < 0) {
                TEST_FAIL("track %llu ends a slice it did not begin", (unsigned long long)track);
            }
        }
        if (depth != 0)
            TEST_FAIL("track %llu leaves %lld slices open", (unsigned long long)track,
                      (long long)depth);
        if (nt < max)
            out[nt] = (track_sum){track, begins};
        nt++;
    }
    sl_free(v);
    return nt;
}

static uint64_t begins_on(const track_sum *t, size_t n, uint64_t uuid)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].uuid == uuid)
            return t[i].begins;
    return 0;
}

static uint64_t lane_begins(const track_sum *t, size_t n, uint32_t nthreads)
{
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        if (t[i].uuid >= LANES_OF(nthreads))
            s += t[i].begins;
    return s;
}

TEST(threads_are_contiguous_in_order_and_complete)
{
    pf_synth s;
    synth(&s, 6, 3000, 2000);
    pf_gen_cfg g;
    gen_cfg(&g, 3);
    g.chunk_bytes = 4096; /* many chunks per thread ... */
    g.queue_chunks = 1;   /* ... and workers that must wait for the consumer */
    run r;
    CHECK_OK(generate(&r, &s, &g));
    check_contiguous(&r, 7);
    tdec d;
    decode(&d, &r);
    track_sum t[4096];
    size_t nt = check_tracks(&d, t, 4096);
    for (uint32_t i = 0; i < 6; i++)
        CHECK_EQ(begins_on(t, nt, PF_GEN_THREAD_UUID(i)), 3000);
    CHECK_EQ(lane_begins(t, nt, 6), 2000);
    CHECK_EQ(r.sum.thread_spans, 18000);
    CHECK_EQ(r.sum.async_spans, 2000);
    CHECK_EQ(r.sum.clamped, 0); /* the synthetic trees are valid: nothing to repair */
    CHECK_EQ(r.sum.threads_failed, 0);
    CHECK_EQ(r.sum.bytes, r.ms.buf.len);
    CHECK(r.ms.max_chunk_bytes <= 4096);
    /* descriptors: the process, its threads with their names */
    CHECK(d.desc[0].kind == 0 && d.desc[0].pid == 4321 && tstr_eq(d.desc[0].name, "synth-process"));
    int threads_seen = 0;
    for (size_t i = 0; i < d.ndesc; i++)
        if (d.desc[i].kind == 1) {
            char want[32];
            snprintf(want, sizeof want, threads_seen ? "worker-%d" : "main", threads_seen);
            CHECK_EQ(d.desc[i].tid, 1000 + threads_seen);
            CHECK_EQ(d.desc[i].parent, PF_GEN_PROCESS_UUID);
            CHECK(tstr_eq(d.desc[i].name, want));
            threads_seen++;
        }
    CHECK_EQ(threads_seen, 6);
    tdec_free(&d);
    pf_mem_sink_free(&r.ms);
    pf_synth_free(&s);
}

TEST(progress_announces_threads_in_order_with_names)
{
    pf_synth s;
    synth(&s, 5, 500, 100);
    pf_gen_cfg g;
    gen_cfg(&g, 2);
    run r;
    CHECK_OK(generate(&r, &s, &g));
    CHECK(r.nev >= 7);
    CHECK_EQ(r.ev[0].kind, PF_PROG_START);
    CHECK_EQ(r.ev[0].count, 5);
    CHECK_STR(r.ev[0].name, "synth-process");
    uint32_t next = 1;
    for (int i = 1; i < r.nev; i++) {
        if (r.ev[i].kind != PF_PROG_THREAD)
            continue;
        CHECK_EQ(r.ev[i].index, next);
        CHECK_EQ(r.ev[i].count, 5);
        CHECK_EQ(r.ev[i].tid, 1000 + next - 1);
        if (next == 1)
            CHECK_STR(r.ev[i].name, "main");
        next++;
    }
    CHECK_EQ(next, 6);
    /* the last event is the final byte count */
    CHECK_EQ(r.ev[r.nev - 1].kind, PF_PROG_BYTES);
    CHECK_EQ(r.ev[r.nev - 1].bytes, r.ms.buf.len);
    CHECK_EQ(r.ev[r.nev - 1].spans, 5 * 500 + 100);
    pf_mem_sink_free(&r.ms);
    pf_synth_free(&s);
}

TEST(same_bytes_whatever_the_pool_size)
{
    pf_synth s;
    synth(&s, 7, 2500, 3000);
    run ref;
    pf_gen_cfg g;
    gen_cfg(&g, 1);
    CHECK_OK(generate(&ref, &s, &g));
    unsigned jobs[] = {2, 3, 5};
    unsigned queue[] = {1, 2, 8};
    for (int k = 0; k < 3; k++) {
        run r;
        gen_cfg(&g, jobs[k]);
        g.queue_chunks = queue[k];
        g.lookahead = k + 1;
        CHECK_OK(generate(&r, &s, &g));
        CHECK_EQ(r.ms.buf.len, ref.ms.buf.len);
        CHECK(memcmp(r.ms.buf.p, ref.ms.buf.p, ref.ms.buf.len) == 0);
        pf_mem_sink_free(&r.ms);
    }
    /* the pull API hands out the same bytes */
    pf_gen *gen;
    errmsg e;
    gen_cfg(&g, 2);
    CHECK_OK(pf_gen_open(&gen, &g, pf_synth_source(&s), &e));
    dbuf all;
    dbuf_init(&all, (size_t)1 << 30);
    for (;;) {
        const uint8_t *p;
        size_t n;
        CHECK_OK(pf_gen_next_chunk(gen, &p, &n));
        if (!n)
            break;
        CHECK(n <= PF_CHUNK_BYTES_DEFAULT);
        CHECK_OK(dbuf_append(&all, p, n));
    }
    pf_gen_close(gen);
    CHECK_EQ(all.len, ref.ms.buf.len);
    CHECK(memcmp(all.p, ref.ms.buf.p, all.len) == 0);
    dbuf_free(&all);
    pf_mem_sink_free(&ref.ms);
    pf_synth_free(&s);
}

static void failing_thread(uint64_t fail_after)
{
    pf_synth_cfg c;
    pf_synth_cfg_init(&c);
    c.threads = 5;
    c.spans_per_thread = 4000;
    c.async_spans = 500;
    c.batch_rows = 256;
    c.fail_thread = 2;
    c.fail_after_rows = fail_after;
    pf_synth s;
    errmsg e;
    CHECK_OK(pf_synth_init(&s, &c, &e));
    pf_gen_cfg g;
    gen_cfg(&g, 2);
    run r;
    CHECK_OK(generate(&r, &s, &g)); /* a failed thread is not a failed trace */
    CHECK_EQ(r.sum.threads_failed, 1);
    int reported = 0;
    for (int i = 0; i < r.nev; i++)
        if (r.ev[i].kind == PF_PROG_FAILURE) {
            CHECK_EQ(r.ev[i].index, 3);
            CHECK_EQ(r.ev[i].code, SL_EIO);
            CHECK_STR(r.ev[i].name, "worker-2");
            reported++;
        }
    CHECK_EQ(reported, 1);
    check_contiguous(&r, 6);
    tdec d;
    decode(&d, &r);
    track_sum t[1024];
    size_t nt = check_tracks(&d, t, 1024);
    for (uint32_t i = 0; i < 5; i++)
        if (i != 2)
            CHECK_EQ(begins_on(t, nt, PF_GEN_THREAD_UUID(i)), 4000);
    /* the failed thread keeps what was read before the failure, closed */
    uint64_t got = begins_on(t, nt, PF_GEN_THREAD_UUID(2));
    CHECK(fail_after ? got >= fail_after && got < 4000 : got == 0);
    int described = 0;
    for (size_t i = 0; i < d.ndesc; i++)
        described += d.desc[i].kind == 1 && d.desc[i].tid == 1002;
    CHECK_EQ(described, 1);
    CHECK_EQ(r.sum.thread_spans, 4 * 4000 + got);
    tdec_free(&d);
    pf_mem_sink_free(&r.ms);
    pf_synth_free(&s);
}

TEST(a_thread_failing_midway_leaves_a_valid_trace_and_a_report)
{
    failing_thread(1000);
}

TEST(a_thread_failing_at_open_leaves_a_valid_trace_and_a_report)
{
    failing_thread(0);
}

typedef struct failing_sink {
    int left;
    int calls;
} failing_sink;

static int fail_after(void *ctx, const uint8_t *p, size_t n)
{
    (void)p;
    (void)n;
    failing_sink *f = ctx;
    f->calls++;
    return f->left-- > 0 ? SL_OK : SL_ENET;
}

TEST(a_sink_error_cancels_promptly_and_frees_everything)
{
    alloc_stats before, after;
    alloc_stats_get(&before);
    pf_synth_cfg c;
    pf_synth_cfg_init(&c);
    c.threads = 40;
    c.spans_per_thread = 200000; /* far more than will ever be read */
    c.async_spans = 100000;
    c.delay_us = 2000;
    pf_synth s;
    errmsg e;
    CHECK_OK(pf_synth_init(&s, &c, &e));
    pf_gen_cfg g;
    gen_cfg(&g, 3);
    pf_gen *gen;
    CHECK_OK(pf_gen_open(&gen, &g, pf_synth_source(&s), &e));
    failing_sink f = {3, 0};
    CHECK_EQ(pf_gen_run(gen, (pf_sink){fail_after, &f}), SL_ENET);
    CHECK_EQ(f.calls, 4);
    /* after a failure the generator stays failed */
    const uint8_t *p;
    size_t n;
    CHECK(pf_gen_next_chunk(gen, &p, &n) != 0);
    pf_gen_close(gen);
    pf_synth_free(&s);
    alloc_stats_get(&after);
    CHECK_EQ(after.live_blocks, before.live_blocks);
    CHECK_EQ(after.live_bytes, before.live_bytes);
}

typedef struct canceller {
    pf_gen *gen;
    int after;
} canceller;

static void cancel_on_progress(void *ctx, const pf_progress *p)
{
    canceller *c = ctx;
    if (p->kind == PF_PROG_THREAD && (int)p->index == c->after)
        pf_gen_cancel(c->gen);
}

static int discard(void *ctx, const uint8_t *p, size_t n)
{
    (void)ctx;
    (void)p;
    (void)n;
    return SL_OK;
}

TEST(an_explicit_cancel_stops_the_workers_without_leaks)
{
    alloc_stats before, after;
    alloc_stats_get(&before);
    pf_synth s;
    synth(&s, 30, 50000, 1000);
    s.cfg.delay_us = 500;
    pf_gen_cfg g;
    gen_cfg(&g, 2);
    canceller c = {NULL, 3};
    g.progress = cancel_on_progress;
    g.progress_ctx = &c;
    errmsg e;
    CHECK_OK(pf_gen_open(&c.gen, &g, pf_synth_source(&s), &e));
    CHECK_EQ(pf_gen_run(c.gen, (pf_sink){discard, NULL}), SL_ECANCELED);
    CHECK(pf_gen_get_summary(c.gen)->thread_spans < 30 * 50000ull);
    pf_gen_close(c.gen);
    pf_synth_free(&s);
    alloc_stats_get(&after);
    CHECK_EQ(after.live_blocks, before.live_blocks);
}

TEST(closing_before_reading_anything_is_clean)
{
    alloc_stats before, after;
    alloc_stats_get(&before);
    pf_synth s;
    synth(&s, 10, 100000, 1000);
    pf_gen_cfg g;
    gen_cfg(&g, 2);
    pf_gen *gen;
    errmsg e;
    CHECK_OK(pf_gen_open(&gen, &g, pf_synth_source(&s), &e));
    const uint8_t *p;
    size_t n;
    CHECK_OK(pf_gen_next_chunk(gen, &p, &n)); /* the workers are running now */
    CHECK(n > 0);
    pf_gen_close(gen);
    pf_synth_free(&s);
    alloc_stats_get(&after);
    CHECK_EQ(after.live_blocks, before.live_blocks);
}

TEST(an_unknown_process_fails_before_any_byte)
{
    alloc_stats before, after;
    alloc_stats_get(&before);
    pf_synth s;
    synth(&s, 3, 10, 10);
    s.cfg.unknown_process = 1;
    pf_gen_cfg g;
    gen_cfg(&g, 2);
    pf_gen *gen = (pf_gen *)&s;
    errmsg e;
    errmsg_clear(&e);
    CHECK_EQ(pf_gen_open(&gen, &g, pf_synth_source(&s), &e), SL_ENOTFOUND);
    CHECK(gen == NULL);
    CHECK(strstr(e.text, "4321") != NULL);
    pf_synth_free(&s);
    alloc_stats_get(&after);
    CHECK_EQ(after.live_blocks, before.live_blocks);
}

TEST(an_empty_range_gives_just_the_descriptors)
{
    pf_synth s;
    synth(&s, 4, 2000, 2000);
    pf_gen_cfg g;
    gen_cfg(&g, 2);
    g.has_begin = g.has_end = 1;
    g.begin_ns = s.cfg.base_ns - 2000000000ll; /* a range before all data */
    g.end_ns = s.cfg.base_ns - 1000000000ll;
    run r;
    CHECK_OK(generate(&r, &s, &g));
    tdec d;
    decode(&d, &r);
    CHECK_EQ(d.nev, 0);
    CHECK_EQ(d.ndesc, 5);
    CHECK_EQ(r.sum.thread_spans + r.sum.async_spans, 0);
    tdec_free(&d);
    pf_mem_sink_free(&r.ms);
    /* an inverted range is empty too */
    g.begin_ns = s.cfg.base_ns + 1000;
    g.end_ns = s.cfg.base_ns;
    CHECK_OK(generate(&r, &s, &g));
    decode(&d, &r);
    CHECK_EQ(d.ndesc, 5);
    CHECK_EQ(d.nev, 0);
    tdec_free(&d);
    pf_mem_sink_free(&r.ms);
    pf_synth_free(&s);
}

TEST(kinds_select_thread_or_async_spans)
{
    pf_synth s;
    synth(&s, 3, 700, 900);
    pf_gen_cfg g;
    gen_cfg(&g, 2);
    CHECK_OK(pf_gen_kinds_parse("async", &g.kinds));
    CHECK_EQ(g.kinds, PF_KIND_ASYNC);
    unsigned k;
    CHECK_EQ(pf_gen_kinds_parse("threads", &k), SL_EINVAL);
    run r;
    CHECK_OK(generate(&r, &s, &g));
    CHECK_EQ(r.sum.thread_spans, 0);
    CHECK_EQ(r.sum.async_spans, 900);
    CHECK_EQ(r.sum.threads, 0);
    tdec d;
    decode(&d, &r);
    for (size_t i = 0; i < d.ndesc; i++)
        CHECK(d.desc[i].kind != 1);
    tdec_free(&d);
    pf_mem_sink_free(&r.ms);
    CHECK_OK(pf_gen_kinds_parse("thread", &g.kinds));
    CHECK_OK(generate(&r, &s, &g));
    CHECK_EQ(r.sum.thread_spans, 2100);
    CHECK_EQ(r.sum.async_spans, 0);
    pf_mem_sink_free(&r.ms);
    pf_synth_free(&s);
}

/* ---- async clipping ------------------------------------------------------ */

typedef struct slice {
    int64_t b, e;
    uint32_t line;
} slice;

static int slice_cmp(const void *a, const void *b)
{
    const slice *x = a, *y = b;
    if (x->b != y->b)
        return x->b < y->b ? -1 : 1;
    if (x->e != y->e)
        return x->e < y->e ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* Every async span of the source, paired from its events (ids are 1..N). */
static slice *all_async(pf_synth *s, uint64_t n)
{
    slice *v = sl_calloc(n + 1, sizeof *v);
    const pf_source_ops *ops = pf_synth_source(s).ops;
    pf_read_req req = {INT64_MIN, INT64_MAX, NULL};
    void *rdr;
    errmsg e;
    int filter = s->cfg.filter_range;
    s->cfg.filter_range = 0;
    CHECK_OK(ops->async_open(s, &req, &rdr, &e));
    for (;;) {
        pf_async_events ev;
        CHECK_OK(ops->async_next(rdr, &ev, &e));
        if (!ev.n)
            break;
        for (size_t i = 0; i < ev.n; i++) {
            slice *x = &v[ev.span_id[i]];
            if (ev.kind[i] == PF_EV_BEGIN)
                x->b = ev.time_ns[i];
            else
                x->e = ev.time_ns[i];
            x->line = ev.sites[ev.site_idx[i]].line;
        }
    }
    ops->async_close(rdr);
    s->cfg.filter_range = filter;
    return v;
}

/* Slices on lane tracks, paired per track. */
static size_t lane_slices(const tdec *d, uint64_t lanes_from, slice *out, size_t max)
{
    size_t n = 0;
    const tev **v = sl_malloc((d->nev + 1) * sizeof *v);
    for (size_t i = 0; i < d->nev; i++)
        v[i] = &d->ev[i];
    qsort(v, d->nev, sizeof *v, by_track);
    const tev *stk[4096];
    int sp = 0;
    for (size_t i = 0; i < d->nev; i++) {
        if (v[i]->track < lanes_from)
            continue;
        if (i > 0 && v[i - 1]->track != v[i]->track)
            sp = 0;
        if (v[i]->type == 1) {
            if (sp < 4096)
                stk[sp++] = v[i];
        } else if (sp > 0 && n < max) {
            const tev *b = stk[--sp];
            out[n++] = (slice){b->ts, v[i]->ts, b->line};
        }
    }
    sl_free(v);
    return n;
}

static void clipped_async(int filter)
{
    pf_synth s;
    synth(&s, 2, 3000, 4000);
    s.cfg.filter_range = filter;
    uint64_t n = s.cfg.async_spans;
    slice *all = all_async(&s, n);
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (uint64_t i = 1; i <= n; i++) {
        lo = all[i].b < lo ? all[i].b : lo;
        hi = all[i].e > hi ? all[i].e : hi;
    }
    int64_t rb = lo + (hi - lo) / 3, re = lo + 2 * (hi - lo) / 3;
    slice *want = sl_calloc(n, sizeof *want);
    size_t nw = 0, cut_b = 0, cut_e = 0;
    for (uint64_t i = 1; i <= n; i++) {
        slice x = all[i];
        int in_b = x.b >= rb && x.b <= re, in_e = x.e >= rb && x.e <= re;
        /* The lake (filter) only has events inside the range; a span covering
         * the whole range has none there.  Unfiltered, the generator clips. */
        int keep = filter ? (in_b || in_e) : (x.b <= re && x.e >= rb);
        if (!keep)
            continue;
        cut_b += x.b < rb;
        cut_e += x.e > re;
        want[nw++] = (slice){x.b < rb ? rb : x.b, x.e > re ? re : x.e, x.line};
    }
    CHECK(cut_b > 0 && cut_e > 0); /* the range really cuts spans at both ends */
    pf_gen_cfg g;
    gen_cfg(&g, 2);
    g.has_begin = g.has_end = 1;
    g.begin_ns = rb;
    g.end_ns = re;
    run r;
    CHECK_OK(generate(&r, &s, &g));
    tdec d;
    decode(&d, &r);
    track_sum t[4096];
    size_t nt = check_tracks(&d, t, 4096);
    slice *got = sl_calloc(n + 1, sizeof *got);
    size_t ng = lane_slices(&d, LANES_OF(2), got, n);
    CHECK_EQ(ng, nw);
    CHECK_EQ(r.sum.async_spans, nw);
    if (filter) /* ends whose begin the source never gave */
        CHECK(r.sum.async_begun_earlier > 0);
    qsort(want, nw, sizeof *want, slice_cmp);
    qsort(got, ng, sizeof *got, slice_cmp);
    for (size_t i = 0; i < nw; i++)
        if (slice_cmp(&want[i], &got[i]))
            TEST_FAIL("async slice %zu: [%lld, %lld] line %u, expected [%lld, %lld] line %u", i,
                      (long long)got[i].b, (long long)got[i].e, got[i].line,
                      (long long)want[i].b, (long long)want[i].e, want[i].line);
    CHECK_EQ(r.sum.clamped, 0); /* cutting to the range keeps every tree valid */
    /* thread spans: those overlapping the range, cut to it */
    for (uint32_t i = 0; i < 2; i++)
        CHECK_EQ(begins_on(t, nt, PF_GEN_THREAD_UUID(i)), pf_synth_thread_count(&s, i, rb, re));
    for (size_t i = 0; i < d.nev; i++)
        CHECK(d.ev[i].ts >= rb && d.ev[i].ts <= re);
    sl_free(want);
    sl_free(got);
    sl_free(all);
    tdec_free(&d);
    pf_mem_sink_free(&r.ms);
    pf_synth_free(&s);
}

TEST(async_spans_are_clipped_to_the_range_from_a_filtering_source)
{
    clipped_async(1);
}

TEST(async_spans_are_clipped_to_the_range_from_an_unfiltered_source)
{
    clipped_async(0);
}

TEST(a_small_async_window_forces_long_spans_and_keeps_every_slice)
{
    pf_synth s;
    synth(&s, 1, 10, 20000);
    pf_gen_cfg g;
    gen_cfg(&g, 2);
    g.async_window = 64;
    run r;
    CHECK_OK(generate(&r, &s, &g));
    CHECK(r.sum.async_forced > 0);
    CHECK_EQ(r.sum.async_spans, 20000);
    tdec d;
    decode(&d, &r);
    slice *all = all_async(&s, 20000);
    slice *got = sl_calloc(20001, sizeof *got);
    size_t ng = lane_slices(&d, LANES_OF(1), got, 20000);
    CHECK_EQ(ng, 20000);
    track_sum t[8192];
    check_tracks(&d, t, 8192);
    qsort(all + 1, 20000, sizeof *all, slice_cmp);
    qsort(got, ng, sizeof *got, slice_cmp);
    for (size_t i = 0; i < ng; i++)
        CHECK(slice_cmp(&all[i + 1], &got[i]) == 0);
    sl_free(all);
    sl_free(got);
    tdec_free(&d);
    pf_mem_sink_free(&r.ms);
    pf_synth_free(&s);
}

/* ---- memory ---------------------------------------------------------------- */

typedef struct sampler {
    atomic_int stop;
    int64_t peak;
    int64_t base;
} sampler;

/* Watches the allocator's live bytes while the generator runs. */
static void *sample(void *arg)
{
    sampler *s = arg;
    while (!atomic_load(&s->stop)) {
        alloc_stats st;
        alloc_stats_get(&st);
        if (st.live_bytes - s->base > s->peak)
            s->peak = st.live_bytes - s->base;
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

typedef struct counter {
    uint64_t bytes;
} counter;

static int count_bytes(void *ctx, const uint8_t *p, size_t n)
{
    (void)p;
    ((counter *)ctx)->bytes += n;
    return SL_OK;
}

TEST(memory_stays_bounded_whatever_the_trace_size)
{
    pf_synth s;
    synth(&s, 16, 150000, 200000);
    s.cfg.batch_rows = 4096;
    pf_gen_cfg g;
    gen_cfg(&g, 2);
    sampler sm = {0};
    alloc_stats st;
    alloc_stats_get(&st);
    sm.base = st.live_bytes;
    pthread_t th;
    pthread_create(&th, NULL, sample, &sm);
    pf_gen *gen;
    errmsg e;
    CHECK_OK(pf_gen_open(&gen, &g, pf_synth_source(&s), &e));
    counter c = {0};
    CHECK_OK(pf_gen_run(gen, (pf_sink){count_bytes, &c}));
    pf_gen_summary sum = *pf_gen_get_summary(gen);
    pf_gen_close(gen);
    atomic_store(&sm.stop, 1);
    pthread_join(th, NULL);
    CHECK_EQ(sum.thread_spans, 16 * 150000ull);
    CHECK_EQ(sum.async_spans, 200000);
    CHECK_EQ(c.bytes, sum.bytes);
    /* (jobs + lookahead) parts * (queue + 1) chunks, plus the one handed out */
    uint64_t chunk = PF_CHUNK_BYTES_DEFAULT + sizeof(void *) * 2;
    uint64_t chunks_bound = (2 + 2) * (PF_GEN_QUEUE_CHUNKS_DEFAULT + 1) * chunk + 2 * chunk;
    CHECK(sum.peak_chunk_bytes <= chunks_bound);
    /* Everything the generator and the source hold: chunks, 2 encoders
     * (staging, interning), readers' batches, the async window: the chunk
     * bound plus 4 MiB, while the trace is 80 MB. */
    fprintf(stderr, "  trace %llu bytes, peak held %lld bytes, chunk buffers %llu bytes\n",
            (unsigned long long)sum.bytes, (long long)sm.peak,
            (unsigned long long)sum.peak_chunk_bytes);
    CHECK(sum.bytes > 60ull << 20);
    CHECK(sm.peak < (int64_t)chunks_bound + (4ll << 20));
    CHECK(chunks_bound + (4ull << 20) < sum.bytes / 4);
    pf_synth_free(&s);
}
