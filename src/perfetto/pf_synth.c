/*
 * pf_synth.c - the synthetic span source (see pf_synth.h).
 *
 * Thread trees are generated as a stream: a stack of open spans, each with
 * its end and the time where its next child may begin.  At each step the
 * generator either opens a child inside the top span (after its previous
 * child) or closes the top; a root opens when the stack is empty.  Spans
 * therefore come out in begin order with correct depths, exactly
 * spans_per_thread of them, from a per-thread xorshift state.
 *
 * Async events come from a min-heap of open spans keyed by end: before each
 * begin, every open span ending at or before it is ended (ends first at
 * equal times), so the events are in time order.
 */
#include "perfetto/pf_synth.h"

#include "base/alloc.h"
#include "base/clock.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

void pf_synth_cfg_init(pf_synth_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->seed = 1;
    cfg->threads = 4;
    cfg->spans_per_thread = 1000;
    cfg->async_spans = 1000;
    cfg->fail_thread = -1;
}

int pf_synth_init(pf_synth *s, const pf_synth_cfg *cfg, errmsg *e)
{
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    pf_synth_cfg *c = &s->cfg;
    if (!c->sites)
        c->sites = 64;
    if (!c->max_depth)
        c->max_depth = 8;
    if (!c->batch_rows)
        c->batch_rows = 4096;
    if (!c->pid)
        c->pid = 4321;
    if (!c->base_ns)
        c->base_ns = 1700000000000000000ll;
    if (c->max_depth > 1000 || c->sites > 100000 || c->batch_rows > PF_SOURCE_MAX_BATCH_ROWS)
        return errmsg_set(e, SL_EINVAL, "synthetic source: depth, sites or batch too large");
    s->threads = sl_calloc(c->threads + 1, sizeof *s->threads);
    s->names = sl_calloc(c->threads + 1, sizeof *s->names);
    s->sites = sl_calloc(c->sites, sizeof *s->sites);
    s->site_text = sl_calloc(c->sites, sizeof *s->site_text);
    if (!s->threads || !s->names || !s->sites || !s->site_text) {
        pf_synth_free(s);
        return errmsg_set(e, SL_ENOMEM, "synthetic source: no memory");
    }
    for (uint32_t i = 0; i < c->threads; i++) {
        if (i == 0)
            snprintf(s->names[i], sizeof s->names[i], "main");
        else
            snprintf(s->names[i], sizeof s->names[i], "worker-%u", i);
        s->threads[i] = (pf_thread_info){1000 + (int64_t)i, s->names[i], NULL};
    }
    for (uint32_t i = 0; i < c->sites; i++) {
        char *n = s->site_text[i][0], *t = s->site_text[i][1], *f = s->site_text[i][2];
        snprintf(n, 48, "synth::function_%u", i);
        snprintf(t, 48, "synth::mod%u", i % 7);
        snprintf(f, 48, "src/synth/file_%u.c", i % 13);
        s->sites[i] = (pf_site){n, t, f, (uint32_t)strlen(n), (uint32_t)strlen(t),
                                (uint32_t)strlen(f), 10 + i * 3, 0};
    }
    atomic_init(&s->jit_ns, 0);
    atomic_init(&s->opens, 0);
    atomic_init(&s->prepared, 0);
    return SL_OK;
}

void pf_synth_free(pf_synth *s)
{
    sl_free(s->threads);
    sl_free(s->names);
    sl_free(s->sites);
    sl_free(s->site_text);
    memset(s, 0, sizeof *s);
}

/* Simulated I/O: wait us microseconds, in short steps so that a cancel ends it. */
static int delay(pf_synth *s, uint32_t us, const pf_read_req *req)
{
    if (!us)
        return SL_OK;
    int64_t t0 = clock_mono_ns(), left = (int64_t)us * 1000;
    while (left > 0) {
        if (req->cancelled && atomic_load(req->cancelled))
            return SL_ECANCELED;
        int64_t step = left < 1000000 ? left : 1000000;
        struct timespec ts = {0, (long)step};
        nanosleep(&ts, NULL);
        left -= step;
    }
    atomic_fetch_add(&s->jit_ns, clock_mono_ns() - t0);
    return SL_OK;
}

/* ---- thread trees -------------------------------------------------------- */

typedef struct tree {
    uint64_t rng;
    int64_t t;           /* where the next root may begin */
    int64_t *end, *cursor;
    uint32_t n, max_depth;
    uint64_t left;       /* spans still to generate */
} tree;

static int tree_init(tree *g, const pf_synth *s, uint32_t i)
{
    memset(g, 0, sizeof *g);
    g->rng = (s->cfg.seed * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)i * 0xD1B54A32D192ED03ull) ^ 1;
    g->t = s->cfg.base_ns + (int64_t)i * 1000;
    g->max_depth = s->cfg.max_depth;
    g->left = s->cfg.spans_per_thread;
    g->end = sl_malloc(g->max_depth * sizeof *g->end);
    g->cursor = sl_malloc(g->max_depth * sizeof *g->cursor);
    return g->end && g->cursor ? SL_OK : SL_ENOMEM;
}

static void tree_free(tree *g)
{
    sl_free(g->end);
    sl_free(g->cursor);
}

/* The next span in begin order; 0 when the thread has no more. */
static int tree_next(tree *g, int64_t *b, int64_t *e, uint32_t *depth, uint32_t *site,
                     uint32_t nsites)
{
    if (g->left == 0)
        return 0;
    for (;;) {
        if (g->n == 0) {
            int64_t rb = g->t + (int64_t)(rnd(&g->rng) % 2000);
            int64_t dur = 1000 + (int64_t)(rnd(&g->rng) % 200000);
            g->end[0] = rb + dur;
            g->cursor[0] = rb;
            g->n = 1;
            *b = rb;
            *e = rb + dur;
            break;
        }
        uint32_t top = g->n - 1;
        if (g->n < g->max_depth && rnd(&g->rng) % 4 != 0) {
            int64_t cb = g->cursor[top] + (int64_t)(rnd(&g->rng) % 500);
            if (cb < g->end[top]) {
                int64_t room = g->end[top] - cb;
                int64_t dur = (int64_t)(rnd(&g->rng) % (uint64_t)(room / 2 + 1));
                g->cursor[top] = cb + dur;
                g->end[g->n] = cb + dur;
                g->cursor[g->n] = cb;
                g->n++;
                *b = cb;
                *e = cb + dur;
                break;
            }
        }
        g->n--;
        if (g->n == 0)
            g->t = g->end[0];
    }
    *depth = g->n - 1;
    *site = (uint32_t)(rnd(&g->rng) % nsites);
    g->left--;
    return 1;
}

uint64_t pf_synth_thread_count(const pf_synth *s, uint32_t i, int64_t begin_ns, int64_t end_ns)
{
    tree g;
    uint64_t n = 0;
    if (tree_init(&g, s, i) == SL_OK) {
        int64_t b, e;
        uint32_t d, site;
        while (tree_next(&g, &b, &e, &d, &site, s->cfg.sites))
            n += b <= end_ns && e >= begin_ns;
    }
    tree_free(&g);
    return n;
}

typedef struct treader {
    pf_synth *s;
    pf_read_req req;
    tree g;
    uint32_t idx;
    uint64_t rows;
    int64_t *b, *e;
    uint32_t *depth, *site;
} treader;

static int resolve(void *ctx, pf_process_info *out, errmsg *e)
{
    pf_synth *s = ctx;
    if (s->cfg.unknown_process)
        return errmsg_set(e, SL_ENOTFOUND, "process %d is not in the lake", (int)s->cfg.pid);
    *out = (pf_process_info){s->cfg.pid, "synth-process", s->threads, s->cfg.threads};
    return SL_OK;
}

static void thread_close(void *reader)
{
    treader *r = reader;
    if (!r)
        return;
    tree_free(&r->g);
    sl_free(r->b);
    sl_free(r->e);
    sl_free(r->depth);
    sl_free(r->site);
    sl_free(r);
}

static int thread_open(void *ctx, size_t idx, const pf_read_req *req, void **reader, errmsg *e)
{
    pf_synth *s = ctx;
    *reader = NULL;
    atomic_fetch_add(&s->opens, 1);
    if (idx >= s->cfg.threads)
        return errmsg_set(e, SL_EINVAL, "no thread %zu", idx);
    if ((int)idx == s->cfg.fail_thread && s->cfg.fail_after_rows == 0)
        return errmsg_set(e, SL_EIO, "injected failure opening thread %zu", idx);
    treader *r = sl_calloc(1, sizeof *r);
    if (!r)
        return errmsg_set(e, SL_ENOMEM, "no memory for a reader");
    r->s = s;
    r->req = *req;
    r->idx = (uint32_t)idx;
    size_t n = s->cfg.batch_rows;
    r->b = sl_malloc(n * sizeof *r->b);
    r->e = sl_malloc(n * sizeof *r->e);
    r->depth = sl_malloc(n * sizeof *r->depth);
    r->site = sl_malloc(n * sizeof *r->site);
    if (tree_init(&r->g, s, r->idx) || !r->b || !r->e || !r->depth || !r->site) {
        thread_close(r);
        return errmsg_set(e, SL_ENOMEM, "no memory for a reader");
    }
    *reader = r;
    return SL_OK;
}

static int thread_next(void *reader, pf_span_rows *out, errmsg *e)
{
    treader *r = reader;
    pf_synth *s = r->s;
    int rc = delay(s, s->cfg.delay_us, &r->req);
    if (rc)
        return errmsg_set(e, rc, "cancelled");
    if ((int)r->idx == s->cfg.fail_thread && r->rows >= s->cfg.fail_after_rows)
        return errmsg_set(e, SL_EIO, "injected failure reading thread %u after %llu rows",
                          r->idx, (unsigned long long)r->rows);
    size_t n = 0;
    int64_t b, en;
    uint32_t d, site;
    while (n < s->cfg.batch_rows && tree_next(&r->g, &b, &en, &d, &site, s->cfg.sites)) {
        if (s->cfg.filter_range && en < r->req.begin_ns)
            continue;
        if (s->cfg.filter_range && b > r->req.end_ns) {
            r->g.left = 0;
            break;
        }
        r->b[n] = b;
        r->e[n] = en;
        r->depth[n] = d;
        r->site[n] = site;
        n++;
    }
    r->rows += n;
    *out = (pf_span_rows){.n = n, .begin_ns = r->b, .end_ns = r->e, .depth = r->depth,
                          .site_idx = r->site, .sites = s->sites, .n_sites = s->cfg.sites};
    return SL_OK;
}

/* ---- async events ------------------------------------------------------- */

typedef struct aopen {
    int64_t begin, end;
    uint64_t id, parent;
    uint32_t site;
} aopen;

typedef struct areader {
    pf_synth *s;
    pf_read_req req;
    uint64_t rng, begun;
    int64_t next_begin;
    int done;
    aopen *heap;
    size_t nheap, cap;
    int64_t *t;
    uint8_t *kind;
    uint64_t *id, *parent;
    uint32_t *site;
} areader;

static void heap_push(areader *r, aopen v)
{
    size_t i = r->nheap++;
    while (i > 0 && r->heap[(i - 1) / 2].end > v.end) {
        r->heap[i] = r->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    r->heap[i] = v;
}

static aopen heap_pop(areader *r)
{
    aopen top = r->heap[0], last = r->heap[--r->nheap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= r->nheap)
            break;
        if (c + 1 < r->nheap && r->heap[c + 1].end < r->heap[c].end)
            c++;
        if (last.end <= r->heap[c].end)
            break;
        r->heap[i] = r->heap[c];
        i = c;
    }
    if (r->nheap)
        r->heap[i] = last;
    return top;
}

static void async_close(void *reader)
{
    areader *r = reader;
    if (!r)
        return;
    sl_free(r->heap);
    sl_free(r->t);
    sl_free(r->kind);
    sl_free(r->id);
    sl_free(r->parent);
    sl_free(r->site);
    sl_free(r);
}

static int async_open(void *ctx, const pf_read_req *req, void **reader, errmsg *e)
{
    pf_synth *s = ctx;
    *reader = NULL;
    areader *r = sl_calloc(1, sizeof *r);
    if (!r)
        return errmsg_set(e, SL_ENOMEM, "no memory for a reader");
    r->s = s;
    r->req = *req;
    r->rng = s->cfg.seed * 31 + 7;
    r->next_begin = s->cfg.base_ns;
    size_t n = s->cfg.batch_rows;
    r->t = sl_malloc(n * sizeof *r->t);
    r->kind = sl_malloc(n);
    r->id = sl_malloc(n * sizeof *r->id);
    r->parent = sl_malloc(n * sizeof *r->parent);
    r->site = sl_malloc(n * sizeof *r->site);
    if (!r->t || !r->kind || !r->id || !r->parent || !r->site) {
        async_close(r);
        return errmsg_set(e, SL_ENOMEM, "no memory for a reader");
    }
    *reader = r;
    return SL_OK;
}

/* Opens span number r->begun + 1 at r->next_begin. */
static int async_begin(areader *r, aopen *out)
{
    if (r->nheap == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 64;
        aopen *h = sl_realloc(r->heap, ncap * sizeof *h);
        if (!h)
            return SL_ENOMEM;
        r->heap = h;
        r->cap = ncap;
    }
    int64_t b = r->next_begin;
    uint64_t x = rnd(&r->rng);
    int64_t dur = x % 512 == 0 ? 5000000 + (int64_t)(rnd(&r->rng) % 5000000)
                               : (int64_t)(rnd(&r->rng) % 50000);
    aopen v = {b, b + dur, ++r->begun, 0, (uint32_t)(rnd(&r->rng) % r->s->cfg.sites)};
    if (r->nheap && rnd(&r->rng) % 2) {
        const aopen *p = &r->heap[rnd(&r->rng) % r->nheap];
        v.parent = p->id;
        if (rnd(&r->rng) % 4 && p->end >= b)
            v.end = b + (int64_t)(rnd(&r->rng) % (uint64_t)(p->end - b + 1));
    }
    heap_push(r, v);
    r->next_begin = b + (int64_t)(rnd(&r->rng) % 3 ? rnd(&r->rng) % 5000 : 0);
    *out = v;
    return SL_OK;
}

static int async_next(void *reader, pf_async_events *out, errmsg *e)
{
    areader *r = reader;
    pf_synth *s = r->s;
    int rc = delay(s, s->cfg.delay_us + s->cfg.async_delay_us, &r->req);
    if (rc)
        return errmsg_set(e, rc, "cancelled");
    size_t n = 0;
    while (n < s->cfg.batch_rows && !r->done) {
        int more = r->begun < s->cfg.async_spans;
        aopen v;
        uint8_t kind;
        if (r->nheap && (!more || r->heap[0].end <= r->next_begin)) {
            v = heap_pop(r);
            kind = PF_EV_END;
        } else if (more) {
            if (async_begin(r, &v))
                return errmsg_set(e, SL_ENOMEM, "no memory for open async spans");
            kind = PF_EV_BEGIN;
        } else {
            break;
        }
        int64_t t = kind == PF_EV_END ? v.end : v.begin;
        if (s->cfg.filter_range && t > r->req.end_ns) {
            r->done = 1;
            break;
        }
        if (s->cfg.filter_range && t < r->req.begin_ns)
            continue;
        r->t[n] = t;
        r->kind[n] = kind;
        r->id[n] = v.id;
        r->parent[n] = v.parent;
        r->site[n] = v.site;
        n++;
    }
    *out = (pf_async_events){.n = n, .time_ns = r->t, .kind = r->kind, .span_id = r->id,
                             .parent_span_id = r->parent, .site_idx = r->site,
                             .sites = s->sites, .n_sites = s->cfg.sites};
    return SL_OK;
}

static void stats(void *ctx, pf_source_stats *out)
{
    pf_synth *s = ctx;
    out->jit_ns = atomic_load(&s->jit_ns);
    out->cache_hits = 0;
    out->cache_misses = atomic_load(&s->opens);
}

/* Nothing to build ahead: only counted, so tests can see the generator call it. */
static int thread_prepare(void *ctx, size_t i, errmsg *e)
{
    pf_synth *s = ctx;
    if (i >= s->cfg.threads)
        return errmsg_set(e, SL_EINVAL, "no thread %zu", i);
    atomic_fetch_add(&s->prepared, 1);
    return SL_OK;
}

static const pf_source_ops synth_ops = {
    .resolve = resolve,           .thread_open = thread_open, .thread_next = thread_next,
    .thread_close = thread_close, .async_open = async_open,   .async_next = async_next,
    .async_close = async_close,   .stats = stats,             .thread_prepare = thread_prepare,
};

pf_source pf_synth_source(pf_synth *s)
{
    return (pf_source){&synth_ops, s};
}
