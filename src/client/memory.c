/*
 * memory.c - the library's memory cap and the futex used to wake the collector.
 *
 * Every ring and every queued message is reserved here first.  A reservation
 * that would take mem_used past the cap fails; callers then drop and count,
 * so the program's memory never grows because a sink is slow.
 */
#include "client/client.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void note_peak(size_t used)
{
    size_t peak = atomic_load_explicit(&g_cl.mem_peak, memory_order_relaxed);
    while (used > peak && !atomic_compare_exchange_weak_explicit(
                              &g_cl.mem_peak, &peak, used, memory_order_relaxed,
                              memory_order_relaxed)) {
    }
}

/* Adds n to *counter unless that would pass cap; 0 with the new total in *now, or SL_ENOMEM. */
static int add_within(_Atomic size_t *counter, size_t cap, size_t n, size_t *now)
{
    size_t used = atomic_load_explicit(counter, memory_order_relaxed);
    do {
        if (used + n > cap || used + n < used)
            return SL_ENOMEM;
    } while (!atomic_compare_exchange_weak_explicit(counter, &used, used + n,
                                                    memory_order_relaxed, memory_order_relaxed));
    *now = used + n;
    return SL_OK;
}

int cl_mem_reserve(size_t n)
{
    size_t now;
    if (add_within(&g_cl.mem_used, g_cl.mem_cap, n, &now))
        return SL_ENOMEM;
    note_peak(now);
    return SL_OK;
}

int cl_ring_mem_reserve(size_t n)
{
    size_t now;
    if (add_within(&g_cl.ring_used, g_cl.ring_cap, n, &now))
        return SL_ENOMEM;
    if (cl_mem_reserve(n)) {
        atomic_fetch_sub_explicit(&g_cl.ring_used, n, memory_order_relaxed);
        return SL_ENOMEM;
    }
    return SL_OK;
}

void cl_ring_mem_release(size_t n)
{
    atomic_fetch_sub_explicit(&g_cl.ring_used, n, memory_order_relaxed);
    cl_mem_release(n);
}

void cl_mem_reserve_force(size_t n)
{
    size_t used = atomic_fetch_add_explicit(&g_cl.mem_used, n, memory_order_relaxed) + n;
    note_peak(used);
}

void cl_mem_release(size_t n)
{
    atomic_fetch_sub_explicit(&g_cl.mem_used, n, memory_order_relaxed);
}

void cl_futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t timeout_ns)
{
    struct timespec ts = {(time_t)(timeout_ns / 1000000000), (long)(timeout_ns % 1000000000)};
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, val, &ts, NULL, 0);
}

void cl_futex_wake(_Atomic uint32_t *addr)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
