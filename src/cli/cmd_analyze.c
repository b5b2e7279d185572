/*
 * cmd_analyze.c - `streamlake analyze PROCESS_ID`: where a process's time went.
 *
 * The report is computed once (src/analyze: by the engine opened on --data
 * DIR, or by a server's GET /api/analyze/{id}) as JSON, then rendered here as
 * Markdown (the default), HTML or the JSON itself, to -o FILE or standard
 * output.  Next to FILE (or in --flame-dir) go the flame graph files:
 * BASE.folded, BASE.flame.json, BASE.flame.html, BASE.flame.svg, where BASE
 * is FILE without its .md/.html/.json extension (or DIR/PROCESS_ID).  Every
 * file is written under a temporary name and renamed when complete.
 * docs/analyze.md is the reference.
 */
#include "cli/cli.h"
#include "cli/local.h"

#include "analyze/analyze.h"
#include "base/arena.h"
#include "base/clock.h"
#include "base/uuid.h"
#include "net/httpc.h"
#include "sql/sql.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REPORT_MAX_BYTES ((size_t)1 << 31)

static void usage(FILE *f)
{
    fprintf(f,
            "usage: streamlake analyze PROCESS_ID [--begin T] [--end T]\n"
            "                          [--kinds async|thread|both] [--format md|json|html]\n"
            "                          [-o FILE] [--flame-dir DIR] [--no-flame] [--top N]\n"
            "                          [--max-spans N]\n"
            "                          [--server URL | " CLI_STORE_SYNOPSIS "]\n\n"
            "Writes a report on where a process's time went: dataset, durations (quantiles,\n"
            "histogram), the longest spans, figures per name and per target (with self\n"
            "time), concurrency, hierarchy, and sentences only where a stated rule holds.\n\n"
            "  --begin T, --end T  only spans overlapping [T1, T2): RFC 3339 or integer ns\n"
            "  --kinds K        thread, async or both (default both)\n"
            "  --format F       md (default), json or html\n"
            "  -o FILE          write the report to FILE (default: standard output); the\n"
            "                   flame graph files go next to it: BASE.folded, BASE.flame.json,\n"
            "                   BASE.flame.html, BASE.flame.svg (BASE: FILE without .md,\n"
            "                   .html or .json)\n"
            "  --flame-dir DIR  write the flame graph files as DIR/PROCESS_ID.* instead\n"
            "  --no-flame       write no flame graph files\n"
            "  --top N          longest spans listed (default 20, at most 10000)\n"
            "  --max-spans N    refuse processes with more spans (default 67108864; about\n"
            "                   64 bytes of memory a span)\n"
            "  --server URL     ask this server (default $STREAMLAKE_SERVER or\n"
            "                   http://127.0.0.1:8080)\n"
            "\nOr the CLI opens the lake itself:\n");
    cli_store_usage(f, 19);
    fprintf(f, "\ndocs/analyze.md defines every figure and rule.\n");
}

typedef struct aopts {
    const char *pid, *begin, *end, *kinds, *format, *out, *flame_dir, *server;
    cli_store_opts so;
    int direct; /* the store options were given: the CLI opens the lake */
    int no_flame;
    analyze_opts ao;
    analyze_timing timing;
} aopts;

/* Strict parsing, as the other commands: 0, or 2 after printing why. */
static int parse(int argc, char **argv, aopts *a)
{
    const char *top = NULL, *max = NULL;
    a->kinds = "both";
    a->format = "md";
    for (int i = 1; i < argc; i++) {
        int r;
        if ((r = cli_opt(argc, argv, &i, "-o", &a->out)) ||
            (r = cli_opt(argc, argv, &i, "--output", &a->out)) ||
            (r = cli_opt(argc, argv, &i, "--begin", &a->begin)) ||
            (r = cli_opt(argc, argv, &i, "--end", &a->end)) ||
            (r = cli_opt(argc, argv, &i, "--kinds", &a->kinds)) ||
            (r = cli_opt(argc, argv, &i, "--format", &a->format)) ||
            (r = cli_opt(argc, argv, &i, "--flame-dir", &a->flame_dir)) ||
            (r = cli_opt(argc, argv, &i, "--top", &top)) ||
            (r = cli_opt(argc, argv, &i, "--max-spans", &max)) ||
            (r = cli_opt(argc, argv, &i, "--server", &a->server)) ||
            (r = cli_store_opt(argc, argv, &i, &a->so))) {
            if (r < 0)
                return 2;
        } else if (!strcmp(argv[i], "--no-flame")) {
            a->no_flame = 1;
        } else if (argv[i][0] != '-' && !a->pid) {
            a->pid = argv[i];
        } else {
            fprintf(stderr, "streamlake analyze: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    analyze_opts_init(&a->ao);
    sl_uuid id;
    uint64_t v;
    if (!a->pid) {
        fprintf(stderr, "streamlake analyze: a PROCESS_ID is required (streamlake processes "
                        "lists them)\n");
        return 2;
    }
    if (uuid_parse(a->pid, &id)) {
        fprintf(stderr, "streamlake analyze: '%s' is not a process id (a uuid)\n", a->pid);
        return 2;
    }
    if (analyze_kinds_parse(a->kinds, &a->ao.kinds)) {
        fprintf(stderr, "streamlake analyze: --kinds is thread, async or both, not '%s'\n",
                a->kinds);
        return 2;
    }
    if (strcmp(a->format, "md") && strcmp(a->format, "json") && strcmp(a->format, "html")) {
        fprintf(stderr, "streamlake analyze: --format is md, json or html, not '%s'\n",
                a->format);
        return 2;
    }
    if (top && (cli_parse_u64("--top", top, &v) || v < 1 || v > ANALYZE_MAX_TOP)) {
        fprintf(stderr, "streamlake analyze: --top is 1 .. %d\n", ANALYZE_MAX_TOP);
        return 2;
    }
    a->ao.top_n = top ? (int)v : a->ao.top_n;
    if (max && (cli_parse_u64("--max-spans", max, &v) || v < 1 || v >= INT32_MAX)) {
        fprintf(stderr, "streamlake analyze: --max-spans is 1 .. %d\n", INT32_MAX - 1);
        return 2;
    }
    a->ao.max_spans = max ? (int64_t)v : a->ao.max_spans;
    if (cli_parse_time("--begin", a->begin, &a->ao.begin_ns) ||
        cli_parse_time("--end", a->end, &a->ao.end_ns))
        return 2;
    if (a->ao.begin_ns >= a->ao.end_ns) {
        fprintf(stderr, "streamlake analyze: --begin must come before --end\n");
        return 2;
    }
    if (cli_store_pick("analyze", a->server, &a->so, &a->direct))
        return 2;
    if (a->no_flame && a->flame_dir) {
        fprintf(stderr, "streamlake analyze: --no-flame and --flame-dir contradict\n");
        return 2;
    }
    a->ao.process_id = a->pid;
    return 0;
}

/* ------------------------------------------------------------ getting the JSON */

static int local_report(aopts *a, dbuf *json)
{
    cli_local loc;
    if (cli_local_open("analyze", &a->so, &loc))
        return 1;
    sql_engine_opts eo = {0};
    eo.data_dir = a->so.data;
    sql_engine *eng = NULL;
    sql_session *s = NULL;
    errmsg e;
    errmsg_clear(&e);
    int rc = sql_engine_open(loc.l, loc.m, loc.os, &eo, &eng, &e);
    if (!rc && sql_session_new(eng, &s))
        rc = errmsg_set(&e, SL_ENOMEM, "out of memory");
    a->ao.timing = &a->timing;
    if (!rc)
        rc = analyze_run(s, &a->ao, json, &e);
    if (rc)
        fprintf(stderr, "streamlake analyze: %s\n", errmsg_str(&e));
    sql_session_free(s);
    sql_engine_close(eng);
    cli_local_close(&loc);
    return rc ? 1 : 0;
}

static void add_param(char *url, size_t n, const char *key, const char *value)
{
    char esc[512];
    if (!value)
        return;
    cli_url_escape(value, esc, sizeof esc);
    size_t l = strlen(url);
    snprintf(url + l, n - l, "%s%s=%s", strchr(url, '?') ? "&" : "?", key, esc);
}

static int remote_report(const aopts *a, dbuf *json)
{
    char url[4096], num[32];
    snprintf(url, sizeof url, "%s/api/analyze/%s", cli_default_server(a->server), a->pid);
    add_param(url, sizeof url, "begin", a->begin);
    add_param(url, sizeof url, "end", a->end);
    add_param(url, sizeof url, "kinds", a->kinds);
    snprintf(num, sizeof num, "%d", a->ao.top_n);
    add_param(url, sizeof url, "top", num);
    snprintf(num, sizeof num, "%lld", (long long)a->ao.max_spans);
    add_param(url, sizeof url, "max_spans", num);
    httpc *c;
    errmsg e;
    errmsg_clear(&e);
    int status = 0;
    int rc = httpc_new(24L * 3600 * 1000, &c, &e);
    if (!rc) {
        rc = httpc_get(c, url, &status, json, &e);
        httpc_free(c);
    }
    if (rc) {
        fprintf(stderr, "streamlake analyze: %s\n", errmsg_str(&e));
        return 1;
    }
    if (status != 200) {
        fprintf(stderr, "streamlake analyze: HTTP %d: %.*s", status, (int)json->len,
                json->p ? (const char *)json->p : "");
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------ writing files */

static int write_file(const char *path, const dbuf *b)
{
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp-%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    int bad = !f;
    if (f) {
        bad = b->len && fwrite(b->p, 1, b->len, f) != b->len;
        bad |= fclose(f) != 0;
    }
    if (!bad && rename(tmp, path) == 0)
        return 0;
    fprintf(stderr, "streamlake analyze: cannot write %s: %s\n", path, strerror(errno));
    unlink(tmp);
    return 1;
}

/* BASE of the flame files, or "" when none are written. */
static void flame_base(const aopts *a, char *base, size_t n)
{
    base[0] = 0;
    if (a->no_flame)
        return;
    if (a->flame_dir) {
        snprintf(base, n, "%s/%s", a->flame_dir, a->pid);
        return;
    }
    if (!a->out)
        return;
    snprintf(base, n, "%s", a->out);
    char *dot = strrchr(base, '.'), *slash = strrchr(base, '/');
    if (dot && (!slash || dot > slash) &&
        (!strcmp(dot, ".md") || !strcmp(dot, ".html") || !strcmp(dot, ".json")))
        *dot = 0;
}

/* The file name part of path (links in the report are relative to it). */
static const char *file_part(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int write_flames(const json_val *report, const char *base, const char *title)
{
    an_flame *fl;
    errmsg e;
    errmsg_clear(&e);
    if (analyze_flame_build(report, &fl, &e)) {
        fprintf(stderr, "streamlake analyze: flame graph: %s\n", errmsg_str(&e));
        return 1;
    }
    static const char *ext[4] = {".folded", ".flame.json", ".flame.html", ".flame.svg"};
    int rc = 0;
    for (int i = 0; i < 4 && !rc; i++) {
        dbuf b;
        dbuf_init(&b, REPORT_MAX_BYTES);
        int r = i == 0   ? analyze_flame_folded(fl, &b)
                : i == 1 ? analyze_flame_json(fl, &b)
                : i == 2 ? analyze_flame_html(fl, title, &b)
                         : analyze_flame_svg(fl, title, &b);
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s%s", base, ext[i]);
        if (r)
            fprintf(stderr, "streamlake analyze: %s: %s\n", path, sl_strerror(r));
        rc = r ? 1 : write_file(path, &b);
        dbuf_free(&b);
    }
    analyze_flame_free(fl);
    return rc;
}

static int render(const aopts *a, const dbuf *json, const json_val *report, const char *base)
{
    char links[4][PATH_MAX];
    static const char *ext[4] = {".folded", ".flame.json", ".flame.html", ".flame.svg"};
    for (int i = 0; i < 4; i++)
        snprintf(links[i], sizeof links[i], "%s%s", file_part(base), ext[i]);
    analyze_links l = {0};
    if (base[0])
        l = (analyze_links){links[0], links[1], links[2], links[3]};
    dbuf out;
    dbuf_init(&out, REPORT_MAX_BYTES);
    int rc = !strcmp(a->format, "json") ? dbuf_append(&out, json->p, json->len)
             : !strcmp(a->format, "md") ? analyze_render_md(report, &l, &out)
                                        : analyze_render_html(report, &l, &out);
    if (!rc && !strcmp(a->format, "json"))
        rc = dbuf_append_byte(&out, '\n');
    if (rc)
        fprintf(stderr, "streamlake analyze: cannot render the report: %s\n", sl_strerror(rc));
    else if (a->out)
        rc = write_file(a->out, &out);
    else if (out.len && fwrite(out.p, 1, out.len, stdout) != out.len)
        rc = 1;
    dbuf_free(&out);
    return rc ? 1 : 0;
}

int cmd_analyze(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    aopts a;
    memset(&a, 0, sizeof a);
    int rc = parse(argc, argv, &a);
    if (rc)
        return rc;
    dbuf json;
    dbuf_init(&json, REPORT_MAX_BYTES);
    int64_t t0 = clock_mono_ns();
    rc = a.direct ? local_report(&a, &json) : remote_report(&a, &json);
    double secs = (double)(clock_mono_ns() - t0) / 1e9;
    arena mem;
    arena_init(&mem, 1 << 20, (size_t)8 << 30);
    json_val *report = NULL;
    errmsg e;
    errmsg_clear(&e);
    if (!rc && json_parse(&mem, (const char *)json.p, json.len, &report, &e)) {
        fprintf(stderr, "streamlake analyze: the report is not JSON: %s\n", errmsg_str(&e));
        rc = 1;
    }
    char base[PATH_MAX], title[256];
    flame_base(&a, base, sizeof base);
    snprintf(title, sizeof title, "Flame graph of process %s", a.pid);
    if (!rc)
        rc = render(&a, &json, report, base);
    if (!rc && base[0])
        rc = write_flames(report, base, title);
    if (!rc) {
        const json_val *ds = json_get(report, "dataset");
        const json_val *n = ds ? json_get(ds, "spans") : NULL;
        fprintf(stderr, "analyze: %.0f spans in %.2f s%s%s%s%s%s\n",
                n && n->type == JSON_NUM ? n->num : 0, secs, a.out ? "; wrote " : "",
                a.out ? a.out : "", base[0] ? "; flame graph: " : "",
                base[0] ? base : "", base[0] ? ".flame.html" : "");
        if (a.direct)
            fprintf(stderr, "analyze: aggregates %.2f s, span links %.2f s (query and "
                    "loading), parent-link pass %.2f s, JSON %.2f s\n",
                    (double)a.timing.aggregates_ns / 1e9, (double)a.timing.links_ns / 1e9,
                    (double)a.timing.compute_ns / 1e9, (double)a.timing.json_ns / 1e9);
    }
    arena_destroy(&mem);
    dbuf_free(&json);
    return rc;
}
