/*
 * collector.c - the background thread that turns rings into blocks.
 *
 * The collector owns everything it touches: its list of threads, the payload
 * builder, and each stream's running object offset.  It wakes when a producer
 * has filled half a ring, when a flush is requested, or every quarter of the
 * flush period to send aged events.
 *
 * A thread's cpu ring is drained into one block of that thread's stream.  Log
 * (and metric) rings of all threads are drained together into blocks of the
 * process's single log (metric) stream, so a quiet program sends one log
 * block per period, not one per thread.  Events inside such a block come from
 * several threads; their ticks are not monotonic, which the format allows.
 *
 * Blocks are queued for the sender with their memory reserved against the
 * cap; when the reservation fails the block is dropped and its events
 * counted.
 *
 * Drops are reported as the metric streamlake.dropped_events (the running
 * total) and a warning log line, in the process's metric and log streams.
 * The collector builds these two events straight into two tiny blocks that
 * bypass the memory cap, because drops happen precisely when memory or the
 * sink is exhausted and a report through the rings would be dropped too.  At
 * most one report is in flight: while it waits for the sink no new one is
 * made, and the next one carries the total at that time, so reports cannot
 * pile up however long the sink is down.
 */
#include "client/client.h"

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/clock.h"
#include "wire/wire.h"

#include <stdio.h>
#include <string.h>

typedef struct collector {
    cl_thread *threads;
    wire_pb *pb;
    dbuf payload;
    cl_stream log, metric;
    uint64_t dropped_reaped;   /* drops of rings already freed */
    uint64_t dropped_reported;
    _Atomic int stop;
} collector;

static collector C;

/* ------------------------------------------------------------ messages */

static cl_streammsg *stream_message(const sl_uuid *id, const char *tag, const cl_thread *t)
{
    wire_stream s;
    memset(&s, 0, sizeof s);
    s.stream_id = *id;
    s.process_id = g_cl.process_id;
    wire_str tags[1] = {{tag, (uint32_t)strlen(tag)}};
    s.tags = tags;
    s.n_tags = 1;
    char tid[24];
    wire_kv kv[2];
    if (t) {
        snprintf(tid, sizeof tid, "%d", t->tid);
        kv[0] = (wire_kv){{"thread-id", 9}, {tid, (uint32_t)strlen(tid)}};
        kv[1] = (wire_kv){{"thread-name", 11}, {t->name, (uint32_t)strnlen(t->name, 63)}};
        s.properties = kv;
        s.n_properties = 2;
    }
    dbuf b;
    dbuf_init(&b, WIRE_MAX_META_MSG);
    cl_streammsg *m = NULL;
    if (wire_stream_encode(&s, &b) == 0 && (m = sl_malloc(sizeof *m + b.len))) {
        atomic_init(&m->refs, 1);
        m->stream_id = *id;
        m->len = b.len;
        memcpy(m->bytes, b.p, b.len);
        cl_mem_reserve_force(sizeof *m + b.len);
    }
    dbuf_free(&b);
    return m;
}

/* Queues the stream's message once, before its first block. */
static void ensure_stream_msg(cl_stream *st, const char *tag, const cl_thread *t)
{
    if (st->msg)
        return;
    st->msg = stream_message(&st->id, tag, t);
    if (!st->msg)
        return;
    cl_msg *m = cl_msg_new('S', st->msg->bytes, st->msg->len, 1);
    if (m)
        cl_queue_push(m);
}

static void add_dropped(uint64_t n)
{
    atomic_fetch_add_explicit(&g_cl.ev_dropped, n, memory_order_relaxed);
}

/*
 * Seals what the builder holds into a block of stream st and queues it.  A
 * forced block (drop reports) is queued even past the memory cap.
 */
static void seal_block(cl_stream *st, const char *tag, const cl_thread *t, int report)
{
    uint32_t n = wire_pb_count(C.pb);
    if (!n)
        return;
    ensure_stream_msg(st, tag, t);
    sl_uuid block_id;
    uuid_v4(&block_id);
    int64_t b = wire_pb_min_ticks(C.pb), e = wire_pb_max_ticks(C.pb);
    dbuf_reset(&C.payload);
    int64_t s0 = clock_mono_ns();
    int rc = wire_pb_finish(C.pb, g_cl.codec, &block_id, &st->id, &g_cl.process_id, b, e,
                            &C.payload);
    atomic_fetch_add(&g_cl.dbg_seal_ns_total, (uint64_t)(clock_mono_ns() - s0));
    cl_msg *m = rc ? NULL : cl_msg_new('B', NULL, WIRE_BLOCK_HDR + C.payload.len, report);
    atomic_fetch_add(&g_cl.dbg_blocks, 1);
    if (!m) {
        atomic_fetch_add(&g_cl.dbg_block_drops, n);
        add_dropped(n);
    } else {
        /* Wall times (bytes 64..79) are filled by the sender once the tick rate is known. */
        wire_block hdr = {.block_id = block_id, .stream_id = st->id,
                          .process_id = g_cl.process_id, .begin_ticks = b, .end_ticks = e,
                          .nb_objects = n, .object_offset = st->object_offset,
                          .payload_size = (uint32_t)C.payload.len};
        dbuf out = {m->bytes, 0, m->len, m->len};
        wire_block_encode_header(&hdr, &out);
        memcpy(m->bytes + WIRE_BLOCK_HDR, C.payload.p, C.payload.len);
        m->nb_objects = n;
        m->is_report = report;
        if (report)
            atomic_fetch_add(&g_cl.reports_inflight, 1);
        m->stream = st->msg;
        if (st->msg)
            atomic_fetch_add(&st->msg->refs, 1);
        cl_queue_push(m);
    }
    st->object_offset += n;
    wire_pb_reset(C.pb);
}

static void seal(cl_stream *st, const char *tag, const cl_thread *t)
{
    seal_block(st, tag, t, 0);
}

/* ------------------------------------------------------------ draining */

/* Adds the descriptor at d, of the kind the event type implies, to the builder. */
static int add_desc(uint64_t type, const void *d, uint32_t *index)
{
    uint64_t key = (uint64_t)(uintptr_t)d;
    if (type == WIRE_EV_LOG || type == WIRE_EV_LOG_FMT) {
        const sl_log_desc *ld = d;
        return wire_pb_desc(C.pb, key, WIRE_DESC_LOG, ld->level, ld->fmt, ld->target, ld->file,
                            ld->line, NULL, index);
    }
    if (type == WIRE_EV_METRIC_INT || type == WIRE_EV_METRIC_FLOAT) {
        const sl_metric_desc *md = d;
        return wire_pb_desc(C.pb, key, WIRE_DESC_METRIC, 0, md->name, md->target, md->file,
                            md->line, md->unit, index);
    }
    const sl_span_desc *sd = d;
    return wire_pb_desc(C.pb, key, WIRE_DESC_SPAN, 0, sd->name, sd->target, sd->file, sd->line,
                        NULL, index);
}

/*
 * Decodes the ring event at p and adds it, with its descriptor, to the builder.
 * *size is set to the event's bytes in the ring whatever the outcome.
 */
static int add_ring_event(const uint64_t *p, size_t *size)
{
    uint64_t type = p[1] >> EV_SHIFT;
    const void *d = (const void *)(uintptr_t)(p[1] & EV_ADDR_MASK);
    wire_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = (uint8_t)type;
    ev.ticks = (int64_t)(p[0] - g_cl.start_ticks);
    *size = 16;
    switch (type) {
    case WIRE_EV_NAMED_SPAN_BEGIN:
    case WIRE_EV_NAMED_SPAN_END:
    case WIRE_EV_LOG_FMT:
        ev.name.p = (const char *)(p + 3);
        ev.name.len = (uint32_t)p[2];
        *size = 24 + ((p[2] + 7) & ~(uint64_t)7);
        break;
    case WIRE_EV_ASYNC_BEGIN:
    case WIRE_EV_ASYNC_END:
        ev.span_id = p[2];
        ev.parent_span_id = p[3];
        ev.depth = (uint32_t)p[4];
        *size = 40;
        break;
    case WIRE_EV_METRIC_INT:
        ev.value_i = (int64_t)p[2];
        *size = 24;
        break;
    case WIRE_EV_METRIC_FLOAT:
        memcpy(&ev.value_f, &p[2], 8);
        *size = 24;
        break;
    default:
        break;
    }
    int rc = add_desc(type, d, &ev.desc);
    return rc ? rc : wire_pb_event(C.pb, &ev);
}

/* Moves every published event of r into the builder, sealing blocks as it fills. */
static void drain(cl_ring *r, cl_stream *st, const char *tag, const cl_thread *t)
{
    uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint64_t count = 0;
    while (tail < head) {
        const uint64_t *p = (const uint64_t *)(r->base + (tail & r->mask));
        if (p[0] == RING_PAD) {
            tail = (tail | r->mask) + 1;
            continue;
        }
        size_t size;
        int rc = add_ring_event(p, &size);
        if (rc == SL_ETOOBIG) {
            /* The block is full: seal it, and the event starts the next one. */
            seal(st, tag, t);
            rc = add_ring_event(p, &size);
        }
        if (rc)
            add_dropped(1);
        else
            count++;
        tail += size;
    }
    atomic_store_explicit(&r->tail, tail, memory_order_release);
    atomic_fetch_add_explicit(&g_cl.ev_drained, count, memory_order_relaxed);
    r->pending_since_ns = 0;
}

static cl_ring *ring_of(cl_thread *t, int kind)
{
    return atomic_load_explicit(&t->rings[kind], memory_order_acquire);
}

static cl_ring *ring_next(cl_ring *r)
{
    return atomic_load_explicit(&r->next, memory_order_acquire);
}

/* True when the thread's rings of this kind should be drained now. */
static int due(cl_thread *t, int kind, int64_t now_ns, int all)
{
    cl_ring *r = ring_of(t, kind);
    if (!r)
        return 0;
    if (ring_next(r))
        return 1; /* a replaced ring waits to be emptied and freed */
    uint64_t avail = atomic_load_explicit(&r->head, memory_order_acquire) -
                     atomic_load_explicit(&r->tail, memory_order_relaxed);
    if (!avail)
        return 0;
    /*
     * Producers wake us at every half-ring boundary.  The previous drain may have
     * read a little past the last boundary, so "half unread" would be too strict:
     * a quarter keeps blocks large and never misses a wake-up.
     */
    if (all || avail >= r->size_bytes / 4 || atomic_load(&t->closed))
        return 1;
    if (!r->pending_since_ns)
        r->pending_since_ns = now_ns;
    return now_ns - r->pending_since_ns >= (int64_t)g_cl.cfg.flush_period_ms * 1000000;
}

static uint64_t ring_drops(cl_ring *r)
{
    uint64_t d = atomic_load_explicit(&r->dropped, memory_order_relaxed);
    uint64_t fresh = d - r->dropped_seen;
    r->dropped_seen = d;
    atomic_fetch_add(&g_cl.dbg_ring_drops, fresh);
    return fresh;
}

static void free_ring(cl_ring *r)
{
    add_dropped(ring_drops(r));
    cl_ring_mem_release(sizeof(cl_ring) + r->size_bytes);
    sl_free(r->base);
    sl_free(r);
}

/*
 * Drains the thread's rings of one kind, oldest first.  A ring with a successor
 * is no longer written (the producer set `next` after its last event, with a
 * release store), so after one more drain it is empty for good and is freed.
 */
static void drain_chain(cl_thread *t, int kind, cl_stream *st, const char *tag,
                        const cl_thread *owner)
{
    cl_ring *r = ring_of(t, kind);
    while (r) {
        drain(r, st, tag, owner);
        cl_ring *next = ring_next(r);
        if (!next)
            break;
        drain(r, st, tag, owner);
        atomic_store_explicit(&t->rings[kind], next, memory_order_release);
        free_ring(r);
        r = next;
    }
}

/* Drains the log or metric rings of every thread into the process-wide stream. */
static void drain_shared(int kind, cl_stream *st, const char *tag, int64_t now, int all)
{
    int any = 0;
    for (cl_thread *t = C.threads; t && !any; t = t->next)
        any = due(t, kind, now, all);
    if (!any)
        return;
    for (cl_thread *t = C.threads; t; t = t->next)
        drain_chain(t, kind, st, tag, NULL);
    seal(st, tag, NULL);
}

static void adopt_new_threads(void)
{
    cl_thread *t = atomic_exchange_explicit(&g_cl.reg_head, NULL, memory_order_acquire);
    while (t) {
        cl_thread *next = t->next_reg;
        t->next = C.threads;
        C.threads = t;
        t = next;
    }
}

/* Frees threads that exited and whose rings are empty. */
static void reap(void)
{
    cl_thread **pp = &C.threads;
    while (*pp) {
        cl_thread *t = *pp;
        int empty = 1;
        for (int k = 0; k < RING_KINDS; k++)
            for (cl_ring *r = ring_of(t, k); r; r = ring_next(r))
                if (atomic_load(&r->head) != atomic_load(&r->tail))
                    empty = 0;
        if (!atomic_load_explicit(&t->closed, memory_order_acquire) || !empty) {
            pp = &t->next;
            continue;
        }
        *pp = t->next;
        for (int k = 0; k < RING_KINDS; k++) {
            cl_ring *r = ring_of(t, k);
            while (r) {
                cl_ring *next = ring_next(r);
                free_ring(r);
                r = next;
            }
        }
        cl_streammsg_unref(t->cpu.msg);
        sl_free(t);
    }
}

static const sl_log_desc g_drop_log = {
    "streamlake: %llu events dropped so far: buffers full, memory cap of %zu bytes reached, "
    "or the sink refused them",
    "streamlake", __FILE__, __LINE__, SL_WARN};
static const sl_metric_desc g_drop_metric = {"streamlake.dropped_events", "events",
                                             "streamlake", __FILE__, __LINE__};

/* Builds one event of the report into the (empty) builder and seals it as a forced block. */
static void report_event(cl_stream *st, const char *tag, const wire_event *ev, const void *desc)
{
    wire_event e = *ev;
    if (!add_desc(e.type, desc, &e.desc) && !wire_pb_event(C.pb, &e)) {
        atomic_fetch_add(&g_cl.ev_library, 1);
        seal_block(st, tag, NULL, 1);
    }
    wire_pb_reset(C.pb);
}

/*
 * Folds ring drop counters into the total and, when it grew and no report is
 * waiting for the sink, reports it.  Called with the builder empty.
 */
static void report_drops(void)
{
    for (cl_thread *t = C.threads; t; t = t->next)
        for (int k = 0; k < RING_KINDS; k++)
            for (cl_ring *r = ring_of(t, k); r; r = ring_next(r))
                add_dropped(ring_drops(r));
    uint64_t total = atomic_load(&g_cl.ev_dropped);
    if (total == C.dropped_reported || atomic_load(&g_cl.reports_inflight) > 0)
        return;
    C.dropped_reported = total;
    char msg[256];
    int len = snprintf(msg, sizeof msg, g_drop_log.fmt, (unsigned long long)total, g_cl.mem_cap);
    wire_event ev = {.type = WIRE_EV_LOG_FMT,
                     .ticks = (int64_t)(clock_ticks() - g_cl.start_ticks),
                     .name = {msg, (uint32_t)len}};
    report_event(&C.log, "log", &ev, &g_drop_log);
    ev = (wire_event){.type = WIRE_EV_METRIC_INT, .ticks = ev.ticks, .value_i = (int64_t)total};
    report_event(&C.metric, "metrics", &ev, &g_drop_metric);
}

static void pass(int all)
{
    int64_t now = clock_mono_ns();
    atomic_fetch_add(&g_cl.dbg_passes, 1);
    adopt_new_threads();
    for (cl_thread *t = C.threads; t; t = t->next) {
        if (due(t, RING_CPU, now, all)) {
            drain_chain(t, RING_CPU, &t->cpu, "cpu", t);
            seal(&t->cpu, "cpu", t);
        }
    }
    drain_shared(RING_LOG, &C.log, "log", now, all);
    drain_shared(RING_METRIC, &C.metric, "metrics", now, all);
    report_drops();
    reap();
}

static void set_all_limits_zero(void)
{
    for (cl_thread *t = C.threads; t; t = t->next)
        for (int k = 0; k < RING_KINDS; k++)
            for (cl_ring *r = ring_of(t, k); r; r = ring_next(r))
                atomic_store(&r->limit, 0);
}

static void *collector_main(void *arg)
{
    (void)arg;
    sl_thread_set_name("streamlake-collector");
    int64_t period_ns = (int64_t)g_cl.cfg.flush_period_ms * 1000000;
    for (;;) {
        uint32_t seq = atomic_load_explicit(&g_cl.wake_seq, memory_order_acquire);
        uint64_t req = atomic_load(&g_cl.flush_req);
        int stop = atomic_load(&C.stop);
        if (stop) {
            adopt_new_threads();
            set_all_limits_zero();
        }
        int64_t p0 = clock_mono_ns();
        pass(stop || req != atomic_load(&g_cl.flush_done));
        uint64_t pns = (uint64_t)(clock_mono_ns() - p0);
        atomic_fetch_add(&g_cl.dbg_pass_ns_total, pns);
        if (pns > atomic_load(&g_cl.dbg_pass_ns_max))
            atomic_store(&g_cl.dbg_pass_ns_max, pns);
        if (stop) {
            /* A second pass takes the reports of the first one. */
            pass(1);
            break;
        }
        if (req != atomic_load(&g_cl.flush_done)) {
            pthread_mutex_lock(&g_cl.q_mu);
            atomic_store(&g_cl.flush_done, req);
            pthread_cond_broadcast(&g_cl.q_cv);
            pthread_mutex_unlock(&g_cl.q_mu);
        }
        /* seq was read before the pass: a wake-up during the pass makes this return at once. */
        atomic_store(&g_cl.collector_sleeping, 1);
        if (atomic_load(&g_cl.wake_seq) == seq && !atomic_load(&C.stop) &&
            atomic_load(&g_cl.flush_req) == req)
            cl_futex_wait(&g_cl.wake_seq, seq, period_ns / 4);
        atomic_store(&g_cl.collector_sleeping, 0);
    }
    return NULL;
}

int cl_collector_start(void)
{
    memset(&C, 0, sizeof C);
    if (wire_pb_new(1u << 20, &C.pb))
        return SL_ENOMEM;
    dbuf_init(&C.payload, WIRE_MAX_PAYLOAD);
    C.log.id = g_cl.log_stream_id;
    C.metric.id = g_cl.metric_stream_id;
    if (pthread_create(&g_cl.collector_th, NULL, collector_main, NULL)) {
        wire_pb_free(C.pb);
        return SL_ENOMEM;
    }
    return SL_OK;
}

void cl_collector_stop(void)
{
    atomic_store(&C.stop, 1);
    atomic_fetch_add(&g_cl.wake_seq, 1);
    cl_futex_wake(&g_cl.wake_seq);
    pthread_join(g_cl.collector_th, NULL);
    wire_pb_free(C.pb);
    C.pb = NULL;
    dbuf_free(&C.payload);
    cl_streammsg_unref(C.log.msg);
    cl_streammsg_unref(C.metric.msg);
    C.log.msg = C.metric.msg = NULL;
}
