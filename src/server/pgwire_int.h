/*
 * pgwire_int.h - what the PostgreSQL listener's files share (see pgwire.h):
 * a connection's state, its prepared statements and portals, and the helpers
 * that write results.
 *
 *   pgwire.c       listener, connections, startup, the simple query protocol
 *   pgwire_ext.c   the extended query protocol (Parse, Bind, ...) and cursors
 *   pgwire_copy.c  COPY ... TO STDOUT
 *   pgwire_out.c   output to the client: writing, result rows, text scanning
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
} pgstmt;

/* A portal (Bind): a statement with its parameters, and its query once it runs. */
typedef struct pgportal {
    char *name;
    char *text;
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
    int fd;
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

/* pgwire_out.c */
int pgw_flush(pgconn *c);
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
