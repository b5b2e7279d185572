/*
 * rows.c - batches as CSV, JSON lines or a table (see rows.h).
 */
#include "lake/rows.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int rows_format_parse(const char *s, rows_format *out)
{
    if (!strcmp(s, "csv"))
        *out = ROWS_CSV;
    else if (!strcmp(s, "json"))
        *out = ROWS_JSON;
    else if (!strcmp(s, "table"))
        *out = ROWS_TABLE;
    else
        return SL_EINVAL;
    return SL_OK;
}

const char *rows_content_type(rows_format f)
{
    return f == ROWS_CSV ? "text/csv; charset=utf-8"
           : f == ROWS_JSON ? "application/x-ndjson" : "text/plain; charset=utf-8";
}

static int table_width(col_type t)
{
    switch (t) {
    case COL_TS_NS: return 30;
    case COL_STRING:
    case COL_BINARY:
    case COL_DICT: return 36;
    case COL_BOOL: return 5;
    default: return 12;
    }
}

/* Text of a non-string value into buf; returns its length. */
static int value_text(const col_vec *v, int64_t r, char *buf, size_t n)
{
    switch (v->type) {
    case COL_BOOL: return snprintf(buf, n, "%s", col_vec_bool(v, r) ? "true" : "false");
    case COL_INT32: return snprintf(buf, n, "%" PRId32, col_vec_i32(v, r));
    case COL_UINT32: return snprintf(buf, n, "%" PRIu32, (uint32_t)col_vec_i32(v, r));
    case COL_INT64: return snprintf(buf, n, "%" PRId64, col_vec_i64(v, r));
    case COL_UINT64: return snprintf(buf, n, "%" PRIu64, (uint64_t)col_vec_i64(v, r));
    case COL_DOUBLE: return snprintf(buf, n, "%.17g", col_vec_f64(v, r));
    case COL_TS_NS:
        clock_format_rfc3339(col_vec_i64(v, r), buf, n);
        return (int)strlen(buf);
    default: return 0;
    }
}

static int is_text(const col_vec *v)
{
    return v->type == COL_STRING || v->type == COL_BINARY || v->type == COL_DICT;
}

static int csv_field(dbuf *out, const char *p, size_t n)
{
    int quote = 0;
    for (size_t i = 0; i < n && !quote; i++)
        quote = p[i] == ',' || p[i] == '"' || p[i] == '\n' || p[i] == '\r';
    if (!quote)
        return dbuf_append(out, p, n);
    int rc = dbuf_append_byte(out, '"');
    size_t run = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (p[i] != '"')
            continue;
        rc = dbuf_append(out, p + run, i + 1 - run); /* through the quote, then double it */
        if (!rc)
            rc = dbuf_append_byte(out, '"');
        run = i + 1;
    }
    if (!rc)
        rc = dbuf_append(out, p + run, n - run);
    return rc ? rc : dbuf_append_byte(out, '"');
}

static int table_cell(dbuf *out, const char *p, size_t n, int width)
{
    char cell[64];
    size_t k = 0;
    if (width < 1 || width > (int)sizeof cell - 1)
        width = (int)sizeof cell - 1; /* the table's widths are all within this */
    for (size_t i = 0; i < n && k < (size_t)width; i++)
        cell[k++] = (p[i] == '\n' || p[i] == '\t' || p[i] == '\r') ? ' ' : p[i];
    if (n > (size_t)width)
        cell[width - 1] = '~';
    while (k < (size_t)width)
        cell[k++] = ' ';
    cell[k++] = ' ';
    return dbuf_append(out, cell, k);
}

/* Field c of a CSV or table line (p, n), for a column of type t. */
static int put_cell(dbuf *out, rows_format f, int c, const char *p, size_t n, col_type t)
{
    if (f == ROWS_TABLE)
        return table_cell(out, p, n, table_width(t));
    int rc = c ? dbuf_append_byte(out, ',') : SL_OK;
    return rc ? rc : csv_field(out, p, n);
}

int rows_header(const col_schema *s, rows_format f, dbuf *out)
{
    int rc = SL_OK;
    if (f == ROWS_JSON)
        return SL_OK;
    for (int c = 0; c < s->ncols && !rc; c++)
        rc = put_cell(out, f, c, s->fields[c].name, strlen(s->fields[c].name), s->fields[c].type);
    if (!rc)
        rc = dbuf_append_byte(out, '\n');
    if (f == ROWS_TABLE)
        for (int c = 0; c < s->ncols && !rc; c++) {
            char rule[64];
            int w = table_width(s->fields[c].type);
            memset(rule, '-', (size_t)w);
            rule[w] = ' ';
            rc = dbuf_append(out, rule, (size_t)w + (c + 1 < s->ncols ? 1 : 0));
        }
    if (f == ROWS_TABLE && !rc)
        rc = dbuf_append_byte(out, '\n');
    return rc;
}

static int json_row(const col_batch *b, int64_t r, dbuf *out)
{
    jw w;
    jw_init(&w, out);
    jw_obj_begin(&w);
    for (int c = 0; c < b->ncols; c++) {
        const col_vec *v = &b->cols[c];
        jw_key(&w, b->schema->fields[c].name);
        if (!col_vec_is_valid(v, r)) {
            jw_null(&w);
        } else if (is_text(v)) {
            size_t l;
            const uint8_t *p = col_vec_str(v, r, &l);
            jw_strn(&w, (const char *)p, l);
        } else if (v->type == COL_TS_NS) {
            char t[40];
            value_text(v, r, t, sizeof t);
            jw_str(&w, t);
        } else if (v->type == COL_DOUBLE) {
            jw_double(&w, col_vec_f64(v, r));
        } else if (v->type == COL_BOOL) {
            jw_bool(&w, col_vec_bool(v, r));
        } else if (v->type == COL_INT32) {
            jw_int(&w, col_vec_i32(v, r));
        } else if (v->type == COL_UINT32) {
            jw_uint(&w, (uint32_t)col_vec_i32(v, r));
        } else if (v->type == COL_UINT64) {
            jw_uint(&w, (uint64_t)col_vec_i64(v, r));
        } else {
            jw_int(&w, col_vec_i64(v, r));
        }
    }
    jw_obj_end(&w);
    return w.err ? w.err : dbuf_append_byte(out, '\n');
}

/* One row of b in format f. */
static int put_row(const col_batch *b, rows_format f, int64_t r, dbuf *out)
{
    if (f == ROWS_JSON)
        return json_row(b, r, out);
    int rc = SL_OK;
    for (int c = 0; c < b->ncols && !rc; c++) {
        const col_vec *v = &b->cols[c];
        const char *p = "";
        size_t n = 0;
        char t[48];
        if (!col_vec_is_valid(v, r)) {
            /* empty */
        } else if (is_text(v)) {
            p = (const char *)col_vec_str(v, r, &n);
        } else {
            n = (size_t)value_text(v, r, t, sizeof t);
            p = t;
        }
        rc = put_cell(out, f, c, p, n, b->schema->fields[c].type);
    }
    return rc ? rc : dbuf_append_byte(out, '\n');
}

int rows_batch(const col_batch *b, rows_format f, dbuf *out)
{
    int rc = SL_OK;
    for (int64_t r = 0; r < b->nrows && !rc; r++)
        rc = put_row(b, f, r, out);
    return rc;
}

int rows_batch_some(const col_batch *b, rows_format f, int64_t *row, size_t min_bytes,
                    dbuf *out)
{
    int rc = SL_OK;
    while (*row < b->nrows && out->len < min_bytes && !rc)
        if (!(rc = put_row(b, f, *row, out)))
            (*row)++;
    return rc;
}
