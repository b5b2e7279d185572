/*
 * test_pq_rw.c - the writer and the reader together, and what the lake needs
 * from them: exact round trips for every type, codec and encoding path;
 * bounded batches; projection; row-group pruning; shared footers read on
 * several threads; key/value metadata; clear errors on damaged files.
 */
#include "base/alloc.h"
#include "base/bytes.h"
#include "craft.h"
#include "parquet/enc.h"
#include "parquet/parquet.h"
#include "test.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

enum { C_ID, C_I32, C_U32, C_U64, C_D, C_TS, C_B, C_S, C_DS, C_BIN, C_N };

static col_schema *schema(void)
{
    col_schema *s = col_schema_new(C_N);
    col_schema_set(s, C_ID, "id", COL_INT64, 0, false);
    col_schema_set(s, C_I32, "i32", COL_INT32, 0, true);
    col_schema_set(s, C_U32, "u32", COL_UINT32, 0, true);
    col_schema_set(s, C_U64, "u64", COL_UINT64, 0, true);
    col_schema_set(s, C_D, "d", COL_DOUBLE, 0, true);
    col_schema_set(s, C_TS, "begin", COL_TS_NS, 0, false);
    col_schema_set(s, C_B, "b", COL_BOOL, 0, true);
    col_schema_set(s, C_S, "s", COL_STRING, 0, true);
    col_schema_set(s, C_DS, "ds", COL_STRING, 0, true);
    col_schema_set(s, C_BIN, "bin", COL_BINARY, 0, true);
    return s;
}

/* Rows [start, start + n): row r's values are a function of r alone. */
static col_batch *batch(col_schema *s, col_dict *d, int64_t start, int64_t n, int null_every)
{
    col_batch *b;
    CHECK_OK(col_batch_new(s, &b));
    col_vec_init(&b->cols[C_DS], COL_DICT, 1);
    col_vec_set_dict(&b->cols[C_DS], d);
    char t[32];
    for (int64_t r = start; r < start + n; r++) {
        col_vec *c = b->cols;
        bool null = null_every && r % null_every == 1;
        CHECK_OK(col_vec_append_i64(&c[C_ID], r));
        CHECK_OK(col_vec_append_i64(&c[C_TS], 1700000000000000000ll + r * 1000 + 7));
        if (null) {
            for (int k = C_I32; k < C_N; k++)
                if (k != C_TS)
                    CHECK_OK(col_vec_append_null(&c[k]));
            continue;
        }
        CHECK_OK(col_vec_append_i32(&c[C_I32], (int32_t)(r * 2654435761u)));
        CHECK_OK(col_vec_append_u32(&c[C_U32], (uint32_t)(r * 40503u)));
        CHECK_OK(col_vec_append_u64(&c[C_U64], (uint64_t)r * 0x9e3779b97f4a7c15ull));
        CHECK_OK(col_vec_append_f64(&c[C_D], (double)r / 3.0 - 100.0));
        CHECK_OK(col_vec_append_bool(&c[C_B], r % 3 == 0));
        int len = snprintf(t, sizeof t, "s%lld", (long long)(r % 5000));
        CHECK_OK(col_vec_append_str(&c[C_S], t, (size_t)len));
        CHECK_OK(col_vec_append_key(&c[C_DS], (uint64_t)(r % d->strings.len)));
        CHECK_OK(col_vec_append_str(&c[C_BIN], t, (size_t)(r % 4)));
    }
    b->nrows = n;
    return b;
}

static col_dict *names(int n)
{
    col_dict *d = col_dict_new();
    char t[32];
    for (int i = 0; i < n; i++) {
        int len = snprintf(t, sizeof t, "name_%d", i * 7 % n);
        CHECK_OK(col_vec_append_str(&d->strings, t, (size_t)len));
    }
    return d;
}

/* Writes rows in batches of batch_rows to a dbuf. */
static dbuf write_file(const pq_write_opts *o, int64_t rows, int64_t batch_rows, int null_every)
{
    col_schema *s = schema();
    col_dict *d = names(150);
    dbuf out;
    dbuf_init(&out, (size_t)1 << 30);
    pq_sink sink;
    pq_sink_dbuf(&sink, &out);
    pq_writer *w;
    errmsg e = {0};
    CHECK_OK(pq_writer_open(&sink, s, o, &w, &e));
    CHECK_OK(pq_writer_set_kv(w, "view", "thread_spans", &e));
    CHECK_OK(pq_writer_set_kv(w, "schema_version", "1", &e));
    CHECK_OK(pq_writer_set_kv(w, "schema_version", "2", &e));
    for (int64_t r = 0; r < rows; r += batch_rows) {
        int64_t n = rows - r < batch_rows ? rows - r : batch_rows;
        col_batch *b = batch(s, d, r, n, null_every);
        CHECK_OK(pq_writer_add_batch(w, b, &e));
        col_batch_release(b);
    }
    int64_t size;
    CHECK_OK(pq_writer_close(w, &size, &e));
    CHECK_EQ(size, (int64_t)out.len);
    col_dict_unref(d);
    col_schema_unref(s);
    return out;
}

static void same_cell(const col_vec *x, int64_t i, const col_vec *y, int64_t j)
{
    CHECK_EQ(col_vec_is_valid(x, i), col_vec_is_valid(y, j));
    if (!col_vec_is_valid(x, i))
        return;
    size_t nx, ny;
    switch (x->type) {
    case COL_BOOL:
        CHECK_EQ(col_vec_bool(x, i), col_vec_bool(y, j));
        break;
    case COL_INT32:
    case COL_UINT32:
        CHECK_EQ(col_vec_i32(x, i), col_vec_i32(y, j));
        break;
    case COL_STRING:
    case COL_BINARY:
    case COL_DICT: {
        const uint8_t *px = col_vec_str(x, i, &nx), *py = col_vec_str(y, j, &ny);
        CHECK(nx == ny && memcmp(px, py, nx) == 0);
        break;
    }
    default:
        CHECK_EQ(col_vec_i64(x, i), col_vec_i64(y, j));
        break;
    }
}

/* Opens a reader and a scan over f (both checked). */
static pq_scan *open_scan(const dbuf *f, const pq_scan_opts *o, pq_reader **r)
{
    errmsg e = {0};
    pq_scan *s;
    CHECK_OK(pq_reader_open(f->p, f->len, NULL, r, &e));
    CHECK_OK(pq_scan_open(*r, o, &s, &e));
    return s;
}

/* Reads everything back and compares with regenerated rows. */
static int64_t check_file(const dbuf *f, int64_t rows, int null_every, int64_t batch_rows)
{
    pq_reader *r;
    errmsg e = {0};
    pq_scan_opts o = {.batch_rows = batch_rows};
    pq_scan *s = open_scan(f, &o, &r);
    CHECK_EQ(pq_footer_num_rows(pq_reader_footer(r)), rows);
    CHECK_STR(pq_footer_kv(pq_reader_footer(r), "schema_version"), "2");
    col_schema *ws = schema();
    col_dict *d = names(150);
    int64_t seen = 0, dict_batches = 0;
    for (;;) {
        col_batch *b;
        CHECK_OK(pq_scan_next(s, &b, &e));
        if (!b)
            break;
        CHECK(b->nrows > 0 && b->nrows <= batch_rows);
        CHECK_OK(col_batch_validate(b));
        col_batch *want = batch(ws, d, seen, b->nrows, null_every);
        for (int c = 0; c < C_N; c++)
            for (int64_t i = 0; i < b->nrows; i++)
                same_cell(&want->cols[c], i, &b->cols[c], i);
        dict_batches += b->cols[C_DS].type == COL_DICT;
        seen += b->nrows;
        col_batch_release(want);
        col_batch_release(b);
    }
    CHECK_EQ(seen, rows);
    pq_scan_close(s);
    pq_reader_close(r);
    col_dict_unref(d);
    col_schema_unref(ws);
    return dict_batches;
}

TEST(round_trip_every_codec)
{
    int codecs[] = {PQ_CODEC_ZSTD, PQ_CODEC_SNAPPY, PQ_CODEC_LZ4_RAW, PQ_CODEC_UNCOMPRESSED};
    for (int i = 0; i < 4; i++) {
        alloc_stats a0, a1;
        alloc_stats_get(&a0);
        pq_write_opts o;
        pq_write_opts_default(&o);
        o.codec = codecs[i];
        o.row_group_rows = 3000;
        o.page_bytes = 2048;
        dbuf f = write_file(&o, 10007, 999, 7);
        CHECK(check_file(&f, 10007, 7, 1024) > 0);
        dbuf_free(&f);
        alloc_stats_get(&a1);
        CHECK_EQ(a1.live_blocks, a0.live_blocks);
    }
}

TEST(delta_columns_round_trip_and_shrink)
{
    /* the id (sorted) and begin columns delta-packed: the same values come back, the
     * column chunks say DELTA_BINARY_PACKED, and the file is smaller */
    pq_write_opts o;
    pq_write_opts_default(&o);
    o.codec = PQ_CODEC_UNCOMPRESSED;
    dbuf plain = write_file(&o, 20000, 4000, 5);
    static const char *const delta[] = {"id", "begin", "nosuch"};
    o.delta_columns = delta;
    o.ndelta_columns = 3;
    dbuf packed = write_file(&o, 20000, 4000, 5);
    check_file(&packed, 20000, 5, 4096);
    pq_reader *r;
    errmsg e = {0};
    CHECK_OK(pq_reader_open(packed.p, packed.len, NULL, &r, &e));
    const pq_file_meta *m = pq_footer_meta(pq_reader_footer(r));
    CHECK(m->rgs[0].cols[C_ID].encodings & (1u << PQ_ENC_DELTA_BINARY_PACKED));
    CHECK(m->rgs[0].cols[C_TS].encodings & (1u << PQ_ENC_DELTA_BINARY_PACKED));
    CHECK(!(m->rgs[0].cols[C_D].encodings & (1u << PQ_ENC_DELTA_BINARY_PACKED)));
    pq_reader_close(r);
    CHECK(packed.len + 200000 < plain.len); /* 2 x 20000 x 8 bytes become a few bits */
    dbuf_free(&plain);
    dbuf_free(&packed);
}

TEST(round_trip_without_dictionary_and_without_nulls)
{
    pq_write_opts o;
    pq_write_opts_default(&o);
    o.dictionary = false;
    dbuf f = write_file(&o, 5000, 5000, 0);
    CHECK_EQ(check_file(&f, 5000, 0, 65536), 0);
    dbuf_free(&f);
}

TEST(dictionary_vectors_share_one_dictionary_per_row_group)
{
    pq_write_opts o;
    pq_write_opts_default(&o);
    o.row_group_rows = 50000;
    dbuf f = write_file(&o, 50000, 10000, 0);
    pq_reader *r;
    errmsg e = {0};
    const char *cols[] = {"ds", "id"};
    pq_scan_opts so = {.columns = cols, .ncolumns = 2, .batch_rows = 8192};
    pq_scan *s = open_scan(&f, &so, &r);
    col_dict *first = NULL;
    int batches = 0;
    for (col_batch *b; pq_scan_next(s, &b, &e) == 0 && b; batches++) {
        CHECK_EQ(b->ncols, 2);
        CHECK_STR(b->schema->fields[0].name, "ds");
        CHECK_EQ(b->cols[0].type, COL_DICT);
        CHECK_EQ(b->cols[0].key_bytes, 1);
        CHECK_EQ(b->cols[0].dict->strings.len, 150);
        if (!first)
            first = col_dict_ref(b->cols[0].dict);
        CHECK(b->cols[0].dict == first);
        col_batch_release(b);
    }
    CHECK_EQ(batches, 7);
    col_dict_unref(first);
    pq_scan_close(s);
    pq_reader_close(r);
    dbuf_free(&f);
}

TEST(dictionary_falls_back_to_plain_when_full)
{
    pq_write_opts o;
    pq_write_opts_default(&o);
    o.dict_max_entries = 1000; /* "s" has 5000 distinct values */
    o.page_bytes = 4096;
    dbuf f = write_file(&o, 20000, 3000, 5);
    check_file(&f, 20000, 5, 4096);
    pq_footer *ft;
    errmsg e = {0};
    CHECK_OK(pq_footer_parse(f.p, f.len, &ft, &e));
    const pq_chunk *c = &pq_footer_meta(ft)->rgs[0].cols[C_S];
    CHECK(c->encodings & (1u << PQ_ENC_RLE_DICTIONARY));
    CHECK(c->encodings & (1u << PQ_ENC_PLAIN));
    CHECK(c->dictionary_page_offset > 0);
    pq_footer_unref(ft);
    dbuf_free(&f);
}

TEST(statistics_are_ordered_per_type)
{
    col_schema *s = col_schema_new(4);
    col_schema_set(s, 0, "i", COL_INT32, 0, true);
    col_schema_set(s, 1, "u", COL_UINT64, 0, true);
    col_schema_set(s, 2, "d", COL_DOUBLE, 0, true);
    col_schema_set(s, 3, "s", COL_STRING, 0, true);
    col_batch *b;
    CHECK_OK(col_batch_new(s, &b));
    int32_t is[] = {-5, 3, -100, 7};
    uint64_t us[] = {1, UINT64_MAX, 1ull << 63, 5};
    double ds[] = {0.0, -2.5, 1.0 / 0.0, 0.0 / 0.0};
    const char *ss[] = {"b", "\xc3\xa9", "a", "ab"};
    for (int i = 0; i < 4; i++) {
        col_vec_append_i32(&b->cols[0], is[i]);
        col_vec_append_u64(&b->cols[1], us[i]);
        col_vec_append_f64(&b->cols[2], ds[i]);
        col_vec_append_str(&b->cols[3], ss[i], strlen(ss[i]));
    }
    for (int k = 0; k < 4; k++)
        col_vec_append_null(&b->cols[k]);
    b->nrows = 5;
    dbuf out;
    dbuf_init(&out, 1 << 24);
    pq_sink sink;
    pq_sink_dbuf(&sink, &out);
    pq_writer *w;
    errmsg e = {0};
    CHECK_OK(pq_writer_open(&sink, s, NULL, &w, &e));
    CHECK_OK(pq_writer_add_batch(w, b, &e));
    CHECK_OK(pq_writer_close(w, NULL, &e));
    pq_footer *f;
    CHECK_OK(pq_footer_parse(out.p, out.len, &f, &e));
    int64_t lo, hi, nulls;
    CHECK_OK(pq_footer_stats_i64(f, 0, 0, &lo, &hi));
    CHECK_EQ(lo, -100);
    CHECK_EQ(hi, 7);
    CHECK_OK(pq_footer_null_count(f, 0, 0, &nulls));
    CHECK_EQ(nulls, 1);
    const pq_stats *st = &pq_footer_meta(f)->rgs[0].cols[1].stats;
    CHECK(memcmp(st->min_value.p, "\1\0\0\0\0\0\0\0", 8) == 0);
    CHECK(memcmp(st->max_value.p, "\xff\xff\xff\xff\xff\xff\xff\xff", 8) == 0);
    st = &pq_footer_meta(f)->rgs[0].cols[2].stats;
    double dlo, dhi;
    memcpy(&dlo, st->min_value.p, 8);
    memcpy(&dhi, st->max_value.p, 8);
    CHECK(dlo == -2.5 && dhi == 1.0 / 0.0); /* NaN ignored */
    st = &pq_footer_meta(f)->rgs[0].cols[3].stats;
    CHECK(st->min_value.n == 1 && st->min_value.p[0] == 'a');
    CHECK(st->max_value.n == 2 && st->max_value.p[0] == 0xc3); /* unsigned byte order */
    pq_footer_unref(f);
    col_batch_release(b);
    col_schema_unref(s);
    dbuf_free(&out);
}

TEST(range_prunes_row_groups_by_statistics)
{
    pq_write_opts o;
    pq_write_opts_default(&o);
    o.row_group_rows = 1000;
    dbuf f = write_file(&o, 10000, 2500, 0);
    pq_reader *r;
    errmsg e = {0};
    CHECK_OK(pq_reader_open(f.p, f.len, NULL, &r, &e));
    CHECK_EQ(pq_footer_num_row_groups(pq_reader_footer(r)), 10);
    /* begin = 1.7e18 + id * 1000 + 7: rows 2500..4499 live in groups 2, 3, 4. */
    pq_scan_opts so = {.range_column = "begin",
                       .range_min = 1700000000000000000ll + 2500 * 1000,
                       .range_max = 1700000000000000000ll + 4499 * 1000};
    pq_scan *s;
    CHECK_OK(pq_scan_open(r, &so, &s, &e));
    CHECK_EQ(pq_scan_row_groups(s), 3);
    col_batch *b;
    CHECK_OK(pq_scan_next(s, &b, &e));
    CHECK_EQ(col_vec_i64(&b->cols[C_ID], 0), 2000);
    col_batch_release(b);
    pq_scan_close(s);
    so.range_min = 0;
    so.range_max = 5;
    CHECK_OK(pq_scan_open(r, &so, &s, &e));
    CHECK_EQ(pq_scan_row_groups(s), 0);
    CHECK_OK(pq_scan_next(s, &b, &e));
    CHECK(b == NULL);
    pq_scan_close(s);
    so.range_column = "nope";
    CHECK_EQ(pq_scan_open(r, &so, &s, &e), SL_ENOTFOUND);
    pq_reader_close(r);
    dbuf_free(&f);
}

typedef struct share_arg {
    const dbuf *f;
    pq_footer *footer;
    int64_t sum;
} share_arg;

static void *scan_thread(void *p)
{
    share_arg *a = p;
    pq_reader *r;
    errmsg e = {0};
    if (pq_reader_open(a->f->p, a->f->len, a->footer, &r, &e))
        return NULL;
    const char *cols[] = {"id"};
    pq_scan_opts so = {.columns = cols, .ncolumns = 1};
    pq_scan *s;
    if (pq_scan_open(r, &so, &s, &e) == 0) {
        for (col_batch *b; pq_scan_next(s, &b, &e) == 0 && b; col_batch_release(b))
            for (int64_t i = 0; i < b->nrows; i++)
                a->sum += col_vec_i64(&b->cols[0], i);
        pq_scan_close(s);
    }
    pq_reader_close(r);
    return NULL;
}

TEST(one_parsed_footer_serves_readers_on_several_threads)
{
    pq_write_opts o;
    pq_write_opts_default(&o);
    o.row_group_rows = 4000;
    dbuf f = write_file(&o, 20000, 5000, 3);
    pq_footer *ft;
    errmsg e = {0};
    CHECK_OK(pq_footer_parse(f.p, f.len, &ft, &e));
    pthread_t th[4];
    share_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (share_arg){&f, ft, 0};
        CHECK_EQ(pthread_create(&th[i], NULL, scan_thread, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ(args[i].sum, 20000ll * 19999 / 2);
    }
    /* A footer of another file is refused. */
    pq_reader *r;
    CHECK_EQ(pq_reader_open(f.p, f.len - 1, ft, &r, &e), SL_EMISMATCH);
    pq_footer_unref(ft);
    dbuf_free(&f);
}

TEST(fd_sink_and_file_reader)
{
    char path[] = "/tmp/sl_pq_test_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    col_schema *s = schema();
    col_dict *d = names(10);
    pq_sink sink;
    pq_sink_fd(&sink, fd);
    pq_writer *w;
    errmsg e = {0};
    CHECK_OK(pq_writer_open(&sink, s, NULL, &w, &e));
    col_batch *b = batch(s, d, 0, 777, 4);
    CHECK_OK(pq_writer_add_batch(w, b, &e));
    int64_t size;
    CHECK_OK(pq_writer_close(w, &size, &e));
    close(fd);
    pq_reader *r;
    CHECK_OK(pq_reader_open_file(path, &r, &e));
    pq_scan *sc;
    CHECK_OK(pq_scan_open(r, NULL, &sc, &e));
    col_batch *got;
    CHECK_OK(pq_scan_next(sc, &got, &e));
    CHECK_EQ(got->nrows, 777);
    for (int c = 0; c < C_N; c++)
        for (int64_t i = 0; i < 777; i++)
            same_cell(&b->cols[c], i, &got->cols[c], i);
    col_batch_release(got);
    pq_scan_close(sc);
    pq_reader_close(r);
    unlink(path);
    CHECK_EQ(pq_reader_open_file(path, &r, &e), SL_EIO);
    col_batch_release(b);
    col_dict_unref(d);
    col_schema_unref(s);
}

TEST(writer_refuses_mismatched_batches)
{
    col_schema *s = schema();
    col_dict *d = names(10);
    dbuf out;
    dbuf_init(&out, 1 << 24);
    pq_sink sink;
    pq_sink_dbuf(&sink, &out);
    pq_writer *w;
    errmsg e = {0};
    CHECK_OK(pq_writer_open(&sink, s, NULL, &w, &e));
    col_batch *b = batch(s, d, 0, 10, 0);
    /* A null in a column declared not nullable. */
    col_vec_release(&b->cols[C_ID]);
    for (int i = 0; i < 10; i++)
        CHECK_OK(i == 3 ? col_vec_append_null(&b->cols[C_ID])
                        : col_vec_append_i64(&b->cols[C_ID], i));
    CHECK_EQ(pq_writer_add_batch(w, b, &e), SL_EINVAL);
    CHECK(strstr(e.text, "\"id\" is not nullable"));
    b->nrows = 9;
    CHECK_EQ(pq_writer_add_batch(w, b, &e), SL_EINVAL);
    col_batch_release(b);
    /* A dictionary key past its dictionary is refused, not followed. */
    b = batch(s, d, 0, 10, 0);
    b->cols[C_DS].values->p[4] = 200;
    CHECK_EQ(pq_writer_add_batch(w, b, &e), SL_EINVAL);
    col_batch_release(b);
    pq_writer_free(w);
    col_dict_unref(d);
    col_schema_unref(s);
    dbuf_free(&out);
}

TEST(empty_file_has_schema_and_no_rows)
{
    pq_write_opts o;
    pq_write_opts_default(&o);
    dbuf f = write_file(&o, 0, 1, 0);
    pq_reader *r;
    errmsg e = {0};
    pq_scan *s = open_scan(&f, NULL, &r);
    CHECK_EQ(pq_footer_num_row_groups(pq_reader_footer(r)), 0);
    CHECK_EQ(pq_footer_schema(pq_reader_footer(r))->ncols, C_N);
    CHECK_EQ(pq_footer_schema(pq_reader_footer(r))->fields[C_TS].type, COL_TS_NS);
    col_batch *b;
    CHECK_OK(pq_scan_next(s, &b, &e));
    CHECK(b == NULL);
    pq_scan_close(s);
    pq_reader_close(r);
    dbuf_free(&f);
}

/* Scans every column to the end; returns the first error. */
static int scan_all(const uint8_t *p, size_t n, errmsg *e)
{
    pq_reader *r;
    int rc = pq_reader_open(p, n, NULL, &r, e);
    if (rc)
        return rc;
    pq_scan *s = NULL;
    pq_scan_opts o = {.max_page_bytes = 1 << 20};
    rc = pq_scan_open(r, &o, &s, e);
    while (!rc) {
        col_batch *b;
        rc = pq_scan_next(s, &b, e);
        if (!b)
            break;
        col_batch_release(b);
    }
    pq_scan_close(s);
    pq_reader_close(r);
    return rc;
}

TEST(damaged_files_give_clear_errors)
{
    pq_write_opts o;
    pq_write_opts_default(&o);
    o.row_group_rows = 300;
    o.page_bytes = 512;
    dbuf f = write_file(&o, 1000, 250, 3);
    errmsg e = {0};
    CHECK_OK(scan_all(f.p, f.len, &e));
    /* Every truncation: a heap copy of exactly n bytes so ASan sees overreads. */
    for (size_t n = 0; n < f.len; n += 1 + n / 50) {
        uint8_t *cut = sl_malloc(n ? n : 1);
        memcpy(cut, f.p, n);
        errmsg e2 = {0};
        CHECK(scan_all(cut, n, &e2) != 0);
        CHECK(strstr(e2.text, "parquet"));
        sl_free(cut);
    }
    /* Bad magic, and a footer length larger than the file. */
    uint8_t *bad = sl_malloc(f.len);
    memcpy(bad, f.p, f.len);
    bad[0] = 'X';
    CHECK_EQ(scan_all(bad, f.len, &e), SL_EINVAL);
    CHECK(strstr(e.text, "bad magic at byte 0"));
    bad[0] = 'P';
    st_u32le(bad + f.len - 8, (uint32_t)f.len);
    CHECK_EQ(scan_all(bad, f.len, &e), SL_ECORRUPT);
    CHECK(strstr(e.text, "footer length"));
    /* Damage inside the data pages: flip bytes after the header. */
    for (size_t at = 4; at < f.len / 2; at += 97) {
        memcpy(bad, f.p, f.len);
        bad[at] ^= 0x5a;
        errmsg e3 = {0};
        (void)scan_all(bad, f.len, &e3); /* may even succeed: must not crash */
    }
    sl_free(bad);
    dbuf_free(&f);
}

/* Reads the single column of a crafted file into one vector (copied out). */
static int read_crafted(const craft_spec *cs, col_batch **out, errmsg *e)
{
    dbuf f;
    dbuf_init(&f, 1 << 24);
    craft_file(cs, &f);
    pq_reader *r;
    *out = NULL;
    int rc = pq_reader_open(f.p, f.len, NULL, &r, e);
    if (!rc) {
        pq_scan *s;
        rc = pq_scan_open(r, NULL, &s, e);
        if (!rc)
            rc = pq_scan_next(s, out, e);
        pq_scan_close(s);
        pq_reader_close(r);
    }
    dbuf_free(&f);
    return rc;
}

static void check_strings(const col_batch *b, const char *const *want, int n)
{
    CHECK(b != NULL);
    CHECK_EQ(b->nrows, n);
    for (int i = 0; i < n; i++) {
        size_t len;
        const uint8_t *p = col_vec_str(&b->cols[0], i, &len);
        CHECK(len == strlen(want[i]) && memcmp(p, want[i], len) == 0);
    }
}

TEST(reads_delta_length_and_delta_byte_array_pages)
{
    /* Encodings.md's examples. */
    const char *words[] = {"Hello", "World", "Foobar", "ABCDEF"};
    int64_t lens[] = {5, 5, 6, 6};
    dbuf body;
    dbuf_init(&body, 1 << 20);
    CHECK_OK(pq_delta_encode(lens, 4, &body));
    dbuf_append_str(&body, "HelloWorldFoobarABCDEF");
    craft_spec cs = {.phys = PQ_BYTE_ARRAY,
                     .repetition = PQ_REQUIRED,
                     .lt = {.kind = PQ_LT_STRING},
                     .codec = PQ_CODEC_UNCOMPRESSED,
                     .num_rows = 4,
                     .npages = 1};
    cs.pages[0] = (craft_page){.type = PQ_PAGE_DATA,
                               .encoding = PQ_ENC_DELTA_LENGTH_BYTE_ARRAY,
                               .num_values = 4,
                               .body = body.p,
                               .len = body.len};
    col_batch *b;
    errmsg e = {0};
    CHECK_OK(read_crafted(&cs, &b, &e));
    check_strings(b, words, 4);
    col_batch_release(b);

    const char *front[] = {"axis", "axle", "babble", "babyhood"};
    int64_t pre[] = {0, 2, 0, 3}, suf[] = {4, 2, 6, 5};
    dbuf_reset(&body);
    CHECK_OK(pq_delta_encode(pre, 4, &body));
    CHECK_OK(pq_delta_encode(suf, 4, &body));
    dbuf_append_str(&body, "axislebabbleyhood");
    cs.pages[0] = (craft_page){.type = PQ_PAGE_DATA,
                               .encoding = PQ_ENC_DELTA_BYTE_ARRAY,
                               .num_values = 4,
                               .body = body.p,
                               .len = body.len};
    CHECK_OK(read_crafted(&cs, &b, &e));
    check_strings(b, front, 4);
    col_batch_release(b);

    /* A prefix longer than the previous value is refused. */
    pre[1] = 9;
    dbuf_reset(&body);
    CHECK_OK(pq_delta_encode(pre, 4, &body));
    CHECK_OK(pq_delta_encode(suf, 4, &body));
    dbuf_append_str(&body, "axislebabbleyhood");
    cs.pages[0].body = body.p;
    cs.pages[0].len = body.len;
    CHECK_EQ(read_crafted(&cs, &b, &e), SL_ECORRUPT);
    CHECK(strstr(e.text, "column \"c\""));
    dbuf_free(&body);
}

TEST(reads_byte_stream_split_and_v2_pages_with_nulls)
{
    /* Three doubles 1.5, -2, 1e300 scattered into 8 byte streams. */
    double v[3] = {1.5, -2.0, 1e300};
    uint8_t body[24];
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 8; k++)
            body[k * 3 + i] = ((const uint8_t *)&v[i])[k];
    craft_spec cs = {.phys = PQ_DOUBLE,
                     .repetition = PQ_REQUIRED,
                     .codec = PQ_CODEC_UNCOMPRESSED,
                     .num_rows = 3,
                     .npages = 1};
    cs.pages[0] = (craft_page){.type = PQ_PAGE_DATA,
                               .encoding = PQ_ENC_BYTE_STREAM_SPLIT,
                               .num_values = 3,
                               .body = body,
                               .len = sizeof body};
    col_batch *b;
    errmsg e = {0};
    CHECK_OK(read_crafted(&cs, &b, &e));
    for (int i = 0; i < 3; i++)
        CHECK(col_vec_f64(&b->cols[0], i) == v[i]);
    col_batch_release(b);

    /* v2 page, optional INT64, 5 rows with 2 nulls: levels 1 0 1 0 1 (unprefixed). */
    dbuf page;
    dbuf_init(&page, 1 << 20);
    uint32_t lv[5] = {1, 0, 1, 0, 1};
    CHECK_OK(pq_rle_encode(lv, 5, 1, &page));
    int32_t def_len = (int32_t)page.len;
    int64_t vals[3] = {10, -20, 30};
    CHECK_OK(pq_delta_encode(vals, 3, &page));
    craft_spec c2 = {.phys = PQ_INT64,
                     .repetition = PQ_OPTIONAL,
                     .codec = PQ_CODEC_UNCOMPRESSED,
                     .num_rows = 5,
                     .npages = 1};
    c2.pages[0] = (craft_page){.type = PQ_PAGE_DATA_V2,
                               .encoding = PQ_ENC_DELTA_BINARY_PACKED,
                               .num_values = 5,
                               .num_nulls = 2,
                               .def_len = def_len,
                               .body = page.p,
                               .len = page.len};
    CHECK_OK(read_crafted(&c2, &b, &e));
    CHECK_EQ(b->cols[0].null_count, 2);
    CHECK_EQ(col_vec_i64(&b->cols[0], 0), 10);
    CHECK(!col_vec_is_valid(&b->cols[0], 1));
    CHECK_EQ(col_vec_i64(&b->cols[0], 2), -20);
    CHECK_EQ(col_vec_i64(&b->cols[0], 4), 30);
    col_batch_release(b);
    dbuf_free(&page);
}

TEST(refuses_bad_dictionary_indices_and_bombs)
{
    /* Dictionary of 2 strings, data page indexing entry 5. */
    uint8_t dict[] = {1, 0, 0, 0, 'a', 1, 0, 0, 0, 'b'};
    uint8_t data[] = {3, 0x02, 0x05}; /* bit width 3, RLE run of 1 value 5 */
    craft_spec cs = {.phys = PQ_BYTE_ARRAY,
                     .repetition = PQ_REQUIRED,
                     .lt = {.kind = PQ_LT_STRING},
                     .codec = PQ_CODEC_UNCOMPRESSED,
                     .num_rows = 1,
                     .npages = 2};
    cs.pages[0] = (craft_page){.type = PQ_PAGE_DICT,
                               .encoding = PQ_ENC_PLAIN,
                               .num_values = 2,
                               .body = dict,
                               .len = sizeof dict};
    cs.pages[1] = (craft_page){.type = PQ_PAGE_DATA,
                               .encoding = PQ_ENC_RLE_DICTIONARY,
                               .num_values = 1,
                               .body = data,
                               .len = sizeof data};
    col_batch *b;
    errmsg e = {0};
    CHECK_EQ(read_crafted(&cs, &b, &e), SL_ECORRUPT);
    CHECK(strstr(e.text, "dictionary index"));
    data[2] = 1;
    CHECK_OK(read_crafted(&cs, &b, &e));
    CHECK_EQ(b->cols[0].type, COL_DICT);
    col_batch_release(b);

    /* A page declaring 2 GiB uncompressed is refused before any allocation. */
    cs.codec = PQ_CODEC_ZSTD;
    cs.pages[0].raw_size = INT32_MAX;
    CHECK_EQ(read_crafted(&cs, &b, &e), SL_ETOOBIG);
    CHECK(strstr(e.text, "cap"));
}
