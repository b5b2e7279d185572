/*
 * cmd_view.c - `streamlake view VIEW INSTANCE`: the rows of a view.
 *
 * Materializes what is missing (just in time, as any reader does) and prints
 * the rows overlapping [--begin, --end) as a table, CSV (with a header row) or
 * JSON lines.  With --server the server does the work and its response is
 * streamed to stdout; with --data DIR (only while no server uses it) or --meta
 * and --objects (the stores servers share) the CLI opens the lake itself.
 */
#include "cli/cli.h"
#include "cli/local.h"

#include "base/clock.h"
#include "lake/rows.h"
#include "net/httpc.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: streamlake view VIEW INSTANCE [--begin T] [--end T]\n"
            "                       [--format table|csv|json]\n"
            "                       [--server URL | " CLI_STORE_SYNOPSIS "]\n\n"
            "Prints the rows of a view instance, building its partitions if needed.\n\n"
            "views and their instances:\n"
            "  thread_spans   a thread's stream id    one row per span of the thread\n"
            "  async_events   a process id            begin and end events of async spans\n"
            "  log_entries    a process id            log lines\n"
            "  measures       a process id            metric values\n"
            "  processes      global\n"
            "  streams        global or a process id\n"
            "  blocks         a stream or process id, or global\n\n"
            "  --begin T, --end T  rows overlapping [T1, T2): RFC 3339 (2026-11-22T05:07:00Z)\n"
            "                      or integer ns since the epoch\n"
            "  --format F          table (default), csv (with a header row) or json (one\n"
            "                      object per line)\n"
            "  --server URL        ask this server (default $STREAMLAKE_SERVER or\n"
            "                      http://127.0.0.1:8080)\n"
            "\nOr the CLI opens the lake itself:\n");
    cli_store_usage(f, 22);
}

static int write_stdout(void *arg, const void *p, size_t n)
{
    (void)arg;
    return fwrite(p, 1, n, stdout) == n ? 0 : -1;
}

static int via_server(const char *server, const char *view, const char *instance,
                      const char *begin, const char *end, const char *format)
{
    char url[2048], b[256] = "", en[256] = "";
    if (begin)
        cli_url_escape(begin, b, sizeof b);
    if (end)
        cli_url_escape(end, en, sizeof en);
    snprintf(url, sizeof url, "%s/api/views/%s/%s?format=%s%s%s%s%s", server, view, instance,
             format, begin ? "&begin=" : "", b, end ? "&end=" : "", en);
    httpc *c;
    errmsg e;
    errmsg_clear(&e);
    if (httpc_new(3600L * 1000, &c, &e)) {
        fprintf(stderr, "streamlake view: %s\n", errmsg_str(&e));
        return 1;
    }
    dbuf err;
    dbuf_init(&err, 64 * 1024);
    int status = 0;
    int rc = httpc_stream(c, url, NULL, 0, 0, NULL, &status, &err, write_stdout, NULL, &e);
    httpc_free(c);
    if (rc)
        fprintf(stderr, "streamlake view: %s\n", errmsg_str(&e));
    else if (status != 200)
        fprintf(stderr, "streamlake view: HTTP %d: %.*s", status, (int)err.len,
                err.p ? (const char *)err.p : "");
    dbuf_free(&err);
    return rc || status != 200;
}

static int via_data(const cli_store_opts *so, const char *view, const char *instance,
                    const char *begin, const char *end, const char *format)
{
    const lake_view_def *vd = lake_view_find(view);
    rows_format f;
    lake_scan_opts o;
    lake_scan_opts_init(&o);
    if (!vd) {
        fprintf(stderr, "streamlake view: unknown view %s\n", view);
        return 2;
    }
    if (rows_format_parse(format, &f) || (begin && clock_parse_time(begin, &o.begin_ns)) ||
        (end && clock_parse_time(end, &o.end_ns))) {
        fprintf(stderr, "streamlake view: bad --format, --begin or --end\n");
        return 2;
    }
    cli_local loc;
    if (cli_local_open("view", so, &loc))
        return 1;
    lake_scan *sc = NULL;
    errmsg e;
    errmsg_clear(&e);
    int rc = lake_scan_open(loc.l, vd->id, instance, &o, NULL, &sc, &e);
    dbuf out;
    dbuf_init(&out, (size_t)1 << 30);
    if (!rc)
        rc = rows_header(lake_view_schema(vd->id), f, &out);
    while (!rc) {
        col_batch *b;
        if ((rc = lake_scan_next(sc, &b, &e)) || !b)
            break;
        rc = rows_batch(b, f, &out);
        col_batch_release(b);
        if (!rc && fwrite(out.p, 1, out.len, stdout) != out.len)
            rc = errmsg_set(&e, SL_EIO, "cannot write the output");
        dbuf_reset(&out);
    }
    if (!rc && out.len)
        fwrite(out.p, 1, out.len, stdout);
    if (rc)
        fprintf(stderr, "streamlake view: %s\n", errmsg_str(&e));
    lake_scan_close(sc);
    dbuf_free(&out);
    cli_local_close(&loc);
    return rc ? 1 : 0;
}

int cmd_view(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *pos[2] = {NULL, NULL}, *begin = NULL, *end = NULL, *format = "table",
               *server = NULL;
    cli_store_opts so = {0};
    int np = 0;
    for (int i = 1; i < argc; i++) {
        int r;
        if ((r = cli_opt(argc, argv, &i, "--begin", &begin)) ||
            (r = cli_opt(argc, argv, &i, "--end", &end)) ||
            (r = cli_opt(argc, argv, &i, "--format", &format)) ||
            (r = cli_opt(argc, argv, &i, "--server", &server)) ||
            (r = cli_store_opt(argc, argv, &i, &so))) {
            if (r < 0)
                return 2;
        } else if (argv[i][0] != '-' && np < 2) {
            pos[np++] = argv[i];
        } else {
            fprintf(stderr, "streamlake view: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (np != 2) {
        usage(stderr);
        return 2;
    }
    int direct;
    if (cli_store_pick("view", server, &so, &direct))
        return 2;
    int64_t ns;
    if (cli_parse_time("--begin", begin, &ns) || cli_parse_time("--end", end, &ns))
        return 2;
    if (direct)
        return via_data(&so, pos[0], pos[1], begin, end, format);
    return via_server(cli_default_server(server), pos[0], pos[1], begin, end, format);
}
