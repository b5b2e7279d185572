/*
 * s3_sign.h - AWS Signature Version 4 for S3 requests, as pure functions.
 *
 * Nothing here does I/O or reads a clock: the caller passes the method, the
 * canonical URI, the query parameters, the headers to sign, the payload hash,
 * the date and the keys, and gets the Authorization header value back.  That
 * keeps the signer testable against AWS's published examples byte for byte
 * (tests/unit/objstore/test_s3_sign.c), and the S3 backend (objstore_s3.c)
 * uses the same function for every request it sends: ranged GETs, listings
 * with continuation tokens, multipart uploads.
 *
 * The algorithm (AWS "Signature Version 4 signing process"):
 *
 *   CanonicalRequest = Method \n CanonicalURI \n CanonicalQuery \n
 *                      CanonicalHeaders \n SignedHeaders \n PayloadHash
 *   StringToSign     = "AWS4-HMAC-SHA256" \n Date \n Scope \n hex(SHA256(CanonicalRequest))
 *   Scope            = yyyymmdd/region/service/aws4_request
 *   SigningKey       = HMAC(HMAC(HMAC(HMAC("AWS4" secret, yyyymmdd), region), service),
 *                      "aws4_request")
 *   Signature        = hex(HMAC(SigningKey, StringToSign))
 *
 * CanonicalQuery is every parameter URI-encoded (RFC 3986 unreserved bytes kept,
 * everything else %XX upper case), sorted by encoded name then value, joined by
 * '&' with '=' always present.  CanonicalHeaders are lower-case names sorted,
 * each "name:value\n" with the value's surrounding blanks trimmed and inner runs
 * of blanks folded to one.  S3 URIs are encoded once (other services encode twice).
 */
#ifndef SL_OBJSTORE_S3_SIGN_H
#define SL_OBJSTORE_S3_SIGN_H

#include "base/dbuf.h"

#include <stddef.h>
#include <stdint.h>

/* At most this many query parameters and this many signed headers per request. */
#define S3_SIGN_MAX_KV 16

typedef struct s3_kv {
    const char *k;
    const char *v;
} s3_kv;

typedef struct s3_sign_in {
    const char *method;    /* "GET", "PUT", ... */
    const char *canon_uri; /* already URI-encoded path, '/' kept: "/bucket/a/b" */
    const s3_kv *query;    /* raw names and values (encoded here) */
    int nquery;
    const s3_kv *headers; /* lower-case names; must include host and x-amz-date */
    int nheaders;
    const char *payload_sha256; /* lower-case hex, or "UNSIGNED-PAYLOAD" */
    const char *amz_date;       /* "20130524T000000Z" (UTC) */
    const char *region;         /* "us-east-1" */
    const char *service;        /* "s3" */
    const char *access_key;
    const char *secret_key;
} s3_sign_in;

/*
 * Appends the Authorization header's value ("AWS4-HMAC-SHA256 Credential=...,
 * SignedHeaders=..., Signature=...") to auth.  canon and sts (each may be NULL)
 * receive the canonical request and the string to sign, for tests and for
 * debugging a SignatureDoesNotMatch.  0, SL_EINVAL (too many parameters or
 * headers, a malformed date) or SL_ENOMEM / SL_ETOOBIG from the buffers.
 */
int s3_sign(const s3_sign_in *in, dbuf *auth, dbuf *canon, dbuf *sts);

/* Appends the canonical query string of q[0..n) (also a valid URL query). */
int s3_query_append(dbuf *out, const s3_kv *q, int n);

/* Appends s[0..n) URI-encoded; '/' is kept as is when keep_slash. */
int s3_uri_encode(dbuf *out, const char *s, size_t n, int keep_slash);

/* Lower-case hex SHA-256 of p[0..n) into out (65 bytes with the NUL). */
void s3_sha256_hex(const void *p, size_t n, char out[65]);

#endif
