/*
 * pf_spans.h - turns batches of spans into slice begin/end events.
 *
 * Trace generation reads spans as columns (Parquet row groups of the
 * thread_spans and async_events views) and hands them here a batch at a
 * time.  Two writers sit on top of a pf_seq:
 *
 *  pf_thread_writer: the call tree of one thread on one track.  Rows come
 *  sorted by begin (ties: smaller depth first) with their call depth.  A stack
 *  of open spans turns them into begin/end events in time order.  The output
 *  is valid whatever the input: a span claiming a depth deeper than the open
 *  stack nests under the innermost open span; a span outliving its parent is
 *  cut at the parent's end; a sibling still open when the next one begins is
 *  cut at that begin; end < begin becomes a zero-length slice.  Each such
 *  repair is counted in `clamped`.  Per track, timestamps never go backwards
 *  and every begin has its end once pf_thread_writer_finish has run.
 *
 *  pf_async_writer: async spans of a process, laid on lanes (pf_lanes.h),
 *  each lane a child track of the process track named "<prefix> <n>".  A
 *  lane's TrackDescriptor is written just before its first slice.  Rows come
 *  sorted by begin; ends are emitted in time order as later begins pass
 *  them, and the rest at pf_async_writer_finish.
 *
 * Memory: a thread writer holds its open stack (bounded by max depth, 2^16
 * by default), an async writer the open spans of its lanes (pf_lanes caps).
 * Both are single-threaded objects tied to one pf_seq.
 */
#ifndef SL_PERFETTO_PF_SPANS_H
#define SL_PERFETTO_PF_SPANS_H

#include "base/err.h"
#include "perfetto/pf_lanes.h"
#include "perfetto/pf_seq.h"

#include <stddef.h>
#include <stdint.h>

/* One batch of spans as columns; unused columns may be NULL. */
typedef struct pf_span_rows {
    size_t n;
    const int64_t *begin_ns;
    const int64_t *end_ns;
    const uint32_t *depth;          /* thread spans: 0 for a root */
    const uint64_t *span_id;        /* async spans */
    const uint64_t *parent_span_id; /* async spans; NULL: no parents */
    const uint32_t *site_idx;       /* row -> sites[]; NULL: row i uses sites[i] */
    const pf_site *sites;
    size_t n_sites;
} pf_span_rows;

#define PF_THREAD_MAX_DEPTH_DEFAULT (1u << 20) /* as the lake's thread_spans */

typedef struct pf_thread_writer {
    pf_seq *seq;
    uint64_t track_uuid;  /* 0: the sequence's default track */
    int64_t *open_end;    /* ends of the open spans, outermost first */
    uint32_t n, cap, max_depth;
    int64_t last_begin;
    int any;
    uint64_t clamped;     /* repairs made to keep the track valid */
} pf_thread_writer;

void pf_thread_writer_init(pf_thread_writer *t, pf_seq *seq, uint64_t track_uuid);
/* 0, SL_EINVAL (rows not sorted by begin, bad site index), SL_ETOOBIG (depth
 * cap), or the sequence's error; e gets the reason. */
int pf_thread_writer_add(pf_thread_writer *t, const pf_span_rows *rows, errmsg *e);
/* Ends every open span. */
int pf_thread_writer_finish(pf_thread_writer *t, errmsg *e);
void pf_thread_writer_destroy(pf_thread_writer *t);

typedef struct pf_async_writer {
    pf_seq *seq;
    pf_lanes lanes;
    uint64_t process_uuid;
    uint64_t lane_uuid_base;   /* lane n is track lane_uuid_base + n */
    char prefix[64];
    uint32_t ndescribed;       /* lanes whose descriptor is written */
    uint32_t last_lane;        /* lane of the last span placed */
} pf_async_writer;

/* Lanes become tracks lane_uuid_base + n, children of process_uuid. */
void pf_async_writer_init(pf_async_writer *a, pf_seq *seq, uint64_t process_uuid,
                          uint64_t lane_uuid_base, const char *lane_name_prefix);
int pf_async_writer_add(pf_async_writer *a, const pf_span_rows *rows, errmsg *e);
/* Lowers the end of a span of unknown end placed earlier (pf_lanes_set_end):
 * lane is the writer's last_lane right after that span was added. */
int pf_async_writer_set_end(pf_async_writer *a, uint32_t lane, int64_t end_ns, errmsg *e);
int pf_async_writer_finish(pf_async_writer *a, errmsg *e);
void pf_async_writer_destroy(pf_async_writer *a);

#endif
