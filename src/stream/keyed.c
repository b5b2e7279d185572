/*
 * keyed.c - the reading worker's half of a job that reads a view with emit =
 * 'on_update' with its keys and deletions (job.c's ukeyed; source_view.c
 * returns the batches; docs/internals/stream.md, "Deletions passed on"):
 *
 *   a filter or projection   its rows through the scan's filter and the pre
 *                            chain, numbered, so that each that passes leaves
 *                            with the view's key and each dropped one, or
 *                            deleted by the view, as a deletion of a key the
 *                            sink holds (upost.c's stream_ulog_pass)
 *   a GROUP BY               the rows into the view keys' rows and groups
 *                            (uagg.h), each changed group computed again with
 *                            the batch aggregates, a group left empty deleted
 *
 * The view is one split: one worker reads it, and what leaves goes to the
 * merger as UPDATE messages on that worker's ring, in order.
 */
#include "stream/job.h"
#include "stream/uagg.h"
#include "stream/ulog.h"

#include "base/alloc.h"

#include <stdatomic.h>
#include <string.h>

typedef stream_wk wk;
typedef stream_job job;

static int oom(sql_err *e)
{
    return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
}

/* The out of stream_ulog_pass: a keyed job's change into a view's log, or into a
 * sink with op_column (its columns). */
static int keyed_out(void *arg, sql_batch *b, int kind)
{
    wk *w = arg;
    return w->j->ulog ? w->kto->ulog(w, b, kind) : w->kto->sink_log(w, b, kind);
}

/* A group's new row (o taken: keys, then aggregates) of a GROUP BY over an update
 * view: through the post chain into the view's log or the sink, as an owner's. */
static int agg_row_out(wk *w, sql_batch *o, sql_err *e)
{
    job *j = w->j;
    if (j->ulog)
        return stream_ulog_post(j, w->id, o, STREAM_ULOG_UPSERT, w->kto->ulog, w, e);
    if (!j->sink_deletes)
        return sql_pipe_push(j->post, j->npost, w->id, o, w->kto->update, w, e);
    int nk = j->agg->p->agg.nkeys;
    sql_vec kv[STREAM_MAX_KEYS];
    for (int k = 0; k < nk; k++)
        kv[k] = (sql_vec){o->cols[k], false}; /* borrowed */
    uint32_t *gids = sl_malloc(sizeof *gids * (size_t)(o->n ? o->n : 1));
    int rc = gids ? stream_uagg_gids(w->uagg, kv, o->n, gids) : SL_ENOMEM;
    if (!rc)
        rc = stream_ulog_post_kept(j, w->id, o, gids, &w->ukept, w->kto->sink_log, w, e);
    else
        sql_batch_free(o);
    sl_free(gids);
    return rc == SL_ENOMEM && !e->state[0] ? oom(e) : rc;
}

typedef struct tab_feed {
    sql_aggtab *t;
    sql_err *e;
} tab_feed;

static int feed_tab(void *arg, sql_batch *b)
{
    tab_feed *f = arg;
    int rc = sql_aggtab_add(f->t, b, f->e);
    sql_batch_free(b);
    return rc;
}

/* A GROUP BY over an update view (uagg.h): the keys vids[0..n) of a batch lose
 * their rows; cur (taken; NULL: none), the rows of the upserts that passed the
 * pre chain with their numbers, become their keys' rows; each group that changed
 * is computed again from its rows, and a group left with none is deleted. */
static int keyed_agg(wk *w, sql_batch *cur, const uint32_t *vids, int64_t n, sql_err *e)
{
    job *j = w->j;
    const sql_plan *ap = j->agg->p;
    const sql_plan *in = (j->npre ? j->pre[j->npre - 1] : j->scan)->p;
    int nk = ap->agg.nkeys, rc = SL_OK;
    if (!w->uagg && stream_uagg_new(in->ncols, in->types, nk, ap->types, &w->uagg))
        rc = SL_ENOMEM;
    if (!rc && cur)
        rc = stream_ulog_pre(j, w->id, &cur, e);
    if (!rc)
        rc = stream_uagg_remove(w->uagg, vids, n);
    if (!rc && cur && cur->n) { /* the new rows, with their keys' ids and groups */
        sql_batch *rows = NULL;
        uint32_t *own = sl_malloc(sizeof *own * (size_t)cur->n);
        sql_vec kv[STREAM_MAX_KEYS];
        int nv = 0;
        rc = own ? stream_ulog_share(cur, 0, in->ncols, in->types, &rows) : SL_ENOMEM;
        for (int64_t r = 0; !rc && r < cur->n; r++)
            own[r] = vids[col_vec_i64(&cur->cols[in->ncols], r)];
        while (!rc && nv < nk) {
            sql_err_clear(&w->err);
            if ((rc = sql_eval(&w->cx, ap->agg.keys[nv], rows, NULL, &kv[nv])))
                *e = w->err.state[0] ? w->err : (oom(e), *e);
            else
                nv++;
        }
        if (!rc)
            rc = stream_uagg_put(w->uagg, rows, own, kv);
        for (int k = 0; k < nv; k++)
            sql_vec_release(&kv[k]);
        sql_batch_free(rows);
        sl_free(own);
    }
    sql_batch_free(cur);
    sql_aggtab *t = NULL;
    sql_batch *gone = NULL;
    uint32_t *gone_ids = NULL;
    if (!rc && !(rc = sql_aggtab_new(j->agg, &t, e))) {
        tab_feed f = {t, e};
        rc = stream_uagg_changed(w->uagg, feed_tab, &f, &gone, &gone_ids);
    }
    while (!rc) {
        sql_batch *o;
        if ((rc = sql_aggtab_next(t, &o, e)) || !o)
            break;
        rc = agg_row_out(w, o, e);
    }
    sql_aggtab_free(t);
    if (!rc && gone && (j->ulog || j->sink_deletes)) {
        rc = stream_ulog_drop(gone, gone_ids, j->ulog ? NULL : &w->ukept,
                              j->ulog ? w->kto->ulog : w->kto->sink_log, w);
        gone = NULL;
    }
    sql_batch_free(gone);
    sl_free(gone_ids);
    if (!rc) { /* the kept rows are the job's state */
        int64_t m = stream_uagg_mem(w->uagg), d = m - w->uagg_mem;
        int64_t all = stream_state_add(j, d);
        w->uagg_mem = m;
        if (d > 0)
            rc = stream_state_check(j, all, "The rows of the view a GROUP BY reads", e);
    }
    return rc == SL_ENOMEM && !e->state[0] ? oom(e) : rc;
}

/* A batch of a job keyed by the update view it reads (in taken; source_view.c: the
 * view's columns, the key's, then the change, one kind a batch): an upsert's rows
 * through the scan's filter and the pre chain with their row numbers, to leave
 * with their keys, or as deletions of the keys the sink holds; a deletion's keys
 * as deletions of those it holds (upost.c). */
int stream_keyed_push(stream_wk *w, sql_batch *in, const stream_wk_outs *to, sql_err *e)
{
    job *j = w->j;
    w->kto = to;
    int ns = j->src->ncols, nk = in->ncols - ns - 1; /* the view's key columns */
    int64_t n = in->n;
    sql_batch *keys = NULL, *cur = NULL;
    uint32_t *gids = sl_malloc(sizeof *gids * (size_t)(n ? n : 1));
    int rc = gids ? stream_ulog_share(in, ns, nk, in->types + ns, &keys) : SL_ENOMEM;
    if (!rc && !w->ukeys_ht) { /* the view keys' ids: one table for the job's run */
        w->ukeys_ht = sl_calloc(1, sizeof *w->ukeys_ht);
        if (!w->ukeys_ht || sql_ht_init(w->ukeys_ht, nk, in->types + ns, true)) {
            sl_free(w->ukeys_ht);
            w->ukeys_ht = NULL;
            rc = SL_ENOMEM;
        }
    }
    if (!rc) {
        sql_vec kv[STREAM_MAX_KEYS];
        for (int k = 0; k < nk; k++)
            kv[k] = (sql_vec){keys->cols[k], false}; /* borrowed */
        rc = sql_ht_lookup(w->ukeys_ht, kv, n, NULL, true, gids);
    }
    bool upsert = !rc && col_vec_i64(&in->cols[ns + nk], 0) == STREAM_ULOG_UPSERT;
    if (upsert) { /* the scan's rows, numbered, through its filter */
        sql_batch *sb = NULL;
        rc = stream_wk_scan_rows(w, in, NULL, false, &sb);
        if (!rc)
            rc = stream_ulog_number(j, sb, &cur);
        else
            sql_batch_free(sb);
        if (!rc)
            rc = stream_wk_scan_filter(w, &cur, e);
    }
    sql_batch_free(in);
    if (!rc && j->agg)
        rc = keyed_agg(w, cur, gids, n, e);
    else if (!rc)
        rc = stream_ulog_pass(j, w->id, cur, keys, gids, &w->ukept, keyed_out, w, e);
    else
        sql_batch_free(cur);
    sl_free(gids);
    sql_batch_free(keys);
    return rc == SL_ENOMEM && !e->state[0] ? oom(e) : rc;
}

void stream_keyed_free(stream_wk *w)
{
    if (w->ukeys_ht)
        sql_ht_free(w->ukeys_ht);
    sl_free(w->ukeys_ht);
    stream_uagg_free(w->uagg);
}
