/*
 * api_lake.c - views, materializing and figures over HTTP (see api_lake.h).
 */
#include "server/api_lake.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"
#include "lake/rows.h"
#include "server/api.h"
#include "server/api_trace.h"

#include <stdio.h>
#include <string.h>

struct api_view {
    lake_scan *sc;
    rows_format fmt;
    dbuf buf;        /* formatted bytes not yet handed out */
    size_t off;
    int done;
    char name[64];
};

int api_view_open(lake *l, const char *view, const char *instance, const char *begin,
                  const char *end, const char *format, api_view **out, int *status, errmsg *e)
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
    if (rc) {
        *status = api_http_status(rc);
        sl_free(v);
        return rc;
    }
    v->fmt = f;
    snprintf(v->name, sizeof v->name, "%s", vd->name);
    dbuf_init(&v->buf, (size_t)1 << 30);
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

ssize_t api_view_read(api_view *v, char *buf, size_t max)
{
    while (v->off == v->buf.len) {
        if (v->done)
            return 0;
        dbuf_reset(&v->buf);
        v->off = 0;
        col_batch *b;
        errmsg e;
        errmsg_clear(&e);
        if (lake_scan_next(v->sc, &b, &e)) {
            log_warn("api", "view %s: %s", v->name, errmsg_str(&e));
            return -1;
        }
        if (!b) {
            v->done = 1;
            return 0;
        }
        int rc = rows_batch(b, v->fmt, &v->buf);
        col_batch_release(b);
        if (rc) {
            log_warn("api", "view %s: cannot format rows (%s)", v->name, sl_strerror(rc));
            return -1;
        }
    }
    size_t n = v->buf.len - v->off;
    if (n > max)
        n = max;
    memcpy(buf, v->buf.p + v->off, n);
    v->off += n;
    return (ssize_t)n;
}

void api_view_close(api_view *v)
{
    if (!v)
        return;
    lake_scan_close(v->sc);
    dbuf_free(&v->buf);
    sl_free(v);
}

/* Appends a process id to the dbuf arg, which holds an array of sl_uuid. */
static int take_id(void *arg, const meta_process_summary *row)
{
    return dbuf_append(arg, &row->p.process_id, sizeof row->p.process_id);
}

int api_materialize_json(lake *l, meta *m, const char *process_id, dbuf *out, int *status,
                         errmsg *e)
{
    dbuf ids;
    dbuf_init(&ids, (size_t)1 << 30);
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
    lake_mat_stats st = {0};
    int64_t t0 = clock_mono_ns();
    size_t n = ids.len / sizeof(sl_uuid);
    for (size_t i = 0; !rc && i < n; i++)
        rc = lake_materialize_process(l, (const sl_uuid *)(const void *)ids.p + i, &st, e);
    dbuf_free(&ids);
    if (rc) {
        *status = api_http_status(rc);
        return rc;
    }
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
    jw_key(&w, "seconds");
    jw_double(&w, (double)(clock_mono_ns() - t0) / 1e9);
    jw_obj_end(&w);
    return w.err;
}

int api_stats_json(lake *l, api_trace_stats *traces, dbuf *out, errmsg *e)
{
    (void)e;
    jw w;
    jw_init(&w, out);
    jw_obj_begin(&w);
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
