/*
 * json.c - jsonb operators and functions: -> ->> ? @> jsonb_typeof,
 * jsonb_array_length, jsonb_extract_path(_text), property_get.
 *
 * jsonb values are canonical text (types/jsonb.h), so the operators walk the
 * text of each row; `properties->>'key'` on a lake column costs one scan of
 * the row's JSON.
 */
#include "sql/func/kern.h"

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
};
#undef J

sql_func_table sql_funcs_json(void)
{
    return (sql_func_table){g_json, sizeof g_json / sizeof g_json[0]};
}
