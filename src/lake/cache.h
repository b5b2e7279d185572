/*
 * cache.h - a bounded, thread-safe LRU cache of refcounted values.
 *
 * Keys are strings; values are opaque and freed by the cache's free function
 * once they are out of the cache and nobody holds them.  A cache has a bound on
 * entries and on bytes (the size each value declares); inserting past either
 * evicts from the least recently used end.  Every lookup counts a hit or a miss
 * and every eviction is counted, for GET /api/stats.
 *
 * One mutex per cache: lookups are per partition or per request, never per
 * row, so the lock costs nothing next to the work a value stands for.
 */
#ifndef SL_LAKE_CACHE_H
#define SL_LAKE_CACHE_H

#include "base/json.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lcache_entry lcache_entry;
struct lcache_entry {
    char *key;
    uint64_t hash;
    void *val;
    size_t size;
    int refs;              /* holders, plus 1 while in the cache (under the mutex) */
    int in_cache;
    lcache_entry *prev, *next; /* LRU list, most recent first */
    lcache_entry *chain;       /* hash bucket */
    int64_t born_ns;           /* monotonic time of the put */
};

typedef struct lcache {
    pthread_mutex_t mu;
    const char *name;
    lcache_entry **buckets;
    size_t nbuckets;
    lcache_entry *head, *tail;
    size_t count, bytes, max_count, max_bytes;
    void (*free_val)(void *val);
    uint64_t hits, misses, evictions;
    uint64_t epoch;            /* bumped by every lcache_remove */
    int64_t max_age_ns;        /* 0: entries stay until evicted; else older ones are misses */
    /* Optional: the change stamp a value was loaded under (see lcache_get_stamped). */
    uint64_t (*stamp_of)(const void *val);
    uint64_t changed;          /* entries dropped because the source's stamp moved on */
} lcache;

int lcache_init(lcache *c, const char *name, size_t max_count, size_t max_bytes,
                void (*free_val)(void *val));
void lcache_destroy(lcache *c);
/*
 * The entry of key with a reference taken, or NULL (a miss).  An entry older
 * than max_age_ns (when set) is dropped and is a miss.
 */
lcache_entry *lcache_get(lcache *c, const char *key);
/*
 * As lcache_get; with check set (and the cache's stamp_of), an entry whose value
 * was loaded under another stamp than `stamp` (the source's current one, read by
 * the caller) is dropped and is a miss, counted in `changed`.  lcache_put then
 * lets a value replace a kept one of another stamp, so the caller that loads
 * after such a miss gets its own, current, value back.
 */
lcache_entry *lcache_get_stamped(lcache *c, const char *key, int check, uint64_t stamp);
/*
 * The cache's epoch: read it before loading a value that lcache_put will insert.
 * A removal while the value was loaded may mean the value is already out of date
 * (it was read before the change the removal announces); such a value is handed
 * back to its loader but not kept, so no later lookup sees it.
 */
uint64_t lcache_epoch(lcache *c);
/*
 * Inserts val under key and returns its entry with a reference taken (NULL on
 * ENOMEM, val freed).  If key is present already, the existing entry wins: val
 * is freed and the existing entry returned (two loaders raced; the kept entry is
 * current, since a removal after it was inserted would have dropped it).  A value
 * larger than the byte bound, or loaded in an epoch that has since ended, is
 * returned but not kept.
 */
lcache_entry *lcache_put(lcache *c, const char *key, void *val, size_t size, uint64_t epoch);
void lcache_release(lcache *c, lcache_entry *en);
/* Drops key from the cache (holders keep their value until they release it). */
void lcache_remove(lcache *c, const char *key);
/* Drops every entry (holders keep their values until they release them). */
void lcache_clear(lcache *c);
/*
 * {"entries":..,"bytes":..,"hits":..,"misses":..,"evictions":..,"changed":..,
 *  "max_bytes":..,"hit_rate":..} as member `name`.
 */
void lcache_stats_json(lcache *c, jw *w);

#endif
