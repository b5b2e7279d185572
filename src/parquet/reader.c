/*
 * reader.c - scans of Parquet files into col batches (see parquet.h).
 *
 * A scan walks the row groups that survive pruning; a batch never spans two
 * row groups and holds at most batch_rows rows.  Each projected column keeps
 * a cursor in its column chunk: the current page (decompressed into a
 * per-column buffer, or used in place when uncompressed), a definition-level
 * decoder and a value decoder.  Filling a batch column takes rows from as many
 * pages as needed:
 *
 *   1. definition levels set the validity bits of the slice and count the
 *      non-null values;
 *   2. that many values are decoded densely at the slice start;
 *   3. when the slice had nulls, values are spread backwards to their rows
 *      (in place: a value never moves to an earlier slot).
 *
 * Nothing is allocated per row: per batch, each column gets its buffers once
 * (string bytes grow geometrically).  Dictionary pages of string columns stay
 * dictionaries: the batch vector is COL_DICT with keys as narrow as the
 * dictionary allows, sharing the chunk's refcounted col_dict.  A chunk that
 * switches to plain pages mid-batch turns that batch's vector into plain
 * strings (the one case the reader expands a dictionary).
 *
 * Every length, count and offset read from the file is checked against the
 * bytes that hold it before use; errors name the column, the row group and
 * the file offset.
 */
#include "parquet/internal.h"

#include "base/alloc.h"
#include "base/bytes.h"
#include "parquet/codec.h"
#include "parquet/enc.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_BATCH_ROWS 65536
#define MAX_BATCH_ROWS (1 << 22)
#define DEFAULT_MAX_PAGE ((size_t)64 << 20)

typedef struct rcol {
    const pq_leaf *L;
    int leaf, rg;
    /* chunk */
    const uint8_t *p, *end; /* unread page headers and pages */
    const uint8_t *file;    /* start of the file, for offsets in messages */
    size_t file_len;
    const uint8_t *page_at; /* header of the current page, in the file */
    int codec;
    bool seen_data;
    /* dictionary */
    col_dict *dict;      /* BYTE_ARRAY dictionary */
    uint8_t *dict_fixed; /* fixed-width dictionary values, in output width */
    int64_t dict_n;
    /* page */
    int64_t page_left; /* rows left in the page */
    int enc;           /* value encoding of the page */
    pq_rle defs;
    const uint8_t *vp, *vend; /* value bytes */
    uint64_t bool_bit;        /* PLAIN booleans: next bit */
    pq_rle vr;                /* dictionary indices or RLE booleans */
    int64_t *dv;              /* DELTA_*: decoded integers / lengths */
    int64_t *dv2;             /* DELTA_BYTE_ARRAY: suffix lengths */
    size_t dv_n, dv_pos, dv_cap;
    size_t bss_n, bss_pos; /* BYTE_STREAM_SPLIT: values in page, next one */
    dbuf prev;             /* DELTA_BYTE_ARRAY: previous value */
    dbuf page;             /* decompressed page */
    bool crc_known;        /* this chunk's pages passed their CRCs in an earlier scan */
} rcol;

struct pq_scan {
    pq_reader *r;
    pq_footer *f;
    int64_t batch_rows;
    size_t max_page;
    int *rgs;
    int nrgs, irg;
    int64_t rg_left;
    int dyn_col;                      /* leaf of the dynamic bound's column, -1 none */
    _Atomic int64_t *dyn_lo, *dyn_hi;
    rcol *cols;
    int ncols;
    col_schema *schema;
    pq_codec_ctx codec;
    uint32_t *u32; /* scratch: indices, levels */
    size_t u32_cap;
    float *f32; /* scratch: FLOAT values before widening */
    size_t f32_cap;
};

/* --- readers --------------------------------------------------------------- */

static int pq_reader_open_impl(const uint8_t *bytes, size_t len, pq_footer *footer, pq_reader **out, errmsg *e)
{
    *out = NULL;
    pq_footer *f = NULL;
    if (footer) {
        if (footer->file_len != len)
            return errmsg_set(e, SL_EMISMATCH,
                              "parquet: footer is of a %zu-byte file, bytes are %zu",
                              footer->file_len, len);
        f = pq_footer_ref(footer);
    } else {
        int rc = pq_footer_parse(bytes, len, &f, e);
        if (rc)
            return rc;
    }
    pq_reader *r = sl_calloc(1, sizeof *r);
    if (!r) {
        pq_footer_unref(f);
        return SL_ENOMEM;
    }
    r->bytes = bytes;
    r->len = len;
    r->f = f;
    *out = r;
    return SL_OK;
}

int pq_reader_open(const uint8_t *bytes, size_t len, pq_footer *footer, pq_reader **out, errmsg *e)
{
    return pq_msg(e, pq_reader_open_impl(bytes, len, footer, out, e), "opening the file");
}

int pq_reader_open_file(const char *path, pq_reader **out, errmsg *e)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errmsg_set(e, SL_EIO, "parquet: cannot open %s", path);
    struct stat st;
    int rc = SL_OK;
    void *map = NULL;
    if (fstat(fd, &st) != 0)
        rc = errmsg_set(e, SL_EIO, "parquet: cannot stat %s", path);
    else if (st.st_size < 12)
        rc = errmsg_set(e, SL_ETRUNC, "parquet: %s has %lld bytes, too short", path,
                        (long long)st.st_size);
    if (!rc) {
        map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            map = NULL;
            rc = errmsg_set(e, SL_EIO, "parquet: cannot map %s", path);
        }
    }
    close(fd);
    if (!rc)
        rc = pq_reader_open(map, (size_t)st.st_size, NULL, out, e);
    if (rc) {
        if (map)
            munmap(map, (size_t)st.st_size);
        return rc;
    }
    (*out)->map = map;
    (*out)->map_len = (size_t)st.st_size;
    return SL_OK;
}

pq_footer *pq_reader_footer(const pq_reader *r)
{
    return r->f;
}

void pq_reader_close(pq_reader *r)
{
    if (!r)
        return;
    pq_footer_unref(r->f);
    if (r->map)
        munmap(r->map, r->map_len);
    sl_free(r);
}

/* --- errors ---------------------------------------------------------------- */

static int cfail(const rcol *c, errmsg *e, int code, const uint8_t *at, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int cfail(const rcol *c, errmsg *e, int code, const uint8_t *at, const char *fmt, ...)
{
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (!at)
        return errmsg_set(e, code, "parquet: column \"%s\", row group %d: %s", c->L->name, c->rg,
                          what);
    /* A pointer into a decompressed page has no file offset: name the page's. */
    if (at < c->file || at > c->file + c->file_len)
        return errmsg_set(e, code,
                          "parquet: column \"%s\", row group %d, in the page at byte %zu: %s",
                          c->L->name, c->rg, (size_t)(c->page_at - c->file), what);
    return errmsg_set(e, code, "parquet: column \"%s\", row group %d, near byte %zu: %s",
                      c->L->name, c->rg, (size_t)(at - c->file), what);
}

/* --- scratch --------------------------------------------------------------- */

static int grow(void **p, size_t *cap, size_t n, size_t size)
{
    if (n <= *cap)
        return SL_OK;
    size_t ncap = *cap ? *cap : 1024;
    while (ncap < n)
        ncap *= 2;
    void *q = sl_realloc(*p, ncap * size);
    if (!q)
        return SL_ENOMEM;
    *p = q;
    *cap = ncap;
    return SL_OK;
}

/* --- pages ----------------------------------------------------------------- */

/* Bytes per value in the file: 4 for INT32 and FLOAT, 8 for INT64 and DOUBLE. */
static int in_width(const rcol *c)
{
    return c->L->phys == PQ_INT32 || c->L->phys == PQ_FLOAT ? 4 : 8;
}

/* Bytes per value in the batch: FLOAT widens (exactly) to double. */
static int out_width(const rcol *c)
{
    return c->L->phys == PQ_INT32 ? 4 : 8;
}

/* Decodes the PLAIN dictionary page body into the column's dictionary. */
static int load_dict(rcol *c, const uint8_t *p, size_t n, int64_t count, errmsg *e)
{
    if (c->dict || c->dict_fixed || c->seen_data)
        return cfail(c, e, SL_ECORRUPT, p, "dictionary page after data or twice");
    if (count < 0 || (uint64_t)count > n + 1)
        return cfail(c, e, SL_ECORRUPT, p, "dictionary of %lld entries in %zu bytes",
                     (long long)count, n);
    c->dict_n = count;
    if (c->L->phys == PQ_BYTE_ARRAY) {
        if ((uint64_t)count * 4 > n)
            return cfail(c, e, SL_ECORRUPT, p, "dictionary of %lld strings in %zu bytes",
                         (long long)count, n);
        c->dict = col_dict_new();
        if (!c->dict)
            return SL_ENOMEM;
        col_vec *v = &c->dict->strings;
        int rc = col_vec_reserve(v, count, n - (size_t)count * 4);
        if (rc)
            return cfail(c, e, rc, p, "dictionary too large");
        rd r;
        rd_init(&r, p, n);
        int32_t *o = (int32_t *)(void *)v->values->p;
        for (int64_t i = 0; i < count; i++) {
            /* Each later entry needs its 4-byte length: an early entry may not
             * eat their room (the data buffer was sized on that promise). */
            uint32_t len = rd_u32(&r);
            size_t later = 4 * (size_t)(count - 1 - i);
            bool fits = !r.err && len <= rd_left(&r) && rd_left(&r) - len >= later;
            const uint8_t *b = fits ? rd_bytes(&r, len) : NULL;
            if (!b)
                return cfail(c, e, SL_ECORRUPT, p + rd_off(&r),
                             "dictionary entry %lld of %u bytes runs past the page", (long long)i,
                             len);
            memcpy(v->data->p + o[i], b, len);
            o[i + 1] = o[i] + (int32_t)len;
        }
        v->len = count;
        v->values->len_bytes = 4 * ((size_t)count + 1);
        v->data->len_bytes = (size_t)o[count];
        return SL_OK;
    }
    size_t in_w = c->L->phys == PQ_BOOLEAN ? 0 : (size_t)in_width(c);
    if (in_w == 0)
        return cfail(c, e, SL_EUNSUPPORTED, p, "dictionary of booleans");
    if ((uint64_t)count * in_w > n)
        return cfail(c, e, SL_ECORRUPT, p, "dictionary of %lld values in %zu bytes",
                     (long long)count, n);
    c->dict_fixed = sl_malloc((size_t)count * in_w + 8);
    if (!c->dict_fixed)
        return SL_ENOMEM;
    memcpy(c->dict_fixed, p, (size_t)count * in_w);
    return SL_OK;
}

/* Decodes DELTA_* headers of a page so slices can be copied out later. */
static int load_delta(pq_scan *s, rcol *c, int64_t nvals, errmsg *e)
{
    /* Decoded values cost 16 bytes each: a page may not claim more values
     * than a quarter of the page cap, so a tiny page cannot ask for gigabytes. */
    if (nvals < 0 || (uint64_t)nvals > s->max_page / 4)
        return cfail(c, e, SL_ETOOBIG, c->vp, "delta page of %lld values is over the cap",
                     (long long)nvals);
    size_t want = (size_t)nvals + 1;
    int rc = grow((void **)&c->dv, &c->dv_cap, want, sizeof(int64_t) * 2);
    if (rc)
        return rc;
    c->dv2 = c->dv + c->dv_cap;
    size_t n, used;
    errmsg sub = {0};
    rc = pq_delta_decode(c->vp, (size_t)(c->vend - c->vp), c->dv, want, &n, &used, &sub);
    if (rc)
        return cfail(c, e, rc, c->vp, "%s", sub.text);
    c->vp += used;
    c->dv_n = n;
    c->dv_pos = 0;
    if (c->enc == PQ_ENC_DELTA_BYTE_ARRAY) {
        size_t n2;
        rc = pq_delta_decode(c->vp, (size_t)(c->vend - c->vp), c->dv2, want, &n2, &used, &sub);
        if (rc)
            return cfail(c, e, rc, c->vp, "suffix lengths: %s", sub.text);
        if (n2 != n)
            return cfail(c, e, SL_ECORRUPT, c->vp, "%zu prefixes but %zu suffixes", n, n2);
        c->vp += used;
        dbuf_reset(&c->prev);
    }
    return SL_OK;
}

static bool enc_ok(const rcol *c, int enc)
{
    int t = c->L->phys;
    switch (enc) {
    case PQ_ENC_PLAIN:
        return true;
    case PQ_ENC_PLAIN_DICTIONARY:
    case PQ_ENC_RLE_DICTIONARY:
        return t != PQ_BOOLEAN;
    case PQ_ENC_RLE:
        return t == PQ_BOOLEAN;
    case PQ_ENC_DELTA_BINARY_PACKED:
        return t == PQ_INT32 || t == PQ_INT64;
    case PQ_ENC_DELTA_LENGTH_BYTE_ARRAY:
    case PQ_ENC_DELTA_BYTE_ARRAY:
        return t == PQ_BYTE_ARRAY;
    case PQ_ENC_BYTE_STREAM_SPLIT:
        return t == PQ_INT32 || t == PQ_INT64 || t == PQ_DOUBLE || t == PQ_FLOAT;
    default:
        return false;
    }
}

/* Sets up the value decoder for the bytes [vp, vend) of a data page. */
static int start_values(pq_scan *s, rcol *c, int64_t nvals, errmsg *e)
{
    if (!enc_ok(c, c->enc))
        return cfail(c, e, SL_EUNSUPPORTED, c->vp, "encoding %s for %s is not supported",
                     pq_encoding_name(c->enc), pq_phys_name(c->L->phys));
    int rc = SL_OK;
    switch (c->enc) {
    case PQ_ENC_PLAIN:
        c->bool_bit = 0;
        break;
    case PQ_ENC_PLAIN_DICTIONARY:
    case PQ_ENC_RLE_DICTIONARY: {
        if (!c->dict && !c->dict_fixed)
            return cfail(c, e, SL_ECORRUPT, c->vp, "dictionary-encoded page without a dictionary");
        if (c->vp >= c->vend)
            return nvals == 0 ? SL_OK : cfail(c, e, SL_ETRUNC, c->vp, "no index bit width");
        int bw = *c->vp++;
        if (pq_rle_init(&c->vr, c->vp, (size_t)(c->vend - c->vp), bw))
            return cfail(c, e, SL_ECORRUPT, c->vp - 1, "index bit width %d", bw);
        break;
    }
    case PQ_ENC_RLE: {
        if (c->vend - c->vp < 4)
            return cfail(c, e, SL_ETRUNC, c->vp, "RLE booleans without a length");
        uint32_t len = ld_u32le(c->vp);
        if (len > (size_t)(c->vend - c->vp - 4))
            return cfail(c, e, SL_ECORRUPT, c->vp, "RLE length %u past the page", len);
        pq_rle_init(&c->vr, c->vp + 4, len, 1);
        break;
    }
    case PQ_ENC_DELTA_BINARY_PACKED:
    case PQ_ENC_DELTA_LENGTH_BYTE_ARRAY:
    case PQ_ENC_DELTA_BYTE_ARRAY:
        rc = load_delta(s, c, nvals, e);
        break;
    case PQ_ENC_BYTE_STREAM_SPLIT: {
        size_t w = (size_t)in_width(c), n = (size_t)(c->vend - c->vp);
        if (n % w)
            return cfail(c, e, SL_ECORRUPT, c->vp, "BYTE_STREAM_SPLIT of %zu bytes, width %zu", n,
                         w);
        c->bss_n = n / w;
        c->bss_pos = 0;
        break;
    }
    }
    return rc;
}

/* Gets the page body: in place when uncompressed, else decompressed. */
static int page_body(pq_scan *s, rcol *c, const uint8_t *src, size_t n, size_t raw_len,
                     const uint8_t **body, errmsg *e)
{
    if (c->codec == PQ_CODEC_UNCOMPRESSED) {
        if (n != raw_len)
            return cfail(c, e, SL_ECORRUPT, src, "uncompressed page sizes differ (%zu, %zu)", n,
                         raw_len);
        *body = src;
        return SL_OK;
    }
    if (raw_len > s->max_page)
        return cfail(c, e, SL_ETOOBIG, src, "page of %zu bytes is over the %zu cap", raw_len,
                     s->max_page);
    dbuf_reset(&c->page);
    int rc = dbuf_reserve(&c->page, raw_len);
    if (rc)
        return cfail(c, e, rc, src, "no memory for a page of %zu bytes", raw_len);
    errmsg sub = {0};
    rc = pq_decompress(&s->codec, c->codec, src, n, c->page.p, raw_len, &sub);
    if (rc)
        return cfail(c, e, rc, src, "%s", sub.text);
    c->page.len = raw_len;
    *body = c->page.p;
    return SL_OK;
}

static int data_page_v1(pq_scan *s, rcol *c, const pq_page_header *h, const uint8_t *src, errmsg *e)
{
    const uint8_t *body;
    int rc =
        page_body(s, c, src, (size_t)h->compressed_size, (size_t)h->uncompressed_size, &body, e);
    if (rc)
        return rc;
    const uint8_t *p = body, *end = body + h->uncompressed_size;
    if (c->L->max_def > 0) {
        if (h->def_encoding != PQ_ENC_RLE)
            return cfail(c, e, SL_EUNSUPPORTED, src, "definition levels in %s",
                         pq_encoding_name(h->def_encoding));
        if (end - p < 4 || ld_u32le(p) > (size_t)(end - p - 4))
            return cfail(c, e, SL_ECORRUPT, src, "definition levels length past the page");
        uint32_t len = ld_u32le(p);
        pq_rle_init(&c->defs, p + 4, len, 1);
        p += 4 + len;
    }
    c->vp = p;
    c->vend = end;
    c->enc = h->encoding;
    return start_values(s, c, h->num_values, e);
}

static int data_page_v2(pq_scan *s, rcol *c, const pq_page_header *h, const uint8_t *src, errmsg *e)
{
    size_t levels = (size_t)h->def_len + (size_t)h->rep_len;
    if (h->def_len < 0 || h->rep_len != 0 || levels > (size_t)h->compressed_size ||
        levels > (size_t)h->uncompressed_size)
        return cfail(c, e, SL_ECORRUPT, src, "v2 level lengths %d/%d do not fit the page",
                     h->def_len, h->rep_len);
    if (h->num_rows != h->num_values || h->num_nulls < 0 || h->num_nulls > h->num_values)
        return cfail(c, e, SL_ECORRUPT, src, "v2 page counts disagree");
    if (c->L->max_def > 0)
        pq_rle_init(&c->defs, src, (size_t)h->def_len, 1);
    else if (h->def_len != 0)
        return cfail(c, e, SL_ECORRUPT, src, "levels on a required column");
    const uint8_t *body = src + levels;
    size_t n = (size_t)h->compressed_size - levels, raw = (size_t)h->uncompressed_size - levels;
    if (h->is_compressed) {
        int rc = page_body(s, c, body, n, raw, &body, e);
        if (rc)
            return rc;
    } else if (n != raw) {
        return cfail(c, e, SL_ECORRUPT, src, "uncompressed v2 page sizes differ");
    }
    c->vp = body;
    c->vend = body + raw;
    c->enc = h->encoding;
    return start_values(s, c, h->num_values - h->num_nulls, e);
}

/* Advances to the next data page with values, handling dictionary pages. */
static _Atomic uint8_t *crc_flag(const pq_footer *f, int rg, int leaf)
{
    return &f->crc_done[(size_t)rg * (size_t)f->nleaves + (size_t)leaf];
}

static int next_page(pq_scan *s, rcol *c, errmsg *e)
{
    while (c->page_left == 0) {
        if (c->p >= c->end)
            return cfail(c, e, SL_ECORRUPT, c->p, "column chunk ends before its rows");
        pq_page_header h;
        size_t hl;
        errmsg sub = {0};
        c->page_at = c->p;
        int rc = pq_page_header_decode(c->p, (size_t)(c->end - c->p), (size_t)(c->p - c->file), &h,
                                       &hl, &sub);
        if (rc)
            return cfail(c, e, rc, c->p, "page header: %s", sub.text);
        const uint8_t *body = c->p + hl;
        if ((size_t)h.compressed_size > (size_t)(c->end - body))
            return cfail(c, e, SL_ECORRUPT, c->p, "page of %d bytes runs past its chunk",
                         h.compressed_size);
        c->p = body + h.compressed_size;
        /* A page that carries its CRC is checked before any byte of it is used. */
        if (h.has_crc && !c->crc_known &&
            (uint32_t)crc32(0L, body, (uInt)h.compressed_size) != h.crc)
            return cfail(c, e, SL_ECORRUPT, body, "page of %d bytes fails its CRC",
                         h.compressed_size);
        if (c->p >= c->end && !c->crc_known && s->f->crc_done) /* all pages checked */
            atomic_store_explicit(crc_flag(s->f, c->rg, c->leaf), 1, memory_order_release);
        bool data = h.type == PQ_PAGE_DATA || h.type == PQ_PAGE_DATA_V2;
        if ((data || h.type == PQ_PAGE_DICT) && !h.has_sub)
            return cfail(c, e, SL_ECORRUPT, body, "page without its type's header");
        if (h.type == PQ_PAGE_DICT) {
            const uint8_t *d;
            if (h.encoding != PQ_ENC_PLAIN && h.encoding != PQ_ENC_PLAIN_DICTIONARY)
                return cfail(c, e, SL_EUNSUPPORTED, body, "dictionary page in %s",
                             pq_encoding_name(h.encoding));
            rc = page_body(s, c, body, (size_t)h.compressed_size, (size_t)h.uncompressed_size, &d,
                           e);
            if (!rc)
                rc = load_dict(c, d, (size_t)h.uncompressed_size, h.num_values, e);
            if (rc)
                return rc;
            continue;
        }
        if (!data)
            continue; /* index pages and unknown page types carry no rows */
        if (h.num_values < 0)
            return cfail(c, e, SL_ECORRUPT, body, "page of %d values", h.num_values);
        c->seen_data = true;
        rc = h.type == PQ_PAGE_DATA ? data_page_v1(s, c, &h, body, e)
                                    : data_page_v2(s, c, &h, body, e);
        if (rc)
            return rc;
        c->page_left = h.num_values;
    }
    return SL_OK;
}

/* --- slices ---------------------------------------------------------------- */

static bool dict_enc(int enc)
{
    return enc == PQ_ENC_PLAIN_DICTIONARY || enc == PQ_ENC_RLE_DICTIONARY;
}

/* Decodes n dictionary indices into s->u32 and checks them. */
static int get_indices(pq_scan *s, rcol *c, int64_t n, errmsg *e)
{
    int rc = grow((void **)&s->u32, &s->u32_cap, (size_t)n + 1, sizeof *s->u32);
    if (rc)
        return rc;
    rc = pq_rle_get(&c->vr, s->u32, (size_t)n);
    if (rc)
        return cfail(c, e, rc, c->vr.p, "dictionary indices end early");
    uint32_t bad = 0;
    for (int64_t i = 0; i < n; i++)
        bad |= (uint32_t)((int64_t)s->u32[i] >= c->dict_n);
    if (bad)
        return cfail(c, e, SL_ECORRUPT, c->vr.p, "dictionary index past the %lld entries",
                     (long long)c->dict_n);
    return SL_OK;
}

/* Moves nvalid dense values of width w at row pos to their rows among k. */
static void spread(uint8_t *vals, size_t w, const uint8_t *bits, int64_t pos, int64_t k,
                   int64_t nvalid)
{
    int64_t src = nvalid - 1;
    for (int64_t j = k - 1; j >= 0 && src != j; j--) {
        int64_t r = pos + j;
        uint8_t *dst = vals + (size_t)r * w;
        if ((bits[r >> 3] >> (r & 7)) & 1) {
            memcpy(dst, vals + (size_t)(pos + src) * w, w);
            src--;
        } else {
            memset(dst, 0, w);
        }
    }
}

/* n dense fixed-width values, in the file's width, at dst. */
static int dense_raw(pq_scan *s, rcol *c, uint8_t *dst, int64_t n, errmsg *e)
{
    size_t w = (size_t)in_width(c), bytes = (size_t)n * w;
    switch (c->enc) {
    case PQ_ENC_PLAIN:
        if (bytes > (size_t)(c->vend - c->vp))
            return cfail(c, e, SL_ECORRUPT, c->vp, "%lld values need %zu bytes, page has %zu",
                         (long long)n, bytes, (size_t)(c->vend - c->vp));
        memcpy(dst, c->vp, bytes);
        c->vp += bytes;
        return SL_OK;
    case PQ_ENC_DELTA_BINARY_PACKED:
        if ((size_t)n > c->dv_n - c->dv_pos)
            return cfail(c, e, SL_ECORRUPT, c->vp, "delta page holds fewer values than levels say");
        if (w == 8) {
            memcpy(dst, c->dv + c->dv_pos, bytes);
        } else {
            for (int64_t i = 0; i < n; i++) {
                int32_t x = (int32_t)(uint32_t)c->dv[c->dv_pos + (size_t)i];
                memcpy(dst + 4 * i, &x, 4);
            }
        }
        c->dv_pos += (size_t)n;
        return SL_OK;
    case PQ_ENC_BYTE_STREAM_SPLIT:
        if ((size_t)n > c->bss_n - c->bss_pos)
            return cfail(c, e, SL_ECORRUPT, c->vp, "byte stream split page holds too few values");
        for (size_t b = 0; b < w; b++) {
            const uint8_t *stream = c->vp + b * c->bss_n + c->bss_pos;
            for (int64_t i = 0; i < n; i++)
                dst[(size_t)i * w + b] = stream[i];
        }
        c->bss_pos += (size_t)n;
        return SL_OK;
    default: {
        int rc = get_indices(s, c, n, e);
        if (rc)
            return rc;
        if (w == 8) {
            for (int64_t i = 0; i < n; i++)
                memcpy(dst + 8 * i, c->dict_fixed + 8 * (size_t)s->u32[i], 8);
        } else {
            for (int64_t i = 0; i < n; i++)
                memcpy(dst + 4 * i, c->dict_fixed + 4 * (size_t)s->u32[i], 4);
        }
        return SL_OK;
    }
    }
}

/* n dense values in the batch's width at dst: FLOAT goes through a scratch
 * buffer and is widened to double. */
static int dense_fixed(pq_scan *s, rcol *c, uint8_t *dst, int64_t n, errmsg *e)
{
    if (in_width(c) == out_width(c))
        return dense_raw(s, c, dst, n, e);
    int rc = grow((void **)&s->f32, &s->f32_cap, (size_t)n + 1, sizeof(float));
    if (!rc)
        rc = dense_raw(s, c, (uint8_t *)s->f32, n, e);
    for (int64_t i = 0; !rc && i < n; i++) {
        double d = s->f32[i];
        memcpy(dst + 8 * i, &d, 8);
    }
    return rc;
}

static int slice_bools(rcol *c, col_vec *v, int64_t pos, int64_t k, errmsg *e)
{
    uint8_t *out = v->values->p;
    size_t nbits = (size_t)(c->vend - c->vp) * 8;
    for (int64_t j = 0; j < k; j++) {
        int64_t r = pos + j;
        if (!col_vec_is_valid(v, r))
            continue;
        uint32_t bit;
        if (c->enc == PQ_ENC_RLE) {
            if (pq_rle_get(&c->vr, &bit, 1))
                return cfail(c, e, SL_ECORRUPT, c->vr.p, "RLE booleans end early");
        } else {
            if (c->bool_bit >= nbits)
                return cfail(c, e, SL_ECORRUPT, c->vp, "booleans end early");
            bit = (c->vp[c->bool_bit >> 3] >> (c->bool_bit & 7)) & 1;
            c->bool_bit++;
        }
        out[r >> 3] |= (uint8_t)(bit << (r & 7));
    }
    return SL_OK;
}

/* Appends n bytes to a string vector's data; grows geometrically. */
static int put_bytes(pq_scan *s, rcol *c, col_vec *v, const uint8_t *p, size_t n, errmsg *e)
{
    /* Strings of one batch column stay under four page caps: prefix reuse in
     * DELTA_BYTE_ARRAY could otherwise turn a small page into gigabytes. */
    size_t used = v->data->len_bytes, cap = s->max_page * 4;
    if (cap > COL_BUF_MAX_BYTES)
        cap = COL_BUF_MAX_BYTES;
    if (n > cap - used)
        return cfail(c, e, SL_ETOOBIG, c->vp, "strings of one batch over %zu bytes", cap);
    int rc = col_buf_reserve(v->data, used + n);
    if (rc)
        return cfail(c, e, rc, c->vp, "no memory for strings");
    if (n)
        memcpy(v->data->p + used, p, n);
    v->data->len_bytes = used + n;
    return SL_OK;
}

/* Next non-null string of the page into v's data; its length into *len. */
static int one_string(pq_scan *s, rcol *c, col_vec *v, int32_t *len, errmsg *e)
{
    const uint8_t *p = NULL;
    size_t n = 0;
    switch (c->enc) {
    case PQ_ENC_PLAIN: {
        if (c->vend - c->vp < 4)
            return cfail(c, e, SL_ECORRUPT, c->vp, "string length past the page");
        n = ld_u32le(c->vp);
        if (n > (size_t)(c->vend - c->vp - 4))
            return cfail(c, e, SL_ECORRUPT, c->vp, "string of %zu bytes past the page", n);
        p = c->vp + 4;
        c->vp += 4 + n;
        break;
    }
    case PQ_ENC_DELTA_LENGTH_BYTE_ARRAY:
    case PQ_ENC_DELTA_BYTE_ARRAY: {
        if (c->dv_pos >= c->dv_n)
            return cfail(c, e, SL_ECORRUPT, c->vp, "delta strings end early");
        bool prefixed = c->enc == PQ_ENC_DELTA_BYTE_ARRAY;
        int64_t pre = prefixed ? c->dv[c->dv_pos] : 0;
        int64_t suf = prefixed ? c->dv2[c->dv_pos] : c->dv[c->dv_pos];
        c->dv_pos++;
        if (pre < 0 || suf < 0 || (size_t)pre > c->prev.len || suf > c->vend - c->vp)
            return cfail(c, e, SL_ECORRUPT, c->vp, "delta string lengths %lld/%lld do not fit",
                         (long long)pre, (long long)suf);
        if (prefixed) {
            c->prev.len = (size_t)pre;
            int rc = dbuf_append(&c->prev, c->vp, (size_t)suf);
            if (rc)
                return cfail(c, e, rc, c->vp, "string too long");
            p = c->prev.p;
            n = c->prev.len;
        } else {
            p = c->vp;
            n = (size_t)suf;
        }
        c->vp += suf;
        break;
    }
    default: {
        /* A dictionary page read into a plain vector (mixed chunk or binary). */
        int rc = get_indices(s, c, 1, e);
        if (rc)
            return rc;
        const col_vec *d = &c->dict->strings;
        const int32_t *o = col_vec_offsets(d);
        p = d->data->p + o[s->u32[0]];
        n = (size_t)(o[s->u32[0] + 1] - o[s->u32[0]]);
        break;
    }
    }
    *len = (int32_t)n;
    return put_bytes(s, c, v, p, n, e);
}

static int slice_strings(pq_scan *s, rcol *c, col_vec *v, int64_t pos, int64_t k, errmsg *e)
{
    int32_t *o = (int32_t *)(void *)v->values->p;
    for (int64_t j = 0; j < k; j++) {
        int64_t r = pos + j;
        int32_t len = 0;
        if (col_vec_is_valid(v, r)) {
            int rc = one_string(s, c, v, &len, e);
            if (rc)
                return rc;
        }
        o[r + 1] = o[r] + len;
    }
    return SL_OK;
}

static void narrow_keys(uint8_t *dst, const uint32_t *src, int64_t n, int w)
{
    switch (w) {
    case 1:
        for (int64_t i = 0; i < n; i++)
            dst[i] = (uint8_t)src[i];
        break;
    case 2:
        for (int64_t i = 0; i < n; i++) {
            uint16_t x = (uint16_t)src[i];
            memcpy(dst + 2 * i, &x, 2);
        }
        break;
    default:
        memcpy(dst, src, (size_t)n * 4);
        break;
    }
}

/* Rows [pos, pos + k) of v from the current page. */
static int slice(pq_scan *s, rcol *c, col_vec *v, int64_t pos, int64_t k, int64_t *nvalid,
                 errmsg *e)
{
    int64_t nv = k;
    int rc;
    if (c->L->max_def > 0) {
        rc = pq_rle_get_bits(&c->defs, v->validity->p, pos, k, &nv);
        if (rc)
            return cfail(c, e, rc, c->defs.p, "definition levels end early or are corrupt");
    }
    *nvalid = nv;
    switch (v->type) {
    case COL_BOOL:
        return slice_bools(c, v, pos, k, e);
    case COL_STRING:
    case COL_BINARY:
        return slice_strings(s, c, v, pos, k, e);
    case COL_DICT: {
        size_t w = v->key_bytes;
        rc = get_indices(s, c, nv, e);
        if (rc)
            return rc;
        narrow_keys(v->values->p + (size_t)pos * w, s->u32, nv, (int)w);
        if (nv < k)
            spread(v->values->p, w, v->validity->p, pos, k, nv);
        return SL_OK;
    }
    default: {
        size_t w = (size_t)out_width(c);
        uint8_t *dst = v->values->p + (size_t)pos * w;
        rc = dense_fixed(s, c, dst, nv, e);
        if (rc)
            return rc;
        if (c->L->ts_mul != 1) {
            for (int64_t i = 0; i < nv; i++) {
                int64_t x;
                memcpy(&x, dst + 8 * i, 8);
                x = (int64_t)((uint64_t)x * (uint64_t)c->L->ts_mul);
                memcpy(dst + 8 * i, &x, 8);
            }
        }
        if (nv < k)
            spread(v->values->p, w, v->validity->p, pos, k, nv);
        return SL_OK;
    }
    }
}

/* A dictionary vector meets a plain page: rows so far become plain strings. */
static int to_plain(rcol *c, col_vec *v, int64_t pos, int64_t n, errmsg *e)
{
    col_vec t;
    col_vec_init(&t, COL_STRING, 0);
    v->len = pos;
    int rc = col_vec_expand(v, &t);
    if (!rc && c->L->max_def > 0)
        rc = col_vec_need_validity(&t, n);
    if (!rc)
        rc = col_vec_reserve(&t, n - pos, 0);
    if (rc) {
        col_vec_release(&t);
        return cfail(c, e, rc, c->p, "no memory to expand a dictionary");
    }
    col_vec_release(v);
    *v = t;
    return SL_OK;
}

/* Buffers for n rows.  Values, keys, offsets and string bytes are written in
 * full by the decoders, so they are not zeroed; booleans and validity are
 * built by or-ing bits, so they are. */
static int alloc_vec(rcol *c, col_vec *v, int64_t n)
{
    bool dict_out = c->L->type == COL_STRING && c->dict && dict_enc(c->enc);
    col_vec_init(v, dict_out ? COL_DICT : c->L->type, dict_out ? col_dict_key_bytes(c->dict_n) : 0);
    if (dict_out)
        col_vec_set_dict(v, c->dict);
    size_t bytes = col_vec_values_bytes(v, n);
    v->values = v->type == COL_BOOL ? col_buf_new(bytes) : col_buf_new_uninit(bytes);
    if (!v->values)
        return SL_ENOMEM;
    if (v->type == COL_STRING || v->type == COL_BINARY) {
        ((int32_t *)(void *)v->values->p)[0] = 0;
        if (!(v->data = col_buf_new_uninit((size_t)n * 8)))
            return SL_ENOMEM;
    }
    return c->L->max_def > 0 ? col_vec_need_validity(v, n) : SL_OK;
}

static int read_column(pq_scan *s, rcol *c, col_vec *v, int64_t n, errmsg *e)
{
    int rc = c->page_left ? SL_OK : next_page(s, c, e);
    if (rc)
        return rc;
    if ((rc = alloc_vec(c, v, n)))
        return cfail(c, e, rc, c->p, "no memory for a batch of %lld rows", (long long)n);
    int64_t pos = 0, valid = 0;
    while (pos < n && !rc) {
        if (c->page_left == 0 && (rc = next_page(s, c, e)))
            break;
        int64_t k = n - pos < c->page_left ? n - pos : c->page_left;
        if (v->type == COL_DICT && !dict_enc(c->enc) && (rc = to_plain(c, v, pos, n, e)))
            break;
        int64_t nv = 0;
        rc = slice(s, c, v, pos, k, &nv, e);
        valid += nv;
        pos += k;
        c->page_left -= k;
    }
    if (rc)
        return rc;
    v->len = n;
    v->null_count = n - valid;
    v->values->len_bytes = col_vec_values_bytes(v, n);
    if (v->validity) {
        v->validity->len_bytes = ((size_t)n + 7) / 8;
        if (v->null_count == 0) {
            col_buf_unref(v->validity);
            v->validity = NULL;
        }
    }
    return SL_OK;
}

/* --- scans ----------------------------------------------------------------- */

static int start_row_group(pq_scan *s, int rg, errmsg *e)
{
    const pq_footer *f = s->f;
    const pq_row_group *g = &f->m.rgs[rg];
    for (int i = 0; i < s->ncols; i++) {
        rcol *c = &s->cols[i];
        const pq_chunk *ch = &g->cols[c->leaf];
        c->rg = rg;
        col_dict_unref(c->dict);
        c->dict = NULL;
        sl_free(c->dict_fixed);
        c->dict_fixed = NULL;
        c->dict_n = 0;
        c->seen_data = false;
        c->page_left = 0;
        c->crc_known = f->crc_done &&
                       atomic_load_explicit(crc_flag(f, rg, c->leaf), memory_order_acquire);
        c->codec = ch->codec;
        int64_t start = ch->data_page_offset;
        if (ch->dictionary_page_offset >= 4 && ch->dictionary_page_offset < start)
            start = ch->dictionary_page_offset;
        int64_t len = ch->total_compressed;
        if (start < 4 || len < 0 || (uint64_t)start > f->data_end ||
            (uint64_t)len > f->data_end - (uint64_t)start)
            return cfail(c, e, SL_ECORRUPT, NULL,
                         "chunk at %lld of %lld bytes lies outside the "
                         "data (%zu bytes)",
                         (long long)start, (long long)len, f->data_end);
        if (!pq_codec_can_read(ch->codec))
            return cfail(c, e, SL_EUNSUPPORTED, NULL, "codec %s is not supported",
                         pq_codec_name(ch->codec));
        c->p = s->r->bytes + start;
        c->end = c->p + len;
    }
    s->rg_left = g->num_rows;
    return SL_OK;
}

static int project(pq_scan *s, const pq_scan_opts *o, errmsg *e)
{
    const pq_footer *f = s->f;
    s->ncols = o && o->columns ? o->ncolumns : f->nleaves;
    if (s->ncols < 0)
        return errmsg_set(e, SL_EINVAL, "parquet: bad projection");
    s->cols = sl_calloc((size_t)s->ncols + 1, sizeof *s->cols);
    s->schema = col_schema_new(s->ncols);
    if (!s->cols || !s->schema)
        return SL_ENOMEM;
    for (int i = 0; i < s->ncols; i++) {
        int leaf = i;
        if (o && o->columns) {
            leaf = o->columns[i] ? col_schema_find(f->schema, o->columns[i]) : -1;
            if (leaf < 0)
                return errmsg_set(e, SL_ENOTFOUND, "parquet: no column \"%s\"",
                                  o->columns[i] ? o->columns[i] : "(null)");
        }
        const pq_leaf *L = &f->leaves[leaf];
        if (L->unsupported)
            return errmsg_set(e, SL_EUNSUPPORTED, "parquet: column \"%s\": %s", L->name,
                              L->unsupported);
        rcol *c = &s->cols[i];
        c->L = L;
        c->leaf = leaf;
        c->file = s->r->bytes;
        c->file_len = s->r->len;
        c->page_at = s->r->bytes;
        dbuf_init(&c->page, s->max_page);
        dbuf_init(&c->prev, s->max_page);
        int rc = col_schema_set(s->schema, i, L->name, L->type, 0, L->max_def > 0);
        if (rc)
            return rc;
    }
    return SL_OK;
}

static int prune(pq_scan *s, const pq_scan_opts *o, errmsg *e)
{
    const pq_footer *f = s->f;
    s->rgs = sl_calloc((size_t)f->m.nrgs + 1, sizeof *s->rgs);
    if (!s->rgs)
        return SL_ENOMEM;
    int col = -1;
    if (o && o->range_column) {
        col = col_schema_find(f->schema, o->range_column);
        if (col < 0)
            return errmsg_set(e, SL_ENOTFOUND, "parquet: no range column \"%s\"", o->range_column);
    }
    for (int g = 0; g < f->m.nrgs; g++) {
        int64_t lo, hi;
        if (f->m.rgs[g].num_rows == 0)
            continue;
        if (o && o->rg_mod > 1 && (o->rg_base + g) % o->rg_mod != o->rg_rem)
            continue; /* another reader's split */
        if (col >= 0 && pq_footer_stats_i64(f, g, col, &lo, &hi) == SL_OK &&
            (hi < o->range_min || lo > o->range_max))
            continue;
        s->rgs[s->nrgs++] = g;
    }
    s->dyn_col = -1;
    if (o && o->dyn_column && (o->dyn_lo || o->dyn_hi)) {
        if ((s->dyn_col = col_schema_find(f->schema, o->dyn_column)) < 0)
            return errmsg_set(e, SL_ENOTFOUND, "parquet: no column \"%s\"", o->dyn_column);
        s->dyn_lo = o->dyn_lo;
        s->dyn_hi = o->dyn_hi;
    }
    return SL_OK;
}

/* Whether the dynamic bound, as it stands now, leaves nothing of row group g. */
static bool dyn_skip(const pq_scan *s, int g)
{
    int64_t lo, hi, nulls;
    if (s->dyn_col < 0 || pq_footer_stats_i64(s->f, g, s->dyn_col, &lo, &hi) != SL_OK ||
        pq_footer_null_count(s->f, g, s->dyn_col, &nulls) != SL_OK || nulls)
        return false;
    return (s->dyn_lo && hi < atomic_load_explicit(s->dyn_lo, memory_order_relaxed)) ||
           (s->dyn_hi && lo > atomic_load_explicit(s->dyn_hi, memory_order_relaxed));
}

static int pq_scan_open_impl(pq_reader *r, const pq_scan_opts *opts, pq_scan **out, errmsg *e)
{
    *out = NULL;
    pq_scan *s = sl_calloc(1, sizeof *s);
    if (!s)
        return SL_ENOMEM;
    s->r = r;
    s->f = pq_footer_ref(r->f);
    s->batch_rows = opts && opts->batch_rows > 0 ? opts->batch_rows : DEFAULT_BATCH_ROWS;
    if (s->batch_rows > MAX_BATCH_ROWS)
        s->batch_rows = MAX_BATCH_ROWS;
    s->max_page = opts && opts->max_page_bytes ? opts->max_page_bytes : DEFAULT_MAX_PAGE;
    int rc = project(s, opts, e);
    if (!rc)
        rc = prune(s, opts, e);
    if (rc) {
        pq_scan_close(s);
        return rc;
    }
    *out = s;
    return SL_OK;
}

int pq_scan_open(pq_reader *r, const pq_scan_opts *opts, pq_scan **out, errmsg *e)
{
    return pq_msg(e, pq_scan_open_impl(r, opts, out, e), "opening a scan");
}

int pq_scan_row_groups(const pq_scan *s)
{
    return s->nrgs;
}

static int pq_scan_next_impl(pq_scan *s, col_batch **out, errmsg *e)
{
    *out = NULL;
    int rc;
    while (s->rg_left == 0) {
        if (s->irg >= s->nrgs)
            return SL_OK;
        if (dyn_skip(s, s->rgs[s->irg])) {
            s->irg++;
            continue;
        }
        if ((rc = start_row_group(s, s->rgs[s->irg++], e)))
            return rc;
    }
    int64_t n = s->rg_left < s->batch_rows ? s->rg_left : s->batch_rows;
    col_batch *b;
    if ((rc = col_batch_new(s->schema, &b)))
        return rc;
    for (int i = 0; i < s->ncols && !rc; i++)
        rc = read_column(s, &s->cols[i], &b->cols[i], n, e);
    if (rc) {
        col_batch_release(b);
        s->rg_left = 0;
        s->irg = s->nrgs; /* a failed scan stays failed */
        return rc;
    }
    b->nrows = n;
    s->rg_left -= n;
    *out = b;
    return SL_OK;
}

int pq_scan_next(pq_scan *s, col_batch **out, errmsg *e)
{
    return pq_msg(e, pq_scan_next_impl(s, out, e), "reading rows");
}

void pq_scan_close(pq_scan *s)
{
    if (!s)
        return;
    for (int i = 0; s->cols && i < s->ncols; i++) {
        rcol *c = &s->cols[i];
        col_dict_unref(c->dict);
        sl_free(c->dict_fixed);
        sl_free(c->dv);
        dbuf_free(&c->page);
        dbuf_free(&c->prev);
    }
    sl_free(s->cols);
    sl_free(s->rgs);
    sl_free(s->u32);
    sl_free(s->f32);
    col_schema_unref(s->schema);
    pq_footer_unref(s->f);
    pq_codec_ctx_free(&s->codec);
    sl_free(s);
}
