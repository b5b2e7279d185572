/*
 * pgwire_copy.c - COPY (query) TO STDOUT and COPY table [(columns)] TO STDOUT in
 * text or CSV format: recognized by the listener, rows streamed as CopyData;
 * COPY table FROM STDIN: CopyData handed to the engine, which loads the rows
 * (docs/internals/pgwire.md).
 */
#include "server/pgwire_int.h"

#include "base/alloc.h"
#include "sql/types/value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct copy_spec {
    char *query;             /* the rows: a query, or SELECT ... FROM the table */
    bool csv, header, binary;
    char delim;
    bool from_stdin;
} copy_spec;

/* The end of a parenthesized text starting at p ('('), quotes respected; NULL if open. */
static const char *close_paren(const char *p)
{
    int depth = 0;
    for (; *p; p++) {
        if (*p == '\'' || *p == '"') {
            char q = *p++;
            while (*p && *p != q)
                p++;
            if (!*p)
                return NULL;
        } else if (*p == '(') {
            depth++;
        } else if (*p == ')' && --depth == 0) {
            return p;
        }
    }
    return NULL;
}

/* COPY's options after TO STDOUT: WITH (FORMAT csv, HEADER [true], DELIMITER 'c'), or the
 * old spellings CSV, HEADER, DELIMITER [AS] 'c'. */
static bool copy_options(const char *p, copy_spec *cs)
{
    const char *q;
    if ((q = pgw_word(p, "WITH")))
        p = q;
    p = pgw_skip_ws(p);
    bool paren = *p == '(';
    if (paren)
        p++;
    for (;;) {
        p = pgw_skip_ws(p);
        if (!*p || *p == ';')
            return !paren;
        if (paren && *p == ')')
            return !*pgw_skip_ws(p + 1) || *pgw_skip_ws(p + 1) == ';';
        if (*p == ',') {
            p++;
            continue;
        }
        if ((q = pgw_word(p, "FORMAT"))) {
            p = pgw_skip_ws(q);
            if ((q = pgw_word(p, "csv")))
                cs->csv = true;
            else if ((q = pgw_word(p, "binary")))
                cs->binary = true;
            else if (!(q = pgw_word(p, "text")))
                return false;
            p = q;
        } else if ((q = pgw_word(p, "CSV"))) {
            cs->csv = true;
            p = q;
        } else if ((q = pgw_word(p, "BINARY"))) {
            cs->binary = true;
            p = q;
        } else if ((q = pgw_word(p, "HEADER"))) {
            cs->header = true;
            p = q;
            const char *v;
            if ((v = pgw_word(p, "true")) || (v = pgw_word(p, "on")))
                p = v;
            else if ((v = pgw_word(p, "false")) || (v = pgw_word(p, "off"))) {
                cs->header = false;
                p = v;
            }
        } else if ((q = pgw_word(p, "DELIMITER"))) {
            p = pgw_skip_ws(q);
            if ((q = pgw_word(p, "AS")))
                p = pgw_skip_ws(q);
            if (p[0] != '\'' || !p[1] || p[2] != '\'')
                return false;
            cs->delim = p[1];
            p += 3;
        } else {
            return false;
        }
    }
}

/* Recognizes COPY (query) TO STDOUT / COPY table [(cols)] TO STDOUT / ... FROM STDIN. */
static bool parse_copy(const char *text, copy_spec *cs)
{
    memset(cs, 0, sizeof *cs);
    cs->delim = 0;
    const char *p = pgw_word(text, "COPY");
    if (!p)
        return false;
    p = pgw_skip_ws(p);
    dbuf q;
    dbuf_init(&q, (size_t)1 << 30);
    if (*p == '(') {
        const char *e = close_paren(p);
        if (!e)
            return false;
        dbuf_append(&q, p + 1, (size_t)(e - p - 1));
        p = e + 1;
    } else {
        const char *s = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '(')
            p++;
        const char *cols = "*";
        size_t ncols = 1;
        const char *after = pgw_skip_ws(p);
        if (*after == '(') {
            const char *e = close_paren(after);
            if (!e) {
                dbuf_free(&q);
                return false;
            }
            cols = after + 1;
            ncols = (size_t)(e - after - 1);
            p = e + 1;
        }
        dbuf_printf(&q, "SELECT %.*s FROM %.*s", (int)ncols, cols, (int)(after - s), s);
    }
    const char *t;
    if ((t = pgw_word(p, "FROM")) && (t = pgw_word(t, "STDIN"))) {
        cs->from_stdin = true;
    } else if (!(t = pgw_word(p, "TO")) || !(t = pgw_word(t, "STDOUT")) || !copy_options(t, cs)) {
        dbuf_free(&q);
        return false;
    }
    dbuf_append_byte(&q, 0);
    cs->query = (char *)q.p; /* owned by the caller now */
    return true;
}

/* One value in COPY's text format (backslash escapes) or CSV (quoted when needed). */
static void copy_value(dbuf *out, const copy_spec *cs, const uint8_t *v, size_t n)
{
    if (cs->csv) {
        bool quote = n == 0 || memchr(v, cs->delim, n) || memchr(v, '"', n) ||
                     memchr(v, '\n', n) || memchr(v, '\r', n);
        if (!quote) {
            dbuf_append(out, v, n);
            return;
        }
        dbuf_append_byte(out, '"');
        for (size_t i = 0; i < n; i++) {
            if (v[i] == '"')
                dbuf_append_byte(out, '"');
            dbuf_append_byte(out, v[i]);
        }
        dbuf_append_byte(out, '"');
        return;
    }
    size_t run = 0; /* bytes that need no escape go out in runs */
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = v[i];
        char esc = ch == '\\' ? '\\' : ch == '\n' ? 'n' : ch == '\r' ? 'r' : ch == '\t' ? 't'
                 : ch == (uint8_t)cs->delim ? (char)ch : 0;
        if (!esc)
            continue;
        dbuf_append(out, v + run, i - run);
        dbuf_append_byte(out, '\\');
        dbuf_append_byte(out, (uint8_t)esc);
        run = i + 1;
    }
    dbuf_append(out, v + run, n - run);
}

/* Whether a type's text never holds a tab, comma, quote, backslash or line end: it goes
 * out as it is with the default delimiters. */
static bool plain_text_type(sql_type t)
{
    switch (t.id) {
    case ST_BOOL: case ST_INT2: case ST_INT4: case ST_INT8: case ST_OID: case ST_FLOAT4:
    case ST_FLOAT8: case ST_NUMERIC: case ST_DATE: case ST_TIMESTAMP: case ST_TIMESTAMPTZ:
    case ST_UUID:
        return true;
    default:
        return false;
    }
}

/* One non-NULL field of a text or CSV row. */
static int copy_field(pgconn *c, const copy_spec *cs, sql_type t, const col_vec *v, int64_t r)
{
    if (plain_text_type(t) && cs->delim == (cs->csv ? ',' : '\t'))
        return sql_vec_text(t, v, r, &c->out);
    if (t.id == ST_TEXT) { /* escaped straight from the column */
        sql_datum d = sql_datum_get(t, v, r);
        copy_value(&c->out, cs, d.s.p, d.s.n);
        return SL_OK;
    }
    dbuf_reset(&c->val);
    int rc = sql_vec_text(t, v, r, &c->val);
    if (!rc)
        copy_value(&c->out, cs, c->val.p, c->val.len);
    return rc;
}

/* One row of binary COPY: the field count, then each field's length (-1: NULL) and bytes. */
static int binary_row(pgconn *c, sql_query *q, const sql_batch *b, int64_t r, int n)
{
    pg_put_i16(&c->out, (int16_t)n);
    for (int i = 0; i < n; i++) {
        if (!col_vec_is_valid(&b->cols[i], r)) {
            pg_put_i32(&c->out, -1);
            continue;
        }
        dbuf_reset(&c->val);
        int rc = pg_binary_value(sql_query_coltype(q, i), &b->cols[i], r, &c->val);
        if (rc)
            return rc;
        pg_put_i32(&c->out, (int32_t)c->val.len);
        dbuf_append(&c->out, c->val.p, c->val.len);
    }
    return SL_OK;
}

/* COPY ... TO STDOUT: CopyOutResponse, a CopyData per row, CopyDone, "COPY n". */
static int run_copy(pgconn *c, copy_spec *cs)
{
    sql_err e;
    sql_err_clear(&e);
    if (cs->binary && (cs->csv || cs->header || cs->delim)) {
        sql_err_set(&e, "42601", -1, "COPY in binary format takes no CSV, HEADER or DELIMITER");
        pg_error(&c->out, "ERROR", &e, 0, false);
        return 1;
    }
    sql_query_opts o = {.begin_ns = INT64_MIN, .end_ns = INT64_MAX, .cancel = &c->cancel};
    atomic_store(&c->cancel, 0);
    sql_query *q;
    if (sql_query_open(c->s, cs->query, &o, &q, &e)) {
        pg_error(&c->out, "ERROR", &e, 0, false);
        return 1;
    }
    if (!cs->delim)
        cs->delim = cs->csv ? ',' : '\t';
    int n = sql_query_ncols(q);
    size_t at = pg_msg_begin(&c->out, 'H');
    dbuf_append_byte(&c->out, cs->binary); /* 0: text (CSV is text too), 1: binary */
    pg_put_i16(&c->out, (int16_t)n);
    for (int i = 0; i < n; i++)
        pg_put_i16(&c->out, cs->binary);
    pg_msg_end(&c->out, at);
    if (cs->binary) {
        /* the file header: signature, flags, no extension */
        static const uint8_t sig[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};
        at = pg_msg_begin(&c->out, 'd');
        dbuf_append(&c->out, sig, sizeof sig);
        pg_put_i32(&c->out, 0);
        pg_put_i32(&c->out, 0);
        pg_msg_end(&c->out, at);
    } else if (cs->header) {
        at = pg_msg_begin(&c->out, 'd');
        for (int i = 0; i < n; i++) {
            if (i)
                dbuf_append_byte(&c->out, (uint8_t)cs->delim);
            const char *nm = sql_query_colname(q, i);
            copy_value(&c->out, cs, (const uint8_t *)nm, strlen(nm));
        }
        dbuf_append_byte(&c->out, '\n');
        pg_msg_end(&c->out, at);
    }
    uint64_t rows = 0;
    int rc = SL_OK;
    for (;;) {
        const sql_batch *b;
        if ((rc = sql_query_next(q, &b, &e))) {
            pg_error(&c->out, "ERROR", &e, 0, false);
            sql_query_close(q);
            return 1;
        }
        if (!b)
            break;
        for (int64_t r = 0; r < b->n && !rc; r++) {
            at = pg_msg_begin(&c->out, 'd');
            if (cs->binary) {
                rc = binary_row(c, q, b, r, n);
                pg_msg_end(&c->out, at);
                rows++;
                if (!rc && c->out.len >= OUT_FLUSH && pgw_flush(c))
                    rc = SL_EIO;
                continue;
            }
            for (int i = 0; i < n && !rc; i++) {
                if (i)
                    dbuf_append_byte(&c->out, (uint8_t)cs->delim);
                if (!col_vec_is_valid(&b->cols[i], r)) {
                    if (!cs->csv)
                        dbuf_append_str(&c->out, "\\N");
                    continue;
                }
                rc = copy_field(c, cs, sql_query_coltype(q, i), &b->cols[i], r);
            }
            dbuf_append_byte(&c->out, '\n');
            pg_msg_end(&c->out, at);
            rows++;
            if (c->out.len >= OUT_FLUSH && pgw_flush(c))
                rc = SL_EIO;
        }
        if (rc) {
            sql_query_cancel(q);
            sql_query_close(q);
            if (rc != SL_EIO) { /* the client is still there: it hears why */
                sql_err_set(&e, rc == SL_ENOMEM ? "53200" : "XX000", -1, "COPY stopped: %s",
                            sl_strerror(rc));
                pg_error(&c->out, "ERROR", &e, 0, false);
            }
            return 1;
        }
    }
    sql_query_close(q);
    if (cs->binary) {
        at = pg_msg_begin(&c->out, 'd');
        pg_put_i16(&c->out, -1); /* the file trailer */
        pg_msg_end(&c->out, at);
    }
    pgw_short_msg(&c->out, 'c');
    char tag[32];
    snprintf(tag, sizeof tag, "COPY %llu", (unsigned long long)rows);
    pg_command_complete(&c->out, tag);
    return 0;
}

/* COPY ... FROM STDIN: the engine opens it (checks the table, the columns, the options);
 * CopyInResponse; CopyData pieces go to the engine as they come; CopyDone commits, CopyFail
 * or an error changes nothing.  After an error the client may still be sending: the
 * listener ignores CopyData, CopyDone and CopyFail outside a copy, as PostgreSQL does. */
static int copy_in(pgconn *c, const char *text)
{
    sql_query_opts o = {.begin_ns = INT64_MIN, .end_ns = INT64_MAX, .cancel = &c->cancel};
    atomic_store(&c->cancel, 0);
    sql_query *q;
    sql_err e;
    sql_err_clear(&e);
    if (sql_query_open(c->s, text, &o, &q, &e)) {
        pg_error(&c->out, "ERROR", &e, e.position, false);
        return 1;
    }
    int n = sql_query_copy_in(q);
    size_t at = pg_msg_begin(&c->out, 'G');
    dbuf_append_byte(&c->out, 0);
    pg_put_i16(&c->out, (int16_t)n);
    for (int i = 0; i < n; i++)
        pg_put_i16(&c->out, 0);
    pg_msg_end(&c->out, at);
    if (pgw_flush(c)) {
        sql_query_close(q);
        return 1;
    }
    for (;;) {
        char type;
        if (pgw_next_msg(c, &type, 0)) {
            sql_query_close(q); /* the client went away: nothing is kept */
            return 1;
        }
        int rc = SL_OK;
        if (type == 'd') {
            rc = sql_query_copy_data(q, c->msg.p, c->msg.len, &e);
        } else if (type == 'c') {
            if (!(rc = sql_query_copy_end(q, &e))) {
                pg_command_complete(&c->out, sql_query_tag(q));
                sql_query_close(q);
                return 0;
            }
        } else if (type == 'f') {
            pg_rd r;
            pg_rd_init(&r, c->msg.p, c->msg.len);
            const char *why = pg_rd_str(&r);
            rc = sql_err_set(&e, "57014", -1, "COPY from stdin failed: %s",
                             r.bad ? "(no reason given)" : why);
        } else if (type != 'H' && type != 'S') {
            rc = sql_err_set(&e, "08P01", -1, "unexpected message type 0x%02X during COPY from "
                             "stdin", (unsigned)(uint8_t)type);
        }
        if (rc) {
            pg_error(&c->out, "ERROR", &e, 0, false);
            sql_query_close(q);
            return 1;
        }
    }
}

int pgw_copy(pgconn *c, const char *text)
{
    copy_spec cs;
    if (!parse_copy(text, &cs))
        return -1;
    if (cs.from_stdin) {
        sl_free(cs.query);
        return copy_in(c, text);
    }
    int r = run_copy(c, &cs);
    sl_free(cs.query);
    return r;
}
