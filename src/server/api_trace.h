/*
 * api_trace.h - Perfetto traces over HTTP (docs/internals/http-api.md).
 *
 *   GET  /api/processes/{process_id}/trace.pftrace?kinds=&begin=&end=
 *        the trace as a download (application/octet-stream), streamed;
 *   POST /api/perfetto/{process_id}/generate
 *        body {"time_range": {"begin": .., "end": ..}, "include_thread_spans": true,
 *              "include_async_spans": true}; answers the progress frame stream
 *        (docs/internals/perfetto.md, section 10): PROGRESS, DATA, and a final
 *        SUMMARY or ERROR.
 *
 * api_trace_open resolves the process and starts the generator, so errors
 * (unknown process: 404) are known before the first byte; api_trace_read then
 * fills the response a piece at a time.
 */
#ifndef SL_SERVER_API_TRACE_H
#define SL_SERVER_API_TRACE_H

#include "base/budget.h"
#include "base/err.h"
#include "lake/lake.h"

#include <pthread.h>
#include <sys/types.h>

typedef struct api_trace_req {
    unsigned kinds;          /* 1 thread, 2 async, 3 both */
    int has_begin, has_end;  /* the range, inclusive */
    int64_t begin_ns, end_ns;
    unsigned jobs;           /* workers wanted (the caller applies defaults and caps) */
    int frames;              /* the progress frame stream instead of the plain trace */
} api_trace_req;

/* Figures of the traces a server generated, for GET /api/stats. */
typedef struct api_trace_stats {
    pthread_mutex_t mu;
    uint64_t count;          /* traces served to their end */
    uint64_t running;        /* generators open now */
    uint64_t cancelled;      /* closed before their end (the client went away) */
    int64_t total_ns, jit_ns;
    char last[2048];         /* the last trace's summary JSON ("" before the first) */
} api_trace_stats;

typedef struct api_trace api_trace;

/*
 * Resolves the process and starts the generator with as many of rq->jobs
 * workers as the budget has free (at least one), holding the generator's
 * memory bound (pf_gen_memory_bound) until api_trace_close.  On failure
 * *status is the HTTP status: 400, 404, 503 (budget exhausted), 500.
 */
int api_trace_open(lake *l, budget *bud, api_trace_stats *stats, const char *process_id,
                   const api_trace_req *rq, api_trace **out, int *status, errmsg *e);
/* Up to max bytes of the response; 0 at the end, -1 on an error (logged). */
ssize_t api_trace_read(api_trace *t, char *buf, size_t max);
/* Frees everything; cancels and joins the workers if the trace is not finished. */
void api_trace_close(api_trace *t);
const char *api_trace_process_id(const api_trace *t);

/* The generate body (empty means: everything, both kinds). */
int api_trace_parse_body(const char *body, size_t len, api_trace_req *rq, errmsg *e);

#endif
