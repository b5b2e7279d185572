/*
 * bench_capture.c - sustained capture of one process into a live server.
 *
 * Two (or --threads) recording threads emit span begin/end pairs at a fixed
 * total rate for a few seconds while the library ships blocks to a streamlake
 * server.  Reported: the rate achieved, events dropped (must be 0 for the rate
 * to count as sustained), the time until the server acknowledged everything,
 * and the CPU the whole process used per second of capture, of which the
 * recording itself is the floor (events x cost per event measured alongside).
 *
 * usage: bench_capture URL [total_events_per_s] [seconds] [threads]
 */
#include "streamlake/trace.h"

#include "base/clock.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

static const sl_span_desc g_span = {"tick", "bench", __FILE__, __LINE__};

typedef struct job {
    pthread_t th;
    double rate;      /* events per second for this thread */
    double seconds;
    uint64_t events;
    double ns_per_tick;
} job;

static void *run(void *arg)
{
    job *j = arg;
    /* Pairs are emitted in bursts of 50 (100 events) on a fixed schedule. */
    uint64_t burst_ticks = (uint64_t)(100.0 / j->rate * 1e9 / j->ns_per_tick);
    uint64_t start = clock_ticks(), next = start;
    uint64_t end = start + (uint64_t)(j->seconds * 1e9 / j->ns_per_tick);
    while (next < end) {
        while (clock_ticks() < next) {
        }
        for (int i = 0; i < 50; i++) {
            sl_span_begin(&g_span);
            sl_span_end(&g_span);
        }
        j->events += 100;
        next += burst_ticks;
    }
    return NULL;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_capture URL [events_per_s] [seconds] [threads]\n");
        return 2;
    }
    double rate = argc > 2 ? atof(argv[2]) : 5e6;
    double seconds = argc > 3 ? atof(argv[3]) : 5;
    int nthreads = argc > 4 ? atoi(argv[4]) : 2;
    sl_config cfg = {0};
    cfg.server_url = argv[1];
    cfg.shutdown_timeout_ms = 60000;
    if (sl_init(&cfg))
        return 1;
    double ns_per_tick = 1e9 / (double)clock_ticks_frequency(50);
    job *jobs = calloc((size_t)nthreads, sizeof *jobs);
    double cpu0 = cpu_seconds();
    int64_t t0 = clock_mono_ns();
    for (int i = 0; i < nthreads; i++) {
        jobs[i] = (job){.rate = rate / nthreads, .seconds = seconds, .ns_per_tick = ns_per_tick};
        pthread_create(&jobs[i].th, NULL, run, &jobs[i]);
    }
    uint64_t events = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(jobs[i].th, NULL);
        events += jobs[i].events;
    }
    double rec_s = (double)(clock_mono_ns() - t0) / 1e9;
    int flushed = sl_flush(60000);
    double all_s = (double)(clock_mono_ns() - t0) / 1e9;
    double cpu = cpu_seconds() - cpu0;
    sl_stats st;
    sl_stats_get(&st);
    /* The recording threads spin between bursts; their busy-wait is not work. */
    printf("threads %d, target %.1f M events/s for %.1f s\n", nthreads, rate / 1e6, seconds);
    printf("recorded        %.1f M events/s (%llu events)\n", (double)events / rec_s / 1e6,
           (unsigned long long)events);
    printf("dropped         %llu\n", (unsigned long long)st.events_dropped);
    printf("delivered       %llu events in %llu blocks, %.1f MB (%.2f bytes/event), %s\n",
           (unsigned long long)st.events_delivered, (unsigned long long)st.blocks_delivered,
           (double)st.bytes_delivered / 1e6,
           (double)st.bytes_delivered / (double)(st.events_delivered ? st.events_delivered : 1),
           flushed ? "NOT all acknowledged in time" : "all acknowledged");
    printf("server caught up %.2f s after recording stopped\n", all_s - rec_s);
    printf("process cpu     %.2f s for %.2f s of capture (recording threads spin between "
           "bursts)\n", cpu, rec_s);
    printf("library memory  peak %.1f MB of %.1f MB cap\n", (double)st.memory_peak_bytes / 1048576,
           (double)st.memory_cap_bytes / 1048576);
    int ok = !flushed && st.events_dropped == 0 && st.events_delivered == events;
    printf("sustained: %s\n", ok ? "yes" : "no");
    sl_shutdown();
    free(jobs);
    return ok ? 0 : 1;
}
