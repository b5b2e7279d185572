/*
 * test_scram.c - SCRAM-SHA-256 (src/server/scram.c) against RFC 7677's
 * example, its message parsers on good and bad input, and the keys file
 * (src/server/keys.c): parsing, lookup, made-up verifiers, `keys add`.
 */
#include "test.h"
#include "tmpdir.h"

#include "base/base64.h"
#include "server/keys.h"
#include "server/scram.h"

#include <fcntl.h>
#include <sys/stat.h>

/* RFC 7677, section 3: user "user", password "pencil". */
#define RFC_CLIENT_FIRST "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define RFC_SERVER_NONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_SERVER_FIRST                                                                        \
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define RFC_CLIENT_FINAL_NO_PROOF "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_PROOF "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static void rfc_verifier(scram_verifier *v)
{
    uint8_t salt[32];
    size_t n;
    CHECK_OK(b64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, salt, sizeof salt, &n));
    CHECK_EQ(n, 16);
    CHECK_OK(scram_verifier_make("pencil", salt, n, 4096, v));
}

/* Runs the server's side of one exchange; returns scram_server_final's code. */
static int exchange(const scram_verifier *v, bool fail, const char *first, const char *final,
                    char *server_first, char *server_final)
{
    scram_server s;
    scram_client_first cf;
    scram_client_final ff;
    errmsg e = {0};
    size_t n;
    scram_server_start(&s, v, fail);
    CHECK_OK(scram_parse_client_first(first, strlen(first), &cf, &e));
    CHECK_OK(scram_server_first(&s, &cf, RFC_SERVER_NONCE, server_first, SCRAM_MSG_MAX, &n, &e));
    CHECK_EQ(n, strlen(server_first));
    int rc = scram_parse_client_final(final, strlen(final), &ff, &e);
    if (rc)
        return rc;
    return scram_server_final(&s, final, &ff, server_final, SCRAM_MSG_MAX, &e);
}

TEST(rfc7677_exchange)
{
    scram_verifier v;
    rfc_verifier(&v);
    char sf[SCRAM_MSG_MAX], fin[SCRAM_MSG_MAX];
    CHECK_OK(exchange(&v, false, RFC_CLIENT_FIRST, RFC_CLIENT_FINAL_NO_PROOF ",p=" RFC_PROOF, sf,
                      fin));
    CHECK_STR(sf, RFC_SERVER_FIRST);
    CHECK_STR(fin, RFC_SERVER_FINAL);
    /* the same exchange for a user without a key fails at the proof, with the same code
     * a wrong proof gets */
    CHECK_EQ(exchange(&v, true, RFC_CLIENT_FIRST, RFC_CLIENT_FINAL_NO_PROOF ",p=" RFC_PROOF, sf,
                      fin), SL_EMISMATCH);
    CHECK_EQ(exchange(&v, false, RFC_CLIENT_FIRST,
                      RFC_CLIENT_FINAL_NO_PROOF ",p=eHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
                      sf, fin), SL_EMISMATCH);
}

TEST(rfc7677_client_proof)
{
    scram_verifier v;
    rfc_verifier(&v);
    const char *auth = "n=user,r=rOprNGfwEbeRWgbNEkqO," RFC_SERVER_FIRST
                       "," RFC_CLIENT_FINAL_NO_PROOF;
    uint8_t proof[SCRAM_KEY_LEN], sig[SCRAM_KEY_LEN];
    CHECK_OK(scram_client_proof("pencil", v.salt, v.salt_len, 4096, auth, strlen(auth), proof,
                                sig));
    char b[64];
    b64_encode(proof, sizeof proof, b, sizeof b, false);
    CHECK_STR(b, RFC_PROOF);
    b64_encode(sig, sizeof sig, b, sizeof b, false);
    CHECK_STR(b, RFC_SERVER_FINAL + 2);
}

TEST(verifier_text_round_trip)
{
    scram_verifier v, w;
    rfc_verifier(&v);
    char t[SCRAM_VERIFIER_MAX];
    errmsg e = {0};
    CHECK_OK(scram_verifier_format(&v, t, sizeof t));
    CHECK(!strncmp(t, "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$", 44));
    CHECK_OK(scram_verifier_parse(t, strlen(t), &w, &e));
    CHECK(!memcmp(&v, &w, sizeof v));
    static const char *const bad[] = {
        "",
        "SCRAM-SHA-1$4096:W22ZaJ0SNY7soEsUEjb6gQ==$AAAA:AAAA",
        "SCRAM-SHA-256$0:W22ZaJ0SNY7soEsUEjb6gQ==$x:y",
        "SCRAM-SHA-256$4096W22ZaJ0SNY7soEsUEjb6gQ==$x:y",
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ=$x:y",
        "SCRAM-SHA-256$4096:$x:y",
        "SCRAM-SHA-256$99999999999:W22ZaJ0SNY7soEsUEjb6gQ==$x:y",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ(scram_verifier_parse(bad[i], strlen(bad[i]), &w, &e), SL_ECORRUPT);
    /* StoredKey one byte short */
    char s[SCRAM_VERIFIER_MAX];
    snprintf(s, sizeof s, "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$%s:%s",
             "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
             "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    CHECK_EQ(scram_verifier_parse(s, strlen(s), &w, &e), SL_ECORRUPT);
    CHECK(strstr(e.text, "StoredKey"));
}

TEST(client_first_messages)
{
    scram_client_first cf;
    errmsg e = {0};
    const char *ok[] = {"n,,n=,r=abc", "y,,n=*,r=abc", "n,,n=a=2Cb=3D,r=x,x=ext"};
    for (size_t i = 0; i < 3; i++)
        CHECK_OK(scram_parse_client_first(ok[i], strlen(ok[i]), &cf, &e));
    CHECK_EQ(cf.cbind_flag, 'n');
    CHECK_EQ(cf.nonce_len, 1);
    const char *unsupported[] = {"p=tls-server-end-point,,n=,r=abc", "n,a=admin,n=,r=abc",
                                 "n,,m=x,n=,r=abc"};
    for (size_t i = 0; i < 3; i++)
        CHECK_EQ(scram_parse_client_first(unsupported[i], strlen(unsupported[i]), &cf, &e),
                 SL_EUNSUPPORTED);
    CHECK(strstr(e.text, "m="));
    const char *bad[] = {"", "n", "n,,", "x,,n=,r=a", "n,,r=abc", "n,,n=u", "n,,n=u,r=",
                         "n,,n=a=2,r=b", "n,,n=u,r=a b", "n,,n=u,r=a,", "n,,n=u,r=a,1=x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (scram_parse_client_first(bad[i], strlen(bad[i]), &cf, &e) != SL_ECORRUPT)
            TEST_FAIL("\"%s\" was not refused", bad[i]);
    char nul[] = "n,,n=u,r=a\0b";
    CHECK_EQ(scram_parse_client_first(nul, sizeof nul - 1, &cf, &e), SL_ECORRUPT);
}

TEST(client_final_messages)
{
    scram_verifier v;
    rfc_verifier(&v);
    char sf[SCRAM_MSG_MAX], fin[SCRAM_MSG_MAX];
    /* y,, first: c= must be its base64 (eSws), not biws */
    CHECK_EQ(exchange(&v, false, "y,,n=user,r=rOprNGfwEbeRWgbNEkqO",
                      RFC_CLIENT_FINAL_NO_PROOF ",p=" RFC_PROOF, sf, fin), SL_ECORRUPT);
    /* another nonce */
    CHECK_EQ(exchange(&v, false, RFC_CLIENT_FIRST, "c=biws,r=rOprNGfwEbeRWgbNEkqO,p=" RFC_PROOF,
                      sf, fin), SL_ECORRUPT);
    scram_client_final ff;
    errmsg e = {0};
    const char *bad[] = {"", "c=biws", "c=biws,r=abc", "c=biws,r=abc,p=", "r=abc,c=biws,p=" RFC_PROOF,
                         "c=biws,r=abc,p=" RFC_PROOF ",x=1", "c=biws,r=abc,p=AAAA",
                         "c=biws,r=abc,p=" RFC_PROOF "="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ(scram_parse_client_final(bad[i], strlen(bad[i]), &ff, &e), SL_ECORRUPT);
    const char *ext = "c=biws,r=abc,x=1,p=" RFC_PROOF;
    CHECK_OK(scram_parse_client_final(ext, strlen(ext), &ff, &e));
    CHECK_EQ(ff.without_proof_len, strlen("c=biws,r=abc,x=1"));
}

#define V1 "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$" \
           "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

TEST(keys_file_parsing)
{
    const char *text = "# comment\n"
                       "# streamlake-keys 1\n"
                       "\n"
                       "alice query,ingest " V1 "\n"
                       "  bob\tadmin   " V1 "  \r\n"
                       "carol query " V1;
    keyset *ks;
    errmsg e = {0};
    CHECK_OK(keys_parse(text, strlen(text), &ks, &e));
    CHECK_EQ(keys_count(ks), 3);
    const key_entry *k = keys_find(ks, "bob");
    CHECK(k && k->scopes == KEY_SCOPE_ADMIN && k->line == 5);
    CHECK_EQ(keys_find(ks, "alice")->scopes, KEY_SCOPE_QUERY | KEY_SCOPE_INGEST);
    CHECK(keys_find(ks, "carol"));
    CHECK(!keys_find(ks, "dave"));
    CHECK(!keys_find(ks, "ali"));
    /* made-up verifiers: stable for a name, different between names, shaped like the file's */
    scram_verifier a, b, c;
    keys_mock_verifier(ks, "dave", &a);
    keys_mock_verifier(ks, "dave", &b);
    keys_mock_verifier(ks, "erin", &c);
    CHECK(!memcmp(&a, &b, sizeof a));
    CHECK(memcmp(a.salt, c.salt, a.salt_len));
    CHECK_EQ(a.salt_len, 16);
    CHECK_EQ(a.iterations, 4096);
    keys_free(ks);

    static const struct {
        const char *text, *want;
    } bad[] = {
        {"alice query\n", "line 1: expected three fields"},
        {"# x\nalice query " V1 " extra\n", "line 2: more than three fields"},
        {"alice read " V1 "\n", "line 1: scopes \"read\""},
        {"alice query,query " V1 "\n", "line 1: scopes"},
        {"alice query, " V1 "\n", "line 1: scopes"},
        {"al/ice query " V1 "\n", "line 1: the name"},
        {"alice query SCRAM-SHA-256$4096:abc$x:y\n", "line 1: bad verifier"},
        {"alice query " V1 "\n\nalice admin " V1 "\n", "line 3: key \"alice\" is already on line 1"},
        {"# streamlake-keys 2\n", "line 1: format version 2"},
        {"alice query " V1 "\rx\n", "line 1: a NUL or carriage return"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errmsg be = {0};
        CHECK(keys_parse(bad[i].text, strlen(bad[i].text), &ks, &be) < 0);
        CHECK(ks == NULL);
        if (!strstr(be.text, bad[i].want))
            TEST_FAIL("case %zu: \"%s\" lacks \"%s\"", i, be.text, bad[i].want);
    }
}

TEST(keys_add_appends_a_verifier)
{
    char dir[256], path[300];
    test_tmpdir(dir, sizeof dir, "keys");
    snprintf(path, sizeof path, "%s/keys", dir);
    char s1[64], s2[64];
    errmsg e = {0};
    CHECK_OK(keys_add(path, "alice", KEY_SCOPE_QUERY, s1, sizeof s1, &e));
    CHECK_OK(keys_add(path, "bob", KEY_SCOPE_QUERY | KEY_SCOPE_INGEST, s2, sizeof s2, &e));
    CHECK_EQ(strlen(s1), 35);
    CHECK(!strncmp(s1, "sl_", 3));
    CHECK(strcmp(s1, s2));
    CHECK_EQ(keys_add(path, "alice", KEY_SCOPE_ADMIN, s2, sizeof s2, &e), SL_EEXIST);
    CHECK(strstr(e.text, "alice"));
    CHECK_EQ(keys_add(path, "bad name", KEY_SCOPE_ADMIN, s2, sizeof s2, &e), SL_EINVAL);
    struct stat st;
    CHECK_OK(stat(path, &st));
    CHECK_EQ(st.st_mode & 0777, 0600);
    keyset *ks;
    CHECK_OK(keys_load(path, &ks, &e));
    CHECK_EQ(keys_count(ks), 2);
    /* the line's verifier is the secret's */
    const key_entry *k = keys_find(ks, "alice");
    scram_verifier v;
    CHECK_OK(scram_verifier_make(s1, k->verifier.salt, k->verifier.salt_len,
                                 k->verifier.iterations, &v));
    CHECK(!memcmp(&v, &k->verifier, sizeof v));
    keys_free(ks);
    /* a file without its last newline gets one before the new line */
    int fd = open(path, O_WRONLY | O_APPEND);
    CHECK(fd >= 0 && write(fd, "# no newline", 12) == 12);
    close(fd);
    CHECK_OK(keys_add(path, "carol", KEY_SCOPE_QUERY, s2, sizeof s2, &e));
    CHECK_OK(keys_load(path, &ks, &e));
    CHECK_EQ(keys_count(ks), 3);
    keys_free(ks);
    /* a malformed file names itself and the line */
    fd = open(path, O_WRONLY | O_APPEND);
    CHECK(fd >= 0 && write(fd, "dave\n", 5) == 5);
    close(fd);
    CHECK(keys_load(path, &ks, &e) < 0);
    if (!strstr(e.text, path) || !strstr(e.text, "line 7: expected three fields"))
        TEST_FAIL("%s", e.text);
    test_rmtree(dir);
}
