/*
 * lake.h - the lake: views of telemetry as columnar batches, built just in time.
 *
 * A caller asks for view V, instance I, time range R and reads batches.  The
 * lake finds the blocks involved, builds the Parquet partitions that are
 * missing or stale (once, under a per-partition lock, instances in parallel),
 * and reads the partitions that overlap R.  docs/internals/lake.md describes
 * partitions, locks, caches and cleanup.
 *
 * One lake per data directory; every function is safe to call from any
 * number of threads.
 */
#ifndef SL_LAKE_H
#define SL_LAKE_H

#include "base/err.h"
#include "base/json.h"
#include "base/uuid.h"
#include "col/col.h"
#include "lake/build.h"
#include "lake/views.h"
#include "meta/meta.h"
#include "objstore/objstore.h"

#include <stdatomic.h>
#include <stdint.h>

typedef struct lake lake;

typedef struct lake_opts {
    size_t cache_bytes;            /* file bytes cache; 0 = 64 MiB */
    uint64_t max_partition_events; /* source events per partition; 0 = 1 M */
    int jobs;                      /* parallel builds per request; 0 = number of cores */
    int64_t retire_grace_ns;       /* retired files kept this long; 0 = 60 s */
    int64_t orphan_grace_ns;       /* unreferenced files older than this go; 0 = 10 min */
} lake_opts;

/*
 * Opens the lake over a metadata store and an object store (both stay the
 * caller's).  Runs the startup cleanup: files that no partition row references
 * are removed (no build can be running before the lake is open).
 */
int lake_open(meta *m, objstore *os, const lake_opts *o, lake **out, errmsg *e);
void lake_close(lake *l);

/* Ingestion tells the lake about new data so that cached lists stay true. */
void lake_notify_stream(lake *l, const sl_uuid *process_id, const sl_uuid *stream_id);
void lake_notify_block(lake *l, const sl_uuid *stream_id);

/* The block rows inserted at or after since_ns, by insert time (meta_blocks_since),
 * and one block's payload appended to out (bounded by out->max): a continuous job
 * over telemetry replays what came after its checkpoint. */
int lake_blocks_since(lake *l, int64_t since_ns, meta_block_fn fn, void *arg, errmsg *e);
int lake_block_payload(lake *l, const meta_block *b, dbuf *out, errmsg *e);

/* ---- process metadata, resolved once per request ---- */

typedef struct lake_stream_info {
    sl_uuid stream_id;
    char stream_id_str[UUID_STR_LEN];
    int is_cpu, is_log, is_metrics, is_otel_spans;
    int64_t thread_id;          /* the "thread-id" property, or 0 */
    char thread_name[64];
} lake_stream_info;

/* A process and its streams (refcounted: release with lake_process_release). */
typedef struct lake_process {
    lake_proc proc;
    int32_t pid;                /* the "pid" property, or one derived from the process id */
    size_t n_streams;
    lake_stream_info *streams;
} lake_process;

/* SL_ENOTFOUND for an unknown process. */
int lake_process_get(lake *l, const sl_uuid *process_id, const lake_process **out, errmsg *e);
void lake_process_release(lake *l, const lake_process *p);

/* ---- materializing and reading ---- */

typedef struct lake_mat_stats {
    uint64_t partitions;        /* partitions of the instance (after materializing) */
    uint64_t built;             /* built by this call */
    uint64_t reused;            /* current already, or built meanwhile by another request */
    uint64_t source_events;
    double build_ms;            /* time spent building (fetch, decode, write) */
    uint64_t failed;            /* instances that could not be built (see lake_failure_fn) */
} lake_mat_stats;

/*
 * Builds whatever partitions of (view, instance) are missing or stale.
 * instance is a stream id (thread_spans) or a process id (other views).
 */
int lake_materialize(lake *l, lake_view_id v, const char *instance, lake_mat_stats *st,
                     errmsg *e);
/*
 * As lake_materialize, for a caller that reads the partitions right after (a
 * trace): as lake_scan_opts.defer_commit, the uploads and rows of what it builds
 * are committed in the background while the caller reads them from memory.
 */
int lake_materialize_for_read(lake *l, lake_view_id v, const char *instance,
                              lake_mat_stats *st, errmsg *e);
/*
 * A reader that defers commits (a trace) holds them while it runs (+1 when it
 * starts, -1 when it ends): the background uploads and rows then wait, each at
 * most a second after its build, so that they do not compete with its builds.
 */
void lake_commit_hold(lake *l, int delta);

/*
 * Reads ahead, on a thread of its own, the payloads of the given thread streams'
 * blocks that no current partition covers, in that order, into the payload cache
 * (bounded: a quarter of the file cache), so that the builds a cold trace runs
 * next find them there (src/lake/prefetch.c).  NULL when there is nothing to do
 * (a store that maps files, or not asked for: SL_LAKE_TRACE_OVERLAP=all) or it
 * could not start; all are fine.  Stop it (and
 * free it) with lake_prefetch_stop before the lake is closed.
 */
typedef struct lake_prefetch lake_prefetch;
lake_prefetch *lake_prefetch_start(lake *l, const char *process_id, const char *const *streams,
                                   size_t n);
void lake_prefetch_stop(lake_prefetch *p);

/* One view instance that could not be built: what and why. */
typedef void (*lake_failure_fn)(void *arg, const sl_uuid *process_id, const char *view,
                                const char *instance, int code, const char *message);

/*
 * Materializes every partitioned view of a process, its threads on `jobs`
 * workers (0: the lake's default).  With fail NULL the first failure is
 * returned (the other instances are still built).  With fail given, each
 * instance that cannot be built is reported through it (st->failed counts
 * them) and the call returns 0: one bad thread or view never stops the rest.
 * Errors of the process itself (unknown, no memory) are returned either way.
 */
int lake_materialize_process(lake *l, const sl_uuid *process_id, unsigned jobs,
                             lake_mat_stats *st, lake_failure_fn fail, void *fail_arg,
                             errmsg *e);

typedef struct lake_scan lake_scan;

typedef struct lake_scan_opts {
    int64_t begin_ns, end_ns;   /* rows overlapping [begin, end); defaults: everything */
    int materialize;            /* build what is missing first (default 1 via lake_scan_opts_init) */
    int64_t batch_rows;         /* at most this many rows per batch; 0 = 65536 */
    /* Columns to read, in output order (NULL: every column of the view).  They
     * must include the view's time column (and thread_spans' end); the others
     * are never decoded. */
    const char *const *columns;
    int ncolumns;
    /* Order does not matter (SQL): partitions are read one after the other,
     * each opened when the previous one is done, and the projection needs the
     * time (and end) columns only when a range is given. */
    int unordered;
    /* With unordered, one of nsplits parallel readers of the instance: split k
     * reads the row groups whose ordinal (over the scan's partitions) is k
     * modulo nsplits, so the splits together read everything once. */
    int split, nsplits;
    /* With unordered: the range prunes partitions and row groups only; the rows are
     * the caller's to filter (SQL keeps its predicate), so no time column is read for it. */
    int prune_only;
    /* Intervals: a lower bound on the time column itself (begin >= key_min), so row
     * groups that end before it are skipped; INT64_MIN: none. */
    int64_t key_min;
    /* A bound that tightens while the scan runs (a top-N's threshold on a column):
     * row groups whose statistics put all of dyn_column below *dyn_lo or above
     * *dyn_hi are skipped as they are reached (parquet.h).  NULL: none. */
    const char *dyn_column;
    _Atomic int64_t *dyn_lo, *dyn_hi;
    /* Partitions built for this scan are read from memory at once: on a store that
     * cannot map files (S3) their upload and row are committed in the background,
     * under their locks (docs/internals/lake.md "Deferred commits").  Default 0. */
    int defer_commit;
} lake_scan_opts;

void lake_scan_opts_init(lake_scan_opts *o);

/*
 * Rows of (view, instance) overlapping the range, in the view's order (thread_spans
 * by begin, event views by time), as batches with the view's schema (or the
 * projection o->columns).  For
 * thread_spans, spans still open at the end of the data are included, ending at
 * the last known time.  st (may be NULL) gets what materializing did.
 */
int lake_scan_open(lake *l, lake_view_id v, const char *instance, const lake_scan_opts *o,
                   lake_mat_stats *st, lake_scan **out, errmsg *e);
/*
 * The memory an open scan can hold at once, for response budgets: one batch per
 * source (batch_rows rows of the projection, strings estimated at 64 bytes a
 * value) and the Parquet reader's decoded page of each.  An estimate made from
 * the configuration, not a measurement; docs/serve.md says how it was checked.
 */
uint64_t lake_scan_memory_bound(const lake_scan *s);

/* Next batch (the caller releases it), or *out = NULL at the end. */
int lake_scan_next(lake_scan *s, col_batch **out, errmsg *e);
void lake_scan_close(lake_scan *s);

/*
 * How many current partitions of (view, instance) overlap [begin, end) in event
 * time, from the partition index (cached: no metadata query when warm).  This
 * is the lookup every read starts with.
 */
int lake_partitions_overlapping(lake *l, lake_view_id v, const char *instance, int64_t begin_ns,
                                int64_t end_ns, size_t *count, errmsg *e);
/*
 * Retires the current partitions of (view, instance) holding events in [begin,
 * end): the next read builds their ranges again from the blocks (a fix after a
 * bug, a changed view), the janitor deletes their files after the grace
 * period.  fn (may be NULL) sees each partition retired.  SL_EINVAL for a view
 * that is not partitioned or a malformed instance.
 */
int lake_retire_partitions(lake *l, lake_view_id v, const char *instance, int64_t begin_ns,
                           int64_t end_ns, meta_partition_fn fn, void *arg, errmsg *e);
/* Drops the cached partition index of an instance (benchmarks: a cold lookup). */
void lake_partition_index_drop(lake *l, lake_view_id v, const char *instance);

/* ---- housekeeping and figures ---- */

/*
 * Deletes the files of partitions retired longer than the grace period and files
 * no row references (older than the orphan grace, or any age when `startup`).
 */
int lake_janitor(lake *l, int startup, errmsg *e);

/*
 * Deletes payloads (blobs/) whose block row is gone and that are older than the
 * orphan grace: left by a crash between retention's row deletes and its payload
 * deletes, or between an ingestion's payload and its row.  Lists every payload,
 * so the leader runs it rarely (background.c); *deleted (may be NULL) counts them.
 */
int lake_janitor_payloads(lake *l, uint64_t *deleted, errmsg *e);

/* What one retention pass removed. */
typedef struct lake_retention_report {
    uint64_t blocks, payload_bytes, payloads, partitions;
} lake_retention_report;

/*
 * Retention (retention.c): deletes the blocks whose end_time is before
 * horizon_ns in batches of `batch` rows (each a short transaction; ingestion
 * goes on between them), then each one's payload, then retires the partitions
 * built from insert times up to the newest deleted block (the next read builds
 * what is left; the janitor deletes the files).  Streams and processes left
 * without blocks go too.  Stops after max_batches batches (the next pass goes
 * on).  Never touches a block that ends at or after the horizon.
 */
int lake_retention(lake *l, int64_t horizon_ns, int batch, int max_batches,
                   lake_retention_report *r, errmsg *e);

/*
 * The global views' materializer (recent.c): builds the log_entries and measures
 * partitions of every process (at most max_processes) whose blocks end at or
 * after since_ns, so queries over all processes find them built.  Failures of one
 * instance are logged and counted, never returned.
 */
int lake_materialize_recent(lake *l, int64_t since_ns, size_t max_processes, errmsg *e);

/* Whether this server leads background work now (for /api/stats). */
void lake_set_leader(lake *l, int leader);

/* Writes the lake's counters (caches, builds) as the members of a JSON object. */
void lake_stats_json(lake *l, jw *w);

/* Hits and misses of all the lake's caches together, so far. */
void lake_cache_counters(lake *l, uint64_t *hits, uint64_t *misses);

/* Builds completed so far (for tests: each partition is built once). */
uint64_t lake_builds_total(lake *l);

#endif
