/*
 * otlp.h - OpenTelemetry (OTLP/HTTP) export requests: decoding and mapping.
 *
 * An export request (logs, metrics or traces) arrives as protobuf or as the
 * OTLP JSON mapping, possibly gzip-compressed.  Both encodings decode into the
 * same protobuf-c structures (otlp_subset.pb-c.h, generated from our own
 * .proto subset with the public field numbers), so the mapping is written once:
 *
 *   body --gunzip--> bytes --protobuf-c | JSON filler--> request tree (arena)
 *        --otlp_map--> process, stream and block messages (src/wire/ format)
 *
 * The messages are handed to a callback (the server gives them to ingestion,
 * the same path as the tracing library's), so the lake builds log_entries,
 * measures and otel_spans from OTLP data exactly as from its own blocks.
 * docs/internals/otlp.md has the mapping tables.
 *
 * Idempotency: every id is derived from content (process: the resource's
 * attributes; stream: process, signal and scope; block: stream and the
 * uncompressed payload body), and ingestion stores an identical message once,
 * so a re-sent export stores nothing new.
 *
 * Memory: the decoded tree lives in a caller's arena whose cap bounds it; a
 * decompressed body is capped at OTLP_MAX_BODY.  Nesting is limited to
 * OTLP_MAX_DEPTH before protobuf-c (which recurses) sees the bytes.
 */
#ifndef SL_OTLP_H
#define SL_OTLP_H

#include "base/arena.h"
#include "base/dbuf.h"
#include "base/err.h"

#include <stddef.h>
#include <stdint.h>

/* The version of the mapping that docs/internals/otlp.md specifies. */
#define OTLP_MAPPING_VERSION 1

#define OTLP_MAX_BODY (64u << 20)       /* a decompressed request body */
#define OTLP_MAX_DEPTH 32               /* nested messages (AnyValue in AnyValue ...) */
#define OTLP_ARENA_MAX (512u << 20)     /* the decoded tree of one request */
#define OTLP_BLOCK_BODY (4u << 20)      /* the payload body of one stored block */

typedef enum otlp_signal { OTLP_LOGS = 0, OTLP_METRICS = 1, OTLP_TRACES = 2 } otlp_signal;
typedef enum otlp_encoding { OTLP_PROTOBUF = 0, OTLP_JSON = 1 } otlp_encoding;

/* "logs", "metrics", "traces". */
const char *otlp_signal_name(otlp_signal s);

/*
 * Decompresses a gzip body into out (whose max is the cap: SL_ETOOBIG past it).
 * SL_EINVAL with the reason when the bytes are not one complete gzip stream.
 */
int otlp_gunzip(const void *in, size_t len, dbuf *out, errmsg *e);

/*
 * Decodes an Export{Logs,Metrics,Trace}ServiceRequest into *out (a
 * ProtobufCMessage of the signal's request type, allocated in a).  Errors:
 * SL_EINVAL (malformed: the message says where), SL_ETOOBIG (over a cap or the
 * arena's limit).
 */
int otlp_decode(otlp_signal sig, otlp_encoding enc, const void *body, size_t len, arena *a,
                void **out, errmsg *e);

/* What a request's mapping did. */
typedef struct otlp_result {
    uint64_t accepted;       /* spans, log records or data points stored (or already there) */
    uint64_t rejected;       /* items refused (the partial_success count) */
    char message[256];       /* the first rejection's reason ("" when none) */
} otlp_result;

/*
 * Receives one encoded message: kind 'P' (process), 'S' (stream) or 'B' (block).
 * Returns 0, or an error code with e set to stop the mapping.
 */
typedef int (*otlp_emit_fn)(void *arg, int kind, const void *msg, size_t len, errmsg *e);

/*
 * Maps a decoded request to wire messages, in the order ingestion needs them
 * (a process before its streams, a stream before its blocks).  Items that
 * cannot be stored (a span without a valid trace id, a data point without a
 * time, an exponential histogram) are counted in res->rejected; the rest go on.
 * Returns 0, or the first error of emit (or SL_ENOMEM).
 */
int otlp_map(otlp_signal sig, const void *request, otlp_emit_fn emit, void *arg,
             otlp_result *res, errmsg *e);

/*
 * The success answer: Export<Signal>ServiceResponse with partial_success set
 * when something was rejected, in the request's encoding, appended to out.
 */
int otlp_response(otlp_signal sig, otlp_encoding enc, const otlp_result *res, dbuf *out);

/* An error answer: a google.rpc.Status (grpc_code, message) in enc, appended to out. */
int otlp_status(otlp_encoding enc, int grpc_code, const char *message, dbuf *out);

#endif
