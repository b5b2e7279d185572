/*
 * string.c - string functions and operators: ||, lower, substr, LIKE, ...
 *
 * Strings are UTF-8; lengths and positions count characters, as PostgreSQL
 * does in a UTF-8 database.  Case mapping is ASCII only (the C collation the
 * engine sorts by; docs/sql.md).  Kernels that make strings append one row
 * per input row (an empty string where the result is null: the evaluator
 * marks strict nulls afterwards).
 */
#include "sql/func/kern.h"

#include "base/alloc.h"

#include <ctype.h>
#include <stdio.h>

/* Bytes of the first k characters of s (n bytes). */
static size_t char_bytes(const char *s, size_t n, int64_t k)
{
    size_t b = 0;
    while (b < n && k > 0) {
        b++;
        while (b < n && ((unsigned char)s[b] & 0xC0) == 0x80)
            b++;
        k--;
    }
    return b;
}

static int64_t char_len(const char *s, size_t n)
{
    int64_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

static int put(sql_vec *o, const char *s, size_t n)
{
    return col_vec_append_str(&o->v, s, n);
}

static int put_empty(sql_vec *o)
{
    return col_vec_append_str(&o->v, "", 0);
}

#define EACH_ROW_OR_EMPTY(nargs)                                                                \
    if (ka_null(a, nargs, i)) {                                                                 \
        if ((rc = put_empty(o)))                                                                \
            return rc;                                                                          \
        continue;                                                                               \
    }

KERNEL(textcat)
{
    (void)cx;
    (void)e;
    int rc;
    dbuf b;
    dbuf_init(&b, (size_t)1 << 30);
    for (int64_t i = 0; i < n; i++) {
        size_t xn, yn;
        const char *x = ka_str(&a[0], i, &xn), *y = ka_str(&a[1], i, &yn);
        dbuf_reset(&b);
        if ((rc = dbuf_append(&b, x, xn)) || (rc = dbuf_append(&b, y, yn)) ||
            (rc = put(o, (const char *)b.p, b.len))) {
            dbuf_free(&b);
            return rc;
        }
    }
    dbuf_free(&b);
    return SL_OK;
}

/* concat(any...): nulls are skipped; the arguments were cast to text by the binder. */
KERNEL(concat)
{
    (void)cx;
    dbuf b;
    dbuf_init(&b, (size_t)1 << 30);
    int rc = SL_OK;
    bool ws = e->name && !strcmp(e->name, "concat_ws");
    for (int64_t i = 0; i < n && !rc; i++) {
        dbuf_reset(&b);
        if (ws && !sql_vec_valid(&a[0], i)) {
            rc = col_vec_append_null(&o->v);
            continue;
        }
        size_t sepn = 0;
        const char *sep = ws ? ka_str(&a[0], i, &sepn) : "";
        int first = 1;
        for (int k = ws; k < e->nargs && !rc; k++) {
            if (!sql_vec_valid(&a[k], i))
                continue;
            size_t l;
            const char *s = ka_str(&a[k], i, &l);
            if (!first && sepn)
                rc = dbuf_append(&b, sep, sepn);
            first = 0;
            if (!rc)
                rc = dbuf_append(&b, s, l);
        }
        if (!rc)
            rc = put(o, b.p ? (const char *)b.p : "", b.len);
    }
    dbuf_free(&b);
    return rc;
}

KERNEL(length_chars)
{
    (void)cx;
    (void)e;
    for (int64_t i = 0; i < n; i++) {
        size_t l;
        const char *s = ka_str(&a[0], i, &l);
        ko_i32(o, i, (int32_t)char_len(s, l));
    }
    return SL_OK;
}

KERNEL(octet_length)
{
    (void)cx;
    (void)e;
    for (int64_t i = 0; i < n; i++) {
        size_t l;
        ka_str(&a[0], i, &l);
        ko_i32(o, i, (int32_t)l);
    }
    return SL_OK;
}

static int map_case(const sql_vec *a, int64_t n, sql_vec *o, int mode)
{
    int rc = SL_OK;
    char *t = NULL;
    size_t cap = 0;
    for (int64_t i = 0; i < n && !rc; i++) {
        size_t l;
        const char *s = ka_str(&a[0], i, &l);
        if (l > cap) {
            char *nt = sl_realloc(t, l);
            if (!nt) {
                rc = SL_ENOMEM;
                break;
            }
            t = nt;
            cap = l;
        }
        int word_start = 1;
        for (size_t k = 0; k < l; k++) {
            unsigned char c = (unsigned char)s[k];
            if (mode == 0)
                t[k] = (char)tolower(c);
            else if (mode == 1)
                t[k] = (char)toupper(c);
            else {
                t[k] = (char)(word_start ? toupper(c) : tolower(c));
                word_start = !isalnum(c) && c < 0x80;
            }
        }
        rc = put(o, t ? t : "", l);
    }
    sl_free(t);
    return rc;
}

KERNEL(lower) { (void)cx; (void)e; return map_case(a, n, o, 0); }
KERNEL(upper) { (void)cx; (void)e; return map_case(a, n, o, 1); }
KERNEL(initcap) { (void)cx; (void)e; return map_case(a, n, o, 2); }

/* substr(s, from [, count]): 1-based characters; PostgreSQL's rules for from < 1. */
KERNEL(substr)
{
    int rc;
    for (int64_t i = 0; i < n; i++) {
        EACH_ROW_OR_EMPTY(e->nargs)
        size_t l;
        const char *s = ka_str(&a[0], i, &l);
        int64_t from = ka_int(&a[1], i), len = INT64_MAX;
        if (e->nargs > 2) {
            len = ka_int(&a[2], i);
            if (len < 0)
                return sql_fail(cx, e, "22011", "negative substring length not allowed");
        }
        int64_t start = from - 1, end = len == INT64_MAX ? INT64_MAX : start + len;
        if (start < 0)
            start = 0;
        if (end <= start) {
            if ((rc = put_empty(o)))
                return rc;
            continue;
        }
        size_t b0 = char_bytes(s, l, start);
        size_t b1 = end == INT64_MAX ? l : b0 + char_bytes(s + b0, l - b0, end - start);
        if ((rc = put(o, s + b0, b1 - b0)))
            return rc;
    }
    return SL_OK;
}

/* strpos(s, sub) and position(sub IN s): 1-based character position, 0 if absent. */
KERNEL(strpos)
{
    (void)cx;
    (void)e;
    for (int64_t i = 0; i < n; i++) {
        size_t l, sl;
        const char *s = ka_str(&a[0], i, &l), *sub = ka_str(&a[1], i, &sl);
        int64_t pos = 0;
        if (sl == 0) {
            pos = 1;
        } else {
            const char *f = sl <= l ? memmem(s, l, sub, sl) : NULL;
            if (f)
                pos = char_len(s, (size_t)(f - s)) + 1;
        }
        ko_i32(o, i, (int32_t)pos);
    }
    return SL_OK;
}

KERNEL(replace)
{
    (void)cx;
    (void)e;
    dbuf b;
    dbuf_init(&b, (size_t)1 << 30);
    int rc = SL_OK;
    for (int64_t i = 0; i < n && !rc; i++) {
        size_t l, fl, tl;
        const char *s = ka_str(&a[0], i, &l), *f = ka_str(&a[1], i, &fl), *t = ka_str(&a[2], i, &tl);
        dbuf_reset(&b);
        size_t p = 0;
        while (!rc && fl && p < l) {
            const char *m = memmem(s + p, l - p, f, fl);
            if (!m)
                break;
            rc = dbuf_append(&b, s + p, (size_t)(m - (s + p)));
            if (!rc)
                rc = dbuf_append(&b, t, tl);
            p = (size_t)(m - s) + fl;
        }
        if (!rc)
            rc = dbuf_append(&b, s + p, l - p);
        if (!rc)
            rc = put(o, b.p ? (const char *)b.p : "", b.len);
    }
    dbuf_free(&b);
    return rc;
}

static int trim_kernel(const sql_expr *e, const sql_vec *a, int64_t n, sql_vec *o, int left,
                       int right)
{
    int rc = SL_OK;
    for (int64_t i = 0; i < n && !rc; i++) {
        size_t l, cl = 1;
        const char *s = ka_str(&a[0], i, &l), *chars = " ";
        if (e->nargs > 1)
            chars = ka_str(&a[1], i, &cl);
        size_t b = 0, end = l;
        while (left && b < end && memchr(chars, s[b], cl))
            b++;
        while (right && end > b && memchr(chars, s[end - 1], cl))
            end--;
        rc = put(o, s + b, end - b);
    }
    return rc;
}

KERNEL(btrim) { (void)cx; return trim_kernel(e, a, n, o, 1, 1); }
KERNEL(ltrim) { (void)cx; return trim_kernel(e, a, n, o, 1, 0); }
KERNEL(rtrim) { (void)cx; return trim_kernel(e, a, n, o, 0, 1); }

/* left(s, k), right(s, k): negative k drops characters from the other end */
static int leftright(const sql_vec *a, int64_t n, sql_vec *o, int is_left)
{
    int rc = SL_OK;
    for (int64_t i = 0; i < n && !rc; i++) {
        size_t l;
        const char *s = ka_str(&a[0], i, &l);
        int64_t k = ka_int(&a[1], i), cl = char_len(s, l);
        int64_t keep = k >= 0 ? (k < cl ? k : cl) : (cl + k > 0 ? cl + k : 0);
        size_t b = is_left ? 0 : char_bytes(s, l, cl - keep);
        size_t e2 = is_left ? char_bytes(s, l, keep) : l;
        rc = put(o, s + b, e2 - b);
    }
    return rc;
}

KERNEL(left) { (void)cx; (void)e; return leftright(a, n, o, 1); }
KERNEL(right) { (void)cx; (void)e; return leftright(a, n, o, 0); }

static int pad(sql_fctx *cx, const sql_expr *e, const sql_vec *a, int64_t n, sql_vec *o, int is_left)
{
    dbuf b;
    dbuf_init(&b, (size_t)1 << 28);
    int rc = SL_OK;
    for (int64_t i = 0; i < n && !rc; i++) {
        EACH_ROW_OR_EMPTY(e->nargs)
        size_t l, fl = 1;
        const char *s = ka_str(&a[0], i, &l), *fill = " ";
        int64_t len = ka_int(&a[1], i);
        if (e->nargs > 2)
            fill = ka_str(&a[2], i, &fl);
        if (len < 0)
            len = 0;
        if (len > (1 << 24)) {
            dbuf_free(&b);
            return sql_fail(cx, e, "54000", "requested length too large");
        }
        int64_t cl = char_len(s, l);
        dbuf_reset(&b);
        if (cl >= len || fl == 0) {
            rc = put(o, s, char_bytes(s, l, cl < len ? cl : len));
            continue;
        }
        int64_t need = len - cl, fcl = char_len(fill, fl), k = 0;
        if (!is_left)
            rc = dbuf_append(&b, s, l);
        while (!rc && need > 0) {
            size_t off = char_bytes(fill, fl, k % fcl);
            size_t cb = char_bytes(fill + off, fl - off, 1);
            rc = dbuf_append(&b, fill + off, cb);
            k++;
            need--;
        }
        if (!rc && is_left)
            rc = dbuf_append(&b, s, l);
        if (!rc)
            rc = put(o, (const char *)b.p, b.len);
    }
    dbuf_free(&b);
    return rc;
}

KERNEL(lpad) { return pad(cx, e, a, n, o, 1); }
KERNEL(rpad) { return pad(cx, e, a, n, o, 0); }

KERNEL(repeat)
{
    dbuf b;
    dbuf_init(&b, (size_t)1 << 28);
    int rc = SL_OK;
    for (int64_t i = 0; i < n && !rc; i++) {
        EACH_ROW_OR_EMPTY(2)
        size_t l;
        const char *s = ka_str(&a[0], i, &l);
        int64_t k = ka_int(&a[1], i);
        if (k > 0 && (uint64_t)k * l > ((size_t)1 << 28)) {
            dbuf_free(&b);
            return sql_fail(cx, e, "54000", "requested length too large");
        }
        dbuf_reset(&b);
        for (int64_t j = 0; j < k && !rc; j++)
            rc = dbuf_append(&b, s, l);
        if (!rc)
            rc = put(o, b.p ? (const char *)b.p : "", b.len);
    }
    dbuf_free(&b);
    return rc;
}

KERNEL(reverse)
{
    (void)cx;
    (void)e;
    int rc = SL_OK;
    char *t = NULL;
    size_t cap = 0;
    for (int64_t i = 0; i < n && !rc; i++) {
        size_t l;
        const char *s = ka_str(&a[0], i, &l);
        if (l > cap) {
            char *nt = sl_realloc(t, l);
            if (!nt) {
                sl_free(t);
                return SL_ENOMEM;
            }
            t = nt;
            cap = l;
        }
        size_t o2 = l;
        for (size_t k = 0; k < l;) {
            size_t cb = char_bytes(s + k, l - k, 1);
            o2 -= cb;
            memcpy(t + o2, s + k, cb);
            k += cb;
        }
        rc = put(o, t ? t : "", l);
    }
    sl_free(t);
    return rc;
}

KERNEL(split_part)
{
    int rc = SL_OK;
    for (int64_t i = 0; i < n && !rc; i++) {
        EACH_ROW_OR_EMPTY(3)
        size_t l, dl;
        const char *s = ka_str(&a[0], i, &l), *d = ka_str(&a[1], i, &dl);
        int64_t k = ka_int(&a[2], i);
        if (k == 0)
            return sql_fail(cx, e, "22023", "field position must not be zero");
        /* the fields, then pick (negative counts from the end) */
        int64_t nf = 1;
        if (dl)
            for (const char *p = s; (p = memmem(p, l - (size_t)(p - s), d, dl)); p += dl)
                nf++;
        if (!dl && l == 0)
            nf = 0;
        int64_t want = k > 0 ? k - 1 : nf + k;
        if (want < 0 || want >= nf) {
            rc = put_empty(o);
            continue;
        }
        const char *p = s;
        for (int64_t f = 0; f < want; f++)
            p = (const char *)memmem(p, l - (size_t)(p - s), d, dl) + dl;
        const char *q = dl ? memmem(p, l - (size_t)(p - s), d, dl) : NULL;
        rc = put(o, p, q ? (size_t)(q - p) : l - (size_t)(p - s));
    }
    return rc;
}

KERNEL(starts_with)
{
    (void)cx;
    (void)e;
    for (int64_t i = 0; i < n; i++) {
        size_t l, pl;
        const char *s = ka_str(&a[0], i, &l), *p = ka_str(&a[1], i, &pl);
        ko_bool(o, i, pl <= l && !memcmp(s, p, pl));
    }
    return SL_OK;
}

KERNEL(ascii)
{
    (void)cx;
    (void)e;
    for (int64_t i = 0; i < n; i++) {
        size_t l;
        const unsigned char *s = (const unsigned char *)ka_str(&a[0], i, &l);
        int32_t c = 0;
        if (l) {
            c = s[0];
            if (c >= 0xC0 && l >= 2) { /* the code point of a UTF-8 sequence */
                int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
                c &= 0x3F >> extra;
                for (int k = 1; k <= extra && (size_t)k < l; k++)
                    c = (c << 6) | (s[k] & 0x3F);
            }
        }
        ko_i32(o, i, c);
    }
    return SL_OK;
}

KERNEL(md5)
{
    /* md5 is not part of this engine's hash set: refuse rather than answer wrongly */
    (void)a;
    (void)n;
    (void)o;
    return sql_fail(cx, e, SQLSTATE_FEATURE, "md5() is not supported");
}

/* ---- encode / decode (bytea <-> hex, base64) ---------------------------- */

static const char g_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int fmt_of(sql_fctx *cx, const sql_expr *e, const sql_vec *f, int64_t i, int *out)
{
    size_t n;
    const char *s = ka_str(f, i, &n);
    if (n == 3 && !strncmp(s, "hex", 3))
        *out = 0;
    else if (n == 6 && !strncmp(s, "base64", 6))
        *out = 1;
    else
        return sql_fail(cx, e, "22023", "unrecognized encoding: \"%.*s\" (hex or base64)",
                        (int)(n > 32 ? 32 : n), s);
    return SL_OK;
}

KERNEL(encode)
{
    dbuf b;
    dbuf_init(&b, (size_t)1 << 30);
    int rc = SL_OK;
    for (int64_t i = 0; i < n && !rc; i++) {
        if (!sql_vec_valid(o, i)) {
            rc = put_empty(o);
            continue;
        }
        int f;
        if ((rc = fmt_of(cx, e, &a[1], i, &f)))
            break;
        size_t l;
        const uint8_t *p = (const uint8_t *)ka_str(&a[0], i, &l);
        dbuf_reset(&b);
        for (size_t k = 0; f == 0 && k < l && !rc; k++) {
            static const char hx[] = "0123456789abcdef";
            char two[2] = {hx[p[k] >> 4], hx[p[k] & 15]};
            rc = dbuf_append(&b, two, 2);
        }
        /* base64 with a line break every 76 characters, as PostgreSQL writes it */
        for (size_t k = 0, col = 0; f == 1 && k < l && !rc; k += 3) {
            uint32_t v = (uint32_t)p[k] << 16 | (k + 1 < l ? (uint32_t)p[k + 1] << 8 : 0) |
                         (k + 2 < l ? p[k + 2] : 0);
            char q[4] = {g_b64[v >> 18 & 63], g_b64[v >> 12 & 63],
                         k + 1 < l ? g_b64[v >> 6 & 63] : '=', k + 2 < l ? g_b64[v & 63] : '='};
            if (col == 76) {
                rc = dbuf_append_byte(&b, '\n');
                col = 0;
            }
            if (!rc)
                rc = dbuf_append(&b, q, 4);
            col += 4;
        }
        if (!rc)
            rc = put(o, b.p ? (const char *)b.p : "", b.len);
    }
    dbuf_free(&b);
    return rc;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                       : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

KERNEL(decode)
{
    dbuf b;
    dbuf_init(&b, (size_t)1 << 30);
    int rc = SL_OK;
    for (int64_t i = 0; i < n && !rc; i++) {
        if (!sql_vec_valid(o, i)) {
            rc = put_empty(o);
            continue;
        }
        int f;
        if ((rc = fmt_of(cx, e, &a[1], i, &f)))
            break;
        size_t l;
        const char *s = ka_str(&a[0], i, &l);
        dbuf_reset(&b);
        if (f == 0) {
            for (size_t k = 0; k < l && !rc;) {
                if (s[k] == ' ' || s[k] == '\n' || s[k] == '\t' || s[k] == '\r') {
                    k++;
                    continue;
                }
                int hi = hexval(s[k]), lo = k + 1 < l ? hexval(s[k + 1]) : -1;
                if (hi < 0 || lo < 0)
                    rc = sql_fail(cx, e, SQLSTATE_INVALID_TEXT, "invalid hexadecimal data");
                else
                    rc = dbuf_append_byte(&b, (uint8_t)(hi << 4 | lo));
                k += 2;
            }
        } else {
            uint32_t acc = 0;
            int bits = 0, pad = 0;
            for (size_t k = 0; k < l && !rc; k++) {
                char c = s[k];
                if (c == ' ' || c == '\n' || c == '\t' || c == '\r')
                    continue;
                if (c == '=') {
                    pad++;
                    continue;
                }
                const char *at = memchr(g_b64, c, 64);
                if (!at || pad) {
                    rc = sql_fail(cx, e, SQLSTATE_INVALID_TEXT, "invalid base64 data");
                    break;
                }
                acc = acc << 6 | (uint32_t)(at - g_b64);
                bits += 6;
                if (bits >= 8) {
                    bits -= 8;
                    rc = dbuf_append_byte(&b, (uint8_t)(acc >> bits));
                }
            }
        }
        if (!rc)
            rc = put(o, b.p ? (const char *)b.p : "", b.len);
    }
    dbuf_free(&b);
    return rc;
}

/* ---- LIKE / ILIKE ------------------------------------------------------- */

static size_t utf8_len1(const char *s, size_t n)
{
    return char_bytes(s, n, 1);
}

/*
 * LIKE matching with % (any run), _ (one character) and \ (escape), by
 * backtracking over the last % only: linear in practice, as PostgreSQL's.
 */
static bool like_match(const char *s, size_t sn, const char *p, size_t pn, bool ci)
{
    size_t si = 0, pi = 0, star_p = (size_t)-1, star_s = 0;
    while (si < sn) {
        if (pi < pn && p[pi] == '%') {
            star_p = ++pi;
            star_s = si;
            continue;
        }
        if (pi < pn) {
            size_t plen, slen = utf8_len1(s + si, sn - si);
            const char *pc = p + pi;
            bool any = false;
            if (p[pi] == '\\' && pi + 1 < pn) {
                pc = p + pi + 1;
                plen = utf8_len1(pc, pn - pi - 1) + 1;
            } else {
                any = p[pi] == '_';
                plen = utf8_len1(pc, pn - pi);
            }
            size_t clen = p[pi] == '\\' && pi + 1 < pn ? plen - 1 : plen;
            bool eq = any || (clen == slen && (ci ? !strncasecmp(pc, s + si, slen)
                                                  : !memcmp(pc, s + si, slen)));
            if (eq) {
                si += slen;
                pi += plen;
                continue;
            }
        }
        if (star_p == (size_t)-1)
            return false;
        pi = star_p;
        star_s += utf8_len1(s + star_s, sn - star_s);
        si = star_s;
    }
    while (pi < pn && p[pi] == '%')
        pi++;
    return pi == pn;
}

/*
 * A constant pattern is looked at once: 'lit', 'lit%', '%lit' and '%lit%' (no
 * '_' or escape) become a comparison, a prefix, a suffix or a substring search;
 * and over a dictionary column each distinct string is matched once, the rows
 * then read their entry's answer.
 */
enum { LK_GENERAL, LK_EXACT, LK_PREFIX, LK_SUFFIX, LK_CONTAINS };

typedef struct like_pat {
    int kind;
    const char *lit;
    size_t ln;
    const char *p;
    size_t pn;
    bool ci;
} like_pat;

static like_pat like_compile(const char *p, size_t pn, bool ci)
{
    like_pat k = {LK_GENERAL, NULL, 0, p, pn, ci};
    if (ci || memchr(p, '_', pn) || memchr(p, '\\', pn))
        return k;
    size_t lo = 0, hi = pn;
    bool lead = lo < hi && p[lo] == '%', trail = hi > lo + (lead ? 1 : 0) && p[hi - 1] == '%';
    if (lead)
        lo++;
    if (trail)
        hi--;
    if (memchr(p + lo, '%', hi - lo))
        return k;
    k.lit = p + lo;
    k.ln = hi - lo;
    k.kind = lead && trail ? LK_CONTAINS : lead ? LK_SUFFIX : trail ? LK_PREFIX : LK_EXACT;
    return k;
}

/* memchr to the needle's first byte, then compare: fast for the short needles and
 * frequent hits of log searches (glibc's memmem pays a setup per call). */
static const char *find(const char *h, size_t hn, const char *nd, size_t nn)
{
    if (nn > hn)
        return NULL;
    const char *end = h + hn - nn + 1;
    while (h < end) {
        h = memchr(h, nd[0], (size_t)(end - h));
        if (!h)
            return NULL;
        if (!memcmp(h + 1, nd + 1, nn - 1))
            return h;
        h++;
    }
    return NULL;
}

static bool like_pat_match(const like_pat *k, const char *s, size_t sn)
{
    switch (k->kind) {
    case LK_EXACT: return sn == k->ln && (!sn || !memcmp(s, k->lit, sn));
    case LK_PREFIX: return sn >= k->ln && (!k->ln || !memcmp(s, k->lit, k->ln));
    case LK_SUFFIX: return sn >= k->ln && (!k->ln || !memcmp(s + sn - k->ln, k->lit, k->ln));
    case LK_CONTAINS: return !k->ln || (sn && find(s, sn, k->lit, k->ln) != NULL);
    default: return like_match(s, sn, k->p, k->pn, k->ci);
    }
}

static int like(const sql_vec *a, int64_t n, sql_vec *o, bool ci, bool neg)
{
    if (a[1].is_const && !a[0].is_const) {
        size_t pn;
        const char *p = ka_str(&a[1], 0, &pn);
        like_pat k = like_compile(p, pn, ci);
        const col_vec *v = &a[0].v;
        if (v->type == COL_DICT && n > 64) {
            const col_vec *d = &v->dict->strings;
            uint8_t *m = sl_malloc((size_t)(d->len ? d->len : 1));
            if (!m)
                return SL_ENOMEM;
            for (int64_t j = 0; j < d->len; j++) {
                size_t sn;
                const char *str = (const char *)col_vec_str(d, j, &sn);
                m[j] = like_pat_match(&k, str, sn) != neg;
            }
            for (int64_t i = 0; i < n; i++)
                ko_bool(o, i, m[col_vec_key(v, i)]);
            sl_free(m);
            return SL_OK;
        }
        if (k.kind == LK_CONTAINS && k.ln && v->type == COL_STRING && n > 0) {
            /* one search over the strings laid end to end: each hit is mapped to its
             * row (hits come in row order), a hit across two rows is not one */
            const int32_t *off = col_vec_offsets(v);
            const char *data = (const char *)v->data->p;
            for (int64_t i = 0; i < n; i++)
                ko_bool(o, i, neg);
            size_t pos = (size_t)off[0], end = (size_t)off[n];
            int64_t row = 0;
            while (pos < end) {
                const char *hit = find(data + pos, end - pos, k.lit, k.ln);
                if (!hit)
                    break;
                size_t h = (size_t)(hit - data);
                while (row < n && (size_t)off[row + 1] <= h)
                    row++;
                if (row >= n)
                    break;
                if (h + k.ln <= (size_t)off[row + 1]) {
                    ko_bool(o, row, !neg);
                    pos = (size_t)off[row + 1]; /* the row is decided: on to the next */
                } else {
                    pos = h + 1;
                }
            }
            return SL_OK;
        }
        for (int64_t i = 0; i < n; i++) {
            size_t sn;
            const char *str = ka_str(&a[0], i, &sn);
            ko_bool(o, i, like_pat_match(&k, str, sn) != neg);
        }
        return SL_OK;
    }
    for (int64_t i = 0; i < n; i++) {
        size_t sn, pn;
        const char *s = ka_str(&a[0], i, &sn), *p = ka_str(&a[1], i, &pn);
        ko_bool(o, i, like_match(s, sn, p, pn, ci) != neg);
    }
    return SL_OK;
}

KERNEL(like_k) { (void)cx; (void)e; return like(a, n, o, false, false); }
KERNEL(notlike_k) { (void)cx; (void)e; return like(a, n, o, false, true); }
KERNEL(ilike_k) { (void)cx; (void)e; return like(a, n, o, true, false); }
KERNEL(notilike_k) { (void)cx; (void)e; return like(a, n, o, true, true); }

/* ---- text[] ------------------------------------------------------------- */

/* text = ANY (text[]): true if an element equals, null if none does and one is null. */
KERNEL(any_eq_textarr)
{
    (void)cx;
    (void)e;
    for (int64_t i = 0; i < n; i++) {
        if (ka_null(a, 2, i))
            continue;
        size_t xn, an2;
        const char *x = ka_str(&a[0], i, &xn);
        const uint8_t *arr = (const uint8_t *)ka_str(&a[1], i, &an2);
        int rc = ko_tri(o, i, sql_textarr_find(arr, an2, x, xn));
        if (rc)
            return rc;
    }
    return SL_OK;
}

/* arr[i]: the 1-based element, NULL out of range (as PostgreSQL); of int2[], a
 * number. */
KERNEL(array_element)
{
    (void)cx;
    bool ints = e->type.id == ST_INT2;
    int rc = SL_OK;
    for (int64_t i = 0; i < n && !rc; i++) {
        if (!sql_vec_valid(o, i)) {
            rc = ints ? SL_OK : put_empty(o);
            continue;
        }
        size_t l;
        const uint8_t *arr = (const uint8_t *)ka_str(&a[0], i, &l);
        int64_t k = ka_int(&a[1], i);
        const uint8_t *el;
        uint32_t en;
        int32_t v;
        bool in = k >= 1 && k <= UINT32_MAX;
        if (ints && in && sql_int2arr_get(arr, l, (uint32_t)(k - 1), &v)) {
            ko_i32(o, i, v);
            continue;
        }
        if (!ints && in && sql_textarr_get(arr, l, (uint32_t)(k - 1), &el, &en)) {
            rc = put(o, (const char *)el, en);
            continue;
        }
        rc = ints ? SL_OK : put_empty(o);
        if (!rc)
            rc = ko_null(o, i);
    }
    return rc;
}

/* text[] || text[]: the elements of both, in order (the encodings' bodies joined). */
KERNEL(array_cat)
{
    (void)cx;
    (void)e;
    dbuf b;
    dbuf_init(&b, (size_t)1 << 30);
    int rc = SL_OK;
    for (int64_t i = 0; i < n && !rc; i++) {
        if (!sql_vec_valid(o, i)) {
            rc = put_empty(o);
            continue;
        }
        size_t l1, l2;
        const uint8_t *a1 = (const uint8_t *)ka_str(&a[0], i, &l1);
        const uint8_t *a2 = (const uint8_t *)ka_str(&a[1], i, &l2);
        uint32_t cnt = sql_textarr_count(a1, l1) + sql_textarr_count(a2, l2);
        dbuf_reset(&b);
        rc = dbuf_append(&b, &cnt, 4);
        if (!rc && l1 > 4)
            rc = dbuf_append(&b, a1 + 4, l1 - 4);
        if (!rc && l2 > 4)
            rc = dbuf_append(&b, a2 + 4, l2 - 4);
        if (!rc)
            rc = put(o, (const char *)b.p, b.len);
    }
    dbuf_free(&b);
    return rc;
}

/* ---- set-returning (FN_SRF: one row in, its results appended) ------------ */

/* unnest(arr): the elements (of int2[], numbers). */
KERNEL(unnest_srf)
{
    (void)cx;
    (void)n;
    bool ints = e->type.id == ST_INT2;
    size_t l;
    const uint8_t *arr = (const uint8_t *)ka_str(&a[0], 0, &l);
    uint32_t cnt = sql_textarr_count(arr, l);
    int rc = SL_OK;
    for (uint32_t k = 0; k < cnt && !rc; k++) {
        const uint8_t *el;
        uint32_t en;
        int32_t v;
        if (ints)
            rc = sql_int2arr_get(arr, l, k, &v) ? col_vec_append_i32(&o->v, v)
                                                : col_vec_append_null(&o->v);
        else
            rc = sql_textarr_get(arr, l, k, &el, &en) ? col_vec_append_str(&o->v, el, en)
                                                      : col_vec_append_null(&o->v);
    }
    return rc;
}

/* generate_subscripts(arr, dim): 1 .. the length of the one dimension. */
KERNEL(generate_subscripts_srf)
{
    (void)cx;
    (void)e;
    (void)n;
    size_t l;
    const uint8_t *arr = (const uint8_t *)ka_str(&a[0], 0, &l);
    uint32_t cnt = ka_int(&a[1], 0) == 1 ? sql_textarr_count(arr, l) : 0;
    int rc = SL_OK;
    for (uint32_t k = 1; k <= cnt && !rc; k++)
        rc = col_vec_append_i32(&o->v, (int32_t)k);
    return rc;
}

/* array_lower(arr, dim): 1 for the one dimension of a non-empty array, else NULL. */
KERNEL(array_lower)
{
    (void)cx;
    (void)e;
    for (int64_t i = 0; i < n; i++) {
        if (ka_null(a, 2, i))
            continue;
        size_t l;
        const uint8_t *arr = (const uint8_t *)ka_str(&a[0], i, &l);
        if (sql_textarr_count(arr, l) && ka_int(&a[1], i) == 1) {
            ko_i32(o, i, 1);
            continue;
        }
        int rc = ko_null(o, i);
        if (rc)
            return rc;
    }
    return SL_OK;
}

KERNEL(array_length)
{
    (void)cx;
    (void)e;
    for (int64_t i = 0; i < n; i++) {
        if (ka_null(a, e->nargs, i))
            continue;
        size_t l;
        const uint8_t *arr = (const uint8_t *)ka_str(&a[0], i, &l);
        uint32_t c = sql_textarr_count(arr, l);
        bool dim_ok = e->nargs < 2 || ka_int(&a[1], i) == 1;
        if (!c || !dim_ok) {
            int rc = ko_null(o, i);
            if (rc)
                return rc;
            continue;
        }
        ko_i32(o, i, (int32_t)c);
    }
    return SL_OK;
}

KERNEL(cardinality)
{
    (void)cx;
    (void)e;
    for (int64_t i = 0; i < n; i++) {
        size_t l;
        const uint8_t *arr = (const uint8_t *)ka_str(&a[0], i, &l);
        ko_i32(o, i, (int32_t)sql_textarr_count(arr, l));
    }
    return SL_OK;
}

KERNEL(array_to_string)
{
    (void)cx;
    (void)e;
    dbuf b;
    dbuf_init(&b, (size_t)1 << 30);
    int rc = SL_OK;
    for (int64_t i = 0; i < n && !rc; i++) {
        size_t l, dl;
        const uint8_t *arr = (const uint8_t *)ka_str(&a[0], i, &l);
        const char *d = ka_str(&a[1], i, &dl);
        dbuf_reset(&b);
        uint32_t c = sql_textarr_count(arr, l);
        int first = 1;
        for (uint32_t k = 0; k < c && !rc; k++) {
            const uint8_t *el;
            uint32_t el_n;
            if (!sql_textarr_get(arr, l, k, &el, &el_n))
                continue;
            if (!first)
                rc = dbuf_append(&b, d, dl);
            first = 0;
            if (!rc)
                rc = dbuf_append(&b, el, el_n);
        }
        if (!rc)
            rc = put(o, b.p ? (const char *)b.p : "", b.len);
    }
    dbuf_free(&b);
    return rc;
}

KERNEL(string_to_array)
{
    (void)cx;
    (void)e;
    dbuf b;
    dbuf_init(&b, (size_t)1 << 30);
    int rc = SL_OK;
    for (int64_t i = 0; i < n && !rc; i++) {
        size_t l, dl;
        const char *s = ka_str(&a[0], i, &l), *d = ka_str(&a[1], i, &dl);
        dbuf_reset(&b);
        uint32_t cnt = 0;
        rc = dbuf_append(&b, &cnt, 4);
        size_t p = 0;
        while (!rc && l && p <= l) {
            const char *m = dl ? memmem(s + p, l - p, d, dl) : NULL;
            size_t end = m ? (size_t)(m - s) : l;
            uint32_t el = (uint32_t)(end - p);
            rc = dbuf_append(&b, &el, 4);
            if (!rc)
                rc = dbuf_append(&b, s + p, el);
            cnt++;
            if (!m)
                break;
            p = end + dl;
        }
        if (!rc) {
            memcpy(b.p, &cnt, 4);
            rc = col_vec_append_str(&o->v, b.p, b.len);
        }
    }
    dbuf_free(&b);
    return rc;
}

#define T ST_TEXT
#define I ST_INT4
static const sql_func g_string[] = {
    {"||", 2, {T, T}, T, 0, textcat, NULL},
    {"concat", 1, {T}, T, FN_NONSTRICT | FN_VARIADIC, concat, NULL},
    {"concat_ws", 2, {T, T}, T, FN_NONSTRICT | FN_VARIADIC, concat, NULL},
    {"length", 1, {T}, I, 0, length_chars, NULL},
    {"char_length", 1, {T}, I, 0, length_chars, NULL},
    {"character_length", 1, {T}, I, 0, length_chars, NULL},
    {"octet_length", 1, {T}, I, 0, octet_length, NULL},
    {"length", 1, {ST_BYTEA}, I, 0, octet_length, NULL},
    {"octet_length", 1, {ST_BYTEA}, I, 0, octet_length, NULL},
    {"lower", 1, {T}, T, 0, lower, NULL},
    {"upper", 1, {T}, T, 0, upper, NULL},
    {"initcap", 1, {T}, T, 0, initcap, NULL},
    {"substr", 2, {T, I}, T, 0, substr, NULL},
    {"substr", 3, {T, I, I}, T, 0, substr, NULL},
    {"substring", 2, {T, I}, T, 0, substr, NULL},
    {"substring", 3, {T, I, I}, T, 0, substr, NULL},
    {"strpos", 2, {T, T}, I, 0, strpos, NULL},
    {"replace", 3, {T, T, T}, T, 0, replace, NULL},
    {"btrim", 1, {T}, T, 0, btrim, NULL},
    {"btrim", 2, {T, T}, T, 0, btrim, NULL},
    {"ltrim", 1, {T}, T, 0, ltrim, NULL},
    {"ltrim", 2, {T, T}, T, 0, ltrim, NULL},
    {"rtrim", 1, {T}, T, 0, rtrim, NULL},
    {"rtrim", 2, {T, T}, T, 0, rtrim, NULL},
    {"left", 2, {T, I}, T, 0, left, NULL},
    {"right", 2, {T, I}, T, 0, right, NULL},
    {"lpad", 2, {T, I}, T, 0, lpad, NULL},
    {"lpad", 3, {T, I, T}, T, 0, lpad, NULL},
    {"rpad", 2, {T, I}, T, 0, rpad, NULL},
    {"rpad", 3, {T, I, T}, T, 0, rpad, NULL},
    {"repeat", 2, {T, I}, T, 0, repeat, NULL},
    {"reverse", 1, {T}, T, 0, reverse, NULL},
    {"split_part", 3, {T, T, I}, T, 0, split_part, NULL},
    {"starts_with", 2, {T, T}, ST_BOOL, 0, starts_with, NULL},
    {"ascii", 1, {T}, I, 0, ascii, NULL},
    {"md5", 1, {T}, T, 0, md5, NULL},
    {"encode", 2, {ST_BYTEA, T}, T, 0, encode, NULL},
    {"decode", 2, {T, T}, ST_BYTEA, 0, decode, NULL},
    {"~~", 2, {T, T}, ST_BOOL, 0, like_k, NULL},
    {"!~~", 2, {T, T}, ST_BOOL, 0, notlike_k, NULL},
    {"~~*", 2, {T, T}, ST_BOOL, 0, ilike_k, NULL},
    {"!~~*", 2, {T, T}, ST_BOOL, 0, notilike_k, NULL},
    {"= any", 2, {T, ST_TEXTARR}, ST_BOOL, 0, any_eq_textarr, NULL},
    {"array_length", 2, {ST_TEXTARR, I}, I, 0, array_length, NULL},
    {"cardinality", 1, {ST_TEXTARR}, I, 0, cardinality, NULL},
    {"array_element", 2, {ST_TEXTARR, I}, T, 0, array_element, NULL},
    {"array_to_string", 2, {ST_TEXTARR, T}, T, 0, array_to_string, NULL},
    {"string_to_array", 2, {T, T}, ST_TEXTARR, 0, string_to_array, NULL},
    {"||", 2, {ST_TEXTARR, ST_TEXTARR}, ST_TEXTARR, 0, array_cat, NULL},
    {"array_cat", 2, {ST_TEXTARR, ST_TEXTARR}, ST_TEXTARR, 0, array_cat, NULL},
    /* arrays have one dimension and start at 1: array_upper is array_length */
    {"array_upper", 2, {ST_TEXTARR, I}, I, 0, array_length, NULL},
    {"array_lower", 2, {ST_TEXTARR, I}, I, 0, array_lower, NULL},
    /* int2[] keeps text[]'s encoding (decimal elements): the same kernels */
    {"array_length", 2, {ST_INT2ARR, I}, I, 0, array_length, NULL},
    {"array_upper", 2, {ST_INT2ARR, I}, I, 0, array_length, NULL},
    {"array_lower", 2, {ST_INT2ARR, I}, I, 0, array_lower, NULL},
    {"cardinality", 1, {ST_INT2ARR}, I, 0, cardinality, NULL},
    {"array_element", 2, {ST_INT2ARR, I}, ST_INT2, 0, array_element, NULL},
    {"array_to_string", 2, {ST_INT2ARR, T}, T, 0, array_to_string, NULL},
    {"unnest", 1, {ST_TEXTARR}, T, FN_SRF, unnest_srf, NULL},
    {"unnest", 1, {ST_INT2ARR}, ST_INT2, FN_SRF, unnest_srf, NULL},
    {"generate_subscripts", 2, {ST_TEXTARR, I}, I, FN_SRF, generate_subscripts_srf, NULL},
    {"generate_subscripts", 2, {ST_INT2ARR, I}, I, FN_SRF, generate_subscripts_srf, NULL},
};
#undef T
#undef I

sql_func_table sql_funcs_string(void)
{
    return (sql_func_table){g_string, sizeof g_string / sizeof g_string[0]};
}
