/*
 * fuzz_wire.c - fuzz target for everything ingestion decodes from the network.
 *
 * The input is treated as the body of an ingestion request: by its magic it
 * goes to the process, stream or block decoder; a block's payload is checked
 * against the message and then validated event by event, exactly as the
 * server does before storing anything.  A stored payload ("SLPL") is
 * validated as the lake would read it.  Any crash, out-of-bounds read, leak or
 * undefined behaviour is a bug; rejection is the expected outcome for most
 * inputs.
 *
 * The body hash would stop almost every mutation before the body parser, so
 * each input runs twice: as it is, and (when it holds a payload) on a copy
 * whose hash was recomputed, which lets mutations reach the string, descriptor
 * and event decoders.
 */
#include "base/arena.h"
#include "base/bytes.h"
#include "base/hash.h"
#include "base/dbuf.h"
#include "wire/wire.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const uint8_t *data, size_t size)
{
    arena a;
    arena_init(&a, 1 << 14, 64u << 20);
    dbuf scratch;
    dbuf_init(&scratch, WIRE_MAX_BODY);
    errmsg e;
    switch (wire_message_kind(data, size)) {
    case 'P': {
        wire_process p;
        wire_process_decode(data, size, &a, &p, &e);
        break;
    }
    case 'S': {
        wire_stream s;
        wire_stream_decode(data, size, &a, &s, &e);
        break;
    }
    case 'B': {
        wire_block b;
        const uint8_t *payload;
        wire_payload_hdr h;
        if (wire_block_decode(data, size, &b, &payload, &e) == 0 &&
            wire_payload_hdr_decode(payload, b.payload_size, &h, &e) == 0 &&
            wire_block_check_payload(&b, &h, &e) == 0)
            wire_payload_validate(payload, b.payload_size, &scratch, &a, &e);
        break;
    }
    default:
        wire_payload_validate(data, size, &scratch, &a, &e);
        break;
    }
    dbuf_free(&scratch);
    arena_destroy(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one(data, size);
    int kind = wire_message_kind(data, size);
    size_t off = kind == 'B' ? WIRE_BLOCK_HDR : kind == 'L' ? 0 : SIZE_MAX;
    if (off == SIZE_MAX || size < off + WIRE_PAYLOAD_HDR)
        return 0;
    uint8_t *copy = malloc(size);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    uint8_t *pl = copy + off;
    st_u64le(pl + 88, hash64(pl + WIRE_PAYLOAD_HDR, size - off - WIRE_PAYLOAD_HDR));
    one(copy, size);
    free(copy);
    return 0;
}
