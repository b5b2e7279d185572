/*
 * test_col.c - vectors, batches, dictionaries and the Arrow C Data Interface.
 *
 * The round-trip tests build a batch holding every type, with nulls, export
 * it, import the exported structs and compare every row; they also check the
 * exported layout itself (formats, bit order, offsets) because other programs
 * read it, and that all memory comes back once everything is released.
 */
#include "base/alloc.h"
#include "col/col.h"
#include "col/col_arrow.h"
#include "test.h"

#include <math.h>

static const char *k_words[] = {"", "alpha", "b\"q\nline", "\xc3\xa9t\xc3\xa9", "zeta"};

/* A dictionary with the words above. */
static col_dict *make_dict(void)
{
    col_dict *d = col_dict_new();
    CHECK(d);
    for (int i = 0; i < 5; i++)
        CHECK_OK(col_vec_append_str(&d->strings, k_words[i], strlen(k_words[i])));
    return d;
}

/* One column per type; row i is null when i % 3 == 2 (for nullable columns). */
static col_batch *make_batch(int64_t n, uint8_t key_bytes)
{
    col_schema *s = col_schema_new(11);
    CHECK(s);
    CHECK_OK(col_schema_set(s, 0, "b", COL_BOOL, 0, true));
    CHECK_OK(col_schema_set(s, 1, "i32", COL_INT32, 0, true));
    CHECK_OK(col_schema_set(s, 2, "i64", COL_INT64, 0, false));
    CHECK_OK(col_schema_set(s, 3, "u32", COL_UINT32, 0, true));
    CHECK_OK(col_schema_set(s, 4, "u64", COL_UINT64, 0, true));
    CHECK_OK(col_schema_set(s, 5, "d", COL_DOUBLE, 0, true));
    CHECK_OK(col_schema_set(s, 6, "ts", COL_TS_NS, 0, true));
    CHECK_OK(col_schema_set(s, 7, "s", COL_STRING, 0, true));
    CHECK_OK(col_schema_set(s, 8, "bin", COL_BINARY, 0, true));
    CHECK_OK(col_schema_set(s, 9, "dict", COL_DICT, key_bytes, true));
    CHECK_OK(col_schema_set(s, 10, "dict_nn", COL_DICT, key_bytes, false));
    col_batch *b;
    CHECK_OK(col_batch_new(s, &b));
    col_schema_unref(s);
    col_dict *d = make_dict();
    col_vec_set_dict(&b->cols[9], d);
    col_vec_set_dict(&b->cols[10], d);
    col_dict_unref(d);
    for (int64_t i = 0; i < n; i++) {
        bool null = i % 3 == 2;
        col_vec *c = b->cols;
        if (null) {
            for (int j = 0; j < 11; j++)
                if (j != 2 && j != 10)
                    CHECK_OK(col_vec_append_null(&c[j]));
        } else {
            CHECK_OK(col_vec_append_bool(&c[0], i % 2 == 0));
            CHECK_OK(col_vec_append_i32(&c[1], (int32_t)(i * 7 - 100)));
            CHECK_OK(col_vec_append_u32(&c[3], (uint32_t)(4000000000u + i)));
            CHECK_OK(col_vec_append_u64(&c[4], UINT64_MAX - (uint64_t)i));
            CHECK_OK(col_vec_append_f64(&c[5], i == 4 ? -0.0 : (double)i / 3.0));
            CHECK_OK(col_vec_append_i64(&c[6], 1700000000123456789ll + i));
            CHECK_OK(col_vec_append_str(&c[7], k_words[i % 5], strlen(k_words[i % 5])));
            CHECK_OK(col_vec_append_str(&c[8], "\0\xff", 2));
            CHECK_OK(col_vec_append_key(&c[9], (uint64_t)(i % 5)));
        }
        CHECK_OK(col_vec_append_i64(&c[2], INT64_MIN + i));
        CHECK_OK(col_vec_append_key(&c[10], (uint64_t)((i + 1) % 5)));
    }
    b->nrows = n;
    CHECK_OK(col_batch_validate(b));
    return b;
}

static void same_vec(const col_vec *x, const col_vec *y)
{
    CHECK_EQ(x->len, y->len);
    CHECK_EQ(x->null_count, y->null_count);
    CHECK_EQ(x->type, y->type);
    for (int64_t i = 0; i < x->len; i++) {
        CHECK_EQ(col_vec_is_valid(x, i), col_vec_is_valid(y, i));
        if (!col_vec_is_valid(x, i))
            continue;
        size_t nx, ny;
        switch (x->type) {
        case COL_BOOL:
            CHECK_EQ(col_vec_bool(x, i), col_vec_bool(y, i));
            break;
        case COL_INT32:
        case COL_UINT32:
            CHECK_EQ(col_vec_i32(x, i), col_vec_i32(y, i));
            break;
        case COL_DOUBLE: {
            double a = col_vec_f64(x, i), c = col_vec_f64(y, i);
            CHECK(memcmp(&a, &c, 8) == 0);
            break;
        }
        case COL_STRING:
        case COL_BINARY:
        case COL_DICT: {
            const uint8_t *px = col_vec_str(x, i, &nx), *py = col_vec_str(y, i, &ny);
            CHECK_EQ(nx, ny);
            CHECK(memcmp(px, py, nx) == 0);
            if (x->type == COL_DICT)
                CHECK_EQ(col_vec_key(x, i), col_vec_key(y, i));
            break;
        }
        default:
            CHECK_EQ(col_vec_i64(x, i), col_vec_i64(y, i));
            break;
        }
    }
}

static void round_trip(int64_t n, uint8_t key_bytes)
{
    alloc_stats before, after;
    alloc_stats_get(&before);
    col_batch *b = make_batch(n, key_bytes);
    struct ArrowSchema s;
    struct ArrowArray a;
    CHECK_OK(col_batch_export(b, &s, &a));
    CHECK_STR(s.format, "+s");
    CHECK_EQ(s.n_children, 11);
    CHECK_EQ(a.length, n);
    static const char *fmts[] = {"b", "i", "l", "I", "L", "g", "tsn:UTC", "u", "z"};
    for (int j = 0; j < 9; j++)
        CHECK_STR(s.children[j]->format, fmts[j]);
    CHECK_STR(s.children[9]->dictionary->format, "u");
    CHECK_EQ(s.children[2]->flags & ARROW_FLAG_NULLABLE, 0);
    CHECK_EQ(s.children[1]->flags & ARROW_FLAG_NULLABLE, ARROW_FLAG_NULLABLE);
    errmsg e = {0};
    col_batch *c = NULL;
    /* Release the source first: the exported array must keep its own memory. */
    col_batch_release(b);
    b = make_batch(n, key_bytes);
    CHECK_OK(col_batch_import(&s, &a, &c, &e));
    CHECK(s.release == NULL && a.release == NULL);
    CHECK_EQ(c->nrows, n);
    for (int j = 0; j < 11; j++) {
        CHECK_STR(c->schema->fields[j].name, b->schema->fields[j].name);
        same_vec(&b->cols[j], &c->cols[j]);
    }
    col_batch_release(b);
    col_batch_release(c);
    alloc_stats_get(&after);
    CHECK_EQ(after.live_blocks, before.live_blocks);
}

TEST(arrow_round_trip_every_type_with_nulls)
{
    round_trip(1000, 1);
    round_trip(77, 2);
    round_trip(5, 4);
    round_trip(3, 8);
}

TEST(arrow_round_trip_empty_batch)
{
    round_trip(0, 1);
}

TEST(arrow_export_layout_is_arrow_bits_lsb_first)
{
    col_vec v;
    col_vec_init(&v, COL_INT32, 0);
    /* valid, null, valid, valid, null, null, null, null, valid */
    int pattern[] = {1, 0, 1, 1, 0, 0, 0, 0, 1};
    for (int i = 0; i < 9; i++)
        CHECK_OK(pattern[i] ? col_vec_append_i32(&v, i) : col_vec_append_null(&v));
    struct ArrowSchema s;
    struct ArrowArray a;
    CHECK_OK(col_vec_export(&v, "x", true, &s, &a));
    const uint8_t *bits = a.buffers[0];
    CHECK_EQ(bits[0], 0x0d);
    CHECK_EQ(bits[1] & 1, 1);
    CHECK_EQ(a.null_count, 5);
    const int32_t *vals = a.buffers[1];
    CHECK_EQ(vals[8], 8);
    CHECK_EQ(vals[1], 0);
    a.release(&a);
    s.release(&s);
    col_vec_release(&v);
}

TEST(arrow_import_honours_offset_and_rejects_bad_keys)
{
    col_vec v;
    col_vec_init(&v, COL_STRING, 0);
    for (int i = 0; i < 20; i++)
        CHECK_OK(i == 11 ? col_vec_append_null(&v)
                         : col_vec_append_str(&v, k_words[i % 5], strlen(k_words[i % 5])));
    struct ArrowSchema s;
    struct ArrowArray a;
    CHECK_OK(col_vec_export(&v, "x", true, &s, &a));
    a.offset = 9;
    a.length = 5;
    col_vec w;
    errmsg e = {0};
    CHECK_OK(col_vec_import(&s, &a, &w, NULL, &e));
    CHECK_EQ(w.len, 5);
    CHECK_EQ(w.null_count, 1);
    CHECK(!col_vec_is_valid(&w, 2));
    size_t n;
    const uint8_t *p = col_vec_str(&w, 1, &n);
    CHECK_EQ(n, strlen(k_words[0]));
    p = col_vec_str(&w, 0, &n);
    CHECK(n == strlen(k_words[4]) && memcmp(p, k_words[4], n) == 0);
    col_vec_release(&w);
    a.release(&a);
    s.release(&s);
    col_vec_release(&v);

    /* A key past the dictionary is refused with a message. */
    col_vec dv;
    col_vec_init(&dv, COL_DICT, 1);
    col_dict *d = make_dict();
    col_vec_set_dict(&dv, d);
    col_dict_unref(d);
    CHECK_OK(col_vec_append_key(&dv, 4));
    CHECK_EQ(col_vec_append_key(&dv, 5), SL_EINVAL);
    CHECK_OK(col_vec_export(&dv, "k", false, &s, &a));
    ((uint8_t *)(uintptr_t)a.buffers[1])[0] = 9;
    CHECK_EQ(col_vec_import(&s, &a, &w, NULL, &e), SL_EINVAL);
    CHECK(strstr(e.text, "outside dictionary"));
    col_vec_release(&w);
    a.release(&a);
    s.release(&s);
    col_vec_release(&dv);
}

TEST(arrow_import_refuses_unknown_format)
{
    col_vec v;
    col_vec_init(&v, COL_INT64, 0);
    CHECK_OK(col_vec_append_i64(&v, 1));
    struct ArrowSchema s;
    struct ArrowArray a;
    CHECK_OK(col_vec_export(&v, "x", true, &s, &a));
    const char *saved = s.format;
    s.format = "tdD";
    col_vec w;
    errmsg e = {0};
    CHECK_EQ(col_vec_import(&s, &a, &w, NULL, &e), SL_EUNSUPPORTED);
    CHECK(strstr(e.text, "tdD"));
    s.format = saved;
    a.release(&a);
    s.release(&s);
    col_vec_release(&v);
}

TEST(dict_expand_gives_plain_strings)
{
    col_batch *b = make_batch(50, 1);
    col_vec out;
    col_vec_init(&out, COL_STRING, 0);
    CHECK_OK(col_vec_expand(&b->cols[9], &out));
    CHECK_EQ(out.len, 50);
    CHECK_EQ(out.null_count, b->cols[9].null_count);
    for (int64_t i = 0; i < 50; i++) {
        if (i % 3 == 2) {
            CHECK(!col_vec_is_valid(&out, i));
            continue;
        }
        size_t n;
        const uint8_t *p = col_vec_str(&out, i, &n);
        CHECK(n == strlen(k_words[i % 5]) && memcmp(p, k_words[i % 5], n) == 0);
    }
    col_vec_release(&out);
    col_batch_release(b);
}

TEST(builders_grow_geometrically)
{
    alloc_stats s0, s1;
    col_vec v;
    col_vec_init(&v, COL_STRING, 0);
    alloc_stats_get(&s0);
    for (int i = 0; i < 100000; i++)
        CHECK_OK(col_vec_append_str(&v, "abcdefgh", 8));
    alloc_stats_get(&s1);
    /* Doubling: a few dozen reallocations for 100k rows, never one per row. */
    CHECK(s1.total_calls - s0.total_calls < 64);
    CHECK_EQ(v.data->len_bytes, 800000);
    col_vec_release(&v);
    CHECK_EQ(col_dict_key_bytes(256), 1);
    CHECK_EQ(col_dict_key_bytes(257), 2);
    CHECK_EQ(col_dict_key_bytes(70000), 4);
}

TEST(validate_rejects_wrong_lengths_and_nulls)
{
    col_batch *b = make_batch(10, 1);
    b->nrows = 11;
    CHECK_EQ(col_batch_validate(b), SL_EINVAL);
    b->nrows = 10;
    CHECK_OK(col_batch_validate(b));
    b->schema->fields[1].nullable = false;
    CHECK_EQ(col_batch_validate(b), SL_EINVAL);
    col_batch_release(b);
}
