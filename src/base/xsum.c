/*
 * xsum.c - order-independent sums of doubles (xsum.h): digits of 60 bits on
 * the fixed grid of 2^-1074, three counters kept, one rounding at the end.
 */
#include "base/xsum.h"

#include <math.h>
#include <string.h>

#define DIGIT XSUM_DIGIT
#define KEPT 3
#define LIMBS 4 /* a sum as one integer: 3 digits of 128-bit counters < 2^248 */
#define WIDE 24 /* n * sum of squares and sum^2 aligned: 1536 bits */

typedef unsigned __int128 u128;

void xsum_raise_top(xsum *s, int32_t top)
{
    int32_t up = top - s->top;
    if (up <= 0)
        return;
    for (int k = KEPT - 1; k >= 0; k--)
        s->d[k] = k - up >= 0 ? s->d[k - up] : 0;
    s->top = top;
}

void xsum_add_sq_slow_(xsum *s, unsigned __int128 sq, int32_t pos)
{
    /* pos < 0: the bits below the grid dropped */
    sq = -pos >= 128 ? 0 : sq >> -pos;
    if (sq)
        xsum_add106_(s, sq, 0);
}

void xsum_merge(xsum *d, const xsum *s)
{
    xsum t = *s;
    d->flags |= t.flags;
    if (t.top > d->top)
        xsum_raise_top(d, t.top);
    else
        xsum_raise_top(&t, d->top);
    for (int k = 0; k < KEPT; k++)
        d->d[k] += t.d[k];
}

/* ---- the kept digits as one integer ------------------------------------- */

/* w += v * 2^shift, v sign-extended over the n limbs of w (two's complement) */
static void big_add_shifted(uint64_t *w, int n, __int128 v, int shift)
{
    uint64_t ext = v < 0 ? ~0ull : 0, x[LIMBS] = {0};
    uint64_t src[LIMBS];
    for (int i = 0; i < n; i++)
        src[i] = i == 0 ? (uint64_t)v : i == 1 ? (uint64_t)((u128)v >> 64) : ext;
    int ws = shift / 64, bs = shift % 64;
    for (int i = n - 1; i >= ws; i--) {
        uint64_t part = src[i - ws] << bs;
        if (bs && i - ws - 1 >= 0)
            part |= src[i - ws - 1] >> (64 - bs);
        x[i] = part;
    }
    u128 carry = 0;
    for (int i = 0; i < n; i++) {
        u128 t = (u128)w[i] + x[i] + carry;
        w[i] = (uint64_t)t;
        carry = t >> 64;
    }
}

static void big_negate(uint64_t *w, int n)
{
    u128 carry = 1;
    for (int i = 0; i < n; i++) {
        u128 t = (u128)(uint64_t)~w[i] + carry;
        w[i] = (uint64_t)t;
        carry = t >> 64;
    }
}

/* the index of the highest set bit, -1 for zero */
static int big_top_bit(const uint64_t *w, int n)
{
    for (int i = n - 1; i >= 0; i--)
        if (w[i])
            return i * 64 + 63 - __builtin_clzll(w[i]);
    return -1;
}

/* bits [from, from + count) of w, count <= 64 */
static uint64_t big_bits(const uint64_t *w, int n, int from, int count)
{
    if (count <= 0)
        return 0;
    int i = from / 64, b = from % 64;
    uint64_t r = i < n ? w[i] >> b : 0;
    if (b && i + 1 < n)
        r |= w[i + 1] << (64 - b);
    return count == 64 ? r : r & ((1ull << count) - 1);
}

/* whether any of the bits [0, count) of w is set */
static int big_any_below(const uint64_t *w, int n, int count)
{
    int i = 0;
    for (; (i + 1) * 64 <= count && i < n; i++)
        if (w[i])
            return 1;
    return i < n && count % 64 && (w[i] & ((1ull << (count % 64)) - 1));
}

/* w -= m * 2^shift (m < 2^54) */
static void big_sub_shifted(uint64_t *w, int n, uint64_t m, int shift)
{
    uint64_t x[WIDE] = {0};
    int ws = shift / 64, bs = shift % 64;
    if (ws < n)
        x[ws] = m << bs;
    if (bs && ws + 1 < n)
        x[ws + 1] = m >> (64 - bs);
    u128 borrow = 0;
    for (int i = 0; i < n; i++) {
        u128 t = (u128)w[i] - x[i] - borrow;
        w[i] = (uint64_t)t;
        borrow = (t >> 64) ? 1 : 0;
    }
}

/*
 * The magnitude w (n limbs, not negative) times 2^e0 rounded to the nearest
 * double (ties to even, subnormals rounded once); w keeps what remains
 * (signed).  *ovf is set when the result is beyond the largest double.
 */
static double big_round(uint64_t *w, int n, int e0, int *ovf)
{
    int h = big_top_bit(w, n);
    if (h < 0)
        return 0.0;
    if (h + e0 > 1023) {
        *ovf = 1;
        return INFINITY;
    }
    int prec = h + e0 < -1022 ? h + e0 + 1075 : 53;
    int drop = h + 1 - prec;
    if (drop < 0)
        drop = 0;
    uint64_t m = drop > h ? 0 : big_bits(w, n, drop, h + 1 - drop);
    int half = drop >= 1 && drop - 1 <= h && big_bits(w, n, drop - 1, 1);
    int sticky = drop >= 2 && big_any_below(w, n, drop - 1);
    if (half && (sticky || (m & 1)))
        m++;
    double r = ldexp((double)m, e0 + drop);
    if (isinf(r))
        *ovf = 1;
    big_sub_shifted(w, n, m, drop);
    return r;
}

/* The kept digits as one integer times 2^(*e0); its sign. */
static int to_big(const xsum *s, uint64_t w[LIMBS], int *e0)
{
    memset(w, 0, LIMBS * sizeof w[0]);
    for (int k = 0; k < KEPT; k++)
        big_add_shifted(w, LIMBS, s->d[k], (KEPT - 1 - k) * DIGIT);
    *e0 = DIGIT * (s->top - (KEPT - 1)) - 1074;
    int neg = (int)(w[LIMBS - 1] >> 63);
    if (neg)
        big_negate(w, LIMBS);
    return neg;
}

int xsum_get(const xsum *s, int shift, double *hi, double *lo)
{
    if (lo)
        *lo = 0;
    if (s->flags) {
        *hi =
            (s->flags & XSUM_NAN) || (s->flags & (XSUM_PINF | XSUM_NINF)) == (XSUM_PINF | XSUM_NINF)
                ? NAN
            : s->flags & XSUM_PINF ? INFINITY
                                   : -INFINITY;
        return XSUM_SPECIAL;
    }
    uint64_t w[LIMBS];
    int e0, ovf = 0;
    int neg = to_big(s, w, &e0);
    e0 -= shift;
    double h = big_round(w, LIMBS, e0, &ovf);
    if (ovf) {
        *hi = neg ? -INFINITY : INFINITY;
        return XSUM_OVERFLOW;
    }
    *hi = neg ? -h : h;
    if (lo) {
        /* the remainder is signed: at most half of h's last unit either way */
        int rneg = (int)(w[LIMBS - 1] >> 63);
        if (rneg)
            big_negate(w, LIMBS);
        double l = big_round(w, LIMBS, e0, &ovf);
        *lo = (neg != rneg) ? -l : l;
    }
    return XSUM_FINITE;
}

int xsum_ilog2(const xsum *s, int *e)
{
    uint64_t w[LIMBS];
    int e0;
    if (s->flags)
        return -1;
    to_big(s, w, &e0);
    int h = big_top_bit(w, LIMBS);
    if (h < 0)
        return -1;
    *e = h + e0;
    return 0;
}

/* ---- n * sum of squares - sum^2, exactly -------------------------------- */

/* dst (WIDE limbs) = src (sn limbs, unsigned) * 2^shift; 0 if it does not fit */
static int big_shl(uint64_t *dst, const uint64_t *src, int sn, int shift)
{
    memset(dst, 0, WIDE * sizeof dst[0]);
    int top = big_top_bit(src, sn);
    if (top < 0)
        return 0;
    if (top + shift >= WIDE * 64 - 1)
        return -1;
    int ws = shift / 64, bs = shift % 64;
    for (int i = 0; i < sn; i++) {
        dst[i + ws] |= src[i] << bs;
        if (bs && i + ws + 1 < WIDE)
            dst[i + ws + 1] |= src[i] >> (64 - bs);
    }
    return 0;
}

int xsum_spread(const xsum *sum, const xsum *sq, int64_t n, double *m, int *e)
{
    *m = 0;
    *e = 0;
    if (sum->flags || sq->flags)
        return XSUM_SPECIAL;
    uint64_t x[LIMBS], y[LIMBS], xx[2 * LIMBS] = {0}, ny[LIMBS + 1] = {0};
    int ex, ey;
    to_big(sum, x, &ex);
    to_big(sq, y, &ey); /* never negative: every digit of a square is added */
    for (int i = 0; i < LIMBS; i++) {
        u128 carry = 0;
        for (int j = 0; j < LIMBS; j++) {
            u128 t = (u128)x[i] * x[j] + xx[i + j] + carry;
            xx[i + j] = (uint64_t)t;
            carry = t >> 64;
        }
        xx[i + LIMBS] = (uint64_t)carry;
    }
    u128 carry = 0;
    for (int i = 0; i < LIMBS; i++) {
        u128 t = (u128)y[i] * (uint64_t)n + carry;
        ny[i] = (uint64_t)t;
        carry = t >> 64;
    }
    ny[LIMBS] = (uint64_t)carry;
    /* align n * sq (at 2^ey) and sum^2 (at 2^(2 ex)) on the lower scale */
    int base = ey < 2 * ex ? ey : 2 * ex;
    uint64_t a[WIDE], b[WIDE];
    if (big_shl(b, xx, 2 * LIMBS, 2 * ex - base))
        return XSUM_FINITE; /* sum^2 far above n * sq: only from dropped bits, 0 */
    if (big_shl(a, ny, LIMBS + 1, ey - base)) {
        /* n * sq far above sum^2: the difference is n * sq */
        memset(b, 0, sizeof b);
        big_shl(a, ny, LIMBS + 1, 0);
        base = ey;
    }
    u128 borrow = 0;
    for (int i = 0; i < WIDE; i++) {
        u128 t = (u128)a[i] - b[i] - borrow;
        a[i] = (uint64_t)t;
        borrow = (t >> 64) ? 1 : 0;
    }
    int h = big_top_bit(a, WIDE);
    /* negative (only from dropped bits of terms far below the largest) or zero */
    if ((a[WIDE - 1] >> 63) || h < 0)
        return XSUM_FINITE;
    int ovf = 0;
    *m = big_round(a, WIDE, -h, &ovf);
    *e = h + base;
    return XSUM_FINITE;
}
