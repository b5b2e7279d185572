/*
 * cmd_processes.c - `streamlake processes`: the processes a server holds.
 *
 * Reads GET /api/processes and prints a table (or, with --json, the JSON as
 * the server sent it).  Only the server's JSON API is used, so this works
 * against any streamlake server the user can reach.
 */
#include "cli/cli.h"
#include "cli/local.h"

#include "base/arena.h"
#include "base/json.h"
#include "net/httpc.h"

#include <stdio.h>
#include <string.h>

#define REPLY_MAX (256u << 20)

static void usage(FILE *f)
{
    fprintf(f, "usage: streamlake processes [--server URL] [--json]\n\n"
               "Lists the processes a streamlake server holds, newest first.\n\n"
               "  --server URL   the server (default $STREAMLAKE_SERVER or http://127.0.0.1:8080)\n"
               "  --json         print the server's JSON instead of a table\n");
}

#define str_of cli_json_str

static unsigned long long num_of(const json_val *o, const char *k)
{
    const json_val *v = json_get(o, k);
    if (!v || v->type != JSON_NUM)
        return 0;
    return v->is_int ? (unsigned long long)v->i : (unsigned long long)v->num;
}

/* Human bytes: 123 B, 4.5 KiB, 6.7 MiB, 8.9 GiB. */
static void fmt_bytes(unsigned long long n, char *out, size_t size)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, size, "%llu B", n);
    else
        snprintf(out, size, "%.1f %s", v, units[u]);
}

static int print_table(const char *text, size_t len)
{
    arena a;
    arena_init(&a, 64 * 1024, (size_t)REPLY_MAX * 4);
    json_val *root = NULL;
    errmsg e;
    int rc = 1;
    if (json_parse(&a, text, len, &root, &e) != 0 || root->type != JSON_ARR) {
        fprintf(stderr, "streamlake processes: the server's reply is not a JSON array (%s)\n",
                errmsg_str(&e));
        goto out;
    }
    printf("%-36s  %-24s  %-20s  %7s  %12s  %8s  %10s\n", "PROCESS_ID", "EXE", "START (UTC)",
           "THREADS", "EVENTS", "BLOCKS", "BYTES");
    for (size_t i = 0; i < root->len; i++) {
        const json_val *p = &root->items[i];
        const char *exe = str_of(p, "exe");
        const char *slash = strrchr(exe, '/');
        char start[20], bytes[24];
        snprintf(start, sizeof start, "%.19s", str_of(p, "start_time"));
        for (char *c = start; *c; c++)
            if (*c == 'T')
                *c = ' ';
        fmt_bytes(num_of(p, "payload_bytes"), bytes, sizeof bytes);
        printf("%-36s  %-24.24s  %-20s  %7llu  %12llu  %8llu  %10s\n", str_of(p, "process_id"),
               slash ? slash + 1 : exe, start, num_of(p, "thread_count"), num_of(p, "event_count"),
               num_of(p, "block_count"), bytes);
    }
    if (root->len == 0)
        printf("(no processes)\n");
    rc = 0;
out:
    arena_destroy(&a);
    return rc;
}

int cmd_processes(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *server = NULL;
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r = cli_opt(argc, argv, &i, "--server", &v);
        if (r < 0)
            return 2;
        if (r > 0) {
            server = v;
        } else if (!strcmp(argv[i], "--json")) {
            as_json = 1;
        } else {
            fprintf(stderr, "streamlake processes: unknown argument '%s'\n\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    server = cli_default_server(server);
    dbuf b;
    dbuf_init(&b, REPLY_MAX);
    int rc = 1;
    if (cli_api_fetch("processes", server, "/api/processes", 0, &b))
        goto out;
    if (as_json) {
        fwrite(b.p, 1, b.len, stdout);
        printf("\n");
        rc = 0;
    } else {
        rc = print_table((const char *)b.p, b.len);
    }
out:
    dbuf_free(&b);
    return rc;
}
