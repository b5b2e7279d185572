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

typedef struct op_join {
    sql_op op;
    uint8_t type;            /* sql_jtype */
    bool hash;               /* equality keys present */
    sql_batch *R;            /* the build side, whole */
    sql_ht ht;
    bool ht_on;
    uint32_t *first, *next;  /* chains: first row of each key id, next row of a row */
    uint8_t *matched;        /* RIGHT/FULL: build rows that found a partner */
    /* probe state */
    sql_batch *L;
    uint32_t *lids;          /* the probe batch's key ids */
    int64_t li;              /* next probe row */
    uint32_t lj;             /* next chain row of li (UINT32_MAX: start) */
    int64_t rj_nl;           /* nested loop: next build row for li */
    bool li_matched;
    bool left_done, built, tail_done;
    int64_t tail_pos;
    sql_ectx cx;
    arena scratch;
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
    if (!j->hash)
        return hold(j, sql_batch_bytes(j->R));
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
        rc = sql_eval(&j->cx, p->join.rkeys[nk], j->R, NULL, &kv[nk]);
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
    return rc ? rc : hold(j, sql_batch_bytes(j->R) + j->ht.mem_bytes + 8 * n);
}

/* Probes a new left batch: its key ids. */
static int start_probe(op_join *j)
{
    const sql_plan *p = j->op.p;
    j->li = 0;
    j->lj = UINT32_MAX;
    j->rj_nl = 0;
    j->li_matched = false;
    if (!j->hash)
        return SL_OK;
    int64_t n = j->L->n;
    sql_vec *kv = sl_calloc((size_t)p->join.nkeys, sizeof *kv);
    sl_free(j->lids);
    j->lids = sl_malloc(sizeof *j->lids * (size_t)(n ? n : 1));
    int rc = kv && j->lids ? SL_OK : SL_ENOMEM, nk = 0;
    arena_reset(&j->scratch);
    for (; !rc && nk < p->join.nkeys; nk++)
        rc = sql_eval(&j->cx, p->join.lkeys[nk], j->L, NULL, &kv[nk]);
    if (!rc)
        rc = sql_ht_lookup(&j->ht, kv, n, NULL, false, j->lids);
    for (int k = 0; k < nk; k++)
        sql_vec_release(&kv[k]);
    sl_free(kv);
    return rc;
}

/*
 * Column c of the build side for the given build rows.  Strings are not
 * copied: the build column becomes a dictionary (once) and the output holds
 * the row numbers as its keys, so a small table joined to millions of rows
 * costs four bytes a row, not a copy of its strings.  UINT32_MAX: a NULL row.
 */
static int gather_right(op_join *j, int c, const uint32_t *rows, int64_t n, col_vec *out)
{
    const col_vec *src = &j->R->cols[c];
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
    if (!j->rdict[c]) {
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
    }
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
static int pair_batch(op_join *j, const uint32_t *l, const uint32_t *r, int64_t n, sql_batch **out)
{
    const sql_plan *p = j->op.p;
    (void)p;
    sql_batch *b;
    int rc = sql_batch_new(j->lw + j->rw, j->pair_types, &b);
    if (rc)
        return rc;
    sql_sel ls = {l, n}, rs = {r, n};
    for (int c = 0; c < j->lw && !rc; c++)
        rc = sql_vec_gather(&j->L->cols[c], &ls, &b->cols[c]);
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
static int64_t collect(op_join *j, uint32_t *pl, uint32_t *pr, int64_t cap)
{
    int64_t m = 0;
    int64_t rn = j->R->n;
    while (j->li < j->L->n && m < cap) {
        if (j->hash) {
            uint32_t id = j->lids[j->li];
            uint32_t r = j->lj == UINT32_MAX ? (id == SQL_HT_NONE ? UINT32_MAX : j->first[id]) : j->lj;
            while (r != UINT32_MAX && m < cap) {
                pl[m] = (uint32_t)j->li;
                pr[m++] = r;
                r = j->next[r];
            }
            if (r != UINT32_MAX) {
                j->lj = r; /* resume inside this row's chain */
                return m;
            }
        } else {
            while (j->rj_nl < rn && m < cap) {
                pl[m] = (uint32_t)j->li;
                pr[m++] = (uint32_t)j->rj_nl++;
            }
            if (j->rj_nl < rn)
                return m;
        }
        /* this left row has no more candidates */
        pl[m] = (uint32_t)j->li | 0x80000000u; /* a row-end marker (never a pair) */
        pr[m++] = UINT32_MAX;
        j->li++;
        j->lj = UINT32_MAX;
        j->rj_nl = 0;
    }
    return m;
}

/* Builds the output batch for one round of pairs (with their row-end markers). */
static int round_output(op_join *j, const uint32_t *pl, const uint32_t *pr, int64_t m,
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
        rc = pair_batch(j, rl, rr, np, &pairs);
    if (!rc && np) {
        memset(ok, 1, (size_t)np);
        if (has_cond) {
            uint32_t *sel = sl_malloc(sizeof *sel * (size_t)np);
            int64_t ns = 0;
            if (!sel)
                rc = SL_ENOMEM;
            else {
                arena_reset(&j->scratch);
                rc = sql_eval_filter(&j->cx, p->join.cond, pairs, NULL, sel, &ns);
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
            if (!j->li_matched && (j->type == SJ_LEFT || j->type == SJ_FULL || j->type == SJ_ANTI))
                lonely[nlonely++] = lrow;
            j->li_matched = false;
            continue;
        }
        if (!ok[pi++])
            continue;
        if (j->type == SJ_SEMI) {
            if (!j->li_matched)
                lonely[nlonely++] = pl[i]; /* semi: the left row, once */
        } else if (j->type != SJ_ANTI) {
            kl[nk] = (uint32_t)(pi - 1);
            kr[nk++] = pr[i];
            if (j->matched)
                j->matched[pr[i]] = 1;
        }
        j->li_matched = true;
    }
    if (rc)
        goto out;
    sql_batch *b = NULL;
    if (j->type == SJ_SEMI || j->type == SJ_ANTI) {
        if (nlonely)
            rc = sql_batch_take(j->L, lonely, nlonely, &b);
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
            rc = sql_batch_new(p->ncols, p->types, &b);
        sql_sel ls = {ol, no};
        for (int c = 0; c < p->ncols && !rc; c++) {
            col_vec_release(&b->cols[c]);
            rc = c < j->lw ? sql_vec_gather(&j->L->cols[c], &ls, &b->cols[c])
                           : gather_right(j, c - j->lw, orr, no, &b->cols[c]);
        }
        if (b)
            b->n = no;
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

static int join_next(sql_op *op, sql_batch **out)
{
    op_join *j = (op_join *)op;
    int rc;
    if (!j->built) {
        j->built = true;
        if ((rc = build(j)))
            return rc;
    }
    uint32_t *pl = sl_malloc(sizeof *pl * (OUT_PAIRS + 1)), *pr = sl_malloc(sizeof *pr * (OUT_PAIRS + 1));
    if (!pl || !pr) {
        sl_free(pl);
        sl_free(pr);
        return SL_ENOMEM;
    }
    rc = SL_OK;
    while (!rc && !*out) {
        if (!j->left_done && (!j->L || j->li >= j->L->n)) {
            sql_batch_free(j->L);
            j->L = NULL;
            if ((rc = sql_op_next(op->child, &j->L)))
                break;
            if (!j->L) {
                j->left_done = true;
                continue;
            }
            if ((rc = start_probe(j)))
                break;
        }
        if (j->left_done) {
            if (j->matched && !j->tail_done) {
                rc = tail(j, out);
                continue;
            }
            break;
        }
        int64_t m = collect(j, pl, pr, OUT_PAIRS);
        rc = round_output(j, pl, pr, m, out);
    }
    sl_free(pl);
    sl_free(pr);
    return rc;
}

static void join_close(sql_op *op)
{
    op_join *j = (op_join *)op;
    sql_batch_free(j->R);
    sql_batch_free(j->L);
    if (j->ht_on)
        sql_ht_free(&j->ht);
    sl_free(j->first);
    sl_free(j->next);
    sl_free(j->matched);
    sl_free(j->lids);
    for (int c = 0; j->rdict && c < j->rw; c++) {
        col_dict_unref(j->rdict[c]);
        j->rdict[c] = NULL;
    }
    arena_destroy(&j->scratch);
    j->R = j->L = NULL;
    j->first = j->next = j->lids = NULL;
    j->matched = NULL;
    j->ht_on = false;
}

static const sql_op_vt g_join = {NULL, join_next, join_close};

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
    arena_init(&j->scratch, 4096, 64u << 20);
    sql_exec_ectx(x, &j->cx, x->e, &j->scratch);
    return &j->op;
}
