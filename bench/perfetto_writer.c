/*
 * perfetto_writer.c - how fast the Perfetto writer turns spans into bytes.
 *
 *   build/bench/perfetto_writer [--threads 50] [--spans 100000] [--workers 2]
 *
 * Synthetic data shaped like one process's thread_spans: each thread has
 * `spans` nested spans (call trees up to 6 deep, 200 call sites, gaps and
 * durations of a few microseconds), as the columns trace generation reads from
 * Parquet.  Each thread is written by pf_thread_writer into its own pf_seq
 * (thread descriptor, clear packet, interned data, begin/end events) and
 * handed over in 64 KiB chunks to a sink that only counts bytes, so the time
 * is the writer's alone.
 *
 * Printed, for absolute and incremental timestamps:
 *  - slices per second with one worker, and with --workers in parallel
 *    (one pf_seq per thread, threads shared out over the workers);
 *  - bytes per slice (a slice is one begin and one end event);
 *  - the floor: memcpy of the same number of bytes in 64 KiB chunks, timed
 *    in the same run, and the writer's time as a multiple of it;
 *  - the per-event path (pf_seq_slice_begin with a pf_site, hashing and
 *    verifying the site on every event) against the batch path.
 * Results and the exact command go to bench/RESULTS.md by hand.
 */
#include "base/alloc.h"
#include "base/clock.h"
#include "perfetto/pf_seq.h"
#include "perfetto/pf_spans.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSITES 200
#define NPATTERNS 5
#define BATCH 4096

typedef struct pattern {
    int64_t *b, *e;
    uint32_t *depth, *site;
    size_t n;
} pattern;

static pf_site sites[NSITES];
static char site_names[NSITES][48], site_files[NSITES][48];
static pattern patterns[NPATTERNS];
static int g_threads = 50, g_spans = 100000, g_workers = 2;

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static const char *targets[] = {"streamlake::lake::jit", "streamlake::sql::exec",
                                "streamlake::objstore", "app::render", "app::net"};

static void make_sites(void)
{
    for (int i = 0; i < NSITES; i++) {
        snprintf(site_names[i], sizeof site_names[i], "module_%d::function_%d", i % 17, i);
        snprintf(site_files[i], sizeof site_files[i], "src/module_%d/file_%d.c", i % 17, i % 40);
        const char *t = targets[i % 5];
        sites[i] = (pf_site){site_names[i], t, site_files[i], (uint32_t)strlen(site_names[i]),
                             (uint32_t)strlen(t), (uint32_t)strlen(site_files[i]),
                             (uint32_t)(10 + i * 7), 0};
    }
}

/* Appends a subtree rooted at [b, b + dur) at depth d, up to g_spans spans. */
static void subtree(pattern *p, uint64_t *r, int64_t b, int64_t dur, uint32_t d)
{
    if (p->n >= (size_t)g_spans)
        return;
    size_t i = p->n++;
    p->b[i] = b;
    p->e[i] = b + dur;
    p->depth[i] = d;
    p->site[i] = (uint32_t)(rnd(r) % NSITES);
    if (d >= 5 || dur < 200)
        return;
    int64_t at = b + (int64_t)(rnd(r) % 100);
    int kids = (int)(rnd(r) % 4);
    for (int k = 0; k < kids; k++) {
        int64_t room = b + dur - at;
        if (room <= 0)
            break;
        int64_t cd = (int64_t)(rnd(r) % (uint64_t)(room / 2 + 1));
        subtree(p, r, at, cd, d + 1);
        at += cd + (int64_t)(rnd(r) % 300);
    }
}

static void make_pattern(pattern *p, uint64_t seed)
{
    p->b = sl_malloc((size_t)g_spans * sizeof *p->b);
    p->e = sl_malloc((size_t)g_spans * sizeof *p->e);
    p->depth = sl_malloc((size_t)g_spans * sizeof *p->depth);
    p->site = sl_malloc((size_t)g_spans * sizeof *p->site);
    p->n = 0;
    uint64_t r = seed;
    int64_t t = 1700000000000000000ll;
    while (p->n < (size_t)g_spans) {
        int64_t dur = 2000 + (int64_t)(rnd(&r) % 50000);
        subtree(p, &r, t, dur, 0);
        t += dur + (int64_t)(rnd(&r) % 5000);
    }
}

static int count_sink(void *ctx, const uint8_t *p, size_t n)
{
    (void)p;
    *(uint64_t *)ctx += n;
    return 0;
}

typedef struct job {
    pf_ts_mode mode;
    int per_event; /* 1: pf_seq_slice_begin with a site per event */
    int next;      /* next thread to encode (shared, under lock) */
    pthread_mutex_t lock;
    uint64_t bytes, slices;
} job;

static uint64_t encode_thread(job *j, int k, uint64_t *bytes)
{
    const pattern *p = &patterns[k % NPATTERNS];
    pf_seq s;
    pf_seq_cfg cfg = {.seq_id = (uint32_t)k + 2, .ts_mode = j->mode,
                      .default_track_uuid = 100 + (uint64_t)k};
    uint64_t out = 0;
    pf_seq_init(&s, &cfg, (pf_sink){count_sink, &out}, NULL);
    char name[32];
    int n = snprintf(name, sizeof name, "worker-%d", k);
    pf_seq_thread_track(&s, cfg.default_track_uuid, 1, 4242, 5000 + k, name, (size_t)n);
    errmsg e;
    if (!j->per_event) {
        pf_thread_writer tw;
        pf_thread_writer_init(&tw, &s, 0);
        for (size_t off = 0; off < p->n; off += BATCH) {
            size_t m = p->n - off < BATCH ? p->n - off : BATCH;
            pf_span_rows rows = {.n = m, .begin_ns = p->b + off, .end_ns = p->e + off,
                                 .depth = p->depth + off, .site_idx = p->site + off,
                                 .sites = sites, .n_sites = NSITES};
            if (pf_thread_writer_add(&tw, &rows, &e))
                abort();
        }
        pf_thread_writer_finish(&tw, &e);
        pf_thread_writer_destroy(&tw);
    } else {
        /* the same events through the per-event API, ends from a stack */
        int64_t stack[64];
        int top = 0;
        for (size_t i = 0; i < p->n; i++) {
            while (top > (int)p->depth[i])
                pf_seq_slice_end(&s, 0, stack[--top]);
            pf_seq_slice_begin(&s, 0, p->b[i], &sites[p->site[i]]);
            stack[top++] = p->e[i];
        }
        while (top > 0)
            pf_seq_slice_end(&s, 0, stack[--top]);
    }
    pf_seq_flush(&s);
    if (s.err)
        abort();
    uint64_t slices = s.stats.slices_begun;
    pf_seq_destroy(&s);
    *bytes = out;
    return slices;
}

static void *worker(void *arg)
{
    job *j = arg;
    uint64_t bytes = 0, slices = 0;
    for (;;) {
        pthread_mutex_lock(&j->lock);
        int k = j->next < g_threads ? j->next++ : -1;
        pthread_mutex_unlock(&j->lock);
        if (k < 0)
            break;
        uint64_t b;
        slices += encode_thread(j, k, &b);
        bytes += b;
    }
    pthread_mutex_lock(&j->lock);
    j->bytes += bytes;
    j->slices += slices;
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

/* Runs a job with nw workers; returns seconds. */
static double run(job *j, int nw)
{
    j->next = 0;
    j->bytes = j->slices = 0;
    pthread_mutex_init(&j->lock, NULL);
    pthread_t th[64];
    int64_t t0 = clock_mono_ns();
    for (int i = 0; i < nw; i++)
        pthread_create(&th[i], NULL, worker, j);
    for (int i = 0; i < nw; i++)
        pthread_join(th[i], NULL);
    int64_t t1 = clock_mono_ns();
    pthread_mutex_destroy(&j->lock);
    return (double)(t1 - t0) / 1e9;
}

/* memcpy of `bytes` bytes in 64 KiB chunks out of an 8 MiB source. */
static double memcpy_floor(uint64_t bytes)
{
    size_t src_len = 8u << 20, chunk = 64u << 10;
    uint8_t *src = sl_malloc(src_len), *dst = sl_malloc(src_len);
    for (size_t i = 0; i < src_len; i++)
        src[i] = (uint8_t)(i * 131);
    memcpy(dst, src, src_len); /* fault the pages in before timing */
    int64_t t0 = clock_mono_ns();
    size_t off = 0;
    for (uint64_t done = 0; done < bytes; done += chunk) {
        memcpy(dst + off, src + off, chunk);
        off = (off + chunk) % src_len;
    }
    int64_t t1 = clock_mono_ns();
    volatile uint8_t sink = dst[12345];
    (void)sink;
    sl_free(src);
    sl_free(dst);
    return (double)(t1 - t0) / 1e9;
}

/* Best of three, to damp the noise of a shared machine. */
static double best(job *j, int nw)
{
    double t = run(j, nw);
    for (int i = 0; i < 2; i++) {
        double u = run(j, nw);
        if (u < t)
            t = u;
    }
    return t;
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads"))
            g_threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--spans"))
            g_spans = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--workers"))
            g_workers = atoi(argv[i + 1]);
    }
    if (g_threads < 1 || g_spans < 1 || g_workers < 1 || g_workers > 64)
        return 2;
    make_sites();
    for (int i = 0; i < NPATTERNS; i++)
        make_pattern(&patterns[i], 0x1234567ull * (uint64_t)(i + 1));
    printf("perfetto_writer: %d threads x %d nested spans, %d call sites, 64 KiB chunks\n",
           g_threads, g_spans, NSITES);
    printf("%-12s %-10s %8s %14s %14s %12s %12s %10s\n", "timestamps", "path", "workers",
           "slices/s", "MB/s", "bytes/slice", "memcpy s", "x memcpy");
    const char *modes[] = {"absolute", "incremental"};
    for (int m = 0; m < 2; m++) {
        for (int per_event = 0; per_event < 2; per_event++) {
            job j = {.mode = (pf_ts_mode)m, .per_event = per_event};
            for (int nw = 1; nw <= g_workers; nw += g_workers > 1 ? g_workers - 1 : 1) {
                if (per_event && nw > 1)
                    break;
                double t = best(&j, nw);
                double floor = memcpy_floor(j.bytes);
                printf("%-12s %-10s %8d %14.0f %14.1f %12.2f %12.4f %10.1f\n", modes[m],
                       per_event ? "per-event" : "batch", nw, (double)j.slices / t,
                       (double)j.bytes / t / 1e6, (double)j.bytes / (double)j.slices, floor,
                       t / floor);
            }
        }
    }
    for (int i = 0; i < NPATTERNS; i++) {
        sl_free(patterns[i].b);
        sl_free(patterns[i].e);
        sl_free(patterns[i].depth);
        sl_free(patterns[i].site);
    }
    return 0;
}
