/*
 * pgwire_int.h - what the PostgreSQL listener's files share (see pgwire.h):
 * a connection's state, its prepared statements and portals, and the helpers
 * that write results.
 *
 *   pgwire.c       listener, connections, startup, the simple query protocol
 *   pgwire_ext.c   the extended query protocol (Parse, Bind, ...) and cursors
 *   pgwire_copy.c  COPY ... TO STDOUT
 *   pgwire_auth.c  authentication: trust, or SCRAM-SHA-256 against the keys file
 *   pgwire_out.c   result rows to the client, text scanning
 *   pgwire_io.c    the transport: the socket, or TLS over it; messages in, output out
 *   pgwire_msg.c   messages in and out (pure, fuzzed)
 */
#ifndef SL_SERVER_PGWIRE_INT_H
#define SL_SERVER_PGWIRE_INT_H

#include "base/dbuf.h"
#include "server/pgwire.h"
#include "server/pgwire_msg.h"
#include "sql/sql.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#define OUT_FLUSH (64u << 10)

typedef struct pgconn pgconn;

#define MAX_STMTS 256
#define MAX_PORTALS 64

/* A prepared statement of the extended protocol (Parse). */
typedef struct pgstmt {
    char *name;
    char *text;              /* one statement, or empty */
    int nparams;
    uint32_t *oids;          /* the types Parse gave (0: to be inferred) */
    sql_parsed_text *parsed; /* the text parsed once (NULL: it does not parse) */
} pgstmt;

/* A portal (Bind): a statement with its parameters, and its query once it runs. */
typedef struct pgportal {
    char *name;
    char *text;
    sql_parsed_text *parsed; /* its statement's, shared (NULL: parse the text) */
    int nparams;
    sql_datum *vals;         /* text of each parameter (NULL: SQL NULL) */
    sql_type *types;         /* ST_UNKNOWN: inferred from the text */
    dbuf pbytes;             /* the parameters' bytes */
    sql_params params;
    sql_query *q;
    const sql_batch *b;      /* the batch being sent, and its next row */
    int64_t brow;
    uint64_t rows;
    bool done, failed_open;
    int nrfmt;               /* result formats of Bind: 0 all text, 1 one for all, or n */
    int16_t rfmt[64];
} pgportal;

struct pgwire {
    pgwire_config cfg;
    struct sql_engine *eng;
    int lfd;
    uint16_t port;
    pthread_t accept_th;
    bool accept_on;
    pthread_mutex_t mu;
    pthread_cond_t cv;       /* a connection ended */
    pgconn *conns;
    int nconns;
    bool stopping;
    int32_t next_pid;
};

struct pgconn {
    pgwire *pw;
    bool no_admin;           /* its key lacks the admin scope (sql_session_deny_admin) */
    int fd;
    struct ssl_st *ssl;      /* TLS once an SSLRequest was answered 'S', else NULL */
    uint8_t in[8192];        /* bytes read ahead (pgwire_io.c): a recv takes a pipeline */
    uint32_t in_at, in_len;
    int32_t pid, secret;
    sql_session *s;
    _Atomic uint8_t cancel;
    dbuf out;                /* backend messages not written yet */
    dbuf msg;                /* the frontend message being read */
    dbuf val;                /* a value's text */
    dbuf stmt;               /* one statement of a simple query, NUL-terminated */
    bool gone;               /* the socket failed: stop at once */
    bool skip_to_sync;       /* an extended-protocol error: ignore until Sync */
    pgstmt stmts[MAX_STMTS];
    int nstmts;
    pgportal portals[MAX_PORTALS];
    int nportals;
    pgconn *next;
};

/* pgwire.c */
char pgw_tx_status(pgconn *c);

/* pgwire_io.c: the transport.  Reads set gone when the client left. */
/* The next frontend message into c->msg: 0 and its type, SL_EAGAIN after idle_ms (> 0)
 * without one, or another failure (answered; the connection is over). */
int pgw_next_msg(pgconn *c, char *type, int idle_ms);
/* Writes the pending output (c->out); SL_EIO when the client is gone. */
int pgw_flush(pgconn *c);
/* A FATAL ErrorResponse (detail may be NULL), sent at once; the connection closes after it. */
void pgw_fatal(pgconn *c, const char *state, const char *msg, const char *detail);
/* Reads exactly n bytes; idle_ms > 0: SL_EAGAIN when nothing comes for that long. */
int pgw_read(pgconn *c, void *p, size_t n, int idle_ms);
/* One write as send(2) does it (plain or TLS): bytes written, or -1 with errno. */
ssize_t pgw_send(pgconn *c, const void *p, size_t n);
/* A frontend message into c->msg: SL_OK with its type and length; SL_EAGAIN when nothing
 * comes in head_ms (> 0); SL_ETOOBIG when its length is under 4 or its body over max;
 * SL_ENOMEM; SL_EIO (gone).  Nothing is answered: the caller says what went wrong. */
int pgw_read_msg(pgconn *c, size_t max, int head_ms, int body_ms, char *type, int32_t *len);
/* After 'S' was sent: the TLS handshake (30 s at most). */
int pgw_tls_accept(pgconn *c);
/* Ends TLS (close_notify unless gone) and frees it; the socket stays open. */
void pgw_io_close(pgconn *c);

/* pgwire_auth.c: authenticates user as the listener is configured to (AuthenticationOk
 * written, not flushed: 1), or refuses with a FATAL error sent (0). */
int pgw_authenticate(pgconn *c, const char *user);

/* pgwire_out.c */
void pgw_short_msg(dbuf *out, char type);
/* RowDescription and DataRows, text or in Bind's per-column formats */
void pgw_row_description(pgconn *c, sql_query *q);
void pgw_row_description_fmt(pgconn *c, sql_query *q, int nfmt, const int16_t *fmt);
int pgw_data_rows(pgconn *c, sql_query *q, const sql_batch *b, int64_t from, int64_t to);
int pgw_data_rows_fmt(pgconn *c, sql_query *q, const sql_batch *b, int64_t from, int64_t to,
                      int nfmt, const int16_t *fmt);
/* Text scanning for the statements the listener handles itself (COPY, cursors). */
const char *pgw_skip_ws(const char *p);
const char *pgw_word(const char *p, const char *k);

/* pgwire_ext.c */
void pgw_ext_parse(pgconn *c, pg_rd *r);
void pgw_ext_bind(pgconn *c, pg_rd *r);
void pgw_ext_describe(pgconn *c, pg_rd *r);
void pgw_ext_execute(pgconn *c, pg_rd *r);
void pgw_ext_close(pgconn *c, pg_rd *r);
void pgw_ext_free(pgconn *c);
pgportal *pgw_find_portal(pgconn *c, const char *name);
void pgw_portal_drop(pgconn *c, pgportal *p);
/* DECLARE / FETCH / CLOSE: 0 not one of them, 1 done, 2 done with an error answered. */
int pgw_cursor_stmt(pgconn *c, const char *text);

/* pgwire_copy.c: COPY ... TO STDOUT (or a clear refusal of FROM STDIN); -1 when text is
 * not a COPY, else 0 done, 1 an error answered. */
int pgw_copy(pgconn *c, const char *text);

#endif
