/*
 * wholesrc.c - a file, nexmark or kafka source read whole by one reader, in
 * line order (a topic: every partition, each in offset order), for the drivers
 * that run a job's SELECT over rows they choose (winjoin.c, ijoin.c).
 *
 * The reader applies lateness and watermarks exactly as a worker's reader does
 * (rule 2: a row's watermark comes from every line before it), so the batches
 * and their watermarks are a function of the file alone.  Read ahead (the
 * driver has more than one worker), the reader runs on a thread of its own and
 * hands its batches over through a ring of AHEAD (ring.h): the driver sees the
 * same batches with the same watermarks in the same order, and an error at
 * the same place, while it joins or assigns the batches before them.  Reading
 * is then overlapped with the driver's work and with the other sources'
 * readers.
 *
 * With enough threads for a source (ahead: FILE_CHUNK_THREADS for a file, any
 * for a bounded nexmark source), the source is read in chunks on a pool of
 * that many threads and taken in order (base/pool.h): the connector's splits
 * (byte ranges of a file ending where records end; for the generator, ranges
 * of about CHUNK_ROWS rows of its kind).  A first pass over the chunks,
 * on the pool too, gives each its first line and the largest event time
 * before it (stream_reader_scan_max, as worker.c's first pass; O(1) for the
 * generator), so each chunk's reader starts with the watermark the whole
 * reader would have: the rows, the late ones, every watermark and an error's
 * line are the whole reader's.  Only the batch boundaries differ (a chunk's
 * last batch may be short), which the drivers do not depend on: a window's
 * rows and an interval join's pairs are functions of the rows alone.
 *
 * With checkpoints (positions), a source is never read in chunks, and a
 * reader ahead saves its place after each batch before handing it over, so
 * the driver can save the place of the last batch it took.
 */
#include "stream/stream_int.h"
#include "stream/ring.h"

#include "base/alloc.h"
#include "base/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define AHEAD 4 /* batches read and not yet taken, at most */
#define POS_SLOTS (AHEAD + 2) /* places kept (see stream_ahead) */
#define CHUNK_ROWS 32768
#define FILE_CHUNK_THREADS 4 /* a file is read in chunks from this many threads on */

/* A chunk of a source made on the pool: its batches and figures (for the first
 * pass, only its split's figures). */
typedef struct chunk {
    pool_task t;
    stream_source *s;
    stream_split sp;
    sql_rows rows;
    int next;                /* the next batch the driver takes */
    uint64_t read, late, bad;
    bool seen;
    int64_t max_ns;
    int64_t *wm;             /* each batch's watermark */
    int wcap;
    sql_err e;
} chunk;

struct stream_ahead {
    stream_source *s;
    /* one reader thread: batches through a single-producer ring (ring.h): ROWS
     * (b, the watermark after it), then DONE (end: the reader's rc) */
    pthread_t th;
    bool started;            /* the reader thread runs */
    stream_ring ring;
    stream_bell reader_bell; /* the reader sleeps on it (ring full) */
    stream_bell driver_bell; /* the driver sleeps on it (ring empty) */
    atomic_bool stop;        /* the driver is done with the source */
    sql_err e;               /* the reader's error (DONE's rc) */
    /* positions (checkpoints): the reader's place after each message, in slot
     * (its number % POS_SLOTS), saved before the message is pushed: with the
     * ring full behind the message the driver took last (AHEAD more), the
     * reader fills the slot after them, and the driver's is rewritten only
     * once it took the next one */
    stream_reader_pos *pos;
    uint64_t pushed;         /* the reader's */
    uint64_t taken;          /* the driver's */
    /* chunks (a file or a bounded nexmark source) */
    pool pool;
    bool pooled;
    int threads;             /* the pool's */
    stream_split *sp;
    int nsp, submitted;
    chunk *cur;              /* the chunk the driver takes batches from */
    uint64_t read, late, bad; /* the figures of the chunks taken */
    bool seen;
    int64_t max_ns;
};

static int oom(sql_err *e)
{
    return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
}

static bool room_or_stop(void *arg)
{
    stream_ahead *a = arg;
    return atomic_load(&a->stop) || stream_ring_room(&a->ring);
}

static bool ring_ready(void *arg)
{
    return stream_ring_ready(arg);
}

/* The figures of the reader rd so far into pub (if any): on the thread reading it. */
static void pub_reader(stream_src_pub *pub, const stream_reader *rd)
{
    if (!pub)
        return;
    uint64_t r, l, b;
    stream_reader_counts(rd, &r, &l, &b);
    atomic_store_explicit(&pub->read, r, memory_order_relaxed);
    atomic_store_explicit(&pub->late, l, memory_order_relaxed);
}

static void *ahead_main(void *arg)
{
    stream_ahead *a = arg;
    for (bool last = false; !last;) {
        stream_msg m = {NULL, 0, SL_OK, STREAM_MSG_ROWS};
        int rc = stream_reader_next(a->s->rd, &m.b, &m.wm, &a->e);
        pub_reader(a->s->pub, a->s->rd);
        if (a->pos) /* before the push, which publishes it */
            stream_reader_save(a->s->rd, &a->pos[a->pushed++ % POS_SLOTS]);
        if ((last = rc || !m.b)) {
            sql_batch_free(m.b);
            m = (stream_msg){NULL, 0, rc, STREAM_MSG_DONE};
        }
        while (!stream_ring_push(&a->ring, &m)) {
            if (atomic_load(&a->stop)) {
                stream_msg_free(&m);
                return NULL;
            }
            stream_bell_wait(&a->reader_bell, room_or_stop, a);
        }
    }
    return NULL;
}

static void ahead_end(stream_source *s);

/* Makes a chunk's batches (on a pool thread). */
static void chunk_run(pool_task *pt)
{
    chunk *c = pt->arg;
    stream_reader *rd = NULL;
    int rc = stream_reader_open(c->s->f, &c->sp, &rd, &c->e);
    while (!rc) {
        sql_batch *b;
        int64_t wm;
        if ((rc = stream_reader_next(rd, &b, &wm, &c->e)) || !b)
            break;
        if (c->rows.nb == c->wcap) {
            int nc = c->wcap ? 2 * c->wcap : 8;
            int64_t *n = sl_realloc(c->wm, sizeof *n * (size_t)nc);
            if (!n) {
                sql_batch_free(b);
                rc = oom(&c->e);
                break;
            }
            c->wm = n;
            c->wcap = nc;
        }
        c->wm[c->rows.nb] = wm;
        if (sql_rows_add(&c->rows, b))
            rc = oom(&c->e);
    }
    if (!rc) {
        stream_reader_counts(rd, &c->read, &c->late, &c->bad);
        stream_reader_final_max(rd, &c->seen, &c->max_ns);
    }
    if (rd)
        stream_reader_close(rd);
    pt->rc = rc;
}

static void chunk_free(chunk *c)
{
    if (!c)
        return;
    sql_rows_free(&c->rows);
    sl_free(c->wm);
    sl_free(c);
}

/* Queues the next chunks while fewer than the pool's bound are in flight. */
static int chunk_submit(stream_ahead *a, sql_err *e)
{
    while (a->submitted < a->nsp && pool_in_flight(&a->pool) < a->pool.max_in_flight) {
        chunk *c = sl_calloc(1, sizeof *c);
        if (!c)
            return oom(e);
        c->s = a->s;
        c->sp = a->sp[a->submitted++];
        c->t.run = chunk_run;
        c->t.arg = c;
        stream_table *t = a->s->t;
        sql_rows_init(&c->rows, t->ncols, t->types);
        if (pool_submit(&a->pool, &c->t)) {
            chunk_free(c);
            return sql_err_set(e, SQLSTATE_INTERNAL, -1, "source \"%s\": reading cancelled",
                               t->name);
        }
    }
    return SL_OK;
}

/* The next batch of the chunks, in order (NULL after the last chunk). */
static int chunk_next(stream_ahead *a, sql_batch **out, int64_t *wm, sql_err *e)
{
    *out = NULL;
    for (;;) {
        chunk *c = a->cur;
        if (c && c->next < c->rows.nb) {
            *wm = c->wm[c->next];
            *out = c->rows.b[c->next];
            c->rows.b[c->next++] = NULL;
            return SL_OK;
        }
        if (c) {
            a->read += c->read;
            a->late += c->late;
            a->bad += c->bad;
            if (c->seen && (!a->seen || c->max_ns > a->max_ns))
                a->max_ns = c->max_ns;
            a->seen |= c->seen;
            chunk_free(c);
            a->cur = NULL;
            if (a->s->pub) {
                atomic_store_explicit(&a->s->pub->read, a->read, memory_order_relaxed);
                atomic_store_explicit(&a->s->pub->late, a->late, memory_order_relaxed);
            }
        }
        int rc = chunk_submit(a, e);
        pool_task *t;
        if (rc || pool_next(&a->pool, &t))
            return rc;
        a->cur = t->arg;
        if (a->cur->t.rc) {
            *e = a->cur->e;
            return a->cur->t.rc;
        }
    }
}

/* The first pass over one chunk (on a pool thread): its largest event time and
 * its lines (O(1) for the generator). */
static void scan_run(pool_task *pt)
{
    chunk *c = pt->arg;
    stream_reader *rd = NULL;
    int rc = stream_reader_open(c->s->f, &c->sp, &rd, &c->e);
    if (!rc && (rc = stream_reader_scan_max(rd, &c->sp.seen, &c->sp.max_ns, &c->sp.nlines)))
        oom(&c->e);
    if (rd)
        stream_reader_close(rd);
    pt->rc = rc;
}

/* Where each chunk starts (its line, the largest event time before it): the first
 * pass over every chunk on the pool, taken in order. */
static int first_pass(stream_ahead *a, sql_err *e)
{
    chunk *sc = sl_calloc((size_t)a->nsp, sizeof *sc);
    if (!sc)
        return oom(e);
    int rc = SL_OK, next = 0;
    int64_t line = 1;
    bool seen = false;
    int64_t mx = 0;
    for (int k = 0; k < a->nsp && !rc; k++) {
        for (; next < a->nsp && pool_in_flight(&a->pool) < a->pool.max_in_flight; next++) {
            sc[next] = (chunk){.t = {.run = scan_run, .arg = &sc[next]}, .s = a->s,
                               .sp = a->sp[next]};
            pool_submit(&a->pool, &sc[next].t);
        }
        pool_task *t;
        pool_next(&a->pool, &t);
        chunk *c = t->arg;
        if ((rc = c->t.rc)) {
            *e = c->e;
            break;
        }
        stream_split *sp = &a->sp[k];
        sp->line = line;
        sp->start_seen = seen;
        sp->start_max_ns = mx;
        line += c->sp.nlines;
        if (c->sp.seen && (!seen || c->sp.max_ns > mx))
            mx = c->sp.max_ns;
        seen |= c->sp.seen;
    }
    if (rc) { /* the ones still in flight end before sc goes */
        pool_task *t;
        pool_cancel(&a->pool);
        while (pool_next(&a->pool, &t) == SL_OK) {
        }
    }
    sl_free(sc);
    return rc;
}

/*
 * Chunks of a file (CSV or JSON lines, not followed) or of a bounded nexmark
 * source: the splits the connector cuts (a few a worker; for the generator, of
 * about CHUNK_ROWS rows of its kind), the pool, and the first pass.  A small
 * file leaves one split: then a->nsp is 1 and nothing else is set.
 */
static int chunks_open(stream_source *s, stream_ahead *a, int nw, sql_err *e)
{
    int64_t rows = stream_nexmark_rows(s->t);
    int parts = rows >= 0 ? (int)(rows / (8 * CHUNK_ROWS)) + 2 : nw;
    int rc = stream_file_split(s->f, parts, false, false, &a->sp, &a->nsp) ? oom(e) : SL_OK;
    if (rc || a->nsp < 2)
        return rc;
    errmsg em;
    errmsg_clear(&em);
    if (pool_init(&a->pool, (unsigned)nw, 2 * (size_t)nw, &em))
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "%s", errmsg_str(&em));
    a->pooled = true;
    a->threads = nw < a->nsp ? nw : a->nsp;
    return first_pass(a, e);
}

/* The reader thread, reading ahead from where s's reader is. */
static int ahead_start(stream_source *s, sql_err *e)
{
    stream_ahead *a = sl_calloc(1, sizeof *a);
    if (!a)
        return oom(e);
    a->s = s;
    s->ah = a;
    stream_bell_init(&a->reader_bell);
    stream_bell_init(&a->driver_bell);
    if (stream_ring_init(&a->ring, AHEAD, &a->driver_bell, &a->reader_bell) ||
        (s->positions && !(a->pos = sl_malloc(sizeof *a->pos * POS_SLOTS))))
        return oom(e);
    if (pthread_create(&a->th, NULL, ahead_main, a))
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "source \"%s\": cannot start its "
                           "reader thread", s->t->name);
    a->started = true;
    return SL_OK;
}

bool stream_source_whole(const stream_table *t)
{
    return t->connector == STREAM_CONN_FILE || t->connector == STREAM_CONN_NEXMARK ||
           t->connector == STREAM_CONN_KAFKA;
}

int stream_source_open(stream_table *t, const char *input_dir, _Atomic int *stop, int ahead,
                       bool positions, stream_src_pub *pub, stream_source *s, sql_err *e)
{
    memset(s, 0, sizeof *s);
    s->t = t;
    s->pub = pub;
    s->wm = STREAM_WM_NONE;
    s->positions = positions;
    s->delay_us = stream_test_batch_delay();
    if (!stream_source_whole(t))
        return sql_err_set(e, SQLSTATE_FEATURE, -1, "source \"%s\": this job reads file, "
                           "nexmark and kafka sources only", t->name);
    if (stream_path_resolve(t->path, sizeof t->path, input_dir, t->path_opt))
        return sql_err_set(e, "22023", -1, "source \"%s\": path too long", t->name);
    int rc = stream_file_open(t, &s->f, e);
    /* chunks when they pay: a file's first pass costs a pass over its event times
     * (with 2 threads for a source, a window join over a 2 M-row file took 0.35 s
     * in chunks against 0.29 s read by one thread ahead, on 2 cores); the
     * generator's first pass is free */
    if (!rc && !t->follow && !positions &&
        ((t->connector == STREAM_CONN_FILE && ahead >= FILE_CHUNK_THREADS) ||
                              (ahead >= 1 && stream_nexmark_rows(t) >= 0))) {
        stream_ahead *a = sl_calloc(1, sizeof *a);
        if (!a)
            return oom(e);
        a->s = s;
        s->ah = a;
        if ((rc = chunks_open(s, a, ahead, e)) || a->nsp > 1)
            return rc;
        ahead_end(s); /* one split: read by one thread, ahead (below) */
    }
    stream_split *sp = NULL;
    int n = 0;
    if (!rc && stream_file_split(s->f, 1, false, false, &sp, &n))
        rc = oom(e);
    if (!rc) {
        s->whole = (stream_split){.begin = 0, .end = n ? sp[n - 1].end : 0, .line = 1,
                                  .tail = n && sp[n - 1].tail}; /* (a followed file) */
        rc = stream_reader_open(s->f, &s->whole, &s->rd, e);
    }
    sl_free(sp);
    if (!rc && stop)
        stream_reader_set_stop(s->rd, stop); /* a followed file ends on a job stop */
    if (!rc && positions)
        stream_reader_save(s->rd, &s->pos0);
    /* a followed file, the generator or a topic is read as it comes, by the caller (a
     * topic: one reader of all its partitions, each with its own watermark) */
    if (rc || !ahead || t->follow || t->connector != STREAM_CONN_FILE)
        return rc;
    return ahead_start(s, e);
}

/* The next message of the reader thread (waiting for it). */
static stream_msg take(stream_ahead *a)
{
    stream_msg m;
    while (!stream_ring_pop(&a->ring, &m))
        stream_bell_wait(&a->driver_bell, ring_ready, &a->ring);
    return m;
}

int stream_source_next(stream_source *s, sql_batch **out, sql_err *e)
{
    int64_t wm;
    int rc;
    if (s->delay_us)
        usleep((useconds_t)s->delay_us);
    if (s->ah && s->ah->pooled) {
        rc = chunk_next(s->ah, out, &wm, e);
    } else if (s->ah) {
        stream_msg m = take(s->ah);
        if (s->ah->pos) /* its place: that message's slot */
            s->pos_at = &s->ah->pos[s->ah->taken++ % POS_SLOTS];
        *out = m.b;
        wm = m.wm;
        if ((rc = m.kind == STREAM_MSG_DONE ? (int)m.end : SL_OK))
            *e = s->ah->e;
    } else {
        rc = stream_reader_next(s->rd, out, &wm, e);
        pub_reader(s->pub, s->rd);
    }
    if (rc)
        return rc;
    if (!*out) {
        s->ended = true;
        s->wm = STREAM_WM_END;
    } else {
        s->wm = wm;
    }
    if (s->pub)
        atomic_store_explicit(&s->pub->wm, s->wm, memory_order_relaxed);
    return SL_OK;
}

/* Stops and joins the reader thread, or the chunks' pool; batches read and not
 * taken are freed. */
static void ahead_end(stream_source *s)
{
    stream_ahead *a = s->ah;
    if (!a)
        return;
    if (a->pooled) {
        pool_task *t;
        pool_cancel(&a->pool);
        while (pool_next(&a->pool, &t) == SL_OK)
            chunk_free(t->arg);
        pool_destroy(&a->pool);
    }
    chunk_free(a->cur);
    sl_free(a->sp);
    if (a->started) {
        atomic_store(&a->stop, true);
        stream_bell_ring(&a->reader_bell);
        pthread_join(a->th, NULL);
    }
    stream_ring_free(&a->ring); /* batches read and not taken */
    sl_free(a->pos);
    sl_free(a);
    s->ah = NULL;
    s->pos_at = NULL;
}

void stream_source_figures(stream_source *s)
{
    stream_table *t = s->t;
    uint64_t rd, late, bad;
    bool seen;
    int64_t mx;
    if (s->ah && s->ah->pooled) { /* chunks: the sums of those taken (all, at the end) */
        rd = s->ah->read;
        late = s->ah->late;
        bad = s->ah->bad;
        seen = s->ah->seen;
        mx = s->ah->max_ns;
    } else {
        ahead_end(s); /* the reader's counters are the thread's until it is joined */
        stream_reader_counts(s->rd, &rd, &late, &bad);
        stream_reader_final_max(s->rd, &seen, &mx);
    }
    t->rows_read = rd;
    t->late_dropped = late;
    t->bad_rows = bad;
    t->readers = s->ah && s->ah->pooled ? s->ah->threads : 1;
    stream_wm all;
    stream_wm_init(&all, t->delay_ns);
    if (seen)
        stream_wm_observe(&all, mx);
    t->watermark_ns = stream_wm_value(&all);
    t->read_once = true;
    if (s->pub) {
        atomic_store_explicit(&s->pub->read, rd, memory_order_relaxed);
        atomic_store_explicit(&s->pub->late, late, memory_order_relaxed);
        atomic_store_explicit(&s->pub->wm, t->watermark_ns, memory_order_relaxed);
    }
}

void stream_source_save(const stream_source *s, stream_reader_pos *p)
{
    if (s->ah) /* read ahead: the place after the last batch taken (none: the start) */
        *p = s->pos_at ? *s->pos_at : s->pos0;
    else
        stream_reader_save(s->rd, p);
}

int stream_source_restore(stream_source *s, const stream_reader_pos *p, sql_err *e)
{
    if (!s->positions || !s->rd || (s->ah && s->ah->pooled))
        return SL_EINVAL;
    bool ahead = s->ah != NULL;
    ahead_end(s); /* the reader thread stopped, what it read dropped */
    if (stream_reader_restore(s->rd, &s->whole, p))
        return SL_EINVAL;
    s->pos0 = *p;
    return ahead ? ahead_start(s, e) : SL_OK;
}

void stream_source_close(stream_source *s)
{
    ahead_end(s);
    if (s->rd)
        stream_reader_close(s->rd);
    stream_file_close(s->f);
    s->rd = NULL;
    s->f = NULL;
}
