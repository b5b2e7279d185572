/*
 * local.h - the CLI working on a data directory directly (--data DIR).
 *
 * Opens the object store, the metadata store and the lake under DIR, as the
 * server does.  The object store holds a lock on DIR, so this fails clearly
 * while a server uses the directory: then ask that server (--server URL).
 */
#ifndef SL_CLI_LOCAL_H
#define SL_CLI_LOCAL_H

#include "lake/lake.h"

typedef struct cli_local {
    objstore *os;
    meta *m;
    lake *l;
} cli_local;

/* 0, or prints why to stderr and returns non-zero. */
int cli_local_open(const char *dir, cli_local *out);
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
