/*
 * test_uagg.c - the rows of a GROUP BY over a view that emits updates
 * (stream/uagg.c): a key's row replaces its older one and may move it to
 * another group, removals, which groups changed and which are left empty,
 * a GROUP BY of no column, and the bounds compaction keeps (rows held stay
 * proportional to the live keys however many updates come, and every key's
 * row is still found after the batches are rewritten).
 */
#include "test.h"

#include "stream/uagg.c" /* the file under test, statics included */

static const sql_type g_t2[2] = {{ST_INT8, -1}, {ST_INT8, -1}};

#define NK 64

/* Rows (key, group) for keys k[i] in groups g[i]; puts them. */
static void put(stream_uagg *u, const int64_t *k, const int64_t *g, int n)
{
    sql_batch *b;
    CHECK_OK(sql_batch_new(2, g_t2, &b));
    uint32_t vids[NK * 4];
    for (int i = 0; i < n; i++) {
        col_vec_append_i64(&b->cols[0], k[i]);
        col_vec_append_i64(&b->cols[1], g[i]);
        vids[i] = (uint32_t)k[i];
    }
    b->n = n;
    sql_vec kv = {b->cols[1], false}; /* borrowed */
    CHECK_OK(stream_uagg_put(u, b, vids, u->nkeys ? &kv : NULL));
    sql_batch_free(b);
}

static void put1(stream_uagg *u, int64_t k, int64_t g)
{
    put(u, &k, &g, 1);
}

static void remove1(stream_uagg *u, uint32_t k)
{
    CHECK_OK(stream_uagg_remove(u, &k, 1));
}

/* What stream_uagg_changed handed out: per group, its rows' keys (a bit each). */
typedef struct got {
    uint64_t keys[NK];       /* per group value: the keys of its rows */
    int64_t rows;
    int64_t gone[NK];
    int ngone;
} got;

static int take_rows(void *arg, sql_batch *b)
{
    got *g = arg;
    for (int64_t r = 0; r < b->n; r++) {
        int64_t k = col_vec_i64(&b->cols[0], r), grp = col_vec_i64(&b->cols[1], r);
        CHECK(!(g->keys[grp] & (UINT64_C(1) << k))); /* a key once */
        g->keys[grp] |= UINT64_C(1) << k;
        g->rows++;
    }
    sql_batch_free(b);
    return SL_OK;
}

static got changed(stream_uagg *u)
{
    got g;
    memset(&g, 0, sizeof g);
    sql_batch *gone;
    uint32_t *ids;
    CHECK_OK(stream_uagg_changed(u, take_rows, &g, &gone, &ids));
    for (int64_t r = 0; gone && r < gone->n; r++) {
        g.gone[g.ngone++] = col_vec_i64(&gone->cols[0], r);
    }
    if (gone) { /* each id is its value's */
        uint32_t *look = sl_malloc(sizeof *look * (size_t)gone->n);
        sql_vec kv = {gone->cols[0], false};
        CHECK_OK(stream_uagg_gids(u, &kv, gone->n, look));
        for (int64_t r = 0; r < gone->n; r++)
            CHECK_EQ(look[r], ids[r]);
        sl_free(look);
    }
    sql_batch_free(gone);
    sl_free(ids);
    return g;
}

TEST(changed_groups_get_their_rows_and_empty_ones_are_gone)
{
    stream_uagg *u;
    CHECK_OK(stream_uagg_new(2, g_t2, 1, g_t2 + 1, &u));
    int64_t k[] = {1, 2, 3, 4}, g[] = {10, 10, 20, 30};
    put(u, k, g, 4);
    got a = changed(u);
    CHECK_EQ(a.rows, 4);
    CHECK_EQ(a.keys[10], (1 << 1) | (1 << 2));
    CHECK_EQ(a.keys[20], 1 << 3);
    CHECK_EQ(a.ngone, 0);
    /* nothing changed: nothing handed out */
    a = changed(u);
    CHECK_EQ(a.rows, 0);
    /* key 3 moves from 20 to 10: 20 is gone, 10 has three rows; 30 untouched */
    put1(u, 3, 10);
    a = changed(u);
    CHECK_EQ(a.keys[10], (1 << 1) | (1 << 2) | (1 << 3));
    CHECK_EQ(a.rows, 3);
    CHECK_EQ(a.ngone, 1);
    CHECK_EQ(a.gone[0], 20);
    /* a key twice in one batch: the later row wins */
    int64_t k2[] = {4, 4}, g2[] = {20, 40};
    put(u, k2, g2, 2);
    a = changed(u);
    CHECK_EQ(a.keys[40], 1 << 4);
    CHECK_EQ(a.keys[20], 0);
    CHECK_EQ(a.ngone, 2); /* 30 (4 left it) and 20 (4 passed through it) */
    /* removals: a key with no row changes nothing */
    remove1(u, 1);
    remove1(u, 9);
    a = changed(u);
    CHECK_EQ(a.keys[10], (1 << 2) | (1 << 3));
    CHECK_EQ(a.ngone, 0);
    remove1(u, 4);
    a = changed(u);
    CHECK_EQ(a.ngone, 1);
    CHECK_EQ(a.gone[0], 40);
    uint32_t gid;
    sql_batch *b;
    CHECK_OK(sql_batch_new(1, g_t2, &b));
    col_vec_append_i64(&b->cols[0], 10);
    b->n = 1;
    sql_vec kv = {b->cols[0], false};
    CHECK_OK(stream_uagg_gids(u, &kv, 1, &gid));
    CHECK_EQ(gid, 0); /* the first group seen */
    sql_batch_free(b);
    stream_uagg_free(u);
}

TEST(no_group_column_is_one_group_never_gone)
{
    stream_uagg *u;
    CHECK_OK(stream_uagg_new(2, g_t2, 0, NULL, &u));
    put1(u, 1, 0);
    put1(u, 2, 0);
    got a = changed(u);
    CHECK_EQ(a.rows, 2);
    remove1(u, 1);
    remove1(u, 2);
    a = changed(u);
    CHECK_EQ(a.rows, 0);
    CHECK_EQ(a.ngone, 0);
    stream_uagg_free(u);
}

TEST(compaction_keeps_rows_bounded_and_found)
{
    stream_uagg *u;
    CHECK_OK(stream_uagg_new(2, g_t2, 1, g_t2 + 1, &u));
    int64_t group[NK];
    for (int64_t i = 0; i < 20000; i++) { /* small updates moving keys around */
        int64_t k = (i * 7) % NK, g = (i * 13) % 5;
        put1(u, k, g);
        group[k] = g;
        if (i % 97 == 0) {
            remove1(u, (uint32_t)((i / 97) % NK));
            group[(i / 97) % NK] = -1;
        }
        CHECK(u->nlive + u->ndead <= 2 * u->nlive + 1024 + RECENT_MAX + 2);
        CHECK(u->nb <= 64 + RECENT_MAX + 2);
        if (i % 1000 == 999)
            changed(u);
    }
    changed(u);
    for (int64_t k = 0; k < NK; k++) /* every group changed once more: all rows */
        if (group[k] >= 0)
            put1(u, k, group[k]);
    got a = changed(u);
    int64_t live = 0;
    for (int64_t k = 0; k < NK; k++) {
        if (group[k] < 0)
            continue;
        live++;
        CHECK(a.keys[group[k]] & (UINT64_C(1) << k));
    }
    CHECK_EQ(a.rows, live);
    CHECK_EQ(u->nlive, live);
    CHECK(stream_uagg_mem(u) >= live * 16); /* at least the live rows' two bigints */
    stream_uagg_free(u);
}
