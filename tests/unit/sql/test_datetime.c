/*
 * test_datetime.c - the timestamp parser's shortcut for the common layout
 * (fast_timestamp in sql/types/datetime.c) against the general parser: over
 * many generated texts, dt_parse_timestamp accepts exactly what the general
 * parser accepts, with the same value, whether the shortcut's cache of the last
 * date holds or not.
 */
#include "test.h"

#include "sql/types/datetime.c" /* the file under test, statics included */

/* A small deterministic generator (xorshift64*). */
static uint64_t g_rng = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(uint32_t n)
{
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return (uint32_t)((g_rng * 0x2545F4914F6CDD1Dull) >> 33) % n;
}

/* The first entry (well formed) half of the time, else any. */
static const char *pick(const char *const *v, size_t n)
{
    return rnd(2) ? v[0] : v[rnd((uint32_t)n)];
}

#define PICK(v) pick(v, sizeof v / sizeof v[0])

/* One text near the common layout: each part usually well formed, sometimes at
 * or past a boundary, sometimes of another width or shape. */
static size_t gen(char *buf, size_t cap)
{
    static const char *const years[] = {"2024", "2023", "2000", "1900", "2100", "1678", "1677",
                                        "2261", "2262", "0000", "9999", "1970", "02024", "202",
                                        "2o24", "1600", "2400"};
    static const char *const months[] = {"01", "02", "03", "12", "00", "13", "1", "9", "10", "6",
                                         "x1", "02"};
    static const char *const days[] = {"01", "28", "29", "30", "31", "00", "32", "1", "9", "15"};
    static const char *const seps[] = {" ", "T", "t", " ", "T", "  ", "x", "", "T "};
    static const char *const hours[] = {"23", "09", "12", "00", "24", "25", "7", "99", "0a"};
    static const char *const mins[] = {"00", "30", "59", "60", "5", "0:"};
    static const char *const secs[] = {"59", "30", "00", "60", "61", "7", ""};
    static const char *const zones[] = {"", "", "", "", "Z", "z", "+01", "-05:30", " UTC", "+0530",
                                        "+16", " gmt", "+", "Zx", " ", "  ", "\t", "x"};
    char frac[16] = "";
    int nf = (int)rnd(13) - 2; /* none, a bare point, or 1 to 10 digits */
    if (nf == -1) {
        strcpy(frac, ".");
    } else if (nf > 0) {
        frac[0] = '.';
        for (int i = 1; i <= nf; i++)
            frac[i] = (char)('0' + rnd(10));
        frac[nf + 1] = '\0';
    }
    const char *y = rnd(3) ? PICK(years) : NULL;
    char yb[8];
    if (!y) { /* any year of the range the shortcut takes, and a little past it */
        snprintf(yb, sizeof yb, "%04u", 1670 + rnd(600));
        y = yb;
    }
    const char *sec = PICK(secs);
    int n = snprintf(buf, cap, "%s%s-%s-%s%s%s:%s%s%s%s%s", rnd(20) ? "" : " ", y, PICK(months),
                     PICK(days), PICK(seps), PICK(hours), PICK(mins), *sec ? ":" : "", sec,
                     *sec ? frac : "", PICK(zones));
    if (n < 0 || (size_t)n >= cap)
        n = 0;
    if (n && !rnd(8)) /* one character changed anywhere */
        buf[rnd((uint32_t)n)] = "0123456789-:. Tt+Zx"[rnd(19)];
    return (size_t)n;
}

static void same(const char *s, size_t n)
{
    for (int tz = 0; tz < 2; tz++) {
        int64_t a = 0, b = 0;
        int ra = dt_parse_timestamp(s, n, tz, &a), rb = general_timestamp(s, n, tz, &b);
        if (ra != rb || (!ra && a != b)) {
            fprintf(stderr, "\"%.*s\" (with_tz %d): shortcut %d %lld, general %d %lld\n", (int)n, s,
                    tz, ra, (long long)a, rb, (long long)b);
            CHECK(0);
        }
    }
}

TEST(shortcut_agrees_with_general_parser_on_generated_texts)
{
    char buf[96];
    int64_t fast = 0;
    for (int i = 0; i < 400000; i++) {
        size_t n = gen(buf, sizeof buf);
        int64_t v;
        fast += fast_timestamp(buf, n, &v);
        same(buf, n);
        /* the same date again with another time: the shortcut's cached date */
        if (n >= 19 && !rnd(2)) {
            char t[96];
            memcpy(t, buf, n);
            t[11 + rnd(8)] = (char)('0' + rnd(10));
            same(t, n);
        }
    }
    fprintf(stderr, "%lld of the texts taken by the shortcut\n", (long long)fast);
    CHECK(fast > 10000); /* the shortcut did take part */
}

TEST(shortcut_edge_cases)
{
    static const char *const texts[] = {
        "2024-02-29 00:00:00", "2023-02-29 00:00:00", "1900-02-29 00:00:00", "2000-02-29 12:00:00",
        "2100-02-29 00:00:00", "2024-04-31 00:00:00", "2024-12-31 23:59:59.999999999",
        "1678-01-01 00:00:00", "1677-12-31 23:59:59", "1677-09-21 00:12:43.145224192",
        "1677-09-21 00:12:43.145224191", "2261-12-31 23:59:59.999999999", "2262-01-01 00:00:00",
        "2262-04-11 23:47:16.854775807", "2262-04-11 23:47:16.854775808",
        "2024-01-01 00:00:00.1", "2024-01-01 00:00:00.12", "2024-01-01 00:00:00.123",
        "2024-01-01 00:00:00.1234", "2024-01-01 00:00:00.12345", "2024-01-01 00:00:00.123456",
        "2024-01-01 00:00:00.1234567", "2024-01-01 00:00:00.12345678",
        "2024-01-01 00:00:00.123456789", "2024-01-01 00:00:00.1234567891",
        "2024-01-01 00:00:00.", "2024-01-01 24:00:00", "2024-01-01 24:00:01", "2024-01-01 23:59:60",
        "2024-01-01 23:60:00", "2024-01-01 00:00:00 ", "2024-01-01 00:00:00.5 ",
        " 2024-01-01 00:00:00", "2024-01-01T00:00:00", "2024-01-01t00:00:00", "2024-01-01 00:00",
        "2024-01-01", "2024-01-01 00:00:00Z", "2024-01-01 00:00:00+02", "2024-01-01 00:00:00.5-03:30",
        "2024-01-01 00:00:00 UTC", "2024-1-01 00:00:00", "2024-01-01 0:00:00", "2024-01-01  00:00:00",
        "epoch", "infinity", "-infinity", "", "2024-01-01 00:00:0a", "2024-01-01 00:00:00.12a",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        same(texts[i], strlen(texts[i]));
        /* after the same date was cached by a well-formed text */
        char t[64];
        snprintf(t, sizeof t, "%.10s 01:02:03", texts[i]);
        same(t, strlen(t));
        same(texts[i], strlen(texts[i]));
    }
    int64_t v;
    CHECK_EQ(dt_parse_timestamp("2023-02-29 00:00:00", 19, false, &v), -1);
    CHECK_EQ(dt_parse_timestamp("2024-02-29 00:00:00.5", 21, false, &v), 0);
    CHECK_EQ(v, (dt_days_from_civil(2024, 2, 29) * 86400 + 0) * NS_PER_S + 500000000);
}

