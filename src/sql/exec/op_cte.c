/*
 * op_cte.c - WITH queries: computed once per query, read by every reference.
 *
 * The first reference to be read runs the CTE's plan to completion and keeps
 * its batches (counted in work_mem); every reference then reads them.
 * WITH RECURSIVE: the non-recursive part gives the first rows; the recursive
 * part is run again and again, its reference to the CTE reading only the rows
 * the previous round added, until a round adds nothing (UNION drops rows
 * already present, UNION ALL keeps them), as PostgreSQL evaluates it.
 */
#include "sql/exec/exec.h"

#include "base/alloc.h"
#include "sql/exec/hashtab.h"

#include <string.h>

struct cte_state {
    cte_state *next;
    const sql_cte *cte;
    sql_rows rows;           /* every row of the CTE */
    sql_rows *working;       /* recursion: what the recursive part reads now */
    int64_t held;            /* accounted against work_mem */
    bool done, running;
};

typedef struct op_cte {
    sql_op op;
    cte_state *st;
    sql_rows *src;           /* what this reference reads */
    int pos;
} op_cte;

static cte_state *state_of(sql_exec *x, const sql_cte *c)
{
    sql_exec *r = x->root;
    pthread_mutex_lock(&r->mu);
    cte_state *s = r->ctes;
    while (s && s->cte != c)
        s = s->next;
    if (!s && (s = sl_calloc(1, sizeof *s))) {
        s->cte = c;
        sql_rows_init(&s->rows, c->plan->ncols, c->plan->types);
        s->next = r->ctes;
        r->ctes = s;
    }
    pthread_mutex_unlock(&r->mu);
    return s;
}

/* Runs plan p, adding every batch to rows (and to fresh, the round's rows, if given). */
static int run_into(sql_exec *x, const sql_plan *p, sql_rows *rows, sql_rows *fresh, sql_ht *seen,
                    int64_t *s_held)
{
    sql_op *op;
    int rc = sql_op_build(x, p, &op);
    if (!rc)
        rc = sql_op_open(op);
    while (!rc) {
        sql_batch *b;
        if ((rc = sql_op_next(op, &b)) || !b)
            break;
        if (seen) {
            /* UNION: only rows never seen before */
            sql_vec *k = sl_calloc((size_t)(b->ncols ? b->ncols : 1), sizeof *k);
            uint32_t *ids = sl_malloc(sizeof *ids * (size_t)(b->n ? b->n : 1));
            uint32_t *keep = sl_malloc(sizeof *keep * (size_t)(b->n ? b->n : 1));
            uint32_t before = seen->n;
            int64_t m = 0;
            rc = k && ids && keep ? SL_OK : SL_ENOMEM;
            for (int c = 0; !rc && c < b->ncols; c++)
                k[c].v = b->cols[c];
            if (!rc)
                rc = sql_ht_lookup(seen, k, b->n, NULL, true, ids);
            for (int64_t i = 0; !rc && i < b->n; i++)
                if (ids[i] >= before) {
                    keep[m++] = (uint32_t)i;
                    before = ids[i] + 1;
                }
            sql_batch *t = NULL;
            if (!rc && m)
                rc = sql_batch_take(b, keep, m, &t);
            sl_free(k);
            sl_free(ids);
            sl_free(keep);
            sql_batch_free(b);
            if (rc || !t)
                continue;
            b = t;
        }
        if (fresh) {
            sql_batch *copy;
            uint32_t *all = sl_malloc(sizeof *all * (size_t)(b->n ? b->n : 1));
            if (!all) {
                sql_batch_free(b);
                rc = SL_ENOMEM;
                break;
            }
            for (int64_t i = 0; i < b->n; i++)
                all[i] = (uint32_t)i;
            rc = sql_batch_take(b, all, b->n, &copy);
            sl_free(all);
            if (!rc)
                rc = sql_rows_add(fresh, copy);
        }
        int64_t bytes = sql_batch_bytes(b);
        if (!rc)
            rc = sql_rows_add(rows, b);
        if (!rc && !(rc = sql_exec_mem(x, NULL, bytes)) && s_held)
            *s_held += bytes;
    }
    if (op)
        sql_op_close(op);
    return rc;
}

static int materialize(sql_exec *x, cte_state *s)
{
    const sql_cte *c = s->cte;
    s->running = true;
    if (!c->recursive) {
        int rc = run_into(x, c->plan, &s->rows, NULL, NULL, &s->held);
        s->running = false;
        s->done = !rc;
        return rc;
    }
    sql_ht seen;
    bool dedupe = !c->union_all;
    int rc = dedupe ? sql_ht_init(&seen, c->plan->ncols, c->plan->types, true) : SL_OK;
    sql_rows *work = sl_calloc(1, sizeof *work), *next = sl_calloc(1, sizeof *next);
    if (!work || !next)
        rc = SL_ENOMEM;
    if (!rc) {
        sql_rows_init(work, c->plan->ncols, c->plan->types);
        rc = run_into(x, c->plan, &s->rows, work, dedupe ? &seen : NULL, &s->held);
    }
    while (!rc && work->nrows) {
        sql_rows_init(next, c->plan->ncols, c->plan->types);
        s->working = work;
        rc = run_into(x, c->recursive_part, &s->rows, next, dedupe ? &seen : NULL, &s->held);
        s->working = NULL;
        sql_rows_free(work);
        sql_rows *t = work;
        work = next;
        next = t;
        if (!rc)
            rc = sql_exec_check(x);
    }
    if (work)
        sql_rows_free(work);
    if (next)
        sql_rows_free(next);
    sl_free(work);
    sl_free(next);
    if (dedupe)
        sql_ht_free(&seen);
    s->running = false;
    s->done = !rc;
    return rc;
}

static int cte_open(sql_op *op)
{
    op_cte *o = (op_cte *)op;
    const sql_cte *c = op->p->cte_ref.cte;
    if (!(o->st = state_of(op->x, c)))
        return SL_ENOMEM;
    o->pos = 0;
    if (o->st->running) {
        /* a reference inside the recursive part: the previous round's rows */
        o->src = o->st->working;
        return o->src ? SL_OK : sql_err_set(op->x->e, SQLSTATE_FEATURE, -1,
                                            "recursive reference to query \"%s\" must not appear "
                                            "within its non-recursive term", c->name);
    }
    if (!o->st->done) {
        int rc = materialize(op->x, o->st);
        if (rc)
            return rc;
    }
    o->src = &o->st->rows;
    return SL_OK;
}

static int cte_next(sql_op *op, sql_batch **out)
{
    op_cte *o = (op_cte *)op;
    while (o->src && o->pos < o->src->nb) {
        const sql_batch *b = o->src->b[o->pos++];
        if (!b->n)
            continue;
        /* a copy sharing the column buffers */
        sql_batch *c;
        int rc = sql_batch_new(b->ncols, op->p->types, &c);
        if (rc)
            return rc;
        for (int i = 0; i < b->ncols; i++) {
            col_vec_release(&c->cols[i]);
            sql_vec_share(&b->cols[i], &c->cols[i]);
        }
        c->n = b->n;
        *out = c;
        return SL_OK;
    }
    return SL_OK;
}

static const sql_op_vt g_cte = {cte_open, cte_next, NULL, NULL, NULL, NULL};

sql_op *sql_op_cte_new(sql_exec *x, const sql_plan *p)
{
    (void)p;
    op_cte *o = arena_zalloc(x->a, sizeof *o);
    if (o)
        o->op.vt = &g_cte;
    return o ? &o->op : NULL;
}

void sql_exec_free_ctes(sql_exec *x);
void sql_exec_free_ctes(sql_exec *x)
{
    for (cte_state *s = x->ctes, *n; s; s = n) {
        n = s->next;
        if (s->held)
            sql_exec_mem(x, NULL, -s->held);
        sql_rows_free(&s->rows);
        sl_free(s);
    }
    x->ctes = NULL;
}
