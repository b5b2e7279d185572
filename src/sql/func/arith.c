/*
 * arith.c - arithmetic operators: + - * / % and unary minus, for integers,
 * floats, numerics, dates, timestamps and intervals, with PostgreSQL's
 * overflow and division-by-zero errors.
 *
 * Integer kernels serve int2, int4 and int8 alike: they compute in int64 and
 * check the range of the result type (e->type), so `32767::int2 + 1::int2`
 * fails with "smallint out of range" as it does in PostgreSQL.
 */
#include "sql/func/kern.h"

#include <math.h>

static void int_range(sql_type t, int64_t *lo, int64_t *hi)
{
    if (t.id == ST_INT2) {
        *lo = INT16_MIN;
        *hi = INT16_MAX;
    } else if (t.id == ST_INT4 || t.id == ST_DATE) {
        *lo = INT32_MIN;
        *hi = INT32_MAX;
    } else {
        *lo = INT64_MIN;
        *hi = INT64_MAX;
    }
}

enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD };

static int int_op(sql_fctx *cx, const sql_expr *e, const sql_vec *a, int64_t n, sql_vec *o, int op)
{
    int64_t lo, hi;
    int_range(e->type, &lo, &hi);
    for (int64_t i = 0; i < n; i++) {
        if (ka_null(a, 2, i))
            continue;
        int64_t x = ka_int(&a[0], i), y = ka_int(&a[1], i), r = 0;
        bool ovf = false;
        switch (op) {
        case OP_ADD: ovf = __builtin_add_overflow(x, y, &r); break;
        case OP_SUB: ovf = __builtin_sub_overflow(x, y, &r); break;
        case OP_MUL: ovf = __builtin_mul_overflow(x, y, &r); break;
        case OP_DIV:
            if (y == 0)
                return sql_fail(cx, e, SQLSTATE_DIV_ZERO, "division by zero");
            if (y == -1) {
                ovf = x == lo;
                r = -x;
            } else {
                r = x / y;
            }
            break;
        default:
            if (y == 0)
                return sql_fail(cx, e, SQLSTATE_DIV_ZERO, "division by zero");
            r = y == -1 ? 0 : x % y;
            break;
        }
        if (ovf || r < lo || r > hi)
            return sql_fail(cx, e, SQLSTATE_OUT_OF_RANGE, "%s", int_range_msg(e->type));
        ko_int(o, i, r);
    }
    return SL_OK;
}

KERNEL(int_add) { return int_op(cx, e, a, n, o, OP_ADD); }
KERNEL(int_sub) { return int_op(cx, e, a, n, o, OP_SUB); }
KERNEL(int_mul) { return int_op(cx, e, a, n, o, OP_MUL); }
KERNEL(int_div) { return int_op(cx, e, a, n, o, OP_DIV); }
KERNEL(int_mod) { return int_op(cx, e, a, n, o, OP_MOD); }

KERNEL(int_neg)
{
    int64_t lo, hi;
    int_range(e->type, &lo, &hi);
    for (int64_t i = 0; i < n; i++) {
        if (ka_null(a, 1, i))
            continue;
        int64_t x = ka_int(&a[0], i);
        if (x == lo)
            return sql_fail(cx, e, SQLSTATE_OUT_OF_RANGE, "%s", int_range_msg(e->type));
        ko_int(o, i, -x);
    }
    return SL_OK;
}

/* ---- floats ------------------------------------------------------------- */

static int float_op(sql_fctx *cx, const sql_expr *e, const sql_vec *a, int64_t n, sql_vec *o, int op)
{
    bool f4 = e->type.id == ST_FLOAT4;
    for (int64_t i = 0; i < n; i++) {
        if (ka_null(a, 2, i))
            continue;
        double x = ka_f64(&a[0], i), y = ka_f64(&a[1], i), r;
        switch (op) {
        case OP_ADD: r = f4 ? (double)((float)x + (float)y) : x + y; break;
        case OP_SUB: r = f4 ? (double)((float)x - (float)y) : x - y; break;
        case OP_MUL: r = f4 ? (double)((float)x * (float)y) : x * y; break;
        default:
            if (y == 0 && !isnan(x))
                return sql_fail(cx, e, SQLSTATE_DIV_ZERO, "division by zero");
            r = f4 ? (double)((float)x / (float)y) : x / y;
            break;
        }
        if (isinf(r) && !isinf(x) && !isinf(y))
            return sql_fail(cx, e, SQLSTATE_OUT_OF_RANGE, "value out of range: overflow");
        if ((op == OP_MUL || op == OP_DIV) && r == 0 && x != 0 && (op == OP_DIV ? !isinf(y) : y != 0))
            return sql_fail(cx, e, SQLSTATE_OUT_OF_RANGE, "value out of range: underflow");
        ko_f64(o, i, r);
    }
    return SL_OK;
}

KERNEL(flt_add) { return float_op(cx, e, a, n, o, OP_ADD); }
KERNEL(flt_sub) { return float_op(cx, e, a, n, o, OP_SUB); }
KERNEL(flt_mul) { return float_op(cx, e, a, n, o, OP_MUL); }
KERNEL(flt_div) { return float_op(cx, e, a, n, o, OP_DIV); }

KERNEL(flt_neg)
{
    (void)cx;
    (void)e;
    for (int64_t i = 0; i < n; i++)
        ko_f64(o, i, -ka_f64(&a[0], i));
    return SL_OK;
}

/* ---- numeric ------------------------------------------------------------ */

static int dec_fail(sql_fctx *cx, const sql_expr *e, int r)
{
    if (r == DEC_DIV0)
        return sql_fail(cx, e, SQLSTATE_DIV_ZERO, "division by zero");
    return sql_fail(cx, e, SQLSTATE_OUT_OF_RANGE, "value overflows numeric format");
}

static int num_op(sql_fctx *cx, const sql_expr *e, const sql_vec *a, int64_t n, sql_vec *o, int op)
{
    for (int64_t i = 0; i < n; i++) {
        if (ka_null(a, 2, i))
            continue;
        sql_dec x = ka_dec(&a[0], i), y = ka_dec(&a[1], i), r;
        int rc;
        switch (op) {
        case OP_ADD: rc = dec_add(x, y, &r); break;
        case OP_SUB: rc = dec_sub(x, y, &r); break;
        case OP_MUL: rc = dec_mul(x, y, &r); break;
        case OP_DIV: rc = dec_div(x, y, &r); break;
        default: rc = dec_mod(x, y, &r); break;
        }
        if (rc)
            return dec_fail(cx, e, rc);
        ko_dec(o, i, r);
    }
    return SL_OK;
}

KERNEL(num_add) { return num_op(cx, e, a, n, o, OP_ADD); }
KERNEL(num_sub) { return num_op(cx, e, a, n, o, OP_SUB); }
KERNEL(num_mul) { return num_op(cx, e, a, n, o, OP_MUL); }
KERNEL(num_div) { return num_op(cx, e, a, n, o, OP_DIV); }
KERNEL(num_mod) { return num_op(cx, e, a, n, o, OP_MOD); }

KERNEL(num_neg)
{
    (void)cx;
    (void)e;
    for (int64_t i = 0; i < n; i++)
        ko_dec(o, i, dec_neg(ka_dec(&a[0], i)));
    return SL_OK;
}

/* ---- dates, timestamps, intervals --------------------------------------- */

static int dt_range(sql_fctx *cx, const sql_expr *e)
{
    return sql_fail(cx, e, "22008", "%s out of range",
                    e->type.id == ST_INTERVAL ? "interval" : e->type.id == ST_DATE ? "date"
                                                                                   : "timestamp");
}

/* date + int, int + date, date - int */
static int date_int(sql_fctx *cx, const sql_expr *e, const sql_vec *a, int64_t n, sql_vec *o,
                    int date_arg, int sign)
{
    for (int64_t i = 0; i < n; i++) {
        if (ka_null(a, 2, i))
            continue;
        int64_t d = ka_i32(&a[date_arg], i) + sign * (int64_t)ka_i32(&a[1 - date_arg], i);
        if (d > INT32_MAX || d < INT32_MIN)
            return dt_range(cx, e);
        ko_i32(o, i, (int32_t)d);
    }
    return SL_OK;
}

KERNEL(date_pl_int) { return date_int(cx, e, a, n, o, 0, 1); }
KERNEL(int_pl_date) { return date_int(cx, e, a, n, o, 1, 1); }
KERNEL(date_mi_int) { return date_int(cx, e, a, n, o, 0, -1); }

KERNEL(date_mi_date)
{
    (void)cx;
    (void)e;
    for (int64_t i = 0; i < n; i++)
        ko_i32(o, i, (int32_t)((int64_t)ka_i32(&a[0], i) - ka_i32(&a[1], i)));
    return SL_OK;
}

/* ts +/- interval, interval + ts; dates are promoted to timestamps by the binder */
static int ts_iv(sql_fctx *cx, const sql_expr *e, const sql_vec *a, int64_t n, sql_vec *o,
                 int ts_arg, int sign)
{
    for (int64_t i = 0; i < n; i++) {
        if (ka_null(a, 2, i))
            continue;
        sql_interval iv = ka_iv(&a[1 - ts_arg], i);
        int64_t r;
        if (dt_ts_add_interval(ka_i64(&a[ts_arg], i), &iv, sign, &r))
            return dt_range(cx, e);
        ko_i64(o, i, r);
    }
    return SL_OK;
}

KERNEL(ts_pl_iv) { return ts_iv(cx, e, a, n, o, 0, 1); }
KERNEL(iv_pl_ts) { return ts_iv(cx, e, a, n, o, 1, 1); }
KERNEL(ts_mi_iv) { return ts_iv(cx, e, a, n, o, 0, -1); }

KERNEL(ts_mi_ts)
{
    (void)cx;
    (void)e;
    for (int64_t i = 0; i < n; i++)
        ko_iv(o, i, dt_ts_diff(ka_i64(&a[0], i), ka_i64(&a[1], i)));
    return SL_OK;
}

static int iv_iv(sql_fctx *cx, const sql_expr *e, const sql_vec *a, int64_t n, sql_vec *o, int sign)
{
    for (int64_t i = 0; i < n; i++) {
        if (ka_null(a, 2, i))
            continue;
        sql_interval x = ka_iv(&a[0], i), y = ka_iv(&a[1], i), r;
        if (dt_interval_add(&x, &y, sign, &r))
            return dt_range(cx, e);
        ko_iv(o, i, r);
    }
    return SL_OK;
}

KERNEL(iv_pl_iv) { return iv_iv(cx, e, a, n, o, 1); }
KERNEL(iv_mi_iv) { return iv_iv(cx, e, a, n, o, -1); }

static int iv_scale(sql_fctx *cx, const sql_expr *e, const sql_vec *a, int64_t n, sql_vec *o,
                    int iv_arg, bool divide)
{
    for (int64_t i = 0; i < n; i++) {
        if (ka_null(a, 2, i))
            continue;
        sql_interval x = ka_iv(&a[iv_arg], i), r;
        double f = ka_f64(&a[1 - iv_arg], i);
        if (divide) {
            if (f == 0)
                return sql_fail(cx, e, SQLSTATE_DIV_ZERO, "division by zero");
            f = 1 / f;
        }
        if (dt_interval_mul(&x, f, &r))
            return dt_range(cx, e);
        ko_iv(o, i, r);
    }
    return SL_OK;
}

KERNEL(iv_mul_f) { return iv_scale(cx, e, a, n, o, 0, false); }
KERNEL(f_mul_iv) { return iv_scale(cx, e, a, n, o, 1, false); }
KERNEL(iv_div_f) { return iv_scale(cx, e, a, n, o, 0, true); }

KERNEL(iv_neg)
{
    for (int64_t i = 0; i < n; i++) {
        if (ka_null(a, 1, i))
            continue;
        sql_interval x = ka_iv(&a[0], i);
        if (x.months == INT32_MIN || x.days == INT32_MIN || x.ns == INT64_MIN)
            return dt_range(cx, e);
        ko_iv(o, i, (sql_interval){-x.months, -x.days, -x.ns});
    }
    return SL_OK;
}

#define BIN(op, t, k) {op, 2, {t, t}, t, 0, k, NULL}

static const sql_func g_arith[] = {
    BIN("+", ST_INT2, int_add), BIN("+", ST_INT4, int_add), BIN("+", ST_INT8, int_add),
    BIN("-", ST_INT2, int_sub), BIN("-", ST_INT4, int_sub), BIN("-", ST_INT8, int_sub),
    BIN("*", ST_INT2, int_mul), BIN("*", ST_INT4, int_mul), BIN("*", ST_INT8, int_mul),
    BIN("/", ST_INT2, int_div), BIN("/", ST_INT4, int_div), BIN("/", ST_INT8, int_div),
    BIN("%", ST_INT2, int_mod), BIN("%", ST_INT4, int_mod), BIN("%", ST_INT8, int_mod),
    BIN("+", ST_FLOAT4, flt_add), BIN("+", ST_FLOAT8, flt_add),
    BIN("-", ST_FLOAT4, flt_sub), BIN("-", ST_FLOAT8, flt_sub),
    BIN("*", ST_FLOAT4, flt_mul), BIN("*", ST_FLOAT8, flt_mul),
    BIN("/", ST_FLOAT4, flt_div), BIN("/", ST_FLOAT8, flt_div),
    BIN("+", ST_NUMERIC, num_add), BIN("-", ST_NUMERIC, num_sub),
    BIN("*", ST_NUMERIC, num_mul), BIN("/", ST_NUMERIC, num_div),
    BIN("%", ST_NUMERIC, num_mod),
    {"-", 1, {ST_INT2}, ST_INT2, 0, int_neg, NULL},
    {"-", 1, {ST_INT4}, ST_INT4, 0, int_neg, NULL},
    {"-", 1, {ST_INT8}, ST_INT8, 0, int_neg, NULL},
    {"-", 1, {ST_FLOAT4}, ST_FLOAT4, 0, flt_neg, NULL},
    {"-", 1, {ST_FLOAT8}, ST_FLOAT8, 0, flt_neg, NULL},
    {"-", 1, {ST_NUMERIC}, ST_NUMERIC, 0, num_neg, NULL},
    {"-", 1, {ST_INTERVAL}, ST_INTERVAL, 0, iv_neg, NULL},
    {"+", 2, {ST_DATE, ST_INT4}, ST_DATE, 0, date_pl_int, NULL},
    {"+", 2, {ST_INT4, ST_DATE}, ST_DATE, 0, int_pl_date, NULL},
    {"-", 2, {ST_DATE, ST_INT4}, ST_DATE, 0, date_mi_int, NULL},
    {"-", 2, {ST_DATE, ST_DATE}, ST_INT4, 0, date_mi_date, NULL},
    {"+", 2, {ST_TIMESTAMP, ST_INTERVAL}, ST_TIMESTAMP, 0, ts_pl_iv, NULL},
    {"+", 2, {ST_TIMESTAMPTZ, ST_INTERVAL}, ST_TIMESTAMPTZ, 0, ts_pl_iv, NULL},
    {"+", 2, {ST_INTERVAL, ST_TIMESTAMP}, ST_TIMESTAMP, 0, iv_pl_ts, NULL},
    {"+", 2, {ST_INTERVAL, ST_TIMESTAMPTZ}, ST_TIMESTAMPTZ, 0, iv_pl_ts, NULL},
    {"-", 2, {ST_TIMESTAMP, ST_INTERVAL}, ST_TIMESTAMP, 0, ts_mi_iv, NULL},
    {"-", 2, {ST_TIMESTAMPTZ, ST_INTERVAL}, ST_TIMESTAMPTZ, 0, ts_mi_iv, NULL},
    {"-", 2, {ST_TIMESTAMP, ST_TIMESTAMP}, ST_INTERVAL, 0, ts_mi_ts, NULL},
    {"-", 2, {ST_TIMESTAMPTZ, ST_TIMESTAMPTZ}, ST_INTERVAL, 0, ts_mi_ts, NULL},
    {"+", 2, {ST_INTERVAL, ST_INTERVAL}, ST_INTERVAL, 0, iv_pl_iv, NULL},
    {"-", 2, {ST_INTERVAL, ST_INTERVAL}, ST_INTERVAL, 0, iv_mi_iv, NULL},
    {"*", 2, {ST_INTERVAL, ST_FLOAT8}, ST_INTERVAL, 0, iv_mul_f, NULL},
    {"*", 2, {ST_FLOAT8, ST_INTERVAL}, ST_INTERVAL, 0, f_mul_iv, NULL},
    {"/", 2, {ST_INTERVAL, ST_FLOAT8}, ST_INTERVAL, 0, iv_div_f, NULL},
};

sql_func_table sql_funcs_arith(void)
{
    return (sql_func_table){g_arith, sizeof g_arith / sizeof g_arith[0]};
}
