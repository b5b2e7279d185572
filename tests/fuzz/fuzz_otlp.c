/*
 * fuzz_otlp.c - fuzz target for the OTLP routes' decoders and mapping.
 *
 * The first byte of an input chooses what the rest is: bits 0..1 the signal
 * (0 logs, 1 metrics, 2 traces; 3 reads as traces), bit 2 JSON rather than
 * protobuf, bit 3 a gzip body.  The body goes through the same steps as a
 * request to POST /v1/{signal}: gunzip within the cap, decode, map; every
 * message the mapping emits is decoded again by the strict wire decoders
 * (a block's payload event by event), as ingestion would, and must pass: the
 * mapping writing a message its own decoders refuse is a bug too.  Any crash,
 * out-of-bounds read, leak or undefined behaviour is a bug; rejection is the
 * expected outcome for most inputs.
 */
#include "base/arena.h"
#include "base/dbuf.h"
#include "otlp/otlp.h"
#include "wire/wire.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* otlp_emit_fn: what the mapping writes must decode. */
static int check(void *arg, int kind, const void *msg, size_t len, errmsg *e)
{
    arena *a = arg;
    dbuf scratch;
    dbuf_init(&scratch, WIRE_MAX_BODY);
    int rc;
    if (kind == 'P') {
        wire_process p;
        rc = wire_process_decode(msg, len, a, &p, e);
    } else if (kind == 'S') {
        wire_stream s;
        rc = wire_stream_decode(msg, len, a, &s, e);
    } else {
        wire_block b;
        const uint8_t *payload;
        wire_payload_hdr h;
        rc = wire_block_decode(msg, len, &b, &payload, e);
        if (!rc)
            rc = wire_payload_hdr_decode(payload, b.payload_size, &h, e);
        if (!rc)
            rc = wire_block_check_payload(&b, &h, e);
        if (!rc)
            rc = wire_payload_validate(payload, b.payload_size, &scratch, a, e);
    }
    dbuf_free(&scratch);
    if (rc) {
        fprintf(stderr, "fuzz_otlp: the mapping wrote a message its decoder refuses: %s\n",
                e->text);
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    otlp_signal sig = (data[0] & 3) == 0 ? OTLP_LOGS : (data[0] & 3) == 1 ? OTLP_METRICS
                                                                          : OTLP_TRACES;
    otlp_encoding enc = data[0] & 4 ? OTLP_JSON : OTLP_PROTOBUF;
    const uint8_t *body = data + 1;
    size_t len = size - 1;
    errmsg e;
    dbuf plain;
    /* a smaller cap than the server's keeps each run quick; the logic is the same */
    dbuf_init(&plain, 4u << 20);
    arena a, wa;
    arena_init(&a, 1 << 14, 64u << 20);
    arena_init(&wa, 1 << 14, 64u << 20);
    void *req;
    int ok = 1;
    if (data[0] & 8) {
        ok = otlp_gunzip(body, len, &plain, &e) == 0;
        body = plain.p;
        len = plain.len;
    }
    if (ok && otlp_decode(sig, enc, body ? body : (const uint8_t *)"", len, &a, &req, &e) == 0) {
        otlp_result res;
        otlp_map(sig, req, check, &wa, &res, &e);
        dbuf out;
        dbuf_init(&out, 1u << 20);
        otlp_response(sig, enc, &res, &out);
        dbuf_free(&out);
    }
    arena_destroy(&a);
    arena_destroy(&wa);
    dbuf_free(&plain);
    return 0;
}
