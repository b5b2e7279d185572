/*
 * bind_agg.c - aggregates, GROUP BY, HAVING and window functions.
 *
 * Aggregate and window calls are bound where they appear (their arguments
 * over the FROM row) and collected per query level.  Planning then puts an
 * SP_AGG node over the FROM/WHERE plan and rewrites every expression above
 * it: a subexpression equal to a GROUP BY key reads that key's column, an
 * aggregate call reads its result column, and any other column reference is
 * PostgreSQL's error 42803.  Window functions come after aggregation (their
 * arguments may use aggregates) as SP_WINDOW nodes, one per call.
 */
#include "sql/plan/bind_int.h"

#include <string.h>

/* PostgreSQL's frame option bits (nodes/parsenodes.h), as libpg_query reports them. */
#define FO_NONDEFAULT 0x00001
#define FO_RANGE 0x00002
#define FO_ROWS 0x00004
#define FO_GROUPS 0x00008
#define FO_START_UNBOUNDED_PRECEDING 0x00020
#define FO_END_UNBOUNDED_FOLLOWING 0x00100
#define FO_START_CURRENT_ROW 0x00200
#define FO_END_CURRENT_ROW 0x00400
#define FO_START_OFFSET_PRECEDING 0x00800
#define FO_END_OFFSET_PRECEDING 0x01000
#define FO_START_OFFSET_FOLLOWING 0x02000
#define FO_END_OFFSET_FOLLOWING 0x04000
#define FO_EXCLUDE 0x08000 | 0x10000 | 0x20000

bool expr_equal(const sql_expr *a, const sql_expr *b)
{
    if (a == b)
        return true;
    if (!a || !b || a->kind != b->kind || a->type.id != b->type.id || a->nargs != b->nargs ||
        a->negated != b->negated || a->test != b->test || a->fn != b->fn || a->agg != b->agg ||
        a->agg_distinct != b->agg_distinct || a->agg_star != b->agg_star)
        return false;
    switch ((sql_ekind)a->kind) {
    case SE_CONST:
        if (a->c.null || b->c.null)
            return a->c.null == b->c.null;
        return sql_datum_cmp(a->type, &a->c, &b->c) == 0;
    case SE_COL:
    case SE_PARAM:
        return a->col == b->col;
    case SE_OUTER:
        return a->col == b->col && a->level == b->level;
    case SE_SUBQUERY:
    case SE_WINDOW:
        return false; /* never shared */
    case SE_CAST:
        if (a->type.mod != b->type.mod)
            return false;
        break;
    default:
        break;
    }
    if (a->kind == SE_AGG && (!expr_equal(a->filter, b->filter) || a->norder != b->norder))
        return false;
    for (int i = 0; i < a->norder; i++)
        if (!expr_equal(a->order[i], b->order[i]) || a->order_desc[i] != b->order_desc[i])
            return false;
    for (int i = 0; i < a->nargs; i++)
        if (!expr_equal(a->args[i], b->args[i]))
            return false;
    return true;
}

bool has_agg(const sql_expr *e)
{
    if (!e)
        return false;
    if (e->kind == SE_AGG)
        return true;
    for (int i = 0; i < e->nargs; i++)
        if (has_agg(e->args[i]))
            return true;
    return false;
}

bool has_window(const sql_expr *e)
{
    if (!e)
        return false;
    if (e->kind == SE_WINDOW)
        return true;
    for (int i = 0; i < e->nargs; i++)
        if (has_window(e->args[i]))
            return true;
    return false;
}

static int grow(binder *b, sql_expr ***arr, int *cap, int n)
{
    if (n < *cap)
        return 0;
    int nc = *cap ? *cap * 2 : 8;
    sql_expr **na = arena_alloc(b->a, sizeof *na * (size_t)nc);
    if (!na)
        return -1;
    if (*arr)
        memcpy(na, *arr, sizeof *na * (size_t)*cap);
    *arr = na;
    *cap = nc;
    return 0;
}

/* Binds ORDER BY items of an aggregate or a window. */
static int bind_sort_items(binder *b, bind_scope *sc, PgQuery__Node **items, size_t n,
                           sql_expr **out, uint8_t *desc, bool *nulls_first)
{
    for (size_t i = 0; i < n; i++) {
        const PgQuery__SortBy *s = items[i]->sort_by;
        if (!(out[i] = bind_expr(b, sc, s->node)))
            return -1;
        bool d = s->sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_DESC;
        if (desc)
            desc[i] = d;
        if (nulls_first)
            nulls_first[i] = s->sortby_nulls == PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_FIRST ||
                             (s->sortby_nulls != PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_LAST && d);
        if (out[i]->type.id == ST_UNKNOWN &&
            !(out[i] = coerce(b, out[i], sql_type_of(ST_TEXT), 'i', NULL)))
            return -1;
    }
    return 0;
}

sql_expr *bind_agg_call(binder *b, bind_scope *sc, const PgQuery__FuncCall *f, const char *name)
{
    agg_collect *ac = b->agg;
    if (!ac || !ac->allowed) {
        bind_fail(b, SQLSTATE_GROUPING, f->location, ac ? "aggregate functions are not allowed here"
                  : "aggregate functions are not allowed in this context");
        return NULL;
    }
    if (!sql_is_agg_name(name)) {
        bind_fail(b, SQLSTATE_UNDEFINED_FUNCTION, f->location, "%s is not an aggregate function", name);
        return NULL;
    }
    /* arguments: no nested aggregates */
    b->agg = NULL;
    int nargs = (int)f->n_args + (f->agg_within_group ? (int)f->n_agg_order : 0);
    sql_expr *e = mk_expr(b, SE_AGG, sql_type_of(ST_INT8), f->location, nargs);
    int rc = e ? 0 : -1;
    for (size_t i = 0; !rc && i < f->n_args; i++)
        if (!(e->args[i] = bind_expr(b, sc, f->args[i])))
            rc = -1;
    if (!rc && f->agg_within_group) {
        /* percentile_cont(0.5) WITHIN GROUP (ORDER BY x): args (0.5, x) */
        rc = bind_sort_items(b, sc, f->agg_order, f->n_agg_order, e->args + f->n_args, NULL, NULL);
    } else if (!rc && f->n_agg_order) {
        e->norder = (int)f->n_agg_order;
        e->order = arena_zalloc(b->a, sizeof *e->order * f->n_agg_order);
        e->order_desc = arena_zalloc(b->a, f->n_agg_order);
        rc = e->order && e->order_desc ? bind_sort_items(b, sc, f->agg_order, f->n_agg_order,
                                                         e->order, e->order_desc, NULL) : -1;
    }
    if (!rc && f->agg_filter && !(e->filter = bind_cond(b, sc, f->agg_filter, "FILTER")))
        rc = -1;
    b->agg = ac;
    if (rc)
        return NULL;
    if (has_agg(e->filter)) {
        bind_fail(b, SQLSTATE_GROUPING, f->location, "aggregate function calls cannot be nested");
        return NULL;
    }
    for (int i = 0; i < nargs; i++)
        if (has_agg(e->args[i])) {
            bind_fail(b, SQLSTATE_GROUPING, f->location, "aggregate function calls cannot be nested");
            return NULL;
        }
    e->agg_star = f->agg_star;
    e->agg_distinct = f->agg_distinct;
    e->name = name;
    if (f->agg_star && strcmp(name, "count")) {
        bind_fail(b, SQLSTATE_SYNTAX, f->location, "%s(*) is not allowed; only count(*)", name);
        return NULL;
    }
    if (!(e->agg = resolve_agg(b, name, e->args, nargs, f->location)))
        return NULL;
    sql_type ats[2] = {nargs > 0 ? e->args[0]->type : sql_type_of(ST_NULL),
                       nargs > 1 ? e->args[1]->type : sql_type_of(ST_NULL)};
    e->type = e->agg->ret_type ? e->agg->ret_type(ats, nargs) : sql_type_of((sql_tid)e->agg->ret);
    if (e->type.id == ST_NULL || e->type.id == ST_UNKNOWN)
        e->type = sql_type_of(ST_TEXT);
    /* identical calls share one result column */
    for (int i = 0; i < ac->naggs; i++)
        if (expr_equal(ac->aggs[i], e)) {
            e->col = i;
            return e;
        }
    if (grow(b, &ac->aggs, &ac->cap, ac->naggs))
        return NULL;
    e->col = ac->naggs;
    ac->aggs[ac->naggs++] = e;
    return e;
}

/* ---- windows ------------------------------------------------------------ */

static const PgQuery__WindowDef *named_window(const PgQuery__SelectStmt *s, const char *name)
{
    for (size_t i = 0; s && i < s->n_window_clause; i++) {
        const PgQuery__WindowDef *w = s->window_clause[i]->window_def;
        if (pstr(w->name) && !strcmp(w->name, name))
            return w;
    }
    return NULL;
}

static int frame_offset(binder *b, bind_scope *sc, const PgQuery__Node *n, int64_t *out)
{
    if (bind_int_const(b, sc, n, out))
        return -1;
    if (*out < 0) {
        bind_fail(b, "22013", -1, "frame starting offset must not be negative");
        return -1;
    }
    return 0;
}

static int bind_frame(binder *b, bind_scope *sc, const PgQuery__WindowDef *w, sql_window *win)
{
    int fo = w->frame_options;
    win->start_kind = 0;
    win->end_kind = 2;
    win->frame_rows = 0;
    if (!(fo & FO_NONDEFAULT))
        return 0;
    win->explicit_frame = true;
    if (fo & FO_GROUPS) {
        bind_fail(b, SQLSTATE_FEATURE, w->location, "GROUPS frames are not supported");
        return -1;
    }
    if (fo & (FO_EXCLUDE)) {
        bind_fail(b, SQLSTATE_FEATURE, w->location, "frame EXCLUDE is not supported");
        return -1;
    }
    win->frame_rows = (fo & FO_ROWS) != 0;
    if (fo & FO_START_UNBOUNDED_PRECEDING)
        win->start_kind = 0;
    else if (fo & FO_START_CURRENT_ROW)
        win->start_kind = 2;
    else if (fo & FO_START_OFFSET_PRECEDING)
        win->start_kind = 1;
    else if (fo & FO_START_OFFSET_FOLLOWING)
        win->start_kind = 3;
    if (fo & FO_END_UNBOUNDED_FOLLOWING)
        win->end_kind = 4;
    else if (fo & FO_END_CURRENT_ROW)
        win->end_kind = 2;
    else if (fo & FO_END_OFFSET_PRECEDING)
        win->end_kind = 1;
    else if (fo & FO_END_OFFSET_FOLLOWING)
        win->end_kind = 3;
    else
        win->end_kind = 2;
    if (!win->frame_rows && ((win->start_kind & 1) || (win->end_kind & 1)) &&
        (win->start_kind == 1 || win->start_kind == 3 || win->end_kind == 1 || win->end_kind == 3)) {
        bind_fail(b, SQLSTATE_FEATURE, w->location, "RANGE frames with offsets are not supported; "
                  "use ROWS");
        return -1;
    }
    if ((win->start_kind == 1 || win->start_kind == 3) && frame_offset(b, sc, w->start_offset, &win->start_off))
        return -1;
    if ((win->end_kind == 1 || win->end_kind == 3) && frame_offset(b, sc, w->end_offset, &win->end_off))
        return -1;
    return 0;
}

sql_expr *bind_window_call(binder *b, bind_scope *sc, const PgQuery__FuncCall *f,
                           const char *name)
{
    agg_collect *ac = b->agg;
    if (!ac || !ac->win_allowed) {
        bind_fail(b, "42P20", f->location, "window functions are not allowed here");
        return NULL;
    }
    const PgQuery__WindowDef *w = f->over;
    const PgQuery__WindowDef *base = pstr(w->refname) ? named_window(ac->stmt, w->refname)
                                   : pstr(w->name) && !w->n_partition_clause && !w->n_order_clause
                                       ? named_window(ac->stmt, w->name) : NULL;
    if ((pstr(w->refname) || (pstr(w->name) && !w->n_partition_clause && !w->n_order_clause &&
                        !(w->frame_options & FO_NONDEFAULT))) && !base) {
        bind_fail(b, "42704", f->location, "window \"%s\" does not exist",
                  pstr(w->refname) ? w->refname : w->name);
        return NULL;
    }
    const PgQuery__WindowDef *part_def = base && !w->n_partition_clause ? base : w;
    const PgQuery__WindowDef *order_def = base && !w->n_order_clause ? base : w;
    const PgQuery__WindowDef *frame_def = (w->frame_options & FO_NONDEFAULT) || !base ? w : base;
    sql_window *win = arena_zalloc(b->a, sizeof *win);
    if (!win)
        return NULL;
    /* the window's expressions and the call's arguments: no window calls inside */
    bool saved = ac->win_allowed;
    ac->win_allowed = false;
    int rc = 0;
    win->npart = (int)part_def->n_partition_clause;
    win->part = arena_zalloc(b->a, sizeof *win->part * (size_t)(win->npart + 1));
    for (int i = 0; !rc && i < win->npart; i++)
        if (!(win->part[i] = bind_expr(b, sc, part_def->partition_clause[i])))
            rc = -1;
    win->norder = (int)order_def->n_order_clause;
    win->order = arena_zalloc(b->a, sizeof *win->order * (size_t)(win->norder + 1));
    sql_expr **oe = arena_zalloc(b->a, sizeof *oe * (size_t)(win->norder + 1));
    uint8_t *od = arena_zalloc(b->a, (size_t)win->norder + 1);
    bool *nf = arena_zalloc(b->a, sizeof *nf * (size_t)(win->norder + 1));
    if (!rc && (!win->order || !oe || !od || !nf ||
                bind_sort_items(b, sc, order_def->order_clause, order_def->n_order_clause, oe, od, nf)))
        rc = -1;
    for (int i = 0; !rc && i < win->norder; i++)
        win->order[i] = (sql_sortkey){oe[i], od[i], nf[i]};
    if (!rc)
        rc = bind_frame(b, sc, frame_def, win);
    int nargs = (int)f->n_args;
    sql_expr *e = rc ? NULL : mk_expr(b, SE_WINDOW, sql_type_of(ST_INT8), f->location, nargs);
    for (int i = 0; e && i < nargs; i++)
        if (!(e->args[i] = bind_expr(b, sc, f->args[i])))
            e = NULL;
    ac->win_allowed = saved;
    if (!e)
        return NULL;
    e->win = win;
    e->name = name;
    e->agg_star = f->agg_star;
    if (f->agg_filter) {
        bool sa = ac->allowed;
        ac->allowed = false;
        e->filter = bind_cond(b, sc, f->agg_filter, "FILTER");
        ac->allowed = sa;
        if (!e->filter)
            return NULL;
    }
    if (sql_is_agg_name(name)) {
        if (f->agg_distinct || f->n_agg_order) {
            bind_fail(b, SQLSTATE_FEATURE, f->location, "DISTINCT and ORDER BY are not supported in "
                      "window aggregates");
            return NULL;
        }
        if (!(e->agg = resolve_agg(b, name, e->args, nargs, f->location)))
            return NULL;
        sql_type ats[2] = {nargs > 0 ? e->args[0]->type : sql_type_of(ST_NULL),
                           nargs > 1 ? e->args[1]->type : sql_type_of(ST_NULL)};
        e->type = e->agg->ret_type ? e->agg->ret_type(ats, nargs) : sql_type_of((sql_tid)e->agg->ret);
    } else if (!strcmp(name, "row_number") || !strcmp(name, "rank") || !strcmp(name, "dense_rank")) {
        if (nargs) {
            bind_fail(b, SQLSTATE_UNDEFINED_FUNCTION, f->location, "function %s takes no arguments", name);
            return NULL;
        }
        e->type = sql_type_of(ST_INT8);
    } else if (!strcmp(name, "percent_rank") || !strcmp(name, "cume_dist")) {
        e->type = sql_type_of(ST_FLOAT8);
    } else if (!strcmp(name, "ntile")) {
        if (nargs != 1 || !(e->args[0] = coerce(b, e->args[0], sql_type_of(ST_INT4), 'i', "argument")))
            return NULL;
        e->type = sql_type_of(ST_INT4);
    } else if (!strcmp(name, "lag") || !strcmp(name, "lead") || !strcmp(name, "first_value") ||
               !strcmp(name, "last_value") || !strcmp(name, "nth_value")) {
        if (nargs < 1 || nargs > 3) {
            bind_fail(b, SQLSTATE_UNDEFINED_FUNCTION, f->location, "function %s has 1 to 3 arguments", name);
            return NULL;
        }
        if (e->args[0]->type.id == ST_UNKNOWN &&
            !(e->args[0] = coerce(b, e->args[0], sql_type_of(ST_TEXT), 'i', NULL)))
            return NULL;
        e->type = e->args[0]->type;
        if (nargs > 1 && !(e->args[1] = coerce(b, e->args[1], sql_type_of(ST_INT4), 'i', "offset")))
            return NULL;
        if (nargs > 2 && !(e->args[2] = coerce(b, e->args[2], e->type, 'i', "default")))
            return NULL;
    } else {
        bind_fail(b, SQLSTATE_UNDEFINED_FUNCTION, f->location, "function %s is not a window function", name);
        return NULL;
    }
    if (grow(b, &ac->wins, &ac->wcap, ac->nwins))
        return NULL;
    e->col = ac->nwins;
    ac->wins[ac->nwins++] = e;
    return e;
}

/* ---- rewriting above the aggregation ------------------------------------ */

typedef struct rw {
    binder *b;
    sql_expr **keys;
    int nkeys;
} rw;

static sql_expr *rewrite(rw *r, sql_expr *e)
{
    if (!e)
        return NULL;
    for (int k = 0; k < r->nkeys; k++)
        if (expr_equal(r->keys[k], e))
            return mk_col(r->b, k, e->type, e->loc);
    if (e->kind == SE_AGG)
        return mk_col(r->b, r->nkeys + e->col, e->type, e->loc);
    if (e->kind == SE_COL) {
        bind_fail(r->b, SQLSTATE_GROUPING, e->loc, "column must appear in the GROUP BY clause or "
                  "be used in an aggregate function");
        return NULL;
    }
    if (e->kind == SE_SUBQUERY && e->correlated) {
        bind_fail(r->b, SQLSTATE_FEATURE, e->loc, "correlated subqueries are not supported "
                  "above GROUP BY; move the condition to WHERE");
        return NULL;
    }
    sql_expr *c = arena_alloc(r->b->a, sizeof *c);
    if (!c)
        return NULL;
    *c = *e;
    if (e->nargs && !(c->args = arena_alloc(r->b->a, sizeof *c->args * (size_t)e->nargs)))
        return NULL;
    for (int i = 0; i < e->nargs; i++)
        if (!(c->args[i] = rewrite(r, e->args[i])))
            return NULL;
    if (e->kind == SE_WINDOW) {
        const sql_window *w = e->win;
        sql_window *nw = arena_alloc(r->b->a, sizeof *nw);
        if (!nw)
            return NULL;
        *nw = *w;
        nw->part = arena_alloc(r->b->a, sizeof *nw->part * (size_t)(w->npart + 1));
        nw->order = arena_alloc(r->b->a, sizeof *nw->order * (size_t)(w->norder + 1));
        if (!nw->part || !nw->order)
            return NULL;
        for (int i = 0; i < w->npart; i++)
            if (!(nw->part[i] = rewrite(r, w->part[i])))
                return NULL;
        for (int i = 0; i < w->norder; i++) {
            nw->order[i] = w->order[i];
            if (!(nw->order[i].e = rewrite(r, w->order[i].e)))
                return NULL;
        }
        c->win = nw;
        if (e->filter && !(c->filter = rewrite(r, e->filter)))
            return NULL;
    }
    return c;
}

sql_plan *plan_aggregate(binder *b, sql_plan *in, bind_scope *sc, sql_expr **groups, int ngroups,
                         sql_expr ***exprs, int nexprs)
{
    (void)sc;
    agg_collect *ac = b->agg;
    int naggs = ac ? ac->naggs : 0;
    sql_plan *p = mk_plan(b, SP_AGG, ngroups + naggs);
    if (!p)
        return NULL;
    p->child = in;
    p->agg.nkeys = ngroups;
    p->agg.keys = groups;
    p->agg.naggs = naggs;
    p->agg.aggs = ac ? ac->aggs : NULL;
    for (int k = 0; k < ngroups; k++) {
        p->types[k] = groups[k]->type;
        p->names[k] = groups[k]->kind == SE_COL && groups[k]->col < in->ncols
                          ? in->names[groups[k]->col] : "?column?";
    }
    for (int i = 0; i < naggs; i++) {
        p->types[ngroups + i] = ac->aggs[i]->type;
        p->names[ngroups + i] = ac->aggs[i]->name;
    }
    p->est_rows = ngroups ? in->est_rows / 10 + 1 : 1;
    rw r = {b, groups, ngroups};
    for (int i = 0; i < nexprs; i++)
        if (exprs[i] && *exprs[i] && !(*exprs[i] = rewrite(&r, *exprs[i])))
            return NULL;
    return p;
}

static sql_expr *win_rewrite(binder *b, sql_expr *e, int base)
{
    if (!e)
        return NULL;
    if (e->kind == SE_WINDOW)
        return mk_col(b, base + e->col, e->type, e->loc);
    sql_expr *c = arena_alloc(b->a, sizeof *c);
    if (!c)
        return NULL;
    *c = *e;
    if (e->nargs && !(c->args = arena_alloc(b->a, sizeof *c->args * (size_t)e->nargs)))
        return NULL;
    for (int i = 0; i < e->nargs; i++)
        if (!(c->args[i] = win_rewrite(b, e->args[i], base)))
            return NULL;
    return c;
}

sql_plan *plan_windows(binder *b, sql_plan *in, sql_expr ***exprs, int nexprs)
{
    agg_collect *ac = b->agg;
    if (!ac || !ac->nwins)
        return in;
    int base = in->ncols;
    /* one node per window call, each appending one column */
    sql_plan *cur = in;
    for (int k = 0; k < ac->nwins; k++) {
        sql_plan *p = mk_plan(b, SP_WINDOW, cur->ncols + 1);
        if (!p)
            return NULL;
        p->child = cur;
        memcpy(p->types, cur->types, sizeof *p->types * (size_t)cur->ncols);
        memcpy(p->names, cur->names, sizeof *p->names * (size_t)cur->ncols);
        p->types[cur->ncols] = ac->wins[k]->type;
        p->names[cur->ncols] = ac->wins[k]->name;
        p->window.nfuncs = 1;
        p->window.funcs = &ac->wins[k];
        p->est_rows = cur->est_rows;
        cur = p;
    }
    for (int i = 0; i < nexprs; i++)
        if (exprs[i] && *exprs[i] && !(*exprs[i] = win_rewrite(b, *exprs[i], base)))
            return NULL;
    return cur;
}
