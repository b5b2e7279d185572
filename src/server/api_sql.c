/*
 * api_sql.c - POST /api/query: SQL over HTTP (docs/internals/http-api.md).
 *
 * The body is {"sql": "...", "params": [...], "begin": T, "end": T}; the
 * statements run one after the other in a fresh session, and their results
 * stream in the format asked (?format=json|csv|table, else the Accept
 * header, else JSON lines).  The first statement is opened before the status
 * line is sent, so a syntax or binding error (or a refusal) is a 400/503
 * with the error as JSON; a failure later in the stream ends it with the
 * format's error line.  Rows are produced only as fast as the client reads
 * them: one batch is formatted at a time.
 */
#define SL_TARGET "streamlake.server"
#include "server/api_sql.h"

#include "base/alloc.h"
#include "base/arena.h"
#include "base/json.h"
#include "server/api.h"
#include "sql/format.h"
#include "sql/front/parse.h"
#include "streamlake/trace.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The response's own memory: formatting buffers; queries account theirs in the engine. */
#define QUERY_RESPONSE_BYTES ((uint64_t)2 << 20)

struct api_query {
    sql_engine *eng;
    budget *bud;
    budget_grant grant;
    sql_session *s;
    arena mem;                 /* the body's JSON, parameter values */
    char **stmts;              /* each statement's text */
    int nstmts, cur;
    sql_query_opts o;
    sql_params params;
    sql_query *q;              /* the statement running now */
    sql_fmt *f;
    dbuf out;                  /* formatted, not yet handed to the socket */
    size_t out_pos;
    uint64_t rows;
    int64_t t0;
    bool failed, done;
    sl_async_span span;        /* open to close (serve records itself) */
    sql_fmt_kind kind;
    _Atomic uint8_t cancel;
};

static int collect(void *arg, const char *stmt, size_t n)
{
    api_query *a = arg;
    char *t = arena_strndup(&a->mem, stmt, n);
    if (!t || a->nstmts >= 256)
        return SL_ENOMEM;
    a->stmts[a->nstmts++] = t;
    return SL_OK;
}

static int to_out(void *arg, const void *p, size_t n)
{
    api_query *a = arg;
    return dbuf_append(&a->out, p, n);
}

static void error_json(const sql_err *e, dbuf *b)
{
    jw w;
    jw_init(&w, b);
    jw_obj_begin(&w);
    jw_key(&w, "error");
    sql_err_json(e, &w);
    jw_obj_end(&w);
}

/* Opens the current statement and writes its header. */
static int open_stmt(api_query *a, sql_err *e)
{
    a->t0 = clock_mono_ns();
    a->rows = 0;
    int rc = sql_query_open(a->s, a->stmts[a->cur], &a->o, &a->q, e);
    if (rc)
        return rc;
    int nc = sql_query_ncols(a->q);
    if (sql_query_has_rows(a->q)) {
        const char *names[1024];
        sql_type types[1024];
        if (nc > 1024)
            nc = 1024;
        for (int i = 0; i < nc; i++) {
            names[i] = sql_query_colname(a->q, i);
            types[i] = sql_query_coltype(a->q, i);
        }
        rc = sql_fmt_begin(a->f, nc, names, types);
    }
    return rc;
}

static int parse_params(api_query *a, const json_val *p, errmsg *em)
{
    if (!p || p->type == JSON_NULL)
        return SL_OK;
    if (p->type != JSON_ARR)
        return errmsg_set(em, SL_EINVAL, "\"params\" must be an array");
    int n = (int)p->len;
    sql_datum *vals = arena_zalloc(&a->mem, sizeof *vals * (size_t)(n ? n : 1));
    sql_type *types = arena_zalloc(&a->mem, sizeof *types * (size_t)(n ? n : 1));
    if (!vals || !types)
        return errmsg_set(em, SL_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        const json_val *v = &p->items[i];
        types[i] = sql_type_of(ST_UNKNOWN);
        switch (v->type) {
        case JSON_NULL: vals[i].null = true; break;
        case JSON_BOOL:
            types[i] = sql_type_of(ST_BOOL);
            vals[i].b = v->b != 0;
            break;
        case JSON_NUM:
            if (v->is_int) {
                types[i] = sql_type_of(ST_INT8);
                vals[i].i = v->i;
            } else {
                types[i] = sql_type_of(ST_FLOAT8);
                vals[i].f = v->num;
            }
            break;
        case JSON_STR:
            vals[i].s.p = (const uint8_t *)v->str;
            vals[i].s.n = (uint32_t)v->len;
            break;
        default:
            return errmsg_set(em, SL_EINVAL, "params[%d]: a parameter is a string, number, "
                                             "boolean or null", i);
        }
    }
    a->params.n = n;
    a->params.vals = vals;
    a->params.types = types;
    a->o.params = &a->params;
    return SL_OK;
}

int api_query_open(sql_engine *eng, budget *bud, const char *body, size_t len,
                   const char *format, const char *accept, bool expanded, bool admin,
                   api_query **out, int *status, dbuf *errbody)
{
    *status = 400;
    errmsg em;
    errmsg_clear(&em);
    sql_err se;
    sql_err_clear(&se);
    api_query *a = sl_calloc(1, sizeof *a);
    if (!a) {
        *status = 500;
        return SL_ENOMEM;
    }
    a->eng = eng;
    a->bud = bud;
    a->span = SL_ASYNC_BEGIN("sql.query.http", NULL);
    arena_init(&a->mem, 4096, len * 4 + (1u << 20));
    dbuf_init(&a->out, (size_t)64 << 20);
    a->o.begin_ns = INT64_MIN;
    a->o.end_ns = INT64_MAX;
    a->o.cancel = &a->cancel;
    int rc = SL_OK;
    /* the format: ?format=, else Accept, else JSON lines */
    int k = SQL_FMT_JSON;
    if (format && *format) {
        if ((k = sql_fmt_parse(format)) < 0)
            rc = errmsg_set(&em, SL_EINVAL, "format=%s: use json, csv or table", format);
    } else if (accept && strstr(accept, "text/csv")) {
        k = SQL_FMT_CSV;
    } else if (accept && strstr(accept, "text/plain")) {
        k = SQL_FMT_TABLE;
    }
    a->kind = (sql_fmt_kind)(k < 0 ? SQL_FMT_JSON : k);
    json_val *j = NULL;
    const json_val *sqlv = NULL;
    if (!rc && json_parse(&a->mem, body ? body : "", len, &j, &em))
        rc = SL_EINVAL;
    if (!rc && j->type != JSON_OBJ)
        rc = errmsg_set(&em, SL_EINVAL, "the body must be a JSON object with \"sql\"");
    if (!rc && (!(sqlv = json_get(j, "sql")) || sqlv->type != JSON_STR))
        rc = errmsg_set(&em, SL_EINVAL, "\"sql\" must be a string of SQL");
    if (!rc && strlen(sqlv->str) != sqlv->len)
        rc = errmsg_set(&em, SL_EINVAL, "\"sql\" contains a NUL character");
    if (!rc)
        rc = parse_params(a, json_get(j, "params"), &em);
    for (int i = 0; !rc && i < 2; i++) {
        const char *key = i ? "end" : "begin";
        const json_val *t = json_get(j, key);
        if (!t || t->type == JSON_NULL)
            continue;
        int has = 0;
        int64_t ns = 0;
        char num[32];
        const char *txt = t->type == JSON_STR ? t->str : NULL;
        if (t->type == JSON_NUM && t->is_int) {
            snprintf(num, sizeof num, "%lld", (long long)t->i);
            txt = num;
        }
        if (!txt)
            rc = errmsg_set(&em, SL_EINVAL, "\"%s\" must be an RFC 3339 time or integer ns", key);
        else
            rc = api_parse_time(txt, &has, &ns, key, &em);
        if (!rc && has) {
            if (i)
                a->o.end_ns = ns;
            else
                a->o.begin_ns = ns;
        }
    }
    if (rc) {
        dbuf_printf(errbody, "{\"error\":{\"sqlstate\":\"22023\",\"message\":");
        json_escape(errbody, em.text, strlen(em.text));
        dbuf_append_str(errbody, "}}");
        api_query_close(a);
        return rc;
    }
    if (!(a->stmts = arena_zalloc(&a->mem, sizeof *a->stmts * 256)) ||
        sql_split(sqlv->str, collect, a, &se)) {
        if (!se.state[0])
            sql_err_set(&se, "54000", -1, "at most 256 statements per request");
        error_json(&se, errbody);
        api_query_close(a);
        return SL_EINVAL;
    }
    if (!a->nstmts) {
        sql_err_set(&se, SQLSTATE_SYNTAX, -1, "no statement in \"sql\"");
        error_json(&se, errbody);
        api_query_close(a);
        return SL_EINVAL;
    }
    /* the response's buffers come from the server's budget */
    if (budget_take(bud, QUERY_RESPONSE_BYTES, 0, 0, &a->grant, &em)) {
        *status = 503;
        sql_err_set(&se, "53000", -1, "%s", em.text);
        error_json(&se, errbody);
        api_query_close(a);
        return SL_EBUSY;
    }
    if (!sql_session_new(eng, &a->s) && !admin)
        sql_session_deny_admin(a->s);
    if (!a->s || sql_fmt_new(a->kind, expanded, to_out, a, &a->f)) {
        *status = 500;
        sql_err_set(&se, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
        error_json(&se, errbody);
        api_query_close(a);
        return SL_ENOMEM;
    }
    if ((rc = open_stmt(a, &se))) {
        *status = !strncmp(se.state, "53", 2) ? 503
                  : !strcmp(se.state, "58P01") ? 404 /* a file read_csv/read_parquet wants */
                  : se.state[0] == 'X' || !strncmp(se.state, "58", 2) ? 500 : 400;
        error_json(&se, errbody);
        api_query_close(a);
        return rc;
    }
    *out = a;
    *status = 200;
    return SL_OK;
}

const char *api_query_content_type(const api_query *a)
{
    switch (a->kind) {
    case SQL_FMT_CSV: return "text/csv; charset=utf-8";
    case SQL_FMT_TABLE: return "text/plain; charset=utf-8";
    default: return "application/x-ndjson";
    }
}

/* Produces more output: a batch of the current statement, its end, the next statement. */
static int produce(api_query *a)
{
    if (!a->q) {
        if (a->failed || ++a->cur >= a->nstmts) {
            a->done = true;
            return SL_OK;
        }
        sql_err e;
        if (open_stmt(a, &e)) {
            sql_fmt_error(a->f, &e, a->stmts[a->cur]);
            a->failed = true;
            a->done = true;
        }
        return SL_OK;
    }
    const sql_batch *b;
    sql_err e;
    int rc = sql_query_next(a->q, &b, &e);
    if (rc) {
        /* the error line is the answer: the stream ends after it */
        rc = sql_fmt_error(a->f, &e, a->stmts[a->cur]);
        a->failed = true;
    } else if (b) {
        a->rows += (uint64_t)b->n;
        return sql_fmt_batch(a->f, b);
    } else {
        rc = sql_fmt_end(a->f, sql_query_tag(a->q), a->rows,
                         (double)(clock_mono_ns() - a->t0) / 1e6);
    }
    sql_query_close(a->q);
    a->q = NULL;
    return rc;
}

ssize_t api_query_read(api_query *a, char *buf, size_t max)
{
    while (a->out_pos >= a->out.len) {
        dbuf_reset(&a->out);
        a->out_pos = 0;
        if (a->done)
            return 0;
        if (produce(a))
            return -1;
    }
    return (ssize_t)api_copy_pending(&a->out, &a->out_pos, buf, max);
}

void api_query_close(api_query *a)
{
    if (!a)
        return;
    atomic_store(&a->cancel, 1);
    sql_query_close(a->q);
    sql_fmt_free(a->f);
    sql_session_free(a->s);
    dbuf_free(&a->out);
    arena_destroy(&a->mem);
    budget_give(a->bud, &a->grant);
    sl_async_end(&a->span);
    sl_free(a);
}
