/*
 * pf_testgen.c - writes a random Perfetto trace and what it should contain.
 *
 *   pf_testgen --out TRACE --expect JSON [--seed N] [--mode abs|incr]
 *              [--threads N] [--spans N] [--async N] [--chunk BYTES]
 *              [--intern-entries N] [--workers N]
 *
 * One process: a process track and an async sequence (random forests of async
 * spans on lanes), plus N threads, each a random call tree on its own thread
 * track and sequence.  Thread sequences are encoded by a small pool of
 * pthreads, each into its own memory sink; the outputs are then concatenated
 * in a stable order (process sequence, then threads by index) into the trace
 * file: the parallel-encode / ordered-output shape of trace generation.
 *
 * The expectation file lists, per thread, the exact event sequence derived
 * from the generated tree by a recursive walk (not by the writer's stack
 * logic), and the async slices as a multiset; tests/perfetto/pfcheck.py
 * compares the trace against it.  Names include non-ASCII text, long
 * strings, empty categories and missing source locations; times include
 * zero-length and touching spans; a small --intern-entries forces many
 * interning resets.
 */
#include "base/alloc.h"
#include "base/dbuf.h"
#include "base/json.h"
#include "perfetto/pf_seq.h"
#include "perfetto/pf_spans.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PID 4321
#define PROCESS_UUID 1
#define THREAD_UUID_BASE 100
#define LANE_UUID_BASE 1000000
#define NSITES 40

typedef struct opts {
    const char *out, *expect;
    uint64_t seed;
    pf_ts_mode mode;
    int threads, spans, async, workers;
    size_t chunk;
    uint32_t intern_entries;
} opts;

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static char site_text[NSITES][3][4200];
static pf_site sites[NSITES];

static void make_sites(uint64_t *r)
{
    static const char *names[] = {"parse", "données", "名前の解決", "flush", "rpc/handle"};
    for (int i = 0; i < NSITES; i++) {
        char *n = site_text[i][0], *c = site_text[i][1], *f = site_text[i][2];
        snprintf(n, 4200, "%s_%d", names[i % 5], i);
        if (i == 7) { /* a long name, cut nowhere (under PF_STR_MAX_BYTES) */
            memset(n, 'L', 3000);
            n[3000] = 0;
        }
        if (i % 6 == 0)
            c[0] = 0; /* no category */
        else
            snprintf(c, 4200, "target::mod%d", (int)(rnd(r) % 7));
        if (i % 9 == 0)
            f[0] = 0; /* no file: location by line only, or none */
        else
            snprintf(f, 4200, "src/file_%d.c", i % 11);
        uint32_t line = i % 9 == 0 && i % 2 ? 0 : (uint32_t)(rnd(r) % 3000);
        sites[i] = (pf_site){n, c, f, (uint32_t)strlen(n), (uint32_t)strlen(c),
                             (uint32_t)strlen(f), line, i % 4 ? 0 : (uint64_t)i * 7919};
    }
}

/* ---- thread call trees -------------------------------------------------- */

typedef struct tspan {
    int64_t b, e;
    uint32_t depth, site;
} tspan;

typedef struct tthread {
    int idx;
    int64_t tid;
    char name[64];
    tspan *sp;
    int n, cap;
    uint64_t rng;
    pf_mem_sink ms;
    int rc;
    char err[300];
} tthread;

static void gen_children(tthread *t, int64_t b, int64_t e, uint32_t depth)
{
    int64_t at = b;
    while (t->n < t->cap && depth < 40) {
        uint64_t r = rnd(&t->rng);
        if (r % 5 == 0)
            break;
        int64_t gap = (int64_t)(rnd(&t->rng) % 4 == 0 ? 0 : rnd(&t->rng) % 1000);
        int64_t cb = at + gap;
        if (cb > e)
            break;
        int64_t room = e - cb;
        int64_t dur = rnd(&t->rng) % 7 == 0 ? 0 : (int64_t)(rnd(&t->rng) % (uint64_t)(room + 1));
        int i = t->n++;
        t->sp[i] = (tspan){cb, cb + dur, depth, (uint32_t)(rnd(&t->rng) % NSITES)};
        if (rnd(&t->rng) % 3)
            gen_children(t, cb, cb + dur, depth + 1);
        at = cb + dur;
    }
}

static void gen_thread(tthread *t, uint64_t seed, int spans)
{
    t->rng = seed * 0x9E3779B97F4A7C15ull + (uint64_t)t->idx + 1;
    t->cap = spans;
    t->sp = sl_calloc((size_t)spans, sizeof *t->sp);
    t->tid = 1000 + t->idx * 3;
    snprintf(t->name, sizeof t->name, t->idx % 3 ? "worker-%d" : "wörker-%d", t->idx);
    int64_t at = 1700000000000000000ll + (int64_t)(rnd(&t->rng) % 1000000);
    while (t->n < t->cap) {
        int64_t dur = (int64_t)(rnd(&t->rng) % 2000000);
        int i = t->n++;
        t->sp[i] = (tspan){at, at + dur, 0, (uint32_t)(rnd(&t->rng) % NSITES)};
        gen_children(t, at, at + dur, 1);
        at += dur + (int64_t)(rnd(&t->rng) % 3 ? rnd(&t->rng) % 5000 : 0);
    }
}

static const opts *g_opts;
static tthread *g_threads;
static int g_next;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

/* Encodes one thread: its descriptor and its spans in batches of 500 rows. */
static int encode_thread(tthread *t)
{
    pf_seq s;
    errmsg e;
    pf_seq_cfg cfg = {.seq_id = (uint32_t)t->idx + 2, .ts_mode = g_opts->mode,
                      .default_track_uuid = THREAD_UUID_BASE + (uint64_t)t->idx,
                      .chunk_bytes = g_opts->chunk, .intern_max_entries = g_opts->intern_entries};
    pf_mem_sink_init(&t->ms, (size_t)1 << 30);
    int rc = pf_seq_init(&s, &cfg, pf_mem_sink_get(&t->ms), &e);
    if (rc)
        return rc;
    rc = pf_seq_thread_track(&s, cfg.default_track_uuid, PROCESS_UUID, PID, t->tid, t->name,
                             strlen(t->name));
    pf_thread_writer tw;
    pf_thread_writer_init(&tw, &s, 0);
    int64_t *b = sl_malloc(500 * sizeof *b), *en = sl_malloc(500 * sizeof *en);
    uint32_t *depth = sl_malloc(500 * sizeof *depth), *idx = sl_malloc(500 * sizeof *idx);
    for (int off = 0; off < t->n && !rc; off += 500) {
        int k = t->n - off < 500 ? t->n - off : 500;
        for (int i = 0; i < k; i++) {
            b[i] = t->sp[off + i].b;
            en[i] = t->sp[off + i].e;
            depth[i] = t->sp[off + i].depth;
            idx[i] = t->sp[off + i].site;
        }
        pf_span_rows rows = {.n = (size_t)k, .begin_ns = b, .end_ns = en, .depth = depth,
                             .site_idx = idx, .sites = sites, .n_sites = NSITES};
        rc = pf_thread_writer_add(&tw, &rows, &e);
    }
    if (!rc)
        rc = pf_thread_writer_finish(&tw, &e);
    if (!rc)
        rc = pf_seq_flush(&s);
    if (!rc && tw.clamped)
        rc = errmsg_set(&e, SL_EINTERNAL, "valid trees needed %llu repairs",
                        (unsigned long long)tw.clamped);
    if (rc)
        snprintf(t->err, sizeof t->err, "%s", e.text[0] ? e.text : pf_seq_error(&s));
    sl_free(b);
    sl_free(en);
    sl_free(depth);
    sl_free(idx);
    pf_thread_writer_destroy(&tw);
    pf_seq_destroy(&s);
    return rc;
}

static void *worker(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&g_lock);
        int i = g_next < g_opts->threads ? g_next++ : -1;
        pthread_mutex_unlock(&g_lock);
        if (i < 0)
            return NULL;
        g_threads[i].rc = encode_thread(&g_threads[i]);
    }
}

/* ---- async spans --------------------------------------------------------- */

typedef struct aspan {
    uint64_t id, parent;
    int64_t b, e;
    uint32_t site;
} aspan;

static int gen_async(aspan *sp, int n, uint64_t seed)
{
    uint64_t r = seed * 31 + 7;
    int64_t t = 1700000000000000000ll;
    for (int i = 0; i < n; i++) {
        t += (int64_t)(rnd(&r) % 3 ? rnd(&r) % 20000 : 0);
        int64_t b = t, e = b + (int64_t)(rnd(&r) % 100000);
        uint64_t parent = 0;
        if (i > 0 && rnd(&r) % 3) {
            int p = i - 1 - (int)(rnd(&r) % (uint64_t)(i < 10 ? i : 10));
            if (sp[p].e >= b) {
                parent = sp[p].id;
                if (rnd(&r) % 4)
                    e = b + (int64_t)(rnd(&r) % (uint64_t)(sp[p].e - b + 1));
            }
        }
        sp[i] = (aspan){(uint64_t)i + 1, parent, b, e, (uint32_t)(rnd(&r) % NSITES)};
    }
    return n;
}

static int encode_process(const opts *o, aspan *sp, int n, pf_mem_sink *ms, uint32_t *nlanes,
                          char *err, size_t errlen)
{
    pf_seq s;
    errmsg e;
    errmsg_clear(&e);
    pf_seq_cfg cfg = {.seq_id = 1, .ts_mode = o->mode, .chunk_bytes = o->chunk,
                      .intern_max_entries = o->intern_entries};
    pf_mem_sink_init(ms, (size_t)1 << 30);
    int rc = pf_seq_init(&s, &cfg, pf_mem_sink_get(ms), &e);
    if (rc)
        return rc;
    const char *pname = "streamlake-test ünïcode";
    rc = pf_seq_process_track(&s, PROCESS_UUID, PID, pname, strlen(pname));
    pf_async_writer aw;
    pf_async_writer_init(&aw, &s, PROCESS_UUID, LANE_UUID_BASE, "async");
    int64_t *b = sl_malloc((size_t)(n + 1) * 8), *en = sl_malloc((size_t)(n + 1) * 8);
    uint64_t *id = sl_malloc((size_t)(n + 1) * 8), *par = sl_malloc((size_t)(n + 1) * 8);
    uint32_t *idx = sl_malloc((size_t)(n + 1) * 4);
    for (int i = 0; i < n; i++) {
        b[i] = sp[i].b;
        en[i] = sp[i].e;
        id[i] = sp[i].id;
        par[i] = sp[i].parent;
        idx[i] = sp[i].site;
    }
    for (int off = 0; off < n && !rc; off += 333) {
        int k = n - off < 333 ? n - off : 333;
        pf_span_rows rows = {.n = (size_t)k, .begin_ns = b + off, .end_ns = en + off,
                             .span_id = id + off, .parent_span_id = par + off,
                             .site_idx = idx + off, .sites = sites, .n_sites = NSITES};
        rc = pf_async_writer_add(&aw, &rows, &e);
    }
    if (!rc)
        rc = pf_async_writer_finish(&aw, &e);
    if (!rc)
        rc = pf_seq_flush(&s);
    if (rc)
        snprintf(err, errlen, "%s", e.text[0] ? e.text : pf_seq_error(&s));
    *nlanes = aw.lanes.nlanes;
    sl_free(b);
    sl_free(en);
    sl_free(id);
    sl_free(par);
    sl_free(idx);
    pf_async_writer_destroy(&aw);
    pf_seq_destroy(&s);
    return rc;
}

/* ---- expectations -------------------------------------------------------- */

static void site_fields(jw *w, uint32_t si)
{
    const pf_site *s = &sites[si];
    jw_strn(w, s->name, s->name_len);
    jw_strn(w, s->category, s->category_len);
    jw_strn(w, s->file, s->file_len);
    jw_uint(w, s->line);
}

/* The exact events of span i and its subtree; returns the next sibling's index. */
static int walk(jw *w, const tthread *t, int i)
{
    const tspan *p = &t->sp[i];
    jw_arr_begin(w);
    jw_str(w, "B");
    jw_int(w, p->b);
    site_fields(w, p->site);
    jw_arr_end(w);
    int j = i + 1;
    while (j < t->n && t->sp[j].depth > p->depth)
        j = walk(w, t, j);
    jw_arr_begin(w);
    jw_str(w, "E");
    jw_int(w, p->e);
    jw_arr_end(w);
    return j;
}

static int write_expect(const opts *o, const aspan *sp, int n, uint32_t nlanes)
{
    dbuf b;
    dbuf_init(&b, (size_t)1 << 30);
    jw w;
    jw_init(&w, &b);
    jw_obj_begin(&w);
    jw_key(&w, "process");
    jw_obj_begin(&w);
    jw_key(&w, "pid");
    jw_int(&w, PID);
    jw_key(&w, "name");
    jw_str(&w, "streamlake-test ünïcode");
    jw_obj_end(&w);
    jw_key(&w, "threads");
    jw_arr_begin(&w);
    long total = n;
    for (int k = 0; k < o->threads; k++) {
        const tthread *t = &g_threads[k];
        total += t->n;
        jw_obj_begin(&w);
        jw_key(&w, "tid");
        jw_int(&w, t->tid);
        jw_key(&w, "name");
        jw_str(&w, t->name);
        jw_key(&w, "pid");
        jw_int(&w, PID);
        jw_key(&w, "slices");
        jw_int(&w, t->n);
        jw_key(&w, "events");
        jw_arr_begin(&w);
        for (int i = 0; i < t->n;)
            i = walk(&w, t, i);
        jw_arr_end(&w);
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    jw_key(&w, "async");
    jw_obj_begin(&w);
    jw_key(&w, "max_lanes");
    jw_uint(&w, nlanes);
    jw_key(&w, "slices");
    jw_arr_begin(&w);
    for (int i = 0; i < n; i++) {
        jw_arr_begin(&w);
        jw_int(&w, sp[i].b);
        jw_int(&w, sp[i].e);
        site_fields(&w, sp[i].site);
        jw_arr_end(&w);
    }
    jw_arr_end(&w);
    jw_obj_end(&w);
    jw_key(&w, "slices_total");
    jw_int(&w, total);
    jw_obj_end(&w);
    int rc = w.err;
    FILE *f = rc ? NULL : fopen(o->expect, "w");
    if (!f || fwrite(b.p, 1, b.len, f) != b.len)
        rc = SL_EIO;
    if (f && fclose(f) != 0)
        rc = SL_EIO;
    dbuf_free(&b);
    return rc;
}

static int parse_args(int argc, char **argv, opts *o)
{
    *o = (opts){.seed = 1, .mode = PF_TS_INCREMENTAL, .threads = 6, .spans = 1500,
                .async = 1500, .workers = 3};
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--out"))
            o->out = v;
        else if (!strcmp(k, "--expect"))
            o->expect = v;
        else if (!strcmp(k, "--seed"))
            o->seed = strtoull(v, NULL, 10);
        else if (!strcmp(k, "--mode"))
            o->mode = !strcmp(v, "abs") ? PF_TS_ABSOLUTE : PF_TS_INCREMENTAL;
        else if (!strcmp(k, "--threads"))
            o->threads = atoi(v);
        else if (!strcmp(k, "--spans"))
            o->spans = atoi(v);
        else if (!strcmp(k, "--async"))
            o->async = atoi(v);
        else if (!strcmp(k, "--workers"))
            o->workers = atoi(v);
        else if (!strcmp(k, "--chunk"))
            o->chunk = strtoull(v, NULL, 10);
        else if (!strcmp(k, "--intern-entries"))
            o->intern_entries = (uint32_t)strtoul(v, NULL, 10);
        else
            return -1;
    }
    return o->out && o->expect && o->threads > 0 && o->threads <= 64 && o->workers > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    opts o;
    if (parse_args(argc, argv, &o)) {
        fprintf(stderr, "usage: pf_testgen --out TRACE --expect JSON [--seed N] [--mode abs|incr]"
                        " [--threads N] [--spans N] [--async N] [--chunk B]"
                        " [--intern-entries N] [--workers N]\n");
        return 2;
    }
    g_opts = &o;
    uint64_t r = o.seed + 12345;
    make_sites(&r);
    g_threads = sl_calloc((size_t)o.threads, sizeof *g_threads);
    for (int i = 0; i < o.threads; i++) {
        g_threads[i].idx = i;
        gen_thread(&g_threads[i], o.seed, o.spans);
    }
    pthread_t th[16];
    int nw = o.workers < 16 ? o.workers : 16;
    for (int i = 0; i < nw; i++)
        pthread_create(&th[i], NULL, worker, NULL);
    aspan *sp = sl_calloc((size_t)o.async + 1, sizeof *sp);
    int n = gen_async(sp, o.async, o.seed);
    pf_mem_sink pms;
    uint32_t nlanes = 0;
    char err[300] = "";
    int rc = encode_process(&o, sp, n, &pms, &nlanes, err, sizeof err);
    for (int i = 0; i < nw; i++)
        pthread_join(th[i], NULL);
    if (rc) {
        fprintf(stderr, "pf_testgen: process sequence: %s\n", err);
        return 1;
    }
    pf_file_sink fs;
    errmsg e;
    if (pf_file_sink_open(&fs, o.out, &e)) {
        fprintf(stderr, "pf_testgen: %s\n", e.text);
        return 1;
    }
    pf_sink out = pf_file_sink_get(&fs);
    rc = out.write(out.ctx, pms.buf.p, pms.buf.len);
    for (int i = 0; i < o.threads && !rc; i++) {
        if (g_threads[i].rc) {
            fprintf(stderr, "pf_testgen: thread %d: %s\n", i, g_threads[i].err);
            return 1;
        }
        rc = out.write(out.ctx, g_threads[i].ms.buf.p, g_threads[i].ms.buf.len);
    }
    if (rc || pf_file_sink_close(&fs) || write_expect(&o, sp, n, nlanes)) {
        fprintf(stderr, "pf_testgen: cannot write the output files\n");
        return 1;
    }
    printf("{\"bytes\": %llu, \"lanes\": %u}\n", (unsigned long long)fs.bytes, nlanes);
    for (int i = 0; i < o.threads; i++) {
        sl_free(g_threads[i].sp);
        pf_mem_sink_free(&g_threads[i].ms);
    }
    sl_free(g_threads);
    sl_free(sp);
    pf_mem_sink_free(&pms);
    return 0;
}
