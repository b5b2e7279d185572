/*
 * ckpt_job.c - checkpoints of a running job: what a worker's part holds and
 * how it is put back, what the merger commits (docs/internals/stream.md,
 * "Checkpoints").  The barrier protocol itself is in worker.c; the objects'
 * bytes in checkpoint.c.
 *
 * A worker's part is written by the worker when it is aligned on a barrier:
 * its reading half stopped right after the barrier it sent (ck_chunk,
 * ck_pos), and its owning half has every producer's rows before their
 * barriers and none after.  The manifest is written by the merger once
 * every owner's barrier arrived and the sink's bytes up to there are on
 * disk, so a manifest names a state that is consistent: source positions,
 * window tables and committed output all cut at the same barrier.
 */
#include "stream/checkpoint.h"
#include "stream/job.h"
#include "stream/live.h"
#include "stream/ulog.h"

#include "base/alloc.h"
#include "base/log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t stream_ckpt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The newest manifest of ck, checked against the statement and worker count
 * (where: how the error names the store). */
static int newest(stream_run *r, const char *text, const char *where, stream_ckpt *ck,
                  stream_ckpt_manifest *m, bool *found, sql_err *e)
{
    int rc = stream_ckpt_latest(ck, m, found, e);
    if (!rc && *found && m->job_hash != stream_ckpt_hash(text))
        rc = sql_err_set(e, "55000", -1, "checkpoint %llu in \"%s\" belongs to another statement",
                         (unsigned long long)m->seq, where);
    int nw = r->o->workers < 1 ? 1 : r->o->workers;
    if (!rc && *found && m->nworkers != (uint32_t)nw)
        rc = sql_err_set(e, "55000", -1, "checkpoint %llu was taken with %u workers: run with "
                         "--workers %u to resume it", (unsigned long long)m->seq, m->nworkers,
                         m->nworkers);
    if (!rc && *found) {
        r->sink_resume = true;
        r->sink_resume_bytes = m->sink_bytes;
    }
    return rc;
}

int stream_ckpt_job_open(stream_run *r, const char *text, stream_ckpt **ck,
                         stream_ckpt_manifest *m, bool *found, sql_err *e)
{
    int job = r->njobs++;
    *ck = NULL;
    *found = false;
    r->sink_resume = false;
    if (!r->o->checkpoint_dir)
        return SL_OK;
    int rc = stream_ckpt_open(r->o->checkpoint_dir, job, ck, e);
    return rc ? rc : newest(r, text, r->o->checkpoint_dir, *ck, m, found, e);
}

int stream_ckpt_server_open(stream_run *r, struct objstore *os, const char *name,
                            const char *text, stream_ckpt **ck, stream_ckpt_manifest *m,
                            bool *found, sql_err *e)
{
    *ck = NULL;
    *found = false;
    r->sink_resume = false;
    char prefix[200];
    if ((size_t)snprintf(prefix, sizeof prefix, STREAM_CKPT_SERVER_PREFIX "%s", name) >=
        sizeof prefix)
        return sql_err_set(e, "42622", -1, "checkpoint: the name \"%s\" is too long", name);
    int rc = stream_ckpt_open_store(os, prefix, ck, e);
    return rc ? rc : newest(r, text, prefix, *ck, m, found, e);
}

void stream_ckpt_server_clear(struct objstore *os, const char *name)
{
    sql_err e;
    stream_ckpt *ck;
    char prefix[200];
    if ((size_t)snprintf(prefix, sizeof prefix, STREAM_CKPT_SERVER_PREFIX "%s", name) >=
            sizeof prefix ||
        stream_ckpt_open_store(os, prefix, &ck, &e))
        return;
    stream_ckpt_clear(ck);
    stream_ckpt_close(ck);
}

/* ---- the writer: the store's waits off the readers, owners and merger ---------- */

typedef struct ckw_task {
    struct ckw_task *next;
    bool commit;             /* else a put of b under name */
    uint64_t seq;
    char name[32];
    dbuf b;
    int fd;                  /* commit: the sink's descriptor to flush first (-1: none) */
    stream_ckpt_manifest m;
} ckw_task;

struct stream_ckpt_writer {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    ckw_task *head, *tail;
    bool stop;
    int commits;             /* handed over, not done */
    _Atomic int failed;
    sql_err err;             /* its first failure (read once failed is set) */
};

static void ckw_free(ckw_task *t)
{
    dbuf_free(&t->b);
    sl_free(t);
}

static int ckw_run(stream_job *j, ckw_task *t, sql_err *e)
{
    if (!t->commit)
        return stream_ckpt_put_obj(j->ckpt, t->seq, t->name, &t->b, e);
    int rc = stream_sink_sync_wait(j->sink, t->fd, e);
    return rc ? rc : stream_ckpt_commit(j->ckpt, &t->m, e);
}

static void *ckw_main(void *arg)
{
    stream_job *j = arg;
    struct stream_ckpt_writer *k = j->ckw;
    pthread_mutex_lock(&k->mu);
    for (;;) {
        while (!k->head && !k->stop)
            pthread_cond_wait(&k->cv, &k->mu);
        ckw_task *t = k->head;
        if (!t)
            break;
        if (!(k->head = t->next))
            k->tail = NULL;
        pthread_mutex_unlock(&k->mu);
        sql_err e;
        sql_err_clear(&e);
        /* after a failure nothing more: a later manifest would name lost parts */
        if (!atomic_load_explicit(&k->failed, memory_order_acquire) && ckw_run(j, t, &e)) {
            k->err = e;
            atomic_store_explicit(&k->failed, 1, memory_order_release);
        }
        pthread_mutex_lock(&k->mu);
        k->commits -= t->commit;
        if (t->commit || atomic_load_explicit(&k->failed, memory_order_relaxed))
            stream_bell_ring(&j->bell); /* the merger: the next may be asked for (or stop) */
        ckw_free(t);
    }
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

int stream_ckpt_writer_start(stream_job *j, sql_err *e)
{
    struct stream_ckpt_writer *k = sl_calloc(1, sizeof *k);
    if (!k)
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    atomic_init(&k->failed, 0);
    j->ckw = k;
    if (pthread_create(&k->th, NULL, ckw_main, j)) {
        pthread_mutex_destroy(&k->mu);
        pthread_cond_destroy(&k->cv);
        sl_free(k);
        j->ckw = NULL;
        return sql_err_set(e, "53000", -1, "checkpoint: could not start its writer thread");
    }
    return SL_OK;
}

int stream_ckpt_writer_stop(stream_job *j, sql_err *e)
{
    struct stream_ckpt_writer *k = j->ckw;
    if (!k)
        return SL_OK;
    pthread_mutex_lock(&k->mu);
    k->stop = true;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
    pthread_join(k->th, NULL);
    int rc = stream_ckpt_writer_failed(j, e);
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cv);
    sl_free(k);
    j->ckw = NULL;
    return rc;
}

int stream_ckpt_writer_failed(stream_job *j, sql_err *e)
{
    struct stream_ckpt_writer *k = j->ckw;
    if (!k || !atomic_load_explicit(&k->failed, memory_order_acquire))
        return SL_OK;
    *e = k->err;
    return SL_EIO;
}

bool stream_ckpt_writer_idle(stream_job *j)
{
    struct stream_ckpt_writer *k = j->ckw;
    if (!k)
        return true;
    pthread_mutex_lock(&k->mu);
    bool idle = !k->commits;
    pthread_mutex_unlock(&k->mu);
    return idle;
}

/* Hands t over (taken), or without a writer runs it here. */
static int ckw_give(stream_job *j, ckw_task *t, sql_err *e)
{
    struct stream_ckpt_writer *k = j->ckw;
    if (!k) {
        int rc = ckw_run(j, t, e);
        ckw_free(t);
        return rc;
    }
    pthread_mutex_lock(&k->mu);
    t->next = NULL;
    if (k->tail)
        k->tail->next = t;
    else
        k->head = t;
    k->tail = t;
    k->commits += t->commit;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
    return SL_OK;
}

/* A put of b's bytes (taken: b is left empty) as object name of checkpoint seq. */
static int ckw_put(stream_job *j, uint64_t seq, const char *name, dbuf *b, sql_err *e)
{
    ckw_task *t = sl_calloc(1, sizeof *t);
    if (!t)
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "checkpoint: out of memory");
    t->seq = seq;
    snprintf(t->name, sizeof t->name, "%s", name);
    t->b = *b;
    dbuf_init(b, STREAM_CKPT_MAX_BYTES);
    return ckw_give(j, t, e);
}

/* Part i of checkpoint seq, encoded in b (freed) unless rc (out of memory). */
static int put_part(stream_job *j, uint64_t seq, int i, int rc, dbuf *b, sql_err *e)
{
    char name[32];
    stream_ckpt_worker_obj(i, name);
    if (rc)
        rc = sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "checkpoint: out of memory");
    else
        rc = ckw_put(j, seq, name, b, e);
    dbuf_free(b);
    return rc;
}

/* A reader's part (p: its fields but the producers' watermarks, none here). */
static int reader_part(stream_job *j, stream_ckpt_worker *p, sql_err *e)
{
    int64_t *in_wm = sl_malloc(sizeof *in_wm * (size_t)j->nw);
    if (!in_wm)
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "checkpoint: out of memory");
    for (int i = 0; i < j->nw; i++)
        in_wm[i] = STREAM_WM_NONE;
    p->owner_wm = STREAM_WM_NONE;
    p->nprod = (uint32_t)j->nw;
    p->in_wm = in_wm;
    dbuf b;
    dbuf_init(&b, STREAM_CKPT_MAX_BYTES);
    size_t len_at;
    int rc = stream_ckpt_worker_begin(p, &b);
    size_t nwins_at = b.len - 4;
    if (!rc && !(rc = stream_ckpt_worker_sessions(&b, nwins_at, 0, &len_at))) {
        stream_ckpt_worker_win_done(&b, len_at);
        rc = stream_ckpt_worker_finish(&b);
    }
    sl_free(in_wm);
    p->in_wm = NULL;
    return put_part(j, p->seq, (int)p->worker, rc, &b, e);
}

int stream_ckpt_reader_save(stream_job *j, uint64_t seq, int w, int32_t chunk, bool has_pos,
                            const stream_reader_pos *pos, sql_err *e)
{
    stream_ckpt_worker p = {.seq = seq, .worker = (uint32_t)w, .chunk = chunk,
                            .has_pos = has_pos, .wm = STREAM_WM_NONE};
    if (has_pos)
        p.pos = *pos;
    return reader_part(j, &p, e);
}

/* ---- a join of two streams: a part per source (winjoin.c, ijoin.c) ------------------ */

void stream_ckpt_join_begin(stream_job *j, int nw, int nsrc)
{
    j->nw = nw;
    j->nsplits = nsrc;
    j->ckpt_done = j->resuming ? j->resume->seq : 0;
    j->ckpt_next_ms = stream_ckpt_now_ms() + j->ckpt_interval_ms;
}

bool stream_ckpt_join_due(const stream_job *j)
{
    return j->ckpt && stream_ckpt_now_ms() >= j->ckpt_next_ms;
}

int stream_ckpt_join_commit(stream_job *j, uint64_t seq, int rc, sql_err *e)
{
    if (!rc)
        rc = stream_ckpt_job_commit(j, seq, -1, false, NULL, e);
    j->ckpt_done = seq;
    j->ckpt_next_ms = stream_ckpt_now_ms() + j->ckpt_interval_ms;
    return rc;
}

int stream_ckpt_source_save(stream_job *j, uint64_t seq, int i, const stream_source *s,
                            int64_t next, int nsets, stream_rows_at at, void *arg, sql_err *e)
{
    stream_ckpt_worker p = {.seq = seq, .worker = (uint32_t)i, .has_pos = true, .wm = s->wm,
                            .owner_wm = next};
    stream_source_save(s, &p.pos);
    int64_t n = 0;
    for (int k = 0; k < nsets; k++)
        n += at(arg, k)->nrows;
    dbuf b, txt;
    dbuf_init(&b, STREAM_CKPT_MAX_BYTES);
    dbuf_init(&txt, 1u << 30);
    size_t len_at;
    int rc = n > UINT32_MAX ? SL_ENOMEM : stream_ckpt_worker_begin(&p, &b);
    size_t nwins_at = b.len - 4; /* begin ends with the window count (0) */
    if (!rc && !(rc = stream_ckpt_worker_sessions(&b, nwins_at, 0, &len_at)))
        rc = stream_ckpt_rows_head(&b, (uint32_t)n, n ? (uint32_t)s->t->ncols : 0);
    for (int k = 0; k < nsets && !rc; k++) {
        const sql_rows *rs = at(arg, k);
        for (int x = 0; x < rs->nb && !rc; x++)
            for (int64_t r = 0; r < rs->b[x]->n && !rc; r++)
                rc = stream_ckpt_row(&b, rs->b[x], r, &txt);
    }
    if (!rc) {
        stream_ckpt_worker_win_done(&b, len_at);
        rc = stream_ckpt_worker_finish(&b);
    }
    dbuf_free(&txt);
    return put_part(j, seq, i, rc, &b, e);
}

int stream_ckpt_source_restore(stream_job *j, int i, stream_source *s, int64_t *next,
                               int (*fn)(void *arg, sql_batch *b), void *arg, sql_err *e)
{
    uint64_t seq = j->resume->seq;
    stream_table *t = s->t;
    dbuf b;
    dbuf_init(&b, STREAM_CKPT_MAX_BYTES);
    stream_ckpt_worker p;
    memset(&p, 0, sizeof p);
    int rc = stream_ckpt_get_worker(j->ckpt, seq, i, &b, e);
    if (!rc && (stream_ckpt_worker_decode(b.p, b.len, &p) || p.seq != seq ||
                p.worker != (uint32_t)i || !p.has_pos))
        rc = sql_err_set(e, "XX001", -1, "checkpoint: the part of source \"%s\" is damaged",
                         t->name);
    int src = rc ? SL_OK : stream_source_restore(s, &p.pos, e);
    if (src == SL_EINVAL)
        rc = sql_err_set(e, "55000", -1, "checkpoint %llu does not fit source \"%s\" (%s)",
                         (unsigned long long)seq, t->name,
                         t->connector == STREAM_CONN_FILE ? "its file is shorter than the place saved"
                         : t->kf ? "its topic has another partition count"
                                 : "its events end before the place saved");
    else
        rc = rc ? rc : src;
    if (!rc) {
        s->wm = p.wm;
        *next = p.owner_wm;
        if (p.sessions_len)
            rc = stream_ckpt_rows_read(p.sessions, p.sessions_len, t->ncols, t->types, fn, arg,
                                       e);
    }
    stream_ckpt_worker_free(&p);
    dbuf_free(&b);
    return rc;
}

/* ---- a materialized view's contents ------------------------------------------------ */

#define VIEW_OBJ "view"

typedef struct rows_out {
    dbuf *b, *txt;
} rows_out;

static int save_rows(void *arg, sql_batch *batch)
{
    rows_out *o = arg;
    int rc = SL_OK;
    for (int64_t r = 0; r < batch->n && !rc; r++)
        rc = stream_ckpt_row(o->b, batch, r, o->txt);
    sql_batch_free(batch);
    return rc;
}

/* The view's rows (every batch it holds; with an upsert log, its live rows with
 * their keys) as checkpoint rows. */
static int view_save(stream_job *j, stream_view *v, uint64_t seq, sql_err *e)
{
    ftab *f = v->f;
    dbuf b, txt;
    dbuf_init(&b, STREAM_CKPT_MAX_BYTES);
    dbuf_init(&txt, 1u << 30);
    uint64_t n = 0;
    int nc = f->t.ncols;
    if (v->log) {
        n = (uint64_t)stream_ulog_rows(v->log);
        stream_ulog_types(v->log, &nc);
    }
    for (int i = 0; i < f->nrows_batches && !v->log; i++)
        n += (uint64_t)f->rows[i]->n;
    int rc = n > UINT32_MAX ? SL_ENOMEM
                            : stream_ckpt_rows_head(&b, (uint32_t)n, n ? (uint32_t)nc : 0);
    rows_out ro = {&b, &txt};
    if (!rc && v->log)
        rc = stream_ulog_read(v->log, true, save_rows, &ro);
    for (int i = 0; i < f->nrows_batches && !rc && !v->log; i++)
        for (int64_t r = 0; r < f->rows[i]->n && !rc; r++)
            rc = stream_ckpt_row(&b, f->rows[i], r, &txt);
    rc = rc ? sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "checkpoint: out of memory")
            : ckw_put(j, seq, VIEW_OBJ, &b, e);
    dbuf_free(&txt);
    dbuf_free(&b);
    return rc;
}

static int view_add(void *arg, sql_batch *b)
{
    stream_view *v = arg;
    int64_t n = b->n;
    if (v->mu) /* a server's view: read by other sessions meanwhile */
        pthread_mutex_lock(v->mu);
    v->f->cur = b;
    int rc = ftab_flush(v->f);
    if (rc)
        v->f->cur = NULL;
    if (v->mu)
        pthread_mutex_unlock(v->mu);
    if (rc) {
        sql_batch_free(b);
        return SL_ENOMEM;
    }
    if (v->emit_on_close)
        v->rows_written += (uint64_t)n;
    return SL_OK;
}

/* A saved row with its key into the view's upsert log. */
static int view_upsert(void *arg, sql_batch *b)
{
    stream_view *v = arg;
    sql_batch *rows, *keys;
    if (stream_ulog_split(b, v->f->t.ncols, &rows, &keys))
        return SL_ENOMEM;
    return stream_ulog_upsert(v->log, rows, keys, v->mu);
}

/* The contents the checkpoint saved put back into the (empty) view. */
static int view_restore(stream_job *j, stream_view *v, sql_err *e)
{
    dbuf b;
    dbuf_init(&b, STREAM_CKPT_MAX_BYTES);
    int rc = stream_ckpt_get_obj(j->ckpt, j->resume->seq, VIEW_OBJ, &b, e);
    int nc;
    const sql_type *lt = v->log ? stream_ulog_types(v->log, &nc) : NULL;
    if (!rc && v->log)
        rc = stream_ckpt_rows_read(b.p, b.len, nc, lt, view_upsert, v, e);
    else if (!rc)
        rc = stream_ckpt_rows_read(b.p, b.len, v->f->t.ncols, v->f->types, view_add, v, e);
    dbuf_free(&b);
    return rc;
}

/* A metrics sink's gauges with checkpoint seq (written before its manifest). */
static int gauges_save(stream_job *j, uint64_t seq, sql_err *e)
{
    stream_table *t = stream_sink_metrics(j->sink);
    if (!t || !t->gauges)
        return SL_OK;
    dbuf b;
    dbuf_init(&b, STREAM_CKPT_MAX_BYTES);
    int rc = stream_ckpt_gauges_begin(seq, &b);
    rc = rc ? rc : stream_gauges_save(t->gauges, &b);
    rc = rc ? rc : stream_ckpt_gauges_finish(&b);
    rc = rc ? sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "checkpoint: out of memory")
            : ckw_put(j, seq, "gauges", &b, e);
    dbuf_free(&b);
    return rc;
}

/* ... and back, resuming (a checkpoint before version 11 has none: the gauges
 * start empty, and the rows after its checkpoint set them again). */
static int gauges_restore(stream_job *j, sql_err *e)
{
    stream_table *t = stream_sink_metrics(j->sink);
    if (!t || j->resume->version < 11)
        return SL_OK;
    if (!t->gauges && stream_gauges_new(t->name, t->ncols, (const char *const *)t->names,
                                        t->types, &t->gauges))
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    dbuf b;
    dbuf_init(&b, STREAM_CKPT_MAX_BYTES);
    int rc = stream_ckpt_get_obj(j->ckpt, j->resume->seq, "gauges", &b, e);
    const uint8_t *body;
    size_t len;
    uint64_t seq;
    if (!rc && (stream_ckpt_gauges_open(b.p, b.len, &seq, &body, &len) || seq != j->resume->seq))
        rc = SL_EINVAL;
    else if (!rc)
        rc = stream_gauges_load(t->gauges, body, len);
    if (rc && !e->state[0])
        rc = rc == SL_ENOMEM ? sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory")
                             : sql_err_set(e, "XX001", -1, "checkpoint: the gauges of metrics "
                                           "sink \"%s\" are damaged", t->name);
    dbuf_free(&b);
    return rc;
}

/* Whether a source of the job is a topic read from its latest offset. */
static bool from_latest(const stream_job *j)
{
    if (j->src)
        return stream_kafka_from_latest(j->src);
    stream_table *src[8];
    int n = j->ijoin || j->winjoin ? stream_plan_sources(j->q->root->p, src, 8) : 0;
    for (int i = 0; i < n; i++)
        if (stream_kafka_from_latest(src[i]))
            return true;
    return false;
}

int stream_ckpt_job_check(stream_job *j, sql_err *e)
{
    if (!j->ckpt)
        return SL_OK;
    const char *why = NULL;
    if ((j->ijoin || j->winjoin) && !stream_join_resumable(j))
        why = "joins of two streams over other sources than files, the generator or topics";
    else if (j->agg && !(j->win && j->win->session)) /* sessions keep rows, not states */
        why = sql_aggtab_unsavable(j->agg);
    stream_view *v = stream_sink_view(j->sink);
    if (!why && !v && !stream_sink_resumable(j->sink))
        why = "its sink";
    if (!why && j->src && j->src->vw) /* the view is whole when it starts: it starts over */
        why = "a materialized view as its source";
    if (why) {
        if (j->resuming)
            return sql_err_set(e, "55000", -1, "checkpoint: the job cannot be resumed (%s)", why);
        fprintf(stderr, "streamlake: job %s: no checkpoints for %s\n",
                j->src ? j->src->name : "(a join of streams)", why);
        stream_ckpt_close(j->ckpt);
        j->ckpt = NULL;
        return SL_OK;
    }
    if (j->resuming && v && v->log && j->resume->version < 4) {
        /* an upsert log saved before version 4 has no keys: start over (the source
         * is read again from its start, so the view ends up the same) */
        fprintf(stderr, "streamlake: job %s: checkpoint %llu predates keyed views: starting "
                "over\n", j->src ? j->src->name : "?", (unsigned long long)j->resume->seq);
        stream_ckpt_clear(j->ckpt);
        j->resuming = false;
        return SL_OK;
    }
    if (j->live) /* every block it takes is noted, for its checkpoints' lists */
        stream_live_track(j->live);
    if (j->resuming && v)
        return view_restore(j, v, e);
    int rc = j->resuming ? gauges_restore(j, e) : SL_OK;
    if (rc)
        return rc;
    /* a table sink stages its rows from now on, tagged: recovery first cuts back what
     * the job published after the checkpoint, a new run what earlier runs published */
    bool keep = from_latest(j); /* not read again */
    return stream_sink_ckpt_start(j->sink, j->resuming, keep,
                                  j->resuming ? j->resume->sink_run : j->sink_tag,
                                  j->resuming ? j->resume->sink_bytes : 0, e);
}

void stream_ckpt_resumed(const stream_job *j)
{
    if (!j->ckpt || !j->resuming)
        return;
    unsigned long long seq = (unsigned long long)j->resume->seq;
    if (j->log_name)
        log_info("stream", "job %s: resuming from checkpoint %llu", j->log_name, seq);
    else
        fprintf(stderr, "streamlake: job %s: resuming from checkpoint %llu\n",
                j->src ? j->src->name : "(a join of streams)", seq);
}

static int damaged(sql_err *e, int w)
{
    return sql_err_set(e, "XX001", -1, "checkpoint: the part of worker %d is damaged", w);
}

int stream_ckpt_worker_restore(stream_wk *w, sql_err *e)
{
    stream_job *j = w->j;
    const stream_ckpt_manifest *m = j->resume;
    w->rs_chunk = m->chunk;  /* no aggregation: the merger's cut, the same for all */
    w->rs_has_pos = m->has_pos;
    w->rs_pos = m->pos;
    if (!j->agg && !j->interleave) /* one cut for all: the manifest's */
        return SL_OK;
    dbuf b;
    dbuf_init(&b, STREAM_CKPT_MAX_BYTES);
    stream_ckpt_worker p;
    memset(&p, 0, sizeof p);
    int rc = stream_ckpt_get_worker(j->ckpt, m->seq, w->id, &b, e);
    if (!rc && stream_ckpt_worker_decode(b.p, b.len, &p))
        rc = damaged(e, w->id);
    if (!rc && (p.seq != m->seq || p.worker != (uint32_t)w->id || p.nprod != (uint32_t)j->nw ||
                (p.nwins && !(w->wins = sl_calloc(p.nwins, sizeof *w->wins)))))
        rc = p.seq != m->seq || p.worker != (uint32_t)w->id || p.nprod != (uint32_t)j->nw
                 ? damaged(e, w->id)
                 : sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    if (!rc) {
        w->wins_cap = (int)p.nwins;
        w->rs_chunk = p.chunk;
        w->rs_has_pos = p.has_pos;
        w->rs_pos = p.pos;
        w->rows_read = p.rows_read;
        w->late = p.late;
        w->bad = p.bad;
        w->max_seen = p.max_seen;
        w->max_ns = p.max_ns;
        w->wm = p.wm;
        w->owner_wm = p.owner_wm;
        w->ukept.assume_in = j->sink_deletes; /* which groups its log holds: not saved */
        memcpy(w->in_wm, p.in_wm, sizeof *w->in_wm * (size_t)j->nw);
    }
    if (!rc && w->ss && !p.sessions_len)
        rc = damaged(e, w->id);
    if (!rc && w->ss)
        rc = stream_sessions_load(w->ss, p.sessions, p.sessions_len, j->sess_ncols,
                                  j->sess_types, e);
    for (uint32_t i = 0; !rc && i < p.nwins; i++) {
        open_win *ow = &w->wins[i];
        ow->start = p.wins[i].start;
        ow->end = p.wins[i].end;
        if (!(rc = sql_aggtab_new(j->agg, &ow->t, e))) {
            w->nwins++;
            rc = sql_aggtab_load(ow->t, p.wins[i].state, p.wins[i].len, e);
            stream_wk_counted(w, ow);
        }
    }
    stream_ckpt_worker_free(&p);
    dbuf_free(&b);
    return rc;
}

/* A job over telemetry: the blocks worker w took since its checkpoint time (over
 * thread_spans, and its streams' states then: spans, stream_spans_save's bytes). */
static int live_save(stream_wk *w, uint64_t seq, const stream_live_done *done, int64_t n,
                     const dbuf *spans, sql_err *e)
{
    stream_ckpt_live l = {.seq = seq, .worker = (uint32_t)w->id, .low_ns = w->ck_live_low,
                          .n = (uint32_t)n, .done = (stream_live_done *)done,
                          .has_spans = w->spans != NULL, .spans = spans->p,
                          .spans_len = (uint32_t)spans->len};
    if (spans->len > UINT32_MAX)
        return sql_err_set(e, "54000", -1, "checkpoint: the open spans of worker %d take more "
                           "than 4 GiB", w->id);
    char name[32];
    snprintf(name, sizeof name, "live-%d", w->id);
    dbuf b;
    dbuf_init(&b, STREAM_CKPT_MAX_BYTES);
    int rc = stream_ckpt_live_encode(&l, &b);
    rc = rc ? sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "checkpoint: out of memory")
            : ckw_put(w->j, seq, name, &b, e);
    dbuf_free(&b);
    return rc;
}

int stream_ckpt_spans_keep(stream_wk *w, sql_err *e)
{
    if (!w->spans)
        return SL_OK;
    dbuf_reset(&w->ck_spans);
    return stream_spans_save(w->spans, &w->ck_spans)
               ? sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "checkpoint: out of memory")
               : SL_OK;
}

int stream_ckpt_live_reader_save(stream_job *j, uint64_t seq, int i, bool done, sql_err *e)
{
    stream_wk *w = &j->w[i];
    stream_ckpt_worker p = {.seq = seq, .worker = (uint32_t)i, .chunk = j->nsplits,
                            .rows_read = done ? w->rows_read : w->ck_read,
                            .late = done ? w->late : w->ck_late,
                            .wm = done ? w->wm : w->ck_wm};
    int rc = reader_part(j, &p, e);
    if (!rc && done) /* (its checkpoint time: blocks no longer come to it) */
        w->ck_live_low = stream_live_low(j->live, i, INT64_MAX);
    if (!rc && done)
        rc = stream_ckpt_spans_keep(w, e);
    return rc ? rc : live_save(w, seq, done ? w->live : w->ck_live,
                               done ? w->nlive : w->ck_nlive, &w->ck_spans, e);
}

int stream_ckpt_live_restore(stream_wk *w, sql_err *e)
{
    stream_job *j = w->j;
    char name[32];
    snprintf(name, sizeof name, "live-%d", w->id);
    dbuf b;
    dbuf_init(&b, STREAM_CKPT_MAX_BYTES);
    stream_ckpt_live l;
    memset(&l, 0, sizeof l);
    int rc = stream_ckpt_get_obj(j->ckpt, j->resume->seq, name, &b, e);
    if (!rc && (rc = stream_ckpt_live_decode(b.p, b.len, &l)))
        rc = rc == SL_ENOMEM ? sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory")
                             : damaged(e, w->id);
    if (!rc && (l.seq != j->resume->seq || l.worker != (uint32_t)w->id ||
                l.has_spans != (w->spans != NULL)))
        rc = damaged(e, w->id);
    if (!rc && w->spans && (rc = stream_spans_load(w->spans, l.spans, l.spans_len)))
        rc = rc == SL_ENOMEM ? sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory")
                             : damaged(e, w->id);
    if (!rc) {
        sl_free(w->live);
        w->live = l.done;
        w->nlive = w->live_cap = (int64_t)l.n;
        w->rs_live_low = l.low_ns;
        l.done = NULL;
    }
    sl_free(l.done);
    dbuf_free(&b);
    return rc;
}

int stream_ckpt_worker_save(stream_wk *w, uint64_t seq, sql_err *e)
{
    stream_job *j = w->j;
    stream_ckpt_worker p = {
        .seq = seq, .worker = (uint32_t)w->id, .chunk = w->ck_chunk, .has_pos = w->ck_has_pos,
        .pos = w->ck_pos, .rows_read = w->rows_read, .late = w->late, .bad = w->bad,
        .max_seen = w->max_seen, .max_ns = w->max_ns, .wm = w->wm, .owner_wm = w->owner_wm,
        .nprod = (uint32_t)j->nw, .in_wm = w->in_wm};
    dbuf b;
    dbuf_init(&b, STREAM_CKPT_MAX_BYTES);
    size_t len_at;
    int rc = stream_ckpt_worker_begin(&p, &b);
    size_t nwins_at = b.len - 4; /* begin ends with the window count */
    for (int i = 0; i < w->nwins && !rc; i++) {
        if (!(rc = stream_ckpt_worker_win(&b, w->wins[i].start, w->wins[i].end, &len_at)) &&
            !(rc = sql_aggtab_save(w->wins[i].t, &b)))
            stream_ckpt_worker_win_done(&b, len_at);
    }
    if (!rc && !(rc = stream_ckpt_worker_sessions(&b, nwins_at, (uint32_t)w->nwins, &len_at)) &&
        w->ss && !(rc = stream_sessions_save(w->ss, &b)))
        stream_ckpt_worker_win_done(&b, len_at);
    if (!rc)
        rc = stream_ckpt_worker_finish(&b);
    rc = put_part(j, seq, w->id, rc, &b, e);
    /* (its reading half waits in this thread: its list and states are as at the barrier) */
    rc = !rc && j->live ? stream_ckpt_spans_keep(w, e) : rc;
    return !rc && j->live ? live_save(w, seq, w->live, w->nlive, &w->ck_spans, e) : rc;
}

int stream_ckpt_job_commit(stream_job *j, uint64_t seq, int32_t chunk, bool has_pos,
                           const stream_reader_pos *pos, sql_err *e)
{
    if (j->abort && atomic_load(j->abort)) /* the state may hold the input's early end */
        return SL_OK;
    stream_ckpt_manifest m = {.seq = seq, .job_hash = j->ckpt_hash,
                              .file_size = j->file ? stream_file_size(j->file) : 0,
                              .nworkers = (uint32_t)j->nw,
                              /* telemetry: each worker reads the streams routed to it */
                              .nsplits = (uint32_t)(j->live ? j->nw : j->nsplits),
                              .chunk = chunk, .has_pos = has_pos};
    if (pos)
        m.pos = *pos;
    ckw_task *t = sl_calloc(1, sizeof *t);
    if (!t)
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "checkpoint: out of memory");
    int rc = stream_sink_sync_begin(j->sink, &m.sink_bytes, &m.sink_run, &t->fd, e);
    stream_view *v = stream_sink_view(j->sink);
    if (!rc && v) /* its only writer is this thread: read without the view's mutex */
        rc = view_save(j, v, seq, e);
    if (!rc) /* (likewise: the merger sets them) */
        rc = gauges_save(j, seq, e);
    if (rc) {
        sl_free(t);
        return rc;
    }
    /* the writer flushes the sink and publishes the manifest after the parts */
    t->commit = true;
    t->seq = seq;
    t->m = m;
    return ckw_give(j, t, e);
}

void stream_ckpt_job_close(stream_job *j, bool ok)
{
    if (!j->ckpt)
        return;
    if (ok)
        stream_ckpt_clear(j->ckpt);
    stream_ckpt_close(j->ckpt);
    j->ckpt = NULL;
}
