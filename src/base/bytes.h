/*
 * bytes.h - little-endian loads and stores, LEB128 varints, and a bounded reader.
 *
 * Every binary format in streamlake (block messages, Parquet's Thrift compact
 * protocol, Perfetto protobuf) is little-endian and uses LEB128 varints, so the
 * primitives live here once.
 *
 * The reader (struct rd) never reads past its end.  Errors are sticky: the
 * first failure records its code and offset, later reads return 0, and the
 * caller checks rd.err once after a group of reads.  This keeps decoders short
 * without ever touching bytes outside the input.
 */
#ifndef SL_BASE_BYTES_H
#define SL_BASE_BYTES_H

#include "base/err.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void st_u16le(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void st_u32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void st_u64le(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t ld_u16le(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t ld_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}
static inline uint64_t ld_u64le(const uint8_t *p)
{
    return (uint64_t)ld_u32le(p) | ((uint64_t)ld_u32le(p + 4) << 32);
}

static inline uint64_t zigzag_enc(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static inline int64_t zigzag_dec(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* Writes v as unsigned LEB128 at p (room for 10 bytes needed); returns bytes written. */
static inline size_t uvarint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static inline size_t uvarint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* n bytes as lower-case hex into out (2n characters and a NUL). */
static inline void bytes_hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = 0;
}

typedef struct rd {
    const uint8_t *base;
    const uint8_t *p;
    const uint8_t *end;
    int err;          /* 0, or the first error's code */
    size_t err_off;   /* offset of the first error from base */
} rd;

static inline void rd_init(rd *r, const void *data, size_t len)
{
    r->base = r->p = (const uint8_t *)data;
    r->end = r->p + len;
    r->err = 0;
    r->err_off = 0;
}

static inline size_t rd_left(const rd *r)
{
    return (size_t)(r->end - r->p);
}

static inline size_t rd_off(const rd *r)
{
    return (size_t)(r->p - r->base);
}

static inline void rd_fail(rd *r, int code)
{
    if (!r->err) {
        r->err = code;
        r->err_off = rd_off(r);
    }
    r->p = r->end;
}

/* Returns a pointer to the next n bytes and advances, or NULL (and sets err). */
static inline const uint8_t *rd_bytes(rd *r, size_t n)
{
    if (r->err || rd_left(r) < n) {
        rd_fail(r, SL_ETRUNC);
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    return p;
}

static inline uint8_t rd_u8(rd *r)
{
    const uint8_t *p = rd_bytes(r, 1);
    return p ? p[0] : 0;
}
static inline uint16_t rd_u16(rd *r)
{
    const uint8_t *p = rd_bytes(r, 2);
    return p ? ld_u16le(p) : 0;
}
static inline uint32_t rd_u32(rd *r)
{
    const uint8_t *p = rd_bytes(r, 4);
    return p ? ld_u32le(p) : 0;
}
static inline uint64_t rd_u64(rd *r)
{
    const uint8_t *p = rd_bytes(r, 8);
    return p ? ld_u64le(p) : 0;
}
static inline double rd_f64(rd *r)
{
    uint64_t u = rd_u64(r);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* Unsigned LEB128, at most 10 bytes; an overlong or overflowing varint is SL_ECORRUPT. */
static inline uint64_t rd_uvarint(rd *r)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) {
            rd_fail(r, SL_ETRUNC);
            return 0;
        }
        uint8_t b = *r->p++;
        if (shift == 63 && b > 1) {
            rd_fail(r, SL_ECORRUPT);
            return 0;
        }
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    rd_fail(r, SL_ECORRUPT);
    return 0;
}

static inline int64_t rd_svarint(rd *r)
{
    return zigzag_dec(rd_uvarint(r));
}

#endif
