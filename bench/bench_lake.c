/*
 * bench_lake.c - the lake: JIT throughput and partition-index lookups.
 *
 * Builds a data directory like the server's (object store + SQLite metadata)
 * holding one process with T thread streams of nested spans, then measures:
 *
 *   1. floor: decoding every payload once (wire_payload_validate), 1 thread;
 *   2. cold JIT of thread_spans with 1 job, from raw blocks to Parquet files
 *      and rows, in events per second (and per core);
 *   3. the same with `jobs` builds in parallel (scaling vs 1 job);
 *   4. the partition-index lookup "which partitions of this thread overlap this
 *      range": cached (the partition index is in memory) and cold (the index is
 *      read from the metadata store first).
 *
 * usage: bench_lake [threads] [events_per_thread] [jobs] [partition_events]
 */
#include "lake/lake.h"

#include "base/clock.h"
#include "wire/wire.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *g_names[] = {"update", "physics", "collide", "solve", "integrate",
                                "render", "cull", "draw", "sort", "upload", "present", "wait"};

typedef struct world {
    char dir[64];
    objstore *os;
    meta *m;
    sl_uuid pid;
    char pid_s[UUID_STR_LEN];
    int nthreads;
    sl_uuid *sids;
    char (*sid_s)[UUID_STR_LEN];
    uint64_t events;
    uint64_t payload_bytes;
} world;

static void die(const char *what, const errmsg *e)
{
    fprintf(stderr, "bench_lake: %s: %s\n", what, e ? errmsg_str(e) : "");
    exit(1);
}

/* One stream: nested spans (depth up to 6, fan-out 3) in blocks of ~32k events. */
static void fill_stream(world *w, int t, uint64_t events)
{
    wire_pb *pb;
    if (wire_pb_new(8u << 20, &pb))
        die("wire_pb_new", NULL);
    int64_t tick = 1000;
    uint64_t offset = 0, made = 0;
    int depth = 0, stack[8];
    uint64_t seed = (uint64_t)t * 7919 + 1;
    dbuf out;
    dbuf_init(&out, 64u << 20);
    errmsg e;
    while (made < events) {
        wire_event ev = {.ticks = tick += 50 + (int64_t)(seed % 200)};
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        int open = depth == 0 || (depth < 6 && (seed >> 33) % 3 != 0);
        if (made + depth >= events)
            open = 0;
        int name = open ? (int)((seed >> 40) % 12) : stack[depth - 1];
        wire_pb_desc(pb, (uint64_t)name + 1, WIRE_DESC_SPAN, 0, g_names[name], "bench.sim",
                     "src/sim.c", 100 + (uint32_t)name, NULL, &ev.desc);
        ev.type = open ? WIRE_EV_SPAN_BEGIN : WIRE_EV_SPAN_END;
        if (open)
            stack[depth++] = name;
        else
            depth--;
        wire_pb_event(pb, &ev);
        made++;
        if (wire_pb_count(pb) >= 32768 || made == events) {
            sl_uuid bid;
            uuid_v4(&bid);
            dbuf_reset(&out);
            wire_pb_finish(pb, WIRE_CODEC_ZSTD, &bid, &w->sids[t], &w->pid,
                           wire_pb_min_ticks(pb), wire_pb_max_ticks(pb), &out);
            char key[200], bs[UUID_STR_LEN];
            uuid_format(&bid, bs);
            snprintf(key, sizeof key, "blobs/%s/%s/%s", w->pid_s, w->sid_s[t], bs);
            if (objstore_put(w->os, key, out.p, out.len, OBJSTORE_PUT_ONCE, &e))
                die("put", &e);
            meta_block mb = {.block_id = bid, .stream_id = w->sids[t], .process_id = w->pid,
                             .begin_ticks = wire_pb_min_ticks(pb),
                             .end_ticks = wire_pb_max_ticks(pb), .nb_objects = wire_pb_count(pb),
                             .object_offset = offset, .payload_size = out.len, .content_hash = 1};
            if (meta_block_insert(w->m, &mb, NULL, &e))
                die("block", &e);
            offset += wire_pb_count(pb);
            w->payload_bytes += out.len;
            wire_pb_reset(pb);
        }
    }
    w->events += made;
    dbuf_free(&out);
    wire_pb_free(pb);
}

static void make_world(world *w, int nthreads, uint64_t per_thread)
{
    snprintf(w->dir, sizeof w->dir, "/tmp/sl-bench-lake-%d", (int)getpid());
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", w->dir, w->dir);
    if (system(cmd))
        die("mkdir", NULL);
    errmsg e;
    char path[128];
    snprintf(path, sizeof path, "%s/meta.sqlite", w->dir);
    if (objstore_local_open(w->dir, &w->os, &e) || meta_sqlite_open(path, NULL, &w->m, &e))
        die("open stores", &e);
    uuid_v4(&w->pid);
    uuid_format(&w->pid, w->pid_s);
    meta_process p = {.process_id = w->pid, .exe = "/bin/bench", .username = "u", .realname = "",
                      .computer = "c", .distro = "", .cpu_brand = "",
                      .tsc_frequency = 2600000000ull, .start_time_ns = 1700000000000000000ll,
                      .properties_json = "{}", .content_hash = 1};
    if (meta_process_insert(w->m, &p, NULL, &e))
        die("process", &e);
    w->nthreads = nthreads;
    w->sids = calloc((size_t)nthreads, sizeof *w->sids);
    w->sid_s = calloc((size_t)nthreads, sizeof *w->sid_s);
    for (int t = 0; t < nthreads; t++) {
        uuid_v4(&w->sids[t]);
        uuid_format(&w->sids[t], w->sid_s[t]);
        meta_stream s = {.stream_id = w->sids[t], .process_id = w->pid, .tags_json = "[\"cpu\"]",
                         .properties_json = "{}", .content_hash = 2};
        if (meta_stream_insert(w->m, &s, NULL, &e))
            die("stream", &e);
        fill_stream(w, t, per_thread);
    }
}

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
        die("decode", &e);
    c->events += b->nb_objects;
    arena_destroy(&a);
    dbuf_free(&d);
    dbuf_free(&scratch);
    return 0;
}

static int drop_object(void *arg, const char *key, const objstore_stat *st)
{
    (void)st;
    errmsg e;
    return objstore_delete(arg, key, &e) ? 1 : 0;
}

/* Drops every partition (files and rows) so that the next JIT is cold again. */
static void reset_lake(world *w)
{
    errmsg e;
    if (objstore_list(w->os, "views/", drop_object, w->os, &e))
        die("reset files", &e);
    char path[128];
    snprintf(path, sizeof path, "%s/meta.sqlite", w->dir);
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db, "DELETE FROM lakehouse_partitions", NULL, NULL, NULL) != SQLITE_OK)
        die("reset rows", NULL);
    sqlite3_close(db);
}

static double jit(world *w, int jobs, uint64_t partition_events)
{
    lake_opts o = {.jobs = jobs, .max_partition_events = partition_events};
    lake *l;
    errmsg e;
    if (lake_open(w->m, w->os, &o, &l, &e))
        die("lake_open", &e);
    lake_mat_stats st = {0};
    int64_t t0 = clock_mono_ns();
    if (lake_materialize_process(l, &w->pid, &st, &e))
        die("materialize", &e);
    double secs = (double)(clock_mono_ns() - t0) / 1e9;
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
        die("lake_open", &e);
    enum { N = 20000 };
    static double warm[N], cold[200];
    size_t n = 0;
    const char *inst = w->sid_s[0];
    for (int i = 0; i < N; i++) {
        int64_t t0 = clock_mono_ns();
        if (lake_partitions_overlapping(l, LAKE_THREAD_SPANS, inst, 1700000000000000000ll,
                                        INT64_MAX, &n, &e))
            die("lookup", &e);
        warm[i] = (double)(clock_mono_ns() - t0) / 1e3;
    }
    for (int i = 0; i < 200; i++) {
        lake_partition_index_drop(l, LAKE_THREAD_SPANS, inst);
        int64_t t0 = clock_mono_ns();
        if (lake_partitions_overlapping(l, LAKE_THREAD_SPANS, inst, 1700000000000000000ll,
                                        INT64_MAX, &n, &e))
            die("lookup", &e);
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
    make_world(&w, nthreads, per);
    printf("%llu events in %.1f MB of payloads\n", (unsigned long long)w.events,
           (double)w.payload_bytes / 1e6);

    decode_ctx dc = {&w, 0};
    errmsg e;
    int64_t t0 = clock_mono_ns();
    for (int t = 0; t < nthreads; t++)
        if (meta_blocks_list(w.m, &w.sids[t], decode_block, &dc, &e))
            die("blocks", &e);
    double floor_s = (double)(clock_mono_ns() - t0) / 1e9;
    printf("\n%-40s %8.3f s  %7.1f M events/s\n", "floor: fetch + decode payloads, 1 thread",
           floor_s, (double)w.events / floor_s / 1e6);

    double one = jit(&w, 1, pev);
    printf("%-40s %8.3f s  %7.1f M events/s  (%.1fx the floor's time)\n",
           "cold JIT thread_spans, 1 job", one, (double)w.events / one / 1e6, one / floor_s);
    reset_lake(&w);
    double many = jit(&w, jobs, pev);
    char label[64];
    snprintf(label, sizeof label, "cold JIT thread_spans, %d jobs", jobs);
    printf("%-40s %8.3f s  %7.1f M events/s  (speedup %.2fx, %.1f M events/s per core)\n",
           label, many, (double)w.events / many / 1e6, one / many,
           (double)w.events / many / 1e6 / jobs);
    printf("\n");
    lookups(&w, pev);
    meta_close(w.m);
    objstore_close(w.os);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", w.dir);
    return system(cmd) ? 1 : 0;
}
