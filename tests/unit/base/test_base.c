/*
 * test_base.c - base module: buffers with caps, arenas, varints, the bounded
 * reader, uuids, time text, JSON and base64.
 */
#include "test.h"

#include "base/alloc.h"
#include "base/arena.h"
#include "base/base64.h"
#include "base/budget.h"
#include "base/bytes.h"
#include "base/clock.h"
#include "base/dbuf.h"
#include "base/json.h"
#include "base/uuid.h"

#include <pthread.h>

TEST(dbuf_exact_reserve_leaves_no_slack)
{
    dbuf b;
    dbuf_init(&b, 1 << 20);
    CHECK_OK(dbuf_reserve_exact(&b, 3000));
    CHECK_EQ(b.cap, 3000); /* doubling would give 4096: a cache charging len would lie */
    CHECK_OK(dbuf_reserve(&b, 3000));
    CHECK_EQ(b.cap, 3000);
    CHECK_EQ(dbuf_reserve_exact(&b, (1 << 20) + 1), SL_ETOOBIG);
    dbuf_free(&b);
}

TEST(dbuf_cap_is_hard)
{
    dbuf b;
    dbuf_init(&b, 10);
    CHECK_OK(dbuf_append(&b, "hello", 5));
    CHECK_EQ(dbuf_append(&b, "world!", 6), SL_ETOOBIG);
    CHECK_EQ(b.len, 5); /* a refused append leaves the buffer unchanged */
    CHECK_STR((char *)b.p, "hello");
    CHECK_OK(dbuf_printf(&b, "%d", 12345));
    CHECK_STR((char *)b.p, "hello12345");
    CHECK_EQ(dbuf_printf(&b, "x"), SL_ETOOBIG);
    dbuf_free(&b);
}

TEST(arena_cap_is_hard)
{
    arena a;
    arena_init(&a, 1024, 4096);
    CHECK(arena_alloc(&a, 100) != NULL);
    CHECK(arena_alloc(&a, 2000) != NULL); /* big: its own chunk */
    CHECK(arena_alloc(&a, 100000) == NULL); /* past the cap */
    CHECK(arena_alloc(&a, 100) != NULL);  /* small ones still fit */
    CHECK(a.used_bytes <= 4096);
    arena_destroy(&a);
}

/* Cleanups record which of them ran, in the order they ran. */
static int g_ran[8], g_nran;

static void note_ran(void *p)
{
    if (g_nran < 8)
        g_ran[g_nran] = *(int *)p;
    g_nran++;
}

TEST(arena_cleanups_run_once_in_reverse)
{
    arena a;
    arena_init(&a, 256, 0);
    static int first = 1, second = 2;
    CHECK_OK(arena_on_cleanup(&a, note_ran, &first));
    CHECK_OK(arena_on_cleanup(&a, note_ran, &second));
    arena_reset(&a);
    CHECK_EQ(g_nran, 2);
    CHECK_EQ(g_ran[0], 2); /* the last registered runs first */
    CHECK_EQ(g_ran[1], 1);
    arena_destroy(&a);
    CHECK_EQ(g_nran, 2);
    alloc_stats st;
    alloc_stats_get(&st);
    CHECK_EQ(st.live_blocks, 0);
}

/* Blocks made by one thread and freed by another, and a thread that exits
 * holding memory: the counts add up across threads (each thread counts on
 * its own, alloc_stats_get sums them, an exiting thread's counts are kept). */
enum { XT_N = 1000 };
static void *xt_make(void *arg)
{
    void **p = arg;
    for (int i = 0; i < XT_N; i++)
        p[i] = sl_malloc(100);
    return NULL;
}
static void *xt_free(void *arg)
{
    void **p = arg;
    for (int i = 0; i < XT_N; i++)
        sl_free(p[i]);
    return NULL;
}
static void *xt_big(void *arg)
{
    *(void **)arg = sl_malloc(8u << 20);
    return NULL;
}

TEST(alloc_counts_add_up_across_threads)
{
    alloc_stats before, mid, after;
    alloc_stats_get(&before);
    void **p = sl_calloc(XT_N, sizeof *p);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, xt_make, p), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    alloc_stats_get(&mid); /* the maker is gone: its blocks still count */
    CHECK_EQ(mid.live_blocks, before.live_blocks + XT_N + 1);
    CHECK(mid.total_calls >= before.total_calls + XT_N + 1);
    CHECK_EQ(pthread_create(&t, NULL, xt_free, p), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    void *big = NULL;
    CHECK_EQ(pthread_create(&t, NULL, xt_big, &big), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    alloc_stats_get(&mid);
    CHECK(mid.peak_bytes >= before.live_bytes + (8 << 20));
    sl_free(big);
    sl_free(p);
    alloc_stats_get(&after);
    CHECK_EQ(after.live_blocks, before.live_blocks);
    CHECK_EQ(after.live_bytes, before.live_bytes);
}

TEST(varint_roundtrip_and_strictness)
{
    uint8_t buf[16];
    uint64_t vals[] = {0, 1, 127, 128, 300, 1ull << 35, UINT64_MAX};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        size_t n = uvarint_put(buf, vals[i]);
        CHECK_EQ(n, uvarint_len(vals[i]));
        rd r;
        rd_init(&r, buf, n);
        CHECK(rd_uvarint(&r) == vals[i]);
        CHECK_EQ(r.err, 0);
        CHECK_EQ(rd_left(&r), 0);
        rd_init(&r, buf, n - 1); /* one byte short */
        rd_uvarint(&r);
        CHECK_EQ(r.err, SL_ETRUNC);
    }
    /* eleven continuation bytes: overlong */
    uint8_t bad[11];
    memset(bad, 0xff, sizeof bad);
    rd r;
    rd_init(&r, bad, sizeof bad);
    rd_uvarint(&r);
    CHECK_EQ(r.err, SL_ECORRUPT);
    CHECK_EQ(zigzag_dec(zigzag_enc(-5)), -5);
    CHECK_EQ(zigzag_dec(zigzag_enc(INT64_MIN)), INT64_MIN);
}

TEST(reader_errors_are_sticky_with_offset)
{
    uint8_t b[5] = {1, 2, 3, 4, 5};
    rd r;
    rd_init(&r, b, sizeof b);
    CHECK_EQ(rd_u16(&r), 0x0201);
    CHECK_EQ(rd_u32(&r), 0); /* only 3 left */
    CHECK_EQ(r.err, SL_ETRUNC);
    CHECK_EQ(r.err_off, 2);
    CHECK_EQ(rd_u8(&r), 0);
    CHECK_EQ(r.err_off, 2);
}

TEST(uuid_text_roundtrip)
{
    sl_uuid u, v;
    CHECK_OK(uuid_v4(&u));
    char s[UUID_STR_LEN];
    uuid_format(&u, s);
    CHECK_EQ(strlen(s), 36);
    CHECK_EQ(s[14], '4');
    CHECK_OK(uuid_parse(s, &v));
    CHECK(uuid_eq(&u, &v));
    CHECK_EQ(uuid_parse("not-a-uuid", &v), SL_EINVAL);
    CHECK_EQ(uuid_parse("00000000-0000-0000-0000-0000000000000", &v), SL_EINVAL);
    CHECK(uuid_eq(&u, &v)); /* refused text leaves the output alone */
    CHECK_OK(uuid_parse("00000000-0000-0000-0000-000000000000", &v));
    CHECK(uuid_is_nil(&v));
}

TEST(time_text)
{
    char s[40];
    clock_format_rfc3339(0, s, sizeof s);
    CHECK_STR(s, "1970-01-01T00:00:00.000000000Z");
    int64_t ns;
    CHECK_OK(clock_parse_time("2026-11-22T05:07:00.5Z", &ns));
    clock_format_rfc3339(ns, s, sizeof s);
    CHECK_STR(s, "2026-11-22T05:07:00.500000000Z");
    CHECK_OK(clock_parse_time("2026-11-22T06:07:00+01:00", &ns));
    clock_format_rfc3339(ns, s, sizeof s);
    CHECK_STR(s, "2026-11-22T05:07:00.000000000Z");
    CHECK_OK(clock_parse_time("1234", &ns));
    CHECK_EQ(ns, 1234);
    CHECK_EQ(clock_parse_time("2026-13-01", &ns), SL_EINVAL);
    CHECK_EQ(clock_parse_time("yesterday", &ns), SL_EINVAL);
}

/* Issue 12, point 2: far times clamp instead of wrapping; invalid text is refused. */
TEST(time_text_strict_and_clamped)
{
    int64_t ns = 7;
    CHECK_OK(clock_parse_time("9999-12-31T23:59:59Z", &ns));
    CHECK_EQ(ns, INT64_MAX);
    CHECK_OK(clock_parse_time("2262-04-11T23:47:16.854775807Z", &ns));
    CHECK_EQ(ns, INT64_MAX);
    CHECK_OK(clock_parse_time("2262-04-11T23:47:16.854775806Z", &ns));
    CHECK_EQ(ns, INT64_MAX - 1);
    CHECK_OK(clock_parse_time("0000-01-01T00:00:00Z", &ns));
    CHECK_EQ(ns, INT64_MIN);
    CHECK_OK(clock_parse_time("1677-09-21T00:12:43.145224192Z", &ns));
    CHECK_EQ(ns, INT64_MIN);
    CHECK_OK(clock_parse_time("99999999999999999999999", &ns));
    CHECK_EQ(ns, INT64_MAX);
    CHECK_OK(clock_parse_time("-99999999999999999999999", &ns));
    CHECK_EQ(ns, INT64_MIN);
    /* What RFC 3339 allows. */
    CHECK_OK(clock_parse_time("2024-02-29T12:00:00z", &ns));
    CHECK_OK(clock_parse_time("2024-02-29t12:00:00.123456789123-23:59", &ns));
    CHECK_OK(clock_parse_time("2024-02-29 12:00:00+00:00", &ns));
    CHECK_OK(clock_parse_time("2016-12-31T23:59:60Z", &ns)); /* a leap second */
    int64_t next;
    CHECK_OK(clock_parse_time("2017-01-01T00:00:00Z", &next));
    CHECK_EQ(ns, next);
    /* What it does not: each leaves the output alone. */
    static const char *bad[] = {
        "2026-02-31T00:00:00Z", "2023-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
        "2026-11-22T05:07:00+99:99", "2026-11-22T05:07:00+24:00", "2026-11-22T05:07:00+01:60",
        "2026-11-22T05:07:00+0100", "2026-11-22", "2026-11-22T05:07Z", "2026-11-22T05:07:00",
        "2026-11-22T24:00:00Z", "2026-11-22T05:07:61Z", "2026-11-22T05:07:00.Z",
        "2026-11-22T05:07:00Zjunk", "2026-00-10T00:00:00Z", "2026-11-00T00:00:00Z", "",
        "-", "12a", "+5", " 2026-11-22T05:07:00Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ns = 42;
        if (clock_parse_time(bad[i], &ns) != SL_EINVAL || ns != 42)
            TEST_FAIL("'%s' was accepted", bad[i]);
    }
}

/* Issue 12, point 1: grants never pass the budget; refusals take nothing and say why. */
TEST(budget_grants_refuses_and_gives_back)
{
    budget b;
    budget_init(&b, 100, 4);
    budget_grant g1, g2, g3;
    errmsg e;
    errmsg_clear(&e);
    CHECK_OK(budget_take(&b, 60, 1, 3, &g1, &e));
    CHECK_EQ(g1.threads, 3);
    CHECK_EQ(g1.bytes, 60);
    /* One thread is left: granted instead of the three asked for. */
    CHECK_OK(budget_take(&b, 30, 1, 3, &g2, &e));
    CHECK_EQ(g2.threads, 1);
    /* No thread left: refused, nothing taken. */
    CHECK_EQ(budget_take(&b, 1, 1, 1, &g3, &e), SL_EBUSY);
    CHECK(strstr(e.text, "worker threads") != NULL);
    CHECK_EQ(g3.bytes + g3.threads, 0);
    /* Memory: 90 of 100 held; 20 more does not fit, a request with no threads neither. */
    errmsg_clear(&e);
    CHECK_EQ(budget_take(&b, 20, 0, 0, &g3, &e), SL_EBUSY);
    CHECK(strstr(e.text, "does not fit") != NULL);
    CHECK_EQ(atomic_load(&b.bytes), 90);
    CHECK_EQ(atomic_load(&b.threads), 4);
    /* Larger than the whole budget: refused even when idle. */
    budget_shrink(&b, &g2, 10);
    CHECK_EQ(atomic_load(&b.bytes), 70);
    CHECK_OK(budget_take(&b, 30, 0, 0, &g3, &e));
    budget_give(&b, &g1);
    budget_give(&b, &g2);
    budget_give(&b, &g2); /* a given-back grant is a no-op */
    budget_give(&b, &g3);
    CHECK_EQ(atomic_load(&b.bytes), 0);
    CHECK_EQ(atomic_load(&b.threads), 0);
    CHECK_EQ(atomic_load(&b.grants), 0);
    CHECK_EQ(budget_take(&b, 101, 0, 0, &g1, &e), SL_EBUSY);
    CHECK_EQ(atomic_load(&b.refused_total), 3);
    CHECK_EQ(atomic_load(&b.peak_bytes), 100);
    CHECK_EQ(budget_trim_if_idle(&b), 1); /* idle after the burst: one trim */
    CHECK_EQ(budget_trim_if_idle(&b), 0);
}

TEST(json_write_then_parse)
{
    dbuf b;
    dbuf_init(&b, 1 << 20);
    jw w;
    jw_init(&w, &b);
    jw_obj_begin(&w);
    jw_key(&w, "name");
    jw_str(&w, "a\"b\\c\n\x01");
    jw_key(&w, "list");
    jw_arr_begin(&w);
    jw_int(&w, -3);
    jw_uint(&w, 18446744073709551615ull);
    jw_double(&w, 0.25);
    jw_bool(&w, 1);
    jw_null(&w);
    jw_arr_end(&w);
    jw_obj_end(&w);
    CHECK_EQ(w.err, 0);
    CHECK_STR((char *)b.p,
              "{\"name\":\"a\\\"b\\\\c\\n\\u0001\",\"list\":[-3,18446744073709551615,0.25,true,null]}");
    arena a;
    arena_init(&a, 4096, 1 << 20);
    json_val *v;
    errmsg e;
    errmsg_clear(&e);
    CHECK_OK(json_parse(&a, (char *)b.p, b.len, &v, &e));
    CHECK_STR(json_get(v, "name")->str, "a\"b\\c\n\x01");
    const json_val *l = json_get(v, "list");
    CHECK_EQ(l->len, 5);
    CHECK(l->items[0].is_int && l->items[0].i == -3);
    CHECK(l->items[2].num == 0.25);
    CHECK_EQ(l->items[3].b, 1);
    CHECK_EQ(l->items[4].type, JSON_NULL);
    CHECK_EQ(json_parse(&a, "{\"a\":1,}", 8, &v, &e), SL_EINVAL);
    CHECK(strstr(e.text, "byte 7") != NULL);
    CHECK_EQ(json_parse(&a, "[1] x", 5, &v, &e), SL_EINVAL);
    char deep[200];
    memset(deep, '[', sizeof deep);
    CHECK_EQ(json_parse(&a, deep, sizeof deep, &v, &e), SL_EINVAL);
    CHECK_OK(json_parse(&a, "\"\\ud83d\\ude00\"", 14, &v, &e));
    CHECK_STR(v->str, "\xf0\x9f\x98\x80");
    arena_destroy(&a);
    dbuf_free(&b);
}

TEST(json_raw_values_get_separators_like_any_value)
{
    dbuf b;
    dbuf_init(&b, 1 << 10);
    jw w;
    jw_init(&w, &b);
    jw_obj_begin(&w);
    jw_key(&w, "a");
    jw_raw(&w, "{\"x\":[1,2]}");
    jw_key(&w, "b");
    jw_arr_begin(&w);
    jw_raw(&w, "3");
    jw_raw(&w, "");
    jw_arr_end(&w);
    jw_obj_end(&w);
    CHECK_EQ(w.err, 0);
    CHECK_STR((char *)b.p, "{\"a\":{\"x\":[1,2]},\"b\":[3,null]}");
    dbuf_free(&b);
}

TEST(json_numbers_follow_the_grammar)
{
    arena a;
    arena_init(&a, 4096, 1 << 20);
    json_val *v;
    errmsg e;
    static const char *const good[] = {"0", "-0", "10", "-12", "0.5", "1e9", "1E+2", "2.5e-3"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CHECK_OK(json_parse(&a, good[i], strlen(good[i]), &v, &e));
    CHECK(json_parse(&a, "10", 2, &v, &e) == 0 && v->is_int && v->i == 10);
    CHECK(json_parse(&a, "1e9", 3, &v, &e) == 0 && !v->is_int && v->num == 1e9);
    static const char *const bad[] = {"01", "-01", "1.", ".5", "-", "1e", "1e+", "+1", "1.e3",
                                      "0x10", "1-2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errmsg_clear(&e);
        if (json_parse(&a, bad[i], strlen(bad[i]), &v, &e) != SL_EINVAL)
            TEST_FAIL("'%s' was taken as a number", bad[i]);
    }
    arena_destroy(&a);
}

TEST(base64_strict)
{
    uint8_t b[16];
    size_t n;
    char t[32];
    CHECK_OK(b64_decode("Zm9vYg==", 8, b, sizeof b, &n));
    CHECK_EQ(n, 4);
    CHECK(!memcmp(b, "foob", 4));
    CHECK_EQ(b64_encode((const uint8_t *)"foob", 4, t, sizeof t, false), 8);
    CHECK_STR(t, "Zm9vYg==");
    CHECK_EQ(b64_encode((const uint8_t *)"\xfb\xff", 2, t, sizeof t, true), 3);
    CHECK_STR(t, "-_8");
    CHECK_EQ(b64_encode((const uint8_t *)"foob", 4, t, 8, false), 0);
    const char *bad[] = {"Zm9vYg=", "Zm9vYh==", "Zm9v Yg=", "Zm=vYg==", "====", "Zg==Zg=="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ(b64_decode(bad[i], strlen(bad[i]), b, sizeof b, &n), SL_ECORRUPT);
    CHECK_EQ(b64_decode("Zm9vYmFy", 8, b, 5, &n), SL_ETOOBIG);
}
