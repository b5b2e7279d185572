/*
 * op_srf.c - ProjectSet: a projection whose select list has set-returning
 * calls, `SELECT unnest(ix.indkey), generate_subscripts(ix.indkey, 1) FROM ...`.
 *
 * Interface: open (nothing to do), next (a batch of output rows), close.
 *
 * Algorithm (PostgreSQL 10's rule): for each input row, each set-returning
 * call's kernel runs once (FN_SRF, func.h) and yields k values; the row
 * becomes max(k) output rows, in which the other expressions repeat the row's
 * value and a call that yielded fewer values is NULL past its end.  A row for
 * which every call yields nothing yields no row.
 *
 * Memory: an output batch holds at most OUT_ROWS rows.  Between two calls of
 * next the operator keeps the input batch, the row it is expanding and how far
 * it got, so no input makes an unbounded batch; one row's values are bounded by
 * the array they come from, which is in memory already.  Not a pipeline stage
 * (no stream callbacks): it runs on the consumer's thread.
 */
#include "sql/exec/exec.h"

#include "base/alloc.h"

#include <string.h>

#define OUT_ROWS 4096

typedef struct op_srf {
    sql_op op;
    sql_ectx cx;
    arena scratch;  /* evaluation of the current input batch */
    sql_batch *in;  /* the input batch being expanded, NULL: take the next */
    sql_vec *vals;  /* per column over `in`: a plain expression's values */
    sql_vec **args; /* per column: a set-returning call's arguments over `in` */
    col_vec *res;   /* per column: the call's values for the current row */
    int64_t row;    /* the row of `in` being expanded */
    int64_t m, j;   /* its output rows, and the next one to emit */
    bool expanded;  /* res and m hold `row`'s expansion */
    bool done;      /* the input has ended */
} op_srf;

static bool col_is_srf(const sql_plan *p, int c)
{
    const sql_expr *e = p->project.exprs[c];
    return e->kind == SE_FUNC && e->fn && (e->fn->flags & FN_SRF);
}

static void release_row(op_srf *s)
{
    const sql_plan *p = s->op.p;
    for (int c = 0; c < p->ncols; c++)
        if (col_is_srf(p, c))
            col_vec_release(&s->res[c]);
    s->expanded = false;
}

/* Drops the input batch and what was evaluated over it. */
static void release_batch(op_srf *s)
{
    const sql_plan *p = s->op.p;
    if (!s->in)
        return;
    release_row(s);
    for (int c = 0; c < p->ncols; c++) {
        if (!col_is_srf(p, c)) {
            sql_vec_release(&s->vals[c]);
            continue;
        }
        for (int k = 0; k < p->project.exprs[c]->nargs; k++)
            sql_vec_release(&s->args[c][k]);
    }
    sql_batch_free(s->in);
    s->in = NULL;
}

/* Evaluates the plain expressions and the calls' arguments over a new batch. */
static int take_batch(op_srf *s, sql_batch *in)
{
    const sql_plan *p = s->op.p;
    s->in = in;
    s->row = 0;
    s->expanded = false;
    arena_reset(&s->scratch);
    int rc = SL_OK;
    for (int c = 0; c < p->ncols && !rc; c++) {
        const sql_expr *e = p->project.exprs[c];
        if (!col_is_srf(p, c)) {
            rc = sql_eval(&s->cx, e, in, NULL, &s->vals[c]);
            continue;
        }
        for (int k = 0; k < e->nargs && !rc; k++)
            rc = sql_eval(&s->cx, e->args[k], in, NULL, &s->args[c][k]);
    }
    return rc;
}

/* Runs every call on the current row: res[c] and m, the row's output count. */
static int expand_row(op_srf *s)
{
    const sql_plan *p = s->op.p;
    int64_t r = s->row;
    s->m = 0;
    s->j = 0;
    s->expanded = true;
    int rc = SL_OK;
    for (int c = 0; c < p->ncols && !rc; c++) {
        if (!col_is_srf(p, c))
            continue;
        const sql_expr *e = p->project.exprs[c];
        sql_vec out = {.is_const = false};
        col_vec_init(&out.v, sql_type_phys(e->type), 0);
        sql_vec av[SQL_FUNC_MAXARGS];
        int na = 0;
        bool null_arg = false;
        for (; na < e->nargs && na < SQL_FUNC_MAXARGS && !rc; na++) {
            const sql_vec *a = &s->args[c][na];
            sql_datum d = sql_datum_get(e->args[na]->type, &a->v, sql_vec_row(a, r));
            null_arg |= d.null;
            rc = sql_vec_from_datum(e->args[na]->type, &d, &av[na]);
        }
        /* a strict call of a null argument yields nothing, as unnest(NULL) */
        if (!rc && !(null_arg && !(e->fn->flags & FN_NONSTRICT)))
            rc = e->fn->fn(&s->cx.f, e, av, 1, &out);
        for (int k = 0; k < na; k++)
            sql_vec_release(&av[k]);
        s->res[c] = out.v;
        if (out.v.len > s->m)
            s->m = out.v.len;
    }
    return rc;
}

/* Appends output row j of the current row's expansion to b. */
static int emit_row(op_srf *s, sql_batch *b)
{
    const sql_plan *p = s->op.p;
    int rc = SL_OK;
    for (int c = 0; c < p->ncols && !rc; c++) {
        sql_datum d;
        if (col_is_srf(p, c))
            d = s->j < s->res[c].len ? sql_datum_get(p->types[c], &s->res[c], s->j)
                                     : sql_datum_null();
        else
            d = sql_datum_get(p->types[c], &s->vals[c].v, sql_vec_row(&s->vals[c], s->row));
        rc = sql_datum_append(p->types[c], &d, &b->cols[c]);
    }
    if (!rc)
        b->n++;
    s->j++;
    return rc;
}

static int srf_next(sql_op *op, sql_batch **out)
{
    op_srf *s = (op_srf *)op;
    sql_batch *b = NULL;
    int rc = sql_batch_new(op->p->ncols, op->p->types, &b);
    while (!rc && b->n < OUT_ROWS) {
        if (!s->in) {
            sql_batch *in = NULL;
            if (s->done || (rc = sql_op_next(op->child, &in)) || !in) {
                s->done = true;
                break;
            }
            if ((rc = take_batch(s, in)))
                break;
        }
        if (s->row >= s->in->n) {
            release_batch(s);
            if (b->n)
                break; /* hand out what this batch made */
            continue;
        }
        if (!s->expanded && (rc = expand_row(s)))
            break;
        while (!rc && s->j < s->m && b->n < OUT_ROWS)
            rc = emit_row(s, b);
        if (s->j >= s->m) {
            release_row(s);
            s->row++;
        }
    }
    if (rc || !b->n) {
        sql_batch_free(b);
        b = NULL;
    }
    *out = b;
    return rc;
}

static int srf_open(sql_op *op)
{
    op_srf *s = (op_srf *)op;
    int nc = op->p->ncols ? op->p->ncols : 1;
    s->vals = arena_zalloc(op->x->a, sizeof *s->vals * (size_t)nc);
    s->args = arena_zalloc(op->x->a, sizeof *s->args * (size_t)nc);
    s->res = arena_zalloc(op->x->a, sizeof *s->res * (size_t)nc);
    if (!s->vals || !s->args || !s->res)
        return SL_ENOMEM;
    for (int c = 0; c < op->p->ncols; c++) {
        const sql_expr *e = op->p->project.exprs[c];
        if (col_is_srf(op->p, c) &&
            !(s->args[c] = arena_zalloc(op->x->a, sizeof **s->args * (size_t)(e->nargs + 1))))
            return SL_ENOMEM;
    }
    return SL_OK;
}

static void srf_close(sql_op *op)
{
    op_srf *s = (op_srf *)op;
    if (s->vals)
        release_batch(s);
    arena_destroy(&s->scratch);
}

static const sql_op_vt g_srf = {srf_open, srf_next, srf_close, NULL, NULL, NULL};

sql_op *sql_op_project_set_new(sql_exec *x, const sql_plan *p)
{
    (void)p;
    op_srf *s = arena_zalloc(x->a, sizeof *s);
    if (!s)
        return NULL;
    s->op.vt = &g_srf;
    arena_init(&s->scratch, 4096, 64u << 20);
    sql_exec_ectx(x, &s->cx, x->e, &s->scratch);
    return &s->op;
}
