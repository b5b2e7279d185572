/*
 * run.h - running a text of statements with formatted output (run.c).
 */
#ifndef SL_SQL_RUN_H
#define SL_SQL_RUN_H

#include "sql/format.h"
#include "sql/sql.h"

#include <stdlib.h>

typedef struct sql_run_stats {
    int statements;          /* finished */
    uint64_t rows;
    double last_ms;
    sql_err err;             /* the failure, if any */
} sql_run_stats;

/*
 * Runs every statement of text in order, formatting each result to f; stops
 * at the first failure (formatted too).  0, or the failure's code.
 */
int sql_run_script(sql_session *s, const char *text, const sql_query_opts *o, sql_fmt *f,
                   sql_run_stats *st);

#endif
