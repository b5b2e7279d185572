/*
 * compare.c - = <> < <= > >= for every type.
 *
 * The binder casts both sides to one type first (int4 = int8 compares as
 * int8), so there is one kernel per storage class and operator.  Floats
 * order NaN above every number and equal to itself, as PostgreSQL does.
 * Strings compare bytewise (the C collation; docs/sql.md).  A string column
 * held as a dictionary compared with a constant is decided once per
 * dictionary entry, then looked up per row.
 */
#include "sql/func/kern.h"

#include "base/alloc.h"

enum { C_EQ, C_NE, C_LT, C_LE, C_GT, C_GE };

static inline bool apply(int op, int c)
{
    switch (op) {
    case C_EQ: return c == 0;
    case C_NE: return c != 0;
    case C_LT: return c < 0;
    case C_LE: return c <= 0;
    case C_GT: return c > 0;
    default: return c >= 0;
    }
}

static inline int cmp_f64(double x, double y)
{
    bool xn = x != x, yn = y != y;
    if (xn || yn)
        return xn && yn ? 0 : xn ? 1 : -1;
    return x < y ? -1 : x > y;
}

static inline int cmp_str(const char *x, size_t xn, const char *y, size_t yn)
{
    int c = memcmp(x, y, xn < yn ? xn : yn);
    if (c)
        return c < 0 ? -1 : 1;
    return xn < yn ? -1 : xn > yn;
}

/* Integers compare as the C operators do; the loops are simple enough to vectorize. */
#define INT_CMP(name, GET, OP)                                                                  \
    KERNEL(name)                                                                                \
    {                                                                                           \
        (void)cx;                                                                               \
        (void)e;                                                                                \
        for (int64_t i = 0; i < n; i++)                                                         \
            ko_bool(o, i, GET(&a[0], i) OP GET(&a[1], i));                                      \
        return SL_OK;                                                                           \
    }
#define INT_CMPS(prefix, GET)                                                                   \
    INT_CMP(prefix##_eq, GET, ==)                                                               \
    INT_CMP(prefix##_ne, GET, !=)                                                               \
    INT_CMP(prefix##_lt, GET, <)                                                                \
    INT_CMP(prefix##_le, GET, <=)                                                               \
    INT_CMP(prefix##_gt, GET, >)                                                                \
    INT_CMP(prefix##_ge, GET, >=)

INT_CMPS(i32, ka_i32)
INT_CMPS(i64, ka_i64)

static bool get_b(const sql_vec *v, int64_t i)
{
    return ka_bool(v, i);
}
INT_CMPS(bl, get_b)

/* Everything else goes through a three-way comparison. */
#define THREE_WAY(name, EXPR)                                                                   \
    static int name(sql_fctx *cx, const sql_expr *e, const sql_vec *a, int64_t n, sql_vec *o,   \
                    int op)                                                                     \
    {                                                                                           \
        (void)cx;                                                                               \
        (void)e;                                                                                \
        for (int64_t i = 0; i < n; i++) {                                                       \
            int c = EXPR;                                                                       \
            ko_bool(o, i, apply(op, c));                                                        \
        }                                                                                       \
        return SL_OK;                                                                           \
    }

THREE_WAY(f64_cmp, cmp_f64(ka_f64(&a[0], i), ka_f64(&a[1], i)))
THREE_WAY(num_cmp, dec_cmp(ka_dec(&a[0], i), ka_dec(&a[1], i)))
static int ivc(const sql_vec *a, int64_t i)
{
    sql_interval x = ka_iv(&a[0], i), y = ka_iv(&a[1], i);
    return dt_interval_cmp(&x, &y);
}
THREE_WAY(iv_cmp, ivc(a, i))

/* Strings: a dictionary against a constant is decided per entry. */
static int str_cmp(sql_fctx *cx, const sql_expr *e, const sql_vec *a, int64_t n, sql_vec *o,
                   int op)
{
    (void)cx;
    (void)e;
    int d = a[0].v.type == COL_DICT && !a[0].is_const && a[1].is_const ? 0
            : a[1].v.type == COL_DICT && !a[1].is_const && a[0].is_const ? 1 : -1;
    if (d >= 0 && n > 64) {
        const col_vec *dv = &a[d].v;
        const col_vec *ds = &dv->dict->strings;
        size_t kn;
        const char *k = ka_str(&a[1 - d], 0, &kn);
        uint8_t *res = sl_malloc((size_t)(ds->len ? ds->len : 1));
        if (!res)
            return SL_ENOMEM;
        for (int64_t j = 0; j < ds->len; j++) {
            size_t sn;
            const char *s = (const char *)col_vec_str(ds, j, &sn);
            int c = d == 0 ? cmp_str(s, sn, k, kn) : cmp_str(k, kn, s, sn);
            res[j] = apply(op, c);
        }
        for (int64_t i = 0; i < n; i++)
            ko_bool(o, i, res[col_vec_key(dv, i)]);
        sl_free(res);
        return SL_OK;
    }
    for (int64_t i = 0; i < n; i++) {
        size_t xn, yn;
        const char *x = ka_str(&a[0], i, &xn), *y = ka_str(&a[1], i, &yn);
        ko_bool(o, i, apply(op, cmp_str(x, xn, y, yn)));
    }
    return SL_OK;
}

#define OPS_OF(kernel)                                                                          \
    KERNEL(kernel##_eq) { return kernel(cx, e, a, n, o, C_EQ); }                                \
    KERNEL(kernel##_ne) { return kernel(cx, e, a, n, o, C_NE); }                                \
    KERNEL(kernel##_lt) { return kernel(cx, e, a, n, o, C_LT); }                                \
    KERNEL(kernel##_le) { return kernel(cx, e, a, n, o, C_LE); }                                \
    KERNEL(kernel##_gt) { return kernel(cx, e, a, n, o, C_GT); }                                \
    KERNEL(kernel##_ge) { return kernel(cx, e, a, n, o, C_GE); }

OPS_OF(f64_cmp)
OPS_OF(num_cmp)
OPS_OF(iv_cmp)
OPS_OF(str_cmp)

#define SIX(t, p)                                                                               \
    {"=", 2, {t, t}, ST_BOOL, 0, p##_eq, NULL}, {"<>", 2, {t, t}, ST_BOOL, 0, p##_ne, NULL},    \
        {"<", 2, {t, t}, ST_BOOL, 0, p##_lt, NULL}, {"<=", 2, {t, t}, ST_BOOL, 0, p##_le, NULL}, \
        {">", 2, {t, t}, ST_BOOL, 0, p##_gt, NULL}, {">=", 2, {t, t}, ST_BOOL, 0, p##_ge, NULL}

static const sql_func g_compare[] = {
    SIX(ST_BOOL, bl),
    SIX(ST_INT2, i32),          SIX(ST_INT4, i32),        SIX(ST_DATE, i32),
    SIX(ST_INT8, i64),          SIX(ST_OID, i64),
    SIX(ST_TIMESTAMP, i64),     SIX(ST_TIMESTAMPTZ, i64),
    SIX(ST_FLOAT4, f64_cmp),    SIX(ST_FLOAT8, f64_cmp),
    SIX(ST_NUMERIC, num_cmp),   SIX(ST_INTERVAL, iv_cmp),
    SIX(ST_TEXT, str_cmp),      SIX(ST_VARCHAR, str_cmp), SIX(ST_UUID, str_cmp),
    SIX(ST_BYTEA, str_cmp),     SIX(ST_JSONB, str_cmp),   SIX(ST_TEXTARR, str_cmp),
};

sql_func_table sql_funcs_compare(void)
{
    return (sql_func_table){g_compare, sizeof g_compare / sizeof g_compare[0]};
}
