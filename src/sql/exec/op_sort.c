/*
 * op_sort.c - ORDER BY: a full sort, or top-N when a LIMIT is known.
 *
 * The input is gathered into one batch, the sort keys evaluated once, and
 * row numbers sorted.  Each row gets an 8-byte prefix of its first key in an
 * order-preserving encoding (integers and times with the sign bit flipped,
 * floats by their IEEE bits, strings by their first 8 bytes, inverted for
 * DESC, nulls first or last), so most comparisons are one integer compare;
 * equal prefixes fall back to comparing the keys.  Top-N (ORDER BY ...
 * LIMIT n) keeps at most about 2n + 1024 rows at any time: whenever the buffer
 * passes that, it is sorted and cut to n, and the n-th row's prefix becomes a
 * threshold: a later row whose first key's prefix is above it cannot enter
 * and is dropped as it arrives, so a top-N over millions of rows sorts a few
 * thousand.  A full sort past a third of work_mem writes what it holds as a
 * sorted run to a temporary file (spill.h) and goes on; at the end the runs
 * are merged a chunk of each at a time.  A top-N straight over a parallel scan runs on the scan's workers,
 * each with its own buffer (merged at the end), sharing the best threshold;
 * when its first key is a stored integer or time column, the key of the worst
 * row kept also goes down to the scan as a bound (sql_scan_bound), and row
 * groups whose statistics cannot beat it are never read.  Memory counts against work_mem;
 * a merge whose chunks (one per run) do not fit fails with SQLSTATE 53200.
 */
#include "sql/exec/exec.h"
#include "sql/exec/spill.h"

#include "base/alloc.h"

#include <stdlib.h>
#include <string.h>

#define OUT_BATCH 8192
#define RUN_CHUNK 1024 /* rows per batch of a sorted run on disk: the merge holds one per run */

typedef struct item {
    uint64_t prefix;
    uint32_t row;
} item;

/* A top-N buffer: the rows that may still enter, and their threshold. */
typedef struct topn {
    sql_rows in;
    int64_t held;
    /* the prefix of the worst row kept; rows whose prefix is above it cannot
     * enter, and are dropped as they arrive (one integer compare) */
    bool have_thr;
    uint64_t thr;
    uint32_t *sel;
    int64_t sel_cap;
    sql_ectx cx;
    arena scratch;
    sql_err err;
} topn;

typedef struct op_sort {
    sql_op op;
    topn main;
    sql_batch *all;          /* sorted input, when built */
    uint32_t *order;
    int64_t n, emitted;
    int nkeys;
    const sql_sortkey *keys;
    sql_type *ktypes;
    bool *desc, *nulls_first;
    int64_t limit;           /* rows to keep; -1 all */
    bool built;
    /* parallel top-N: per-worker buffers; the best threshold of all of them */
    topn *part;
    int nparts;
    _Atomic uint64_t gthr;
    pthread_mutex_t mu;      /* memory accounting from workers */
    sql_scan_bound *bound;   /* the scan's, when the first key is one of its columns */
    /* external sort: sorted runs in a temporary file, merged as rows are asked for */
    sql_spill sp;
    bool spilling;
    struct run *runs;
    int nruns, runs_cap;
    int *heap;               /* runs with rows left, the next row to emit first */
    int nheap;
} op_sort;

/* A sorted run in the spill file: [at, end), its current chunk and that chunk's keys. */
typedef struct run {
    uint64_t at, end;
    sql_batch *b;
    col_vec *kv;
    int64_t pos;
} run;

typedef struct sctx {
    op_sort *s;
    col_vec *kv;             /* evaluated keys over `all` */
} sctx;

static int cmp_items(const void *x, const void *y, void *arg)
{
    const item *a = x, *b = y;
    if (a->prefix != b->prefix)
        return a->prefix < b->prefix ? -1 : 1;
    sctx *c = arg;
    op_sort *s = c->s;
    int r = sql_cmp_rows(s->ktypes, c->kv, a->row, c->kv, b->row, s->nkeys, s->desc, s->nulls_first);
    if (r)
        return r;
    return a->row < b->row ? -1 : a->row > b->row; /* stable */
}

/* The sort keys of b, evaluated into kv (owned by the caller). */
static int eval_keys(op_sort *s, topn *t, sql_batch *b, col_vec *kv)
{
    int rc = SL_OK;
    b->types = s->op.p->types;
    for (int k = 0; !rc && k < s->nkeys; k++) {
        sql_vec v;
        arena_reset(&t->scratch);
        if ((rc = sql_eval(&t->cx, s->keys[k].e, b, NULL, &v)))
            break;
        if (v.is_const) {
            rc = sql_vec_expand(&v, b->n, &kv[k]);
            sql_vec_release(&v);
        } else {
            kv[k] = v.v;
        }
    }
    return rc;
}

/* Sorts `all` by the keys into order[0..n) (only the first `keep` need be right). */
static int sort_batch(op_sort *s, topn *t, sql_batch *all, uint32_t **order_out)
{
    int64_t n = all->n;
    col_vec *kv = sl_calloc((size_t)s->nkeys, sizeof *kv);
    item *it = sl_malloc(sizeof *it * (size_t)(n ? n : 1));
    uint32_t *order = sl_malloc(sizeof *order * (size_t)(n ? n : 1));
    int rc = kv && it && order ? eval_keys(s, t, all, kv) : SL_ENOMEM;
    if (!rc) {
        for (int64_t i = 0; i < n; i++)
            it[i] = (item){sql_sort_prefix(&kv[0], s->ktypes[0], i, s->desc[0], s->nulls_first[0]),
                           (uint32_t)i};
        sctx c = {s, kv};
        qsort_r(it, (size_t)n, sizeof *it, cmp_items, &c);
        for (int64_t i = 0; i < n; i++)
            order[i] = it[i].row;
    }
    for (int k = 0; kv && k < s->nkeys; k++)
        col_vec_release(&kv[k]);
    sl_free(kv);
    sl_free(it);
    if (rc) {
        sl_free(order);
        return rc;
    }
    *order_out = order;
    return SL_OK;
}

static int hold(op_sort *s, topn *t, int64_t bytes)
{
    if (s->nparts)
        pthread_mutex_lock(&s->mu);
    int rc = sql_exec_mem(s->op.x, &s->op, bytes - t->held);
    t->held = bytes;
    if (s->nparts)
        pthread_mutex_unlock(&s->mu);
    return rc;
}

/* The worst kept row's key (row `at` of v) as the scan's bound: rows beyond it cannot enter. */
static void publish(op_sort *s, const sql_vec *v, int64_t at)
{
    sql_scan_bound *bd = s->bound;
    if (!bd || sql_type_phys(s->ktypes[0]) != COL_INT64 || !sql_vec_valid(v, at))
        return;
    int64_t k = ((const int64_t *)v->v.values->p)[v->is_const ? 0 : at];
    _Atomic int64_t *side = s->desc[0] ? &bd->lo : &bd->hi;
    int64_t cur = atomic_load(side);
    while (s->desc[0] ? k > cur : k < cur)
        if (atomic_compare_exchange_weak(side, &cur, k))
            break;
}

/* The buffered rows as one batch; the buffer starts empty again. */
static int take_buffer(op_sort *s, topn *t, sql_batch **all)
{
    int rc = sql_rows_concat(&t->in, all);
    if (rc)
        return rc;
    sql_rows_free(&t->in);
    sql_rows_init(&t->in, s->op.p->ncols, s->op.p->types);
    (*all)->types = s->op.p->types;
    return SL_OK;
}

/* Top-N: the buffered rows sorted and cut to the limit, as one batch. */
static int compact(op_sort *s, topn *t)
{
    sql_batch *all;
    int rc = take_buffer(s, t, &all);
    if (rc)
        return rc;
    uint32_t *order;
    if ((rc = sort_batch(s, t, all, &order))) {
        sql_batch_free(all);
        return rc;
    }
    int64_t keep = all->n < s->limit ? all->n : s->limit;
    sql_batch *top;
    rc = sql_batch_take(all, order, keep, &top);
    sl_free(order);
    sql_batch_free(all);
    if (!rc && keep == s->limit && keep > 0) {
        /* the worst row kept (the last, sorted) sets the threshold */
        sql_vec v;
        arena_reset(&t->scratch);
        top->types = s->op.p->types;
        if (!(rc = sql_eval(&t->cx, s->keys[0].e, top, NULL, &v))) {
            t->thr = sql_sort_prefix(&v.v, s->ktypes[0], v.is_const ? 0 : keep - 1, s->desc[0],
                                     s->nulls_first[0]);
            t->have_thr = true;
            uint64_t g = atomic_load(&s->gthr);
            while (t->thr < g && !atomic_compare_exchange_weak(&s->gthr, &g, t->thr))
                ;
            publish(s, &v, keep - 1);
            sql_vec_release(&v);
        }
    }
    if (!rc)
        rc = sql_rows_add(&t->in, top);
    else
        sql_batch_free(top);
    return rc ? rc : hold(s, t, t->in.mem);
}

/* Top-N with a threshold: the rows of b that may still enter (b itself, a copy, or NULL). */
static int admit(op_sort *s, topn *t, sql_batch *b, sql_batch **out)
{
    *out = b;
    uint64_t thr = atomic_load_explicit(&s->gthr, memory_order_relaxed);
    if (t->have_thr && t->thr < thr)
        thr = t->thr;
    if (thr == UINT64_MAX || !b->n)
        return SL_OK;
    sql_vec v;
    arena_reset(&t->scratch);
    b->types = s->op.p->types;
    int rc = sql_eval(&t->cx, s->keys[0].e, b, NULL, &v);
    if (rc)
        return rc;
    if (b->n > t->sel_cap) {
        sl_free(t->sel);
        t->sel_cap = b->n;
        if (!(t->sel = sl_malloc(sizeof *t->sel * (size_t)t->sel_cap))) {
            t->sel_cap = 0;
            sql_vec_release(&v);
            return SL_ENOMEM;
        }
    }
    int64_t k = 0;
    for (int64_t i = 0; i < b->n; i++) {
        uint64_t p = sql_sort_prefix(&v.v, s->ktypes[0], v.is_const ? 0 : i, s->desc[0],
                                     s->nulls_first[0]);
        if (p <= thr) /* equal prefixes: the full keys decide later */
            t->sel[k++] = (uint32_t)i;
    }
    sql_vec_release(&v);
    if (k == b->n)
        return SL_OK;
    *out = NULL;
    if (k)
        rc = sql_batch_take(b, t->sel, k, out);
    sql_batch_free(b);
    return rc;
}

static int spill_run(op_sort *s, topn *t);

/* One batch into a buffer: admitted, kept, compacted when it passes about 2n rows. */
static int add(op_sort *s, topn *t, sql_batch *b)
{
    int rc;
    if (s->limit >= 0 && (rc = admit(s, t, b, &b)))
        return rc;
    if (!b)
        return SL_OK;
    if ((rc = sql_rows_add(&t->in, b)))
        return rc;
    /* a full sort past a third of work_mem (sorting needs about as much again)
     * writes what it holds as a sorted run and goes on */
    int64_t wm = s->op.x->root->mem_limit;
    if (s->limit < 0 && !s->nparts && wm > 0 && t->in.mem > wm / 3)
        return spill_run(s, t);
    if ((rc = hold(s, t, t->in.mem)))
        return rc;
    /* compacting often keeps the threshold (and the scan's bound) tight: the rows
     * sorted each time are about 2n + 1024, so the cost per row stays small */
    if (s->limit >= 0 && t->in.nrows > 2 * s->limit + 1024)
        rc = compact(s, t);
    return rc;
}

/* ---- external sort ---- */

/* The buffered rows, sorted, written as one more run; the memory they held is given back. */
static int spill_run(op_sort *s, topn *t)
{
    sql_batch *all;
    int rc = take_buffer(s, t, &all);
    if (rc)
        return rc;
    uint32_t *order = NULL;
    if (!s->spilling) {
        if ((rc = sql_spill_open(&s->sp, s->op.x->e))) {
            sql_batch_free(all);
            return rc;
        }
        s->spilling = true;
    }
    if (s->nruns == s->runs_cap) {
        int cap = s->runs_cap ? s->runs_cap * 2 : 16;
        run *nr = sl_realloc(s->runs, sizeof *nr * (size_t)cap);
        if (!nr) {
            sql_batch_free(all);
            return SL_ENOMEM;
        }
        s->runs = nr;
        s->runs_cap = cap;
    }
    run *r = &s->runs[s->nruns];
    memset(r, 0, sizeof *r);
    r->at = s->sp.end;
    rc = sort_batch(s, t, all, &order);
    for (int64_t i = 0; !rc && i < all->n; i += RUN_CHUNK) {
        sql_batch *c;
        int64_t m = all->n - i < RUN_CHUNK ? all->n - i : RUN_CHUNK;
        if (!(rc = sql_batch_take(all, order + i, m, &c))) {
            rc = sql_spill_write(&s->sp, c, s->op.x->e);
            sql_batch_free(c);
        }
    }
    r->end = s->sp.end;
    if (!rc) {
        s->nruns++;
        s->op.st->spill_runs++;
        s->op.st->spill_bytes += r->end - r->at;
    }
    sl_free(order);
    sql_batch_free(all);
    return rc ? rc : hold(s, t, 0);
}

/* The next chunk of run i (its keys evaluated), or none when the run is done. */
static int run_load(op_sort *s, int i)
{
    run *r = &s->runs[i];
    sql_batch_free(r->b);
    r->b = NULL;
    for (int k = 0; r->kv && k < s->nkeys; k++)
        col_vec_release(&r->kv[k]);
    r->pos = 0;
    if (r->at >= r->end)
        return SL_OK;
    if (!r->kv && !(r->kv = sl_calloc((size_t)s->nkeys, sizeof *r->kv)))
        return SL_ENOMEM;
    int rc = sql_spill_read(&s->sp, &r->at, s->op.p->ncols, s->op.p->types, &r->b, s->op.x->e);
    return rc ? rc : eval_keys(s, &s->main, r->b, r->kv);
}

/* Whether run a's current row comes before run b's (ties: the earlier run, as input came). */
static bool run_before(op_sort *s, int a, int b)
{
    run *x = &s->runs[a], *y = &s->runs[b];
    int c = sql_cmp_rows(s->ktypes, x->kv, x->pos, y->kv, y->pos, s->nkeys, s->desc,
                         s->nulls_first);
    return c < 0 || (c == 0 && a < b);
}

static void sift_down(op_sort *s, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->nheap && run_before(s, s->heap[l], s->heap[m]))
            m = l;
        if (r < s->nheap && run_before(s, s->heap[r], s->heap[m]))
            m = r;
        if (m == i)
            return;
        int t = s->heap[i];
        s->heap[i] = s->heap[m];
        s->heap[m] = t;
        i = m;
    }
}

/* After the input: the rest as a last run, every run's first chunk, the heap. */
static int merge_start(op_sort *s)
{
    topn *t = &s->main;
    int rc = t->in.nrows ? spill_run(s, t) : SL_OK;
    if (!rc && !(s->heap = sl_malloc(sizeof *s->heap * (size_t)(s->nruns ? s->nruns : 1))))
        rc = SL_ENOMEM;
    int64_t held = 0;
    for (int i = 0; !rc && i < s->nruns; i++) {
        if ((rc = run_load(s, i)) || !s->runs[i].b)
            continue;
        held += sql_batch_bytes(s->runs[i].b) * 2; /* the chunk and its keys */
        s->heap[s->nheap++] = i;
    }
    /* a chunk of every run at once: within work_mem, or 53200 */
    if (!rc)
        rc = hold(s, t, held);
    for (int i = s->nheap / 2 - 1; !rc && i >= 0; i--)
        sift_down(s, i);
    return rc;
}

/* One row of v (a spilled chunk's column: never a dictionary) appended to o. */
static int append_row(col_vec *o, const col_vec *v, int64_t r)
{
    if (!col_vec_is_valid(v, r))
        return col_vec_append_null(o);
    const uint8_t *p = v->values->p;
    switch (v->type) {
    case COL_BOOL: return col_vec_append_bool(o, col_vec_bool(v, r));
    case COL_INT32: return col_vec_append_i32(o, ((const int32_t *)(const void *)p)[r]);
    case COL_UINT32: return col_vec_append_u32(o, ((const uint32_t *)(const void *)p)[r]);
    case COL_INT64:
    case COL_TS_NS: return col_vec_append_i64(o, ((const int64_t *)(const void *)p)[r]);
    case COL_UINT64: return col_vec_append_u64(o, ((const uint64_t *)(const void *)p)[r]);
    case COL_DOUBLE: return col_vec_append_f64(o, ((const double *)(const void *)p)[r]);
    case COL_FIXED16: return col_vec_append_fixed16(o, p + 16 * r);
    case COL_STRING:
    case COL_BINARY: {
        size_t n;
        const uint8_t *sp = col_vec_str(v, r, &n);
        return col_vec_append_str(o, sp, n);
    }
    default: return SL_EINVAL;
    }
}

/* The next rows of the merge, in order. */
static int merge_next(op_sort *s, sql_batch **out)
{
    *out = NULL;
    if (!s->nheap)
        return SL_OK;
    sql_batch *b;
    int rc = sql_batch_new(s->op.p->ncols, s->op.p->types, &b);
    if (rc)
        return rc;
    const sql_batch *first = s->runs[s->heap[0]].b;
    for (int c = 0; c < b->ncols; c++)
        col_vec_init(&b->cols[c], first->cols[c].type, 0);
    while (!rc && b->n < OUT_BATCH && s->nheap) {
        run *r = &s->runs[s->heap[0]];
        for (int c = 0; !rc && c < b->ncols; c++)
            rc = append_row(&b->cols[c], &r->b->cols[c], r->pos);
        b->n++;
        if (!rc && ++r->pos == r->b->n && !(rc = run_load(s, s->heap[0])) && !r->b)
            s->heap[0] = s->heap[--s->nheap];
        if (!rc && s->nheap)
            sift_down(s, 0);
    }
    if (rc) {
        sql_batch_free(b);
        return rc;
    }
    *out = b;
    return SL_OK;
}

static void runs_free(op_sort *s)
{
    for (int i = 0; i < s->nruns; i++) {
        sql_batch_free(s->runs[i].b);
        for (int k = 0; s->runs[i].kv && k < s->nkeys; k++)
            col_vec_release(&s->runs[i].kv[k]);
        sl_free(s->runs[i].kv);
    }
    sl_free(s->runs);
    sl_free(s->heap);
    s->runs = NULL;
    s->heap = NULL;
    s->nruns = s->nheap = 0;
    if (s->spilling)
        sql_spill_close(&s->sp);
    s->spilling = false;
}

static void topn_init(op_sort *s, topn *t, sql_err *err)
{
    memset(t, 0, sizeof *t);
    sql_rows_init(&t->in, s->op.p->ncols, s->op.p->types);
    arena_init(&t->scratch, 4096, 64u << 20);
    sql_exec_ectx(s->op.x, &t->cx, err ? err : &t->err, &t->scratch);
}

static void topn_free(op_sort *s, topn *t)
{
    if (t->held)
        hold(s, t, 0);
    sql_rows_free(&t->in);
    sl_free(t->sel);
    t->sel = NULL;
    t->sel_cap = 0;
    arena_destroy(&t->scratch);
}

static int sink(void *arg, int worker, sql_batch *b, sql_err *e)
{
    op_sort *s = arg;
    topn *t = &s->part[worker];
    int rc = add(s, t, b);
    if (rc)
        *e = t->err.state[0] ? t->err : *s->op.x->e;
    return rc;
}

/* Whether the top-N runs on the scan's workers: straight over a parallel scan, keys
 * free of subqueries. */
static bool can_parallel(op_sort *s)
{
    if (s->limit < 0 || !sql_pipe_can_run(s->op.child) || s->op.x->workers < 2 ||
        sql_pipe_workers(s->op.child) < 2)
        return false;
    for (int k = 0; k < s->nkeys; k++)
        if (sql_expr_has_subquery(s->keys[k].e))
            return false;
    return true;
}

static int build_parallel(op_sort *s)
{
    int nw = sql_pipe_workers(s->op.child);
    if (!(s->part = sl_calloc((size_t)nw, sizeof *s->part)))
        return SL_ENOMEM;
    s->nparts = nw;
    for (int i = 0; i < nw; i++)
        topn_init(s, &s->part[i], NULL);
    int used;
    int rc = sql_pipe_run(s->op.child, &used, sink, s);
    for (int i = 0; i < nw && !rc; i++) {
        sql_batch *b;
        if (!(rc = sql_rows_concat(&s->part[i].in, &b))) {
            sql_rows_free(&s->part[i].in);
            sql_rows_init(&s->part[i].in, s->op.p->ncols, s->op.p->types);
            rc = add(s, &s->main, b);
        }
    }
    for (int i = 0; i < nw; i++)
        topn_free(s, &s->part[i]);
    sl_free(s->part);
    s->part = NULL;
    s->nparts = 0;
    return rc;
}

static int build(op_sort *s)
{
    int rc = SL_OK;
    topn *t = &s->main;
    if (s->bound)
        sql_op_scan_set_bound(s->op.child, s->bound);
    if (can_parallel(s)) {
        rc = build_parallel(s);
    } else {
        sql_op_scan_any_order(s->op.child); /* sorted here: any input order */
        for (;;) {
            sql_batch *b;
            if ((rc = sql_op_next(s->op.child, &b)) || !b)
                break;
            if ((rc = add(s, t, b)))
                break;
        }
    }
    if (rc)
        return rc;
    if (s->spilling)
        return merge_start(s);
    if ((rc = sql_rows_concat(&t->in, &s->all)))
        return rc;
    sql_rows_free(&t->in);
    s->all->types = s->op.p->types;
    if ((rc = hold(s, t, sql_batch_bytes(s->all) + 16 * s->all->n)))
        return rc;
    if ((rc = sort_batch(s, t, s->all, &s->order)))
        return rc;
    s->n = s->limit >= 0 && s->limit < s->all->n ? s->limit : s->all->n;
    return SL_OK;
}

static int sort_next(sql_op *op, sql_batch **out)
{
    op_sort *s = (op_sort *)op;
    if (!s->built) {
        s->built = true;
        int rc = build(s);
        if (rc)
            return rc;
    }
    if (s->spilling)
        return merge_next(s, out);
    if (s->emitted >= s->n)
        return SL_OK;
    int64_t m = s->n - s->emitted > OUT_BATCH ? OUT_BATCH : s->n - s->emitted;
    int rc = sql_batch_take(s->all, s->order + s->emitted, m, out);
    s->emitted += m;
    return rc;
}

static void sort_close(sql_op *op)
{
    op_sort *s = (op_sort *)op;
    for (int i = 0; i < s->nparts; i++)
        topn_free(s, &s->part[i]);
    sl_free(s->part);
    s->part = NULL;
    s->nparts = 0;
    runs_free(s);
    sql_rows_free(&s->main.in);
    sl_free(s->main.sel);
    s->main.sel = NULL;
    s->main.sel_cap = 0;
    arena_destroy(&s->main.scratch);
    sql_batch_free(s->all);
    sl_free(s->order);
    s->all = NULL;
    s->order = NULL;
}

static const sql_op_vt g_sort = {NULL, sort_next, sort_close, NULL, NULL, NULL};

sql_op *sql_op_sort_new(sql_exec *x, const sql_plan *p)
{
    op_sort *s = arena_zalloc(x->a, sizeof *s);
    if (!s)
        return NULL;
    s->op.vt = &g_sort;
    s->op.x = x;
    s->op.p = p;
    s->nkeys = p->sort.nkeys;
    s->keys = p->sort.keys;
    s->limit = p->sort.limit;
    s->ktypes = arena_alloc(x->a, sizeof *s->ktypes * (size_t)s->nkeys);
    s->desc = arena_alloc(x->a, sizeof *s->desc * (size_t)s->nkeys);
    s->nulls_first = arena_alloc(x->a, sizeof *s->nulls_first * (size_t)s->nkeys);
    if (!s->ktypes || !s->desc || !s->nulls_first)
        return NULL;
    for (int k = 0; k < s->nkeys; k++) {
        s->ktypes[k] = p->sort.keys[k].e->type;
        s->desc[k] = p->sort.keys[k].desc;
        s->nulls_first[k] = p->sort.keys[k].nulls_first;
    }
    atomic_init(&s->gthr, UINT64_MAX);
    pthread_mutex_init(&s->mu, NULL);
    /* a top-N whose first key is a column of the scan right below gives the scan a bound */
    if (s->limit >= 0 && s->nkeys > 0 && p->child && p->child->kind == SP_SCAN &&
        s->keys[0].e->kind == SE_COL && sql_type_phys(s->ktypes[0]) == COL_INT64) {
        if (!(s->bound = arena_zalloc(x->a, sizeof *s->bound)))
            return NULL;
        s->bound->col = s->keys[0].e->col;
        atomic_init(&s->bound->lo, INT64_MIN);
        atomic_init(&s->bound->hi, INT64_MAX);
    }
    topn_init(s, &s->main, x->e);
    return &s->op;
}
