/*
 * exec.c - operator trees, memory accounting, cancellation, and subqueries
 * (see exec.h).
 *
 * Subqueries: an uncorrelated one runs once per query and its result is
 * kept (a scalar, a boolean, or for IN / = ANY a hash table of its values,
 * so each outer row costs one lookup).  A correlated one runs again for each
 * outer row, with that row as its outer context.
 */
#include "sql/exec/exec.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "sql/exec/hashtab.h"

#include <stdio.h>
#include <string.h>

/* ---- batches in memory -------------------------------------------------- */

int64_t sql_batch_bytes(const sql_batch *b)
{
    int64_t n = 0;
    for (int i = 0; i < b->ncols; i++) {
        const col_vec *v = &b->cols[i];
        n += (int64_t)((v->values ? v->values->cap_bytes : 0) + (v->data ? v->data->cap_bytes : 0) +
                       (v->validity ? v->validity->cap_bytes : 0));
    }
    return n;
}

void sql_rows_init(sql_rows *r, int ncols, const sql_type *types)
{
    memset(r, 0, sizeof *r);
    r->ncols = ncols;
    r->types = types;
}

int sql_rows_add(sql_rows *r, sql_batch *b)
{
    if (r->nb == r->cap) {
        int cap = r->cap ? r->cap * 2 : 16;
        sql_batch **nb = sl_realloc(r->b, sizeof *nb * (size_t)cap);
        if (!nb) {
            sql_batch_free(b);
            return SL_ENOMEM;
        }
        r->b = nb;
        r->cap = cap;
    }
    r->b[r->nb++] = b;
    r->nrows += b->n;
    r->mem += sql_batch_bytes(b);
    return SL_OK;
}

void sql_rows_free(sql_rows *r)
{
    for (int i = 0; i < r->nb; i++)
        sql_batch_free(r->b[i]);
    sl_free(r->b);
    memset(r, 0, sizeof *r);
}

int sql_batch_take(const sql_batch *src, const uint32_t *rows, int64_t n, sql_batch **out)
{
    int rc = sql_batch_new(src->ncols, src->types, out);
    if (rc)
        return rc;
    sql_sel sel = {rows, n};
    for (int c = 0; c < src->ncols && !rc; c++)
        rc = sql_vec_gather(&src->cols[c], &sel, &(*out)->cols[c]);
    (*out)->n = n;
    if (rc) {
        sql_batch_free(*out);
        *out = NULL;
    }
    return rc;
}

int sql_rows_concat(sql_rows *r, sql_batch **out)
{
    int rc = sql_batch_new(r->ncols, r->types, out);
    if (rc)
        return rc;
    sql_batch *o = *out;
    for (int c = 0; c < r->ncols && !rc; c++) {
        col_type pt = sql_type_phys(r->types[c]);
        col_vec_init(&o->cols[c], pt == COL_DICT ? COL_STRING : pt, 0);
        for (int i = 0; i < r->nb && !rc; i++) {
            const col_vec *v = &r->b[i]->cols[c];
            for (int64_t k = 0; k < v->len && !rc; k++) {
                sql_datum d = sql_datum_get(r->types[c], v, k);
                rc = sql_datum_append(r->types[c], &d, &o->cols[c]);
            }
        }
    }
    o->n = r->nrows;
    if (rc) {
        sql_batch_free(o);
        *out = NULL;
    }
    return rc;
}

int sql_cmp_rows(const sql_type *types, const col_vec *a, int64_t ra, const col_vec *b, int64_t rb,
                 int nkeys, const bool *desc, const bool *nulls_first)
{
    for (int k = 0; k < nkeys; k++) {
        bool an = !col_vec_is_valid(&a[k], ra), bn = !col_vec_is_valid(&b[k], rb);
        if (an || bn) {
            if (an && bn)
                continue;
            /* nulls sort as larger than every value unless NULLS FIRST */
            int c = an ? 1 : -1;
            return nulls_first[k] ? -c : c;
        }
        sql_datum x = sql_datum_get(types[k], &a[k], ra), y = sql_datum_get(types[k], &b[k], rb);
        int c = sql_datum_cmp(types[k], &x, &y);
        if (c)
            return desc[k] ? -c : c;
    }
    return 0;
}

/* ---- sort keys ------------------------------------------------------------ */

uint64_t sql_sort_prefix(const col_vec *v, sql_type t, int64_t r, bool desc, bool nulls_first)
{
    uint64_t p;
    if (!col_vec_is_valid(v, r))
        return nulls_first ? 0 : UINT64_MAX;
    switch (v->type) {
    case COL_INT32:
        p = (uint64_t)(int64_t)col_vec_i32(v, r) ^ (1ull << 63);
        break;
    case COL_INT64:
    case COL_TS_NS:
        p = (uint64_t)col_vec_i64(v, r) ^ (1ull << 63);
        break;
    case COL_DOUBLE: {
        double f = col_vec_f64(v, r);
        if (f != f) {
            p = UINT64_MAX - 1; /* NaN above every number */
            break;
        }
        if (f == 0)
            f = 0;
        uint64_t u;
        memcpy(&u, &f, 8);
        p = (u >> 63) ? ~u : u ^ (1ull << 63);
        break;
    }
    case COL_BOOL:
        p = col_vec_bool(v, r);
        break;
    case COL_STRING:
    case COL_BINARY:
    case COL_DICT: {
        size_t l;
        const uint8_t *s = col_vec_str(v, r, &l);
        p = 0;
        for (size_t i = 0; i < 8; i++)
            p = (p << 8) | (i < l ? s[i] : 0);
        break;
    }
    default:
        (void)t;
        p = 1ull << 63; /* numeric, interval: the full comparison decides */
        break;
    }
    /* keep 0 and UINT64_MAX for nulls */
    if (p == 0)
        p = 1;
    if (p == UINT64_MAX)
        p = UINT64_MAX - 1;
    return desc ? UINT64_MAX - p : p;
}

/* ---- memory, errors, cancel --------------------------------------------- */

static void raise_peak(_Atomic int64_t *peak, int64_t now)
{
    int64_t p = atomic_load(peak);
    while (now > p && !atomic_compare_exchange_weak(peak, &p, now))
        ;
}

/*
 * A growth that would pass a limit is not taken: the counters stay as they were
 * and the operator fails with 53200 (what it already holds is given back when it
 * closes).  The server-wide limit is checked first: it protects the process.
 */
int sql_exec_mem(sql_exec *x, sql_op *op, int64_t delta)
{
    x = x->root;
    sql_engine *eng = x->eng;
    int64_t all = atomic_fetch_add(&eng->mem_used, delta) + delta;
    if (delta > 0 && eng->o.max_memory_bytes > 0 && all > eng->o.max_memory_bytes) {
        atomic_fetch_sub(&eng->mem_used, delta);
        sql_err_set(x->e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
        sql_err_detail(x->e, "The queries running on this server hold more than its SQL memory "
                       "(%lld MB) together.", (long long)(eng->o.max_memory_bytes >> 20));
        sql_err_hint(x->e, "Try again when fewer queries run, or narrow the time range.");
        return SL_ENOMEM;
    }
    int64_t now = atomic_fetch_add(&x->mem, delta) + delta;
    if (delta > 0 && x->mem_limit > 0 && now > x->mem_limit) {
        atomic_fetch_sub(&x->mem, delta);
        atomic_fetch_sub(&eng->mem_used, delta);
        sql_err_set(x->e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
        sql_err_detail(x->e, "The query needs more than work_mem (%lld kB) for %s.",
                       (long long)(x->mem_limit >> 10),
                       op && op->p ? (op->p->kind == SP_SORT ? "sorting"
                                      : op->p->kind == SP_AGG || op->p->kind == SP_DISTINCT
                                          ? "aggregation" : op->p->kind == SP_JOIN ? "a hash join"
                                                                                 : "its state")
                                   : "its state");
        sql_err_hint(x->e, "Raise work_mem (SET work_mem = '1GB'), or narrow the time range.");
        return SL_ENOMEM;
    }
    if (op) {
        op->mem += delta;
        if (op->st && op->mem > op->st->mem_peak)
            op->st->mem_peak = op->mem;
    }
    raise_peak(&x->mem_peak, now);
    raise_peak(&eng->mem_peak, all);
    return SL_OK;
}

int sql_exec_check(sql_exec *x)
{
    x = x->root;
    if (atomic_load(&x->cancel) || (x->ext_cancel && atomic_load(x->ext_cancel)))
        return sql_err_set(x->e, SQLSTATE_CANCELED, -1, "canceling statement due to user request");
    if (x->deadline_ns && clock_mono_ns() > x->deadline_ns) {
        atomic_store(&x->cancel, 1);
        return sql_err_set(x->e, SQLSTATE_CANCELED, -1, "canceling statement due to statement timeout");
    }
    return SL_OK;
}

void sql_exec_fail(sql_exec *x, const sql_err *we)
{
    x = x->root;
    pthread_mutex_lock(&x->mu);
    if (!x->e->state[0])
        *x->e = *we;
    pthread_mutex_unlock(&x->mu);
    atomic_store(&x->cancel, 1); /* the other workers stop */
}

void sql_exec_ectx(sql_exec *x, sql_ectx *cx, sql_err *err, arena *scratch)
{
    *cx = x->ex;
    cx->f.err = err;
    cx->f.scratch = scratch;
    cx->cancel = (const uint8_t *)&x->root->cancel;
}

/* ---- operators ---------------------------------------------------------- */

static sql_opstats *new_stats(sql_exec *x, const sql_plan *p)
{
    sql_opstats *st = arena_zalloc(x->a, sizeof *st);
    if (!st)
        return NULL;
    st->plan = p;
    if (x->nstats == x->stats_cap) {
        int cap = x->stats_cap ? x->stats_cap * 2 : 16;
        sql_opstats **ns = arena_alloc(x->a, sizeof *ns * (size_t)cap);
        if (!ns)
            return NULL;
        if (x->stats)
            memcpy(ns, x->stats, sizeof *ns * (size_t)x->nstats);
        x->stats = ns;
        x->stats_cap = cap;
    }
    x->stats[x->nstats++] = st;
    return st;
}

int sql_op_build(sql_exec *x, const sql_plan *p, sql_op **out)
{
    sql_op *op = NULL;
    switch ((sql_pkind)p->kind) {
    case SP_SCAN: op = sql_op_scan_new(x, p); break;
    case SP_VALUES:
    case SP_RESULT: op = sql_op_values_new(x, p); break;
    case SP_FILTER: op = sql_op_filter_new(x, p); break;
    case SP_PROJECT:
        op = p->project.srf ? sql_op_project_set_new(x, p) : sql_op_project_new(x, p);
        break;
    case SP_LIMIT: op = sql_op_limit_new(x, p); break;
    case SP_AGG: op = sql_op_agg_new(x, p); break;
    case SP_DISTINCT: op = sql_op_distinct_new(x, p); break;
    case SP_SORT: op = sql_op_sort_new(x, p); break;
    case SP_JOIN: op = sql_op_join_new(x, p); break;
    case SP_SETOP: op = sql_op_setop_new(x, p); break;
    case SP_WINDOW: op = sql_op_window_new(x, p); break;
    case SP_CTE:
    case SP_CTE_REF: op = sql_op_cte_new(x, p); break;
    }
    if (!op)
        return sql_err_set(x->e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    op->x = x;
    op->p = p;
    if (!(op->st = new_stats(x, p)))
        return sql_err_set(x->e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    int rc = SL_OK;
    if (p->child && p->kind != SP_CTE_REF && !(p->kind == SP_SCAN))
        rc = sql_op_build(x, p->child, &op->child);
    if (!rc && p->right)
        rc = sql_op_build(x, p->right, &op->right);
    *out = op;
    return rc;
}

int sql_op_open(sql_op *op)
{
    int rc = SL_OK;
    if (op->child && (rc = sql_op_open(op->child)))
        return rc;
    if (op->right && (rc = sql_op_open(op->right)))
        return rc;
    return op->vt->open ? op->vt->open(op) : SL_OK;
}

int sql_op_next(sql_op *op, sql_batch **out)
{
    *out = NULL;
    int rc = sql_exec_check(op->x);
    if (rc)
        return rc;
    int64_t t0 = op->x->analyze ? clock_mono_ns() : 0;
    rc = op->vt->next(op, out);
    if (op->x->analyze)
        op->st->ns += clock_mono_ns() - t0;
    if (!rc && *out) {
        op->st->rows += (uint64_t)(*out)->n;
        op->st->batches++;
    }
    if (rc && *out) {
        sql_batch_free(*out);
        *out = NULL;
    }
    return rc;
}

void sql_op_close(sql_op *op)
{
    if (!op)
        return;
    if (op->vt->close)
        op->vt->close(op);
    if (op->mem)
        sql_exec_mem(op->x, op, -op->mem);
    sql_op_close(op->child);
    sql_op_close(op->right);
}

/* ---- subqueries --------------------------------------------------------- */

typedef struct subq_cache {
    struct subq_cache *next;
    const sql_expr *e;
    sql_datum val;           /* SQ_SCALAR, SQ_EXISTS, SQ_ARRAY */
    arena mem;               /* the scalar's bytes */
    dbuf arr;                /* SQ_ARRAY: the encoded text[] (val points into it) */
    int64_t narr;            /* SQ_ARRAY: its elements */
    sql_ht ht;               /* SQ_ANY / SQ_ALL with = or <>: the values */
    bool ht_on;
    bool has_null, empty;
    sql_rows rows;           /* SQ_ANY / SQ_ALL with other comparisons */
    int64_t held;            /* accounted against work_mem */
} subq_cache;

/* Accounts what the cache holds now (its hash table and rows) against work_mem. */
static int subq_account(sql_exec *x, subq_cache *c)
{
    int64_t now = (c->ht_on ? c->ht.mem_bytes : 0) + c->rows.mem + (int64_t)c->arr.cap;
    int rc = sql_exec_mem(x, NULL, now - c->held);
    if (!rc)
        c->held = now;
    return rc;
}

static void subq_free(sql_exec *x, subq_cache *c)
{
    if (c->held)
        sql_exec_mem(x, NULL, -c->held);
    if (c->ht_on)
        sql_ht_free(&c->ht);
    sql_rows_free(&c->rows);
    arena_destroy(&c->mem);
    dbuf_free(&c->arr);
    sl_free(c);
}

/* Runs plan p (with the outer chain of cx) and hands each batch to fn. */
static int run_plan(sql_exec *parent, sql_ectx *cx, const sql_plan *p,
                    int (*fn)(void *arg, sql_batch *b), void *arg)
{
    sql_exec x = *parent; /* counters, locks and caches stay the root's */
    x.root = parent->root;
    x.ex.outer = cx->outer;
    x.nstats = x.stats_cap = 0;
    x.stats = NULL;
    x.analyze = false;
    /* operators of this run live in their own arena: a correlated subquery runs once
     * per outer row, and the query's arena must not grow with the row count */
    arena ops;
    arena_init(&ops, 4096, 64u << 20);
    x.a = &ops;
    sql_op *op = NULL;
    int rc = sql_op_build(&x, p, &op);
    if (!rc)
        rc = sql_op_open(op);
    while (!rc) {
        sql_batch *b;
        if ((rc = sql_op_next(op, &b)) || !b)
            break;
        rc = fn(arg, b);
    }
    if (op)
        sql_op_close(op);
    arena_destroy(&ops);
    return rc;
}

typedef struct scalar_acc {
    sql_exec *x;
    const sql_expr *e;
    int64_t rows;
    sql_datum v;
    arena *mem;
    bool first_only;
} scalar_acc;

static int take_scalar(void *arg, sql_batch *b)
{
    scalar_acc *s = arg;
    int rc = SL_OK;
    if (b->n && s->rows == 0 && s->e->subkind == SQ_SCALAR) {
        s->v = sql_datum_get(s->e->type, &b->cols[0], 0);
        if (!s->v.null && sql_type_phys(s->e->type) >= COL_STRING && s->e->type.id != ST_INTERVAL &&
            s->e->type.id != ST_NUMERIC && b->cols[0].type != COL_FIXED16) {
            uint8_t *p = arena_alloc(s->mem, s->v.s.n ? s->v.s.n : 1);
            if (!p)
                rc = SL_ENOMEM;
            else {
                if (s->v.s.n)
                    memcpy(p, s->v.s.p, s->v.s.n);
                s->v.s.p = p;
            }
        }
    }
    s->rows += b->n;
    sql_batch_free(b);
    if (!rc && s->e->subkind == SQ_SCALAR && s->rows > 1)
        rc = sql_err_set(s->x->e, "21000", s->e->loc, "more than one row returned by a subquery "
                         "used as an expression");
    return rc;
}

typedef struct any_acc {
    subq_cache *c;
    sql_exec *x;
} any_acc;

static int take_any(void *arg, sql_batch *b)
{
    any_acc *a = arg;
    subq_cache *c = a->c;
    int rc = SL_OK;
    if (b->n)
        c->empty = false;
    if (c->ht_on) {
        sql_vec k = {.v = b->cols[0], .is_const = false};
        for (int64_t i = 0; i < b->n; i++)
            c->has_null |= !col_vec_is_valid(&b->cols[0], i);
        uint32_t *ids = sl_malloc(sizeof *ids * (size_t)(b->n ? b->n : 1));
        if (!ids)
            rc = SL_ENOMEM;
        else
            rc = sql_ht_lookup(&c->ht, &k, b->n, NULL, true, ids);
        sl_free(ids);
        sql_batch_free(b);
        return rc ? rc : subq_account(a->x, c);
    }
    int rc2 = sql_rows_add(&c->rows, b);
    return rc2 ? rc2 : subq_account(a->x, c);
}

/* ARRAY(SELECT ...): each batch's values (text, the binder cast them) appended to
 * the encoded text[] of sql_textarr_parse, its count patched in at the end. */
static int take_array(void *arg, sql_batch *b)
{
    any_acc *a = arg;
    subq_cache *c = a->c;
    int rc = SL_OK;
    for (int64_t i = 0; i < b->n && !rc; i++) {
        sql_datum d = sql_datum_get(sql_type_of(ST_TEXT), &b->cols[0], i);
        uint32_t len = d.null ? UINT32_MAX : d.s.n;
        rc = dbuf_append(&c->arr, &len, 4);
        if (!rc && !d.null)
            rc = dbuf_append(&c->arr, d.s.p, d.s.n);
    }
    c->narr += b->n;
    sql_batch_free(b);
    if (rc == SL_ETOOBIG || (!rc && c->narr >= UINT32_MAX))
        return sql_err_set(a->x->e, "54000", c->e->loc, "array size exceeds the maximum "
                           "allowed (1 GB)");
    return rc ? rc : subq_account(a->x, c);
}

static int run_array(sql_exec *x, sql_ectx *cx, subq_cache *c)
{
    uint32_t n = 0;
    dbuf_init(&c->arr, (size_t)1 << 30);
    int rc = dbuf_append(&c->arr, &n, 4);
    any_acc a = {c, x};
    if (!rc)
        rc = run_plan(x, cx, c->e->sub, take_array, &a);
    if (!rc) {
        n = (uint32_t)c->narr;
        memcpy(c->arr.p, &n, 4);
        c->val = (sql_datum){.s = {c->arr.p, (uint32_t)c->arr.len}};
    }
    return rc;
}

/* left op v for the ANY/ALL comparison function, three-valued. */
static int cmp_one(sql_ectx *cx, const sql_expr *e, const sql_datum *l, const sql_datum *r)
{
    sql_vec a[2], out;
    sql_type t = e->args[0]->type;
    if (sql_vec_from_datum(t, l, &a[0]) || sql_vec_from_datum(t, r, &a[1]))
        return -1;
    int res = 2;
    if (!sql_vec_alloc(&out, sql_type_of(ST_BOOL), 1) && !e->fn->fn(&cx->f, e, a, 1, &out))
        res = col_vec_bool(&out.v, 0);
    sql_vec_release(&out);
    sql_vec_release(&a[0]);
    sql_vec_release(&a[1]);
    return res;
}

int sql_exec_subquery(void *arg, sql_ectx *cx, const sql_expr *e, const sql_datum *left,
                      sql_datum *out)
{
    sql_exec *x = ((sql_exec *)arg)->root;
    subq_cache *c = NULL;
    if (!e->correlated) {
        pthread_mutex_lock(&x->mu);
        for (c = x->subqs; c && c->e != e; c = c->next)
            ;
        pthread_mutex_unlock(&x->mu);
    }
    if (!c) {
        c = sl_calloc(1, sizeof *c);
        if (!c)
            return SL_ENOMEM;
        c->e = e;
        c->empty = true;
        arena_init(&c->mem, 1024, 64u << 20);
        int rc;
        if (e->subkind == SQ_SCALAR || e->subkind == SQ_EXISTS) {
            scalar_acc s = {x, e, 0, sql_datum_null(), &c->mem, false};
            rc = run_plan(x, cx, e->sub, take_scalar, &s);
            c->val = e->subkind == SQ_EXISTS ? (sql_datum){.b = s.rows > 0} : s.v;
        } else if (e->subkind == SQ_ARRAY) {
            rc = run_array(x, cx, c);
        } else {
            const char *op = e->name ? e->name : "=";
            c->ht_on = (!strcmp(op, "=") && e->subkind == SQ_ANY) ||
                       (!strcmp(op, "<>") && e->subkind == SQ_ALL);
            sql_type t = e->sub->types[0];
            rc = c->ht_on ? sql_ht_init(&c->ht, 1, &t, false) : SL_OK;
            sql_rows_init(&c->rows, 1, e->sub->types);
            any_acc a = {c, x};
            if (!rc)
                rc = run_plan(x, cx, e->sub, take_any, &a);
        }
        if (rc) {
            subq_free(x, c);
            return rc;
        }
        if (!e->correlated) {
            pthread_mutex_lock(&x->mu);
            c->next = x->subqs;
            x->subqs = c;
            pthread_mutex_unlock(&x->mu);
        }
    }
    int rc = SL_OK;
    if (e->subkind == SQ_SCALAR || e->subkind == SQ_EXISTS || e->subkind == SQ_ARRAY) {
        *out = c->val;
        if (e->correlated && !out->null && e->subkind != SQ_EXISTS) {
            /* the value's bytes live in c, freed below: copy them out */
            if (e->type.id != ST_NUMERIC && e->type.id != ST_INTERVAL &&
                sql_type_phys(e->type) >= COL_STRING) {
                uint8_t *p = arena_alloc(cx->f.scratch, out->s.n ? out->s.n : 1);
                if (!p)
                    rc = SL_ENOMEM;
                else {
                    if (out->s.n)
                        memcpy(p, out->s.p, out->s.n);
                    out->s.p = p;
                }
            }
        }
    } else {
        /* ANY: true if any comparison is true, else null if any is null, else false.
         * ALL: false if any is false, else null if any is null, else true. */
        bool any = e->subkind == SQ_ANY;
        int res;
        if (c->empty)
            res = any ? 0 : 1;
        else if (left->null)
            res = 2;
        else if (c->ht_on) {
            sql_vec k;
            sql_type t = e->args[0]->type;
            uint32_t id = SQL_HT_NONE;
            if ((rc = sql_vec_from_datum(t, left, &k)) == SL_OK) {
                rc = sql_ht_lookup(&c->ht, &k, 1, NULL, false, &id);
                sql_vec_release(&k);
            }
            bool found = id != SQL_HT_NONE;
            /* = ANY: found -> true; <> ALL: found -> false */
            res = found ? (any ? 1 : 0) : c->has_null ? 2 : (any ? 0 : 1);
        } else {
            res = any ? 0 : 1;
            for (int b = 0; b < c->rows.nb && res != (any ? 1 : 0); b++) {
                const col_vec *v = &c->rows.b[b]->cols[0];
                for (int64_t i = 0; i < v->len; i++) {
                    sql_datum r = sql_datum_get(e->sub->types[0], v, i);
                    int t = r.null ? 2 : cmp_one(cx, e, left, &r);
                    if (t < 0) {
                        rc = SL_ENOMEM;
                        break;
                    }
                    if (any ? t == 1 : t == 0) {
                        res = t;
                        break;
                    }
                    if (t == 2)
                        res = 2;
                }
            }
        }
        memset(out, 0, sizeof *out);
        out->null = res == 2;
        out->b = res == 1;
    }
    if (e->correlated)
        subq_free(x, c);
    return rc;
}

void sql_exec_free_subqueries(sql_exec *x);
void sql_exec_free_subqueries(sql_exec *x)
{
    for (subq_cache *c = x->subqs, *n; c; c = n) {
        n = c->next;
        subq_free(x, c);
    }
    x->subqs = NULL;
}

int sql_filter_batch(sql_ectx *cx, arena *scratch, const sql_expr *pred, uint32_t **sel,
                     int64_t *sel_cap, sql_batch *in, sql_batch **out)
{
    *out = NULL;
    if (in->n > *sel_cap) {
        sl_free(*sel);
        *sel_cap = in->n;
        if (!(*sel = sl_malloc(sizeof **sel * (size_t)*sel_cap))) {
            *sel_cap = 0;
            sql_batch_free(in);
            return SL_ENOMEM;
        }
    }
    int64_t n = 0;
    arena_reset(scratch);
    int rc = sql_eval_filter(cx, pred, in, NULL, *sel, &n);
    if (!rc && n == in->n) {
        *out = in; /* every row passes: the batch as it is */
        return SL_OK;
    }
    if (!rc && n > 0)
        rc = sql_batch_take(in, *sel, n, out);
    sql_batch_free(in);
    return rc;
}
