/*
 * json.c - jsonb operators and functions: -> ->> ? @> jsonb_typeof,
 * jsonb_array_length, jsonb_extract_path(_text), property_get, json_build_object
 * (and jsonb_build_object: json is jsonb in this engine).
 *
 * jsonb values are canonical text (types/jsonb.h), so the operators walk the
 * text of each row; `properties->>'key'` on a lake column costs one scan of
 * the row's JSON.
 */
#include "sql/func/kern.h"

#include "base/json.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

static int put_or_null(sql_vec *o, int found, const char *v, size_t vn)
{
    return found ? col_vec_append_str(&o->v, v, vn) : col_vec_append_null(&o->v);
}

/* jsonb -> text (member) and jsonb -> int (element) */
KERNEL(get_key)
{
    (void)cx;
    int rc = SL_OK;
    bool by_index = e->args[1]->type.id != ST_TEXT;
    for (int64_t i = 0; i < n && !rc; i++) {
        if (ka_null(a, 2, i)) {
            rc = col_vec_append_null(&o->v);
            continue;
        }
        size_t l, kl = 0;
        const char *s = ka_str(&a[0], i, &l), *v = NULL;
        const char *key = by_index ? NULL : ka_str(&a[1], i, &kl);
        size_t vn = 0;
        int found = by_index ? sql_jsonb_index(s, l, ka_int(&a[1], i), &v, &vn)
                             : sql_jsonb_key(s, l, key, kl, &v, &vn);
        rc = put_or_null(o, found, v, vn);
    }
    return rc;
}

/* jsonb ->> text / int: the member as text (strings unquoted, JSON null as NULL) */
KERNEL(get_key_text)
{
    (void)cx;
    dbuf t;
    dbuf_init(&t, (size_t)1 << 30);
    int rc = SL_OK;
    bool by_index = e->args[1]->type.id != ST_TEXT;
    for (int64_t i = 0; i < n && !rc; i++) {
        if (ka_null(a, 2, i)) {
            rc = col_vec_append_null(&o->v);
            continue;
        }
        size_t l, kl = 0;
        const char *s = ka_str(&a[0], i, &l), *v = NULL;
        const char *key = by_index ? NULL : ka_str(&a[1], i, &kl);
        size_t vn = 0;
        int found = by_index ? sql_jsonb_index(s, l, ka_int(&a[1], i), &v, &vn)
                             : sql_jsonb_key(s, l, key, kl, &v, &vn);
        dbuf_reset(&t);
        if (found)
            found = sql_jsonb_as_text(v, vn, &t);
        rc = found < 0 ? SL_ENOMEM : put_or_null(o, found, t.p ? (const char *)t.p : "", t.len);
    }
    dbuf_free(&t);
    return rc;
}

KERNEL(exists_k)
{
    (void)cx;
    (void)e;
    for (int64_t i = 0; i < n; i++) {
        size_t l, kl;
        const char *s = ka_str(&a[0], i, &l), *k = ka_str(&a[1], i, &kl);
        ko_bool(o, i, sql_jsonb_exists(s, l, k, kl));
    }
    return SL_OK;
}

KERNEL(contains_k)
{
    (void)cx;
    (void)e;
    for (int64_t i = 0; i < n; i++) {
        size_t l, bl;
        const char *s = ka_str(&a[0], i, &l), *b = ka_str(&a[1], i, &bl);
        ko_bool(o, i, sql_jsonb_contains(s, l, b, bl));
    }
    return SL_OK;
}

KERNEL(typeof_k)
{
    (void)cx;
    (void)e;
    int rc = SL_OK;
    for (int64_t i = 0; i < n && !rc; i++) {
        size_t l;
        const char *s = ka_str(&a[0], i, &l);
        const char *t = sql_jsonb_typeof(s, l);
        rc = col_vec_append_str(&o->v, t, strlen(t));
    }
    return rc;
}

KERNEL(array_length_k)
{
    for (int64_t i = 0; i < n; i++) {
        if (ka_null(a, 1, i))
            continue;
        size_t l;
        const char *s = ka_str(&a[0], i, &l);
        int64_t len = sql_jsonb_array_length(s, l);
        if (len < 0)
            return sql_fail(cx, e, "22023", "cannot get array length of a %s",
                            l && s[0] == '{' ? "non-array" : "scalar");
        ko_i32(o, i, (int32_t)len);
    }
    return SL_OK;
}

/* jsonb_extract_path(_text)(j, k1 [, k2 ...]): keys, or indexes when they look like ones */
static int extract_path(const sql_expr *e, const sql_vec *a, int64_t n, sql_vec *o, bool as_text)
{
    dbuf t;
    dbuf_init(&t, (size_t)1 << 30);
    int rc = SL_OK;
    for (int64_t i = 0; i < n && !rc; i++) {
        if (ka_null(a, e->nargs, i)) {
            rc = col_vec_append_null(&o->v);
            continue;
        }
        size_t l;
        const char *v = ka_str(&a[0], i, &l);
        size_t vn = l;
        int found = 1;
        for (int k = 1; k < e->nargs && found; k++) {
            size_t kl;
            const char *key = ka_str(&a[k], i, &kl);
            if (vn && v[0] == '[') {
                char *end;
                char buf[32];
                snprintf(buf, sizeof buf, "%.*s", (int)(kl < 31 ? kl : 31), key);
                long long idx = strtoll(buf, &end, 10);
                found = kl && !*end && sql_jsonb_index(v, vn, idx, &v, &vn);
            } else {
                found = sql_jsonb_key(v, vn, key, kl, &v, &vn);
            }
        }
        if (found && as_text) {
            dbuf_reset(&t);
            found = sql_jsonb_as_text(v, vn, &t);
            v = t.p ? (const char *)t.p : "";
            vn = t.len;
        }
        rc = put_or_null(o, found > 0, v, vn);
    }
    dbuf_free(&t);
    return rc;
}

KERNEL(extract_path_k) { (void)cx; return extract_path(e, a, n, o, false); }
KERNEL(extract_path_text_k) { (void)cx; return extract_path(e, a, n, o, true); }

/* Row i of v as to_json() writes it: numbers and booleans bare, jsonb as it is,
 * arrays as JSON arrays, times in ISO 8601 ("T", a "+00:00" offset), everything
 * else as a JSON string of its text; t is scratch. */
static int to_json(sql_type ty, const sql_vec *v, int64_t i, dbuf *t, dbuf *out)
{
    int64_t r = sql_vec_row(v, i);
    if (!col_vec_is_valid(&v->v, r))
        return dbuf_append_str(out, "null");
    if (ty.id == ST_TEXTARR || ty.id == ST_INT2ARR) {
        sql_datum d = sql_datum_get(ty, &v->v, r);
        uint32_t cnt = sql_textarr_count(d.s.p, d.s.n);
        int rc = dbuf_append_byte(out, '[');
        for (uint32_t k = 0; k < cnt && !rc; k++) {
            const uint8_t *el;
            uint32_t en;
            if (k)
                rc = dbuf_append_str(out, ", ");
            if (rc)
                break;
            if (!sql_textarr_get(d.s.p, d.s.n, k, &el, &en))
                rc = dbuf_append_str(out, "null");
            else
                rc = ty.id == ST_INT2ARR ? dbuf_append(out, el, en)
                                         : json_escape(out, (const char *)el, en);
        }
        return rc ? rc : dbuf_append_byte(out, ']');
    }
    dbuf_reset(t);
    int rc = sql_vec_text(ty, &v->v, r, t);
    if (rc)
        return rc;
    const char *s = t->p ? (const char *)t->p : "";
    bool finite = t->len && (isdigit((unsigned char)s[t->len - 1]) || s[t->len - 1] == '.');
    if (ty.id == ST_BOOL)
        return dbuf_append_str(out, s[0] == 't' ? "true" : "false");
    if (ty.id == ST_JSONB || (sql_type_category(ty) == SC_NUMERIC && finite))
        return dbuf_append(out, s, t->len);
    if (ty.id == ST_TIMESTAMP || ty.id == ST_TIMESTAMPTZ) {
        char *sp = memchr(t->p, ' ', t->len);
        if (sp)
            *sp = 'T';
        if (ty.id == ST_TIMESTAMPTZ)
            rc = dbuf_append_str(t, ":00");
    }
    return rc ? rc : json_escape(out, (const char *)t->p, t->len);
}

/* json_build_object(key, value, ...): the pairs as an object (a jsonb here, so
 * keys come out in jsonb's order and a repeated key keeps its last value). */
KERNEL(build_object_k)
{
    if (e->nargs % 2)
        return sql_fail(cx, e, "22023", "argument list must have even number of elements");
    dbuf b, t, c;
    dbuf_init(&b, (size_t)1 << 30);
    dbuf_init(&t, (size_t)1 << 30);
    dbuf_init(&c, (size_t)1 << 30);
    int rc = SL_OK;
    for (int64_t i = 0; i < n && !rc; i++) {
        dbuf_reset(&b);
        rc = dbuf_append_byte(&b, '{');
        for (int k = 0; k + 1 < e->nargs && !rc; k += 2) {
            sql_type kt = e->args[k]->type;
            if (!sql_vec_valid(&a[k], i)) {
                rc = sql_fail(cx, e, "22023", "argument %d cannot be null", k + 1);
                break;
            }
            dbuf_reset(&t);
            rc = k ? dbuf_append_str(&b, ", ") : SL_OK;
            if (!rc)
                rc = sql_vec_text(kt, &a[k].v, sql_vec_row(&a[k], i), &t);
            if (!rc)
                rc = json_escape(&b, t.p ? (const char *)t.p : "", t.len);
            if (!rc)
                rc = dbuf_append_str(&b, ": ");
            if (!rc)
                rc = to_json(e->args[k + 1]->type, &a[k + 1], i, &t, &b);
        }
        if (!rc)
            rc = dbuf_append_byte(&b, '}');
        dbuf_reset(&c);
        if (!rc)
            rc = sql_jsonb_canon((const char *)b.p, b.len, &c);
        if (!rc)
            rc = col_vec_append_str(&o->v, c.p ? (const char *)c.p : "", c.len);
    }
    dbuf_free(&b);
    dbuf_free(&t);
    dbuf_free(&c);
    return rc;
}

#define J ST_JSONB
static const sql_func g_json[] = {
    {"->", 2, {J, ST_TEXT}, J, 0, get_key, NULL},
    {"->", 2, {J, ST_INT4}, J, 0, get_key, NULL},
    {"->>", 2, {J, ST_TEXT}, ST_TEXT, 0, get_key_text, NULL},
    {"->>", 2, {J, ST_INT4}, ST_TEXT, 0, get_key_text, NULL},
    {"?", 2, {J, ST_TEXT}, ST_BOOL, 0, exists_k, NULL},
    {"@>", 2, {J, J}, ST_BOOL, 0, contains_k, NULL},
    {"jsonb_typeof", 1, {J}, ST_TEXT, 0, typeof_k, NULL},
    {"jsonb_array_length", 1, {J}, ST_INT4, 0, array_length_k, NULL},
    {"jsonb_extract_path", 2, {J, ST_TEXT}, J, FN_VARIADIC, extract_path_k, NULL},
    {"jsonb_extract_path_text", 2, {J, ST_TEXT}, ST_TEXT, FN_VARIADIC, extract_path_text_k, NULL},
    {"property_get", 2, {J, ST_TEXT}, ST_TEXT, 0, get_key_text, NULL},
    {"json_build_object", 1, {ST_NULL}, J, FN_ANYARG | FN_VARIADIC | FN_NONSTRICT, build_object_k,
     NULL},
    {"jsonb_build_object", 1, {ST_NULL}, J, FN_ANYARG | FN_VARIADIC | FN_NONSTRICT,
     build_object_k, NULL},
};
#undef J

sql_func_table sql_funcs_json(void)
{
    return (sql_func_table){g_json, sizeof g_json / sizeof g_json[0]};
}
