/*
 * numeric.h - SQL numeric: exact decimals with PostgreSQL's scale rules.
 *
 * A value is packed in 16 bytes as one int128: (mantissa << 6) | scale, worth
 * mantissa x 10^-scale.  The scale is the value's display scale (PostgreSQL's
 * dscale: 1.50 and 1.5 are equal but print differently), 0 to 63.  The
 * mantissa holds up to 2^121 - 1 (about 2.6e36): 36 significant digits.
 * Results follow PostgreSQL's rules: addition keeps the larger scale,
 * multiplication adds scales, division picks its scale as select_div_scale
 * does (at least 16 significant digits), and rounding is half away from zero.
 * A result that does not fit is an error (SL_ERANGE-like: the caller reports
 * SQLSTATE 22003), never a wrong value.  docs/sql.md lists the deviations
 * (36 digits, scale 63, no NaN or infinities).
 */
#ifndef SL_SQL_TYPES_NUMERIC_H
#define SL_SQL_TYPES_NUMERIC_H

#include "base/dbuf.h"

#include <stdbool.h>
#include <stdint.h>

typedef __int128 sql_dec;

#define DEC_MAX_SCALE 63
#define DEC_SCALE_BITS 6

/* Result codes of the operations: 0, or one of these. */
enum { DEC_OK = 0, DEC_OVERFLOW = 1, DEC_DIV0 = 2, DEC_SYNTAX = 3 };

static inline __int128 dec_mant(sql_dec d)
{
    return d >> DEC_SCALE_BITS; /* arithmetic shift: gcc and clang define it */
}

static inline int dec_scale(sql_dec d)
{
    return (int)(d & ((1 << DEC_SCALE_BITS) - 1));
}

/* Packs mantissa and scale; DEC_OVERFLOW when the mantissa does not fit. */
int dec_make(__int128 mant, int scale, sql_dec *out);
static inline sql_dec dec_from_i64(int64_t v)
{
    return (sql_dec)((__int128)v * (1 << DEC_SCALE_BITS));
}
/* PostgreSQL's float8 to numeric: 15 significant digits (DBL_DIG). */
int dec_from_double(double v, sql_dec *out);
/* Exact for 17 significant digits, rounded beyond (through the text form). */
double dec_to_double(sql_dec d);
/* Rounded half away from zero; DEC_OVERFLOW outside int64. */
int dec_to_i64(sql_dec d, int64_t *out);

/* numeric_in: optional spaces, sign, digits, point, exponent. */
int dec_parse(const char *s, size_t n, sql_dec *out);
/* numeric_out into b. */
int dec_format(sql_dec d, dbuf *b);
/* Into buf (at least 48 bytes); returns the length. */
int dec_to_text(sql_dec d, char *buf);

int dec_add(sql_dec a, sql_dec b, sql_dec *out);
int dec_sub(sql_dec a, sql_dec b, sql_dec *out);
int dec_mul(sql_dec a, sql_dec b, sql_dec *out);
int dec_div(sql_dec a, sql_dec b, sql_dec *out);
/* Division to an explicit scale (avg, and division by an int count). */
int dec_div_scale(sql_dec a, sql_dec b, int scale, sql_dec *out);
/* The scale PostgreSQL's select_div_scale picks for a / b. */
int dec_div_result_scale(sql_dec a, sql_dec b);
int dec_mod(sql_dec a, sql_dec b, sql_dec *out);
int dec_cmp(sql_dec a, sql_dec b);
sql_dec dec_neg(sql_dec a);
sql_dec dec_abs(sql_dec a);
/* round(a, s), trunc(a, s): s may be negative (round to tens...). */
int dec_round(sql_dec a, int s, sql_dec *out);
int dec_trunc(sql_dec a, int s, sql_dec *out);
int dec_ceil(sql_dec a, sql_dec *out);
int dec_floor(sql_dec a, sql_dec *out);
int dec_sign(sql_dec a);
/* To a numeric(precision, scale) typmod: rounds to scale, DEC_OVERFLOW past precision. */
int dec_apply_typmod(sql_dec a, int precision, int scale, sql_dec *out);
/* Sum of int128 mantissas at scale 0, as aggregates keep it. */
int dec_from_i128(__int128 v, sql_dec *out);
/* A hash equal for equal values whatever their scales (1.5 and 1.50). */
uint64_t dec_hash(sql_dec a);

#endif
