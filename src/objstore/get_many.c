/*
 * get_many.c - objstore_get_many: a batch of whole-object reads with a fixed
 * number of requests in flight.
 *
 * Each request runs on its own short-lived worker thread through the backend's
 * ordinary get, so retries, backoff and error messages are the backend's own;
 * workers take the next key from a shared counter, which keeps every worker
 * busy whatever the sizes.  Results land in the caller's buffer of the same
 * index, so their order is the keys' order.  Threads are per batch: a batch is
 * one partition build's payloads (tens of objects), next to which a thread's
 * start is noise, and nothing stays running between builds.
 */
#include "objstore/objstore.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct many {
    objstore *os;
    const char *const *keys;
    size_t n;
    dbuf *outs;
    _Atomic size_t next;
    _Atomic int failed;
    pthread_mutex_t mu; /* guards first_bad and err */
    size_t first_bad;   /* index of the lowest failed key; n: none */
    errmsg err;
} many;

static void *worker(void *arg)
{
    many *m = arg;
    for (;;) {
        if (atomic_load(&m->failed))
            break;
        size_t i = atomic_fetch_add(&m->next, 1);
        if (i >= m->n)
            break;
        errmsg e = {0};
        int rc = m->os->ops->get(m->os, m->keys[i], &m->outs[i], &e);
        if (rc) {
            if (!e.code)
                errmsg_set(&e, rc, "object %s: read failed", m->keys[i]);
            pthread_mutex_lock(&m->mu);
            if (i < m->first_bad) {
                m->first_bad = i;
                m->err = e;
                m->err.code = rc;
            }
            pthread_mutex_unlock(&m->mu);
            atomic_store(&m->failed, 1);
        }
    }
    return NULL;
}

int objstore_get_many(objstore *os, const char *const *keys, size_t n, dbuf *outs, errmsg *e)
{
    int par = os->ops->parallel_gets;
    if (par > OBJSTORE_MAX_PARALLEL)
        par = OBJSTORE_MAX_PARALLEL;
    if ((size_t)par > n)
        par = (int)n;
    if (par <= 1) {
        for (size_t i = 0; i < n; i++) {
            int rc = objstore_get(os, keys[i], &outs[i], e);
            if (rc)
                return rc;
        }
        return SL_OK;
    }
    many m = {.os = os, .keys = keys, .n = n, .outs = outs, .first_bad = n};
    atomic_init(&m.next, 0);
    atomic_init(&m.failed, 0);
    pthread_mutex_init(&m.mu, NULL);
    pthread_t th[OBJSTORE_MAX_PARALLEL];
    int started = 0;
    for (; started < par - 1; started++)
        if (pthread_create(&th[started], NULL, worker, &m))
            break; /* fewer helpers: the calling thread works too, so it still finishes */
    worker(&m);
    for (int t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    pthread_mutex_destroy(&m.mu);
    if (m.first_bad < n) {
        if (e)
            *e = m.err;
        return m.err.code;
    }
    return SL_OK;
}
