/*
 * live.h - continuous jobs on a server: live telemetry (source_telemetry.c, and
 * spans.c: the open spans of thread streams), the job registry (jobs.c) and the
 * sinks that only a server has (sink_ext.c: webhook and metrics).
 *
 * The registry is the server's one owner of connector tables, materialized
 * views and jobs; SQL sessions reach it through the engine's hooks
 * (sql_engine_set_hooks), the HTTP API through stream_server_* below.
 */
#ifndef SL_STREAM_LIVE_H
#define SL_STREAM_LIVE_H

#include "base/dbuf.h"
#include "lake/lake.h"
#include "stream/jobs.h"
#include "stream/spans.h"
#include "stream/stream_int.h"

/* ---- source_telemetry.c ---------------------------------------------------- */

int stream_hub_new(lake *l, stream_hub **out);
void stream_hub_free(stream_hub *h);
/* A block ingestion committed (the ingest block hook): its rows go to every
 * subscription of a telemetry table over a view the block's stream feeds.
 * Never blocks on a job: a subscription whose queue is full loses the rows
 * (counted as overflow_dropped). */
void stream_hub_block(stream_hub *h, const meta_block *row, const void *payload, size_t len);

/* One option of a telemetry table (view, event_time, max_delay, idle_timeout,
 * late): 0 or an error naming the table. */
int stream_telemetry_option(stream_table *t, const char *k, const char *v, int loc, sql_err *e);
/* After the options: a view given, each column one of the view's (same type). */
int stream_telemetry_check(stream_table *t, sql_err *e);

/* A job's subscription to a telemetry table's rows, cut into nworkers queues
 * (a row's queue: its stream id's hash), with the source's watermark.  replay:
 * a job resumed from a checkpoint, whose workers each replay what they had not
 * taken (stream_live_replay) before the blocks delivered meanwhile are checked
 * for lateness and queued. */
int stream_live_open(stream_hub *h, stream_table *t, int nworkers, bool replay,
                     stream_live **out);
/* Unsubscribes (after the job's workers stopped) and frees the queued rows. */
void stream_live_close(stream_live *l);
/* Wakes the job's readers: stream_live_next returns 0 from now on. */
void stream_live_stop(stream_live *l);
/* The job takes checkpoints: every block delivered is queued, with or without
 * on-time rows, so that its worker knows it took it. */
void stream_live_track(stream_live *l);
/* A resumed job: the watermark (raised to wm) and figures its checkpoint saved. */
void stream_live_restore(stream_live *l, int64_t wm, uint64_t rows_read, uint64_t late);

/* Lists of blocks taken (a checkpoint's, a replay's): grown (0 or SL_ENOMEM), sorted
 * by id, then looked up. */
int stream_live_done_add(stream_live_done **d, int64_t *n, int64_t *cap, const sl_uuid *id,
                         int64_t at_ns);
void stream_live_done_sort(stream_live_done *d, int64_t n);
bool stream_live_done_has(const stream_live_done *d, int64_t n, const sl_uuid *id);
/* A block delivered again after it was replayed: its rows counted once. */
void stream_live_uncount(stream_live *l, uint64_t rows_read, uint64_t late);

typedef struct stream_live_item {
    sql_batch *b;            /* on-time rows (taken by the caller; NULL: none) */
    int64_t wm;              /* the watermark after it */
    bool block;              /* a block's (false: an idle tick, the watermark only) */
    bool maybe_seen;         /* delivered while the job replayed: skip it if replayed */
    sl_uuid id;              /* the block */
    sl_uuid stream;          /* ... of this stream */
    uint8_t *spans;          /* thread_spans, a job taking checkpoints: the stream's
                              * state after the block (taken by the caller: sl_free) */
    size_t spans_len;
    int64_t at_ns;           /* when it was delivered (at least its insert time) */
    uint64_t nread, nlate;   /* its rows, and those dropped as late */
} stream_live_item;

/*
 * Worker wid's next item: a block's on-time rows (a job with checkpoints gets
 * every block, rows or not), or only the watermark (moved by the idle rule):
 * 1; 0 once stopped.  Waits at most ~50 ms.
 */
int stream_live_next(stream_live *l, int wid, stream_live_item *it);

/*
 * A checkpoint's time for worker wid: every block its streams route to that was
 * inserted before it has been handed to the worker (taken, or queued for it), or
 * is at or after floor_ns (a replay's next block).  Inserts under way, and blocks
 * queued or held for it, hold it back.
 */
int64_t stream_live_low(stream_live *l, int wid, int64_t floor_ns);

/*
 * A resumed job's worker wid: the blocks inserted at or after since_ns that its
 * streams route to and that are not in done (its checkpoint's list, sorted here),
 * decoded as the hub does, checked for lateness, and handed to fn in insert time
 * order with the insert time of the block after it (INT64_MAX: none), which is
 * where its checkpoint time stands meanwhile.  0, fn's error, or e set.
 * thread_spans: spans is the worker's states (its checkpoint's, kept up to date
 * by fn from each item's); each block is decoded from its stream's state there,
 * and once replayed they seed the job's own states, from which the blocks
 * delivered meanwhile (held undecoded) and all later ones are decoded.
 */
typedef int (*stream_live_replay_fn)(void *arg, stream_live_item *it, int64_t next_ns,
                                     sql_err *e);
int stream_live_replay(stream_live *l, int wid, int64_t since_ns, stream_live_done *done,
                       uint32_t ndone, stream_spans *spans, stream_live_replay_fn fn,
                       void *arg, sql_err *e);

typedef struct stream_live_figures {
    uint64_t rows_read, late_dropped, overflow_dropped;
    int64_t watermark_ns;    /* STREAM_WM_NONE: none yet */
    int64_t queued_bytes;
} stream_live_figures;
void stream_live_figures_get(stream_live *l, stream_live_figures *f);

/* ---- sink_ext.c: webhook and metrics sinks ----------------------------------- */

/* An option of a webhook table (url, queue_size, retries); metrics takes none. */
int stream_sinkext_option(stream_table *t, const char *k, const char *v, int loc, sql_err *e);
int stream_sinkext_check(stream_table *t, sql_err *e);
int stream_sink_ext_open(stream_table *t, void **out, sql_err *e);
/* Rows of the sink's columns (not taken). */
int stream_sink_ext_write(stream_table *t, void *st, const sql_batch *b, bool del, sql_err *e);
/* Waits until what was written is delivered (webhook, kafka); a staged table sink
 * publishes its rows. */
int stream_sink_ext_commit(stream_table *t, void *st, sql_err *e);
/* Checkpoints (sink.c's stream_sink_ckpt_start and stream_sink_sync): a table sink
 * stages its rows from then on; at a checkpoint it publishes them (*pos: segments
 * published, *run: its run), kafka waits for its delivery reports. */
int stream_sink_ext_stage(stream_table *t, void *st, bool resume, bool keep, uint64_t run,
                          uint64_t published, sql_err *e);
int stream_sink_ext_sync(stream_table *t, void *st, uint64_t *pos, uint64_t *run, sql_err *e);
void stream_sink_ext_close(stream_table *t, void *st);

int stream_gauges_new(const char *name, int ncols, const char *const *names,
                      const sql_type *types, stream_gauges **out);
void stream_gauges_free(stream_gauges *g);
int stream_gauges_set(stream_gauges *g, const sql_batch *b);
/* The gauges in the Prometheus text format. */
int stream_gauges_text(stream_gauges *g, dbuf *out);
/* Checkpoints: the series appended to out as bytes, and read back in place of
 * the gauges' series (0; SL_EINVAL for bytes that are not such series of this
 * many columns: nothing changes; SL_ENOMEM). */
int stream_gauges_save(stream_gauges *g, dbuf *out);
int stream_gauges_load(stream_gauges *g, const uint8_t *p, size_t n);

#endif
