/*
 * pf_gen.h - generates the Perfetto trace of one process: parallel,
 * ordered, bounded, streamed, with progress.
 *
 * Input: a span source (pf_source.h), the span kinds (thread, async, both)
 * and an optional time range.  Output: one trace, as a stream of chunks of
 * about chunk_bytes (64 KiB), pulled with pf_gen_next_chunk or pushed to a
 * sink with pf_gen_run.  The trace is
 *
 *   [process sequence: process track, async lanes and their slices]
 *   [thread 0 sequence: thread track, its slices] ... [thread N-1 sequence]
 *
 * Every sequence is complete and self-contained (pf_seq.h), so the
 * concatenation is a valid trace; each thread's spans are contiguous and in
 * time order; threads come in the source's order.  Sequence ids and track
 * uuids are fixed by position (process: sequence 1, track 1; thread i:
 * sequence and track i + 2; lanes after the threads), so the same input gives
 * byte-identical output whatever the pool size or the timing.
 *
 * How it runs.  The process is resolved once, on the caller's thread, in
 * pf_gen_open (an unknown process fails there, before any byte).  Each part
 * (the process/async part, then each thread) is a task on a bounded pool
 * (base/pool.h, `jobs` threads).  A task reads its batches, encodes them with
 * its own pf_seq and pushes finished chunks into its own queue of at most
 * queue_chunks chunks; when that queue is full the worker first prepares
 * threads not yet started (the source's optional thread_prepare, which holds
 * no trace memory), then blocks.  The consumer (the caller of
 * pf_gen_next_chunk) drains part k's queue as soon as chunks arrive, while
 * workers for k+1.. run ahead; it submits a part only when fewer than
 * jobs + lookahead parts are in flight.  Memory is therefore bounded by the
 * pool configuration, whatever the trace size
 * (bench/RESULTS.md shows the trade: parts ahead of the one being written
 * can only run while their queues have room, so queue_chunks is what buys
 * parallel speedup; the default, 32 chunks = 2 MiB a part, is the knee):
 *   (jobs + lookahead) * queue_chunks * chunk_bytes        queued chunks
 * + jobs * (chunk_bytes + 16 KiB + interning caps)         encoders
 * + jobs * one source batch (+ its clipped copy)           readers
 * + the async part's window (async_window pending spans).
 *
 * Async spans are built from async events in one pass: a begin opens a
 * pending record (in begin order), its end resolves it, and resolved records
 * leave in begin order for lane assignment (pf_lanes.h), which needs each
 * span's end.  Memory follows the spans open at once, plus those begun since
 * the oldest open one; past async_window pending records the oldest open
 * span is placed with its end still unknown, alone on a lane, and its end is
 * filled in when it arrives (it then shows no nested children).  Spans
 * reaching outside the range are clipped to it: an end seen without its
 * begin starts at the range's begin (on lanes named "async (begun
 * earlier)"), a begin without an end ends at the range's end (or at the
 * last event, without an upper bound).
 *
 * Thread spans are filtered and clipped to the range too (a span overlapping
 * the range is kept, cut to it); reading stops at the first span that begins
 * after the range.
 *
 * Failures: if a thread's data cannot be read (or is invalid), its track is
 * closed where it stopped (every begun slice ends), the trace goes on with
 * the other threads, and the failure is reported in the progress stream
 * (PF_PROG_FAILURE), in the log and in the summary.  Cancel (pf_gen_cancel,
 * or a sink error in pf_gen_run) wakes every worker and waiter; workers
 * stop between batches and pf_gen_close joins them and frees everything.
 */
#ifndef SL_PERFETTO_PF_GEN_H
#define SL_PERFETTO_PF_GEN_H

#include "base/dbuf.h"
#include "base/err.h"
#include "perfetto/pf_seq.h"
#include "perfetto/pf_sink.h"
#include "perfetto/pf_source.h"

#include <stddef.h>
#include <stdint.h>

enum { PF_KIND_THREAD = 1, PF_KIND_ASYNC = 2, PF_KIND_BOTH = 3 };

#define PF_GEN_QUEUE_CHUNKS_DEFAULT 32
#define PF_GEN_QUEUE_CHUNKS_MAX 256
#define PF_GEN_ASYNC_WINDOW_DEFAULT (1u << 17)
#define PF_GEN_PROGRESS_MS_DEFAULT 100

/* Track uuids (docs/internals/perfetto.md, section 9.2). */
#define PF_GEN_PROCESS_UUID 1
#define PF_GEN_THREAD_UUID(i) ((uint64_t)(i) + 2)

typedef enum pf_progress_kind {
    PF_PROG_START = 1,   /* count = threads, name = process name */
    PF_PROG_THREAD = 2,  /* thread index/count begins streaming: name, tid */
    PF_PROG_BYTES = 3,   /* spans and bytes written so far (rate-limited) */
    PF_PROG_FAILURE = 4, /* a part failed: index (0 = async part), name, code, message */
} pf_progress_kind;

typedef struct pf_progress {
    pf_progress_kind kind;
    uint32_t index;       /* threads: 1-based; 0: the process / async part */
    uint32_t count;       /* number of threads */
    const char *name;     /* thread or process name */
    int64_t tid;
    uint64_t spans;       /* slices written so far (whole parts) */
    uint64_t bytes;       /* trace bytes handed out so far */
    int code;             /* PF_PROG_FAILURE: SL_E* */
    const char *message;  /* PF_PROG_FAILURE: what and where */
} pf_progress;

/* Called on the consumer's thread (inside pf_gen_next_chunk / pf_gen_run). */
typedef void (*pf_progress_fn)(void *ctx, const pf_progress *p);

typedef struct pf_gen_cfg {
    unsigned kinds;            /* PF_KIND_*; 0: both */
    int has_begin, has_end;    /* the range, inclusive; each bound optional */
    int64_t begin_ns, end_ns;
    unsigned jobs;             /* pool threads; 0: number of cores */
    unsigned lookahead;        /* parts in flight beyond jobs; 0: jobs */
    unsigned queue_chunks;     /* per part; 0: PF_GEN_QUEUE_CHUNKS_DEFAULT */
    size_t chunk_bytes;        /* 0: PF_CHUNK_BYTES_DEFAULT */
    pf_ts_mode ts_mode;        /* PF_TS_INCREMENTAL (0 is absolute) */
    uint32_t async_window;     /* 0: PF_GEN_ASYNC_WINDOW_DEFAULT */
    pf_progress_fn progress;   /* optional */
    void *progress_ctx;
    uint32_t progress_ms;      /* min interval of PF_PROG_BYTES; 0: default */
} pf_gen_cfg;

/* The figures worth tracking for every trace. */
typedef struct pf_gen_summary {
    uint32_t threads;
    uint32_t threads_failed;
    int async_failed;          /* the async part failed (see progress) */
    uint64_t thread_spans;     /* slices written on thread tracks */
    uint64_t async_spans;      /* slices written on lanes */
    uint64_t async_lanes;
    uint64_t async_begun_earlier; /* ends seen without their begin */
    uint64_t async_forced;     /* placed before their end was known */
    uint64_t async_unpaired;   /* events that could not be paired (id 0, duplicates) */
    uint64_t clamped;          /* repairs of invalid thread trees */
    uint64_t bytes;
    uint64_t chunks;
    int64_t total_ns;          /* open to end of stream */
    int64_t first_byte_ns;     /* open to the first chunk handed out */
    int64_t read_ns_max;       /* per-thread source read time */
    int64_t read_ns_median;
    int64_t jit_ns;            /* from the source */
    uint64_t cache_hits, cache_misses;
    uint64_t peak_chunk_bytes; /* chunk buffers held at once, at most */
    unsigned jobs;
} pf_gen_summary;

typedef struct pf_gen pf_gen;

/*
 * What one worker holds besides its queued chunks, estimated: its reader's
 * lake scan (a batch of the trace's eight columns per partition being merged,
 * 65,536 rows, plus the page being decoded), the batch's site table, and its
 * encoder (a chunk, interning tables).  Checked against resident memory by
 * tests/e2e/test_budget.py.
 */
#define PF_GEN_WORKER_BYTES ((uint64_t)12 << 20)

/*
 * The memory a generator with this configuration can hold at once, for
 * response budgets: the formula above with PF_GEN_WORKER_BYTES per worker and
 * the async part's window.  Zero fields of cfg count as their defaults, except
 * jobs, which must be set.
 */
uint64_t pf_gen_memory_bound(const pf_gen_cfg *cfg);

/* Defaults for every field (kinds both, no range, incremental timestamps). */
void pf_gen_cfg_init(pf_gen_cfg *cfg);

/* "thread", "async" or "both" (the API's and the CLI's spelling) to
 * PF_KIND_*; 0 or SL_EINVAL. */
int pf_gen_kinds_parse(const char *s, unsigned *kinds);

/*
 * Resolves the process through src and starts the workers.  0 with *out
 * set, or SL_ENOTFOUND (unknown process), SL_EINVAL, SL_ENOMEM, ... with the
 * reason in e; nothing is written on failure.  src must outlive the generator.
 */
int pf_gen_open(pf_gen **out, const pf_gen_cfg *cfg, pf_source src, errmsg *e);

/*
 * Pull: the next chunk of trace bytes, valid until the next call.
 * 0 with *len > 0: a chunk; 0 with *len == 0: the trace is complete (the
 * summary is final); SL_ECANCELED after pf_gen_cancel; other codes for
 * internal failures (pf_gen_error says what).  Thread failures are not
 * errors here: they are reported through progress and the summary.
 */
int pf_gen_next_chunk(pf_gen *g, const uint8_t **data, size_t *len);

/* Push: every chunk to sink.  A sink error cancels and is returned. */
int pf_gen_run(pf_gen *g, pf_sink sink);

/*
 * Stops the workers promptly (any thread; idempotent).  It takes a mutex, so
 * not from a signal handler: on Ctrl-C, let the handler set a flag that the
 * sink returns as an error (a sink error cancels), or call this from a
 * thread that waits for the signal.
 */
void pf_gen_cancel(pf_gen *g);

/* Figures so far; final once pf_gen_next_chunk has returned the end. */
const pf_gen_summary *pf_gen_get_summary(const pf_gen *g);
const char *pf_gen_error(const pf_gen *g);

/* Cancels if not finished, joins the workers, frees everything. */
void pf_gen_close(pf_gen *g);

/* JSON renderings, shared by the frame stream and the CLI. */
struct jw;
/* A JSON string of s (cut at 1 KiB), invalid UTF-8 replaced by U+FFFD. */
void pf_json_put_text(struct jw *w, const char *s);
int pf_gen_summary_json(const pf_gen_summary *s, dbuf *out);
int pf_progress_json(const pf_progress *p, dbuf *out);

#endif
