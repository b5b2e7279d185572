/*
 * eval.c - the expression evaluator (see eval.h).
 *
 * Shape of the work: an expression node evaluates its arguments into dense
 * vectors over the same selection, then runs its kernel once over all rows.
 * Constant subtrees stay one-row constant vectors all the way up.  Strict
 * functions (the default) get their null rows from the arguments after the
 * kernel ran (overlay_nulls); kernels that can fail check the arguments'
 * nulls themselves.  Conditional nodes narrow the selection for their
 * branches and merge the branch results back in row order.
 */
#include "sql/exec/eval.h"

#include "base/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int sql_fail(sql_fctx *cx, const sql_expr *e, const char *state, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sql_err_set(cx->err, state, e ? e->loc : -1, "%s", msg);
}

int sql_vec_from_datum(sql_type t, const sql_datum *d, sql_vec *out)
{
    memset(out, 0, sizeof *out);
    col_vec_init(&out->v, sql_type_phys(t), 0);
    out->is_const = true;
    return sql_datum_append(t, d, &out->v);
}

static int64_t rows_of(const sql_batch *in, const sql_sel *sel)
{
    return sel ? sel->n : in ? in->n : 1;
}

/* Nulls of strict arguments onto out, row by row. */
static int overlay_nulls(const sql_vec *args, int nargs, int64_t n, sql_vec *out)
{
    bool any = false;
    for (int k = 0; k < nargs; k++)
        any |= args[k].v.validity && args[k].v.null_count > 0;
    if (!any)
        return SL_OK;
    int rc = sql_vec_need_validity(out);
    if (rc)
        return rc;
    for (int64_t i = 0; i < n; i++) {
        if (!col_vec_is_valid(&out->v, i))
            continue;
        for (int k = 0; k < nargs; k++) {
            if (!sql_vec_valid(&args[k], i)) {
                sql_vec_set_null(out, i);
                break;
            }
        }
    }
    return SL_OK;
}

static void release_all(sql_vec *v, int n)
{
    for (int i = 0; i < n; i++)
        sql_vec_release(&v[i]);
}

/* Appends row r of src (a dense or constant vector of type t) to dst. */
static int append_from(sql_type t, col_vec *dst, const sql_vec *src, int64_t r)
{
    sql_datum d = sql_datum_get(t, &src->v, sql_vec_row(src, r));
    if (src->v.type == COL_DICT && !d.null && (dst->type == COL_STRING))
        return col_vec_append_str(dst, d.s.p, d.s.n);
    return sql_datum_append(t, &d, dst);
}

/* The rows of sel picked by idx (positions within sel), as a selection of in. */
static uint32_t *sub_sel(const sql_sel *sel, const int64_t *pos, int64_t m)
{
    uint32_t *s = sl_malloc(sizeof *s * (size_t)(m ? m : 1));
    if (!s)
        return NULL;
    for (int64_t i = 0; i < m; i++)
        s[i] = (uint32_t)(sel ? sql_sel_row(sel, pos[i]) : pos[i]);
    return s;
}

/* ---- function calls ----------------------------------------------------- */

static int eval_kernel(sql_ectx *cx, const sql_expr *e, sql_kernel k, bool strict,
                       sql_vec *args, int nargs, int64_t n, sql_vec *out)
{
    bool all_const = true;
    for (int i = 0; i < nargs; i++)
        all_const &= args[i].is_const;
    if (all_const)
        n = 1;
    if (strict) {
        for (int i = 0; i < nargs; i++)
            if (args[i].is_const && !col_vec_is_valid(&args[i].v, 0))
                return sql_vec_const_null(out, e->type); /* a null constant: null for all rows */
    }
    int rc = sql_vec_alloc(out, e->type, n);
    if (rc)
        return rc;
    /* Kernels index arguments with sql_vec_row, which folds constants to row 0. */
    rc = k(&cx->f, e, args, n, out);
    if (!rc && out->v.len != n)
        rc = sql_err_set(cx->f.err, SQLSTATE_INTERNAL, e->loc, "function %s made %lld rows of %lld",
                         e->name ? e->name : "?", (long long)out->v.len, (long long)n);
    if (!rc && strict)
        rc = overlay_nulls(args, nargs, n, out);
    out->is_const = all_const;
    if (rc)
        sql_vec_release(out);
    return rc;
}

static int eval_args(sql_ectx *cx, const sql_expr *e, const sql_batch *in, const sql_sel *sel,
                     sql_vec *a)
{
    for (int i = 0; i < e->nargs; i++) {
        int rc = sql_eval(cx, e->args[i], in, sel, &a[i]);
        if (rc) {
            release_all(a, i);
            return rc;
        }
    }
    return SL_OK;
}

/* ---- boolean logic ------------------------------------------------------ */

/* 0 false, 1 true, 2 null, for row i of a bool vector. */
static inline int tri(const sql_vec *v, int64_t i)
{
    int64_t r = sql_vec_row(v, i);
    if (!col_vec_is_valid(&v->v, r))
        return 2;
    return col_vec_bool(&v->v, r);
}

static int put_tri(sql_vec *out, int64_t i, int t)
{
    if (t == 2)
        sql_vec_set_null(out, i);
    else if (t)
        out->v.values->p[i >> 3] |= (uint8_t)(1u << (i & 7));
    return 0;
}

/*
 * AND / OR with three-valued logic, evaluating later arguments only on rows
 * whose result is still open (AND: not false; OR: not true).
 */
static int eval_andor(sql_ectx *cx, const sql_expr *e, const sql_batch *in, const sql_sel *sel,
                      sql_vec *out)
{
    bool is_and = e->kind == SE_AND;
    int64_t n = rows_of(in, sel);
    sql_vec first;
    int rc = sql_eval(cx, e->args[0], in, sel, &first);
    if (rc)
        return rc;
    if (first.is_const && e->nargs == 1) {
        *out = first;
        return SL_OK;
    }
    uint8_t *st = sl_malloc((size_t)(n ? n : 1)); /* per row: 0 false, 1 true, 2 null */
    int64_t *pos = sl_malloc(sizeof *pos * (size_t)(n ? n : 1));
    if (!st || !pos) {
        sql_vec_release(&first);
        sl_free(st);
        sl_free(pos);
        return SL_ENOMEM;
    }
    for (int64_t i = 0; i < n; i++)
        st[i] = (uint8_t)tri(&first, i);
    sql_vec_release(&first);
    for (int k = 1; k < e->nargs && !rc; k++) {
        int64_t m = 0;
        for (int64_t i = 0; i < n; i++)
            if (is_and ? st[i] != 0 : st[i] != 1)
                pos[m++] = i;
        if (!m)
            break;
        uint32_t *ss = sub_sel(sel, pos, m);
        if (!ss) {
            rc = SL_ENOMEM;
            break;
        }
        sql_sel s2 = {ss, m};
        sql_vec b;
        rc = sql_eval(cx, e->args[k], in, &s2, &b);
        if (!rc) {
            for (int64_t j = 0; j < m; j++) {
                int a = st[pos[j]], c = tri(&b, j);
                int r;
                if (is_and)
                    r = (a == 0 || c == 0) ? 0 : (a == 1 && c == 1) ? 1 : 2;
                else
                    r = (a == 1 || c == 1) ? 1 : (a == 0 && c == 0) ? 0 : 2;
                st[pos[j]] = (uint8_t)r;
            }
            sql_vec_release(&b);
        }
        sl_free(ss);
    }
    if (!rc && !(rc = sql_vec_alloc(out, sql_type_of(ST_BOOL), n)) &&
        !(rc = sql_vec_need_validity(out)))
        for (int64_t i = 0; i < n; i++)
            put_tri(out, i, st[i]);
    sl_free(st);
    sl_free(pos);
    return rc;
}

static int eval_unary_bool(sql_ectx *cx, const sql_expr *e, const sql_batch *in,
                           const sql_sel *sel, sql_vec *out)
{
    sql_vec a;
    int rc = sql_eval(cx, e->args[0], in, sel, &a);
    if (rc)
        return rc;
    int64_t n = a.is_const ? 1 : rows_of(in, sel);
    if (!(rc = sql_vec_alloc(out, sql_type_of(ST_BOOL), n)) && !(rc = sql_vec_need_validity(out))) {
        for (int64_t i = 0; i < n; i++) {
            bool valid = sql_vec_valid(&a, i);
            int t;
            switch (e->kind) {
            case SE_NOT:
                t = valid ? !col_vec_bool(&a.v, sql_vec_row(&a, i)) : 2;
                break;
            case SE_ISNULL:
                t = valid == (bool)e->negated;
                break;
            default: { /* SE_BOOLTEST */
                int v = valid ? col_vec_bool(&a.v, sql_vec_row(&a, i)) : 2;
                t = e->test == 1 ? v == 1 : e->test == 2 ? v == 0 : v == 2;
                if (e->negated)
                    t = !t;
                break;
            }
            }
            put_tri(out, i, t);
        }
        out->is_const = a.is_const;
    }
    sql_vec_release(&a);
    return rc;
}

/* ---- comparisons of datums row by row (DISTINCT, IN, GREATEST) ----------- */

/* Runs the "=" (or other comparison) kernel fn on two dense/constant vectors. */
static int cmp_vecs(sql_ectx *cx, const sql_expr *e, const struct sql_func *fn, sql_vec *l,
                    sql_vec *r, int64_t n, sql_vec *out)
{
    sql_vec a[2] = {*l, *r};
    sql_expr call = *e;
    call.kind = SE_FUNC;
    call.fn = fn;
    call.type = sql_type_of(ST_BOOL);
    return eval_kernel(cx, &call, fn->fn, true, a, 2, n, out);
}

static int eval_distinct(sql_ectx *cx, const sql_expr *e, const sql_batch *in,
                         const sql_sel *sel, sql_vec *out)
{
    sql_vec a[2], eq;
    int rc = eval_args(cx, e, in, sel, a);
    if (rc)
        return rc;
    int64_t n = rows_of(in, sel);
    rc = cmp_vecs(cx, e, e->fn, &a[0], &a[1], n, &eq);
    if (!rc && !(rc = sql_vec_alloc(out, sql_type_of(ST_BOOL), n))) {
        for (int64_t i = 0; i < n; i++) {
            bool an = !sql_vec_valid(&a[0], i), bn = !sql_vec_valid(&a[1], i);
            bool distinct = (an || bn) ? an != bn : tri(&eq, i) != 1;
            put_tri(out, i, e->negated ? !distinct : distinct);
        }
        sql_vec_release(&eq);
    }
    release_all(a, 2);
    return rc;
}

static int eval_in(sql_ectx *cx, const sql_expr *e, const sql_batch *in, const sql_sel *sel,
                   sql_vec *out)
{
    int64_t n = rows_of(in, sel);
    sql_vec lhs;
    int rc = sql_eval(cx, e->args[0], in, sel, &lhs);
    if (rc)
        return rc;
    uint8_t *st = sl_calloc((size_t)(n ? n : 1), 1); /* 0 false so far, 1 true, 2 null seen */
    if (!st) {
        sql_vec_release(&lhs);
        return SL_ENOMEM;
    }
    for (int k = 1; k < e->nargs && !rc; k++) {
        sql_vec item, eq;
        if ((rc = sql_eval(cx, e->args[k], in, sel, &item)))
            break;
        rc = cmp_vecs(cx, e, e->fn, &lhs, &item, n, &eq);
        sql_vec_release(&item);
        if (rc)
            break;
        for (int64_t i = 0; i < n; i++) {
            int t = tri(&eq, i);
            if (t == 1)
                st[i] = 1;
            else if (t == 2 && st[i] == 0)
                st[i] = 2;
        }
        sql_vec_release(&eq);
    }
    if (!rc && !(rc = sql_vec_alloc(out, sql_type_of(ST_BOOL), n)) &&
        !(rc = sql_vec_need_validity(out))) {
        for (int64_t i = 0; i < n; i++) {
            int t = st[i];
            if (e->negated && t != 2)
                t = !t;
            put_tri(out, i, t);
        }
    }
    sl_free(st);
    sql_vec_release(&lhs);
    return rc;
}

/* GREATEST / LEAST: nulls ignored, null only when every argument is. */
static int eval_minmax(sql_ectx *cx, const sql_expr *e, const sql_batch *in, const sql_sel *sel,
                       sql_vec *out)
{
    int64_t n = rows_of(in, sel);
    sql_vec *a = sl_calloc((size_t)e->nargs, sizeof *a);
    if (!a)
        return SL_ENOMEM;
    int rc = eval_args(cx, e, in, sel, a);
    if (rc) {
        sl_free(a);
        return rc;
    }
    memset(out, 0, sizeof *out);
    col_vec_init(&out->v, sql_type_phys(e->type), 0);
    for (int64_t i = 0; i < n && !rc; i++) {
        int best = -1;
        sql_datum bd = sql_datum_null();
        for (int k = 0; k < e->nargs; k++) {
            sql_datum d = sql_datum_get(e->type, &a[k].v, sql_vec_row(&a[k], i));
            if (d.null)
                continue;
            int c = best < 0 ? 0 : sql_datum_cmp(e->type, &d, &bd);
            if (best < 0 || (e->kind == SE_GREATEST ? c > 0 : c < 0)) {
                best = k;
                bd = d;
            }
        }
        rc = best < 0 ? col_vec_append_null(&out->v) : append_from(e->type, &out->v, &a[best], i);
    }
    release_all(a, e->nargs);
    sl_free(a);
    return rc;
}

/* ---- CASE and COALESCE: branches on the rows that reach them ------------- */

typedef struct pick {
    int src;      /* which branch vector, -1 null */
    int64_t row;  /* row in that vector */
} pick;

static int merge_picks(sql_type t, const pick *pk, int64_t n, sql_vec *srcs, sql_vec *out)
{
    memset(out, 0, sizeof *out);
    col_vec_init(&out->v, sql_type_phys(t), 0);
    int rc = SL_OK;
    for (int64_t i = 0; i < n && !rc; i++)
        rc = pk[i].src < 0 ? col_vec_append_null(&out->v)
                           : append_from(t, &out->v, &srcs[pk[i].src], pk[i].row);
    return rc;
}

static int eval_case(sql_ectx *cx, const sql_expr *e, const sql_batch *in, const sql_sel *sel,
                     sql_vec *out)
{
    int64_t n = rows_of(in, sel);
    int nwhen = (e->nargs - e->has_else) / 2, nsrc = nwhen + 1;
    sql_vec *srcs = sl_calloc((size_t)nsrc, sizeof *srcs);
    pick *pk = sl_malloc(sizeof *pk * (size_t)(n ? n : 1));
    int64_t *open = sl_malloc(sizeof *open * (size_t)(n ? n : 1)), nopen = n;
    int64_t *hit = sl_malloc(sizeof *hit * (size_t)(n ? n : 1));
    int rc = srcs && pk && open && hit ? SL_OK : SL_ENOMEM;
    for (int64_t i = 0; !rc && i < n; i++) {
        open[i] = i;
        pk[i] = (pick){-1, 0};
    }
    for (int w = 0; w <= nwhen && !rc && nopen; w++) {
        uint32_t *ss = sub_sel(sel, open, nopen);
        if (!ss) {
            rc = SL_ENOMEM;
            break;
        }
        sql_sel s2 = {ss, nopen};
        int64_t nhit = 0, nrest = 0;
        if (w == nwhen) { /* ELSE (or NULL) for what is left */
            if (e->has_else && !(rc = sql_eval(cx, e->args[e->nargs - 1], in, &s2, &srcs[w])))
                for (int64_t j = 0; j < nopen; j++)
                    pk[open[j]] = (pick){w, j};
            sl_free(ss);
            break;
        }
        sql_vec cond;
        if (!(rc = sql_eval(cx, e->args[2 * w], in, &s2, &cond))) {
            for (int64_t j = 0; j < nopen; j++) {
                if (tri(&cond, j) == 1)
                    hit[nhit++] = open[j];
                else
                    open[nrest++] = open[j];
            }
            sql_vec_release(&cond);
        }
        sl_free(ss);
        if (!rc && nhit) {
            uint32_t *hs = sub_sel(sel, hit, nhit);
            if (!hs) {
                rc = SL_ENOMEM;
                break;
            }
            sql_sel s3 = {hs, nhit};
            if (!(rc = sql_eval(cx, e->args[2 * w + 1], in, &s3, &srcs[w])))
                for (int64_t j = 0; j < nhit; j++)
                    pk[hit[j]] = (pick){w, j};
            sl_free(hs);
        }
        nopen = nrest;
    }
    if (!rc)
        rc = merge_picks(e->type, pk, n, srcs, out);
    if (srcs)
        release_all(srcs, nsrc);
    sl_free(srcs);
    sl_free(pk);
    sl_free(open);
    sl_free(hit);
    return rc;
}

static int eval_coalesce(sql_ectx *cx, const sql_expr *e, const sql_batch *in,
                         const sql_sel *sel, sql_vec *out)
{
    int64_t n = rows_of(in, sel);
    sql_vec *srcs = sl_calloc((size_t)e->nargs, sizeof *srcs);
    pick *pk = sl_malloc(sizeof *pk * (size_t)(n ? n : 1));
    int64_t *open = sl_malloc(sizeof *open * (size_t)(n ? n : 1)), nopen = n;
    int rc = srcs && pk && open ? SL_OK : SL_ENOMEM;
    for (int64_t i = 0; !rc && i < n; i++) {
        open[i] = i;
        pk[i] = (pick){-1, 0};
    }
    for (int k = 0; k < e->nargs && !rc && nopen; k++) {
        uint32_t *ss = sub_sel(sel, open, nopen);
        if (!ss) {
            rc = SL_ENOMEM;
            break;
        }
        sql_sel s2 = {ss, nopen};
        if (!(rc = sql_eval(cx, e->args[k], in, &s2, &srcs[k]))) {
            int64_t nrest = 0;
            for (int64_t j = 0; j < nopen; j++) {
                if (sql_vec_valid(&srcs[k], j))
                    pk[open[j]] = (pick){k, j};
                else
                    open[nrest++] = open[j];
            }
            nopen = nrest;
        }
        sl_free(ss);
    }
    if (!rc)
        rc = merge_picks(e->type, pk, n, srcs, out);
    if (srcs)
        release_all(srcs, e->nargs);
    sl_free(srcs);
    sl_free(pk);
    sl_free(open);
    return rc;
}

static int eval_nullif(sql_ectx *cx, const sql_expr *e, const sql_batch *in, const sql_sel *sel,
                       sql_vec *out)
{
    sql_vec a[2], eq;
    int rc = eval_args(cx, e, in, sel, a);
    if (rc)
        return rc;
    int64_t n = rows_of(in, sel);
    if (!(rc = cmp_vecs(cx, e, e->fn, &a[0], &a[1], n, &eq))) {
        memset(out, 0, sizeof *out);
        col_vec_init(&out->v, sql_type_phys(e->type), 0);
        for (int64_t i = 0; i < n && !rc; i++)
            rc = tri(&eq, i) == 1 ? col_vec_append_null(&out->v)
                                  : append_from(e->type, &out->v, &a[0], i);
        sql_vec_release(&eq);
    }
    release_all(a, 2);
    return rc;
}

/* ---- subqueries and arrays ---------------------------------------------- */

static int eval_subquery(sql_ectx *cx, const sql_expr *e, const sql_batch *in,
                         const sql_sel *sel, sql_vec *out)
{
    if (!cx->subq)
        return sql_err_set(cx->f.err, SQLSTATE_FEATURE, e->loc, "subqueries are not available here");
    int64_t n = rows_of(in, sel);
    sql_vec left = {0};
    int rc = SL_OK;
    bool has_left = e->subkind == SQ_ANY || e->subkind == SQ_ALL;
    if (has_left && (rc = sql_eval(cx, e->args[0], in, sel, &left)))
        return rc;
    bool per_row = e->correlated || (has_left && !left.is_const);
    int64_t rows = per_row ? n : 1;
    memset(out, 0, sizeof *out);
    col_vec_init(&out->v, sql_type_phys(e->type), 0);
    sql_datum *vals = NULL;
    for (int64_t i = 0; i < rows && !rc; i++) {
        sql_outer o = *(cx->outer ? cx->outer : &(sql_outer){0});
        sql_ectx sub = *cx;
        if (e->correlated && in) {
            /* this query's current row is the subquery's outer row */
            if (!vals && !(vals = sl_calloc((size_t)(in->ncols ? in->ncols : 1), sizeof *vals))) {
                rc = SL_ENOMEM;
                break;
            }
            int64_t r = sel ? sql_sel_row(sel, i) : i;
            for (int c = 0; c < in->ncols; c++)
                vals[c] = sql_datum_get(in->types[c], &in->cols[c], r);
            o = (sql_outer){cx->outer, in->ncols, in->types, vals};
            sub.outer = &o;
        }
        sql_datum l = has_left ? sql_datum_get(e->args[0]->type, &left.v, sql_vec_row(&left, i))
                               : sql_datum_null();
        sql_datum res;
        if (!(rc = cx->subq(cx->subq_arg, &sub, e, has_left ? &l : NULL, &res)))
            rc = sql_datum_append(e->type, &res, &out->v);
    }
    sl_free(vals);
    out->is_const = !per_row;
    if (has_left)
        sql_vec_release(&left);
    return rc;
}

static int eval_array(sql_ectx *cx, const sql_expr *e, const sql_batch *in, const sql_sel *sel,
                      sql_vec *out)
{
    int64_t n = rows_of(in, sel);
    sql_vec *a = sl_calloc((size_t)(e->nargs ? e->nargs : 1), sizeof *a);
    if (!a)
        return SL_ENOMEM;
    int rc = eval_args(cx, e, in, sel, a);
    if (rc) {
        sl_free(a);
        return rc;
    }
    memset(out, 0, sizeof *out);
    col_vec_init(&out->v, COL_BINARY, 0);
    dbuf b;
    dbuf_init(&b, (size_t)1 << 30);
    for (int64_t i = 0; i < n && !rc; i++) {
        dbuf_reset(&b);
        uint32_t cnt = (uint32_t)e->nargs;
        rc = dbuf_append(&b, &cnt, 4);
        for (int k = 0; k < e->nargs && !rc; k++) {
            sql_datum d = sql_datum_get(e->args[k]->type, &a[k].v, sql_vec_row(&a[k], i));
            uint32_t l = d.null ? UINT32_MAX : d.s.n;
            rc = dbuf_append(&b, &l, 4);
            if (!rc && !d.null)
                rc = dbuf_append(&b, d.s.p, d.s.n);
        }
        if (!rc)
            rc = col_vec_append_str(&out->v, b.p, b.len);
    }
    dbuf_free(&b);
    release_all(a, e->nargs);
    sl_free(a);
    return rc;
}

/* ---- the dispatcher ----------------------------------------------------- */

/*
 * A parameter as the node's type: values arrive as text (the wire protocol's
 * text format) or typed; a node whose type was decided by its context reads a
 * text value in that type, a node of unknown type gets the value's text.
 */
static int eval_param(sql_ectx *cx, const sql_expr *e, sql_vec *out)
{
    const sql_datum *d = &cx->params[e->col];
    sql_type pt = cx->param_types ? cx->param_types[e->col] : e->type;
    if (d->null || pt.id == e->type.id || (sql_type_is_text(pt) && sql_type_is_text(e->type)))
        return sql_vec_from_datum(e->type, d, out);
    sql_datum v;
    if (sql_type_is_text(pt)) {
        const char *state = NULL;
        if (sql_datum_parse(e->type, (const char *)d->s.p, d->s.n, cx->f.scratch, &v, &state)) {
            char tn[64];
            return sql_err_set(cx->f.err, state ? state : SQLSTATE_INVALID_TEXT, e->loc,
                               "invalid input syntax for type %s: \"%.*s\" (parameter $%d)",
                               sql_type_name(e->type, tn, sizeof tn), (int)(d->s.n > 64 ? 64 : d->s.n),
                               (const char *)d->s.p, e->col + 1);
        }
        return sql_vec_from_datum(e->type, &v, out);
    }
    if (sql_type_is_text(e->type)) {
        dbuf t;
        dbuf_init(&t, 1u << 30);
        int rc = sql_datum_text(pt, d, &t);
        char *c = rc ? NULL : arena_strndup(cx->f.scratch, t.p ? (const char *)t.p : "", t.len);
        dbuf_free(&t);
        if (!c)
            return sql_err_set(cx->f.err, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
        memset(&v, 0, sizeof v);
        v.s.p = (const uint8_t *)c;
        v.s.n = (uint32_t)strlen(c);
        return sql_vec_from_datum(e->type, &v, out);
    }
    /* typed values of another type: cast (int4 for an int8 node, ...) */
    sql_kernel k = sql_cast_kernel(pt, e->type);
    if (!k) {
        char a[64], b[64];
        return sql_err_set(cx->f.err, SQLSTATE_DATATYPE_MISMATCH, e->loc,
                           "parameter $%d is of type %s but is used as %s", e->col + 1,
                           sql_type_name(pt, a, sizeof a), sql_type_name(e->type, b, sizeof b));
    }
    sql_vec in;
    int rc = sql_vec_from_datum(pt, d, &in);
    if (rc)
        return rc;
    rc = sql_vec_alloc(out, e->type, 1);
    if (!rc) {
        out->is_const = true;
        rc = k(&cx->f, e, &in, 1, out);
    }
    sql_vec_release(&in);
    return rc;
}

static int eval_node(sql_ectx *cx, const sql_expr *e, const sql_batch *in, const sql_sel *sel,
                     sql_vec *out);

int sql_eval(sql_ectx *cx, const sql_expr *e, const sql_batch *in, const sql_sel *sel,
             sql_vec *out)
{
    /* a failed evaluation leaves an empty vector (what it built is freed): callers may
     * release it or not */
    memset(out, 0, sizeof *out);
    int rc = eval_node(cx, e, in, sel, out);
    if (rc) {
        sql_vec_release(out);
        memset(out, 0, sizeof *out);
    }
    return rc;
}

static int eval_node(sql_ectx *cx, const sql_expr *e, const sql_batch *in, const sql_sel *sel,
                     sql_vec *out)
{
    if (cx->cancel && *cx->cancel)
        return sql_err_set(cx->f.err, SQLSTATE_CANCELED, -1, "canceling statement due to user request");
    switch ((sql_ekind)e->kind) {
    case SE_CONST:
        return sql_vec_from_datum(e->type, &e->c, out);
    case SE_PARAM:
        if (e->col >= cx->nparams)
            return sql_err_set(cx->f.err, "08P01", e->loc, "there is no parameter $%d", e->col + 1);
        return eval_param(cx, e, out);
    case SE_OUTER: {
        const sql_outer *o = cx->outer;
        for (int l = 1; o && l < e->level; l++)
            o = o->up;
        if (!o || e->col >= o->ncols)
            return sql_err_set(cx->f.err, SQLSTATE_INTERNAL, e->loc, "outer reference out of reach");
        return sql_vec_from_datum(e->type, &o->vals[e->col], out);
    }
    case SE_COL: {
        memset(out, 0, sizeof *out);
        if (!in || e->col >= in->ncols)
            return sql_err_set(cx->f.err, SQLSTATE_INTERNAL, e->loc, "column %d out of reach", e->col);
        if (sel)
            return sql_vec_gather(&in->cols[e->col], sel, &out->v);
        sql_vec_share(&in->cols[e->col], &out->v);
        return SL_OK;
    }
    case SE_FUNC:
    case SE_CAST: {
        sql_vec a[SQL_FUNC_MAXARGS + 1];
        sql_vec *args = e->nargs <= SQL_FUNC_MAXARGS + 1 ? a : sl_calloc((size_t)e->nargs, sizeof *args);
        if (!args)
            return SL_ENOMEM;
        int rc = eval_args(cx, e, in, sel, args);
        if (!rc) {
            sql_kernel k = e->kind == SE_CAST ? sql_cast_kernel(e->args[0]->type, e->type) : e->fn->fn;
            bool strict = e->kind == SE_CAST || !(e->fn->flags & FN_NONSTRICT);
            rc = k ? eval_kernel(cx, e, k, strict, args, e->nargs, rows_of(in, sel), out)
                   : sql_err_set(cx->f.err, SQLSTATE_INTERNAL, e->loc, "no kernel");
            release_all(args, e->nargs);
        }
        if (args != a)
            sl_free(args);
        return rc;
    }
    case SE_AND:
    case SE_OR:
        return eval_andor(cx, e, in, sel, out);
    case SE_NOT:
    case SE_ISNULL:
    case SE_BOOLTEST:
        return eval_unary_bool(cx, e, in, sel, out);
    case SE_DISTINCT:
        return eval_distinct(cx, e, in, sel, out);
    case SE_CASE:
        return eval_case(cx, e, in, sel, out);
    case SE_COALESCE:
        return eval_coalesce(cx, e, in, sel, out);
    case SE_NULLIF:
        return eval_nullif(cx, e, in, sel, out);
    case SE_GREATEST:
    case SE_LEAST:
        return eval_minmax(cx, e, in, sel, out);
    case SE_IN:
        return eval_in(cx, e, in, sel, out);
    case SE_SUBQUERY:
        return eval_subquery(cx, e, in, sel, out);
    case SE_ARRAY:
        return eval_array(cx, e, in, sel, out);
    case SE_AGG:
    case SE_WINDOW:
        break;
    }
    return sql_err_set(cx->f.err, SQLSTATE_INTERNAL, e->loc, "expression kind %d cannot be evaluated here",
                       e->kind);
}

/* An integer or time column compared with a constant, straight into a selection:
 * 1 done, 0 not this shape. */
static int filter_col_const(const sql_expr *e, const sql_batch *in, const sql_sel *sel,
                            uint32_t *sel_out, int64_t *n_out)
{
    if (e->kind != SE_FUNC || e->nargs != 2 || !e->fn || !in)
        return 0;
    const sql_expr *c = e->args[0], *k = e->args[1];
    bool flip = false;
    if (c->kind == SE_CONST && k->kind == SE_COL) {
        const sql_expr *t = c;
        c = k;
        k = t;
        flip = true;
    }
    if (c->kind != SE_COL || k->kind != SE_CONST || k->c.null || c->col < 0 || c->col >= in->ncols)
        return 0;
    col_type pt = sql_type_phys(c->type);
    const col_vec *v = &in->cols[c->col];
    if ((pt != COL_INT32 && pt != COL_INT64) || sql_type_phys(k->type) != pt || v->type != pt ||
        v->len < rows_of(in, NULL))
        return 0;
    const char *n = e->fn->name;
    int op; /* 0 =, 1 <>, 2 <, 3 <=, 4 >, 5 >= (column on the left) */
    if (!strcmp(n, "="))
        op = 0;
    else if (!strcmp(n, "<>"))
        op = 1;
    else if (!strcmp(n, "<"))
        op = flip ? 4 : 2;
    else if (!strcmp(n, "<="))
        op = flip ? 5 : 3;
    else if (!strcmp(n, ">"))
        op = flip ? 2 : 4;
    else if (!strcmp(n, ">="))
        op = flip ? 3 : 5;
    else
        return 0;
    int64_t x = k->c.i, m = 0, cnt = rows_of(in, sel);
    const int32_t *a32 = (const int32_t *)v->values->p;
    const int64_t *a64 = (const int64_t *)v->values->p;
    bool nulls = v->validity && v->null_count > 0;
    for (int64_t i = 0; i < cnt; i++) {
        int64_t r = sel ? sql_sel_row(sel, i) : i;
        int64_t y = pt == COL_INT32 ? a32[r] : a64[r];
        bool ok = op == 0 ? y == x : op == 1 ? y != x : op == 2 ? y < x : op == 3 ? y <= x
                : op == 4 ? y > x : y >= x;
        if (nulls && !col_vec_is_valid(v, r))
            ok = false;
        sel_out[m] = (uint32_t)r;
        m += ok;
    }
    *n_out = m;
    return 1;
}

int sql_eval_filter(sql_ectx *cx, const sql_expr *e, const sql_batch *in, const sql_sel *sel,
                    uint32_t *sel_out, int64_t *n_out)
{
    if (filter_col_const(e, in, sel, sel_out, n_out))
        return SL_OK;
    if (e->kind == SE_AND) {
        /* each conjunct narrows what the next one sees */
        sql_sel cur = sel ? *sel : (sql_sel){NULL, in->n};
        uint32_t *tmp = NULL;
        int rc = SL_OK;
        for (int k = 0; k < e->nargs && !rc; k++) {
            int64_t m;
            rc = sql_eval_filter(cx, e->args[k], in, &cur, sel_out, &m);
            if (rc)
                break;
            if (k + 1 < e->nargs) {
                if (!tmp && !(tmp = sl_malloc(sizeof *tmp * (size_t)(in->n ? in->n : 1)))) {
                    rc = SL_ENOMEM;
                    break;
                }
                memcpy(tmp, sel_out, sizeof *tmp * (size_t)m);
                cur = (sql_sel){tmp, m};
            }
            *n_out = m;
            if (!m)
                break;
        }
        sl_free(tmp);
        return rc;
    }
    sql_vec v;
    int rc = sql_eval(cx, e, in, sel, &v);
    if (rc)
        return rc;
    int64_t n = rows_of(in, sel), m = 0;
    for (int64_t i = 0; i < n; i++)
        if (tri(&v, i) == 1)
            sel_out[m++] = (uint32_t)(sel ? sql_sel_row(sel, i) : i);
    *n_out = m;
    sql_vec_release(&v);
    return SL_OK;
}

int sql_eval_const(sql_ectx *cx, const sql_expr *e, arena *a, sql_datum *out)
{
    sql_vec v;
    int rc = sql_eval(cx, e, NULL, NULL, &v);
    if (rc)
        return rc;
    sql_datum d = sql_datum_get(e->type, &v.v, 0);
    if (!d.null && (v.v.type == COL_STRING || v.v.type == COL_BINARY || v.v.type == COL_DICT)) {
        uint8_t *p = arena_alloc(a, d.s.n ? d.s.n : 1);
        if (!p) {
            sql_vec_release(&v);
            return SL_ENOMEM;
        }
        if (d.s.n)
            memcpy(p, d.s.p, d.s.n);
        d.s.p = p;
    }
    *out = d;
    sql_vec_release(&v);
    return SL_OK;
}
