/*
 * user_copy.c - COPY table [(columns)] FROM STDIN into a user table.
 *
 * The statement is checked like an INSERT when it opens (the table must be a
 * user table, the columns its own); the rows then arrive in pieces of any size
 * (the wire protocol's CopyData messages need not end on a line), in
 * PostgreSQL's text or CSV format.  Records become typed batches and segments
 * as they come, without the writers' lock; the definition gains the segments
 * in one step when the copy ends.  A bad value, a wrong field count or a
 * client that gives up leaves the table as it was: the segments written so
 * far are retired.  Memory: one record, one batch and one segment at a time.
 *
 * The formats (docs/internals/pgwire.md, "COPY FROM STDIN"):
 *   text  fields split by the delimiter (tab); \N is NULL; backslash escapes
 *         \b \f \n \r \t \v \ooo \xhh and \<any> for that character
 *   csv   fields split by the delimiter (,), optionally in double quotes ("" is
 *         a quote inside them, and quoted fields may hold newlines); an
 *         unquoted empty field is NULL; HEADER skips the first line
 *   both  a line "\." ends the data; lines end with \n or \r\n
 */
#include "sql/catalog/user_int.h"

#include "base/alloc.h"

#include <stdio.h>
#include <string.h>

#define COPY_BATCH_ROWS 65536

struct user_copy {
    udef d;
    const char *name;
    int nin;                 /* fields per line */
    int *map;                /* field i -> the table's column */
    int *absent;             /* the table's columns no field fills (NULL in every row) */
    int nabsent;
    bool csv, header;
    char delim;
    const char *null_s;      /* the text of NULL */
    size_t null_n;
    segw w;
    sql_batch *b;
    dbuf rec;                /* the record being gathered */
    bool in_quote;           /* CSV: rec ends inside quotes */
    bool ended;              /* the "\." line came */
    bool failed;
    int64_t line;
    uint64_t rows;
    dbuf vals;               /* the fields of one record, unescaped */
    size_t *off, *len;
    bool *isnull;
    arena scratch;
};

static int oom(sql_err *e)
{
    return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
}

/* The value of a string option (DefElem), or NULL. */
static const char *opt_str(const PgQuery__DefElem *de)
{
    if (!de->arg)
        return NULL;
    if (de->arg->node_case == PG_QUERY__NODE__NODE_STRING)
        return de->arg->string->sval;
    if (de->arg->node_case == PG_QUERY__NODE__NODE_A_CONST && de->arg->a_const->sval)
        return de->arg->a_const->sval->sval;
    return NULL;
}

static bool opt_bool(const PgQuery__DefElem *de)
{
    if (!de->arg)
        return true;
    const char *s = opt_str(de);
    if (s)
        return !strcasecmp(s, "true") || !strcasecmp(s, "on") || !strcmp(s, "1");
    if (de->arg->node_case == PG_QUERY__NODE__NODE_BOOLEAN)
        return de->arg->boolean->boolval;
    if (de->arg->node_case == PG_QUERY__NODE__NODE_INTEGER)
        return de->arg->integer->ival != 0;
    if (de->arg->node_case == PG_QUERY__NODE__NODE_A_CONST && de->arg->a_const->ival)
        return de->arg->a_const->ival->ival != 0;
    return true;
}

static int copy_options(sql_query *q, user_copy *uc, const PgQuery__CopyStmt *c)
{
    const char *null_s = NULL, *delim = NULL;
    for (size_t i = 0; i < c->n_options; i++) {
        const PgQuery__DefElem *de = c->options[i]->def_elem;
        const char *v = opt_str(de);
        if (!strcmp(de->defname, "format")) {
            if (v && !strcasecmp(v, "csv"))
                uc->csv = true;
            else if (!v || strcasecmp(v, "text"))
                return sql_err_set(q->e, SQLSTATE_FEATURE, de->location, "COPY FROM STDIN "
                                   "format \"%s\" is not supported (text and csv are)",
                                   v ? v : "?");
        } else if (!strcmp(de->defname, "header")) {
            uc->header = opt_bool(de);
        } else if (!strcmp(de->defname, "delimiter")) {
            delim = v;
        } else if (!strcmp(de->defname, "null")) {
            null_s = v;
        } else if (!strcmp(de->defname, "freeze") || !strcmp(de->defname, "encoding")) {
            if (!strcmp(de->defname, "encoding") && (!v || (strcasecmp(v, "utf8") &&
                                                             strcasecmp(v, "utf-8"))))
                return sql_err_set(q->e, SQLSTATE_FEATURE, de->location, "COPY encoding "
                                   "\"%s\" is not supported (UTF8 is)", v ? v : "?");
        } else {
            return sql_err_set(q->e, SQLSTATE_FEATURE, de->location, "COPY option \"%s\" is "
                               "not supported", de->defname);
        }
    }
    if (uc->header && !uc->csv)
        return sql_err_set(q->e, SQLSTATE_FEATURE, -1, "COPY HEADER is available only in CSV "
                                                       "mode here");
    uc->delim = uc->csv ? ',' : '\t';
    if (delim) {
        if (strlen(delim) != 1 || delim[0] == '\n' || delim[0] == '\r' || delim[0] == '\\' ||
            (uc->csv && delim[0] == '"'))
            return sql_err_set(q->e, "22023", -1, "COPY delimiter must be a single one-byte "
                                                  "character other than newline, carriage "
                                                  "return, backslash and the quote");
        uc->delim = delim[0];
    }
    uc->null_s = null_s ? null_s : uc->csv ? "" : "\\N";
    uc->null_n = strlen(uc->null_s);
    return SL_OK;
}

/* Recognized by the dispatcher: COPY t [(cols)] FROM STDIN [WITH (...)]. */
int sql_user_copy_open(sql_query *q, const PgQuery__CopyStmt *c)
{
    snprintf(q->tag, sizeof q->tag, "COPY 0");
    if (!c->is_from || (c->filename && c->filename[0]) || c->is_program || c->query || !c->relation)
        return sql_err_set(q->e, SQLSTATE_FEATURE, -1, "only COPY table FROM STDIN runs as a "
                           "statement; COPY ... TO STDOUT is answered by the PostgreSQL "
                           "protocol, and files are read with read_csv()");
    if (c->where_clause)
        return sql_err_set(q->e, SQLSTATE_FEATURE, -1, "COPY FROM with WHERE is not supported");
    if (!q->s->eng->m || !q->s->eng->os)
        return sql_err_set(q->e, SQLSTATE_FEATURE, -1, "user tables need a data directory");
    user_copy *uc = arena_zalloc(&q->a, sizeof *uc);
    if (!uc)
        return oom(q->e);
    int rc = sql_user_writable(q, c->relation, "copy into", &uc->name, &uc->d);
    if (rc)
        return rc;
    if ((rc = copy_options(q, uc, c)))
        return rc;
    uc->nin = c->n_attlist ? (int)c->n_attlist : uc->d.ncols;
    uc->map = arena_zalloc(&q->a, sizeof *uc->map * (size_t)(uc->nin + 1));
    uc->off = arena_zalloc(&q->a, sizeof *uc->off * (size_t)(uc->nin + 1));
    uc->len = arena_zalloc(&q->a, sizeof *uc->len * (size_t)(uc->nin + 1));
    uc->isnull = arena_zalloc(&q->a, sizeof *uc->isnull * (size_t)(uc->nin + 1));
    if (!uc->map || !uc->off || !uc->len || !uc->isnull)
        return oom(q->e);
    for (int k = 0; k < uc->nin; k++) {
        if (!c->n_attlist) {
            uc->map[k] = k;
            continue;
        }
        const PgQuery__Node *n = c->attlist[k];
        const char *col = n->node_case == PG_QUERY__NODE__NODE_STRING ? n->string->sval : "";
        uc->map[k] = -1;
        for (int j = 0; j < uc->d.ncols; j++)
            if (!strcmp(uc->d.names[j], col))
                uc->map[k] = j;
        if (uc->map[k] < 0)
            return sql_err_set(q->e, SQLSTATE_UNDEFINED_COLUMN, -1, "column \"%s\" of relation "
                               "\"%s\" does not exist", col, uc->name);
        for (int j = 0; j < k; j++)
            if (uc->map[j] == uc->map[k])
                return sql_err_set(q->e, "42701", -1, "column \"%s\" specified more than once",
                                   col);
    }
    if (!(uc->absent = arena_zalloc(&q->a, sizeof *uc->absent * (size_t)(uc->d.ncols + 1))))
        return oom(q->e);
    for (int col = 0; col < uc->d.ncols; col++) {
        bool given = false;
        for (int f = 0; f < uc->nin; f++)
            given |= uc->map[f] == col;
        if (!given)
            uc->absent[uc->nabsent++] = col;
    }
    if ((rc = user_segw_init(&uc->w, q->s->eng, &uc->d, &q->a, q->e)))
        return rc;
    if (sql_batch_new(uc->d.ncols, uc->d.types, &uc->b)) {
        user_segw_abort(&uc->w);
        return oom(q->e);
    }
    dbuf_init(&uc->rec, (size_t)q->s->work_mem_bytes);
    dbuf_init(&uc->vals, (size_t)q->s->work_mem_bytes);
    arena_init(&uc->scratch, 4096, 64u << 20);
    q->copy = uc;
    q->copy_cols = uc->nin;
    return SL_OK;
}

/* ---- one record ---- */

static int bad_record(sql_query *q, user_copy *uc, const char *state, const char *msg)
{
    sql_err_set(q->e, state, -1, "%s", msg);
    sql_err_context(q->e, "COPY %s, line %lld", uc->name, (long long)uc->line);
    return SL_EINVAL;
}

static int hexval(uint8_t ch)
{
    return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
         : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

/* Text format: the fields of p[0..n) into uc->vals. Returns the field count. */
static int split_text(user_copy *uc, const uint8_t *p, size_t n)
{
    int nf = 0;
    size_t i = 0;
    for (;;) {
        size_t start = i;
        size_t at = uc->vals.len;
        while (i < n && p[i] != (uint8_t)uc->delim) {
            if (p[i] != '\\' || i + 1 == n) {
                size_t run = i;
                while (i < n && p[i] != (uint8_t)uc->delim && p[i] != '\\')
                    i++;
                if (i == run)
                    i++; /* a backslash at the very end: itself */
                dbuf_append(&uc->vals, p + run, i - run);
                continue;
            }
            uint8_t ch = p[i + 1];
            i += 2;
            uint8_t out;
            switch (ch) {
            case 'b': out = '\b'; break;
            case 'f': out = '\f'; break;
            case 'n': out = '\n'; break;
            case 'r': out = '\r'; break;
            case 't': out = '\t'; break;
            case 'v': out = '\v'; break;
            case 'x':
                if (i < n && hexval(p[i]) >= 0) {
                    int v = hexval(p[i++]);
                    if (i < n && hexval(p[i]) >= 0)
                        v = v * 16 + hexval(p[i++]);
                    out = (uint8_t)v;
                } else {
                    out = 'x';
                }
                break;
            default:
                if (ch >= '0' && ch <= '7') {
                    int v = ch - '0';
                    for (int k = 0; k < 2 && i < n && p[i] >= '0' && p[i] <= '7'; k++)
                        v = v * 8 + (p[i++] - '0');
                    out = (uint8_t)v;
                } else {
                    out = ch;
                }
            }
            dbuf_append_byte(&uc->vals, out);
        }
        if (nf < uc->nin) {
            uc->off[nf] = at;
            uc->len[nf] = uc->vals.len - at;
            uc->isnull[nf] = i - start == uc->null_n && !memcmp(p + start, uc->null_s, uc->null_n);
        }
        nf++;
        if (i >= n)
            return nf;
        i++; /* the delimiter */
    }
}

/* CSV: the fields of p[0..n) into uc->vals; -1 for an unterminated quote. */
static int split_csv(user_copy *uc, const uint8_t *p, size_t n)
{
    int nf = 0;
    size_t i = 0;
    for (;;) {
        size_t start = i, at = uc->vals.len;
        bool quoted = false;
        while (i < n && p[i] != (uint8_t)uc->delim) {
            if (p[i] != '"') {
                size_t run = i;
                while (i < n && p[i] != (uint8_t)uc->delim && p[i] != '"')
                    i++;
                dbuf_append(&uc->vals, p + run, i - run);
                continue;
            }
            quoted = true;
            i++;
            for (;;) {
                if (i >= n)
                    return -1;
                if (p[i] == '"') {
                    if (i + 1 < n && p[i + 1] == '"') {
                        dbuf_append_byte(&uc->vals, '"');
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                size_t run = i;
                while (i < n && p[i] != '"')
                    i++;
                dbuf_append(&uc->vals, p + run, i - run);
            }
        }
        if (nf < uc->nin) {
            uc->off[nf] = at;
            uc->len[nf] = uc->vals.len - at;
            uc->isnull[nf] = !quoted && i - start == uc->null_n &&
                             !memcmp(p + start, uc->null_s, uc->null_n);
        }
        nf++;
        if (i >= n)
            return nf;
        i++;
    }
}

static int put_value(sql_query *q, user_copy *uc, int f)
{
    int col = uc->map[f];
    sql_type t = uc->d.types[col];
    col_vec *v = &uc->b->cols[col];
    if (uc->isnull[f])
        return col_vec_append_null(v) ? oom(q->e) : SL_OK;
    const char *s = (const char *)uc->vals.p + uc->off[f];
    size_t n = uc->len[f];
    if (t.id == ST_TEXT)
        return col_vec_append_str(v, s, n) ? oom(q->e) : SL_OK;
    sql_datum d;
    const char *state = NULL;
    arena_reset(&uc->scratch);
    if (sql_datum_parse(t, s, n, &uc->scratch, &d, &state)) {
        char tn[64];
        sql_type_name(t, tn, sizeof tn);
        int show = n > 200 ? 200 : (int)n;
        if (state && !strcmp(state, "22003"))
            sql_err_set(q->e, state, -1, "value \"%.*s\" is out of range for type %s", show, s,
                        tn);
        else
            sql_err_set(q->e, state ? state : "22P02", -1, "invalid input syntax for type %s: "
                        "\"%.*s\"", tn, show, s);
        sql_err_context(q->e, "COPY %s, line %lld, column %s: \"%.*s\"", uc->name,
                        (long long)uc->line, uc->d.names[col], show, s);
        return SL_EINVAL;
    }
    return sql_datum_append(t, &d, v) ? oom(q->e) : SL_OK;
}

static int flush_batch(user_copy *uc)
{
    if (!uc->b->n)
        return SL_OK;
    int rc = user_segw_add(&uc->w, uc->b);
    sql_batch_clear(uc->b);
    return rc;
}

/* The copy's buffers, and q's hold on it. */
static void copy_free(sql_query *q, user_copy *uc)
{
    sql_batch_free(uc->b);
    dbuf_free(&uc->rec);
    dbuf_free(&uc->vals);
    arena_destroy(&uc->scratch);
    q->copy = NULL;
}

/* One record (without its line end). */
static int record(sql_query *q, user_copy *uc, const uint8_t *p, size_t n)
{
    uc->line++;
    if (n && p[n - 1] == '\r')
        n--;
    if (n == 2 && p[0] == '\\' && p[1] == '.') {
        uc->ended = true;
        return SL_OK;
    }
    if (uc->header && uc->line == 1)
        return SL_OK;
    dbuf_reset(&uc->vals);
    int nf = uc->csv ? split_csv(uc, p, n) : split_text(uc, p, n);
    if (nf < 0)
        return bad_record(q, uc, "22P04", "unterminated CSV quoted field");
    if (nf > uc->nin)
        return bad_record(q, uc, "22P04", "extra data after last expected column");
    if (nf < uc->nin) {
        char m[160];
        snprintf(m, sizeof m, "missing data for column \"%s\"", uc->d.names[uc->map[nf]]);
        return bad_record(q, uc, "22P04", m);
    }
    if (uc->nin == 0 && n)
        return bad_record(q, uc, "22P04", "extra data after last expected column");
    int rc = SL_OK;
    for (int f = 0; f < nf && !rc; f++)
        rc = put_value(q, uc, f);
    if (rc)
        return rc;
    for (int k = 0; k < uc->nabsent; k++)
        if (col_vec_append_null(&uc->b->cols[uc->absent[k]]))
            return oom(q->e);
    uc->b->n++;
    uc->rows++;
    return uc->b->n >= COPY_BATCH_ROWS ? flush_batch(uc) : SL_OK;
}

/* The end of the record starting at p[0..n) given the CSV quote state; updates it. */
static const uint8_t *record_end(user_copy *uc, const uint8_t *p, const uint8_t *end)
{
    if (!uc->csv)
        return memchr(p, '\n', (size_t)(end - p));
    for (; p < end; p++) {
        if (*p == '"')
            uc->in_quote = !uc->in_quote;
        else if (*p == '\n' && !uc->in_quote)
            return p;
    }
    return NULL;
}

int sql_query_copy_data(sql_query *q, const void *data, size_t n, sql_err *e)
{
    user_copy *uc = q->copy;
    const uint8_t *p = data, *end = p + n;
    int rc = SL_OK;
    while (p < end && !uc->ended && !rc && !uc->failed) {
        const uint8_t *nl = record_end(uc, p, end);
        if (!nl) {
            if (dbuf_append(&uc->rec, p, (size_t)(end - p)))
                rc = sql_err_set(q->e, "54000", -1, "a COPY line longer than work_mem");
            break;
        }
        if (uc->rec.len) {
            if (dbuf_append(&uc->rec, p, (size_t)(nl - p)))
                rc = sql_err_set(q->e, "54000", -1, "a COPY line longer than work_mem");
            else
                rc = record(q, uc, uc->rec.p, uc->rec.len);
            dbuf_reset(&uc->rec);
        } else {
            rc = record(q, uc, p, (size_t)(nl - p));
        }
        p = nl + 1;
    }
    if (rc) {
        uc->failed = true;
        *e = *q->e;
    }
    return rc;
}

int sql_query_copy_end(sql_query *q, sql_err *e)
{
    user_copy *uc = q->copy;
    int rc = uc->failed ? SL_EINVAL : SL_OK;
    if (!rc && uc->rec.len && !uc->ended) {
        if (uc->csv && uc->in_quote)
            rc = bad_record(q, uc, "22P04", "unterminated CSV quoted field");
        else
            rc = record(q, uc, uc->rec.p, uc->rec.len);
    }
    if (!rc)
        rc = flush_batch(uc);
    if (!rc)
        rc = user_segw_flush(&uc->w);
    if (!rc && uc->w.nout)
        rc = sql_user_add_segments(q->s->eng, uc->name, &uc->d, uc->w.out, uc->w.nout, &q->a,
                                   q->e);
    if (rc) {
        uc->failed = true;
        *e = *q->e;
        return rc;
    }
    user_segw_done(&uc->w);
    copy_free(q, uc);
    q->nrows = uc->rows;
    snprintf(q->tag, sizeof q->tag, "COPY %llu", (unsigned long long)uc->rows);
    return SL_OK;
}

void sql_user_copy_abort(sql_query *q)
{
    user_copy *uc = q->copy;
    if (!uc)
        return;
    user_segw_abort(&uc->w);
    copy_free(q, uc);
}
