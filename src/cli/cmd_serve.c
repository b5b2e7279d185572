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
#include "cli/local.h"

#include "base/err.h"
#include "base/log.h"
#include "server/server.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: streamlake serve [--data DIR] [--listen HOST:PORT] [--threads N]\n"
            "                        [--max-body-bytes N] [--max-inflight-bytes N]\n"
            "                        [--cache-mb N] [--jobs N] [--partition-events N]\n"
            "                        [--max-response-mb N] [--max-workers N]\n"
            "                        [--max-request-jobs N] [--client-timeout S] [--workers N]\n"
            "                        [--checkpoint-interval-ms N]\n"
            "                        [--work-mem-mb N] [--sql-memory-mb N]\n"
            "                        [--statement-timeout-ms N] [--files DIR]\n"
            "                        [--pg-listen HOST:PORT | --no-pg] [--pg-max-connections N]\n"
            "                        [--pg-idle-timeout S] [--tls-cert FILE --tls-key FILE]\n"
            "                        [--pg-require-tls] [--keys FILE] [--no-self-trace]\n"
            "                        [--objects s3://BUCKET/PREFIX [--s3-endpoint URL]\n"
            "                        [--s3-region REGION]] [--meta postgres://...]\n"
            "                        [--retention DURATION] [--materialize DURATION]\n\n"
            "Runs the ingestion server, the lake's views, SQL and the JSON API.\n\n"
            "  --data DIR            metadata (SQLite) and payload objects (default\n"
            "                        ./streamlake-data, created if missing)\n"
            "  --objects s3://BUCKET/PREFIX  payloads and partitions in S3 (or a compatible\n"
            "                        server) instead of --data, which keeps the metadata;\n"
            "                        keys from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and\n"
            "                        AWS_SESSION_TOKEN), never from the command line\n"
            "  --s3-endpoint URL     http(s)://HOST[:PORT] of the S3 server, path-style\n"
            "                        (default: AWS_ENDPOINT_URL, else AWS for the region)\n"
            "  --s3-region REGION    signing region (default: AWS_REGION, else us-east-1)\n"
            "  --meta postgres://USER@HOST:PORT/DB  metadata in PostgreSQL instead of SQLite,\n"
            "                        shared by every server started with the same URL (and one\n"
            "                        --objects bucket): docs/internals/meta-postgres.md\n"
            "  --retention DURATION  delete blocks, payloads and partitions older than this\n"
            "                        (e.g. 30d, 12h, 90m, 3600s; default: keep everything);\n"
            "                        done by the leading server, in small batches\n"
            "  --materialize DURATION  keep log_entries, measures and log_stats built for\n"
            "                        the processes active this recent (e.g. 6h): the leading\n"
            "                        server builds them every 5 s (default: off, built on read)\n"
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
            "  --partition-events N  source events per partition (default 1000000)\n"
            "  --max-response-mb N   memory of all streamed responses (traces, views)\n"
            "                        together (default 256); past it they get 503\n"
            "  --max-workers N       worker threads of all requests together (default\n"
            "                        8 per core); past it requests get 503\n"
            "  --max-request-jobs N  worker threads of one request, whatever it asks\n"
            "                        (default: the number of cores, at least 2)\n"
            "  --workers N           workers of each continuous job (default: the number of\n"
            "                        cores; docs/streaming.md, \"Jobs on a server\")\n"
            "  --checkpoint-interval-ms N\n"
            "                        between two checkpoints of each continuous job, kept in\n"
            "                        the server's object store (default 2000): after a crash\n"
            "                        a job over a file resumes from its last one\n"
            "  --client-timeout S    a connection that sends nothing and reads nothing\n"
            "                        this long is closed and its resources freed (default 30)\n"
            "  --work-mem-mb N       memory of one SQL query for sorts, aggregations and\n"
            "                        joins (default 64; SET work_mem changes it per session)\n"
            "  --sql-memory-mb N     memory of all SQL queries together (default 1024); a\n"
            "                        query that would pass it fails with SQLSTATE 53200\n"
            "  --statement-timeout-ms N  default statement_timeout (default 0: none)\n"
            "  --files DIR           read_parquet() and read_csv() may read files under DIR\n"
            "                        (repeat for several; default: none, both refused)\n"
            "  --pg-listen HOST:PORT the PostgreSQL protocol (psql, psycopg, node-postgres;\n"
            "                        docs/pgwire.md); default 127.0.0.1:5433, skipped with a\n"
            "                        warning if that is taken; port 0 picks a free one\n"
            "  --no-pg               no PostgreSQL protocol\n"
            "  --pg-max-connections N  PostgreSQL connections at once (default 100; past it\n"
            "                        SQLSTATE 53300)\n"
            "  --pg-idle-timeout S   close a PostgreSQL connection idle this long (default 0:\n"
            "                        never)\n"
            "  --tls-cert FILE       PEM certificate (chain) of the PostgreSQL listener: clients\n"
            "                        asking for SSL get TLS (sslmode=require); needs --tls-key\n"
            "  --tls-key FILE        PEM private key of --tls-cert\n"
            "  --pg-require-tls      refuse PostgreSQL connections that are not TLS (28000)\n"
            "  --keys FILE           API keys (`streamlake keys add`): HTTP requests need\n"
            "                        Authorization: Bearer SECRET with the route's scope (ingest,\n"
            "                        query, admin); PostgreSQL clients authenticate with\n"
            "                        SCRAM-SHA-256 (user = a key's name, password = its secret).\n"
            "                        Without it, anyone reaching the listeners is trusted, so\n"
            "                        --listen and --pg-listen must then be loopback addresses\n"
            "                        (127.x.x.x): another address is refused at start-up.\n"
            "                        Clients send the key from STREAMLAKE_API_KEY\n"
            "  --no-self-trace       do not record the server's own work (spans of ingestion,\n"
            "                        builds, lookups, queries and traces; its log lines; its\n"
            "                        /api/stats figures as metrics) in its own lake, where it\n"
            "                        appears as a process (exe streamlake, property\n"
            "                        streamlake.role = server)\n\n"
            "Prints \"streamlake: listening on http://HOST:PORT\" once ready, then\n"
            "\"streamlake: postgres on HOST:PORT\" when the PostgreSQL protocol listens.\n"
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

/* A numeric option: its range, and where its value goes (times `scale`). */
typedef struct num_opt {
    const char *name;
    uint64_t lo, hi, scale;
    enum { AS_INT, AS_SIZE, AS_U64 } as;
    void *dst;
} num_opt;

static int set_num(const num_opt *o, const char *v)
{
    uint64_t n;
    if (cli_parse_u64(o->name, v, &n) != 0 || n < o->lo || n > o->hi) {
        fprintf(stderr, "streamlake serve: %s wants %llu..%llu\n", o->name,
                (unsigned long long)o->lo, (unsigned long long)o->hi);
        return 2;
    }
    n *= o->scale;
    if (o->as == AS_INT)
        *(int *)o->dst = (int)n;
    else if (o->as == AS_SIZE)
        *(size_t *)o->dst = (size_t)n;
    else
        *(uint64_t *)o->dst = n;
    return 0;
}

/* An option whose value is a path (--tls-cert, --tls-key, --keys): 1 taken, 0 not one of
 * them, -1 its value is missing.  The stores' options are cli_store_opt's (cli/local.h). */
static int path_opt(int argc, char **argv, int *i, server_config *c)
{
    static const char *const names[] = {"--tls-cert", "--tls-key", "--keys"};
    const char **const dst[] = {&c->pg_tls_cert, &c->pg_tls_key, &c->keys_file};
    return cli_opt_any(argc, argv, i, names, dst, sizeof names / sizeof names[0]);
}

/* Parses argv into c (host text goes into host); 0, or an exit code. */
static int parse_args(int argc, char **argv, server_config *c, char *host, size_t host_size)
{
    const num_opt nums[] = {
        {"--threads", 1, 1024, 1, AS_INT, &c->threads},
        {"--max-body-bytes", 1024, UINT32_MAX, 1, AS_SIZE, &c->max_body_bytes},
        {"--max-inflight-bytes", 1024, UINT64_MAX >> 1, 1, AS_SIZE, &c->max_inflight_bytes},
        {"--cache-mb", 1, 1u << 20, 1u << 20, AS_SIZE, &c->cache_bytes},
        {"--jobs", 1, 256, 1, AS_INT, &c->jobs},
        {"--partition-events", 1000, UINT64_MAX >> 1, 1, AS_U64, &c->max_partition_events},
        {"--max-response-mb", 16, 1u << 20, 1u << 20, AS_SIZE, &c->max_response_bytes},
        {"--max-workers", 1, 4096, 1, AS_INT, &c->max_workers},
        {"--max-request-jobs", 1, 256, 1, AS_INT, &c->max_request_jobs},
        {"--client-timeout", 1, 86400, 1, AS_INT, &c->client_timeout_s},
        {"--workers", 1, 256, 1, AS_INT, &c->stream_workers},
        {"--checkpoint-interval-ms", 10, 3600000, 1, AS_INT, &c->stream_checkpoint_ms},
        {"--work-mem-mb", 1, 1u << 20, 1u << 20, AS_SIZE, &c->sql_work_mem_bytes},
        {"--sql-memory-mb", 16, 1u << 20, 1u << 20, AS_SIZE, &c->sql_memory_bytes},
        {"--statement-timeout-ms", 0, 86400000, 1, AS_U64, &c->sql_timeout_ms},
        {"--pg-max-connections", 1, 10000, 1, AS_INT, &c->pg_max_conns},
        {"--pg-idle-timeout", 0, 86400 * 7, 1, AS_INT, &c->pg_idle_timeout_s},
    };
    static char pg_host[256];
    cli_store_opts so = {0};
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r;
        if ((r = cli_opt(argc, argv, &i, "--files", &v))) {
            if (r < 0)
                return 2;
            if (c->nfiles_dirs == 8) {
                fprintf(stderr, "streamlake serve: at most 8 --files directories\n");
                return 2;
            }
            c->files_dirs[c->nfiles_dirs++] = v;
            continue;
        }
        if ((r = cli_opt(argc, argv, &i, "--listen", &v))) {
            if (r < 0 || parse_listen(v, host, host_size, &c->port) != 0)
                return 2;
            c->host = host;
            continue;
        }
        if ((r = cli_opt(argc, argv, &i, "--pg-listen", &v))) {
            if (r < 0 || parse_listen(v, pg_host, sizeof pg_host, &c->pg_port) != 0)
                return 2;
            c->pg_host = pg_host;
            c->pg_mode = 2;
            continue;
        }
        if (!strcmp(argv[i], "--no-self-trace")) {
            c->self_trace = 0;
            continue;
        }
        if (!strcmp(argv[i], "--no-pg")) {
            c->pg_mode = 0;
            continue;
        }
        if ((r = cli_opt(argc, argv, &i, "--retention", &v))) {
            if (r < 0 || cli_parse_duration("--retention", v, &c->retention_ns) != 0)
                return 2;
            continue;
        }
        if ((r = cli_opt(argc, argv, &i, "--materialize", &v))) {
            if (r < 0 || cli_parse_duration("--materialize", v, &c->materialize_ns) != 0)
                return 2;
            continue;
        }
        if (!strcmp(argv[i], "--pg-require-tls")) {
            c->pg_require_tls = 1;
            continue;
        }
        if ((r = path_opt(argc, argv, &i, c)) || (r = cli_store_opt(argc, argv, &i, &so))) {
            if (r < 0)
                return 2;
            continue;
        }
        size_t k = 0;
        for (; k < sizeof nums / sizeof nums[0]; k++) {
            if ((r = cli_opt(argc, argv, &i, nums[k].name, &v)) < 0)
                return 2;
            if (r)
                break;
        }
        if (k < sizeof nums / sizeof nums[0]) {
            if (set_num(&nums[k], v))
                return 2;
            continue;
        }
        fprintf(stderr, "streamlake serve: unknown argument '%s'\n\n", argv[i]);
        usage(stderr);
        return 2;
    }
    if (cli_store_check("serve", &so, 0))
        return 2;
    if (so.data)
        c->data_dir = so.data;
    c->meta_url = so.meta_url;
    c->objects_url = so.objects_url;
    c->s3_endpoint = so.s3_endpoint;
    c->s3_region = so.s3_region;
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
    c.self_trace = 1;
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
    if (server_pg_port(s))
        printf("streamlake: postgres on %s:%u\n", c.pg_host, server_pg_port(s));
    fflush(stdout);
    log_info("serve", "data in %s%s%s, %d threads, bodies up to %zu bytes; responses: %zu MiB, "
             "%d workers (%d a request), client timeout %d s", c.data_dir,
             c.objects_url ? ", objects in " : "", c.objects_url ? c.objects_url : "", c.threads,
             c.max_body_bytes, c.max_response_bytes >> 20, c.max_workers, c.max_request_jobs,
             c.client_timeout_s);
    int sig = 0;
    sigwait(&set, &sig);
    log_info("serve", "signal %d: stopping", sig);
    server_stop(s);
    return 0;
}
