/*
 * live.h - continuous jobs on a server: live telemetry (source_telemetry.c),
 * the job registry (jobs.c) and the sinks that only a server has
 * (sink_webhook.c, sink_metrics.c).
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
 * (a row's queue: its stream id's hash), with the source's watermark. */
int stream_live_open(stream_hub *h, stream_table *t, int nworkers, stream_live **out);
/* Unsubscribes (after the job's workers stopped) and frees the queued rows. */
void stream_live_close(stream_live *l);
/* Wakes the job's readers: stream_live_next returns 0 from now on. */
void stream_live_stop(stream_live *l);
/*
 * Worker wid's next batch of on-time rows (*b, possibly NULL: only the
 * watermark moved, by the idle rule) and the watermark after it: 1; 0 once
 * stopped.  Waits at most ~50 ms.
 */
int stream_live_next(stream_live *l, int wid, sql_batch **b, int64_t *wm);

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
int stream_sink_ext_write(stream_table *t, void *st, const sql_batch *b, sql_err *e);
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

#endif
