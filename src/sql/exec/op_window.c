/*
 * op_window.c - one window function over its input: row_number, rank,
 * dense_rank, percent_rank, cume_dist, ntile, lag, lead, first_value,
 * last_value, nth_value, and any aggregate over a frame.
 *
 * The input is read whole, sorted by (PARTITION BY, ORDER BY), and each
 * partition is walked once.  Frames: without ORDER BY the frame is the whole
 * partition; with it, the default RANGE UNBOUNDED PRECEDING .. CURRENT ROW
 * includes the current row's peers.  Aggregates over the default frames run
 * incrementally (each peer group is added to one state, which is read after
 * it); explicit ROWS frames with offsets are computed per row.  The output is
 * the input's columns plus the function's, in window order.
 */
#include "sql/exec/exec.h"

#include "base/alloc.h"
#include "sql/exec/hashtab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define OUT_BATCH 8192

typedef struct op_win {
    sql_op op;
    sql_batch *all;
    uint32_t *order;
    col_vec result;
    int64_t n, emitted;
    bool built;
    sql_ectx cx;
    sql_err err;
    arena scratch, aggmem;
    int64_t held;
} op_win;

typedef struct wsort {
    int nkeys;
    col_vec *kv;
    sql_type *types;
    bool *desc, *nf;
} wsort;

/*
 * The window order without comparing partition keys: each row's partition is
 * a dense id from a hash table of the PARTITION BY values, and the first ORDER
 * BY key has an 8-byte prefix; rows sort by (partition id, prefix), and only
 * equal prefixes compare the ORDER BY keys.  Partitions come out in the order
 * they were first seen (SQL gives them no order).
 */
typedef struct witem {
    uint32_t pid;
    uint32_t row;
    uint64_t prefix;
} witem;

typedef struct wsort2 {
    const wsort *ws;
    int npart;
} wsort2;

static int cmp_witems(const void *x, const void *y, void *arg)
{
    const witem *a = x, *b = y;
    if (a->pid != b->pid)
        return a->pid < b->pid ? -1 : 1;
    if (a->prefix != b->prefix)
        return a->prefix < b->prefix ? -1 : 1;
    const wsort2 *c = arg;
    const wsort *w = c->ws;
    int k0 = c->npart;
    int r = sql_cmp_rows(w->types + k0, w->kv + k0, a->row, w->kv + k0, b->row, w->nkeys - k0,
                         w->desc + k0, w->nf + k0);
    return r ? r : (a->row < b->row ? -1 : a->row > b->row);
}

static int fast_order(const wsort *ws, int npart, int64_t n, uint32_t *order)
{
    witem *it = sl_malloc(sizeof *it * (size_t)(n ? n : 1));
    uint32_t *ids = npart ? sl_malloc(sizeof *ids * (size_t)(n ? n : 1)) : NULL;
    if (!it || (npart && !ids)) {
        sl_free(it);
        sl_free(ids);
        return SL_ENOMEM;
    }
    int rc = SL_OK;
    if (npart) {
        sql_ht ht;
        sql_vec *kv = sl_calloc((size_t)npart, sizeof *kv);
        rc = kv ? sql_ht_init(&ht, npart, ws->types, true) : SL_ENOMEM;
        if (!rc) {
            for (int k = 0; k < npart; k++)
                kv[k].v = ws->kv[k];
            rc = sql_ht_lookup(&ht, kv, n, NULL, true, ids);
            sql_ht_free(&ht);
        }
        sl_free(kv);
    }
    int ko = npart;
    for (int64_t i = 0; !rc && i < n; i++)
        it[i] = (witem){npart ? ids[i] : 0, (uint32_t)i,
                        ws->nkeys > ko ? sql_sort_prefix(&ws->kv[ko], ws->types[ko], i, ws->desc[ko],
                                                         ws->nf[ko])
                                       : 0};
    if (!rc) {
        wsort2 c = {ws, npart};
        qsort_r(it, (size_t)n, sizeof *it, cmp_witems, &c);
        for (int64_t i = 0; i < n; i++)
            order[i] = it[i].row;
    }
    sl_free(it);
    sl_free(ids);
    return rc;
}

static int eval_full(op_win *w, const sql_expr *e, col_vec *out)
{
    sql_vec v;
    int rc = sql_eval(&w->cx, e, w->all, NULL, &v);
    if (rc)
        return rc;
    if (v.is_const) {
        rc = sql_vec_expand(&v, w->all->n, out);
        sql_vec_release(&v);
        return rc;
    }
    *out = v.v;
    return SL_OK;
}

/* Equal on the first k keys (partition, or partition + order: peers)? */
static bool same(const wsort *w, int k, uint32_t a, uint32_t b)
{
    bool no[64] = {0};
    return k == 0 || sql_cmp_rows(w->types, w->kv, a, w->kv, b, k > 64 ? 64 : k, no, no) == 0;
}

static int put_int(col_vec *o, sql_type t, int64_t v)
{
    return t.id == ST_INT4 ? col_vec_append_i32(o, (int32_t)v) : col_vec_append_i64(o, v);
}

/* An aggregate over rows[from, to) of the sorted order, appended to out. */
static int agg_range(op_win *w, const sql_expr *e, const col_vec *args, const uint8_t *fpass,
                     const uint32_t *rows, int64_t from, int64_t to, void *state, bool reset,
                     col_vec *out)
{
    const sql_agg *g = e->agg;
    sql_agg_ctx ax = {&w->err, &w->aggmem, NULL, e};
    if (reset) {
        if (g->destroy)
            g->destroy(state);
        g->init(state);
    }
    int64_t n = to - from;
    int rc = SL_OK;
    if (n > 0) {
        uint32_t *sel = sl_malloc(sizeof *sel * (size_t)n);
        if (!sel)
            return SL_ENOMEM;
        int64_t m = 0;
        for (int64_t i = from; i < to; i++)
            if (!fpass || fpass[rows[i]])
                sel[m++] = rows[i];
        sql_vec a[2];
        memset(a, 0, sizeof a);
        sql_sel s = {sel, m};
        for (int k = 0; k < e->nargs && k < 2 && !rc; k++)
            rc = sql_vec_gather(&args[k], &s, &a[k].v);
        if (!rc && m)
            rc = g->update(&ax, state, NULL, e->agg_star ? NULL : a, m);
        for (int k = 0; k < e->nargs && k < 2; k++)
            sql_vec_release(&a[k]);
        sl_free(sel);
    }
    return rc ? rc : g->finalize(&ax, state, out);
}

static int compute(op_win *w)
{
    const sql_plan *p = w->op.p;
    const sql_expr *e = p->window.funcs[0];
    const sql_window *win = e->win;
    int64_t n = w->all->n;
    int nk = win->npart + win->norder, rc = SL_OK;
    wsort ws = {nk, sl_calloc((size_t)(nk ? nk : 1), sizeof(col_vec)),
                sl_calloc((size_t)(nk ? nk : 1), sizeof(sql_type)),
                sl_calloc((size_t)(nk ? nk : 1), sizeof(bool)),
                sl_calloc((size_t)(nk ? nk : 1), sizeof(bool))};
    col_vec args[3];
    memset(args, 0, sizeof args);
    uint8_t *fpass = NULL;
    void *state = NULL;
    w->order = sl_malloc(sizeof *w->order * (size_t)(n ? n : 1));
    if (!ws.kv || !ws.types || !ws.desc || !ws.nf || !w->order)
        rc = SL_ENOMEM;
    for (int k = 0; !rc && k < win->npart; k++) {
        ws.types[k] = win->part[k]->type;
        rc = eval_full(w, win->part[k], &ws.kv[k]);
    }
    for (int k = 0; !rc && k < win->norder; k++) {
        ws.types[win->npart + k] = win->order[k].e->type;
        ws.desc[win->npart + k] = win->order[k].desc;
        ws.nf[win->npart + k] = win->order[k].nulls_first;
        rc = eval_full(w, win->order[k].e, &ws.kv[win->npart + k]);
    }
    for (int k = 0; !rc && k < e->nargs && k < 3; k++)
        rc = eval_full(w, e->args[k], &args[k]);
    if (!rc && e->filter) {
        col_vec f;
        if (!(rc = eval_full(w, e->filter, &f))) {
            if (!(fpass = sl_malloc((size_t)(n ? n : 1))))
                rc = SL_ENOMEM;
            for (int64_t i = 0; !rc && i < n; i++)
                fpass[i] = col_vec_is_valid(&f, i) && col_vec_bool(&f, i);
            col_vec_release(&f);
        }
    }
    if (rc)
        goto out;
    if ((rc = fast_order(&ws, win->npart, n, w->order)))
        goto out;
    col_type rt = sql_type_phys(e->type);
    col_vec_init(&w->result, rt == COL_DICT ? COL_STRING : rt, 0);
    if (e->agg && !(state = sl_calloc(1, e->agg->state_size)))
        rc = SL_ENOMEM;
    const char *fn = e->name;
    const uint32_t *o = w->order;
    for (int64_t ps = 0; !rc && ps < n;) {
        int64_t pe = ps + 1;
        while (pe < n && same(&ws, win->npart, o[ps], o[pe]))
            pe++;
        int64_t np = pe - ps;
        /* walk the partition by peer groups */
        int64_t rank = 1, dense = 0;
        for (int64_t gs = ps; !rc && gs < pe;) {
            int64_t ge = gs + 1;
            while (ge < pe && same(&ws, nk, o[gs], o[ge]))
                ge++;
            dense++;
            if (e->agg && !win->explicit_frame) {
                /* whole partition without ORDER BY; running frame with it */
                col_vec one;
                col_vec_init(&one, w->result.type, 0);
                if (win->norder == 0)
                    rc = gs == ps ? agg_range(w, e, args, fpass, o, ps, pe, state, true, &one)
                                  : SL_OK;
                else
                    rc = agg_range(w, e, args, fpass, o, gs, ge, state, gs == ps, &one);
                if (!rc && (win->norder || gs == ps)) {
                    for (int64_t i = gs; !rc && i < (win->norder ? ge : pe); i++) {
                        sql_datum d = sql_datum_get(e->type, &one, 0);
                        rc = sql_datum_append(e->type, &d, &w->result);
                    }
                }
                col_vec_release(&one);
                gs = win->norder ? ge : pe;
                continue;
            }
            for (int64_t i = gs; !rc && i < ge; i++) {
                int64_t pos = i - ps; /* 0-based in the partition */
                if (!strcmp(fn, "row_number")) {
                    rc = put_int(&w->result, e->type, pos + 1);
                } else if (!strcmp(fn, "rank")) {
                    rc = put_int(&w->result, e->type, rank);
                } else if (!strcmp(fn, "dense_rank")) {
                    rc = put_int(&w->result, e->type, dense);
                } else if (!strcmp(fn, "percent_rank")) {
                    rc = col_vec_append_f64(&w->result, np > 1 ? (double)(rank - 1) / (double)(np - 1) : 0);
                } else if (!strcmp(fn, "cume_dist")) {
                    rc = col_vec_append_f64(&w->result, (double)(ge - ps) / (double)np);
                } else if (!strcmp(fn, "ntile")) {
                    if (!col_vec_is_valid(&args[0], o[i])) {
                        rc = col_vec_append_null(&w->result);
                        continue;
                    }
                    int64_t k = col_vec_i32(&args[0], o[i]);
                    if (k <= 0) {
                        rc = sql_err_set(w->op.x->e, "22014", e->loc, "argument of ntile must be greater than zero");
                        break;
                    }
                    /* PostgreSQL: the first (np % k) buckets get one row more */
                    int64_t per = np / k, extra = np % k, bucket;
                    if (k > np)
                        bucket = pos + 1;
                    else if (pos < extra * (per + 1))
                        bucket = pos / (per + 1) + 1;
                    else
                        bucket = extra + (pos - extra * (per + 1)) / per + 1;
                    rc = col_vec_append_i32(&w->result, (int32_t)bucket);
                } else if (!strcmp(fn, "lag") || !strcmp(fn, "lead")) {
                    int64_t off = 1;
                    if (e->nargs > 1) {
                        if (!col_vec_is_valid(&args[1], o[i])) {
                            rc = col_vec_append_null(&w->result);
                            continue;
                        }
                        off = col_vec_i32(&args[1], o[i]);
                    }
                    int64_t t = fn[1] == 'a' ? pos - off : pos + off;
                    sql_datum d;
                    if (t >= 0 && t < np)
                        d = sql_datum_get(e->type, &args[0], o[ps + t]);
                    else if (e->nargs > 2)
                        d = sql_datum_get(e->type, &args[2], o[i]);
                    else
                        d = sql_datum_null();
                    rc = sql_datum_append(e->type, &d, &w->result);
                } else {
                    /* frame-based: first_value, last_value, nth_value, aggregates */
                    int64_t fs = ps, fe;
                    if (!win->explicit_frame)
                        fe = win->norder ? ge : pe;
                    else {
                        /* ROWS or RANGE (unbounded/current row only) */
                        switch (win->start_kind) {
                        case 0: fs = ps; break;
                        case 1: fs = i - win->start_off; break;
                        case 2: fs = win->frame_rows ? i : gs; break;
                        case 3: fs = i + win->start_off; break;
                        default: fs = pe; break;
                        }
                        switch (win->end_kind) {
                        case 1: fe = i - win->end_off + 1; break;
                        case 2: fe = win->frame_rows ? i + 1 : ge; break;
                        case 3: fe = i + win->end_off + 1; break;
                        case 4: fe = pe; break;
                        default: fe = ps; break;
                        }
                        if (fs < ps)
                            fs = ps;
                        if (fe > pe)
                            fe = pe;
                    }
                    if (e->agg) {
                        col_vec one;
                        col_vec_init(&one, w->result.type, 0);
                        rc = agg_range(w, e, args, fpass, o, fs, fe > fs ? fe : fs, state, true, &one);
                        if (!rc) {
                            sql_datum d = sql_datum_get(e->type, &one, 0);
                            rc = sql_datum_append(e->type, &d, &w->result);
                        }
                        col_vec_release(&one);
                        continue;
                    }
                    int64_t at = -1;
                    if (!strcmp(fn, "first_value"))
                        at = fs;
                    else if (!strcmp(fn, "last_value"))
                        at = fe - 1;
                    else if (e->nargs > 1 && col_vec_is_valid(&args[1], o[i])) {
                        int64_t k = col_vec_i32(&args[1], o[i]);
                        if (k <= 0) {
                            rc = sql_err_set(w->op.x->e, "22016", e->loc, "argument of nth_value must be greater than zero");
                            break;
                        }
                        at = fs + k - 1;
                    }
                    sql_datum d = at >= fs && at < fe ? sql_datum_get(e->type, &args[0], o[at])
                                                      : sql_datum_null();
                    rc = sql_datum_append(e->type, &d, &w->result);
                }
            }
            rank += ge - gs;
            gs = ge;
        }
        ps = pe;
    }
    if (rc && w->err.state[0] && !w->op.x->e->state[0])
        *w->op.x->e = w->err;
out:
    if (state) {
        if (e->agg && e->agg->destroy)
            e->agg->destroy(state);
        sl_free(state);
    }
    for (int k = 0; ws.kv && k < nk; k++)
        col_vec_release(&ws.kv[k]);
    for (int k = 0; k < 3; k++)
        col_vec_release(&args[k]);
    sl_free(ws.kv);
    sl_free(ws.types);
    sl_free(ws.desc);
    sl_free(ws.nf);
    sl_free(fpass);
    return rc;
}

static int win_next(sql_op *op, sql_batch **out)
{
    op_win *w = (op_win *)op;
    int rc;
    if (!w->built) {
        w->built = true;
        sql_rows rows;
        sql_rows_init(&rows, op->p->child->ncols, op->p->child->types);
        sql_op_scan_any_order(op->child); /* partitions are made here: any input order */
        for (;;) {
            sql_batch *b;
            if ((rc = sql_op_next(op->child, &b)) || !b)
                break;
            if ((rc = sql_rows_add(&rows, b)))
                break;
            int64_t m = rows.mem;
            if ((rc = sql_exec_mem(op->x, op, m - w->held)))
                break;
            w->held = m;
        }
        if (!rc)
            rc = sql_rows_concat(&rows, &w->all);
        sql_rows_free(&rows);
        if (rc)
            return rc;
        w->all->types = op->p->child->types;
        w->n = w->all->n;
        if ((rc = compute(w)))
            return rc;
    }
    if (w->emitted >= w->n)
        return SL_OK;
    int64_t m = w->n - w->emitted > OUT_BATCH ? OUT_BATCH : w->n - w->emitted;
    sql_batch *in;
    if ((rc = sql_batch_take(w->all, w->order + w->emitted, m, &in)))
        return rc;
    sql_batch *b;
    if ((rc = sql_batch_new(op->p->ncols, op->p->types, &b))) {
        sql_batch_free(in);
        return rc;
    }
    for (int c = 0; c < in->ncols; c++) {
        col_vec_release(&b->cols[c]);
        b->cols[c] = in->cols[c];
        col_vec_init(&in->cols[c], in->cols[c].type, 0);
    }
    uint32_t *rows = sl_malloc(sizeof *rows * (size_t)m);
    if (!rows)
        rc = SL_ENOMEM;
    for (int64_t i = 0; !rc && i < m; i++)
        rows[i] = (uint32_t)(w->emitted + i);
    sql_sel s = {rows, m};
    col_vec_release(&b->cols[op->p->ncols - 1]);
    if (!rc)
        rc = sql_vec_gather(&w->result, &s, &b->cols[op->p->ncols - 1]);
    sl_free(rows);
    sql_batch_free(in);
    b->n = m;
    w->emitted += m;
    if (rc) {
        sql_batch_free(b);
        return rc;
    }
    *out = b;
    return SL_OK;
}

static void win_close(sql_op *op)
{
    op_win *w = (op_win *)op;
    sql_batch_free(w->all);
    sl_free(w->order);
    col_vec_release(&w->result);
    arena_destroy(&w->scratch);
    arena_destroy(&w->aggmem);
    w->all = NULL;
    w->order = NULL;
}

static const sql_op_vt g_win = {NULL, win_next, win_close, NULL, NULL, NULL};

sql_op *sql_op_window_new(sql_exec *x, const sql_plan *p)
{
    (void)p;
    op_win *w = arena_zalloc(x->a, sizeof *w);
    if (!w)
        return NULL;
    w->op.vt = &g_win;
    arena_init(&w->scratch, 4096, 64u << 20);
    arena_init(&w->aggmem, 4096, 0);
    sql_exec_ectx(x, &w->cx, &w->err, &w->scratch);
    return &w->op;
}
