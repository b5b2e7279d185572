/*
 * kern.h - helpers every kernel file uses: reading argument rows (constants
 * fold to row 0), writing result rows, and the null checks of kernels that
 * can fail.
 */
#ifndef SL_SQL_FUNC_KERN_H
#define SL_SQL_FUNC_KERN_H

#include "sql/func/func.h"
#include "sql/types/jsonb.h"
#include "sql/types/value.h"

#include <string.h>

static inline int32_t ka_i32(const sql_vec *a, int64_t i)
{
    return col_vec_i32(&a->v, sql_vec_row(a, i));
}
static inline int64_t ka_i64(const sql_vec *a, int64_t i)
{
    return col_vec_i64(&a->v, sql_vec_row(a, i));
}
static inline double ka_f64(const sql_vec *a, int64_t i)
{
    return col_vec_f64(&a->v, sql_vec_row(a, i));
}
static inline bool ka_bool(const sql_vec *a, int64_t i)
{
    return col_vec_bool(&a->v, sql_vec_row(a, i));
}
static inline sql_dec ka_dec(const sql_vec *a, int64_t i)
{
    sql_dec d;
    memcpy(&d, a->v.values->p + 16 * sql_vec_row(a, i), 16);
    return d;
}
static inline sql_interval ka_iv(const sql_vec *a, int64_t i)
{
    sql_interval v;
    memcpy(&v, a->v.values->p + 16 * sql_vec_row(a, i), 16);
    return v;
}
static inline const char *ka_str(const sql_vec *a, int64_t i, size_t *n)
{
    return (const char *)col_vec_str(&a->v, sql_vec_row(a, i), n);
}
/* An integer argument of any integer type (int32 or int64 storage). */
static inline int64_t ka_int(const sql_vec *a, int64_t i)
{
    return a->v.type == COL_INT32 ? ka_i32(a, i) : ka_i64(a, i);
}
static inline bool ka_null(const sql_vec *args, int nargs, int64_t i)
{
    for (int k = 0; k < nargs; k++)
        if (!sql_vec_valid(&args[k], i))
            return true;
    return false;
}

static inline void ko_i32(sql_vec *o, int64_t i, int32_t v)
{
    memcpy(o->v.values->p + 4 * i, &v, 4);
}
static inline void ko_i64(sql_vec *o, int64_t i, int64_t v)
{
    memcpy(o->v.values->p + 8 * i, &v, 8);
}
static inline void ko_f64(sql_vec *o, int64_t i, double v)
{
    memcpy(o->v.values->p + 8 * i, &v, 8);
}
static inline void ko_dec(sql_vec *o, int64_t i, sql_dec v)
{
    memcpy(o->v.values->p + 16 * i, &v, 16);
}
static inline void ko_iv(sql_vec *o, int64_t i, sql_interval v)
{
    memcpy(o->v.values->p + 16 * i, &v, 16);
}
static inline void ko_bool(sql_vec *o, int64_t i, bool v)
{
    if (v)
        o->v.values->p[i >> 3] |= (uint8_t)(1u << (i & 7));
    else
        o->v.values->p[i >> 3] &= (uint8_t)~(1u << (i & 7));
}
/* Marks row i of a fixed-width result null. */
static inline int ko_null(sql_vec *o, int64_t i)
{
    int rc = sql_vec_need_validity(o);
    if (!rc)
        sql_vec_set_null(o, i);
    return rc;
}
/* A three-valued boolean result: 0 false, 1 true, 2 null. */
static inline int ko_tri(sql_vec *o, int64_t i, int t)
{
    if (t == 2)
        return ko_null(o, i);
    ko_bool(o, i, t == 1);
    return SL_OK;
}
/* Writes an integer result into int32 or int64 storage, as the result type says. */
static inline void ko_int(sql_vec *o, int64_t i, int64_t v)
{
    if (o->v.type == COL_INT32)
        ko_i32(o, i, (int32_t)v);
    else
        ko_i64(o, i, v);
}

#define KERNEL(name)                                                                            \
    static int name(sql_fctx *cx, const sql_expr *e, const sql_vec *a, int64_t n, sql_vec *o)
#define UNUSED_KARGS                                                                            \
    do {                                                                                        \
        (void)cx;                                                                               \
        (void)e;                                                                                \
        (void)a;                                                                                \
        (void)n;                                                                                \
        (void)o;                                                                                \
    } while (0)

/* The range error PostgreSQL reports for each integer type. */
static inline const char *int_range_msg(sql_type t)
{
    return t.id == ST_INT2 ? "smallint out of range" : t.id == ST_INT4 ? "integer out of range"
                                                                       : "bigint out of range";
}

#endif
