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

#include "lake/build.h"
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

/*
 * Keys being worked on (partitions being built, payloads being read), as 64-bit
 * hashes; the owner's mutex guards it.  A handful at a time: a plain list.
 */
typedef struct lake_busy {
    dbuf keys; /* uint64_t each; zeroed: empty */
} lake_busy;
#define LAKE_BUSY_MAX 65536 /* keys at once: builds and reads in flight, far fewer */
/* keys.c */
int lake_busy_has(const lake_busy *b, uint64_t key);
int lake_busy_add(lake_busy *b, uint64_t key); /* SL_ENOMEM, SL_ETOOBIG: not added */
void lake_busy_del(lake_busy *b, uint64_t key);

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
    lcache payloads;  /* payload key -> its bytes (payloads.c; stores that cannot map) */

    /* Per-partition build locks: keys being built (hashes); waiters sleep on cv. */
    pthread_mutex_t lock_mu;
    pthread_cond_t lock_cv;
    lake_busy busy;

    /* payloads.c: keys being fetched (hashes); builds needing them sleep on pl_cv */
    pthread_mutex_t pl_mu;
    pthread_cond_t pl_cv;
    lake_busy pl_busy;
    _Atomic uint64_t pl_waited; /* payloads a build waited for instead of reading */
    _Atomic uint64_t pl_prefetched; /* payloads read ahead for a trace (prefetch.c) */

    /* Where builds' time went: waiting for payloads, decoding (the builder's own
     * time), writing Parquet, putting the file, committing the row. */
    _Atomic uint64_t phase_wait_ns, phase_decode_ns, phase_write_ns, phase_put_ns,
        phase_commit_ns;
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

    /* Deferred commits (commit.c): pending partitions, newest first, and their
     * committers; cm_mu guards the list, cm_done_cv announces each commit's end. */
    pthread_mutex_t cm_mu;
    pthread_cond_t cm_cv, cm_done_cv;
    struct lake_pending *cm_head;
    int cm_n, cm_stop, cm_threads;
    int cm_readers;          /* traces running that defer commits (lake_commit_hold) */
    pthread_t cm_tid[4];
    _Atomic uint64_t deferred, deferred_done, deferred_failed;
    /* SL_LAKE_TRACE_OVERLAP (benchmarks, diagnosis): what a trace overlaps, bits of
     * LAKE_OVERLAP_*: unset or "defer" deferred commits, "all" also the read-ahead,
     * "prefetch" the read-ahead only, "0" neither (as before those existed). */
    int trace_overlap;
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
/* As lake_file_keep, and returns the cache's entry with a reference taken (or NULL:
 * not kept, file untouched). */
lcache_entry *lake_file_keep_ref(lake *l, const char *path, dbuf *file);
/*
 * Makes sure the column chunks that a scan with opts (projection, row-group split,
 * range pruning, as the reader applies them) will read are in the image, fetching
 * the missing ones with ranged reads; nothing to do for a mapped or whole file.
 */
int lake_file_fetch(lake *l, const char *path, lcache_entry *bytes, const pq_footer *footer,
                    const pq_scan_opts *opts, errmsg *e);

/*
 * payloads.c: the payloads a build reads.  out[i] gets keys[i]'s bytes (p, len),
 * held until lake_payloads_release, from the payload cache, from a read another
 * build has in flight, or read now (several in flight); see payloads.c.  On a
 * failure the payloads already held must still be released.
 */
typedef struct lake_payload {
    const uint8_t *p;
    size_t len;
    int have;         /* p and len hold the payload */
    lcache_entry *en; /* the cache's entry, or NULL */
    dbuf buf;         /* the bytes when not in the cache */
} lake_payload;
int lake_payloads_get(lake *l, const char *const *keys, size_t n, lake_payload *out,
                      errmsg *e);
/*
 * As lake_payloads_get, but returns at once when the lake caches payloads (S3) and
 * n > 1: a thread reads them and *feed tells the builder (lake_src_block.feed =
 * lake_payloads_feed_src) of each payload as it comes in, so decoding overlaps the
 * GETs.  *feed is NULL when the payloads are in out already.  keys and out must
 * outlive lake_payloads_finish, which waits for the reads to end (also after the
 * builder gave up) and returns their result and the time the builder spent
 * waiting for payloads (*waited_ns); release out after it.
 */
typedef struct lake_payload_feed lake_payload_feed;
int lake_payloads_start(lake *l, const char *const *keys, size_t n, lake_payload *out,
                        lake_payload_feed **feed, errmsg *e);
const lake_src_feed *lake_payloads_feed_src(lake_payload_feed *f);
int lake_payloads_finish(lake_payload_feed *f, int64_t *waited_ns, errmsg *e);
void lake_payloads_release(lake *l, lake_payload *ps, size_t n);
/* Whether the lake caches payloads (a store that cannot map files) */
int lake_payloads_cached(const lake *l);
void lake_payload_val_free(void *v);

/*
 * commit.c: deferred partition commits (see its essay).  lake_commit_defer hands
 * a built partition over: its locks (key, hold), its row (copied) and its file's
 * bytes pinned in the file cache (the reference moves).  SL_EAGAIN: not taken
 * (queue full, closing), the caller commits synchronously and keeps everything.
 */
#define LAKE_OVERLAP_DEFER 1    /* deferred commits (commit.c) */
#define LAKE_OVERLAP_PREFETCH 2 /* payload read-ahead (prefetch.c) */
#define LAKE_PENDING_MAX 32 /* commits waiting at once */
#define LAKE_HOLD_MS 1000   /* longest a commit waits for the traces to end */
#define LAKE_COMMITTERS 2   /* threads uploading and committing (at most 4: cm_tid) */
#define LAKE_PATH_MAX 256   /* a partition file's key */
typedef struct lake_pending lake_pending;
void lake_commit_init(lake *l);
void lake_commit_close(lake *l); /* waits for every pending commit */
int lake_commit_defer(lake *l, lake_view_id v, uint64_t key, void *hold,
                      const meta_partition *row, lcache_entry *bytes);
/* Gives fn the pending rows of (v, instance) (under the list's mutex). */
int lake_pending_overlay(lake *l, lake_view_id v, const char *instance, meta_partition_fn fn,
                         void *arg);
/* Returns once path is no longer pending (committed or failed). */
void lake_pending_wait_path(lake *l, const char *path);
/* Returns once no commit is pending. */
void lake_pending_drain(lake *l);
/* A request of this process is about to wait for key's lock: a pending commit of
 * it is not held for the traces running (lake_commit_hold). */
void lake_commit_urge(lake *l, uint64_t key);

/* metaview.c: processes, streams, blocks as one batch. */
int lake_meta_batch(lake *l, lake_view_id v, const char *instance, col_batch **out, errmsg *e);

/* jit.c */
/* The process of an instance (a stream's owner, or the process itself), checked to exist;
 * release it with lake_process_release. */
int lake_instance_process(lake *l, const lake_view_def *vd, const char *instance,
                          const lake_process **proc, errmsg *e);
/* defer: hand the upload and row of each build to the committers (commit.c) when the
 * store cannot map files; the caller reads the partitions right away. */
int lake_jit_instance(lake *l, lake_view_id v, const char *instance, const lake_process *proc,
                      int defer, lake_mat_stats *st, errmsg *e);
/* keys.c: this process's lock of a partition key (waits while another request of
 * the process holds it; SL_ENOMEM), and its release. */
int lake_key_lock(lake *l, uint64_t key);
void lake_key_unlock(lake *l, uint64_t key);
/* Crash tests (SL_LAKE_CRASH, SL_LAKE_TEST_DELAY_MS): see commit.c. */
void lake_crash_point(const char *where);

#endif
