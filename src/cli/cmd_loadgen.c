/*
 * cmd_loadgen.c - `streamlake loadgen`: a real instrumented program.
 *
 * It links the tracing library like any user program and runs N threads that
 * do nested work, recording exactly the requested number of events of each
 * kind per thread:
 *
 *   --spans S   thread spans, nested up to --depth levels (a tree with fan-out
 *               3); top-level spans have run-time names ("task-7")
 *   --async A   async spans; one in three is the child of the one before; the
 *               odd-numbered ones are ended by the next thread, so begin and
 *               end happen on different threads
 *   --logs L    log lines, alternately static and formatted, levels 2..6
 *   --metrics M metric values, alternately integer and float
 *
 * so every thread stream holds exactly 2*S + 2*A events, the log stream N*L
 * and the metrics stream N*M.  It prints the process id and these totals (and
 * --json prints them for tests), then the library's own counters, so a reader
 * can check that nothing was lost.
 */
#define SL_TARGET "loadgen"
#include "streamlake/trace.h"

#include "base/clock.h"
#include "cli/cli.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lg_opts {
    uint64_t threads, spans, depth, async, logs, metrics, work;
    int overload;               /* no pacing; drops are expected and do not fail the run */
} lg_opts;

typedef struct worker {
    const lg_opts *o;
    int index;
    pthread_t th;
    pthread_barrier_t *barrier;
    struct worker *all;
    sl_async_span *asyncs;      /* this thread's async spans, ended here or by the next */
    uint64_t spans_left, async_next, logs_done, metrics_done, spans_done;
    uint64_t events;            /* events recorded on this thread's stream */
    uint64_t paced_at;          /* events at the last pacing check */
    volatile uint64_t sink;     /* keeps the simulated work from being optimised away */
} worker;

static const sl_span_desc g_level_desc[] = {
    {"update", "loadgen.sim", __FILE__, __LINE__},
    {"physics", "loadgen.sim", __FILE__, __LINE__},
    {"collide", "loadgen.sim", __FILE__, __LINE__},
    {"solve", "loadgen.sim", __FILE__, __LINE__},
    {"integrate", "loadgen.sim", __FILE__, __LINE__},
    {"render", "loadgen.gfx", __FILE__, __LINE__},
    {"cull", "loadgen.gfx", __FILE__, __LINE__},
    {"draw", "loadgen.gfx", __FILE__, __LINE__},
};
#define NLEVELS (sizeof g_level_desc / sizeof g_level_desc[0])
/* Formatted log call sites, one per level 2..6 (levels are part of the static descriptor). */
#define FMT_LOG "worker %d step %llu of %llu"
static const sl_log_desc g_fmt_log[5] = {
    {FMT_LOG, "loadgen", __FILE__, __LINE__, SL_ERROR},
    {FMT_LOG, "loadgen", __FILE__, __LINE__, SL_WARN},
    {FMT_LOG, "loadgen", __FILE__, __LINE__, SL_INFO},
    {FMT_LOG, "loadgen", __FILE__, __LINE__, SL_DEBUG},
    {FMT_LOG, "loadgen", __FILE__, __LINE__, SL_TRACE},
};
static const sl_span_desc g_task_desc = {"task", "loadgen", __FILE__, __LINE__};
static const sl_span_desc g_async_desc = {"request", "loadgen.io", __FILE__, __LINE__};
static const sl_span_desc g_async_child_desc = {"fetch", "loadgen.io", __FILE__, __LINE__};

static void busy(worker *w, uint64_t units)
{
    uint64_t x = w->sink;
    for (uint64_t i = 0; i < units; i++)
        x = x * 6364136223846793005ull + 1442695040888963407ull;
    w->sink = x;
}

/* Emits the logs, metrics and async begins due after `done` of `total` steps. */
static void side_events(worker *w, uint64_t done, uint64_t total)
{
    const lg_opts *o = w->o;
    while (w->logs_done < o->logs && w->logs_done * total <= done * o->logs) {
        uint64_t i = w->logs_done++;
        if (i % 2)
            sl_logf(&g_fmt_log[i % 5], w->index, (unsigned long long)done,
                    (unsigned long long)total);
        else
            SL_LOG(SL_INFO, "checkpoint reached");
    }
    while (w->metrics_done < o->metrics && w->metrics_done * total <= done * o->metrics) {
        uint64_t i = w->metrics_done++;
        if (i % 2)
            SL_METRIC_F("frame_time", "ms", 16.0 + (double)(i % 7) * 0.25);
        else
            SL_METRIC_I("queue_depth", "items", (int64_t)(i % 100));
    }
    while (w->async_next < o->async && w->async_next * total <= done * o->async) {
        uint64_t j = w->async_next++;
        sl_async_span *parent = (j % 3 == 2) ? &w->asyncs[j - 1] : NULL;
        w->asyncs[j] = sl_async_begin(parent ? &g_async_child_desc : &g_async_desc, parent);
        w->events++;
        /* Even ones end here, soon; odd ones are ended by the next thread later. */
        if (j % 2 == 0) {
            busy(w, o->work);
            sl_async_end(&w->asyncs[j]);
            w->events++;
        }
    }
}

/*
 * Pacing: a load generator exists to deliver known counts, so by default it
 * records no faster than the pipeline (library, network, server) takes
 * events.  Threads add what they recorded to one counter every PACE_EVERY
 * events; when more than PACE_WINDOW of those events are not yet delivered,
 * the thread waits in sl_flush, which blocks until everything recorded so far
 * is delivered.  The window keeps the library's rings and queued blocks well
 * under its memory cap (an event takes 16 to 40 bytes in a ring), so the cap,
 * where the library drops, is never reached, and flushes are rare enough that
 * blocks stay large.  --overload turns this off to measure what happens when
 * a program outruns the pipeline.
 */
#define PACE_EVERY 512

static _Atomic uint64_t g_recorded; /* events the threads have counted so far */
static uint64_t g_pace_window;      /* events in flight allowed: a quarter of the cap */

static void pace(worker *w)
{
    if (w->o->overload || w->events - w->paced_at < PACE_EVERY)
        return;
    uint64_t rec = atomic_fetch_add(&g_recorded, w->events - w->paced_at) +
                   (w->events - w->paced_at);
    w->paced_at = w->events;
    sl_stats st;
    sl_stats_get(&st);
    if (rec > st.events_delivered + st.events_dropped + g_pace_window)
        sl_flush(60000);
}

/* One span and up to three children per level, while spans remain. */
static void span_tree(worker *w, uint64_t level)
{
    if (!w->spans_left)
        return;
    w->spans_left--;
    char name[32];
    if (level == 0) {
        snprintf(name, sizeof name, "task-%llu", (unsigned long long)(w->spans_done % 8));
        sl_named_span_begin(&g_task_desc, name);
    } else {
        sl_span_begin(&g_level_desc[(level - 1) % NLEVELS]);
    }
    w->events++;
    w->spans_done++;
    pace(w);
    side_events(w, w->spans_done, w->o->spans);
    busy(w, w->o->work);
    for (int c = 0; c < 3 && level + 1 < w->o->depth; c++)
        span_tree(w, level + 1);
    if (level == 0)
        sl_named_span_end(&g_task_desc, name);
    else
        sl_span_end(&g_level_desc[(level - 1) % NLEVELS]);
    w->events++;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    char tname[32];
    snprintf(tname, sizeof tname, "worker-%02d", w->index);
    sl_thread_set_name(tname);
    w->spans_left = w->o->spans;
    while (w->spans_left)
        span_tree(w, 0);
    side_events(w, 1, 1); /* whatever is left when there are no spans */
    pthread_barrier_wait(w->barrier);
    /* End the odd async spans that the previous thread began. */
    worker *prev = &w->all[(w->index + (int)w->o->threads - 1) % (int)w->o->threads];
    for (uint64_t j = 1; j < w->o->async; j += 2) {
        sl_async_end(&prev->asyncs[j]);
        w->events++;
    }
    return NULL;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: streamlake loadgen --server URL | --dir DIR [options]\n\n"
            "Runs N instrumented threads doing nested work and records exactly the\n"
            "requested number of events of each kind per thread.\n\n"
            "  --server URL          streamlake server to send to (e.g. http://127.0.0.1:8080)\n"
            "  --dir DIR             write an offline capture instead (see streamlake import)\n"
            "  --threads N           threads (default 4)\n"
            "  --spans N             thread spans per thread (default 10000)\n"
            "  --depth N             maximum nesting depth of spans (default 6)\n"
            "  --async N             async spans per thread (default 100)\n"
            "  --logs N              log lines per thread (default 100)\n"
            "  --metrics N           metric values per thread (default 100)\n"
            "  --work N              busy-loop iterations per span (default 300, about 1 us)\n"
            "  --memory-mb N         the library's memory cap (default 64)\n"
            "  --shutdown-timeout-ms N  how long to wait for the server at exit (default 30000)\n"
            "  --overload            record as fast as the threads can, without pacing them\n"
            "                        to what the pipeline delivers: the library drops past\n"
            "                        its memory cap, and drops do not make the exit code 1\n"
            "  --json                print the totals as JSON\n\n"
            "By default the threads are paced so that nothing is dropped, and the exit\n"
            "code is 1 if anything was dropped all the same.\n");
}

static int parse(int argc, char **argv, lg_opts *o, const char **server, const char **dir,
                 uint64_t *mem_mb, uint64_t *timeout_ms, int *json)
{
    struct {
        const char *name;
        uint64_t *dst;
    } nums[] = {{"--threads", &o->threads}, {"--spans", &o->spans},
                {"--depth", &o->depth},     {"--async", &o->async},
                {"--logs", &o->logs},       {"--metrics", &o->metrics},
                {"--work", &o->work},       {"--memory-mb", mem_mb},
                {"--shutdown-timeout-ms", timeout_ms}};
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r;
        if (!strcmp(argv[i], "--json")) {
            *json = 1;
            continue;
        }
        if (!strcmp(argv[i], "--overload")) {
            o->overload = 1;
            continue;
        }
        if ((r = cli_opt(argc, argv, &i, "--server", server)) ||
            (r = cli_opt(argc, argv, &i, "--dir", dir))) {
            if (r < 0)
                return 2;
            continue;
        }
        int matched = 0;
        for (size_t k = 0; k < sizeof nums / sizeof nums[0] && !matched; k++) {
            if ((r = cli_opt(argc, argv, &i, nums[k].name, &v)) < 0)
                return 2;
            if (r) {
                if (cli_parse_u64(nums[k].name, v, nums[k].dst))
                    return 2;
                matched = 1;
            }
        }
        if (!matched) {
            fprintf(stderr, "streamlake loadgen: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!*server && !*dir) {
        fprintf(stderr, "streamlake loadgen: give --server URL or --dir DIR\n");
        return 2;
    }
    if (o->threads < 1 || o->threads > 4096 || o->depth < 1 || o->depth > 64) {
        fprintf(stderr, "streamlake loadgen: --threads must be 1..4096 and --depth 1..64\n");
        return 2;
    }
    return 0;
}

static void print_report(const lg_opts *o, const worker *ws, double secs, int json)
{
    uint64_t thread_events = 0;
    for (uint64_t i = 0; i < o->threads; i++)
        thread_events += ws[i].events;
    uint64_t logs = o->threads * o->logs, metrics = o->threads * o->metrics;
    sl_stats st;
    sl_stats_get(&st);
    if (json) {
        printf("{\"process_id\":\"%s\",\"threads\":%llu,\"spans_per_thread\":%llu,"
               "\"async_per_thread\":%llu,\"events_per_thread_stream\":%llu,"
               "\"thread_events\":%llu,\"log_events\":%llu,\"metric_events\":%llu,"
               "\"total_events\":%llu,\"seconds\":%.3f,\"library\":{\"recorded\":%llu,"
               "\"dropped\":%llu,\"delivered\":%llu,\"library_events\":%llu,\"blocks\":%llu,"
               "\"bytes\":%llu,"
               "\"retries\":%llu,\"memory_peak_bytes\":%zu,\"memory_cap_bytes\":%zu}}\n",
               sl_process_id(), (unsigned long long)o->threads, (unsigned long long)o->spans,
               (unsigned long long)o->async, (unsigned long long)(2 * o->spans + 2 * o->async),
               (unsigned long long)thread_events, (unsigned long long)logs,
               (unsigned long long)metrics,
               (unsigned long long)(thread_events + logs + metrics), secs,
               (unsigned long long)st.events_recorded, (unsigned long long)st.events_dropped,
               (unsigned long long)st.events_delivered, (unsigned long long)st.library_events,
               (unsigned long long)st.blocks_delivered,
               (unsigned long long)st.bytes_delivered, (unsigned long long)st.send_retries,
               st.memory_peak_bytes, st.memory_cap_bytes);
        return;
    }
    printf("process_id      %s\n", sl_process_id());
    printf("threads         %llu\n", (unsigned long long)o->threads);
    printf("thread events   %llu (%llu spans and %llu async spans per thread, begin+end)\n",
           (unsigned long long)thread_events, (unsigned long long)o->spans,
           (unsigned long long)o->async);
    printf("log events      %llu\n", (unsigned long long)logs);
    printf("metric events   %llu\n", (unsigned long long)metrics);
    printf("total events    %llu in %.2f s\n",
           (unsigned long long)(thread_events + logs + metrics), secs);
    printf("library         delivered %llu, dropped %llu, %llu blocks, %.1f MB, "
           "memory peak %.1f of %.1f MB\n",
           (unsigned long long)st.events_delivered, (unsigned long long)st.events_dropped,
           (unsigned long long)st.blocks_delivered, (double)st.bytes_delivered / 1e6,
           (double)st.memory_peak_bytes / 1048576.0, (double)st.memory_cap_bytes / 1048576.0);
}

int cmd_loadgen(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    lg_opts o = {4, 10000, 6, 100, 100, 100, 300, 0};
    const char *server = NULL, *dir = NULL;
    uint64_t mem_mb = 64, timeout_ms = 30000;
    int json = 0;
    int rc = parse(argc, argv, &o, &server, &dir, &mem_mb, &timeout_ms, &json);
    if (rc)
        return rc;
    sl_config cfg = {0};
    cfg.server_url = server;
    cfg.directory = server ? NULL : dir;
    cfg.max_memory_bytes = (size_t)mem_mb << 20;
    cfg.shutdown_timeout_ms = (uint32_t)timeout_ms;
    if (!o.overload) {
        /*
         * Rings grow up to thread_buffer_bytes and keep their size; many threads
         * with large rings would fill the library's ring share (3/4 of the cap)
         * with capacity alone.  Paced, each thread's rings stay within a quarter
         * of its fair share.
         */
        size_t share = cfg.max_memory_bytes / 4 * 3 / (size_t)o.threads / 4, ring = 64u << 10;
        while (ring * 2 <= share && ring < (4u << 20))
            ring *= 2;
        cfg.thread_buffer_bytes = ring;
    }
    sl_property props[] = {{"program", "streamlake loadgen"}};
    cfg.properties = props;
    cfg.n_properties = 1;
    if (sl_init(&cfg))
        return 1;
    g_pace_window = ((uint64_t)mem_mb << 20) / 4 / 40;
    int64_t t0 = clock_mono_ns();
    worker *ws = calloc(o.threads, sizeof *ws);
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, (unsigned)o.threads);
    for (uint64_t i = 0; i < o.threads; i++) {
        ws[i] = (worker){.o = &o, .index = (int)i, .barrier = &barrier, .all = ws};
        ws[i].asyncs = calloc(o.async ? o.async : 1, sizeof(sl_async_span));
    }
    for (uint64_t i = 0; i < o.threads; i++)
        pthread_create(&ws[i].th, NULL, worker_main, &ws[i]);
    for (uint64_t i = 0; i < o.threads; i++)
        pthread_join(ws[i].th, NULL);
    double secs = (double)(clock_mono_ns() - t0) / 1e9;
    /* Tests wait for this line before they bring a stopped server back. */
    fprintf(stderr, "streamlake loadgen: recorded, flushing\n");
    sl_shutdown();
    print_report(&o, ws, secs, json);
    sl_stats st;
    sl_stats_get(&st);
    for (uint64_t i = 0; i < o.threads; i++)
        free(ws[i].asyncs);
    free(ws);
    pthread_barrier_destroy(&barrier);
    if (st.events_dropped && !o.overload)
        fprintf(stderr, "streamlake loadgen: %llu events were dropped; exit code 1 "
                "(--overload expects drops)\n", (unsigned long long)st.events_dropped);
    return st.events_dropped && !o.overload ? 1 : 0;
}
