/*
 * make_parquet_corpus.c - writes the seed corpus of tests/fuzz/corpus/parquet.
 *
 *   make_parquet_corpus OUTDIR
 *
 * Valid files from our writer (every codec, dictionary and plain, nulls, an
 * empty file) and hand-crafted pages (DELTA_*, BYTE_STREAM_SPLIT, data page
 * v2), then nasty variants: truncations, bad magic, lying footer lengths,
 * bad Thrift (deep nesting, huge list counts, bad types, huge strings), page
 * headers whose sizes lie, decompression bombs, bad definition levels, bad
 * dictionary indices, broken DELTA blocks and schemas we refuse.  The output
 * is committed; rerun this after a format change and commit the difference.
 * (The files DuckDB wrote, d_*.parquet, come from tests/node instead.)
 */
#include "../unit/parquet/craft.h"
#include "parquet/enc.h"
#include "parquet/parquet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

static const char *g_dir;

static void save(const char *name, const void *p, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

static void save_crafted(const char *name, const craft_spec *s)
{
    dbuf b;
    dbuf_init(&b, 1 << 28);
    craft_file(s, &b);
    save(name, b.p, b.len);
    dbuf_free(&b);
}

/* Our writer: all types, nulls every 5th row, 2 row groups, small pages. */
static dbuf written(int codec, bool dict, int64_t rows)
{
    col_schema *s = col_schema_new(6);
    col_schema_set(s, 0, "id", COL_INT64, 0, false);
    col_schema_set(s, 1, "begin", COL_TS_NS, 0, true);
    col_schema_set(s, 2, "d", COL_DOUBLE, 0, true);
    col_schema_set(s, 3, "name", COL_STRING, 0, true);
    col_schema_set(s, 4, "b", COL_BOOL, 0, true);
    col_schema_set(s, 5, "u", COL_UINT32, 0, true);
    col_batch *b;
    col_batch_new(s, &b);
    for (int64_t i = 0; i < rows; i++) {
        char t[16];
        int len = snprintf(t, sizeof t, "n%d", (int)(i % 13));
        col_vec_append_i64(&b->cols[0], i);
        if (i % 5 == 4) {
            for (int k = 1; k < 6; k++)
                col_vec_append_null(&b->cols[k]);
            continue;
        }
        col_vec_append_i64(&b->cols[1], 1700000000000000000ll + i * 1000);
        col_vec_append_f64(&b->cols[2], (double)i / 7);
        col_vec_append_str(&b->cols[3], t, (size_t)len);
        col_vec_append_bool(&b->cols[4], i & 1);
        col_vec_append_u32(&b->cols[5], (uint32_t)i * 3u);
    }
    b->nrows = rows;
    dbuf out;
    dbuf_init(&out, 1 << 28);
    pq_sink sink;
    pq_sink_dbuf(&sink, &out);
    pq_write_opts o;
    pq_write_opts_default(&o);
    o.codec = codec;
    o.dictionary = dict;
    o.row_group_rows = 60;
    o.page_bytes = 256;
    pq_writer *w;
    errmsg e = {0};
    if (pq_writer_open(&sink, s, &o, &w, &e) || pq_writer_set_kv(w, "streamlake.view", "t", &e) ||
        pq_writer_add_batch(w, b, &e) || pq_writer_close(w, NULL, &e)) {
        fprintf(stderr, "writer: %s\n", e.text);
        exit(1);
    }
    col_batch_release(b);
    col_schema_unref(s);
    return out;
}

static void valid_files(void)
{
    static const struct {
        const char *name;
        int codec;
        bool dict;
        int64_t rows;
    } w[] = {
        {"w_zstd_dict.parquet", PQ_CODEC_ZSTD, true, 130},
        {"w_snappy_dict.parquet", PQ_CODEC_SNAPPY, true, 100},
        {"w_lz4_plain.parquet", PQ_CODEC_LZ4_RAW, false, 100},
        {"w_none_plain.parquet", PQ_CODEC_UNCOMPRESSED, false, 70},
        {"w_none_dict.parquet", PQ_CODEC_UNCOMPRESSED, true, 70},
        {"w_empty.parquet", PQ_CODEC_ZSTD, true, 0},
    };
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
        dbuf f = written(w[i].codec, w[i].dict, w[i].rows);
        save(w[i].name, f.p, f.len);
        dbuf_free(&f);
    }
}

static void truncations(void)
{
    dbuf f = written(PQ_CODEC_UNCOMPRESSED, true, 70);
    size_t cuts[] = {0, 3, 4, 11, 12, 40, f.len / 2, f.len - 9, f.len - 8, f.len - 1};
    char name[64];
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        snprintf(name, sizeof name, "trunc_%zu.parquet", cuts[i]);
        save(name, f.p, cuts[i]);
    }
    /* Magic and footer length damage. */
    uint8_t *p = malloc(f.len);
    memcpy(p, f.p, f.len);
    p[1] = 'X';
    save("bad_magic_head.parquet", p, f.len);
    memcpy(p, f.p, f.len);
    memcpy(p + f.len - 4, "PARE", 4);
    save("encrypted_tail.parquet", p, f.len);
    uint32_t lens[] = {0, 1, (uint32_t)f.len, (uint32_t)f.len - 12, 0xffffffffu, 0x7fffffff};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        memcpy(p, f.p, f.len);
        st_u32le(p + f.len - 8, lens[i]);
        snprintf(name, sizeof name, "footer_len_%u.parquet", lens[i]);
        save(name, p, f.len);
    }
    free(p);
    dbuf_free(&f);
}

/* A file whose footer is the given Thrift bytes. */
static void raw_footer(const char *name, const uint8_t *foot, size_t n)
{
    dbuf b;
    dbuf_init(&b, 1 << 28);
    dbuf_append(&b, "PAR1", 4);
    dbuf_append(&b, foot, n);
    uint8_t tail[8];
    st_u32le(tail, (uint32_t)n);
    memcpy(tail + 4, "PAR1", 4);
    dbuf_append(&b, tail, 8);
    save(name, b.p, b.len);
    dbuf_free(&b);
}

static void bad_thrift(void)
{
    uint8_t deep[402];
    deep[0] = 0x15; /* version */
    deep[1] = 0x02;
    memset(deep + 2, 0x1c, 399); /* struct field 1 inside struct field 1 ... */
    deep[401] = 0;
    raw_footer("thrift_deep.parquet", deep, sizeof deep);
    /* schema: list of 2^31 structs in a few bytes. */
    const uint8_t huge_list[] = {0x15, 0x02, 0x19, 0xfc, 0x80, 0x80, 0x80, 0x80, 0x08, 0x00};
    raw_footer("thrift_huge_list.parquet", huge_list, sizeof huge_list);
    const uint8_t bad_type[] = {0x15, 0x02, 0x1e, 0x01, 0x00};
    raw_footer("thrift_bad_type.parquet", bad_type, sizeof bad_type);
    /* created_by (field 6) with a length of 2^40. */
    const uint8_t huge_str[] = {0x15, 0x02, 0x58, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 'x', 0x00};
    raw_footer("thrift_huge_string.parquet", huge_str, sizeof huge_str);
    /* Varint longer than 10 bytes. */
    const uint8_t long_varint[] = {0x15, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00};
    raw_footer("thrift_long_varint.parquet", long_varint, sizeof long_varint);
    const uint8_t empty[] = {0x00};
    raw_footer("thrift_empty_struct.parquet", empty, sizeof empty);
    /* A map of 2^30 entries and a set of structs, both unknown fields. */
    const uint8_t big_map[] = {0x15, 0x02, 0xfb, 0x80, 0x80, 0x80, 0x80, 0x04, 0x55, 0x00};
    raw_footer("thrift_big_map.parquet", big_map, sizeof big_map);
}

static craft_spec spec(int phys, int rep, int codec, int64_t rows)
{
    craft_spec s;
    memset(&s, 0, sizeof s);
    s.phys = phys;
    s.repetition = rep;
    s.codec = codec;
    s.num_rows = rows;
    if (phys == PQ_BYTE_ARRAY)
        s.lt.kind = PQ_LT_STRING;
    return s;
}

static void page(craft_spec *s, int type, int enc, int32_t nvals, const void *body, size_t len)
{
    s->pages[s->npages++] =
        (craft_page){.type = type, .encoding = enc, .num_values = nvals, .body = body, .len = len};
}

static void crafted_valid(void)
{
    dbuf b;
    dbuf_init(&b, 1 << 20);
    int64_t lens[] = {5, 5, 6, 6};
    pq_delta_encode(lens, 4, &b);
    dbuf_append_str(&b, "HelloWorldFoobarABCDEF");
    craft_spec s = spec(PQ_BYTE_ARRAY, PQ_REQUIRED, PQ_CODEC_UNCOMPRESSED, 4);
    page(&s, PQ_PAGE_DATA, PQ_ENC_DELTA_LENGTH_BYTE_ARRAY, 4, b.p, b.len);
    save_crafted("c_delta_length.parquet", &s);

    dbuf_reset(&b);
    int64_t pre[] = {0, 2, 0, 3}, suf[] = {4, 2, 6, 5};
    pq_delta_encode(pre, 4, &b);
    pq_delta_encode(suf, 4, &b);
    dbuf_append_str(&b, "axislebabbleyhood");
    s = spec(PQ_BYTE_ARRAY, PQ_REQUIRED, PQ_CODEC_UNCOMPRESSED, 4);
    page(&s, PQ_PAGE_DATA, PQ_ENC_DELTA_BYTE_ARRAY, 4, b.p, b.len);
    save_crafted("c_delta_byte_array.parquet", &s);

    /* DELTA_BYTE_ARRAY reusing a long prefix many times (amplification). */
    dbuf_reset(&b);
    int64_t pre2[300], suf2[300];
    for (int i = 0; i < 300; i++) {
        pre2[i] = i ? 200 : 0;
        suf2[i] = i ? 0 : 200;
    }
    pq_delta_encode(pre2, 300, &b);
    pq_delta_encode(suf2, 300, &b);
    for (int i = 0; i < 200; i++)
        dbuf_append_byte(&b, 'p');
    s = spec(PQ_BYTE_ARRAY, PQ_REQUIRED, PQ_CODEC_UNCOMPRESSED, 300);
    page(&s, PQ_PAGE_DATA, PQ_ENC_DELTA_BYTE_ARRAY, 300, b.p, b.len);
    save_crafted("c_delta_prefix_reuse.parquet", &s);

    uint8_t bss[24];
    for (int i = 0; i < 24; i++)
        bss[i] = (uint8_t)(i * 37);
    s = spec(PQ_DOUBLE, PQ_REQUIRED, PQ_CODEC_UNCOMPRESSED, 3);
    page(&s, PQ_PAGE_DATA, PQ_ENC_BYTE_STREAM_SPLIT, 3, bss, 24);
    save_crafted("c_bss_double.parquet", &s);
    s = spec(PQ_DOUBLE, PQ_REQUIRED, PQ_CODEC_UNCOMPRESSED, 3);
    page(&s, PQ_PAGE_DATA, PQ_ENC_BYTE_STREAM_SPLIT, 3, bss, 23);
    save_crafted("bad_bss_length.parquet", &s);

    dbuf_reset(&b);
    uint32_t lv[5] = {1, 0, 1, 0, 1};
    pq_rle_encode(lv, 5, 1, &b);
    int32_t def_len = (int32_t)b.len;
    int64_t vals[3] = {10, -20, 30};
    pq_delta_encode(vals, 3, &b);
    s = spec(PQ_INT64, PQ_OPTIONAL, PQ_CODEC_UNCOMPRESSED, 5);
    page(&s, PQ_PAGE_DATA_V2, PQ_ENC_DELTA_BINARY_PACKED, 5, b.p, b.len);
    s.pages[0].num_nulls = 2;
    s.pages[0].def_len = def_len;
    save_crafted("c_v2_delta_nulls.parquet", &s);
    s.pages[0].def_len = 1000;
    save_crafted("bad_v2_def_len.parquet", &s);
    s.pages[0].def_len = def_len;
    s.pages[0].num_nulls = 7;
    save_crafted("bad_v2_num_nulls.parquet", &s);
    dbuf_free(&b);
}

static void crafted_bad(void)
{
    /* Delta headers: block size 0, bit width 65, 2^31 values. */
    const uint8_t d0[] = {0x00, 0x04, 0x03, 0x02};
    const uint8_t d65[] = {0x80, 0x01, 0x04, 0x10, 0x02, 0x00, 0x41, 0x41, 0x41, 0x41, 0xff};
    const uint8_t dhuge[] = {0x80, 0x01, 0x04, 0x80, 0x80, 0x80, 0x80,
                             0x08, 0x02, 0x00, 0,    0,    0,    0};
    craft_spec s = spec(PQ_INT64, PQ_REQUIRED, PQ_CODEC_UNCOMPRESSED, 3);
    page(&s, PQ_PAGE_DATA, PQ_ENC_DELTA_BINARY_PACKED, 3, d0, sizeof d0);
    save_crafted("bad_delta_block0.parquet", &s);
    s.pages[0].body = d65;
    s.pages[0].len = sizeof d65;
    s.pages[0].num_values = 16;
    s.num_rows = 16;
    save_crafted("bad_delta_width65.parquet", &s);
    s.pages[0].body = dhuge;
    s.pages[0].len = sizeof dhuge;
    s.pages[0].num_values = INT32_MAX;
    s.num_rows = INT32_MAX;
    save_crafted("bad_delta_huge_count.parquet", &s);

    /* Dictionary trouble. */
    static const uint8_t dict[] = {1, 0, 0, 0, 'a', 1, 0, 0, 0, 'b'};
    static const uint8_t idx_bad[] = {3, 0x02, 0x05};
    static const uint8_t idx_wide[] = {40, 0x02, 0x01};
    s = spec(PQ_BYTE_ARRAY, PQ_REQUIRED, PQ_CODEC_UNCOMPRESSED, 1);
    page(&s, PQ_PAGE_DICT, PQ_ENC_PLAIN, 2, dict, sizeof dict);
    page(&s, PQ_PAGE_DATA, PQ_ENC_RLE_DICTIONARY, 1, idx_bad, sizeof idx_bad);
    save_crafted("bad_dict_index.parquet", &s);
    s.pages[1].body = idx_wide;
    save_crafted("bad_dict_bit_width.parquet", &s);
    s.pages[0].num_values = 1000000;
    save_crafted("bad_dict_count.parquet", &s);
    s = spec(PQ_BYTE_ARRAY, PQ_REQUIRED, PQ_CODEC_UNCOMPRESSED, 2);
    page(&s, PQ_PAGE_DATA, PQ_ENC_RLE_DICTIONARY, 1, idx_bad, sizeof idx_bad);
    page(&s, PQ_PAGE_DICT, PQ_ENC_PLAIN, 2, dict, sizeof dict);
    save_crafted("bad_dict_after_data.parquet", &s);

    /* Definition levels: a run longer than the page, a cut bit-packed run. */
    static const uint8_t lv_long[] = {4, 0, 0, 0, 0xfe, 0xff, 0xff, 0x0f, 0x01,
                                      7, 0, 0, 0, 0,    0,    0,    0};
    static const uint8_t lv_cut[] = {2, 0, 0, 0, 0x0b, 0xff};
    s = spec(PQ_INT64, PQ_OPTIONAL, PQ_CODEC_UNCOMPRESSED, 5);
    page(&s, PQ_PAGE_DATA, PQ_ENC_PLAIN, 5, lv_long, sizeof lv_long);
    save_crafted("bad_levels_long_run.parquet", &s);
    s.pages[0].body = lv_cut;
    s.pages[0].len = sizeof lv_cut;
    save_crafted("bad_levels_cut.parquet", &s);

    /* Page sizes that lie, and fewer values than rows. */
    static const uint8_t eight[8] = {1, 0, 0, 0, 0, 0, 0, 0};
    s = spec(PQ_INT64, PQ_REQUIRED, PQ_CODEC_UNCOMPRESSED, 1);
    page(&s, PQ_PAGE_DATA, PQ_ENC_PLAIN, 1, eight, 8);
    s.pages[0].comp_size = 1 << 30;
    save_crafted("bad_page_comp_size.parquet", &s);
    s.pages[0].comp_size = 0;
    s.pages[0].raw_size = 4;
    save_crafted("bad_page_raw_size.parquet", &s);
    s.pages[0].raw_size = 0;
    s.num_rows = 1000;
    save_crafted("bad_fewer_values.parquet", &s);
    s.num_rows = 1;
    s.phys = PQ_INT96;
    save_crafted("refused_int96.parquet", &s);
    s.phys = PQ_INT64;
    s.codec = PQ_CODEC_LZO;
    save_crafted("refused_lzo.parquet", &s);
    s.codec = PQ_CODEC_UNCOMPRESSED;
    s.repetition = PQ_REPEATED;
    save_crafted("refused_repeated.parquet", &s);
    s.repetition = PQ_REQUIRED;
    s.pages[0].encoding = 10; /* ALP */
    save_crafted("refused_encoding.parquet", &s);
}

static void bombs(void)
{
    /* 32 MiB of zeros in a small zstd frame: declared truthfully it is over
     * the fuzz target's page cap; declared small it overflows the buffer the
     * reader gives zstd, which must refuse. */
    size_t raw = (size_t)32 << 20;
    uint8_t *zeros = calloc(1, raw);
    size_t cap = ZSTD_compressBound(raw);
    uint8_t *z = malloc(cap);
    size_t n = ZSTD_compress(z, cap, zeros, raw, 3);
    craft_spec s = spec(PQ_INT64, PQ_REQUIRED, PQ_CODEC_ZSTD, (int64_t)(raw / 8));
    page(&s, PQ_PAGE_DATA, PQ_ENC_PLAIN, (int32_t)(raw / 8), z, n);
    s.pages[0].raw_size = (int32_t)raw;
    save_crafted("bomb_zstd_true_size.parquet", &s);
    s.pages[0].raw_size = 4096;
    s.pages[0].num_values = 512;
    s.num_rows = 512;
    save_crafted("bomb_zstd_small_claim.parquet", &s);
    free(zeros);
    free(z);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_parquet_corpus OUTDIR\n");
        return 2;
    }
    g_dir = argv[1];
    valid_files();
    truncations();
    bad_thrift();
    crafted_valid();
    crafted_bad();
    bombs();
    return 0;
}
