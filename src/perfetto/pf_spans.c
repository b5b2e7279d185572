/*
 * pf_spans.c - span batches to slice events (see pf_spans.h).
 */
#include "perfetto/pf_spans.h"

#include "base/alloc.h"

#include <stdio.h>
#include <string.h>

static int seq_err(pf_seq *s, int rc, errmsg *e)
{
    return errmsg_set(e, rc, "%s", pf_seq_error(s));
}

/* Checks the site columns of a batch and binds its sites to the sequence. */
static int bind_rows(pf_seq *seq, const pf_span_rows *r, errmsg *e)
{
    if (!r->begin_ns || !r->end_ns || (!r->sites && r->n))
        return errmsg_set(e, SL_EINVAL, "span rows need begin, end and sites");
    if (!r->site_idx && r->n_sites < r->n)
        return errmsg_set(e, SL_EINVAL, "span rows without site_idx need one site per row");
    if (r->site_idx)
        for (size_t i = 0; i < r->n; i++)
            if (r->site_idx[i] >= r->n_sites)
                return errmsg_set(e, SL_EINVAL, "row %zu: site index %u outside %zu sites", i,
                                  r->site_idx[i], r->n_sites);
    int rc = pf_seq_sites_bind(seq, r->sites, r->n_sites);
    return rc ? seq_err(seq, rc, e) : SL_OK;
}

static uint32_t site_of(const pf_span_rows *r, size_t i)
{
    return r->site_idx ? r->site_idx[i] : (uint32_t)i;
}

/* ---- thread spans ------------------------------------------------------ */

void pf_thread_writer_init(pf_thread_writer *t, pf_seq *seq, uint64_t track_uuid)
{
    memset(t, 0, sizeof *t);
    t->seq = seq;
    t->track_uuid = track_uuid;
    t->max_depth = PF_THREAD_MAX_DEPTH_DEFAULT;
}

void pf_thread_writer_destroy(pf_thread_writer *t)
{
    sl_free(t->open_end);
    t->open_end = NULL;
}

/* Ends the innermost open span, no later than `limit`. */
static int close_top(pf_thread_writer *t, int64_t limit)
{
    int64_t end = t->open_end[--t->n];
    if (end > limit) {
        end = limit;
        t->clamped++;
    }
    return pf_seq_slice_end(t->seq, t->track_uuid, end);
}

/*
 * Opens one span (see the repairs in pf_spans.h).  Ends are emitted at
 * min(end, begin) innermost first; as ends were clamped to their parent's
 * end when pushed, the emitted times never decrease along the track.
 */
static int thread_one(pf_thread_writer *t, int64_t begin, int64_t end, uint32_t depth,
                      uint32_t site, errmsg *e)
{
    int rc;
    while (t->n > 0 && (t->n > depth || t->open_end[t->n - 1] < begin))
        if ((rc = close_top(t, begin)))
            return seq_err(t->seq, rc, e);
    if (end < begin) {
        end = begin;
        t->clamped++;
    }
    if (t->n > 0 && end > t->open_end[t->n - 1]) {
        end = t->open_end[t->n - 1];
        t->clamped++;
    }
    if (t->n == t->cap) {
        if (t->n >= t->max_depth)
            return errmsg_set(e, SL_ETOOBIG, "thread spans nest deeper than %u", t->max_depth);
        uint32_t ncap = t->cap ? t->cap * 2 : 64;
        int64_t *p = sl_realloc(t->open_end, (size_t)ncap * sizeof *p);
        if (!p)
            return errmsg_set(e, SL_ENOMEM, "no memory for the span stack");
        t->open_end = p;
        t->cap = ncap;
    }
    if ((rc = pf_seq_slice_begin_bound(t->seq, t->track_uuid, begin, site)))
        return seq_err(t->seq, rc, e);
    t->open_end[t->n++] = end;
    return SL_OK;
}

int pf_thread_writer_add(pf_thread_writer *t, const pf_span_rows *r, errmsg *e)
{
    int rc = bind_rows(t->seq, r, e);
    for (size_t i = 0; i < r->n && !rc; i++) {
        int64_t b = r->begin_ns[i];
        if (t->any && b < t->last_begin)
            return errmsg_set(e, SL_EINVAL, "thread spans not sorted by begin at row %zu", i);
        t->any = 1;
        t->last_begin = b;
        rc = thread_one(t, b, r->end_ns[i], r->depth ? r->depth[i] : 0, site_of(r, i), e);
    }
    return rc;
}

int pf_thread_writer_finish(pf_thread_writer *t, errmsg *e)
{
    while (t->n > 0) {
        int rc = close_top(t, INT64_MAX);
        if (rc)
            return seq_err(t->seq, rc, e);
    }
    return SL_OK;
}

/* ---- async spans ------------------------------------------------------- */

static int async_end(void *ctx, uint32_t lane, uint64_t span_id, int64_t end_ns)
{
    (void)span_id;
    pf_async_writer *a = ctx;
    return pf_seq_slice_end(a->seq, a->lane_uuid_base + lane, end_ns);
}

void pf_async_writer_init(pf_async_writer *a, pf_seq *seq, uint64_t process_uuid,
                          uint64_t lane_uuid_base, const char *lane_name_prefix)
{
    memset(a, 0, sizeof *a);
    a->seq = seq;
    a->process_uuid = process_uuid;
    a->lane_uuid_base = lane_uuid_base;
    snprintf(a->prefix, sizeof a->prefix, "%s", lane_name_prefix ? lane_name_prefix : "async");
    pf_lanes_init(&a->lanes, 0, 0, async_end, a);
}

void pf_async_writer_destroy(pf_async_writer *a)
{
    pf_lanes_destroy(&a->lanes);
}

static int describe_lanes(pf_async_writer *a, uint32_t upto)
{
    char name[96];
    while (a->ndescribed <= upto) {
        int n = snprintf(name, sizeof name, "%s %u", a->prefix, a->ndescribed);
        int rc = pf_seq_child_track(a->seq, a->lane_uuid_base + a->ndescribed, a->process_uuid,
                                    name, (size_t)n);
        if (rc)
            return rc;
        a->ndescribed++;
    }
    return SL_OK;
}

/* A lanes error carries its own message; a sequence error the sequence's. */
static int lanes_err(pf_async_writer *a, int rc, errmsg *e)
{
    if (a->seq->err)
        return seq_err(a->seq, rc, e);
    return errmsg_set(e, rc, "%s", errmsg_str(&a->lanes.emsg));
}

int pf_async_writer_add(pf_async_writer *a, const pf_span_rows *r, errmsg *e)
{
    int rc = bind_rows(a->seq, r, e);
    if (!rc && !r->span_id && r->n)
        rc = errmsg_set(e, SL_EINVAL, "async span rows need span ids");
    for (size_t i = 0; i < r->n && !rc; i++) {
        pf_async_span s = {r->span_id[i], r->parent_span_id ? r->parent_span_id[i] : 0,
                           r->begin_ns[i], r->end_ns[i]};
        uint32_t lane;
        if ((rc = pf_lanes_place(&a->lanes, &s, &lane)))
            return lanes_err(a, rc, e);
        a->last_lane = lane;
        if ((rc = describe_lanes(a, lane)) ||
            (rc = pf_seq_slice_begin_bound(a->seq, a->lane_uuid_base + lane, s.begin_ns,
                                           site_of(r, i))))
            return seq_err(a->seq, rc, e);
    }
    return rc;
}

int pf_async_writer_set_end(pf_async_writer *a, uint32_t lane, int64_t end_ns, errmsg *e)
{
    int rc = pf_lanes_set_end(&a->lanes, lane, end_ns);
    return rc ? lanes_err(a, rc, e) : SL_OK;
}

int pf_async_writer_finish(pf_async_writer *a, errmsg *e)
{
    int rc = pf_lanes_finish(&a->lanes);
    return rc ? lanes_err(a, rc, e) : SL_OK;
}
