/*
 * api_otlp.h - POST /v1/logs, /v1/metrics, /v1/traces (OTLP/HTTP), without HTTP.
 *
 * Takes one request body with its Content-Type and Content-Encoding, decodes
 * it completely, maps it to process, stream and block messages and stores
 * them through ingestion (the path of the tracing library's blocks), then
 * says what to answer.  docs/internals/http-api.md lists the statuses.
 */
#ifndef SL_SERVER_API_OTLP_H
#define SL_SERVER_API_OTLP_H

#include "base/dbuf.h"
#include "otlp/otlp.h"
#include "server/ingest.h"

typedef struct api_otlp_reply {
    int status;                 /* HTTP status */
    const char *content_type;   /* of body */
    dbuf body;                  /* the answer (the caller frees it with dbuf_free) */
} api_otlp_reply;

/*
 * Handles one export.  content_type and content_encoding may be NULL.  The
 * body is only read.  Always fills *r (r->body initialized here).
 */
void api_otlp_handle(ingest *g, otlp_signal sig, const void *body, size_t len,
                     const char *content_type, const char *content_encoding, api_otlp_reply *r);

#endif
