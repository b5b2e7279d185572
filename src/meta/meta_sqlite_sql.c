/*
 * meta_sqlite_sql.c - the SQL engine's user tables and views: one row per
 * name with a versioned JSON definition (docs/internals/storage.md).
 *
 * A change is a compare-and-set on the version, applied by the writer thread
 * inside its own savepoint: a statement that lost a race changes nothing and
 * is told so (SL_ESTATE).
 */
#include "meta/meta_sqlite_int.h"

#include <string.h>

const char *const msq_sql_schema =
    "CREATE TABLE IF NOT EXISTS sql_tables("
    " name TEXT PRIMARY KEY, version INTEGER NOT NULL, def TEXT NOT NULL,"
    " updated INTEGER NOT NULL) WITHOUT ROWID;";

typedef struct sql_put {
    const char *name;
    int64_t expect;
    const char *def;
    int64_t *new_version;
} sql_put;

int msq_apply_sql_put(sqlite_meta *m, const void *rec, errmsg *e, int64_t now)
{
    const sql_put *p = rec;
    const char *sql = !p->def        ? "DELETE FROM sql_tables WHERE name = ?1 AND version = ?2"
                      : p->expect == 0 ? "INSERT OR IGNORE INTO sql_tables(name, version, def, "
                                         "updated) VALUES(?1, 1, ?3, ?4)"
                                       : "UPDATE sql_tables SET version = version + 1, def = ?3,"
                                         " updated = ?4 WHERE name = ?1 AND version = ?2";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(m->wdb, sql, -1, &st, NULL) != SQLITE_OK)
        return msq_db_fail(m->wdb, e, "prepare");
    msq_bind_text(st, 1, p->name);
    sqlite3_bind_int64(st, 2, p->expect);
    if (p->def) {
        msq_bind_text(st, 3, p->def);
        sqlite3_bind_int64(st, 4, now);
    }
    int rc = msq_step_done(m->wdb, st, e, "sql table");
    sqlite3_finalize(st);
    if (rc)
        return rc;
    if (sqlite3_changes(m->wdb) == 0) {
        if (p->def && p->expect == 0)
            return errmsg_set(e, SL_EEXIST, "relation \"%s\" already exists", p->name);
        return errmsg_set(e, SL_ESTATE, "relation \"%s\" was changed by another statement",
                          p->name);
    }
    if (p->new_version)
        *p->new_version = p->def ? p->expect + 1 : 0;
    return SL_OK;
}

int msq_sql_table_put(meta *mm, const char *name, int64_t expect_version, const char *def,
                      int64_t *new_version, errmsg *e)
{
    sql_put p = {name, expect_version, def, new_version};
    return msq_submit((sqlite_meta *)mm, REQ_SQL_PUT, &p, NULL, e);
}

typedef struct list_ctx {
    meta_sql_table_fn fn;
    void *arg;
} list_ctx;

static int each(sqlite3_stmt *st, void *ctx)
{
    list_ctx *c = ctx;
    meta_sql_table t = {msq_col_text(st, 0), sqlite3_column_int64(st, 1), msq_col_text(st, 2),
                        sqlite3_column_int64(st, 3)};
    return c->fn(c->arg, &t);
}

static void bind_name(sqlite3_stmt *st, const void *name)
{
    msq_bind_text(st, 1, name);
}

int msq_sql_table_list(meta *mm, const char *name, meta_sql_table_fn fn, void *arg, errmsg *e)
{
    list_ctx c = {fn, arg};
    if (name)
        return msq_query((sqlite_meta *)mm,
                         "SELECT name, version, def, updated FROM sql_tables WHERE name = ?1",
                         bind_name, name, each, &c, e);
    return msq_query((sqlite_meta *)mm, "SELECT name, version, def, updated FROM sql_tables",
                     NULL, NULL, each, &c, e);
}
