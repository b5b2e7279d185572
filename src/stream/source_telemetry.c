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
 * keeps each cpu stream's open spans between blocks (the builder's state),
 * for at most MAX_SPAN_STREAMS streams (the oldest forgotten first).
 *
 * The idle rule: when no row reached a subscription for idle_timeout (1 s by
 * default), its watermark moves to the wall clock minus max_delay (never
 * back), so windows close once telemetry stops.  Telemetry carries wall-clock
 * event times; max_delay must cover how long clients hold events before
 * sending them (their flush interval) or such rows arrive late.
 *
 * Locks: the hub's mutex covers its subscription list and the decoding; a
 * subscription's mutex its queues, watermark and figures.  Neither is held
 * while a worker runs rows.
 */
#include "stream/live.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/uuid.h"
#include "sql/catalog/lakescan.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define QUEUE_MAX_BYTES (64ll << 20)
#define MAX_SPAN_STREAMS 4096
#define WAIT_NS (50ll * 1000000)
#define FILL_PROCESS -2
#define FILL_STREAM -3

typedef struct qitem {
    sql_batch *b;
    int64_t wm;
} qitem;

typedef struct wqueue {
    qitem *it;
    int64_t head, n, cap;
} wqueue;

struct stream_live {
    stream_hub *h;
    stream_table *t;
    int nw;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    wqueue *q;
    stream_wm wm;
    int64_t last_row_mono;
    int64_t bytes;
    bool stop;
    uint64_t rows_read, late, overflow;
    stream_live *next;
};

typedef struct span_state {
    sl_uuid stream;
    dbuf st;
    int64_t used;
} span_state;

struct stream_hub {
    lake *l;
    pthread_mutex_t mu;
    stream_live *subs;
    span_state *spans;
    int nspans;
    int64_t tick;
};

int stream_hub_new(lake *l, stream_hub **out)
{
    stream_hub *h = sl_calloc(1, sizeof *h);
    if (!h)
        return SL_ENOMEM;
    h->l = l;
    pthread_mutex_init(&h->mu, NULL);
    *out = h;
    return SL_OK;
}

void stream_hub_free(stream_hub *h)
{
    if (!h)
        return;
    for (int i = 0; i < h->nspans; i++)
        dbuf_free(&h->spans[i].st);
    sl_free(h->spans);
    pthread_mutex_destroy(&h->mu);
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

/* ---- subscriptions --------------------------------------------------------- */

int stream_live_open(stream_hub *h, stream_table *t, int nworkers, stream_live **out)
{
    stream_live *l = sl_calloc(1, sizeof *l);
    if (!l || !(l->q = sl_calloc((size_t)nworkers, sizeof *l->q))) {
        sl_free(l);
        return SL_ENOMEM;
    }
    l->h = h;
    l->t = t;
    l->nw = nworkers;
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

void stream_live_close(stream_live *l)
{
    if (!l)
        return;
    stream_hub *h = l->h;
    pthread_mutex_lock(&h->mu);
    for (stream_live **p = &h->subs; *p; p = &(*p)->next)
        if (*p == l) {
            *p = l->next;
            break;
        }
    pthread_mutex_unlock(&h->mu);
    for (int w = 0; w < l->nw; w++) {
        for (int64_t i = l->q[w].head; i < l->q[w].n; i++)
            sql_batch_free(l->q[w].it[i].b);
        sl_free(l->q[w].it);
    }
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

static int queue_push(wqueue *q, sql_batch *b, int64_t wm)
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
    q->it[q->n++] = (qitem){b, wm};
    return SL_OK;
}

int stream_live_next(stream_live *l, int wid, sql_batch **b, int64_t *wm)
{
    *b = NULL;
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
        *b = q->it[q->head].b;
        *wm = q->it[q->head].wm;
        q->head++;
        l->bytes -= sql_batch_bytes(*b);
    } else if (more) {
        /* nothing queued for this worker: the source's watermark, which every row still
         * to come respects (rows are checked against it when queued, under this lock) */
        if (clock_mono_ns() - l->last_row_mono >= l->t->idle_ns)
            stream_wm_observe(&l->wm, clock_wall_ns());
        *wm = stream_wm_value(&l->wm);
    }
    pthread_mutex_unlock(&l->mu);
    return more;
}

/* ---- delivering a block ----------------------------------------------------- */

/* The rows of one subscription's table from the view's SQL batch: its columns,
 * its on-time rows; queued for the stream's worker. */
static void deliver(stream_live *l, const col_batch *cb, const meta_block *row,
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
    if (lakescan_convert(cb, in_col, cols, t->ncols, t->types, &b, &e))
        return;
    uint32_t *keep = sl_malloc(sizeof *keep * (size_t)(b->n ? b->n : 1));
    if (!keep) {
        sql_batch_free(b);
        return;
    }
    pthread_mutex_lock(&l->mu);
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
    l->rows_read += (uint64_t)b->n;
    l->late += (uint64_t)late;
    l->last_row_mono = clock_mono_ns();
    sql_batch *kept = b;
    if (m < b->n && sql_batch_take(b, keep, m, &kept))
        kept = NULL;
    if (kept != b)
        sql_batch_free(b);
    int64_t bytes = kept ? sql_batch_bytes(kept) : 0;
    int w = (int)(hash64(row->stream_id.b, 16) % (uint64_t)l->nw);
    if (!kept || !m || l->stop) {
        sql_batch_free(kept);
    } else if (l->bytes + bytes > QUEUE_MAX_BYTES ||
               queue_push(&l->q[w], kept, stream_wm_value(&l->wm))) {
        l->overflow += (uint64_t)m;
        sql_batch_free(kept);
    } else {
        l->bytes += bytes;
        pthread_cond_broadcast(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
    sl_free(keep);
}

/* thread_spans: the state the stream's previous block left (made if new). */
static span_state *span_state_of(stream_hub *h, const sl_uuid *stream)
{
    h->tick++;
    for (int i = 0; i < h->nspans; i++)
        if (uuid_eq(&h->spans[i].stream, stream)) {
            h->spans[i].used = h->tick;
            return &h->spans[i];
        }
    if (h->nspans == MAX_SPAN_STREAMS) {
        int old = 0;
        for (int i = 1; i < h->nspans; i++)
            if (h->spans[i].used < h->spans[old].used)
                old = i;
        dbuf_free(&h->spans[old].st);
        h->spans[old] = h->spans[--h->nspans];
    }
    if (!(h->nspans & (h->nspans - 1)) || !h->nspans) {
        int nc = h->nspans ? h->nspans * 2 : 16;
        span_state *ns = sl_realloc(h->spans, sizeof *ns * (size_t)nc);
        if (!ns)
            return NULL;
        h->spans = ns;
    }
    span_state *s = &h->spans[h->nspans++];
    s->stream = *stream;
    dbuf_init(&s->st, 64u << 20);
    s->used = h->tick;
    return s;
}

/* Decodes the block as view v and hands the rows to v's subscriptions. */
static void decode_view(stream_hub *h, const lake_process *p, int v, const meta_block *row,
                        const void *payload, size_t len)
{
    lake_src_block blk = {.block_id = row->block_id,
                          .stream_id = row->stream_id,
                          .insert_time_ns = clock_wall_ns(),
                          .object_offset = row->object_offset,
                          .nb_objects = row->nb_objects,
                          .payload = payload,
                          .payload_len = len};
    span_state *ss = v == LAKE_THREAD_SPANS ? span_state_of(h, &row->stream_id) : NULL;
    if (v == LAKE_THREAD_SPANS && !ss)
        return;
    lake_build_out out;
    lake_build_out_init(&out);
    errmsg em;
    errmsg_clear(&em);
    int rc = lake_builder_of((lake_view_id)v)(&p->proc, &blk, 1, ss ? ss->st.p : NULL,
                                               ss ? ss->st.len : 0, &out, &em);
    if (!rc && ss) {
        dbuf_reset(&ss->st);
        rc = dbuf_append(&ss->st, out.state.p, out.state.len);
    }
    int n;
    const lake_coldef *defs = lake_coldefs((lake_view_id)v, &n);
    for (stream_live *l = h->subs; !rc && l; l = l->next)
        if (l->t->tel_view == v && out.batch && out.batch->nrows)
            deliver(l, out.batch, row, defs);
    lake_build_out_free(&out);
}

void stream_hub_block(stream_hub *h, const meta_block *row, const void *payload, size_t len)
{
    pthread_mutex_lock(&h->mu);
    if (!h->subs) {
        pthread_mutex_unlock(&h->mu);
        return;
    }
    const lake_process *p = NULL;
    errmsg em;
    errmsg_clear(&em);
    if (lake_process_get(h->l, &row->process_id, &p, &em)) {
        pthread_mutex_unlock(&h->mu);
        return;
    }
    const lake_stream_info *si = NULL;
    for (size_t i = 0; i < p->n_streams && !si; i++)
        if (uuid_eq(&p->streams[i].stream_id, &row->stream_id))
            si = &p->streams[i];
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
