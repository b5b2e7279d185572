/*
 * source_telemetry.c - the telemetry connector: live rows of log_entries,
 * measures, thread_spans or async_events as a server ingests them.
 *
 * The ingest block hook (stream_hub_block) runs on the request's thread after
 * a block is committed.  When some job reads a view the block's stream feeds
 * (log streams: log_entries; metrics streams: measures; cpu streams:
 * thread_spans and async_events), the block is decoded by the lake's own
 * builder (the batch view's code: the same rows and columns) and converted
 * to SQL types as a lake scan does.  Each subscription (one per running job)
 * then takes the columns its table declares, applies its watermark (rule 2 of
 * docs/streaming.md: late rows dropped and counted at the source) and queues
 * the rows for the worker owning the block's stream (a stream is a split).
 *
 * Bounded memory: a subscription holds at most QUEUE_MAX_BYTES of queued
 * rows; a block arriving when it is full is dropped for that job and counted
 * (overflow_dropped), so ingestion never waits on a slow job.  thread_spans
 * keeps each cpu stream's open spans between blocks (the builder's state,
 * stream_spans), for at most STREAM_SPANS_MAX streams (the least recently used
 * forgotten first): the hub's for the jobs it decodes for together, a resumed
 * job's own (the restarted hub's start empty).
 *
 * The idle rule: when no row reached a subscription for idle_timeout (1 s by
 * default), its watermark moves to the wall clock minus max_delay (never
 * back), so windows close once telemetry stops.  Telemetry carries wall-clock
 * event times; max_delay must cover how long clients hold events before
 * sending them (their flush interval) or such rows arrive late.
 *
 * Checkpoints (docs/internals/stream.md "Telemetry"): ingestion reports each
 * block insert as it begins and ends (stream_hub_insert), so a worker's
 * checkpoint time (stream_live_low) is one before which every block routed to
 * it was taken; with the blocks it took since, that is what a resumed job
 * needs to replay the rest from the store (stream_live_replay), while the
 * blocks delivered meanwhile wait in the held queue.  Over thread_spans each
 * block queued carries its stream's state after it, which the worker keeps
 * for its checkpoints; a resumed job replays from those, and holds the blocks
 * delivered meanwhile undecoded until its states are known (replay_over).
 *
 * Locks: the hub's mutex covers its subscription list and the decoding, with
 * a resumed job's own states and replayed list; a subscription's mutex its
 * queues, watermark and figures (taken under the hub's, never the other way);
 * the hub's pmu its inserts under way (taken under a subscription's mutex,
 * never the other way).  None is held while a worker runs rows.
 */
#include "stream/live.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/uuid.h"
#include "sql/catalog/lakescan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define QUEUE_MAX_BYTES (64ll << 20)
#define WAIT_NS (50ll * 1000000)
#define FILL_PROCESS -2
#define FILL_STREAM -3

/* A block's place in the checkpoints of a job that takes them (live.h). */
typedef struct blk_info {
    sl_uuid id;
    int64_t begin_ns, at_ns;
    int w;                   /* the worker its stream routes to */
} blk_info;

typedef struct qitem {
    sql_batch *b;            /* on-time rows (NULL: none) */
    int64_t wm;
    bool block, maybe_seen;
    blk_info bi;
    uint64_t nread, nlate;
    sl_uuid stream;
    uint8_t *spans;          /* thread_spans, tracked: the stream's state after it */
    size_t spans_len;
} qitem;

/* What a queued item adds to its subscription's bytes. */
static int64_t qitem_bytes(const qitem *x)
{
    return (x->b ? sql_batch_bytes(x->b) : 0) + (int64_t)x->spans_len;
}

typedef struct wqueue {
    qitem *it;
    int64_t head, n, cap;
} wqueue;

/* A block not decoded yet: a resumed job over thread_spans holds the blocks
 * delivered while it replays, to decode them from the states its replay ends with. */
typedef struct raw_block {
    meta_block row;
    uint8_t *payload;
    size_t len;
    blk_info bi;
} raw_block;

struct stream_live {
    stream_hub *h;
    stream_table *t;
    int nw;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    wqueue *q;
    wqueue held;             /* while replaying: blocks delivered, rows not yet checked */
    /* thread_spans, a resumed job: its own states (the hub's started empty), and
     * while it replays, the blocks delivered (undecoded; under the hub's mutex) */
    stream_spans *own;
    raw_block *raw;
    int64_t nraw, raw_cap;
    /* a resumed job, under the hub's mutex: the blocks its replays listed (sorted
     * once the last is done), kept until every insert under way when a replay
     * listed has ended (listed_ns: the latest listing's end): one delivered after
     * the replay is skipped */
    stream_live_done *rdone;
    int64_t nrdone, rdone_cap;
    int64_t listed_ns;
    stream_wm wm;
    int64_t last_row_mono;
    int64_t bytes;
    bool stop;
    bool track;              /* checkpoints: every block is queued, rows or not */
    int replaying;           /* workers still replaying (the held blocks wait for them) */
    uint64_t rows_read, late, overflow;
    stream_live *next;
};

struct stream_hub {
    lake *l;
    pthread_mutex_t mu;
    stream_live *subs;
    stream_spans *spans;     /* thread_spans: the states of the jobs decoded together */
    /* inserts under way (their begin times), under pmu: a block inserted at or
     * after a time is one of these or began after it (stream_live_low) */
    pthread_mutex_t pmu;
    int64_t *pend;
    int npend, pend_cap;
    int nlost;               /* inserts under way not in pend (out of memory) */
    /* tests (read once, at creation): SL_STREAM_TEST_REPLAY_PAUSE_MS pauses each
     * replay before it lists the blocks and after, so that blocks delivered meanwhile
     * are held, some of them listed too; SL_STREAM_TEST_LATE_DELIVERY_MS delays,
     * while a job replays, the delivery of each block (its row committed, its insert
     * under way), so that it comes after the replay that listed it
     * (tests/e2e/test_stream_jobs.py) */
    long test_pause_ms, test_late_ms;
    _Atomic int replaying;   /* subscriptions replaying (for test_late_ms) */
};

/* A test switch's milliseconds (0: unset or out of range). */
static long test_ms(const char *name)
{
    const char *v = getenv(name);
    long ms = v ? strtol(v, NULL, 10) : 0;
    return ms > 0 && ms <= 60000 ? ms : 0;
}

static void sleep_ms(long ms)
{
    if (ms)
        nanosleep(&(struct timespec){ms / 1000, ms % 1000 * 1000000}, NULL);
}

int stream_hub_new(lake *l, stream_hub **out)
{
    stream_hub *h = sl_calloc(1, sizeof *h);
    if (!h)
        return SL_ENOMEM;
    h->l = l;
    if (!(h->spans = stream_spans_new(0))) {
        sl_free(h);
        return SL_ENOMEM;
    }
    h->test_pause_ms = test_ms("SL_STREAM_TEST_REPLAY_PAUSE_MS");
    h->test_late_ms = test_ms("SL_STREAM_TEST_LATE_DELIVERY_MS");
    pthread_mutex_init(&h->mu, NULL);
    pthread_mutex_init(&h->pmu, NULL);
    *out = h;
    return SL_OK;
}

void stream_hub_free(stream_hub *h)
{
    if (!h)
        return;
    stream_spans_free(h->spans);
    sl_free(h->pend);
    pthread_mutex_destroy(&h->mu);
    pthread_mutex_destroy(&h->pmu);
    sl_free(h);
}

/* ---- the table's options -------------------------------------------------- */

static int view_of(const char *v)
{
    static const struct {
        const char *name;
        int id;
    } views[] = {{"log_entries", LAKE_LOG_ENTRIES},
                 {"measures", LAKE_MEASURES},
                 {"thread_spans", LAKE_THREAD_SPANS},
                 {"async_events", LAKE_ASYNC_EVENTS}};
    for (size_t i = 0; i < sizeof views / sizeof views[0]; i++)
        if (!strcasecmp(v, views[i].name))
            return views[i].id;
    return -1;
}

int stream_telemetry_option(stream_table *t, const char *k, const char *v, int loc, sql_err *e)
{
    if (!strcmp(k, "view")) {
        if ((t->tel_view = view_of(v)) < 0)
            return sql_err_set(e, "22023", loc, "table \"%s\": view must be 'log_entries', "
                               "'measures', 'thread_spans' or 'async_events', not '%s'",
                               t->name, v);
        return SL_OK;
    }
    if (!strcmp(k, "idle_timeout")) {
        char what[160];
        snprintf(what, sizeof what, "table \"%s\": idle_timeout", t->name);
        int rc = stream_interval_ns(what, v, &t->idle_ns, e);
        if (!rc && !t->idle_ns)
            rc = sql_err_set(e, "22023", loc, "%s must be positive", what);
        return rc;
    }
    return sql_err_set(e, "22023", loc, "table \"%s\": unknown option \"%s\" (the telemetry "
                       "connector takes view, event_time, max_delay, idle_timeout, late)",
                       t->name, k);
}

int stream_telemetry_check(stream_table *t, sql_err *e)
{
    if (t->tel_view < 0)
        return sql_err_set(e, "22023", -1, "table \"%s\": the telemetry connector needs a view "
                           "('log_entries', 'measures', 'thread_spans' or 'async_events')",
                           t->name);
    if (t->ncols > 64)
        return sql_err_set(e, "54011", -1, "table \"%s\": at most 64 columns", t->name);
    int n;
    const lake_coldef *defs = lake_coldefs((lake_view_id)t->tel_view, &n);
    bool per_stream = t->tel_view == LAKE_THREAD_SPANS || t->tel_view == LAKE_ASYNC_EVENTS;
    for (int i = 0; i < t->ncols; i++) {
        int c = -1;
        for (int k = 0; k < n && c < 0; k++)
            if (!strcmp(defs[k].name, t->names[i]))
                c = k;
        sql_type want;
        if (c >= 0) {
            want = sql_type_of(defs[c].type);
        } else if (per_stream && (!strcmp(t->names[i], "process_id") ||
                                  !strcmp(t->names[i], "stream_id"))) {
            c = !strcmp(t->names[i], "process_id") ? FILL_PROCESS : FILL_STREAM;
            want = sql_type_of(ST_UUID);
        } else {
            return sql_err_set(e, SQLSTATE_UNDEFINED_COLUMN, -1, "table \"%s\": column \"%s\" "
                               "is not a column of %s", t->name, t->names[i],
                               lake_view_get((lake_view_id)t->tel_view)->name);
        }
        if (!sql_type_eq(want, t->types[i])) {
            char tn[64];
            sql_type_name(want, tn, sizeof tn);
            return sql_err_set(e, SQLSTATE_DATATYPE_MISMATCH, -1, "table \"%s\": column \"%s\" "
                               "of %s is of type %s", t->name, t->names[i],
                               lake_view_get((lake_view_id)t->tel_view)->name, tn);
        }
        t->tel_src[i] = c;
    }
    if (!t->idle_ns)
        t->idle_ns = NS_PER_S;
    return SL_OK;
}

/* ---- inserts under way -------------------------------------------------------- */

int64_t stream_hub_insert(stream_hub *h, int64_t begin_ns, bool done)
{
    pthread_mutex_lock(&h->pmu);
    if (done && begin_ns == INT64_MIN) {
        h->nlost--;
    } else if (done) {
        for (int i = 0; i < h->npend; i++)
            if (h->pend[i] == begin_ns) {
                h->pend[i] = h->pend[--h->npend];
                break;
            }
    } else {
        /* read under the lock: stream_live_low sees this insert, or a time before it */
        begin_ns = clock_wall_ns();
        if (h->npend == h->pend_cap) {
            int nc = h->pend_cap ? h->pend_cap * 2 : 64;
            int64_t *np = sl_realloc(h->pend, sizeof *np * (size_t)nc);
            if (np) {
                h->pend = np;
                h->pend_cap = nc;
            }
        }
        if (h->npend < h->pend_cap)
            h->pend[h->npend++] = begin_ns;
        else
            h->nlost++, begin_ns = INT64_MIN; /* out of memory: no time is safe */
    }
    pthread_mutex_unlock(&h->pmu);
    return begin_ns;
}

/* The earliest insert still under way, or the time now if none. */
static int64_t inserts_low(stream_hub *h)
{
    pthread_mutex_lock(&h->pmu);
    int64_t low = h->nlost ? INT64_MIN : clock_wall_ns();
    for (int i = 0; i < h->npend; i++)
        low = h->pend[i] < low ? h->pend[i] : low;
    pthread_mutex_unlock(&h->pmu);
    return low;
}

/* ---- subscriptions --------------------------------------------------------- */

int stream_live_open(stream_hub *h, stream_table *t, int nworkers, bool replay,
                     stream_live **out)
{
    stream_live *l = sl_calloc(1, sizeof *l);
    if (!l || !(l->q = sl_calloc((size_t)nworkers, sizeof *l->q))) {
        sl_free(l);
        return SL_ENOMEM;
    }
    l->h = h;
    l->t = t;
    l->nw = nworkers;
    l->replaying = replay ? nworkers : 0;
    /* (its own states: the union of the workers') */
    if (replay && t->tel_view == LAKE_THREAD_SPANS &&
        !(l->own = stream_spans_new(nworkers * STREAM_SPANS_MAX))) {
        sl_free(l->q);
        sl_free(l);
        return SL_ENOMEM;
    }
    if (replay)
        atomic_fetch_add(&h->replaying, 1);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    stream_wm_init(&l->wm, t->delay_ns);
    l->last_row_mono = clock_mono_ns();
    pthread_mutex_lock(&h->mu);
    l->next = h->subs;
    h->subs = l;
    pthread_mutex_unlock(&h->mu);
    *out = l;
    return SL_OK;
}

static void raw_free(stream_live *l)
{
    for (int64_t i = 0; i < l->nraw; i++)
        sl_free(l->raw[i].payload);
    sl_free(l->raw);
    l->raw = NULL;
    l->nraw = l->raw_cap = 0;
}

static void queue_free(wqueue *q)
{
    for (int64_t i = q->head; i < q->n; i++) {
        sql_batch_free(q->it[i].b);
        sl_free(q->it[i].spans);
    }
    sl_free(q->it);
    memset(q, 0, sizeof *q);
}

void stream_live_close(stream_live *l)
{
    if (!l)
        return;
    stream_hub *h = l->h;
    pthread_mutex_lock(&h->mu);
    if (l->replaying) /* (stopped while replaying) */
        atomic_fetch_sub(&h->replaying, 1);
    for (stream_live **p = &h->subs; *p; p = &(*p)->next)
        if (*p == l) {
            *p = l->next;
            break;
        }
    pthread_mutex_unlock(&h->mu);
    for (int w = 0; w < l->nw; w++)
        queue_free(&l->q[w]);
    queue_free(&l->held);
    raw_free(l);
    stream_spans_free(l->own);
    sl_free(l->rdone);
    sl_free(l->q);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    sl_free(l);
}

void stream_live_stop(stream_live *l)
{
    pthread_mutex_lock(&l->mu);
    l->stop = true;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

void stream_live_track(stream_live *l)
{
    pthread_mutex_lock(&l->mu);
    l->track = true;
    pthread_mutex_unlock(&l->mu);
}

void stream_live_restore(stream_live *l, int64_t wm, uint64_t rows_read, uint64_t late)
{
    pthread_mutex_lock(&l->mu);
    if (wm != STREAM_WM_NONE && wm != STREAM_WM_END && wm <= INT64_MAX - l->t->delay_ns)
        stream_wm_observe(&l->wm, wm + l->t->delay_ns);
    l->rows_read += rows_read;
    l->late += late;
    pthread_mutex_unlock(&l->mu);
}

void stream_live_uncount(stream_live *l, uint64_t rows_read, uint64_t late)
{
    pthread_mutex_lock(&l->mu);
    l->rows_read -= rows_read;
    l->late -= late;
    pthread_mutex_unlock(&l->mu);
}

void stream_live_figures_get(stream_live *l, stream_live_figures *f)
{
    pthread_mutex_lock(&l->mu);
    f->rows_read = l->rows_read;
    f->late_dropped = l->late;
    f->overflow_dropped = l->overflow;
    f->watermark_ns = stream_wm_value(&l->wm);
    f->queued_bytes = l->bytes;
    pthread_mutex_unlock(&l->mu);
}

static int queue_push(wqueue *q, const qitem *it)
{
    if (q->n == q->cap && q->head) {
        memmove(q->it, q->it + q->head, sizeof *q->it * (size_t)(q->n - q->head));
        q->n -= q->head;
        q->head = 0;
    }
    if (q->n == q->cap) {
        int64_t nc = q->cap ? q->cap * 2 : 16;
        qitem *ni = sl_realloc(q->it, sizeof *ni * (size_t)nc);
        if (!ni)
            return SL_ENOMEM;
        q->it = ni;
        q->cap = nc;
    }
    q->it[q->n++] = *it;
    return SL_OK;
}

int stream_live_next(stream_live *l, int wid, stream_live_item *it)
{
    memset(it, 0, sizeof *it);
    pthread_mutex_lock(&l->mu);
    wqueue *q = &l->q[wid];
    if (q->head == q->n && !l->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t at = (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec + WAIT_NS;
        ts.tv_sec = at / NS_PER_S;
        ts.tv_nsec = at % NS_PER_S;
        pthread_cond_timedwait(&l->cv, &l->mu, &ts);
    }
    int more = !l->stop;
    if (more && q->head < q->n) {
        const qitem *x = &q->it[q->head++];
        it->b = x->b;
        it->wm = x->wm;
        it->block = x->block;
        it->maybe_seen = x->maybe_seen;
        it->id = x->bi.id;
        it->stream = x->stream;
        it->spans = x->spans;
        it->spans_len = x->spans_len;
        it->at_ns = x->bi.at_ns;
        it->nread = x->nread;
        it->nlate = x->nlate;
        l->bytes -= qitem_bytes(x);
    } else if (more) {
        /* nothing queued for this worker: the source's watermark, which every row still
         * to come respects (rows are checked against it when queued, under this lock).
         * Not while a resumed job replays: the blocks it replays come before */
        if (!l->replaying && clock_mono_ns() - l->last_row_mono >= l->t->idle_ns)
            stream_wm_observe(&l->wm, clock_wall_ns());
        it->wm = stream_wm_value(&l->wm);
    }
    pthread_mutex_unlock(&l->mu);
    return more;
}

int64_t stream_live_low(stream_live *l, int wid, int64_t floor_ns)
{
    pthread_mutex_lock(&l->mu);
    int64_t low = floor_ns;
    const wqueue *q = &l->q[wid];
    for (int64_t i = q->head; i < q->n; i++)
        if (q->it[i].block && q->it[i].bi.begin_ns < low)
            low = q->it[i].bi.begin_ns;
    for (int64_t i = l->held.head; i < l->held.n; i++)
        if (l->held.it[i].bi.w == wid && l->held.it[i].bi.begin_ns < low)
            low = l->held.it[i].bi.begin_ns;
    for (int64_t i = 0; i < l->nraw; i++)
        if (l->raw[i].bi.w == wid && l->raw[i].bi.begin_ns < low)
            low = l->raw[i].bi.begin_ns;
    /* blocks not delivered yet: inserts under way, or begun after now (read after
     * this queue's: one delivered meanwhile was under way when it was read) */
    int64_t ins = inserts_low(l->h);
    pthread_mutex_unlock(&l->mu);
    return ins < low ? ins : low;
}

/* ---- delivering a block ----------------------------------------------------- */

/* The columns of a subscription's table from the view's SQL batch (NULL: out of
 * memory or a value that does not convert; the block is lost to this job). */
static sql_batch *convert(stream_live *l, const col_batch *cb, const meta_block *row,
                          const lake_coldef *defs)
{
    stream_table *t = l->t;
    lakescan_col cols[64];
    int in_col[64];
    char ids[2][UUID_STR_LEN]; /* process_id, stream_id: as SQL holds a uuid, its text */
    sql_err e;
    uuid_format(&row->process_id, ids[0]);
    uuid_format(&row->stream_id, ids[1]);
    for (int i = 0; i < t->ncols; i++) {
        int c = t->tel_src[i];
        memset(&cols[i], 0, sizeof cols[i]);
        cols[i].type = t->types[i];
        in_col[i] = c >= 0 ? c : -1;
        cols[i].src = in_col[i];
        if (c >= 0) {
            cols[i].conv = defs[c].conv;
            continue;
        }
        cols[i].fill.null = false;
        cols[i].fill.s.p = (const uint8_t *)ids[c == FILL_PROCESS ? 0 : 1];
        cols[i].fill.s.n = 36;
    }
    sql_batch *b;
    return lakescan_convert(cb, in_col, cols, t->ncols, t->types, &b, &e) ? NULL : b;
}

/* Under l->mu: b's on-time rows (rule 2 of docs/streaming.md: the watermark in
 * force when each arrives), b freed or returned; counts the rows and the late. */
static sql_batch *on_time(stream_live *l, sql_batch *b, uint64_t *nread, uint64_t *nlate)
{
    stream_table *t = l->t;
    *nread = *nlate = 0;
    if (!b)
        return NULL;
    uint32_t *keep = sl_malloc(sizeof *keep * (size_t)(b->n ? b->n : 1));
    if (!keep) {
        sql_batch_free(b);
        return NULL;
    }
    const col_vec *ts = t->time_col >= 0 ? &b->cols[t->time_col] : NULL;
    int64_t m = 0, late = 0;
    for (int64_t i = 0; i < b->n; i++) {
        if (ts && col_vec_is_valid(ts, i)) {
            int64_t v = col_vec_i64(ts, i);
            if (stream_wm_late(&l->wm, v)) {
                late++;
                continue;
            }
            stream_wm_observe(&l->wm, v);
        }
        keep[m++] = (uint32_t)i;
    }
    *nread = (uint64_t)b->n;
    *nlate = (uint64_t)late;
    l->rows_read += (uint64_t)b->n;
    l->late += (uint64_t)late;
    l->last_row_mono = clock_mono_ns();
    sql_batch *kept = b;
    if (m < b->n && sql_batch_take(b, keep, m, &kept))
        kept = NULL;
    if (kept != b)
        sql_batch_free(b);
    sl_free(keep);
    if (kept && !kept->n) {
        sql_batch_free(kept);
        kept = NULL;
    }
    return kept;
}

/* Under l->mu: a block's rows (b, taken) checked and queued for their worker.  A
 * job taking checkpoints gets every block, rows or not, so that it knows it took
 * it; a full queue loses the rows (counted), never the block's place. */
static void admit(stream_live *l, sql_batch *b, const blk_info *bi, bool maybe_seen,
                  const sl_uuid *stream, const dbuf *spans)
{
    qitem it = {.block = l->track, .maybe_seen = maybe_seen, .bi = *bi, .stream = *stream};
    sql_batch *kept = on_time(l, b, &it.nread, &it.nlate);
    int64_t bytes = kept ? sql_batch_bytes(kept) : 0;
    if (l->stop || (!kept && !l->track)) {
        sql_batch_free(kept);
        return;
    }
    if (spans && l->track) { /* (lost with the item if out of memory: as its rows) */
        if ((it.spans = sl_malloc(spans->len ? spans->len : 1)) && spans->len)
            memcpy(it.spans, spans->p, spans->len);
        it.spans_len = it.spans ? spans->len : 0;
    }
    bytes += (int64_t)it.spans_len;
    if (kept && l->bytes + bytes > QUEUE_MAX_BYTES) {
        l->overflow += (uint64_t)kept->n;
        sql_batch_free(kept);
        kept = NULL;
        bytes = (int64_t)it.spans_len; /* (the state stays: the stream's next block needs it) */
        if (!l->track)
            return;
    }
    it.b = kept;
    it.wm = stream_wm_value(&l->wm);
    if (queue_push(&l->q[bi->w], &it)) {
        l->overflow += kept ? (uint64_t)kept->n : 0;
        sql_batch_free(kept);
        sl_free(it.spans);
        return;
    }
    l->bytes += bytes;
    pthread_cond_broadcast(&l->cv);
}

static blk_info blk_info_of(const stream_live *l, const meta_block *row)
{
    return (blk_info){.id = row->block_id, .begin_ns = row->insert_time_ns,
                      .at_ns = clock_wall_ns(),
                      .w = (int)(hash64(row->stream_id.b, 16) % (uint64_t)l->nw)};
}

/* The rows of one subscription's table from the view's SQL batch (cb: NULL or
 * none, a block that only moves spans' state), for the worker owning the block's
 * stream (held, unchecked, while a resumed job replays).  spans: thread_spans, a
 * job taking checkpoints: the stream's state after the block (copied). */
static void deliver(stream_live *l, const col_batch *cb, const meta_block *row,
                    const lake_coldef *defs, const dbuf *spans)
{
    sql_batch *b = cb && cb->nrows ? convert(l, cb, row, defs) : NULL;
    if (!b && cb && cb->nrows) {
        char id[UUID_STR_LEN];
        uuid_format(&row->block_id, id);
        log_warn("stream", "table %s: block %s: its rows cannot be converted to the table's "
                 "columns (out of memory, or a value that does not fit): the job does not get "
                 "them", l->t->name, id);
    }
    if (!b && !spans)
        return;
    blk_info bi = blk_info_of(l, row);
    pthread_mutex_lock(&l->mu);
    if (!l->replaying || l->own) {
        admit(l, b, &bi, false, &row->stream_id, spans);
    } else if (l->stop || l->bytes + sql_batch_bytes(b) > QUEUE_MAX_BYTES ||
               queue_push(&l->held, &(qitem){.b = b, .block = true, .bi = bi,
                                             .stream = row->stream_id})) {
        l->overflow += (uint64_t)b->n;
        sql_batch_free(b);
    } else {
        l->bytes += sql_batch_bytes(b);
    }
    pthread_mutex_unlock(&l->mu);
}

/* A block decoded as view v, from prev (thread_spans: the stream's state before it). */
static int build_block(const lake_process *p, int v, const meta_block *row, const void *payload,
                       size_t len, int64_t insert_ns, const uint8_t *prev, size_t prevn,
                       lake_build_out *out)
{
    lake_src_block blk = {.block_id = row->block_id,
                          .stream_id = row->stream_id,
                          .insert_time_ns = insert_ns,
                          .object_offset = row->object_offset,
                          .nb_objects = row->nb_objects,
                          .payload = payload,
                          .payload_len = len};
    errmsg em;
    errmsg_clear(&em);
    return lake_builder_of((lake_view_id)v)(&p->proc, &blk, 1, prev, prevn, out, &em);
}

/* Under h->mu: a thread_spans block for a resumed job, decoded from the job's own
 * state of the stream (which it then replaces) and delivered. */
static void own_decode(stream_live *l, const lake_process *p, const meta_block *row,
                       const void *payload, size_t len)
{
    size_t prevn;
    const uint8_t *prev = stream_spans_get(l->own, &row->stream_id, &prevn);
    lake_build_out out;
    lake_build_out_init(&out);
    int n;
    const lake_coldef *defs = lake_coldefs(LAKE_THREAD_SPANS, &n);
    if (!build_block(p, LAKE_THREAD_SPANS, row, payload, len, clock_wall_ns(), prev, prevn,
                     &out) &&
        !stream_spans_set(l->own, &row->stream_id, out.state.p, out.state.len))
        deliver(l, out.batch, row, defs, &out.state);
    lake_build_out_free(&out);
}

/* Under h->mu: a thread_spans block for a resumed job: held undecoded while it
 * replays (its states are not known before), else decoded from its own states. */
static void own_block(stream_live *l, const lake_process *p, const meta_block *row,
                      const void *payload, size_t len)
{
    pthread_mutex_lock(&l->mu);
    bool held = l->replaying > 0;
    if (held && !l->stop) {
        raw_block rb = {.row = *row, .len = len, .bi = blk_info_of(l, row)};
        if (l->nraw == l->raw_cap) {
            int64_t nc = l->raw_cap ? l->raw_cap * 2 : 16;
            raw_block *nr = sl_realloc(l->raw, sizeof *nr * (size_t)nc);
            if (nr) {
                l->raw = nr;
                l->raw_cap = nc;
            }
        }
        /* past the queue's cap only its place is kept: its payload is read again from
         * the store (it is committed) when the replays are done */
        if (l->bytes + (int64_t)len <= QUEUE_MAX_BYTES && (rb.payload = sl_malloc(len ? len : 1)))
            memcpy(rb.payload, payload, len);
        else
            rb.len = 0;
        if (l->nraw < l->raw_cap) {
            l->raw[l->nraw++] = rb;
            l->bytes += (int64_t)rb.len;
        } else { /* out of memory: the block is lost to this job (its rows not known) */
            sl_free(rb.payload);
            l->overflow++;
        }
    }
    pthread_mutex_unlock(&l->mu);
    if (!held)
        own_decode(l, p, row, payload, len);
}

static bool listed_skip(stream_live *l, const meta_block *row);

/* Decodes the block as view v and hands the rows to v's subscriptions: decoded once
 * for them all (the first that needs it), but from its own states for a resumed job
 * over thread_spans. */
static void decode_view(stream_hub *h, const lake_process *p, int v, const meta_block *row,
                        const void *payload, size_t len)
{
    bool spans = v == LAKE_THREAD_SPANS, built = false;
    int rc = SL_OK, n;
    const lake_coldef *defs = lake_coldefs((lake_view_id)v, &n);
    lake_build_out out;
    lake_build_out_init(&out);
    for (stream_live *l = h->subs; l; l = l->next) {
        if (l->t->tel_view != v)
            continue;
        if (listed_skip(l, row)) {
            char id[UUID_STR_LEN];
            uuid_format(&row->block_id, id);
            log_info("stream", "table %s: block %s, replayed, delivered after the replay: "
                     "skipped", l->t->name, id);
            continue;
        }
        if (l->own) {
            own_block(l, p, row, payload, len);
            continue;
        }
        if (!built) {
            built = true;
            size_t prevn = 0;
            const uint8_t *prev =
                spans ? stream_spans_get(h->spans, &row->stream_id, &prevn) : NULL;
            rc = build_block(p, v, row, payload, len, clock_wall_ns(), prev, prevn, &out);
            if (!rc && spans)
                rc = stream_spans_set(h->spans, &row->stream_id, out.state.p, out.state.len);
        }
        if (!rc)
            deliver(l, out.batch, row, defs, spans ? &out.state : NULL);
    }
    if (rc) {
        char id[UUID_STR_LEN];
        uuid_format(&row->block_id, id);
        log_warn("stream", "block %s: cannot be decoded for the continuous jobs (%d): they do "
                 "not get its rows", id, rc);
    }
    lake_build_out_free(&out);
}

void stream_hub_block(stream_hub *h, const meta_block *row, const void *payload, size_t len)
{
    if (h->test_late_ms && atomic_load(&h->replaying))
        sleep_ms(h->test_late_ms);
    pthread_mutex_lock(&h->mu);
    if (!h->subs) {
        pthread_mutex_unlock(&h->mu);
        return;
    }
    const lake_process *p = NULL;
    errmsg em;
    errmsg_clear(&em);
    char id[UUID_STR_LEN];
    if (lake_process_get(h->l, &row->process_id, &p, &em)) {
        /* (the jobs miss this block's rows: their replay after a restart would not) */
        uuid_format(&row->block_id, id);
        log_warn("stream", "block %s: its process cannot be read, the continuous jobs do not "
                 "get its rows: %s", id, em.text);
        pthread_mutex_unlock(&h->mu);
        return;
    }
    const lake_stream_info *si = NULL;
    for (size_t i = 0; i < p->n_streams && !si; i++)
        if (uuid_eq(&p->streams[i].stream_id, &row->stream_id))
            si = &p->streams[i];
    if (!si) {
        uuid_format(&row->block_id, id);
        log_warn("stream", "block %s: its stream is not one of its process's as the lake has "
                 "them, the continuous jobs do not get its rows", id);
    }
    bool want[LAKE_VIEW_COUNT] = {false};
    for (stream_live *l = h->subs; l; l = l->next)
        want[l->t->tel_view] = true;
    if (si && si->is_log && want[LAKE_LOG_ENTRIES])
        decode_view(h, p, LAKE_LOG_ENTRIES, row, payload, len);
    if (si && si->is_metrics && want[LAKE_MEASURES])
        decode_view(h, p, LAKE_MEASURES, row, payload, len);
    if (si && si->is_cpu && want[LAKE_THREAD_SPANS])
        decode_view(h, p, LAKE_THREAD_SPANS, row, payload, len);
    if (si && si->is_cpu && want[LAKE_ASYNC_EVENTS])
        decode_view(h, p, LAKE_ASYNC_EVENTS, row, payload, len);
    lake_process_release(h->l, p);
    pthread_mutex_unlock(&h->mu);
}

/* ---- replaying after a checkpoint ------------------------------------------------ */

typedef struct replay_list {
    stream_live *l;
    int wid;
    const stream_live_done *done; /* sorted by id */
    uint32_t ndone;
    meta_block *rows;
    size_t n, cap;
} replay_list;

static int cmp_done(const void *a, const void *b)
{
    return memcmp(((const stream_live_done *)a)->id.b, ((const stream_live_done *)b)->id.b, 16);
}

void stream_live_done_sort(stream_live_done *d, int64_t n)
{
    if (n)
        qsort(d, (size_t)n, sizeof *d, cmp_done);
}

int stream_live_done_add(stream_live_done **d, int64_t *n, int64_t *cap, const sl_uuid *id,
                         int64_t at_ns)
{
    if (*n == *cap) {
        int64_t nc = *cap ? *cap * 2 : 64;
        stream_live_done *nd = sl_realloc(*d, sizeof *nd * (size_t)nc);
        if (!nd)
            return SL_ENOMEM;
        *d = nd;
        *cap = nc;
    }
    (*d)[(*n)++] = (stream_live_done){*id, at_ns};
    return SL_OK;
}

bool stream_live_done_has(const stream_live_done *d, int64_t n, const sl_uuid *id)
{
    stream_live_done key = {.id = *id};
    return n && bsearch(&key, d, (size_t)n, sizeof *d, cmp_done);
}

/* A block row inserted since the checkpoint's time: kept if its stream routes to
 * this worker and the worker did not take it before the checkpoint. */
static int take_row(void *arg, const meta_block *row)
{
    replay_list *r = arg;
    if ((int)(hash64(row->stream_id.b, 16) % (uint64_t)r->l->nw) != r->wid ||
        stream_live_done_has(r->done, r->ndone, &row->block_id))
        return 0;
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 64;
        meta_block *nr = sl_realloc(r->rows, sizeof *nr * nc);
        if (!nr)
            return SL_ENOMEM;
        r->rows = nr;
        r->cap = nc;
    }
    r->rows[r->n++] = *row;
    return 0;
}

/* A stored block's rows for l's table as the hub delivers them (*b NULL: none, the
 * block does not feed the table's view, or its payload is gone).  thread_spans:
 * decoded from spans' state of its stream, *st the state after it (allocated). */
static int replay_rows(stream_live *l, const meta_block *row, dbuf *pl, stream_spans *spans,
                       sql_batch **b, uint8_t **st, size_t *stn)
{
    stream_hub *h = l->h;
    int v = l->t->tel_view;
    const lake_process *p = NULL;
    errmsg em;
    errmsg_clear(&em);
    *b = NULL;
    *st = NULL;
    *stn = 0;
    int rc = lake_process_get(h->l, &row->process_id, &p, &em);
    if (rc)
        return rc == SL_ENOTFOUND ? SL_OK : rc;
    const lake_stream_info *si = NULL;
    for (size_t i = 0; i < p->n_streams && !si; i++)
        if (uuid_eq(&p->streams[i].stream_id, &row->stream_id))
            si = &p->streams[i];
    bool feeds = si && ((v == LAKE_LOG_ENTRIES && si->is_log) ||
                        (v == LAKE_MEASURES && si->is_metrics) ||
                        ((v == LAKE_THREAD_SPANS || v == LAKE_ASYNC_EVENTS) && si->is_cpu));
    dbuf_reset(pl);
    if (feeds && (rc = lake_block_payload(h->l, row, pl, &em))) {
        char id[UUID_STR_LEN];
        uuid_format(&row->block_id, id);
        log_warn("stream", "table %s: block %s inserted since the checkpoint cannot be read "
                 "again (%s): its rows are not replayed", l->t->name, id, errmsg_str(&em));
        feeds = false;
        rc = SL_OK;
    }
    if (feeds) {
        size_t prevn = 0;
        const uint8_t *prev = spans && v == LAKE_THREAD_SPANS
                                  ? stream_spans_get(spans, &row->stream_id, &prevn) : NULL;
        lake_build_out out;
        lake_build_out_init(&out);
        int n;
        const lake_coldef *defs = lake_coldefs((lake_view_id)v, &n);
        if (!build_block(p, v, row, pl->p, pl->len, row->insert_time_ns, prev, prevn, &out)) {
            if (out.batch && out.batch->nrows)
                *b = convert(l, out.batch, row, defs);
            if (spans && v == LAKE_THREAD_SPANS && !(*st = dbuf_take(&out.state, stn))) {
                sql_batch_free(*b); /* (the builder always writes a state) */
                *b = NULL;
                rc = SL_ENOMEM;
            }
        }
        lake_build_out_free(&out);
    }
    lake_process_release(h->l, p);
    return rc;
}

/* Under h->mu: a block a replay of this resumed job listed, delivered after the
 * replays are done (its insert was under way when it was listed: the hook comes
 * after the commit): skipped.  The list goes once no insert under way began
 * before the latest listing ended. */
static bool listed_skip(stream_live *l, const meta_block *row)
{
    if (!l->rdone || l->replaying)
        return false;
    if (inserts_low(l->h) > l->listed_ns) {
        sl_free(l->rdone);
        l->rdone = NULL;
        l->nrdone = l->rdone_cap = 0;
        return false;
    }
    return stream_live_done_has(l->rdone, l->nrdone, &row->block_id);
}

/* Under h->mu: a held thread_spans block decoded from the job's own states (its
 * payload read again from the store if it was not held). */
static void raw_decode(stream_live *l, const raw_block *rb, dbuf *pl)
{
    stream_hub *h = l->h;
    const lake_process *p = NULL;
    errmsg em;
    errmsg_clear(&em);
    const void *payload = rb->payload;
    size_t len = rb->len;
    if (!payload) {
        dbuf_reset(pl);
        if (lake_block_payload(h->l, &rb->row, pl, &em)) {
            log_warn("stream", "table %s: a block delivered while the job replayed cannot be "
                     "read again (%s): its rows are lost", l->t->name, errmsg_str(&em));
            return;
        }
        payload = pl->p;
        len = pl->len;
    }
    if (!lake_process_get(h->l, &rb->row.process_id, &p, &em)) {
        own_decode(l, p, &rb->row, payload, len);
        lake_process_release(h->l, p);
    }
}

/* Worker wid replayed what it had to (rows, n, listed when listed_ns; spans: its
 * states after them): once every worker has, the blocks delivered meanwhile are
 * checked and queued (each maybe one of those replayed) before the replay is
 * over for the subscription.  A job over thread_spans takes its states from the
 * workers' and decodes those blocks from them, except the replayed. */
static void replay_over(stream_live *l, const stream_spans *spans, const meta_block *rows,
                        size_t n, int64_t listed_ns)
{
    stream_hub *h = l->h;
    pthread_mutex_lock(&h->mu); /* (no block is decoded meanwhile) */
    if (l->own && spans && stream_spans_merge(l->own, spans))
        log_warn("stream", "table %s: out of memory: spans open across the restart may be "
                 "lost", l->t->name);
    for (size_t i = 0; i < n; i++)
        if (stream_live_done_add(&l->rdone, &l->nrdone, &l->rdone_cap, &rows[i].block_id,
                                 rows[i].insert_time_ns)) {
            log_warn("stream", "table %s: out of memory: blocks replayed may be counted twice",
                     l->t->name);
            break;
        }
    if (listed_ns > l->listed_ns)
        l->listed_ns = listed_ns;
    /* (held and raw change only under the hub's mutex too, which this holds) */
    int64_t held = l->held.n - l->held.head + l->nraw;
    bool last = l->replaying == 1;
    if (last && held)
        log_info("stream", "table %s: %lld blocks delivered while the job replayed, checked "
                 "now (those it replayed are skipped)", l->t->name, (long long)held);
    if (last) { /* still replaying: no idle tick, and each checkpoint time counts these */
        stream_live_done_sort(l->rdone, l->nrdone);
        dbuf pl;
        dbuf_init(&pl, (size_t)1 << 31);
        for (int64_t i = 0; i < l->nraw; i++)
            if (!stream_live_done_has(l->rdone, l->nrdone, &l->raw[i].row.block_id))
                raw_decode(l, &l->raw[i], &pl);
        dbuf_free(&pl);
    }
    pthread_mutex_lock(&l->mu);
    for (int64_t i = l->held.head; last && i < l->held.n; i++) {
        qitem *x = &l->held.it[i];
        l->bytes -= qitem_bytes(x);
        admit(l, x->b, &x->bi, true, &x->stream, NULL);
        x->b = NULL;
    }
    for (int64_t i = 0; last && i < l->nraw; i++)
        l->bytes -= (int64_t)l->raw[i].len;
    if (last) {
        queue_free(&l->held);
        raw_free(l);
        atomic_fetch_sub(&h->replaying, 1);
    }
    if (l->replaying)
        l->replaying--;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_mutex_unlock(&h->mu);
}

int stream_live_replay(stream_live *l, int wid, int64_t since_ns, stream_live_done *done,
                       uint32_t ndone, stream_spans *spans, stream_live_replay_fn fn,
                       void *arg, sql_err *e)
{
    stream_live_done_sort(done, ndone);
    replay_list r = {.l = l, .wid = wid, .done = done, .ndone = ndone};
    errmsg em;
    errmsg_clear(&em);
    sleep_ms(l->h->test_pause_ms);
    int rc = lake_blocks_since(l->h->l, since_ns, take_row, &r, &em);
    int64_t listed_ns = clock_wall_ns(); /* (every block listed began its insert before) */
    sleep_ms(l->h->test_pause_ms);
    if (rc)
        rc = rc == SL_ENOMEM ? sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory")
                             : sql_err_set(e, "58030", -1, "table \"%s\": the blocks ingested "
                                           "since the checkpoint cannot be listed: %s",
                                           l->t->name, errmsg_str(&em));
    dbuf pl;
    dbuf_init(&pl, (size_t)1 << 31);
    for (size_t i = 0; i < r.n && !rc; i++) {
        sql_batch *b;
        stream_live_item it = {.block = true, .id = r.rows[i].block_id,
                               .stream = r.rows[i].stream_id,
                               .at_ns = r.rows[i].insert_time_ns};
        if ((rc = replay_rows(l, &r.rows[i], &pl, spans, &b, &it.spans, &it.spans_len))) {
            rc = sql_err_set(e, "58030", -1, "table \"%s\": a block ingested since the "
                             "checkpoint cannot be read: %s", l->t->name, sl_strerror(rc));
            break;
        }
        pthread_mutex_lock(&l->mu);
        it.b = on_time(l, b, &it.nread, &it.nlate);
        it.wm = stream_wm_value(&l->wm);
        pthread_mutex_unlock(&l->mu);
        /* what this worker has not taken yet starts at the next block's insert time */
        rc = fn(arg, &it, i + 1 < r.n ? r.rows[i + 1].insert_time_ns : INT64_MAX, e);
    }
    if (!rc)
        log_info("stream", "table %s: worker %d replayed %zu blocks ingested since the "
                 "checkpoint", l->t->name, wid, r.n);
    dbuf_free(&pl);
    replay_over(l, spans, r.rows, r.n, listed_ns);
    sl_free(r.rows);
    return rc;
}
