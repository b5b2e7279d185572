/*
 * hashtab.c - composite-key hash table (see hashtab.h).
 */
#include "sql/exec/hashtab.h"

#include "base/alloc.h"
#include "base/err.h"
#include "base/hash.h"
#include "sql/types/value.h"

#include <string.h>

#define NULL_HASH 0x9E3779B97F4A7C15ull

int sql_ht_init(sql_ht *h, int nkeys, const sql_type *types, bool nulls_match)
{
    memset(h, 0, sizeof *h);
    h->nkeys = nkeys;
    h->nulls_match = nulls_match;
    h->types = sl_malloc(sizeof *h->types * (size_t)(nkeys ? nkeys : 1));
    h->keys = sl_calloc((size_t)(nkeys ? nkeys : 1), sizeof *h->keys);
    h->nslots = 1024;
    h->slots = sl_calloc(h->nslots, sizeof *h->slots);
    if (!h->types || !h->keys || !h->slots) {
        sql_ht_free(h);
        return SL_ENOMEM;
    }
    for (int k = 0; k < nkeys; k++) {
        h->types[k] = types[k];
        col_type pt = sql_type_phys(types[k]);
        col_vec_init(&h->keys[k], pt == COL_DICT ? COL_STRING : pt, 0);
    }
    h->mem_bytes = (int64_t)(h->nslots * sizeof *h->slots);
    return SL_OK;
}

void sql_ht_free(sql_ht *h)
{
    if (h->keys)
        for (int k = 0; k < h->nkeys; k++)
            col_vec_release(&h->keys[k]);
    sl_free(h->keys);
    sl_free(h->types);
    sl_free(h->hashes);
    sl_free(h->slots);
    sql_ht_dcache_free(&h->dc);
    memset(h, 0, sizeof *h);
}

static inline uint64_t mix(uint64_t h, uint64_t v)
{
    return hash_u64(h ^ (v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2)));
}

static uint64_t double_hash(double f)
{
    if (f != f)
        return 0x7FF8000000000001ull;
    if (f == 0)
        f = 0;
    uint64_t u;
    memcpy(&u, &f, 8);
    return hash_u64(u);
}

/* Hash of row r of key column k (v dense or constant). */
static uint64_t value_hash(const sql_ht *h, int k, const sql_vec *v, int64_t i)
{
    int64_t r = sql_vec_row(v, i);
    if (!col_vec_is_valid(&v->v, r))
        return NULL_HASH;
    switch (v->v.type) {
    case COL_BOOL:
        return hash_u64(col_vec_bool(&v->v, r));
    case COL_INT32:
    case COL_UINT32:
        return hash_u64((uint64_t)(int64_t)col_vec_i32(&v->v, r));
    case COL_INT64:
    case COL_UINT64:
    case COL_TS_NS:
        return hash_u64((uint64_t)col_vec_i64(&v->v, r));
    case COL_DOUBLE:
        return double_hash(col_vec_f64(&v->v, r));
    case COL_FIXED16: {
        sql_datum d = sql_datum_get(h->types[k], &v->v, r);
        return sql_datum_hash(h->types[k], &d);
    }
    case COL_STRING:
    case COL_BINARY:
    case COL_DICT: {
        size_t l;
        const uint8_t *p = col_vec_str(&v->v, r, &l);
        return hash64(p, l);
    }
    }
    return 0;
}

int sql_ht_hash(const sql_ht *h, const sql_vec *keys, int64_t n, uint64_t *out)
{
    if (n == 0)
        return SL_OK; /* an empty input may have no buffers at all */
    for (int64_t i = 0; i < n; i++)
        out[i] = 0x12345678;
    for (int k = 0; k < h->nkeys; k++) {
        const sql_vec *v = &keys[k];
        if (v->v.type == COL_DICT && !v->is_const && n > 32) {
            /* each dictionary entry hashed once */
            const col_vec *d = &v->v.dict->strings;
            uint64_t *dh = sl_malloc(sizeof *dh * (size_t)(d->len ? d->len : 1));
            if (!dh)
                return SL_ENOMEM;
            for (int64_t j = 0; j < d->len; j++) {
                size_t l;
                const uint8_t *p = col_vec_str(d, j, &l);
                dh[j] = hash64(p, l);
            }
            for (int64_t i = 0; i < n; i++)
                out[i] = mix(out[i], col_vec_is_valid(&v->v, i) ? dh[col_vec_key(&v->v, i)]
                                                                 : NULL_HASH);
            sl_free(dh);
            continue;
        }
        if ((v->v.type == COL_INT64 || v->v.type == COL_TS_NS) && !v->is_const && !v->v.validity) {
            const uint8_t *p = v->v.values->p;
            for (int64_t i = 0; i < n; i++) {
                int64_t x;
                memcpy(&x, p + 8 * i, 8);
                out[i] = mix(out[i], hash_u64((uint64_t)x));
            }
            continue;
        }
        for (int64_t i = 0; i < n; i++)
            out[i] = mix(out[i], value_hash(h, k, v, i));
    }
    return SL_OK;
}

static bool row_has_null(const sql_ht *h, const sql_vec *keys, int64_t i)
{
    for (int k = 0; k < h->nkeys; k++)
        if (!sql_vec_valid(&keys[k], i))
            return true;
    return false;
}

/* Does stored key id equal row i of keys? */
static bool key_eq(const sql_ht *h, uint32_t id, const sql_vec *keys, int64_t i)
{
    for (int k = 0; k < h->nkeys; k++) {
        const col_vec *s = &h->keys[k];
        const sql_vec *v = &keys[k];
        int64_t r = sql_vec_row(v, i);
        bool sv = col_vec_is_valid(s, id), vv = col_vec_is_valid(&v->v, r);
        if (sv != vv)
            return false;
        if (!sv)
            continue;
        switch (s->type) {
        case COL_BOOL:
            if (col_vec_bool(s, id) != col_vec_bool(&v->v, r))
                return false;
            break;
        case COL_INT32:
        case COL_UINT32:
            if (col_vec_i32(s, id) != col_vec_i32(&v->v, r))
                return false;
            break;
        case COL_INT64:
        case COL_UINT64:
        case COL_TS_NS:
            if (col_vec_i64(s, id) != col_vec_i64(&v->v, r))
                return false;
            break;
        case COL_DOUBLE: {
            double a = col_vec_f64(s, id), b = col_vec_f64(&v->v, r);
            if (!(a == b || (a != a && b != b)))
                return false;
            break;
        }
        case COL_FIXED16: {
            sql_datum a = sql_datum_get(h->types[k], s, id), b = sql_datum_get(h->types[k], &v->v, r);
            if (sql_datum_cmp(h->types[k], &a, &b))
                return false;
            break;
        }
        default: {
            size_t al, bl;
            const uint8_t *a = col_vec_str(s, id, &al), *b = col_vec_str(&v->v, r, &bl);
            if (al != bl || (al && memcmp(a, b, al)))
                return false;
            break;
        }
        }
    }
    return true;
}

static int store_key(sql_ht *h, const sql_vec *keys, int64_t i, uint64_t hash)
{
    for (int k = 0; k < h->nkeys; k++) {
        const sql_vec *v = &keys[k];
        sql_datum d = sql_datum_get(h->types[k], &v->v, sql_vec_row(v, i));
        size_t before = (h->keys[k].values ? h->keys[k].values->cap_bytes : 0) +
                        (h->keys[k].data ? h->keys[k].data->cap_bytes : 0) +
                        (h->keys[k].validity ? h->keys[k].validity->cap_bytes : 0);
        int rc = sql_datum_append(h->types[k], &d, &h->keys[k]);
        if (rc)
            return rc;
        size_t after = (h->keys[k].values ? h->keys[k].values->cap_bytes : 0) +
                       (h->keys[k].data ? h->keys[k].data->cap_bytes : 0) +
                       (h->keys[k].validity ? h->keys[k].validity->cap_bytes : 0);
        h->mem_bytes += (int64_t)(after - before);
    }
    if (h->n == h->hashes_cap) {
        size_t cap = h->hashes_cap ? h->hashes_cap * 2 : 1024;
        uint64_t *nh = sl_realloc(h->hashes, sizeof *nh * cap);
        if (!nh)
            return SL_ENOMEM;
        h->mem_bytes += (int64_t)((cap - h->hashes_cap) * sizeof *nh);
        h->hashes = nh;
        h->hashes_cap = cap;
    }
    h->hashes[h->n++] = hash;
    return SL_OK;
}

static int rehash(sql_ht *h)
{
    size_t ns = h->nslots * 2;
    uint32_t *s = sl_calloc(ns, sizeof *s);
    if (!s)
        return SL_ENOMEM;
    for (uint32_t id = 0; id < h->n; id++) {
        size_t p = h->hashes[id] & (ns - 1);
        while (s[p])
            p = (p + 1) & (ns - 1);
        s[p] = id + 1;
    }
    h->mem_bytes += (int64_t)((ns - h->nslots) * sizeof *s);
    sl_free(h->slots);
    h->slots = s;
    h->nslots = ns;
    return SL_OK;
}

#define DMAP_UNKNOWN (SQL_HT_NONE - 1)

static int lookup_rows(sql_ht *h, const sql_vec *keys, int64_t n, const uint64_t *hashes,
                       bool add, uint32_t *ids);

void sql_ht_dcache_free(sql_ht_dcache *c)
{
    sl_free(c->map);
    col_dict_unref(c->dict);
    memset(c, 0, sizeof *c);
}

/* One dictionary key without nulls: each entry used looked up once (through the
 * cache c), rows by the entry's id.  add: new entries get ids (h is written). */
static int lookup_dict(sql_ht *h, sql_ht_dcache *c, const sql_vec *kv, int64_t n, bool add,
                       uint32_t *ids)
{
    const col_vec *v = &kv->v;
    col_dict *d = v->dict;
    int64_t nd = d->strings.len;
    if (c->dict != d || c->n != nd) {
        uint32_t *m = sl_realloc(c->map, sizeof *m * (size_t)(nd ? nd : 1));
        if (!m)
            return SL_ENOMEM;
        c->map = m;
        col_dict_unref(c->dict);
        c->dict = col_dict_ref(d);
        c->n = nd;
        for (int64_t k = 0; k < nd; k++)
            m[k] = DMAP_UNKNOWN;
    }
    uint32_t *m = c->map;
    uint32_t *ent = NULL;
    int64_t ne = 0;
    /* the keys as 32-bit values once (a dictionary of a batch has fewer entries) */
    uint32_t *keys = v->key_bytes == 4 ? (uint32_t *)(void *)v->values->p
                                       : sl_malloc(sizeof *keys * (size_t)(n ? n : 1));
    if (!keys)
        return SL_ENOMEM;
    if (v->key_bytes == 1)
        for (int64_t i = 0; i < n; i++)
            keys[i] = v->values->p[i];
    else if (v->key_bytes == 2)
        for (int64_t i = 0; i < n; i++)
            keys[i] = ((const uint16_t *)(const void *)v->values->p)[i];
    else if (v->key_bytes != 4)
        for (int64_t i = 0; i < n; i++)
            keys[i] = (uint32_t)col_vec_key(v, i);
    for (int64_t i = 0; i < n; i++) {
        uint32_t k = keys[i];
        if (m[k] != DMAP_UNKNOWN)
            continue;
        if (!ent && !(ent = sl_malloc(sizeof *ent * (size_t)(nd ? nd : 1)))) {
            if (keys != (uint32_t *)(void *)v->values->p)
                sl_free(keys);
            return SL_ENOMEM;
        }
        m[k] = SQL_HT_NONE; /* pending, once in ent */
        ent[ne++] = k;
    }
    int rc = SL_OK;
    if (ne) {
        /* the new entries, in the order of their first rows: new ids come in row order */
        sql_sel sel = {ent, ne};
        sql_vec strs;
        memset(&strs, 0, sizeof strs);
        uint32_t *eid = sl_malloc(sizeof *eid * (size_t)ne);
        rc = eid ? sql_vec_gather(&d->strings, &sel, &strs.v) : SL_ENOMEM;
        if (!rc)
            rc = lookup_rows(h, &strs, ne, NULL, add, eid);
        for (int64_t j = 0; j < ne; j++)
            m[ent[j]] = rc || eid[j] == SQL_HT_NONE ? DMAP_UNKNOWN : eid[j];
        col_vec_release(&strs.v);
        sl_free(eid);
        sl_free(ent);
    }
    for (int64_t i = 0; !rc && i < n; i++) {
        uint32_t id = m[keys[i]];
        ids[i] = id == DMAP_UNKNOWN ? SQL_HT_NONE : id;
    }
    if (keys != (uint32_t *)(void *)v->values->p)
        sl_free(keys);
    return rc;
}

static bool dict_key(const sql_ht *h, const sql_vec *keys, int64_t n)
{
    return h->nkeys == 1 && !keys[0].is_const && keys[0].v.type == COL_DICT &&
           keys[0].v.null_count == 0 && n > 32 && keys[0].v.dict->strings.len <= 4 * n;
}

int sql_ht_lookup(sql_ht *h, const sql_vec *keys, int64_t n, const uint64_t *hashes, bool add,
                  uint32_t *ids)
{
    if (!hashes && add && dict_key(h, keys, n))
        return lookup_dict(h, &h->dc, &keys[0], n, add, ids);
    return lookup_rows(h, keys, n, hashes, add, ids);
}

int sql_ht_probe(const sql_ht *h, sql_ht_dcache *c, const sql_vec *keys, int64_t n,
                 uint32_t *ids)
{
    /* lookup_rows without add only reads the table */
    if (c && dict_key(h, keys, n))
        return lookup_dict((sql_ht *)h, c, &keys[0], n, false, ids);
    return lookup_rows((sql_ht *)h, keys, n, NULL, false, ids);
}

static int lookup_rows(sql_ht *h, const sql_vec *keys, int64_t n, const uint64_t *hashes,
                       bool add, uint32_t *ids)
{
    uint64_t *own = NULL;
    if (!hashes) {
        own = sl_malloc(sizeof *own * (size_t)(n ? n : 1));
        if (!own)
            return SL_ENOMEM;
        int rc = sql_ht_hash(h, keys, n, own);
        if (rc) {
            sl_free(own);
            return rc;
        }
        hashes = own;
    }
    int rc = SL_OK;
    for (int64_t i = 0; i < n && !rc; i++) {
        if (!h->nulls_match && row_has_null(h, keys, i)) {
            ids[i] = SQL_HT_NONE;
            continue;
        }
        uint64_t hv = hashes[i];
        size_t mask = h->nslots - 1, p = hv & mask;
        uint32_t found = SQL_HT_NONE;
        for (;;) {
            uint32_t s = h->slots[p];
            if (!s)
                break;
            if (h->hashes[s - 1] == hv && key_eq(h, s - 1, keys, i)) {
                found = s - 1;
                break;
            }
            p = (p + 1) & mask;
        }
        if (found == SQL_HT_NONE && add) {
            if ((rc = store_key(h, keys, i, hv)))
                break;
            found = h->n - 1;
            h->slots[p] = found + 1;
            if ((size_t)h->n * 2 > h->nslots)
                rc = rehash(h);
        }
        ids[i] = found;
    }
    sl_free(own);
    return rc;
}
