/*
 * script.c - a file of statements (stream_run_script, stream.h).
 *
 * Statements run in order in one SQL session of an engine (over the data
 * directory of --data when given: user tables, so table sinks; else none):
 *
 *   CREATE TABLE ... WITH (connector = ...)   registered (catalog.c)
 *   INSERT INTO <connector table> SELECT ...  a job, run to the end of its
 *   CREATE MATERIALIZED VIEW ... AS SELECT    bounded source (job.c)
 *   anything else                             the SQL engine, its rows printed
 *                                             (a SELECT over a view reads the
 *                                             view's final contents)
 *
 * A job's source is read whole by that job, so a statement after it sees
 * everything it produced; two jobs over one source each read the file (the
 * source's figures are the same for both).  At the end the figures go to the
 * --stats file as JSON:
 *
 *   {"sources": {"bids": {"rows_read": N, "late_dropped": M, "bad_rows": K,
 *                         "readers": R, "rows_exchanged": X, "partials_exchanged": P,
 *                         "watermark": "2024-01-01 00:00:08" | null}},
 *    "sinks": {"out": {"rows_written": N, "state_bytes_peak": S}, "v": {...}}}
 *
 * state_bytes_peak is the most state (open windows, groups, kept join rows)
 * the job writing that sink held at once.
 */
#include "stream/stream_int.h"

#include "base/alloc.h"
#include "base/json.h"
#include "sql/run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct script {
    stream_run *r;
    sql_fmt *out;
    sql_err *e;
    char **failed_text;
    int rc;
} script;

static bool is_job(stream_run *r, const PgQuery__Node *st)
{
    if (st->node_case == PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT)
        return st->create_table_as_stmt->objtype == PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW;
    if (st->node_case == PG_QUERY__NODE__NODE_INSERT_STMT) {
        const PgQuery__InsertStmt *ins = st->insert_stmt;
        return ins->relation && stream_table_find(r, ins->relation->relname) &&
               ins->select_stmt && !ins->select_stmt->select_stmt->n_values_lists;
    }
    return false;
}

static int run_stmt(void *arg, const char *stmt, size_t n)
{
    script *sc = arg;
    stream_run *r = sc->r;
    char *text = malloc(n + 1);
    if (!text)
        return sc->rc = sql_err_set(sc->e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    memcpy(text, stmt, n);
    text[n] = 0;
    sql_parsed ps;
    int rc = sql_parse(text, &ps, sc->e);
    if (!rc && ps.n_stmts == 1) {
        const PgQuery__Node *st = ps.tree->stmts[0]->stmt;
        const char *tag = NULL; /* a stream statement's */
        char tagbuf[64];
        if (st->node_case == PG_QUERY__NODE__NODE_CREATE_STMT &&
            (rc = stream_create_table(r, text, st->create_stmt, sc->e)) == 1) {
            rc = SL_OK;
            tag = "CREATE TABLE";
        } else if (is_job(r, st)) {
            rc = stream_job_run(r, text, st, sc->e);
            bool ins = st->node_case == PG_QUERY__NODE__NODE_INSERT_STMT;
            stream_table *t = ins ? stream_table_find(r, st->insert_stmt->relation->relname)
                                  : NULL;
            stream_view *v =
                ins ? NULL : stream_view_find(r, st->create_table_as_stmt->into->rel->relname);
            if (t)
                t->state_peak = r->last_state_peak;
            else if (v)
                v->state_peak = r->last_state_peak;
            snprintf(tagbuf, sizeof tagbuf, "%s %llu", ins ? "INSERT 0" : "SELECT",
                     (unsigned long long)(t ? t->rows_written : v ? v->rows_written : 0));
            tag = tagbuf;
        }
        if (!rc && tag) {
            rc = sql_fmt_end(sc->out, tag, 0, 0);
        } else if (!rc) {
            sql_run_stats rs;
            sql_query_opts o = {.begin_ns = INT64_MIN, .end_ns = INT64_MAX};
            rc = sql_run_script(r->s, text, &o, sc->out, &rs);
            if (rc)
                *sc->e = rs.err;
        }
    }
    sql_parsed_free(&ps);
    rc = rc < 0 ? rc : SL_OK;
    if (rc)
        *sc->failed_text = text;
    else
        free(text);
    return sc->rc = rc;
}

static void time_text(int64_t ns, dbuf *b)
{
    sql_datum d = sql_datum_null();
    d.null = false;
    d.i = ns;
    sql_datum_text(sql_type_of(ST_TIMESTAMP), &d, b);
}

static int write_stats(stream_run *r, const char *path, sql_err *e)
{
    dbuf b, tb;
    dbuf_init(&b, 64u << 20);
    dbuf_init(&tb, 256);
    jw w;
    jw_init(&w, &b);
    jw_obj_begin(&w);
    jw_key(&w, "sources");
    jw_obj_begin(&w);
    for (int i = 0; i < r->ntables; i++) {
        stream_table *t = r->tables[i];
        if (!t->read_once)
            continue;
        jw_key(&w, t->name);
        jw_obj_begin(&w);
        jw_key(&w, "rows_read");
        jw_uint(&w, t->rows_read);
        jw_key(&w, "late_dropped");
        jw_uint(&w, t->late_dropped);
        jw_key(&w, "bad_rows");
        jw_uint(&w, t->bad_rows);
        jw_key(&w, "readers");
        jw_uint(&w, (uint64_t)t->readers);
        jw_key(&w, "rows_exchanged");
        jw_uint(&w, t->rows_exchanged);
        jw_key(&w, "partials_exchanged");
        jw_uint(&w, t->partials_exchanged);
        jw_key(&w, "watermark");
        if (t->watermark_ns == STREAM_WM_NONE) {
            jw_null(&w);
        } else {
            dbuf_reset(&tb);
            time_text(t->watermark_ns, &tb);
            jw_strn(&w, (const char *)tb.p, tb.len);
        }
        jw_obj_end(&w);
    }
    jw_obj_end(&w);
    jw_key(&w, "sinks");
    jw_obj_begin(&w);
    for (int i = 0; i < r->ntables; i++)
        if (r->tables[i]->written) {
            jw_key(&w, r->tables[i]->name);
            jw_obj_begin(&w);
            jw_key(&w, "rows_written");
            jw_uint(&w, r->tables[i]->rows_written);
            jw_kv_int(&w, "state_bytes_peak", r->tables[i]->state_peak);
            jw_obj_end(&w);
        }
    for (int i = 0; i < r->nviews; i++) {
        jw_key(&w, r->views[i]->name);
        jw_obj_begin(&w);
        jw_key(&w, "rows_written");
        jw_uint(&w, r->views[i]->rows_written);
        jw_kv_int(&w, "state_bytes_peak", r->views[i]->state_peak);
        jw_obj_end(&w);
    }
    jw_obj_end(&w);
    jw_obj_end(&w);
    dbuf_append_byte(&b, '\n');
    int rc = SL_OK;
    FILE *f = fopen(path, "w");
    if (!f || fwrite(b.p, 1, b.len, f) != b.len)
        rc = sql_err_set(e, "58030", -1, "--stats: cannot write \"%s\"", path);
    if (f && fclose(f) && !rc)
        rc = sql_err_set(e, "58030", -1, "--stats: cannot write \"%s\"", path);
    dbuf_free(&b);
    dbuf_free(&tb);
    return rc;
}

static int open_engine(stream_run *r, sql_err *e)
{
    sql_engine_opts eo;
    memset(&eo, 0, sizeof eo);
    eo.work_mem_bytes = r->o->work_mem_bytes;
    eo.workers = 1;
    /* read_csv / read_parquet in the file's other statements: under the input and
     * output directories */
    eo.files_dirs[eo.nfiles_dirs++] = r->o->input_dir ? r->o->input_dir : ".";
    eo.files_dirs[eo.nfiles_dirs++] = r->o->output_dir ? r->o->output_dir : ".";
    eo.data_dir = r->o->data_dir;
    errmsg em;
    errmsg_clear(&em);
    if (sql_engine_open(r->o->lake, r->o->meta, r->o->os, &eo, &r->eng, &em))
        return sql_err_set(e, "58030", -1, "%s", errmsg_str(&em));
    if (sql_session_new(r->eng, &r->s))
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    return SL_OK;
}

int stream_run_script(const stream_opts *o, const char *text, sql_fmt *out, sql_err *e,
               char **failed_text)
{
    *failed_text = NULL;
    sql_err_clear(e);
    stream_run r;
    memset(&r, 0, sizeof r);
    r.o = o;
    arena_init(&r.a, 16384, 256u << 20);
    int rc = open_engine(&r, e);
    if (!rc) {
        stream_catalog_init(&r);
        script sc = {&r, out, e, failed_text, 0};
        rc = sql_split(text, run_stmt, &sc, e);
        if (rc && !*failed_text)
            *failed_text = strdup(text);
    }
    if (!rc && o->stats_path)
        rc = write_stats(&r, o->stats_path, e);
    stream_catalog_free(&r);
    sql_session_free(r.s);
    sql_engine_close(r.eng);
    arena_destroy(&r.a);
    return rc;
}
