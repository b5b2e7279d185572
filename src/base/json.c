/*
 * json.c - JSON writer and parser (see json.h).
 */
#include "base/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- writer */

void jw_init(jw *w, dbuf *b)
{
    w->b = b;
    w->err = 0;
    w->depth = 0;
    w->first[0] = 1;
    w->after_key = 0;
}

static void put(jw *w, const char *s, size_t n)
{
    if (!w->err)
        w->err = dbuf_append(w->b, s, n);
}

/* Emits the separator a new value needs in the current container. */
static void sep(jw *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (!w->first[w->depth])
        put(w, ",", 1);
    w->first[w->depth] = 0;
}

static void open(jw *w, const char *c)
{
    sep(w);
    put(w, c, 1);
    if (w->depth + 1 >= JW_MAX_DEPTH) {
        w->err = SL_ETOOBIG;
        return;
    }
    w->first[++w->depth] = 1;
}

static void close_(jw *w, const char *c)
{
    put(w, c, 1);
    if (w->depth > 0)
        w->depth--;
}

void jw_obj_begin(jw *w) { open(w, "{"); }
void jw_obj_end(jw *w) { close_(w, "}"); }
void jw_arr_begin(jw *w) { open(w, "["); }
void jw_arr_end(jw *w) { close_(w, "]"); }

int json_escape(dbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    int rc = dbuf_reserve(b, n + 2);
    if (rc)
        return rc;
    b->p[b->len++] = '"';
    size_t run = 0; /* bytes since the last escape, copied in one go */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if ((rc = dbuf_append(b, s + run, i - run)))
            return rc;
        char esc[7] = {'\\', 0};
        size_t el = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            el = 6;
        }
        if ((rc = dbuf_append(b, esc, el)))
            return rc;
        run = i + 1;
    }
    if ((rc = dbuf_append(b, s + run, n - run)))
        return rc;
    return dbuf_append_byte(b, '"');
}

void jw_key(jw *w, const char *k)
{
    sep(w);
    if (!w->err)
        w->err = json_escape(w->b, k, strlen(k));
    put(w, ":", 1);
    w->after_key = 1;
}

void jw_strn(jw *w, const char *s, size_t n)
{
    sep(w);
    if (!w->err)
        w->err = json_escape(w->b, s, n);
}

void jw_str(jw *w, const char *s)
{
    if (!s) {
        jw_null(w);
        return;
    }
    jw_strn(w, s, strlen(s));
}

void jw_int(jw *w, int64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof t, "%lld", (long long)v);
    sep(w);
    put(w, t, (size_t)n);
}

void jw_uint(jw *w, uint64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof t, "%llu", (unsigned long long)v);
    sep(w);
    put(w, t, (size_t)n);
}

void jw_double(jw *w, double v)
{
    if (!isfinite(v)) {
        jw_null(w);
        return;
    }
    char t[32];
    int n = snprintf(t, sizeof t, "%.17g", v);
    sep(w);
    put(w, t, (size_t)n);
}

void jw_bool(jw *w, int v)
{
    sep(w);
    put(w, v ? "true" : "false", v ? 4 : 5);
}

void jw_null(jw *w)
{
    sep(w);
    put(w, "null", 4);
}

void jw_raw(jw *w, const char *json)
{
    if (!json || !json[0]) {
        jw_null(w);
        return;
    }
    sep(w);
    put(w, json, strlen(json));
}

void jw_rawn(jw *w, const char *json, size_t n)
{
    if (!json || !n) {
        jw_null(w);
        return;
    }
    sep(w);
    put(w, json, n);
}

/* ---------------------------------------------------------------- parser */

typedef struct jp {
    arena *a;
    const char *s;
    size_t i, n;
    errmsg *e;
    int depth;
} jp;

static int fail(jp *p, const char *what)
{
    return errmsg_set(p->e, SL_EINVAL, "invalid JSON at byte %zu: %s", p->i, what);
}

static void ws(jp *p)
{
    while (p->i < p->n &&
           (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static int parse_value(jp *p, json_val *v);

static int hex4(jp *p, unsigned *out)
{
    if (p->n - p->i < 4)
        return fail(p, "short \\u escape");
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p->s[p->i++];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return fail(p, "bad hex digit");
    }
    *out = v;
    return 0;
}

static size_t utf8_put(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Parses a string at p->i (which is at the opening quote). */
static int parse_string(jp *p, const char **out, size_t *len_out)
{
    p->i++;
    size_t start = p->i;
    /* The decoded string is never longer than the encoded one. */
    size_t end = start;
    while (end < p->n && p->s[end] != '"') {
        if (p->s[end] == '\\')
            end++;
        end++;
    }
    if (end >= p->n)
        return fail(p, "unterminated string");
    char *o = arena_alloc(p->a, end - start + 1);
    if (!o)
        return errmsg_set(p->e, SL_ENOMEM, "JSON document too large");
    size_t k = 0;
    while (p->s[p->i] != '"') {
        unsigned char c = (unsigned char)p->s[p->i];
        if (c < 0x20)
            return fail(p, "control character in string");
        if (c != '\\') {
            o[k++] = (char)c;
            p->i++;
            continue;
        }
        p->i++;
        char esc = p->s[p->i++];
        switch (esc) {
        case '"': o[k++] = '"'; break;
        case '\\': o[k++] = '\\'; break;
        case '/': o[k++] = '/'; break;
        case 'b': o[k++] = '\b'; break;
        case 'f': o[k++] = '\f'; break;
        case 'n': o[k++] = '\n'; break;
        case 'r': o[k++] = '\r'; break;
        case 't': o[k++] = '\t'; break;
        case 'u': {
            unsigned cp;
            int rc = hex4(p, &cp);
            if (rc)
                return rc;
            if (cp >= 0xd800 && cp < 0xdc00 && p->n - p->i >= 6 && p->s[p->i] == '\\' &&
                p->s[p->i + 1] == 'u') {
                unsigned lo;
                p->i += 2;
                if ((rc = hex4(p, &lo)))
                    return rc;
                if (lo < 0xdc00 || lo > 0xdfff)
                    return fail(p, "bad surrogate pair");
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            k += utf8_put(o + k, cp);
            break;
        }
        default:
            return fail(p, "bad escape");
        }
    }
    p->i++;
    o[k] = 0;
    *out = o;
    *len_out = k;
    return 0;
}

/* Skips [0-9]*; the count of digits skipped. */
static size_t digits(jp *p)
{
    size_t from = p->i;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
        p->i++;
    return p->i - from;
}

static int parse_number(jp *p, json_val *v)
{
    /* RFC 8259: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
    size_t start = p->i;
    int is_int = 1;
    if (p->i < p->n && p->s[p->i] == '-')
        p->i++;
    if (p->i < p->n && p->s[p->i] == '0')
        p->i++;
    else if (!digits(p))
        return fail(p, "bad number");
    if (p->i < p->n && p->s[p->i] == '.') {
        p->i++;
        is_int = 0;
        if (!digits(p))
            return fail(p, "bad number");
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        is_int = 0;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
            p->i++;
        if (!digits(p))
            return fail(p, "bad number");
    }
    if (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
        return fail(p, "bad number"); /* a leading zero: 01 */
    char tmp[64];
    size_t len = p->i - start;
    if (len >= sizeof tmp)
        return fail(p, "number too long");
    memcpy(tmp, p->s + start, len);
    tmp[len] = 0;
    char *end;
    v->type = JSON_NUM;
    v->num = strtod(tmp, &end);
    if (*end)
        return fail(p, "bad number");
    v->is_int = 0;
    if (is_int) {
        errno = 0;
        long long ll = strtoll(tmp, &end, 10);
        if (!*end && errno == 0) {
            v->is_int = 1;
            v->i = ll;
        }
    }
    return 0;
}

static int parse_container(jp *p, json_val *v, int is_obj)
{
    if (++p->depth > 64)
        return fail(p, "nesting deeper than 64");
    p->i++;
    /* Items are collected in a temporary singly linked list, then laid out in arrays. */
    typedef struct item {
        struct item *next;
        const char *key;
        json_val val;
    } item;
    item *head = NULL, **tail = &head;
    size_t count = 0;
    ws(p);
    if (p->i < p->n && p->s[p->i] == (is_obj ? '}' : ']')) {
        p->i++;
    } else {
        for (;;) {
            item *it = arena_zalloc(p->a, sizeof *it);
            if (!it)
                return errmsg_set(p->e, SL_ENOMEM, "JSON document too large");
            ws(p);
            if (is_obj) {
                size_t kl;
                if (p->i >= p->n || p->s[p->i] != '"')
                    return fail(p, "expected a key");
                int rc = parse_string(p, &it->key, &kl);
                if (rc)
                    return rc;
                ws(p);
                if (p->i >= p->n || p->s[p->i] != ':')
                    return fail(p, "expected ':'");
                p->i++;
            }
            int rc = parse_value(p, &it->val);
            if (rc)
                return rc;
            *tail = it;
            tail = &it->next;
            count++;
            ws(p);
            if (p->i < p->n && p->s[p->i] == ',') {
                p->i++;
                continue;
            }
            if (p->i < p->n && p->s[p->i] == (is_obj ? '}' : ']')) {
                p->i++;
                break;
            }
            return fail(p, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    p->depth--;
    v->type = is_obj ? JSON_OBJ : JSON_ARR;
    v->len = count;
    v->items = arena_zalloc(p->a, sizeof(json_val) * (count ? count : 1));
    if (is_obj)
        v->keys = arena_zalloc(p->a, sizeof(char *) * (count ? count : 1));
    if (!v->items || (is_obj && !v->keys))
        return errmsg_set(p->e, SL_ENOMEM, "JSON document too large");
    size_t k = 0;
    for (item *it = head; it; it = it->next, k++) {
        v->items[k] = it->val;
        if (is_obj)
            v->keys[k] = it->key;
    }
    return 0;
}

static int literal(jp *p, const char *word)
{
    size_t l = strlen(word);
    if (p->n - p->i < l || memcmp(p->s + p->i, word, l) != 0)
        return fail(p, "unexpected token");
    p->i += l;
    return 0;
}

static int parse_value(jp *p, json_val *v)
{
    ws(p);
    if (p->i >= p->n)
        return fail(p, "unexpected end");
    char c = p->s[p->i];
    memset(v, 0, sizeof *v);
    switch (c) {
    case '{': return parse_container(p, v, 1);
    case '[': return parse_container(p, v, 0);
    case '"': v->type = JSON_STR; return parse_string(p, &v->str, &v->len);
    case 't': v->type = JSON_BOOL; v->b = 1; return literal(p, "true");
    case 'f': v->type = JSON_BOOL; v->b = 0; return literal(p, "false");
    case 'n': v->type = JSON_NULL; return literal(p, "null");
    default: return parse_number(p, v);
    }
}

int json_parse(arena *a, const char *text, size_t len, json_val **out, errmsg *e)
{
    jp p = {a, text, 0, len, e, 0};
    errmsg tmp;
    if (!p.e) {
        errmsg_clear(&tmp);
        p.e = &tmp;
    }
    json_val *v = arena_zalloc(a, sizeof *v);
    if (!v)
        return errmsg_set(p.e, SL_ENOMEM, "JSON document too large");
    int rc = parse_value(&p, v);
    if (rc)
        return rc;
    ws(&p);
    if (p.i != p.n)
        return fail(&p, "trailing characters");
    *out = v;
    return 0;
}

const json_val *json_get(const json_val *obj, const char *key)
{
    if (!obj || obj->type != JSON_OBJ)
        return NULL;
    for (size_t k = 0; k < obj->len; k++)
        if (strcmp(obj->keys[k], key) == 0)
            return &obj->items[k];
    return NULL;
}

void jw_kv_str(jw *w, const char *k, const char *v)
{
    jw_key(w, k);
    if (v)
        jw_str(w, v);
    else
        jw_null(w);
}

void jw_kv_int(jw *w, const char *k, int64_t v)
{
    jw_key(w, k);
    jw_int(w, v);
}

void jw_kv_uint(jw *w, const char *k, uint64_t v)
{
    jw_key(w, k);
    jw_uint(w, v);
}
