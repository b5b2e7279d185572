/*
 * pf_idmap.h - a map from nonzero 64-bit span ids to 32-bit values, with
 * deletion.
 *
 * Async span handling keeps "which open span is where" maps: the lane of an
 * open span (pf_lanes.c) and the pending record of a span whose end has not
 * been seen yet (pf_gen_async.c).  Both insert and delete once per span, so
 * the map uses linear probing over a power-of-two table kept at most half
 * full, and backward-shift deletion so that probe chains stay unbroken
 * without tombstones.  Key 0 marks an empty slot, so id 0 can never be
 * stored (callers treat it as "anonymous").  Memory is proportional to the
 * entries present, never to the ids seen.
 */
#ifndef SL_PERFETTO_PF_IDMAP_H
#define SL_PERFETTO_PF_IDMAP_H

#include "base/alloc.h"
#include "base/err.h"
#include "base/hash.h"

#include <stdint.h>
#include <string.h>

#define PF_IDMAP_NONE UINT32_MAX

typedef struct pf_idmap {
    uint64_t *keys; /* 0 = empty slot */
    uint32_t *vals;
    uint32_t mask;  /* slots - 1; meaningless while keys is NULL */
    uint32_t n;
} pf_idmap;

static inline void pf_idmap_free(pf_idmap *m)
{
    sl_free(m->keys);
    sl_free(m->vals);
    memset(m, 0, sizeof *m);
}

/* The value of id, or PF_IDMAP_NONE. */
static inline uint32_t pf_idmap_get(const pf_idmap *m, uint64_t id)
{
    if (!m->keys || id == 0)
        return PF_IDMAP_NONE;
    for (uint32_t i = (uint32_t)hash_u64(id) & m->mask;; i = (i + 1) & m->mask) {
        if (m->keys[i] == id)
            return m->vals[i];
        if (m->keys[i] == 0)
            return PF_IDMAP_NONE;
    }
}

static inline void pf_idmap_put_slot(uint64_t *keys, uint32_t *vals, uint32_t mask, uint64_t id,
                                     uint32_t v)
{
    uint32_t i = (uint32_t)hash_u64(id) & mask;
    while (keys[i])
        i = (i + 1) & mask;
    keys[i] = id;
    vals[i] = v;
}

/* Adds id (nonzero, not present) -> v.  0 or SL_ENOMEM. */
static inline int pf_idmap_put(pf_idmap *m, uint64_t id, uint32_t v)
{
    uint32_t nslots = m->keys ? m->mask + 1 : 0;
    if ((uint64_t)(m->n + 1) * 2 > nslots) {
        uint32_t want = nslots ? nslots * 2 : 256;
        uint64_t *nk = sl_calloc(want, sizeof *nk);
        uint32_t *nv = nk ? sl_malloc((size_t)want * sizeof *nv) : NULL;
        if (!nv) {
            sl_free(nk);
            return SL_ENOMEM;
        }
        for (uint32_t i = 0; i < nslots; i++)
            if (m->keys[i])
                pf_idmap_put_slot(nk, nv, want - 1, m->keys[i], m->vals[i]);
        sl_free(m->keys);
        sl_free(m->vals);
        m->keys = nk;
        m->vals = nv;
        m->mask = want - 1;
    }
    pf_idmap_put_slot(m->keys, m->vals, m->mask, id, v);
    m->n++;
    return SL_OK;
}

/* Removes id if present. */
static inline void pf_idmap_del(pf_idmap *m, uint64_t id)
{
    if (!m->keys || id == 0)
        return;
    uint32_t mk = m->mask, i = (uint32_t)hash_u64(id) & mk;
    while (m->keys[i] != id) {
        if (m->keys[i] == 0)
            return;
        i = (i + 1) & mk;
    }
    for (uint32_t j = (i + 1) & mk; m->keys[j]; j = (j + 1) & mk) {
        uint32_t home = (uint32_t)hash_u64(m->keys[j]) & mk;
        /* Move j into the hole at i unless its home lies cyclically in (i, j]. */
        if (((j - home) & mk) >= ((j - i) & mk)) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            i = j;
        }
    }
    m->keys[i] = 0;
    m->n--;
}

#endif
