/*
 * run.c - a text of statements run one after the other in a session, each
 * result formatted as it streams (the CLI and POST /api/query share it).
 */
#include "sql/run.h"

#include "base/clock.h"

#include <string.h>

typedef struct run_ctx {
    sql_session *s;
    const sql_query_opts *o;
    sql_fmt *f;
    const char *text;        /* the whole text (error positions are relative to a statement) */
    sql_run_stats *st;
    int rc;
} run_ctx;

static int run_one(void *arg, const char *stmt, size_t n)
{
    run_ctx *c = arg;
    char *text = malloc(n + 1);
    if (!text)
        return SL_ENOMEM;
    memcpy(text, stmt, n);
    text[n] = 0;
    int64_t t0 = clock_mono_ns();
    sql_query *q;
    sql_err e;
    int rc = sql_query_open(c->s, text, c->o, &q, &e);
    if (rc) {
        sql_fmt_error(c->f, &e, text);
        if (c->st)
            c->st->err = e;
        free(text);
        return c->rc = rc;
    }
    int nc = sql_query_ncols(q);
    if (sql_query_has_rows(q)) {
        const char *names[1024];
        sql_type types[1024];
        for (int i = 0; i < nc && i < 1024; i++) {
            names[i] = sql_query_colname(q, i);
            types[i] = sql_query_coltype(q, i);
        }
        rc = sql_fmt_begin(c->f, nc < 1024 ? nc : 1024, names, types);
    }
    uint64_t rows = 0;
    while (!rc) {
        const sql_batch *b;
        if ((rc = sql_query_next(q, &b, &e))) {
            sql_fmt_error(c->f, &e, text);
            if (c->st)
                c->st->err = e;
            break;
        }
        if (!b)
            break;
        rows += (uint64_t)b->n;
        if ((rc = sql_fmt_batch(c->f, b))) {
            sql_err_set(&e, "08006", -1, "the output could not be written");
            if (c->st)
                c->st->err = e;
        }
    }
    double ms = (double)(clock_mono_ns() - t0) / 1e6;
    if (!rc)
        rc = sql_fmt_end(c->f, sql_query_tag(q), rows, ms);
    if (!rc && c->st) {
        c->st->statements++;
        c->st->rows += rows;
        c->st->last_ms = ms;
    }
    sql_query_close(q);
    free(text);
    return c->rc = rc;
}

int sql_run_script(sql_session *s, const char *text, const sql_query_opts *o, sql_fmt *f,
                   sql_run_stats *st)
{
    run_ctx c = {s, o, f, text, st, 0};
    if (st)
        memset(st, 0, sizeof *st);
    sql_err e;
    int rc = sql_split(text, run_one, &c, &e);
    if (rc && !c.rc) {
        /* a syntax error in the text as a whole */
        sql_fmt_error(f, &e, text);
        if (st)
            st->err = e;
    }
    return rc;
}
