/*
 * pool.h - a bounded thread pool whose results are collected in order.
 *
 * Work for N items (threads of a trace, partitions of a view) runs on a fixed
 * set of pthreads, and the caller consumes the results in submission order
 * as soon as the next one in order is done, never waiting for all of them
 * (ARCHITECTURE.md section 4, principle 1).  The pool keeps three promises:
 *
 *  - Bounded: at most max_in_flight tasks are submitted and not yet
 *    collected.  pool_submit blocks (on a condition variable) while the
 *    bound is reached, so memory tied to results is bounded by the pool's
 *    configuration, not by the number of items.
 *  - Ordered: pool_next hands back tasks in the order they were submitted;
 *    it blocks until the oldest uncollected task is done.  Tasks start in
 *    submission order too (one FIFO), so the oldest task is always running
 *    or done: waiting for it can never deadlock on later tasks.
 *  - Cancellable: pool_cancel marks the pool cancelled; tasks not started
 *    are completed without running (rc = SL_ECANCELED), running tasks can
 *    poll pool_is_cancelled() and return early, and every wait wakes up.
 *
 * No allocation per task: the caller owns the task records (usually
 * embedded in its own per-item struct) and keeps them alive until they are
 * collected or the pool is destroyed.  Waits block on condition variables;
 * nothing sleeps or spins.  One mutex protects the queues: it is held only to
 * link and unlink records, never while a task runs.
 *
 * Threads: any thread may submit, cancel or read the counters; pool_next
 * is meant for one collecting thread.
 */
#ifndef SL_BASE_POOL_H
#define SL_BASE_POOL_H

#include "base/err.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

typedef struct pool_task pool_task;
typedef void (*pool_fn)(pool_task *t);

struct pool_task {
    pool_fn run;       /* called on a worker thread; sets rc */
    void *arg;         /* the caller's */
    int rc;            /* the task's result; SL_ECANCELED if it never ran */
    /* private to the pool */
    pool_task *q_next; /* queue of tasks not started */
    pool_task *o_next; /* submission order of uncollected tasks */
    int state;
};

typedef struct pool {
    pthread_mutex_t mu;
    pthread_cond_t cv_work;  /* workers: a task is queued, or stop */
    pthread_cond_t cv_done;  /* collector: a task finished */
    pthread_cond_t cv_space; /* submitters: in_flight dropped below the bound */
    pthread_t *threads;
    unsigned nthreads;
    pool_task *q_head, *q_tail;
    pool_task *o_head, *o_tail;
    size_t in_flight, max_in_flight;
    size_t running;
    int stop;
    atomic_int cancelled;
} pool;

/*
 * Starts nthreads workers (at least 1) with room for max_in_flight
 * uncollected tasks (0: 2 * nthreads).  0, SL_EINVAL, or SL_ENOMEM / SL_EIO
 * (with a message in e) when memory or threads are lacking.
 */
int pool_init(pool *p, unsigned nthreads, size_t max_in_flight, errmsg *e);

/*
 * Queues t (t->run set by the caller).  Blocks while max_in_flight tasks are
 * uncollected.  0, or SL_ECANCELED after pool_cancel (t is not queued).
 */
int pool_submit(pool *p, pool_task *t);

/*
 * The oldest uncollected task once it is done, removed from the pool.
 * 0 with *out set; SL_ENOTFOUND when nothing is in flight.  After a cancel
 * it still returns every submitted task (those that never ran have rc
 * SL_ECANCELED), so the caller can release what it tied to them.
 */
int pool_next(pool *p, pool_task **out);
/* pool_next without the wait: SL_EAGAIN while the oldest task is not done. */
int pool_try_next(pool *p, pool_task **out);

/* Tasks submitted and not yet collected. */
size_t pool_in_flight(pool *p);

/* Cancel: see the essay.  Safe from any thread, idempotent. */
void pool_cancel(pool *p);
int pool_is_cancelled(const pool *p);

/*
 * Stops the workers once their current task returns and joins them; tasks
 * not started never run.  Uncollected task records are simply forgotten
 * (they belong to the caller).
 */
void pool_destroy(pool *p);

/* Number of online CPUs (at least 1): the default pool size. */
unsigned pool_default_threads(void);

#endif
