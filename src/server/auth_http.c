/*
 * auth_http.c - checking `Authorization: Bearer KEY` against the keys file.
 *
 * A presented secret matches a key when PBKDF2 of it, with the key's salt and
 * iterations, gives the key's StoredKey (scram_verifier_make, then
 * CRYPTO_memcmp).  The secret does not say which key it is, so an unseen
 * secret is tried against every key: the work of a first check grows with the
 * number of keys.  Every outcome is then remembered in a direct-mapped table
 * of CACHE_SLOTS entries: the slot is chosen by a seeded XXH3 of the secret
 * (the seed drawn at start, so slots cannot be aimed at), and the entry holds
 * the secret's SHA-256 (compared in constant time) and the key it matched, or
 * none.  The keyset never changes while the server runs, so an entry never
 * goes stale; a collision only evicts.  The table's mutex is held for a copy,
 * never during PBKDF2.
 */
#include "server/auth_http.h"

#include "base/alloc.h"
#include "base/hash.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#define CACHE_SLOTS 1024
#define SECRET_MAX 256   /* bytes of a presented key we look at */

typedef struct slot {
    uint8_t sha[SHA256_DIGEST_LENGTH];
    int used;
    int key;             /* index in the keyset, -1: matches no key */
} slot;

struct http_auth {
    const keyset *ks;
    uint64_t seed;
    pthread_mutex_t mu;
    slot slots[CACHE_SLOTS];
};

int http_auth_new(const keyset *ks, http_auth **out, errmsg *e)
{
    http_auth *a = sl_calloc(1, sizeof *a);
    if (!a)
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    a->ks = ks;
    if (getrandom(&a->seed, sizeof a->seed, 0) != sizeof a->seed) {
        sl_free(a);
        return errmsg_set(e, SL_EIO, "no random numbers for the key cache");
    }
    pthread_mutex_init(&a->mu, NULL);
    *out = a;
    return SL_OK;
}

void http_auth_free(http_auth *a)
{
    if (!a)
        return;
    pthread_mutex_destroy(&a->mu);
    OPENSSL_cleanse(a->slots, sizeof a->slots);
    sl_free(a);
}

/* The key this secret is, or -1; each key is tried (no early exit on a match). */
static int find_key(const keyset *ks, const char *secret)
{
    int found = -1;
    for (int i = 0; i < keys_count(ks); i++) {
        const key_entry *k = keys_at(ks, i);
        scram_verifier v;
        if (scram_verifier_make(secret, k->verifier.salt, k->verifier.salt_len,
                                k->verifier.iterations, &v) == SL_OK &&
            CRYPTO_memcmp(v.stored_key, k->verifier.stored_key, SCRAM_KEY_LEN) == 0)
            found = i;
        OPENSSL_cleanse(&v, sizeof v);
    }
    return found;
}

/* The key index of a secret (cached), or -1. */
static int key_of(http_auth *a, const char *secret, size_t n)
{
    uint8_t sha[SHA256_DIGEST_LENGTH];
    SHA256((const uint8_t *)secret, n, sha);
    slot *s = &a->slots[hash64_seed(secret, n, a->seed) % CACHE_SLOTS];
    int hit = 0, key = -1;
    pthread_mutex_lock(&a->mu);
    if (s->used && CRYPTO_memcmp(s->sha, sha, sizeof sha) == 0) {
        hit = 1;
        key = s->key;
    }
    pthread_mutex_unlock(&a->mu);
    if (hit)
        return key;
    key = find_key(a->ks, secret);
    pthread_mutex_lock(&a->mu);
    memcpy(s->sha, sha, sizeof sha);
    s->key = key;
    s->used = 1;
    pthread_mutex_unlock(&a->mu);
    return key;
}

int http_auth_check(http_auth *a, const char *authorization, unsigned need, unsigned *scopes,
                    char *reason, size_t size)
{
    const char *p = authorization;
    if (!p || strncasecmp(p, "Bearer ", 7) != 0) {
        snprintf(reason, size, "this server needs an API key: Authorization: Bearer KEY");
        return 401;
    }
    p += 7;
    while (*p == ' ')
        p++;
    size_t n = strlen(p);
    while (n && p[n - 1] == ' ')
        n--;
    char secret[SECRET_MAX + 1];
    int key = -1;
    if (n && n <= SECRET_MAX) {
        memcpy(secret, p, n);
        secret[n] = 0;
        key = key_of(a, secret, n);
        OPENSSL_cleanse(secret, sizeof secret);
    }
    if (key < 0) {
        snprintf(reason, size, "the API key is not valid");
        return 401;
    }
    const key_entry *k = keys_at(a->ks, key);
    if ((k->scopes & need) != need) {
        char want[64];
        snprintf(reason, size, "key %s lacks the %s scope", k->name,
                 keys_scopes_text(need, want, sizeof want));
        return 403;
    }
    *scopes = k->scopes;
    return 0;
}

/*
 * An IPv4 address outside 127.0.0.0/8 (0.0.0.0 included) is exposed; "localhost"
 * is not, and what is not an address is left to the bind to refuse with its own
 * message.
 */
static int loopback(const char *host)
{
    struct in_addr a;
    return inet_pton(AF_INET, host, &a) != 1 || (ntohl(a.s_addr) >> 24) == 127;
}

int http_auth_exposure_check(const char *http_host, const char *pg_host, int have_keys,
                             errmsg *e)
{
    if (have_keys)
        return SL_OK;
    const char *bad = !loopback(http_host) ? http_host : pg_host && !loopback(pg_host) ? pg_host
                                                                                        : NULL;
    if (!bad)
        return SL_OK;
    return errmsg_set(e, SL_EINVAL, "refusing to listen on %s (%s) without keys: anyone who can "
                      "reach it could read and write everything. Create keys (streamlake keys "
                      "add FILE NAME --scopes ...) and pass --keys FILE, or listen on 127.0.0.1",
                      bad, bad == http_host ? "--listen" : "--pg-listen");
}
