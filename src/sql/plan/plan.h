/*
 * plan.h - the logical plan: a tree of relational operators over bound
 * expressions, made by the binder (bind.c), rewritten by the optimizer
 * (optimize.c), and turned into running operators by the executor.
 *
 * Every node has an output row: ncols columns with types and names.
 * Expressions in a node refer to its input by column index (SE_COL): the
 * child's output, or for a join the left child's columns followed by the
 * right child's.  A continuous job's plan is the same tree with unbounded
 * scans at its leaves (ARCHITECTURE.md section 5).
 */
#ifndef SL_SQL_PLAN_PLAN_H
#define SL_SQL_PLAN_PLAN_H

#include "sql/catalog/catalog.h"
#include "sql/plan/expr.h"

typedef enum sql_pkind {
    SP_SCAN,      /* a table (lake, user, system, table function) */
    SP_VALUES,    /* VALUES rows (expressions without input) */
    SP_RESULT,    /* one row and no columns: SELECT without FROM */
    SP_FILTER,
    SP_PROJECT,
    SP_AGG,       /* output: the group keys, then the aggregates */
    SP_JOIN,
    SP_SORT,      /* with limit >= 0: top-N */
    SP_LIMIT,
    SP_DISTINCT,  /* over all columns, or DISTINCT ON the first ndistinct sort keys */
    SP_SETOP,
    SP_WINDOW,    /* output: the input's columns, then the window functions */
    SP_CTE,       /* a WITH query, computed once and read by its SP_CTE_REFs */
    SP_CTE_REF,
} sql_pkind;

typedef enum sql_jtype { SJ_INNER, SJ_LEFT, SJ_RIGHT, SJ_FULL, SJ_SEMI, SJ_ANTI, SJ_CROSS } sql_jtype;
typedef enum sql_setop { SO_UNION, SO_INTERSECT, SO_EXCEPT } sql_setop;

typedef struct sql_sortkey {
    sql_expr *e;
    bool desc;
    bool nulls_first;
} sql_sortkey;

/* A window: PARTITION BY, ORDER BY and the frame of the functions using it. */
typedef struct sql_window {
    int npart;
    sql_expr **part;
    int norder;
    sql_sortkey *order;
    int frame_rows;          /* ROWS (1) or RANGE (0) */
    int start_kind, end_kind; /* 0 unbounded preceding, 1 offset preceding, 2 current row,
                               * 3 offset following, 4 unbounded following */
    int64_t start_off, end_off;
    bool explicit_frame;
} sql_window;

typedef struct sql_cte sql_cte;
typedef struct sql_plan sql_plan;

struct sql_plan {
    uint8_t kind;            /* sql_pkind */
    int ncols;
    sql_type *types;
    const char **names;
    sql_plan *child;         /* the input (join: the left input) */
    sql_plan *right;         /* join, setop: the right input */
    double est_rows;
    union {
        struct {
            sql_table *table;
            int *cols;             /* table columns in output order */
            sql_expr *filter;      /* over the output columns, evaluated by scan workers */
            int64_t begin_ns, end_ns; /* pushed time range on the table's time column */
            int64_t key_lo;        /* spans: a lower bound on begin itself (begin >= x) */
            const char *id_eq;     /* pushed equality on the table's id column */
            uint64_t pruned_hint;  /* EXPLAIN: partitions the range leaves out */
            /* a table function with arguments from enclosing queries (SE_OUTER):
             * `table` is its binding with NULLs for them, the scan binds it again
             * with tf_args' values at each run */
            const struct sql_tfunc *tf;
            sql_expr **tf_args;
            int tf_nargs;
        } scan;
        struct {
            int nrows;
            sql_expr ***rows;      /* nrows x ncols */
        } values;
        struct {
            sql_expr *pred;
        } filter;
        struct {
            sql_expr **exprs;      /* ncols of them */
            bool srf;              /* some are set-returning calls (ProjectSet) */
        } project;
        struct {
            int nkeys;
            sql_expr **keys;
            int naggs;
            sql_expr **aggs;       /* SE_AGG calls; args over the input */
        } agg;
        struct {
            uint8_t type;          /* sql_jtype */
            int nkeys;
            sql_expr **lkeys;      /* over the left input */
            sql_expr **rkeys;      /* over the right input */
            sql_expr *cond;        /* the rest of ON, over left + right columns */
        } join;
        struct {
            int nkeys;
            sql_sortkey *keys;
            int64_t limit;         /* top-N: keep this many (offset included); -1 all */
        } sort;
        struct {
            sql_expr *count;       /* NULL: no limit */
            sql_expr *offset;
        } limit;
        struct {
            int non;               /* DISTINCT ON: the first `non` columns decide */
        } distinct;
        struct {
            uint8_t op;            /* sql_setop */
            bool all;
        } setop;
        struct {
            int nfuncs;
            sql_expr **funcs;      /* SE_WINDOW calls; e->win is their sql_window */
        } window;
        struct {
            sql_cte *cte;
        } cte_ref;
    };
};

/* A WITH query: planned once; its result is computed once and shared by its readers. */
struct sql_cte {
    const char *name;
    sql_plan *plan;
    int refs;
    bool recursive;
    sql_plan *recursive_part;  /* the part after UNION [ALL] that refers to itself */
    bool union_all;
    bool refs_done;            /* the optimizer has rewritten it (once for every reference) */
};

/* EXPLAIN text of a plan (one line per node, indented), with each node's figures
 * when analyzed (stats of the run, found by plan node; NULL: plan only). */
struct sql_opstats;
int sql_plan_explain(const sql_plan *p, const struct sql_opstats *const *stats, int nstats,
                     dbuf *out);

#endif
