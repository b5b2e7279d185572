/*
 * eval.h - the one expression evaluator, shared by batch queries and
 * continuous jobs.
 *
 * sql_eval computes an expression over the selected rows of a batch and
 * returns a dense vector (one value per selected row), or a constant vector
 * when the expression does not depend on the row.  Conditional expressions
 * (CASE, COALESCE, AND, OR) evaluate their branches only on the rows that
 * reach them, so `CASE WHEN x <> 0 THEN 1 / x END` never divides by zero.
 * sql_eval_filter narrows a selection to the rows where a predicate is true
 * (NULL counts as false), evaluating conjunctions one after the other on what
 * is left.
 */
#ifndef SL_SQL_EXEC_EVAL_H
#define SL_SQL_EXEC_EVAL_H

#include "sql/func/func.h"

typedef struct sql_ectx sql_ectx;

/*
 * Subqueries are run by the executor, which the evaluator does not know:
 * it asks through this callback.  For a row i of the current evaluation
 * (outer values from `outer`), the runner fills *out with the subquery's
 * result for that row: a scalar (SQ_SCALAR), or a boolean (SQ_EXISTS, SQ_ANY,
 * SQ_ALL with the left value `left`).
 */
typedef int (*sql_subq_fn)(void *arg, sql_ectx *cx, const sql_expr *e, const sql_datum *left,
                           sql_datum *out);

/* Values of enclosing queries' rows, for correlated subqueries (SE_OUTER). */
typedef struct sql_outer {
    const struct sql_outer *up;
    int ncols;
    const sql_type *types;
    const sql_datum *vals;
} sql_outer;

struct sql_ectx {
    sql_fctx f;
    const sql_datum *params;
    const sql_type *param_types;
    int nparams;
    const sql_outer *outer;
    sql_subq_fn subq;
    void *subq_arg;
    const uint8_t *cancel;   /* nonzero: stop (SQLSTATE 57014) */
};

int sql_eval(sql_ectx *cx, const sql_expr *e, const sql_batch *in, const sql_sel *sel,
             sql_vec *out);
/* The rows of sel (NULL: all rows of in) where e is true, into sel_out (room for
 * in->n indexes); *n_out is how many. */
int sql_eval_filter(sql_ectx *cx, const sql_expr *e, const sql_batch *in, const sql_sel *sel,
                    uint32_t *sel_out, int64_t *n_out);
/* An expression without input rows (constants, parameters) to a datum; strings
 * are copied into a. */
int sql_eval_const(sql_ectx *cx, const sql_expr *e, arena *a, sql_datum *out);

/* A constant vector holding d. */
int sql_vec_from_datum(sql_type t, const sql_datum *d, sql_vec *out);

#endif
