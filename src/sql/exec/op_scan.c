/*
 * op_scan.c - reading a table: units on parallel workers, batches in unit
 * order, bounded memory.
 *
 * A table's scan is cut into units (a process's partitions, a user table's
 * segment, one metadata listing).  Workers claim units in order and run the
 * pushed-down part of the plan on them (the table's own pruning by time and
 * id, then the filter), producing batches of the scan's columns.  Two ways to
 * hand them over:
 *
 *   ordered queue  each unit has a queue of at most QUEUE_BATCHES batches;
 *                  the consumer drains unit k before k+1, workers run ahead
 *                  on at most `window` units and wait when their queue is
 *                  full, so memory is bounded by the window, not the table;
 *   any order      (a consumer that keeps everything before it answers: a window,
 *                  a full sort) one queue of at most QUEUE_BATCHES per worker,
 *                  filled by whichever worker has a batch, so no worker waits
 *                  for a slow unit ahead of it;
 *   sink           (aggregation, top-N) each worker hands its batches to its own
 *                  consumer state, in no particular order, no queue at all.
 *
 * One unit, or one worker, runs inline on the caller's thread.
 */
#include "sql/exec/exec.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/pool.h"

#include <string.h>

#define QUEUE_BATCHES 4
#define SMALL_BATCH 2048

typedef struct bnode {
    struct bnode *next;
    sql_batch *b;
} bnode;

typedef struct unitq {
    bnode *head, *tail;
    int n;
    bool done;
} unitq;

typedef struct op_scan op_scan;

typedef struct worker {
    op_scan *s;
    int id;
    pthread_t th;
    bool started;
    sql_err err;
    arena scratch;
    sql_ectx cx;
    uint32_t *sel;
    int64_t sel_cap;
} worker;

struct op_scan {
    sql_op op;
    sql_table *t;
    sql_table *own;         /* t when bound for this run (a correlated table function) */
    sql_scan_req req;
    int64_t nunits;
    int nworkers;
    worker *w;
    /* ordered mode */
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_data;
    unitq *q;
    int64_t claim;          /* next unit to claim */
    int64_t cur;            /* unit the consumer drains */
    int64_t window;
    bool any_order;         /* one queue (q[0]) for every unit */
    int work_waiters;       /* threads in a wait (a signal only when someone waits) */
    int data_waiters;
    int64_t units_done;
    bool stopping;
    bool threads_on;
    /* inline mode */
    sql_scan *inl;
    int64_t inl_unit;
    worker inl_w;
    /* sink mode */
    sql_sink_fn sink;
    void *sink_arg;
    _Atomic int64_t sink_claim;
};

static void worker_init(op_scan *s, worker *w, int id)
{
    memset(w, 0, sizeof *w);
    w->s = s;
    w->id = id;
    arena_init(&w->scratch, 4096, 64u << 20);
    sql_exec_ectx(s->op.x, &w->cx, &w->err, &w->scratch);
}

static void worker_free(worker *w)
{
    arena_destroy(&w->scratch);
    sl_free(w->sel);
}

/* The pushed-down filter on one batch: the batch itself, NULL (nothing left), or a copy. */
static int apply_filter(worker *w, sql_batch *in, sql_batch **out)
{
    const sql_expr *f = w->s->op.p->scan.filter;
    *out = NULL;
    if (!f) {
        *out = in;
        return SL_OK;
    }
    return sql_filter_batch(&w->cx, &w->scratch, f, &w->sel, &w->sel_cap, in, out);
}

static int put_sink(worker *w, int64_t u, sql_batch *b);

/* The small batches a selective filter leaves, handed over as one. */
static int flush_small(worker *w, int64_t u, sql_rows *pend,
                       int (*put)(worker *w, int64_t u, sql_batch *b))
{
    sql_batch *b;
    int rc = sql_rows_concat(pend, &b);
    sql_rows_free(pend);
    sql_rows_init(pend, w->s->op.p->ncols, w->s->op.p->types);
    return rc ? rc : put(w, u, b);
}

/* Reads one unit through the filter, handing batches to put(arg, b).  Through a queue,
 * batches under SMALL_BATCH rows are gathered first (in order): each hand-over costs a
 * lock and perhaps a wake-up. */
static int run_unit(worker *w, int64_t u, int (*put)(worker *w, int64_t u, sql_batch *b))
{
    op_scan *s = w->s;
    sql_scan *sc = NULL;
    sql_rows pend;
    sql_rows_init(&pend, s->op.p->ncols, s->op.p->types);
    bool gather = put != put_sink;
    int rc = s->t->ops->open(s->t, &s->req, u, &sc, &w->err);
    while (!rc) {
        if (atomic_load(&s->op.x->root->cancel))
            break;
        sql_batch *b;
        if ((rc = sc->ops->next(sc, &b, &w->err)) || !b)
            break;
        b->types = s->op.p->types;
        sql_batch *f;
        if ((rc = apply_filter(w, b, &f)) || !f)
            continue;
        if (gather && f->n < SMALL_BATCH) {
            if (!(rc = sql_rows_add(&pend, f)) && pend.nrows >= SMALL_BATCH)
                rc = flush_small(w, u, &pend, put);
            continue;
        }
        if (pend.nrows && (rc = flush_small(w, u, &pend, put))) {
            sql_batch_free(f);
            break;
        }
        rc = put(w, u, f);
    }
    if (!rc && pend.nrows)
        rc = flush_small(w, u, &pend, put);
    sql_rows_free(&pend);
    if (sc)
        sc->ops->close(sc);
    if (rc && !w->err.state[0])
        sql_err_set(&w->err, rc == SL_ENOMEM ? SQLSTATE_OUT_OF_MEMORY : SQLSTATE_INTERNAL, -1,
                    "%s: %s", s->t->name, sl_strerror(rc));
    return rc;
}

/* ---- ordered queue mode -------------------------------------------------- */

/* A wait that others can see: a wake-up (a system call) only when someone waits. */
static void wait_counted(pthread_cond_t *cv, pthread_mutex_t *mu, int *waiters)
{
    (*waiters)++;
    pthread_cond_wait(cv, mu);
    (*waiters)--;
}

static int put_queue(worker *w, int64_t u, sql_batch *b)
{
    op_scan *s = w->s;
    bnode *n = sl_malloc(sizeof *n);
    if (!n) {
        sql_batch_free(b);
        return SL_ENOMEM;
    }
    n->next = NULL;
    n->b = b;
    int64_t qi = s->any_order ? 0 : u, cap = s->any_order ? QUEUE_BATCHES * s->nworkers
                                                                 : QUEUE_BATCHES;
    pthread_mutex_lock(&s->mu);
    while (s->q[qi].n >= cap && !s->stopping)
        wait_counted(&s->cv_work, &s->mu, &s->work_waiters);
    if (s->stopping) {
        pthread_mutex_unlock(&s->mu);
        sql_batch_free(b);
        sl_free(n);
        return SL_ECANCELED;
    }
    unitq *q = &s->q[qi];
    if (q->tail)
        q->tail->next = n;
    else
        q->head = n;
    q->tail = n;
    q->n++;
    if (s->data_waiters)
        pthread_cond_broadcast(&s->cv_data);
    pthread_mutex_unlock(&s->mu);
    return SL_OK;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    op_scan *s = w->s;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->stopping && s->claim < s->nunits && !s->any_order &&
               s->claim >= s->cur + s->window)
            wait_counted(&s->cv_work, &s->mu, &s->work_waiters);
        if (s->stopping || s->claim >= s->nunits) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        int64_t u = s->claim++;
        pthread_mutex_unlock(&s->mu);
        int rc = run_unit(w, u, put_queue);
        pthread_mutex_lock(&s->mu);
        s->q[u].done = true;
        s->units_done++;
        pthread_cond_broadcast(&s->cv_data);
        pthread_mutex_unlock(&s->mu);
        if (rc && rc != SL_ECANCELED) {
            sql_exec_fail(s->op.x, &w->err);
            pthread_mutex_lock(&s->mu);
            s->stopping = true;
            pthread_cond_broadcast(&s->cv_data);
            pthread_cond_broadcast(&s->cv_work);
            pthread_mutex_unlock(&s->mu);
            break;
        }
    }
    return NULL;
}

static void stop_threads(op_scan *s)
{
    if (!s->threads_on)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->cv_work);
    pthread_cond_broadcast(&s->cv_data);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->nworkers; i++)
        if (s->w[i].started)
            pthread_join(s->w[i].th, NULL);
    s->threads_on = false;
}

static int start_threads(op_scan *s)
{
    s->q = sl_calloc((size_t)s->nunits, sizeof *s->q);
    s->w = sl_calloc((size_t)s->nworkers, sizeof *s->w);
    if (!s->q || !s->w)
        return SL_ENOMEM;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv_work, NULL);
    pthread_cond_init(&s->cv_data, NULL);
    s->window = s->nworkers * 2;
    s->threads_on = true;
    for (int i = 0; i < s->nworkers; i++) {
        worker_init(s, &s->w[i], i);
        if (pthread_create(&s->w[i].th, NULL, worker_main, &s->w[i]) == 0)
            s->w[i].started = true;
    }
    return SL_OK;
}

/* ---- open / next / close ------------------------------------------------ */

/*
 * A table function whose arguments name an enclosing query's columns (in a
 * correlated subquery, which runs once per outer row, each run building its
 * operators): bound again with this run's values.  The values are copied into
 * the run's arena, which outlives the scan.
 */
static int scan_rebind(op_scan *s)
{
    const sql_plan *p = s->op.p;
    sql_exec *x = s->op.x;
    sql_datum args[8];
    sql_type types[8];
    arena scratch;
    arena_init(&scratch, 1024, 64u << 20);
    sql_ectx cx;
    sql_exec_ectx(x, &cx, x->e, &scratch);
    int rc = SL_OK, n = p->scan.tf_nargs < 8 ? p->scan.tf_nargs : 8;
    for (int i = 0; i < n && !rc; i++) {
        types[i] = p->scan.tf_args[i]->type;
        rc = sql_eval_const(&cx, p->scan.tf_args[i], x->a, &args[i]);
    }
    arena_destroy(&scratch);
    if (!rc)
        rc = p->scan.tf->bind(x->root->eng, args, types, n, &s->own, x->e);
    if (!rc)
        s->t = s->own;
    return rc;
}

static int scan_open(sql_op *op)
{
    op_scan *s = (op_scan *)op;
    const sql_plan *p = op->p;
    s->t = p->scan.table;
    if (p->scan.tf) {
        int rc = scan_rebind(s);
        if (rc)
            return rc;
    }
    s->req.ncols = p->ncols;
    s->req.cols = p->scan.cols;
    s->req.begin_ns = p->scan.begin_ns;
    s->req.end_ns = p->scan.end_ns;
    s->req.key_lo = p->scan.key_lo;
    s->req.id_eq = p->scan.id_eq;
    s->req.id_col = s->t->id_col;
    s->req.batch_rows = 8192;
    s->req.workers = op->x->workers < 1 ? 1 : op->x->workers;
    s->req.cancel = (const uint8_t *)&op->x->root->cancel;
    s->req.built = &op->st->built;
    int rc = s->t->ops->units(s->t, &s->req, &s->nunits, op->x->e);
    if (rc)
        return rc;
    s->nworkers = op->x->workers < 1 ? 1 : op->x->workers;
    if (s->nworkers > s->nunits)
        s->nworkers = (int)(s->nunits ? s->nunits : 1);
    op->st->units = (uint64_t)s->nunits;
    op->st->pruned = s->req.pruned;
    op->st->workers = (uint64_t)s->nworkers;
    worker_init(s, &s->inl_w, 0);
    return SL_OK;
}

static int next_inline(op_scan *s, sql_batch **out)
{
    worker *w = &s->inl_w;
    for (;;) {
        if (!s->inl) {
            if (s->inl_unit >= s->nunits)
                return SL_OK;
            int rc = s->t->ops->open(s->t, &s->req, s->inl_unit++, &s->inl, s->op.x->e);
            if (rc)
                return rc;
        }
        sql_batch *b;
        int rc = s->inl->ops->next(s->inl, &b, s->op.x->e);
        if (rc)
            return rc;
        if (!b) {
            s->inl->ops->close(s->inl);
            s->inl = NULL;
            continue;
        }
        b->types = s->op.p->types;
        sql_batch *f;
        rc = apply_filter(w, b, &f);
        if (rc) {
            if (w->err.state[0])
                *s->op.x->e = w->err;
            return rc;
        }
        if (f) {
            *out = f;
            return SL_OK;
        }
    }
}

static int scan_next(sql_op *op, sql_batch **out)
{
    op_scan *s = (op_scan *)op;
    if (s->nworkers <= 1)
        return next_inline(s, out);
    if (!s->threads_on && !s->q) {
        int rc = start_threads(s);
        if (rc)
            return rc;
    }
    pthread_mutex_lock(&s->mu);
    for (;;) {
        if (s->stopping && op->x->root->e->state[0]) {
            pthread_mutex_unlock(&s->mu);
            return op->x->root->e->code ? op->x->root->e->code : SL_EINVAL;
        }
        if (s->cur >= s->nunits) {
            pthread_mutex_unlock(&s->mu);
            return SL_OK;
        }
        unitq *q = &s->q[s->any_order ? 0 : s->cur];
        if (s->any_order && !q->head && s->units_done == s->nunits) {
            s->cur = s->nunits;
            continue;
        }
        if (q->head) {
            bnode *n = q->head;
            q->head = n->next;
            if (!q->head)
                q->tail = NULL;
            q->n--;
            if (s->work_waiters)
                pthread_cond_broadcast(&s->cv_work);
            pthread_mutex_unlock(&s->mu);
            *out = n->b;
            sl_free(n);
            return SL_OK;
        }
        if (q->done && !s->any_order) {
            s->cur++;
            if (s->work_waiters)
                pthread_cond_broadcast(&s->cv_work);
            continue;
        }
        if (s->stopping) {
            pthread_mutex_unlock(&s->mu);
            return sql_exec_check(op->x) ? op->x->e->code : SL_ECANCELED;
        }
        wait_counted(&s->cv_data, &s->mu, &s->data_waiters);
    }
}

static void scan_close(sql_op *op)
{
    op_scan *s = (op_scan *)op;
    stop_threads(s);
    if (s->q) {
        for (int64_t u = 0; u < s->nunits; u++)
            for (bnode *n = s->q[u].head, *nx; n; n = nx) {
                nx = n->next;
                sql_batch_free(n->b);
                sl_free(n);
            }
        sl_free(s->q);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv_work);
        pthread_cond_destroy(&s->cv_data);
    }
    if (s->w) {
        for (int i = 0; i < s->nworkers; i++)
            worker_free(&s->w[i]);
        sl_free(s->w);
    }
    if (s->inl)
        s->inl->ops->close(s->inl);
    worker_free(&s->inl_w);
    if (s->t && s->t->ops->release)
        s->t->ops->release(s->t, &s->req);
    if (s->own)
        sql_table_free(s->own);
    s->own = NULL;
    s->req.state = NULL;
    s->q = NULL;
    s->w = NULL;
    s->inl = NULL;
}

static const sql_op_vt g_scan = {scan_open, scan_next, scan_close, NULL, NULL, NULL};

sql_op *sql_op_scan_new(sql_exec *x, const sql_plan *p)
{
    (void)p;
    op_scan *s = arena_zalloc(x->a, sizeof *s);
    if (!s)
        return NULL;
    s->op.vt = &g_scan;
    return &s->op;
}

/* ---- sink mode ---------------------------------------------------------- */

bool sql_op_scan_can_sink(const sql_op *op)
{
    return op && op->p->kind == SP_SCAN;
}

int sql_op_scan_workers(const sql_op *op)
{
    return ((const op_scan *)op)->nworkers;
}

void sql_op_scan_any_order(sql_op *op)
{
    if (op && op->p->kind == SP_SCAN && !((op_scan *)op)->threads_on)
        ((op_scan *)op)->any_order = true;
}

void sql_op_scan_set_bound(sql_op *op, sql_scan_bound *bound)
{
    if (op && op->p->kind == SP_SCAN)
        ((op_scan *)op)->req.bound = bound;
}

static int put_sink(worker *w, int64_t u, sql_batch *b)
{
    (void)u;
    op_scan *s = w->s;
    s->op.st->rows += (uint64_t)b->n;
    s->op.st->batches++;
    return s->sink(s->sink_arg, w->id, b, &w->err);
}

static void *sink_main(void *arg)
{
    worker *w = arg;
    op_scan *s = w->s;
    for (;;) {
        int64_t u = atomic_fetch_add(&s->sink_claim, 1);
        if (u >= s->nunits || atomic_load(&s->op.x->root->cancel))
            break;
        if (run_unit(w, u, put_sink)) {
            sql_exec_fail(s->op.x, &w->err);
            break;
        }
    }
    return NULL;
}

int sql_op_scan_run_sink(sql_op *op, int *nworkers, sql_sink_fn fn, void *arg)
{
    op_scan *s = (op_scan *)op;
    s->sink = fn;
    s->sink_arg = arg;
    atomic_init(&s->sink_claim, 0);
    *nworkers = s->nworkers;
    int64_t t0 = clock_mono_ns();
    int rc = SL_OK;
    if (s->nworkers <= 1) {
        s->inl_w.id = 0;
        sink_main(&s->inl_w);
    } else {
        s->w = sl_calloc((size_t)s->nworkers, sizeof *s->w);
        if (!s->w)
            return SL_ENOMEM;
        for (int i = 0; i < s->nworkers; i++) {
            worker_init(s, &s->w[i], i);
            if (pthread_create(&s->w[i].th, NULL, sink_main, &s->w[i]) == 0)
                s->w[i].started = true;
            else
                sink_main(&s->w[i]);
        }
        for (int i = 0; i < s->nworkers; i++)
            if (s->w[i].started)
                pthread_join(s->w[i].th, NULL);
    }
    op->st->ns += clock_mono_ns() - t0;
    if (op->x->root->e->state[0] || sql_exec_check(op->x))
        rc = op->x->e->code ? op->x->e->code : SL_EINVAL;
    return rc;
}
