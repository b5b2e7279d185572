/*
 * pf_source.h - where trace generation reads spans from.
 *
 * The generator (pf_gen.h) does not know about the lake: it reads through
 * this interface, which the lake implements with a thin adapter over the
 * thread_spans and async_events views (and tests and benchmarks implement
 * with pf_synth.h).  The shapes are the views' own:
 *
 *  - resolve: the process (pid, exe name) and its thread list (tid, thread
 *    name, stream id), looked up once per trace, never once per thread.
 *    SL_ENOTFOUND for an unknown process: the generator returns it before
 *    writing anything, so an HTTP route can still answer 404.
 *  - thread spans: per thread, column batches (begin ns, end ns, depth, and a
 *    per-batch dictionary of call sites indexed by site_idx) in begin order,
 *    ties by depth, at most PF_SOURCE_MAX_BATCH_ROWS rows a batch.  A batch
 *    and its dictionary stay valid until the next call on that reader.
 *  - async events: the process's events in time order (ties: ends before
 *    begins), each a begin or an end with span_id, parent_span_id, depth and
 *    a call site; same batch rules.
 *
 * Threads: resolve runs on the caller's thread.  The generator then opens
 * readers on its workers: readers for different threads (and the async
 * reader) may be open and read at the same time on different threads, one
 * reader is used by one thread at a time.  A source whose reads can block
 * for long (JIT builds, object store) should look at *cancelled between
 * steps and return SL_ECANCELED when it is set.
 *
 * The range is a hint the source may use to skip data (partitions, row
 * groups); the generator filters and clips rows itself, so returning more
 * than asked is correct, only slower.
 */
#ifndef SL_PERFETTO_PF_SOURCE_H
#define SL_PERFETTO_PF_SOURCE_H

#include "base/err.h"
#include "perfetto/pf_spans.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define PF_SOURCE_MAX_BATCH_ROWS (1u << 20)

typedef struct pf_thread_info {
    int64_t tid;
    const char *name;      /* thread name; may be empty, not NULL */
    const char *stream_id; /* for messages (the stream's uuid text); may be NULL */
} pf_thread_info;

/* Filled by resolve; strings and the array stay valid until the source is closed. */
typedef struct pf_process_info {
    int32_t pid;
    const char *name;      /* the process's exe */
    const pf_thread_info *threads;
    size_t n_threads;      /* the generator writes threads in this order */
} pf_process_info;

/* What a reader is opened for: the time range (inclusive) and the cancel flag. */
typedef struct pf_read_req {
    int64_t begin_ns;               /* INT64_MIN: no lower bound */
    int64_t end_ns;                 /* INT64_MAX: no upper bound */
    const atomic_int *cancelled;    /* nonzero: stop and return SL_ECANCELED */
} pf_read_req;

enum { PF_EV_BEGIN = 0, PF_EV_END = 1 };

/* One batch of async events, as columns. */
typedef struct pf_async_events {
    size_t n;
    const int64_t *time_ns;
    const uint8_t *kind;            /* PF_EV_BEGIN or PF_EV_END */
    const uint64_t *span_id;
    const uint64_t *parent_span_id; /* NULL: no parents */
    const uint32_t *site_idx;       /* row -> sites[]; ends may point anywhere valid */
    const pf_site *sites;
    size_t n_sites;
} pf_async_events;

/* The source's own costs, reported in the trace summary. */
typedef struct pf_source_stats {
    int64_t jit_ns;        /* time spent materializing views */
    uint64_t cache_hits;
    uint64_t cache_misses;
} pf_source_stats;

typedef struct pf_source_ops {
    int (*resolve)(void *ctx, pf_process_info *out, errmsg *e);
    /* A reader over thread thread_idx (index into resolve's list). */
    int (*thread_open)(void *ctx, size_t thread_idx, const pf_read_req *req, void **reader,
                       errmsg *e);
    /* The next batch into *out; out->n == 0 at the end. */
    int (*thread_next)(void *reader, pf_span_rows *out, errmsg *e);
    void (*thread_close)(void *reader);
    int (*async_open)(void *ctx, const pf_read_req *req, void **reader, errmsg *e);
    int (*async_next)(void *reader, pf_async_events *out, errmsg *e);
    void (*async_close)(void *reader);
    /* Optional (NULL): called once, after every reader is closed. */
    void (*stats)(void *ctx, pf_source_stats *out);
    /*
     * Optional (NULL): make thread thread_idx cheap to open later (for the lake:
     * build its missing partitions), holding nothing afterwards.  Called from a
     * worker whose own part is blocked on a full queue, for a thread whose part
     * has not started; may run concurrently with thread_open of the same thread.
     * A failure is ignored here: thread_open meets it again and reports it.
     */
    int (*thread_prepare)(void *ctx, size_t thread_idx, errmsg *e);
} pf_source_ops;

typedef struct pf_source {
    const pf_source_ops *ops;
    void *ctx;
} pf_source;

#endif
