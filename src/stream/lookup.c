/*
 * lookup.c - static (lookup) tables: a connector table without event_time
 * (semantics rule 4), read whole before a job's streaming rows.
 *
 * Such a table is a plain bounded table to the SQL engine: its scan reads the
 * file from the first line to the last through the file connector's own
 * reader (stream_reader, one split: the same parsing, bad-input errors and
 * on_error = 'skip' as a source), so a batch SELECT over it works too.  In a
 * job it is the build side of a hash join (job.c keeps it there): the join
 * operator of the batch engine reads it whole when the job is prepared, on
 * the calling thread, before any worker starts reading the stream, and each
 * worker then probes it with its own batches (the join's per-worker probe
 * state, sql/exec/op_join.c).  Nothing of it changes while the job runs, so
 * workers share it read-only and no row of the stream waits for it.
 *
 * The planner must keep the stream on the probe side: sources estimate
 * themselves as unbounded (catalog.c) and a lookup table by its file's size.
 */
#include "stream/job.h"

#include "base/alloc.h"

#include <string.h>
#include <sys/stat.h>

typedef struct lookup_scan {
    sql_scan s;
    stream_table *t;
    stream_file *f;
    stream_reader *rd;
    int ncols;
    const int *cols;         /* table columns wanted, in output order */
    sql_type *types;
} lookup_scan;

static int resolve(stream_table *t, sql_err *e)
{
    if (stream_table_is_sink(t))
        return sql_err_set(e, SQLSTATE_FEATURE, -1, "table \"%s\" is a sink (webhook, metrics "
                           "or table): a query cannot read it", t->name);
    if (stream_path_resolve(t->path, sizeof t->path, t->run->o->input_dir, t->path_opt))
        return sql_err_set(e, "22023", -1, "table \"%s\": path too long", t->name);
    return SL_OK;
}

static int lookup_units(sql_table *tab, sql_scan_req *req, int64_t *n, sql_err *e)
{
    (void)req;
    *n = 1; /* one reader in line order: errors are reported at their first line */
    return resolve((stream_table *)tab, e);
}

/* The columns of the reader's batch that the scan wants (in taken). */
static int project(lookup_scan *ls, sql_batch *in, sql_batch **out)
{
    int rc = sql_batch_new(ls->ncols, ls->types, out);
    for (int c = 0; !rc && c < ls->ncols; c++) {
        col_vec_release(&(*out)->cols[c]);
        sql_vec_share(&in->cols[ls->cols[c]], &(*out)->cols[c]);
    }
    if (!rc)
        (*out)->n = in->n;
    sql_batch_free(in);
    return rc;
}

/* Its figures, as a source's: rows read and skipped bad (a lookup has no late rows). */
static void counts(lookup_scan *ls)
{
    uint64_t read, late, bad;
    stream_reader_counts(ls->rd, &read, &late, &bad);
    ls->t->rows_read = read;
    ls->t->late_dropped = 0;
    ls->t->bad_rows = bad;
    ls->t->read_once = true;
    ls->t->readers = 1;
}

static int lookup_next(sql_scan *s, sql_batch **out, sql_err *e)
{
    lookup_scan *ls = (lookup_scan *)s;
    *out = NULL;
    if (!ls->rd)
        return SL_OK;
    sql_batch *b;
    int64_t wm;
    int rc = stream_reader_next(ls->rd, &b, &wm, e);
    if (rc || !b) {
        if (!rc)
            counts(ls);
        stream_reader_close(ls->rd);
        ls->rd = NULL;
        return rc;
    }
    if (project(ls, b, out))
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    return SL_OK;
}

static void lookup_close(sql_scan *s)
{
    lookup_scan *ls = (lookup_scan *)s;
    stream_reader_close(ls->rd);
    stream_file_close(ls->f);
    sl_free(ls->types);
    sl_free(ls);
}

static const sql_scan_ops g_lookup_scan = {lookup_next, lookup_close};

static int lookup_open(sql_table *tab, const sql_scan_req *req, int64_t unit, sql_scan **out,
                       sql_err *e)
{
    (void)unit;
    stream_table *t = (stream_table *)tab;
    *out = NULL;
    lookup_scan *ls = sl_calloc(1, sizeof *ls);
    sql_type *ty = sl_calloc((size_t)(req->ncols ? req->ncols : 1), sizeof *ty);
    if (!ls || !ty) {
        sl_free(ls);
        sl_free(ty);
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    }
    ls->s.ops = &g_lookup_scan;
    ls->t = t;
    ls->ncols = req->ncols;
    ls->cols = req->cols;
    ls->types = ty;
    for (int c = 0; c < req->ncols; c++)
        ty[c] = t->types[req->cols[c]];
    int rc = stream_file_open(t, &ls->f, e);
    stream_split *sp = NULL;
    int nsp = 0;
    /* one worker: one split, the file whole */
    if (!rc && stream_file_split(ls->f, 1, false, false, &sp, &nsp))
        rc = sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    if (!rc) {
        stream_split whole = {.begin = 0, .end = nsp ? sp[nsp - 1].end : 0, .line = 1,
                              .tail = nsp && sp[nsp - 1].tail};
        rc = stream_reader_open(ls->f, &whole, &ls->rd, e);
    }
    sl_free(sp);
    if (rc) {
        lookup_close(&ls->s);
        return rc;
    }
    *out = &ls->s;
    return SL_OK;
}

/* About 32 bytes a row: only the planner's choice of build side depends on it. */
static double lookup_estimate(sql_table *tab, const sql_scan_req *req)
{
    (void)req;
    stream_table *t = (stream_table *)tab;
    struct stat st;
    if (resolve(t, &(sql_err){0}) || stat(t->path, &st))
        return 1000;
    return (double)st.st_size / 32 + 1;
}

const sql_table_ops stream_lookup_ops = {lookup_units, NULL, lookup_open, lookup_estimate, NULL};
