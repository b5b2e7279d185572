/*
 * bind_expr.c - PostgreSQL expressions to bound expressions (expr.h).
 *
 * One function per parse node kind; each resolves names against the scope,
 * decides types (coerce.c) and folds what is constant.  Syntax PostgreSQL
 * rewrites into functions is rewritten the same way here: BETWEEN into two
 * comparisons, IN (list) into SE_IN, LIKE into ~~, EXTRACT into extract(),
 * POSITION into strpos(), x = ANY(array) into "= any".
 */
#include "sql/plan/bind_int.h"

#include "base/alloc.h"
#include "sql/catalog/tfuncs.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int bind_fail(binder *b, const char *state, int loc, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sql_err_set(b->e, state, loc, "%s", msg);
}

sql_expr *mk_expr(binder *b, sql_ekind k, sql_type t, int loc, int nargs)
{
    sql_expr *e = arena_zalloc(b->a, sizeof *e);
    if (!e || (nargs && !(e->args = arena_zalloc(b->a, sizeof(sql_expr *) * (size_t)nargs)))) {
        bind_fail(b, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
        return NULL;
    }
    e->kind = (uint8_t)k;
    e->type = t;
    e->loc = loc;
    e->nargs = nargs;
    return e;
}

sql_expr *mk_const(binder *b, sql_type t, const sql_datum *d, int loc)
{
    sql_expr *e = mk_expr(b, SE_CONST, t, loc, 0);
    if (e)
        e->c = *d;
    return e;
}

sql_expr *mk_col(binder *b, int col, sql_type t, int loc)
{
    sql_expr *e = mk_expr(b, SE_COL, t, loc, 0);
    if (e)
        e->col = col;
    return e;
}

sql_expr *mk_bool_const(binder *b, bool v)
{
    sql_datum d;
    memset(&d, 0, sizeof d);
    d.b = v;
    return mk_const(b, sql_type_of(ST_BOOL), &d, -1);
}

const char *node_str(const PgQuery__Node *n)
{
    return n && n->node_case == PG_QUERY__NODE__NODE_STRING && n->string ? n->string->sval : NULL;
}

sql_expr *fold(binder *b, sql_expr *e)
{
    if (!e)
        return NULL;
    arena_reset(&b->scratch);
    sql_datum d;
    b->ex.f.err = b->e;
    if (sql_eval_const(&b->ex, e, b->a, &d)) {
        if (b->e && b->e->position == 0 && e->loc >= 0)
            b->e->position = e->loc + 1;
        return NULL;
    }
    sql_expr *c = mk_const(b, e->type, &d, e->loc);
    return c;
}

/* ---- constants ---------------------------------------------------------- */

static sql_expr *bind_const(binder *b, const PgQuery__AConst *c)
{
    sql_datum d;
    memset(&d, 0, sizeof d);
    if (c->isnull) {
        d.null = true;
        return mk_const(b, sql_type_of(ST_NULL), &d, c->location);
    }
    switch (c->val_case) {
    case PG_QUERY__A__CONST__VAL_IVAL:
        d.i = c->ival ? c->ival->ival : 0;
        return mk_const(b, sql_type_of(ST_INT4), &d, c->location);
    case PG_QUERY__A__CONST__VAL_FVAL: {
        /* an integer too large for int4 is int8 when it fits, else numeric */
        const char *s = c->fval->fval;
        const char *state;
        size_t n = strlen(s);
        if (!strpbrk(s, ".eE") &&
            sql_datum_parse(sql_type_of(ST_INT8), s, n, b->a, &d, &state) == 0)
            return mk_const(b, sql_type_of(ST_INT8), &d, c->location);
        if (dec_parse(s, n, &d.d)) {
            bind_fail(b, SQLSTATE_OUT_OF_RANGE, c->location, "value overflows numeric format");
            return NULL;
        }
        return mk_const(b, sql_type_of(ST_NUMERIC), &d, c->location);
    }
    case PG_QUERY__A__CONST__VAL_BOOLVAL:
        d.b = c->boolval && c->boolval->boolval;
        return mk_const(b, sql_type_of(ST_BOOL), &d, c->location);
    case PG_QUERY__A__CONST__VAL_SVAL: {
        const char *s = c->sval ? c->sval->sval : "";
        d.s.p = (const uint8_t *)s;
        d.s.n = (uint32_t)strlen(s);
        return mk_const(b, sql_type_of(ST_UNKNOWN), &d, c->location);
    }
    default:
        bind_fail(b, SQLSTATE_FEATURE, c->location, "bit-string constants are not supported");
        return NULL;
    }
}

/* ---- column references -------------------------------------------------- */

static sql_expr *bind_colref(binder *b, bind_scope *sc, const PgQuery__ColumnRef *cr)
{
    const char *parts[3] = {NULL, NULL, NULL};
    int np = 0;
    for (size_t i = 0; i < cr->n_fields && np < 3; i++) {
        const PgQuery__Node *f = cr->fields[i];
        if (f->node_case == PG_QUERY__NODE__NODE_A_STAR) {
            bind_fail(b, SQLSTATE_SYNTAX, cr->location, "a * is not allowed here");
            return NULL;
        }
        parts[np++] = node_str(f);
    }
    if (cr->n_fields > 3 || np == 0) {
        bind_fail(b, SQLSTATE_SYNTAX, cr->location, "improper qualified name (too many dotted names)");
        return NULL;
    }
    const char *qual = np >= 2 ? parts[np - 2] : NULL, *name = parts[np - 1];
    int level = 0;
    for (bind_scope *s = sc; s; level += !s->transparent, s = s->parent) {
        sql_type t;
        int c = s->transparent ? -1 : scope_find(b, s, qual, name, cr->location, &t);
        if (c == -2)
            return NULL;
        if (c < 0)
            continue;
        if (level == 0)
            return mk_col(b, c, t, cr->location);
        /* a column of an enclosing query: a correlated reference */
        s->outer_used = true;
        sql_expr *e = mk_expr(b, SE_OUTER, t, cr->location, 0);
        if (e) {
            e->col = c;
            e->level = level;
        }
        return e;
    }
    if (qual) {
        /* a known table with no such column, or an unknown table */
        for (bind_scope *s = sc; s; s = s->parent)
            for (int i = 0; i < s->nrtes; i++)
                if (s->rtes[i].alias && !strcmp(s->rtes[i].alias, qual)) {
                    bind_fail(b, SQLSTATE_UNDEFINED_COLUMN, cr->location,
                              "column %s.%s does not exist", qual, name);
                    return NULL;
                }
        bind_fail(b, SQLSTATE_UNDEFINED_TABLE, cr->location,
                  "missing FROM-clause entry for table \"%s\"", qual);
        return NULL;
    }
    bind_fail(b, SQLSTATE_UNDEFINED_COLUMN, cr->location, "column \"%s\" does not exist", name);
    /* PostgreSQL's hint: a column of the same name in another case, or a near one */
    for (bind_scope *s = sc; s; s = s->parent)
        for (int i = 0; i < s->nrtes; i++)
            for (int k = 0; k < s->rtes[i].ncols; k++) {
                const char *cn = s->rtes[i].names[k];
                size_t ln = strlen(cn), lq = strlen(name);
                int diff = 0;
                for (size_t j = 0; j < ln && j < lq; j++)
                    diff += cn[j] != name[j];
                diff += (int)(ln > lq ? ln - lq : lq - ln);
                if (diff <= 2 && !b->e->hint[0])
                    sql_err_hint(b->e, "Perhaps you meant to reference the column \"%s.%s\".",
                                 s->rtes[i].alias ? s->rtes[i].alias : "?", cn);
            }
    return NULL;
}

/* ---- operators ---------------------------------------------------------- */

static const char *op_name(const PgQuery__AExpr *x)
{
    const char *name = NULL;
    for (size_t i = 0; i < x->n_name; i++) /* pg_catalog.+ and + alike */
        if (node_str(x->name[i]))
            name = node_str(x->name[i]);
    return name ? name : "?";
}

/* l op r (or op r when l is NULL) */
static sql_expr *bind_op(binder *b, const char *op, sql_expr *l, sql_expr *r, int loc)
{
    if (!r || (!l && false))
        return NULL;
    if (!l) {
        if (!strcmp(op, "+"))
            return r; /* unary plus */
        sql_expr *args[1] = {r};
        return resolve_func(b, op, args, 1, loc, true);
    }
    /* anything || text: the other side is cast to text (anynonarray || text) */
    if (!strcmp(op, "||")) {
        bool ls = sql_type_is_text(l->type) || l->type.id == ST_NULL,
             rs = sql_type_is_text(r->type) || r->type.id == ST_NULL;
        if (ls && !rs && r->type.id != ST_TEXTARR)
            r = coerce(b, r, sql_type_of(ST_TEXT), 'e', NULL);
        else if (rs && !ls && l->type.id != ST_TEXTARR)
            l = coerce(b, l, sql_type_of(ST_TEXT), 'e', NULL);
        if (!l || !r)
            return NULL;
    }
    sql_expr *args[2] = {l, r};
    return resolve_func(b, op, args, 2, loc, true);
}

static sql_expr *mk_bool(binder *b, sql_ekind k, sql_expr *x, sql_expr *y, int loc)
{
    if (!x || !y)
        return NULL;
    sql_expr *e = mk_expr(b, k, sql_type_of(ST_BOOL), loc, 2);
    if (!e)
        return NULL;
    e->args[0] = x;
    e->args[1] = y;
    return e;
}

/* The "=" function for two types after coercion to their common type. */
static bool eq_fn(binder *b, sql_expr **l, sql_expr **r, const char *op, int loc,
                  const struct sql_func **fn)
{
    sql_expr *args[2] = {*l, *r};
    sql_expr *e = resolve_func(b, op, args, 2, loc, true);
    if (!e)
        return false;
    if (e->kind == SE_CONST) {
        /* both sides constant: find the function again without folding */
        int n;
        const sql_func *fs = sql_func_candidates(op, &n);
        for (int k = 0; k < n; k++)
            if (fs[k].nargs == 2 && fs[k].args[0] == args[0]->type.id && fs[k].args[1] == args[1]->type.id) {
                *fn = &fs[k];
                break;
            }
    } else {
        *fn = e->fn;
        *l = e->args[0];
        *r = e->args[1];
    }
    return *fn != NULL;
}

static sql_expr *bind_in_list(binder *b, bind_scope *sc, const PgQuery__AExpr *x, bool neg)
{
    sql_expr *l = bind_expr(b, sc, x->lexpr);
    if (!l)
        return NULL;
    const PgQuery__List *list = x->rexpr && x->rexpr->node_case == PG_QUERY__NODE__NODE_LIST ? x->rexpr->list : NULL;
    int n = list ? (int)list->n_items : 0;
    sql_expr *e = mk_expr(b, SE_IN, sql_type_of(ST_BOOL), x->location, n + 1);
    if (!e)
        return NULL;
    e->negated = neg;
    e->args[0] = l;
    for (int i = 0; i < n; i++)
        if (!(e->args[i + 1] = bind_expr(b, sc, list->items[i])))
            return NULL;
    /* one type for the left side and every item */
    sql_type t;
    if (!common_type(b, e->args, n + 1, "IN", &t))
        return NULL;
    for (int i = 0; i <= n; i++) {
        if (e->args[i]->kind == SE_PARAM && e->args[i]->type.id == ST_UNKNOWN)
            param_infer(b, e->args[i]->col, t);
        if (!(e->args[i] = coerce(b, e->args[i], t, 'i', "IN item")))
            return NULL;
    }
    sql_expr *l2 = e->args[0], *r2 = e->args[1];
    if (!eq_fn(b, &l2, &r2, "=", x->location, &e->fn))
        return NULL;
    return sql_expr_is_const(e) ? fold(b, e) : e;
}

static sql_expr *bind_between(binder *b, bind_scope *sc, const PgQuery__AExpr *x, bool neg, bool sym)
{
    const PgQuery__List *list = x->rexpr && x->rexpr->node_case == PG_QUERY__NODE__NODE_LIST ? x->rexpr->list : NULL;
    if (!list || list->n_items != 2) {
        bind_fail(b, SQLSTATE_SYNTAX, x->location, "malformed BETWEEN");
        return NULL;
    }
    sql_expr *v = bind_expr(b, sc, x->lexpr);
    sql_expr *lo = bind_expr(b, sc, list->items[0]), *hi = bind_expr(b, sc, list->items[1]);
    if (!v || !lo || !hi)
        return NULL;
    /* x BETWEEN a AND b is x >= a AND x <= b (NOT: x < a OR x > b) */
    sql_expr *c1 = bind_op(b, neg ? "<" : ">=", v, lo, x->location);
    sql_expr *c2 = bind_op(b, neg ? ">" : "<=", v, hi, x->location);
    sql_expr *e = mk_bool(b, neg ? SE_OR : SE_AND, c1, c2, x->location);
    if (e && sym) {
        sql_expr *d1 = bind_op(b, neg ? "<" : ">=", v, hi, x->location);
        sql_expr *d2 = bind_op(b, neg ? ">" : "<=", v, lo, x->location);
        sql_expr *f = mk_bool(b, neg ? SE_OR : SE_AND, d1, d2, x->location);
        e = mk_bool(b, neg ? SE_AND : SE_OR, e, f, x->location);
    }
    return e && sql_expr_is_const(e) ? fold(b, e) : e;
}

/* x op ANY/ALL (array expression): ARRAY[...] is an IN list; a text[] value uses "= any". */
static sql_expr *bind_any_all(binder *b, bind_scope *sc, const PgQuery__AExpr *x, bool all)
{
    const char *op = op_name(x);
    const PgQuery__Node *r = x->rexpr;
    if (r && r->node_case == PG_QUERY__NODE__NODE_A_ARRAY_EXPR && !strcmp(op, "=") && !all) {
        PgQuery__List list = PG_QUERY__LIST__INIT;
        list.n_items = r->a_array_expr->n_elements;
        list.items = r->a_array_expr->elements;
        PgQuery__Node ln = PG_QUERY__NODE__INIT;
        ln.node_case = PG_QUERY__NODE__NODE_LIST;
        ln.list = &list;
        PgQuery__AExpr in = *x;
        in.rexpr = &ln;
        return bind_in_list(b, sc, &in, false);
    }
    sql_expr *l = bind_expr(b, sc, x->lexpr), *rv = bind_expr(b, sc, r);
    if (!l || !rv)
        return NULL;
    if (rv->type.id == ST_UNKNOWN)
        rv = coerce(b, rv, sql_type_of(ST_TEXTARR), 'i', NULL);
    if (!rv)
        return NULL;
    if ((rv->type.id != ST_TEXTARR && rv->type.id != ST_INT2ARR) || strcmp(op, "=") || all) {
        bind_fail(b, SQLSTATE_FEATURE, x->location, "op ANY/ALL (array) supports only = ANY "
                  "over text[] and int2[]");
        return NULL;
    }
    sql_expr *args[2] = {l, rv};
    return resolve_func(b, "= any", args, 2, x->location, true);
}

static sql_expr *bind_aexpr(binder *b, bind_scope *sc, const PgQuery__AExpr *x)
{
    const char *op = op_name(x);
    switch (x->kind) {
    case PG_QUERY__A__EXPR__KIND__AEXPR_OP: {
        sql_expr *l = x->lexpr ? bind_expr(b, sc, x->lexpr) : NULL;
        if (x->lexpr && !l)
            return NULL;
        sql_expr *r = bind_expr(b, sc, x->rexpr);
        return bind_op(b, op, l, r, x->location);
    }
    case PG_QUERY__A__EXPR__KIND__AEXPR_OP_ANY:
    case PG_QUERY__A__EXPR__KIND__AEXPR_OP_ALL:
        return bind_any_all(b, sc, x, x->kind == PG_QUERY__A__EXPR__KIND__AEXPR_OP_ALL);
    case PG_QUERY__A__EXPR__KIND__AEXPR_DISTINCT:
    case PG_QUERY__A__EXPR__KIND__AEXPR_NOT_DISTINCT: {
        sql_expr *l = bind_expr(b, sc, x->lexpr), *r = bind_expr(b, sc, x->rexpr);
        if (!l || !r)
            return NULL;
        sql_expr *e = mk_bool(b, SE_DISTINCT, l, r, x->location);
        if (!e || !eq_fn(b, &e->args[0], &e->args[1], "=", x->location, &e->fn))
            return NULL;
        e->negated = x->kind == PG_QUERY__A__EXPR__KIND__AEXPR_NOT_DISTINCT;
        return sql_expr_is_const(e) ? fold(b, e) : e;
    }
    case PG_QUERY__A__EXPR__KIND__AEXPR_NULLIF: {
        sql_expr *l = bind_expr(b, sc, x->lexpr), *r = bind_expr(b, sc, x->rexpr);
        if (!l || !r)
            return NULL;
        sql_expr *e = mk_expr(b, SE_NULLIF, l->type, x->location, 2);
        if (!e)
            return NULL;
        e->args[0] = l;
        e->args[1] = r;
        if (!eq_fn(b, &e->args[0], &e->args[1], "=", x->location, &e->fn))
            return NULL;
        e->type = e->args[0]->type;
        return sql_expr_is_const(e) ? fold(b, e) : e;
    }
    case PG_QUERY__A__EXPR__KIND__AEXPR_IN:
        return bind_in_list(b, sc, x, !strcmp(op, "<>"));
    case PG_QUERY__A__EXPR__KIND__AEXPR_LIKE:
    case PG_QUERY__A__EXPR__KIND__AEXPR_ILIKE: {
        sql_expr *l = bind_expr(b, sc, x->lexpr), *r = NULL;
        const PgQuery__Node *rn = x->rexpr;
        if (rn && rn->node_case == PG_QUERY__NODE__NODE_FUNC_CALL) {
            /* LIKE ... ESCAPE e: the default escape only */
            const PgQuery__FuncCall *f = rn->func_call;
            const char *fname = f->n_funcname ? node_str(f->funcname[f->n_funcname - 1]) : NULL;
            if (fname && !strcmp(fname, "like_escape") && f->n_args == 2) {
                sql_expr *esc = bind_expr(b, sc, f->args[1]);
                if (!esc)
                    return NULL;
                if (esc->kind != SE_CONST || esc->c.null || esc->c.s.n != 1 || esc->c.s.p[0] != '\\') {
                    bind_fail(b, SQLSTATE_FEATURE, x->location, "LIKE ... ESCAPE supports only '\\'");
                    return NULL;
                }
                r = bind_expr(b, sc, f->args[0]);
            }
        }
        if (!r)
            r = bind_expr(b, sc, rn);
        return bind_op(b, op, l, r, x->location);
    }
    case PG_QUERY__A__EXPR__KIND__AEXPR_BETWEEN:
    case PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN:
    case PG_QUERY__A__EXPR__KIND__AEXPR_BETWEEN_SYM:
    case PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN_SYM:
        return bind_between(b, sc, x,
                            x->kind == PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN ||
                                x->kind == PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN_SYM,
                            x->kind == PG_QUERY__A__EXPR__KIND__AEXPR_BETWEEN_SYM ||
                                x->kind == PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN_SYM);
    default:
        bind_fail(b, SQLSTATE_FEATURE, x->location, "SIMILAR TO is not supported");
        return NULL;
    }
}

/* ---- boolean expressions and tests -------------------------------------- */

sql_expr *bind_cond(binder *b, bind_scope *sc, const PgQuery__Node *n, const char *clause)
{
    sql_expr *e = bind_expr(b, sc, n);
    if (!e)
        return NULL;
    if (e->type.id == ST_UNKNOWN || e->type.id == ST_NULL)
        return coerce(b, e, sql_type_of(ST_BOOL), 'i', NULL);
    if (e->type.id != ST_BOOL) {
        char t[64];
        bind_fail(b, SQLSTATE_DATATYPE_MISMATCH, e->loc, "argument of %s must be type boolean, "
                  "not type %s", clause, type_name(e->type, t));
        return NULL;
    }
    return e;
}

static sql_expr *bind_boolexpr(binder *b, bind_scope *sc, const PgQuery__BoolExpr *x)
{
    sql_ekind k = x->boolop == PG_QUERY__BOOL_EXPR_TYPE__AND_EXPR ? SE_AND
                  : x->boolop == PG_QUERY__BOOL_EXPR_TYPE__OR_EXPR ? SE_OR : SE_NOT;
    const char *clause = k == SE_AND ? "AND" : k == SE_OR ? "OR" : "NOT";
    sql_expr *e = mk_expr(b, k, sql_type_of(ST_BOOL), x->location, (int)x->n_args);
    if (!e)
        return NULL;
    bool all_const = true;
    for (size_t i = 0; i < x->n_args; i++) {
        if (!(e->args[i] = bind_cond(b, sc, x->args[i], clause)))
            return NULL;
        all_const &= sql_expr_is_const(e->args[i]);
    }
    return all_const ? fold(b, e) : e;
}

static sql_expr *bind_nulltest(binder *b, bind_scope *sc, const PgQuery__NullTest *x)
{
    sql_expr *a = bind_expr(b, sc, x->arg);
    if (!a)
        return NULL;
    sql_expr *e = mk_expr(b, SE_ISNULL, sql_type_of(ST_BOOL), x->location, 1);
    if (!e)
        return NULL;
    e->args[0] = a;
    e->negated = x->nulltesttype == PG_QUERY__NULL_TEST_TYPE__IS_NOT_NULL;
    return sql_expr_is_const(a) ? fold(b, e) : e;
}

static sql_expr *bind_booltest(binder *b, bind_scope *sc, const PgQuery__BooleanTest *x)
{
    sql_expr *a = bind_cond(b, sc, x->arg, "IS TRUE");
    if (!a)
        return NULL;
    sql_expr *e = mk_expr(b, SE_BOOLTEST, sql_type_of(ST_BOOL), x->location, 1);
    if (!e)
        return NULL;
    e->args[0] = a;
    switch (x->booltesttype) {
    case PG_QUERY__BOOL_TEST_TYPE__IS_TRUE: e->test = 1; break;
    case PG_QUERY__BOOL_TEST_TYPE__IS_NOT_TRUE: e->test = 1; e->negated = 1; break;
    case PG_QUERY__BOOL_TEST_TYPE__IS_FALSE: e->test = 2; break;
    case PG_QUERY__BOOL_TEST_TYPE__IS_NOT_FALSE: e->test = 2; e->negated = 1; break;
    case PG_QUERY__BOOL_TEST_TYPE__IS_UNKNOWN: e->test = 3; break;
    default: e->test = 3; e->negated = 1; break;
    }
    return sql_expr_is_const(a) ? fold(b, e) : e;
}

/* ---- CASE, COALESCE, GREATEST ------------------------------------------- */

static sql_expr *bind_case(binder *b, bind_scope *sc, const PgQuery__CaseExpr *x)
{
    int nw = (int)x->n_args, has_else = x->defresult != NULL;
    sql_expr *e = mk_expr(b, SE_CASE, sql_type_of(ST_TEXT), x->location, 2 * nw + has_else);
    sql_expr *arg = x->arg ? bind_expr(b, sc, x->arg) : NULL;
    if (!e || (x->arg && !arg))
        return NULL;
    e->has_else = (uint8_t)has_else;
    sql_expr **results = arena_alloc(b->a, sizeof *results * (size_t)(nw + 1));
    if (!results)
        return NULL;
    for (int i = 0; i < nw; i++) {
        const PgQuery__CaseWhen *w = x->args[i]->case_when;
        sql_expr *c;
        if (arg) {
            /* simple CASE: arg = value */
            sql_expr *v = bind_expr(b, sc, w->expr);
            c = v ? bind_op(b, "=", arg, v, w->location) : NULL;
        } else {
            c = bind_cond(b, sc, w->expr, "CASE/WHEN");
        }
        if (!c || !(results[i] = bind_expr(b, sc, w->result)))
            return NULL;
        e->args[2 * i] = c;
    }
    if (has_else && !(results[nw] = bind_expr(b, sc, x->defresult)))
        return NULL;
    sql_type t;
    if (!common_type(b, results, nw + has_else, "CASE", &t))
        return NULL;
    e->type = t;
    for (int i = 0; i < nw; i++)
        if (!(e->args[2 * i + 1] = coerce(b, results[i], t, 'i', "CASE result")))
            return NULL;
    if (has_else && !(e->args[2 * nw] = coerce(b, results[nw], t, 'i', "CASE result")))
        return NULL;
    return sql_expr_is_const(e) ? fold(b, e) : e;
}

static sql_expr *bind_list_same_type(binder *b, bind_scope *sc, sql_ekind k, PgQuery__Node **items,
                                     size_t n, int loc, const char *what)
{
    sql_expr *e = mk_expr(b, k, sql_type_of(ST_TEXT), loc, (int)n);
    if (!e)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!(e->args[i] = bind_expr(b, sc, items[i])))
            return NULL;
    sql_type t;
    if (!common_type(b, e->args, (int)n, what, &t))
        return NULL;
    e->type = t;
    for (size_t i = 0; i < n; i++)
        if (!(e->args[i] = coerce(b, e->args[i], t, 'i', what)))
            return NULL;
    return sql_expr_is_const(e) ? fold(b, e) : e;
}

/* ---- casts -------------------------------------------------------------- */

/* The text of a constant string (of a text type or unknown); NULL otherwise. */
static const char *const_text(binder *b, const sql_expr *a)
{
    if (a->kind != SE_CONST || a->c.null ||
        (a->type.id != ST_UNKNOWN && !sql_type_is_text(a->type)))
        return NULL;
    return arena_strndup(b->a, (const char *)a->c.s.p, a->c.s.n);
}

/* 'name'::regclass (regtype, regnamespace, regrole): the oid of what the constant
 * names, looked up now as PostgreSQL does; 'name'::regproc: the function's name,
 * as pg_type's typinput and kin hold it here.  NULL with *done false: not such a
 * cast, the usual coercion applies. */
static sql_expr *reg_cast(binder *b, const char *type, const sql_expr *a, int loc, bool *done)
{
    const char *v = const_text(b, a);
    *done = v && !strncmp(type, "reg", 3);
    if (!*done)
        return NULL;
    sql_datum d;
    memset(&d, 0, sizeof d);
    if (!strcmp(type, "regproc") || !strcmp(type, "regprocedure")) {
        const char *dot = strrchr(v, '.');
        d.s.p = (const uint8_t *)(dot ? dot + 1 : v);
        d.s.n = (uint32_t)strcspn((const char *)d.s.p, "(");
        return mk_const(b, sql_type_of(ST_TEXT), &d, loc);
    }
    if (!sql_pg_reg_oid(b->s->eng, type, v, b->a, &d.i))
        return mk_const(b, sql_type_of(ST_OID), &d, loc);
    bool cls = !strcmp(type, "regclass"), ns = !strcmp(type, "regnamespace");
    bind_fail(b, cls ? SQLSTATE_UNDEFINED_TABLE : ns ? "3F000" : "42704", loc,
              "%s \"%s\" does not exist",
              cls ? "relation" : ns ? "schema" : !strcmp(type, "regrole") ? "role" : "type", v);
    return NULL;
}

static sql_expr *bind_typecast(binder *b, bind_scope *sc, const PgQuery__TypeCast *x)
{
    sql_type t;
    if (!bind_typename(b, x->type_name, &t))
        return NULL;
    sql_expr *a = bind_expr(b, sc, x->arg);
    if (!a)
        return NULL;
    const PgQuery__TypeName *tn = x->type_name;
    const char *tname = tn->n_names ? node_str(tn->names[tn->n_names - 1]) : NULL;
    bool done = false;
    sql_expr *r = tname && !tn->n_array_bounds ? reg_cast(b, tname, a, x->location, &done) : NULL;
    if (done)
        return r;
    if (a->kind == SE_PARAM && a->type.id == ST_UNKNOWN)
        param_infer(b, a->col, t);
    sql_expr *c = coerce(b, a, t, 'e', NULL);
    if (c && c->loc < 0)
        c->loc = x->location;
    return c;
}

/* ---- function calls ----------------------------------------------------- */

static const char *func_name(const PgQuery__FuncCall *f, char *buf, size_t n)
{
    const char *name = f->n_funcname ? node_str(f->funcname[f->n_funcname - 1]) : NULL;
    snprintf(buf, n, "%s", name ? name : "?");
    for (char *p = buf; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return buf;
}

static sql_expr *bind_func(binder *b, bind_scope *sc, const PgQuery__FuncCall *f)
{
    char nbuf[64];
    func_name(f, nbuf, sizeof nbuf);
    /* expressions keep the name (EXPLAIN, messages): it lives in the query's arena */
    const char *name = arena_strndup(b->a, nbuf, strlen(nbuf));
    if (!name)
        return NULL;
    if (f->over)
        return bind_window_call(b, sc, f, name);
    if (sql_is_agg_name(name) || f->agg_star || f->agg_distinct || f->agg_filter ||
        f->agg_within_group)
        return bind_agg_call(b, sc, f, name);
    if (sql_is_window_only_name(name)) {
        bind_fail(b, "42809", f->location, "window function %s requires an OVER clause", name);
        return NULL;
    }
    int nargs = (int)f->n_args;
    sql_expr **args = arena_zalloc(b->a, sizeof *args * (size_t)(nargs ? nargs : 1));
    if (!args)
        return NULL;
    for (int i = 0; i < nargs; i++)
        if (!(args[i] = bind_expr(b, sc, f->args[i])))
            return NULL;
    /* function-style casts: date(x), text(x), int8(x), ... */
    sql_type ct;
    if (nargs == 1 && sql_type_lookup(name, NULL, 0, false, &ct) && strcmp(name, "char"))
        return coerce(b, args[0], ct, 'e', NULL);
    /* spellings PostgreSQL's grammar maps to other functions */
    if (!strcmp(name, "position") && nargs == 2) {
        sql_expr *t = args[0];
        args[0] = args[1];
        args[1] = t;
        return resolve_func(b, "strpos", args, 2, f->location, false);
    }
    if (!strcmp(name, "mod") && nargs == 2)
        return resolve_func(b, "%", args, 2, f->location, true);
    /* current_setting('name' [, missing_ok]): the session's value, read now */
    const char *setting = !strcmp(name, "current_setting") && (nargs == 1 || nargs == 2)
                              ? const_text(b, args[0]) : NULL;
    if (setting) {
        char buf[256];
        const char *v = sql_session_get(b->s, setting, buf, sizeof buf);
        bool missing_ok = nargs == 2 && args[1]->kind == SE_CONST && !args[1]->c.null &&
                          args[1]->type.id == ST_BOOL && args[1]->c.b;
        if (!v && !missing_ok) {
            bind_fail(b, "42704", f->location, "unrecognized configuration parameter \"%s\"",
                      setting);
            return NULL;
        }
        sql_datum d;
        memset(&d, 0, sizeof d);
        d.null = !v;
        d.s.p = (const uint8_t *)(v ? arena_strndup(b->a, v, strlen(v)) : "");
        d.s.n = v ? (uint32_t)strlen(v) : 0;
        return d.s.p ? mk_const(b, sql_type_of(ST_TEXT), &d, f->location) : NULL;
    }
    if (!strcmp(name, "pg_backend_pid") && nargs == 0) {
        /* the connection's, as BackendKeyData told the client */
        sql_datum d;
        memset(&d, 0, sizeof d);
        d.i = b->s->backend_pid;
        return mk_const(b, sql_type_of(ST_INT4), &d, f->location);
    }
    if (!strcmp(name, "pg_typeof") && nargs == 1) {
        char t[64];
        type_name(args[0]->type, t);
        sql_datum d;
        memset(&d, 0, sizeof d);
        char *s = arena_strndup(b->a, t, strlen(t));
        d.s.p = (const uint8_t *)s;
        d.s.n = (uint32_t)strlen(t);
        return mk_const(b, sql_type_of(ST_TEXT), &d, f->location);
    }
    if (!strcmp(name, "timezone") && nargs == 2) {
        /* x AT TIME ZONE 'UTC': the only zone there is */
        if (args[0]->kind != SE_CONST || args[0]->c.null || args[0]->c.s.n != 3 ||
            strncasecmp((const char *)args[0]->c.s.p, "utc", 3)) {
            bind_fail(b, SQLSTATE_FEATURE, f->location, "only the time zone UTC is supported");
            return NULL;
        }
        sql_type to = args[1]->type.id == ST_TIMESTAMPTZ ? sql_type_of(ST_TIMESTAMP)
                                                         : sql_type_of(ST_TIMESTAMPTZ);
        sql_expr *x = coerce(b, args[1], args[1]->type.id == ST_UNKNOWN ? sql_type_of(ST_TIMESTAMPTZ)
                                                                       : args[1]->type, 'i', NULL);
        return x ? coerce(b, x, to, 'e', NULL) : NULL;
    }
    if ((!strcmp(name, "concat") || !strcmp(name, "concat_ws"))) {
        for (int i = 0; i < nargs; i++)
            if (!sql_type_is_text(args[i]->type) &&
                !(args[i] = coerce(b, args[i], sql_type_of(ST_TEXT), 'e', NULL)))
                return NULL;
    }
    if (!strcmp(name, "array_length") && nargs == 1) {
        bind_fail(b, SQLSTATE_UNDEFINED_FUNCTION, f->location, "function array_length(text[]) does not exist");
        return NULL;
    }
    return resolve_func(b, name, args, nargs, f->location, false);
}

static sql_expr *bind_sqlvalue(binder *b, const PgQuery__SQLValueFunction *x)
{
    const char *fn = NULL;
    switch (x->op) {
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_DATE: fn = "current_date"; break;
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIMESTAMP:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIMESTAMP_N: fn = "current_timestamp"; break;
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIMESTAMP:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIMESTAMP_N: fn = "localtimestamp"; break;
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_ROLE:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_USER:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_USER:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_SESSION_USER:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_CATALOG:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_SCHEMA: {
        const char *v = x->op == PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_CATALOG ? "lake"
                        : x->op == PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_SCHEMA ? "public"
                                                                                      : "streamlake";
        sql_datum d;
        memset(&d, 0, sizeof d);
        d.s.p = (const uint8_t *)v;
        d.s.n = (uint32_t)strlen(v);
        return mk_const(b, sql_type_of(ST_TEXT), &d, x->location);
    }
    default:
        bind_fail(b, SQLSTATE_FEATURE, x->location, "this SQL value function is not supported");
        return NULL;
    }
    return resolve_func(b, fn, NULL, 0, x->location, false);
}

/* ---- subqueries --------------------------------------------------------- */

/* Plan p (one column) with its column cast to t (ctx and what as for coerce()):
 * a projection on top of it when the types differ, p itself when they do not. */
static sql_plan *cast_sub_column(binder *b, sql_plan *p, sql_type t, char ctx, const char *what)
{
    if (p->types[0].id == t.id)
        return p;
    sql_plan *pr = mk_plan(b, SP_PROJECT, 1);
    sql_expr *c = pr ? mk_col(b, 0, p->types[0], -1) : NULL;
    if (!c || !(c = coerce(b, c, t, ctx, what)))
        return NULL;
    pr->child = p;
    pr->names[0] = p->names[0];
    pr->project.exprs[0] = c;
    pr->types[0] = t;
    return pr;
}

/* ARRAY(SELECT x ...): the column's values in the subquery's order, as text[]
 * (the one array type of the engine; other element types become their text, as
 * in ARRAY[...]). */
static bool bind_array_sublink(binder *b, sql_expr *e, int loc)
{
    if (e->sub->ncols != 1) {
        bind_fail(b, SQLSTATE_SYNTAX, loc, "subquery must return only one column");
        return false;
    }
    if (e->sub->types[0].id == ST_TEXTARR || e->sub->types[0].id == ST_INT2ARR) {
        bind_fail(b, SQLSTATE_FEATURE, loc, "ARRAY(subquery) of array values (a "
                  "two-dimensional array) is not supported");
        return false;
    }
    sql_type t = e->sub->types[0];
    bool text = sql_type_is_text(t) || t.id == ST_NULL || t.id == ST_UNKNOWN;
    e->subkind = SQ_ARRAY;
    e->type = sql_type_of(ST_TEXTARR);
    e->sub = cast_sub_column(b, e->sub, sql_type_of(ST_TEXT), text ? 'i' : 'e', "array element");
    return e->sub != NULL;
}

static sql_expr *bind_sublink(binder *b, bind_scope *sc, const PgQuery__SubLink *x)
{
    if (x->subselect->node_case != PG_QUERY__NODE__NODE_SELECT_STMT) {
        bind_fail(b, SQLSTATE_SYNTAX, x->location, "subquery is not a SELECT");
        return NULL;
    }
    sql_expr *left = NULL;
    if (x->testexpr && !(left = bind_expr(b, sc, x->testexpr)))
        return NULL;
    bool was_used = sc->outer_used;
    sc->outer_used = false;
    agg_collect *saved = b->agg;
    b->agg = NULL; /* the subquery collects its own aggregates */
    b->depth++;
    sql_plan *p = bind_select(b, sc, x->subselect->select_stmt);
    b->depth--;
    b->agg = saved;
    if (!p)
        return NULL;
    bool correlated = sc->outer_used;
    for (bind_scope *s = sc->parent; s; s = s->parent)
        correlated |= s->outer_used;
    sc->outer_used = was_used || correlated;
    sql_expr *e = mk_expr(b, SE_SUBQUERY, sql_type_of(ST_BOOL), x->location, left ? 1 : 0);
    if (!e)
        return NULL;
    e->sub = p;
    e->correlated = correlated;
    switch (x->sub_link_type) {
    case PG_QUERY__SUB_LINK_TYPE__EXISTS_SUBLINK:
        e->subkind = SQ_EXISTS;
        break;
    case PG_QUERY__SUB_LINK_TYPE__EXPR_SUBLINK:
        if (p->ncols != 1) {
            bind_fail(b, SQLSTATE_SYNTAX, x->location, "subquery must return only one column");
            return NULL;
        }
        e->subkind = SQ_SCALAR;
        e->type = p->types[0];
        if (e->type.id == ST_UNKNOWN || e->type.id == ST_NULL)
            e->type = sql_type_of(ST_TEXT);
        break;
    case PG_QUERY__SUB_LINK_TYPE__ANY_SUBLINK:
    case PG_QUERY__SUB_LINK_TYPE__ALL_SUBLINK: {
        if (p->ncols != 1 || !left) {
            bind_fail(b, SQLSTATE_SYNTAX, x->location, "subquery has too many columns");
            return NULL;
        }
        const char *op = "=";
        for (size_t i = 0; i < x->n_oper_name; i++)
            if (node_str(x->oper_name[i]))
                op = node_str(x->oper_name[i]);
        e->subkind = x->sub_link_type == PG_QUERY__SUB_LINK_TYPE__ANY_SUBLINK ? SQ_ANY : SQ_ALL;
        /* the comparison on the left type and the subquery's column type */
        sql_expr *r = mk_col(b, 0, p->types[0], x->location);
        sql_expr *ts[2] = {left, r};
        sql_type t;
        if (!r || !common_type(b, ts, 2, "subquery comparison", &t))
            return NULL;
        if (!(left = coerce(b, left, t, 'i', NULL)) ||
            !(e->sub = p = cast_sub_column(b, p, t, 'i', NULL)))
            return NULL;
        sql_expr *l2 = left, *r2 = mk_col(b, 0, t, -1);
        if (!eq_fn(b, &l2, &r2, op, x->location, &e->fn))
            return NULL;
        e->args[0] = left;
        e->name = op;
        break;
    }
    case PG_QUERY__SUB_LINK_TYPE__ARRAY_SUBLINK:
        if (!bind_array_sublink(b, e, x->location))
            return NULL;
        break;
    default:
        bind_fail(b, SQLSTATE_FEATURE, x->location, "this kind of subquery is not supported");
        return NULL;
    }
    return e;
}

/* ---- arrays ------------------------------------------------------------- */

static sql_expr *bind_array(binder *b, bind_scope *sc, const PgQuery__AArrayExpr *x)
{
    sql_expr *e = mk_expr(b, SE_ARRAY, sql_type_of(ST_TEXTARR), x->location, (int)x->n_elements);
    if (!e)
        return NULL;
    for (size_t i = 0; i < x->n_elements; i++) {
        sql_expr *a = bind_expr(b, sc, x->elements[i]);
        if (!a || !(e->args[i] = coerce(b, a, sql_type_of(ST_TEXT), sql_type_is_text(a->type) ||
                                        a->type.id == ST_NULL ? 'i' : 'e', "array element")))
            return NULL;
    }
    return sql_expr_is_const(e) ? fold(b, e) : e;
}

/* ---- the dispatcher ----------------------------------------------------- */

sql_expr *bind_expr(binder *b, bind_scope *sc, const PgQuery__Node *n)
{
    if (!n) {
        bind_fail(b, SQLSTATE_SYNTAX, -1, "missing expression");
        return NULL;
    }
    switch (n->node_case) {
    case PG_QUERY__NODE__NODE_A_CONST:
        return bind_const(b, n->a_const);
    case PG_QUERY__NODE__NODE_COLUMN_REF:
        return bind_colref(b, sc, n->column_ref);
    case PG_QUERY__NODE__NODE_A_EXPR:
        return bind_aexpr(b, sc, n->a_expr);
    case PG_QUERY__NODE__NODE_BOOL_EXPR:
        return bind_boolexpr(b, sc, n->bool_expr);
    case PG_QUERY__NODE__NODE_NULL_TEST:
        return bind_nulltest(b, sc, n->null_test);
    case PG_QUERY__NODE__NODE_BOOLEAN_TEST:
        return bind_booltest(b, sc, n->boolean_test);
    case PG_QUERY__NODE__NODE_TYPE_CAST:
        return bind_typecast(b, sc, n->type_cast);
    case PG_QUERY__NODE__NODE_FUNC_CALL:
        return bind_func(b, sc, n->func_call);
    case PG_QUERY__NODE__NODE_CASE_EXPR:
        return bind_case(b, sc, n->case_expr);
    case PG_QUERY__NODE__NODE_COALESCE_EXPR:
        return bind_list_same_type(b, sc, SE_COALESCE, n->coalesce_expr->args,
                                   n->coalesce_expr->n_args, n->coalesce_expr->location, "COALESCE");
    case PG_QUERY__NODE__NODE_MIN_MAX_EXPR:
        return bind_list_same_type(b, sc, n->min_max_expr->op == PG_QUERY__MIN_MAX_OP__IS_GREATEST
                                              ? SE_GREATEST : SE_LEAST,
                                   n->min_max_expr->args, n->min_max_expr->n_args,
                                   n->min_max_expr->location,
                                   n->min_max_expr->op == PG_QUERY__MIN_MAX_OP__IS_GREATEST
                                       ? "GREATEST" : "LEAST");
    case PG_QUERY__NODE__NODE_SUB_LINK:
        return bind_sublink(b, sc, n->sub_link);
    case PG_QUERY__NODE__NODE_PARAM_REF: {
        int k = n->param_ref->number - 1;
        if (k < 0 || k > 65535) {
            bind_fail(b, "42P02", n->param_ref->location, "there is no parameter $%d", k + 1);
            return NULL;
        }
        param_infer(b, k, sql_type_of(ST_UNKNOWN));
        sql_expr *e = mk_expr(b, SE_PARAM, param_type(b, k), n->param_ref->location, 0);
        if (e)
            e->col = k;
        return e;
    }
    case PG_QUERY__NODE__NODE_SQLVALUE_FUNCTION:
        return bind_sqlvalue(b, n->sqlvalue_function);
    case PG_QUERY__NODE__NODE_A_ARRAY_EXPR:
        return bind_array(b, sc, n->a_array_expr);
    case PG_QUERY__NODE__NODE_COLLATE_CLAUSE:
        return bind_expr(b, sc, n->collate_clause->arg); /* one collation: C */
    case PG_QUERY__NODE__NODE_A_INDIRECTION: {
        /* (text[] or int2[])[i]: 1-based element */
        const PgQuery__AIndirection *x = n->a_indirection;
        sql_expr *a = bind_expr(b, sc, x->arg);
        if (!a)
            return NULL;
        if ((a->type.id != ST_TEXTARR && a->type.id != ST_INT2ARR) || x->n_indirection != 1 ||
            x->indirection[0]->node_case != PG_QUERY__NODE__NODE_A_INDICES ||
            x->indirection[0]->a_indices->is_slice) {
            bind_fail(b, SQLSTATE_FEATURE, -1, "only one subscript of a text[] or int2[] value "
                      "is supported");
            return NULL;
        }
        sql_expr *i = bind_expr(b, sc, x->indirection[0]->a_indices->uidx);
        sql_expr *args[2] = {a, i};
        return i ? resolve_func(b, "array_element", args, 2, -1, false) : NULL;
    }
    default:
        bind_fail(b, SQLSTATE_FEATURE, -1, "this kind of expression (parse node %d) is not supported",
                  (int)n->node_case);
        return NULL;
    }
}

int bind_int_const(binder *b, bind_scope *sc, const PgQuery__Node *n, int64_t *out)
{
    sql_expr *e = bind_expr(b, sc, n);
    if (!e)
        return -1;
    if (!(e = coerce(b, e, sql_type_of(ST_INT8), 'a', "argument")))
        return -1;
    if (e->kind != SE_CONST) {
        bind_fail(b, SQLSTATE_FEATURE, e->loc, "a constant is required here");
        return -1;
    }
    *out = e->c.null ? -1 : e->c.i;
    return 0;
}

/* PostgreSQL's FigureColname: the column's name, or the function's, or ?column? */
const char *expr_colname(const PgQuery__Node *n)
{
    if (!n)
        return "?column?";
    switch (n->node_case) {
    case PG_QUERY__NODE__NODE_COLUMN_REF: {
        const PgQuery__ColumnRef *c = n->column_ref;
        const char *last = c->n_fields ? node_str(c->fields[c->n_fields - 1]) : NULL;
        return last ? last : "?column?";
    }
    case PG_QUERY__NODE__NODE_FUNC_CALL: {
        const PgQuery__FuncCall *f = n->func_call;
        const char *name = f->n_funcname ? node_str(f->funcname[f->n_funcname - 1]) : NULL;
        return name ? name : "?column?";
    }
    case PG_QUERY__NODE__NODE_TYPE_CAST: {
        const char *inner = expr_colname(n->type_cast->arg);
        if (strcmp(inner, "?column?"))
            return inner;
        const PgQuery__TypeName *tn = n->type_cast->type_name;
        const char *t = tn->n_names ? node_str(tn->names[tn->n_names - 1]) : NULL;
        if (t && !strcmp(t, "bool"))
            return "bool";
        if (t && !strcmp(t, "int4"))
            return "int4";
        if (t && !strcmp(t, "int8"))
            return "int8";
        if (t && !strcmp(t, "float8"))
            return "float8";
        if (t && !strcmp(t, "numeric"))
            return "numeric";
        if (t && !strcmp(t, "timestamptz"))
            return "timestamptz";
        if (t && !strcmp(t, "timestamp"))
            return "timestamp";
        return t ? t : "?column?";
    }
    case PG_QUERY__NODE__NODE_A_INDIRECTION:
        return expr_colname(n->a_indirection->arg);
    case PG_QUERY__NODE__NODE_CASE_EXPR:
        return "case";
    case PG_QUERY__NODE__NODE_COALESCE_EXPR:
        return "coalesce";
    case PG_QUERY__NODE__NODE_MIN_MAX_EXPR:
        return n->min_max_expr->op == PG_QUERY__MIN_MAX_OP__IS_GREATEST ? "greatest" : "least";
    case PG_QUERY__NODE__NODE_A_EXPR:
        return n->a_expr->kind == PG_QUERY__A__EXPR__KIND__AEXPR_NULLIF ? "nullif" : "?column?";
    case PG_QUERY__NODE__NODE_SUB_LINK:
        if (n->sub_link->sub_link_type == PG_QUERY__SUB_LINK_TYPE__EXISTS_SUBLINK)
            return "exists";
        if (n->sub_link->sub_link_type == PG_QUERY__SUB_LINK_TYPE__ARRAY_SUBLINK)
            return "array";
        if (n->sub_link->sub_link_type == PG_QUERY__SUB_LINK_TYPE__EXPR_SUBLINK &&
            n->sub_link->subselect->node_case == PG_QUERY__NODE__NODE_SELECT_STMT) {
            const PgQuery__SelectStmt *s = n->sub_link->subselect->select_stmt;
            if (s->n_target_list == 1) {
                const PgQuery__ResTarget *rt = s->target_list[0]->res_target;
                return pstr(rt->name) ? rt->name : expr_colname(rt->val);
            }
        }
        return "?column?";
    case PG_QUERY__NODE__NODE_SQLVALUE_FUNCTION:
        switch (n->sqlvalue_function->op) {
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_DATE: return "current_date";
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIMESTAMP:
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIMESTAMP_N: return "current_timestamp";
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_USER: return "current_user";
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_ROLE: return "current_role";
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_SESSION_USER: return "session_user";
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_USER: return "user";
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_CATALOG: return "current_catalog";
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_SCHEMA: return "current_schema";
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIMESTAMP:
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIMESTAMP_N: return "localtimestamp";
        default: return "?column?";
        }
    case PG_QUERY__NODE__NODE_A_ARRAY_EXPR:
        return "array";
    default:
        return "?column?";
    }
}
