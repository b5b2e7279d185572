/*
 * keys.c - keys this process is working on, as 64-bit hashes: the busy sets
 * (partitions being built, payloads being read; lake_int.h) and the
 * process's partition key locks over l->busy, which jit.c takes before a
 * build and which it or a deferred commit (commit.c) releases.
 */
#include "lake/lake_int.h"

int lake_busy_has(const lake_busy *b, uint64_t key)
{
    const uint64_t *k = (const uint64_t *)(const void *)b->keys.p;
    for (size_t i = 0; i < b->keys.len / sizeof *k; i++)
        if (k[i] == key)
            return 1;
    return 0;
}

int lake_busy_add(lake_busy *b, uint64_t key)
{
    if (!b->keys.max)
        dbuf_init(&b->keys, LAKE_BUSY_MAX * sizeof key);
    return dbuf_append(&b->keys, &key, sizeof key);
}

void lake_busy_del(lake_busy *b, uint64_t key)
{
    uint64_t *k = (uint64_t *)(void *)b->keys.p;
    size_t n = b->keys.len / sizeof *k;
    for (size_t i = 0; i < n; i++)
        if (k[i] == key) {
            k[i] = k[n - 1];
            b->keys.len -= sizeof *k;
            return;
        }
}

int lake_key_lock(lake *l, uint64_t key)
{
    pthread_mutex_lock(&l->lock_mu);
    while (lake_busy_has(&l->busy, key))
        pthread_cond_wait(&l->lock_cv, &l->lock_mu);
    int rc = lake_busy_add(&l->busy, key);
    pthread_mutex_unlock(&l->lock_mu);
    return rc;
}

void lake_key_unlock(lake *l, uint64_t key)
{
    pthread_mutex_lock(&l->lock_mu);
    lake_busy_del(&l->busy, key);
    pthread_cond_broadcast(&l->lock_cv);
    pthread_mutex_unlock(&l->lock_mu);
}
