/*
 * test_pool.c - the bounded pool: results come back in submission order
 * whatever order tasks finish in, the in-flight bound holds, cancel wakes
 * everyone and skips what has not started, and thousands of tasks run on a
 * few workers without leaking.
 */
#include "test.h"

#include "base/alloc.h"
#include "base/pool.h"

#include <stdatomic.h>

/* Tasks that wait until the test opens their gate. */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open;
} gate;

typedef struct item {
    pool_task t;
    int idx;
    int ran;
    gate *g;
} item;

static atomic_int g_running, g_max_running;

static void note_running(int delta)
{
    int now = atomic_fetch_add(&g_running, delta) + delta;
    int m = atomic_load(&g_max_running);
    while (now > m && !atomic_compare_exchange_weak(&g_max_running, &m, now)) {
    }
}

/* Later tasks finish first: task i busy-works in proportion to (n - i). */
static void work_reverse(pool_task *t)
{
    item *it = t->arg;
    note_running(1);
    volatile uint64_t x = 0;
    for (int k = 0; k < (64 - it->idx % 64) * 20000; k++)
        x += (uint64_t)k;
    it->ran = 1;
    note_running(-1);
    t->rc = it->idx;
}

TEST(results_come_back_in_submission_order)
{
    pool p;
    errmsg e;
    CHECK_OK(pool_init(&p, 4, 64, &e));
    item it[64];
    for (int i = 0; i < 64; i++) {
        it[i] = (item){.t = {.run = work_reverse, .arg = &it[i]}, .idx = i};
        CHECK_OK(pool_submit(&p, &it[i].t));
    }
    for (int i = 0; i < 64; i++) {
        pool_task *t;
        CHECK_OK(pool_next(&p, &t));
        CHECK(t == &it[i].t);
        CHECK_EQ(t->rc, i);
        CHECK(it[i].ran);
    }
    pool_task *t;
    CHECK_EQ(pool_next(&p, &t), SL_ENOTFOUND);
    CHECK(atomic_load(&g_max_running) <= 4);
    pool_destroy(&p);
}

/* A task that waits until the test opens its gate. */
static void work_gated(pool_task *t)
{
    item *it = t->arg;
    note_running(1);
    pthread_mutex_lock(&it->g->mu);
    while (!it->g->open)
        pthread_cond_wait(&it->g->cv, &it->g->mu);
    pthread_mutex_unlock(&it->g->mu);
    it->ran = 1;
    note_running(-1);
}

static void gate_init(gate *g, item *it, int n)
{
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->open = 0;
    for (int i = 0; i < n; i++)
        it[i] = (item){.t = {.run = work_gated, .arg = &it[i]}, .idx = i, .g = g};
}

static void gate_open(gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

typedef struct submitter {
    pool *p;
    item *items;
    int n;
    atomic_int submitted;
} submitter;

static void *submit_all(void *arg)
{
    submitter *s = arg;
    for (int i = 0; i < s->n; i++) {
        if (pool_submit(s->p, &s->items[i].t))
            break;
        atomic_fetch_add(&s->submitted, 1);
    }
    return NULL;
}

TEST(submit_blocks_at_the_in_flight_bound)
{
    pool p;
    errmsg e;
    CHECK_OK(pool_init(&p, 2, 5, &e));
    gate gt;
    item it[20];
    gate_init(&gt, it, 20);
    submitter s = {.p = &p, .items = it, .n = 20};
    pthread_t th;
    pthread_create(&th, NULL, submit_all, &s);
    /* The submitter fills the bound and then must block: nothing completes
     * while the gate is shut, so it cannot get past 5 however long we wait. */
    while (pool_in_flight(&p) < 5)
        sched_yield();
    usleep(20000);
    CHECK_EQ(atomic_load(&s.submitted), 5);
    CHECK_EQ(pool_in_flight(&p), 5);
    gate_open(&gt);
    for (int i = 0; i < 20; i++) {
        pool_task *t;
        while (atomic_load(&s.submitted) <= i) /* pool_next needs a task in flight */
            sched_yield();
        CHECK_OK(pool_next(&p, &t));
        CHECK(t == &it[i].t);
        CHECK(pool_in_flight(&p) <= 5);
    }
    pthread_join(th, NULL);
    CHECK_EQ(atomic_load(&s.submitted), 20);
    pool_destroy(&p);
}

/* pool_try_next never waits: SL_EAGAIN while the oldest task runs (even when a
 * later one is done), SL_ENOTFOUND with nothing in flight, then the tasks in
 * order once they are done. */
TEST(try_next_does_not_wait_and_keeps_the_order)
{
    pool p;
    errmsg e;
    pool_task *t;
    CHECK_OK(pool_init(&p, 2, 4, &e));
    CHECK_EQ(pool_try_next(&p, &t), SL_ENOTFOUND);
    gate gt;
    item it[2];
    gate_init(&gt, it, 1); /* it[0] waits for the gate, it[1] is done at once */
    it[1] = (item){.t = {.run = work_reverse, .arg = &it[1]}, .idx = 63};
    CHECK_OK(pool_submit(&p, &it[0].t));
    CHECK_OK(pool_submit(&p, &it[1].t));
    while (!__atomic_load_n(&it[1].ran, __ATOMIC_ACQUIRE))
        sched_yield();
    CHECK_EQ(pool_try_next(&p, &t), SL_EAGAIN);
    CHECK_EQ(pool_in_flight(&p), 2);
    gate_open(&gt);
    int got = 0;
    while (got < 2) {
        int rc = pool_try_next(&p, &t);
        if (rc == SL_EAGAIN) {
            sched_yield();
            continue;
        }
        CHECK_OK(rc);
        CHECK(t == &it[got].t);
        got++;
    }
    CHECK_EQ(pool_try_next(&p, &t), SL_ENOTFOUND);
    pool_destroy(&p);
}

TEST(cancel_skips_queued_tasks_and_wakes_a_blocked_submitter)
{
    pool p;
    errmsg e;
    CHECK_OK(pool_init(&p, 1, 4, &e));
    gate gt;
    item it[10];
    gate_init(&gt, it, 10);
    submitter s = {.p = &p, .items = it, .n = 10};
    pthread_t th;
    pthread_create(&th, NULL, submit_all, &s);
    while (pool_in_flight(&p) < 4 || atomic_load(&g_running) < 1)
        sched_yield();
    pool_cancel(&p);
    pthread_join(th, NULL); /* returns: the blocked submit saw the cancel */
    CHECK_EQ(atomic_load(&s.submitted), 4);
    CHECK(pool_is_cancelled(&p));
    gate_open(&gt);
    int ran = 0, skipped = 0;
    for (int i = 0; i < 4; i++) {
        pool_task *t;
        CHECK_OK(pool_next(&p, &t));
        CHECK(t == &it[i].t);
        if (t->rc == SL_ECANCELED) {
            CHECK(!it[i].ran);
            skipped++;
        } else {
            CHECK(it[i].ran);
            ran++;
        }
    }
    CHECK_EQ(ran, 1);
    CHECK_EQ(skipped, 3);
    CHECK_EQ(pool_submit(&p, &it[5].t), SL_ECANCELED);
    pool_destroy(&p);
}

static void work_count(pool_task *t)
{
    atomic_fetch_add((atomic_int *)t->arg, 1);
}

TEST(many_more_tasks_than_workers_without_leaks)
{
    alloc_stats before, after;
    alloc_stats_get(&before);
    pool p;
    errmsg e;
    CHECK_OK(pool_init(&p, 3, 16, &e));
    atomic_int count;
    atomic_init(&count, 0);
    enum { N = 20000 };
    static pool_task tasks[N];
    size_t next_collect = 0;
    for (size_t i = 0; i < N; i++) {
        tasks[i] = (pool_task){.run = work_count, .arg = &count};
        /* Collect as we go so the submitter never needs a second thread. */
        while (pool_in_flight(&p) >= 16) {
            pool_task *t;
            CHECK_OK(pool_next(&p, &t));
            CHECK(t == &tasks[next_collect]);
            next_collect++;
        }
        CHECK_OK(pool_submit(&p, &tasks[i]));
    }
    pool_task *t;
    while (pool_next(&p, &t) == 0) {
        CHECK(t == &tasks[next_collect]);
        next_collect++;
    }
    CHECK_EQ(next_collect, N);
    CHECK_EQ(atomic_load(&count), N);
    pool_destroy(&p);
    alloc_stats_get(&after);
    CHECK_EQ(after.live_blocks, before.live_blocks);
}

typedef struct opener {
    pool *p;
    gate *g;
} opener;

/* Opens the gate once pool_destroy has stopped the pool (it then waits for the running task). */
static void *open_when_stopped(void *arg)
{
    opener *o = arg;
    for (;;) {
        pthread_mutex_lock(&o->p->mu);
        int stopped = o->p->stop;
        pthread_mutex_unlock(&o->p->mu);
        if (stopped)
            break;
        sched_yield();
    }
    gate_open(o->g);
    return NULL;
}

TEST(destroy_with_queued_tasks_runs_none_of_them)
{
    pool p;
    errmsg e;
    CHECK_OK(pool_init(&p, 1, 8, &e));
    gate gt;
    item it[6];
    gate_init(&gt, it, 6);
    for (int i = 0; i < 6; i++)
        CHECK_OK(pool_submit(&p, &it[i].t));
    while (atomic_load(&g_running) < 1)
        sched_yield();
    /* The first task holds the only worker until the pool is stopped, so the
     * other five are still queued when pool_destroy begins. */
    opener o = {&p, &gt};
    pthread_t th;
    pthread_create(&th, NULL, open_when_stopped, &o);
    pool_destroy(&p);
    pthread_join(th, NULL);
    int ran = 0;
    for (int i = 0; i < 6; i++)
        ran += it[i].ran;
    CHECK(ran >= 1 && ran <= 6);
    CHECK_EQ(ran, 1); /* only the task that was running when destroy began */
    /* what did not run before the stop was never started afterwards */
    for (int i = 0; i < 6; i++)
        if (!it[i].ran)
            CHECK_EQ(it[i].t.rc, SL_ECANCELED);
}
