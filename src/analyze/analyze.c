/*
 * analyze.c - the report's computation: SQL aggregates, the parent-link
 * pass, the rules behind its sentences, and its JSON (see analyze.h).
 *
 * Every figure comes from one of these statements over
 * process_spans(process_id, kind), with the report's time range applied by
 * the engine (spans overlapping it are kept whole):
 *
 *   overall     count, count("end"), distinct targets/names/files/threads,
 *               sum, avg, min, max, stddev_samp of duration       (exact)
 *   by_name,    the same per group, and approx_percentile(duration, 0.99)
 *   by_target   (a bounded log histogram: within 1% relative error)
 *   top         ORDER BY duration DESC LIMIT N
 *   depths      GROUP BY depth
 *   async       view_instance('async_events', ...) grouped by span id:
 *               begins without an end, ends without a begin
 *   events      sum(blocks.nb_objects) of the process's cpu streams (the
 *               whole process only: blocks are not cut by time)
 *   links       SELECT stream_id, thread_name, id, parent, begin, end, name,
 *               target: streamed into an_tree.c in result batches
 *
 * The process id is parsed and written back canonical before it goes into a
 * statement, and the kind is one of three constants: no text from the caller
 * reaches the SQL.  The rules (RULES below) are data: each has an id and its
 * text, the report lists every rule and whether it held, and a sentence
 * appears in "findings" only when its rule held.
 */
#include "analyze/an_int.h"

#include "base/alloc.h"
#include "base/arena.h"
#include "base/clock.h"
#include "base/uuid.h"
#include "sql/sql.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Thresholds of the rules (docs/analyze.md, "Rules"). */
#define DOMINANT_SHARE 0.40
#define LONG_TAIL_RATIO 10.0
#define OUTLIER_RATIO 100.0
#define MIN_SPANS_FOR_SHAPE 100
#define ERRATIC_MIN_EXECUTIONS 30
#define ERRATIC_MIN_SHARE 0.05
#define PARALLEL_MEAN_ROOTS 2.0
#define MAX_DEPTH_ROWS 1024

typedef struct group_row {
    const char *key;
    size_t keylen;
    int64_t n, with_dur, total, max, self;
    double mean, stddev, p99;
    bool has_total, has_stddev, has_p99;
} group_row;

typedef struct top_row {
    const char *thread, *name, *target;
    int64_t id, begin, dur;
} top_row;

typedef struct overall {
    int64_t spans, with_dur, async, targets, names, files, threads;
    int64_t sum, min, max;
    double mean, stddev;
    bool has_sum, has_stddev;
} overall;

typedef struct actx {
    sql_session *s;
    const analyze_opts *o;
    sql_query_opts qo;
    char pid[UUID_STR_LEN];
    const char *kind;
    errmsg *e;
    arena mem;
    /* results */
    bool found;
    const char *exe, *computer, *username;
    int64_t start_ns;
    overall ov;
    group_row *groups[2];
    int ngroups[2];
    top_row *top;
    int ntop;
    int64_t depth[MAX_DEPTH_ROWS][2];
    int ndepth;
    int64_t a_unmatched_begins, a_unmatched_ends, a_begins, a_ends;
    int64_t cpu_events;
    bool has_cpu_events;
    an_tree *tree;
    an_tree_result tr;
} actx;

typedef int (*batch_fn)(actx *a, sql_query *q, const sql_batch *b);

void analyze_opts_init(analyze_opts *o)
{
    memset(o, 0, sizeof *o);
    o->begin_ns = INT64_MIN;
    o->end_ns = INT64_MAX;
    o->kinds = ANALYZE_BOTH;
    o->top_n = 20;
    o->max_spans = ANALYZE_MAX_SPANS_DEFAULT;
}

int analyze_kinds_parse(const char *s, unsigned *out)
{
    *out = !strcmp(s, "thread") ? ANALYZE_THREAD
           : !strcmp(s, "async") ? ANALYZE_ASYNC
           : !strcmp(s, "both")  ? ANALYZE_BOTH
                                 : 0;
    return *out ? SL_OK : SL_EINVAL;
}

/* ------------------------------------------------------------ running SQL */

/* Runs one statement (printf-style text) and hands every result batch to fn. */
static int run(actx *a, batch_fn fn, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int run(actx *a, batch_fn fn, const char *fmt, ...)
{
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    sql_err se;
    sql_err_clear(&se);
    sql_query *q = NULL;
    int rc = sql_query_open(a->s, text, &a->qo, &q, &se);
    while (!rc) {
        const sql_batch *b;
        if ((rc = sql_query_next(q, &b, &se)) || !b)
            break;
        rc = fn(a, q, b);
    }
    if (q)
        sql_query_close(q);
    if (!rc)
        return SL_OK;
    if (se.msg[0])
        return errmsg_set(a->e, rc == SL_ECANCELED || rc == SL_ENOMEM ? rc : SL_EINTERNAL,
                          "%s", se.msg);
    if (rc == SL_ETOOBIG)
        return errmsg_set(a->e, rc, "the process has more than %lld spans (the report's cap)",
                          (long long)a->o->max_spans);
    return errmsg_set(a->e, rc, "%s", sl_strerror(rc));
}

static bool cell_i64(sql_query *q, const sql_batch *b, int c, int64_t r, int64_t *out)
{
    sql_type t = sql_query_coltype(q, c);
    sql_datum d = sql_datum_get(t, &b->cols[c], r);
    if (d.null)
        return false;
    if (t.id == ST_NUMERIC)
        return dec_to_i64(d.d, out) == 0;
    *out = t.id == ST_FLOAT8 || t.id == ST_FLOAT4 ? (int64_t)llround(d.f) : d.i;
    return true;
}

static bool cell_f64(sql_query *q, const sql_batch *b, int c, int64_t r, double *out)
{
    sql_type t = sql_query_coltype(q, c);
    sql_datum d = sql_datum_get(t, &b->cols[c], r);
    if (d.null)
        return false;
    *out = t.id == ST_NUMERIC                      ? dec_to_double(d.d)
           : t.id == ST_FLOAT8 || t.id == ST_FLOAT4 ? d.f
                                                   : (double)d.i;
    return true;
}

static int64_t i64_at(sql_query *q, const sql_batch *b, int c, int64_t r)
{
    int64_t v = 0;
    cell_i64(q, b, c, r, &v);
    return v;
}

/* Text of a cell, copied into the report's arena (NULL for SQL NULL or no memory). */
static const char *str_at(actx *a, sql_query *q, const sql_batch *b, int c, int64_t r,
                          size_t *len)
{
    sql_datum d = sql_datum_get(sql_query_coltype(q, c), &b->cols[c], r);
    *len = 0;
    if (d.null)
        return NULL;
    *len = d.s.n;
    return arena_strndup(&a->mem, (const char *)d.s.p, d.s.n);
}

/* ------------------------------------------------------------ the statements */

static int on_process(actx *a, sql_query *q, const sql_batch *b)
{
    size_t n;
    for (int64_t r = 0; r < b->n; r++) {
        a->found = true;
        a->exe = str_at(a, q, b, 0, r, &n);
        a->computer = str_at(a, q, b, 1, r, &n);
        a->username = str_at(a, q, b, 2, r, &n);
        a->start_ns = i64_at(q, b, 3, r);
    }
    return SL_OK;
}

static int on_overall(actx *a, sql_query *q, const sql_batch *b)
{
    overall *v = &a->ov;
    for (int64_t r = 0; r < b->n; r++) {
        int64_t *ints[] = {&v->spans, &v->with_dur, &v->async, &v->targets, &v->names,
                           &v->files, &v->threads};
        for (int c = 0; c < 7; c++)
            *ints[c] = i64_at(q, b, c, r);
        v->has_sum = cell_i64(q, b, 7, r, &v->sum);
        cell_f64(q, b, 8, r, &v->mean);
        cell_i64(q, b, 9, r, &v->min);
        cell_i64(q, b, 10, r, &v->max);
        v->has_stddev = cell_f64(q, b, 11, r, &v->stddev);
    }
    return SL_OK;
}

static int on_group(actx *a, sql_query *q, const sql_batch *b, int which)
{
    for (int64_t r = 0; r < b->n; r++) {
        int i = a->ngroups[which];
        if (i >= ANALYZE_MAX_GROUPS)
            return SL_OK;
        group_row *g = &a->groups[which][i];
        memset(g, 0, sizeof *g);
        g->key = str_at(a, q, b, 0, r, &g->keylen);
        g->n = i64_at(q, b, 1, r);
        g->with_dur = i64_at(q, b, 2, r);
        g->has_total = cell_i64(q, b, 3, r, &g->total);
        cell_f64(q, b, 4, r, &g->mean);
        cell_i64(q, b, 5, r, &g->max);
        g->has_stddev = cell_f64(q, b, 6, r, &g->stddev);
        g->has_p99 = cell_f64(q, b, 7, r, &g->p99);
        a->ngroups[which]++;
    }
    return SL_OK;
}

static int on_names(actx *a, sql_query *q, const sql_batch *b)
{
    return on_group(a, q, b, 0);
}

static int on_targets(actx *a, sql_query *q, const sql_batch *b)
{
    return on_group(a, q, b, 1);
}

static int on_top(actx *a, sql_query *q, const sql_batch *b)
{
    size_t n;
    for (int64_t r = 0; r < b->n && a->ntop < a->o->top_n; r++) {
        top_row *t = &a->top[a->ntop++];
        t->thread = str_at(a, q, b, 0, r, &n);
        t->id = i64_at(q, b, 1, r);
        t->name = str_at(a, q, b, 2, r, &n);
        t->target = str_at(a, q, b, 3, r, &n);
        t->begin = i64_at(q, b, 4, r);
        t->dur = i64_at(q, b, 5, r);
    }
    return SL_OK;
}

static int on_depth(actx *a, sql_query *q, const sql_batch *b)
{
    for (int64_t r = 0; r < b->n && a->ndepth < MAX_DEPTH_ROWS; r++) {
        a->depth[a->ndepth][0] = i64_at(q, b, 0, r);
        a->depth[a->ndepth][1] = i64_at(q, b, 1, r);
        a->ndepth++;
    }
    return SL_OK;
}

static int on_async(actx *a, sql_query *q, const sql_batch *b)
{
    for (int64_t r = 0; r < b->n; r++) {
        a->a_unmatched_begins = i64_at(q, b, 0, r);
        a->a_unmatched_ends = i64_at(q, b, 1, r);
        a->a_begins = i64_at(q, b, 2, r);
        a->a_ends = i64_at(q, b, 3, r);
    }
    return SL_OK;
}

static int on_events(actx *a, sql_query *q, const sql_batch *b)
{
    for (int64_t r = 0; r < b->n; r++)
        a->has_cpu_events = cell_i64(q, b, 0, r, &a->cpu_events);
    return SL_OK;
}

static int on_links(actx *a, sql_query *q, const sql_batch *b)
{
    (void)q;
    return an_tree_add(a->tree, b->cols, b->n);
}

#define PS "process_spans('%s', '%s')"

static int run_all(actx *a)
{
    int64_t t0 = clock_mono_ns();
    /* the process is looked up whenever it started: the range is for its spans */
    sql_query_opts ranged = a->qo;
    a->qo.begin_ns = INT64_MIN;
    a->qo.end_ns = INT64_MAX;
    int rc = run(a, on_process,
                 "SELECT exe, computer, username, start_time FROM processes "
                 "WHERE process_id = '%s'", a->pid);
    a->qo = ranged;
    if (!rc && !a->found)
        return errmsg_set(a->e, SL_ENOTFOUND, "no process %s", a->pid);
    if (!rc)
        rc = run(a, on_overall,
                 "SELECT count(*), count(\"end\"), count(*) FILTER (WHERE thread_id IS NULL), "
                 "count(DISTINCT target), count(DISTINCT name), count(DISTINCT filename), "
                 "count(DISTINCT thread_id), sum(duration), avg(duration), min(duration), "
                 "max(duration), stddev_samp(duration) FROM " PS, a->pid, a->kind);
    static const char *group_cols[2] = {"name", "target"};
    batch_fn group_fns[2] = {on_names, on_targets};
    for (int w = 0; w < 2 && !rc; w++)
        rc = run(a, group_fns[w],
                 "SELECT %s, count(*), count(duration), sum(duration), avg(duration), "
                 "max(duration), stddev_samp(duration), approx_percentile(duration, 0.99) "
                 "FROM " PS " GROUP BY 1 ORDER BY 4 DESC NULLS LAST, 1 LIMIT %d",
                 group_cols[w], a->pid, a->kind, ANALYZE_MAX_GROUPS);
    if (!rc)
        rc = run(a, on_top,
                 "SELECT thread_name, id, name, target, \"begin\", duration FROM " PS
                 " WHERE duration IS NOT NULL ORDER BY duration DESC, \"begin\", id LIMIT %d",
                 a->pid, a->kind, a->o->top_n);
    if (!rc)
        rc = run(a, on_depth, "SELECT depth, count(*) FROM " PS " GROUP BY 1 ORDER BY 1",
                 a->pid, a->kind);
    if (!rc && (a->o->kinds & ANALYZE_ASYNC))
        rc = run(a, on_async,
                 "SELECT count(*) FILTER (WHERE nb > 0 AND ne = 0), "
                 "count(*) FILTER (WHERE ne > 0 AND nb = 0), coalesce(sum(nb), 0), "
                 "coalesce(sum(ne), 0) FROM (SELECT span_id, "
                 "count(*) FILTER (WHERE event_type = 'begin') AS nb, "
                 "count(*) FILTER (WHERE event_type = 'end') AS ne "
                 "FROM view_instance('async_events', '%s') GROUP BY span_id) x", a->pid);
    bool whole = a->o->begin_ns == INT64_MIN && a->o->end_ns == INT64_MAX;
    if (!rc && whole && (a->o->kinds & ANALYZE_THREAD))
        rc = run(a, on_events,
                 "SELECT sum(b.nb_objects) FROM blocks b JOIN streams s "
                 "ON s.stream_id = b.stream_id WHERE b.process_id = '%s' "
                 "AND 'cpu' = ANY(s.tags)", a->pid);
    int64_t t1 = clock_mono_ns();
    /* the count just taken sizes the arrays (a few more rows may have arrived since) */
    if (!rc && a->ov.spans > a->o->max_spans)
        rc = errmsg_set(a->e, SL_ETOOBIG, "the process has %lld spans, more than the report's "
                        "cap (%lld)", (long long)a->ov.spans, (long long)a->o->max_spans);
    if (!rc && (rc = an_tree_reserve(a->tree, a->ov.spans + a->ov.spans / 64 + 1024)))
        errmsg_set(a->e, rc, "out of memory");
    if (!rc)
        rc = run(a, on_links,
                 "SELECT stream_id, thread_name, id, parent, \"begin\", \"end\", name, target "
                 "FROM " PS, a->pid, a->kind);
    int64_t t2 = clock_mono_ns();
    if (!rc && (rc = an_tree_compute(a->tree, &a->tr)))
        errmsg_set(a->e, rc, "the parent-link pass failed: %s", sl_strerror(rc));
    if (a->o->timing) {
        a->o->timing->aggregates_ns = t1 - t0;
        a->o->timing->links_ns = t2 - t1;
        a->o->timing->compute_ns = clock_mono_ns() - t2;
    }
    return rc;
}

/* ------------------------------------------------------------ JSON */

static void kv_num(jw *w, const char *k, double v)
{
    jw_key(w, k);
    if (isfinite(v))
        jw_double(w, v);
    else
        jw_null(w);
}

static void kv_opt_int(jw *w, const char *k, bool has, int64_t v)
{
    jw_key(w, k);
    if (has)
        jw_int(w, v);
    else
        jw_null(w);
}

static void kv_time(jw *w, const char *k, int64_t ns)
{
    char text[48], key[64];
    clock_format_rfc3339(ns, text, sizeof text);
    snprintf(key, sizeof key, "%s_ns", k);
    jw_kv_int(w, key, ns);
    jw_kv_str(w, k, text);
}

/* thread events known: the whole process was read and thread spans are in the report */
static bool thread_events_known(const actx *a)
{
    return a->has_cpu_events;
}

static void write_dataset(actx *a, jw *w)
{
    const overall *v = &a->ov;
    int64_t thread_spans = v->spans - v->async;
    int64_t async_events = a->a_begins + a->a_ends;
    int64_t thread_events = a->cpu_events - async_events;
    int64_t single = 2 * thread_spans - thread_events;
    bool known = thread_events_known(a) || !(a->o->kinds & ANALYZE_THREAD);
    jw_key(w, "dataset");
    jw_obj_begin(w);
    kv_opt_int(w, "events", known,
               ((a->o->kinds & ANALYZE_THREAD) ? thread_events : 0) +
                   ((a->o->kinds & ANALYZE_ASYNC) ? async_events : 0));
    kv_opt_int(w, "thread_events", thread_events_known(a), thread_events);
    jw_kv_int(w, "async_events", async_events);
    jw_kv_int(w, "spans", v->spans);
    jw_kv_int(w, "thread_spans", thread_spans);
    jw_kv_int(w, "async_spans", v->async);
    jw_kv_int(w, "spans_with_duration", v->with_dur);
    kv_opt_int(w, "complete_spans", known,
               v->spans - a->a_unmatched_begins - (thread_events_known(a) ? single : 0));
    jw_kv_int(w, "unmatched_async_begins", a->a_unmatched_begins);
    jw_kv_int(w, "unmatched_async_ends", a->a_unmatched_ends);
    kv_opt_int(w, "unmatched_thread_events", thread_events_known(a), single);
    jw_kv_int(w, "threads", v->threads);
    jw_kv_int(w, "targets", v->targets);
    jw_kv_int(w, "names", v->names);
    jw_kv_int(w, "files", v->files);
    kv_time(w, "first_begin", a->tr.first_begin_ns);
    kv_time(w, "last_end", a->tr.last_end_ns);
    jw_kv_int(w, "covered_ns", a->tr.last_end_ns - a->tr.first_begin_ns);
    jw_obj_end(w);
}

static void write_durations(actx *a, jw *w)
{
    const overall *v = &a->ov;
    const an_tree_result *t = &a->tr;
    jw_key(w, "durations");
    jw_obj_begin(w);
    jw_kv_int(w, "count", v->with_dur);
    kv_opt_int(w, "sum_ns", v->has_sum, v->sum);
    kv_num(w, "mean_ns", v->with_dur ? v->mean : NAN);
    kv_opt_int(w, "min_ns", v->with_dur > 0, v->min);
    kv_opt_int(w, "max_ns", v->with_dur > 0, v->max);
    kv_num(w, "stddev_ns", v->has_stddev ? v->stddev : NAN);
    kv_num(w, "p50_ns", v->with_dur ? t->p50_ns : NAN);
    kv_num(w, "p90_ns", v->with_dur ? t->p90_ns : NAN);
    kv_num(w, "p99_ns", v->with_dur ? t->p99_ns : NAN);
    jw_kv_str(w, "quantiles", "exact: percentile_cont's linear interpolation between the two "
                           "nearest ranks, over every duration");
    jw_key(w, "histogram");
    jw_arr_begin(w);
    int lo = 0, hi = AN_HIST_BUCKETS - 1;
    while (lo < AN_HIST_BUCKETS && !t->hist[lo])
        lo++;
    while (hi > lo && !t->hist[hi])
        hi--;
    for (int k = lo; k <= hi && lo < AN_HIST_BUCKETS; k++) {
        jw_obj_begin(w);
        jw_kv_int(w, "lo_ns", k ? (int64_t)1 << (k - 1) : 0);
        kv_opt_int(w, "hi_ns", k < 64, k ? (k < 64 ? (int64_t)1 << k : 0) : 1);
        jw_kv_int(w, "count", t->hist[k]);
        jw_obj_end(w);
    }
    jw_arr_end(w);
    jw_obj_end(w);
}

static void write_top(actx *a, jw *w)
{
    jw_key(w, "top");
    jw_arr_begin(w);
    for (int i = 0; i < a->ntop; i++) {
        const top_row *t = &a->top[i];
        jw_obj_begin(w);
        jw_kv_str(w, "thread", t->thread);
        jw_kv_int(w, "id", t->id);
        jw_kv_str(w, "name", t->name);
        jw_kv_str(w, "target", t->target);
        kv_time(w, "begin", t->begin);
        jw_kv_int(w, "duration_ns", t->dur);
        jw_obj_end(w);
    }
    jw_arr_end(w);
}

static void write_groups(actx *a, jw *w, int which)
{
    static const char *keys[2] = {"by_name", "by_target"}, *fields[2] = {"name", "target"};
    jw_key(w, keys[which]);
    jw_arr_begin(w);
    for (int i = 0; i < a->ngroups[which]; i++) {
        group_row *g = &a->groups[which][i];
        jw_obj_begin(w);
        jw_kv_str(w, fields[which], g->key);
        jw_kv_int(w, "executions", g->n);
        jw_kv_int(w, "with_duration", g->with_dur);
        kv_opt_int(w, "total_ns", g->has_total, g->total);
        kv_num(w, "mean_ns", g->with_dur ? g->mean : NAN);
        kv_opt_int(w, "max_ns", g->with_dur > 0, g->max);
        kv_num(w, "stddev_ns", g->has_stddev ? g->stddev : NAN);
        kv_num(w, "p99_ns", g->has_p99 ? g->p99 : NAN);
        jw_kv_int(w, "self_ns", g->self);
        kv_num(w, "share", a->tr.self_total_ns ? (double)g->self / (double)a->tr.self_total_ns
                                               : NAN);
        kv_num(w, "inclusive_share",
               a->tr.root_total_ns ? (double)g->total / (double)a->tr.root_total_ns : NAN);
        jw_obj_end(w);
    }
    jw_arr_end(w);
}

static void write_conc(jw *w, const char *k, const an_conc *c)
{
    jw_key(w, k);
    jw_obj_begin(w);
    jw_kv_int(w, "max", c->max);
    kv_time(w, "max_at", c->max_at_ns);
    jw_kv_int(w, "max_for_ns", c->max_for_ns);
    kv_num(w, "mean", c->mean);
    jw_obj_end(w);
}

static void write_structure(actx *a, jw *w)
{
    const an_tree_result *t = &a->tr;
    jw_key(w, "concurrency");
    jw_obj_begin(w);
    write_conc(w, "spans", &t->all);
    write_conc(w, "roots", &t->roots_conc);
    jw_obj_end(w);
    jw_key(w, "hierarchy");
    jw_obj_begin(w);
    jw_kv_int(w, "roots", t->roots);
    jw_kv_int(w, "children", t->children);
    jw_kv_int(w, "orphans", t->orphans);
    jw_kv_int(w, "cycles", t->cycles);
    jw_kv_int(w, "max_depth", t->max_depth);
    jw_key(w, "depths");
    jw_arr_begin(w);
    for (int i = 0; i < a->ndepth; i++) {
        jw_obj_begin(w);
        jw_kv_int(w, "depth", a->depth[i][0]);
        jw_kv_int(w, "spans", a->depth[i][1]);
        jw_obj_end(w);
    }
    jw_arr_end(w);
    jw_obj_end(w);
    jw_key(w, "time");
    jw_obj_begin(w);
    jw_kv_int(w, "root_total_ns", t->root_total_ns);
    jw_kv_int(w, "self_total_ns", t->self_total_ns);
    jw_kv_int(w, "overlap_ns", t->overlap_ns);
    jw_obj_end(w);
}

/* ------------------------------------------------------------ rules */

enum { R_DOM_NAME, R_DOM_TARGET, R_LONG_TAIL, R_OUTLIER, R_ERRATIC, R_UNMATCHED, R_PARALLEL,
       R_COUNT };

static const struct {
    const char *id, *text;
} RULES[R_COUNT] = {
    {"dominant_name", "a name dominates when the self time of its spans is at least 40% of "
                      "all self time"},
    {"dominant_target", "a target dominates when the self time of its spans is at least 40% "
                        "of all self time"},
    {"long_tail", "durations have a long tail when p99 is at least 10 times p50 (at least "
                  "100 spans with a duration)"},
    {"outlier", "the longest span is an outlier when it lasts at least 100 times p99 (at "
                "least 100 spans with a duration)"},
    {"erratic", "a name's durations vary widely when their standard deviation exceeds their "
                "mean, with at least 30 executions and at least 5% of the self time"},
    {"unmatched", "the data is incomplete when a begin or an end has no partner"},
    {"parallel", "work ran in parallel when on average at least 2 root spans were open at "
                 "once"},
};

static void finding(jw *w, bool held[], int rule, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void finding(jw *w, bool held[], int rule, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    held[rule] = true;
    jw_obj_begin(w);
    jw_kv_str(w, "rule", RULES[rule].id);
    jw_kv_str(w, "text", text);
    jw_obj_end(w);
}

static void dominant(actx *a, jw *w, bool held[], int which)
{
    static const char *what[2] = {"name", "target"};
    int64_t total = a->tr.self_total_ns;
    for (int i = 0; i < a->ngroups[which] && total > 0; i++) {
        const group_row *g = &a->groups[which][i];
        double share = (double)g->self / (double)total;
        if (share >= DOMINANT_SHARE)
            finding(w, held, which ? R_DOM_TARGET : R_DOM_NAME,
                    "The %s '%s' dominates: its spans take %.1f%% of the self time.", what[which],
                    g->key ? g->key : "", 100 * share);
    }
}

static void write_findings(actx *a, jw *w)
{
    bool held[R_COUNT] = {0};
    const an_tree_result *t = &a->tr;
    jw_key(w, "findings");
    jw_arr_begin(w);
    dominant(a, w, held, 0);
    dominant(a, w, held, 1);
    bool shape = a->ov.with_dur >= MIN_SPANS_FOR_SHAPE;
    if (shape && t->p50_ns > 0 && t->p99_ns >= LONG_TAIL_RATIO * t->p50_ns)
        finding(w, held, R_LONG_TAIL, "Durations have a long tail: p99 is %.1f times p50.",
                t->p99_ns / t->p50_ns);
    if (shape && a->ntop && t->p99_ns > 0 && (double)a->ov.max >= OUTLIER_RATIO * t->p99_ns)
        finding(w, held, R_OUTLIER, "The longest span ('%s', id %lld) is an outlier: %.0f "
                "times p99.", a->top[0].name ? a->top[0].name : "", (long long)a->top[0].id,
                (double)a->ov.max / t->p99_ns);
    for (int i = 0; i < a->ngroups[0] && t->self_total_ns > 0; i++) {
        const group_row *g = &a->groups[0][i];
        double share = (double)g->self / (double)t->self_total_ns;
        if (g->n >= ERRATIC_MIN_EXECUTIONS && share >= ERRATIC_MIN_SHARE && g->has_stddev &&
            g->stddev > g->mean)
            finding(w, held, R_ERRATIC, "The durations of '%s' vary widely: standard deviation "
                    "%.0f ns over a mean of %.0f ns.", g->key ? g->key : "", g->stddev, g->mean);
    }
    int64_t single = 2 * (a->ov.spans - a->ov.async) - (a->cpu_events - a->a_begins - a->a_ends);
    int64_t unmatched = a->a_unmatched_begins + a->a_unmatched_ends +
                        (thread_events_known(a) ? single : 0);
    if (unmatched > 0)
        finding(w, held, R_UNMATCHED, "The data is incomplete: %lld begin or end events have "
                "no partner (see dataset).", (long long)unmatched);
    if (t->roots_conc.mean >= PARALLEL_MEAN_ROOTS)
        finding(w, held, R_PARALLEL, "Work ran in parallel: on average %.1f root spans were "
                "open at once, at most %lld.", t->roots_conc.mean, (long long)t->roots_conc.max);
    jw_arr_end(w);
    jw_key(w, "rules");
    jw_arr_begin(w);
    for (int r = 0; r < R_COUNT; r++) {
        jw_obj_begin(w);
        jw_kv_str(w, "id", RULES[r].id);
        jw_kv_str(w, "rule", RULES[r].text);
        jw_key(w, "held");
        jw_bool(w, held[r]);
        jw_obj_end(w);
    }
    jw_arr_end(w);
}

static int write_report(actx *a, dbuf *out)
{
    jw w;
    jw_init(&w, out);
    jw_obj_begin(&w);
    jw_kv_str(&w, "report", "streamlake analyze");
    jw_kv_int(&w, "version", ANALYZE_REPORT_VERSION);
    jw_key(&w, "process");
    jw_obj_begin(&w);
    jw_kv_str(&w, "process_id", a->pid);
    jw_kv_str(&w, "exe", a->exe);
    jw_kv_str(&w, "computer", a->computer);
    jw_kv_str(&w, "username", a->username);
    kv_time(&w, "start_time", a->start_ns);
    jw_obj_end(&w);
    jw_kv_str(&w, "kinds", a->kind);
    jw_key(&w, "range");
    jw_obj_begin(&w);
    kv_opt_int(&w, "begin_ns", a->o->begin_ns != INT64_MIN, a->o->begin_ns);
    kv_opt_int(&w, "end_ns", a->o->end_ns != INT64_MAX, a->o->end_ns);
    jw_obj_end(&w);
    write_findings(a, &w);
    write_dataset(a, &w);
    write_durations(a, &w);
    write_top(a, &w);
    jw_kv_str(&w, "p99_method", "approx_percentile: a logarithmic histogram, within 1% relative "
                             "error of the exact p99 (percentile_disc's rank)");
    write_groups(a, &w, 0);
    write_groups(a, &w, 1);
    write_structure(a, &w);
    jw_key(&w, "flame");
    jw_obj_begin(&w);
    jw_kv_int(&w, "total_ns", a->tr.self_total_ns);
    jw_kv_int(&w, "stacks", a->tr.nstacks);
    jw_key(&w, "folded");
    int rc = an_tree_folded_json(a->tree, &w);
    jw_obj_end(&w);
    jw_obj_end(&w);
    return rc ? rc : w.err;
}

int analyze_run(struct sql_session *s, const analyze_opts *o, dbuf *out, errmsg *e)
{
    actx *a = sl_calloc(1, sizeof *a);
    if (!a)
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    a->s = s;
    a->o = o;
    a->e = e;
    arena_init(&a->mem, 64 << 10, (size_t)256 << 20);
    a->qo = (sql_query_opts){.begin_ns = o->begin_ns, .end_ns = o->end_ns, .cancel = o->cancel};
    a->kind = o->kinds == ANALYZE_THREAD ? "thread" : o->kinds == ANALYZE_ASYNC ? "async" : "both";
    sl_uuid id;
    int rc = SL_OK;
    if (!o->process_id || uuid_parse(o->process_id, &id))
        rc = errmsg_set(e, SL_EINVAL, "'%s' is not a process id (a uuid)",
                        o->process_id ? o->process_id : "");
    else if (o->top_n < 1 || o->top_n > ANALYZE_MAX_TOP || !o->kinds || o->kinds > 3)
        rc = errmsg_set(e, SL_EINVAL, "top must be 1 .. %d and kinds thread, async or both",
                        ANALYZE_MAX_TOP);
    else if (o->begin_ns >= o->end_ns)
        rc = errmsg_set(e, SL_EINVAL, "the range's begin must come before its end");
    if (!rc) {
        uuid_format(&id, a->pid);
        a->groups[0] = arena_alloc(&a->mem, sizeof(group_row) * ANALYZE_MAX_GROUPS);
        a->groups[1] = arena_alloc(&a->mem, sizeof(group_row) * ANALYZE_MAX_GROUPS);
        a->top = arena_alloc(&a->mem, sizeof(top_row) * (size_t)o->top_n);
        if (!a->groups[0] || !a->groups[1] || !a->top)
            rc = errmsg_set(e, SL_ENOMEM, "out of memory");
    }
    if (!rc && (rc = an_tree_new(o->max_spans ? o->max_spans : ANALYZE_MAX_SPANS_DEFAULT,
                                 &a->tree)))
        errmsg_set(e, rc, "out of memory");
    if (!rc)
        rc = run_all(a);
    for (int w = 0; w < 2 && !rc; w++)
        for (int i = 0; i < a->ngroups[w]; i++) {
            group_row *g = &a->groups[w][i];
            if (g->key)
                g->self = w ? an_tree_self_of_target(a->tree, g->key, g->keylen)
                            : an_tree_self_of_name(a->tree, g->key, g->keylen);
        }
    int64_t t3 = clock_mono_ns();
    if (!rc && (rc = write_report(a, out)))
        errmsg_set(e, rc, "the report does not fit in memory: %s", sl_strerror(rc));
    if (o->timing)
        o->timing->json_ns = clock_mono_ns() - t3;
    an_tree_free(a->tree);
    arena_destroy(&a->mem);
    sl_free(a);
    return rc;
}
