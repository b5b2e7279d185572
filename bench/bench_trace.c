/*
 * bench_trace.c - Perfetto traces of a many-thread process, end to end.
 *
 * Builds a data directory holding one process (bench/world.h: `threads`
 * threads of nested spans plus async spans), then, each run in a fresh child
 * process so that its peak RSS is its own:
 *
 *   cold, 1 job     partitions dropped first: JIT from raw blocks + trace
 *   cold, N jobs    the same with N workers (speedup vs 1 job)
 *   warm, N jobs    partitions built and the lake's caches warm (the second
 *                   trace of the same process in one run)
 *
 * Each trace goes to a file.  The floor, in the same run: DuckDB reading the
 * same partition files' (begin, end, name) columns in thread order
 * (bench/duckdb_floor.mjs, through node and @duckdb/node-api).
 *
 * Each configuration runs BENCH_REPS times (default 3, alternating); the
 * median run is printed with the range.  BENCH_CACHE_MB and
 * BENCH_PARTITION_EVENTS override the lake's defaults (serve --cache-mb,
 * --partition-events).
 *
 * usage: bench_trace [threads] [spans_per_thread] [async_per_thread] [jobs]
 */
#include "lake/lake.h"
#include "perfetto/pf_gen.h"
#include "perfetto/pf_lake.h"
#include "world.h"

#include "base/clock.h"

#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct result {
    double secs, first_byte_s, jit_s, read_max_s, read_median_s;
    uint64_t slices, bytes;
    long rss_kb;
    double cpu_s;
    int ok;
} result;

/* One trace into /tmp; fills r (time from open to the last byte). */
static void one_trace(world *w, lake *l, unsigned jobs, result *r)
{
    char path[128];
    snprintf(path, sizeof path, "%s/out.pftrace", w->dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pf_file_sink fs;
    pf_file_sink_init_fd(&fs, fd);
    pf_lake_source src;
    pf_lake_source_init(&src, l, &w->pid);
    pf_gen_cfg cfg;
    pf_gen_cfg_init(&cfg);
    cfg.jobs = jobs;
    pf_gen *g;
    errmsg e;
    int64_t t0 = clock_mono_ns();
    if (pf_gen_open(&g, &cfg, pf_lake_source_get(&src), &e))
        world_die("pf_gen_open", &e);
    if (pf_gen_run(g, pf_file_sink_get(&fs)))
        world_die(pf_gen_error(g), NULL);
    r->secs = (double)(clock_mono_ns() - t0) / 1e9;
    const pf_gen_summary *s = pf_gen_get_summary(g);
    r->slices = s->thread_spans + s->async_spans;
    r->bytes = s->bytes;
    r->first_byte_s = (double)s->first_byte_ns / 1e9;
    r->jit_s = (double)s->jit_ns / 1e9;
    r->read_max_s = (double)s->read_ns_max / 1e9;
    r->read_median_s = (double)s->read_ns_median / 1e9;
    r->ok = s->threads_failed == 0 && !s->async_failed;
    pf_gen_close(g);
    pf_lake_source_free(&src);
    close(fd);
}

/* Runs a measurement in a child process; the result comes back through a pipe. */
static result run_child(world *w, unsigned jobs, int cold)
{
    int p[2];
    if (pipe(p))
        world_die("pipe", NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        /* As the streamlake binary does (src/cli/main.c). */
        mallopt(M_MMAP_THRESHOLD, 64 << 20);
        mallopt(M_TRIM_THRESHOLD, 256 << 20);
        world_reopen_stores(w);
        if (cold)
            world_reset_lake(w);
        lake_opts o = {.jobs = (int)jobs};
        const char *mb = getenv("BENCH_CACHE_MB"), *pe = getenv("BENCH_PARTITION_EVENTS");
        o.cache_bytes = mb ? (size_t)atoi(mb) << 20 : 0;
        o.max_partition_events = pe ? strtoull(pe, NULL, 10) : 0;
        lake *l;
        errmsg e;
        if (lake_open(w->m, w->os, &o, &l, &e))
            world_die("lake_open", &e);
        result r = {0};
        one_trace(w, l, jobs, &r);
        if (!cold) /* warm: the second trace of the same process */
            one_trace(w, l, jobs, &r);
        lake_close(l);
        world_close_stores(w);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        r.rss_kb = ru.ru_maxrss;
        r.cpu_s = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                  (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
        ssize_t n = write(p[1], &r, sizeof r);
        _exit(n == sizeof r ? 0 : 1);
    }
    close(p[1]);
    result r = {0};
    ssize_t got = read(p[0], &r, sizeof r);
    close(p[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (got != sizeof r) {
        fprintf(stderr, "bench: the measuring child %s %d\n",
                WIFSIGNALED(status) ? "died of signal" : "exited with",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        exit(1);
    }
    return r;
}

#define REPS_MAX 9

static int cmp_secs(const void *a, const void *b)
{
    double x = ((const result *)a)->secs, y = ((const result *)b)->secs;
    return (x > y) - (x < y);
}

/* The run with the median time (rs is sorted in place). */
static result median_run(result *rs, int n)
{
    qsort(rs, (size_t)n, sizeof *rs, cmp_secs);
    return rs[n / 2];
}

static void print(const char *label, const result *r, double base, const result *all, int n)
{
    printf("%-16s %7.3f s %7.2f M slices/s %8.1f MB %6.1f B/slice  first byte %.3f s  "
           "JIT %5.2f s  read max %.3f s  CPU %5.2f s  peak RSS %4ld MiB",
           label, r->secs, (double)r->slices / r->secs / 1e6, (double)r->bytes / 1e6,
           (double)r->bytes / (double)r->slices, r->first_byte_s, r->jit_s, r->read_max_s, r->cpu_s,
           r->rss_kb / 1024);
    if (n > 1)
        printf("  [%.3f .. %.3f]", all[0].secs, all[n - 1].secs);
    if (base > 0)
        printf("  speedup %.2fx", base / r->secs);
    printf("%s\n", r->ok ? "" : "  (FAILURES)");
}

static int take_file(void *arg, const meta_partition *p)
{
    fprintf(arg, "%s\n", p->file_path);
    return 0;
}

/* The DuckDB floor: (begin, end, name) of every thread_spans partition, in thread order. */
static double duckdb_floor(world *w, const char *script, int reps)
{
    char list[128];
    snprintf(list, sizeof list, "%s/files.txt", w->dir);
    FILE *f = fopen(list, "w");
    errmsg e;
    world_reopen_stores(w);
    for (int t = 0; t < w->nthreads; t++)
        if (meta_partitions_list(w->m, "thread_spans", w->sid_s[t], take_file, f, &e))
            world_die("partitions", &e);
    world_close_stores(w);
    fclose(f);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "node %s %s %s %d", script, w->dir, list, reps);
    FILE *p = popen(cmd, "r");
    double secs = -1;
    if (!p || fscanf(p, "%lf", &secs) != 1)
        secs = -1;
    if (p)
        pclose(p);
    return secs;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 50;
    uint64_t spans = argc > 2 ? strtoull(argv[2], NULL, 10) : 100000;
    uint64_t asyncs = argc > 3 ? strtoull(argv[3], NULL, 10) : 1000;
    unsigned jobs = argc > 4 ? (unsigned)atoi(argv[4]) : (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
    const char *reps_s = getenv("BENCH_REPS");
    int reps = reps_s ? atoi(reps_s) : 3;
    if (reps < 1 || reps > REPS_MAX) {
        fprintf(stderr, "BENCH_REPS must be 1..%d\n", REPS_MAX);
        return 2;
    }
    world w = {0};
    printf("setting up %d threads x %llu spans + %llu async spans each...\n", threads,
           (unsigned long long)spans, (unsigned long long)asyncs);
    world_make(&w, threads, spans * 2, asyncs);
    world_close_stores(&w);
    printf("%llu thread spans, %llu async spans, %.1f MB of payloads\n\n",
           (unsigned long long)w.spans, (unsigned long long)w.async_spans,
           (double)w.payload_bytes / 1e6);
    /* Runs alternate (1 job, N jobs, warm) so that noise hits each alike. */
    result c1r[REPS_MAX], cnr[REPS_MAX], wnr[REPS_MAX];
    for (int i = 0; i < reps; i++) {
        c1r[i] = run_child(&w, 1, 1);
        cnr[i] = run_child(&w, jobs, 1);
        wnr[i] = run_child(&w, jobs, 0);
    }
    result c1 = median_run(c1r, reps), cn = median_run(cnr, reps), wn = median_run(wnr, reps);
    printf("median of %d runs each (min .. max seconds in brackets)\n", reps);
    print("cold, 1 job", &c1, 0, c1r, reps);
    char label[32];
    snprintf(label, sizeof label, "cold, %u jobs", jobs);
    print(label, &cn, c1.secs, cnr, reps);
    snprintf(label, sizeof label, "warm, %u jobs", jobs);
    print(label, &wn, 0, wnr, reps);
    const char *script = getenv("BENCH_DUCKDB_FLOOR");
    double floor_s = duckdb_floor(&w, script ? script : "bench/duckdb_floor.mjs", reps);
    if (floor_s > 0)
        printf("\nfloor: DuckDB reads (begin, end, name) of the same partitions in thread order "
               "(best of %d): %.3f s; warm trace / floor = %.2fx\n", reps, floor_s, wn.secs / floor_s);
    else
        printf("\nfloor: DuckDB not available (run scripts/deps.sh test)\n");
    int ok = 1;
    for (int i = 0; i < reps; i++)
        ok &= c1r[i].ok && cnr[i].ok && wnr[i].ok && c1r[i].slices == w.spans + w.async_spans &&
              c1r[i].slices == cnr[i].slices &&
              cnr[i].slices == wnr[i].slices && c1r[i].bytes == wnr[i].bytes;
    if (!ok)
        fprintf(stderr, "bench_trace: a run reported failures, or a trace missed slices\n");
    if (getenv("BENCH_KEEP"))
        printf("kept %s (BENCH_KEEP)\n", w.dir);
    else
        world_free(&w);
    return ok ? 0 : 1;
}
