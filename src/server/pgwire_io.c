/*
 * pgwire_io.c - a PostgreSQL connection's transport: the socket as it is, or
 * TLS over it once an SSLRequest was answered 'S' (OpenSSL): frontend messages
 * in, the pending output written, a FATAL error sent when the connection ends
 * on one.  Below every other file of the listener.
 *
 * The socket stays blocking, under TLS too, so SSL_read and SSL_write are
 * plain calls that return when done.  Waiting with a timeout is a poll before
 * the read, which under TLS first asks SSL_pending: bytes OpenSSL already
 * decrypted would never wake a poll on the socket.  The handshake has 30 s
 * (SO_RCVTIMEO / SO_SNDTIMEO for its duration), like the rest of the startup,
 * so a client that stops half-way frees its thread; pgwire_stop's shutdown of
 * the socket wakes a handshake or a read at once.  Writes that fail with EPIPE
 * must not raise SIGPIPE: plain sends pass MSG_NOSIGNAL, and connection
 * threads block SIGPIPE for OpenSSL's own writes (pgwire.c).
 *
 * No lock is held here: a connection's transport is its thread's alone.
 */
#include "server/pgwire_int.h"

#include "base/alloc.h"
#include "base/log.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#define HANDSHAKE_S 30

struct pgwire_tls {
    SSL_CTX *ctx;
};

/* The first OpenSSL error of this thread as text (and the queue cleared). */
static const char *ssl_error(char *buf, size_t size)
{
    unsigned long err = ERR_get_error();
    if (err)
        ERR_error_string_n(err, buf, size);
    else
        snprintf(buf, size, "%s", strerror(errno));
    ERR_clear_error();
    return buf;
}

/* Whether this thread's OpenSSL errors say a key is not its certificate's (kept queued). */
static bool key_mismatch(void)
{
    unsigned long first = ERR_peek_error(), last = ERR_peek_last_error();
    return ERR_GET_REASON(first) == X509_R_KEY_VALUES_MISMATCH ||
           ERR_GET_REASON(last) == X509_R_KEY_VALUES_MISMATCH;
}

/* A PEM file that can be opened, or e says why it cannot. */
static int readable(const char *what, const char *path, errmsg *e)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errmsg_set(e, SL_EINVAL, "%s %s: %s", what, path, strerror(errno));
    fclose(f);
    return SL_OK;
}

int pgwire_tls_new(const char *cert_file, const char *key_file, pgwire_tls **out, errmsg *e)
{
    *out = NULL;
    char why[256];
    int rc = readable("--tls-cert", cert_file, e);
    if (!rc)
        rc = readable("--tls-key", key_file, e);
    if (rc)
        return rc;
    pgwire_tls *t = sl_calloc(1, sizeof *t);
    if (!t || !(t->ctx = SSL_CTX_new(TLS_server_method()))) {
        sl_free(t);
        return errmsg_set(e, SL_ENOMEM, "TLS: cannot create a context");
    }
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    /* no session cache (PostgreSQL has none) and no renegotiation a client could abuse */
    SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_OFF);
#ifdef SSL_OP_NO_RENEGOTIATION
    SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION);
#endif
    if (SSL_CTX_use_certificate_chain_file(t->ctx, cert_file) != 1)
        rc = errmsg_set(e, SL_EINVAL, "--tls-cert %s: not a PEM certificate: %s", cert_file,
                        ssl_error(why, sizeof why));
    else if (SSL_CTX_use_PrivateKey_file(t->ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        const char *what = key_mismatch() ? "does not match the certificate of --tls-cert"
                                          : "not a PEM private key";
        rc = errmsg_set(e, SL_EINVAL, "--tls-key %s: %s: %s", key_file, what,
                        ssl_error(why, sizeof why));
    } else if (SSL_CTX_check_private_key(t->ctx) != 1)
        rc = errmsg_set(e, SL_EINVAL, "--tls-key %s does not match the certificate of "
                        "--tls-cert %s: %s", key_file, cert_file, ssl_error(why, sizeof why));
    if (rc) {
        pgwire_tls_free(t);
        return rc;
    }
    *out = t;
    return SL_OK;
}

void pgwire_tls_free(pgwire_tls *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ctx);
    sl_free(t);
}

static void set_timeouts(int fd, int seconds)
{
    struct timeval tv = {.tv_sec = seconds};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

int pgw_tls_accept(pgconn *c)
{
    if (c->in_at < c->in_len) {
        /* bytes sent after the SSLRequest, before the handshake: not TLS, and never
         * to be read as if they were (PostgreSQL refuses them too) */
        log_debug("pgwire", "connection %d sent data after its SSLRequest", c->pid);
        c->gone = true;
        return SL_EIO;
    }
    SSL *ssl = SSL_new(c->pw->cfg.tls->ctx);
    if (!ssl || SSL_set_fd(ssl, c->fd) != 1) {
        SSL_free(ssl);
        ERR_clear_error();
        c->gone = true;
        return SL_ENOMEM;
    }
    c->ssl = ssl; /* from here on freed by pgw_io_close, whatever happens */
    set_timeouts(c->fd, HANDSHAKE_S);
    int r = SSL_accept(ssl);
    set_timeouts(c->fd, 0);
    if (r != 1) {
        char why[256];
        log_debug("pgwire", "TLS handshake of connection %d failed: %s", c->pid,
                  ssl_error(why, sizeof why));
        c->gone = true;
        return SL_EIO;
    }
    return SL_OK;
}

void pgw_io_close(pgconn *c)
{
    if (c->ssl) {
        if (!c->gone)
            SSL_shutdown(c->ssl); /* close_notify, without waiting for the client's */
        SSL_free(c->ssl);
        c->ssl = NULL;
        ERR_clear_error();
    }
}

/* What an SSL_read or SSL_write that returned r <= 0 means: 1 try again (a signal),
 * 0 the peer ended TLS cleanly, -1 an error.  The thread's error queue is emptied. */
static int ssl_outcome(pgconn *c, int r)
{
    int err = SSL_get_error(c->ssl, r);
    bool again = err == SSL_ERROR_SYSCALL && errno == EINTR;
    ERR_clear_error();
    return again ? 1 : err == SSL_ERROR_ZERO_RETURN ? 0 : -1;
}

/* One read of at most n bytes: > 0 bytes, 0 the peer closed, < 0 an error (EINTR retried). */
static ssize_t read_some(pgconn *c, void *p, size_t n)
{
    for (;;) {
        if (c->ssl) {
            int r = SSL_read(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
            if (r > 0)
                return r;
            int o = ssl_outcome(c, r);
            if (o == 1)
                continue;
            return o;
        }
        ssize_t r = recv(c->fd, p, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        return r;
    }
}

int pgw_read(pgconn *c, void *p, size_t n, int idle_ms)
{
    uint8_t *b = p;
    while (n) {
        if (c->in_at < c->in_len) { /* read ahead before */
            size_t k = c->in_len - c->in_at < n ? c->in_len - c->in_at : n;
            memcpy(b, c->in + c->in_at, k);
            c->in_at += (uint32_t)k;
            b += k;
            n -= k;
            continue;
        }
        bool buffered = c->ssl && SSL_pending(c->ssl) > 0;
        if (idle_ms > 0 && !buffered) {
            struct pollfd pf = {c->fd, POLLIN, 0};
            int pr = poll(&pf, 1, idle_ms);
            if (pr == 0)
                return SL_EAGAIN;
            if (pr < 0 && errno == EINTR)
                continue;
        }
        /* small reads fill the buffer (the rest of a pipeline comes with them); large
         * ones go straight to their destination */
        bool ahead = n < sizeof c->in;
        ssize_t r = ahead ? read_some(c, c->in, sizeof c->in) : read_some(c, b, n);
        if (r <= 0) {
            c->gone = true;
            return SL_EIO;
        }
        if (ahead) {
            c->in_at = 0;
            c->in_len = (uint32_t)r;
        } else {
            b += r;
            n -= (size_t)r;
        }
    }
    return SL_OK;
}

ssize_t pgw_send(pgconn *c, const void *p, size_t n)
{
    if (!c->ssl)
        return send(c->fd, p, n, MSG_NOSIGNAL);
    int w = SSL_write(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
    if (w > 0)
        return w;
    errno = ssl_outcome(c, w) == 1 ? EINTR : EPIPE; /* EINTR: pgw_flush tries again */
    return -1;
}

int pgw_read_msg(pgconn *c, size_t max, int head_ms, int body_ms, char *type, int32_t *len)
{
    uint8_t head[5];
    int rc = pgw_read(c, head, 5, head_ms);
    if (rc)
        return rc;
    pg_rd r;
    pg_rd_init(&r, head + 1, 4);
    *type = (char)head[0];
    *len = pg_rd_i32(&r);
    if (*len < 4 || (size_t)*len - 4 > max)
        return SL_ETOOBIG;
    dbuf_reset(&c->msg);
    if (dbuf_reserve(&c->msg, (size_t)*len - 4 + 1))
        return SL_ENOMEM;
    if ((rc = pgw_read(c, c->msg.p, (size_t)*len - 4, body_ms)))
        return rc == SL_EAGAIN ? SL_EIO : rc;
    c->msg.len = (size_t)*len - 4;
    return SL_OK;
}

int pgw_flush(pgconn *c)
{
    size_t off = 0;
    while (!c->gone && off < c->out.len) {
        ssize_t w = pgw_send(c, c->out.p + off, c->out.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            c->gone = true;
            break;
        }
        off += (size_t)w;
    }
    dbuf_reset(&c->out);
    return c->gone ? SL_EIO : SL_OK;
}

void pgw_fatal(pgconn *c, const char *state, const char *msg, const char *detail)
{
    sql_err e;
    sql_err_clear(&e);
    sql_err_set(&e, state, -1, "%s", msg);
    if (detail && *detail)
        sql_err_detail(&e, "%s", detail);
    pg_error(&c->out, "FATAL", &e, 0, false);
    pgw_flush(c);
}

int pgw_next_msg(pgconn *c, char *type, int idle_ms)
{
    int32_t len = 0;
    int rc = pgw_read_msg(c, c->pw->cfg.max_msg, idle_ms, 0, type, &len);
    if (rc == SL_ETOOBIG) {
        char msg[64];
        snprintf(msg, sizeof msg, "invalid message length: %d bytes", len);
        pgw_fatal(c, "08P01", msg, NULL);
    } else if (rc == SL_ENOMEM) {
        pgw_fatal(c, "53200", "out of memory for a message", NULL);
    }
    return rc;
}
