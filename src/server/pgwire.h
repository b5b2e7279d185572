/*
 * pgwire.h - the PostgreSQL wire protocol listener of `streamlake serve`.
 *
 * psql, psycopg, node-postgres and the like connect to it as to PostgreSQL
 * (protocol 3.0) and run SQL on the server's engine (docs/pgwire.md; the
 * messages: docs/internals/pgwire.md).  One thread per connection, at most
 * max_conns of them (past it: SQLSTATE 53300 and the connection closes); every
 * message is capped at max_msg bytes.
 *
 * With a TLS context an SSLRequest is answered 'S' and the connection goes on
 * in TLS; require_tls refuses startups outside it (28000).  With a keyset every
 * startup authenticates with SCRAM-SHA-256 (pgwire_auth.c); without one,
 * authentication is trust.
 */
#ifndef SL_SERVER_PGWIRE_H
#define SL_SERVER_PGWIRE_H

#include "base/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sql_engine;
struct keyset;

/* A TLS certificate and key, loaded once, shared by every connection (read-only). */
typedef struct pgwire_tls pgwire_tls;

/* Loads PEM files: SL_EINVAL with e naming the file when one cannot be read or parsed,
 * or when the key is not the certificate's. */
int pgwire_tls_new(const char *cert_file, const char *key_file, pgwire_tls **out, errmsg *e);
void pgwire_tls_free(pgwire_tls *t);

typedef struct pgwire_config {
    const char *host;        /* IPv4 address to bind (127.0.0.1 by default) */
    uint16_t port;           /* 0: any free port */
    int max_conns;           /* connections at once (0: 100) */
    size_t max_msg;          /* bytes of one frontend message (0: 64 MiB) */
    int idle_timeout_s;      /* a connection idle this long between queries is closed (0: never) */
    pgwire_tls *tls;         /* NULL: SSLRequest is answered 'N' (borrowed: outlives the listener) */
    bool require_tls;        /* a StartupMessage outside TLS is refused (28000) */
    const struct keyset *keys; /* NULL: trust; else SCRAM-SHA-256 against these (borrowed) */
} pgwire_config;

typedef struct pgwire pgwire;

int pgwire_start(const pgwire_config *c, struct sql_engine *eng, pgwire **out, errmsg *e);
uint16_t pgwire_port(const pgwire *p);
/* Stops accepting, cancels what runs, closes every connection, frees p. */
void pgwire_stop(pgwire *p);

#endif
