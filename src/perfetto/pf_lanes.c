/*
 * pf_lanes.c - greedy lane assignment for async spans (see pf_lanes.h).
 *
 * Three structures, all proportional to open spans or lanes:
 *  - per lane, a stack of its open spans (innermost on top);
 *  - a binary min-heap of the non-empty lanes keyed by the end of their top
 *    span: the next span to close anywhere is the top of the heap's first
 *    lane, because on a lane the top ends first (children end no later than
 *    their parents);
 *  - a map from open span id to lane (pf_idmap.h) for the parent lookup.
 * Empty lanes are found with a bitmap, lowest index first, so lanes are
 * reused in a stable order and lane 0 is the busiest.
 */
#include "perfetto/pf_lanes.h"

#include "base/alloc.h"
#include "perfetto/pf_idmap.h"

#include <string.h>

#define NO_LANE PF_IDMAP_NONE

void pf_lanes_init(pf_lanes *l, uint32_t max_open, uint32_t max_lanes, pf_lane_end_fn on_end,
                   void *ctx)
{
    memset(l, 0, sizeof *l);
    l->max_open = max_open ? max_open : PF_LANES_MAX_OPEN_DEFAULT;
    l->max_lanes = max_lanes ? max_lanes : PF_LANES_MAX_DEFAULT;
    l->on_end = on_end;
    l->ctx = ctx;
    errmsg_clear(&l->emsg);
}

void pf_lanes_destroy(pf_lanes *l)
{
    for (uint32_t i = 0; i < l->nlanes; i++)
        sl_free(l->lanes[i].stk);
    sl_free(l->lanes);
    sl_free(l->heap);
    sl_free(l->heap_pos);
    sl_free(l->free_bits);
    pf_idmap_free(&l->map);
    memset(l, 0, sizeof *l);
}

/* ---- heap of lanes by the end of their top span ----------------------- */

static int64_t top_end(const pf_lanes *l, uint32_t lane)
{
    const pf_lane *ln = &l->lanes[lane];
    return ln->stk[ln->n - 1].end_ns;
}

static void heap_set(pf_lanes *l, uint32_t i, uint32_t lane)
{
    l->heap[i] = lane;
    l->heap_pos[lane] = i;
}

static void sift_up(pf_lanes *l, uint32_t i)
{
    uint32_t lane = l->heap[i];
    int64_t key = top_end(l, lane);
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (top_end(l, l->heap[p]) <= key)
            break;
        heap_set(l, i, l->heap[p]);
        i = p;
    }
    heap_set(l, i, lane);
}

static void sift_down(pf_lanes *l, uint32_t i)
{
    uint32_t lane = l->heap[i];
    int64_t key = top_end(l, lane);
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= l->nheap)
            break;
        if (c + 1 < l->nheap && top_end(l, l->heap[c + 1]) < top_end(l, l->heap[c]))
            c++;
        if (key <= top_end(l, l->heap[c]))
            break;
        heap_set(l, i, l->heap[c]);
        i = c;
    }
    heap_set(l, i, lane);
}

static void heap_remove(pf_lanes *l, uint32_t lane)
{
    uint32_t i = l->heap_pos[lane];
    l->heap_pos[lane] = NO_LANE;
    uint32_t last = l->heap[--l->nheap];
    if (i == l->nheap)
        return;
    heap_set(l, i, last);
    sift_up(l, i);
    sift_down(l, l->heap_pos[last]);
}

/* ---- lanes ------------------------------------------------------------ */

static void set_free(pf_lanes *l, uint32_t lane, int is_free)
{
    uint64_t bit = 1ull << (lane & 63);
    if (is_free)
        l->free_bits[lane >> 6] |= bit;
    else
        l->free_bits[lane >> 6] &= ~bit;
}

static uint32_t lowest_free(const pf_lanes *l)
{
    for (uint32_t w = 0; w < (l->nlanes + 63) / 64; w++)
        if (l->free_bits[w])
            return w * 64 + (uint32_t)__builtin_ctzll(l->free_bits[w]);
    return NO_LANE;
}

static int add_lane(pf_lanes *l, uint32_t *lane_out)
{
    if (l->nlanes >= l->max_lanes)
        return errmsg_set(&l->emsg, SL_ETOOBIG, "async spans need more than %u lanes",
                          l->max_lanes);
    if (l->nlanes == l->lanes_cap) {
        uint32_t ncap = l->lanes_cap ? l->lanes_cap * 2 : 16;
        pf_lane *nl = sl_realloc(l->lanes, (size_t)ncap * sizeof *nl);
        if (nl)
            l->lanes = nl;
        uint32_t *nh = nl ? sl_realloc(l->heap, (size_t)ncap * sizeof *nh) : NULL;
        if (nh)
            l->heap = nh;
        uint32_t *np = nh ? sl_realloc(l->heap_pos, (size_t)ncap * sizeof *np) : NULL;
        if (np)
            l->heap_pos = np;
        uint64_t *nf = np ? sl_realloc(l->free_bits, (size_t)(ncap / 64 + 1) * sizeof *nf) : NULL;
        if (!nf)
            return errmsg_set(&l->emsg, SL_ENOMEM, "no memory for %u lanes", ncap);
        l->free_bits = nf;
        for (uint32_t w = (l->lanes_cap + 63) / 64; w < ncap / 64 + 1; w++)
            nf[w] = 0;
        l->lanes_cap = ncap;
    }
    uint32_t lane = l->nlanes++;
    l->lanes[lane] = (pf_lane){0};
    l->heap_pos[lane] = NO_LANE;
    set_free(l, lane, 1);
    *lane_out = lane;
    return SL_OK;
}

/* Closes the top span of lane and reports it. */
static int pop(pf_lanes *l, uint32_t lane)
{
    pf_lane *ln = &l->lanes[lane];
    pf_lane_ent e = ln->stk[--ln->n];
    l->nopen--;
    if (e.in_map)
        pf_idmap_del(&l->map, e.span_id);
    if (ln->n == 0) {
        heap_remove(l, lane);
        set_free(l, lane, 1);
    } else {
        sift_down(l, l->heap_pos[lane]); /* the new top ends no earlier */
    }
    if (l->on_end)
        return l->on_end(l->ctx, lane, e.span_id, e.end_ns);
    return SL_OK;
}

static int push(pf_lanes *l, uint32_t lane, const pf_async_span *s)
{
    if (l->nopen >= l->max_open)
        return errmsg_set(&l->emsg, SL_ETOOBIG, "more than %u async spans open at once",
                          l->max_open);
    pf_lane *ln = &l->lanes[lane];
    if (ln->n == ln->cap) {
        uint32_t ncap = ln->cap ? ln->cap * 2 : 8;
        pf_lane_ent *ns = sl_realloc(ln->stk, (size_t)ncap * sizeof *ns);
        if (!ns)
            return errmsg_set(&l->emsg, SL_ENOMEM, "no memory for a lane stack");
        ln->stk = ns;
        ln->cap = ncap;
    }
    int in_map = 0;
    if (s->span_id && pf_idmap_get(&l->map, s->span_id) == NO_LANE) {
        if (pf_idmap_put(&l->map, s->span_id, lane))
            return errmsg_set(&l->emsg, SL_ENOMEM, "no memory for the open-span map");
        in_map = 1;
    }
    ln->stk[ln->n++] = (pf_lane_ent){s->span_id, s->end_ns, in_map};
    l->nopen++;
    if (ln->n == 1) {
        set_free(l, lane, 0);
        l->heap_pos[lane] = l->nheap;
        l->heap[l->nheap++] = lane;
    }
    sift_up(l, l->heap_pos[lane]); /* the new top ends no later */
    return SL_OK;
}

/* Closes open spans ending before t (strict) or at or before t, in end order. */
static int drain(pf_lanes *l, int64_t t, int strict)
{
    while (l->nheap > 0) {
        int64_t e = top_end(l, l->heap[0]);
        if (strict ? e >= t : e > t)
            break;
        int rc = pop(l, l->heap[0]);
        if (rc)
            return rc;
    }
    return SL_OK;
}

/* Step 2: the parent's lane, if the span fits on it. */
static int parent_lane(pf_lanes *l, const pf_async_span *s, uint32_t *lane_out)
{
    *lane_out = NO_LANE;
    uint32_t lane = pf_idmap_get(&l->map, s->parent_span_id);
    if (lane == NO_LANE)
        return SL_OK;
    pf_lane *ln = &l->lanes[lane];
    while (ln->n > 0) {
        const pf_lane_ent *top = &ln->stk[ln->n - 1];
        if (top->in_map && top->span_id == s->parent_span_id) {
            if (s->end_ns <= top->end_ns)
                *lane_out = lane;
            return SL_OK;
        }
        if (top->end_ns > s->begin_ns)
            return SL_OK; /* an unfinished sibling sits on the parent */
        int rc = pop(l, lane);
        if (rc)
            return rc;
    }
    return SL_OK;
}

int pf_lanes_place(pf_lanes *l, const pf_async_span *s, uint32_t *lane_out)
{
    if (s->end_ns < s->begin_ns)
        return errmsg_set(&l->emsg, SL_EINVAL, "async span %llu ends (%lld) before it begins (%lld)",
                          (unsigned long long)s->span_id, (long long)s->end_ns,
                          (long long)s->begin_ns);
    if (l->any && s->begin_ns < l->last_begin)
        return errmsg_set(&l->emsg, SL_EINVAL,
                          "async spans are not sorted by begin: span %llu begins at %lld after %lld",
                          (unsigned long long)s->span_id, (long long)s->begin_ns,
                          (long long)l->last_begin);
    l->any = 1;
    l->last_begin = s->begin_ns;
    int rc = drain(l, s->begin_ns, 1);
    uint32_t lane = NO_LANE;
    if (!rc && s->parent_span_id)
        rc = parent_lane(l, s, &lane);
    if (!rc && lane != NO_LANE)
        l->on_parent++;
    if (!rc && lane == NO_LANE && !(rc = drain(l, s->begin_ns, 0))) {
        lane = lowest_free(l);
        if (lane == NO_LANE)
            rc = add_lane(l, &lane);
    }
    if (!rc)
        rc = push(l, lane, s);
    if (!rc)
        *lane_out = lane;
    return rc;
}

int pf_lanes_set_end(pf_lanes *l, uint32_t lane, int64_t end_ns)
{
    if (lane >= l->nlanes || l->lanes[lane].n != 1 || l->lanes[lane].stk[0].in_map ||
        end_ns > l->lanes[lane].stk[0].end_ns)
        return errmsg_set(&l->emsg, SL_EINVAL, "lane %u does not hold one span of unknown end",
                          lane);
    l->lanes[lane].stk[0].end_ns = end_ns;
    sift_up(l, l->heap_pos[lane]); /* its key only went down */
    return SL_OK;
}

int pf_lanes_finish(pf_lanes *l)
{
    return drain(l, INT64_MAX, 0);
}

int pf_lanes_assign(const pf_async_span *spans, size_t n, uint32_t *lane_out,
                    uint32_t *nlanes_out, errmsg *e)
{
    pf_lanes l;
    pf_lanes_init(&l, 0, 0, NULL, NULL);
    int rc = SL_OK;
    for (size_t i = 0; i < n && !rc; i++)
        rc = pf_lanes_place(&l, &spans[i], &lane_out[i]);
    if (!rc)
        rc = pf_lanes_finish(&l);
    if (rc && e)
        errmsg_set(e, rc, "%s", errmsg_str(&l.emsg));
    if (nlanes_out)
        *nlanes_out = l.nlanes;
    pf_lanes_destroy(&l);
    return rc;
}
