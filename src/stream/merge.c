/*
 * merge.c - the merger (the calling thread of a job on workers): what the
 * owners emit into the sink.  Closed windows' results wait per owner until
 * every owner's watermark reached their window_end and leave in
 * non-decreasing window_end order; an append-only job's rows (batches, or
 * bytes the workers formatted) are written split by split, in line order.
 * It asks for checkpoints and commits them when every barrier arrived
 * (worker.c has the protocol).  docs/internals/stream.md "Merging".
 */
#include "stream/checkpoint.h"
#include "stream/job.h"
#include "stream/ulog.h"

#include "base/alloc.h"

#include <string.h>

static int oom(sql_err *e)
{
    return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
}

typedef struct pending {
    stream_msg *m;           /* results of closed windows in window_end order */
    int64_t head, n, cap;
    int64_t wm;              /* the owner's closing watermark */
    bool done;
} pending;

static bool merger_ready(void *arg)
{
    stream_job *j = arg;
    if (stream_job_failed(j))
        return true;
    for (int o = 0; o < j->nw; o++)
        if (!(j->ckpt_held && j->ckpt_held[o]) && stream_ring_ready(&j->out[o]))
            return true;
    return false;
}

/* Nothing to take: the sink's buffered output goes out, then the merger sleeps. */
static void merger_wait(stream_job *j)
{
    stream_sink_idle(j->sink);
    stream_bell_wait(&j->bell, merger_ready, j);
}

static int queue_add(pending *q, const stream_msg *m)
{
    if (q->n == q->cap) {
        if (q->head) {
            memmove(q->m, q->m + q->head, sizeof *q->m * (size_t)(q->n - q->head));
            q->n -= q->head;
            q->head = 0;
        }
        if (q->n == q->cap) {
            int64_t nc = q->cap ? q->cap * 2 : 64;
            stream_msg *nm = sl_realloc(q->m, sizeof *nm * (size_t)nc);
            if (!nm)
                return SL_ENOMEM;
            q->m = nm;
            q->cap = nc;
        }
    }
    q->m[q->n++] = *m;
    return SL_OK;
}

/* A formatted message (BYTES, RESULT_BYTES: its row count, then the sink's bytes,
 * format_rows in worker.c) into the sink; its bytes freed. */
static int write_formatted(stream_job *j, stream_msg *m, sql_err *e)
{
    uint64_t n;
    memcpy(&n, stream_msg_bytes(m), sizeof n);
    int rc = stream_sink_write_bytes(j->sink, stream_msg_bytes(m) + sizeof n,
                                     (size_t)m->wm - sizeof n, n, e);
    stream_msg_free(m);
    return rc;
}

/* Writes every queued result whose window_end all owners have passed, smallest
 * window_end first. */
static int release(stream_job *j, pending *q, sql_err *e)
{
    int64_t g = STREAM_WM_END;
    for (int o = 0; o < j->nw; o++)
        g = q[o].wm < g ? q[o].wm : g;
    for (;;) {
        int best = -1;
        for (int o = 0; o < j->nw; o++)
            if (q[o].head < q[o].n &&
                (best < 0 || q[o].m[q[o].head].end < q[best].m[q[best].head].end))
                best = o;
        int64_t end = best < 0 ? 0 : q[best].m[q[best].head].end;
        if (best < 0 || !(j->win && j->win->session ? stream_session_closed(end, g)
                                                    : stream_win_closed(end, g))) {
            stream_view *v = stream_sink_view(j->sink);
            if (v && v->mu && g != STREAM_WM_NONE) /* after its rows (source_view.c) */
                atomic_store(&v->closed_wm, g);
            return SL_OK;
        }
        stream_msg *m = &q[best].m[q[best].head++];
        int rc = m->kind == STREAM_MSG_RESULT_BYTES ? write_formatted(j, m, e)
                                                    : stream_sink_write(j->sink, m->b, e);
        if (rc)
            return rc;
    }
}

/* An update of the upsert log, as it comes (a key's updates come from its one
 * owner, in order): to a sink, or into a view's log (kind: ulog.h). */
static int update_in(stream_job *j, sql_batch *b, int64_t kind, sql_err *e)
{
    if (j->log_to_sink)
        return stream_sink_write_op(j->sink, b, kind == STREAM_ULOG_DELETE ? STREAM_OP_DELETE
                                                                          : STREAM_OP_UPSERT, e);
    int rc = stream_sink_ulog(j->sink, b, (int)kind, e);
    if (rc)
        return rc;
    /* the log is the job's state too: counted with the windows', against work_mem */
    int64_t m = stream_ulog_mem(stream_sink_view(j->sink)->log), d = m - j->ulog_mem;
    int64_t all = stream_state_add(j, d);
    j->ulog_mem = m;
    return d > 0 ? stream_state_check(j, all, "The view's rows (its upsert log)", e) : SL_OK;
}

/* Checkpoints: the next one asked for when its time came and none is under way
 * (nor being written: the writer's commit of one deletes every other's objects);
 * a failure of the writer fails the job. */
static int ckpt_tick(stream_job *j, sql_err *e)
{
    if (!j->ckpt)
        return SL_OK;
    int rc = stream_ckpt_writer_failed(j, e);
    if (rc || atomic_load_explicit(&j->ckpt_req, memory_order_relaxed) != j->ckpt_done)
        return rc;
    int64_t now = stream_ckpt_now_ms();
    if (now < j->ckpt_next_ms || !stream_ckpt_writer_idle(j))
        return SL_OK;
    atomic_store_explicit(&j->ckpt_req, j->ckpt_done + 1, memory_order_release);
    for (int i = 0; i < j->nw; i++) /* a reader holding back (hold_back) joins it */
        stream_bell_ring(&j->w[i].bell);
    return SL_OK;
}

/* Every owner's barrier arrived: with the windows they closed before it released
 * (their watermarks are then equal, so none waits), the checkpoint is committed. */
static int ckpt_aligned(stream_job *j, pending *q, sql_err *e)
{
    uint64_t seq = atomic_load_explicit(&j->ckpt_req, memory_order_relaxed);
    int rc = release(j, q, e);
    bool empty = true;
    for (int o = 0; o < j->nw; o++) {
        empty &= q[o].head == q[o].n;
        j->ckpt_held[o] = false;
    }
    if (!rc && empty) /* (never not empty; if it were, this checkpoint is skipped) */
        rc = stream_ckpt_job_commit(j, seq, -1, false, NULL, e);
    j->ckpt_barriers = 0;
    j->ckpt_done = seq;
    j->ckpt_next_ms = stream_ckpt_now_ms() + j->ckpt_interval_ms;
    return rc;
}

int stream_merge_windows(stream_job *j, sql_err *e)
{
    pending *q = sl_calloc((size_t)j->nw, sizeof *q);
    int rc = q ? SL_OK : oom(e), ndone = 0;
    for (int o = 0; q && o < j->nw; o++)
        q[o].wm = STREAM_WM_NONE;
    while (!rc && ndone < j->nw && !stream_job_failed(j)) {
        bool got = false;
        rc = ckpt_tick(j, e);
        for (int o = 0; o < j->nw && !rc; o++) {
            stream_msg m;
            while (!rc && !(j->ckpt_held && j->ckpt_held[o]) && stream_ring_pop(&j->out[o], &m)) {
                got = true;
                if (m.kind == STREAM_MSG_BARRIER) {
                    if ((uint64_t)m.end != atomic_load(&j->ckpt_req) || m.end <= (int64_t)j->ckpt_done)
                        continue; /* (never: one barrier at a time) */
                    j->ckpt_held[o] = true;
                    if (++j->ckpt_barriers == j->nw)
                        rc = ckpt_aligned(j, q, e);
                    continue;
                }
                bool result = m.kind == STREAM_MSG_RESULT || m.kind == STREAM_MSG_RESULT_BYTES;
                if (result)
                    rc = queue_add(&q[o], &m) ? (stream_msg_free(&m), oom(e)) : SL_OK;
                else if (m.kind == STREAM_MSG_UPDATE)
                    rc = update_in(j, m.b, m.end, e);
                else if (m.kind == STREAM_MSG_DONE)
                    ndone++;
                if (!result)
                    q[o].wm = m.wm;
            }
        }
        if (!rc && got)
            rc = release(j, q, e);
        else if (!rc)
            merger_wait(j);
    }
    for (int o = 0; q && o < j->nw; o++) {
        for (int64_t i = q[o].head; i < q[o].n; i++)
            stream_msg_free(&q[o].m[i]);
        sl_free(q[o].m);
    }
    sl_free(q);
    return rc;
}

/* Rows of an append-only job into the sink: a batch, or bytes formatted by the
 * worker (rows_out); a job keyed by the update view it reads: its changes. */
static int write_rows(stream_job *j, stream_msg *m, sql_err *e)
{
    if (m->kind == STREAM_MSG_UPDATE)
        return update_in(j, m->b, m->end, e);
    if (m->kind == STREAM_MSG_BYTES)
        return write_formatted(j, m, e);
    return m->b ? stream_sink_write(j->sink, m->b, e) : SL_OK;
}

/* Interleaved (kafka without an aggregation on several workers, telemetry without
 * one): every barrier
 * of checkpoint seq arrived (or its reader is done): each reader's place is saved,
 * then the commit, then the readers' rings flow again. */
static int interleave_commit(stream_job *j, uint64_t seq, const bool *done, sql_err *e)
{
    int rc = SL_OK;
    for (int o = 0; o < j->nw && !rc; o++) {
        const stream_wk *w = &j->w[o];
        if (j->live) {
            rc = stream_ckpt_live_reader_save(j, seq, o, done[o], e);
            continue;
        }
        rc = done[o] ? stream_ckpt_reader_save(j, seq, o, j->nsplits, false, NULL, e)
                     : stream_ckpt_reader_save(j, seq, o, w->ck_chunk, w->ck_has_pos,
                                               &w->ck_pos, e);
    }
    if (!rc)
        rc = stream_ckpt_job_commit(j, seq, -1, false, NULL, e);
    for (int o = 0; o < j->nw; o++)
        j->ckpt_held[o] = false;
    j->ckpt_barriers = 0;
    j->ckpt_done = seq;
    j->ckpt_next_ms = stream_ckpt_now_ms() + j->ckpt_interval_ms;
    return rc;
}

/* Interleaved: rows as they come from each reader (its own in order); a reader is
 * done once its last split ended (live: once the job stops). */
static int merge_interleaved(stream_job *j, sql_err *e)
{
    bool *done = sl_calloc((size_t)j->nw, sizeof *done);
    int *left = sl_calloc((size_t)j->nw, sizeof *left); /* splits still to end */
    int rc = done && left ? SL_OK : oom(e), ndone = 0;
    for (int o = 0; o < j->nw && !rc; o++) {
        int from = j->resuming ? j->w[o].rs_chunk : o;
        for (int c = from; c < j->nsplits; c += j->nw)
            left[o]++;
        if (j->live) /* live: its one end, when the job stops */
            left[o] = 1;
        if (!left[o]) {
            done[o] = true;
            ndone++;
        }
    }
    while (!rc && ndone < j->nw && !stream_job_failed(j)) {
        if ((rc = ckpt_tick(j, e)))
            break;
        bool got = false;
        for (int o = 0; o < j->nw && !rc; o++) {
            stream_msg m;
            while (!rc && !(j->ckpt_held && j->ckpt_held[o]) && stream_ring_pop(&j->out[o], &m)) {
                got = true;
                if (m.kind == STREAM_MSG_BARRIER) {
                    if ((uint64_t)m.end == atomic_load(&j->ckpt_req) &&
                        (uint64_t)m.end > j->ckpt_done) {
                        j->ckpt_held[o] = true;
                        j->ckpt_barriers++;
                    }
                } else if (m.kind == STREAM_MSG_CHUNK_END) {
                    if (--left[o] == 0) {
                        done[o] = true;
                        ndone++;
                    }
                } else {
                    rc = write_rows(j, &m, e);
                }
            }
        }
        uint64_t req = j->ckpt ? atomic_load(&j->ckpt_req) : 0;
        if (!rc && req > j->ckpt_done && j->ckpt_barriers) {
            int in = 0;
            for (int o = 0; o < j->nw; o++)
                in += j->ckpt_held[o] || done[o];
            if (in == j->nw) {
                rc = interleave_commit(j, req, done, e);
                got = true;
            }
        }
        if (!rc && !got)
            merger_wait(j);
    }
    sl_free(done);
    sl_free(left);
    return rc;
}

/* Without an aggregation: each split's rows in split order, so in line order. */
int stream_merge_splits(stream_job *j, sql_err *e)
{
    if (j->interleave)
        return merge_interleaved(j, e);
    int rc = SL_OK;
    /* the splits written since the start (or the checkpoint resumed, whose reading
     * position counts everything before it): a checkpoint's position adds them */
    uint64_t before_read = 0, before_late = 0, before_bad = 0;
    for (int c = j->resuming ? j->resume->chunk : 0; !j->live && c < j->nsplits && !rc &&
                                                   !stream_job_failed(j);) {
        stream_msg m;
        if ((rc = ckpt_tick(j, e)))
            break;
        if (!stream_ring_pop(&j->out[c % j->nw], &m)) {
            merger_wait(j);
            continue;
        }
        const stream_wk *w = &j->w[c % j->nw];
        if (m.kind == STREAM_MSG_BARRIER && (uint64_t)m.end > j->ckpt_done && w->ck_chunk == c) {
            /* the output so far is the input up to this reader's position; its counts
             * are the whole input's before it (a resumed reader of c starts from them) */
            stream_reader_pos pos = w->ck_pos;
            pos.rows_read += before_read;
            pos.late += before_late;
            pos.bad += before_bad;
            rc = stream_ckpt_job_commit(j, (uint64_t)m.end, c, true, &pos, e);
            j->ckpt_done = (uint64_t)m.end;
            j->ckpt_next_ms = stream_ckpt_now_ms() + j->ckpt_interval_ms;
        } else if (m.kind == STREAM_MSG_CHUNK_END) {
            before_read += j->splits[c].rows_read;
            before_late += j->splits[c].late;
            before_bad += j->splits[c].bad;
            c++;
        }
        else
            rc = write_rows(j, &m, e);
    }
    return rc;
}
