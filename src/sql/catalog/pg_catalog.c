/*
 * pg_catalog.c - the pg_catalog tables PostgreSQL clients read to learn what
 * exists: pg_namespace, pg_type, pg_class, pg_attribute, pg_database,
 * pg_roles (and pg_authid), pg_am, pg_settings, and empty ones with their
 * columns (pg_index, pg_constraint, pg_description, pg_sequence, pg_proc,
 * pg_extension, ... : g_tables below); and the oids ::regclass and its kin
 * read from names (sql_pg_reg_oid).
 *
 * Made for each query from the catalog as it is then (like information_schema,
 * system.c).  Every table of ours is a relation of schema `public` (oid 2200);
 * a table's oid is derived from its name (16384 + a hash), so it stays the same
 * from one query to the next, as clients that look a table up and then its
 * columns need.  The columns are the ones clients ask for (psql, SQLAlchemy,
 * node's `postgres`), with PostgreSQL's names and types ("char" columns are
 * text here).
 */
#include "sql/catalog/tfuncs.h"

#include "base/alloc.h"
#include "sql/engine_int.h"

#include <stdio.h>
#include <string.h>

int sql_user_each(sql_engine *eng, arena *a, int (*fn)(void *arg, sql_table *t), void *arg);
struct sql_table *sql_user_lookup(sql_engine *eng, const char *name, arena *a, sql_err *e);

#define NS_CATALOG 11
#define NS_PUBLIC 2200
#define NS_INFO 13000
#define OWNER 10

/* One column of a pg_catalog table. */
typedef struct pgcol {
    const char *name;
    sql_tid type;
} pgcol;

/* A row builder: values in column order, each appended to the current batch. */
typedef struct rowb {
    ftab *f;
    sql_batch *b;
    int col, rc;
} rowb;

static void row_begin(rowb *r)
{
    r->col = 0;
    if (!(r->b = ftab_batch(r->f)))
        r->rc = SL_ENOMEM;
}

static void v_int(rowb *r, int64_t v)
{
    if (r->rc)
        return;
    col_vec *c = &r->b->cols[r->col];
    sql_tid t = r->f->types[r->col++].id;
    r->rc = t == ST_INT2 || t == ST_INT4 ? col_vec_append_i32(c, (int32_t)v)
                                          : col_vec_append_i64(c, v);
}

static void v_text(rowb *r, const char *s)
{
    if (r->rc)
        return;
    col_vec *c = &r->b->cols[r->col++];
    r->rc = s ? col_vec_append_str(c, s, strlen(s)) : col_vec_append_null(c);
}

static void v_bool(rowb *r, bool v)
{
    if (!r->rc)
        r->rc = col_vec_append_bool(&r->b->cols[r->col++], v);
}

static void v_f64(rowb *r, double v)
{
    if (!r->rc)
        r->rc = col_vec_append_f64(&r->b->cols[r->col++], v);
}

static void row_end(rowb *r)
{
    if (!r->rc)
        r->b->n++;
}

/* A table's oid: stable for its name. */
static int64_t rel_oid(const char *name)
{
    uint32_t h = 2166136261u;
    for (const char *p = name; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return 16384 + (int64_t)(h % 1000000000u);
}

/* ---- pg_namespace, pg_database, pg_roles ---- */

static const pgcol c_namespace[] = {
    {"oid", ST_OID}, {"nspname", ST_TEXT}, {"nspowner", ST_OID}, {"nspacl", ST_TEXT}};

static void fill_namespace(rowb *r)
{
    static const struct {
        int64_t oid;
        const char *name;
    } ns[] = {{NS_CATALOG, "pg_catalog"}, {NS_PUBLIC, "public"}, {NS_INFO, "information_schema"}};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        row_begin(r);
        v_int(r, ns[i].oid);
        v_text(r, ns[i].name);
        v_int(r, OWNER);
        v_text(r, NULL);
        row_end(r);
    }
}

static const pgcol c_database[] = {
    {"oid", ST_OID},          {"datname", ST_TEXT},       {"datdba", ST_OID},
    {"encoding", ST_INT4},    {"datcollate", ST_TEXT},    {"datctype", ST_TEXT},
    {"datistemplate", ST_BOOL}, {"datallowconn", ST_BOOL}, {"datconnlimit", ST_INT4},
    {"datacl", ST_TEXTARR}, {"datlocprovider", ST_TEXT}, {"daticulocale", ST_TEXT},
    {"datcollversion", ST_TEXT}, {"dattablespace", ST_OID}};

static void fill_database(rowb *r)
{
    row_begin(r);
    v_int(r, 16383);
    v_text(r, "lake");
    v_int(r, OWNER);
    v_int(r, 6); /* UTF8 */
    v_text(r, "C");
    v_text(r, "C");
    v_bool(r, false);
    v_bool(r, true);
    v_int(r, -1);
    v_text(r, NULL);
    v_text(r, "c");
    v_text(r, NULL);
    v_text(r, NULL);
    v_int(r, 1663);
    row_end(r);
}

static const pgcol c_roles[] = {
    {"oid", ST_OID},           {"rolname", ST_TEXT},        {"rolsuper", ST_BOOL},
    {"rolinherit", ST_BOOL},   {"rolcreaterole", ST_BOOL},  {"rolcreatedb", ST_BOOL},
    {"rolcanlogin", ST_BOOL},  {"rolreplication", ST_BOOL}, {"rolconnlimit", ST_INT4},
    {"rolvaliduntil", ST_TIMESTAMPTZ}, {"rolbypassrls", ST_BOOL}};

static void fill_roles(rowb *r)
{
    row_begin(r);
    v_int(r, OWNER);
    v_text(r, "streamlake");
    for (int i = 0; i < 6; i++)
        v_bool(r, i != 5); /* super, inherit, createrole, createdb, login; no replication */
    v_int(r, -1);
    if (!r->rc)
        r->rc = col_vec_append_null(&r->b->cols[r->col++]);
    v_bool(r, true);
    row_end(r);
}

/* pg_settings: the server's settings as a session starts with them (SHOW and
 * current_setting() give the session's own, after its SETs). */
static const pgcol c_settings[] = {
    {"name", ST_TEXT},       {"setting", ST_TEXT},     {"unit", ST_TEXT},
    {"category", ST_TEXT},   {"short_desc", ST_TEXT},  {"extra_desc", ST_TEXT},
    {"context", ST_TEXT},    {"vartype", ST_TEXT},     {"source", ST_TEXT},
    {"min_val", ST_TEXT},    {"max_val", ST_TEXT},     {"enumvals", ST_TEXTARR},
    {"boot_val", ST_TEXT},   {"reset_val", ST_TEXT},   {"sourcefile", ST_TEXT},
    {"sourceline", ST_INT4}, {"pending_restart", ST_BOOL}};

static void fill_settings(rowb *r)
{
    sql_session *s = NULL;
    if (sql_session_new(r->f->eng, &s)) {
        r->rc = SL_ENOMEM;
        return;
    }
    char buf[256];
    const char *name;
    for (int i = 0; !r->rc && (name = sql_setting_name_at(s, i)); i++) {
        const char *v = sql_session_get(s, name, buf, sizeof buf);
        row_begin(r);
        v_text(r, name);
        v_text(r, v);
        v_text(r, NULL);
        v_text(r, "Ungrouped");
        v_text(r, NULL);
        v_text(r, NULL);
        v_text(r, "user");
        v_text(r, "string");
        v_text(r, "default");
        for (int k = 0; k < 3; k++)
            v_text(r, NULL);
        v_text(r, v);
        v_text(r, v);
        v_text(r, NULL);
        if (!r->rc)
            r->rc = col_vec_append_null(&r->b->cols[r->col++]);
        v_bool(r, false);
        row_end(r);
    }
    sql_session_free(s);
}

/* ---- pg_type ---- */

static const pgcol c_type[] = {
    {"oid", ST_OID},          {"typname", ST_TEXT},      {"typnamespace", ST_OID},
    {"typowner", ST_OID},     {"typlen", ST_INT2},       {"typbyval", ST_BOOL},
    {"typtype", ST_TEXT},     {"typcategory", ST_TEXT},  {"typisdefined", ST_BOOL},
    {"typdelim", ST_TEXT},    {"typrelid", ST_OID},      {"typelem", ST_OID},
    {"typarray", ST_OID},     {"typinput", ST_TEXT},     {"typoutput", ST_TEXT},
    {"typreceive", ST_TEXT},  {"typsend", ST_TEXT},      {"typbasetype", ST_OID},
    {"typtypmod", ST_INT4},   {"typndims", ST_INT4},     {"typnotnull", ST_BOOL},
    {"typcollation", ST_OID}, {"typdefault", ST_TEXT}};

static void fill_type(rowb *r)
{
    /* name, oid, array oid, length, by value, category: PostgreSQL's pg_type rows */
    static const struct {
        const char *name;
        int64_t oid, array;
        int len;
        bool byval;
        const char *cat;
    } ts[] = {
        {"bool", 16, 1000, 1, true, "B"},        {"bytea", 17, 1001, -1, false, "U"},
        {"char", 18, 1002, 1, true, "S"},        {"name", 19, 1003, 64, false, "S"},
        {"int8", 20, 1016, 8, true, "N"},        {"int2", 21, 1005, 2, true, "N"},
        {"int4", 23, 1007, 4, true, "N"},        {"text", 25, 1009, -1, false, "S"},
        {"oid", 26, 1028, 4, true, "N"},         {"json", 114, 199, -1, false, "U"},
        {"float4", 700, 1021, 4, true, "N"},     {"float8", 701, 1022, 8, true, "N"},
        {"unknown", 705, 0, -2, false, "X"},     {"varchar", 1043, 1015, -1, false, "S"},
        {"date", 1082, 1182, 4, true, "D"},      {"time", 1083, 1183, 8, true, "D"},
        {"timestamp", 1114, 1115, 8, true, "D"}, {"timestamptz", 1184, 1185, 8, true, "D"},
        {"interval", 1186, 1187, 16, false, "T"}, {"numeric", 1700, 1231, -1, false, "N"},
        {"uuid", 2950, 2951, 16, false, "U"},    {"jsonb", 3802, 3807, -1, false, "U"},
    };
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
            if (pass && !ts[i].array)
                continue;
            char an[72];
            an[0] = '_';
            strncpy(an + 1, ts[i].name, sizeof an - 2);
            an[sizeof an - 1] = 0;
            row_begin(r);
            v_int(r, pass ? ts[i].array : ts[i].oid);
            v_text(r, pass ? an : ts[i].name);
            v_int(r, NS_CATALOG);
            v_int(r, OWNER);
            v_int(r, pass ? -1 : ts[i].len);
            v_bool(r, pass ? false : ts[i].byval);
            v_text(r, !pass && ts[i].oid == 705 ? "p" : "b");
            v_text(r, pass ? "A" : ts[i].cat);
            v_bool(r, true);
            v_text(r, ",");
            v_int(r, 0);
            v_int(r, pass ? ts[i].oid : 0);
            v_int(r, pass ? 0 : ts[i].array);
            v_text(r, pass ? "array_in" : NULL);
            v_text(r, pass ? "array_out" : NULL);
            v_text(r, pass ? "array_recv" : NULL);
            v_text(r, pass ? "array_send" : NULL);
            v_int(r, 0);
            v_int(r, -1);
            v_int(r, 0);
            v_bool(r, false);
            v_int(r, 0);
            v_text(r, NULL);
            row_end(r);
        }
    }
}

/* ---- pg_class, pg_attribute ---- */

static const pgcol c_class[] = {
    {"oid", ST_OID},              {"relname", ST_TEXT},         {"relnamespace", ST_OID},
    {"reltype", ST_OID},          {"relowner", ST_OID},         {"relam", ST_OID},
    {"reltuples", ST_FLOAT4},     {"relhasindex", ST_BOOL},     {"relpersistence", ST_TEXT},
    {"relkind", ST_TEXT},         {"relnatts", ST_INT2},        {"relchecks", ST_INT2},
    {"relhasrules", ST_BOOL},     {"relhastriggers", ST_BOOL},  {"relrowsecurity", ST_BOOL},
    {"relforcerowsecurity", ST_BOOL}, {"relispartition", ST_BOOL}, {"reloptions", ST_TEXTARR},
    {"relpartbound", ST_TEXT},    {"relacl", ST_TEXT},          {"reltoastrelid", ST_OID},
    {"reltablespace", ST_OID},    {"reloftype", ST_OID},        {"relreplident", ST_TEXT}};

static const pgcol c_attribute[] = {
    {"attrelid", ST_OID},       {"attname", ST_TEXT},         {"atttypid", ST_OID},
    {"attnum", ST_INT2},        {"attlen", ST_INT2},          {"atttypmod", ST_INT4},
    {"attndims", ST_INT4},      {"attnotnull", ST_BOOL},      {"atthasdef", ST_BOOL},
    {"attisdropped", ST_BOOL},  {"attidentity", ST_TEXT},     {"attgenerated", ST_TEXT},
    {"attcollation", ST_OID},   {"attstattarget", ST_INT4},   {"attstorage", ST_TEXT},
    {"attcompression", ST_TEXT}, {"attislocal", ST_BOOL},     {"attinhcount", ST_INT4},
    {"attacl", ST_TEXTARR},     {"attoptions", ST_TEXTARR},   {"attfdwoptions", ST_TEXTARR}};

typedef struct rel_ctx {
    rowb *r;
    bool attributes;
} rel_ctx;

static int add_rel(void *arg, sql_table *t)
{
    rel_ctx *x = arg;
    rowb *r = x->r;
    int64_t oid = rel_oid(t->name);
    if (!x->attributes) {
        row_begin(r);
        v_int(r, oid);
        v_text(r, t->name);
        v_int(r, NS_PUBLIC);
        v_int(r, 0);
        v_int(r, OWNER);
        v_int(r, t->kind == TABLE_VIEW ? 0 : 2); /* tables: pg_am's heap, as \d+ shows */
        v_f64(r, -1);
        v_bool(r, false);
        v_text(r, "p");
        v_text(r, t->kind == TABLE_VIEW ? "v" : "r");
        v_int(r, t->ncols);
        v_int(r, 0);
        for (int i = 0; i < 5; i++)
            v_bool(r, false);
        v_text(r, NULL);
        v_text(r, NULL);
        v_text(r, NULL);
        v_int(r, 0);
        v_int(r, 0);
        v_int(r, 0);
        v_text(r, "d");
        row_end(r);
        return r->rc;
    }
    for (int i = 0; i < t->ncols && !r->rc; i++) {
        sql_type ty = t->coltypes[i];
        int len = sql_type_len(ty);
        row_begin(r);
        v_int(r, oid);
        v_text(r, t->colnames[i]);
        v_int(r, sql_type_oid(ty));
        v_int(r, i + 1);
        v_int(r, len);
        v_int(r, ty.mod ? ty.mod : -1);
        v_int(r, sql_type_category(ty) == SC_ARRAY);
        v_bool(r, false);
        v_bool(r, false);
        v_bool(r, false);
        v_text(r, "");
        v_text(r, "");
        v_int(r, 0);
        v_int(r, -1);
        /* PostgreSQL's storage: fixed-length plain, numeric main, other varlena extended */
        v_text(r, len >= 0 ? "p" : ty.id == ST_NUMERIC ? "m" : "x");
        v_text(r, "");
        v_bool(r, true);
        v_int(r, 0);
        for (int k = 0; k < 3; k++)
            v_text(r, NULL);
        row_end(r);
    }
    return r->rc;
}

static void fill_rels(rowb *r, bool attributes)
{
    rel_ctx x = {r, attributes};
    for (int i = 0; !r->rc; i++) {
        sql_table *t = sql_builtin_table_at(r->f->eng, i);
        if (!t)
            break;
        add_rel(&x, t);
    }
    if (!r->rc)
        sql_user_each(r->f->eng, &r->f->mem, add_rel, &x);
}

static void fill_class(rowb *r)
{
    fill_rels(r, false);
}

static void fill_attribute(rowb *r)
{
    fill_rels(r, true);
}

/* ---- empty tables with the columns clients name ---- */

/* int2vector and int2[] columns are int2[]; oidvector and oid[] ones text[] (the
 * engine's oid = ANY (text[]) reads them). */
static const pgcol c_index[] = {
    {"indexrelid", ST_OID},     {"indrelid", ST_OID},          {"indnatts", ST_INT2},
    {"indnkeyatts", ST_INT2},   {"indisunique", ST_BOOL},      {"indnullsnotdistinct", ST_BOOL},
    {"indisprimary", ST_BOOL},  {"indisexclusion", ST_BOOL},   {"indimmediate", ST_BOOL},
    {"indisclustered", ST_BOOL}, {"indisvalid", ST_BOOL},      {"indcheckxmin", ST_BOOL},
    {"indisready", ST_BOOL},    {"indislive", ST_BOOL},        {"indisreplident", ST_BOOL},
    {"indkey", ST_INT2ARR},     {"indcollation", ST_TEXTARR},  {"indclass", ST_TEXTARR},
    {"indoption", ST_INT2ARR},  {"indexprs", ST_TEXT},         {"indpred", ST_TEXT}};
static const pgcol c_description[] = {
    {"objoid", ST_OID}, {"classoid", ST_OID}, {"objsubid", ST_INT4}, {"description", ST_TEXT}};
static const pgcol c_shdescription[] = {
    {"objoid", ST_OID}, {"classoid", ST_OID}, {"description", ST_TEXT}};
static const pgcol c_extension[] = {
    {"oid", ST_OID},          {"extname", ST_TEXT},       {"extowner", ST_OID},
    {"extnamespace", ST_OID}, {"extrelocatable", ST_BOOL}, {"extversion", ST_TEXT},
    {"extconfig", ST_TEXTARR}, {"extcondition", ST_TEXTARR}};
static const pgcol c_constraint[] = {
    {"oid", ST_OID},              {"conname", ST_TEXT},         {"connamespace", ST_OID},
    {"contype", ST_TEXT},         {"condeferrable", ST_BOOL},   {"condeferred", ST_BOOL},
    {"convalidated", ST_BOOL},    {"conrelid", ST_OID},         {"contypid", ST_OID},
    {"conindid", ST_OID},         {"conparentid", ST_OID},      {"confrelid", ST_OID},
    {"confupdtype", ST_TEXT},     {"confdeltype", ST_TEXT},     {"confmatchtype", ST_TEXT},
    {"conislocal", ST_BOOL},      {"coninhcount", ST_INT4},     {"connoinherit", ST_BOOL},
    {"conkey", ST_INT2ARR},       {"confkey", ST_INT2ARR},      {"conpfeqop", ST_TEXTARR},
    {"conppeqop", ST_TEXTARR},    {"conffeqop", ST_TEXTARR},    {"confdelsetcols", ST_INT2ARR},
    {"conexclop", ST_TEXTARR},    {"conbin", ST_TEXT}};
static const pgcol c_inherits[] = {
    {"inhrelid", ST_OID}, {"inhparent", ST_OID}, {"inhseqno", ST_INT4},
    {"inhdetachpending", ST_BOOL}};
static const pgcol c_sequence[] = {
    {"seqrelid", ST_OID}, {"seqtypid", ST_OID}, {"seqstart", ST_INT8}, {"seqincrement", ST_INT8},
    {"seqmax", ST_INT8}, {"seqmin", ST_INT8}, {"seqcache", ST_INT8}, {"seqcycle", ST_BOOL}};
static const pgcol c_enum[] = {
    {"oid", ST_OID}, {"enumtypid", ST_OID}, {"enumsortorder", ST_FLOAT4}, {"enumlabel", ST_TEXT}};
static const pgcol c_depend[] = {
    {"classid", ST_OID}, {"objid", ST_OID}, {"objsubid", ST_INT4}, {"refclassid", ST_OID},
    {"refobjid", ST_OID}, {"refobjsubid", ST_INT4}, {"deptype", ST_TEXT}};
static const pgcol c_attrdef[] = {
    {"oid", ST_OID}, {"adrelid", ST_OID}, {"adnum", ST_INT2}, {"adbin", ST_TEXT}};
static const pgcol c_proc[] = {
    {"oid", ST_OID},         {"proname", ST_TEXT},       {"pronamespace", ST_OID},
    {"prorettype", ST_OID},  {"prokind", ST_TEXT},       {"proargtypes", ST_TEXT},
    {"proretset", ST_BOOL},  {"provolatile", ST_TEXT},   {"proparallel", ST_TEXT},
    {"prosecdef", ST_BOOL},  {"proleakproof", ST_BOOL},  {"proowner", ST_OID},
    {"prolang", ST_OID},     {"prosrc", ST_TEXT},        {"proacl", ST_TEXTARR},
    {"procost", ST_FLOAT4},  {"prorows", ST_FLOAT4},     {"provariadic", ST_OID},
    {"prosupport", ST_TEXT}, {"proisstrict", ST_BOOL},   {"pronargs", ST_INT2},
    {"pronargdefaults", ST_INT2}, {"proallargtypes", ST_TEXTARR},
    {"proargmodes", ST_TEXTARR}, {"proargnames", ST_TEXTARR}, {"proargdefaults", ST_TEXT},
    {"protrftypes", ST_TEXTARR}, {"probin", ST_TEXT},     {"prosqlbody", ST_TEXT},
    {"proconfig", ST_TEXTARR}};

static const pgcol c_auth_members[] = {
    {"oid", ST_OID}, {"roleid", ST_OID}, {"member", ST_OID}, {"grantor", ST_OID},
    {"admin_option", ST_BOOL}};

static const pgcol c_am[] = {
    {"oid", ST_OID}, {"amname", ST_TEXT}, {"amhandler", ST_TEXT}, {"amtype", ST_TEXT}};

static void fill_am(rowb *r)
{
    row_begin(r);
    v_int(r, 2);
    v_text(r, "heap");
    v_text(r, "heap_tableam_handler");
    v_text(r, "t");
    row_end(r);
}

static const pgcol c_collation[] = {
    {"oid", ST_OID}, {"collname", ST_TEXT}, {"collnamespace", ST_OID}, {"collprovider", ST_TEXT}};

static const pgcol c_policy[] = {
    {"oid", ST_OID}, {"polname", ST_TEXT}, {"polrelid", ST_OID}, {"polcmd", ST_TEXT},
    {"polpermissive", ST_BOOL}, {"polroles", ST_TEXTARR}, {"polqual", ST_TEXT},
    {"polwithcheck", ST_TEXT}};
static const pgcol c_statistic_ext[] = {
    {"oid", ST_OID}, {"stxrelid", ST_OID}, {"stxname", ST_TEXT}, {"stxnamespace", ST_OID},
    {"stxowner", ST_OID}, {"stxstattarget", ST_INT4}, {"stxkeys", ST_INT2ARR},
    {"stxkind", ST_TEXTARR}, {"stxexprs", ST_TEXT}};
static const pgcol c_publication[] = {
    {"oid", ST_OID}, {"pubname", ST_TEXT}, {"pubowner", ST_OID}, {"puballtables", ST_BOOL},
    {"pubinsert", ST_BOOL}, {"pubupdate", ST_BOOL}, {"pubdelete", ST_BOOL},
    {"pubtruncate", ST_BOOL}, {"pubviaroot", ST_BOOL}};
static const pgcol c_publication_rel[] = {
    {"oid", ST_OID}, {"prpubid", ST_OID}, {"prrelid", ST_OID}, {"prqual", ST_TEXT},
    {"prattrs", ST_INT2ARR}};
static const pgcol c_publication_ns[] = {
    {"oid", ST_OID}, {"pnpubid", ST_OID}, {"pnnspid", ST_OID}};
static const pgcol c_trigger[] = {
    {"oid", ST_OID},            {"tgrelid", ST_OID},         {"tgparentid", ST_OID},
    {"tgname", ST_TEXT},        {"tgfoid", ST_OID},          {"tgtype", ST_INT2},
    {"tgenabled", ST_TEXT},     {"tgisinternal", ST_BOOL},   {"tgconstrrelid", ST_OID},
    {"tgconstrindid", ST_OID},  {"tgconstraint", ST_OID},    {"tgdeferrable", ST_BOOL},
    {"tginitdeferred", ST_BOOL}, {"tgnargs", ST_INT2},       {"tgattr", ST_INT2ARR},
    {"tgargs", ST_BYTEA},       {"tgqual", ST_TEXT},         {"tgoldtable", ST_TEXT},
    {"tgnewtable", ST_TEXT}};
static const pgcol c_rewrite[] = {
    {"oid", ST_OID}, {"rulename", ST_TEXT}, {"ev_class", ST_OID}, {"ev_type", ST_TEXT},
    {"ev_enabled", ST_TEXT}, {"is_instead", ST_BOOL}, {"ev_qual", ST_TEXT}, {"ev_action", ST_TEXT}};

static void fill_none(rowb *r)
{
    (void)r;
}

typedef struct pgtable {
    const char *name;
    const pgcol *cols;
    int ncols;
    void (*fill)(rowb *r);
} pgtable;

#define T(n, c, f) {n, c, (int)(sizeof c / sizeof c[0]), f}
static const pgtable g_tables[] = {
    T("pg_namespace", c_namespace, fill_namespace),
    T("pg_database", c_database, fill_database),
    T("pg_roles", c_roles, fill_roles),
    T("pg_authid", c_roles, fill_roles),
    T("pg_type", c_type, fill_type),
    T("pg_class", c_class, fill_class),
    T("pg_attribute", c_attribute, fill_attribute),
    T("pg_index", c_index, fill_none),
    T("pg_description", c_description, fill_none),
    T("pg_shdescription", c_shdescription, fill_none),
    T("pg_settings", c_settings, fill_settings),
    T("pg_extension", c_extension, fill_none),
    T("pg_constraint", c_constraint, fill_none),
    T("pg_inherits", c_inherits, fill_none),
    T("pg_attrdef", c_attrdef, fill_none),
    T("pg_proc", c_proc, fill_none),
    T("pg_am", c_am, fill_am),
    T("pg_auth_members", c_auth_members, fill_none),
    T("pg_collation", c_collation, fill_none),
    T("pg_policy", c_policy, fill_none),
    T("pg_statistic_ext", c_statistic_ext, fill_none),
    T("pg_publication", c_publication, fill_none),
    T("pg_publication_rel", c_publication_rel, fill_none),
    T("pg_publication_namespace", c_publication_ns, fill_none),
    T("pg_trigger", c_trigger, fill_none),
    T("pg_rewrite", c_rewrite, fill_none),
    T("pg_sequence", c_sequence, fill_none),
    T("pg_enum", c_enum, fill_none),
    T("pg_depend", c_depend, fill_none),
};
#undef T

static void free_table(void *t)
{
    sql_table_free(t);
}

sql_table *sql_pg_catalog_table(struct sql_engine *eng, const char *name, arena *a)
{
    const pgtable *d = NULL;
    for (size_t i = 0; i < sizeof g_tables / sizeof g_tables[0]; i++)
        if (!strcmp(g_tables[i].name, name))
            d = &g_tables[i];
    if (!d || !a)
        return NULL;
    ftab *f = ftab_new(eng, d->name, d->ncols, &ftab_rows_ops);
    if (!f)
        return NULL;
    f->t.schema = "pg_catalog";
    for (int i = 0; i < d->ncols; i++)
        ftab_col(f, i, d->cols[i].name, d->cols[i].type);
    rowb r = {f, NULL, 0, SL_OK};
    d->fill(&r);
    if (!r.rc)
        r.rc = ftab_flush(f);
    if (r.rc || arena_on_cleanup(a, free_table, &f->t)) {
        sql_batch_free(f->cur);
        f->cur = NULL;
        sql_table_free(&f->t);
        return NULL;
    }
    return &f->t;
}

/* PostgreSQL's oids of the catalog tables clients name in ::regclass casts (the
 * others of ours get the hash of their name, as every table does). */
static int64_t catalog_rel_oid(const char *name)
{
    static const struct {
        const char *name;
        int64_t oid;
    } known[] = {{"pg_type", 1247},        {"pg_attribute", 1249}, {"pg_proc", 1255},
                 {"pg_class", 1259},       {"pg_authid", 1260},    {"pg_database", 1262},
                 {"pg_am", 2601},          {"pg_attrdef", 2604},   {"pg_constraint", 2606},
                 {"pg_depend", 2608},      {"pg_description", 2609}, {"pg_index", 2610},
                 {"pg_inherits", 2611},    {"pg_namespace", 2615}, {"pg_rewrite", 2618},
                 {"pg_trigger", 2620},     {"pg_enum", 3501},      {"pg_extension", 3079},
                 {"pg_shdescription", 2396}, {"pg_collation", 3456}, {"pg_sequence", 2224}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(known[i].name, name))
            return known[i].oid;
    return rel_oid(name);
}

/* A name as an identifier of SQL: "Quoted" as written, unquoted folded to lower
 * case; the text after a schema qualifier when schema is given. */
static bool ident(const char *s, char *out, size_t n, char *schema, size_t sn)
{
    char part[2][128];
    int np = 0;
    while (*s && np < 2) {
        size_t k = 0;
        if (*s == '"') {
            for (s++; *s && !(s[0] == '"' && s[1] != '"'); s++) {
                s += s[0] == '"';
                if (k + 1 < sizeof part[0])
                    part[np][k++] = *s;
            }
            if (*s++ != '"')
                return false;
        } else {
            for (; *s && *s != '.'; s++)
                if (k + 1 < sizeof part[0])
                    part[np][k++] = *s >= 'A' && *s <= 'Z' ? (char)(*s + 32) : *s;
        }
        part[np++][k] = 0;
        if (*s && *s++ != '.')
            return false;
    }
    if (*s || !np)
        return false;
    snprintf(out, n, "%s", part[np - 1]);
    snprintf(schema, sn, "%s", np == 2 ? part[0] : "");
    return true;
}

int sql_pg_reg_oid(struct sql_engine *eng, const char *kind, const char *text, arena *a,
                   int64_t *oid)
{
    char name[128], schema[128];
    if (!ident(text, name, sizeof name, schema, sizeof schema))
        return -1;
    if (!strcmp(kind, "regnamespace")) {
        static const char *const ns[] = {"pg_catalog", "public", "information_schema"};
        static const int64_t ns_oid[] = {NS_CATALOG, NS_PUBLIC, NS_INFO};
        for (int i = 0; i < 3; i++)
            if (!*schema && !strcmp(name, ns[i]))
                return *oid = ns_oid[i], 0;
        return -1;
    }
    if (!strcmp(kind, "regrole"))
        return !*schema && !strcmp(name, "streamlake") ? (*oid = OWNER, 0) : -1;
    if (!strcmp(kind, "regtype")) {
        sql_type t;
        if (*schema && strcmp(schema, "pg_catalog"))
            return -1;
        return sql_type_lookup(name, NULL, 0, false, &t) ? (*oid = sql_type_oid(t), 0) : -1;
    }
    /* regclass: a catalog table, a lake table or a user table */
    bool in_catalog = !strcmp(schema, "pg_catalog"), in_public = !*schema ||
                      !strcmp(schema, "public");
    for (size_t i = 0; (in_catalog || !*schema) && i < sizeof g_tables / sizeof g_tables[0]; i++)
        if (!strcmp(g_tables[i].name, name))
            return *oid = catalog_rel_oid(name), 0;
    if (!in_public)
        return -1;
    sql_err e;
    sql_err_clear(&e);
    if (sql_builtin_table(eng, NULL, name, NULL) || sql_user_lookup(eng, name, a, &e))
        return *oid = rel_oid(name), 0;
    return -1;
}
