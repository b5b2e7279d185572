/*
 * cmd_trace.c - `streamlake trace PROCESS_ID -o FILE`: a Perfetto trace.
 *
 * With --server the server generates and streams the progress frame stream
 * (POST /api/perfetto/{id}/generate); this command decodes it as it arrives:
 * DATA frames go to the file, PROGRESS frames to the progress bar, and the
 * final SUMMARY or ERROR decides the outcome.  With --data DIR (or --meta
 * and --objects, the stores servers share) the generator runs here over the
 * lake it opens (cli/local.h).  Either way the file is written
 * under a temporary name and renamed when complete, so FILE is never a
 * partial trace.
 *
 * stderr shows a progress bar when it is a terminal (threads ready/total,
 * spans written, MB), failures always, and one summary line at the end.
 * Exit status: 0 done, 1 failed (no file), 3 written but some threads could
 * not be read (reported above the summary), 130 interrupted.
 *
 * Ctrl-C (SIGINT) and SIGTERM: the signals are blocked before any thread
 * starts and one watcher thread waits for them.  Locally it cancels the
 * generator, whose workers stop between batches; the command then removes
 * its temporary file, closes the lake and exits 130.  With --server nothing
 * here holds work worth stopping cleanly: the watcher removes the temporary
 * file and exits, and the server sees the connection close and cancels its
 * workers.  A second signal exits at once.
 */
#include "cli/cli.h"
#include "cli/local.h"

#include "base/arena.h"
#include "base/clock.h"
#include "base/json.h"
#include "net/httpc.h"
#include "perfetto/pf_frames.h"
#include "perfetto/pf_lake.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct tctx {
    FILE *out;
    const char *path;
    char tmp[4096];
    int tty;
    uint32_t threads, ready;
    uint64_t spans, bytes;
    int failures;
    pf_frame_reader fr;
    dbuf pending;          /* stream bytes not yet decoded (server mode) */
    dbuf summary;          /* the summary JSON */
    int final;             /* 3 summary, 4 error */
    char error[512];
} tctx;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: streamlake trace PROCESS_ID -o FILE [--kinds thread|async|both]\n"
            "                        [--begin T] [--end T] [--jobs N]\n"
            "                        [--server URL | " CLI_STORE_SYNOPSIS "]\n\n"
            "Writes the Perfetto trace of a process: one track per thread with its spans,\n"
            "and async spans on as many lanes as their concurrency needs.  Open it at\n"
            "ui.perfetto.dev (Open trace file).\n\n"
            "  -o FILE            where to write the trace (.pftrace)\n"
            "  --kinds K          thread, async or both (default both)\n"
            "  --begin T, --end T only spans overlapping [T1, T2], cut to it: RFC 3339 or\n"
            "                     integer ns since the epoch\n"
            "  --server URL       ask this server (default $STREAMLAKE_SERVER or\n"
            "                     http://127.0.0.1:8080)\n"
            "  --jobs N           threads read and encoded in parallel (default: cores)\n"
            "\nOr the CLI opens the lake itself:\n");
    cli_store_usage(f, 21);
    fprintf(f, "\n"
            "Exit status: 0 written, 1 failed (nothing written), 3 written but some\n"
            "threads could not be read (named on stderr), 130 interrupted (Ctrl-C).\n");
}

/* ------------------------------------------------------------ interrupts */

static struct {
    pthread_mutex_t mu;
    sigset_t set;
    pthread_t thread;
    int running;
    pf_gen *g;            /* the local generator while it runs */
    const char *tmp;      /* the temporary file */
    volatile sig_atomic_t hits;
} g_intr = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void *intr_main(void *arg)
{
    (void)arg;
    for (;;) {
        int sig;
        if (sigwait(&g_intr.set, &sig))
            continue;
        pthread_mutex_lock(&g_intr.mu);
        g_intr.hits++;
        if (g_intr.g && g_intr.hits == 1) {
            pf_gen_cancel(g_intr.g); /* the main thread cleans up and exits 130 */
            pthread_mutex_unlock(&g_intr.mu);
            continue;
        }
        if (g_intr.tmp)
            unlink(g_intr.tmp);
        pthread_mutex_unlock(&g_intr.mu);
        static const char msg[] = "\nstreamlake trace: interrupted; nothing written\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
        _exit(130);
    }
    return NULL;
}

/* Blocks SIGINT and SIGTERM in every thread to come and starts the watcher. */
static void intr_start(const char *tmp)
{
    sigemptyset(&g_intr.set);
    sigaddset(&g_intr.set, SIGINT);
    sigaddset(&g_intr.set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &g_intr.set, NULL);
    g_intr.tmp = tmp;
    g_intr.running = pthread_create(&g_intr.thread, NULL, intr_main, NULL) == 0;
}

static void intr_set_gen(pf_gen *g)
{
    pthread_mutex_lock(&g_intr.mu);
    g_intr.g = g;
    pthread_mutex_unlock(&g_intr.mu);
}

static int intr_stop(void)
{
    pthread_mutex_lock(&g_intr.mu);
    g_intr.tmp = NULL;
    int hit = g_intr.hits > 0;
    pthread_mutex_unlock(&g_intr.mu);
    if (g_intr.running) {
        pthread_cancel(g_intr.thread); /* sigwait is a cancellation point */
        pthread_join(g_intr.thread, NULL);
        g_intr.running = 0;
    }
    return hit;
}

/* ------------------------------------------------------------ progress display */

static void bar(tctx *t, int final)
{
    if (!t->tty)
        return;
    fprintf(stderr, "\r\033[Kthreads %u/%u  %llu spans  %.1f MB%s", t->ready, t->threads,
            (unsigned long long)t->spans, (double)t->bytes / 1e6, final ? "\n" : "");
    fflush(stderr);
}

static void show_progress(tctx *t, const pf_progress *p)
{
    switch (p->kind) {
    case PF_PROG_START:
        t->threads = p->count;
        break;
    case PF_PROG_THREAD:
        t->ready = p->index;
        t->threads = p->count;
        break;
    case PF_PROG_BYTES:
        t->spans = p->spans;
        t->bytes = p->bytes;
        break;
    case PF_PROG_FAILURE:
        t->failures++;
        if (t->tty)
            fputs("\r\033[K", stderr);
        fprintf(stderr, "streamlake trace: %s %u (%s) could not be read: %s\n",
                p->index ? "thread" : "the async spans of process", p->index,
                p->name ? p->name : "", p->message ? p->message : sl_strerror(p->code));
        break;
    }
    bar(t, 0);
}

static void local_progress(void *ctx, const pf_progress *p)
{
    show_progress(ctx, p);
}

/* A PROGRESS frame's JSON, back into a pf_progress. */
static void frame_progress(tctx *t, const uint8_t *p, size_t n)
{
    arena a;
    arena_init(&a, 4096, 1 << 20);
    json_val *v;
    if (json_parse(&a, (const char *)p, n, &v, NULL) == 0) {
        const json_val *k = json_get(v, "kind");
        pf_progress pr = {0};
        const char *kind = k && k->type == JSON_STR ? k->str : "";
        pr.kind = !strcmp(kind, "start") ? PF_PROG_START : !strcmp(kind, "thread") ? PF_PROG_THREAD
                  : !strcmp(kind, "failure") ? PF_PROG_FAILURE : PF_PROG_BYTES;
        const json_val *f;
        if ((f = json_get(v, "index")) && f->type == JSON_NUM)
            pr.index = (uint32_t)f->num;
        if ((f = json_get(v, "count")) && f->type == JSON_NUM)
            pr.count = (uint32_t)f->num;
        if ((f = json_get(v, "spans")) && f->type == JSON_NUM)
            pr.spans = (uint64_t)f->num;
        if ((f = json_get(v, "bytes")) && f->type == JSON_NUM)
            pr.bytes = (uint64_t)f->num;
        if ((f = json_get(v, "name")) && f->type == JSON_STR)
            pr.name = f->str;
        if ((f = json_get(v, "message")) && f->type == JSON_STR)
            pr.message = f->str;
        show_progress(t, &pr);
    }
    arena_destroy(&a);
}

/* One line from the summary JSON (the same JSON in both modes). */
static void print_summary(tctx *t)
{
    arena a;
    arena_init(&a, 4096, 1 << 20);
    json_val *v;
    if (json_parse(&a, (const char *)t->summary.p, t->summary.len, &v, NULL) == 0) {
        double n[12] = {0};
        const char *k[12] = {"thread_spans", "async_spans", "async_lanes", "threads", "bytes",
                             "bytes_per_slice", "total_ns", "first_byte_ns", "jit_ns",
                             "read_ns_max", "read_ns_median", "cache_hit_rate"};
        for (int i = 0; i < 12; i++) {
            const json_val *f = json_get(v, k[i]);
            n[i] = f && f->type == JSON_NUM ? f->num : 0;
        }
        fprintf(stderr,
                "trace: %.0f thread spans + %.0f async spans (%.0f lanes), %.0f threads, "
                "%.1f MB (%.1f bytes/slice) in %.2f s (first byte %.3f s); JIT %.2f s summed over workers; "
                "per-thread read max %.3f s, median %.3f s; cache hits %.0f%%\n",
                n[0], n[1], n[2], n[3], n[4] / 1e6, n[5], n[6] / 1e9, n[7] / 1e9, n[8] / 1e9,
                n[9] / 1e9, n[10] / 1e9, n[11] * 100);
    }
    arena_destroy(&a);
}

/* ------------------------------------------------------------ output file */

static int open_out(tctx *t, const char *path)
{
    t->path = path;
    snprintf(t->tmp, sizeof t->tmp, "%s.tmp-%d", path, (int)getpid());
    t->out = fopen(t->tmp, "wb");
    if (!t->out)
        fprintf(stderr, "streamlake trace: cannot write %s: %s\n", t->tmp, strerror(errno));
    return t->out ? 0 : 1;
}

static int finish_out(tctx *t, int ok)
{
    int bad = fflush(t->out) != 0 || fsync(fileno(t->out)) != 0;
    bad |= fclose(t->out) != 0;
    t->out = NULL;
    if (ok && !bad && rename(t->tmp, t->path) == 0)
        return 0;
    if (ok)
        fprintf(stderr, "streamlake trace: cannot write %s: %s\n", t->path, strerror(errno));
    unlink(t->tmp);
    return 1;
}

static int write_file(void *ctx, const uint8_t *p, size_t n)
{
    tctx *t = ctx;
    return fwrite(p, 1, n, t->out) == n ? 0 : SL_EIO;
}

/* ------------------------------------------------------------ server mode */

/* Feeds stream bytes through the frame reader; frames go to file, bar, summary. */
static int on_stream(void *arg, const void *data, size_t n)
{
    tctx *t = arg;
    if (dbuf_append(&t->pending, data, n))
        return -1;
    size_t off = 0;
    for (;;) {
        pf_frame f;
        size_t used = 0;
        errmsg e;
        errmsg_clear(&e);
        int rc = pf_frame_next(&t->fr, t->pending.p + off, t->pending.len - off, &used, &f, &e);
        if (rc < 0) {
            snprintf(t->error, sizeof t->error, "bad frame stream: %s", errmsg_str(&e));
            return -1;
        }
        if (rc == 0)
            break;
        off += used;
        if (f.type == PF_FRAME_DATA && write_file(t, f.payload, f.len))
            return -1;
        if (f.type == PF_FRAME_PROGRESS)
            frame_progress(t, f.payload, f.len);
        if (f.type == PF_FRAME_SUMMARY || f.type == PF_FRAME_ERROR) {
            t->final = f.type;
            if (f.type == PF_FRAME_SUMMARY)
                dbuf_append(&t->summary, f.payload, f.len);
            else
                snprintf(t->error, sizeof t->error, "%.*s", (int)f.len, (const char *)f.payload);
        }
    }
    memmove(t->pending.p, t->pending.p + off, t->pending.len - off);
    t->pending.len -= off;
    return 0;
}

static int via_server(tctx *t, const char *server, const char *pid, unsigned kinds,
                      const char *begin, const char *end, unsigned jobs)
{
    char url[1024];
    snprintf(url, sizeof url, "%s/api/perfetto/%s/generate", server, pid);
    dbuf b; /* the request body */
    dbuf_init(&b, 1024);
    jw w;
    jw_init(&w, &b);
    jw_obj_begin(&w);
    jw_key(&w, "time_range");
    jw_obj_begin(&w);
    jw_key(&w, "begin");
    jw_str(&w, begin);
    jw_key(&w, "end");
    jw_str(&w, end);
    jw_obj_end(&w);
    jw_key(&w, "include_thread_spans");
    jw_bool(&w, (kinds & PF_KIND_THREAD) != 0);
    jw_key(&w, "include_async_spans");
    jw_bool(&w, (kinds & PF_KIND_ASYNC) != 0);
    if (jobs) {
        jw_key(&w, "jobs");
        jw_uint(&w, jobs);
    }
    jw_obj_end(&w);
    httpc *c;
    errmsg e;
    errmsg_clear(&e);
    dbuf err;
    dbuf_init(&err, 64 * 1024);
    int status = 0;
    pf_frame_reader_init(&t->fr);
    int rc = httpc_new(24L * 3600 * 1000, &c, &e);
    if (!rc) {
        rc = httpc_stream(c, url, b.p, b.len, 1, "application/json", &status, &err, on_stream, t,
                          &e);
        httpc_free(c);
    }
    dbuf_free(&b);
    if (t->tty)
        bar(t, 1);
    if (rc && !t->error[0])
        snprintf(t->error, sizeof t->error, "%s", errmsg_str(&e));
    else if (!rc && status != 200)
        snprintf(t->error, sizeof t->error, "HTTP %d: %.*s", status, (int)err.len,
                 err.p ? (const char *)err.p : "");
    else if (!rc && !t->final)
        snprintf(t->error, sizeof t->error, "the stream ended before its summary");
    dbuf_free(&err);
    return t->final == PF_FRAME_SUMMARY && !t->error[0] ? 0 : 1;
}

/* ------------------------------------------------------------ local mode */

static int via_data(tctx *t, const cli_store_opts *so, const char *pid, unsigned kinds, const char *begin,
                    const char *end, unsigned jobs)
{
    sl_uuid id;
    if (uuid_parse(pid, &id)) {
        snprintf(t->error, sizeof t->error, "'%s' is not a process id", pid);
        return 1;
    }
    pf_gen_cfg cfg;
    pf_gen_cfg_init(&cfg);
    cfg.kinds = kinds;
    cfg.jobs = jobs;
    cfg.progress = local_progress;
    cfg.progress_ctx = t;
    if ((begin && clock_parse_time(begin, &cfg.begin_ns)) ||
        (end && clock_parse_time(end, &cfg.end_ns))) {
        snprintf(t->error, sizeof t->error, "--begin and --end take RFC 3339 or integer ns");
        return 1;
    }
    cfg.has_begin = begin != NULL;
    cfg.has_end = end != NULL;
    cli_local loc;
    if (cli_local_open("trace", so, &loc))
        return 1;
    pf_lake_source src;
    pf_lake_source_init(&src, loc.l, &id);
    pf_gen *g = NULL;
    errmsg e;
    errmsg_clear(&e);
    int rc = pf_gen_open(&g, &cfg, pf_lake_source_get(&src), &e);
    if (!rc) {
        intr_set_gen(g);
        rc = pf_gen_run(g, (pf_sink){write_file, t});
        intr_set_gen(NULL);
    }
    if (t->tty)
        bar(t, 1);
    if (rc)
        snprintf(t->error, sizeof t->error, "%s", g ? pf_gen_error(g) : errmsg_str(&e));
    else
        pf_gen_summary_json(pf_gen_get_summary(g), &t->summary);
    pf_gen_close(g);
    pf_lake_source_free(&src);
    cli_local_close(&loc);
    return rc ? 1 : 0;
}

int cmd_trace(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *pid = NULL, *out = NULL, *kinds_s = "both", *begin = NULL, *end = NULL,
               *server = NULL, *jobs_s = NULL;
    cli_store_opts so = {0};
    for (int i = 1; i < argc; i++) {
        int r;
        if ((r = cli_opt(argc, argv, &i, "-o", &out)) ||
            (r = cli_opt(argc, argv, &i, "--output", &out)) ||
            (r = cli_opt(argc, argv, &i, "--kinds", &kinds_s)) ||
            (r = cli_opt(argc, argv, &i, "--begin", &begin)) ||
            (r = cli_opt(argc, argv, &i, "--end", &end)) ||
            (r = cli_opt(argc, argv, &i, "--server", &server)) ||
            (r = cli_store_opt(argc, argv, &i, &so)) ||
            (r = cli_opt(argc, argv, &i, "--jobs", &jobs_s))) {
            if (r < 0)
                return 2;
        } else if (argv[i][0] != '-' && !pid) {
            pid = argv[i];
        } else {
            fprintf(stderr, "streamlake trace: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    unsigned kinds;
    uint64_t jobs = 0;
    if (!pid || !out) {
        usage(stderr);
        return 2;
    }
    if (pf_gen_kinds_parse(kinds_s, &kinds) ||
        (jobs_s && (cli_parse_u64("--jobs", jobs_s, &jobs) || jobs < 1 || jobs > 64))) {
        fprintf(stderr, "streamlake trace: --kinds is thread, async or both; --jobs 1..64\n");
        return 2;
    }
    int direct;
    if (cli_store_pick("trace", server, &so, &direct))
        return 2;
    int64_t ns;
    if (cli_parse_time("--begin", begin, &ns) || cli_parse_time("--end", end, &ns))
        return 2;
    tctx t;
    memset(&t, 0, sizeof t);
    t.tty = isatty(2);
    dbuf_init(&t.pending, PF_FRAME_MAX_PAYLOAD * 2);
    dbuf_init(&t.summary, 1 << 16);
    if (open_out(&t, out))
        return 1;
    intr_start(t.tmp);
    int rc = direct ? via_data(&t, &so, pid, kinds, begin, end, (unsigned)jobs)
                    : via_server(&t, cli_default_server(server), pid, kinds, begin, end,
                                 (unsigned)jobs);
    int interrupted = intr_stop();
    if (finish_out(&t, rc == 0 && !interrupted))
        rc = 1;
    if (interrupted) {
        fprintf(stderr, "streamlake trace: interrupted; nothing written\n");
        rc = 130;
    } else if (rc) {
        fprintf(stderr, "streamlake trace: %s\n", t.error[0] ? t.error : "failed");
    } else {
        print_summary(&t);
        fprintf(stderr, "wrote %s: open it at https://ui.perfetto.dev (Open trace file)\n", out);
    }
    dbuf_free(&t.pending);
    dbuf_free(&t.summary);
    return rc == 130 ? 130 : rc ? 1 : t.failures ? 3 : 0;
}
