/*
 * test_auth_http.c - Bearer keys on HTTP (src/server/auth_http.c): a secret
 * checked against the keys file's verifiers, scopes, the cache of outcomes,
 * malformed headers, and the refusal of exposed listeners without keys.
 */
#include "test.h"
#include "tmpdir.h"

#include "server/auth_http.h"
#include "server/keys.h"

static void make_keys(char *path, size_t size, char *ingest, char *admin)
{
    char dir[256];
    test_tmpdir(dir, sizeof dir, "auth");
    snprintf(path, size, "%s/keys", dir);
    errmsg e = {0};
    CHECK_OK(keys_add(path, "loader", KEY_SCOPE_INGEST, ingest, 64, &e));
    CHECK_OK(keys_add(path, "ops", KEY_SCOPE_ADMIN | KEY_SCOPE_QUERY, admin, 64, &e));
}

static int check(http_auth *a, const char *hdr, unsigned need, unsigned *scopes, char *why)
{
    return http_auth_check(a, hdr, need, scopes, why, 160);
}

TEST(bearer_keys_and_scopes)
{
    char path[300], ingest[64], admin[64], hdr[128], why[160];
    make_keys(path, sizeof path, ingest, admin);
    keyset *ks;
    errmsg e = {0};
    CHECK_OK(keys_load(path, &ks, &e));
    http_auth *a;
    CHECK_OK(http_auth_new(ks, &a, &e));
    unsigned scopes = 0;
    CHECK_EQ(check(a, NULL, KEY_SCOPE_QUERY, &scopes, why), 401);
    CHECK(strstr(why, "Bearer"));
    CHECK_EQ(check(a, "Basic YTpi", 0, &scopes, why), 401);
    CHECK_EQ(check(a, "Bearer ", 0, &scopes, why), 401);
    CHECK_EQ(check(a, "Bearer sl_wrongwrongwrong", 0, &scopes, why), 401);
    CHECK_STR(why, "the API key is not valid");
    for (int round = 0; round < 2; round++) { /* the second round is answered by the cache */
        snprintf(hdr, sizeof hdr, "Bearer %s", ingest);
        CHECK_EQ(check(a, hdr, KEY_SCOPE_INGEST, &scopes, why), 0);
        CHECK_EQ(scopes, KEY_SCOPE_INGEST);
        CHECK_EQ(check(a, hdr, KEY_SCOPE_QUERY, &scopes, why), 403);
        CHECK(strstr(why, "loader") && strstr(why, "query"));
        CHECK(!strstr(why, ingest));
        snprintf(hdr, sizeof hdr, "bearer  %s ", admin);
        CHECK_EQ(check(a, hdr, KEY_SCOPE_ADMIN, &scopes, why), 0);
        CHECK_EQ(scopes, KEY_SCOPE_ADMIN | KEY_SCOPE_QUERY);
        CHECK_EQ(check(a, hdr, 0, &scopes, why), 0);
        CHECK_EQ(check(a, "Bearer sl_wrongwrongwrong", 0, &scopes, why), 401);
    }
    /* a secret that differs in its last character is another secret */
    snprintf(hdr, sizeof hdr, "Bearer %s", admin);
    hdr[strlen(hdr) - 1] ^= 1;
    CHECK_EQ(check(a, hdr, 0, &scopes, why), 401);
    /* an over-long value is refused without being looked at */
    char longhdr[600] = "Bearer ";
    memset(longhdr + 7, 'x', 500);
    longhdr[507] = 0;
    CHECK_EQ(check(a, longhdr, 0, &scopes, why), 401);
    http_auth_free(a);
    keys_free(ks);
}

TEST(exposed_listeners_need_keys)
{
    errmsg e = {0};
    CHECK_OK(http_auth_exposure_check("127.0.0.1", "127.0.0.1", 0, &e));
    CHECK_OK(http_auth_exposure_check("localhost", NULL, 0, &e));
    CHECK_OK(http_auth_exposure_check("127.1.2.3", NULL, 0, &e));
    CHECK_EQ(http_auth_exposure_check("0.0.0.0", NULL, 0, &e), SL_EINVAL);
    CHECK(strstr(e.text, "0.0.0.0") && strstr(e.text, "--listen") && strstr(e.text, "--keys"));
    CHECK_EQ(http_auth_exposure_check("127.0.0.1", "10.0.0.5", 0, &e), SL_EINVAL);
    CHECK(strstr(e.text, "--pg-listen"));
    CHECK_OK(http_auth_exposure_check("0.0.0.0", "0.0.0.0", 1, &e));
}
