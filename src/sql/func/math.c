/*
 * math.c - math functions: abs, round, trunc, ceil, floor, sign, sqrt,
 * power, exp, ln, log, trigonometry, random, pi.
 *
 * Exact on numeric where PostgreSQL is exact (abs, round, trunc, ceil,
 * floor, sign); the transcendental functions are double precision
 * (docs/sql.md: numeric arguments are computed as float8).
 */
#include "sql/func/kern.h"

#include <math.h>

KERNEL(abs_int)
{
    for (int64_t i = 0; i < n; i++) {
        if (ka_null(a, 1, i))
            continue;
        int64_t v = ka_int(&a[0], i);
        int64_t lo = e->type.id == ST_INT2 ? INT16_MIN : e->type.id == ST_INT4 ? INT32_MIN : INT64_MIN;
        if (v == lo)
            return sql_fail(cx, e, SQLSTATE_OUT_OF_RANGE, "%s", int_range_msg(e->type));
        ko_int(o, i, v < 0 ? -v : v);
    }
    return SL_OK;
}

KERNEL(abs_flt)
{
    (void)cx;
    (void)e;
    for (int64_t i = 0; i < n; i++)
        ko_f64(o, i, fabs(ka_f64(&a[0], i)));
    return SL_OK;
}

KERNEL(abs_num)
{
    (void)cx;
    (void)e;
    for (int64_t i = 0; i < n; i++)
        ko_dec(o, i, dec_abs(ka_dec(&a[0], i)));
    return SL_OK;
}

typedef double (*d2d)(double);

static int flt_unary(sql_fctx *cx, const sql_expr *e, const sql_vec *a, int64_t n, sql_vec *o,
                     d2d f, int domain)
{
    for (int64_t i = 0; i < n; i++) {
        if (ka_null(a, 1, i))
            continue;
        double x = ka_f64(&a[0], i);
        if (domain == 1 && x < 0)
            return sql_fail(cx, e, "2201F", "cannot take square root of a negative number");
        if (domain == 2 && x == 0)
            return sql_fail(cx, e, "2201E", "cannot take logarithm of zero");
        if (domain == 2 && x < 0)
            return sql_fail(cx, e, "2201E", "cannot take logarithm of a negative number");
        if (domain == 3 && (x < -1 || x > 1))
            return sql_fail(cx, e, "22003", "input is out of range");
        double r = f(x);
        if (isinf(r) && !isinf(x))
            return sql_fail(cx, e, SQLSTATE_OUT_OF_RANGE, "value out of range: overflow");
        ko_f64(o, i, r);
    }
    return SL_OK;
}

#define FLT1(name, fn, dom)                                                                     \
    KERNEL(name) { return flt_unary(cx, e, a, n, o, fn, dom); }

static double d_sign(double x)
{
    return x > 0 ? 1 : x < 0 ? -1 : 0;
}
static double d_degrees(double x)
{
    return x * (180.0 / M_PI);
}
static double d_radians(double x)
{
    return x * (M_PI / 180.0);
}

FLT1(round_flt, rint, 0)
FLT1(trunc_flt, trunc, 0)
FLT1(ceil_flt, ceil, 0)
FLT1(floor_flt, floor, 0)
FLT1(sign_flt, d_sign, 0)
FLT1(sqrt_flt, sqrt, 1)
FLT1(cbrt_flt, cbrt, 0)
FLT1(exp_flt, exp, 0)
FLT1(ln_flt, log, 2)
FLT1(log10_flt, log10, 2)
FLT1(sin_flt, sin, 0)
FLT1(cos_flt, cos, 0)
FLT1(tan_flt, tan, 0)
FLT1(asin_flt, asin, 3)
FLT1(acos_flt, acos, 3)
FLT1(atan_flt, atan, 0)
FLT1(degrees_flt, d_degrees, 0)
FLT1(radians_flt, d_radians, 0)

KERNEL(power_flt)
{
    for (int64_t i = 0; i < n; i++) {
        if (ka_null(a, 2, i))
            continue;
        double x = ka_f64(&a[0], i), y = ka_f64(&a[1], i);
        if (x == 0 && y < 0)
            return sql_fail(cx, e, "2201F", "zero raised to a negative power is undefined");
        if (x < 0 && floor(y) != y)
            return sql_fail(cx, e, "2201F", "a negative number raised to a non-integer power "
                            "yields a complex result");
        double r = pow(x, y);
        if (isinf(r) && !isinf(x) && !isinf(y))
            return sql_fail(cx, e, SQLSTATE_OUT_OF_RANGE, "value out of range: overflow");
        ko_f64(o, i, r);
    }
    return SL_OK;
}

KERNEL(atan2_flt)
{
    (void)cx;
    (void)e;
    for (int64_t i = 0; i < n; i++)
        ko_f64(o, i, atan2(ka_f64(&a[0], i), ka_f64(&a[1], i)));
    return SL_OK;
}

/* ---- numeric ------------------------------------------------------------ */

static int num_round_like(sql_fctx *cx, const sql_expr *e, const sql_vec *a, int64_t n,
                          sql_vec *o, int mode)
{
    for (int64_t i = 0; i < n; i++) {
        if (ka_null(a, e->nargs, i))
            continue;
        sql_dec x = ka_dec(&a[0], i), r;
        int s = e->nargs > 1 ? (int)ka_int(&a[1], i) : 0, rc;
        switch (mode) {
        case 0: rc = dec_round(x, s, &r); break;
        case 1: rc = dec_trunc(x, s, &r); break;
        case 2: rc = dec_ceil(x, &r); break;
        case 3: rc = dec_floor(x, &r); break;
        default:
            rc = 0;
            r = dec_from_i64(dec_sign(x));
            break;
        }
        if (rc)
            return sql_fail(cx, e, SQLSTATE_OUT_OF_RANGE, "value overflows numeric format");
        ko_dec(o, i, r);
    }
    return SL_OK;
}

KERNEL(round_num) { return num_round_like(cx, e, a, n, o, 0); }
KERNEL(trunc_num) { return num_round_like(cx, e, a, n, o, 1); }
KERNEL(ceil_num) { return num_round_like(cx, e, a, n, o, 2); }
KERNEL(floor_num) { return num_round_like(cx, e, a, n, o, 3); }
KERNEL(sign_num) { return num_round_like(cx, e, a, n, o, 4); }

/* round(float8, int) is not PostgreSQL's, but round(numeric, int) is; so is this */

KERNEL(random_k)
{
    (void)e;
    (void)a;
    for (int64_t i = 0; i < n; i++) {
        /* xorshift64*: fast, and good enough for random() */
        uint64_t x = cx->random_state ? cx->random_state : 0x9E3779B97F4A7C15ull;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        cx->random_state = x;
        ko_f64(o, i, (double)((x * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0);
    }
    return SL_OK;
}

KERNEL(pi_k)
{
    (void)cx;
    (void)e;
    (void)a;
    for (int64_t i = 0; i < n; i++)
        ko_f64(o, i, M_PI);
    return SL_OK;
}

#define F ST_FLOAT8
#define N ST_NUMERIC
static const sql_func g_math[] = {
    {"abs", 1, {ST_INT2}, ST_INT2, 0, abs_int, NULL},
    {"abs", 1, {ST_INT4}, ST_INT4, 0, abs_int, NULL},
    {"abs", 1, {ST_INT8}, ST_INT8, 0, abs_int, NULL},
    {"abs", 1, {ST_FLOAT4}, ST_FLOAT4, 0, abs_flt, NULL},
    {"abs", 1, {F}, F, 0, abs_flt, NULL},
    {"abs", 1, {N}, N, 0, abs_num, NULL},
    {"round", 1, {F}, F, 0, round_flt, NULL},
    {"round", 1, {N}, N, 0, round_num, NULL},
    {"round", 2, {N, ST_INT4}, N, 0, round_num, NULL},
    {"trunc", 1, {F}, F, 0, trunc_flt, NULL},
    {"trunc", 1, {N}, N, 0, trunc_num, NULL},
    {"trunc", 2, {N, ST_INT4}, N, 0, trunc_num, NULL},
    {"ceil", 1, {F}, F, 0, ceil_flt, NULL},
    {"ceil", 1, {N}, N, 0, ceil_num, NULL},
    {"ceiling", 1, {F}, F, 0, ceil_flt, NULL},
    {"ceiling", 1, {N}, N, 0, ceil_num, NULL},
    {"floor", 1, {F}, F, 0, floor_flt, NULL},
    {"floor", 1, {N}, N, 0, floor_num, NULL},
    {"sign", 1, {F}, F, 0, sign_flt, NULL},
    {"sign", 1, {N}, N, 0, sign_num, NULL},
    {"sqrt", 1, {F}, F, 0, sqrt_flt, NULL},
    {"cbrt", 1, {F}, F, 0, cbrt_flt, NULL},
    {"exp", 1, {F}, F, 0, exp_flt, NULL},
    {"ln", 1, {F}, F, 0, ln_flt, NULL},
    {"log", 1, {F}, F, 0, log10_flt, NULL},
    {"log10", 1, {F}, F, 0, log10_flt, NULL},
    {"power", 2, {F, F}, F, 0, power_flt, NULL},
    {"pow", 2, {F, F}, F, 0, power_flt, NULL},
    {"sin", 1, {F}, F, 0, sin_flt, NULL},
    {"cos", 1, {F}, F, 0, cos_flt, NULL},
    {"tan", 1, {F}, F, 0, tan_flt, NULL},
    {"asin", 1, {F}, F, 0, asin_flt, NULL},
    {"acos", 1, {F}, F, 0, acos_flt, NULL},
    {"atan", 1, {F}, F, 0, atan_flt, NULL},
    {"atan2", 2, {F, F}, F, 0, atan2_flt, NULL},
    {"degrees", 1, {F}, F, 0, degrees_flt, NULL},
    {"radians", 1, {F}, F, 0, radians_flt, NULL},
    {"random", 0, {0}, F, FN_VOLATILE, random_k, NULL},
    {"pi", 0, {0}, F, 0, pi_k, NULL},
    {"mod", 2, {ST_INT2, ST_INT2}, ST_INT2, 0, NULL, NULL}, /* resolved to % by the binder */
};
#undef F
#undef N

sql_func_table sql_funcs_math(void)
{
    /* the last row is an alias marker, not a kernel */
    return (sql_func_table){g_math, sizeof g_math / sizeof g_math[0] - 1};
}
