/*
 * datetime.c - date, timestamp and interval text and arithmetic (see datetime.h).
 */
#include "sql/types/datetime.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int64_t dt_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void dt_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

int dt_days_in_month(int64_t y, int m)
{
    static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : d[m - 1];
}

/* ---- parsing ------------------------------------------------------------ */

typedef struct cur {
    const char *p, *end;
} cur;

static void skip_sp(cur *c)
{
    while (c->p < c->end && isspace((unsigned char)*c->p))
        c->p++;
}

/* Exactly n digits (or between min and max when max > min). */
static int digits(cur *c, int min, int max, int64_t *out)
{
    int64_t v = 0;
    int n = 0;
    while (c->p < c->end && n < max && isdigit((unsigned char)*c->p)) {
        v = v * 10 + (*c->p++ - '0');
        n++;
    }
    if (n < min)
        return -1;
    *out = v;
    return 0;
}

static bool word(cur *c, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) < n || strncasecmp(c->p, w, n) != 0)
        return false;
    if (c->p + n < c->end && isalpha((unsigned char)c->p[n]))
        return false;
    c->p += n;
    return true;
}

static bool at_end(cur *c)
{
    skip_sp(c);
    return c->p == c->end;
}

/* YYYY-MM-DD into days; the calendar is checked. */
static int parse_ymd(cur *c, int64_t *days)
{
    int64_t y, m, d;
    if (digits(c, 4, 6, &y) || c->p >= c->end || *c->p++ != '-' || digits(c, 1, 2, &m) ||
        c->p >= c->end || *c->p++ != '-' || digits(c, 1, 2, &d))
        return -1;
    if (m < 1 || m > 12 || d < 1 || d > dt_days_in_month(y, (int)m))
        return -1;
    *days = dt_days_from_civil(y, (int)m, (int)d);
    return 0;
}

/* HH:MM[:SS[.fraction]] into ns of the day. */
static int parse_hms(cur *c, int64_t *ns)
{
    int64_t h, mi, s = 0, frac = 0;
    if (digits(c, 1, 2, &h) || c->p >= c->end || *c->p++ != ':' || digits(c, 2, 2, &mi))
        return -1;
    if (c->p < c->end && *c->p == ':') {
        c->p++;
        if (digits(c, 2, 2, &s))
            return -1;
        if (c->p < c->end && *c->p == '.') {
            c->p++;
            int nd = 0;
            while (c->p < c->end && isdigit((unsigned char)*c->p)) {
                if (nd < 9) {
                    frac = frac * 10 + (*c->p - '0');
                    nd++;
                }
                c->p++;
            }
            for (; nd < 9; nd++)
                frac *= 10;
        }
    }
    if (h > 24 || mi > 59 || s > 60 || (h == 24 && (mi || s || frac)))
        return -1;
    *ns = h * NS_PER_HOUR + mi * NS_PER_MIN + s * NS_PER_S + frac;
    return 0;
}

/* Z, UTC, GMT, +HH, +HHMM, +HH:MM into seconds east of UTC; 1 if none. */
static int parse_zone(cur *c, int64_t *off_s)
{
    skip_sp(c);
    if (c->p >= c->end)
        return 1;
    if (word(c, "z") || word(c, "utc") || word(c, "gmt")) {
        *off_s = 0;
        return 0;
    }
    if (*c->p != '+' && *c->p != '-')
        return -1;
    int sign = *c->p++ == '-' ? -1 : 1;
    int64_t h, m = 0;
    if (digits(c, 1, 2, &h))
        return -1;
    if (c->p < c->end && *c->p == ':')
        c->p++;
    if (c->p < c->end && isdigit((unsigned char)*c->p) && digits(c, 2, 2, &m))
        return -1;
    if (h > 15 || m > 59)
        return -1;
    *off_s = sign * (h * 3600 + m * 60);
    return 0;
}

int dt_parse_date(const char *s, size_t n, int32_t *out)
{
    int64_t ts;
    if (dt_parse_timestamp(s, n, false, &ts))
        return -1;
    if (ts == TS_INFINITY || ts == TS_NINFINITY)
        return -1;
    int64_t days = ts >= 0 ? ts / NS_PER_DAY : -((-ts + NS_PER_DAY - 1) / NS_PER_DAY);
    if (days > INT32_MAX || days < INT32_MIN)
        return -1;
    *out = (int32_t)days;
    return 0;
}

/* n digits at s as a number, or -1 when one is not a digit. */
static int64_t fixed_digits(const char *s, int n)
{
    int64_t v = 0;
    for (int i = 0; i < n; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9)
            return -1;
        v = v * 10 + d;
    }
    return v;
}

/*
 * The common layout YYYY-MM-DD HH:MM:SS[.f...] (T or space between, 1 to 9
 * fraction digits, nothing around it): 1 parsed into *out, 0 not that layout or
 * out of its plain ranges (hour 24, second 60, a year beyond the range: the
 * general parser below decides those).  The same value the general parser gives
 * (tests/unit/sql/test_datetime.c compares the two).
 */
static int fast_timestamp(const char *s, size_t n, int64_t *out)
{
    /* the last date this thread read: a file of events has the same one for many
     * rows in a row */
    static _Thread_local struct {
        char ymd[10];
        bool set;
        int64_t days;
    } last;
    if (n < 19 || n == 20 || n > 29 || s[4] != '-' || s[7] != '-' || s[13] != ':' ||
        s[16] != ':' || (s[10] != ' ' && s[10] != 'T' && s[10] != 't') || (n > 19 && s[19] != '.'))
        return 0;
    int64_t h = fixed_digits(s + 11, 2), mi = fixed_digits(s + 14, 2), sec = fixed_digits(s + 17, 2);
    int nf = n > 19 ? (int)n - 20 : 0;
    int64_t frac = nf ? fixed_digits(s + 20, nf) : 0, days;
    if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59 || frac < 0)
        return 0;
    if (last.set && !memcmp(s, last.ymd, 10)) {
        days = last.days;
    } else {
        int64_t y = fixed_digits(s, 4), m = fixed_digits(s + 5, 2), d = fixed_digits(s + 8, 2);
        if (y < 1678 || y > 2261 || m < 1 || m > 12 || d < 1 || d > dt_days_in_month(y, (int)m))
            return 0;
        days = dt_days_from_civil(y, (int)m, (int)d);
        memcpy(last.ymd, s, 10);
        last.days = days;
        last.set = true;
    }
    for (int k = nf; k < 9; k++)
        frac *= 10;
    *out = days * NS_PER_DAY + h * NS_PER_HOUR + mi * NS_PER_MIN + sec * NS_PER_S + frac;
    return 1;
}

/* Every form a timestamp's text may take (fast_timestamp is a shortcut of it). */
static int general_timestamp(const char *s, size_t n, bool with_tz, int64_t *out)
{
    cur c = {s, s + n};
    skip_sp(&c);
    bool digit = c.p < c.end && isdigit((unsigned char)*c.p); /* no special word */
    if (!digit && (word(&c, "infinity") || word(&c, "+infinity"))) {
        *out = TS_INFINITY;
        return at_end(&c) ? 0 : -1;
    }
    if (!digit && word(&c, "-infinity")) {
        *out = TS_NINFINITY;
        return at_end(&c) ? 0 : -1;
    }
    if (!digit && word(&c, "epoch")) {
        *out = 0;
        return at_end(&c) ? 0 : -1;
    }
    if (!digit && word(&c, "now")) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        *out = (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
        return at_end(&c) ? 0 : -1;
    }
    int64_t days, tod = 0, off = 0;
    if (parse_ymd(&c, &days))
        return -1;
    if (c.p < c.end && (*c.p == 'T' || *c.p == 't' || *c.p == ' ')) {
        cur save = c;
        c.p++;
        skip_sp(&c);
        if (c.p < c.end && isdigit((unsigned char)*c.p)) {
            if (parse_hms(&c, &tod))
                return -1;
        } else {
            c = save;
        }
    }
    int z = parse_zone(&c, &off);
    if (z < 0 || !at_end(&c))
        return -1;
    if (!with_tz)
        off = 0;
    __int128 v = (__int128)days * NS_PER_DAY + tod - (__int128)off * NS_PER_S;
    if (v >= INT64_MAX || v <= INT64_MIN)
        return -1;
    *out = (int64_t)v;
    return 0;
}

int dt_parse_timestamp(const char *s, size_t n, bool with_tz, int64_t *out)
{
    return fast_timestamp(s, n, out) ? 0 : general_timestamp(s, n, with_tz, out);
}

/* Unit of an interval number, in months, days or ns per unit. */
typedef struct dt_unit {
    const char *names[4];
    int kind;        /* 0 months, 1 days, 2 ns */
    double per;
} dt_unit;

static const dt_unit g_units[] = {
    {{"millennium", "millennia", "millenniums", "mil"}, 0, 12000},
    {{"century", "centuries", "c", NULL}, 0, 1200},
    {{"decade", "decades", "dec", "decs"}, 0, 120},
    {{"year", "years", "y", "yr"}, 0, 12},
    {{"yrs", NULL, NULL, NULL}, 0, 12},
    {{"month", "months", "mon", "mons"}, 0, 1},
    {{"week", "weeks", "w", NULL}, 1, 7},
    {{"day", "days", "d", NULL}, 1, 1},
    {{"hour", "hours", "h", "hr"}, 2, 3600e9},
    {{"hrs", NULL, NULL, NULL}, 2, 3600e9},
    {{"minute", "minutes", "min", "mins"}, 2, 60e9},
    {{"m", NULL, NULL, NULL}, 2, 60e9},
    {{"second", "seconds", "sec", "secs"}, 2, 1e9},
    {{"s", NULL, NULL, NULL}, 2, 1e9},
    {{"millisecond", "milliseconds", "ms", "msec"}, 2, 1e6},
    {{"microsecond", "microseconds", "us", "usec"}, 2, 1e3},
    {{"nanosecond", "nanoseconds", "ns", NULL}, 2, 1},
};

static const dt_unit *find_unit(cur *c)
{
    const char *b = c->p;
    while (c->p < c->end && isalpha((unsigned char)*c->p))
        c->p++;
    size_t n = (size_t)(c->p - b);
    for (size_t i = 0; i < sizeof g_units / sizeof g_units[0]; i++)
        for (int k = 0; k < 4 && g_units[i].names[k]; k++)
            if (strlen(g_units[i].names[k]) == n && !strncasecmp(b, g_units[i].names[k], n))
                return &g_units[i];
    return NULL;
}

/* Adds v units to the interval, spilling fractions as PostgreSQL does. */
static int add_units(sql_interval *iv, const dt_unit *u, double v)
{
    double months = 0, days = 0, ns = 0;
    if (u->kind == 0) {
        months = v * u->per;
        double whole = trunc(months);
        days = (months - whole) * 30;
        months = whole;
    } else if (u->kind == 1) {
        days = v * u->per;
    } else {
        ns = v * u->per;
    }
    double wd = trunc(days);
    ns += (days - wd) * (double)NS_PER_DAY;
    double tm = iv->months + months, td = iv->days + wd, tn = (double)iv->ns + round(ns);
    if (fabs(tm) > INT32_MAX || fabs(td) > INT32_MAX || fabs(tn) > 9.2e18)
        return -1;
    iv->months = (int32_t)tm;
    iv->days = (int32_t)td;
    iv->ns = (int64_t)tn;
    return 0;
}

/* ISO 8601 durations: P[nY][nM][nW][nD][T[nH][nM][nS]]. */
static int parse_iso_interval(cur *c, sql_interval *iv)
{
    int in_time = 0;
    c->p++; /* P */
    while (c->p < c->end && !isspace((unsigned char)*c->p)) {
        if (*c->p == 'T' || *c->p == 't') {
            in_time = 1;
            c->p++;
            continue;
        }
        char *e;
        double v = strtod(c->p, &e);
        if (e == c->p || e >= c->end)
            return -1;
        c->p = e;
        char u = (char)toupper((unsigned char)*c->p++);
        const char *name = NULL;
        if (!in_time)
            name = u == 'Y' ? "year" : u == 'M' ? "month" : u == 'W' ? "week" : u == 'D' ? "day"
                                                                                      : NULL;
        else
            name = u == 'H' ? "hour" : u == 'M' ? "minute" : u == 'S' ? "second" : NULL;
        if (!name)
            return -1;
        cur uc = {name, name + strlen(name)};
        if (add_units(iv, find_unit(&uc), v))
            return -1;
    }
    return at_end(c) ? 0 : -1;
}

int dt_parse_interval(const char *s, size_t n, sql_interval *out)
{
    cur c = {s, s + n};
    sql_interval iv = {0, 0, 0};
    skip_sp(&c);
    if (c.p < c.end && (*c.p == 'P' || *c.p == 'p')) {
        if (parse_iso_interval(&c, &iv))
            return -1;
        *out = iv;
        return 0;
    }
    int any = 0, ago = 0;
    while (!at_end(&c)) {
        if (word(&c, "ago")) {
            ago = 1;
            continue;
        }
        if (*c.p == '@') {
            c.p++;
            continue;
        }
        const char *b = c.p;
        int neg = 0;
        if (*c.p == '+' || *c.p == '-')
            neg = *c.p++ == '-';
        /* a time field: [-]HH:MM[:SS.f] */
        const char *q = c.p;
        while (q < c.end && isdigit((unsigned char)*q))
            q++;
        if (q < c.end && *q == ':' && q > c.p) {
            int64_t h, mi, sec = 0, frac = 0;
            if (digits(&c, 1, 9, &h) || *c.p++ != ':' || digits(&c, 1, 2, &mi))
                return -1;
            if (c.p < c.end && *c.p == ':') {
                c.p++;
                if (digits(&c, 1, 2, &sec))
                    return -1;
                if (c.p < c.end && *c.p == '.') {
                    c.p++;
                    int nd = 0;
                    while (c.p < c.end && isdigit((unsigned char)*c.p)) {
                        if (nd < 9) {
                            frac = frac * 10 + (*c.p - '0');
                            nd++;
                        }
                        c.p++;
                    }
                    for (; nd < 9; nd++)
                        frac *= 10;
                }
            }
            int64_t t = h * NS_PER_HOUR + mi * NS_PER_MIN + sec * NS_PER_S + frac;
            iv.ns += neg ? -t : t;
            any = 1;
            continue;
        }
        c.p = b;
        char *e;
        double v = strtod(c.p, &e);
        if (e == c.p || e > c.end)
            return -1;
        c.p = e;
        skip_sp(&c);
        const dt_unit *u = c.p < c.end && isalpha((unsigned char)*c.p) ? find_unit(&c) : NULL;
        if (!u) {
            /* a bare number is seconds */
            cur uc = {"second", "second" + 6};
            u = find_unit(&uc);
        }
        if (add_units(&iv, u, v))
            return -1;
        any = 1;
    }
    if (!any)
        return -1;
    if (ago) {
        iv.months = -iv.months;
        iv.days = -iv.days;
        iv.ns = -iv.ns;
    }
    *out = iv;
    return 0;
}

/* ---- formatting --------------------------------------------------------- */

/* v in decimal, zero-padded to at least width digits (printf's %0*llu without
 * printf: dates and times are the hot path of every text result). */
static char *put_pad(char *p, uint64_t v, int width)
{
    int n = 1;
    for (uint64_t x = v; x >= 10; x /= 10)
        n++;
    if (n < width)
        n = width;
    for (int i = n - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
    return p + n;
}

/* YYYY-MM-DD of the proleptic Gregorian year y (years <= 0 as 1 - y, " BC" added
 * by the caller). */
static char *put_ymd(char *p, int64_t y, int m, int d)
{
    p = put_pad(p, (uint64_t)(y <= 0 ? 1 - y : y), 4);
    *p++ = '-';
    p = put_pad(p, (uint64_t)m, 2);
    *p++ = '-';
    return put_pad(p, (uint64_t)d, 2);
}

int dt_format_date(int32_t days, dbuf *b)
{
    int64_t y;
    int m, d;
    dt_civil_from_days(days, &y, &m, &d);
    char t[48], *p = put_ymd(t, y, m, d);
    if (y <= 0) {
        memcpy(p, " BC", 3);
        p += 3;
    }
    return dbuf_append(b, t, (size_t)(p - t));
}

/* Seconds and a fraction of ns (0 <= frac_ns < 10^9), trailing zeros dropped
 * (AppendSeconds). */
static char *put_seconds(char *p, uint64_t sec, int64_t frac_ns)
{
    p = put_pad(p, sec, 2);
    if (frac_ns) {
        uint32_t f = (uint32_t)frac_ns;
        int n = 9;
        for (; f % 10 == 0; f /= 10)
            n--;
        *p++ = '.';
        for (int i = n - 1; i >= 0; i--, f /= 10)
            p[i] = (char)('0' + f % 10);
        p += n;
    }
    return p;
}

int dt_format_timestamp(int64_t ns, bool with_tz, dbuf *b)
{
    if (ns == TS_INFINITY)
        return dbuf_append_str(b, "infinity");
    if (ns == TS_NINFINITY)
        return dbuf_append_str(b, "-infinity");
    /* floor division (-ns + a day would overflow near the smallest timestamp) */
    int64_t days = ns / NS_PER_DAY - (ns % NS_PER_DAY < 0);
    int64_t tod = ns - days * NS_PER_DAY;
    /* the civil date of the last day printed on this thread (rows of a result
     * are often of one day) */
    static _Thread_local int64_t last_days = INT64_MIN, last_y;
    static _Thread_local int last_m, last_d;
    if (days != last_days) {
        dt_civil_from_days(days, &last_y, &last_m, &last_d);
        last_days = days;
    }
    int64_t y = last_y;
    int m = last_m, d = last_d;
    int64_t h = tod / NS_PER_HOUR, mi = tod / NS_PER_MIN % 60, s = tod / NS_PER_S % 60;
    char t[80], *p = put_ymd(t, y, m, d);
    *p++ = ' ';
    p = put_pad(p, (uint64_t)h, 2);
    *p++ = ':';
    p = put_pad(p, (uint64_t)mi, 2);
    *p++ = ':';
    /* PostgreSQL shows microseconds: nanoseconds below them are kept in the value
     * (comparisons, arithmetic, extract) but not printed (docs/sql.md) */
    p = put_seconds(p, (uint64_t)s, tod % NS_PER_S / 1000 * 1000);
    if (with_tz) {
        memcpy(p, "+00", 3);
        p += 3;
    }
    if (y <= 0) {
        memcpy(p, " BC", 3);
        p += 3;
    }
    return dbuf_append(b, t, (size_t)(p - t));
}

/* AddPostgresIntPart of PostgreSQL's interval output. */
static int int_part(dbuf *b, int64_t v, const char *unit, bool *is_zero, bool *is_before)
{
    if (v == 0)
        return 0;
    int rc = dbuf_printf(b, "%s%s%lld %s%s", !*is_zero ? " " : "", (*is_before && v > 0) ? "+" : "",
                         (long long)v, unit, v != 1 ? "s" : "");
    *is_before = v < 0;
    *is_zero = false;
    return rc;
}

int dt_format_interval(const sql_interval *iv, dbuf *b)
{
    bool is_zero = true, is_before = false;
    int64_t years = iv->months / 12, mons = iv->months % 12;
    int rc = int_part(b, years, "year", &is_zero, &is_before);
    if (!rc)
        rc = int_part(b, mons, "mon", &is_zero, &is_before);
    if (!rc)
        rc = int_part(b, iv->days, "day", &is_zero, &is_before);
    if (!rc && (is_zero || iv->ns != 0)) {
        int64_t t = iv->ns;
        bool minus = t < 0;
        uint64_t a = minus ? (uint64_t)0 - (uint64_t)t : (uint64_t)t;
        uint64_t h = a / (uint64_t)NS_PER_HOUR, mi = a / (uint64_t)NS_PER_MIN % 60,
                 s = a / (uint64_t)NS_PER_S % 60, f = a % (uint64_t)NS_PER_S;
        char buf[80], *p = buf;
        if (!is_zero)
            *p++ = ' ';
        if (minus || is_before)
            *p++ = minus ? '-' : '+';
        p = put_pad(p, h, 2);
        *p++ = ':';
        p = put_pad(p, mi, 2);
        *p++ = ':';
        p = put_seconds(p, s, (int64_t)(f / 1000 * 1000));
        rc = dbuf_append(b, buf, (size_t)(p - buf));
    }
    return rc;
}

/* ---- arithmetic --------------------------------------------------------- */

int dt_ts_add_interval(int64_t ts, const sql_interval *iv, int sign, int64_t *out)
{
    if (ts == TS_INFINITY || ts == TS_NINFINITY) {
        *out = ts;
        return 0;
    }
    int64_t months = (int64_t)iv->months * sign, days = (int64_t)iv->days * sign;
    __int128 t = ts;
    if (months) {
        int64_t d = ts >= 0 ? ts / NS_PER_DAY : -((-ts + NS_PER_DAY - 1) / NS_PER_DAY);
        int64_t tod = ts - d * NS_PER_DAY, y;
        int m, dd;
        dt_civil_from_days(d, &y, &m, &dd);
        int64_t mm = y * 12 + (m - 1) + months;
        int64_t ny = mm >= 0 ? mm / 12 : -((-mm + 11) / 12);
        int nm = (int)(mm - ny * 12) + 1;
        int dim = dt_days_in_month(ny, nm);
        if (dd > dim)
            dd = dim;
        t = (__int128)dt_days_from_civil(ny, nm, dd) * NS_PER_DAY + tod;
    }
    t += (__int128)days * NS_PER_DAY + (__int128)iv->ns * sign;
    if (t >= INT64_MAX || t <= INT64_MIN)
        return -1;
    *out = (int64_t)t;
    return 0;
}

sql_interval dt_ts_diff(int64_t a, int64_t b)
{
    sql_interval r = {0, 0, 0};
    __int128 d = (__int128)a - b;
    /* justify_hours: whole days out of the time, both with the same sign */
    __int128 days = d / NS_PER_DAY;
    if (days > INT32_MAX)
        days = INT32_MAX;
    if (days < INT32_MIN)
        days = INT32_MIN;
    r.days = (int32_t)days;
    r.ns = (int64_t)(d - days * NS_PER_DAY);
    return r;
}

int dt_interval_add(const sql_interval *a, const sql_interval *b, int sign, sql_interval *out)
{
    int64_t m = (int64_t)a->months + sign * (int64_t)b->months;
    int64_t d = (int64_t)a->days + sign * (int64_t)b->days;
    int64_t n;
    if (m > INT32_MAX || m < INT32_MIN || d > INT32_MAX || d < INT32_MIN ||
        __builtin_add_overflow(a->ns, sign > 0 ? b->ns : -b->ns, &n))
        return -1;
    out->months = (int32_t)m;
    out->days = (int32_t)d;
    out->ns = n;
    return 0;
}

int dt_interval_mul(const sql_interval *a, double f, sql_interval *out)
{
    /* interval_mul: fractional months spill into days (30), days into time (24 h) */
    double m = a->months * f, mw = trunc(m);
    double d = a->days * f + (m - mw) * 30, dw = trunc(d);
    double t = (double)a->ns * f + (d - dw) * (double)NS_PER_DAY;
    if (fabs(mw) > INT32_MAX || fabs(dw) > INT32_MAX || fabs(t) > 9.2e18 || f != f)
        return -1;
    out->months = (int32_t)mw;
    out->days = (int32_t)dw;
    out->ns = (int64_t)llround(t);
    return 0;
}

__int128 dt_interval_key(const sql_interval *a)
{
    return ((__int128)a->months * 30 + a->days) * NS_PER_DAY + a->ns;
}

int dt_interval_cmp(const sql_interval *a, const sql_interval *b)
{
    __int128 x = dt_interval_key(a), y = dt_interval_key(b);
    return x < y ? -1 : x > y;
}

double dt_interval_epoch(const sql_interval *a)
{
    /* extract(epoch from interval): 365.25-day years, 30-day months */
    double years = a->months / 12, months = a->months % 12;
    return years * 365.25 * 86400 + months * 30 * 86400.0 + a->days * 86400.0 +
           (double)a->ns / 1e9;
}

int64_t dt_trunc_fixed(const char *unit)
{
    static const struct {
        const char *u;
        int64_t ns;
    } small[] = {{"microseconds", NS_PER_US}, {"microsecond", NS_PER_US},
                 {"milliseconds", NS_PER_MS}, {"millisecond", NS_PER_MS},
                 {"second", NS_PER_S},        {"seconds", NS_PER_S},
                 {"minute", NS_PER_MIN},      {"minutes", NS_PER_MIN},
                 {"hour", NS_PER_HOUR},       {"hours", NS_PER_HOUR},
                 {"day", NS_PER_DAY},         {"days", NS_PER_DAY}};
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++)
        if (!strcasecmp(unit, small[i].u))
            return small[i].ns;
    return 0;
}

int dt_trunc(const char *unit, int64_t ts, int64_t *out)
{
    if (ts == TS_INFINITY || ts == TS_NINFINITY) {
        *out = ts;
        return 0;
    }
    int64_t days = ts >= 0 ? ts / NS_PER_DAY : -((-ts + NS_PER_DAY - 1) / NS_PER_DAY);
    int64_t tod = ts - days * NS_PER_DAY, y;
    int m, d;
    dt_civil_from_days(days, &y, &m, &d);
    int64_t fixed = dt_trunc_fixed(unit);
    if (fixed) {
        *out = days * NS_PER_DAY + tod / fixed * fixed;
        return 0;
    }
    int64_t ny = y;
    int nm = m, nd = d;
    if (!strcasecmp(unit, "week") || !strcasecmp(unit, "weeks")) {
        /* ISO weeks start on Monday; 1970-01-01 was a Thursday */
        int64_t dow = ((days % 7) + 7 + 3) % 7; /* 0 = Monday */
        *out = (days - dow) * NS_PER_DAY;
        return 0;
    } else if (!strcasecmp(unit, "month") || !strcasecmp(unit, "months")) {
        nd = 1;
    } else if (!strcasecmp(unit, "quarter")) {
        nm = (m - 1) / 3 * 3 + 1;
        nd = 1;
    } else if (!strcasecmp(unit, "year") || !strcasecmp(unit, "years")) {
        nm = 1;
        nd = 1;
    } else if (!strcasecmp(unit, "decade")) {
        ny = (y >= 0 ? y / 10 : -((-y + 9) / 10)) * 10;
        nm = 1;
        nd = 1;
    } else if (!strcasecmp(unit, "century")) {
        ny = y > 0 ? (y - 1) / 100 * 100 + 1 : y;
        nm = 1;
        nd = 1;
    } else if (!strcasecmp(unit, "millennium")) {
        ny = y > 0 ? (y - 1) / 1000 * 1000 + 1 : y;
        nm = 1;
        nd = 1;
    } else {
        return -1;
    }
    *out = dt_days_from_civil(ny, nm, nd) * NS_PER_DAY;
    return 0;
}

int dt_extract(const char *f, int64_t ts, double *out)
{
    int64_t days = ts >= 0 ? ts / NS_PER_DAY : -((-ts + NS_PER_DAY - 1) / NS_PER_DAY);
    int64_t tod = ts - days * NS_PER_DAY, y;
    int m, d;
    dt_civil_from_days(days, &y, &m, &d);
    if (!strcasecmp(f, "epoch"))
        *out = (double)(ts / NS_PER_S) + (double)(ts % NS_PER_S) / 1e9;
    else if (!strcasecmp(f, "year"))
        *out = (double)y;
    else if (!strcasecmp(f, "month"))
        *out = m;
    else if (!strcasecmp(f, "day"))
        *out = d;
    else if (!strcasecmp(f, "hour"))
        *out = (double)(tod / NS_PER_HOUR);
    else if (!strcasecmp(f, "minute"))
        *out = (double)(tod / NS_PER_MIN % 60);
    else if (!strcasecmp(f, "second"))
        *out = (double)(tod / NS_PER_S % 60) + (double)(tod % NS_PER_S) / 1e9;
    else if (!strcasecmp(f, "milliseconds"))
        *out = (double)(tod % NS_PER_MIN) / 1e6;
    else if (!strcasecmp(f, "microseconds"))
        *out = (double)(tod % NS_PER_MIN / 1000);
    else if (!strcasecmp(f, "dow"))
        *out = (double)(((days % 7) + 7 + 4) % 7); /* Sunday = 0 */
    else if (!strcasecmp(f, "isodow"))
        *out = (double)(((days % 7) + 7 + 3) % 7 + 1);
    else if (!strcasecmp(f, "doy"))
        *out = (double)(days - dt_days_from_civil(y, 1, 1) + 1);
    else if (!strcasecmp(f, "quarter"))
        *out = (m - 1) / 3 + 1;
    else if (!strcasecmp(f, "decade"))
        *out = (double)(y >= 0 ? y / 10 : -((-y + 9) / 10));
    else if (!strcasecmp(f, "century"))
        *out = (double)(y > 0 ? (y + 99) / 100 : -((99 - y) / 100));
    else if (!strcasecmp(f, "millennium"))
        *out = (double)(y > 0 ? (y + 999) / 1000 : -((999 - y) / 1000));
    else if (!strcasecmp(f, "week")) {
        /* ISO week number */
        int64_t dow = ((days % 7) + 7 + 3) % 7;
        int64_t thursday = days - dow + 3, ty;
        int tm, td;
        dt_civil_from_days(thursday, &ty, &tm, &td);
        *out = (double)((thursday - dt_days_from_civil(ty, 1, 1)) / 7 + 1);
    } else if (!strcasecmp(f, "isoyear")) {
        int64_t dow = ((days % 7) + 7 + 3) % 7, ty;
        int tm, td;
        dt_civil_from_days(days - dow + 3, &ty, &tm, &td);
        *out = (double)ty;
    } else if (!strcasecmp(f, "timezone") || !strcasecmp(f, "timezone_hour") ||
               !strcasecmp(f, "timezone_minute"))
        *out = 0;
    else
        return -1;
    return 0;
}

int dt_extract_interval(const char *f, const sql_interval *iv, double *out)
{
    int64_t t = iv->ns;
    if (!strcasecmp(f, "epoch"))
        *out = dt_interval_epoch(iv);
    else if (!strcasecmp(f, "year"))
        *out = iv->months / 12;
    else if (!strcasecmp(f, "month"))
        *out = iv->months % 12;
    else if (!strcasecmp(f, "day"))
        *out = iv->days;
    else if (!strcasecmp(f, "hour"))
        *out = (double)(t / NS_PER_HOUR);
    else if (!strcasecmp(f, "minute"))
        *out = (double)(t / NS_PER_MIN % 60);
    else if (!strcasecmp(f, "second"))
        *out = (double)(t % NS_PER_MIN) / 1e9;
    else if (!strcasecmp(f, "milliseconds"))
        *out = (double)(t % NS_PER_MIN) / 1e6;
    else if (!strcasecmp(f, "microseconds"))
        *out = (double)(t % NS_PER_MIN / 1000);
    else
        return -1;
    return 0;
}
