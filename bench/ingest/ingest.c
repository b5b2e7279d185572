/*
 * bench/ingest/ingest.c - server ingestion of ready-made blocks over loopback.
 *
 * Pre-builds realistic thread-span blocks (nested spans over a few dozen
 * descriptors, ~32k events per block, built with wire_pb exactly as a client
 * would), then measures three things in the same run, on the same bytes, with
 * the same number of concurrent connections:
 *
 *   disk floor   the payloads written with the object store's put protocol
 *                (temp file, fsync, rename, directory fsync): the storage cost
 *                any durable ingestion pays;
 *   http floor   the block messages POSTed to /bench/discard, a route that
 *                reads the body and drops it: the cost of HTTP on loopback;
 *   ingest       the block messages POSTed to /ingestion/insert_block: full
 *                validation, durable object, group-committed metadata row.
 *
 * It prints events/s and MB/s for each and the ratios ingest / floor, and the
 * acknowledgement latency of the ingest requests (p50, p99: from sending a
 * block to its 200).  The
 * server runs in this process on 127.0.0.1 (started with the discard route on)
 * unless --url names another one, in which case the floors are skipped.
 *
 *   bench_ingest [--connections 8] [--blocks 320] [--events 32768]
 *                [--codec none|lz4|zstd] [--server-threads 8] [--url URL[,URL...]]
 *                [--self-trace [--rounds N]] [--pause]
 *
 * --pause waits, once the blocks are built, for a line on standard input
 * before sending anything: a driver measuring the server (valgrind, strace;
 * bench/ingest/selftrace_instr.py) starts its window then.
 *
 * --url takes several servers separated by commas (servers sharing one
 * PostgreSQL and one bucket): connection i sends to server i modulo their
 * number, and the process and its streams are announced to each.
 *
 * --self-trace adds two measurements: the same blocks into two more servers,
 * each in a fresh data directory, the first plain, the second recording its
 * own work as `serve` does by default (server/self_trace.h).  The target is a
 * cost under 2 %, which wall times on a shared machine cannot resolve (their
 * spread is tens of percent), so the benchmark reports three figures:
 *
 *   accounted    the self-trace's own CPU time as a share of the server's CPU
 *                time over the same run: the library's collector and sender
 *                threads (pthread_getcpuclockid; the sender also stores the
 *                server's own blocks), turning /api/stats into metrics every
 *                second, and the recording calls made inline by the server's
 *                threads (events recorded x a cost per event measured in this
 *                process right after the run); the server's CPU is the
 *                process's minus the client threads'.  Also the self-trace's
 *                events and bytes as a share of the ingested ones.
 *   wall, CPU    plain vs self-traced throughput and CPU per event.
 *
 * The tracing library runs once per process, so in one process the
 * self-traced server always comes last.  --rounds N runs N pairs of short
 * rounds instead, each server in its own process (this program, re-run with
 * --round plain|traced), in the order plain, traced, traced, plain, ... so
 * that a drift of the machine falls on both; it prints the median and the
 * spread (min, max) of each figure over the rounds: the server's CPU per
 * event on each side and its cost per pair, split into the HTTP threads
 * (where the recording calls run) and the rest (the metadata writer, the
 * janitor, the library's threads), events/s, the accounted share, and the
 * load average (a loaded machine cannot resolve a few percent).
 */
#include "base/alloc.h"
#include "base/clock.h"
#include "base/dbuf.h"
#include "net/httpc.h"
#include "objstore/objstore.h"
#include "server/ingest.h"
#include "server/self_trace.h"
#include "server/server.h"
#include "streamlake/trace.h"
#include "wire/wire.h"

#include <dirent.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N_DESCS 48
#define MAX_DEPTH 12
#define TSC_HZ 1000000000ull
#define MAX_URLS 16

typedef struct opts {
    int connections;
    int blocks;
    int events;
    int codec;
    int server_threads;
    const char *url;
    int self_trace;
    int rounds;           /* --rounds N: N pairs of rounds, each server in its own process */
    int round;            /* --round plain|traced (internal): one server, one result line */
    int pause;            /* --pause: wait for a line on stdin between building and sending */
    const char *self_exe; /* argv[0], re-run by --rounds */
} opts;

typedef struct blk {
    sl_uuid process_id, stream_id, block_id;
    dbuf msg;           /* block message: header + payload */
    uint32_t n_events;
} blk;

typedef struct bench {
    opts o;
    blk *blocks;
    sl_uuid process_id;
    sl_uuid *streams;
    char base_url[256];
    char urls[MAX_URLS][256]; /* --url's servers, connection i sends to i % n_urls */
    int n_urls;
    uint64_t total_events, total_bytes;
    int64_t *ack_ns;    /* per block: the ingest request's round trip */
    _Atomic int64_t client_cpu_ns; /* CPU of the client threads of the last phase */
} bench;

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Appends a call-tree's worth of span events to pb until it holds n events. */
static int fill_spans(wire_pb *pb, uint32_t n, int64_t *ticks, uint64_t *rng)
{
    static char names[N_DESCS][16];
    uint32_t descs[N_DESCS];
    for (int i = 0; i < N_DESCS; i++) {
        snprintf(names[i], sizeof names[i], "fn_%02d", i);
        int rc = wire_pb_desc(pb, (uint64_t)i + 1, WIRE_DESC_SPAN, 0, names[i], "game::engine",
                              "src/engine.cpp", (uint32_t)(100 + i), NULL, &descs[i]);
        if (rc)
            return rc;
    }
    uint32_t stack[MAX_DEPTH];
    int depth = 0;
    while (wire_pb_count(pb) + (uint32_t)depth < n) {
        uint64_t r = rng_next(rng);
        *ticks += (int64_t)(5 + r % 400);
        int open = depth == 0 || (depth < MAX_DEPTH && (r >> 20) % 100 < 55);
        wire_event ev = {.ticks = *ticks};
        if (open) {
            stack[depth] = descs[(r >> 32) % N_DESCS];
            ev.type = WIRE_EV_SPAN_BEGIN;
            ev.desc = stack[depth++];
        } else {
            ev.type = WIRE_EV_SPAN_END;
            ev.desc = stack[--depth];
        }
        int rc = wire_pb_event(pb, &ev);
        if (rc)
            return rc;
    }
    while (depth > 0) {
        *ticks += 7;
        wire_event ev = {.type = WIRE_EV_SPAN_END, .ticks = *ticks, .desc = stack[--depth]};
        int rc = wire_pb_event(pb, &ev);
        if (rc)
            return rc;
    }
    return SL_OK;
}

static int build_block(bench *b, int i, wire_pb *pb, int64_t *ticks, uint64_t *offset,
                       uint64_t *rng)
{
    blk *k = &b->blocks[i];
    k->process_id = b->process_id;
    k->stream_id = b->streams[i % b->o.connections];
    uuid_v4(&k->block_id);
    wire_pb_reset(pb);
    int rc = fill_spans(pb, (uint32_t)b->o.events, ticks, rng);
    if (rc)
        return rc;
    dbuf payload;
    dbuf_init(&payload, WIRE_MAX_PAYLOAD);
    int64_t t0 = wire_pb_min_ticks(pb), t1 = wire_pb_max_ticks(pb);
    rc = wire_pb_finish(pb, b->o.codec, &k->block_id, &k->stream_id, &k->process_id, t0, t1,
                        &payload);
    k->n_events = wire_pb_count(pb);
    int64_t start_ns = 1700000000000000000ll;
    wire_block h = {.block_id = k->block_id, .stream_id = k->stream_id,
                    .process_id = k->process_id,
                    .begin_time_ns = start_ns + t0, .end_time_ns = start_ns + t1,
                    .begin_ticks = t0, .end_ticks = t1, .nb_objects = k->n_events,
                    .object_offset = *offset, .payload_size = (uint32_t)payload.len};
    *offset += k->n_events;
    dbuf_init(&k->msg, WIRE_MAX_BLOCK_MSG);
    if (!rc)
        rc = wire_block_encode_header(&h, &k->msg);
    if (!rc)
        rc = dbuf_append(&k->msg, payload.p, payload.len);
    dbuf_free(&payload);
    return rc;
}

/* Every stream gets its own tick sequence, as each thread of a process would. */
static int build_all(bench *b)
{
    int n_streams = b->o.connections;
    b->blocks = sl_calloc((size_t)b->o.blocks, sizeof *b->blocks);
    b->streams = sl_calloc((size_t)n_streams, sizeof *b->streams);
    int64_t *ticks = sl_calloc((size_t)n_streams, sizeof *ticks);
    uint64_t *offsets = sl_calloc((size_t)n_streams, sizeof *offsets);
    uuid_v4(&b->process_id);
    for (int i = 0; i < n_streams; i++)
        uuid_v4(&b->streams[i]);
    wire_pb *pb;
    int rc = wire_pb_new(WIRE_MAX_BODY, &pb);
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < b->o.blocks && !rc; i++) {
        int s = i % n_streams;
        rc = build_block(b, i, pb, &ticks[s], &offsets[s], &rng);
        b->total_events += b->blocks[i].n_events;
        b->total_bytes += b->blocks[i].msg.len;
    }
    wire_pb_free(pb);
    sl_free(ticks);
    sl_free(offsets);
    return rc;
}

/* ------------------------------------------------------------ workers */

typedef struct worker {
    bench *b;
    int index;
    int mode;        /* 0 disk, 1 discard route, 2 ingest */
    objstore *os;
    int failures;
    char last_error[256];
} worker;

static void post_all(worker *w, const char *path)
{
    bench *b = w->b;
    httpc *c;
    errmsg e;
    if (httpc_new(120000, &c, &e)) {
        w->failures++;
        return;
    }
    char url[512];
    snprintf(url, sizeof url, "%s%s", b->n_urls ? b->urls[w->index % b->n_urls] : b->base_url,
             path);
    dbuf resp;
    dbuf_init(&resp, 1 << 16);
    for (int i = w->index; i < b->o.blocks; i += b->o.connections) {
        int status = 0;
        dbuf_reset(&resp);
        int64_t t0 = clock_mono_ns();
        int rc = httpc_post(c, url, b->blocks[i].msg.p, b->blocks[i].msg.len, &status, &resp, &e);
        if (b->ack_ns)
            b->ack_ns[i] = clock_mono_ns() - t0;
        if (rc || status != 200) {
            w->failures++;
            snprintf(w->last_error, sizeof w->last_error, "%d %.200s", status,
                     status ? (const char *)resp.p : e.text);
        }
    }
    dbuf_free(&resp);
    httpc_free(c);
}

static void write_all(worker *w)
{
    bench *b = w->b;
    errmsg e;
    for (int i = w->index; i < b->o.blocks; i += b->o.connections) {
        blk *k = &b->blocks[i];
        char key[256];
        ingest_block_key(&k->process_id, &k->stream_id, &k->block_id, key, sizeof key);
        if (objstore_put(w->os, key, k->msg.p + WIRE_BLOCK_HDR, k->msg.len - WIRE_BLOCK_HDR,
                         OBJSTORE_PUT_REPLACE, &e)) {
            w->failures++;
            snprintf(w->last_error, sizeof w->last_error, "%s", e.text);
        }
    }
}

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    if (w->mode == 0)
        write_all(w);
    else
        post_all(w, w->mode == 1 ? "/bench/discard" : "/ingestion/insert_block");
    atomic_fetch_add(&w->b->client_cpu_ns, thread_cpu_ns());
    return NULL;
}

/* Runs one phase on all connections; returns seconds, or -1 on failures. */
static double run_phase(bench *b, int mode, objstore *os)
{
    int n = b->o.connections;
    pthread_t *th = sl_calloc((size_t)n, sizeof *th);
    worker *ws = sl_calloc((size_t)n, sizeof *ws);
    int64_t t0 = clock_mono_ns();
    for (int i = 0; i < n; i++) {
        ws[i] = (worker){.b = b, .index = i, .mode = mode, .os = os};
        pthread_create(&th[i], NULL, worker_main, &ws[i]);
    }
    int failures = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        if (ws[i].failures) {
            fprintf(stderr, "bench_ingest: %d failures, last: %s\n", ws[i].failures,
                    ws[i].last_error);
            failures += ws[i].failures;
        }
    }
    double secs = (double)(clock_mono_ns() - t0) / 1e9;
    sl_free(th);
    sl_free(ws);
    return failures ? -1 : secs;
}

/* ------------------------------------------------------------ setup and report */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static int send_meta(bench *b)
{
    httpc *c;
    errmsg e;
    int rc = httpc_new(30000, &c, &e), status = 0;
    if (rc)
        return rc;
    dbuf m;
    dbuf_init(&m, WIRE_MAX_META_MSG);
    char url[512];
    wire_process p = {.process_id = b->process_id, .start_time_ns = 1700000000000000000ll,
                      .start_ticks = 0, .tsc_frequency = TSC_HZ,
                      .exe = {"/usr/bin/bench_game", 19}, .username = {"bench", 5},
                      .computer = {"loopback", 8}};
    rc = wire_process_encode(&p, &m);
    snprintf(url, sizeof url, "%s/ingestion/insert_process", b->base_url);
    if (!rc)
        rc = httpc_post(c, url, m.p, m.len, &status, NULL, &e);
    snprintf(url, sizeof url, "%s/ingestion/insert_stream", b->base_url);
    for (int i = 0; i < b->o.connections && !rc && status == 200; i++) {
        wire_str tag = {"cpu", 3};
        char tid[16];
        int n = snprintf(tid, sizeof tid, "%d", 1000 + i);
        wire_kv kv = {{"thread-id", 9}, {tid, (uint32_t)n}};
        wire_stream s = {.stream_id = b->streams[i], .process_id = b->process_id,
                         .n_tags = 1, .tags = &tag, .n_properties = 1, .properties = &kv};
        dbuf_reset(&m);
        rc = wire_stream_encode(&s, &m);
        if (!rc)
            rc = httpc_post(c, url, m.p, m.len, &status, NULL, &e);
    }
    if (!rc && status != 200) {
        fprintf(stderr, "bench_ingest: metadata insert answered %d\n", status);
        rc = SL_ENET;
    }
    dbuf_free(&m);
    httpc_free(c);
    return rc;
}

static void report(const bench *b, const char *name, double secs, double ref_secs,
                   const char *ref_name);

/* CPU seconds (user + system) of this whole process so far. */
static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* One server's run: wall time, CPU, and for a self-traced server what tracing cost. */
typedef struct round_res {
    double secs;            /* wall, first request to last acknowledgement; < 0: failed */
    double server_cpu_s;    /* the process's CPU minus the client threads' */
    double threads_s;       /* the library's collector and sender threads */
    double sender_s;        /* the sender's part (it stores the server's own blocks) */
    double metrics_s;       /* /api/stats into metrics */
    double inline_s;        /* events recorded x inline_ns */
    double inline_ns;       /* measured cost of one recorded event */
    double http_s;          /* the HTTP worker threads (the ingestion path itself) */
    uint64_t self_events, self_bytes, self_blocks, self_dropped;
} round_res;

/*
 * CPU seconds of this process's live threads named MHD-worker (the server's
 * HTTP threads, where every ingest request runs), from each thread's
 * schedstat (ns): where a cost the accounting misses would show first.
 */
static double http_threads_s(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *de;
    double sum = 0;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char path[300], comm[32] = "";
        unsigned long long run = 0;
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", de->d_name);
        FILE *f = fopen(path, "r");
        int ok = f && fgets(comm, sizeof comm, f) && !strncmp(comm, "MHD-worker", 10);
        if (f)
            fclose(f);
        snprintf(path, sizeof path, "/proc/self/task/%s/schedstat", de->d_name);
        if (ok && (f = fopen(path, "r"))) {
            if (fscanf(f, "%llu", &run) == 1)
                sum += (double)run / 1e9;
            fclose(f);
        }
    }
    if (d)
        closedir(d);
    return sum;
}

static double self_s(const round_res *r)
{
    return r->threads_s + r->metrics_s + r->inline_s;
}

/*
 * The CPU cost of one event recorded inline, as the server's threads record
 * them (an async span's begin or end), measured on this thread: the median
 * of 21 batches of 2,000 spans, each batch flushed before the next so that
 * no ring fills (a full ring drops, which costs less than recording).
 */
static double calibrate_event_ns(void)
{
    enum { BATCHES = 21, PAIRS = 2000 };
    double ns[BATCHES];
    for (int k = 0; k < BATCHES; k++) {
        sl_flush(10000);
        int64_t c0 = thread_cpu_ns();
        for (int i = 0; i < PAIRS; i++) {
            sl_async_span sp = SL_ASYNC_BEGIN("bench.calibrate", NULL);
            sl_async_end(&sp);
        }
        ns[k] = (double)(thread_cpu_ns() - c0) / (2.0 * PAIRS);
    }
    for (int i = 1; i < BATCHES; i++) /* insertion sort: 21 values */
        for (int j = i; j > 0 && ns[j] < ns[j - 1]; j--) {
            double t = ns[j];
            ns[j] = ns[j - 1];
            ns[j - 1] = t;
        }
    return ns[BATCHES / 2];
}

/*
 * The blocks into a fresh server (data under dir/name).  The window runs
 * from the first request to the last acknowledgement and, for a self-traced
 * server, until what it recorded during the run is stored (sl_flush).
 */
static void fresh_server(bench *b, const char *dir, const char *name, int self_trace,
                         round_res *r)
{
    memset(r, 0, sizeof *r);
    r->secs = -1;
    char sdir[300];
    snprintf(sdir, sizeof sdir, "%s/%s", dir, name);
    server_config c;
    server_config_defaults(&c);
    c.data_dir = sdir;
    c.port = 0;
    c.threads = b->o.server_threads;
    c.pg_mode = 0;
    c.self_trace = self_trace;
    server *srv;
    errmsg e;
    if (server_start(&c, &srv, &e)) {
        fprintf(stderr, "bench_ingest: %s\n", e.text);
        return;
    }
    snprintf(b->base_url, sizeof b->base_url, "http://127.0.0.1:%u", server_port(srv));
    self_trace_cost k0, k1;
    int have = self_trace && self_trace_cost_get(&k0) == SL_OK;
    atomic_store(&b->client_cpu_ns, 0);
    double c0 = cpu_seconds(), h0 = http_threads_s();
    int64_t mine0 = thread_cpu_ns();
    r->secs = send_meta(b) ? -1 : run_phase(b, 2, NULL);
    if (have)
        sl_flush(30000);
    have = have && self_trace_cost_get(&k1) == SL_OK;
    /* this thread only waits (and encodes the metadata): not the server's */
    r->server_cpu_s = cpu_seconds() - c0 - (double)atomic_load(&b->client_cpu_ns) / 1e9 -
                      (double)(thread_cpu_ns() - mine0) / 1e9;
    r->http_s = http_threads_s() - h0;
    if (have) {
        r->threads_s = (double)(k1.collector_ns - k0.collector_ns + k1.sender_ns -
                                k0.sender_ns) / 1e9;
        r->sender_s = (double)(k1.sender_ns - k0.sender_ns) / 1e9;
        r->metrics_s = (double)(k1.metrics_ns - k0.metrics_ns) / 1e9;
        r->self_events = k1.events_recorded - k0.events_recorded;
        r->self_bytes = k1.bytes_delivered - k0.bytes_delivered;
        r->self_blocks = k1.blocks_delivered - k0.blocks_delivered;
        r->self_dropped = k1.events_dropped - k0.events_dropped;
        r->inline_ns = calibrate_event_ns();
        r->inline_s = (double)r->self_events * r->inline_ns / 1e9;
    } else if (self_trace) {
        fprintf(stderr, "bench_ingest: the server does not record itself\n");
        r->secs = -1;
    }
    server_stop(srv);
}

static void report_self(const bench *b, const round_res *r)
{
    double srv = r->server_cpu_s > 0 ? r->server_cpu_s : 1e-9;
    printf("  %-12s accounted: collector %.1f ms + sender %.1f ms + metrics %.1f ms + inline %"
           PRIu64 " events x %.1f ns = %.1f ms of the server's %.1f ms CPU: %.2f%%\n", "",
           (r->threads_s - r->sender_s) * 1e3, r->sender_s * 1e3, r->metrics_s * 1e3,
           r->self_events, r->inline_ns,
           self_s(r) * 1e3, srv * 1e3, 100.0 * self_s(r) / srv);
    printf("  %-12s self-trace data: %" PRIu64 " events (%.3f%% of the ingested), %" PRIu64
           " bytes (%.3f%%) in %" PRIu64 " blocks, %" PRIu64 " dropped\n", "", r->self_events,
           100.0 * (double)r->self_events / (double)b->total_events, r->self_bytes,
           100.0 * (double)r->self_bytes / (double)b->total_bytes, r->self_blocks,
           r->self_dropped);
}

/*
 * --self-trace in one process: the blocks into two more fresh servers, the
 * same but for recording themselves.  0 when every request succeeded.
 */
static int self_traced(bench *b, const char *dir)
{
    round_res p, t;
    fresh_server(b, dir, "plain", 0, &p);
    if (p.secs > 0)
        fresh_server(b, dir, "self-traced", 1, &t);
    else
        t.secs = -1;
    report(b, "plain", p.secs, 0, NULL);
    report(b, "self-traced", t.secs, 0, NULL);
    if (t.secs <= 0)
        return 1;
    double ev = (double)b->total_events;
    printf("  %-12s wall: %.4f of the plain server's throughput (cost %.2f%%)\n", "",
           p.secs / t.secs, 100.0 * (1.0 - p.secs / t.secs));
    printf("  %-12s server CPU %.1f ns/event plain, %.1f ns/event self-traced (cost %.2f%%)\n",
           "", p.server_cpu_s / ev * 1e9, t.server_cpu_s / ev * 1e9,
           100.0 * (t.server_cpu_s / p.server_cpu_s - 1.0));
    report_self(b, &t);
    return 0;
}

/* --round MODE: one server, one line for the parent (--rounds) to read. */
static int one_round(bench *b, const char *dir)
{
    round_res r;
    fresh_server(b, dir, b->o.round == 2 ? "traced" : "plain", b->o.round == 2, &r);
    if (r.secs <= 0)
        return 1;
    printf("round %s %.6f %.6f %.6f %.6f %.6f %.3f %" PRIu64 " %" PRIu64 " %" PRIu64 " %"
           PRIu64 " %.6f\n", b->o.round == 2 ? "traced" : "plain", r.secs, r.server_cpu_s,
           r.threads_s, r.metrics_s, r.inline_s, r.inline_ns, r.self_events, r.self_bytes,
           b->total_events, b->total_bytes, r.http_s);
    return 0;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Prints "median (min .. max)" of v[0..n), sorted in place. */
static void print_spread(const char *what, double *v, int n, const char *unit)
{
    qsort(v, (size_t)n, sizeof *v, cmp_dbl);
    double med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    printf("  %-44s median %9.3f%s  (min %.3f, max %.3f, %d rounds)\n", what, med, unit, v[0],
           v[n - 1], n);
}

/* The 1-minute load average, or -1: printed so a noisy machine shows in the output. */
static double loadavg1(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

/* The figures of --rounds, one array of n pairs each. */
enum { F_WALL_P, F_WALL_T, F_CPU_P, F_CPU_T, F_HTTP_P, F_HTTP_T, F_REST_P, F_REST_T, F_SHARE,
       F_EV_SHARE, F_BY_SHARE, F_WALL_COST, F_CPU_COST, F_HTTP_COST, F_REST_COST, F_COUNT };

/*
 * --rounds N: N pairs of rounds, each in its own process, alternating
 * plain, traced, traced, plain, ...; the median and spread of each figure.
 * Server CPU per event is split into the HTTP worker threads (the ingestion
 * path, where the inline recording calls run) and the rest (the metadata
 * writer, the janitor, the library's threads): a cost the accounting misses
 * shows in the part it falls on.
 */
static int rounds(const opts *o)
{
    int n = o->rounds;
    double *f[F_COUNT];
    for (int k = 0; k < F_COUNT; k++)
        f[k] = sl_calloc((size_t)n, sizeof(double));
    double load0 = loadavg1();
    int failed = 0;
    for (int i = 0; i < 2 * n && !failed; i++) {
        int traced = (i % 4 == 1 || i % 4 == 2); /* p t t p  p t t p ... */
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "'%s' --connections %d --blocks %d --events %d --codec %s "
                 "--server-threads %d --round %s", o->self_exe, o->connections, o->blocks,
                 o->events, o->codec == WIRE_CODEC_ZSTD ? "zstd" : o->codec == WIRE_CODEC_LZ4
                 ? "lz4" : "none", o->server_threads, traced ? "traced" : "plain");
        FILE *fp = popen(cmd, "r");
        char line[512], mode[16];
        double secs = 0, scpu = 0, th = 0, me = 0, inl = 0, ins = 0, http = 0;
        uint64_t sev = 0, sby = 0, tev = 0, tby = 0;
        int got = 0;
        while (fp && fgets(line, sizeof line, fp))
            if (sscanf(line, "round %15s %lf %lf %lf %lf %lf %lf %" SCNu64 " %" SCNu64
                       " %" SCNu64 " %" SCNu64 " %lf", mode, &secs, &scpu, &th, &me, &inl,
                       &ins, &sev, &sby, &tev, &tby, &http) == 12)
                got = 1;
        if (!fp || pclose(fp) != 0 || !got) {
            fprintf(stderr, "bench_ingest: round %d (%s) failed\n", i + 1,
                    traced ? "traced" : "plain");
            failed = 1;
            break;
        }
        int pair = i / 2;
        f[F_WALL_P + traced][pair] = (double)tev / secs / 1e6;
        f[F_CPU_P + traced][pair] = scpu / (double)tev * 1e9;
        f[F_HTTP_P + traced][pair] = http / (double)tev * 1e9;
        f[F_REST_P + traced][pair] = (scpu - http) / (double)tev * 1e9;
        if (traced) {
            f[F_SHARE][pair] = 100.0 * (th + me + inl) / scpu;
            f[F_EV_SHARE][pair] = 100.0 * (double)sev / (double)tev;
            f[F_BY_SHARE][pair] = 100.0 * (double)sby / (double)tby;
        }
        printf("  round %2d %-7s %8.2f M events/s  server CPU %7.1f ns/event (HTTP threads "
               "%.1f, rest %.1f)  load %.2f\n", i + 1, traced ? "traced" : "plain",
               f[F_WALL_P + traced][pair], f[F_CPU_P + traced][pair],
               f[F_HTTP_P + traced][pair], f[F_REST_P + traced][pair], loadavg1());
        if (traced)
            printf("  %-16s accounted self-trace CPU %.2f%% (threads %.1f ms, metrics %.1f ms, "
                   "inline %.1f ms at %.1f ns/event)\n", "", f[F_SHARE][pair], th * 1e3,
                   me * 1e3, inl * 1e3, ins);
        fflush(stdout);
    }
    if (!failed) {
        int dearer = 0;
        for (int i = 0; i < n; i++) {
            f[F_WALL_COST][i] = 100.0 * (1.0 - f[F_WALL_T][i] / f[F_WALL_P][i]);
            f[F_CPU_COST][i] = 100.0 * (f[F_CPU_T][i] / f[F_CPU_P][i] - 1.0);
            /* the parts' costs in points of the plain server's total */
            f[F_HTTP_COST][i] = 100.0 * (f[F_HTTP_T][i] - f[F_HTTP_P][i]) / f[F_CPU_P][i];
            f[F_REST_COST][i] = 100.0 * (f[F_REST_T][i] - f[F_REST_P][i]) / f[F_CPU_P][i];
            dearer += f[F_CPU_COST][i] > 0;
        }
        printf("self-trace over %d pairs of rounds (each server in its own process; load "
               "average %.2f before, %.2f after):\n", n, load0, loadavg1());
        print_spread("accounted self-trace CPU / server CPU", f[F_SHARE], n, " %");
        print_spread("self-trace events / ingested events", f[F_EV_SHARE], n, " %");
        print_spread("self-trace bytes / ingested bytes", f[F_BY_SHARE], n, " %");
        print_spread("plain server CPU per event", f[F_CPU_P], n, " ns");
        print_spread("traced server CPU per event", f[F_CPU_T], n, " ns");
        print_spread("CPU cost (traced/plain - 1, same pair)", f[F_CPU_COST], n, " %");
        print_spread("  of which HTTP threads (points)", f[F_HTTP_COST], n, " %");
        print_spread("  of which the rest (points)", f[F_REST_COST], n, " %");
        printf("  %-44s %d of %d pairs\n", "pairs where the traced server used more CPU",
               dearer, n);
        print_spread("plain throughput", f[F_WALL_P], n, " M ev/s");
        print_spread("traced throughput", f[F_WALL_T], n, " M ev/s");
        print_spread("wall cost (1 - traced/plain, same pair)", f[F_WALL_COST], n, " %");
    }
    for (int k = 0; k < F_COUNT; k++)
        sl_free(f[k]);
    return failed;
}

static void report(const bench *b, const char *name, double secs, double ref_secs,
                   const char *ref_name)
{
    if (secs < 0) {
        printf("  %-12s FAILED\n", name);
        return;
    }
    double ev = (double)b->total_events / secs, mb = (double)b->total_bytes / secs / 1e6;
    printf("  %-12s %8.2f M events/s  %8.1f MB/s  %6.2f s", name, ev / 1e6, mb, secs);
    if (ref_secs > 0)
        printf("   = %.2fx of %s", ref_secs / secs, ref_name);
    printf("\n");
}

static int parse(int argc, char **argv, opts *o)
{
    *o = (opts){.connections = 8, .blocks = 320, .events = 32768, .codec = WIRE_CODEC_NONE,
                .server_threads = 8};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--self-trace")) {
            o->self_trace = 1;
            continue;
        }
        if (!strcmp(a, "--pause")) {
            o->pause = 1;
            continue;
        }
        if (!v)
            return -1;
        i++;
        if (!strcmp(a, "--rounds")) {
            o->rounds = atoi(v);
            if (o->rounds < 1)
                return -1;
            continue;
        }
        if (!strcmp(a, "--round")) {
            o->round = !strcmp(v, "plain") ? 1 : !strcmp(v, "traced") ? 2 : -1;
            if (o->round < 0)
                return -1;
            continue;
        }
        if (!strcmp(a, "--connections"))
            o->connections = atoi(v);
        else if (!strcmp(a, "--blocks"))
            o->blocks = atoi(v);
        else if (!strcmp(a, "--events"))
            o->events = atoi(v);
        else if (!strcmp(a, "--server-threads"))
            o->server_threads = atoi(v);
        else if (!strcmp(a, "--url"))
            o->url = v;
        else if (!strcmp(a, "--codec"))
            o->codec = !strcmp(v, "zstd") ? WIRE_CODEC_ZSTD
                       : !strcmp(v, "lz4") ? WIRE_CODEC_LZ4 : WIRE_CODEC_NONE;
        else
            return -1;
    }
    if (o->rounds && !o->self_trace)
        return -1;
    return o->connections > 0 && o->blocks > 0 && o->events > 16 ? 0 : -1;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* p50 and p99 of the ingest requests' acknowledgement times. */
static void report_acks(bench *b)
{
    qsort(b->ack_ns, (size_t)b->o.blocks, sizeof *b->ack_ns, cmp_i64);
    int n = b->o.blocks;
    printf("  %-12s ack latency p50 %.2f ms  p99 %.2f ms  (%d requests)\n", "",
           (double)b->ack_ns[n / 2] / 1e6, (double)b->ack_ns[(n * 99) / 100 < n ? (n * 99) / 100
                                                                              : n - 1] / 1e6, n);
}

static void free_blocks(bench *b)
{
    for (int i = 0; b->blocks && i < b->o.blocks; i++)
        dbuf_free(&b->blocks[i].msg);
    sl_free(b->blocks);
    sl_free(b->streams);
}

int main(int argc, char **argv)
{
    bench b;
    memset(&b, 0, sizeof b);
    if (parse(argc, argv, &b.o)) {
        fprintf(stderr, "usage: bench_ingest [--connections N] [--blocks N] [--events N]\n"
                        "       [--codec none|lz4|zstd] [--server-threads N]\n"
                        "       [--url URL[,URL...]]\n"
                        "       [--self-trace [--rounds N]] [--pause]\n");
        return 2;
    }
    b.o.self_exe = "/proc/self/exe";
    if (b.o.rounds) {
        char exe[512];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n <= 0)
            return 1;
        exe[n] = 0;
        b.o.self_exe = exe;
        printf("bench_ingest --self-trace --rounds %d: %d blocks x ~%d events, %d connections, "
               "order plain traced traced plain ...\n", b.o.rounds, b.o.blocks, b.o.events,
               b.o.connections);
        return rounds(&b.o);
    }
    static const char *codecs[] = {"none", "zstd", "lz4"};
    int64_t t0 = clock_mono_ns();
    if (build_all(&b)) {
        fprintf(stderr, "bench_ingest: building blocks failed\n");
        return 1;
    }
    printf("bench_ingest: %d blocks x ~%d events (codec %s), %.1f MB of block messages, "
           "%d connections, built in %.1f s\n", b.o.blocks, b.o.events, codecs[b.o.codec],
           (double)b.total_bytes / 1e6, b.o.connections, (double)(clock_mono_ns() - t0) / 1e9);
    if (b.o.pause) {
        /* A driver (selftrace_instr.py) starts measuring the server, then lets us go. */
        char go[16];
        printf("bench_ingest: ready\n");
        fflush(stdout);
        if (!fgets(go, sizeof go, stdin))
            return 1;
    }

    char dir[256];
    snprintf(dir, sizeof dir, "%s/sl-bench-ingest-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir))
        return 1;
    if (b.o.round) {
        int rc = one_round(&b, dir);
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        free_blocks(&b);
        return rc;
    }
    server *srv = NULL;
    errmsg e;
    double disk = -2, discard = -2;
    if (!b.o.url) {
        char sdir[300], fdir[300];
        snprintf(sdir, sizeof sdir, "%s/server", dir);
        snprintf(fdir, sizeof fdir, "%s/floor", dir);
        server_config c;
        server_config_defaults(&c);
        c.data_dir = sdir;
        c.port = 0;
        c.threads = b.o.server_threads;
        c.discard_route = 1;
        if (server_start(&c, &srv, &e)) {
            fprintf(stderr, "bench_ingest: %s\n", e.text);
            return 1;
        }
        snprintf(b.base_url, sizeof b.base_url, "http://127.0.0.1:%u", server_port(srv));
        objstore *os;
        if (objstore_local_open(fdir, &os, &e))
            return 1;
        disk = run_phase(&b, 0, os);
        objstore_close(os);
        discard = run_phase(&b, 1, NULL);
    } else {
        for (const char *u = b.o.url; *u && b.n_urls < MAX_URLS;) {
            size_t n = strcspn(u, ",");
            snprintf(b.urls[b.n_urls++], sizeof b.urls[0], "%.*s", (int)n, u);
            u += n + (u[n] == ',');
        }
    }
    for (int i = 0; i < (b.n_urls ? b.n_urls : 1); i++) {
        if (b.n_urls)
            snprintf(b.base_url, sizeof b.base_url, "%s", b.urls[i]);
        if (send_meta(&b)) {
            fprintf(stderr, "bench_ingest: cannot insert the process and its streams into %s\n",
                    b.base_url);
            return 1;
        }
    }
    b.ack_ns = sl_calloc((size_t)b.o.blocks, sizeof *b.ack_ns);
    double t_ingest = run_phase(&b, 2, NULL);
    if (disk > -2)
        report(&b, "disk floor", disk, 0, NULL);
    if (discard > -2)
        report(&b, "http floor", discard, 0, NULL);
    report(&b, "ingest", t_ingest, disk, "disk floor");
    if (discard > 0 && t_ingest > 0)
        printf("  %-12s ingest runs at %.2fx of the http floor\n", "", discard / t_ingest);
    if (t_ingest > 0 && b.ack_ns)
        report_acks(&b);
    server_stop(srv);
    if (b.o.self_trace && !b.o.url && t_ingest > 0 && self_traced(&b, dir))
        t_ingest = -1;
    sl_free(b.ack_ns); /* the self-traced run records its acknowledgements here too */
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free_blocks(&b);
    return t_ingest > 0 ? 0 : 1;
}
