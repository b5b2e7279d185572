/*
 * bench_lake.c - the lake: JIT throughput and partition-index lookups.
 *
 * Builds a data directory like the server's (object store + SQLite metadata)
 * holding one process with T thread streams of nested spans, then measures:
 *
 *   1. floor: decoding every payload once (wire_payload_validate), 1 thread;
 *   2. cold JIT of every thread's thread_spans (no other view) with 1 job,
 *      from raw blocks to Parquet files and rows, in events per second;
 *   3. the same with `jobs` threads built in parallel (scaling vs 1 job,
 *      and per core);
 *   4. the partition-index lookup "which partitions of this thread overlap this
 *      range": cached (the partition index is in memory) and cold (the index is
 *      read from the metadata store first).
 *
 * usage: bench_lake [threads] [events_per_thread] [jobs] [partition_events]
 */
#include "lake/lake.h"
#include "world.h"

#include "base/clock.h"
#include "base/pool.h"
#include "wire/wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct decode_ctx {
    world *w;
    uint64_t events;
} decode_ctx;

static int decode_block(void *arg, const meta_block *b)
{
    decode_ctx *c = arg;
    char key[200], bs[UUID_STR_LEN], ss[UUID_STR_LEN];
    uuid_format(&b->block_id, bs);
    uuid_format(&b->stream_id, ss);
    snprintf(key, sizeof key, "blobs/%s/%s/%s", c->w->pid_s, ss, bs);
    dbuf d, scratch;
    dbuf_init(&d, 64u << 20);
    dbuf_init(&scratch, 64u << 20);
    arena a;
    arena_init(&a, 1 << 16, 0);
    errmsg e;
    if (objstore_get(c->w->os, key, &d, &e) ||
        wire_payload_validate(d.p, d.len, &scratch, &a, &e))
        world_die("decode", &e);
    c->events += b->nb_objects;
    arena_destroy(&a);
    dbuf_free(&d);
    dbuf_free(&scratch);
    return 0;
}

typedef struct thread_job {
    pool_task task;
    lake *l;
    const char *stream_id;
    errmsg e;
} thread_job;

static void build_thread(pool_task *t)
{
    thread_job *j = t->arg;
    lake_mat_stats st = {0};
    t->rc = lake_materialize(j->l, LAKE_THREAD_SPANS, j->stream_id, &st, &j->e);
}

/* thread_spans of every thread, `jobs` threads at a time (no other view). */
static double jit(world *w, int jobs, uint64_t partition_events)
{
    lake_opts o = {.jobs = jobs, .max_partition_events = partition_events};
    lake *l;
    errmsg e;
    if (lake_open(w->m, w->os, &o, &l, &e))
        world_die("lake_open", &e);
    thread_job *tj = calloc((size_t)w->nthreads, sizeof *tj);
    pool p;
    if (!tj || pool_init(&p, (unsigned)jobs, (size_t)w->nthreads, &e))
        world_die("pool", &e);
    int64_t t0 = clock_mono_ns();
    for (int i = 0; i < w->nthreads; i++) {
        tj[i] = (thread_job){.task = {.run = build_thread, .arg = &tj[i]}, .l = l,
                             .stream_id = w->sid_s[i]};
        pool_submit(&p, &tj[i].task);
    }
    pool_task *t;
    while (pool_next(&p, &t) == SL_OK)
        if (t->rc)
            world_die("materialize", &((thread_job *)t->arg)->e);
    double secs = (double)(clock_mono_ns() - t0) / 1e9;
    pool_destroy(&p);
    free(tj);
    lake_close(l);
    return secs;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void lookups(world *w, uint64_t partition_events)
{
    lake_opts o = {.max_partition_events = partition_events};
    lake *l;
    errmsg e;
    if (lake_open(w->m, w->os, &o, &l, &e))
        world_die("lake_open", &e);
    enum { N = 20000 };
    static double warm[N], cold[200];
    size_t n = 0;
    const char *inst = w->sid_s[0];
    for (int i = 0; i < N; i++) {
        int64_t t0 = clock_mono_ns();
        if (lake_partitions_overlapping(l, LAKE_THREAD_SPANS, inst, 1700000000000000000ll,
                                        INT64_MAX, &n, &e))
            world_die("lookup", &e);
        warm[i] = (double)(clock_mono_ns() - t0) / 1e3;
    }
    for (int i = 0; i < 200; i++) {
        lake_partition_index_drop(l, LAKE_THREAD_SPANS, inst);
        int64_t t0 = clock_mono_ns();
        if (lake_partitions_overlapping(l, LAKE_THREAD_SPANS, inst, 1700000000000000000ll,
                                        INT64_MAX, &n, &e))
            world_die("lookup", &e);
        cold[i] = (double)(clock_mono_ns() - t0) / 1e3;
    }
    qsort(warm, N, sizeof warm[0], cmp_d);
    qsort(cold, 200, sizeof cold[0], cmp_d);
    printf("partition-index lookup (%zu partitions of one thread overlap the range)\n", n);
    printf("  cached: median %.2f us, p99 %.2f us\n", warm[N / 2], warm[N * 99 / 100]);
    printf("  cold (index read from SQLite): median %.1f us, p99 %.1f us (%.0fx the cached)\n",
           cold[100], cold[198], cold[100] / warm[N / 2]);
    lake_close(l);
}

int main(int argc, char **argv)
{
    int nthreads = argc > 1 ? atoi(argv[1]) : 8;
    uint64_t per = argc > 2 ? strtoull(argv[2], NULL, 10) : 500000;
    int jobs = argc > 3 ? atoi(argv[3]) : 2;
    uint64_t pev = argc > 4 ? strtoull(argv[4], NULL, 10) : 1000000;
    world w = {0};
    printf("setting up %d threads x %llu span events...\n", nthreads, (unsigned long long)per);
    world_make(&w, nthreads, per, 0);
    printf("%llu events in %.1f MB of payloads\n", (unsigned long long)w.events,
           (double)w.payload_bytes / 1e6);

    decode_ctx dc = {&w, 0};
    errmsg e;
    int64_t t0 = clock_mono_ns();
    for (int t = 0; t < nthreads; t++)
        if (meta_blocks_list(w.m, &w.sids[t], decode_block, &dc, &e))
            world_die("blocks", &e);
    double floor_s = (double)(clock_mono_ns() - t0) / 1e9;
    printf("\n%-40s %8.3f s  %7.1f M events/s\n", "floor: fetch + decode payloads, 1 thread",
           floor_s, (double)w.events / floor_s / 1e6);

    double one = jit(&w, 1, pev);
    printf("%-40s %8.3f s  %7.1f M events/s  (%.1fx the floor's time)\n",
           "cold JIT thread_spans, 1 job", one, (double)w.events / one / 1e6, one / floor_s);
    world_reset_lake(&w);
    double many = jit(&w, jobs, pev);
    char label[64];
    snprintf(label, sizeof label, "cold JIT thread_spans, %d jobs", jobs);
    printf("%-40s %8.3f s  %7.1f M events/s  (speedup %.2fx, %.1f M events/s per core)\n",
           label, many, (double)w.events / many / 1e6, one / many,
           (double)w.events / many / 1e6 / jobs);
    printf("\n");
    lookups(&w, pev);
    world_free(&w);
    return 0;
}
