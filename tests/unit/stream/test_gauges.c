/*
 * test_gauges.c - a metrics sink's gauges (stream/sink_ext.c): a row sets the
 * gauges of its labels (the non-numeric columns), a later row with the same
 * labels replaces them, NULL and characters the text format escapes are
 * labels too, and past MAX_SERIES label sets the new ones are dropped while
 * the known ones still update (found through the hashed index, not a walk of
 * every series a row).
 */
#include "test.h"

#include "base/dbuf.h"
#include "stream/live.h"

#include <stdbool.h>

static const sql_type g_ty[2] = {{ST_TEXT, -1}, {ST_INT8, -1}};
static const char *const g_names[2] = {"k", "v"};

/* Rows (k, v): k NULL where null[i]. */
static sql_batch *rows(const char *const *k, const int64_t *v, const bool *null, int n)
{
    sql_batch *b;
    CHECK_OK(sql_batch_new(2, g_ty, &b));
    for (int i = 0; i < n; i++) {
        if (null && null[i])
            CHECK_OK(col_vec_append_null(&b->cols[0]));
        else
            CHECK_OK(col_vec_append_str(&b->cols[0], k[i], strlen(k[i])));
        CHECK_OK(col_vec_append_i64(&b->cols[1], v[i]));
    }
    b->n = n;
    return b;
}

/* The gauges' text (out: initialized by the caller, freed after). */
static const char *text_of(stream_gauges *g, dbuf *out)
{
    CHECK_OK(stream_gauges_text(g, out));
    CHECK_OK(dbuf_append_byte(out, 0));
    return (const char *)out->p;
}

/* Sets the gauges from rows (k, v) and frees them. */
static void set(stream_gauges *g, sql_batch *b)
{
    CHECK_OK(stream_gauges_set(g, b));
    sql_batch_free(b);
}

static int count_lines(const char *text, const char *prefix)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, prefix)); p++)
        n++;
    return n;
}

TEST(set_replace_escape)
{
    stream_gauges *g;
    CHECK_OK(stream_gauges_new("t", 2, g_names, g_ty, &g));
    const char *k[3] = {"a", "q\"x\\y", "a"};
    int64_t v[3] = {1, 2, 3};
    set(g, rows(k, v, NULL, 3));
    dbuf out;
    dbuf_init(&out, 1 << 20);
    const char *t = text_of(g, &out);
    CHECK(strstr(t, "# TYPE t_v gauge\n"));
    CHECK(strstr(t, "t_v{k=\"a\"} 3\n"));            /* replaced, once */
    CHECK_EQ(count_lines(t, "t_v{k=\"a\"}"), 1);
    CHECK(strstr(t, "t_v{k=\"q\\\"x\\\\y\"} 2\n"));  /* escaped */
    dbuf_free(&out);
    stream_gauges_free(g);
}

TEST(many_label_sets)
{
    enum { N = 12000, CAP = 10000 };
    stream_gauges *g;
    CHECK_OK(stream_gauges_new("m", 2, g_names, g_ty, &g));
    static char keys[N][16];
    static const char *k[N];
    static int64_t v[N];
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "key-%d", i);
        k[i] = keys[i];
        v[i] = i;
    }
    set(g, rows(k, v, NULL, N));
    /* every known key updated again, in another order; the dropped ones stay out */
    for (int i = 0; i < N; i++) {
        k[i] = keys[N - 1 - i];
        v[i] = 1000000 + (N - 1 - i);
    }
    set(g, rows(k, v, NULL, N));
    bool null[1] = {true};
    int64_t nv[1] = {7};
    set(g, rows(k, nv, null, 1)); /* a new label set past the cap: dropped */
    dbuf out;
    dbuf_init(&out, 1 << 24);
    const char *t = text_of(g, &out);
    CHECK_EQ(count_lines(t, "\nm_v{"), CAP);
    CHECK(strstr(t, "m_v{k=\"key-0\"} 1000000\n"));
    CHECK(strstr(t, "m_v{k=\"key-9999\"} 1009999\n"));
    CHECK(!strstr(t, "m_v{k=\"key-10000\"}"));
    CHECK(!strstr(t, "m_v{k=\"\"}"));
    dbuf_free(&out);
    stream_gauges_free(g);
}

TEST(null_label)
{
    stream_gauges *g;
    CHECK_OK(stream_gauges_new("n", 2, g_names, g_ty, &g));
    const char *k[2] = {"", "x"};
    int64_t v[2] = {5, 6};
    bool null[2] = {true, false};
    set(g, rows(k, v, null, 2));
    dbuf out;
    dbuf_init(&out, 1 << 20);
    const char *t = text_of(g, &out);
    CHECK(strstr(t, "n_v{k=\"\"} 5\n"));
    CHECK(strstr(t, "n_v{k=\"x\"} 6\n"));
    dbuf_free(&out);
    stream_gauges_free(g);
}
