/*
 * pf_wire.h - a minimal protobuf wire-format writer, with no generated code.
 *
 * The Perfetto writer emits protobuf directly: varints, fixed64 and
 * length-delimited fields holding strings or nested messages.  This header is
 * the whole encoder; it knows nothing about Perfetto.
 *
 * A `pw` writes into a caller-provided byte range [base, end).  Every
 * primitive checks the room it needs before touching memory; on overflow the
 * writer records SL_ETOOBIG once (sticky, like the `rd` reader in bytes.h),
 * stops writing and all later calls do nothing.  The caller checks w->err once
 * after a group of writes.  Callers that size the range from an upper bound of
 * what they write never see the error; it is the guard against a wrong bound.
 *
 * Nested messages avoid both per-field allocation and a sizing pass: a
 * message opens by writing its tag and reserving ONE byte for its length.
 * When it closes, a length below 128 fits that byte (the common case: track
 * events are 6 to 30 bytes); a longer body is moved forward by the extra
 * varint bytes it needs (a memmove of the body, paid only by rare big messages
 * such as interned strings or descriptors).  The output is therefore the
 * canonical, shortest encoding, byte for byte what any protobuf library
 * writes, which keeps traces small.
 *
 * Invariants: w->base <= w->p <= w->end; open messages form a stack of at most
 * PW_MAX_DEPTH entries, each pointing at its reserved length byte; a message
 * closed out of order (pw_msg_end with nothing open) is SL_EINTERNAL.
 */
#ifndef SL_PERFETTO_PF_WIRE_H
#define SL_PERFETTO_PF_WIRE_H

#include "base/bytes.h"
#include "base/err.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PW_MAX_DEPTH 8

/* Wire types (protobuf encoding guide). */
enum { PW_VARINT = 0, PW_I64 = 1, PW_LEN = 2, PW_I32 = 5 };

typedef struct pw {
    uint8_t *base;
    uint8_t *p;   /* next byte to write */
    uint8_t *end; /* one past the last writable byte */
    int err;      /* 0, or the first error (SL_ETOOBIG, SL_EINTERNAL) */
    int depth;    /* open nested messages */
    uint8_t *open[PW_MAX_DEPTH];
} pw;

/* Start writing at buf, which has room for cap bytes. */
static inline void pw_init(pw *w, uint8_t *buf, size_t cap)
{
    w->base = w->p = buf;
    w->end = buf + cap;
    w->err = 0;
    w->depth = 0;
}

static inline size_t pw_len(const pw *w)
{
    return (size_t)(w->p - w->base);
}

static inline void pw_fail(pw *w, int code)
{
    if (!w->err)
        w->err = code;
    w->p = w->end; /* later room checks fail fast unless the range was empty */
}

/* True when n more bytes fit; records SL_ETOOBIG otherwise. */
static inline int pw_room(pw *w, size_t n)
{
    if (w->err || (size_t)(w->end - w->p) < n) {
        pw_fail(w, w->err ? w->err : SL_ETOOBIG);
        return 0;
    }
    return 1;
}

static inline void pw_raw_varint(pw *w, uint64_t v)
{
    w->p += uvarint_put(w->p, v);
}

static inline uint64_t pw_key(uint32_t field, unsigned wire_type)
{
    return ((uint64_t)field << 3) | wire_type;
}

/* An unsigned varint field (uint32, uint64, enum, bool). */
static inline void pw_varint(pw *w, uint32_t field, uint64_t v)
{
    if (!pw_room(w, 20))
        return;
    pw_raw_varint(w, pw_key(field, PW_VARINT));
    pw_raw_varint(w, v);
}

/*
 * A signed int32 / int64 field: two's complement as a 64-bit varint, which is
 * what protobuf specifies for those types (negative values take 10 bytes;
 * sint32/sint64 would use zigzag, and Perfetto's fields here are not sint).
 */
static inline void pw_int64(pw *w, uint32_t field, int64_t v)
{
    pw_varint(w, field, (uint64_t)v);
}

static inline void pw_fixed64(pw *w, uint32_t field, uint64_t v)
{
    if (!pw_room(w, 18))
        return;
    pw_raw_varint(w, pw_key(field, PW_I64));
    st_u64le(w->p, v);
    w->p += 8;
}

/* A length-delimited field holding n raw bytes (string, bytes). */
static inline void pw_bytes(pw *w, uint32_t field, const void *data, size_t n)
{
    if (!pw_room(w, 20))
        return;
    if ((size_t)(w->end - w->p) - 20 < n) { /* written this way so n cannot wrap */
        pw_fail(w, SL_ETOOBIG);
        return;
    }
    pw_raw_varint(w, pw_key(field, PW_LEN));
    pw_raw_varint(w, n);
    if (n)
        memcpy(w->p, data, n);
    w->p += n;
}

/* Opens a nested message field; close it with pw_msg_end. */
static inline void pw_msg_begin(pw *w, uint32_t field)
{
    if (w->depth >= PW_MAX_DEPTH) {
        pw_fail(w, SL_EINTERNAL);
        return;
    }
    if (!pw_room(w, 11))
        return;
    pw_raw_varint(w, pw_key(field, PW_LEN));
    w->open[w->depth++] = w->p;
    w->p++; /* the one-byte length slot */
}

/* Closes the innermost open message, writing its length (see the essay). */
static inline void pw_msg_end(pw *w)
{
    if (w->err)
        return;
    if (w->depth <= 0) {
        pw_fail(w, SL_EINTERNAL);
        return;
    }
    uint8_t *slot = w->open[--w->depth];
    size_t len = (size_t)(w->p - slot - 1);
    if (len < 128) {
        *slot = (uint8_t)len;
        return;
    }
    size_t extra = uvarint_len(len) - 1;
    if (!pw_room(w, extra))
        return;
    memmove(slot + 1 + extra, slot + 1, len);
    uvarint_put(slot, len);
    w->p += extra;
}

#endif
