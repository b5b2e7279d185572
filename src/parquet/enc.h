/*
 * enc.h - Parquet value and level encodings (Encodings.md of parquet-format).
 *
 *   RLE / bit-packing hybrid   levels, dictionary indices, RLE booleans.  A run
 *                              header is a ULEB128 varint h: h & 1 = 1 means
 *                              (h >> 1) groups of 8 bit-packed values follow
 *                              (LSB first, bit_width bits each); h & 1 = 0
 *                              means (h >> 1) repetitions of one value stored
 *                              in ceil(bit_width / 8) little-endian bytes.
 *   DELTA_BINARY_PACKED        header <block size> <miniblocks per block>
 *                              <total count> <first value (zigzag)>, then blocks
 *                              of <min delta (zigzag)> <one bit width byte per
 *                              miniblock> <bit-packed miniblocks>.
 *   DELTA_LENGTH_BYTE_ARRAY    delta-packed lengths, then the bytes.
 *   DELTA_BYTE_ARRAY           delta-packed prefix lengths, delta-packed suffix
 *                              lengths, then the suffix bytes.
 *   BYTE_STREAM_SPLIT          K streams of N bytes (byte j of every value in
 *                              stream j).
 *
 * Decoders never read outside the [p, end) they are given and report where
 * the input went wrong.  Arithmetic on deltas is done in uint64, wrapping, as
 * the specification asks.
 */
#ifndef SL_PARQUET_ENC_H
#define SL_PARQUET_ENC_H

#include "base/dbuf.h"
#include "base/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- RLE / bit-packing hybrid ---------------------------------------------- */

typedef struct pq_rle {
    const uint8_t *p, *end; /* remaining encoded runs */
    int bw;                 /* bit width, 0..32 */
    uint32_t rle_left;      /* values left in the current RLE run */
    uint32_t rle_val;
    uint32_t bp_left;  /* values left in the current bit-packed run */
    const uint8_t *bp; /* start of the current bit-packed run's bytes */
    uint64_t bp_idx;   /* index of the next value within that run */
    size_t bp_bytes;   /* bytes available to that run */
} pq_rle;

/* Starts decoding runs in [p, p + n) with bit width bw (0..32). */
int pq_rle_init(pq_rle *r, const uint8_t *p, size_t n, int bw);
/* Decodes n values into out; SL_ECORRUPT / SL_ETRUNC if the runs end early. */
int pq_rle_get(pq_rle *r, uint32_t *out, size_t n);
/* Definition levels with max level 1 (bit width 1): sets bit (off + i) of
 * bitmap for each level 1 among the next n; *nvalid gets their count.
 * The bitmap's bits in that range must be zero on entry. */
int pq_rle_get_bits(pq_rle *r, uint8_t *bitmap, int64_t off, int64_t n, int64_t *nvalid);

/* Appends the hybrid encoding of vals (each < 2^bw) to out (no length prefix). */
int pq_rle_encode(const uint32_t *vals, size_t n, int bw, dbuf *out);
/* Same, for n levels all equal to v (one RLE run). */
int pq_rle_encode_run(uint32_t v, size_t n, int bw, dbuf *out);

/* Bits needed for values up to max (0 for max 0). */
static inline int pq_bit_width(uint64_t max)
{
    return max ? 64 - __builtin_clzll(max) : 0;
}

/* --- DELTA_BINARY_PACKED and friends --------------------------------------- */

/* Decodes a DELTA_BINARY_PACKED stream at p (n bytes) holding at most
 * max_vals values into out (max_vals slots).  *nvals gets the count and
 * *used the bytes consumed. */
int pq_delta_decode(const uint8_t *p, size_t n, int64_t *out, size_t max_vals, size_t *nvals,
                    size_t *used, errmsg *e);
/* Reads only the header's total value count (to size buffers). */
int pq_delta_count(const uint8_t *p, size_t n, uint64_t *count);
/* Encodes vals as DELTA_BINARY_PACKED (block 128, 4 miniblocks of 32). */
int pq_delta_encode(const int64_t *vals, size_t n, dbuf *out);

/* Unpacks n values of width bw (0..64) starting at value index idx of the
 * bit-packed bytes src (src_len bytes available). */
void pq_unpack64(const uint8_t *src, size_t src_len, int bw, uint64_t idx, size_t n, uint64_t *out);

#endif
