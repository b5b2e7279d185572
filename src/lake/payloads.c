/*
 * payloads.c - the raw payloads partition builds read, each fetched once.
 *
 * Over a store whose every read is a request (S3, which cannot map files),
 * builds of one request read the same payloads: a process's async_events
 * partition decodes every thread block that its threads' thread_spans
 * partitions decode too, and a cold trace runs those builds at the same time.
 * Payloads never change (written once under their block id), so:
 *
 *   - a bounded LRU cache (cache "payloads", half the file cache's bound)
 *     keeps what a build fetched for the next build that needs it;
 *   - a key being fetched is claimed (a hash in a small list under pl_mu): a
 *     build that needs it waits for that GET instead of sending its own;
 *   - each payload enters the cache as soon as its own GET is done
 *     (objstore_get_many_cb), so a waiter wakes for its key, not for the
 *     other build's whole batch.
 *
 * A waiter that finds no entry after the wait (the fetch failed, or the value
 * was larger than the cache's bound or already evicted) reads the key itself:
 * a claim only ever saves requests, it never decides an outcome.  Two keys with
 * one hash make one of them wait for nothing, then read: still correct.
 *
 * Over a store that maps files (the local directory) a read is a copy from the
 * page cache: nothing is cached or claimed, and the payloads are read as
 * before, one batch with objstore_get_many.
 *
 * Memory: the cache's bound, plus what running builds hold (as before: each
 * build holds its partition's payloads while it runs).
 */
#include "lake/lake_int.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/hash.h"
#include "wire/wire.h"

#include <string.h>

typedef struct payload_val {
    uint8_t *p;
    size_t len;
} payload_val;

void lake_payload_val_free(void *v)
{
    payload_val *pv = v;
    if (pv) {
        sl_free(pv->p);
        sl_free(pv);
    }
}

int lake_payloads_cached(const lake *l)
{
    return !l->os->ops->map;
}

/* ------------------------------------------------------------ claims */

static void claim_drop(lake *l, uint64_t h)
{
    pthread_mutex_lock(&l->pl_mu);
    lake_busy_del(&l->pl_busy, h);
    pthread_cond_broadcast(&l->pl_cv);
    pthread_mutex_unlock(&l->pl_mu);
}

/* ------------------------------------------------------------ fetching */

/* Points out at what the cache entry holds. */
static void from_entry(lake_payload *out, lcache_entry *en)
{
    const payload_val *pv = en->val;
    out->en = en;
    out->p = pv->p;
    out->len = pv->len;
    out->have = 1;
}

/*
 * Moves the bytes just read (out->buf) into the cache; out then reads the
 * entry.  Without memory for the entry, out keeps its own buffer; if the cache
 * freed the bytes (lcache_put out of memory), out->have stays 0.
 */
static void publish(lake *l, const char *key, lake_payload *out, uint64_t epoch)
{
    payload_val *pv = sl_malloc(sizeof *pv);
    if (!pv) {
        out->p = out->buf.p;
        out->len = out->buf.len;
        out->have = 1;
        return;
    }
    pv->p = dbuf_take(&out->buf, &pv->len);
    lcache_entry *en = lcache_put(&l->payloads, key, pv, pv->len ? pv->len : 1, epoch);
    if (en)
        from_entry(out, en);
}

/* Told that out[i] holds its payload (the feed below); NULL: nobody listens. */
typedef void (*ready_fn)(void *arg, size_t i);

typedef struct batch {
    lake *l;
    const char *const *keys; /* the keys sent, in batch order */
    size_t *at;              /* batch position -> index in out */
    lake_payload *out;
    dbuf *bufs;              /* batch position -> buffer read into */
    uint64_t epoch;
    ready_fn ready;
    void *ready_arg;
} batch;

/* objstore_get_many_cb: one payload is in; publish it and wake its waiters. */
static void got_one(void *arg, size_t i)
{
    batch *b = arg;
    lake_payload *o = &b->out[b->at[i]];
    o->buf = b->bufs[i];
    dbuf_init(&b->bufs[i], 0);
    publish(b->l, b->keys[i], o, b->epoch);
    claim_drop(b->l, hash64(b->keys[i], strlen(b->keys[i])));
    if (o->have && b->ready)
        b->ready(b->ready_arg, b->at[i]);
}

/* Reads one key itself (a waiter whose key did not come into the cache). */
static int read_one(lake *l, const char *key, lake_payload *out, errmsg *e)
{
    uint64_t epoch = lcache_epoch(&l->payloads);
    dbuf_init(&out->buf, WIRE_MAX_PAYLOAD);
    int rc = objstore_get(l->os, key, &out->buf, e);
    if (!rc) {
        publish(l, key, out, epoch);
        if (!out->have)
            rc = errmsg_set(e, SL_ENOMEM, "out of memory");
    }
    return rc;
}

/* Without a cache: one batch into the payloads' own buffers. */
static int read_uncached(lake *l, const char *const *keys, size_t n, lake_payload *out,
                         errmsg *e)
{
    dbuf *bufs = sl_calloc(n ? n : 1, sizeof *bufs);
    if (!bufs)
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        dbuf_init(&bufs[i], WIRE_MAX_PAYLOAD);
    int rc = objstore_get_many(l->os, keys, n, bufs, e);
    for (size_t i = 0; i < n; i++) {
        out[i].buf = bufs[i];
        out[i].p = bufs[i].p;
        out[i].len = bufs[i].len;
        out[i].have = !rc;
    }
    sl_free(bufs);
    return rc;
}

enum { HAVE = 1, MINE = 2, WAIT = 3 }; /* 0: not sorted yet */

/*
 * Sorts the keys into those in the cache (taken: HAVE), those this call claims
 * and reads (MINE) and those another build is reading (WAIT).  The claim and
 * the cache are looked at under pl_mu, and a reader puts a payload into the
 * cache before it drops the claim: a key is seen claimed or cached, never
 * between (which would read it twice).
 */
static int sort_keys(lake *l, const char *const *keys, size_t n, lake_payload *out,
                     uint8_t *what, size_t *n_mine)
{
    *n_mine = 0;
    int rc = SL_OK;
    pthread_mutex_lock(&l->pl_mu);
    for (size_t i = 0; i < n && !rc; i++) {
        uint64_t h = hash64(keys[i], strlen(keys[i]));
        lcache_entry *en;
        if (lake_busy_has(&l->pl_busy, h)) {
            what[i] = WAIT;
        } else if ((en = lcache_get(&l->payloads, keys[i]))) {
            from_entry(&out[i], en);
            what[i] = HAVE;
        } else if (!(rc = lake_busy_add(&l->pl_busy, h))) {
            what[i] = MINE;
            (*n_mine)++;
        }
    }
    pthread_mutex_unlock(&l->pl_mu);
    return rc;
}

/* lake_payloads_get, telling ready (when set) of each payload as it comes in. */
static int payloads_get(lake *l, const char *const *keys, size_t n, lake_payload *out,
                        ready_fn ready, void *ready_arg, errmsg *e)
{
    memset(out, 0, sizeof *out * n);
    if (!lake_payloads_cached(l)) {
        int rc = read_uncached(l, keys, n, out, e);
        for (size_t i = 0; !rc && ready && i < n; i++)
            ready(ready_arg, i);
        return rc;
    }
    uint8_t *what = sl_calloc(n ? n : 1, 1);
    size_t *at = sl_calloc(n ? n : 1, sizeof *at);
    const char **mine = sl_calloc(n ? n : 1, sizeof *mine);
    dbuf *bufs = sl_calloc(n ? n : 1, sizeof *bufs);
    size_t n_mine = 0;
    int rc = what && at && mine && bufs ? SL_OK : SL_ENOMEM;
    uint64_t epoch = lcache_epoch(&l->payloads);
    if (!rc)
        rc = sort_keys(l, keys, n, out, what, &n_mine);
    if (rc) {
        /* claims taken before the failure go back, so no waiter hangs */
        for (size_t i = 0; what && i < n; i++)
            if (what[i] == MINE)
                claim_drop(l, hash64(keys[i], strlen(keys[i])));
        rc = errmsg_set(e, rc, "out of memory");
        goto out;
    }
    size_t k = 0;
    for (size_t i = 0; ready && i < n; i++)
        if (what[i] == HAVE)
            ready(ready_arg, i);
    for (size_t i = 0; i < n; i++)
        if (what[i] == MINE) {
            at[k] = i;
            mine[k] = keys[i];
            dbuf_init(&bufs[k++], WIRE_MAX_PAYLOAD);
        }
    batch b = {l, mine, at, out, bufs, epoch, ready, ready_arg};
    if (n_mine)
        rc = objstore_get_many_cb(l->os, mine, n_mine, bufs, got_one, &b, e);
    for (size_t j = 0; j < n_mine; j++) {
        if (out[at[j]].have)
            continue;
        /* not read (a failure), or lost to a lack of memory: the claim goes back */
        dbuf_free(&bufs[j]);
        claim_drop(l, hash64(mine[j], strlen(mine[j])));
        if (!rc)
            rc = errmsg_set(e, SL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; !rc && i < n; i++) {
        if (what[i] != WAIT)
            continue;
        uint64_t h = hash64(keys[i], strlen(keys[i]));
        pthread_mutex_lock(&l->pl_mu);
        while (lake_busy_has(&l->pl_busy, h))
            pthread_cond_wait(&l->pl_cv, &l->pl_mu);
        pthread_mutex_unlock(&l->pl_mu);
        lcache_entry *en = lcache_get(&l->payloads, keys[i]);
        if (en) {
            from_entry(&out[i], en);
            atomic_fetch_add(&l->pl_waited, 1);
        } else {
            rc = read_one(l, keys[i], &out[i], e);
        }
        if (!rc && ready)
            ready(ready_arg, i);
    }
out:
    sl_free(what);
    sl_free(at);
    sl_free(mine);
    sl_free(bufs);
    return rc;
}

int lake_payloads_get(lake *l, const char *const *keys, size_t n, lake_payload *out,
                      errmsg *e)
{
    return payloads_get(l, keys, n, out, NULL, NULL, e);
}

/* ------------------------------------------------------------ the feed */

struct lake_payload_feed {
    lake *l;
    const char *const *keys;
    size_t n;
    lake_payload *out;
    lake_src_feed src;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint8_t *ready;          /* per key: out[i] holds it */
    int done, rc;
    errmsg e;
    int64_t waited_ns;       /* the builder's time in feed_wait (its thread only) */
};

static void feed_ready(void *arg, size_t i)
{
    lake_payload_feed *f = arg;
    pthread_mutex_lock(&f->mu);
    f->ready[i] = 1;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static void *feed_run(void *arg)
{
    lake_payload_feed *f = arg;
    errmsg e;
    errmsg_clear(&e);
    int rc = payloads_get(f->l, f->keys, f->n, f->out, feed_ready, f, &e);
    pthread_mutex_lock(&f->mu);
    f->rc = rc;
    f->e = e;
    f->done = 1;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

static int feed_wait(void *arg, size_t i, const uint8_t **payload, size_t *len, errmsg *e)
{
    lake_payload_feed *f = arg;
    if (i >= f->n)
        return errmsg_set(e, SL_EINTERNAL, "payload %zu of %zu asked for", i, f->n);
    pthread_mutex_lock(&f->mu);
    if (!f->ready[i] && !f->done) {
        int64_t t0 = clock_mono_ns();
        while (!f->ready[i] && !f->done)
            pthread_cond_wait(&f->cv, &f->mu);
        f->waited_ns += clock_mono_ns() - t0;
    }
    int rc = SL_OK;
    if (f->ready[i]) {
        *payload = f->out[i].p;
        *len = f->out[i].len;
    } else {
        /* the reads ended without this one: their failure is the build's */
        rc = f->rc ? f->rc : SL_EINTERNAL;
        if (e)
            *e = f->e;
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

int lake_payloads_start(lake *l, const char *const *keys, size_t n, lake_payload *out,
                        lake_payload_feed **feed, errmsg *e)
{
    *feed = NULL;
    if (!lake_payloads_cached(l) || n < 2)
        return lake_payloads_get(l, keys, n, out, e);
    lake_payload_feed *f = sl_calloc(1, sizeof *f);
    uint8_t *ready = sl_calloc(n, 1);
    if (!f || !ready) {
        sl_free(f);
        sl_free(ready);
        return lake_payloads_get(l, keys, n, out, e);
    }
    *f = (lake_payload_feed){.l = l, .keys = keys, .n = n, .out = out, .ready = ready,
                             .src = {feed_wait, f}};
    memset(out, 0, sizeof *out * n);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    if (pthread_create(&f->th, NULL, feed_run, f)) {
        pthread_mutex_destroy(&f->mu);
        pthread_cond_destroy(&f->cv);
        sl_free(ready);
        sl_free(f);
        return lake_payloads_get(l, keys, n, out, e); /* no thread: read them now */
    }
    *feed = f;
    return SL_OK;
}

const lake_src_feed *lake_payloads_feed_src(lake_payload_feed *f)
{
    return &f->src;
}

int lake_payloads_finish(lake_payload_feed *f, int64_t *waited_ns, errmsg *e)
{
    if (waited_ns)
        *waited_ns = f ? f->waited_ns : 0;
    if (!f)
        return SL_OK;
    pthread_join(f->th, NULL);
    int rc = f->rc;
    if (rc && e)
        *e = f->e;
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    sl_free(f->ready);
    sl_free(f);
    return rc;
}

void lake_payloads_release(lake *l, lake_payload *ps, size_t n)
{
    for (size_t i = 0; ps && i < n; i++) {
        if (ps[i].en)
            lcache_release(&l->payloads, ps[i].en);
        dbuf_free(&ps[i].buf);
        memset(&ps[i], 0, sizeof ps[i]);
    }
}
