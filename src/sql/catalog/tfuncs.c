/*
 * tfuncs.c - table functions: the lake's instances and traces, admin
 * listings, and the usual generators.
 *
 *   view_instance(view, instance)             one view instance (thread_spans of a
 *                                             stream, the other views of a process)
 *   process_spans(process_id, kind)           every thread's spans, in parallel (one
 *                                             unit per thread), and the async spans
 *   perfetto_trace_chunks(process_id, kinds, begin, end)
 *                                             the trace `streamlake trace` writes, as
 *                                             (chunk_id, chunk_data) rows
 *   list_partitions(), list_view_sets()       the lake's partitions and views
 *   generate_series(start, stop [, step]), unnest(text[])
 *
 * read_parquet and read_csv live in tf_files.c.  A function binds its
 * constant arguments into a table (sql_table) that the scan operator reads
 * like any other; the table is freed with the query.
 */
#include "sql/catalog/tfuncs.h"

#include "base/alloc.h"
#include "perfetto/pf_gen.h"
#include "perfetto/pf_lake.h"
#include "sql/catalog/lakescan.h"
#include "sql/engine_int.h"

#include <stdio.h>
#include <string.h>

/* ---- common ---- */

static void ft_free(sql_table *t)
{
    ftab *f = (ftab *)t;
    if (f->rows)
        sql_rows_free_batches(f->rows, f->nrows_batches);
    sl_free(f->rows);
    if (f->on_free)
        f->on_free(f);
    arena_destroy(&f->mem);
    sl_free(f);
}

ftab *ftab_new(sql_engine *eng, const char *name, int ncols, const sql_table_ops *ops)
{
    ftab *f = sl_calloc(1, sizeof *f);
    if (!f || ncols > FTAB_MAXCOLS) {
        sl_free(f);
        return NULL;
    }
    arena_init(&f->mem, 1024, 64u << 20);
    f->eng = eng;
    f->t.name = name;
    f->t.schema = "public";
    f->t.kind = TABLE_FUNC;
    f->t.ncols = ncols;
    f->t.colnames = f->names;
    f->t.coltypes = f->types;
    f->t.time_col = f->t.end_col = f->t.id_col = -1;
    f->t.ops = ops;
    f->t.impl = f;
    return f;
}

void ftab_col(ftab *f, int i, const char *name, sql_tid t)
{
    f->names[i] = name;
    f->types[i] = sql_type_of(t);
}

const char *ftab_text(ftab *f, const sql_datum *d)
{
    if (d->null)
        return NULL;
    return arena_strndup(&f->mem, (const char *)d->s.p, d->s.n);
}

static int oom(sql_err *e)
{
    return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
}

/* Tables whose rows were computed at bind time: one unit, the batches in order. */
typedef struct rows_scan {
    sql_scan base;
    ftab *f;
    const sql_scan_req *req;
    int next;
} rows_scan;

static int rows_next(sql_scan *s, sql_batch **out, sql_err *e)
{
    rows_scan *r = (rows_scan *)s;
    *out = NULL;
    if (r->next >= r->f->nrows_batches)
        return SL_OK;
    const sql_batch *src = r->f->rows[r->next++];
    sql_batch *b;
    if (sql_batch_new(r->req->ncols, NULL, &b))
        return oom(e);
    b->n = src->n;
    for (int i = 0; i < r->req->ncols; i++) {
        col_vec_release(&b->cols[i]);
        sql_vec_share(&src->cols[r->req->cols[i]], &b->cols[i]);
    }
    *out = b;
    return SL_OK;
}

static void rows_close(sql_scan *s)
{
    sl_free(s);
}

static const sql_scan_ops g_rows_scan = {rows_next, rows_close};

static int rows_units(sql_table *t, sql_scan_req *req, int64_t *n, sql_err *e)
{
    (void)t;
    (void)req;
    (void)e;
    *n = 1;
    return SL_OK;
}

static int rows_open(sql_table *t, const sql_scan_req *req, int64_t unit, sql_scan **out,
                     sql_err *e)
{
    (void)unit;
    rows_scan *r = sl_calloc(1, sizeof *r);
    if (!r)
        return oom(e);
    r->base.ops = &g_rows_scan;
    r->f = (ftab *)t;
    r->req = req;
    *out = &r->base;
    return SL_OK;
}

static double rows_estimate(sql_table *t, const sql_scan_req *req)
{
    (void)req;
    ftab *f = (ftab *)t;
    double n = 0;
    for (int i = 0; i < f->nrows_batches; i++)
        n += (double)f->rows[i]->n;
    return n;
}

const sql_table_ops ftab_rows_ops = {rows_units, NULL, rows_open, rows_estimate, ft_free};

/* Adds the batch being filled (f->cur) to the rows, and starts a new one. */
int ftab_flush(ftab *f)
{
    if (!f->cur || !f->cur->n)
        return SL_OK;
    if (f->nrows_batches == f->rows_cap) {
        int nc = f->rows_cap ? f->rows_cap * 2 : 8;
        sql_batch **n = sl_realloc(f->rows, sizeof *n * (size_t)nc);
        if (!n)
            return SL_ENOMEM;
        f->rows = n;
        f->rows_cap = nc;
    }
    f->rows[f->nrows_batches++] = f->cur;
    f->cur = NULL;
    return SL_OK;
}

/* The batch rows are appended to (flushed every 8192 rows). */
sql_batch *ftab_batch(ftab *f)
{
    if (f->cur && f->cur->n >= 8192 && ftab_flush(f))
        return NULL;
    if (!f->cur && sql_batch_new(f->t.ncols, f->types, &f->cur))
        return NULL;
    return f->cur;
}

void sql_rows_free_batches(sql_batch **b, int n)
{
    for (int i = 0; i < n; i++)
        sql_batch_free(b[i]);
}

static bool any_args(const sql_type *given, int nargs, sql_type *want)
{
    (void)given;
    for (int i = 0; i < nargs; i++)
        want[i] = sql_type_of(ST_NULL);
    return true;
}

static bool text_args(const sql_type *given, int nargs, sql_type *want)
{
    (void)given;
    for (int i = 0; i < nargs; i++)
        want[i] = sql_type_of(ST_TEXT);
    return true;
}

/* ---- view_instance ---- */

typedef struct vi_impl {
    lake_view_id view;
    char instance[LAKE_INSTANCE_MAX];
} vi_impl;

static int one_unit(sql_table *t, sql_scan_req *req, int64_t *n, sql_err *e)
{
    (void)t;
    (void)req;
    (void)e;
    *n = 1;
    return SL_OK;
}

static int vi_open(sql_table *t, const sql_scan_req *req, int64_t unit, sql_scan **out,
                   sql_err *e)
{
    (void)unit;
    ftab *f = (ftab *)t;
    vi_impl *vi = f->impl;
    int n;
    const lake_coldef *defs = lake_coldefs(vi->view, &n);
    lakescan_col cols[FTAB_MAXCOLS];
    lakescan_cols(defs, vi->view, req, cols);
    lakescan_opts o = {.view = vi->view,
                       .instance = vi->instance,
                       .begin_ns = req->begin_ns,
                       .key_lo = req->key_lo,
                       .bound = req->bound,
                       .built = req->built,
                       .end_ns = req->end_ns,
                       .ncols = req->ncols,
                       .cols = cols,
                       .batch_rows = req->batch_rows,
                       .cancel = req->cancel,
                       .materialize = true};
    return lakescan_open(f->eng->l, &o, out, e);
}

static double lake_estimate(sql_table *t, const sql_scan_req *req)
{
    (void)t;
    (void)req;
    return 1e5;
}

static const sql_table_ops g_vi_ops = {one_unit, NULL, vi_open, lake_estimate, ft_free};

/* Sets the table's time and end columns from the view's. */
static void set_time_cols(ftab *f, const lake_view_def *vd, int first)
{
    for (int i = first; i < f->t.ncols; i++) {
        if (!strcmp(f->names[i], vd->time_column))
            f->t.time_col = i;
        if (vd->end_column && !strcmp(f->names[i], vd->end_column))
            f->t.end_col = i;
    }
}

static int vi_bind(sql_engine *eng, const sql_datum *args, const sql_type *types, int nargs,
                   sql_table **out, sql_err *e)
{
    if (!eng->l || !eng->m)
        return sql_err_set(e, "55000", -1, "this engine has no lake");
    (void)types;
    (void)nargs;
    if (args[0].null || args[1].null)
        return sql_err_set(e, "22004", -1, "view_instance: the view and the instance must not "
                                           "be null");
    char view[32];
    snprintf(view, sizeof view, "%.*s", (int)args[0].s.n, (const char *)args[0].s.p);
    const lake_view_def *vd = lake_view_find(view);
    if (!vd || args[0].s.n >= sizeof view)
        return sql_err_set(e, "22023", -1, "view_instance: unknown view \"%.*s\" (thread_spans, "
                                           "async_events, log_entries, measures, processes, "
                                           "streams, blocks)",
                           (int)args[0].s.n, (const char *)args[0].s.p);
    int n;
    const lake_coldef *defs = lake_coldefs(vd->id, &n);
    ftab *f = ftab_new(eng, "view_instance", n, &g_vi_ops);
    vi_impl *vi = f ? arena_zalloc(&f->mem, sizeof *vi) : NULL;
    if (!vi) {
        if (f)
            ft_free(&f->t);
        return oom(e);
    }
    f->impl = vi;
    vi->view = vd->id;
    char inst[128];
    snprintf(inst, sizeof inst, "%.*s", (int)(args[1].s.n < 127 ? args[1].s.n : 127),
             (const char *)args[1].s.p);
    errmsg em = {0};
    if (lake_instance_canon(vd, inst, vi->instance, &em)) {
        ft_free(&f->t);
        return sql_err_set(e, "22023", -1, "view_instance: %s", em.text);
    }
    for (int i = 0; i < n; i++)
        ftab_col(f, i, defs[i].name, defs[i].type);
    set_time_cols(f, vd, 0);
    *out = &f->t;
    return SL_OK;
}

/* ---- process_spans ---- */

enum { PS_STREAM_ID, PS_THREAD_ID, PS_THREAD_NAME, PS_FIRST_SPAN_COL };

typedef struct ps_impl {
    char process_id[LAKE_INSTANCE_MAX];
    bool thread, async;
    int nthreads;
    char (*streams)[UUID_STR_LEN];
    int64_t *tids;
    char (*names)[64];
} ps_impl;

static int ps_units(sql_table *t, sql_scan_req *req, int64_t *n, sql_err *e)
{
    (void)req;
    (void)e;
    ps_impl *ps = ((ftab *)t)->impl;
    *n = (ps->thread ? ps->nthreads : 0) + (ps->async ? 1 : 0);
    return SL_OK;
}

int sql_async_spans_open(lake *l, const char *process_id, const sql_scan_req *req,
                         const sql_type *types, sql_scan **out, sql_err *e);

static int ps_open(sql_table *t, const sql_scan_req *req, int64_t unit, sql_scan **out,
                   sql_err *e)
{
    ftab *f = (ftab *)t;
    ps_impl *ps = f->impl;
    if (!ps->thread || unit >= ps->nthreads)
        return sql_async_spans_open(f->eng->l, ps->process_id, req, f->types, out, e);
    int n;
    const lake_coldef *defs = lake_coldefs(LAKE_THREAD_SPANS, &n);
    lakescan_col cols[FTAB_MAXCOLS];
    for (int i = 0; i < req->ncols; i++) {
        int c = req->cols[i];
        memset(&cols[i], 0, sizeof cols[i]);
        cols[i].type = f->types[c];
        if (c >= PS_FIRST_SPAN_COL) {
            cols[i].src = c - PS_FIRST_SPAN_COL;
            cols[i].conv = defs[cols[i].src].conv;
            continue;
        }
        cols[i].src = -1;
        if (c == PS_THREAD_ID) {
            cols[i].fill.i = ps->tids[unit];
        } else {
            const char *s = c == PS_STREAM_ID ? ps->streams[unit] : ps->names[unit];
            cols[i].fill.s.p = (const uint8_t *)s;
            cols[i].fill.s.n = (uint32_t)strlen(s);
        }
    }
    lakescan_opts o = {.view = LAKE_THREAD_SPANS,
                       .instance = ps->streams[unit],
                       .begin_ns = req->begin_ns,
                       .key_lo = req->key_lo,
                       .bound = req->bound,
                       .built = req->built,
                       .end_ns = req->end_ns,
                       .ncols = req->ncols,
                       .cols = cols,
                       .batch_rows = req->batch_rows,
                       .cancel = req->cancel,
                       .materialize = true};
    return lakescan_open(f->eng->l, &o, out, e);
}

static double ps_estimate(sql_table *t, const sql_scan_req *req)
{
    (void)req;
    ps_impl *ps = ((ftab *)t)->impl;
    return 1e5 * (ps->nthreads + 1);
}

static const sql_table_ops g_ps_ops = {ps_units, NULL, ps_open, ps_estimate, ft_free};

static int ps_bind(sql_engine *eng, const sql_datum *args, const sql_type *types, int nargs,
                   sql_table **out, sql_err *e)
{
    if (!eng->l || !eng->m)
        return sql_err_set(e, "55000", -1, "this engine has no lake");
    (void)types;
    if (args[0].null)
        return sql_err_set(e, "22004", -1, "process_spans: the process id must not be null");
    const char *kind = "both";
    char kb[16];
    if (nargs > 1 && !args[1].null) {
        snprintf(kb, sizeof kb, "%.*s", (int)(args[1].s.n < 15 ? args[1].s.n : 15),
                 (const char *)args[1].s.p);
        kind = kb;
    }
    bool thread = !strcmp(kind, "thread") || !strcmp(kind, "both");
    bool async = !strcmp(kind, "async") || !strcmp(kind, "both");
    if (!thread && !async)
        return sql_err_set(e, "22023", -1, "process_spans: the kind must be 'thread', 'async' "
                                           "or 'both', not '%s'", kind);
    sl_uuid pid;
    char pidtxt[40];
    snprintf(pidtxt, sizeof pidtxt, "%.*s", (int)(args[0].s.n < 39 ? args[0].s.n : 39),
             (const char *)args[0].s.p);
    if (uuid_parse(pidtxt, &pid))
        return sql_err_set(e, SQLSTATE_INVALID_TEXT, -1,
                           "invalid input syntax for type uuid: \"%s\"", pidtxt);
    const lake_process *p;
    errmsg em = {0};
    int rc = lake_process_get(eng->l, &pid, &p, &em);
    if (rc)
        return lakescan_fail(e, rc, em.text);
    ftab *f = ftab_new(eng, "process_spans", PS_FIRST_SPAN_COL + TS_NCOLS, &g_ps_ops);
    ps_impl *ps = f ? arena_zalloc(&f->mem, sizeof *ps) : NULL;
    size_t ns = p->n_streams ? p->n_streams : 1;
    if (ps) {
        ps->streams = arena_zalloc(&f->mem, sizeof *ps->streams * ns);
        ps->tids = arena_zalloc(&f->mem, sizeof *ps->tids * ns);
        ps->names = arena_zalloc(&f->mem, sizeof *ps->names * ns);
    }
    if (!ps || !ps->streams || !ps->tids || !ps->names) {
        lake_process_release(eng->l, p);
        if (f)
            ft_free(&f->t);
        return oom(e);
    }
    f->impl = ps;
    uuid_format(&pid, ps->process_id);
    ps->thread = thread;
    ps->async = async;
    for (size_t i = 0; i < p->n_streams; i++) {
        const lake_stream_info *si = &p->streams[i];
        if (!si->is_cpu)
            continue;
        memcpy(ps->streams[ps->nthreads], si->stream_id_str, UUID_STR_LEN);
        ps->tids[ps->nthreads] = si->thread_id;
        snprintf(ps->names[ps->nthreads], 64, "%s", si->thread_name);
        ps->nthreads++;
    }
    lake_process_release(eng->l, p);
    ftab_col(f, PS_STREAM_ID, "stream_id", ST_UUID);
    ftab_col(f, PS_THREAD_ID, "thread_id", ST_INT8);
    ftab_col(f, PS_THREAD_NAME, "thread_name", ST_TEXT);
    int n;
    const lake_coldef *defs = lake_coldefs(LAKE_THREAD_SPANS, &n);
    for (int i = 0; i < n; i++)
        ftab_col(f, PS_FIRST_SPAN_COL + i, defs[i].name, defs[i].type);
    set_time_cols(f, lake_view_get(LAKE_THREAD_SPANS), PS_FIRST_SPAN_COL);
    *out = &f->t;
    return SL_OK;
}

static bool ps_args(const sql_type *given, int nargs, sql_type *want)
{
    (void)given;
    want[0] = sql_type_of(ST_TEXT);
    if (nargs > 1)
        want[1] = sql_type_of(ST_TEXT);
    return true;
}

/* ---- perfetto_trace_chunks ---- */

typedef struct tc_impl {
    sl_uuid pid;
    unsigned kinds;
    bool has_begin, has_end;
    int64_t begin_ns, end_ns;
    int jobs;
} tc_impl;

typedef struct tc_scan {
    sql_scan base;
    ftab *f;
    const sql_scan_req *req;
    pf_lake_source src;
    pf_gen *g;
    int32_t chunk;
} tc_scan;

static int tc_next(sql_scan *s, sql_batch **out, sql_err *e)
{
    tc_scan *t = (tc_scan *)s;
    *out = NULL;
    if (t->req->cancel && *t->req->cancel)
        return sql_err_set(e, SQLSTATE_CANCELED, -1, "canceling statement due to user request");
    const uint8_t *data;
    size_t len;
    int rc = pf_gen_next_chunk(t->g, &data, &len);
    if (rc)
        return lakescan_fail(e, rc, pf_gen_error(t->g));
    if (!len)
        return SL_OK;
    sql_batch *b;
    if (sql_batch_new(t->req->ncols, NULL, &b))
        return oom(e);
    b->n = 1;
    for (int i = 0; i < t->req->ncols; i++) {
        col_vec_init(&b->cols[i], t->req->cols[i] == 0 ? COL_INT32 : COL_BINARY, 0);
        rc = t->req->cols[i] == 0 ? col_vec_append_i32(&b->cols[i], t->chunk)
                                  : col_vec_append_str(&b->cols[i], data, len);
        if (rc) {
            sql_batch_free(b);
            return oom(e);
        }
    }
    t->chunk++;
    *out = b;
    return SL_OK;
}

static void tc_close(sql_scan *s)
{
    tc_scan *t = (tc_scan *)s;
    if (t->g)
        pf_gen_close(t->g);
    pf_lake_source_free(&t->src);
    sl_free(t);
}

static const sql_scan_ops g_tc_scan = {tc_next, tc_close};

static int tc_open(sql_table *t, const sql_scan_req *req, int64_t unit, sql_scan **out,
                   sql_err *e)
{
    (void)unit;
    ftab *f = (ftab *)t;
    tc_impl *ti = f->impl;
    tc_scan *s = sl_calloc(1, sizeof *s);
    if (!s)
        return oom(e);
    s->base.ops = &g_tc_scan;
    s->f = f;
    s->req = req;
    pf_lake_source_init(&s->src, f->eng->l, &ti->pid);
    pf_gen_cfg cfg;
    pf_gen_cfg_init(&cfg);
    cfg.kinds = ti->kinds;
    cfg.jobs = (unsigned)ti->jobs;
    cfg.has_begin = ti->has_begin;
    cfg.has_end = ti->has_end;
    cfg.begin_ns = ti->begin_ns;
    cfg.end_ns = ti->end_ns;
    errmsg em = {0};
    int rc = pf_gen_open(&s->g, &cfg, pf_lake_source_get(&s->src), &em);
    if (rc) {
        s->g = NULL;
        tc_close(&s->base);
        return lakescan_fail(e, rc, em.text);
    }
    *out = &s->base;
    return SL_OK;
}

static double tc_estimate(sql_table *t, const sql_scan_req *req)
{
    (void)t;
    (void)req;
    return 100;
}

static const sql_table_ops g_tc_ops = {one_unit, NULL, tc_open, tc_estimate, ft_free};

static bool tc_args(const sql_type *given, int nargs, sql_type *want)
{
    (void)given;
    static const sql_tid w[] = {ST_TEXT, ST_TEXT, ST_TIMESTAMPTZ, ST_TIMESTAMPTZ};
    for (int i = 0; i < nargs; i++)
        want[i] = sql_type_of(w[i]);
    return true;
}

static int tc_bind(sql_engine *eng, const sql_datum *args, const sql_type *types, int nargs,
                   sql_table **out, sql_err *e)
{
    if (!eng->l || !eng->m)
        return sql_err_set(e, "55000", -1, "this engine has no lake");
    (void)types;
    if (args[0].null)
        return sql_err_set(e, "22004", -1, "perfetto_trace_chunks: the process id must not be "
                                           "null");
    char pidtxt[40], kb[16] = "both";
    snprintf(pidtxt, sizeof pidtxt, "%.*s", (int)(args[0].s.n < 39 ? args[0].s.n : 39),
             (const char *)args[0].s.p);
    if (nargs > 1 && !args[1].null)
        snprintf(kb, sizeof kb, "%.*s", (int)(args[1].s.n < 15 ? args[1].s.n : 15),
                 (const char *)args[1].s.p);
    ftab *f = ftab_new(eng, "perfetto_trace_chunks", 2, &g_tc_ops);
    tc_impl *ti = f ? arena_zalloc(&f->mem, sizeof *ti) : NULL;
    if (!ti) {
        if (f)
            ft_free(&f->t);
        return oom(e);
    }
    f->impl = ti;
    if (uuid_parse(pidtxt, &ti->pid)) {
        ft_free(&f->t);
        return sql_err_set(e, SQLSTATE_INVALID_TEXT, -1,
                           "invalid input syntax for type uuid: \"%s\"", pidtxt);
    }
    if (pf_gen_kinds_parse(kb, &ti->kinds)) {
        ft_free(&f->t);
        return sql_err_set(e, "22023", -1, "perfetto_trace_chunks: the kinds must be 'thread', "
                                           "'async' or 'both', not '%s'", kb);
    }
    ti->has_begin = nargs > 2 && !args[2].null;
    ti->has_end = nargs > 3 && !args[3].null;
    ti->begin_ns = ti->has_begin ? args[2].i : 0;
    ti->end_ns = ti->has_end ? args[3].i : 0;
    ti->jobs = eng->o.workers > 0 ? eng->o.workers : 0;
    ftab_col(f, 0, "chunk_id", ST_INT4);
    ftab_col(f, 1, "chunk_data", ST_BYTEA);
    *out = &f->t;
    return SL_OK;
}

/* ---- list_partitions, list_view_sets ---- */

static int put_text(col_vec *v, const char *s)
{
    return s ? col_vec_append_str(v, s, strlen(s)) : col_vec_append_null(v);
}

static int part_row(void *arg, const meta_partition *p)
{
    ftab *f = arg;
    sql_batch *b = ftab_batch(f);
    if (!b)
        return SL_ENOMEM;
    col_vec *c = b->cols;
    int rc = put_text(&c[0], p->view_set_name);
    rc |= put_text(&c[1], p->view_instance_id);
    rc |= col_vec_append_i64(&c[2], p->begin_insert_time_ns);
    rc |= col_vec_append_i64(&c[3], p->end_insert_time_ns);
    rc |= col_vec_append_i64(&c[4], p->min_event_time_ns);
    rc |= col_vec_append_i64(&c[5], p->max_event_time_ns);
    rc |= put_text(&c[6], p->file_path);
    rc |= col_vec_append_i64(&c[7], (int64_t)p->file_size);
    rc |= col_vec_append_i32(&c[8], (int32_t)p->schema_version);
    rc |= col_vec_append_i64(&c[9], (int64_t)p->row_count);
    rc |= col_vec_append_i64(&c[10], (int64_t)p->event_count);
    rc |= col_vec_append_i64(&c[11], p->updated_ns);
    rc |= col_vec_append_bool(&c[12], p->retired != 0);
    rc |= p->retired ? col_vec_append_i64(&c[13], p->retired_time_ns) : col_vec_append_null(&c[13]);
    b->n++;
    return rc ? SL_ENOMEM : 0;
}

static int lp_bind(sql_engine *eng, const sql_datum *args, const sql_type *types, int nargs,
                   sql_table **out, sql_err *e)
{
    if (!eng->l || !eng->m)
        return sql_err_set(e, "55000", -1, "this engine has no lake");
    (void)args;
    (void)types;
    (void)nargs;
    ftab *f = ftab_new(eng, "list_partitions", 14, &ftab_rows_ops);
    if (!f)
        return oom(e);
    static const char *names[] = {"view_set_name", "view_instance_id", "begin_insert_time",
                                  "end_insert_time", "min_event_time", "max_event_time",
                                  "file_path", "file_size", "schema_version", "row_count",
                                  "event_count", "updated", "retired", "retired_time"};
    static const sql_tid tids[] = {ST_TEXT, ST_TEXT, ST_TIMESTAMPTZ, ST_TIMESTAMPTZ,
                                   ST_TIMESTAMPTZ, ST_TIMESTAMPTZ, ST_TEXT, ST_INT8, ST_INT4,
                                   ST_INT8, ST_INT8, ST_TIMESTAMPTZ, ST_BOOL, ST_TIMESTAMPTZ};
    for (int i = 0; i < 14; i++)
        ftab_col(f, i, names[i], tids[i]);
    errmsg em = {0};
    int rc = meta_partition_files(eng->m, part_row, f, &em);
    if (!rc)
        rc = ftab_flush(f);
    if (rc) {
        sql_batch_free(f->cur);
        ft_free(&f->t);
        return lakescan_fail(e, rc, em.text);
    }
    *out = &f->t;
    return SL_OK;
}

static int lv_bind(sql_engine *eng, const sql_datum *args, const sql_type *types, int nargs,
                   sql_table **out, sql_err *e)
{
    (void)args;
    (void)types;
    (void)nargs;
    ftab *f = ftab_new(eng, "list_view_sets", 6, &ftab_rows_ops);
    if (!f)
        return oom(e);
    static const char *names[] = {"view_set_name", "instance", "partitioned", "time_column",
                                  "schema_version", "columns"};
    static const sql_tid tids[] = {ST_TEXT, ST_TEXT, ST_BOOL, ST_TEXT, ST_INT4, ST_TEXTARR};
    for (int i = 0; i < 6; i++)
        ftab_col(f, i, names[i], tids[i]);
    int rc = SL_OK;
    dbuf arr;
    dbuf_init(&arr, 1u << 20);
    for (int v = 0; v < LAKE_VIEW_COUNT && !rc; v++) {
        const lake_view_def *vd = lake_view_get((lake_view_id)v);
        sql_batch *b = ftab_batch(f);
        if (!b) {
            rc = SL_ENOMEM;
            break;
        }
        static const char *kinds[] = {"stream", "process", "global"};
        rc |= put_text(&b->cols[0], vd->name);
        rc |= put_text(&b->cols[1], kinds[vd->instance]);
        rc |= col_vec_append_bool(&b->cols[2], vd->partitioned != 0);
        rc |= put_text(&b->cols[3], vd->time_column);
        rc |= col_vec_append_i32(&b->cols[4], (int32_t)vd->schema_version);
        int n;
        const lake_coldef *defs = lake_coldefs((lake_view_id)v, &n);
        dbuf_reset(&arr);
        uint32_t cnt = (uint32_t)n;
        rc |= dbuf_append(&arr, &cnt, 4);
        for (int i = 0; i < n; i++) {
            uint32_t l = (uint32_t)strlen(defs[i].name);
            rc |= dbuf_append(&arr, &l, 4);
            rc |= dbuf_append(&arr, defs[i].name, l);
        }
        rc |= col_vec_append_str(&b->cols[5], arr.p, arr.len);
        b->n++;
    }
    dbuf_free(&arr);
    if (!rc)
        rc = ftab_flush(f);
    if (rc) {
        sql_batch_free(f->cur);
        ft_free(&f->t);
        return oom(e);
    }
    *out = &f->t;
    return SL_OK;
}

/* ---- generate_series ---- */

typedef struct gs_impl {
    sql_tid kind;            /* ST_INT4, ST_INT8, ST_NUMERIC, ST_TIMESTAMP(TZ) */
    sql_datum start, stop, step;
} gs_impl;

typedef struct gs_scan {
    sql_scan base;
    ftab *f;
    const sql_scan_req *req;
    sql_datum cur;
    bool done;
} gs_scan;

/* Whether v is past stop going in the step's direction. */
static bool gs_past(const gs_impl *g, const sql_datum *v, int dir)
{
    int c;
    switch (g->kind) {
    case ST_NUMERIC: c = dec_cmp(v->d, g->stop.d); break;
    default: c = v->i < g->stop.i ? -1 : v->i > g->stop.i; break;
    }
    return dir > 0 ? c > 0 : c < 0;
}

static int gs_dir(const gs_impl *g)
{
    switch (g->kind) {
    case ST_NUMERIC: return dec_sign(g->step.d);
    case ST_TIMESTAMP:
    case ST_TIMESTAMPTZ: {
        sql_interval z = {0};
        int c = dt_interval_cmp(&g->step.iv, &z);
        return c;
    }
    default: return g->step.i > 0 ? 1 : g->step.i < 0 ? -1 : 0;
    }
}

static int gs_next(sql_scan *s, sql_batch **out, sql_err *e)
{
    gs_scan *gs = (gs_scan *)s;
    const gs_impl *g = gs->f->impl;
    *out = NULL;
    if (gs->done)
        return SL_OK;
    if (gs->req->cancel && *gs->req->cancel)
        return sql_err_set(e, SQLSTATE_CANCELED, -1, "canceling statement due to user request");
    int dir = gs_dir(g);
    sql_batch *b;
    if (sql_batch_new(gs->req->ncols, NULL, &b))
        return oom(e);
    sql_type t = sql_type_of(g->kind);
    col_vec v;
    col_vec_init(&v, sql_type_phys(t), 0);
    int64_t max = gs->req->batch_rows > 0 ? gs->req->batch_rows : 8192;
    if (col_vec_reserve(&v, max, 0)) {
        sql_batch_free(b);
        return oom(e);
    }
    int64_t n = 0;
    int rc = SL_OK;
    while (n < max && !gs_past(g, &gs->cur, dir)) {
        if ((rc = sql_datum_append(t, &gs->cur, &v)))
            break;
        n++;
        switch (g->kind) {
        case ST_INT4:
        case ST_INT8: {
            int64_t nx;
            if (__builtin_add_overflow(gs->cur.i, g->step.i, &nx) ||
                (g->kind == ST_INT4 && (nx > INT32_MAX || nx < INT32_MIN))) {
                gs->done = true;
                goto out;
            }
            gs->cur.i = nx;
            break;
        }
        case ST_NUMERIC:
            if (dec_add(gs->cur.d, g->step.d, &gs->cur.d)) {
                gs->done = true;
                goto out;
            }
            break;
        default:
            if (dt_ts_add_interval(gs->cur.i, &g->step.iv, 1, &gs->cur.i)) {
                gs->done = true;
                goto out;
            }
            break;
        }
    }
    if (n < max)
        gs->done = true;
out:
    if (rc || !n) {
        col_vec_release(&v);
        sql_batch_free(b);
        return rc ? oom(e) : SL_OK;
    }
    b->n = n;
    for (int i = 0; i < gs->req->ncols; i++) {
        col_vec_release(&b->cols[i]);
        sql_vec_share(&v, &b->cols[i]);
    }
    col_vec_release(&v);
    *out = b;
    return SL_OK;
}

static void gs_close(sql_scan *s)
{
    sl_free(s);
}

static const sql_scan_ops g_gs_scan = {gs_next, gs_close};

static int gs_open(sql_table *t, const sql_scan_req *req, int64_t unit, sql_scan **out,
                   sql_err *e)
{
    (void)unit;
    ftab *f = (ftab *)t;
    gs_impl *g = f->impl;
    gs_scan *s = sl_calloc(1, sizeof *s);
    if (!s)
        return oom(e);
    s->base.ops = &g_gs_scan;
    s->f = f;
    s->req = req;
    s->cur = g->start;
    s->done = g->start.null || g->stop.null || g->step.null;
    *out = &s->base;
    return SL_OK;
}

static double gs_estimate(sql_table *t, const sql_scan_req *req)
{
    (void)req;
    gs_impl *g = ((ftab *)t)->impl;
    if ((g->kind == ST_INT4 || g->kind == ST_INT8) && !g->start.null && !g->stop.null &&
        !g->step.null && g->step.i)
        return (double)(g->stop.i - g->start.i) / (double)g->step.i + 1;
    return 1000;
}

static const sql_table_ops g_gs_ops = {one_unit, NULL, gs_open, gs_estimate, ft_free};

static bool gs_args(const sql_type *given, int nargs, sql_type *want)
{
    bool ts = false, tstz = false, num = false, i8 = false, known = false;
    for (int i = 0; i < 2 && i < nargs; i++) {
        switch (given[i].id) {
        case ST_TIMESTAMP: ts = known = true; break;
        case ST_TIMESTAMPTZ:
        case ST_DATE: tstz = known = true; break;
        case ST_NUMERIC:
        case ST_FLOAT4:
        case ST_FLOAT8: num = known = true; break;
        case ST_INT8: i8 = known = true; break;
        case ST_INT2:
        case ST_INT4: known = true; break;
        case ST_UNKNOWN:
        case ST_NULL: break;
        default: return false;
        }
    }
    if (!known) /* PostgreSQL: not unique for unknown arguments */
        return false;
    sql_tid k = tstz ? ST_TIMESTAMPTZ : ts ? ST_TIMESTAMP : num ? ST_NUMERIC : i8 ? ST_INT8 : ST_INT4;
    if ((k == ST_TIMESTAMP || k == ST_TIMESTAMPTZ) && nargs != 3)
        return false;
    if (nargs == 3 && given[2].id != ST_UNKNOWN && given[2].id != ST_NULL) {
        bool iv = given[2].id == ST_INTERVAL;
        if (iv != (k == ST_TIMESTAMP || k == ST_TIMESTAMPTZ))
            return false;
        if (!iv && given[2].id == ST_NUMERIC)
            k = ST_NUMERIC;
        else if (!iv && given[2].id == ST_INT8 && k == ST_INT4)
            k = ST_INT8;
    }
    want[0] = want[1] = sql_type_of(k);
    if (nargs == 3)
        want[2] = sql_type_of(k == ST_TIMESTAMP || k == ST_TIMESTAMPTZ ? ST_INTERVAL : k);
    return true;
}

static int gs_bind(sql_engine *eng, const sql_datum *args, const sql_type *types, int nargs,
                   sql_table **out, sql_err *e)
{
    ftab *f = ftab_new(eng, "generate_series", 1, &g_gs_ops);
    gs_impl *g = f ? arena_zalloc(&f->mem, sizeof *g) : NULL;
    if (!g) {
        if (f)
            ft_free(&f->t);
        return oom(e);
    }
    f->impl = g;
    g->kind = (sql_tid)types[0].id;
    g->start = args[0];
    g->stop = args[1];
    if (nargs == 3) {
        g->step = args[2];
    } else if (g->kind == ST_NUMERIC) {
        g->step.d = dec_from_i64(1);
    } else {
        g->step.i = 1;
    }
    if (!g->step.null && gs_dir(g) == 0) {
        ft_free(&f->t);
        return sql_err_set(e, "22023", -1, "step size cannot equal zero");
    }
    ftab_col(f, 0, "generate_series", g->kind);
    *out = &f->t;
    return SL_OK;
}

/* ---- unnest ---- */

static bool unnest_args(const sql_type *given, int nargs, sql_type *want)
{
    (void)nargs;
    if (given[0].id != ST_TEXTARR && given[0].id != ST_INT2ARR && given[0].id != ST_UNKNOWN &&
        given[0].id != ST_NULL)
        return false;
    want[0] = sql_type_of(given[0].id == ST_INT2ARR ? ST_INT2ARR : ST_TEXTARR);
    return true;
}

static int unnest_bind(sql_engine *eng, const sql_datum *args, const sql_type *types, int nargs,
                       sql_table **out, sql_err *e)
{
    (void)nargs;
    bool ints = types[0].id == ST_INT2ARR;
    ftab *f = ftab_new(eng, "unnest", 1, &ftab_rows_ops);
    if (!f)
        return oom(e);
    ftab_col(f, 0, "unnest", ints ? ST_INT2 : ST_TEXT);
    int rc = SL_OK;
    if (!args[0].null) {
        uint32_t n = sql_textarr_count(args[0].s.p, args[0].s.n);
        for (uint32_t i = 0; i < n && !rc; i++) {
            sql_batch *b = ftab_batch(f);
            if (!b) {
                rc = SL_ENOMEM;
                break;
            }
            const uint8_t *el;
            uint32_t en;
            int32_t v;
            if (ints)
                rc = sql_int2arr_get(args[0].s.p, args[0].s.n, i, &v)
                         ? col_vec_append_i32(&b->cols[0], v)
                         : col_vec_append_null(&b->cols[0]);
            else
                rc = sql_textarr_get(args[0].s.p, args[0].s.n, i, &el, &en)
                         ? col_vec_append_str(&b->cols[0], el, en)
                         : col_vec_append_null(&b->cols[0]);
            b->n++;
        }
    }
    if (!rc)
        rc = ftab_flush(f);
    if (rc) {
        sql_batch_free(f->cur);
        ft_free(&f->t);
        return oom(e);
    }
    *out = &f->t;
    return SL_OK;
}

/* ---- the registry ---- */

static const sql_tfunc g_tfuncs[] = {
    {"view_instance", 2, 2, text_args, vi_bind, false},
    {"process_spans", 1, 2, ps_args, ps_bind, false},
    {"perfetto_trace_chunks", 1, 4, tc_args, tc_bind, false},
    {"list_partitions", 0, 0, any_args, lp_bind, false},
    {"list_view_sets", 0, 0, any_args, lv_bind, false},
    {"materialize_partitions", 1, 3, sql_materialize_partitions_args,
     sql_materialize_partitions_bind, false},
    {"retire_partitions", 2, 4, sql_retire_partitions_args, sql_retire_partitions_bind, false},
    {"generate_series", 2, 3, gs_args, gs_bind, true},
    {"unnest", 1, 1, unnest_args, unnest_bind, true},
    {"read_parquet", 1, 1, text_args, sql_read_parquet_bind, false},
    {"read_csv", 1, 4, sql_read_csv_args, sql_read_csv_bind, false},
};

bool sql_tfunc_is_admin(const sql_tfunc *tf)
{
    return tf->bind == sql_materialize_partitions_bind || tf->bind == sql_retire_partitions_bind;
}

const sql_tfunc *sql_tfunc_find(const char *name)
{
    for (size_t i = 0; i < sizeof g_tfuncs / sizeof g_tfuncs[0]; i++)
        if (!strcmp(g_tfuncs[i].name, name))
            return &g_tfuncs[i];
    return NULL;
}

void sql_table_free(sql_table *t)
{
    if (t && t->ops && t->ops->free)
        t->ops->free(t);
}
