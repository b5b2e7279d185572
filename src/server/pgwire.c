/*
 * pgwire.c - the PostgreSQL protocol listener: connections, startup, the
 * simple query protocol (see pgwire.h; messages in pgwire_msg.c).
 *
 * Each connection has its own thread and its own SQL session.  The first
 * packet may ask for SSL or GSS encryption: both are answered 'N' (the client
 * goes on in the clear, as libpq does by default).  Authentication is trust
 * (loopback by default).  A query's rows go out as DataRows in text format as
 * they come from the engine, batch by batch; the output is written whenever
 * 64 KiB are pending, so memory per connection stays bounded whatever the
 * result's size.  A client that goes away mid-result cancels its query.
 * CancelRequest on another connection finds the query by (pid, secret key).
 */
#include "server/pgwire.h"

#include "base/alloc.h"
#include "base/dbuf.h"
#include "base/log.h"
#include "server/pgwire_msg.h"
#include "sql/sql.h"
#include "sql/types/value.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define OUT_FLUSH (64u << 10)
#define STARTUP_MAX 10000

typedef struct pgconn pgconn;

#define MAX_STMTS 256
#define MAX_PORTALS 64

/* A prepared statement of the extended protocol (Parse). */
typedef struct pgstmt {
    char *name;
    char *text;              /* one statement, or empty */
    int nparams;
    uint32_t *oids;          /* the types Parse gave (0: to be inferred) */
} pgstmt;

/* A portal (Bind): a statement with its parameters, and its query once it runs. */
typedef struct pgportal {
    char *name;
    char *text;
    int nparams;
    sql_datum *vals;         /* text of each parameter (NULL: SQL NULL) */
    sql_type *types;         /* ST_UNKNOWN: inferred from the text */
    dbuf pbytes;             /* the parameters' bytes */
    sql_params params;
    sql_query *q;
    const sql_batch *b;      /* the batch being sent, and its next row */
    int64_t brow;
    uint64_t rows;
    bool done, failed_open;
    int nrfmt;               /* result formats of Bind: 0 all text, 1 one for all, or n */
    int16_t rfmt[64];
} pgportal;

struct pgwire {
    pgwire_config cfg;
    struct sql_engine *eng;
    int lfd;
    uint16_t port;
    pthread_t accept_th;
    bool accept_on;
    pthread_mutex_t mu;
    pthread_cond_t cv;       /* a connection ended */
    pgconn *conns;
    int nconns;
    bool stopping;
    int32_t next_pid;
};

struct pgconn {
    pgwire *pw;
    int fd;
    int32_t pid, secret;
    sql_session *s;
    _Atomic uint8_t cancel;
    dbuf out;                /* backend messages not written yet */
    dbuf msg;                /* the frontend message being read */
    dbuf val;                /* a value's text */
    dbuf stmt;               /* one statement of a simple query, NUL-terminated */
    bool gone;               /* the socket failed: stop at once */
    bool skip_to_sync;       /* an extended-protocol error: ignore until Sync */
    pgstmt stmts[MAX_STMTS];
    int nstmts;
    pgportal portals[MAX_PORTALS];
    int nportals;
    pgconn *next;
};

/* ---- socket I/O ---- */

static int flush_out(pgconn *c)
{
    size_t off = 0;
    while (!c->gone && off < c->out.len) {
        ssize_t w = send(c->fd, c->out.p + off, c->out.len - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            c->gone = true;
            break;
        }
        off += (size_t)w;
    }
    dbuf_reset(&c->out);
    return c->gone ? SL_EIO : SL_OK;
}

/* Reads exactly n bytes; idle_ms > 0: gives up when nothing comes for that long. */
static int read_full(pgconn *c, void *p, size_t n, int idle_ms)
{
    uint8_t *b = p;
    while (n) {
        if (idle_ms > 0) {
            struct pollfd pf = {c->fd, POLLIN, 0};
            int pr = poll(&pf, 1, idle_ms);
            if (pr == 0)
                return SL_EAGAIN;
            if (pr < 0 && errno == EINTR)
                continue;
        }
        ssize_t r = recv(c->fd, b, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            c->gone = true;
            return SL_EIO;
        }
        b += r;
        n -= (size_t)r;
    }
    return SL_OK;
}

static int32_t be32(const uint8_t *p)
{
    return (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]);
}

/* A FATAL error sent at once (the connection closes after it). */
static void fatal(pgconn *c, const char *state, const char *fmt, const char *arg)
{
    sql_err e;
    sql_err_clear(&e);
    sql_err_set(&e, state, -1, fmt, arg);
    pg_error(&c->out, "FATAL", &e, 0, false);
    flush_out(c);
}

/* ---- results ---- */

/* The format of result column i: Bind's (0 text, 1 binary). */
static int16_t col_format(int nfmt, const int16_t *fmt, int i)
{
    return nfmt == 0 ? 0 : nfmt == 1 ? fmt[0] : i < nfmt && i < 64 ? fmt[i] : 0;
}

static void row_description_fmt(pgconn *c, sql_query *q, int nfmt, const int16_t *fmt);

static void row_description(pgconn *c, sql_query *q)
{
    row_description_fmt(c, q, 0, NULL);
}

static void row_description_fmt(pgconn *c, sql_query *q, int nfmt, const int16_t *fmt)
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

static int data_rows_fmt(pgconn *c, sql_query *q, const sql_batch *b, int64_t from, int64_t to,
                         int nfmt, const int16_t *fmt);

/* DataRows for rows [from, to) of b, text. */
static int data_rows(pgconn *c, sql_query *q, const sql_batch *b, int64_t from, int64_t to)
{
    return data_rows_fmt(c, q, b, from, to, 0, NULL);
}

/* DataRows for rows [from, to) of b in the columns' formats. */
static int data_rows_fmt(pgconn *c, sql_query *q, const sql_batch *b, int64_t from, int64_t to,
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
            dbuf_reset(&c->val);
            sql_type t = sql_query_coltype(q, i);
            int rc = col_format(nfmt, fmt, i) ? pg_binary_value(t, &b->cols[i], r, &c->val)
                                              : sql_vec_text(t, &b->cols[i], r, &c->val);
            if (rc)
                return rc;
            pg_put_i32(&c->out, (int32_t)c->val.len);
            dbuf_append(&c->out, c->val.p, c->val.len);
        }
        pg_msg_end(&c->out, at);
        if (c->out.len >= OUT_FLUSH && flush_out(c))
            return SL_EIO;
    }
    return SL_OK;
}

/* ---- COPY ... TO STDOUT ---- */

static void short_msg(dbuf *out, char type);

typedef struct copy_spec {
    char *query;             /* the rows: a query, or SELECT ... FROM the table */
    bool csv, header;
    char delim;
    bool from_stdin;
} copy_spec;

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

/* Matches keyword k (case-insensitive, whole word) at p: the text after it, or NULL. */
static const char *word(const char *p, const char *k)
{
    p = skip_ws(p);
    size_t n = strlen(k);
    if (strncasecmp(p, k, n))
        return NULL;
    char c = p[n];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')
        return NULL;
    return p + n;
}

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
    if ((q = word(p, "WITH")))
        p = q;
    p = skip_ws(p);
    bool paren = *p == '(';
    if (paren)
        p++;
    for (;;) {
        p = skip_ws(p);
        if (!*p || *p == ';')
            return !paren;
        if (paren && *p == ')')
            return !*skip_ws(p + 1) || *skip_ws(p + 1) == ';';
        if (*p == ',') {
            p++;
            continue;
        }
        if ((q = word(p, "FORMAT"))) {
            p = skip_ws(q);
            if ((q = word(p, "csv")))
                cs->csv = true;
            else if (!(q = word(p, "text")))
                return false;
            p = q;
        } else if ((q = word(p, "CSV"))) {
            cs->csv = true;
            p = q;
        } else if ((q = word(p, "HEADER"))) {
            cs->header = true;
            p = q;
            const char *v;
            if ((v = word(p, "true")) || (v = word(p, "on")))
                p = v;
            else if ((v = word(p, "false")) || (v = word(p, "off"))) {
                cs->header = false;
                p = v;
            }
        } else if ((q = word(p, "DELIMITER"))) {
            p = skip_ws(q);
            if ((q = word(p, "AS")))
                p = skip_ws(q);
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
    const char *p = word(text, "COPY");
    if (!p)
        return false;
    p = skip_ws(p);
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
        const char *after = skip_ws(p);
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
    if ((t = word(p, "FROM")) && (t = word(t, "STDIN"))) {
        cs->from_stdin = true;
    } else if (!(t = word(p, "TO")) || !(t = word(t, "STDOUT")) || !copy_options(t, cs)) {
        dbuf_free(&q);
        return false;
    }
    dbuf_append_byte(&q, 0);
    cs->query = (char *)q.p; /* owned by the caller now */
    if (!cs->delim)
        cs->delim = cs->csv ? ',' : '\t';
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

/* COPY ... TO STDOUT: CopyOutResponse, a CopyData per row, CopyDone, "COPY n". */
static int run_copy(pgconn *c, const copy_spec *cs)
{
    sql_err e;
    sql_err_clear(&e);
    if (cs->from_stdin) {
        sql_err_set(&e, "0A000", -1, "COPY FROM STDIN is not supported yet");
        sql_err_hint(&e, "INSERT ... VALUES, or read_csv() over a file under --files.");
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
    int n = sql_query_ncols(q);
    size_t at = pg_msg_begin(&c->out, 'H');
    dbuf_append_byte(&c->out, 0); /* text (CSV is text too) */
    pg_put_i16(&c->out, (int16_t)n);
    for (int i = 0; i < n; i++)
        pg_put_i16(&c->out, 0);
    pg_msg_end(&c->out, at);
    if (cs->header) {
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
            for (int i = 0; i < n && !rc; i++) {
                if (i)
                    dbuf_append_byte(&c->out, (uint8_t)cs->delim);
                if (!col_vec_is_valid(&b->cols[i], r)) {
                    if (!cs->csv)
                        dbuf_append_str(&c->out, "\\N");
                    continue;
                }
                dbuf_reset(&c->val);
                if ((rc = sql_vec_text(sql_query_coltype(q, i), &b->cols[i], r, &c->val)))
                    break;
                copy_value(&c->out, cs, c->val.p, c->val.len);
            }
            dbuf_append_byte(&c->out, '\n');
            pg_msg_end(&c->out, at);
            rows++;
            if (c->out.len >= OUT_FLUSH && flush_out(c))
                rc = SL_EIO;
        }
        if (rc) {
            sql_query_cancel(q);
            sql_query_close(q);
            return 1;
        }
    }
    sql_query_close(q);
    short_msg(&c->out, 'c');
    char tag[32];
    snprintf(tag, sizeof tag, "COPY %llu", (unsigned long long)rows);
    pg_command_complete(&c->out, tag);
    return 0;
}

/* Characters (not bytes) in text[0, n): positions in errors count characters. */
static int chars(const char *text, size_t n)
{
    int k = 0;
    for (size_t i = 0; i < n; i++)
        k += ((uint8_t)text[i] & 0xC0) != 0x80;
    return k;
}

static int cursor_stmt(pgconn *c, const char *text);

/* After SET / RESET of a setting the client tracks: ParameterStatus with its value now. */
static void report_settings(pgconn *c, const char *text)
{
    static const char *const tracked[] = {"application_name", "client_encoding", "DateStyle",
                                          "IntervalStyle", "TimeZone",
                                          "standard_conforming_strings"};
    for (size_t i = 0; i < sizeof tracked / sizeof tracked[0]; i++) {
        if (!strcasestr(text, tracked[i]))
            continue;
        char buf[256];
        const char *v = sql_session_get(c->s, tracked[i], buf, sizeof buf);
        pg_parameter_status(&c->out, tracked[i], v ? v : "");
    }
}

/* Runs one statement: its rows and CommandComplete, or an ErrorResponse (1 then). */
static int run_stmt(pgconn *c, const char *text, int pos_offset)
{
    int cur = cursor_stmt(c, text);
    if (cur)
        return cur - 1;
    copy_spec cs;
    if (parse_copy(text, &cs)) {
        int r = run_copy(c, &cs);
        sl_free(cs.query);
        return r;
    }
    sql_query_opts o = {.begin_ns = INT64_MIN, .end_ns = INT64_MAX, .cancel = &c->cancel};
    atomic_store(&c->cancel, 0);
    sql_query *q;
    sql_err e;
    sql_err_clear(&e);
    int rc = sql_query_open(c->s, text, &o, &q, &e);
    if (rc) {
        pg_error(&c->out, "ERROR", &e, e.position ? e.position + pos_offset : 0, false);
        return 1;
    }
    if (sql_query_has_rows(q))
        row_description(c, q);
    for (;;) {
        const sql_batch *b;
        if ((rc = sql_query_next(q, &b, &e))) {
            pg_error(&c->out, "ERROR", &e, e.position ? e.position + pos_offset : 0, false);
            sql_query_close(q);
            return 1;
        }
        if (!b)
            break;
        if ((rc = data_rows(c, q, b, 0, b->n))) {
            sql_query_cancel(q);
            sql_query_close(q);
            if (c->gone)
                return 1;
            sql_err_set(&e, "XX000", -1, "cannot format a value: %s", sl_strerror(rc));
            pg_error(&c->out, "ERROR", &e, 0, false);
            return 1;
        }
    }
    const char *tag = sql_query_tag(q);
    pg_command_complete(&c->out, tag);
    if (!strcmp(tag, "SET") || !strcmp(tag, "RESET"))
        report_settings(c, text);
    sql_query_close(q);
    return 0;
}

typedef struct split_ctx {
    const char *text;
    const char **s;
    size_t *n;
    int count, cap;
} split_ctx;

static int take_stmt(void *arg, const char *stmt, size_t n)
{
    split_ctx *x = arg;
    if (x->count == x->cap) {
        int cap = x->cap ? x->cap * 2 : 8;
        const char **s = sl_realloc(x->s, sizeof *s * (size_t)cap);
        size_t *l = s ? sl_realloc(x->n, sizeof *l * (size_t)cap) : NULL;
        if (s)
            x->s = s;
        if (!s || !l)
            return SL_ENOMEM;
        x->n = l;
        x->cap = cap;
    }
    x->s[x->count] = stmt;
    x->n[x->count++] = n;
    return SL_OK;
}

static char tx_status(pgconn *c)
{
    return sql_session_in_tx(c->s) ? 'T' : 'I';
}

/* 'Q': one or more statements; the first error ends the string's run. */
static void simple_query(pgconn *c, const char *text)
{
    split_ctx x = {text, NULL, NULL, 0, 0};
    sql_err e;
    sql_err_clear(&e);
    int rc = sql_split(text, take_stmt, &x, &e);
    if (rc) {
        if (!e.state[0])
            sql_err_set(&e, rc == SL_ENOMEM ? "53200" : "42601", -1, "%s", sl_strerror(rc));
        pg_error(&c->out, "ERROR", &e, e.position, false);
    } else if (!x.count) {
        pg_empty_query(&c->out);
    }
    for (int i = 0; !rc && i < x.count && !c->gone; i++) {
        dbuf_reset(&c->stmt);
        dbuf_append(&c->stmt, x.s[i], x.n[i]);
        dbuf_append_byte(&c->stmt, 0);
        if (run_stmt(c, (const char *)c->stmt.p, chars(text, (size_t)(x.s[i] - text))))
            break;
    }
    sl_free(x.s);
    sl_free(x.n);
    pg_ready(&c->out, tx_status(c));
    flush_out(c);
}

/* ---- the extended query protocol ---- */

static void ext_error(pgconn *c, const char *state, const char *fmt, const char *arg)
{
    sql_err e;
    sql_err_clear(&e);
    sql_err_set(&e, state, -1, fmt, arg);
    pg_error(&c->out, "ERROR", &e, 0, false);
    c->skip_to_sync = true;
}

static void short_msg(dbuf *out, char type)
{
    size_t at = pg_msg_begin(out, type);
    pg_msg_end(out, at);
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

static pgportal *find_portal(pgconn *c, const char *name)
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
    *st = c->stmts[--c->nstmts];
}

static void portal_drop(pgconn *c, pgportal *p)
{
    if (p->q)
        sql_query_close(p->q);
    sl_free(p->name);
    sl_free(p->text);
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
static void ext_parse(pgconn *c, pg_rd *r)
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
    if (!st->name || !st->text) {
        sl_free(st->name);
        sl_free(st->text);
        sl_free(oids);
        ext_error(c, "53200", "out of memory%s", "");
        return;
    }
    c->nstmts++;
    short_msg(&c->out, '1');
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
        return -1;
    }
}

/* 'B': portal, statement, parameter formats and values, result formats. */
static void ext_bind(pgconn *c, pg_rd *r)
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
    pgportal *old = find_portal(c, pname);
    if (old && *pname) {
        ext_error(c, "42P03", "cursor \"%s\" already exists", pname);
        return;
    }
    if (old)
        portal_drop(c, old);
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
    c->nportals++;
    if (!p->vals || !p->types || !p->name || !p->text) {
        portal_drop(c, p);
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
            portal_drop(c, p);
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
        portal_drop(c, p);
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
    short_msg(&c->out, '2');
}

/* Opens a portal's query (once). 0 on success; an ErrorResponse otherwise. */
static int portal_open(pgconn *c, pgportal *p)
{
    if (p->q || p->done)
        return 0;
    if (p->failed_open)
        return 1;
    sql_query_opts o = {.params = &p->params, .begin_ns = INT64_MIN, .end_ns = INT64_MAX,
                        .cancel = &c->cancel};
    atomic_store(&c->cancel, 0);
    sql_err e;
    sql_err_clear(&e);
    if (!p->text[strspn(p->text, " \t\r\n;")]) {
        p->done = true; /* an empty statement */
        return 0;
    }
    if (sql_query_open(c->s, p->text, &o, &p->q, &e)) {
        p->failed_open = true;
        pg_error(&c->out, "ERROR", &e, e.position, false);
        c->skip_to_sync = true;
        return 1;
    }
    return 0;
}

/* Whether a statement's text returns rows, judged by its first word (for Describe of
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
static void ext_describe(pgconn *c, pg_rd *r)
{
    const char *name;
    char kind = target(c, r, "Describe", &name);
    if (!kind)
        return;
    if (kind == 'P') {
        pgportal *p = find_portal(c, name);
        if (!p) {
            ext_error(c, "34000", "portal \"%s\" does not exist", name);
            return;
        }
        if (portal_open(c, p))
            return;
        if (p->q && sql_query_has_rows(p->q))
            row_description_fmt(c, p->q, p->nrfmt, p->rfmt);
        else
            short_msg(&c->out, 'n');
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
        short_msg(&c->out, 'n');
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
    sql_query_opts o = {.params = &pp, .begin_ns = INT64_MIN, .end_ns = INT64_MAX,
                        .cancel = &c->cancel};
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
            row_description(c, q);
        else
            short_msg(&c->out, 'n');
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
        if (data_rows_fmt(c, p->q, p->b, p->brow, to, p->nrfmt, p->rfmt)) {
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
static void ext_execute(pgconn *c, pg_rd *r)
{
    const char *name = pg_rd_str(r);
    int32_t limit = pg_rd_i32(r);
    if (r->bad) {
        ext_error(c, "08P01", "invalid Execute message%s", "");
        return;
    }
    pgportal *p = find_portal(c, name);
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
        short_msg(&c->out, 's'); /* PortalSuspended */
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
    p = skip_ws(p);
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
static int cursor_stmt(pgconn *c, const char *text)
{
    char name[64];
    const char *p, *q;
    if ((p = word(text, "DECLARE"))) {
        if (!(p = cursor_name(p, name)))
            return 0;
        if (word(p, "BINARY"))
            return cursor_fail(c, "0A000", "binary cursors are not supported yet%s", "");
        const char *opts[] = {"ASENSITIVE", "INSENSITIVE", "NO", "SCROLL"};
        for (bool again = true; again;) {
            again = false;
            for (size_t i = 0; i < 4; i++)
                if ((q = word(p, opts[i]))) {
                    p = q;
                    again = true;
                }
        }
        if (!(p = word(p, "CURSOR")))
            return 0;
        if ((q = word(p, "WITH")) || (q = word(p, "WITHOUT")))
            if ((q = word(q, "HOLD")))
                p = q;
        if (!(p = word(p, "FOR")))
            return 0;
        if (find_portal(c, name))
            return cursor_fail(c, "42P03", "cursor \"%s\" already exists", name);
        if (c->nportals == MAX_PORTALS)
            return cursor_fail(c, "53400", "more than 64 cursors on one connection%s", "");
        pgportal *pt = &c->portals[c->nportals];
        memset(pt, 0, sizeof *pt);
        dbuf_init(&pt->pbytes, 16);
        pt->name = dup_str(name);
        pt->text = dup_str(skip_ws(p));
        pt->vals = sl_calloc(1, sizeof *pt->vals);
        pt->types = sl_calloc(1, sizeof *pt->types);
        c->nportals++;
        if (!pt->name || !pt->text || !pt->vals || !pt->types) {
            portal_drop(c, pt);
            return cursor_fail(c, "53200", "out of memory%s", "");
        }
        pt->params = (sql_params){0, pt->types, pt->vals};
        /* planned now, so that a wrong query fails at DECLARE as in PostgreSQL */
        if (portal_open(c, pt)) {
            c->skip_to_sync = false;
            portal_drop(c, pt);
            return 2;
        }
        pg_command_complete(&c->out, "DECLARE CURSOR");
        return 1;
    }
    if ((p = word(text, "FETCH"))) {
        int64_t count = 1;
        if ((q = word(p, "NEXT"))) {
            p = q;
        } else if ((q = word(p, "ALL"))) {
            count = 0;
            p = q;
        } else if ((q = word(p, "FORWARD"))) {
            p = q;
            if ((q = word(p, "ALL"))) {
                count = 0;
                p = q;
            } else {
                const char *d = skip_ws(p);
                if (*d >= '0' && *d <= '9' && !(count = strtoll(d, (char **)&p, 10)))
                    count = -1; /* FETCH FORWARD 0: no row */
            }
        } else {
            const char *d = skip_ws(p);
            if (*d >= '0' && *d <= '9') {
                if (!(count = strtoll(d, (char **)&p, 10)))
                    count = -1;
            } else if ((*d | 0x20) >= 'a' && (*d | 0x20) <= 'z' && !word(d, "FROM") && !word(d, "IN") &&
                     !cursor_name(d, name))
                return 0;
        }
        if ((q = word(p, "FROM")) || (q = word(p, "IN")))
            p = q;
        if (!(p = cursor_name(p, name)) || (*skip_ws(p) && *skip_ws(p) != ';'))
            return cursor_fail(c, "0A000", "this form of FETCH is not supported: %.80s", text);
        pgportal *pt = find_portal(c, name);
        if (!pt)
            return cursor_fail(c, "34000", "cursor \"%s\" does not exist", name);
        if (pt->q && sql_query_has_rows(pt->q))
            row_description(c, pt->q);
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
    if ((p = word(text, "CLOSE"))) {
        if ((q = word(p, "ALL"))) {
            for (int i = c->nportals - 1; i >= 0; i--)
                if (c->portals[i].name[0])
                    portal_drop(c, &c->portals[i]);
        } else {
            if (!(p = cursor_name(p, name)))
                return 0;
            pgportal *pt = find_portal(c, name);
            if (!pt)
                return cursor_fail(c, "34000", "cursor \"%s\" does not exist", name);
            portal_drop(c, pt);
        }
        pg_command_complete(&c->out, "CLOSE CURSOR");
        return 1;
    }
    return 0;
}

/* 'C': close a statement or a portal (closing what does not exist is no error). */
static void ext_close(pgconn *c, pg_rd *r)
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
        pgportal *p = find_portal(c, name);
        if (p)
            portal_drop(c, p);
    }
    short_msg(&c->out, '3');
}

static void ext_free(pgconn *c)
{
    while (c->nportals)
        portal_drop(c, &c->portals[0]);
    while (c->nstmts)
        stmt_drop(c, &c->stmts[0]);
}

/* ---- connections ---- */

static void unregister(pgconn *c)
{
    pgwire *pw = c->pw;
    pthread_mutex_lock(&pw->mu);
    for (pgconn **p = &pw->conns; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    pw->nconns--;
    pthread_cond_broadcast(&pw->cv);
    pthread_mutex_unlock(&pw->mu);
}

/* CancelRequest: the connection with this key stops its query (nothing is answered). */
static void cancel_by_key(pgwire *pw, int32_t pid, int32_t secret)
{
    pthread_mutex_lock(&pw->mu);
    for (pgconn *c = pw->conns; c; c = c->next)
        if (c->pid == pid && c->secret == secret)
            atomic_store(&c->cancel, 1);
    pthread_mutex_unlock(&pw->mu);
}

/* The first packets: SSL / GSS requests answered 'N', then a StartupMessage or a
 * CancelRequest.  1: go on with the session; 0: done (cancel, refusal, error). */
static int startup(pgconn *c)
{
    for (int tries = 0; tries < 3; tries++) {
        uint8_t len4[4];
        if (read_full(c, len4, 4, 30000))
            return 0;
        int32_t len = be32(len4);
        if (len < 8 || len > STARTUP_MAX) {
            fatal(c, "08P01", "invalid length of startup packet%s", "");
            return 0;
        }
        dbuf_reset(&c->msg);
        if (dbuf_reserve(&c->msg, (size_t)len) || read_full(c, c->msg.p, (size_t)len - 4, 30000))
            return 0;
        pg_startup st;
        errmsg em = {0};
        if (pg_parse_startup(c->msg.p, (size_t)len - 4, &st, &em)) {
            fatal(c, "08P01", "%s", em.text);
            return 0;
        }
        if (st.code == PG_SSL_REQUEST || st.code == PG_GSSENC_REQUEST) {
            dbuf_append_byte(&c->out, 'N');
            if (flush_out(c))
                return 0;
            continue;
        }
        if (st.code == PG_CANCEL_REQUEST) {
            cancel_by_key(c->pw, st.pid, st.secret);
            return 0;
        }
        if (st.code != PG_PROTOCOL_3) {
            char v[32];
            snprintf(v, sizeof v, "%d.%d", st.code >> 16, st.code & 0xFFFF);
            fatal(c, "0A000", "unsupported frontend protocol %s: server supports 3.0", v);
            return 0;
        }
        pthread_mutex_lock(&c->pw->mu);
        bool full = c->pw->nconns > c->pw->cfg.max_conns;
        pthread_mutex_unlock(&c->pw->mu);
        if (full) {
            fatal(c, "53300", "sorry, too many clients already%s", "");
            return 0;
        }
        if (sql_session_new(c->pw->eng, &c->s)) {
            fatal(c, "53200", "out of memory%s", "");
            return 0;
        }
        const char *app = pg_startup_get(&st, "application_name");
        sql_err e;
        sql_err_clear(&e);
        if (app)
            sql_session_set(c->s, "application_name", app, &e);
        pg_auth_ok(&c->out);
        static const char *const params[][2] = {
            {"server_version", "15.0"},         {"server_encoding", "UTF8"},
            {"client_encoding", "UTF8"},        {"DateStyle", "ISO, MDY"},
            {"IntervalStyle", "postgres"},      {"TimeZone", "UTC"},
            {"integer_datetimes", "on"},        {"standard_conforming_strings", "on"},
            {"is_superuser", "on"},             {"session_authorization", "streamlake"},
        };
        for (size_t i = 0; i < sizeof params / sizeof params[0]; i++)
            pg_parameter_status(&c->out, params[i][0], params[i][1]);
        pg_parameter_status(&c->out, "application_name", app ? app : "");
        pg_backend_key(&c->out, c->pid, c->secret);
        pg_ready(&c->out, 'I');
        return flush_out(c) ? 0 : 1;
    }
    return 0;
}

static void serve_conn(pgconn *c)
{
    if (!startup(c))
        return;
    int idle_ms = c->pw->cfg.idle_timeout_s > 0 ? c->pw->cfg.idle_timeout_s * 1000 : 0;
    while (!c->gone) {
        uint8_t head[5];
        int rc = read_full(c, head, 5, idle_ms);
        if (rc == SL_EAGAIN) {
            fatal(c, "57P05", "terminating connection due to idle-session timeout%s", "");
            return;
        }
        if (rc)
            return;
        int32_t len = be32(head + 1);
        if (len < 4 || (size_t)len - 4 > c->pw->cfg.max_msg) {
            char what[64];
            snprintf(what, sizeof what, "%d bytes", len);
            fatal(c, "08P01", "invalid message length: %s", what);
            return;
        }
        dbuf_reset(&c->msg);
        if (dbuf_reserve(&c->msg, (size_t)len - 4 + 1)) {
            fatal(c, "53200", "out of memory for a message%s", "");
            return;
        }
        if (read_full(c, c->msg.p, (size_t)len - 4, 0))
            return;
        c->msg.len = (size_t)len - 4;
        pg_rd r;
        pg_rd_init(&r, c->msg.p, c->msg.len);
        char type = (char)head[0];
        if (c->skip_to_sync && type != 'S' && type != 'X')
            continue;
        switch (type) {
        case 'Q': {
            const char *text = pg_rd_str(&r);
            if (r.bad) {
                fatal(c, "08P01", "invalid query message: the text has no terminator%s", "");
                return;
            }
            simple_query(c, text);
            break;
        }
        case 'X':
            return;
        case 'S': {
            c->skip_to_sync = false;
            pgportal *un = find_portal(c, "");
            if (un)
                portal_drop(c, un); /* the unnamed portal ends with its implicit transaction */
            pg_ready(&c->out, tx_status(c));
            flush_out(c);
            break;
        }
        case 'H':
            flush_out(c);
            break;
        case 'P':
            ext_parse(c, &r);
            break;
        case 'B':
            ext_bind(c, &r);
            break;
        case 'D':
            ext_describe(c, &r);
            break;
        case 'E':
            ext_execute(c, &r);
            break;
        case 'C':
            ext_close(c, &r);
            break;
        case 'd':
        case 'c':
        case 'f':
            break; /* copy data outside a copy: ignored, as PostgreSQL does */
        default: {
            char t[8];
            snprintf(t, sizeof t, "%d", (uint8_t)type);
            fatal(c, "08P01", "invalid frontend message type %s", t);
            return;
        }
        }
    }
}

static void *conn_main(void *arg)
{
    pgconn *c = arg;
    serve_conn(c);
    ext_free(c);
    unregister(c);
    if (c->s)
        sql_session_free(c->s);
    close(c->fd);
    dbuf_free(&c->out);
    dbuf_free(&c->msg);
    dbuf_free(&c->val);
    dbuf_free(&c->stmt);
    sl_free(c);
    return NULL;
}

static void *accept_main(void *arg)
{
    pgwire *pw = arg;
    for (;;) {
        int fd = accept(pw->lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            pthread_mutex_lock(&pw->mu);
            bool stop = pw->stopping;
            pthread_mutex_unlock(&pw->mu);
            if (stop)
                break;
            if (errno == EMFILE || errno == ENFILE || errno == ENOMEM) {
                usleep(10000);
                continue;
            }
            break;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pgconn *c = sl_calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->pw = pw;
        c->fd = fd;
        dbuf_init(&c->out, (size_t)1 << 30);
        dbuf_init(&c->msg, pw->cfg.max_msg + 16);
        dbuf_init(&c->val, (size_t)1 << 30);
        dbuf_init(&c->stmt, pw->cfg.max_msg + 16);
        if (getrandom(&c->secret, sizeof c->secret, 0) != sizeof c->secret)
            c->secret = (int32_t)(uintptr_t)c ^ (int32_t)time(NULL);
        pthread_mutex_lock(&pw->mu);
        if (pw->stopping) {
            pthread_mutex_unlock(&pw->mu);
            close(fd);
            sl_free(c);
            break;
        }
        c->pid = ++pw->next_pid;
        c->next = pw->conns;
        pw->conns = c;
        pw->nconns++;
        pthread_mutex_unlock(&pw->mu);
        pthread_t th;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&th, &at, conn_main, c) != 0)
            conn_main(c); /* no thread: refuse by closing (it reads nothing) */
        pthread_attr_destroy(&at);
    }
    return NULL;
}

int pgwire_start(const pgwire_config *cfg, struct sql_engine *eng, pgwire **out, errmsg *e)
{
    *out = NULL;
    pgwire *pw = sl_calloc(1, sizeof *pw);
    if (!pw)
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    pw->cfg = *cfg;
    if (pw->cfg.max_conns <= 0)
        pw->cfg.max_conns = 100;
    if (!pw->cfg.max_msg)
        pw->cfg.max_msg = (size_t)64 << 20;
    pw->eng = eng;
    pw->next_pid = 10000 + (int32_t)(getpid() % 1000) * 1000;
    pthread_mutex_init(&pw->mu, NULL);
    pthread_cond_init(&pw->cv, NULL);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(cfg->port)};
    const char *host = cfg->host && *cfg->host ? cfg->host : "127.0.0.1";
    if (!strcmp(host, "localhost"))
        host = "127.0.0.1";
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        sl_free(pw);
        return errmsg_set(e, SL_EINVAL, "--pg-listen: '%s' is not an IPv4 address", host);
    }
    pw->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (pw->lfd >= 0)
        setsockopt(pw->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (pw->lfd < 0 || bind(pw->lfd, (struct sockaddr *)&sa, sizeof sa) || listen(pw->lfd, 128)) {
        int err = errno;
        if (pw->lfd >= 0)
            close(pw->lfd);
        sl_free(pw);
        return errmsg_set(e, SL_EIO, "PostgreSQL listener on %s:%u: %s", host, cfg->port,
                          strerror(err));
    }
    socklen_t sl = sizeof sa;
    getsockname(pw->lfd, (struct sockaddr *)&sa, &sl);
    pw->port = ntohs(sa.sin_port);
    if (pthread_create(&pw->accept_th, NULL, accept_main, pw) != 0) {
        close(pw->lfd);
        sl_free(pw);
        return errmsg_set(e, SL_ENOMEM, "cannot start the PostgreSQL listener's thread");
    }
    pw->accept_on = true;
    *out = pw;
    return SL_OK;
}

uint16_t pgwire_port(const pgwire *p)
{
    return p->port;
}

void pgwire_stop(pgwire *pw)
{
    if (!pw)
        return;
    pthread_mutex_lock(&pw->mu);
    pw->stopping = true;
    /* wake every connection: running queries stop, blocked reads return */
    for (pgconn *c = pw->conns; c; c = c->next) {
        atomic_store(&c->cancel, 1);
        shutdown(c->fd, SHUT_RDWR);
    }
    pthread_mutex_unlock(&pw->mu);
    shutdown(pw->lfd, SHUT_RDWR);
    if (pw->accept_on)
        pthread_join(pw->accept_th, NULL);
    close(pw->lfd);
    pthread_mutex_lock(&pw->mu);
    while (pw->nconns > 0)
        pthread_cond_wait(&pw->cv, &pw->mu);
    pthread_mutex_unlock(&pw->mu);
    pthread_mutex_destroy(&pw->mu);
    pthread_cond_destroy(&pw->cv);
    sl_free(pw);
}
