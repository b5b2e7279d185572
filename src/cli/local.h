/*
 * local.h - the CLI working on a lake's stores directly.
 *
 * Two layouts, the ones `streamlake serve` runs on:
 *   --data DIR   SQLite metadata and the objects under DIR.  The object store
 *                holds a lock on DIR, so opening fails clearly while a server
 *                uses the directory: then ask that server (--server URL).
 *   --meta postgres://... --objects s3://BUCKET/PREFIX
 *                the stores several servers share.  The CLI may open them
 *                while servers run: partition builds and leadership are
 *                PostgreSQL advisory locks, objects are written create-only.
 * --meta with --data (PostgreSQL metadata, objects in DIR) follows DIR's rule.
 * --objects with SQLite metadata is refused: nothing would stop a server from
 * using that SQLite file at the same time.  The options are parsed and opened
 * by the server's own code (cmd_serve.c, server_open_objects,
 * background_open_meta).
 */
#ifndef SL_CLI_LOCAL_H
#define SL_CLI_LOCAL_H

#include "lake/lake.h"

#include <stdio.h>

/* Where the stores are: --data, --meta, --objects, --s3-endpoint, --s3-region. */
typedef struct cli_store_opts {
    const char *data;        /* DIR: SQLite metadata, and objects without --objects */
    const char *meta_url;    /* postgres://...: metadata in PostgreSQL */
    const char *objects_url; /* s3://BUCKET/PREFIX: objects in S3 */
    const char *s3_endpoint; /* NULL: AWS_ENDPOINT_URL, else AWS's for the region */
    const char *s3_region;   /* NULL: AWS_REGION, else us-east-1 */
} cli_store_opts;

/*
 * If argv[*i] is one of the store options, takes it as cli_opt does: 1 taken,
 * 0 another argument, -1 its value is missing (printed).
 */
int cli_store_opt(int argc, char **argv, int *i, cli_store_opts *o);
/*
 * Checks the values' forms (s3://, postgres://, --s3-* only with --objects)
 * and, when direct (a command opening the lake in its own process rather than
 * serve), that they name one of the layouts above: 0, or 2 after printing why
 * after "streamlake PROG: ".
 */
int cli_store_check(const char *prog, const cli_store_opts *o, int direct);
/* 1 if any store option was given: the command opens the lake itself. */
int cli_store_given(const cli_store_opts *o);
/*
 * A command that asks a server (srv: --server URL, or NULL) or opens the
 * lake itself: *direct is cli_store_given(o); refuses both at once, and checks
 * the store options (cli_store_check, direct).  0, or 2 after printing why.
 */
int cli_store_pick(const char *prog, const char *srv, const cli_store_opts *o, int *direct);
/*
 * The store options' usage lines, option names indented by 2 and their
 * explanations starting at column col (as the command's other options).
 */
void cli_store_usage(FILE *f, int col);
/* The synopsis fragment for usage lines. */
#define CLI_STORE_SYNOPSIS "--data DIR | --meta URL --objects s3://BUCKET/PREFIX"

typedef struct cli_local {
    objstore *os;
    meta *m;
    lake *l;
} cli_local;

/*
 * Opens the lake that o names (cli_store_given(o) must hold; o checked with
 * cli_store_check): 0, or prints why after "streamlake PROG: " and returns 1.
 */
int cli_local_open(const char *prog, const cli_store_opts *o, cli_local *out);
void cli_local_close(cli_local *c);

/* Percent-encodes s for a URL query value into out. */
void cli_url_escape(const char *s, char *out, size_t n);
/* The server to use: --server, else $STREAMLAKE_SERVER, else http://127.0.0.1:8080. */
const char *cli_default_server(const char *given);
/*
 * GET (or POST with an empty body) server + path into out: 0, or 1 with the
 * failure (the request's, or a status other than 200 with the reply) printed
 * to stderr after "streamlake <prog>: ".
 */
int cli_api_fetch(const char *prog, const char *server, const char *path, int post, dbuf *out);
/* A JSON object's string member k ("" when absent or not a string). */
struct json_val;
const char *cli_json_str(const struct json_val *o, const char *k);

#endif
