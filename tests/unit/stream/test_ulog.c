/*
 * test_ulog.c - the upsert log of a view with emit = 'on_update'
 * (stream/ulog.c): a key's newest row replaces the older one, deletions,
 * a key twice in one batch, the bounds compaction keeps (rows held and
 * batches stay proportional to the keys, however many updates come), and
 * followers: unkeyed ones get upserts only, keyed ones upserts with their keys
 * and deletions, and after an overrun the keys that lost their row.
 */
#include "test.h"

#include "stream/ulog.c" /* the file under test, statics included */

static const sql_type g_t2[2] = {{ST_INT8, -1}, {ST_INT8, -1}};

/* A batch of (key, value) rows, and one of the keys alone. */
static void make(const int64_t *k, const int64_t *v, int n, sql_batch **rows, sql_batch **keys)
{
    sql_batch_new(2, g_t2, rows);
    sql_batch_new(1, g_t2, keys);
    for (int i = 0; i < n; i++) {
        col_vec_append_i64(&(*rows)->cols[0], k[i]);
        col_vec_append_i64(&(*rows)->cols[1], v ? v[i] : 0);
        col_vec_append_i64(&(*keys)->cols[0], k[i]);
    }
    (*rows)->n = (*keys)->n = n;
}

#define NK 100

typedef struct seen {
    int64_t val[NK];
    int count[NK];
    int64_t rows;
    bool with_keys_ok;
} seen;

static int collect(void *arg, sql_batch *b)
{
    seen *s = arg;
    for (int64_t r = 0; r < b->n; r++) {
        int64_t k = col_vec_i64(&b->cols[0], r);
        s->count[k]++;
        s->val[k] = col_vec_i64(&b->cols[1], r);
        if (b->ncols == 3 && col_vec_i64(&b->cols[2], r) != k)
            s->with_keys_ok = false;
        s->rows++;
    }
    sql_batch_free(b);
    return SL_OK;
}

static seen read_all(const stream_ulog *l, bool keys)
{
    seen s;
    memset(&s, 0, sizeof s);
    s.with_keys_ok = true;
    CHECK_OK(stream_ulog_read(l, keys, collect, &s));
    return s;
}

TEST(newest_row_per_key_and_deletes)
{
    stream_ulog *l;
    CHECK_OK(stream_ulog_new(2, g_t2, 1, g_t2, &l));
    sql_batch *r, *k;
    int64_t k1[] = {1, 2, 3}, v1[] = {10, 20, 30};
    make(k1, v1, 3, &r, &k);
    CHECK_OK(stream_ulog_upsert(l, r, k, NULL));
    int64_t k2[] = {2, 4, 4}, v2[] = {21, 40, 41}; /* 4 twice: the later row wins */
    make(k2, v2, 3, &r, &k);
    CHECK_OK(stream_ulog_upsert(l, r, k, NULL));
    CHECK_EQ(stream_ulog_rows(l), 4);
    seen s = read_all(l, false);
    CHECK_EQ(s.rows, 4);
    CHECK_EQ(s.val[1], 10);
    CHECK_EQ(s.val[2], 21);
    CHECK_EQ(s.val[4], 41);
    CHECK_EQ(s.count[2], 1);
    CHECK_EQ(s.count[4], 1);
    int64_t kd[] = {3, 7}; /* 7 never had a row */
    make(kd, NULL, 2, &r, &k);
    sql_batch_free(r);
    CHECK_OK(stream_ulog_delete(l, k, NULL));
    s = read_all(l, true);
    CHECK_EQ(s.rows, 3);
    CHECK_EQ(s.count[3], 0);
    CHECK(s.with_keys_ok);
    /* a deleted key comes back */
    int64_t k3[] = {3}, v3[] = {33};
    make(k3, v3, 1, &r, &k);
    CHECK_OK(stream_ulog_upsert(l, r, k, NULL));
    s = read_all(l, false);
    CHECK_EQ(s.rows, 4);
    CHECK_EQ(s.val[3], 33);
    stream_ulog_free(l);
}

TEST(compaction_bounds_rows_and_batches)
{
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    stream_ulog *l;
    CHECK_OK(stream_ulog_new(2, g_t2, 1, g_t2, &l));
    int64_t held_max = 0, nb_max = 0;
    for (int64_t i = 0; i < 20000; i++) {
        /* one- to three-row updates cycling over NK keys, some deletions */
        sql_batch *r, *k;
        int64_t ks[3] = {i % NK, (i * 7) % NK, (i * 13) % NK}, vs[3] = {i, i, i};
        make(ks, vs, 1 + (int)(i % 3), &r, &k);
        CHECK_OK(stream_ulog_upsert(l, r, k, &mu));
        if (i % 50 == 0) {
            int64_t kd[1] = {(i / 50) % NK};
            make(kd, NULL, 1, &r, &k);
            sql_batch_free(r);
            CHECK_OK(stream_ulog_delete(l, k, &mu));
        }
        int64_t held = l->nlive + l->ndead;
        held_max = held > held_max ? held : held_max;
        nb_max = l->nb > nb_max ? l->nb : nb_max;
    }
    CHECK(stream_ulog_rows(l) <= NK);
    CHECK(held_max <= 2 * NK + 1024 + 3);   /* superseded rows dropped */
    CHECK(nb_max <= RECENT_MAX + 64 + 2);   /* small updates merged */
    seen s = read_all(l, true);
    CHECK(s.with_keys_ok);
    CHECK_EQ(s.rows, stream_ulog_rows(l));
    for (int k = 0; k < NK; k++)
        CHECK(s.count[k] <= 1);
    stream_ulog_free(l);
}

/* One upsert of key k to value v. */
static void upsert1(stream_ulog *l, int64_t k, int64_t v)
{
    sql_batch *r, *kb;
    make(&k, &v, 1, &r, &kb);
    CHECK_OK(stream_ulog_upsert(l, r, kb, NULL));
}

/* The upserts after a follower's place, into s, until none is left; whether it
 * was overrun. */
static bool drain(stream_ulog *l, int64_t *pos, seen *s)
{
    for (;;) {
        sql_batch *b;
        bool over;
        int kind;
        CHECK_OK(stream_ulog_follow_next(l, pos, false, &b, &kind, &over));
        if (over)
            return true;
        if (!b)
            return false;
        collect(s, b);
    }
}

TEST(followers_get_each_upsert_once_and_the_tail_is_bounded)
{
    stream_ulog *l;
    CHECK_OK(stream_ulog_new(2, g_t2, 1, g_t2, &l));
    upsert1(l, 1, 10);
    upsert1(l, 2, 20);
    upsert1(l, 1, 11);
    CHECK_EQ(l->ntail, 0); /* nobody follows: nothing kept */
    /* a follower: the live rows first, then only what comes after */
    int64_t pos;
    seen a;
    memset(&a, 0, sizeof a);
    CHECK_OK(stream_ulog_follow(l, &pos, false, false, NULL, collect, &a));
    CHECK_EQ(a.rows, 2);
    CHECK_EQ(a.val[1], 11);
    upsert1(l, 3, 30);
    upsert1(l, 1, 12);
    CHECK(!drain(l, &pos, &a));
    CHECK_EQ(a.rows, 4);
    CHECK_EQ(a.count[1], 2); /* its snapshot row, then the upsert */
    CHECK_EQ(a.val[1], 12);
    CHECK_EQ(a.count[3], 1);
    CHECK_EQ(l->ntail, 0); /* every follower passed: the tail is empty */
    /* a second follower that falls behind: the tail stays bounded, it is overrun,
     * and following again gives each key's newest row */
    int64_t pos2;
    seen b;
    memset(&b, 0, sizeof b);
    CHECK_OK(stream_ulog_follow(l, &pos2, false, false, NULL, collect, &b));
    for (int64_t i = 0; i < 3 * TAIL_MAX; i++) {
        upsert1(l, i % NK, 1000 + i);
        CHECK(l->ntail <= TAIL_MAX);
        CHECK(!drain(l, &pos, &a)); /* the first one keeps up */
    }
    CHECK_EQ(a.val[(3 * TAIL_MAX - 1) % NK], 1000 + 3 * TAIL_MAX - 1);
    CHECK(drain(l, &pos2, &b));
    memset(&b, 0, sizeof b);
    CHECK_OK(stream_ulog_follow(l, &pos2, true, false, NULL, collect, &b));
    CHECK_EQ(b.rows, stream_ulog_rows(l));
    for (int k = 0; k < NK; k++)
        CHECK(b.count[k] == 1 && b.val[k] == a.val[k]);
    upsert1(l, 5, 5);
    CHECK(!drain(l, &pos2, &b));
    CHECK_EQ(b.val[5], 5);
    stream_ulog_unfollow(l, pos2);
    stream_ulog_unfollow(l, pos);
    upsert1(l, 6, 6);
    CHECK_EQ(l->ntail, 0);
    stream_ulog_free(l);
}

/* A keyed follower's changes: upserts set val (count them), deletions clear it. */
typedef struct kseen {
    int64_t val[NK];
    bool has[NK];
    int upserts, deletes;
} kseen;

static int kcollect(void *arg, sql_batch *b, int kind)
{
    kseen *s = arg;
    for (int64_t r = 0; r < b->n; r++) {
        if (kind == STREAM_ULOG_DELETE) {
            CHECK_EQ(b->ncols, 1);
            int64_t k = col_vec_i64(&b->cols[0], r);
            s->has[k] = false;
            s->deletes++;
            continue;
        }
        CHECK_EQ(b->ncols, 3); /* the row, then its key */
        int64_t k = col_vec_i64(&b->cols[2], r);
        CHECK_EQ(col_vec_i64(&b->cols[0], r), k);
        s->has[k] = true;
        s->val[k] = col_vec_i64(&b->cols[1], r);
        s->upserts++;
    }
    sql_batch_free(b);
    return SL_OK;
}

static int kput(void *arg, sql_batch *b)
{
    return kcollect(arg, b, STREAM_ULOG_UPSERT);
}

static int kgone(void *arg, sql_batch *b)
{
    return kcollect(arg, b, STREAM_ULOG_DELETE);
}

static bool kdrain(stream_ulog *l, int64_t *pos, kseen *s)
{
    for (;;) {
        sql_batch *b;
        bool over;
        int kind;
        CHECK_OK(stream_ulog_follow_next(l, pos, true, &b, &kind, &over));
        if (over)
            return true;
        if (!b)
            return false;
        kcollect(s, b, kind);
    }
}

static void delete1(stream_ulog *l, int64_t k)
{
    sql_batch *r, *kb;
    make(&k, NULL, 1, &r, &kb);
    sql_batch_free(r);
    CHECK_OK(stream_ulog_delete(l, kb, NULL));
}

TEST(keyed_followers_get_deletions_and_an_overrun_one_the_keys_gone)
{
    stream_ulog *l;
    CHECK_OK(stream_ulog_new(2, g_t2, 1, g_t2, &l));
    upsert1(l, 1, 10);
    upsert1(l, 2, 20);
    int64_t pos, upos;
    kseen a;
    memset(&a, 0, sizeof a);
    seen u;
    memset(&u, 0, sizeof u);
    CHECK_OK(stream_ulog_follow(l, &pos, false, true, kgone, kput, &a));
    CHECK_OK(stream_ulog_follow(l, &upos, false, false, NULL, collect, &u));
    CHECK(a.has[1] && a.has[2] && a.val[2] == 20);
    delete1(l, 1);
    delete1(l, 7); /* no row: nothing to pass on */
    upsert1(l, 3, 30);
    CHECK(!kdrain(l, &pos, &a));
    CHECK(!a.has[1] && a.has[2] && a.has[3]);
    CHECK_EQ(a.deletes, 1);
    CHECK(!drain(l, &upos, &u)); /* unkeyed: the upsert only */
    CHECK_EQ(u.rows, 3);
    CHECK_EQ(u.count[1], 1);
    stream_ulog_unfollow(l, upos);
    /* overrun: following again gives the keys with no row, then the live rows */
    for (int64_t i = 0; i < 2 * TAIL_MAX; i++)
        upsert1(l, 10 + i % 50, i);
    delete1(l, 2);
    delete1(l, 12);
    CHECK(kdrain(l, &pos, &a));
    CHECK(a.has[2]); /* its deletion was among the dropped changes */
    memset(&a, 0, sizeof a);
    a.has[2] = a.has[12] = a.has[1] = true; /* what the follower had passed on */
    CHECK_OK(stream_ulog_follow(l, &pos, true, true, kgone, kput, &a));
    CHECK(!a.has[1] && !a.has[2] && !a.has[12] && a.has[3] && a.has[11]);
    CHECK_EQ(a.deletes, 3); /* 1, 2 and 12 (7 never had a row) */
    CHECK_EQ(a.upserts, stream_ulog_rows(l));
    stream_ulog_unfollow(l, pos);
    CHECK_EQ(l->ntail, 0);
    stream_ulog_free(l);
}
