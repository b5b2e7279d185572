/*
 * exec.h - the batch driver: running a plan as a tree of operators.
 *
 * Each plan node becomes an operator with open / next / close; next hands
 * out batches (dense, owned by the caller) until NULL.  Operators that must
 * see all their input before producing output (sort, aggregation, the build
 * side of a join) account the memory they hold against the query's work_mem;
 * past it the query fails with SQLSTATE 53200 rather than taking the server's
 * memory.  Scans of tables with several units run on parallel workers that
 * each read a unit, filter and project it, and hand batches over in unit
 * order; an aggregation over such a scan gives every worker its own partial
 * state and combines them at the end (docs/internals/sql.md).
 *
 * Cancellation (client gone, Ctrl-C, statement_timeout) is a flag every
 * operator and worker checks between batches: SQLSTATE 57014.
 */
#ifndef SL_SQL_EXEC_EXEC_H
#define SL_SQL_EXEC_EXEC_H

#include "sql/engine_int.h"
#include "sql/exec/eval.h"
#include "sql/plan/plan.h"

#include <pthread.h>

/* What EXPLAIN ANALYZE prints for each node. */
typedef struct sql_opstats {
    const sql_plan *plan;
    uint64_t rows, batches;
    int64_t ns;              /* time in this node and below */
    int64_t mem_peak;        /* bytes this node held at most */
    uint64_t units, workers; /* scans: units read, workers used */
    uint64_t pruned;         /* scans: units or partitions left out by time and id */
    _Atomic uint64_t built;  /* scans: partitions the lake built just in time for them */
    uint64_t spill_runs;     /* sorts: sorted runs written to a temporary file */
    uint64_t spill_bytes;
} sql_opstats;

typedef struct sql_exec sql_exec;
typedef struct sql_op sql_op;

typedef struct sql_op_vt {
    int (*open)(sql_op *op);
    int (*next)(sql_op *op, sql_batch **out);
    void (*close)(sql_op *op);
    /* Pipelines (pipe.c): an operator that can work a batch at a time on a scan's
     * workers gets per-worker state, then batches on worker w, emitting what it
     * makes of each; NULL for the others. */
    int (*stream_prepare)(sql_op *op, int nworkers);
    int (*stream)(sql_op *op, int w, sql_batch *b,
                  int (*emit)(void *arg, int w, sql_batch *b, sql_err *e), void *arg, sql_err *e);
    void (*stream_finish)(sql_op *op);
} sql_op_vt;

struct sql_op {
    const sql_op_vt *vt;
    sql_exec *x;
    const sql_plan *p;
    sql_op *child, *right;
    sql_opstats *st;
    int64_t mem;             /* bytes this operator holds now (accounted in x->mem) */
};

typedef struct cte_state cte_state;

struct sql_exec {
    sql_exec *root;          /* the query's exec (a subquery run copies it; counters stay here) */
    sql_session *s;
    sql_engine *eng;
    arena *a;                /* plan and per-query memory */
    sql_err *e;
    sql_ectx ex;             /* base evaluation context (params, subqueries) */
    _Atomic uint8_t cancel;
    const _Atomic uint8_t *ext_cancel;
    int64_t deadline_ns;     /* statement_timeout, 0 none */
    _Atomic int64_t mem, mem_peak;
    int64_t mem_limit;
    int workers;
    bool analyze;
    pthread_mutex_t mu;      /* the first error of any worker; CTE states */
    int nstats, stats_cap;
    sql_opstats **stats;
    cte_state *ctes;
    struct subq_cache *subqs;
};

/* Builds the operator tree for a plan (not opened). */
int sql_op_build(sql_exec *x, const sql_plan *p, sql_op **out);
/* next with timing, row counts and the cancel check. */
int sql_op_next(sql_op *op, sql_batch **out);
void sql_op_close(sql_op *op);
int sql_op_open(sql_op *op);

/* Memory held by an operator: adds delta (may be negative); SQLSTATE 53200 past work_mem. */
int sql_exec_mem(sql_exec *x, sql_op *op, int64_t delta);
/* Nonzero when the query must stop (cancel, timeout); sets x->e. */
int sql_exec_check(sql_exec *x);
/* Records the first error of a worker thread (its own sql_err) into x->e. */
void sql_exec_fail(sql_exec *x, const sql_err *we);

/* An evaluation context for a worker (own scratch arena and error). */
void sql_exec_ectx(sql_exec *x, sql_ectx *cx, sql_err *err, arena *scratch);

/* The subquery runner the evaluator calls (exec.c). */
int sql_exec_subquery(void *arg, sql_ectx *cx, const sql_expr *e, const sql_datum *left,
                      sql_datum *out);

/* Operators, one file each group. */
sql_op *sql_op_scan_new(sql_exec *x, const sql_plan *p);
sql_op *sql_op_values_new(sql_exec *x, const sql_plan *p);
sql_op *sql_op_filter_new(sql_exec *x, const sql_plan *p);
sql_op *sql_op_project_new(sql_exec *x, const sql_plan *p);
sql_op *sql_op_project_set_new(sql_exec *x, const sql_plan *p);
sql_op *sql_op_limit_new(sql_exec *x, const sql_plan *p);
sql_op *sql_op_agg_new(sql_exec *x, const sql_plan *p);
sql_op *sql_op_distinct_new(sql_exec *x, const sql_plan *p);
sql_op *sql_op_sort_new(sql_exec *x, const sql_plan *p);
sql_op *sql_op_join_new(sql_exec *x, const sql_plan *p);
sql_op *sql_op_setop_new(sql_exec *x, const sql_plan *p);
sql_op *sql_op_window_new(sql_exec *x, const sql_plan *p);
sql_op *sql_op_cte_new(sql_exec *x, const sql_plan *p);

/*
 * Pipelines: filters, projections and hash-join probes between a parallel scan
 * and a consumer that takes batches on the scan's workers (an aggregation, a
 * top-N) run on those workers too, a batch at a time (pipe.c).  can_run: op is
 * such a chain down to a scan; run: builds what the chain needs (join build
 * sides, on this thread), then drives the scan's workers through it into fn.
 */
bool sql_pipe_can_run(const sql_op *op);
int sql_pipe_workers(const sql_op *op);
int sql_pipe_run(sql_op *op, int *nworkers, int (*fn)(void *arg, int w, sql_batch *b, sql_err *e),
                 void *arg);
/*
 * Another driver's pipeline (continuous jobs): b (taken) up through the
 * streaming operators stages[0..n) (bottom to top, each prepared with
 * stream_prepare) as worker w, into fn.
 */
int sql_pipe_push(sql_op *const *stages, int n, int w, sql_batch *b,
                  int (*fn)(void *arg, int w, sql_batch *b, sql_err *e), void *arg, sql_err *e);
/*
 * The rows of `in` that pred keeps: in itself (all of them), a copy, or NULL
 * (none); in is taken.  sel / sel_cap: the caller's selection buffer, grown
 * here; scratch is reset for the evaluation.
 */
int sql_filter_batch(sql_ectx *cx, arena *scratch, const sql_expr *pred, uint32_t **sel,
                     int64_t *sel_cap, sql_batch *in, sql_batch **out);
/* Adds rows and a batch to an operator's figures from any thread (pipelines). */
void sql_opstats_add(sql_op *op, int64_t rows);

/* A parallel scan driving a per-worker sink instead of a queue (aggregation). */
typedef int (*sql_sink_fn)(void *arg, int worker, sql_batch *b, sql_err *e);
bool sql_op_scan_can_sink(const sql_op *op);
int sql_op_scan_run_sink(sql_op *op, int *nworkers, sql_sink_fn fn, void *arg);
int sql_op_scan_workers(const sql_op *op);
/* The consumer keeps every row before it answers: batches may come in any order
 * (call before the first batch). */
void sql_op_scan_any_order(sql_op *op);
/* A top-N's bound handed to the scan's table before the scan reads (catalog.h). */
void sql_op_scan_set_bound(sql_op *op, sql_scan_bound *bound);

/*
 * The groups and aggregate states of an SP_AGG operator as a value that another
 * driver feeds and reads when it decides (continuous jobs: one per open window,
 * read when the window closes).  op: the aggregation operator, built and not
 * opened, which lends its plan and evaluation context.  Everything the batch
 * GROUP BY does applies: FILTER, DISTINCT, ORDER BY inside a call.  next hands
 * out the result (keys, then aggregates) a batch at a time after the last add,
 * NULL at the end.  The caller accounts sql_aggtab_mem against work_mem.
 * A table owns all its memory: tables of one operator may be made, filled and
 * freed on several threads at once, one thread per table.
 */
typedef struct sql_aggtab sql_aggtab;
int sql_aggtab_new(sql_op *op, sql_aggtab **out, sql_err *e);
int sql_aggtab_add(sql_aggtab *t, const sql_batch *b, sql_err *e);
int sql_aggtab_next(sql_aggtab *t, sql_batch **out, sql_err *e);
int64_t sql_aggtab_mem(const sql_aggtab *t);
/*
 * Continuous updates (emit = 'on_update'): add_ids is add that also gives each
 * row's group id (ids: b->n entries; UINT32_MAX for none); peek reads the
 * current results of the groups gids[0..n) (keys, then aggregates, as next does)
 * without ending the table, so adds may follow.  peek refuses aggregates with
 * ORDER BY inside the call (their rows are only fed at the end) with 0A000.
 */
int sql_aggtab_add_ids(sql_aggtab *t, const sql_batch *b, uint32_t *ids, sql_err *e);
int sql_aggtab_peek(sql_aggtab *t, const uint32_t *gids, int64_t n, sql_batch **out, sql_err *e);
void sql_aggtab_free(sql_aggtab *t);
/*
 * Local-global aggregation (continuous jobs: each worker's partial table of a
 * window, combined at the window's owner): whether the aggregation's tables can
 * be combined (what the parallel batch GROUP BY requires: no ORDER BY inside a
 * call, no ordered-set aggregate, no subquery; DISTINCT adds the pairs dst has
 * not seen), and src's groups and states added into dst with the aggregates'
 * combine (src is left as it was; free it after).  Neither table may have
 * been read with next.
 */
bool sql_aggtab_can_combine(sql_op *op);
int sql_aggtab_combine(sql_aggtab *dst, sql_aggtab *src, sql_err *e);
/*
 * Checkpoints (docs/internals/stream.md, "aggregation table"): whether the
 * tables of an aggregation can be saved (NULL), else why not; a table's groups
 * (keys as text) and states appended to out; and a new, empty table filled
 * from such bytes (0, or a negative code with e set: bytes that are not a
 * table of this aggregation change nothing the caller keeps).
 */
const char *sql_aggtab_unsavable(sql_op *op);
int sql_aggtab_save(sql_aggtab *t, dbuf *out);
int sql_aggtab_load(sql_aggtab *t, const uint8_t *p, size_t n, sql_err *e);

/* Batches in memory: a growable list (sort input, join build side, CTEs). */
typedef struct sql_rows {
    int ncols;
    const sql_type *types;
    sql_batch **b;
    int nb, cap;
    int64_t nrows;
    int64_t mem;
} sql_rows;

void sql_rows_init(sql_rows *r, int ncols, const sql_type *types);
/* Takes ownership of b (freed by sql_rows_free). */
int sql_rows_add(sql_rows *r, sql_batch *b);
void sql_rows_free(sql_rows *r);
/* Memory of a batch's buffers (capacity), for accounting. */
int64_t sql_batch_bytes(const sql_batch *b);
/* Concatenates every batch into one (dictionary columns expanded to strings). */
int sql_rows_concat(sql_rows *r, sql_batch **out);

/*
 * An 8-byte prefix of row r of a sort key in an order-preserving encoding
 * (integers and times sign-flipped, floats by their bits, strings by their first
 * 8 bytes; inverted for DESC; NULLs at 0 or UINT64_MAX): unequal prefixes order
 * rows, equal ones leave it to the full comparison.
 */
uint64_t sql_sort_prefix(const col_vec *v, sql_type t, int64_t r, bool desc, bool nulls_first);

/* Comparing rows by sort keys (evaluated key vectors). */
int sql_cmp_rows(const sql_type *types, const col_vec *a, int64_t ra, const col_vec *b,
                 int64_t rb, int nkeys, const bool *desc, const bool *nulls_first);

/* A batch copying the given rows (ids into src) of every column. */
int sql_batch_take(const sql_batch *src, const uint32_t *rows, int64_t n, sql_batch **out);

#endif
