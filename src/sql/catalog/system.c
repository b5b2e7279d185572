/*
 * system.c - information_schema: the rows tools read to learn what tables
 * and columns exist (psql's \dt and \d in `streamlake sql` use them).
 *
 *   information_schema.tables   table_catalog, table_schema, table_name, table_type
 *   information_schema.columns  table_catalog, table_schema, table_name, column_name,
 *                               ordinal_position, data_type, is_nullable
 *
 * They list the lake's tables, the built-in views and the user tables and
 * views, made for each query from the catalog as it is then.  pg_catalog's
 * tables are in pg_catalog.c.
 */
#include "sql/catalog/tfuncs.h"

#include "base/alloc.h"
#include "sql/engine_int.h"

#include <string.h>

int sql_user_each(sql_engine *eng, arena *a, int (*fn)(void *arg, sql_table *t), void *arg);

typedef struct sys_ctx {
    ftab *f;
    bool columns;
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
    if (!c->columns) {
        sql_batch *b = ftab_batch(c->f);
        if (!b)
            return c->rc = SL_ENOMEM;
        int rc = put_text(&b->cols[0], "streamlake");
        rc |= put_text(&b->cols[1], "public");
        rc |= put_text(&b->cols[2], t->name);
        rc |= put_text(&b->cols[3], type);
        b->n++;
        return c->rc = rc ? SL_ENOMEM : SL_OK;
    }
    for (int i = 0; i < t->ncols; i++) {
        sql_batch *b = ftab_batch(c->f);
        if (!b)
            return c->rc = SL_ENOMEM;
        char tn[64];
        /* user views keep their column names only: their types are known when bound */
        bool typed = !(t->kind == TABLE_VIEW && t->coltypes[i].id == ST_TEXT && t->impl);
        int rc = put_text(&b->cols[0], "streamlake");
        rc |= put_text(&b->cols[1], "public");
        rc |= put_text(&b->cols[2], t->name);
        rc |= put_text(&b->cols[3], t->colnames[i]);
        rc |= col_vec_append_i32(&b->cols[4], i + 1);
        rc |= put_text(&b->cols[5], typed ? sql_type_name(t->coltypes[i], tn, sizeof tn) : NULL);
        rc |= put_text(&b->cols[6], "YES");
        b->n++;
        if (rc)
            return c->rc = SL_ENOMEM;
    }
    return SL_OK;
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
    bool columns = !strcmp(name, "columns");
    if (!columns && strcmp(name, "tables"))
        return NULL;
    ftab *f = ftab_new(eng, name, columns ? 7 : 4, &ftab_rows_ops);
    if (!f)
        return NULL;
    f->t.schema = "information_schema";
    static const char *tcols[] = {"table_catalog", "table_schema", "table_name", "table_type"};
    static const char *ccols[] = {"table_catalog", "table_schema", "table_name", "column_name",
                                  "ordinal_position", "data_type", "is_nullable"};
    for (int i = 0; i < f->t.ncols; i++)
        ftab_col(f, i, columns ? ccols[i] : tcols[i], columns && i == 4 ? ST_INT4 : ST_TEXT);
    sys_ctx c = {f, columns, SL_OK};
    for (int i = 0; !c.rc; i++) {
        sql_table *t = sql_builtin_table_at(eng, i);
        if (!t)
            break;
        add_table(&c, t);
    }
    if (!c.rc)
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
