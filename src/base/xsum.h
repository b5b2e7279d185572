/*
 * xsum.h - sums of doubles that do not depend on the order of their terms.
 *
 * Adding doubles one by one rounds after each addition, so the last bits of a
 * sum depend on the order of its terms: a GROUP BY whose workers each sum a
 * share of a group's rows, or a continuous job whose rows reach a key's owner
 * from several producers in whatever order the rings deliver them, would
 * print a different sum for the same rows.  An xsum is the same for every
 * order and every way of splitting the terms into partial sums merged later.
 *
 * How: every finite double is an integer multiple of 2^-1074.  The positions
 * of that grid are cut into digits of 60 bits (digit j has the weights
 * 2^(60j - 1074) up to 2^(60j - 1015)); a term adds the bits it has in each
 * digit into that digit's signed 128-bit counter, exactly.  Only the three
 * highest digits that any term has reached are kept: the bits a term has
 * below them are dropped, whenever it arrives, and a larger term arriving
 * later drops the counters that fall below the new three.  What a term gives
 * each digit depends on the term alone, and which digits are kept depends
 * only on the largest term, so the state is a function of the set of terms.
 * The three digits hold every bit of every term within 2^67 of the largest
 * one; the rest is at most 2^-120 of the largest term per term.  A counter
 * overflows only after 2^67 terms.
 *
 * xsum_get rounds the kept sum to the nearest double once (ties to even),
 * and can give the remainder too (a double-double of 106 bits).  Squares
 * are added exactly (xsum_add_sq): a product of two 53-bit mantissas is a
 * 106-bit integer on the same grid, beyond the range of a double if need be
 * (the digits go up to 3120 + 105 bits); the variances take n * sum(x^2) -
 * sum(x)^2 from the two sums' digits exactly (xsum_spread).
 *
 * Infinities and NaN are kept apart as flags, as IEEE adds them: +inf and
 * -inf together, or any NaN, make NaN.  The sign of a zero is not kept.
 * A zeroed xsum is empty; states are plain bytes (no pointers), so they can
 * be copied, merged and checkpointed as bytes.
 */
#ifndef SL_BASE_XSUM_H
#define SL_BASE_XSUM_H

#include <stdint.h>
#include <string.h>

typedef struct xsum {
    __int128 d[3];  /* d[k]: the digit top - k */
    int32_t top;    /* the highest digit any term reached (0 when empty) */
    uint32_t flags; /* XSUM_NAN, XSUM_PINF, XSUM_NINF */
} xsum;

enum { XSUM_NAN = 1, XSUM_PINF = 2, XSUM_NINF = 4 };

/* What xsum_get found. */
enum {
    XSUM_FINITE = 0,   /* *hi (and *lo) hold the rounded sum */
    XSUM_SPECIAL = 1,  /* a term was not finite: *hi is NaN or an infinity, *lo 0 */
    XSUM_OVERFLOW = 2, /* the finite sum is beyond the doubles: *hi is +-inf, *lo 0 */
};

static inline void xsum_add(xsum *s, double x);
/* Adds x * x, exactly (no rounding, no overflow). */
static inline void xsum_add_sq(xsum *s, double x);
/* d += s */
void xsum_merge(xsum *d, const xsum *s);
/* The sum times 2^-shift rounded to the nearest double in *hi and, when lo is
 * not NULL, what remains rounded in *lo (hi + lo holds the sum to 106 bits). */
int xsum_get(const xsum *s, int shift, double *hi, double *lo);
/* The exponent of the sum's leading bit (floor of log2 |sum|), in *e; 0 when
 * the sum is a finite non-zero number, -1 when it is zero or not finite. */
int xsum_ilog2(const xsum *s, int *e);

/*
 * n * sq - sum^2 for the sum of n terms and the sum of their squares
 * (xsum_add_sq), computed exactly from the kept digits: *m * 2^*e, *m in
 * [1, 2) or 0 (n times the variance of the terms, n^2 times var_pop).
 * XSUM_SPECIAL when a term was not finite.  Zero when the digits say
 * negative, which only bits dropped far below the largest term can do.
 */
int xsum_spread(const xsum *sum, const xsum *sq, int64_t n, double *m, int *e);

/* ---- xsum_add inline: it runs once per row ---- */

#define XSUM_DIGIT 60

/* Keeps the digits top .. top - 2 of a new, higher top: the lower ones go. */
void xsum_raise_top(xsum *s, int32_t top);

/* A double's class (0: finite) and, when finite and not zero, mag * 2^(q - 1074). */
static inline int xsum_split_(double x, uint64_t *mag, int32_t *q, int *neg)
{
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    *neg = (int)(b >> 63);
    uint32_t e = (uint32_t)(b >> 52) & 0x7ff;
    uint64_t f = b & ((1ull << 52) - 1);
    if (e == 0x7ff)
        return f ? XSUM_NAN : *neg ? XSUM_NINF : XSUM_PINF;
    *mag = e ? f | 1ull << 52 : f;
    *q = e ? (int32_t)e - 1 : 0;
    return 0;
}

/* +x or -x (neg: 0 or 1), x below 2^60 */
static inline int64_t xsum_signed_(uint64_t x, int neg)
{
    int64_t m = -(int64_t)neg;
    return ((int64_t)x ^ m) - m;
}

/*
 * A term's bits in each kept digit, exactly.  Its highest digit is the one
 * of bit q + 52 (for a subnormal too), so the digits touched depend on the
 * term only.
 */
static inline void xsum_add(xsum *s, double x)
{
    uint64_t mag;
    int32_t q;
    int neg, special = xsum_split_(x, &mag, &q, &neg);
    if (special) {
        s->flags |= (uint32_t)special;
        return;
    }
    if (!mag)
        return;
    int32_t lo = q / XSUM_DIGIT;
    int shift = q - lo * XSUM_DIGIT;
    int32_t hi = lo + (shift + 52 >= XSUM_DIGIT);
    if (hi > s->top)
        xsum_raise_top(s, hi);
    /* mag << shift is below 2^112: its low digit, and its high one (0 unless hi > lo) */
    uint64_t low = (mag << shift) & ((1ull << XSUM_DIGIT) - 1), high = mag >> (XSUM_DIGIT - shift);
    int32_t k = s->top - lo; /* digit lo's counter; digit hi's is k - 1 */
    if (k < 3)
        s->d[k] += xsum_signed_(low, neg);
    if (hi > lo && k - 1 < 3)
        s->d[k - 1] += xsum_signed_(high, neg);
}

/* Adds sq * 2^(q - 1074) for q >= 0 and sq below 2^106 (a square): its highest
 * digit is the one of bit q + 105. */
static inline void xsum_add106_(xsum *s, unsigned __int128 sq, int32_t q)
{
    int32_t lo = q / XSUM_DIGIT;
    int shift = q - lo * XSUM_DIGIT;
    int32_t hi = lo + 1 + (shift + 105 >= 2 * XSUM_DIGIT);
    if (hi > s->top)
        xsum_raise_top(s, hi);
    uint64_t mask = (1ull << XSUM_DIGIT) - 1;
    uint64_t d0 = ((uint64_t)sq << shift) & mask;
    uint64_t d1 = (uint64_t)(sq >> (XSUM_DIGIT - shift)) & mask;
    uint64_t d2 = (uint64_t)(sq >> (2 * XSUM_DIGIT - shift));
    int32_t k = s->top - lo; /* digit lo's counter; lo + 1's is k - 1, lo + 2's k - 2 */
    if (k < 3)
        s->d[k] += (__int128)d0;
    if (k - 1 < 3)
        s->d[k - 1] += (__int128)d1;
    if (hi > lo + 1 && k - 2 < 3)
        s->d[k - 2] += (__int128)d2;
}

void xsum_add_sq_slow_(xsum *s, unsigned __int128 sq, int32_t pos);

static inline void xsum_add_sq(xsum *s, double x)
{
    uint64_t mag;
    int32_t q;
    int neg, special = xsum_split_(x, &mag, &q, &neg);
    if (special) {
        s->flags |= special == XSUM_NAN ? XSUM_NAN : XSUM_PINF;
        return;
    }
    if (!mag)
        return;
    /* x^2 = mag^2 * 2^(2q - 2148): grid position 2q - 1074 */
    unsigned __int128 sq = (unsigned __int128)mag * mag;
    int32_t pos = 2 * q - 1074;
    if (pos >= 0)
        xsum_add106_(s, sq, pos);
    else
        xsum_add_sq_slow_(s, sq, pos);
}

#endif
