/*
 * jobs.h - continuous jobs on a server (jobs.c): what the server sees of the
 * registry.  It includes nothing of the stream module's internals.
 */
#ifndef SL_STREAM_JOBS_H
#define SL_STREAM_JOBS_H

#include "base/dbuf.h"
#include "base/err.h"
#include "lake/lake.h"
#include "meta/meta.h"
#include "sql/sql.h"

typedef struct stream_hub stream_hub;

typedef struct stream_server stream_server;

typedef struct stream_server_opts {
    sql_engine *eng;
    lake *l;
    meta *m;                 /* definitions are kept here (NULL: not kept) */
    int workers;             /* per job (< 1: the number of cores) */
    const char *output_dir;  /* relative file sink paths (NULL: the working directory) */
    const char *input_dir;   /* relative file source paths */
    objstore *os;            /* jobs' checkpoints are kept here (NULL: none) */
    int checkpoint_ms;       /* between two checkpoints of a job (< 1: 2000) */
    bool shared;             /* m and os are shared by several servers: the jobs run on
                                the lake's leader only (stream_server_lead) */
} stream_server_opts;

/* Opens the registry, hooks it into the engine and restarts the jobs the
 * metadata store keeps (a job that fails to start is kept, marked failed). */
int stream_server_open(const stream_server_opts *o, stream_server **out, errmsg *e);
/* Stops every job (their definitions stay) and frees the registry. */
void stream_server_close(stream_server *ss);
/* A shared lake: whether this server leads it now (called every second); a
 * statement defining a job or a connector table is refused while it does not. */
void stream_server_lead(stream_server *ss, bool leading);
stream_hub *stream_server_hub(stream_server *ss);

/* GET /api/jobs: [job, ...]; GET /api/jobs/{name}: one job (SL_ENOTFOUND). */
int stream_server_jobs_json(stream_server *ss, const char *name, dbuf *out, errmsg *e);
/* POST /api/jobs/{name}/stop and /start. */
int stream_server_job_stop(stream_server *ss, const char *name, errmsg *e);
int stream_server_job_start(stream_server *ss, const char *name, errmsg *e);
/* GET /metrics: the figures in Prometheus text format (and the metrics sinks' gauges). */
int stream_server_metrics(stream_server *ss, dbuf *out);

/* source_telemetry.c: the ingest block hook's work (live.h has the rest). */
void stream_hub_block(stream_hub *h, const meta_block *row, const void *payload, size_t len);
/* The ingest insert hook's work (ingest_insert_hook): a block's insert begins
 * (done false: returns its begin time) or ended (done true, that time). */
int64_t stream_hub_insert(stream_hub *h, int64_t begin_ns, bool done);

#endif
