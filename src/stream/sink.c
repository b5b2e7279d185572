/*
 * sink.c - where a job's rows go.
 *
 *   file (csv)          the rows as `streamlake sql --format csv` prints them
 *                       (the same formatter: NULL an empty field, the empty
 *                       string ""), a header line unless header = false;
 *   file (jsonl)        one JSON object a line, as the kafka and webhook sinks
 *                       make them (stream_row_json: numbers and jsonb as JSON,
 *                       NULL as null, other values as strings).  They
 *                       are written to PATH.part, renamed to PATH when the job
 *                       ends well (the commit); a job that fails leaves PATH as
 *                       it was and no part file.  An append-only job formats
 *                       its rows on the workers (stream_sink_format, in
 *                       parallel) and the merger only writes the bytes
 *                       (stream_sink_write_bytes).
 *   blackhole           the rows counted, nothing kept (a benchmark's sink, as the
 *                       published Nexmark figures use; casts are not evaluated)
 *   kafka, webhook,     sink_ext.c (kafka: source_kafka.c); a checkpoint of a
 *   metrics, table      job writing kafka waits for every delivery report
 *   materialized view   the rows kept in memory as the view's contents (with
 *                       emit = 'on_update', its upsert log, ulog.c: each
 *                       group's newest row, current while the job runs).
 *
 * A job's columns become the sink's as INSERT makes them: by position, or by
 * the INSERT's column list (the others NULL), with assignment casts (an
 * implicit or assignment cast of the SQL engine; anything else is refused
 * with 42804 before a row is read).  The casts run through the evaluator.
 */
#include "stream/live.h"
#include "stream/ulog.h"

#include "base/alloc.h"
#include "sql/exec/eval.h"
#include "sql/func/func.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

struct stream_sink {
    stream_table *t;
    stream_view *v;
    int ncols;
    const sql_type *types;   /* the sink's columns */
    sql_expr **exprs;        /* per sink column over the job's row; NULL: a NULL column */
    int op_col;              /* op_column: each row's operation (-1: none) */
    arena mem;               /* the expressions */
    arena scratch;
    sql_err err;
    sql_ectx cx;
    /* file */
    FILE *fp;
    char part[4200];
    sql_fmt *fmt;            /* csv (NULL: jsonl) */
    dbuf jrow, jval, jout;   /* jsonl: a row's object, a value's text, a batch's lines */
    bool skip_header;        /* header = false: the formatter's first line is dropped */
    int io_errno;
    bool committed;
    bool keep_part;          /* a checkpoint committed some of it: recovery needs it */
    uint64_t unsynced;       /* bytes written since the last writeback hint */
    char *fbuf;              /* fp's buffer (open_part), freed after it is closed */
    void *ext;               /* webhook, metrics (sink_ext.c) */
};

static int oom(sql_err *e)
{
    return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
}


/*
 * Once checkpoints sync the file (keep_part), every WRITEBACK_BYTES written the
 * kernel is asked to start writing them out (sync_file_range, no wait), so that
 * the next checkpoint's fsync waits for the last few megabytes, not a second's
 * worth: a file sink's checkpoint every second cost 40 ms of fsync each.
 */
#define WRITEBACK_BYTES ((uint64_t)8 << 20)

/* The part file opened (mode "w" or "r+") with a buffer of SINK_BUF_BYTES of
 * its own (glibc ignores the size given without a buffer): the merger's writes
 * (a batch's bytes, a few kB) become one write(2) a megabyte, not one each
 * 4 kB.  The buffer is freed after fp is closed (stream_sink_close). */
#define SINK_BUF_BYTES ((size_t)1 << 20)

static FILE *open_part(stream_sink *k, const char *mode)
{
    if (!k->fbuf && !(k->fbuf = sl_malloc(SINK_BUF_BYTES))) {
        errno = ENOMEM;
        return NULL;
    }
    FILE *fp = fopen(k->part, mode);
    if (fp && setvbuf(fp, k->fbuf, _IOFBF, SINK_BUF_BYTES)) {
        fclose(fp);
        errno = ENOMEM;
        return NULL;
    }
    return fp;
}

static void writeback_hint(stream_sink *k, size_t n)
{
    if (!k->keep_part || (k->unsynced += n) < WRITEBACK_BYTES)
        return;
    k->unsynced = 0;
    if (fflush(k->fp) == 0)
        sync_file_range(fileno(k->fp), 0, 0, SYNC_FILE_RANGE_WRITE);
}

static int write_file(void *arg, const void *p, size_t n)
{
    stream_sink *k = arg;
    if (k->skip_header) {
        const char *nl = memchr(p, '\n', n);
        if (!nl)
            return 0;
        k->skip_header = false;
        n -= (size_t)(nl + 1 - (const char *)p);
        p = nl + 1;
    }
    if (n && fwrite(p, 1, n, k->fp) != n) {
        k->io_errno = errno ? errno : EIO;
        return -1;
    }
    writeback_hint(k, n);
    return 0;
}

/* The expression feeding sink column i from job column c (of type from). */
static int column_expr(stream_sink *k, int i, int c, sql_type from, const char *name,
                       sql_err *e)
{
    sql_expr *col = arena_zalloc(&k->mem, sizeof *col);
    if (!col)
        return oom(e);
    col->kind = SE_COL;
    col->col = c;
    col->type = from;
    col->loc = -1;
    sql_type to = k->types[i];
    if (sql_type_eq(from, to)) {
        k->exprs[i] = col;
        return SL_OK;
    }
    char ctx = sql_cast_context(from, to);
    if (ctx != 'i' && ctx != 'a') {
        char fn[64], tn[64];
        sql_type_name(from, fn, sizeof fn);
        sql_type_name(to, tn, sizeof tn);
        return sql_err_set(e, SQLSTATE_DATATYPE_MISMATCH, -1, "column \"%s\" is of type %s but "
                           "expression is of type %s", name, tn, fn);
    }
    sql_expr *cast = arena_zalloc(&k->mem, sizeof *cast);
    sql_expr **args = arena_zalloc(&k->mem, sizeof *args);
    if (!cast || !args)
        return oom(e);
    args[0] = col;
    cast->kind = SE_CAST;
    cast->type = to;
    cast->loc = -1;
    cast->nargs = 1;
    cast->args = args;
    k->exprs[i] = cast;
    return SL_OK;
}

/* Recovery: the part file written on from the bytes a checkpoint committed. */
static int resume_part(stream_sink *k, uint64_t bytes, sql_err *e)
{
    stream_table *t = k->t;
    struct stat st;
    /* the run that took the checkpoint may have ended and renamed the part */
    if (stat(k->part, &st) && !stat(t->path, &st) && (uint64_t)st.st_size >= bytes)
        rename(t->path, k->part);
    if (stat(k->part, &st) || (uint64_t)st.st_size < bytes)
        return sql_err_set(e, "58030", -1, "sink \"%s\": \"%s\" holds less than the %llu bytes "
                           "the checkpoint committed", t->name, k->part,
                           (unsigned long long)bytes);
    k->keep_part = true;
    /* written from the committed bytes on, over what the stopped run wrote past them:
     * nothing is cut before the job ends (stream_sink_commit), so a resume refused
     * later (a source changed, say) leaves the part as it found it */
    if (!(k->fp = open_part(k, "r+")) || fseeko(k->fp, (off_t)bytes, SEEK_SET))
        return sql_err_set(e, "58030", -1, "sink \"%s\": cannot write \"%s\": %s", t->name,
                           k->part, strerror(errno));
    k->skip_header = bytes > 0 || !t->header; /* the header is in the committed bytes */
    return SL_OK;
}

static int open_file(stream_sink *k, const stream_run *r, sql_err *e)
{
    stream_table *t = k->t;
    snprintf(k->part, sizeof k->part, "%s.part", t->path);
    if (r->sink_resume) {
        int rc = resume_part(k, r->sink_resume_bytes, e);
        if (rc)
            return rc;
    } else if (!(k->fp = open_part(k, "w"))) {
        return sql_err_set(e, "58030", -1, "sink \"%s\": cannot write \"%s\": %s", t->name,
                           t->path, strerror(errno));
    } else {
        k->skip_header = !t->header;
    }
    if (t->format == STREAM_FMT_JSONL) /* no header */
        return SL_OK;
    if (sql_fmt_new(SQL_FMT_CSV, false, write_file, k, &k->fmt))
        return oom(e);
    if (sql_fmt_begin(k->fmt, t->ncols, t->names, t->types))
        return sql_err_set(e, "58030", -1, "sink \"%s\": cannot write \"%s\": %s", t->name,
                           k->part, strerror(k->io_errno ? k->io_errno : ENOMEM));
    return SL_OK;
}

int stream_sink_open(stream_run *r, stream_table *t, stream_view *v, const int *map,
                     const sql_type *in_types, int nin, stream_sink **out, sql_err *e)
{
    (void)nin;
    *out = NULL;
    stream_sink *k = sl_calloc(1, sizeof *k);
    if (!k)
        return oom(e);
    k->t = t;
    k->v = v;
    k->ncols = t ? t->ncols : v->f->t.ncols;
    k->op_col = t ? t->op_col : -1;
    k->types = t ? t->types : v->f->types;
    arena_init(&k->mem, 1024, 16u << 20);
    arena_init(&k->scratch, 4096, 64u << 20);
    dbuf_init(&k->jrow, (size_t)1 << 31);
    dbuf_init(&k->jval, (size_t)1 << 31);
    dbuf_init(&k->jout, (size_t)1 << 31);
    k->cx.f.err = &k->err;
    k->cx.f.scratch = &k->scratch;
    int rc = (k->exprs = arena_zalloc(&k->mem, sizeof *k->exprs * (size_t)k->ncols)) ? SL_OK
                                                                                  : oom(e);
    for (int i = 0; i < k->ncols && !rc; i++)
        if (map[i] >= 0)
            rc = column_expr(k, i, map[i], in_types[map[i]],
                             t ? t->names[i] : v->f->names[i], e);
    if (!rc && t && t->connector != STREAM_CONN_BLACKHOLE)
        rc = t->connector == STREAM_CONN_FILE ? open_file(k, r, e)
                                              : stream_sink_ext_open(t, &k->ext, e);
    if (rc) {
        stream_sink_close(k);
        return rc;
    }
    *out = k;
    return SL_OK;
}

/* The rows of b as JSON lines (a file sink with format = 'jsonl'), appended to out;
 * row and v: scratch. */
static int json_lines(const stream_table *t, const sql_batch *b, dbuf *out, dbuf *row, dbuf *v)
{
    for (int64_t r = 0; r < b->n; r++)
        if (stream_row_json(t, b, r, row, v) || dbuf_append(out, row->p, row->len) ||
            dbuf_append_byte(out, '\n'))
            return SL_ENOMEM;
    return SL_OK;
}

/* b's rows as the sink's columns (b is taken), the casts evaluated with cx (whose
 * error is *cerr and scratch arena *scratch: the sink's, or a worker's). */
static int to_sink_row(const stream_sink *k, sql_ectx *cx, sql_err *cerr, arena *scratch,
                       sql_batch *b, const char *op, sql_batch **out, sql_err *e)
{
    sql_batch *o;
    int rc = sql_batch_new(k->ncols, k->types, &o);
    if (rc) {
        sql_batch_free(b);
        return oom(e);
    }
    arena_reset(scratch);
    for (int i = 0; i < k->ncols && !rc; i++) {
        sql_vec v;
        if (i == k->op_col) { /* each row's operation */
            size_t n = strlen(op);
            for (int64_t r = 0; r < b->n && !rc; r++)
                rc = col_vec_append_str(&o->cols[i], op, n);
            continue;
        }
        if (!k->exprs[i]) {
            rc = sql_vec_const_null(&v, k->types[i]);
        } else {
            sql_err_clear(cerr);
            rc = sql_eval(cx, k->exprs[i], b, NULL, &v);
            if (rc)
                *e = cerr->state[0] ? *cerr : *e;
        }
        if (rc)
            break;
        col_vec_release(&o->cols[i]);
        if (v.is_const) {
            rc = sql_vec_expand(&v, b->n, &o->cols[i]);
            sql_vec_release(&v);
        } else {
            o->cols[i] = v.v;
        }
    }
    o->n = b->n;
    sql_batch_free(b);
    if (rc) {
        sql_batch_free(o);
        return e->state[0] ? rc : oom(e);
    }
    *out = o;
    return SL_OK;
}

int stream_sink_write(stream_sink *k, sql_batch *b, sql_err *e)
{
    return stream_sink_write_op(k, b, STREAM_OP_INSERT, e);
}

/* Room in the view's batch_wm for one more batch (see stream_view). */
static int wm_room(stream_view *v)
{
    ftab *f = v->f;
    if (f->nrows_batches < v->batch_wm_cap)
        return SL_OK;
    int cap = f->nrows_batches * 2 + 8;
    int64_t *n = arena_alloc(&f->mem, sizeof *n * (size_t)cap);
    if (!n)
        return SL_ENOMEM;
    if (v->nbatch_wm)
        memcpy(n, v->batch_wm, sizeof *n * (size_t)v->nbatch_wm);
    v->batch_wm = n; /* (the old array stays in the arena: at most as much again) */
    v->batch_wm_cap = cap;
    return SL_OK;
}

/* The view's closed_wm as its last batch was appended. */
static void record_wm(stream_view *v)
{
    while (v->nbatch_wm < v->f->nrows_batches - 1) /* batches restored from a checkpoint */
        v->batch_wm[v->nbatch_wm++] = STREAM_WM_NONE;
    v->batch_wm[v->nbatch_wm++] = atomic_load(&v->closed_wm);
}

int stream_sink_write_op(stream_sink *k, sql_batch *b, const char *op, sql_err *e)
{
    if (!b->n || (k->t && k->t->connector == STREAM_CONN_BLACKHOLE)) {
        if (k->t)
            k->t->rows_written += (uint64_t)b->n;
        sql_batch_free(b);
        return SL_OK;
    }
    sql_batch *o = NULL;
    int rc = to_sink_row(k, &k->cx, &k->err, &k->scratch, b, op, &o, e);
    if (rc)
        return rc;
    uint64_t n = (uint64_t)o->n;
    if (k->v) {
        ftab *f = k->v->f;
        if (k->v->mu) /* a server's view: read by other sessions meanwhile */
            pthread_mutex_lock(k->v->mu);
        f->cur = o;
        int frc = k->v->record_wm ? wm_room(k->v) : SL_OK;
        if (!frc)
            frc = ftab_flush(f);
        if (frc)
            f->cur = NULL;
        else if (k->v->record_wm)
            record_wm(k->v);
        if (!frc && k->v->grown) /* jobs reading the view (source_view.c) */
            pthread_cond_broadcast(k->v->grown);
        if (k->v->mu)
            pthread_mutex_unlock(k->v->mu);
        if (frc) {
            sql_batch_free(o);
            return oom(e);
        }
        if (k->v->emit_on_close)
            k->v->rows_written += n;
        return SL_OK;
    }
    if (k->t->connector != STREAM_CONN_FILE) {
        rc = stream_sink_ext_write(k->t, k->ext, o, !strcmp(op, STREAM_OP_DELETE), e);
        sql_batch_free(o);
        return rc;
    }
    if (!k->fmt) { /* jsonl */
        dbuf_reset(&k->jout);
        rc = json_lines(k->t, o, &k->jout, &k->jrow, &k->jval);
        sql_batch_free(o);
        return rc ? oom(e) : stream_sink_write_bytes(k, k->jout.p, k->jout.len, n, e);
    }
    rc = sql_fmt_batch(k->fmt, o);
    sql_batch_free(o);
    if (rc)
        return sql_err_set(e, "58030", -1, "sink \"%s\": cannot write \"%s\": %s", k->t->name,
                           k->part, strerror(k->io_errno ? k->io_errno : ENOMEM));
    k->t->rows_written += n;
    return SL_OK;
}

/* ---- formatting on workers ---------------------------------------------- */

struct stream_sink_fmt {
    const stream_sink *k;
    sql_ectx cx;
    sql_err err;
    arena scratch;
    dbuf val, row;           /* row: jsonl */
};

bool stream_sink_preformat(const stream_sink *k)
{
    return stream_sink_is_file(k);
}

int stream_sink_fmt_new(const stream_sink *k, stream_sink_fmt **out)
{
    stream_sink_fmt *f = sl_calloc(1, sizeof *f);
    if (!(*out = f))
        return SL_ENOMEM;
    f->k = k;
    arena_init(&f->scratch, 4096, 64u << 20);
    dbuf_init(&f->val, (size_t)1 << 31);
    dbuf_init(&f->row, (size_t)1 << 31);
    f->cx.f.err = &f->err;
    f->cx.f.scratch = &f->scratch;
    return SL_OK;
}

void stream_sink_fmt_free(stream_sink_fmt *f)
{
    if (!f)
        return;
    arena_destroy(&f->scratch);
    dbuf_free(&f->val);
    dbuf_free(&f->row);
    sl_free(f);
}

int stream_sink_format(stream_sink_fmt *f, sql_batch *b, dbuf *out, sql_err *e)
{
    const stream_sink *k = f->k;
    sql_batch *o = NULL;
    int rc = to_sink_row(k, &f->cx, &f->err, &f->scratch, b, STREAM_OP_INSERT, &o, e);
    if (rc)
        return rc;
    rc = k->fmt ? sql_fmt_rows(SQL_FMT_CSV, k->ncols, k->types, o, out, &f->val)
                : json_lines(k->t, o, out, &f->row, &f->val);
    sql_batch_free(o);
    return rc ? oom(e) : SL_OK;
}

void stream_sink_idle(stream_sink *k)
{
    if (k->fp && __fpending(k->fp) && fflush(k->fp))
        k->io_errno = errno ? errno : EIO; /* (reported by the next write or the commit) */
}

int stream_sink_write_bytes(stream_sink *k, const void *p, size_t n, uint64_t rows, sql_err *e)
{
    if (n && fwrite(p, 1, n, k->fp) != n)
        return sql_err_set(e, "58030", -1, "sink \"%s\": cannot write \"%s\": %s", k->t->name,
                           k->part, strerror(errno ? errno : EIO));
    writeback_hint(k, n);
    k->t->rows_written += rows;
    return SL_OK;
}

/* A server's view changed: jobs following its log (source_view.c) wake. */
static int ulog_changed(stream_view *v, int rc, sql_err *e)
{
    if (!rc && v->grown && v->mu) {
        pthread_mutex_lock(v->mu);
        pthread_cond_broadcast(v->grown);
        pthread_mutex_unlock(v->mu);
    }
    return rc ? oom(e) : SL_OK;
}

int stream_sink_ulog(stream_sink *k, sql_batch *b, int kind, sql_err *e)
{
    stream_view *v = k->v;
    if (kind == STREAM_ULOG_DELETE)
        return ulog_changed(v, stream_ulog_delete(v->log, b, v->mu), e);
    sql_batch *rows, *keys, *o = NULL;
    if (stream_ulog_split(b, k->ncols, &rows, &keys))
        return oom(e);
    int rc = to_sink_row(k, &k->cx, &k->err, &k->scratch, rows, STREAM_OP_UPSERT, &o, e);
    if (rc) {
        sql_batch_free(keys);
        return rc;
    }
    if (kind == STREAM_ULOG_UPSERT)
        v->rows_written += (uint64_t)o->n;
    return ulog_changed(v, stream_ulog_upsert(v->log, o, keys, v->mu), e);
}

int stream_sink_commit(stream_sink *k, sql_err *e)
{
    if (!k->t) {
        /* a run's view is read after its job, as a table of rows: its log's rows
         * (a server's view is read through the log, under its mutex) */
        stream_view *v = k->v;
        if (v->log && !v->mu && stream_ulog_read(v->log, false, stream_ulog_into_ftab, v->f))
            return oom(e);
        k->committed = true;
        return SL_OK;
    }
    stream_table *t = k->t;
    if (t->connector != STREAM_CONN_FILE) {
        int rc = t->connector == STREAM_CONN_BLACKHOLE ? SL_OK : stream_sink_ext_commit(t, k->ext, e);
        k->committed = t->written = !rc;
        return rc;
    }
    int rc = k->fmt ? sql_fmt_end(k->fmt, "INSERT", t->rows_written, 0) : SL_OK;
    if (!rc && fflush(k->fp))
        rc = SL_EINVAL;
    off_t end = rc ? -1 : ftello(k->fp); /* a resumed part: what lay past its end goes */
    if (!rc && (end < 0 || ftruncate(fileno(k->fp), end)))
        rc = SL_EINVAL;
    if (rc || fclose(k->fp)) {
        k->fp = NULL;
        return sql_err_set(e, "58030", -1, "sink \"%s\": cannot write \"%s\": %s", t->name,
                           k->part, strerror(k->io_errno ? k->io_errno : errno));
    }
    k->fp = NULL;
    if (rename(k->part, t->path))
        return sql_err_set(e, "58030", -1, "sink \"%s\": cannot rename \"%s\" to \"%s\": %s",
                           t->name, k->part, t->path, strerror(errno));
    k->committed = true;
    t->written = true;
    return SL_OK;
}

bool stream_sink_is_file(const stream_sink *k)
{
    return k->t != NULL && k->t->connector == STREAM_CONN_FILE;
}

bool stream_sink_resumable(const stream_sink *k)
{
    int c = k->t ? k->t->connector : -1;
    return stream_sink_is_file(k) || c == STREAM_CONN_KAFKA || c == STREAM_CONN_BLACKHOLE ||
           c == STREAM_CONN_TABLE || c == STREAM_CONN_WEBHOOK || c == STREAM_CONN_METRICS;
}

stream_table *stream_sink_metrics(const stream_sink *k)
{
    return k->t && k->t->connector == STREAM_CONN_METRICS ? k->t : NULL;
}

stream_view *stream_sink_view(const stream_sink *k)
{
    return k->v;
}

int stream_sink_ckpt_start(stream_sink *k, bool resume, bool keep, uint64_t run, uint64_t pos,
                           sql_err *e)
{
    return k->t && k->ext ? stream_sink_ext_stage(k->t, k->ext, resume, keep, run, pos, e)
                          : SL_OK;
}

int stream_sink_sync_begin(stream_sink *k, uint64_t *bytes, uint64_t *run, int *fd, sql_err *e)
{
    *bytes = *run = 0;
    *fd = -1;
    if (k->t && k->ext)
        return stream_sink_ext_sync(k->t, k->ext, bytes, run, e);
    if (!stream_sink_is_file(k))
        return SL_OK;
    long at;
    if (fflush(k->fp) || (at = ftell(k->fp)) < 0)
        return sql_err_set(e, "58030", -1, "sink \"%s\": cannot write \"%s\": %s", k->t->name,
                           k->part, strerror(errno));
    *bytes = (uint64_t)at;
    *fd = fileno(k->fp);
    k->keep_part = true;
    return SL_OK;
}

int stream_sink_sync_wait(const stream_sink *k, int fd, sql_err *e)
{
    if (fd >= 0 && fsync(fd))
        return sql_err_set(e, "58030", -1, "sink \"%s\": cannot write \"%s\": %s", k->t->name,
                           k->part, strerror(errno));
    return SL_OK;
}


void stream_sink_close(stream_sink *k)
{
    if (!k)
        return;
    if (k->fp)
        fclose(k->fp);
    sl_free(k->fbuf);
    if (k->t && k->ext)
        stream_sink_ext_close(k->t, k->ext);
    if (k->t && !k->committed && !k->keep_part && k->part[0])
        unlink(k->part);
    sql_fmt_free(k->fmt);
    dbuf_free(&k->jrow);
    dbuf_free(&k->jval);
    dbuf_free(&k->jout);
    arena_destroy(&k->mem);
    arena_destroy(&k->scratch);
    sl_free(k);
}
