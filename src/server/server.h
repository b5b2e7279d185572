/*
 * server.h - the streamlake HTTP server: ingestion routes, JSON API, health.
 *
 * A server owns its stores (a local object store and a SQLite metadata store
 * under data_dir) and a libmicrohttpd daemon with a pool of threads.  Start it,
 * read its port, stop it; everything in between happens on its threads.
 * docs/internals/http-api.md documents the routes and statuses.
 */
#ifndef SL_SERVER_H
#define SL_SERVER_H

#include "base/err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct server_config {
    const char *data_dir;    /* metadata and objects live here (created if missing) */
    const char *objects_url; /* "s3://bucket/prefix": objects in S3 instead (docs/serve.md) */
    const char *s3_endpoint; /* NULL: AWS_ENDPOINT_URL, else AWS's for the region */
    const char *s3_region;   /* NULL: AWS_REGION, else us-east-1 */
    const char *host;        /* IPv4 address to bind ("127.0.0.1"; "localhost" accepted) */
    uint16_t port;           /* 0: any free port (read it back with server_port) */
    int threads;             /* HTTP worker threads */
    size_t max_body_bytes;   /* requests with a larger body get 413 */
    size_t max_inflight_bytes; /* all request bodies in memory together; past it: 503 */
    int discard_route;       /* benchmarks: POST /bench/discard reads a body and drops it */
    size_t cache_bytes;      /* the lake's file-bytes cache (0: 64 MiB) */
    int jobs;                /* the lake's parallel builds per request (0: cores) */
    uint64_t max_partition_events; /* source events per lake partition (0: 1 M) */
    /* The response budget (base/budget.h, docs/serve.md "Budgets"). */
    size_t max_response_bytes; /* memory of all streamed responses together */
    int max_workers;           /* worker threads of all requests together */
    int max_request_jobs;      /* worker threads of one request */
    int client_timeout_s;      /* a connection idle or not reading this long is closed */
    /* SQL (POST /api/query; docs/sql.md) */
    size_t sql_work_mem_bytes;   /* per query (0: 64 MiB) */
    size_t sql_memory_bytes;     /* all queries together (0: 1 GiB) */
    int64_t sql_timeout_ms;      /* statement_timeout's default (0: none) */
    const char *files_dirs[8];   /* read_parquet / read_csv may read under these (--files) */
    int nfiles_dirs;
    int stream_workers;          /* workers of each continuous job (0: cores; docs/streaming.md) */
    int stream_checkpoint_ms;    /* between two checkpoints of a continuous job (0: 2000) */
    /* The PostgreSQL protocol (docs/pgwire.md) */
    int pg_mode;                 /* 0 off; 1 on its default address (if that is taken: a
                                  * warning, the server goes on); 2 on an address given */
    const char *pg_host;
    uint16_t pg_port;
    int pg_max_conns;            /* 0: 100 */
    int pg_idle_timeout_s;       /* 0: never */
    const char *pg_tls_cert;     /* PEM certificate (chain) and key: TLS on SSLRequest */
    const char *pg_tls_key;
    int pg_require_tls;          /* refuse PostgreSQL startups outside TLS (28000) */
    const char *keys_file;       /* keys (server/keys.h): SCRAM for PostgreSQL clients;
                                  * NULL: trust */
    int self_trace;              /* record the server's own work in its lake
                                  * (server/self_trace.h); `serve` turns it on */
    /* Several servers on one lake (docs/internals/meta-postgres.md) */
    const char *meta_url;        /* "postgres://...": shared metadata; NULL: SQLite in data_dir */
    int64_t retention_ns;        /* 0: keep everything; else the leader deletes older data */
    int64_t materialize_ns;      /* 0: off; else the leader keeps global views built this far */
} server_config;

/*
 * Defaults: data "streamlake-data", 127.0.0.1:8080 (PostgreSQL protocol on 127.0.0.1:5433), 8 threads, the wire format's block
 * cap per body, 1 GiB of bodies in flight; responses: 256 MiB, 8 workers per core,
 * requests' jobs capped at the number of cores (at least 2), clients timed out after
 * 30 s without progress.
 */
void server_config_defaults(server_config *c);

struct objstore;
/*
 * Opens c's object store: S3 when c->objects_url is set, else the directory
 * c->data_dir (SL_ESTATE while another process has it open).  The CLI opens a
 * lake with it too (cli/local.c), so both read the same objects the same way.
 */
int server_open_objects(const server_config *c, struct objstore **out, errmsg *e);

typedef struct server server;

/* Opens the stores and starts listening; on return requests are being served. */
int server_start(const server_config *c, server **out, errmsg *e);
/* The port actually bound. */
uint16_t server_port(const server *s);
/* The PostgreSQL protocol's port, 0 when it does not listen. */
uint16_t server_pg_port(const server *s);
/* Stops accepting, finishes requests in flight, closes the stores, frees s. */
void server_stop(server *s);

#endif
