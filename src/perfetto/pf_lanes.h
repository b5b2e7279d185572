/*
 * pf_lanes.h - lays async spans on as few child tracks ("lanes") as needed.
 *
 * Async spans of a process overlap freely, but slices on one Perfetto track
 * must nest: on a track, any two slices are either disjoint or one contains
 * the other.  Putting all async spans on one track would jumble them; one
 * track per span would hide their structure.  This module assigns each span
 * a lane so that on every lane spans are disjoint or properly nested, and
 * the nesting shown is real: a span is nested only under its own parent.
 *
 * Input: spans sorted by begin (span_id, parent_span_id, begin_ns, end_ns;
 * ids 0 mean "none").  For each span, in order (greedy, online):
 *   1. close every open span that ended strictly before the span begins;
 *   2. if its parent is open, on top of its lane once the parent's finished
 *      children (end <= begin) are closed, and contains the span
 *      (end <= parent's end), the span goes on the parent's lane;
 *   3. otherwise every open span with end <= begin is closed too and the span
 *      goes on the lowest-numbered empty lane, or a new lane.
 * A lane is a stack of open spans, each nested in the one below it, so the
 * lane stays valid by construction.  "Touching" spans (one ends where the
 * next begins) share a lane.  The lane count is the greedy interval-colouring
 * count, except that a span never nests under an unrelated span.
 *
 * Memory is proportional to the open spans (lane stacks, and a map from open
 * span id to lane for parent lookups) plus the lanes, never to all spans, so
 * millions of spans stream through.  Caps (max_open, max_lanes) bound it for
 * hostile input: past them a call fails with SL_ETOOBIG.
 *
 * Ends are reported through an optional callback in an order that is valid
 * to write: per lane innermost first, and globally by end time (spans closed
 * at step 1 and 3 are at or before the begin that caused them, and
 * pf_lanes_finish closes the rest in end order).  The trace writer
 * (pf_spans.h) uses it to emit slice ends on the right lane; the pure batch
 * function pf_lanes_assign ignores them.
 */
#ifndef SL_PERFETTO_PF_LANES_H
#define SL_PERFETTO_PF_LANES_H

#include "base/err.h"
#include "perfetto/pf_idmap.h"

#include <stddef.h>
#include <stdint.h>

typedef struct pf_async_span {
    uint64_t span_id;        /* 0: anonymous (cannot be a parent) */
    uint64_t parent_span_id; /* 0: none */
    int64_t begin_ns;
    int64_t end_ns;          /* >= begin_ns */
} pf_async_span;

/* Called when an open span closes: its lane, its id and its end time. */
typedef int (*pf_lane_end_fn)(void *ctx, uint32_t lane, uint64_t span_id, int64_t end_ns);

typedef struct pf_lane_ent {
    uint64_t span_id;
    int64_t end_ns;
    int in_map; /* this entry owns span_id's slot in the open map */
} pf_lane_ent;

typedef struct pf_lane {
    pf_lane_ent *stk;
    uint32_t n, cap;
} pf_lane;

typedef struct pf_lanes {
    pf_lane *lanes;
    uint32_t nlanes, lanes_cap;
    uint32_t *heap;      /* non-empty lanes, min-heap on the end of their top span */
    uint32_t *heap_pos;  /* per lane: index in heap, or UINT32_MAX */
    uint32_t nheap;
    uint64_t *free_bits; /* per lane: 1 when its stack is empty */
    pf_idmap map;        /* open span id -> lane */
    uint32_t nopen;
    int64_t last_begin;
    int any;
    uint32_t max_open, max_lanes;
    pf_lane_end_fn on_end;
    void *ctx;
    uint64_t on_parent;  /* spans placed on their parent's lane */
    errmsg emsg;
} pf_lanes;

#define PF_LANES_MAX_OPEN_DEFAULT (1u << 22)
#define PF_LANES_MAX_DEFAULT (1u << 16)

/* Empty state; caps of 0 take the defaults; on_end may be NULL. */
void pf_lanes_init(pf_lanes *l, uint32_t max_open, uint32_t max_lanes, pf_lane_end_fn on_end,
                   void *ctx);
void pf_lanes_destroy(pf_lanes *l);
/*
 * Place one span (see the essay); *lane_out receives its lane.  Returns 0,
 * SL_EINVAL (not sorted by begin, or end < begin; message in l->emsg),
 * SL_ETOOBIG (a cap), SL_ENOMEM, or the callback's error.
 */
int pf_lanes_place(pf_lanes *l, const pf_async_span *s, uint32_t *lane_out);
/*
 * A span whose end is not known yet (trace generation meets one when too
 * many spans begin while it is open, see pf_gen.h) is placed anonymous
 * (span_id 0) with end_ns = INT64_MAX: it then sits alone on a lane of its
 * own, since nothing nests under an anonymous span.  When its end becomes
 * known, pf_lanes_set_end lowers it on that lane (the lane reported by
 * pf_lanes_place); it closes like any other span once later begins pass
 * it.  0, or SL_EINVAL if the lane does not hold exactly one anonymous span
 * or end_ns would raise its end.
 */
int pf_lanes_set_end(pf_lanes *l, uint32_t lane, int64_t end_ns);

/* Close every open span, in end order. */
int pf_lanes_finish(pf_lanes *l);

/*
 * The pure batch form: lanes for n spans sorted by begin; *nlanes_out gets
 * the number of lanes used.  0 or an error as pf_lanes_place (text in e).
 */
int pf_lanes_assign(const pf_async_span *spans, size_t n, uint32_t *lane_out,
                    uint32_t *nlanes_out, errmsg *e);

#endif
