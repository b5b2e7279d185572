/*
 * pgwire_out.c - results for a PostgreSQL client: RowDescription and DataRows
 * in text or binary formats (into the connection's pending output, which
 * pgwire_io.c writes), and the text scanning the listener's own statements
 * (COPY, cursors) need.
 * Below pgwire.c, pgwire_ext.c and pgwire_copy.c, which all write results.
 */
#include "server/pgwire_int.h"


#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

/* ---- results ---- */

/* The format of result column i: Bind's (0 text, 1 binary). */
static int16_t col_format(int nfmt, const int16_t *fmt, int i)
{
    return nfmt == 0 ? 0 : nfmt == 1 ? fmt[0] : i < nfmt && i < 64 ? fmt[i] : 0;
}

void pgw_row_description(pgconn *c, sql_query *q)
{
    pgw_row_description_fmt(c, q, 0, NULL);
}

void pgw_row_description_fmt(pgconn *c, sql_query *q, int nfmt, const int16_t *fmt)
{
    int n = sql_query_ncols(q);
    size_t at = pg_msg_begin(&c->out, 'T');
    pg_put_i16(&c->out, (int16_t)n);
    for (int i = 0; i < n; i++) {
        sql_type t = sql_query_coltype(q, i);
        pg_put_str(&c->out, sql_query_colname(q, i));
        pg_put_i32(&c->out, 0);  /* table oid */
        pg_put_i16(&c->out, 0);  /* column number */
        pg_put_i32(&c->out, (int32_t)sql_type_oid(t));
        pg_put_i16(&c->out, sql_type_len(t));
        pg_put_i32(&c->out, t.mod ? t.mod : -1);
        pg_put_i16(&c->out, col_format(nfmt, fmt, i));
    }
    pg_msg_end(&c->out, at);
}

/* DataRows for rows [from, to) of b, text. */
int pgw_data_rows(pgconn *c, sql_query *q, const sql_batch *b, int64_t from, int64_t to)
{
    return pgw_data_rows_fmt(c, q, b, from, to, 0, NULL);
}

/* A value's length (int32) and bytes, straight into out: text (binary 0) or binary. */
static int put_value(dbuf *out, sql_type t, const col_vec *v, int64_t r, int binary)
{
    size_t at = out->len;
    int rc = dbuf_append(out, "\0\0\0\0", 4);
    if (rc)
        return rc;
    rc = binary ? pg_binary_value(t, v, r, out) : sql_vec_text(t, v, r, out);
    uint32_t n = htonl((uint32_t)(out->len - at - 4));
    memcpy(out->p + at, &n, 4);
    return rc;
}

/* DataRows for rows [from, to) of b in the columns' formats. */
int pgw_data_rows_fmt(pgconn *c, sql_query *q, const sql_batch *b, int64_t from, int64_t to,
                         int nfmt, const int16_t *fmt)
{
    int n = sql_query_ncols(q);
    for (int64_t r = from; r < to; r++) {
        size_t at = pg_msg_begin(&c->out, 'D');
        pg_put_i16(&c->out, (int16_t)n);
        for (int i = 0; i < n; i++) {
            if (!col_vec_is_valid(&b->cols[i], r)) {
                pg_put_i32(&c->out, -1);
                continue;
            }
            int rc = put_value(&c->out, sql_query_coltype(q, i), &b->cols[i], r,
                               col_format(nfmt, fmt, i));
            if (rc)
                return rc;
        }
        pg_msg_end(&c->out, at);
        if (c->out.len >= OUT_FLUSH && pgw_flush(c))
            return SL_EIO;
    }
    return SL_OK;
}

/* ---- text scanning (COPY, cursors) ---- */

const char *pgw_skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

/* Matches keyword k (case-insensitive, whole word) at p: the text after it, or NULL. */
const char *pgw_word(const char *p, const char *k)
{
    p = pgw_skip_ws(p);
    size_t n = strlen(k);
    if (strncasecmp(p, k, n))
        return NULL;
    char c = p[n];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')
        return NULL;
    return p + n;
}

void pgw_short_msg(dbuf *out, char type)
{
    size_t at = pg_msg_begin(out, type);
    pg_msg_end(out, at);
}
