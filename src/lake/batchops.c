/*
 * batchops.c - gathering, slicing and projecting batches (see batchops.h).
 */
#include "lake/batchops.h"

#include "base/alloc.h"
#include "base/err.h"

#include <string.h>

/* Appends row r of v to out (same type; a COL_DICT v into a COL_STRING out is expanded). */
static int append_row(col_vec *out, const col_vec *v, int64_t r)
{
    if (!col_vec_is_valid(v, r))
        return col_vec_append_null(out);
    switch (v->type) {
    case COL_BOOL:
        return col_vec_append_bool(out, col_vec_bool(v, r));
    case COL_INT32:
    case COL_UINT32:
        return v->type == COL_INT32 ? col_vec_append_i32(out, col_vec_i32(v, r))
                                    : col_vec_append_u32(out, (uint32_t)col_vec_i32(v, r));
    case COL_INT64:
    case COL_TS_NS:
        return col_vec_append_i64(out, col_vec_i64(v, r));
    case COL_UINT64:
        return col_vec_append_u64(out, (uint64_t)col_vec_i64(v, r));
    case COL_DOUBLE:
        return col_vec_append_f64(out, col_vec_f64(v, r));
    case COL_FIXED16:
        return col_vec_append_fixed16(out, v->values->p + 16 * r);
    case COL_STRING:
    case COL_BINARY:
    case COL_DICT: {
        if (out->type == COL_DICT)
            return col_vec_append_key(out, col_vec_key(v, r));
        size_t l; /* a string, or the string a key stands for */
        const uint8_t *p = col_vec_str(v, r, &l);
        return col_vec_append_str(out, p, l);
    }
    }
    return SL_EINVAL;
}

/*
 * Empties out and types it like v0, the first of the vectors its rows come from:
 * a dictionary column keeps v0's dictionary when every source shares it
 * (shared), else comes out as plain strings.
 */
static void init_like(col_vec *out, const col_vec *v0, int shared)
{
    col_vec_release(out);
    if (v0->type == COL_DICT && !shared) {
        col_vec_init(out, COL_STRING, 0);
        return;
    }
    col_vec_init(out, v0->type, v0->key_bytes);
    if (v0->type == COL_DICT)
        col_vec_set_dict(out, v0->dict);
}

/* Fixed-width columns without nulls: one memcpy per row, no per-type dispatch. */
static int gather_fixed(col_vec *out, const col_vec *v, const int64_t *rows, int64_t n)
{
    size_t w = col_type_width(v->type, v->key_bytes);
    col_buf *b = col_buf_new_uninit(w * (size_t)(n ? n : 1));
    if (!b)
        return SL_ENOMEM;
    const uint8_t *src = v->values->p;
    for (int64_t i = 0; i < n; i++)
        memcpy(b->p + (size_t)i * w, src + (size_t)rows[i] * w, w);
    b->len_bytes = w * (size_t)n;
    out->values = b;
    out->len = n;
    return SL_OK;
}

/* Hands the built batch out, or releases it when building failed. */
static int finish(col_batch *o, int rc, int64_t n, col_batch **out)
{
    if (rc) {
        col_batch_release(o);
        return rc;
    }
    o->nrows = n;
    *out = o;
    return SL_OK;
}

int lake_batch_gather(const col_batch *b, const int64_t *rows, int64_t n, col_batch **out)
{
    col_batch *o;
    int rc = col_batch_new(col_schema_ref(b->schema), &o);
    col_schema_unref(b->schema);
    if (rc)
        return rc;
    for (int c = 0; c < b->ncols && !rc; c++) {
        const col_vec *v = &b->cols[c];
        col_vec *ov = &o->cols[c];
        init_like(ov, v, 1);
        if (!v->validity && v->type != COL_BOOL && v->type != COL_STRING &&
            v->type != COL_BINARY) {
            rc = gather_fixed(ov, v, rows, n);
            continue;
        }
        for (int64_t i = 0; i < n && !rc; i++)
            rc = append_row(ov, v, rows[i]);
    }
    return finish(o, rc, n, out);
}

int lake_batch_gather_multi(col_batch *const *srcs, const int *src, const int64_t *rows,
                            int64_t n, col_batch **out)
{
    col_batch *o;
    col_schema *schema = srcs[src[0]]->schema; /* a source no row comes from may be NULL */
    int rc = col_batch_new(col_schema_ref(schema), &o);
    col_schema_unref(schema);
    if (rc)
        return rc;
    for (int c = 0; c < o->ncols && !rc; c++) {
        /* Dictionaries of different sources cannot share keys: then write strings. */
        const col_vec *v0 = &srcs[src[0]]->cols[c];
        int same = 1;
        for (int64_t i = 1; i < n && same; i++)
            same = srcs[src[i]]->cols[c].type == v0->type && srcs[src[i]]->cols[c].dict == v0->dict;
        init_like(&o->cols[c], v0, same);
        for (int64_t i = 0; i < n && !rc; i++)
            rc = append_row(&o->cols[c], &srcs[src[i]]->cols[c], rows[i]);
    }
    return finish(o, rc, n, out);
}

int lake_batch_slice(const col_batch *b, int64_t start, int64_t n, col_batch **out)
{
    int64_t *rows = sl_malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    if (!rows)
        return SL_ENOMEM;
    for (int64_t i = 0; i < n; i++)
        rows[i] = start + i;
    int rc = lake_batch_gather(b, rows, n, out);
    sl_free(rows);
    return rc;
}

int lake_batch_project(const col_batch *b, col_schema *schema, const int *idx, col_batch **out)
{
    col_batch *o;
    int rc = col_batch_new(schema, &o);
    if (rc)
        return rc;
    for (int c = 0; c < o->ncols; c++) {
        const col_vec *v = &b->cols[idx[c]];
        col_vec *ov = &o->cols[c];
        col_vec_release(ov);
        *ov = *v;
        if (ov->validity)
            col_buf_ref(ov->validity);
        if (ov->values)
            col_buf_ref(ov->values);
        if (ov->data)
            col_buf_ref(ov->data);
        if (ov->dict)
            col_dict_ref(ov->dict);
    }
    o->nrows = b->nrows;
    *out = o;
    return SL_OK;
}
