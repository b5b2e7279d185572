/*
 * test_pq_format.c - the Thrift compact protocol, metadata coding and the
 * value encodings, checked against hand-made bytes from the specifications
 * and by round trips; malformed input must fail with an error, not a crash.
 */
#include "base/alloc.h"
#include "parquet/enc.h"
#include "parquet/meta.h"
#include "parquet/thrift.h"
#include "test.h"

static uint64_t g_seed = 12345;
static uint64_t rnd(void)
{
    g_seed ^= g_seed << 13;
    g_seed ^= g_seed >> 7;
    g_seed ^= g_seed << 17;
    return g_seed;
}

TEST(thrift_field_headers_match_the_compact_protocol)
{
    dbuf b;
    dbuf_init(&b, 1 << 20);
    tw w;
    tw_init(&w, &b);
    tw_i32(&w, 1, 3);      /* delta 1, type i32 (5), zigzag(3) = 6 */
    tw_i64(&w, 20, -1);    /* delta 19 > 15: long form 0x06, zigzag(20) = 40, value 1 */
    tw_bool(&w, 21, true); /* delta 1, type TRUE (1) */
    tw_str(&w, 22, "ab");
    CHECK_OK(w.err);
    const uint8_t want[] = {0x15, 0x06, 0x06, 0x28, 0x01, 0x11, 0x18, 0x02, 'a', 'b'};
    CHECK_EQ(b.len, sizeof want);
    CHECK(memcmp(b.p, want, sizeof want) == 0);
    dbuf_free(&b);
}

TEST(thrift_reader_skips_unknown_fields_of_every_type)
{
    dbuf b;
    dbuf_init(&b, 1 << 20);
    tw w;
    tw_init(&w, &b);
    /* Unknown fields first: every type, nested containers, a map. */
    tw_field(&w, 100, TT_I8);
    dbuf_append_byte(&b, 0x7f);
    tw_field(&w, 101, TT_DOUBLE);
    dbuf_append(&b, "\0\0\0\0\0\0\xf0\x3f", 8);
    tw_struct_begin(&w, 102);
    tw_list(&w, 1, TT_STRUCT, 2);
    tw_struct_begin(&w, 0);
    tw_str(&w, 1, "x");
    tw_struct_end(&w);
    tw_struct_begin(&w, 0);
    tw_struct_end(&w);
    tw_list(&w, 2, TT_TRUE, 3);
    dbuf_append(&b, "\1\2\1", 3);
    tw_struct_end(&w);
    tw_field(&w, 103, TT_MAP);
    dbuf_append(&b, "\x02\x85", 2); /* 2 entries, binary keys, i32 values */
    dbuf_append(&b, "\x01k\x02\x01q\x04", 6);
    tw_field(&w, 104, TT_UUID);
    dbuf_append(&b, "0123456789abcdef", 16);
    tw_i32(&w, 105, 42);
    dbuf_append_byte(&b, TT_STOP);
    CHECK_OK(w.err);

    tr t;
    tr_init(&t, b.p, b.len, 0);
    int16_t last = 0, id;
    uint8_t ty;
    int64_t seen = -1;
    while (tr_field(&t, &last, &id, &ty) == 1) {
        if (id == 105)
            seen = tr_int(&t);
        else
            tr_skip(&t, ty);
    }
    CHECK_OK(t.r.err);
    CHECK_EQ(seen, 42);
    CHECK_EQ(rd_left(&t.r), 0);
    dbuf_free(&b);
}

TEST(thrift_reader_caps_nesting_and_lying_counts)
{
    /* 100 nested structs: field 1 of type struct, again and again. */
    uint8_t deep[101];
    memset(deep, 0x1c, 100);
    deep[100] = 0;
    tr t;
    tr_init(&t, deep, sizeof deep, 0);
    tr_skip(&t, TT_STRUCT);
    CHECK_EQ(t.r.err, SL_ECORRUPT);

    /* A list claiming 2^32 i32 elements in 6 bytes. */
    const uint8_t big[] = {0xf5, 0x80, 0x80, 0x80, 0x80, 0x10};
    tr_init(&t, big, sizeof big, 0);
    uint8_t et;
    size_t n;
    CHECK_EQ(tr_list(&t, &et, &n), SL_ECORRUPT);

    /* A string longer than the input. */
    const uint8_t str[] = {0x18, 0x7f, 'a'};
    tr_init(&t, str, sizeof str, 0);
    int16_t last = 0, id;
    uint8_t ty;
    CHECK_EQ(tr_field(&t, &last, &id, &ty), 1);
    CHECK(tr_bin(&t, &n) == NULL);
    CHECK(t.r.err != 0);
}

static pq_file_meta sample_meta(arena *a)
{
    static const char *path[] = {"ts"};
    pq_file_meta m = {
        .version = 2, .num_rows = 7, .created_by = "test", .type_defined_order = true};
    m.nschema = 2;
    m.schema = arena_zalloc(a, 2 * sizeof *m.schema);
    m.schema[0] = (pq_schema_el){-1, -1, -1, "schema", 1, -1, -1, -1, -1, {0}};
    m.schema[1] =
        (pq_schema_el){PQ_INT64,    -1,
                       PQ_OPTIONAL, "ts",
                       -1,          -1,
                       -1,          -1,
                       -1,          {.kind = PQ_LT_TIMESTAMP, .unit = PQ_UNIT_NANOS, .utc = true}};
    m.nrgs = 1;
    m.rgs = arena_zalloc(a, sizeof *m.rgs);
    m.rgs[0].ncols = 1;
    m.rgs[0].num_rows = 7;
    m.rgs[0].cols = arena_zalloc(a, sizeof(pq_chunk));
    pq_chunk *c = m.rgs[0].cols;
    *c = (pq_chunk){.file_offset = 4,
                    .has_meta = true,
                    .type = PQ_INT64,
                    .encodings = 1u << PQ_ENC_PLAIN | 1u << PQ_ENC_RLE,
                    .path = path,
                    .npath = 1,
                    .codec = PQ_CODEC_ZSTD,
                    .num_values = 7,
                    .total_uncompressed = 100,
                    .total_compressed = 80,
                    .data_page_offset = 4,
                    .dictionary_page_offset = -1,
                    .index_page_offset = -1};
    c->stats.has = PQ_ST_NULLS | PQ_ST_MIN_VALUE | PQ_ST_MAX_VALUE;
    c->stats.null_count = 2;
    c->stats.min_value = (pq_bytes){(const uint8_t *)"\1\0\0\0\0\0\0\0", 8};
    c->stats.max_value = (pq_bytes){(const uint8_t *)"\x09\0\0\0\0\0\0\0", 8};
    static pq_kv kv[] = {{"view", "thread_spans", 12}};
    m.kv = kv;
    m.nkv = 1;
    return m;
}

TEST(metadata_round_trip)
{
    arena a;
    arena_init(&a, 4096, 1 << 20);
    pq_file_meta m = sample_meta(&a), d;
    dbuf b;
    dbuf_init(&b, 1 << 20);
    CHECK_OK(pq_meta_encode(&m, &b));
    errmsg e = {0};
    CHECK_OK(pq_meta_decode(b.p, b.len, 0, &a, &d, &e));
    CHECK_EQ(d.version, 2);
    CHECK_EQ(d.num_rows, 7);
    CHECK_STR(d.created_by, "test");
    CHECK(d.type_defined_order);
    CHECK_EQ(d.nschema, 2);
    CHECK_STR(d.schema[1].name, "ts");
    CHECK_EQ(d.schema[1].lt.kind, PQ_LT_TIMESTAMP);
    CHECK_EQ(d.schema[1].lt.unit, PQ_UNIT_NANOS);
    CHECK(d.schema[1].lt.utc);
    CHECK_EQ(d.schema[1].repetition, PQ_OPTIONAL);
    const pq_chunk *c = &d.rgs[0].cols[0];
    CHECK_EQ(c->codec, PQ_CODEC_ZSTD);
    CHECK_EQ(c->encodings, 1u << PQ_ENC_PLAIN | 1u << PQ_ENC_RLE);
    CHECK_STR(c->path[0], "ts");
    CHECK_EQ(c->stats.null_count, 2);
    CHECK_EQ(c->stats.min_value.n, 8);
    CHECK_EQ(c->stats.max_value.p[0], 9);
    CHECK_STR(d.kv[0].value, "thread_spans");
    /* Every strict prefix fails cleanly. */
    for (size_t n = 0; n < b.len; n++) {
        errmsg e2 = {0};
        CHECK(pq_meta_decode(b.p, n, 1000, &a, &d, &e2) != 0);
        CHECK(strstr(e2.text, "parquet metadata"));
    }
    dbuf_free(&b);
    arena_destroy(&a);
}

TEST(metadata_decoder_reports_missing_required_fields)
{
    /* A FileMetaData with only version: schema, rows and row groups missing. */
    const uint8_t only_version[] = {0x15, 0x04, 0x00};
    arena a;
    arena_init(&a, 4096, 1 << 20);
    pq_file_meta d;
    errmsg e = {0};
    CHECK_EQ(pq_meta_decode(only_version, sizeof only_version, 500, &a, &d, &e), SL_ECORRUPT);
    CHECK(strstr(e.text, "lacks"));
    CHECK(strstr(e.text, "byte 503"));
    arena_destroy(&a);
}

TEST(page_header_round_trip)
{
    pq_page_header h = {.type = PQ_PAGE_DATA,
                        .uncompressed_size = 1000,
                        .compressed_size = 500,
                        .num_values = 77,
                        .encoding = PQ_ENC_RLE_DICTIONARY,
                        .def_encoding = PQ_ENC_RLE,
                        .rep_encoding = PQ_ENC_RLE};
    dbuf b;
    dbuf_init(&b, 1 << 20);
    CHECK_OK(pq_page_header_encode(&h, &b));
    pq_page_header d;
    size_t hl;
    errmsg e = {0};
    CHECK_OK(pq_page_header_decode(b.p, b.len + 0, 0, &d, &hl, &e));
    CHECK_EQ(hl, b.len);
    CHECK_EQ(d.type, PQ_PAGE_DATA);
    CHECK_EQ(d.num_values, 77);
    CHECK_EQ(d.encoding, PQ_ENC_RLE_DICTIONARY);
    CHECK(d.has_sub);
    CHECK_EQ(pq_page_header_decode(b.p, b.len - 1, 0, &d, &hl, &e), SL_ETRUNC);
    /* Data page v2 carries its own counts and level lengths. */
    pq_page_header v2 = {.type = PQ_PAGE_DATA_V2, .uncompressed_size = 90, .compressed_size = 60,
                         .num_values = 10, .num_nulls = 3, .num_rows = 10,
                         .encoding = PQ_ENC_DELTA_BINARY_PACKED, .def_len = 4, .rep_len = 0,
                         .is_compressed = false};
    dbuf_reset(&b);
    CHECK_OK(pq_page_header_encode(&v2, &b));
    CHECK_OK(pq_page_header_decode(b.p, b.len, 0, &d, &hl, &e));
    CHECK(d.has_sub && !d.is_compressed);
    CHECK_EQ(d.num_nulls, 3);
    CHECK_EQ(d.def_len, 4);
    CHECK_EQ(d.encoding, PQ_ENC_DELTA_BINARY_PACKED);
    dbuf_free(&b);
}

TEST(rle_hybrid_matches_the_spec_example)
{
    /* Encodings.md: 0..7 with bit width 3 bit-packed = 0x88 0xc6 0xfa. */
    const uint8_t bytes[] = {0x03, 0x88, 0xc6, 0xfa};
    pq_rle r;
    CHECK_OK(pq_rle_init(&r, bytes, sizeof bytes, 3));
    uint32_t out[8];
    CHECK_OK(pq_rle_get(&r, out, 8));
    for (uint32_t i = 0; i < 8; i++)
        CHECK_EQ(out[i], i);
    CHECK_EQ(pq_rle_get(&r, out, 1), SL_ETRUNC);
    uint32_t vals[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    dbuf b;
    dbuf_init(&b, 1 << 20);
    CHECK_OK(pq_rle_encode(vals, 8, 3, &b));
    CHECK_EQ(b.len, sizeof bytes);
    CHECK(memcmp(b.p, bytes, sizeof bytes) == 0);
    dbuf_free(&b);
}

TEST(rle_hybrid_round_trips_random_runs)
{
    dbuf b;
    dbuf_init(&b, 1 << 24);
    uint32_t *in = sl_malloc(20000 * sizeof *in), *out = sl_malloc(20001 * sizeof *out);
    for (int bw = 0; bw <= 32; bw++) {
        size_t n = 1 + rnd() % 20000;
        uint64_t mask = bw == 32 ? 0xffffffffu : (1ull << bw) - 1;
        for (size_t i = 0; i < n;) {
            size_t run = rnd() % 3 == 0 ? 1 + rnd() % 40 : 1;
            uint32_t v = (uint32_t)(rnd() & mask);
            for (size_t k = 0; k < run && i < n; k++)
                in[i++] = v;
        }
        dbuf_reset(&b);
        CHECK_OK(pq_rle_encode(in, n, bw, &b));
        pq_rle r;
        CHECK_OK(pq_rle_init(&r, b.p, b.len, bw));
        /* Read in uneven slices, as the reader does across batches. */
        for (size_t i = 0; i < n;) {
            size_t k = 1 + rnd() % 777;
            k = k > n - i ? n - i : k;
            CHECK_OK(pq_rle_get(&r, out + i, k));
            i += k;
        }
        CHECK(memcmp(in, out, n * sizeof *in) == 0);
    }
    sl_free(in);
    sl_free(out);
    dbuf_free(&b);
}

TEST(rle_bits_set_validity_for_levels)
{
    uint32_t lv[100];
    for (int i = 0; i < 100; i++)
        lv[i] = i < 40 ? 1 : (i % 3 != 0);
    dbuf b;
    dbuf_init(&b, 1 << 20);
    CHECK_OK(pq_rle_encode(lv, 100, 1, &b));
    pq_rle r;
    CHECK_OK(pq_rle_init(&r, b.p, b.len, 1));
    uint8_t bits[32] = {0};
    int64_t nv1, nv2;
    CHECK_OK(pq_rle_get_bits(&r, bits, 5, 50, &nv1));
    CHECK_OK(pq_rle_get_bits(&r, bits, 55, 50, &nv2));
    int64_t want = 0;
    for (int i = 0; i < 100; i++) {
        want += lv[i];
        CHECK_EQ((bits[(i + 5) / 8] >> ((i + 5) % 8)) & 1, lv[i]);
    }
    CHECK_EQ(nv1 + nv2, want);
    CHECK_EQ(bits[0] & 0x1f, 0);
    dbuf_free(&b);
}

TEST(rle_rejects_bad_runs)
{
    uint32_t out[4];
    pq_rle r;
    const uint8_t zero_run[] = {0x00, 0x01}; /* RLE run of length 0 */
    CHECK_OK(pq_rle_init(&r, zero_run, 2, 1));
    CHECK_EQ(pq_rle_get(&r, out, 1), SL_ECORRUPT);
    const uint8_t too_wide[] = {0x08, 0x05}; /* value 5 with bit width 2 */
    CHECK_OK(pq_rle_init(&r, too_wide, 2, 2));
    CHECK_EQ(pq_rle_get(&r, out, 1), SL_ECORRUPT);
    const uint8_t cut[] = {0x03, 0x88}; /* 8 values of width 3 need 3 bytes */
    CHECK_OK(pq_rle_init(&r, cut, 2, 3));
    CHECK_EQ(pq_rle_get(&r, out, 4), SL_ETRUNC);
    CHECK(pq_rle_init(&r, cut, 2, 33) != 0);
}

TEST(delta_binary_packed_matches_the_spec_examples)
{
    /* Example 1 with the smallest legal block (128 values, 4 miniblocks of 32):
     * 1..5 → header 128 4 5 1(zigzag 2), block: min delta 1 (zigzag 2), widths 0. */
    const uint8_t ex1[] = {0x80, 0x01, 0x04, 0x05, 0x02, 0x02, 0, 0, 0, 0};
    int64_t out[8];
    size_t n, used;
    errmsg e = {0};
    CHECK_OK(pq_delta_decode(ex1, sizeof ex1, out, 8, &n, &used, &e));
    CHECK_EQ(n, 5);
    CHECK_EQ(used, sizeof ex1);
    for (int i = 0; i < 5; i++)
        CHECK_EQ(out[i], i + 1);
    /* Our encoder produces the same bytes. */
    int64_t in[5] = {1, 2, 3, 4, 5};
    dbuf b;
    dbuf_init(&b, 1 << 20);
    CHECK_OK(pq_delta_encode(in, 5, &b));
    CHECK_EQ(b.len, sizeof ex1);
    CHECK(memcmp(b.p, ex1, sizeof ex1) == 0);
    dbuf_free(&b);
}

TEST(delta_binary_packed_round_trips_and_wraps)
{
    size_t n = 5000;
    int64_t *in = sl_malloc(n * sizeof *in), *out = sl_malloc((n + 1) * sizeof *out);
    for (size_t i = 0; i < n; i++)
        in[i] = i % 97 == 0   ? INT64_MIN
                : i % 89 == 0 ? INT64_MAX
                              : (int64_t)(rnd() >> (rnd() % 64));
    dbuf b;
    dbuf_init(&b, 1 << 24);
    CHECK_OK(pq_delta_encode(in, n, &b));
    size_t got, used;
    errmsg e = {0};
    CHECK_OK(pq_delta_decode(b.p, b.len, out, n + 1, &got, &used, &e));
    CHECK_EQ(got, n);
    CHECK_EQ(used, b.len);
    CHECK(memcmp(in, out, n * sizeof *in) == 0);
    /* Too many values for the room, and every truncation, fail cleanly. */
    CHECK_EQ(pq_delta_decode(b.p, b.len, out, n - 1, &got, &used, &e), SL_ECORRUPT);
    for (size_t cut = 0; cut < b.len; cut += 1 + cut / 4)
        CHECK(pq_delta_decode(b.p, cut, out, n + 1, &got, &used, &e) != 0);
    /* A block size that is not a multiple of 128 is refused. */
    const uint8_t bad[] = {0x40, 0x01, 0x01, 0x00};
    CHECK_EQ(pq_delta_decode(bad, sizeof bad, out, 4, &got, &used, &e), SL_ECORRUPT);
    sl_free(in);
    sl_free(out);
    dbuf_free(&b);
}

TEST(unpack64_reads_only_its_input)
{
    /* 3 values of width 60 need 23 bytes: give exactly that many on the heap
     * so ASan sees any overread. */
    uint64_t vals[8] = {0xfffffffffffffffull, 1, 0x123456789abcdefull, 0, 0, 0, 0, 0};
    uint64_t packed[8] = {0};
    /* Pack by hand: value i at bit 60 * i. */
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 60; k++)
            if ((vals[i] >> k) & 1) {
                int bit = 60 * i + k;
                packed[bit / 64] |= 1ull << (bit % 64);
            }
    uint8_t *exact = sl_malloc(23);
    memcpy(exact, packed, 23);
    uint64_t out[3];
    pq_unpack64(exact, 23, 60, 0, 3, out);
    for (int i = 0; i < 3; i++)
        CHECK(out[i] == vals[i]);
    sl_free(exact);
}
