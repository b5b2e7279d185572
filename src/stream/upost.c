/*
 * upost.c - the owners' half of a view's upsert log (ulog.h has the log;
 * job.c's stream_ulog_prepare sets a job up for it): a job into a view with
 * emit = 'on_update' sends, from each group's owner,
 * the new rows of the groups a batch changed through the post chain, each
 * with its group's key, and the keys of the groups HAVING dropped
 * (docs/internals/stream.md, "The upsert log of a view").  A job keyed by the
 * view it reads (a filter or projection of an update view) sends its upserts
 * through the pre chain the same way (stream_ulog_pass).
 */
#include "stream/job.h"
#include "stream/ulog.h"

#include "base/alloc.h"

#include <string.h>

static int oom(sql_err *e)
{
    return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
}

static int catch_one(void *arg, int w, sql_batch *b, sql_err *e)
{
    (void)w;
    (void)e;
    sql_batch **slot = arg;
    sql_batch_free(*slot); /* (never: FILTER and PROJECT emit at most once a batch) */
    *slot = b;
    return SL_OK;
}

/* b's columns (b taken) and `extra` (moved in) as a batch of types t. */
static int widen(sql_batch *b, const sql_type *t, col_vec *extra, sql_batch **out)
{
    int rc = sql_batch_new(b->ncols + 1, t, out);
    for (int c = 0; !rc && c < b->ncols; c++) {
        col_vec_release(&(*out)->cols[c]);
        sql_vec_share(&b->cols[c], &(*out)->cols[c]);
    }
    if (!rc) {
        col_vec_release(&(*out)->cols[b->ncols]);
        (*out)->cols[b->ncols] = *extra;
        (*out)->n = b->n;
    } else {
        col_vec_release(extra);
        *out = NULL;
    }
    sql_batch_free(b);
    return rc;
}

/* The post chain's output (cur: its columns, then each row's number in res) to
 * out: the rows with their keys, then the keys of res's rows it dropped. */
static int emit_keyed(stream_job *j, const sql_batch *cur, const sql_batch *keys, int64_t m,
                      int kind, const uint32_t *gids, stream_kept *kb,
                      int (*out)(void *arg, sql_batch *b, int kind), void *arg)
{
    int64_t n = cur ? cur->n : 0;
    int nv = cur ? cur->ncols - 1 : 0;
    uint32_t *idx = sl_malloc(sizeof *idx * (size_t)m);
    uint8_t *kept = sl_calloc((size_t)m, 1);
    int rc = idx && kept ? SL_OK : SL_ENOMEM;
    for (int64_t r = 0; r < n && !rc; r++) {
        int64_t x = col_vec_i64(&cur->cols[nv], r);
        idx[r] = (uint32_t)x;
        kept[x] = 1;
    }
    sql_batch *kt = NULL, *o = NULL;
    if (!rc && n && !(rc = sql_batch_take(keys, idx, n, &kt)) &&
        !(rc = sql_batch_new(nv + j->ukeys, j->uout, &o))) {
        for (int c = 0; c < nv + j->ukeys; c++) {
            col_vec_release(&o->cols[c]);
            sql_vec_share(c < nv ? &cur->cols[c] : &kt->cols[c - nv], &o->cols[c]);
        }
        o->n = n;
        rc = out(arg, o, kind);
    }
    sql_batch_free(kt);
    int64_t d = 0;
    for (int64_t r = 0; r < m && !rc; r++) {
        if (kb) { /* a sink's log: a group in, or out only if it was in */
            size_t g = gids[r], byte = g / 8;
            if (byte >= kb->cap) {
                size_t nc = kb->cap ? kb->cap : 64;
                while (nc <= byte)
                    nc *= 2;
                uint8_t *nb = sl_realloc(kb->bits, nc);
                if (!nb) {
                    rc = SL_ENOMEM;
                    break;
                }
                memset(nb + kb->cap, 0, nc - kb->cap);
                kb->bits = nb;
                kb->cap = nc;
            }
            uint8_t bit = (uint8_t)(1u << (g % 8));
            bool was = kb->assume_in || (kb->bits[byte] & bit);
            kb->bits[byte] = kept[r] ? kb->bits[byte] | bit : kb->bits[byte] & (uint8_t)~bit;
            if (kept[r] || !was)
                continue;
        } else if (kept[r]) {
            continue;
        }
        idx[d++] = (uint32_t)r;
    }
    if (!rc && d && !(rc = sql_batch_take(keys, idx, d, &kt)))
        rc = out(arg, kt, STREAM_ULOG_DELETE);
    sl_free(idx);
    sl_free(kept);
    return rc;
}

/* res's keys (shared), or the constant key of a GROUP BY of no column. */
static int res_keys(stream_job *j, const sql_batch *res, sql_batch **keys)
{
    if (!j->ukey_const)
        return stream_ulog_share(res, 0, j->ukeys, j->agg->p->types, keys);
    const sql_type *kt = j->uout + j->q->ncols; /* (the view's columns come first) */
    sql_vec z;
    if (sql_vec_alloc(&z, kt[0], res->n))
        return SL_ENOMEM;
    if (sql_batch_new(1, kt, keys)) {
        sql_vec_release(&z);
        return SL_ENOMEM;
    }
    memset(z.v.values->p, 0, sizeof(int64_t) * (size_t)res->n);
    col_vec_release(&(*keys)->cols[0]);
    (*keys)->cols[0] = z.v;
    (*keys)->n = res->n;
    return SL_OK;
}

/* cur (taken; its last column each row's number) through ops, one stage at a time:
 * a FILTER keeps every column, after a PROJECT the number is put back (stages[i + 1]:
 * ops[i]'s columns and the number).  *cur: the rows that passed (NULL: none). */
static int run_chain(sql_type *const *stages, int w, sql_op **ops, int nops, sql_batch **cur,
                     sql_err *e)
{
    int rc = SL_OK;
    for (int i = 0; i < nops && *cur && !rc; i++) {
        bool proj = ops[i]->p->kind == SP_PROJECT;
        col_vec hid;
        if (proj)
            sql_vec_share(&(*cur)->cols[(*cur)->ncols - 1], &hid);
        sql_batch *o = NULL;
        rc = sql_pipe_push(&ops[i], 1, w, *cur, catch_one, &o, e);
        *cur = NULL;
        if (!rc && o && proj) {
            rc = widen(o, stages[i + 1], &hid, cur);
        } else {
            if (proj)
                col_vec_release(&hid);
            if (rc)
                sql_batch_free(o);
            else
                *cur = o;
        }
    }
    return rc;
}

/* b (taken) with each row's number after its columns, as types t. */
static int number(sql_batch *b, const sql_type *t, sql_batch **out)
{
    sql_vec rn;
    if (sql_vec_alloc(&rn, sql_type_of(ST_INT8), b->n)) {
        sql_batch_free(b);
        return SL_ENOMEM;
    }
    for (int64_t r = 0; r < b->n; r++)
        memcpy(rn.v.values->p + 8 * r, &r, 8);
    return widen(b, t, &rn.v, out);
}

int stream_ulog_number(stream_job *j, sql_batch *b, sql_batch **out)
{
    return number(b, j->upre[0], out);
}

static int post_keyed(stream_job *j, int w, sql_batch *res, int kind, const uint32_t *gids,
                      stream_kept *kb, int (*out)(void *arg, sql_batch *b, int kind),
                      void *arg, sql_err *e)
{
    int64_t m = res->n;
    if (!m || m > UINT32_MAX) {
        sql_batch_free(res);
        return m ? oom(e) : SL_OK;
    }
    sql_batch *keys = NULL, *cur = NULL;
    int rc = res_keys(j, res, &keys);
    if (!rc)
        rc = number(res, j->ustage[0], &cur);
    else
        sql_batch_free(res);
    if (!rc)
        rc = run_chain(j->ustage, w, j->post, j->npost, &cur, e);
    if (!rc)
        rc = emit_keyed(j, cur, keys, m, kind, gids, kb, out, arg);
    sql_batch_free(cur);
    sql_batch_free(keys);
    return rc == SL_ENOMEM && !e->state[0] ? oom(e) : rc;
}

int stream_ulog_pre(stream_job *j, int w, sql_batch **cur, sql_err *e)
{
    int rc = run_chain(j->upre, w, j->pre, j->npre, cur, e);
    return rc == SL_ENOMEM && !e->state[0] ? oom(e) : rc;
}

int stream_ulog_pass(stream_job *j, int w, sql_batch *cur, const sql_batch *keys,
                     const uint32_t *gids, stream_kept *kb,
                     int (*out)(void *arg, sql_batch *b, int kind), void *arg, sql_err *e)
{
    int rc = run_chain(j->upre, w, j->pre, j->npre, &cur, e);
    if (!rc)
        rc = emit_keyed(j, cur, keys, keys->n, STREAM_ULOG_UPSERT, gids, kb, out, arg);
    sql_batch_free(cur);
    return rc == SL_ENOMEM && !e->state[0] ? oom(e) : rc;
}

int stream_ulog_post(stream_job *j, int w, sql_batch *res, int kind,
                     int (*out)(void *arg, sql_batch *b, int kind), void *arg, sql_err *e)
{
    return post_keyed(j, w, res, kind, NULL, NULL, out, arg, e);
}

int stream_ulog_post_kept(stream_job *j, int w, sql_batch *res, const uint32_t *gids,
                          stream_kept *kb, int (*out)(void *arg, sql_batch *b, int kind),
                          void *arg, sql_err *e)
{
    return post_keyed(j, w, res, STREAM_ULOG_UPSERT, gids, kb, out, arg, e);
}

int stream_ulog_drop(sql_batch *keys, const uint32_t *gids, stream_kept *kb,
                     int (*out)(void *arg, sql_batch *b, int kind), void *arg)
{
    int64_t n = keys->n, m = 0;
    uint32_t *idx = kb ? sl_malloc(sizeof *idx * (size_t)(n ? n : 1)) : NULL;
    if (kb && !idx) {
        sql_batch_free(keys);
        return SL_ENOMEM;
    }
    for (int64_t r = 0; kb && r < n; r++) { /* only those the sink holds */
        size_t g = gids[r], byte = g / 8;
        uint8_t bit = (uint8_t)(1u << (g % 8));
        if (!kb->assume_in && (byte >= kb->cap || !(kb->bits[byte] & bit)))
            continue;
        if (byte < kb->cap)
            kb->bits[byte] &= (uint8_t)~bit;
        idx[m++] = (uint32_t)r;
    }
    sql_batch *d = keys;
    int rc = SL_OK;
    if (kb && m < n) {
        d = NULL;
        rc = m ? sql_batch_take(keys, idx, m, &d) : SL_OK;
        sql_batch_free(keys);
    }
    sl_free(idx);
    if (rc || !d)
        return rc;
    return out(arg, d, STREAM_ULOG_DELETE);
}

int stream_ulog_session_keys(const stream_job *j, const sql_batch *rows, const int64_t *se,
                             sql_batch **keys)
{
    const sql_plan *ap = j->agg->p;
    int nk = ap->agg.nkeys, nsrc = j->src->ncols;
    int rc = sql_batch_new(nk, ap->types, keys);
    for (int k = 0; k < nk && !rc; k++) {
        col_vec *o = &(*keys)->cols[k];
        int sc = j->key_src[k];
        if (j->key_kept[k] >= 0) { /* a kept row's column: the source's or computed */
            col_vec_release(o);
            sql_vec_share(&rows->cols[j->key_kept[k]], o);
            continue;
        }
        for (int64_t r = 0; r < rows->n && !rc; r++)
            rc = col_vec_append_i64(o, se[2 * r + sc - nsrc]);
    }
    if (rc) {
        sql_batch_free(*keys);
        *keys = NULL;
        return rc;
    }
    (*keys)->n = rows->n;
    return SL_OK;
}
