/*
 * datetime.h - dates, timestamps and intervals as PostgreSQL reads and prints them.
 *
 * date        int32 days since 1970-01-01 (proleptic Gregorian)
 * timestamp   int64 ns since 1970-01-01 00:00:00, no zone
 * timestamptz int64 ns since 1970-01-01 00:00:00 UTC; the session time zone is UTC
 * interval    {int32 months, int32 days, int64 ns}, as PostgreSQL keeps months,
 *             days and time apart (a day is not always 24 hours, a month is
 *             not a number of days); ns where PostgreSQL has microseconds.
 *
 * INT64_MAX and INT64_MIN are 'infinity' and '-infinity' (as text they read and
 * print so); the lake's "no bound" times are the same values.
 */
#ifndef SL_SQL_TYPES_DATETIME_H
#define SL_SQL_TYPES_DATETIME_H

#include "base/dbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sql_interval {
    int32_t months;
    int32_t days;
    int64_t ns;
} sql_interval;

#define NS_PER_US 1000ll
#define NS_PER_MS 1000000ll
#define NS_PER_S 1000000000ll
#define NS_PER_MIN (60 * NS_PER_S)
#define NS_PER_HOUR (3600 * NS_PER_S)
#define NS_PER_DAY (86400 * NS_PER_S)
#define TS_INFINITY INT64_MAX
#define TS_NINFINITY INT64_MIN

/* Civil calendar. */
int64_t dt_days_from_civil(int64_t y, int m, int d);
void dt_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
int dt_days_in_month(int64_t y, int m);

/* Text in (0, or -1 for text that is not a value of the type). with_tz: a zone
 * in the text is applied (timestamptz), else ignored (timestamp). */
int dt_parse_date(const char *s, size_t n, int32_t *out);
int dt_parse_timestamp(const char *s, size_t n, bool with_tz, int64_t *out);
int dt_parse_interval(const char *s, size_t n, sql_interval *out);

/* Text out, as PostgreSQL with DateStyle ISO and IntervalStyle postgres. */
int dt_format_date(int32_t days, dbuf *b);
int dt_format_timestamp(int64_t ns, bool with_tz, dbuf *b);
int dt_format_interval(const sql_interval *iv, dbuf *b);

/* Arithmetic; -1 when the result leaves the representable range. */
int dt_ts_add_interval(int64_t ts, const sql_interval *iv, int sign, int64_t *out);
sql_interval dt_ts_diff(int64_t a, int64_t b);          /* a - b, days and time (justify_hours) */
int dt_interval_add(const sql_interval *a, const sql_interval *b, int sign, sql_interval *out);
int dt_interval_mul(const sql_interval *a, double f, sql_interval *out);
/* PostgreSQL's interval ordering: 30-day months, 24-hour days. */
int dt_interval_cmp(const sql_interval *a, const sql_interval *b);
__int128 dt_interval_key(const sql_interval *a);
/* Seconds in an interval the way extract(epoch ...) counts them. */
double dt_interval_epoch(const sql_interval *a);

/* date_trunc(unit, ts) for the units year..microsecond; -1 for an unknown unit. */
int dt_trunc(const char *unit, int64_t ts, int64_t *out);
/* The length in ns of a unit that divides a day (microseconds ... day), 0 otherwise:
 * date_trunc to it is rounding down to a multiple (times are UTC). */
int64_t dt_trunc_fixed(const char *unit);
/* extract(field from ts); -1 for an unknown field.  Result in *out as a double
 * (epoch and second have fractions). */
int dt_extract(const char *field, int64_t ts, double *out);
int dt_extract_interval(const char *field, const sql_interval *iv, double *out);

#endif
