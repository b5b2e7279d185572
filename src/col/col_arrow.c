/*
 * col_arrow.c - Arrow C Data Interface export (zero-copy) and import (copy).
 *
 * Export allocates one private block per exported node holding the format
 * string, the name, the buffer pointer table, child pointers and references
 * to the col_bufs.  Release callbacks release children first, drop the
 * references, free the block and set release to NULL, as the specification
 * requires.  Buffers that a vector does not have (an empty vector allocates
 * nothing) are exported as pointers to a static zeroed block, because some
 * consumers refuse NULL offsets even for zero rows.
 */
#include "col/col_arrow.h"

#include "base/alloc.h"

#include <stdio.h>
#include <string.h>

static const uint64_t g_zeros[2];

/* --- export ---------------------------------------------------------------- */

typedef struct schema_priv {
    char *name;
    char format[16];
    struct ArrowSchema **child_ptrs;
    struct ArrowSchema *children;
    struct ArrowSchema dict;
} schema_priv;

typedef struct array_priv {
    col_buf *bufs[3];
    const void *buf_ptrs[3];
    struct ArrowArray **child_ptrs;
    struct ArrowArray *children;
    struct ArrowArray dict;
} array_priv;

static void release_schema(struct ArrowSchema *s)
{
    if (!s || !s->release)
        return;
    schema_priv *p = s->private_data;
    for (int64_t i = 0; i < s->n_children; i++)
        if (s->children[i]->release)
            s->children[i]->release(s->children[i]);
    if (s->dictionary && s->dictionary->release)
        s->dictionary->release(s->dictionary);
    sl_free(p->name);
    sl_free(p->child_ptrs);
    sl_free(p->children);
    sl_free(p);
    s->release = NULL;
}

static void release_array(struct ArrowArray *a)
{
    if (!a || !a->release)
        return;
    array_priv *p = a->private_data;
    for (int64_t i = 0; i < a->n_children; i++)
        if (a->children[i]->release)
            a->children[i]->release(a->children[i]);
    if (a->dictionary && a->dictionary->release)
        a->dictionary->release(a->dictionary);
    for (int i = 0; i < 3; i++)
        col_buf_unref(p->bufs[i]);
    sl_free(p->child_ptrs);
    sl_free(p->children);
    sl_free(p);
    a->release = NULL;
}

static const char *format_of(const col_vec *v)
{
    switch (v->type) {
    case COL_BOOL:
        return "b";
    case COL_INT32:
        return "i";
    case COL_INT64:
        return "l";
    case COL_UINT32:
        return "I";
    case COL_UINT64:
        return "L";
    case COL_DOUBLE:
        return "g";
    case COL_TS_NS:
        return "tsn:UTC";
    case COL_STRING:
        return "u";
    case COL_BINARY:
        return "z";
    case COL_FIXED16:
        return "w:16";
    case COL_DICT:
        switch (v->key_bytes) {
        case 1:
            return "C";
        case 2:
            return "S";
        case 4:
            return "I";
        default:
            return "L";
        }
    }
    return NULL;
}

static int schema_node(struct ArrowSchema *s, const char *format, const char *name, int64_t flags,
                       int64_t nchildren)
{
    memset(s, 0, sizeof *s);
    schema_priv *p = sl_calloc(1, sizeof *p);
    if (!p)
        return SL_ENOMEM;
    p->name = sl_strdup(name ? name : "");
    p->child_ptrs = sl_calloc((size_t)nchildren + 1, sizeof *p->child_ptrs);
    p->children = sl_calloc((size_t)nchildren + 1, sizeof *p->children);
    if (!p->name || !p->child_ptrs || !p->children) {
        sl_free(p->name);
        sl_free(p->child_ptrs);
        sl_free(p->children);
        sl_free(p);
        return SL_ENOMEM;
    }
    snprintf(p->format, sizeof p->format, "%s", format);
    for (int64_t i = 0; i < nchildren; i++)
        p->child_ptrs[i] = &p->children[i];
    *s = (struct ArrowSchema){.format = p->format,
                              .name = p->name,
                              .flags = flags,
                              .n_children = nchildren,
                              .children = p->child_ptrs,
                              .release = release_schema,
                              .private_data = p};
    return SL_OK;
}

static int array_node(struct ArrowArray *a, int64_t len, int64_t nulls, int64_t nbufs,
                      int64_t nchildren)
{
    memset(a, 0, sizeof *a);
    array_priv *p = sl_calloc(1, sizeof *p);
    if (!p)
        return SL_ENOMEM;
    p->child_ptrs = sl_calloc((size_t)nchildren + 1, sizeof *p->child_ptrs);
    p->children = sl_calloc((size_t)nchildren + 1, sizeof *p->children);
    if (!p->child_ptrs || !p->children) {
        sl_free(p->child_ptrs);
        sl_free(p->children);
        sl_free(p);
        return SL_ENOMEM;
    }
    for (int64_t i = 0; i < nchildren; i++)
        p->child_ptrs[i] = &p->children[i];
    *a = (struct ArrowArray){.length = len,
                             .null_count = nulls,
                             .n_buffers = nbufs,
                             .n_children = nchildren,
                             .buffers = p->buf_ptrs,
                             .children = p->child_ptrs,
                             .release = release_array,
                             .private_data = p};
    return SL_OK;
}

/* Sets buffer slot i to a reference on b, or to the zero block. */
static void array_buf(struct ArrowArray *a, int i, col_buf *b, bool may_be_null)
{
    array_priv *p = a->private_data;
    p->bufs[i] = col_buf_ref(b);
    p->buf_ptrs[i] = b ? (const void *)b->p : may_be_null ? NULL : (const void *)g_zeros;
}

static int export_array(const col_vec *v, struct ArrowArray *a)
{
    bool str = v->type == COL_STRING || v->type == COL_BINARY;
    int rc = array_node(a, v->len, v->null_count, str ? 3 : 2, 0);
    if (rc)
        return rc;
    array_buf(a, 0, v->null_count ? v->validity : NULL, true);
    array_buf(a, 1, v->values, false);
    if (str)
        array_buf(a, 2, v->data, false);
    if (v->type == COL_DICT) {
        array_priv *p = a->private_data;
        rc = export_array(&v->dict->strings, &p->dict);
        if (rc) {
            release_array(a);
            return rc;
        }
        a->dictionary = &p->dict;
    }
    return SL_OK;
}

static int export_schema(const col_vec *v, const char *name, bool nullable, struct ArrowSchema *s)
{
    int rc = schema_node(s, format_of(v), name, nullable ? ARROW_FLAG_NULLABLE : 0, 0);
    if (rc || v->type != COL_DICT)
        return rc;
    schema_priv *p = s->private_data;
    rc = schema_node(&p->dict, "u", "", 0, 0);
    if (rc) {
        release_schema(s);
        return rc;
    }
    s->dictionary = &p->dict;
    return SL_OK;
}

int col_vec_export(const col_vec *v, const char *name, bool nullable,
                   struct ArrowSchema *out_schema, struct ArrowArray *out_array)
{
    if (!col_type_is_valid(v->type, v->key_bytes) || (v->type == COL_DICT && !v->dict))
        return SL_EINVAL;
    int rc = export_schema(v, name, nullable, out_schema);
    if (rc)
        return rc;
    rc = export_array(v, out_array);
    if (rc)
        release_schema(out_schema);
    return rc;
}

int col_batch_export(const col_batch *b, struct ArrowSchema *out_schema,
                     struct ArrowArray *out_array)
{
    int rc = col_batch_validate(b);
    if (rc)
        return rc;
    rc = schema_node(out_schema, "+s", "", 0, b->ncols);
    if (rc)
        return rc;
    rc = array_node(out_array, b->nrows, 0, 1, b->ncols);
    if (rc) {
        release_schema(out_schema);
        return rc;
    }
    array_buf(out_array, 0, NULL, true);
    for (int i = 0; i < b->ncols && !rc; i++) {
        const col_field *f = &b->schema->fields[i];
        rc = col_vec_export(&b->cols[i], f->name, f->nullable, out_schema->children[i],
                            out_array->children[i]);
    }
    if (rc) {
        release_schema(out_schema);
        release_array(out_array);
    }
    return rc;
}

/* --- import ---------------------------------------------------------------- */

typedef struct fmt_info {
    col_type type;
    uint8_t key_bytes;
    bool key_signed;
} fmt_info;

static int parse_format(const char *f, fmt_info *out)
{
    static const struct {
        const char *f;
        col_type t;
    } plain[] = {{"b", COL_BOOL},          {"i", COL_INT32},  {"l", COL_INT64},
                 {"I", COL_UINT32},        {"L", COL_UINT64}, {"g", COL_DOUBLE},
                 {"u", COL_STRING},        {"z", COL_BINARY}, {"tsn:UTC", COL_TS_NS},
                 {"tsn:+00:00", COL_TS_NS}, {"w:16", COL_FIXED16}};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if (strcmp(f, plain[i].f) == 0) {
            *out = (fmt_info){plain[i].t, 0, false};
            return SL_OK;
        }
    return SL_EUNSUPPORTED;
}

static int key_format(const char *f, fmt_info *out)
{
    static const char keys[] = "cCsSiIlL";
    if (strlen(f) != 1 || !strchr(keys, f[0]))
        return SL_EUNSUPPORTED;
    int pos = (int)(strchr(keys, f[0]) - keys);
    *out = (fmt_info){COL_DICT, (uint8_t)(1u << (pos / 2)), pos % 2 == 0};
    return SL_OK;
}

/* Copies n bits from src starting at bit src_off to dst starting at bit 0. */
static void copy_bits(uint8_t *dst, const uint8_t *src, int64_t src_off, int64_t n)
{
    if ((src_off & 7) == 0) {
        memcpy(dst, src + src_off / 8, (size_t)(n + 7) / 8);
        if (n & 7)
            dst[n / 8] &= (uint8_t)((1u << (n & 7)) - 1);
        return;
    }
    memset(dst, 0, (size_t)(n + 7) / 8);
    for (int64_t i = 0; i < n; i++) {
        int64_t j = src_off + i;
        if ((src[j >> 3] >> (j & 7)) & 1)
            dst[i >> 3] |= (uint8_t)(1u << (i & 7));
    }
}

static int64_t count_zero_bits(const uint8_t *p, int64_t n)
{
    int64_t ones = 0;
    for (int64_t i = 0; i < n / 8; i++)
        ones += __builtin_popcount(p[i]);
    for (int64_t i = n & ~(int64_t)7; i < n; i++)
        ones += (p[i >> 3] >> (i & 7)) & 1;
    return n - ones;
}

static int import_strings(const struct ArrowArray *a, col_vec *out, errmsg *e)
{
    /* No rows: nothing to copy, and the offsets buffer may be NULL. */
    if (a->length == 0)
        return SL_OK;
    const int32_t *o = (const int32_t *)a->buffers[1] + a->offset;
    const uint8_t *data = a->buffers[2];
    if (o[0] < 0 || o[a->length] < o[0] || !data)
        return errmsg_set(e, SL_EINVAL, "arrow import: bad string offsets");
    size_t bytes = (size_t)(o[a->length] - o[0]);
    int rc = col_vec_reserve(out, a->length, bytes);
    if (rc)
        return errmsg_set(e, rc, "arrow import: %lld strings of %zu bytes", (long long)a->length,
                          bytes);
    int32_t *dst = (int32_t *)(void *)out->values->p;
    for (int64_t i = 0; i <= a->length; i++) {
        if (i > 0 && o[i] < o[i - 1])
            return errmsg_set(e, SL_EINVAL, "arrow import: string offsets decrease at %lld",
                              (long long)i);
        dst[i] = o[i] - o[0];
    }
    if (bytes)
        memcpy(out->data->p, data + o[0], bytes);
    out->data->len_bytes = bytes;
    return SL_OK;
}

static int import_dict(const struct ArrowSchema *s, const struct ArrowArray *a, col_vec *out,
                       bool key_signed, errmsg *e)
{
    if (!s->dictionary || !a->dictionary)
        return errmsg_set(e, SL_EINVAL, "arrow import: dictionary keys without a dictionary");
    col_dict *d = col_dict_new();
    if (!d)
        return SL_ENOMEM;
    int rc = col_vec_import(s->dictionary, a->dictionary, &d->strings, NULL, e);
    if (!rc && (d->strings.type != COL_STRING || d->strings.null_count))
        rc =
            errmsg_set(e, SL_EUNSUPPORTED, "arrow import: dictionary values must be non-null utf8");
    if (!rc)
        col_vec_set_dict(out, d);
    col_dict_unref(d);
    if (rc)
        return rc;
    /* Every valid key must index the dictionary; null rows are zeroed. */
    uint64_t n = (uint64_t)out->dict->strings.len;
    for (int64_t i = 0; i < out->len; i++) {
        if (!col_vec_is_valid(out, i)) {
            memset(out->values->p + (size_t)i * out->key_bytes, 0, out->key_bytes);
            continue;
        }
        uint64_t k = col_vec_key(out, i);
        bool neg = key_signed && (k >> (8 * out->key_bytes - 1)) & 1;
        if (neg || k >= n)
            return errmsg_set(e, SL_EINVAL,
                              "arrow import: key %llu at row %lld outside dictionary of %llu",
                              (unsigned long long)k, (long long)i, (unsigned long long)n);
    }
    return SL_OK;
}

int col_vec_import(const struct ArrowSchema *s, const struct ArrowArray *a, col_vec *out,
                   col_field *field_out, errmsg *e)
{
    fmt_info fi;
    int rc;
    if (!s || !a || !s->format || !a->release)
        return errmsg_set(e, SL_EINVAL, "arrow import: missing or released struct");
    rc = s->dictionary ? key_format(s->format, &fi) : parse_format(s->format, &fi);
    if (rc)
        return errmsg_set(e, rc, "arrow import: format \"%.40s\" is not supported", s->format);
    col_vec_init(out, fi.type, fi.key_bytes);
    int64_t nbufs = fi.type == COL_STRING || fi.type == COL_BINARY ? 3 : 2;
    if (a->length < 0 || a->offset < 0 || a->length > INT32_MAX || a->n_buffers != nbufs ||
        !a->buffers)
        return errmsg_set(e, SL_EINVAL, "arrow import: bad length, offset or buffer count");
    if (field_out)
        *field_out =
            (col_field){NULL, fi.type, fi.key_bytes, (s->flags & ARROW_FLAG_NULLABLE) != 0};
    rc = col_vec_reserve(out, a->length, 0);
    if (rc)
        return rc;
    const uint8_t *valid = a->buffers[0];
    if (valid && a->null_count != 0 && a->length > 0) {
        rc = col_vec_need_validity(out, a->length);
        if (rc)
            return rc;
        copy_bits(out->validity->p, valid, a->offset, a->length);
        out->null_count = count_zero_bits(out->validity->p, a->length);
    }
    const uint8_t *vals = a->buffers[1];
    if (!vals && a->length > 0)
        return errmsg_set(e, SL_EINVAL, "arrow import: missing values buffer");
    size_t w = col_type_width(fi.type, fi.key_bytes);
    if (fi.type == COL_BOOL && a->length > 0)
        copy_bits(out->values->p, vals, a->offset, a->length);
    else if (fi.type == COL_STRING || fi.type == COL_BINARY)
        rc = import_strings(a, out, e);
    else if (a->length > 0)
        memcpy(out->values->p, vals + (size_t)a->offset * w, (size_t)a->length * w);
    out->len = a->length;
    out->values->len_bytes = col_vec_values_bytes(out, out->len);
    if (!rc && fi.type == COL_DICT)
        rc = import_dict(s, a, out, fi.key_signed, e);
    return rc;
}

static int import_children(const struct ArrowSchema *s, const struct ArrowArray *a, col_batch **out,
                           errmsg *e)
{
    if (!s->format || strcmp(s->format, "+s") != 0 || s->n_children != a->n_children ||
        s->n_children < 0 || s->n_children > 100000 || a->length < 0 || a->offset != 0)
        return errmsg_set(e, SL_EINVAL, "arrow import: a batch must be a \"+s\" struct array");
    col_schema *sch = col_schema_new((int)s->n_children);
    if (!sch)
        return SL_ENOMEM;
    col_batch *b = NULL;
    int rc = col_batch_new(sch, &b);
    for (int i = 0; i < sch->ncols && !rc; i++) {
        col_field f;
        rc = col_vec_import(s->children[i], a->children[i], &b->cols[i], &f, e);
        if (rc)
            break;
        if (b->cols[i].len != a->length)
            rc = errmsg_set(e, SL_EINVAL, "arrow import: column %d has %lld rows, batch %lld", i,
                            (long long)b->cols[i].len, (long long)a->length);
        /* The field takes the vector's type (COL_DICT stays COL_DICT, with its
         * key width); it is nullable when declared so or when it has nulls. */
        if (!rc)
            rc = col_schema_set(sch, i, s->children[i]->name ? s->children[i]->name : "", f.type,
                                f.key_bytes, f.nullable || b->cols[i].null_count > 0);
    }
    if (rc) {
        col_batch_release(b);
        col_schema_unref(sch);
        return rc;
    }
    b->nrows = a->length;
    col_schema_unref(sch); /* the batch holds its own reference */
    *out = b;
    return SL_OK;
}

int col_batch_import(struct ArrowSchema *s, struct ArrowArray *a, col_batch **out, errmsg *e)
{
    *out = NULL;
    int rc = (s && a && s->release && a->release)
                 ? import_children(s, a, out, e)
                 : errmsg_set(e, SL_EINVAL, "arrow import: missing or released struct");
    if (a && a->release)
        a->release(a);
    if (s && s->release)
        s->release(s);
    return rc;
}
