/*
 * pipe.c - pipelines: the streaming operators between a parallel scan and a
 * consumer that takes batches on the scan's workers, run on those workers.
 *
 * Without this, a filter, projection or hash-join probe above a scan ran on
 * the consumer's thread, one batch after another: an aggregation over a join
 * of 20 M spans with their streams used one core.  Here the chain (from the
 * consumer down: FILTER, PROJECT, inner / left / semi / anti hash JOIN on its
 * probe side, ending in a scan that can sink) gets per-worker state, each join
 * builds its table first (on the calling thread), and each worker pushes its
 * scan batches up through the chain into the consumer's sink.  An operator
 * may emit any number of batches for one it takes (a join's many-to-many keys
 * in rounds), each going up at once.
 */
#include "sql/exec/exec.h"

#include "base/alloc.h"

#define PIPE_MAX 16

typedef struct pipe_run pipe_run;

typedef struct level {
    pipe_run *run;
    int at;                  /* stages[at] takes the batch; nstages: the sink */
} level;

struct pipe_run {
    sql_op *stages[PIPE_MAX]; /* bottom (just above the scan) to top */
    int nstages;
    level levels[PIPE_MAX + 1];
    int (*fn)(void *arg, int w, sql_batch *b, sql_err *e);
    void *arg;
};

/* Whether an operator can run on workers: it streams, and nothing in it runs a
 * subquery (those stay on one thread); joins by hash, with no state shared by
 * probes (RIGHT and FULL joins mark build rows). */
static bool streams(const sql_op *op)
{
    if (!op || !op->vt->stream || !op->vt->stream_prepare)
        return false;
    const sql_plan *p = op->p;
    switch (p->kind) {
    case SP_FILTER: return !sql_expr_has_subquery(p->filter.pred);
    case SP_PROJECT:
        for (int c = 0; c < p->ncols; c++)
            if (sql_expr_has_subquery(p->project.exprs[c]))
                return false;
        return true;
    case SP_JOIN: {
        uint8_t t = p->join.type;
        if (p->join.nkeys == 0 || (t != SJ_INNER && t != SJ_LEFT && t != SJ_SEMI && t != SJ_ANTI))
            return false;
        if (p->join.cond && sql_expr_has_subquery(p->join.cond))
            return false;
        for (int k = 0; k < p->join.nkeys; k++)
            if (sql_expr_has_subquery(p->join.lkeys[k]) || sql_expr_has_subquery(p->join.rkeys[k]))
                return false;
        return true;
    }
    default: return false;
    }
}

/* The chain from op down to its scan: n stages, or -1 if op is not such a chain. */
static int chain(const sql_op *op, sql_op **stages)
{
    int n = 0;
    const sql_op *o = op;
    while (o && !sql_op_scan_can_sink(o)) {
        if (!streams(o) || n == PIPE_MAX)
            return -1;
        stages[n++] = (sql_op *)o;
        o = o->child;
    }
    return o ? n : -1;
}

static const sql_op *scan_of(const sql_op *op)
{
    while (op && !sql_op_scan_can_sink(op))
        op = op->child;
    return op;
}

bool sql_pipe_can_run(const sql_op *op)
{
    sql_op *st[PIPE_MAX];
    return chain(op, st) >= 0;
}

int sql_pipe_workers(const sql_op *op)
{
    const sql_op *s = scan_of(op);
    return s ? sql_op_scan_workers(s) : 1;
}

void sql_opstats_add(sql_op *op, int64_t rows)
{
    __atomic_fetch_add(&op->st->rows, (uint64_t)rows, __ATOMIC_RELAXED);
    __atomic_fetch_add(&op->st->batches, 1, __ATOMIC_RELAXED);
}

/* A batch at level l on worker w: into stages[l], or the sink above the last. */
static int push(void *arg, int w, sql_batch *b, sql_err *e)
{
    level *l = arg;
    pipe_run *r = l->run;
    if (l->at == r->nstages)
        return r->fn(r->arg, w, b, e);
    sql_op *op = r->stages[l->at];
    return op->vt->stream(op, w, b, push, &r->levels[l->at + 1], e);
}

int sql_pipe_push(sql_op *const *stages, int n, int w, sql_batch *b,
                  int (*fn)(void *arg, int w, sql_batch *b, sql_err *e), void *arg, sql_err *e)
{
    if (n > PIPE_MAX) {
        sql_batch_free(b);
        return sql_err_set(e, SQLSTATE_FEATURE, -1, "more than %d streaming operators in a row",
                           PIPE_MAX);
    }
    pipe_run r = {.nstages = n, .fn = fn, .arg = arg};
    for (int i = 0; i < n; i++)
        r.stages[i] = stages[i];
    for (int i = 0; i <= n; i++)
        r.levels[i] = (level){&r, i};
    return push(&r.levels[0], w, b, e);
}

int sql_pipe_run(sql_op *op, int *nworkers, int (*fn)(void *arg, int w, sql_batch *b, sql_err *e),
                 void *arg)
{
    sql_op *top[PIPE_MAX];
    int n = chain(op, top);
    if (n < 0)
        return SL_EINVAL;
    pipe_run r = {.nstages = n, .fn = fn, .arg = arg};
    for (int i = 0; i < n; i++)
        r.stages[i] = top[n - 1 - i];
    for (int i = 0; i <= n; i++)
        r.levels[i] = (level){&r, i};
    sql_op *scan = (sql_op *)scan_of(op);
    int nw = sql_op_scan_workers(scan), rc = SL_OK, prepared = 0;
    for (; prepared < n && !rc; prepared++)
        rc = r.stages[prepared]->vt->stream_prepare(r.stages[prepared], nw);
    if (!rc)
        rc = sql_op_scan_run_sink(scan, nworkers, push, &r.levels[0]);
    for (int i = 0; i < prepared; i++)
        if (r.stages[i]->vt->stream_finish)
            r.stages[i]->vt->stream_finish(r.stages[i]);
    return rc;
}
