/*
 * type.h - SQL types: what they are called, how they are stored, how they mix.
 *
 * The engine speaks PostgreSQL's types.  Each SQL type has one physical
 * representation in src/col vectors:
 *
 *   bool                   COL_BOOL     bits
 *   int2, int4             COL_INT32    (int2 range-checked)
 *   int8                   COL_INT64
 *   float4, float8         COL_DOUBLE   (float4 values rounded to float)
 *   numeric                COL_FIXED16  int128: mantissa << 6 | scale (numeric.h)
 *   text, varchar, unknown COL_STRING or COL_DICT
 *   jsonb                  COL_STRING   canonical jsonb text (jsonb.h)
 *   uuid                   COL_STRING   canonical lower-case 36-character text,
 *                                       whose byte order is the uuid order
 *   bytea                  COL_BINARY
 *   text[]                 COL_BINARY   an encoded array (textarr.h)
 *   int2[]                 COL_BINARY   the same encoding, elements in canonical
 *                                       decimal text (the catalog's int2vector)
 *   date                   COL_INT32    days since 1970-01-01
 *   timestamp, timestamptz COL_TS_NS    ns since 1970-01-01 (UTC for timestamptz)
 *   interval               COL_FIXED16  months, days, ns (interval.h)
 *
 * Type modifiers use PostgreSQL's encoding (numeric: ((precision << 16) |
 * scale) + 4; varchar: length + 4; -1 for none), so that the wire protocol can
 * report them as PostgreSQL does.  Categories and preferred types follow
 * PostgreSQL's catalogs (pg_type.typcategory, typispreferred); they drive
 * implicit casts and operator resolution (src/sql/plan/coerce.c).
 */
#ifndef SL_SQL_TYPES_TYPE_H
#define SL_SQL_TYPES_TYPE_H

#include "col/col.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum sql_tid {
    ST_NULL = 0,   /* the type of a bare NULL before it meets another type */
    ST_BOOL,
    ST_INT2,
    ST_INT4,
    ST_INT8,
    ST_FLOAT4,
    ST_FLOAT8,
    ST_NUMERIC,
    ST_TEXT,
    ST_VARCHAR,
    ST_UNKNOWN,    /* a quoted literal whose type context has not decided yet */
    ST_BYTEA,
    ST_DATE,
    ST_TIMESTAMP,
    ST_TIMESTAMPTZ,
    ST_INTERVAL,
    ST_UUID,
    ST_JSONB,
    ST_TEXTARR,
    ST_OID,        /* pg_catalog's oid: an unsigned 4-byte integer, stored as int8 */
    ST_INT2ARR,    /* int2[] (and int2vector): column numbers in pg_index, pg_constraint */
    ST_COUNT
} sql_tid;

typedef struct sql_type {
    uint8_t id;     /* sql_tid */
    int32_t mod;    /* PostgreSQL typmod, -1 for none */
} sql_type;

static inline sql_type sql_type_of(sql_tid id)
{
    return (sql_type){(uint8_t)id, -1};
}

static inline bool sql_type_eq(sql_type a, sql_type b)
{
    return a.id == b.id && a.mod == b.mod;
}

/* PostgreSQL's type categories (pg_type.typcategory). */
typedef enum sql_cat {
    SC_BOOL = 'B', SC_NUMERIC = 'N', SC_STRING = 'S', SC_DATETIME = 'D', SC_TIMESPAN = 'T',
    SC_USER = 'U', SC_ARRAY = 'A', SC_UNKNOWN = 'X'
} sql_cat;

/* The physical vector type values of t are stored as. */
col_type sql_type_phys(sql_type t);
sql_cat sql_type_category(sql_type t);
/* PostgreSQL's preferred type of a category (float8, text, timestamptz, interval). */
bool sql_type_preferred(sql_type t);
/* The type's OID in PostgreSQL's catalog (pg_type.oid), for the wire protocol. */
uint32_t sql_type_oid(sql_type t);
/* The fixed size PostgreSQL reports (RowDescription typlen), -1 for varlena. */
int16_t sql_type_len(sql_type t);
/* The type as PostgreSQL's format_type prints it ("integer", "numeric(10,2)", ...). */
const char *sql_type_name(sql_type t, char *buf, size_t n);
/* The type for a name as SQL spells it ("int", "double precision", "timestamptz"...)
 * with optional modifier values; false if unknown or the modifiers are invalid. */
/* The type with PostgreSQL's pg_type.oid `oid` (false: none of ours). */
bool sql_type_by_oid(uint32_t oid, sql_type *out);
bool sql_type_lookup(const char *name, const int32_t *mods, int nmods, bool array,
                     sql_type *out);
/* Text-like: text, varchar, unknown (string category, stored as strings). */
static inline bool sql_type_is_text(sql_type t)
{
    return t.id == ST_TEXT || t.id == ST_VARCHAR || t.id == ST_UNKNOWN;
}
static inline bool sql_type_is_int(sql_type t)
{
    return t.id == ST_INT2 || t.id == ST_INT4 || t.id == ST_INT8 || t.id == ST_OID;
}
static inline bool sql_type_is_float(sql_type t)
{
    return t.id == ST_FLOAT4 || t.id == ST_FLOAT8;
}

/* numeric typmod helpers: precision and scale, or -1 when unconstrained. */
static inline int sql_numeric_precision(sql_type t)
{
    return t.mod < 4 ? -1 : ((t.mod - 4) >> 16) & 0xffff;
}
static inline int sql_numeric_scale(sql_type t)
{
    return t.mod < 4 ? -1 : (t.mod - 4) & 0xffff;
}

#endif
