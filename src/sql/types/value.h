/*
 * value.h - one SQL value (a datum), and values in and out of text.
 *
 * Vectors carry the bulk of the data; a datum is one value outside a vector:
 * a constant in an expression, a query parameter, one row read for a
 * correlated subquery.  Strings in a datum point into memory owned by someone
 * else (the vector, or the query's arena).
 *
 * Text in and out follow PostgreSQL's input and output functions for each type
 * (int4in/int4out, float8out's shortest round-trip digits, numeric_out,
 * timestamp_out with DateStyle ISO, interval_out with IntervalStyle postgres,
 * byteaout in hex, uuid_out, jsonb_out, array_out), so that a client cannot
 * tell the engine's text from PostgreSQL's.
 */
#ifndef SL_SQL_TYPES_VALUE_H
#define SL_SQL_TYPES_VALUE_H

#include "base/arena.h"
#include "base/dbuf.h"
#include "col/col.h"
#include "sql/types/datetime.h"
#include "sql/types/numeric.h"
#include "sql/types/type.h"

typedef struct sql_datum {
    bool null;
    union {
        bool b;
        int64_t i;           /* int2/int4/int8/oid, date (days), timestamps (ns) */
        double f;            /* float4/float8 */
        sql_dec d;           /* numeric */
        sql_interval iv;     /* interval */
        struct {
            const uint8_t *p;
            uint32_t n;
        } s;                 /* text, varchar, unknown, bytea, uuid, jsonb, text[] */
    };
} sql_datum;

static inline sql_datum sql_datum_null(void)
{
    sql_datum d;
    memset(&d, 0, sizeof d);
    d.null = true;
    return d;
}

/* Row r of v (of SQL type t) as a datum (strings point into v). */
sql_datum sql_datum_get(sql_type t, const col_vec *v, int64_t r);
/* Appends d to v (v's physical type is t's). */
int sql_datum_append(sql_type t, const sql_datum *d, col_vec *v);

/* Text out: appends the value's text (not quoted) to b.  NULL appends nothing. */
int sql_datum_text(sql_type t, const sql_datum *d, dbuf *b);
/* Convenience: row r of v as text. */
int sql_vec_text(sql_type t, const col_vec *v, int64_t r, dbuf *b);

/* Text in: parses text as a value of type t.  Strings are copied into a.
 * Returns 0, or a SQLSTATE-carrying failure: 22P02 (invalid text), 22003 (out of
 * range), 22008 (datetime out of range), 22007 (bad datetime).  *state gets
 * the SQLSTATE of a failure. */
int sql_datum_parse(sql_type t, const char *s, size_t n, arena *a, sql_datum *out,
                    const char **state);

/* Three-way comparison of two non-null datums of type t (SQL ordering). */
int sql_datum_cmp(sql_type t, const sql_datum *a, const sql_datum *b);
/* A hash consistent with sql_datum_cmp == 0. */
uint64_t sql_datum_hash(sql_type t, const sql_datum *d);

/* float8out / float4out: the shortest text that reads back as the same value. */
int sql_float_text(double v, bool is_float4, char *buf, size_t n);

/* text[]: the encoded form is u32 count, then per element u32 length
 * (UINT32_MAX for NULL) and its bytes. */
int sql_textarr_parse(const char *s, size_t n, dbuf *out);
int sql_textarr_text(const uint8_t *p, size_t n, dbuf *b);
/* The i-th element (0-based): 1 found, 0 null or absent. */
int sql_textarr_get(const uint8_t *p, size_t n, uint32_t i, const uint8_t **e, uint32_t *en);
uint32_t sql_textarr_count(const uint8_t *p, size_t n);
/* Whether the element bytes x are in the array: 1 yes, 0 no, 2 not found but the
 * array has a null (x = ANY(array) is then null). */
int sql_textarr_find(const uint8_t *p, size_t n, const void *x, size_t xn);
/* int2[] element i (0-based) as a number: 1 found, 0 null or absent. */
int sql_int2arr_get(const uint8_t *p, size_t n, uint32_t i, int32_t *v);

/* uuid text (any case, with or without hyphens, optional braces) to canonical. */
int sql_uuid_canon(const char *s, size_t n, char out[37]);

#endif
