/*
 * build.h - turning raw blocks into the rows of a view.
 *
 * A builder reads the payloads of one partition's source blocks (already
 * fetched from the object store, in insert order) and produces one batch of
 * the view's columns, plus what the next partition needs to continue
 * (thread_spans: the spans still open).  Builders are pure: no I/O, no shared
 * state, so partitions of different instances build in parallel.
 *
 * Payloads are decoded with the strict wire decoder; a block that does not
 * decode fails the build with the decoder's message naming the block.
 */
#ifndef SL_LAKE_BUILD_H
#define SL_LAKE_BUILD_H

#include "base/arena.h"
#include "base/dbuf.h"
#include "base/err.h"
#include "base/u64map.h"
#include "base/uuid.h"
#include "col/col.h"
#include "lake/views.h"
#include "wire/wire.h"

#include <stdint.h>

/* A process as the builders need it: identity and clock. */
typedef struct lake_proc {
    sl_uuid process_id;
    char process_id_str[UUID_STR_LEN];
    int64_t start_time_ns;
    uint64_t tsc_frequency;
    uint64_t ns_per_tick_q32; /* ns per tick in 32.32 fixed point */
    const char *exe, *username, *computer;
} lake_proc;

/* Sets ns_per_tick_q32 from tsc_frequency (which must be > 0). */
void lake_proc_init_clock(lake_proc *p);

/*
 * Wall time (ns since the epoch) of a tick relative to the process start.
 * Computed in 128 bits and saturated to the int64 range: ingestion refuses
 * processes whose clock cannot place their events in it (wire/msg.c), but data
 * stored before that rule, or a corrupt block, must not wrap (or trap under
 * UBSan); a saturated time sorts at the very end or the very beginning.
 */
static inline int64_t lake_ticks_to_ns(const lake_proc *p, int64_t ticks)
{
    __int128 t = ((__int128)ticks * (__int128)p->ns_per_tick_q32) >> 32;
    t += p->start_time_ns;
    if (t > INT64_MAX)
        return INT64_MAX;
    if (t < INT64_MIN)
        return INT64_MIN;
    return (int64_t)t;
}

/*
 * Payloads still arriving (a build over S3 decodes its first blocks while the
 * GETs of the next ones are in flight, jit.c): lake_build_each_block calls wait
 * for block i before it reads it, and wait points payload and len at block i's
 * bytes, or fails (then the walk ends with wait's error).
 */
typedef struct lake_src_feed {
    int (*wait)(void *arg, size_t i, const uint8_t **payload, size_t *len, errmsg *e);
    void *arg;
} lake_src_feed;

/* One source block: its metadata and its stored payload. */
typedef struct lake_src_block {
    sl_uuid block_id, stream_id;
    int64_t insert_time_ns;
    uint64_t object_offset, nb_objects;
    const uint8_t *payload;
    size_t payload_len;
    const lake_src_feed *feed; /* NULL: payload is in place; else where it comes from,
                                * as the i-th block of the array the builder walks */
} lake_src_block;

typedef struct lake_build_out {
    col_batch *batch;         /* every row of the partition, in the view's order */
    int64_t min_event_ns;     /* INT64_MAX when there are no rows */
    int64_t max_event_ns;     /* INT64_MIN when there are no rows */
    uint64_t events;          /* source events read */
    uint64_t unclosed;        /* thread_spans: spans closed by a later end of their parent */
    uint64_t orphan_ends;     /* thread_spans: ends with no begin */
    uint64_t resorted;        /* thread_spans: partitions sorted by begin (ticks went back) */
    dbuf state;               /* thread_spans: open spans at the end (docs/internals/lake.md) */
} lake_build_out;

void lake_build_out_init(lake_build_out *o);
void lake_build_out_free(lake_build_out *o);

/*
 * Builds a view's rows from blocks (sorted by insert time; for thread_spans, one
 * stream's blocks in object_offset order).  prev_state is the previous
 * partition's state (thread_spans; NULL/0 for the first partition or other views).
 */
typedef int (*lake_builder_fn)(const lake_proc *p, const lake_src_block *blocks, size_t n,
                               const void *prev_state, size_t prev_len, lake_build_out *out,
                               errmsg *e);

int lake_build_thread_spans(const lake_proc *p, const lake_src_block *blocks, size_t n,
                            const void *prev_state, size_t prev_len, lake_build_out *out,
                            errmsg *e);
int lake_build_async_events(const lake_proc *p, const lake_src_block *blocks, size_t n,
                            const void *prev_state, size_t prev_len, lake_build_out *out,
                            errmsg *e);
int lake_build_log_entries(const lake_proc *p, const lake_src_block *blocks, size_t n,
                           const void *prev_state, size_t prev_len, lake_build_out *out,
                           errmsg *e);
int lake_build_measures(const lake_proc *p, const lake_src_block *blocks, size_t n,
                        const void *prev_state, size_t prev_len, lake_build_out *out,
                        errmsg *e);

/* The builder of a partitioned view, or NULL. */
int lake_build_otel_spans(const lake_proc *p, const lake_src_block *blocks, size_t n,
                          const void *prev_state, size_t prev_len, lake_build_out *out,
                          errmsg *e);

lake_builder_fn lake_builder_of(lake_view_id v);

/*
 * thread_spans: rows for the spans open in a state (the newest partition's), each
 * ending at end_ns; *out gets a batch (possibly empty).  *n_open the count.
 */
int lake_spans_open_rows(const void *state, size_t len, int64_t end_ns, col_batch **out,
                         uint64_t *n_open, errmsg *e);
/* The last event time recorded in a thread_spans state, or INT64_MIN. */
int64_t lake_spans_state_last_ns(const void *state, size_t len);

/* ---- helpers shared by the builders (build_common.c) ---- */

/* A builder's work on one block, whose payload is open in pl (a: memory for this block only). */
typedef int (*lake_block_fn)(void *arg, const lake_src_block *b, wire_payload *pl, arena *a,
                             errmsg *e);
/* Opens each block's payload in turn and calls fn; a failure's message names the block. */
int lake_build_each_block(const lake_src_block *blocks, size_t n, lake_block_fn fn, void *arg,
                          errmsg *e);

/* The hash column: a call site's (name, target, file, line), the same in every view and build. */
uint32_t lake_site_hash(const char *name, size_t nl, const char *target, size_t tl,
                        const char *file, size_t fl, uint32_t line);

/* Interns strings into a col_dict, returning stable keys; bounded by max_bytes. */
typedef struct lake_dictb {
    col_dict *dict;
    u64map map;       /* content hash -> key (several per hash) */
    size_t max_bytes;
} lake_dictb;

int lake_dictb_init(lake_dictb *d, size_t max_bytes);
void lake_dictb_free(lake_dictb *d);
/* Key of s (adding it if new); SL_ETOOBIG past max_bytes. */
int lake_dictb_key(lake_dictb *d, const char *s, size_t len, uint32_t *key);

/* A growable column of fixed-width values, handed over to a col_vec at the end. */
typedef struct lake_colb {
    col_buf *buf;
    size_t width;
    int64_t n;
} lake_colb;

int lake_colb_init(lake_colb *c, size_t width, int64_t cap_rows);
void lake_colb_free(lake_colb *c);
/* Room for one more row; returns where to write it (NULL: SL_ENOMEM). */
static inline void *lake_colb_push(lake_colb *c)
{
    size_t need = (size_t)(c->n + 1) * c->width;
    if (need > c->buf->cap_bytes && col_buf_reserve(c->buf, need))
        return NULL;
    void *p = c->buf->p + (size_t)c->n * c->width;
    c->n++;
    return p;
}
/* Moves the values into v (typed t), leaving c empty. */
void lake_colb_to_vec(lake_colb *c, col_vec *v, col_type t);
/* Moves 4-byte keys into v as a COL_DICT column over d's dictionary. */
void lake_colb_to_dict_vec(lake_colb *c, col_vec *v, lake_dictb *d);

#endif
