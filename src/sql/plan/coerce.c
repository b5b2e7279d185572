/*
 * coerce.c - type resolution: common types, casts, and choosing a function
 * or operator for given argument types, the way PostgreSQL does
 * (parse_coerce.c, parse_func.c, parse_oper.c):
 *
 *   - an exact match wins;
 *   - unknown literals ('5', a bare NULL) take the type of the other known
 *     arguments when they all agree (`int_col = '5'` is int4 = int4);
 *   - otherwise candidates reachable by implicit casts are ranked: most exact
 *     matches, then most preferred types (float8, text, timestamptz) at the
 *     positions that need a cast; one left wins, else "is not unique".
 *
 * Casts of constants are evaluated at once (constant folding), so a literal
 * like '2026-11-22'::timestamptz is a constant of that type in the plan.
 */
#include "sql/plan/bind_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *type_name(sql_type t, char *buf)
{
    return sql_type_name(t, buf, 64);
}

static bool is_unknown(sql_type t)
{
    return t.id == ST_UNKNOWN || t.id == ST_NULL;
}

/* Can a value of type from be used where to is expected, implicitly? */
static bool implicit_ok(sql_type from, sql_type to)
{
    if (from.id == to.id || is_unknown(from))
        return true;
    return sql_cast_context(from, to) == 'i';
}

sql_expr *coerce(binder *b, sql_expr *e, sql_type to, char ctx, const char *what)
{
    if (!e)
        return NULL;
    sql_type from = e->type;
    if (from.id == to.id && (to.mod < 0 || from.mod == to.mod))
        return e;
    if (from.id == ST_NULL && e->kind == SE_CONST) {
        e->type = to; /* a bare NULL is a null of any type */
        return e;
    }
    char c = sql_cast_context(from, to);
    bool ok = c && (ctx == 'e' || (ctx == 'a' && (c == 'i' || c == 'a')) || (ctx == 'i' && c == 'i'));
    if (!ok || !sql_cast_kernel(from, to)) {
        char f[64], t[64];
        if (ctx == 'e' || !c)
            bind_fail(b, SQLSTATE_CANNOT_COERCE, e->loc, "cannot cast type %s to %s",
                      type_name(from, f), type_name(to, t));
        else
            bind_fail(b, SQLSTATE_DATATYPE_MISMATCH, e->loc, "%s is of type %s but expression "
                      "is of type %s", what ? what : "value", type_name(to, t), type_name(from, f));
        if (ctx != 'e' && c)
            sql_err_hint(b->e, "You will need to rewrite or cast the expression.");
        return NULL;
    }
    sql_expr *x = mk_expr(b, SE_CAST, to, e->loc, 1);
    if (!x)
        return NULL;
    x->args[0] = e;
    return sql_expr_is_const(e) ? fold(b, x) : x;
}

/*
 * select_common_type: all unknown: text; else the first known type's category
 * must hold every known type; the result is a preferred type of the category
 * that all convert to, or the latest type the others convert to implicitly.
 */
bool common_type(binder *b, sql_expr **es, int n, const char *what, sql_type *out)
{
    int first = -1;
    for (int i = 0; i < n; i++)
        if (es[i] && !is_unknown(es[i]->type)) {
            first = i;
            break;
        }
    if (first < 0) {
        *out = sql_type_of(ST_TEXT);
        return true;
    }
    sql_type t = es[first]->type;
    sql_cat cat = sql_type_category(t);
    for (int i = first + 1; i < n; i++) {
        sql_type u = es[i]->type;
        if (is_unknown(u) || u.id == t.id) {
            if (u.id == t.id && u.mod != t.mod)
                t.mod = -1;
            continue;
        }
        if (sql_type_category(u) != cat) {
            char x[64], y[64];
            bind_fail(b, SQLSTATE_DATATYPE_MISMATCH, es[i]->loc, "%s types %s and %s cannot be "
                      "matched", what, type_name(t, x), type_name(u, y));
            return false;
        }
        /* PostgreSQL keeps t when it is preferred, or when u converts to t but not back */
        if (!sql_type_preferred(t) && implicit_ok(t, u) && !implicit_ok(u, t))
            t = u;
        else if (!sql_type_preferred(t) && sql_type_preferred(u))
            t = u;
    }
    *out = t;
    return true;
}

/* ---- parameters --------------------------------------------------------- */

sql_type param_type(binder *b, int n)
{
    return n < b->nparams ? b->ptypes[n] : sql_type_of(ST_UNKNOWN);
}

void param_infer(binder *b, int n, sql_type t)
{
    if (n >= b->ptypes_cap) {
        int cap = b->ptypes_cap ? b->ptypes_cap * 2 : 8;
        while (cap <= n)
            cap *= 2;
        sql_type *p = arena_alloc(b->a, sizeof *p * (size_t)cap);
        if (!p)
            return;
        for (int i = 0; i < cap; i++)
            p[i] = i < b->nparams ? b->ptypes[i] : sql_type_of(ST_UNKNOWN);
        b->ptypes = p;
        b->ptypes_cap = cap;
    }
    if (n >= b->nparams) {
        for (int i = b->nparams; i <= n; i++)
            b->ptypes[i] = sql_type_of(ST_UNKNOWN);
        b->nparams = n + 1;
    }
    if (!b->params_fixed && b->ptypes[n].id == ST_UNKNOWN && !is_unknown(t))
        b->ptypes[n] = t;
}

/* ---- function resolution ------------------------------------------------ */

static sql_type decl_arg(const sql_func *f, int i)
{
    int k = i < f->nargs ? i : f->nargs - 1; /* variadic: the last type repeats */
    return sql_type_of((sql_tid)f->args[k]);
}

static bool arity_ok(const sql_func *f, int nargs)
{
    if (f->flags & FN_VARIADIC)
        return nargs >= f->nargs;
    return nargs == f->nargs;
}

typedef struct cand {
    int idx;
    int exact, preferred;
} cand;

/* Scores candidate f for the argument types; false if an argument cannot fit. */
static bool score(const sql_func *f, sql_expr **args, int nargs, cand *c)
{
    c->exact = c->preferred = 0;
    for (int i = 0; i < nargs; i++) {
        sql_type want = decl_arg(f, i), have = args[i]->type;
        if (f->flags & FN_ANYARG)
            continue;
        if (have.id == want.id) {
            c->exact++;
            continue;
        }
        if (!implicit_ok(have, want))
            return false;
        if (sql_type_preferred(want))
            c->preferred++;
    }
    return true;
}

static const char *arg_list(binder *b, sql_expr **args, int nargs, char *buf, size_t n)
{
    (void)b;
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < nargs && o < n; i++) {
        char t[64];
        o += (size_t)snprintf(buf + o, n - o, "%s%s", i ? ", " : "",
                              is_unknown(args[i]->type) ? "unknown" : type_name(args[i]->type, t));
    }
    return buf;
}

static sql_expr *no_match(binder *b, const char *name, sql_expr **args, int nargs, int loc,
                          bool is_op, bool ambiguous)
{
    char list[512];
    arg_list(b, args, nargs, list, sizeof list);
    if (is_op) {
        if (nargs == 1)
            bind_fail(b, SQLSTATE_UNDEFINED_FUNCTION, loc, "operator %s: %s %s", ambiguous
                      ? "is not unique" : "does not exist", name, list);
        else {
            char l[64], r[64];
            bind_fail(b, SQLSTATE_UNDEFINED_FUNCTION, loc, "operator %s: %s %s %s",
                      ambiguous ? "is not unique" : "does not exist",
                      is_unknown(args[0]->type) ? "unknown" : type_name(args[0]->type, l), name,
                      is_unknown(args[1]->type) ? "unknown" : type_name(args[1]->type, r));
        }
        sql_err_hint(b->e, ambiguous ? "Could not choose a best candidate operator. You might "
                     "need to add explicit type casts." : "No operator matches the given name "
                     "and argument types. You might need to add explicit type casts.");
    } else {
        bind_fail(b, SQLSTATE_UNDEFINED_FUNCTION, loc, "function %s(%s) %s", name, list,
                  ambiguous ? "is not unique" : "does not exist");
        sql_err_hint(b->e, ambiguous ? "Could not choose a best candidate function. You might "
                     "need to add explicit type casts." : "No function matches the given name "
                     "and argument types. You might need to add explicit type casts.");
    }
    return NULL;
}

/* Picks among the functions fs[0..n) for args; index or -1 (none) / -2 (ambiguous). */
static int pick(const sql_func *fs, int n, sql_expr **args, int nargs)
{
    /* unknowns take the known arguments' type when those all agree */
    sql_type known = {ST_NULL, -1};
    bool agree = true, any_unknown = false;
    for (int i = 0; i < nargs; i++) {
        if (is_unknown(args[i]->type)) {
            any_unknown = true;
            continue;
        }
        if (known.id == ST_NULL)
            known = args[i]->type;
        else if (known.id != args[i]->type.id)
            agree = false;
    }
    if (any_unknown && agree && known.id != ST_NULL) {
        for (int k = 0; k < n; k++) {
            if (!arity_ok(&fs[k], nargs))
                continue;
            bool all = true;
            for (int i = 0; i < nargs && all; i++)
                all = decl_arg(&fs[k], i).id == known.id;
            if (all)
                return k;
        }
    }
    int best = -1, nbest = 0;
    cand bc = {0, -1, -1};
    for (int k = 0; k < n; k++) {
        cand c;
        if (!arity_ok(&fs[k], nargs) || !score(&fs[k], args, nargs, &c))
            continue;
        c.idx = k;
        if (c.exact > bc.exact || (c.exact == bc.exact && c.preferred > bc.preferred)) {
            bc = c;
            best = k;
            nbest = 1;
        } else if (c.exact == bc.exact && c.preferred == bc.preferred) {
            nbest++;
        }
    }
    if (nbest > 1 && any_unknown) {
        /* unknowns prefer the string category, as PostgreSQL's resolution does */
        for (int k = 0; k < n; k++) {
            cand c;
            if (!arity_ok(&fs[k], nargs) || !score(&fs[k], args, nargs, &c) ||
                c.exact != bc.exact || c.preferred != bc.preferred)
                continue;
            bool str = true;
            for (int i = 0; i < nargs && str; i++)
                if (is_unknown(args[i]->type))
                    str = sql_type_category(decl_arg(&fs[k], i)) == SC_STRING;
            if (str)
                return k;
        }
    }
    if (nbest > 1)
        return -2;
    return best;
}

sql_expr *resolve_func(binder *b, const char *name, sql_expr **args, int nargs, int loc,
                       bool is_op)
{
    int n;
    const sql_func *fs = sql_func_candidates(name, &n);
    int k = fs ? pick(fs, n, args, nargs) : -1;
    if (k < 0)
        return no_match(b, name, args, nargs, loc, is_op, k == -2);
    const sql_func *f = &fs[k];
    if ((f->flags & FN_SRF) && !b->srf_ok) {
        bind_fail(b, SQLSTATE_FEATURE, loc, "set-returning function %s() is supported only as "
                  "a whole item of a select list", name);
        return NULL;
    }
    sql_expr *e = mk_expr(b, SE_FUNC, sql_type_of((sql_tid)f->ret), loc, nargs);
    if (!e)
        return NULL;
    e->fn = f;
    e->name = name;
    /* volatile: never folded, never moved (one row in gives any number out) */
    e->volatile_ = (f->flags & (FN_VOLATILE | FN_SRF)) != 0;
    bool all_const = true;
    sql_type ats[SQL_FUNC_MAXARGS];
    for (int i = 0; i < nargs; i++) {
        sql_expr *a = args[i];
        if (!(f->flags & FN_ANYARG)) {
            sql_type want = decl_arg(f, i);
            if (a->kind == SE_PARAM && is_unknown(a->type))
                param_infer(b, a->col, want);
            if (!(a = coerce(b, a, want, 'i', "argument")))
                return NULL;
        }
        e->args[i] = a;
        if (i < SQL_FUNC_MAXARGS)
            ats[i] = a->type;
        all_const &= sql_expr_is_const(a);
    }
    if (f->ret_type)
        e->type = f->ret_type(ats, nargs);
    return all_const && !e->volatile_ ? fold(b, e) : e;
}

const sql_agg *resolve_agg(binder *b, const char *name, sql_expr **args, int nargs, int loc)
{
    int n;
    const sql_agg *as = sql_agg_candidates(name, &n);
    const sql_agg *best = NULL;
    int best_exact = -1, nbest = 0;
    for (int k = 0; as && k < n; k++) {
        const sql_agg *g = &as[k];
        if (g->nargs != nargs)
            continue;
        int exact = 0;
        bool ok = true;
        for (int i = 0; i < nargs && ok; i++) {
            if (g->args[i] == ST_NULL) {
                exact++; /* any type */
                continue;
            }
            sql_type want = sql_type_of((sql_tid)g->args[i]);
            if (args[i]->type.id == want.id)
                exact++;
            else
                ok = implicit_ok(args[i]->type, want);
        }
        if (!ok)
            continue;
        if (exact > best_exact) {
            best = g;
            best_exact = exact;
            nbest = 1;
        } else if (exact == best_exact) {
            /* prefer the float8 / text / numeric-preferred candidate */
            bool pref = false;
            for (int i = 0; i < nargs; i++)
                pref |= sql_type_preferred(sql_type_of((sql_tid)g->args[i]));
            if (pref)
                best = g;
            nbest++;
        }
    }
    if (!best) {
        no_match(b, name, args, nargs, loc, false, false);
        return NULL;
    }
    for (int i = 0; i < nargs; i++) {
        if (best->args[i] == ST_NULL) {
            if (is_unknown(args[i]->type) && !(args[i] = coerce(b, args[i], sql_type_of(ST_TEXT), 'i', "argument")))
                return NULL;
            continue;
        }
        if (!(args[i] = coerce(b, args[i], sql_type_of((sql_tid)best->args[i]), 'i', "argument")))
            return NULL;
    }
    return best;
}

bool bind_typename(binder *b, const PgQuery__TypeName *tn, sql_type *out)
{
    /* the last name part is the type ("pg_catalog"."int4") */
    const char *name = NULL;
    for (size_t i = 0; i < tn->n_names; i++) {
        const char *s = node_str(tn->names[i]);
        if (s)
            name = s;
    }
    int32_t mods[4];
    int nm = 0;
    for (size_t i = 0; i < tn->n_typmods && nm < 4; i++) {
        const PgQuery__Node *m = tn->typmods[i];
        if (m->node_case == PG_QUERY__NODE__NODE_A_CONST && m->a_const->val_case ==
            PG_QUERY__A__CONST__VAL_IVAL)
            mods[nm++] = m->a_const->ival ? m->a_const->ival->ival : 0;
        else
            return bind_fail(b, SQLSTATE_SYNTAX, tn->location, "type modifiers must be simple "
                             "constants or identifiers"), false;
    }
    /* interval with fields (INTERVAL '1' DAY) carries a typmod we do not use */
    if (name && !strcmp(name, "interval"))
        nm = 0;
    if (!name || !sql_type_lookup(name, mods, nm, tn->n_array_bounds > 0, out)) {
        bind_fail(b, "42704", tn->location, "type \"%s%s\" does not exist", name ? name : "?",
                  tn->n_array_bounds ? "[]" : "");
        return false;
    }
    return true;
}
