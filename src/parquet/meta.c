/*
 * meta.c - decode and encode Parquet metadata in the Thrift compact protocol.
 *
 * Each decoder reads one struct: a loop over field headers, a switch on the
 * field id for the fields we keep, tr_skip for every other one.  A field that
 * arrives with an unexpected type is skipped as unknown rather than misread,
 * then the required-field checks report it missing.  Errors name the struct
 * and the absolute file offset.
 */
#include "parquet/meta.h"

#include "parquet/thrift.h"

#include <stdio.h>
#include <string.h>

typedef struct dec {
    tr t;
    arena *a;
    errmsg *e;
    int rc; /* first error, sticky like rd's */
} dec;

static int fail(dec *d, int code, const char *what)
{
    if (!d->rc) {
        d->rc = code;
        errmsg_set(d->e, code, "parquet metadata: %s at byte %zu", what, tr_off(&d->t));
        rd_fail(&d->t.r, code);
    }
    return d->rc;
}

/* Checks the reader's sticky error; returns nonzero when decoding must stop. */
static int check(dec *d, const char *where)
{
    if (d->rc)
        return d->rc;
    if (d->t.r.err) {
        const char *why = d->t.r.err == SL_ETRUNC ? "truncated" : "malformed thrift";
        char msg[96];
        snprintf(msg, sizeof msg, "%s in %s", why, where);
        int code = d->t.r.err;
        d->t.r.err = 0; /* let fail() record the position */
        d->t.r.p = d->t.r.base + d->t.r.err_off;
        return fail(d, code, msg);
    }
    return 0;
}

/* True when no error is pending; reports a pending reader error first, so a
 * required-field complaint never hides the malformed byte that caused it. */
static bool ok(dec *d, const char *where)
{
    return check(d, where) == 0;
}

static const char *dec_str(dec *d)
{
    size_t n;
    const uint8_t *p = tr_bin(&d->t, &n);
    if (!p)
        return NULL;
    char *z = arena_strndup(d->a, (const char *)p, n);
    if (!z)
        fail(d, SL_ENOMEM, "metadata over its memory cap");
    return z;
}

static void *dec_array(dec *d, size_t n, size_t size)
{
    void *p = arena_zalloc(d->a, (n ? n : 1) * size);
    if (!p)
        fail(d, SL_ENOMEM, "metadata over its memory cap");
    return p;
}

/* Iterates the fields of a struct: `FIELDS(d) { switch (id) ... }`. */
#define FIELDS(d, name)                                                                            \
    for (int16_t last_ = 0, id = 0, once_ = (int16_t)(tr_enter(&(d)->t) == 0); once_;              \
         once_ = 0, tr_leave(&(d)->t))                                                             \
        for (uint8_t ty = 0; !check(d, name) && tr_field(&(d)->t, &last_, &id, &ty) == 1;)

static bool is_int(uint8_t ty)
{
    return ty == TT_I8 || ty == TT_I16 || ty == TT_I32 || ty == TT_I64;
}

static int32_t get_i32(dec *d, uint8_t ty)
{
    int64_t v = tr_int_typed(&d->t, ty);
    if (v < INT32_MIN || v > INT32_MAX)
        fail(d, SL_ECORRUPT, "i32 field out of range");
    return (int32_t)v;
}

static void dec_bytes(dec *d, pq_bytes *b)
{
    b->p = tr_bin(&d->t, &b->n);
}

static void dec_stats(dec *d, pq_stats *s)
{
    memset(s, 0, sizeof *s);
    FIELDS(d, "Statistics")
    {
        if (ty == TT_BINARY && id >= 1 && id <= 6 && id != 3 && id != 4) {
            pq_bytes *dst = id == 1   ? &s->max
                            : id == 2 ? &s->min
                            : id == 5 ? &s->max_value
                                      : &s->min_value;
            dec_bytes(d, dst);
            s->has |= 1u << (id - 1);
        } else if ((id == 3 || id == 4) && is_int(ty)) {
            int64_t v = tr_int_typed(&d->t, ty);
            if (id == 3)
                s->null_count = v;
            else
                s->distinct_count = v;
            s->has |= 1u << (id - 1);
        } else {
            tr_skip(&d->t, ty);
        }
    }
}

static void dec_unit(dec *d, pq_logical *lt)
{
    FIELDS(d, "TimeUnit")
    {
        if (ty == TT_STRUCT && id >= 1 && id <= 3)
            lt->unit = (uint8_t)id;
        tr_skip(&d->t, ty);
    }
}

/* TimestampType / TimeType / IntType / DecimalType share this small reader. */
static void dec_lt_member(dec *d, pq_logical *lt)
{
    FIELDS(d, "LogicalType member")
    {
        if (lt->kind == PQ_LT_TIMESTAMP || lt->kind == PQ_LT_TIME) {
            if (id == 1 && (ty == TT_TRUE || ty == TT_FALSE))
                lt->utc = ty == TT_TRUE;
            else if (id == 2 && ty == TT_STRUCT)
                dec_unit(d, lt);
            else
                tr_skip(&d->t, ty);
        } else if (lt->kind == PQ_LT_INTEGER) {
            if (id == 1 && is_int(ty))
                lt->bit_width = (int8_t)tr_int_typed(&d->t, ty);
            else if (id == 2 && (ty == TT_TRUE || ty == TT_FALSE))
                lt->is_signed = ty == TT_TRUE;
            else
                tr_skip(&d->t, ty);
        } else if (lt->kind == PQ_LT_DECIMAL && is_int(ty) && (id == 1 || id == 2)) {
            if (id == 1)
                lt->scale = get_i32(d, ty);
            else
                lt->precision = get_i32(d, ty);
        } else {
            tr_skip(&d->t, ty);
        }
    }
}

static void dec_logical(dec *d, pq_logical *lt)
{
    FIELDS(d, "LogicalType")
    {
        if (ty != TT_STRUCT) {
            tr_skip(&d->t, ty);
            continue;
        }
        /* A union: the member id is the kind; unknown kinds stay "unknown to us". */
        lt->kind = id > 0 && id < 64 ? (uint8_t)id : PQ_LT_NONE;
        dec_lt_member(d, lt);
    }
}

static void dec_schema_el(dec *d, pq_schema_el *s)
{
    *s = (pq_schema_el){-1, -1, -1, NULL, -1, -1, -1, -1, -1, {0}};
    FIELDS(d, "SchemaElement")
    {
        if (id == 4 && ty == TT_BINARY)
            s->name = dec_str(d);
        else if (id == 10 && ty == TT_STRUCT)
            dec_logical(d, &s->lt);
        else if (id >= 1 && id <= 9 && id != 4 && is_int(ty)) {
            int32_t v = get_i32(d, ty);
            int32_t *dst[] = {NULL,          &s->type,         &s->type_length, &s->repetition,
                              NULL,          &s->num_children, &s->converted,   &s->scale,
                              &s->precision, &s->field_id};
            *dst[id] = v;
        } else
            tr_skip(&d->t, ty);
    }
    if (ok(d, "SchemaElement") && !s->name)
        fail(d, SL_ECORRUPT, "SchemaElement without a name");
}

static void dec_kv(dec *d, pq_kv *kv)
{
    FIELDS(d, "KeyValue")
    {
        if (id == 1 && ty == TT_BINARY)
            kv->key = dec_str(d);
        else if (id == 2 && ty == TT_BINARY) {
            size_t n;
            const uint8_t *p = tr_bin(&d->t, &n);
            kv->value = p ? arena_strndup(d->a, (const char *)p, n) : NULL;
            kv->value_len = n;
            if (p && !kv->value)
                fail(d, SL_ENOMEM, "metadata over its memory cap");
        } else
            tr_skip(&d->t, ty);
    }
    if (ok(d, "KeyValue") && !kv->key)
        fail(d, SL_ECORRUPT, "KeyValue without a key");
}

/* Reads a list header of structs and allocates n elements of size. */
static void *dec_list(dec *d, uint8_t want, size_t size, int *n_out)
{
    uint8_t et;
    size_t n;
    *n_out = 0;
    if (tr_list(&d->t, &et, &n) || check(d, "list header"))
        return NULL;
    if (et != want || n > INT32_MAX) {
        fail(d, SL_ECORRUPT, "list of an unexpected element type");
        return NULL;
    }
    void *arr = dec_array(d, n, size);
    if (arr)
        *n_out = (int)n;
    return arr;
}

static void dec_col_meta(dec *d, pq_chunk *c)
{
    int n;
    FIELDS(d, "ColumnMetaData")
    {
        switch (id) {
        case 1:
            c->type = is_int(ty) ? get_i32(d, ty) : (tr_skip(&d->t, ty), -1);
            break;
        case 2: {
            if (ty != TT_LIST) {
                tr_skip(&d->t, ty);
                break;
            }
            int32_t *tmp = dec_list(d, TT_I32, sizeof(int32_t), &n);
            for (int i = 0; tmp && i < n && !check(d, "encodings"); i++) {
                int64_t enc = tr_int(&d->t);
                if (enc >= 0 && enc < 32)
                    c->encodings |= 1u << enc;
            }
            break;
        }
        case 3: {
            if (ty != TT_LIST) {
                tr_skip(&d->t, ty);
                break;
            }
            c->path = dec_list(d, TT_BINARY, sizeof(char *), &c->npath);
            for (int i = 0; c->path && i < c->npath && !check(d, "path_in_schema"); i++)
                c->path[i] = dec_str(d);
            break;
        }
        case 4:
            c->codec = is_int(ty) ? get_i32(d, ty) : (tr_skip(&d->t, ty), -1);
            break;
        case 5:
        case 6:
        case 7:
        case 9:
        case 10:
        case 11: {
            if (!is_int(ty)) {
                tr_skip(&d->t, ty);
                break;
            }
            int64_t v = tr_int_typed(&d->t, ty);
            int64_t *dst[] = {
                &c->num_values,       &c->total_uncompressed, &c->total_compressed,      NULL,
                &c->data_page_offset, &c->index_page_offset,  &c->dictionary_page_offset};
            *dst[id - 5] = v;
            break;
        }
        case 12:
            if (ty == TT_STRUCT)
                dec_stats(d, &c->stats);
            else
                tr_skip(&d->t, ty);
            break;
        default:
            tr_skip(&d->t, ty);
            break;
        }
    }
}

static void dec_chunk(dec *d, pq_chunk *c)
{
    memset(c, 0, sizeof *c);
    c->type = c->codec = -1;
    c->num_values = c->data_page_offset = -1;
    c->index_page_offset = c->dictionary_page_offset = -1;
    FIELDS(d, "ColumnChunk")
    {
        if (id == 1 && ty == TT_BINARY)
            c->file_path = dec_str(d);
        else if (id == 2 && is_int(ty))
            c->file_offset = tr_int_typed(&d->t, ty);
        else if (id == 3 && ty == TT_STRUCT) {
            c->has_meta = true;
            dec_col_meta(d, c);
        } else {
            if (id == 8 || id == 9)
                c->encrypted = true;
            tr_skip(&d->t, ty);
        }
    }
}

static void dec_row_group(dec *d, pq_row_group *g)
{
    memset(g, 0, sizeof *g);
    g->num_rows = -1;
    FIELDS(d, "RowGroup")
    {
        if (id == 1 && ty == TT_LIST) {
            g->cols = dec_list(d, TT_STRUCT, sizeof *g->cols, &g->ncols);
            for (int i = 0; g->cols && i < g->ncols && !check(d, "RowGroup.columns"); i++)
                dec_chunk(d, &g->cols[i]);
        } else if ((id == 2 || id == 3) && is_int(ty)) {
            int64_t v = tr_int_typed(&d->t, ty);
            if (id == 2)
                g->total_byte_size = v;
            else
                g->num_rows = v;
        } else
            tr_skip(&d->t, ty);
    }
    if (ok(d, "RowGroup") && (!g->cols || g->num_rows < 0))
        fail(d, SL_ECORRUPT, "RowGroup without columns or num_rows");
}

static void dec_column_orders(dec *d, pq_file_meta *m)
{
    uint8_t et;
    size_t n;
    if (tr_list(&d->t, &et, &n))
        return;
    if (et != TT_STRUCT) {
        for (size_t i = 0; i < n && !d->t.r.err; i++)
            tr_skip(&d->t, et == TT_TRUE || et == TT_FALSE ? TT_I8 : et);
        return;
    }
    bool all_type_order = n > 0;
    for (size_t i = 0; i < n && !check(d, "column_orders"); i++) {
        bool type_order = false;
        FIELDS(d, "ColumnOrder")
        {
            type_order |= id == 1 && ty == TT_STRUCT;
            tr_skip(&d->t, ty);
        }
        all_type_order &= type_order;
    }
    m->type_defined_order = all_type_order;
}

static void dec_file_meta(dec *d, pq_file_meta *m)
{
    bool has_version = false;
    FIELDS(d, "FileMetaData")
    {
        switch (id) {
        case 1:
            if (is_int(ty)) {
                m->version = get_i32(d, ty);
                has_version = true;
            } else
                tr_skip(&d->t, ty);
            break;
        case 2:
            if (ty != TT_LIST) {
                tr_skip(&d->t, ty);
                break;
            }
            m->schema = dec_list(d, TT_STRUCT, sizeof *m->schema, &m->nschema);
            for (int i = 0; m->schema && i < m->nschema && !check(d, "schema"); i++)
                dec_schema_el(d, &m->schema[i]);
            break;
        case 3:
            m->num_rows = is_int(ty) ? tr_int_typed(&d->t, ty) : (tr_skip(&d->t, ty), -1);
            break;
        case 4:
            if (ty != TT_LIST) {
                tr_skip(&d->t, ty);
                break;
            }
            m->rgs = dec_list(d, TT_STRUCT, sizeof *m->rgs, &m->nrgs);
            for (int i = 0; m->rgs && i < m->nrgs && !check(d, "row_groups"); i++)
                dec_row_group(d, &m->rgs[i]);
            break;
        case 5:
            if (ty != TT_LIST) {
                tr_skip(&d->t, ty);
                break;
            }
            m->kv = dec_list(d, TT_STRUCT, sizeof *m->kv, &m->nkv);
            for (int i = 0; m->kv && i < m->nkv && !check(d, "key_value_metadata"); i++)
                dec_kv(d, &m->kv[i]);
            break;
        case 6:
            if (ty == TT_BINARY)
                m->created_by = dec_str(d);
            else
                tr_skip(&d->t, ty);
            break;
        case 7:
            if (ty == TT_LIST)
                dec_column_orders(d, m);
            else
                tr_skip(&d->t, ty);
            break;
        case 8:
            m->encrypted = true;
            tr_skip(&d->t, ty);
            break;
        default:
            tr_skip(&d->t, ty);
            break;
        }
    }
    if (ok(d, "FileMetaData") && (!has_version || !m->schema || !m->rgs || m->num_rows < 0))
        fail(d, SL_ECORRUPT, "FileMetaData lacks version, schema, num_rows or row_groups");
}

int pq_meta_decode(const uint8_t *p, size_t n, size_t base_off, arena *a, pq_file_meta *out,
                   errmsg *e)
{
    memset(out, 0, sizeof *out);
    out->num_rows = -1;
    dec d = {.a = a, .e = e};
    tr_init(&d.t, p, n, base_off);
    dec_file_meta(&d, out);
    check(&d, "FileMetaData");
    return d.rc;
}

static void dec_page_sub(dec *d, pq_page_header *h, int16_t which)
{
    FIELDS(d, "page sub-header")
    {
        if (which == 8 && id == 7 && (ty == TT_TRUE || ty == TT_FALSE)) {
            h->is_compressed = ty == TT_TRUE;
            continue;
        }
        if (!is_int(ty) || id < 1 || id > 6) {
            tr_skip(&d->t, ty);
            continue;
        }
        int32_t v = get_i32(d, ty);
        /* Field ids per sub-header: DataPageHeader (5), DictionaryPageHeader
         * (7) and DataPageHeaderV2 (8) number their members differently. */
        int32_t *v1[] = {
            NULL, &h->num_values, &h->encoding, &h->def_encoding, &h->rep_encoding, NULL, NULL};
        int32_t *dict[] = {NULL, &h->num_values, &h->encoding, NULL, NULL, NULL, NULL};
        int32_t *v2[] = {NULL,         &h->num_values, &h->num_nulls, &h->num_rows,
                         &h->encoding, &h->def_len,    &h->rep_len};
        int32_t **tab = which == 5 ? v1 : which == 7 ? dict : v2;
        if (tab[id])
            *tab[id] = v;
    }
}

int pq_page_header_decode(const uint8_t *p, size_t n, size_t base_off, pq_page_header *h,
                          size_t *hdr_len, errmsg *e)
{
    memset(h, 0, sizeof *h);
    h->type = h->uncompressed_size = h->compressed_size = -1;
    h->num_values = h->encoding = h->def_len = h->rep_len = -1;
    h->is_compressed = true;
    dec d = {.e = e};
    tr_init(&d.t, p, n, base_off);
    FIELDS(&d, "PageHeader")
    {
        if (id >= 1 && id <= 3 && is_int(ty)) {
            int32_t v = get_i32(&d, ty);
            *(id == 1 ? &h->type : id == 2 ? &h->uncompressed_size : &h->compressed_size) = v;
        } else if (id == 4 && is_int(ty)) {
            h->has_crc = true;
            h->crc = (uint32_t)get_i32(&d, ty);
        } else if ((id == 5 || id == 7 || id == 8) && ty == TT_STRUCT) {
            bool match = (id == 5 && h->type == PQ_PAGE_DATA) ||
                         (id == 7 && h->type == PQ_PAGE_DICT) ||
                         (id == 8 && h->type == PQ_PAGE_DATA_V2);
            if (match) {
                h->has_sub = true;
                dec_page_sub(&d, h, id);
            } else
                tr_skip(&d.t, ty);
        } else
            tr_skip(&d.t, ty);
    }
    if (ok(&d, "PageHeader") && (h->type < 0 || h->uncompressed_size < 0 || h->compressed_size < 0))
        fail(&d, SL_ECORRUPT, "PageHeader lacks type or sizes");
    *hdr_len = rd_off(&d.t.r);
    return d.rc;
}

/* --- encoding -------------------------------------------------------------- */

static void enc_stats(tw *w, int16_t id, const pq_stats *s)
{
    tw_struct_begin(w, id);
    if (s->has & PQ_ST_MAX)
        tw_bin(w, 1, s->max.p, s->max.n);
    if (s->has & PQ_ST_MIN)
        tw_bin(w, 2, s->min.p, s->min.n);
    if (s->has & PQ_ST_NULLS)
        tw_i64(w, 3, s->null_count);
    if (s->has & PQ_ST_DISTINCT)
        tw_i64(w, 4, s->distinct_count);
    if (s->has & PQ_ST_MAX_VALUE)
        tw_bin(w, 5, s->max_value.p, s->max_value.n);
    if (s->has & PQ_ST_MIN_VALUE)
        tw_bin(w, 6, s->min_value.p, s->min_value.n);
    tw_struct_end(w);
}

static void enc_logical(tw *w, const pq_logical *lt)
{
    tw_struct_begin(w, 10);
    tw_struct_begin(w, lt->kind);
    if (lt->kind == PQ_LT_TIMESTAMP || lt->kind == PQ_LT_TIME) {
        tw_bool(w, 1, lt->utc);
        tw_struct_begin(w, 2);
        tw_struct_begin(w, lt->unit);
        tw_struct_end(w);
        tw_struct_end(w);
    } else if (lt->kind == PQ_LT_INTEGER) {
        tw_field(w, 1, TT_I8);
        uint8_t bw = (uint8_t)lt->bit_width;
        if (!w->err)
            w->err = dbuf_append(w->b, &bw, 1);
        tw_bool(w, 2, lt->is_signed);
    }
    tw_struct_end(w);
    tw_struct_end(w);
}

static void enc_schema_el(tw *w, const pq_schema_el *s)
{
    tw_struct_begin(w, 0);
    if (s->type >= 0)
        tw_i32(w, 1, s->type);
    if (s->type_length >= 0)
        tw_i32(w, 2, s->type_length);
    if (s->repetition >= 0)
        tw_i32(w, 3, s->repetition);
    tw_str(w, 4, s->name);
    if (s->num_children >= 0)
        tw_i32(w, 5, s->num_children);
    if (s->converted >= 0)
        tw_i32(w, 6, s->converted);
    if (s->lt.kind != PQ_LT_NONE)
        enc_logical(w, &s->lt);
    tw_struct_end(w);
}

static void enc_chunk(tw *w, const pq_chunk *c)
{
    tw_struct_begin(w, 0);
    tw_i64(w, 2, c->file_offset);
    tw_struct_begin(w, 3);
    tw_i32(w, 1, c->type);
    tw_list(w, 2, TT_I32, (size_t)__builtin_popcount(c->encodings));
    for (int e = 0; e < 32; e++)
        if (c->encodings & (1u << e))
            tw_raw_i32(w, e);
    tw_list(w, 3, TT_BINARY, (size_t)c->npath);
    for (int i = 0; i < c->npath; i++)
        tw_raw_bin(w, c->path[i], strlen(c->path[i]));
    tw_i32(w, 4, c->codec);
    tw_i64(w, 5, c->num_values);
    tw_i64(w, 6, c->total_uncompressed);
    tw_i64(w, 7, c->total_compressed);
    tw_i64(w, 9, c->data_page_offset);
    if (c->dictionary_page_offset >= 0)
        tw_i64(w, 11, c->dictionary_page_offset);
    if (c->stats.has)
        enc_stats(w, 12, &c->stats);
    tw_struct_end(w);
    tw_struct_end(w);
}

int pq_meta_encode(const pq_file_meta *m, dbuf *out)
{
    tw w;
    tw_init(&w, out);
    tw_i32(&w, 1, m->version);
    tw_list(&w, 2, TT_STRUCT, (size_t)m->nschema);
    for (int i = 0; i < m->nschema; i++)
        enc_schema_el(&w, &m->schema[i]);
    tw_i64(&w, 3, m->num_rows);
    tw_list(&w, 4, TT_STRUCT, (size_t)m->nrgs);
    for (int i = 0; i < m->nrgs; i++) {
        const pq_row_group *g = &m->rgs[i];
        tw_struct_begin(&w, 0);
        tw_list(&w, 1, TT_STRUCT, (size_t)g->ncols);
        for (int j = 0; j < g->ncols; j++)
            enc_chunk(&w, &g->cols[j]);
        tw_i64(&w, 2, g->total_byte_size);
        tw_i64(&w, 3, g->num_rows);
        tw_struct_end(&w);
    }
    if (m->nkv > 0) {
        tw_list(&w, 5, TT_STRUCT, (size_t)m->nkv);
        for (int i = 0; i < m->nkv; i++) {
            tw_struct_begin(&w, 0);
            tw_str(&w, 1, m->kv[i].key);
            if (m->kv[i].value)
                tw_bin(&w, 2, m->kv[i].value, m->kv[i].value_len);
            tw_struct_end(&w);
        }
    }
    if (m->created_by)
        tw_str(&w, 6, m->created_by);
    if (m->type_defined_order) {
        /* One ColumnOrder per leaf: TYPE_ORDER says min_value/max_value follow
         * the logical type's order (unsigned bytes for strings). */
        int nleaves = m->nschema > 0 ? m->nschema - 1 : 0;
        tw_list(&w, 7, TT_STRUCT, (size_t)nleaves);
        for (int i = 0; i < nleaves; i++) {
            tw_struct_begin(&w, 0);
            tw_struct_begin(&w, 1);
            tw_struct_end(&w);
            tw_struct_end(&w);
        }
    }
    tw_struct_end(&w); /* STOP of the top-level struct */
    return w.err;
}

int pq_page_header_encode(const pq_page_header *h, dbuf *out)
{
    tw w;
    tw_init(&w, out);
    tw_i32(&w, 1, h->type);
    tw_i32(&w, 2, h->uncompressed_size);
    tw_i32(&w, 3, h->compressed_size);
    if (h->has_crc)
        tw_i32(&w, 4, (int32_t)h->crc);
    if (h->type == PQ_PAGE_DATA) {
        tw_struct_begin(&w, 5);
        tw_i32(&w, 1, h->num_values);
        tw_i32(&w, 2, h->encoding);
        tw_i32(&w, 3, h->def_encoding);
        tw_i32(&w, 4, h->rep_encoding);
        tw_struct_end(&w);
    } else if (h->type == PQ_PAGE_DICT) {
        tw_struct_begin(&w, 7);
        tw_i32(&w, 1, h->num_values);
        tw_i32(&w, 2, h->encoding);
        tw_struct_end(&w);
    } else if (h->type == PQ_PAGE_DATA_V2) {
        tw_struct_begin(&w, 8);
        tw_i32(&w, 1, h->num_values);
        tw_i32(&w, 2, h->num_nulls);
        tw_i32(&w, 3, h->num_rows);
        tw_i32(&w, 4, h->encoding);
        tw_i32(&w, 5, h->def_len);
        tw_i32(&w, 6, h->rep_len);
        tw_bool(&w, 7, h->is_compressed);
        tw_struct_end(&w);
    }
    tw_struct_end(&w); /* STOP of the top-level struct */
    return w.err;
}

const char *pq_encoding_name(int enc)
{
    static const char *names[] = {"PLAIN",
                                  "GROUP_VAR_INT",
                                  "PLAIN_DICTIONARY",
                                  "RLE",
                                  "BIT_PACKED",
                                  "DELTA_BINARY_PACKED",
                                  "DELTA_LENGTH_BYTE_ARRAY",
                                  "DELTA_BYTE_ARRAY",
                                  "RLE_DICTIONARY",
                                  "BYTE_STREAM_SPLIT",
                                  "ALP"};
    return enc >= 0 && enc <= 10 ? names[enc] : "unknown";
}

const char *pq_codec_name(int codec)
{
    static const char *names[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO",
                                  "BROTLI",       "LZ4",    "ZSTD", "LZ4_RAW"};
    return codec >= 0 && codec <= 7 ? names[codec] : "unknown";
}

const char *pq_phys_name(int type)
{
    static const char *names[] = {"BOOLEAN", "INT32",  "INT64",      "INT96",
                                  "FLOAT",   "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"};
    return type >= 0 && type <= 7 ? names[type] : "unknown";
}
