/*
 * job.c - one continuous statement, run until its bounded source ends.
 *
 * The statement's SELECT goes through the SQL engine's own front end:
 * parsed, bound against the session's catalog (with the run's connector
 * tables, views and window functions), optimized and built into operators
 * that are not opened (sql_query_open_plan).  This driver then takes the
 * operator tree apart, from the top:
 *
 *   post chain    FILTER / PROJECT above the aggregation (HAVING, the select
 *                 list), run with the operators' own streaming callbacks
 *   aggregation   an SP_AGG whose GROUP BY holds window_start or window_end:
 *                 one sql_aggtab (the batch GROUP BY's table, aggregates and
 *                 all) per open window, fed as rows arrive, read out and
 *                 freed when the watermark passes the window's end (session
 *                 windows: session.c); without a window, one table emitting
 *                 updates (emit = 'on_update')
 *   pre chain     FILTER / PROJECT between the scan and the aggregation (or
 *                 the sink, for a job without one)
 *   scan          the source, or tumble/hop over it: the driver builds the
 *                 scan's rows itself (window assignment makes a row per
 *                 window holding it), keeps the scan's columns and applies
 *                 the filter the optimizer pushed into it
 *
 * A hash join in the pre chain whose build side is static (a connector
 * table without event_time, a user table) is a lookup join: its build side is
 * read whole when the job is prepared and each worker probes it (lookup.c).
 * Joins of two streams go to winjoin.c (on window columns) or ijoin.c
 * (interval joins).  Anything else (sorts, DISTINCT, window functions,
 * subqueries) is refused with 0A000 before a row is read.
 * The aggregation keys other than the window columns are the partition key
 * that gives each row its owner among the workers.  A job without an
 * aggregation reading a view that emits updates, with FILTER / PROJECT only,
 * is keyed by that view's key when its sink holds keyed rows (keyed_reader).
 *
 * worker.c runs what this file took apart (stream_job_plan) on --workers threads (the scan
 * and the pre chain where rows are read, the windows and the post chain
 * where their key is owned) and merges what they emit into the sink, in
 * non-decreasing window_end order.
 */
#include "stream/job.h"
#include "stream/ulog.h"

#include "base/alloc.h"

#include <stdio.h>
#include <string.h>

typedef stream_job job;
#define MAX_CHAIN STREAM_MAX_CHAIN

static int oom(sql_err *e)
{
    return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
}

static int unsupported(job *j, const char *what)
{
    return sql_err_set(j->e, SQLSTATE_FEATURE, -1, "continuous jobs do not support %s yet "
                       "(this version: filters, projections and GROUP BY, over tumble, hop or "
                       "session windows or none, of one source)", what);
}

/* ---- the plan taken apart ------------------------------------------------ */

/* A lookup join: a hash join whose build side (right) is static, probed by the
 * stream's rows on each worker (lookup.c). */
static bool lookup_join(const sql_plan *p)
{
    uint8_t t = p->join.type;
    if (!p->join.nkeys || (t != SJ_INNER && t != SJ_LEFT && t != SJ_SEMI && t != SJ_ANTI))
        return false;
    if (stream_plan_reads_stream(p->right) || (p->join.cond && sql_expr_has_subquery(p->join.cond)))
        return false;
    for (int k = 0; k < p->join.nkeys; k++)
        if (sql_expr_has_subquery(p->join.lkeys[k]) || sql_expr_has_subquery(p->join.rkeys[k]))
            return false;
    return true;
}

static bool streams(const sql_op *op)
{
    const sql_plan *p = op->p;
    if (!op->vt->stream || !op->vt->stream_prepare)
        return false;
    if (p->kind == SP_JOIN)
        return lookup_join(p);
    if (p->kind == SP_FILTER)
        return !sql_expr_has_subquery(p->filter.pred);
    if (p->kind != SP_PROJECT || p->project.srf)
        return false;
    for (int c = 0; c < p->ncols; c++)
        if (sql_expr_has_subquery(p->project.exprs[c]))
            return false;
    return true;
}

/* FILTER / PROJECT operators from *op down, into chain (bottom to top). */
static int take_chain(job *j, sql_op **op, sql_op **chain, int *n)
{
    sql_op *top[MAX_CHAIN];
    int k = 0;
    while (*op && ((*op)->p->kind == SP_FILTER || (*op)->p->kind == SP_PROJECT ||
                   (*op)->p->kind == SP_JOIN)) {
        if ((*op)->p->kind == SP_JOIN && !streams(*op)) {
            j->join_refused = true;
            return unsupported(j, "this join (this version: a stream joined with a static "
                               "table on equality keys, the stream on the left, windowed "
                               "streams joined on window_start or window_end, or an inner "
                               "interval join of two streams)");
        }
        if (!streams(*op))
            return unsupported(j, "subqueries and set-returning functions");
        if (k == MAX_CHAIN)
            return unsupported(j, "this many nested projections");
        top[k++] = *op;
        *op = (*op)->child;
    }
    for (int i = 0; i < k; i++)
        chain[i] = top[k - 1 - i];
    *n = k;
    return SL_OK;
}

static const char *kind_name(int k)
{
    switch (k) {
    case SP_JOIN: return "joins of two streams";
    case SP_SORT: return "ORDER BY";
    case SP_LIMIT: return "LIMIT";
    case SP_DISTINCT: return "DISTINCT";
    case SP_SETOP: return "UNION, INTERSECT and EXCEPT";
    case SP_WINDOW: return "window functions (OVER)";
    case SP_CTE:
    case SP_CTE_REF: return "WITH queries";
    case SP_AGG: return "nested aggregations";
    default: return "this kind of query";
    }
}

/* The table column an aggregation input column comes from (-1: computed). */
static int trace_col(const job *j, int col)
{
    for (int i = j->npre - 1; i >= 0; i--) {
        const sql_plan *p = j->pre[i]->p;
        if (p->kind == SP_JOIN && col >= p->child->ncols)
            return -1; /* a lookup table's column */
        if (p->kind == SP_PROJECT) {
            const sql_expr *x = p->project.exprs[col];
            if (x->kind != SE_COL)
                return -1;
            col = x->col;
        }
    }
    return j->scan->p->scan.cols[col];
}

/* x, an expression over the input of pre[level] (-1: over the scan's rows), as
 * the same expression over the source's columns, made in a: a projection's
 * column is its expression, a filter passes its input's.  NULL (with *why) when
 * it reads a column that is not the source's (a lookup table's, a window's), or
 * could differ when computed again (volatile, a subquery); NULL with *why left
 * NULL when a is out of memory. */
static sql_expr *source_expr(const job *j, const sql_expr *x, int level, arena *a,
                             const char **why)
{
    if (x->kind == SE_COL) {
        for (; level >= 0; level--) {
            const sql_plan *p = j->pre[level]->p;
            if (p->kind == SP_PROJECT)
                return source_expr(j, p->project.exprs[x->col], level - 1, a, why);
            if (p->kind == SP_JOIN && x->col >= p->child->ncols)
                return *why = "a lookup table's column", NULL;
        }
        int tc = j->scan->p->scan.cols[x->col];
        if (tc >= j->src->ncols)
            return *why = "window_start or window_end", NULL;
        sql_expr *c = arena_alloc(a, sizeof *c);
        if (!c)
            return NULL;
        *c = *x;
        c->col = tc;
        return c;
    }
    if (x->volatile_ || x->kind == SE_SUBQUERY || x->kind == SE_OUTER || x->kind == SE_AGG ||
        x->kind == SE_WINDOW)
        return *why = "a volatile function or a subquery", NULL;
    sql_expr *c = arena_alloc(a, sizeof *c);
    sql_expr **args = x->nargs ? arena_alloc(a, sizeof *args * (size_t)x->nargs) : NULL;
    if (!c || (x->nargs && !args))
        return NULL;
    *c = *x;
    c->args = args;
    for (int i = 0; i < x->nargs; i++)
        if (!(args[i] = source_expr(j, x->args[i], level, a, why)))
            return NULL;
    return c;
}

/* A session key that is an expression (k: its aggregation key): computed over
 * the source's rows as they arrive, kept after the source's columns. */
static int session_expr_key(job *j, int k)
{
    const char *why = NULL;
    sql_expr *x = source_expr(j, j->agg->p->agg.keys[k], j->npre - 1, &j->q->a, &why);
    if (!x && !why)
        return oom(j->e);
    if (!x)
        return sql_err_set(j->e, SQLSTATE_FEATURE, -1, "a session window's GROUP BY key is "
                           "computed from the source's columns as rows arrive (sessions form "
                           "before WHERE); key %d reads %s", k + 1, why);
    j->sess_x[j->nsess_x] = x;
    j->sess_cols[j->npkeys] = j->src->ncols + j->nsess_x++;
    return SL_OK;
}

/* A session job's kept rows: the source's columns, then its computed keys. */
static int session_layout(job *j)
{
    int ns = j->src->ncols;
    j->sess_ncols = ns + j->nsess_x;
    j->sess_types = j->src->types;
    if (j->nsess_x) {
        sql_type *t = arena_alloc(&j->q->a, sizeof *t * (size_t)j->sess_ncols);
        if (!t)
            return oom(j->e);
        memcpy(t, j->src->types, sizeof *t * (size_t)ns);
        for (int i = 0; i < j->nsess_x; i++)
            t[ns + i] = j->sess_x[i]->type;
        j->sess_types = t;
    }
    const sql_plan *p = j->agg->p;
    for (int k = 0; k < p->agg.nkeys && k < STREAM_MAX_KEYS; k++) {
        j->key_kept[k] = -1;
        for (int i = 0; i < j->npkeys; i++)
            if (j->pkeys[i] == k)
                j->key_kept[k] = j->sess_cols[i];
    }
    return SL_OK;
}

/* The aggregation keys that pick a row's owner among the workers: those that are
 * not window columns (all of them when every key is one: then windows spread over
 * the workers, which tumble and hop allow). */
static int partition_keys(job *j)
{
    const sql_plan *p = j->agg->p;
    j->npkeys = 0;
    /* sessions are per key: without other keys, one sequence of sessions */
    for (int pass = 0; pass < (j->win && j->win->session ? 1 : 2) && !j->npkeys; pass++)
        for (int k = 0; k < p->agg.nkeys; k++) {
            const sql_expr *x = p->agg.keys[k];
            int tc = x->kind == SE_COL ? trace_col(j, x->col) : -1;
            bool win = tc == j->src->ncols || tc == j->src->ncols + 1;
            if (pass == 0 && win)
                continue;
            if (j->npkeys == STREAM_MAX_KEYS)
                return unsupported(j, "this many GROUP BY keys");
            bool session = j->win && j->win->session;
            int rc = session && tc < 0 ? session_expr_key(j, k) : SL_OK;
            if (rc)
                return rc;
            if (session && tc >= 0)
                j->sess_cols[j->npkeys] = tc;
            j->src_keys[j->npkeys] = tc;
            j->pkeys[j->npkeys++] = k;
        }
    return j->win && j->win->session ? session_layout(j) : SL_OK;
}

static int find_window_key(job *j)
{
    const sql_plan *p = j->agg->p;
    j->win_col = -1;
    for (int k = 0; k < p->agg.nkeys; k++) {
        const sql_expr *x = p->agg.keys[k];
        if (k < STREAM_MAX_KEYS)
            j->key_src[k] = x->kind == SE_COL ? trace_col(j, x->col) : -1;
        if (x->kind != SE_COL)
            continue;
        int tc = trace_col(j, x->col);
        if (tc == j->src->ncols || (tc == j->src->ncols + 1 && j->win_col < 0)) {
            j->win_col = x->col;
            j->win_is_end = tc == j->src->ncols + 1;
        }
    }
    if (j->win_col >= 0 || !j->win)
        return partition_keys(j); /* no window: a GROUP BY emitting updates */
    return sql_err_set(j->e, SQLSTATE_FEATURE, -1, "a windowed GROUP BY must group by "
                       "window_start or window_end");
}

static int analyse(job *j)
{
    sql_op *op = j->q->root;
    int rc = take_chain(j, &op, j->post, &j->npost);
    if (!rc && op && op->p->kind == SP_AGG) {
        j->agg = op;
        op = op->child;
        rc = take_chain(j, &op, j->pre, &j->npre);
    } else if (!rc) {
        memcpy(j->pre, j->post, sizeof j->post);
        j->npre = j->npost;
        j->npost = 0;
    }
    if (rc)
        return rc;
    if (!op || op->p->kind != SP_SCAN) {
        j->join_refused = op && op->p->kind == SP_JOIN;
        return unsupported(j, op ? kind_name(op->p->kind) : "this query");
    }
    j->scan = op;
    j->src = stream_scan_source(op->p->scan.table, &j->win);
    if (!j->src && op->p->scan.table->ops == &stream_lookup_ops &&
        stream_table_is_sink((const stream_table *)op->p->scan.table))
        return sql_err_set(j->e, SQLSTATE_FEATURE, -1, "table \"%s\" is a sink (webhook, "
                           "metrics, table or blackhole): a job cannot read it",
                           op->p->scan.table->name);
    if (!j->src && op->p->scan.table->ops == &stream_lookup_ops)
        return sql_err_set(j->e, SQLSTATE_FEATURE, -1, "table \"%s\" has no event_time: it is "
                           "a static (lookup) table; a job reads a stream, which may join it",
                           op->p->scan.table->name);
    stream_view *v = j->src ? NULL : stream_view_find(j->r, op->p->scan.table->name);
    if (v && op->p->scan.table == &v->f->t) { /* a view no job can read (source_view.c) */
        stream_table *vs;
        int vrc = stream_view_source(v, "", NULL, &vs, j->e);
        return vrc ? vrc : sql_err_set(j->e, SQLSTATE_INTERNAL, -1, "materialized view \"%s\" "
                                     "bound as its contents", v->name);
    }
    if (!j->src)
        return sql_err_set(j->e, SQLSTATE_FEATURE, -1, "a continuous job reads a source table "
                           "(CREATE TABLE ... WITH (connector = ...)); \"%s\" is not one",
                           op->p->scan.table->name);
    if (op->p->scan.filter && sql_expr_has_subquery(op->p->scan.filter))
        return unsupported(j, "subqueries");
    if (!j->agg && j->win && j->win->session)
        return unsupported(j, "session windows without GROUP BY (a session is known only when "
                           "it closes)");
    return j->agg ? find_window_key(j) : SL_OK;
}

/* A job reading a view with emit = 'on_update' (its rows are updates), no window. */
static bool reads_update_view(const job *j)
{
    return j->src && j->src->connector == STREAM_CONN_VIEW && j->src->vw->log && !j->win;
}

/* A job over a view with emit = 'on_update' (analysed) whose pre chain is FILTER
 * and PROJECT: it reads the view with its keys and deletions.  A filter or
 * projection is then keyed by the view's key, so that a row its filter drops, and
 * a row the view deletes, leave as deletions (upost.c's stream_ulog_pass); its
 * sink decides whether it is (a view, or a sink with op_column).  A GROUP BY
 * computes a changed group again from the view's current rows (uagg.h). */
static bool keyed_reader(const job *j)
{
    if (!reads_update_view(j))
        return false;
    for (int i = 0; i < j->npre; i++)
        if (j->pre[i]->p->kind != SP_FILTER && j->pre[i]->p->kind != SP_PROJECT)
            return false; /* (a lookup join: appended, deletions not passed on) */
    return true;
}

/* A lookup join of a view with emit = 'on_update', outside a GROUP BY: each update
 * of the view goes through the join as a row, but a deletion of the view's cannot
 * reach the joined rows (the join may give a key several rows or none).  Such a job
 * may append its rows; a sink that would hold them by key (a view, a sink with
 * op_column) is refused. */
static bool lookup_of_updates(const job *j)
{
    if (!reads_update_view(j) || j->agg)
        return false;
    for (int i = 0; i < j->npre; i++)
        if (j->pre[i]->p->kind == SP_JOIN)
            return true;
    return false;
}

static int refuse_lookup_of_updates(job *j, const char *what, const char *name)
{
    return sql_err_set(j->e, SQLSTATE_FEATURE, -1, "%s \"%s\": its job joins \"%s\", which "
                       "emits updates (emit = 'on_update'), with a static table, and the "
                       "view's deletions do not reach the joined rows yet, so the rows cannot "
                       "be kept by key; join the static table in \"%s\"'s own query (before its "
                       "GROUP BY), or append the joined updates to a sink without op_column",
                       what, name, j->src->name, j->src->name);
}

/* ---- the sink ------------------------------------------------------------- */

static int sink_deletes_prepare(job *j);
static int out_key(const job *j, int c);
static int kafka_log_key(job *j, stream_table *t, const int *map);

/* INSERT INTO sink [(cols)] SELECT: the sink and which job column feeds each of its
 * columns. */
static int insert_sink(job *j, const PgQuery__InsertStmt *ins, int *map)
{
    stream_run *r = j->r;
    const char *name = ins->relation->relname;
    stream_table *t = stream_table_find(r, name);
    if (!t)
        return sql_err_set(j->e, SQLSTATE_FEATURE, -1, "INSERT INTO \"%s\": a continuous job "
                           "writes a table with a connector or a materialized view (writing "
                           "other tables is not supported yet)", name);
    if (t->written)
        return sql_err_set(j->e, SQLSTATE_FEATURE, -1, "INSERT INTO \"%s\": an earlier job "
                           "of this run wrote it already (one job per file sink in this "
                           "version)", name);
    if (t == j->src)
        return sql_err_set(j->e, SQLSTATE_FEATURE, -1, "INSERT INTO \"%s\": a job cannot "
                           "write the source it reads", name);
    if (t->format == STREAM_FMT_JSONL && t->connector != STREAM_CONN_KAFKA &&
        t->connector != STREAM_CONN_FILE)
        return sql_err_set(j->e, SQLSTATE_FEATURE, -1, "INSERT INTO \"%s\": format = 'jsonl' "
                           "is for file and kafka sinks", name);
    int nsel = j->q->ncols;
    for (int i = 0; i < t->ncols; i++)
        map[i] = -1;
    /* op_column is the sink's own: the SELECT fills the other columns */
    int nfill = t->ncols - (t->op_col >= 0);
    if (!ins->n_cols && nsel > nfill)
        return sql_err_set(j->e, SQLSTATE_SYNTAX, -1, "INSERT has more expressions than "
                           "target columns");
    for (int i = 0, c = 0; !ins->n_cols && i < nsel; i++, c++) {
        if (c == t->op_col)
            c++;
        map[c] = i;
    }
    for (size_t i = 0; i < ins->n_cols; i++) {
        const char *cn = ins->cols[i]->res_target->name;
        int c = -1;
        for (int k = 0; k < t->ncols && c < 0; k++)
            if (!strcmp(t->names[k], cn))
                c = k;
        if (c < 0)
            return sql_err_set(j->e, SQLSTATE_UNDEFINED_COLUMN, -1, "column \"%s\" of relation "
                               "\"%s\" does not exist", cn, name);
        if (c == t->op_col)
            return sql_err_set(j->e, SQLSTATE_SYNTAX, -1, "INSERT INTO \"%s\": column \"%s\" "
                               "is its op_column, which the job fills", name, cn);
        if ((int)i < nsel)
            map[c] = (int)i;
    }
    if (ins->n_cols && (int)ins->n_cols != nsel)
        return sql_err_set(j->e, SQLSTATE_SYNTAX, -1, "INSERT has %s expressions than target "
                           "columns", nsel > (int)ins->n_cols ? "more" : "fewer");
    if (t->connector == STREAM_CONN_TELEMETRY)
        return sql_err_set(j->e, SQLSTATE_FEATURE, -1, "INSERT INTO \"%s\": a telemetry table "
                           "is a source", name);
    if (t->connector == STREAM_CONN_FILE &&
        stream_path_resolve(t->path, sizeof t->path, r->o->output_dir, t->path_opt))
        return sql_err_set(j->e, "22023", -1, "sink \"%s\": path too long", name);
    if (t->op_col >= 0 && lookup_of_updates(j))
        return refuse_lookup_of_updates(j, "INSERT INTO", name);
    j->on_update = j->log_to_sink = (j->agg && j->win_col < 0) || (j->ukeyed && t->op_col >= 0);
    /* a filter without op_column: its rows appended; a GROUP BY always computes its
     * groups from the view's current rows */
    j->ukeyed = j->ukeyed && j->log_to_sink;
    /* (a kafka sink's key before it opens: a keyed one partitions by its key alone) */
    int rc = t->connector == STREAM_CONN_KAFKA ? kafka_log_key(j, t, map) : SL_OK;
    if (!rc)
        rc = stream_sink_open(r, t, NULL, map, j->q->types, nsel, &j->sink, j->e);
    /* with op_column, the groups a HAVING stops keeping are deleted from the log */
    if (!rc && j->log_to_sink && t->op_col >= 0 && !j->sink_deletes)
        rc = sink_deletes_prepare(j);
    return rc;
}

/*
 * A kafka sink without its own `key` option: an upsert log (a GROUP BY without a
 * window) is keyed by the GROUP BY columns it receives, in the sink's column
 * order, when it receives all of them; then a group a HAVING stops keeping is a
 * tombstone (its key, no value), as a compacted topic wants.  Other jobs write
 * no key.
 */
static int kafka_log_key(job *j, stream_table *t, const int *map)
{
    if (!stream_kafka_sink_key(t, NULL, 0) || !j->log_to_sink || t->op_col >= 0)
        return SL_OK;
    int rc = sink_deletes_prepare(j);
    if (rc == SL_ENOMEM || (rc && !strcmp(j->e->state, SQLSTATE_OUT_OF_MEMORY)))
        return rc;
    if (rc) { /* a shape whose deletions the job cannot name (a join after the GROUP
                 BY): rows without a key, as before */
        sql_err_clear(j->e);
        j->sink_deletes = false;
        return SL_OK;
    }
    int cols[16], n = 0;
    uint64_t covered = 0;
    for (int c = 0; c < t->ncols; c++) {
        int k = map[c] >= 0 ? j->ukey_out[map[c]] : -1;
        if (k >= 0 && k < 64 && n < 16) {
            cols[n++] = c;
            covered |= 1ull << k;
        }
    }
    bool all = !j->ukey_const && j->ukeys <= 16 && covered == (1ull << j->ukeys) - 1;
    j->sink_deletes = all;
    stream_kafka_sink_key(t, cols, all ? n : 0);
    return SL_OK;
}

/* The source column that job output column c carries (of a window table:
 * src->ncols is window_start, src->ncols + 1 window_end), -1 if computed. */
static int out_source_col(const job *j, int c)
{
    for (int i = j->npost - 1; i >= 0; i--) {
        const sql_plan *p = j->post[i]->p;
        if (p->kind == SP_JOIN && c >= p->child->ncols)
            return -1;
        if (p->kind == SP_PROJECT) {
            const sql_expr *x = p->project.exprs[c];
            if (x->kind != SE_COL)
                return -1;
            c = x->col;
        }
    }
    if (j->agg) { /* its output: the keys, then the aggregates */
        const sql_plan *p = j->agg->p;
        if (c >= p->agg.nkeys || p->agg.keys[c]->kind != SE_COL)
            return -1;
        c = p->agg.keys[c]->col;
    }
    return trace_col(j, c);
}

/* ---- a view with emit = 'on_update': its owners' half (upost.c) ------------ */

static const sql_type g_zero_key[1] = {{ST_INT8, -1}};

/* t's n types and one bigint after them (the row number a post chain carries), in a. */
static sql_type *with_rownum(arena *a, const sql_type *t, int n)
{
    sql_type *o = arena_zalloc(a, sizeof *o * (size_t)(n + 1));
    if (o) {
        memcpy(o, t, sizeof *t * (size_t)n);
        o[n] = sql_type_of(ST_INT8);
    }
    return o;
}

static void free_view_log(ftab *f)
{
    stream_ulog_free(f->impl);
    f->impl = NULL;
}

/* The owners' keyed emission (upost.c) of updates of nv columns of types vt:
 * each post stage's columns with a row number after them, and an update's
 * columns (vt's, then the group's key). */
static int keyed_stages(stream_job *j, int nv, const sql_type *vt, sql_err *e)
{
    arena *a = &j->q->a;
    const sql_type *kt;
    if (j->ukeyed && !j->agg) { /* a filter or projection of an update view: its key */
        int n, ns = j->src->ncols;
        const sql_type *lt = stream_ulog_types(j->src->vw->log, &n);
        j->ukeys = n - ns;
        kt = lt + ns;
    } else {
        const sql_plan *ap = j->agg->p;
        int nk = ap->agg.nkeys;
        if (nk > STREAM_MAX_KEYS)
            return sql_err_set(e, "54011", -1, "emit = 'on_update': at most %d GROUP BY keys",
                               STREAM_MAX_KEYS);
        for (int i = 0; i < j->npost; i++)
            if (j->post[i]->p->kind != SP_FILTER && j->post[i]->p->kind != SP_PROJECT)
                return sql_err_set(e, SQLSTATE_FEATURE, -1, "continuous jobs do not support a "
                                   "join after the GROUP BY with emit = 'on_update' yet");
        j->ustage[0] = with_rownum(a, ap->types, ap->ncols);
        for (int i = 0; i < j->npost && j->ustage[i]; i++)
            j->ustage[i + 1] = with_rownum(a, j->post[i]->p->types, j->post[i]->p->ncols);
        if (!j->ustage[j->npost])
            return oom(e);
        /* a GROUP BY of no column (one group) is keyed by a constant */
        j->ukey_const = nk == 0;
        j->ukeys = nk ? nk : 1;
        kt = nk ? ap->types : g_zero_key;
    }
    j->uout = arena_zalloc(a, sizeof *j->uout * (size_t)(nv + j->ukeys));
    if (!j->uout)
        return oom(e);
    memcpy(j->uout, vt, sizeof *j->uout * (size_t)nv);
    memcpy(j->uout + nv, kt, sizeof *kt * (size_t)j->ukeys);
    return SL_OK;
}

int stream_ulog_prepare(stream_job *j, stream_view *v, sql_err *e)
{
    int nv = v->f->t.ncols;
    int rc = keyed_stages(j, nv, v->f->types, e);
    if (rc)
        return rc;
    if (stream_ulog_new(nv, v->f->types, j->ukeys, j->uout + nv, &v->log))
        return oom(e);
    v->f->impl = v->log;
    v->f->on_free = free_view_log;
    /* which key each of its columns carries: a later job keyed by it names a
     * deleted key in those (sink_deletes_prepare) */
    if (!(v->key_of = arena_zalloc(&v->f->mem, sizeof *v->key_of * (size_t)(nv ? nv : 1))))
        return oom(e);
    for (int c = 0; c < nv; c++)
        v->key_of[c] = j->ukey_const ? -1 : out_key(j, c);
    return SL_OK;
}

/* The GROUP BY key that job output column c carries (through the post chain's
 * projections), or -1. */
static int out_key(const job *j, int c)
{
    bool pre = j->ukeyed && !j->agg;
    sql_op *const *ops = pre ? j->pre : j->post;
    for (int i = (pre ? j->npre : j->npost) - 1; i >= 0; i--) {
        const sql_plan *p = ops[i]->p;
        if (p->kind == SP_PROJECT) {
            const sql_expr *x = p->project.exprs[c];
            if (x->kind != SE_COL)
                return -1;
            c = x->col;
        } else if (p->kind != SP_FILTER) {
            return -1;
        }
    }
    if (pre) { /* a scan column: the view's column, which may carry its key */
        int sc = j->scan->p->scan.cols[c];
        const stream_view *v = j->src->vw;
        return sc < j->src->ncols && v->key_of ? v->key_of[sc] : -1;
    }
    return c < j->agg->p->agg.nkeys ? c : -1;
}

/* A GROUP BY without a window into a sink with op_column: updates keyed as a
 * view's are, so that a group its HAVING stops keeping is deleted (a row with
 * op 'delete', its key in the columns that carry it, the rest NULL). */
static int sink_deletes_prepare(job *j)
{
    int rc = keyed_stages(j, j->q->ncols, j->q->types, j->e);
    if (rc)
        return rc;
    if (!(j->ukey_out = arena_zalloc(&j->q->a, sizeof *j->ukey_out * (size_t)j->q->ncols)))
        return oom(j->e);
    for (int c = 0; c < j->q->ncols; c++)
        j->ukey_out[c] = j->ukey_const ? -1 : out_key(j, c);
    j->sink_deletes = true;
    return SL_OK;
}

/* A job reading an update view with its keys: the pre chain's stages with a row
 * number after their columns (upost.c's stream_ulog_pre). */
static int keyed_read_stages(job *j)
{
    arena *a = &j->q->a;
    j->upre[0] = with_rownum(a, j->scan->p->types, j->scan->p->ncols);
    for (int i = 0; i < j->npre && j->upre[i]; i++)
        j->upre[i + 1] = with_rownum(a, j->pre[i]->p->types, j->pre[i]->p->ncols);
    return j->upre[j->npre] ? SL_OK : oom(j->e);
}

/* Which of a view's columns a later job may read it by, as event time
 * (source_view.c has why these keep every row on time). */
static int view_as_source(job *j, stream_view *v)
{
    int cols[2], n = 0;
    int64_t delay[2] = {0, 0}, lag[2] = {-1, -1};
    const char *why = "its select list carries neither window_start nor window_end of its "
                      "window (nor, without an aggregation, its source's event time)";
    if (j->ijoin) { /* its rows' times are not in order: its job's closed watermark */
        why = "its select list carries neither side's event-time column";
        for (int c = 0; c < j->q->ncols && n < 2; c++)
            if (stream_ijoin_out_time(j->q->root->p, c, &lag[n]))
                cols[n++] = c;
        v->record_wm = n > 0;
        return stream_view_source_setup(j->r, v, cols, delay, lag, n, why);
    }
    if (j->winjoin) { /* its windows' rows, written in order of window_end */
        stream_win win;
        int start = -1, end = -1;
        for (int c = 0; c < j->q->ncols; c++) {
            int wc = stream_winjoin_out_col(j->q->root->p, c, &win);
            start = wc == 1 && start < 0 ? c : start;
            end = wc == 2 && end < 0 ? c : end;
        }
        if (start >= 0) {
            lag[n] = win.size_ns;
            cols[n++] = start;
        }
        if (end >= 0) {
            lag[n] = 0;
            cols[n++] = end;
        }
        return stream_view_source_setup(j->r, v, cols, delay, lag, n, why);
    } else if (j->on_update) { /* its updates, with no event time (source_view.c) */
        cols[0] = -1;
        return stream_view_source_setup(j->r, v, cols, delay, lag, 1, "");
    }
    int start = -1, end = -1, ev = -1;
    for (int c = 0; c < j->q->ncols && !j->winjoin && !j->ijoin && !j->on_update; c++) {
        int sc = out_source_col(j, c);
        if (j->agg && j->win && sc == j->src->ncols && !j->win->session && start < 0)
            start = c;
        else if (j->agg && j->win && sc == j->src->ncols + 1 && end < 0)
            end = c;
        else if (!j->agg && sc >= 0 && sc == j->src->time_col && ev < 0)
            ev = c;
    }
    if (ev >= 0) {
        cols[n] = ev;
        delay[n++] = j->src->delay_ns;
    }
    if (start >= 0) { /* a window not yet emitted ends after closed_wm: starts after it
                         minus the size */
        lag[n] = j->win->size_ns;
        cols[n++] = start;
    }
    if (end >= 0) {
        lag[n] = 0;
        cols[n++] = end;
    }
    return stream_view_source_setup(j->r, v, cols, delay, lag, n, why);
}

static int view_sink(job *j, const PgQuery__CreateTableAsStmt *ct, int *map)
{
    const PgQuery__IntoClause *into = ct->into;
    const char *name = into->rel->relname;
    bool on_close = j->agg ? j->win_col >= 0 : !j->ukeyed, given = false;
    for (size_t i = 0; i < into->n_options; i++) {
        const PgQuery__DefElem *d = into->options[i]->def_elem;
        char buf[64];
        const char *v = d ? stream_opt_text(d, buf, sizeof buf) : NULL;
        if (!d || strcmp(d->defname, "emit") || !v)
            return sql_err_set(j->e, "22023", -1, "materialized view \"%s\": unknown option "
                               "(it takes emit = 'on_window_close' or 'on_update')", name);
        if (strcmp(v, "on_update") && strcmp(v, "on_window_close"))
            return sql_err_set(j->e, "22023", -1, "materialized view \"%s\": emit must be "
                               "'on_window_close' or 'on_update'", name);
        on_close = !strcmp(v, "on_window_close");
        given = true;
    }
    if (lookup_of_updates(j))
        return refuse_lookup_of_updates(j, "materialized view", name);
    if (given && !on_close && j->winjoin)
        return sql_err_set(j->e, "22023", -1, "materialized view \"%s\": a join of windows "
                           "emits each window once, when it closes: emit = 'on_update' is not "
                           "supported for it", name);
    if (given && on_close && j->agg && j->win_col < 0)
        return sql_err_set(j->e, "22023", -1, "materialized view \"%s\": a GROUP BY without "
                           "a window has no window to close: use emit = 'on_update'", name);
    if (given && on_close && j->ukeyed && !j->agg)
        return sql_err_set(j->e, "22023", -1, "materialized view \"%s\": it reads \"%s\", "
                           "which emits updates (emit = 'on_update'): its rows are updates too; "
                           "use emit = 'on_update'", name, j->src->name);
    j->on_update = (j->agg || j->ukeyed) && !on_close;
    int n = j->q->ncols;
    if ((int)into->n_col_names > n)
        return sql_err_set(j->e, SQLSTATE_SYNTAX, -1, "too many column names were specified");
    const char **names = arena_zalloc(&j->q->a, sizeof *names * (size_t)(n ? n : 1));
    if (!names)
        return oom(j->e);
    for (int i = 0; i < n; i++) {
        names[i] = i < (int)into->n_col_names ? node_str(into->col_names[i]) : j->q->names[i];
        map[i] = i;
    }
    stream_view *v;
    int rc = stream_view_new(j->r, name, n, names, j->q->types, &v, j->e);
    if (!rc) {
        v->emit_on_close = on_close;
        rc = stream_sink_open(j->r, NULL, v, map, j->q->types, n, &j->sink, j->e);
    }
    if (!rc && j->on_update) { /* its contents: an upsert log, current while it runs */
        j->ulog = true;
        rc = stream_ulog_prepare(j, v, j->e);
    }
    if (!rc && view_as_source(j, v))
        rc = oom(j->e);
    return rc;
}

/* ---- running ------------------------------------------------------------- */

static int prepare_ops(job *j, sql_op **ops, int n, int nw)
{
    for (int i = 0; i < n; i++) {
        /* a lookup join reads its static side whole here, before any stream row */
        int rc = ops[i]->right ? sql_op_open(ops[i]->right) : SL_OK;
        if (!rc)
            rc = ops[i]->vt->stream_prepare(ops[i], nw);
        if (rc)
            return j->q->e->state[0] ? (*j->e = *j->q->e, rc) : oom(j->e);
    }
    return SL_OK;
}

static void finish_ops(sql_op **ops, int n)
{
    for (int i = 0; i < n; i++)
        if (ops[i]->vt->stream_finish)
            ops[i]->vt->stream_finish(ops[i]);
}

stream_src_pub *stream_job_src_pub(stream_job *j, const stream_table *t)
{
    int n = atomic_load_explicit(&j->nsrc_pub, memory_order_relaxed); /* (its one writer) */
    if (n >= STREAM_SERVE_MAX)
        return NULL;
    stream_src_pub *p = &j->src_pub[n];
    p->t = t;
    atomic_init(&p->read, 0);
    atomic_init(&p->late, 0);
    atomic_init(&p->wm, STREAM_WM_NONE);
    atomic_store_explicit(&j->nsrc_pub, n + 1, memory_order_release);
    return p;
}

void stream_job_free(job *j)
{
    finish_ops(j->pre, j->npre);
    finish_ops(j->post, j->npost);
    stream_sink_close(j->sink);
    sql_query_close(j->q);
    atomic_store(&j->pub_nw, 0);
    sl_free(j->pub);
    j->pub = NULL;
}

int stream_job_plan(stream_run *r, const char *text, const PgQuery__Node *st, job *j, int *nw,
                    sql_err *e)
{
    memset(j, 0, sizeof *j);
    j->r = r;
    j->e = e;
    *nw = r->o->workers < 1 ? 1 : r->o->workers;
    r->binding_job = true; /* a view's name: the view read as a stream */
    int rc = sql_query_open_plan(r->s, text, &j->q, e);
    r->binding_job = false;
    if (rc)
        return rc;
    rc = analyse(j);
    if (!rc)
        j->ukeyed = keyed_reader(j);
    const char *why;
    if (rc && rc != SL_ENOMEM) {
        /* not taken apart: maybe local to windows (winjoin.c), run window by window */
        /* ... or an interval join of two streams (ijoin.c) */
        bool wj = j->q->root && stream_winjoin_fits(j->q->root->p, &why);
        bool ij = !wj && j->q->root && stream_ijoin_fits(j->q->root->p, &why);
        if (wj || ij) {
            sql_err_clear(e);
            j->npre = j->npost = 0;
            j->agg = j->scan = NULL;
            j->src = NULL;
            j->win = NULL;
            j->winjoin = wj;
            j->ijoin = ij;
            rc = SL_OK;
        } else if (j->q->root && why && j->join_refused) {
            /* refused for a join of two streams: say why the joins' drivers did not fit
             * (any other refusal of a job, with or without a lookup join, stands) */
            rc = sql_err_set(e, SQLSTATE_FEATURE, -1, "continuous jobs do not support %s yet",
                             why);
        }
    }
    j->text = text;
    int map[FTAB_MAXCOLS > 1024 ? FTAB_MAXCOLS : 1024];
    if (!rc && st->node_case == PG_QUERY__NODE__NODE_INSERT_STMT) {
        if (j->src && j->src->ncols > 1024)
            rc = sql_err_set(e, "54011", -1, "too many columns");
        else
            rc = insert_sink(j, st->insert_stmt, map);
    } else if (!rc) {
        rc = j->q->ncols > FTAB_MAXCOLS ? sql_err_set(e, "54011", -1, "too many columns")
                                        : view_sink(j, st->create_table_as_stmt, map);
    }
    if (!rc && j->ukeyed)
        rc = keyed_read_stages(j);
    if (!rc)
        rc = prepare_ops(j, j->pre, j->npre, *nw);
    if (!rc)
        rc = prepare_ops(j, j->post, j->npost, *nw);
    return rc;
}
