/*
 * cache.c - bounded LRU cache of refcounted values (see cache.h).
 */
#include "lake/cache.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/hash.h"

#include <string.h>

int lcache_init(lcache *c, const char *name, size_t max_count, size_t max_bytes,
                void (*free_val)(void *val))
{
    memset(c, 0, sizeof *c);
    c->name = name;
    c->max_count = max_count;
    c->max_bytes = max_bytes;
    c->free_val = free_val;
    c->nbuckets = 1024;
    while (c->nbuckets < max_count && c->nbuckets < (1u << 20))
        c->nbuckets <<= 1;
    c->buckets = sl_calloc(c->nbuckets, sizeof *c->buckets);
    if (!c->buckets)
        return SL_ENOMEM;
    pthread_mutex_init(&c->mu, NULL);
    return SL_OK;
}

static void entry_free(lcache *c, lcache_entry *en)
{
    if (c->free_val)
        c->free_val(en->val);
    sl_free(en->key);
    sl_free(en);
}

/* Takes en out of the list and buckets; called with the mutex held. */
static void unlink_entry(lcache *c, lcache_entry *en)
{
    lcache_entry **pp = &c->buckets[en->hash & (c->nbuckets - 1)];
    while (*pp != en)
        pp = &(*pp)->chain;
    *pp = en->chain;
    if (en->prev)
        en->prev->next = en->next;
    else
        c->head = en->next;
    if (en->next)
        en->next->prev = en->prev;
    else
        c->tail = en->prev;
    en->in_cache = 0;
    c->count--;
    c->bytes -= en->size;
}

/* Drops the cache's reference; returns the entry if it must be freed now. */
static lcache_entry *evict(lcache *c, lcache_entry *en)
{
    unlink_entry(c, en);
    return --en->refs == 0 ? en : NULL;
}

void lcache_destroy(lcache *c)
{
    if (!c->buckets)
        return;
    while (c->head) {
        lcache_entry *en = evict(c, c->head);
        if (en)
            entry_free(c, en);
    }
    sl_free(c->buckets);
    c->buckets = NULL;
    pthread_mutex_destroy(&c->mu);
}

static lcache_entry *find(lcache *c, const char *key, uint64_t h)
{
    for (lcache_entry *en = c->buckets[h & (c->nbuckets - 1)]; en; en = en->chain)
        if (en->hash == h && !strcmp(en->key, key))
            return en;
    return NULL;
}

static void to_front(lcache *c, lcache_entry *en)
{
    if (c->head == en)
        return;
    en->prev->next = en->next;
    if (en->next)
        en->next->prev = en->prev;
    else
        c->tail = en->prev;
    en->prev = NULL;
    en->next = c->head;
    c->head->prev = en;
    c->head = en;
}

/* Is en past the cache's max age?  (Mutex held.) */
static int stale(const lcache *c, const lcache_entry *en)
{
    return c->max_age_ns && clock_mono_ns() - en->born_ns >= c->max_age_ns;
}

/* Does en's value carry another stamp than the one the caller read?  (Mutex held.) */
static int changed(const lcache *c, const lcache_entry *en, uint64_t stamp)
{
    return c->stamp_of && c->stamp_of(en->val) != stamp;
}

lcache_entry *lcache_get(lcache *c, const char *key)
{
    return lcache_get_stamped(c, key, 0, 0);
}

lcache_entry *lcache_get_stamped(lcache *c, const char *key, int check, uint64_t stamp)
{
    uint64_t h = hash64(key, strlen(key));
    pthread_mutex_lock(&c->mu);
    lcache_entry *en = find(c, key, h);
    lcache_entry *gone = NULL;
    int old = en && stale(c, en);
    int moved = en && !old && check && changed(c, en, stamp);
    c->changed += (uint64_t)moved;
    if (old || moved) {
        gone = evict(c, en);
        en = NULL;
    }
    if (en) {
        en->refs++;
        to_front(c, en);
        c->hits++;
    } else {
        c->misses++;
    }
    pthread_mutex_unlock(&c->mu);
    if (gone)
        entry_free(c, gone);
    return en;
}

uint64_t lcache_epoch(lcache *c)
{
    pthread_mutex_lock(&c->mu);
    uint64_t ep = c->epoch;
    pthread_mutex_unlock(&c->mu);
    return ep;
}

lcache_entry *lcache_put(lcache *c, const char *key, void *val, size_t size, uint64_t epoch)
{
    lcache_entry *en = sl_calloc(1, sizeof *en);
    char *k = sl_strdup(key);
    if (!en || !k) {
        sl_free(en);
        sl_free(k);
        if (c->free_val)
            c->free_val(val);
        return NULL;
    }
    en->key = k;
    en->hash = hash64(key, strlen(key));
    en->val = val;
    en->size = size;
    en->refs = 1;
    en->born_ns = clock_mono_ns();
    lcache_entry *to_free = NULL; /* evicted entries nobody holds, chained through `chain` */
    pthread_mutex_lock(&c->mu);
    lcache_entry *old = find(c, key, en->hash);
    /* a value loaded under another stamp than the kept one is the newer reading, or
     * will be found out of date at its next lookup: either way the last loader wins */
    if (old && (stale(c, old) || (c->stamp_of && changed(c, old, c->stamp_of(val))))) {
        if ((to_free = evict(c, old)))
            to_free->chain = NULL;
        old = NULL;
    }
    if (old) {
        old->refs++;
        to_front(c, old);
        pthread_mutex_unlock(&c->mu);
        entry_free(c, en);
        return old;
    }
    if (size <= c->max_bytes && epoch == c->epoch) {
        /* Make room first, from the least recently used end. */
        while (c->tail && (c->count + 1 > c->max_count || c->bytes + size > c->max_bytes)) {
            c->evictions++;
            lcache_entry *gone = evict(c, c->tail);
            if (gone) {
                gone->chain = to_free;
                to_free = gone;
            }
        }
        size_t b = en->hash & (c->nbuckets - 1);
        en->chain = c->buckets[b];
        c->buckets[b] = en;
        en->next = c->head;
        if (c->head)
            c->head->prev = en;
        c->head = en;
        if (!c->tail)
            c->tail = en;
        en->in_cache = 1;
        en->refs++;
        c->count++;
        c->bytes += size;
    }
    pthread_mutex_unlock(&c->mu);
    while (to_free) {
        lcache_entry *next = to_free->chain;
        entry_free(c, to_free);
        to_free = next;
    }
    return en;
}

void lcache_release(lcache *c, lcache_entry *en)
{
    if (!en)
        return;
    pthread_mutex_lock(&c->mu);
    int last = --en->refs == 0;
    pthread_mutex_unlock(&c->mu);
    if (last)
        entry_free(c, en);
}

void lcache_remove(lcache *c, const char *key)
{
    uint64_t h = hash64(key, strlen(key));
    pthread_mutex_lock(&c->mu);
    lcache_entry *en = find(c, key, h);
    lcache_entry *gone = en ? evict(c, en) : NULL;
    c->epoch++;
    pthread_mutex_unlock(&c->mu);
    if (gone)
        entry_free(c, gone);
}

void lcache_clear(lcache *c)
{
    lcache_entry *to_free = NULL;
    pthread_mutex_lock(&c->mu);
    while (c->head) {
        lcache_entry *gone = evict(c, c->head);
        if (gone) {
            gone->chain = to_free;
            to_free = gone;
        }
    }
    pthread_mutex_unlock(&c->mu);
    while (to_free) {
        lcache_entry *next = to_free->chain;
        entry_free(c, to_free);
        to_free = next;
    }
}

void lcache_stats_json(lcache *c, jw *w)
{
    pthread_mutex_lock(&c->mu);
    uint64_t v[] = {c->count, c->bytes, c->hits, c->misses, c->evictions, c->changed};
    pthread_mutex_unlock(&c->mu);
    static const char *names[] = {"entries", "bytes", "hits", "misses", "evictions", "changed"};
    jw_key(w, c->name);
    jw_obj_begin(w);
    for (int i = 0; i < 6; i++) {
        jw_key(w, names[i]);
        jw_uint(w, v[i]);
    }
    jw_key(w, "max_bytes");
    jw_uint(w, c->max_bytes);
    /* hits / lookups, 0 before the first lookup */
    jw_key(w, "hit_rate");
    jw_double(w, v[2] + v[3] ? (double)v[2] / (double)(v[2] + v[3]) : 0.0);
    jw_obj_end(w);
}
