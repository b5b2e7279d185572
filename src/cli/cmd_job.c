/*
 * cmd_job.c - `streamlake job list|describe|stop|start`: a server's continuous
 * jobs, over its HTTP API (GET /api/jobs, GET /api/jobs/{name}, POST
 * /api/jobs/{name}/stop and /start; docs/internals/http-api.md).
 */
#include "cli/cli.h"
#include "cli/local.h"

#include "base/arena.h"
#include "base/json.h"
#include "net/httpc.h"

#include <stdio.h>
#include <stdbool.h>
#include <string.h>

#define JOB_REPLY_MAX (64u << 20)

static void usage(FILE *f)
{
    fprintf(f, "usage: streamlake job list [--server URL] [--json]\n"
               "       streamlake job describe|stop|start NAME [--server URL]\n\n"
               "The continuous jobs of a streamlake server (docs/streaming.md):\n\n"
               "  list       one line per job: name, state, rows read, late, written, watermark\n"
               "  describe   the job's definition and figures (JSON)\n"
               "  stop       stops the job; a materialized view keeps its rows\n"
               "  start      starts a stopped, finished or failed job over\n\n"
               "  --server URL   the server (default $STREAMLAKE_SERVER or http://127.0.0.1:8080)\n"
               "  --json         list: print the server's JSON instead of a table\n");
}

#define str_of cli_json_str

/* The first source's (or sink's) figure k. */
static long long first_num(const json_val *o, const char *group, const char *k)
{
    const json_val *g = json_get(o, group);
    if (!g || g->type != JSON_OBJ || !g->len)
        return 0;
    const json_val *v = json_get(&g->items[0], k);
    return v && v->type == JSON_NUM ? (v->is_int ? (long long)v->i : (long long)v->num) : 0;
}

static int print_list(const char *text, size_t len)
{
    arena a;
    arena_init(&a, 64 * 1024, (size_t)JOB_REPLY_MAX * 4);
    json_val *root = NULL;
    errmsg e;
    int rc = 1;
    if (json_parse(&a, text, len, &root, &e) != 0 || root->type != JSON_ARR) {
        fprintf(stderr, "streamlake job: the server's reply is not a JSON array\n");
        goto out;
    }
    printf("%-24s  %-9s  %12s  %10s  %12s  %-24s\n", "NAME", "STATE", "ROWS_READ", "LATE",
           "WRITTEN", "WATERMARK");
    for (size_t i = 0; i < root->len; i++) {
        const json_val *j = &root->items[i];
        printf("%-24.24s  %-9s  %12lld  %10lld  %12lld  %-24s\n", str_of(j, "name"),
               str_of(j, "state"), first_num(j, "sources", "rows_read"),
               first_num(j, "sources", "late_dropped"), first_num(j, "sinks", "rows_written"),
               str_of(j, "watermark"));
    }
    if (!root->len)
        printf("(no jobs)\n");
    rc = 0;
out:
    arena_destroy(&a);
    return rc;
}

int cmd_job(int argc, char **argv)
{
    if (cli_wants_help(argc, argv) || argc < 2) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *verb = argv[1], *name = NULL, *server = NULL;
    int as_json = 0;
    for (int i = 2; i < argc; i++) {
        const char *v;
        int r = cli_opt(argc, argv, &i, "--server", &v);
        if (r < 0)
            return 2;
        if (r > 0)
            server = v;
        else if (!strcmp(argv[i], "--json"))
            as_json = 1;
        else if (!name && argv[i][0] != '-')
            name = argv[i];
        else {
            fprintf(stderr, "streamlake job: unknown argument '%s'\n\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    bool list = !strcmp(verb, "list"), post = !strcmp(verb, "stop") || !strcmp(verb, "start");
    if (!list && !post && strcmp(verb, "describe")) {
        fprintf(stderr, "streamlake job: unknown command '%s'\n\n", verb);
        usage(stderr);
        return 2;
    }
    if (!list && !name) {
        fprintf(stderr, "streamlake job %s: which job? (streamlake job %s NAME)\n", verb, verb);
        return 2;
    }
    server = cli_default_server(server);
    char path[512];
    if (list)
        snprintf(path, sizeof path, "/api/jobs");
    else
        snprintf(path, sizeof path, "/api/jobs/%s%s%s", name, post ? "/" : "", post ? verb : "");
    dbuf b;
    dbuf_init(&b, JOB_REPLY_MAX);
    int rc = 1;
    if (cli_api_fetch("job", server, path, post, &b))
        goto out;
    if (list && !as_json) {
        rc = print_list((const char *)b.p, b.len);
        goto out;
    }
    fwrite(b.p, 1, b.len, stdout);
    printf("\n");
    rc = 0;
out:
    dbuf_free(&b);
    return rc;
}
