/*
 * record.c - the recording path: what runs in the caller's thread.
 *
 * The fast path of every event is: load the thread's ring pointer from
 * thread-local storage, compare head + size with limit, read the cycle
 * counter, store the event's words, and publish the new head with a release
 * store (a plain store on x86-64).  No lock, no allocation, no system call.
 *
 * Everything else happens in reserve_slow(): registering the thread and
 * allocating its ring on first use, wrapping around the end of the ring,
 * waking the collector when half a ring is waiting, and dropping (and
 * counting) an event when the ring is full or the library is stopped.
 *
 * Before sl_init, every ring pointer is the shared null ring whose limit is
 * zero, so the fast path needs no separate "initialised?" test.
 */
#include "client/client.h"

#include "base/alloc.h"
#include "base/clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define TLS __thread __attribute__((tls_model("initial-exec")))

static cl_ring g_null_ring; /* limit 0: every reservation takes the slow path */

static TLS cl_ring *tl_rings[RING_KINDS] = {&g_null_ring, &g_null_ring, &g_null_ring};
static TLS cl_thread *tl_thread;
static TLS uint64_t tl_async_next, tl_async_end;

static _Atomic uint64_t g_async_counter = 1;
#define ASYNC_ID_BATCH 4096

/* ------------------------------------------------------------ registration */

void cl_thread_key_destructor(void *p)
{
    cl_thread *t = p;
    /* Later events from this thread (other TLS destructors) register afresh. */
    for (int k = 0; k < RING_KINDS; k++)
        tl_rings[k] = &g_null_ring;
    tl_thread = NULL;
    atomic_store_explicit(&t->closed, 1, memory_order_release);
    cl_wake_collector();
}

static cl_thread *register_thread(void)
{
    cl_thread *t = sl_calloc(1, sizeof *t);
    if (!t)
        return NULL;
    uuid_v4(&t->cpu.id);
    t->tid = (int)gettid();
    if (pthread_getname_np(pthread_self(), t->name, sizeof t->name) != 0)
        snprintf(t->name, sizeof t->name, "thread-%d", t->tid);
    for (int k = 0; k < RING_KINDS; k++)
        atomic_init(&t->rings[k], NULL);
    pthread_setspecific(g_cl.thread_key, t);
    cl_thread *head = atomic_load_explicit(&g_cl.reg_head, memory_order_relaxed);
    do {
        t->next_reg = head;
    } while (!atomic_compare_exchange_weak_explicit(&g_cl.reg_head, &head, t,
                                                    memory_order_release, memory_order_relaxed));
    tl_thread = t;
    return t;
}

/* A ring of size bytes (a power of two), its pages already touched, or NULL past the cap. */
static cl_ring *new_ring(cl_thread *t, int kind, size_t size)
{
    size_t total = sizeof(cl_ring) + size;
    if (cl_ring_mem_reserve(total))
        return NULL;
    cl_ring *r = sl_calloc(1, sizeof *r);
    uint8_t *buf = sl_malloc(size);
    if (!r || !buf) {
        sl_free(r);
        sl_free(buf);
        cl_ring_mem_release(total);
        return NULL;
    }
    /* Touch every page now, in the slow path, so that no event pays for a page fault. */
    memset(buf, 0, size);
    r->base = buf;
    r->mask = size - 1;
    r->size_bytes = size;
    r->owner = t;
    r->kind = kind;
    r->half_ns = clock_mono_ns();
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    atomic_init(&r->limit, 0);
    atomic_init(&r->dropped, 0);
    atomic_init(&r->next, NULL);
    return r;
}

/* The thread's first ring of a kind, published for the collector. */
static cl_ring *first_ring(int kind)
{
    cl_thread *t = tl_thread ? tl_thread : register_thread();
    cl_ring *r = t ? new_ring(t, kind, g_cl.ring_min_bytes[kind]) : NULL;
    if (r) {
        atomic_store_explicit(&t->rings[kind], r, memory_order_release);
        tl_rings[kind] = r;
    }
    return r;
}

#define GROW_IF_HALF_FILLS_NS 50000000 /* 50 ms */

/*
 * Links a new ring after r when r is full or filling fast, within the memory
 * cap; the collector finds it through r->next once it has drained r.
 *
 *  - Filling fast (half a ring in under 50 ms) while the collector keeps up
 *    (less than half the ring unread): double, so that a busy thread gets room
 *    for ~100 ms of events and its blocks grow with it.
 *  - Full because the collector is behind (starved of CPU by busy threads, or
 *    a burst): link a ring of the same size.  Doubling here would leave every
 *    ring of the chain half empty and hold twice the data's size in memory.
 *
 * Returns the ring to write to.
 */
static cl_ring *maybe_grow(cl_ring *r, int kind, uint64_t h, uint64_t tail, int full)
{
    int64_t now = clock_mono_ns();
    int fast = now - r->half_ns < GROW_IF_HALF_FILLS_NS;
    r->half_ns = now;
    size_t size = r->size_bytes;
    if (full)
        ; /* same size */
    else if (fast && h - tail < size / 2 && size < g_cl.ring_max_bytes[kind])
        size *= 2;
    else
        return r;
    cl_ring *g = new_ring(r->owner, kind, size);
    if (!g)
        return r;
    atomic_store_explicit(&r->next, g, memory_order_release);
    tl_rings[kind] = g;
    return g;
}

/*
 * The sequence is bumped on every call (once per half ring, so rarely): a
 * collector in the middle of a pass read the old value before the pass and
 * will not go to sleep on it.  Only the system call is skipped when the
 * collector is awake.
 */
void cl_wake_collector(void)
{
    atomic_fetch_add_explicit(&g_cl.wake_seq, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&g_cl.collector_sleeping, memory_order_seq_cst))
        cl_futex_wake(&g_cl.wake_seq);
}

static void drop_one(cl_ring *r)
{
    if (r && r != &g_null_ring)
        atomic_fetch_add_explicit(&r->dropped, 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&g_cl.ev_dropped, 1, memory_order_relaxed);
}

/*
 * Makes room for n bytes (n <= a quarter of any ring) in the calling thread's ring
 * of the given kind.  Returns where to write, with *rp and *hp set for the commit,
 * or NULL when the event is dropped (and counted).
 */
static __attribute__((noinline)) uint64_t *reserve_slow(int kind, uint64_t n, cl_ring **rp,
                                                        uint64_t *hp)
{
    if (atomic_load(&g_cl.state) != 1) {
        /* Off (never started: nothing is counted) or stopping/stopped (counted). */
        if (atomic_load(&g_cl.state) != 0)
            drop_one(NULL); /* straight to the total: the collector may be gone */
        return NULL;
    }
    cl_ring *r = tl_rings[kind];
    if (r == &g_null_ring && !(r = first_ring(kind))) {
        drop_one(NULL);
        return NULL;
    }
    uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    uint64_t wrap = (h | r->mask) + 1;
    /* Room for the event, counting a pad to the end of the buffer if it would cross it. */
    int full = (h + n > wrap ? wrap : h) + n > tail + r->mask + 1;
    /* A fresh ring (h == 0) is entering its first use, not filling up. */
    cl_ring *g = h ? maybe_grow(r, kind, h, tail, full) : r;
    if (g != r) {
        r = g;
        h = tail = 0;
        wrap = r->mask + 1;
        full = 0;
    }
    if (full) {
        atomic_store_explicit(&r->limit, h, memory_order_relaxed);
        drop_one(r);
        cl_wake_collector();
        return NULL;
    }
    uint64_t size = r->mask + 1;
    if (h + n > wrap) {
        /* Pad to the end of the buffer; the event starts at the beginning. */
        *(uint64_t *)(r->base + (h & r->mask)) = RING_PAD;
        h = wrap;
        atomic_store_explicit(&r->head, h, memory_order_release);
    }
    uint64_t half = size / 2;
    uint64_t next_half = (h | (half - 1)) + 1;
    uint64_t limit = h + n > next_half ? (h | r->mask) + 1 : next_half;
    if (limit > tail + size)
        limit = tail + size;
    atomic_store_explicit(&r->limit, limit, memory_order_seq_cst);
    if (atomic_load(&g_cl.state) != 1) {
        /* Raced with shutdown: do not let this ring accept more. */
        atomic_store_explicit(&r->limit, 0, memory_order_relaxed);
    }
    /*
     * Reaching a half-ring boundary is the signal, whatever the collector has
     * read already: testing "half unread" would miss a wake-up whenever the
     * previous drain ran a little past the boundary.
     */
    cl_wake_collector();
    *rp = r;
    *hp = h;
    return (uint64_t *)(r->base + (h & r->mask));
}

static inline uint64_t *reserve(int kind, uint64_t n, cl_ring **rp, uint64_t *hp)
{
    cl_ring *r = tl_rings[kind];
    uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (__builtin_expect(h + n <= atomic_load_explicit(&r->limit, memory_order_relaxed), 1)) {
        *rp = r;
        *hp = h;
        return (uint64_t *)(r->base + (h & r->mask));
    }
    return reserve_slow(kind, n, rp, hp);
}

static inline void commit(cl_ring *r, uint64_t h, uint64_t n)
{
    atomic_store_explicit(&r->head, h + n, memory_order_release);
}

static inline uint64_t tagged(const void *desc, uint64_t type)
{
    return (uint64_t)(uintptr_t)desc | (type << EV_SHIFT);
}

/* ------------------------------------------------------------ events */

static inline void emit2(int kind, const void *d, uint64_t type)
{
    cl_ring *r;
    uint64_t h;
    uint64_t *p = reserve(kind, 16, &r, &h);
    if (__builtin_expect(p != NULL, 1)) {
        p[0] = clock_ticks();
        p[1] = tagged(d, type);
        commit(r, h, 16);
    }
}

void sl_span_begin(const sl_span_desc *d)
{
    emit2(RING_CPU, d, 1 /* WIRE_EV_SPAN_BEGIN */);
}

void sl_span_end(const sl_span_desc *d)
{
    emit2(RING_CPU, d, 2 /* WIRE_EV_SPAN_END */);
}

void sl_log(const sl_log_desc *d)
{
    emit2(RING_LOG, d, 7 /* WIRE_EV_LOG */);
}

/* An event carrying bytes: ticks, tagged desc, length word, bytes padded to 8. */
static void emit_bytes(int kind, const void *d, uint64_t type, const char *s, size_t len)
{
    uint64_t n = 24 + ((len + 7) & ~(uint64_t)7);
    cl_ring *r;
    uint64_t h;
    uint64_t *p = reserve(kind, n, &r, &h);
    if (p) {
        p[0] = clock_ticks();
        p[1] = tagged(d, type);
        p[2] = len;
        memcpy(p + 3, s, len);
        commit(r, h, n);
    }
}

void sl_named_span_begin(const sl_span_desc *d, const char *name)
{
    size_t len = strnlen(name, MAX_DYN_NAME);
    emit_bytes(RING_CPU, d, 3 /* WIRE_EV_NAMED_SPAN_BEGIN */, name, len);
}

void sl_named_span_end(const sl_span_desc *d, const char *name)
{
    size_t len = strnlen(name, MAX_DYN_NAME);
    emit_bytes(RING_CPU, d, 4 /* WIRE_EV_NAMED_SPAN_END */, name, len);
}

void sl_logf(const sl_log_desc *d, ...)
{
    char buf[MAX_LOG_MSG + 1];
    va_list ap;
    va_start(ap, d);
    int n = vsnprintf(buf, sizeof buf, d->fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if (n > MAX_LOG_MSG) {
        n = MAX_LOG_MSG;
        memcpy(buf + n - 3, "...", 3);
    }
    emit_bytes(RING_LOG, d, 8 /* WIRE_EV_LOG_FMT */, buf, (size_t)n);
}

static inline void emit3(int kind, const void *d, uint64_t type, uint64_t v)
{
    cl_ring *r;
    uint64_t h;
    uint64_t *p = reserve(kind, 24, &r, &h);
    if (__builtin_expect(p != NULL, 1)) {
        p[0] = clock_ticks();
        p[1] = tagged(d, type);
        p[2] = v;
        commit(r, h, 24);
    }
}

void sl_metric_int(const sl_metric_desc *d, int64_t value)
{
    emit3(RING_METRIC, d, 9 /* WIRE_EV_METRIC_INT */, (uint64_t)value);
}

void sl_metric_float(const sl_metric_desc *d, double value)
{
    uint64_t u;
    memcpy(&u, &value, 8);
    emit3(RING_METRIC, d, 10 /* WIRE_EV_METRIC_FLOAT */, u);
}

static void emit_async(const sl_async_span *s, uint64_t type)
{
    cl_ring *r;
    uint64_t h;
    uint64_t *p = reserve(RING_CPU, 40, &r, &h);
    if (p) {
        p[0] = clock_ticks();
        p[1] = tagged(s->desc, type);
        p[2] = s->span_id;
        p[3] = s->parent_span_id;
        p[4] = s->depth;
        commit(r, h, 40);
    }
}

sl_async_span sl_async_begin(const sl_span_desc *d, const sl_async_span *parent)
{
    if (tl_async_next == tl_async_end) {
        tl_async_next = atomic_fetch_add_explicit(&g_async_counter, ASYNC_ID_BATCH,
                                                  memory_order_relaxed);
        tl_async_end = tl_async_next + ASYNC_ID_BATCH;
    }
    sl_async_span s;
    s.desc = d;
    s.span_id = tl_async_next++;
    s.parent_span_id = parent ? parent->span_id : 0;
    s.depth = parent ? parent->depth + 1 : 0;
    emit_async(&s, 5 /* WIRE_EV_ASYNC_BEGIN */);
    return s;
}

void sl_async_end(const sl_async_span *s)
{
    emit_async(s, 6 /* WIRE_EV_ASYNC_END */);
}

void sl_thread_set_name(const char *name)
{
    if (atomic_load(&g_cl.state) != 1)
        return;
    /* The collector reads the name once the cpu ring exists; after that it is fixed. */
    if (tl_rings[RING_CPU] != &g_null_ring)
        return;
    cl_thread *t = tl_thread ? tl_thread : register_thread();
    if (t)
        snprintf(t->name, sizeof t->name, "%s", name);
}
