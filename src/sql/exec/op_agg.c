/*
 * op_agg.c - hash aggregation (GROUP BY, aggregates) and DISTINCT.
 *
 * A batch at a time: the group keys are evaluated and looked up in the
 * hash table (new keys get the next group id), then every aggregate's
 * arguments are evaluated and its update runs over the whole batch with the
 * rows' group ids.  Aggregate states are arrays indexed by group id.
 *
 *   FILTER (WHERE ...)   rows failing it get group id UINT32_MAX for that
 *                        aggregate (skipped by every update);
 *   DISTINCT             a second table of (group, value) lets only a
 *                        value's first occurrence in a group through;
 *   ORDER BY in the call the aggregate's rows are kept, sorted by (group,
 *                        keys) at the end, and fed in that order.
 *
 * Over a parallel scan (and when no aggregate needs its input order), every
 * worker aggregates its units into its own table and states; the partial
 * results are combined into one table at the end with the aggregates'
 * combine.  Memory (tables, states, what states hold) counts against
 * work_mem: past it, SQLSTATE 53200.
 */
#include "sql/exec/exec.h"

#include "base/alloc.h"
#include "sql/exec/hashtab.h"
#include "sql/types/value.h"

#include <stdlib.h>
#include <string.h>

#define OUT_BATCH 8192

typedef struct aggstate {
    const sql_expr *call;
    const sql_agg *agg;
    uint8_t *states;
    size_t cap;              /* groups the states array holds */
    sql_ht distinct;         /* DISTINCT: (group, args) seen */
    bool has_distinct;
    sql_rows ordered;        /* ORDER BY in the call: (gid, keys..., args...) rows */
    sql_type *ord_types;
    /* reading ordered groups before the end (sql_aggtab_peek): per kept row (its
     * number in `ordered`) the row of its group kept before it, per group its last
     * one (-1: none); built as far as chain_rows when a peek needs them */
    int64_t *chain_prev, *chain_last;
    int64_t chain_rows, chain_prev_cap;
    uint32_t chain_groups;
    int64_t extra_mem;       /* what states allocated beyond their fixed size */
} aggstate;

/* One table of groups and the states of every aggregate: a worker's, or the final. */
typedef struct aggtab {
    sql_ht ht;
    int naggs;
    aggstate *a;
    uint32_t ngroups;        /* groups with initialized states */
    int g_nkeys;             /* the GROUP BY keys (0: one group) */
    sql_ectx cx;
    sql_err err;
    arena scratch;
    arena agg_mem;
} aggtab;

typedef struct op_agg {
    sql_op op;
    aggtab main;
    aggtab *part;            /* per-worker tables (parallel) */
    int nparts;
    int64_t last_mem;
    bool built;
    uint32_t emitted;
    bool distinct_node;      /* SP_DISTINCT: keys are all columns, no aggregates */
    sql_type *key_types;
    int nkeys;
    sql_expr **keys;
} op_agg;

/* ---- tables ------------------------------------------------------------- */

static int tab_init(op_agg *g, aggtab *t, int worker)
{
    (void)worker;
    memset(t, 0, sizeof *t);
    sql_exec *x = g->op.x;
    const sql_plan *p = g->op.p;
    t->g_nkeys = g->nkeys;
    arena_init(&t->scratch, 4096, 64u << 20);
    arena_init(&t->agg_mem, 4096, 0);
    sql_exec_ectx(x, &t->cx, &t->err, &t->scratch);
    int rc = sql_ht_init(&t->ht, g->nkeys, g->key_types, true);
    if (rc)
        return rc;
    t->naggs = g->distinct_node ? 0 : p->agg.naggs;
    t->a = sl_calloc((size_t)(t->naggs ? t->naggs : 1), sizeof *t->a);
    if (!t->a)
        return SL_ENOMEM;
    for (int i = 0; i < t->naggs; i++) {
        aggstate *s = &t->a[i];
        s->call = p->agg.aggs[i];
        s->agg = s->call->agg;
        if (s->call->agg_distinct) {
            int nk = 1 + s->call->nargs;
            sql_type *ty = arena_alloc(&t->agg_mem, sizeof *ty * (size_t)nk);
            if (!ty)
                return SL_ENOMEM;
            ty[0] = sql_type_of(ST_INT8);
            for (int k = 0; k < s->call->nargs; k++)
                ty[k + 1] = s->call->args[k]->type;
            if ((rc = sql_ht_init(&s->distinct, nk, ty, true)))
                return rc;
            s->has_distinct = true;
        }
        if (s->call->norder) {
            int nc = 1 + s->call->norder + s->call->nargs;
            s->ord_types = arena_alloc(&t->agg_mem, sizeof *s->ord_types * (size_t)nc);
            if (!s->ord_types)
                return SL_ENOMEM;
            s->ord_types[0] = sql_type_of(ST_INT8);
            for (int k = 0; k < s->call->norder; k++)
                s->ord_types[1 + k] = s->call->order[k]->type;
            for (int k = 0; k < s->call->nargs; k++)
                s->ord_types[1 + s->call->norder + k] = s->call->args[k]->type;
            sql_rows_init(&s->ordered, nc, s->ord_types);
        }
    }
    return SL_OK;
}

static void tab_free(aggtab *t)
{
    for (int i = 0; t->a && i < t->naggs; i++) {
        aggstate *s = &t->a[i];
        if (s->agg && s->agg->destroy)
            for (uint32_t gi = 0; gi < t->ngroups; gi++)
                s->agg->destroy(s->states + (size_t)gi * s->agg->state_size);
        sl_free(s->states);
        if (s->has_distinct)
            sql_ht_free(&s->distinct);
        sql_rows_free(&s->ordered);
        sl_free(s->chain_prev);
        sl_free(s->chain_last);
    }
    sl_free(t->a);
    sql_ht_free(&t->ht);
    arena_destroy(&t->scratch);
    arena_destroy(&t->agg_mem);
    memset(t, 0, sizeof *t);
}

static int64_t tab_mem(const aggtab *t)
{
    int64_t m = t->ht.mem_bytes;
    for (int i = 0; i < t->naggs; i++)
        m += (int64_t)(t->a[i].cap * t->a[i].agg->state_size) + t->a[i].extra_mem +
             t->a[i].distinct.mem_bytes + t->a[i].ordered.mem +
             (int64_t)sizeof(int64_t) * (t->a[i].chain_prev_cap + t->a[i].chain_groups);
    return m;
}

/* Makes states for groups [t->ngroups, n). */
static int grow_states(aggtab *t, uint32_t n)
{
    for (int i = 0; i < t->naggs; i++) {
        aggstate *s = &t->a[i];
        size_t sz = s->agg->state_size;
        if (n > s->cap) {
            size_t cap = s->cap ? s->cap * 2 : 64;
            while (cap < n)
                cap *= 2;
            uint8_t *ns = sl_realloc(s->states, cap * sz);
            if (!ns)
                return SL_ENOMEM;
            s->states = ns;
            s->cap = cap;
        }
        for (uint32_t g = t->ngroups; g < n; g++)
            s->agg->init(s->states + (size_t)g * sz);
    }
    t->ngroups = n;
    return SL_OK;
}

static sql_agg_ctx agg_ctx(aggtab *t, aggstate *s)
{
    return (sql_agg_ctx){&t->err, &t->agg_mem, &s->extra_mem, s->call};
}

/* Feeds one aggregate with n rows of `in` whose groups are gids. */
static int feed(aggtab *t, aggstate *s, const sql_batch *in, const uint32_t *gids0, int64_t n)
{
    const sql_expr *c = s->call;
    uint32_t *gids = NULL;
    sql_vec args[4];
    int nargs = c->nargs, rc = SL_OK;
    memset(args, 0, sizeof args);
    if (c->filter || s->has_distinct) {
        gids = sl_malloc(sizeof *gids * (size_t)(n ? n : 1));
        if (!gids)
            return SL_ENOMEM;
        memcpy(gids, gids0, sizeof *gids * (size_t)n);
    }
    if (c->filter) {
        sql_vec f;
        if ((rc = sql_eval(&t->cx, c->filter, in, NULL, &f)))
            goto out;
        for (int64_t i = 0; i < n; i++) {
            int64_t r = sql_vec_row(&f, i);
            if (!col_vec_is_valid(&f.v, r) || !col_vec_bool(&f.v, r))
                gids[i] = SQL_HT_NONE;
        }
        sql_vec_release(&f);
    }
    for (int k = 0; k < nargs && k < 4; k++)
        if ((rc = sql_eval(&t->cx, c->args[k], in, NULL, &args[k])))
            goto out;
    if (s->has_distinct) {
        /*
         * (group, args): only a key's first occurrence goes through.  Rows already
         * out (FILTER) are not looked up; with one group and a dictionary column,
         * only each dictionary entry's first row of the batch can be new, so the
         * others never reach the hash table either.
         */
        if (nargs > 4) {
            rc = SL_EUNSUPPORTED;
            goto out;
        }
        uint32_t *cand = sl_malloc(sizeof *cand * (size_t)(n ? n : 1));
        uint8_t *seen = NULL;
        bool by_dict = t->g_nkeys == 0 && nargs == 1 && !args[0].is_const &&
                       args[0].v.type == COL_DICT;
        if (by_dict)
            seen = sl_calloc((size_t)(args[0].v.dict->strings.len + 1), 1);
        if (!cand || (by_dict && !seen)) {
            sl_free(cand);
            sl_free(seen);
            rc = SL_ENOMEM;
            goto out;
        }
        int64_t m = 0;
        for (int64_t i = 0; i < n; i++) {
            if (gids[i] == SQL_HT_NONE)
                continue;
            if (by_dict && col_vec_is_valid(&args[0].v, i)) {
                uint64_t k = col_vec_key(&args[0].v, i);
                if (seen[k]) {
                    gids[i] = SQL_HT_NONE;
                    continue;
                }
                seen[k] = 1;
            }
            cand[m++] = (uint32_t)i;
        }
        sl_free(seen);
        sql_vec keys[5], gv;
        memset(keys, 0, sizeof keys);
        if ((rc = sql_vec_alloc(&gv, sql_type_of(ST_INT8), m))) {
            sl_free(cand);
            goto out;
        }
        for (int64_t j = 0; j < m; j++) {
            int64_t gi = gids[cand[j]];
            memcpy(gv.v.values->p + 8 * j, &gi, 8);
        }
        keys[0] = gv;
        sql_sel cs = {cand, m};
        for (int k = 0; k < nargs && !rc; k++) {
            if (m == n || args[k].is_const)
                keys[k + 1] = args[k];
            else
                rc = sql_vec_gather(&args[k].v, &cs, &keys[k + 1].v);
        }
        uint32_t *ids = rc ? NULL : sl_malloc(sizeof *ids * (size_t)(m ? m : 1));
        uint32_t next_new = s->distinct.n; /* new keys get ids in row order from here */
        if (!rc && !ids)
            rc = SL_ENOMEM;
        if (!rc)
            rc = sql_ht_lookup(&s->distinct, keys, m, NULL, true, ids);
        for (int64_t j = 0; !rc && j < m; j++) {
            if (ids[j] >= next_new) {
                next_new = ids[j] + 1;
                continue; /* the first time this (group, value) is seen */
            }
            gids[cand[j]] = SQL_HT_NONE;
        }
        for (int k = 0; k < nargs; k++)
            if (m != n && !args[k].is_const)
                sql_vec_release(&keys[k + 1]);
        sl_free(ids);
        sl_free(cand);
        sql_vec_release(&gv);
        if (rc)
            goto out;
    }
    if (c->norder) {
        /* keep (gid, order keys, args) rows; sorted and fed at the end.  Rows FILTER
         * or DISTINCT let by (no group) are not kept */
        const uint32_t *g = gids ? gids : gids0;
        int64_t m = 0;
        for (int64_t i = 0; i < n; i++)
            m += g[i] != SQL_HT_NONE;
        sql_batch *b;
        if (!m || (rc = sql_batch_new(s->ordered.ncols, s->ord_types, &b)))
            goto out;
        col_vec_init(&b->cols[0], COL_INT64, 0);
        for (int64_t i = 0; i < n && !rc; i++)
            rc = col_vec_append_i64(&b->cols[0], (int64_t)g[i]);
        for (int k = 0; k < c->norder && !rc; k++) {
            sql_vec v;
            if (!(rc = sql_eval(&t->cx, c->order[k], in, NULL, &v))) {
                col_vec_release(&b->cols[1 + k]);
                rc = v.is_const ? sql_vec_expand(&v, n, &b->cols[1 + k])
                                : (b->cols[1 + k] = v.v, SL_OK);
                if (v.is_const)
                    sql_vec_release(&v);
            }
        }
        for (int k = 0; k < nargs && !rc; k++) {
            col_vec_release(&b->cols[1 + c->norder + k]);
            if (args[k].is_const)
                rc = sql_vec_expand(&args[k], n, &b->cols[1 + c->norder + k]);
            else
                sql_vec_share(&args[k].v, &b->cols[1 + c->norder + k]);
        }
        b->n = n;
        if (!rc && m < n) {
            uint32_t *sel = sl_malloc(sizeof *sel * (size_t)m);
            sql_batch *kept = NULL;
            for (int64_t i = 0, k = 0; sel && i < n; i++)
                if (g[i] != SQL_HT_NONE)
                    sel[k++] = (uint32_t)i;
            rc = sel ? sql_batch_take(b, sel, m, &kept) : SL_ENOMEM;
            sl_free(sel);
            sql_batch_free(b);
            b = kept;
        }
        rc = rc ? (sql_batch_free(b), rc) : sql_rows_add(&s->ordered, b);
        goto out;
    }
    sql_agg_ctx ax = agg_ctx(t, s);
    rc = s->agg->update(&ax, s->states, gids ? gids : gids0, c->agg_star ? NULL : args, n);
out:
    for (int k = 0; k < nargs && k < 4; k++)
        sql_vec_release(&args[k]);
    sl_free(gids);
    return rc;
}

/* Groups and aggregates one input batch into t; ids_out (optional): each row's group. */
static int consume_ids(op_agg *g, aggtab *t, const sql_batch *in, uint32_t *ids_out)
{
    int64_t n = in->n;
    if (!n)
        return SL_OK;
    arena_reset(&t->scratch);
    uint32_t *gids = sl_malloc(sizeof *gids * (size_t)n);
    sql_vec keys[16], *kv = g->nkeys <= 16 ? keys : sl_calloc((size_t)g->nkeys, sizeof *kv);
    int rc = gids && kv ? SL_OK : SL_ENOMEM, nk = 0;
    if (!rc && g->nkeys == 0) {
        memset(gids, 0, sizeof *gids * (size_t)n);
        if (t->ngroups == 0)
            rc = grow_states(t, 1);
    }
    for (; !rc && nk < g->nkeys; nk++)
        rc = sql_eval(&t->cx, g->keys[nk], in, NULL, &kv[nk]);
    if (!rc && g->nkeys) {
        rc = sql_ht_lookup(&t->ht, kv, n, NULL, true, gids);
        if (!rc && t->ht.n > t->ngroups)
            rc = grow_states(t, t->ht.n);
    }
    for (int i = 0; !rc && i < t->naggs; i++)
        rc = feed(t, &t->a[i], in, gids, n);
    if (!rc && ids_out)
        memcpy(ids_out, gids, sizeof *gids * (size_t)n);
    for (int k = 0; k < nk; k++)
        sql_vec_release(&kv[k]);
    if (kv != keys)
        sl_free(kv);
    sl_free(gids);
    return rc;
}

static int consume(op_agg *g, aggtab *t, const sql_batch *in)
{
    return consume_ids(g, t, in, NULL);
}

/* ---- ordered aggregates at the end ------------------------------------- */

typedef struct ordctx {
    const col_vec *cols;
    const sql_type *types;
    int norder;
    const uint8_t *desc;
} ordctx;

static int cmp_ord(const void *x, const void *y, void *arg)
{
    const ordctx *o = arg;
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    int64_t ga = col_vec_i64(&o->cols[0], a), gb = col_vec_i64(&o->cols[0], b);
    if (ga != gb)
        return ga < gb ? -1 : 1;
    for (int k = 0; k < o->norder; k++) {
        const col_vec *v = &o->cols[1 + k];
        bool an = !col_vec_is_valid(v, a), bn = !col_vec_is_valid(v, b);
        int c;
        if (an || bn)
            c = an == bn ? 0 : an ? 1 : -1;
        else {
            sql_datum da = sql_datum_get(o->types[1 + k], v, a), db = sql_datum_get(o->types[1 + k], v, b);
            c = sql_datum_cmp(o->types[1 + k], &da, &db);
        }
        if (c)
            return o->desc[k] ? -c : c;
    }
    return a < b ? -1 : a > b; /* stable */
}

/* Kept rows `all` sorted by (group, order keys, arrival) and fed to states (of
 * the groups slot[gid], or gid itself with no slot). */
static int feed_sorted(aggstate *s, sql_agg_ctx *ax, sql_batch *all, uint8_t *states,
                       const uint32_t *slot)
{
    int64_t n = all->n;
    int64_t *ix = sl_malloc(sizeof *ix * (size_t)(n ? n : 1));
    uint32_t *gids = sl_malloc(sizeof *gids * (size_t)(n ? n : 1));
    uint32_t *rows = sl_malloc(sizeof *rows * (size_t)(n ? n : 1));
    int rc = ix && gids && rows ? SL_OK : SL_ENOMEM;
    for (int64_t i = 0; !rc && i < n; i++)
        ix[i] = i;
    ordctx o = {all->cols, s->ord_types, s->call->norder, s->call->order_desc};
    if (!rc)
        qsort_r(ix, (size_t)n, sizeof *ix, cmp_ord, &o);
    for (int64_t i = 0; !rc && i < n; i++) {
        rows[i] = (uint32_t)ix[i];
        gids[i] = (uint32_t)col_vec_i64(&all->cols[0], ix[i]);
        if (slot && gids[i] != SQL_HT_NONE)
            gids[i] = slot[gids[i]];
    }
    int na = s->call->nargs;
    sql_vec args[4];
    memset(args, 0, sizeof args);
    sql_sel sel = {rows, n};
    for (int k = 0; k < na && !rc; k++)
        rc = sql_vec_gather(&all->cols[1 + s->call->norder + k], &sel, &args[k].v);
    if (!rc)
        rc = s->agg->update(ax, states, gids, args, n);
    for (int k = 0; k < na; k++)
        sql_vec_release(&args[k]);
    sl_free(ix);
    sl_free(gids);
    sl_free(rows);
    return rc;
}

static int feed_ordered(aggtab *t, aggstate *s)
{
    if (!s->ordered.nb)
        return SL_OK;
    sql_batch *all;
    int rc = sql_rows_concat(&s->ordered, &all);
    if (rc)
        return rc;
    sql_agg_ctx ax = agg_ctx(t, s);
    rc = feed_sorted(s, &ax, all, s->states, NULL);
    sql_batch_free(all);
    return rc;
}

/* The chains of s's kept rows (aggstate) made to reach every row kept so far. */
static int chain_grow(aggtab *t, aggstate *s)
{
    if (t->ngroups > s->chain_groups) {
        int64_t *nl = sl_realloc(s->chain_last, sizeof *nl * t->ngroups);
        if (!nl)
            return SL_ENOMEM;
        for (uint32_t g = s->chain_groups; g < t->ngroups; g++)
            nl[g] = -1;
        s->chain_last = nl;
        s->chain_groups = t->ngroups;
    }
    if (s->ordered.nrows > s->chain_prev_cap) {
        int64_t cap = s->chain_prev_cap ? s->chain_prev_cap : 1024;
        while (cap < s->ordered.nrows)
            cap *= 2;
        int64_t *np = sl_realloc(s->chain_prev, sizeof *np * (size_t)cap);
        if (!np)
            return SL_ENOMEM;
        s->chain_prev = np;
        s->chain_prev_cap = cap;
    }
    int64_t at = 0;
    for (int bi = 0; bi < s->ordered.nb && s->chain_rows < s->ordered.nrows; bi++) {
        const sql_batch *b = s->ordered.b[bi];
        for (int64_t i = s->chain_rows - at; i >= 0 && i < b->n; i++, s->chain_rows++) {
            int64_t g = col_vec_i64(&b->cols[0], i);
            bool in = g >= 0 && g < (int64_t)s->chain_groups;
            s->chain_prev[s->chain_rows] = in ? s->chain_last[g] : -1;
            if (in)
                s->chain_last[g] = s->chain_rows;
        }
        at += b->n;
    }
    return SL_OK;
}

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

/*
 * The states of groups gids[0..n) (distinct) of an aggregate with ORDER BY in the
 * call, as the end would make them, into states[0..n) (initialized): their kept
 * rows (followed down the chains, in arrival order) sorted and fed.  The table's
 * own kept rows stay as they are.  Costs the groups' rows, not the table's.
 */
static int peek_ordered(aggtab *t, aggstate *s, sql_agg_ctx *ax, const uint32_t *gids,
                        uint32_t n, uint8_t *states)
{
    int rc = chain_grow(t, s);
    int64_t m = 0;
    for (uint32_t k = 0; !rc && k < n; k++)
        for (int64_t r = gids[k] < s->chain_groups ? s->chain_last[gids[k]] : -1; r >= 0;
             r = s->chain_prev[r])
            m++;
    int64_t *rows = rc ? NULL : sl_malloc(sizeof *rows * (size_t)(m ? m : 1));
    uint32_t *slot = rc ? NULL : sl_malloc(sizeof *slot * (size_t)(t->ngroups ? t->ngroups : 1));
    uint32_t *sel = rc ? NULL : sl_malloc(sizeof *sel * (size_t)(m ? m : 1));
    if (!rc && (!rows || !slot || !sel))
        rc = SL_ENOMEM;
    int64_t i = 0;
    for (uint32_t k = 0; !rc && k < n; k++) {
        if (gids[k] < t->ngroups)
            slot[gids[k]] = k;
        for (int64_t r = gids[k] < s->chain_groups ? s->chain_last[gids[k]] : -1; r >= 0;
             r = s->chain_prev[r])
            rows[i++] = r;
    }
    if (!rc)
        qsort(rows, (size_t)m, sizeof *rows, cmp_i64);
    sql_rows part;
    sql_rows_init(&part, s->ordered.ncols, s->ord_types);
    int64_t at = 0;
    i = 0;
    for (int bi = 0; !rc && bi < s->ordered.nb && i < m; bi++) {
        const sql_batch *b = s->ordered.b[bi];
        int64_t k = 0;
        for (; i < m && rows[i] < at + b->n; i++)
            sel[k++] = (uint32_t)(rows[i] - at);
        sql_batch *tb = NULL;
        if (k && !(rc = sql_batch_take(b, sel, k, &tb)))
            rc = sql_rows_add(&part, tb);
        at += b->n;
    }
    sql_batch *all = NULL;
    if (!rc && m && !(rc = sql_rows_concat(&part, &all)))
        rc = feed_sorted(s, ax, all, states, slot);
    sql_batch_free(all);
    sql_rows_free(&part);
    sl_free(rows);
    sl_free(slot);
    sl_free(sel);
    return rc;
}

/* ---- building the groups ------------------------------------------------ */

static int account(op_agg *g)
{
    int64_t m = tab_mem(&g->main);
    for (int i = 0; i < g->nparts; i++)
        m += tab_mem(&g->part[i]);
    int rc = sql_exec_mem(g->op.x, &g->op, m - g->last_mem);
    g->last_mem = m;
    return rc;
}

typedef struct sinkctx {
    op_agg *g;
    pthread_mutex_t mu;
} sinkctx;

static int sink(void *arg, int worker, sql_batch *b, sql_err *e)
{
    sinkctx *sc = arg;
    aggtab *t = &sc->g->part[worker];
    int rc = consume(sc->g, t, b);
    sql_batch_free(b);
    if (!rc) {
        pthread_mutex_lock(&sc->mu);
        rc = account(sc->g);
        pthread_mutex_unlock(&sc->mu);
    }
    if (rc)
        *e = t->err.state[0] ? t->err : *sc->g->op.x->e;
    return rc;
}

/* A DISTINCT aggregate of a worker: its (group, value) pairs that the main table has
 * not seen yet feed the main state (states of different workers cannot be added:
 * a value both saw would count twice).  gmap: the worker's group ids to the main's. */
static int combine_distinct(aggtab *t, aggstate *d, aggstate *s, const uint32_t *gmap)
{
    uint32_t n = s->distinct.n;
    if (!n)
        return SL_OK;
    int nargs = d->call->nargs;
    if (nargs > 4)
        return SL_EUNSUPPORTED;
    sql_vec keys[5], args[4], gv;
    memset(keys, 0, sizeof keys);
    memset(args, 0, sizeof args);
    uint32_t *ids = sl_malloc(sizeof *ids * n), *pick = sl_malloc(sizeof *pick * n),
             *gids = sl_malloc(sizeof *gids * n);
    int rc = ids && pick && gids ? sql_vec_alloc(&gv, sql_type_of(ST_INT8), n) : SL_ENOMEM;
    if (rc) {
        sl_free(ids);
        sl_free(pick);
        sl_free(gids);
        return rc;
    }
    const col_vec *sg = &s->distinct.keys[0];
    for (uint32_t j = 0; j < n; j++) {
        int64_t g = gmap[col_vec_i64(sg, j)];
        memcpy(gv.v.values->p + 8 * j, &g, 8);
    }
    keys[0] = gv;
    for (int k = 0; k < nargs; k++)
        keys[k + 1].v = s->distinct.keys[k + 1];
    uint32_t next_new = d->distinct.n;
    rc = sql_ht_lookup(&d->distinct, keys, n, NULL, true, ids);
    int64_t m = 0;
    for (uint32_t j = 0; !rc && j < n; j++) {
        if (ids[j] < next_new)
            continue; /* the main table has this pair already */
        next_new = ids[j] + 1;
        gids[m] = (uint32_t)col_vec_i64(&gv.v, j);
        pick[m++] = j;
    }
    sql_sel sel = {pick, m};
    for (int k = 0; !rc && k < nargs; k++)
        rc = sql_vec_gather(&s->distinct.keys[k + 1], &sel, &args[k].v);
    if (!rc && m) {
        sql_agg_ctx ax = agg_ctx(t, d);
        rc = d->agg->update(&ax, d->states, gids, d->call->agg_star ? NULL : args, m);
    }
    for (int k = 0; k < nargs; k++)
        col_vec_release(&args[k].v);
    sql_vec_release(&gv);
    sl_free(ids);
    sl_free(pick);
    sl_free(gids);
    return rc;
}

/* Adds table src's groups and states into table t (a worker's into the main, or a
 * continuous job's partial table into its window's). */
static int combine_into(op_agg *g, aggtab *t, aggtab *src)
{
    if (!src->ngroups && !src->ht.n)
        return SL_OK;
    uint32_t n = g->nkeys ? src->ht.n : src->ngroups;
    uint32_t *ids = sl_malloc(sizeof *ids * (size_t)(n ? n : 1));
    if (!ids)
        return SL_ENOMEM;
    int rc = SL_OK;
    if (g->nkeys) {
        sql_vec *kv = sl_calloc((size_t)g->nkeys, sizeof *kv);
        if (!kv)
            rc = SL_ENOMEM;
        for (int k = 0; !rc && k < g->nkeys; k++)
            kv[k].v = src->ht.keys[k];
        if (!rc)
            rc = sql_ht_lookup(&t->ht, kv, n, src->ht.hashes, true, ids);
        sl_free(kv);
        if (!rc && t->ht.n > t->ngroups)
            rc = grow_states(t, t->ht.n);
    } else {
        ids[0] = 0;
        if (t->ngroups == 0)
            rc = grow_states(t, 1);
    }
    for (int i = 0; !rc && i < t->naggs; i++) {
        aggstate *d = &t->a[i], *s = &src->a[i];
        if (d->has_distinct) {
            rc = combine_distinct(t, d, s, ids);
            continue;
        }
        sql_agg_ctx ax = agg_ctx(t, d);
        size_t sz = d->agg->state_size;
        for (uint32_t gi = 0; gi < n && !rc; gi++)
            rc = d->agg->combine(&ax, d->states + (size_t)ids[gi] * sz, s->states + (size_t)gi * sz);
    }
    sl_free(ids);
    return rc;
}

static int combine(op_agg *g, aggtab *src)
{
    int rc = combine_into(g, &g->main, src);
    if (rc && g->main.err.state[0])
        *g->op.x->e = g->main.err;
    return rc;
}

/* Whether tables of this aggregation can be built apart and combined: no ORDER BY
 * inside a call, no ordered-set aggregate, no subquery. */
static bool can_combine(op_agg *g)
{
    const sql_plan *p = g->op.p;
    if (g->distinct_node)
        return false;
    for (int i = 0; i < p->agg.naggs; i++) {
        const sql_expr *c = p->agg.aggs[i];
        if (c->norder || c->agg->ordered || (c->agg_distinct && c->nargs > 4))
            return false;
        for (int k = 0; k < c->nargs; k++)
            if (sql_expr_has_subquery(c->args[k]))
                return false;
    }
    for (int k = 0; k < g->nkeys; k++)
        if (sql_expr_has_subquery(g->keys[k]))
            return false;
    return true;
}

static bool can_parallel(op_agg *g)
{
    return sql_pipe_can_run(g->op.child) && g->op.x->workers >= 2 && can_combine(g);
}

static int build(op_agg *g)
{
    int rc = tab_init(g, &g->main, -1);
    if (rc)
        return rc;
    if (can_parallel(g) && sql_pipe_workers(g->op.child) > 1) {
        int nw = sql_pipe_workers(g->op.child);
        g->part = sl_calloc((size_t)nw, sizeof *g->part);
        if (!g->part)
            return SL_ENOMEM;
        g->nparts = nw;
        for (int i = 0; i < nw && !rc; i++)
            rc = tab_init(g, &g->part[i], i);
        sinkctx sc = {g, PTHREAD_MUTEX_INITIALIZER};
        int used;
        if (!rc)
            rc = sql_pipe_run(g->op.child, &used, sink, &sc);
        for (int i = 0; i < nw && !rc; i++)
            rc = combine(g, &g->part[i]);
        for (int i = 0; i < nw; i++)
            tab_free(&g->part[i]);
        sl_free(g->part);
        g->part = NULL;
        g->nparts = 0;
        if (!rc)
            rc = account(g);
        if (!rc && g->nkeys == 0 && g->main.ngroups == 0)
            rc = grow_states(&g->main, 1); /* no rows at all: still one group */
        return rc;
    }
    for (;;) {
        sql_batch *b;
        if ((rc = sql_op_next(g->op.child, &b)) || !b)
            break;
        rc = consume(g, &g->main, b);
        sql_batch_free(b);
        if (!rc)
            rc = account(g);
        if (rc)
            break;
    }
    if (rc && g->main.err.state[0] && !g->op.x->e->state[0])
        *g->op.x->e = g->main.err;
    for (int i = 0; !rc && i < g->main.naggs; i++)
        if (g->main.a[i].call->norder)
            rc = feed_ordered(&g->main, &g->main.a[i]);
    if (rc && g->main.err.state[0] && !g->op.x->e->state[0])
        *g->op.x->e = g->main.err;
    /* an aggregate without GROUP BY has one group even over no rows */
    if (!rc && g->nkeys == 0 && !g->distinct_node && g->main.ngroups == 0)
        rc = grow_states(&g->main, 1);
    return rc;
}

/* The results of groups rows[0..n) of t: the keys, then every aggregate's result
 * (from alt[i][k], group k's state given in its place, where alt and alt[i] are set). */
static int emit_rows(op_agg *g, aggtab *t, const uint32_t *rows, uint32_t n,
                     uint8_t *const *alt, sql_batch **out)
{
    sql_op *op = &g->op;
    const sql_plan *p = op->p;
    sql_batch *b;
    int rc = sql_batch_new(p->ncols, p->types, &b);
    if (rc)
        return rc;
    sql_sel sel = {rows, n};
    for (int k = 0; k < g->nkeys && !rc; k++) {
        col_vec_release(&b->cols[k]);
        rc = sql_vec_gather(&t->ht.keys[k], &sel, &b->cols[k]);
    }
    for (int i = 0; i < t->naggs && !rc; i++) {
        aggstate *s = &t->a[i];
        sql_agg_ctx ax = agg_ctx(t, s);
        col_vec *o = &b->cols[g->nkeys + i];
        size_t sz = s->agg->state_size;
        for (uint32_t k = 0; k < n && !rc; k++)
            rc = s->agg->finalize(&ax, alt && alt[i] ? alt[i] + k * sz
                                                     : s->states + (size_t)rows[k] * sz, o);
    }
    if (rc) {
        if (t->err.state[0] && !op->x->e->state[0])
            *op->x->e = t->err;
        sql_batch_free(b);
        return rc;
    }
    b->n = n;
    *out = b;
    return SL_OK;
}

/* The next batch (at most OUT_BATCH groups) of t's finished groups from *emitted on:
 * the keys, then every aggregate's result; nothing once all are out. */
static int emit_groups(op_agg *g, aggtab *t, uint32_t *emitted, sql_batch **out)
{
    uint32_t total = g->nkeys ? t->ht.n : t->ngroups;
    if (*emitted >= total)
        return SL_OK;
    uint32_t n = total - *emitted > OUT_BATCH ? OUT_BATCH : total - *emitted;
    uint32_t *rows = sl_malloc(sizeof *rows * n);
    if (!rows)
        return SL_ENOMEM;
    for (uint32_t i = 0; i < n; i++)
        rows[i] = *emitted + i;
    int rc = emit_rows(g, t, rows, n, NULL, out);
    sl_free(rows);
    if (!rc)
        *emitted += n;
    return rc;
}

static int agg_next(sql_op *op, sql_batch **out)
{
    op_agg *g = (op_agg *)op;
    if (!g->built) {
        g->built = true;
        int rc = build(g);
        if (rc)
            return rc;
    }
    return emit_groups(g, &g->main, &g->emitted, out);
}

static void agg_close(sql_op *op)
{
    op_agg *g = (op_agg *)op;
    for (int i = 0; i < g->nparts; i++)
        tab_free(&g->part[i]);
    sl_free(g->part);
    tab_free(&g->main);
}

static const sql_op_vt g_agg = {NULL, agg_next, agg_close, NULL, NULL, NULL};

/* ---- tables fed by another driver (exec.h: sql_aggtab) -------------------- */

struct sql_aggtab {
    op_agg *g;
    aggtab t;
    uint32_t emitted;
    bool finished;
};

/* The table's failure into e (its own error, else the query's). */
static int aggtab_fail(sql_aggtab *a, int rc, sql_err *e)
{
    if (a->t.err.state[0])
        *e = a->t.err;
    else if (a->g->op.x->e->state[0])
        *e = *a->g->op.x->e;
    else
        sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "%s", sl_strerror(rc));
    return rc;
}

int sql_aggtab_new(sql_op *op, sql_aggtab **out, sql_err *e)
{
    *out = NULL;
    sql_aggtab *a = sl_calloc(1, sizeof *a);
    if (!a)
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    a->g = (op_agg *)op;
    int rc = tab_init(a->g, &a->t, -1);
    if (rc) {
        aggtab_fail(a, rc, e);
        sql_aggtab_free(a);
        return rc;
    }
    *out = a;
    return SL_OK;
}

int sql_aggtab_add(sql_aggtab *a, const sql_batch *b, sql_err *e)
{
    int rc = consume(a->g, &a->t, b);
    return rc ? aggtab_fail(a, rc, e) : SL_OK;
}

int sql_aggtab_add_ids(sql_aggtab *a, const sql_batch *b, uint32_t *ids, sql_err *e)
{
    int rc = consume_ids(a->g, &a->t, b, ids);
    return rc ? aggtab_fail(a, rc, e) : SL_OK;
}

int sql_aggtab_peek(sql_aggtab *a, const uint32_t *gids, int64_t n, sql_batch **out, sql_err *e)
{
    *out = NULL;
    aggtab *t = &a->t;
    if (a->finished || n > UINT32_MAX) /* after next, the table has ended */
        return aggtab_fail(a, SL_EINVAL, e);
    /* an aggregate with ORDER BY in the call: the groups' states made apart from
     * the table's (which get their rows at the end), in memory of their own */
    uint8_t *alt[64] = {0}, **altp = t->naggs <= 64 ? alt : sl_calloc((size_t)t->naggs, sizeof *altp);
    arena mem;
    arena_init(&mem, 4096, 0);
    int64_t mem_bytes = 0;
    int rc = altp ? SL_OK : SL_ENOMEM;
    for (int i = 0; !rc && i < t->naggs; i++) {
        aggstate *s = &t->a[i];
        if (!s->call->norder)
            continue;
        size_t sz = s->agg->state_size;
        if (!(altp[i] = sl_malloc(sz * (size_t)(n ? n : 1)))) {
            rc = SL_ENOMEM;
            break;
        }
        for (int64_t k = 0; k < n; k++)
            s->agg->init(altp[i] + (size_t)k * sz);
        sql_agg_ctx ax = {&t->err, &mem, &mem_bytes, s->call};
        rc = peek_ordered(t, s, &ax, gids, (uint32_t)n, altp[i]);
    }
    if (!rc)
        rc = emit_rows(a->g, t, gids, (uint32_t)n, altp, out);
    for (int i = 0; altp && i < t->naggs; i++) {
        const sql_agg *ag = t->a[i].agg;
        for (int64_t k = 0; altp[i] && ag->destroy && k < n; k++)
            ag->destroy(altp[i] + (size_t)k * ag->state_size);
        sl_free(altp[i]);
    }
    if (altp != alt)
        sl_free(altp);
    arena_destroy(&mem);
    return rc ? aggtab_fail(a, rc, e) : SL_OK;
}

int sql_aggtab_next(sql_aggtab *a, sql_batch **out, sql_err *e)
{
    *out = NULL;
    int rc = SL_OK;
    if (!a->finished) {
        a->finished = true;
        for (int i = 0; !rc && i < a->t.naggs; i++)
            if (a->t.a[i].call->norder)
                rc = feed_ordered(&a->t, &a->t.a[i]);
        if (!rc && a->g->nkeys == 0 && a->t.ngroups == 0)
            rc = grow_states(&a->t, 1);
    }
    if (!rc)
        rc = emit_groups(a->g, &a->t, &a->emitted, out);
    return rc ? aggtab_fail(a, rc, e) : SL_OK;
}

int64_t sql_aggtab_mem(const sql_aggtab *a)
{
    return tab_mem(&a->t);
}

bool sql_aggtab_can_combine(sql_op *op)
{
    return can_combine((op_agg *)op);
}

int sql_aggtab_combine(sql_aggtab *dst, sql_aggtab *src, sql_err *e)
{
    if (dst->finished || src->finished)
        return sql_err_set(e, SQLSTATE_INTERNAL, -1, "combining a table that has ended");
    int rc = combine_into(dst->g, &dst->t, &src->t);
    return rc ? aggtab_fail(dst, rc, e) : SL_OK;
}

void sql_aggtab_free(sql_aggtab *a)
{
    if (!a)
        return;
    tab_free(&a->t);
    sl_free(a);
}

/* ---- checkpoints: a table as bytes ----------------------------------------- */

/*
 * Layout (little-endian): u32 groups, then per group per key a value; then per
 * aggregate per group u32 length + the state's bytes (sql_agg save, or the state
 * as it is), followed, for an aggregate with DISTINCT, by u32 n and the n
 * (group, arguments) it has seen, and for one with ORDER BY inside the call
 * (whose states are fed at the end) by u32 n and its n kept rows (group, order
 * keys, arguments).  A value: a u8 (1: NULL) and, when not NULL, u32 length +
 * the value's text (the type's output function, read back by its input
 * function: exact for every type).
 */
const char *sql_aggtab_unsavable(sql_op *op)
{
    const sql_plan *p = op->p;
    for (int i = 0; i < p->agg.naggs; i++) {
        const sql_expr *c = p->agg.aggs[i];
        if (c->agg->destroy && !c->agg->save)
            return c->agg->name;
    }
    return NULL;
}

static int put_u32(dbuf *o, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    return dbuf_append(o, b, 4);
}

/* Rows [0, n) of ncols vectors (types) as values (the layout above). */
static int put_rows(dbuf *out, const sql_type *types, const col_vec *cols, int ncols, int64_t n)
{
    dbuf txt;
    dbuf_init(&txt, 1u << 30);
    int rc = SL_OK;
    for (int64_t r = 0; r < n && !rc; r++)
        for (int k = 0; k < ncols && !rc; k++) {
            bool null = sql_datum_get(types[k], &cols[k], r).null;
            dbuf_reset(&txt);
            if ((rc = dbuf_append_byte(out, null)) || null)
                continue;
            if (!(rc = sql_vec_text(types[k], &cols[k], r, &txt)) &&
                !(rc = put_u32(out, (uint32_t)txt.len)))
                rc = dbuf_append(out, txt.p, txt.len);
        }
    dbuf_free(&txt);
    return rc;
}

/* What an aggregate keeps beside its states: DISTINCT's (group, arguments) seen,
 * ORDER BY's rows not fed yet. */
static int save_kept(const aggstate *s, dbuf *out)
{
    int rc = SL_OK;
    if (s->has_distinct && !(rc = put_u32(out, s->distinct.n)))
        rc = put_rows(out, s->distinct.types, s->distinct.keys, s->distinct.nkeys,
                      s->distinct.n);
    if (!rc && s->call->norder && !(rc = put_u32(out, (uint32_t)s->ordered.nrows)))
        for (int b = 0; b < s->ordered.nb && !rc; b++)
            rc = put_rows(out, s->ord_types, s->ordered.b[b]->cols, s->ordered.ncols,
                          s->ordered.b[b]->n);
    return rc;
}

int sql_aggtab_save(sql_aggtab *a, dbuf *out)
{
    aggtab *t = &a->t;
    op_agg *g = a->g;
    uint32_t n = g->nkeys ? t->ht.n : t->ngroups;
    int rc = put_u32(out, n);
    if (!rc && g->nkeys)
        rc = put_rows(out, g->key_types, t->ht.keys, g->nkeys, n);
    for (int i = 0; i < t->naggs && !rc; i++) {
        const aggstate *s = &t->a[i];
        size_t sz = s->agg->state_size;
        for (uint32_t gi = 0; gi < n && !rc; gi++) {
            const uint8_t *st = s->states + (size_t)gi * sz;
            if (!s->agg->save) {
                if (!(rc = put_u32(out, (uint32_t)sz)))
                    rc = dbuf_append(out, st, sz);
                continue;
            }
            size_t at = out->len;
            if (!(rc = put_u32(out, 0)) && !(rc = s->agg->save(st, out))) {
                uint32_t len = (uint32_t)(out->len - at - 4);
                uint8_t *lp = out->p + at;
                lp[0] = (uint8_t)len, lp[1] = (uint8_t)(len >> 8), lp[2] = (uint8_t)(len >> 16),
                lp[3] = (uint8_t)(len >> 24);
            }
        }
        if (!rc)
            rc = save_kept(s, out);
    }
    return rc;
}

typedef struct rd {
    const uint8_t *p;
    size_t n;
} rd;

static bool get_bytes(rd *r, size_t n, const uint8_t **out)
{
    if (r->n < n)
        return false;
    *out = r->p;
    r->p += n;
    r->n -= n;
    return true;
}

static bool get_u32(rd *r, uint32_t *v)
{
    const uint8_t *b;
    if (!get_bytes(r, 4, &b))
        return false;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return true;
}

static int damaged(sql_err *e, const char *what)
{
    return sql_err_set(e, "XX001", -1, "checkpoint: aggregation state damaged (%s)", what);
}

/* n rows of ncols values (types) into a new batch *out (what: named when damaged). */
static int get_rows(aggtab *t, rd *r, const sql_type *types, int ncols, uint32_t n,
                    const char *what, sql_batch **out, sql_err *e)
{
    sql_batch *b;
    *out = NULL;
    if (sql_batch_new(ncols, types, &b))
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    int rc = SL_OK;
    for (uint32_t i = 0; i < n && !rc; i++) {
        arena_reset(&t->scratch);
        for (int k = 0; k < ncols && !rc; k++) {
            const uint8_t *nb, *tp;
            uint32_t len;
            sql_datum d = sql_datum_null();
            const char *state = NULL;
            if (!get_bytes(r, 1, &nb) || nb[0] > 1)
                rc = damaged(e, what);
            else if (!nb[0] && (!get_u32(r, &len) || !get_bytes(r, len, &tp)))
                rc = damaged(e, what);
            else if (!nb[0] && sql_datum_parse(types[k], (const char *)tp, len, &t->scratch, &d,
                                               &state))
                rc = damaged(e, what);
            if (!rc && sql_datum_append(types[k], &d, &b->cols[k]))
                rc = sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
        }
        b->n += !rc;
    }
    if (rc)
        sql_batch_free(b);
    else
        *out = b;
    return rc;
}

/* An aggregate's DISTINCT (group, arguments) and ORDER BY rows (save_kept) back,
 * for ng groups. */
static int load_kept(aggtab *t, aggstate *s, rd *r, uint32_t ng, sql_err *e)
{
    uint32_t n;
    sql_batch *b = NULL;
    int rc = SL_OK;
    if (s->has_distinct) {
        if (!get_u32(r, &n) || n > r->n)
            return damaged(e, "distinct values");
        rc = get_rows(t, r, s->distinct.types, s->distinct.nkeys, n, "distinct values", &b, e);
        uint32_t *ids = rc ? NULL : sl_malloc(sizeof *ids * (size_t)(n ? n : 1));
        sql_vec kv[5];
        for (int k = 0; !rc && k < s->distinct.nkeys && k < 5; k++)
            kv[k] = (sql_vec){b->cols[k], false};
        if (!rc && (!ids || (n && sql_ht_lookup(&s->distinct, kv, n, NULL, true, ids))))
            rc = sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
        for (uint32_t i = 0; !rc && i < n; i++)
            if (ids[i] != i || !col_vec_is_valid(&b->cols[0], i) ||
                col_vec_i64(&b->cols[0], i) < 0 || col_vec_i64(&b->cols[0], i) >= ng)
                rc = damaged(e, "distinct values");
        sl_free(ids);
        sql_batch_free(b);
        b = NULL;
    }
    if (!rc && s->call->norder) {
        if (!get_u32(r, &n) || n > r->n)
            return damaged(e, "ordered rows");
        rc = get_rows(t, r, s->ord_types, s->ordered.ncols, n, "ordered rows", &b, e);
        /* a group-less row (SQL_HT_NONE), which FILTER or DISTINCT let by: older tables kept them */
        for (uint32_t i = 0; !rc && i < n; i++)
            if (!col_vec_is_valid(&b->cols[0], i) ||
                ((col_vec_i64(&b->cols[0], i) < 0 || col_vec_i64(&b->cols[0], i) >= ng) &&
                 col_vec_i64(&b->cols[0], i) != SQL_HT_NONE))
                rc = damaged(e, "ordered rows");
        if (!rc && n) {
            if (sql_rows_add(&s->ordered, b))
                rc = sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
            b = NULL; /* (taken, or freed by sql_rows_add on failure) */
        }
        sql_batch_free(b);
    }
    return rc;
}

/* The keys of n groups into the (empty) table: ids 0 .. n-1 in order. */
static int load_keys(sql_aggtab *a, rd *r, uint32_t n, sql_err *e)
{
    aggtab *t = &a->t;
    op_agg *g = a->g;
    sql_batch *b;
    int rc = get_rows(t, r, g->key_types, g->nkeys, n, "key", &b, e);
    if (rc)
        return rc;
    sql_vec kv[64];
    uint32_t *ids = rc || g->nkeys > 64 ? NULL : sl_malloc(sizeof *ids * (size_t)(n ? n : 1));
    if (!rc && !ids)
        rc = g->nkeys > 64 ? damaged(e, "keys") : sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1,
                                                               "out of memory");
    for (int k = 0; !rc && k < g->nkeys; k++)
        kv[k] = (sql_vec){b->cols[k], false};
    if (!rc && n && sql_ht_lookup(&t->ht, kv, n, NULL, true, ids))
        rc = sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    for (uint32_t i = 0; !rc && i < n; i++)
        if (ids[i] != i)
            rc = damaged(e, "a key twice");
    sl_free(ids);
    sql_batch_free(b);
    return rc;
}

int sql_aggtab_load(sql_aggtab *a, const uint8_t *p, size_t n, sql_err *e)
{
    aggtab *t = &a->t;
    op_agg *g = a->g;
    rd r = {p, n};
    uint32_t ng;
    if (!get_u32(&r, &ng) || (!g->nkeys && ng > 1) || ng > r.n)
        return damaged(e, "groups");
    int rc = g->nkeys ? load_keys(a, &r, ng, e) : SL_OK;
    if (!rc && ng && grow_states(t, ng))
        rc = sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    for (int i = 0; i < t->naggs && !rc; i++) {
        aggstate *s = &t->a[i];
        size_t sz = s->agg->state_size;
        for (uint32_t gi = 0; gi < ng && !rc; gi++) {
            uint32_t len;
            const uint8_t *b;
            uint8_t *st = s->states + (size_t)gi * sz;
            if (!get_u32(&r, &len) || !get_bytes(&r, len, &b))
                rc = damaged(e, "state");
            else if (!s->agg->save && len != sz)
                rc = damaged(e, "state size");
            else if (!s->agg->save)
                memcpy(st, b, sz);
            else {
                sql_agg_ctx cx = agg_ctx(t, s);
                if ((rc = s->agg->load(&cx, st, b, len)))
                    *e = t->err;
            }
        }
        if (!rc)
            rc = load_kept(t, s, &r, ng, e);
    }
    if (!rc && r.n)
        rc = damaged(e, "trailing bytes");
    return rc;
}

sql_op *sql_op_agg_new(sql_exec *x, const sql_plan *p)
{
    op_agg *g = arena_zalloc(x->a, sizeof *g);
    if (!g)
        return NULL;
    g->op.vt = &g_agg;
    g->nkeys = p->agg.nkeys;
    g->keys = p->agg.keys;
    g->key_types = arena_alloc(x->a, sizeof *g->key_types * (size_t)(g->nkeys ? g->nkeys : 1));
    if (!g->key_types)
        return NULL;
    for (int k = 0; k < g->nkeys; k++)
        g->key_types[k] = p->agg.keys[k]->type;
    return &g->op;
}

/* ---- DISTINCT: first occurrences, streamed ------------------------------ */

static int distinct_next(sql_op *op, sql_batch **out)
{
    op_agg *g = (op_agg *)op;
    if (!g->built) {
        g->built = true;
        int rc = tab_init(g, &g->main, -1);
        if (rc)
            return rc;
    }
    for (;;) {
        sql_batch *in;
        int rc = sql_op_next(op->child, &in);
        if (rc || !in)
            return rc;
        int64_t n = in->n;
        sql_vec *kv = sl_calloc((size_t)(in->ncols ? in->ncols : 1), sizeof *kv);
        uint32_t *ids = sl_malloc(sizeof *ids * (size_t)(n ? n : 1));
        uint32_t *keep = sl_malloc(sizeof *keep * (size_t)(n ? n : 1));
        rc = kv && ids && keep ? SL_OK : SL_ENOMEM;
        for (int c = 0; !rc && c < in->ncols; c++)
            kv[c].v = in->cols[c];
        uint32_t before = g->main.ht.n;
        if (!rc)
            rc = sql_ht_lookup(&g->main.ht, kv, n, NULL, true, ids);
        int64_t m = 0;
        for (int64_t i = 0; !rc && i < n; i++)
            if (ids[i] >= before) {
                keep[m++] = (uint32_t)i;
                before = ids[i] + 1; /* later duplicates in this batch have smaller ids */
            }
        if (!rc)
            rc = account(g);
        if (!rc && m)
            rc = m == n ? (*out = in, in = NULL, SL_OK) : sql_batch_take(in, keep, m, out);
        sl_free(kv);
        sl_free(ids);
        sl_free(keep);
        sql_batch_free(in);
        if (rc || m)
            return rc;
    }
}

static const sql_op_vt g_distinct = {NULL, distinct_next, agg_close, NULL, NULL, NULL};

sql_op *sql_op_distinct_new(sql_exec *x, const sql_plan *p)
{
    op_agg *g = arena_zalloc(x->a, sizeof *g);
    if (!g)
        return NULL;
    g->op.vt = &g_distinct;
    g->distinct_node = true;
    g->nkeys = p->ncols;
    g->key_types = p->types;
    return &g->op;
}
