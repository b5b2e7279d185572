/*
 * wintab.c - a worker's window tables (docs/internals/stream.md "Local-global
 * aggregation"): the open windows it owns and, with local-global aggregation,
 * its partial tables of its own rows; a window's table found or made, a
 * producer's partial table taken in or combined, the owner a partial table
 * goes to, whether a job pre-aggregates, and the tables' memory accounted
 * against work_mem, a source batch's rows as the scan's, one per window holding
 * each (stream_wk_scan_rows), and through the scan's pushed filter
 * (stream_wk_scan_filter), and a batch's rows grouped by window
 * (stream_rows_by_window).
 * What rows go into them and when they close is worker.c's.
 */
#include "stream/job.h"

#include "base/alloc.h"

#include <string.h>

static int oom(sql_err *e)
{
    return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
}

int stream_wk_account(stream_wk *w, sql_err *e)
{
    stream_job *j = w->j;
    int64_t m = (w->ss ? stream_sessions_mem(w->ss) : 0) + w->tabs_mem;
    int64_t d = m - w->mem, limit = j->q->x.mem_limit;
    int64_t all = stream_state_add(j, d);
    w->mem = m;
    if (d > 0 && limit > 0 && all > limit) {
        sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
        sql_err_detail(e, "The query needs more than work_mem (%lld kB) for aggregation.",
                       (long long)(limit >> 10));
        sql_err_hint(e, "Raise work_mem (SET work_mem = '1GB'), or narrow the windows.");
        return SL_ENOMEM;
    }
    return SL_OK;
}

void stream_wk_counted(stream_wk *w, open_win *ow)
{
    int64_t m = ow->t ? sql_aggtab_mem(ow->t) : 0;
    w->tabs_mem += m - ow->mem;
    ow->mem = m;
}

void stream_wk_uncounted(stream_wk *w, open_win *ow)
{
    w->tabs_mem -= ow->mem;
    ow->mem = 0;
}

/* A worker's windows: those it owns, or (local) its partial tables. */
typedef struct winset {
    open_win **wins;
    int *n, *cap;
} winset;

static winset owned(stream_wk *w)
{
    return (winset){&w->wins, &w->nwins, &w->wins_cap};
}

static winset local(stream_wk *w)
{
    return (winset){&w->lwins, &w->nlwins, &w->lwins_cap};
}

open_win *stream_wk_window(stream_wk *w, bool loc, int64_t start, sql_aggtab *t, bool *fresh,
                           sql_err *e)
{
    stream_job *j = w->j;
    winset s = loc ? local(w) : owned(w);
    int lo = stream_win_lower_bound(*s.wins, *s.n, sizeof **s.wins, start);
    *fresh = false;
    if (lo < *s.n && (*s.wins)[lo].start == start)
        return &(*s.wins)[lo];
    if (*s.n == *s.cap) {
        int nc = *s.cap ? *s.cap * 2 : 16;
        open_win *nw = sl_realloc(*s.wins, sizeof *nw * (size_t)nc);
        if (!nw) {
            oom(e);
            return NULL;
        }
        *s.wins = nw;
        *s.cap = nc;
    }
    /* without a window: one table, closed by the end of the input only */
    open_win ow = {start, j->win ? start + j->win->size_ns : STREAM_WM_END, t, 0};
    if (!t) {
        if (sql_aggtab_new(j->agg, &ow.t, e))
            return NULL;
    }
    open_win *a = *s.wins;
    memmove(&a[lo + 1], &a[lo], sizeof *a * (size_t)(*s.n - lo));
    a[lo] = ow;
    (*s.n)++;
    *fresh = true;
    return &a[lo];
}


int stream_wk_take_partial(stream_wk *w, int64_t start, sql_aggtab *t, sql_err *e)
{
    bool fresh;
    open_win *ow = stream_wk_window(w, false, start, t, &fresh, e);
    int rc = ow ? SL_OK : SL_ENOMEM;
    if (ow && !fresh)
        rc = sql_aggtab_combine(ow->t, t, e);
    if (ow)
        stream_wk_counted(w, ow);
    if (!ow || !fresh)
        sql_aggtab_free(t);
    return rc ? rc : stream_wk_account(w, e);
}

int stream_wk_win_owner(stream_wk *w, int64_t start, int *owner)
{
    stream_job *j = w->j;
    if (j->nw == 1)
        return *owner = 0, SL_OK;
    const sql_plan *p = j->agg->p;
    sql_vec kv[STREAM_MAX_KEYS];
    memset(kv, 0, sizeof kv);
    int rc = SL_OK, nk = 0;
    for (; nk < j->npkeys && !rc; nk++) {
        memset(&kv[nk], 0, sizeof kv[nk]);
        col_vec_init(&kv[nk].v, sql_type_phys(p->agg.keys[j->pkeys[nk]]->type), 0);
        int64_t v = start + (j->src_keys[nk] == j->src->ncols ? 0 : j->win->size_ns);
        rc = col_vec_append_i64(&kv[nk].v, v);
    }
    uint64_t h = 0;
    if (!rc)
        rc = sql_ht_hash(&w->hk, kv, 1, &h);
    for (int k = 0; k < nk; k++)
        sql_vec_release(&kv[k]);
    *owner = (int)((h >> 40) % (uint64_t)j->nw); /* as exchange picks */
    return rc;
}

bool stream_preagg_fits(const stream_job *j, int nw)
{
    if (nw < 2 || !j->agg || !j->win || j->win->session || j->on_update || j->win_col < 0 ||
        !j->npkeys || !sql_aggtab_can_combine(j->agg))
        return false;
    for (int k = 0; k < j->npkeys; k++)
        if (j->src_keys[k] != j->src->ncols && j->src_keys[k] != j->src->ncols + 1)
            return false;
    return true;
}

void stream_bywin_free(stream_bywin *g)
{
    sl_free(g->start);
    sl_free(g->end);
    sl_free(g->rows);
    memset(g, 0, sizeof *g);
}

int stream_rows_by_window(const sql_batch *b, int win_col, int64_t off, stream_bywin *g)
{
    const col_vec *wc = win_col >= 0 ? &b->cols[win_col] : NULL;
    int64_t n = b->n, last = 0;
    size_t cap = (size_t)(n ? n : 1);
    memset(g, 0, sizeof *g);
    uint32_t *slot = sl_malloc(sizeof *slot * cap);
    g->rows = sl_malloc(sizeof *g->rows * cap);
    g->start = sl_malloc(sizeof *g->start * cap);
    g->end = sl_malloc(sizeof *g->end * (cap + 1));
    if (!slot || !g->rows || !g->start || !g->end) {
        sl_free(slot);
        stream_bywin_free(g);
        return SL_ENOMEM;
    }
    /* each row's window (slot), counted in end[k + 1] */
    for (int64_t i = 0; i < n; i++) {
        int64_t start = wc ? col_vec_i64(wc, i) - off : 0, k = last;
        if (!g->nwins || g->start[k] != start)
            for (k = g->nwins - 1; k >= 0 && g->start[k] != start; k--)
                ;
        if (k < 0) {
            k = g->nwins++;
            g->start[k] = start;
            g->end[k + 1] = 0;
        }
        g->end[k + 1]++;
        slot[i] = (uint32_t)k;
        last = k;
    }
    /* counts to places, then each row to its window's next place: end[k] ends
     * window k once every row is placed */
    g->end[0] = 0;
    for (int64_t k = 0; k < g->nwins; k++)
        g->end[k + 1] += g->end[k];
    for (int64_t i = 0; i < n; i++)
        g->rows[g->end[slot[i]]++] = (uint32_t)i;
    sl_free(slot);
    return SL_OK;
}

/* Room for n window rows. */
static int grow_rows(stream_wk *w, int64_t n)
{
    if (n <= w->rows_cap)
        return SL_OK;
    int64_t cap = w->rows_cap ? w->rows_cap : 8192;
    while (cap < n)
        cap *= 2;
    uint32_t *r = sl_realloc(w->rows, sizeof *r * (size_t)cap);
    if (r)
        w->rows = r;
    int64_t *s = r ? sl_realloc(w->starts, sizeof *s * (size_t)cap) : NULL;
    if (s)
        w->starts = s;
    if (!r || !s)
        return SL_ENOMEM;
    w->rows_cap = cap;
    return SL_OK;
}

/* The source's rows as the scan's: with a window, one row per window holding it
 * (rows without an event time are in none); the scan's columns only. */
int stream_wk_scan_rows(stream_wk *w, sql_batch *in, const int64_t *session, bool per_row,
                     sql_batch **out)
{
    stream_job *j = w->j;
    const sql_plan *p = j->scan->p;
    int nsrc = j->src->ncols, rc = sql_batch_new(p->ncols, p->types, out);
    if (rc)
        return rc;
    sql_batch *o = *out;
    if (!j->win || session) { /* a session's rows: its start and end as they are */
        for (int c = 0; c < p->ncols && !rc; c++) {
            int tc = p->scan.cols[c];
            if (tc < nsrc) {
                col_vec_release(&o->cols[c]);
                sql_vec_share(&in->cols[tc], &o->cols[c]);
                continue;
            }
            for (int64_t r = 0; r < in->n && !rc; r++)
                rc = col_vec_append_i64(&o->cols[c], session[(per_row ? 2 * r : 0) + tc - nsrc]);
        }
        o->n = in->n;
        return rc;
    }
    const col_vec *ts = &in->cols[j->src->time_col];
    int64_t m = 0;
    for (int64_t i = 0; i < in->n && !rc; i++) {
        if (!col_vec_is_valid(ts, i))
            continue;
        int64_t first;
        int k = stream_win_assign(j->win, col_vec_i64(ts, i), &first);
        if ((rc = grow_rows(w, m + k)))
            break;
        for (int x = 0; x < k; x++, m++) {
            w->rows[m] = (uint32_t)i;
            w->starts[m] = first + x * j->win->slide_ns;
        }
    }
    sql_sel sel = {w->rows, m};
    for (int c = 0; c < p->ncols && !rc; c++) {
        int tc = p->scan.cols[c];
        if (tc < nsrc) {
            col_vec_release(&o->cols[c]);
            rc = sql_vec_gather(&in->cols[tc], &sel, &o->cols[c]);
            continue;
        }
        int64_t add = tc == nsrc ? 0 : j->win->size_ns;
        for (int64_t r = 0; r < m && !rc; r++)
            rc = col_vec_append_i64(&o->cols[c], w->starts[r] + add);
    }
    o->n = m;
    return rc;
}

int stream_wk_scan_filter(stream_wk *w, sql_batch **b, sql_err *e)
{
    const sql_expr *f = w->j->scan->p->scan.filter;
    if (!f)
        return SL_OK;
    sql_batch *kept;
    sql_err_clear(&w->err);
    int rc = sql_filter_batch(&w->cx, &w->scratch, f, &w->sel, &w->sel_cap, *b, &kept);
    *b = rc ? NULL : kept;
    return !rc ? SL_OK : w->err.state[0] ? (*e = w->err, rc) : oom(e);
}
