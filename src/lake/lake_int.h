/*
 * lake_int.h - internals shared by the lake's files.
 *
 *   lake.c     open/close, metadata resolution (processes, streams, blocks), stats
 *   jit.c      partition plans, builds under per-partition locks
 *   scan.c     reading partitions back: pruning, filtering, merging
 *   janitor.c  deleting retired and orphan files
 */
#ifndef SL_LAKE_INT_H
#define SL_LAKE_INT_H

#include "lake/cache.h"
#include "lake/lake.h"
#include "parquet/parquet.h"

#include <pthread.h>
#include <stdatomic.h>

/* A stream's blocks, sorted by (insert_time, object_offset). */
typedef struct lake_blocks {
    size_t n;
    meta_block *b;
    uint64_t stamp; /* shared metadata: the change stamp read before the list */
} lake_blocks;

/* A view instance's current partitions, sorted by begin_insert_time (owned copies). */
typedef struct lake_parts {
    size_t n;
    meta_partition *p;
    uint64_t stamp; /* shared metadata: the change stamp read before the list */
} lake_parts;

struct lake {
    meta *m;
    objstore *os;
    lake_opts o;

    lcache procs;     /* process id -> lake_process */
    lcache stream_of; /* stream id -> process id (16 bytes) */
    lcache blocks;    /* stream id -> lake_blocks */
    lcache parts;     /* "view/instance" -> lake_parts */
    lcache footers;   /* file path -> pq_footer */
    lcache bytes;     /* file path -> col_buf of the whole file */

    /* Per-partition build locks: keys being built (hashes); waiters sleep on cv. */
    pthread_mutex_t lock_mu;
    pthread_cond_t lock_cv;
    uint64_t *busy;
    size_t n_busy, cap_busy;

    _Atomic uint64_t builds, build_ns, build_events, reused, scans, scan_rows, files_kept;
    _Atomic uint64_t janitor_deleted;
    _Atomic uint64_t spans_unclosed, spans_orphan_ends; /* thread_spans repairs, all builds */
    _Atomic uint64_t spans_resorted;  /* thread_spans partitions whose ticks went back */

    /* Background work (retention.c): leadership and what retention removed. */
    _Atomic int leader;
    _Atomic uint64_t ret_runs, ret_blocks, ret_bytes, ret_payloads, ret_parts;
    _Atomic int64_t ret_horizon_ns;
    /* The global views' materializer (recent.c). */
    _Atomic uint64_t mat_runs, mat_instances, mat_built, mat_failed;
    _Atomic int64_t mat_since_ns;
};

/* Does partition p hold rows whose event time meets [begin_ns, end_ns)? */
static inline int lake_part_overlaps(const meta_partition *p, int64_t begin_ns, int64_t end_ns)
{
    return p->row_count && p->min_event_time_ns < end_ns && p->max_event_time_ns >= begin_ns;
}

/* lake.c */
int lake_blocks_get(lake *l, const sl_uuid *stream_id, lcache_entry **out, errmsg *e);
int lake_parts_get(lake *l, lake_view_id v, const char *instance, lcache_entry **out,
                   errmsg *e);
void lake_parts_forget(lake *l, lake_view_id v, const char *instance);
/* The process owning a stream (cached). */
int lake_stream_process(lake *l, const sl_uuid *stream_id, sl_uuid *process_id, errmsg *e);
/* File bytes and footer of a partition (cached under its file_path), references taken. */
/* A partition file's bytes, as the file cache holds them (mapped or read). */
typedef struct lake_bytes {
    const uint8_t *p;
    size_t len;
} lake_bytes;

/*
 * size_hint: the file's size when known (the partition row's file_size), else 0.  A
 * store that cannot map (S3) gives a sparse image: the footer's bytes only, until
 * lake_file_fetch brings in the column chunks a scan will read.
 */
int lake_file_open(lake *l, const char *path, uint64_t size_hint, lcache_entry **bytes,
                   lcache_entry **footer, errmsg *e);
/*
 * A partition file this server has just written under path (a fresh, never
 * reused name): when the store cannot map files (S3), its bytes move from file
 * into the file cache whole, so lake_file_open finds them without a request;
 * file is left empty then.  Nothing happens for a mappable store (the mapping
 * is free and shares the kernel's page cache) or when the file is larger than
 * the cache; nothing fails: the reader falls back to ranged reads.
 */
void lake_file_keep(lake *l, const char *path, dbuf *file);
/*
 * Makes sure the column chunks that a scan with opts (projection, row-group split,
 * range pruning, as the reader applies them) will read are in the image, fetching
 * the missing ones with ranged reads; nothing to do for a mapped or whole file.
 */
int lake_file_fetch(lake *l, const char *path, lcache_entry *bytes, const pq_footer *footer,
                    const pq_scan_opts *opts, errmsg *e);

/* metaview.c: processes, streams, blocks as one batch. */
int lake_meta_batch(lake *l, lake_view_id v, const char *instance, col_batch **out, errmsg *e);

/* jit.c */
/* The process of an instance (a stream's owner, or the process itself), checked to exist;
 * release it with lake_process_release. */
int lake_instance_process(lake *l, const lake_view_def *vd, const char *instance,
                          const lake_process **proc, errmsg *e);
int lake_jit_instance(lake *l, lake_view_id v, const char *instance, const lake_process *proc,
                      lake_mat_stats *st, errmsg *e);

#endif
