/*
 * scram.c - SCRAM-SHA-256, server side (see scram.h).
 *
 * The grammar is RFC 5802's, section 7; what is accepted is narrower where
 * PostgreSQL is narrower (no authorization identity, no mandatory extension)
 * and where this server is (no channel binding).  Every parser checks its
 * bounds against the length it is given: the input is not NUL-terminated and
 * may hold NULs, which are refused.
 */
#include "server/scram.h"

#include "base/base64.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#define VERIFIER_PREFIX "SCRAM-SHA-256$"

/* ---- key arithmetic ---- */

static int hmac(const uint8_t *key, size_t key_len, const void *data, size_t n,
                uint8_t out[SCRAM_KEY_LEN])
{
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), key, (int)key_len, data, n, out, &len) || len != SCRAM_KEY_LEN)
        return SL_EINTERNAL;
    return SL_OK;
}

static int salted_password(const char *password, const uint8_t *salt, size_t salt_len,
                           int iterations, uint8_t out[SCRAM_KEY_LEN])
{
    if (!PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)salt_len, iterations,
                           EVP_sha256(), SCRAM_KEY_LEN, out))
        return SL_EINTERNAL;
    return SL_OK;
}

int scram_verifier_make(const char *password, const uint8_t *salt, size_t salt_len,
                        int iterations, scram_verifier *v)
{
    if (salt_len == 0 || salt_len > SCRAM_SALT_MAX || iterations < 1 ||
        iterations > SCRAM_ITERATIONS_MAX)
        return SL_EINVAL;
    memset(v, 0, sizeof *v);
    uint8_t sp[SCRAM_KEY_LEN], ck[SCRAM_KEY_LEN];
    int rc = salted_password(password, salt, salt_len, iterations, sp);
    if (!rc)
        rc = hmac(sp, sizeof sp, "Client Key", 10, ck);
    if (!rc)
        rc = hmac(sp, sizeof sp, "Server Key", 10, v->server_key);
    if (!rc && !SHA256(ck, sizeof ck, v->stored_key))
        rc = SL_EINTERNAL;
    v->iterations = iterations;
    v->salt_len = salt_len;
    memcpy(v->salt, salt, salt_len);
    OPENSSL_cleanse(sp, sizeof sp);
    OPENSSL_cleanse(ck, sizeof ck);
    return rc;
}

int scram_client_proof(const char *password, const uint8_t *salt, size_t salt_len, int iterations,
                       const char *auth_message, size_t auth_len, uint8_t proof[SCRAM_KEY_LEN],
                       uint8_t server_sig[SCRAM_KEY_LEN])
{
    uint8_t sp[SCRAM_KEY_LEN], ck[SCRAM_KEY_LEN], stored[SCRAM_KEY_LEN], sk[SCRAM_KEY_LEN];
    uint8_t sig[SCRAM_KEY_LEN];
    int rc = salted_password(password, salt, salt_len, iterations, sp);
    if (!rc)
        rc = hmac(sp, sizeof sp, "Client Key", 10, ck);
    if (!rc && !SHA256(ck, sizeof ck, stored))
        rc = SL_EINTERNAL;
    if (!rc)
        rc = hmac(stored, sizeof stored, auth_message, auth_len, sig);
    if (!rc)
        rc = hmac(sp, sizeof sp, "Server Key", 10, sk);
    if (!rc)
        rc = hmac(sk, sizeof sk, auth_message, auth_len, server_sig);
    for (int i = 0; !rc && i < SCRAM_KEY_LEN; i++)
        proof[i] = ck[i] ^ sig[i];
    OPENSSL_cleanse(sp, sizeof sp);
    OPENSSL_cleanse(ck, sizeof ck);
    return rc;
}

/* ---- verifiers ---- */

/* Decodes base64 field s[0, n) of exactly want bytes (want 0: 1 .. cap bytes). */
static int b64_field(const char *s, size_t n, uint8_t *out, size_t cap, size_t want,
                     size_t *got, const char *what, errmsg *e)
{
    size_t len = 0;
    if (b64_decode(s, n, out, cap, &len) || len == 0 || (want && len != want))
        return errmsg_set(e, SL_ECORRUPT, "%s is not %s%zu bytes of base64", what,
                          want ? "" : "1 to ", want ? want : cap);
    if (got)
        *got = len;
    return SL_OK;
}

int scram_verifier_parse(const char *s, size_t n, scram_verifier *v, errmsg *e)
{
    memset(v, 0, sizeof *v);
    size_t pl = sizeof VERIFIER_PREFIX - 1;
    if (n < pl || memcmp(s, VERIFIER_PREFIX, pl))
        return errmsg_set(e, SL_ECORRUPT, "the verifier does not start with " VERIFIER_PREFIX);
    const char *p = s + pl, *end = s + n;
    long long it = 0;
    const char *d = p;
    while (p < end && *p >= '0' && *p <= '9' && p - d < 10)
        it = it * 10 + (*p++ - '0');
    if (p == d || *d == '0' || p == end || *p != ':' || it > SCRAM_ITERATIONS_MAX)
        return errmsg_set(e, SL_ECORRUPT, "the verifier's iteration count is not 1 to %d "
                          "followed by ':'", SCRAM_ITERATIONS_MAX);
    v->iterations = (int)it;
    const char *salt = ++p;
    const char *dollar = memchr(salt, '$', (size_t)(end - salt));
    if (!dollar)
        return errmsg_set(e, SL_ECORRUPT, "the verifier has no '$' after its salt");
    int rc = b64_field(salt, (size_t)(dollar - salt), v->salt, sizeof v->salt, 0, &v->salt_len,
                       "the salt", e);
    if (rc)
        return rc;
    const char *stored = dollar + 1;
    const char *colon = memchr(stored, ':', (size_t)(end - stored));
    if (!colon)
        return errmsg_set(e, SL_ECORRUPT, "the verifier has no ':' between StoredKey and "
                          "ServerKey");
    rc = b64_field(stored, (size_t)(colon - stored), v->stored_key, SCRAM_KEY_LEN, SCRAM_KEY_LEN,
                   NULL, "StoredKey", e);
    if (!rc)
        rc = b64_field(colon + 1, (size_t)(end - colon - 1), v->server_key, SCRAM_KEY_LEN,
                       SCRAM_KEY_LEN, NULL, "ServerKey", e);
    return rc;
}

int scram_verifier_format(const scram_verifier *v, char *out, size_t out_size)
{
    char salt[B64_ENCODED_LEN(SCRAM_SALT_MAX) + 1], st[48], sv[48];
    b64_encode(v->salt, v->salt_len, salt, sizeof salt, false);
    b64_encode(v->stored_key, SCRAM_KEY_LEN, st, sizeof st, false);
    b64_encode(v->server_key, SCRAM_KEY_LEN, sv, sizeof sv, false);
    int k = snprintf(out, out_size, VERIFIER_PREFIX "%d:%s$%s:%s", v->iterations, salt, st, sv);
    return k < 0 || (size_t)k >= out_size ? SL_ETOOBIG : SL_OK;
}

/* ---- client messages ---- */

/* A cursor over one message: attributes "x=value" separated by ','. */
typedef struct cur {
    const char *p, *end;
} cur;

/* Reads attribute `name` (any letter when 0) at the cursor: its value, up to ',' or the end. */
static bool attr(cur *c, char name, const char **val, size_t *len)
{
    if (c->end - c->p < 2 || c->p[1] != '=' || (name && c->p[0] != name) ||
        !((c->p[0] >= 'a' && c->p[0] <= 'z') || (c->p[0] >= 'A' && c->p[0] <= 'Z')))
        return false;
    const char *v = c->p + 2;
    const char *comma = memchr(v, ',', (size_t)(c->end - v));
    if (comma && comma + 1 == c->end)
        return false; /* a ',' must be followed by another attribute */
    const char *stop = comma ? comma : c->end;
    *val = v;
    *len = (size_t)(stop - v);
    c->p = comma ? comma + 1 : c->end;
    return true;
}

/* A nonce: 1 .. SCRAM_NONCE_MAX printable ASCII characters other than ','. */
static bool nonce_ok(const char *s, size_t n)
{
    if (n == 0 || n > SCRAM_NONCE_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7E || s[i] == ',')
            return false;
    return true;
}

/* The two characters after '=' in a saslname: "2C" (',') or "3D" ('='). */
static bool escape_ok(const char *s)
{
    return (s[0] == '2' && s[1] == 'C') || (s[0] == '3' && s[1] == 'D');
}

/* An extension's or a user name's value: no NUL; '=' only as =2C or =3D in a saslname. */
static bool value_ok(const char *s, size_t n, bool saslname)
{
    for (size_t i = 0; i < n; i++) {
        if (!s[i])
            return false;
        if (saslname && s[i] == '=' && (n - i < 3 || !escape_ok(s + i + 1)))
            return false;
    }
    return true;
}

/* Optional extensions up to the end (or up to a "p=" attribute when stop_at_proof). */
static bool extensions(cur *c, bool stop_at_proof)
{
    while (c->p < c->end) {
        if (stop_at_proof && c->end - c->p >= 2 && c->p[0] == 'p' && c->p[1] == '=')
            return true;
        const char *v;
        size_t n;
        if (!attr(c, 0, &v, &n) || !n || !value_ok(v, n, false))
            return false;
    }
    return !stop_at_proof;
}

int scram_parse_client_first(const char *p, size_t n, scram_client_first *out, errmsg *e)
{
    memset(out, 0, sizeof *out);
    if (n > SCRAM_MSG_MAX)
        return errmsg_set(e, SL_ECORRUPT, "the message is longer than %d bytes", SCRAM_MSG_MAX);
    if (n >= 2 && p[0] == 'p' && p[1] == '=')
        return errmsg_set(e, SL_EUNSUPPORTED, "the client asks for channel binding (p=), "
                          "which this server does not offer: only " SCRAM_MECHANISM
                          " without channel binding");
    if (n < 3 || (p[0] != 'n' && p[0] != 'y') || p[1] != ',')
        return errmsg_set(e, SL_ECORRUPT, "the GS2 header does not start with \"n,\" or \"y,\"");
    if (p[2] == 'a' && n > 3 && p[3] == '=')
        return errmsg_set(e, SL_EUNSUPPORTED, "an authorization identity (a=) is not supported");
    if (p[2] != ',')
        return errmsg_set(e, SL_ECORRUPT, "the GS2 header does not end with \",,\"");
    out->cbind_flag = p[0];
    cur c = {p + 3, p + n};
    out->bare = c.p;
    out->bare_len = n - 3;
    const char *v;
    size_t len;
    if (c.end - c.p >= 2 && c.p[0] == 'm' && c.p[1] == '=')
        return errmsg_set(e, SL_EUNSUPPORTED, "a mandatory extension (m=) is not supported");
    if (!attr(&c, 'n', &v, &len) || !value_ok(v, len, true) || c.p == c.end)
        return errmsg_set(e, SL_ECORRUPT, "no user name attribute (n=) then ','");
    if (!attr(&c, 'r', &out->nonce, &out->nonce_len) || !nonce_ok(out->nonce, out->nonce_len))
        return errmsg_set(e, SL_ECORRUPT, "no client nonce (r=) of 1 to %d printable "
                          "characters", SCRAM_NONCE_MAX);
    if (!extensions(&c, false))
        return errmsg_set(e, SL_ECORRUPT, "a malformed attribute after the nonce");
    return SL_OK;
}

int scram_parse_client_final(const char *p, size_t n, scram_client_final *out, errmsg *e)
{
    memset(out, 0, sizeof *out);
    if (n > SCRAM_MSG_MAX)
        return errmsg_set(e, SL_ECORRUPT, "the message is longer than %d bytes", SCRAM_MSG_MAX);
    cur c = {p, p + n};
    if (!attr(&c, 'c', &out->cbind, &out->cbind_len) || c.p == c.end)
        return errmsg_set(e, SL_ECORRUPT, "no channel binding attribute (c=) then ','");
    if (!attr(&c, 'r', &out->nonce, &out->nonce_len) || c.p == c.end ||
        !nonce_ok(out->nonce, out->nonce_len))
        return errmsg_set(e, SL_ECORRUPT, "no nonce attribute (r=) then ','");
    if (!extensions(&c, true))
        return errmsg_set(e, SL_ECORRUPT, "no proof attribute (p=) at the end");
    out->without_proof_len = (size_t)(c.p - p) - 1;
    const char *v;
    size_t len;
    attr(&c, 'p', &v, &len);
    if (c.p != c.end || memchr(v, ',', len))
        return errmsg_set(e, SL_ECORRUPT, "the proof is not the last attribute");
    return b64_field(v, len, out->proof, SCRAM_KEY_LEN, SCRAM_KEY_LEN, NULL, "the proof", e);
}

/* ---- the server's side ---- */

void scram_server_start(scram_server *s, const scram_verifier *v, bool fail)
{
    memset(s, 0, sizeof *s);
    s->v = *v;
    s->fail = fail;
}

static bool auth_add(scram_server *s, const char *p, size_t n)
{
    if (n > sizeof s->auth - 1 - s->auth_len)
        return false;
    memcpy(s->auth + s->auth_len, p, n);
    s->auth_len += n;
    s->auth[s->auth_len] = 0;
    return true;
}

int scram_server_first(scram_server *s, const scram_client_first *cf, const char *server_nonce,
                       char *out, size_t out_size, size_t *out_len, errmsg *e)
{
    size_t sn = strlen(server_nonce);
    if (!nonce_ok(server_nonce, sn) || !nonce_ok(cf->nonce, cf->nonce_len))
        return errmsg_set(e, SL_EINVAL, "bad nonce");
    memcpy(s->nonce, cf->nonce, cf->nonce_len);
    memcpy(s->nonce + cf->nonce_len, server_nonce, sn);
    s->nonce_len = cf->nonce_len + sn;
    s->nonce[s->nonce_len] = 0;
    s->cbind_flag = cf->cbind_flag;
    char salt[B64_ENCODED_LEN(SCRAM_SALT_MAX) + 1];
    b64_encode(s->v.salt, s->v.salt_len, salt, sizeof salt, false);
    int k = snprintf(out, out_size, "r=%s,s=%s,i=%d", s->nonce, salt, s->v.iterations);
    if (k < 0 || (size_t)k >= out_size)
        return errmsg_set(e, SL_ETOOBIG, "server-first-message too long");
    *out_len = (size_t)k;
    s->auth_len = 0;
    if (!auth_add(s, cf->bare, cf->bare_len) || !auth_add(s, ",", 1) || !auth_add(s, out, *out_len))
        return errmsg_set(e, SL_ETOOBIG, "the client-first-message is too long");
    return SL_OK;
}

int scram_server_final(scram_server *s, const char *p, const scram_client_final *cf, char *out,
                       size_t out_size, errmsg *e)
{
    /* c= is the base64 of the GS2 header the client sent first: "n,," or "y,," */
    const char *want = s->cbind_flag == 'y' ? "eSws" : "biws";
    if (cf->cbind_len != 4 || memcmp(cf->cbind, want, 4))
        return errmsg_set(e, SL_ECORRUPT, "the channel binding (c=) is not the GS2 header of "
                          "the first message");
    if (cf->nonce_len != s->nonce_len || memcmp(cf->nonce, s->nonce, s->nonce_len))
        return errmsg_set(e, SL_ECORRUPT, "the nonce (r=) is not this exchange's");
    if (!auth_add(s, ",", 1) || !auth_add(s, p, cf->without_proof_len))
        return errmsg_set(e, SL_ECORRUPT, "the client-final-message is too long");
    uint8_t sig[SCRAM_KEY_LEN], ck[SCRAM_KEY_LEN], h[SCRAM_KEY_LEN], ss[SCRAM_KEY_LEN];
    int rc = hmac(s->v.stored_key, SCRAM_KEY_LEN, s->auth, s->auth_len, sig);
    for (int i = 0; i < SCRAM_KEY_LEN; i++)
        ck[i] = cf->proof[i] ^ sig[i];
    if (!rc && !SHA256(ck, sizeof ck, h))
        rc = SL_EINTERNAL;
    if (!rc)
        rc = hmac(s->v.server_key, SCRAM_KEY_LEN, s->auth, s->auth_len, ss);
    if (rc)
        return errmsg_set(e, rc, "SCRAM arithmetic failed");
    /* the same work and one constant-time comparison whether the user exists or not */
    bool same = CRYPTO_memcmp(h, s->v.stored_key, SCRAM_KEY_LEN) == 0;
    if (!same || s->fail)
        return errmsg_set(e, SL_EMISMATCH, "wrong proof");
    char b[48];
    b64_encode(ss, sizeof ss, b, sizeof b, false);
    int k = snprintf(out, out_size, "v=%s", b);
    return k < 0 || (size_t)k >= out_size ? errmsg_set(e, SL_ETOOBIG, "out too small") : SL_OK;
}
