/*
 * system.c - information_schema: the rows tools read to learn what tables
 * and columns exist (psql's \dt and \d in `streamlake sql` use them).
 *
 *   information_schema.tables   table_catalog, table_schema, table_name, table_type
 *   information_schema.columns  table_catalog, table_schema, table_name, column_name,
 *                               ordinal_position, column_default, is_nullable,
 *                               data_type, character_maximum_length,
 *                               numeric_precision, numeric_scale,
 *                               datetime_precision, udt_catalog, udt_schema, udt_name
 *   information_schema.schemata catalog_name, schema_name, schema_owner
 *   information_schema.views    table_catalog, table_schema, table_name,
 *                               view_definition, check_option, is_updatable,
 *                               is_insertable_into, is_trigger_updatable,
 *                               is_trigger_deletable, is_trigger_insertable_into
 *
 * They list the lake's tables, the built-in views and the user tables and
 * views, made for each query from the catalog as it is then.  pg_catalog's
 * tables are in pg_catalog.c.
 */
#include "sql/catalog/tfuncs.h"

#include "base/alloc.h"
#include "sql/engine_int.h"

#include <stdio.h>
#include <string.h>

int sql_user_each(sql_engine *eng, arena *a, int (*fn)(void *arg, sql_table *t), void *arg);

static const char *udt_name(sql_type t, char *buf, size_t n);

typedef struct sys_ctx {
    ftab *f;
    bool columns, views;
    int rc;
} sys_ctx;

static int put_text(col_vec *v, const char *s)
{
    return s ? col_vec_append_str(v, s, strlen(s)) : col_vec_append_null(v);
}

static int add_table(void *arg, sql_table *t)
{
    sys_ctx *c = arg;
    const char *type = t->kind == TABLE_VIEW ? "VIEW" : "BASE TABLE";
    if (c->views && t->kind != TABLE_VIEW)
        return SL_OK;
    if (!c->columns) {
        sql_batch *b = ftab_batch(c->f);
        if (!b)
            return c->rc = SL_ENOMEM;
        int rc = put_text(&b->cols[0], "streamlake");
        rc |= put_text(&b->cols[1], "public");
        rc |= put_text(&b->cols[2], t->name);
        if (c->views) {
            /* the SELECT as stored; views here are read-only */
            rc |= put_text(&b->cols[3], t->view_sql);
            rc |= put_text(&b->cols[4], "NONE");
            for (int k = 5; k < 10; k++)
                rc |= put_text(&b->cols[k], "NO");
        } else {
            rc |= put_text(&b->cols[3], type);
        }
        b->n++;
        return c->rc = rc ? SL_ENOMEM : SL_OK;
    }
    for (int i = 0; i < t->ncols; i++) {
        sql_batch *b = ftab_batch(c->f);
        if (!b)
            return c->rc = SL_ENOMEM;
        char tn[64], un[64];
        /* user views keep their column names only: their types are known when bound */
        sql_type ty = t->coltypes[i];
        bool typed = !(t->kind == TABLE_VIEW && ty.id == ST_TEXT && t->impl);
        int rc = put_text(&b->cols[0], "streamlake");
        rc |= put_text(&b->cols[1], "public");
        rc |= put_text(&b->cols[2], t->name);
        rc |= put_text(&b->cols[3], t->colnames[i]);
        rc |= col_vec_append_i32(&b->cols[4], i + 1);
        rc |= put_text(&b->cols[5], NULL);
        rc |= put_text(&b->cols[6], "YES");
        /* data_type as PostgreSQL's information_schema spells it: without the
         * modifiers, ARRAY for arrays; udt_name is pg_type's name */
        const char *dt = typed ? sql_type_name(sql_type_of(ty.id), tn, sizeof tn) : NULL;
        rc |= put_text(&b->cols[7], dt && strchr(dt, '[') ? "ARRAY" : dt);
        bool num = ty.id == ST_NUMERIC && ty.mod > 0, ts = ty.id == ST_TIMESTAMP ||
                                                         ty.id == ST_TIMESTAMPTZ;
        int32_t prec = ty.id == ST_INT2 ? 16 : ty.id == ST_INT4 ? 32 : ty.id == ST_INT8 ? 64
                       : ty.id == ST_FLOAT4 ? 24 : ty.id == ST_FLOAT8 ? 53
                       : num ? (int32_t)((ty.mod - 4) >> 16) : -1;
        int32_t scale = ty.id == ST_INT2 || ty.id == ST_INT4 || ty.id == ST_INT8 ? 0
                        : num ? (int32_t)((ty.mod - 4) & 0xffff) : -1;
        int32_t chars = ty.id == ST_VARCHAR && ty.mod > 4 ? ty.mod - 4 : -1;
        int32_t vals[4] = {chars, prec, scale, ts || ty.id == ST_DATE ? (ts ? 6 : 0) : -1};
        for (int k = 0; k < 4; k++)
            rc |= vals[k] < 0 ? col_vec_append_null(&b->cols[8 + k])
                              : col_vec_append_i32(&b->cols[8 + k], vals[k]);
        rc |= put_text(&b->cols[12], typed ? "streamlake" : NULL);
        rc |= put_text(&b->cols[13], typed ? "pg_catalog" : NULL);
        rc |= put_text(&b->cols[14], typed ? udt_name(ty, un, sizeof un) : NULL);
        b->n++;
        if (rc)
            return c->rc = SL_ENOMEM;
    }
    return SL_OK;
}

/* pg_type's name of a type ("int4", "_text", "timestamptz"). */
static const char *udt_name(sql_type t, char *buf, size_t n)
{
    sql_type base = t;
    bool arr = t.id == ST_TEXTARR || t.id == ST_INT2ARR;
    if (arr)
        base = sql_type_of(t.id == ST_INT2ARR ? ST_INT2 : ST_TEXT);
    uint32_t oid = sql_type_oid(base);
    static const struct {
        uint32_t oid;
        const char *name;
    } names[] = {{16, "bool"},     {17, "bytea"},    {20, "int8"},        {21, "int2"},
                 {23, "int4"},     {25, "text"},     {26, "oid"},         {700, "float4"},
                 {701, "float8"},  {1043, "varchar"}, {1082, "date"},     {1114, "timestamp"},
                 {1184, "timestamptz"}, {1186, "interval"}, {1700, "numeric"}, {2950, "uuid"},
                 {3802, "jsonb"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].oid == oid) {
            snprintf(buf, n, "%s%s", arr ? "_" : "", names[i].name);
            return buf;
        }
    return NULL;
}

static void free_table(void *t)
{
    sql_table_free(t);
}

sql_table *sql_system_table(struct sql_engine *eng, const char *schema, const char *name,
                            arena *a)
{
    if (a && schema && !strcmp(schema, "pg_catalog"))
        return sql_pg_catalog_table(eng, name, a);
    if (!a || !schema || strcmp(schema, "information_schema"))
        return NULL;
    bool columns = !strcmp(name, "columns"), schemata = !strcmp(name, "schemata"),
         views = !strcmp(name, "views");
    if (!columns && !schemata && !views && strcmp(name, "tables"))
        return NULL;
    ftab *f = ftab_new(eng, name, columns ? 15 : schemata ? 3 : views ? 10 : 4, &ftab_rows_ops);
    if (!f)
        return NULL;
    f->t.schema = "information_schema";
    static const char *tcols[] = {"table_catalog", "table_schema", "table_name", "table_type"};
    static const char *scols[] = {"catalog_name", "schema_name", "schema_owner"};
    static const char *ccols[] = {"table_catalog",      "table_schema",
                                  "table_name",         "column_name",
                                  "ordinal_position",   "column_default",
                                  "is_nullable",        "data_type",
                                  "character_maximum_length", "numeric_precision",
                                  "numeric_scale",      "datetime_precision",
                                  "udt_catalog",        "udt_schema",
                                  "udt_name"};
    static const char *vcols[] = {"table_catalog",        "table_schema",
                                  "table_name",           "view_definition",
                                  "check_option",         "is_updatable",
                                  "is_insertable_into",   "is_trigger_updatable",
                                  "is_trigger_deletable", "is_trigger_insertable_into"};
    for (int i = 0; i < f->t.ncols; i++)
        ftab_col(f, i, columns ? ccols[i] : schemata ? scols[i] : views ? vcols[i] : tcols[i],
                 columns && (i == 4 || (i >= 8 && i <= 11)) ? ST_INT4 : ST_TEXT);
    sys_ctx c = {f, columns, views, SL_OK};
    static const char *const schemas[] = {"information_schema", "pg_catalog", "public"};
    for (int i = 0; schemata && i < 3 && !c.rc; i++) {
        sql_batch *b = ftab_batch(f);
        c.rc = !b || put_text(&b->cols[0], "streamlake") || put_text(&b->cols[1], schemas[i]) ||
                       put_text(&b->cols[2], "streamlake") ? SL_ENOMEM : SL_OK;
        if (b && !c.rc)
            b->n++;
    }
    for (int i = 0; !schemata && !c.rc; i++) {
        sql_table *t = sql_builtin_table_at(eng, i);
        if (!t)
            break;
        add_table(&c, t);
    }
    if (!c.rc && !schemata)
        sql_user_each(eng, &f->mem, add_table, &c);
    if (!c.rc)
        c.rc = ftab_flush(f);
    if (c.rc || arena_on_cleanup(a, free_table, &f->t)) {
        sql_batch_free(f->cur);
        f->cur = NULL;
        sql_table_free(&f->t);
        return NULL;
    }
    return &f->t;
}
