/*
 * test_pf_lanes.c - lane assignment for async spans, and the async writer.
 *
 * The central property is checked by brute force on every lane: any two
 * spans are disjoint or one contains the other, and when one contains the
 * other, it is its ancestor (we never show nesting that is not real).
 */
#include "test.h"
#include "tdec.h"

#include "base/alloc.h"
#include "perfetto/pf_lanes.h"
#include "perfetto/pf_spans.h"

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* True when span anc is an ancestor of span i (following parent ids). */
static int is_ancestor(const pf_async_span *sp, size_t n, size_t anc, size_t i)
{
    uint64_t p = sp[i].parent_span_id;
    for (int hops = 0; p && hops < 1000; hops++) {
        if (p == sp[anc].span_id)
            return 1;
        size_t k = n;
        for (size_t j = 0; j < n; j++)
            if (sp[j].span_id == p)
                k = j;
        if (k == n)
            return 0;
        p = sp[k].parent_span_id;
    }
    return 0;
}

/* Spans sharing a lane are disjoint, or nested with the outer one an ancestor. */
static void check_lanes(const pf_async_span *sp, size_t n, const uint32_t *lane)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            if (lane[i] != lane[j])
                continue;
            const pf_async_span *a = &sp[i], *b = &sp[j];
            int disjoint = a->end_ns <= b->begin_ns || b->end_ns <= a->begin_ns;
            int a_in_b = b->begin_ns <= a->begin_ns && a->end_ns <= b->end_ns;
            int b_in_a = a->begin_ns <= b->begin_ns && b->end_ns <= a->end_ns;
            if (disjoint)
                continue;
            if (!(a_in_b || b_in_a))
                TEST_FAIL("spans %zu and %zu overlap on lane %u", i, j, lane[i]);
            size_t outer = b_in_a ? i : j, inner = b_in_a ? j : i;
            if (!is_ancestor(sp, n, outer, inner))
                TEST_FAIL("span %zu is nested under unrelated span %zu", inner, outer);
        }
}

TEST(children_share_their_parents_lane)
{
    /* root [0,100] { a [10,50] { aa [20,30] }, b [60,90] } */
    pf_async_span sp[] = {{1, 0, 0, 100}, {2, 1, 10, 50}, {3, 2, 20, 30}, {4, 1, 60, 90}};
    uint32_t lane[4], nl;
    CHECK_OK(pf_lanes_assign(sp, 4, lane, &nl, NULL));
    CHECK_EQ(nl, 1);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(lane[i], 0);
}

TEST(overlapping_siblings_get_their_own_lanes)
{
    /* root [0,100] with three children overlapping each other */
    pf_async_span sp[] = {{1, 0, 0, 100}, {2, 1, 10, 50}, {3, 1, 20, 60}, {4, 1, 30, 70},
                          {5, 3, 35, 40}};
    uint32_t lane[5], nl;
    CHECK_OK(pf_lanes_assign(sp, 5, lane, &nl, NULL));
    check_lanes(sp, 5, lane);
    CHECK_EQ(lane[1], lane[0]); /* the first child nests in the root */
    CHECK(lane[2] != lane[0] && lane[3] != lane[0] && lane[2] != lane[3]);
    CHECK_EQ(lane[4], lane[2]); /* the grandchild follows its own parent */
    CHECK_EQ(nl, 3);
}

TEST(a_child_that_outlives_its_parent_moves_off)
{
    pf_async_span sp[] = {{1, 0, 0, 100}, {2, 1, 50, 150}, {3, 0, 120, 130}};
    uint32_t lane[3], nl;
    CHECK_OK(pf_lanes_assign(sp, 3, lane, &nl, NULL));
    check_lanes(sp, 3, lane);
    CHECK(lane[1] != lane[0]);
    CHECK_EQ(lane[2], 0); /* lane 0 is free again after the root ended */
    CHECK_EQ(nl, 2);
}

TEST(no_nesting_under_unrelated_spans)
{
    /* b lies inside a in time but is not its child: it must not nest there */
    pf_async_span sp[] = {{1, 0, 0, 100}, {2, 0, 10, 20}};
    uint32_t lane[2], nl;
    CHECK_OK(pf_lanes_assign(sp, 2, lane, &nl, NULL));
    CHECK(lane[0] != lane[1]);
}

TEST(touching_spans_share_a_lane)
{
    pf_async_span sp[] = {{1, 0, 0, 10}, {2, 0, 10, 20}, {3, 0, 20, 20}, {4, 0, 20, 30}};
    uint32_t lane[4], nl;
    CHECK_OK(pf_lanes_assign(sp, 4, lane, &nl, NULL));
    CHECK_EQ(nl, 1);
    /* a zero-length child at its parent's very end still nests */
    pf_async_span sq[] = {{1, 0, 0, 10}, {2, 1, 10, 10}};
    CHECK_OK(pf_lanes_assign(sq, 2, lane, &nl, NULL));
    CHECK_EQ(nl, 1);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

TEST(many_concurrent_spans_use_exactly_their_peak_concurrency)
{
    /* Root spans only: greedy lowest-free-lane colouring is optimal, so the
       lane count equals the largest number of spans open at one instant. */
    enum { N = 20000 };
    static pf_async_span sp[N];
    static uint32_t lane[N];
    int64_t t = 0;
    for (size_t i = 0; i < N; i++) {
        t += (int64_t)(rnd() % 10);
        sp[i] = (pf_async_span){i + 1, 0, t, t + 1 + (int64_t)(rnd() % 5000)};
    }
    uint32_t nl;
    CHECK_OK(pf_lanes_assign(sp, N, lane, &nl, NULL));
    /* peak concurrency by sweeping (ends before begins at equal times) */
    static int64_t ev[2 * N];
    for (size_t i = 0; i < N; i++) {
        ev[2 * i] = sp[i].begin_ns * 2 + 1;
        ev[2 * i + 1] = sp[i].end_ns * 2;
    }
    qsort(ev, 2 * N, sizeof ev[0], cmp_i64);
    int cur = 0, peak = 0;
    for (size_t i = 0; i < 2 * N; i++) {
        cur += (ev[i] & 1) ? 1 : -1;
        if (cur > peak)
            peak = cur;
    }
    CHECK_EQ(nl, (uint32_t)peak);
    CHECK(nl > 100);
    /* validity on a sample of lanes (the full pairwise check is quadratic) */
    static pf_async_span sub[N];
    static uint32_t sublane[N];
    size_t m = 0;
    for (size_t i = 0; i < N; i++)
        if (lane[i] % 37 == 0) {
            sub[m] = sp[i];
            sublane[m++] = lane[i];
        }
    check_lanes(sub, m, sublane);
}

/* Random forests of async spans: children inside or overlapping parents. */
static size_t random_forest(pf_async_span *sp, size_t cap)
{
    size_t n = 0;
    int64_t t = 0;
    while (n < cap) {
        t += (int64_t)(rnd() % 50);
        size_t parent = n > 0 && rnd() % 3 ? n - 1 - (size_t)(rnd() % (n < 8 ? n : 8)) : SIZE_MAX;
        int64_t b = t;
        int64_t e = b + (int64_t)(rnd() % 400);
        uint64_t pid = 0;
        if (parent != SIZE_MAX && sp[parent].end_ns >= b) {
            pid = sp[parent].span_id;
            if (rnd() % 4) /* mostly inside the parent, sometimes outliving it */
                e = b + (int64_t)(rnd() % (uint64_t)(sp[parent].end_ns - b + 1));
        }
        sp[n] = (pf_async_span){n + 1, pid, b, e};
        n++;
    }
    return n;
}

TEST(random_forests_give_valid_lanes)
{
    static pf_async_span sp[1500];
    static uint32_t lane[1500];
    for (int round = 0; round < 20; round++) {
        size_t n = random_forest(sp, 300 + (size_t)round * 60);
        uint32_t nl;
        CHECK_OK(pf_lanes_assign(sp, n, lane, &nl, NULL));
        check_lanes(sp, n, lane);
        size_t on_parent = 0, with_parent = 0;
        for (size_t i = 0; i < n; i++)
            if (sp[i].parent_span_id) {
                with_parent++;
                on_parent += lane[i] == lane[sp[i].parent_span_id - 1];
            }
        CHECK(on_parent > 0 && on_parent <= with_parent);
    }
}

TEST(bad_input_is_refused_with_a_reason)
{
    pf_async_span unsorted[] = {{1, 0, 10, 20}, {2, 0, 5, 30}};
    uint32_t lane[2], nl;
    errmsg e;
    CHECK_EQ(pf_lanes_assign(unsorted, 2, lane, &nl, &e), SL_EINVAL);
    CHECK(strstr(e.text, "sorted") != NULL);
    pf_async_span backwards[] = {{1, 0, 10, 5}};
    CHECK_EQ(pf_lanes_assign(backwards, 1, lane, &nl, &e), SL_EINVAL);
    CHECK(strstr(e.text, "ends") != NULL);
}

TEST(caps_bound_memory)
{
    pf_lanes l;
    pf_lanes_init(&l, 100, 10, NULL, NULL);
    uint32_t lane;
    int rc = 0;
    for (uint64_t i = 0; i < 50 && !rc; i++) {
        pf_async_span s = {i + 1, 0, (int64_t)i, 1000};
        rc = pf_lanes_place(&l, &s, &lane);
    }
    CHECK_EQ(rc, SL_ETOOBIG); /* the 11th concurrent root needs an 11th lane */
    CHECK_EQ(l.nlanes, 10);
    pf_lanes_destroy(&l);
    pf_lanes_init(&l, 5, 0, NULL, NULL);
    rc = 0;
    for (uint64_t i = 0; i < 50 && !rc; i++) {
        pf_async_span s = {i + 1, i, (int64_t)i, 1000 - (int64_t)i};
        rc = pf_lanes_place(&l, &s, &lane);
    }
    CHECK_EQ(rc, SL_ETOOBIG);
    CHECK_EQ(l.nopen, 5);
    pf_lanes_destroy(&l);
}

typedef struct end_log {
    int64_t last;
    uint64_t n;
    int bad;
} end_log;

static int on_end(void *ctx, uint32_t lane, uint64_t id, int64_t end_ns)
{
    (void)lane, (void)id;
    end_log *el = ctx;
    if (end_ns < el->last)
        el->bad = 1;
    el->last = end_ns;
    el->n++;
    return 0;
}

TEST(ends_come_out_in_time_order_and_memory_follows_open_spans)
{
    static pf_async_span sp[20000];
    size_t n = random_forest(sp, 20000);
    end_log el = {INT64_MIN, 0, 0};
    pf_lanes l;
    pf_lanes_init(&l, 0, 0, on_end, &el);
    uint32_t lane, peak_open = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK_OK(pf_lanes_place(&l, &sp[i], &lane));
        /* every span still open ends at or after the latest begin */
        CHECK(el.n == 0 || el.last <= sp[i].begin_ns);
        if (l.nopen > peak_open)
            peak_open = l.nopen;
    }
    CHECK_OK(pf_lanes_finish(&l));
    CHECK(!el.bad);
    CHECK_EQ(el.n, n);
    CHECK_EQ(l.nopen, 0);
    CHECK_EQ(l.map.n, 0);
    CHECK(peak_open < n / 10); /* streaming: far fewer open than total */
    pf_lanes_destroy(&l);
}

TEST(duplicate_and_zero_ids_are_tolerated)
{
    pf_async_span sp[] = {{0, 0, 0, 10}, {7, 0, 1, 10}, {7, 0, 2, 10}, {8, 7, 3, 5}, {0, 7, 4, 5}};
    uint32_t lane[5], nl;
    CHECK_OK(pf_lanes_assign(sp, 5, lane, &nl, NULL));
    /* the second 7 cannot be a parent; 8 nests in the first 7; the last span
       finds the first 7 covered by its sibling 8 and takes a new lane */
    CHECK(lane[0] == 0 && lane[1] == 1 && lane[2] == 2 && lane[3] == 1 && lane[4] == 3);
    CHECK_EQ(nl, 4);
}

/* ---- the async writer --------------------------------------------------- */

TEST(async_writer_puts_lanes_under_the_process)
{
    pf_seq s;
    pf_mem_sink ms;
    pf_seq_cfg cfg = {.seq_id = 9, .ts_mode = PF_TS_INCREMENTAL};
    pf_mem_sink_init(&ms, 1 << 26);
    CHECK_OK(pf_seq_init(&s, &cfg, pf_mem_sink_get(&ms), NULL));
    CHECK_OK(pf_seq_process_track(&s, 1, 100, "proc", 4));
    static pf_async_span sp[3000];
    size_t n = random_forest(sp, 3000);
    static int64_t b[3000], en[3000];
    static uint64_t id[3000], par[3000];
    static uint32_t idx[3000];
    pf_site sites[3] = {{"rpc", "net", "r.c", 3, 3, 3, 1, 0},
                        {"db", "sql", "d.c", 2, 3, 3, 2, 0},
                        {"cb", "app", "c.c", 2, 3, 3, 3, 0}};
    for (size_t i = 0; i < n; i++) {
        b[i] = sp[i].begin_ns + 1700000000000000000ll;
        en[i] = sp[i].end_ns + 1700000000000000000ll;
        id[i] = sp[i].span_id;
        par[i] = sp[i].parent_span_id;
        idx[i] = (uint32_t)(i % 3);
    }
    pf_async_writer aw;
    pf_async_writer_init(&aw, &s, 1, 1000, "async");
    errmsg e;
    for (size_t off = 0; off < n; off += 700) { /* several batches */
        size_t k = n - off < 700 ? n - off : 700;
        pf_span_rows rows = {.n = k, .begin_ns = b + off, .end_ns = en + off,
                             .span_id = id + off, .parent_span_id = par + off,
                             .site_idx = idx + off, .sites = sites, .n_sites = 3};
        CHECK_OK(pf_async_writer_add(&aw, &rows, &e));
    }
    CHECK_OK(pf_async_writer_finish(&aw, &e));
    CHECK_OK(pf_seq_flush(&s));
    tdec d;
    memset(&d, 0, sizeof d);
    if (tdec_run(&d, ms.buf.p, ms.buf.len))
        TEST_FAIL("decode: %s", d.err);
    CHECK_EQ(d.nev, 2 * n);
    CHECK_EQ(d.ndesc, 1 + aw.lanes.nlanes);
    for (size_t i = 1; i < d.ndesc; i++) {
        char want[32];
        snprintf(want, sizeof want, "async %zu", i - 1);
        CHECK(tstr_eq(d.desc[i].name, want));
        CHECK_EQ(d.desc[i].parent, 1);
        CHECK_EQ(d.desc[i].uuid, 1000 + i - 1);
        CHECK_EQ(d.desc[i].merge, 2);
    }
    /* per lane: times never go back, begin/end pair up, nesting is proper */
    for (uint32_t ln = 0; ln < aw.lanes.nlanes; ln++) {
        int depth = 0;
        int64_t last = INT64_MIN;
        for (size_t i = 0; i < d.nev; i++) {
            if (d.ev[i].track != 1000 + ln)
                continue;
            CHECK(d.ev[i].ts >= last);
            last = d.ev[i].ts;
            depth += d.ev[i].type == 1 ? 1 : -1;
            CHECK(depth >= 0);
        }
        CHECK_EQ(depth, 0);
    }
    /* globally ordered output keeps the incremental clock compact */
    CHECK_EQ(s.stats.abs_fallbacks, 0);
    tdec_free(&d);
    pf_async_writer_destroy(&aw);
    pf_seq_destroy(&s);
    pf_mem_sink_free(&ms);
}
