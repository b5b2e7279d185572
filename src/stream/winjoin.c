/*
 * winjoin.c - jobs that are local to windows: joins of window results on the
 * window columns, joins of windowed streams on them, aggregates of
 * aggregates per window (Nexmark q5, q7, q8).
 *
 * When every stream a query reads is read through the same tumble or hop
 * window, every join between two of them equates their window_start (or
 * window_end), and every GROUP BY above a stream groups by one of them, then
 * the result rows of a window depend on that window's rows alone: the
 * result is the union over windows of the batch query run over one window's
 * rows.  This driver does exactly that:
 *
 *   reading   each source in line order through the file connector's reader
 *             (lateness and watermarks as everywhere; wholesrc.c), a batch of
 *             each in turn; every on-time row is kept in its pane (panes are
 *             gcd(size, slide) wide: every window is a run of whole panes),
 *             per source, a batch whose rows share a pane without a copy
 *   closing   when the minimum of the sources' watermarks reaches a window's
 *             end (rule 6), the window is handed over with its panes' rows
 *             shared, and the panes no later window covers are freed
 *   running   the statement's SELECT is planned again and run by the batch
 *             engine with each windowed scan reading only that window's rows
 *             (a static table is read whole), at once with one worker, else
 *             on a pool of --workers threads; the calling thread writes the
 *             results to the sink window after window, in window_end order
 *
 * State is the rows of held panes (bounded by the watermark's progress and
 * counted against work_mem); windows in flight are at most twice the
 * workers.
 *
 * Checkpoints (files, followed or not, the generator, kafka topics): each
 * source's reader
 * keeps its place after every batch it hands over (wholesrc.c), so the place
 * saved is that of the rows taken.  Every interval, between two steps, the windows in flight are
 * written, then each source's part (its reader's place, its watermark, the
 * next window to hand over and its rows in the held panes) and the commit
 * (the sink's length, the view's rows) go to the store.  A resumed job puts
 * the readers back, the rows into their panes, and goes on.
 */
#include "stream/job.h"

#include "base/alloc.h"
#include "base/dbuf.h"
#include "base/pool.h"

#include <string.h>

#define MAX_SRC 8
/* A batch at least this long whose rows share a pane is kept as it is; a shorter
 * one (a paced generator's few due events, in buffers sized for a full batch) is
 * copied down to its rows, so that kept bytes follow kept rows. */
#define KEEP_WHOLE_ROWS 1024

/* A pane: the on-time rows of [start, start + pane width) of each source (the
 * source's columns).  Panes tile time; a window is the panes it covers. */
typedef struct wj_pane {
    int64_t start;
    sql_rows rows[MAX_SRC];
} wj_pane;

/* A closed window's rows: its panes' batches, shared (refcounted buffers). */
typedef struct wj_win {
    int64_t start;
    sql_rows rows[MAX_SRC];
} wj_win;



/* ---- which plans are local to windows ---------------------------------- */

typedef struct shape {
    stream_table *src[MAX_SRC];
    int nsrc;
    stream_win win;
    bool have_win;
    const char *why;         /* why not (NULL: it fits) */
} shape;

bool stream_plan_reads_stream(const sql_plan *p)
{
    const stream_win *w;
    if (!p)
        return false;
    if (p->kind == SP_SCAN && stream_scan_source(p->scan.table, &w))
        return true;
    return stream_plan_reads_stream(p->child) || stream_plan_reads_stream(p->right);
}

#define reads_stream stream_plan_reads_stream

static void add_sources(const sql_plan *p, stream_table **out, int max, int *n)
{
    const stream_win *w;
    if (!p)
        return;
    stream_table *t = p->kind == SP_SCAN ? stream_scan_source(p->scan.table, &w) : NULL;
    bool seen = !t;
    for (int i = 0; i < *n && !seen; i++)
        seen = out[i] == t;
    if (!seen && *n < max)
        out[(*n)++] = t;
    add_sources(p->child, out, max, n);
    add_sources(p->right, out, max, n);
}

int stream_plan_sources(const sql_plan *p, stream_table **out, int max)
{
    int n = 0;
    add_sources(p, out, max, &n);
    return n;
}

/* Output column col of p: 1 a window_start, 2 a window_end, 0 anything else. */
static int win_col(const sql_plan *p, int col)
{
    const stream_win *w;
    const stream_table *src;
    const sql_expr *x;
    switch (p->kind) {
    case SP_SCAN:
        src = stream_scan_source(p->scan.table, &w);
        if (!src || !w)
            return 0;
        return p->scan.cols[col] == src->ncols ? 1 : p->scan.cols[col] == src->ncols + 1 ? 2 : 0;
    case SP_FILTER: return win_col(p->child, col);
    case SP_PROJECT:
        x = p->project.exprs[col];
        return x->kind == SE_COL ? win_col(p->child, x->col) : 0;
    case SP_AGG:
        if (col >= p->agg.nkeys)
            return 0;
        x = p->agg.keys[col];
        return x->kind == SE_COL ? win_col(p->child, x->col) : 0;
    case SP_JOIN:
        return col < p->child->ncols ? win_col(p->child, col)
                                     : win_col(p->right, col - p->child->ncols);
    default: return 0;
    }
}

static void check(shape *s, const sql_plan *p)
{
    if (!p || s->why)
        return;
    const stream_win *w;
    stream_table *src;
    bool found;
    switch (p->kind) {
    case SP_SCAN:
        if (!(src = stream_scan_source(p->scan.table, &w)))
            return; /* a static table: read whole by every window's run */
        if (!w || w->session) {
            s->why = w ? "session windows" : "a stream read without a window";
            return;
        }
        if (s->have_win && (w->size_ns != s->win.size_ns || w->slide_ns != s->win.slide_ns)) {
            s->why = "windows of different sizes";
            return;
        }
        s->win = *w;
        s->have_win = true;
        found = false;
        for (int i = 0; i < s->nsrc; i++)
            found |= s->src[i] == src;
        if (!found && s->nsrc == MAX_SRC)
            s->why = "this many sources";
        else if (!found)
            s->src[s->nsrc++] = src;
        return;
    case SP_FILTER:
    case SP_PROJECT:
        if (p->kind == SP_PROJECT && p->project.srf)
            s->why = "set-returning functions";
        break;
    case SP_AGG:
        found = !reads_stream(p->child);
        for (int k = 0; k < p->agg.nkeys && !found; k++)
            found = p->agg.keys[k]->kind == SE_COL && win_col(p->child, p->agg.keys[k]->col);
        if (!found)
            s->why = "a GROUP BY over a stream without window_start or window_end";
        break;
    case SP_JOIN:
        found = !reads_stream(p->child) || !reads_stream(p->right);
        for (int k = 0; k < p->join.nkeys && !found; k++) {
            const sql_expr *l = p->join.lkeys[k], *r = p->join.rkeys[k];
            int a = l->kind == SE_COL ? win_col(p->child, l->col) : 0;
            found = a && r->kind == SE_COL && win_col(p->right, r->col) == a;
        }
        if (!found)
            s->why = "a join of two streams not on their window_start or window_end (interval "
                     "joins are not supported yet)";
        break;
    default: s->why = "this kind of query"; return;
    }
    check(s, p->child);
    check(s, p->right);
}

bool stream_winjoin_fits(const sql_plan *root, const char **why)
{
    shape s;
    memset(&s, 0, sizeof s);
    check(&s, root);
    *why = s.why;
    return !s.why && s.nsrc > 0;
}

int stream_winjoin_out_col(const sql_plan *root, int col, stream_win *win)
{
    shape s;
    memset(&s, 0, sizeof s);
    check(&s, root);
    *win = s.win;
    return win_col(root, col);
}

/* ---- running ------------------------------------------------------------- */

typedef struct wj {
    stream_job *j;
    stream_serving sv;       /* the sources (cur[] is set per window, on a copy) */
    stream_win win;
    int64_t pane_ns;         /* gcd(size, slide): a row is in one pane */
    stream_source s[MAX_SRC];
    wj_pane *panes;          /* held panes by start */
    int npanes, cap;
    int64_t next_start;      /* windows starting before it are handed over */
    bool any_closed;
    pool pool;               /* closed windows run side by side (more than one worker) */
    bool pooled;
    size_t max_busy;         /* windows handed over and not yet written, at most */
    bool preformat;          /* the sink takes bytes: a window formats its own rows */
    int64_t counted;         /* the panes' bytes as last added to the job's state */
} wj;

/* A closed window on its way to the sink: run (on a pool thread, or on the
 * calling thread with one worker), then written in window order. */
typedef struct wj_task {
    pool_task t;
    wj *w;
    wj_win win;              /* its rows, shared with the panes */
    sql_rows out;            /* the result rows (a sink taking batches) */
    dbuf bytes;              /* ... or their lines (a sink taking bytes) */
    uint64_t nrows;
    sql_err e;
} wj_task;

static int oom(sql_err *e)
{
    return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
}

/* floor(a / b) for b > 0. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return q - (a % b != 0 && a < 0);
}

static int64_t gcd(int64_t a, int64_t b)
{
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static wj_pane *pane_at(wj *w, int64_t start)
{
    int lo = stream_win_lower_bound(w->panes, w->npanes, sizeof *w->panes, start);
    if (lo < w->npanes && w->panes[lo].start == start)
        return &w->panes[lo];
    if (w->npanes == w->cap) {
        int nc = w->cap ? w->cap * 2 : 16;
        wj_pane *n = sl_realloc(w->panes, sizeof *n * (size_t)nc);
        if (!n)
            return NULL;
        w->panes = n;
        w->cap = nc;
    }
    memmove(&w->panes[lo + 1], &w->panes[lo], sizeof *w->panes * (size_t)(w->npanes - lo));
    wj_pane *np = &w->panes[lo];
    memset(np, 0, sizeof *np);
    np->start = start;
    for (int i = 0; i < w->sv.nsrc; i++)
        sql_rows_init(&np->rows[i], w->sv.src[i]->ncols, w->sv.src[i]->types);
    w->npanes++;
    return np;
}

static void rows_free(sql_rows *rows, int nsrc)
{
    for (int i = 0; i < nsrc; i++)
        sql_rows_free(&rows[i]);
}

/*
 * The on-time rows of source i's batch b (taken) into their panes: the batch
 * itself when its rows share one pane (the usual case: a batch spans less
 * time than a pane) and it is not short, else one part per pane.  Rows with a NULL event time are
 * in no window.
 */
static int assign(wj *w, int i, sql_batch *b, sql_err *e)
{
    stream_table *t = w->sv.src[i];
    const col_vec *ts = &b->cols[t->time_col];
    int64_t n = b->n, lo = INT64_MAX, hi = INT64_MIN;
    int64_t *pn = sl_malloc(sizeof *pn * (size_t)(n + 1));
    uint32_t *pick = sl_malloc(sizeof *pick * (size_t)(n + 1));
    int rc = pn && pick ? SL_OK : oom(e);
    bool nulls = false;
    for (int64_t r = 0; !rc && r < n; r++) {
        if (!col_vec_is_valid(ts, r)) {
            pn[r] = INT64_MIN;
            nulls = true;
            continue;
        }
        pn[r] = floor_div(col_vec_i64(ts, r), w->pane_ns);
        lo = pn[r] < lo ? pn[r] : lo;
        hi = pn[r] > hi ? pn[r] : hi;
    }
    while (!rc && lo <= hi) {
        int64_t m = 0, next = INT64_MAX;
        for (int64_t r = 0; r < n; r++) {
            if (pn[r] == lo)
                pick[m++] = (uint32_t)r;
            else if (pn[r] > lo && pn[r] < next)
                next = pn[r];
        }
        wj_pane *p = pane_at(w, lo * w->pane_ns);
        sql_batch *part = NULL;
        if (!p) {
            rc = oom(e);
        } else if (m == n && !nulls && n >= KEEP_WHOLE_ROWS) {
            part = b;
            b = NULL;
        } else if (sql_batch_take(b, pick, m, &part)) {
            rc = oom(e);
        }
        if (part) {
            part->types = t->types;
            if (sql_rows_add(&p->rows[i], part))
                rc = oom(e);
        }
        lo = next;
    }
    sql_batch_free(b);
    sl_free(pn);
    sl_free(pick);
    return rc;
}

/* rows shared into *out (batches of their own over the same buffers). */
static int share_rows(const sql_rows *rows, sql_rows *out)
{
    for (int k = 0; k < rows->nb; k++) {
        const sql_batch *in = rows->b[k];
        sql_batch *c;
        if (sql_batch_new(in->ncols, in->types, &c))
            return SL_ENOMEM;
        for (int x = 0; x < in->ncols; x++) {
            col_vec_release(&c->cols[x]);
            sql_vec_share(&in->cols[x], &c->cols[x]);
        }
        c->n = in->n;
        if (sql_rows_add(out, c))
            return SL_ENOMEM;
    }
    return SL_OK;
}

static void task_free(wj_task *tk)
{
    rows_free(tk->win.rows, tk->w->sv.nsrc);
    sql_rows_free(&tk->out);
    dbuf_free(&tk->bytes);
    sl_free(tk);
}

/* A window's result rows as the sink's lines (rows taken). */
static int format_rows(wj_task *tk)
{
    stream_sink_fmt *f;
    if (stream_sink_fmt_new(tk->w->j->sink, &f))
        return oom(&tk->e);
    int rc = SL_OK;
    for (int k = 0; k < tk->out.nb; k++) {
        sql_batch *b = tk->out.b[k];
        tk->out.b[k] = NULL;
        tk->nrows += (uint64_t)b->n;
        if (!rc)
            rc = stream_sink_format(f, b, &tk->bytes, &tk->e);
        else
            sql_batch_free(b);
    }
    tk->out.nb = 0;
    stream_sink_fmt_free(f);
    return rc;
}

/* The statement's SELECT over the task's window, into its result; run on a pool
 * thread with a session of its own (a session serves one thread at a time). */
static void run_task(pool_task *pt)
{
    wj_task *tk = pt->arg;
    wj *w = tk->w;
    stream_job *j = w->j;
    stream_serving sv = w->sv;
    for (int i = 0; i < sv.nsrc; i++)
        sv.cur[i] = &tk->win.rows[i];
    sv.win_start = tk->win.start;
    sv.win_end = tk->win.start + w->win.size_ns;
    sql_session *s = NULL;
    int rc = w->pooled && sql_session_new_like(j->r->s, &s) ? oom(&tk->e) : SL_OK;
    if (!rc)
        rc = stream_serve_query(s ? s : j->r->s, j->text, j->q->types, j->sink, &sv, &tk->out,
                                &tk->e);
    sql_session_free(s);
    rows_free(tk->win.rows, sv.nsrc);
    if (!rc && w->preformat)
        rc = format_rows(tk);
    pt->rc = rc;
}

/* Into a view: every window ending by g is in its rows (a job reading the view
 * moves its watermark with it; source_view.c). */
static void publish_closed(wj *w, int64_t g)
{
    stream_view *v = stream_sink_view(w->j->sink);
    if (v && v->mu && g != STREAM_WM_NONE && g > atomic_load(&v->closed_wm))
        atomic_store(&v->closed_wm, g);
}

/* Writes a run window's result to the sink (or, after a failure, only frees it). */
static int collect(wj *w, wj_task *tk, int failed, sql_err *e)
{
    int rc = failed ? failed : tk->t.rc;
    if (!failed && rc)
        *e = tk->e;
    if (!rc && w->preformat && tk->bytes.len)
        rc = stream_sink_write_bytes(w->j->sink, tk->bytes.p, tk->bytes.len, tk->nrows, e);
    for (int k = 0; k < tk->out.nb; k++) {
        if (!rc)
            rc = stream_sink_write(w->j->sink, tk->out.b[k], e);
        else
            sql_batch_free(tk->out.b[k]);
        tk->out.b[k] = NULL;
    }
    tk->out.nb = 0;
    if (!rc) /* windows are written in order of end */
        publish_closed(w, tk->win.start + w->win.size_ns);
    task_free(tk);
    return failed ? failed : rc;
}

/* Writes the handed-over windows that are done, in order (wait: all of them). */
static int drain(wj *w, bool wait, int failed, sql_err *e)
{
    pool_task *t;
    int rc = failed;
    while (w->pooled && (wait ? pool_next(&w->pool, &t) : pool_try_next(&w->pool, &t)) == SL_OK)
        rc = collect(w, t->arg, rc, e);
    return rc;
}

/* Runs the window starting at start over the panes it covers: at once with one
 * worker, else on the pool, first writing the oldest handed-over window while
 * max_busy are. */
static int hand_over(wj *w, int64_t start, sql_err *e)
{
    wj_task *tk = sl_calloc(1, sizeof *tk);
    if (!tk)
        return oom(e);
    tk->w = w;
    tk->win.start = start;
    tk->t.run = run_task;
    tk->t.arg = tk;
    sql_rows_init(&tk->out, w->j->q->ncols, w->j->q->types);
    dbuf_init(&tk->bytes, (size_t)1 << 31);
    int rc = SL_OK;
    for (int i = 0; i < w->sv.nsrc; i++)
        sql_rows_init(&tk->win.rows[i], w->sv.src[i]->ncols, w->sv.src[i]->types);
    for (int k = 0; k < w->npanes && !rc && w->panes[k].start < start + w->win.size_ns; k++)
        for (int i = 0; i < w->sv.nsrc && !rc && w->panes[k].start >= start; i++)
            rc = share_rows(&w->panes[k].rows[i], &tk->win.rows[i]) ? oom(e) : SL_OK;
    if (rc) {
        task_free(tk);
        return rc;
    }
    if (!w->pooled) {
        run_task(&tk->t);
        return collect(w, tk, SL_OK, e);
    }
    pool_task *t;
    while (!rc && pool_in_flight(&w->pool) >= w->max_busy && pool_next(&w->pool, &t) == SL_OK)
        rc = collect(w, t->arg, SL_OK, e);
    if (rc || pool_submit(&w->pool, &tk->t)) {
        task_free(tk);
        return rc ? rc : sql_err_set(e, SQLSTATE_INTERNAL, -1, "window pool cancelled");
    }
    return drain(w, false, SL_OK, e);
}

/*
 * Hands over the windows the watermark closed, in order of their end: the
 * first window holding the oldest pane (not one handed over already), while it
 * is closed; then the panes no later window covers are dropped.  A window is
 * run only if it holds rows, as when windows were kept one by one.
 */
static int close_windows(wj *w, int64_t wm, sql_err *e)
{
    int rc = SL_OK;
    int64_t size = w->win.size_ns, slide = w->win.slide_ns;
    while (!rc && w->npanes) {
        int64_t p0 = w->panes[0].start;
        /* the smallest k * slide with k * slide + size > p0 */
        int64_t start = (floor_div(p0 - size, slide) + 1) * slide;
        if (w->any_closed && start < w->next_start)
            start = w->next_start;
        int64_t keep_from;
        if (start > p0) { /* in no window (a hop whose slide exceeds its size) */
            keep_from = p0 + 1;
        } else if (stream_win_closed(start + size, wm)) {
            rc = hand_over(w, start, e);
            w->any_closed = true;
            w->next_start = keep_from = start + slide;
        } else {
            break;
        }
        int drop = 0;
        while (drop < w->npanes && w->panes[drop].start < keep_from) {
            rows_free(w->panes[drop].rows, w->sv.nsrc);
            drop++;
        }
        memmove(w->panes, w->panes + drop, sizeof *w->panes * (size_t)(w->npanes - drop));
        w->npanes -= drop;
    }
    return rc;
}

static int64_t state_mem(const wj *w)
{
    int64_t m = 0;
    for (int k = 0; k < w->npanes; k++)
        for (int i = 0; i < w->sv.nsrc; i++)
            m += w->panes[k].rows[i].mem;
    return m;
}

/* The panes' bytes into the job's state, checked against work_mem. */
static int account(wj *w, sql_err *e)
{
    int64_t m = state_mem(w), d = m - w->counted;
    w->counted = m;
    int64_t all = stream_state_add(w->j, d);
    return d > 0 ? stream_state_check(w->j, all, "The open windows' rows", e) : SL_OK;
}

/* One batch of source i; its reader's end sets its watermark to +infinity. */
static int step(wj *w, int i, sql_err *e)
{
    sql_batch *b;
    int rc = stream_source_next(&w->s[i], &b, e);
    if (rc || !b)
        return rc;
    rc = assign(w, i, b, e);
    return rc ? rc : account(w, e);
}

int64_t stream_state_add(stream_job *j, int64_t d)
{
    int64_t all = atomic_fetch_add(&j->state_mem, d) + d;
    int64_t p = atomic_load_explicit(&j->state_peak, memory_order_relaxed);
    while (all > p && !atomic_compare_exchange_weak(&j->state_peak, &p, all))
        ;
    return all;
}

int stream_state_check(stream_job *j, int64_t mem, const char *what, sql_err *e)
{
    int64_t limit = j->q->x.mem_limit;
    if (limit <= 0 || mem <= limit)
        return SL_OK;
    sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    sql_err_detail(e, "%s need more than work_mem (%lld kB).", what, (long long)(limit >> 10));
    return SL_ENOMEM;
}

/* ---- checkpoints ----------------------------------------------------------- */

bool stream_join_resumable(const stream_job *j)
{
    stream_table *src[MAX_SRC];
    int n = stream_plan_sources(j->q->root->p, src, MAX_SRC);
    for (int i = 0; i < n; i++)
        if (!stream_source_whole(src[i])) /* (its reader keeps its place) */
            return false;
    return n > 0;
}

/* Source i's row sets: its rows in each held pane. */
typedef struct pane_rows {
    wj *w;
    int i;
} pane_rows;

static const sql_rows *pane_rows_at(void *arg, int k)
{
    pane_rows *pr = arg;
    return &pr->w->panes[k].rows[pr->i];
}

static int drain(wj *w, bool wait, int failed, sql_err *e);
static void publish_closed(wj *w, int64_t g);

/* Takes a checkpoint when one is due: the windows in flight written first. */
static int ckpt_tick(wj *w, int64_t handed, sql_err *e)
{
    stream_job *j = w->j;
    if (!stream_ckpt_join_due(j))
        return SL_OK;
    int rc = drain(w, true, SL_OK, e);
    if (!rc)
        publish_closed(w, handed);
    uint64_t seq = j->ckpt_done + 1;
    /* with each source, the next window to hand over (none before the first) */
    int64_t next = w->any_closed ? w->next_start : STREAM_WM_NONE;
    for (int i = 0; i < w->sv.nsrc && !rc; i++) {
        pane_rows pr = {w, i};
        rc = stream_ckpt_source_save(j, seq, i, &w->s[i], next, w->npanes, pane_rows_at, &pr,
                                     e);
    }
    return stream_ckpt_join_commit(j, seq, rc, e);
}

typedef struct load_ctx {
    wj *w;
    int i;
    sql_err *e;
} load_ctx;

static int assign(wj *w, int i, sql_batch *b, sql_err *e);

static int load_rows(void *arg, sql_batch *b)
{
    load_ctx *c = arg;
    return assign(c->w, c->i, b, c->e) ? SL_ENOMEM : SL_OK;
}

/* A resumed job: each source's reader, watermark and held rows put back. */
static int restore(wj *w, sql_err *e)
{
    int rc = SL_OK;
    for (int i = 0; i < w->sv.nsrc && !rc; i++) {
        load_ctx c = {w, i, e};
        int64_t next;
        if (!(rc = stream_ckpt_source_restore(w->j, i, &w->s[i], &next, load_rows, &c, e))) {
            w->any_closed = next != STREAM_WM_NONE;
            w->next_start = w->any_closed ? next : 0;
        }
    }
    return rc;
}

static int open_source(wj *w, int i, int ahead, sql_err *e)
{
    stream_table *t = w->sv.src[i];
    return stream_source_open(t, w->j->r->o->input_dir, w->j->stop, ahead, w->j->ckpt != NULL,
                              stream_job_src_pub(w->j, t), &w->s[i], e);
}

int stream_winjoin_exec(stream_job *j, int nw)
{
    sql_err *e = j->e;
    wj w;
    memset(&w, 0, sizeof w);
    w.j = j;
    shape s;
    memset(&s, 0, sizeof s);
    check(&s, j->q->root->p);
    memcpy(w.sv.src, s.src, sizeof s.src);
    w.sv.nsrc = s.nsrc;
    w.win = s.win;
    w.pane_ns = gcd(w.win.size_ns, w.win.slide_ns);
    w.preformat = stream_sink_preformat(j->sink);
    int rc = SL_OK;
    int ahead = nw < 2 ? 0 : nw / w.sv.nsrc > 1 ? nw / w.sv.nsrc : 1;
    for (int i = 0; i < w.sv.nsrc && !rc; i++)
        rc = open_source(&w, i, ahead, e);
    if (!rc && j->ckpt) {
        stream_ckpt_join_begin(j, nw, w.sv.nsrc);
        if (j->resuming && !(rc = restore(&w, e)))
            stream_ckpt_resumed(j);
    }
    if (!rc && nw > 1) {
        errmsg em;
        errmsg_clear(&em);
        w.max_busy = 2 * (size_t)nw;
        if (pool_init(&w.pool, (unsigned)nw, w.max_busy, &em))
            rc = sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "%s", errmsg_str(&em));
        w.pooled = !rc;
    }
    bool stopped = false;
    int64_t handed = STREAM_WM_NONE; /* the windows it closed are handed over */
    for (int live = w.sv.nsrc; !rc && live && !stopped;) {
        /* a server's job stop ends the job as if its inputs ended */
        stopped = j->stop && atomic_load_explicit(j->stop, memory_order_relaxed);
        if ((rc = ckpt_tick(&w, handed, e)))
            break;
        live = 0;
        for (int i = 0; i < w.sv.nsrc && !rc; i++)
            if (!w.s[i].ended) {
                /* a followed file's or a topic's read waits for what comes next: the windows
                 * closed so far are written first, not after that line */
                if (w.pooled && stream_table_waits(w.s[i].t) && pool_in_flight(&w.pool) &&
                    !(rc = drain(&w, true, SL_OK, e)))
                    publish_closed(&w, handed);
                if (!rc)
                    rc = step(&w, i, e);
                live += !w.s[i].ended;
            }
        int64_t mn = STREAM_WM_END;
        for (int i = 0; i < w.sv.nsrc; i++)
            mn = w.s[i].wm < mn ? w.s[i].wm : mn;
        if (!rc)
            rc = close_windows(&w, handed = stopped ? STREAM_WM_END : mn, e);
        if (!rc)
            rc = account(&w, e); /* the panes the closing dropped */
        /* none in flight: every window the watermark closed is written */
        if (!rc && (!w.pooled || !pool_in_flight(&w.pool)))
            publish_closed(&w, handed);
    }
    if (rc && w.pooled)
        pool_cancel(&w.pool);
    rc = drain(&w, true, rc, e);
    if (w.pooled)
        pool_destroy(&w.pool);
    for (int k = 0; k < w.npanes; k++)
        rows_free(w.panes[k].rows, w.sv.nsrc);
    sl_free(w.panes);
    for (int i = 0; i < w.sv.nsrc; i++) {
        if (!rc)
            stream_source_figures(&w.s[i]);
        stream_source_close(&w.s[i]);
    }
    return rc;
}
