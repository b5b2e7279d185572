/*
 * alloc.c - counted wrappers over the C allocator.
 */
#include "base/alloc.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/*
 * Counters per thread.  With one global counter written by every allocation,
 * the threads of a job bounced its cache line between cores on every malloc
 * and free (count_add was 12 % of the samples of a 2-worker job over 100 ms
 * windows), so each thread counts on a line of its own, with plain loads and
 * stores (relaxed atomics: the reader in alloc_stats_get may race them and
 * sees a value a little old, never a torn one).  Threads are linked in a list
 * under g_mu when they first allocate; at exit a thread's counts move into
 * g_gone and it leaves the list.  The sum is exact once the threads that
 * touched memory are quiet (or joined).  The peak is noted whenever a
 * thread's own bytes rose by PEAK_STEP since it last looked, and at every
 * read: it may miss a high point by less than PEAK_STEP per thread.
 */
enum { PEAK_STEP = 1 << 20 };

typedef struct tcount {
    _Atomic int64_t bytes, blocks;
    _Atomic uint64_t calls;
    int64_t peak_mark; /* bytes when the peak was last looked at (owner only) */
    bool linked;
    struct tcount *prev, *next;
} __attribute__((aligned(64))) tcount;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static tcount *g_threads;           /* under g_mu */
static int64_t g_gone_bytes, g_gone_blocks; /* exited threads' counts, under g_mu */
static uint64_t g_gone_calls;
static _Atomic int64_t g_peak_bytes;
static pthread_key_t g_key;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static _Thread_local tcount t_count;

static void thread_gone(void *arg)
{
    tcount *c = arg;
    pthread_mutex_lock(&g_mu);
    g_gone_bytes += atomic_load_explicit(&c->bytes, memory_order_relaxed);
    g_gone_blocks += atomic_load_explicit(&c->blocks, memory_order_relaxed);
    g_gone_calls += atomic_load_explicit(&c->calls, memory_order_relaxed);
    if (c->prev)
        c->prev->next = c->next;
    else
        g_threads = c->next;
    if (c->next)
        c->next->prev = c->prev;
    atomic_store_explicit(&c->bytes, 0, memory_order_relaxed);
    atomic_store_explicit(&c->blocks, 0, memory_order_relaxed);
    atomic_store_explicit(&c->calls, 0, memory_order_relaxed);
    c->peak_mark = 0;
    c->prev = c->next = NULL;
    c->linked = false; /* a free in a later destructor links it again */
    pthread_mutex_unlock(&g_mu);
}

static void key_make(void)
{
    (void)pthread_key_create(&g_key, thread_gone);
}

/* The sum over every thread, gone ones included (g_mu held). */
static void sum_locked(int64_t *bytes, int64_t *blocks, uint64_t *calls)
{
    int64_t b = g_gone_bytes, k = g_gone_blocks;
    uint64_t n = g_gone_calls;
    for (tcount *c = g_threads; c; c = c->next) {
        b += atomic_load_explicit(&c->bytes, memory_order_relaxed);
        k += atomic_load_explicit(&c->blocks, memory_order_relaxed);
        n += atomic_load_explicit(&c->calls, memory_order_relaxed);
    }
    *bytes = b;
    *blocks = k;
    *calls = n;
}

/* Raises the high-water mark to now (a rare CAS: only when it moves up). */
static void peak_note(int64_t now)
{
    int64_t p = atomic_load_explicit(&g_peak_bytes, memory_order_relaxed);
    while (now > p && !atomic_compare_exchange_weak_explicit(&g_peak_bytes, &p, now,
                                                             memory_order_relaxed,
                                                             memory_order_relaxed))
        ;
}

/* The sum now, its bytes noted for the peak. */
static void sum_now(int64_t *bytes, int64_t *blocks, uint64_t *calls)
{
    pthread_mutex_lock(&g_mu);
    sum_locked(bytes, blocks, calls);
    pthread_mutex_unlock(&g_mu);
    peak_note(*bytes);
}

static tcount *mine(void)
{
    tcount *c = &t_count;
    if (__builtin_expect(!c->linked, 0)) {
        pthread_once(&g_once, key_make);
        pthread_mutex_lock(&g_mu);
        c->prev = NULL;
        c->next = g_threads;
        if (g_threads)
            g_threads->prev = c;
        g_threads = c;
        c->linked = true;
        pthread_mutex_unlock(&g_mu);
        (void)pthread_setspecific(g_key, c); /* thread_gone at the thread's exit */
    }
    return c;
}

/* Adds to the calling thread's counters (owner-only writes: load, add, store). */
static void count(int64_t bytes, int64_t blocks, uint64_t calls)
{
    tcount *c = mine();
    int64_t b = atomic_load_explicit(&c->bytes, memory_order_relaxed) + bytes;
    atomic_store_explicit(&c->bytes, b, memory_order_relaxed);
    atomic_store_explicit(&c->blocks,
                          atomic_load_explicit(&c->blocks, memory_order_relaxed) + blocks,
                          memory_order_relaxed);
    atomic_store_explicit(&c->calls, atomic_load_explicit(&c->calls, memory_order_relaxed) + calls,
                          memory_order_relaxed);
    if (b < c->peak_mark)
        c->peak_mark = b;
    else if (b - c->peak_mark >= PEAK_STEP) {
        int64_t k;
        uint64_t n;
        c->peak_mark = b;
        sum_now(&b, &k, &n);
    }
}

static void count_add(void *p)
{
    if (p)
        count((int64_t)malloc_usable_size(p), 1, 1);
}

static void count_sub(void *p)
{
    if (p)
        count(-(int64_t)malloc_usable_size(p), -1, 0);
}

void *sl_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    count_add(p);
    return p;
}

void *sl_calloc(size_t count, size_t n)
{
    void *p = calloc(count ? count : 1, n ? n : 1);
    count_add(p);
    return p;
}

void *sl_realloc(void *p, size_t n)
{
    if (!p)
        return sl_malloc(n);
    size_t old = malloc_usable_size(p);
    void *q = realloc(p, n ? n : 1);
    if (!q)
        return NULL;
    count((int64_t)malloc_usable_size(q) - (int64_t)old, 0, 1);
    return q;
}

void sl_free(void *p)
{
    count_sub(p);
    free(p);
}

char *sl_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = sl_malloc(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = 0;
    }
    return d;
}

char *sl_strdup(const char *s)
{
    return sl_strndup(s, strlen(s));
}

void alloc_stats_get(alloc_stats *out)
{
    int64_t b, k;
    uint64_t n;
    sum_now(&b, &k, &n);
    out->live_bytes = b;
    out->live_blocks = k;
    out->total_calls = n;
    out->peak_bytes = atomic_load_explicit(&g_peak_bytes, memory_order_relaxed);
}
