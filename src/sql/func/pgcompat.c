/*
 * pgcompat.c - the functions PostgreSQL clients call to learn about the server
 * and its catalog: version(), current_database(), current_schema(),
 * pg_backend_pid(), format_type(), pg_table_is_visible(), has_*_privilege(),
 * pg_get_userbyid(), obj_description(), col_description(), pg_get_expr(),
 * pg_encoding_to_char(), and the pg_get_*def() of objects the catalog has none
 * of.  They answer as PostgreSQL would for a single-user server whose tables
 * all live in `public` (docs/pgwire.md).
 */
#include "sql/func/kern.h"

#include <regex.h>
#include <stdio.h>
#include <string.h>

#define VERSION_TEXT "PostgreSQL 15.0 (streamlake) on x86_64-pc-linux-gnu, compiled by gcc, 64-bit"

/* n copies of s (string results arrive empty: a row each, null ones included). */
static int put_each(sql_vec *o, int64_t n, const char *s)
{
    size_t l = strlen(s);
    for (int64_t i = 0; i < n; i++) {
        int rc = col_vec_append_str(&o->v, s, l);
        if (rc)
            return rc;
    }
    return SL_OK;
}

/* The constant text functions: the answer depends on the function's name only. */
KERNEL(const_text_k)
{
    (void)cx;
    (void)a;
    const char *f = e->fn->name;
    const char *v = !strcmp(f, "version")                                           ? VERSION_TEXT
                    : !strcmp(f, "current_database") || !strcmp(f, "current_catalog") ? "lake"
                    : !strcmp(f, "current_schema")                                  ? "public"
                    : !strcmp(f, "pg_encoding_to_char")                             ? "UTF8"
                                                                                    : "streamlake";
    return put_each(o, n, v);
}

KERNEL(zero_k)
{
    (void)cx;
    (void)e;
    (void)a;
    for (int64_t i = 0; i < n; i++)
        ko_i32(o, i, 0);
    return SL_OK;
}

/* true for every row whose arguments are not null (visibility, privileges) */
KERNEL(true_k)
{
    (void)cx;
    (void)e;
    (void)a;
    for (int64_t i = 0; i < n; i++)
        ko_bool(o, i, true);
    return SL_OK;
}

/* NULL for every row (descriptions, expressions: none are stored) */
KERNEL(null_text_k)
{
    (void)cx;
    (void)e;
    (void)a;
    for (int64_t i = 0; i < n; i++) {
        int rc = col_vec_append_str(&o->v, "", 0);
        if (rc || (rc = ko_null(o, i)))
            return rc;
    }
    return SL_OK;
}

/* format_type(type oid, typmod): the type's SQL name, as \d shows it. */
KERNEL(format_type_k)
{
    (void)cx;
    (void)e;
    char buf[64];
    for (int64_t i = 0; i < n; i++) {
        if (!sql_vec_valid(&a[0], i)) {
            int rc = col_vec_append_str(&o->v, "", 0);
            if (rc || (rc = ko_null(o, i)))
                return rc;
            continue;
        }
        int64_t oid = ka_int(&a[0], i);
        int32_t mod = sql_vec_valid(&a[1], i) ? (int32_t)ka_int(&a[1], i) : -1;
        sql_type t;
        const char *name = "???";
        if (sql_type_by_oid((uint32_t)oid, &t)) {
            if (mod >= 0)
                t.mod = mod;
            name = sql_type_name(t, buf, sizeof buf);
            if (t.id == ST_TEXTARR)
                name = "text[]";
        }
        int rc = col_vec_append_str(&o->v, name, strlen(name));
        if (rc)
            return rc;
    }
    return SL_OK;
}

/*
 * text ~ pattern (and !~, ~*, !~*): POSIX extended regular expressions (PostgreSQL's
 * are a superset; the patterns clients send, psql's among them, fit).  A constant
 * pattern is compiled once per batch.
 */
static int regex_match(sql_fctx *cx, const sql_expr *e, const sql_vec *a, int64_t n, sql_vec *o,
                       bool icase, bool negate)
{
    regex_t re;
    bool have = false;
    char *pat = NULL;
    int rc = SL_OK;
    for (int64_t i = 0; i < n && !rc; i++) {
        if (ka_null(a, 2, i))
            continue;
        size_t pl, sl;
        const char *p = ka_str(&a[1], i, &pl);
        const char *s = ka_str(&a[0], i, &sl);
        if (!have || !a[1].is_const) {
            if (have)
                regfree(&re);
            have = false;
            char *np = arena_alloc(cx->scratch, pl + 1);
            if (!np) {
                rc = SL_ENOMEM;
                break;
            }
            memcpy(np, p, pl);
            np[pl] = 0;
            pat = np;
            if (regcomp(&re, pat, REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0))) {
                rc = sql_fail(cx, e, "2201B", "invalid regular expression: %.200s", pat);
                break;
            }
            have = true;
        }
        char *str = arena_alloc(cx->scratch, sl + 1);
        if (!str) {
            rc = SL_ENOMEM;
            break;
        }
        memcpy(str, s, sl);
        str[sl] = 0;
        bool m = regexec(&re, str, 0, NULL, 0) == 0;
        ko_bool(o, i, m != negate);
    }
    if (have)
        regfree(&re);
    return rc;
}

KERNEL(re_k)
{
    return regex_match(cx, e, a, n, o, false, false);
}

KERNEL(nre_k)
{
    return regex_match(cx, e, a, n, o, false, true);
}

KERNEL(rei_k)
{
    return regex_match(cx, e, a, n, o, true, false);
}

KERNEL(nrei_k)
{
    return regex_match(cx, e, a, n, o, true, true);
}

/* integer = ANY (array of decimal elements): int2[] (pg_index.indkey), and the
 * catalog's oid arrays, which are text arrays here (pg_policy.polroles). */
KERNEL(int_any_k)
{
    (void)cx;
    (void)e;
    char num[24];
    for (int64_t i = 0; i < n; i++) {
        if (ka_null(a, 2, i))
            continue;
        int xn = snprintf(num, sizeof num, "%lld", (long long)ka_int(&a[0], i));
        size_t an;
        const uint8_t *arr = (const uint8_t *)ka_str(&a[1], i, &an);
        int rc = ko_tri(o, i, sql_textarr_find(arr, an, num, (size_t)xn));
        if (rc)
            return rc;
    }
    return SL_OK;
}

#define T ST_TEXT
static const sql_func g_pg[] = {
    {"= any", 2, {ST_OID, ST_TEXTARR}, ST_BOOL, 0, int_any_k, NULL},
    {"= any", 2, {ST_INT8, ST_INT2ARR}, ST_BOOL, 0, int_any_k, NULL},
    {"~", 2, {T, T}, ST_BOOL, 0, re_k, NULL},
    {"!~", 2, {T, T}, ST_BOOL, 0, nre_k, NULL},
    {"~*", 2, {T, T}, ST_BOOL, 0, rei_k, NULL},
    {"!~*", 2, {T, T}, ST_BOOL, 0, nrei_k, NULL},
    {"version", 0, {0}, T, 0, const_text_k, NULL},
    {"current_database", 0, {0}, T, 0, const_text_k, NULL},
    {"current_catalog", 0, {0}, T, 0, const_text_k, NULL},
    {"current_schema", 0, {0}, T, 0, const_text_k, NULL},
    {"current_user", 0, {0}, T, 0, const_text_k, NULL},
    {"session_user", 0, {0}, T, 0, const_text_k, NULL},
    {"pg_get_userbyid", 1, {ST_OID}, T, 0, const_text_k, NULL},
    {"pg_encoding_to_char", 1, {ST_INT4}, T, 0, const_text_k, NULL},
    {"pg_backend_pid", 0, {0}, ST_INT4, 0, zero_k, NULL},
    {"pg_table_is_visible", 1, {ST_OID}, ST_BOOL, 0, true_k, NULL},
    {"pg_function_is_visible", 1, {ST_OID}, ST_BOOL, 0, true_k, NULL},
    {"pg_get_function_result", 1, {ST_OID}, T, FN_NONSTRICT, null_text_k, NULL},
    {"pg_get_function_arguments", 1, {ST_OID}, T, FN_NONSTRICT, null_text_k, NULL},
    {"pg_type_is_visible", 1, {ST_OID}, ST_BOOL, 0, true_k, NULL},
    {"has_table_privilege", 2, {T, T}, ST_BOOL, 0, true_k, NULL},
    {"has_table_privilege", 2, {ST_OID, T}, ST_BOOL, 0, true_k, NULL},
    {"has_schema_privilege", 2, {T, T}, ST_BOOL, 0, true_k, NULL},
    {"has_schema_privilege", 2, {ST_OID, T}, ST_BOOL, 0, true_k, NULL},
    {"has_database_privilege", 2, {T, T}, ST_BOOL, 0, true_k, NULL},
    {"obj_description", 2, {ST_OID, T}, T, FN_NONSTRICT, null_text_k, NULL},
    {"obj_description", 1, {ST_OID}, T, FN_NONSTRICT, null_text_k, NULL},
    {"col_description", 2, {ST_OID, ST_INT4}, T, FN_NONSTRICT, null_text_k, NULL},
    {"shobj_description", 2, {ST_OID, T}, T, FN_NONSTRICT, null_text_k, NULL},
    {"pg_get_expr", 2, {T, ST_OID}, T, FN_NONSTRICT, null_text_k, NULL},
    {"pg_get_expr", 3, {T, ST_OID, ST_BOOL}, T, FN_NONSTRICT, null_text_k, NULL},
    {"format_type", 2, {ST_OID, ST_INT4}, T, FN_NONSTRICT, format_type_k, NULL},
    /* definitions of what the catalog has none of (constraints, indexes, sequences,
     * rules, triggers, partitions, extended statistics): NULL, as for a missing oid */
    {"pg_get_statisticsobjdef_columns", 1, {ST_OID}, T, FN_NONSTRICT, null_text_k, NULL},
    {"pg_get_constraintdef", 1, {ST_OID}, T, FN_NONSTRICT, null_text_k, NULL},
    {"pg_get_constraintdef", 2, {ST_OID, ST_BOOL}, T, FN_NONSTRICT, null_text_k, NULL},
    {"pg_get_indexdef", 1, {ST_OID}, T, FN_NONSTRICT, null_text_k, NULL},
    {"pg_get_indexdef", 3, {ST_OID, ST_INT4, ST_BOOL}, T, FN_NONSTRICT, null_text_k, NULL},
    {"pg_get_serial_sequence", 2, {T, T}, T, FN_NONSTRICT, null_text_k, NULL},
    {"pg_get_ruledef", 1, {ST_OID}, T, FN_NONSTRICT, null_text_k, NULL},
    {"pg_get_ruledef", 2, {ST_OID, ST_BOOL}, T, FN_NONSTRICT, null_text_k, NULL},
    {"pg_get_triggerdef", 1, {ST_OID}, T, FN_NONSTRICT, null_text_k, NULL},
    {"pg_get_triggerdef", 2, {ST_OID, ST_BOOL}, T, FN_NONSTRICT, null_text_k, NULL},
    {"pg_get_partkeydef", 1, {ST_OID}, T, FN_NONSTRICT, null_text_k, NULL},
    {"pg_get_viewdef", 1, {ST_OID}, T, FN_NONSTRICT, null_text_k, NULL},
    {"pg_get_viewdef", 2, {ST_OID, ST_BOOL}, T, FN_NONSTRICT, null_text_k, NULL},
    {"pg_get_partition_constraintdef", 1, {ST_OID}, T, FN_NONSTRICT, null_text_k, NULL},
    /* every table of ours is an ordinary one: publishable, as PostgreSQL says of those */
    {"pg_relation_is_publishable", 1, {ST_OID}, ST_BOOL, 0, true_k, NULL},
};
#undef T

sql_func_table sql_funcs_pgcompat(void)
{
    return (sql_func_table){g_pg, sizeof g_pg / sizeof g_pg[0]};
}
