/*
 * ijoin.c - interval joins of two streams: rows of two sources with event
 * times joined on equality keys and a band on their event times,
 *
 *   SELECT ... FROM a JOIN b ON a.k = b.k
 *                           AND a.ts BETWEEN b.ts AND b.ts + INTERVAL '20 seconds'
 *
 * (any conjunction of >=, <=, >, <, = or BETWEEN between the two event-time
 * columns, each side optionally plus or minus a constant interval).  The
 * job is append-only: each matching pair is written once, when the second of
 * its two rows arrives.
 *
 * Shape (stream_ijoin_fits): FILTER / PROJECT operators over one inner join
 * whose two inputs are FILTER / PROJECT chains over scans of two different
 * sources with event_time (no windows), and whose condition (with the
 * filters above it) bounds the difference of the two event times on both
 * sides: lo <= ta - tb <= hi.  Strict comparisons are taken as non-strict,
 * which only keeps rows a little longer.
 *
 * Running (stream_ijoin_exec), on the calling thread:
 *
 *   reading   each source in line order through the file connector's
 *             reader (lateness and watermarks as for any source), a batch
 *             of each in turn
 *   joining   a new batch of a is joined with the kept rows of b by the
 *             statement's SELECT itself: planned again and run by the batch
 *             engine, with a's scan reading the new rows and b's the kept
 *             ones (r->serving); then the new rows join a's kept rows.  A
 *             pair is thus produced exactly once, by the batch of whichever
 *             of its rows came second, and every expression, NULL and type
 *             rule is the batch engine's (NULL keys never match)
 *   trimming  a future row of b has tb >= wm_b (it would be late otherwise,
 *             and the watermark never decreases), so a kept row of a can
 *             still match one only if ta - lo >= wm_b: rows of a with
 *             ta < wm_b + lo are dropped, and rows of b with tb < wm_a - hi.
 *             Rows with a NULL event time match nothing and are not kept.
 *
 * State is the kept rows, bounded by the watermarks' progress (max_delay
 * plus the band), counted against work_mem (53200 past it).  --workers does
 * not change the job: it runs on one thread (this version does not partition
 * it by the equality keys).
 */
#include "stream/job.h"

#include "base/alloc.h"
#include "sql/types/datetime.h"

#include <string.h>

#define NO_LO INT64_MIN
#define NO_HI INT64_MAX

/* ---- which plans are interval joins ------------------------------------ */

typedef struct band {
    const sql_plan *join;
    stream_table *src[2];    /* the join's left and right source */
    int64_t lo, hi;          /* lo <= t_left - t_right <= hi */
    const char *why;
} band;

/* A FILTER / PROJECT chain down to the scan of a plain source (no window). */
static stream_table *chain_source(const sql_plan *p)
{
    while (p && (p->kind == SP_FILTER || (p->kind == SP_PROJECT && !p->project.srf)))
        p = p->child;
    const stream_win *w;
    stream_table *t = p && p->kind == SP_SCAN ? stream_scan_source(p->scan.table, &w) : NULL;
    return t && !w && t->time_col >= 0 ? t : NULL;
}

/* Whether output column col of a chain is its source's event-time column. */
static bool is_time_col(const sql_plan *p, int col)
{
    while (p->kind != SP_SCAN) {
        if (p->kind == SP_PROJECT) {
            const sql_expr *x = p->project.exprs[col];
            if (x->kind != SE_COL)
                return false;
            col = x->col;
        }
        p = p->child;
    }
    const stream_win *w;
    return p->scan.cols[col] == stream_scan_source(p->scan.table, &w)->time_col;
}

/* An interval constant as ns (no months: they have no fixed length). */
static bool interval_ns(const sql_expr *x, int64_t *ns)
{
    if (x->kind != SE_CONST || x->type.id != ST_INTERVAL || x->c.null || x->c.iv.months)
        return false;
    int64_t d = x->c.iv.days;
    if (d > INT32_MAX / 2 || d < -INT32_MAX / 2)
        return false;
    *ns = d * 86400 * NS_PER_S + x->c.iv.ns;
    return true;
}

/* A term of a band: a side's event time (0 left, 1 right) plus an offset. */
static bool term(const band *bd, const sql_expr *x, int *side, int64_t *off)
{
    *off = 0;
    if (x->kind == SE_FUNC && x->nargs == 2 && x->fn &&
        (!strcmp(x->fn->name, "+") || !strcmp(x->fn->name, "-"))) {
        bool minus = x->fn->name[0] == '-';
        const sql_expr *c = x->args[0], *k = x->args[1];
        if (!minus && c->kind == SE_CONST) {
            c = x->args[1];
            k = x->args[0];
        }
        if (!interval_ns(k, off) || (minus && *off == INT64_MIN))
            return false;
        *off = minus ? -*off : *off;
        x = c;
    }
    if (x->kind != SE_COL)
        return false;
    int nl = bd->join->child->ncols;
    *side = x->col >= nl;
    return *side ? is_time_col(bd->join->right, x->col - nl)
                 : is_time_col(bd->join->child, x->col);
}

/* t_x - t_y (two event-time columns of different sides) op an interval constant,
 * either way round, as the sides of x and y and the constant d: t_x - t_y op' d. */
static bool diff(band *bd, const sql_expr *e, bool *swap, int *sx, int64_t *d)
{
    const sql_expr *f = e->args[0], *k = e->args[1];
    *swap = f->kind == SE_CONST;
    if (*swap) {
        f = e->args[1];
        k = e->args[0];
    }
    int sy;
    int64_t o1, o2;
    return f->kind == SE_FUNC && f->nargs == 2 && f->fn && !strcmp(f->fn->name, "-") &&
           f->args[0]->kind == SE_COL && f->args[1]->kind == SE_COL &&
           term(bd, f->args[0], sx, &o1) && term(bd, f->args[1], &sy, &o2) && *sx != sy &&
           interval_ns(k, d);
}

/* One comparison x op y narrowing the band (others are left to the engine). */
static void narrow(band *bd, const sql_expr *e)
{
    const char *n = e->fn->name;
    bool ge = !strcmp(n, ">=") || !strcmp(n, ">"), le = !strcmp(n, "<=") || !strcmp(n, "<");
    bool eq = !strcmp(n, "=");
    int sx, sy;
    int64_t ox, oy, d;
    bool swap;
    if (!(ge || le || eq))
        return;
    if (diff(bd, e, &swap, &sx, &d)) {
        /* (t_x - t_y) op d, or d op (t_x - t_y) */
        if (swap != (sx == 1)) {
            bool t = ge;
            ge = le;
            le = t;
        }
        if (sx == 1 && d == INT64_MIN)
            return;
        d = sx == 1 ? -d : d;
        goto apply;
    }
    if (!term(bd, e->args[0], &sx, &ox) || !term(bd, e->args[1], &sy, &oy) || sx == sy)
        return;
    /* t_x + ox op t_y + oy; as t_left - t_right op' d */
    if (__builtin_sub_overflow(sx == 0 ? oy : ox, sx == 0 ? ox : oy, &d))
        return;
    if (sx == 1) { /* t_right + ox op t_left + oy: t_left - t_right (op reversed) d */
        bool t = ge;
        ge = le;
        le = t;
    }
apply:
    if ((ge || eq) && d > bd->lo)
        bd->lo = d;
    if ((le || eq) && d < bd->hi)
        bd->hi = d;
}

static void conjuncts(band *bd, const sql_expr *e)
{
    if (!e)
        return;
    if (e->kind == SE_AND) {
        for (int i = 0; i < e->nargs; i++)
            conjuncts(bd, e->args[i]);
    } else if (e->kind == SE_FUNC && e->nargs == 2 && e->fn) {
        narrow(bd, e);
    }
}

/* The join under the FILTER / PROJECT chain at the top (filters directly above
 * it narrow the band too: an inner join's pairs must pass them). */
static void find(band *bd, const sql_plan *p)
{
    memset(bd, 0, sizeof *bd);
    bd->lo = NO_LO;
    bd->hi = NO_HI;
    const sql_plan *filters[STREAM_MAX_CHAIN];
    int nf = 0;
    bool agg = false;
    while (p && (p->kind == SP_FILTER || (p->kind == SP_PROJECT && !p->project.srf) ||
                 (p->kind == SP_AGG && !agg))) {
        agg |= p->kind == SP_AGG;
        if (p->kind == SP_FILTER && nf < STREAM_MAX_CHAIN)
            filters[nf++] = p;
        else if (p->kind != SP_FILTER)
            nf = 0; /* a filter above a projection speaks of other columns */
        p = p->child;
    }
    if (!p || p->kind != SP_JOIN) {
        bd->why = "not a join";
        return;
    }
    bd->join = p;
    bd->src[0] = chain_source(p->child);
    bd->src[1] = chain_source(p->right);
    if (!bd->src[0] || !bd->src[1]) {
        bd->why = "each side of an interval join reads one source with event_time through "
                  "filters and projections (no windows, no other joins)";
        return;
    }
    if (bd->src[0] == bd->src[1]) {
        bd->why = "an interval join of a source with itself";
        return;
    }
    if (p->join.type != SJ_INNER) {
        bd->why = "outer interval joins (LEFT, RIGHT, FULL; this version: inner joins)";
        return;
    }
    conjuncts(bd, p->join.cond);
    for (int i = 0; i < nf; i++)
        conjuncts(bd, filters[i]->filter.pred);
    if (agg)
        bd->why = "aggregations over an interval join (this version: filters and projections "
                  "over it, into a sink or a view)";
    else if (bd->lo == NO_LO || bd->hi == NO_HI || bd->lo > bd->hi)
        bd->why = "a join of two streams whose event times are not bounded on both sides "
                  "(an interval join needs, e.g., a.ts BETWEEN b.ts - INTERVAL '5 seconds' "
                  "AND b.ts + INTERVAL '20 seconds')";
}

bool stream_ijoin_fits(const sql_plan *root, const char **why)
{
    band bd;
    find(&bd, root);
    if (bd.why && !strcmp(bd.why, "not a join"))
        bd.why = NULL, *why = NULL;
    else
        *why = bd.why;
    return bd.join && !bd.why;
}

/* ---- running ------------------------------------------------------------- */

typedef struct ij {
    stream_job *j;
    band bd;
    stream_serving sv;       /* src[0], src[1]: the join's left and right source */
    stream_source src[2];
    sql_rows kept[2];
} ij;

static int oom(sql_err *e)
{
    return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
}

/*
 * Keeps the rows of rs whose event time (column tc) is not NULL and at least
 * bound; batches wholly kept stay as they are.
 */
static int trim(sql_rows *rs, int tc, int64_t bound)
{
    uint32_t *keep = NULL;
    int64_t cap = 0;
    int out = 0, rc = SL_OK;
    rs->nrows = rs->mem = 0;
    for (int i = 0; i < rs->nb; i++) {
        sql_batch *b = rs->b[i];
        if (!rc && b->n > cap) {
            sl_free(keep);
            cap = b->n;
            if (!(keep = sl_malloc(sizeof *keep * (size_t)cap)))
                rc = SL_ENOMEM;
        }
        int64_t m = 0;
        const col_vec *ts = &b->cols[tc];
        for (int64_t r = 0; !rc && r < b->n; r++)
            if (col_vec_is_valid(ts, r) && col_vec_i64(ts, r) >= bound)
                keep[m++] = (uint32_t)r;
        sql_batch *nb = b;
        if (rc || m == 0) {
            nb = NULL;
        } else if (m < b->n) {
            rc = sql_batch_take(b, keep, m, &nb);
            nb = rc ? NULL : nb;
        }
        if (nb != b)
            sql_batch_free(b);
        if (nb) {
            nb->types = rs->types;
            rs->b[out++] = nb;
            rs->nrows += nb->n;
            rs->mem += sql_batch_bytes(nb);
        }
    }
    rs->nb = out;
    sl_free(keep);
    return rc;
}

/* The statement's SELECT with source i's scan reading fresh and the other's
 * its kept rows, into the sink. */
static int join_fresh(ij *w, int i, const sql_rows *fresh, sql_err *e)
{
    w->sv.cur[i] = fresh;
    w->sv.cur[1 - i] = &w->kept[1 - i];
    int rc = w->kept[1 - i].nrows ? stream_serve_query(w->j, e) : SL_OK;
    memset(w->sv.cur, 0, sizeof w->sv.cur);
    return rc;
}

/* One batch of source i: joined with the other side's kept rows, then kept. */
static int step(ij *w, int i, sql_err *e)
{
    sql_batch *b;
    int rc = stream_source_next(&w->src[i], &b, e);
    if (rc || !b)
        return rc;
    sql_rows fresh;
    sql_rows_init(&fresh, w->kept[i].ncols, w->kept[i].types);
    b->types = w->kept[i].types;
    if (sql_rows_add(&fresh, b))
        return oom(e);
    rc = join_fresh(w, i, &fresh, e);
    for (int k = 0; !rc && k < fresh.nb; k++) {
        if (sql_rows_add(&w->kept[i], fresh.b[k]))
            rc = oom(e);
        fresh.b[k] = NULL;
    }
    fresh.nb = 0;
    sql_rows_free(&fresh);
    return rc;
}

/* Drops the rows no future row of the other side can match (see the top). */
static int trim_both(ij *w, sql_err *e)
{
    int64_t wl = w->src[0].wm, wr = w->src[1].wm, bl, br;
    /* left rows need t_left - lo >= wm_right; right rows t_right + hi >= wm_left */
    bl = wr == STREAM_WM_NONE ? INT64_MIN : __builtin_add_overflow(wr, w->bd.lo, &bl)
                                            ? (w->bd.lo > 0 ? INT64_MAX : INT64_MIN) : bl;
    br = wl == STREAM_WM_NONE ? INT64_MIN : __builtin_sub_overflow(wl, w->bd.hi, &br)
                                            ? (w->bd.hi < 0 ? INT64_MAX : INT64_MIN) : br;
    if (wr == STREAM_WM_END)
        bl = INT64_MAX;
    if (wl == STREAM_WM_END)
        br = INT64_MAX;
    int rc = trim(&w->kept[0], w->src[0].t->time_col, bl);
    if (!rc)
        rc = trim(&w->kept[1], w->src[1].t->time_col, br);
    if (rc)
        return oom(e);
    return stream_state_check(w->j, w->kept[0].mem + w->kept[1].mem,
                              "The interval join's kept rows", e);
}

int stream_ijoin_exec(stream_job *j)
{
    sql_err *e = j->e;
    ij w;
    memset(&w, 0, sizeof w);
    w.j = j;
    find(&w.bd, j->q->root->p);
    w.sv.nsrc = 2;
    int rc = SL_OK;
    for (int i = 0; i < 2; i++) {
        stream_table *t = w.bd.src[i];
        w.sv.src[i] = t;
        sql_rows_init(&w.kept[i], t->ncols, t->types);
        if (!rc)
            rc = stream_source_open(j, t, &w.src[i], e);
    }
    j->r->serving = &w.sv;
    while (!rc && !(w.src[0].ended && w.src[1].ended)) {
        for (int i = 0; i < 2 && !rc; i++)
            if (!w.src[i].ended)
                rc = step(&w, i, e);
        if (!rc)
            rc = trim_both(&w, e);
    }
    j->r->serving = NULL;
    for (int i = 0; i < 2; i++) {
        if (!rc)
            stream_source_figures(&w.src[i]);
        stream_source_close(&w.src[i]);
        sql_rows_free(&w.kept[i]);
    }
    return rc;
}
