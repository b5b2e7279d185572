/*
 * op_setop.c - UNION, INTERSECT and EXCEPT, with or without ALL.
 *
 * UNION ALL streams the left input then the right.  The others hash rows:
 * UNION keeps first occurrences of both inputs; INTERSECT and EXCEPT count
 * the right input's rows per distinct row first, then stream the left one:
 * INTERSECT ALL keeps min(m, n) copies of a row, EXCEPT ALL max(m - n, 0),
 * the plain forms one copy, as PostgreSQL does.  NULLs are equal here, as
 * in every set operation.
 */
#include "sql/exec/exec.h"

#include "base/alloc.h"
#include "sql/exec/hashtab.h"

#include <string.h>

typedef struct op_setop {
    sql_op op;
    sql_ht seen;             /* rows already emitted (distinct forms) */
    sql_ht right;            /* INTERSECT / EXCEPT: the right input's rows */
    int64_t *counts;         /* per right id */
    bool built, left_done;
    int64_t held;
} op_setop;

static int hold(op_setop *s)
{
    int64_t m = s->seen.mem_bytes + s->right.mem_bytes + (int64_t)s->right.n * 8;
    int rc = sql_exec_mem(s->op.x, &s->op, m - s->held);
    s->held = m;
    return rc;
}

static sql_vec *as_keys(const sql_batch *b)
{
    sql_vec *k = sl_calloc((size_t)(b->ncols ? b->ncols : 1), sizeof *k);
    for (int c = 0; k && c < b->ncols; c++)
        k[c].v = b->cols[c];
    return k;
}

static int setop_next(sql_op *op, sql_batch **out)
{
    op_setop *s = (op_setop *)op;
    const sql_plan *p = op->p;
    int rc;
    bool all = p->setop.all;
    if (!s->built) {
        s->built = true;
        if ((rc = sql_ht_init(&s->seen, p->ncols, p->types, true)))
            return rc;
        if (p->setop.op != SO_UNION) {
            if ((rc = sql_ht_init(&s->right, p->ncols, p->types, true)))
                return rc;
            /* count the right input's rows per distinct row */
            for (;;) {
                sql_batch *b;
                if ((rc = sql_op_next(op->right, &b)) || !b)
                    break;
                sql_vec *k = as_keys(b);
                uint32_t *ids = sl_malloc(sizeof *ids * (size_t)(b->n ? b->n : 1));
                uint32_t before = s->right.n;
                rc = k && ids ? sql_ht_lookup(&s->right, k, b->n, NULL, true, ids) : SL_ENOMEM;
                if (!rc && s->right.n > before) {
                    int64_t *nc = sl_realloc(s->counts, sizeof *nc * s->right.n);
                    if (!nc)
                        rc = SL_ENOMEM;
                    else {
                        memset(nc + before, 0, sizeof *nc * (s->right.n - before));
                        s->counts = nc;
                    }
                }
                for (int64_t i = 0; !rc && i < b->n; i++)
                    s->counts[ids[i]]++;
                sl_free(k);
                sl_free(ids);
                sql_batch_free(b);
                if (!rc)
                    rc = hold(s);
                if (rc)
                    break;
            }
            if (rc)
                return rc;
        }
    }
    for (;;) {
        sql_batch *b;
        sql_op *src = !s->left_done ? op->child : (p->setop.op == SO_UNION ? op->right : NULL);
        if (!src)
            return SL_OK;
        if ((rc = sql_op_next(src, &b)))
            return rc;
        if (!b) {
            if (s->left_done)
                return SL_OK;
            s->left_done = true;
            continue;
        }
        if (p->setop.op == SO_UNION && all) {
            *out = b;
            return SL_OK;
        }
        int64_t n = b->n, m = 0;
        sql_vec *k = as_keys(b);
        uint32_t *ids = sl_malloc(sizeof *ids * (size_t)(n ? n : 1));
        uint32_t *rids = sl_malloc(sizeof *rids * (size_t)(n ? n : 1));
        uint32_t *keep = sl_malloc(sizeof *keep * (size_t)(n ? n : 1));
        rc = k && ids && rids && keep ? SL_OK : SL_ENOMEM;
        if (!rc && p->setop.op != SO_UNION)
            rc = sql_ht_lookup(&s->right, k, n, NULL, false, rids);
        uint32_t before = s->seen.n;
        if (!rc && !all)
            rc = sql_ht_lookup(&s->seen, k, n, NULL, true, ids);
        for (int64_t i = 0; !rc && i < n; i++) {
            bool first = !all && ids[i] >= before;
            if (first)
                before = ids[i] + 1;
            bool keep_it;
            if (p->setop.op == SO_UNION) {
                keep_it = first;
            } else if (p->setop.op == SO_INTERSECT) {
                bool in_right = rids[i] != SQL_HT_NONE && s->counts[rids[i]] > 0;
                keep_it = all ? in_right : first && in_right;
                if (all && in_right)
                    s->counts[rids[i]]--;
            } else {
                bool in_right = rids[i] != SQL_HT_NONE && s->counts[rids[i]] > 0;
                if (all) {
                    keep_it = !in_right;
                    if (in_right)
                        s->counts[rids[i]]--;
                } else {
                    keep_it = first && rids[i] == SQL_HT_NONE;
                }
            }
            if (keep_it)
                keep[m++] = (uint32_t)i;
        }
        if (!rc)
            rc = hold(s);
        if (!rc && m)
            rc = sql_batch_take(b, keep, m, out);
        sl_free(k);
        sl_free(ids);
        sl_free(rids);
        sl_free(keep);
        sql_batch_free(b);
        if (rc || m)
            return rc;
    }
}

static void setop_close(sql_op *op)
{
    op_setop *s = (op_setop *)op;
    if (s->built) {
        sql_ht_free(&s->seen);
        if (op->p->setop.op != SO_UNION)
            sql_ht_free(&s->right);
    }
    sl_free(s->counts);
    s->counts = NULL;
    s->built = false;
}

static const sql_op_vt g_setop = {NULL, setop_next, setop_close, NULL, NULL, NULL};

sql_op *sql_op_setop_new(sql_exec *x, const sql_plan *p)
{
    (void)p;
    op_setop *s = arena_zalloc(x->a, sizeof *s);
    if (s)
        s->op.vt = &g_setop;
    return s ? &s->op : NULL;
}
