/*
 * agg_basic.c - count, sum, avg, min, max, bool_and, bool_or, string_agg,
 * array_agg.
 *
 * Result types follow PostgreSQL: sum(int2/int4) is int8, sum(int8) and
 * avg of any integer are numeric (exact, from an int128 running sum),
 * avg(float) is float8.  Float sums and averages add exactly (base/xsum.h)
 * and round once, so they do not depend on the order of the rows: a parallel
 * GROUP BY, or a continuous job on any number of workers, prints the same
 * bits (PostgreSQL adds in row order and may differ in the last bits).
 * States are fixed-size structs, so a parallel GROUP BY combines per-worker
 * states with `combine`, and a checkpoint stores them as bytes; min/max of
 * strings and string_agg keep their bytes in memory the state owns (freed by
 * `destroy`, counted in the query's memory).
 */
#include "sql/func/kern.h"

#include "base/alloc.h"
#include "base/xsum.h"

#include <math.h>

#define STATE(T, base, g, size) ((T *)(void *)((uint8_t *)(base) + (size_t)(g) * (size)))
#define SKIP(gids, i) ((gids) && (gids)[i] == UINT32_MAX)
#define GID(gids, i) ((gids) ? (gids)[i] : 0)

static int agg_overflow(sql_agg_ctx *cx, const char *msg)
{
    return sql_err_set(cx->err, SQLSTATE_OUT_OF_RANGE, cx->call ? cx->call->loc : -1, "%s", msg);
}

/* ---- count -------------------------------------------------------------- */

static void count_init(void *s)
{
    *(int64_t *)s = 0;
}

static int count_update(sql_agg_ctx *cx, void *st, const uint32_t *gids, const sql_vec *a, int64_t n)
{
    (void)cx;
    bool star = !a;
    for (int64_t i = 0; i < n; i++)
        if (!SKIP(gids, i) && (star || sql_vec_valid(&a[0], i)))
            (*STATE(int64_t, st, GID(gids, i), 8))++;
    return SL_OK;
}

static int count_combine(sql_agg_ctx *cx, void *d, const void *s)
{
    (void)cx;
    *(int64_t *)d += *(const int64_t *)s;
    return SL_OK;
}

static int count_final(sql_agg_ctx *cx, const void *s, col_vec *out)
{
    (void)cx;
    return col_vec_append_i64(out, *(const int64_t *)s);
}

/* ---- sums and averages of integers: int128 running sums ----------------- */

typedef struct isum {
    __int128 sum;
    int64_t n;
} isum;

static void isum_init(void *s)
{
    memset(s, 0, sizeof(isum));
}

static int isum_update(sql_agg_ctx *cx, void *st, const uint32_t *gids, const sql_vec *a, int64_t n)
{
    (void)cx;
    if (!a[0].is_const && !a[0].v.validity && !gids) {
        /* the common case of a plain column with no nulls and one group */
        isum *s = st;
        __int128 sum = 0;
        if (a[0].v.type == COL_INT32)
            for (int64_t i = 0; i < n; i++)
                sum += col_vec_i32(&a[0].v, i);
        else
            for (int64_t i = 0; i < n; i++)
                sum += col_vec_i64(&a[0].v, i);
        s->sum += sum;
        s->n += n;
        return SL_OK;
    }
    for (int64_t i = 0; i < n; i++) {
        if (SKIP(gids, i) || !sql_vec_valid(&a[0], i))
            continue;
        isum *s = STATE(isum, st, GID(gids, i), sizeof(isum));
        s->sum += ka_int(&a[0], i);
        s->n++;
    }
    return SL_OK;
}

static int isum_combine(sql_agg_ctx *cx, void *d, const void *s)
{
    (void)cx;
    ((isum *)d)->sum += ((const isum *)s)->sum;
    ((isum *)d)->n += ((const isum *)s)->n;
    return SL_OK;
}

static int sum_int_to_int8(sql_agg_ctx *cx, const void *s, col_vec *out)
{
    const isum *x = s;
    if (!x->n)
        return col_vec_append_null(out);
    if (x->sum > INT64_MAX || x->sum < INT64_MIN)
        return agg_overflow(cx, "bigint out of range");
    return col_vec_append_i64(out, (int64_t)x->sum);
}

static int sum_int_to_num(sql_agg_ctx *cx, const void *s, col_vec *out)
{
    const isum *x = s;
    if (!x->n)
        return col_vec_append_null(out);
    sql_dec d;
    if (dec_from_i128(x->sum, &d))
        return agg_overflow(cx, "value overflows numeric format");
    return col_vec_append_fixed16(out, &d);
}

static int avg_int(sql_agg_ctx *cx, const void *s, col_vec *out)
{
    const isum *x = s;
    if (!x->n)
        return col_vec_append_null(out);
    sql_dec sum, q;
    if (dec_from_i128(x->sum, &sum) || dec_div(sum, dec_from_i64(x->n), &q))
        return agg_overflow(cx, "value overflows numeric format");
    return col_vec_append_fixed16(out, &q);
}

/* ---- floats: exact sums, one rounding (base/xsum.h) --------------------- */

typedef struct fsum {
    xsum sum;
    int64_t n;
} fsum;

static void fsum_init(void *s)
{
    memset(s, 0, sizeof(fsum));
}

static int fsum_update(sql_agg_ctx *cx, void *st, const uint32_t *gids, const sql_vec *a, int64_t n)
{
    (void)cx;
    for (int64_t i = 0; i < n; i++) {
        if (SKIP(gids, i) || !sql_vec_valid(&a[0], i))
            continue;
        fsum *s = STATE(fsum, st, GID(gids, i), sizeof(fsum));
        xsum_add(&s->sum, ka_f64(&a[0], i));
        s->n++;
    }
    return SL_OK;
}

static int fsum_combine(sql_agg_ctx *cx, void *d, const void *s)
{
    (void)cx;
    xsum_merge(&((fsum *)d)->sum, &((const fsum *)s)->sum);
    ((fsum *)d)->n += ((const fsum *)s)->n;
    return SL_OK;
}

static int sum_flt(sql_agg_ctx *cx, const void *s, col_vec *out)
{
    const fsum *x = s;
    bool f4 = cx->call && cx->call->type.id == ST_FLOAT4;
    if (!x->n)
        return col_vec_append_null(out);
    double v;
    int rc = xsum_get(&x->sum, 0, &v, NULL);
    if (rc == XSUM_OVERFLOW || (f4 && rc == XSUM_FINITE && isinf((float)v)))
        return agg_overflow(cx, "value out of range: overflow");
    return col_vec_append_f64(out, f4 ? (double)(float)v : v);
}

static int avg_flt(sql_agg_ctx *cx, const void *s, col_vec *out)
{
    const fsum *x = s;
    if (!x->n)
        return col_vec_append_null(out);
    double v;
    if (xsum_get(&x->sum, 0, &v, NULL) != XSUM_OVERFLOW)
        return col_vec_append_f64(out, v / (double)x->n);
    /* the sum is beyond the doubles, the average may not be */
    xsum_get(&x->sum, 64, &v, NULL);
    v = ldexp(v / (double)x->n, 64);
    if (isinf(v))
        return agg_overflow(cx, "value out of range: overflow");
    return col_vec_append_f64(out, v);
}

static int fsum_save(const void *s, dbuf *out)
{
    return dbuf_append(out, s, sizeof(fsum));
}

/* A checkpoint's state: this one, or (before format 13) a double and a count. */
static int fsum_load(sql_agg_ctx *cx, void *st, const uint8_t *p, size_t n)
{
    fsum *s = st;
    if (n == sizeof(fsum)) {
        memcpy(s, p, n);
        return SL_OK;
    }
    if (n != 16)
        return sql_err_set(cx->err, "XX001", -1,
                           "checkpoint: aggregation state damaged (float sum of %zu bytes)", n);
    double sum;
    memcpy(&sum, p, 8);
    memcpy(&s->n, p + 8, 8);
    xsum_add(&s->sum, sum);
    return SL_OK;
}

/* ---- numeric ------------------------------------------------------------ */

typedef struct nsum {
    sql_dec sum;
    int64_t n;
} nsum;

static void nsum_init(void *s)
{
    memset(s, 0, sizeof(nsum));
}

static int nsum_update(sql_agg_ctx *cx, void *st, const uint32_t *gids, const sql_vec *a, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        if (SKIP(gids, i) || !sql_vec_valid(&a[0], i))
            continue;
        nsum *s = STATE(nsum, st, GID(gids, i), sizeof(nsum));
        if (dec_add(s->sum, ka_dec(&a[0], i), &s->sum))
            return agg_overflow(cx, "value overflows numeric format");
        s->n++;
    }
    return SL_OK;
}

static int nsum_combine(sql_agg_ctx *cx, void *d, const void *s)
{
    nsum *x = d;
    const nsum *y = s;
    if (dec_add(x->sum, y->sum, &x->sum))
        return agg_overflow(cx, "value overflows numeric format");
    x->n += y->n;
    return SL_OK;
}

static int sum_num(sql_agg_ctx *cx, const void *s, col_vec *out)
{
    (void)cx;
    const nsum *x = s;
    if (!x->n)
        return col_vec_append_null(out);
    return col_vec_append_fixed16(out, &x->sum);
}

static int avg_num(sql_agg_ctx *cx, const void *s, col_vec *out)
{
    const nsum *x = s;
    if (!x->n)
        return col_vec_append_null(out);
    sql_dec q;
    if (dec_div(x->sum, dec_from_i64(x->n), &q))
        return agg_overflow(cx, "value overflows numeric format");
    return col_vec_append_fixed16(out, &q);
}

/* ---- intervals ---------------------------------------------------------- */

typedef struct ivsum {
    sql_interval sum;
    int64_t n;
} ivsum;

static void ivsum_init(void *s)
{
    memset(s, 0, sizeof(ivsum));
}

static int ivsum_update(sql_agg_ctx *cx, void *st, const uint32_t *gids, const sql_vec *a, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        if (SKIP(gids, i) || !sql_vec_valid(&a[0], i))
            continue;
        ivsum *s = STATE(ivsum, st, GID(gids, i), sizeof(ivsum));
        sql_interval v = ka_iv(&a[0], i);
        if (dt_interval_add(&s->sum, &v, 1, &s->sum))
            return agg_overflow(cx, "interval out of range");
        s->n++;
    }
    return SL_OK;
}

static int ivsum_combine(sql_agg_ctx *cx, void *d, const void *s)
{
    ivsum *x = d;
    const ivsum *y = s;
    if (dt_interval_add(&x->sum, &y->sum, 1, &x->sum))
        return agg_overflow(cx, "interval out of range");
    x->n += y->n;
    return SL_OK;
}

static int sum_iv(sql_agg_ctx *cx, const void *s, col_vec *out)
{
    (void)cx;
    const ivsum *x = s;
    return x->n ? col_vec_append_fixed16(out, &x->sum) : col_vec_append_null(out);
}

static int avg_iv(sql_agg_ctx *cx, const void *s, col_vec *out)
{
    const ivsum *x = s;
    if (!x->n)
        return col_vec_append_null(out);
    sql_interval r;
    if (dt_interval_mul(&x->sum, 1.0 / (double)x->n, &r))
        return agg_overflow(cx, "interval out of range");
    return col_vec_append_fixed16(out, &r);
}

/* ---- min / max ---------------------------------------------------------- */

/* Any type: the value's bytes inline (fixed width) or owned (strings). */
typedef struct mm {
    uint8_t set;
    uint8_t owned;      /* p was allocated by the state */
    uint32_t n;         /* string length */
    union {
        uint8_t fixed[16];
        uint8_t *p;
    };
} mm;

static void mm_init(void *s)
{
    memset(s, 0, sizeof(mm));
}

static void mm_destroy(void *s)
{
    mm *m = s;
    if (m->owned)
        sl_free(m->p);
    memset(m, 0, sizeof *m);
}

/* Checkpoints: set, owned, then the owned bytes or the 16 fixed ones. */
static int mm_save(const void *s, dbuf *out)
{
    const mm *m = s;
    uint8_t h[2] = {m->set, m->owned};
    int rc = dbuf_append(out, h, 2);
    if (!rc)
        rc = m->owned ? dbuf_append(out, m->p, m->n) : dbuf_append(out, m->fixed, 16);
    return rc;
}

static int mm_load(sql_agg_ctx *cx, void *s, const uint8_t *p, size_t n)
{
    mm *m = s;
    if (n < 2 || p[0] > 1 || p[1] > 1 || (!p[1] && n != 18) || n - 2 > UINT32_MAX)
        return sql_err_set(cx->err, "XX001", -1, "checkpoint: bad min/max state");
    m->set = p[0];
    if (!p[1]) {
        memcpy(m->fixed, p + 2, 16);
        return SL_OK;
    }
    if (!(m->p = sl_malloc(n - 2 ? n - 2 : 1)))
        return sql_err_set(cx->err, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    memcpy(m->p, p + 2, n - 2);
    m->n = (uint32_t)(n - 2);
    m->owned = 1;
    if (cx->mem_bytes)
        *cx->mem_bytes += (int64_t)m->n;
    return SL_OK;
}

static sql_datum mm_datum(sql_type t, const mm *m)
{
    sql_datum d;
    memset(&d, 0, sizeof d);
    switch (sql_type_phys(t)) {
    case COL_STRING:
    case COL_BINARY:
    case COL_DICT:
        d.s.p = m->p;
        d.s.n = m->n;
        break;
    case COL_BOOL:
        d.b = m->fixed[0];
        break;
    case COL_INT32:
    case COL_UINT32: {
        int32_t v;
        memcpy(&v, m->fixed, 4);
        d.i = v;
        break;
    }
    case COL_DOUBLE:
        memcpy(&d.f, m->fixed, 8);
        break;
    case COL_FIXED16:
        memcpy(t.id == ST_INTERVAL ? (void *)&d.iv : (void *)&d.d, m->fixed, 16);
        break;
    default:
        memcpy(&d.i, m->fixed, 8);
        break;
    }
    return d;
}

static int mm_store(sql_agg_ctx *cx, sql_type t, mm *m, const sql_datum *d)
{
    switch (sql_type_phys(t)) {
    case COL_STRING:
    case COL_BINARY:
    case COL_DICT: {
        uint8_t *p = d->s.n ? sl_malloc(d->s.n) : NULL;
        if (d->s.n && !p)
            return sql_err_set(cx->err, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
        if (d->s.n)
            memcpy(p, d->s.p, d->s.n);
        if (cx->mem_bytes)
            *cx->mem_bytes += (int64_t)d->s.n - (m->owned ? (int64_t)m->n : 0);
        if (m->owned)
            sl_free(m->p);
        m->p = p;
        m->n = d->s.n;
        m->owned = p != NULL;
        break;
    }
    case COL_BOOL:
        m->fixed[0] = d->b;
        break;
    case COL_INT32:
    case COL_UINT32: {
        int32_t v = (int32_t)d->i;
        memcpy(m->fixed, &v, 4);
        break;
    }
    case COL_DOUBLE:
        memcpy(m->fixed, &d->f, 8);
        break;
    case COL_FIXED16:
        memcpy(m->fixed, t.id == ST_INTERVAL ? (const void *)&d->iv : (const void *)&d->d, 16);
        break;
    default:
        memcpy(m->fixed, &d->i, 8);
        break;
    }
    m->set = 1;
    return SL_OK;
}

static int mm_update(sql_agg_ctx *cx, void *st, const uint32_t *gids, const sql_vec *a, int64_t n,
                     int sign)
{
    sql_type t = cx->call->args[0]->type;
    /* fast paths: one group, int64 or double without nulls */
    if (!gids && !a[0].is_const && !a[0].v.validity && n > 0 &&
        (a[0].v.type == COL_INT64 || a[0].v.type == COL_TS_NS || a[0].v.type == COL_INT32)) {
        int64_t best = ka_int(&a[0], 0);
        for (int64_t i = 1; i < n; i++) {
            int64_t v = ka_int(&a[0], i);
            if (sign > 0 ? v > best : v < best)
                best = v;
        }
        sql_datum d = {.i = best};
        mm *m = st;
        sql_datum cur = mm_datum(t, m);
        if (!m->set || (sign > 0 ? best > cur.i : best < cur.i))
            return mm_store(cx, t, m, &d);
        return SL_OK;
    }
    /* grouped fast paths: the state's fixed bytes compared as numbers */
    col_type vt = a[0].v.type;
    if (!a[0].is_const && (vt == COL_INT64 || vt == COL_TS_NS || vt == COL_DOUBLE)) {
        for (int64_t i = 0; i < n; i++) {
            if (SKIP(gids, i) || !col_vec_is_valid(&a[0].v, i))
                continue;
            mm *m = STATE(mm, st, GID(gids, i), sizeof(mm));
            if (vt == COL_DOUBLE) {
                double v = col_vec_f64(&a[0].v, i), cur;
                memcpy(&cur, m->fixed, 8);
                /* NaN sorts above every number, as in PostgreSQL */
                int c = !m->set ? 1
                        : v != v ? (cur != cur ? 0 : 1)
                        : cur != cur ? -1
                                     : (v > cur) - (v < cur);
                if (!m->set || sign * c > 0) {
                    memcpy(m->fixed, &v, 8);
                    m->set = 1;
                }
            } else {
                int64_t v = col_vec_i64(&a[0].v, i), cur;
                memcpy(&cur, m->fixed, 8);
                if (!m->set || (sign > 0 ? v > cur : v < cur)) {
                    memcpy(m->fixed, &v, 8);
                    m->set = 1;
                }
            }
        }
        return SL_OK;
    }
    for (int64_t i = 0; i < n; i++) {
        if (SKIP(gids, i) || !sql_vec_valid(&a[0], i))
            continue;
        mm *m = STATE(mm, st, GID(gids, i), sizeof(mm));
        sql_datum d = sql_datum_get(t, &a[0].v, sql_vec_row(&a[0], i));
        if (m->set) {
            sql_datum cur = mm_datum(t, m);
            if (sign * sql_datum_cmp(t, &d, &cur) <= 0)
                continue;
        }
        int rc = mm_store(cx, t, m, &d);
        if (rc)
            return rc;
    }
    return SL_OK;
}

static int max_update(sql_agg_ctx *cx, void *st, const uint32_t *gids, const sql_vec *a, int64_t n)
{
    return mm_update(cx, st, gids, a, n, 1);
}

static int min_update(sql_agg_ctx *cx, void *st, const uint32_t *gids, const sql_vec *a, int64_t n)
{
    return mm_update(cx, st, gids, a, n, -1);
}

static int mm_combine(sql_agg_ctx *cx, void *dst, const void *src, int sign)
{
    const mm *s = src;
    mm *d = dst;
    if (!s->set)
        return SL_OK;
    sql_type t = cx->call->args[0]->type;
    sql_datum sv = mm_datum(t, s);
    if (d->set) {
        sql_datum dv = mm_datum(t, d);
        if (sign * sql_datum_cmp(t, &sv, &dv) <= 0)
            return SL_OK;
    }
    return mm_store(cx, t, d, &sv);
}

static int max_combine(sql_agg_ctx *cx, void *d, const void *s)
{
    return mm_combine(cx, d, s, 1);
}

static int min_combine(sql_agg_ctx *cx, void *d, const void *s)
{
    return mm_combine(cx, d, s, -1);
}

static int mm_final(sql_agg_ctx *cx, const void *s, col_vec *out)
{
    const mm *m = s;
    if (!m->set)
        return col_vec_append_null(out);
    sql_datum d = mm_datum(cx->call->type, m);
    return sql_datum_append(cx->call->type, &d, out);
}

static sql_type same_as_arg(const sql_type *args, int nargs)
{
    (void)nargs;
    return args[0];
}

/* ---- bool_and / bool_or ------------------------------------------------- */

/* 0 no value yet, 1 false, 2 true */
static void b_init(void *s)
{
    *(uint8_t *)s = 0;
}

static int b_update(void *st, const uint32_t *gids, const sql_vec *a, int64_t n, bool is_and)
{
    for (int64_t i = 0; i < n; i++) {
        if (SKIP(gids, i) || !sql_vec_valid(&a[0], i))
            continue;
        uint8_t *s = STATE(uint8_t, st, GID(gids, i), 1);
        bool v = ka_bool(&a[0], i);
        bool cur = *s == 2;
        *s = (uint8_t)((*s == 0 ? v : is_and ? (cur && v) : (cur || v)) ? 2 : 1);
    }
    return SL_OK;
}

static int and_update(sql_agg_ctx *cx, void *st, const uint32_t *g, const sql_vec *a, int64_t n)
{
    (void)cx;
    return b_update(st, g, a, n, true);
}

static int or_update(sql_agg_ctx *cx, void *st, const uint32_t *g, const sql_vec *a, int64_t n)
{
    (void)cx;
    return b_update(st, g, a, n, false);
}

static int and_combine(sql_agg_ctx *cx, void *d, const void *s)
{
    (void)cx;
    uint8_t *x = d, y = *(const uint8_t *)s;
    if (y)
        *x = *x == 0 ? y : (*x == 2 && y == 2) ? 2 : 1;
    return SL_OK;
}

static int or_combine(sql_agg_ctx *cx, void *d, const void *s)
{
    (void)cx;
    uint8_t *x = d, y = *(const uint8_t *)s;
    if (y)
        *x = *x == 0 ? y : (*x == 2 || y == 2) ? 2 : 1;
    return SL_OK;
}

static int b_final(sql_agg_ctx *cx, const void *s, col_vec *out)
{
    (void)cx;
    uint8_t v = *(const uint8_t *)s;
    return v ? col_vec_append_bool(out, v == 2) : col_vec_append_null(out);
}

/* ---- string_agg and array_agg ------------------------------------------- */

typedef struct sagg {
    uint8_t *p;
    uint32_t n, cap;
    uint32_t count;   /* elements so far */
    uint8_t any;
} sagg;

static void sagg_init(void *s)
{
    memset(s, 0, sizeof(sagg));
}

static void sagg_destroy(void *s)
{
    sl_free(((sagg *)s)->p);
    memset(s, 0, sizeof(sagg));
}

static int sagg_put(sql_agg_ctx *cx, sagg *s, const void *p, size_t n)
{
    if (!n)
        return SL_OK; /* an empty string adds nothing (and p may be NULL) */
    if ((size_t)s->n + n > UINT32_MAX / 2)
        return sql_err_set(cx->err, "54000", -1, "aggregate result exceeds the 2 GB limit");
    if (s->n + n > s->cap) {
        uint32_t ncap = s->cap ? s->cap : 64;
        while (ncap < s->n + n)
            ncap *= 2;
        uint8_t *np = sl_realloc(s->p, ncap);
        if (!np)
            return sql_err_set(cx->err, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
        if (cx->mem_bytes)
            *cx->mem_bytes += ncap - s->cap;
        s->p = np;
        s->cap = ncap;
    }
    memcpy(s->p + s->n, p, n);
    s->n += (uint32_t)n;
    return SL_OK;
}

/* Checkpoints: any, count (u32), then the bytes so far. */
static int sagg_save(const void *st, dbuf *out)
{
    const sagg *s = st;
    uint8_t h[5] = {s->any, (uint8_t)s->count, (uint8_t)(s->count >> 8),
                    (uint8_t)(s->count >> 16), (uint8_t)(s->count >> 24)};
    int rc = dbuf_append(out, h, 5);
    return rc || !s->n ? rc : dbuf_append(out, s->p, s->n);
}

static int sagg_load(sql_agg_ctx *cx, void *st, const uint8_t *p, size_t n)
{
    sagg *s = st;
    if (n < 5 || p[0] > 1)
        return sql_err_set(cx->err, "XX001", -1, "checkpoint: bad string_agg state");
    s->any = p[0];
    s->count = (uint32_t)p[1] | (uint32_t)p[2] << 8 | (uint32_t)p[3] << 16 | (uint32_t)p[4] << 24;
    return sagg_put(cx, s, p + 5, n - 5);
}

static int string_agg_update(sql_agg_ctx *cx, void *st, const uint32_t *gids, const sql_vec *a,
                             int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        if (SKIP(gids, i) || !sql_vec_valid(&a[0], i))
            continue;
        sagg *s = STATE(sagg, st, GID(gids, i), sizeof(sagg));
        size_t l, dl = 0;
        const char *v = ka_str(&a[0], i, &l), *d = "";
        if (sql_vec_valid(&a[1], i))
            d = ka_str(&a[1], i, &dl);
        int rc = s->any ? sagg_put(cx, s, d, dl) : SL_OK;
        if (!rc)
            rc = sagg_put(cx, s, v, l);
        if (rc)
            return rc;
        s->any = 1;
    }
    return SL_OK;
}

static int string_agg_final(sql_agg_ctx *cx, const void *st, col_vec *out)
{
    (void)cx;
    const sagg *s = st;
    return s->any ? col_vec_append_str(out, s->p ? s->p : (const uint8_t *)"", s->n)
                  : col_vec_append_null(out);
}

/* array_agg(text): elements in the text[] encoding (count filled at the end) */
static int array_agg_update(sql_agg_ctx *cx, void *st, const uint32_t *gids, const sql_vec *a,
                            int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        if (SKIP(gids, i))
            continue;
        sagg *s = STATE(sagg, st, GID(gids, i), sizeof(sagg));
        int rc = SL_OK;
        if (!s->any) {
            uint32_t zero = 0;
            rc = sagg_put(cx, s, &zero, 4);
        }
        if (!sql_vec_valid(&a[0], i)) {
            uint32_t nul = UINT32_MAX;
            rc = rc ? rc : sagg_put(cx, s, &nul, 4);
        } else {
            size_t l;
            const char *v = ka_str(&a[0], i, &l);
            uint32_t l32 = (uint32_t)l;
            rc = rc ? rc : sagg_put(cx, s, &l32, 4);
            rc = rc ? rc : sagg_put(cx, s, v, l);
        }
        if (rc)
            return rc;
        s->any = 1;
        s->count++;
        memcpy(s->p, &s->count, 4);
    }
    return SL_OK;
}

static int string_agg_combine(sql_agg_ctx *cx, void *d, const void *s)
{
    (void)cx;
    (void)d;
    (void)s;
    /* ordered by input: the executor never splits these across workers */
    return sql_err_set(cx->err, SQLSTATE_INTERNAL, -1, "string_agg states cannot be combined");
}

static const sql_agg g_basic[] = {
    {"count", 0, {0}, ST_INT8, sizeof(int64_t), false, NULL, count_init, count_update,
     count_combine, count_final, NULL, NULL, NULL},
    {"count", 1, {ST_NULL}, ST_INT8, sizeof(int64_t), false, NULL, count_init, count_update,
     count_combine, count_final, NULL, NULL, NULL},
    {"sum", 1, {ST_INT2}, ST_INT8, sizeof(isum), false, NULL, isum_init, isum_update,
     isum_combine, sum_int_to_int8, NULL, NULL, NULL},
    {"sum", 1, {ST_INT4}, ST_INT8, sizeof(isum), false, NULL, isum_init, isum_update,
     isum_combine, sum_int_to_int8, NULL, NULL, NULL},
    {"sum", 1, {ST_INT8}, ST_NUMERIC, sizeof(isum), false, NULL, isum_init, isum_update,
     isum_combine, sum_int_to_num, NULL, NULL, NULL},
    {"sum", 1, {ST_FLOAT4}, ST_FLOAT4, sizeof(fsum), false, NULL, fsum_init, fsum_update,
     fsum_combine, sum_flt, NULL, fsum_save, fsum_load},
    {"sum", 1, {ST_FLOAT8}, ST_FLOAT8, sizeof(fsum), false, NULL, fsum_init, fsum_update,
     fsum_combine, sum_flt, NULL, fsum_save, fsum_load},
    {"sum", 1, {ST_NUMERIC}, ST_NUMERIC, sizeof(nsum), false, NULL, nsum_init, nsum_update,
     nsum_combine, sum_num, NULL, NULL, NULL},
    {"sum", 1, {ST_INTERVAL}, ST_INTERVAL, sizeof(ivsum), false, NULL, ivsum_init, ivsum_update,
     ivsum_combine, sum_iv, NULL, NULL, NULL},
    {"avg", 1, {ST_INT2}, ST_NUMERIC, sizeof(isum), false, NULL, isum_init, isum_update,
     isum_combine, avg_int, NULL, NULL, NULL},
    {"avg", 1, {ST_INT4}, ST_NUMERIC, sizeof(isum), false, NULL, isum_init, isum_update,
     isum_combine, avg_int, NULL, NULL, NULL},
    {"avg", 1, {ST_INT8}, ST_NUMERIC, sizeof(isum), false, NULL, isum_init, isum_update,
     isum_combine, avg_int, NULL, NULL, NULL},
    {"avg", 1, {ST_FLOAT4}, ST_FLOAT8, sizeof(fsum), false, NULL, fsum_init, fsum_update,
     fsum_combine, avg_flt, NULL, fsum_save, fsum_load},
    {"avg", 1, {ST_FLOAT8}, ST_FLOAT8, sizeof(fsum), false, NULL, fsum_init, fsum_update,
     fsum_combine, avg_flt, NULL, fsum_save, fsum_load},
    {"avg", 1, {ST_NUMERIC}, ST_NUMERIC, sizeof(nsum), false, NULL, nsum_init, nsum_update,
     nsum_combine, avg_num, NULL, NULL, NULL},
    {"avg", 1, {ST_INTERVAL}, ST_INTERVAL, sizeof(ivsum), false, NULL, ivsum_init, ivsum_update,
     ivsum_combine, avg_iv, NULL, NULL, NULL},
    {"max", 1, {ST_NULL}, ST_NULL, sizeof(mm), false, same_as_arg, mm_init, max_update,
     max_combine, mm_final, mm_destroy, mm_save, mm_load},
    {"min", 1, {ST_NULL}, ST_NULL, sizeof(mm), false, same_as_arg, mm_init, min_update,
     min_combine, mm_final, mm_destroy, mm_save, mm_load},
    {"bool_and", 1, {ST_BOOL}, ST_BOOL, 1, false, NULL, b_init, and_update, and_combine,
     b_final, NULL, NULL, NULL},
    {"every", 1, {ST_BOOL}, ST_BOOL, 1, false, NULL, b_init, and_update, and_combine, b_final,
     NULL, NULL, NULL},
    {"bool_or", 1, {ST_BOOL}, ST_BOOL, 1, false, NULL, b_init, or_update, or_combine, b_final,
     NULL, NULL, NULL},
    {"string_agg", 2, {ST_TEXT, ST_TEXT}, ST_TEXT, sizeof(sagg), true, NULL, sagg_init,
     string_agg_update, string_agg_combine, string_agg_final, sagg_destroy, sagg_save, sagg_load},
    {"array_agg", 1, {ST_TEXT}, ST_TEXTARR, sizeof(sagg), true, NULL, sagg_init,
     array_agg_update, string_agg_combine, string_agg_final, sagg_destroy, sagg_save, sagg_load},
};

sql_agg_table sql_aggs_basic(void)
{
    return (sql_agg_table){g_basic, sizeof g_basic / sizeof g_basic[0]};
}
