/*
 * exec.c - a job on partitioned workers set up, run and torn down (the
 * workers themselves: worker.c; the merger: merge.c): each worker's state and
 * its rings (x[p][o] between every pair, out[w] to the merger), the file cut
 * into splits (how a CSV file holding quotes is cut, with or without
 * checkpoints, and as a resumed job's checkpoint was taken), the checkpoint
 * state and a resumed job's parts read back, the worker threads started and
 * the merger run on the calling thread, and the source's figures summed when
 * the job ends.  stream_job_run runs one statement of `streamlake run`.
 */
#include "stream/checkpoint.h"
#include "stream/job.h"
#include "stream/live.h"

#include "base/alloc.h"

#include <stdio.h>
#include <string.h>

#define RING_CAP 64

typedef stream_job job;
typedef stream_wk wk;

static int oom(sql_err *e)
{
    return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
}

/* ---- setting up --------------------------------------------------------------- */

static int wk_init(job *j, wk *w, int id)
{
    w->j = j;
    w->id = id;
    stream_bell_init(&w->bell);
    arena_init(&w->scratch, 4096, 64u << 20);
    arena_init(&w->pscratch, 4096, 64u << 20);
    sql_exec_ectx(&j->q->x, &w->cx, &w->err, &w->scratch);
    w->wm = w->owner_wm = STREAM_WM_NONE;
    w->in_wm = sl_malloc(sizeof *w->in_wm * (size_t)j->nw);
    w->bar_in = sl_calloc((size_t)j->nw, sizeof *w->bar_in);
    w->p_done = sl_calloc((size_t)j->nw, sizeof *w->p_done);
    if (!w->in_wm || !w->bar_in || !w->p_done)
        return SL_ENOMEM;
    for (int p = 0; p < j->nw; p++)
        w->in_wm[p] = STREAM_WM_NONE;
    bool session = j->agg && j->win && j->win->session;
    sql_type ty[STREAM_MAX_KEYS] = {sql_type_of(ST_INT8)};
    for (int k = 0; k < j->npkeys; k++)
        ty[k] = session ? j->sess_types[j->sess_cols[k]] : j->agg->p->agg.keys[j->pkeys[k]]->type;
    if (j->agg && j->nw > 1 && j->npkeys) {
        if (sql_ht_init(&w->hk, j->npkeys, ty, true))
            return SL_ENOMEM;
        w->hk_on = true;
    }
    if (session && stream_sessions_new(j->win->size_ns, j->src->time_col, j->sess_cols,
                                       j->npkeys, ty, &w->ss))
        return SL_ENOMEM;
    if (session && j->on_update)
        stream_sessions_track(w->ss);
    /* an append-only job's rows are formatted by their worker; closed windows' rows
     * too when there are several (with one, the merger formatting them is a second
     * thread at work; with more, it would be the one all wait for).  A GROUP BY's
     * updates, a view's rows and a sink's log are not formatted here. */
    if ((!j->agg || (j->nw > 1 && j->win && !j->on_update && !j->ulog && !j->log_to_sink)) &&
        stream_sink_preformat(j->sink) && stream_sink_fmt_new(j->sink, &w->sfmt))
        return SL_ENOMEM;
    w->fmt_row_bytes = 64;
    return SL_OK;
}

static void wk_free(wk *w)
{
    stream_sink_fmt_free(w->sfmt);
    stream_sessions_free(w->ss);
    sql_aggtab_free(w->cur);
    for (int i = 0; i < w->nwins; i++)
        sql_aggtab_free(w->wins[i].t);
    sl_free(w->wins);
    for (int i = 0; i < w->nlwins; i++)
        sql_aggtab_free(w->lwins[i].t);
    sl_free(w->lwins);
    sl_free(w->in_wm);
    sl_free(w->bar_in);
    sl_free(w->p_done);
    sl_free(w->sel);
    sl_free(w->rows);
    sl_free(w->starts);
    stream_ahead_free(w);
    sl_free(w->ahead);
    sl_free(w->ahead_pos);
    sl_free(w->ukept.bits);
    sl_free(w->live);
    sl_free(w->ck_live);
    sl_free(w->replayed);
    stream_spans_free(w->spans);
    dbuf_free(&w->ck_spans);
    stream_keyed_free(w);
    sl_free(w->keep);
    if (w->hk_on)
        sql_ht_free(&w->hk);
    arena_destroy(&w->scratch);
    arena_destroy(&w->pscratch);
}

/* A job over telemetry resumed: every worker's part and list of blocks read back,
 * the source's watermark and figures as they were (the workers replay the rest). */
static int live_resume(job *j, sql_err *e)
{
    int rc = SL_OK; /* (the worker count: checked with the manifest, ckpt_job.c) */
    int64_t wm = STREAM_WM_END;
    uint64_t read = 0, late = 0;
    for (int i = 0; i < j->nw && !rc; i++) {
        if (!(rc = stream_ckpt_worker_restore(&j->w[i], e)))
            rc = stream_ckpt_live_restore(&j->w[i], e);
        wm = j->w[i].wm < wm ? j->w[i].wm : wm;
        read += j->w[i].rows_read;
        late += j->w[i].late;
    }
    if (rc)
        return rc;
    stream_live_restore(j->live, wm, read, late);
    stream_ckpt_resumed(j);
    return SL_OK;
}

/* Checkpoints: the merger's state; on recovery every worker's part read back. */
static int ckpt_setup(job *j, sql_err *e)
{
    if (!j->ckpt)
        return SL_OK;
    if (!(j->ckpt_held = sl_calloc((size_t)j->nw, sizeof *j->ckpt_held)))
        return oom(e);
    j->ckpt_done = j->resuming ? j->resume->seq : 0;
    atomic_init(&j->ckpt_req, j->ckpt_done);
    j->ckpt_next_ms = stream_ckpt_now_ms() + j->ckpt_interval_ms;
    for (int i = 0; i < j->nw; i++)
        j->w[i].ck_sent = j->ckpt_done;
    int rc = stream_ckpt_writer_start(j, e);
    if (rc || !j->resuming)
        return rc;
    if (j->live)
        return live_resume(j, e);
    if (j->src->kf && (j->resume->file_size != stream_file_size(j->file) ||
                       j->resume->nsplits != (uint32_t)j->nsplits))
        return sql_err_set(e, "55000", -1, "checkpoint %llu: the topic of source \"%s\" has "
                           "another partition count, or the checkpoint cut it into other "
                           "splits (a job without aggregation taken before its partitions "
                           "were read by every worker): remove the checkpoints to start over",
                           (unsigned long long)j->resume->seq, j->src->name);
    if (j->resume->file_size != stream_file_size(j->file) ||
        j->resume->nsplits != (uint32_t)j->nsplits)
        return sql_err_set(e, "55000", -1, "checkpoint %llu: source \"%s\" is not the file it "
                           "was taken over", (unsigned long long)j->resume->seq, j->src->name);
    for (int i = 0; i < j->nw && !rc; i++)
        rc = stream_ckpt_worker_restore(&j->w[i], e);
    if (!rc)
        stream_ckpt_resumed(j);
    return rc;
}

static int setup(job *j, int nw, sql_err *e)
{
    j->nw = nw;
    j->preagg = stream_preagg_fits(j, nw);
    stream_bell_init(&j->bell);
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->first_done, NULL);
    atomic_init(&j->failed, 0);
    atomic_init(&j->state_mem, 0);
    j->ulog_mem = 0;
    j->w = sl_calloc((size_t)nw, sizeof *j->w);
    j->out = sl_calloc((size_t)nw, sizeof *j->out);
    j->x = j->agg ? sl_calloc((size_t)nw * (size_t)nw, sizeof *j->x) : NULL;
    if (!j->w || !j->out || (j->agg && !j->x))
        return oom(e);
    for (int i = 0; i < nw; i++) {
        if (wk_init(j, &j->w[i], i) ||
            stream_ring_init(&j->out[i], RING_CAP, &j->bell, &j->w[i].bell))
            return oom(e);
    }
    if (!(j->pub = sl_calloc((size_t)nw, sizeof *j->pub)))
        return oom(e);
    for (int i = 0; i < nw; i++)
        atomic_init(&j->pub[i].wm, STREAM_WM_NONE);
    atomic_store_explicit(&j->pub_nw, nw, memory_order_release);
    for (int p = 0; j->x && p < nw; p++)
        for (int o = 0; o < nw; o++)
            if (p != o && stream_ring_init(&j->x[p * nw + o], RING_CAP, &j->w[o].bell,
                                           &j->w[p].bell))
                return oom(e);
    /* live rows without an aggregation: each worker's as they come */
    j->interleave = j->live && !j->agg;
    for (int i = 0; j->live && j->src->tel_view == LAKE_THREAD_SPANS && i < nw; i++) {
        if (!(j->w[i].spans = stream_spans_new(0)))
            return oom(e);
        dbuf_init(&j->w[i].ck_spans, STREAM_CKPT_MAX_BYTES);
    }
    if (j->live)
        return ckpt_setup(j, e);
    /* kafka without an aggregation: each worker reads its partitions and the
     * merger writes rows as they come (interleaved: a partition's rows in order) */
    /* read ahead, each split checks where it starts (read_ahead): no pass over the
     * file for quotes.  A resumed job does not read its finished splits again, so it
     * cuts the file as the checked run's splits ended up (their starts walked, when
     * the file holds a quote); a checkpoint before version 9 was taken over the
     * records' cut.  A followed file with checkpoints is cut at records too */
    int cut = STREAM_CUT_QUOTED;
    if (nw > 1 && !j->src->kf && !j->src->nx && !j->src->late_error &&
        j->src->time_col >= 0 && !(j->ckpt && j->src->follow))
        cut = !j->resuming ? STREAM_CUT_CHECKED
              : j->resume->version >= 9 ? STREAM_CUT_AS_CHECKED : STREAM_CUT_QUOTED;
    /* a followed file: what it holds now is cut for every worker (its splits read
     * ahead, or after a first pass); its last split grows.  A resumed job cuts what the
     * file held when the checkpoint's run started (the manifest's file size: the
     * file has grown since), as that run did (one split before manifest version 7) */
    bool follow_cut = j->src->follow && nw > 1 &&
                      j->src->time_col >= 0 &&
                      !(j->resuming && j->resume->nsplits < 2);
    if (j->resuming && j->src->follow && !j->src->kf &&
        stream_file_cut_at(j->file, j->resume->file_size))
        return sql_err_set(e, "55000", -1, "checkpoint %llu: source \"%s\" holds fewer bytes "
                           "than when the checkpoint was taken (a followed file may only "
                           "grow): remove the checkpoints to start over",
                           (unsigned long long)j->resume->seq, j->src->name);
    if (stream_file_split(j->file, nw, cut, follow_cut, &j->splits, &j->nsplits))
        return oom(e);
    for (int c = 0; c < j->nsplits; c++) /* an update view read with its keys */
        j->splits[c].keyed = j->ukeyed;
    j->interleave = j->src->kf && !j->agg && j->nsplits > 1;
    /* a file's splits read ahead, with no first pass: not with late = 'error' (its
     * line), or when resuming a checkpoint older than version 5 (its positions' lines
     * count from the file's start).  A stop flag (a server's job) ends each split not
     * yet read ahead at once (read_split), so nobody waits long for a prefix */
    j->ahead = j->nsplits > 1 && !j->src->kf && !j->src->nx && !j->src->late_error &&
               !(j->resuming && j->resume->version < 5);
    for (int c = 0; j->ahead && c < j->nsplits; c++)
        j->splits[c].line = 0; /* counted from the split's start (an error's line: later) */
    return ckpt_setup(j, e);
}

static void teardown(job *j)
{
    for (int i = 0; j->out && i < j->nw; i++)
        stream_ring_free(&j->out[i]);
    for (int i = 0; j->x && i < j->nw * j->nw; i++)
        stream_ring_free(&j->x[i]);
    for (int i = 0; j->w && i < j->nw; i++)
        wk_free(&j->w[i]);
    sl_free(j->w);
    sl_free(j->out);
    sl_free(j->x);
    sl_free(j->splits);
    sl_free(j->ckpt_held);
    pthread_cond_destroy(&j->first_done);
    pthread_mutex_destroy(&j->mu);
    stream_file_close(j->file);
}

/* The source's figures: summed over workers; the watermark the last one a single
 * reader would have had (the largest event time of the file minus the delay). */
static void figures(job *j)
{
    stream_table *src = j->src;
    if (j->live)
        return; /* the subscription's (jobs.c) */
    stream_wm all;
    stream_wm_init(&all, src->delay_ns);
    src->rows_read = src->late_dropped = src->bad_rows = 0;
    src->rows_exchanged = src->partials_exchanged = 0;
    src->readers = j->nsplits < j->nw ? j->nsplits : j->nw;
    for (int i = 0; i < j->nw; i++) {
        const wk *w = &j->w[i];
        src->rows_read += w->rows_read;
        src->late_dropped += w->late;
        src->bad_rows += w->bad;
        src->rows_exchanged += w->rows_x;
        src->partials_exchanged += w->parts_x;
        if (w->max_seen)
            stream_wm_observe(&all, w->max_ns);
    }
    src->watermark_ns = stream_wm_value(&all);
    src->read_once = true;
}

int stream_job_exec(stream_job *j, int nw)
{
    sql_err *e = j->e;
    stream_table *src = j->src;
    if (!j->live && stream_path_resolve(src->path, sizeof src->path, j->r->o->input_dir,
                                        src->path_opt))
        return sql_err_set(e, "22023", -1, "source \"%s\": path too long", src->name);
    int rc = j->live ? SL_OK : stream_file_open(src, &j->file, e);
    if (!rc)
        rc = setup(j, nw, e);
    int started = 0;
    for (; !rc && started < nw; started++)
        if (pthread_create(&j->w[started].th, NULL, stream_worker_main, &j->w[started]))
            break;
    if (!rc && started < nw) {
        sql_err fe;
        sql_err_set(&fe, "53000", -1, "could not start %d worker threads", nw);
        stream_job_fail(j, -1, &fe); /* wakes the started ones, the first pass's wait too */
    }
    if (!rc && !stream_job_failed(j)) {
        sql_err me;
        sql_err_clear(&me);
        int mrc = j->agg ? stream_merge_windows(j, &me) : stream_merge_splits(j, &me);
        if (mrc)
            stream_job_fail(j, INT32_MAX, me.state[0] ? &me : (oom(&me), &me));
    }
    for (int i = 0; i < started; i++)
        pthread_join(j->w[i].th, NULL);
    sql_err we;
    sql_err_clear(&we);
    if (stream_ckpt_writer_stop(j, &we) && !stream_job_failed(j))
        stream_job_fail(j, INT32_MAX, &we); /* a checkpoint not written: the job fails as it would have */
    if (!rc && stream_job_failed(j)) {
        *e = j->ferr;
        rc = SL_EINVAL;
    }
    if (!rc)
        figures(j);
    teardown(j);
    return rc;
}

int stream_job_run(stream_run *r, const char *text, const PgQuery__Node *st, sql_err *e)
{
    job j;
    int nw;
    stream_ckpt *ck;
    stream_ckpt_manifest man;
    bool found;
    r->last_state_peak = 0;
    int rc = stream_ckpt_job_open(r, text, &ck, &man, &found, e);
    if (rc) {
        stream_ckpt_close(ck);
        return rc;
    }
    rc = stream_job_plan(r, text, st, &j, &nw, e);
    r->sink_resume = false;
    j.ckpt = ck;
    j.ckpt_hash = stream_ckpt_hash(text);
    /* the statement and its place in the script: the same job in every run of the file */
    j.sink_tag = (j.ckpt_hash ^ ((uint64_t)r->njobs * 0x9E3779B97F4A7C15ull)) | 1;
    j.ckpt_interval_ms = r->o->checkpoint_interval_ms > 0 ? r->o->checkpoint_interval_ms : 2000;
    j.resuming = found;
    j.resume = &man;
    if (!rc)
        rc = stream_ckpt_job_check(&j, e);
    if (!rc)
        rc = j.winjoin ? stream_winjoin_exec(&j, nw)
             : j.ijoin ? stream_ijoin_exec(&j, nw)
                       : stream_job_exec(&j, nw);
    if (!rc)
        rc = stream_sink_commit(j.sink, e);
    r->last_state_peak = atomic_load(&j.state_peak);
    stream_ckpt_job_close(&j, !rc);
    if (rc && !e->state[0])
        *e = j.q && j.q->e->state[0] ? *j.q->e
                                      : (sql_err_set(e, SQLSTATE_INTERNAL, -1, "%s",
                                                     sl_strerror(rc)), *e);
    stream_job_free(&j);
    return rc;
}
