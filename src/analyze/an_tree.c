/*
 * an_tree.c - the parent-link pass of a report: self time, flame graph
 * stacks, concurrency, roots and children, exact quantiles, the histogram.
 *
 * SQL answers what an aggregate answers; what needs a span's parent does not
 * fit an aggregate (it would take a recursive join per level), so the spans
 * come here once, as columns:
 *
 *   1. load: a result batch at a time into columnar arrays (stream, id,
 *      parent, begin, end, name, target, root frame); strings become dense
 *      ids through an interner whose per-column cache maps a batch's
 *      dictionary once, so no row allocates and a repeated string costs one
 *      comparison;
 *   2. link: an open-addressing table of row indexes keyed on (stream, id)
 *      (thread span ids are unique in their stream, async span ids in the
 *      process) gives each row its parent's row, or none (a root), or none
 *      because the parent is not in the data (an orphan, also a root);
 *   3. child sums, then self time = duration - children's durations (clipped
 *      at 0: async children may outlast their parent or overlap each other;
 *      the clipped time is reported as overlap_ns);
 *   4. stacks: a stack is (parent stack, frame), interned in a u64 map; a
 *      row's stack is its parent's stack plus its name, resolved with an
 *      explicit work list (no recursion; a parent cycle, possible only in
 *      corrupt async data, is cut and counted);
 *   5. quantiles by selection over the complete durations, the log2
 *      histogram, and concurrency by a sweep over begins and ends sorted with
 *      an LSD radix sort.
 *
 * Memory: about 52 bytes a span while loading, then the link table's 16 bytes
 * a slot (at most two thirds full); arrays are reused between steps once free.
 */
#include "analyze/an_int.h"

#include "base/alloc.h"
#include "base/hash.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>

/* ------------------------------------------------------------ strings */

void an_strings_init(an_strings *s)
{
    memset(s, 0, sizeof *s);
    dbuf_init(&s->bytes, AN_MAX_STR_BYTES);
    u64map_init(&s->by_hash);
}

void an_strings_free(an_strings *s)
{
    dbuf_free(&s->bytes);
    sl_free(s->off);
    sl_free(s->len);
    u64map_free(&s->by_hash);
    memset(s, 0, sizeof *s);
}

static uint32_t find_h(const an_strings *s, const void *p, size_t n, uint64_t h)
{
    size_t pos = (size_t)-1;
    uint32_t id;
    while (u64map_find_next(&s->by_hash, h, &pos, &id))
        if (s->len[id] == n && (!n || !memcmp(s->bytes.p + s->off[id], p, n)))
            return id;
    return AN_NO_STR;
}

uint32_t an_strings_find(const an_strings *s, const void *p, size_t n)
{
    return find_h(s, p, n, hash64(p, n));
}

int an_strings_intern(an_strings *s, const void *p, size_t n, uint32_t *id)
{
    uint64_t h = hash64(p, n);
    uint32_t f = find_h(s, p, n, h);
    if (f != AN_NO_STR) {
        *id = f;
        return SL_OK;
    }
    if (s->n == s->cap) {
        if (s->cap >= (UINT32_MAX >> 2))
            return SL_ETOOBIG;
        uint32_t nc = s->cap ? s->cap * 2 : 256;
        uint32_t *o = sl_realloc(s->off, sizeof *o * nc);
        if (!o)
            return SL_ENOMEM;
        s->off = o;
        uint32_t *l = sl_realloc(s->len, sizeof *l * nc);
        if (!l)
            return SL_ENOMEM;
        s->len = l;
        s->cap = nc;
    }
    int rc = s->bytes.p ? SL_OK : dbuf_reserve(&s->bytes, 4096);
    if (!rc && n)
        rc = dbuf_append(&s->bytes, p, n);
    if (!rc)
        rc = u64map_put_multi(&s->by_hash, h, s->n);
    if (rc)
        return rc;
    s->off[s->n] = (uint32_t)(s->bytes.len - n);
    s->len[s->n] = (uint32_t)n;
    *id = s->n++;
    return SL_OK;
}

void an_col_cache_free(an_col_cache *c)
{
    if (c->dict)
        col_dict_unref((col_dict *)c->dict);
    sl_free(c->map);
    memset(c, 0, sizeof *c);
    c->last_id = AN_NO_STR;
}

/* Points the cache at v's dictionary (a reference held, so its address stays its own). */
static int cache_dict(an_col_cache *c, const col_vec *v)
{
    int64_t nd = v->dict->strings.len;
    if (nd > c->map_cap) {
        uint32_t *m = sl_realloc(c->map, sizeof *m * (size_t)nd);
        if (!m)
            return SL_ENOMEM;
        c->map = m;
        c->map_cap = nd;
    }
    for (int64_t i = 0; i < nd; i++)
        c->map[i] = AN_NO_STR;
    if (c->dict)
        col_dict_unref((col_dict *)c->dict);
    c->dict = col_dict_ref(v->dict);
    return SL_OK;
}

int an_col_intern(an_strings *s, an_col_cache *c, const col_vec *v, int64_t r, uint32_t *id)
{
    *id = AN_NO_STR;
    if (!col_vec_is_valid(v, r))
        return SL_OK;
    int rc;
    size_t n;
    if (v->type == COL_DICT) {
        if (c->dict != v->dict && (rc = cache_dict(c, v)))
            return rc;
        uint64_t k = col_vec_key(v, r);
        if (c->map[k] == AN_NO_STR) {
            const uint8_t *p = col_vec_str(&v->dict->strings, (int64_t)k, &n);
            if ((rc = an_strings_intern(s, p, n, &c->map[k])))
                return rc;
        }
        *id = c->map[k];
        return SL_OK;
    }
    const uint8_t *p = col_vec_str(v, r, &n);
    if (c->last_id != AN_NO_STR && n == c->last_len && !memcmp(p, c->last, n)) {
        *id = c->last_id;
        return SL_OK;
    }
    if ((rc = an_strings_intern(s, p, n, id)))
        return rc;
    c->last_id = n <= sizeof c->last ? *id : AN_NO_STR;
    c->last_len = n;
    if (n <= sizeof c->last)
        memcpy(c->last, p, n);
    return SL_OK;
}

/* ------------------------------------------------------------ the pass */

#define HUGE_PAGE ((uintptr_t)2 << 20)
#define OPEN_END INT64_MIN          /* an async span never ended */
#define ASYNC_STREAM AN_NO_STR      /* the stream key of async spans (ids process-wide) */
#define STACK_UNSET UINT32_MAX
#define STACK_BUSY (UINT32_MAX - 1) /* on the work list: meeting it again is a cycle */
#define ROOT_PARENT UINT32_MAX      /* a stack's parent when it is a root frame */

enum { C_STREAM, C_THREAD, C_NAME, C_TARGET, C_NCACHE };

struct an_tree {
    int64_t max, n, cap;
    uint32_t *sid, *name, *target, *frame0;
    int64_t *id, *parent, *begin, *end;
    an_strings str;
    an_col_cache cc[C_NCACHE];
    uint32_t async_frame;
    /* stacks */
    u64map stk_map;
    uint32_t nstk, capstk;
    uint32_t *stk_parent, *stk_frame, *stk_depth;
    int64_t *stk_self, *stk_count;
    int64_t *self_name, *self_target; /* by string id */
};

int an_tree_new(int64_t max_spans, an_tree **out)
{
    an_tree *t = sl_calloc(1, sizeof *t);
    if (!t)
        return SL_ENOMEM;
    t->max = max_spans > 0 && max_spans < INT32_MAX ? max_spans : INT32_MAX - 1;
    an_strings_init(&t->str);
    for (int i = 0; i < C_NCACHE; i++)
        an_col_cache_free(&t->cc[i]); /* the empty state */
    u64map_init(&t->stk_map);
    int rc = an_strings_intern(&t->str, "async", 5, &t->async_frame);
    if (rc) {
        an_tree_free(t);
        return rc;
    }
    *out = t;
    return SL_OK;
}

static void free_rows(an_tree *t)
{
    void *arrs[] = {t->sid, t->name, t->target, t->frame0, t->id, t->parent, t->begin, t->end};
    for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++)
        sl_free(arrs[i]);
    t->sid = t->name = t->target = t->frame0 = NULL;
    t->id = t->parent = t->begin = t->end = NULL;
}

void an_tree_free(an_tree *t)
{
    if (!t)
        return;
    free_rows(t);
    an_strings_free(&t->str);
    for (int i = 0; i < C_NCACHE; i++)
        an_col_cache_free(&t->cc[i]);
    u64map_free(&t->stk_map);
    void *arrs[] = {t->stk_parent, t->stk_frame, t->stk_depth, t->stk_self, t->stk_count,
                    t->self_name, t->self_target};
    for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++)
        sl_free(arrs[i]);
    sl_free(t);
}

/*
 * Asks for transparent huge pages under a large array: the pass touches
 * hundreds of MB once, and with 4 kB pages the page faults (expensive under
 * virtualization) cost more than the work.  Advice only: failure changes nothing.
 */
static void huge_pages(void *p, size_t n)
{
    uintptr_t lo = ((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
    uintptr_t hi = ((uintptr_t)p + n) & ~(uintptr_t)(HUGE_PAGE - 1);
    if (n >= 4 * HUGE_PAGE && hi > lo)
        madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
}

/* Grows one array to ncap elements of size sz. */
static int grow(void **p, int64_t ncap, size_t sz)
{
    void *q = sl_realloc(*p, sz * (size_t)ncap);
    if (!q)
        return SL_ENOMEM;
    huge_pages(q, sz * (size_t)ncap);
    *p = q;
    return SL_OK;
}

static int reserve_rows(an_tree *t, int64_t need)
{
    if (need <= t->cap)
        return SL_OK;
    if (need > t->max)
        return SL_ETOOBIG;
    int64_t nc = t->cap ? t->cap * 2 : 65536;
    while (nc < need)
        nc *= 2;
    if (!t->cap && need > 65536)
        nc = need; /* a first reservation is the size the caller counted */
    if (nc > t->max)
        nc = t->max;
    int rc = SL_OK;
    void **u32s[] = {(void **)&t->sid, (void **)&t->name, (void **)&t->target, (void **)&t->frame0};
    void **i64s[] = {(void **)&t->id, (void **)&t->parent, (void **)&t->begin, (void **)&t->end};
    for (int i = 0; i < 4 && !rc; i++)
        rc = grow(u32s[i], nc, sizeof(uint32_t));
    for (int i = 0; i < 4 && !rc; i++)
        rc = grow(i64s[i], nc, sizeof(int64_t));
    if (!rc)
        t->cap = nc;
    return rc;
}

static int64_t i64_or(const col_vec *v, int64_t r, int64_t dflt)
{
    return col_vec_is_valid(v, r) ? col_vec_i64(v, r) : dflt;
}

int an_tree_reserve(an_tree *t, int64_t rows)
{
    return reserve_rows(t, rows < t->max ? rows : t->max);
}

int an_tree_add(an_tree *t, const col_vec *cols, int64_t n)
{
    int rc = reserve_rows(t, t->n + n);
    for (int64_t r = 0; r < n && !rc; r++) {
        int64_t i = t->n;
        uint32_t thread;
        rc = an_col_intern(&t->str, &t->cc[C_THREAD], &cols[1], r, &thread);
        if (!rc && thread != AN_NO_STR)
            rc = an_col_intern(&t->str, &t->cc[C_STREAM], &cols[0], r, &t->sid[i]);
        if (!rc)
            rc = an_col_intern(&t->str, &t->cc[C_NAME], &cols[6], r, &t->name[i]);
        if (!rc)
            rc = an_col_intern(&t->str, &t->cc[C_TARGET], &cols[7], r, &t->target[i]);
        if (rc)
            break;
        if (thread == AN_NO_STR)
            t->sid[i] = ASYNC_STREAM;
        t->frame0[i] = thread == AN_NO_STR ? t->async_frame : thread;
        t->id[i] = i64_or(&cols[2], r, 0);
        t->parent[i] = i64_or(&cols[3], r, thread == AN_NO_STR ? 0 : -1);
        t->begin[i] = i64_or(&cols[4], r, 0);
        t->end[i] = i64_or(&cols[5], r, OPEN_END);
        t->n++;
    }
    return rc;
}

/* ---- step 2: parent links ---- */

/* The slot of (stream, id): a well-mixed hash; the loops prefetch its cache misses. */
static uint64_t key_hash(uint32_t sid, int64_t id)
{
    return hash_u64((uint64_t)id ^ ((uint64_t)sid * 0x9E3779B97F4A7C15ull));
}

/* A slot holds its key, so a probe reads one line and never the row arrays. */
typedef struct slot {
    int64_t id;
    uint32_t sid;
    uint32_t row1; /* row + 1; 0: empty */
} slot;

/* The row of (sid, id), or -1; *h is left at the slot where the key would go. */
static int64_t probe(const slot *tab, uint64_t mask, uint32_t sid, int64_t id, uint64_t *h)
{
    uint64_t x = key_hash(sid, id) & mask;
    for (; tab[x].row1; x = (x + 1) & mask)
        if (tab[x].id == id && tab[x].sid == sid)
            break;
    *h = x;
    return (int64_t)tab[x].row1 - 1;
}

/* Lookups run this many rows ahead of their prefetches. */
#define PREFETCH_AHEAD 8

/* pidx[i]: the parent's row, -1 for a root (orphans and cycles counted later). */
static int link(an_tree *t, int32_t *pidx, int64_t *orphans)
{
    uint64_t cap = 16;
    while (cap < (uint64_t)t->n * 2)
        cap *= 2;
    slot *tab = sl_malloc(cap * sizeof *tab);
    if (!tab)
        return SL_ENOMEM;
    huge_pages(tab, cap * sizeof *tab);
    memset(tab, 0, cap * sizeof *tab);
    uint64_t mask = cap - 1, h;
    for (int64_t i = 0; i < t->n; i++) {
        if (i + PREFETCH_AHEAD < t->n)
            __builtin_prefetch(&tab[key_hash(t->sid[i + PREFETCH_AHEAD],
                                             t->id[i + PREFETCH_AHEAD]) & mask], 1);
        if (probe(tab, mask, t->sid[i], t->id[i], &h) < 0) /* a repeated id keeps its first row */
            tab[h] = (slot){t->id[i], t->sid[i], (uint32_t)i + 1};
    }
    *orphans = 0;
    for (int64_t i = 0; i < t->n; i++) {
        if (i + PREFETCH_AHEAD < t->n)
            __builtin_prefetch(&tab[key_hash(t->sid[i + PREFETCH_AHEAD],
                                             t->parent[i + PREFETCH_AHEAD]) & mask], 0);
        pidx[i] = -1;
        bool async = t->sid[i] == ASYNC_STREAM;
        if (async ? t->parent[i] == 0 : t->parent[i] < 0)
            continue;
        int64_t j = probe(tab, mask, t->sid[i], t->parent[i], &h);
        if (j >= 0 && j != i)
            pidx[i] = (int32_t)j;
        else
            (*orphans)++;
    }
    sl_free(tab);
    return SL_OK;
}

/* ---- step 4: stacks ---- */

static int stack_of(an_tree *t, uint32_t parent, uint32_t frame, uint32_t *out)
{
    uint64_t key = ((uint64_t)parent << 32) | frame;
    int64_t got = u64map_get(&t->stk_map, key);
    if (got >= 0) {
        *out = (uint32_t)got;
        return SL_OK;
    }
    if (t->nstk == t->capstk) {
        if (t->capstk >= (UINT32_MAX >> 2))
            return SL_ETOOBIG;
        uint32_t nc = t->capstk ? t->capstk * 2 : 1024;
        int rc = grow((void **)&t->stk_parent, nc, 4);
        if (!rc)
            rc = grow((void **)&t->stk_frame, nc, 4);
        if (!rc)
            rc = grow((void **)&t->stk_depth, nc, 4);
        if (!rc)
            rc = grow((void **)&t->stk_self, nc, 8);
        if (!rc)
            rc = grow((void **)&t->stk_count, nc, 8);
        if (rc)
            return rc;
        t->capstk = nc;
    }
    uint32_t s = t->nstk;
    int rc = u64map_put(&t->stk_map, key, s);
    if (rc)
        return rc;
    t->stk_parent[s] = parent;
    t->stk_frame[s] = frame;
    t->stk_depth[s] = parent == ROOT_PARENT ? 0 : t->stk_depth[parent] + 1;
    t->stk_self[s] = 0;
    t->stk_count[s] = 0;
    t->nstk++;
    *out = s;
    return SL_OK;
}

/* Gives every row its stack; a row's parent is resolved first, with a work list. */
static int resolve_stacks(an_tree *t, int32_t *pidx, uint32_t *stack, int64_t *cycles)
{
    int64_t wcap = 1024, nw;
    int32_t *work = sl_malloc(sizeof *work * (size_t)wcap);
    if (!work)
        return SL_ENOMEM;
    int rc = SL_OK;
    for (int64_t i = 0; i < t->n; i++)
        stack[i] = STACK_UNSET;
    for (int64_t i = 0; i < t->n && !rc; i++) {
        if (stack[i] != STACK_UNSET)
            continue;
        nw = 0;
        int32_t r = (int32_t)i;
        for (;;) {
            if (nw == wcap && (rc = grow((void **)&work, wcap *= 2, sizeof *work)))
                break;
            work[nw++] = r;
            stack[r] = STACK_BUSY;
            int32_t p = pidx[r];
            if (p < 0 || stack[p] < STACK_BUSY)
                break;
            if (stack[p] == STACK_BUSY) { /* a parent cycle: cut it here */
                pidx[r] = -1;
                (*cycles)++;
                break;
            }
            r = p;
        }
        while (nw > 0 && !rc) {
            r = work[--nw];
            uint32_t ps = ROOT_PARENT;
            if (pidx[r] >= 0)
                ps = stack[pidx[r]];
            else
                rc = stack_of(t, ROOT_PARENT, t->frame0[r], &ps);
            if (!rc)
                rc = stack_of(t, ps, t->name[r] == AN_NO_STR ? t->async_frame : t->name[r],
                              &stack[r]);
        }
    }
    sl_free(work);
    return rc;
}

/* ---- step 5: order statistics and concurrency ---- */

static int64_t select_k(int64_t *a, int64_t n, int64_t k)
{
    int64_t lo = 0, hi = n - 1;
    while (hi > lo) {
        int64_t x = a[lo], y = a[lo + (hi - lo) / 2], z = a[hi];
        int64_t pv = x < y ? (y < z ? y : x < z ? z : x) : (x < z ? x : y < z ? z : y);
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pv)
                i++;
            while (a[j] > pv)
                j--;
            if (i <= j) {
                int64_t tmp = a[i];
                a[i++] = a[j];
                a[j--] = tmp;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return a[k];
    }
    return a[k];
}

/* percentile_cont(q): linear interpolation between ranks floor and ceil of q (n - 1). */
static double quantile(int64_t *a, int64_t n, double q)
{
    if (n == 0)
        return 0;
    double pos = q * (double)(n - 1);
    int64_t lo = (int64_t)pos;
    int64_t v = select_k(a, n, lo);
    if (pos == (double)lo || lo + 1 >= n)
        return (double)v;
    int64_t next = INT64_MAX;
    for (int64_t i = lo + 1; i < n; i++)
        if (a[i] < next)
            next = a[i];
    return (double)v + (pos - (double)lo) * (double)(next - v);
}

/* LSD radix sort of n values, 11 bits a pass over the range actually used. */
static void radix_sort(int64_t *a, int64_t *tmp, int64_t n)
{
    if (n < 2)
        return;
    int64_t mn = a[0], mx = a[0];
    for (int64_t i = 1; i < n; i++) {
        mn = a[i] < mn ? a[i] : mn;
        mx = a[i] > mx ? a[i] : mx;
    }
    uint64_t range = (uint64_t)mx - (uint64_t)mn;
    if (!range)
        return;
    uint64_t *src = (uint64_t *)a, *dst = (uint64_t *)tmp;
    for (int64_t i = 0; i < n; i++)
        src[i] = (uint64_t)a[i] - (uint64_t)mn;
    int bits = 64 - __builtin_clzll(range);
    static const int D = 11;
    for (int shift = 0; shift < bits; shift += D) {
        int64_t count[1 << 11] = {0};
        for (int64_t i = 0; i < n; i++)
            count[(src[i] >> shift) & ((1u << D) - 1)]++;
        int64_t sum = 0;
        for (int d = 0; d < (1 << D); d++) {
            int64_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (int64_t i = 0; i < n; i++)
            dst[count[(src[i] >> shift) & ((1u << D) - 1)]++] = src[i];
        uint64_t *sw = src;
        src = dst;
        dst = sw;
    }
    if (src != (uint64_t *)a)
        memcpy(a, src, sizeof *a * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        a[i] = (int64_t)((uint64_t)a[i] + (uint64_t)mn);
}

/*
 * Spans are half-open [begin, end): at a time t the open ones are those begun
 * at or before t and not ended at or before t.  The count only rises at a
 * begin, so the maximum is found at begin times.  b and e are sorted.
 */
static void sweep(const int64_t *b, const int64_t *e, int64_t n, double sum_dur,
                  int64_t window_ns, an_conc *c)
{
    memset(c, 0, sizeof *c);
    int64_t i = 0, j = 0, open = 0;
    while (i < n) {
        int64_t t = b[i];
        while (j < n && e[j] <= t)
            j++, open--;
        while (i < n && b[i] == t)
            i++, open++;
        if (open > c->max) {
            c->max = open;
            c->max_at_ns = t;
            int64_t next = i < n ? b[i] : INT64_MAX;
            if (j < n && e[j] < next)
                next = e[j];
            c->max_for_ns = next == INT64_MAX ? 0 : next - t;
        }
    }
    c->mean = window_ns > 0 ? sum_dur / (double)window_ns : 0;
}

/* Concurrency of the complete spans selected by keep (NULL: all); uses tmp (n values). */
static int concurrency(an_tree *t, const int32_t *pidx, int64_t *tmp, int64_t window_ns,
                       an_conc *c)
{
    size_t bytes = sizeof(int64_t) * (size_t)(t->n ? t->n : 1);
    int64_t *b = sl_malloc(bytes), *e = sl_malloc(bytes);
    if (!b || !e) {
        sl_free(b);
        sl_free(e);
        return SL_ENOMEM;
    }
    huge_pages(b, bytes);
    huge_pages(e, bytes);
    int64_t k = 0;
    double sum = 0;
    for (int64_t i = 0; i < t->n; i++) {
        if (t->end[i] == OPEN_END || (pidx && pidx[i] >= 0))
            continue;
        b[k] = t->begin[i];
        e[k] = t->end[i] < t->begin[i] ? t->begin[i] : t->end[i];
        sum += (double)(e[k] - b[k]);
        k++;
    }
    radix_sort(b, tmp, k);
    radix_sort(e, tmp, k);
    sweep(b, e, k, sum, window_ns, c);
    sl_free(b);
    sl_free(e);
    return SL_OK;
}

/* ---- compute ---- */

/* Steps 3 and 4: self times by stack, name and target; hierarchy counts. */
static int self_times(an_tree *t, int32_t *pidx, const int64_t *dur, an_tree_result *r)
{
    int64_t *child = sl_calloc((size_t)(t->n ? t->n : 1), sizeof *child);
    uint32_t *stack = sl_malloc(sizeof *stack * (size_t)(t->n ? t->n : 1));
    t->self_name = sl_calloc(t->str.n, sizeof(int64_t));
    t->self_target = sl_calloc(t->str.n, sizeof(int64_t));
    int rc = child && stack && t->self_name && t->self_target ? SL_OK : SL_ENOMEM;
    if (!rc)
        rc = resolve_stacks(t, pidx, stack, &r->cycles);
    for (int64_t i = 0; i < t->n && !rc; i++)
        if (pidx[i] >= 0 && dur[i] != OPEN_END)
            child[pidx[i]] += dur[i];
    for (int64_t i = 0; i < t->n && !rc; i++) {
        if (pidx[i] >= 0)
            r->children++;
        else
            r->roots++;
        if ((int64_t)t->stk_depth[stack[i]] > r->max_depth)
            r->max_depth = t->stk_depth[stack[i]];
        if (dur[i] == OPEN_END)
            continue;
        if (pidx[i] < 0)
            r->root_total_ns += dur[i];
        int64_t self = dur[i] - child[i];
        if (self < 0) {
            r->overlap_ns += -self;
            self = 0;
        }
        r->self_total_ns += self;
        t->stk_self[stack[i]] += self;
        t->stk_count[stack[i]]++;
        if (t->name[i] != AN_NO_STR)
            t->self_name[t->name[i]] += self;
        if (t->target[i] != AN_NO_STR)
            t->self_target[t->target[i]] += self;
    }
    r->max_depth = r->max_depth > 0 ? r->max_depth - 1 : 0; /* stack depth 0 is the thread frame */
    r->nstacks = t->nstk;
    sl_free(child);
    sl_free(stack);
    return rc;
}

int an_tree_compute(an_tree *t, an_tree_result *r)
{
    memset(r, 0, sizeof *r);
    r->rows = t->n;
    int32_t *pidx = sl_malloc(sizeof *pidx * (size_t)(t->n ? t->n : 1));
    if (!pidx)
        return SL_ENOMEM;
    int rc = link(t, pidx, &r->orphans);
    if (rc)
        goto out;
    /* durations replace parent ids, which the links made useless */
    int64_t *dur = t->parent;
    r->first_begin_ns = INT64_MAX;
    r->last_end_ns = INT64_MIN;
    for (int64_t i = 0; i < t->n; i++) {
        dur[i] = t->end[i] == OPEN_END ? OPEN_END : t->end[i] - t->begin[i];
        if (t->end[i] == OPEN_END)
            continue;
        r->first_begin_ns = t->begin[i] < r->first_begin_ns ? t->begin[i] : r->first_begin_ns;
        r->last_end_ns = t->end[i] > r->last_end_ns ? t->end[i] : r->last_end_ns;
    }
    if ((rc = self_times(t, pidx, dur, r)))
        goto out;
    /* quantiles and the histogram over the complete durations, packed in place */
    int64_t k = 0;
    for (int64_t i = 0; i < t->n; i++) {
        if (dur[i] == OPEN_END)
            continue;
        int64_t d = dur[i];
        dur[k++] = d;
        r->hist[d <= 0 ? 0 : 64 - __builtin_clzll((uint64_t)d)]++;
    }
    r->complete = k;
    r->p50_ns = quantile(dur, k, 0.5);
    r->p90_ns = quantile(dur, k, 0.9);
    r->p99_ns = quantile(dur, k, 0.99);
    int64_t window = k ? r->last_end_ns - r->first_begin_ns : 0;
    if (!k)
        r->first_begin_ns = r->last_end_ns = 0;
    /* the ids are no longer needed: their array is the radix sort's buffer */
    rc = concurrency(t, NULL, t->id, window, &r->all);
    if (!rc)
        rc = concurrency(t, pidx, t->id, window, &r->roots_conc);
out:
    sl_free(pidx);
    free_rows(t);
    return rc;
}

int64_t an_tree_self_of_name(const an_tree *t, const char *s, size_t n)
{
    uint32_t id = an_strings_find(&t->str, s, n);
    return id == AN_NO_STR || !t->self_name ? 0 : t->self_name[id];
}

int64_t an_tree_self_of_target(const an_tree *t, const char *s, size_t n)
{
    uint32_t id = an_strings_find(&t->str, s, n);
    return id == AN_NO_STR || !t->self_target ? 0 : t->self_target[id];
}

/* ---- folded stacks ---- */

typedef struct line {
    const char *p;
    uint32_t len;
} line;

static int line_cmp(const void *a, const void *b)
{
    const line *x = a, *y = b;
    uint32_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->p, y->p, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* A frame as flamegraph.pl reads it: ';' separates frames, a line ends at '\n'. */
static int put_frame(dbuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ch = s[i] == ';' ? ':' : s[i] == '\n' || s[i] == '\r' ? ' ' : s[i];
        if (dbuf_append_byte(b, (uint8_t)ch))
            return SL_ENOMEM;
    }
    return SL_OK;
}

int an_tree_folded_json(const an_tree *t, jw *w)
{
    dbuf text;
    dbuf_init(&text, (size_t)1 << 31);
    uint32_t *chain = sl_malloc(sizeof *chain * 1024);
    size_t ccap = 1024;
    uint32_t *starts = sl_malloc(sizeof *starts * (t->nstk + 1u));
    int rc = chain && starts ? SL_OK : SL_ENOMEM;
    uint32_t nl = 0;
    for (uint32_t s = 0; s < t->nstk && !rc; s++) {
        if (!t->stk_count[s])
            continue;
        size_t nc = 0;
        for (uint32_t x = s; x != ROOT_PARENT; x = t->stk_parent[x]) {
            if (nc == ccap && (rc = grow((void **)&chain, (int64_t)(ccap *= 2), sizeof *chain)))
                break;
            chain[nc++] = t->stk_frame[x];
        }
        starts[nl++] = (uint32_t)text.len;
        while (nc > 0 && !rc) {
            size_t n;
            const char *f = an_strings_get(&t->str, chain[--nc], &n);
            rc = put_frame(&text, f, n);
            if (!rc)
                rc = dbuf_append_byte(&text, nc ? ';' : ' ');
        }
        if (!rc)
            rc = dbuf_printf(&text, "%lld", (long long)t->stk_self[s]);
    }
    line *lines = rc ? NULL : sl_malloc(sizeof *lines * (nl + 1u));
    if (!rc && !lines)
        rc = SL_ENOMEM;
    if (!rc) {
        for (uint32_t i = 0; i < nl; i++) {
            size_t end = i + 1 < nl ? starts[i + 1] : text.len;
            lines[i] = (line){(const char *)text.p + starts[i], (uint32_t)(end - starts[i])};
        }
        qsort(lines, nl, sizeof *lines, line_cmp);
        jw_arr_begin(w);
        for (uint32_t i = 0; i < nl; i++)
            jw_strn(w, lines[i].p, lines[i].len);
        jw_arr_end(w);
        rc = w->err;
    }
    sl_free(lines);
    sl_free(starts);
    sl_free(chain);
    dbuf_free(&text);
    return rc;
}
