/*
 * parse.h - SQL text to PostgreSQL's parse tree (libpg_query).
 *
 * libpg_query is PostgreSQL's own grammar; its parse tree comes as protobuf
 * and is unpacked with protobuf-c into the PgQuery__* structs that the binder
 * walks.  A syntax error becomes SQLSTATE 42601 with PostgreSQL's message and
 * cursor position.  Several statements in one text are split with their text
 * ranges (stmt_location, stmt_len), so each runs and reports on its own.
 */
#ifndef SL_SQL_FRONT_PARSE_H
#define SL_SQL_FRONT_PARSE_H

#include "sql/front/error.h"

#include <stdatomic.h>
#include <stdint.h>

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

typedef struct sql_parsed {
    PgQuery__ParseResult *tree;  /* tree->stmts[i]->stmt, ->stmt_location, ->stmt_len */
    size_t n_stmts;
} sql_parsed;

/* A text parsed once and shared (sql.h's sql_parsed_text; session.c makes them). */
struct sql_parsed_text {
    _Atomic int64_t refs;
    sql_parsed ps;
};

/* protobuf leaves an absent string field as "", not NULL: this gives NULL for both. */
static inline const char *pstr(const char *s)
{
    return s && *s ? s : NULL;
}

/* Parses text (NUL-terminated).  0, or SL_EINVAL with e set (42601, position). */
int sql_parse(const char *text, sql_parsed *out, sql_err *e);
void sql_parsed_free(sql_parsed *p);

/* The text of statement i (a view of text: start and length). */
void sql_parsed_stmt_text(const sql_parsed *p, const char *text, size_t i, const char **s,
                          size_t *n);

#endif
