/*
 * splits.c - where each split of a worker's file starts (rule 1: watermarks
 * and lateness as one reader in line order has them), the reading half's
 * state that worker.c's reader consults (docs/internals/stream.md, "Splits
 * and the watermark"):
 *
 *   read ahead    a split parsed whole, late rows kept (stream_keep_all),
 *                 each kept batch's reading place recorded for checkpoints;
 *                 once the splits before it are published (stream_prefix_ready)
 *                 its batches are served with lateness decided under the
 *                 prefix maximum (stream_ahead_next); stream_ahead_place is
 *                 where a checkpoint puts such a split's reader
 *   first pass    every split scanned for its largest event time and line
 *                 count, then each one's starting line and maximum
 *   resume pass   a resumed job's splits that are not read again, scanned and
 *                 published for the splits after them
 *
 * The wait for the prefix (doing owner work and joining checkpoints) is the
 * worker's (worker.c's read_ahead).
 */
#include "stream/job.h"

#include "base/alloc.h"

#include <stddef.h>
#include <string.h>

typedef stream_job job;
typedef stream_wk wk;

static int oom(sql_err *e)
{
    return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
}

/* Checkpoints of a split read ahead: where its reader was after a kept batch.
 * Its watermark fields are not kept: a barrier takes the worker's (lw), which
 * is one reader's in line order. */
struct ahead_pos {
    uint64_t offset, rows_read, bad;
    int64_t line;
    bool header_done;
};


/* Whether every split before c is published (read ahead); the prefix maximum of
 * their largest event times is gathered as they come. */
bool stream_prefix_ready(wk *w, int c)
{
    job *j = w->j;
    for (; w->prefix < c; w->prefix++) {
        const stream_split *s = &j->splits[w->prefix];
        if (!atomic_load_explicit(&s->parsed, memory_order_acquire))
            return false;
        if (s->seen && (!w->pre_seen || s->max_ns > w->pre_max))
            w->pre_max = s->max_ns;
        w->pre_seen |= s->seen;
    }
    return true;
}


void stream_ahead_free(wk *w)
{
    for (int i = w->ahead_at; i < w->nahead; i++)
        sql_batch_free(w->ahead[i]);
    w->nahead = w->ahead_at = 0;
    w->ahead_on = false;
}


static bool grow_ahead(wk *w)
{
    int nc = w->ahead_cap ? w->ahead_cap * 2 : 64;
    sql_batch **na = sl_realloc(w->ahead, sizeof *na * (size_t)nc);
    if (na)
        w->ahead = na;
    struct ahead_pos *np = na && w->j->ckpt
                               ? sl_realloc(w->ahead_pos, sizeof *np * (size_t)nc) : NULL;
    if (np)
        w->ahead_pos = np;
    if (!na || (w->j->ckpt && !np))
        return false;
    w->ahead_cap = nc;
    return true;
}


/* Every batch of the split rd reads kept (late ones too): the parse's result. */
int stream_keep_all(wk *w, stream_reader *rd, sql_err *e)
{
    for (;;) {
        sql_batch *b;
        int64_t wm;
        int rc = stream_reader_next(rd, &b, &wm, e);
        if (rc || !b)
            return rc;
        if (w->nahead == w->ahead_cap && !grow_ahead(w)) {
            sql_batch_free(b);
            return oom(e);
        }
        if (w->j->ckpt) {
            stream_reader_pos p;
            stream_reader_save(rd, &p);
            w->ahead_pos[w->nahead] = (struct ahead_pos){p.offset, p.rows_read, p.bad, p.line,
                                                         p.header_done};
        }
        w->ahead[w->nahead++] = b;
    }
}


/* The next kept batch of a split read ahead, its late rows dropped and counted
 * (rule 3, under the watermark one reader in line order has); NULL at the end. */
int stream_ahead_next(wk *w, sql_batch **out, int64_t *wm, sql_err *e)
{
    job *j = w->j;
    int tc = j->src->time_col;
    *out = NULL;
    while (w->ahead_at < w->nahead) {
        sql_batch *b = w->ahead[w->ahead_at++];
        if (b->n > w->keep_cap) {
            uint32_t *k = sl_realloc(w->keep, sizeof *k * (size_t)b->n);
            if (!k) {
                sql_batch_free(b);
                return oom(e);
            }
            w->keep = k;
            w->keep_cap = b->n;
        }
        const col_vec *ts = &b->cols[tc];
        int64_t m = 0;
        for (int64_t i = 0; i < b->n; i++) {
            if (col_vec_is_valid(ts, i)) {
                int64_t v = col_vec_i64(ts, i);
                if (stream_wm_late(&w->lw, v)) {
                    w->split_late++;
                    continue;
                }
                stream_wm_observe(&w->lw, v);
            }
            w->keep[m++] = (uint32_t)i;
        }
        *wm = stream_wm_value(&w->lw);
        if (m == b->n) {
            *out = b;
            return SL_OK;
        }
        sql_batch *part = NULL;
        int rc = m ? sql_batch_take(b, w->keep, m, &part) : SL_OK;
        sql_batch_free(b);
        if (rc)
            return oom(e);
        if (part) {
            *out = part;
            return SL_OK;
        }
    }
    *wm = stream_wm_value(&w->lw);
    w->ahead_on = false;
    w->nahead = w->ahead_at = 0;
    return SL_OK;
}


/* The place of a split being served ahead (ahead_on), after the last kept batch
 * served: where its reader was then, with the watermark one reader in line order
 * has there (lw) and the split's late rows so far, so that a resumed reader
 * decides lateness itself from there on. */
void stream_ahead_place(const wk *w, stream_reader_pos *p)
{
    const struct ahead_pos *a = &w->ahead_pos[w->ahead_at - 1];
    memset(p, 0, offsetof(stream_reader_pos, parts));
    p->offset = a->offset;
    p->line = a->line;
    p->header_done = a->header_done;
    p->rows_read = a->rows_read;
    p->bad = a->bad;
    p->late = w->split_late;
    p->seen = w->lw.seen;
    p->max_ns = w->lw.max_ns;
}

/* Split c's largest event time (its seen and max_ns, set) and where its reading
 * stopped, published for the splits after it: the other workers' bells rung. */
void stream_split_publish(wk *w, int c, size_t next)
{
    job *j = w->j;
    j->splits[c].next = next;
    atomic_store_explicit(&j->splits[c].parsed, 1, memory_order_release);
    for (int i = 0; i < j->nw; i++)
        if (i != w->id)
            stream_bell_ring(&j->w[i].bell);
}

/* The first pass over this worker's splits, then (after every worker's) where
 * each of them starts: line and largest event time before it. */
int stream_first_pass(wk *w, sql_err *e)
{
    job *j = w->j;
    int rc = SL_OK;
    for (int c = w->id; c < j->nsplits && !rc; c += j->nw) {
        stream_split *s = &j->splits[c];
        stream_reader *rd;
        if (!(rc = stream_reader_open(j->file, s, &rd, e)))
            rc = stream_reader_scan_max(rd, &s->seen, &s->max_ns, &s->nlines);
        stream_reader_close(rd);
    }
    /* every worker's figures before anyone reads them (the mutex orders them) */
    pthread_mutex_lock(&j->mu);
    j->first_arrived++;
    pthread_cond_broadcast(&j->first_done);
    while (j->first_arrived < j->nw && !stream_job_failed(j))
        pthread_cond_wait(&j->first_done, &j->mu);
    pthread_mutex_unlock(&j->mu);
    if (rc || stream_job_failed(j))
        return rc ? rc : SL_ECANCELED;
    for (int c = w->id; c < j->nsplits; c += j->nw) {
        stream_split *s = &j->splits[c];
        s->line = 1;
        for (int k = 0; k < c; k++) {
            const stream_split *b = &j->splits[k];
            s->line += b->nlines;
            if (b->seen && (!s->start_seen || b->max_ns > s->start_max_ns))
                s->start_max_ns = b->max_ns;
            s->start_seen |= b->seen;
        }
    }
    return SL_OK;
}

/* Recovery of a job reading splits ahead: this worker's splits that are not read
 * again (before the one it resumes, and that one when it resumes inside it) are
 * scanned for their largest event time and published, as read_ahead would have,
 * for the splits after them. */
int stream_resume_pass(wk *w, sql_err *e)
{
    job *j = w->j;
    int rc = SL_OK;
    for (int c = w->id; c < j->nsplits && !rc && (c < w->rs_chunk ||
                                                   (c == w->rs_chunk && w->rs_has_pos));
         c += j->nw) {
        stream_split *s = &j->splits[c];
        stream_reader *rd;
        int64_t lines;
        if (!(rc = stream_reader_open(j->file, s, &rd, e)))
            rc = stream_reader_scan_max(rd, &s->seen, &s->max_ns, &lines);
        stream_reader_close(rd);
        /* its end is where its reading stopped: the cut is as the checked run read it */
        stream_split_publish(w, c, s->end);
    }
    return rc;
}

