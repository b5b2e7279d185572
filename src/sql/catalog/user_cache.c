/*
 * user_cache.c - small user-table segments kept decoded in memory.
 *
 * Segments are immutable (a new name for every write), so a decoded copy never
 * goes stale: lookup tables and the small tables of point queries are read
 * from their Parquet bytes once, then shared (refcounted buffers) by every
 * query that scans them.  Only segments of at most one scan batch are kept;
 * the least recently used go first past the budget; a retired segment leaves
 * at once.  One mutex, held for a lookup, never for I/O.
 */
#include "sql/catalog/user_int.h"

#include "base/alloc.h"

#include <string.h>

#define CACHE_ENTRIES 256
#define CACHE_BUDGET ((size_t)64 << 20)

typedef struct ucache_ent {
    char *key;
    sql_batch *b;            /* every column of the segment */
    size_t bytes;
    uint64_t used;
} ucache_ent;

struct user_seg_cache {
    pthread_mutex_t mu;
    ucache_ent ent[CACHE_ENTRIES];
    int n;
    size_t bytes;
    uint64_t tick, hits, misses;
};

int user_cache_new(user_seg_cache **out)
{
    user_seg_cache *c = sl_calloc(1, sizeof *c);
    if (!c)
        return SL_ENOMEM;
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return SL_OK;
}

static void drop_at(user_seg_cache *c, int i)
{
    c->bytes -= c->ent[i].bytes;
    sl_free(c->ent[i].key);
    sql_batch_free(c->ent[i].b);
    c->ent[i] = c->ent[--c->n];
}

void user_cache_free(user_seg_cache *c)
{
    if (!c)
        return;
    while (c->n)
        drop_at(c, 0);
    pthread_mutex_destroy(&c->mu);
    sl_free(c);
}

int user_cache_get(user_seg_cache *c, const char *key, const int *cols, int ncols,
                   sql_batch **out)
{
    *out = NULL;
    if (!c)
        return 0;
    pthread_mutex_lock(&c->mu);
    int hit = 0;
    for (int i = 0; i < c->n; i++) {
        if (strcmp(c->ent[i].key, key))
            continue;
        sql_batch *b;
        if (!sql_batch_new(ncols, NULL, &b)) {
            for (int k = 0; k < ncols; k++)
                sql_vec_share(&c->ent[i].b->cols[cols[k]], &b->cols[k]);
            b->n = c->ent[i].b->n;
            *out = b;
            hit = 1;
            c->ent[i].used = ++c->tick;
        }
        break;
    }
    c->hits += (uint64_t)hit;
    c->misses += (uint64_t)!hit;
    pthread_mutex_unlock(&c->mu);
    return hit;
}

static size_t batch_bytes(const sql_batch *b)
{
    size_t n = 0;
    for (int i = 0; i < b->ncols; i++) {
        const col_vec *v = &b->cols[i];
        n += v->values ? v->values->cap_bytes : 0;
        n += v->data ? v->data->cap_bytes : 0;
        n += v->validity ? v->validity->cap_bytes : 0;
    }
    return n + 64;
}

void user_cache_put(user_seg_cache *c, const char *key, sql_batch *b)
{
    size_t bytes = batch_bytes(b);
    char *k = c && bytes <= CACHE_BUDGET / 8 ? sl_strdup(key) : NULL;
    if (!k) {
        sql_batch_free(b);
        return;
    }
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->ent[i].key, key)) { /* another query got there first */
            pthread_mutex_unlock(&c->mu);
            sl_free(k);
            sql_batch_free(b);
            return;
        }
    while (c->n && (c->n == CACHE_ENTRIES || c->bytes + bytes > CACHE_BUDGET)) {
        int lru = 0;
        for (int i = 1; i < c->n; i++)
            if (c->ent[i].used < c->ent[lru].used)
                lru = i;
        drop_at(c, lru);
    }
    c->ent[c->n++] = (ucache_ent){k, b, bytes, ++c->tick};
    c->bytes += bytes;
    pthread_mutex_unlock(&c->mu);
}

void user_cache_drop(user_seg_cache *c, const char *key)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->ent[i].key, key)) {
            drop_at(c, i);
            break;
        }
    pthread_mutex_unlock(&c->mu);
}
