/*
 * pgcompat.c - the functions PostgreSQL clients call to learn about the server
 * and its catalog: version(), current_database(), current_schema(),
 * pg_backend_pid(), format_type(), pg_table_is_visible(), has_*_privilege(),
 * pg_get_userbyid(), obj_description(), col_description(), pg_get_expr(),
 * pg_encoding_to_char(), current_schemas(), quote_ident(), parse_ident(), the
 * sizes (pg_relation_size() and friends, 0) and pg_size_pretty(), and the
 * pg_get_*def() of objects the catalog has none of.  They answer as PostgreSQL would for a single-user server whose tables
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

/* 0 of the result's integer type: the backend's pid, sizes (relations have no
 * storage of their own to count: lake tables are partitions of the lake's files),
 * statistics counters. */
KERNEL(zero_k)
{
    (void)cx;
    (void)e;
    (void)a;
    for (int64_t i = 0; i < n; i++)
        ko_int(o, i, 0);
    return SL_OK;
}

/* A text[] value of the given elements (the engine's encoding: a uint32 count, then
 * each element as a uint32 length and its bytes). */
static int put_textarr(sql_vec *o, const char *const *el, const uint32_t *len, uint32_t cnt,
                       dbuf *b)
{
    dbuf_reset(b);
    int rc = dbuf_append(b, &cnt, 4);
    for (uint32_t k = 0; k < cnt && !rc; k++) {
        rc = dbuf_append(b, &len[k], 4);
        if (!rc)
            rc = dbuf_append(b, el[k], len[k]);
    }
    return rc ? rc : col_vec_append_str(&o->v, b->p, b->len);
}

/* current_schemas(include_implicit): the search path's schemas that exist, as
 * PostgreSQL answers for the default path ("$user" has no schema here). */
KERNEL(current_schemas_k)
{
    (void)cx;
    (void)e;
    static const char *const both[] = {"pg_catalog", "public"};
    static const uint32_t lens[] = {10, 6};
    dbuf b;
    dbuf_init(&b, 64);
    int rc = SL_OK;
    for (int64_t i = 0; i < n && !rc; i++) {
        bool implicit = sql_vec_valid(&a[0], i) && ka_bool(&a[0], i);
        rc = put_textarr(o, implicit ? both : both + 1, implicit ? lens : lens + 1, implicit ? 2 : 1,
                         &b);
    }
    dbuf_free(&b);
    return rc;
}

/* pg_size_pretty(bytes): bytes below 10 kB, then kB, MB, GB, TB, PB, each used
 * while the value in its half units is below 20479, then halved and rounded, as
 * PostgreSQL 15 does ("9 bytes", "10 kB", "1536 kB", "20 MB"). */
KERNEL(size_pretty_k)
{
    (void)cx;
    (void)e;
    static const char *const unit[] = {"bytes", "kB", "MB", "GB", "TB", "PB"};
    char buf[48];
    int rc = SL_OK;
    for (int64_t i = 0; i < n && !rc; i++) {
        int64_t v = sql_vec_valid(&a[0], i) ? ka_i64(&a[0], i) : 0;
        int u = 0;
        if (v > -10240 && v < 10240) {
            snprintf(buf, sizeof buf, "%lld bytes", (long long)v);
        } else {
            v /= 512; /* one bit more than kB, for the rounding */
            for (u = 1; u < 5 && (v >= 20479 || v <= -20479); u++)
                v /= 1024;
            v = (v + (v < 0 ? -1 : 1)) / 2;
            snprintf(buf, sizeof buf, "%lld %s", (long long)v, unit[u]);
        }
        rc = col_vec_append_str(&o->v, buf, strlen(buf));
    }
    return rc;
}

/* PostgreSQL's keywords that quote_ident quotes (every kind but the unreserved). */
static bool is_keyword(const char *s, size_t n)
{
    static const char *const kw[] = {
        "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric",
        "authorization", "between", "bigint", "binary", "bit", "boolean", "both", "case", "cast",
        "char", "character", "check", "coalesce", "collate", "collation", "column", "concurrently",
        "constraint", "create", "cross", "current_catalog", "current_date", "current_role",
        "current_schema", "current_time", "current_timestamp", "current_user", "dec", "decimal",
        "default", "deferrable", "desc", "distinct", "do", "else", "end", "except", "exists",
        "extract", "false", "fetch", "float", "for", "foreign", "freeze", "from", "full", "grant",
        "greatest", "group", "grouping", "having", "ilike", "in", "initially", "inner", "inout",
        "int", "integer", "intersect", "interval", "into", "is", "isnull", "join", "json",
        "lateral", "leading", "least", "left", "like", "limit", "localtime", "localtimestamp",
        "national", "natural", "nchar", "none", "normalize", "not", "notnull", "null", "nullif",
        "numeric", "offset", "on", "only", "or", "order", "out", "outer", "overlaps", "overlay",
        "placing", "position", "precision", "primary", "real", "references", "returning", "right",
        "row", "select", "session_user", "setof", "similar", "smallint", "some", "substring",
        "symmetric", "system_user", "table", "tablesample", "then", "time", "timestamp", "to",
        "trailing", "treat", "trim", "true", "union", "unique", "user", "using", "values",
        "varchar", "variadic", "verbose", "when", "where", "window", "with", "xmlattributes",
        "xmlconcat", "xmlelement", "xmlexists", "xmlforest", "xmlnamespaces", "xmlparse", "xmlpi",
        "xmlroot", "xmlserialize", "xmltable"};
    for (size_t k = 0; k < sizeof kw / sizeof kw[0]; k++)
        if (strlen(kw[k]) == n && !memcmp(kw[k], s, n))
            return true;
    return false;
}

/* quote_ident(name): as it is when it needs no quotes (lower case letters, digits,
 * _ and $, not first a digit or $, not a keyword), else in double quotes with
 * inner ones doubled. */
KERNEL(quote_ident_k)
{
    (void)cx;
    (void)e;
    dbuf b;
    dbuf_init(&b, (size_t)1 << 30);
    int rc = SL_OK;
    for (int64_t i = 0; i < n && !rc; i++) {
        size_t l = 0;
        const char *s = sql_vec_valid(&a[0], i) ? ka_str(&a[0], i, &l) : "";
        bool plain = l > 0 && ((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_');
        for (size_t k = 0; k < l && plain; k++)
            plain = (s[k] >= 'a' && s[k] <= 'z') || (s[k] >= '0' && s[k] <= '9') || s[k] == '_' ||
                    s[k] == '$';
        if (plain && !is_keyword(s, l)) {
            rc = col_vec_append_str(&o->v, s, l);
            continue;
        }
        dbuf_reset(&b);
        rc = dbuf_append_byte(&b, '"');
        for (size_t k = 0; k < l && !rc; k++)
            rc = s[k] == '"' ? dbuf_append(&b, "\"\"", 2) : dbuf_append_byte(&b, s[k]);
        if (!rc)
            rc = dbuf_append_byte(&b, '"');
        if (!rc)
            rc = col_vec_append_str(&o->v, b.p, b.len);
    }
    dbuf_free(&b);
    return rc;
}

/* parse_ident('a."B c".d'): the names of a qualified identifier, unquoted ones
 * folded to lower case; 22023 for a malformed one, as PostgreSQL. */
KERNEL(parse_ident_k)
{
    (void)e;
    dbuf names;
    dbuf_init(&names, (size_t)1 << 30);
    int rc = SL_OK;
    for (int64_t i = 0; i < n && !rc; i++) {
        if (!sql_vec_valid(&a[0], i)) {
            rc = col_vec_append_str(&o->v, "", 0);
            continue;
        }
        size_t l, p = 0;
        const char *s = ka_str(&a[0], i, &l);
        uint32_t cnt = 0;
        dbuf_reset(&names);
        rc = dbuf_append(&names, &cnt, 4);
        bool ok = true;
        while (ok && !rc) {
            while (p < l && s[p] == ' ')
                p++;
            size_t at = names.len;
            uint32_t nl = 0;
            rc = dbuf_append(&names, &nl, 4);
            if (p < l && s[p] == '"') {
                for (p++; p < l && !rc; p++) {
                    if (s[p] == '"' && !(p + 1 < l && s[p + 1] == '"'))
                        break;
                    p += s[p] == '"';
                    rc = dbuf_append_byte(&names, s[p]);
                }
                ok = p < l && names.len > at + 4;
                p++;
            } else {
                for (; p < l && s[p] != '.' && s[p] != ' ' && !rc; p++)
                    rc = dbuf_append_byte(&names, s[p] >= 'A' && s[p] <= 'Z' ? (char)(s[p] + 32)
                                                                           : s[p]);
                ok = names.len > at + 4;
            }
            nl = (uint32_t)(names.len - at - 4);
            memcpy(names.p + at, &nl, 4);
            cnt++;
            while (p < l && s[p] == ' ')
                p++;
            if (p >= l)
                break;
            ok = ok && s[p++] == '.';
        }
        if (!rc && !ok)
            rc = sql_fail(cx, e, "22023", "string is not a valid identifier: \"%.*s\"",
                          (int)(l < 200 ? l : 200), s);
        if (!rc) {
            memcpy(names.p, &cnt, 4);
            rc = col_vec_append_str(&o->v, names.p, names.len);
        }
    }
    dbuf_free(&names);
    return rc;
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
    {"current_schemas", 1, {ST_BOOL}, ST_TEXTARR, 0, current_schemas_k, NULL},
    {"quote_ident", 1, {T}, T, 0, quote_ident_k, NULL},
    {"parse_ident", 1, {T}, ST_TEXTARR, 0, parse_ident_k, NULL},
    {"pg_size_pretty", 1, {ST_INT8}, T, 0, size_pretty_k, NULL},
    {"pg_relation_size", 1, {ST_OID}, ST_INT8, 0, zero_k, NULL},
    {"pg_table_size", 1, {ST_OID}, ST_INT8, 0, zero_k, NULL},
    {"pg_indexes_size", 1, {ST_OID}, ST_INT8, 0, zero_k, NULL},
    {"pg_total_relation_size", 1, {ST_OID}, ST_INT8, 0, zero_k, NULL},
    {"pg_database_size", 1, {ST_OID}, ST_INT8, 0, zero_k, NULL},
    {"pg_stat_get_numscans", 1, {ST_OID}, ST_INT8, 0, zero_k, NULL},
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
