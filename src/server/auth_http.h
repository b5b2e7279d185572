/*
 * auth_http.h - API keys on the HTTP listener: `Authorization: Bearer KEY`.
 *
 * With `serve --keys FILE` every HTTP request must present a key of that file
 * (server/keys.h) whose scopes include what its route needs: ingestion
 * routes `ingest`, reading and querying routes `query`, routes that build or
 * delete `admin` (docs/internals/http-api.md, "Keys").  The file holds SCRAM
 * verifiers, never secrets: a presented secret is checked by computing its
 * StoredKey with the key's salt and iteration count (PBKDF2, as PostgreSQL
 * clients do) and comparing in constant time.  Successful and failed checks
 * are remembered (by the secret's SHA-256, in a fixed table), so a client that
 * sends the same key on every request pays PBKDF2 once.
 *
 * Refusals: 401 with `WWW-Authenticate: Bearer realm="streamlake"` when no key
 * or an unknown key is presented, 403 when the key lacks the scope.  The body
 * is read and dropped: nothing is stored, nothing about the keys is revealed.
 */
#ifndef SL_SERVER_AUTH_HTTP_H
#define SL_SERVER_AUTH_HTTP_H

#include "base/err.h"
#include "server/keys.h"

#include <stddef.h>

typedef struct http_auth http_auth;

/* Uses (does not own) ks, which must outlive the handle. */
int http_auth_new(const keyset *ks, http_auth **out, errmsg *e);
void http_auth_free(http_auth *a);

/*
 * Checks the Authorization header's value (NULL when absent) for a route that
 * needs the scope bits `need` (0: any valid key).  Returns 0 when allowed (with
 * *scopes the key's), else 401 or 403 with a one-line reason in reason[0, size).
 */
int http_auth_check(http_auth *a, const char *authorization, unsigned need, unsigned *scopes,
                    char *reason, size_t size);

/*
 * Loopback stays the default; another address needs keys.  SL_EINVAL, with e
 * naming the listener, when http_host (or pg_host, NULL: no PostgreSQL
 * listener) is not a loopback address and have_keys is 0.
 */
int http_auth_exposure_check(const char *http_host, const char *pg_host, int have_keys,
                             errmsg *e);

/* The WWW-Authenticate header value of a 401. */
#define HTTP_AUTH_CHALLENGE "Bearer realm=\"streamlake\""

#endif
