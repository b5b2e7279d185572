/*
 * optimize.h - plan rewrites between binding and running (optimize.c).
 */
#ifndef SL_SQL_PLAN_OPTIMIZE_H
#define SL_SQL_PLAN_OPTIMIZE_H

#include "sql/exec/eval.h"
#include "sql/plan/plan.h"

/*
 * Rewrites *p in place (new nodes in a): pushdown, scan ranges, join keys,
 * semi joins, top-N, column pruning.  cx evaluates constants and parameters
 * (its scratch arena is reset).  0, or SL_ENOMEM with e set.
 */
int sql_optimize(arena *a, sql_ectx *cx, sql_plan **p, sql_err *e);

#endif
