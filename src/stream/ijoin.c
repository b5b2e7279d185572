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
 * Running (stream_ijoin_exec):
 *
 *   reading   each source in line order through the file connector's
 *             reader (lateness and watermarks as for any source; wholesrc.c,
 *             read ahead with more than one worker), a batch of each in turn
 *   routing   with N > 1 workers and an equality key that is a plain column
 *             of each source, a batch is cut by the key's hash into N
 *             partitions, each joining and keeping its own rows on a thread
 *             of its own (see "Partitions" below); else one partition on the
 *             calling thread
 *   joining   a partition's new rows of a are joined with its kept rows of b
 *             by the statement's SELECT itself: planned again and run by the
 *             batch engine, with a's scan reading the new rows and b's the
 *             kept ones (stream_serve_query); then the new rows join a's kept
 *             rows.  A pair is thus produced exactly once, by the batch of
 *             whichever of its rows came second, and every expression, NULL
 *             and type rule is the batch engine's (NULL keys never match)
 *   trimming  a future row of b has tb >= wm_b (it would be late otherwise,
 *             and the watermark never decreases), so a kept row of a can
 *             still match one only if ta - lo >= wm_b: rows of a with
 *             ta < wm_b + lo are dropped, and rows of b with tb < wm_a - hi.
 *             Rows with a NULL event time match nothing and are not kept.
 *
 * State is the kept rows, bounded by the watermarks' progress (max_delay
 * plus the band), summed over the partitions and counted against work_mem
 * (53200 past it).
 *
 * Checkpoints (files, followed or not, the generator, kafka topics): each
 * source's reader
 * keeps its place after every batch it hands over (wholesrc.c).  Every
 * interval, between two
 * rounds of reading, a barrier goes to every partition; once each has
 * applied what came before it (its pairs written), each source's part (its
 * reader's place and watermark, and the kept rows of its side in every
 * partition) and the commit (the sink's length) go to the store.  A resumed
 * job puts the readers back and each kept row into its partition (by its
 * key's hash, as routing would), with the watermarks it had.
 */
#include "stream/job.h"
#include "stream/ring.h"

#include "base/alloc.h"
#include "sql/exec/hashtab.h"
#include "sql/types/datetime.h"

#include <pthread.h>
#include <stdatomic.h>

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

/* The source column under output column col of a chain (-1: computed). */
static int source_col(const sql_plan *p, int col)
{
    while (p->kind != SP_SCAN) {
        if (p->kind == SP_PROJECT) {
            const sql_expr *x = p->project.exprs[col];
            if (x->kind != SE_COL)
                return -1;
            col = x->col;
        }
        p = p->child;
    }
    return p->scan.cols[col];
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

bool stream_ijoin_out_time(const sql_plan *root, int col, int64_t *lag)
{
    band bd;
    find(&bd, root);
    if (!bd.join || bd.why)
        return false;
    for (const sql_plan *p = root; p != bd.join; p = p->child)
        if (p->kind == SP_PROJECT) {
            const sql_expr *x = p->project.exprs[col];
            if (x->kind != SE_COL)
                return false;
            col = x->col;
        }
    int nl = bd.join->child->ncols;
    if (col < nl ? !is_time_col(bd.join->child, col) : !is_time_col(bd.join->right, col - nl))
        return false;
    /* with W = min(wm_left, wm_right) applied: a pair written later comes from a row
     * not yet read, on time, so t >= its side's watermark >= W; or, paired with a
     * kept row of the other side, t_left >= t_right + lo >= W + lo, t_right >=
     * t_left - hi >= W - hi */
    *lag = col < nl ? (bd.lo < 0 ? -bd.lo : 0) : (bd.hi > 0 ? bd.hi : 0);
    return true;
}

/* ---- running ------------------------------------------------------------- */

/*
 * Partitions.  With more than one worker and an equality key that is a plain
 * column of each source, of one type that hashes alike on both sides, the
 * calling thread reads the sources and cuts each batch by the hash of that
 * key into one partition per worker; each partition joins and keeps its own
 * rows on its own thread.  Rows of the two sides that match agree on the key,
 * so they meet in one partition, and a pair is still produced once, by the
 * batch of its second row.  Messages go through a single-producer ring per
 * partition (ring.h): the partition's rows of a batch of one source (or none)
 * with that source's watermark after it.  Every batch sends every partition a
 * message, so a partition knows both watermarks as one partition would and
 * trims with them after joining each message.  Output rows go to the sink
 * under a mutex, a batch at a time (the job is append-only: rows of different
 * partitions interleave).  Otherwise one partition runs on the calling thread.
 */
#define RING_CAP 8

typedef struct ij ij;

typedef struct part {
    ij *w;
    stream_serving sv;       /* src[0], src[1]: the join's left and right source */
    sql_session *s;          /* its own on a thread of its own; else the job's */
    sql_rows kept[2];
    int64_t wm[2];           /* each source's watermark after its last message */
    int64_t applied;         /* the smaller of them, published (w->view; w->mu held) */
    int64_t mem;             /* kept rows' bytes, as last added to the job's state */
    sql_err e;
    pthread_t th;
    bool started;
    stream_ring ring;        /* from the calling thread (threaded) */
    stream_bell bell;        /* the partition sleeps on it */
} part;

struct ij {
    stream_job *j;
    band bd;
    stream_source src[2];
    part *parts;
    int nparts;
    bool threaded;
    int kcol[2];             /* the partition key: a column of each source */
    sql_ht hk;               /* hashes that key */
    pthread_mutex_t mu;      /* the sink, err */
    stream_view *view;       /* the sink, a view that jobs read (record_wm), else NULL */
    stream_bell bell;        /* the calling thread sleeps on it (a ring full) */
    atomic_int at_barrier;   /* partitions that applied a checkpoint's barrier */
    atomic_int failed;
    sql_err err;             /* the first partition's error */
};

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
 * the partition's kept rows, into the sink. */
static int join_fresh(part *p, int i, const sql_rows *fresh)
{
    ij *w = p->w;
    stream_job *j = w->j;
    if (!p->kept[1 - i].nrows)
        return SL_OK;
    p->sv.cur[i] = fresh;
    p->sv.cur[1 - i] = &p->kept[1 - i];
    int rc;
    if (!w->threaded) {
        rc = stream_serve_query(p->s, j->text, j->q->types, j->sink, &p->sv, NULL, &p->e);
    } else {
        sql_rows out;
        sql_rows_init(&out, j->q->ncols, j->q->types);
        rc = stream_serve_query(p->s, j->text, j->q->types, j->sink, &p->sv, &out, &p->e);
        pthread_mutex_lock(&w->mu);
        for (int k = 0; k < out.nb; k++) {
            if (!rc)
                rc = stream_sink_write(j->sink, out.b[k], &p->e);
            else
                sql_batch_free(out.b[k]);
            out.b[k] = NULL;
        }
        pthread_mutex_unlock(&w->mu);
        out.nb = 0;
        sql_rows_free(&out);
    }
    memset(p->sv.cur, 0, sizeof p->sv.cur);
    return rc;
}

/* Drops the rows no future row of the other side can match (see the top). */
static int trim_both(part *p, const int64_t wm[2])
{
    ij *w = p->w;
    int64_t wl = wm[0], wr = wm[1], bl, br;
    /* left rows need t_left - lo >= wm_right; right rows t_right + hi >= wm_left */
    bl = wr == STREAM_WM_NONE ? INT64_MIN : __builtin_add_overflow(wr, w->bd.lo, &bl)
                                            ? (w->bd.lo > 0 ? INT64_MAX : INT64_MIN) : bl;
    br = wl == STREAM_WM_NONE ? INT64_MIN : __builtin_sub_overflow(wl, w->bd.hi, &br)
                                            ? (w->bd.hi < 0 ? INT64_MAX : INT64_MIN) : br;
    if (wr == STREAM_WM_END)
        bl = INT64_MAX;
    if (wl == STREAM_WM_END)
        br = INT64_MAX;
    int rc = trim(&p->kept[0], w->src[0].t->time_col, bl);
    if (!rc)
        rc = trim(&p->kept[1], w->src[1].t->time_col, br);
    return rc ? oom(&p->e) : SL_OK;
}

/* Into a view that jobs read: every partition has applied both watermarks up to
 * the smallest of theirs (stream_ijoin_out_time), published after the pairs
 * that came before it, under the sink's mutex as they are. */
static void publish(part *p)
{
    ij *w = p->w;
    if (!w->view)
        return;
    if (w->threaded)
        pthread_mutex_lock(&w->mu);
    p->applied = p->wm[0] < p->wm[1] ? p->wm[0] : p->wm[1];
    int64_t g = STREAM_WM_END;
    for (int k = 0; k < w->nparts; k++)
        g = w->parts[k].applied < g ? w->parts[k].applied : g;
    if (g != STREAM_WM_NONE && g > atomic_load(&w->view->closed_wm))
        atomic_store(&w->view->closed_wm, g);
    if (w->threaded)
        pthread_mutex_unlock(&w->mu);
}

/* A message (rows of source m->end, and its watermark): its rows joined with the
 * other side's kept ones, then kept; then the trim by the watermarks, and the
 * state counted against work_mem. */
static int apply(part *p, stream_msg *m)
{
    int rc = SL_OK, i = (int)m->end;
    p->wm[i] = m->wm;
    if (m->b) {
        sql_rows fresh;
        sql_rows_init(&fresh, p->kept[i].ncols, p->kept[i].types);
        m->b->types = p->kept[i].types;
        if (sql_rows_add(&fresh, m->b))
            rc = oom(&p->e);
        m->b = NULL;
        if (!rc)
            rc = join_fresh(p, i, &fresh);
        for (int k = 0; !rc && k < fresh.nb; k++) {
            if (sql_rows_add(&p->kept[i], fresh.b[k]))
                rc = oom(&p->e);
            fresh.b[k] = NULL;
        }
        sql_rows_free(&fresh);
    }
    if (!rc)
        rc = trim_both(p, p->wm);
    if (rc)
        return rc;
    int64_t now = p->kept[0].mem + p->kept[1].mem;
    int64_t all = stream_state_add(p->w->j, now - p->mem);
    p->mem = now;
    publish(p);
    return stream_state_check(p->w->j, all, "The interval join's kept rows", &p->e);
}

/* The first failure of a partition stops the job (the others drain). */
static void fail(part *p)
{
    ij *w = p->w;
    pthread_mutex_lock(&w->mu);
    if (!atomic_load(&w->failed))
        w->err = p->e;
    atomic_store(&w->failed, 1);
    pthread_mutex_unlock(&w->mu);
}

static bool ring_ready(void *arg)
{
    return stream_ring_ready(arg);
}

static bool ring_room(void *arg)
{
    return stream_ring_room(arg);
}

static void *part_main(void *arg)
{
    part *p = arg;
    for (;;) {
        stream_msg m;
        if (!stream_ring_pop(&p->ring, &m)) {
            stream_bell_wait(&p->bell, ring_ready, &p->ring);
            continue;
        }
        if (m.kind == STREAM_MSG_DONE)
            break;
        if (m.kind == STREAM_MSG_BARRIER) { /* all before it applied: the driver saves */
            atomic_fetch_add(&p->w->at_barrier, 1);
            stream_bell_ring(&p->w->bell);
        } else if (atomic_load(&p->w->failed))
            stream_msg_free(&m);
        else if (apply(p, &m))
            fail(p);
    }
    return NULL;
}

/* Hands m to partition p: applied at once on the calling thread, else pushed
 * onto its ring (waiting while it is full: memory stays bounded; a partition
 * always drains, even after a failure). */
static int post(part *p, stream_msg *m)
{
    if (!p->w->threaded) {
        int rc = apply(p, m);
        if (rc)
            fail(p);
        return rc;
    }
    while (!stream_ring_push(&p->ring, m))
        stream_bell_wait(&p->w->bell, ring_room, &p->ring);
    return SL_OK;
}

/* Source i's batch b (taken; NULL at its end) cut by its key's hash, one
 * message to each partition (an empty one still carries the watermarks). */
static int route(ij *w, int i, sql_batch *b, sql_err *e)
{
    int np = w->nparts, rc = SL_OK;
    int64_t n = b ? b->n : 0;
    stream_msg m = {NULL, w->src[i].wm, i, STREAM_MSG_ROWS};
    if (!n)
        sql_batch_free(b);
    if (np == 1 || !n) {
        for (int o = 0; o < np && !rc; o++) {
            m.b = o == 0 && n ? b : NULL;
            rc = post(&w->parts[o], &m);
        }
        return rc;
    }
    uint64_t *h = sl_malloc(sizeof *h * (size_t)n);
    uint32_t *pick = sl_malloc(sizeof *pick * (size_t)n);
    sql_vec kv = {b->cols[w->kcol[i]], false}; /* borrowed */
    rc = h && pick && !sql_ht_hash(&w->hk, &kv, n, h) ? SL_OK : oom(e);
    for (int o = 0; o < np && !rc; o++) {
        int64_t k = 0;
        for (int64_t r = 0; r < n; r++)
            if (stream_owner_of(h[r], np) == o)
                pick[k++] = (uint32_t)r;
        m.b = NULL;
        if (k == n) { /* every row: the batch itself */
            m.b = b;
            b = NULL;
        } else if (k && sql_batch_take(b, pick, k, &m.b)) {
            rc = oom(e);
            break;
        }
        rc = post(&w->parts[o], &m);
    }
    sl_free(h);
    sl_free(pick);
    sql_batch_free(b);
    return rc;
}

static bool hashes_alike(sql_type a, sql_type b)
{
    switch (a.id) {
    case ST_BOOL: case ST_INT2: case ST_INT4: case ST_INT8: case ST_TEXT: case ST_VARCHAR:
    case ST_DATE: case ST_TIMESTAMP: case ST_TIMESTAMPTZ: case ST_UUID:
        return a.id == b.id;
    default: return false;
    }
}

/* An equality key of the join that is a plain column of each source, of a type
 * that hashes alike on both sides: the partition key (false: none). */
static bool find_key(ij *w)
{
    const sql_plan *jp = w->bd.join;
    for (int k = 0; k < jp->join.nkeys; k++) {
        const sql_expr *l = jp->join.lkeys[k], *r = jp->join.rkeys[k];
        if (l->kind != SE_COL || r->kind != SE_COL)
            continue;
        int a = source_col(jp->child, l->col), b = source_col(jp->right, r->col);
        if (a < 0 || b < 0 || a >= w->src[0].t->ncols || b >= w->src[1].t->ncols ||
            !hashes_alike(w->src[0].t->types[a], w->src[1].t->types[b]))
            continue;
        w->kcol[0] = a;
        w->kcol[1] = b;
        return true;
    }
    return false;
}

static int parts_open(ij *w, int nw, sql_err *e)
{
    stream_job *j = w->j;
    w->threaded = nw > 1 && find_key(w) && !sql_ht_init(&w->hk, 1, &w->src[0].t->types[w->kcol[0]], true);
    w->nparts = w->threaded ? nw : 1;
    if (!(w->parts = sl_calloc((size_t)w->nparts, sizeof *w->parts)))
        return oom(e);
    for (int k = 0; k < w->nparts; k++) {
        part *p = &w->parts[k];
        p->w = w;
        p->wm[0] = p->wm[1] = p->applied = STREAM_WM_NONE;
        p->sv.nsrc = 2;
        for (int i = 0; i < 2; i++) {
            p->sv.src[i] = w->src[i].t;
            sql_rows_init(&p->kept[i], w->src[i].t->ncols, w->src[i].t->types);
        }
        p->s = j->r->s;
        if (!w->threaded)
            continue;
        if (sql_session_new_like(j->r->s, &p->s)) {
            p->s = NULL;
            return oom(e);
        }
        stream_bell_init(&p->bell);
        if (stream_ring_init(&p->ring, RING_CAP, &p->bell, &w->bell))
            return oom(e);
        if (pthread_create(&p->th, NULL, part_main, p))
            return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "cannot start a join thread");
        p->started = true;
    }
    return SL_OK;
}

/* Ends the partitions' threads (their rings drained) and frees them. */
static void parts_close(ij *w)
{
    for (int k = 0; w->parts && k < w->nparts; k++) {
        part *p = &w->parts[k];
        if (p->started) {
            stream_msg end = {NULL, 0, 0, STREAM_MSG_DONE};
            post(p, &end);
            pthread_join(p->th, NULL);
        }
        if (w->threaded) {
            sql_session_free(p->s);
            stream_ring_free(&p->ring); /* what a failed partition left */
        }
        for (int i = 0; i < 2; i++)
            sql_rows_free(&p->kept[i]);
    }
    sl_free(w->parts);
    if (w->threaded)
        sql_ht_free(&w->hk);
}

/* ---- checkpoints ----------------------------------------------------------- */

static bool all_at_barrier(void *arg)
{
    ij *w = arg;
    return atomic_load(&w->at_barrier) == w->nparts || atomic_load(&w->failed);
}

/* Source i's row sets: the rows its side keeps in each partition. */
typedef struct kept_rows {
    ij *w;
    int i;
} kept_rows;

static const sql_rows *kept_rows_at(void *arg, int k)
{
    kept_rows *kr = arg;
    return &kr->w->parts[k].kept[kr->i];
}

/* Takes a checkpoint when one is due: every partition first applies what it was
 * sent (a barrier through each ring; with one partition, nothing is pending). */
static int ckpt_tick(ij *w, sql_err *e)
{
    stream_job *j = w->j;
    if (!stream_ckpt_join_due(j))
        return SL_OK;
    uint64_t seq = j->ckpt_done + 1;
    int rc = SL_OK;
    if (w->threaded) {
        atomic_store(&w->at_barrier, 0);
        stream_msg m = {NULL, 0, (int64_t)seq, STREAM_MSG_BARRIER};
        for (int k = 0; k < w->nparts && !rc; k++)
            rc = post(&w->parts[k], &m);
        while (!all_at_barrier(w))
            stream_bell_wait(&w->bell, all_at_barrier, w);
    }
    if (atomic_load(&w->failed))
        return SL_EINVAL; /* (the partition's error is reported) */
    for (int i = 0; i < 2 && !rc; i++) {
        kept_rows kr = {w, i};
        rc = stream_ckpt_source_save(j, seq, i, &w->src[i], STREAM_WM_NONE, w->nparts,
                                     kept_rows_at, &kr, e);
    }
    return stream_ckpt_join_commit(j, seq, rc, e);
}

typedef struct load_ctx {
    ij *w;
    int i;
    sql_err *e;
} load_ctx;

/* Saved kept rows of side i (b taken) into their partitions, as routing cuts
 * them; no partition has started reading its ring yet. */
static int load_kept(void *arg, sql_batch *b)
{
    load_ctx *c = arg;
    ij *w = c->w;
    int i = c->i, np = w->nparts;
    int64_t n = b->n;
    uint64_t *h = np > 1 ? sl_malloc(sizeof *h * (size_t)(n ? n : 1)) : NULL;
    uint32_t *pick = np > 1 ? sl_malloc(sizeof *pick * (size_t)(n ? n : 1)) : NULL;
    sql_vec kv = {b->cols[w->kcol[i]], false}; /* borrowed */
    int rc = np == 1 || (h && pick && !sql_ht_hash(&w->hk, &kv, n, h)) ? SL_OK : SL_ENOMEM;
    for (int o = 0; o < np && !rc; o++) {
        part *p = &w->parts[o];
        sql_batch *mine = NULL;
        int64_t k = 0;
        for (int64_t r = 0; np > 1 && r < n; r++)
            if (stream_owner_of(h[r], np) == o)
                pick[k++] = (uint32_t)r;
        if (np == 1)
            mine = b, b = NULL;
        else if (k && sql_batch_take(b, pick, k, &mine))
            rc = SL_ENOMEM;
        if (mine) {
            mine->types = p->kept[i].types;
            int64_t before = p->kept[i].mem;
            if (sql_rows_add(&p->kept[i], mine))
                rc = SL_ENOMEM;
            p->mem += p->kept[i].mem - before;
            stream_state_add(w->j, p->kept[i].mem - before);
        }
    }
    sl_free(h);
    sl_free(pick);
    sql_batch_free(b);
    return rc;
}

/* A resumed job: each source's reader and watermark, each kept row put back. */
static int restore(ij *w, sql_err *e)
{
    int rc = SL_OK;
    for (int i = 0; i < 2 && !rc; i++) {
        load_ctx c = {w, i, e};
        int64_t next;
        rc = stream_ckpt_source_restore(w->j, i, &w->src[i], &next, load_kept, &c, e);
        for (int k = 0; k < w->nparts && !rc; k++)
            w->parts[k].wm[i] = w->src[i].wm;
    }
    return rc;
}

int stream_ijoin_exec(stream_job *j, int nw)
{
    sql_err *e = j->e;
    ij w;
    memset(&w, 0, sizeof w);
    w.j = j;
    pthread_mutex_init(&w.mu, NULL);
    stream_bell_init(&w.bell);
    find(&w.bd, j->q->root->p);
    w.view = stream_sink_view(j->sink);
    if (w.view && !w.view->record_wm)
        w.view = NULL;
    int rc = SL_OK;
    int ahead = nw < 2 ? 0 : nw / 2 > 1 ? nw / 2 : 1;
    for (int i = 0; i < 2 && !rc; i++)
        rc = stream_source_open(w.bd.src[i], j->r->o->input_dir, j->stop, ahead, j->ckpt != NULL,
                                stream_job_src_pub(j, w.bd.src[i]), &w.src[i], e);
    if (!rc)
        rc = parts_open(&w, nw, e);
    if (!rc && j->ckpt) {
        stream_ckpt_join_begin(j, nw, 2);
        if (j->resuming && !(rc = restore(&w, e)))
            stream_ckpt_resumed(j);
    }
    while (!rc && !(w.src[0].ended && w.src[1].ended) && !atomic_load(&w.failed) &&
           !(j->stop && atomic_load_explicit(j->stop, memory_order_relaxed))) {
        if ((rc = ckpt_tick(&w, e)))
            break;
        for (int i = 0; i < 2 && !rc; i++) {
            sql_batch *b;
            if (!w.src[i].ended && !(rc = stream_source_next(&w.src[i], &b, e)))
                rc = route(&w, i, b, e);
        }
    }
    parts_close(&w);
    if (atomic_load(&w.failed)) {
        *e = w.err;
        rc = rc ? rc : SL_EINVAL;
    }
    for (int i = 0; i < 2; i++) {
        if (!rc)
            stream_source_figures(&w.src[i]);
        stream_source_close(&w.src[i]);
    }
    pthread_mutex_destroy(&w.mu);
    return rc;
}
