/*
 * scram.h - SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL uses it, server
 * side, without channel binding.
 *
 * Pure functions: parsing the client's messages, building the server's, and
 * the key arithmetic (OpenSSL's PBKDF2, HMAC and SHA-256).  No sockets and no
 * random numbers here (the caller passes the server nonce), so the exchange
 * can be fuzzed (tests/fuzz/fuzz_scram.c) and checked against the RFC's
 * example (tests/unit/server/test_scram.c).  The listener's use of it is in
 * pgwire_auth.c; the messages are in docs/internals/pgwire.md.
 *
 * What the server stores for a user is a verifier, never the password:
 *
 *   SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, iterations)
 *   ClientKey      = HMAC(SaltedPassword, "Client Key")
 *   StoredKey      = SHA-256(ClientKey)
 *   ServerKey      = HMAC(SaltedPassword, "Server Key")
 *
 * written as PostgreSQL writes it in pg_authid:
 * SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>.
 * The client proves it knows ClientKey (ClientProof = ClientKey XOR
 * HMAC(StoredKey, AuthMessage)); the server checks SHA-256 of what the proof
 * gives back against StoredKey, in constant time, and proves itself with
 * HMAC(ServerKey, AuthMessage).
 *
 * Passwords are used as bytes (no SASLprep): the secrets streamlake generates
 * are ASCII, for which SASLprep changes nothing.
 */
#ifndef SL_SERVER_SCRAM_H
#define SL_SERVER_SCRAM_H

#include "base/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCRAM_MECHANISM "SCRAM-SHA-256"
#define SCRAM_KEY_LEN 32          /* SHA-256 */
#define SCRAM_SALT_MAX 64         /* bytes of a salt we accept in a verifier */
#define SCRAM_NONCE_MAX 128       /* characters of a client or server nonce */
#define SCRAM_MSG_MAX 1024        /* characters of any SCRAM message (PostgreSQL's are < 200) */
#define SCRAM_ITERATIONS_MAX 100000000
#define SCRAM_DEFAULT_ITERATIONS 4096
#define SCRAM_DEFAULT_SALT_LEN 16
/* A verifier's text: the prefix, the numbers and four base64 fields. */
#define SCRAM_VERIFIER_MAX 256

typedef struct scram_verifier {
    int iterations;
    size_t salt_len;
    uint8_t salt[SCRAM_SALT_MAX];
    uint8_t stored_key[SCRAM_KEY_LEN];
    uint8_t server_key[SCRAM_KEY_LEN];
} scram_verifier;

/* Parses a verifier's text s[0, n): SL_OK, or SL_ECORRUPT with e saying what is wrong. */
int scram_verifier_parse(const char *s, size_t n, scram_verifier *v, errmsg *e);
/* The verifier of a password with this salt and iteration count. */
int scram_verifier_make(const char *password, const uint8_t *salt, size_t salt_len,
                        int iterations, scram_verifier *v);
/* Writes v's text into out (SCRAM_VERIFIER_MAX bytes is enough); SL_ETOOBIG if short. */
int scram_verifier_format(const scram_verifier *v, char *out, size_t out_size);

/*
 * client-first-message: gs2-header, then client-first-message-bare
 * ("n=user,r=nonce[,ext...]").  The gs2 channel-binding flag must be 'n' (the
 * client does not do channel binding) or 'y' (it could, but the server did
 * not offer it, which is true here); 'p=' (channel binding asked for) and an
 * authorization identity are SL_EUNSUPPORTED, anything malformed SL_ECORRUPT.
 * The user name inside is ignored, as PostgreSQL does: the startup packet's
 * user is the one authenticated.  Pointers are into the input.
 */
typedef struct scram_client_first {
    char cbind_flag;                  /* 'n' or 'y' */
    const char *bare;                 /* client-first-message-bare */
    size_t bare_len;
    const char *nonce;
    size_t nonce_len;
} scram_client_first;

int scram_parse_client_first(const char *p, size_t n, scram_client_first *out, errmsg *e);

/*
 * client-final-message: "c=<base64 gs2 header>,r=<nonce>[,ext...],p=<base64 proof>".
 * SL_ECORRUPT when malformed.  Pointers are into the input.
 */
typedef struct scram_client_final {
    const char *cbind;                /* the c= value, base64 */
    size_t cbind_len;
    const char *nonce;
    size_t nonce_len;
    size_t without_proof_len;         /* client-final-message-without-proof: the input's start */
    uint8_t proof[SCRAM_KEY_LEN];
} scram_client_final;

int scram_parse_client_final(const char *p, size_t n, scram_client_final *out, errmsg *e);

/*
 * One exchange on the server.  scram_server_start with the user's verifier (or,
 * for a user that does not exist, a made-up one with fail set: the exchange
 * then runs the same way and fails at the proof, so the two cannot be told
 * apart), then scram_server_first once the client-first-message is parsed,
 * then scram_server_final with the client-final-message.
 */
typedef struct scram_server {
    scram_verifier v;
    bool fail;                        /* the proof must fail whatever it is */
    char cbind_flag;
    char auth[3 * SCRAM_MSG_MAX + 8]; /* AuthMessage so far */
    size_t auth_len;
    char nonce[2 * SCRAM_NONCE_MAX + 1]; /* client nonce + server nonce */
    size_t nonce_len;
} scram_server;

void scram_server_start(scram_server *s, const scram_verifier *v, bool fail);
/*
 * server-first-message "r=<client nonce><server nonce>,s=<salt>,i=<iterations>"
 * into out (NUL-terminated, *out_len characters).  server_nonce: printable
 * ASCII without ',' (the listener passes 18 random bytes in base64).
 */
int scram_server_first(scram_server *s, const scram_client_first *cf, const char *server_nonce,
                       char *out, size_t out_size, size_t *out_len, errmsg *e);
/*
 * Checks the client-final-message p[0, n) (already parsed into cf): SL_OK with
 * server-final-message "v=<base64 ServerSignature>" in out; SL_ECORRUPT (e
 * says why) when its channel binding or nonce are not this exchange's;
 * SL_EMISMATCH when the proof is wrong (or fail was set).
 */
int scram_server_final(scram_server *s, const char *p, const scram_client_final *cf, char *out,
                       size_t out_size, errmsg *e);

/*
 * The client's side, for tests and tools: the ClientProof and the expected
 * ServerSignature of an exchange, from the password and the AuthMessage.
 */
int scram_client_proof(const char *password, const uint8_t *salt, size_t salt_len, int iterations,
                       const char *auth_message, size_t auth_len, uint8_t proof[SCRAM_KEY_LEN],
                       uint8_t server_sig[SCRAM_KEY_LEN]);

#endif
