/*
 * op_basic.c - the streaming operators: VALUES (and the one-row RESULT of a
 * SELECT without FROM), FILTER, PROJECT and LIMIT/OFFSET.  None holds more
 * than the batch it is working on.
 */
#include "sql/exec/exec.h"

#include "base/alloc.h"

#include <string.h>

typedef struct op_simple {
    sql_op op;
    sql_ectx cx;
    sql_err err;
    arena scratch;
    int done;
    int64_t skip, left;      /* LIMIT: rows to skip, rows still to hand out (-1: all) */
    uint32_t *sel;
    int64_t sel_cap;
    struct op_simple *ws;    /* pipelines: a state per worker (their own scratch and errors) */
    int nws;
} op_simple;

static void stream_finish(sql_op *op)
{
    op_simple *s = (op_simple *)op;
    for (int i = 0; i < s->nws; i++) {
        arena_destroy(&s->ws[i].scratch);
        sl_free(s->ws[i].sel);
    }
    sl_free(s->ws);
    s->ws = NULL;
    s->nws = 0;
}

static void simple_close(sql_op *op)
{
    op_simple *s = (op_simple *)op;
    stream_finish(op);
    arena_destroy(&s->scratch);
    sl_free(s->sel);
}

/* Pipelines (pipe.c): FILTER and PROJECT on the scan's workers, a state each. */
static int stream_prepare(sql_op *op, int nworkers)
{
    op_simple *s = (op_simple *)op;
    if (!(s->ws = sl_calloc((size_t)nworkers, sizeof *s->ws)))
        return SL_ENOMEM;
    s->nws = nworkers;
    for (int i = 0; i < nworkers; i++) {
        arena_init(&s->ws[i].scratch, 4096, 64u << 20);
        sql_exec_ectx(op->x, &s->ws[i].cx, &s->ws[i].err, &s->ws[i].scratch);
    }
    return SL_OK;
}

/* A worker's failure as the sink's error. */
static int stream_fail(op_simple *w, int rc, sql_err *e)
{
    if (w->err.state[0])
        *e = w->err;
    return rc;
}

static op_simple *simple_new(sql_exec *x, const sql_op_vt *vt)
{
    op_simple *s = arena_zalloc(x->a, sizeof *s);
    if (!s)
        return NULL;
    s->op.vt = vt;
    arena_init(&s->scratch, 4096, 64u << 20);
    sql_exec_ectx(x, &s->cx, x->e, &s->scratch);
    return s;
}

/* ---- VALUES / RESULT ---------------------------------------------------- */

static int values_next(sql_op *op, sql_batch **out)
{
    op_simple *s = (op_simple *)op;
    const sql_plan *p = op->p;
    if (s->done)
        return SL_OK;
    s->done = 1;
    sql_batch *b;
    int rc = sql_batch_new(p->ncols, p->types, &b);
    if (rc)
        return rc;
    if (p->kind == SP_RESULT) {
        b->n = 1;
        *out = b;
        return SL_OK;
    }
    for (int r = 0; r < p->values.nrows && !rc; r++) {
        for (int c = 0; c < p->ncols && !rc; c++) {
            sql_vec v;
            arena_reset(&s->scratch);
            if ((rc = sql_eval(&s->cx, p->values.rows[r][c], NULL, NULL, &v)))
                break;
            sql_datum d = sql_datum_get(p->types[c], &v.v, 0);
            if (b->cols[c].type == COL_STRING && v.v.type == COL_DICT && !d.null)
                rc = col_vec_append_str(&b->cols[c], d.s.p, d.s.n);
            else
                rc = sql_datum_append(p->types[c], &d, &b->cols[c]);
            sql_vec_release(&v);
        }
    }
    b->n = p->values.nrows;
    if (rc) {
        sql_batch_free(b);
        return rc;
    }
    *out = b;
    return SL_OK;
}

static const sql_op_vt g_values = {NULL, values_next, simple_close, NULL, NULL, NULL};

sql_op *sql_op_values_new(sql_exec *x, const sql_plan *p)
{
    (void)p;
    return (sql_op *)simple_new(x, &g_values);
}

/* ---- FILTER ------------------------------------------------------------- */

/* The rows of `in` that pass, with s's state: in itself, a copy, or NULL (in is taken). */
static int filter_batch(op_simple *s, const sql_plan *p, sql_batch *in, sql_batch **out)
{
    return sql_filter_batch(&s->cx, &s->scratch, p->filter.pred, &s->sel, &s->sel_cap, in, out);
}

static int filter_next(sql_op *op, sql_batch **out)
{
    op_simple *s = (op_simple *)op;
    for (;;) {
        sql_batch *in;
        int rc = sql_op_next(op->child, &in);
        if (rc || !in)
            return rc;
        if ((rc = filter_batch(s, op->p, in, out)) || *out)
            return rc;
    }
}

static int filter_stream(sql_op *op, int w, sql_batch *b,
                         int (*emit)(void *arg, int w, sql_batch *b, sql_err *e), void *arg,
                         sql_err *e)
{
    op_simple *ws = &((op_simple *)op)->ws[w];
    sql_batch *out;
    int rc = filter_batch(ws, op->p, b, &out);
    if (rc)
        return stream_fail(ws, rc, e);
    if (!out)
        return SL_OK;
    sql_opstats_add(op, out->n);
    return emit(arg, w, out, e);
}

static const sql_op_vt g_filter = {NULL,           filter_next,   simple_close,
                                   stream_prepare, filter_stream, stream_finish};

sql_op *sql_op_filter_new(sql_exec *x, const sql_plan *p)
{
    (void)p;
    return (sql_op *)simple_new(x, &g_filter);
}

/* ---- PROJECT ------------------------------------------------------------ */

/* Evaluates exprs over `in` into a new batch of the plan's columns. */
static int project(op_simple *s, const sql_plan *p, const sql_batch *in, sql_batch **out)
{
    sql_batch *b;
    int rc = sql_batch_new(p->ncols, p->types, &b);
    if (rc)
        return rc;
    arena_reset(&s->scratch);
    for (int c = 0; c < p->ncols && !rc; c++) {
        sql_vec v;
        if ((rc = sql_eval(&s->cx, p->project.exprs[c], in, NULL, &v)))
            break;
        if (v.is_const && in->n != 1) {
            col_vec full;
            rc = sql_vec_expand(&v, in->n, &full);
            sql_vec_release(&v);
            if (rc)
                break;
            col_vec_release(&b->cols[c]);
            b->cols[c] = full;
        } else {
            col_vec_release(&b->cols[c]);
            b->cols[c] = v.v;
        }
    }
    b->n = in->n;
    if (rc) {
        sql_batch_free(b);
        return rc;
    }
    *out = b;
    return SL_OK;
}

static int project_next(sql_op *op, sql_batch **out)
{
    op_simple *s = (op_simple *)op;
    sql_batch *in;
    int rc = sql_op_next(op->child, &in);
    if (rc || !in)
        return rc;
    rc = project(s, op->p, in, out);
    sql_batch_free(in);
    return rc;
}

static int project_stream(sql_op *op, int w, sql_batch *b,
                          int (*emit)(void *arg, int w, sql_batch *b, sql_err *e), void *arg,
                          sql_err *e)
{
    op_simple *ws = &((op_simple *)op)->ws[w];
    sql_batch *out;
    int rc = project(ws, op->p, b, &out);
    sql_batch_free(b);
    if (rc)
        return stream_fail(ws, rc, e);
    sql_opstats_add(op, out->n);
    return emit(arg, w, out, e);
}

static const sql_op_vt g_project = {NULL,           project_next,   simple_close,
                                    stream_prepare, project_stream, stream_finish};

sql_op *sql_op_project_new(sql_exec *x, const sql_plan *p)
{
    (void)p;
    return (sql_op *)simple_new(x, &g_project);
}

/* ---- LIMIT / OFFSET ----------------------------------------------------- */

static int limit_value(op_simple *s, const sql_expr *e, int64_t dflt, int64_t *out)
{
    if (!e) {
        *out = dflt;
        return SL_OK;
    }
    sql_datum d;
    int rc = sql_eval_const(&s->cx, e, &s->scratch, &d);
    if (rc)
        return rc;
    if (!d.null && d.i < 0)
        return sql_err_set(s->op.x->e, e == s->op.p->limit.count ? "2201W" : "2201X", e->loc,
                           "%s must not be negative", e == s->op.p->limit.count ? "LIMIT" : "OFFSET");
    *out = d.null ? dflt : d.i;
    return SL_OK;
}

static int limit_open(sql_op *op)
{
    op_simple *s = (op_simple *)op;
    int rc = limit_value(s, op->p->limit.count, -1, &s->left);
    return rc ? rc : limit_value(s, op->p->limit.offset, 0, &s->skip);
}

static int limit_next(sql_op *op, sql_batch **out)
{
    op_simple *s = (op_simple *)op;
    while (s->left != 0) {
        sql_batch *in;
        int rc = sql_op_next(op->child, &in);
        if (rc || !in)
            return rc;
        int64_t from = 0;
        if (s->skip) {
            from = s->skip < in->n ? s->skip : in->n;
            s->skip -= from;
        }
        int64_t n = in->n - from;
        if (s->left >= 0 && n > s->left)
            n = s->left;
        if (n <= 0) {
            sql_batch_free(in);
            continue;
        }
        if (s->left > 0)
            s->left -= n;
        if (from == 0 && n == in->n) {
            *out = in;
            return SL_OK;
        }
        uint32_t *rows = sl_malloc(sizeof *rows * (size_t)n);
        if (!rows) {
            sql_batch_free(in);
            return SL_ENOMEM;
        }
        for (int64_t i = 0; i < n; i++)
            rows[i] = (uint32_t)(from + i);
        rc = sql_batch_take(in, rows, n, out);
        sl_free(rows);
        sql_batch_free(in);
        return rc;
    }
    return SL_OK;
}

static const sql_op_vt g_limit = {limit_open, limit_next, simple_close, NULL, NULL, NULL};

sql_op *sql_op_limit_new(sql_exec *x, const sql_plan *p)
{
    (void)p;
    return (sql_op *)simple_new(x, &g_limit);
}
