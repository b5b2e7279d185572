/*
 * codec.c - compression wrappers (see codec.h).
 */
#include "parquet/codec.h"

#include "parquet/meta.h"

#include <limits.h>
#include <lz4.h>
#include <snappy-c.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

void pq_codec_ctx_free(pq_codec_ctx *c)
{
    ZSTD_freeCCtx(c->zc);
    ZSTD_freeDCtx(c->zd);
    c->zc = c->zd = NULL;
}

bool pq_codec_can_write(int codec)
{
    return codec == PQ_CODEC_UNCOMPRESSED || codec == PQ_CODEC_SNAPPY || codec == PQ_CODEC_ZSTD ||
           codec == PQ_CODEC_LZ4_RAW;
}

bool pq_codec_can_read(int codec)
{
    return pq_codec_can_write(codec) || codec == PQ_CODEC_GZIP;
}

int pq_compress(pq_codec_ctx *c, int codec, int level, const uint8_t *src, size_t n, dbuf *out)
{
    size_t bound;
    int rc;
    switch (codec) {
    case PQ_CODEC_UNCOMPRESSED:
        return dbuf_append(out, src, n);
    case PQ_CODEC_SNAPPY: {
        bound = snappy_max_compressed_length(n);
        if ((rc = dbuf_reserve(out, bound)))
            return rc;
        size_t len = bound;
        if (snappy_compress((const char *)src, n, (char *)out->p + out->len, &len) != SNAPPY_OK)
            return SL_EINTERNAL;
        out->len += len;
        return SL_OK;
    }
    case PQ_CODEC_ZSTD: {
        if (!c->zc && !(c->zc = ZSTD_createCCtx()))
            return SL_ENOMEM;
        bound = ZSTD_compressBound(n);
        if ((rc = dbuf_reserve(out, bound)))
            return rc;
        size_t len = ZSTD_compressCCtx(c->zc, out->p + out->len, bound, src, n, level);
        if (ZSTD_isError(len))
            return SL_EINTERNAL;
        out->len += len;
        return SL_OK;
    }
    case PQ_CODEC_LZ4_RAW: {
        if (n > (size_t)LZ4_MAX_INPUT_SIZE)
            return SL_ETOOBIG;
        bound = (size_t)LZ4_compressBound((int)n);
        if ((rc = dbuf_reserve(out, bound)))
            return rc;
        int len =
            LZ4_compress_default((const char *)src, (char *)out->p + out->len, (int)n, (int)bound);
        if (len <= 0)
            return SL_EINTERNAL;
        out->len += (size_t)len;
        return SL_OK;
    }
    default:
        return SL_EUNSUPPORTED;
    }
}

static int gunzip(const uint8_t *src, size_t n, uint8_t *dst, size_t dst_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (n > UINT_MAX || dst_len > UINT_MAX)
        return SL_ETOOBIG;
    /* 32 + 15: accept both gzip and zlib headers. */
    if (inflateInit2(&z, 32 + 15) != Z_OK)
        return SL_ENOMEM;
    z.next_in = (Bytef *)(uintptr_t)src;
    z.avail_in = (uInt)n;
    z.next_out = dst;
    z.avail_out = (uInt)dst_len;
    int zr = inflate(&z, Z_FINISH);
    size_t got = dst_len - z.avail_out;
    inflateEnd(&z);
    return zr == Z_STREAM_END && got == dst_len ? SL_OK : SL_ECORRUPT;
}

int pq_decompress(pq_codec_ctx *c, int codec, const uint8_t *src, size_t n, uint8_t *dst,
                  size_t dst_len, errmsg *e)
{
    switch (codec) {
    case PQ_CODEC_UNCOMPRESSED:
        if (n != dst_len)
            return errmsg_set(e, SL_ECORRUPT, "uncompressed page of %zu bytes says %zu", n,
                              dst_len);
        memcpy(dst, src, n);
        return SL_OK;
    case PQ_CODEC_SNAPPY: {
        size_t len;
        if (snappy_uncompressed_length((const char *)src, n, &len) != SNAPPY_OK || len != dst_len)
            return errmsg_set(e, SL_ECORRUPT, "snappy page does not decode to %zu bytes", dst_len);
        if (snappy_uncompress((const char *)src, n, (char *)dst, &len) != SNAPPY_OK ||
            len != dst_len)
            return errmsg_set(e, SL_ECORRUPT, "snappy page is corrupt");
        return SL_OK;
    }
    case PQ_CODEC_ZSTD: {
        if (!c->zd && !(c->zd = ZSTD_createDCtx()))
            return SL_ENOMEM;
        size_t len = ZSTD_decompressDCtx(c->zd, dst, dst_len, src, n);
        if (ZSTD_isError(len) || len != dst_len)
            return errmsg_set(e, SL_ECORRUPT, "zstd page does not decode to %zu bytes: %s", dst_len,
                              ZSTD_isError(len) ? ZSTD_getErrorName(len) : "short");
        return SL_OK;
    }
    case PQ_CODEC_LZ4_RAW: {
        if (n > INT_MAX || dst_len > INT_MAX)
            return errmsg_set(e, SL_ETOOBIG, "lz4 page too large");
        int len = LZ4_decompress_safe((const char *)src, (char *)dst, (int)n, (int)dst_len);
        if (len < 0 || (size_t)len != dst_len)
            return errmsg_set(e, SL_ECORRUPT, "lz4 page does not decode to %zu bytes", dst_len);
        return SL_OK;
    }
    case PQ_CODEC_GZIP:
        if (gunzip(src, n, dst, dst_len))
            return errmsg_set(e, SL_ECORRUPT, "gzip page does not decode to %zu bytes", dst_len);
        return SL_OK;
    default:
        return errmsg_set(e, SL_EUNSUPPORTED, "codec %s (%d) is not supported",
                          pq_codec_name(codec), codec);
    }
}
