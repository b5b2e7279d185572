/*
 * value.c - datums, and values in and out of text (see value.h).
 */
#include "sql/types/value.h"

#include "base/err.h"
#include "base/hash.h"
#include "base/numtext.h"
#include "sql/types/jsonb.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- vectors ------------------------------------------------------------ */

sql_datum sql_datum_get(sql_type t, const col_vec *v, int64_t r)
{
    sql_datum d;
    memset(&d, 0, sizeof d);
    if (!col_vec_is_valid(v, r)) {
        d.null = true;
        return d;
    }
    switch (v->type) {
    case COL_BOOL:
        d.b = col_vec_bool(v, r);
        break;
    case COL_INT32:
    case COL_UINT32:
        d.i = col_vec_i32(v, r);
        break;
    case COL_INT64:
    case COL_UINT64:
    case COL_TS_NS:
        d.i = col_vec_i64(v, r);
        break;
    case COL_DOUBLE:
        d.f = col_vec_f64(v, r);
        break;
    case COL_FIXED16:
        if (t.id == ST_INTERVAL)
            memcpy(&d.iv, v->values->p + 16 * r, 16);
        else
            memcpy(&d.d, v->values->p + 16 * r, 16);
        break;
    case COL_STRING:
    case COL_BINARY:
    case COL_DICT: {
        size_t n;
        d.s.p = col_vec_str(v, r, &n);
        d.s.n = (uint32_t)n;
        break;
    }
    }
    return d;
}

int sql_datum_append(sql_type t, const sql_datum *d, col_vec *v)
{
    if (d->null)
        return col_vec_append_null(v);
    switch (v->type) {
    case COL_BOOL:
        return col_vec_append_bool(v, d->b);
    case COL_INT32:
        return col_vec_append_i32(v, (int32_t)d->i);
    case COL_UINT32:
        return col_vec_append_u32(v, (uint32_t)d->i);
    case COL_INT64:
    case COL_TS_NS:
        return col_vec_append_i64(v, d->i);
    case COL_UINT64:
        return col_vec_append_u64(v, (uint64_t)d->i);
    case COL_DOUBLE:
        return col_vec_append_f64(v, d->f);
    case COL_FIXED16:
        return col_vec_append_fixed16(v, t.id == ST_INTERVAL ? (const void *)&d->iv
                                                            : (const void *)&d->d);
    case COL_STRING:
    case COL_BINARY:
        return col_vec_append_str(v, d->s.p, d->s.n);
    case COL_DICT:
        return SL_EINVAL; /* dictionaries are built by their producers */
    }
    return SL_EINVAL;
}

/* ---- floats ------------------------------------------------------------- */

int sql_float_text(double v, bool is_float4, char *buf, size_t n)
{
    if (v != v)
        return snprintf(buf, n, "NaN");
    if (isinf(v))
        return snprintf(buf, n, v > 0 ? "Infinity" : "-Infinity");
    if (v == 0)
        return snprintf(buf, n, signbit(v) ? "-0" : "0");
    /* The fewest significant digits that read back as the same value. */
    char e[40];
    int p = 1, maxp = is_float4 ? 9 : 17;
    for (; p <= maxp; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, v);
        if (is_float4 ? (float)strtod(e, NULL) == (float)v : strtod(e, NULL) == v)
            break;
    }
    if (p > maxp)
        p = maxp;
    /* e is "[-]d[.ddd]e[+-]xx": split it into digits and a decimal exponent. */
    char digs[24];
    int nd = 0, neg = e[0] == '-';
    const char *q = e + neg;
    for (; *q && *q != 'e'; q++)
        if (isdigit((unsigned char)*q))
            digs[nd++] = *q;
    int exp10 = atoi(q + 1);
    while (nd > 1 && digs[nd - 1] == '0')
        nd--;
    /* PostgreSQL (ryu) switches to exponent form below 1e-4 and from 1e15 (1e6 for float4). */
    int hi = is_float4 ? 6 : 15;
    int o = 0;
    if (neg)
        buf[o++] = '-';
    if (exp10 < -4 || exp10 >= hi) {
        buf[o++] = digs[0];
        if (nd > 1) {
            buf[o++] = '.';
            for (int i = 1; i < nd; i++)
                buf[o++] = digs[i];
        }
        o += snprintf(buf + o, n - (size_t)o, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
        return o;
    }
    if (exp10 < 0) {
        buf[o++] = '0';
        buf[o++] = '.';
        for (int i = -1; i > exp10; i--)
            buf[o++] = '0';
        for (int i = 0; i < nd; i++)
            buf[o++] = digs[i];
    } else {
        for (int i = 0; i <= exp10 || i < nd; i++) {
            if (i == exp10 + 1)
                buf[o++] = '.';
            buf[o++] = i < nd ? digs[i] : '0';
        }
    }
    buf[o] = 0;
    return o;
}

/* ---- text arrays -------------------------------------------------------- */

uint32_t sql_textarr_count(const uint8_t *p, size_t n)
{
    uint32_t c;
    if (n < 4)
        return 0;
    memcpy(&c, p, 4);
    return c;
}

int sql_textarr_get(const uint8_t *p, size_t n, uint32_t i, const uint8_t **e, uint32_t *en)
{
    uint32_t c = sql_textarr_count(p, n);
    size_t off = 4;
    for (uint32_t k = 0; k < c && off + 4 <= n; k++) {
        uint32_t l;
        memcpy(&l, p + off, 4);
        off += 4;
        if (k == i) {
            if (l == UINT32_MAX)
                return 0;
            *e = p + off;
            *en = l;
            return 1;
        }
        if (l != UINT32_MAX)
            off += l;
    }
    return 0;
}

int sql_textarr_find(const uint8_t *p, size_t n, const void *x, size_t xn)
{
    uint32_t c = sql_textarr_count(p, n);
    int nulls = 0;
    for (uint32_t k = 0; k < c; k++) {
        const uint8_t *e;
        uint32_t en;
        if (!sql_textarr_get(p, n, k, &e, &en))
            nulls = 1;
        else if (en == xn && (!xn || !memcmp(e, x, xn)))
            return 1;
    }
    return nulls ? 2 : 0;
}

int sql_int2arr_get(const uint8_t *p, size_t n, uint32_t i, int32_t *v)
{
    const uint8_t *e;
    uint32_t en;
    char num[8];
    if (!sql_textarr_get(p, n, i, &e, &en) || en >= sizeof num)
        return 0;
    memcpy(num, e, en);
    num[en] = 0;
    *v = (int32_t)strtol(num, NULL, 10);
    return 1;
}

static int put_u32(dbuf *b, uint32_t v)
{
    return dbuf_append(b, &v, 4);
}

int sql_textarr_parse(const char *s, size_t n, dbuf *out)
{
    size_t i = 0;
    while (i < n && isspace((unsigned char)s[i]))
        i++;
    if (i >= n || s[i] != '{')
        return -1;
    i++;
    size_t count_at = out->len;
    int rc = put_u32(out, 0);
    uint32_t count = 0;
    dbuf el;
    dbuf_init(&el, n + 1);
    while (!rc) {
        while (i < n && isspace((unsigned char)s[i]))
            i++;
        if (i < n && s[i] == '}' && count == 0) {
            i++;
            break;
        }
        dbuf_reset(&el);
        int quoted = 0, isnull = 0;
        if (i < n && s[i] == '"') {
            quoted = 1;
            i++;
            while (i < n && s[i] != '"') {
                if (s[i] == '\\' && i + 1 < n)
                    i++;
                rc = dbuf_append_byte(&el, (uint8_t)s[i++]);
            }
            if (i >= n) {
                rc = -1;
                break;
            }
            i++;
        } else {
            while (i < n && s[i] != ',' && s[i] != '}') {
                if (s[i] == '{' || s[i] == '"') {
                    rc = -1;
                    break;
                }
                if (s[i] == '\\' && i + 1 < n)
                    i++;
                rc = dbuf_append_byte(&el, (uint8_t)s[i++]);
            }
            /* unquoted: trailing spaces go; NULL means null */
            while (el.len && isspace(el.p[el.len - 1]))
                el.len--;
            if (el.len == 4 && !strncasecmp((const char *)el.p, "null", 4))
                isnull = 1;
            if (!el.len)
                rc = -1;
        }
        (void)quoted;
        if (rc)
            break;
        if (isnull)
            rc = put_u32(out, UINT32_MAX);
        else if (!(rc = put_u32(out, (uint32_t)el.len)))
            rc = dbuf_append(out, el.p, el.len);
        count++;
        while (i < n && isspace((unsigned char)s[i]))
            i++;
        if (i < n && s[i] == ',') {
            i++;
            continue;
        }
        if (i < n && s[i] == '}') {
            i++;
            break;
        }
        rc = -1;
    }
    dbuf_free(&el);
    while (!rc && i < n && isspace((unsigned char)s[i]))
        i++;
    if (!rc && i != n)
        rc = -1;
    if (!rc)
        memcpy(out->p + count_at, &count, 4);
    return rc ? -1 : 0;
}

int sql_textarr_text(const uint8_t *p, size_t n, dbuf *b)
{
    uint32_t c = sql_textarr_count(p, n);
    int rc = dbuf_append_byte(b, '{');
    size_t off = 4;
    for (uint32_t k = 0; k < c && !rc && off + 4 <= n; k++) {
        uint32_t l;
        memcpy(&l, p + off, 4);
        off += 4;
        if (k)
            rc = dbuf_append_byte(b, ',');
        if (l == UINT32_MAX) {
            rc = rc ? rc : dbuf_append_str(b, "NULL");
            continue;
        }
        const uint8_t *e = p + off;
        off += l;
        int quote = l == 0 || (l == 4 && !strncasecmp((const char *)e, "null", 4));
        for (uint32_t j = 0; j < l && !quote; j++)
            quote = strchr("{},\"\\", e[j]) != NULL || isspace(e[j]);
        if (!quote) {
            rc = rc ? rc : dbuf_append(b, e, l);
            continue;
        }
        rc = rc ? rc : dbuf_append_byte(b, '"');
        for (uint32_t j = 0; j < l && !rc; j++) {
            if (e[j] == '"' || e[j] == '\\')
                rc = dbuf_append_byte(b, '\\');
            if (!rc)
                rc = dbuf_append_byte(b, e[j]);
        }
        rc = rc ? rc : dbuf_append_byte(b, '"');
    }
    return rc ? rc : dbuf_append_byte(b, '}');
}

/* ---- uuid --------------------------------------------------------------- */

int sql_uuid_canon(const char *s, size_t n, char out[37])
{
    size_t i = 0, end = n;
    if (n && s[0] == '{') {
        if (s[n - 1] != '}')
            return -1;
        i = 1;
        end = n - 1;
    }
    int nh = 0, o = 0;
    for (; i < end; i++) {
        char c = s[i];
        if (c == '-' && nh % 4 == 0 && nh > 0 && nh < 32)
            continue;
        if (!isxdigit((unsigned char)c) || nh == 32)
            return -1;
        if (nh == 8 || nh == 12 || nh == 16 || nh == 20)
            out[o++] = '-';
        out[o++] = (char)tolower((unsigned char)c);
        nh++;
    }
    if (nh != 32)
        return -1;
    out[o] = 0;
    return 0;
}

/* ---- text out ----------------------------------------------------------- */

int sql_datum_text(sql_type t, const sql_datum *d, dbuf *b)
{
    if (d->null)
        return 0;
    char buf[64];
    switch ((sql_tid)t.id) {
    case ST_BOOL:
        return dbuf_append_byte(b, d->b ? 't' : 'f');
    case ST_INT2:
    case ST_INT4:
    case ST_INT8:
    case ST_OID:
        return dbuf_append(b, buf, (size_t)sl_i64_text(d->i, buf));
    case ST_FLOAT4:
    case ST_FLOAT8: {
        int n = sql_float_text(d->f, t.id == ST_FLOAT4, buf, sizeof buf);
        return dbuf_append(b, buf, (size_t)n);
    }
    case ST_NUMERIC:
        return dec_format(d->d, b);
    case ST_DATE:
        return dt_format_date((int32_t)d->i, b);
    case ST_TIMESTAMP:
    case ST_TIMESTAMPTZ:
        return dt_format_timestamp(d->i, t.id == ST_TIMESTAMPTZ, b);
    case ST_INTERVAL:
        return dt_format_interval(&d->iv, b);
    case ST_BYTEA: {
        static const char hex[] = "0123456789abcdef";
        int rc = dbuf_append_str(b, "\\x");
        for (uint32_t i = 0; i < d->s.n && !rc; i++) {
            char h[2] = {hex[d->s.p[i] >> 4], hex[d->s.p[i] & 15]};
            rc = dbuf_append(b, h, 2);
        }
        return rc;
    }
    case ST_TEXTARR:
    case ST_INT2ARR:
        return sql_textarr_text(d->s.p, d->s.n, b);
    case ST_NULL:
    case ST_TEXT:
    case ST_VARCHAR:
    case ST_UNKNOWN:
    case ST_UUID:
    case ST_JSONB:
    case ST_COUNT:
        return dbuf_append(b, d->s.p, d->s.n);
    }
    return 0;
}

int sql_vec_text(sql_type t, const col_vec *v, int64_t r, dbuf *b)
{
    /* the commonest columns of a result without the general datum (DataRows, COPY) */
    if ((t.id == ST_INT8 || t.id == ST_INT4 || t.id == ST_INT2) &&
        (v->type == COL_INT64 || v->type == COL_INT32) && col_vec_is_valid(v, r)) {
        char num[SL_I64_TEXT_MAX];
        int64_t x = v->type == COL_INT64 ? col_vec_i64(v, r) : col_vec_i32(v, r);
        return dbuf_append(b, num, (size_t)sl_i64_text(x, num));
    }
    if (!col_vec_is_valid(v, r))
        return 0;
    if ((t.id == ST_TIMESTAMP || t.id == ST_TIMESTAMPTZ) &&
        (v->type == COL_INT64 || v->type == COL_TS_NS))
        return dt_format_timestamp(col_vec_i64(v, r), t.id == ST_TIMESTAMPTZ, b);
    if ((t.id == ST_TEXT || t.id == ST_VARCHAR) && v->type == COL_STRING) {
        size_t n;
        const uint8_t *s = col_vec_str(v, r, &n);
        return dbuf_append(b, s, n);
    }
    sql_datum d = sql_datum_get(t, v, r);
    return sql_datum_text(t, &d, b);
}

/* ---- text in ------------------------------------------------------------ */

static const char *trim(const char *s, size_t *n)
{
    while (*n && isspace((unsigned char)*s)) {
        s++;
        (*n)--;
    }
    while (*n && isspace((unsigned char)s[*n - 1]))
        (*n)--;
    return s;
}

static int parse_int(const char *s, size_t n, int64_t lo, int64_t hi, int64_t *out,
                     const char **state)
{
    if (n && (isspace((unsigned char)s[0]) || isspace((unsigned char)s[n - 1])))
        s = trim(s, &n);
    /* the common case without strtoll: an optional sign and at most 18 digits
     * (no overflow), the same value strtoll gives */
    size_t i = n && (s[0] == '-' || s[0] == '+');
    if (n > i && n - i <= 18) {
        int64_t v = 0;
        size_t k = i;
        for (; k < n && s[k] >= '0' && s[k] <= '9'; k++)
            v = v * 10 + (s[k] - '0');
        if (k == n) {
            v = s[0] == '-' ? -v : v;
            if (v < lo || v > hi) {
                *state = "22003";
                return -1;
            }
            *out = v;
            return 0;
        }
    }
    char t[32];
    if (n == 0 || n >= sizeof t) {
        *state = n >= sizeof t ? "22003" : "22P02";
        return -1;
    }
    memcpy(t, s, n);
    t[n] = 0;
    char *e;
    errno = 0;
    long long v = strtoll(t, &e, 10);
    if (*e || e == t || !(isdigit((unsigned char)t[0]) || t[0] == '-' || t[0] == '+')) {
        *state = "22P02";
        return -1;
    }
    if (errno == ERANGE || v < lo || v > hi) {
        *state = "22003";
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_float(const char *s, size_t n, bool f4, double *out, const char **state)
{
    s = trim(s, &n);
    char t[128];
    if (n == 0 || n >= sizeof t) {
        *state = "22P02";
        return -1;
    }
    memcpy(t, s, n);
    t[n] = 0;
    if (!strcasecmp(t, "nan")) {
        *out = NAN;
        return 0;
    }
    if (!strcasecmp(t, "infinity") || !strcasecmp(t, "+infinity") || !strcasecmp(t, "inf")) {
        *out = INFINITY;
        return 0;
    }
    if (!strcasecmp(t, "-infinity") || !strcasecmp(t, "-inf")) {
        *out = -INFINITY;
        return 0;
    }
    char *e;
    errno = 0;
    double v = strtod(t, &e);
    if (*e || e == t || isalpha((unsigned char)t[0]) ||
        (t[0] && strchr("+-", t[0]) && isalpha((unsigned char)t[1]))) {
        *state = "22P02";
        return -1;
    }
    if ((errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL)) || (f4 && fabs(v) > FLT_MAX)) {
        *state = "22003";
        return -1;
    }
    if (errno == ERANGE && v != 0 && fabs(v) < DBL_MIN) {
        *state = "22003";
        return -1;
    }
    *out = f4 ? (double)(float)v : v;
    return 0;
}

static int parse_bool(const char *s, size_t n, bool *out)
{
    s = trim(s, &n);
    static const struct {
        const char *w;
        bool v;
    } words[] = {{"t", 1}, {"true", 1}, {"yes", 1}, {"y", 1}, {"on", 1}, {"1", 1},
                 {"f", 0}, {"false", 0}, {"no", 0}, {"n", 0}, {"off", 0}, {"0", 0}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t l = strlen(words[i].w);
        /* unique prefixes count too: 'tr', 'fal' */
        if (n && n <= l && !strncasecmp(s, words[i].w, n) &&
            !(n == 1 && (s[0] == 'o' || s[0] == 'O'))) {
            *out = words[i].v;
            return 0;
        }
    }
    return -1;
}

/* Out of memory while parsing, told apart from text that is not a value (-1). */
#define PARSE_OOM (-100)

static int copy_str(arena *a, const char *s, size_t n, sql_datum *out)
{
    char *p = arena_strndup(a, s, n);
    if (!p)
        return PARSE_OOM;
    out->s.p = (const uint8_t *)p;
    out->s.n = (uint32_t)n;
    return 0;
}

static int hexv(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static int parse_bytea(const char *s, size_t n, arena *a, sql_datum *out)
{
    if (n >= 2 && s[0] == '\\' && s[1] == 'x') {
        uint8_t *p = arena_alloc(a, n / 2 + 1);
        if (!p)
            return PARSE_OOM;
        size_t o = 0;
        for (size_t i = 2; i < n;) {
            if (isspace((unsigned char)s[i])) {
                i++;
                continue;
            }
            int h = hexv(s[i]), l = i + 1 < n ? hexv(s[i + 1]) : -1;
            if (h < 0 || l < 0)
                return -1;
            p[o++] = (uint8_t)(h << 4 | l);
            i += 2;
        }
        out->s.p = p;
        out->s.n = (uint32_t)o;
        return 0;
    }
    /* escape format: backslash escapes \\ and \ooo */
    uint8_t *p = arena_alloc(a, n + 1);
    if (!p)
        return PARSE_OOM;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] != '\\') {
            p[o++] = (uint8_t)s[i++];
        } else if (i + 1 < n && s[i + 1] == '\\') {
            p[o++] = '\\';
            i += 2;
        } else if (i + 3 < n + 0 && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
                   s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
            p[o++] = (uint8_t)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 4;
        } else {
            return -1;
        }
    }
    out->s.p = p;
    out->s.n = (uint32_t)o;
    return 0;
}

/* int2[]: the parsed elements of b (sql_textarr_parse) each read as int2 and
 * rewritten in their canonical decimal text, so that equal arrays have equal
 * bytes; -1 with *state set for an element that is not an int2. */
static int int2arr_canon(dbuf *b, const char **state)
{
    uint32_t n = sql_textarr_count(b->p, b->len);
    dbuf out;
    dbuf_init(&out, b->max);
    int rc = put_u32(&out, n);
    for (uint32_t k = 0; k < n && !rc; k++) {
        const uint8_t *e;
        uint32_t en;
        if (!sql_textarr_get(b->p, b->len, k, &e, &en)) {
            rc = put_u32(&out, UINT32_MAX);
            continue;
        }
        int64_t v;
        char num[8];
        if (parse_int((const char *)e, en, INT16_MIN, INT16_MAX, &v, state)) {
            rc = -1;
            break;
        }
        int l = snprintf(num, sizeof num, "%d", (int)v);
        if (!(rc = put_u32(&out, (uint32_t)l)))
            rc = dbuf_append(&out, num, (size_t)l);
    }
    if (!rc) {
        dbuf_free(b);
        *b = out;
    } else {
        dbuf_free(&out);
    }
    return rc ? -1 : 0;
}

int sql_datum_parse(sql_type t, const char *s, size_t n, arena *a, sql_datum *out,
                    const char **state)
{
    memset(out, 0, sizeof *out);
    *state = "22P02";
    int rc = -1;
    switch ((sql_tid)t.id) {
    case ST_BOOL:
        rc = parse_bool(s, n, &out->b);
        break;
    case ST_INT2:
        rc = parse_int(s, n, INT16_MIN, INT16_MAX, &out->i, state);
        break;
    case ST_INT4:
        rc = parse_int(s, n, INT32_MIN, INT32_MAX, &out->i, state);
        break;
    case ST_INT8:
        rc = parse_int(s, n, INT64_MIN, INT64_MAX, &out->i, state);
        break;
    case ST_OID:
        rc = parse_int(s, n, 0, UINT32_MAX, &out->i, state);
        break;
    case ST_FLOAT4:
    case ST_FLOAT8:
        rc = parse_float(s, n, t.id == ST_FLOAT4, &out->f, state);
        break;
    case ST_NUMERIC: {
        int r = dec_parse(s, n, &out->d);
        if (!r && t.mod >= 4)
            r = dec_apply_typmod(out->d, sql_numeric_precision(t), sql_numeric_scale(t), &out->d);
        if (r == DEC_OVERFLOW)
            *state = "22003";
        rc = r ? -1 : 0;
        break;
    }
    case ST_DATE: {
        int32_t days;
        *state = "22007";
        rc = dt_parse_date(s, n, &days);
        out->i = days;
        break;
    }
    case ST_TIMESTAMP:
    case ST_TIMESTAMPTZ:
        *state = "22007";
        rc = dt_parse_timestamp(s, n, t.id == ST_TIMESTAMPTZ, &out->i);
        break;
    case ST_INTERVAL:
        *state = "22007";
        rc = dt_parse_interval(s, n, &out->iv);
        break;
    case ST_BYTEA:
        rc = parse_bytea(s, n, a, out);
        break;
    case ST_UUID: {
        char c[37];
        const char *ts = trim(s, &n);
        rc = sql_uuid_canon(ts, n, c);
        if (!rc)
            rc = copy_str(a, c, 36, out);
        break;
    }
    case ST_JSONB: {
        dbuf b;
        dbuf_init(&b, (size_t)1 << 30);
        rc = sql_jsonb_canon(s, n, &b);
        if (!rc)
            rc = copy_str(a, (const char *)b.p, b.len, out);
        dbuf_free(&b);
        break;
    }
    case ST_TEXTARR:
    case ST_INT2ARR: {
        dbuf b;
        dbuf_init(&b, (size_t)1 << 30);
        rc = sql_textarr_parse(s, n, &b);
        if (!rc && t.id == ST_INT2ARR)
            rc = int2arr_canon(&b, state);
        if (!rc) {
            uint8_t *p = arena_alloc(a, b.len ? b.len : 1);
            if (!p) {
                rc = PARSE_OOM;
            } else {
                memcpy(p, b.p, b.len);
                out->s.p = p;
                out->s.n = (uint32_t)b.len;
            }
        }
        dbuf_free(&b);
        break;
    }
    case ST_VARCHAR:
        if (t.mod >= 4 && n > (size_t)(t.mod - 4)) {
            /* PostgreSQL cuts trailing spaces to fit, else refuses */
            size_t k = n;
            while (k > (size_t)(t.mod - 4) && s[k - 1] == ' ')
                k--;
            if (k > (size_t)(t.mod - 4)) {
                *state = "22001";
                return -1;
            }
            n = k;
        }
        rc = copy_str(a, s, n, out);
        break;
    case ST_NULL:
    case ST_TEXT:
    case ST_UNKNOWN:
    case ST_COUNT:
        rc = copy_str(a, s, n, out);
        break;
    }
    if (rc == PARSE_OOM)
        *state = "53200";
    return rc ? -1 : 0;
}

/* ---- comparison and hashing --------------------------------------------- */

static int cmp_bytes(const uint8_t *a, uint32_t an, const uint8_t *b, uint32_t bn)
{
    int c = an && bn ? memcmp(a, b, an < bn ? an : bn) : 0;
    if (c)
        return c < 0 ? -1 : 1;
    return an < bn ? -1 : an > bn;
}

int sql_datum_cmp(sql_type t, const sql_datum *a, const sql_datum *b)
{
    switch (sql_type_phys(t)) {
    case COL_BOOL:
        return (int)a->b - (int)b->b;
    case COL_INT32:
    case COL_UINT32:
    case COL_INT64:
    case COL_UINT64:
    case COL_TS_NS:
        return a->i < b->i ? -1 : a->i > b->i;
    case COL_DOUBLE: {
        /* PostgreSQL orders NaN above every number, and equal to itself */
        bool an = a->f != a->f, bn = b->f != b->f;
        if (an || bn)
            return an && bn ? 0 : an ? 1 : -1;
        return a->f < b->f ? -1 : a->f > b->f;
    }
    case COL_FIXED16:
        return t.id == ST_INTERVAL ? dt_interval_cmp(&a->iv, &b->iv) : dec_cmp(a->d, b->d);
    case COL_STRING:
    case COL_BINARY:
    case COL_DICT:
        return cmp_bytes(a->s.p, a->s.n, b->s.p, b->s.n);
    }
    return 0;
}

uint64_t sql_datum_hash(sql_type t, const sql_datum *d)
{
    switch (sql_type_phys(t)) {
    case COL_BOOL:
        return hash_u64(d->b);
    case COL_INT32:
    case COL_UINT32:
    case COL_INT64:
    case COL_UINT64:
    case COL_TS_NS:
        return hash_u64((uint64_t)d->i);
    case COL_DOUBLE: {
        double f = d->f == 0 ? 0 : d->f; /* -0 = 0 */
        if (f != f)
            return 0x7ff8000000000000ull;
        uint64_t u;
        memcpy(&u, &f, 8);
        return hash_u64(u);
    }
    case COL_FIXED16:
        if (t.id == ST_INTERVAL) {
            __int128 k = dt_interval_key(&d->iv);
            return hash_u64((uint64_t)k ^ hash_u64((uint64_t)(k >> 64)));
        }
        return dec_hash(d->d);
    case COL_STRING:
    case COL_BINARY:
    case COL_DICT:
        return hash64(d->s.p, d->s.n);
    }
    return 0;
}
