/*
 * format.h - query results as text: psql-style tables, CSV, JSON lines.
 *
 * Shared by `streamlake sql` and the HTTP API (POST /api/query), so both
 * print the same bytes.  Values are PostgreSQL's text forms (value.h).
 *
 *   table  psql's aligned format: a header, a rule, one line per row, numbers
 *          right-aligned, and "(n rows)"; widths come from the first 1,000
 *          rows (later rows print as they come, so a long result streams);
 *          expanded (\x): one "-[ RECORD n ]" block per row
 *   csv    RFC 4180: a header row of names, then rows; NULL is an empty
 *          field, an empty string is "" (as COPY ... CSV writes them)
 *   json   JSON lines: {"columns":[{"name":..,"type":..}...]} first, then one
 *          array per row (numbers and booleans as JSON, jsonb as JSON, the rest
 *          as strings), then {"end":{...}} or {"error":{...}}
 *          (docs/internals/http-api.md has the byte-level description)
 */
#ifndef SL_SQL_FORMAT_H
#define SL_SQL_FORMAT_H

#include "sql/exec/vec.h"
#include "sql/front/error.h"

typedef enum sql_fmt_kind { SQL_FMT_TABLE, SQL_FMT_CSV, SQL_FMT_JSON } sql_fmt_kind;

typedef int (*sql_fmt_write)(void *arg, const void *p, size_t n);

typedef struct sql_fmt sql_fmt;

/* "table", "csv" or "json" (also "jsonl", "ndjson"); -1 if unknown. */
int sql_fmt_parse(const char *s);

int sql_fmt_new(sql_fmt_kind k, bool expanded, sql_fmt_write w, void *arg, sql_fmt **out);
/* A result's columns (before its rows).  Commands without rows skip this. */
int sql_fmt_begin(sql_fmt *f, int ncols, const char *const *names, const sql_type *types);
int sql_fmt_batch(sql_fmt *f, const sql_batch *b);
/*
 * The row lines sql_fmt_batch writes for csv or json (no header, nothing
 * written), appended to out: for a writer that formats rows on several threads
 * and writes the bytes on one.  val is scratch for a value's text (json).
 */
int sql_fmt_rows(sql_fmt_kind k, int ncols, const sql_type *types, const sql_batch *b,
                 dbuf *out, dbuf *val);
/* The end of one statement's result: the footer (table), the end line (json). */
int sql_fmt_end(sql_fmt *f, const char *tag, uint64_t rows, double ms);
/* A failure (of the statement, or mid-stream): psql's text, or the json error line. */
int sql_fmt_error(sql_fmt *f, const sql_err *e, const char *text);
void sql_fmt_free(sql_fmt *f);

/* The JSON object of an error: {"sqlstate":..,"message":..,"position":..,...}. */
struct jw;
void sql_err_json(const sql_err *e, struct jw *w);

#endif
