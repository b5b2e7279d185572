/*
 * pgwire.h - the PostgreSQL wire protocol listener of `streamlake serve`.
 *
 * psql, psycopg, node-postgres and the like connect to it as to PostgreSQL
 * (protocol 3.0) and run SQL on the server's engine (docs/pgwire.md; the
 * messages: docs/internals/pgwire.md).  One thread per connection, at most
 * max_conns of them (past it: SQLSTATE 53300 and the connection closes); every
 * message is capped at max_msg bytes.
 */
#ifndef SL_SERVER_PGWIRE_H
#define SL_SERVER_PGWIRE_H

#include "base/err.h"

#include <stddef.h>
#include <stdint.h>

struct sql_engine;

typedef struct pgwire_config {
    const char *host;        /* IPv4 address to bind (127.0.0.1 by default) */
    uint16_t port;           /* 0: any free port */
    int max_conns;           /* connections at once (0: 100) */
    size_t max_msg;          /* bytes of one frontend message (0: 64 MiB) */
    int idle_timeout_s;      /* a connection idle this long between queries is closed (0: never) */
} pgwire_config;

typedef struct pgwire pgwire;

int pgwire_start(const pgwire_config *c, struct sql_engine *eng, pgwire **out, errmsg *e);
uint16_t pgwire_port(const pgwire *p);
/* Stops accepting, cancels what runs, closes every connection, frees p. */
void pgwire_stop(pgwire *p);

#endif
