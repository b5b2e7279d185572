/*
 * u64map.h - open-addressing hash map from uint64 keys to uint32 values.
 *
 * Linear probing over a power-of-two table kept at most half full, so lookups
 * touch one or two cache lines.  Keys are hashed with hash_u64, so pointers
 * and sequential ids spread well.  The map may hold several entries with the
 * same key when the caller asks (u64map_put_multi): content-hash tables use
 * that, walking the candidates with u64map_find_next and comparing content.
 */
#ifndef SL_BASE_U64MAP_H
#define SL_BASE_U64MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct u64map_entry {
    uint64_t key;
    uint32_t val;
    uint32_t used;
} u64map_entry;

typedef struct u64map {
    u64map_entry *e;
    size_t cap;   /* power of two, or 0 */
    size_t n;
} u64map;

void u64map_init(u64map *m);
void u64map_free(u64map *m);
void u64map_clear(u64map *m);
/* Value of key, or -1 if absent. */
int64_t u64map_get(const u64map *m, uint64_t key);
/* Inserts or replaces. 0 or SL_ENOMEM. */
int u64map_put(u64map *m, uint64_t key, uint32_t val);
/* Inserts without looking for an existing entry. 0 or SL_ENOMEM. */
int u64map_put_multi(u64map *m, uint64_t key, uint32_t val);
/*
 * Iterates the entries with key: start with *pos = (size_t)-1; returns 1 and sets
 * *val for each match, 0 when there are no more.
 */
int u64map_find_next(const u64map *m, uint64_t key, size_t *pos, uint32_t *val);

#endif
