/*
 * test_batchops.c - selecting rows and columns of batches (lake/batchops.h).
 */
#include "lake/batchops.h"

#include "test.h"

/* A batch of (t INT64, name STRING) with rows t = base + 10 * i, name "n<t>". */
static col_batch *make(int64_t base, int n)
{
    col_schema *s = col_schema_new(2);
    CHECK(s != NULL);
    CHECK_OK(col_schema_set(s, 0, "t", COL_INT64, 0, false));
    CHECK_OK(col_schema_set(s, 1, "name", COL_STRING, 0, false));
    col_batch *b;
    CHECK_OK(col_batch_new(s, &b));
    col_schema_unref(s);
    for (int i = 0; i < n; i++) {
        char txt[32];
        int64_t t = base + 10 * i;
        int l = snprintf(txt, sizeof txt, "n%lld", (long long)t);
        CHECK_OK(col_vec_append_i64(&b->cols[0], t));
        CHECK_OK(col_vec_append_str(&b->cols[1], txt, (size_t)l));
    }
    b->nrows = n;
    return b;
}

static void check_row(const col_batch *b, int64_t r, int64_t t)
{
    CHECK_EQ(col_vec_i64(&b->cols[0], r), t);
    char want[32];
    int l = snprintf(want, sizeof want, "n%lld", (long long)t);
    size_t got;
    const uint8_t *p = col_vec_str(&b->cols[1], r, &got);
    CHECK(got == (size_t)l && !memcmp(p, want, got));
}

/* The scan's merge passes every source's current batch, finished ones as NULL. */
TEST(gather_multi_takes_rows_from_several_sources_and_skips_finished_ones)
{
    col_batch *a = make(1, 3), *b = make(5, 3); /* t: 1 11 21 / 5 15 25 */
    col_batch *srcs[3] = {NULL, a, b};
    int src[] = {1, 2, 1, 2, 2};
    int64_t rows[] = {0, 0, 1, 1, 2};
    col_batch *o;
    CHECK_OK(lake_batch_gather_multi(srcs, src, rows, 5, &o));
    CHECK_OK(col_batch_validate(o));
    CHECK_EQ(o->nrows, 5);
    int64_t want[] = {1, 5, 11, 15, 25};
    for (int i = 0; i < 5; i++)
        check_row(o, i, want[i]);
    col_batch_release(o);
    col_batch_release(a);
    col_batch_release(b);
}

TEST(project_shares_columns_in_the_asked_order)
{
    col_batch *a = make(100, 4);
    col_schema *ps = col_schema_new(1);
    CHECK_OK(col_schema_set(ps, 0, "name", COL_STRING, 0, false));
    int idx[] = {1};
    col_batch *p;
    CHECK_OK(lake_batch_project(a, ps, idx, &p));
    col_schema_unref(ps);
    CHECK_OK(col_batch_validate(p));
    CHECK_EQ(p->ncols, 1);
    CHECK_EQ(p->nrows, 4);
    CHECK(p->cols[0].data == a->cols[1].data); /* shared, not copied */
    col_batch_release(a);                      /* the projection keeps its own references */
    size_t l;
    const uint8_t *s = col_vec_str(&p->cols[0], 3, &l);
    CHECK(l == 4 && !memcmp(s, "n130", 4));
    col_batch_release(p);
}
