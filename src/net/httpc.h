/*
 * httpc.h - a tiny HTTP client over libcurl for the CLI and the benchmarks.
 *
 * One handle is one keep-alive connection (reused across requests to the same
 * server), used by one thread at a time.  Response bodies go into a caller's
 * dbuf, whose max caps them: a larger body fails with SL_ETOOBIG.  Any HTTP
 * status is a successful request (the caller reads *status); errors are for
 * the transport only (SL_ENET: refused, reset, timed out).
 */
#ifndef SL_NET_HTTPC_H
#define SL_NET_HTTPC_H

#include "base/dbuf.h"
#include "base/err.h"

#include <stddef.h>

typedef struct httpc httpc;

/* A new handle; timeout_ms bounds each whole request (0: 30 s). */
int httpc_new(long timeout_ms, httpc **out, errmsg *e);
void httpc_free(httpc *c);

/*
 * GET (body NULL) or POST (body, possibly empty) url.  Sets *status and appends
 * the response body to resp (which may be NULL to discard it).  content_type
 * may be NULL (application/octet-stream for POST).  The Retry-After header, if
 * any, is returned in *retry_after_s (else -1) when that pointer is not NULL.
 */
int httpc_request(httpc *c, const char *url, const void *body, size_t body_len, int is_post,
                  const char *content_type, int *status, dbuf *resp, long *retry_after_s,
                  errmsg *e);

/* Receives a streamed body piece by piece; non-zero stops the transfer. */
typedef int (*httpc_write_fn)(void *arg, const void *p, size_t n);

/*
 * Like httpc_request, but a 2xx body goes to fn as it arrives (nothing is kept);
 * any other status's body goes to err_body (may be NULL) for its message.
 */
int httpc_stream(httpc *c, const char *url, const void *body, size_t body_len, int is_post,
                 const char *content_type, int *status, dbuf *err_body, httpc_write_fn fn,
                 void *arg, errmsg *e);

static inline int httpc_get(httpc *c, const char *url, int *status, dbuf *resp, errmsg *e)
{
    return httpc_request(c, url, NULL, 0, 0, NULL, status, resp, NULL, e);
}

static inline int httpc_post(httpc *c, const char *url, const void *body, size_t len,
                             int *status, dbuf *resp, errmsg *e)
{
    return httpc_request(c, url, body, len, 1, NULL, status, resp, NULL, e);
}

#endif
