/*
 * ulog.c - the upsert log of a materialized view with emit = 'on_update'
 * (ulog.h; docs/internals/stream.md, "The upsert log of a view").
 *
 * The log is a list of batches as they came (one per UPDATE message), each
 * row with its key's id (a sql_ht over the key columns: the GROUP BY values)
 * and a live bit.  loc[id] is where the key's newest row is; an upsert clears
 * the live bit of the row it replaces, a delete the key's row.  So the live
 * rows are exactly one per key that has a row, and what a reader copies is the
 * view's current contents.
 *
 * Bounds: superseded rows are dropped by compaction, which rewrites batches
 * with their live rows only, about 8192 rows a batch:
 *   - every batch, when the superseded rows outnumber the live ones (and are
 *     at least 1024): the log holds at most about twice its live rows;
 *   - the batches since the last compaction, when there are more than 32 of
 *     them (small updates are merged: the batch count stays bounded), then
 *     every batch if the compacted ones average under 1024 rows.
 * Each compaction copies at most the rows it keeps and runs after at least as
 * many updates, so its cost per update is bounded.  Memory: the live rows,
 * as many dead ones, and the key table (every key that ever had a row: the
 * number of groups).
 *
 * Followers: a job reading the view as a stream (source_view.c) takes the
 * live rows and, in the same critical section, its place at the end of the
 * tail; each upsert published while someone follows is appended to the tail
 * (its rows shared, not copied) in the section that publishes it to the log,
 * so a follower gets every upsert after its snapshot exactly once.  The tail
 * keeps at most TAIL_MAX batches: a follower that falls that far behind is
 * overrun and takes the live rows again (each key's current row: at least
 * once, never missing a key's latest row).  Each entry keeps the rows' keys and
 * deletions are entries too, so a keyed follower (a job whose output is keyed
 * by the view's key) gets both; an overrun keyed follower first gets every key
 * with no live row (it may have passed one on that was deleted since).
 *
 * Invariants: bs[i].nlive is the count of set bits of bs[i].live; nlive and
 * ndead are the sums over batches; loc[id] != 0 iff the key's row is live,
 * and then points at it.  Only the writer changes anything; it takes the
 * view's mutex around each change readers can see (batch list, live bits),
 * and builds compacted batches outside it.
 */
#include "stream/ulog.h"

#include "sql/exec/hashtab.h"


#include "base/alloc.h"

#include <string.h>

#define COMPACT_ROWS 8192    /* rows of a compacted batch */
#define RECENT_MAX 32        /* batches since the last compaction before merging them */
#define TAIL_MAX 256         /* upserts kept for followers */

typedef struct ubatch {
    sql_batch *b;            /* the view's columns */
    uint32_t *ids;           /* each row's key id */
    uint64_t *live;          /* a bit per row */
    int64_t nlive;
} ubatch;

typedef struct utail {
    sql_batch *b;            /* an upsert: the rows, then their keys; a delete: keys */
    int left;
    int kind;                /* STREAM_ULOG_UPSERT or STREAM_ULOG_DELETE */
} utail;

struct stream_ulog {
    int ncols, nkeys;
    sql_type *types;         /* ncols + nkeys */
    sql_ht ht;               /* key -> id */
    uint64_t *loc;           /* per id: ((batch << 32) | row) + 1; 0: no row */
    uint32_t loc_cap;
    ubatch *bs;
    int nb, cap;
    int sealed;              /* bs[0 .. sealed) came out of a compaction */
    int64_t nlive, ndead;
    /* followers (jobs reading the view as a stream on a server): the upserts
     * published since the oldest follower's place, each a batch sharing the
     * log's columns, with how many followers have yet to pass it */
    utail *tail;
    int ntail, tail_cap;
    int64_t tail_base;       /* the place of tail[0] */
    int nfollow;
};

int stream_ulog_new(int ncols, const sql_type *types, int nkeys, const sql_type *ktypes,
                    stream_ulog **out)
{
    stream_ulog *l = sl_calloc(1, sizeof *l);
    if (!l)
        return SL_ENOMEM;
    l->ncols = ncols;
    l->nkeys = nkeys;
    l->types = sl_malloc(sizeof *l->types * (size_t)(ncols + nkeys));
    if (!l->types || sql_ht_init(&l->ht, nkeys, ktypes, true)) {
        sl_free(l->types);
        sl_free(l);
        return SL_ENOMEM;
    }
    memcpy(l->types, types, sizeof *types * (size_t)ncols);
    memcpy(l->types + ncols, ktypes, sizeof *ktypes * (size_t)nkeys);
    *out = l;
    return SL_OK;
}

static void ubatch_free(ubatch *u)
{
    sql_batch_free(u->b);
    sl_free(u->ids);
    sl_free(u->live);
}

void stream_ulog_free(stream_ulog *l)
{
    if (!l)
        return;
    for (int i = 0; i < l->nb; i++)
        ubatch_free(&l->bs[i]);
    sl_free(l->bs);
    for (int i = 0; i < l->ntail; i++)
        sql_batch_free(l->tail[i].b);
    sl_free(l->tail);
    sl_free(l->loc);
    sql_ht_free(&l->ht);
    sl_free(l->types);
    sl_free(l);
}

const sql_type *stream_ulog_types(const stream_ulog *l, int *n)
{
    *n = l->ncols + l->nkeys;
    return l->types;
}

int64_t stream_ulog_rows(const stream_ulog *l)
{
    return l->nlive;
}

int64_t stream_ulog_mem(const stream_ulog *l)
{
    int64_t m = (int64_t)sizeof *l + l->ht.mem_bytes + (int64_t)l->loc_cap * 8 +
                (int64_t)l->cap * (int64_t)sizeof(ubatch);
    for (int i = 0; i < l->nb; i++) {
        const sql_batch *b = l->bs[i].b;
        m += sql_batch_bytes(b) + b->n * 4 + (b->n + 63) / 64 * 8;
    }
    return m;
}

/* ---- batches -------------------------------------------------------------------- */

int stream_ulog_share(const sql_batch *src, int from, int n, const sql_type *types,
                      sql_batch **out)
{
    if (sql_batch_new(n, types, out))
        return SL_ENOMEM;
    for (int c = 0; c < n; c++) {
        col_vec_release(&(*out)->cols[c]);
        sql_vec_share(&src->cols[from + c], &(*out)->cols[c]);
    }
    (*out)->n = src->n;
    return SL_OK;
}

int stream_ulog_split(sql_batch *b, int ncols, sql_batch **rows, sql_batch **keys)
{
    *rows = *keys = NULL;
    int rc = stream_ulog_share(b, 0, ncols, b->types, rows);
    if (!rc)
        rc = stream_ulog_share(b, ncols, b->ncols - ncols, b->types + ncols, keys);
    sql_batch_free(b);
    if (rc) {
        sql_batch_free(*rows);
        *rows = NULL;
    }
    return rc;
}

/* A batch's live bits, all set. */
static uint64_t *all_live(int64_t n)
{
    size_t words = (size_t)(n + 63) / 64;
    uint64_t *live = sl_malloc(sizeof *live * (words ? words : 1));
    if (!live)
        return NULL;
    memset(live, 0xff, sizeof *live * words);
    if (n % 64)
        live[words - 1] = (UINT64_C(1) << (n % 64)) - 1;
    return live;
}

static bool is_live(const ubatch *u, int64_t r)
{
    return (u->live[r / 64] >> (r % 64)) & 1;
}

/* The rows of u that are live, into idx (u->nlive of them). */
static void live_rows(const ubatch *u, uint32_t *idx)
{
    int64_t k = 0;
    for (int64_t r = 0; r < u->b->n; r++)
        if (is_live(u, r))
            idx[k++] = (uint32_t)r;
}

/* The row at loc (not 0) is superseded (view's mutex held). */
static void supersede(stream_ulog *l, uint64_t loc)
{
    ubatch *u = &l->bs[(loc - 1) >> 32];
    uint32_t r = (uint32_t)(loc - 1);
    u->live[r / 64] &= ~(UINT64_C(1) << (r % 64));
    u->nlive--;
    l->nlive--;
    l->ndead++;
}

/* ids of keys' rows (add: new keys get ids); loc grown to every id. */
static int key_ids(stream_ulog *l, const sql_batch *keys, bool add, uint32_t *ids)
{
    sql_vec kv[STREAM_MAX_KEYS];
    for (int k = 0; k < l->nkeys; k++)
        kv[k] = (sql_vec){keys->cols[k], false}; /* borrowed */
    if (sql_ht_lookup(&l->ht, kv, keys->n, NULL, add, ids))
        return SL_ENOMEM;
    if (l->ht.n <= l->loc_cap)
        return SL_OK;
    uint32_t nc = l->loc_cap ? l->loc_cap : 1024;
    while (nc < l->ht.n)
        nc *= 2;
    uint64_t *nl = sl_realloc(l->loc, sizeof *nl * nc);
    if (!nl)
        return SL_ENOMEM;
    memset(nl + l->loc_cap, 0, sizeof *nl * (nc - l->loc_cap));
    l->loc = nl;
    l->loc_cap = nc;
    return SL_OK;
}

/* Room for one more batch (the list is read by readers: grown under mu). */
static int room(stream_ulog *l, pthread_mutex_t *mu)
{
    if (l->nb < l->cap)
        return SL_OK;
    int nc = l->cap ? l->cap * 2 : 16;
    if (mu)
        pthread_mutex_lock(mu);
    ubatch *n = sl_realloc(l->bs, sizeof *n * (size_t)nc);
    if (n) {
        l->bs = n;
        l->cap = nc;
    }
    if (mu)
        pthread_mutex_unlock(mu);
    return n ? SL_OK : SL_ENOMEM;
}

/* ---- compaction ------------------------------------------------------------------- */

typedef struct cbuild {      /* compacted batches being built */
    const stream_ulog *l;
    ubatch *out;
    int nout, cap;
    sql_rows acc;            /* small pieces, concatenated when about COMPACT_ROWS */
    uint32_t *acc_ids;
    int64_t acc_cap;
} cbuild;

static int push_out(cbuild *c, sql_batch *b, uint32_t *ids)
{
    uint64_t *live = NULL;
    if (c->nout == c->cap) {
        int nc = c->cap ? c->cap * 2 : 16;
        ubatch *n = sl_realloc(c->out, sizeof *n * (size_t)nc);
        if (n) {
            c->out = n;
            c->cap = nc;
        }
    }
    if (c->nout == c->cap || !(live = all_live(b->n))) {
        sql_batch_free(b);
        sl_free(ids);
        return SL_ENOMEM;
    }
    c->out[c->nout++] = (ubatch){b, ids, live, b->n};
    return SL_OK;
}

/* The accumulated small pieces as one batch. */
static int flush_acc(cbuild *c)
{
    if (!c->acc.nb)
        return SL_OK;
    sql_batch *b = NULL;
    int rc = SL_OK;
    if (c->acc.nb == 1) {
        b = c->acc.b[0];
        c->acc.nb = 0;
    } else {
        rc = sql_rows_concat(&c->acc, &b);
    }
    uint32_t *ids = rc ? NULL : sl_malloc(sizeof *ids * (size_t)(b->n ? b->n : 1));
    if (!rc && ids)
        memcpy(ids, c->acc_ids, sizeof *ids * (size_t)b->n);
    sql_rows_free(&c->acc);
    sql_rows_init(&c->acc, c->l->ncols, c->l->types);
    if (rc || !ids) {
        sql_batch_free(b);
        return SL_ENOMEM;
    }
    return push_out(c, b, ids);
}

/* u's live rows into the batches being built. */
static int add_piece(cbuild *c, const ubatch *u)
{
    const stream_ulog *l = c->l;
    int64_t n = u->nlive;
    uint32_t *idx = sl_malloc(sizeof *idx * (size_t)n), *ids = sl_malloc(sizeof *ids * (size_t)n);
    sql_batch *piece = NULL;
    int rc = idx && ids ? SL_OK : SL_ENOMEM;
    if (!rc) {
        live_rows(u, idx);
        for (int64_t k = 0; k < n; k++)
            ids[k] = u->ids[idx[k]];
        rc = n == u->b->n ? stream_ulog_share(u->b, 0, l->ncols, l->types, &piece)
                          : sql_batch_take(u->b, idx, n, &piece);
    }
    sl_free(idx);
    if (!rc && n >= COMPACT_ROWS / 2 && !(rc = flush_acc(c))) /* big enough alone */
        return push_out(c, piece, ids);
    if (!rc && c->acc.nrows + n > c->acc_cap) {
        int64_t nc = (c->acc.nrows + n) * 2;
        uint32_t *na = sl_realloc(c->acc_ids, sizeof *na * (size_t)nc);
        rc = na ? SL_OK : SL_ENOMEM;
        if (na) {
            c->acc_ids = na;
            c->acc_cap = nc;
        }
    }
    if (!rc)
        memcpy(c->acc_ids + c->acc.nrows, ids, sizeof *ids * (size_t)n);
    sl_free(ids);
    if (!rc)
        rc = sql_rows_add(&c->acc, piece); /* takes piece */
    else
        sql_batch_free(piece);
    return !rc && c->acc.nrows >= COMPACT_ROWS ? flush_acc(c) : rc;
}

/* Batches [from, nb) replaced by their live rows in batches of about COMPACT_ROWS;
 * on failure the log is as it was. */
static int compact(stream_ulog *l, int from, pthread_mutex_t *mu)
{
    cbuild c = {.l = l};
    sql_rows_init(&c.acc, l->ncols, l->types);
    int rc = SL_OK;
    int64_t dead = 0;
    for (int i = from; i < l->nb && !rc; i++) {
        dead += l->bs[i].b->n - l->bs[i].nlive;
        if (l->bs[i].nlive)
            rc = add_piece(&c, &l->bs[i]);
    }
    if (!rc)
        rc = flush_acc(&c);
    sql_rows_free(&c.acc);
    sl_free(c.acc_ids);
    if (!rc && from + c.nout > l->cap) /* (never: compaction does not add batches) */
        rc = SL_ENOMEM;
    if (rc) {
        for (int i = 0; i < c.nout; i++)
            ubatch_free(&c.out[i]);
        sl_free(c.out);
        return rc;
    }
    int old = l->nb;
    ubatch *gone = sl_malloc(sizeof *gone * (size_t)(old - from + 1));
    if (mu)
        pthread_mutex_lock(mu);
    if (gone)
        memcpy(gone, l->bs + from, sizeof *gone * (size_t)(old - from));
    else /* freed under the mutex instead */
        for (int i = from; i < old; i++)
            ubatch_free(&l->bs[i]);
    memcpy(l->bs + from, c.out, sizeof *c.out * (size_t)c.nout);
    l->nb = from + c.nout;
    l->sealed = l->nb;
    l->ndead -= dead;
    if (mu)
        pthread_mutex_unlock(mu);
    for (int i = 0; gone && i < old - from; i++)
        ubatch_free(&gone[i]);
    sl_free(gone);
    sl_free(c.out);
    for (int i = from; i < l->nb; i++) /* the moved rows' places */
        for (int64_t r = 0; r < l->bs[i].b->n; r++)
            l->loc[l->bs[i].ids[r]] = (((uint64_t)i << 32) | (uint64_t)r) + 1;
    return SL_OK;
}

static int maybe_compact(stream_ulog *l, pthread_mutex_t *mu)
{
    if (l->ndead > l->nlive && l->ndead >= 1024)
        return compact(l, 0, mu);
    if (l->nb - l->sealed <= RECENT_MAX)
        return SL_OK;
    int rc = compact(l, l->sealed, mu);
    if (!rc && l->nb > 64 + l->nlive / 1024)
        rc = compact(l, 0, mu);
    return rc;
}

/* ---- followers ------------------------------------------------------------------- */

/* The oldest tail entries every follower passed (or, past TAIL_MAX, the oldest
 * one anyway) leave. */
static void tail_trim(stream_ulog *l)
{
    int k = 0;
    while (k < l->ntail && (l->tail[k].left <= 0 || l->ntail - k > TAIL_MAX))
        sql_batch_free(l->tail[k++].b);
    if (!k)
        return;
    memmove(l->tail, l->tail + k, sizeof *l->tail * (size_t)(l->ntail - k));
    l->ntail -= k;
    l->tail_base += k;
}

/* An upsert's rows and keys (or a delete's keys, rows NULL) for the followers
 * (view's mutex held). */
static int follow_add(stream_ulog *l, const sql_batch *rows, const sql_batch *keys)
{
    if (l->ntail == l->tail_cap) {
        int nc = l->tail_cap ? l->tail_cap * 2 : 16;
        utail *t = sl_realloc(l->tail, sizeof *t * (size_t)nc);
        if (!t)
            return SL_ENOMEM;
        l->tail = t;
        l->tail_cap = nc;
    }
    int nc = rows ? l->ncols : 0;
    sql_batch *b;
    if (sql_batch_new(nc + l->nkeys, l->types + l->ncols - nc, &b))
        return SL_ENOMEM;
    for (int c = 0; c < nc + l->nkeys; c++) {
        col_vec_release(&b->cols[c]);
        sql_vec_share(c < nc ? &rows->cols[c] : &keys->cols[c - nc], &b->cols[c]);
    }
    b->n = keys->n;
    l->tail[l->ntail++] = (utail){b, l->nfollow, rows ? STREAM_ULOG_UPSERT : STREAM_ULOG_DELETE};
    tail_trim(l);
    return SL_OK;
}

/* A follower at *pos leaves the entries from there to the end behind. */
static void follow_pass(stream_ulog *l, int64_t pos)
{
    for (int64_t i = pos > l->tail_base ? pos - l->tail_base : 0; i < l->ntail; i++)
        l->tail[i].left--;
}

/* The keys with no live row, as one batch to fn (none: not called). */
static int dead_keys(const stream_ulog *l, int (*fn)(void *arg, sql_batch *b), void *arg)
{
    int64_t n = (int64_t)l->ht.n - l->nlive; /* (a live row per key that has one) */
    if (n <= 0)
        return SL_OK;
    uint32_t *idx = sl_malloc(sizeof *idx * (size_t)n);
    if (!idx)
        return SL_ENOMEM;
    int64_t m = 0;
    for (uint32_t id = 0; id < l->ht.n && m < n; id++)
        if (!l->loc[id])
            idx[m++] = id;
    sql_batch stored = {l->nkeys, l->ht.n, l->ht.keys, l->types + l->ncols}, *b = NULL;
    int rc = m ? sql_batch_take(&stored, idx, m, &b) : SL_OK;
    sl_free(idx);
    return rc || !m ? rc : fn(arg, b);
}

int stream_ulog_follow(stream_ulog *l, int64_t *pos, bool again, bool keyed,
                       int (*gone)(void *arg, sql_batch *b), int (*fn)(void *arg, sql_batch *b),
                       void *arg)
{
    if (again)
        follow_pass(l, *pos);
    else
        l->nfollow++;
    *pos = l->tail_base + l->ntail;
    tail_trim(l);
    int rc = again && keyed ? dead_keys(l, gone, arg) : SL_OK;
    return rc ? rc : stream_ulog_read(l, keyed, fn, arg);
}

int stream_ulog_follow_next(stream_ulog *l, int64_t *pos, bool keyed, sql_batch **out,
                            int *kind, bool *overrun)
{
    *out = NULL;
    for (;;) {
        *overrun = *pos < l->tail_base;
        if (*overrun || *pos >= l->tail_base + l->ntail)
            return SL_OK;
        utail *t = &l->tail[*pos - l->tail_base];
        if (keyed || t->kind == STREAM_ULOG_UPSERT) {
            int n = keyed ? t->b->ncols : l->ncols;
            if (stream_ulog_share(t->b, 0, n, t->b->types, out))
                return SL_ENOMEM;
            *kind = t->kind;
        }
        t->left--;
        (*pos)++;
        tail_trim(l);
        if (*out)
            return SL_OK;
    }
}

void stream_ulog_unfollow(stream_ulog *l, int64_t pos)
{
    follow_pass(l, pos);
    l->nfollow--;
    tail_trim(l);
}

/* ---- the writer ------------------------------------------------------------------ */

int stream_ulog_upsert(stream_ulog *l, sql_batch *rows, sql_batch *keys, pthread_mutex_t *mu)
{
    int64_t n = rows->n;
    ubatch u = {rows, NULL, NULL, n};
    int rc = SL_OK;
    if (n && n <= UINT32_MAX) {
        u.ids = sl_malloc(sizeof *u.ids * (size_t)n);
        u.live = all_live(n);
        rc = u.ids && u.live ? key_ids(l, keys, true, u.ids) : SL_ENOMEM;
        rc = rc ? rc : room(l, mu);
    }
    if (rc || !n || n > UINT32_MAX) {
        sql_batch_free(keys);
        ubatch_free(&u);
        return rc ? rc : n ? SL_ENOMEM : SL_OK;
    }
    if (mu)
        pthread_mutex_lock(mu);
    int bi = l->nb++;
    l->bs[bi] = u;
    l->nlive += n;
    for (int64_t r = 0; r < n; r++) {
        uint64_t *at = &l->loc[u.ids[r]];
        if (*at) /* a key twice in one batch: the later row wins */
            supersede(l, *at);
        *at = (((uint64_t)bi << 32) | (uint64_t)r) + 1;
    }
    if (l->nfollow)
        rc = follow_add(l, rows, keys);
    if (mu)
        pthread_mutex_unlock(mu);
    sql_batch_free(keys);
    return rc ? rc : maybe_compact(l, mu);
}

int stream_ulog_delete(stream_ulog *l, sql_batch *keys, pthread_mutex_t *mu)
{
    int64_t n = keys->n;
    uint32_t *ids = sl_malloc(sizeof *ids * (size_t)(n ? n : 1));
    int rc = ids ? key_ids(l, keys, false, ids) : SL_ENOMEM;
    if (!rc) {
        if (mu)
            pthread_mutex_lock(mu);
        int64_t gone = 0;
        for (int64_t r = 0; r < n; r++)
            if (ids[r] != SQL_HT_NONE && l->loc[ids[r]]) {
                supersede(l, l->loc[ids[r]]);
                l->loc[ids[r]] = 0;
                gone++;
            }
        if (gone && l->nfollow) /* (none had a row: nothing to pass on) */
            rc = follow_add(l, NULL, keys);
        if (mu)
            pthread_mutex_unlock(mu);
    }
    sql_batch_free(keys);
    sl_free(ids);
    return rc ? rc : maybe_compact(l, mu);
}

/* ---- readers ------------------------------------------------------------------- */

/* u's live rows (idx: scratch of u's rows), with their keys when keys is set. */
static int live_batch(const stream_ulog *l, const ubatch *u, bool keys, uint32_t *idx,
                      sql_batch **out)
{
    int64_t n = u->nlive;
    live_rows(u, idx);
    sql_batch view = *u->b;
    view.ncols = l->ncols;
    view.types = l->types;
    int rc = n == u->b->n ? stream_ulog_share(&view, 0, l->ncols, l->types, out)
                          : sql_batch_take(&view, idx, n, out);
    if (rc || !keys)
        return rc;
    for (int64_t k = 0; k < n; k++)
        idx[k] = u->ids[idx[k]];
    sql_batch stored = {l->nkeys, l->ht.n, l->ht.keys, l->types + l->ncols};
    sql_batch *kb = NULL, *o = NULL;
    if (sql_batch_take(&stored, idx, n, &kb) ||
        sql_batch_new(l->ncols + l->nkeys, l->types, &o)) {
        sql_batch_free(kb);
        sql_batch_free(*out);
        *out = NULL;
        return SL_ENOMEM;
    }
    for (int c = 0; c < l->ncols + l->nkeys; c++) {
        col_vec_release(&o->cols[c]);
        sql_vec_share(c < l->ncols ? &(*out)->cols[c] : &kb->cols[c - l->ncols], &o->cols[c]);
    }
    o->n = n;
    sql_batch_free(kb);
    sql_batch_free(*out);
    *out = o;
    return SL_OK;
}

int stream_ulog_read(const stream_ulog *l, bool keys, int (*fn)(void *arg, sql_batch *b),
                     void *arg)
{
    int rc = SL_OK;
    for (int i = 0; i < l->nb && !rc; i++) {
        const ubatch *u = &l->bs[i];
        if (!u->nlive)
            continue;
        uint32_t *idx = sl_malloc(sizeof *idx * (size_t)u->b->n);
        sql_batch *b = NULL;
        rc = idx ? live_batch(l, u, keys, idx, &b) : SL_ENOMEM;
        sl_free(idx);
        if (!rc)
            rc = fn(arg, b);
    }
    return rc;
}

int stream_ulog_into_ftab(void *arg, sql_batch *b)
{
    ftab *f = arg;
    f->cur = b;
    if (!ftab_flush(f))
        return SL_OK;
    f->cur = NULL;
    sql_batch_free(b);
    return SL_ENOMEM;
}
