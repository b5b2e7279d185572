/*
 * vec.c - batches, vectors and selections (see vec.h).
 */
#include "sql/exec/vec.h"

#include "base/alloc.h"
#include "base/err.h"

#include <string.h>

int sql_batch_new(int ncols, const sql_type *types, sql_batch **out)
{
    sql_batch *b = sl_calloc(1, sizeof *b);
    if (!b)
        return SL_ENOMEM;
    b->cols = sl_calloc((size_t)(ncols ? ncols : 1), sizeof *b->cols);
    if (!b->cols) {
        sl_free(b);
        return SL_ENOMEM;
    }
    b->ncols = ncols;
    b->types = types;
    for (int i = 0; types && i < ncols; i++)
        col_vec_init(&b->cols[i], sql_type_phys(types[i]), 0);
    *out = b;
    return SL_OK;
}

void sql_batch_clear(sql_batch *b)
{
    if (!b)
        return;
    for (int i = 0; i < b->ncols; i++)
        col_vec_release(&b->cols[i]);
    b->n = 0;
}

void sql_batch_free(sql_batch *b)
{
    if (!b)
        return;
    sql_batch_clear(b);
    sl_free(b->cols);
    sl_free(b);
}

int sql_vec_alloc(sql_vec *v, sql_type t, int64_t n)
{
    memset(v, 0, sizeof *v);
    col_type pt = sql_type_phys(t);
    col_vec_init(&v->v, pt, 0);
    if (pt == COL_STRING || pt == COL_BINARY)
        return col_vec_reserve(&v->v, n, 0); /* filled by appends */
    int rc = col_vec_reserve(&v->v, n, 0);
    if (rc)
        return rc;
    v->v.len = n;
    v->v.values->len_bytes = col_vec_values_bytes(&v->v, n);
    return SL_OK;
}

int sql_vec_const_null(sql_vec *v, sql_type t)
{
    memset(v, 0, sizeof *v);
    col_vec_init(&v->v, sql_type_phys(t), 0);
    v->is_const = true;
    return col_vec_append_null(&v->v);
}

void sql_vec_release(sql_vec *v)
{
    col_vec_release(&v->v);
    v->is_const = false;
}

int sql_vec_need_validity(sql_vec *v)
{
    return col_vec_need_validity(&v->v, v->v.len ? v->v.len : 1);
}

void sql_vec_share(const col_vec *v, col_vec *out)
{
    *out = *v;
    if (out->validity)
        col_buf_ref(out->validity);
    if (out->values)
        col_buf_ref(out->values);
    if (out->data)
        col_buf_ref(out->data);
    if (out->dict)
        col_dict_ref(out->dict);
}

static void gather_validity(const col_vec *src, const sql_sel *sel, col_vec *out)
{
    if (!src->validity)
        return;
    int64_t nulls = 0;
    for (int64_t i = 0; i < sel->n; i++) {
        int64_t r = sql_sel_row(sel, i);
        if (!col_vec_is_valid(src, r)) {
            out->validity->p[i >> 3] &= (uint8_t)~(1u << (i & 7));
            nulls++;
        }
    }
    out->null_count = nulls;
}

int sql_vec_gather(const col_vec *src, const sql_sel *sel, col_vec *out)
{
    if (!sel->idx && sel->n == src->len) {
        sql_vec_share(src, out);
        return SL_OK;
    }
    col_vec_init(out, src->type, src->key_bytes);
    int64_t n = sel->n;
    int rc;
    if (src->type == COL_STRING || src->type == COL_BINARY) {
        for (int64_t i = 0; i < n; i++) {
            int64_t r = sql_sel_row(sel, i);
            if (!col_vec_is_valid(src, r)) {
                if ((rc = col_vec_append_null(out)))
                    return rc;
                continue;
            }
            size_t l;
            const uint8_t *p = col_vec_str(src, r, &l);
            if ((rc = col_vec_append_str(out, p, l)))
                return rc;
        }
        return SL_OK;
    }
    if ((rc = col_vec_reserve(out, n ? n : 1, 0)))
        return rc;
    out->len = n;
    out->values->len_bytes = col_vec_values_bytes(out, n);
    /* after len is set: the bitmap starts with every row valid */
    if (src->validity && (rc = col_vec_need_validity(out, n ? n : 1)))
        return rc;
    if (src->type == COL_BOOL) {
        uint8_t *d = out->values->p;
        memset(d, 0, ((size_t)n + 7) / 8);
        for (int64_t i = 0; i < n; i++)
            if (col_vec_bool(src, sql_sel_row(sel, i)))
                d[i >> 3] |= (uint8_t)(1u << (i & 7));
    } else {
        size_t w = col_type_width(src->type, src->key_bytes);
        const uint8_t *s = src->values->p;
        uint8_t *d = out->values->p;
        switch (w) {
        case 1:
            for (int64_t i = 0; i < n; i++)
                d[i] = s[sql_sel_row(sel, i)];
            break;
        case 4:
            for (int64_t i = 0; i < n; i++)
                memcpy(d + 4 * i, s + 4 * sql_sel_row(sel, i), 4);
            break;
        case 8:
            for (int64_t i = 0; i < n; i++)
                memcpy(d + 8 * i, s + 8 * sql_sel_row(sel, i), 8);
            break;
        default:
            for (int64_t i = 0; i < n; i++)
                memcpy(d + w * (size_t)i, s + w * (size_t)sql_sel_row(sel, i), w);
            break;
        }
        if (src->type == COL_DICT)
            col_vec_set_dict(out, src->dict);
    }
    gather_validity(src, sel, out);
    return SL_OK;
}

int sql_vec_expand(const sql_vec *c, int64_t n, col_vec *out)
{
    uint32_t *zeros = sl_calloc((size_t)(n ? n : 1), sizeof *zeros);
    if (!zeros)
        return SL_ENOMEM;
    sql_sel sel = {zeros, n};
    int rc = sql_vec_gather(&c->v, &sel, out);
    sl_free(zeros);
    return rc;
}
