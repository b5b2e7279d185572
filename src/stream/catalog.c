/*
 * catalog.c - the names a run adds to its SQL session: connector tables,
 * materialized views, and the window table functions.
 *
 * The SQL engine resolves names through one catalog; a run fills the
 * session's catalog hook (sql/catalog/catalog.h) so that the one binder binds
 * continuous statements too:
 *
 *   a connector table    CREATE TABLE t (...) WITH (connector = 'file', ...):
 *                        its columns, bound like a table; a job's plan has it
 *                        as a scan leaf, which the job's driver feeds (a batch
 *                        query cannot scan it: a clear error says so)
 *   tumble / hop /       tumble(src, ts, size), hop(src, ts, slide, size),
 *   session              session(src, ts, gap): the
 *                        source's columns and window_start, window_end; bare
 *                        names for src and ts (the hook's name arguments)
 *   a materialized view  its final contents: an in-memory table of batches
 *                        that later SELECTs of the run read
 *
 * Options of the file connector (docs/streaming.md has the table): connector,
 * path, format, header, delimiter, event_time, max_delay, late, on_error,
 * op_column (a sink's).
 */
#include "stream/live.h"

#include "base/alloc.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- tables a batch query cannot scan ---------------------------------- */

static int stream_units(sql_table *t, sql_scan_req *req, int64_t *n, sql_err *e)
{
    (void)req;
    (void)n;
    return sql_err_set(e, SQLSTATE_FEATURE, -1, "\"%s\" reads a stream: use it in INSERT INTO "
                       "... SELECT or CREATE MATERIALIZED VIEW ... AS SELECT (a plain SELECT "
                       "over a source is not supported yet)", t->name);
}

/* A stream is unbounded: the planner keeps it on the probe side of a join (a
 * lookup table is the build side, lookup.c). */
static double stream_estimate(sql_table *t, const sql_scan_req *req)
{
    (void)t;
    (void)req;
    return 1e15;
}

static void wtab_free(sql_table *t)
{
    sl_free(t);
}

static const sql_table_ops g_source_ops, g_wtab_ops;

/* The source a source or window table reads, and the table's column types. */
static stream_table *served(sql_table *t, const sql_type **types)
{
    if (t->ops == &g_wtab_ops) {
        stream_wtab *w = (stream_wtab *)t;
        *types = w->types;
        return w->src;
    }
    *types = ((stream_table *)t)->types;
    return (stream_table *)t;
}

/* A window table (a window-local job's runs, one window at a time) or a source
 * (an interval join's runs, ijoin.c) is read by a batch query only while a
 * driver serves it chosen rows (on the thread running that query). */
static int serve_units(sql_table *t, sql_scan_req *req, int64_t *n, sql_err *e)
{
    if (!stream_serving_active())
        return stream_units(t, req, n, e);
    *n = 1;
    return SL_OK;
}

static int serve_open(sql_table *t, const sql_scan_req *req, int64_t unit, sql_scan **out,
                      sql_err *e)
{
    (void)unit;
    const sql_type *ty;
    stream_table *src = served(t, &ty);
    return stream_serving_open(src, ty, req, out, e);
}

static const sql_table_ops g_source_ops = {serve_units, NULL, serve_open, stream_estimate, NULL};
static const sql_table_ops g_wtab_ops = {serve_units, NULL, serve_open, stream_estimate,
                                         wtab_free};

/* What the binder sees of a connector or window table: columns, no time range. */
static void table_init(sql_table *t, const char *name, int ncols, const char **names,
                       sql_type *types, const sql_table_ops *ops, void *impl)
{
    t->name = name;
    t->schema = "public";
    t->kind = TABLE_FUNC;
    t->ncols = ncols;
    t->colnames = names;
    t->coltypes = types;
    t->time_col = t->end_col = t->id_col = -1;
    t->ops = ops;
    t->impl = impl;
}

void stream_table_init_source(stream_table *t)
{
    table_init(&t->t, t->name, t->ncols, t->names, t->types, &g_source_ops, t);
}

stream_table *stream_scan_source(const sql_table *t, const stream_win **win)
{
    *win = NULL;
    if (t->ops == &g_source_ops)
        return (stream_table *)t;
    if (t->ops == &g_wtab_ops) {
        stream_wtab *w = (stream_wtab *)t;
        *win = &w->win;
        return w->src;
    }
    return NULL;
}

/* ---- lookups ------------------------------------------------------------ */

stream_table *stream_table_find(stream_run *r, const char *name)
{
    for (int i = 0; i < r->ntables; i++)
        if (!strcmp(r->tables[i]->name, name))
            return r->tables[i];
    return NULL;
}

stream_view *stream_view_find(stream_run *r, const char *name)
{
    for (int i = 0; i < r->nviews; i++)
        if (!strcmp(r->views[i]->name, name))
            return r->views[i];
    return NULL;
}

static sql_table *hook_table(void *arg, const char *name)
{
    stream_run *r = arg;
    stream_table *t = stream_table_find(r, name);
    if (t && t->connector == STREAM_CONN_TABLE)
        return NULL; /* a table sink: queries read its user table (--data), as on a server */
    if (t)
        return &t->t;
    stream_view *v = stream_view_find(r, name);
    stream_table *vs = NULL;
    sql_err e;
    /* a job reads a view as a stream (source_view.c); one that cannot be read is
     * bound as its contents, and the job's planning says why (job.c) */
    if (v && r->binding_job && !stream_view_source(v, NULL, NULL, &vs, &e))
        return &vs->t;
    return v ? &v->f->t : NULL;
}

/* ---- options ------------------------------------------------------------ */

const char *stream_opt_text(const PgQuery__DefElem *d, char *buf, size_t n)
{
    const PgQuery__Node *a = d->arg;
    if (!a)
        return NULL;
    switch (a->node_case) {
    case PG_QUERY__NODE__NODE_STRING: return a->string->sval;
    case PG_QUERY__NODE__NODE_INTEGER: snprintf(buf, n, "%d", a->integer->ival); return buf;
    case PG_QUERY__NODE__NODE_FLOAT: return a->float_->fval;
    case PG_QUERY__NODE__NODE_BOOLEAN: return a->boolean->boolval ? "true" : "false";
    case PG_QUERY__NODE__NODE_TYPE_NAME: {
        /* `format = csv` unquoted arrives as a type name */
        const PgQuery__TypeName *tn = a->type_name;
        return tn->n_names ? node_str(tn->names[tn->n_names - 1]) : NULL;
    }
    default: return NULL;
    }
}

int stream_interval_ns(const char *what, const char *text, int64_t *out, sql_err *e)
{
    arena a;
    arena_init(&a, 256, 1u << 16);
    sql_datum d;
    const char *state = NULL;
    int rc = sql_datum_parse(sql_type_of(ST_INTERVAL), text, strlen(text), &a, &d, &state);
    arena_destroy(&a);
    if (rc)
        return sql_err_set(e, SQLSTATE_INVALID_TEXT, -1, "%s: invalid interval \"%s\"", what,
                           text);
    if (d.iv.months)
        return sql_err_set(e, "22023", -1, "%s: an interval of months or years has no fixed "
                           "length; use days or smaller units", what);
    int64_t ns;
    if (__builtin_mul_overflow((int64_t)d.iv.days, 86400 * NS_PER_S, &ns) ||
        __builtin_add_overflow(ns, d.iv.ns, &ns) || ns < 0)
        return sql_err_set(e, "22023", -1, "%s: the interval must be positive and at most a few "
                           "centuries", what);
    *out = ns;
    return SL_OK;
}

static bool is_time(sql_type t)
{
    return t.id == ST_TIMESTAMP || t.id == ST_TIMESTAMPTZ;
}

static int col_index(const stream_table *t, const char *name)
{
    for (int i = 0; i < t->ncols; i++)
        if (!strcmp(t->names[i], name))
            return i;
    return -1;
}

static bool opt_bool(const char *v, bool *out)
{
    if (!strcasecmp(v, "true") || !strcasecmp(v, "on") || !strcmp(v, "1"))
        return (*out = true);
    if (!strcasecmp(v, "false") || !strcasecmp(v, "off") || !strcmp(v, "0"))
        return !(*out = false);
    return false;
}

/* One option of a file connector table into t (connector itself checked before). */
static int table_option(stream_table *t, const char *k, const char *v, int loc, sql_err *e)
{
    static const char *const choices[][3] = {
        {"format", "csv", "jsonl"}, {"late", "drop", "error"}, {"on_error", "fail", "skip"}};
    for (size_t i = 0; i < sizeof choices / sizeof choices[0]; i++) {
        if (strcmp(k, choices[i][0]))
            continue;
        int pick = !strcasecmp(v, choices[i][1]) ? 0 : !strcasecmp(v, choices[i][2]) ? 1 : -1;
        if (pick < 0)
            return sql_err_set(e, "22023", loc, "table \"%s\": %s must be '%s' or '%s', not "
                               "'%s'", t->name, k, choices[i][1], choices[i][2], v);
        if (i == 0)
            t->format = pick ? STREAM_FMT_JSONL : STREAM_FMT_CSV;
        else if (i == 1)
            t->late_error = pick;
        else
            t->skip_bad = pick;
        return SL_OK;
    }
    if (!strcmp(k, "path")) {
        t->path_opt = arena_strndup(&t->run->a, v, strlen(v));
        return t->path_opt ? SL_OK : SL_ENOMEM;
    }
    if (!strcmp(k, "follow")) {
        if (!opt_bool(v, &t->follow))
            return sql_err_set(e, "22023", loc, "table \"%s\": follow must be true or false",
                               t->name);
        return SL_OK;
    }
    if (!strcmp(k, "header")) {
        if (!opt_bool(v, &t->header))
            return sql_err_set(e, "22023", loc, "table \"%s\": header must be true or false",
                               t->name);
        return SL_OK;
    }
    if (!strcmp(k, "delimiter")) {
        if (strlen(v) != 1 || *v == '"' || *v == '\n')
            return sql_err_set(e, "22023", loc, "table \"%s\": delimiter must be one character "
                               "(not a quote or a line break)", t->name);
        t->delim = *v;
        return SL_OK;
    }
    if (!strcmp(k, "event_time")) {
        int c = col_index(t, v);
        if (c < 0)
            return sql_err_set(e, SQLSTATE_UNDEFINED_COLUMN, loc, "table \"%s\": event_time "
                               "column \"%s\" does not exist", t->name, v);
        if (!is_time(t->types[c]))
            return sql_err_set(e, SQLSTATE_DATATYPE_MISMATCH, loc, "table \"%s\": event_time "
                               "column \"%s\" must be a timestamp or timestamptz", t->name, v);
        t->time_col = c;
        return SL_OK;
    }
    if (!strcmp(k, "op_column")) {
        int c = col_index(t, v);
        if (c < 0)
            return sql_err_set(e, SQLSTATE_UNDEFINED_COLUMN, loc, "table \"%s\": op_column "
                               "column \"%s\" does not exist", t->name, v);
        if (t->types[c].id != ST_TEXT)
            return sql_err_set(e, SQLSTATE_DATATYPE_MISMATCH, loc, "table \"%s\": op_column "
                               "column \"%s\" must be of type text", t->name, v);
        t->op_col = c;
        return SL_OK;
    }
    if (!strcmp(k, "max_delay")) {
        char what[160];
        snprintf(what, sizeof what, "table \"%s\": max_delay", t->name);
        return stream_interval_ns(what, v, &t->delay_ns, e);
    }
    return sql_err_set(e, "22023", loc, "table \"%s\": unknown option \"%s\" (the file "
                       "connector takes path, format, header, delimiter, event_time, "
                       "max_delay, late, on_error, follow, op_column)", t->name, k);
}

static int add_ptr(void ***arr, int *n, int *cap, void *p)
{
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 8;
        void **na = sl_realloc(*arr, sizeof *na * (size_t)nc);
        if (!na)
            return SL_ENOMEM;
        *arr = na;
        *cap = nc;
    }
    (*arr)[(*n)++] = p;
    return SL_OK;
}

static int name_taken(stream_run *r, const char *name, sql_err *e)
{
    if (stream_table_find(r, name) || stream_view_find(r, name))
        return sql_err_set(e, "42P07", -1, "relation \"%s\" already exists", name);
    return SL_OK;
}

/* The columns of CREATE TABLE into t, typed by the SQL engine's own rules. */
static int table_columns(stream_run *r, stream_table *t, const char *text,
                         const PgQuery__CreateStmt *cs, sql_err *e)
{
    int n = (int)cs->n_table_elts;
    t->names = arena_zalloc(&r->a, sizeof *t->names * (size_t)(n ? n : 1));
    t->types = arena_zalloc(&r->a, sizeof *t->types * (size_t)(n ? n : 1));
    if (!t->names || !t->types)
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    for (int i = 0; i < n; i++) {
        const PgQuery__Node *el = cs->table_elts[i];
        if (el->node_case != PG_QUERY__NODE__NODE_COLUMN_DEF)
            continue; /* constraints: accepted, not enforced, as for user tables */
        const PgQuery__ColumnDef *cd = el->column_def;
        if (col_index(t, cd->colname) >= 0)
            return sql_err_set(e, "42701", cd->location, "column \"%s\" specified more than "
                               "once", cd->colname);
        int rc = sql_session_typename(r->s, text, cd->type_name, &t->types[t->ncols], e);
        if (rc)
            return rc;
        t->names[t->ncols++] = arena_strndup(&r->a, cd->colname, strlen(cd->colname));
    }
    if (!t->ncols)
        return sql_err_set(e, SQLSTATE_FEATURE, -1, "table \"%s\": a connector table needs "
                           "columns", t->name);
    return SL_OK;
}

int stream_create_table(stream_run *r, const char *text, const PgQuery__CreateStmt *cs,
                        sql_err *e)
{
    const PgQuery__DefElem *conn = NULL;
    for (size_t i = 0; i < cs->n_options; i++) {
        const PgQuery__DefElem *d = cs->options[i]->def_elem;
        if (d && d->defname && !strcmp(d->defname, "connector"))
            conn = d;
    }
    if (!conn)
        return 0;
    const char *name = cs->relation->relname;
    char buf[64];
    const char *cv = stream_opt_text(conn, buf, sizeof buf);
    int kind = !cv ? -1 : !strcmp(cv, "file") ? STREAM_CONN_FILE
                        : !strcmp(cv, "telemetry") ? STREAM_CONN_TELEMETRY
                        : !strcmp(cv, "nexmark")   ? STREAM_CONN_NEXMARK
                        : !strcmp(cv, "kafka")     ? STREAM_CONN_KAFKA
                        : !strcmp(cv, "webhook")   ? STREAM_CONN_WEBHOOK
                        : !strcmp(cv, "metrics")   ? STREAM_CONN_METRICS
                        : !strcmp(cv, "table")     ? STREAM_CONN_TABLE
                        : !strcmp(cv, "blackhole") ? STREAM_CONN_BLACKHOLE : -1;
    bool nexmark = kind == STREAM_CONN_NEXMARK;
    if (kind < 0)
        return sql_err_set(e, SQLSTATE_FEATURE, conn->location, "table \"%s\": connector '%s' "
                           "is not supported yet (this version has 'file', 'telemetry', "
                           "'nexmark', 'kafka', 'webhook', 'metrics', 'table' and 'blackhole')",
                           name, cv ? cv : "?");
    if (kind == STREAM_CONN_TELEMETRY && !r->hub)
        return sql_err_set(e, SQLSTATE_FEATURE, conn->location, "table \"%s\": the telemetry "
                           "connector reads what a server ingests: run the statement on a "
                           "server (streamlake sql, pgwire or POST /api/query)", name);
    int rc = name_taken(r, name, e);
    if (rc)
        return rc;
    stream_table *t = arena_zalloc(&r->a, sizeof *t);
    if (!t)
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    t->run = r;
    t->name = arena_strndup(&r->a, name, strlen(name));
    t->format = STREAM_FMT_CSV;
    t->header = true;
    t->delim = ',';
    t->time_col = -1;
    t->op_col = -1;
    t->watermark_ns = STREAM_WM_NONE;
    t->connector = kind;
    t->tel_view = -1;
    t->retries = 3;
    if ((rc = table_columns(r, t, text, cs, e)))
        return rc;
    if (nexmark && stream_nexmark_new(t))
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    bool kafka = kind == STREAM_CONN_KAFKA;
    if (kafka && stream_kafka_new(t))
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    for (size_t i = 0; i < cs->n_options; i++) {
        const PgQuery__DefElem *d = cs->options[i]->def_elem;
        if (!d || d == conn)
            continue;
        const char *v = stream_opt_text(d, buf, sizeof buf);
        if (!v)
            return sql_err_set(e, "22023", d->location, "table \"%s\": option %s needs a value",
                               name, d->defname);
        if (kind == STREAM_CONN_BLACKHOLE)
            return sql_err_set(e, "22023", d->location, "table \"%s\": the blackhole "
                               "connector takes no options (not %s)", name, d->defname);
        if (nexmark && (rc = stream_nexmark_option(t, d->defname, v, d->location, e)) != 1) {
            if (rc)
                return rc;
            continue;
        }
        if (kafka && (rc = stream_kafka_option(t, d->defname, v, d->location, e)) != 1) {
            if (rc)
                return rc == SL_ENOMEM ? sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1,
                                                     "out of memory") : rc;
            continue;
        }
        bool tel = kind == STREAM_CONN_TELEMETRY && strcmp(d->defname, "event_time") &&
                   strcmp(d->defname, "max_delay") && strcmp(d->defname, "late");
        bool ext = kind == STREAM_CONN_WEBHOOK || kind == STREAM_CONN_METRICS ||
                   kind == STREAM_CONN_TABLE;
        if ((rc = tel   ? stream_telemetry_option(t, d->defname, v, d->location, e)
                  : ext ? stream_sinkext_option(t, d->defname, v, d->location, e)
                        : table_option(t, d->defname, v, d->location, e)))
            return rc == SL_ENOMEM ? sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory")
                                   : rc;
    }
    if (nexmark && (rc = stream_nexmark_check(t, e)))
        return rc == SL_ENOMEM ? sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory") : rc;
    if (kind == STREAM_CONN_TELEMETRY && (rc = stream_telemetry_check(t, e)))
        return rc;
    if (kafka && (rc = stream_kafka_check(t, e)))
        return rc;
    if ((kind == STREAM_CONN_WEBHOOK || kind == STREAM_CONN_METRICS ||
         kind == STREAM_CONN_TABLE) &&
        (rc = stream_sinkext_check(t, e)))
        return rc;
    if (!t->path_opt && kind == STREAM_CONN_FILE)
        return sql_err_set(e, "22023", -1, "table \"%s\": the file connector needs a path",
                           name);
    if (t->delay_ns && t->time_col < 0)
        return sql_err_set(e, "22023", -1, "table \"%s\": max_delay needs event_time", name);
    table_init(&t->t, t->name, t->ncols, t->names, t->types,
               t->time_col < 0 ? &stream_lookup_ops : &g_source_ops, t);
    if (add_ptr((void ***)&r->tables, &r->ntables, &r->tables_cap, t))
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    return 1;
}

/* ---- materialized views -------------------------------------------------- */

int stream_view_new(stream_run *r, const char *name, int ncols, const char *const *names,
                    const sql_type *types, stream_view **out, sql_err *e)
{
    int rc = name_taken(r, name, e);
    if (rc)
        return rc;
    if (ncols > FTAB_MAXCOLS)
        return sql_err_set(e, "54011", -1, "materialized view \"%s\": at most %d columns",
                           name, FTAB_MAXCOLS);
    stream_view *v = arena_zalloc(&r->a, sizeof *v);
    const char *nm = arena_strndup(&r->a, name, strlen(name));
    ftab *f = v && nm ? ftab_new(r->eng, nm, ncols, &ftab_rows_ops) : NULL;
    if (!f)
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    v->name = nm;
    v->f = f;
    for (int i = 0; i < ncols; i++) {
        f->names[i] = arena_strndup(&f->mem, names[i], strlen(names[i]));
        f->types[i] = types[i];
        if (!f->names[i]) {
            sql_table_free(&f->t);
            return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
        }
    }
    if (add_ptr((void ***)&r->views, &r->nviews, &r->views_cap, v)) {
        sql_table_free(&f->t);
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    }
    *out = v;
    return SL_OK;
}

/* ---- tumble and hop ------------------------------------------------------- */

/* (text, text, interval [, interval]): a source, its time column, the sizes. */
static bool win_arg_types(const sql_type *given, int nargs, sql_type *want)
{
    (void)given;
    for (int i = 0; i < nargs; i++)
        want[i] = sql_type_of(i < 2 ? ST_TEXT : ST_INTERVAL);
    return true;
}

static int interval_arg(const char *fn, const char *what, const sql_datum *d, int64_t *out,
                        sql_err *e)
{
    if (d->null)
        return sql_err_set(e, "22004", -1, "%s: the %s must not be NULL", fn, what);
    if (d->iv.months)
        return sql_err_set(e, "22023", -1, "%s: a %s of months or years has no fixed length",
                           fn, what);
    int64_t ns;
    if (__builtin_mul_overflow((int64_t)d->iv.days, 86400 * NS_PER_S, &ns) ||
        __builtin_add_overflow(ns, d->iv.ns, &ns) || ns <= 0)
        return sql_err_set(e, "22023", -1, "%s: the %s must be a positive interval", fn, what);
    *out = ns;
    return SL_OK;
}

/* tumble, hop or session (fn) bound to its arguments. */
static int win_bind_fn(stream_run *r, const char *fn, const sql_datum *args, int nargs,
                       sql_table **out, sql_err *e)
{
    bool session = !strcmp(fn, "session");
    char src_name[256], col[256];
    for (int i = 0; i < 2; i++) {
        if (args[i].null || args[i].s.n >= sizeof src_name)
            return sql_err_set(e, "22023", -1, "%s: the %s must be a name", fn,
                               i ? "time column" : "source");
        memcpy(i ? col : src_name, args[i].s.p, args[i].s.n);
        (i ? col : src_name)[args[i].s.n] = 0;
    }
    stream_table *src = stream_table_find(r, src_name);
    stream_view *v = src ? NULL : stream_view_find(r, src_name);
    int rc = v ? stream_view_source(v, fn, col, &src, e) : SL_OK;
    if (rc)
        return rc;
    for (int i = 0; v && i < src->ncols; i++) /* the window adds its own */
        if (!strcmp(src->names[i], "window_start") || !strcmp(src->names[i], "window_end"))
            return sql_err_set(e, "42701", -1, "%s: materialized view \"%s\" has a column "
                               "named %s, which the window adds: name it otherwise in the "
                               "view (%s AS ...)", fn, v->name, src->names[i], src->names[i]);
    if (!src)
        return sql_err_set(e, SQLSTATE_UNDEFINED_TABLE, -1, "%s: \"%s\" is not a source table "
                           "(CREATE TABLE ... WITH (connector = ...))", fn, src_name);
    if (src->time_col < 0)
        return sql_err_set(e, "22023", -1, "%s: table \"%s\" has no event_time: windows need "
                           "one", fn, src_name);
    if (strcmp(src->names[src->time_col], col))
        return sql_err_set(e, "22023", -1, "%s: windows of \"%s\" are over its event_time "
                           "column \"%s\", not \"%s\"", fn, src_name,
                           src->names[src->time_col], col);
    stream_win win = {.session = session};
    rc = interval_arg(fn, session ? "gap" : nargs == 3 ? "size" : "slide", &args[2],
                          &win.slide_ns, e);
    if (!rc)
        rc = nargs == 3 ? (win.size_ns = win.slide_ns, SL_OK)
                        : interval_arg(fn, "size", &args[3], &win.size_ns, e);
    if (rc)
        return rc;
    if (win.size_ns / win.slide_ns >= STREAM_WIN_MAX_PER_ROW)
        return sql_err_set(e, "22023", -1, "hop: size / slide must stay under %d",
                           STREAM_WIN_MAX_PER_ROW);
    int n = src->ncols + 2;
    stream_wtab *w = sl_calloc(1, sizeof *w + (sizeof(const char *) + sizeof(sql_type)) *
                                                  (size_t)n);
    if (!w)
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    w->src = src;
    w->win = win;
    w->types = (sql_type *)(w + 1);
    w->names = (const char **)(w->types + n);
    for (int i = 0; i < src->ncols; i++) {
        w->names[i] = src->names[i];
        w->types[i] = src->types[i];
    }
    w->names[n - 2] = "window_start";
    w->names[n - 1] = "window_end";
    w->types[n - 2] = w->types[n - 1] = src->types[src->time_col];
    table_init(&w->t, fn, n, w->names, w->types, &g_wtab_ops, w);
    *out = &w->t;
    return SL_OK;
}

static int win_bind(void *arg, const sql_datum *args, const sql_type *types, int nargs,
                    sql_table **out, sql_err *e)
{
    (void)types;
    return win_bind_fn(arg, nargs == 3 ? "tumble" : "hop", args, nargs, out, e);
}

static int session_bind(void *arg, const sql_datum *args, const sql_type *types, int nargs,
                        sql_table **out, sql_err *e)
{
    (void)types;
    return win_bind_fn(arg, "session", args, nargs, out, e);
}

static const sql_hook_tfunc *hook_tfunc(void *arg, const char *name)
{
    stream_run *r = arg;
    if (!strcmp(name, "tumble"))
        return &r->tumble;
    if (!strcmp(name, "hop"))
        return &r->hop;
    if (!strcmp(name, "session"))
        return &r->session;
    return NULL;
}

void stream_catalog_init(stream_run *r)
{
    r->tumble = (sql_hook_tfunc){{"tumble", 3, 3, win_arg_types, NULL, false}, 2, win_bind};
    r->hop = (sql_hook_tfunc){{"hop", 4, 4, win_arg_types, NULL, false}, 2, win_bind};
    r->session = (sql_hook_tfunc){{"session", 3, 3, win_arg_types, NULL, false}, 2,
                                  session_bind};
    r->hook = (sql_catalog_hook){r, hook_table, hook_tfunc, NULL};
    sql_session_set_catalog_hook(r->s, &r->hook);
}

void stream_catalog_free(stream_run *r)
{
    for (int i = 0; i < r->nviews; i++)
        sql_table_free(&r->views[i]->f->t);
    sl_free(r->views);
    sl_free(r->tables);
    r->views = NULL;
    r->tables = NULL;
    r->nviews = r->ntables = 0;
    r->views_cap = r->tables_cap = 0; /* (a server that leads again registers anew) */
}
