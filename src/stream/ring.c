/*
 * ring.c - single-producer single-consumer rings and doorbells (ring.h has
 * the contracts and the memory-ordering argument).
 */
#include "stream/ring.h"

#include "base/alloc.h"
#include "base/err.h"
#include "sql/exec/exec.h"

#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SPINS 200

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

void stream_bell_init(stream_bell *b)
{
    atomic_init(&b->seq, 0);
    atomic_init(&b->waiters, 0);
}

void stream_bell_ring(stream_bell *b)
{
    /* the caller's publishing store comes before; the fence orders it before the
     * read of waiters (the Dekker pair with the waiter's fence) */
    atomic_fetch_add_explicit(&b->seq, 1, memory_order_release);
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&b->waiters, memory_order_relaxed))
        syscall(SYS_futex, (uint32_t *)&b->seq, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

void stream_bell_wait(stream_bell *b, bool (*ready)(void *arg), void *arg)
{
    for (int i = 0; i < SPINS; i++) {
        if (ready(arg))
            return;
        cpu_relax();
    }
    uint32_t key = atomic_load_explicit(&b->seq, memory_order_acquire);
    atomic_fetch_add_explicit(&b->waiters, 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
    if (!ready(arg))
        syscall(SYS_futex, (uint32_t *)&b->seq, FUTEX_WAIT_PRIVATE, key, NULL, NULL, 0);
    atomic_fetch_sub_explicit(&b->waiters, 1, memory_order_relaxed);
}

int stream_ring_init(stream_ring *r, uint32_t cap, stream_bell *consumer, stream_bell *producer)
{
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    r->tail_cache = r->head_cache = 0;
    r->mask = cap - 1;
    r->consumer = consumer;
    r->producer = producer;
    r->slots = sl_calloc(cap, sizeof *r->slots);
    return r->slots ? SL_OK : SL_ENOMEM;
}

void stream_msg_free(stream_msg *m)
{
    if (m->kind == STREAM_MSG_PARTIAL)
        sql_aggtab_free(stream_msg_table(m));
    else if (m->kind == STREAM_MSG_BYTES || m->kind == STREAM_MSG_RESULT_BYTES)
        sl_free(stream_msg_bytes(m));
    else
        sql_batch_free(m->b);
    m->b = NULL;
}

void stream_ring_free(stream_ring *r)
{
    stream_msg m;
    while (r->slots && stream_ring_pop(r, &m))
        stream_msg_free(&m);
    sl_free(r->slots);
    r->slots = NULL;
}

bool stream_ring_room(stream_ring *r)
{
    uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    if (t - r->head_cache <= r->mask)
        return true;
    r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
    return t - r->head_cache <= r->mask;
}

bool stream_ring_push_quiet(stream_ring *r, const stream_msg *m)
{
    if (!stream_ring_room(r))
        return false;
    uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    r->slots[t & r->mask] = *m;
    atomic_store_explicit(&r->tail, t + 1, memory_order_release);
    return true;
}

bool stream_ring_push(stream_ring *r, const stream_msg *m)
{
    if (!stream_ring_push_quiet(r, m))
        return false;
    stream_bell_ring(r->consumer);
    return true;
}

bool stream_ring_ready(stream_ring *r)
{
    uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (h != r->tail_cache)
        return true;
    r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
    return h != r->tail_cache;
}

bool stream_ring_pop(stream_ring *r, stream_msg *m)
{
    if (!stream_ring_ready(r))
        return false;
    uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    *m = r->slots[h & r->mask];
    atomic_store_explicit(&r->head, h + 1, memory_order_release);
    stream_bell_ring(r->producer);
    return true;
}
