/*
 * test_types.c - SQL types: text out as PostgreSQL prints it, text in, numeric
 * scale rules, interval and timestamp arithmetic, jsonb canonical form.  The
 * expected strings are what PostgreSQL 15 prints for the same input.
 */
#include "test.h"

#include "base/err.h"
#include "sql/types/jsonb.h"
#include "sql/types/value.h"
#include "sql/func/func.h"

#include <math.h>

static const char *out_of(sql_tid id, const char *text)
{
    static char buf[256];
    arena a;
    arena_init(&a, 4096, 1 << 20);
    sql_datum d;
    const char *state;
    if (sql_datum_parse(sql_type_of(id), text, strlen(text), &a, &d, &state)) {
        snprintf(buf, sizeof buf, "ERR %s", state);
    } else {
        dbuf b;
        dbuf_init(&b, 1 << 20);
        sql_datum_text(sql_type_of(id), &d, &b);
        snprintf(buf, sizeof buf, "%.*s", (int)b.len, b.p ? (const char *)b.p : "");
        dbuf_free(&b);
    }
    arena_destroy(&a);
    return buf;
}

TEST(floats_print_shortest_like_postgres)
{
    CHECK_STR(out_of(ST_FLOAT8, "0.1"), "0.1");
    CHECK_STR(out_of(ST_FLOAT8, "1e20"), "1e+20");
    CHECK_STR(out_of(ST_FLOAT8, "1e14"), "100000000000000");
    CHECK_STR(out_of(ST_FLOAT8, "1e15"), "1e+15");
    CHECK_STR(out_of(ST_FLOAT8, "0.0001"), "0.0001");
    CHECK_STR(out_of(ST_FLOAT8, "0.00001"), "1e-05");
    CHECK_STR(out_of(ST_FLOAT8, "123456789012345678"), "1.2345678901234568e+17");
    CHECK_STR(out_of(ST_FLOAT8, "-2.5"), "-2.5");
    CHECK_STR(out_of(ST_FLOAT8, "nan"), "NaN");
    CHECK_STR(out_of(ST_FLOAT8, "-infinity"), "-Infinity");
    CHECK_STR(out_of(ST_FLOAT4, "1.1"), "1.1");
    CHECK_STR(out_of(ST_FLOAT4, "1000000"), "1e+06");
    CHECK_STR(out_of(ST_FLOAT8, "abc"), "ERR 22P02");
    CHECK_STR(out_of(ST_FLOAT8, "1e400"), "ERR 22003");
}

TEST(integers_and_bools)
{
    CHECK_STR(out_of(ST_INT4, " 42 "), "42");
    CHECK_STR(out_of(ST_INT4, "2147483648"), "ERR 22003");
    CHECK_STR(out_of(ST_INT2, "-32769"), "ERR 22003");
    CHECK_STR(out_of(ST_INT8, "12a"), "ERR 22P02");
    CHECK_STR(out_of(ST_BOOL, "yes"), "t");
    CHECK_STR(out_of(ST_BOOL, "F"), "f");
    CHECK_STR(out_of(ST_BOOL, "maybe"), "ERR 22P02");
}

TEST(numeric_scale_rules)
{
    CHECK_STR(out_of(ST_NUMERIC, "1.50"), "1.50");
    CHECK_STR(out_of(ST_NUMERIC, "1.5e3"), "1500");
    CHECK_STR(out_of(ST_NUMERIC, "1e-3"), "0.001");
    CHECK_STR(out_of(ST_NUMERIC, "-0.0"), "0.0");
    sql_dec a, b, r;
    char t[80];
    CHECK_EQ(dec_parse("3", 1, &a), 0);
    CHECK_EQ(dec_parse("2", 1, &b), 0);
    CHECK_EQ(dec_div(a, b, &r), 0);
    dec_to_text(r, t);
    CHECK_STR(t, "1.5000000000000000"); /* avg(1, 2) in PostgreSQL */
    CHECK_EQ(dec_parse("1", 1, &a), 0);
    CHECK_EQ(dec_parse("3", 1, &b), 0);
    CHECK_EQ(dec_div(a, b, &r), 0);
    dec_to_text(r, t);
    CHECK_STR(t, "0.33333333333333333333");
    CHECK_EQ(dec_parse("10", 2, &a), 0);
    CHECK_EQ(dec_parse("4", 1, &b), 0);
    CHECK_EQ(dec_div(a, b, &r), 0);
    dec_to_text(r, t);
    CHECK_STR(t, "2.5000000000000000");
    CHECK_EQ(dec_parse("1.25", 4, &a), 0);
    CHECK_EQ(dec_parse("2.5", 3, &b), 0);
    CHECK_EQ(dec_mul(a, b, &r), 0);
    dec_to_text(r, t);
    CHECK_STR(t, "3.125");
    CHECK_EQ(dec_add(a, b, &r), 0);
    dec_to_text(r, t);
    CHECK_STR(t, "3.75");
    CHECK_EQ(dec_round(a, 1, &r), 0);
    dec_to_text(r, t);
    CHECK_STR(t, "1.3");
    CHECK_EQ(dec_parse("-2.5", 4, &a), 0);
    CHECK_EQ(dec_round(a, 0, &r), 0);
    dec_to_text(r, t);
    CHECK_STR(t, "-3");
    CHECK_EQ(dec_div(a, dec_from_i64(0), &r), DEC_DIV0);
}

TEST(timestamps_dates_intervals)
{
    CHECK_STR(out_of(ST_TIMESTAMP, "2026-11-22 05:07:00.5"), "2026-11-22 05:07:00.5");
    CHECK_STR(out_of(ST_TIMESTAMP, "2026-11-22T05:07:00Z"), "2026-11-22 05:07:00");
    CHECK_STR(out_of(ST_TIMESTAMPTZ, "2026-11-22 06:07:00+01"), "2026-11-22 05:07:00+00");
    CHECK_STR(out_of(ST_TIMESTAMP, "2026-02-30 00:00:00"), "ERR 22007");
    CHECK_STR(out_of(ST_DATE, "2024-02-29"), "2024-02-29");
    CHECK_STR(out_of(ST_INTERVAL, "1 day 02:03:04.5"), "1 day 02:03:04.5");
    CHECK_STR(out_of(ST_INTERVAL, "14 months"), "1 year 2 mons");
    CHECK_STR(out_of(ST_INTERVAL, "-1 day +2 hours"), "-1 days +02:00:00");
    CHECK_STR(out_of(ST_INTERVAL, "1.5 days"), "1 day 12:00:00");
    CHECK_STR(out_of(ST_INTERVAL, "0"), "00:00:00");
    CHECK_STR(out_of(ST_INTERVAL, "P1DT2H"), "1 day 02:00:00");
    CHECK_STR(out_of(ST_INTERVAL, "3 days ago"), "-3 days");
    int64_t ts, r;
    CHECK_EQ(dt_parse_timestamp("2026-01-31 00:00:00", 19, false, &ts), 0);
    sql_interval month = {1, 0, 0};
    CHECK_EQ(dt_ts_add_interval(ts, &month, 1, &r), 0);
    dbuf b;
    dbuf_init(&b, 1 << 10);
    dt_format_timestamp(r, false, &b);
    CHECK_STR((const char *)b.p, "2026-02-28 00:00:00");
    dbuf_free(&b);
}

TEST(jsonb_canonical_text)
{
    dbuf b;
    dbuf_init(&b, 1 << 20);
    const char *in = " {\"b\": [1, 2.50, {\"x\":null}], \"a\" : \"h\\u00e9\\n\", \"aa\":true, \"a\": 1e2}";
    CHECK_OK(sql_jsonb_canon(in, strlen(in), &b));
    CHECK_STR((const char *)b.p,
              "{\"a\": 100, \"b\": [1, 2.50, {\"x\": null}], \"aa\": true}");
    const char *v;
    size_t vn;
    CHECK(sql_jsonb_key((const char *)b.p, b.len, "b", 1, &v, &vn));
    CHECK_EQ(sql_jsonb_array_length(v, vn), 3);
    CHECK(sql_jsonb_index(v, vn, -1, &v, &vn));
    CHECK_EQ((int)vn, 11);
    CHECK_EQ(sql_jsonb_canon("{\"a\":", 5, &b), -1);
    dbuf_free(&b);
}

TEST(text_arrays_and_uuids)
{
    CHECK_STR(out_of(ST_TEXTARR, "{cpu, log,\"a b\",NULL, \"null\"}"), "{cpu,log,\"a b\",NULL,\"null\"}");
    CHECK_STR(out_of(ST_TEXTARR, "{}"), "{}");
    CHECK_STR(out_of(ST_UUID, "{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}"),
              "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    CHECK_STR(out_of(ST_UUID, "a0eebc999c0b4ef8bb6d6bb9bd380a11"),
              "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    CHECK_STR(out_of(ST_UUID, "xyz"), "ERR 22P02");
    CHECK_STR(out_of(ST_BYTEA, "\\x0aFF"), "\\x0aff");
}

TEST(int2_arrays_are_canonical)
{
    /* equal arrays get equal bytes: elements are read as int2 and written back */
    CHECK_STR(out_of(ST_INT2ARR, "{1, 002,-3 ,NULL,+4}"), "{1,2,-3,NULL,4}");
    CHECK_STR(out_of(ST_INT2ARR, "{}"), "{}");
    CHECK_STR(out_of(ST_INT2ARR, "{1,x}"), "ERR 22P02");
    CHECK_STR(out_of(ST_INT2ARR, "{32768}"), "ERR 22003");
    CHECK_STR(out_of(ST_INT2ARR, "1,2"), "ERR 22P02");
    dbuf b;
    dbuf_init(&b, 1 << 20);
    CHECK_OK(sql_textarr_parse("{7,NULL,-9}", 11, &b));
    int32_t v = 0;
    CHECK(sql_int2arr_get(b.p, b.len, 2, &v));
    CHECK_EQ(v, -9);
    CHECK(!sql_int2arr_get(b.p, b.len, 1, &v));
    CHECK(!sql_int2arr_get(b.p, b.len, 3, &v));
    CHECK_EQ(sql_textarr_find(b.p, b.len, "-9", 2), 1);
    CHECK_EQ(sql_textarr_find(b.p, b.len, "8", 1), 2); /* not there, but a NULL is */
    dbuf_free(&b);
}

/* ---- float aggregate states: exact sums, and those of checkpoints before format 13 ---- */

static const sql_agg *agg_of(const char *name, int tid)
{
    int n;
    const sql_agg *a = sql_agg_candidates(name, &n);
    for (int i = 0; i < n; i++)
        if (a[i].args[0] == tid)
            return &a[i];
    return NULL;
}

static double agg_result(const sql_agg *a, sql_agg_ctx *cx, const void *st)
{
    col_vec out;
    col_vec_init(&out, COL_DOUBLE, 0);
    CHECK_OK(a->finalize(cx, st, &out));
    double v = col_vec_f64(&out, 0);
    col_vec_release(&out);
    return v;
}

TEST(float_aggregate_states_load_old_and_new)
{
    sql_err err = {0};
    sql_agg_ctx cx = {.err = &err};
    const sql_agg *sum = agg_of("sum", ST_FLOAT8), *vp = agg_of("var_pop", ST_FLOAT8);
    CHECK(sum && vp && sum->load && vp->load);
    _Alignas(16) uint8_t st[512]; /* (the states hold int128 counters) */
    _Alignas(16) uint8_t st2[512];
    /* before format 13: a double and a count */
    uint8_t old[16];
    double s = 0.75;
    int64_t n = 3;
    memcpy(old, &s, 8);
    memcpy(old + 8, &n, 8);
    sum->init(st);
    CHECK_OK(sum->load(&cx, st, old, sizeof old));
    CHECK(agg_result(sum, &cx, st) == 0.75);
    /* saved and loaded as they are */
    dbuf b;
    dbuf_init(&b, 4096);
    CHECK_OK(sum->save(st, &b));
    CHECK_EQ(b.len, sum->state_size);
    sum->init(st2);
    CHECK_OK(sum->load(&cx, st2, b.p, b.len));
    CHECK(memcmp(st, st2, sum->state_size) == 0);
    CHECK(sum->load(&cx, st2, b.p, 15) < 0 && strcmp(err.state, "XX001") == 0);
    /* Youngs-Cramer's n, sum, sum of squared deviations: 1, 2, 3 */
    double yc[3] = {3, 6, 2};
    vp->init(st);
    CHECK_OK(vp->load(&cx, st, (const uint8_t *)yc, sizeof yc));
    CHECK(fabs(agg_result(vp, &cx, st) - 2.0 / 3) < 1e-15);
    dbuf_free(&b);
}
