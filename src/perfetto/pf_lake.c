/*
 * pf_lake.c - the lake as a span source for trace generation (pf_source.h).
 *
 * resolve looks the process up once (lake_process_get: cached metadata) and
 * lists its thread streams, sorted by thread name then thread id so that the
 * trace's thread order is stable and readable.  A thread reader is a lake
 * scan of that stream's thread_spans (materialized just in time, so the
 * partitions of different threads build in parallel on the generator's
 * workers); an async reader is a scan of the process's async_events.
 *
 * Batches are handed over as columns without copying the times; call sites
 * come from the batch's dictionary columns: each batch gets a small site
 * table keyed by the row's `hash` column (a hash of name, target, file and
 * line), checked against the dictionary keys, so a site costs one lookup per
 * row and its strings are never copied.
 */
#include "perfetto/pf_lake.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/u64map.h"

#include <stdlib.h>
#include <string.h>

/*
 * The columns a trace needs, read with a projection (the others, such as ids
 * and durations, are never decoded); the enums are their positions.
 */
enum { P_BEGIN, P_END, P_DEPTH, P_HASH, P_NAME, P_TARGET, P_FILE, P_LINE, P_NTHREAD };
static const char *const g_thread_cols[P_NTHREAD] = {
    "begin", "end", "depth", "hash", "name", "target", "filename", "line"};
enum { Q_TIME, Q_TYPE, Q_SPAN, Q_PARENT, Q_HASH, Q_NAME, Q_TARGET, Q_FILE, Q_LINE, Q_NASYNC };
static const char *const g_async_cols[Q_NASYNC] = {
    "time", "event_type", "span_id", "parent_span_id", "hash", "name", "target", "filename",
    "line"};

/* ------------------------------------------------------------ sites of a batch */

typedef struct site_key {
    uint64_t name, target, file; /* dictionary keys (or row indexes for plain strings) */
    uint32_t line;
} site_key;

typedef struct sites {
    u64map map;                  /* row hash -> site index (several per hash) */
    site_key *keys;
    pf_site *s;
    uint32_t *idx;               /* row -> site */
    size_t n, cap, rows_cap;
} sites;

static void sites_free(sites *t)
{
    u64map_free(&t->map);
    sl_free(t->keys);
    sl_free(t->s);
    sl_free(t->idx);
    memset(t, 0, sizeof *t);
}

static uint64_t str_key(const col_vec *v, int64_t r)
{
    return v->type == COL_DICT ? col_vec_key(v, r) : (uint64_t)r;
}

static int same_str(const col_vec *v, uint64_t a, uint64_t b)
{
    if (a == b)
        return 1;
    if (v->type == COL_DICT)
        return 0; /* distinct keys of one dictionary are distinct strings */
    size_t la, lb;
    const uint8_t *pa = col_vec_str(v, (int64_t)a, &la), *pb = col_vec_str(v, (int64_t)b, &lb);
    return la == lb && !memcmp(pa, pb, la);
}

/* Fills t->idx (row -> site) and t->s for the rows of b, keyed by their hash column. */
static int sites_build(sites *t, const col_batch *b, int c_hash, int c_name, int c_target,
                       int c_file, int c_line)
{
    u64map_clear(&t->map);
    t->n = 0;
    if ((size_t)b->nrows > t->rows_cap) {
        uint32_t *n = sl_realloc(t->idx, sizeof *n * (size_t)b->nrows);
        if (!n)
            return SL_ENOMEM;
        t->idx = n;
        t->rows_cap = (size_t)b->nrows;
    }
    const col_vec *vn = &b->cols[c_name], *vt = &b->cols[c_target], *vf = &b->cols[c_file];
    for (int64_t r = 0; r < b->nrows; r++) {
        site_key k = {str_key(vn, r), str_key(vt, r), str_key(vf, r),
                      (uint32_t)col_vec_i32(&b->cols[c_line], r)};
        uint64_t h = (uint32_t)col_vec_i32(&b->cols[c_hash], r);
        size_t pos = (size_t)-1;
        uint32_t cand, found = UINT32_MAX;
        while (found == UINT32_MAX && u64map_find_next(&t->map, h, &pos, &cand)) {
            const site_key *o = &t->keys[cand];
            if (o->line == k.line && same_str(vn, o->name, k.name) &&
                same_str(vt, o->target, k.target) && same_str(vf, o->file, k.file))
                found = cand;
        }
        if (found == UINT32_MAX) {
            if (t->n == t->cap) {
                size_t ncap = t->cap ? t->cap * 2 : 64;
                site_key *nk = sl_realloc(t->keys, sizeof *nk * ncap);
                pf_site *ns = nk ? sl_realloc(t->s, sizeof *ns * ncap) : NULL;
                if (nk)
                    t->keys = nk;
                if (!ns)
                    return SL_ENOMEM;
                t->s = ns;
                t->cap = ncap;
            }
            size_t l;
            pf_site *s = &t->s[t->n];
            memset(s, 0, sizeof *s);
            s->name = (const char *)col_vec_str(vn, r, &l);
            s->name_len = (uint32_t)l;
            s->category = (const char *)col_vec_str(vt, r, &l);
            s->category_len = (uint32_t)l;
            s->file = (const char *)col_vec_str(vf, r, &l);
            s->file_len = (uint32_t)l;
            s->line = k.line;
            t->keys[t->n] = k;
            found = (uint32_t)t->n++;
            if (u64map_put_multi(&t->map, h, found))
                return SL_ENOMEM;
        }
        t->idx[r] = found;
    }
    return SL_OK;
}

/* ------------------------------------------------------------ the source */

static int cmp_thread(const void *a, const void *b)
{
    const pf_thread_info *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->tid < y->tid ? -1 : x->tid > y->tid;
}

static int lk_resolve(void *ctx, pf_process_info *out, errmsg *e)
{
    pf_lake_source *s = ctx;
    lake_cache_counters(s->l, &s->hits0, &s->misses0);
    int rc = lake_process_get(s->l, &s->process_id, &s->proc, e);
    if (rc)
        return rc;
    size_t n = 0;
    for (size_t i = 0; i < s->proc->n_streams; i++)
        n += s->proc->streams[i].is_cpu;
    s->threads = sl_calloc(n ? n : 1, sizeof *s->threads);
    if (!s->threads)
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    for (size_t i = 0; i < s->proc->n_streams; i++) {
        const lake_stream_info *si = &s->proc->streams[i];
        if (!si->is_cpu)
            continue;
        pf_thread_info *t = &s->threads[s->n_threads++];
        t->tid = si->thread_id;
        t->name = si->thread_name;
        t->stream_id = si->stream_id_str;
    }
    qsort(s->threads, s->n_threads, sizeof *s->threads, cmp_thread);
    /* the builds go in thread order; their payloads are read ahead in that order */
    const char **ids = sl_calloc(s->n_threads ? s->n_threads : 1, sizeof *ids);
    for (size_t i = 0; ids && i < s->n_threads; i++)
        ids[i] = s->threads[i].stream_id;
    if (ids)
        s->prefetch = lake_prefetch_start(s->l, s->proc->proc.process_id_str, ids, s->n_threads);
    sl_free(ids);
    const char *exe = s->proc->proc.exe;
    const char *slash = strrchr(exe, '/');
    out->pid = s->proc->pid;
    out->name = slash ? slash + 1 : exe;
    out->threads = s->threads;
    out->n_threads = s->n_threads;
    return SL_OK;
}

typedef struct reader {
    pf_lake_source *src;
    lake_scan *sc;
    col_batch *cur;
    sites st;
    const atomic_int *cancelled;
    uint8_t *kinds;      /* async: begin/end per row */
    size_t kinds_cap;
} reader;

static int open_scan(pf_lake_source *s, lake_view_id v, const char *instance,
                     const pf_read_req *req, reader **out, errmsg *e)
{
    reader *r = sl_calloc(1, sizeof *r);
    if (!r)
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    r->src = s;
    r->cancelled = req->cancelled;
    u64map_init(&r->st.map);
    lake_scan_opts o;
    lake_scan_opts_init(&o);
    o.begin_ns = req->begin_ns;
    /* The request's range is inclusive; the lake's end is exclusive. */
    o.end_ns = req->end_ns == INT64_MAX ? INT64_MAX : req->end_ns + 1;
    o.columns = v == LAKE_THREAD_SPANS ? g_thread_cols : g_async_cols;
    o.ncolumns = v == LAKE_THREAD_SPANS ? P_NTHREAD : Q_NASYNC;
    o.defer_commit = 1; /* read at once: uploads and rows off the trace's path */
    lake_mat_stats st = {0};
    int64_t t0 = clock_mono_ns();
    int rc = lake_scan_open(s->l, v, instance, &o, &st, &r->sc, e);
    if (st.built)
        atomic_fetch_add(&s->jit_ns, clock_mono_ns() - t0);
    if (rc) {
        sl_free(r);
        return rc;
    }
    *out = r;
    return SL_OK;
}

static void close_reader(void *rd)
{
    reader *r = rd;
    if (!r)
        return;
    col_batch_release(r->cur);
    lake_scan_close(r->sc);
    sites_free(&r->st);
    sl_free(r->kinds);
    sl_free(r);
}

/* The next non-empty batch into r->cur (NULL at the end). */
static int next_batch(reader *r, errmsg *e)
{
    col_batch_release(r->cur);
    r->cur = NULL;
    if (r->cancelled && atomic_load(r->cancelled))
        return errmsg_set(e, SL_ECANCELED, "cancelled");
    int rc;
    do {
        col_batch_release(r->cur);
        r->cur = NULL;
        rc = lake_scan_next(r->sc, &r->cur, e);
    } while (!rc && r->cur && r->cur->nrows == 0);
    return rc;
}

/* The next non-empty batch (NULL at the end) with its site table built. */
static int next_with_sites(reader *r, int hash, int name, int target, int file, int line,
                           const col_batch **out, errmsg *e)
{
    *out = NULL;
    int rc = next_batch(r, e);
    if (rc || !r->cur)
        return rc;
    if ((rc = sites_build(&r->st, r->cur, hash, name, target, file, line)))
        return errmsg_set(e, rc, "out of memory");
    *out = r->cur;
    return SL_OK;
}

static int lk_thread_open(void *ctx, size_t i, const pf_read_req *req, void **out, errmsg *e)
{
    pf_lake_source *s = ctx;
    if (i >= s->n_threads)
        return errmsg_set(e, SL_EINVAL, "no thread %zu", i);
    return open_scan(s, LAKE_THREAD_SPANS, s->threads[i].stream_id, req, (reader **)out, e);
}

static int lk_thread_next(void *rd, pf_span_rows *out, errmsg *e)
{
    reader *r = rd;
    memset(out, 0, sizeof *out);
    const col_batch *b;
    int rc = next_with_sites(r, P_HASH, P_NAME, P_TARGET, P_FILE, P_LINE, &b, e);
    if (rc || !b)
        return rc;
    out->n = (size_t)b->nrows;
    out->begin_ns = (const int64_t *)(const void *)b->cols[P_BEGIN].values->p;
    out->end_ns = (const int64_t *)(const void *)b->cols[P_END].values->p;
    out->depth = (const uint32_t *)(const void *)b->cols[P_DEPTH].values->p;
    out->site_idx = r->st.idx;
    out->sites = r->st.s;
    out->n_sites = r->st.n;
    return SL_OK;
}

static int lk_async_open(void *ctx, const pf_read_req *req, void **out, errmsg *e)
{
    pf_lake_source *s = ctx;
    return open_scan(s, LAKE_ASYNC_EVENTS, s->proc->proc.process_id_str, req, (reader **)out, e);
}

static int lk_async_next(void *rd, pf_async_events *out, errmsg *e)
{
    reader *r = rd;
    memset(out, 0, sizeof *out);
    const col_batch *b;
    int rc = next_with_sites(r, Q_HASH, Q_NAME, Q_TARGET, Q_FILE, Q_LINE, &b, e);
    if (rc || !b)
        return rc;
    if ((size_t)b->nrows > r->kinds_cap) {
        uint8_t *k = sl_realloc(r->kinds, (size_t)b->nrows);
        if (!k)
            return errmsg_set(e, SL_ENOMEM, "out of memory");
        r->kinds = k;
        r->kinds_cap = (size_t)b->nrows;
    }
    for (int64_t i = 0; i < b->nrows; i++) {
        size_t l;
        col_vec_str(&b->cols[Q_TYPE], i, &l);
        r->kinds[i] = l == 5 ? PF_EV_BEGIN : PF_EV_END; /* "begin" or "end" */
    }
    out->n = (size_t)b->nrows;
    out->time_ns = (const int64_t *)(const void *)b->cols[Q_TIME].values->p;
    out->kind = r->kinds;
    out->span_id = (const uint64_t *)(const void *)b->cols[Q_SPAN].values->p;
    out->parent_span_id = (const uint64_t *)(const void *)b->cols[Q_PARENT].values->p;
    out->site_idx = r->st.idx;
    out->sites = r->st.s;
    out->n_sites = r->st.n;
    return SL_OK;
}

static void lk_stats(void *ctx, pf_source_stats *out)
{
    pf_lake_source *s = ctx;
    uint64_t h, m;
    lake_cache_counters(s->l, &h, &m);
    out->jit_ns = atomic_load(&s->jit_ns);
    out->cache_hits = h - s->hits0;
    out->cache_misses = m - s->misses0;
}

/* Builds the thread's missing thread_spans partitions ahead of its reader. */
static int lk_thread_prepare(void *ctx, size_t i, errmsg *e)
{
    pf_lake_source *s = ctx;
    if (i >= s->n_threads)
        return errmsg_set(e, SL_EINVAL, "no thread %zu", i);
    lake_mat_stats st = {0};
    int64_t t0 = clock_mono_ns();
    int rc =
        lake_materialize_for_read(s->l, LAKE_THREAD_SPANS, s->threads[i].stream_id, &st, e);
    if (st.built)
        atomic_fetch_add(&s->jit_ns, clock_mono_ns() - t0);
    return rc;
}

static const pf_source_ops g_ops = {
    .resolve = lk_resolve,         .thread_open = lk_thread_open,
    .thread_next = lk_thread_next, .thread_close = close_reader,
    .async_open = lk_async_open,   .async_next = lk_async_next,
    .async_close = close_reader,   .stats = lk_stats,
    .thread_prepare = lk_thread_prepare,
};

void pf_lake_source_init(pf_lake_source *s, lake *l, const sl_uuid *process_id)
{
    memset(s, 0, sizeof *s);
    s->l = l;
    s->process_id = *process_id;
    lake_commit_hold(l, 1); /* its builds' uploads wait until it ends (commit.c) */
}

pf_source pf_lake_source_get(pf_lake_source *s)
{
    return (pf_source){&g_ops, s};
}

void pf_lake_source_free(pf_lake_source *s)
{
    if (s->l)
        lake_commit_hold(s->l, -1);
    lake_prefetch_stop(s->prefetch);
    lake_process_release(s->l, s->proc);
    sl_free(s->threads);
    memset(s, 0, sizeof *s);
}
