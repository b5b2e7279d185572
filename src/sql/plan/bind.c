/*
 * bind.c - SELECT statements to logical plans: FROM items and joins, WHERE,
 * the select list, GROUP BY / HAVING (bind_agg.c), DISTINCT, ORDER BY, LIMIT,
 * set operations, VALUES and WITH.
 *
 * The order of the plan is PostgreSQL's order of evaluation:
 *   FROM -> WHERE -> GROUP BY/aggregates -> HAVING -> windows -> select list
 *   -> DISTINCT -> ORDER BY -> LIMIT/OFFSET
 * ORDER BY may name output columns (by name or number) or be any expression;
 * expressions not in the select list are computed as hidden columns of the
 * projection and dropped after the sort, as PostgreSQL's resjunk columns.
 */
#include "sql/plan/bind_int.h"

#include <stdio.h>
#include <string.h>

sql_plan *mk_plan(binder *b, sql_pkind k, int ncols)
{
    sql_plan *p = arena_zalloc(b->a, sizeof *p);
    /* arrays of at least one element: a plan without columns (SELECT FROM t) is valid */
    size_t n = (size_t)(ncols > 0 ? ncols : 1);
    if (p) {
        p->types = arena_zalloc(b->a, sizeof *p->types * n);
        p->names = arena_zalloc(b->a, sizeof *p->names * n);
        if (k == SP_PROJECT)
            p->project.exprs = arena_zalloc(b->a, sizeof(sql_expr *) * n);
        if (!p->types || !p->names || (k == SP_PROJECT && !p->project.exprs))
            p = NULL;
    }
    if (!p) {
        bind_fail(b, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
        return NULL;
    }
    p->kind = (uint8_t)k;
    p->ncols = ncols;
    p->est_rows = 1000;
    return p;
}

/* ---- scopes ------------------------------------------------------------- */

static int scope_add(binder *b, bind_scope *sc, const char *alias, int ncols, const char **names,
                     const sql_type *types, bool *hidden)
{
    if (sc->nrtes == sc->cap) {
        int cap = sc->cap ? sc->cap * 2 : 4;
        bind_rte *r = arena_zalloc(b->a, sizeof *r * (size_t)cap);
        if (!r)
            return bind_fail(b, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
        if (sc->rtes)
            memcpy(r, sc->rtes, sizeof *r * (size_t)sc->nrtes);
        sc->rtes = r;
        sc->cap = cap;
    }
    bind_rte *r = &sc->rtes[sc->nrtes++];
    r->alias = alias;
    r->ncols = ncols;
    r->names = names;
    r->types = (sql_type *)types;
    r->offset = sc->width;
    r->hidden = hidden;
    sc->width += ncols;
    return 0;
}

int scope_find(binder *b, bind_scope *sc, const char *qual, const char *name, int loc,
               sql_type *type)
{
    int found = -1;
    for (int i = 0; i < sc->nrtes; i++) {
        const bind_rte *r = &sc->rtes[i];
        if (qual && (!r->alias || strcmp(r->alias, qual)))
            continue;
        for (int k = 0; k < r->ncols; k++) {
            if (strcmp(r->names[k], name))
                continue;
            if (!qual && r->hidden && r->hidden[k])
                continue; /* USING: the merged column is the left one */
            if (found >= 0) {
                bind_fail(b, SQLSTATE_AMBIGUOUS_COLUMN, loc, "column reference \"%s\" is ambiguous",
                          name);
                return -2;
            }
            found = r->offset + k;
            *type = r->types[k];
        }
    }
    return found;
}

static sql_cte *scope_cte(bind_scope *sc, const char *name)
{
    for (bind_scope *s = sc; s; s = s->parent)
        for (int i = s->nctes - 1; i >= 0; i--)
            if (!strcmp(s->cte_names[i], name))
                return s->ctes[i];
    return NULL;
}

/* ---- FROM items ------------------------------------------------------------ */

static sql_plan *scan_of(binder *b, sql_table *t)
{
    sql_plan *p = mk_plan(b, SP_SCAN, t->ncols);
    if (!p)
        return NULL;
    p->scan.table = t;
    p->scan.cols = arena_zalloc(b->a, sizeof(int) * (size_t)(t->ncols ? t->ncols : 1));
    if (!p->scan.cols)
        return NULL;
    for (int i = 0; i < t->ncols; i++) {
        p->scan.cols[i] = i;
        p->types[i] = t->coltypes[i];
        p->names[i] = t->colnames[i];
    }
    p->scan.key_lo = INT64_MIN;
    p->scan.begin_ns = t->time_col >= 0 ? b->qbegin : INT64_MIN;
    p->scan.end_ns = t->time_col >= 0 ? b->qend : INT64_MAX;
    if (p->scan.begin_ns != INT64_MIN || p->scan.end_ns != INT64_MAX) {
        /* the query's time range is a predicate like any other (EXPLAIN shows it): rows
         * whose time is in [begin, end), spans whose [begin, end] meets it */
        sql_expr *conj[2];
        int nc = 0;
        int lo_col = t->end_col >= 0 ? t->end_col : t->time_col;
        int64_t bounds[2] = {p->scan.begin_ns, p->scan.end_ns};
        const char *ops[2] = {">=", "<"};
        int cols[2] = {lo_col, t->time_col};
        for (int k = 0; k < 2; k++) {
            if (bounds[k] == (k ? INT64_MAX : INT64_MIN))
                continue;
            sql_datum d = sql_datum_null();
            d.null = false;
            d.i = bounds[k];
            sql_expr *args[2] = {mk_col(b, cols[k], t->coltypes[cols[k]], -1),
                                 mk_const(b, t->coltypes[cols[k]], &d, -1)};
            if (!args[0] || !args[1] || !(conj[nc] = resolve_func(b, ops[k], args, 2, -1, true)))
                return NULL;
            nc++;
        }
        if (nc == 2) {
            sql_expr *a = mk_expr(b, SE_AND, sql_type_of(ST_BOOL), -1, 2);
            if (!a)
                return NULL;
            a->args[0] = conj[0];
            a->args[1] = conj[1];
            p->scan.filter = a;
        } else {
            p->scan.filter = conj[0];
        }
    }
    sql_scan_req req = {0};
    req.begin_ns = p->scan.begin_ns;
    req.end_ns = p->scan.end_ns;
    double est = t->ops && t->ops->estimate ? t->ops->estimate(t, &req) : -1;
    p->est_rows = est >= 0 ? est : 1000;
    return p;
}

/* Column aliases of an Alias node (t AS x(a, b)), applied to the first columns. */
static int apply_alias(binder *b, const PgQuery__Alias *al, sql_plan *p, const char ***names)
{
    *names = p->names;
    if (!al || !al->n_colnames)
        return 0;
    if ((int)al->n_colnames > p->ncols)
        return bind_fail(b, "42P10", -1, "table \"%s\" has %d columns available but %d columns "
                         "specified", al->aliasname, p->ncols, (int)al->n_colnames);
    const char **n = arena_zalloc(b->a, sizeof *n * (size_t)p->ncols);
    if (!n)
        return -1;
    for (int i = 0; i < p->ncols; i++)
        n[i] = i < (int)al->n_colnames ? node_str(al->colnames[i]) : p->names[i];
    *names = n;
    return 0;
}

static void free_tree(void *tree)
{
    pg_query__parse_result__free_unpacked(tree, NULL);
}

static sql_plan *bind_view(binder *b, const sql_table *t, int loc)
{
    sql_parsed ps;
    sql_err pe;
    sql_err_clear(&pe);
    if (sql_parse(t->view_sql, &ps, &pe) || ps.n_stmts != 1 ||
        ps.tree->stmts[0]->stmt->node_case != PG_QUERY__NODE__NODE_SELECT_STMT) {
        sql_parsed_free(&ps);
        bind_fail(b, SQLSTATE_INTERNAL, loc, "view \"%s\" cannot be parsed: %s", t->name, pe.msg);
        return NULL;
    }
    /* the view binds in its own world: no outer scope, its own text for positions */
    const char *text = b->text;
    b->text = t->view_sql;
    sql_plan *p = bind_select(b, NULL, ps.tree->stmts[0]->stmt->select_stmt);
    b->text = text;
    /* the parse tree must outlive the binding only: names were copied into the arena */
    if (!p && b->e && b->e->position)
        b->e->position = loc + 1;
    if (p && t->ncols == p->ncols)
        for (int i = 0; i < p->ncols; i++)
            p->names[i] = t->colnames[i]; /* CREATE VIEW v (a, b) AS ... */
    arena_on_cleanup(b->a, free_tree, ps.tree);
    return p;
}

struct sql_table *sql_user_lookup(sql_engine *eng, const char *name, arena *a, sql_err *e);

static sql_plan *bind_rangevar(binder *b, bind_scope *sc, const PgQuery__RangeVar *rv,
                               const char **alias)
{
    *alias = rv->alias && pstr(rv->alias->aliasname) ? rv->alias->aliasname : rv->relname;
    const char *schema = pstr(rv->schemaname);
    if (!schema) {
        sql_cte *c = scope_cte(sc, rv->relname);
        if (c) {
            sql_plan *p = mk_plan(b, SP_CTE_REF, c->plan->ncols);
            if (!p)
                return NULL;
            memcpy(p->types, c->plan->types, sizeof *p->types * (size_t)p->ncols);
            memcpy(p->names, c->plan->names, sizeof *p->names * (size_t)p->ncols);
            p->cte_ref.cte = c;
            p->est_rows = c->plan->est_rows;
            c->refs++;
            return p;
        }
    }
    const sql_catalog_hook *h = b->s->hook;
    sql_table *t = h && h->table && !schema ? h->table(h->arg, rv->relname) : NULL;
    if (!t && h && h->table_for && !schema)
        t = h->table_for(h->arg, rv->relname, b->a);
    if (!t)
        t = sql_builtin_table(b->s->eng, schema, rv->relname, b->a);
    if (!t && (!schema || !strcmp(schema, "public"))) {
        sql_err ue;
        sql_err_clear(&ue);
        t = sql_user_lookup(b->s->eng, rv->relname, b->a, &ue);
        if (!t && ue.state[0]) {
            *b->e = ue;
            return NULL;
        }
    }
    if (!t) {
        bind_fail(b, SQLSTATE_UNDEFINED_TABLE, rv->location, "relation \"%s%s%s\" does not exist",
                  schema ? schema : "", schema ? "." : "", rv->relname);
        return NULL;
    }
    if (t->kind == TABLE_VIEW)
        return bind_view(b, t, rv->location);
    return scan_of(b, t);
}

/* Computable without a row of this query: constants, parameters and functions of
 * them, now (per_run false); or each time the query runs, which may also use the
 * enclosing queries' columns (SE_OUTER) and volatile functions (per_run true). */
static bool rowless(const sql_expr *e, bool per_run)
{
    if (!e)
        return true;
    switch ((sql_ekind)e->kind) {
    case SE_COL:
    case SE_SUBQUERY:
    case SE_AGG:
    case SE_WINDOW: return false;
    case SE_OUTER: return per_run;
    default: break;
    }
    if (e->volatile_ && !per_run)
        return false;
    for (int i = 0; i < e->nargs; i++)
        if (!rowless(e->args[i], per_run))
            return false;
    return true;
}

/* A scalar function in FROM (`string_to_array(...) s`): one row, its one column
 * named after the alias, as PostgreSQL does. */
static sql_plan *scalar_in_from(binder *b, bind_scope *sc, const PgQuery__RangeFunction *rf,
                                const PgQuery__Node *call, const char *name, const char **alias)
{
    sql_plan *p = mk_plan(b, SP_VALUES, 1);
    sql_expr **row = p ? arena_zalloc(b->a, sizeof *row) : NULL;
    if (!row || !(p->values.rows = arena_zalloc(b->a, sizeof row)) ||
        !(row[0] = bind_expr(b, sc, call)))
        return NULL;
    p->values.rows[0] = row;
    p->values.nrows = 1;
    p->types[0] = row[0]->type;
    *alias = rf->alias && pstr(rf->alias->aliasname) ? rf->alias->aliasname : name;
    p->names[0] = *alias;
    p->est_rows = 1;
    return p;
}

static sql_plan *bind_rangefunc(binder *b, bind_scope *sc, const PgQuery__RangeFunction *rf,
                                const char **alias)
{
    if (rf->n_functions != 1 || rf->lateral || rf->is_rowsfrom) {
        bind_fail(b, SQLSTATE_FEATURE, -1, "only a single function call is supported in FROM");
        return NULL;
    }
    const PgQuery__List *l = rf->functions[0]->list;
    const PgQuery__FuncCall *f = l && l->n_items ? l->items[0]->func_call : NULL;
    if (!f) {
        bind_fail(b, SQLSTATE_FEATURE, -1, "unsupported function in FROM");
        return NULL;
    }
    const char *name = node_str(f->funcname[f->n_funcname - 1]);
    const sql_catalog_hook *h = b->s->hook;
    const sql_hook_tfunc *ht = h && h->tfunc ? h->tfunc(h->arg, name) : NULL;
    const sql_tfunc *tf = ht ? &ht->tf : sql_tfunc_find(name);
    int nscalar = 0;
    if (!tf && sql_func_candidates(name, &nscalar) && nscalar)
        return scalar_in_from(b, sc, rf, l->items[0], name, alias);
    if (!tf) {
        bind_fail(b, SQLSTATE_UNDEFINED_FUNCTION, f->location, "function %s(...) does not exist "
                  "as a table function", name);
        return NULL;
    }
    if (b->s->no_admin && sql_tfunc_is_admin(tf)) {
        bind_fail(b, "42501", f->location, "permission denied for function %s: it needs a key "
                  "with the admin scope", name);
        return NULL;
    }
    int nargs = (int)f->n_args;
    if (nargs < tf->min_args || nargs > tf->max_args) {
        bind_fail(b, SQLSTATE_UNDEFINED_FUNCTION, f->location, "function %s takes %d to %d arguments",
                  name, tf->min_args, tf->max_args);
        return NULL;
    }
    sql_datum args[8];
    sql_type types[8], want[8];
    sql_expr *ae[8];
    for (int i = 0; i < nargs && i < 8; i++) {
        const PgQuery__Node *an = f->args[i];
        if (ht && i < ht->name_args && an->node_case == PG_QUERY__NODE__NODE_COLUMN_REF &&
            an->column_ref->n_fields == 1 && node_str(an->column_ref->fields[0])) {
            /* a bare name (a relation, a column) is its text */
            const char *nm = node_str(an->column_ref->fields[0]);
            sql_datum d = sql_datum_null();
            d.null = false;
            d.s.p = (const uint8_t *)nm;
            d.s.n = (uint32_t)strlen(nm);
            ae[i] = mk_const(b, sql_type_of(ST_TEXT), &d, an->column_ref->location);
        } else {
            ae[i] = bind_expr(b, sc, an);
        }
        if (!ae[i])
            return NULL;
        types[i] = ae[i]->type;
    }
    if (!tf->arg_types(types, nargs, want)) {
        dbuf sig;
        dbuf_init(&sig, 4096);
        char tb[64];
        for (int i = 0; i < nargs; i++)
            dbuf_printf(&sig, "%s%s", i ? ", " : "", type_name(types[i], tb));
        bind_fail(b, SQLSTATE_UNDEFINED_FUNCTION, f->location, "function %s(%.*s) does not exist",
                  name, (int)sig.len, sig.p ? (const char *)sig.p : "");
        dbuf_free(&sig);
        sql_err_hint(b->e, "No function matches the given name and argument types. You might "
                           "need to add explicit type casts.");
        return NULL;
    }
    bool per_run = false;
    for (int i = 0; i < nargs && i < 8; i++) {
        sql_expr *e = ae[i];
        if (want[i].id != ST_NULL && !sql_type_eq(want[i], e->type) &&
            !(e = coerce(b, e, want[i], 'i', name)))
            return NULL;
        bool now = rowless(e, false);
        if (!now && (!tf->outer_args || !rowless(e, true))) {
            bind_fail(b, SQLSTATE_FEATURE, e->loc, "arguments of %s must be constants, "
                      "parameters or columns of an enclosing query", name);
            return NULL;
        }
        if (!now) {
            per_run = true; /* bound with NULL here, with the value at each run */
            args[i] = sql_datum_null();
        } else {
            if (e->kind != SE_CONST && !(e = fold(b, e)))
                return NULL;
            args[i] = e->c;
        }
        types[i] = e->type;
        ae[i] = e;
    }
    sql_table *t;
    sql_err te;
    sql_err_clear(&te);
    if (ht ? ht->bind_arg(h->arg, args, types, nargs, &t, &te)
           : tf->bind(b->s->eng, args, types, nargs, &t, &te)) {
        *b->e = te;
        if (!b->e->position)
            b->e->position = f->location + 1;
        return NULL;
    }
    arena_on_cleanup(b->a, (void (*)(void *))sql_table_free, t);
    *alias = rf->alias && pstr(rf->alias->aliasname) ? rf->alias->aliasname : name;
    sql_plan *p = scan_of(b, t);
    if (p && per_run) {
        p->scan.tf = tf;
        p->scan.tf_nargs = nargs;
        if (!(p->scan.tf_args = arena_alloc(b->a, sizeof *ae * (size_t)nargs)))
            return NULL;
        memcpy(p->scan.tf_args, ae, sizeof *ae * (size_t)nargs);
    }
    /* a function returning one column is named after its alias, as in PostgreSQL */
    if (p && p->ncols == 1 && rf->alias && !rf->alias->n_colnames && !strcmp(t->colnames[0], name))
        p->names[0] = *alias;
    return p;
}

static sql_plan *bind_from_item(binder *b, bind_scope *sc, const PgQuery__Node *n);

/* Adds the equality of USING/NATURAL columns to cond; marks the right ones hidden. */
static sql_expr *using_cond(binder *b, bind_scope *sc, int l_rte, int r_rte, const char **cols,
                            int ncols, int loc)
{
    bind_rte *L = &sc->rtes[l_rte], *R = &sc->rtes[r_rte];
    sql_expr *cond = NULL;
    for (int i = 0; i < ncols; i++) {
        int li = -1, ri = -1;
        for (int k = 0; k < L->ncols; k++)
            if (!strcmp(L->names[k], cols[i]) && !(L->hidden && L->hidden[k]))
                li = k;
        for (int k = 0; k < R->ncols; k++)
            if (!strcmp(R->names[k], cols[i]))
                ri = k;
        if (li < 0 || ri < 0) {
            bind_fail(b, SQLSTATE_UNDEFINED_COLUMN, loc, "column \"%s\" specified in USING clause "
                      "does not exist in %s table", cols[i], li < 0 ? "left" : "right");
            return NULL;
        }
        sql_expr *l = mk_col(b, L->offset + li, L->types[li], loc);
        sql_expr *r = mk_col(b, R->offset + ri, R->types[ri], loc);
        sql_expr *args[2] = {l, r};
        sql_expr *eq = resolve_func(b, "=", args, 2, loc, true);
        if (!eq)
            return NULL;
        if (!R->hidden && !(R->hidden = arena_zalloc(b->a, sizeof(bool) * (size_t)R->ncols)))
            return NULL;
        R->hidden[ri] = true;
        if (!cond) {
            cond = eq;
        } else {
            sql_expr *a = mk_expr(b, SE_AND, sql_type_of(ST_BOOL), loc, 2);
            if (!a)
                return NULL;
            a->args[0] = cond;
            a->args[1] = eq;
            cond = a;
        }
    }
    return cond ? cond : mk_bool_const(b, true);
}

typedef struct shift_arg {
    int base, width;
    bool outside;
} shift_arg;

static void shift_col(sql_expr *c, void *arg)
{
    shift_arg *a = arg;
    c->col -= a->base;
    if (c->col < 0 || c->col >= a->width)
        a->outside = true;
}

static sql_plan *bind_join(binder *b, bind_scope *sc, const PgQuery__JoinExpr *j)
{
    int l_first = sc->nrtes;
    sql_plan *l = bind_from_item(b, sc, j->larg);
    if (!l)
        return NULL;
    int l_last = sc->nrtes - 1, r_first = sc->nrtes;
    sql_plan *r = bind_from_item(b, sc, j->rarg);
    if (!r)
        return NULL;
    sql_plan *p = mk_plan(b, SP_JOIN, l->ncols + r->ncols);
    if (!p)
        return NULL;
    p->child = l;
    p->right = r;
    memcpy(p->types, l->types, sizeof *p->types * (size_t)l->ncols);
    memcpy(p->types + l->ncols, r->types, sizeof *p->types * (size_t)r->ncols);
    memcpy(p->names, l->names, sizeof *p->names * (size_t)l->ncols);
    memcpy(p->names + l->ncols, r->names, sizeof *p->names * (size_t)r->ncols);
    switch (j->jointype) {
    case PG_QUERY__JOIN_TYPE__JOIN_LEFT: p->join.type = SJ_LEFT; break;
    case PG_QUERY__JOIN_TYPE__JOIN_RIGHT: p->join.type = SJ_RIGHT; break;
    case PG_QUERY__JOIN_TYPE__JOIN_FULL: p->join.type = SJ_FULL; break;
    default: p->join.type = SJ_INNER; break;
    }
    p->est_rows = l->est_rows > r->est_rows ? l->est_rows : r->est_rows;
    /* the ON clause sees both sides (the rtes just added); no aggregates there */
    agg_collect *ac = b->agg;
    b->agg = NULL;
    sql_expr *cond = NULL;
    if (j->is_natural || j->n_using_clause) {
        const char *cols[256];
        int nc = 0;
        if (j->is_natural) {
            /* the columns both sides have, in the left side's order */
            for (int li = l_first; li <= l_last; li++)
                for (int k = 0; k < sc->rtes[li].ncols && nc < 256; k++)
                    for (int ri = r_first; ri < sc->nrtes; ri++)
                        for (int m = 0; m < sc->rtes[ri].ncols; m++)
                            if (!strcmp(sc->rtes[li].names[k], sc->rtes[ri].names[m]))
                                cols[nc++] = sc->rtes[li].names[k];
        } else {
            for (size_t i = 0; i < j->n_using_clause && nc < 256; i++)
                cols[nc++] = node_str(j->using_clause[i]);
        }
        if (r_first != sc->nrtes - 1 || l_first != l_last) {
            b->agg = ac;
            bind_fail(b, SQLSTATE_FEATURE, -1, "USING and NATURAL joins are supported between two "
                      "tables (use ON for nested joins)");
            return NULL;
        }
        cond = using_cond(b, sc, l_first, r_first, cols, nc, -1);
    } else if (j->quals) {
        cond = bind_cond(b, sc, j->quals, "JOIN/ON");
    } else {
        p->join.type = SJ_CROSS;
        cond = mk_bool_const(b, true);
    }
    b->agg = ac;
    if (!cond)
        return NULL;
    /* the ON condition refers to scope columns: shift them to the join's row */
    shift_arg sa = {sc->rtes[l_first].offset, l->ncols + r->ncols, 0};
    sql_expr_walk_cols(cond, shift_col, &sa);
    if (sa.outside) {
        bind_fail(b, "42P01", -1, "invalid reference to FROM-clause entry outside this JOIN");
        return NULL;
    }
    p->join.cond = cond;
    if (j->alias) {
        bind_fail(b, SQLSTATE_FEATURE, -1, "an alias on a JOIN is not supported");
        return NULL;
    }
    return p;
}

static sql_plan *bind_from_item(binder *b, bind_scope *sc, const PgQuery__Node *n)
{
    const char *alias = NULL;
    sql_plan *p = NULL;
    const PgQuery__Alias *al = NULL;
    switch (n->node_case) {
    case PG_QUERY__NODE__NODE_RANGE_VAR:
        p = bind_rangevar(b, sc, n->range_var, &alias);
        al = n->range_var->alias;
        break;
    case PG_QUERY__NODE__NODE_RANGE_SUBSELECT: {
        const PgQuery__RangeSubselect *rs = n->range_subselect;
        if (rs->lateral) {
            bind_fail(b, SQLSTATE_FEATURE, -1, "LATERAL subqueries are not supported");
            return NULL;
        }
        /* a subquery in FROM sees the enclosing scopes and the CTEs, not its siblings */
        bind_scope tmp = {.parent = sc->parent, .transparent = true, .ctes = sc->ctes,
                          .cte_names = sc->cte_names, .nctes = sc->nctes};
        p = bind_select(b, &tmp, rs->subquery->select_stmt);
        alias = rs->alias ? pstr(rs->alias->aliasname) : NULL;
        al = rs->alias;
        break;
    }
    case PG_QUERY__NODE__NODE_RANGE_FUNCTION:
        p = bind_rangefunc(b, sc, n->range_function, &alias);
        al = n->range_function->alias;
        break;
    case PG_QUERY__NODE__NODE_JOIN_EXPR:
        return bind_join(b, sc, n->join_expr);
    default:
        bind_fail(b, SQLSTATE_FEATURE, -1, "unsupported FROM item");
        return NULL;
    }
    if (!p)
        return NULL;
    const char **names;
    if (apply_alias(b, al, p, &names) ||
        scope_add(b, sc, alias, p->ncols, names, p->types, NULL))
        return NULL;
    if (names != p->names)
        memcpy(p->names, names, sizeof *names * (size_t)p->ncols);
    return p;
}

static sql_plan *bind_from(binder *b, bind_scope *sc, PgQuery__Node **items, size_t n)
{
    if (!n) {
        sql_plan *p = mk_plan(b, SP_RESULT, 0);
        if (p)
            p->est_rows = 1;
        return p;
    }
    sql_plan *p = NULL;
    for (size_t i = 0; i < n; i++) {
        sql_plan *q = bind_from_item(b, sc, items[i]);
        if (!q)
            return NULL;
        if (!p) {
            p = q;
            continue;
        }
        /* FROM a, b: a cross join (WHERE conditions become join keys in optimize.c) */
        sql_plan *j = mk_plan(b, SP_JOIN, p->ncols + q->ncols);
        if (!j)
            return NULL;
        j->child = p;
        j->right = q;
        j->join.type = SJ_CROSS;
        j->join.cond = mk_bool_const(b, true);
        memcpy(j->types, p->types, sizeof *j->types * (size_t)p->ncols);
        memcpy(j->types + p->ncols, q->types, sizeof *j->types * (size_t)q->ncols);
        memcpy(j->names, p->names, sizeof *j->names * (size_t)p->ncols);
        memcpy(j->names + p->ncols, q->names, sizeof *j->names * (size_t)q->ncols);
        j->est_rows = p->est_rows * q->est_rows;
        p = j;
    }
    return p;
}

/* ---- WITH --------------------------------------------------------------- */

static int bind_with(binder *b, bind_scope *sc, const PgQuery__WithClause *w)
{
    if (!w)
        return 0;
    sc->ctes = arena_zalloc(b->a, sizeof *sc->ctes * w->n_ctes);
    sc->cte_names = arena_zalloc(b->a, sizeof *sc->cte_names * w->n_ctes);
    if (!sc->ctes || !sc->cte_names)
        return -1;
    for (size_t i = 0; i < w->n_ctes; i++) {
        const PgQuery__CommonTableExpr *c = w->ctes[i]->common_table_expr;
        if (c->ctequery->node_case != PG_QUERY__NODE__NODE_SELECT_STMT)
            return bind_fail(b, SQLSTATE_FEATURE, c->location, "WITH supports SELECT queries only");
        const PgQuery__SelectStmt *q = c->ctequery->select_stmt;
        sql_cte *cte = arena_zalloc(b->a, sizeof *cte);
        if (!cte)
            return -1;
        cte->name = c->ctename;
        if (w->recursive && q->op == PG_QUERY__SET_OPERATION__SETOP_UNION) {
            /* WITH RECURSIVE: the left part first, then the right one reading the CTE */
            bind_scope inner = {.parent = sc->parent, .transparent = true, .ctes = sc->ctes,
                                .cte_names = sc->cte_names, .nctes = sc->nctes};
            sql_plan *seed = bind_select(b, &inner, q->larg);
            if (!seed)
                return -1;
            cte->plan = seed;
            cte->recursive = true;
            cte->union_all = q->all;
            if (c->n_aliascolnames) {
                if ((int)c->n_aliascolnames > seed->ncols)
                    return bind_fail(b, "42P10", c->location, "WITH query \"%s\" has %d columns "
                                     "available but %d columns specified", c->ctename,
                                     seed->ncols, (int)c->n_aliascolnames);
                for (size_t k = 0; k < c->n_aliascolnames; k++)
                    seed->names[k] = node_str(c->aliascolnames[k]);
            }
            sc->ctes[sc->nctes] = cte;
            sc->cte_names[sc->nctes++] = c->ctename;
            inner.ctes = sc->ctes;
            inner.cte_names = sc->cte_names;
            inner.nctes = sc->nctes;
            sql_plan *rec = bind_select(b, &inner, q->rarg);
            if (!rec)
                return -1;
            if (rec->ncols != seed->ncols)
                return bind_fail(b, SQLSTATE_DATATYPE_MISMATCH, c->location, "each UNION query must "
                                 "have the same number of columns");
            for (int k = 0; k < seed->ncols; k++)
                if (rec->types[k].id != seed->types[k].id)
                    return bind_fail(b, SQLSTATE_DATATYPE_MISMATCH, c->location, "recursive query "
                                     "\"%s\" column %d has type %s in its non-recursive term but "
                                     "a different type overall", c->ctename, k + 1,
                                     type_name(seed->types[k], (char[64]){0}));
            cte->recursive_part = rec;
            continue;
        }
        bind_scope inner = {.parent = sc->parent, .transparent = true, .ctes = sc->ctes,
                            .cte_names = sc->cte_names, .nctes = sc->nctes};
        sql_plan *p = bind_select(b, &inner, q);
        if (!p)
            return -1;
        if (c->n_aliascolnames) {
            if ((int)c->n_aliascolnames > p->ncols)
                return bind_fail(b, "42P10", c->location, "WITH query \"%s\" has %d columns "
                                 "available but %d columns specified", c->ctename, p->ncols,
                                 (int)c->n_aliascolnames);
            for (size_t k = 0; k < c->n_aliascolnames; k++)
                p->names[k] = node_str(c->aliascolnames[k]);
        }
        cte->plan = p;
        sc->ctes[sc->nctes] = cte;
        sc->cte_names[sc->nctes++] = c->ctename;
    }
    return 0;
}

/* ---- VALUES ------------------------------------------------------------- */

static sql_plan *bind_values(binder *b, bind_scope *sc, const PgQuery__SelectStmt *s)
{
    int nrows = (int)s->n_values_lists;
    int ncols = (int)s->values_lists[0]->list->n_items;
    sql_plan *p = mk_plan(b, SP_VALUES, ncols);
    if (!p)
        return NULL;
    p->values.nrows = nrows;
    p->values.rows = arena_zalloc(b->a, sizeof(sql_expr **) * (size_t)nrows);
    sql_expr **col = arena_zalloc(b->a, sizeof *col * (size_t)nrows);
    if (!p->values.rows || !col)
        return NULL;
    for (int r = 0; r < nrows; r++) {
        const PgQuery__List *l = s->values_lists[r]->list;
        if ((int)l->n_items != ncols) {
            bind_fail(b, SQLSTATE_SYNTAX, -1, "VALUES lists must all be the same length");
            return NULL;
        }
        if (!(p->values.rows[r] = arena_zalloc(b->a, sizeof(sql_expr *) * (size_t)ncols)))
            return NULL;
        for (int c = 0; c < ncols; c++)
            if (!(p->values.rows[r][c] = bind_expr(b, sc, l->items[c])))
                return NULL;
    }
    for (int c = 0; c < ncols; c++) {
        for (int r = 0; r < nrows; r++)
            col[r] = p->values.rows[r][c];
        sql_type t;
        if (!common_type(b, col, nrows, "VALUES", &t))
            return NULL;
        for (int r = 0; r < nrows; r++)
            if (!(p->values.rows[r][c] = coerce(b, p->values.rows[r][c], t, 'i', "VALUES item")))
                return NULL;
        p->types[c] = t;
        char name[32];
        snprintf(name, sizeof name, "column%d", c + 1);
        p->names[c] = arena_strndup(b->a, name, strlen(name));
    }
    p->est_rows = nrows;
    return p;
}

/* ---- set operations ----------------------------------------------------- */

/* A projection casting p's columns to types (when they differ). */
static sql_plan *cast_columns(binder *b, sql_plan *p, const sql_type *types)
{
    bool same = true;
    for (int i = 0; i < p->ncols; i++)
        same &= p->types[i].id == types[i].id;
    if (same)
        return p;
    sql_plan *pr = mk_plan(b, SP_PROJECT, p->ncols);
    if (!pr)
        return NULL;
    pr->child = p;
    pr->est_rows = p->est_rows;
    for (int i = 0; i < p->ncols; i++) {
        sql_expr *c = mk_col(b, i, p->types[i], -1);
        if (!(pr->project.exprs[i] = coerce(b, c, types[i], 'i', "UNION column")))
            return NULL;
        pr->types[i] = types[i];
        pr->names[i] = p->names[i];
    }
    return pr;
}

static sql_plan *order_limit(binder *b, bind_scope *sc, sql_plan *p, const PgQuery__SelectStmt *s);

static sql_plan *bind_setop(binder *b, bind_scope *outer, const PgQuery__SelectStmt *s)
{
    sql_plan *l = bind_select(b, outer, s->larg), *r = l ? bind_select(b, outer, s->rarg) : NULL;
    if (!l || !r)
        return NULL;
    const char *what = s->op == PG_QUERY__SET_OPERATION__SETOP_UNION ? "UNION"
                       : s->op == PG_QUERY__SET_OPERATION__SETOP_INTERSECT ? "INTERSECT" : "EXCEPT";
    if (l->ncols != r->ncols) {
        bind_fail(b, SQLSTATE_SYNTAX, -1, "each %s query must have the same number of columns", what);
        return NULL;
    }
    sql_type *types = arena_alloc(b->a, sizeof *types * (size_t)(l->ncols ? l->ncols : 1));
    if (!types)
        return NULL;
    for (int i = 0; i < l->ncols; i++) {
        sql_expr le = {.kind = SE_COL, .type = l->types[i], .loc = -1};
        sql_expr re = {.kind = SE_COL, .type = r->types[i], .loc = -1};
        sql_expr *two[2] = {&le, &re};
        if (!common_type(b, two, 2, what, &types[i]))
            return NULL;
    }
    if (!(l = cast_columns(b, l, types)) || !(r = cast_columns(b, r, types)))
        return NULL;
    sql_plan *p = mk_plan(b, SP_SETOP, l->ncols);
    if (!p)
        return NULL;
    p->child = l;
    p->right = r;
    p->setop.op = s->op == PG_QUERY__SET_OPERATION__SETOP_UNION ? SO_UNION
                  : s->op == PG_QUERY__SET_OPERATION__SETOP_INTERSECT ? SO_INTERSECT : SO_EXCEPT;
    p->setop.all = s->all;
    memcpy(p->types, types, sizeof *types * (size_t)l->ncols);
    memcpy(p->names, l->names, sizeof *p->names * (size_t)l->ncols);
    p->est_rows = l->est_rows + r->est_rows;
    /* ORDER BY and LIMIT of the whole: by output name or number */
    bind_scope sc = {.parent = outer};
    if (scope_add(b, &sc, NULL, p->ncols, p->names, p->types, NULL))
        return NULL;
    return order_limit(b, &sc, p, s);
}

/* ---- SELECT ------------------------------------------------------------- */

/* ORDER BY and LIMIT over an already projected plan whose columns are the scope's row. */
static sql_plan *order_limit(binder *b, bind_scope *sc, sql_plan *p, const PgQuery__SelectStmt *s)
{
    if (s->n_sort_clause) {
        sql_plan *so = mk_plan(b, SP_SORT, p->ncols);
        if (!so)
            return NULL;
        so->child = p;
        memcpy(so->types, p->types, sizeof *p->types * (size_t)p->ncols);
        memcpy(so->names, p->names, sizeof *p->names * (size_t)p->ncols);
        so->sort.nkeys = (int)s->n_sort_clause;
        so->sort.keys = arena_zalloc(b->a, sizeof *so->sort.keys * s->n_sort_clause);
        so->sort.limit = -1;
        if (!so->sort.keys)
            return NULL;
        for (size_t i = 0; i < s->n_sort_clause; i++) {
            const PgQuery__SortBy *sb = s->sort_clause[i]->sort_by;
            sql_expr *e = NULL;
            const PgQuery__Node *n = sb->node;
            if (n->node_case == PG_QUERY__NODE__NODE_A_CONST &&
                n->a_const->val_case == PG_QUERY__A__CONST__VAL_IVAL) {
                int k = n->a_const->ival ? n->a_const->ival->ival : 0;
                if (k < 1 || k > p->ncols) {
                    bind_fail(b, "42P10", n->a_const->location, "ORDER BY position %d is not in "
                              "select list", k);
                    return NULL;
                }
                e = mk_col(b, k - 1, p->types[k - 1], -1);
            } else {
                e = bind_expr(b, sc, n);
            }
            if (!e)
                return NULL;
            bool d = sb->sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_DESC;
            so->sort.keys[i].e = e;
            so->sort.keys[i].desc = d;
            so->sort.keys[i].nulls_first =
                sb->sortby_nulls == PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_FIRST ||
                (sb->sortby_nulls != PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_LAST && d);
        }
        so->est_rows = p->est_rows;
        p = so;
    }
    if (s->limit_count || s->limit_offset) {
        if (s->limit_option == PG_QUERY__LIMIT_OPTION__LIMIT_OPTION_WITH_TIES) {
            bind_fail(b, SQLSTATE_FEATURE, -1, "FETCH ... WITH TIES is not supported");
            return NULL;
        }
        sql_plan *lp = mk_plan(b, SP_LIMIT, p->ncols);
        if (!lp)
            return NULL;
        lp->child = p;
        memcpy(lp->types, p->types, sizeof *p->types * (size_t)p->ncols);
        memcpy(lp->names, p->names, sizeof *p->names * (size_t)p->ncols);
        bind_scope none = {0};
        if (s->limit_count) {
            sql_expr *c = bind_expr(b, &none, s->limit_count);
            if (!c || !(c = coerce(b, c, sql_type_of(ST_INT8), 'a', "argument of LIMIT")))
                return NULL;
            if (c->kind == SE_CONST && !c->c.null && c->c.i < 0) {
                bind_fail(b, "2201W", c->loc, "LIMIT must not be negative");
                return NULL;
            }
            lp->limit.count = c;
        }
        if (s->limit_offset) {
            sql_expr *o = bind_expr(b, &none, s->limit_offset);
            if (!o || !(o = coerce(b, o, sql_type_of(ST_INT8), 'a', "argument of OFFSET")))
                return NULL;
            if (o->kind == SE_CONST && !o->c.null && o->c.i < 0) {
                bind_fail(b, "2201X", o->loc, "OFFSET must not be negative");
                return NULL;
            }
            lp->limit.offset = o;
        }
        lp->est_rows = p->est_rows;
        p = lp;
    }
    return p;
}

/* A select list's room doubled (the n items kept). */
static int grow_list(binder *b, sql_expr ***ex, const char ***nm, int n, int *cap)
{
    int nc = *cap * 2;
    sql_expr **e2 = arena_alloc(b->a, sizeof *e2 * (size_t)nc);
    const char **n2 = arena_alloc(b->a, sizeof *n2 * (size_t)nc);
    if (!e2 || !n2)
        return -1;
    memcpy(e2, *ex, sizeof *e2 * (size_t)n);
    memcpy(n2, *nm, sizeof *n2 * (size_t)n);
    *ex = e2;
    *nm = n2;
    *cap = nc;
    return 0;
}

/* Expands `*` and `t.*` into column references; appends to exprs/names. */
static int expand_star(binder *b, bind_scope *sc, const PgQuery__ColumnRef *cr, sql_expr ***ex,
                       const char ***nm, int *n, int *cap)
{
    const char *qual = cr->n_fields == 2 ? node_str(cr->fields[0]) : NULL;
    bool any = false;
    for (int i = 0; i < sc->nrtes; i++) {
        const bind_rte *r = &sc->rtes[i];
        if (qual && (!r->alias || strcmp(r->alias, qual)))
            continue;
        any = true;
        for (int k = 0; k < r->ncols; k++) {
            if (!qual && r->hidden && r->hidden[k])
                continue;
            if (*n == *cap && grow_list(b, ex, nm, *n, cap))
                return -1;
            (*ex)[*n] = mk_col(b, r->offset + k, r->types[k], cr->location);
            (*nm)[(*n)++] = r->names[k];
        }
    }
    if (!any)
        return bind_fail(b, qual ? SQLSTATE_UNDEFINED_TABLE : SQLSTATE_SYNTAX, cr->location,
                         qual ? "missing FROM-clause entry for table \"%s\""
                              : "SELECT * with no tables specified is not valid", qual ? qual : "");
    return 0;
}

static bool is_srf(const sql_expr *e)
{
    return e && e->kind == SE_FUNC && e->fn && (e->fn->flags & FN_SRF);
}

static bool has_srf(const sql_expr *e)
{
    if (!e)
        return false;
    if (is_srf(e))
        return true;
    for (int i = 0; i < e->nargs; i++)
        if (has_srf(e->args[i]))
            return true;
    return has_srf(e->filter);
}

/* A select-list item: a set-returning call may be its whole value (the
 * projection then expands rows: ProjectSet), not a part of it. */
static sql_expr *bind_target(binder *b, bind_scope *sc, const PgQuery__Node *v)
{
    b->srf_ok = true;
    sql_expr *e = bind_expr(b, sc, v);
    b->srf_ok = false;
    if (!e)
        return NULL;
    bool nested = false;
    for (int i = 0; i < e->nargs && is_srf(e); i++)
        nested |= has_srf(e->args[i]);
    if (nested || (!is_srf(e) && has_srf(e))) {
        bind_fail(b, SQLSTATE_FEATURE, e->loc, "set-returning functions are supported only as "
                  "whole items of a select list");
        return NULL;
    }
    return e;
}

static sql_plan *bind_select_level(binder *b, bind_scope *outer, const PgQuery__SelectStmt *s);

/* A SELECT: its clauses see no set-returning functions but in its select list
 * (an enclosing select list's permission does not reach inside). */
sql_plan *bind_select(binder *b, bind_scope *outer, const PgQuery__SelectStmt *s)
{
    bool saved = b->srf_ok;
    b->srf_ok = false;
    sql_plan *p = bind_select_level(b, outer, s);
    b->srf_ok = saved;
    return p;
}

static sql_plan *bind_select_level(binder *b, bind_scope *outer, const PgQuery__SelectStmt *s)
{
    if (s->op != PG_QUERY__SET_OPERATION__SETOP_NONE &&
        s->op != PG_QUERY__SET_OPERATION__SET_OPERATION_UNDEFINED) {
        if (!s->with_clause)
            return bind_setop(b, outer, s);
        bind_scope wsc = {.parent = outer, .transparent = true};
        if (bind_with(b, &wsc, s->with_clause))
            return NULL;
        return bind_setop(b, &wsc, s);
    }
    if (s->into_clause) {
        bind_fail(b, SQLSTATE_FEATURE, -1, "SELECT INTO is not supported; use CREATE TABLE AS");
        return NULL;
    }
    if (s->n_locking_clause) {
        bind_fail(b, SQLSTATE_FEATURE, -1, "FOR UPDATE/SHARE is not supported");
        return NULL;
    }
    bind_scope sc = {.parent = outer}; /* CTEs of enclosing queries: found through parent */
    if (bind_with(b, &sc, s->with_clause))
        return NULL;
    if (s->n_values_lists) {
        sql_plan *v = bind_values(b, &sc, s);
        return v ? order_limit(b, &sc, v, s) : NULL;
    }
    agg_collect *saved_agg = b->agg;
    b->agg = NULL; /* WHERE and FROM: no aggregates */
    sql_plan *p = bind_from(b, &sc, s->from_clause, s->n_from_clause);
    if (!p)
        return NULL;
    if (s->where_clause) {
        sql_expr *w = bind_cond(b, &sc, s->where_clause, "WHERE");
        if (!w)
            return NULL;
        sql_plan *f = mk_plan(b, SP_FILTER, p->ncols);
        if (!f)
            return NULL;
        f->child = p;
        f->filter.pred = w;
        memcpy(f->types, p->types, sizeof *p->types * (size_t)p->ncols);
        memcpy(f->names, p->names, sizeof *p->names * (size_t)p->ncols);
        f->est_rows = p->est_rows / 3 + 1;
        p = f;
    }
    agg_collect ac = {.allowed = true, .win_allowed = true, .stmt = s};
    b->agg = &ac;
    /* the select list */
    int cap = (int)s->n_target_list + 8, n = 0;
    sql_expr **tl = arena_zalloc(b->a, sizeof *tl * (size_t)cap);
    const char **names = arena_zalloc(b->a, sizeof *names * (size_t)cap);
    if (!tl || !names)
        return NULL;
    for (size_t i = 0; i < s->n_target_list; i++) {
        const PgQuery__ResTarget *rt = s->target_list[i]->res_target;
        const PgQuery__Node *v = rt->val;
        if (v->node_case == PG_QUERY__NODE__NODE_COLUMN_REF && v->column_ref->n_fields &&
            v->column_ref->fields[v->column_ref->n_fields - 1]->node_case ==
                PG_QUERY__NODE__NODE_A_STAR) {
            if (expand_star(b, &sc, v->column_ref, &tl, &names, &n, &cap))
                return NULL;
            continue;
        }
        if (n == cap && grow_list(b, &tl, &names, n, &cap))
            return NULL;
        if (!(tl[n] = bind_target(b, &sc, v)))
            return NULL;
        if (tl[n]->type.id == ST_UNKNOWN && !(tl[n] = coerce(b, tl[n], sql_type_of(ST_TEXT), 'i', NULL)))
            return NULL;
        names[n++] = pstr(rt->name) ? rt->name : expr_colname(v);
    }
    /* HAVING */
    sql_expr *having = NULL;
    if (s->having_clause && !(having = bind_cond(b, &sc, s->having_clause, "HAVING")))
        return NULL;
    /* GROUP BY: input columns first, then output names and positions */
    int ng = (int)s->n_group_clause;
    sql_expr **groups = arena_zalloc(b->a, sizeof *groups * (size_t)(ng ? ng : 1));
    if (!groups)
        return NULL;
    ac.allowed = false;
    ac.win_allowed = false;
    for (int i = 0; i < ng; i++) {
        const PgQuery__Node *g = s->group_clause[i];
        if (g->node_case == PG_QUERY__NODE__NODE_A_CONST &&
            g->a_const->val_case == PG_QUERY__A__CONST__VAL_IVAL) {
            int k = g->a_const->ival ? g->a_const->ival->ival : 0;
            if (k < 1 || k > n) {
                bind_fail(b, "42P10", g->a_const->location, "GROUP BY position %d is not in select list", k);
                return NULL;
            }
            if (has_agg(tl[k - 1])) {
                bind_fail(b, SQLSTATE_GROUPING, g->a_const->location, "aggregate functions are not "
                          "allowed in GROUP BY");
                return NULL;
            }
            groups[i] = tl[k - 1];
            continue;
        }
        if (g->node_case == PG_QUERY__NODE__NODE_COLUMN_REF && g->column_ref->n_fields == 1) {
            const char *gn = node_str(g->column_ref->fields[0]);
            sql_type t;
            int c = gn ? scope_find(b, &sc, NULL, gn, g->column_ref->location, &t) : -1;
            if (c == -2)
                return NULL;
            if (c < 0) {
                for (int k = 0; k < n && !groups[i]; k++)
                    if (gn && !strcmp(names[k], gn))
                        groups[i] = tl[k];
                if (groups[i])
                    continue;
            }
        }
        if (g->node_case == PG_QUERY__NODE__NODE_GROUPING_SET ||
            g->node_case == PG_QUERY__NODE__NODE_ROW_EXPR) {
            bind_fail(b, SQLSTATE_FEATURE, -1, "GROUPING SETS, ROLLUP and CUBE are not supported");
            return NULL;
        }
        if (!(groups[i] = bind_expr(b, &sc, g)))
            return NULL;
    }
    for (int i = 0; i < ng; i++)
        if (has_srf(groups[i])) {
            bind_fail(b, SQLSTATE_FEATURE, groups[i]->loc, "set-returning functions in GROUP BY "
                      "are not supported");
            return NULL;
        }
    ac.allowed = true;
    ac.win_allowed = true;
    /* ORDER BY keys bound now (over the FROM row), matched to the select list later */
    int nsort = (int)s->n_sort_clause;
    sql_expr **skeys = arena_zalloc(b->a, sizeof *skeys * (size_t)(nsort ? nsort : 1));
    int *sref = arena_zalloc(b->a, sizeof *sref * (size_t)(nsort ? nsort : 1));
    if (!skeys || !sref)
        return NULL;
    for (int i = 0; i < nsort; i++) {
        const PgQuery__Node *k = s->sort_clause[i]->sort_by->node;
        sref[i] = -1;
        if (k->node_case == PG_QUERY__NODE__NODE_A_CONST &&
            k->a_const->val_case == PG_QUERY__A__CONST__VAL_IVAL) {
            int pos = k->a_const->ival ? k->a_const->ival->ival : 0;
            if (pos < 1 || pos > n) {
                bind_fail(b, "42P10", k->a_const->location, "ORDER BY position %d is not in select list", pos);
                return NULL;
            }
            sref[i] = pos - 1;
            continue;
        }
        if (k->node_case == PG_QUERY__NODE__NODE_COLUMN_REF && k->column_ref->n_fields == 1) {
            /* an output column name wins over an input column (PostgreSQL's rule) */
            const char *kn = node_str(k->column_ref->fields[0]);
            int hits = 0;
            for (int c = 0; kn && c < n; c++)
                if (!strcmp(names[c], kn)) {
                    if (hits++ == 0)
                        sref[i] = c;
                }
            if (hits > 1 && !(tl[sref[i]]->kind == SE_COL)) {
                bind_fail(b, SQLSTATE_AMBIGUOUS_COLUMN, k->column_ref->location,
                          "ORDER BY \"%s\" is ambiguous", kn);
                return NULL;
            }
            if (sref[i] >= 0)
                continue;
        }
        if (!(skeys[i] = bind_expr(b, &sc, k)))
            return NULL;
    }
    /* aggregation rewrites everything that reads the FROM row from here on */
    bool grouped = ng > 0 || ac.naggs > 0 || having;
    int nrew = n + nsort + 1;
    sql_expr ***rew = arena_zalloc(b->a, sizeof *rew * (size_t)nrew);
    if (!rew)
        return NULL;
    for (int i = 0; i < n; i++)
        rew[i] = &tl[i];
    for (int i = 0; i < nsort; i++)
        rew[n + i] = sref[i] < 0 ? &skeys[i] : NULL;
    rew[n + nsort] = &having;
    if (grouped) {
        if (!(p = plan_aggregate(b, p, &sc, groups, ng, rew, nrew)))
            return NULL;
        if (having) {
            sql_plan *f = mk_plan(b, SP_FILTER, p->ncols);
            if (!f)
                return NULL;
            f->child = p;
            f->filter.pred = having;
            memcpy(f->types, p->types, sizeof *p->types * (size_t)p->ncols);
            memcpy(f->names, p->names, sizeof *p->names * (size_t)p->ncols);
            f->est_rows = p->est_rows / 2 + 1;
            p = f;
        }
    }
    if (!(p = plan_windows(b, p, rew, n + nsort)))
        return NULL;
    b->agg = saved_agg;
    /* hidden columns for ORDER BY expressions that are not in the select list */
    int nhidden = 0;
    for (int i = 0; i < nsort; i++) {
        if (sref[i] >= 0)
            continue;
        for (int c = 0; c < n && sref[i] < 0; c++)
            if (expr_equal(tl[c], skeys[i]))
                sref[i] = c;
        if (sref[i] < 0)
            nhidden++;
    }
    if (nhidden && s->n_distinct_clause) {
        bind_fail(b, "42P10", -1, "for SELECT DISTINCT, ORDER BY expressions must appear in "
                  "select list");
        return NULL;
    }
    sql_plan *pr = mk_plan(b, SP_PROJECT, n + nhidden);
    if (!pr)
        return NULL;
    pr->child = p;
    pr->est_rows = p->est_rows;
    for (int i = 0; i < n; i++) {
        pr->project.exprs[i] = tl[i];
        pr->types[i] = tl[i]->type;
        pr->names[i] = names[i];
        pr->project.srf |= is_srf(tl[i]);
    }
    for (int i = 0, h = n; i < nsort; i++)
        if (sref[i] < 0) {
            pr->project.exprs[h] = skeys[i];
            pr->types[h] = skeys[i]->type;
            pr->names[h] = "?sort?";
            sref[i] = h++;
        }
    p = pr;
    /* DISTINCT [ON] */
    if (s->n_distinct_clause) {
        sql_plan *d = mk_plan(b, SP_DISTINCT, p->ncols);
        if (!d)
            return NULL;
        d->child = p;
        memcpy(d->types, p->types, sizeof *p->types * (size_t)p->ncols);
        memcpy(d->names, p->names, sizeof *p->names * (size_t)p->ncols);
        d->est_rows = p->est_rows / 2 + 1;
        bool on = s->distinct_clause[0] && s->distinct_clause[0]->node_case != PG_QUERY__NODE__NODE__NOT_SET;
        if (on) {
            bind_fail(b, SQLSTATE_FEATURE, -1, "DISTINCT ON is not supported");
            return NULL;
        }
        p = d;
    }
    /* ORDER BY over the projection's columns */
    if (nsort) {
        sql_plan *so = mk_plan(b, SP_SORT, p->ncols);
        if (!so)
            return NULL;
        so->child = p;
        memcpy(so->types, p->types, sizeof *p->types * (size_t)p->ncols);
        memcpy(so->names, p->names, sizeof *p->names * (size_t)p->ncols);
        so->sort.nkeys = nsort;
        so->sort.limit = -1;
        so->sort.keys = arena_zalloc(b->a, sizeof *so->sort.keys * (size_t)nsort);
        if (!so->sort.keys)
            return NULL;
        for (int i = 0; i < nsort; i++) {
            const PgQuery__SortBy *sb = s->sort_clause[i]->sort_by;
            bool d = sb->sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_DESC;
            so->sort.keys[i].e = mk_col(b, sref[i], p->types[sref[i]], sb->location);
            so->sort.keys[i].desc = d;
            so->sort.keys[i].nulls_first =
                sb->sortby_nulls == PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_FIRST ||
                (sb->sortby_nulls != PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_LAST && d);
            if (sb->sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_USING) {
                bind_fail(b, SQLSTATE_FEATURE, sb->location, "ORDER BY ... USING is not supported");
                return NULL;
            }
        }
        so->est_rows = p->est_rows;
        p = so;
    }
    /* LIMIT / OFFSET (ORDER BY was handled: a copy of s without it) */
    PgQuery__SelectStmt lim = *s;
    lim.n_sort_clause = 0;
    if (!(p = order_limit(b, &sc, p, &lim)))
        return NULL;
    if (nhidden) {
        sql_plan *drop = mk_plan(b, SP_PROJECT, n);
        if (!drop)
            return NULL;
        drop->child = p;
        drop->est_rows = p->est_rows;
        for (int i = 0; i < n; i++) {
            drop->project.exprs[i] = mk_col(b, i, p->types[i], -1);
            drop->types[i] = p->types[i];
            drop->names[i] = p->names[i];
        }
        p = drop;
    }
    return p;
}

/*
 * DML over one table (DELETE's WHERE, UPDATE's SET and WHERE): a scan of t,
 * and the expressions bound over its row (names qualified by alias or the
 * table's name).  NULL nodes give NULL expressions.
 */
sql_plan *bind_table_exprs(binder *b, sql_table *t, const char *alias,
                           const PgQuery__Node *const *nodes, int n, bool conds,
                           sql_expr **out)
{
    sql_plan *p = scan_of(b, t);
    if (!p)
        return NULL;
    bind_scope sc = {0};
    if (scope_add(b, &sc, alias ? alias : t->name, p->ncols, p->names, p->types, NULL))
        return NULL;
    agg_collect *saved = b->agg;
    b->agg = NULL; /* no aggregates or window functions in DML */
    for (int i = 0; i < n; i++) {
        out[i] = NULL;
        if (!nodes[i])
            continue;
        out[i] = conds && i == n - 1 ? bind_cond(b, &sc, nodes[i], "WHERE")
                                     : bind_expr(b, &sc, nodes[i]);
        if (!out[i]) {
            b->agg = saved;
            return NULL;
        }
    }
    b->agg = saved;
    return p;
}
