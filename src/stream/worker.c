/*
 * worker.c - a job on partitioned workers (ARCHITECTURE.md 4 and 5): each
 * worker reads its own splits of the file, runs the stateless part of the
 * plan, and hands rows to the worker owning their key through per-pair
 * single-producer rings; the calling thread merges what the owners emit
 * into the sink (merge.c).  exec.c sets the job up and starts the workers;
 * this file is what a worker does.  docs/internals/stream.md has the picture.
 *
 *   1. The event time before a split (several splits only), so that
 *      watermarks and lateness are those of one reader in line order (rule
 *      1; splits.c keeps that state).  A file's split is read ahead
 *      (read_ahead): parsed whole, late rows kept, its largest event time published; once every split before
 *      it is published, the prefix maximum starts its watermark and the kept
 *      batches are filtered for lateness as one reader would have (the file
 *      is parsed once).  With late = 'error' (or resuming a checkpoint older
 *      than version 5) a first pass instead: every worker scans its splits for their largest
 *      event time and line count (stream_reader_scan_max); after a barrier
 *      each split starts with the prefix maximum and its first line number.
 *   2. Reading: splits are dealt round-robin (split c to worker c mod N).  A
 *      batch of on-time rows goes through the scan's work (window
 *      assignment, the pushed filter) and the pre chain as worker w, then
 *      (with an aggregation) is cut by the hash of its partition keys into
 *      one batch per owner and pushed to ring x[w][o] with the reader's
 *      watermark; after every batch each owner gets the watermark.  The
 *      worker's own share goes straight to its owning half.  A producer
 *      finding a ring full drains its own inputs while it waits, so two
 *      workers filling each other's rings cannot deadlock.
 *   3. Owning: an owner adds rows to its open windows (one sql_aggtab each),
 *      and when the minimum of its producers' watermarks rises closes the
 *      windows ending at or before it: rows through the post chain (as
 *      worker o) to ring out[o] for the merger, then that watermark.  A
 *      window closed that way receives no row later: a producer's later
 *      rows are on time under a watermark at least the one it sent.
 *   4. Merging (the calling thread): results of closed windows wait until
 *      every owner's watermark reached their window_end, then leave in
 *      non-decreasing window_end order (k-way merge of the owners' ordered
 *      queues); within one window_end, owner by owner.  A job without an
 *      aggregation has no exchange: the merger takes each split's rows in
 *      split order, so they leave in line order, and the bounded rings keep
 *      a worker at most a ring ahead of the split being written.
 *
 * Checkpoints (--checkpoint-dir): the merger asks for one; each reading half
 * sends a barrier in-band to every owner after its next batch and stops; an
 * owner holds each producer's ring past its barrier until all arrived, then
 * writes its part (ckpt_job.c) and passes the barrier to the merger, which
 * holds owners' rings the same way and commits when all arrived.  Without an
 * aggregation the first barrier the merger meets in split order is the cut.
 * docs/internals/stream.md "Checkpoints" has the argument.
 *
 * Failures: the first (in line order of the split where it happened) is
 * kept; every wait wakes up and stops; readers of earlier splits go on
 * checking their rows (without passing them on) so that the error reported
 * is the one a single reader would have met first.
 *
 * State memory is counted per owner into one atomic total checked against
 * work_mem (53200 past it).
 */
#include "stream/checkpoint.h"
#include "stream/job.h"
#include "stream/live.h"
#include "stream/ulog.h"

#include "base/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef stream_job job;
typedef stream_wk wk;

static int oom(sql_err *e)
{
    return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
}

/* Records a failure of split `chunk` (INT32_MAX: not a reader's) and wakes every
 * waiter; the earliest split's failure is the one reported.  chunk must be the
 * split that failed: a reader waiting in read_ahead for the splits before its
 * own stops only for a failure in one of them (failed_before). */
void stream_job_fail(job *j, int chunk, const sql_err *e)
{
    pthread_mutex_lock(&j->mu);
    if (!stream_job_failed(j) || chunk < j->fail_chunk) {
        j->ferr = *e;
        j->fail_chunk = chunk;
    }
    atomic_store_explicit(&j->failed, 1, memory_order_release);
    pthread_cond_broadcast(&j->first_done);
    pthread_mutex_unlock(&j->mu);
    for (int i = 0; i < j->nw; i++)
        stream_bell_ring(&j->w[i].bell);
    stream_bell_ring(&j->bell);
}

/* ---- waiting ------------------------------------------------------------- */

typedef struct wait_arg {
    wk *w;
    stream_ring *room;       /* a ring the waiter produces into, or NULL */
    bool inputs;             /* also wake for a message on its input rings */
} wait_arg;

/* Checkpoints: producer p's ring waits while this owner aligns on a barrier p
 * already sent (what follows it belongs after the checkpoint). */
static bool held(const wk *w, int p)
{
    return w->ck_align && w->bar_in[p] >= w->ck_align;
}

static bool inputs_ready(wk *w)
{
    job *j = w->j;
    for (int p = 0; p < j->nw; p++)
        if (p != w->id && !held(w, p) && stream_ring_ready(&j->x[p * j->nw + w->id]))
            return true;
    return false;
}

static bool wake_ready(void *arg)
{
    wait_arg *a = arg;
    return stream_job_failed(a->w->j) || (a->room && stream_ring_room(a->room)) ||
           (a->inputs && inputs_ready(a->w));
}

static void wait_for(wk *w, stream_ring *room, bool inputs)
{
    wait_arg a = {w, room, inputs};
    stream_bell_wait(&w->bell, wake_ready, &a);
}

/* A message to the merger (blocks while its ring is full: the merger always
 * drains, so this wait ends). */
/* Results pushed quietly (result_out): the merger woken once for them all. */
static void ring_owed(wk *w)
{
    if (w->merger_owed) {
        w->merger_owed = false;
        stream_bell_ring(w->j->out[w->id].consumer);
    }
}

static int to_merger(wk *w, const stream_msg *m)
{
    stream_ring *r = &w->j->out[w->id];
    ring_owed(w); /* (in order: the quiet ones first) */
    while (!stream_ring_push(r, m)) {
        if (stream_job_failed(w->j)) {
            stream_msg c = *m;
            stream_msg_free(&c);
            return SL_ECANCELED;
        }
        wait_for(w, r, false);
    }
    return SL_OK;
}

/* ---- owning: open windows ------------------------------------------------ */

static int stream_wk_update_out(void *arg, int wid, sql_batch *b, sql_err *e)
{
    (void)wid;
    (void)e;
    stream_msg m = {b, 0, 0, STREAM_MSG_UPDATE};
    return to_merger(arg, &m);
}

/* An update of a view's log (kind: STREAM_ULOG_*, ulog.h). */
static int stream_wk_ulog_out(void *arg, sql_batch *b, int kind)
{
    stream_msg m = {b, 0, kind, STREAM_MSG_UPDATE};
    return to_merger(arg, &m);
}

/* An update of a sink's log with op_column (kind: STREAM_ULOG_UPSERT, its row
 * with its key after it; or STREAM_ULOG_DELETE, the key only) as the job's
 * columns: the key dropped, or put in the columns that carry it (the rest NULL). */
static int stream_wk_sink_log_out(void *arg, sql_batch *b, int kind)
{
    wk *w = arg;
    job *j = w->j;
    int nv = j->q->ncols;
    sql_batch *o;
    if (sql_batch_new(nv, j->q->types, &o)) {
        sql_batch_free(b);
        return SL_ENOMEM;
    }
    int rc = SL_OK;
    for (int c = 0; c < nv && !rc; c++) {
        col_vec_release(&o->cols[c]);
        int k = kind == STREAM_ULOG_DELETE ? j->ukey_out[c] : c;
        if (k >= 0) {
            sql_vec_share(&b->cols[k], &o->cols[c]);
            continue;
        }
        sql_vec v;
        if (!(rc = sql_vec_const_null(&v, j->q->types[c]))) {
            rc = sql_vec_expand(&v, b->n, &o->cols[c]);
            sql_vec_release(&v);
        }
    }
    o->n = b->n;
    sql_batch_free(b);
    if (rc) {
        sql_batch_free(o);
        return SL_ENOMEM;
    }
    stream_msg m = {o, 0, kind, STREAM_MSG_UPDATE};
    return to_merger(w, &m);
}

/* What leaves a job reading an update view with its keys (keyed.c). */
static const stream_wk_outs g_outs = {stream_wk_update_out, stream_wk_ulog_out,
                                      stream_wk_sink_log_out};

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Rows of one window into its table; with emit = 'on_update' the new results of
 * the groups they changed go to the merger (through the post chain). */
static int add_rows_in(wk *w, open_win *ow, const sql_batch *b, sql_err *e)
{
    job *j = w->j;
    if (!j->on_update)
        return sql_aggtab_add(ow->t, b, e);
    int64_t n = b->n, m = 0;
    uint32_t *ids = sl_malloc(sizeof *ids * (size_t)(n ? n : 1));
    if (!ids)
        return oom(e);
    int rc = sql_aggtab_add_ids(ow->t, b, ids, e);
    if (!rc) {
        qsort(ids, (size_t)n, sizeof *ids, cmp_u32);
        for (int64_t i = 0; i < n; i++)
            if (ids[i] != UINT32_MAX && (!m || ids[m - 1] != ids[i]))
                ids[m++] = ids[i];
    }
    sql_batch *res = NULL;
    if (!rc && m && !(rc = sql_aggtab_peek(ow->t, ids, m, &res, e)))
        rc = j->ulog ? stream_ulog_post(j, w->id, res, STREAM_ULOG_UPSERT, stream_wk_ulog_out, w, e)
             : j->sink_deletes
                 ? stream_ulog_post_kept(j, w->id, res, ids, &w->ukept, stream_wk_sink_log_out, w, e)
                 : sql_pipe_push(j->post, j->npost, w->id, res, stream_wk_update_out, w, e);
    sl_free(ids);
    return rc;
}

static int add_rows(wk *w, open_win *ow, const sql_batch *b, sql_err *e)
{
    int rc = add_rows_in(w, ow, b, e);
    stream_wk_counted(w, ow);
    return rc;
}

/* Rows at the aggregation's input (b taken): into their windows' tables of set s
 * (the whole batch when it holds one window, else each window's rows taken
 * apart). */
static int to_windows(wk *w, bool local, sql_batch *b, sql_err *e)
{
    job *j = w->j;
    stream_bywin g;
    int rc = stream_rows_by_window(b, j->win_col, j->win_is_end ? j->win->size_ns : 0, &g)
                 ? oom(e) : SL_OK;
    for (int64_t k = 0; k < g.nwins && !rc; k++) {
        int64_t from = k ? g.end[k - 1] : 0, m = g.end[k] - from;
        bool fresh;
        open_win *ow = stream_wk_window(w, local, g.start[k], NULL, &fresh, e);
        if (!ow) {
            rc = SL_ENOMEM;
            break;
        }
        if (m == b->n) {
            rc = add_rows(w, ow, b, e);
            continue;
        }
        sql_batch *part;
        if ((rc = sql_batch_take(b, g.rows + from, m, &part))) {
            oom(e);
            break;
        }
        rc = add_rows(w, ow, part, e);
        sql_batch_free(part);
    }
    stream_bywin_free(&g);
    sql_batch_free(b);
    return rc ? rc : stream_wk_account(w, e);
}

/* b (taken) as the sink's bytes, formatted on this worker, into m: kind (a
 * formatted kind, ring.h: the row count, then the bytes), b and wm (their length). */
static int format_rows(wk *w, sql_batch *b, int kind, stream_msg *m, sql_err *e)
{
    uint64_t n = (uint64_t)b->n;
    dbuf out;
    dbuf_init(&out, (size_t)1 << 31);
    /* room for as many bytes a row as the last batch had: one allocation */
    int rc = dbuf_reserve_exact(&out, sizeof n + n * w->fmt_row_bytes + 4096) ? oom(e) : SL_OK;
    if (rc) {
        sql_batch_free(b);
    } else {
        dbuf_append(&out, &n, sizeof n); /* (reserved) */
        rc = stream_sink_format(w->sfmt, b, &out, e);
    }
    if (rc) {
        dbuf_free(&out);
        return rc;
    }
    if (n)
        w->fmt_row_bytes = (out.len - sizeof n) / n + 1;
    size_t len;
    m->b = stream_bytes_ref(dbuf_take(&out, &len));
    m->wm = (int64_t)len;
    m->kind = kind;
    return SL_OK;
}

/* A closed window's rows (b taken) to the merger, which writes them in order of
 * window_end; as the sink's bytes when it takes bytes (formatted here, in
 * parallel with the other owners).  Pushed without waking the merger while
 * close_windows closes, which wakes it once after the windows a watermark closed
 * (one wake-up, not one a window). */
static int result_out(void *arg, int wid, sql_batch *b, sql_err *e)
{
    (void)wid;
    wk *w = arg;
    stream_msg m = {b, 0, w->closing_end, STREAM_MSG_RESULT};
    int rc = w->sfmt && b->n ? format_rows(w, b, STREAM_MSG_RESULT_BYTES, &m, e) : SL_OK;
    if (rc)
        return rc;
    if (w->closing && stream_ring_push_quiet(&w->j->out[w->id], &m)) {
        w->merger_owed = true;
        return SL_OK;
    }
    return to_merger(w, &m);
}

/* Closes the windows whose end wm reached, in order of their end. */
static int close_windows(wk *w, int64_t wm, sql_err *e)
{
    job *j = w->j;
    int rc = SL_OK, done = 0;
    w->closing = true;
    for (; done < w->nwins && !rc && stream_win_closed(w->wins[done].end, wm); done++) {
        w->closing_end = w->wins[done].end;
        /* a sink's upsert log has every final row already; a view's log gets them
         * once more, keyed, so that what it holds at the end is what closing gives
         * (a GROUP BY over an update view: its reader's, keyed.c; these are empty) */
        for (; !j->log_to_sink && !j->ukeyed;) {
            sql_batch *b;
            if ((rc = sql_aggtab_next(w->wins[done].t, &b, e)) || !b)
                break;
            if ((rc = j->ulog ? stream_ulog_post(j, w->id, b, STREAM_ULOG_FINAL, stream_wk_ulog_out, w, e)
                              : sql_pipe_push(j->post, j->npost, w->id, b, result_out, w, e)))
                break;
        }
        stream_wk_uncounted(w, &w->wins[done]);
        sql_aggtab_free(w->wins[done].t);
        w->wins[done].t = NULL;
    }
    if (done) {
        memmove(w->wins, w->wins + done, sizeof *w->wins * (size_t)(w->nwins - done));
        w->nwins -= done;
    }
    w->closing = false;
    ring_owed(w);
    return rc ? rc : stream_wk_account(w, e);
}

static int scan_taken(wk *w, sql_batch *in, const int64_t *session, bool per_row,
                      sql_batch **out, sql_err *e);
static int stateless(wk *w, sql_batch *b, int (*fn)(void *arg, int w, sql_batch *b, sql_err *e),
                     sql_err *e);

static int to_session_tab(void *arg, int wid, sql_batch *b, sql_err *e)
{
    (void)wid;
    int rc = sql_aggtab_add(((wk *)arg)->cur, b, e);
    sql_batch_free(b);
    return rc;
}

/* Session rows (taken; se: start and end, for each row with per_row, else one
 * pair) as the scan's rows, through the stateless part into one table, whose
 * groups (a session each) are read out to emit (the job's, the worker's, e). */
static int session_groups(wk *w, sql_batch *rows, const int64_t *se, bool per_row,
                          int (*emit)(job *j, wk *w, sql_batch *o, sql_err *e))
{
    job *j = w->j;
    sql_err *e = &w->oerr;
    sql_batch *b;
    int rc = scan_taken(w, rows, se, per_row, &b, e);
    if (rc)
        return rc;
    rc = sql_aggtab_new(j->agg, &w->cur, e);
    if (rc) {
        sql_batch_free(b);
        return rc;
    }
    rc = stateless(w, b, to_session_tab, e);
    while (!rc) {
        sql_batch *o;
        if ((rc = sql_aggtab_next(w->cur, &o, e)) || !o)
            break;
        rc = emit(j, w, o, e);
    }
    sql_aggtab_free(w->cur);
    w->cur = NULL;
    return rc;
}

static int closed_session_emit(job *j, wk *w, sql_batch *o, sql_err *e)
{
    return sql_pipe_push(j->post, j->npost, w->id, o, result_out, w, e);
}

/* A closed session (rows taken), through the post chain to the merger. */
static int session_out(void *arg, int64_t start, int64_t end, sql_batch *rows)
{
    wk *w = arg;
    int64_t se[2] = {start, end};
    w->closing_end = end;
    return session_groups(w, rows, se, false, closed_session_emit);
}

static int update_emit(job *j, wk *w, sql_batch *o, sql_err *e)
{
    return stream_ulog_post(j, w->id, o, STREAM_ULOG_UPSERT, stream_wk_ulog_out, w, e);
}

/* emit = 'on_update': the rows of the sessions a batch changed (taken; se: each
 * row's session start and end) to the view's log as upserts. */
static int session_changed(void *arg, sql_batch *rows, const int64_t *se)
{
    return session_groups(arg, rows, se, true, update_emit);
}

/* ... a row of each session identity that is gone (taken): its key deleted. */
static int session_gone(void *arg, sql_batch *rows, const int64_t *se)
{
    wk *w = arg;
    sql_batch *keys;
    int rc = stream_ulog_session_keys(w->j, rows, se, &keys);
    sql_batch_free(rows);
    return rc ? oom(&w->oerr) : stream_wk_ulog_out(w, keys, STREAM_ULOG_DELETE);
}

/*
 * Checkpoints: once every producer's barrier (or its end) arrived, this
 * worker's part is written (its reading half stopped at the barrier it sent)
 * and the barrier goes on to the merger behind everything emitted before it.
 */
static int try_align(wk *w, sql_err *e)
{
    job *j = w->j;
    if (!w->ck_align)
        return SL_OK;
    for (int p = 0; p < j->nw; p++)
        if (!w->p_done[p] && w->bar_in[p] < w->ck_align)
            return SL_OK;
    uint64_t seq = w->ck_align;
    w->ck_align = 0;
    int rc = stream_ckpt_worker_save(w, seq, e);
    stream_msg m = {NULL, w->owner_wm, (int64_t)seq, STREAM_MSG_BARRIER};
    return rc ? rc : to_merger(w, &m);
}

/* A message from producer p to this owner (its batch taken). */
static int owner_take(wk *w, int p, const stream_msg *m, sql_err *e)
{
    job *j = w->j;
    int rc = SL_OK;
    if (m->kind == STREAM_MSG_BARRIER) {
        w->bar_in[p] = (uint64_t)m->end;
        if (!w->ck_align)
            w->ck_align = (uint64_t)m->end;
        return try_align(w, e);
    }
    if (m->kind == STREAM_MSG_DONE) {
        w->p_done[p] = true;
        if ((rc = try_align(w, e))) /* the part is taken before the end's effects */
            return rc;
        w->in_wm[p] = STREAM_WM_END;
        w->ndone++;
    } else {
        if (m->b && w->ss) {
            rc = stream_sessions_add(w->ss, m->b) ? oom(e) : SL_OK;
            sql_err_clear(&w->oerr);
            if (!rc && j->on_update &&
                (rc = stream_sessions_updates(w->ss, session_gone, session_changed, w)))
                rc = w->oerr.state[0] ? (*e = w->oerr, rc) : oom(e);
            if (!rc)
                rc = stream_wk_account(w, e);
        }
        else if (m->kind == STREAM_MSG_PARTIAL)
            rc = stream_wk_take_partial(w, m->end, stream_msg_table(m), e);
        else if (m->b)
            rc = to_windows(w, false, m->b, e);
        if (m->wm > w->in_wm[p])
            w->in_wm[p] = m->wm;
    }
    if (rc)
        return rc;
    int64_t mn = STREAM_WM_END;
    for (int i = 0; i < j->nw; i++)
        mn = w->in_wm[i] < mn ? w->in_wm[i] : mn;
    if (mn > w->owner_wm) {
        w->owner_wm = mn;
        if (w->ss) {
            sql_err_clear(&w->oerr);
            /* with updates, a closing session's row is already its last update */
            rc = stream_sessions_close(w->ss, mn, j->on_update ? NULL : session_out, w);
            if (rc && w->oerr.state[0])
                *e = w->oerr;
        } else
            rc = close_windows(w, mn, e);
        if (!rc && w->ss)
            rc = stream_wk_account(w, e);
        if (rc)
            return rc;
        stream_msg wmm = {NULL, mn, 0, STREAM_MSG_ROWS};
        rc = to_merger(w, &wmm);
    }
    if (!rc && w->ndone == j->nw) {
        stream_msg d = {NULL, STREAM_WM_END, 0, STREAM_MSG_DONE};
        rc = to_merger(w, &d);
    }
    return rc;
}

/* Everything waiting on this owner's input rings. */
static int drain(wk *w, sql_err *e)
{
    job *j = w->j;
    int rc = SL_OK;
    for (int p = 0; p < j->nw && !rc; p++) {
        if (p == w->id)
            continue;
        stream_msg m;
        while (!rc && !held(w, p) && stream_ring_pop(&j->x[p * j->nw + w->id], &m))
            rc = owner_take(w, p, &m, e);
    }
    return rc;
}

/* ---- reading: the stateless part ------------------------------------------ */

/* A message from this worker's reading half to owner o. */
static int to_owner(wk *w, int o, const stream_msg *m, sql_err *e)
{
    job *j = w->j;
    if (o == w->id)
        return owner_take(w, o, m, e);
    stream_ring *r = &j->x[w->id * j->nw + o];
    while (!stream_ring_push(r, m)) {
        int rc = drain(w, e);
        if (!rc && stream_job_failed(j))
            rc = SL_ECANCELED;
        if (rc) {
            stream_msg c = *m;
            stream_msg_free(&c);
            return rc;
        }
        if (!stream_ring_room(r))
            wait_for(w, r, true);
    }
    return SL_OK;
}

/* Rows at the aggregation's input (b taken): cut by the hash of the partition
 * keys, one batch to each owner holding some. */
static int exchange(void *arg, int wid, sql_batch *b, sql_err *e)
{
    (void)wid;
    wk *w = arg;
    job *j = w->j;
    int nw = j->nw, rc = SL_OK;
    if (j->preagg) /* into this worker's partial tables, shipped as windows pass */
        return to_windows(w, true, b, e);
    if (nw == 1 || !j->npkeys || !b->n) { /* no keys: one group, owned by worker 0 */
        stream_msg m = {b, w->wm, 0, STREAM_MSG_ROWS};
        return b->n ? to_owner(w, 0, &m, e) : (sql_batch_free(b), SL_OK);
    }
    int64_t n = b->n;
    const sql_plan *p = j->agg->p;
    sql_vec kv[STREAM_MAX_KEYS];
    int nk = 0;
    uint64_t *h = sl_malloc(sizeof *h * (size_t)n);
    uint32_t *pick = sl_malloc(sizeof *pick * (size_t)n);
    uint32_t *own = sl_malloc(sizeof *own * (size_t)n);
    rc = h && pick && own ? SL_OK : oom(e);
    arena_reset(&w->pscratch);
    sql_err_clear(&w->err);
    w->cx.f.scratch = &w->pscratch;
    bool src_cols = j->win && j->win->session; /* b: the source's rows */
    for (int k = 0; src_cols && k < j->npkeys; k++)
        kv[k] = (sql_vec){b->cols[j->sess_cols[k]], false}; /* borrowed */
    for (; !rc && !src_cols && nk < j->npkeys; nk++)
        if ((rc = sql_eval(&w->cx, p->agg.keys[j->pkeys[nk]], b, NULL, &kv[nk])))
            *e = w->err.state[0] ? w->err : (oom(e), *e);
    w->cx.f.scratch = &w->scratch;
    if (!rc && (rc = sql_ht_hash(&w->hk, kv, n, h)))
        oom(e);
    for (int64_t i = 0; !rc && i < n; i++)
        own[i] = (uint32_t)stream_owner_of(h[i], nw);
    for (int o = 0; o < nw && !rc; o++) {
        int64_t m = 0;
        for (int64_t i = 0; i < n; i++)
            if (own[i] == (uint32_t)o)
                pick[m++] = (uint32_t)i;
        if (!m)
            continue;
        sql_batch *part = NULL;
        if (m < n && sql_batch_take(b, pick, m, &part)) {
            rc = oom(e);
            break;
        }
        stream_msg msg = {m < n ? part : b, w->wm, 0, STREAM_MSG_ROWS};
        if (m == n)
            b = NULL;
        if (o != w->id)
            w->rows_x += (uint64_t)m;
        rc = to_owner(w, o, &msg, e);
    }
    for (int k = 0; k < nk; k++)
        sql_vec_release(&kv[k]);
    sl_free(h);
    sl_free(pick);
    sl_free(own);
    sql_batch_free(b);
    return rc;
}

/* Rows of an append-only job (b taken) to the merger: formatted here, in
 * parallel with the other workers, when the sink takes bytes (the merger then
 * only writes them), else as the batch. */
static int rows_out(void *arg, int wid, sql_batch *b, sql_err *e)
{
    (void)wid;
    wk *w = arg;
    stream_msg m = {b, 0, 0, STREAM_MSG_ROWS};
    int rc = w->sfmt ? format_rows(w, b, STREAM_MSG_BYTES, &m, e) : SL_OK;
    return rc ? rc : to_merger(w, &m);
}

/* stream_wk_scan_rows with in taken: *out only on success. */
static int scan_taken(wk *w, sql_batch *in, const int64_t *session, bool per_row,
                      sql_batch **out, sql_err *e)
{
    *out = NULL;
    int rc = stream_wk_scan_rows(w, in, session, per_row, out);
    sql_batch_free(in);
    if (rc) {
        sql_batch_free(*out);
        *out = NULL;
        return oom(e);
    }
    return SL_OK;
}

/* Scan rows through the scan's pushed filter and the pre chain into fn (b taken). */
static int stateless(wk *w, sql_batch *b, int (*fn)(void *arg, int w, sql_batch *b, sql_err *e),
                     sql_err *e)
{
    job *j = w->j;
    int rc = stream_wk_scan_filter(w, &b, e);
    if (rc)
        return rc;
    if (!b || !b->n) {
        sql_batch_free(b);
        return SL_OK;
    }
    return sql_pipe_push(j->pre, j->npre, w->id, b, fn, w, e);
}

/* A session job's source rows (in taken) as it keeps them: with its keys that are
 * expressions computed after the source's columns (*out only on success). */
static int session_keyed(wk *w, sql_batch *in, sql_batch **out, sql_err *e)
{
    job *j = w->j;
    int ns = j->src->ncols;
    *out = NULL;
    if (!j->nsess_x) {
        *out = in;
        return SL_OK;
    }
    sql_batch *o;
    int rc = sql_batch_new(j->sess_ncols, j->sess_types, &o);
    if (rc) {
        sql_batch_free(in);
        return oom(e);
    }
    for (int c = 0; c < ns; c++) {
        col_vec_release(&o->cols[c]);
        sql_vec_share(&in->cols[c], &o->cols[c]);
    }
    arena_reset(&w->pscratch);
    sql_err_clear(&w->err);
    w->cx.f.scratch = &w->pscratch;
    for (int i = 0; i < j->nsess_x && !rc; i++) {
        sql_vec v;
        col_vec *to = &o->cols[ns + i];
        if ((rc = sql_eval(&w->cx, j->sess_x[i], in, NULL, &v))) {
            *e = w->err.state[0] ? w->err : (oom(e), *e);
            int key = 0;
            for (int k = 0; k < j->npkeys; k++)
                key = j->sess_cols[k] == ns + i ? j->pkeys[k] : key;
            if (!e->hint[0])
                snprintf(e->hint, sizeof e->hint, "GROUP BY key %d of a session window is "
                         "computed for every row of source \"%s\" as it arrives, before WHERE",
                         key + 1, j->src->name);
            break;
        }
        col_vec_release(to);
        if (v.is_const) {
            rc = sql_vec_expand(&v, in->n, to) ? oom(e) : SL_OK;
            sql_vec_release(&v);
        } else {
            *to = v.v; /* taken */
        }
    }
    w->cx.f.scratch = &w->scratch;
    o->n = in->n;
    sql_batch_free(in);
    if (rc)
        sql_batch_free(o);
    else
        *out = o;
    return rc;
}

/* One batch of the source's on-time rows through the stateless part (in taken).
 * Session windows are known only when they close: their rows go to their owner
 * as read, and the stateless part runs there (session_out). */
static int push_batch(wk *w, sql_batch *in, sql_err *e)
{
    job *j = w->j;
    if (j->ukeyed)
        return in->n ? stream_keyed_push(w, in, &g_outs, e) : (sql_batch_free(in), SL_OK);
    sql_batch *b;
    if (j->win && j->win->session) {
        int rc = session_keyed(w, in, &b, e);
        return rc ? rc : exchange(w, w->id, b, e);
    }
    int rc = scan_taken(w, in, NULL, false, &b, e);
    return rc ? rc : stateless(w, b, j->agg ? exchange : rows_out, e);
}

/* Local-global aggregation: this worker's partial tables of the windows ending at
 * or before upto (all: STREAM_WM_END) to their owners, in order of start; before
 * the watermark that would let an owner close them, so none closes early. */
static int ship_partials(wk *w, int64_t upto, sql_err *e)
{
    int rc = SL_OK;
    while (!rc && w->nlwins && (upto == STREAM_WM_END || stream_win_closed(w->lwins[0].end, upto))) {
        stream_wk_uncounted(w, &w->lwins[0]);
        open_win ow = w->lwins[0];
        memmove(w->lwins, w->lwins + 1, sizeof *w->lwins * (size_t)(w->nlwins - 1));
        w->nlwins--;
        int o;
        if (stream_wk_win_owner(w, ow.start, &o)) {
            sql_aggtab_free(ow.t);
            return oom(e);
        }
        if (o != w->id)
            w->parts_x++;
        /* no watermark: the owner may close nothing before the last of them */
        stream_msg m = {(sql_batch *)(void *)ow.t, STREAM_WM_NONE, ow.start, STREAM_MSG_PARTIAL};
        rc = to_owner(w, o, &m, e);
    }
    return rc ? rc : stream_wk_account(w, e);
}

/* After a batch: every owner learns the reader's watermark (with local-global
 * aggregation, after the partial tables of the windows it passed). */
static int send_watermark(wk *w, int kind, sql_err *e)
{
    int rc = SL_OK;
    if (w->j->preagg && (rc = ship_partials(w, kind == STREAM_MSG_DONE ? STREAM_WM_END : w->wm,
                                            e)))
        return rc;
    for (int o = 0; o < w->j->nw && !rc; o++) {
        stream_msg m = {NULL, kind == STREAM_MSG_DONE ? STREAM_WM_END : w->wm, 0, kind};
        rc = to_owner(w, o, &m, e);
    }
    return rc;
}

/* Whether a checkpoint is asked for that this worker's reading half has not
 * joined yet. */
static bool ckpt_asked(const wk *w)
{
    return w->j->ckpt &&
           atomic_load_explicit(&w->j->ckpt_req, memory_order_acquire) > w->ck_sent;
}

/* Where the reader of split c stands after the batch it passed on last: the
 * reader's own place, or for a split read ahead the place after the last kept
 * batch served, with the watermark one reader in line order has there (lw).
 * Either way a resumed reader decides lateness itself from there on. */
static void reading_pos(const wk *w, const stream_reader *rd, stream_reader_pos *p)
{
    if (w->ahead_on)
        stream_ahead_place(w, p);
    else
        stream_reader_save(rd, p);
}

/* Checkpoints: after a batch, the barrier asked for (if new) goes to every owner
 * (to the merger without an aggregation) with where this reader stands (rd NULL:
 * at the start of split c, every split of its before c done); the reading half
 * then waits until its owning half aligned and wrote its part. */
static int barrier_out(wk *w, int c, const stream_reader *rd, sql_err *e)
{
    job *j = w->j;
    if (!ckpt_asked(w))
        return SL_OK;
    uint64_t req = atomic_load_explicit(&j->ckpt_req, memory_order_acquire);
    w->ck_sent = req;
    w->ck_chunk = c;
    w->ck_has_pos = rd && !(w->ahead_on && !w->ahead_at);
    if (w->ck_has_pos)
        reading_pos(w, rd, &w->ck_pos);
    else
        memset(&w->ck_pos, 0, offsetof(stream_reader_pos, parts));
    if (!j->agg) {
        stream_msg m = {NULL, 0, (int64_t)req, STREAM_MSG_BARRIER};
        return to_merger(w, &m);
    }
    /* its partial tables first, so the owners' parts hold all its rows so far and
     * it keeps nothing of its own in a checkpoint */
    int rc = j->preagg ? ship_partials(w, STREAM_WM_END, e) : SL_OK;
    /* its own owning half last: aligned, it may emit past the barrier, which the
     * merger holds; by then every other owner must have this barrier */
    for (int k = 1; k <= j->nw && !rc; k++) {
        stream_msg m = {NULL, w->wm, (int64_t)req, STREAM_MSG_BARRIER};
        rc = to_owner(w, (w->id + k) % j->nw, &m, e);
    }
    /* until its owning half is past this barrier: it may already align the next
     * one (another reader sent it), which this reader sends only after its next
     * batch, so waiting on that one would wait for itself */
    while (!rc && w->ck_align && w->ck_align <= req && !stream_job_failed(j)) {
        rc = drain(w, e);
        if (!rc && w->ck_align && w->ck_align <= req)
            wait_for(w, NULL, true);
    }
    return rc;
}

/* ---- a worker ---------------------------------------------------------------- */

/* Whether a reader ahead of the other producers (their watermarks close its
 * owning half's windows) waits: once those windows and its partial tables take a
 * quarter of its share of work_mem (at most AHEAD_MEM_MAX) and are more than
 * AHEAD_MIN_WINS.  Bytes, not windows: a split spans as many windows as its time
 * range holds (a count kept 10-second windows of two splits in lockstep). */
#define AHEAD_MIN_WINS 64
#define AHEAD_MEM_MAX ((int64_t)64 << 20)

static bool too_far_ahead(const wk *w)
{
    int64_t limit = w->j->q->x.mem_limit / (4 * w->j->nw);
    int64_t cap = limit > 0 && limit < AHEAD_MEM_MAX ? limit : AHEAD_MEM_MAX;
    return w->nwins > AHEAD_MIN_WINS && w->mem > cap && w->wm > w->owner_wm;
}

static bool ahead_ready(void *arg)
{
    wk *w = arg;
    job *j = w->j;
    return stream_job_failed(j) || inputs_ready(w) || ckpt_asked(w);
}

/*
 * Bounded state: a reader that got ahead of another producer (its watermark
 * above the minimum its owning half has) while that half holds many open
 * windows waits, doing its owner work, until the others catch up.  Rows it
 * sends wait in bounded rings anyway; partial tables and its own share do not,
 * so without this a fast reader could open every window of the file.  The
 * slowest producer never waits (the minimum is its own watermark once its
 * inputs are drained), nor does anyone while a checkpoint it has not joined is
 * asked for (ckpt_tick rings every worker).
 */
static int hold_back(wk *w, sql_err *e)
{
    job *j = w->j;
    int rc = SL_OK;
    while (!rc && too_far_ahead(w) && !stream_job_failed(j)) {
        if (ckpt_asked(w))
            break;
        rc = drain(w, e);
        if (!rc && too_far_ahead(w))
            stream_bell_wait(&w->bell, ahead_ready, w);
    }
    return rc;
}

/* ---- reading a split ahead ------------------------------------------------------ */

typedef struct prefix_arg {
    wk *w;
    int c;
} prefix_arg;

/* Whether the job failed in a split before c (so that c's own findings no
 * longer matter: the first failure in line order is the one kept). */
static bool failed_before(job *j, int c)
{
    if (!stream_job_failed(j))
        return false;
    pthread_mutex_lock(&j->mu);
    bool before = j->fail_chunk < c;
    pthread_mutex_unlock(&j->mu);
    return before;
}

static bool prefix_wake(void *arg)
{
    prefix_arg *a = arg;
    return failed_before(a->w->j, a->c) || stream_prefix_ready(a->w, a->c) ||
           (a->w->j->agg && (inputs_ready(a->w) || ckpt_asked(a->w)));
}

/*
 * Split c read ahead: every batch of its good rows, late ones too, kept (at most
 * a split: 8 MiB of text); then, doing its owner work meanwhile, the wait until
 * every split before it is published (the slowest reader never waits: each
 * split before its next one is one another worker already read).  A split cut
 * at a line break inside a quoted field (the splits were cut without looking
 * for quotes) starts where the split before it stopped reading instead: it is
 * parsed again from there, errors of the first parse forgotten.  Then its
 * largest event time and where it stopped are published for the splits after
 * it, and the watermark starts from the prefix maximum, as one reader's would
 * (ahead_next applies it).  *rdp may be replaced.
 */
static int read_ahead(wk *w, int c, stream_reader **rdp, sql_err *e)
{
    job *j = w->j;
    stream_split *s = &j->splits[c];
    stream_reader_defer_late(*rdp);
    int prc = stream_keep_all(w, *rdp, e), rc = SL_OK;
    w->ahead_on = true;
    prefix_arg a = {w, c};
    while (!rc && !stream_prefix_ready(w, c) && !failed_before(j, c)) {
        if (j->agg)
            rc = drain(w, e);
        if (!rc && j->agg && ckpt_asked(w)) {
            /* its owning half cannot align without this reader's barrier, and the
             * splits it waits for may be behind a producer that ring holds: the
             * barrier goes at c's start (c's rows are not served yet) */
            sql_err be;
            sql_err_clear(&be);
            rc = barrier_out(w, c, NULL, &be);
            if (rc == SL_ECANCELED) /* a failure elsewhere: c's own findings still count */
                rc = SL_OK;
            else if (rc)
                *e = be;
        }
        if (!rc)
            stream_bell_wait(&w->bell, prefix_wake, &a);
    }
    if (rc || !stream_prefix_ready(w, c))
        return rc ? rc : prc; /* a failure before c: c's own is not the first */
    size_t from = c ? j->splits[c - 1].next : s->begin;
    if (from != s->begin) { /* cut inside a quoted field: parse again from the record's end */
        stream_ahead_free(w);
        sql_err_clear(e);
        stream_split sp = *s;
        sp.begin = from;
        sp.end = sp.end < from ? from : sp.end;
        sp.line = 0;
        stream_reader *nr;
        if ((rc = stream_reader_open(j->file, &sp, &nr, e)))
            return rc;
        stream_reader_close(*rdp);
        *rdp = nr;
        s->begin = sp.begin;
        s->end = sp.end;
        stream_reader_defer_late(nr);
        prc = stream_keep_all(w, nr, e);
        w->ahead_on = true;
    }
    if (prc)
        return prc;
    stream_reader_final_max(*rdp, &s->seen, &s->max_ns);
    stream_split_publish(w, c, stream_reader_stop(*rdp));
    stream_wm_init(&w->lw, j->src->delay_ns);
    if (w->pre_seen)
        stream_wm_observe(&w->lw, w->pre_max);
    return SL_OK;
}

/* ---- figures while running ------------------------------------------------------ */

/* Worker w's figures so far for the jobs table: its finished splits' and those of
 * the reader rd (NULL: none open), and its watermark. */
static void publish(wk *w, stream_reader *rd, int64_t wm)
{
    uint64_t r = 0, l = 0, b = 0;
    if (rd)
        stream_reader_counts(rd, &r, &l, &b);
    struct stream_pub *p = &w->j->pub[w->id];
    atomic_store_explicit(&p->read, w->rows_read + r, memory_order_relaxed);
    atomic_store_explicit(&p->late, w->late + w->split_late + l, memory_order_relaxed);
    atomic_store_explicit(&p->wm, wm, memory_order_relaxed);
}

void stream_job_live_figures(stream_job *j, uint64_t *read, uint64_t *late, int64_t *wm)
{
    int n = atomic_load_explicit(&j->pub_nw, memory_order_acquire);
    *read = *late = 0;
    *wm = STREAM_WM_END;
    for (int i = 0; i < n; i++) {
        *read += atomic_load_explicit(&j->pub[i].read, memory_order_relaxed);
        *late += atomic_load_explicit(&j->pub[i].late, memory_order_relaxed);
        int64_t w = atomic_load_explicit(&j->pub[i].wm, memory_order_relaxed);
        *wm = w < *wm ? w : *wm; /* a worker done reading has STREAM_WM_END */
    }
    if (*wm == STREAM_WM_END)
        *wm = STREAM_WM_NONE;
}

/* Whether a server's job was asked to stop (its input ends where it stands). */
static bool stopped(const job *j)
{
    return j->stop && atomic_load_explicit(j->stop, memory_order_relaxed);
}

/* Reads split c; with check_only (another split failed later in line order) the
 * rows are only checked, so that an earlier error is found. */
static int read_split(wk *w, int c, sql_err *e)
{
    job *j = w->j;
    long delay = stream_test_batch_delay();
    stream_reader *rd;
    int rc = stream_reader_open(j->file, &j->splits[c], &rd, e);
    if (!rc)
        stream_reader_set_stop(rd, j->stop);
    bool check_only = false;
    /* resumed inside c: its reader goes on from the watermark saved with the place
     * (its split and those before it were published by resume_pass) */
    bool restored = j->resuming && c == w->rs_chunk && w->rs_has_pos;
    if (!rc && restored && stream_reader_restore(rd, &j->splits[c], &w->rs_pos))
        rc = sql_err_set(e, "XX001", -1, "checkpoint: a reading position outside its split");
    if (!rc && j->ahead && j->src->time_col >= 0 && !restored) {
        bool skip = false;
        if (stream_job_failed(j)) { /* a later split failed: read this one only to check it */
            pthread_mutex_lock(&j->mu);
            skip = c > j->fail_chunk;
            pthread_mutex_unlock(&j->mu);
        }
        if (!skip && stopped(j)) {
            /* stopped: the input ends here, and the splits after c wait for none
             * of its rows (they stop too) */
            stream_split_publish(w, c, j->splits[c].end);
        } else if (!skip) {
            rc = read_ahead(w, c, &rd, e);
        }
    }
    while (!rc) {
        sql_batch *b;
        if (stream_job_failed(j)) {
            pthread_mutex_lock(&j->mu);
            check_only = c < j->fail_chunk;
            pthread_mutex_unlock(&j->mu);
            if (!check_only)
                break;
        }
        if (stopped(j))
            break; /* stopped: the input ends here */
        /* the batch's rows go with the watermark before it: a batch may reach an
         * owner as several messages (a join's rounds), and none may close a
         * window that a later one adds rows to */
        int64_t wm;
        bool was_ahead = w->ahead_on;
        rc = was_ahead ? stream_ahead_next(w, &b, &wm, e) : stream_reader_next(rd, &b, &wm, e);
        if (!rc && !b && was_ahead && stream_reader_grows(rd)) {
            /* a followed file's last split, served up to where it ended: its reader
             * goes on, late rows decided under the line-order watermark */
            stream_reader_late_from(rd, &w->lw);
            continue;
        }
        if (rc || !b) {
            w->wm = rc ? w->wm : wm;
            break;
        }
        if (delay)
            nanosleep(&(struct timespec){0, delay * 1000}, NULL);
        publish(w, rd, wm);
        if (!b->n) { /* a quiet topic: the watermark (a partition may have ended) and a
                        checkpoint barrier may still pass */
            sql_batch_free(b);
            w->wm = wm;
            if (!check_only && j->agg)
                rc = send_watermark(w, STREAM_MSG_ROWS, e);
            if (!rc && !check_only && j->agg)
                rc = drain(w, e);
            if (!rc && !check_only)
                rc = barrier_out(w, c, rd, e);
            if (rc == SL_ECANCELED) {
                sql_err_clear(e);
                rc = SL_OK;
                check_only = true;
            }
            continue;
        }
        if (check_only) {
            w->wm = wm;
            sql_batch_free(b);
            continue;
        }
        rc = push_batch(w, b, e);
        w->wm = wm;
        if (!rc && j->agg)
            rc = send_watermark(w, STREAM_MSG_ROWS, e);
        if (!rc && j->agg)
            rc = drain(w, e);
        if (!rc)
            rc = barrier_out(w, c, rd, e);
        if (!rc && j->agg && !(j->win && j->win->session))
            rc = hold_back(w, e);
        if (rc == SL_ECANCELED) { /* a failure elsewhere: keep checking this split */
            sql_err_clear(e);
            rc = SL_OK;
            check_only = true;
        }
    }
    if (rd) {
        uint64_t r, l, b;
        stream_reader_counts(rd, &r, &l, &b);
        l += w->split_late;
        w->split_late = 0;
        j->splits[c].rows_read = r;
        j->splits[c].late = l;
        j->splits[c].bad = b;
        w->rows_read += r;
        w->late += l;
        w->bad += b;
        bool seen;
        int64_t mx;
        stream_reader_final_max(rd, &seen, &mx);
        if (seen && (!w->max_seen || mx > w->max_ns))
            w->max_ns = mx;
        w->max_seen |= seen;
    }
    if (!rc && !j->agg && !stream_job_failed(j)) { /* (its counts above: the merger's) */
        stream_msg m = {NULL, 0, c, STREAM_MSG_CHUNK_END};
        rc = to_merger(w, &m);
    }
    stream_reader_close(rd);
    stream_ahead_free(w);
    return rc;
}

/* ---- a live source (source_telemetry.c) ------------------------------------------ */

/* Checkpoints: the barrier asked for, with this worker's checkpoint time; the
 * blocks it took that were delivered before that time leave its list (a later
 * checkpoint's time is not earlier). */
static int live_barrier(wk *w, sql_err *e)
{
    job *j = w->j;
    if (!ckpt_asked(w))
        return SL_OK;
    int64_t low = stream_live_low(j->live, w->id, w->live_floor), k = 0;
    w->ck_live_low = low;
    for (int64_t i = 0; i < w->nlive; i++)
        if (w->live[i].at_ns >= low)
            w->live[k++] = w->live[i];
    w->nlive = k;
    if (!j->agg) { /* the merger saves them, while this reader goes on */
        int rc = stream_ckpt_spans_keep(w, e);
        if (rc)
            return rc;
        if (k > w->ck_live_cap) {
            stream_live_done *nd = sl_realloc(w->ck_live, sizeof *nd * (size_t)k);
            if (!nd)
                return oom(e);
            w->ck_live = nd;
            w->ck_live_cap = k;
        }
        if (k)
            memcpy(w->ck_live, w->live, sizeof *w->ck_live * (size_t)k);
        w->ck_nlive = k;
        w->ck_read = w->rows_read;
        w->ck_late = w->late;
        w->ck_wm = w->wm;
    }
    return barrier_out(w, j->nsplits, NULL, e);
}

/* One item of the source: its rows on to the owners, the watermark after it, the
 * block noted (a job with checkpoints), and a barrier if one is asked for. */
static int live_use(wk *w, stream_live_item *it, sql_err *e)
{
    job *j = w->j;
    int rc = it->b ? push_batch(w, it->b, e) : SL_OK;
    if (it->wm > w->wm)
        w->wm = it->wm;
    if (it->spans && (rc || !w->spans)) /* (thread_spans: its stream's state after it) */
        sl_free(it->spans);
    else if (it->spans && stream_spans_adopt(w->spans, &it->stream, it->spans, it->spans_len))
        rc = oom(e);
    it->spans = NULL;
    if (!rc && it->block && j->ckpt) {
        if (stream_live_done_add(&w->live, &w->nlive, &w->live_cap, &it->id, it->at_ns))
            rc = oom(e);
        w->rows_read += it->nread;
        w->late += it->nlate;
    }
    if (!rc && j->agg)
        rc = send_watermark(w, STREAM_MSG_ROWS, e);
    if (!rc && j->agg)
        rc = drain(w, e);
    if (!rc && !j->agg && j->ckpt && !it->block) {
        /* idle: the merger, which sleeps until a message comes, still asks for
         * checkpoints (their times move on with the inserts) */
        stream_msg m = {NULL, w->wm, 0, STREAM_MSG_ROWS};
        rc = to_merger(w, &m);
    }
    return !rc && j->ckpt ? live_barrier(w, e) : rc;
}

/* A resumed job: a block replayed (its id kept until the blocks delivered
 * meanwhile, which may repeat it, are through). */
static int replayed(void *arg, stream_live_item *it, int64_t next_ns, sql_err *e)
{
    wk *w = arg;
    if (stream_job_failed(w->j) || stopped(w->j)) { /* the rest waits for the next start */
        sql_batch_free(it->b);
        sl_free(it->spans);
        return SL_ECANCELED;
    }
    w->live_floor = next_ns;
    if (stream_live_done_add(&w->replayed, &w->nreplayed, &w->replayed_cap, &it->id, it->at_ns)) {
        sql_batch_free(it->b);
        sl_free(it->spans);
        return oom(e);
    }
    return live_use(w, it, e);
}

/* This worker's queue until the job stops; an idle tick moves the watermark only.
 * A resumed job first replays what its checkpoint had not taken. */
static int read_live(wk *w, sql_err *e)
{
    job *j = w->j;
    w->live_floor = INT64_MAX;
    int rc = j->resuming ? stream_live_replay(j->live, w->id, w->rs_live_low, w->live,
                                              (uint32_t)w->nlive, w->spans, replayed, w, e)
                         : SL_OK;
    if (rc == SL_ECANCELED) /* stopped (or failed elsewhere) while replaying */
        rc = SL_OK;
    w->live_floor = INT64_MAX;
    stream_live_done_sort(w->replayed, w->nreplayed);
    stream_live_item it;
    while (!rc && !stream_job_failed(j) && stream_live_next(j->live, w->id, &it)) {
        if (it.maybe_seen && stream_live_done_has(w->replayed, w->nreplayed, &it.id)) {
            stream_live_uncount(j->live, it.nread, it.nlate);
            sql_batch_free(it.b);
            sl_free(it.spans);
            continue;
        }
        if (it.block && !it.maybe_seen && w->replayed) { /* past the blocks held back */
            sl_free(w->replayed);
            w->replayed = NULL;
            w->nreplayed = w->replayed_cap = 0;
        }
        rc = live_use(w, &it, e);
    }
    if (!rc && !j->agg && !stream_job_failed(j)) {
        stream_msg m = {NULL, 0, w->id, STREAM_MSG_CHUNK_END};
        rc = to_merger(w, &m);
    }
    return rc;
}

void *stream_worker_main(void *arg)
{
    wk *w = arg;
    job *j = w->j;
    sql_err e;
    sql_err_clear(&e);
    int rc = SL_OK, c = w->id;
    if (j->live) {
        rc = read_live(w, &e);
        c = j->nsplits;
    }
    if (j->nsplits > 1 && !j->live && !j->src->kf && !j->ahead) /* (partitions: none) */
        rc = stream_first_pass(w, &e);
    else if (j->ahead && j->resuming)
        rc = stream_resume_pass(w, &e);
    while (j->resuming && c < w->rs_chunk) /* splits before the checkpoint's are done */
        c += j->nw;
    for (; c < j->nsplits && !rc; c += j->nw) {
        w->chunk = c;
        if ((rc = read_split(w, c, &e)))
            break; /* c stays the failed split (fail: line order, and who waits) */
    }
    if (!j->live)
        publish(w, NULL, STREAM_WM_END);
    if (j->agg) { /* its part from now on: nothing left to read (without an
                     aggregation the merger reads ck_*: they stay as sent) */
        w->ck_chunk = j->nsplits;
        w->ck_has_pos = false;
    }
    if (!rc && j->agg)
        rc = send_watermark(w, STREAM_MSG_DONE, &e);
    while (!rc && j->agg && w->ndone < j->nw && !stream_job_failed(j)) {
        rc = drain(w, &e);
        if (!rc && w->ndone < j->nw)
            wait_for(w, NULL, true);
    }
    if (rc && rc != SL_ECANCELED) {
        if (!e.state[0])
            sql_err_set(&e, SQLSTATE_INTERNAL, -1, "%s", sl_strerror(rc));
        stream_job_fail(j, c < j->nsplits ? c : INT32_MAX, &e);
    }
    return NULL;
}
