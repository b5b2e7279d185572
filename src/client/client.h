/*
 * client.h - internals of the tracing library (include/streamlake/trace.h).
 *
 * Three parts, each with one owner:
 *
 *   recording threads  write events into rings they own (record.c): a store of
 *                      two to five words and a release store of the ring head.
 *   the collector      one background thread (collector.c) that drains rings,
 *                      encodes blocks (wire_pb) and queues them.
 *   the sender         one background thread (sender.c) that hands queued
 *                      messages to the sink in order, retrying with backoff.
 *
 * Rings.  A ring is a power-of-two byte buffer with a monotonic head (bytes
 * written, published by its thread with a release store) and tail (bytes
 * consumed, published by the collector).  Events never straddle the end of
 * the buffer: a producer that would cross it writes a pad word and starts at
 * the beginning.  The producer may write up to `limit`; limit is the smaller
 * of "tail + size" (space) and the next half-ring boundary, so the slow path
 * runs once per half ring: that is where the producer wakes the collector.
 * The collector sets limit to 0 at shutdown so late events are counted as
 * dropped.
 *
 * Rings grow.  A thread's first ring is small (64 KiB for spans, 16 KiB for
 * logs and metrics).  When a half ring fills in under 50 ms while the
 * collector keeps up, the producer links a ring twice the size (up to
 * sl_config.thread_buffer_bytes); when a ring is full because the collector
 * is behind, it links another ring of the same size, so a burst is held
 * without wasting memory.  Either way the new ring becomes the old ring's
 * `next` and the producer writes there from then on; the collector drains the
 * old ring to its end before it moves on (order is kept), then frees it.
 *
 * Event layout in a ring (host byte order, 8-byte words):
 *   word 0  raw tick counter (or RING_PAD: skip to the next wrap)
 *   word 1  descriptor address | (event type << 56)
 *   then by type: named span / formatted log: length word + bytes padded to 8;
 *   async: span_id, parent_span_id, depth; metric: value.
 * Addresses fit in 56 bits on every 64-bit Linux target.
 *
 * Memory.  Rings and queued messages are reserved against one cap
 * (mem_reserve); a reservation that would pass it fails and the events are
 * dropped and counted, never blocked on.
 */
#ifndef SL_CLIENT_H
#define SL_CLIENT_H

#include "base/dbuf.h"
#include "base/err.h"
#include "base/uuid.h"
#include "streamlake/trace.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum { RING_CPU = 0, RING_LOG = 1, RING_METRIC = 2, RING_KINDS = 3 };

#define RING_PAD UINT64_MAX
#define EV_SHIFT 56
#define EV_ADDR_MASK ((UINT64_C(1) << EV_SHIFT) - 1)
#define MAX_DYN_NAME 1024   /* bytes of a run-time span name kept */
#define MAX_LOG_MSG 4000    /* bytes of a formatted log message kept */

typedef struct cl_thread cl_thread;

typedef struct cl_ring cl_ring;
struct cl_ring {
    /* Written by the producing thread (and limit by the collector at shutdown). */
    _Atomic uint64_t head;
    _Atomic uint64_t limit;
    uint8_t *base;
    uint64_t mask;
    _Atomic uint64_t dropped;   /* events the producer could not write */
    _Atomic(cl_ring *) next;    /* the larger ring that replaced this one, or NULL */
    int64_t half_ns;            /* producer: when it last passed a half-ring boundary */
    cl_thread *owner;
    size_t size_bytes;
    int kind;
    /* Written by the collector, on its own cache line. */
    _Alignas(64) _Atomic uint64_t tail;
    int64_t pending_since_ns;   /* collector: when it first saw unread events */
    uint64_t dropped_seen;      /* collector: r->dropped already added to the total */
};

/* A stream message shared by the blocks that need it sent first. */
typedef struct cl_streammsg {
    _Atomic int refs;
    sl_uuid stream_id;
    size_t len;
    uint8_t bytes[];
} cl_streammsg;

/* Collector-side state of one stream. */
typedef struct cl_stream {
    sl_uuid id;
    uint64_t object_offset;     /* events sealed so far (dropped blocks included) */
    cl_streammsg *msg;          /* built and queued before the stream's first block */
} cl_stream;

struct cl_thread {
    cl_thread *next_reg;        /* registration stack (lock-free push) */
    cl_thread *next;            /* collector's list */
    _Atomic(cl_ring *) rings[RING_KINDS]; /* oldest undrained ring of each kind */
    _Atomic int closed;         /* the thread exited; rings hold its last events */
    int tid;
    char name[64];              /* written by the thread before its first cpu event */
    cl_stream cpu;              /* collector: the thread's cpu stream */
};

/* Queued message for the sender. */
typedef struct cl_msg {
    struct cl_msg *next;
    int kind;                   /* 'P', 'S' or 'B' */
    uint32_t nb_objects;        /* blocks: events inside */
    int is_report;              /* a drop report: its delivery lets the next one go */
    cl_streammsg *stream;       /* blocks: their stream's message */
    size_t len;
    uint8_t bytes[];
} cl_msg;

/* A sink takes one message at a time. */
typedef struct cl_sink cl_sink;
struct cl_sink {
    /*
     * Returns 0 when the message is stored, SL_EAGAIN when the receiver lacks its
     * process or stream (resend them, then retry), SL_ENET or SL_EIO for failures
     * worth retrying, or another negative code when the message was refused for good.
     */
    int (*send)(cl_sink *s, int kind, const uint8_t *msg, size_t len, errmsg *e);
    void (*destroy)(cl_sink *s);
};

int cl_sink_http_new(const char *url, cl_sink **out, errmsg *e);
/* The HTTP sink adds "Authorization: Bearer KEY" when STREAMLAKE_API_KEY is set. */
#define CL_API_KEY_ENV "STREAMLAKE_API_KEY"
int cl_sink_dir_new(const char *dir, const char *process_id, cl_sink **out, errmsg *e);

/*
 * In-process delivery (sink_fn.c), for a program that stores its own events:
 * `streamlake serve` hands them straight to its ingestion path instead of
 * sending them to itself over HTTP.  fn returns what cl_sink.send returns.
 * Not part of the public API (exports.txt): the library shipped to users
 * keeps only the HTTP and directory sinks.
 */
typedef int (*cl_sink_fn)(void *arg, int kind, const uint8_t *msg, size_t len, errmsg *e);
int cl_sink_fn_new(cl_sink_fn fn, void *arg, cl_sink **out);
/* sl_init with that sink (cfg's server_url and directory are ignored). */
int cl_init_in_process(const sl_config *cfg, cl_sink_fn fn, void *arg);
/*
 * CPU time (ns) the library's collector and sender threads have used so far
 * (pthread_getcpuclockid): what recording costs besides the recording calls
 * themselves.  SL_ESTATE unless the library runs.  Not part of the public API.
 */
int cl_thread_cpu_ns(int64_t *collector_ns, int64_t *sender_ns);

/* Everything the library holds, one instance. */
typedef struct cl_global {
    _Atomic int state;          /* 0 off, 1 running, 2 stopping, 3 stopped */
    sl_config cfg;
    size_t ring_min_bytes[RING_KINDS], ring_max_bytes[RING_KINDS];
    sl_uuid process_id;
    char process_id_str[UUID_STR_LEN];
    sl_uuid log_stream_id, metric_stream_id;
    uint64_t start_ticks;
    int64_t start_time_ns;
    int64_t start_mono_ns;
    _Atomic uint64_t tsc_frequency;   /* set by the sender before anything is sent */
    int codec;                        /* of sealed blocks: zstd, or lz4 in process (init.c) */

    /* memory accounting: rings may hold at most ring_cap of mem_cap, so that
     * blocks waiting for the sink always have room */
    _Atomic size_t mem_used, mem_peak, ring_used;
    size_t mem_cap, ring_cap;

    /* registration stack, popped whole by the collector */
    _Atomic(cl_thread *) reg_head;
    pthread_key_t thread_key;

    /* collector wake-up (futex word) and flush requests */
    _Atomic uint32_t wake_seq;
    _Atomic int collector_sleeping;
    _Atomic uint64_t flush_req, flush_done;

    /* diagnostics (STREAMLAKE_DEBUG=1 prints them at shutdown) */
    _Atomic uint64_t dbg_passes, dbg_blocks, dbg_block_drops, dbg_ring_drops, dbg_wakeups;
    _Atomic uint64_t dbg_pass_ns_max, dbg_pass_ns_total, dbg_seal_ns_total;

    /* drop reports queued and not yet delivered or refused (at most one pair) */
    _Atomic int reports_inflight;

    /* counters */
    _Atomic uint64_t ev_library, ev_drained, ev_dropped, ev_delivered, blocks_delivered, bytes_delivered,
        retries;

    /* sender queue (mutex-protected: one push per block, not per event) */
    pthread_mutex_t q_mu;
    pthread_cond_t q_cv;        /* signalled when the queue changes or on stop */
    cl_msg *q_head, *q_tail;
    size_t q_count;
    int sender_busy;            /* the head message is being sent */
    int sender_stop;            /* give up on what is queued and exit */

    cl_sink *sink;
    cl_msg *process_msg;        /* kept for resending after a 409 */
    pthread_t collector_th, sender_th;
} cl_global;

extern cl_global g_cl;

/* memory.c */
int cl_mem_reserve(size_t n);
/* Reserves ring memory: within both the ring share and the whole cap. */
int cl_ring_mem_reserve(size_t n);
void cl_ring_mem_release(size_t n);
void cl_mem_reserve_force(size_t n);
void cl_mem_release(size_t n);

/* record.c */
void cl_wake_collector(void);
void cl_thread_key_destructor(void *p);

/* collector.c */
int cl_collector_start(void);
/* Drains everything, then stops and joins the collector. */
void cl_collector_stop(void);

/* sender.c */
int cl_sender_start(void);
void cl_queue_push(cl_msg *m);
/* Waits until the queue is empty and idle or the deadline (monotonic ns) passes. */
int cl_queue_wait_empty(int64_t deadline_ns);
/* Stops the sender: what is still queued is dropped and counted. */
void cl_sender_stop(void);
cl_msg *cl_msg_new(int kind, const uint8_t *bytes, size_t len, int force);
void cl_msg_free(cl_msg *m);
void cl_streammsg_unref(cl_streammsg *s);

/* procinfo.c */
int cl_process_message(const sl_config *cfg, dbuf *out);

/* Futex helpers (Linux). */
void cl_futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t timeout_ns);
void cl_futex_wake(_Atomic uint32_t *addr);

#endif
