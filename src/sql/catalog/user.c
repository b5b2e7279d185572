/*
 * user.c - user tables and views.  First slice: not available yet.
 */
#include "sql/query_int.h"

int sql_user_open(sql_engine *eng, errmsg *e);
void sql_user_close(sql_engine *eng);
struct sql_table *sql_user_lookup(sql_engine *eng, const char *name, arena *a);

int sql_user_open(sql_engine *eng, errmsg *e)
{
    (void)eng;
    (void)e;
    return SL_OK;
}

void sql_user_close(sql_engine *eng)
{
    (void)eng;
}

struct sql_table *sql_user_lookup(sql_engine *eng, const char *name, arena *a)
{
    (void)eng;
    (void)name;
    (void)a;
    return NULL;
}

int sql_user_statement(sql_query *q, binder *b, const PgQuery__Node *st)
{
    (void)b;
    (void)st;
    return sql_err_set(q->e, SQLSTATE_FEATURE, -1, "user tables are not available yet");
}
