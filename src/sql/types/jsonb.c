/*
 * jsonb.c - jsonb as canonical text (see jsonb.h).
 *
 * Canonicalizing is one recursive pass that writes the output as it goes,
 * except for objects, whose members are collected (key unescaped, value in
 * canonical form), sorted and deduplicated before they are written.  The
 * walkers used by the operators only ever see canonical text, so they can
 * skip values by counting brackets outside strings.
 */
#include "sql/types/jsonb.h"

#include "base/alloc.h"
#include "base/err.h"
#include "sql/types/numeric.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef struct jp {
    const char *p, *end;
} jp;

static void ws(jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int c = p[i], d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        v = v * 16 + (unsigned)d;
    }
    *out = v;
    return 0;
}

static int put_utf8(dbuf *o, unsigned cp)
{
    uint8_t b[4];
    int n;
    if (cp < 0x80) {
        b[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (uint8_t)(0xC0 | cp >> 6);
        b[1] = (uint8_t)(0x80 | (cp & 63));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (uint8_t)(0xE0 | cp >> 12);
        b[1] = (uint8_t)(0x80 | ((cp >> 6) & 63));
        b[2] = (uint8_t)(0x80 | (cp & 63));
        n = 3;
    } else {
        b[0] = (uint8_t)(0xF0 | cp >> 18);
        b[1] = (uint8_t)(0x80 | ((cp >> 12) & 63));
        b[2] = (uint8_t)(0x80 | ((cp >> 6) & 63));
        b[3] = (uint8_t)(0x80 | (cp & 63));
        n = 4;
    }
    return dbuf_append(o, b, (size_t)n);
}

/* A JSON string at j->p (on its quote), unescaped into o. */
static int read_string(jp *j, dbuf *o)
{
    if (j->p >= j->end || *j->p != '"')
        return -1;
    j->p++;
    while (j->p < j->end && *j->p != '"') {
        unsigned char c = (unsigned char)*j->p;
        if (c < 0x20)
            return -1;
        if (c != '\\') {
            if (dbuf_append_byte(o, c))
                return -1;
            j->p++;
            continue;
        }
        if (j->end - j->p < 2)
            return -1;
        char e = j->p[1];
        j->p += 2;
        int rc = 0;
        switch (e) {
        case '"': rc = dbuf_append_byte(o, '"'); break;
        case '\\': rc = dbuf_append_byte(o, '\\'); break;
        case '/': rc = dbuf_append_byte(o, '/'); break;
        case 'b': rc = dbuf_append_byte(o, '\b'); break;
        case 'f': rc = dbuf_append_byte(o, '\f'); break;
        case 'n': rc = dbuf_append_byte(o, '\n'); break;
        case 'r': rc = dbuf_append_byte(o, '\r'); break;
        case 't': rc = dbuf_append_byte(o, '\t'); break;
        case 'u': {
            unsigned cp;
            if (j->end - j->p < 4 || hex4(j->p, &cp))
                return -1;
            j->p += 4;
            if (cp >= 0xD800 && cp < 0xDC00) {
                unsigned lo;
                if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' ||
                    hex4(j->p + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                    return -1;
                j->p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return -1;
            }
            if (cp == 0)
                return -1; /* PostgreSQL: \u0000 cannot be converted to text */
            rc = put_utf8(o, cp);
            break;
        }
        default:
            return -1;
        }
        if (rc)
            return -1;
    }
    if (j->p >= j->end)
        return -1;
    j->p++;
    return 0;
}

int sql_json_quote(const char *s, size_t n, dbuf *out)
{
    int rc = dbuf_append_byte(out, '"');
    size_t run = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        rc = dbuf_append(out, s + run, i - run);
        run = i + 1;
        if (rc)
            break;
        switch (c) {
        case '"': rc = dbuf_append_str(out, "\\\""); break;
        case '\\': rc = dbuf_append_str(out, "\\\\"); break;
        case '\b': rc = dbuf_append_str(out, "\\b"); break;
        case '\f': rc = dbuf_append_str(out, "\\f"); break;
        case '\n': rc = dbuf_append_str(out, "\\n"); break;
        case '\r': rc = dbuf_append_str(out, "\\r"); break;
        case '\t': rc = dbuf_append_str(out, "\\t"); break;
        default: rc = dbuf_printf(out, "\\u%04x", c); break;
        }
    }
    if (!rc)
        rc = dbuf_append(out, s + run, n - run);
    return rc ? rc : dbuf_append_byte(out, '"');
}

static int canon(jp *j, dbuf *o, int depth);

typedef struct member {
    size_t key_off, key_len; /* in the keys buffer */
    size_t val_off, val_len; /* in the values buffer */
    size_t seq;
} member;

static const uint8_t *g_sort_keys; /* qsort has no context argument */

static int cmp_member(const void *a, const void *b)
{
    const member *x = a, *y = b;
    if (x->key_len != y->key_len)
        return x->key_len < y->key_len ? -1 : 1;
    int c = memcmp(g_sort_keys + x->key_off, g_sort_keys + y->key_off, x->key_len);
    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq; /* later duplicates last */
}

static int canon_object(jp *j, dbuf *o, int depth)
{
    j->p++;
    dbuf keys, vals;
    dbuf_init(&keys, (size_t)1 << 30);
    dbuf_init(&vals, (size_t)1 << 30);
    member *m = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    ws(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
    } else {
        for (;;) {
            ws(j);
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                member *nm = sl_realloc(m, cap * sizeof *m);
                if (!nm) {
                    rc = -1;
                    break;
                }
                m = nm;
            }
            m[n].key_off = keys.len;
            m[n].seq = n;
            if (read_string(j, &keys)) {
                rc = -1;
                break;
            }
            m[n].key_len = keys.len - m[n].key_off;
            ws(j);
            if (j->p >= j->end || *j->p++ != ':') {
                rc = -1;
                break;
            }
            m[n].val_off = vals.len;
            if (canon(j, &vals, depth + 1)) {
                rc = -1;
                break;
            }
            m[n].val_len = vals.len - m[n].val_off;
            n++;
            ws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == '}') {
                j->p++;
                break;
            }
            rc = -1;
            break;
        }
    }
    if (!rc && n > 1) {
        g_sort_keys = keys.p;
        qsort(m, n, sizeof *m, cmp_member);
    }
    if (!rc)
        rc = dbuf_append_byte(o, '{');
    int first = 1;
    for (size_t i = 0; i < n && !rc; i++) {
        /* of equal keys only the last (highest seq) is kept */
        if (i + 1 < n && m[i].key_len == m[i + 1].key_len &&
            !memcmp(keys.p + m[i].key_off, keys.p + m[i + 1].key_off, m[i].key_len))
            continue;
        if (!first)
            rc = dbuf_append_str(o, ", ");
        first = 0;
        if (!rc)
            rc = sql_json_quote((const char *)keys.p + m[i].key_off, m[i].key_len, o);
        if (!rc)
            rc = dbuf_append_str(o, ": ");
        if (!rc)
            rc = dbuf_append(o, vals.p + m[i].val_off, m[i].val_len);
    }
    if (!rc)
        rc = dbuf_append_byte(o, '}');
    sl_free(m);
    dbuf_free(&keys);
    dbuf_free(&vals);
    return rc ? -1 : 0;
}

static int canon_number(jp *j, dbuf *o)
{
    const char *b = j->p;
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p >= j->end || !isdigit((unsigned char)*j->p))
        return -1;
    if (*j->p == '0')
        j->p++;
    else
        while (j->p < j->end && isdigit((unsigned char)*j->p))
            j->p++;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (j->p >= j->end || !isdigit((unsigned char)*j->p))
            return -1;
        while (j->p < j->end && isdigit((unsigned char)*j->p))
            j->p++;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (j->p >= j->end || !isdigit((unsigned char)*j->p))
            return -1;
        while (j->p < j->end && isdigit((unsigned char)*j->p))
            j->p++;
    }
    sql_dec d;
    if (dec_parse(b, (size_t)(j->p - b), &d) == DEC_OK)
        return dec_format(d, o) ? -1 : 0;
    return dbuf_append(o, b, (size_t)(j->p - b)) ? -1 : 0; /* past 36 digits: as written */
}

static int canon(jp *j, dbuf *o, int depth)
{
    if (depth > JSONB_MAX_DEPTH)
        return -1;
    ws(j);
    if (j->p >= j->end)
        return -1;
    char c = *j->p;
    if (c == '{')
        return canon_object(j, o, depth);
    if (c == '[') {
        j->p++;
        if (dbuf_append_byte(o, '['))
            return -1;
        ws(j);
        if (j->p < j->end && *j->p == ']') {
            j->p++;
            return dbuf_append_byte(o, ']') ? -1 : 0;
        }
        for (int first = 1;; first = 0) {
            if (!first && dbuf_append_str(o, ", "))
                return -1;
            if (canon(j, o, depth + 1))
                return -1;
            ws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == ']') {
                j->p++;
                return dbuf_append_byte(o, ']') ? -1 : 0;
            }
            return -1;
        }
    }
    if (c == '"') {
        dbuf s;
        dbuf_init(&s, (size_t)1 << 30);
        int rc = read_string(j, &s);
        if (!rc)
            rc = sql_json_quote((const char *)s.p, s.len, o) ? -1 : 0;
        dbuf_free(&s);
        return rc;
    }
    static const char *lits[3] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t l = strlen(lits[i]);
        if ((size_t)(j->end - j->p) >= l && !memcmp(j->p, lits[i], l)) {
            j->p += l;
            return dbuf_append(o, lits[i], l) ? -1 : 0;
        }
    }
    return canon_number(j, o);
}

int sql_jsonb_canon(const char *s, size_t n, dbuf *out)
{
    jp j = {s, s + n};
    size_t start = out->len;
    if (canon(&j, out, 0)) {
        out->len = start;
        return -1;
    }
    ws(&j);
    if (j.p != j.end) {
        out->len = start;
        return -1;
    }
    return 0;
}

/* ---- walking canonical text --------------------------------------------- */

/* The end of the value starting at p (canonical text). */
static const char *skip_value(const char *p, const char *end)
{
    if (p >= end)
        return end;
    if (*p == '"') {
        for (p++; p < end && *p != '"'; p++)
            if (*p == '\\')
                p++;
        return p < end ? p + 1 : end;
    }
    if (*p == '{' || *p == '[') {
        int depth = 0;
        for (; p < end; p++) {
            if (*p == '"') {
                p = skip_value(p, end) - 1;
                continue;
            }
            if (*p == '{' || *p == '[')
                depth++;
            else if ((*p == '}' || *p == ']') && --depth == 0)
                return p + 1;
        }
        return end;
    }
    while (p < end && *p != ',' && *p != '}' && *p != ']')
        p++;
    return p;
}

int sql_jsonb_key(const char *s, size_t n, const char *key, size_t kn, const char **v,
                  size_t *vn)
{
    const char *p = s, *end = s + n;
    if (n < 2 || *p != '{')
        return 0;
    p++;
    dbuf k;
    dbuf_init(&k, (size_t)1 << 30);
    int found = 0;
    while (p < end && *p == '"') {
        jp j = {p, end};
        dbuf_reset(&k);
        if (read_string(&j, &k))
            break;
        p = j.p + 2; /* ": " */
        const char *ve = skip_value(p, end);
        if (k.len == kn && !memcmp(k.p, key, kn)) {
            *v = p;
            *vn = (size_t)(ve - p);
            found = 1;
            break;
        }
        p = ve;
        if (p < end && *p == ',')
            p += 2; /* ", " */
        else
            break;
    }
    dbuf_free(&k);
    return found;
}

int sql_jsonb_index(const char *s, size_t n, int64_t i, const char **v, size_t *vn)
{
    if (n < 2 || *s != '[')
        return 0;
    int64_t len = sql_jsonb_array_length(s, n);
    if (i < 0)
        i += len;
    if (i < 0 || i >= len)
        return 0;
    const char *p = s + 1, *end = s + n;
    for (int64_t k = 0; k <= i; k++) {
        const char *ve = skip_value(p, end);
        if (k == i) {
            *v = p;
            *vn = (size_t)(ve - p);
            return 1;
        }
        p = ve + 2;
    }
    return 0;
}

int64_t sql_jsonb_array_length(const char *s, size_t n)
{
    if (n < 2 || *s != '[')
        return -1;
    if (s[1] == ']')
        return 0;
    const char *p = s + 1, *end = s + n;
    int64_t c = 0;
    while (p < end) {
        p = skip_value(p, end);
        c++;
        if (p < end && *p == ',')
            p += 2;
        else
            break;
    }
    return c;
}

int sql_jsonb_as_text(const char *v, size_t vn, dbuf *out)
{
    if (vn == 4 && !memcmp(v, "null", 4))
        return 0;
    if (vn && v[0] == '"') {
        jp j = {v, v + vn};
        return read_string(&j, out) ? -1 : 1;
    }
    return dbuf_append(out, v, vn) ? -1 : 1;
}

const char *sql_jsonb_typeof(const char *s, size_t n)
{
    if (!n)
        return "null";
    switch (s[0]) {
    case '{': return "object";
    case '[': return "array";
    case '"': return "string";
    case 't':
    case 'f': return "boolean";
    case 'n': return "null";
    default: return "number";
    }
}

int sql_jsonb_exists(const char *s, size_t n, const char *key, size_t kn)
{
    const char *v;
    size_t vn;
    if (n && s[0] == '{')
        return sql_jsonb_key(s, n, key, kn, &v, &vn);
    if (n && s[0] == '[') {
        dbuf q;
        dbuf_init(&q, (size_t)1 << 30);
        int found = 0;
        if (!sql_json_quote(key, kn, &q)) {
            int64_t len = sql_jsonb_array_length(s, n);
            for (int64_t i = 0; i < len && !found; i++)
                found = sql_jsonb_index(s, n, i, &v, &vn) && vn == q.len && !memcmp(v, q.p, vn);
        }
        dbuf_free(&q);
        return found;
    }
    if (n && s[0] == '"') {
        dbuf t;
        dbuf_init(&t, (size_t)1 << 30);
        int f = sql_jsonb_as_text(s, n, &t) == 1 && t.len == kn && !memcmp(t.p, key, kn);
        dbuf_free(&t);
        return f;
    }
    return 0;
}

int sql_jsonb_contains(const char *a, size_t an, const char *b, size_t bn)
{
    if (!an || !bn)
        return 0;
    if (b[0] == '{') {
        if (a[0] != '{')
            return 0;
        /* every member of b is in a, with a contained value */
        const char *p = b + 1, *end = b + bn;
        dbuf k;
        dbuf_init(&k, (size_t)1 << 30);
        int ok = 1;
        while (ok && p < end && *p == '"') {
            jp j = {p, end};
            dbuf_reset(&k);
            if (read_string(&j, &k)) {
                ok = 0;
                break;
            }
            p = j.p + 2;
            const char *ve = skip_value(p, end), *av;
            size_t avn;
            ok = sql_jsonb_key(a, an, (const char *)k.p, k.len, &av, &avn) &&
                 sql_jsonb_contains(av, avn, p, (size_t)(ve - p));
            p = ve;
            if (p < end && *p == ',')
                p += 2;
            else
                break;
        }
        dbuf_free(&k);
        return ok;
    }
    if (b[0] == '[') {
        if (a[0] != '[')
            return 0;
        int64_t bl = sql_jsonb_array_length(b, bn), al = sql_jsonb_array_length(a, an);
        for (int64_t i = 0; i < bl; i++) {
            const char *bv, *av;
            size_t bvn, avn;
            sql_jsonb_index(b, bn, i, &bv, &bvn);
            int found = 0;
            for (int64_t k = 0; k < al && !found; k++)
                found = sql_jsonb_index(a, an, k, &av, &avn) &&
                        sql_jsonb_contains(av, avn, bv, bvn);
            if (!found)
                return 0;
        }
        return 1;
    }
    if (a[0] == '[') {
        /* a scalar is contained in an array holding it at the top level */
        int64_t al = sql_jsonb_array_length(a, an);
        for (int64_t k = 0; k < al; k++) {
            const char *av;
            size_t avn;
            if (sql_jsonb_index(a, an, k, &av, &avn) && avn == bn && !memcmp(av, b, bn))
                return 1;
        }
        return 0;
    }
    return an == bn && (!an || !memcmp(a, b, an));
}
