/*
 * format.c - query results as text (see format.h).
 */
#include "sql/format.h"

#include "base/alloc.h"
#include "base/json.h"
#include "sql/types/value.h"

#include <stdio.h>
#include <string.h>

#define TABLE_SAMPLE_ROWS 1000

struct sql_fmt {
    sql_fmt_kind k;
    bool expanded;
    sql_fmt_write w;
    void *arg;
    int ncols;
    char **names;
    sql_type *types;
    bool begun;
    /* table: the first rows are held to size the columns */
    dbuf *cells;             /* per column: values NUL-separated (held rows) */
    uint8_t *nulls;          /* held rows x columns */
    int64_t held;
    int *width;
    bool sized;
    uint64_t rows;
    dbuf line, val;
};

int sql_fmt_parse(const char *s)
{
    if (!strcmp(s, "table"))
        return SQL_FMT_TABLE;
    if (!strcmp(s, "csv"))
        return SQL_FMT_CSV;
    if (!strcmp(s, "json") || !strcmp(s, "jsonl") || !strcmp(s, "ndjson"))
        return SQL_FMT_JSON;
    return -1;
}

int sql_fmt_new(sql_fmt_kind k, bool expanded, sql_fmt_write w, void *arg, sql_fmt **out)
{
    sql_fmt *f = sl_calloc(1, sizeof *f);
    if (!f)
        return SL_ENOMEM;
    f->k = k;
    f->expanded = expanded;
    f->w = w;
    f->arg = arg;
    dbuf_init(&f->line, (size_t)1 << 31);
    dbuf_init(&f->val, (size_t)1 << 31);
    *out = f;
    return SL_OK;
}

static void reset_result(sql_fmt *f)
{
    for (int i = 0; i < f->ncols; i++) {
        sl_free(f->names[i]);
        if (f->cells)
            dbuf_free(&f->cells[i]);
    }
    sl_free(f->names);
    sl_free(f->types);
    sl_free(f->cells);
    sl_free(f->nulls);
    sl_free(f->width);
    f->names = NULL;
    f->types = NULL;
    f->cells = NULL;
    f->nulls = NULL;
    f->width = NULL;
    f->ncols = 0;
    f->held = 0;
    f->rows = 0;
    f->sized = false;
    f->begun = false;
}

void sql_fmt_free(sql_fmt *f)
{
    if (!f)
        return;
    reset_result(f);
    dbuf_free(&f->line);
    dbuf_free(&f->val);
    sl_free(f);
}

static int flush_line(sql_fmt *f)
{
    int rc = f->line.len ? f->w(f->arg, f->line.p, f->line.len) : 0;
    dbuf_reset(&f->line);
    return rc;
}

/* Characters as a terminal shows them (UTF-8 code points). */
static int disp_width(const char *s, size_t n)
{
    int w = 0;
    for (size_t i = 0; i < n; i++)
        w += ((uint8_t)s[i] & 0xC0) != 0x80;
    return w;
}

static bool right_aligned(sql_type t)
{
    switch (t.id) {
    case ST_INT2:
    case ST_INT4:
    case ST_INT8:
    case ST_FLOAT4:
    case ST_FLOAT8:
    case ST_NUMERIC:
    case ST_OID: return true;
    default: return false;
    }
}

int sql_fmt_begin(sql_fmt *f, int ncols, const char *const *names, const sql_type *types)
{
    reset_result(f);
    f->ncols = ncols;
    f->names = sl_calloc((size_t)(ncols ? ncols : 1), sizeof *f->names);
    f->types = sl_calloc((size_t)(ncols ? ncols : 1), sizeof *f->types);
    f->width = sl_calloc((size_t)(ncols ? ncols : 1), sizeof *f->width);
    if (!f->names || !f->types || !f->width)
        return SL_ENOMEM;
    for (int i = 0; i < ncols; i++) {
        if (!(f->names[i] = sl_strdup(names[i])))
            return SL_ENOMEM;
        f->types[i] = types[i];
        f->width[i] = disp_width(names[i], strlen(names[i]));
    }
    f->begun = true;
    int rc = SL_OK;
    switch (f->k) {
    case SQL_FMT_CSV:
        for (int i = 0; i < ncols && !rc; i++) {
            if (i)
                rc = dbuf_append_byte(&f->line, ',');
            size_t n = strlen(names[i]);
            bool q = strpbrk(names[i], ",\"\n\r") != NULL || n == 0;
            if (q) {
                dbuf_append_byte(&f->line, '"');
                for (size_t k = 0; k < n; k++) {
                    if (names[i][k] == '"')
                        dbuf_append_byte(&f->line, '"');
                    dbuf_append_byte(&f->line, (uint8_t)names[i][k]);
                }
                rc = dbuf_append_byte(&f->line, '"');
            } else {
                rc = dbuf_append(&f->line, names[i], n);
            }
        }
        if (!rc)
            rc = dbuf_append_byte(&f->line, '\n');
        return rc ? rc : flush_line(f);
    case SQL_FMT_JSON: {
        jw w;
        jw_init(&w, &f->line);
        jw_obj_begin(&w);
        jw_key(&w, "columns");
        jw_arr_begin(&w);
        for (int i = 0; i < ncols; i++) {
            char tn[64];
            jw_obj_begin(&w);
            jw_key(&w, "name");
            jw_str(&w, names[i]);
            jw_key(&w, "type");
            jw_str(&w, sql_type_name(types[i], tn, sizeof tn));
            jw_key(&w, "oid");
            jw_uint(&w, sql_type_oid(types[i]));
            jw_obj_end(&w);
        }
        jw_arr_end(&w);
        jw_obj_end(&w);
        dbuf_append_byte(&f->line, '\n');
        return flush_line(f);
    }
    case SQL_FMT_TABLE:
        if (!(f->cells = sl_calloc((size_t)(ncols ? ncols : 1), sizeof *f->cells)) ||
            !(f->nulls = sl_calloc((size_t)TABLE_SAMPLE_ROWS * (size_t)(ncols ? ncols : 1), 1)))
            return SL_ENOMEM;
        for (int i = 0; i < ncols; i++)
            dbuf_init(&f->cells[i], (size_t)1 << 31);
        return SL_OK;
    }
    return SL_OK;
}

/* ---- csv and json rows ---- */

/* Bytes that make a CSV field quoted. */
static const uint8_t g_csv_special[256] = {[','] = 1, ['"'] = 1, ['\n'] = 1, ['\r'] = 1};

/* The text just appended to out at `at` as a CSV field: quoted (and its quotes
 * doubled) when it is empty or holds a comma, a quote or a line break. */
static int csv_quote_tail(dbuf *out, size_t at)
{
    size_t n = out->len - at, nq = 0;
    const uint8_t *s = out->p ? out->p + at : NULL;
    bool q = n == 0;
    for (size_t k = 0; k < n; k++)
        if (g_csv_special[s[k]]) {
            q = true;
            nq += s[k] == '"';
        }
    if (!q)
        return SL_OK;
    int rc = dbuf_reserve(out, nq + 2);
    if (rc)
        return rc;
    /* moved right from the end: each quote doubled, the field in quotes */
    uint8_t *p = out->p + at;
    size_t w = n + nq + 2;
    p[--w] = '"';
    for (size_t k = n; k-- > 0;) {
        p[--w] = p[k];
        if (p[k] == '"')
            p[--w] = '"';
    }
    p[0] = '"';
    out->len += nq + 2;
    out->p[out->len] = 0;
    return SL_OK;
}

/* Row r of b as a CSV line. */
static int csv_row(int ncols, const sql_type *types, const sql_batch *b, int64_t r, dbuf *out)
{
    int rc = SL_OK;
    for (int i = 0; i < ncols && !rc; i++) {
        if (i && (rc = dbuf_append_byte(out, ',')))
            break;
        if (!col_vec_is_valid(&b->cols[i], r))
            continue;
        size_t at = out->len;
        if (!(rc = sql_vec_text(types[i], &b->cols[i], r, out)))
            rc = csv_quote_tail(out, at);
    }
    return rc ? rc : dbuf_append_byte(out, '\n');
}

/* Row r of b as a JSON array line (val: scratch for a value's text). */
static int json_row(int ncols, const sql_type *types, const sql_batch *b, int64_t r, dbuf *out,
                    dbuf *val)
{
    jw w;
    jw_init(&w, out);
    jw_arr_begin(&w);
    int rc = SL_OK;
    for (int i = 0; i < ncols && !rc; i++) {
        const col_vec *v = &b->cols[i];
        if (!col_vec_is_valid(v, r)) {
            jw_null(&w);
            continue;
        }
        sql_type t = types[i];
        switch (t.id) {
        case ST_BOOL: jw_bool(&w, col_vec_bool(v, r)); continue;
        case ST_INT2:
        case ST_INT4: jw_int(&w, col_vec_i32(v, r)); continue;
        case ST_INT8:
        case ST_OID: jw_int(&w, col_vec_i64(v, r)); continue;
        case ST_TEXT:
        case ST_VARCHAR:
            if (v->type == COL_STRING) { /* the vector's bytes, escaped as they are */
                size_t n;
                const uint8_t *s = col_vec_str(v, r, &n);
                jw_strn(&w, (const char *)s, n);
                continue;
            }
            break;
        default: break;
        }
        dbuf_reset(val);
        if ((rc = sql_vec_text(t, v, r, val)))
            break;
        const char *s = val->p ? (const char *)val->p : "";
        bool raw = t.id == ST_JSONB || t.id == ST_NUMERIC ||
                   ((t.id == ST_FLOAT8 || t.id == ST_FLOAT4) && strcmp(s, "NaN") &&
                    !strstr(s, "Infinity"));
        if (raw)
            jw_rawn(&w, s, val->len);
        else
            jw_strn(&w, s, val->len);
    }
    jw_arr_end(&w);
    return rc ? rc : dbuf_append_byte(out, '\n');
}

int sql_fmt_rows(sql_fmt_kind k, int ncols, const sql_type *types, const sql_batch *b,
                 dbuf *out, dbuf *val)
{
    int rc = k == SQL_FMT_TABLE ? SL_EINVAL : SL_OK;
    for (int64_t r = 0; r < b->n && !rc; r++)
        rc = k == SQL_FMT_CSV ? csv_row(ncols, types, b, r, out)
                              : json_row(ncols, types, b, r, out, val);
    return rc;
}

/* ---- tables ---- */

static int table_rule(sql_fmt *f)
{
    for (int i = 0; i < f->ncols; i++) {
        if (i)
            dbuf_append_byte(&f->line, '+');
        for (int k = 0; k < f->width[i] + 2; k++)
            dbuf_append_byte(&f->line, '-');
    }
    return dbuf_append_byte(&f->line, '\n');
}

static void pad(dbuf *d, int n)
{
    for (int k = 0; k < n; k++)
        dbuf_append_byte(d, ' ');
}

static int table_header(sql_fmt *f)
{
    for (int i = 0; i < f->ncols; i++) {
        if (i)
            dbuf_append_byte(&f->line, '|');
        int w = disp_width(f->names[i], strlen(f->names[i]));
        int left = (f->width[i] - w) / 2;
        pad(&f->line, 1 + left);
        dbuf_append_str(&f->line, f->names[i]);
        pad(&f->line, f->width[i] - w - left + 1);
    }
    /* psql trims nothing here: the last column keeps its padding */
    dbuf_append_byte(&f->line, '\n');
    return table_rule(f);
}

static int table_cells(sql_fmt *f, const char *const *vals, const size_t *lens)
{
    for (int i = 0; i < f->ncols; i++) {
        if (i)
            dbuf_append_byte(&f->line, '|');
        const char *s = vals[i] ? vals[i] : "";
        size_t n = vals[i] ? lens[i] : 0;
        int w = disp_width(s, n);
        int gap = f->width[i] > w ? f->width[i] - w : 0;
        dbuf_append_byte(&f->line, ' ');
        if (right_aligned(f->types[i]))
            pad(&f->line, gap);
        dbuf_append(&f->line, s, n);
        if (!right_aligned(f->types[i]) && i < f->ncols - 1)
            pad(&f->line, gap);
        if (i < f->ncols - 1)
            dbuf_append_byte(&f->line, ' ');
    }
    return dbuf_append_byte(&f->line, '\n');
}

static int expanded_row(sql_fmt *f, const char *const *vals, const size_t *lens)
{
    int nw = 0;
    for (int i = 0; i < f->ncols; i++) {
        int w = disp_width(f->names[i], strlen(f->names[i]));
        if (w > nw)
            nw = w;
    }
    dbuf_printf(&f->line, "-[ RECORD %llu ]\n", (unsigned long long)f->rows);
    for (int i = 0; i < f->ncols; i++) {
        dbuf_append_str(&f->line, f->names[i]);
        pad(&f->line, nw - disp_width(f->names[i], strlen(f->names[i])));
        dbuf_append_str(&f->line, " | ");
        if (vals[i])
            dbuf_append(&f->line, vals[i], lens[i]);
        dbuf_append_byte(&f->line, '\n');
    }
    return SL_OK;
}

/* Prints the held rows with the widths they gave. */
static int table_release(sql_fmt *f)
{
    if (f->sized)
        return SL_OK;
    f->sized = true;
    int rc = SL_OK;
    if (!f->expanded)
        rc = table_header(f);
    const char *vals[256];
    size_t lens[256];
    size_t *pos = sl_calloc((size_t)(f->ncols ? f->ncols : 1), sizeof *pos);
    if (!pos)
        return SL_ENOMEM;
    uint64_t n0 = f->rows - (uint64_t)f->held;
    for (int64_t r = 0; r < f->held && !rc; r++) {
        for (int i = 0; i < f->ncols && i < 256; i++) {
            const char *s = (const char *)f->cells[i].p + pos[i];
            size_t n = strlen(s);
            pos[i] += n + 1;
            vals[i] = f->nulls[r * f->ncols + i] ? NULL : s;
            lens[i] = n;
        }
        if (f->expanded) {
            f->rows = n0 + (uint64_t)r + 1;
            rc = expanded_row(f, vals, lens);
        } else {
            rc = table_cells(f, vals, lens);
        }
        if (!rc && f->line.len > 65536)
            rc = flush_line(f);
    }
    sl_free(pos);
    for (int i = 0; i < f->ncols; i++)
        dbuf_free(&f->cells[i]);
    f->held = 0;
    return rc ? rc : flush_line(f);
}

static int table_row(sql_fmt *f, const sql_batch *b, int64_t r)
{
    int rc = SL_OK;
    if (!f->sized && f->held < TABLE_SAMPLE_ROWS && f->ncols <= 256) {
        for (int i = 0; i < f->ncols && !rc; i++) {
            bool null = !col_vec_is_valid(&b->cols[i], r);
            f->nulls[f->held * f->ncols + i] = null;
            size_t before = f->cells[i].len;
            if (!null && (rc = sql_vec_text(f->types[i], &b->cols[i], r, &f->cells[i])))
                break;
            int w = disp_width((const char *)f->cells[i].p + before, f->cells[i].len - before);
            if (w > f->width[i])
                f->width[i] = w;
            rc = dbuf_append_byte(&f->cells[i], 0);
        }
        f->held++;
        return rc;
    }
    if (!f->sized && (rc = table_release(f)))
        return rc;
    const char *vals[256];
    size_t lens[256];
    dbuf_reset(&f->val);
    size_t offs[256];
    for (int i = 0; i < f->ncols && i < 256 && !rc; i++) {
        offs[i] = f->val.len;
        bool null = !col_vec_is_valid(&b->cols[i], r);
        if (!null)
            rc = sql_vec_text(f->types[i], &b->cols[i], r, &f->val);
        lens[i] = f->val.len - offs[i];
        vals[i] = null ? NULL : "";
    }
    for (int i = 0; i < f->ncols && i < 256; i++)
        if (vals[i])
            vals[i] = (const char *)f->val.p + offs[i];
    if (rc)
        return rc;
    return f->expanded ? expanded_row(f, vals, lens) : table_cells(f, vals, lens);
}

int sql_fmt_batch(sql_fmt *f, const sql_batch *b)
{
    int rc = SL_OK;
    for (int64_t r = 0; r < b->n && !rc; r++) {
        f->rows++;
        switch (f->k) {
        case SQL_FMT_CSV: rc = csv_row(f->ncols, f->types, b, r, &f->line); break;
        case SQL_FMT_JSON: rc = json_row(f->ncols, f->types, b, r, &f->line, &f->val); break;
        case SQL_FMT_TABLE: rc = table_row(f, b, r); break;
        }
        if (!rc && f->line.len >= 65536)
            rc = flush_line(f);
    }
    return rc ? rc : flush_line(f);
}

int sql_fmt_end(sql_fmt *f, const char *tag, uint64_t rows, double ms)
{
    int rc = SL_OK;
    switch (f->k) {
    case SQL_FMT_CSV: break;
    case SQL_FMT_JSON: {
        jw w;
        jw_init(&w, &f->line);
        jw_obj_begin(&w);
        jw_key(&w, "end");
        jw_obj_begin(&w);
        jw_key(&w, "tag");
        jw_str(&w, tag ? tag : "");
        jw_key(&w, "rows");
        jw_uint(&w, rows);
        jw_key(&w, "ms");
        jw_double(&w, ms);
        jw_obj_end(&w);
        jw_obj_end(&w);
        dbuf_append_byte(&f->line, '\n');
        break;
    }
    case SQL_FMT_TABLE:
        if (f->begun) {
            rc = table_release(f);
            if (!rc && !f->expanded)
                dbuf_printf(&f->line, "(%llu row%s)\n\n", (unsigned long long)f->rows,
                            f->rows == 1 ? "" : "s");
            else if (!rc && !f->rows)
                dbuf_append_str(&f->line, "(0 rows)\n\n");
            else if (!rc)
                dbuf_append_byte(&f->line, '\n');
        } else if (tag && *tag) {
            dbuf_printf(&f->line, "%s\n", tag);
        }
        break;
    }
    reset_result(f);
    return rc ? rc : flush_line(f);
}

void sql_err_json(const sql_err *e, jw *w)
{
    jw_obj_begin(w);
    jw_key(w, "sqlstate");
    jw_str(w, e->state);
    jw_key(w, "message");
    jw_str(w, e->msg);
    if (e->position) {
        jw_key(w, "position");
        jw_int(w, e->position);
    }
    if (e->detail[0]) {
        jw_key(w, "detail");
        jw_str(w, e->detail);
    }
    if (e->hint[0]) {
        jw_key(w, "hint");
        jw_str(w, e->hint);
    }
    jw_obj_end(w);
}

int sql_fmt_error(sql_fmt *f, const sql_err *e, const char *text)
{
    dbuf_reset(&f->line);
    switch (f->k) {
    case SQL_FMT_JSON: {
        jw w;
        jw_init(&w, &f->line);
        jw_obj_begin(&w);
        jw_key(&w, "error");
        sql_err_json(e, &w);
        jw_obj_end(&w);
        dbuf_append_byte(&f->line, '\n');
        break;
    }
    case SQL_FMT_CSV:
        dbuf_printf(&f->line, "# ERROR: %s (SQLSTATE %s)\n", e->msg, e->state);
        break;
    case SQL_FMT_TABLE:
        /* rows still held (not printed yet) are dropped: psql shows only the error */
        sql_err_format(e, text, &f->line);
        break;
    }
    reset_result(f);
    return flush_line(f);
}
