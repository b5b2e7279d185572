/*
 * jobs.c - continuous jobs on a server: the registry of connector tables,
 * materialized views and running jobs, reached through SQL (every session of
 * the server's engine: HTTP, pgwire, `streamlake sql`) and the HTTP API.
 *
 *   CREATE TABLE ... WITH (connector = ...)   registered, its definition kept
 *   INSERT INTO <connector table> SELECT ...  a job, started on its own threads
 *   CREATE MATERIALIZED VIEW v AS SELECT ...  (--workers of them), definition kept
 *   DROP MATERIALIZED VIEW v                  its job stopped, view and definition gone
 *   DROP TABLE t (a connector table)          when no job uses it
 *   SHOW JOBS, SELECT * FROM jobs             the jobs and their figures
 *   SELECT ... FROM v                         a snapshot of v's current rows
 *
 * The engine's statement hook sends those statements here; its catalog hook
 * lets every session name the connector tables, the views and `jobs`.  A view
 * is read as a snapshot: its batches are shared (refcounted, immutable) into
 * a table made for the query while the views' mutex is held, so a job
 * appending rows never races a reader (a view with emit = 'on_update': its
 * upsert log's live rows, one per group, current while the job runs).
 *
 * Definitions persist in the metadata store as rows of the SQL table
 * catalogue named "stream:NNNNNNNNNN" (a sequence number: creation order),
 * whose definition is {"stream_sql": TEXT, "stopped": BOOL}; the user-table
 * code ignores them (no "columns").  At startup they are replayed in order:
 * tables registered, jobs started again (stopped ones stay stopped, without
 * a view until started).  A job takes checkpoints in the server's object
 * store (STREAM_CKPT_SERVER_PREFIX + its name, ckpt_job.c): after a crash a
 * job over a file resumes from its last one, exactly; a job that ends, is
 * stopped or dropped removes them, so starting it again starts over.  A job
 * over telemetry resumes too, replaying from the store the blocks ingested
 * since its checkpoint (source_telemetry.c; over thread_spans, from the spans
 * each stream had open then).
 *
 * Threads: one per job runs the job's merger (stream_job_exec), which starts
 * the workers; a ticker samples the figures every second (records in and
 * out per second) and joins jobs that finished.  The registry mutex covers
 * the lists and planning (in the registry's own SQL session); the views'
 * mutex only view rows.  A job thread takes neither of the first, so the
 * registry may join it while holding its mutex.
 */
#include "stream/checkpoint.h"
#include "stream/job.h"
#include "stream/live.h"
#include "stream/ulog.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { J_RUNNING = 0, J_STOPPED, J_FINISHED, J_FAILED };
static const char *const g_state_names[] = {"running", "stopped", "finished", "failed"};

#define KEY_PREFIX "stream:"

typedef struct sjob {
    char name[128];
    char *sql;
    char key[40];            /* its definition's row (meta) */
    int64_t ver;
    _Atomic int state;
    char error[512];
    int64_t started_ns;
    stream_job j;
    stream_ckpt_manifest man; /* the checkpoint it resumed from */
    bool planned;
    int nw;
    sql_err err;
    pthread_t th;
    bool th_on;
    _Atomic int stop;
    _Atomic int abort;       /* the server shuts down: end as after a crash */
    _Atomic int done;
    stream_live *live;
    stream_view *view;       /* a view job's */
    stream_table *sink;      /* an INSERT job's */
    stream_table *src;
    stream_table *srcs[STREAM_SERVE_MAX]; /* a join of two streams: the streams it reads */
    int nsrcs;
    /* figures */
    uint64_t prev_in, prev_out;
    int64_t prev_ns;
    double in_rate, out_rate;
    struct sjob *next;
} sjob;

typedef struct tdef {        /* a connector table's definition row */
    char name[128];
    char key[40];
} tdef;

struct stream_server {
    stream_server_opts o;
    stream_opts so;
    stream_run r;
    pthread_mutex_t mu;
    pthread_mutex_t vmu;     /* rows of every view */
    pthread_cond_t vgrown;   /* a view got rows or its job ended (source_view.c waits) */
    sjob *jobs;
    tdef *tdefs;
    int ntdefs;
    int64_t seq;
    sql_catalog_hook hook;
    sql_stmt_hook sh;
    pthread_t ticker;
    bool ticker_on, closing;
    pthread_cond_t cv;
    /* a shared lake (o.shared): jobs run on its leader only (stream_server_lead) */
    bool leading;            /* this server leads the lake and has started its jobs */
    bool loaded;             /* the definitions are read (while it leads) */
};

static int oom(sql_err *e)
{
    return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
}

/* ---- definitions in the metadata store -------------------------------------- */

static int def_json(const char *sql, bool stopped, dbuf *b)
{
    jw w;
    jw_init(&w, b);
    jw_obj_begin(&w);
    jw_kv_str(&w, "stream_sql", sql);
    jw_key(&w, "stopped");
    jw_bool(&w, stopped);
    jw_obj_end(&w);
    return w.err ? SL_ENOMEM : SL_OK;
}

/* Keeps a new definition (key filled); nothing without a metadata store. */
static int def_put(stream_server *ss, const char *sql, bool stopped, char key[40], int64_t *ver,
                   sql_err *e)
{
    snprintf(key, 40, KEY_PREFIX "%010lld", (long long)++ss->seq);
    *ver = 0;
    if (!ss->o.m)
        return SL_OK;
    dbuf b;
    dbuf_init(&b, 16u << 20);
    errmsg em;
    errmsg_clear(&em);
    int rc = def_json(sql, stopped, &b);
    if (!rc)
        rc = meta_sql_table_put(ss->o.m, key, 0, (const char *)b.p, ver, &em);
    dbuf_free(&b);
    if (rc)
        return sql_err_set(e, "58030", -1, "cannot keep the definition: %s", errmsg_str(&em));
    return SL_OK;
}

static void def_update(stream_server *ss, sjob *jb, bool stopped)
{
    if (!ss->o.m || !jb->key[0])
        return;
    dbuf b;
    dbuf_init(&b, 16u << 20);
    errmsg em;
    errmsg_clear(&em);
    int64_t nv;
    if (!def_json(jb->sql, stopped, &b) &&
        !meta_sql_table_put(ss->o.m, jb->key, jb->ver, (const char *)b.p, &nv, &em))
        jb->ver = nv;
    else
        log_warn("stream", "job %s: cannot keep its state: %s", jb->name, errmsg_str(&em));
    dbuf_free(&b);
}

static void def_drop(stream_server *ss, const char *key, int64_t ver)
{
    if (!ss->o.m || !key[0])
        return;
    errmsg em;
    errmsg_clear(&em);
    int64_t nv;
    if (meta_sql_table_put(ss->o.m, key, ver, NULL, &nv, &em))
        log_warn("stream", "cannot forget definition %s: %s", key, errmsg_str(&em));
}

/* ---- jobs ------------------------------------------------------------------------ */

static sjob *job_find(stream_server *ss, const char *name)
{
    for (sjob *jb = ss->jobs; jb; jb = jb->next)
        if (!strcmp(jb->name, name))
            return jb;
    return NULL;
}

static void *job_main(void *arg)
{
    sjob *jb = arg;
    /* a join of two streams (no single source) runs its own driver on this thread */
    int rc = jb->j.winjoin ? stream_winjoin_exec(&jb->j, jb->nw)
             : jb->j.ijoin ? stream_ijoin_exec(&jb->j, jb->nw)
                           : stream_job_exec(&jb->j, jb->nw);
    if (!rc && atomic_load(&jb->abort)) /* its checkpoints and part file stay */
        rc = sql_err_set(&jb->err, "57P01", -1, "the server shut down: the job resumes from "
                         "its last checkpoint when it starts again");
    if (!rc)
        rc = stream_sink_commit(jb->j.sink, &jb->err);
    if (jb->view && jb->view->grown) { /* jobs reading the view reach its end */
        pthread_mutex_lock(jb->view->mu);
        jb->view->growing = false;
        pthread_cond_broadcast(jb->view->grown);
        pthread_mutex_unlock(jb->view->mu);
    }
    stream_ckpt_job_close(&jb->j, !rc); /* a failed job keeps them: a restart resumes */
    if (rc) {
        snprintf(jb->error, sizeof jb->error, "%s", jb->err.msg[0] ? jb->err.msg
                                                                    : sl_strerror(rc));
        if (atomic_load(&jb->abort))
            log_info("stream", "job %s: ended for the shutdown, its checkpoints kept",
                     jb->name);
        else
            log_warn("stream", "job %s failed: %s", jb->name, jb->error);
    }
    int st = rc ? J_FAILED : atomic_load(&jb->stop) ? J_STOPPED : J_FINISHED;
    atomic_store(&jb->state, st);
    atomic_store_explicit(&jb->done, 1, memory_order_release);
    return NULL;
}

/* Joins the job's thread and frees its plan (the view stays). */
static void job_reap(sjob *jb)
{
    if (jb->th_on) {
        pthread_join(jb->th, NULL);
        jb->th_on = false;
    }
    if (jb->planned) {
        stream_job_free(&jb->j);
        jb->planned = false;
    }
    stream_live_close(jb->live);
    jb->live = NULL;
}

/* Ends a job's thread: as if its inputs ended (stop, drop), or, when the server
 * shuts down, a job that takes checkpoints ends as after a crash (its last
 * checkpoint and part file kept: a restart resumes it). */
static void job_halt(sjob *jb, bool shutdown)
{
    if (shutdown && jb->planned && jb->j.ckpt && atomic_load(&jb->state) == J_RUNNING)
        atomic_store(&jb->abort, 1);
    atomic_store(&jb->stop, 1);
    if (jb->live)
        stream_live_stop(jb->live);
    job_reap(jb);
}

static int view_remove(stream_server *ss, stream_view *v)
{
    stream_run *r = &ss->r;
    for (int i = 0; i < r->nviews; i++)
        if (r->views[i] == v) {
            pthread_mutex_lock(&ss->vmu);
            r->views[i] = r->views[--r->nviews];
            pthread_mutex_unlock(&ss->vmu);
            sql_table_free(&v->f->t);
            return SL_OK;
        }
    return SL_ENOTFOUND;
}

/* Plans jb's statement and starts its thread (ss->mu held). */
static int job_start(stream_server *ss, sjob *jb, const PgQuery__Node *st, sql_err *e)
{
    stream_run *r = &ss->r;
    sql_err_clear(&jb->err);
    atomic_store(&jb->stop, 0);
    atomic_store(&jb->abort, 0);
    atomic_store(&jb->done, 0);
    jb->error[0] = 0;
    int nw = 0;
    stream_ckpt *ck = NULL;
    bool found = false;
    int rc = ss->o.os ? stream_ckpt_server_open(r, ss->o.os, jb->name, jb->sql, &ck, &jb->man,
                                                &found, &jb->err)
                      : SL_OK;
    if (!rc) {
        rc = stream_job_plan(r, jb->sql, st, &jb->j, &nw, &jb->err);
        jb->planned = true;
        jb->j.ckpt = ck;
        jb->j.ckpt_hash = stream_ckpt_hash(jb->sql);
        jb->j.sink_tag = jb->j.ckpt_hash | 1; /* one job per sink on a server */
        jb->j.ckpt_interval_ms = ss->o.checkpoint_ms > 0 ? ss->o.checkpoint_ms : 2000;
        jb->j.resuming = found;
        jb->j.resume = &jb->man;
        jb->j.log_name = jb->name; /* its resume noted in the server's log */
    } else {
        stream_ckpt_close(ck);
    }
    r->sink_resume = false;
    jb->nw = nw;
    jb->src = jb->j.src;
    jb->nsrcs = !rc && !jb->src ? stream_plan_sources(jb->j.q->root->p, jb->srcs, STREAM_SERVE_MAX)
                                : 0;
    bool ins = st->node_case == PG_QUERY__NODE__NODE_INSERT_STMT;
    if (!rc && !ins)
        jb->view = stream_view_find(r, st->create_table_as_stmt->into->rel->relname);
    if (!rc && ins)
        jb->sink = stream_table_find(r, st->insert_stmt->relation->relname);
    if (jb->view) {
        pthread_mutex_lock(&ss->vmu);
        jb->view->mu = &ss->vmu;
        jb->view->grown = &ss->vgrown;
        jb->view->growing = !rc;
        pthread_mutex_unlock(&ss->vmu);
    }
    if (!rc && jb->src && jb->src->connector == STREAM_CONN_TELEMETRY &&
        stream_live_open(r->hub, jb->src, nw, jb->j.resuming, &jb->live))
        rc = oom(&jb->err);
    jb->j.live = jb->live;
    jb->j.stop = &jb->stop;
    jb->j.abort = &jb->abort;
    jb->j.e = &jb->err;
    if (!rc) /* a view gets its saved contents back here */
        rc = stream_ckpt_job_check(&jb->j, &jb->err);
    if (!rc && pthread_create(&jb->th, NULL, job_main, jb))
        rc = sql_err_set(&jb->err, "53000", -1, "could not start the job's thread");
    if (rc) {
        *e = jb->err.state[0] ? jb->err : (oom(e), *e);
        if (jb->view)
            view_remove(ss, jb->view);
        jb->view = NULL;
        stream_ckpt_close(jb->j.ckpt);
        jb->j.ckpt = NULL;
        job_reap(jb);
        return rc;
    }
    jb->th_on = true;
    jb->started_ns = clock_wall_ns();
    jb->prev_ns = clock_mono_ns();
    jb->prev_in = jb->prev_out = 0;
    atomic_store(&jb->state, J_RUNNING);
    return SL_OK;
}

static void job_free(sjob *jb)
{
    free(jb->sql);
    sl_free(jb);
}

/* A continuous statement: a new job (persist: keep its definition). */
static int job_create(stream_server *ss, const char *text, const PgQuery__Node *st, bool persist,
                      bool stopped, sql_err *e)
{
    bool ins = st->node_case == PG_QUERY__NODE__NODE_INSERT_STMT;
    const char *name = ins ? st->insert_stmt->relation->relname
                           : st->create_table_as_stmt->into->rel->relname;
    if (job_find(ss, name))
        return sql_err_set(e, "42P07", -1, "a job named \"%s\" exists already (one job per sink: "
                           "DROP MATERIALIZED VIEW or stop it first)", name);
    sjob *jb = sl_calloc(1, sizeof *jb);
    if (!jb || !(jb->sql = strdup(text))) {
        sl_free(jb);
        return oom(e);
    }
    snprintf(jb->name, sizeof jb->name, "%s", name);
    int rc = stopped ? SL_OK : job_start(ss, jb, st, e);
    if (stopped)
        atomic_store(&jb->state, J_STOPPED);
    if (!rc && persist)
        rc = def_put(ss, text, false, jb->key, &jb->ver, e);
    if (rc) {
        job_halt(jb, false);
        if (jb->view)
            view_remove(ss, jb->view);
        job_free(jb);
        return rc;
    }
    jb->next = ss->jobs;
    ss->jobs = jb;
    return SL_OK;
}

static int job_drop(stream_server *ss, sjob *jb)
{
    job_halt(jb, false);
    if (ss->o.os)
        stream_ckpt_server_clear(ss->o.os, jb->name);
    if (jb->view)
        view_remove(ss, jb->view);
    def_drop(ss, jb->key, jb->ver);
    for (sjob **p = &ss->jobs; *p; p = &(*p)->next)
        if (*p == jb) {
            *p = jb->next;
            break;
        }
    job_free(jb);
    return SL_OK;
}

/* ---- figures ------------------------------------------------------------------- */

typedef struct figs {
    uint64_t rows_read, late, overflow, written;
    int64_t wm;
    int64_t state_bytes;
    bool live;
    /* a join of two streams: per source (rows_read and late their sums, wm the least) */
    int nsrc;
    const char *src_name[STREAM_SERVE_MAX];
    uint64_t src_read[STREAM_SERVE_MAX], src_late[STREAM_SERVE_MAX];
    char names[256];         /* "a, b": the source column */
} figs;

/* One source's figures into a join's (a source read twice, a self-join, counts once). */
static void join_src(figs *f, const char *name, uint64_t r, uint64_t l, int64_t w)
{
    f->wm = w < f->wm ? w : f->wm;
    int k = 0;
    while (k < f->nsrc && strcmp(f->src_name[k], name))
        k++;
    if (k == f->nsrc) {
        size_t at = strlen(f->names);
        snprintf(f->names + at, sizeof f->names - at, "%s%s", k ? ", " : "", name);
        f->src_name[f->nsrc++] = name;
        f->src_read[k] = f->src_late[k] = 0;
    }
    f->src_read[k] = r > f->src_read[k] ? r : f->src_read[k];
    f->src_late[k] = l > f->src_late[k] ? l : f->src_late[k];
}

/* A join of two streams: each source's figures, as its readers publish them while
 * it runs (jb->j, planned), or from the source tables once it has ended. */
static void join_figs(sjob *jb, figs *f, bool done)
{
    f->wm = STREAM_WM_END;
    int n = done || !jb->planned ? 0 : atomic_load_explicit(&jb->j.nsrc_pub, memory_order_acquire);
    for (int i = 0; i < n; i++) {
        const stream_src_pub *p = &jb->j.src_pub[i];
        join_src(f, p->t->name, atomic_load_explicit(&p->read, memory_order_relaxed),
                 atomic_load_explicit(&p->late, memory_order_relaxed),
                 atomic_load_explicit(&p->wm, memory_order_relaxed));
    }
    for (int i = 0; done && i < jb->nsrcs; i++)
        join_src(f, jb->srcs[i]->name, jb->srcs[i]->rows_read, jb->srcs[i]->late_dropped,
                 jb->srcs[i]->watermark_ns);
    for (int k = 0; k < f->nsrc; k++) {
        f->rows_read += f->src_read[k];
        f->late += f->src_late[k];
    }
    if (!f->nsrc)
        f->wm = STREAM_WM_NONE;
}

static void job_figs(sjob *jb, figs *f)
{
    memset(f, 0, sizeof *f);
    f->wm = STREAM_WM_NONE;
    if (jb->live) {
        stream_live_figures lf;
        stream_live_figures_get(jb->live, &lf);
        f->rows_read = lf.rows_read;
        f->late = lf.late_dropped;
        f->overflow = lf.overflow_dropped;
        f->wm = lf.watermark_ns;
        f->live = true;
    } else if (jb->src && atomic_load_explicit(&jb->done, memory_order_acquire)) {
        f->rows_read = jb->src->rows_read;
        f->late = jb->src->late_dropped;
        f->wm = jb->src->watermark_ns;
    } else if (jb->src && jb->planned) { /* running: what its workers published */
        stream_job_live_figures(&jb->j, &f->rows_read, &f->late, &f->wm);
    } else if (jb->nsrcs) {
        join_figs(jb, f, atomic_load_explicit(&jb->done, memory_order_acquire));
    }
    f->written = jb->view ? jb->view->rows_written : jb->sink ? jb->sink->rows_written : 0;
    if (jb->planned)
        f->state_bytes = atomic_load(&jb->j.state_mem);
}

static void *ticker_main(void *arg)
{
    stream_server *ss = arg;
    pthread_mutex_lock(&ss->mu);
    while (!ss->closing) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&ss->cv, &ss->mu, &ts);
        int64_t now = clock_mono_ns();
        for (sjob *jb = ss->jobs; jb && !ss->closing; jb = jb->next) {
            if (jb->th_on && atomic_load_explicit(&jb->done, memory_order_acquire))
                job_reap(jb);
            figs f;
            job_figs(jb, &f);
            double dt = (double)(now - jb->prev_ns) / 1e9;
            if (dt > 0 && atomic_load(&jb->state) == J_RUNNING) {
                jb->in_rate = (double)(f.rows_read - jb->prev_in) / dt;
                jb->out_rate = (double)(f.written - jb->prev_out) / dt;
            } else {
                jb->in_rate = jb->out_rate = 0;
            }
            jb->prev_in = f.rows_read;
            jb->prev_out = f.written;
            jb->prev_ns = now;
        }
    }
    pthread_mutex_unlock(&ss->mu);
    return NULL;
}

static double lag_s(const figs *f, sjob *jb)
{
    if (!f->live || f->wm == STREAM_WM_NONE || atomic_load(&jb->state) != J_RUNNING)
        return -1;
    return (double)(clock_wall_ns() - f->wm) / 1e9;
}

/* ---- the jobs table ------------------------------------------------------------ */

enum {
    JC_NAME, JC_STATE, JC_SQL, JC_STARTED, JC_SOURCE, JC_ROWS_READ, JC_LATE, JC_OVERFLOW,
    JC_SINK, JC_ROWS_WRITTEN, JC_WATERMARK, JC_STATE_BYTES, JC_LAG, JC_IN, JC_OUT, JC_ERROR,
    JC_N
};

static void free_table(void *t)
{
    sql_table_free(t);
}

static int put_str(col_vec *v, const char *s)
{
    return s ? col_vec_append_str(v, s, strlen(s)) : col_vec_append_null(v);
}

static int job_row(sjob *jb, sql_batch *b)
{
    figs f;
    job_figs(jb, &f);
    col_vec *c = b->cols;
    int st = atomic_load(&jb->state);
    double lag = lag_s(&f, jb);
    int rc = put_str(&c[JC_NAME], jb->name) | put_str(&c[JC_STATE], g_state_names[st]) |
             put_str(&c[JC_SQL], jb->sql) |
             (jb->started_ns ? col_vec_append_i64(&c[JC_STARTED], jb->started_ns)
                             : col_vec_append_null(&c[JC_STARTED])) |
             put_str(&c[JC_SOURCE], jb->src ? jb->src->name : f.nsrc ? f.names : NULL) |
             col_vec_append_i64(&c[JC_ROWS_READ], (int64_t)f.rows_read) |
             col_vec_append_i64(&c[JC_LATE], (int64_t)f.late) |
             col_vec_append_i64(&c[JC_OVERFLOW], (int64_t)f.overflow) |
             put_str(&c[JC_SINK], jb->name) |
             col_vec_append_i64(&c[JC_ROWS_WRITTEN], (int64_t)f.written) |
             (f.wm == STREAM_WM_NONE || f.wm == STREAM_WM_END
                  ? col_vec_append_null(&c[JC_WATERMARK])
                  : col_vec_append_i64(&c[JC_WATERMARK], f.wm)) |
             col_vec_append_i64(&c[JC_STATE_BYTES], f.state_bytes) |
             (lag < 0 ? col_vec_append_null(&c[JC_LAG]) : col_vec_append_f64(&c[JC_LAG], lag)) |
             col_vec_append_f64(&c[JC_IN], jb->in_rate) |
             col_vec_append_f64(&c[JC_OUT], jb->out_rate) |
             put_str(&c[JC_ERROR], jb->error[0] ? jb->error : NULL);
    if (!rc)
        b->n++;
    return rc ? SL_ENOMEM : SL_OK;
}

static sql_table *jobs_table(stream_server *ss, arena *a)
{
    static const char *const names[JC_N] = {
        "name", "state", "sql", "started", "source", "rows_read", "late_dropped",
        "overflow_dropped", "sink", "rows_written", "watermark", "state_bytes", "lag_seconds",
        "records_in_per_second", "records_out_per_second", "error"};
    static const sql_tid types[JC_N] = {
        ST_TEXT, ST_TEXT, ST_TEXT, ST_TIMESTAMPTZ, ST_TEXT, ST_INT8, ST_INT8, ST_INT8,
        ST_TEXT, ST_INT8, ST_TIMESTAMPTZ, ST_INT8, ST_FLOAT8, ST_FLOAT8, ST_FLOAT8, ST_TEXT};
    ftab *f = ftab_new(ss->o.eng, "jobs", JC_N, &ftab_rows_ops);
    if (!f)
        return NULL;
    for (int i = 0; i < JC_N; i++)
        ftab_col(f, i, names[i], types[i]);
    int rc = SL_OK;
    for (sjob *jb = ss->jobs; jb && !rc; jb = jb->next) {
        sql_batch *b = ftab_batch(f);
        rc = b ? job_row(jb, b) : SL_ENOMEM;
    }
    if (!rc)
        rc = ftab_flush(f);
    if (rc || arena_on_cleanup(a, free_table, &f->t)) {
        sql_batch_free(f->cur);
        f->cur = NULL;
        sql_table_free(&f->t);
        return NULL;
    }
    return &f->t;
}

/* A view's rows now, as a table of the query (its batches shared; an upsert
 * log's live rows, shared or copied). */
static sql_table *view_snapshot(stream_server *ss, stream_view *v, arena *a)
{
    ftab *src = v->f;
    ftab *f = ftab_new(ss->o.eng, v->name, src->t.ncols, &ftab_rows_ops);
    if (!f)
        return NULL;
    int rc = SL_OK;
    for (int i = 0; i < src->t.ncols && !rc; i++) {
        /* copied: a DROP may free the view while this query runs */
        f->names[i] = arena_strndup(&f->mem, src->names[i], strlen(src->names[i]));
        f->types[i] = src->types[i];
        rc = f->names[i] ? SL_OK : SL_ENOMEM;
    }
    pthread_mutex_lock(&ss->vmu);
    if (!rc && v->log) /* emit = 'on_update': each group's newest row, copied */
        rc = stream_ulog_read(v->log, false, stream_ulog_into_ftab, f);
    for (int i = 0; i < src->nrows_batches && !rc && !v->log; i++) {
        const sql_batch *sb = src->rows[i];
        sql_batch *nb;
        if ((rc = sql_batch_new(sb->ncols, sb->types, &nb)))
            break;
        for (int c = 0; c < sb->ncols; c++) {
            col_vec_release(&nb->cols[c]);
            sql_vec_share(&sb->cols[c], &nb->cols[c]);
        }
        nb->n = sb->n;
        f->cur = nb;
        if ((rc = ftab_flush(f))) {
            sql_batch_free(nb);
            f->cur = NULL;
        }
    }
    pthread_mutex_unlock(&ss->vmu);
    if (rc || arena_on_cleanup(a, free_table, &f->t)) {
        sql_table_free(&f->t);
        return NULL;
    }
    return &f->t;
}

static sql_table *hook_table_for(void *arg, const char *name, arena *a)
{
    stream_server *ss = arg;
    sql_table *t = NULL;
    pthread_mutex_lock(&ss->mu);
    stream_table *st = stream_table_find(&ss->r, name);
    stream_view *v = st ? NULL : stream_view_find(&ss->r, name);
    if (st && st->connector != STREAM_CONN_TABLE) /* a table sink: its user table */
        t = &st->t;
    else if (v)
        t = view_snapshot(ss, v, a);
    else if (!strcmp(name, "jobs"))
        t = jobs_table(ss, a);
    pthread_mutex_unlock(&ss->mu);
    return t;
}

/* ---- statements ------------------------------------------------------------------ */

static bool has_connector(const PgQuery__CreateStmt *cs)
{
    for (size_t i = 0; i < cs->n_options; i++) {
        const PgQuery__DefElem *d = cs->options[i]->def_elem;
        if (d && d->defname && !strcmp(d->defname, "connector"))
            return true;
    }
    return false;
}

/* A running job reading view v as a stream (source_view.c): v must not be freed
 * under it. */
static sjob *view_reader(stream_server *ss, const stream_view *v)
{
    for (sjob *jb = ss->jobs; v && jb; jb = jb->next)
        if (jb->src && jb->src->vw == v && atomic_load(&jb->state) == J_RUNNING)
            return jb;
    return NULL;
}

static bool table_in_use(stream_server *ss, const stream_table *t)
{
    for (sjob *jb = ss->jobs; jb; jb = jb->next) {
        if (jb->src == t || jb->sink == t)
            return true;
        for (int i = 0; i < jb->nsrcs; i++)
            if (jb->srcs[i] == t)
                return true;
    }
    return false;
}

/* The name of a DROP's object i (its last part: a schema-qualified name's table). */
static const char *drop_name(const PgQuery__DropStmt *ds, size_t i)
{
    const PgQuery__List *l = ds->objects[i]->list;
    return l && l->n_items ? node_str(l->items[l->n_items - 1]) : NULL;
}

/* DROP MATERIALIZED VIEW / DROP TABLE of the registry's names: 1, 0 (not ours), < 0. */
static int run_drop(stream_server *ss, sql_query *q, const PgQuery__DropStmt *ds)
{
    bool mv = ds->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW;
    if (!mv && ds->remove_type != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE)
        return 0;
    for (size_t i = 0; i < ds->n_objects; i++) {
        const char *name = drop_name(ds, i);
        stream_table *t = name && !mv ? stream_table_find(&ss->r, name) : NULL;
        sjob *jb = name && mv ? job_find(ss, name) : NULL;
        if (!mv && !t)
            return 0; /* a user table: the engine's */
        if (mv && !jb && !ds->missing_ok)
            return sql_err_set(q->e, SQLSTATE_UNDEFINED_TABLE, -1, "materialized view \"%s\" "
                               "does not exist", name ? name : "?");
        sjob *rd = jb ? view_reader(ss, jb->view) : NULL;
        if (rd)
            return sql_err_set(q->e, "2BP01", -1, "cannot drop materialized view \"%s\": job "
                               "\"%s\" reads it (stop or drop that job first)", name, rd->name);
        if (jb)
            job_drop(ss, jb);
        if (t && table_in_use(ss, t))
            return sql_err_set(q->e, "2BP01", -1, "cannot drop table \"%s\": a job uses it "
                               "(stop and drop the job first)", t->name);
        if (t) {
            stream_run *r = &ss->r;
            for (int k = 0; k < r->ntables; k++)
                if (r->tables[k] == t)
                    r->tables[k] = r->tables[--r->ntables];
            for (int k = 0; k < ss->ntdefs; k++)
                if (!strcmp(ss->tdefs[k].name, t->name)) {
                    def_drop(ss, ss->tdefs[k].key, 1);
                    ss->tdefs[k] = ss->tdefs[--ss->ntdefs];
                }
            stream_gauges_free(t->gauges);
            t->gauges = NULL;
            /* t's memory is the registry's arena: kept until the server stops */
        }
    }
    snprintf(q->tag, sizeof q->tag, mv ? "DROP MATERIALIZED VIEW" : "DROP TABLE");
    return 1;
}

static int run_show_jobs(stream_server *ss, sql_query *q)
{
    static const char *const names[] = {"name", "state", "source", "rows_read", "late_dropped",
                                        "rows_written", "watermark", "sql"};
    sql_type types[8];
    for (int i = 0; i < 8; i++)
        types[i] = sql_type_of(ST_TEXT);
    if (sql_query_set_columns(q, 8, names, types))
        return oom(q->e);
    for (sjob *jb = ss->jobs; jb; jb = jb->next) {
        figs f;
        job_figs(jb, &f);
        char rr[24], ld[24], rw[24], wm[64] = "";
        snprintf(rr, sizeof rr, "%llu", (unsigned long long)f.rows_read);
        snprintf(ld, sizeof ld, "%llu", (unsigned long long)f.late);
        snprintf(rw, sizeof rw, "%llu", (unsigned long long)f.written);
        if (f.wm != STREAM_WM_NONE && f.wm != STREAM_WM_END) {
            time_t s = (time_t)(f.wm / NS_PER_S);
            struct tm tm;
            gmtime_r(&s, &tm);
            strftime(wm, sizeof wm, "%Y-%m-%d %H:%M:%S", &tm);
        }
        const char *row[8] = {jb->name, g_state_names[atomic_load(&jb->state)],
                              jb->src ? jb->src->name : f.nsrc ? f.names : NULL, rr, ld, rw,
                              wm[0] ? wm : NULL,
                              jb->sql};
        if (sql_query_add_text_row(q, row))
            return oom(q->e);
    }
    snprintf(q->tag, sizeof q->tag, "SHOW");
    return 1;
}

/* A statement of the registry's: 1 when run here, 0 for the engine, < 0 failed. */
static int run_stmt(stream_server *ss, sql_query *q, const PgQuery__Node *st, const char *text,
                    bool persist, bool stopped)
{
    stream_run *r = &ss->r;
    switch (st->node_case) {
    case PG_QUERY__NODE__NODE_CREATE_STMT: {
        if (!has_connector(st->create_stmt))
            return 0;
        int rc = stream_create_table(r, text, st->create_stmt, q->e);
        if (rc < 0)
            return rc;
        if (persist) {
            tdef *nt = sl_realloc(ss->tdefs, sizeof *nt * (size_t)(ss->ntdefs + 1));
            if (!nt)
                return oom(q->e);
            ss->tdefs = nt;
            tdef *d = &ss->tdefs[ss->ntdefs++];
            snprintf(d->name, sizeof d->name, "%s", st->create_stmt->relation->relname);
            int64_t ver;
            if ((rc = def_put(ss, text, false, d->key, &ver, q->e)))
                return rc;
        }
        snprintf(q->tag, sizeof q->tag, "CREATE TABLE");
        return 1;
    }
    case PG_QUERY__NODE__NODE_INSERT_STMT: {
        const PgQuery__InsertStmt *ins = st->insert_stmt;
        if (!ins->relation || !stream_table_find(r, ins->relation->relname) ||
            !ins->select_stmt || ins->select_stmt->select_stmt->n_values_lists)
            return 0;
        int rc = job_create(ss, text, st, persist, stopped, q->e);
        if (rc)
            return rc;
        snprintf(q->tag, sizeof q->tag, "INSERT 0 0");
        return 1;
    }
    case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT: {
        if (st->create_table_as_stmt->objtype != PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW)
            return 0;
        int rc = job_create(ss, text, st, persist, stopped, q->e);
        if (rc)
            return rc;
        snprintf(q->tag, sizeof q->tag, "CREATE MATERIALIZED VIEW");
        return 1;
    }
    case PG_QUERY__NODE__NODE_DROP_STMT: return run_drop(ss, q, st->drop_stmt);
    case PG_QUERY__NODE__NODE_VARIABLE_SHOW_STMT:
        if (!st->variable_show_stmt->name || strcmp(st->variable_show_stmt->name, "jobs"))
            return 0;
        return run_show_jobs(ss, q);
    default: return 0;
    }
}

/* Whether a statement defines, starts or drops a source, sink or job: a
 * connector table, a view, an INSERT into a connector table, their DROP. */
static bool changes_jobs(stream_server *ss, const PgQuery__Node *st)
{
    switch (st->node_case) {
    case PG_QUERY__NODE__NODE_CREATE_STMT: return has_connector(st->create_stmt);
    case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT:
        return st->create_table_as_stmt->objtype == PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW;
    case PG_QUERY__NODE__NODE_INSERT_STMT:
        return st->insert_stmt->relation &&
               stream_table_find(&ss->r, st->insert_stmt->relation->relname);
    case PG_QUERY__NODE__NODE_DROP_STMT: {
        const PgQuery__DropStmt *ds = st->drop_stmt;
        if (ds->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW)
            return true;
        for (size_t i = 0; ds->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE &&
                           i < ds->n_objects; i++) {
            const char *name = drop_name(ds, i);
            if (name && stream_table_find(&ss->r, name))
                return true;
        }
        return false;
    }
    default: return false;
    }
}

#define NOT_LEADER "continuous jobs of a shared lake run on the server that leads it, " \
                   "and this server does not lead it now"
#define NOT_LEADER_HINT "Send it to the leader: the server whose GET /api/stats shows " \
                        "lake.background.leader = true."

static int not_leader(sql_err *e)
{
    int rc = sql_err_set(e, "25006", -1, NOT_LEADER);
    sql_err_hint(e, NOT_LEADER_HINT);
    return rc;
}

static int stmt_hook(void *arg, sql_query *q, const PgQuery__Node *st, const char *text)
{
    stream_server *ss = arg;
    if (q->s->hook != &ss->hook)
        return 0; /* a session with names of its own (a table sink's): not the registry's */
    switch (st->node_case) {
    case PG_QUERY__NODE__NODE_CREATE_STMT:
    case PG_QUERY__NODE__NODE_INSERT_STMT:
    case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT:
    case PG_QUERY__NODE__NODE_DROP_STMT:
    case PG_QUERY__NODE__NODE_VARIABLE_SHOW_STMT: break;
    default: return 0;
    }
    pthread_mutex_lock(&ss->mu);
    int rc = ss->o.shared && !ss->leading && changes_jobs(ss, st)
                 ? not_leader(q->e)
                 : run_stmt(ss, q, st, text, true, false);
    pthread_mutex_unlock(&ss->mu);
    return rc;
}

/* ---- restart ---------------------------------------------------------------------- */

typedef struct saved {
    char key[40];
    int64_t ver;
    char *sql;
    bool stopped;
} saved;

typedef struct saved_list {
    saved *s;
    int n, cap;
    int rc;
} saved_list;

static int take_def(void *arg, const meta_sql_table *row)
{
    saved_list *l = arg;
    if (strncmp(row->name, KEY_PREFIX, sizeof KEY_PREFIX - 1))
        return 0;
    arena a;
    arena_init(&a, 4096, 64u << 20);
    json_val *j;
    errmsg e;
    const json_val *sq = NULL, *so = NULL;
    if (!json_parse(&a, row->def, strlen(row->def), &j, &e) && j->type == JSON_OBJ) {
        sq = json_get(j, "stream_sql");
        so = json_get(j, "stopped");
    }
    if (sq && sq->type == JSON_STR) {
        if (l->n == l->cap) {
            int nc = l->cap ? l->cap * 2 : 16;
            saved *ns = sl_realloc(l->s, sizeof *ns * (size_t)nc);
            if (!ns) {
                arena_destroy(&a);
                return l->rc = SL_ENOMEM;
            }
            l->s = ns;
            l->cap = nc;
        }
        saved *s = &l->s[l->n++];
        snprintf(s->key, sizeof s->key, "%s", row->name);
        s->ver = row->version;
        s->sql = strdup(sq->str);
        s->stopped = so && so->type == JSON_BOOL && so->b;
    }
    arena_destroy(&a);
    return 0;
}

static int cmp_saved(const void *a, const void *b)
{
    return strcmp(((const saved *)a)->key, ((const saved *)b)->key);
}

/* One kept definition run again (its key and version kept). */
static void replay(stream_server *ss, sql_session *s, const saved *d)
{
    sql_query q;
    memset(&q, 0, sizeof q);
    q.s = s;
    q.e = &q.err;
    arena_init(&q.a, 4096, 1u << 20);
    sql_parsed ps;
    int rc = d->sql ? sql_parse(d->sql, &ps, q.e) : SL_ENOMEM;
    if (!rc && ps.n_stmts == 1) {
        const PgQuery__Node *st = ps.tree->stmts[0]->stmt;
        rc = run_stmt(ss, &q, st, d->sql, false, d->stopped);
        if (rc == 1 && st->node_case == PG_QUERY__NODE__NODE_CREATE_STMT) {
            tdef *nt = sl_realloc(ss->tdefs, sizeof *nt * (size_t)(ss->ntdefs + 1));
            if (nt) {
                ss->tdefs = nt;
                tdef *td = &ss->tdefs[ss->ntdefs++];
                snprintf(td->name, sizeof td->name, "%s", st->create_stmt->relation->relname);
                snprintf(td->key, sizeof td->key, "%s", d->key);
            }
        } else if (rc == 1 || rc < 0) {
            const char *name = st->node_case == PG_QUERY__NODE__NODE_INSERT_STMT
                                   ? st->insert_stmt->relation->relname
                                   : st->create_table_as_stmt->into->rel->relname;
            sjob *jb = job_find(ss, name);
            if (!jb && rc < 0 && (jb = sl_calloc(1, sizeof *jb)) && (jb->sql = strdup(d->sql))) {
                /* kept, marked failed: its definition is not lost */
                snprintf(jb->name, sizeof jb->name, "%s", name);
                atomic_store(&jb->state, J_FAILED);
                snprintf(jb->error, sizeof jb->error, "restart: %.480s", q.err.msg);
                jb->next = ss->jobs;
                ss->jobs = jb;
            }
            if (jb) {
                snprintf(jb->key, sizeof jb->key, "%s", d->key);
                jb->ver = d->ver;
            }
        }
    }
    if (rc < 0)
        log_warn("stream", "definition %s: %s", d->key, q.err.msg);
    if (d->sql)
        sql_parsed_free(&ps);
    arena_destroy(&q.a);
}

/* Reads the kept definitions and starts them again; SL_OK unless they could not
 * be read (or a session made to replay them). */
static int restart_all(stream_server *ss)
{
    if (!ss->o.m)
        return SL_OK;
    saved_list l = {0};
    errmsg em;
    errmsg_clear(&em);
    int rc = meta_sql_table_list(ss->o.m, NULL, take_def, &l, &em);
    if (rc)
        log_warn("stream", "cannot read the kept jobs: %s", errmsg_str(&em));
    if (!rc && l.n)
        qsort(l.s, (size_t)l.n, sizeof *l.s, cmp_saved);
    sql_session *s = NULL;
    if (!rc && l.n && (rc = sql_session_new(ss->o.eng, &s)) != SL_OK)
        log_warn("stream", "cannot replay the kept jobs: %s", sl_strerror(rc));
    if (!rc && l.n) {
        pthread_mutex_lock(&ss->mu);
        for (int i = 0; i < l.n; i++) {
            long long seq = atoll(l.s[i].key + sizeof KEY_PREFIX - 1);
            ss->seq = seq > ss->seq ? seq : ss->seq;
            replay(ss, s, &l.s[i]);
        }
        pthread_mutex_unlock(&ss->mu);
    }
    sql_session_free(s);
    for (int i = 0; i < l.n; i++)
        free(l.s[i].sql);
    sl_free(l.s);
    return rc;
}

/* ---- the registry ------------------------------------------------------------------- */

int stream_server_open(const stream_server_opts *o, stream_server **out, errmsg *e)
{
    stream_server *ss = sl_calloc(1, sizeof *ss);
    if (!ss)
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    ss->o = *o;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    ss->so.workers = o->workers > 0 ? o->workers : cores > 0 ? (int)cores : 1;
    ss->so.output_dir = o->output_dir;
    ss->so.input_dir = o->input_dir;
    pthread_mutex_init(&ss->mu, NULL);
    pthread_mutex_init(&ss->vmu, NULL);
    pthread_cond_init(&ss->vgrown, NULL);
    pthread_cond_init(&ss->cv, NULL);
    stream_run *r = &ss->r;
    r->o = &ss->so;
    r->eng = o->eng;
    arena_init(&r->a, 16384, 256u << 20);
    if (stream_hub_new(o->l, &r->hub) || sql_session_new(o->eng, &r->s)) {
        stream_server_close(ss);
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    }
    stream_catalog_init(r);
    ss->hook = (sql_catalog_hook){ss, NULL, NULL, hook_table_for};
    ss->sh = (sql_stmt_hook){ss, stmt_hook};
    sql_engine_set_hooks(o->eng, &ss->hook, &ss->sh);
    if (!o->shared) /* (a shared lake's jobs start when this server leads it) */
        restart_all(ss);
    if (pthread_create(&ss->ticker, NULL, ticker_main, ss) == 0)
        ss->ticker_on = true;
    *out = ss;
    return SL_OK;
}

/*
 * Everything the registry holds, forgotten (ss->mu held): every job halted as a
 * shutdown halts it (its checkpoints and part file kept), newest first so that
 * the jobs reading a view stop before the view's job, then the jobs, views,
 * connector tables and definitions dropped from memory (their rows stay in the
 * metadata store).  A server that leads again reads them afresh: meanwhile
 * another leader may have created, stopped or dropped some.
 */
static void forget_all(stream_server *ss)
{
    for (sjob *jb = ss->jobs; jb; jb = jb->next)
        job_halt(jb, true);
    for (sjob *jb = ss->jobs, *nx; jb; jb = nx) {
        nx = jb->next;
        job_free(jb);
    }
    ss->jobs = NULL;
    stream_run *r = &ss->r;
    for (int i = 0; i < r->ntables; i++) {
        stream_gauges_free(r->tables[i]->gauges);
        r->tables[i]->gauges = NULL;
    }
    pthread_mutex_lock(&ss->vmu); /* (a reader copies a view's rows under it) */
    stream_catalog_free(r);
    pthread_mutex_unlock(&ss->vmu);
    sl_free(ss->tdefs);
    ss->tdefs = NULL;
    ss->ntdefs = 0;
    ss->seq = 0;
}

/*
 * A shared lake's jobs run on its leader only, so that two servers do not run
 * one job (nor write its checkpoints) at once, as long as the leader learns in
 * time that it lost the lead (below).  When this server comes to lead, it reads
 * the definitions and starts the jobs, each resuming from its checkpoint in the
 * shared object store; until that succeeded (it is tried again every second)
 * it still refuses statements about jobs.  Losing the lead halts and forgets
 * them all (forget_all).
 */
void stream_server_lead(stream_server *ss, bool leading)
{
    if (!ss || !ss->o.shared)
        return;
    pthread_mutex_lock(&ss->mu);
    if (!leading) {
        ss->leading = false;
        if (ss->loaded) {
            for (sjob *jb = ss->jobs; jb; jb = jb->next)
                if (atomic_load(&jb->state) == J_RUNNING)
                    log_warn("stream", "job %s: halted, this server no longer leads the lake "
                             "(the leader runs it, from its last checkpoint)", jb->name);
            forget_all(ss);
            ss->loaded = false;
            log_warn("stream", "this server no longer leads the lake: its continuous jobs "
                     "are halted");
        }
        pthread_mutex_unlock(&ss->mu);
        return;
    }
    bool load = !ss->loaded;
    pthread_mutex_unlock(&ss->mu);
    if (!load)
        return;
    if (restart_all(ss)) {
        log_warn("stream", "this server leads the lake, but cannot start its continuous jobs "
                 "yet: tried again in a second");
        return;
    }
    pthread_mutex_lock(&ss->mu);
    ss->loaded = ss->leading = true;
    pthread_mutex_unlock(&ss->mu);
    log_info("stream", "this server leads the lake: it runs the continuous jobs");
}

void stream_server_close(stream_server *ss)
{
    if (!ss)
        return;
    pthread_mutex_lock(&ss->mu);
    ss->closing = true;
    pthread_cond_broadcast(&ss->cv);
    pthread_mutex_unlock(&ss->mu);
    if (ss->ticker_on)
        pthread_join(ss->ticker, NULL);
    pthread_mutex_lock(&ss->mu);
    forget_all(ss); /* (the jobs end as at a shutdown: their checkpoints kept) */
    pthread_mutex_unlock(&ss->mu);
    if (ss->r.eng)
        sql_engine_set_hooks(ss->r.eng, NULL, NULL);
    sql_session_free(ss->r.s);
    stream_hub_free(ss->r.hub);
    arena_destroy(&ss->r.a);
    pthread_mutex_destroy(&ss->mu);
    pthread_mutex_destroy(&ss->vmu);
    pthread_cond_destroy(&ss->vgrown);
    pthread_cond_destroy(&ss->cv);
    sl_free(ss);
}

stream_hub *stream_server_hub(stream_server *ss)
{
    return ss ? ss->r.hub : NULL;
}

/* ---- the HTTP API ------------------------------------------------------------------- */

static void time_json(jw *w, int64_t ns)
{
    if (ns == STREAM_WM_NONE || ns == STREAM_WM_END || !ns) {
        jw_null(w);
        return;
    }
    char buf[64];
    time_t s = (time_t)(ns / NS_PER_S);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t k = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + k, sizeof buf - k, ".%03dZ", (int)((ns % NS_PER_S) / 1000000));
    jw_str(w, buf);
}

static void job_json(sjob *jb, jw *w)
{
    figs f;
    job_figs(jb, &f);
    jw_obj_begin(w);
    jw_kv_str(w, "name", jb->name);
    jw_kv_str(w, "state", g_state_names[atomic_load(&jb->state)]);
    jw_kv_str(w, "sql", jb->sql);
    jw_key(w, "started");
    time_json(w, jb->started_ns);
    jw_key(w, "workers");
    jw_int(w, jb->nw);
    jw_key(w, "sources");
    jw_obj_begin(w);
    if (jb->src) {
        jw_key(w, jb->src->name);
        jw_obj_begin(w);
        jw_kv_uint(w, "rows_read", f.rows_read);
        jw_kv_uint(w, "late_dropped", f.late);
        jw_kv_uint(w, "overflow_dropped", f.overflow);
        jw_obj_end(w);
    }
    for (int k = 0; k < f.nsrc; k++) {
        jw_key(w, f.src_name[k]);
        jw_obj_begin(w);
        jw_kv_uint(w, "rows_read", f.src_read[k]);
        jw_kv_uint(w, "late_dropped", f.src_late[k]);
        jw_kv_uint(w, "overflow_dropped", 0);
        jw_obj_end(w);
    }
    jw_obj_end(w);
    jw_key(w, "sinks");
    jw_obj_begin(w);
    jw_key(w, jb->name);
    jw_obj_begin(w);
    jw_kv_uint(w, "rows_written", f.written);
    jw_obj_end(w);
    jw_obj_end(w);
    jw_key(w, "watermark");
    time_json(w, f.wm);
    jw_kv_int(w, "state_bytes", f.state_bytes);
    jw_key(w, "lag_seconds");
    double lag = lag_s(&f, jb);
    if (lag < 0)
        jw_null(w);
    else
        jw_double(w, lag);
    jw_key(w, "records_in_per_second");
    jw_double(w, jb->in_rate);
    jw_key(w, "records_out_per_second");
    jw_double(w, jb->out_rate);
    jw_key(w, "error");
    if (jb->error[0])
        jw_str(w, jb->error);
    else
        jw_null(w);
    jw_obj_end(w);
}

int stream_server_jobs_json(stream_server *ss, const char *name, dbuf *out, errmsg *e)
{
    jw w;
    jw_init(&w, out);
    pthread_mutex_lock(&ss->mu);
    int rc = SL_OK;
    if (name) {
        sjob *jb = job_find(ss, name);
        if (jb)
            job_json(jb, &w);
        else
            rc = errmsg_set(e, SL_ENOTFOUND, "no job named \"%s\"", name);
    } else {
        jw_arr_begin(&w);
        for (sjob *jb = ss->jobs; jb; jb = jb->next)
            job_json(jb, &w);
        jw_arr_end(&w);
    }
    pthread_mutex_unlock(&ss->mu);
    if (!rc && w.err)
        rc = errmsg_set(e, SL_ENOMEM, "out of memory");
    return rc;
}

/* Stops a running job (its state kept). */
static int job_stop(stream_server *ss, sjob *jb, errmsg *e)
{
    (void)e;
    if (atomic_load(&jb->state) == J_RUNNING) {
        job_halt(jb, false);
        atomic_store(&jb->state, J_STOPPED);
        def_update(ss, jb, true);
    }
    return SL_OK;
}

/* Starts a job that is not running over (a new view). */
static int job_restart(stream_server *ss, sjob *jb, errmsg *e)
{
    int rc = SL_OK;
    sjob *rd = atomic_load(&jb->state) != J_RUNNING ? view_reader(ss, jb->view) : NULL;
    if (rd) /* starting over makes a new view */
        return errmsg_set(e, SL_EINVAL, "job \"%s\" reads the view of \"%s\": stop it first",
                          rd->name, jb->name);
    if (atomic_load(&jb->state) != J_RUNNING) {
        job_reap(jb);
        if (jb->view)
            view_remove(ss, jb->view); /* started over: a new view */
        jb->view = NULL;
        sql_parsed ps;
        sql_err se;
        sql_err_clear(&se);
        rc = sql_parse(jb->sql, &ps, &se);
        if (!rc && ps.n_stmts == 1 && !(rc = job_start(ss, jb, ps.tree->stmts[0]->stmt, &se))) {
            jb->error[0] = 0;
            def_update(ss, jb, false);
        }
        if (rc)
            errmsg_set(e, SL_EINVAL, "%s", se.msg);
        sql_parsed_free(&ps);
    }
    return rc;
}

static int job_control(stream_server *ss, const char *name,
                       int (*fn)(stream_server *ss, sjob *jb, errmsg *e), errmsg *e)
{
    pthread_mutex_lock(&ss->mu);
    sjob *jb = job_find(ss, name);
    int rc = ss->o.shared && !ss->leading ? errmsg_set(e, SL_ESTATE, "%s", NOT_LEADER)
             : jb ? fn(ss, jb, e)
                  : errmsg_set(e, SL_ENOTFOUND, "no job named \"%s\"", name);
    pthread_mutex_unlock(&ss->mu);
    return rc;
}

int stream_server_job_stop(stream_server *ss, const char *name, errmsg *e)
{
    return job_control(ss, name, job_stop, e);
}

int stream_server_job_start(stream_server *ss, const char *name, errmsg *e)
{
    return job_control(ss, name, job_restart, e);
}

/* ---- /metrics ------------------------------------------------------------------------ */

static void metric(dbuf *b, const char *name, const char *help, const char *type)
{
    dbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int stream_server_metrics(stream_server *ss, dbuf *b)
{
    static const struct {
        const char *name, *help, *type, *label;
    } m[] = {
        {"streamlake_source_rows_read", "Rows a job read from its source.", "counter", "source"},
        {"streamlake_source_late_dropped", "Rows dropped as late at the source.", "counter",
         "source"},
        {"streamlake_source_overflow_dropped", "Telemetry rows dropped: the job's queue was "
         "full.", "counter", "source"},
        {"streamlake_sink_rows_written", "Rows a job wrote to its sink.", "counter", "sink"},
        {"streamlake_job_watermark_seconds", "The job's watermark (seconds since the epoch).",
         "gauge", NULL},
        {"streamlake_job_state_bytes", "Bytes of the job's window state.", "gauge", NULL},
        {"streamlake_job_lag_seconds", "How far the watermark trails the wall clock.", "gauge",
         NULL},
        {"streamlake_job_records_in_per_second", "Rows read per second (last second).",
         "gauge", NULL},
        {"streamlake_job_records_out_per_second", "Rows written per second (last second).",
         "gauge", NULL},
        {"streamlake_job_running", "1 while the job runs.", "gauge", NULL},
    };
    pthread_mutex_lock(&ss->mu);
    for (size_t k = 0; k < sizeof m / sizeof m[0]; k++) {
        metric(b, m[k].name, m[k].help, m[k].type);
        for (sjob *jb = ss->jobs; jb; jb = jb->next) {
            figs f;
            job_figs(jb, &f);
            double v;
            switch (k) {
            case 0: v = (double)f.rows_read; break;
            case 1: v = (double)f.late; break;
            case 2: v = (double)f.overflow; break;
            case 3: v = (double)f.written; break;
            case 4:
                if (f.wm == STREAM_WM_NONE || f.wm == STREAM_WM_END)
                    continue;
                v = (double)f.wm / 1e9;
                break;
            case 5: v = (double)f.state_bytes; break;
            case 6:
                if ((v = lag_s(&f, jb)) < 0)
                    continue;
                break;
            case 7: v = jb->in_rate; break;
            case 8: v = jb->out_rate; break;
            default: v = atomic_load(&jb->state) == J_RUNNING; break;
            }
            const char *lv = !m[k].label ? NULL
                             : !strcmp(m[k].label, "source") ? (jb->src ? jb->src->name : "")
                                                             : jb->name;
            if (lv && !jb->src && f.nsrc && k <= 2) { /* a join: a series per source */
                for (int x = 0; x < f.nsrc; x++)
                    dbuf_printf(b, "%s{job=\"%s\",source=\"%s\"} %.17g\n", m[k].name, jb->name,
                                f.src_name[x],
                                k == 0 ? (double)f.src_read[x] : k == 1 ? (double)f.src_late[x] : 0.0);
            } else if (lv)
                dbuf_printf(b, "%s{job=\"%s\",%s=\"%s\"} %.17g\n", m[k].name, jb->name,
                            m[k].label, lv, v);
            else
                dbuf_printf(b, "%s{job=\"%s\"} %.17g\n", m[k].name, jb->name, v);
        }
    }
    for (int i = 0; i < ss->r.ntables; i++) /* metrics sinks: their gauges */
        if (ss->r.tables[i]->gauges)
            stream_gauges_text(ss->r.tables[i]->gauges, b);
    pthread_mutex_unlock(&ss->mu);
    return SL_OK;
}
