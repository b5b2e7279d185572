/*
 * ingest.h - what the three ingestion routes do, without HTTP.
 *
 * Each function takes one request body (a process, stream or block message),
 * validates it completely, stores it, and says what to answer: an HTTP status
 * and a one-line reason.  Keeping this apart from the HTTP glue lets unit
 * tests drive every rule directly.
 *
 * The block path, in this order (each step runs only if the last succeeded):
 *   1. decode the block message; check its payload's header against it;
 *      walk every event of the payload (wire_payload_validate);
 *   2. claim the block id, so that two requests for the same block in this
 *      server run one after the other (ingest.c explains why);
 *   3. if the block row exists: identical content -> 200, else 422;
 *   4. the stream must be known (else 409, retry) and belong to the block's
 *      process (else 422);
 *   5. write the payload object durably; 6. commit the block row; 7. reply.
 * Bad input therefore stores nothing, and a 2xx means both the payload and
 * the row are durable.  A crash between 5 and 6 leaves an object no row points
 * to; the client's retry replaces it and commits the row.
 */
#ifndef SL_SERVER_INGEST_H
#define SL_SERVER_INGEST_H

#include "base/err.h"
#include "meta/meta.h"
#include "objstore/objstore.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct ingest ingest;

typedef struct ingest_reply {
    int status;       /* HTTP status to send */
    int existed;      /* 2xx only: the item was already stored (idempotent re-send) */
    int retry_after;  /* seconds for a Retry-After header, 0 for none */
    errmsg e;         /* the one-line reason for a non-2xx status */
} ingest_reply;

/*
 * Called after a new stream ('S') or block ('B') is committed (not for idempotent
 * re-sends), on the request's thread: the lake uses it to keep its caches true.
 */
typedef void (*ingest_hook)(void *arg, int kind, const sl_uuid *process_id,
                            const sl_uuid *stream_id);

/*
 * Called after a new block is committed (not for idempotent re-sends), on the
 * request's thread, with its row and its stored payload (valid during the call
 * only): continuous jobs over live telemetry (src/stream/source_telemetry.c).
 * It must not block: the request waits for it.
 */
typedef void (*ingest_block_hook)(void *arg, const meta_block *row, const void *payload,
                                  size_t len);

/*
 * Called on the request's thread when a block's row is about to be inserted
 * (done false), returning the insert's begin time: the wall clock, at most the
 * insert time the store gives the row (the block hook's row carries it as
 * insert_time_ns); and once the insert ended (done true, after the block hook,
 * committed or not) with that time.  A continuous job over telemetry knows from
 * the inserts under way which blocks may still reach it (source_telemetry.c).
 */
typedef int64_t (*ingest_insert_hook)(void *arg, int64_t begin_ns, bool done);

/* Uses (does not own) the stores; they must outlive the ingest handle. */
int ingest_new(meta *m, objstore *os, ingest **out, errmsg *e);
void ingest_free(ingest *g);
/* Sets the hook (NULL: none). Set it before the handle is used. */
void ingest_set_hook(ingest *g, ingest_hook fn, void *arg);
/* Sets the block hook (NULL: none). Set it before the handle is used. */
void ingest_set_block_hook(ingest *g, ingest_block_hook fn, void *arg);
/* Sets the insert hook (NULL: none), called with the block hook's arg. */
void ingest_set_insert_hook(ingest *g, ingest_insert_hook fn);

/*
 * Each takes one whole request body (len bytes, possibly 0) and always fills *r:
 * 200 (stored, r->existed when it was already there identically) or the status
 * and one-line reason to send.  Safe to call from many threads at once; the body
 * is only read and may be freed once the call returns.
 */
void ingest_process(ingest *g, const void *body, size_t len, ingest_reply *r);
void ingest_stream(ingest *g, const void *body, size_t len, ingest_reply *r);
void ingest_block(ingest *g, const void *body, size_t len, ingest_reply *r);

/* The HTTP status for an error code of the ingestion path (docs/internals/http-api.md). */
int ingest_status_for(int code);

/* The object key of a block's payload: blobs/{process_id}/{stream_id}/{block_id}. */
void ingest_block_key(const sl_uuid *process_id, const sl_uuid *stream_id, const sl_uuid *block_id,
                      char *out, size_t out_size);

#endif
