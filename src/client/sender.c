/*
 * sender.c - hands queued messages to the sink, in order, with retries.
 *
 * The queue is FIFO, so a stream's message always goes out before its
 * blocks and the process message before everything.  One sender thread keeps
 * that order simple; a block is removed from the queue only once the sink
 * acknowledged it or refused it for good.
 *
 * Before the first message the sender measures the tick rate (unless the
 * configuration gives it): ticks and the monotonic clock were read together
 * in sl_init, and again here at least 100 ms later.  Block wall times are
 * filled in from it just before each block is sent, so the collector never
 * waits for the measurement.
 *
 * Failures: "missing dependency" (the receiver does not know the process or
 * stream, e.g. it lost its data) resends both, then the block; network and
 * server errors back off exponentially from 100 ms to 5 s; any other refusal
 * drops the message, counts its events and says why on stderr.
 */
#include "client/client.h"

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/clock.h"
#include "wire/wire.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

cl_msg *cl_msg_new(int kind, const uint8_t *bytes, size_t len, int force)
{
    size_t total = sizeof(cl_msg) + len;
    if (force)
        cl_mem_reserve_force(total);
    else if (cl_mem_reserve(total))
        return NULL;
    cl_msg *m = sl_malloc(total);
    if (!m) {
        cl_mem_release(total);
        return NULL;
    }
    memset(m, 0, sizeof *m);
    m->kind = kind;
    m->len = len;
    if (bytes)
        memcpy(m->bytes, bytes, len);
    return m;
}

void cl_streammsg_unref(cl_streammsg *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1) {
        cl_mem_release(sizeof *s + s->len);
        sl_free(s);
    }
}

void cl_msg_free(cl_msg *m)
{
    if (!m)
        return;
    cl_streammsg_unref(m->stream);
    cl_mem_release(sizeof(cl_msg) + m->len);
    sl_free(m);
}

void cl_queue_push(cl_msg *m)
{
    m->next = NULL;
    pthread_mutex_lock(&g_cl.q_mu);
    if (g_cl.q_tail)
        g_cl.q_tail->next = m;
    else
        g_cl.q_head = m;
    g_cl.q_tail = m;
    g_cl.q_count++;
    pthread_cond_broadcast(&g_cl.q_cv);
    pthread_mutex_unlock(&g_cl.q_mu);
}

static void abs_deadline(struct timespec *ts, int64_t mono_deadline_ns)
{
    ts->tv_sec = (time_t)(mono_deadline_ns / 1000000000);
    ts->tv_nsec = (long)(mono_deadline_ns % 1000000000);
}

int cl_queue_wait_empty(int64_t deadline_ns)
{
    struct timespec ts;
    abs_deadline(&ts, deadline_ns);
    pthread_mutex_lock(&g_cl.q_mu);
    while ((g_cl.q_head || g_cl.sender_busy) && clock_mono_ns() < deadline_ns)
        pthread_cond_timedwait(&g_cl.q_cv, &g_cl.q_mu, &ts);
    int empty = !g_cl.q_head && !g_cl.sender_busy;
    pthread_mutex_unlock(&g_cl.q_mu);
    return empty ? SL_OK : SL_ECANCELED;
}

/* Waits ms or until told to stop; returns 1 if stopping. Called with q_mu held. */
static int sleep_unless_stopped(int64_t ms)
{
    struct timespec ts;
    abs_deadline(&ts, clock_mono_ns() + ms * 1000000);
    while (!g_cl.sender_stop && pthread_cond_timedwait(&g_cl.q_cv, &g_cl.q_mu, &ts) == 0) {
    }
    return g_cl.sender_stop;
}

static int64_t ticks_to_wall(int64_t rel_ticks)
{
    uint64_t f = atomic_load(&g_cl.tsc_frequency);
    return g_cl.start_time_ns + (int64_t)((__int128)rel_ticks * 1000000000 / (__int128)f);
}

static void fill_wall_times(cl_msg *m)
{
    int64_t b = (int64_t)ld_u64le(m->bytes + 80), e = (int64_t)ld_u64le(m->bytes + 88);
    st_u64le(m->bytes + 64, (uint64_t)ticks_to_wall(b));
    st_u64le(m->bytes + 72, (uint64_t)ticks_to_wall(e));
}

/* Measures ticks per second over at least 100 ms since sl_init (or takes the configured rate). */
static void calibrate(void)
{
    if (g_cl.cfg.tsc_frequency) {
        atomic_store(&g_cl.tsc_frequency, g_cl.cfg.tsc_frequency);
        return;
    }
    pthread_mutex_lock(&g_cl.q_mu);
    int64_t wait_ms = 100 - (clock_mono_ns() - g_cl.start_mono_ns) / 1000000;
    if (wait_ms > 0) /* a stop cuts the wait short: a rate is needed to send what was recorded */
        sleep_unless_stopped(wait_ms);
    pthread_mutex_unlock(&g_cl.q_mu);
    /* Take the pair with the smallest gap between the two clock reads. */
    int64_t best_gap = INT64_MAX, m1 = 0;
    uint64_t t1 = 0;
    for (int i = 0; i < 16; i++) {
        uint64_t a = clock_ticks();
        int64_t m = clock_mono_ns();
        uint64_t b = clock_ticks();
        if ((int64_t)(b - a) < best_gap) {
            best_gap = (int64_t)(b - a);
            t1 = a + (b - a) / 2;
            m1 = m;
        }
    }
    double secs = (double)(m1 - g_cl.start_mono_ns) / 1e9;
    uint64_t f = secs > 0 ? (uint64_t)((double)(t1 - g_cl.start_ticks) / secs + 0.5) : 0;
    atomic_store(&g_cl.tsc_frequency, f ? f : 1000000000ull);
}

static void drop_msg(cl_msg *m, int rc, const errmsg *e)
{
    static int reported;
    atomic_fetch_add(&g_cl.ev_dropped, m->nb_objects);
    if (reported++ < 5)
        fprintf(stderr, "streamlake: the sink refused a %s message (%s); %u events dropped\n",
                m->kind == 'B' ? "block" : m->kind == 'S' ? "stream" : "process",
                e->text[0] ? e->text : sl_strerror(rc), m->nb_objects);
}

/* Sends m, first the process message if needed; resends dependencies after a 409. */
static int send_one(cl_msg *m, int *process_sent, errmsg *e)
{
    cl_sink *s = g_cl.sink;
    int rc;
    if (!*process_sent) {
        rc = s->send(s, 'P', g_cl.process_msg->bytes, g_cl.process_msg->len, e);
        if (rc)
            return rc;
        *process_sent = 1;
    }
    if (m->kind == 'B')
        fill_wall_times(m);
    rc = s->send(s, m->kind, m->bytes, m->len, e);
    if (rc == SL_EAGAIN) {
        /* The receiver is missing the process or stream: send them again, then retry. */
        rc = s->send(s, 'P', g_cl.process_msg->bytes, g_cl.process_msg->len, e);
        if (!rc && m->stream)
            rc = s->send(s, 'S', m->stream->bytes, m->stream->len, e);
        if (!rc)
            rc = s->send(s, m->kind, m->bytes, m->len, e);
    }
    return rc;
}

static int retryable(int rc)
{
    return rc == SL_EAGAIN || rc == SL_ENET || rc == SL_EIO;
}

static void *sender_main(void *arg)
{
    (void)arg;
    calibrate();
    dbuf pm;
    dbuf_init(&pm, WIRE_MAX_META_MSG);
    if (cl_process_message(&g_cl.cfg, &pm) == 0)
        g_cl.process_msg = cl_msg_new('P', pm.p, pm.len, 1);
    dbuf_free(&pm);
    int process_sent = 0;
    int64_t backoff_ms = BACKOFF_MIN_MS;
    pthread_mutex_lock(&g_cl.q_mu);
    for (;;) {
        while (!g_cl.q_head && !g_cl.sender_stop)
            pthread_cond_wait(&g_cl.q_cv, &g_cl.q_mu);
        if (g_cl.sender_stop)
            break;
        cl_msg *m = g_cl.q_head;
        g_cl.sender_busy = 1;
        pthread_mutex_unlock(&g_cl.q_mu);

        errmsg e;
        errmsg_clear(&e);
        int rc = g_cl.process_msg ? send_one(m, &process_sent, &e) : SL_ENOMEM;
        pthread_mutex_lock(&g_cl.q_mu);
        if (rc && retryable(rc)) {
            atomic_fetch_add(&g_cl.retries, 1);
            g_cl.sender_busy = 0;
            pthread_cond_broadcast(&g_cl.q_cv);
            if (sleep_unless_stopped(backoff_ms))
                break;
            backoff_ms = backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff_ms * 2;
            continue;
        }
        backoff_ms = BACKOFF_MIN_MS;
        /* Counters first: whoever waits for an empty queue then reads final figures. */
        if (rc) {
            drop_msg(m, rc, &e);
        } else if (m->kind == 'B') {
            atomic_fetch_add(&g_cl.ev_delivered, m->nb_objects);
            atomic_fetch_add(&g_cl.blocks_delivered, 1);
            atomic_fetch_add(&g_cl.bytes_delivered, m->len);
        }
        if (m->is_report)
            atomic_fetch_sub(&g_cl.reports_inflight, 1);
        g_cl.q_head = m->next;
        if (!g_cl.q_head)
            g_cl.q_tail = NULL;
        g_cl.q_count--;
        g_cl.sender_busy = 0;
        pthread_cond_broadcast(&g_cl.q_cv);
        pthread_mutex_unlock(&g_cl.q_mu);
        cl_msg_free(m);
        pthread_mutex_lock(&g_cl.q_mu);
    }
    g_cl.sender_busy = 0;
    pthread_mutex_unlock(&g_cl.q_mu);
    return NULL;
}

int cl_sender_start(void)
{
    return pthread_create(&g_cl.sender_th, NULL, sender_main, NULL) ? SL_ENOMEM : SL_OK;
}

void cl_sender_stop(void)
{
    pthread_mutex_lock(&g_cl.q_mu);
    g_cl.sender_stop = 1;
    pthread_cond_broadcast(&g_cl.q_cv);
    pthread_mutex_unlock(&g_cl.q_mu);
    pthread_join(g_cl.sender_th, NULL);
    /* What is still queued could not be delivered in time. */
    cl_msg *m = g_cl.q_head;
    g_cl.q_head = g_cl.q_tail = NULL;
    g_cl.q_count = 0;
    while (m) {
        cl_msg *next = m->next;
        atomic_fetch_add(&g_cl.ev_dropped, m->nb_objects);
        cl_msg_free(m);
        m = next;
    }
    cl_msg_free(g_cl.process_msg);
    g_cl.process_msg = NULL;
}
