/*
 * pgwire_ext.c - the extended query protocol (Parse, Bind, Describe, Execute,
 * Close) and cursors (DECLARE, FETCH, CLOSE), which are portals of the simple
 * protocol (docs/internals/pgwire.md).
 */
#define SL_TARGET "streamlake.server"
#include "server/pgwire_int.h"

#include "base/alloc.h"
#include "sql/types/value.h"
#include "streamlake/trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void ext_error(pgconn *c, const char *state, const char *fmt, const char *arg)
{
    sql_err e;
    sql_err_clear(&e);
    sql_err_set(&e, state, -1, fmt, arg);
    pg_error(&c->out, "ERROR", &e, 0, false);
    c->skip_to_sync = true;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s);
    char *d = sl_malloc(n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d;
}

static pgstmt *find_stmt(pgconn *c, const char *name)
{
    for (int i = 0; i < c->nstmts; i++)
        if (!strcmp(c->stmts[i].name, name))
            return &c->stmts[i];
    return NULL;
}

pgportal *pgw_find_portal(pgconn *c, const char *name)
{
    for (int i = 0; i < c->nportals; i++)
        if (!strcmp(c->portals[i].name, name))
            return &c->portals[i];
    return NULL;
}

static void stmt_drop(pgconn *c, pgstmt *st)
{
    sl_free(st->name);
    sl_free(st->text);
    sl_free(st->oids);
    sql_parsed_text_unref(st->parsed);
    *st = c->stmts[--c->nstmts];
}

void pgw_portal_drop(pgconn *c, pgportal *p)
{
    if (p->q)
        sql_query_close(p->q);
    sl_free(p->name);
    sl_free(p->text);
    sql_parsed_text_unref(p->parsed);
    sl_free(p->vals);
    sl_free(p->types);
    dbuf_free(&p->pbytes);
    *p = c->portals[--c->nportals];
}

typedef struct count_ctx {
    int n;
} count_ctx;

static int count_stmt(void *arg, const char *stmt, size_t n)
{
    (void)stmt;
    (void)n;
    ((count_ctx *)arg)->n++;
    return SL_OK;
}

/* 'P': name, text, parameter types. */
void pgw_ext_parse(pgconn *c, pg_rd *r)
{
    const char *name = pg_rd_str(r), *text = pg_rd_str(r);
    int16_t n = pg_rd_i16(r);
    if (n < 0 || r->bad) {
        ext_error(c, "08P01", "invalid Parse message%s", "");
        return;
    }
    uint32_t *oids = sl_calloc((size_t)n + 1, sizeof *oids);
    for (int i = 0; oids && i < n; i++)
        oids[i] = (uint32_t)pg_rd_i32(r);
    if (r->bad || !oids) {
        sl_free(oids);
        ext_error(c, r->bad ? "08P01" : "53200", "invalid Parse message%s", "");
        return;
    }
    count_ctx cc = {0};
    sql_err e;
    sql_err_clear(&e);
    if (sql_split(text, count_stmt, &cc, &e)) {
        sl_free(oids);
        pg_error(&c->out, "ERROR", &e, e.position, false);
        c->skip_to_sync = true;
        return;
    }
    if (cc.n > 1) {
        sl_free(oids);
        ext_error(c, "42601", "cannot insert multiple commands into a prepared statement%s", "");
        return;
    }
    pgstmt *old = find_stmt(c, name);
    if (old && *name) {
        sl_free(oids);
        ext_error(c, "42P05", "prepared statement \"%s\" already exists", name);
        return;
    }
    if (old)
        stmt_drop(c, old);
    if (c->nstmts == MAX_STMTS) {
        sl_free(oids);
        ext_error(c, "53400", "more than 256 prepared statements on one connection%s", "");
        return;
    }
    pgstmt *st = &c->stmts[c->nstmts];
    st->name = dup_str(name);
    st->text = dup_str(text);
    st->nparams = n;
    st->oids = oids;
    st->parsed = st->text ? sql_parsed_text_new(st->text) : NULL;
    if (!st->name || !st->text) {
        sql_parsed_text_unref(st->parsed);
        sl_free(st->name);
        sl_free(st->text);
        sl_free(oids);
        ext_error(c, "53200", "out of memory%s", "");
        return;
    }
    c->nstmts++;
    pgw_short_msg(&c->out, '1');
}

/* A binary parameter of a known type as the text the engine reads (0: done). */
static int binary_param(uint32_t oid, const uint8_t *p, int32_t n, dbuf *out)
{
    char t[64];
    int64_t v;
    switch (oid) {
    case 16:
        return n == 1 ? dbuf_append_str(out, p[0] ? "t" : "f") : -1;
    case 21:
    case 23:
    case 20:
        if (n != 2 && n != 4 && n != 8)
            return -1;
        v = 0;
        for (int i = 0; i < n; i++)
            v = (int64_t)((uint64_t)v << 8 | p[i]);
        if (n == 2)
            v = (int16_t)v;
        else if (n == 4)
            v = (int32_t)v;
        snprintf(t, sizeof t, "%lld", (long long)v);
        return dbuf_append_str(out, t);
    case 700:
    case 701: {
        if (n != 4 && n != 8)
            return -1;
        uint64_t u = 0;
        for (int i = 0; i < n; i++)
            u = u << 8 | p[i];
        double d;
        if (n == 4) {
            uint32_t u32 = (uint32_t)u;
            float f;
            memcpy(&f, &u32, 4);
            d = f;
        } else {
            memcpy(&d, &u, 8);
        }
        snprintf(t, sizeof t, "%.17g", d);
        return dbuf_append_str(out, t);
    }
    case 25:
    case 1043:
    case 19:
        return dbuf_append(out, p, (size_t)n);
    case 17:
        dbuf_append_str(out, "\\x");
        for (int32_t i = 0; i < n; i++) {
            snprintf(t, sizeof t, "%02x", p[i]);
            dbuf_append_str(out, t);
        }
        return 0;
    default:
        return pg_binary_param_text(oid, p, n, out) ? -1 : 0;
    }
}

/* 'B': portal, statement, parameter formats and values, result formats. */
void pgw_ext_bind(pgconn *c, pg_rd *r)
{
    const char *pname = pg_rd_str(r), *sname = pg_rd_str(r);
    int16_t nf = pg_rd_i16(r);
    if (r->bad || nf < 0) {
        ext_error(c, "08P01", "invalid Bind message%s", "");
        return;
    }
    int16_t fmts[64];
    for (int i = 0; i < nf; i++) {
        int16_t f = pg_rd_i16(r);
        if (i < 64)
            fmts[i] = f;
    }
    int16_t np = pg_rd_i16(r);
    pgstmt *st = find_stmt(c, sname);
    if (r->bad || np < 0 || nf > 64) {
        ext_error(c, "08P01", "invalid Bind message%s", "");
        return;
    }
    if (!st) {
        ext_error(c, "26000", "prepared statement \"%s\" does not exist", sname);
        return;
    }
    if (nf > 1 && nf != np) {
        ext_error(c, "08P01", "bind message has a format for some parameters only%s", "");
        return;
    }
    pgportal *old = pgw_find_portal(c, pname);
    if (old && *pname) {
        ext_error(c, "42P03", "cursor \"%s\" already exists", pname);
        return;
    }
    if (old)
        pgw_portal_drop(c, old);
    if (c->nportals == MAX_PORTALS) {
        ext_error(c, "53400", "more than 64 portals on one connection%s", "");
        return;
    }
    pgportal *p = &c->portals[c->nportals];
    memset(p, 0, sizeof *p);
    dbuf_init(&p->pbytes, c->pw->cfg.max_msg + 16);
    p->nparams = np;
    p->vals = sl_calloc((size_t)np + 1, sizeof *p->vals);
    p->types = sl_calloc((size_t)np + 1, sizeof *p->types);
    p->name = dup_str(pname);
    p->text = dup_str(st->text);
    p->parsed = sql_parsed_text_ref(st->parsed);
    c->nportals++;
    if (!p->vals || !p->types || !p->name || !p->text) {
        pgw_portal_drop(c, p);
        ext_error(c, "53200", "out of memory%s", "");
        return;
    }
    size_t *offs = sl_calloc((size_t)np + 1, sizeof *offs);
    for (int i = 0; offs && i < np && !r->bad; i++) {
        int32_t len = pg_rd_i32(r);
        p->types[i] = sql_type_of(ST_UNKNOWN);
        if (len == -1) {
            p->vals[i].null = true;
            offs[i] = SIZE_MAX;
            continue;
        }
        const uint8_t *v = pg_rd_bytes(r, len);
        if (!v)
            break;
        int16_t f = nf == 0 ? 0 : nf == 1 ? fmts[0] : fmts[i];
        offs[i] = p->pbytes.len;
        if (f == 0) {
            dbuf_append(&p->pbytes, v, (size_t)len);
        } else if (binary_param(i < st->nparams ? st->oids[i] : 0, v, len, &p->pbytes)) {
            sl_free(offs);
            pgw_portal_drop(c, p);
            char num[16];
            snprintf(num, sizeof num, "%d", i + 1);
            ext_error(c, "0A000", "binary format of parameter $%s (its type) is not supported yet",
                      num);
            return;
        }
        dbuf_append_byte(&p->pbytes, 0);
    }
    int16_t nr = pg_rd_i16(r);
    bool bad_fmt = nr < 0 || nr > 64;
    for (int i = 0; i < nr && !r->bad && !bad_fmt; i++) {
        p->rfmt[i] = pg_rd_i16(r);
        bad_fmt |= p->rfmt[i] != 0 && p->rfmt[i] != 1;
    }
    p->nrfmt = bad_fmt ? 0 : nr;
    if (r->bad || !offs || bad_fmt) {
        sl_free(offs);
        pgw_portal_drop(c, p);
        ext_error(c, r->bad || bad_fmt ? "08P01" : "53200", "invalid Bind message%s", "");
        return;
    }
    /* the values point into pbytes now that it stops growing */
    for (int i = 0; i < np; i++) {
        if (offs[i] == SIZE_MAX)
            continue;
        p->vals[i].s.p = p->pbytes.p + offs[i];
        p->vals[i].s.n = (uint32_t)strlen((const char *)p->pbytes.p + offs[i]);
    }
    sl_free(offs);
    p->params = (sql_params){np, p->types, p->vals};
    pgw_short_msg(&c->out, '2');
}

/* Opens a portal's query (once). 0 on success; an ErrorResponse otherwise. */
static int portal_open(pgconn *c, pgportal *p)
{
    if (p->q || p->done)
        return 0;
    if (p->failed_open)
        return 1;
    sql_query_opts o = {.params = &p->params, .parsed = p->parsed, .begin_ns = INT64_MIN,
                        .end_ns = INT64_MAX, .cancel = &c->cancel};
    atomic_store(&c->cancel, 0);
    sql_err e;
    sql_err_clear(&e);
    if (!p->text[strspn(p->text, " \t\r\n;")]) {
        p->done = true; /* an empty statement */
        return 0;
    }
    if (!sql_query_open(c->s, p->text, &o, &p->q, &e) && sql_query_copy_in(p->q) >= 0) {
        sql_query_close(p->q); /* nothing written yet */
        p->q = NULL;
        sql_err_set(&e, "0A000", -1, "COPY FROM STDIN runs through the simple query protocol "
                                     "only");
    }
    if (!p->q) {
        p->failed_open = true;
        pg_error(&c->out, "ERROR", &e, e.position, false);
        c->skip_to_sync = true;
        return 1;
    }
    return 0;
}

/* Whether a statement's text returns rows, judged by its first pgw_word (for Describe of
 * a statement, before any parameter is known). */
static bool returns_rows(const char *text)
{
    static const char *const words[] = {"select", "with", "values", "show", "explain", "table"};
    text += strspn(text, " \t\r\n(");
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t n = strlen(words[i]);
        if (!strncasecmp(text, words[i], n) && !((text[n] | 0x20) >= 'a' && (text[n] | 0x20) <= 'z'))
            return true;
    }
    return false;
}

/* The body of Describe and Close: 'S' (statement) or 'P' (portal), and a name; 0 when bad. */
static char target(pgconn *c, pg_rd *r, const char *what, const char **name)
{
    const uint8_t *kind = pg_rd_bytes(r, 1);
    *name = pg_rd_str(r);
    if (r->bad || (kind[0] != 'S' && kind[0] != 'P')) {
        ext_error(c, "08P01", "invalid %s message", what);
        return 0;
    }
    return (char)kind[0];
}

/* 'D': 'S' statement (ParameterDescription, then RowDescription or NoData) or 'P' portal. */
void pgw_ext_describe(pgconn *c, pg_rd *r)
{
    const char *name;
    char kind = target(c, r, "Describe", &name);
    if (!kind)
        return;
    if (kind == 'P') {
        pgportal *p = pgw_find_portal(c, name);
        if (!p) {
            ext_error(c, "34000", "portal \"%s\" does not exist", name);
            return;
        }
        if (portal_open(c, p))
            return;
        if (p->q && sql_query_has_rows(p->q))
            pgw_row_description_fmt(c, p->q, p->nrfmt, p->rfmt);
        else
            pgw_short_msg(&c->out, 'n');
        return;
    }
    pgstmt *st = find_stmt(c, name);
    if (!st) {
        ext_error(c, "26000", "prepared statement \"%s\" does not exist", name);
        return;
    }
    size_t at = pg_msg_begin(&c->out, 't');
    pg_put_i16(&c->out, (int16_t)st->nparams);
    for (int i = 0; i < st->nparams; i++)
        pg_put_i32(&c->out, (int32_t)(st->oids[i] ? st->oids[i] : 25));
    pg_msg_end(&c->out, at);
    if (!returns_rows(st->text)) {
        pgw_short_msg(&c->out, 'n');
        return;
    }
    /* the columns: the statement planned with NULL parameters, not run */
    sql_datum *vals = sl_calloc((size_t)st->nparams + 1, sizeof *vals);
    sql_type *types = sl_calloc((size_t)st->nparams + 1, sizeof *types);
    for (int i = 0; vals && types && i < st->nparams; i++) {
        vals[i].null = true;
        types[i] = sql_type_of(ST_UNKNOWN);
    }
    sql_params pp = {st->nparams, types, vals};
    sql_query_opts o = {.params = &pp, .parsed = st->parsed, .begin_ns = INT64_MIN,
                        .end_ns = INT64_MAX, .cancel = &c->cancel};
    sql_query *q = NULL;
    sql_err e;
    sql_err_clear(&e);
    if (!vals || !types || sql_query_open(c->s, st->text, &o, &q, &e)) {
        if (!vals || !types)
            sql_err_set(&e, "53200", -1, "out of memory");
        pg_error(&c->out, "ERROR", &e, e.position, false);
        c->skip_to_sync = true;
    } else {
        if (sql_query_has_rows(q))
            pgw_row_description(c, q);
        else
            pgw_short_msg(&c->out, 'n');
        sql_query_close(q);
    }
    sl_free(vals);
    sl_free(types);
}

/* Up to limit rows of p (0: all) as DataRows; *more when rows are left.  1: the query
 * failed (answered, the portal is done) or the client left. */
static int portal_send(pgconn *c, pgportal *p, int64_t limit, int64_t *sent, bool *more)
{
    sql_err e;
    sql_err_clear(&e);
    *sent = 0;
    *more = false;
    while (p->q) {
        if (!p->b || p->brow >= p->b->n) {
            p->brow = 0;
            if (sql_query_next(p->q, &p->b, &e)) {
                pg_error(&c->out, "ERROR", &e, e.position, false);
                c->skip_to_sync = true;
                sql_query_close(p->q);
                p->q = NULL;
                p->b = NULL;
                p->done = true;
                return 1;
            }
            if (!p->b)
                return 0;
        }
        int64_t to = p->b->n;
        if (limit > 0 && to - p->brow > limit - *sent)
            to = p->brow + (limit - *sent);
        if (pgw_data_rows_fmt(c, p->q, p->b, p->brow, to, p->nrfmt, p->rfmt)) {
            sql_query_cancel(p->q);
            return 1;
        }
        *sent += to - p->brow;
        p->rows += (uint64_t)(to - p->brow);
        p->brow = to;
        if (limit > 0 && *sent >= limit) {
            *more = true;
            return 0;
        }
    }
    return 0;
}

/* 'E': portal, row limit (0: all).  PortalSuspended when rows are left. */
static void execute(pgconn *c, pg_rd *r);

/* Each Execute inside a span (serve records itself: server/self_trace.h). */
void pgw_ext_execute(pgconn *c, pg_rd *r)
{
    sl_async_span sp = SL_ASYNC_BEGIN("sql.query.pgwire", NULL);
    execute(c, r);
    sl_async_end(&sp);
}

static void execute(pgconn *c, pg_rd *r)
{
    const char *name = pg_rd_str(r);
    int32_t limit = pg_rd_i32(r);
    if (r->bad) {
        ext_error(c, "08P01", "invalid Execute message%s", "");
        return;
    }
    pgportal *p = pgw_find_portal(c, name);
    if (!p) {
        ext_error(c, "34000", "portal \"%s\" does not exist", name);
        return;
    }
    if (portal_open(c, p))
        return;
    if (!p->q) {
        if (p->done && !p->rows)
            pg_empty_query(&c->out);
        return;
    }
    int64_t sent;
    bool more;
    if (portal_send(c, p, limit, &sent, &more))
        return;
    if (more) {
        pgw_short_msg(&c->out, 's'); /* PortalSuspended */
        return;
    }
    pg_command_complete(&c->out, sql_query_tag(p->q));
    sql_query_close(p->q);
    p->q = NULL;
    p->b = NULL;
    p->done = true;
}

/* ---- cursors: DECLARE, FETCH, CLOSE (portals of the simple protocol) ---- */

/* A cursor name at p (plain or double-quoted, at most 63 bytes) into name; the text after. */
static const char *cursor_name(const char *p, char *name)
{
    p = pgw_skip_ws(p);
    size_t n = 0;
    if (*p == '"') {
        p++;
        while (*p && *p != '"' && n < 63)
            name[n++] = *p++;
        if (*p != '"')
            return NULL;
        p++;
    } else {
        while (((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z') || (*p >= '0' && *p <= '9') ||
               *p == '_') {
            if (n < 63)
                name[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
            p++;
        }
    }
    name[n] = 0;
    return n ? p : NULL;
}

static int cursor_fail(pgconn *c, const char *state, const char *fmt, const char *arg)
{
    sql_err e;
    sql_err_clear(&e);
    sql_err_set(&e, state, -1, fmt, arg);
    pg_error(&c->out, "ERROR", &e, 0, false);
    return 2;
}

/* 0: not a cursor command; 1: done; 2: done with an error answered. */
int pgw_cursor_stmt(pgconn *c, const char *text)
{
    char name[64];
    const char *p, *q;
    if ((p = pgw_word(text, "DECLARE"))) {
        if (!(p = cursor_name(p, name)))
            return 0;
        if (pgw_word(p, "BINARY"))
            return cursor_fail(c, "0A000", "binary cursors are not supported yet%s", "");
        const char *opts[] = {"ASENSITIVE", "INSENSITIVE", "NO", "SCROLL"};
        for (bool again = true; again;) {
            again = false;
            for (size_t i = 0; i < 4; i++)
                if ((q = pgw_word(p, opts[i]))) {
                    p = q;
                    again = true;
                }
        }
        if (!(p = pgw_word(p, "CURSOR")))
            return 0;
        if ((q = pgw_word(p, "WITH")) || (q = pgw_word(p, "WITHOUT")))
            if ((q = pgw_word(q, "HOLD")))
                p = q;
        if (!(p = pgw_word(p, "FOR")))
            return 0;
        if (pgw_find_portal(c, name))
            return cursor_fail(c, "42P03", "cursor \"%s\" already exists", name);
        if (c->nportals == MAX_PORTALS)
            return cursor_fail(c, "53400", "more than 64 cursors on one connection%s", "");
        pgportal *pt = &c->portals[c->nportals];
        memset(pt, 0, sizeof *pt);
        dbuf_init(&pt->pbytes, 16);
        pt->name = dup_str(name);
        pt->text = dup_str(pgw_skip_ws(p));
        pt->vals = sl_calloc(1, sizeof *pt->vals);
        pt->types = sl_calloc(1, sizeof *pt->types);
        c->nportals++;
        if (!pt->name || !pt->text || !pt->vals || !pt->types) {
            pgw_portal_drop(c, pt);
            return cursor_fail(c, "53200", "out of memory%s", "");
        }
        pt->params = (sql_params){0, pt->types, pt->vals};
        /* planned now, so that a wrong query fails at DECLARE as in PostgreSQL */
        if (portal_open(c, pt)) {
            c->skip_to_sync = false;
            pgw_portal_drop(c, pt);
            return 2;
        }
        pg_command_complete(&c->out, "DECLARE CURSOR");
        return 1;
    }
    if ((p = pgw_word(text, "FETCH"))) {
        int64_t count = 1;
        if ((q = pgw_word(p, "NEXT"))) {
            p = q;
        } else if ((q = pgw_word(p, "ALL"))) {
            count = 0;
            p = q;
        } else if ((q = pgw_word(p, "FORWARD"))) {
            p = q;
            if ((q = pgw_word(p, "ALL"))) {
                count = 0;
                p = q;
            } else {
                const char *d = pgw_skip_ws(p);
                if (*d >= '0' && *d <= '9' && !(count = strtoll(d, (char **)&p, 10)))
                    count = -1; /* FETCH FORWARD 0: no row */
            }
        } else {
            const char *d = pgw_skip_ws(p);
            if (*d >= '0' && *d <= '9') {
                if (!(count = strtoll(d, (char **)&p, 10)))
                    count = -1;
            } else if ((*d | 0x20) >= 'a' && (*d | 0x20) <= 'z' && !pgw_word(d, "FROM") && !pgw_word(d, "IN") &&
                     !cursor_name(d, name))
                return 0;
        }
        if ((q = pgw_word(p, "FROM")) || (q = pgw_word(p, "IN")))
            p = q;
        if (!(p = cursor_name(p, name)) || (*pgw_skip_ws(p) && *pgw_skip_ws(p) != ';'))
            return cursor_fail(c, "0A000", "this form of FETCH is not supported: %.80s", text);
        pgportal *pt = pgw_find_portal(c, name);
        if (!pt)
            return cursor_fail(c, "34000", "cursor \"%s\" does not exist", name);
        if (pt->q && sql_query_has_rows(pt->q))
            pgw_row_description(c, pt->q);
        int64_t sent = 0;
        bool more;
        if (pt->q && count >= 0 && portal_send(c, pt, count, &sent, &more)) {
            c->skip_to_sync = false;
            return 2;
        }
        char tag[32];
        snprintf(tag, sizeof tag, "FETCH %lld", (long long)sent);
        pg_command_complete(&c->out, tag);
        return 1;
    }
    if ((p = pgw_word(text, "CLOSE"))) {
        if ((q = pgw_word(p, "ALL"))) {
            for (int i = c->nportals - 1; i >= 0; i--)
                if (c->portals[i].name[0])
                    pgw_portal_drop(c, &c->portals[i]);
        } else {
            if (!(p = cursor_name(p, name)))
                return 0;
            pgportal *pt = pgw_find_portal(c, name);
            if (!pt)
                return cursor_fail(c, "34000", "cursor \"%s\" does not exist", name);
            pgw_portal_drop(c, pt);
        }
        pg_command_complete(&c->out, "CLOSE CURSOR");
        return 1;
    }
    return 0;
}

/* 'C': close a statement or a portal (closing what does not exist is no error). */
void pgw_ext_close(pgconn *c, pg_rd *r)
{
    const char *name;
    char kind = target(c, r, "Close", &name);
    if (!kind)
        return;
    if (kind == 'S') {
        pgstmt *st = find_stmt(c, name);
        if (st)
            stmt_drop(c, st);
    } else {
        pgportal *p = pgw_find_portal(c, name);
        if (p)
            pgw_portal_drop(c, p);
    }
    pgw_short_msg(&c->out, '3');
}

void pgw_ext_free(pgconn *c)
{
    while (c->nportals)
        pgw_portal_drop(c, &c->portals[0]);
    while (c->nstmts)
        stmt_drop(c, &c->stmts[0]);
}
