/*
 * lakescan.c - a lake view instance read as SQL batches (see lakescan.h).
 */
#include "sql/catalog/lakescan.h"

#include "base/alloc.h"
#include "sql/types/jsonb.h"

#include <string.h>

typedef struct lakescan {
    sql_scan base;
    lake_scan *ls;
    int ncols;
    lakescan_col *cols;
    sql_type *types;
    int *in_col;             /* output column -> column of the lake batch (-1: fill) */
    arena mem;               /* fill strings */
    const uint8_t *cancel;
} lakescan;

int lakescan_fail(sql_err *e, int code, const char *msg)
{
    const char *state = code == SL_ENOMEM      ? SQLSTATE_OUT_OF_MEMORY
                        : code == SL_EINVAL    ? "22023"
                        : code == SL_ENOTFOUND ? "22023"
                        : code == SL_EBUSY     ? "53000"
                        : code == SL_ECANCELED ? SQLSTATE_CANCELED
                                               : "58030";
    return sql_err_set(e, state, -1, "%s", msg && *msg ? msg : sl_strerror(code));
}

int lakescan_cols(const lake_coldef *defs, const lake_view_id v, const sql_scan_req *req,
                  lakescan_col *out)
{
    (void)v;
    for (int i = 0; i < req->ncols; i++) {
        const lake_coldef *d = &defs[req->cols[i]];
        memset(&out[i], 0, sizeof out[i]);
        out[i].src = req->cols[i];
        out[i].conv = d->conv;
        out[i].type = sql_type_of(d->type);
    }
    return SL_OK;
}

/* ---- conversions ---- */

static int conv_u32(const col_vec *in, bool wide, col_vec *out)
{
    col_vec_init(out, wide ? COL_INT64 : COL_INT32, 0);
    if (col_vec_reserve(out, in->len, 0))
        return SL_ENOMEM;
    const uint32_t *s = (const uint32_t *)in->values->p;
    if (wide) {
        int64_t *d = (int64_t *)out->values->p;
        for (int64_t i = 0; i < in->len; i++)
            d[i] = s[i];
    } else {
        int32_t *d = (int32_t *)out->values->p;
        for (int64_t i = 0; i < in->len; i++)
            d[i] = s[i] > INT32_MAX ? INT32_MAX : (int32_t)s[i];
    }
    out->len = in->len;
    out->values->len_bytes = col_vec_values_bytes(out, in->len);
    if (in->validity) {
        out->validity = col_buf_ref(in->validity);
        out->null_count = in->null_count;
    }
    return SL_OK;
}

/* JSON text per row to canonical jsonb (properties) or text[] (tags); bad JSON is NULL. */
static int conv_json(const col_vec *in, bool tags, col_vec *out)
{
    col_vec_init(out, tags ? COL_BINARY : COL_STRING, 0);
    if (col_vec_reserve(out, in->len, 0))
        return SL_ENOMEM;
    dbuf b;
    dbuf_init(&b, 1u << 30);
    int rc = SL_OK;
    for (int64_t i = 0; i < in->len && !rc; i++) {
        if (!col_vec_is_valid(in, i)) {
            rc = col_vec_append_null(out);
            continue;
        }
        size_t n;
        const uint8_t *s = col_vec_str(in, i, &n);
        dbuf_reset(&b);
        int bad;
        if (!tags) {
            bad = n == 2 && s[0] == '{' && s[1] == '}' ? dbuf_append(&b, "{}", 2)
                                                       : sql_jsonb_canon((const char *)s, n, &b);
        } else {
            uint32_t cnt = 0;
            bad = dbuf_append(&b, &cnt, 4);
            for (int64_t k = 0; !bad; k++) {
                const char *v;
                size_t vn;
                if (sql_jsonb_index((const char *)s, n, k, &v, &vn) != 1)
                    break;
                size_t at = b.len;
                uint32_t len = 0;
                if ((bad = dbuf_append(&b, &len, 4)))
                    break;
                int t = sql_jsonb_as_text(v, vn, &b);
                if ((bad = t < 0))
                    break;
                len = t == 0 ? UINT32_MAX : (uint32_t)(b.len - at - 4);
                memcpy(b.p + at, &len, 4);
                cnt++;
            }
            if (!bad)
                memcpy(b.p, &cnt, 4);
        }
        rc = bad ? col_vec_append_null(out) : col_vec_append_str(out, b.p, b.len);
    }
    dbuf_free(&b);
    return rc;
}

/* 16-byte binary values (user table segments) back to numeric or interval vectors. */
static int conv_bin16(const col_vec *in, col_vec *out)
{
    col_vec_init(out, COL_FIXED16, 0);
    if (col_vec_reserve(out, in->len, 0))
        return SL_ENOMEM;
    static const uint8_t zero[16];
    int rc = SL_OK;
    for (int64_t r = 0; r < in->len && !rc; r++) {
        if (!col_vec_is_valid(in, r)) {
            rc = col_vec_append_null(out);
            continue;
        }
        size_t n;
        const uint8_t *p = col_vec_str(in, r, &n);
        rc = col_vec_append_fixed16(out, n == 16 ? p : zero);
    }
    return rc;
}

/* n rows of one value: a one-entry dictionary for strings, else a filled vector. */
static int fill_vec(const lakescan_col *c, int64_t n, col_vec *out)
{
    col_type pt = sql_type_phys(c->type);
    if ((pt == COL_STRING || pt == COL_BINARY) && !c->fill.null && pt == COL_STRING) {
        col_dict *d = col_dict_new();
        if (!d)
            return SL_ENOMEM;
        int rc = col_vec_append_str(&d->strings, c->fill.s.p, c->fill.s.n);
        col_vec_init(out, COL_DICT, 1);
        if (!rc)
            rc = col_vec_reserve(out, n, 0);
        if (!rc) {
            memset(out->values->p, 0, (size_t)n);
            out->len = n;
            out->values->len_bytes = (size_t)n;
            col_vec_set_dict(out, d);
        }
        col_dict_unref(d);
        return rc;
    }
    col_vec_init(out, pt, 0);
    if (col_vec_reserve(out, n, 0))
        return SL_ENOMEM;
    for (int64_t i = 0; i < n; i++) {
        int rc = sql_datum_append(c->type, &c->fill, out);
        if (rc)
            return rc;
    }
    return SL_OK;
}

int lakescan_convert(const col_batch *in, const int *in_col, const lakescan_col *cols, int ncols,
                     const sql_type *types, sql_batch **out, sql_err *e)
{
    sql_batch *b;
    if (sql_batch_new(ncols, types, &b))
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    b->n = in->nrows;
    int rc = SL_OK;
    for (int i = 0; i < ncols && !rc; i++) {
        col_vec_release(&b->cols[i]);
        int src = in_col ? in_col[i] : i;
        if (src < 0) {
            rc = fill_vec(&cols[i], in->nrows, &b->cols[i]);
            continue;
        }
        const col_vec *v = &in->cols[src];
        switch ((lc_conv)cols[i].conv) {
        case LC_SHARE: sql_vec_share(v, &b->cols[i]); break;
        case LC_U32_I4: rc = conv_u32(v, false, &b->cols[i]); break;
        case LC_U32_I8: rc = conv_u32(v, true, &b->cols[i]); break;
        case LC_JSONB: rc = conv_json(v, false, &b->cols[i]); break;
        case LC_TAGS: rc = conv_json(v, true, &b->cols[i]); break;
        case LC_BIN16: rc = conv_bin16(v, &b->cols[i]); break;
        }
    }
    if (rc) {
        sql_batch_free(b);
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    }
    *out = b;
    return SL_OK;
}

/* ---- the scan ---- */

static int ls_next(sql_scan *s, sql_batch **out, sql_err *e)
{
    lakescan *ls = (lakescan *)s;
    *out = NULL;
    for (;;) {
        if (ls->cancel && *ls->cancel)
            return sql_err_set(e, SQLSTATE_CANCELED, -1,
                               "canceling statement due to user request");
        col_batch *cb;
        errmsg em = {0};
        int rc = lake_scan_next(ls->ls, &cb, &em);
        if (rc)
            return lakescan_fail(e, rc, em.text);
        if (!cb)
            return SL_OK;
        if (!cb->nrows) {
            col_batch_release(cb);
            continue;
        }
        rc = lakescan_convert(cb, ls->in_col, ls->cols, ls->ncols, ls->types, out, e);
        col_batch_release(cb);
        return rc;
    }
}

static void ls_close(sql_scan *s)
{
    lakescan *ls = (lakescan *)s;
    if (ls->ls)
        lake_scan_close(ls->ls);
    arena_destroy(&ls->mem);
    sl_free(ls);
}

static const sql_scan_ops g_ops = {ls_next, ls_close};

int lakescan_open(lake *l, const lakescan_opts *o, sql_scan **out, sql_err *e)
{
    const lake_view_def *vd = lake_view_get(o->view);
    col_schema *schema = lake_view_schema(o->view);
    size_t sz = sizeof(lakescan) + (sizeof(lakescan_col) + sizeof(sql_type) + sizeof(int)) *
                                       (size_t)(o->ncols + 1);
    lakescan *ls = sl_calloc(1, sz);
    if (!ls)
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    ls->base.ops = &g_ops;
    ls->ncols = o->ncols;
    ls->cols = (lakescan_col *)(ls + 1);
    ls->types = (sql_type *)(ls->cols + o->ncols + 1);
    ls->in_col = (int *)(ls->types + o->ncols + 1);
    ls->cancel = o->cancel;
    arena_init(&ls->mem, 1024, 1u << 20);
    /* the lake's projection: the columns asked for once each, plus the time (and end)
     * columns the lake needs to place rows in the range */
    const char *names[64];
    int nn = 0;
    int tcol = col_schema_find(schema, vd->time_column);
    for (int i = 0; i < o->ncols; i++) {
        ls->cols[i] = o->cols[i];
        ls->types[i] = o->cols[i].type;
        ls->in_col[i] = -1;
        if (o->cols[i].src < 0) {
            if (!o->cols[i].fill.null && sql_type_phys(o->cols[i].type) == COL_STRING) {
                char *c = arena_strndup(&ls->mem, (const char *)o->cols[i].fill.s.p,
                                        o->cols[i].fill.s.n);
                if (!c) {
                    ls_close(&ls->base);
                    return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
                }
                ls->cols[i].fill.s.p = (const uint8_t *)c;
            }
            continue;
        }
        const char *nm = schema->fields[o->cols[i].src].name;
        for (int k = 0; k < nn; k++)
            if (!strcmp(names[k], nm))
                ls->in_col[i] = k;
        if (ls->in_col[i] < 0 && nn < 62) {
            ls->in_col[i] = nn;
            names[nn++] = nm;
        }
    }
    /* the lake needs the time (and end) columns to keep rows in a range; without one,
     * a scan that needs no column at all (count(*)) still reads one for the rows */
    /* the range only prunes (the plan keeps its predicate on the rows): no time column
     * is read for it; a scan that needs no column at all (count(*)) still reads one */
    int need[2] = {!nn ? tcol : -1, -1};
    for (int k = 0; k < 2; k++) {
        if (need[k] < 0)
            continue;
        const char *nm = schema->fields[need[k]].name;
        bool have = false;
        for (int j = 0; j < nn; j++)
            have |= !strcmp(names[j], nm);
        if (!have)
            names[nn++] = nm;
    }
    lake_scan_opts so;
    lake_scan_opts_init(&so);
    so.begin_ns = o->begin_ns;
    so.end_ns = o->end_ns;
    so.materialize = o->materialize;
    so.batch_rows = o->batch_rows > 0 ? o->batch_rows : 8192;
    so.columns = names;
    so.ncolumns = nn;
    so.unordered = 1; /* SQL promises no order: partitions one after the other */
    so.split = o->split;
    so.nsplits = o->nsplits;
    so.prune_only = 1;
    so.key_min = o->key_lo;
    /* a top-N's threshold skips row groups by their statistics: only on a column the
     * lake stores as the SQL value (no conversion) */
    const sql_scan_bound *bd = o->bound;
    if (bd && bd->col >= 0 && bd->col < o->ncols && o->cols[bd->col].src >= 0 &&
        o->cols[bd->col].conv == LC_SHARE && sql_type_phys(o->cols[bd->col].type) == COL_INT64) {
        so.dyn_column = schema->fields[o->cols[bd->col].src].name;
        so.dyn_lo = &o->bound->lo;
        so.dyn_hi = &o->bound->hi;
    }
    errmsg em = {0};
    lake_mat_stats st = {0};
    int rc = lake_scan_open(l, o->view, o->instance, &so, &st, &ls->ls, &em);
    if (o->built && st.built)
        atomic_fetch_add(o->built, st.built);
    if (rc) {
        ls_close(&ls->base);
        return lakescan_fail(e, rc, em.text);
    }
    *out = &ls->base;
    return SL_OK;
}

/* ---- a scan with no rows ---- */

static int empty_next(sql_scan *s, sql_batch **out, sql_err *e)
{
    (void)s;
    (void)e;
    *out = NULL;
    return SL_OK;
}

static void empty_close(sql_scan *s)
{
    (void)s;
}

static const sql_scan_ops g_empty_ops = {empty_next, empty_close};
static sql_scan g_empty = {&g_empty_ops};

int lakescan_open_empty(sql_scan **out, sql_err *e)
{
    sql_err_clear(e);
    *out = &g_empty;
    return SL_OK;
}
