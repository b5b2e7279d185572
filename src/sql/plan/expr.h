/*
 * expr.h - bound expressions: what the binder makes of SQL expressions.
 *
 * Names are resolved and types decided: a column is an index into the input
 * row of the operator that evaluates the expression, every function call
 * points at the one implementation chosen for its argument types (with the
 * implicit casts made explicit), and constants are datums.  Expressions live
 * in the query's arena and are immutable once planned, so parallel workers
 * share them.
 */
#ifndef SL_SQL_PLAN_EXPR_H
#define SL_SQL_PLAN_EXPR_H

#include "sql/types/value.h"

struct sql_func;
struct sql_agg;
struct sql_plan;

typedef enum sql_ekind {
    SE_CONST,     /* c */
    SE_COL,       /* input column `col` */
    SE_PARAM,     /* query parameter $n (param = n - 1) */
    SE_OUTER,     /* a column of an enclosing query (correlated): level, col */
    SE_FUNC,      /* fn(args) */
    SE_CAST,      /* args[0]::type */
    SE_AND,       /* args... */
    SE_OR,
    SE_NOT,
    SE_ISNULL,    /* args[0] IS NULL; negated: IS NOT NULL */
    SE_BOOLTEST,  /* args[0] IS [NOT] TRUE/FALSE/UNKNOWN (test) */
    SE_DISTINCT,  /* args[0] IS [NOT] DISTINCT FROM args[1] (negated: NOT DISTINCT) */
    SE_CASE,      /* args: cond1, res1, cond2, res2, ..., [else] (has_else) */
    SE_COALESCE,
    SE_NULLIF,
    SE_GREATEST,
    SE_LEAST,
    SE_IN,        /* args[0] IN (args[1..]) with cmp = the "=" function; negated: NOT IN */
    SE_SUBQUERY,  /* a subquery: sub (see below) */
    SE_ARRAY,     /* ARRAY[args] (text[]) */
    SE_AGG,       /* binder only: an aggregate call before aggregation is planned */
    SE_WINDOW,    /* binder only: a window function call */
} sql_ekind;

typedef enum sql_subkind {
    SQ_SCALAR,    /* (SELECT x ...): one value, NULL if no row, error if more */
    SQ_EXISTS,    /* EXISTS (SELECT ...) */
    SQ_ANY,       /* args[0] op ANY (SELECT ...): IN is = ANY */
    SQ_ALL,       /* args[0] op ALL (SELECT ...) */
    SQ_ARRAY,     /* ARRAY(SELECT x ...): text[] of the rows' values, in their order */
} sql_subkind;

typedef struct sql_expr sql_expr;

struct sql_expr {
    uint8_t kind;        /* sql_ekind */
    uint8_t negated;     /* IS NOT NULL, NOT IN, NOT DISTINCT, ... */
    uint8_t test;        /* SE_BOOLTEST: 1 true, 2 false, 3 unknown */
    uint8_t has_else;    /* SE_CASE */
    uint8_t agg_distinct;/* SE_AGG */
    uint8_t agg_star;    /* SE_AGG: count(*) */
    uint8_t volatile_;   /* depends on more than its arguments (random(), now()) */
    sql_type type;       /* the result type */
    int32_t loc;         /* byte offset in the statement text, -1 if none */
    int col;             /* SE_COL, SE_OUTER: column; SE_PARAM: index; SE_AGG/SE_WINDOW: slot */
    int level;           /* SE_OUTER: how many queries out (1 = the enclosing one) */
    int nargs;
    sql_expr **args;
    sql_datum c;                 /* SE_CONST */
    const struct sql_func *fn;   /* SE_FUNC; SE_IN, SE_SUBQUERY (ANY/ALL): the comparison */
    const struct sql_agg *agg;   /* SE_AGG, SE_WINDOW (an aggregate over a frame) */
    struct sql_plan *sub;        /* SE_SUBQUERY */
    uint8_t subkind;             /* sql_subkind */
    uint8_t correlated;          /* SE_SUBQUERY: refers to enclosing columns */
    sql_expr *filter;            /* SE_AGG: FILTER (WHERE ...) */
    int norder;                  /* SE_AGG: ORDER BY inside the call (string_agg, array_agg) */
    sql_expr **order;
    uint8_t *order_desc;
    const char *name;            /* function name as written (for messages, EXPLAIN) */
    void *win;                   /* SE_WINDOW: the window definition (plan.h) */
};

/* True if the expression needs no input row (constants, parameters, pure functions of them). */
bool sql_expr_is_const(const sql_expr *e);
/* True if a subquery is evaluated anywhere inside (such expressions stay on one thread). */
bool sql_expr_has_subquery(const sql_expr *e);
/* True if it refers to input column c anywhere. */
bool sql_expr_uses_col(const sql_expr *e, int c);
/* Calls fn on every SE_COL node (to remap or collect columns). */
void sql_expr_walk_cols(sql_expr *e, void (*fn)(sql_expr *col, void *arg), void *arg);
/* A readable rendering (EXPLAIN): "(duration > 1000)", "count(*)". */
int sql_expr_text(const sql_expr *e, const char *const *colnames, struct dbuf *out);

#endif
