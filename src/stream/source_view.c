/*
 * source_view.c - a materialized view read as a stream: INSERT INTO sink
 * SELECT ... FROM mv (or a view over a view) receives the rows the view's
 * job emitted, in the order it emitted them (docs/streaming.md rule 7).
 *
 * A view keeps what its job emits (sink.c): with emit = 'on_window_close'
 * each closed window's rows, in non-decreasing window_end order (merge.c);
 * without an aggregation its rows in arrival order.  `streamlake run` runs a
 * file's statements one after the other, so a job reading the view starts
 * when the view's job has ended and every row is there: this reader walks
 * the view's batches in order, sharing their columns (no copy: no memory
 * beyond the view's own, which holds them anyway), and the source ends after
 * the last one.  The view is one split, read by one worker in that order;
 * the other workers own their share of the keys as usual.
 *
 * On a server the view's job runs on: a reader at the view's last batch waits
 * for the next (the view's condition variable, broadcast by the view sink),
 * returning an empty batch every WAIT_MS so that a stop or a checkpoint
 * barrier passes; the source ends when the view's job ends (finished,
 * stopped or failed).  A job reading a view starts at its first row.  The
 * registry refuses to drop or start over a view a running job reads (its
 * rows would be freed under the reader).
 *
 * Event time and watermark.  The view as a source has an event-time column,
 * chosen when the view's job is planned (job.c, stream_view_source_setup),
 * for which rule 2 with a fixed max_delay makes no row of the view late, so
 * the downstream job's result is the batch query over the view's rows:
 *
 *   windowed, on close   window_start (tumble, hop) and window_end (also
 *                        sessions), max_delay 0: windows leave in
 *                        non-decreasing window_end order, and with a fixed
 *                        size window_start follows it; after a row of
 *                        window_end e no later row ends before e.  One source
 *                        table per column, so tumble(mv, window_start, ...)
 *                        and tumble(mv, window_end, ...) both bind.
 *   append-only          the source's event-time column passed through, with
 *                        the source's max_delay: each row of the view was on
 *                        time under the source's watermark, which is at least
 *                        the one the view's earlier rows give.
 *
 * A view with emit = 'on_update' is read as the stream of its updates, with
 * no event time (no window reads it; its rows carry no time that orders
 * them): in `streamlake run` its job has ended, so a reader gets its final
 * rows (the log's live rows, which the view's table holds by then); on a
 * server a reader follows the upsert log (ulog.h): the live rows when it
 * opens, then each upsert as the view's job publishes it, ending when that
 * job ends.  A reader that falls behind by more than the log keeps takes the
 * live rows again (a key's current row at least once).  A job whose output is
 * keyed by the view's key (job.c, a filter or projection of the view: its
 * split is `keyed`) reads it with its keys and deletions: each batch holds the
 * view's columns, the key's, and the change (STREAM_ULOG_UPSERT or
 * STREAM_ULOG_DELETE, whose view columns are NULL); in `streamlake run` the
 * log's live rows with their keys.  Unkeyed readers get no deletions (a group
 * HAVING drops stays in what they made).
 *
 * A view of a join of windows (winjoin.c) is read as a windowed view: its
 * rows come window by window in window_end order, and its job publishes
 * closed_wm as it writes them.
 *
 * A view of an interval join (ijoin.c) over either side's event time: its
 * rows' times are in no order, so its reader's watermark comes only from its
 * job's closed_wm less the band's lag (stream_ijoin_out_time), never from the
 * rows: on a server at the view's end as above, and when reading the whole
 * view from the value kept with each batch (stream_view.batch_wm).
 *
 * Not readable (an error names the reason when a job reads the view): views
 * whose select list carries no such column.
 */
#include "stream/stream_int.h"
#include "stream/ulog.h"

#include "base/alloc.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define WAIT_MS 100

struct stream_view_reader {
    stream_table *t;
    stream_view *v;
    int next;                /* the view's next batch */
    stream_wm wm;
    int64_t closed;          /* the view's closed_wm less the lag, when last at its end */
    uint64_t rows_read;
    /* following a server's upsert log (emit = 'on_update') */
    bool follow;
    int64_t pos;             /* the place in the log's tail */
    sql_rows snap;           /* the live rows taken when following began, to return */
    int snap_at;             /* ... the next of them */
    /* keyed (the split's): batches of the view's columns, the key's and the change */
    bool keyed;
    int nkeys;
    sql_type *ktypes;
};

/* The view as a source table over column col with max_delay delay_ns. */
static stream_table *view_table(stream_run *r, stream_view *v, int col, int64_t delay_ns,
                                int64_t lag_ns)
{
    const ftab *f = v->f;
    int n = f->t.ncols;
    stream_table *t = arena_zalloc(&r->a, sizeof *t);
    const char **names = arena_zalloc(&r->a, sizeof *names * (size_t)n);
    sql_type *types = arena_zalloc(&r->a, sizeof *types * (size_t)n);
    if (!t || !names || !types)
        return NULL;
    for (int i = 0; i < n; i++) {
        if (!(names[i] = arena_strndup(&r->a, f->names[i], strlen(f->names[i]))))
            return NULL;
        types[i] = f->types[i];
    }
    *t = (stream_table){.run = r, .name = v->name, .ncols = n, .names = names, .types = types,
                        .path_opt = v->name, /* no file: what messages name */
                        .format = STREAM_FMT_CSV, .delim = ',', .time_col = col,
                        .delay_ns = delay_ns, .watermark_ns = STREAM_WM_NONE,
                        .connector = STREAM_CONN_VIEW, .tel_view = -1, .vw = v,
                        .vw_lag_ns = lag_ns};
    stream_table_init_source(t);
    return t;
}

int stream_view_source_setup(stream_run *r, stream_view *v, const int *cols,
                             const int64_t *delay_ns, const int64_t *lag_ns, int n,
                             const char *why)
{
    atomic_store(&v->closed_wm, STREAM_WM_NONE);
    v->as_src[0] = v->as_src[1] = NULL;
    snprintf(v->src_why, sizeof v->src_why, "%s", n ? "" : why);
    for (int i = 0; i < n && i < 2; i++)
        if (!(v->as_src[i] = view_table(r, v, cols[i], delay_ns[i], lag_ns[i])))
            return SL_ENOMEM;
    return SL_OK;
}

int stream_view_source(stream_view *v, const char *fn, const char *col, stream_table **out,
                       sql_err *e)
{
    *out = NULL;
    if (!v->as_src[0])
        return sql_err_set(e, SQLSTATE_FEATURE, -1, "materialized view \"%s\" cannot be read "
                           "by a job: %s", v->name, v->src_why);
    if (v->as_src[0]->time_col < 0) { /* updates: no event time */
        if (!col) {
            *out = v->as_src[0];
            return SL_OK;
        }
        return sql_err_set(e, "22023", -1, "%s: materialized view \"%s\" emits updates "
                           "(emit = 'on_update'), which carry no event time: a window cannot "
                           "read it", fn, v->name);
    }
    for (int i = 0; i < 2 && v->as_src[i]; i++) {
        stream_table *t = v->as_src[i];
        if (!col || !strcmp(t->names[t->time_col], col)) {
            *out = t;
            return SL_OK;
        }
    }
    const stream_table *a = v->as_src[0], *b = v->as_src[1];
    char alt[160] = "";
    if (b)
        snprintf(alt, sizeof alt, " or \"%s\"", b->names[b->time_col]);
    return sql_err_set(e, "22023", -1, "%s: the rows of materialized view \"%s\" leave in the "
                       "order of \"%s\"%s, the time a window over it takes; not \"%s\"", fn,
                       v->name, a->names[a->time_col], alt, col);
}

/* One split: the view's rows in the order they were emitted. */
int stream_view_split(stream_split **out, int *n)
{
    stream_split *s = sl_calloc(1, sizeof *s);
    if (!s)
        return SL_ENOMEM;
    s->line = 1;
    *out = s;
    *n = 1;
    return SL_OK;
}

/* A keyed reader's batch (b taken): b's rows with their keys (an upsert) or b's
 * keys (a delete: the view's columns NULL), then the change. */
static int keyed_batch(const stream_view_reader *r, sql_batch *b, int kind, sql_batch **out)
{
    int nv = r->t->ncols, nk = r->nkeys, from = kind == STREAM_ULOG_DELETE ? -nv : 0;
    sql_vec op;
    memset(&op, 0, sizeof op);
    int rc = sql_batch_new(nv + nk + 1, r->ktypes, out);
    if (!rc && !(rc = sql_vec_alloc(&op, r->ktypes[nv + nk], b->n)))
        for (int64_t i = 0; i < b->n; i++) {
            int64_t k = kind;
            memcpy(op.v.values->p + 8 * i, &k, 8);
        }
    for (int c = 0; c < nv + nk && !rc; c++) {
        col_vec *o = &(*out)->cols[c];
        col_vec_release(o);
        if (c + from >= 0) {
            sql_vec_share(&b->cols[c + from], o);
            continue;
        }
        sql_vec z;
        if (!(rc = sql_vec_const_null(&z, r->ktypes[c]))) {
            rc = sql_vec_expand(&z, b->n, o);
            sql_vec_release(&z);
        }
    }
    if (!rc) {
        col_vec_release(&(*out)->cols[nv + nk]);
        (*out)->cols[nv + nk] = op.v;
        (*out)->n = b->n;
    } else {
        sql_vec_release(&op);
        sql_batch_free(*out);
        *out = NULL;
    }
    sql_batch_free(b);
    return rc;
}

/* A stream_ulog_follow callback: b kept to be returned. */
static int keep_snap(void *arg, sql_batch *b)
{
    stream_view_reader *r = arg;
    sql_batch *k;
    if (!r->keyed)
        return sql_rows_add(&r->snap, b);
    return keyed_batch(r, b, STREAM_ULOG_UPSERT, &k) ? SL_ENOMEM : sql_rows_add(&r->snap, k);
}

/* ... the keys gone since an overrun follower's place: deletions. */
static int keep_gone(void *arg, sql_batch *b)
{
    stream_view_reader *r = arg;
    sql_batch *k;
    return keyed_batch(r, b, STREAM_ULOG_DELETE, &k) ? SL_ENOMEM : sql_rows_add(&r->snap, k);
}

/* The snapshot's next batch (taken); NULL after its last, which empties it. */
static sql_batch *snap_next(stream_view_reader *r)
{
    sql_rows *s = &r->snap;
    if (r->snap_at < s->nb) {
        sql_batch *b = s->b[r->snap_at];
        s->b[r->snap_at++] = NULL;
        return b;
    }
    sql_rows_free(s);
    sql_rows_init(s, r->keyed ? r->t->ncols + r->nkeys + 1 : r->t->ncols,
                  r->keyed ? r->ktypes : r->t->types);
    r->snap_at = 0;
    return NULL;
}

int stream_view_reader_open(stream_table *t, bool keyed, stream_view_reader **out)
{
    stream_view_reader *r = sl_calloc(1, sizeof *r);
    if (!(*out = r))
        return SL_ENOMEM;
    r->t = t;
    r->v = t->vw;
    stream_wm_init(&r->wm, t->delay_ns);
    r->closed = STREAM_WM_NONE;
    r->keyed = keyed && r->v->log;
    int rc = SL_OK;
    if (r->keyed) { /* the view's columns, its key's, the change */
        int n;
        const sql_type *lt = stream_ulog_types(r->v->log, &n);
        r->nkeys = n - t->ncols;
        if (!(r->ktypes = sl_malloc(sizeof *r->ktypes * (size_t)(n + 1))))
            rc = SL_ENOMEM;
        else {
            memcpy(r->ktypes, lt, sizeof *lt * (size_t)n);
            r->ktypes[n] = sql_type_of(ST_INT8);
        }
    }
    sql_rows_init(&r->snap, r->keyed ? t->ncols + r->nkeys + 1 : t->ncols,
                  r->keyed ? r->ktypes : t->types);
    if (!rc && r->v->log && r->v->mu) { /* a server's upsert log: follow it */
        pthread_mutex_lock(r->v->mu);
        rc = stream_ulog_follow(r->v->log, &r->pos, false, r->keyed, keep_gone, keep_snap, r);
        r->follow = true;
        pthread_mutex_unlock(r->v->mu);
    } else if (!rc && r->keyed) { /* a run's: its job has ended, the live rows */
        rc = stream_ulog_read(r->v->log, true, keep_snap, r);
    }
    return rc;
}

void stream_view_reader_close(stream_view_reader *r)
{
    if (!r)
        return;
    if (r->follow) {
        pthread_mutex_lock(r->v->mu);
        stream_ulog_unfollow(r->v->log, r->pos);
        pthread_mutex_unlock(r->v->mu);
    }
    sql_rows_free(&r->snap);
    sl_free(r->ktypes);
    sl_free(r);
}

/* The next rows of a followed upsert log (view's mutex held): the snapshot's, then
 * each upsert; NULL when there is none now. */
static int follow_next(stream_view_reader *r, sql_batch **out)
{
    if ((*out = snap_next(r)))
        return SL_OK;
    bool overrun;
    int kind;
    int rc = stream_ulog_follow_next(r->v->log, &r->pos, r->keyed, out, &kind, &overrun);
    if (!rc && *out && r->keyed)
        rc = keyed_batch(r, *out, kind, out);
    if (!rc && overrun) { /* fell behind: the current rows again */
        rc = stream_ulog_follow(r->v->log, &r->pos, true, r->keyed, keep_gone, keep_snap, r);
        *out = rc ? NULL : snap_next(r);
    }
    return rc;
}

/* A server's view whose job runs: wait for rows (mutex held), at most WAIT_MS so
 * that the job's stop flag and checkpoint barriers are seen (an empty batch). */
static void wait_grown(stream_view *v)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += WAIT_MS * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(v->grown, v->mu, &ts);
}

int stream_view_next(stream_view_reader *r, sql_batch **out, int64_t *wm, sql_err *e)
{
    *out = NULL;
    stream_table *t = r->t;
    const ftab *f = r->v->f;
    sql_batch *b = NULL;
    int rc = SL_OK;
    bool quiet = false;
    if (r->v->mu)
        pthread_mutex_lock(r->v->mu);
    if (r->follow) {
        rc = follow_next(r, &b);
        if (!rc && !b && r->v->growing) {
            wait_grown(r->v);
            rc = follow_next(r, &b);
            quiet = !rc && !b && r->v->growing;
        }
    } else if (r->keyed) { /* a run's view read with its keys: the live rows */
        b = snap_next(r);
    } else if (r->next >= f->nrows_batches && r->v->growing) {
        wait_grown(r->v);
        quiet = r->next >= f->nrows_batches && r->v->growing;
    }
    if (!r->follow && !r->keyed && r->next >= f->nrows_batches && r->v->mu &&
        t->vw_lag_ns >= 0) {
        /* at the view's end: every window ending by closed_wm is in the rows read, so
         * a later row ends after it (starts after it minus the size) */
        int64_t cw = atomic_load(&r->v->closed_wm);
        if (cw != STREAM_WM_NONE && cw - t->vw_lag_ns > r->closed)
            r->closed = cw - t->vw_lag_ns;
    }
    if (!r->follow && !r->keyed && r->next < f->nrows_batches) {
        /* an interval join's view: the rows of this batch and every later one are at
         * least closed_wm as it was when the batch was appended, less the lag */
        int k = r->next;
        if (r->v->record_wm && k < r->v->nbatch_wm && r->v->batch_wm[k] != STREAM_WM_NONE &&
            r->v->batch_wm[k] - t->vw_lag_ns > r->closed)
            r->closed = r->v->batch_wm[k] - t->vw_lag_ns;
        const sql_batch *src = f->rows[r->next++];
        rc = sql_batch_new(t->ncols, t->types, &b);
        for (int c = 0; !rc && c < t->ncols; c++) {
            col_vec_release(&b->cols[c]);
            sql_vec_share(&src->cols[c], &b->cols[c]);
        }
        if (!rc)
            b->n = src->n;
    }
    if (r->v->mu)
        pthread_mutex_unlock(r->v->mu);
    if (quiet)
        rc = r->keyed ? sql_batch_new(t->ncols + r->nkeys + 1, r->ktypes, &b)
                      : sql_batch_new(t->ncols, t->types, &b);
    if (rc) {
        sql_batch_free(b);
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    }
    if (b && b->n && t->time_col >= 0 && !r->v->record_wm) {
        /* never late (above): the rows only move the watermark */
        const col_vec *ts = &b->cols[t->time_col];
        for (int64_t i = 0; i < b->n; i++)
            if (col_vec_is_valid(ts, i))
                stream_wm_observe(&r->wm, col_vec_i64(ts, i));
    }
    if (b)
        r->rows_read += (uint64_t)b->n;
    *wm = stream_wm_value(&r->wm);
    if (r->closed != STREAM_WM_NONE && (*wm == STREAM_WM_NONE || r->closed > *wm))
        *wm = r->closed;
    *out = b;
    return SL_OK;
}

void stream_view_counts(const stream_view_reader *r, uint64_t *read, bool *seen,
                        int64_t *max_ns)
{
    *read = r->rows_read;
    *seen = r->wm.seen;
    *max_ns = r->wm.max_ns;
}
