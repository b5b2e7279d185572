/*
 * get_many.c - objstore_get_many: a batch of whole-object reads with a fixed
 * number of requests in flight.
 *
 * The reads are tasks of the project's ordered pool (base/pool.h), one per
 * key, on the backend's parallel_gets threads; each runs the backend's
 * ordinary get, so retries, backoff and error messages are the backend's own.
 * Results land in the caller's buffer of the same index and are collected in
 * key order, so the first failure met is the first in key order; it cancels
 * the reads not started.  The pool is per batch: a batch is one partition
 * build's payloads (tens of objects), next to which starting its threads is
 * noise, and nothing stays running between builds.
 */
#include "objstore/objstore.h"

#include "base/alloc.h"
#include "base/pool.h"

typedef struct get_task {
    pool_task t;             /* first: the pool hands this back */
    objstore *os;
    const char *key;
    dbuf *out;
    size_t i;
    objstore_got_fn got;
    void *got_arg;
    errmsg e;
} get_task;

static void get_run(pool_task *pt)
{
    get_task *g = (get_task *)pt;
    pt->rc = objstore_get(g->os, g->key, g->out, &g->e);
    if (pt->rc && !g->e.code)
        errmsg_set(&g->e, pt->rc, "object %s: read failed", g->key);
    if (pt->rc)
        g->e.code = pt->rc;
    else if (g->got)
        g->got(g->got_arg, g->i);
}

static int one_by_one(objstore *os, const char *const *keys, size_t n, dbuf *outs,
                      objstore_got_fn got, void *got_arg, errmsg *e)
{
    for (size_t i = 0; i < n; i++) {
        int rc = objstore_get(os, keys[i], &outs[i], e);
        if (rc)
            return rc;
        if (got)
            got(got_arg, i);
    }
    return SL_OK;
}

int objstore_get_many(objstore *os, const char *const *keys, size_t n, dbuf *outs, errmsg *e)
{
    return objstore_get_many_cb(os, keys, n, outs, NULL, NULL, e);
}

int objstore_get_many_cb(objstore *os, const char *const *keys, size_t n, dbuf *outs,
                         objstore_got_fn got, void *got_arg, errmsg *e)
{
    int par = os->ops->parallel_gets;
    if (par > OBJSTORE_MAX_PARALLEL)
        par = OBJSTORE_MAX_PARALLEL;
    if ((size_t)par > n)
        par = (int)n;
    get_task *ts = par > 1 ? sl_calloc(n, sizeof *ts) : NULL;
    pool p;
    errmsg pe = {0};
    if (!ts || pool_init(&p, (unsigned)par, n, &pe)) {
        sl_free(ts); /* no threads (or a batch of one): one after another */
        return one_by_one(os, keys, n, outs, got, got_arg, e);
    }
    size_t queued = 0;
    for (; queued < n; queued++) {
        ts[queued] = (get_task){.t = {.run = get_run}, .os = os, .key = keys[queued],
                                .out = &outs[queued], .i = queued, .got = got,
                                .got_arg = got_arg};
        if (pool_submit(&p, &ts[queued].t))
            break;
    }
    int rc = SL_OK;
    pool_task *t;
    while (pool_next(&p, &t) == SL_OK)
        if (!rc && t->rc) {
            rc = t->rc;
            if (e)
                *e = ((get_task *)t)->e;
            pool_cancel(&p);
        }
    pool_destroy(&p);
    sl_free(ts);
    return rc;
}
