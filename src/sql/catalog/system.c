/*
 * system.c - pg_catalog and information_schema: the rows clients read to
 * learn about tables, columns and types.  Not built yet: names in those
 * schemas are unknown relations for now.
 */
#include "sql/catalog/catalog.h"

sql_table *sql_system_table(struct sql_engine *eng, const char *schema, const char *name)
{
    (void)eng;
    (void)schema;
    (void)name;
    return NULL;
}
