/*
 * time.c - time functions: now(), date_trunc, date_bin, extract/date_part,
 * to_timestamp.
 *
 * extract returns numeric as PostgreSQL 14+ does: whole fields at scale 0,
 * seconds and epoch at scale 6 (PostgreSQL's microseconds; a lake time with
 * nanoseconds is rounded there), milliseconds at scale 3.  date_part returns
 * double precision.
 */
#include "sql/func/kern.h"

#include <math.h>
#include <stdio.h>
#include <strings.h>

KERNEL(now_k)
{
    (void)e;
    (void)a;
    for (int64_t i = 0; i < n; i++)
        ko_i64(o, i, cx->now_ns);
    return SL_OK;
}

KERNEL(current_date_k)
{
    (void)e;
    (void)a;
    int64_t d = cx->now_ns / NS_PER_DAY;
    for (int64_t i = 0; i < n; i++)
        ko_i32(o, i, (int32_t)d);
    return SL_OK;
}

/* date_trunc(unit, ts): the unit usually is a constant; checked per row anyway. */
KERNEL(date_trunc_k)
{
    char unit[32];
    if (a[0].is_const && sql_vec_valid(&a[0], 0)) {
        /* a constant unit of fixed length: rounding down to a multiple, no calendar */
        size_t l;
        const char *u = ka_str(&a[0], 0, &l);
        snprintf(unit, sizeof unit, "%.*s", (int)(l < 31 ? l : 31), u);
        int64_t step = dt_trunc_fixed(unit);
        if (step) {
            bool nulls = a[1].v.null_count > 0;
            for (int64_t i = 0; i < n; i++) {
                if (nulls && !sql_vec_valid(&a[1], i))
                    continue;
                int64_t t = ka_i64(&a[1], i);
                int64_t q = t / step;
                q -= (t % step < 0);
                ko_i64(o, i, t == TS_INFINITY || t == TS_NINFINITY ? t : q * step);
            }
            return SL_OK;
        }
    }
    for (int64_t i = 0; i < n; i++) {
        if (ka_null(a, 2, i))
            continue;
        size_t l;
        const char *u = ka_str(&a[0], i, &l);
        snprintf(unit, sizeof unit, "%.*s", (int)(l < 31 ? l : 31), u);
        int64_t r;
        if (dt_trunc(unit, ka_i64(&a[1], i), &r))
            return sql_fail(cx, e, "22023",
                            "unit \"%s\" not recognized for type %s", unit,
                            e->type.id == ST_TIMESTAMPTZ ? "timestamp with time zone"
                                                         : "timestamp without time zone");
        ko_i64(o, i, r);
    }
    return SL_OK;
}

/* date_bin(stride, source, origin): source rounded down to a multiple of stride from origin. */
KERNEL(date_bin_k)
{
    for (int64_t i = 0; i < n; i++) {
        if (ka_null(a, 3, i))
            continue;
        sql_interval st = ka_iv(&a[0], i);
        if (st.months)
            return sql_fail(cx, e, SQLSTATE_FEATURE, "timestamps cannot be binned into intervals "
                            "containing months or years");
        __int128 stride = (__int128)st.days * NS_PER_DAY + st.ns;
        if (stride <= 0)
            return sql_fail(cx, e, "22008", "stride must be greater than zero");
        int64_t src = ka_i64(&a[1], i), org = ka_i64(&a[2], i);
        __int128 d = (__int128)src - org;
        __int128 q = d / stride;
        if (d % stride < 0)
            q--;
        __int128 r = org + q * stride;
        if (r > INT64_MAX || r < INT64_MIN)
            return sql_fail(cx, e, "22008", "timestamp out of range");
        ko_i64(o, i, (int64_t)r);
    }
    return SL_OK;
}

static bool field_has_fraction(const char *f, int *scale)
{
    if (!strcasecmp(f, "epoch") || !strcasecmp(f, "second") || !strcasecmp(f, "seconds")) {
        *scale = 6;
        return true;
    }
    if (!strcasecmp(f, "milliseconds") || !strcasecmp(f, "millisecond")) {
        *scale = 3;
        return true;
    }
    *scale = 0;
    return false;
}

/* The field of a timestamp (or of an interval when is_iv) as an exact numeric. */
static int extract_exact(const char *f, int64_t ts, const sql_interval *iv, sql_dec *out)
{
    int scale;
    bool frac = field_has_fraction(f, &scale);
    if (frac) {
        /* seconds within the minute (or since the epoch) in ns, rounded to the scale */
        __int128 ns;
        if (!strcasecmp(f, "epoch"))
            ns = iv ? (__int128)llround(dt_interval_epoch(iv) * 1e9) : ts;
        else {
            int64_t t = iv ? iv->ns : ts;
            int64_t m = t % NS_PER_MIN;
            if (!iv && m < 0)
                m += NS_PER_MIN;
            ns = m;
        }
        if (!strcasecmp(f, "milliseconds") || !strcasecmp(f, "millisecond"))
            ns *= 1000; /* milliseconds are seconds x 1000 */
        __int128 div = 1000; /* ns to the scale of 6 (or 3 after the x1000) */
        __int128 q = ns / div, r = ns % div;
        if (r * 2 >= div)
            q++;
        else if (r * 2 <= -div)
            q--;
        return dec_make(q, scale, out) ? -1 : 0;
    }
    double v;
    if (iv ? dt_extract_interval(f, iv, &v) : dt_extract(f, ts, &v))
        return -1;
    return dec_from_double(v, out) ? -1 : 0;
}

KERNEL(extract_ts)
{
    char f[32];
    bool iv = e->args[1]->type.id == ST_INTERVAL;
    for (int64_t i = 0; i < n; i++) {
        if (ka_null(a, 2, i))
            continue;
        size_t l;
        const char *u = ka_str(&a[0], i, &l);
        snprintf(f, sizeof f, "%.*s", (int)(l < 31 ? l : 31), u);
        sql_dec d;
        sql_interval ivv;
        int64_t ts = 0;
        if (iv)
            ivv = ka_iv(&a[1], i);
        else if (e->args[1]->type.id == ST_DATE)
            ts = (int64_t)ka_i32(&a[1], i) * NS_PER_DAY;
        else
            ts = ka_i64(&a[1], i);
        if (extract_exact(f, ts, iv ? &ivv : NULL, &d))
            return sql_fail(cx, e, SQLSTATE_FEATURE, "unit \"%s\" not supported for type %s", f,
                            iv ? "interval" : "timestamp");
        ko_dec(o, i, d);
    }
    return SL_OK;
}

KERNEL(date_part_k)
{
    char f[32];
    bool iv = e->args[1]->type.id == ST_INTERVAL;
    for (int64_t i = 0; i < n; i++) {
        if (ka_null(a, 2, i))
            continue;
        size_t l;
        const char *u = ka_str(&a[0], i, &l);
        snprintf(f, sizeof f, "%.*s", (int)(l < 31 ? l : 31), u);
        double v;
        int bad;
        if (iv) {
            sql_interval x = ka_iv(&a[1], i);
            bad = dt_extract_interval(f, &x, &v);
        } else {
            bad = dt_extract(f, ka_i64(&a[1], i), &v);
        }
        if (bad)
            return sql_fail(cx, e, SQLSTATE_FEATURE, "unit \"%s\" not recognized", f);
        ko_f64(o, i, v);
    }
    return SL_OK;
}

/* to_timestamp(seconds since the epoch) */
KERNEL(to_timestamp_k)
{
    for (int64_t i = 0; i < n; i++) {
        if (ka_null(a, 1, i))
            continue;
        double s = ka_f64(&a[0], i);
        if (isinf(s)) {
            ko_i64(o, i, s > 0 ? TS_INFINITY : TS_NINFINITY);
            continue;
        }
        if (s != s || fabs(s) > 9.2e9)
            return sql_fail(cx, e, "22008", "timestamp out of range: \"%g\"", s);
        ko_i64(o, i, (int64_t)llround(s * 1e6) * 1000); /* microseconds, as PostgreSQL */
    }
    return SL_OK;
}

#define TS ST_TIMESTAMP
#define TZ ST_TIMESTAMPTZ
static const sql_func g_time[] = {
    /* the statement's start time: stable within a statement, so folded when bound */
    {"now", 0, {0}, TZ, 0, now_k, NULL},
    {"current_timestamp", 0, {0}, TZ, 0, now_k, NULL},
    {"transaction_timestamp", 0, {0}, TZ, 0, now_k, NULL},
    {"statement_timestamp", 0, {0}, TZ, 0, now_k, NULL},
    {"localtimestamp", 0, {0}, TS, 0, now_k, NULL},
    {"current_date", 0, {0}, ST_DATE, 0, current_date_k, NULL},
    {"date_trunc", 2, {ST_TEXT, TS}, TS, 0, date_trunc_k, NULL},
    {"date_trunc", 2, {ST_TEXT, TZ}, TZ, 0, date_trunc_k, NULL},
    {"date_bin", 3, {ST_INTERVAL, TS, TS}, TS, 0, date_bin_k, NULL},
    {"date_bin", 3, {ST_INTERVAL, TZ, TZ}, TZ, 0, date_bin_k, NULL},
    {"extract", 2, {ST_TEXT, TS}, ST_NUMERIC, 0, extract_ts, NULL},
    {"extract", 2, {ST_TEXT, TZ}, ST_NUMERIC, 0, extract_ts, NULL},
    {"extract", 2, {ST_TEXT, ST_DATE}, ST_NUMERIC, 0, extract_ts, NULL},
    {"extract", 2, {ST_TEXT, ST_INTERVAL}, ST_NUMERIC, 0, extract_ts, NULL},
    {"date_part", 2, {ST_TEXT, TS}, ST_FLOAT8, 0, date_part_k, NULL},
    {"date_part", 2, {ST_TEXT, TZ}, ST_FLOAT8, 0, date_part_k, NULL},
    {"date_part", 2, {ST_TEXT, ST_INTERVAL}, ST_FLOAT8, 0, date_part_k, NULL},
    {"to_timestamp", 1, {ST_FLOAT8}, TZ, 0, to_timestamp_k, NULL},
};
#undef TS
#undef TZ

sql_func_table sql_funcs_time(void)
{
    return (sql_func_table){g_time, sizeof g_time / sizeof g_time[0]};
}
