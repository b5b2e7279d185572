/*
 * pool.c - bounded thread pool with ordered collection (see pool.h).
 *
 * Two intrusive singly linked lists thread through the caller's task
 * records: the run queue (tasks not started, FIFO) and the order list (every
 * uncollected task, in submission order).  A task moves QUEUED -> RUNNING ->
 * DONE, or QUEUED -> DONE without running when the pool is cancelled or
 * destroyed.  pool_next waits on cv_done until the head of the order list is
 * DONE, so collection follows submission order whatever the finishing order.
 */
#include "base/pool.h"

#include "base/alloc.h"

#include <stdbool.h>
#include <string.h>
#include <unistd.h>

enum { T_QUEUED = 1, T_RUNNING = 2, T_DONE = 3 };

static void *worker(void *arg)
{
    pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->q_head && !p->stop)
            pthread_cond_wait(&p->cv_work, &p->mu);
        if (p->stop)
            break;
        pool_task *t = p->q_head;
        p->q_head = t->q_next;
        if (!p->q_head)
            p->q_tail = NULL;
        t->state = T_RUNNING;
        p->running++;
        pthread_mutex_unlock(&p->mu);
        t->run(t);
        pthread_mutex_lock(&p->mu);
        t->state = T_DONE;
        p->running--;
        pthread_cond_broadcast(&p->cv_done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

unsigned pool_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

int pool_init(pool *p, unsigned nthreads, size_t max_in_flight, errmsg *e)
{
    memset(p, 0, sizeof *p);
    if (nthreads == 0)
        nthreads = 1;
    if (nthreads > 1024)
        return errmsg_set(e, SL_EINVAL, "pool: %u threads is more than 1024", nthreads);
    p->max_in_flight = max_in_flight ? max_in_flight : 2 * (size_t)nthreads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_work, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    pthread_cond_init(&p->cv_space, NULL);
    atomic_init(&p->cancelled, 0);
    p->threads = sl_calloc(nthreads, sizeof *p->threads);
    if (!p->threads) {
        pool_destroy(p);
        return errmsg_set(e, SL_ENOMEM, "pool: no memory for %u threads", nthreads);
    }
    for (unsigned i = 0; i < nthreads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
            pool_destroy(p);
            return errmsg_set(e, SL_EIO, "pool: cannot start thread %u of %u", i + 1, nthreads);
        }
        p->nthreads++;
    }
    return SL_OK;
}

int pool_submit(pool *p, pool_task *t)
{
    int rc = SL_OK;
    pthread_mutex_lock(&p->mu);
    while (p->in_flight >= p->max_in_flight && !atomic_load(&p->cancelled) && !p->stop)
        pthread_cond_wait(&p->cv_space, &p->mu);
    if (atomic_load(&p->cancelled) || p->stop) {
        rc = SL_ECANCELED;
        goto out;
    }
    t->rc = 0;
    t->state = T_QUEUED;
    t->q_next = t->o_next = NULL;
    if (p->q_tail)
        p->q_tail->q_next = t;
    else
        p->q_head = t;
    p->q_tail = t;
    if (p->o_tail)
        p->o_tail->o_next = t;
    else
        p->o_head = t;
    p->o_tail = t;
    p->in_flight++;
    pthread_cond_signal(&p->cv_work);
out:
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static int next(pool *p, pool_task **out, bool wait)
{
    int rc = SL_OK;
    pthread_mutex_lock(&p->mu);
    if (!p->o_head) {
        rc = SL_ENOTFOUND;
        goto out;
    }
    while (wait && p->o_head->state != T_DONE)
        pthread_cond_wait(&p->cv_done, &p->mu);
    if (p->o_head->state != T_DONE) {
        rc = SL_EAGAIN;
        goto out;
    }
    pool_task *t = p->o_head;
    p->o_head = t->o_next;
    if (!p->o_head)
        p->o_tail = NULL;
    t->o_next = NULL;
    p->in_flight--;
    pthread_cond_signal(&p->cv_space);
    *out = t;
out:
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int pool_next(pool *p, pool_task **out)
{
    return next(p, out, true);
}

int pool_try_next(pool *p, pool_task **out)
{
    return next(p, out, false);
}

size_t pool_in_flight(pool *p)
{
    pthread_mutex_lock(&p->mu);
    size_t n = p->in_flight;
    pthread_mutex_unlock(&p->mu);
    return n;
}

/* Completes every queued task without running it.  Called with mu held. */
static void drop_queued(pool *p)
{
    for (pool_task *t = p->q_head; t; t = t->q_next) {
        t->state = T_DONE;
        t->rc = SL_ECANCELED;
    }
    p->q_head = p->q_tail = NULL;
    pthread_cond_broadcast(&p->cv_done);
}

void pool_cancel(pool *p)
{
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->cancelled, 1);
    drop_queued(p);
    pthread_cond_broadcast(&p->cv_space);
    pthread_mutex_unlock(&p->mu);
}

int pool_is_cancelled(const pool *p)
{
    return atomic_load(&((pool *)p)->cancelled);
}

void pool_destroy(pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    drop_queued(p);
    pthread_cond_broadcast(&p->cv_work);
    pthread_cond_broadcast(&p->cv_space);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    sl_free(p->threads);
    p->threads = NULL;
    p->nthreads = 0;
    pthread_cond_destroy(&p->cv_work);
    pthread_cond_destroy(&p->cv_done);
    pthread_cond_destroy(&p->cv_space);
    pthread_mutex_destroy(&p->mu);
}
