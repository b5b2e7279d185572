/*
 * pf_gen_async.c - the process part of a trace: the process track, and the
 * async spans built from async events in one pass (see pf_gen.h).
 *
 * Events come in time order.  A begin appends a pending record to a ring
 * kept in begin order and maps its span id to the record; an end resolves
 * the record (span id -> record through pf_idmap, no join).  Resolved records
 * at the head of the ring leave it in begin order, in batches of ROWS, for
 * the lane writer (pf_async_writer), which needs each span's end to nest
 * spans correctly.  The ring is bounded by async_window: when it is full the
 * head (necessarily still open) is placed with an unknown end, alone on a
 * lane, and its end is set when it arrives (pf_lanes_set_end).
 *
 * Range: events after the range's end stop the reading; spans still open
 * then end at the range's end (or at the last event without an upper
 * bound).  A begin before the range's begin is clipped to it; an end whose
 * begin was never seen is a span "begun earlier": it begins at the range's
 * begin (or at the first event) and goes to a second lane writer, since the
 * first has already moved past that time.  Those spans are kept until the
 * end (they are at most the spans open when the data starts) and placed
 * longest first, so that they nest under their parents.
 *
 * Call sites: a batch's site dictionary is only valid for that batch, but a
 * pending span outlives it, so sites are copied once into a table of our own
 * (strings in an arena, a content-hash map verified on every hit) and spans
 * refer to that table.  Everything here is bounded: the ring by the window,
 * the sites by PF_ASYNC_SITES_MAX and their bytes, the begun-earlier spans
 * by the window (flushed when it fills).
 */
#include "perfetto/pf_gen_int.h"

#include "base/alloc.h"
#include "base/arena.h"
#include "base/hash.h"
#include "base/u64map.h"
#include "perfetto/pf_idmap.h"
#include "perfetto/pf_lanes.h"

#include <stdlib.h>
#include <string.h>

#define ROWS 1024
#define FORCED 0x80000000u
#define PF_ASYNC_SITES_MAX (1u << 20)
#define PF_ASYNC_SITE_BYTES_MAX ((size_t)64 << 20)

enum { P_OPEN = 0, P_RESOLVED = 1, P_DROPPED = 2 };

typedef struct pend {
    uint64_t id, parent;
    int64_t b, e;
    uint32_t site;
    uint8_t state;
} pend;

typedef struct rowbuf {
    int64_t b[ROWS], e[ROWS];
    uint64_t id[ROWS], par[ROWS];
    uint32_t site[ROWS];
    size_t n;
} rowbuf;

typedef struct sitetab {
    arena strs;
    pf_site *v;
    uint32_t n, cap;
    u64map map;        /* content key -> index, several per key possible */
    uint32_t *remap;   /* current batch's site index -> ours, UINT32_MAX: not yet */
    size_t remap_cap;
} sitetab;

typedef struct astate {
    pf_part *p;
    pf_gen *g;
    pf_seq seq;
    pf_async_writer main, early;
    pend *ring;
    uint32_t cap, n, head; /* head: sequence number of the oldest record */
    pf_idmap open;         /* span id -> ring sequence number, or FORCED | lane */
    sitetab st;
    rowbuf *rb;
    pend *orph;            /* spans begun earlier, placed at the end */
    size_t norph, orph_cap;
    int64_t last_t, first_t;
    int any;
} astate;

/* ---- call sites -------------------------------------------------------- */

static uint64_t site_hash(const pf_site *s)
{
    uint64_t h = hash64(s->name, s->name_len);
    h = hash64_seed(s->category, s->category_len, h);
    h = hash64_seed(s->file, s->file_len, h);
    return hash_u64(h ^ s->line);
}

static int site_eq(const pf_site *a, const pf_site *b)
{
    return a->line == b->line && a->name_len == b->name_len &&
           a->category_len == b->category_len && a->file_len == b->file_len &&
           !memcmp(a->name, b->name, a->name_len) &&
           !memcmp(a->category, b->category, a->category_len) &&
           !memcmp(a->file, b->file, a->file_len);
}

static int site_add(sitetab *t, const pf_site *s, uint64_t key, uint32_t *out, errmsg *e)
{
    if (t->n >= PF_ASYNC_SITES_MAX)
        return errmsg_set(e, SL_ETOOBIG, "async spans use more than %u call sites",
                          PF_ASYNC_SITES_MAX);
    if (t->n == t->cap) {
        uint32_t ncap = t->cap ? t->cap * 2 : 256;
        pf_site *nv = sl_realloc(t->v, (size_t)ncap * sizeof *nv);
        if (!nv)
            return errmsg_set(e, SL_ENOMEM, "no memory for async call sites");
        t->v = nv;
        t->cap = ncap;
    }
    pf_site c = *s;
    c.name = arena_strndup(&t->strs, s->name ? s->name : "", s->name_len);
    c.category = arena_strndup(&t->strs, s->category ? s->category : "", s->category_len);
    c.file = arena_strndup(&t->strs, s->file ? s->file : "", s->file_len);
    if (!c.name || !c.category || !c.file)
        return errmsg_set(e, SL_ETOOBIG, "async call sites hold more than %zu bytes",
                          PF_ASYNC_SITE_BYTES_MAX);
    if (u64map_put_multi(&t->map, key, t->n))
        return errmsg_set(e, SL_ENOMEM, "no memory for async call sites");
    t->v[t->n] = c;
    *out = t->n++;
    return SL_OK;
}

/* Our index for site i of the current batch. */
static int site_of(astate *a, const pf_async_events *ev, size_t row, uint32_t *out, errmsg *e)
{
    uint32_t i = ev->site_idx ? ev->site_idx[row] : (uint32_t)row;
    if (i >= ev->n_sites)
        return errmsg_set(e, SL_EINVAL, "async event row %zu: site index %u outside %zu sites",
                          row, i, ev->n_sites);
    sitetab *t = &a->st;
    if (t->remap[i] != UINT32_MAX) {
        *out = t->remap[i];
        return SL_OK;
    }
    const pf_site *s = &ev->sites[i];
    if ((s->name_len && !s->name) || (s->category_len && !s->category) ||
        (s->file_len && !s->file))
        return errmsg_set(e, SL_EINVAL, "async site %u has a length without its string", i);
    uint64_t key = s->key ? s->key : site_hash(s);
    size_t pos = (size_t)-1;
    uint32_t v;
    while (u64map_find_next(&t->map, key, &pos, &v))
        if (site_eq(&t->v[v], s)) {
            t->remap[i] = *out = v;
            return SL_OK;
        }
    int rc = site_add(t, s, key, &v, e);
    if (!rc)
        t->remap[i] = *out = v;
    return rc;
}

/* ---- placing spans ----------------------------------------------------- */

static pf_span_rows rows_of(astate *a, rowbuf *r)
{
    return (pf_span_rows){.n = r->n, .begin_ns = r->b, .end_ns = r->e, .span_id = r->id,
                          .parent_span_id = r->par, .site_idx = r->site, .sites = a->st.v,
                          .n_sites = a->st.n};
}

static int flush_main(astate *a)
{
    if (a->rb->n == 0)
        return SL_OK;
    pf_span_rows rows = rows_of(a, a->rb);
    int rc = pf_async_writer_add(&a->main, &rows, &a->p->err);
    a->p->spans += a->rb->n;
    a->rb->n = 0;
    return rc;
}

/* Appends s to r, which has room. */
static void row_put(rowbuf *r, const pend *s)
{
    r->b[r->n] = s->b;
    r->e[r->n] = s->e;
    r->id[r->n] = s->id;
    r->par[r->n] = s->parent;
    r->site[r->n] = s->site;
    r->n++;
}

static int rows_push(astate *a, const pend *s)
{
    row_put(a->rb, s);
    return a->rb->n == ROWS ? flush_main(a) : SL_OK;
}

static pend *ring_at(astate *a, uint32_t seqno)
{
    return &a->ring[seqno & (a->cap - 1)];
}

/* Resolved records at the head leave for the lanes, in begin order. */
static int drain(astate *a)
{
    int rc = SL_OK;
    while (a->n > 0 && !rc) {
        pend *h = ring_at(a, a->head);
        if (h->state == P_OPEN)
            break;
        if (h->state == P_RESOLVED)
            rc = rows_push(a, h);
        a->head++;
        a->n--;
    }
    return rc;
}

/* The window is full: place the oldest open span with its end still unknown. */
static int force_head(astate *a)
{
    int rc = flush_main(a);
    if (rc)
        return rc;
    pend *h = ring_at(a, a->head);
    int64_t unknown = INT64_MAX;
    uint64_t anon = 0;
    pf_span_rows one = {.n = 1, .begin_ns = &h->b, .end_ns = &unknown, .span_id = &anon,
                        .site_idx = &h->site, .sites = a->st.v, .n_sites = a->st.n};
    if ((rc = pf_async_writer_add(&a->main, &one, &a->p->err)))
        return rc;
    pf_idmap_del(&a->open, h->id);
    if (pf_idmap_put(&a->open, h->id, FORCED | a->main.last_lane))
        return errmsg_set(&a->p->err, SL_ENOMEM, "no memory for open async spans");
    a->p->forced++;
    a->p->spans++;
    a->head++;
    a->n--;
    return drain(a);
}

static int ring_grow(astate *a)
{
    uint32_t ncap = a->cap ? a->cap * 2 : 1024;
    pend *nr = sl_malloc((size_t)ncap * sizeof *nr);
    if (!nr)
        return errmsg_set(&a->p->err, SL_ENOMEM, "no memory for pending async spans");
    for (uint32_t k = 0; k < a->n; k++)
        nr[(a->head + k) & (ncap - 1)] = *ring_at(a, a->head + k);
    sl_free(a->ring);
    a->ring = nr;
    a->cap = ncap;
    return SL_OK;
}

/* ---- events ------------------------------------------------------------- */

static int orphan_push(astate *a, const pend *s);

static int on_end(astate *a, uint64_t id, uint64_t parent, int64_t t, const pf_async_events *ev,
                  size_t row)
{
    pf_gen *g = a->g;
    uint32_t v = pf_idmap_get(&a->open, id);
    if (v == PF_IDMAP_NONE) {
        if (id == 0) {
            a->p->unpaired++;
            return SL_OK;
        }
        if (t < g->rb)
            return SL_OK; /* began and ended before the range */
        uint32_t site;
        int rc = site_of(a, ev, row, &site, &a->p->err);
        if (rc)
            return rc;
        pend s = {id, parent, g->cfg.has_begin ? g->rb : a->first_t, t, site, P_RESOLVED};
        a->p->begun_earlier++;
        return orphan_push(a, &s);
    }
    pf_idmap_del(&a->open, id);
    if (v & FORCED) /* its begin was clipped to the range, so its end is too */
        return pf_async_writer_set_end(&a->main, v & ~FORCED, t < g->rb ? g->rb : t,
                                       &a->p->err);
    pend *s = ring_at(a, v);
    if (t < g->rb) {
        s->state = P_DROPPED;
    } else {
        s->e = t;
        s->state = P_RESOLVED;
    }
    return drain(a);
}

static int on_begin(astate *a, uint64_t id, uint64_t parent, int64_t t, const pf_async_events *ev,
                    size_t row)
{
    int rc;
    if (id == 0) {
        a->p->unpaired++; /* an anonymous span can never be paired with its end */
        return SL_OK;
    }
    if (pf_idmap_get(&a->open, id) != PF_IDMAP_NONE) {
        a->p->unpaired++; /* a second begin: the first one ends here */
        if ((rc = on_end(a, id, 0, t, ev, row)))
            return rc;
    }
    if (a->n >= a->g->cfg.async_window && (rc = force_head(a)))
        return rc;
    if (a->n == a->cap && (rc = ring_grow(a)))
        return rc;
    uint32_t site;
    if ((rc = site_of(a, ev, row, &site, &a->p->err)))
        return rc;
    uint32_t seqno = a->head + a->n;
    *ring_at(a, seqno) = (pend){id, parent, t < a->g->rb ? a->g->rb : t, 0, site, P_OPEN};
    a->n++;
    if (pf_idmap_put(&a->open, id, seqno))
        return errmsg_set(&a->p->err, SL_ENOMEM, "no memory for open async spans");
    return SL_OK;
}

static int check_events(const pf_async_events *ev, errmsg *e)
{
    if (ev->n > PF_SOURCE_MAX_BATCH_ROWS)
        return errmsg_set(e, SL_ETOOBIG, "a batch of %zu async events is over the cap of %u",
                          ev->n, PF_SOURCE_MAX_BATCH_ROWS);
    if (ev->n && (!ev->time_ns || !ev->kind || !ev->span_id || !ev->sites))
        return errmsg_set(e, SL_EINVAL, "async events need time, kind, span_id and sites");
    if (ev->n_sites > PF_SOURCE_MAX_BATCH_ROWS)
        return errmsg_set(e, SL_ETOOBIG, "a batch of async events has %zu sites", ev->n_sites);
    return SL_OK;
}

static int on_batch(astate *a, const pf_async_events *ev, int *stop)
{
    int rc = check_events(ev, &a->p->err);
    sitetab *t = &a->st;
    if (!rc && ev->n_sites > t->remap_cap) {
        sl_free(t->remap);
        t->remap_cap = 0;
        if (!(t->remap = sl_malloc(ev->n_sites * sizeof *t->remap)))
            return errmsg_set(&a->p->err, SL_ENOMEM, "no memory for async call sites");
        t->remap_cap = ev->n_sites;
    }
    if (!rc && ev->n_sites)
        memset(t->remap, 0xff, ev->n_sites * sizeof *t->remap);
    for (size_t i = 0; i < ev->n && !rc; i++) {
        int64_t tm = ev->time_ns[i];
        if (a->any && tm < a->last_t)
            return errmsg_set(&a->p->err, SL_EINVAL,
                              "async events go back in time at row %zu: %lld after %lld", i,
                              (long long)tm, (long long)a->last_t);
        if (!a->any)
            a->first_t = tm;
        a->any = 1;
        a->last_t = tm;
        if (tm > a->g->re) {
            *stop = 1;
            a->last_t = a->g->re;
            break;
        }
        uint64_t par = ev->parent_span_id ? ev->parent_span_id[i] : 0;
        if (ev->kind[i] == PF_EV_BEGIN)
            rc = on_begin(a, ev->span_id[i], par, tm, ev, i);
        else if (ev->kind[i] == PF_EV_END)
            rc = on_end(a, ev->span_id[i], par, tm, ev, i);
        else
            rc = errmsg_set(&a->p->err, SL_EINVAL, "async event row %zu has kind %u", i,
                            ev->kind[i]);
    }
    return rc;
}

/* ---- spans begun before the data -------------------------------------- */

static int by_end_desc(const void *x, const void *y)
{
    const pend *a = x, *b = y;
    if (a->e != b->e)
        return a->e > b->e ? -1 : 1;
    if (a->id != b->id)
        return a->id < b->id ? -1 : 1;
    return a->site < b->site ? -1 : a->site > b->site;
}

/* All begin at the same time: longest first, so children nest under parents. */
static int flush_orphans(astate *a)
{
    if (a->norph == 0)
        return SL_OK;
    qsort(a->orph, a->norph, sizeof *a->orph, by_end_desc);
    rowbuf tmp;
    int rc = SL_OK;
    for (size_t off = 0; off < a->norph && !rc; off += ROWS) {
        tmp.n = 0;
        for (size_t k = off; k < a->norph && tmp.n < ROWS; k++)
            row_put(&tmp, &a->orph[k]);
        pf_span_rows rows = rows_of(a, &tmp);
        rc = pf_async_writer_add(&a->early, &rows, &a->p->err);
        a->p->spans += tmp.n;
    }
    a->norph = 0;
    return rc;
}

static int orphan_push(astate *a, const pend *s)
{
    if (a->norph == a->orph_cap) {
        if (a->norph >= a->g->cfg.async_window) {
            int rc = flush_orphans(a);
            if (rc)
                return rc;
        } else {
            size_t ncap = a->orph_cap ? a->orph_cap * 2 : 256;
            pend *n = sl_realloc(a->orph, ncap * sizeof *n);
            if (!n)
                return errmsg_set(&a->p->err, SL_ENOMEM, "no memory for async spans");
            a->orph = n;
            a->orph_cap = ncap;
        }
    }
    a->orph[a->norph++] = *s;
    return SL_OK;
}

/* ---- the part ------------------------------------------------------------ */

/* End of the events (or of the range): close what is still open. */
static int close_open(astate *a)
{
    int64_t close_t = a->g->cfg.has_end ? a->g->re : a->last_t;
    int rc = SL_OK;
    for (uint32_t k = 0; k < a->n; k++) {
        pend *s = ring_at(a, a->head + k);
        if (s->state == P_OPEN) {
            s->e = close_t > s->b ? close_t : s->b;
            s->state = P_RESOLVED;
        }
    }
    rc = drain(a);
    for (uint32_t i = 0; a->open.keys && i <= a->open.mask && !rc; i++)
        if (a->open.keys[i] && (a->open.vals[i] & FORCED))
            rc = pf_async_writer_set_end(&a->main, a->open.vals[i] & ~FORCED, close_t,
                                         &a->p->err);
    pf_idmap_free(&a->open);
    if (!rc)
        rc = flush_main(a);
    if (!rc)
        rc = flush_orphans(a);
    if (!rc)
        rc = pf_async_writer_finish(&a->main, &a->p->err);
    if (!rc)
        rc = pf_async_writer_finish(&a->early, &a->p->err);
    return rc;
}

static int read_events(astate *a)
{
    pf_gen *g = a->g;
    const pf_source_ops *ops = g->src.ops;
    void *reader = NULL;
    int rc = ops->async_open(g->src.ctx, &g->req, &reader, &a->p->err);
    int stop = 0;
    while (!rc && !stop) {
        if (pf_gen_is_cancelled(g)) {
            rc = SL_ECANCELED; /* the reader is closed below */
            break;
        }
        pf_async_events ev = {0};
        rc = ops->async_next(reader, &ev, &a->p->err);
        if (rc || ev.n == 0)
            break;
        rc = on_batch(a, &ev, &stop);
    }
    if (reader)
        ops->async_close(reader);
    if (rc && rc != SL_ECANCELED && a->p->err.code == 0)
        errmsg_set(&a->p->err, rc, "%s", sl_strerror(rc));
    return rc;
}

static void astate_free(astate *a)
{
    pf_async_writer_destroy(&a->main);
    pf_async_writer_destroy(&a->early);
    pf_seq_destroy(&a->seq);
    pf_idmap_free(&a->open);
    sl_free(a->ring);
    sl_free(a->orph);
    sl_free(a->rb);
    sl_free(a->st.v);
    sl_free(a->st.remap);
    u64map_free(&a->st.map);
    arena_destroy(&a->st.strs);
    sl_free(a);
}

void pf_gen_async_run(pool_task *t)
{
    pf_part *p = t->arg;
    pf_gen *g = p->g;
    int rc;
    astate *a = sl_calloc(1, sizeof *a);
    rowbuf *rb = sl_malloc(sizeof *rb);
    if (!a || !rb) {
        sl_free(a);
        sl_free(rb);
        rc = errmsg_set(&p->err, SL_ENOMEM, "no memory for the async part");
        goto out;
    }
    a->p = p;
    a->g = g;
    a->rb = rb;
    rb->n = 0;
    arena_init(&a->st.strs, 64 * 1024, PF_ASYNC_SITE_BYTES_MAX);
    u64map_init(&a->st.map);
    pf_seq_cfg cfg = {.seq_id = 1, .ts_mode = g->cfg.ts_mode, .chunk_bytes = g->cfg.chunk_bytes};
    rc = pf_seq_init(&a->seq, &cfg, pf_part_sink(p), &p->err);
    uint64_t lanes = PF_GEN_THREAD_UUID(g->proc.n_threads);
    pf_async_writer_init(&a->main, &a->seq, PF_GEN_PROCESS_UUID, lanes, "async");
    pf_async_writer_init(&a->early, &a->seq, PF_GEN_PROCESS_UUID, lanes + PF_LANES_MAX_DEFAULT,
                         "async (begun earlier)");
    if (!rc)
        rc = pf_seq_process_track(&a->seq, PF_GEN_PROCESS_UUID, g->proc.pid, g->proc.name,
                                  strlen(g->proc.name));
    if (!rc && (g->cfg.kinds & PF_KIND_ASYNC) && !g->empty_range)
        rc = read_events(a);
    /* Whatever stopped the reading, end every begun slice so the trace stays valid. */
    if (rc != SL_ECANCELED && !a->seq.err) {
        errmsg keep = p->err;
        int rc2 = (g->cfg.kinds & PF_KIND_ASYNC) ? close_open(a) : SL_OK;
        if (!rc2)
            rc2 = pf_seq_flush(&a->seq);
        if (rc)
            p->err = keep;
        else
            rc = rc2;
    }
    if (a->seq.err && !rc)
        rc = errmsg_set(&p->err, a->seq.err, "%s", pf_seq_error(&a->seq));
    p->lanes = a->main.lanes.nlanes + a->early.lanes.nlanes;
    astate_free(a);
out:
    p->rc = rc;
    t->rc = rc;
    pf_part_done(p);
}
