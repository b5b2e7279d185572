/*
 * bench_capture.c - sustained capture of one process into a live server.
 *
 * Two (or --threads) recording threads emit span begin/end pairs at a fixed
 * total rate for a few seconds while the library ships blocks to a streamlake
 * server.  Reported: the rate achieved, events dropped (must be 0 for the rate
 * to count as sustained), the time until the server acknowledged everything,
 * and the CPU that the library's background threads (collector and sender)
 * used per second of capture: the cost of capture beyond the recording calls.
 *
 * usage: bench_capture URL [total_events_per_s] [seconds] [threads]
 */
#include "streamlake/trace.h"

#include "base/clock.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>
#include <unistd.h>

static const sl_span_desc g_span = {"tick", "bench", __FILE__, __LINE__};

typedef struct job {
    pthread_t th;
    int tid;
    double rate;      /* events per second for this thread */
    double seconds;
    uint64_t events;
    double ns_per_tick;
} job;

static void *run(void *arg)
{
    job *j = arg;
    j->tid = (int)gettid();
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

/* CPU seconds used so far by the threads of this process other than `skip`. */
static double other_threads_cpu(const job *skip, int n)
{
    double total = 0;
    long hz = sysconf(_SC_CLK_TCK);
    DIR *d = opendir("/proc/self/task");
    struct dirent *de;
    while (d && (de = readdir(d))) {
        int tid = atoi(de->d_name);
        int mine = tid == 0 || tid == (int)gettid();
        for (int i = 0; i < n; i++)
            mine |= skip[i].tid == tid;
        if (mine)
            continue;
        char path[64], buf[1024];
        snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t got = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[got] = 0;
        /* Fields 14 and 15 (utime, stime) come after the parenthesised name. */
        char *p = strrchr(buf, ')');
        unsigned long ut = 0, st = 0;
        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
                        &st) == 2)
            total += (double)(ut + st) / (double)hz;
    }
    if (d)
        closedir(d);
    return total;
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
    double cpu0 = other_threads_cpu(NULL, 0);
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
    double cpu = other_threads_cpu(jobs, nthreads) - cpu0;
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
    printf("background cpu  %.2f s for %.2f s of capture: %.0f%% of one core, %.1f ns per "
           "event (collector + sender)\n", cpu, all_s, 100.0 * cpu / all_s,
           cpu * 1e9 / (double)(events ? events : 1));
    printf("library memory  peak %.1f MB of %.1f MB cap\n", (double)st.memory_peak_bytes / 1048576,
           (double)st.memory_cap_bytes / 1048576);
    int ok = !flushed && st.events_dropped == 0 && st.events_delivered == events;
    printf("sustained: %s\n", ok ? "yes" : "no");
    sl_shutdown();
    free(jobs);
    return ok ? 0 : 1;
}
