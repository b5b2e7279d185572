/*
 * cmd_run.c - `streamlake run FILE.sql`: continuous SQL without a server.
 *
 * Runs the statements of a file: tables with a connector (sources, sinks),
 * continuous jobs (INSERT INTO sink SELECT ..., CREATE MATERIALIZED VIEW ...)
 * until their bounded sources end, then any other statement (a SELECT over a
 * view prints its rows in --format).  docs/streaming.md is the reference.
 */
#include "cli/cli.h"
#include "cli/local.h"

#include "stream/stream.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Ctrl-C ends the sources that follow a file (follow = true) as if they had
 * ended; a second one kills the run. */
static void on_sigint(int sig)
{
    (void)sig;
    stream_request_stop();
    signal(SIGINT, SIG_DFL);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: streamlake run FILE.sql [--input-dir DIR] [--output-dir DIR]\n"
            "                      [--workers N] [--stats FILE] [--format csv|json|table]\n"
            "                      [--checkpoint-dir DIR [--checkpoint-interval SECONDS]]\n"
            "                      [--data DIR]\n\n"
            "Runs a file of continuous SQL statements without a server: tables with a\n"
            "connector (CREATE TABLE t (...) WITH (connector = 'file', path = 'x.csv',\n"
            "format = 'csv', event_time = 'ts', max_delay = '2 seconds')), jobs\n"
            "(INSERT INTO sink SELECT ..., CREATE MATERIALIZED VIEW v AS SELECT ...) with\n"
            "tumble(src, ts, size), hop(src, ts, slide, size) and session(src, ts, gap)\n"
            "windows, run until their bounded files end (a source with follow = true\n"
            "tails its file until Ctrl-C); a SELECT after them prints its rows.  Other\n"
            "connectors: 'kafka' (topic, bootstrap_servers; bounded = true ends at the\n"
            "high watermarks, else Ctrl-C ends it), 'nexmark'.\n\n"
            "  FILE.sql         the statements ('-': standard input)\n"
            "  --input-dir DIR  relative source paths resolve here (default: .)\n"
            "  --output-dir DIR relative sink paths resolve here (default: .)\n"
            "  --workers N      partitioned workers (default: the number of cores); the\n"
            "                   results are the same for any N\n"
            "  --stats FILE     write rows read, late and bad per source and rows written per\n"
            "                   sink as JSON when the run ends\n"
            "  --format F       how SELECT results print: table (default), csv, json\n"
            "  --checkpoint-dir DIR\n"
            "                   take checkpoints of each job in DIR (an object store\n"
            "                   directory) and, when DIR holds one of the same statement,\n"
            "                   resume from it: after a crash, running the same file again\n"
            "                   gives the output of an uninterrupted run\n"
            "  --checkpoint-interval SECONDS\n"
            "                   between two checkpoints (default 2; fractions allowed)\n"
            "  --data DIR       a data directory (as streamlake serve's; no server may be\n"
            "                   using it): its user tables, which table sinks\n"
            "                   (connector = 'table') append to and the statements may read\n\n"
            "docs/streaming.md is the reference: the language, the semantics, connectors.\n");
}

static char *read_all(const char *path)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (size_t k; buf && (k = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
        n += k;
        if (n + 1 == cap) {
            char *nb = cap < ((size_t)64 << 20) ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (f != stdin)
        fclose(f);
    if (buf)
        buf[n] = 0;
    return buf;
}

static int write_stdout(void *arg, const void *p, size_t n)
{
    (void)arg;
    return fwrite(p, 1, n, stdout) == n ? 0 : -1;
}

static int write_stderr(void *arg, const void *p, size_t n)
{
    (void)arg;
    return fwrite(p, 1, n, stderr) == n ? 0 : -1;
}

static int check_dir(const char *opt, const char *dir)
{
    struct stat st;
    if (dir && (stat(dir, &st) || !S_ISDIR(st.st_mode))) {
        fprintf(stderr, "streamlake run: %s %s: not a directory\n", opt, dir);
        return -1;
    }
    return 0;
}

int cmd_run(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *file = NULL, *workers = NULL, *format = "table", *interval = NULL;
    stream_opts o = {.workers = 1};
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r;
        if ((r = cli_opt(argc, argv, &i, "--input-dir", &o.input_dir)) ||
            (r = cli_opt(argc, argv, &i, "--output-dir", &o.output_dir)) ||
            (r = cli_opt(argc, argv, &i, "--workers", &workers)) ||
            (r = cli_opt(argc, argv, &i, "--stats", &o.stats_path)) ||
            (r = cli_opt(argc, argv, &i, "--checkpoint-dir", &o.checkpoint_dir)) ||
            (r = cli_opt(argc, argv, &i, "--checkpoint-interval", &interval)) ||
            (r = cli_opt(argc, argv, &i, "--data", &o.data_dir)) ||
            (r = cli_opt(argc, argv, &i, "--format", &format))) {
            if (r < 0)
                return 2;
            continue;
        }
        v = argv[i];
        if (v[0] == '-' && v[1]) {
            fprintf(stderr, "streamlake run: unknown option %s\n", v);
            usage(stderr);
            return 2;
        }
        if (file) {
            fprintf(stderr, "streamlake run: one FILE.sql only\n");
            return 2;
        }
        file = v;
    }
    if (!file) {
        usage(stderr);
        return 2;
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    uint64_t nw = ncpu < 1 ? 1 : ncpu > 64 ? 64 : (uint64_t)ncpu;
    if (workers && (cli_parse_u64("--workers", workers, &nw) || nw == 0 || nw > 1024)) {
        fprintf(stderr, "streamlake run: --workers must be between 1 and 1024\n");
        return 2;
    }
    o.workers = (int)nw;
    if (interval) {
        char *end;
        double sec = strtod(interval, &end);
        if (end == interval || *end || !(sec >= 0.001 && sec <= 86400)) {
            fprintf(stderr, "streamlake run: --checkpoint-interval must be between 0.001 and "
                            "86400 seconds\n");
            return 2;
        }
        o.checkpoint_interval_ms = (int64_t)(sec * 1000 + 0.5);
    }
    int fk = sql_fmt_parse(format);
    if (fk < 0) {
        fprintf(stderr, "streamlake run: --format must be table, csv or json\n");
        return 2;
    }
    if (check_dir("--input-dir", o.input_dir) || check_dir("--output-dir", o.output_dir))
        return 2;
    char *text = read_all(file);
    if (!text) {
        fprintf(stderr, "streamlake run: cannot read %s\n", file);
        return 1;
    }
    sql_fmt *out, *errf;
    if (sql_fmt_new((sql_fmt_kind)fk, false, write_stdout, NULL, &out) ||
        sql_fmt_new(SQL_FMT_TABLE, false, write_stderr, NULL, &errf)) {
        free(text);
        return 1;
    }
    cli_local loc = {0};
    cli_store_opts so = {.data = o.data_dir};
    if (o.data_dir && cli_local_open("run", &so, &loc)) {
        sql_fmt_free(out);
        sql_fmt_free(errf);
        free(text);
        return 1;
    }
    o.lake = loc.l;
    o.meta = loc.m;
    o.os = loc.os;
    sql_err e;
    char *failed = NULL;
    signal(SIGINT, on_sigint);
    int rc = stream_run_script(&o, text, out, &e, &failed);
    if (o.data_dir)
        cli_local_close(&loc);
    fflush(stdout);
    if (rc) {
        fprintf(stderr, "streamlake run: %s: ", file);
        sql_fmt_error(errf, &e, failed ? failed : "");
    }
    free(failed);
    sql_fmt_free(out);
    sql_fmt_free(errf);
    free(text);
    return rc ? 1 : 0;
}
