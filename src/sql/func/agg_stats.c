/*
 * agg_stats.c - variance and standard deviation, exact percentiles
 * (percentile_cont, percentile_disc ... WITHIN GROUP) and an approximate
 * quantile with a bounded sketch (approx_percentile).
 *
 * Floats keep the exact sums of the values and of their squares
 * (base/xsum.h), and n * sum(x^2) - sum(x)^2 is computed exactly from them
 * before the one division: the result does not depend on the order of the
 * rows (a parallel GROUP BY, a continuous job on any number of workers) and
 * has no cancellation, equal values giving exactly 0.  PostgreSQL's
 * Youngs-Cramer updates depend on the order and may differ in the last bits.
 * Integer inputs keep exact int128 sums and finish in numeric with
 * PostgreSQL's division scale; numeric inputs are computed as doubles, as
 * floats are, and returned as numeric (docs/sql.md).
 *
 * approx_percentile(x, q) keeps a logarithmic histogram (DDSketch's idea):
 * bucket k holds values in (g^(k-1), g^k] with g = (1 + a) / (1 - a),
 * a = 1%, so any quantile of the values inside the kept range is returned
 * within 1% relative error.  At most APPROX_BUCKETS buckets are kept per sign;
 * past that the lowest buckets are merged (their error grows, the high
 * quantiles this is for stay exact to 1%).  Zero and negative values are
 * counted apart.  Memory per group: at most 2 x 2048 counters.
 */
#include "sql/func/kern.h"

#include "base/alloc.h"
#include "base/xsum.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATE(T, base, g) ((T *)(void *)((uint8_t *)(base) + (size_t)(g) * sizeof(T)))
#define SKIP(gids, i) ((gids) && (gids)[i] == UINT32_MAX)
#define GID(gids, i) ((gids) ? (gids)[i] : 0)

static int fail_mem(sql_agg_ctx *cx)
{
    return sql_err_set(cx->err, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
}

/* ---- variance: floats, exact sums ------------------------------------- */

typedef struct yc {
    xsum sx, sxx; /* the values, their squares */
    int64_t n;
} yc;

static void yc_init(void *s)
{
    memset(s, 0, sizeof(yc));
}

static int yc_update(sql_agg_ctx *cx, void *st, const uint32_t *gids, const sql_vec *a, int64_t n)
{
    (void)cx;
    bool is_int = a[0].v.type == COL_INT32 || a[0].v.type == COL_INT64;
    bool is_num = a[0].v.type == COL_FIXED16;
    for (int64_t i = 0; i < n; i++) {
        if (SKIP(gids, i) || !sql_vec_valid(&a[0], i))
            continue;
        yc *s = STATE(yc, st, GID(gids, i));
        double v = is_int ? (double)ka_int(&a[0], i) : is_num ? dec_to_double(ka_dec(&a[0], i))
                                                              : ka_f64(&a[0], i);
        s->n++;
        xsum_add(&s->sx, v);
        xsum_add_sq(&s->sxx, v);
    }
    return SL_OK;
}

static int yc_combine(sql_agg_ctx *cx, void *dst, const void *src)
{
    (void)cx;
    yc *d = dst;
    const yc *s = src;
    xsum_merge(&d->sx, &s->sx);
    xsum_merge(&d->sxx, &s->sxx);
    d->n += s->n;
    return SL_OK;
}

/* kind: 0 var_samp, 1 var_pop, 2 stddev_samp, 3 stddev_pop */
static int yc_final(sql_agg_ctx *cx, const void *st, col_vec *out, int kind)
{
    const yc *s = st;
    bool samp = kind == 0 || kind == 2;
    if (s->n == 0 || (samp && s->n == 1))
        return col_vec_append_null(out);
    double m, v;
    int e;
    if (xsum_spread(&s->sx, &s->sxx, s->n, &m, &e) == XSUM_SPECIAL) {
        v = NAN; /* an infinity or NaN among the values, as in PostgreSQL */
    } else {
        /* n * sum(x^2) - sum(x)^2 = m * 2^e, over n^2 or n (n - 1) */
        double q = m / (double)s->n / (double)(samp ? s->n - 1 : s->n);
        if (kind >= 2) {
            if (e & 1) {
                q *= 2;
                e--;
            }
            v = ldexp(sqrt(q), e / 2);
        } else {
            v = ldexp(q, e);
        }
        if (isinf(v))
            return sql_err_set(cx->err, SQLSTATE_OUT_OF_RANGE, -1, "value out of range: overflow");
    }
    if (cx->call && cx->call->type.id == ST_NUMERIC) {
        sql_dec d;
        if (dec_from_double(v, &d))
            return sql_err_set(cx->err, SQLSTATE_OUT_OF_RANGE, -1, "value overflows numeric format");
        return col_vec_append_fixed16(out, &d);
    }
    return col_vec_append_f64(out, v);
}

static int yc_save(const void *s, dbuf *out)
{
    return dbuf_append(out, s, sizeof(yc));
}

/* A checkpoint's state: this one, or (before format 13) Youngs-Cramer's
 * count, sum and sum of squared deviations, whose sums are rebuilt. */
static int yc_load(sql_agg_ctx *cx, void *st, const uint8_t *p, size_t n)
{
    yc *s = st;
    if (n == sizeof(yc)) {
        memcpy(s, p, n);
        return SL_OK;
    }
    double old[3]; /* n, sum, sum of squared deviations */
    if (n != sizeof old)
        return sql_err_set(cx->err, "XX001", -1,
                           "checkpoint: aggregation state damaged (variance of %zu bytes)", n);
    memcpy(old, p, sizeof old);
    if (!(old[0] >= 0 && old[0] < 9e18))
        return sql_err_set(cx->err, "XX001", -1,
                           "checkpoint: aggregation state damaged (variance count)");
    s->n = (int64_t)old[0];
    xsum_add(&s->sx, old[1]);
    if (s->n)
        xsum_add(&s->sxx, old[2] + old[1] * old[1] / old[0]);
    return SL_OK;
}

static int var_samp_f(sql_agg_ctx *cx, const void *s, col_vec *o) { return yc_final(cx, s, o, 0); }
static int var_pop_f(sql_agg_ctx *cx, const void *s, col_vec *o) { return yc_final(cx, s, o, 1); }
static int sd_samp_f(sql_agg_ctx *cx, const void *s, col_vec *o) { return yc_final(cx, s, o, 2); }
static int sd_pop_f(sql_agg_ctx *cx, const void *s, col_vec *o) { return yc_final(cx, s, o, 3); }

/* ---- variance: integers, exact ------------------------------------------ */

typedef struct ivar {
    __int128 sx, sxx;
    int64_t n;
    uint8_t overflow;
} ivar;

static void ivar_init(void *s)
{
    memset(s, 0, sizeof(ivar));
}

static int ivar_update(sql_agg_ctx *cx, void *st, const uint32_t *gids, const sql_vec *a, int64_t n)
{
    (void)cx;
    for (int64_t i = 0; i < n; i++) {
        if (SKIP(gids, i) || !sql_vec_valid(&a[0], i))
            continue;
        ivar *s = STATE(ivar, st, GID(gids, i));
        __int128 v = ka_int(&a[0], i), sq;
        if (__builtin_mul_overflow(v, v, &sq) || __builtin_add_overflow(s->sxx, sq, &s->sxx))
            s->overflow = 1;
        s->sx += v;
        s->n++;
    }
    return SL_OK;
}

static int ivar_combine(sql_agg_ctx *cx, void *dst, const void *src)
{
    (void)cx;
    ivar *d = dst;
    const ivar *s = src;
    if (__builtin_add_overflow(d->sxx, s->sxx, &d->sxx))
        d->overflow = 1;
    d->sx += s->sx;
    d->n += s->n;
    d->overflow |= s->overflow;
    return SL_OK;
}

/* PostgreSQL's numeric_var: (N * sxx - sx^2) / (N * (N - 1)), sqrt at the same scale. */
static int ivar_final(sql_agg_ctx *cx, const void *st, col_vec *out, int kind)
{
    const ivar *s = st;
    bool samp = kind == 0 || kind == 2;
    if (s->n == 0 || (samp && s->n == 1))
        return col_vec_append_null(out);
    __int128 num, sq, nsxx;
    if (s->overflow || __builtin_mul_overflow(s->sx, s->sx, &sq) ||
        __builtin_mul_overflow((__int128)s->n, s->sxx, &nsxx) ||
        __builtin_sub_overflow(nsxx, sq, &num))
        return sql_err_set(cx->err, SQLSTATE_OUT_OF_RANGE, -1, "value overflows numeric format");
    sql_dec r;
    if (num <= 0) {
        r = dec_from_i64(0);
    } else {
        __int128 den = samp ? (__int128)s->n * (s->n - 1) : (__int128)s->n * s->n;
        sql_dec dn, dd;
        if (dec_from_i128(num, &dn) || dec_from_i128(den, &dd))
            return sql_err_set(cx->err, SQLSTATE_OUT_OF_RANGE, -1, "value overflows numeric format");
        int rscale = dec_div_result_scale(dn, dd);
        if (dec_div_scale(dn, dd, rscale, &r))
            return sql_err_set(cx->err, SQLSTATE_OUT_OF_RANGE, -1, "value overflows numeric format");
        if (kind >= 2) {
            /* sqrt rounded at the same scale: from the double, corrected by one ulp */
            double v = sqrt(dec_to_double(r));
            char t[64];
            snprintf(t, sizeof t, "%.*f", rscale > 17 ? 17 : rscale, v);
            if (dec_parse(t, strlen(t), &r) || dec_round(r, rscale, &r))
                return sql_err_set(cx->err, SQLSTATE_OUT_OF_RANGE, -1, "value overflows numeric format");
        }
    }
    return col_vec_append_fixed16(out, &r);
}

static int var_samp_i(sql_agg_ctx *cx, const void *s, col_vec *o) { return ivar_final(cx, s, o, 0); }
static int var_pop_i(sql_agg_ctx *cx, const void *s, col_vec *o) { return ivar_final(cx, s, o, 1); }
static int sd_samp_i(sql_agg_ctx *cx, const void *s, col_vec *o) { return ivar_final(cx, s, o, 2); }
static int sd_pop_i(sql_agg_ctx *cx, const void *s, col_vec *o) { return ivar_final(cx, s, o, 3); }

/* ---- exact percentiles: every value kept -------------------------------- */

/*
 * Integers, times and floats are kept as order-preserving 64-bit keys in one
 * growing array per group (merged by copying arrays, answered by selection);
 * other types (numeric, interval) as a vector of values, sorted at the end.
 */
enum { PK_NONE, PK_INT, PK_FLOAT };

typedef struct pct {
    col_vec *vals;     /* numeric, interval: the group's values */
    uint64_t *keys;    /* the others: their keys */
    int64_t nk, kcap;
    uint8_t kind;      /* PK_* of the keys */
    double frac;
    uint8_t frac_set;
} pct;

static void pct_init(void *s)
{
    memset(s, 0, sizeof(pct));
}

static void pct_destroy(void *s)
{
    pct *p = s;
    if (p->vals) {
        col_vec_release(p->vals);
        sl_free(p->vals);
    }
    sl_free(p->keys);
    memset(p, 0, sizeof *p);
}

static int pk_kind(sql_type t)
{
    col_type c = sql_type_phys(t);
    return c == COL_DOUBLE ? PK_FLOAT
           : c == COL_INT32 || c == COL_INT64 || c == COL_TS_NS ? PK_INT
                                                                : PK_NONE;
}

static uint64_t f64_key(double f)
{
    if (f != f)
        return UINT64_MAX; /* NaN above every number, as PostgreSQL sorts it */
    if (f == 0)
        f = 0;
    uint64_t u;
    memcpy(&u, &f, 8);
    return (u >> 63) ? ~u : u ^ (1ull << 63);
}

static int keys_room(sql_agg_ctx *cx, pct *p, int64_t more)
{
    if (p->nk + more <= p->kcap)
        return SL_OK;
    int64_t nc = p->kcap ? p->kcap * 2 : 256;
    while (nc < p->nk + more)
        nc *= 2;
    uint64_t *k = sl_realloc(p->keys, sizeof *k * (size_t)nc);
    if (!k)
        return fail_mem(cx);
    if (cx->mem_bytes)
        *cx->mem_bytes += (int64_t)sizeof *k * (nc - p->kcap);
    p->keys = k;
    p->kcap = nc;
    return SL_OK;
}

/* args: [fraction, value] */
static int pct_update(sql_agg_ctx *cx, void *st, const uint32_t *gids, const sql_vec *a, int64_t n)
{
    sql_type vt = cx->call->args[1]->type;
    int kind = pk_kind(vt);
    for (int64_t i = 0; i < n; i++) {
        if (SKIP(gids, i))
            continue;
        pct *p = STATE(pct, st, GID(gids, i));
        if (!p->frac_set && sql_vec_valid(&a[0], i)) {
            p->frac = ka_f64(&a[0], i);
            p->frac_set = 1;
            if (p->frac < 0 || p->frac > 1 || p->frac != p->frac)
                return sql_err_set(cx->err, "22003", cx->call->loc,
                                   "percentile value %g is not between 0 and 1", p->frac);
        }
        if (!sql_vec_valid(&a[1], i))
            continue;
        if (kind != PK_NONE) {
            if (keys_room(cx, p, 1))
                return SL_ENOMEM;
            int64_t r = sql_vec_row(&a[1], i);
            p->keys[p->nk++] = kind == PK_FLOAT ? f64_key(col_vec_f64(&a[1].v, r))
                               : (uint64_t)(a[1].v.type == COL_INT32 ? col_vec_i32(&a[1].v, r)
                                                                     : col_vec_i64(&a[1].v, r)) ^
                                     (1ull << 63);
            p->kind = (uint8_t)kind;
            continue;
        }
        if (!p->vals) {
            if (!(p->vals = sl_calloc(1, sizeof *p->vals)))
                return fail_mem(cx);
            col_vec_init(p->vals, sql_type_phys(vt), 0);
        }
        size_t before = p->vals->values ? p->vals->values->cap_bytes : 0;
        sql_datum d = sql_datum_get(vt, &a[1].v, sql_vec_row(&a[1], i));
        if (sql_datum_append(vt, &d, p->vals))
            return fail_mem(cx);
        if (cx->mem_bytes)
            *cx->mem_bytes += (int64_t)(p->vals->values->cap_bytes - before);
    }
    return SL_OK;
}

/*
 * Checkpoints (host order, as every state): u8 kind, u8 frac_set, f64 frac,
 * i64 nk, nk u64 keys; then u8 the values' col_type (0: none), i64 n and n
 * values (FIXED16: 16 bytes; STRING, BINARY: u32 length + bytes; BOOL: 1 byte).
 */
static int pct_save(const void *st, dbuf *out)
{
    const pct *p = st;
    uint8_t h[2 + 8 + 8];
    h[0] = p->kind, h[1] = p->frac_set;
    memcpy(h + 2, &p->frac, 8);
    memcpy(h + 10, &p->nk, 8);
    int rc = dbuf_append(out, h, sizeof h);
    if (!rc && p->nk)
        rc = dbuf_append(out, p->keys, sizeof *p->keys * (size_t)p->nk);
    int64_t n = p->vals ? p->vals->len : 0;
    uint8_t t = p->vals ? (uint8_t)p->vals->type : 0;
    if (!rc && !(rc = dbuf_append_byte(out, t)))
        rc = dbuf_append(out, &n, 8);
    for (int64_t i = 0; i < n && !rc; i++) {
        const col_vec *v = p->vals;
        if (v->type == COL_FIXED16) {
            rc = dbuf_append(out, v->values->p + 16 * i, 16);
        } else if (v->type == COL_STRING || v->type == COL_BINARY) {
            size_t len;
            const uint8_t *b = col_vec_str(v, i, &len);
            uint32_t l = (uint32_t)len;
            if (!(rc = dbuf_append(out, &l, 4)))
                rc = dbuf_append(out, b, len);
        } else if (v->type == COL_BOOL) {
            rc = dbuf_append_byte(out, col_vec_bool(v, i));
        } else {
            rc = SL_EUNSUPPORTED;
        }
    }
    return rc;
}

static int pct_bad(sql_agg_ctx *cx)
{
    return sql_err_set(cx->err, "XX001", -1, "checkpoint: bad percentile state");
}

static int pct_load(sql_agg_ctx *cx, void *st, const uint8_t *b, size_t n)
{
    pct *p = st;
    int64_t nk, nv;
    if (n < 18 || b[0] > PK_FLOAT || b[1] > 1)
        return pct_bad(cx);
    p->kind = b[0], p->frac_set = b[1];
    memcpy(&p->frac, b + 2, 8);
    memcpy(&nk, b + 10, 8);
    b += 18, n -= 18;
    /* the values are kept as the call's argument type keeps them (pct_update):
     * keys of its kind, or a vector of its type; a fraction in [0, 1] */
    sql_type vt = cx->call->args[1]->type;
    int kind = pk_kind(vt);
    if (nk < 0 || (uint64_t)nk > n / 8 || !(p->frac >= 0 && p->frac <= 1) ||
        (nk && (kind == PK_NONE || p->kind != kind)))
        return pct_bad(cx);
    if (nk && keys_room(cx, p, nk))
        return SL_ENOMEM;
    if (nk)
        memcpy(p->keys, b, 8 * (size_t)nk);
    p->nk = nk;
    b += 8 * nk, n -= 8 * (size_t)nk;
    if (n < 9)
        return pct_bad(cx);
    uint8_t t = b[0];
    memcpy(&nv, b + 1, 8);
    b += 9, n -= 9;
    if (!t)
        return nv || n ? pct_bad(cx) : SL_OK;
    if ((t != COL_FIXED16 && t != COL_STRING && t != COL_BINARY && t != COL_BOOL) || nv < 0 ||
        (uint64_t)nv > n || kind != PK_NONE || t != (uint8_t)sql_type_phys(vt) || nk)
        return pct_bad(cx);
    if (!(p->vals = sl_calloc(1, sizeof *p->vals)))
        return fail_mem(cx);
    col_vec_init(p->vals, (col_type)t, 0);
    for (int64_t i = 0; i < nv; i++) {
        int rc;
        if (t == COL_FIXED16) {
            if (n < 16)
                return pct_bad(cx);
            rc = col_vec_append_fixed16(p->vals, b);
            b += 16, n -= 16;
        } else if (t == COL_BOOL) {
            if (n < 1 || b[0] > 1)
                return pct_bad(cx);
            rc = col_vec_append_bool(p->vals, b[0]);
            b += 1, n -= 1;
        } else {
            uint32_t l;
            if (n < 4)
                return pct_bad(cx);
            memcpy(&l, b, 4);
            if (n - 4 < l)
                return pct_bad(cx);
            rc = col_vec_append_str(p->vals, b + 4, l);
            b += 4 + (size_t)l, n -= 4 + (size_t)l;
        }
        if (rc)
            return fail_mem(cx);
    }
    if (n)
        return pct_bad(cx);
    if (cx->mem_bytes && p->vals->values)
        *cx->mem_bytes += (int64_t)p->vals->values->cap_bytes;
    return SL_OK;
}

static int pct_combine(sql_agg_ctx *cx, void *dst, const void *src)
{
    pct *d = dst;
    const pct *s = src;
    if (!d->frac_set) {
        d->frac = s->frac;
        d->frac_set = s->frac_set;
    }
    if (s->nk) {
        if (keys_room(cx, d, s->nk))
            return SL_ENOMEM;
        memcpy(d->keys + d->nk, s->keys, sizeof *s->keys * (size_t)s->nk);
        d->nk += s->nk;
        d->kind = s->kind;
    }
    if (!s->vals)
        return SL_OK;
    sql_type vt = cx->call->args[1]->type;
    if (!d->vals) {
        if (!(d->vals = sl_calloc(1, sizeof *d->vals)))
            return fail_mem(cx);
        col_vec_init(d->vals, s->vals->type, 0);
    }
    for (int64_t i = 0; i < s->vals->len; i++) {
        sql_datum v = sql_datum_get(vt, s->vals, i);
        if (sql_datum_append(vt, &v, d->vals))
            return fail_mem(cx);
    }
    return SL_OK;
}

static double key_double(int kind, uint64_t k)
{
    if (kind == PK_INT)
        return (double)(int64_t)(k ^ (1ull << 63));
    if (k == UINT64_MAX)
        return NAN;
    uint64_t u = (k >> 63) ? k ^ (1ull << 63) : ~k;
    double f;
    memcpy(&f, &u, 8);
    return f;
}

/* Reorders a[0..n) so that a[k] is the k-th smallest, smaller before, larger after. */
static void select_k(uint64_t *a, int64_t n, int64_t k)
{
    int64_t lo = 0, hi = n - 1;
    while (hi > lo) {
        int64_t mid = lo + (hi - lo) / 2;
        uint64_t x = a[lo], y = a[mid], z = a[hi];
        uint64_t piv = x < y ? (y < z ? y : x < z ? z : x) : (x < z ? x : y < z ? z : y);
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < piv)
                i++;
            while (a[j] > piv)
                j--;
            if (i <= j) {
                uint64_t t = a[i];
                a[i++] = a[j];
                a[j--] = t;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return;
    }
}

static sql_type g_sort_type;
static const col_vec *g_sort_vals;

static int cmp_rows(const void *x, const void *y)
{
    sql_datum a = sql_datum_get(g_sort_type, g_sort_vals, *(const int64_t *)x);
    sql_datum b = sql_datum_get(g_sort_type, g_sort_vals, *(const int64_t *)y);
    return sql_datum_cmp(g_sort_type, &a, &b);
}

/* The group's values in order, as row indexes (a sort of indexes, not of values). */
static int64_t *sorted_rows(sql_type t, const col_vec *v)
{
    int64_t *ix = sl_malloc(sizeof *ix * (size_t)(v->len ? v->len : 1));
    if (!ix)
        return NULL;
    for (int64_t i = 0; i < v->len; i++)
        ix[i] = i;
    /* qsort has no context: the finalize of one group runs on one thread at a time */
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&mu);
    g_sort_type = t;
    g_sort_vals = v;
    qsort(ix, (size_t)v->len, sizeof *ix, cmp_rows);
    pthread_mutex_unlock(&mu);
    return ix;
}

static double as_double(sql_type t, const col_vec *v, int64_t r)
{
    sql_datum d = sql_datum_get(t, v, r);
    switch (v->type) {
    case COL_INT32:
    case COL_INT64:
    case COL_TS_NS:
        return (double)d.i;
    case COL_FIXED16:
        return t.id == ST_INTERVAL ? dt_interval_epoch(&d.iv) : dec_to_double(d.d);
    default:
        return d.f;
    }
}

static int cont_final(sql_agg_ctx *cx, const void *st, col_vec *out)
{
    pct *p = (pct *)st; /* its keys are reordered: the group is finished */
    int64_t n = p->nk ? p->nk : p->vals ? p->vals->len : 0;
    if (!n)
        return col_vec_append_null(out);
    /* PostgreSQL: row = 1 + frac * (n - 1), interpolated between its neighbours */
    double pos = p->frac * (double)(n - 1);
    int64_t lo = (int64_t)floor(pos), hi = (int64_t)ceil(pos);
    double a, b;
    if (p->nk) {
        select_k(p->keys, n, lo);
        uint64_t kh = p->keys[lo];
        if (hi != lo) {
            kh = p->keys[lo + 1];
            for (int64_t i = lo + 2; i < n; i++)
                if (p->keys[i] < kh)
                    kh = p->keys[i];
        }
        a = key_double(p->kind, p->keys[lo]);
        b = key_double(p->kind, kh);
    } else {
        sql_type t = cx->call->args[1]->type;
        int64_t *ix = sorted_rows(t, p->vals);
        if (!ix)
            return fail_mem(cx);
        a = as_double(t, p->vals, ix[lo]);
        b = as_double(t, p->vals, ix[hi]);
        sl_free(ix);
    }
    double r = lo == hi ? a : a + (pos - (double)lo) * (b - a);
    if (cx->call->type.id == ST_INTERVAL) {
        sql_interval iv = {0, 0, (int64_t)llround(r * 1e9)};
        return col_vec_append_fixed16(out, &iv);
    }
    return col_vec_append_f64(out, r);
}

static int disc_final(sql_agg_ctx *cx, const void *st, col_vec *out)
{
    pct *p = (pct *)st;
    int64_t n = p->nk ? p->nk : p->vals ? p->vals->len : 0;
    if (!n)
        return col_vec_append_null(out);
    sql_type t = cx->call->args[1]->type;
    /* the first value whose position reaches the fraction */
    int64_t k = (int64_t)ceil(p->frac * (double)n) - 1;
    if (k < 0)
        k = 0;
    if (p->nk) {
        select_k(p->keys, n, k);
        sql_datum d = sql_datum_null();
        d.null = false;
        if (p->kind == PK_INT)
            d.i = (int64_t)(p->keys[k] ^ (1ull << 63));
        else
            d.f = key_double(PK_FLOAT, p->keys[k]);
        return sql_datum_append(cx->call->type, &d, out);
    }
    int64_t *ix = sorted_rows(t, p->vals);
    if (!ix)
        return fail_mem(cx);
    sql_datum d = sql_datum_get(t, p->vals, ix[k]);
    sl_free(ix);
    return sql_datum_append(cx->call->type, &d, out);
}

static sql_type disc_type(const sql_type *args, int nargs)
{
    return nargs > 1 ? args[1] : args[0];
}

/* ---- approx_percentile: a bounded logarithmic histogram ----------------- */

#define APPROX_ALPHA 0.01
#define APPROX_BUCKETS 2048

typedef struct hist {
    int32_t lo;         /* key of counts[0] */
    int32_t n;          /* buckets in use */
    int64_t *counts;
} hist;

typedef struct approx {
    hist pos, neg;
    int64_t zeros, total;
    double q;
    uint8_t q_set;
} approx;

static double g_log_gamma; /* ln((1 + a) / (1 - a)) */

static int32_t key_of(double v)
{
    if (g_log_gamma == 0)
        g_log_gamma = log((1 + APPROX_ALPHA) / (1 - APPROX_ALPHA));
    return (int32_t)ceil(log(v) / g_log_gamma);
}

static double value_of(int32_t k)
{
    if (g_log_gamma == 0)
        g_log_gamma = log((1 + APPROX_ALPHA) / (1 - APPROX_ALPHA));
    /* the bucket's midpoint in relative terms: 2 g^k / (g + 1) */
    double g = exp(g_log_gamma);
    return 2 * exp(g_log_gamma * k) / (g + 1);
}

/* Adds c to bucket k, keeping at most APPROX_BUCKETS (the lowest merged). */
static int hist_add(sql_agg_ctx *cx, hist *h, int32_t k, int64_t c)
{
    if (!h->counts) {
        h->counts = sl_calloc(64, sizeof *h->counts);
        if (!h->counts)
            return fail_mem(cx);
        if (cx->mem_bytes)
            *cx->mem_bytes += 64 * 8;
        h->lo = k;
        h->n = 64;
    }
    if (k < h->lo && h->lo + h->n - k > APPROX_BUCKETS)
        k = h->lo; /* below the kept range: into the lowest bucket */
    if (k < h->lo || k >= h->lo + h->n) {
        int32_t nlo = k < h->lo ? k : h->lo, nhi = k >= h->lo + h->n ? k + 1 : h->lo + h->n;
        int32_t nn = nhi - nlo;
        if (nn > APPROX_BUCKETS) {
            /* merge the lowest buckets so that k fits */
            int32_t drop = nn - APPROX_BUCKETS;
            int64_t merged = 0;
            for (int32_t j = 0; j < drop && j < h->n; j++)
                merged += h->counts[j];
            memmove(h->counts, h->counts + (drop < h->n ? drop : h->n),
                    sizeof *h->counts * (size_t)(h->n - (drop < h->n ? drop : h->n)));
            int32_t kept = h->n - (drop < h->n ? drop : h->n);
            memset(h->counts + kept, 0, sizeof *h->counts * (size_t)(h->n - kept));
            h->lo += drop;
            h->counts[0] += merged;
            nlo = h->lo;
            nn = nhi - nlo;
        }
        int32_t cap = h->n;
        while (cap < nn)
            cap *= 2;
        if (cap > APPROX_BUCKETS)
            cap = APPROX_BUCKETS;
        int64_t *nc = sl_calloc((size_t)cap, sizeof *nc);
        if (!nc)
            return fail_mem(cx);
        memcpy(nc + (h->lo - nlo), h->counts, sizeof *nc * (size_t)h->n);
        if (cx->mem_bytes)
            *cx->mem_bytes += (int64_t)(cap - h->n) * 8;
        sl_free(h->counts);
        h->counts = nc;
        h->lo = nlo;
        h->n = cap;
    }
    h->counts[k - h->lo] += c;
    return SL_OK;
}

static void approx_init(void *s)
{
    memset(s, 0, sizeof(approx));
}

static void approx_destroy(void *s)
{
    approx *a = s;
    sl_free(a->pos.counts);
    sl_free(a->neg.counts);
    memset(a, 0, sizeof *a);
}

/* Checkpoints (host order): i64 zeros, i64 total, f64 q, u8 q_set, then the positive
 * and the negative histogram: i32 lo, i32 n, n i64 counts. */
static int approx_save(const void *st, dbuf *out)
{
    const approx *a = st;
    uint8_t h[25];
    memcpy(h, &a->zeros, 8);
    memcpy(h + 8, &a->total, 8);
    memcpy(h + 16, &a->q, 8);
    h[24] = a->q_set;
    int rc = dbuf_append(out, h, sizeof h);
    for (int i = 0; i < 2 && !rc; i++) {
        const hist *x = i ? &a->neg : &a->pos;
        int32_t hn = x->counts ? x->n : 0;
        if (!(rc = dbuf_append(out, &x->lo, 4)) && !(rc = dbuf_append(out, &hn, 4)) && hn)
            rc = dbuf_append(out, x->counts, 8 * (size_t)hn);
    }
    return rc;
}

static int approx_load(sql_agg_ctx *cx, void *st, const uint8_t *b, size_t n)
{
    approx *a = st;
    if (n < 25 || b[24] > 1)
        return sql_err_set(cx->err, "XX001", -1, "checkpoint: bad approx_percentile state");
    memcpy(&a->zeros, b, 8);
    memcpy(&a->total, b + 8, 8);
    memcpy(&a->q, b + 16, 8);
    a->q_set = b[24];
    b += 25, n -= 25;
    for (int i = 0; i < 2; i++) {
        hist *x = i ? &a->neg : &a->pos;
        int32_t lo, hn;
        if (n < 8)
            return sql_err_set(cx->err, "XX001", -1, "checkpoint: bad approx_percentile state");
        memcpy(&lo, b, 4);
        memcpy(&hn, b + 4, 4);
        b += 8, n -= 8;
        if (hn < 0 || hn > APPROX_BUCKETS || (size_t)hn * 8 > n)
            return sql_err_set(cx->err, "XX001", -1, "checkpoint: bad approx_percentile state");
        if (!hn)
            continue;
        if (!(x->counts = sl_malloc(8 * (size_t)hn)))
            return fail_mem(cx);
        memcpy(x->counts, b, 8 * (size_t)hn);
        x->lo = lo, x->n = hn;
        b += 8 * (size_t)hn, n -= 8 * (size_t)hn;
        if (cx->mem_bytes)
            *cx->mem_bytes += 8 * (int64_t)hn;
    }
    /* what a state can hold: a fraction, counts that sum to the total, buckets of
     * keys a double has (key_of: within a few tens of thousands of 0) */
    int64_t sum = a->zeros;
    bool ok = !n && a->zeros >= 0 && (!a->q_set || (a->q >= 0 && a->q <= 1));
    for (int i = 0; i < 2 && ok; i++) {
        const hist *x = i ? &a->neg : &a->pos;
        ok = !x->n || (x->lo > -(1 << 24) && x->lo < (1 << 24));
        for (int32_t j = 0; j < x->n && ok; j++)
            ok = x->counts[j] >= 0 && !__builtin_add_overflow(sum, x->counts[j], &sum);
    }
    return ok && sum == a->total
               ? SL_OK
               : sql_err_set(cx->err, "XX001", -1, "checkpoint: bad approx_percentile state");
}

static int approx_one(sql_agg_ctx *cx, approx *s, double v)
{
    if (v != v)
        return SL_OK;
    s->total++;
    if (v == 0)
        return s->zeros++, SL_OK;
    return v > 0 ? hist_add(cx, &s->pos, key_of(v), 1) : hist_add(cx, &s->neg, key_of(-v), 1);
}

/* args: [value, q] */
static int approx_update(sql_agg_ctx *cx, void *st, const uint32_t *gids, const sql_vec *a, int64_t n)
{
    bool is_int = a[0].v.type == COL_INT32 || a[0].v.type == COL_INT64 || a[0].v.type == COL_TS_NS;
    for (int64_t i = 0; i < n; i++) {
        if (SKIP(gids, i) || !sql_vec_valid(&a[0], i))
            continue;
        approx *s = STATE(approx, st, GID(gids, i));
        if (!s->q_set && sql_vec_valid(&a[1], i)) {
            s->q = ka_f64(&a[1], i);
            s->q_set = 1;
            if (!(s->q >= 0 && s->q <= 1))
                return sql_err_set(cx->err, "22003", cx->call->loc,
                                   "percentile value %g is not between 0 and 1", s->q);
        }
        double v = is_int ? (double)ka_int(&a[0], i) : ka_f64(&a[0], i);
        int rc = approx_one(cx, s, v);
        if (rc)
            return rc;
    }
    return SL_OK;
}

static int approx_combine(sql_agg_ctx *cx, void *dst, const void *src)
{
    approx *d = dst;
    const approx *s = src;
    if (!d->q_set) {
        d->q = s->q;
        d->q_set = s->q_set;
    }
    d->zeros += s->zeros;
    d->total += s->total;
    const hist *hs[2] = {&s->pos, &s->neg};
    hist *hd[2] = {&d->pos, &d->neg};
    for (int h = 0; h < 2; h++)
        for (int32_t j = 0; j < hs[h]->n; j++)
            if (hs[h]->counts[j]) {
                int rc = hist_add(cx, hd[h], hs[h]->lo + j, hs[h]->counts[j]);
                if (rc)
                    return rc;
            }
    return SL_OK;
}

static int approx_final(sql_agg_ctx *cx, const void *st, col_vec *out)
{
    (void)cx;
    const approx *s = st;
    if (!s->total)
        return col_vec_append_null(out);
    /* the rank of the quantile (as percentile_disc counts), walked from the smallest */
    int64_t rank = (int64_t)ceil(s->q * (double)s->total) - 1, seen = 0;
    if (rank < 0)
        rank = 0;
    for (int32_t j = s->neg.n - 1; j >= 0; j--) {
        seen += s->neg.counts[j];
        if (seen > rank)
            return col_vec_append_f64(out, -value_of(s->neg.lo + j));
    }
    seen += s->zeros;
    if (seen > rank)
        return col_vec_append_f64(out, 0);
    for (int32_t j = 0; j < s->pos.n; j++) {
        seen += s->pos.counts[j];
        if (seen > rank)
            return col_vec_append_f64(out, value_of(s->pos.lo + j));
    }
    return col_vec_append_f64(out, s->pos.n ? value_of(s->pos.lo + s->pos.n - 1) : 0);
}

#define VAR(name, arg, ret, size, ini, upd, comb, fin, sv, ld)                                  \
    {name, 1, {arg}, ret, size, false, NULL, ini, upd, comb, fin, NULL, sv, ld}
#define VAR_F(name, arg, ret, fin)                                                              \
    VAR(name, arg, ret, sizeof(yc), yc_init, yc_update, yc_combine, fin, yc_save, yc_load)
#define VAR_I(name, arg, fin)                                                                   \
    VAR(name, arg, ST_NUMERIC, sizeof(ivar), ivar_init, ivar_update, ivar_combine, fin, NULL, NULL)
#define VARS_F(name, fin)                                                                       \
    VAR_F(name, ST_FLOAT8, ST_FLOAT8, fin), VAR_F(name, ST_FLOAT4, ST_FLOAT8, fin),            \
        VAR_F(name, ST_NUMERIC, ST_NUMERIC, fin)
#define VARS_I(name, fin)                                                                       \
    VAR_I(name, ST_INT2, fin), VAR_I(name, ST_INT4, fin), VAR_I(name, ST_INT8, fin)

static const sql_agg g_stats[] = {
    VARS_F("var_samp", var_samp_f),   VARS_I("var_samp", var_samp_i),
    VARS_F("variance", var_samp_f),   VARS_I("variance", var_samp_i),
    VARS_F("var_pop", var_pop_f),     VARS_I("var_pop", var_pop_i),
    VARS_F("stddev_samp", sd_samp_f), VARS_I("stddev_samp", sd_samp_i),
    VARS_F("stddev", sd_samp_f),      VARS_I("stddev", sd_samp_i),
    VARS_F("stddev_pop", sd_pop_f),   VARS_I("stddev_pop", sd_pop_i),
    {"percentile_cont", 2, {ST_FLOAT8, ST_FLOAT8}, ST_FLOAT8, sizeof(pct), false, NULL, pct_init,
     pct_update, pct_combine, cont_final, pct_destroy, pct_save, pct_load},
    {"percentile_cont", 2, {ST_FLOAT8, ST_INTERVAL}, ST_INTERVAL, sizeof(pct), false, NULL,
     pct_init, pct_update, pct_combine, cont_final, pct_destroy, pct_save, pct_load},
    {"percentile_disc", 2, {ST_FLOAT8, ST_NULL}, ST_NULL, sizeof(pct), false, disc_type,
     pct_init, pct_update, pct_combine, disc_final, pct_destroy, pct_save, pct_load},
    {"approx_percentile", 2, {ST_FLOAT8, ST_FLOAT8}, ST_FLOAT8, sizeof(approx), false, NULL,
     approx_init, approx_update, approx_combine, approx_final, approx_destroy, approx_save, approx_load},
};

sql_agg_table sql_aggs_stats(void)
{
    return (sql_agg_table){g_stats, sizeof g_stats / sizeof g_stats[0]};
}
