/*
 * tf_admin.c - the lake's admin table functions: materialize_partitions and
 * retire_partitions.
 *
 * Both act when the statement runs (the scan's first step), not when it is
 * planned: EXPLAIN alone changes nothing.  Their rows say what they did.
 *
 *   materialize_partitions(view, begin, end)
 *       builds the missing or stale partitions of every instance of a
 *       partitioned view (thread_spans: each thread; async_events, log_entries,
 *       measures: each process) of the processes with events in [begin, end);
 *       a row per instance: partitions, built, reused, build_ms, error.
 *   retire_partitions(view, instance, begin, end)
 *       retires the current partitions of one instance holding events in
 *       [begin, end): the next read builds them again; a row per partition.
 */
#include "sql/catalog/tfuncs.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "lake/lake.h"
#include "sql/catalog/lakescan.h"
#include "sql/engine_int.h"

#include <stdio.h>
#include <string.h>

typedef struct admin_impl {
    lake_view_id view;
    char instance[LAKE_INSTANCE_MAX];
    int64_t begin_ns, end_ns;
    bool done;               /* acted once: a re-read of the table only reads */
    int (*act)(ftab *f, const sql_scan_req *req, sql_err *e);
} admin_impl;

static int oom(sql_err *e)
{
    return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
}

static int put_str(col_vec *v, const char *s)
{
    return s ? col_vec_append_str(v, s, strlen(s)) : col_vec_append_null(v);
}

/* The scan's first step: act, then the rows are those of a listing. */
static int admin_units(sql_table *t, sql_scan_req *req, int64_t *n, sql_err *e)
{
    ftab *f = (ftab *)t;
    admin_impl *a = f->impl;
    if (!a->done) {
        a->done = true;
        int rc = a->act(f, req, e);
        if (!rc && (rc = ftab_flush(f)))
            return oom(e);
        if (rc)
            return rc;
    }
    return ftab_rows_ops.units(t, req, n, e);
}

/* A view named by its text argument, or the SQL error. */
static int view_arg(const sql_datum *d, const char *fn, lake_view_id *out, sql_err *e)
{
    if (d->null)
        return sql_err_set(e, "22004", -1, "%s: the view must not be null", fn);
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(d->s.n < 63 ? d->s.n : 63), (const char *)d->s.p);
    for (int v = 0; v < LAKE_VIEW_COUNT; v++) {
        const lake_view_def *vd = lake_view_get((lake_view_id)v);
        if (!strcmp(vd->name, name)) {
            if (!vd->partitioned)
                return sql_err_set(e, "22023", -1, "%s: view \"%s\" has no partitions (it is "
                                   "read from the metadata)", fn, name);
            *out = (lake_view_id)v;
            return SL_OK;
        }
    }
    return sql_err_set(e, "22023", -1, "%s: no view \"%s\"", fn, name);
}

/* A function's columns, and what it does when the statement runs. */
typedef struct admin_def {
    const char *name;
    int ncols;
    const char *const *names;
    const sql_tid *tids;
    int range_at;            /* the argument holding begin (end follows) */
    int (*act)(ftab *f, const sql_scan_req *req, sql_err *e);
} admin_def;

/* A new ftab for an admin function: its view (args[0]), range, columns and action. */
static int admin_new(sql_engine *eng, const admin_def *d, const sql_datum *args, int nargs,
                     admin_impl **impl, ftab **out, sql_err *e)
{
    if (!eng->l || !eng->m)
        return sql_err_set(e, "55000", -1, "this engine has no lake");
    lake_view_id v = LAKE_THREAD_SPANS;
    int rc = view_arg(&args[0], d->name, &v, e);
    if (rc)
        return rc;
    ftab *f = ftab_new(eng, d->name, d->ncols, &ftab_rows_ops);
    admin_impl *a = f ? arena_zalloc(&f->mem, sizeof *a) : NULL;
    sql_table_ops *ops = a ? arena_alloc(&f->mem, sizeof *ops) : NULL;
    if (!ops) {
        if (f)
            f->t.ops->free(&f->t);
        return oom(e);
    }
    *ops = ftab_rows_ops;
    ops->units = admin_units;
    f->t.ops = ops;
    f->impl = a;
    for (int i = 0; i < d->ncols; i++)
        ftab_col(f, i, d->names[i], d->tids[i]);
    a->view = v;
    a->act = d->act;
    a->begin_ns = nargs > d->range_at && !args[d->range_at].null ? args[d->range_at].i : INT64_MIN;
    a->end_ns = nargs > d->range_at + 1 && !args[d->range_at + 1].null ? args[d->range_at + 1].i
                                                                       : INT64_MAX;
    *impl = a;
    *out = f;
    return SL_OK;
}

/* ---- materialize_partitions ---- */

typedef struct proc_list {
    dbuf ids;                /* sl_uuid of the processes with events in the range */
    int64_t begin_ns, end_ns;
} proc_list;

static int take_process(void *arg, const meta_process_summary *row)
{
    proc_list *pl = arg;
    if (!row->block_count || row->first_time_ns >= pl->end_ns || row->last_time_ns < pl->begin_ns)
        return 0;
    return dbuf_append(&pl->ids, &row->p.process_id, sizeof row->p.process_id) ? SL_ENOMEM : 0;
}

static int mat_row(ftab *f, const char *view, const char *instance, const lake_mat_stats *st,
                   const char *err)
{
    sql_batch *b = ftab_batch(f);
    if (!b)
        return SL_ENOMEM;
    int rc = put_str(&b->cols[0], view) | put_str(&b->cols[1], instance);
    rc |= col_vec_append_i64(&b->cols[2], (int64_t)st->partitions);
    rc |= col_vec_append_i64(&b->cols[3], (int64_t)st->built);
    rc |= col_vec_append_i64(&b->cols[4], (int64_t)st->reused);
    rc |= col_vec_append_f64(&b->cols[5], st->build_ms);
    rc |= put_str(&b->cols[6], err);
    b->n++;
    return rc ? SL_ENOMEM : SL_OK;
}

/* Builds one instance; a failure is its row's error, the others go on. */
static int mat_instance(ftab *f, admin_impl *a, const char *instance)
{
    lake_mat_stats st = {0};
    errmsg em = {0};
    int rc = lake_materialize(f->eng->l, a->view, instance, &st, &em);
    if (rc == SL_ENOMEM)
        return rc;
    return mat_row(f, lake_view_get(a->view)->name, instance, &st, rc ? errmsg_str(&em) : NULL);
}

static int mat_act(ftab *f, const sql_scan_req *req, sql_err *e)
{
    admin_impl *a = f->impl;
    proc_list pl = {.begin_ns = a->begin_ns, .end_ns = a->end_ns};
    dbuf_init(&pl.ids, (size_t)1 << 30);
    errmsg em = {0};
    int rc = meta_processes_list(f->eng->m, take_process, &pl, &em);
    size_t n = pl.ids.len / sizeof(sl_uuid);
    for (size_t i = 0; !rc && i < n; i++) {
        if (req->cancel && *req->cancel) {
            rc = SL_ECANCELED;
            break;
        }
        const sl_uuid *id = (const sl_uuid *)(const void *)pl.ids.p + i;
        if (a->view != LAKE_THREAD_SPANS) {
            char pid[UUID_STR_LEN];
            uuid_format(id, pid);
            rc = mat_instance(f, a, pid);
            continue;
        }
        const lake_process *proc;
        if ((rc = lake_process_get(f->eng->l, id, &proc, &em)))
            break;
        for (size_t k = 0; !rc && k < proc->n_streams; k++)
            if (proc->streams[k].is_cpu)
                rc = mat_instance(f, a, proc->streams[k].stream_id_str);
        lake_process_release(f->eng->l, proc);
    }
    dbuf_free(&pl.ids);
    if (rc == SL_ECANCELED)
        return sql_err_set(e, SQLSTATE_CANCELED, -1, "canceling statement due to user request");
    return rc == SL_ENOMEM ? oom(e) : rc ? lakescan_fail(e, rc, em.text) : SL_OK;
}

bool sql_materialize_partitions_args(const sql_type *given, int nargs, sql_type *want)
{
    (void)given;
    for (int i = 0; i < nargs; i++)
        want[i] = sql_type_of(i < 1 ? ST_TEXT : ST_TIMESTAMPTZ); /* view, begin, end */
    return true;
}

int sql_materialize_partitions_bind(sql_engine *eng, const sql_datum *args, const sql_type *types,
                                    int nargs, sql_table **out, sql_err *e)
{
    (void)types;
    static const char *names[] = {"view_set_name", "view_instance_id", "partitions", "built",
                                  "reused", "build_ms", "error"};
    static const sql_tid tids[] = {ST_TEXT, ST_TEXT, ST_INT8, ST_INT8, ST_INT8, ST_FLOAT8,
                                   ST_TEXT};
    static const admin_def d = {"materialize_partitions", 7, names, tids, 1, mat_act};
    admin_impl *a;
    ftab *f;
    int rc = admin_new(eng, &d, args, nargs, &a, &f, e);
    if (rc)
        return rc;
    *out = &f->t;
    return SL_OK;
}

/* ---- retire_partitions ---- */

static int retired_row(void *arg, const meta_partition *p)
{
    ftab *f = arg;
    sql_batch *b = ftab_batch(f);
    if (!b)
        return SL_ENOMEM;
    int rc = put_str(&b->cols[0], p->view_set_name) | put_str(&b->cols[1], p->view_instance_id);
    rc |= put_str(&b->cols[2], p->file_path);
    rc |= col_vec_append_i64(&b->cols[3], p->begin_insert_time_ns);
    rc |= col_vec_append_i64(&b->cols[4], p->end_insert_time_ns);
    rc |= col_vec_append_i64(&b->cols[5], p->min_event_time_ns);
    rc |= col_vec_append_i64(&b->cols[6], p->max_event_time_ns);
    rc |= col_vec_append_i64(&b->cols[7], (int64_t)p->row_count);
    b->n++;
    return rc ? SL_ENOMEM : SL_OK;
}

static int retire_act(ftab *f, const sql_scan_req *req, sql_err *e)
{
    (void)req;
    admin_impl *a = f->impl;
    errmsg em = {0};
    int rc = lake_retire_partitions(f->eng->l, a->view, a->instance, a->begin_ns, a->end_ns,
                                    retired_row, f, &em);
    if (rc == SL_EINVAL)
        return sql_err_set(e, "22023", -1, "retire_partitions: %s", em.text);
    return rc == SL_ENOMEM ? oom(e) : rc ? lakescan_fail(e, rc, em.text) : SL_OK;
}

bool sql_retire_partitions_args(const sql_type *given, int nargs, sql_type *want)
{
    (void)given;
    for (int i = 0; i < nargs; i++)
        want[i] = sql_type_of(i < 2 ? ST_TEXT : ST_TIMESTAMPTZ);
    return true;
}

int sql_retire_partitions_bind(sql_engine *eng, const sql_datum *args, const sql_type *types,
                               int nargs, sql_table **out, sql_err *e)
{
    (void)types;
    static const char *names[] = {"view_set_name", "view_instance_id", "file_path",
                                  "begin_insert_time", "end_insert_time", "min_event_time",
                                  "max_event_time", "row_count"};
    static const sql_tid tids[] = {ST_TEXT, ST_TEXT, ST_TEXT, ST_TIMESTAMPTZ, ST_TIMESTAMPTZ,
                                   ST_TIMESTAMPTZ, ST_TIMESTAMPTZ, ST_INT8};
    static const admin_def d = {"retire_partitions", 8, names, tids, 2, retire_act};
    if (!args[1].null && args[1].s.n == 0)
        return sql_err_set(e, "22023", -1, "retire_partitions: the instance must not be empty");
    if (args[1].null)
        return sql_err_set(e, "22004", -1, "retire_partitions: the instance must not be null");
    admin_impl *a;
    ftab *f;
    int rc = admin_new(eng, &d, args, nargs, &a, &f, e);
    if (rc)
        return rc;
    snprintf(a->instance, sizeof a->instance, "%.*s",
             (int)(args[1].s.n < LAKE_INSTANCE_MAX - 1 ? args[1].s.n : LAKE_INSTANCE_MAX - 1),
             (const char *)args[1].s.p);
    *out = &f->t;
    return SL_OK;
}
