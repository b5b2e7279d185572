/*
 * s3_sign.c - AWS Signature Version 4 (see s3_sign.h for the algorithm).
 *
 * Hashing and HMAC come from OpenSSL's one-shot calls (EVP_Digest, HMAC), which
 * are thread-safe and need no context.  Sorting works on at most S3_SIGN_MAX_KV
 * items, so it is an insertion sort over indices into one scratch buffer.
 */
#include "objstore/s3_sign.h"

#include "base/err.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

static const char g_hex[] = "0123456789abcdef";

static void hex_of(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = g_hex[p[i] >> 4];
        out[2 * i + 1] = g_hex[p[i] & 15];
    }
    out[2 * n] = 0;
}

void s3_sha256_hex(const void *p, size_t n, char out[65])
{
    uint8_t md[32];
    unsigned mdlen = 0;
    EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL);
    hex_of(md, 32, out);
}

static void hmac(const void *key, size_t klen, const char *msg, size_t mlen, uint8_t out[32])
{
    unsigned n = 32;
    HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, mlen, out, &n);
}

int s3_uri_encode(dbuf *out, const char *s, size_t n, int keep_slash)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/');
        char esc[3] = {'%', "0123456789ABCDEF"[c >> 4], "0123456789ABCDEF"[c & 15]};
        int rc = plain ? dbuf_append_byte(out, c) : dbuf_append(out, esc, 3);
        if (rc)
            return rc;
    }
    return SL_OK;
}

/* Sorts idx[0..n) by the NUL-terminated strings at base + off[idx], then by off2 if given. */
static void sort_idx(int *idx, int n, const char *base, const size_t *off, const size_t *off2)
{
    for (int i = 1; i < n; i++) {
        int x = idx[i], j = i - 1;
        for (; j >= 0; j--) {
            int c = strcmp(base + off[idx[j]], base + off[x]);
            if (c == 0 && off2)
                c = strcmp(base + off2[idx[j]], base + off2[x]);
            if (c <= 0)
                break;
            idx[j + 1] = idx[j];
        }
        idx[j + 1] = x;
    }
}

int s3_query_append(dbuf *out, const s3_kv *q, int n)
{
    if (n > S3_SIGN_MAX_KV)
        return SL_EINVAL;
    size_t koff[S3_SIGN_MAX_KV] = {0}, voff[S3_SIGN_MAX_KV] = {0};
    int idx[S3_SIGN_MAX_KV];
    dbuf scratch;
    dbuf_init(&scratch, (size_t)1 << 20);
    int rc = SL_OK;
    for (int i = 0; i < n && !rc; i++) {
        idx[i] = i;
        koff[i] = scratch.len;
        rc = s3_uri_encode(&scratch, q[i].k, strlen(q[i].k), 0) || dbuf_append_byte(&scratch, 0);
        voff[i] = scratch.len;
        const char *v = q[i].v ? q[i].v : "";
        if (!rc)
            rc = s3_uri_encode(&scratch, v, strlen(v), 0) || dbuf_append_byte(&scratch, 0);
    }
    if (rc) {
        rc = SL_ENOMEM;
        goto out;
    }
    sort_idx(idx, n, (const char *)scratch.p, koff, voff);
    for (int i = 0; i < n && !rc; i++) {
        const char *b = (const char *)scratch.p;
        rc = (i && dbuf_append_byte(out, '&')) || dbuf_append_str(out, b + koff[idx[i]]) ||
             dbuf_append_byte(out, '=') || dbuf_append_str(out, b + voff[idx[i]]);
    }
    if (rc)
        rc = SL_ENOMEM;
out:
    dbuf_free(&scratch);
    return rc;
}

/* Appends a header value trimmed, inner runs of blanks folded to one space. */
static int append_trimmed(dbuf *out, const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    int pending = 0;
    for (; *v; v++) {
        if (*v == ' ' || *v == '\t') {
            pending = 1;
            continue;
        }
        if ((pending && dbuf_append_byte(out, ' ')) || dbuf_append_byte(out, (uint8_t)*v))
            return SL_ENOMEM;
        pending = 0;
    }
    return SL_OK;
}

/* The canonical headers block and the signed-headers list. */
static int canon_headers(const s3_sign_in *in, dbuf *canon, dbuf *signed_names)
{
    int idx[S3_SIGN_MAX_KV];
    size_t off[S3_SIGN_MAX_KV] = {0};
    const char *base = NULL;
    /* The names are sorted in place through offsets into one scratch copy. */
    dbuf names;
    dbuf_init(&names, (size_t)1 << 16);
    int rc = SL_OK;
    for (int i = 0; i < in->nheaders && !rc; i++) {
        idx[i] = i;
        off[i] = names.len;
        rc = dbuf_append_str(&names, in->headers[i].k) || dbuf_append_byte(&names, 0);
    }
    if (rc)
        goto out;
    base = (const char *)names.p;
    sort_idx(idx, in->nheaders, base, off, NULL);
    for (int i = 0; i < in->nheaders && !rc; i++) {
        const s3_kv *h = &in->headers[idx[i]];
        rc = dbuf_append_str(canon, base + off[idx[i]]) || dbuf_append_byte(canon, ':') ||
             append_trimmed(canon, h->v ? h->v : "") || dbuf_append_byte(canon, '\n') ||
             (i && dbuf_append_byte(signed_names, ';')) ||
             dbuf_append_str(signed_names, base + off[idx[i]]);
    }
out:
    dbuf_free(&names);
    return rc ? SL_ENOMEM : SL_OK;
}

int s3_sign(const s3_sign_in *in, dbuf *auth, dbuf *canon_out, dbuf *sts_out)
{
    if (in->nheaders < 1 || in->nheaders > S3_SIGN_MAX_KV || in->nquery > S3_SIGN_MAX_KV ||
        strlen(in->amz_date) != 16 || in->amz_date[8] != 'T')
        return SL_EINVAL;
    dbuf canon, sh, sts;
    dbuf_init(&canon, (size_t)1 << 20);
    dbuf_init(&sh, (size_t)1 << 16);
    dbuf_init(&sts, (size_t)1 << 16);
    int rc = dbuf_printf(&canon, "%s\n%s\n", in->method, in->canon_uri) ||
             s3_query_append(&canon, in->query, in->nquery) || dbuf_append_byte(&canon, '\n') ||
             canon_headers(in, &canon, &sh) ||
             dbuf_printf(&canon, "\n%s\n%s", (const char *)sh.p, in->payload_sha256);
    if (rc) {
        rc = SL_ENOMEM;
        goto out;
    }
    char day[9], hash[65];
    memcpy(day, in->amz_date, 8);
    day[8] = 0;
    s3_sha256_hex(canon.p, canon.len, hash);
    if (dbuf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", in->amz_date, day,
                    in->region, in->service, hash)) {
        rc = SL_ENOMEM;
        goto out;
    }
    /* The signing key: HMAC chain from "AWS4" + secret over day, region, service. */
    char k0[256];
    size_t klen = (size_t)snprintf(k0, sizeof k0, "AWS4%s", in->secret_key);
    if (klen >= sizeof k0) {
        rc = SL_EINVAL;
        goto out;
    }
    uint8_t k1[32], k2[32], k3[32], k4[32], sig[32];
    hmac(k0, klen, day, 8, k1);
    hmac(k1, 32, in->region, strlen(in->region), k2);
    hmac(k2, 32, in->service, strlen(in->service), k3);
    hmac(k3, 32, "aws4_request", 12, k4);
    hmac(k4, 32, (const char *)sts.p, sts.len, sig);
    char sig_hex[65];
    hex_of(sig, 32, sig_hex);
    memset(k0, 0, sizeof k0);
    if (dbuf_printf(auth,
                    "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, "
                    "SignedHeaders=%s, Signature=%s",
                    in->access_key, day, in->region, in->service, (const char *)sh.p, sig_hex)) {
        rc = SL_ENOMEM;
        goto out;
    }
    if (canon_out && dbuf_append(canon_out, canon.p, canon.len))
        rc = SL_ENOMEM;
    if (sts_out && dbuf_append(sts_out, sts.p, sts.len))
        rc = SL_ENOMEM;
out:
    dbuf_free(&canon);
    dbuf_free(&sh);
    dbuf_free(&sts);
    return rc;
}
