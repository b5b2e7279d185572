/*
 * pf_gen.c - trace generation: the ordered consumer, the per-part chunk
 * queues and the thread parts (see pf_gen.h for the design; the async part
 * is in pf_gen_async.c).
 *
 * Invariants kept here:
 *  - parts are submitted in index order and at most jobs + lookahead of them
 *    are uncollected, so pool_submit never blocks the consumer;
 *  - the consumer hands out part k's chunks in queue order and moves to k+1
 *    only once k is done and drained, so the output is the in-order
 *    concatenation of the parts' sequences;
 *  - chunk buffers are recycled through one free list; at most
 *    (parts in flight) * (queue_chunks + 1) + 2 exist at once;
 *  - a worker never holds g->mu while it encodes or reads.
 */
#include "perfetto/pf_gen_int.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"

#include <stdlib.h>
#include <string.h>

void pf_gen_cfg_init(pf_gen_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->kinds = PF_KIND_BOTH;
    cfg->ts_mode = PF_TS_INCREMENTAL;
}

uint64_t pf_gen_memory_bound(const pf_gen_cfg *cfg)
{
    uint64_t jobs = cfg->jobs ? cfg->jobs : 1;
    uint64_t lookahead = cfg->lookahead ? cfg->lookahead : jobs;
    uint64_t q = cfg->queue_chunks ? cfg->queue_chunks : PF_GEN_QUEUE_CHUNKS_DEFAULT;
    uint64_t chunk = cfg->chunk_bytes ? cfg->chunk_bytes : PF_CHUNK_BYTES_DEFAULT;
    if (chunk < PF_PACKET_MAX_BYTES + 16)
        chunk = PF_PACKET_MAX_BYTES + 16;
    uint64_t window = cfg->async_window ? cfg->async_window : PF_GEN_ASYNC_WINDOW_DEFAULT;
    uint64_t queued = ((jobs + lookahead) * (q + 1) + 2) * chunk;
    /* A pending async span is a ring record and an id-map entry, about 96 bytes. */
    uint64_t async = (cfg->kinds & PF_KIND_ASYNC) || !cfg->kinds ? window * 96 : 0;
    return queued + jobs * PF_GEN_WORKER_BYTES + async;
}

int pf_gen_kinds_parse(const char *s, unsigned *kinds)
{
    static const struct {
        const char *name;
        unsigned kinds;
    } names[] = {{"thread", PF_KIND_THREAD}, {"async", PF_KIND_ASYNC}, {"both", PF_KIND_BOTH}};
    for (size_t i = 0; s && i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i].name)) {
            *kinds = names[i].kinds;
            return SL_OK;
        }
    return SL_EINVAL;
}

/* ---- chunk buffers and queues ------------------------------------------ */

static pf_chunk *chunk_get(pf_gen *g)
{
    pthread_mutex_lock(&g->mu);
    pf_chunk *c = g->free_chunks;
    if (c) {
        g->free_chunks = c->next;
    } else {
        g->chunks_live++;
        if (g->chunks_live > g->chunks_peak)
            g->chunks_peak = g->chunks_live;
    }
    pthread_mutex_unlock(&g->mu);
    if (!c) {
        c = sl_malloc(sizeof *c + g->chunk_cap);
        if (!c) {
            pthread_mutex_lock(&g->mu);
            g->chunks_live--;
            pthread_mutex_unlock(&g->mu);
        }
    }
    return c;
}

static void chunk_put_locked(pf_gen *g, pf_chunk *c)
{
    c->next = g->free_chunks;
    g->free_chunks = c;
}

static void chunk_put(pf_gen *g, pf_chunk *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&g->mu);
    chunk_put_locked(g, c);
    pthread_mutex_unlock(&g->mu);
}

/*
 * Called by a worker whose part p (not the one being written) is blocked on
 * its full queue: rather than sleep, it prepares (source thread_prepare) the
 * first thread part after p that nobody has claimed, so that part's task
 * later finds its data ready.
 * Cold, this is what keeps every core busy while the consumer is still on an
 * earlier part (the queues bound what a part may encode ahead, not what may be
 * built ahead; building holds no trace memory).  Returns 1 if it did work.
 */
static int prepare_ahead(pf_gen *g, const pf_part *p)
{
    if (!g->src.ops->thread_prepare)
        return 0;
    for (;;) {
        size_t j = atomic_fetch_add(&g->prep_next, 1);
        if (j >= g->nparts || pf_gen_is_cancelled(g))
            return 0;
        if (j <= p->idx)
            continue;
        int expect = 0;
        if (!atomic_compare_exchange_strong(&g->parts[j].claimed, &expect, 1))
            continue;
        errmsg e;
        errmsg_clear(&e);
        g->src.ops->thread_prepare(g->src.ctx, j - 1, &e);
        return 1;
    }
}

/* The sink of a part's pf_seq: copy the chunk, queue it, wait for room. */
static int part_write(void *ctx, const uint8_t *data, size_t n)
{
    pf_part *p = ctx;
    pf_gen *g = p->g;
    if (n > g->chunk_cap)
        return SL_EINTERNAL;
    pf_chunk *c = chunk_get(g);
    if (!c)
        return SL_ENOMEM;
    memcpy(c->data, data, n);
    c->len = n;
    int rc = SL_OK;
    pthread_mutex_lock(&g->mu);
    while (p->qlen == g->cfg.queue_chunks && !pf_gen_is_cancelled(g)) {
        /* The part being written only waits for the consumer, which is draining it. */
        int prepared = 0;
        if (g->cur != p->idx) {
            pthread_mutex_unlock(&g->mu);
            prepared = prepare_ahead(g, p);
            pthread_mutex_lock(&g->mu);
        }
        if (!prepared && p->qlen == g->cfg.queue_chunks && !pf_gen_is_cancelled(g))
            pthread_cond_wait(&p->cv_space, &g->mu);
    }
    if (pf_gen_is_cancelled(g)) {
        chunk_put_locked(g, c);
        rc = SL_ECANCELED;
    } else {
        p->q[(p->qhead + p->qlen) % PF_GEN_QUEUE_CHUNKS_MAX] = c;
        p->qlen++;
        if (g->cur == p->idx)
            pthread_cond_signal(&g->cv_data);
    }
    pthread_mutex_unlock(&g->mu);
    return rc;
}

pf_sink pf_part_sink(pf_part *p)
{
    return (pf_sink){part_write, p};
}

/* ---- thread parts ------------------------------------------------------ */

typedef struct clip_buf {
    int64_t *b, *e;
    uint32_t *depth, *site;
    size_t cap;
} clip_buf;

static void clip_free(clip_buf *c)
{
    sl_free(c->b);
    sl_free(c->e);
    sl_free(c->depth);
    sl_free(c->site);
}

static int clip_grow(clip_buf *c, size_t n)
{
    if (n <= c->cap)
        return SL_OK;
    clip_free(c);
    c->cap = 0;
    c->b = sl_malloc(n * sizeof *c->b);
    c->e = sl_malloc(n * sizeof *c->e);
    c->depth = sl_malloc(n * sizeof *c->depth);
    c->site = sl_malloc(n * sizeof *c->site);
    if (!c->b || !c->e || !c->depth || !c->site)
        return SL_ENOMEM;
    c->cap = n;
    return SL_OK;
}

/*
 * Rows of one batch restricted to the range: rows ending before it are
 * dropped, the others cut to it; *past is set at the first row beginning
 * after it (rows are in begin order, so nothing later can overlap).  The
 * source's columns are used as they are when no row needs a change.
 */
static int clip_rows(const pf_gen *g, const pf_span_rows *in, clip_buf *cb, pf_span_rows *out,
                     int *past)
{
    *out = *in;
    *past = 0;
    size_t i = 0;
    for (; i < in->n; i++)
        if (in->begin_ns[i] < g->rb || in->end_ns[i] > g->re || in->begin_ns[i] > g->re)
            break;
    if (i == in->n)
        return SL_OK;
    int rc = clip_grow(cb, in->n);
    if (rc)
        return rc;
    size_t k = 0;
    for (i = 0; i < in->n; i++) {
        int64_t b = in->begin_ns[i], e = in->end_ns[i];
        if (b > g->re) {
            *past = 1;
            break;
        }
        if (e < g->rb)
            continue;
        cb->b[k] = b < g->rb ? g->rb : b;
        cb->e[k] = e > g->re ? g->re : e;
        cb->depth[k] = in->depth ? in->depth[i] : 0;
        cb->site[k] = in->site_idx ? in->site_idx[i] : (uint32_t)i;
        k++;
    }
    *out = (pf_span_rows){.n = k, .begin_ns = cb->b, .end_ns = cb->e, .depth = cb->depth,
                          .site_idx = cb->site, .sites = in->sites, .n_sites = in->n_sites};
    return SL_OK;
}

/* Reads thread batches into the writer until the end, the range's end or an error. */
static int thread_read(pf_part *p, pf_thread_writer *tw, size_t ti)
{
    pf_gen *g = p->g;
    const pf_source_ops *ops = g->src.ops;
    void *reader = NULL;
    clip_buf cb = {0};
    int64_t t0 = clock_mono_ns();
    int rc = ops->thread_open(g->src.ctx, ti, &g->req, &reader, &p->err);
    p->read_ns += clock_mono_ns() - t0;
    while (!rc) {
        if (pf_gen_is_cancelled(g)) {
            rc = SL_ECANCELED;
            break;
        }
        pf_span_rows rows = {0}, clipped;
        t0 = clock_mono_ns();
        rc = ops->thread_next(reader, &rows, &p->err);
        p->read_ns += clock_mono_ns() - t0;
        if (rc || rows.n == 0)
            break;
        if (rows.n > PF_SOURCE_MAX_BATCH_ROWS) {
            rc = errmsg_set(&p->err, SL_ETOOBIG, "a batch of %zu rows is over the cap of %u",
                            rows.n, PF_SOURCE_MAX_BATCH_ROWS);
            break;
        }
        int past;
        if ((rc = clip_rows(g, &rows, &cb, &clipped, &past)))
            break;
        if ((rc = pf_thread_writer_add(tw, &clipped, &p->err)))
            break;
        p->spans += clipped.n;
        if (past)
            break;
    }
    if (reader)
        ops->thread_close(reader);
    clip_free(&cb);
    if (rc && rc != SL_ECANCELED && p->err.code == 0)
        errmsg_set(&p->err, rc, "%s", sl_strerror(rc));
    return rc;
}

void pf_part_done(pf_part *p)
{
    pf_gen *g = p->g;
    pthread_mutex_lock(&g->mu);
    p->done = 1;
    pthread_cond_broadcast(&g->cv_data);
    pthread_mutex_unlock(&g->mu);
}

static void thread_run(pool_task *t)
{
    pf_part *p = t->arg;
    pf_gen *g = p->g;
    size_t ti = p->idx - 1;
    atomic_store(&p->claimed, 1);
    const pf_thread_info *th = &g->proc.threads[ti];
    pf_seq seq;
    pf_seq_cfg cfg = {.seq_id = (uint32_t)PF_GEN_THREAD_UUID(ti), .ts_mode = g->cfg.ts_mode,
                      .default_track_uuid = PF_GEN_THREAD_UUID(ti),
                      .chunk_bytes = g->cfg.chunk_bytes};
    int rc = pf_seq_init(&seq, &cfg, pf_part_sink(p), &p->err);
    if (rc)
        goto out;
    const char *name = th->name ? th->name : "";
    rc = pf_seq_thread_track(&seq, cfg.default_track_uuid, PF_GEN_PROCESS_UUID, g->proc.pid,
                             th->tid, name, strlen(name));
    pf_thread_writer tw;
    pf_thread_writer_init(&tw, &seq, 0);
    if (!rc && !g->empty_range)
        rc = thread_read(p, &tw, ti);
    /* Whatever stopped the reading, close the track so the trace stays valid. */
    if (rc != SL_ECANCELED && !seq.err) {
        errmsg e2;
        int rc2 = pf_thread_writer_finish(&tw, &e2);
        if (!rc2)
            rc2 = pf_seq_flush(&seq);
        if (rc2 && !rc)
            rc = errmsg_set(&p->err, rc2, "%s", pf_seq_error(&seq));
    }
    if (seq.err && !rc)
        rc = errmsg_set(&p->err, seq.err, "%s", pf_seq_error(&seq));
    p->clamped = tw.clamped;
    pf_thread_writer_destroy(&tw);
    pf_seq_destroy(&seq);
out:
    p->rc = rc;
    t->rc = rc;
    pf_part_done(p);
}

/* ---- open / cancel / close ---------------------------------------------- */

static int check_cfg(pf_gen_cfg *c, errmsg *e)
{
    if (!c->kinds)
        c->kinds = PF_KIND_BOTH;
    if (c->kinds > PF_KIND_BOTH)
        return errmsg_set(e, SL_EINVAL, "unknown span kinds %u", c->kinds);
    if (!c->jobs)
        c->jobs = pool_default_threads();
    if (c->jobs > 256)
        return errmsg_set(e, SL_EINVAL, "jobs %u is more than 256", c->jobs);
    if (!c->lookahead)
        c->lookahead = c->jobs;
    if (!c->queue_chunks)
        c->queue_chunks = PF_GEN_QUEUE_CHUNKS_DEFAULT;
    if (c->queue_chunks > PF_GEN_QUEUE_CHUNKS_MAX || c->lookahead > 4096)
        return errmsg_set(e, SL_EINVAL, "queue_chunks is at most %d, lookahead at most 4096",
                          PF_GEN_QUEUE_CHUNKS_MAX);
    if (!c->chunk_bytes)
        c->chunk_bytes = PF_CHUNK_BYTES_DEFAULT;
    if (c->chunk_bytes < 1024 || c->chunk_bytes > ((size_t)64 << 20))
        return errmsg_set(e, SL_EINVAL, "chunk_bytes %zu is outside 1 KiB .. 64 MiB",
                          c->chunk_bytes);
    if (!c->async_window)
        c->async_window = PF_GEN_ASYNC_WINDOW_DEFAULT;
    if (!c->progress_ms)
        c->progress_ms = PF_GEN_PROGRESS_MS_DEFAULT;
    return SL_OK;
}

static int resolve(pf_gen *g, errmsg *e)
{
    const pf_source_ops *ops = g->src.ops;
    if (!ops || !ops->resolve || !ops->thread_open || !ops->thread_next || !ops->thread_close ||
        !ops->async_open || !ops->async_next || !ops->async_close)
        return errmsg_set(e, SL_EINVAL, "the span source lacks an operation");
    int rc = ops->resolve(g->src.ctx, &g->proc, e);
    if (rc)
        return e && e->code ? rc : errmsg_set(e, rc, "cannot resolve the process: %s",
                                              sl_strerror(rc));
    if (g->proc.n_threads > (1u << 20) || (g->proc.n_threads && !g->proc.threads))
        return errmsg_set(e, SL_ETOOBIG, "the source lists %zu threads", g->proc.n_threads);
    if (!g->proc.name)
        g->proc.name = "";
    return SL_OK;
}

int pf_gen_open(pf_gen **out, const pf_gen_cfg *cfg, pf_source src, errmsg *e)
{
    *out = NULL;
    pf_gen *g = sl_calloc(1, sizeof *g);
    if (!g)
        return errmsg_set(e, SL_ENOMEM, "no memory for a trace generator");
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv_data, NULL);
    atomic_init(&g->cancelled, 0);
    atomic_init(&g->prep_next, 1);
    g->t_open = clock_mono_ns();
    g->src = src;
    if (cfg)
        g->cfg = *cfg;
    else
        pf_gen_cfg_init(&g->cfg);
    int rc = check_cfg(&g->cfg, e);
    if (!rc)
        rc = resolve(g, e);
    if (rc)
        goto fail;
    g->rb = g->cfg.has_begin ? g->cfg.begin_ns : INT64_MIN;
    g->re = g->cfg.has_end ? g->cfg.end_ns : INT64_MAX;
    g->empty_range = g->rb > g->re;
    g->req = (pf_read_req){g->rb, g->re, &g->cancelled};
    g->chunk_cap = g->cfg.chunk_bytes > PF_PACKET_MAX_BYTES + 16 ? g->cfg.chunk_bytes
                                                                  : PF_PACKET_MAX_BYTES + 16;
    size_t nthreads = g->cfg.kinds & PF_KIND_THREAD ? g->proc.n_threads : 0;
    g->nparts = 1 + nthreads;
    g->parts = sl_calloc(g->nparts, sizeof *g->parts);
    g->read_times = sl_calloc(nthreads + 1, sizeof *g->read_times);
    if (!g->parts || !g->read_times) {
        rc = errmsg_set(e, SL_ENOMEM, "no memory for %zu trace parts", g->nparts);
        goto fail;
    }
    for (size_t i = 0; i < g->nparts; i++) {
        pf_part *p = &g->parts[i];
        p->g = g;
        p->idx = i;
        p->task = (pool_task){.run = i ? thread_run : pf_gen_async_run, .arg = p};
        atomic_init(&p->claimed, 0);
        pthread_cond_init(&p->cv_space, NULL);
        errmsg_clear(&p->err);
    }
    dbuf_init(&g->merge, g->cfg.chunk_bytes);
    errmsg_clear(&g->err);
    g->sum.threads = (uint32_t)nthreads;
    g->sum.jobs = g->cfg.jobs;
    if ((rc = pool_init(&g->pool, g->cfg.jobs, g->cfg.jobs + g->cfg.lookahead, e)))
        goto fail;
    g->pool_up = 1;
    *out = g;
    return SL_OK;
fail:
    pf_gen_close(g);
    return rc;
}

void pf_gen_cancel(pf_gen *g)
{
    atomic_store(&g->cancelled, 1);
    pthread_mutex_lock(&g->mu);
    pthread_cond_broadcast(&g->cv_data);
    for (size_t i = 0; i < g->nparts; i++)
        pthread_cond_broadcast(&g->parts[i].cv_space);
    pthread_mutex_unlock(&g->mu);
    if (g->pool_up)
        pool_cancel(&g->pool);
}

static void free_chunks(pf_chunk *c)
{
    while (c) {
        pf_chunk *n = c->next;
        sl_free(c);
        c = n;
    }
}

void pf_gen_close(pf_gen *g)
{
    if (!g)
        return;
    if (g->pool_up) {
        if (!g->finished)
            pf_gen_cancel(g);
        pool_destroy(&g->pool);
    }
    for (size_t i = 0; i < g->nparts && g->parts; i++) {
        pf_part *p = &g->parts[i];
        for (unsigned k = 0; k < p->qlen; k++)
            sl_free(p->q[(p->qhead + k) % PF_GEN_QUEUE_CHUNKS_MAX]);
        pthread_cond_destroy(&p->cv_space);
    }
    free_chunks(g->free_chunks);
    sl_free(g->handed);
    sl_free(g->carry);
    dbuf_free(&g->merge);
    sl_free(g->parts);
    sl_free(g->read_times);
    pthread_cond_destroy(&g->cv_data);
    pthread_mutex_destroy(&g->mu);
    sl_free(g);
}

const pf_gen_summary *pf_gen_get_summary(const pf_gen *g)
{
    return &g->sum;
}

const char *pf_gen_error(const pf_gen *g)
{
    return g->err.code ? errmsg_str(&g->err) : "ok";
}

/* ---- the consumer ------------------------------------------------------- */

static void progress(pf_gen *g, const pf_progress *p)
{
    if (g->cfg.progress)
        g->cfg.progress(g->cfg.progress_ctx, p);
}

static void progress_bytes(pf_gen *g, int force)
{
    int64_t now = clock_mono_ns();
    if (!force && now - g->last_progress < (int64_t)g->cfg.progress_ms * 1000000)
        return;
    g->last_progress = now;
    pf_progress pr = {.kind = PF_PROG_BYTES, .count = g->sum.threads,
                      .spans = g->sum.thread_spans + g->sum.async_spans, .bytes = g->sum.bytes};
    progress(g, &pr);
}

static void submit_more(pf_gen *g)
{
    size_t window = (size_t)g->cfg.jobs + g->cfg.lookahead;
    while (g->next_submit < g->nparts && g->next_submit - g->cur < window) {
        if (pool_submit(&g->pool, &g->parts[g->next_submit].task))
            return; /* cancelled: the consumer sees it next */
        g->next_submit++;
    }
}

static void announce(pf_gen *g, const pf_part *p)
{
    if (p->idx == 0)
        return;
    const pf_thread_info *th = &g->proc.threads[p->idx - 1];
    pf_progress pr = {.kind = PF_PROG_THREAD, .index = (uint32_t)p->idx,
                      .count = g->sum.threads, .name = th->name ? th->name : "",
                      .tid = th->tid, .spans = g->sum.thread_spans + g->sum.async_spans,
                      .bytes = g->sum.bytes};
    progress(g, &pr);
}

/* Part cur is drained and done: collect its task and report it. */
static int part_finished(pf_gen *g, pf_part *p)
{
    pool_task *t;
    int rc = pool_next(&g->pool, &t);
    if (rc || t != &p->task)
        return errmsg_set(&g->err, SL_EINTERNAL, "trace part %zu collected out of order",
                          p->idx);
    if (t->rc == SL_ECANCELED && !p->rc)
        p->rc = SL_ECANCELED; /* never ran */
    if (p->idx == 0) {
        g->sum.async_spans = p->spans;
        g->sum.async_lanes = p->lanes;
        g->sum.async_begun_earlier = p->begun_earlier;
        g->sum.async_forced = p->forced;
        g->sum.async_unpaired = p->unpaired;
    } else {
        g->sum.thread_spans += p->spans;
        g->sum.clamped += p->clamped;
        g->read_times[p->idx - 1] = p->read_ns;
    }
    if (p->rc && p->rc != SL_ECANCELED) {
        const pf_thread_info *th = p->idx ? &g->proc.threads[p->idx - 1] : NULL;
        const char *name = th ? (th->name ? th->name : "") : g->proc.name;
        if (th)
            g->sum.threads_failed++;
        else
            g->sum.async_failed = 1;
        log_warn("perfetto", "pid %d %s %s (tid %lld, stream %s): %s", (int)g->proc.pid,
                 th ? "thread" : "async spans of", name, th ? (long long)th->tid : 0LL,
                 th && th->stream_id ? th->stream_id : "-", errmsg_str(&p->err));
        pf_progress pr = {.kind = PF_PROG_FAILURE, .index = (uint32_t)p->idx,
                          .count = g->sum.threads, .name = name, .tid = th ? th->tid : 0,
                          .spans = g->sum.thread_spans + g->sum.async_spans,
                          .bytes = g->sum.bytes, .code = p->rc, .message = errmsg_str(&p->err)};
        progress(g, &pr);
    }
    pthread_mutex_lock(&g->mu); /* workers read cur to decide whom to wake */
    g->cur++;
    pthread_mutex_unlock(&g->mu);
    return SL_OK;
}

/* The next chunk in trace order, or NULL at the end. */
static int take(pf_gen *g, pf_chunk **out)
{
    *out = NULL;
    while (g->cur < g->nparts) {
        submit_more(g);
        pf_part *p = &g->parts[g->cur];
        pthread_mutex_lock(&g->mu);
        while (!p->qlen && !p->done && !pf_gen_is_cancelled(g))
            pthread_cond_wait(&g->cv_data, &g->mu);
        if (pf_gen_is_cancelled(g)) {
            pthread_mutex_unlock(&g->mu);
            return errmsg_set(&g->err, SL_ECANCELED, "trace generation was cancelled");
        }
        if (p->qlen) {
            *out = p->q[p->qhead];
            p->qhead = (p->qhead + 1) % PF_GEN_QUEUE_CHUNKS_MAX;
            p->qlen--;
            pthread_cond_signal(&p->cv_space);
            pthread_mutex_unlock(&g->mu);
            return SL_OK;
        }
        pthread_mutex_unlock(&g->mu);
        int rc = part_finished(g, p);
        if (rc)
            return rc;
        if (g->cur < g->nparts)
            announce(g, &g->parts[g->cur]);
    }
    return SL_OK;
}

static int64_t median(int64_t *v, size_t n)
{
    if (n == 0)
        return 0;
    /* A few dozen values, once per trace: insertion sort is plenty. */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
            int64_t x = v[j];
            v[j] = v[j - 1];
            v[j - 1] = x;
        }
    return v[n / 2];
}

static void finish(pf_gen *g)
{
    g->finished = 1;
    pf_source_stats st = {0};
    if (g->src.ops->stats)
        g->src.ops->stats(g->src.ctx, &st);
    g->sum.jit_ns = st.jit_ns;
    g->sum.cache_hits = st.cache_hits;
    g->sum.cache_misses = st.cache_misses;
    size_t n = g->nparts - 1;
    for (size_t i = 0; i < n; i++)
        if (g->read_times[i] > g->sum.read_ns_max)
            g->sum.read_ns_max = g->read_times[i];
    g->sum.read_ns_median = median(g->read_times, n);
    g->sum.total_ns = clock_mono_ns() - g->t_open;
    pthread_mutex_lock(&g->mu);
    g->sum.peak_chunk_bytes = g->chunks_peak * (sizeof(pf_chunk) + g->chunk_cap);
    pthread_mutex_unlock(&g->mu);
    progress_bytes(g, 1);
}

static int hand_out(pf_gen *g, const uint8_t *p, size_t n, const uint8_t **data, size_t *len)
{
    if (g->sum.chunks == 0)
        g->sum.first_byte_ns = clock_mono_ns() - g->t_open;
    g->sum.chunks++;
    g->sum.bytes += n;
    *data = p;
    *len = n;
    progress_bytes(g, 0);
    return SL_OK;
}

int pf_gen_next_chunk(pf_gen *g, const uint8_t **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    chunk_put(g, g->handed);
    g->handed = NULL;
    g->merge.len = 0;
    if (g->failed)
        return g->err.code;
    if (g->finished)
        return SL_OK;
    if (!g->started) {
        g->started = 1;
        pf_progress pr = {.kind = PF_PROG_START, .count = g->sum.threads, .name = g->proc.name};
        progress(g, &pr);
    }
    for (;;) {
        pf_chunk *c = g->carry;
        g->carry = NULL;
        int rc = c ? SL_OK : take(g, &c);
        if (rc) {
            g->failed = 1;
            return rc;
        }
        if (!c) {
            if (g->merge.len)
                return hand_out(g, g->merge.p, g->merge.len, data, len);
            finish(g);
            return SL_OK;
        }
        /* Merge the small tail chunks of sequences; pass full ones through. */
        if (g->merge.len == 0 && c->len >= g->cfg.chunk_bytes / 2) {
            g->handed = c;
            return hand_out(g, c->data, c->len, data, len);
        }
        if (g->merge.len + c->len <= g->cfg.chunk_bytes) {
            rc = dbuf_append(&g->merge, c->data, c->len);
            chunk_put(g, c);
            if (rc) {
                g->failed = 1;
                return errmsg_set(&g->err, rc, "cannot merge trace chunks");
            }
            continue;
        }
        g->carry = c;
        return hand_out(g, g->merge.p, g->merge.len, data, len);
    }
}

int pf_gen_run(pf_gen *g, pf_sink sink)
{
    for (;;) {
        const uint8_t *p;
        size_t n;
        int rc = pf_gen_next_chunk(g, &p, &n);
        if (rc || n == 0)
            return rc;
        if ((rc = sink.write(sink.ctx, p, n))) {
            errmsg_set(&g->err, rc, "the trace sink failed: %s", sl_strerror(rc));
            g->failed = 1;
            pf_gen_cancel(g);
            return rc;
        }
    }
}

/* ---- JSON renderings --------------------------------------------------- */

static void kv_int(jw *w, const char *k, int64_t v)
{
    jw_key(w, k);
    jw_int(w, v);
}

int pf_gen_summary_json(const pf_gen_summary *s, dbuf *out)
{
    jw w;
    jw_init(&w, out);
    jw_obj_begin(&w);
    kv_int(&w, "threads", s->threads);
    kv_int(&w, "threads_failed", s->threads_failed);
    kv_int(&w, "async_failed", s->async_failed);
    kv_int(&w, "thread_spans", (int64_t)s->thread_spans);
    kv_int(&w, "async_spans", (int64_t)s->async_spans);
    kv_int(&w, "async_lanes", (int64_t)s->async_lanes);
    kv_int(&w, "async_begun_earlier", (int64_t)s->async_begun_earlier);
    kv_int(&w, "async_forced", (int64_t)s->async_forced);
    kv_int(&w, "async_unpaired", (int64_t)s->async_unpaired);
    kv_int(&w, "clamped", (int64_t)s->clamped);
    kv_int(&w, "bytes", (int64_t)s->bytes);
    kv_int(&w, "chunks", (int64_t)s->chunks);
    uint64_t slices = s->thread_spans + s->async_spans;
    jw_key(&w, "bytes_per_slice");
    jw_double(&w, slices ? (double)s->bytes / (double)slices : 0.0);
    kv_int(&w, "total_ns", s->total_ns);
    kv_int(&w, "first_byte_ns", s->first_byte_ns);
    kv_int(&w, "read_ns_max", s->read_ns_max);
    kv_int(&w, "read_ns_median", s->read_ns_median);
    kv_int(&w, "jit_ns", s->jit_ns);
    kv_int(&w, "cache_hits", (int64_t)s->cache_hits);
    kv_int(&w, "cache_misses", (int64_t)s->cache_misses);
    uint64_t lookups = s->cache_hits + s->cache_misses;
    jw_key(&w, "cache_hit_rate");
    jw_double(&w, lookups ? (double)s->cache_hits / (double)lookups : 0.0);
    kv_int(&w, "peak_chunk_bytes", (int64_t)s->peak_chunk_bytes);
    kv_int(&w, "jobs", s->jobs);
    jw_obj_end(&w);
    return w.err;
}

/*
 * Names and messages come from instrumented programs and may hold any bytes;
 * JSON must be UTF-8 (readers such as Python's refuse anything else), so
 * invalid sequences become U+FFFD.  Long texts are cut at 1 KiB.
 */
void pf_json_put_text(jw *w, const char *s)
{
    size_t n = s ? strnlen(s, 1024) : 0;
    size_t ok = pf_utf8_valid_len(s, n);
    if (ok == n) {
        jw_strn(w, s, n);
        return;
    }
    char clean[3 * 1024];
    size_t k = 0, i = 0;
    while (i < n) {
        ok = pf_utf8_valid_len(s + i, n - i);
        memcpy(clean + k, s + i, ok);
        k += ok;
        i += ok;
        if (i < n) {
            memcpy(clean + k, "\xef\xbf\xbd", 3);
            k += 3;
            i++;
        }
    }
    jw_strn(w, clean, k);
}

int pf_progress_json(const pf_progress *p, dbuf *out)
{
    static const char *kinds[] = {"", "start", "thread", "bytes", "failure"};
    jw w;
    jw_init(&w, out);
    jw_obj_begin(&w);
    jw_key(&w, "kind");
    jw_str(&w, p->kind >= PF_PROG_START && p->kind <= PF_PROG_FAILURE ? kinds[p->kind] : "?");
    if (p->kind == PF_PROG_THREAD || p->kind == PF_PROG_FAILURE)
        kv_int(&w, "index", p->index);
    kv_int(&w, "count", p->count);
    if (p->name) {
        jw_key(&w, "name");
        pf_json_put_text(&w, p->name);
    }
    if (p->kind == PF_PROG_THREAD || (p->kind == PF_PROG_FAILURE && p->index))
        kv_int(&w, "tid", p->tid);
    kv_int(&w, "spans", (int64_t)p->spans);
    kv_int(&w, "bytes", (int64_t)p->bytes);
    if (p->kind == PF_PROG_FAILURE) {
        kv_int(&w, "code", p->code);
        jw_key(&w, "error");
        jw_str(&w, sl_strerror(p->code));
        jw_key(&w, "message");
        pf_json_put_text(&w, p->message);
    }
    jw_obj_end(&w);
    return w.err;
}
