/*
 * op_join.c - joins: hash join on equality keys (inner, left, right, full,
 * semi, anti) and nested loops for everything else (cross joins, conditions
 * without an equality).
 *
 * Hash join: the right input (the build side: the optimizer puts the smaller
 * input there) is read whole, its keys hashed into a table of key ids with a
 * chain of rows per id; rows with a NULL key never match.  Left batches then
 * probe a batch at a time; candidate pairs go through the rest of the ON
 * condition in bulk.  Output is produced in batches of at most OUT_PAIRS
 * pairs, resuming in the middle of a probe batch, so a many-to-many key never
 * materializes its whole product.  RIGHT and FULL remember which build rows
 * matched and emit the others, null-extended, at the end.
 */
#include "sql/exec/exec.h"

#include "base/alloc.h"
#include "sql/exec/hashtab.h"

#include <string.h>

#define OUT_PAIRS 8192

/* The state of probing: one for the operator's own thread, one per worker in a pipeline. */
typedef struct probe {
    sql_batch *L;            /* the probe batch */
    uint32_t *lids;          /* its key ids */
    int64_t li;              /* next probe row */
    uint32_t lj;             /* next chain row of li (UINT32_MAX: start) */
    int64_t rj_nl;           /* nested loop: next build row for li */
    bool li_matched;
    sql_ectx cx;
    arena scratch;
    sql_err err;
    sql_ht_dcache dc;        /* the ids of the probe's dictionary entries */
} probe;

typedef struct op_join {
    sql_op op;
    uint8_t type;            /* sql_jtype */
    bool hash;               /* equality keys present */
    sql_batch *R;            /* the build side, whole */
    sql_ht ht;
    bool ht_on;
    uint32_t *first, *next;  /* chains: first row of each key id, next row of a row */
    uint8_t *matched;        /* RIGHT/FULL: build rows that found a partner */
    probe pr;                /* probing on the operator's own thread */
    probe *wp;               /* pipelines: a probe per worker */
    int nwp;
    bool left_done, built, tail_done;
    bool direct;             /* unique build keys (or semi / anti) and no residual condition:
                              * at most one partner a probe row, no pairs to form */
    int64_t tail_pos;
    int64_t held;
    int lw, rw;              /* column counts */
    sql_type *pair_types;    /* left columns then right columns */
    col_dict **rdict;        /* build-side string columns as dictionaries (made once) */
} op_join;

static int hold(op_join *j, int64_t bytes)
{
    int rc = sql_exec_mem(j->op.x, &j->op, bytes - j->held);
    j->held = bytes;
    return rc;
}

/* A column of n NULLs of type t. */
static int nulls(sql_type t, int64_t n, col_vec *out)
{
    col_type pt = sql_type_phys(t);
    col_vec_init(out, pt == COL_DICT ? COL_STRING : pt, 0);
    for (int64_t i = 0; i < n; i++) {
        int rc = col_vec_append_null(out);
        if (rc)
            return rc;
    }
    return SL_OK;
}

/*
 * Build-side string column c as a dictionary (made when the build side is, so
 * probes on several workers only read it): the output of a join holds build
 * rows as its keys, four bytes a row, not a copy of the strings.
 */
static int right_dict(op_join *j, int c)
{
    const col_vec *src = &j->R->cols[c];
    if (src->type != COL_STRING || j->R->n >= UINT32_MAX || j->rdict[c])
        return SL_OK;
    col_dict *d = col_dict_new();
    if (!d)
        return SL_ENOMEM;
    col_vec_release(&d->strings);
    sql_vec_share(src, &d->strings);
    /* a dictionary holds no NULLs: NULL rows stay NULL through the keys' validity */
    if (d->strings.validity) {
        col_buf_unref(d->strings.validity);
        d->strings.validity = NULL;
        d->strings.null_count = 0;
    }
    j->rdict[c] = d;
    return SL_OK;
}

static int build(op_join *j)
{
    sql_rows rows;
    const sql_plan *rp = j->op.p->right;
    sql_rows_init(&rows, rp->ncols, rp->types);
    sql_op_scan_any_order(j->op.right); /* the build side is kept whole: any order */
    int rc;
    for (;;) {
        sql_batch *b;
        if ((rc = sql_op_next(j->op.right, &b)) || !b)
            break;
        if ((rc = sql_rows_add(&rows, b)) || (rc = hold(j, rows.mem)))
            break;
    }
    if (!rc)
        rc = sql_rows_concat(&rows, &j->R);
    sql_rows_free(&rows);
    if (rc)
        return rc;
    j->R->types = rp->types;
    int64_t n = j->R->n;
    if (j->type == SJ_RIGHT || j->type == SJ_FULL)
        if (!(j->matched = sl_calloc((size_t)(n ? n : 1), 1)))
            return SL_ENOMEM;
    for (int c = 0; !j->hash && !rc && c < j->rw; c++)
        rc = right_dict(j, c);
    if (!j->hash)
        return rc ? rc : hold(j, sql_batch_bytes(j->R));
    const sql_plan *p = j->op.p;
    sql_type *kt = arena_alloc(j->op.x->a, sizeof *kt * (size_t)p->join.nkeys);
    sql_vec *kv = sl_calloc((size_t)p->join.nkeys, sizeof *kv);
    uint32_t *ids = sl_malloc(sizeof *ids * (size_t)(n ? n : 1));
    if (!kt || !kv || !ids) {
        sl_free(kv);
        sl_free(ids);
        return SL_ENOMEM;
    }
    int nk = 0;
    for (; !rc && nk < p->join.nkeys; nk++) {
        kt[nk] = p->join.rkeys[nk]->type;
        rc = sql_eval(&j->pr.cx, p->join.rkeys[nk], j->R, NULL, &kv[nk]);
    }
    if (!rc && !(rc = sql_ht_init(&j->ht, p->join.nkeys, kt, false))) {
        j->ht_on = true;
        rc = sql_ht_lookup(&j->ht, kv, n, NULL, true, ids);
    }
    if (!rc) {
        j->first = sl_malloc(sizeof *j->first * (size_t)(j->ht.n ? j->ht.n : 1));
        j->next = sl_malloc(sizeof *j->next * (size_t)(n ? n : 1));
        if (!j->first || !j->next)
            rc = SL_ENOMEM;
    }
    if (!rc) {
        for (uint32_t i = 0; i < j->ht.n; i++)
            j->first[i] = UINT32_MAX;
        /* chains in row order: walk backwards, pushing to the front */
        for (int64_t r = n - 1; r >= 0; r--) {
            if (ids[r] == SQL_HT_NONE) {
                j->next[r] = UINT32_MAX;
                continue;
            }
            j->next[r] = j->first[ids[r]];
            j->first[ids[r]] = (uint32_t)r;
        }
    }
    for (int k = 0; k < nk; k++)
        sql_vec_release(&kv[k]);
    sl_free(kv);
    sl_free(ids);
    for (int c = 0; !rc && c < j->rw; c++)
        rc = right_dict(j, c);
    bool unique = true;
    for (uint32_t i = 0; !rc && unique && i < j->ht.n; i++)
        unique = j->next[j->first[i]] == UINT32_MAX;
    bool plain = !p->join.cond || (p->join.cond->kind == SE_CONST && !p->join.cond->c.null &&
                                   p->join.cond->c.b);
    j->direct = !rc && plain &&
                (j->type == SJ_SEMI || j->type == SJ_ANTI ||
                 (unique && (j->type == SJ_INNER || j->type == SJ_LEFT)));
    return rc ? rc : hold(j, sql_batch_bytes(j->R) + j->ht.mem_bytes + 8 * n);
}

/* Probes a new left batch: its key ids. */
static int start_probe(op_join *j, probe *q)
{
    const sql_plan *p = j->op.p;
    q->li = 0;
    q->lj = UINT32_MAX;
    q->rj_nl = 0;
    q->li_matched = false;
    if (!j->hash)
        return SL_OK;
    int64_t n = q->L->n;
    sql_vec *kv = sl_calloc((size_t)p->join.nkeys, sizeof *kv);
    sl_free(q->lids);
    q->lids = sl_malloc(sizeof *q->lids * (size_t)(n ? n : 1));
    int rc = kv && q->lids ? SL_OK : SL_ENOMEM, nk = 0;
    arena_reset(&q->scratch);
    for (; !rc && nk < p->join.nkeys; nk++)
        rc = sql_eval(&q->cx, p->join.lkeys[nk], q->L, NULL, &kv[nk]);
    if (!rc)
        rc = sql_ht_probe(&j->ht, &q->dc, kv, n, q->lids);
    for (int k = 0; k < nk; k++)
        sql_vec_release(&kv[k]);
    sl_free(kv);
    return rc;
}

/* Column c of the build side for the given build rows (strings: as keys of its
 * dictionary, right_dict).  UINT32_MAX: a NULL row. */
static int gather_right(op_join *j, int c, const uint32_t *rows, int64_t n, col_vec *out)
{
    const col_vec *src = &j->R->cols[c];
    int rc0;
    bool missing = false;
    for (int64_t i = 0; i < n && !missing; i++)
        missing = rows[i] == UINT32_MAX;
    if (src->type != COL_STRING || j->R->n >= UINT32_MAX || !n) {
        if (!missing) {
            sql_sel s = {rows, n};
            return sql_vec_gather(src, &s, out);
        }
    }
    if (src->type != COL_STRING) {
        /* NULL rows among others (outer joins): value by value */
        sql_type t = j->pair_types[j->lw + c];
        col_type pt = sql_type_phys(t);
        col_vec_init(out, pt, 0);
        int rc = SL_OK;
        for (int64_t i = 0; i < n && !rc; i++) {
            if (rows[i] == UINT32_MAX) {
                rc = col_vec_append_null(out);
                continue;
            }
            sql_datum d = sql_datum_get(t, src, rows[i]);
            rc = sql_datum_append(t, &d, out);
        }
        return rc;
    }
    if (!j->rdict[c] && (rc0 = right_dict(j, c)))
        return rc0;
    col_vec_init(out, COL_DICT, 4);
    int rc = col_vec_reserve(out, n, 0);
    if (rc)
        return rc;
    uint32_t *k = (uint32_t *)out->values->p;
    for (int64_t i = 0; i < n; i++)
        k[i] = rows[i] == UINT32_MAX ? 0 : rows[i];
    out->len = n;
    out->values->len_bytes = (size_t)n * 4;
    col_vec_set_dict(out, j->rdict[c]);
    if (missing || src->validity) {
        if ((rc = col_vec_need_validity(out, n)))
            return rc;
        for (int64_t i = 0; i < n; i++)
            if (rows[i] == UINT32_MAX || !col_vec_is_valid(src, rows[i])) {
                out->validity->p[i >> 3] &= (uint8_t)~(1u << (i & 7));
                out->null_count++;
            }
    }
    return SL_OK;
}

/* The (left row, right row) pairs as one batch of left + right columns. */
static int pair_batch(op_join *j, probe *q, const uint32_t *l, const uint32_t *r, int64_t n,
                      sql_batch **out)
{
    const sql_plan *p = j->op.p;
    (void)p;
    sql_batch *b;
    int rc = sql_batch_new(j->lw + j->rw, j->pair_types, &b);
    if (rc)
        return rc;
    sql_sel ls = {l, n}, rs = {r, n};
    for (int c = 0; c < j->lw && !rc; c++)
        rc = sql_vec_gather(&q->L->cols[c], &ls, &b->cols[c]);
    (void)rs;
    for (int c = 0; c < j->rw && !rc; c++) {
        col_vec_release(&b->cols[j->lw + c]);
        rc = gather_right(j, c, r, n, &b->cols[j->lw + c]);
    }
    b->n = n;
    if (rc) {
        sql_batch_free(b);
        return rc;
    }
    *out = b;
    return SL_OK;
}

/*
 * Collects up to OUT_PAIRS candidate pairs from the current probe batch,
 * resuming where the last call stopped.  Rows that end with no candidate are
 * noted in done_rows (for LEFT/ANTI).
 */
static int64_t collect(op_join *j, probe *q, uint32_t *pl, uint32_t *pr, int64_t cap)
{
    int64_t m = 0;
    int64_t rn = j->R->n;
    while (q->li < q->L->n && m < cap) {
        if (j->hash) {
            uint32_t id = q->lids[q->li];
            uint32_t r = q->lj == UINT32_MAX ? (id == SQL_HT_NONE ? UINT32_MAX : j->first[id]) : q->lj;
            while (r != UINT32_MAX && m < cap) {
                pl[m] = (uint32_t)q->li;
                pr[m++] = r;
                r = j->next[r];
            }
            if (r != UINT32_MAX) {
                q->lj = r; /* resume inside this row's chain */
                return m;
            }
        } else {
            while (q->rj_nl < rn && m < cap) {
                pl[m] = (uint32_t)q->li;
                pr[m++] = (uint32_t)q->rj_nl++;
            }
            if (q->rj_nl < rn)
                return m;
        }
        /* this left row has no more candidates */
        pl[m] = (uint32_t)q->li | 0x80000000u; /* a row-end marker (never a pair) */
        pr[m++] = UINT32_MAX;
        q->li++;
        q->lj = UINT32_MAX;
        q->rj_nl = 0;
    }
    return m;
}

/*
 * Output rows: probe rows l[i] beside build rows r[i] (UINT32_MAX: NULLs).  The
 * first lw columns come from the probe batch (all of them for semi and anti
 * joins); with `whole` l is every probe row in order, and those columns are
 * shared rather than copied.
 */
static int out_rows(op_join *j, probe *q, const uint32_t *l, const uint32_t *r, int64_t n, int lw,
                    bool whole, sql_batch **out)
{
    const sql_plan *p = j->op.p;
    sql_batch *b;
    int rc = sql_batch_new(p->ncols, p->types, &b);
    if (rc)
        return rc;
    sql_sel ls = {l, n};
    for (int c = 0; c < p->ncols && !rc; c++) {
        col_vec_release(&b->cols[c]);
        if (c >= lw)
            rc = gather_right(j, c - lw, r, n, &b->cols[c]);
        else if (whole)
            sql_vec_share(&q->L->cols[c], &b->cols[c]);
        else
            rc = sql_vec_gather(&q->L->cols[c], &ls, &b->cols[c]);
    }
    b->n = n;
    if (rc) {
        sql_batch_free(b);
        return rc;
    }
    *out = b;
    return SL_OK;
}

/* Builds the output batch for one round of pairs (with their row-end markers). */
static int round_output(op_join *j, probe *q, const uint32_t *pl, const uint32_t *pr, int64_t m,
                        sql_batch **out)
{
    const sql_plan *p = j->op.p;
    /* the real pairs, and the condition over them */
    uint32_t *rl = sl_malloc(sizeof *rl * (size_t)(m ? m : 1));
    uint32_t *rr = sl_malloc(sizeof *rr * (size_t)(m ? m : 1));
    uint8_t *ok = sl_malloc((size_t)(m ? m : 1));
    int rc = rl && rr && ok ? SL_OK : SL_ENOMEM;
    int64_t np = 0;
    for (int64_t i = 0; !rc && i < m; i++)
        if (pr[i] != UINT32_MAX) {
            rl[np] = pl[i];
            rr[np++] = pr[i];
        }
    sql_batch *pairs = NULL;
    bool has_cond = p->join.cond && !(p->join.cond->kind == SE_CONST && !p->join.cond->c.null &&
                                      p->join.cond->c.b);
    /* the pairs as rows only when a residual condition must see them */
    if (!rc && np && has_cond)
        rc = pair_batch(j, q, rl, rr, np, &pairs);
    if (!rc && np) {
        memset(ok, 1, (size_t)np);
        if (has_cond) {
            uint32_t *sel = sl_malloc(sizeof *sel * (size_t)np);
            int64_t ns = 0;
            if (!sel)
                rc = SL_ENOMEM;
            else {
                arena_reset(&q->scratch);
                rc = sql_eval_filter(&q->cx, p->join.cond, pairs, NULL, sel, &ns);
            }
            if (!rc) {
                memset(ok, 0, (size_t)np);
                for (int64_t i = 0; i < ns; i++)
                    ok[sel[i]] = 1;
            }
            sl_free(sel);
        }
    }
    /* walk pairs and markers in order: what each kind of join keeps */
    uint32_t *kl = sl_malloc(sizeof *kl * (size_t)(m ? m : 1));
    uint32_t *kr = sl_malloc(sizeof *kr * (size_t)(m ? m : 1));
    uint32_t *lonely = sl_malloc(sizeof *lonely * (size_t)(m ? m : 1));
    int64_t nk = 0, nlonely = 0;
    if (!rc && (!kl || !kr || !lonely))
        rc = SL_ENOMEM;
    for (int64_t i = 0, pi = 0; !rc && i < m; i++) {
        if (pr[i] == UINT32_MAX) {
            uint32_t lrow = pl[i] & 0x7FFFFFFFu;
            if (!q->li_matched && (j->type == SJ_LEFT || j->type == SJ_FULL || j->type == SJ_ANTI))
                lonely[nlonely++] = lrow;
            q->li_matched = false;
            continue;
        }
        if (!ok[pi++])
            continue;
        if (j->type == SJ_SEMI) {
            if (!q->li_matched)
                lonely[nlonely++] = pl[i]; /* semi: the left row, once */
        } else if (j->type != SJ_ANTI) {
            kl[nk] = (uint32_t)(pi - 1);
            kr[nk++] = pr[i];
            if (j->matched)
                j->matched[pr[i]] = 1;
        }
        q->li_matched = true;
    }
    if (rc)
        goto out;
    sql_batch *b = NULL;
    if (j->type == SJ_SEMI || j->type == SJ_ANTI) {
        if (nlonely)
            rc = sql_batch_take(q->L, lonely, nlonely, &b);
    } else if (nk + nlonely) {
        /* the output rows: matched pairs, then the lonely left rows (right side NULL),
         * gathered straight from the probe batch and the build side */
        int64_t no = nk + nlonely;
        uint32_t *ol = sl_malloc(sizeof *ol * (size_t)no), *orr = sl_malloc(sizeof *orr * (size_t)no);
        if (!ol || !orr)
            rc = SL_ENOMEM;
        for (int64_t i = 0; !rc && i < nk; i++) {
            ol[i] = rl[kl[i]];
            orr[i] = kr[i];
        }
        for (int64_t i = 0; !rc && i < nlonely; i++) {
            ol[nk + i] = lonely[i];
            orr[nk + i] = UINT32_MAX;
        }
        if (!rc)
            rc = out_rows(j, q, ol, orr, no, j->lw, false, &b);
        sl_free(ol);
        sl_free(orr);
    }
    if (rc) {
        sql_batch_free(b);
        b = NULL;
    }
    *out = b;
out:
    sql_batch_free(pairs);
    sl_free(rl);
    sl_free(rr);
    sl_free(ok);
    sl_free(kl);
    sl_free(kr);
    sl_free(lonely);
    return rc;
}

/* RIGHT / FULL: the build rows no left row matched, with NULLs on the left. */
static int tail(op_join *j, sql_batch **out)
{
    const sql_plan *p = j->op.p;
    int64_t n = j->R->n;
    uint32_t *rows = sl_malloc(sizeof *rows * (size_t)(n ? n : 1));
    if (!rows)
        return SL_ENOMEM;
    int64_t m = 0;
    while (j->tail_pos < n && m < OUT_PAIRS) {
        if (!j->matched[j->tail_pos])
            rows[m++] = (uint32_t)j->tail_pos;
        j->tail_pos++;
    }
    if (j->tail_pos >= n)
        j->tail_done = true;
    int rc = SL_OK;
    sql_batch *b = NULL;
    if (m) {
        rc = sql_batch_new(p->ncols, p->types, &b);
        sql_sel s = {rows, m};
        for (int c = 0; c < p->ncols && !rc; c++) {
            col_vec_release(&b->cols[c]);
            rc = c < j->lw ? nulls(p->types[c], m, &b->cols[c])
                           : sql_vec_gather(&j->R->cols[c - j->lw], &s, &b->cols[c]);
        }
        if (b)
            b->n = m;
    }
    sl_free(rows);
    if (rc) {
        sql_batch_free(b);
        return rc;
    }
    *out = b;
    return SL_OK;
}

/*
 * A probe batch with at most one partner a row and no condition to check (see
 * `direct`): the output is the probe batch itself (whole, or the rows that
 * stay) beside the partners' build columns; no pairs are formed.
 */
static int probe_direct(op_join *j, probe *q, sql_batch **out)
{
    const sql_plan *p = j->op.p;
    int64_t n = q->L->n, m = 0;
    *out = NULL;
    q->li = n;
    uint32_t *rr = sl_malloc(sizeof *rr * (size_t)(n ? n : 1));
    uint32_t *sel = sl_malloc(sizeof *sel * (size_t)(n ? n : 1));
    int rc = rr && sel ? SL_OK : SL_ENOMEM;
    for (int64_t i = 0; !rc && i < n; i++) {
        uint32_t id = q->lids[i];
        uint32_t r = id == SQL_HT_NONE ? UINT32_MAX : j->first[id];
        bool keep = j->type == SJ_LEFT || (j->type == SJ_ANTI ? r == UINT32_MAX : r != UINT32_MAX);
        sel[m] = (uint32_t)i;
        rr[m] = r;
        m += keep;
    }
    int lw = j->type == SJ_SEMI || j->type == SJ_ANTI ? p->ncols : j->lw;
    if (!rc && m)
        rc = out_rows(j, q, sel, rr, m, lw, m == n, out);
    sl_free(rr);
    sl_free(sel);
    return rc;
}

/* The build side, once. */
static int built(op_join *j)
{
    if (j->built)
        return SL_OK;
    j->built = true;
    return build(j);
}

static int join_next(sql_op *op, sql_batch **out)
{
    op_join *j = (op_join *)op;
    int rc;
    if ((rc = built(j)))
        return rc;
    uint32_t *pl = sl_malloc(sizeof *pl * (OUT_PAIRS + 1)), *pr = sl_malloc(sizeof *pr * (OUT_PAIRS + 1));
    if (!pl || !pr) {
        sl_free(pl);
        sl_free(pr);
        return SL_ENOMEM;
    }
    rc = SL_OK;
    while (!rc && !*out) {
        probe *q = &j->pr;
        if (!j->left_done && (!q->L || q->li >= q->L->n)) {
            sql_batch_free(q->L);
            q->L = NULL;
            if ((rc = sql_op_next(op->child, &q->L)))
                break;
            if (!q->L) {
                j->left_done = true;
                continue;
            }
            if ((rc = start_probe(j, q)))
                break;
            if (j->direct) {
                rc = probe_direct(j, q, out);
                continue;
            }
        }
        if (j->left_done) {
            if (j->matched && !j->tail_done) {
                rc = tail(j, out);
                continue;
            }
            break;
        }
        int64_t m = collect(j, &j->pr, pl, pr, OUT_PAIRS);
        rc = round_output(j, &j->pr, pl, pr, m, out);
    }
    sl_free(pl);
    sl_free(pr);
    return rc;
}

/* ---- pipelines: probes on the scan's workers ---- */

static void probe_init(sql_exec *x, probe *q, sql_err *err)
{
    memset(q, 0, sizeof *q);
    arena_init(&q->scratch, 4096, 64u << 20);
    sql_exec_ectx(x, &q->cx, err ? err : &q->err, &q->scratch);
}

static void probe_free(probe *q)
{
    sql_batch_free(q->L);
    sl_free(q->lids);
    sql_ht_dcache_free(&q->dc);
    arena_destroy(&q->scratch);
    q->L = NULL;
    q->lids = NULL;
}

static void join_stream_finish(sql_op *op)
{
    op_join *j = (op_join *)op;
    for (int i = 0; i < j->nwp; i++)
        probe_free(&j->wp[i]);
    sl_free(j->wp);
    j->wp = NULL;
    j->nwp = 0;
}

/* The build side first (on this thread), then a probe state per worker. */
static int join_stream_prepare(sql_op *op, int nworkers)
{
    op_join *j = (op_join *)op;
    int rc;
    if ((rc = built(j)))
        return rc;
    if (!(j->wp = sl_calloc((size_t)nworkers, sizeof *j->wp)))
        return SL_ENOMEM;
    j->nwp = nworkers;
    for (int i = 0; i < nworkers; i++)
        probe_init(op->x, &j->wp[i], NULL);
    return SL_OK;
}

/* One probe batch on worker w: every round of pairs it makes goes up as it is made. */
static int join_stream(sql_op *op, int w, sql_batch *b,
                       int (*emit)(void *arg, int w, sql_batch *b, sql_err *e), void *arg,
                       sql_err *e)
{
    op_join *j = (op_join *)op;
    probe *q = &j->wp[w];
    sql_batch_free(q->L);
    q->L = b;
    uint32_t *pl = sl_malloc(sizeof *pl * (OUT_PAIRS + 1)), *pr = sl_malloc(sizeof *pr * (OUT_PAIRS + 1));
    int rc = pl && pr ? start_probe(j, q) : SL_ENOMEM;
    if (!rc && j->direct) {
        sql_batch *out = NULL;
        if (!(rc = probe_direct(j, q, &out)) && out) {
            sql_opstats_add(op, out->n);
            rc = emit(arg, w, out, e);
        }
    }
    while (!rc && q->li < q->L->n) {
        sql_batch *out = NULL;
        int64_t m = collect(j, q, pl, pr, OUT_PAIRS);
        if ((rc = round_output(j, q, pl, pr, m, &out)) || !out)
            continue;
        sql_opstats_add(op, out->n);
        rc = emit(arg, w, out, e);
    }
    sl_free(pl);
    sl_free(pr);
    sql_batch_free(q->L);
    q->L = NULL;
    if (rc && q->err.state[0] && !e->state[0])
        *e = q->err;
    return rc;
}

static void join_close(sql_op *op)
{
    op_join *j = (op_join *)op;
    join_stream_finish(op);
    sql_batch_free(j->R);
    probe_free(&j->pr);
    if (j->ht_on)
        sql_ht_free(&j->ht);
    sl_free(j->first);
    sl_free(j->next);
    sl_free(j->matched);
    for (int c = 0; j->rdict && c < j->rw; c++) {
        col_dict_unref(j->rdict[c]);
        j->rdict[c] = NULL;
    }
    j->R = NULL;
    j->first = j->next = NULL;
    j->matched = NULL;
    j->ht_on = false;
}

static const sql_op_vt g_join = {NULL,         join_next,           join_close, join_stream_prepare,
                                 join_stream, join_stream_finish};

sql_op *sql_op_join_new(sql_exec *x, const sql_plan *p)
{
    op_join *j = arena_zalloc(x->a, sizeof *j);
    if (!j)
        return NULL;
    j->op.vt = &g_join;
    j->type = p->join.type == SJ_CROSS ? SJ_INNER : p->join.type;
    j->hash = p->join.nkeys > 0;
    j->lw = p->child->ncols;
    j->rw = p->right->ncols;
    j->pair_types = arena_alloc(x->a, sizeof *j->pair_types * (size_t)(j->lw + j->rw + 1));
    if (!j->pair_types)
        return NULL;
    memcpy(j->pair_types, p->child->types, sizeof *j->pair_types * (size_t)j->lw);
    memcpy(j->pair_types + j->lw, p->right->types, sizeof *j->pair_types * (size_t)j->rw);
    j->rdict = arena_zalloc(x->a, sizeof *j->rdict * (size_t)(j->rw + 1));
    if (!j->rdict)
        return NULL;
    probe_init(x, &j->pr, x->e);
    return &j->op;
}
