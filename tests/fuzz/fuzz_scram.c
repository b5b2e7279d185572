/*
 * fuzz_scram.c - fuzz target for what a client or a file gives the SCRAM and
 * keys code (src/server/scram.c, src/server/keys.c).
 *
 * The first byte picks what the rest is, modulo 4:
 *   0  a keys file (keys_parse), then a lookup and a made-up verifier
 *   1  a verifier's text: parsed, written back, parsed again: the same
 *   2  a whole exchange: client-first-message, '\n', client-final-message,
 *      run by the server's side against RFC 7677's verifier
 *   3  a client-final-message alone
 * A crash, an out-of-bounds read, a hang or a verifier that does not
 * round-trip is a bug.
 */
#include "server/keys.h"
#include "server/scram.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void keys_file(const char *p, size_t n)
{
    keyset *ks;
    errmsg e = {0};
    if (keys_parse(p, n, &ks, &e))
        return;
    scram_verifier v;
    const key_entry *k = keys_count(ks) ? keys_at(ks, 0) : NULL;
    if (k && keys_find(ks, k->name) != k)
        abort();
    keys_mock_verifier(ks, "nobody", &v);
    keys_free(ks);
}

static void verifier(const char *p, size_t n)
{
    scram_verifier v, w;
    errmsg e = {0};
    char t[SCRAM_VERIFIER_MAX];
    if (scram_verifier_parse(p, n, &v, &e))
        return;
    if (scram_verifier_format(&v, t, sizeof t) || scram_verifier_parse(t, strlen(t), &w, &e) ||
        memcmp(&v, &w, sizeof v))
        abort();
}

static void exchange(const char *p, size_t n)
{
    const char *nl = memchr(p, '\n', n);
    size_t n1 = nl ? (size_t)(nl - p) : n;
    scram_verifier v;
    static const uint8_t salt[16] = {0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e,
                                     0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81};
    scram_verifier_make("pencil", salt, sizeof salt, 16, &v);
    scram_server s;
    scram_client_first cf;
    scram_client_final ff;
    errmsg e = {0};
    char out[SCRAM_MSG_MAX];
    size_t on;
    scram_server_start(&s, &v, false);
    if (scram_parse_client_first(p, n1, &cf, &e) ||
        scram_server_first(&s, &cf, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", out, sizeof out, &on, &e) ||
        !nl)
        return;
    if (!scram_parse_client_final(nl + 1, n - n1 - 1, &ff, &e))
        scram_server_final(&s, nl + 1, &ff, out, sizeof out, &e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    /* a copy of exactly the rest: the parsers must not read past their length */
    size_t n = size - 1;
    char *p = malloc(n ? n : 1);
    if (!p)
        return 0;
    memcpy(p, data + 1, n);
    switch (data[0] % 4) {
    case 0:
        keys_file(p, n);
        break;
    case 1:
        verifier(p, n);
        break;
    case 2:
        exchange(p, n);
        break;
    default: {
        scram_client_final ff;
        errmsg e = {0};
        scram_parse_client_final(p, n, &ff, &e);
        break;
    }
    }
    free(p);
    return 0;
}
