/*
 * api_jobs.h - continuous jobs over HTTP (docs/internals/http-api.md):
 *
 *   GET  /api/jobs               -> [job, ...]
 *   GET  /api/jobs/{name}        -> job (404 when unknown)
 *   POST /api/jobs/{name}/stop   -> job (stopped; its view keeps its rows)
 *   POST /api/jobs/{name}/start  -> job (started over)
 *   GET  /metrics                -> Prometheus text format
 */
#ifndef SL_SERVER_API_JOBS_H
#define SL_SERVER_API_JOBS_H

#include "base/dbuf.h"
#include "base/err.h"
#include "stream/jobs.h"

enum { API_JOBS_LIST = 0, API_JOBS_DESCRIBE, API_JOBS_METRICS, API_JOBS_STOP, API_JOBS_START };

/* Which job route url is (API_JOBS_*; the name into name), or -1. */
int api_jobs_match(const char *url, char *name, size_t n);
/* Whether the route is a POST. */
static inline int api_jobs_post(int op)
{
    return op >= API_JOBS_STOP;
}
/* The reply of route op: its body in out, *status and *ctype. */
void api_jobs_reply(stream_server *ss, int op, const char *name, dbuf *out, int *status,
                    const char **ctype);

#endif
