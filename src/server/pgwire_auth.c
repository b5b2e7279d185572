/*
 * pgwire_auth.c - authentication of a PostgreSQL startup: trust without a
 * keys file, else SCRAM-SHA-256 (scram.h) against the keys file (keys.h).
 *
 * The exchange, after the StartupMessage (docs/internals/pgwire.md has the
 * bytes):
 *
 *   S: AuthenticationSASL            R, 10, "SCRAM-SHA-256"
 *   C: SASLInitialResponse           p, "SCRAM-SHA-256", client-first-message
 *   S: AuthenticationSASLContinue    R, 11, server-first-message
 *   C: SASLResponse                  p, client-final-message
 *   S: AuthenticationSASLFinal       R, 12, server-final-message
 *   S: AuthenticationOk              R, 0
 *
 * The user is the startup packet's; the key of that name holds its verifier.
 * A user without a key goes through the same exchange with a made-up verifier
 * (keys_mock_verifier: a stable salt for that name) and fails at the proof
 * with the same error as a wrong password, 28P01, so neither the messages nor
 * the work done tell whether a name exists.  A malformed message is FATAL
 * 08P01 and the connection closes.  Every read waits 30 s at most.  The key
 * must have the query or admin scope (SQL); that is checked once the proof
 * shows the client holds the key.
 */
#include "server/pgwire_int.h"

#include "base/base64.h"
#include "base/log.h"
#include "server/keys.h"
#include "server/scram.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#define AUTH_WAIT_MS 30000
#define SERVER_NONCE_BYTES 18 /* as PostgreSQL: 24 characters of base64 */

static int refuse(pgconn *c, const char *state, const char *msg, const char *detail)
{
    pgw_fatal(c, state, msg, detail);
    return 0;
}

/* The next SASL message ('p') into c->msg; 0 or an error (answered when the client is there). */
static int read_sasl(pgconn *c)
{
    char type;
    int32_t len;
    int rc = pgw_read_msg(c, SCRAM_MSG_MAX + 64, AUTH_WAIT_MS, AUTH_WAIT_MS, &type, &len);
    if (rc == SL_ETOOBIG)
        refuse(c, "08P01", "invalid SASL message length", NULL);
    if (rc || type == 'X')
        return rc ? rc : SL_EIO;
    if (type != 'p') {
        char t[64];
        snprintf(t, sizeof t, "got message type %d", (uint8_t)type);
        refuse(c, "08P01", "expected a SASL response (message type 'p')", t);
        return SL_ECORRUPT;
    }
    return SL_OK;
}

/* A SCRAM message the client got wrong: 08P01, with what was wrong as detail. */
static int malformed(pgconn *c, int rc, const errmsg *e)
{
    return refuse(c, "08P01", rc == SL_EUNSUPPORTED ? "unsupported SCRAM option"
                                                    : "malformed SCRAM message", e->text);
}

/* SASLInitialResponse in c->msg: AuthenticationSASLContinue with the server-first-message. */
static int sasl_first(pgconn *c, scram_server *s)
{
    pg_sasl_initial in;
    scram_client_first cf;
    errmsg e = {0};
    int rc = pg_parse_sasl_initial(c->msg.p, c->msg.len, &in, &e);
    if (rc)
        return refuse(c, "08P01", "malformed SASL message", e.text);
    if (strcmp(in.mechanism, SCRAM_MECHANISM))
        return refuse(c, "08P01", "client selected an invalid SASL authentication mechanism",
                      "this server offers " SCRAM_MECHANISM " only");
    if ((rc = scram_parse_client_first((const char *)in.data, in.len, &cf, &e)))
        return malformed(c, rc, &e);
    uint8_t raw[SERVER_NONCE_BYTES];
    char nonce[B64_ENCODED_LEN(SERVER_NONCE_BYTES) + 1], first[SCRAM_MSG_MAX];
    size_t n = 0;
    if (getrandom(raw, sizeof raw, 0) != sizeof raw)
        return refuse(c, "XX000", "cannot draw a nonce", strerror(errno));
    b64_encode(raw, sizeof raw, nonce, sizeof nonce, false);
    if ((rc = scram_server_first(s, &cf, nonce, first, sizeof first, &n, &e)))
        return malformed(c, rc, &e);
    pg_auth_sasl_data(&c->out, PG_AUTH_SASL_CONTINUE, first, n);
    return 1;
}

/* SASLResponse in c->msg: checks the proof; AuthenticationSASLFinal when it holds. */
static int sasl_final(pgconn *c, scram_server *s, const key_entry *k, const char *user)
{
    scram_client_final cf;
    errmsg e = {0};
    const char *p = (const char *)c->msg.p;
    int rc = scram_parse_client_final(p, c->msg.len, &cf, &e);
    char final[SCRAM_MSG_MAX], msg[160];
    if (!rc)
        rc = scram_server_final(s, p, &cf, final, sizeof final, &e);
    if (rc == SL_EMISMATCH || (!rc && !k)) {
        log_info("pgwire", "connection %d: authentication of \"%.64s\" failed: %s", c->pid, user,
                 k ? "wrong secret" : "no such key");
        snprintf(msg, sizeof msg, "password authentication failed for user \"%.64s\"", user);
        return refuse(c, "28P01", msg, NULL);
    }
    if (rc)
        return malformed(c, rc, &e);
    if (!(k->scopes & (KEY_SCOPE_QUERY | KEY_SCOPE_ADMIN))) {
        snprintf(msg, sizeof msg, "key \"%s\" may not run SQL", k->name);
        return refuse(c, "28000", msg, "SQL over the PostgreSQL protocol needs the query or "
                      "admin scope");
    }
    c->no_admin = !(k->scopes & KEY_SCOPE_ADMIN);
    pg_auth_sasl_data(&c->out, PG_AUTH_SASL_FINAL, final, strlen(final));
    return 1;
}

int pgw_authenticate(pgconn *c, const char *user)
{
    const keyset *ks = c->pw->cfg.keys;
    if (ks && !*user)
        return refuse(c, "28000", "no PostgreSQL user name specified in startup packet", NULL);
    if (ks) {
        const key_entry *k = keys_find(ks, user);
        scram_verifier v;
        if (k)
            v = k->verifier;
        else
            keys_mock_verifier(ks, user, &v);
        scram_server s;
        scram_server_start(&s, &v, !k);
        pg_auth_sasl(&c->out, SCRAM_MECHANISM);
        if (pgw_flush(c) || read_sasl(c) || !sasl_first(c, &s))
            return 0;
        if (pgw_flush(c) || read_sasl(c) || !sasl_final(c, &s, k, user))
            return 0;
    }
    pg_auth_ok(&c->out);
    return 1;
}
