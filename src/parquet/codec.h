/*
 * codec.h - page compression for Parquet: UNCOMPRESSED, SNAPPY, GZIP (read),
 * ZSTD and LZ4_RAW, through libsnappy, zlib, libzstd and liblz4.
 *
 * Decompression is told the exact output size (the page header's
 * uncompressed_page_size, which the reader caps before allocating) and fails
 * unless the codec produces exactly that many bytes, so a decompression bomb
 * costs at most the cap and never writes past the buffer.
 *
 * A pq_codec_ctx keeps zstd contexts between pages; one per writer or scan,
 * never shared between threads.
 */
#ifndef SL_PARQUET_CODEC_H
#define SL_PARQUET_CODEC_H

#include "base/dbuf.h"
#include "base/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pq_codec_ctx {
    void *zc; /* ZSTD_CCtx */
    void *zd; /* ZSTD_DCtx */
} pq_codec_ctx;

void pq_codec_ctx_free(pq_codec_ctx *c);
bool pq_codec_can_write(int codec);
bool pq_codec_can_read(int codec);
/* Appends the compressed form of src to out. */
int pq_compress(pq_codec_ctx *c, int codec, int level, const uint8_t *src, size_t n, dbuf *out);
/* Decompresses src into exactly dst_len bytes at dst. */
int pq_decompress(pq_codec_ctx *c, int codec, const uint8_t *src, size_t n, uint8_t *dst,
                  size_t dst_len, errmsg *e);

#endif
