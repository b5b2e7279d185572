/*
 * u64map.c - open-addressing uint64 -> uint32 map (see u64map.h).
 */
#include "base/u64map.h"

#include "base/alloc.h"
#include "base/err.h"
#include "base/hash.h"

#include <string.h>

void u64map_init(u64map *m)
{
    m->e = NULL;
    m->cap = 0;
    m->n = 0;
}

void u64map_free(u64map *m)
{
    sl_free(m->e);
    u64map_init(m);
}

void u64map_clear(u64map *m)
{
    if (m->e)
        memset(m->e, 0, sizeof(u64map_entry) * m->cap);
    m->n = 0;
}

int64_t u64map_get(const u64map *m, uint64_t key)
{
    if (!m->cap)
        return -1;
    size_t mask = m->cap - 1;
    for (size_t i = hash_u64(key) & mask;; i = (i + 1) & mask) {
        const u64map_entry *e = &m->e[i];
        if (!e->used)
            return -1;
        if (e->key == key)
            return e->val;
    }
}

int u64map_find_next(const u64map *m, uint64_t key, size_t *pos, uint32_t *val)
{
    if (!m->cap)
        return 0;
    size_t mask = m->cap - 1;
    size_t i = *pos == (size_t)-1 ? hash_u64(key) & mask : ((*pos + 1) & mask);
    for (;; i = (i + 1) & mask) {
        const u64map_entry *e = &m->e[i];
        if (!e->used)
            return 0;
        if (e->key == key) {
            *pos = i;
            *val = e->val;
            return 1;
        }
    }
}

static void insert_raw(u64map_entry *tab, size_t cap, uint64_t key, uint32_t val)
{
    size_t mask = cap - 1;
    size_t i = hash_u64(key) & mask;
    while (tab[i].used)
        i = (i + 1) & mask;
    tab[i].key = key;
    tab[i].val = val;
    tab[i].used = 1;
}

static int grow(u64map *m)
{
    if ((m->n + 1) * 2 <= m->cap)
        return SL_OK;
    size_t ncap = m->cap ? m->cap * 2 : 64;
    u64map_entry *t = sl_calloc(ncap, sizeof *t);
    if (!t)
        return SL_ENOMEM;
    for (size_t i = 0; i < m->cap; i++)
        if (m->e[i].used)
            insert_raw(t, ncap, m->e[i].key, m->e[i].val);
    sl_free(m->e);
    m->e = t;
    m->cap = ncap;
    return SL_OK;
}

int u64map_put_multi(u64map *m, uint64_t key, uint32_t val)
{
    int rc = grow(m);
    if (rc)
        return rc;
    insert_raw(m->e, m->cap, key, val);
    m->n++;
    return SL_OK;
}

int u64map_put(u64map *m, uint64_t key, uint32_t val)
{
    if (m->cap) {
        size_t mask = m->cap - 1;
        for (size_t i = hash_u64(key) & mask; m->e[i].used; i = (i + 1) & mask) {
            if (m->e[i].key == key) {
                m->e[i].val = val;
                return SL_OK;
            }
        }
    }
    return u64map_put_multi(m, key, val);
}
