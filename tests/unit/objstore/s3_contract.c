/*
 * s3_contract.c - the object-store contract (objstore.h) against a real S3
 * server: every operation of the S3 backend, its caps, write-once rules,
 * listings that cross a continuation token, multipart uploads, and a clear
 * error for wrong credentials.
 *
 * Not run by ctest on its own: it needs a server.  tests/e2e/test_s3.py starts
 * s3rver on loopback and runs this program with SL_TEST_S3_URL (s3://bucket/
 * prefix, unique per run), AWS_ENDPOINT_URL, the keys and SL_S3_PART_BYTES
 * (a small part size, so that a few MiB take the multipart path).
 */
#include "test.h"

#include "base/dbuf.h"
#include "base/json.h"
#include "objstore/objstore.h"

#include <pthread.h>

static objstore *open_s3(void)
{
    const char *url = getenv("SL_TEST_S3_URL");
    if (!url)
        TEST_FAIL("SL_TEST_S3_URL is not set (run by tests/e2e/test_s3.py)");
    objstore_s3_opts o = {.url = url};
    objstore *os = NULL;
    errmsg e;
    errmsg_clear(&e);
    int rc = objstore_s3_open(&o, &os, &e);
    if (rc)
        TEST_FAIL("objstore_s3_open: %d %s", rc, errmsg_str(&e));
    return os;
}

/* n pseudo-random bytes from seed. */
static uint8_t *bytes_of(size_t n, uint32_t seed)
{
    uint8_t *p = malloc(n ? n : 1);
    CHECK(p != NULL);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
    return p;
}

/* Puts n pseudo-random bytes under key (write-once) and returns them. */
static uint8_t *put_random(objstore *os, const char *key, size_t n, uint32_t seed)
{
    uint8_t *p = bytes_of(n, seed);
    errmsg e;
    CHECK_OK(objstore_put(os, key, p, n, OBJSTORE_PUT_ONCE, &e));
    return p;
}

static void check_get(objstore *os, const char *key, const void *want, size_t n)
{
    dbuf b;
    dbuf_init(&b, (size_t)64 << 20);
    errmsg e;
    CHECK_OK(objstore_get(os, key, &b, &e));
    CHECK_EQ(b.len, n);
    CHECK(n == 0 || memcmp(b.p, want, n) == 0);
    dbuf_free(&b);
}

TEST(put_once_identical_different_replace)
{
    objstore *os = open_s3();
    errmsg e;
    const char *a = "first bytes", *b = "other bytes";
    CHECK_OK(objstore_put(os, "once/k1", a, strlen(a), OBJSTORE_PUT_ONCE, &e));
    CHECK_OK(objstore_put(os, "once/k1", a, strlen(a), OBJSTORE_PUT_ONCE, &e));
    CHECK_EQ(objstore_put(os, "once/k1", b, strlen(b), OBJSTORE_PUT_ONCE, &e), SL_EEXIST);
    CHECK_EQ(objstore_put(os, "once/k1", "x", 1, OBJSTORE_PUT_ONCE, &e), SL_EEXIST);
    check_get(os, "once/k1", a, strlen(a));
    CHECK_OK(objstore_put(os, "once/k1", b, strlen(b), OBJSTORE_PUT_REPLACE, &e));
    check_get(os, "once/k1", b, strlen(b));
    CHECK_OK(objstore_put(os, "once/empty", "", 0, OBJSTORE_PUT_ONCE, &e));
    check_get(os, "once/empty", "", 0);
    objstore_close(os);
}

TEST(get_caps_and_missing)
{
    objstore *os = open_s3();
    errmsg e;
    uint8_t *p = put_random(os, "caps/big", 100000, 7);
    dbuf b;
    dbuf_init(&b, 99999); /* one byte short: refused, and nothing appended */
    CHECK_EQ(objstore_get(os, "caps/big", &b, &e), SL_ETOOBIG);
    CHECK_EQ(b.len, 0);
    dbuf_free(&b);
    dbuf_init(&b, 100000);
    CHECK_OK(objstore_get(os, "caps/big", &b, &e));
    CHECK(b.len == 100000 && !memcmp(b.p, p, 100000));
    dbuf_free(&b);
    dbuf_init(&b, 1000);
    CHECK_EQ(objstore_get(os, "caps/absent", &b, &e), SL_ENOTFOUND);
    CHECK(strstr(errmsg_str(&e), "caps/absent") != NULL);
    dbuf_free(&b);
    free(p);
    objstore_close(os);
}

TEST(get_range)
{
    objstore *os = open_s3();
    errmsg e;
    uint8_t *p = put_random(os, "range/obj", 5000, 11);
    dbuf b;
    dbuf_init(&b, 1 << 20);
    CHECK_OK(objstore_get_range(os, "range/obj", 0, 8, &b, &e));
    CHECK_OK(objstore_get_range(os, "range/obj", 4992, 8, &b, &e)); /* appends */
    CHECK_EQ(b.len, 16);
    CHECK(!memcmp(b.p, p, 8) && !memcmp(b.p + 8, p + 4992, 8));
    dbuf_reset(&b);
    CHECK_OK(objstore_get_range(os, "range/obj", 1234, 2000, &b, &e));
    CHECK(b.len == 2000 && !memcmp(b.p, p + 1234, 2000));
    dbuf_reset(&b);
    CHECK_OK(objstore_get_range(os, "range/obj", 5000, 0, &b, &e));
    CHECK_EQ(objstore_get_range(os, "range/obj", 4999, 2, &b, &e), SL_EINVAL);
    CHECK_EQ(objstore_get_range(os, "range/obj", 6000, 10, &b, &e), SL_EINVAL);
    CHECK_EQ(objstore_get_range(os, "range/obj", 5001, 0, &b, &e), SL_EINVAL);
    CHECK_EQ(b.len, 0);
    CHECK_EQ(objstore_get_range(os, "range/absent", 0, 4, &b, &e), SL_ENOTFOUND);
    dbuf_free(&b);
    free(p);
    objstore_close(os);
}

TEST(stat_and_delete)
{
    objstore *os = open_s3();
    errmsg e;
    CHECK_OK(objstore_put(os, "del/one", "12345", 5, OBJSTORE_PUT_ONCE, &e));
    objstore_stat st;
    CHECK_OK(objstore_stat_get(os, "del/one", &st, &e));
    CHECK_EQ(st.size_bytes, 5);
    CHECK(st.mtime_ns > 1500000000ll * 1000000000ll);
    CHECK_OK(objstore_delete(os, "del/one", &e));
    CHECK_EQ(objstore_stat_get(os, "del/one", &st, &e), SL_ENOTFOUND);
    CHECK_EQ(objstore_delete(os, "del/one", &e), SL_ENOTFOUND);
    /* once deleted, a put of other bytes is a new object */
    CHECK_OK(objstore_put(os, "del/one", "abc", 3, OBJSTORE_PUT_ONCE, &e));
    check_get(os, "del/one", "abc", 3);
    objstore_close(os);
}

TEST(bad_keys_refused)
{
    objstore *os = open_s3();
    errmsg e;
    dbuf b;
    dbuf_init(&b, 100);
    const char *bad[] = {"", "/abs", "a//b", "a/../b", ".hidden", "a/.b", "sp ace", "a\\b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ(objstore_put(os, bad[i], "x", 1, OBJSTORE_PUT_ONCE, &e), SL_EINVAL);
        CHECK_EQ(objstore_get(os, bad[i], &b, &e), SL_EINVAL);
    }
    CHECK_EQ(objstore_list(os, "../", NULL, NULL, &e), SL_EINVAL);
    dbuf_free(&b);
    objstore_close(os);
}

typedef struct put_job {
    objstore *os;
    int from, to;
    int failed;
} put_job;

static void *put_many(void *arg)
{
    put_job *j = arg;
    for (int i = j->from; i < j->to; i++) {
        char key[64], val[32];
        snprintf(key, sizeof key, "many/k%05d", i);
        int n = snprintf(val, sizeof val, "v%d", i);
        errmsg e;
        if (objstore_put(j->os, key, val, (size_t)n, OBJSTORE_PUT_ONCE, &e))
            j->failed++;
    }
    return NULL;
}

typedef struct seen {
    int n;
    int bad;
    uint8_t hit[1100];
} seen;

static int count_key(void *arg, const char *key, const objstore_stat *st)
{
    seen *s = arg;
    int i;
    if (sscanf(key, "many/k%05d", &i) != 1 || i < 0 || i >= 1100 || s->hit[i] || st->size_bytes < 2)
        s->bad++;
    else
        s->hit[i] = 1;
    s->n++;
    return 0;
}

static int stop_at_first(void *arg, const char *key, const objstore_stat *st)
{
    (void)key;
    (void)st;
    ++*(int *)arg;
    return 42;
}

/* 1100 keys: more than one page of 1000, so the listing follows a continuation token.
 * Eight threads put them at once through one store (its handle pool). */
TEST(list_crosses_continuation_token)
{
    objstore *os = open_s3();
    put_job jobs[8];
    pthread_t th[8];
    for (int t = 0; t < 8; t++) {
        jobs[t] = (put_job){os, t * 1100 / 8, (t + 1) * 1100 / 8, 0};
        CHECK_OK(pthread_create(&th[t], NULL, put_many, &jobs[t]));
    }
    for (int t = 0; t < 8; t++) {
        pthread_join(th[t], NULL);
        CHECK_EQ(jobs[t].failed, 0);
    }
    errmsg e;
    seen *s = calloc(1, sizeof *s);
    int lrc = objstore_list(os, "many/", count_key, s, &e);
    if (lrc)
        TEST_FAIL("list: %d %s", lrc, errmsg_str(&e));
    CHECK_EQ(s->bad, 0);
    CHECK_EQ(s->n, 1100);
    memset(s, 0, sizeof *s);
    CHECK_OK(objstore_list(os, "many/k010", count_key, s, &e)); /* a plain string prefix */
    CHECK_EQ(s->n, 100);
    CHECK_EQ(s->bad, 0);
    memset(s, 0, sizeof *s);
    CHECK_OK(objstore_list(os, "nothing-here/", count_key, s, &e));
    CHECK_EQ(s->n, 0);
    int calls = 0;
    CHECK_EQ(objstore_list(os, "many/", stop_at_first, &calls, &e), 42);
    CHECK_EQ(calls, 1);
    free(s);
    objstore_close(os);
}

/* With SL_S3_PART_BYTES at 1 MiB, 2.5 MiB go up in three parts. */
TEST(multipart_object)
{
    objstore *os = open_s3();
    errmsg e;
    size_t n = (size_t)5 << 19;
    uint8_t *p = put_random(os, "mp/big", n, 3), *q = bytes_of(n, 4);
    check_get(os, "mp/big", p, n);
    CHECK_OK(objstore_put(os, "mp/big", p, n, OBJSTORE_PUT_ONCE, &e));
    CHECK_EQ(objstore_put(os, "mp/big", q, n, OBJSTORE_PUT_ONCE, &e), SL_EEXIST);
    dbuf b;
    dbuf_init(&b, n);
    size_t at = ((size_t)1 << 20) - 100; /* across the first part boundary */
    CHECK_OK(objstore_get_range(os, "mp/big", at, 300, &b, &e));
    CHECK(b.len == 300 && !memcmp(b.p, p + at, 300));
    dbuf_free(&b);
    CHECK_OK(objstore_put(os, "mp/big", q, n, OBJSTORE_PUT_REPLACE, &e));
    check_get(os, "mp/big", q, n);
    dbuf out;
    dbuf_init(&out, 1 << 16);
    jw w;
    jw_init(&w, &out);
    jw_obj_begin(&w);
    objstore_stats_json(os, &w);
    jw_obj_end(&w);
    CHECK(strstr((const char *)out.p, "\"multipart\":0") == NULL);
    CHECK(strstr((const char *)out.p, "\"backend\":\"s3\"") != NULL);
    dbuf_free(&out);
    free(p);
    free(q);
    objstore_close(os);
}

/* s3rver knows one key id and does not verify SigV4 signatures themselves (its
 * source says so); test_s3_sign.c checks those against AWS's own examples. */
TEST(wrong_credentials_fail_at_open)
{
    setenv("AWS_ACCESS_KEY_ID", "NOT-A-KEY", 1);
    objstore_s3_opts o = {.url = getenv("SL_TEST_S3_URL")};
    objstore *os = NULL;
    errmsg e;
    errmsg_clear(&e);
    CHECK_EQ(objstore_s3_open(&o, &os, &e), SL_EIO);
    CHECK(strstr(errmsg_str(&e), "HTTP 403") != NULL);
    CHECK(strstr(errmsg_str(&e), "InvalidAccessKeyId") != NULL);
    unsetenv("AWS_SECRET_ACCESS_KEY");
    CHECK_EQ(objstore_s3_open(&o, &os, &e), SL_EINVAL);
    CHECK(strstr(errmsg_str(&e), "AWS_SECRET_ACCESS_KEY") != NULL);
}

TEST(missing_bucket_fails_at_open)
{
    objstore_s3_opts o = {.url = "s3://no-such-bucket-here/x"};
    objstore *os = NULL;
    errmsg e;
    errmsg_clear(&e);
    CHECK_EQ(objstore_s3_open(&o, &os, &e), SL_EIO);
    CHECK(strstr(errmsg_str(&e), "NoSuchBucket") != NULL);
}

/*
 * Virtual-hosted and path-style addressing name the same object: a put through
 * one store is read through the other.  The addressing is the environment's
 * (test_s3.py runs the whole contract once with SL_S3_ADDRESSING=virtual); the
 * other store is opened with the opposite style, forced.
 */
TEST(both_addressing_styles_name_the_same_object)
{
    objstore *os = open_s3();
    const char *env = getenv("SL_S3_ADDRESSING");
    objstore_s3_opts o = {.url = getenv("SL_TEST_S3_URL"),
                          .addressing = env && !strcmp(env, "virtual") ? "path" : "virtual"};
    /* Virtual-hosted needs a host that can carry the bucket: BUCKET.s3.localhost. */
    char ep[128];
    const char *cur = getenv("AWS_ENDPOINT_URL");
    const char *port = cur ? strrchr(cur, ':') : NULL;
    CHECK(port != NULL);
    snprintf(ep, sizeof ep, "http://s3.localhost%s", port);
    o.endpoint = ep;
    objstore *other = NULL;
    errmsg e;
    errmsg_clear(&e);
    int rc = objstore_s3_open(&o, &other, &e);
    if (rc)
        TEST_FAIL("open with addressing %s: %s", o.addressing, errmsg_str(&e));
    uint8_t *p = put_random(os, "style/k", 1000, 7);
    check_get(other, "style/k", p, 1000);
    free(p);
    objstore_close(other);
    objstore_close(os);
    /* An unknown style is refused before any request. */
    o.addressing = "sideways";
    CHECK_EQ(objstore_s3_open(&o, &other, &e), SL_EINVAL);
    CHECK(strstr(errmsg_str(&e), "must be path or virtual") != NULL);
}
