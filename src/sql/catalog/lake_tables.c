/*
 * lake_tables.c - the lake's global tables: processes, streams, blocks,
 * log_entries, measures, and log_stats (a built-in view over log_entries).
 *
 * Metadata tables read the metadata store through the lake; event tables
 * read each process's partitions (built just in time).  A scan's units are
 * processes: the workers read several at once, each in bounded memory (the
 * lake's batches), and a query over the whole history never holds more than
 * a few processes' batches.  Pruning happens before any file is opened:
 *
 *   process_id = '...'        one process (a keyed lookup, no listing)
 *   a time range              processes that started after its end are left
 *                             out, and each process's scan reads only the
 *                             partitions that overlap it
 *   the stream tag            log_entries skips processes without a log
 *                             stream, measures those without a metrics stream
 */
#include "sql/catalog/lakescan.h"
#include "sql/engine_int.h"

#include "base/alloc.h"

#include <stdio.h>
#include <string.h>

#define T(n, t) {n, t, LC_SHARE}
static const lake_coldef c_processes[] = {
    T("process_id", ST_UUID), T("exe", ST_TEXT), T("username", ST_TEXT), T("realname", ST_TEXT),
    T("computer", ST_TEXT), T("distro", ST_TEXT), T("cpu_brand", ST_TEXT),
    T("tsc_frequency", ST_INT8), T("start_time", ST_TIMESTAMPTZ), T("start_ticks", ST_INT8),
    T("parent_process_id", ST_UUID), {"properties", ST_JSONB, LC_JSONB},
    T("insert_time", ST_TIMESTAMPTZ)};
static const lake_coldef c_streams[] = {
    T("stream_id", ST_UUID), T("process_id", ST_UUID), {"tags", ST_TEXTARR, LC_TAGS},
    {"properties", ST_JSONB, LC_JSONB}, T("insert_time", ST_TIMESTAMPTZ)};
static const lake_coldef c_blocks[] = {
    T("block_id", ST_UUID), T("stream_id", ST_UUID), T("process_id", ST_UUID),
    T("begin_time", ST_TIMESTAMPTZ), T("end_time", ST_TIMESTAMPTZ), T("begin_ticks", ST_INT8),
    T("end_ticks", ST_INT8), T("nb_objects", ST_INT8), T("object_offset", ST_INT8),
    T("payload_size", ST_INT8), T("insert_time", ST_TIMESTAMPTZ)};
static const lake_coldef c_log_entries[] = {
    T("process_id", ST_UUID), T("stream_id", ST_UUID), T("block_id", ST_UUID),
    T("insert_time", ST_TIMESTAMPTZ), T("exe", ST_TEXT), T("username", ST_TEXT),
    T("computer", ST_TEXT), T("time", ST_TIMESTAMPTZ), T("target", ST_TEXT), T("level", ST_INT4),
    T("msg", ST_TEXT), {"properties", ST_JSONB, LC_JSONB}};
static const lake_coldef c_measures[] = {
    T("process_id", ST_UUID), T("stream_id", ST_UUID), T("block_id", ST_UUID),
    T("insert_time", ST_TIMESTAMPTZ), T("exe", ST_TEXT), T("username", ST_TEXT),
    T("computer", ST_TEXT), T("time", ST_TIMESTAMPTZ), T("target", ST_TEXT), T("name", ST_TEXT),
    T("unit", ST_TEXT), T("value", ST_FLOAT8), {"properties", ST_JSONB, LC_JSONB}};
static const lake_coldef c_thread_spans[] = {
    T("id", ST_INT8), T("parent", ST_INT8), {"depth", ST_INT4, LC_U32_I4},
    {"hash", ST_INT8, LC_U32_I8}, T("begin", ST_TIMESTAMPTZ), T("end", ST_TIMESTAMPTZ),
    T("duration", ST_INT8), T("name", ST_TEXT), T("target", ST_TEXT), T("filename", ST_TEXT),
    {"line", ST_INT4, LC_U32_I4}};
static const lake_coldef c_async_events[] = {
    T("stream_id", ST_UUID), T("block_id", ST_UUID), T("time", ST_TIMESTAMPTZ),
    T("event_type", ST_TEXT), T("span_id", ST_INT8), T("parent_span_id", ST_INT8),
    {"depth", ST_INT4, LC_U32_I4}, {"hash", ST_INT8, LC_U32_I8}, T("name", ST_TEXT),
    T("filename", ST_TEXT), T("target", ST_TEXT), {"line", ST_INT4, LC_U32_I4}};
static const lake_coldef c_otel_spans[] = {
    T("process_id", ST_UUID), T("stream_id", ST_UUID), T("trace_id", ST_TEXT),
    T("span_id", ST_TEXT), T("parent_span_id", ST_TEXT), T("name", ST_TEXT), T("scope", ST_TEXT),
    T("kind", ST_TEXT), T("start", ST_TIMESTAMPTZ), T("end", ST_TIMESTAMPTZ),
    T("duration", ST_INT8), T("status", ST_TEXT), T("status_message", ST_TEXT),
    {"attributes", ST_JSONB, LC_JSONB}, {"events", ST_JSONB, LC_JSONB}};
#undef T

#define N(a) (int)(sizeof a / sizeof a[0])
const lake_coldef *lake_coldefs(lake_view_id v, int *n)
{
    switch (v) {
    case LAKE_THREAD_SPANS: *n = N(c_thread_spans); return c_thread_spans;
    case LAKE_ASYNC_EVENTS: *n = N(c_async_events); return c_async_events;
    case LAKE_LOG_ENTRIES: *n = N(c_log_entries); return c_log_entries;
    case LAKE_MEASURES: *n = N(c_measures); return c_measures;
    case LAKE_PROCESSES: *n = N(c_processes); return c_processes;
    case LAKE_STREAMS: *n = N(c_streams); return c_streams;
    case LAKE_BLOCKS: *n = N(c_blocks); return c_blocks;
    case LAKE_OTEL_SPANS: *n = N(c_otel_spans); return c_otel_spans;
    default: *n = 0; return NULL;
    }
}
#undef N

enum { U_ONE, U_PROCESS };
enum { TAG_NONE, TAG_LOG, TAG_METRICS, TAG_OTEL_SPANS };

typedef struct ltab {
    const char *name;
    lake_view_id view;
    int units;               /* U_ONE: one scan of "global" (or the id); U_PROCESS: per process */
    int tag;
    const lake_coldef *cols;
    int ncols;
    const char *time_col, *id_col;
    double estimate;
} ltab;

#define N(a) (int)(sizeof a / sizeof a[0])
static const ltab g_ltabs[] = {
    {"processes", LAKE_PROCESSES, U_ONE, TAG_NONE, c_processes, N(c_processes), "start_time",
     "process_id", 100},
    {"streams", LAKE_STREAMS, U_ONE, TAG_NONE, c_streams, N(c_streams), "insert_time",
     "process_id", 2000},
    {"blocks", LAKE_BLOCKS, U_PROCESS, TAG_NONE, c_blocks, N(c_blocks), "begin_time",
     "process_id", 1e5},
    {"log_entries", LAKE_LOG_ENTRIES, U_PROCESS, TAG_LOG, c_log_entries, N(c_log_entries),
     "time", "process_id", 1e6},
    {"measures", LAKE_MEASURES, U_PROCESS, TAG_METRICS, c_measures, N(c_measures), "time",
     "process_id", 1e6},
    {"otel_spans", LAKE_OTEL_SPANS, U_PROCESS, TAG_OTEL_SPANS, c_otel_spans, N(c_otel_spans),
     "start", "process_id", 1e6},
};
#undef N

/* Built-in views: SQL over the tables above. */
typedef struct bview {
    const char *name;
    const char *sql;
    const char *cols[8];
    sql_tid types[8];
} bview;

static const bview g_views[] = {
    {"log_stats",
     "SELECT date_trunc('minute', time) AS time_bin, process_id, level, target, "
     "count(*) AS count FROM log_entries GROUP BY 1, 2, 3, 4",
     {"time_bin", "process_id", "level", "target", "count"},
     {ST_TIMESTAMPTZ, ST_UUID, ST_INT4, ST_TEXT, ST_INT8}},
};

typedef struct ltab_impl {
    sql_engine *eng;
    const ltab *def;
} ltab_impl;

/* The units of a per-process scan: the processes left after pruning. */
typedef struct units_state {
    int64_t n;
    char (*ids)[LAKE_INSTANCE_MAX];
    int splits;              /* units per process: its row groups read by that many workers */
} units_state;

typedef struct list_ctx {
    units_state *u;
    int64_t cap;
    int64_t end_ns;
    uint64_t pruned;
    int rc;
} list_ctx;

static int add_unit(units_state *u, int64_t *cap, const char *id)
{
    if (u->n == *cap) {
        int64_t nc = *cap ? *cap * 2 : 64;
        void *n = sl_realloc(u->ids, sizeof *u->ids * (size_t)nc);
        if (!n)
            return SL_ENOMEM;
        u->ids = n;
        *cap = nc;
    }
    snprintf(u->ids[u->n++], LAKE_INSTANCE_MAX, "%s", id);
    return SL_OK;
}

static int list_process(void *arg, const meta_process_summary *row)
{
    list_ctx *c = arg;
    if (row->p.start_time_ns >= c->end_ns) {
        c->pruned++;
        return 0;
    }
    char id[UUID_STR_LEN];
    uuid_format(&row->p.process_id, id);
    return (c->rc = add_unit(c->u, &c->cap, id));
}

/* Keeps the processes that have a stream with the table's tag. */
static int prune_by_tag(lake *l, const ltab *d, units_state *u, uint64_t *pruned)
{
    int64_t k = 0;
    for (int64_t i = 0; i < u->n; i++) {
        sl_uuid id;
        const lake_process *p;
        errmsg em = {0};
        bool keep = true;
        if (!uuid_parse(u->ids[i], &id) && !lake_process_get(l, &id, &p, &em)) {
            keep = false;
            for (size_t s = 0; s < p->n_streams && !keep; s++)
                keep = d->tag == TAG_LOG           ? p->streams[s].is_log
                       : d->tag == TAG_OTEL_SPANS ? p->streams[s].is_otel_spans
                                                  : p->streams[s].is_metrics;
            lake_process_release(l, p);
        }
        if (keep)
            memmove(u->ids[k++], u->ids[i], LAKE_INSTANCE_MAX);
        else
            (*pruned)++;
    }
    u->n = k;
    return SL_OK;
}

static int lt_units(sql_table *t, sql_scan_req *req, int64_t *n, sql_err *e)
{
    ltab_impl *im = t->impl;
    const ltab *d = im->def;
    if (!im->eng->l || !im->eng->m)
        return sql_err_set(e, "55000", -1, "%s: this engine has no lake", t->name);
    units_state *u = sl_calloc(1, sizeof *u);
    if (!u)
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    req->state = u;
    int64_t cap = 0;
    if (req->id_eq) {
        /* the id is canonical (the planner checked it); an unknown one gives no rows */
        if (add_unit(u, &cap, req->id_eq))
            return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    } else if (d->units == U_ONE) {
        if (add_unit(u, &cap, "global"))
            return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    } else {
        list_ctx c = {u, 0, req->end_ns, 0, 0};
        errmsg em = {0};
        int rc = meta_processes_list(im->eng->m, list_process, &c, &em);
        if (rc || c.rc)
            return lakescan_fail(e, rc ? rc : c.rc, em.text);
        req->pruned += c.pruned;
    }
    if (d->tag != TAG_NONE)
        prune_by_tag(im->eng->l, d, u, &req->pruned);
    /* partitioned tables: each process's row groups split among the workers, so one
     * big process still reads in parallel */
    u->splits = lake_view_get(d->view)->partitioned && req->workers > 1 ? 2 * req->workers : 1;
    *n = u->n * u->splits;
    return SL_OK;
}

static void lt_release(sql_table *t, sql_scan_req *req)
{
    (void)t;
    units_state *u = req->state;
    if (u) {
        sl_free(u->ids);
        sl_free(u);
    }
}

static int lt_open(sql_table *t, const sql_scan_req *req, int64_t unit, sql_scan **out, sql_err *e)
{
    ltab_impl *im = t->impl;
    const units_state *u = req->state;
    lakescan_col cols[32];
    lakescan_cols(im->def->cols, im->def->view, req, cols);
    lakescan_opts o = {.view = im->def->view,
                       .instance = u->ids[unit / u->splits],
                       .split = (int)(unit % u->splits),
                       .nsplits = u->splits,
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
    int rc = lakescan_open(im->eng->l, &o, out, e);
    if (rc && e->code == 0)
        e->code = rc;
    /* a process that went away between listing and reading has no rows */
    if (rc && !strcmp(e->state, "22023") && req->id_eq == NULL && im->def->units == U_PROCESS)
        return lakescan_open_empty(out, e);
    return rc;
}

static double lt_estimate(sql_table *t, const sql_scan_req *req)
{
    ltab_impl *im = t->impl;
    return req->id_eq ? im->def->estimate / 100 + 1 : im->def->estimate;
}

static void lt_free(sql_table *t)
{
    (void)t; /* engine-owned: freed with the engine */
}

static const sql_table_ops g_lt_ops = {lt_units, lt_release, lt_open, lt_estimate, lt_free};

/* ---- the engine's built-in tables ---- */

int sql_builtin_init(sql_engine *eng);
void sql_builtin_free(sql_engine *eng);

int sql_builtin_init(sql_engine *eng)
{
    int nl = (int)(sizeof g_ltabs / sizeof g_ltabs[0]);
    int nv = (int)(sizeof g_views / sizeof g_views[0]);
    eng->nbuiltin = nl + nv;
    if (!(eng->builtin = sl_calloc((size_t)eng->nbuiltin, sizeof *eng->builtin)))
        return SL_ENOMEM;
    for (int i = 0; i < nl; i++) {
        const ltab *d = &g_ltabs[i];
        sql_table *t = sl_calloc(1, sizeof *t + sizeof(ltab_impl));
        if (!t)
            return SL_ENOMEM;
        eng->builtin[i] = t;
        ltab_impl *im = (ltab_impl *)(t + 1);
        im->eng = eng;
        im->def = d;
        t->name = d->name;
        t->schema = "public";
        t->kind = TABLE_LAKE;
        t->ncols = d->ncols;
        t->colnames = sl_calloc((size_t)d->ncols, sizeof *t->colnames);
        t->coltypes = sl_calloc((size_t)d->ncols, sizeof *t->coltypes);
        if (!t->colnames || !t->coltypes)
            return SL_ENOMEM;
        t->time_col = t->end_col = t->id_col = -1;
        for (int c = 0; c < d->ncols; c++) {
            t->colnames[c] = d->cols[c].name;
            t->coltypes[c] = sql_type_of(d->cols[c].type);
            if (!strcmp(d->cols[c].name, d->time_col))
                t->time_col = c;
            if (!strcmp(d->cols[c].name, d->id_col))
                t->id_col = c;
        }
        t->ops = &g_lt_ops;
        t->impl = im;
    }
    for (int i = 0; i < nv; i++) {
        const bview *v = &g_views[i];
        sql_table *t = sl_calloc(1, sizeof *t);
        if (!t)
            return SL_ENOMEM;
        eng->builtin[nl + i] = t;
        int nc = 0;
        while (nc < 8 && v->cols[nc])
            nc++;
        t->name = v->name;
        t->schema = "public";
        t->kind = TABLE_VIEW;
        t->ncols = nc;
        t->colnames = sl_calloc((size_t)nc, sizeof *t->colnames);
        t->coltypes = sl_calloc((size_t)nc, sizeof *t->coltypes);
        if (!t->colnames || !t->coltypes)
            return SL_ENOMEM;
        for (int c = 0; c < nc; c++) {
            t->colnames[c] = v->cols[c];
            t->coltypes[c] = sql_type_of(v->types[c]);
        }
        t->time_col = t->end_col = t->id_col = -1;
        t->view_sql = v->sql;
    }
    return SL_OK;
}

void sql_builtin_free(sql_engine *eng)
{
    for (int i = 0; i < eng->nbuiltin; i++) {
        sql_table *t = eng->builtin[i];
        if (!t)
            continue;
        sl_free(t->colnames);
        sl_free(t->coltypes);
        sl_free(t);
    }
    sl_free(eng->builtin);
    eng->builtin = NULL;
    eng->nbuiltin = 0;
}

sql_table *sql_builtin_table(sql_engine *eng, const char *schema, const char *name, arena *a)
{
    if (schema && strcmp(schema, "public") && strcmp(schema, "streamlake"))
        return a ? sql_system_table(eng, schema, name, a) : NULL;
    for (int i = 0; i < eng->nbuiltin; i++)
        if (!strcmp(eng->builtin[i]->name, name))
            return eng->builtin[i];
    /* pg_catalog is on every search path, as in PostgreSQL */
    return schema || !a ? NULL : sql_system_table(eng, "pg_catalog", name, a);
}

sql_table *sql_builtin_table_at(sql_engine *eng, int i)
{
    return i >= 0 && i < eng->nbuiltin ? eng->builtin[i] : NULL;
}
