/*
 * numeric.c - exact decimals (see numeric.h).
 *
 * Mantissas are int128; intermediate products and quotients that can pass
 * 128 bits (a division scaled to 16+ digits, a product before its check) go
 * through a small unsigned 256-bit type.  Every operation checks the result's
 * mantissa against DEC_MANT_MAX before packing it.
 */
#include "sql/types/numeric.h"

#include "base/hash.h"
#include "base/numtext.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned __int128 u128;

#define DEC_MANT_MAX (((__int128)1 << 121) - 1)

static const u128 *pow10_table(void)
{
    static u128 t[39];
    static int done;
    if (!done) {
        t[0] = 1;
        for (int i = 1; i < 39; i++)
            t[i] = t[i - 1] * 10;
        done = 1;
    }
    return t;
}

static u128 p10(int k)
{
    return pow10_table()[k];
}

int dec_make(__int128 mant, int scale, sql_dec *out)
{
    if (mant > DEC_MANT_MAX || mant < -DEC_MANT_MAX || scale < 0 || scale > DEC_MAX_SCALE)
        return DEC_OVERFLOW;
    *out = (sql_dec)(mant * (1 << DEC_SCALE_BITS)) | scale;
    return DEC_OK;
}

int dec_from_i128(__int128 v, sql_dec *out)
{
    return dec_make(v, 0, out);
}

static u128 uabs(__int128 v)
{
    return v < 0 ? (u128)0 - (u128)v : (u128)v;
}

static int ndigits(u128 v)
{
    int n = 1;
    while (n < 39 && v >= p10(n))
        n++;
    return n;
}

/* ---- 256-bit unsigned helpers ------------------------------------------ */

typedef struct u256 {
    u128 hi, lo;
} u256;

static u256 mul128(u128 a, u128 b)
{
    uint64_t a0 = (uint64_t)a, a1 = (uint64_t)(a >> 64), b0 = (uint64_t)b, b1 = (uint64_t)(b >> 64);
    u128 p00 = (u128)a0 * b0, p01 = (u128)a0 * b1, p10v = (u128)a1 * b0, p11 = (u128)a1 * b1;
    u128 mid = (p00 >> 64) + (uint64_t)p01 + (uint64_t)p10v;
    u256 r;
    r.lo = (p00 & (((u128)1 << 64) - 1)) | (mid << 64);
    r.hi = p11 + (p01 >> 64) + (p10v >> 64) + (mid >> 64);
    return r;
}

static int cmp256(u256 a, u256 b)
{
    if (a.hi != b.hi)
        return a.hi < b.hi ? -1 : 1;
    return a.lo < b.lo ? -1 : a.lo > b.lo;
}

static u256 sub256(u256 a, u256 b)
{
    u256 r;
    r.lo = a.lo - b.lo;
    r.hi = a.hi - b.hi - (a.lo < b.lo);
    return r;
}

static u256 add256(u256 a, u256 b)
{
    u256 r;
    r.lo = a.lo + b.lo;
    r.hi = a.hi + b.hi + (r.lo < a.lo);
    return r;
}

static u256 shl1(u256 a)
{
    u256 r = {(a.hi << 1) | (a.lo >> 127), a.lo << 1};
    return r;
}

static u256 shr1(u256 a)
{
    u256 r = {a.hi >> 1, (a.lo >> 1) | (a.hi << 127)};
    return r;
}

/* a * 10^k (k <= 76) into 256 bits; 1 if it does not fit. */
static int mul_pow10(u256 a, int k, u256 *out)
{
    while (k > 0) {
        int step = k > 38 ? 38 : k;
        u128 m = p10(step);
        u256 lo = mul128(a.lo, m), hi = mul128(a.hi, m);
        if (hi.hi || lo.hi + hi.lo < lo.hi)
            return 1;
        a.lo = lo.lo;
        a.hi = lo.hi + hi.lo;
        k -= step;
    }
    *out = a;
    return 0;
}

/* floor(n / d) for d != 0, by shift and subtract. */
static u256 div256(u256 n, u256 d, u256 *rem)
{
    u256 q = {0, 0}, one = {0, 1};
    if (cmp256(n, d) < 0) {
        *rem = n;
        return q;
    }
    int shift = 0;
    while (!(d.hi >> 127) && cmp256(shl1(d), n) <= 0) {
        d = shl1(d);
        shift++;
    }
    for (; shift >= 0; shift--) {
        q = shl1(q);
        if (cmp256(n, d) >= 0) {
            n = sub256(n, d);
            q = add256(q, one);
        }
        d = shr1(d);
    }
    *rem = n;
    return q;
}

/* round(|num| / |den|) half away from zero, with the sign neg; into a mantissa. */
static int div_round(u256 num, u256 den, int neg, int scale, sql_dec *out)
{
    u256 rem;
    u256 q = div256(num, den, &rem);
    /* half away from zero: 2 * rem >= den */
    if (cmp256(shl1(rem), den) >= 0 && !(rem.hi >> 127)) {
        u256 one = {0, 1};
        q = add256(q, one);
    }
    if (q.hi || q.lo > (u128)DEC_MANT_MAX)
        return DEC_OVERFLOW;
    __int128 m = (__int128)q.lo;
    return dec_make(neg ? -m : m, scale, out);
}

/* ---- conversions -------------------------------------------------------- */

int dec_to_text(sql_dec d, char *buf)
{
    __int128 m = dec_mant(d);
    int s = dec_scale(d);
    char digits[48];
    int n;
    u128 v = uabs(m);
    if (v <= UINT64_MAX) {
        /* the usual case: 64-bit arithmetic, digits written most significant first */
        char t[24];
        int k = sl_u64_text((uint64_t)v, t);
        for (n = 0; n < k; n++)
            digits[n] = t[k - 1 - n];
    } else {
        n = 0;
        do {
            digits[n++] = (char)('0' + (int)(v % 10));
            v /= 10;
        } while (v);
    }
    while (n <= s)
        digits[n++] = '0';
    int o = 0;
    if (m < 0)
        buf[o++] = '-';
    if (s <= 0) {
        for (int i = n - 1; i >= 0; i--)
            buf[o++] = digits[i];
    } else {
        for (int i = n - 1; i >= s; i--)
            buf[o++] = digits[i];
        buf[o++] = '.';
        for (int i = s - 1; i >= 0; i--)
            buf[o++] = digits[i];
    }
    buf[o] = 0;
    return o;
}

int dec_format(sql_dec d, dbuf *b)
{
    char t[80];
    int n = dec_to_text(d, t);
    return dbuf_append(b, t, (size_t)n);
}

/* Rounds |m| (sign kept) from scale s down to scale t < s, half away from zero. */
static __int128 round_down(__int128 m, int s, int t)
{
    int k = s - t;
    if (k > 38)
        return 0;
    u128 a = uabs(m), q = a / p10(k), r = a % p10(k);
    if (r * 2 >= p10(k))
        q++;
    return m < 0 ? -(__int128)q : (__int128)q;
}

int dec_parse(const char *s, size_t n, sql_dec *out)
{
    size_t i = 0;
    while (i < n && isspace((unsigned char)s[i]))
        i++;
    int neg = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    u128 m = 0;
    int scale = 0, nd = 0, sig = 0, dropped = 0, point = 0;
    int last_dropped_first = -1;
    for (; i < n; i++) {
        char c = s[i];
        if (c == '.' && !point) {
            point = 1;
            continue;
        }
        if (!isdigit((unsigned char)c))
            break;
        nd++;
        if (sig >= 36) {
            /* past 36 significant digits: dropped (rounded below) */
            if (last_dropped_first < 0)
                last_dropped_first = c - '0';
            if (!point)
                dropped++;
            continue;
        }
        m = m * 10 + (u128)(c - '0');
        if (m)
            sig++;
        if (point)
            scale++;
    }
    if (!nd)
        return DEC_SYNTAX;
    long exp10 = 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        int eneg = 0;
        if (j < n && (s[j] == '+' || s[j] == '-'))
            eneg = s[j++] == '-';
        if (j >= n || !isdigit((unsigned char)s[j]))
            return DEC_SYNTAX;
        for (; j < n && isdigit((unsigned char)s[j]); j++) {
            exp10 = exp10 * 10 + (s[j] - '0');
            if (exp10 > 1000)
                return DEC_OVERFLOW;
        }
        if (eneg)
            exp10 = -exp10;
        i = j;
    }
    while (i < n && isspace((unsigned char)s[i]))
        i++;
    if (i != n)
        return DEC_SYNTAX;
    if (last_dropped_first >= 5)
        m++; /* the first dropped digit rounds the kept ones */
    long sc = (long)scale - exp10 - dropped;
    while (sc < 0) {
        if (m > (u128)DEC_MANT_MAX / 10)
            return m ? DEC_OVERFLOW : DEC_OK;
        m *= 10;
        sc++;
    }
    while (sc > DEC_MAX_SCALE) {
        m = (m + 5) / 10; /* keep as much scale as the format has */
        sc--;
    }
    if (m > (u128)DEC_MANT_MAX)
        return DEC_OVERFLOW;
    __int128 sm = (__int128)m;
    return dec_make(neg ? -sm : sm, (int)sc, out);
}

int dec_from_double(double v, sql_dec *out)
{
    if (v != v || v > 1e300 || v < -1e300)
        return DEC_OVERFLOW;
    char t[64];
    int n = snprintf(t, sizeof t, "%.15g", v);
    return dec_parse(t, (size_t)n, out);
}

double dec_to_double(sql_dec d)
{
    char t[80];
    dec_to_text(d, t);
    return strtod(t, NULL);
}

int dec_to_i64(sql_dec d, int64_t *out)
{
    __int128 m = round_down(dec_mant(d), dec_scale(d), 0);
    if (dec_scale(d) == 0)
        m = dec_mant(d);
    if (m > INT64_MAX || m < INT64_MIN)
        return DEC_OVERFLOW;
    *out = (int64_t)m;
    return DEC_OK;
}

/* ---- arithmetic --------------------------------------------------------- */

/* m * 10^k in int128; 1 on overflow. */
static int scale_up(__int128 m, int k, __int128 *out)
{
    if (m == 0) {
        *out = 0;
        return 0;
    }
    if (k > 38)
        return 1;
    __int128 r;
    if (__builtin_mul_overflow(m, (__int128)p10(k), &r))
        return 1;
    *out = r;
    return 0;
}

static int add_sub(sql_dec a, sql_dec b, int sub, sql_dec *out)
{
    int sa = dec_scale(a), sb = dec_scale(b), s = sa > sb ? sa : sb;
    __int128 ma, mb, r;
    if (scale_up(dec_mant(a), s - sa, &ma) || scale_up(dec_mant(b), s - sb, &mb))
        return DEC_OVERFLOW;
    if (sub ? __builtin_sub_overflow(ma, mb, &r) : __builtin_add_overflow(ma, mb, &r))
        return DEC_OVERFLOW;
    return dec_make(r, s, out);
}

int dec_add(sql_dec a, sql_dec b, sql_dec *out)
{
    return add_sub(a, b, 0, out);
}

int dec_sub(sql_dec a, sql_dec b, sql_dec *out)
{
    return add_sub(a, b, 1, out);
}

int dec_mul(sql_dec a, sql_dec b, sql_dec *out)
{
    int s = dec_scale(a) + dec_scale(b);
    __int128 ma = dec_mant(a), mb = dec_mant(b);
    u256 p = mul128(uabs(ma), uabs(mb));
    int neg = (ma < 0) != (mb < 0);
    if (s > DEC_MAX_SCALE) {
        /* round the product down to the largest scale the format holds */
        u256 den = {0, p10(s - DEC_MAX_SCALE > 38 ? 38 : s - DEC_MAX_SCALE)};
        return div_round(p, den, neg, DEC_MAX_SCALE, out);
    }
    if (p.hi || p.lo > (u128)DEC_MANT_MAX)
        return DEC_OVERFLOW;
    __int128 m = (__int128)p.lo;
    return dec_make(neg ? -m : m, s, out);
}

/* PostgreSQL's view of a value in base 10000: weight of its first nonzero
 * digit group and that group's value (0, 0 for zero). */
static void nbase_first(sql_dec d, int *weight, int *first)
{
    u128 m = uabs(dec_mant(d));
    if (!m) {
        *weight = 0;
        *first = 0;
        return;
    }
    int e = ndigits(m) - 1 - dec_scale(d); /* 10^e <= |value| < 10^(e+1) */
    int w = e >= 0 ? e / 4 : -((-e + 3) / 4);
    int shift = dec_scale(d) + 4 * w;
    u128 f;
    if (shift >= 0)
        f = shift > 38 ? 0 : m / p10(shift);
    else
        f = m * p10(-shift);
    *weight = w;
    *first = (int)f;
}

int dec_div_result_scale(sql_dec a, sql_dec b)
{
    int w1, f1, w2, f2;
    nbase_first(a, &w1, &f1);
    nbase_first(b, &w2, &f2);
    int qweight = w1 - w2;
    if (f1 <= f2)
        qweight--;
    int r = 16 - qweight * 4;
    if (r < dec_scale(a))
        r = dec_scale(a);
    if (r < dec_scale(b))
        r = dec_scale(b);
    if (r < 0)
        r = 0;
    if (r > DEC_MAX_SCALE)
        r = DEC_MAX_SCALE;
    return r;
}

int dec_div_scale(sql_dec a, sql_dec b, int r, sql_dec *out)
{
    __int128 ma = dec_mant(a), mb = dec_mant(b);
    if (mb == 0)
        return DEC_DIV0;
    int k = r + dec_scale(b) - dec_scale(a);
    u256 num = {0, uabs(ma)}, den = {0, uabs(mb)};
    if (k >= 0 ? mul_pow10(num, k, &num) : mul_pow10(den, -k, &den))
        return k >= 0 ? DEC_OVERFLOW : dec_make(0, r, out);
    return div_round(num, den, (ma < 0) != (mb < 0), r, out);
}

int dec_div(sql_dec a, sql_dec b, sql_dec *out)
{
    if (dec_mant(b) == 0)
        return DEC_DIV0;
    return dec_div_scale(a, b, dec_div_result_scale(a, b), out);
}

int dec_mod(sql_dec a, sql_dec b, sql_dec *out)
{
    int sa = dec_scale(a), sb = dec_scale(b), s = sa > sb ? sa : sb;
    __int128 ma, mb;
    if (dec_mant(b) == 0)
        return DEC_DIV0;
    if (scale_up(dec_mant(a), s - sa, &ma) || scale_up(dec_mant(b), s - sb, &mb))
        return DEC_OVERFLOW;
    return dec_make(ma % mb, s, out);
}

int dec_cmp(sql_dec a, sql_dec b)
{
    int sa = dec_scale(a), sb = dec_scale(b);
    __int128 ma = dec_mant(a), mb = dec_mant(b);
    if (sa != sb) {
        __int128 x;
        if (sa < sb) {
            if (scale_up(ma, sb - sa, &x))
                return ma < 0 ? -1 : 1;
            ma = x;
        } else {
            if (scale_up(mb, sa - sb, &x))
                return mb < 0 ? 1 : -1;
            mb = x;
        }
    }
    return ma < mb ? -1 : ma > mb;
}

sql_dec dec_neg(sql_dec a)
{
    sql_dec r;
    dec_make(-dec_mant(a), dec_scale(a), &r);
    return r;
}

sql_dec dec_abs(sql_dec a)
{
    return dec_mant(a) < 0 ? dec_neg(a) : a;
}

int dec_sign(sql_dec a)
{
    __int128 m = dec_mant(a);
    return m < 0 ? -1 : m > 0;
}

int dec_round(sql_dec a, int s, sql_dec *out)
{
    int sa = dec_scale(a);
    if (s > DEC_MAX_SCALE)
        s = DEC_MAX_SCALE;
    if (s >= sa) {
        __int128 m;
        if (scale_up(dec_mant(a), s - sa, &m))
            return DEC_OVERFLOW;
        return dec_make(m, s, out);
    }
    if (s >= 0)
        return dec_make(round_down(dec_mant(a), sa, s), s, out);
    /* round to tens, hundreds...: to scale 0 with the digits below 10^-s zeroed */
    __int128 m = round_down(dec_mant(a), sa, s);
    if (scale_up(m, -s, &m))
        return DEC_OVERFLOW;
    return dec_make(m, 0, out);
}

int dec_trunc(sql_dec a, int s, sql_dec *out)
{
    int sa = dec_scale(a);
    if (s >= sa)
        return dec_round(a, s, out);
    int k = sa - (s < 0 ? 0 : s);
    __int128 m = k > 38 ? 0 : dec_mant(a) / (__int128)p10(k);
    if (s < 0) {
        int j = -s;
        if (j > 38)
            m = 0;
        else
            m = m / (__int128)p10(j) * (__int128)p10(j);
        return dec_make(m, 0, out);
    }
    return dec_make(m, s, out);
}

int dec_ceil(sql_dec a, sql_dec *out)
{
    sql_dec t;
    int rc = dec_trunc(a, 0, &t);
    if (!rc && dec_cmp(t, a) < 0)
        rc = dec_add(t, dec_from_i64(1), &t);
    if (!rc)
        *out = t;
    return rc;
}

int dec_floor(sql_dec a, sql_dec *out)
{
    sql_dec t;
    int rc = dec_trunc(a, 0, &t);
    if (!rc && dec_cmp(t, a) > 0)
        rc = dec_sub(t, dec_from_i64(1), &t);
    if (!rc)
        *out = t;
    return rc;
}

int dec_apply_typmod(sql_dec a, int precision, int scale, sql_dec *out)
{
    sql_dec r;
    int rc = dec_round(a, scale, &r);
    if (rc)
        return rc;
    u128 m = uabs(dec_mant(r));
    if (m && ndigits(m) > precision)
        return DEC_OVERFLOW;
    *out = r;
    return DEC_OK;
}

uint64_t dec_hash(sql_dec a)
{
    __int128 m = dec_mant(a);
    int s = dec_scale(a);
    while (s > 0 && m % 10 == 0) {
        m /= 10;
        s--;
    }
    if (m == 0)
        s = 0;
    uint64_t lo = (uint64_t)m, hi = (uint64_t)((u128)m >> 64);
    return hash_u64(lo ^ hash_u64(hi ^ (uint64_t)s * 0x9E3779B97F4A7C15ull));
}
