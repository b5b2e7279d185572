/*
 * cmd_serve.c - `streamlake serve`: run the server until SIGINT or SIGTERM.
 *
 * The signals are blocked before any thread starts, so every server thread
 * inherits the mask and only this thread receives them, in sigwait: stopping
 * is an ordinary function call (server_stop finishes requests in flight and
 * closes the stores), not work done inside a signal handler.
 *
 * Once the server listens, one line "streamlake: listening on http://H:P" is
 * printed on stdout and flushed; tests and scripts read the port from it.
 */
#include "cli/cli.h"

#include "base/err.h"
#include "base/log.h"
#include "server/server.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: streamlake serve [--data DIR] [--listen HOST:PORT] [--threads N]\n"
            "                        [--max-body-bytes N] [--max-inflight-bytes N]\n"
            "                        [--cache-mb N] [--jobs N] [--partition-events N]\n\n"
            "Runs the ingestion server, the lake's views and the JSON API.\n\n"
            "  --data DIR            metadata (SQLite) and payload objects (default\n"
            "                        ./streamlake-data, created if missing)\n"
            "  --listen HOST:PORT    IPv4 address and port (default 127.0.0.1:8080;\n"
            "                        port 0 picks a free one)\n"
            "  --threads N           HTTP worker threads (default 8)\n"
            "  --max-body-bytes N    largest request body accepted (default and maximum:\n"
            "                        the block format's cap, about 33 MiB)\n"
            "  --max-inflight-bytes N  request bodies held in memory at once, all\n"
            "                        connections together (default 1 GiB); past it\n"
            "                        requests get 503 and are retried by clients\n"
            "  --cache-mb N          the lake's cache of partition files (default 64)\n"
            "  --jobs N              partitions built in parallel per request (default:\n"
            "                        the number of cores)\n"
            "  --partition-events N  source events per partition (default 1000000)\n\n"
            "Prints \"streamlake: listening on http://HOST:PORT\" once ready.\n"
            "SIGINT or SIGTERM stop it cleanly.\n");
}

/* Splits "host:port" (port may be 0). */
static int parse_listen(const char *s, char *host, size_t host_size, uint16_t *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= host_size) {
        fprintf(stderr, "streamlake serve: --listen wants HOST:PORT, got '%s'\n", s);
        return -1;
    }
    uint64_t p;
    if (cli_parse_u64("--listen", colon + 1, &p) != 0 || p > 65535) {
        fprintf(stderr, "streamlake serve: bad port in '%s'\n", s);
        return -1;
    }
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    *port = (uint16_t)p;
    return 0;
}

/* Parses argv into c (host text goes into host); 0, or an exit code. */
static int parse_args(int argc, char **argv, server_config *c, char *host, size_t host_size)
{
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        uint64_t n;
        int r;
        if ((r = cli_opt(argc, argv, &i, "--data", &v))) {
            if (r < 0)
                return 2;
            c->data_dir = v;
        } else if ((r = cli_opt(argc, argv, &i, "--listen", &v))) {
            if (r < 0 || parse_listen(v, host, host_size, &c->port) != 0)
                return 2;
            c->host = host;
        } else if ((r = cli_opt(argc, argv, &i, "--threads", &v))) {
            if (r < 0 || cli_parse_u64("--threads", v, &n) != 0 || n < 1 || n > 1024) {
                fprintf(stderr, "streamlake serve: --threads wants 1..1024\n");
                return 2;
            }
            c->threads = (int)n;
        } else if ((r = cli_opt(argc, argv, &i, "--max-body-bytes", &v))) {
            if (r < 0 || cli_parse_u64("--max-body-bytes", v, &n) != 0 || n < 1024) {
                fprintf(stderr, "streamlake serve: --max-body-bytes wants at least 1024\n");
                return 2;
            }
            c->max_body_bytes = (size_t)n;
        } else if ((r = cli_opt(argc, argv, &i, "--max-inflight-bytes", &v))) {
            if (r < 0 || cli_parse_u64("--max-inflight-bytes", v, &n) != 0 || n < 1024) {
                fprintf(stderr, "streamlake serve: --max-inflight-bytes wants at least 1024\n");
                return 2;
            }
            c->max_inflight_bytes = (size_t)n;
        } else if ((r = cli_opt(argc, argv, &i, "--cache-mb", &v))) {
            if (r < 0 || cli_parse_u64("--cache-mb", v, &n) != 0 || n < 1 || n > (1u << 20)) {
                fprintf(stderr, "streamlake serve: --cache-mb wants 1..1048576\n");
                return 2;
            }
            c->cache_bytes = (size_t)n << 20;
        } else if ((r = cli_opt(argc, argv, &i, "--jobs", &v))) {
            if (r < 0 || cli_parse_u64("--jobs", v, &n) != 0 || n < 1 || n > 256) {
                fprintf(stderr, "streamlake serve: --jobs wants 1..256\n");
                return 2;
            }
            c->jobs = (int)n;
        } else if ((r = cli_opt(argc, argv, &i, "--partition-events", &v))) {
            if (r < 0 || cli_parse_u64("--partition-events", v, &n) != 0 || n < 1000) {
                fprintf(stderr, "streamlake serve: --partition-events wants at least 1000\n");
                return 2;
            }
            c->max_partition_events = n;
        } else {
            fprintf(stderr, "streamlake serve: unknown argument '%s'\n\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    return 0;
}

int cmd_serve(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    server_config c;
    server_config_defaults(&c);
    char host[256];
    int rc = parse_args(argc, argv, &c, host, sizeof host);
    if (rc)
        return rc;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    server *s = NULL;
    errmsg e;
    errmsg_clear(&e);
    if (server_start(&c, &s, &e) != 0) {
        fprintf(stderr, "streamlake serve: %s\n", errmsg_str(&e));
        return 1;
    }
    printf("streamlake: listening on http://%s:%u\n", c.host, server_port(s));
    fflush(stdout);
    log_info("serve", "data in %s, %d threads, bodies up to %zu bytes", c.data_dir, c.threads,
             c.max_body_bytes);
    int sig = 0;
    sigwait(&set, &sig);
    log_info("serve", "signal %d: stopping", sig);
    server_stop(s);
    return 0;
}
