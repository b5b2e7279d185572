/*
 * type.c - names, OIDs, categories and storage of SQL types (see type.h).
 */
#include "sql/types/type.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef struct type_info {
    const char *name;  /* as format_type prints it */
    uint32_t oid;
    int16_t len;
    col_type phys;
    char cat;
    bool preferred;
} type_info;

static const type_info g_info[ST_COUNT] = {
    [ST_NULL] = {"unknown", 705, -2, COL_STRING, SC_UNKNOWN, false},
    [ST_BOOL] = {"boolean", 16, 1, COL_BOOL, SC_BOOL, true},
    [ST_INT2] = {"smallint", 21, 2, COL_INT32, SC_NUMERIC, false},
    [ST_INT4] = {"integer", 23, 4, COL_INT32, SC_NUMERIC, false},
    [ST_INT8] = {"bigint", 20, 8, COL_INT64, SC_NUMERIC, false},
    [ST_FLOAT4] = {"real", 700, 4, COL_DOUBLE, SC_NUMERIC, false},
    [ST_FLOAT8] = {"double precision", 701, 8, COL_DOUBLE, SC_NUMERIC, true},
    [ST_NUMERIC] = {"numeric", 1700, -1, COL_FIXED16, SC_NUMERIC, false},
    [ST_TEXT] = {"text", 25, -1, COL_STRING, SC_STRING, true},
    [ST_VARCHAR] = {"character varying", 1043, -1, COL_STRING, SC_STRING, false},
    [ST_UNKNOWN] = {"unknown", 705, -2, COL_STRING, SC_UNKNOWN, false},
    [ST_BYTEA] = {"bytea", 17, -1, COL_BINARY, SC_USER, false},
    [ST_DATE] = {"date", 1082, 4, COL_INT32, SC_DATETIME, false},
    [ST_TIMESTAMP] = {"timestamp without time zone", 1114, 8, COL_TS_NS, SC_DATETIME, false},
    [ST_TIMESTAMPTZ] = {"timestamp with time zone", 1184, 8, COL_TS_NS, SC_DATETIME, true},
    [ST_INTERVAL] = {"interval", 1186, 16, COL_FIXED16, SC_TIMESPAN, true},
    [ST_UUID] = {"uuid", 2950, 16, COL_STRING, SC_USER, false},
    [ST_JSONB] = {"jsonb", 3802, -1, COL_STRING, SC_USER, false},
    [ST_TEXTARR] = {"text[]", 1009, -1, COL_BINARY, SC_ARRAY, false},
    [ST_OID] = {"oid", 26, 4, COL_INT64, SC_NUMERIC, false},
    [ST_INT2ARR] = {"smallint[]", 1005, -1, COL_BINARY, SC_ARRAY, false},
};

bool sql_type_by_oid(uint32_t oid, sql_type *out)
{
    for (int i = 0; i < ST_COUNT; i++)
        if (g_info[i].oid == oid && g_info[i].name && i != ST_NULL) {
            *out = sql_type_of((sql_tid)i);
            return true;
        }
    return false;
}

col_type sql_type_phys(sql_type t)
{
    return t.id < ST_COUNT ? g_info[t.id].phys : COL_STRING;
}

sql_cat sql_type_category(sql_type t)
{
    return t.id < ST_COUNT ? (sql_cat)g_info[t.id].cat : SC_UNKNOWN;
}

bool sql_type_preferred(sql_type t)
{
    return t.id < ST_COUNT && g_info[t.id].preferred;
}

uint32_t sql_type_oid(sql_type t)
{
    return t.id < ST_COUNT ? g_info[t.id].oid : 705;
}

int16_t sql_type_len(sql_type t)
{
    return t.id < ST_COUNT ? g_info[t.id].len : -1;
}

const char *sql_type_name(sql_type t, char *buf, size_t n)
{
    const char *base = t.id < ST_COUNT ? g_info[t.id].name : "unknown";
    if (t.id == ST_NUMERIC && t.mod >= 4)
        snprintf(buf, n, "numeric(%d,%d)", sql_numeric_precision(t), sql_numeric_scale(t));
    else if (t.id == ST_VARCHAR && t.mod >= 4)
        snprintf(buf, n, "character varying(%d)", t.mod - 4);
    else
        snprintf(buf, n, "%s", base);
    return buf;
}

bool sql_type_lookup(const char *name, const int32_t *mods, int nmods, bool array, sql_type *out)
{
    static const struct {
        const char *name;
        sql_tid id;
    } names[] = {
        {"bool", ST_BOOL},          {"boolean", ST_BOOL},
        {"int2", ST_INT2},          {"smallint", ST_INT2},
        {"int4", ST_INT4},          {"int", ST_INT4},
        {"integer", ST_INT4},       {"int8", ST_INT8},
        {"bigint", ST_INT8},        {"float4", ST_FLOAT4},
        {"real", ST_FLOAT4},        {"float8", ST_FLOAT8},
        {"double precision", ST_FLOAT8}, {"float", ST_FLOAT8},
        {"numeric", ST_NUMERIC},    {"decimal", ST_NUMERIC},
        {"text", ST_TEXT},          {"varchar", ST_VARCHAR},
        {"character varying", ST_VARCHAR}, {"bpchar", ST_TEXT},
        {"char", ST_TEXT},          {"character", ST_TEXT},
        {"name", ST_TEXT},          {"bytea", ST_BYTEA},
        {"date", ST_DATE},          {"timestamp", ST_TIMESTAMP},
        {"timestamp without time zone", ST_TIMESTAMP},
        {"timestamptz", ST_TIMESTAMPTZ}, {"timestamp with time zone", ST_TIMESTAMPTZ},
        {"interval", ST_INTERVAL},  {"uuid", ST_UUID},
        {"jsonb", ST_JSONB},        {"json", ST_JSONB},
        {"oid", ST_OID},            {"regclass", ST_OID},
        {"regtype", ST_OID},        {"regproc", ST_OID},
        {"regnamespace", ST_OID},   {"regrole", ST_OID},
        {"regprocedure", ST_OID},   {"int2vector", ST_INT2ARR},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(name, names[i].name) != 0)
            continue;
        sql_type t = sql_type_of(names[i].id);
        if (array) {
            /* the array types: text[] (of any text type) and int2[] */
            if (!sql_type_is_text(t) && t.id != ST_INT2)
                return false;
            *out = sql_type_of(t.id == ST_INT2 ? ST_INT2ARR : ST_TEXTARR);
            return true;
        }
        if (t.id == ST_NUMERIC && nmods) {
            int p = mods[0], s = nmods > 1 ? mods[1] : 0;
            if (nmods > 2 || p < 1 || p > 1000 || s < 0 || s > p)
                return false;
            t.mod = ((p << 16) | s) + 4;
        } else if (t.id == ST_VARCHAR && nmods) {
            if (nmods > 1 || mods[0] < 1 || mods[0] > 10485760)
                return false;
            t.mod = mods[0] + 4;
        } else if (nmods && (t.id == ST_TIMESTAMP || t.id == ST_TIMESTAMPTZ ||
                             t.id == ST_INTERVAL)) {
            /* a fractional-seconds precision: accepted, values keep their ns */
            if (nmods > 1 || mods[0] < 0 || mods[0] > 6)
                return false;
        } else if (nmods && !(t.id == ST_TEXT && !strcasecmp(name, "char")) &&
                   !(t.id == ST_TEXT && !strcasecmp(name, "character")) &&
                   !(t.id == ST_TEXT && !strcasecmp(name, "bpchar"))) {
            return false;
        }
        *out = t;
        return true;
    }
    return false;
}
