/*
 * cast.c - casts between types, and when each may be applied.
 *
 * The contexts are PostgreSQL's (pg_cast.castcontext): 'i' implicit (the
 * binder inserts it to match an operator: int4 to int8, date to timestamp),
 * 'a' assignment (INSERT into a column: int8 into an int4 column, with a
 * range check), 'e' explicit (only with CAST or ::).  Every type converts to
 * and from text through its output and input functions, as PostgreSQL's I/O
 * casts do: explicitly, except unknown literals, which take any type.
 */
#include "sql/func/kern.h"

#include <math.h>
#include <stdio.h>

static int range_fail(sql_fctx *cx, const sql_expr *e)
{
    return sql_fail(cx, e, SQLSTATE_OUT_OF_RANGE, "%s", int_range_msg(e->type));
}

static void int_limits(sql_type t, int64_t *lo, int64_t *hi)
{
    *lo = t.id == ST_INT2 ? INT16_MIN : t.id == ST_INT4 ? INT32_MIN : t.id == ST_OID ? 0 : INT64_MIN;
    *hi = t.id == ST_INT2 ? INT16_MAX : t.id == ST_INT4 ? INT32_MAX : t.id == ST_OID ? UINT32_MAX
                                                                                   : INT64_MAX;
}

KERNEL(int_to_int)
{
    int64_t lo, hi;
    int_limits(e->type, &lo, &hi);
    for (int64_t i = 0; i < n; i++) {
        if (ka_null(a, 1, i))
            continue;
        int64_t v = ka_int(&a[0], i);
        if (v < lo || v > hi)
            return range_fail(cx, e);
        ko_int(o, i, v);
    }
    return SL_OK;
}

KERNEL(int_to_flt)
{
    (void)cx;
    bool f4 = e->type.id == ST_FLOAT4;
    for (int64_t i = 0; i < n; i++) {
        double v = (double)ka_int(&a[0], i);
        ko_f64(o, i, f4 ? (double)(float)v : v);
    }
    return SL_OK;
}

KERNEL(int_to_num)
{
    (void)cx;
    (void)e;
    for (int64_t i = 0; i < n; i++)
        ko_dec(o, i, dec_from_i64(ka_int(&a[0], i)));
    return SL_OK;
}

KERNEL(flt_to_int)
{
    int64_t lo, hi;
    int_limits(e->type, &lo, &hi);
    for (int64_t i = 0; i < n; i++) {
        if (ka_null(a, 1, i))
            continue;
        double v = rint(ka_f64(&a[0], i)); /* half to even, as PostgreSQL */
        double top = lo == 0 ? (double)hi + 1.0 : -(double)lo; /* first value past the range */
        if (v != v || v < (double)lo || v >= top)
            return range_fail(cx, e);
        ko_int(o, i, (int64_t)v);
    }
    return SL_OK;
}

KERNEL(flt_to_flt)
{
    bool f4 = e->type.id == ST_FLOAT4;
    for (int64_t i = 0; i < n; i++) {
        if (ka_null(a, 1, i))
            continue;
        double v = ka_f64(&a[0], i);
        if (f4) {
            float f = (float)v;
            if (isinf(f) && !isinf(v))
                return sql_fail(cx, e, SQLSTATE_OUT_OF_RANGE, "value out of range: overflow");
            if (f == 0 && v != 0)
                return sql_fail(cx, e, SQLSTATE_OUT_OF_RANGE, "value out of range: underflow");
            v = f;
        }
        ko_f64(o, i, v);
    }
    return SL_OK;
}

static int apply_typmod(sql_fctx *cx, const sql_expr *e, sql_dec *d)
{
    if (e->type.mod < 4)
        return SL_OK;
    int p = sql_numeric_precision(e->type), s = sql_numeric_scale(e->type);
    if (dec_apply_typmod(*d, p, s, d)) {
        sql_fail(cx, e, SQLSTATE_OUT_OF_RANGE, "numeric field overflow");
        sql_err_detail(cx->err, "A field with precision %d, scale %d must round to an absolute "
                       "value less than %s%d.", p, s, p - s ? "10^" : "", p - s ? p - s : 1);
        return cx->err ? cx->err->code : SL_EINVAL;
    }
    return SL_OK;
}

KERNEL(flt_to_num)
{
    for (int64_t i = 0; i < n; i++) {
        if (ka_null(a, 1, i))
            continue;
        double v = ka_f64(&a[0], i);
        sql_dec d;
        if (v != v || isinf(v))
            return sql_fail(cx, e, SQLSTATE_FEATURE, "cannot convert %s to numeric",
                            v != v ? "NaN" : "infinity");
        if (dec_from_double(v, &d))
            return sql_fail(cx, e, SQLSTATE_OUT_OF_RANGE, "value overflows numeric format");
        int rc = apply_typmod(cx, e, &d);
        if (rc)
            return rc;
        ko_dec(o, i, d);
    }
    return SL_OK;
}

KERNEL(num_to_int)
{
    int64_t lo, hi;
    int_limits(e->type, &lo, &hi);
    for (int64_t i = 0; i < n; i++) {
        if (ka_null(a, 1, i))
            continue;
        int64_t v;
        if (dec_to_i64(ka_dec(&a[0], i), &v) || v < lo || v > hi)
            return range_fail(cx, e);
        ko_int(o, i, v);
    }
    return SL_OK;
}

KERNEL(num_to_flt)
{
    (void)cx;
    bool f4 = e->type.id == ST_FLOAT4;
    for (int64_t i = 0; i < n; i++) {
        double v = dec_to_double(ka_dec(&a[0], i));
        ko_f64(o, i, f4 ? (double)(float)v : v);
    }
    return SL_OK;
}

KERNEL(num_to_num)
{
    for (int64_t i = 0; i < n; i++) {
        if (ka_null(a, 1, i))
            continue;
        sql_dec d = ka_dec(&a[0], i);
        int rc = apply_typmod(cx, e, &d);
        if (rc)
            return rc;
        ko_dec(o, i, d);
    }
    return SL_OK;
}

KERNEL(bool_to_int)
{
    (void)cx;
    (void)e;
    for (int64_t i = 0; i < n; i++)
        ko_int(o, i, ka_bool(&a[0], i));
    return SL_OK;
}

KERNEL(int_to_bool)
{
    (void)cx;
    (void)e;
    for (int64_t i = 0; i < n; i++)
        ko_bool(o, i, ka_int(&a[0], i) != 0);
    return SL_OK;
}

KERNEL(date_to_ts)
{
    (void)cx;
    (void)e;
    for (int64_t i = 0; i < n; i++)
        ko_i64(o, i, (int64_t)ka_i32(&a[0], i) * NS_PER_DAY);
    return SL_OK;
}

KERNEL(ts_to_date)
{
    for (int64_t i = 0; i < n; i++) {
        if (ka_null(a, 1, i))
            continue;
        int64_t t = ka_i64(&a[0], i);
        if (t == TS_INFINITY || t == TS_NINFINITY)
            return sql_fail(cx, e, "22008", "date out of range");
        int64_t d = t >= 0 ? t / NS_PER_DAY : -((-t + NS_PER_DAY - 1) / NS_PER_DAY);
        ko_i32(o, i, (int32_t)d);
    }
    return SL_OK;
}

KERNEL(same_storage)
{
    (void)cx;
    (void)e;
    /* timestamp <-> timestamptz in UTC, oid <-> int8: the bits are the value */
    size_t w = col_type_width(o->v.type, 0);
    for (int64_t i = 0; i < n; i++)
        memcpy(o->v.values->p + w * (size_t)i, a[0].v.values->p + w * (size_t)sql_vec_row(&a[0], i), w);
    return SL_OK;
}

/* text-like to text-like: varchar(n) checks or cuts the length (explicit casts cut) */
KERNEL(text_to_text)
{
    (void)cx;
    int64_t max = e->type.id == ST_VARCHAR && e->type.mod >= 4 ? e->type.mod - 4 : -1;
    for (int64_t i = 0; i < n; i++) {
        if (!sql_vec_valid(&a[0], i)) {
            int rc = col_vec_append_null(&o->v);
            if (rc)
                return rc;
            continue;
        }
        size_t l;
        const char *s = ka_str(&a[0], i, &l);
        if (max >= 0 && (int64_t)l > max) {
            /* characters, not bytes */
            size_t b = 0;
            int64_t chars = 0;
            while (b < l && chars < max) {
                b++;
                while (b < l && ((unsigned char)s[b] & 0xC0) == 0x80)
                    b++;
                chars++;
            }
            l = b;
        }
        int rc = col_vec_append_str(&o->v, s, l);
        if (rc)
            return rc;
    }
    return SL_OK;
}

/* Any type to text through its output function. */
KERNEL(to_text)
{
    (void)cx;
    dbuf b;
    dbuf_init(&b, (size_t)1 << 30);
    int rc = SL_OK;
    sql_type from = e->args[0]->type;
    for (int64_t i = 0; i < n && !rc; i++) {
        sql_datum d = sql_datum_get(from, &a[0].v, sql_vec_row(&a[0], i));
        if (d.null) {
            rc = col_vec_append_null(&o->v);
            continue;
        }
        dbuf_reset(&b);
        rc = sql_datum_text(from, &d, &b);
        if (!rc)
            rc = col_vec_append_str(&o->v, b.p ? (const char *)b.p : "", b.len);
    }
    dbuf_free(&b);
    return rc;
}

/* Text to any type through its input function. */
KERNEL(from_text)
{
    char tn[64];
    int rc = SL_OK;
    for (int64_t i = 0; i < n && !rc; i++) {
        if (!sql_vec_valid(&a[0], i)) {
            rc = o->v.type == COL_STRING || o->v.type == COL_BINARY ? col_vec_append_null(&o->v)
                                                                    : ko_null(o, i);
            continue;
        }
        size_t l;
        const char *s = ka_str(&a[0], i, &l);
        sql_datum d;
        const char *state;
        arena_reset(cx->scratch);
        if (sql_datum_parse(e->type, s, l, cx->scratch, &d, &state)) {
            sql_type_name(e->type, tn, sizeof tn);
            if (!strcmp(state, "22003"))
                return sql_fail(cx, e, state, "value \"%.*s\" is out of range for type %s",
                                (int)(l > 200 ? 200 : l), s, tn);
            if (!strcmp(state, "22001"))
                return sql_fail(cx, e, state, "value too long for type %s", tn);
            return sql_fail(cx, e, state, "invalid input syntax for type %s: \"%.*s\"",
                            e->type.id == ST_JSONB ? "json" : tn, (int)(l > 200 ? 200 : l), s);
        }
        if (o->v.type == COL_STRING || o->v.type == COL_BINARY) {
            rc = col_vec_append_str(&o->v, d.s.p, d.s.n);
        } else {
            /* fixed width: write row i in place */
            col_vec tmp;
            col_vec_init(&tmp, o->v.type, 0);
            rc = sql_datum_append(e->type, &d, &tmp);
            if (!rc) {
                if (o->v.type == COL_BOOL)
                    ko_bool(o, i, col_vec_bool(&tmp, 0));
                else {
                    size_t w = col_type_width(o->v.type, 0);
                    memcpy(o->v.values->p + w * (size_t)i, tmp.values->p, w);
                }
            }
            col_vec_release(&tmp);
        }
    }
    return rc;
}

/* ---- the table of casts ------------------------------------------------- */

typedef struct cast_row {
    uint8_t from, to;
    char ctx;
    sql_kernel k;
} cast_row;

static const cast_row g_casts[] = {
    {ST_INT2, ST_INT4, 'i', int_to_int},    {ST_INT2, ST_INT8, 'i', int_to_int},
    {ST_INT4, ST_INT8, 'i', int_to_int},    {ST_INT4, ST_INT2, 'a', int_to_int},
    {ST_INT8, ST_INT2, 'a', int_to_int},    {ST_INT8, ST_INT4, 'a', int_to_int},
    {ST_INT2, ST_FLOAT4, 'i', int_to_flt},  {ST_INT2, ST_FLOAT8, 'i', int_to_flt},
    {ST_INT4, ST_FLOAT4, 'i', int_to_flt},  {ST_INT4, ST_FLOAT8, 'i', int_to_flt},
    {ST_INT8, ST_FLOAT4, 'i', int_to_flt},  {ST_INT8, ST_FLOAT8, 'i', int_to_flt},
    {ST_INT2, ST_NUMERIC, 'i', int_to_num}, {ST_INT4, ST_NUMERIC, 'i', int_to_num},
    {ST_INT8, ST_NUMERIC, 'i', int_to_num},
    {ST_FLOAT4, ST_FLOAT8, 'i', flt_to_flt}, {ST_FLOAT8, ST_FLOAT4, 'a', flt_to_flt},
    {ST_FLOAT4, ST_INT2, 'a', flt_to_int},  {ST_FLOAT4, ST_INT4, 'a', flt_to_int},
    {ST_FLOAT4, ST_INT8, 'a', flt_to_int},  {ST_FLOAT8, ST_INT2, 'a', flt_to_int},
    {ST_FLOAT8, ST_INT4, 'a', flt_to_int},  {ST_FLOAT8, ST_INT8, 'a', flt_to_int},
    {ST_FLOAT4, ST_NUMERIC, 'a', flt_to_num}, {ST_FLOAT8, ST_NUMERIC, 'a', flt_to_num},
    {ST_NUMERIC, ST_INT2, 'a', num_to_int}, {ST_NUMERIC, ST_INT4, 'a', num_to_int},
    {ST_NUMERIC, ST_INT8, 'a', num_to_int}, {ST_NUMERIC, ST_FLOAT4, 'i', num_to_flt},
    {ST_NUMERIC, ST_FLOAT8, 'i', num_to_flt}, {ST_NUMERIC, ST_NUMERIC, 'i', num_to_num},
    {ST_INT4, ST_BOOL, 'e', int_to_bool},   {ST_BOOL, ST_INT4, 'e', bool_to_int},
    {ST_OID, ST_INT8, 'i', same_storage},   {ST_INT8, ST_OID, 'i', int_to_int},
    {ST_INT4, ST_OID, 'i', int_to_int},     {ST_INT2, ST_OID, 'i', int_to_int},
    {ST_OID, ST_INT4, 'a', int_to_int},
    {ST_DATE, ST_TIMESTAMP, 'i', date_to_ts}, {ST_DATE, ST_TIMESTAMPTZ, 'i', date_to_ts},
    {ST_TIMESTAMP, ST_DATE, 'a', ts_to_date}, {ST_TIMESTAMPTZ, ST_DATE, 'a', ts_to_date},
    {ST_TIMESTAMP, ST_TIMESTAMPTZ, 'i', same_storage},
    {ST_TIMESTAMPTZ, ST_TIMESTAMP, 'a', same_storage},
    {ST_TEXT, ST_VARCHAR, 'i', text_to_text}, {ST_VARCHAR, ST_TEXT, 'i', text_to_text},
    {ST_VARCHAR, ST_VARCHAR, 'i', text_to_text}, {ST_TEXT, ST_TEXT, 'i', text_to_text},
    {ST_UNKNOWN, ST_TEXT, 'i', text_to_text}, {ST_UNKNOWN, ST_VARCHAR, 'i', text_to_text},
};

sql_kernel sql_cast_kernel(sql_type from, sql_type to)
{
    for (size_t i = 0; i < sizeof g_casts / sizeof g_casts[0]; i++)
        if (g_casts[i].from == from.id && g_casts[i].to == to.id)
            return g_casts[i].k;
    if (from.id == to.id)
        return to.id == ST_NUMERIC ? num_to_num : same_storage;
    if (to.id == ST_TEXT || to.id == ST_VARCHAR)
        return to_text;
    if (sql_type_is_text(from) || from.id == ST_NULL)
        return from_text;
    if (from.id == ST_BYTEA || from.id == ST_JSONB || from.id == ST_UUID || from.id == ST_TEXTARR)
        return NULL;
    return NULL;
}

char sql_cast_context(sql_type from, sql_type to)
{
    if (from.id == to.id)
        return 'i';
    if (from.id == ST_NULL || from.id == ST_UNKNOWN)
        return 'i'; /* a literal or a bare NULL takes any type */
    for (size_t i = 0; i < sizeof g_casts / sizeof g_casts[0]; i++)
        if (g_casts[i].from == from.id && g_casts[i].to == to.id)
            return g_casts[i].ctx;
    if (to.id == ST_TEXT || to.id == ST_VARCHAR)
        return 'a'; /* I/O cast to text: assignment */
    if (sql_type_is_text(from))
        return 'e'; /* I/O cast from text: explicit */
    return 0;
}
