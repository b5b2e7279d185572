/*
 * optimize.c - rewriting the bound plan before it runs.
 *
 * The rewrites that matter for telemetry, in the order they run:
 *
 *   1. predicate pushdown: WHERE conjuncts move as low as they can: through
 *      projections of plain columns, into both sides of inner joins (the
 *      preserved side of outer joins), and into scans, where the workers
 *      evaluate them on each unit as it is read;
 *   2. scan ranges: a conjunct comparing a table's time column (or the end
 *      column of spans) with a constant or parameter narrows the time range
 *      the table is asked for, and `process_id = <id>` names the only process
 *      to read, so the lake prunes processes and partitions from metadata
 *      before opening any file (the conjunct stays as a filter: the lake's
 *      ranges select whole overlapping rows);
 *   3. equi-join keys: `l.a = r.b` conjuncts of ON (and of WHERE over a cross
 *      join) become hash join keys; the smaller estimated input becomes the
 *      build side of inner joins;
 *   4. IN (SELECT ...) without correlation becomes a semi join;
 *   5. top-N: ORDER BY ... LIMIT n keeps n rows instead of sorting all;
 *   6. column pruning: scans read only the columns something above uses (the
 *      lake then decodes nothing else).  Skipped in queries with correlated
 *      subqueries, whose outer references name columns by position.
 *
 * Constant folding already happened in the binder.  Join order stays as
 * written apart from the build side; docs/internals/sql.md says why.
 */
#include "sql/plan/optimize.h"

#include "sql/func/func.h"

#include <string.h>

typedef struct opt {
    arena *a;
    sql_ectx *cx;            /* parameters, for constants of ranges */
    sql_err *e;
    bool prune;
} opt;

static sql_plan *rewrite(opt *o, sql_plan *p);

/* ---- expressions ---- */

static sql_expr *new_expr(opt *o, sql_ekind k, sql_type t, int nargs)
{
    sql_expr *e = arena_zalloc(o->a, sizeof *e);
    if (!e || (nargs && !(e->args = arena_zalloc(o->a, sizeof(sql_expr *) * (size_t)nargs))))
        return NULL;
    e->kind = (uint8_t)k;
    e->type = t;
    e->loc = -1;
    e->nargs = nargs;
    return e;
}

/* A deep copy (subquery plans are shared, not copied). */
static sql_expr *copy_expr(opt *o, const sql_expr *s)
{
    if (!s)
        return NULL;
    sql_expr *e = arena_alloc(o->a, sizeof *e);
    if (!e)
        return NULL;
    *e = *s;
    if (s->nargs) {
        if (!(e->args = arena_alloc(o->a, sizeof(sql_expr *) * (size_t)s->nargs)))
            return NULL;
        for (int i = 0; i < s->nargs; i++)
            if (!(e->args[i] = copy_expr(o, s->args[i])))
                return NULL;
    }
    if (s->filter && !(e->filter = copy_expr(o, s->filter)))
        return NULL;
    if (s->norder) {
        if (!(e->order = arena_alloc(o->a, sizeof(sql_expr *) * (size_t)s->norder)))
            return NULL;
        for (int i = 0; i < s->norder; i++)
            if (!(e->order[i] = copy_expr(o, s->order[i])))
                return NULL;
    }
    if (s->kind == SE_WINDOW && s->win) {
        const sql_window *w = s->win;
        sql_window *nw = arena_alloc(o->a, sizeof *nw);
        if (!nw)
            return NULL;
        *nw = *w;
        nw->part = w->npart ? arena_alloc(o->a, sizeof(sql_expr *) * (size_t)w->npart) : NULL;
        nw->order = w->norder ? arena_alloc(o->a, sizeof(sql_sortkey) * (size_t)w->norder) : NULL;
        if ((w->npart && !nw->part) || (w->norder && !nw->order))
            return NULL;
        for (int i = 0; i < w->npart; i++)
            if (!(nw->part[i] = copy_expr(o, w->part[i])))
                return NULL;
        for (int i = 0; i < w->norder; i++) {
            nw->order[i] = w->order[i];
            if (!(nw->order[i].e = copy_expr(o, w->order[i].e)))
                return NULL;
        }
        e->win = nw;
    }
    return e;
}

typedef struct colinfo {
    int min, max;            /* columns referenced (min > max: none) */
    bool subquery, volatile_, outer, agg;
} colinfo;

static void info_walk(const sql_expr *e, colinfo *ci)
{
    if (!e)
        return;
    switch ((sql_ekind)e->kind) {
    case SE_COL:
        if (e->col < ci->min)
            ci->min = e->col;
        if (e->col > ci->max)
            ci->max = e->col;
        return;
    case SE_SUBQUERY: ci->subquery = true; break;
    case SE_OUTER: ci->outer = true; break;
    case SE_AGG:
    case SE_WINDOW: ci->agg = true; break;
    default: break;
    }
    if (e->volatile_)
        ci->volatile_ = true;
    for (int i = 0; i < e->nargs; i++)
        info_walk(e->args[i], ci);
    info_walk(e->filter, ci);
    for (int i = 0; i < e->norder; i++)
        info_walk(e->order[i], ci);
}

static colinfo info(const sql_expr *e)
{
    colinfo ci = {.min = 1 << 30, .max = -1};
    info_walk(e, &ci);
    return ci;
}

/* Conjuncts of e appended to list (AND flattened). */
static int conjuncts(const sql_expr *e, sql_expr **list, int n, int cap)
{
    if (e && e->kind == SE_AND) {
        for (int i = 0; i < e->nargs; i++)
            n = conjuncts(e->args[i], list, n, cap);
        return n;
    }
    if (e && n < cap)
        list[n++] = (sql_expr *)e;
    return n;
}

/* The conjunction of list (NULL when empty). */
static sql_expr *and_of(opt *o, sql_expr **list, int n)
{
    if (n == 0)
        return NULL;
    if (n == 1)
        return list[0];
    sql_expr *e = new_expr(o, SE_AND, sql_type_of(ST_BOOL), n);
    if (!e)
        return NULL;
    memcpy(e->args, list, sizeof *list * (size_t)n);
    return e;
}

static sql_expr *and2(opt *o, sql_expr *a, sql_expr *b)
{
    sql_expr *l[2] = {a, b};
    return !a ? b : !b ? a : and_of(o, l, 2);
}

typedef struct shift {
    int by;
    const int *map;          /* when set: col = map[col] */
} shift;

static void shift_fn(sql_expr *c, void *arg)
{
    const shift *s = arg;
    c->col = s->map ? s->map[c->col] : c->col + s->by;
}

static void shift_cols(sql_expr *e, int by)
{
    shift s = {by, NULL};
    sql_expr_walk_cols(e, shift_fn, &s);
}

static void map_cols(sql_expr *e, const int *map)
{
    shift s = {0, map};
    sql_expr_walk_cols(e, shift_fn, &s);
}

/* ---- scan ranges ---- */

static bool is_cmp(const sql_expr *e, char *op)
{
    if (e->kind != SE_FUNC || e->nargs != 2 || !e->fn)
        return false;
    const char *n = e->fn->name;
    if (!strcmp(n, "="))
        *op = '=';
    else if (!strcmp(n, "<"))
        *op = '<';
    else if (!strcmp(n, "<="))
        *op = 'l';
    else if (!strcmp(n, ">"))
        *op = '>';
    else if (!strcmp(n, ">="))
        *op = 'g';
    else
        return false;
    return true;
}

static bool input_free(const sql_expr *e)
{
    colinfo ci = info(e);
    return ci.max < 0 && !ci.subquery && !ci.volatile_ && !ci.outer && !ci.agg;
}

static char flip(char op)
{
    switch (op) {
    case '<': return '>';
    case 'l': return 'g';
    case '>': return '<';
    case 'g': return 'l';
    default: return op;
    }
}

/* Narrows the scan's range or id from one conjunct, if it is a comparison it can use. */
static void use_conjunct(opt *o, sql_plan *s, const sql_expr *c)
{
    char op;
    if (!is_cmp(c, &op))
        return;
    const sql_expr *col = c->args[0], *val = c->args[1];
    if (col->kind != SE_COL) {
        col = c->args[1];
        val = c->args[0];
        op = flip(op);
    }
    if (col->kind != SE_COL || !input_free(val))
        return;
    const sql_table *t = s->scan.table;
    int tc = s->scan.cols[col->col];
    bool is_time = tc == t->time_col, is_end = tc == t->end_col, is_id = tc == t->id_col;
    if (!is_time && !is_end && !is_id)
        return;
    sql_datum d;
    arena_reset(o->cx->f.scratch);
    sql_err err;
    sql_err_clear(&err);
    sql_err *saved = o->cx->f.err;
    o->cx->f.err = &err;
    int rc = sql_eval_const(o->cx, val, o->a, &d);
    o->cx->f.err = saved;
    if (rc || d.null)
        return;
    if (is_id) {
        if (op != '=' || (val->type.id != ST_UUID))
            return;
        char *id = arena_strndup(o->a, (const char *)d.s.p, d.s.n);
        if (id)
            s->scan.id_eq = id;
        return;
    }
    sql_tid vt = (sql_tid)val->type.id;
    if (vt != ST_TIMESTAMPTZ && vt != ST_TIMESTAMP)
        return;
    int64_t v = d.i;
    int64_t lo = INT64_MIN, hi = INT64_MAX; /* [lo, hi) the rows can overlap */
    switch (op) {
    case '=': lo = v; hi = v == INT64_MAX ? v : v + 1; break;
    case 'g': lo = v; break;
    case '>': lo = v == INT64_MAX ? v : v + 1; break;
    case 'l': hi = v == INT64_MAX ? v : v + 1; break;
    case '<': hi = v; break;
    }
    /* time >= x: rows begin at x or later, so they overlap [x, ...); end >= x
     * likewise (the lake keeps spans whose [begin, end] meets the range).
     * time < y: rows begin before y; end < y: they also begin before y. */
    if (is_time && s->scan.table->end_col >= 0 && lo > s->scan.key_lo)
        s->scan.key_lo = lo; /* begin >= x: no span that began earlier */
    if (lo > s->scan.begin_ns)
        s->scan.begin_ns = lo;
    if (hi < s->scan.end_ns)
        s->scan.end_ns = hi;
}

/* ---- predicate pushdown ---- */

#define MAXC 256

/* Puts conjunct c (over p's output) as low as it goes; returns the new p. */
static sql_plan *push(opt *o, sql_plan *p, sql_expr *c);

static sql_plan *mk_filter(opt *o, sql_plan *child, sql_expr *pred)
{
    sql_plan *f = arena_zalloc(o->a, sizeof *f);
    if (!f)
        return NULL;
    f->kind = SP_FILTER;
    f->ncols = child->ncols;
    f->types = child->types;
    f->names = child->names;
    f->child = child;
    f->filter.pred = pred;
    f->est_rows = child->est_rows / 3 + 1;
    return f;
}

static bool pushable(const sql_expr *c)
{
    colinfo ci = info(c);
    return !ci.subquery && !ci.volatile_ && !ci.agg;
}

static sql_plan *push(opt *o, sql_plan *p, sql_expr *c)
{
    colinfo ci = info(c);
    if (!pushable(c))
        return mk_filter(o, p, c);
    switch ((sql_pkind)p->kind) {
    case SP_SCAN:
        use_conjunct(o, p, c);
        p->scan.filter = and2(o, p->scan.filter, c);
        p->est_rows = p->est_rows / 3 + 1;
        return p;
    case SP_FILTER:
        p->child = push(o, p->child, c);
        return p->child ? p : NULL;
    case SP_PROJECT: {
        /* through a projection when every column used is a plain column below */
        for (int k = ci.min; k <= ci.max; k++)
            if (sql_expr_uses_col(c, k) && p->project.exprs[k]->kind != SE_COL)
                return mk_filter(o, p, c);
        sql_expr *d = copy_expr(o, c);
        if (!d)
            return NULL;
        int map[MAXC];
        if (p->ncols > MAXC)
            return mk_filter(o, p, c);
        for (int k = 0; k < p->ncols; k++)
            map[k] = p->project.exprs[k]->kind == SE_COL ? p->project.exprs[k]->col : -1;
        map_cols(d, map);
        p->child = push(o, p->child, d);
        return p->child ? p : NULL;
    }
    case SP_JOIN: {
        int lw = p->child->ncols;
        bool left_only = ci.max < lw, right_only = ci.min >= lw && ci.max >= 0;
        uint8_t t = p->join.type;
        bool inner = t == SJ_INNER || t == SJ_CROSS;
        if (ci.max < 0 && (inner || t == SJ_SEMI || t == SJ_ANTI)) {
            /* no columns at all (a parameter test): filter the left input */
            left_only = true;
        }
        if (left_only && (inner || t == SJ_LEFT || t == SJ_SEMI || t == SJ_ANTI)) {
            p->child = push(o, p->child, c);
            return p->child ? p : NULL;
        }
        if (right_only && (inner || t == SJ_RIGHT)) {
            sql_expr *d = copy_expr(o, c);
            if (!d)
                return NULL;
            shift_cols(d, -lw);
            p->right = push(o, p->right, d);
            return p->right ? p : NULL;
        }
        if (inner && !ci.outer) {
            p->join.type = SJ_INNER;
            p->join.cond = and2(o, p->join.cond, c);
            return p;
        }
        return mk_filter(o, p, c);
    }
    default:
        return mk_filter(o, p, c);
    }
}

/* ---- joins ---- */

static bool is_true_const(const sql_expr *e)
{
    return e && e->kind == SE_CONST && e->type.id == ST_BOOL && !e->c.null && e->c.b;
}

/* Moves `l = r` conjuncts of the condition into keys; pushes one-sided ON conjuncts. */
static sql_plan *join_keys(opt *o, sql_plan *p)
{
    sql_expr *list[MAXC], *rest[MAXC];
    int n = conjuncts(p->join.cond, list, 0, MAXC), nr = 0;
    int lw = p->child->ncols;
    sql_expr **lk = arena_zalloc(o->a, sizeof *lk * (size_t)(n + p->join.nkeys + 1));
    sql_expr **rk = arena_zalloc(o->a, sizeof *rk * (size_t)(n + p->join.nkeys + 1));
    if (!lk || !rk)
        return NULL;
    int nk = p->join.nkeys;
    if (nk) {
        memcpy(lk, p->join.lkeys, sizeof *lk * (size_t)nk);
        memcpy(rk, p->join.rkeys, sizeof *rk * (size_t)nk);
    }
    uint8_t t = p->join.type;
    for (int i = 0; i < n; i++) {
        sql_expr *c = list[i];
        if (is_true_const(c))
            continue;
        char op;
        colinfo ci = info(c);
        if (is_cmp(c, &op) && op == '=' && !ci.subquery && !ci.volatile_ &&
            sql_type_eq(c->args[0]->type, c->args[1]->type)) {
            colinfo a = info(c->args[0]), b = info(c->args[1]);
            sql_expr *l = NULL, *r = NULL;
            if (a.max >= 0 && a.max < lw && b.max >= 0 && b.min >= lw) {
                l = c->args[0];
                r = c->args[1];
            } else if (b.max >= 0 && b.max < lw && a.max >= 0 && a.min >= lw) {
                l = c->args[1];
                r = c->args[0];
            }
            if (l && !a.outer && !b.outer) {
                sql_expr *rc = copy_expr(o, r);
                if (!rc)
                    return NULL;
                shift_cols(rc, -lw);
                lk[nk] = l;
                rk[nk] = rc;
                nk++;
                continue;
            }
        }
        /* one-sided ON conjuncts: the right side of inner/left joins and the left side of
         * inner/right joins can be filtered before joining */
        bool pushed = false;
        if (pushable(c) && !ci.outer && ci.max >= 0) {
            if (ci.min >= lw && (t == SJ_INNER || t == SJ_LEFT || t == SJ_SEMI || t == SJ_ANTI)) {
                sql_expr *d = copy_expr(o, c);
                if (!d)
                    return NULL;
                shift_cols(d, -lw);
                if (!(p->right = push(o, p->right, d)))
                    return NULL;
                pushed = true;
            } else if (ci.max < lw && (t == SJ_INNER || t == SJ_RIGHT)) {
                if (!(p->child = push(o, p->child, c)))
                    return NULL;
                pushed = true;
            }
        }
        if (!pushed)
            rest[nr++] = c;
    }
    if (nk && t == SJ_CROSS)
        p->join.type = SJ_INNER;
    p->join.nkeys = nk;
    p->join.lkeys = lk;
    p->join.rkeys = rk;
    p->join.cond = and_of(o, rest, nr);
    if (nk) {
        double l = p->child->est_rows, r = p->right->est_rows;
        p->est_rows = l > r ? l : r;
    } else {
        p->est_rows = p->child->est_rows * (p->right->est_rows > 1 ? p->right->est_rows : 1);
    }
    return p;
}

/*
 * Inner hash joins build on the right: when the left input looks smaller,
 * the inputs trade places and a projection restores the column order.
 */
static sql_plan *build_side(opt *o, sql_plan *p)
{
    if (p->join.type != SJ_INNER || !p->join.nkeys ||
        p->child->est_rows * 2 >= p->right->est_rows)
        return p;
    int lw = p->child->ncols, rw = p->right->ncols, n = lw + rw;
    if (n > MAXC)
        return p;
    sql_plan *j = arena_alloc(o->a, sizeof *j);
    sql_plan *pr = arena_zalloc(o->a, sizeof *pr);
    sql_type *types = arena_alloc(o->a, sizeof *types * (size_t)n);
    const char **names = arena_alloc(o->a, sizeof *names * (size_t)n);
    sql_expr **ex = arena_alloc(o->a, sizeof *ex * (size_t)n);
    if (!j || !pr || !types || !names || !ex)
        return NULL;
    *j = *p;
    j->child = p->right;
    j->right = p->child;
    j->join.lkeys = p->join.rkeys;
    j->join.rkeys = p->join.lkeys;
    memcpy(types, p->types + lw, sizeof *types * (size_t)rw);
    memcpy(types + rw, p->types, sizeof *types * (size_t)lw);
    memcpy(names, p->names + lw, sizeof *names * (size_t)rw);
    memcpy(names + rw, p->names, sizeof *names * (size_t)lw);
    j->types = types;
    j->names = names;
    int map[MAXC];
    for (int k = 0; k < lw; k++)
        map[k] = k + rw;
    for (int k = 0; k < rw; k++)
        map[lw + k] = k;
    if (p->join.cond) {
        if (!(j->join.cond = copy_expr(o, p->join.cond)))
            return NULL;
        map_cols(j->join.cond, map);
    }
    pr->kind = SP_PROJECT;
    pr->ncols = n;
    pr->types = p->types;
    pr->names = p->names;
    pr->child = j;
    pr->est_rows = p->est_rows;
    pr->project.exprs = ex;
    for (int k = 0; k < n; k++) {
        if (!(ex[k] = new_expr(o, SE_COL, p->types[k], 0)))
            return NULL;
        ex[k]->col = map[k];
    }
    return pr;
}

/* ---- IN (SELECT ...) as a semi join ---- */

/* x IN (SELECT y ...) (uncorrelated, one column, = comparison) in a filter conjunct. */
static sql_plan *semi_join(opt *o, sql_plan *child, sql_expr *c)
{
    if (c->kind != SE_SUBQUERY || c->subkind != SQ_ANY || c->negated || c->correlated ||
        !c->fn || strcmp(c->fn->name, "=") || c->nargs != 1 || !c->sub || c->sub->ncols != 1)
        return NULL;
    colinfo li = info(c->args[0]);
    if (li.subquery || li.outer || li.volatile_ || li.max < 0 ||
        !sql_type_eq(c->args[0]->type, c->sub->types[0]))
        return NULL;
    sql_plan *j = arena_zalloc(o->a, sizeof *j);
    sql_expr **lk = arena_alloc(o->a, sizeof *lk), **rk = arena_alloc(o->a, sizeof *rk);
    sql_expr *rc = new_expr(o, SE_COL, c->sub->types[0], 0);
    if (!j || !lk || !rk || !rc)
        return NULL;
    rc->col = 0;
    lk[0] = c->args[0];
    rk[0] = rc;
    j->kind = SP_JOIN;
    j->ncols = child->ncols;
    j->types = child->types;
    j->names = child->names;
    j->child = child;
    j->right = c->sub;
    j->join.type = SJ_SEMI;
    j->join.nkeys = 1;
    j->join.lkeys = lk;
    j->join.rkeys = rk;
    j->est_rows = child->est_rows / 2 + 1;
    return j;
}

/* ---- the rewrite ---- */

static sql_plan *rewrite_filter(opt *o, sql_plan *p)
{
    sql_expr *list[MAXC];
    int n = conjuncts(p->filter.pred, list, 0, MAXC);
    sql_plan *c = p->child;
    sql_expr *keep[MAXC];
    int nk = 0;
    for (int i = 0; i < n; i++) {
        if (is_true_const(list[i]))
            continue;
        sql_plan *sj = semi_join(o, c, list[i]);
        if (sj) {
            if (!(sj->right = rewrite(o, sj->right)))
                return NULL;
            c = sj;
            continue;
        }
        if (!pushable(list[i])) {
            keep[nk++] = list[i];
            continue;
        }
        if (!(c = push(o, c, list[i])))
            return NULL;
    }
    if (nk) {
        sql_expr *pred = and_of(o, keep, nk);
        if (!pred || !(c = mk_filter(o, c, pred)))
            return NULL;
    }
    return c;
}

static int64_t const_int(opt *o, const sql_expr *e, bool *ok)
{
    *ok = false;
    if (!e)
        return -1;
    if (!input_free(e))
        return -1;
    sql_datum d;
    sql_err err;
    sql_err_clear(&err);
    sql_err *saved = o->cx->f.err;
    o->cx->f.err = &err;
    int rc = sql_eval_const(o->cx, e, o->a, &d);
    o->cx->f.err = saved;
    if (rc || d.null || d.i < 0)
        return -1;
    *ok = true;
    return d.i;
}

/* Expressions inside the node (subquery plans get optimized on their own). */
static int rewrite_subplans(opt *o, sql_expr *e)
{
    if (!e)
        return SL_OK;
    if (e->kind == SE_SUBQUERY && e->sub) {
        opt so = *o;
        so.prune = false; /* a subquery's outer references name columns by position */
        if (!(e->sub = rewrite(&so, e->sub)))
            return SL_ENOMEM;
    }
    for (int i = 0; i < e->nargs; i++)
        if (rewrite_subplans(o, e->args[i]))
            return SL_ENOMEM;
    return rewrite_subplans(o, e->filter);
}

static int node_subplans(opt *o, sql_plan *p)
{
    int rc = SL_OK;
    switch ((sql_pkind)p->kind) {
    case SP_SCAN: rc = rewrite_subplans(o, p->scan.filter); break;
    case SP_FILTER: rc = rewrite_subplans(o, p->filter.pred); break;
    case SP_PROJECT:
        for (int i = 0; i < p->ncols && !rc; i++)
            rc = rewrite_subplans(o, p->project.exprs[i]);
        break;
    case SP_AGG:
        for (int i = 0; i < p->agg.nkeys && !rc; i++)
            rc = rewrite_subplans(o, p->agg.keys[i]);
        for (int i = 0; i < p->agg.naggs && !rc; i++)
            rc = rewrite_subplans(o, p->agg.aggs[i]);
        break;
    case SP_JOIN: rc = rewrite_subplans(o, p->join.cond); break;
    case SP_VALUES:
        for (int r = 0; r < p->values.nrows && !rc; r++)
            for (int c = 0; c < p->ncols && !rc; c++)
                rc = rewrite_subplans(o, p->values.rows[r][c]);
        break;
    default: break;
    }
    return rc;
}

static sql_plan *rewrite(opt *o, sql_plan *p)
{
    if (!p)
        return NULL;
    if (node_subplans(o, p))
        return NULL;
    switch ((sql_pkind)p->kind) {
    case SP_FILTER: {
        sql_plan *c = rewrite_filter(o, p);
        if (!c)
            return NULL;
        /* the pushed conjuncts now sit in the subtree: rewrite it */
        if (c->kind == SP_FILTER && c != p) {
            if (!(c->child = rewrite(o, c->child)))
                return NULL;
            return c;
        }
        return c == p ? p : rewrite(o, c);
    }
    case SP_JOIN:
        if (!(p = join_keys(o, p)))
            return NULL;
        if (!(p->child = rewrite(o, p->child)) || !(p->right = rewrite(o, p->right)))
            return NULL;
        return build_side(o, p);
    case SP_LIMIT: {
        if (!(p->child = rewrite(o, p->child)))
            return NULL;
        bool ok1, ok2 = true;
        int64_t n = const_int(o, p->limit.count, &ok1);
        int64_t off = p->limit.offset ? const_int(o, p->limit.offset, &ok2) : 0;
        sql_plan *s = p->child;
        /* LIMIT over ORDER BY (possibly under the projection dropping hidden keys; not
         * under a ProjectSet, whose rows are not its input's) */
        if (s->kind == SP_PROJECT && !s->project.srf && s->child->kind == SP_SORT)
            s = s->child;
        if (ok1 && ok2 && s->kind == SP_SORT && n + off >= 0 && n + off < (int64_t)1 << 40)
            s->sort.limit = n + off;
        return p;
    }
    case SP_CTE_REF:
        if (p->cte_ref.cte && !p->cte_ref.cte->refs_done) {
            p->cte_ref.cte->refs_done = true;
            opt so = *o;
            so.prune = false;
            if (!(p->cte_ref.cte->plan = rewrite(&so, p->cte_ref.cte->plan)))
                return NULL;
            if (p->cte_ref.cte->recursive_part &&
                !(p->cte_ref.cte->recursive_part = rewrite(&so, p->cte_ref.cte->recursive_part)))
                return NULL;
        }
        return p;
    default:
        if (p->child && p->kind != SP_CTE_REF && !(p->child = rewrite(o, p->child)))
            return NULL;
        if (p->right && !(p->right = rewrite(o, p->right)))
            return NULL;
        return p;
    }
}

/* ---- column pruning ---- */

typedef struct need {
    bool *m;                 /* m[c]: column c of the node's output is used above */
} need;

static void need_fn(sql_expr *c, void *arg)
{
    bool *m = arg;
    m[c->col] = true;
}

static void need_expr(sql_expr *e, bool *m)
{
    sql_expr_walk_cols(e, need_fn, m);
}

/*
 * Prunes p given which of its output columns are needed; returns the map from
 * its old output columns to the new ones (-1: dropped) in *map (NULL: unchanged).
 */
static int prune(opt *o, sql_plan *p, const bool *needed, int **map);

static int prune_all(opt *o, sql_plan *c)
{
    bool *m = arena_alloc(o->a, (size_t)c->ncols + 1);
    if (!m)
        return SL_ENOMEM;
    memset(m, 1, (size_t)c->ncols + 1);
    int *map;
    int rc = prune(o, c, m, &map);
    return rc;
}

static int remap_node_exprs(sql_expr **es, int n, const int *map, opt *o)
{
    for (int i = 0; i < n; i++) {
        if (!es[i])
            continue;
        if (!(es[i] = copy_expr(o, es[i])))
            return SL_ENOMEM;
        map_cols(es[i], map);
    }
    return SL_OK;
}

static int prune(opt *o, sql_plan *p, const bool *needed, int **map)
{
    *map = NULL;
    int n = p->ncols;
    switch ((sql_pkind)p->kind) {
    case SP_SCAN: {
        bool *m = arena_alloc(o->a, (size_t)n + 1);
        int *mp = arena_alloc(o->a, sizeof *mp * ((size_t)n + 1));
        if (!m || !mp)
            return SL_ENOMEM;
        memcpy(m, needed, (size_t)n);
        if (p->scan.filter)
            need_expr(p->scan.filter, m);
        int k = 0;
        for (int c = 0; c < n; c++)
            if (m[c])
                k++;
        if (k == n)
            return SL_OK;
        int *cols = arena_alloc(o->a, sizeof *cols * ((size_t)k + 1));
        sql_type *types = arena_alloc(o->a, sizeof *types * ((size_t)k + 1));
        const char **names = arena_alloc(o->a, sizeof *names * ((size_t)k + 1));
        if (!cols || !types || !names)
            return SL_ENOMEM;
        k = 0;
        for (int c = 0; c < n; c++) {
            mp[c] = m[c] ? k : -1;
            if (m[c]) {
                cols[k] = p->scan.cols[c];
                types[k] = p->types[c];
                names[k] = p->names[c];
                k++;
            }
        }
        if (p->scan.filter) {
            if (!(p->scan.filter = copy_expr(o, p->scan.filter)))
                return SL_ENOMEM;
            map_cols(p->scan.filter, mp);
        }
        p->scan.cols = cols;
        p->types = types;
        p->names = names;
        p->ncols = k;
        *map = mp;
        return SL_OK;
    }
    case SP_FILTER: {
        bool *m = arena_alloc(o->a, (size_t)n + 1);
        if (!m)
            return SL_ENOMEM;
        memcpy(m, needed, (size_t)n);
        need_expr(p->filter.pred, m);
        int *cm;
        int rc = prune(o, p->child, m, &cm);
        if (rc || !cm)
            return rc;
        if (!(p->filter.pred = copy_expr(o, p->filter.pred)))
            return SL_ENOMEM;
        map_cols(p->filter.pred, cm);
        p->ncols = p->child->ncols;
        p->types = p->child->types;
        p->names = p->child->names;
        *map = cm;
        return SL_OK;
    }
    case SP_PROJECT: {
        int cn = p->child->ncols;
        bool *m = arena_zalloc(o->a, (size_t)cn + 1);
        if (!m)
            return SL_ENOMEM;
        for (int i = 0; i < n; i++)
            need_expr(p->project.exprs[i], m);
        int *cm;
        int rc = prune(o, p->child, m, &cm);
        if (rc || !cm)
            return rc;
        return remap_node_exprs(p->project.exprs, n, cm, o);
    }
    case SP_AGG: {
        int cn = p->child->ncols;
        bool *m = arena_zalloc(o->a, (size_t)cn + 1);
        if (!m)
            return SL_ENOMEM;
        for (int i = 0; i < p->agg.nkeys; i++)
            need_expr(p->agg.keys[i], m);
        for (int i = 0; i < p->agg.naggs; i++)
            need_expr(p->agg.aggs[i], m);
        int *cm;
        int rc = prune(o, p->child, m, &cm);
        if (rc || !cm)
            return rc;
        if ((rc = remap_node_exprs(p->agg.keys, p->agg.nkeys, cm, o)))
            return rc;
        return remap_node_exprs(p->agg.aggs, p->agg.naggs, cm, o);
    }
    case SP_JOIN: {
        int lw = p->child->ncols, rw = p->right->ncols;
        bool semi = p->join.type == SJ_SEMI || p->join.type == SJ_ANTI;
        bool *lm = arena_zalloc(o->a, (size_t)lw + 1), *rm = arena_zalloc(o->a, (size_t)rw + 1);
        bool *all = arena_zalloc(o->a, (size_t)(lw + rw) + 1);
        if (!lm || !rm || !all)
            return SL_ENOMEM;
        for (int c = 0; c < n; c++)
            all[c] = needed[c];
        if (p->join.cond)
            need_expr(p->join.cond, all);
        for (int c = 0; c < lw; c++)
            lm[c] = all[c];
        for (int c = 0; c < rw; c++)
            rm[c] = !semi && all[lw + c];
        for (int k = 0; k < p->join.nkeys; k++) {
            need_expr(p->join.lkeys[k], lm);
            need_expr(p->join.rkeys[k], rm);
        }
        if (semi && p->join.cond)
            for (int c = 0; c < rw; c++)
                rm[c] |= all[lw + c];
        int *lmap, *rmap;
        int rc = prune(o, p->child, lm, &lmap);
        if (!rc)
            rc = prune(o, p->right, rm, &rmap);
        if (rc || (!lmap && !rmap))
            return rc;
        int nlw = p->child->ncols, nrw = p->right->ncols;
        int *jm = arena_alloc(o->a, sizeof *jm * ((size_t)(lw + rw) + 1));
        if (!jm)
            return SL_ENOMEM;
        for (int c = 0; c < lw; c++)
            jm[c] = lmap ? lmap[c] : c;
        for (int c = 0; c < rw; c++) {
            int r = rmap ? rmap[c] : c;
            jm[lw + c] = r < 0 ? -1 : nlw + r;
        }
        if (lmap && (rc = remap_node_exprs(p->join.lkeys, p->join.nkeys, lmap, o)))
            return rc;
        if (rmap && (rc = remap_node_exprs(p->join.rkeys, p->join.nkeys, rmap, o)))
            return rc;
        if (p->join.cond) {
            if (!(p->join.cond = copy_expr(o, p->join.cond)))
                return SL_ENOMEM;
            map_cols(p->join.cond, jm);
        }
        int nn = semi ? nlw : nlw + nrw;
        sql_type *types = arena_alloc(o->a, sizeof *types * ((size_t)nn + 1));
        const char **names = arena_alloc(o->a, sizeof *names * ((size_t)nn + 1));
        if (!types || !names)
            return SL_ENOMEM;
        memcpy(types, p->child->types, sizeof *types * (size_t)nlw);
        memcpy(names, p->child->names, sizeof *names * (size_t)nlw);
        if (!semi) {
            memcpy(types + nlw, p->right->types, sizeof *types * (size_t)nrw);
            memcpy(names + nlw, p->right->names, sizeof *names * (size_t)nrw);
        }
        p->types = types;
        p->names = names;
        p->ncols = nn;
        *map = jm;
        return SL_OK;
    }
    case SP_SORT:
    case SP_LIMIT:
    case SP_WINDOW: {
        /* output = the input's columns (then the window functions): what is needed
         * above, plus what the node itself reads, and the rest is dropped below */
        int cn = p->child->ncols;
        bool *m = arena_zalloc(o->a, (size_t)cn + 1);
        if (!m)
            return SL_ENOMEM;
        for (int c = 0; c < cn; c++)
            m[c] = needed[c];
        if (p->kind == SP_SORT)
            for (int k = 0; k < p->sort.nkeys; k++)
                need_expr(p->sort.keys[k].e, m);
        if (p->kind == SP_WINDOW)
            for (int k = 0; k < p->window.nfuncs; k++)
                need_expr(p->window.funcs[k], m);
        if (p->kind == SP_LIMIT && (info(p->limit.count).max >= 0 || info(p->limit.offset).max >= 0))
            memset(m, 1, (size_t)cn);
        int *cm;
        int rc = prune(o, p->child, m, &cm);
        if (rc || !cm)
            return rc;
        int ncn = p->child->ncols, extra = n - cn;
        int *mp = arena_alloc(o->a, sizeof *mp * ((size_t)n + 1));
        sql_type *types = arena_alloc(o->a, sizeof *types * ((size_t)(ncn + extra) + 1));
        const char **names = arena_alloc(o->a, sizeof *names * ((size_t)(ncn + extra) + 1));
        if (!mp || !types || !names)
            return SL_ENOMEM;
        for (int c = 0; c < cn; c++)
            mp[c] = cm[c];
        for (int k = 0; k < extra; k++)
            mp[cn + k] = ncn + k;
        memcpy(types, p->child->types, sizeof *types * (size_t)ncn);
        memcpy(names, p->child->names, sizeof *names * (size_t)ncn);
        for (int k = 0; k < extra; k++) {
            types[ncn + k] = p->types[cn + k];
            names[ncn + k] = p->names[cn + k];
        }
        if (p->kind == SP_SORT) {
            sql_sortkey *keys = arena_alloc(o->a, sizeof *keys * ((size_t)p->sort.nkeys + 1));
            if (!keys)
                return SL_ENOMEM;
            for (int k = 0; k < p->sort.nkeys; k++) {
                keys[k] = p->sort.keys[k];
                if (!(keys[k].e = copy_expr(o, keys[k].e)))
                    return SL_ENOMEM;
                map_cols(keys[k].e, cm);
            }
            p->sort.keys = keys;
        }
        if (p->kind == SP_WINDOW &&
            (rc = remap_node_exprs(p->window.funcs, p->window.nfuncs, cm, o)))
            return rc;
        p->types = types;
        p->names = names;
        p->ncols = ncn + extra;
        *map = mp;
        return SL_OK;
    }
    case SP_DISTINCT:
    case SP_SETOP:
        /* these keep every column of their input (outputs and keys by position) */
        if (p->child && prune_all(o, p->child))
            return SL_ENOMEM;
        if (p->right && prune_all(o, p->right))
            return SL_ENOMEM;
        return SL_OK;
    case SP_CTE_REF:
    case SP_CTE:
    case SP_VALUES:
    case SP_RESULT:
        return SL_OK;
    }
    return SL_OK;
}

/* ---- entry ---- */

static bool has_correlated(const sql_expr *e)
{
    if (!e)
        return false;
    if (e->kind == SE_SUBQUERY && e->correlated)
        return true;
    if (e->kind == SE_OUTER)
        return true;
    for (int i = 0; i < e->nargs; i++)
        if (has_correlated(e->args[i]))
            return true;
    return has_correlated(e->filter);
}

static bool plan_correlated(const sql_plan *p)
{
    if (!p)
        return false;
    switch ((sql_pkind)p->kind) {
    case SP_SCAN:
        if (has_correlated(p->scan.filter))
            return true;
        break;
    case SP_FILTER:
        if (has_correlated(p->filter.pred))
            return true;
        break;
    case SP_PROJECT:
        for (int i = 0; i < p->ncols; i++)
            if (has_correlated(p->project.exprs[i]))
                return true;
        break;
    case SP_AGG:
        for (int i = 0; i < p->agg.nkeys; i++)
            if (has_correlated(p->agg.keys[i]))
                return true;
        for (int i = 0; i < p->agg.naggs; i++)
            if (has_correlated(p->agg.aggs[i]))
                return true;
        break;
    case SP_JOIN:
        if (has_correlated(p->join.cond))
            return true;
        break;
    case SP_VALUES:
        for (int r = 0; r < p->values.nrows; r++)
            for (int c = 0; c < p->ncols; c++)
                if (has_correlated(p->values.rows[r][c]))
                    return true;
        break;
    case SP_CTE_REF:
        return true; /* CTE plans are shared: leave their columns alone */
    default: break;
    }
    return plan_correlated(p->child) || plan_correlated(p->right);
}

/* A projection of plain columns straight over a scan (after pruning, usually a
 * reordering) becomes the scan's own column order: one operator less, and the
 * operators above (a top-N) see the scan itself. */
static sql_plan *absorb_one(opt *o, sql_plan *p)
{
    if (p->kind != SP_PROJECT || p->child->kind != SP_SCAN || p->ncols < 1 || p->ncols > MAXC)
        return p;
    sql_plan *sc = p->child;
    int map[MAXC];
    for (int k = 0; k < sc->ncols && k < MAXC; k++)
        map[k] = -1;
    if (sc->ncols > MAXC)
        return p;
    for (int i = 0; i < p->ncols; i++) {
        const sql_expr *x = p->project.exprs[i];
        if (x->kind != SE_COL || x->col < 0 || x->col >= sc->ncols)
            return p;
        if (map[x->col] < 0)
            map[x->col] = i;
    }
    if (sc->scan.filter)
        for (int k = 0; k < sc->ncols; k++)
            if (map[k] < 0 && sql_expr_uses_col(sc->scan.filter, k))
                return p;
    int *cols = arena_alloc(o->a, sizeof *cols * (size_t)p->ncols);
    if (!cols)
        return NULL;
    for (int i = 0; i < p->ncols; i++)
        cols[i] = sc->scan.cols[p->project.exprs[i]->col];
    if (sc->scan.filter)
        map_cols(sc->scan.filter, map);
    sc->scan.cols = cols;
    sc->ncols = p->ncols;
    sc->types = p->types;
    sc->names = p->names;
    return sc;
}

static int absorb(opt *o, sql_plan *p)
{
    if (!p || p->kind == SP_CTE_REF)
        return SL_OK;
    if (p->child && p->kind != SP_SCAN) {
        if (!(p->child = absorb_one(o, p->child)) || absorb(o, p->child))
            return SL_ENOMEM;
    }
    if (p->right) {
        if (!(p->right = absorb_one(o, p->right)) || absorb(o, p->right))
            return SL_ENOMEM;
    }
    return SL_OK;
}

int sql_optimize(arena *a, sql_ectx *cx, sql_plan **p, sql_err *e)
{
    opt o = {a, cx, e, true};
    o.prune = !plan_correlated(*p);
    sql_plan *r = rewrite(&o, *p);
    if (!r)
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    if (o.prune) {
        bool *m = arena_alloc(a, (size_t)r->ncols + 1);
        if (!m)
            return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
        memset(m, 1, (size_t)r->ncols + 1);
        int *map;
        if (prune(&o, r, m, &map))
            return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
        /* the root's columns are the result's: a scan at the root keeps them all */
        if (!(r = absorb_one(&o, r)) || absorb(&o, r))
            return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    }
    *p = r;
    return SL_OK;
}
