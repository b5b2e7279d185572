/*
 * enc.c - RLE/bit-packing hybrid, DELTA_BINARY_PACKED and bit unpacking
 * (see enc.h).
 *
 * Unpacking reads 8 bytes at a time where 8 bytes remain, and falls back to
 * a byte-by-byte gather near the end of the input, so it is both fast and
 * never reads a byte past src_len.  Bytes missing at the very end of a
 * bit-packed run (some writers cut the padding of the last group) read as
 * zero only when the values that are really asked for are complete.
 */
#include "parquet/enc.h"

#include "base/bytes.h"

#include <string.h>

/* Loads up to 8 bytes at byte offset i of src, zero-filling past src_len. */
static inline uint64_t load_tail(const uint8_t *src, size_t src_len, size_t i)
{
    uint64_t v = 0;
    for (size_t k = 0; k < 8 && i + k < src_len; k++)
        v |= (uint64_t)src[i + k] << (8 * k);
    return v;
}

static inline uint64_t load8(const uint8_t *src, size_t src_len, size_t i)
{
    if (i + 8 <= src_len) {
        uint64_t v;
        memcpy(&v, src + i, 8);
        return v;
    }
    return load_tail(src, src_len, i);
}

void pq_unpack64(const uint8_t *src, size_t src_len, int bw, uint64_t idx, size_t n, uint64_t *out)
{
    if (bw == 0) {
        memset(out, 0, n * sizeof *out);
        return;
    }
    uint64_t mask = bw == 64 ? ~0ull : (1ull << bw) - 1;
    uint64_t bit = idx * (uint64_t)bw;
    for (size_t i = 0; i < n; i++, bit += (uint64_t)bw) {
        size_t byte = (size_t)(bit >> 3);
        unsigned sh = (unsigned)(bit & 7);
        uint64_t v = load8(src, src_len, byte) >> sh;
        if (sh + (unsigned)bw > 64)
            v |= load8(src, src_len, byte + 8) << (64 - sh);
        out[i] = v & mask;
    }
}

/* 32-bit variant: bw <= 32 so one 8-byte load always covers a value. */
static void unpack32(const uint8_t *src, size_t src_len, int bw, uint64_t idx, size_t n,
                     uint32_t *out)
{
    if (bw == 0) {
        memset(out, 0, n * sizeof *out);
        return;
    }
    uint64_t mask = (1ull << bw) - 1;
    uint64_t bit = idx * (uint64_t)bw;
    size_t i = 0;
    /* Fast loop while a full 8-byte load stays inside the input. */
    uint64_t fast_end_bit = src_len >= 8 ? (uint64_t)(src_len - 8) * 8 : 0;
    for (; i < n && bit <= fast_end_bit && src_len >= 8; i++, bit += (uint64_t)bw) {
        uint64_t v;
        memcpy(&v, src + (bit >> 3), 8);
        out[i] = (uint32_t)((v >> (bit & 7)) & mask);
    }
    for (; i < n; i++, bit += (uint64_t)bw)
        out[i] = (uint32_t)((load_tail(src, src_len, (size_t)(bit >> 3)) >> (bit & 7)) & mask);
}

/* --- RLE / bit-packing hybrid ---------------------------------------------- */

int pq_rle_init(pq_rle *r, const uint8_t *p, size_t n, int bw)
{
    memset(r, 0, sizeof *r);
    if (bw < 0 || bw > 32)
        return SL_ECORRUPT;
    r->p = p;
    r->end = p + n;
    r->bw = bw;
    return SL_OK;
}

static int next_run(pq_rle *r)
{
    rd rr;
    rd_init(&rr, r->p, (size_t)(r->end - r->p));
    uint64_t h = rd_uvarint(&rr);
    if (rr.err)
        return rr.err;
    uint64_t count = h >> 1;
    if (count == 0 || count > INT32_MAX)
        return SL_ECORRUPT;
    if (h & 1) {
        uint64_t values = count * 8, bytes = count * (uint64_t)r->bw;
        size_t left = rd_left(&rr);
        size_t avail = bytes < left ? (size_t)bytes : left;
        if (r->bw > 0 && (uint64_t)avail * 8 / (uint64_t)r->bw < values)
            values = (uint64_t)avail * 8 / (uint64_t)r->bw;
        if (values == 0)
            return SL_ETRUNC;
        r->bp = rr.p;
        r->bp_bytes = avail;
        r->bp_idx = 0;
        r->bp_left = (uint32_t)(values > UINT32_MAX ? UINT32_MAX : values);
        r->p = rr.p + avail;
        return SL_OK;
    }
    int nbytes = (r->bw + 7) / 8;
    const uint8_t *v = rd_bytes(&rr, (size_t)nbytes);
    if (!v)
        return SL_ETRUNC;
    uint32_t val = 0;
    for (int i = 0; i < nbytes; i++)
        val |= (uint32_t)v[i] << (8 * i);
    if (r->bw < 32 && val >> r->bw)
        return SL_ECORRUPT;
    r->rle_val = val;
    r->rle_left = (uint32_t)count;
    r->p = rr.p;
    return SL_OK;
}

/* Starts the next run; SL_ETRUNC when the runs are exhausted. */
static int refill(pq_rle *r)
{
    return r->p >= r->end ? SL_ETRUNC : next_run(r);
}

int pq_rle_get(pq_rle *r, uint32_t *out, size_t n)
{
    while (n > 0) {
        if (r->rle_left) {
            size_t take = n < r->rle_left ? n : r->rle_left;
            for (size_t i = 0; i < take; i++)
                out[i] = r->rle_val;
            r->rle_left -= (uint32_t)take;
            out += take;
            n -= take;
        } else if (r->bp_left) {
            size_t take = n < r->bp_left ? n : r->bp_left;
            unpack32(r->bp, r->bp_bytes, r->bw, r->bp_idx, take, out);
            r->bp_idx += take;
            r->bp_left -= (uint32_t)take;
            out += take;
            n -= take;
        } else {
            int rc = refill(r);
            if (rc)
                return rc;
        }
    }
    return SL_OK;
}

static void set_bits(uint8_t *bm, int64_t off, int64_t n)
{
    int64_t i = off, end = off + n;
    for (; i < end && (i & 7); i++)
        bm[i >> 3] |= (uint8_t)(1u << (i & 7));
    if (end - i >= 8) {
        memset(bm + (i >> 3), 0xff, (size_t)((end - i) >> 3));
        i += (end - i) & ~(int64_t)7;
    }
    for (; i < end; i++)
        bm[i >> 3] |= (uint8_t)(1u << (i & 7));
}

int pq_rle_get_bits(pq_rle *r, uint8_t *bitmap, int64_t off, int64_t n, int64_t *nvalid)
{
    int64_t valid = 0;
    if (r->bw != 1)
        return SL_EINVAL;
    while (n > 0) {
        if (r->rle_left) {
            int64_t take = n < r->rle_left ? n : r->rle_left;
            if (r->rle_val) {
                set_bits(bitmap, off, take);
                valid += take;
            }
            r->rle_left -= (uint32_t)take;
            off += take;
            n -= take;
        } else if (r->bp_left) {
            int64_t take = n < r->bp_left ? n : r->bp_left;
            for (int64_t i = 0; i < take; i++) {
                uint64_t j = r->bp_idx + (uint64_t)i;
                unsigned bit = (r->bp[j >> 3] >> (j & 7)) & 1;
                bitmap[(off + i) >> 3] |= (uint8_t)(bit << ((off + i) & 7));
                valid += bit;
            }
            r->bp_idx += (uint64_t)take;
            r->bp_left -= (uint32_t)take;
            off += take;
            n -= take;
        } else {
            int rc = refill(r);
            if (rc)
                return rc;
        }
    }
    *nvalid = valid;
    return SL_OK;
}

/* Packs n values (n a multiple of 8) of width bw LSB first onto out. */
static int pack_append(const uint64_t *vals, size_t n, int bw, dbuf *out)
{
    size_t bytes = n * (size_t)bw / 8;
    int rc = dbuf_reserve(out, bytes + 8);
    if (rc)
        return rc;
    uint8_t *dst = out->p + out->len;
    memset(dst, 0, bytes + 8);
    uint64_t bit = 0;
    for (size_t i = 0; i < n; i++, bit += (uint64_t)bw) {
        uint64_t v = vals[i];
        size_t byte = (size_t)(bit >> 3);
        unsigned sh = (unsigned)(bit & 7);
        for (int k = 0; k < bw + (int)sh; k += 8, byte++) {
            int s = k - (int)sh;
            dst[byte] |= (uint8_t)(s >= 0 ? v >> s : v << -s);
        }
    }
    out->len += bytes;
    return SL_OK;
}

static int put_varint(dbuf *out, uint64_t v)
{
    uint8_t tmp[10];
    return dbuf_append(out, tmp, uvarint_put(tmp, v));
}

int pq_rle_encode_run(uint32_t v, size_t n, int bw, dbuf *out)
{
    int rc = put_varint(out, (uint64_t)n << 1);
    uint8_t bytes[4];
    st_u32le(bytes, v);
    return rc ? rc : dbuf_append(out, bytes, (size_t)(bw + 7) / 8);
}

static bool run8_at(const uint32_t *vals, size_t n, size_t i)
{
    if (i + 8 > n)
        return false;
    for (size_t k = 1; k < 8; k++)
        if (vals[i + k] != vals[i])
            return false;
    return true;
}

int pq_rle_encode(const uint32_t *vals, size_t n, int bw, dbuf *out)
{
    size_t i = 0;
    uint64_t group[8 * 64];
    int rc = SL_OK;
    while (i < n && !rc) {
        if (run8_at(vals, n, i)) {
            size_t j = i + 8;
            while (j < n && vals[j] == vals[i])
                j++;
            rc = pq_rle_encode_run(vals[i], j - i, bw, out);
            i = j;
            continue;
        }
        /* Bit-pack groups of 8 until a run of 8 equal values starts, at most
         * 64 groups per run so the header stays one or two bytes. */
        size_t groups = 0;
        while (i < n && groups < 64 && !(groups > 0 && run8_at(vals, n, i))) {
            for (size_t k = 0; k < 8; k++)
                group[groups * 8 + k] = i + k < n ? vals[i + k] : 0;
            groups++;
            i += 8;
        }
        rc = put_varint(out, (uint64_t)groups << 1 | 1);
        if (!rc)
            rc = pack_append(group, groups * 8, bw, out);
    }
    return rc;
}

/* --- DELTA_BINARY_PACKED --------------------------------------------------- */

typedef struct delta_hdr {
    uint64_t block, mb, total;
    int64_t first;
} delta_hdr;

static int read_delta_hdr(rd *r, delta_hdr *h)
{
    h->block = rd_uvarint(r);
    h->mb = rd_uvarint(r);
    h->total = rd_uvarint(r);
    h->first = rd_svarint(r);
    if (r->err)
        return r->err;
    if (h->block == 0 || h->block % 128 || h->block > 1u << 16 || h->mb == 0 || h->block % h->mb ||
        (h->block / h->mb) % 32)
        return SL_ECORRUPT;
    return SL_OK;
}

int pq_delta_count(const uint8_t *p, size_t n, uint64_t *count)
{
    rd r;
    delta_hdr h;
    rd_init(&r, p, n);
    int rc = read_delta_hdr(&r, &h);
    *count = rc ? 0 : h.total;
    return rc;
}

int pq_delta_decode(const uint8_t *p, size_t n, int64_t *out, size_t max_vals, size_t *nvals,
                    size_t *used, errmsg *e)
{
    rd r;
    delta_hdr h;
    rd_init(&r, p, n);
    *nvals = 0;
    int rc = read_delta_hdr(&r, &h);
    if (rc)
        return errmsg_set(e, rc, "DELTA_BINARY_PACKED: bad header at byte %zu", rd_off(&r));
    if (h.total > max_vals)
        return errmsg_set(e, SL_ECORRUPT, "DELTA_BINARY_PACKED: %llu values where at most %zu fit",
                          (unsigned long long)h.total, max_vals);
    uint64_t *o = (uint64_t *)out;
    uint64_t per_mb = h.block / h.mb, cnt = 0, last = (uint64_t)h.first;
    if (h.total > 0)
        o[cnt++] = last;
    while (cnt < h.total) {
        uint64_t min_delta = (uint64_t)rd_svarint(&r);
        const uint8_t *widths = rd_bytes(&r, (size_t)h.mb);
        if (r.err)
            return errmsg_set(e, SL_ETRUNC, "DELTA_BINARY_PACKED: block header cut at byte %zu",
                              rd_off(&r));
        for (uint64_t m = 0; m < h.mb && cnt < h.total; m++) {
            int bw = widths[m];
            if (bw > 64)
                return errmsg_set(e, SL_ECORRUPT, "DELTA_BINARY_PACKED: bit width %d", bw);
            uint64_t take = h.total - cnt < per_mb ? h.total - cnt : per_mb;
            size_t full = (size_t)(per_mb * (uint64_t)bw / 8);
            size_t need = (size_t)((take * (uint64_t)bw + 7) / 8);
            size_t left = rd_left(&r);
            if (left < need)
                return errmsg_set(e, SL_ETRUNC, "DELTA_BINARY_PACKED: miniblock cut at byte %zu",
                                  rd_off(&r));
            size_t avail = full < left ? full : left;
            const uint8_t *src = rd_bytes(&r, avail);
            pq_unpack64(src, avail, bw, 0, (size_t)take, o + cnt);
            for (uint64_t i = 0; i < take; i++) {
                last += min_delta + o[cnt + i];
                o[cnt + i] = last;
            }
            cnt += take;
        }
    }
    *nvals = (size_t)cnt;
    *used = rd_off(&r);
    return SL_OK;
}

int pq_delta_encode(const int64_t *vals, size_t n, dbuf *out)
{
    int rc = put_varint(out, 128);
    rc = rc ? rc : put_varint(out, 4);
    rc = rc ? rc : put_varint(out, n);
    rc = rc ? rc : put_varint(out, zigzag_enc(n ? vals[0] : 0));
    uint64_t d[128];
    for (size_t i = 1; i < n && !rc; i += 128) {
        size_t nd = n - i < 128 ? n - i : 128;
        uint64_t min = 0;
        for (size_t k = 0; k < nd; k++) {
            d[k] = (uint64_t)vals[i + k] - (uint64_t)vals[i + k - 1];
            if (k == 0 || (int64_t)d[k] < (int64_t)min)
                min = d[k];
        }
        /* Padding past nd is zero, so unused miniblocks get width 0. */
        uint8_t widths[4] = {0};
        for (size_t k = 0; k < 128; k++) {
            d[k] = k < nd ? d[k] - min : 0;
            int w = pq_bit_width(d[k]);
            if (w > widths[k / 32])
                widths[k / 32] = (uint8_t)w;
        }
        size_t used_mb = (nd + 31) / 32;
        rc = put_varint(out, zigzag_enc((int64_t)min));
        rc = rc ? rc : dbuf_append(out, widths, 4);
        for (size_t m = 0; m < used_mb && !rc; m++)
            rc = pack_append(d + 32 * m, 32, widths[m], out);
    }
    return rc;
}
