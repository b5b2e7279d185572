/*
 * api_lake.c - views, materializing and figures over HTTP (see api_lake.h).
 */
#include "server/api_lake.h"

#include "sql/sql.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"
#include "lake/rows.h"
#include "objstore/objstore.h"
#include "server/api.h"
#include "server/api_trace.h"

#include <stdio.h>
#include <string.h>

/*
 * A view response: rows are scanned in batches of VIEW_BATCH_ROWS and turned
 * into text VIEW_TEXT_BYTES at a time, so what a stalled client can hold is
 * the scan's bound plus one piece of text, whatever the view's size.
 */
#define VIEW_BATCH_ROWS 8192
#define VIEW_TEXT_BYTES (64u << 10)
/* The text buffer's share of the grant: a piece, one row past it, and doubling. */
#define VIEW_TEXT_GRANT (1u << 20)

struct api_view {
    lake_scan *sc;
    budget *bud;
    budget_grant grant;
    rows_format fmt;
    dbuf buf;        /* formatted bytes not yet handed out */
    size_t off;
    col_batch *b;    /* the batch being formatted, rows [row, nrows) left */
    int64_t row;
    int done;
    char name[64];
};

int api_view_open(lake *l, budget *bud, const char *view, const char *instance,
                  const char *begin, const char *end, const char *format, api_view **out,
                  int *status, errmsg *e)
{
    const lake_view_def *vd = lake_view_find(view);
    if (!vd) {
        *status = 404;
        return errmsg_set(e, SL_ENOTFOUND, "unknown view %s (thread_spans, async_events, "
                          "log_entries, measures, processes, streams, blocks)", view);
    }
    rows_format f = ROWS_CSV;
    lake_scan_opts o;
    lake_scan_opts_init(&o); /* the whole time range unless begin or end is given */
    o.batch_rows = VIEW_BATCH_ROWS;
    int rc = SL_OK, has;
    if (format && *format && rows_format_parse(format, &f))
        rc = errmsg_set(e, SL_EINVAL, "format=%s: use csv, json or table", format);
    if (!rc)
        rc = api_parse_time(begin, &has, &o.begin_ns, "begin", e);
    if (!rc)
        rc = api_parse_time(end, &has, &o.end_ns, "end", e);
    api_view *v = NULL;
    if (!rc && !(v = sl_calloc(1, sizeof *v)))
        rc = errmsg_set(e, SL_ENOMEM, "out of memory");
    if (!rc)
        rc = lake_scan_open(l, vd->id, instance, &o, NULL, &v->sc, e);
    if (!rc && bud && !(rc = budget_take(bud, lake_scan_memory_bound(v->sc) + VIEW_TEXT_GRANT,
                                         0, 0, &v->grant, e)))
        v->bud = bud;
    if (rc) {
        *status = api_http_status(rc);
        api_view_close(v);
        return rc;
    }
    v->fmt = f;
    snprintf(v->name, sizeof v->name, "%s", vd->name);
    dbuf_init(&v->buf, (size_t)64 << 20);
    if ((rc = rows_header(lake_view_schema(vd->id), f, &v->buf))) {
        api_view_close(v);
        *status = 500;
        return errmsg_set(e, rc, "out of memory");
    }
    *out = v;
    return SL_OK;
}

const char *api_view_content_type(const api_view *v)
{
    return rows_content_type(v->fmt);
}

/* The next piece of text into v->buf (empty only at the end); 0 or -1. */
static int fill_text(api_view *v)
{
    dbuf_reset(&v->buf);
    v->off = 0;
    while (!v->buf.len && !v->done) {
        if (!v->b || v->row == v->b->nrows) {
            col_batch_release(v->b);
            v->b = NULL;
            v->row = 0;
            errmsg e;
            errmsg_clear(&e);
            if (lake_scan_next(v->sc, &v->b, &e)) {
                log_warn("api", "view %s: %s", v->name, errmsg_str(&e));
                return -1;
            }
            if (!v->b) {
                v->done = 1;
                break;
            }
        }
        int rc = rows_batch_some(v->b, v->fmt, &v->row, VIEW_TEXT_BYTES, &v->buf);
        if (rc) {
            log_warn("api", "view %s: cannot format rows (%s)", v->name, sl_strerror(rc));
            return -1;
        }
    }
    return 0;
}

ssize_t api_view_read(api_view *v, char *buf, size_t max)
{
    if (v->off == v->buf.len && (fill_text(v) || v->off == v->buf.len))
        return v->done && v->off == v->buf.len ? 0 : -1;
    return (ssize_t)api_copy_pending(&v->buf, &v->off, buf, max);
}

void api_view_close(api_view *v)
{
    if (!v)
        return;
    col_batch_release(v->b);
    lake_scan_close(v->sc);
    dbuf_free(&v->buf);
    if (v->bud)
        budget_give(v->bud, &v->grant);
    sl_free(v);
}

/* Appends a process id to the dbuf arg, which holds an array of sl_uuid. */
static int take_id(void *arg, const meta_process_summary *row)
{
    return dbuf_append(arg, &row->p.process_id, sizeof row->p.process_id);
}

/* At most this many failures are listed (all are counted). */
#define MAT_FAILURES_LISTED 1000

typedef struct mat_failures {
    jw w;            /* into buf: the members of the "failures" array */
    dbuf buf;
    uint64_t n;
} mat_failures;

static void note_failure(void *arg, const sl_uuid *process_id, const char *view,
                         const char *instance, int code, const char *message)
{
    mat_failures *f = arg;
    if (f->n++ >= MAT_FAILURES_LISTED)
        return;
    char pid[UUID_STR_LEN];
    uuid_format(process_id, pid);
    jw_obj_begin(&f->w);
    jw_key(&f->w, "process_id");
    jw_str(&f->w, pid);
    jw_key(&f->w, "view");
    jw_str(&f->w, view);
    jw_key(&f->w, "instance");
    jw_str(&f->w, instance);
    jw_key(&f->w, "error");
    jw_str(&f->w, sl_strerror(code));
    jw_key(&f->w, "message");
    jw_str(&f->w, message);
    jw_obj_end(&f->w);
    log_warn("lake", "materialize %s %s of %s: %s", view, instance, pid, message);
}

int api_materialize_json(lake *l, meta *m, budget *bud, const char *process_id, unsigned jobs,
                         dbuf *out, int *status, errmsg *e)
{
    dbuf ids;
    dbuf_init(&ids, (size_t)1 << 30);
    mat_failures f = {.n = 0};
    dbuf_init(&f.buf, 1u << 20);
    jw_init(&f.w, &f.buf);
    jw_arr_begin(&f.w);
    budget_grant g = {0};
    int rc = SL_OK;
    if (process_id && *process_id) {
        sl_uuid id;
        if (uuid_parse(process_id, &id))
            rc = errmsg_set(e, SL_EINVAL, "process_id=%s is not a uuid", process_id);
        else
            rc = dbuf_append(&ids, &id, sizeof id);
    } else {
        rc = meta_processes_list(m, take_id, &ids, e);
    }
    /* Build workers are threads of the server's budget; their memory is the builds'. */
    if (!rc && bud && (rc = budget_take(bud, 0, 1, jobs ? jobs : 1, &g, e)) == SL_OK)
        jobs = g.threads;
    lake_mat_stats st = {0};
    int64_t t0 = clock_mono_ns();
    size_t n = ids.len / sizeof(sl_uuid);
    for (size_t i = 0; !rc && i < n; i++) {
        const sl_uuid *id = (const sl_uuid *)(const void *)ids.p + i;
        errmsg pe;
        errmsg_clear(&pe);
        int prc = lake_materialize_process(l, id, jobs, &st, note_failure, &f, &pe);
        /* A process that cannot even be resolved is one failure, not everyone's. */
        if (prc == SL_ENOTFOUND && n == 1)
            rc = errmsg_set(e, prc, "%s", errmsg_str(&pe));
        else if (prc)
            note_failure(&f, id, "*", "*", prc, errmsg_str(&pe)), st.failed++;
    }
    if (bud)
        budget_give(bud, &g);
    dbuf_free(&ids);
    if (rc) {
        *status = api_http_status(rc);
        dbuf_free(&f.buf);
        return rc;
    }
    jw_arr_end(&f.w);
    jw w;
    jw_init(&w, out);
    jw_obj_begin(&w);
    jw_key(&w, "processes");
    jw_uint(&w, n);
    jw_key(&w, "partitions");
    jw_uint(&w, st.partitions);
    jw_key(&w, "built");
    jw_uint(&w, st.built);
    jw_key(&w, "reused");
    jw_uint(&w, st.reused);
    jw_key(&w, "source_events");
    jw_uint(&w, st.source_events);
    jw_key(&w, "failed");
    jw_uint(&w, st.failed);
    jw_key(&w, "failures");
    if (f.w.err)
        jw_raw(&w, "[]");
    else
        jw_rawn(&w, (const char *)f.buf.p, f.buf.len);
    jw_key(&w, "seconds");
    jw_double(&w, (double)(clock_mono_ns() - t0) / 1e9);
    jw_obj_end(&w);
    dbuf_free(&f.buf);
    return w.err;
}

int api_stats_json(lake *l, api_trace_stats *traces, budget *bud, struct sql_engine *sql,
                   struct objstore *os, dbuf *out, errmsg *e)
{
    (void)e;
    jw w;
    jw_init(&w, out);
    jw_obj_begin(&w);
    if (bud) {
        jw_key(&w, "budget");
        jw_obj_begin(&w);
        budget_stats_json(bud, &w);
        jw_obj_end(&w);
    }
    jw_key(&w, "lake");
    jw_obj_begin(&w);
    lake_stats_json(l, &w);
    jw_obj_end(&w);
    if (traces) {
        pthread_mutex_lock(&traces->mu);
        jw_key(&w, "traces");
        jw_obj_begin(&w);
        jw_key(&w, "count");
        jw_uint(&w, traces->count);
        jw_key(&w, "running");
        jw_uint(&w, traces->running);
        jw_key(&w, "cancelled");
        jw_uint(&w, traces->cancelled);
        jw_key(&w, "total_ms");
        jw_double(&w, (double)traces->total_ns / 1e6);
        jw_key(&w, "jit_ms");
        jw_double(&w, (double)traces->jit_ns / 1e6);
        jw_obj_end(&w);
        /* The last trace's summary, as the generator wrote it (valid JSON or empty). */
        if (traces->last[0]) {
            jw_key(&w, "last_trace");
            jw_raw(&w, traces->last);
        }
        pthread_mutex_unlock(&traces->mu);
    }
    if (os) {
        jw_key(&w, "objstore");
        jw_obj_begin(&w);
        objstore_stats_json(os, &w);
        jw_obj_end(&w);
    }
    if (sql) {
        jw_key(&w, "sql");
        jw_obj_begin(&w);
        sql_engine_stats_json(sql, &w);
        jw_obj_end(&w);
    }
    alloc_stats as;
    alloc_stats_get(&as);
    jw_key(&w, "memory");
    jw_obj_begin(&w);
    jw_key(&w, "live_bytes");
    jw_int(&w, as.live_bytes);
    jw_key(&w, "live_blocks");
    jw_int(&w, as.live_blocks);
    jw_key(&w, "peak_bytes");
    jw_int(&w, as.peak_bytes);
    jw_obj_end(&w);
    jw_obj_end(&w);
    return w.err;
}
