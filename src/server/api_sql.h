/*
 * api_sql.h - POST /api/query: SQL statements in, rows streamed out
 * (docs/internals/http-api.md describes the request and the three formats).
 */
#ifndef SL_SERVER_API_SQL_H
#define SL_SERVER_API_SQL_H

#include "base/budget.h"
#include "base/clock.h"
#include "base/dbuf.h"
#include "sql/sql.h"

#include <sys/types.h>

typedef struct api_query api_query;

/*
 * Parses the body, runs the first statement up to its first row, and takes
 * the response's memory from the budget.  format (?format=) or accept (the
 * Accept header) choose json (default), csv or table.  On failure *status is
 * the HTTP status (400 bad request or SQL error, 503 refused, 500) and errbody
 * holds {"error": {...}}.  Without admin (a key lacking that scope), the
 * admin table functions fail with 42501.
 */
int api_query_open(sql_engine *eng, budget *bud, const char *body, size_t len,
                   const char *format, const char *accept, bool expanded, bool admin,
                   api_query **out, int *status, dbuf *errbody);
const char *api_query_content_type(const api_query *a);
/* Up to max bytes of the response; 0 at the end, -1 on an internal failure. */
ssize_t api_query_read(api_query *a, char *buf, size_t max);
/* Frees everything (a client that left cancels the running statement). */
void api_query_close(api_query *a);

#endif
