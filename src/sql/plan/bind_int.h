/*
 * bind_int.h - the binder's state, shared by its files:
 *
 *   bind.c       statements, SELECT structure, FROM, joins, set operations, CTEs
 *   bind_expr.c  expressions
 *   bind_agg.c   GROUP BY, aggregates, HAVING, window functions
 *   coerce.c     types: common types, casts, function and operator resolution
 *
 * A scope is the row an expression sees: the FROM items of one query level
 * (range table entries) laid side by side.  Scopes nest for subqueries; a name
 * not found in its own scope is looked up outward and becomes a correlated
 * reference (SE_OUTER) to the enclosing query's row.
 */
#ifndef SL_SQL_PLAN_BIND_INT_H
#define SL_SQL_PLAN_BIND_INT_H

#include "sql/engine_int.h"
#include "sql/exec/eval.h"
#include "sql/front/parse.h"
#include "sql/plan/plan.h"

typedef struct bind_rte {
    const char *alias;       /* the name that qualifies its columns (table name or alias) */
    int ncols;
    const char **names;
    sql_type *types;
    int offset;              /* its first column in the scope's row */
    bool *hidden;            /* USING/NATURAL: the right side's merged columns (not in *) */
} bind_rte;

typedef struct bind_scope bind_scope;
struct bind_scope {
    bind_scope *parent;
    bind_rte *rtes;
    int nrtes, cap;
    int width;               /* columns in the row */
    bool outer_used;         /* an inner query referred to this row */
    bool transparent;        /* carries CTEs only: not a query level (no row at run time) */
    sql_cte **ctes;          /* WITH queries visible here */
    const char **cte_names;
    int nctes;
};

typedef struct binder {
    sql_session *s;
    arena *a;
    sql_err *e;
    const char *text;        /* the statement text (positions, messages) */
    /* parameters: types as declared or inferred from their first use */
    int nparams;
    sql_type *ptypes;
    int ptypes_cap;
    bool params_fixed;       /* types given by the caller: not inferred */
    /* the query-level time range applied to every lake table */
    int64_t qbegin, qend;
    /* constant folding runs the evaluator on expressions without input */
    sql_ectx ex;
    sql_fctx fx;
    arena scratch;
    int depth;
    /* aggregates and window functions collected while binding one query level */
    struct agg_collect *agg;
    /* binding a select-list item: a set-returning function may be its whole value */
    bool srf_ok;
} binder;

/* ---- errors ---- */
int bind_fail(binder *b, const char *state, int loc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
const char *type_name(sql_type t, char *buf);

/* ---- expressions (bind_expr.c) ---- */
sql_expr *bind_expr(binder *b, bind_scope *sc, const PgQuery__Node *n);
sql_expr *mk_expr(binder *b, sql_ekind k, sql_type t, int loc, int nargs);
sql_expr *mk_const(binder *b, sql_type t, const sql_datum *d, int loc);
sql_expr *mk_col(binder *b, int col, sql_type t, int loc);
sql_expr *mk_bool_const(binder *b, bool v);
/* The name of a node that is a String (or NULL). */
const char *node_str(const PgQuery__Node *n);
/* Evaluates a constant expression now (constant folding); NULL on error. */
sql_expr *fold(binder *b, sql_expr *e);
/* A boolean condition: must be of type boolean (unknown literals are cast). */
sql_expr *bind_cond(binder *b, bind_scope *sc, const PgQuery__Node *n, const char *clause);
/* The output name PostgreSQL gives an unnamed select-list expression. */
const char *expr_colname(const PgQuery__Node *n);
/* An integer constant expression (LIMIT, OFFSET, ordinals); -1 on error. */
int bind_int_const(binder *b, bind_scope *sc, const PgQuery__Node *n, int64_t *out);

/* ---- types and resolution (coerce.c) ---- */
sql_expr *coerce(binder *b, sql_expr *e, sql_type to, char ctx, const char *what);
/* PostgreSQL's select_common_type over n expressions; false with e set if none. */
bool common_type(binder *b, sql_expr **es, int n, const char *what, sql_type *out);
/* Resolves fn/op `name` over args (coercing them in place); NULL with e set. */
sql_expr *resolve_func(binder *b, const char *name, sql_expr **args, int nargs, int loc,
                       bool is_op);
const sql_agg *resolve_agg(binder *b, const char *name, sql_expr **args, int nargs, int loc);
/* The type a node names (TypeName); false with e set. */
bool bind_typename(binder *b, const PgQuery__TypeName *tn, sql_type *out);
/* Records the type of parameter $n (0-based) or checks it; the parameter's type. */
sql_type param_type(binder *b, int n);
void param_infer(binder *b, int n, sql_type t);

/* ---- queries (bind.c) ---- */
sql_plan *bind_select(binder *b, bind_scope *outer, const PgQuery__SelectStmt *s);
sql_plan *mk_plan(binder *b, sql_pkind k, int ncols);
/* DML over one table: its scan, and nodes bound over its row (the last one as a
 * condition when conds); NULL with e set. */
sql_plan *bind_table_exprs(binder *b, sql_table *t, const char *alias,
                           const PgQuery__Node *const *nodes, int n, bool conds,
                           sql_expr **out);
/* Finds a column of the scope by (qualifier, name); -1 not found (e set when ambiguous: -2). */
int scope_find(binder *b, bind_scope *sc, const char *qual, const char *name, int loc,
               sql_type *type);

/* ---- aggregation and windows (bind_agg.c) ---- */
typedef struct agg_collect {
    int naggs, cap;
    sql_expr **aggs;         /* SE_AGG calls found (args bound over the FROM row) */
    int nwins, wcap;
    sql_expr **wins;         /* SE_WINDOW calls found */
    bool allowed;            /* aggregates may appear here (not in WHERE, JOIN ON, GROUP BY) */
    bool win_allowed;
    const PgQuery__SelectStmt *stmt; /* for named windows (WINDOW w AS ...) */
} agg_collect;

sql_expr *bind_agg_call(binder *b, bind_scope *sc, const PgQuery__FuncCall *f, const char *name);
sql_expr *bind_window_call(binder *b, bind_scope *sc, const PgQuery__FuncCall *f,
                           const char *name);
/*
 * With aggregates or GROUP BY: adds the SP_AGG node above `in` and rewrites the
 * given expressions (select list, HAVING, ORDER BY keys) to read its output;
 * 42803 for a column neither grouped nor aggregated.
 */
sql_plan *plan_aggregate(binder *b, sql_plan *in, bind_scope *sc, sql_expr **groups, int ngroups,
                         sql_expr ***exprs, int nexprs);
/* Adds SP_WINDOW nodes for the collected window calls and rewrites exprs. */
sql_plan *plan_windows(binder *b, sql_plan *in, sql_expr ***exprs, int nexprs);
/* True if the expression tree contains an aggregate or window call. */
bool has_agg(const sql_expr *e);
bool has_window(const sql_expr *e);
/* Structural equality (group key matching, DISTINCT ON/ORDER BY matching). */
bool expr_equal(const sql_expr *a, const sql_expr *b);

#endif
