/*
 * writer.c - the Parquet writer (see parquet.h and docs/internals/parquet.md).
 *
 * Layout produced:
 *
 *   "PAR1"
 *   for each row group, for each column:
 *       [dictionary page]   PLAIN-encoded entries (string columns in dict mode)
 *       data page ...       v1 pages: [def levels: u32 length + RLE hybrid]
 *                           then PLAIN values, or 1 byte bit width + RLE hybrid
 *                           dictionary indices
 *   FileMetaData (Thrift compact)
 *   u32 footer length, "PAR1"
 *
 * Memory: a row group's column chunks are assembled as compressed pages in
 * per-column buffers (bounded by the row group's compressed size), because
 * the dictionary page must precede the data pages and the dictionary is only
 * known once the row group ends.  The page being filled holds at most about
 * page_bytes of encoded values.
 *
 * Strings take the dictionary path while the dictionary stays under
 * dict_max_entries and dict_max_bytes; past either, the current page is
 * flushed and the rest of the column chunk is PLAIN (pages already written
 * keep their dictionary indices, as the format allows).  COL_DICT input maps
 * each batch dictionary entry once (a remap table), not each row.
 */
#include "parquet/parquet.h"

#include "base/alloc.h"
#include "base/arena.h"
#include "base/bytes.h"
#include "base/hash.h"
#include "parquet/codec.h"
#include "parquet/enc.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>
#include <unistd.h>

#define DBUF_CAP ((size_t)1 << 31)

/* --- sinks ----------------------------------------------------------------- */

static int sink_dbuf_write(void *ctx, const void *p, size_t n)
{
    return dbuf_append(ctx, p, n);
}

static int sink_fd_write(void *ctx, const void *p, size_t n)
{
    int fd = (int)(intptr_t)ctx;
    const uint8_t *q = p;
    while (n > 0) {
        ssize_t k = write(fd, q, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return SL_EIO;
        q += k;
        n -= (size_t)k;
    }
    return SL_OK;
}

void pq_sink_dbuf(pq_sink *s, dbuf *b)
{
    s->write = sink_dbuf_write;
    s->ctx = b;
}

void pq_sink_fd(pq_sink *s, int fd)
{
    s->write = sink_fd_write;
    s->ctx = (void *)(intptr_t)fd;
}

void pq_write_opts_default(pq_write_opts *o)
{
    *o = (pq_write_opts){.codec = PQ_CODEC_ZSTD,
                         .level = 3,
                         .row_group_rows = 1 << 20,
                         .page_bytes = 1 << 20,
                         .dictionary = true,
                         .dict_max_bytes = 1 << 20,
                         .dict_max_entries = 1 << 16,
                         .created_by = NULL,
                         .ts_utc = true};
}

/* --- column state ---------------------------------------------------------- */

typedef struct dentry {
    uint64_t hash;
    uint32_t off; /* offset of the 4-byte length in the dictionary page */
    uint32_t len;
} dentry;

typedef struct wcol {
    const col_field *f;
    int phys;
    size_t width; /* PLAIN bytes per value: 4 or 8; 0 for booleans and strings */
    /* page being filled */
    dbuf vals;     /* PLAIN values (non-null only) */
    uint32_t *idx; /* dictionary indices (non-null only) */
    size_t nidx, idx_cap;
    dbuf defs; /* validity bits of the page's rows */
    int64_t page_rows, page_nulls, page_bool_bits;
    bool delta;      /* DELTA_BINARY_PACKED pages (pq_write_opts.delta_columns) */
    /* dictionary */
    bool dict_on, dict_used;
    dbuf dict; /* PLAIN-encoded entries = the dictionary page body */
    dentry *ents;
    uint32_t nents, ents_cap;
    uint32_t *slots; /* open addressing: entry + 1, 0 = empty */
    uint32_t nslots;
    col_dict *remap_src; /* COL_DICT input whose remap table is cached */
    int32_t *remap;
    int64_t remap_len;
    /* chunk */
    dbuf chunk; /* finished data pages */
    int64_t chunk_rows, chunk_nulls, chunk_uncompressed;
    uint32_t encodings;
    /* statistics */
    bool has_minmax;
    int64_t imin, imax; /* ints, unsigned as bit patterns */
    double dmin, dmax;
    dbuf smin, smax; /* strings seen on PLAIN pages */
} wcol;

struct pq_writer {
    pq_sink sink;
    col_schema *schema;
    pq_write_opts o;
    char created_by[64];
    wcol *cols;
    int ncols;
    int64_t pos; /* bytes written to the sink */
    int64_t rg_rows, total_rows;
    pq_codec_ctx codec;
    dbuf page, comp, hdr; /* scratch */
    uint32_t *lvl;        /* scratch for levels */
    size_t lvl_cap;
    arena meta_arena; /* row group metadata kept until the footer */
    pq_row_group *rgs;
    int nrgs, rgs_cap;
    pq_kv *kv;
    int nkv;
    int err; /* sticky: a failed writer refuses further work */
};

static int phys_of(col_type t)
{
    switch (t) {
    case COL_BOOL:
        return PQ_BOOLEAN;
    case COL_INT32:
    case COL_UINT32:
        return PQ_INT32;
    case COL_DOUBLE:
        return PQ_DOUBLE;
    case COL_STRING:
    case COL_BINARY:
    case COL_DICT:
        return PQ_BYTE_ARRAY;
    default:
        return PQ_INT64;
    }
}

static bool is_str(const wcol *c)
{
    return c->phys == PQ_BYTE_ARRAY;
}

static bool is_unsigned(const wcol *c)
{
    return c->f->type == COL_UINT32 || c->f->type == COL_UINT64;
}

static int out_write(pq_writer *w, const void *p, size_t n)
{
    int rc = w->sink.write(w->sink.ctx, p, n);
    if (!rc)
        w->pos += (int64_t)n;
    return rc;
}

/* Resets per-row-group state; the dictionary is tried again in each group. */
static void col_reset_chunk(wcol *c, const pq_write_opts *o)
{
    dbuf_reset(&c->dict);
    dbuf_reset(&c->chunk);
    c->nents = 0;
    if (c->slots)
        memset(c->slots, 0, c->nslots * sizeof *c->slots);
    c->dict_on = is_str(c) && c->f->type != COL_BINARY && o->dictionary;
    c->dict_used = false;
    c->chunk_rows = c->chunk_nulls = c->chunk_uncompressed = 0;
    c->encodings = 0;
    c->has_minmax = false;
    dbuf_reset(&c->smin);
    dbuf_reset(&c->smax);
    /* Remap tables index this row group's dictionary: drop them. */
    col_dict_unref(c->remap_src);
    c->remap_src = NULL;
}

static void col_init(wcol *c, const col_field *f, const pq_write_opts *o)
{
    memset(c, 0, sizeof *c);
    c->f = f;
    c->phys = phys_of(f->type);
    c->width = c->phys == PQ_INT32 ? 4 : c->phys == PQ_INT64 || c->phys == PQ_DOUBLE ? 8 : 0;
    dbuf_init(&c->vals, DBUF_CAP);
    dbuf_init(&c->defs, DBUF_CAP);
    dbuf_init(&c->dict, DBUF_CAP);
    dbuf_init(&c->chunk, DBUF_CAP);
    dbuf_init(&c->smin, DBUF_CAP);
    dbuf_init(&c->smax, DBUF_CAP);
    col_reset_chunk(c, o); /* a new column starts as a new row group does */
}

static void col_free(wcol *c)
{
    dbuf_free(&c->vals);
    dbuf_free(&c->defs);
    dbuf_free(&c->dict);
    dbuf_free(&c->chunk);
    dbuf_free(&c->smin);
    dbuf_free(&c->smax);
    sl_free(c->idx);
    sl_free(c->ents);
    sl_free(c->slots);
    sl_free(c->remap);
    col_dict_unref(c->remap_src);
}

/* --- statistics ------------------------------------------------------------ */

static void stat_int(wcol *c, int64_t v)
{
    if (!c->has_minmax) {
        c->imin = c->imax = v;
        c->has_minmax = true;
    } else if (is_unsigned(c)) {
        if ((uint64_t)v < (uint64_t)c->imin)
            c->imin = v;
        if ((uint64_t)v > (uint64_t)c->imax)
            c->imax = v;
    } else {
        if (v < c->imin)
            c->imin = v;
        if (v > c->imax)
            c->imax = v;
    }
}

static void stat_double(wcol *c, double v)
{
    if (isnan(v))
        return; /* NaN has no place in min/max (parquet-format) */
    if (!c->has_minmax) {
        c->dmin = c->dmax = v;
        c->has_minmax = true;
        return;
    }
    if (v < c->dmin)
        c->dmin = v;
    if (v > c->dmax)
        c->dmax = v;
}

/* Byte-wise unsigned comparison, shorter first on a common prefix. */
static int cmp_bytes(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    int r = memcmp(a, b, na < nb ? na : nb);
    return r ? r : (na > nb) - (na < nb);
}

static int stat_str(wcol *c, const uint8_t *p, size_t n)
{
    int rc = SL_OK;
    bool first = !c->has_minmax;
    if (first || cmp_bytes(p, n, c->smin.p, c->smin.len) < 0) {
        dbuf_reset(&c->smin);
        rc = dbuf_append(&c->smin, p, n);
    }
    if (!rc && (first || cmp_bytes(p, n, c->smax.p, c->smax.len) > 0)) {
        dbuf_reset(&c->smax);
        rc = dbuf_append(&c->smax, p, n);
    }
    c->has_minmax = true;
    return rc;
}

/* --- dictionary ------------------------------------------------------------ */

static int dict_grow_slots(wcol *c)
{
    uint32_t n = c->nslots ? c->nslots * 2 : 1024;
    uint32_t *s = sl_calloc(n, sizeof *s);
    if (!s)
        return SL_ENOMEM;
    for (uint32_t i = 0; i < c->nents; i++) {
        uint32_t j = (uint32_t)c->ents[i].hash & (n - 1);
        while (s[j])
            j = (j + 1) & (n - 1);
        s[j] = i + 1;
    }
    sl_free(c->slots);
    c->slots = s;
    c->nslots = n;
    return SL_OK;
}

/* Index of the value in the dictionary, inserting it; -1 when the dictionary
 * would pass its caps (the caller falls back to PLAIN). */
static int dict_index(wcol *c, const pq_write_opts *o, const uint8_t *p, size_t n, int64_t *out)
{
    uint64_t h = hash64(p, n);
    if (c->nslots) {
        for (uint32_t j = (uint32_t)h & (c->nslots - 1);; j = (j + 1) & (c->nslots - 1)) {
            uint32_t s = c->slots[j];
            if (!s)
                break;
            const dentry *d = &c->ents[s - 1];
            if (d->hash == h && d->len == n && memcmp(c->dict.p + d->off + 4, p, n) == 0) {
                *out = s - 1;
                return SL_OK;
            }
        }
    }
    if ((int64_t)c->nents + 1 > o->dict_max_entries || c->dict.len + 4 + n > o->dict_max_bytes) {
        *out = -1;
        return SL_OK;
    }
    if ((c->nents + 1) * 2 > c->nslots) {
        int rc = dict_grow_slots(c);
        if (rc)
            return rc;
    }
    if (c->nents == c->ents_cap) {
        uint32_t ncap = c->ents_cap ? c->ents_cap * 2 : 256;
        dentry *ne = sl_realloc(c->ents, ncap * sizeof *ne);
        if (!ne)
            return SL_ENOMEM;
        c->ents = ne;
        c->ents_cap = ncap;
    }
    uint8_t len4[4];
    st_u32le(len4, (uint32_t)n);
    uint32_t off = (uint32_t)c->dict.len;
    int rc = dbuf_append(&c->dict, len4, 4);
    if (!rc)
        rc = dbuf_append(&c->dict, p, n);
    if (rc)
        return rc;
    c->ents[c->nents] = (dentry){h, off, (uint32_t)n};
    uint32_t j = (uint32_t)h & (c->nslots - 1);
    while (c->slots[j])
        j = (j + 1) & (c->nslots - 1);
    c->slots[j] = ++c->nents;
    *out = c->nents - 1;
    return SL_OK;
}

static int push_idx(wcol *c, uint32_t v)
{
    if (c->nidx == c->idx_cap) {
        size_t ncap = c->idx_cap ? c->idx_cap * 2 : 4096;
        uint32_t *n = sl_realloc(c->idx, ncap * sizeof *n);
        if (!n)
            return SL_ENOMEM;
        c->idx = n;
        c->idx_cap = ncap;
    }
    c->idx[c->nidx++] = v;
    return SL_OK;
}

/* --- pages ----------------------------------------------------------------- */

static int need_lvl(pq_writer *w, size_t n)
{
    if (n <= w->lvl_cap)
        return SL_OK;
    uint32_t *p = sl_realloc(w->lvl, n * sizeof *p);
    if (!p)
        return SL_ENOMEM;
    w->lvl = p;
    w->lvl_cap = n;
    return SL_OK;
}

/* Appends header + compressed body of the page whose body is src to dst. */
static int emit_page(pq_writer *w, const dbuf *src, pq_page_header *h, dbuf *dst,
                     int64_t *uncompressed)
{
    dbuf_reset(&w->comp);
    dbuf_reset(&w->hdr);
    if (src->len > INT32_MAX)
        return SL_ETOOBIG;
    int rc = pq_compress(&w->codec, w->o.codec, w->o.level, src->p, src->len, &w->comp);
    if (rc)
        return rc;
    if (w->comp.len > INT32_MAX)
        return SL_ETOOBIG;
    h->uncompressed_size = (int32_t)src->len;
    h->compressed_size = (int32_t)w->comp.len;
    /* The page CRC of the format: zlib's CRC-32 of the bytes after the header. */
    h->has_crc = true;
    h->crc = (uint32_t)crc32(0L, w->comp.p, (uInt)w->comp.len);
    rc = pq_page_header_encode(h, &w->hdr);
    if (!rc)
        rc = dbuf_append(dst, w->hdr.p, w->hdr.len);
    if (!rc)
        rc = dbuf_append(dst, w->comp.p, w->comp.len);
    *uncompressed += (int64_t)(w->hdr.len + src->len);
    return rc;
}

static int flush_page(pq_writer *w, wcol *c)
{
    if (c->page_rows == 0)
        return SL_OK;
    dbuf_reset(&w->page);
    int rc = SL_OK;
    if (c->f->nullable) {
        /* Definition levels: u32 byte length, then the RLE hybrid runs. */
        uint8_t len4[4] = {0};
        rc = dbuf_append(&w->page, len4, 4);
        size_t start = w->page.len;
        if (!rc && c->page_nulls == 0) {
            rc = pq_rle_encode_run(1, (size_t)c->page_rows, 1, &w->page);
        } else if (!rc && !(rc = need_lvl(w, (size_t)c->page_rows))) {
            for (int64_t i = 0; i < c->page_rows; i++)
                w->lvl[i] = (c->defs.p[i >> 3] >> (i & 7)) & 1;
            rc = pq_rle_encode(w->lvl, (size_t)c->page_rows, 1, &w->page);
        }
        if (!rc)
            st_u32le(w->page.p + start - 4, (uint32_t)(w->page.len - start));
    }
    bool dict_page = c->dict_on && c->nidx > 0;
    if (!rc && dict_page) {
        int bw = pq_bit_width(c->nents ? c->nents - 1 : 0);
        uint8_t b = (uint8_t)bw;
        rc = dbuf_append(&w->page, &b, 1);
        if (!rc)
            rc = pq_rle_encode(c->idx, c->nidx, bw, &w->page);
        c->dict_used = true;
    } else if (!rc && c->delta) {
        /* the page's non-null values, as 64-bit integers (vals is 8-byte aligned) */
        rc = pq_delta_encode((const int64_t *)(const void *)c->vals.p, c->vals.len / 8,
                             &w->page);
    } else if (!rc) {
        rc = dbuf_append(&w->page, c->vals.p, c->vals.len);
    }
    if (rc)
        return rc;
    pq_page_header h = {.type = PQ_PAGE_DATA,
                        .num_values = (int32_t)c->page_rows,
                        .encoding = dict_page ? PQ_ENC_RLE_DICTIONARY
                                    : c->delta ? PQ_ENC_DELTA_BINARY_PACKED
                                               : PQ_ENC_PLAIN,
                        .def_encoding = PQ_ENC_RLE,
                        .rep_encoding = PQ_ENC_RLE};
    rc = emit_page(w, &w->page, &h, &c->chunk, &c->chunk_uncompressed);
    c->encodings |= 1u << h.encoding | 1u << PQ_ENC_RLE;
    c->chunk_rows += c->page_rows;
    c->chunk_nulls += c->page_nulls;
    c->page_rows = c->page_nulls = c->page_bool_bits = 0;
    c->nidx = 0;
    dbuf_reset(&c->vals);
    dbuf_reset(&c->defs);
    return rc;
}

static size_t page_fill(const wcol *c)
{
    return c->dict_on ? c->nidx * 2 : c->vals.len;
}

/* Records the validity of rows [i, i + n) of v in the page's bitmap. */
static int page_defs(wcol *c, const col_vec *v, int64_t i, int64_t n)
{
    if (!c->f->nullable)
        return SL_OK;
    int64_t end = c->page_rows + n;
    int rc = dbuf_reserve(&c->defs, (size_t)(end + 7) / 8 + 8 - c->defs.len);
    if (rc)
        return rc;
    size_t need = (size_t)(end + 7) / 8;
    if (c->defs.len < need) {
        memset(c->defs.p + c->defs.len, 0, need - c->defs.len);
        c->defs.len = need;
    }
    for (int64_t k = 0; k < n; k++) {
        int64_t r = c->page_rows + k;
        if (col_vec_is_valid(v, i + k))
            c->defs.p[r >> 3] |= (uint8_t)(1u << (r & 7));
        else
            c->page_nulls++;
    }
    return SL_OK;
}

/* --- appending values ------------------------------------------------------ */

/* Index of a COL_DICT row's string in the chunk dictionary through the remap table. */
static int remap_key(pq_writer *w, wcol *c, const col_vec *v, int64_t i, int64_t *out)
{
    if (c->remap_src != v->dict) {
        col_dict_unref(c->remap_src);
        c->remap_src = col_dict_ref(v->dict);
        if (v->dict->strings.len > c->remap_len) {
            int32_t *r = sl_realloc(c->remap, (size_t)v->dict->strings.len * sizeof *r);
            if (!r)
                return SL_ENOMEM;
            c->remap = r;
            c->remap_len = v->dict->strings.len;
        }
        memset(c->remap, 0xff, (size_t)v->dict->strings.len * sizeof *c->remap);
    }
    uint64_t k = col_vec_key(v, i);
    if (k >= (uint64_t)v->dict->strings.len)
        return SL_EINVAL;
    if (c->remap[k] >= 0) {
        *out = c->remap[k];
        return SL_OK;
    }
    size_t n;
    const uint8_t *p = col_vec_str(v, i, &n);
    int rc = dict_index(c, &w->o, p, n, out);
    if (!rc && *out >= 0)
        c->remap[k] = (int32_t)*out;
    return rc;
}

/* Appends one string; *full is set (and nothing appended) when the
 * dictionary cannot take it. */
static int add_string(pq_writer *w, wcol *c, const col_vec *v, int64_t i, bool *full)
{
    /* Keys of COL_DICT input are checked before any lookup through them. */
    if (v->type == COL_DICT && col_vec_key(v, i) >= (uint64_t)v->dict->strings.len)
        return SL_EINVAL;
    size_t n;
    const uint8_t *p = col_vec_str(v, i, &n);
    int rc;
    if (c->dict_on) {
        int64_t ix;
        rc = v->type == COL_DICT ? remap_key(w, c, v, i, &ix) : dict_index(c, &w->o, p, n, &ix);
        if (rc)
            return rc;
        if (ix >= 0)
            return push_idx(c, (uint32_t)ix);
        *full = true;
        return SL_OK;
    }
    uint8_t len4[4];
    st_u32le(len4, (uint32_t)n);
    rc = dbuf_append(&c->vals, len4, 4);
    if (!rc)
        rc = dbuf_append(&c->vals, p, n);
    return rc ? rc : stat_str(c, p, n);
}

static int add_bools(wcol *c, const col_vec *v, int64_t i, int64_t n)
{
    int rc = SL_OK;
    for (int64_t k = i; k < i + n && !rc; k++) {
        if (v->null_count && !col_vec_is_valid(v, k))
            continue;
        int64_t b = c->page_bool_bits++;
        if ((b & 7) == 0)
            rc = dbuf_append_byte(&c->vals, 0);
        if (!rc && col_vec_bool(v, k))
            c->vals.p[b >> 3] |= (uint8_t)(1u << (b & 7));
        if (!rc)
            stat_int(c, col_vec_bool(v, k));
    }
    return rc;
}

/* Appends the non-null values of rows [i, i + n) to the page; *done gets the
 * rows taken, fewer than n only when the dictionary filled up. */
static int add_values(pq_writer *w, wcol *c, const col_vec *v, int64_t i, int64_t n, int64_t *done)
{
    int rc = SL_OK;
    *done = n;
    if (is_str(c)) {
        bool full = false;
        for (int64_t k = i; k < i + n && !rc; k++) {
            if (v->null_count && !col_vec_is_valid(v, k))
                continue;
            rc = add_string(w, c, v, k, &full);
            if (full) {
                *done = k - i;
                break;
            }
        }
        return rc;
    }
    if (c->phys == PQ_BOOLEAN)
        return add_bools(c, v, i, n);
    size_t wd = c->width;
    if ((rc = dbuf_reserve(&c->vals, (size_t)n * wd)))
        return rc;
    const uint8_t *src = v->values->p + (size_t)i * wd;
    uint8_t *dst = c->vals.p + c->vals.len;
    if (v->null_count == 0) {
        memcpy(dst, src, (size_t)n * wd);
        dst += (size_t)n * wd;
    } else {
        for (int64_t k = 0; k < n; k++)
            if (col_vec_is_valid(v, i + k)) {
                memcpy(dst, src + (size_t)k * wd, wd);
                dst += wd;
            }
    }
    c->vals.len = (size_t)(dst - c->vals.p);
    return SL_OK;
}

/* Min/max over the fixed-width values appended since byte offset `from`. */
static void stat_fixed(wcol *c, size_t from)
{
    const uint8_t *p = c->vals.p + from, *end = c->vals.p + c->vals.len;
    if (c->phys == PQ_DOUBLE) {
        for (; p < end; p += 8) {
            double d;
            memcpy(&d, p, 8);
            stat_double(c, d);
        }
        return;
    }
    if (p == end)
        return;
    int64_t lo, hi;
    if (c->width == 4) {
        bool u = is_unsigned(c);
        int64_t x = u ? (int64_t)ld_u32le(p) : (int32_t)ld_u32le(p);
        lo = hi = x;
        for (p += 4; p < end; p += 4) {
            x = u ? (int64_t)ld_u32le(p) : (int32_t)ld_u32le(p);
            lo = x < lo ? x : lo;
            hi = x > hi ? x : hi;
        }
    } else if (is_unsigned(c)) {
        uint64_t ulo = ld_u64le(p), uhi = ulo;
        for (p += 8; p < end; p += 8) {
            uint64_t x = ld_u64le(p);
            ulo = x < ulo ? x : ulo;
            uhi = x > uhi ? x : uhi;
        }
        lo = (int64_t)ulo;
        hi = (int64_t)uhi;
    } else {
        int64_t x;
        memcpy(&x, p, 8);
        lo = hi = x;
        for (p += 8; p < end; p += 8) {
            memcpy(&x, p, 8);
            lo = x < lo ? x : lo;
            hi = x > hi ? x : hi;
        }
    }
    stat_int(c, lo);
    stat_int(c, hi);
}

static int add_column(pq_writer *w, wcol *c, const col_vec *v, int64_t start, int64_t n)
{
    int rc = SL_OK;
    while (n > 0 && !rc) {
        /* Rows that fit the page, estimated from the bytes per row so far
         * (strings) or the fixed width, and at least 1. */
        size_t fill = page_fill(c);
        size_t room = fill < w->o.page_bytes ? w->o.page_bytes - fill : 0;
        size_t per_row = c->width ? c->width : c->phys == PQ_BOOLEAN ? 1 : 16;
        if (is_str(c) && c->page_rows > 0 && fill > 0)
            per_row = fill / (size_t)c->page_rows + 1;
        int64_t take = (int64_t)(room / per_row);
        if (c->phys == PQ_BOOLEAN)
            take = (int64_t)room * 8;
        take = take < 1 ? 1 : take > n ? n : take;
        size_t from = c->vals.len;
        int64_t done;
        rc = add_values(w, c, v, start, take, &done);
        if (!rc)
            rc = page_defs(c, v, start, done);
        if (!rc && c->width)
            stat_fixed(c, from);
        c->page_rows += done;
        start += done;
        n -= done;
        if (!rc && done < take) {
            /* The dictionary is full: close its last page, go PLAIN. */
            rc = flush_page(w, c);
            c->dict_on = false;
        } else if (!rc && page_fill(c) >= w->o.page_bytes) {
            rc = flush_page(w, c);
        }
    }
    return rc;
}

/* --- row groups ------------------------------------------------------------ */

/* Min/max of the dictionary entries (every entry is used by some row). */
static int dict_stats(wcol *c)
{
    int rc = SL_OK;
    for (uint32_t i = 0; i < c->nents && !rc; i++)
        rc = stat_str(c, c->dict.p + c->ents[i].off + 4, c->ents[i].len);
    return rc;
}

static void *arena_copy(arena *a, const void *p, size_t n)
{
    void *q = arena_alloc(a, n ? n : 1);
    if (q && n)
        memcpy(q, p, n);
    return q;
}

/* Statistics of a finished chunk in the file's byte order. */
static int chunk_stats(pq_writer *w, wcol *c, pq_stats *st)
{
    st->has = PQ_ST_NULLS;
    st->null_count = c->chunk_nulls;
    if (!c->has_minmax)
        return SL_OK;
    uint8_t lo[8], hi[8];
    const uint8_t *plo = lo, *phi = hi;
    size_t n = c->width ? c->width : 1, nlo = n, nhi = n;
    if (c->phys == PQ_DOUBLE) {
        /* Zero is written as -0.0 for a min and +0.0 for a max (parquet-format). */
        double dl = c->dmin == 0 ? -0.0 : c->dmin, dh = c->dmax == 0 ? 0.0 : c->dmax;
        memcpy(lo, &dl, 8);
        memcpy(hi, &dh, 8);
    } else if (c->phys == PQ_INT32) {
        st_u32le(lo, (uint32_t)c->imin);
        st_u32le(hi, (uint32_t)c->imax);
    } else if (c->phys == PQ_INT64) {
        st_u64le(lo, (uint64_t)c->imin);
        st_u64le(hi, (uint64_t)c->imax);
    } else if (c->phys == PQ_BOOLEAN) {
        lo[0] = (uint8_t)c->imin;
        hi[0] = (uint8_t)c->imax;
    } else {
        /* Very long strings would bloat the footer; such chunks get no min/max. */
        if (c->smin.len > 1024 || c->smax.len > 1024)
            return SL_OK;
        plo = c->smin.p ? c->smin.p : lo;
        phi = c->smax.p ? c->smax.p : hi;
        nlo = c->smin.len;
        nhi = c->smax.len;
    }
    st->min_value = (pq_bytes){arena_copy(&w->meta_arena, plo, nlo), nlo};
    st->max_value = (pq_bytes){arena_copy(&w->meta_arena, phi, nhi), nhi};
    if (!st->min_value.p || !st->max_value.p)
        return SL_ENOMEM;
    st->has |= PQ_ST_MIN_VALUE | PQ_ST_MAX_VALUE;
    return SL_OK;
}

static int write_chunk(pq_writer *w, wcol *c, pq_chunk *m)
{
    int rc = flush_page(w, c);
    if (!rc && c->dict_used)
        rc = dict_stats(c);
    if (rc)
        return rc;
    int64_t start = w->pos;
    *m = (pq_chunk){.file_offset = start,
                    .has_meta = true,
                    .type = c->phys,
                    .npath = 1,
                    .codec = w->o.codec,
                    .num_values = c->chunk_rows,
                    .index_page_offset = -1,
                    .dictionary_page_offset = -1};
    m->path = arena_alloc(&w->meta_arena, sizeof *m->path);
    if (!m->path)
        return SL_ENOMEM;
    m->path[0] = c->f->name;
    int64_t uncompressed = c->chunk_uncompressed;
    if (c->dict_used) {
        /* The dictionary page body is the dictionary buffer itself. */
        dbuf pagebuf;
        dbuf_init(&pagebuf, DBUF_CAP);
        pq_page_header h = {
            .type = PQ_PAGE_DICT, .num_values = (int32_t)c->nents, .encoding = PQ_ENC_PLAIN};
        rc = emit_page(w, &c->dict, &h, &pagebuf, &uncompressed);
        m->dictionary_page_offset = start;
        if (!rc)
            rc = out_write(w, pagebuf.p, pagebuf.len);
        dbuf_free(&pagebuf);
        c->encodings |= 1u << PQ_ENC_PLAIN;
    }
    m->data_page_offset = w->pos;
    if (!rc)
        rc = out_write(w, c->chunk.p, c->chunk.len);
    m->encodings = c->encodings;
    m->total_uncompressed = uncompressed;
    m->total_compressed = w->pos - start;
    return rc ? rc : chunk_stats(w, c, &m->stats);
}

static int flush_row_group(pq_writer *w)
{
    if (w->rg_rows == 0)
        return SL_OK;
    if (w->nrgs == w->rgs_cap) {
        int ncap = w->rgs_cap ? w->rgs_cap * 2 : 16;
        pq_row_group *g = sl_realloc(w->rgs, (size_t)ncap * sizeof *g);
        if (!g)
            return SL_ENOMEM;
        w->rgs = g;
        w->rgs_cap = ncap;
    }
    pq_row_group *g = &w->rgs[w->nrgs];
    g->cols = arena_zalloc(&w->meta_arena, (size_t)w->ncols * sizeof *g->cols + 1);
    if (!g->cols)
        return SL_ENOMEM;
    g->ncols = w->ncols;
    g->num_rows = w->rg_rows;
    g->total_byte_size = 0;
    int rc = SL_OK;
    for (int i = 0; i < w->ncols && !rc; i++) {
        rc = write_chunk(w, &w->cols[i], &g->cols[i]);
        g->total_byte_size += g->cols[i].total_uncompressed;
        col_reset_chunk(&w->cols[i], &w->o);
    }
    if (rc)
        return rc;
    w->nrgs++;
    w->total_rows += w->rg_rows;
    w->rg_rows = 0;
    return SL_OK;
}

/* --- public ---------------------------------------------------------------- */

static int check_schema(const col_schema *s, errmsg *e)
{
    if (s->ncols <= 0)
        return errmsg_set(e, SL_EINVAL, "parquet writer: a schema needs at least one column");
    for (int i = 0; i < s->ncols; i++) {
        const col_field *f = &s->fields[i];
        if (!f->name || !f->name[0] || !col_type_is_valid(f->type, f->key_bytes))
            return errmsg_set(e, SL_EINVAL, "parquet writer: column %d has no name or a bad type",
                              i);
        for (int j = 0; j < i; j++)
            if (strcmp(s->fields[j].name, f->name) == 0)
                return errmsg_set(e, SL_EINVAL, "parquet writer: column name \"%s\" repeats",
                                  f->name);
    }
    return SL_OK;
}

int pq_writer_open(pq_sink *sink, col_schema *s, const pq_write_opts *opts, pq_writer **out,
                   errmsg *e)
{
    *out = NULL;
    int rc = check_schema(s, e);
    if (rc)
        return rc;
    pq_write_opts o;
    pq_write_opts_default(&o);
    if (opts)
        o = *opts;
    if (!pq_codec_can_write(o.codec) || o.row_group_rows <= 0 || o.page_bytes == 0 ||
        o.page_bytes > (size_t)1 << 30)
        return errmsg_set(e, SL_EINVAL, "parquet writer: bad options (codec %d)", o.codec);
    pq_writer *w = sl_calloc(1, sizeof *w);
    if (!w)
        return SL_ENOMEM;
    w->sink = *sink;
    w->schema = col_schema_ref(s);
    w->o = o;
    snprintf(w->created_by, sizeof w->created_by, "%s",
             o.created_by ? o.created_by : "streamlake version " SL_VERSION);
    w->ncols = s->ncols;
    w->cols = sl_calloc((size_t)s->ncols, sizeof *w->cols);
    dbuf_init(&w->page, DBUF_CAP);
    dbuf_init(&w->comp, DBUF_CAP);
    dbuf_init(&w->hdr, 1 << 20);
    arena_init(&w->meta_arena, 64 * 1024, 0);
    if (!w->cols) {
        pq_writer_free(w);
        return SL_ENOMEM;
    }
    for (int i = 0; i < w->ncols; i++) {
        col_init(&w->cols[i], &s->fields[i], &w->o);
        col_type t = s->fields[i].type;
        for (int k = 0; k < o.ndelta_columns && (t == COL_INT64 || t == COL_TS_NS); k++)
            if (!strcmp(o.delta_columns[k], s->fields[i].name))
                w->cols[i].delta = true;
    }
    w->o.delta_columns = NULL; /* the names were the caller's */
    w->o.ndelta_columns = 0;
    rc = out_write(w, "PAR1", 4);
    if (rc) {
        pq_writer_free(w);
        return errmsg_set(e, rc, "parquet writer: sink refused the header");
    }
    *out = w;
    return SL_OK;
}

static int check_batch(const pq_writer *w, const col_batch *b, errmsg *e)
{
    if (b->ncols != w->ncols)
        return errmsg_set(e, SL_EINVAL, "parquet writer: batch has %d columns, schema %d", b->ncols,
                          w->ncols);
    for (int i = 0; i < w->ncols; i++) {
        const col_field *f = &w->schema->fields[i];
        const col_vec *v = &b->cols[i];
        bool str_field = f->type == COL_STRING || f->type == COL_DICT;
        bool ok =
            v->type == f->type || (str_field && (v->type == COL_STRING || v->type == COL_DICT));
        if (!ok || v->len != b->nrows || (v->type == COL_DICT && !v->dict))
            return errmsg_set(e, SL_EINVAL,
                              "parquet writer: column \"%s\" is %s with %lld rows, "
                              "expected %s with %lld",
                              f->name, col_type_name(v->type), (long long)v->len,
                              col_type_name(f->type), (long long)b->nrows);
        if (v->null_count && !f->nullable)
            return errmsg_set(e, SL_EINVAL,
                              "parquet writer: column \"%s\" is not nullable but has "
                              "%lld nulls",
                              f->name, (long long)v->null_count);
    }
    return SL_OK;
}

int pq_writer_add_batch(pq_writer *w, const col_batch *b, errmsg *e)
{
    if (w->err)
        return errmsg_set(e, SL_ESTATE, "parquet writer: an earlier call failed");
    int rc = check_batch(w, b, e);
    if (rc)
        return rc;
    int64_t done = 0;
    while (done < b->nrows && !rc) {
        int64_t n = b->nrows - done, room = w->o.row_group_rows - w->rg_rows;
        n = n < room ? n : room;
        for (int i = 0; i < w->ncols && !rc; i++)
            rc = add_column(w, &w->cols[i], &b->cols[i], done, n);
        w->rg_rows += n;
        done += n;
        if (!rc && w->rg_rows >= w->o.row_group_rows)
            rc = flush_row_group(w);
    }
    if (rc) {
        w->err = rc;
        return errmsg_set(e, rc, "parquet writer: %s while adding a batch", sl_strerror(rc));
    }
    return SL_OK;
}

int pq_writer_set_kv(pq_writer *w, const char *key, const char *value, errmsg *e)
{
    for (int i = 0; i < w->nkv; i++)
        if (strcmp(w->kv[i].key, key) == 0) {
            char *v = sl_strdup(value);
            if (!v)
                return SL_ENOMEM;
            sl_free((char *)w->kv[i].value);
            w->kv[i].value = v;
            w->kv[i].value_len = strlen(v);
            return SL_OK;
        }
    pq_kv *n = sl_realloc(w->kv, (size_t)(w->nkv + 1) * sizeof *n);
    if (!n)
        return errmsg_set(e, SL_ENOMEM, "parquet writer: no memory for metadata");
    w->kv = n;
    char *k = sl_strdup(key), *v = sl_strdup(value);
    if (!k || !v) {
        sl_free(k);
        sl_free(v);
        return errmsg_set(e, SL_ENOMEM, "parquet writer: no memory for metadata");
    }
    w->kv[w->nkv++] = (pq_kv){k, v, strlen(v)};
    return SL_OK;
}

/* Schema elements: the root, then one leaf per column. */
static int build_schema(pq_writer *w, pq_file_meta *m)
{
    m->nschema = w->ncols + 1;
    m->schema = arena_zalloc(&w->meta_arena, (size_t)m->nschema * sizeof *m->schema);
    if (!m->schema)
        return SL_ENOMEM;
    m->schema[0] = (pq_schema_el){-1, -1, -1, "schema", w->ncols, -1, -1, -1, -1, {0}};
    for (int i = 0; i < w->ncols; i++) {
        const wcol *c = &w->cols[i];
        pq_schema_el *s = &m->schema[i + 1];
        *s = (pq_schema_el){
            c->phys, -1, c->f->nullable ? PQ_OPTIONAL : PQ_REQUIRED, c->f->name, -1, -1, -1, -1,
            -1,      {0}};
        switch (c->f->type) {
        case COL_STRING:
        case COL_DICT:
            s->converted = PQ_CT_UTF8;
            s->lt.kind = PQ_LT_STRING;
            break;
        case COL_TS_NS:
            s->lt =
                (pq_logical){.kind = PQ_LT_TIMESTAMP, .unit = PQ_UNIT_NANOS, .utc = w->o.ts_utc};
            break;
        case COL_UINT32:
        case COL_UINT64:
            s->converted = c->f->type == COL_UINT32 ? PQ_CT_UINT_32 : PQ_CT_UINT_64;
            s->lt = (pq_logical){.kind = PQ_LT_INTEGER,
                                 .is_signed = false,
                                 .bit_width = c->f->type == COL_UINT32 ? 32 : 64};
            break;
        default:
            break;
        }
    }
    return SL_OK;
}

int pq_writer_close(pq_writer *w, int64_t *size_out, errmsg *e)
{
    int rc = w->err ? SL_ESTATE : flush_row_group(w);
    pq_file_meta m = {.version = 2,
                      .num_rows = w->total_rows,
                      .rgs = w->rgs,
                      .nrgs = w->nrgs,
                      .kv = w->kv,
                      .nkv = w->nkv,
                      .created_by = w->created_by,
                      .type_defined_order = true};
    if (!rc)
        rc = build_schema(w, &m);
    dbuf foot;
    dbuf_init(&foot, PQ_FOOTER_MAX_BYTES);
    if (!rc)
        rc = pq_meta_encode(&m, &foot);
    uint8_t tail[8];
    st_u32le(tail, (uint32_t)foot.len);
    memcpy(tail + 4, "PAR1", 4);
    if (!rc)
        rc = out_write(w, foot.p, foot.len);
    if (!rc)
        rc = out_write(w, tail, 8);
    dbuf_free(&foot);
    if (size_out)
        *size_out = w->pos;
    pq_writer_free(w);
    if (rc)
        return errmsg_set(e, rc, "parquet writer: %s while closing", sl_strerror(rc));
    return SL_OK;
}

void pq_writer_free(pq_writer *w)
{
    if (!w)
        return;
    for (int i = 0; w->cols && i < w->ncols; i++)
        col_free(&w->cols[i]);
    sl_free(w->cols);
    for (int i = 0; i < w->nkv; i++) {
        sl_free((char *)w->kv[i].key);
        sl_free((char *)w->kv[i].value);
    }
    sl_free(w->kv);
    sl_free(w->rgs);
    sl_free(w->lvl);
    dbuf_free(&w->page);
    dbuf_free(&w->comp);
    dbuf_free(&w->hdr);
    arena_destroy(&w->meta_arena);
    pq_codec_ctx_free(&w->codec);
    col_schema_unref(w->schema);
    sl_free(w);
}
