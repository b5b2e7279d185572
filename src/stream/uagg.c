/*
 * uagg.c - a GROUP BY over a view that emits updates (uagg.h): each view key's
 * current row, its group, the groups' members, and which groups changed.
 *
 * Rows are kept as they came, a batch per put (columns shared with the
 * caller's), each row with its view key's id; loc[vid] is where the key's row
 * is (0: none).  A replaced or removed row is dead; compaction rewrites
 * batches with their live rows only, as ulog.c does: every batch when the
 * dead outnumber the live (and are at least 1024), the batches since the last
 * compaction when there are more than 32 of them (then all of them when there
 * are more than 64 plus one per 1024 live rows).
 *
 * Members: a doubly linked list per group through the view keys' ids
 * (head[gid], next[vid], prev[vid]: id + 1, 0 for none), so a key moves
 * between groups in constant time; count[gid] is the list's length.
 * Changed groups: a list and a bit per group, emptied by stream_uagg_changed.
 */
#include "stream/uagg.h"

#include "sql/exec/hashtab.h"

#include "base/alloc.h"

#include <stdlib.h>
#include <string.h>

#define COMPACT_ROWS 8192
#define RECENT_MAX 32

typedef struct kbatch {
    sql_batch *b;
    uint32_t *vids;          /* each row's view key */
    int64_t nlive;
} kbatch;

struct stream_uagg {
    int ncols, nkeys;
    sql_type *types, *ktypes;
    sql_ht gh;               /* GROUP BY values -> gid (nkeys > 0) */
    /* per group */
    uint32_t gcap;
    int64_t *count;
    uint32_t *head;
    uint8_t *changed_bit;
    uint32_t *changed;
    int64_t nchanged, changed_cap;
    /* per view key */
    uint32_t vcap;
    uint64_t *loc;           /* ((batch << 32) | row) + 1; 0: no row */
    uint32_t *gid_of, *next, *prev;
    /* the rows */
    kbatch *bs;
    int nb, cap, sealed;
    int64_t nlive, ndead;
};

int stream_uagg_new(int ncols, const sql_type *types, int nkeys, const sql_type *ktypes,
                    stream_uagg **out)
{
    stream_uagg *u = sl_calloc(1, sizeof *u);
    if (!u)
        return SL_ENOMEM;
    u->ncols = ncols;
    u->nkeys = nkeys;
    u->types = sl_malloc(sizeof *types * (size_t)(ncols ? ncols : 1));
    u->ktypes = sl_malloc(sizeof *ktypes * (size_t)(nkeys ? nkeys : 1));
    if (!u->types || !u->ktypes || (nkeys && sql_ht_init(&u->gh, nkeys, ktypes, true))) {
        sl_free(u->types);
        sl_free(u->ktypes);
        sl_free(u);
        return SL_ENOMEM;
    }
    memcpy(u->types, types, sizeof *types * (size_t)ncols);
    if (nkeys)
        memcpy(u->ktypes, ktypes, sizeof *ktypes * (size_t)nkeys);
    *out = u;
    return SL_OK;
}

static void kbatch_free(kbatch *k)
{
    sql_batch_free(k->b);
    sl_free(k->vids);
}

void stream_uagg_free(stream_uagg *u)
{
    if (!u)
        return;
    for (int i = 0; i < u->nb; i++)
        kbatch_free(&u->bs[i]);
    sl_free(u->bs);
    if (u->nkeys)
        sql_ht_free(&u->gh);
    sl_free(u->count);
    sl_free(u->head);
    sl_free(u->changed_bit);
    sl_free(u->changed);
    sl_free(u->loc);
    sl_free(u->gid_of);
    sl_free(u->next);
    sl_free(u->prev);
    sl_free(u->types);
    sl_free(u->ktypes);
    sl_free(u);
}

int64_t stream_uagg_mem(const stream_uagg *u)
{
    int64_t m = (int64_t)sizeof *u + (u->nkeys ? u->gh.mem_bytes : 0) +
                (int64_t)u->gcap * (8 + 4 + 1) + u->changed_cap * 4 + (int64_t)u->vcap * 20 +
                (int64_t)u->cap * (int64_t)sizeof(kbatch);
    for (int i = 0; i < u->nb; i++)
        m += sql_batch_bytes(u->bs[i].b) + u->bs[i].b->n * 4;
    return m;
}

/* ---- room ---------------------------------------------------------------------- */

/* Room for ids [0, n) in the arrays arr[0..k) (elements of sz[i] bytes) of
 * *cap ids each; the new ids zeroed. */
static int room(void **const *arr, const size_t *sz, int k, uint32_t *cap, uint64_t n)
{
    if (n <= *cap)
        return SL_OK;
    if (n > UINT32_MAX)
        return SL_ENOMEM;
    uint64_t nc = *cap ? *cap : 1024;
    while (nc < n)
        nc *= 2;
    nc = nc > UINT32_MAX ? UINT32_MAX : nc;
    for (int i = 0; i < k; i++) {
        void *q = sl_realloc(*arr[i], sz[i] * nc);
        if (!q)
            return SL_ENOMEM;
        memset((char *)q + sz[i] * *cap, 0, sz[i] * (nc - *cap));
        *arr[i] = q;
    }
    *cap = (uint32_t)nc;
    return SL_OK;
}

/* Room for groups [0, n). */
static int room_groups(stream_uagg *u, uint64_t n)
{
    void **arr[] = {(void **)&u->count, (void **)&u->head, (void **)&u->changed_bit};
    const size_t sz[] = {sizeof *u->count, sizeof *u->head, sizeof *u->changed_bit};
    return room(arr, sz, 3, &u->gcap, n);
}

/* Room for view keys [0, n). */
static int room_vids(stream_uagg *u, uint64_t n)
{
    void **arr[] = {(void **)&u->loc, (void **)&u->gid_of, (void **)&u->next, (void **)&u->prev};
    const size_t sz[] = {sizeof *u->loc, sizeof *u->gid_of, sizeof *u->next, sizeof *u->prev};
    return room(arr, sz, 4, &u->vcap, n);
}

static int mark_changed(stream_uagg *u, uint32_t g)
{
    if (u->changed_bit[g])
        return SL_OK;
    if (u->nchanged == u->changed_cap) {
        int64_t nc = u->changed_cap ? u->changed_cap * 2 : 256;
        uint32_t *c = sl_realloc(u->changed, sizeof *c * (size_t)nc);
        if (!c)
            return SL_ENOMEM;
        u->changed = c;
        u->changed_cap = nc;
    }
    u->changed_bit[g] = 1;
    u->changed[u->nchanged++] = g;
    return SL_OK;
}

/* ---- members ------------------------------------------------------------------- */

static void link_v(stream_uagg *u, uint32_t v, uint32_t g)
{
    u->gid_of[v] = g;
    u->prev[v] = 0;
    u->next[v] = u->head[g];
    if (u->head[g])
        u->prev[u->head[g] - 1] = v + 1;
    u->head[g] = v + 1;
    u->count[g]++;
}

static void unlink_v(stream_uagg *u, uint32_t v)
{
    uint32_t g = u->gid_of[v], p = u->prev[v], n = u->next[v];
    if (p)
        u->next[p - 1] = n;
    else
        u->head[g] = n;
    if (n)
        u->prev[n - 1] = p;
    u->count[g]--;
}

/* Key v's row (if any) dead, its group changed. */
static int drop(stream_uagg *u, uint32_t v)
{
    if (v >= u->vcap || !u->loc[v])
        return SL_OK;
    u->bs[(u->loc[v] - 1) >> 32].nlive--;
    u->nlive--;
    u->ndead++;
    u->loc[v] = 0;
    unlink_v(u, v);
    return mark_changed(u, u->gid_of[v]);
}

/* ---- compaction ------------------------------------------------------------------ */

static bool is_live(const stream_uagg *u, int bi, int64_t r)
{
    uint32_t v = u->bs[bi].vids[r];
    return u->loc[v] == (((uint64_t)bi << 32) | (uint64_t)r) + 1;
}

typedef struct cout {
    kbatch *k;
    int n, cap;
    sql_rows acc;
    uint32_t *acc_vids;
    int64_t acc_cap;
} cout;

static int flush(stream_uagg *u, cout *c)
{
    if (!c->acc.nb)
        return SL_OK;
    sql_batch *b = NULL;
    int rc = c->acc.nb == 1 ? SL_OK : sql_rows_concat(&c->acc, &b);
    if (!rc && c->acc.nb == 1) {
        b = c->acc.b[0];
        c->acc.b[0] = NULL;
        c->acc.nb = 0;
    }
    uint32_t *vids = rc ? NULL : sl_malloc(sizeof *vids * (size_t)(b->n ? b->n : 1));
    if (vids)
        memcpy(vids, c->acc_vids, sizeof *vids * (size_t)b->n);
    sql_rows_free(&c->acc);
    sql_rows_init(&c->acc, u->ncols, u->types);
    if (!rc && c->n == c->cap) {
        int nc = c->cap ? c->cap * 2 : 16;
        kbatch *k = sl_realloc(c->k, sizeof *k * (size_t)nc);
        if (k) {
            c->k = k;
            c->cap = nc;
        }
    }
    if (rc || !vids || c->n == c->cap) {
        sql_batch_free(b);
        sl_free(vids);
        return SL_ENOMEM;
    }
    c->k[c->n++] = (kbatch){b, vids, b->n};
    return SL_OK;
}

/* Batches [from, nb) replaced by their live rows, about COMPACT_ROWS a batch; on
 * failure nothing changed. */
static int compact(stream_uagg *u, int from)
{
    cout c = {0};
    sql_rows_init(&c.acc, u->ncols, u->types);
    int rc = SL_OK;
    int64_t dead = 0;
    for (int i = from; i < u->nb && !rc; i++) {
        const kbatch *k = &u->bs[i];
        dead += k->b->n - k->nlive;
        if (!k->nlive)
            continue;
        uint32_t *idx = sl_malloc(sizeof *idx * (size_t)k->nlive);
        sql_batch *piece = NULL;
        rc = idx ? SL_OK : SL_ENOMEM;
        int64_t m = 0;
        for (int64_t r = 0; !rc && r < k->b->n; r++)
            if (is_live(u, i, r))
                idx[m++] = (uint32_t)r;
        if (!rc && c.acc.nrows + m > c.acc_cap) {
            int64_t nc = (c.acc.nrows + m) * 2;
            uint32_t *na = sl_realloc(c.acc_vids, sizeof *na * (size_t)nc);
            rc = na ? SL_OK : SL_ENOMEM;
            if (na) {
                c.acc_vids = na;
                c.acc_cap = nc;
            }
        }
        for (int64_t x = 0; !rc && x < m; x++)
            c.acc_vids[c.acc.nrows + x] = k->vids[idx[x]];
        if (!rc)
            rc = sql_batch_take(k->b, idx, m, &piece);
        sl_free(idx);
        if (!rc)
            rc = sql_rows_add(&c.acc, piece);
        if (!rc && c.acc.nrows >= COMPACT_ROWS)
            rc = flush(u, &c);
    }
    if (!rc)
        rc = flush(u, &c);
    sql_rows_free(&c.acc);
    sl_free(c.acc_vids);
    if (!rc && from + c.n > u->cap) /* (never: compaction does not add batches) */
        rc = SL_ENOMEM;
    if (rc) {
        for (int i = 0; i < c.n; i++)
            kbatch_free(&c.k[i]);
        sl_free(c.k);
        return rc;
    }
    for (int i = from; i < u->nb; i++)
        kbatch_free(&u->bs[i]);
    memcpy(u->bs + from, c.k, sizeof *c.k * (size_t)c.n);
    sl_free(c.k);
    u->nb = from + c.n;
    u->sealed = u->nb;
    u->ndead -= dead;
    for (int i = from; i < u->nb; i++)
        for (int64_t r = 0; r < u->bs[i].b->n; r++)
            u->loc[u->bs[i].vids[r]] = (((uint64_t)i << 32) | (uint64_t)r) + 1;
    return SL_OK;
}

static int maybe_compact(stream_uagg *u)
{
    if (u->ndead > u->nlive && u->ndead >= 1024)
        return compact(u, 0);
    if (u->nb - u->sealed <= RECENT_MAX)
        return SL_OK;
    int rc = compact(u, u->sealed);
    if (!rc && u->nb > 64 + u->nlive / 1024)
        rc = compact(u, 0);
    return rc;
}

/* ---- changes --------------------------------------------------------------------- */

int stream_uagg_remove(stream_uagg *u, const uint32_t *vids, int64_t n)
{
    int rc = SL_OK;
    for (int64_t i = 0; i < n && !rc; i++)
        rc = drop(u, vids[i]);
    return rc ? rc : maybe_compact(u);
}

int stream_uagg_gids(stream_uagg *u, const sql_vec *kv, int64_t n, uint32_t *gids)
{
    if (!u->nkeys) {
        memset(gids, 0, sizeof *gids * (size_t)n);
        return SL_OK;
    }
    return sql_ht_lookup(&u->gh, kv, n, NULL, false, gids);
}

int stream_uagg_put(stream_uagg *u, const sql_batch *rows, const uint32_t *vids,
                    const sql_vec *kv)
{
    int64_t n = rows->n;
    if (!n)
        return SL_OK;
    if (n > UINT32_MAX)
        return SL_ENOMEM;
    uint32_t *gids = sl_malloc(sizeof *gids * (size_t)n), *own = sl_malloc(sizeof *own * (size_t)n);
    sql_batch *b = NULL;
    int rc = gids && own ? SL_OK : SL_ENOMEM;
    if (!rc && u->nkeys)
        rc = sql_ht_lookup(&u->gh, kv, n, NULL, true, gids);
    else if (!rc)
        memset(gids, 0, sizeof *gids * (size_t)n);
    if (!rc)
        rc = room_groups(u, u->nkeys ? u->gh.n : 1);
    uint32_t vmax = 0;
    for (int64_t r = 0; !rc && r < n; r++)
        vmax = vids[r] > vmax ? vids[r] : vmax;
    if (!rc)
        rc = room_vids(u, (uint64_t)vmax + 1);
    if (!rc && u->nb == u->cap) {
        int nc = u->cap ? u->cap * 2 : 16;
        kbatch *k = sl_realloc(u->bs, sizeof *k * (size_t)nc);
        rc = k ? SL_OK : SL_ENOMEM;
        if (k) {
            u->bs = k;
            u->cap = nc;
        }
    }
    if (!rc && !(rc = sql_batch_new(u->ncols, u->types, &b))) {
        for (int c = 0; c < u->ncols; c++) {
            col_vec_release(&b->cols[c]);
            sql_vec_share(&rows->cols[c], &b->cols[c]);
        }
        b->n = n;
    }
    if (rc) {
        sl_free(gids);
        sl_free(own);
        sql_batch_free(b);
        return rc;
    }
    memcpy(own, vids, sizeof *own * (size_t)n);
    int bi = u->nb++;
    u->bs[bi] = (kbatch){b, own, n};
    u->nlive += n;
    for (int64_t r = 0; r < n && !rc; r++) {
        uint32_t v = vids[r];
        if ((rc = drop(u, v))) /* its earlier row (maybe earlier in this batch) */
            break;
        u->loc[v] = (((uint64_t)bi << 32) | (uint64_t)r) + 1;
        link_v(u, v, gids[r]);
        rc = mark_changed(u, gids[r]);
    }
    sl_free(gids);
    return rc ? rc : maybe_compact(u);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The rows at locs[0..n) (sorted) to fn, a piece per batch they are in. */
static int hand_rows(stream_uagg *u, const uint64_t *locs, int64_t n,
                     int (*fn)(void *arg, sql_batch *b), void *arg)
{
    uint32_t *idx = sl_malloc(sizeof *idx * (size_t)(n ? n : 1));
    int rc = idx ? SL_OK : SL_ENOMEM;
    for (int64_t i = 0; i < n && !rc;) {
        uint64_t bi = (locs[i] - 1) >> 32;
        int64_t m = 0;
        for (; i < n && (locs[i] - 1) >> 32 == bi; i++)
            idx[m++] = (uint32_t)(locs[i] - 1);
        sql_batch *piece = NULL;
        if (!(rc = sql_batch_take(u->bs[bi].b, idx, m, &piece)))
            rc = fn(arg, piece);
    }
    sl_free(idx);
    return rc;
}

int stream_uagg_changed(stream_uagg *u, int (*fn)(void *arg, sql_batch *b), void *arg,
                        sql_batch **gone, uint32_t **gone_ids)
{
    *gone = NULL;
    *gone_ids = NULL;
    int64_t nrows = 0, ngone = 0;
    for (int64_t i = 0; i < u->nchanged; i++) {
        uint32_t g = u->changed[i];
        nrows += u->count[g];
        ngone += u->nkeys && !u->count[g];
    }
    uint64_t *locs = sl_malloc(sizeof *locs * (size_t)(nrows ? nrows : 1));
    uint32_t *gi = sl_malloc(sizeof *gi * (size_t)(ngone ? ngone : 1));
    int rc = locs && gi ? SL_OK : SL_ENOMEM;
    int64_t m = 0, k = 0;
    for (int64_t i = 0; i < u->nchanged && !rc; i++) {
        uint32_t g = u->changed[i];
        if (u->nkeys && !u->count[g])
            gi[k++] = g;
        for (uint32_t v = u->head[g]; v; v = u->next[v - 1])
            locs[m++] = u->loc[v - 1];
    }
    if (!rc) {
        qsort(locs, (size_t)m, sizeof *locs, cmp_u64);
        rc = hand_rows(u, locs, m, fn, arg);
    }
    sl_free(locs);
    if (!rc && k) {
        sql_batch stored = {u->nkeys, u->gh.n, u->gh.keys, u->ktypes};
        rc = sql_batch_take(&stored, gi, k, gone);
    }
    if (rc || !k) {
        sl_free(gi);
        gi = NULL;
    }
    *gone_ids = gi;
    for (int64_t i = 0; i < u->nchanged; i++)
        u->changed_bit[u->changed[i]] = 0;
    u->nchanged = 0;
    return rc;
}
