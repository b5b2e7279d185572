/*
 * test_xsum.c - order-independent sums of doubles: exact against __float128
 * where that is exact, the same bits for every order and every split into
 * merged parts, squares and the variance's n * sq - sum^2 exactly.
 */
#include "test.h"

#include "base/xsum.h"

#include <float.h>
#include <math.h>

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

/* a random double: random mantissa and sign, exponent in [lo, lo + span) */
static double rnd_double(int lo, int span)
{
    double m = (double)(rnd() >> 11) / 9007199254740992.0 + 0.5; /* [0.5, 1) */
    double x = ldexp(m, lo + (int)(rnd() % (uint64_t)span));
    return rnd() & 1 ? -x : x;
}

static double sum_of(const double *v, int n)
{
    xsum s = {0};
    for (int i = 0; i < n; i++)
        xsum_add(&s, v[i]);
    double r;
    CHECK_EQ(xsum_get(&s, 0, &r, NULL), XSUM_FINITE);
    return r;
}

static uint64_t bits(double x)
{
    uint64_t b;
    memcpy(&b, &x, 8);
    return b;
}

TEST(xsum_is_exact_and_rounds_once)
{
    double cancel[] = {1e16, 1.0, -1e16};
    CHECK(sum_of(cancel, 3) == 1.0); /* adding in order gives 0 */
    double tenth[10];
    for (int i = 0; i < 10; i++)
        tenth[i] = 0.1;
    CHECK(sum_of(tenth, 10) == 1.0); /* in order: 0.9999999999999999 */
    double big[] = {DBL_MAX, DBL_MAX, -DBL_MAX};
    CHECK(sum_of(big, 3) == DBL_MAX); /* in order: inf */
    double sub[] = {4.9406564584124654e-324, 4.9406564584124654e-324, 4.9406564584124654e-324};
    CHECK(sum_of(sub, 3) == 3 * 4.9406564584124654e-324);
    /* ties go to even: 1 + 2^-53 is exactly half way */
    double tie[] = {1.0, ldexp(1, -53)};
    CHECK(sum_of(tie, 2) == 1.0);
    double tie_up[] = {1.0, ldexp(1, -53), ldexp(1, -150)};
    CHECK(sum_of(tie_up, 3) == 1.0 + ldexp(1, -52));
    /* against __float128, exact for up to 256 terms within 2^40 of each other */
    for (int round = 0; round < 2000; round++) {
        double v[256];
        /* the last rounds in and around the subnormals */
        int n = 1 + (int)(rnd() % 256),
            lo = round < 1500 ? (int)(rnd() % 1960) - 1000 : (int)(rnd() % 80) - 1100;
        __float128 q = 0;
        for (int i = 0; i < n; i++) {
            v[i] = rnd_double(lo, 40);
            q += v[i];
        }
        if (bits(sum_of(v, n)) != bits((double)q)) {
            fprintf(stderr, "round %d: %a != %a\n", round, sum_of(v, n), (double)q);
            CHECK(0);
        }
    }
}

TEST(xsum_remainder_makes_106_bits)
{
    for (int round = 0; round < 2000; round++) {
        double a = rnd_double(-30, 60), b = rnd_double(-30, 60);
        xsum s = {0};
        xsum_add(&s, a);
        xsum_add(&s, b);
        double hi, lo;
        CHECK_EQ(xsum_get(&s, 0, &hi, &lo), XSUM_FINITE);
        /* two terms: hi is a + b rounded, lo the exact error (TwoSum's) */
        double sum = a + b, bb = sum - a, err = (a - (sum - bb)) + (b - bb);
        CHECK(bits(hi) == bits(sum));
        CHECK(lo == err);
        /* a shift scales exactly */
        double h2;
        CHECK_EQ(xsum_get(&s, 7, &h2, NULL), XSUM_FINITE);
        CHECK(h2 == ldexp(hi, -7));
    }
}

TEST(xsum_same_bits_for_every_order_and_split)
{
    enum { N = 5000 };
    static double v[N];
    for (int i = 0; i < N; i++)
        v[i] = rnd_double(-1100, 2100); /* subnormal to near overflow */
    for (int i = 0; i < 50; i++)
        v[rnd() % N] = rnd_double(-10, 20); /* and some ordinary ones */
    xsum ref = {0}, refsq = {0};
    for (int i = 0; i < N; i++) {
        xsum_add(&ref, v[i]);
        xsum_add_sq(&refsq, v[i]);
    }
    for (int round = 0; round < 20; round++) {
        for (int i = N - 1; i > 0; i--) { /* shuffle */
            int j = (int)(rnd() % (uint64_t)(i + 1));
            double t = v[i];
            v[i] = v[j];
            v[j] = t;
        }
        int parts = 1 + round % 7;
        xsum p[7], q[7];
        memset(p, 0, sizeof p);
        memset(q, 0, sizeof q);
        for (int i = 0; i < N; i++) {
            int k = (int)(rnd() % (uint64_t)parts);
            xsum_add(&p[k], v[i]);
            xsum_add_sq(&q[k], v[i]);
        }
        for (int k = parts - 1; k > 0; k--) {
            xsum_merge(&p[k - 1], &p[k]);
            xsum_merge(&q[k - 1], &q[k]);
        }
        CHECK(memcmp(&p[0], &ref, sizeof ref) == 0);
        CHECK(memcmp(&q[0], &refsq, sizeof refsq) == 0);
    }
    double a, b;
    CHECK_EQ(xsum_get(&ref, 0, &a, NULL), XSUM_FINITE);
    CHECK(isfinite(a));
    /* the squares are beyond the doubles: read scaled */
    int e;
    CHECK_EQ(xsum_ilog2(&refsq, &e), 0);
    CHECK(e > 1024);
    CHECK_EQ(xsum_get(&refsq, 0, &b, NULL), XSUM_OVERFLOW);
    CHECK_EQ(xsum_get(&refsq, e, &b, NULL), XSUM_FINITE);
    CHECK(b >= 1.0 && b <= 2.0);
}

TEST(xsum_special_values)
{
    xsum s = {0};
    double r;
    xsum_add(&s, 1.0);
    xsum_add(&s, INFINITY);
    CHECK_EQ(xsum_get(&s, 0, &r, NULL), XSUM_SPECIAL);
    CHECK(r == INFINITY);
    xsum_add(&s, -INFINITY);
    CHECK_EQ(xsum_get(&s, 0, &r, NULL), XSUM_SPECIAL);
    CHECK(isnan(r));
    xsum t = {0};
    xsum_add(&t, -INFINITY);
    CHECK_EQ(xsum_get(&t, 0, &r, NULL), XSUM_SPECIAL);
    CHECK(r == -INFINITY);
    xsum u = {0};
    xsum_add(&u, NAN);
    CHECK_EQ(xsum_get(&u, 0, &r, NULL), XSUM_SPECIAL);
    CHECK(isnan(r));
    xsum z = {0};
    xsum_add(&z, 0.0);
    xsum_add(&z, -0.0);
    CHECK_EQ(xsum_get(&z, 0, &r, NULL), XSUM_FINITE);
    CHECK(r == 0.0);
    xsum o = {0};
    xsum_add(&o, DBL_MAX);
    xsum_add(&o, DBL_MAX);
    CHECK_EQ(xsum_get(&o, 0, &r, NULL), XSUM_OVERFLOW);
    CHECK(r == INFINITY);
    CHECK_EQ(xsum_get(&o, 1, &r, NULL), XSUM_FINITE);
    CHECK(r == DBL_MAX);
}

/* n * sum of squares - sum^2 of v, as m * 2^e */
static double spread(const double *v, int n)
{
    xsum s = {0}, q = {0};
    for (int i = 0; i < n; i++) {
        xsum_add(&s, v[i]);
        xsum_add_sq(&q, v[i]);
    }
    double m;
    int e;
    CHECK_EQ(xsum_spread(&s, &q, n, &m, &e), XSUM_FINITE);
    return ldexp(m, e);
}

TEST(xsum_spread_is_exact)
{
    /* 1e9 + {1, 2, 3}: 3 * sum of squares - sum^2 = 6; in doubles both are ~9e18 */
    double v[] = {1e9 + 1, 1e9 + 2, 1e9 + 3};
    CHECK(spread(v, 3) == 6.0);
    /* equal values: exactly 0, whatever they are */
    double same[] = {0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1};
    CHECK(spread(same, 7) == 0.0);
    double one[] = {1.7e9 + 0.123456};
    CHECK(spread(one, 1) == 0.0);
    /* two neighbours: n^2 var_pop = 2 * 2 * (ulp / 2)^2 = ulp^2 */
    double x = 1.7e9 + 0.123456, ulp = nextafter(x, INFINITY) - x;
    double nb[] = {x, nextafter(x, INFINITY)};
    CHECK(spread(nb, 2) == ulp * ulp);
    /* large values: 1e200 and -1e200, sum 0, 2 * 2e400 beyond the doubles */
    xsum s = {0}, q = {0};
    xsum_add(&s, 1e200);
    xsum_add_sq(&q, 1e200);
    xsum_add(&s, -1e200);
    xsum_add_sq(&q, -1e200);
    double m;
    int e;
    CHECK_EQ(xsum_spread(&s, &q, 2, &m, &e), XSUM_FINITE);
    CHECK(m >= 1.0 && m < 2.0);
    CHECK(fabs(ldexp(m, e - 1328) / (double)(4e400L / 0x1p1328L) - 1) < 1e-15);
    xsum_add(&s, NAN);
    CHECK_EQ(xsum_spread(&s, &q, 3, &m, &e), XSUM_SPECIAL);
}
