/*
 * session.c - session windows of one owner (rule 5 of docs/streaming.md):
 * per key, consecutive rows at most `gap` apart share a session, which
 * starts at its first row's time and ends at its last row's time + gap, and
 * closes when the watermark passes its end (wm > end, rule 6).
 *
 * A session's rows are kept (not aggregate states) until it closes: a row
 * arriving late but on time can extend a session or merge two, and merging
 * kept rows needs nothing from the aggregates (no combine of states, so
 * DISTINCT, ORDER BY inside calls and every aggregate stay exact).  Rows are
 * kept in the batches they came in (refcounted by the sessions using them);
 * a session holds references (batch, row).  Keys are the source columns
 * given at creation, numbered by a hash table (NULL is a key of its own).
 * A key's open sessions are disjoint and sorted, more than gap apart, so a
 * row touches at most two of them: none (a new session), one (extended) or
 * two (merged).  Closing takes every session whose end the watermark passed,
 * in order of end, and hands its rows out as one batch.
 *
 * With emit = 'on_update' (stream_sessions_track), a session that a batch
 * created, extended or merged is "dirty": stream_sessions_updates hands out
 * the rows of every dirty session (its new result is computed from them) and,
 * before them, one row of each session whose emitted identity (start, end) no
 * longer exists (its key is deleted from the upsert log): a session's old
 * identity when it grew, and the identity of a session merged into another.
 * An update costs the session's rows so far (a session's result is computed
 * again from its rows, so every aggregate stays exact).
 *
 * What it holds is bounded by the open sessions: by max_delay, the gap and
 * the key count.
 */
#include "stream/session.h"
#include "stream/checkpoint.h"

#include "base/alloc.h"
#include "sql/exec/exec.h"
#include "sql/exec/hashtab.h"

#include <stdlib.h>
#include <string.h>

typedef struct sess {
    int64_t first, last;     /* event times of its first and last row */
    uint64_t *refs;          /* batch index << 32 | row */
    int64_t nrefs, cap;
    int64_t em_first, em_last; /* tracked: the identity last handed out as an update */
    bool em;                 /* ... one was */
    bool dirty;              /* ... it changed since */
} sess;

typedef struct key_sessions {
    sess *s;                 /* sorted by first, disjoint */
    int n, cap;
    bool touched;            /* tracked: in ss->touched */
} key_sessions;

/* A row of the kept batches with a session identity (start, end). */
typedef struct ref_se {
    uint64_t ref;
    int64_t start, end;
} ref_se;

typedef struct kept {
    sql_batch *b;
    int64_t live;            /* rows of b still in open sessions */
} kept;

struct stream_sessions {
    int64_t gap_ns;
    int time_col;
    int nkeys;
    int key_cols[STREAM_SESSION_MAX_KEYS];
    sql_ht ht;
    key_sessions *keys;      /* per key id */
    uint32_t nk;             /* key ids given (one key when there are no key columns) */
    uint32_t nkeys_cap;
    kept *batches;           /* slots; a released one (b NULL) is reused */
    uint32_t nbatches, batches_cap;
    uint32_t *free_slots;    /* released slots */
    int64_t nfree, free_cap;
    int64_t mem;             /* kept batches' bytes */
    bool track;              /* emit = 'on_update' (stream_sessions_track) */
    uint32_t *touched;       /* ... keys a batch touched since the last updates */
    int64_t ntouched, touched_cap;
    ref_se *gone;            /* ... identities merged away (a row of each) */
    int64_t ngone, gone_cap;
};

int stream_sessions_new(int64_t gap_ns, int time_col, const int *key_cols, int nkeys,
                        const sql_type *key_types, stream_sessions **out)
{
    *out = NULL;
    if (nkeys > STREAM_SESSION_MAX_KEYS)
        return SL_EINVAL;
    stream_sessions *ss = sl_calloc(1, sizeof *ss);
    if (!ss)
        return SL_ENOMEM;
    ss->gap_ns = gap_ns;
    ss->time_col = time_col;
    ss->nkeys = nkeys;
    memcpy(ss->key_cols, key_cols, sizeof *key_cols * (size_t)nkeys);
    if (sql_ht_init(&ss->ht, nkeys ? nkeys : 1, key_types, true)) {
        sl_free(ss);
        return SL_ENOMEM;
    }
    *out = ss;
    return SL_OK;
}

void stream_sessions_free(stream_sessions *ss)
{
    if (!ss)
        return;
    for (uint32_t k = 0; k < ss->nk && ss->keys; k++) {
        for (int i = 0; i < ss->keys[k].n; i++)
            sl_free(ss->keys[k].s[i].refs);
        sl_free(ss->keys[k].s);
    }
    sl_free(ss->keys);
    for (uint32_t i = 0; i < ss->nbatches; i++)
        sql_batch_free(ss->batches[i].b);
    sl_free(ss->batches);
    sl_free(ss->free_slots);
    sl_free(ss->touched);
    sl_free(ss->gone);
    sql_ht_free(&ss->ht);
    sl_free(ss);
}

int64_t stream_sessions_mem(const stream_sessions *ss)
{
    return ss->mem + ss->ht.mem_bytes;
}

/* Grows *p (of *cap elements of size sz) to hold n. */
static int grow(void **p, int64_t *cap, int64_t n, size_t sz)
{
    if (n <= *cap)
        return SL_OK;
    int64_t nc = *cap ? *cap * 2 : 8;
    while (nc < n)
        nc *= 2;
    void *np = sl_realloc(*p, sz * (size_t)nc);
    if (!np)
        return SL_ENOMEM;
    *p = np;
    *cap = nc;
    return SL_OK;
}

static int add_ref(sess *s, uint64_t ref)
{
    if (grow((void **)&s->refs, &s->cap, s->nrefs + 1, sizeof *s->refs))
        return SL_ENOMEM;
    s->refs[s->nrefs++] = ref;
    return SL_OK;
}

/* Row ref with event time t into key k's sessions. */
static int assign(stream_sessions *ss, key_sessions *ks, int64_t t, uint64_t ref)
{
    int64_t gap = ss->gap_ns;
    int i = 0;
    while (i < ks->n && ks->s[i].last + gap < t) /* sessions wholly before t */
        i++;
    bool hit = i < ks->n && ks->s[i].first - gap <= t;
    if (!hit) {
        int64_t c = ks->cap;
        if (grow((void **)&ks->s, &c, ks->n + 1, sizeof *ks->s))
            return SL_ENOMEM;
        ks->cap = (int)c;
        memmove(&ks->s[i + 1], &ks->s[i], sizeof *ks->s * (size_t)(ks->n - i));
        ks->s[i] = (sess){.first = t, .last = t, .dirty = true};
        ks->n++;
        return add_ref(&ks->s[i], ref);
    }
    sess *s = &ks->s[i];
    s->dirty = true;
    s->first = t < s->first ? t : s->first;
    s->last = t > s->last ? t : s->last;
    int rc = add_ref(s, ref);
    if (rc || i + 1 >= ks->n || ks->s[i + 1].first - gap > s->last)
        return rc;
    /* the row bridged the gap to the next session: one session now */
    sess *nx = &ks->s[i + 1];
    if (grow((void **)&s->refs, &s->cap, s->nrefs + nx->nrefs, sizeof *s->refs))
        return SL_ENOMEM;
    if (ss->track && nx->em) { /* its identity is gone: deleted before the updates */
        if (grow((void **)&ss->gone, &ss->gone_cap, ss->ngone + 1, sizeof *ss->gone))
            return SL_ENOMEM;
        ss->gone[ss->ngone++] = (ref_se){nx->refs[0], nx->em_first, nx->em_last + gap};
    }
    memcpy(s->refs + s->nrefs, nx->refs, sizeof *nx->refs * (size_t)nx->nrefs);
    s->nrefs += nx->nrefs;
    s->last = nx->last > s->last ? nx->last : s->last;
    sl_free(nx->refs);
    memmove(nx, nx + 1, sizeof *nx * (size_t)(ks->n - i - 2));
    ks->n--;
    return SL_OK;
}

int stream_sessions_add(stream_sessions *ss, sql_batch *b)
{
    int64_t n = b->n;
    const col_vec *ts = &b->cols[ss->time_col];
    uint32_t *ids = sl_malloc(sizeof *ids * (size_t)(n ? n : 1));
    sql_vec kv[STREAM_SESSION_MAX_KEYS];
    for (int k = 0; k < ss->nkeys; k++)
        kv[k] = (sql_vec){b->cols[ss->key_cols[k]], false}; /* borrowed, not released */
    int rc = ids ? SL_OK : SL_ENOMEM;
    if (!rc && ss->nkeys)
        rc = sql_ht_lookup(&ss->ht, kv, n, NULL, true, ids);
    else if (!rc)
        memset(ids, 0, sizeof *ids * (size_t)n);
    uint32_t nk = ss->nkeys ? ss->ht.n : 1;
    if (!rc && nk > ss->nkeys_cap) {
        uint32_t nc = ss->nkeys_cap ? ss->nkeys_cap : 64;
        while (nc < nk)
            nc *= 2;
        key_sessions *nk_arr = sl_realloc(ss->keys, sizeof *nk_arr * nc);
        if (!nk_arr) {
            rc = SL_ENOMEM;
        } else {
            memset(nk_arr + ss->nkeys_cap, 0, sizeof *nk_arr * (nc - ss->nkeys_cap));
            ss->keys = nk_arr;
            ss->nkeys_cap = nc;
        }
    }
    if (!rc)
        ss->nk = nk;
    int64_t c = ss->batches_cap;
    uint32_t bi = ss->nfree ? ss->free_slots[ss->nfree - 1] : ss->nbatches;
    if (!rc && !ss->nfree &&
        !(rc = grow((void **)&ss->batches, &c, ss->nbatches + 1, sizeof *ss->batches)))
        ss->batches_cap = (uint32_t)c;
    int64_t live = 0;
    for (int64_t i = 0; i < n && !rc; i++) {
        if (!col_vec_is_valid(ts, i))
            continue; /* no event time: in no session */
        key_sessions *ks = &ss->keys[ids[i]];
        rc = assign(ss, ks, col_vec_i64(ts, i), (uint64_t)bi << 32 | (uint64_t)i);
        live++;
        if (!rc && ss->track && !ks->touched &&
            !(rc = grow((void **)&ss->touched, &ss->touched_cap, ss->ntouched + 1,
                        sizeof *ss->touched))) {
            ks->touched = true;
            ss->touched[ss->ntouched++] = ids[i];
        }
    }
    sl_free(ids);
    if (rc || !live) {
        sql_batch_free(b);
        return rc;
    }
    if (ss->nfree)
        ss->nfree--;
    else
        ss->nbatches++;
    ss->batches[bi] = (kept){b, live};
    ss->mem += sql_batch_bytes(b);
    return SL_OK;
}

typedef struct closing {
    uint32_t key;
    int idx;
    int64_t end;
} closing;

static int cmp_closing(const void *a, const void *b)
{
    const closing *x = a, *y = b;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return x->key != y->key ? (x->key < y->key ? -1 : 1) : (x->idx > y->idx) - (x->idx < y->idx);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* A kept row's batch is done with m more of its rows: released when none is left. */
static int release_rows(stream_sessions *ss, uint32_t bi, int64_t m)
{
    kept *k = &ss->batches[bi];
    if ((k->live -= m) > 0)
        return SL_OK;
    ss->mem -= sql_batch_bytes(k->b);
    sql_batch_free(k->b);
    k->b = NULL;
    int rc = grow((void **)&ss->free_slots, &ss->free_cap, ss->nfree + 1, sizeof *ss->free_slots);
    if (!rc)
        ss->free_slots[ss->nfree++] = bi;
    return rc;
}

/* The kept rows refs (n, sorted) as one batch, in that order; with release, the
 * kept batches are done with them. */
static int gather(stream_sessions *ss, const uint64_t *refs, int64_t n, bool release,
                  sql_batch **out)
{
    const sql_batch *b0 = ss->batches[refs[0] >> 32].b;
    sql_rows acc;
    sql_rows_init(&acc, b0->ncols, b0->types);
    uint32_t *rows = sl_malloc(sizeof *rows * (size_t)n);
    int rc = rows ? SL_OK : SL_ENOMEM;
    for (int64_t i = 0; i < n && !rc;) {
        uint32_t bi = (uint32_t)(refs[i] >> 32);
        int64_t m = 0;
        for (; i < n && (uint32_t)(refs[i] >> 32) == bi; i++)
            rows[m++] = (uint32_t)refs[i];
        sql_batch *part;
        if (!(rc = sql_batch_take(ss->batches[bi].b, rows, m, &part)))
            rc = sql_rows_add(&acc, part);
        if (!rc && release)
            rc = release_rows(ss, bi, m);
    }
    if (!rc)
        rc = sql_rows_concat(&acc, out);
    sql_rows_free(&acc);
    sl_free(rows);
    return rc;
}

/* The rows of s as one batch (in the order of their places; out NULL: none
 * built); their kept batches released. */
static int session_rows(stream_sessions *ss, sess *s, sql_batch **out)
{
    qsort(s->refs, (size_t)s->nrefs, sizeof *s->refs, cmp_u64);
    if (out)
        return gather(ss, s->refs, s->nrefs, true, out);
    int rc = SL_OK;
    for (int64_t i = 0; i < s->nrefs && !rc;) {
        uint32_t bi = (uint32_t)(s->refs[i] >> 32);
        int64_t m = 0;
        for (; i < s->nrefs && (uint32_t)(s->refs[i] >> 32) == bi; i++)
            m++;
        rc = release_rows(ss, bi, m);
    }
    return rc;
}

int stream_sessions_close(stream_sessions *ss, int64_t wm, stream_session_fn fn, void *arg)
{
    if (wm == STREAM_WM_NONE)
        return SL_OK;
    closing *cl = NULL;
    int64_t ncl = 0, cap = 0;
    int rc = SL_OK;
    for (uint32_t k = 0; k < ss->nk && !rc; k++)
        for (int i = 0; i < ss->keys[k].n && !rc; i++) {
            int64_t end = ss->keys[k].s[i].last + ss->gap_ns;
            if (!stream_session_closed(end, wm))
                break; /* sorted: later ones end later */
            if (!(rc = grow((void **)&cl, &cap, ncl + 1, sizeof *cl)))
                cl[ncl++] = (closing){k, i, end};
        }
    if (!rc && ncl)
        qsort(cl, (size_t)ncl, sizeof *cl, cmp_closing);
    for (int64_t c = 0; c < ncl && !rc; c++) {
        sess *s = &ss->keys[cl[c].key].s[cl[c].idx];
        sql_batch *b = NULL;
        if (!(rc = session_rows(ss, s, fn ? &b : NULL)) && fn)
            rc = fn(arg, s->first, cl[c].end, b);
    }
    /* the closed sessions are a prefix of each key's list */
    for (uint32_t k = 0; k < ss->nk; k++) {
        key_sessions *ks = &ss->keys[k];
        int d = 0;
        while (d < ks->n && stream_session_closed(ks->s[d].last + ss->gap_ns, wm))
            sl_free(ks->s[d++].refs);
        if (d) {
            memmove(ks->s, ks->s + d, sizeof *ks->s * (size_t)(ks->n - d));
            ks->n -= d;
        }
    }
    sl_free(cl);
    return rc;
}

/* ---- emit = 'on_update' ------------------------------------------------------ */

void stream_sessions_track(stream_sessions *ss)
{
    ss->track = true;
}

static int cmp_ref_se(const void *a, const void *b)
{
    const ref_se *x = a, *y = b;
    return x->ref < y->ref ? -1 : x->ref > y->ref;
}

/* The rows of the n entries of v (sorted here) with their identities to fn. */
static int hand_out(stream_sessions *ss, ref_se *v, int64_t n, stream_session_rows_fn fn,
                    void *arg)
{
    if (!n)
        return SL_OK;
    qsort(v, (size_t)n, sizeof *v, cmp_ref_se);
    uint64_t *refs = sl_malloc(sizeof *refs * (size_t)n);
    int64_t *se = sl_malloc(sizeof *se * 2 * (size_t)n);
    int rc = refs && se ? SL_OK : SL_ENOMEM;
    for (int64_t i = 0; i < n && !rc; i++) {
        refs[i] = v[i].ref;
        se[2 * i] = v[i].start;
        se[2 * i + 1] = v[i].end;
    }
    sql_batch *b = NULL;
    if (!rc && !(rc = gather(ss, refs, n, false, &b)))
        rc = fn(arg, b, se);
    sl_free(refs);
    sl_free(se);
    return rc;
}

int stream_sessions_updates(stream_sessions *ss, stream_session_rows_fn gone,
                            stream_session_rows_fn changed, void *arg)
{
    int64_t gap = ss->gap_ns, nup = 0, upcap = 0;
    ref_se *up = NULL;
    int rc = SL_OK;
    /* identities that grew: gone too (one row of each) */
    for (int64_t t = 0; t < ss->ntouched && !rc; t++) {
        key_sessions *ks = &ss->keys[ss->touched[t]];
        for (int i = 0; i < ks->n && !rc; i++) {
            sess *s = &ks->s[i];
            if (!s->dirty || !s->em || (s->em_first == s->first && s->em_last == s->last))
                continue;
            if (!(rc = grow((void **)&ss->gone, &ss->gone_cap, ss->ngone + 1,
                            sizeof *ss->gone)))
                ss->gone[ss->ngone++] = (ref_se){s->refs[0], s->em_first, s->em_last + gap};
        }
    }
    if (!rc)
        rc = hand_out(ss, ss->gone, ss->ngone, gone, arg);
    ss->ngone = 0;
    /* every row of every changed session, with its new identity */
    for (int64_t t = 0; t < ss->ntouched && !rc; t++) {
        key_sessions *ks = &ss->keys[ss->touched[t]];
        for (int i = 0; i < ks->n && !rc; i++) {
            sess *s = &ks->s[i];
            if (!s->dirty)
                continue;
            if ((rc = grow((void **)&up, &upcap, nup + s->nrefs, sizeof *up)))
                break;
            for (int64_t r = 0; r < s->nrefs; r++)
                up[nup++] = (ref_se){s->refs[r], s->first, s->last + gap};
            s->em = true;
            s->dirty = false;
            s->em_first = s->first;
            s->em_last = s->last;
        }
        ks->touched = false;
    }
    ss->ntouched = 0;
    if (!rc)
        rc = hand_out(ss, up, nup, changed, arg);
    sl_free(up);
    return rc;
}

/* After a checkpoint's rows were put back: every session's identity was handed
 * out before the checkpoint (updates follow each batch), none is changed. */
static void settle(stream_sessions *ss)
{
    for (uint32_t k = 0; k < ss->nk; k++) {
        for (int i = 0; i < ss->keys[k].n; i++) {
            sess *s = &ss->keys[k].s[i];
            s->em = true;
            s->dirty = false;
            s->em_first = s->first;
            s->em_last = s->last;
        }
        ss->keys[k].touched = false;
    }
    ss->ntouched = ss->ngone = 0;
}

/* ---- checkpoints ---------------------------------------------------------------- */

int stream_sessions_save(stream_sessions *ss, dbuf *out)
{
    int64_t n = 0, cap = 0;
    uint64_t *refs = NULL;
    int rc = SL_OK;
    for (uint32_t k = 0; k < ss->nk && !rc; k++)
        for (int i = 0; i < ss->keys[k].n && !rc; i++) {
            const sess *s = &ss->keys[k].s[i];
            if (!(rc = grow((void **)&refs, &cap, n + s->nrefs, sizeof *refs))) {
                memcpy(refs + n, s->refs, sizeof *refs * (size_t)s->nrefs);
                n += s->nrefs;
            }
        }
    /* kept batches in slot order, rows in batch order: what session_rows sorts by */
    if (!rc && n)
        qsort(refs, (size_t)n, sizeof *refs, cmp_u64);
    int ncols = n ? ss->batches[refs[0] >> 32].b->ncols : 0;
    if (!rc && n > UINT32_MAX)
        rc = SL_ENOMEM;
    if (!rc)
        rc = stream_ckpt_rows_head(out, (uint32_t)n, (uint32_t)ncols);
    dbuf txt;
    dbuf_init(&txt, 1u << 30);
    for (int64_t i = 0; i < n && !rc; i++)
        rc = stream_ckpt_row(out, ss->batches[refs[i] >> 32].b, (int64_t)(uint32_t)refs[i], &txt);
    dbuf_free(&txt);
    sl_free(refs);
    return rc;
}

static int load_batch(void *arg, sql_batch *b)
{
    return stream_sessions_add(arg, b);
}

int stream_sessions_load(stream_sessions *ss, const uint8_t *p, size_t n, int ncols,
                         const sql_type *types, sql_err *e)
{
    int rc = stream_ckpt_rows_read(p, n, ncols, types, load_batch, ss, e);
    if (!rc)
        settle(ss);
    return rc;
}
