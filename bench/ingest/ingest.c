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
 *                [--self-trace]
 *
 * --url takes several servers separated by commas (servers sharing one
 * PostgreSQL and one bucket): connection i sends to server i modulo their
 * number, and the process and its streams are announced to each.
 *
 * --self-trace adds two measurements: the same blocks into two more servers,
 * each in a fresh data directory, the first plain, the second recording its
 * own work as `serve` does by default (server/self_trace.h); it prints the
 * second's throughput as a ratio of the first's (the target: a cost under
 * 2%).  The tracing library runs once per process, so the self-traced server
 * always comes last; run the benchmark several times to see the spread.
 */
#include "base/alloc.h"
#include "base/clock.h"
#include "base/dbuf.h"
#include "net/httpc.h"
#include "objstore/objstore.h"
#include "server/ingest.h"
#include "server/server.h"
#include "wire/wire.h"

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
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

static void *worker_main(void *arg)
{
    worker *w = arg;
    if (w->mode == 0)
        write_all(w);
    else
        post_all(w, w->mode == 1 ? "/bench/discard" : "/ingestion/insert_block");
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

/*
 * The blocks into a fresh server (data under dir/name): seconds, or -1 on a
 * failure; *cpu gets the CPU seconds the process spent from the first request
 * to the server's stop (its last self-recorded events stored).
 */
static double fresh_server(bench *b, const char *dir, const char *name, int self_trace,
                           double *cpu)
{
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
        return -1;
    }
    snprintf(b->base_url, sizeof b->base_url, "http://127.0.0.1:%u", server_port(srv));
    double c0 = cpu_seconds();
    double t = send_meta(b) ? -1 : run_phase(b, 2, NULL);
    server_stop(srv);
    *cpu = cpu_seconds() - c0;
    return t;
}

/*
 * --self-trace: the blocks into two more fresh servers, the same but for
 * recording themselves, and the ratio.  0 when every request succeeded.
 */
static int self_traced(bench *b, const char *dir)
{
    double cpu_plain = 0, cpu_traced = 0;
    double plain = fresh_server(b, dir, "plain", 0, &cpu_plain);
    double traced = plain > 0 ? fresh_server(b, dir, "self-traced", 1, &cpu_traced) : -1;
    report(b, "plain", plain, 0, NULL);
    report(b, "self-traced", traced, 0, NULL);
    if (traced > 0) {
        printf("  %-12s %.4f of the plain server's throughput (cost %.2f%%)\n", "",
               plain / traced, 100.0 * (1.0 - plain / traced));
        /* CPU per event: steadier than wall time, which the disk's fsyncs dominate;
         * the client threads of this process count in both, the same work */
        double ev = (double)b->total_events;
        printf("  %-12s CPU %.1f ns/event plain, %.1f ns/event self-traced (cost %.2f%% "
               "of the process's CPU)\n", "", cpu_plain / ev * 1e9, cpu_traced / ev * 1e9,
               100.0 * (cpu_traced / cpu_plain - 1.0));
    }
    return traced > 0 ? 0 : 1;
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
        if (!v)
            return -1;
        i++;
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

int main(int argc, char **argv)
{
    bench b;
    memset(&b, 0, sizeof b);
    if (parse(argc, argv, &b.o)) {
        fprintf(stderr, "usage: bench_ingest [--connections N] [--blocks N] [--events N]\n"
                        "       [--codec none|lz4|zstd] [--server-threads N]\n"
                        "       [--url URL[,URL...]]\n"
                        "       [--self-trace]\n");
        return 2;
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

    char dir[256];
    snprintf(dir, sizeof dir, "%s/sl-bench-ingest-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir))
        return 1;
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
    for (int i = 0; i < b.o.blocks; i++)
        dbuf_free(&b.blocks[i].msg);
    sl_free(b.blocks);
    sl_free(b.streams);
    return t_ingest > 0 ? 0 : 1;
}
