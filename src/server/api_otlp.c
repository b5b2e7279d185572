/*
 * api_otlp.c - the OTLP/HTTP routes (see api_otlp.h).
 *
 * Order of work: content type (else 415), content encoding (gzip or none,
 * else 415), gunzip within OTLP_MAX_BODY (else 413; bad gzip 400), decode the
 * whole request (malformed: 400 with a google.rpc.Status, nothing stored),
 * then map and store.  Storing goes through ingest_process / ingest_stream /
 * ingest_block, so every message is validated again by the strict wire
 * decoders and stored create-only: a message already stored identically is
 * a success that changes nothing.  A block id that exists already names the
 * same content (ids are content hashes, otlp_map.c), so ingestion's "exists
 * with different content" (which can only mean another compression of the
 * same events) counts as stored too.
 */
#include "server/api_otlp.h"

#include "base/arena.h"
#include "base/log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* gRPC status codes used in google.rpc.Status answers. */
enum { GRPC_INVALID_ARGUMENT = 3, GRPC_RESOURCE_EXHAUSTED = 8, GRPC_INTERNAL = 13,
       GRPC_UNAVAILABLE = 14 };

/* The media type without parameters equals want (case-insensitive). */
static int media_is(const char *ct, const char *want)
{
    size_t n = strlen(want);
    if (!ct)
        return 0;
    while (*ct == ' ')
        ct++;
    return !strncasecmp(ct, want, n) && (ct[n] == 0 || ct[n] == ';' || ct[n] == ' ');
}

static void answer_status(api_otlp_reply *r, otlp_encoding enc, int status, const char *msg)
{
    int code = status == 413   ? GRPC_RESOURCE_EXHAUSTED
               : status == 503 ? GRPC_UNAVAILABLE
               : status >= 500 ? GRPC_INTERNAL
                               : GRPC_INVALID_ARGUMENT;
    r->status = status;
    r->content_type = enc == OTLP_JSON ? "application/json" : "application/x-protobuf";
    dbuf_reset(&r->body);
    if (otlp_status(enc, code, msg, &r->body)) {
        r->status = 500;
        dbuf_reset(&r->body);
    }
}

/* otlp_emit_fn: one message to ingestion. */
static int store(void *arg, int kind, const void *msg, size_t len, errmsg *e)
{
    ingest *g = arg;
    ingest_reply ir;
    if (kind == 'P')
        ingest_process(g, msg, len, &ir);
    else if (kind == 'S')
        ingest_stream(g, msg, len, &ir);
    else
        ingest_block(g, msg, len, &ir);
    if (ir.status / 100 == 2 || (kind == 'B' && ir.status == 422))
        return SL_OK;
    /* Our own messages are valid; what fails here is the store (503) or a conflict. */
    return errmsg_set(e, ir.status == 503 ? SL_ESTATE : SL_EINTERNAL, "storing %s: %s",
                      kind == 'P' ? "the process" : kind == 'S' ? "a stream" : "a block",
                      errmsg_str(&ir.e));
}

void api_otlp_handle(ingest *g, otlp_signal sig, const void *body, size_t len,
                     const char *content_type, const char *content_encoding, api_otlp_reply *r)
{
    memset(r, 0, sizeof *r);
    dbuf_init(&r->body, 1u << 20);
    otlp_encoding enc = OTLP_PROTOBUF;
    if (media_is(content_type, "application/json")) {
        enc = OTLP_JSON;
    } else if (!media_is(content_type, "application/x-protobuf")) {
        char msg[200];
        snprintf(msg, sizeof msg, "unsupported Content-Type \"%.80s\": OTLP/HTTP takes "
                 "application/x-protobuf or application/json", content_type ? content_type : "");
        answer_status(r, OTLP_JSON, 415, msg);
        return;
    }
    int gzip = media_is(content_encoding, "gzip");
    if (!gzip && content_encoding && *content_encoding && !media_is(content_encoding, "identity")) {
        answer_status(r, enc, 415, "unsupported Content-Encoding: OTLP/HTTP takes gzip or none");
        return;
    }
    errmsg e;
    errmsg_clear(&e);
    dbuf plain;
    dbuf_init(&plain, OTLP_MAX_BODY);
    arena a;
    arena_init(&a, 256 * 1024, OTLP_ARENA_MAX);
    void *req = NULL;
    int rc = SL_OK;
    if (gzip && (rc = otlp_gunzip(body, len, &plain, &e)))
        goto out;
    if (gzip) {
        body = plain.p ? plain.p : (const uint8_t *)"";
        len = plain.len;
    }
    if ((rc = otlp_decode(sig, enc, body, len, &a, &req, &e)))
        goto out;
    otlp_result res;
    if ((rc = otlp_map(sig, req, store, g, &res, &e)))
        goto out;
    r->status = 200;
    r->content_type = enc == OTLP_JSON ? "application/json" : "application/x-protobuf";
    if (otlp_response(sig, enc, &res, &r->body))
        answer_status(r, enc, 500, "out of memory");
out:
    if (rc) {
        int status = rc == SL_ETOOBIG ? 413 : rc == SL_EINVAL ? 400 : rc == SL_ESTATE ? 503 : 500;
        if (status >= 500)
            log_warn("otlp", "%s: %d: %s", otlp_signal_name(sig), status, errmsg_str(&e));
        answer_status(r, enc, status, errmsg_str(&e));
    }
    arena_destroy(&a);
    dbuf_free(&plain);
}
