/*
 * catalog.h - the one catalog the binder resolves names against.
 *
 * Tables of every kind look the same to the planner: a name, columns with SQL
 * types, an optional time column, and a way to scan them in units that
 * parallel workers take one at a time (a process's partitions of a lake
 * view, a user table's Parquet segment, a metadata listing).  The kinds:
 *
 *   lake tables      processes, streams, blocks, log_entries, measures,
 *                    log_stats (catalog/lake_tables.c)
 *   table functions  view_instance, process_spans, perfetto_trace_chunks,
 *                    list_partitions, read_parquet, read_csv,
 *                    generate_series, unnest ... (catalog/tfuncs.c)
 *   user tables      CREATE TABLE, stored as Parquet segments (catalog/user.c)
 *   views            CREATE VIEW: a stored SELECT, bound where it is used
 *   system tables    pg_catalog and information_schema rows that clients read
 *
 * A scan request carries what the planner pushed down: the columns needed
 * (projection), the time range derived from predicates on the time column
 * (and the session's streamlake.begin/end), and equality on an id column, so
 * that a lake scan prunes partitions and limits just-in-time builds from
 * metadata before any file is opened.
 */
#ifndef SL_SQL_CATALOG_CATALOG_H
#define SL_SQL_CATALOG_CATALOG_H

#include "sql/exec/vec.h"
#include "sql/front/error.h"
#include "sql/types/value.h"

#include <stdatomic.h>
#include <stdint.h>

struct lake;
struct sql_engine;

/* A bound that tightens while a scan runs: a top-N over the scan publishes the key
 * its worst kept row has, and rows beyond it can no longer enter.  A table may skip
 * stored row groups whose statistics put every value of output column `col` below
 * lo or above hi (and hold no nulls); the rows it does return are still filtered
 * above, so a table that ignores the bound is correct too. */
typedef struct sql_scan_bound {
    int col;                /* the scan's output column (an integer or time column) */
    _Atomic int64_t lo, hi; /* INT64_MIN / INT64_MAX: no bound yet */
} sql_scan_bound;

typedef struct sql_scan_req {
    int ncols;              /* columns wanted, by table column index, in output order */
    const int *cols;
    int64_t begin_ns;       /* rows whose time column is in [begin, end) (INT64_MIN/MAX: open) */
    int64_t end_ns;
    int64_t key_lo;         /* intervals: their time column itself is at least this
                             * (INT64_MIN: no bound); lets a span table prune row groups */
    const char *id_eq;      /* the id column equals this canonical id (NULL: any) */
    int id_col;
    int batch_rows;
    const uint8_t *cancel;  /* nonzero: stop between batches */
    void *state;            /* the table's own, set by units (a list of processes...) */
    int workers;            /* the scan's workers: a table may cut its units finer for them */
    sql_err *warn;          /* not used yet */
    uint64_t pruned;        /* units or partitions the range and id left out (EXPLAIN) */
    sql_scan_bound *bound;  /* NULL: none */
    _Atomic uint64_t *built;/* partitions built just in time are added here (EXPLAIN; may be NULL) */
} sql_scan_req;

typedef struct sql_scan sql_scan;
typedef struct sql_table sql_table;

/* A scan of one unit: batches of req->ncols columns; *out NULL at the end. */
typedef struct sql_scan_ops {
    int (*next)(sql_scan *s, sql_batch **out, sql_err *e);
    void (*close)(sql_scan *s);
} sql_scan_ops;

struct sql_scan {
    const sql_scan_ops *ops;
};

enum {
    TABLE_LAKE = 1,
    TABLE_USER,
    TABLE_VIEW,
    TABLE_SYSTEM,
    TABLE_FUNC,     /* a table function's result, bound with its arguments */
};

typedef struct sql_table_ops {
    /* How many units a scan with this request has (done once, before workers start);
     * may keep what it found in req->state for open (freed by release). */
    int (*units)(sql_table *t, sql_scan_req *req, int64_t *n, sql_err *e);
    void (*release)(sql_table *t, sql_scan_req *req);
    int (*open)(sql_table *t, const sql_scan_req *req, int64_t unit, sql_scan **out, sql_err *e);
    /* Estimated rows (planning: join order, build side); -1 unknown. */
    double (*estimate)(sql_table *t, const sql_scan_req *req);
    void (*free)(sql_table *t);
} sql_table_ops;

struct sql_table {
    const char *name;
    const char *schema;       /* "public", "pg_catalog", "information_schema" */
    int kind;
    int ncols;
    const char **colnames;
    sql_type *coltypes;
    int time_col;             /* the column time ranges apply to, -1 none */
    int end_col;              /* intervals (spans): their end column, -1 none */
    int id_col;               /* a process id column equality can prune on, -1 none */
    const sql_table_ops *ops;
    void *impl;
    const char *view_sql;     /* TABLE_VIEW: the SELECT */
};

/* A table function: binds its constant arguments into a table. */
typedef struct sql_tfunc {
    const char *name;
    int min_args, max_args;
    /* The types the arguments are coerced to (implicit casts, unknown literals
     * read as them) from the types given: false if no signature fits. */
    bool (*arg_types)(const sql_type *given, int nargs, sql_type *want);
    int (*bind)(struct sql_engine *eng, const sql_datum *args, const sql_type *types, int nargs,
                sql_table **out, sql_err *e);
    /* Its result's columns depend on the argument types only (bound with NULL
     * arguments they are known), so its arguments may name columns of enclosing
     * queries: a correlated subquery binds it again at each run. */
    bool outer_args;
} sql_tfunc;

/* It builds or deletes: refused in sessions without the admin scope (sql_session_deny_admin). */
bool sql_tfunc_is_admin(const sql_tfunc *tf);

const sql_tfunc *sql_tfunc_find(const char *name);

/*
 * Names another driver adds to one session's catalog (continuous jobs: their
 * sources, materialized views and window functions; src/stream fills it, this
 * engine never depends on it).  Looked up before the built-in and user tables;
 * NULL: not one of the hook's.  The hook owns the tables `table` returns (they
 * must outlive the session's queries); tables its functions bind are freed with
 * the query as usual.
 */
/* A table function of a hook: tf's name, arity and arg_types apply (its bind is
 * not used); bind_arg binds it with the hook's context. */
typedef struct sql_hook_tfunc {
    sql_tfunc tf;
    /* The first name_args arguments may be bare names (`tumble(bids, ts, ...)`:
     * a relation, a column), which reach bind_arg as text constants. */
    int name_args;
    int (*bind_arg)(void *arg, const sql_datum *args, const sql_type *types, int nargs,
                    sql_table **out, sql_err *e);
} sql_hook_tfunc;

typedef struct sql_catalog_hook {
    void *arg;
    sql_table *(*table)(void *arg, const char *name);
    const sql_hook_tfunc *(*tfunc)(void *arg, const char *name);
    /* Optional, asked after `table`: a table made for one query, freed with the
     * query's arena a (the hook registers its cleanup there): a snapshot of
     * something another thread changes (a server's materialized views). */
    sql_table *(*table_for)(void *arg, const char *name, arena *a);
} sql_catalog_hook;

struct sql_session;
/* Sets (NULL: clears) a session's hook; h must outlive its use. */
void sql_session_set_catalog_hook(struct sql_session *s, const struct sql_catalog_hook *h);

/*
 * Statements another driver runs itself (a server's continuous jobs: CREATE
 * TABLE ... WITH (connector ...), CREATE MATERIALIZED VIEW, SHOW JOBS ...).
 * run is asked first for every statement a session runs (not for plans taken
 * apart by that driver): 1 when it ran it (q's tag or rows set), 0 when it is
 * the engine's, or a negative code with q's error set.
 */
struct sql_query;
struct PgQuery__Node;
typedef struct sql_stmt_hook {
    void *arg;
    int (*run)(void *arg, struct sql_query *q, const struct PgQuery__Node *st,
               const char *text);
} sql_stmt_hook;

struct sql_engine;
/* Hooks of every session made from now on (h: their catalog hook unless a
 * session sets its own) and the statement hook; both must outlive the engine's
 * sessions.  Set them before sessions are made. */
void sql_engine_set_hooks(struct sql_engine *eng, const sql_catalog_hook *h,
                          const sql_stmt_hook *sh);

/* The built-in tables: lake tables, and system tables when a is given (they are made
 * for the query); by name; NULL if none. */
sql_table *sql_builtin_table(struct sql_engine *eng, const char *schema, const char *name,
                             arena *a);
/* pg_catalog and information_schema tables (system.c), made in arena a for one query
 * (a NULL: none); NULL if none. */
sql_table *sql_system_table(struct sql_engine *eng, const char *schema, const char *name,
                            arena *a);
/* Every built-in table (for information_schema and \dt), i = 0.. until NULL. */
sql_table *sql_builtin_table_at(struct sql_engine *eng, int i);

/* Frees a table made by a table function or a user-table snapshot. */
void sql_table_free(sql_table *t);

#endif
