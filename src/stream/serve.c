/*
 * serve.c - rows a driver chooses, served to the batch engine's scans: the
 * drivers that run a job's SELECT over rows of their choosing (winjoin.c: one
 * window's rows; ijoin.c: a new batch against the other side's kept rows) plan
 * the statement again and run it here, while this thread's serving names,
 * for each source, the rows its scans read.  A window table's scan adds
 * window_start and window_end, the same on every row.
 *
 * The serving is per thread (a driver's threads run windows or partitions
 * side by side, each with a session of its own), and a scan's column types
 * live with the scan: nothing is shared between two queries served at once.
 */
#include "stream/stream_int.h"

#include "base/alloc.h"

#include <string.h>

/* ---- the scans of served rows -------------------------------------------- */

typedef struct sv_scan {
    sql_scan s;
    const sql_rows *rows;
    int next;
    int ncols;
    const int *cols;
    int src_ncols;           /* past them: window_start, window_end (a window table) */
    int64_t win[2];          /* the served window's start and end */
    sql_type types[];        /* ncols */
} sv_scan;

static int sv_next(sql_scan *s, sql_batch **out, sql_err *e)
{
    sv_scan *w = (sv_scan *)s;
    *out = NULL;
    if (w->next >= w->rows->nb)
        return SL_OK;
    const sql_batch *in = w->rows->b[w->next++];
    if (sql_batch_new(w->ncols, w->types, out))
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    int rc = SL_OK;
    for (int c = 0; c < w->ncols && !rc; c++) {
        int k = w->cols[c] - w->src_ncols;
        if (k < 0) {
            col_vec_release(&(*out)->cols[c]);
            sql_vec_share(&in->cols[w->cols[c]], &(*out)->cols[c]);
            continue;
        }
        col_vec *v = &(*out)->cols[c]; /* the window's bounds, on every row */
        rc = col_vec_reserve(v, in->n, 0);
        for (int64_t r = 0; r < in->n && !rc; r++)
            rc = col_vec_append_i64(v, w->win[k]);
    }
    (*out)->n = in->n;
    if (rc) {
        sql_batch_free(*out);
        *out = NULL;
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    }
    return SL_OK;
}

static void sv_close(sql_scan *s)
{
    sl_free(s);
}

static const sql_scan_ops g_sv_scan = {sv_next, sv_close};

/* The rows the calling thread serves (stream_serve_query), NULL when none: per
 * thread, since a driver's threads run windows (or batches) side by side. */
static _Thread_local const stream_serving *t_serving;

bool stream_serving_active(void)
{
    return t_serving != NULL;
}

int stream_serving_open(stream_table *src, const sql_type *types, const sql_scan_req *req,
                        sql_scan **out, sql_err *e)
{
    const stream_serving *sv = t_serving;
    int i = 0;
    while (sv && i < sv->nsrc && sv->src[i] != src)
        i++;
    if (!sv || i == sv->nsrc || !sv->cur[i])
        return sql_err_set(e, SQLSTATE_INTERNAL, -1, "\"%s\" is not served", src->name);
    /* the scan's column types live with it: nothing is taken from a shared arena */
    sv_scan *s = sl_calloc(1, sizeof *s + sizeof(sql_type) * (size_t)req->ncols);
    if (!s)
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    s->s.ops = &g_sv_scan;
    s->rows = sv->cur[i];
    s->ncols = req->ncols;
    s->cols = req->cols;
    s->src_ncols = src->ncols;
    s->win[0] = sv->win_start;
    s->win[1] = sv->win_end;
    for (int c = 0; c < req->ncols; c++)
        s->types[c] = types[req->cols[c]];
    *out = &s->s;
    return SL_OK;
}

int stream_serve_query(sql_session *s, const char *text, const sql_type *types, stream_sink *sink,
                       const stream_serving *sv, sql_rows *out, sql_err *e)
{
    sql_query *q = NULL;
    t_serving = sv;
    int rc = sql_query_open_plan(s, text, &q, e);
    if (!rc && !(rc = sql_op_open(q->root))) {
        for (;;) {
            sql_batch *b;
            if ((rc = sql_op_next(q->root, &b)) || !b)
                break;
            b->types = types;
            if (out ? (sql_rows_add(out, b) ? (rc = sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory")) : 0)
                    : (rc = stream_sink_write(sink, b, e)))
                break;
        }
    }
    if (rc && !e->state[0] && q && q->e->state[0])
        *e = *q->e;
    if (q)
        sql_query_close(q);
    t_serving = NULL;
    return rc;
}

