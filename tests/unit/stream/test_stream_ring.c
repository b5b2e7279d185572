/*
 * test_stream_ring.c - the rings and doorbells partitioned workers hand batches
 * through (stream/ring.c): order, fullness, and two threads that block on each
 * other through the doorbells (a lost wake-up would hang the case, which the
 * harness's time limit reports).
 */
#include "test.h"

#include "stream/ring.c" /* the file under test, statics included */

#include <pthread.h>

TEST(fifo_until_full)
{
    stream_bell c, p;
    stream_bell_init(&c);
    stream_bell_init(&p);
    stream_ring r;
    CHECK_OK(stream_ring_init(&r, 8, &c, &p));
    stream_msg m = {NULL, 0, 0, STREAM_MSG_ROWS};
    CHECK(!stream_ring_ready(&r));
    for (int i = 0; i < 8; i++) {
        m.wm = i;
        CHECK(stream_ring_push(&r, &m));
    }
    CHECK(!stream_ring_room(&r));
    CHECK(!stream_ring_push(&r, &m));
    stream_msg out;
    CHECK(stream_ring_pop(&r, &out));
    CHECK_EQ(out.wm, 0);
    CHECK(stream_ring_room(&r));
    m.wm = 8;
    CHECK(stream_ring_push(&r, &m));
    for (int i = 1; i <= 8; i++) {
        CHECK(stream_ring_pop(&r, &out));
        CHECK_EQ(out.wm, i);
    }
    CHECK(!stream_ring_pop(&r, &out));
    CHECK_EQ(atomic_load(&c.seq), 9); /* every push rang the consumer */
    CHECK_EQ(atomic_load(&p.seq), 9);  /* every pop the producer */
    stream_ring_free(&r);
}

#define NMSG 100000

typedef struct pair {
    stream_ring r;
    stream_bell c, p;
    int64_t sum;
    bool in_order;
} pair;

static bool has_room(void *arg)
{
    return stream_ring_room(arg);
}

static bool has_msg(void *arg)
{
    return stream_ring_ready(arg);
}

static void *producer(void *arg)
{
    pair *x = arg;
    for (int64_t i = 0; i < NMSG; i++) {
        stream_msg m = {NULL, i, 0, i == NMSG - 1 ? STREAM_MSG_DONE : STREAM_MSG_ROWS};
        while (!stream_ring_push(&x->r, &m))
            stream_bell_wait(&x->p, has_room, &x->r);
    }
    return NULL;
}

TEST(two_threads_block_and_wake)
{
    pair x = {.in_order = true};
    stream_bell_init(&x.c);
    stream_bell_init(&x.p);
    CHECK_OK(stream_ring_init(&x.r, 4, &x.c, &x.p)); /* small: both sides block often */
    pthread_t th;
    CHECK(!pthread_create(&th, NULL, producer, &x));
    int64_t want = 0;
    for (;;) {
        stream_msg m;
        if (!stream_ring_pop(&x.r, &m)) {
            stream_bell_wait(&x.c, has_msg, &x.r);
            continue;
        }
        x.in_order &= m.wm == want++;
        x.sum += m.wm;
        if (m.kind == STREAM_MSG_DONE)
            break;
    }
    pthread_join(th, NULL);
    CHECK(x.in_order);
    CHECK_EQ(x.sum, (int64_t)NMSG * (NMSG - 1) / 2);
    stream_ring_free(&x.r);
}

static _Atomic int g_flag;

static bool flag_set(void *arg)
{
    (void)arg;
    return atomic_load(&g_flag) != 0;
}

static void *ringer(void *arg)
{
    atomic_store(&g_flag, 1);
    stream_bell_ring(arg);
    return NULL;
}

TEST(a_bell_wakes_a_sleeper)
{
    stream_bell b;
    stream_bell_init(&b);
    pthread_t th;
    CHECK(!pthread_create(&th, NULL, ringer, &b));
    while (!flag_set(NULL))
        stream_bell_wait(&b, flag_set, NULL);
    pthread_join(th, NULL);
    CHECK_EQ(atomic_load(&b.waiters), 0);
}

TEST(leftover_batches_are_freed)
{
    stream_bell c, p;
    stream_bell_init(&c);
    stream_bell_init(&p);
    stream_ring r;
    CHECK_OK(stream_ring_init(&r, 2, &c, &p));
    sql_type t = sql_type_of(ST_INT8);
    sql_batch *b;
    CHECK_OK(sql_batch_new(1, &t, &b));
    stream_msg m = {b, 0, 0, STREAM_MSG_ROWS};
    CHECK(stream_ring_push(&r, &m));
    stream_ring_free(&r); /* the sanitizer build sees a leak otherwise */
}
