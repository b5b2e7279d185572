/*
 * bench_record.c - cost of recording an event in the calling thread.
 *
 * Times batches of 100 events with the cycle counter and reports, per event,
 * the median and 99th percentile over batches for: reading the cycle counter
 * alone (the floor), span begin/end, static logs, formatted logs and metrics.
 * A span begin+end pair counts as two events.  The library runs for real
 * (collector and sink included) with an offline directory sink, so the
 * background work competes with the measured thread as it would in a program.
 *
 * Batches are paced to one per 10 us (10 M events/s, far above what real
 * programs record) so that the collector keeps up and the figures are those of
 * the normal path, not of dropping.
 *
 * usage: bench_record [batches] [capture-dir]
 */
#include "streamlake/trace.h"

#include "base/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH 100

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct result {
    double median_ns, p99_ns;
} result;

static result summarize(uint64_t *ticks, int n, double ns_per_tick)
{
    qsort(ticks, (size_t)n, sizeof *ticks, cmp_u64);
    result r;
    r.median_ns = (double)ticks[n / 2] * ns_per_tick / BATCH;
    r.p99_ns = (double)ticks[(int)(n * 0.99)] * ns_per_tick / BATCH;
    return r;
}

static volatile uint64_t g_sink;

static const sl_span_desc g_span = {"bench", "bench", __FILE__, __LINE__};
static const sl_log_desc g_log = {"static message", "bench", __FILE__, __LINE__, SL_INFO};
static const sl_log_desc g_logf = {"value %d", "bench", __FILE__, __LINE__, SL_INFO};
static const sl_metric_desc g_metric = {"m", "us", "bench", __FILE__, __LINE__};

/* Each kind: one batch of BATCH events between two counter reads. */
static uint64_t batch_rdtsc(void)
{
    uint64_t t0 = clock_ticks(), x = 0;
    for (int i = 0; i < BATCH; i++)
        x += clock_ticks();
    uint64_t t1 = clock_ticks();
    g_sink = x;
    return t1 - t0;
}

static uint64_t batch_span(void)
{
    uint64_t t0 = clock_ticks();
    for (int i = 0; i < BATCH / 2; i++) {
        sl_span_begin(&g_span);
        sl_span_end(&g_span);
    }
    return clock_ticks() - t0;
}

static uint64_t batch_log(void)
{
    uint64_t t0 = clock_ticks();
    for (int i = 0; i < BATCH; i++)
        sl_log(&g_log);
    return clock_ticks() - t0;
}

static uint64_t batch_logf(void)
{
    uint64_t t0 = clock_ticks();
    for (int i = 0; i < BATCH; i++)
        sl_logf(&g_logf, i);
    return clock_ticks() - t0;
}

static uint64_t batch_metric(void)
{
    uint64_t t0 = clock_ticks();
    for (int i = 0; i < BATCH; i++)
        sl_metric_int(&g_metric, i);
    return clock_ticks() - t0;
}

int main(int argc, char **argv)
{
    int batches = argc > 1 ? atoi(argv[1]) : 20000;
    char dir[256];
    snprintf(dir, sizeof dir, "%s", argc > 2 ? argv[2] : "/tmp/sl-bench-record");
    sl_config cfg = {0};
    cfg.directory = dir;
    cfg.thread_buffer_bytes = 4u << 20;
    if (sl_init(&cfg))
        return 1;
    uint64_t freq = clock_ticks_frequency(100);
    double ns_per_tick = 1e9 / (double)freq;
    uint64_t *t = malloc(sizeof(uint64_t) * (size_t)batches);
    struct {
        const char *name;
        uint64_t (*fn)(void);
    } kinds[] = {{"cycle counter read (floor)", batch_rdtsc},
                 {"span begin/end", batch_span},
                 {"log, static message", batch_log},
                 {"metric, integer", batch_metric},
                 {"log, formatted (\"value %d\")", batch_logf}};
    result floor = {0, 0};
    printf("%-30s %10s %10s %12s\n", "per event", "median ns", "p99 ns", "median/floor");
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        for (int i = 0; i < 1000; i++) /* warm up: rings allocated, caches hot */
            kinds[k].fn();
        uint64_t slot = (uint64_t)(10e3 / ns_per_tick), next = clock_ticks();
        for (int i = 0; i < batches; i++) {
            while (clock_ticks() < next) {
            }
            next += slot;
            t[i] = kinds[k].fn();
        }
        result r = summarize(t, batches, ns_per_tick);
        if (k == 0)
            floor = r;
        printf("%-30s %10.2f %10.2f %11.2fx\n", kinds[k].name, r.median_ns, r.p99_ns,
               r.median_ns / floor.median_ns);
    }
    sl_shutdown();
    sl_stats st;
    sl_stats_get(&st);
    printf("events recorded %llu, dropped %llu, delivered %llu (tick rate %.3f GHz)\n",
           (unsigned long long)st.events_recorded, (unsigned long long)st.events_dropped,
           (unsigned long long)st.events_delivered, (double)freq / 1e9);
    free(t);
    return 0;
}
