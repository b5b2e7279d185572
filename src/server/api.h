/*
 * api.h - the JSON API for people and tools (docs/internals/http-api.md).
 *
 *   GET /api/processes                      -> [process summary, ...]
 *   GET /api/processes/{process_id}/streams -> [stream summary, ...]
 *
 * Both write a JSON array into out (whose max caps the reply).
 */
#ifndef SL_SERVER_API_H
#define SL_SERVER_API_H

#include "base/dbuf.h"
#include "base/err.h"
#include "meta/meta.h"

/*
 * The HTTP status of a failed view, materialize or trace request: 400 for bad
 * parameters, 404 for an unknown view, instance or process, 503 when memory
 * ran out or the response budget is exhausted (with Retry-After), else 500.
 */
static inline int api_http_status(int rc)
{
    switch (rc) {
    case SL_EINVAL:
        return 400;
    case SL_ENOTFOUND:
        return 404;
    case SL_ENOMEM:
    case SL_EBUSY:
        return 503;
    default:
        return 500;
    }
}

/*
 * A "begin"/"end" query value (RFC 3339 or integer ns): *has = 0 (and *ns
 * untouched) when absent or empty; SL_EINVAL naming `what` when malformed.
 */
int api_parse_time(const char *s, int *has, int64_t *ns, const char *what, errmsg *e);

/* Copies what is left of b after *off (at most max bytes) into buf; the count. */
size_t api_copy_pending(const dbuf *b, size_t *off, char *buf, size_t max);

int api_processes_json(meta *m, dbuf *out, errmsg *e);
/* SL_ENOTFOUND (with a message) when the process is unknown. */
int api_streams_json(meta *m, const sl_uuid *process_id, dbuf *out, errmsg *e);

#endif
