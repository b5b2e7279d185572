/*
 * pgwire.c - the PostgreSQL protocol listener: connections, startup, the
 * simple query protocol (see pgwire.h; the extended protocol and cursors in
 * pgwire_ext.c, COPY in pgwire_copy.c, result rows in pgwire_out.c, messages in
 * pgwire_msg.c).
 *
 * Each connection has its own thread and its own SQL session.  The first
 * packet may ask for SSL or GSS encryption: GSS is answered 'N', SSL too unless
 * the listener has a certificate (--tls-cert), when it is answered 'S' and the
 * TLS handshake follows (pgwire_io.c); the client goes on in the clear after
 * an 'N', as libpq does by default, unless --pg-require-tls refuses it.
 * Authentication is trust, or SCRAM-SHA-256 with a keys file (pgwire_auth.c).
 * A query's rows go out as DataRows (text, or binary as Bind asks) as
 * they come from the engine, batch by batch; the output is written whenever
 * 64 KiB are pending, so memory per connection stays bounded whatever the
 * result's size.  A client that goes away mid-result cancels its query.
 * CancelRequest on another connection finds the query by (pid, secret key).
 */
#define SL_TARGET "streamlake.server"
#include "server/pgwire_int.h"

#include "base/alloc.h"
#include "base/dbuf.h"
#include "base/log.h"
#include "server/pgwire_msg.h"
#include "sql/sql.h"
#include "sql/types/value.h"
#include "streamlake/trace.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define STARTUP_MAX 10000

static int32_t be32(const uint8_t *p)
{
    return (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]);
}

/* A FATAL error sent at once (the connection closes after it). */
static void fatal(pgconn *c, const char *state, const char *fmt, const char *arg)
{
    char msg[512];
    snprintf(msg, sizeof msg, fmt, arg);
    pgw_fatal(c, state, msg, NULL);
}

/* Characters (not bytes) in text[0, n): positions in errors count characters. */
static int chars(const char *text, size_t n)
{
    int k = 0;
    for (size_t i = 0; i < n; i++)
        k += ((uint8_t)text[i] & 0xC0) != 0x80;
    return k;
}


/* After SET / RESET of a setting the client tracks: ParameterStatus with its value now. */
static void report_settings(pgconn *c, const char *text)
{
    static const char *const tracked[] = {"application_name", "client_encoding", "DateStyle",
                                          "IntervalStyle", "TimeZone",
                                          "standard_conforming_strings"};
    for (size_t i = 0; i < sizeof tracked / sizeof tracked[0]; i++) {
        if (!strcasestr(text, tracked[i]))
            continue;
        char buf[256];
        const char *v = sql_session_get(c->s, tracked[i], buf, sizeof buf);
        pg_parameter_status(&c->out, tracked[i], v ? v : "");
    }
}

/* Runs one statement: its rows and CommandComplete, or an ErrorResponse (1 then). */
static int run_stmt_inner(pgconn *c, const char *text, int pos_offset, sql_parsed_text *pt)
{
    int cur = pgw_cursor_stmt(c, text);
    if (cur)
        return cur - 1;
    int copied = pgw_copy(c, text);
    if (copied >= 0)
        return copied;
    sql_query_opts o = {.parsed = pt, .begin_ns = INT64_MIN, .end_ns = INT64_MAX,
                        .cancel = &c->cancel};
    atomic_store(&c->cancel, 0);
    sql_query *q;
    sql_err e;
    sql_err_clear(&e);
    int rc = sql_query_open(c->s, text, &o, &q, &e);
    if (rc) {
        pg_error(&c->out, "ERROR", &e, e.position ? e.position + pos_offset : 0, false);
        return 1;
    }
    if (sql_query_has_rows(q))
        pgw_row_description(c, q);
    for (;;) {
        const sql_batch *b;
        if ((rc = sql_query_next(q, &b, &e))) {
            pg_error(&c->out, "ERROR", &e, e.position ? e.position + pos_offset : 0, false);
            sql_query_close(q);
            return 1;
        }
        if (!b)
            break;
        if ((rc = pgw_data_rows(c, q, b, 0, b->n))) {
            sql_query_cancel(q);
            sql_query_close(q);
            if (c->gone)
                return 1;
            sql_err_set(&e, "XX000", -1, "cannot format a value: %s", sl_strerror(rc));
            pg_error(&c->out, "ERROR", &e, 0, false);
            return 1;
        }
    }
    const char *tag = sql_query_tag(q);
    pg_command_complete(&c->out, tag);
    if (!strcmp(tag, "SET") || !strcmp(tag, "RESET"))
        report_settings(c, text);
    sql_query_close(q);
    return 0;
}

/* run_stmt_inner inside a span (serve records itself: server/self_trace.h). */
static int run_stmt(pgconn *c, const char *text, int pos_offset, sql_parsed_text *pt)
{
    sl_async_span sp = SL_ASYNC_BEGIN("sql.query.pgwire", NULL);
    int rc = run_stmt_inner(c, text, pos_offset, pt);
    sl_async_end(&sp);
    return rc;
}

typedef struct split_ctx {
    const char *text;
    const char **s;
    size_t *n;
    int count, cap;
} split_ctx;

static int take_stmt(void *arg, const char *stmt, size_t n)
{
    split_ctx *x = arg;
    if (x->count == x->cap) {
        int cap = x->cap ? x->cap * 2 : 8;
        const char **s = sl_realloc(x->s, sizeof *s * (size_t)cap);
        size_t *l = s ? sl_realloc(x->n, sizeof *l * (size_t)cap) : NULL;
        if (s)
            x->s = s;
        if (!s || !l)
            return SL_ENOMEM;
        x->n = l;
        x->cap = cap;
    }
    x->s[x->count] = stmt;
    x->n[x->count++] = n;
    return SL_OK;
}

char pgw_tx_status(pgconn *c)
{
    return sql_session_in_tx(c->s) ? 'T' : 'I';
}

/* 'Q': one or more statements; the first error ends the string's run. */
static void simple_query(pgconn *c, const char *text)
{
    sql_parsed_text *pt = sql_parsed_text_new(text);
    if (pt && sql_parsed_text_count(pt) == 1) {
        /* the usual case, one statement: parsed once, not split first */
        run_stmt(c, text, 0, pt);
        sql_parsed_text_unref(pt);
        pg_ready(&c->out, pgw_tx_status(c));
        pgw_flush(c);
        return;
    }
    sql_parsed_text_unref(pt);
    split_ctx x = {text, NULL, NULL, 0, 0};
    sql_err e;
    sql_err_clear(&e);
    int rc = sql_split(text, take_stmt, &x, &e);
    if (rc) {
        if (!e.state[0])
            sql_err_set(&e, rc == SL_ENOMEM ? "53200" : "42601", -1, "%s", sl_strerror(rc));
        pg_error(&c->out, "ERROR", &e, e.position, false);
    } else if (!x.count) {
        pg_empty_query(&c->out);
    }
    for (int i = 0; !rc && i < x.count && !c->gone; i++) {
        dbuf_reset(&c->stmt);
        dbuf_append(&c->stmt, x.s[i], x.n[i]);
        dbuf_append_byte(&c->stmt, 0);
        if (run_stmt(c, (const char *)c->stmt.p, chars(text, (size_t)(x.s[i] - text)), NULL))
            break;
    }
    sl_free(x.s);
    sl_free(x.n);
    pg_ready(&c->out, pgw_tx_status(c));
    pgw_flush(c);
}

/* ---- connections ---- */

static void unregister(pgconn *c)
{
    pgwire *pw = c->pw;
    pthread_mutex_lock(&pw->mu);
    for (pgconn **p = &pw->conns; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    pw->nconns--;
    pthread_cond_broadcast(&pw->cv);
    pthread_mutex_unlock(&pw->mu);
}

/* CancelRequest: the connection with this key stops its query (nothing is answered). */
static void cancel_by_key(pgwire *pw, int32_t pid, int32_t secret)
{
    pthread_mutex_lock(&pw->mu);
    for (pgconn *c = pw->conns; c; c = c->next)
        if (c->pid == pid && c->secret == secret)
            atomic_store(&c->cancel, 1);
    pthread_mutex_unlock(&pw->mu);
}

/*
 * After a StartupMessage: TLS when it is required, authentication, the session,
 * then the parameters and ReadyForQuery.  1: go on; 0: refused (answered).
 */
static int begin_session(pgconn *c, const pg_startup *st)
{
    if (c->pw->cfg.require_tls && !c->ssl) {
        pgw_fatal(c, "28000", "this server accepts only TLS connections",
                  "connect with sslmode=require (or verify-ca, verify-full)");
        return 0;
    }
    pthread_mutex_lock(&c->pw->mu);
    bool full = c->pw->nconns > c->pw->cfg.max_conns;
    pthread_mutex_unlock(&c->pw->mu);
    if (full) {
        fatal(c, "53300", "sorry, too many clients already%s", "");
        return 0;
    }
    /* st points into c->msg, which authentication reads into: keep what is needed */
    const char *u = pg_startup_get(st, "user"), *a = pg_startup_get(st, "application_name");
    char *user = sl_strdup(u ? u : ""), *app = sl_strdup(a ? a : "");
    int ok = user && app;
    if (!ok)
        fatal(c, "53200", "out of memory%s", "");
    else
        ok = pgw_authenticate(c, user);
    if (ok && sql_session_new(c->pw->eng, &c->s)) {
        fatal(c, "53200", "out of memory%s", "");
        ok = 0;
    }
    if (ok) {
        sql_err e;
        sql_err_clear(&e);
        sql_session_set_backend_pid(c->s, c->pid);
        if (c->no_admin)
            sql_session_deny_admin(c->s);
        if (a)
            sql_session_set(c->s, "application_name", app, &e);
        static const char *const params[][2] = {
            {"server_version", "15.0"},         {"server_encoding", "UTF8"},
            {"client_encoding", "UTF8"},        {"DateStyle", "ISO, MDY"},
            {"IntervalStyle", "postgres"},      {"TimeZone", "UTC"},
            {"integer_datetimes", "on"},        {"standard_conforming_strings", "on"},
            {"is_superuser", "on"},             {"session_authorization", "streamlake"},
        };
        for (size_t i = 0; i < sizeof params / sizeof params[0]; i++)
            pg_parameter_status(&c->out, params[i][0], params[i][1]);
        pg_parameter_status(&c->out, "application_name", app);
        pg_backend_key(&c->out, c->pid, c->secret);
        pg_ready(&c->out, 'I');
        ok = !pgw_flush(c);
    }
    sl_free(user);
    sl_free(app);
    return ok;
}

/* The first packets: an SSLRequest answered 'S' (then the TLS handshake) when the
 * listener has a certificate, else 'N' as a GSSENCRequest, then a StartupMessage or a
 * CancelRequest.  1: go on with the session; 0: done (cancel, refusal, error). */
static int startup(pgconn *c)
{
    for (int tries = 0; tries < 3; tries++) {
        uint8_t len4[4];
        if (pgw_read(c, len4, 4, 30000))
            return 0;
        int32_t len = be32(len4);
        if (len < 8 || len > STARTUP_MAX) {
            fatal(c, "08P01", "invalid length of startup packet%s", "");
            return 0;
        }
        dbuf_reset(&c->msg);
        if (dbuf_reserve(&c->msg, (size_t)len) || pgw_read(c, c->msg.p, (size_t)len - 4, 30000))
            return 0;
        pg_startup st;
        errmsg em = {0};
        if (pg_parse_startup(c->msg.p, (size_t)len - 4, &st, &em)) {
            fatal(c, "08P01", "%s", em.text);
            return 0;
        }
        if (st.code == PG_SSL_REQUEST || st.code == PG_GSSENC_REQUEST) {
            bool tls = st.code == PG_SSL_REQUEST && c->pw->cfg.tls && !c->ssl;
            dbuf_append_byte(&c->out, tls ? 'S' : 'N');
            if (pgw_flush(c) || (tls && pgw_tls_accept(c)))
                return 0;
            continue;
        }
        if (st.code == PG_CANCEL_REQUEST) {
            cancel_by_key(c->pw, st.pid, st.secret);
            return 0;
        }
        if (st.code != PG_PROTOCOL_3) {
            char v[32];
            snprintf(v, sizeof v, "%d.%d", st.code >> 16, st.code & 0xFFFF);
            fatal(c, "0A000", "unsupported frontend protocol %s: server supports 3.0", v);
            return 0;
        }
        return begin_session(c, &st);
    }
    return 0;
}

static void serve_conn(pgconn *c)
{
    if (!startup(c))
        return;
    int idle_ms = c->pw->cfg.idle_timeout_s > 0 ? c->pw->cfg.idle_timeout_s * 1000 : 0;
    while (!c->gone) {
        char type;
        int rc = pgw_next_msg(c, &type, idle_ms);
        if (rc == SL_EAGAIN) {
            fatal(c, "57P05", "terminating connection due to idle-session timeout%s", "");
            return;
        }
        if (rc)
            return;
        pg_rd r;
        pg_rd_init(&r, c->msg.p, c->msg.len);
        if (c->skip_to_sync && type != 'S' && type != 'X')
            continue;
        switch (type) {
        case 'Q': {
            const char *text = pg_rd_str(&r);
            if (r.bad) {
                fatal(c, "08P01", "invalid query message: the text has no terminator%s", "");
                return;
            }
            simple_query(c, text);
            break;
        }
        case 'X':
            return;
        case 'S': {
            c->skip_to_sync = false;
            pgportal *un = pgw_find_portal(c, "");
            if (un)
                pgw_portal_drop(c, un); /* the unnamed portal ends with its implicit transaction */
            pg_ready(&c->out, pgw_tx_status(c));
            pgw_flush(c);
            break;
        }
        case 'H':
            pgw_flush(c);
            break;
        case 'P':
            pgw_ext_parse(c, &r);
            break;
        case 'B':
            pgw_ext_bind(c, &r);
            break;
        case 'D':
            pgw_ext_describe(c, &r);
            break;
        case 'E':
            pgw_ext_execute(c, &r);
            break;
        case 'C':
            pgw_ext_close(c, &r);
            break;
        case 'd':
        case 'c':
        case 'f':
            break; /* copy data outside a copy: ignored, as PostgreSQL does */
        default: {
            char t[8];
            snprintf(t, sizeof t, "%d", (uint8_t)type);
            fatal(c, "08P01", "invalid frontend message type %s", t);
            return;
        }
        }
    }
}

static void *conn_main(void *arg)
{
    pgconn *c = arg;
    /* OpenSSL writes with write(2): a client that left must not raise SIGPIPE (a pending
     * SIGPIPE of this thread is dropped with it) */
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, NULL);
    serve_conn(c);
    pgw_ext_free(c);
    unregister(c);
    if (c->s)
        sql_session_free(c->s);
    pgw_io_close(c);
    close(c->fd);
    dbuf_free(&c->out);
    dbuf_free(&c->msg);
    dbuf_free(&c->val);
    dbuf_free(&c->stmt);
    sl_free(c);
    return NULL;
}

static void *accept_main(void *arg)
{
    pgwire *pw = arg;
    for (;;) {
        int fd = accept(pw->lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            pthread_mutex_lock(&pw->mu);
            bool stop = pw->stopping;
            pthread_mutex_unlock(&pw->mu);
            if (stop)
                break;
            if (errno == EMFILE || errno == ENFILE || errno == ENOMEM) {
                usleep(10000);
                continue;
            }
            break;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pgconn *c = sl_calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->pw = pw;
        c->fd = fd;
        dbuf_init(&c->out, (size_t)1 << 30);
        dbuf_init(&c->msg, pw->cfg.max_msg + 16);
        dbuf_init(&c->val, (size_t)1 << 30);
        dbuf_init(&c->stmt, pw->cfg.max_msg + 16);
        if (getrandom(&c->secret, sizeof c->secret, 0) != sizeof c->secret)
            c->secret = (int32_t)(uintptr_t)c ^ (int32_t)time(NULL);
        pthread_mutex_lock(&pw->mu);
        if (pw->stopping) {
            pthread_mutex_unlock(&pw->mu);
            close(fd);
            sl_free(c);
            break;
        }
        c->pid = ++pw->next_pid;
        c->next = pw->conns;
        pw->conns = c;
        pw->nconns++;
        pthread_mutex_unlock(&pw->mu);
        pthread_t th;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&th, &at, conn_main, c) != 0)
            conn_main(c); /* no thread: refuse by closing (it reads nothing) */
        pthread_attr_destroy(&at);
    }
    return NULL;
}

int pgwire_start(const pgwire_config *cfg, struct sql_engine *eng, pgwire **out, errmsg *e)
{
    *out = NULL;
    pgwire *pw = sl_calloc(1, sizeof *pw);
    if (!pw)
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    pw->cfg = *cfg;
    if (pw->cfg.max_conns <= 0)
        pw->cfg.max_conns = 100;
    if (!pw->cfg.max_msg)
        pw->cfg.max_msg = (size_t)64 << 20;
    pw->eng = eng;
    pw->next_pid = 10000 + (int32_t)(getpid() % 1000) * 1000;
    pthread_mutex_init(&pw->mu, NULL);
    pthread_cond_init(&pw->cv, NULL);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(cfg->port)};
    const char *host = cfg->host && *cfg->host ? cfg->host : "127.0.0.1";
    if (!strcmp(host, "localhost"))
        host = "127.0.0.1";
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        sl_free(pw);
        return errmsg_set(e, SL_EINVAL, "--pg-listen: '%s' is not an IPv4 address", host);
    }
    pw->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (pw->lfd >= 0)
        setsockopt(pw->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (pw->lfd < 0 || bind(pw->lfd, (struct sockaddr *)&sa, sizeof sa) || listen(pw->lfd, 128)) {
        int err = errno;
        if (pw->lfd >= 0)
            close(pw->lfd);
        sl_free(pw);
        return errmsg_set(e, SL_EIO, "PostgreSQL listener on %s:%u: %s", host, cfg->port,
                          strerror(err));
    }
    socklen_t sl = sizeof sa;
    getsockname(pw->lfd, (struct sockaddr *)&sa, &sl);
    pw->port = ntohs(sa.sin_port);
    if (pthread_create(&pw->accept_th, NULL, accept_main, pw) != 0) {
        close(pw->lfd);
        sl_free(pw);
        return errmsg_set(e, SL_ENOMEM, "cannot start the PostgreSQL listener's thread");
    }
    pw->accept_on = true;
    *out = pw;
    return SL_OK;
}

uint16_t pgwire_port(const pgwire *p)
{
    return p->port;
}

void pgwire_stop(pgwire *pw)
{
    if (!pw)
        return;
    pthread_mutex_lock(&pw->mu);
    pw->stopping = true;
    /* wake every connection: running queries stop, blocked reads return */
    for (pgconn *c = pw->conns; c; c = c->next) {
        atomic_store(&c->cancel, 1);
        shutdown(c->fd, SHUT_RDWR);
    }
    pthread_mutex_unlock(&pw->mu);
    shutdown(pw->lfd, SHUT_RDWR);
    if (pw->accept_on)
        pthread_join(pw->accept_th, NULL);
    close(pw->lfd);
    pthread_mutex_lock(&pw->mu);
    while (pw->nconns > 0)
        pthread_cond_wait(&pw->cv, &pw->mu);
    pthread_mutex_unlock(&pw->mu);
    pthread_mutex_destroy(&pw->mu);
    pthread_cond_destroy(&pw->cv);
    sl_free(pw);
}
