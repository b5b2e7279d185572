/*
 * clock.h - time sources.
 *
 * Ticks are the raw cycle counter (rdtsc on x86-64, cntvct_el0 on arm64, the
 * monotonic clock in ns elsewhere).  Wall time is nanoseconds since the Unix
 * epoch, UTC.  The conversion between the two is a process's business: it
 * records (start_time, start_ticks, tsc_frequency) once.
 */
#ifndef SL_BASE_CLOCK_H
#define SL_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
static inline uint64_t clock_ticks(void)
{
    return __rdtsc();
}
#elif defined(__aarch64__)
static inline uint64_t clock_ticks(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, cntvct_el0" : "=r"(v));
    return v;
}
#else
static inline uint64_t clock_ticks(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
#endif

static inline int64_t clock_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static inline int64_t clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* Measures ticks per second against the monotonic clock over about sample_ms. */
uint64_t clock_ticks_frequency(int sample_ms);

/* Formats ns since epoch as RFC 3339 UTC with nanoseconds into out (>= 36 bytes). */
void clock_format_rfc3339(int64_t ns, char *out, size_t out_size);
/*
 * Parses an RFC 3339 date-time ("2026-11-22T05:07:00.123Z"; seconds and an offset
 * or Z required, calendar-checked) or integer ns since the epoch.  Instants that
 * int64 ns cannot hold (before 1677, after 2262) are clamped to INT64_MIN or
 * INT64_MAX, never wrapped.  0, or SL_EINVAL with *ns_out untouched.
 */
int clock_parse_time(const char *s, int64_t *ns_out);

#endif
