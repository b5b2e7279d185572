/*
 * alloc.c - counted wrappers over the C allocator.
 */
#include "base/alloc.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static _Atomic int64_t g_live_bytes;
static _Atomic int64_t g_live_blocks;
static _Atomic uint64_t g_calls;
static _Atomic int64_t g_peak_bytes;

/* Raises the high-water mark to now (a rare CAS: only when it moves up). */
static void peak_note(int64_t now)
{
    int64_t p = atomic_load_explicit(&g_peak_bytes, memory_order_relaxed);
    while (now > p && !atomic_compare_exchange_weak_explicit(&g_peak_bytes, &p, now,
                                                             memory_order_relaxed,
                                                             memory_order_relaxed))
        ;
}

static void count_add(void *p)
{
    if (!p)
        return;
    int64_t n = (int64_t)malloc_usable_size(p);
    peak_note(atomic_fetch_add_explicit(&g_live_bytes, n, memory_order_relaxed) + n);
    atomic_fetch_add_explicit(&g_live_blocks, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&g_calls, 1, memory_order_relaxed);
}

static void count_sub(void *p)
{
    if (!p)
        return;
    atomic_fetch_sub_explicit(&g_live_bytes, (int64_t)malloc_usable_size(p),
                              memory_order_relaxed);
    atomic_fetch_sub_explicit(&g_live_blocks, 1, memory_order_relaxed);
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
    int64_t d = (int64_t)malloc_usable_size(q) - (int64_t)old;
    peak_note(atomic_fetch_add_explicit(&g_live_bytes, d, memory_order_relaxed) + d);
    atomic_fetch_add_explicit(&g_calls, 1, memory_order_relaxed);
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
    out->live_bytes = atomic_load_explicit(&g_live_bytes, memory_order_relaxed);
    out->live_blocks = atomic_load_explicit(&g_live_blocks, memory_order_relaxed);
    out->total_calls = atomic_load_explicit(&g_calls, memory_order_relaxed);
    out->peak_bytes = atomic_load_explicit(&g_peak_bytes, memory_order_relaxed);
}
