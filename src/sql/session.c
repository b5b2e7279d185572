/*
 * session.c - sessions: their settings (SET / SHOW / RESET) and prepared
 * statements, whose texts are parsed once (sql_parsed_text, shared by queries).
 *
 * Settings the engine acts on: work_mem (a query's memory for sorts,
 * aggregations, join build sides and CTEs), statement_timeout,
 * streamlake.begin / streamlake.end (a time range applied to every lake
 * table, like the HTTP API's begin/end), streamlake.workers.  Others that
 * clients set or read (client_encoding, DateStyle, TimeZone, search_path,
 * application_name, extra_float_digits ...) are kept and shown; the ones
 * whose other values would change results are checked (TimeZone must be
 * UTC, DateStyle ISO, client_encoding UTF8): docs/sql.md lists them.
 */
#include "sql/engine_int.h"
#include "sql/catalog/catalog.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "sql/front/parse.h"

#include <stdio.h>
#include <strings.h>

/* ---- settings ---- */

typedef struct setting_def {
    const char *name;
    const char *dflt;
} setting_def;

/* What SHOW prints before any SET (PostgreSQL 15's values where we follow them). */
static const setting_def g_defaults[] = {
    {"server_version", "15.0"},
    {"server_version_num", "150000"},
    {"server_encoding", "UTF8"},
    {"client_encoding", "UTF8"},
    {"DateStyle", "ISO, MDY"},
    {"IntervalStyle", "postgres"},
    {"TimeZone", "UTC"},
    {"integer_datetimes", "on"},
    {"standard_conforming_strings", "on"},
    {"application_name", ""},
    {"extra_float_digits", "1"},
    {"search_path", "\"$user\", public"},
    {"transaction_isolation", "read committed"},
    {"default_transaction_isolation", "read committed"},
    {"transaction_read_only", "off"},
    {"is_superuser", "on"},
    {"lc_collate", "C"},
    {"lc_ctype", "C"},
    {"max_identifier_length", "63"},
    {"max_index_keys", "32"},
    {"work_mem", NULL},
    {"statement_timeout", "0"},
    {"streamlake.begin", ""},
    {"streamlake.end", ""},
    {"streamlake.workers", NULL},
};

#define NDEFAULTS (sizeof g_defaults / sizeof g_defaults[0])

static const setting_def *find_def(const char *name)
{
    for (size_t i = 0; i < NDEFAULTS; i++)
        if (!strcasecmp(g_defaults[i].name, name))
            return &g_defaults[i];
    return NULL;
}

const char *sql_setting_default(const char *name)
{
    const setting_def *d = find_def(name);
    return d ? d->dflt : NULL;
}

int sql_session_new(sql_engine *eng, sql_session **out)
{
    sql_session *s = sl_calloc(1, sizeof *s);
    if (!s)
        return SL_ENOMEM;
    s->eng = eng;
    s->begin_ns = INT64_MIN;
    s->end_ns = INT64_MAX;
    s->work_mem_bytes = eng->o.work_mem_bytes;
    s->timeout_ms = eng->o.statement_timeout_ms;
    s->workers = eng->o.workers;
    s->random_state = (uint64_t)clock_mono_ns() | 1;
    s->hook = eng->default_hook;
    *out = s;
    return SL_OK;
}

int sql_session_new_like(const sql_session *from, sql_session **out)
{
    sql_session *s = sl_malloc(sizeof *s);
    if (!s)
        return SL_ENOMEM;
    *s = *from;
    s->prepared = NULL;
    s->in_tx = s->tx_failed = false;
    s->random_state = (uint64_t)clock_mono_ns() | 1;
    *out = s;
    return SL_OK;
}

void sql_session_set_backend_pid(sql_session *s, int32_t pid)
{
    s->backend_pid = pid;
}

void sql_session_deny_admin(sql_session *s)
{
    s->no_admin = true;
}

void sql_session_set_catalog_hook(sql_session *s, const struct sql_catalog_hook *h)
{
    s->hook = h;
}

void sql_engine_set_hooks(struct sql_engine *eng, const sql_catalog_hook *h,
                          const sql_stmt_hook *sh)
{
    eng->default_hook = h;
    eng->stmt_hook = sh;
}

void sql_session_free(sql_session *s)
{
    if (!s)
        return;
    sql_prepared_clear(s);
    sl_free(s);
}

bool sql_session_in_tx(const sql_session *s)
{
    return s->in_tx;
}

static sql_setting *stored(sql_session *s, const char *name)
{
    for (int i = 0; i < s->nsettings; i++)
        if (!strcasecmp(s->settings[i].name, name))
            return &s->settings[i];
    return NULL;
}

/* "64MB", "1GB", "512kB", "65536" (kB, PostgreSQL's unit for work_mem). */
static int parse_mem(const char *v, int64_t *out)
{
    char *end;
    double x = strtod(v, &end);
    while (*end == ' ')
        end++;
    double mul = 1024;
    if (!strcasecmp(end, "kb") || !*end)
        mul = 1024;
    else if (!strcasecmp(end, "mb"))
        mul = 1024.0 * 1024;
    else if (!strcasecmp(end, "gb"))
        mul = 1024.0 * 1024 * 1024;
    else if (!strcasecmp(end, "tb"))
        mul = 1024.0 * 1024 * 1024 * 1024;
    else if (!strcasecmp(end, "b"))
        mul = 1;
    else
        return -1;
    if (end == v || x < 64 * 1024 / mul || x * mul > 9e18)
        return -1;
    *out = (int64_t)(x * mul);
    return 0;
}

/* "5s", "100ms", "2min", "1h", "250" (ms). */
static int parse_ms(const char *v, int64_t *out)
{
    char *end;
    double x = strtod(v, &end);
    while (*end == ' ')
        end++;
    double mul;
    if (!*end || !strcasecmp(end, "ms"))
        mul = 1;
    else if (!strcasecmp(end, "s"))
        mul = 1000;
    else if (!strcasecmp(end, "min"))
        mul = 60000;
    else if (!strcasecmp(end, "h"))
        mul = 3600000;
    else if (!strcasecmp(end, "d"))
        mul = 86400000;
    else
        return -1;
    if (end == v || x < 0 || x * mul > 2147483647.0)
        return -1;
    *out = (int64_t)(x * mul);
    return 0;
}

/* A time for streamlake.begin/end: RFC 3339, or a timestamp as SQL writes it. */
static int parse_when(const char *v, int64_t *out)
{
    if (!*v)
        return 1; /* empty: no bound */
    if (!clock_parse_time(v, out))
        return 0;
    return dt_parse_timestamp(v, strlen(v), true, out) ? -1 : 0;
}

int sql_session_set(sql_session *s, const char *name, const char *value, sql_err *e)
{
    const setting_def *d = find_def(name);
    if (!d && !strchr(name, '.'))
        return sql_err_set(e, "42704", -1, "unrecognized configuration parameter \"%s\"", name);
    const char *canon = d ? d->name : name;
    bool reset = value == NULL;
    const char *v = reset ? (d && d->dflt ? d->dflt : "") : value;
    if (!strcasecmp(canon, "work_mem")) {
        int64_t b = s->eng->o.work_mem_bytes;
        if (!reset && parse_mem(v, &b))
            return sql_err_set(e, "22023", -1, "invalid value for parameter \"work_mem\": \"%s\"",
                               v);
        s->work_mem_bytes = b;
    } else if (!strcasecmp(canon, "statement_timeout")) {
        int64_t ms = s->eng->o.statement_timeout_ms;
        if (!reset && parse_ms(v, &ms))
            return sql_err_set(e, "22023", -1, "invalid value for parameter "
                                               "\"statement_timeout\": \"%s\"", v);
        s->timeout_ms = ms;
    } else if (!strcasecmp(canon, "streamlake.begin") || !strcasecmp(canon, "streamlake.end")) {
        bool is_begin = !strcasecmp(canon, "streamlake.begin");
        int64_t t = is_begin ? INT64_MIN : INT64_MAX;
        int r = parse_when(v, &t);
        if (r < 0)
            return sql_err_set(e, "22007", -1, "invalid value for parameter \"%s\": \"%s\"",
                               canon, v);
        if (r > 0)
            t = is_begin ? INT64_MIN : INT64_MAX;
        if (is_begin)
            s->begin_ns = t;
        else
            s->end_ns = t;
    } else if (!strcasecmp(canon, "streamlake.workers")) {
        char *end;
        long n = strtol(v, &end, 10);
        if (!reset && (*end || n < 1 || n > 256))
            return sql_err_set(e, "22023", -1, "invalid value for parameter "
                                               "\"streamlake.workers\": \"%s\" (1 to 256)", v);
        s->workers = reset ? s->eng->o.workers : (int)n;
    } else if (!strcasecmp(canon, "TimeZone")) {
        if (strcasecmp(v, "UTC") && strcasecmp(v, "Etc/UTC") && strcasecmp(v, "GMT") &&
            strcmp(v, "0") && strcasecmp(v, "Z") && strcmp(v, "+00:00"))
            return sql_err_set(e, SQLSTATE_FEATURE, -1, "time zone \"%s\" is not supported: "
                                                        "times are shown in UTC", v);
        v = "UTC";
    } else if (!strcasecmp(canon, "client_encoding")) {
        if (strcasecmp(v, "UTF8") && strcasecmp(v, "UTF-8") && strcasecmp(v, "unicode"))
            return sql_err_set(e, SQLSTATE_FEATURE, -1, "client encoding \"%s\" is not "
                                                        "supported: only UTF8", v);
        v = "UTF8";
    } else if (!strcasecmp(canon, "DateStyle")) {
        if (strncasecmp(v, "ISO", 3))
            return sql_err_set(e, SQLSTATE_FEATURE, -1, "DateStyle \"%s\" is not supported: "
                                                        "only ISO", v);
    } else if (!strcasecmp(canon, "server_version") || !strcasecmp(canon, "server_encoding") ||
               !strcasecmp(canon, "server_version_num") ||
               !strcasecmp(canon, "integer_datetimes") || !strcasecmp(canon, "lc_collate") ||
               !strcasecmp(canon, "lc_ctype") || !strcasecmp(canon, "max_identifier_length") ||
               !strcasecmp(canon, "max_index_keys")) {
        return sql_err_set(e, "55P02", -1, "parameter \"%s\" cannot be changed", canon);
    }
    sql_setting *st = stored(s, canon);
    if (!st) {
        if (s->nsettings == SQL_MAX_SETTINGS)
            return sql_err_set(e, "54000", -1, "too many settings in one session");
        st = &s->settings[s->nsettings++];
        snprintf(st->name, sizeof st->name, "%s", canon);
    }
    snprintf(st->value, sizeof st->value, "%s", v);
    return SL_OK;
}

static void fmt_mem(int64_t b, char *buf, size_t n)
{
    if (b % ((int64_t)1 << 30) == 0)
        snprintf(buf, n, "%lldGB", (long long)(b >> 30));
    else if (b % ((int64_t)1 << 20) == 0)
        snprintf(buf, n, "%lldMB", (long long)(b >> 20));
    else
        snprintf(buf, n, "%lldkB", (long long)(b >> 10));
}

const char *sql_session_get(sql_session *s, const char *name, char *buf, size_t n)
{
    const setting_def *d = find_def(name);
    const char *canon = d ? d->name : name;
    if (!strcasecmp(canon, "work_mem")) {
        fmt_mem(s->work_mem_bytes, buf, n);
        return buf;
    }
    if (!strcasecmp(canon, "streamlake.workers")) {
        snprintf(buf, n, "%d", s->workers);
        return buf;
    }
    if (!strcasecmp(canon, "statement_timeout")) {
        if (s->timeout_ms % 1000 == 0 && s->timeout_ms)
            snprintf(buf, n, "%llds", (long long)(s->timeout_ms / 1000));
        else if (s->timeout_ms)
            snprintf(buf, n, "%lldms", (long long)s->timeout_ms);
        else
            snprintf(buf, n, "0");
        return buf;
    }
    const sql_setting *st = stored(s, canon);
    if (st)
        return st->value;
    if (d)
        return d->dflt ? d->dflt : "";
    return NULL;
}

/* Names of the settings SHOW ALL lists, i = 0.. until NULL. */
const char *sql_setting_name_at(sql_session *s, int i)
{
    if (i < (int)NDEFAULTS)
        return g_defaults[i].name;
    i -= (int)NDEFAULTS;
    for (int k = 0; k < s->nsettings; k++) {
        if (find_def(s->settings[k].name))
            continue;
        if (i-- == 0)
            return s->settings[k].name;
    }
    return NULL;
}

/* ---- texts parsed once ---- */

sql_parsed_text *sql_parsed_text_new(const char *text)
{
    sql_parsed_text *p = sl_calloc(1, sizeof *p);
    sql_err e;
    if (!p || sql_parse(text, &p->ps, &e)) {
        sl_free(p);
        return NULL;
    }
    atomic_init(&p->refs, 1);
    return p;
}

size_t sql_parsed_text_count(const sql_parsed_text *p)
{
    return p->ps.n_stmts;
}

sql_parsed_text *sql_parsed_text_ref(sql_parsed_text *p)
{
    if (p)
        atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    return p;
}

void sql_parsed_text_unref(sql_parsed_text *p)
{
    if (p && atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1) {
        sql_parsed_free(&p->ps);
        sl_free(p);
    }
}

/* ---- prepared statements ---- */

sql_prepared *sql_prepared_find(sql_session *s, const char *name)
{
    for (sql_prepared *p = s->prepared; p; p = p->next)
        if (!strcmp(p->name, name))
            return p;
    return NULL;
}

int sql_prepared_add(sql_session *s, const char *name, const char *text, const sql_type *types,
                     int ntypes, sql_err *e)
{
    if (sql_prepared_find(s, name))
        return sql_err_set(e, "42P05", -1, "prepared statement \"%s\" already exists", name);
    sql_prepared *p = sl_calloc(1, sizeof *p);
    if (p) {
        p->name = sl_strdup(name);
        p->text = sl_strdup(text);
        p->types = ntypes ? sl_calloc((size_t)ntypes, sizeof *p->types) : NULL;
    }
    if (!p || !p->name || !p->text || (ntypes && !p->types)) {
        if (p) {
            sl_free(p->name);
            sl_free(p->text);
            sl_free(p->types);
            sl_free(p);
        }
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    }
    if (ntypes)
        memcpy(p->types, types, sizeof *types * (size_t)ntypes);
    p->ntypes = ntypes;
    p->next = s->prepared;
    s->prepared = p;
    return SL_OK;
}

void sql_prepared_drop(sql_session *s, sql_prepared *p)
{
    for (sql_prepared **pp = &s->prepared; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            sl_free(p->name);
            sl_free(p->text);
            sl_free(p->types);
            sql_parsed_text_unref(p->parsed);
            sl_free(p);
            return;
        }
}

void sql_prepared_clear(sql_session *s)
{
    while (s->prepared)
        sql_prepared_drop(s, s->prepared);
}
