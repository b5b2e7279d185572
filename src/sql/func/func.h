/*
 * func.h - the one catalog of functions, operators and aggregates.
 *
 * Every operator (`+`, `=`, `~~` for LIKE, `->>`) and every function
 * (`lower`, `date_trunc`, `jsonb_typeof`) is a row of one table: a name, the
 * argument types it takes after coercion, its result type, and a vectorized
 * kernel.  The binder picks the row the way PostgreSQL resolves operators and
 * functions (exact match, then implicit casts, preferred types, unknown
 * literals taking the other side's type: plan/coerce.c) and inserts the casts.
 * There are no switch statements over function names anywhere else.
 *
 * Aggregates are the other table: small structs of callbacks over a state
 * (init, update over a batch, combine two states, finalize, serialize), so the
 * same `sum` serves a parallel GROUP BY (per-worker states combined), a window
 * frame, and a continuous job's checkpoint (docs/internals/sql.md).
 */
#ifndef SL_SQL_FUNC_FUNC_H
#define SL_SQL_FUNC_FUNC_H

#include "base/arena.h"
#include "base/dbuf.h"
#include "sql/exec/vec.h"
#include "sql/front/error.h"
#include "sql/plan/expr.h"

/* What kernels may use while they run: errors, scratch memory, the session. */
typedef struct sql_fctx {
    sql_err *err;
    arena *scratch;        /* per batch; reset by the evaluator */
    int64_t now_ns;        /* the statement's start: now(), current_timestamp */
    uint64_t random_state; /* random() */
} sql_fctx;

/*
 * A scalar kernel: n dense rows of args in, out filled with n rows of e->type.
 * For fixed-width results out arrives allocated with n zeroed rows; for string
 * results it arrives empty and the kernel appends n rows.  When the function
 * is strict (the default), out's validity already marks the rows where an
 * argument is null (sql_vec_valid(out, i) is false there) and the kernel may
 * skip them; it must skip them if computing could fail.
 */
typedef int (*sql_kernel)(sql_fctx *cx, const sql_expr *e, const sql_vec *args, int64_t n,
                          sql_vec *out);

enum {
    FN_NONSTRICT = 1,  /* sees null arguments itself (concat, coalesce-like) */
    FN_VOLATILE = 2,   /* random(), now(): never folded */
    FN_VARIADIC = 4,   /* the last argument type repeats */
    FN_ANYARG = 8,     /* arguments of any type, not coerced (format_type-like) */
    /* A set-returning function (unnest, generate_subscripts), allowed only as a
     * whole item of a select list (the ProjectSet operator, exec/op_srf.c).  Its
     * kernel is called for one row at a time (n = 1) with an empty `out` and
     * appends that row's results, any number of them. */
    FN_SRF = 16,
};

#define SQL_FUNC_MAXARGS 4

typedef struct sql_func {
    const char *name;
    int nargs;
    uint8_t args[SQL_FUNC_MAXARGS]; /* sql_tid */
    uint8_t ret;                    /* sql_tid */
    uint8_t flags;
    sql_kernel fn;
    /* optional: the exact result type from the argument types (typmods) */
    sql_type (*ret_type)(const sql_type *args, int nargs);
} sql_func;

/* ---- aggregates ---- */

typedef struct sql_agg sql_agg;

/*
 * The state of one group lives at states + g * state_size (g: the row's group
 * from gids).  update gets n dense rows; rows where gids[i] is UINT32_MAX are
 * skipped (FILTER, nulls the aggregate ignores are skipped by the aggregate).
 * States that need memory beyond state_size (string_agg, percentiles, DISTINCT)
 * take it from `mem`, which the query accounts against work_mem.
 */
typedef struct sql_agg_ctx {
    sql_err *err;
    arena *mem;
    int64_t *mem_bytes;   /* grown by what states allocate beyond their fixed size */
    const sql_expr *call; /* the SE_AGG expression (types, ORDER BY, extra args) */
} sql_agg_ctx;

struct sql_agg {
    const char *name;
    int nargs;
    uint8_t args[2];     /* sql_tid; ST_NULL: any type (count) */
    uint8_t ret;         /* sql_tid; see ret_type */
    size_t state_size;
    bool ordered;        /* uses ORDER BY inside the call / WITHIN GROUP */
    sql_type (*ret_type)(const sql_type *args, int nargs);
    void (*init)(void *state);
    int (*update)(sql_agg_ctx *cx, void *states, const uint32_t *gids, const sql_vec *args,
                  int64_t n);
    int (*combine)(sql_agg_ctx *cx, void *dst, const void *src);
    /* appends the group's result to out (of the aggregate's result type) */
    int (*finalize)(sql_agg_ctx *cx, const void *state, col_vec *out);
    void (*destroy)(void *state); /* optional: states holding outside memory */
    /*
     * Checkpoints (optional): a state holding outside memory written as bytes
     * (appended to out) and read back into an initialized state (0, or a
     * negative code with cx->err set for bytes that are not one).  Without them
     * a state with no destroy is its state_size bytes as they are (no pointers
     * in it), and one with destroy cannot be checkpointed.
     */
    int (*save)(const void *state, dbuf *out);
    int (*load)(sql_agg_ctx *cx, void *state, const uint8_t *p, size_t n);
};

/* The functions named name (lower case), and how many: candidates for resolution. */
const sql_func *sql_func_candidates(const char *name, int *count);
/* Every aggregate called name. */
const sql_agg *sql_agg_candidates(const char *name, int *count);
bool sql_is_agg_name(const char *name);
bool sql_is_window_only_name(const char *name); /* row_number, rank, lag... */

/* The cast kernel from one type to another, or NULL if there is no cast. */
sql_kernel sql_cast_kernel(sql_type from, sql_type to);
/* How the cast may be used: 'i' implicit, 'a' assignment, 'e' explicit only, 0 none. */
char sql_cast_context(sql_type from, sql_type to);

/* Function tables of each group, registered into one catalog. */
typedef struct sql_func_table {
    const sql_func *f;
    size_t n;
} sql_func_table;
sql_func_table sql_funcs_arith(void);
sql_func_table sql_funcs_compare(void);
sql_func_table sql_funcs_string(void);
sql_func_table sql_funcs_time(void);
sql_func_table sql_funcs_json(void);
sql_func_table sql_funcs_math(void);
sql_func_table sql_funcs_pgcompat(void);

typedef struct sql_agg_table {
    const sql_agg *a;
    size_t n;
} sql_agg_table;
sql_agg_table sql_aggs_basic(void);
sql_agg_table sql_aggs_stats(void);

/* Kernel helpers. */
int sql_fail(sql_fctx *cx, const sql_expr *e, const char *state, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
