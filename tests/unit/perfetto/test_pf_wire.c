/*
 * test_pf_wire.c - the protobuf wire writer and the interning tables.
 *
 * Expected bytes are worked out by hand from the protobuf encoding rules
 * (key = field << 3 | wire type, LEB128 varints, little-endian fixed64).
 */
#include "test.h"

#include "base/alloc.h"
#include "perfetto/pf_intern.h"
#include "perfetto/pf_wire.h"

static int bytes_eq(const uint8_t *a, const char *hex)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        if (a[i] != v)
            return 0;
    }
    return 1;
}

TEST(varints_match_the_protobuf_encoding)
{
    uint8_t buf[128];
    pw w;
    pw_init(&w, buf, sizeof buf);
    pw_varint(&w, 1, 0);          /* 08 00 */
    pw_varint(&w, 1, 150);        /* 08 96 01: the protobuf guide's example */
    pw_varint(&w, 16, 1);         /* 80 01 01: field 16 needs a two-byte key */
    pw_int64(&w, 2, -1);          /* 10 ff ff ff ff ff ff ff ff ff 01 */
    pw_varint(&w, 3, UINT64_MAX); /* 18 ff*9 01 */
    CHECK_OK(w.err);
    CHECK_EQ(pw_len(&w), 2 + 3 + 3 + 11 + 11);
    CHECK(bytes_eq(buf, "0800089601800101"));
    CHECK(bytes_eq(buf + 8, "10ffffffffffffffffff01"));
    CHECK(bytes_eq(buf + 19, "18ffffffffffffffffff01"));
}

TEST(fixed64_and_bytes)
{
    uint8_t buf[64];
    pw w;
    pw_init(&w, buf, sizeof buf);
    pw_fixed64(&w, 47, 0x0102030405060708ull); /* key 47<<3|1 = 377 = f9 02 */
    pw_bytes(&w, 2, "testing", 7);              /* 12 07 "testing" */
    pw_bytes(&w, 2, "", 0);                     /* 12 00 */
    CHECK_OK(w.err);
    CHECK_EQ(pw_len(&w), 10 + 9 + 2);
    CHECK(bytes_eq(buf, "f9020807060504030201"));
    CHECK(bytes_eq(buf + 10, "1207"));
    CHECK(memcmp(buf + 12, "testing", 7) == 0);
    CHECK(bytes_eq(buf + 19, "1200"));
}

TEST(short_nested_message_uses_one_length_byte)
{
    uint8_t buf[64];
    pw w;
    pw_init(&w, buf, sizeof buf);
    pw_msg_begin(&w, 3);
    pw_varint(&w, 1, 150);
    pw_msg_end(&w);
    CHECK_OK(w.err);
    CHECK_EQ(pw_len(&w), 5);
    CHECK(bytes_eq(buf, "1a03089601")); /* the protobuf guide's embedded message */
}

TEST(long_nested_messages_are_moved_to_fit_their_length)
{
    static uint8_t buf[70000];
    uint8_t payload[20000];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 7);
    pw w;
    pw_init(&w, buf, sizeof buf);
    pw_msg_begin(&w, 1);           /* outer: 1 + 3 + 20004 + 2 bytes of body */
    pw_msg_begin(&w, 2);           /* inner: 20004 bytes (3-byte length) */
    pw_bytes(&w, 5, payload, sizeof payload);
    pw_msg_end(&w);
    pw_varint(&w, 7, 1);
    pw_msg_end(&w);
    CHECK_OK(w.err);
    /* Decode what was written and compare with what was meant. */
    rd r;
    rd_init(&r, buf, pw_len(&w));
    CHECK_EQ(rd_uvarint(&r), (1 << 3) | 2);
    uint64_t outer = rd_uvarint(&r);
    CHECK_EQ(outer, rd_left(&r));
    CHECK_EQ(rd_uvarint(&r), (2 << 3) | 2);
    uint64_t inner = rd_uvarint(&r);
    CHECK_EQ(inner, 4 + sizeof payload);
    CHECK_EQ(rd_uvarint(&r), (5 << 3) | 2);
    CHECK_EQ(rd_uvarint(&r), sizeof payload);
    CHECK(memcmp(rd_bytes(&r, sizeof payload), payload, sizeof payload) == 0);
    CHECK_EQ(rd_uvarint(&r), 7 << 3);
    CHECK_EQ(rd_uvarint(&r), 1);
    CHECK_EQ(rd_left(&r), 0);
    CHECK_OK(r.err);
    /* Canonical: exactly the shortest encoding. */
    CHECK_EQ(pw_len(&w), 1 + 3 + (1 + 3 + 1 + 3 + sizeof payload) + 2);
}

TEST(length_of_exactly_128_takes_two_bytes)
{
    uint8_t buf[300], body[126];
    memset(body, 'x', sizeof body);
    pw w;
    pw_init(&w, buf, sizeof buf);
    pw_msg_begin(&w, 1);
    pw_bytes(&w, 2, body, sizeof body); /* 2 + 126 = 128 bytes of body */
    pw_msg_end(&w);
    CHECK_OK(w.err);
    CHECK(bytes_eq(buf, "0a8001127e"));
    CHECK_EQ(pw_len(&w), 3 + 128);
}

TEST(overflow_is_sticky_and_never_writes_past_the_end)
{
    uint8_t buf[32];
    memset(buf, 0xee, sizeof buf);
    pw w;
    pw_init(&w, buf, 16);
    pw_bytes(&w, 1, "0123456789abcdef", 16);
    CHECK_EQ(w.err, SL_ETOOBIG);
    pw_varint(&w, 1, 1);
    pw_msg_begin(&w, 2);
    pw_msg_end(&w);
    CHECK_EQ(w.err, SL_ETOOBIG);
    for (int i = 16; i < 32; i++)
        CHECK_EQ(buf[i], 0xee);
    /* A huge length cannot wrap the room check. */
    pw_init(&w, buf, 16);
    pw_bytes(&w, 1, buf, SIZE_MAX - 3);
    CHECK_EQ(w.err, SL_ETOOBIG);
}

TEST(unbalanced_messages_are_internal_errors)
{
    uint8_t buf[256];
    pw w;
    pw_init(&w, buf, sizeof buf);
    pw_msg_end(&w);
    CHECK_EQ(w.err, SL_EINTERNAL);
    pw_init(&w, buf, sizeof buf);
    for (int i = 0; i <= PW_MAX_DEPTH; i++)
        pw_msg_begin(&w, 1);
    CHECK_EQ(w.err, SL_EINTERNAL);
}

/* ---- interning --------------------------------------------------------- */

static pf_site site(const char *name, const char *cat, const char *file, uint32_t line)
{
    return (pf_site){name, cat, file, (uint32_t)strlen(name), (uint32_t)strlen(cat),
                     (uint32_t)strlen(file), line, 0};
}

TEST(intern_defines_each_string_once)
{
    pf_intern in;
    pf_intern_init(&in, 0, 0);
    pf_iids a, b, c;
    unsigned fresh;
    int reset;
    pf_site s1 = site("parse", "sql", "parse.c", 10);
    pf_site s2 = site("parse", "sql", "parse.c", 11); /* same name, other line */
    CHECK_OK(pf_intern_site(&in, &s1, &a, &fresh, &reset));
    CHECK_EQ(fresh, PF_FRESH_NAME | PF_FRESH_CAT | PF_FRESH_LOC);
    CHECK_EQ(a.name, 1);
    CHECK_EQ(a.cat, 1);
    CHECK_EQ(a.loc, 1);
    CHECK_OK(pf_intern_site(&in, &s1, &b, &fresh, &reset));
    CHECK_EQ(fresh, 0);
    CHECK(memcmp(&a, &b, sizeof a) == 0);
    CHECK_OK(pf_intern_site(&in, &s2, &c, &fresh, &reset));
    CHECK_EQ(fresh, PF_FRESH_LOC);
    CHECK_EQ(c.name, 1);
    CHECK_EQ(c.loc, 2);
    CHECK_EQ(reset, 0);
    uint32_t len, line;
    const char *p = pf_intern_bytes(&in, &in.locs, 2, &len, &line);
    CHECK(len == 7 && memcmp(p, "parse.c", 7) == 0 && line == 11);
    pf_intern_free(&in);
}

TEST(intern_omits_empty_fields)
{
    pf_intern in;
    pf_intern_init(&in, 0, 0);
    pf_iids a;
    unsigned fresh;
    int reset;
    pf_site s = site("tick", "", "", 0);
    CHECK_OK(pf_intern_site(&in, &s, &a, &fresh, &reset));
    CHECK(a.name == 1 && a.cat == 0 && a.loc == 0);
    CHECK_EQ(fresh, PF_FRESH_NAME);
    pf_site t = site("", "", "", 7); /* a line without a file is a location */
    CHECK_OK(pf_intern_site(&in, &t, &a, &fresh, &reset));
    CHECK(a.name == 0 && a.loc == 1);
    pf_intern_free(&in);
}

TEST(a_wrong_caller_key_never_gives_a_wrong_name)
{
    pf_intern in;
    pf_intern_init(&in, 0, 0);
    pf_iids a, b;
    unsigned fresh;
    int reset;
    pf_site s1 = site("alpha", "t", "f.c", 1), s2 = site("beta", "t", "f.c", 1);
    s1.key = s2.key = 42; /* the caller claims both are the same site */
    CHECK_OK(pf_intern_site(&in, &s1, &a, &fresh, &reset));
    CHECK_OK(pf_intern_site(&in, &s2, &b, &fresh, &reset));
    CHECK(a.name != b.name);
    CHECK_EQ(fresh, PF_FRESH_NAME);
    CHECK_OK(pf_intern_site(&in, &s1, &b, &fresh, &reset));
    CHECK_EQ(b.name, a.name);
    CHECK_EQ(fresh, 0);
    pf_intern_free(&in);
}

TEST(intern_resets_when_the_entry_cap_is_reached)
{
    pf_intern in;
    pf_intern_init(&in, 0, 16); /* 16 entries: 4 sites of 4 entries */
    pf_iids a;
    unsigned fresh;
    int reset;
    char name[32];
    uint32_t gen = in.generation;
    int resets = 0;
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof name, "fn%d", i);
        pf_site s = site(name, name, name, 1);
        CHECK_OK(pf_intern_site(&in, &s, &a, &fresh, &reset));
        CHECK(in.names.n + in.cats.n + in.locs.n + in.nsites <= 16);
        if (reset) {
            resets++;
            CHECK_EQ(a.name, 1); /* iids restart in the new generation */
        }
        CHECK_EQ(fresh, PF_FRESH_NAME | PF_FRESH_CAT | PF_FRESH_LOC);
    }
    CHECK_EQ(resets, 9);
    CHECK_EQ(in.generation, gen + 9);
    pf_intern_free(&in);
}

TEST(intern_resets_when_the_byte_cap_is_reached)
{
    pf_intern in;
    pf_intern_init(&in, 4 * PF_STR_MAX_BYTES, 0);
    static char big[PF_STR_MAX_BYTES];
    memset(big, 'a', sizeof big);
    pf_iids a;
    unsigned fresh;
    int reset, resets = 0;
    for (int i = 0; i < 20; i++) {
        big[0] = (char)('A' + i);
        pf_site s = {big, "", "", sizeof big, 0, 0, 0, 0};
        CHECK_OK(pf_intern_site(&in, &s, &a, &fresh, &reset));
        CHECK(in.pool.len <= 4 * PF_STR_MAX_BYTES);
        resets += reset;
    }
    CHECK_EQ(resets, 4); /* 4 names per generation, 20 names */
    pf_intern_free(&in);
}

TEST(long_strings_are_cut_on_a_character_boundary)
{
    /* "é" is c3 a9: cutting 3 bytes of "aéé" must keep "aé", not "a\xc3\xa9\xc3". */
    CHECK_EQ(pf_str_clamp("a\xc3\xa9\xc3\xa9", 5, 4), 3);
    CHECK_EQ(pf_str_clamp("a\xc3\xa9\xc3\xa9", 5, 3), 3);
    CHECK_EQ(pf_str_clamp("abc", 3, 8), 3);
    static char big[PF_STR_MAX_BYTES + 10];
    memset(big, 'z', sizeof big);
    pf_intern in;
    pf_intern_init(&in, 0, 0);
    pf_site s = {big, "", "", sizeof big, 0, 0, 0, 0};
    pf_iids a;
    unsigned fresh;
    int reset;
    CHECK_OK(pf_intern_site(&in, &s, &a, &fresh, &reset));
    uint32_t len;
    CHECK(pf_intern_bytes(&in, &in.names, a.name, &len, NULL));
    CHECK_EQ(len, PF_STR_MAX_BYTES);
    pf_intern_free(&in);
}

TEST(many_sites_grow_the_tables)
{
    pf_intern in;
    pf_intern_init(&in, 0, 0);
    char name[32];
    pf_iids a;
    unsigned fresh;
    int reset;
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 5000; i++) {
            snprintf(name, sizeof name, "f%d", i);
            pf_site s = site(name, "cat", "file.c", (uint32_t)(i % 100));
            CHECK_OK(pf_intern_site(&in, &s, &a, &fresh, &reset));
            CHECK_EQ(a.name, i + 1);
            CHECK_EQ(fresh != 0, round == 0);
        }
    CHECK_EQ(in.names.n, 5000);
    CHECK_EQ(in.cats.n, 1);
    CHECK_EQ(in.locs.n, 100);
    pf_intern_free(&in);
    alloc_stats st;
    alloc_stats_get(&st);
    CHECK_EQ(st.live_blocks, 0);
}
