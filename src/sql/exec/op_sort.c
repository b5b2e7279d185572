/*
 * op_sort.c - ORDER BY: a full sort, or top-N when a LIMIT is known.
 *
 * The input is gathered into one batch, the sort keys evaluated once, and
 * row numbers sorted.  Each row gets an 8-byte prefix of its first key in an
 * order-preserving encoding (integers and times with the sign bit flipped,
 * floats by their IEEE bits, strings by their first 8 bytes, inverted for
 * DESC, nulls first or last), so most comparisons are one integer compare;
 * equal prefixes fall back to comparing the keys.  Top-N (ORDER BY ...
 * LIMIT n) keeps at most about 2n rows at any time: whenever the buffer
 * passes that, it is sorted and cut to n, and the n-th row's prefix becomes a
 * threshold: a later row whose first key's prefix is above it cannot enter
 * and is dropped as it arrives, so a top-N over millions of rows sorts a few
 * thousand.  Memory counts against work_mem;
 * a sort that does not fit fails with SQLSTATE 53200 (no spilling to disk
 * yet: docs/sql.md).
 */
#include "sql/exec/exec.h"

#include "base/alloc.h"

#include <stdlib.h>
#include <string.h>

#define OUT_BATCH 8192

typedef struct item {
    uint64_t prefix;
    uint32_t row;
} item;

typedef struct op_sort {
    sql_op op;
    sql_rows in;
    sql_batch *all;          /* sorted input, when built */
    uint32_t *order;
    int64_t n, emitted;
    int nkeys;
    const sql_sortkey *keys;
    sql_type *ktypes;
    bool *desc, *nulls_first;
    int64_t limit;           /* rows to keep; -1 all */
    sql_ectx cx;
    arena scratch;
    bool built;
    int64_t held;
    /* top-N: the prefix of the worst row kept; rows whose prefix is above it
     * cannot enter, and are dropped as they arrive (one integer compare) */
    bool have_thr;
    uint64_t thr;
    uint32_t *sel;
    int64_t sel_cap;
} op_sort;

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

/* Sorts `all` by the keys into order[0..n) (only the first `keep` need be right). */
static int sort_batch(op_sort *s, sql_batch *all, uint32_t **order_out)
{
    int64_t n = all->n;
    col_vec *kv = sl_calloc((size_t)s->nkeys, sizeof *kv);
    item *it = sl_malloc(sizeof *it * (size_t)(n ? n : 1));
    uint32_t *order = sl_malloc(sizeof *order * (size_t)(n ? n : 1));
    int rc = kv && it && order ? SL_OK : SL_ENOMEM;
    for (int k = 0; !rc && k < s->nkeys; k++) {
        sql_vec v;
        arena_reset(&s->scratch);
        if ((rc = sql_eval(&s->cx, s->keys[k].e, all, NULL, &v)))
            break;
        if (v.is_const) {
            rc = sql_vec_expand(&v, n, &kv[k]);
            sql_vec_release(&v);
        } else {
            kv[k] = v.v;
        }
    }
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

static int hold(op_sort *s, int64_t bytes)
{
    int rc = sql_exec_mem(s->op.x, &s->op, bytes - s->held);
    s->held = bytes;
    return rc;
}

/* Top-N: the buffered rows sorted and cut to the limit, as one batch. */
static int compact(op_sort *s)
{
    sql_batch *all;
    int rc = sql_rows_concat(&s->in, &all);
    if (rc)
        return rc;
    sql_rows_free(&s->in);
    sql_rows_init(&s->in, s->op.p->ncols, s->op.p->types);
    uint32_t *order;
    if ((rc = sort_batch(s, all, &order))) {
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
        arena_reset(&s->scratch);
        top->types = s->op.p->types;
        if (!(rc = sql_eval(&s->cx, s->keys[0].e, top, NULL, &v))) {
            s->thr = sql_sort_prefix(&v.v, s->ktypes[0], v.is_const ? 0 : keep - 1, s->desc[0],
                               s->nulls_first[0]);
            s->have_thr = true;
            sql_vec_release(&v);
        }
    }
    if (!rc)
        rc = sql_rows_add(&s->in, top);
    else
        sql_batch_free(top);
    return rc ? rc : hold(s, s->in.mem);
}

/* Top-N with a threshold: the rows of b that may still enter (b itself, a copy, or NULL). */
static int admit(op_sort *s, sql_batch *b, sql_batch **out)
{
    *out = b;
    if (!s->have_thr || !b->n)
        return SL_OK;
    sql_vec v;
    arena_reset(&s->scratch);
    b->types = s->op.p->types;
    int rc = sql_eval(&s->cx, s->keys[0].e, b, NULL, &v);
    if (rc)
        return rc;
    if (b->n > s->sel_cap) {
        sl_free(s->sel);
        s->sel_cap = b->n;
        if (!(s->sel = sl_malloc(sizeof *s->sel * (size_t)s->sel_cap))) {
            s->sel_cap = 0;
            sql_vec_release(&v);
            return SL_ENOMEM;
        }
    }
    int64_t k = 0;
    for (int64_t i = 0; i < b->n; i++) {
        uint64_t p = sql_sort_prefix(&v.v, s->ktypes[0], v.is_const ? 0 : i, s->desc[0],
                               s->nulls_first[0]);
        if (p <= s->thr) /* equal prefixes: the full keys decide later */
            s->sel[k++] = (uint32_t)i;
    }
    sql_vec_release(&v);
    if (k == b->n)
        return SL_OK;
    *out = NULL;
    if (k)
        rc = sql_batch_take(b, s->sel, k, out);
    sql_batch_free(b);
    return rc;
}

static int build(op_sort *s)
{
    int rc;
    for (;;) {
        sql_batch *b;
        if ((rc = sql_op_next(s->op.child, &b)) || !b)
            break;
        if (s->limit >= 0 && (rc = admit(s, b, &b)))
            break;
        if (!b)
            continue;
        if ((rc = sql_rows_add(&s->in, b)) || (rc = hold(s, s->in.mem)))
            break;
        if (s->limit >= 0 && s->in.nrows > 2 * s->limit + 8192 && (rc = compact(s)))
            break;
    }
    if (rc)
        return rc;
    if ((rc = sql_rows_concat(&s->in, &s->all)))
        return rc;
    sql_rows_free(&s->in);
    s->all->types = s->op.p->types;
    if ((rc = hold(s, sql_batch_bytes(s->all) + 16 * s->all->n)))
        return rc;
    if ((rc = sort_batch(s, s->all, &s->order)))
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
    sql_rows_free(&s->in);
    sql_batch_free(s->all);
    sl_free(s->order);
    sl_free(s->sel);
    s->sel = NULL;
    s->sel_cap = 0;
    arena_destroy(&s->scratch);
    s->all = NULL;
    s->order = NULL;
}

static const sql_op_vt g_sort = {NULL, sort_next, sort_close};

sql_op *sql_op_sort_new(sql_exec *x, const sql_plan *p)
{
    op_sort *s = arena_zalloc(x->a, sizeof *s);
    if (!s)
        return NULL;
    s->op.vt = &g_sort;
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
    sql_rows_init(&s->in, p->ncols, p->types);
    arena_init(&s->scratch, 4096, 64u << 20);
    sql_exec_ectx(x, &s->cx, x->e, &s->scratch);
    return &s->op;
}
