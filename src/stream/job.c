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
 *                 freed when the watermark passes the window's end
 *   pre chain     FILTER / PROJECT between the scan and the aggregation (or
 *                 the sink, for a job without one)
 *   scan          the source, or tumble/hop over it: the driver builds the
 *                 scan's rows itself (window assignment makes a row per
 *                 window holding it), keeps the scan's columns and applies
 *                 the filter the optimizer pushed into it
 *
 * Anything else (joins, sorts, DISTINCT, window functions, subqueries, a
 * GROUP BY without a window) is refused with 0A000 before a row is read.
 * Windows close in order of their end, so rows leave in non-decreasing
 * window_end order; within a window, in the aggregation table's order.
 *
 * This version runs one worker: the reader, the chains and the windows on
 * the calling thread.  docs/internals/stream.md describes the N-worker form.
 */
#include "stream/stream_int.h"

#include "base/alloc.h"

#include <stdio.h>
#include <string.h>

#define MAX_CHAIN 16

typedef struct open_win {
    int64_t start, end;
    sql_aggtab *t;
} open_win;

typedef struct job {
    stream_run *r;
    sql_query *q;
    sql_err *e;
    stream_table *src;
    const stream_win *win;
    sql_op *scan;
    sql_op *pre[MAX_CHAIN], *post[MAX_CHAIN]; /* bottom to top */
    int npre, npost;
    sql_op *agg;
    int win_col;             /* the aggregation's input column holding the window */
    bool win_is_end;         /* ... its window_end (else window_start) */
    open_win *wins;          /* sorted by start (and so by end) */
    int nwins, wins_cap;
    int64_t agg_mem;
    stream_sink *sink;
    /* the scan's own work: its pushed-down filter */
    sql_ectx cx;
    sql_err err;
    arena scratch;
    uint32_t *sel;
    int64_t sel_cap;
    uint32_t *rows;          /* window assignment: source row of each output row */
    int64_t *starts;
    int64_t rows_cap;
} job;

static int oom(sql_err *e)
{
    return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
}

static int unsupported(job *j, const char *what)
{
    return sql_err_set(j->e, SQLSTATE_FEATURE, -1, "continuous jobs do not support %s yet "
                       "(this version: filters, projections and GROUP BY over tumble or hop "
                       "windows of one source)", what);
}

/* ---- the plan taken apart ------------------------------------------------ */

static bool streams(const sql_op *op)
{
    const sql_plan *p = op->p;
    if (!op->vt->stream || !op->vt->stream_prepare)
        return false;
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
    while (*op && ((*op)->p->kind == SP_FILTER || (*op)->p->kind == SP_PROJECT)) {
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
    case SP_JOIN: return "joins";
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
        if (p->kind == SP_PROJECT) {
            const sql_expr *x = p->project.exprs[col];
            if (x->kind != SE_COL)
                return -1;
            col = x->col;
        }
    }
    return j->scan->p->scan.cols[col];
}

static int find_window_key(job *j)
{
    const sql_plan *p = j->agg->p;
    j->win_col = -1;
    for (int k = 0; k < p->agg.nkeys; k++) {
        const sql_expr *x = p->agg.keys[k];
        if (x->kind != SE_COL)
            continue;
        int tc = trace_col(j, x->col);
        if (tc == j->src->ncols || (tc == j->src->ncols + 1 && j->win_col < 0)) {
            j->win_col = x->col;
            j->win_is_end = tc == j->src->ncols + 1;
        }
    }
    if (j->win_col >= 0)
        return SL_OK;
    if (!j->win)
        return unsupported(j, "GROUP BY without a window (tumble or hop)");
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
    if (!op || op->p->kind != SP_SCAN)
        return unsupported(j, op ? kind_name(op->p->kind) : "this query");
    j->scan = op;
    j->src = stream_scan_source(op->p->scan.table, &j->win);
    if (!j->src)
        return sql_err_set(j->e, SQLSTATE_FEATURE, -1, "a continuous job reads a source table "
                           "(CREATE TABLE ... WITH (connector = ...)); \"%s\" is not one",
                           op->p->scan.table->name);
    if (j->src->time_col < 0)
        return sql_err_set(j->e, SQLSTATE_FEATURE, -1, "table \"%s\" has no event_time: it is "
                           "a static (lookup) table, and lookup joins are not supported yet",
                           j->src->name);
    if (op->p->scan.filter && sql_expr_has_subquery(op->p->scan.filter))
        return unsupported(j, "subqueries");
    return j->agg ? find_window_key(j) : SL_OK;
}

/* ---- rows going up ------------------------------------------------------- */

static int to_sink(void *arg, int w, sql_batch *b, sql_err *e)
{
    (void)w;
    return stream_sink_write(((job *)arg)->sink, b, e);
}

/* The open window starting at start (made if new); NULL out of memory. */
static open_win *window_at(job *j, int64_t start, sql_err *e)
{
    int lo = 0, hi = j->nwins;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (j->wins[mid].start < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < j->nwins && j->wins[lo].start == start)
        return &j->wins[lo];
    if (j->nwins == j->wins_cap) {
        int nc = j->wins_cap ? j->wins_cap * 2 : 16;
        open_win *nw = sl_realloc(j->wins, sizeof *nw * (size_t)nc);
        if (!nw) {
            oom(e);
            return NULL;
        }
        j->wins = nw;
        j->wins_cap = nc;
    }
    open_win ow = {start, start + j->win->size_ns, NULL};
    if (sql_aggtab_new(j->agg, &ow.t, e))
        return NULL;
    memmove(&j->wins[lo + 1], &j->wins[lo], sizeof *j->wins * (size_t)(j->nwins - lo));
    j->wins[lo] = ow;
    j->nwins++;
    return &j->wins[lo];
}

static int account(job *j, sql_err *e)
{
    int64_t m = 0;
    for (int i = 0; i < j->nwins; i++)
        m += sql_aggtab_mem(j->wins[i].t);
    int rc = sql_exec_mem(&j->q->x, j->agg, m - j->agg_mem);
    if (rc) {
        *e = *j->q->e;
        return rc;
    }
    j->agg_mem = m;
    return SL_OK;
}

/* Rows at the aggregation's input: into their windows' tables (the whole batch
 * when it holds one window, else each window's rows taken apart). */
static int to_windows(void *arg, int w, sql_batch *b, sql_err *e)
{
    (void)w;
    job *j = arg;
    const col_vec *wc = &b->cols[j->win_col];
    int64_t off = j->win_is_end ? j->win->size_ns : 0, n = b->n, nseen = 0;
    uint32_t *pick = sl_malloc(sizeof *pick * (size_t)(n ? n : 1));
    int64_t *seen = sl_malloc(sizeof *seen * (size_t)(n ? n : 1));
    int rc = pick && seen ? SL_OK : oom(e);
    for (int64_t i = 0; i < n && !rc; i++) {
        int64_t start = col_vec_i64(wc, i) - off;
        bool done = false;
        for (int64_t k = nseen - 1; k >= 0 && !done; k--)
            done = seen[k] == start;
        if (done)
            continue;
        seen[nseen++] = start;
        open_win *ow = window_at(j, start, e);
        if (!ow) {
            rc = SL_ENOMEM;
            break;
        }
        int64_t m = 0;
        for (int64_t k = i; k < n; k++)
            if (col_vec_i64(wc, k) - off == start)
                pick[m++] = (uint32_t)k;
        if (m == n) {
            rc = sql_aggtab_add(ow->t, b, e);
            continue;
        }
        sql_batch *part;
        if ((rc = sql_batch_take(b, pick, m, &part))) {
            oom(e);
            break;
        }
        rc = sql_aggtab_add(ow->t, part, e);
        sql_batch_free(part);
    }
    sl_free(pick);
    sl_free(seen);
    sql_batch_free(b);
    return rc ? rc : account(j, e);
}

/* Closes the windows whose end the watermark reached, in order of their end. */
static int close_windows(job *j, int64_t wm, sql_err *e)
{
    int rc = SL_OK, done = 0;
    for (; done < j->nwins && !rc && stream_win_closed(j->wins[done].end, wm); done++) {
        for (;;) {
            sql_batch *b;
            if ((rc = sql_aggtab_next(j->wins[done].t, &b, e)) || !b)
                break;
            if ((rc = sql_pipe_push(j->post, j->npost, 0, b, to_sink, j, e)))
                break;
        }
        sql_aggtab_free(j->wins[done].t);
        j->wins[done].t = NULL;
    }
    if (done) {
        memmove(j->wins, j->wins + done, sizeof *j->wins * (size_t)(j->nwins - done));
        j->nwins -= done;
    }
    return rc ? rc : account(j, e);
}

/* Room for n window rows. */
static int grow_rows(job *j, int64_t n)
{
    if (n <= j->rows_cap)
        return SL_OK;
    int64_t cap = j->rows_cap ? j->rows_cap : 8192;
    while (cap < n)
        cap *= 2;
    uint32_t *r = sl_realloc(j->rows, sizeof *r * (size_t)cap);
    if (r)
        j->rows = r;
    int64_t *s = r ? sl_realloc(j->starts, sizeof *s * (size_t)cap) : NULL;
    if (s)
        j->starts = s;
    if (!r || !s)
        return SL_ENOMEM;
    j->rows_cap = cap;
    return SL_OK;
}

/* The source's rows as the scan's: with a window, one row per window holding it
 * (rows without an event time are in none); the scan's columns only. */
static int scan_rows(job *j, sql_batch *in, sql_batch **out)
{
    const sql_plan *p = j->scan->p;
    int nsrc = j->src->ncols, rc = sql_batch_new(p->ncols, p->types, out);
    if (rc)
        return rc;
    sql_batch *o = *out;
    if (!j->win) {
        for (int c = 0; c < p->ncols; c++) {
            col_vec_release(&o->cols[c]);
            sql_vec_share(&in->cols[p->scan.cols[c]], &o->cols[c]);
        }
        o->n = in->n;
        return SL_OK;
    }
    const col_vec *ts = &in->cols[j->src->time_col];
    int64_t m = 0;
    for (int64_t i = 0; i < in->n && !rc; i++) {
        if (!col_vec_is_valid(ts, i))
            continue;
        int64_t first;
        int k = stream_win_assign(j->win, col_vec_i64(ts, i), &first);
        if ((rc = grow_rows(j, m + k)))
            break;
        for (int w = 0; w < k; w++, m++) {
            j->rows[m] = (uint32_t)i;
            j->starts[m] = first + w * j->win->slide_ns;
        }
    }
    sql_sel sel = {j->rows, m};
    for (int c = 0; c < p->ncols && !rc; c++) {
        int tc = p->scan.cols[c];
        if (tc < nsrc) {
            col_vec_release(&o->cols[c]);
            rc = sql_vec_gather(&in->cols[tc], &sel, &o->cols[c]);
            continue;
        }
        int64_t add = tc == nsrc ? 0 : j->win->size_ns;
        for (int64_t r = 0; r < m && !rc; r++)
            rc = col_vec_append_i64(&o->cols[c], j->starts[r] + add);
    }
    o->n = m;
    return rc;
}

/* One batch of the source's on-time rows through the job (in is taken). */
static int push_batch(job *j, sql_batch *in)
{
    sql_batch *b;
    int rc = scan_rows(j, in, &b);
    sql_batch_free(in);
    if (rc) {
        sql_batch_free(b);
        return oom(j->e);
    }
    const sql_expr *f = j->scan->p->scan.filter;
    if (f) {
        sql_batch *kept;
        sql_err_clear(&j->err);
        if ((rc = sql_filter_batch(&j->cx, &j->scratch, f, &j->sel, &j->sel_cap, b, &kept)))
            return j->err.state[0] ? (*j->e = j->err, rc) : oom(j->e);
        b = kept;
    }
    if (!b || !b->n) {
        sql_batch_free(b);
        return SL_OK;
    }
    return sql_pipe_push(j->pre, j->npre, 0, b, j->agg ? to_windows : to_sink, j, j->e);
}

/* ---- the sink ------------------------------------------------------------- */

static int resolve_path(char *out, size_t n, const char *dir, const char *path)
{
    int k = path[0] == '/' || !dir ? snprintf(out, n, "%s", path)
                                   : snprintf(out, n, "%s/%s", dir, path);
    return k < 0 || (size_t)k >= n ? SL_EINVAL : SL_OK;
}

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
    int nsel = j->q->ncols;
    for (int i = 0; i < t->ncols; i++)
        map[i] = -1;
    if (!ins->n_cols && nsel > t->ncols)
        return sql_err_set(j->e, SQLSTATE_SYNTAX, -1, "INSERT has more expressions than "
                           "target columns");
    for (int i = 0; !ins->n_cols && i < nsel; i++)
        map[i] = i;
    for (size_t i = 0; i < ins->n_cols; i++) {
        const char *cn = ins->cols[i]->res_target->name;
        int c = -1;
        for (int k = 0; k < t->ncols && c < 0; k++)
            if (!strcmp(t->names[k], cn))
                c = k;
        if (c < 0)
            return sql_err_set(j->e, SQLSTATE_UNDEFINED_COLUMN, -1, "column \"%s\" of relation "
                               "\"%s\" does not exist", cn, name);
        if ((int)i < nsel)
            map[c] = (int)i;
    }
    if (ins->n_cols && (int)ins->n_cols != nsel)
        return sql_err_set(j->e, SQLSTATE_SYNTAX, -1, "INSERT has %s expressions than target "
                           "columns", nsel > (int)ins->n_cols ? "more" : "fewer");
    if (resolve_path(t->path, sizeof t->path, r->o->output_dir, t->path_opt))
        return sql_err_set(j->e, "22023", -1, "sink \"%s\": path too long", name);
    return stream_sink_open(r, t, NULL, map, j->q->types, nsel, &j->sink, j->e);
}

static int view_sink(job *j, const PgQuery__CreateTableAsStmt *ct, int *map)
{
    const PgQuery__IntoClause *into = ct->into;
    const char *name = into->rel->relname;
    bool on_close = true;
    for (size_t i = 0; i < into->n_options; i++) {
        const PgQuery__DefElem *d = into->options[i]->def_elem;
        char buf[64];
        const char *v = d ? stream_opt_text(d, buf, sizeof buf) : NULL;
        if (!d || strcmp(d->defname, "emit") || !v)
            return sql_err_set(j->e, "22023", -1, "materialized view \"%s\": unknown option "
                               "(it takes emit = 'on_window_close')", name);
        if (!strcmp(v, "on_update"))
            return unsupported(j, "emit = 'on_update'");
        if (strcmp(v, "on_window_close"))
            return sql_err_set(j->e, "22023", -1, "materialized view \"%s\": emit must be "
                               "'on_window_close' or 'on_update'", name);
    }
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
    return rc;
}

/* ---- running ------------------------------------------------------------- */

static int prepare_ops(job *j, sql_op **ops, int n)
{
    for (int i = 0; i < n; i++)
        if (ops[i]->vt->stream_prepare(ops[i], 1))
            return oom(j->e);
    return SL_OK;
}

static void finish_ops(sql_op **ops, int n)
{
    for (int i = 0; i < n; i++)
        if (ops[i]->vt->stream_finish)
            ops[i]->vt->stream_finish(ops[i]);
}

static int run_source(job *j)
{
    stream_table *src = j->src;
    if (resolve_path(src->path, sizeof src->path, j->r->o->input_dir, src->path_opt))
        return sql_err_set(j->e, "22023", -1, "source \"%s\": path too long", src->name);
    stream_reader *rd;
    int rc = stream_reader_open(src, &rd, j->e);
    if (rc)
        return rc;
    int64_t wm = STREAM_WM_NONE;
    for (;;) {
        sql_batch *b;
        if ((rc = stream_reader_next(rd, &b, &wm, j->e)))
            break;
        if (b && (rc = push_batch(j, b)))
            break;
        if (j->agg && (rc = close_windows(j, wm, j->e)))
            break;
        if (!b)
            break;
        if (wm != STREAM_WM_END)
            src->watermark_ns = wm;
    }
    if (!rc) {
        stream_reader_counts(rd, &src->rows_read, &src->late_dropped, &src->bad_rows);
        src->read_once = true;
    }
    stream_reader_close(rd);
    return rc;
}

static void job_free(job *j)
{
    finish_ops(j->pre, j->npre);
    finish_ops(j->post, j->npost);
    for (int i = 0; i < j->nwins; i++)
        sql_aggtab_free(j->wins[i].t);
    if (j->agg && j->agg_mem)
        sql_exec_mem(&j->q->x, j->agg, -j->agg_mem);
    sl_free(j->wins);
    sl_free(j->sel);
    sl_free(j->rows);
    sl_free(j->starts);
    stream_sink_close(j->sink);
    arena_destroy(&j->scratch);
    sql_query_close(j->q);
}

int stream_job_run(stream_run *r, const char *text, const PgQuery__Node *st, sql_err *e)
{
    job j;
    memset(&j, 0, sizeof j);
    j.r = r;
    j.e = e;
    arena_init(&j.scratch, 4096, 64u << 20);
    int rc = sql_query_open_plan(r->s, text, &j.q, e);
    if (rc) {
        arena_destroy(&j.scratch);
        return rc;
    }
    sql_exec_ectx(&j.q->x, &j.cx, &j.err, &j.scratch);
    rc = analyse(&j);
    int map[FTAB_MAXCOLS > 1024 ? FTAB_MAXCOLS : 1024];
    if (!rc && st->node_case == PG_QUERY__NODE__NODE_INSERT_STMT) {
        if (j.src && j.src->ncols > 1024)
            rc = sql_err_set(e, "54011", -1, "too many columns");
        else
            rc = insert_sink(&j, st->insert_stmt, map);
    } else if (!rc) {
        rc = j.q->ncols > FTAB_MAXCOLS ? sql_err_set(e, "54011", -1, "too many columns")
                                       : view_sink(&j, st->create_table_as_stmt, map);
    }
    if (!rc)
        rc = prepare_ops(&j, j.pre, j.npre);
    if (!rc)
        rc = prepare_ops(&j, j.post, j.npost);
    if (!rc)
        rc = run_source(&j);
    if (!rc)
        rc = stream_sink_commit(j.sink, e);
    if (rc && !e->state[0])
        *e = j.q->e->state[0] ? *j.q->e : (sql_err_set(e, SQLSTATE_INTERNAL, -1, "%s",
                                                       sl_strerror(rc)), *e);
    job_free(&j);
    return rc;
}
