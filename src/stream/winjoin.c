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
 *             (lateness and watermarks as everywhere), a batch of each in
 *             turn; every on-time row is copied into the window(s) holding
 *             it, kept per window and per source
 *   closing   when the minimum of the sources' watermarks reaches a window's
 *             end (rule 6), the statement's SELECT is planned again and run by
 *             the batch engine with each windowed scan reading only that
 *             window's rows (a static table is read whole, as in a lookup);
 *             its rows go to the sink, window after window in window_end
 *             order, and the window's rows are freed
 *
 * State is the rows of open windows (bounded by the watermark's progress and
 * counted against work_mem).  The job runs on the calling thread: --workers
 * does not change it (this version does not spread windows over workers).
 */
#include "stream/job.h"

#include "base/alloc.h"

#include <string.h>

#define MAX_SRC 8

typedef struct wj_win {
    int64_t start;
    sql_rows rows[MAX_SRC];  /* per source: its rows with window_start and window_end */
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

/* ---- the scans of a window's run ----------------------------------------- */

typedef struct wj_scan {
    sql_scan s;
    const sql_rows *rows;
    int next;
    int ncols;
    const int *cols;
    const sql_type *types;
} wj_scan;

static int wj_next(sql_scan *s, sql_batch **out, sql_err *e)
{
    wj_scan *w = (wj_scan *)s;
    *out = NULL;
    if (w->next >= w->rows->nb)
        return SL_OK;
    const sql_batch *in = w->rows->b[w->next++];
    if (sql_batch_new(w->ncols, NULL, out))
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    (*out)->types = w->types;
    for (int c = 0; c < w->ncols; c++)
        sql_vec_share(&in->cols[w->cols[c]], &(*out)->cols[c]);
    (*out)->n = in->n;
    return SL_OK;
}

static void wj_close(sql_scan *s)
{
    sl_free(s);
}

static const sql_scan_ops g_wj_scan = {wj_next, wj_close};

int stream_serving_open(stream_table *src, const sql_type *types, const sql_scan_req *req,
                        sql_scan **out, sql_err *e)
{
    stream_serving *sv = src->run->serving;
    int i = 0;
    while (i < sv->nsrc && sv->src[i] != src)
        i++;
    if (i == sv->nsrc || !sv->cur[i])
        return sql_err_set(e, SQLSTATE_INTERNAL, -1, "\"%s\" is not served", src->name);
    wj_scan *s = sl_calloc(1, sizeof *s);
    if (!s)
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    s->s.ops = &g_wj_scan;
    s->rows = sv->cur[i];
    s->ncols = req->ncols;
    s->cols = req->cols;
    sql_type *ty = NULL;
    if (req->ncols && !(ty = arena_alloc(&src->run->a, sizeof *ty * (size_t)req->ncols))) {
        sl_free(s);
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    }
    for (int c = 0; c < req->ncols; c++)
        ty[c] = types[req->cols[c]];
    s->types = ty;
    *out = &s->s;
    return SL_OK;
}

/* ---- running ------------------------------------------------------------- */

typedef struct wj {
    stream_job *j;
    stream_serving sv;
    stream_win win;
    stream_source s[MAX_SRC];
    wj_win *wins;            /* open windows by start */
    int nwins, cap;
    int64_t mem;
    sql_type *types[MAX_SRC]; /* a source's columns, window_start, window_end */
} wj;

static int oom(sql_err *e)
{
    return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
}

static wj_win *window_at(wj *w, int64_t start)
{
    int lo = stream_win_lower_bound(w->wins, w->nwins, sizeof *w->wins, start);
    if (lo < w->nwins && w->wins[lo].start == start)
        return &w->wins[lo];
    if (w->nwins == w->cap) {
        int nc = w->cap ? w->cap * 2 : 16;
        wj_win *n = sl_realloc(w->wins, sizeof *n * (size_t)nc);
        if (!n)
            return NULL;
        w->wins = n;
        w->cap = nc;
    }
    memmove(&w->wins[lo + 1], &w->wins[lo], sizeof *w->wins * (size_t)(w->nwins - lo));
    wj_win *nw = &w->wins[lo];
    memset(nw, 0, sizeof *nw);
    nw->start = start;
    for (int i = 0; i < w->sv.nsrc; i++)
        sql_rows_init(&nw->rows[i], w->sv.src[i]->ncols + 2, w->types[i]);
    w->nwins++;
    return nw;
}

static void window_free(wj_win *win, int nsrc)
{
    for (int i = 0; i < nsrc; i++)
        sql_rows_free(&win->rows[i]);
}

/* Rows rows[0..m) of b, with window_start s and window_end, as a batch of the
 * window table's columns. */
static int window_rows(wj *w, int i, const sql_batch *b, const uint32_t *rows, int64_t m,
                       int64_t s, sql_batch **out)
{
    stream_table *t = w->sv.src[i];
    int rc = sql_batch_new(t->ncols + 2, w->types[i], out);
    sql_sel sel = {(uint32_t *)rows, m};
    for (int c = 0; !rc && c < t->ncols; c++) {
        col_vec_release(&(*out)->cols[c]);
        rc = sql_vec_gather(&b->cols[c], &sel, &(*out)->cols[c]);
    }
    for (int c = 0; !rc && c < 2; c++)
        for (int64_t q = 0; q < m && !rc; q++)
            rc = col_vec_append_i64(&(*out)->cols[t->ncols + c], s + (c ? w->win.size_ns : 0));
    if (!rc)
        (*out)->n = m;
    return rc;
}

/* The rows of source i's batch b into the windows holding them (b kept). */
static int assign(wj *w, int i, const sql_batch *b, sql_err *e)
{
    stream_table *t = w->sv.src[i];
    const col_vec *ts = &b->cols[t->time_col];
    int64_t per = w->win.size_ns / w->win.slide_ns + 1, np = 0, nd = 0;
    int64_t *ps = sl_malloc(sizeof *ps * (size_t)(b->n * per + 1));
    int64_t *dist = sl_malloc(sizeof *dist * (size_t)(b->n * per + 1));
    uint32_t *pr = sl_malloc(sizeof *pr * (size_t)(b->n * per + 1));
    uint32_t *pick = sl_malloc(sizeof *pick * (size_t)(b->n + 1));
    int rc = ps && dist && pr && pick ? SL_OK : oom(e);
    for (int64_t r = 0; !rc && r < b->n; r++) {
        int64_t first;
        int k = col_vec_is_valid(ts, r) ? stream_win_assign(&w->win, col_vec_i64(ts, r), &first)
                                        : 0;
        for (int x = 0; x < k; x++, np++) {
            ps[np] = first + x * w->win.slide_ns;
            pr[np] = (uint32_t)r;
        }
    }
    for (int64_t q = 0; !rc && q < np; q++) {
        bool seen = false;
        for (int64_t d = nd - 1; d >= 0 && !seen; d--)
            seen = dist[d] == ps[q];
        if (seen)
            continue;
        dist[nd++] = ps[q];
        int64_t m = 0;
        for (int64_t x = q; x < np; x++)
            if (ps[x] == ps[q])
                pick[m++] = pr[x];
        wj_win *win = window_at(w, ps[q]);
        sql_batch *part = NULL;
        if (!win || window_rows(w, i, b, pick, m, ps[q], &part)) {
            sql_batch_free(part);
            rc = oom(e);
        } else if (sql_rows_add(&win->rows[i], part)) {
            rc = oom(e);
        }
    }
    sl_free(ps);
    sl_free(dist);
    sl_free(pr);
    sl_free(pick);
    return rc;
}

/* The statement's SELECT over window win's rows, into the sink. */
static int run_window(wj *w, wj_win *win, sql_err *e)
{
    stream_job *j = w->j;
    for (int i = 0; i < w->sv.nsrc; i++)
        w->sv.cur[i] = &win->rows[i];
    int rc = stream_serve_query(j, e);
    memset(w->sv.cur, 0, sizeof w->sv.cur);
    return rc;
}

int stream_serve_query(stream_job *j, sql_err *e)
{
    sql_query *q = NULL;
    int rc = sql_query_open_plan(j->r->s, j->text, &q, e);
    if (!rc && !(rc = sql_op_open(q->root))) {
        for (;;) {
            sql_batch *b;
            if ((rc = sql_op_next(q->root, &b)) || !b)
                break;
            b->types = j->q->types;
            if ((rc = stream_sink_write(j->sink, b, e)))
                break;
        }
    }
    if (rc && !e->state[0] && q && q->e->state[0])
        *e = *q->e;
    if (q)
        sql_query_close(q);
    return rc;
}

/* Runs and frees the windows the watermark closed, in order of their end. */
static int close_windows(wj *w, int64_t wm, sql_err *e)
{
    int done = 0, rc = SL_OK;
    for (; done < w->nwins && !rc && stream_win_closed(w->wins[done].start + w->win.size_ns, wm);
         done++) {
        rc = run_window(w, &w->wins[done], e);
        window_free(&w->wins[done], w->sv.nsrc);
    }
    memmove(w->wins, w->wins + done, sizeof *w->wins * (size_t)(w->nwins - done));
    w->nwins -= done;
    return rc;
}

static int64_t state_mem(const wj *w)
{
    int64_t m = 0;
    for (int k = 0; k < w->nwins; k++)
        for (int i = 0; i < w->sv.nsrc; i++)
            m += w->wins[k].rows[i].mem;
    return m;
}

/* One batch of source i; its reader's end sets its watermark to +infinity. */
static int step(wj *w, int i, sql_err *e)
{
    sql_batch *b;
    int rc = stream_source_next(&w->s[i], &b, e);
    if (rc || !b)
        return rc;
    rc = assign(w, i, b, e);
    sql_batch_free(b);
    return rc ? rc : stream_state_check(w->j, state_mem(w), "The open windows' rows", e);
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

/* ---- a source read whole, in line order (shared with ijoin.c) ------------ */

int stream_source_open(stream_job *j, stream_table *t, stream_source *s, sql_err *e)
{
    memset(s, 0, sizeof *s);
    s->t = t;
    s->wm = STREAM_WM_NONE;
    if (t->connector != STREAM_CONN_FILE && t->connector != STREAM_CONN_NEXMARK)
        return sql_err_set(e, SQLSTATE_FEATURE, -1, "source \"%s\": this job reads file and "
                           "nexmark sources only", t->name);
    if (stream_path_resolve(t->path, sizeof t->path, j->r->o->input_dir, t->path_opt))
        return sql_err_set(e, "22023", -1, "source \"%s\": path too long", t->name);
    int rc = stream_file_open(t, &s->f, e);
    stream_split *sp = NULL;
    int n = 0;
    const char *why;
    if (!rc && stream_file_split(s->f, 1, false, &sp, &n, &why))
        rc = oom(e);
    if (!rc) {
        stream_split whole = {.begin = 0, .end = n ? sp[n - 1].end : 0, .line = 1};
        rc = stream_reader_open(s->f, &whole, &s->rd, e);
    }
    sl_free(sp);
    return rc;
}

int stream_source_next(stream_source *s, sql_batch **out, sql_err *e)
{
    int64_t wm;
    int rc = stream_reader_next(s->rd, out, &wm, e);
    if (rc)
        return rc;
    if (!*out) {
        s->ended = true;
        s->wm = STREAM_WM_END;
    } else {
        s->wm = wm;
    }
    return SL_OK;
}

void stream_source_figures(stream_source *s)
{
    stream_table *t = s->t;
    uint64_t rd, late, bad;
    stream_reader_counts(s->rd, &rd, &late, &bad);
    t->rows_read = rd;
    t->late_dropped = late;
    t->bad_rows = bad;
    bool seen;
    int64_t mx;
    stream_reader_final_max(s->rd, &seen, &mx);
    stream_wm all;
    stream_wm_init(&all, t->delay_ns);
    if (seen)
        stream_wm_observe(&all, mx);
    t->watermark_ns = stream_wm_value(&all);
    t->read_once = true;
}

void stream_source_close(stream_source *s)
{
    stream_reader_close(s->rd);
    stream_file_close(s->f);
    s->rd = NULL;
    s->f = NULL;
}

static int open_source(wj *w, int i, sql_err *e)
{
    stream_table *t = w->sv.src[i];
    int rc = stream_source_open(w->j, t, &w->s[i], e);
    if (!rc && !(w->types[i] = sl_calloc((size_t)t->ncols + 2, sizeof *w->types[i])))
        rc = oom(e);
    for (int c = 0; !rc && c < t->ncols + 2; c++)
        w->types[i][c] = c < t->ncols ? t->types[c] : t->types[t->time_col];
    return rc;
}

int stream_winjoin_exec(stream_job *j)
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
    int rc = SL_OK;
    for (int i = 0; i < w.sv.nsrc && !rc; i++)
        rc = open_source(&w, i, e);
    j->r->serving = &w.sv;
    for (int live = w.sv.nsrc; !rc && live;) {
        live = 0;
        for (int i = 0; i < w.sv.nsrc && !rc; i++)
            if (!w.s[i].ended) {
                rc = step(&w, i, e);
                live += !w.s[i].ended;
            }
        int64_t mn = STREAM_WM_END;
        for (int i = 0; i < w.sv.nsrc; i++)
            mn = w.s[i].wm < mn ? w.s[i].wm : mn;
        if (!rc)
            rc = close_windows(&w, mn, e);
    }
    j->r->serving = NULL;
    for (int k = 0; k < w.nwins; k++)
        window_free(&w.wins[k], w.sv.nsrc);
    sl_free(w.wins);
    for (int i = 0; i < w.sv.nsrc; i++) {
        if (!rc)
            stream_source_figures(&w.s[i]);
        stream_source_close(&w.s[i]);
        sl_free(w.types[i]);
    }
    return rc;
}
