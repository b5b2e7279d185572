/*
 * sink_ext.c - sinks that are not files: webhook, metrics and table (sink.c
 * hands them the rows, already cast to the sink's columns).
 *
 *   webhook   each row POSTed as one JSON object ({"column": value, ...};
 *             numbers and jsonb as JSON, NULL as null, the rest as strings)
 *             to `url`, in order, by a sender thread of the job.  The queue
 *             holds at most `queue_size` rows (default 10000): a full queue
 *             makes the job wait (no row lost to a slow receiver).  A POST
 *             answered with anything but 2xx, or failing, is tried again
 *             `retries` times (default 3) with a doubling pause from 100 ms;
 *             then the row is dropped and counted (webhook_failed).  The
 *             commit, and a checkpoint, wait until the queue is empty: a
 *             resumed job POSTs the rows after its checkpoint (at least
 *             once: those sent after it before a crash are sent again).
 *   metrics   rows become Prometheus gauges at GET /metrics: each numeric
 *             column c of table t is the gauge t_c, the other columns its
 *             labels; a later row with the same labels replaces the value
 *             (an upsert log of emit = 'on_update' keeps them current).  At
 *             most MAX_SERIES label sets per table (more are dropped and
 *             counted).
 *   table     rows appended to the user table of the sink's name (made with
 *             the sink's columns if missing).  Without checkpoints each
 *             write is one INSERT ... SELECT through the SQL engine's own
 *             user-table code, in a session of the sink whose catalog hook
 *             names the rows being written.  With checkpoints the rows are
 *             staged (sql/catalog/user_stage.h) into segments tagged with
 *             the job (its statement, and its place in a script), and
 *             published at each checkpoint before its manifest and at the
 *             end: the manifest records how many segments were published,
 *             and recovery removes those published after it (a crash
 *             between a publication and its manifest, or after the end's),
 *             as a file sink is cut back to its committed bytes.  A job
 *             that starts over (no checkpoint) removes every row an earlier
 *             run of it published, as a file sink rewrites its file.
 *             Batch queries name the user table (the server's catalog hook
 *             hides the connector table from them).
 *   kafka     each row one message (source_kafka.c; the commit flushes).
 */
#include "stream/live.h"

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/hash.h"
#include "base/json.h"
#include "net/httpc.h"
#include "sql/catalog/user_stage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SERIES 10000
#define GAUGE_SLOTS 32768 /* the index's slots: a power of two over 2 * MAX_SERIES */
_Static_assert(GAUGE_SLOTS > 2 * MAX_SERIES && !(GAUGE_SLOTS & (GAUGE_SLOTS - 1)),
               "the gauges' index: sparse, a power of two");

static bool numeric(sql_type t)
{
    return sql_type_is_int(t) || sql_type_is_float(t) || t.id == ST_NUMERIC;
}

bool stream_cell_text(const sql_batch *b, int c, int64_t r, dbuf *out)
{
    dbuf_reset(out);
    if (!col_vec_is_valid(&b->cols[c], r))
        return false;
    sql_vec_text(b->types[c], &b->cols[c], r, out);
    return true;
}

int stream_row_json(const stream_table *t, const sql_batch *b, int64_t r, dbuf *body, dbuf *v)
{
    return stream_cols_json(t, b, r, NULL, t->ncols, body, v);
}

int stream_cols_json(const stream_table *t, const sql_batch *b, int64_t r, const int *cols,
                     int n, dbuf *body, dbuf *v)
{
    dbuf_reset(body);
    jw j;
    jw_init(&j, body);
    jw_obj_begin(&j);
    for (int i = 0; i < n; i++) {
        int c = cols ? cols[i] : i;
        jw_key(&j, t->names[c]);
        if (!stream_cell_text(b, c, r, v))
            jw_null(&j);
        else if ((numeric(t->types[c]) || t->types[c].id == ST_JSONB) &&
                 !memchr(v->p, 'N', v->len) && !memchr(v->p, 'I', v->len))
            jw_rawn(&j, (const char *)v->p, v->len);
        else
            jw_strn(&j, v->len ? (const char *)v->p : "", v->len);
    }
    jw_obj_end(&j);
    return j.err ? SL_ENOMEM : SL_OK;
}

/* ---- webhook ------------------------------------------------------------------ */

typedef struct webhook {
    stream_table *t;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char **q;                /* JSON bodies, a ring of cap */
    int64_t head, n, cap;
    bool closing, busy;
    pthread_t th;
    bool th_on;
    uint64_t sent, failed;
} webhook;

static void *webhook_main(void *arg)
{
    webhook *w = arg;
    httpc *c = NULL;
    errmsg e;
    httpc_new(10000, &c, &e);
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->n && !w->closing)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->n)
            break;
        char *body = w->q[w->head];
        w->busy = true;
        pthread_mutex_unlock(&w->mu);
        bool ok = false;
        long pause_ms = 100;
        for (int k = 0; k <= w->t->retries && !ok && c; k++) {
            int status = 0;
            ok = !httpc_request(c, w->t->url, body, strlen(body), 1, "application/json", &status,
                                NULL, NULL, &e) &&
                 status >= 200 && status < 300;
            if (!ok && k < w->t->retries) {
                struct timespec ts = {pause_ms / 1000, (pause_ms % 1000) * 1000000};
                nanosleep(&ts, NULL);
                pause_ms *= 2;
            }
        }
        free(body);
        pthread_mutex_lock(&w->mu);
        w->head = (w->head + 1) % w->cap;
        w->n--;
        w->busy = false;
        if (ok)
            w->t->rows_written = ++w->sent; /* the figures: rows delivered */
        else
            w->failed++;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    httpc_free(c);
    return NULL;
}

static int webhook_open(stream_table *t, void **out, sql_err *e)
{
    webhook *w = sl_calloc(1, sizeof *w);
    if (!w || !(w->q = sl_calloc((size_t)t->queue_rows, sizeof *w->q))) {
        sl_free(w);
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    }
    w->t = t;
    w->cap = t->queue_rows;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->th, NULL, webhook_main, w)) {
        sl_free(w->q);
        sl_free(w);
        return sql_err_set(e, "53000", -1, "sink \"%s\": could not start its sender", t->name);
    }
    w->th_on = true;
    *out = w;
    return SL_OK;
}

static int webhook_write(webhook *w, const sql_batch *b, sql_err *e)
{
    stream_table *t = w->t;
    dbuf body, v;
    dbuf_init(&body, 16u << 20);
    dbuf_init(&v, 16u << 20);
    int rc = SL_OK;
    for (int64_t r = 0; r < b->n && !rc; r++) {
        char *s = stream_row_json(t, b, r, &body, &v) ? NULL
                                                       : strndup((const char *)body.p, body.len);
        if (!s) {
            rc = sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
            break;
        }
        pthread_mutex_lock(&w->mu);
        while (w->n == w->cap)
            pthread_cond_wait(&w->cv, &w->mu);
        w->q[(w->head + w->n) % w->cap] = s;
        w->n++;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
    }
    dbuf_free(&body);
    dbuf_free(&v);
    return rc;
}

static void webhook_drain(webhook *w)
{
    pthread_mutex_lock(&w->mu);
    while (w->n)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

static void webhook_close(webhook *w)
{
    pthread_mutex_lock(&w->mu);
    w->closing = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (w->th_on)
        pthread_join(w->th, NULL);
    for (int64_t i = 0; i < w->n; i++)
        free(w->q[(w->head + i) % w->cap]);
    sl_free(w->q);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    sl_free(w);
}

/* ---- metrics ------------------------------------------------------------------ */

typedef struct series {
    char *labels;            /* {a="x",b="y"} */
    double *vals;
} series;

struct stream_gauges {
    char *name;
    int ncols;
    char **names;
    sql_type *types;
    pthread_mutex_t mu;
    series *s;
    int ns;
    uint32_t *slot;          /* GAUGE_SLOTS, open addressing over the labels' hash:
                                series + 1 (0 free) */
    uint64_t dropped;
};

int stream_gauges_new(const char *name, int ncols, const char *const *names,
                      const sql_type *types, stream_gauges **out)
{
    stream_gauges *g = sl_calloc(1, sizeof *g);
    if (!g)
        return SL_ENOMEM;
    g->name = strdup(name);
    g->ncols = ncols;
    g->names = sl_calloc((size_t)ncols, sizeof *g->names);
    g->types = sl_calloc((size_t)ncols, sizeof *g->types);
    g->slot = sl_calloc(GAUGE_SLOTS, sizeof *g->slot); /* probes stay short, never full */
    pthread_mutex_init(&g->mu, NULL);
    for (int i = 0; g->names && g->types && i < ncols; i++) {
        g->names[i] = strdup(names[i]);
        g->types[i] = types[i];
    }
    *out = g;
    return g->name && g->names && g->types && g->slot ? SL_OK : (stream_gauges_free(g),
                                                                 *out = NULL, SL_ENOMEM);
}

void stream_gauges_free(stream_gauges *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->ns; i++) {
        free(g->s[i].labels);
        sl_free(g->s[i].vals);
    }
    sl_free(g->s);
    sl_free(g->slot);
    for (int i = 0; g->names && i < g->ncols; i++)
        free(g->names[i]);
    sl_free(g->names);
    sl_free(g->types);
    free(g->name);
    pthread_mutex_destroy(&g->mu);
    sl_free(g);
}

/* A label value escaped as the text format wants (\\, \", \n). */
static void label_value(dbuf *out, const dbuf *v)
{
    for (size_t i = 0; i < v->len; i++) {
        char ch = (char)v->p[i];
        if (ch == '\\' || ch == '"')
            dbuf_append_byte(out, '\\');
        if (ch == '\n') {
            dbuf_append_str(out, "\\n");
            continue;
        }
        dbuf_append_byte(out, (uint8_t)ch);
    }
}

int stream_gauges_set(stream_gauges *g, const sql_batch *b)
{
    dbuf lab, v;
    dbuf_init(&lab, 1u << 20);
    dbuf_init(&v, 1u << 20);
    int rc = SL_OK;
    pthread_mutex_lock(&g->mu);
    for (int64_t r = 0; r < b->n && !rc; r++) {
        dbuf_reset(&lab);
        dbuf_append_byte(&lab, '{');
        bool first = true;
        for (int c = 0; c < g->ncols; c++) {
            if (numeric(g->types[c]))
                continue;
            bool has = stream_cell_text(b, c, r, &v);
            dbuf_printf(&lab, "%s%s=\"", first ? "" : ",", g->names[c]);
            if (has)
                label_value(&lab, &v);
            dbuf_append_byte(&lab, '"');
            first = false;
        }
        dbuf_append_byte(&lab, '}');
        /* the series of these labels: found through the index, one probe mostly */
        uint32_t at = (uint32_t)hash64(lab.p, lab.len) & (GAUGE_SLOTS - 1);
        int k = -1;
        for (; g->slot[at]; at = (at + 1) & (GAUGE_SLOTS - 1)) {
            const char *l = g->s[g->slot[at] - 1].labels;
            if (strlen(l) == lab.len && !memcmp(l, lab.p, lab.len)) {
                k = (int)g->slot[at] - 1;
                break;
            }
        }
        if (k < 0) {
            if (g->ns == MAX_SERIES) {
                g->dropped++;
                continue;
            }
            series *ns = sl_realloc(g->s, sizeof *ns * (size_t)(g->ns + 1));
            double *vals = sl_calloc((size_t)g->ncols, sizeof *vals);
            char *l = strndup((const char *)lab.p, lab.len);
            if (ns)
                g->s = ns;
            if (!ns || !vals || !l) {
                sl_free(vals);
                free(l);
                rc = SL_ENOMEM;
                break;
            }
            g->s[g->ns] = (series){l, vals};
            k = g->ns++;
            g->slot[at] = (uint32_t)g->ns; /* the free slot the probe stopped at */
        }
        for (int c = 0; c < g->ncols; c++)
            if (numeric(g->types[c]))
                g->s[k].vals[c] = stream_cell_text(b, c, r, &v) ? strtod((const char *)v.p, NULL) : 0.0 / 0.0;
    }
    pthread_mutex_unlock(&g->mu);
    dbuf_free(&lab);
    dbuf_free(&v);
    return rc;
}

int stream_gauges_text(stream_gauges *g, dbuf *out)
{
    pthread_mutex_lock(&g->mu);
    for (int c = 0; c < g->ncols; c++) {
        if (!numeric(g->types[c]))
            continue;
        dbuf_printf(out, "# HELP %s_%s Column %s of the metrics sink %s.\n# TYPE %s_%s gauge\n",
                    g->name, g->names[c], g->names[c], g->name, g->name, g->names[c]);
        for (int k = 0; k < g->ns; k++)
            dbuf_printf(out, "%s_%s%s %.17g\n", g->name, g->names[c],
                        strcmp(g->s[k].labels, "{}") ? g->s[k].labels : "", g->s[k].vals[c]);
    }
    pthread_mutex_unlock(&g->mu);
    return SL_OK;
}

/* Checkpoints: the series as bytes (docs/internals/stream.md, "Format": a metrics
 * sink's gauges), u32 series, u32 columns, then per series u32 L, the L bytes of
 * its labels and a f64 per column (a label column's unused). */
int stream_gauges_save(stream_gauges *g, dbuf *out)
{
    pthread_mutex_lock(&g->mu);
    uint8_t b[8];
    st_u32le(b, (uint32_t)g->ns);
    st_u32le(b + 4, (uint32_t)g->ncols);
    int rc = dbuf_append(out, b, 8);
    for (int k = 0; k < g->ns && !rc; k++) {
        size_t l = strlen(g->s[k].labels);
        st_u32le(b, (uint32_t)l);
        rc = dbuf_append(out, b, 4);
        rc = rc ? rc : dbuf_append(out, g->s[k].labels, l);
        for (int c = 0; c < g->ncols && !rc; c++) {
            uint64_t bits;
            memcpy(&bits, &g->s[k].vals[c], 8);
            st_u64le(b, bits);
            rc = dbuf_append(out, b, 8);
        }
    }
    pthread_mutex_unlock(&g->mu);
    return rc;
}

/* Indexes series s[0..n) in slot (cleared first): false if two have the same labels. */
static bool index_all(uint32_t *slot, const series *s, int n)
{
    memset(slot, 0, sizeof *slot * GAUGE_SLOTS);
    for (int k = 0; k < n; k++) {
        size_t l = strlen(s[k].labels);
        uint32_t h = (uint32_t)hash64(s[k].labels, l) & (GAUGE_SLOTS - 1);
        for (; slot[h]; h = (h + 1) & (GAUGE_SLOTS - 1))
            if (strlen(s[slot[h] - 1].labels) == l && !memcmp(s[slot[h] - 1].labels, s[k].labels, l))
                return false;
        slot[h] = (uint32_t)k + 1;
    }
    return true;
}

static void series_free(series *s, int n)
{
    for (int i = 0; s && i < n; i++) {
        free(s[i].labels);
        sl_free(s[i].vals);
    }
    sl_free(s);
}

int stream_gauges_load(stream_gauges *g, const uint8_t *p, size_t n)
{
    if (n < 8 || ld_u32le(p) > MAX_SERIES || ld_u32le(p + 4) != (uint32_t)g->ncols)
        return SL_EINVAL;
    int ns = (int)ld_u32le(p), k = 0;
    size_t at = 8, vbytes = (size_t)g->ncols * 8;
    series *s = sl_calloc(ns ? (size_t)ns : 1, sizeof *s);
    int rc = s ? SL_OK : SL_ENOMEM;
    for (; k < ns && !rc; k++) {
        uint32_t l = n - at >= 4 ? ld_u32le(p + at) : UINT32_MAX;
        if (l == UINT32_MAX || n - at - 4 < (size_t)l + vbytes || l < 2 || p[at + 4] != '{' ||
            p[at + 4 + l - 1] != '}' || memchr(p + at + 4, 0, l)) {
            rc = SL_EINVAL;
            break;
        }
        if (!(s[k].labels = strndup((const char *)p + at + 4, l)) ||
            !(s[k].vals = sl_calloc(g->ncols ? (size_t)g->ncols : 1, 8))) {
            rc = SL_ENOMEM;
            k++; /* (freed below) */
            break;
        }
        for (int c = 0; c < g->ncols; c++) {
            uint64_t bits = ld_u64le(p + at + 4 + l + (size_t)c * 8);
            memcpy(&s[k].vals[c], &bits, 8);
        }
        at += 4 + (size_t)l + vbytes;
    }
    if (!rc && at != n)
        rc = SL_EINVAL;
    if (!rc) {
        pthread_mutex_lock(&g->mu);
        if (index_all(g->slot, s, ns)) {
            series_free(g->s, g->ns);
            g->s = s;
            g->ns = ns;
            s = NULL;
        } else { /* the same labels twice: not what a save writes; the old series stay */
            index_all(g->slot, g->s, g->ns);
            rc = SL_EINVAL;
        }
        pthread_mutex_unlock(&g->mu);
    }
    series_free(s, k);
    return rc;
}

/* ---- table: a user table of the same name ------------------------------------------ */

#define TSINK_ROWS "__stream_sink_rows"

typedef struct tsink {
    stream_table *t;
    sql_session *s;          /* the sink's own: its hook names the rows being written */
    sql_catalog_hook hook;
    ftab *rows;
    sql_user_stage *stage;   /* with checkpoints: rows staged until the next one */
    uint64_t run;            /* ... tagged with this run */
} tsink;

static sql_table *tsink_table(void *arg, const char *name)
{
    tsink *ts = arg;
    return strcmp(name, TSINK_ROWS) ? NULL : &ts->rows->t;
}

/* Runs one statement of the sink's session to its end. */
static int tsink_run(tsink *ts, const char *sql, sql_err *e)
{
    sql_query *q;
    int rc = sql_query_open(ts->s, sql, NULL, &q, e);
    while (!rc) {
        const sql_batch *b;
        if ((rc = sql_query_next(q, &b, e)) || !b)
            break;
    }
    sql_query_close(q);
    return rc;
}

static void quoted(dbuf *b, const char *name)
{
    dbuf_append_byte(b, '"');
    for (const char *p = name; *p; p++) {
        if (*p == '"')
            dbuf_append_byte(b, '"');
        dbuf_append_byte(b, (uint8_t)*p);
    }
    dbuf_append_byte(b, '"');
}

static void tsink_close(tsink *ts)
{
    sql_user_stage_close(ts->stage);
    if (ts->rows)
        sql_table_free(&ts->rows->t);
    sql_session_free(ts->s);
    sl_free(ts);
}

/* e, which failed with rc, names the sink. */
static int named(const stream_table *t, sql_err *e, int rc)
{
    char msg[400];
    snprintf(msg, sizeof msg, "%.390s", e->msg);
    sql_err_set(e, e->state[0] ? e->state : "58030", -1, "sink \"%s\": %s", t->name, msg);
    return rc;
}

/* The user table is made if missing (CREATE TABLE IF NOT EXISTS, the sink's columns). */
static int tsink_open(stream_table *t, void **out, sql_err *e)
{
    if (!t->run->hub && !t->run->o->meta) /* streamlake run without --data */
        return sql_err_set(e, SQLSTATE_FEATURE, -1, "sink \"%s\": a table sink needs a data "
                           "directory (streamlake run --data DIR, or a server)", t->name);
    tsink *ts = sl_calloc(1, sizeof *ts);
    if (!ts || sql_session_new(t->run->eng, &ts->s) ||
        !(ts->rows = ftab_new(t->run->eng, TSINK_ROWS, t->ncols, &ftab_rows_ops))) {
        if (ts)
            tsink_close(ts);
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    }
    ts->t = t;
    for (int i = 0; i < t->ncols; i++) {
        ts->rows->names[i] = t->names[i];
        ts->rows->types[i] = t->types[i];
    }
    ts->hook = (sql_catalog_hook){ts, tsink_table, NULL, NULL};
    sql_session_set_catalog_hook(ts->s, &ts->hook);
    dbuf b;
    dbuf_init(&b, 1u << 20);
    dbuf_append_str(&b, "CREATE TABLE IF NOT EXISTS ");
    quoted(&b, t->name);
    for (int i = 0; i < t->ncols; i++) {
        char tn[64];
        sql_type_name(t->types[i], tn, sizeof tn);
        dbuf_append_str(&b, i ? ", " : " (");
        quoted(&b, t->names[i]);
        dbuf_printf(&b, " %s", tn);
    }
    dbuf_append_str(&b, ")");
    dbuf_append_byte(&b, 0);
    int rc = tsink_run(ts, (const char *)b.p, e);
    dbuf_free(&b);
    if (rc) {
        tsink_close(ts);
        return named(t, e, rc);
    }
    *out = ts;
    return SL_OK;
}

/* Rows appended to the user table: one INSERT (one segment) per write, or staged. */
static int tsink_write(tsink *ts, const sql_batch *b, sql_err *e)
{
    if (ts->stage) {
        int src = sql_user_stage_add(ts->stage, b, e);
        if (!src)
            ts->t->rows_written += (uint64_t)b->n;
        return src;
    }
    sql_batch *nb;
    if (sql_batch_new(b->ncols, b->types, &nb))
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    for (int c = 0; c < b->ncols; c++) {
        col_vec_release(&nb->cols[c]);
        sql_vec_share(&b->cols[c], &nb->cols[c]);
    }
    nb->n = b->n;
    ts->rows->cur = nb;
    if (ftab_flush(ts->rows)) {
        ts->rows->cur = NULL;
        sql_batch_free(nb);
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    }
    dbuf q;
    dbuf_init(&q, 1u << 20);
    dbuf_append_str(&q, "INSERT INTO ");
    quoted(&q, ts->t->name);
    dbuf_append_str(&q, " SELECT * FROM " TSINK_ROWS);
    dbuf_append_byte(&q, 0);
    int rc = tsink_run(ts, (const char *)q.p, e);
    dbuf_free(&q);
    sql_rows_free_batches(ts->rows->rows, ts->rows->nrows_batches);
    ts->rows->nrows_batches = 0;
    if (!rc)
        ts->t->rows_written += (uint64_t)b->n;
    return rc;
}

static void tag_of(uint64_t run, char tag[24])
{
    snprintf(tag, 24, "r%016llx", (unsigned long long)run);
}

/* Checkpoints on: the segments tagged run and numbered `published` or more are
 * removed (a new run: published 0, every row an earlier run of the job wrote, since
 * it starts over, unless keep; a resume: what it published after the checkpoint),
 * and staging goes on from there. */
static int tsink_stage(tsink *ts, bool resume, bool keep, uint64_t run, uint64_t published,
                       sql_err *e)
{
    stream_table *t = ts->t;
    char tag[24];
    if (!run)
        return sql_err_set(e, "55000", -1, "checkpoint: it holds no state of table sink \"%s\"",
                           t->name);
    tag_of(run, tag);
    int rc = resume || !keep
                 ? sql_user_stage_truncate(t->run->eng, t->name, tag, (int64_t)published, e)
                 : SL_OK;
    if (!rc)
        rc = sql_user_stage_open(t->run->eng, t->name, tag, (int64_t)published, t->ncols,
                                 t->types, &ts->stage, e);
    if (rc)
        return named(t, e, rc);
    ts->run = run;
    return SL_OK;
}

/* Every staged row published; *published: the segments published so far. */
static int tsink_publish(tsink *ts, uint64_t *published, uint64_t *run, sql_err *e)
{
    int64_t next = 0;
    int rc = sql_user_stage_publish(ts->stage, &next, e);
    if (rc)
        return named(ts->t, e, rc);
    *published = (uint64_t)next;
    *run = ts->run;
    return SL_OK;
}

/* ---- what sink.c calls ----------------------------------------------------------- */

int stream_sink_ext_open(stream_table *t, void **out, sql_err *e)
{
    *out = NULL;
    if (t->connector == STREAM_CONN_WEBHOOK)
        return webhook_open(t, out, e);
    if (t->connector == STREAM_CONN_TABLE)
        return tsink_open(t, out, e);
    if (t->connector == STREAM_CONN_KAFKA)
        return stream_kafka_sink_open(t, (stream_kafka_sink **)out, e);
    if (!t->gauges && stream_gauges_new(t->name, t->ncols, t->names, t->types, &t->gauges))
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    return SL_OK;
}

int stream_sink_ext_write(stream_table *t, void *st, const sql_batch *b, bool del, sql_err *e)
{
    if (t->connector == STREAM_CONN_WEBHOOK)
        return webhook_write(st, b, e);
    if (t->connector == STREAM_CONN_TABLE)
        return tsink_write(st, b, e);
    if (t->connector == STREAM_CONN_KAFKA)
        return stream_kafka_sink_write(st, b, del, e);
    if (stream_gauges_set(t->gauges, b))
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    t->rows_written += (uint64_t)b->n;
    return SL_OK;
}

int stream_sink_ext_stage(stream_table *t, void *st, bool resume, bool keep, uint64_t run,
                          uint64_t published, sql_err *e)
{
    return t->connector == STREAM_CONN_TABLE ? tsink_stage(st, resume, keep, run, published, e)
                                             : SL_OK;
}

int stream_sink_ext_sync(stream_table *t, void *st, uint64_t *pos, uint64_t *run, sql_err *e)
{
    *pos = *run = 0;
    if (t->connector == STREAM_CONN_KAFKA)
        return stream_kafka_sink_flush(st, e); /* every delivery reported */
    if (t->connector == STREAM_CONN_WEBHOOK)
        webhook_drain(st); /* every row before the checkpoint POSTed (or given up) */
    if (t->connector == STREAM_CONN_TABLE && ((tsink *)st)->stage)
        return tsink_publish(st, pos, run, e);
    return SL_OK;
}

int stream_sink_ext_commit(stream_table *t, void *st, sql_err *e)
{
    uint64_t pos, run;
    if (t->connector == STREAM_CONN_TABLE && ((tsink *)st)->stage)
        return tsink_publish(st, &pos, &run, e);
    if (t->connector == STREAM_CONN_WEBHOOK)
        webhook_drain(st);
    if (t->connector == STREAM_CONN_KAFKA)
        return stream_kafka_sink_flush(st, e);
    return SL_OK;
}

void stream_sink_ext_close(stream_table *t, void *st)
{
    if (t->connector == STREAM_CONN_WEBHOOK && st)
        webhook_close(st);
    if (t->connector == STREAM_CONN_TABLE && st)
        tsink_close(st);
    if (t->connector == STREAM_CONN_KAFKA && st)
        stream_kafka_sink_close(st);
}

int stream_sinkext_option(stream_table *t, const char *k, const char *v, int loc, sql_err *e)
{
    if (t->connector == STREAM_CONN_WEBHOOK && !strcmp(k, "url")) {
        if (strncmp(v, "http://", 7) && strncmp(v, "https://", 8))
            return sql_err_set(e, "22023", loc, "table \"%s\": url must be http:// or https://",
                               t->name);
        t->url = arena_strndup(&t->run->a, v, strlen(v));
        return t->url ? SL_OK : SL_ENOMEM;
    }
    bool q = !strcmp(k, "queue_size"), r = !strcmp(k, "retries");
    if (t->connector == STREAM_CONN_WEBHOOK && (q || r)) {
        char *end;
        long long n = strtoll(v, &end, 10);
        if (*end || n < (q ? 1 : 0) || n > (q ? 1000000 : 100))
            return sql_err_set(e, "22023", loc, "table \"%s\": %s must be an integer from %d to "
                               "%d", t->name, k, q ? 1 : 0, q ? 1000000 : 100);
        if (q)
            t->queue_rows = n;
        else
            t->retries = (int)n;
        return SL_OK;
    }
    return sql_err_set(e, "22023", loc, "table \"%s\": unknown option \"%s\" (%s)", t->name, k,
                       t->connector == STREAM_CONN_WEBHOOK ? "the webhook connector takes url, "
                       "queue_size, retries" : "the metrics and table connectors take no "
                       "options");
}

int stream_sinkext_check(stream_table *t, sql_err *e)
{
    if (t->connector == STREAM_CONN_WEBHOOK && !t->url)
        return sql_err_set(e, "22023", -1, "table \"%s\": the webhook connector needs a url",
                           t->name);
    if (!t->queue_rows)
        t->queue_rows = 10000;
    return SL_OK;
}
