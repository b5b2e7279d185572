/*
 * scan.c - reading a view instance back: partitions, ranges, order.
 *
 * A scan reads every partition whose event-time range overlaps the request
 * (partition pruning), with the Parquet reader pruning row groups by the time
 * column's statistics, and keeps the rows that overlap the range: spans whose
 * [begin, end] meets it, events whose time falls in it.
 *
 * Order.  Each partition's rows are sorted on the view's key (begin, or time);
 * partitions may overlap on that key (a span that ends in a later partition
 * began earlier).  The scan merges the partitions by taking *runs*: from the
 * source with the smallest head, every row up to the next source's head goes
 * out at once, so data that does not interleave passes through in whole
 * batches, and the merge costs one comparison per run, not per row.  With one
 * source the batches pass through untouched.
 *
 * thread_spans adds the spans still open at the end of the data, from the
 * newest partition's state, ending at the last known time.
 *
 * Memory: one batch per source (at most batch_rows rows each) plus the file
 * bytes, which the file cache holds anyway.
 *
 * Unordered scans (SQL, which promises no order) read the sources one after
 * the other, opening each when the previous is done: one source's batch and
 * file at a time, no merge, and no time columns unless a range needs them.
 */
#include "lake/batchops.h"
#include "lake/lake_int.h"

#include "base/alloc.h"
#include "base/clock.h"

#include <string.h>

typedef struct src {
    lcache_entry *bytes, *footer; /* partition sources */
    pq_reader *r;
    pq_scan *s;
    col_batch *mem;               /* an in-memory source (open spans), read once */
    col_batch *cur;               /* current batch, rows [pos, nrows) left */
    int64_t pos;
    int done;
} src;

struct lake_scan {
    lake *l;
    const lake_view_def *vd;
    lake_scan_opts o;
    int key_col;                  /* the sort key: begin or time */
    int end_col;                  /* thread_spans: end; else -1 */
    col_schema *proj;             /* the projection's schema, or NULL for every column */
    int *proj_idx;                /* its columns' indexes in the view's schema */
    const char **proj_names;      /* its columns' names (o.columns points here) */
    size_t n;
    src *s;
    size_t cur;                   /* unordered: the source being read */
    const meta_partition *parts;  /* unordered: the partitions, opened as they come */
    lcache_entry *parts_entry;
    size_t nparts, next_part;
    const meta_partition *last_part; /* thread_spans: where the open spans come from */
    int64_t rg_base;              /* unordered splits: row groups of the partitions so far */
};

void lake_scan_opts_init(lake_scan_opts *o)
{
    o->begin_ns = INT64_MIN;
    o->end_ns = INT64_MAX;
    o->materialize = 1;
    o->batch_rows = 65536;
    o->columns = NULL;
    o->ncolumns = 0;
    o->unordered = 0;
    o->split = 0;
    o->nsplits = 0;
    o->prune_only = 0;
    o->key_min = INT64_MIN;
    o->dyn_column = NULL;
    o->dyn_lo = o->dyn_hi = NULL;
    o->defer_commit = 0;
}

static int ranged(const lake_scan_opts *o)
{
    return o->begin_ns != INT64_MIN || o->end_ns != INT64_MAX;
}

/* Sets up o->columns: the schema, the column indexes, the key and end positions. */
static int set_projection(lake_scan *sc, col_schema *full, errmsg *e)
{
    const lake_scan_opts *o = &sc->o;
    if (!o->columns) {
        sc->key_col = col_schema_find(full, sc->vd->time_column);
        sc->end_col = sc->vd->end_column ? col_schema_find(full, sc->vd->end_column) : -1;
        return SL_OK;
    }
    if (o->ncolumns <= 0 || o->ncolumns > full->ncols)
        return errmsg_set(e, SL_EINVAL, "%s: a projection of %d columns", sc->vd->name,
                          o->ncolumns);
    sc->proj = col_schema_new(o->ncolumns);
    sc->proj_idx = sl_calloc((size_t)o->ncolumns, sizeof *sc->proj_idx);
    if (!sc->proj || !sc->proj_idx)
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    for (int c = 0; c < o->ncolumns; c++) {
        int k = col_schema_find(full, o->columns[c]);
        if (k < 0)
            return errmsg_set(e, SL_EINVAL, "%s has no column '%s'", sc->vd->name,
                              o->columns[c]);
        const col_field *f = &full->fields[k];
        int rc = col_schema_set(sc->proj, c, f->name, f->type, f->key_bytes, f->nullable);
        if (rc)
            return errmsg_set(e, rc, "out of memory");
        sc->proj_idx[c] = k;
    }
    /* the caller's names need not outlive the open: partitions opened later use ours */
    if (!(sc->proj_names = sl_calloc((size_t)o->ncolumns, sizeof *sc->proj_names)))
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    for (int c = 0; c < o->ncolumns; c++)
        sc->proj_names[c] = sc->proj->fields[c].name;
    sc->o.columns = sc->proj_names;
    sc->key_col = col_schema_find(sc->proj, sc->vd->time_column);
    sc->end_col = sc->vd->end_column ? col_schema_find(sc->proj, sc->vd->end_column) : -1;
    if (o->unordered && (!ranged(o) || o->prune_only)) {
        sc->key_col = sc->end_col = -1; /* nothing to order or filter by */
        return SL_OK;
    }
    if (sc->key_col < 0 || (sc->vd->end_column && sc->end_col < 0))
        return errmsg_set(e, SL_EINVAL, "a projection of %s must include '%s'%s%s",
                          sc->vd->name, sc->vd->time_column, sc->vd->end_column ? " and " : "",
                          sc->vd->end_column ? sc->vd->end_column : "");
    return SL_OK;
}

/* An in-memory source's batch (full view schema) cut to the projection. */
static int project_mem(lake_scan *sc, col_batch **b)
{
    if (!sc->proj || !*b)
        return SL_OK;
    col_batch *p;
    int rc = lake_batch_project(*b, sc->proj, sc->proj_idx, &p);
    col_batch_release(*b);
    *b = rc ? NULL : p;
    return rc;
}

static int keep_row(const lake_scan *sc, const col_batch *b, int64_t r)
{
    int64_t t = col_vec_i64(&b->cols[sc->key_col], r);
    if (sc->end_col >= 0) /* an interval: does [t, end] meet [begin, end)? */
        return t < sc->o.end_ns && col_vec_i64(&b->cols[sc->end_col], r) >= sc->o.begin_ns;
    return t >= sc->o.begin_ns && t < sc->o.end_ns;
}

/* Keeps the rows overlapping the range; *out is b itself when every row is kept. */
static int filter(const lake_scan *sc, col_batch *b, col_batch **out)
{
    if (sc->key_col < 0) { /* unordered, no range: every row */
        *out = b;
        return SL_OK;
    }
    int64_t m = 0;
    for (int64_t r = 0; r < b->nrows; r++)
        m += keep_row(sc, b, r);
    if (m == b->nrows) {
        *out = b;
        return SL_OK;
    }
    int64_t *rows = sl_malloc(sizeof(int64_t) * (size_t)(m ? m : 1));
    if (!rows)
        return SL_ENOMEM;
    m = 0;
    for (int64_t r = 0; r < b->nrows; r++)
        if (keep_row(sc, b, r))
            rows[m++] = r;
    int rc = lake_batch_gather(b, rows, m, out);
    sl_free(rows);
    if (!rc)
        col_batch_release(b);
    return rc;
}

/* Loads the source's next non-empty batch (filtered), or marks it done. */
static int src_advance(lake_scan *sc, src *s, errmsg *e)
{
    col_batch_release(s->cur);
    s->cur = NULL;
    s->pos = 0;
    while (!s->done) {
        col_batch *b = NULL;
        if (s->mem) {
            b = s->mem;
            s->mem = NULL;
        } else if (s->s) {
            int rc = pq_scan_next(s->s, &b, e);
            if (rc)
                return rc;
        }
        if (!b) {
            s->done = 1;
            break;
        }
        col_batch *f;
        int rc = filter(sc, b, &f);
        if (rc) {
            col_batch_release(b);
            return errmsg_set(e, rc, "out of memory");
        }
        if (f->nrows) {
            s->cur = f;
            return SL_OK;
        }
        col_batch_release(f);
    }
    return SL_OK;
}

static void src_close(lake *l, src *s)
{
    col_batch_release(s->cur);
    col_batch_release(s->mem);
    pq_scan_close(s->s);
    pq_reader_close(s->r);
    lcache_release(&l->footers, s->footer);
    lcache_release(&l->bytes, s->bytes);
}

static int src_open_file(lake_scan *sc, src *s, const meta_partition *p, errmsg *e)
{
    int rc = lake_file_open(sc->l, p->file_path, p->file_size, &s->bytes, &s->footer, e);
    if (rc)
        return rc;
    const lake_bytes *b = s->bytes->val;
    if ((rc = pq_reader_open(b->p, b->len, s->footer->val, &s->r, e)))
        return rc;
    pq_scan_opts o = {0};
    o.batch_rows = sc->o.batch_rows;
    if (sc->o.unordered && sc->o.nsplits > 1) {
        o.rg_mod = sc->o.nsplits;
        o.rg_rem = sc->o.split;
        o.rg_base = sc->rg_base;
        sc->rg_base += pq_footer_num_row_groups(s->footer->val);
    }
    o.columns = sc->o.columns;
    o.ncolumns = sc->o.columns ? sc->o.ncolumns : 0;
    /* Prune row groups by the key column: spans must begin before the end of the range. */
    o.range_column = sc->vd->time_column;
    o.range_min = sc->vd->end_column ? INT64_MIN : sc->o.begin_ns; /* spans began earlier */
    if (sc->o.key_min > o.range_min)
        o.range_min = sc->o.key_min;
    o.range_max = sc->o.end_ns == INT64_MIN ? INT64_MIN : sc->o.end_ns - 1;
    o.dyn_column = sc->o.dyn_column;
    o.dyn_lo = sc->o.dyn_lo;
    o.dyn_hi = sc->o.dyn_hi;
    if ((rc = lake_file_fetch(sc->l, p->file_path, s->bytes, s->footer->val, &o, e)))
        return rc;
    return pq_scan_open(s->r, &o, &s->s, e);
}

static int add_open_spans(lake_scan *sc, const meta_partition *last, errmsg *e)
{
    if (!last || !last->state_len)
        return SL_OK;
    int64_t end = lake_spans_state_last_ns(last->state, last->state_len);
    col_batch *b;
    uint64_t n;
    int rc = lake_spans_open_rows(last->state, last->state_len, end, &b, &n, e);
    if (rc)
        return rc;
    if (!n) {
        col_batch_release(b);
        return SL_OK;
    }
    if ((rc = project_mem(sc, &b)))
        return errmsg_set(e, rc, "out of memory");
    sc->s[sc->n++].mem = b;
    return SL_OK;
}

static int resolve_and_materialize(lake *l, const lake_view_def *vd, const char *instance,
                                   const lake_scan_opts *o, lake_mat_stats *st, errmsg *e)
{
    const lake_process *proc;
    int rc = lake_instance_process(l, vd, instance, &proc, e);
    if (rc)
        return rc;
    if (o->materialize)
        rc = lake_jit_instance(l, vd->id, instance, proc, o->defer_commit, st, e);
    lake_process_release(l, proc);
    return rc;
}

/* Metadata views: one in-memory batch, filtered by the same range rules as the others. */
static int open_meta(lake_scan *sc, const char *instance, errmsg *e)
{
    if (!(sc->s = sl_calloc(1, sizeof *sc->s)))
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    sc->n = 1;
    int rc = lake_meta_batch(sc->l, sc->vd->id, instance, &sc->s[0].mem, e);
    if (!rc && (rc = project_mem(sc, &sc->s[0].mem)))
        errmsg_set(e, rc, "out of memory");
    return rc;
}

/* Partitioned views: a source per partition overlapping the range, plus open spans. */
static int open_partitions(lake_scan *sc, const char *instance, errmsg *e)
{
    lcache_entry *pen;
    int rc = lake_parts_get(sc->l, sc->vd->id, instance, &pen, e);
    if (rc)
        return rc;
    const lake_parts *ps = pen->val;
    if (sc->o.unordered) {
        /* the partitions are opened one at a time as the scan reaches them; the
         * index entry stays held until the scan closes */
        sc->parts_entry = pen;
        sc->parts = ps->p;
        sc->nparts = ps->n;
        sc->s = sl_calloc(2, sizeof *sc->s);
        if (!sc->s)
            return errmsg_set(e, SL_ENOMEM, "out of memory");
        if (sc->vd->id == LAKE_THREAD_SPANS && ps->n)
            sc->last_part = &ps->p[ps->n - 1];
        return SL_OK;
    }
    sc->s = sl_calloc(ps->n + 1, sizeof *sc->s);
    if (!sc->s)
        rc = errmsg_set(e, SL_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < ps->n; i++)
        if (lake_part_overlaps(&ps->p[i], sc->o.begin_ns, sc->o.end_ns))
            rc = src_open_file(sc, &sc->s[sc->n++], &ps->p[i], e);
    if (!rc && sc->vd->id == LAKE_THREAD_SPANS && ps->n)
        rc = add_open_spans(sc, &ps->p[ps->n - 1], e);
    lcache_release(&sc->l->parts, pen);
    return rc;
}

static int scan_open(lake *l, lake_view_id v, const char *instance, const lake_scan_opts *o,
                     lake_mat_stats *st, lake_scan **out, errmsg *e)
{
    const lake_view_def *vd = lake_view_get(v);
    if (!vd)
        return errmsg_set(e, SL_EINVAL, "unknown view");
    char canon[LAKE_INSTANCE_MAX];
    if (lake_instance_canon(vd, instance, canon, e))
        return SL_EINVAL;
    instance = canon;
    lake_scan_opts def;
    lake_scan_opts_init(&def);
    int rc = vd->partitioned ? resolve_and_materialize(l, vd, instance, o ? o : &def, st, e) : 0;
    if (rc)
        return rc;
    lake_scan *sc = sl_calloc(1, sizeof *sc);
    if (!sc)
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    sc->l = l;
    sc->vd = vd;
    sc->o = o ? *o : def;
    if (sc->o.batch_rows <= 0)
        sc->o.batch_rows = 65536;
    if (!(rc = set_projection(sc, lake_view_schema(v), e)))
        rc = vd->partitioned ? open_partitions(sc, instance, e) : open_meta(sc, instance, e);
    for (size_t i = 0; !rc && i < sc->n && !(sc->o.unordered && vd->partitioned); i++)
        rc = src_advance(sc, &sc->s[i], e);
    if (rc) {
        lake_scan_close(sc);
        return rc;
    }
    if (vd->partitioned)
        atomic_fetch_add(&l->scans, 1);
    *out = sc;
    return SL_OK;
}

static int64_t head_key(const lake_scan *sc, const src *s)
{
    return col_vec_i64(&s->cur->cols[sc->key_col], s->pos);
}

/* Rows of s from pos whose key is <= limit (s's batch is sorted on the key). */
static int64_t run_length(const lake_scan *sc, const src *s, int64_t limit)
{
    const col_vec *k = &s->cur->cols[sc->key_col];
    int64_t lo = s->pos, hi = s->cur->nrows; /* first row with key > limit in [lo, hi] */
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (col_vec_i64(k, mid) <= limit)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo - s->pos;
}

/*
 * Sources interleave on the key: merges every row up to the smallest "last key"
 * of the sources' current batches (no source can have anything earlier beyond
 * it) into one batch of at most batch_rows rows.
 */
static int merge_window(lake_scan *sc, col_batch **out, errmsg *e)
{
    int64_t bound = INT64_MAX;
    int64_t total = 0;
    for (size_t i = 0; i < sc->n; i++) {
        src *s = &sc->s[i];
        if (!s->cur)
            continue;
        int64_t last = col_vec_i64(&s->cur->cols[sc->key_col], s->cur->nrows - 1);
        if (last < bound)
            bound = last;
        total += s->cur->nrows - s->pos;
    }
    int64_t cap = total < sc->o.batch_rows ? total : sc->o.batch_rows;
    int *from = sl_malloc(sizeof(int) * (size_t)cap);
    int64_t *rows = sl_malloc(sizeof(int64_t) * (size_t)cap);
    col_batch **batches = sl_calloc(sc->n, sizeof *batches);
    int rc = from && rows && batches ? SL_OK : SL_ENOMEM;
    int64_t m = 0;
    while (!rc && m < cap) {
        int best = -1;
        int64_t bk = 0;
        for (size_t i = 0; i < sc->n; i++) {
            src *s = &sc->s[i];
            if (!s->cur || s->pos == s->cur->nrows)
                continue;
            int64_t k = head_key(sc, s);
            if (k <= bound && (best < 0 || k < bk)) {
                best = (int)i;
                bk = k;
            }
        }
        if (best < 0)
            break;
        from[m] = best;
        rows[m++] = sc->s[best].pos++;
    }
    for (size_t i = 0; i < sc->n; i++)
        batches[i] = sc->s[i].cur;
    if (!rc && m)
        rc = lake_batch_gather_multi(batches, from, rows, m, out);
    sl_free(from);
    sl_free(rows);
    sl_free(batches);
    if (rc)
        return errmsg_set(e, rc, "out of memory");
    for (size_t i = 0; i < sc->n && !rc; i++)
        if (sc->s[i].cur && sc->s[i].pos == sc->s[i].cur->nrows)
            rc = src_advance(sc, &sc->s[i], e);
    return rc;
}

/* Unordered: the current source's next batch; the next partition when it is done. */
static int unordered_next(lake_scan *sc, col_batch **out, errmsg *e)
{
    for (;;) {
        src *s = &sc->s[0];
        if (s->cur) {
            *out = s->cur;
            s->cur = NULL;
            atomic_fetch_add(&sc->l->scan_rows, (uint64_t)(*out)->nrows);
            return src_advance(sc, s, e);
        }
        if (sc->n) { /* the source is done */
            src_close(sc->l, s);
            memset(s, 0, sizeof *s);
            sc->n = 0;
        }
        int rc = SL_OK;
        while (!rc && sc->next_part < sc->nparts && !sc->n) {
            const meta_partition *p = &sc->parts[sc->next_part++];
            if (!lake_part_overlaps(p, sc->o.begin_ns, sc->o.end_ns))
                continue;
            sc->n = 1;
            rc = src_open_file(sc, s, p, e);
        }
        if (!rc && !sc->n && sc->last_part && sc->o.split == 0) {
            /* thread_spans: the spans still open at the end, once */
            const meta_partition *last = sc->last_part;
            sc->last_part = NULL;
            size_t before = sc->n;
            rc = add_open_spans(sc, last, e);
            if (!rc && sc->n == before)
                continue;
        }
        if (rc)
            return rc;
        if (!sc->n)
            return SL_OK;
        if ((rc = src_advance(sc, s, e)))
            return rc;
    }
}

static int scan_next(lake_scan *sc, col_batch **out, errmsg *e)
{
    *out = NULL;
    if (sc->o.unordered && sc->vd->partitioned)
        return unordered_next(sc, out, e);
    if (sc->key_col < 0) { /* no key to order by: the sources in turn */
        for (size_t i = 0; i < sc->n; i++) {
            if (!sc->s[i].cur)
                continue;
            *out = sc->s[i].cur;
            sc->s[i].cur = NULL;
            return src_advance(sc, &sc->s[i], e);
        }
        return SL_OK;
    }
    /* The source with the smallest head, and the smallest head of the others. */
    src *best = NULL;
    int64_t best_key = 0, second = INT64_MAX;
    for (size_t i = 0; i < sc->n; i++) {
        src *s = &sc->s[i];
        if (!s->cur)
            continue;
        int64_t k = head_key(sc, s);
        if (!best || k < best_key) {
            if (best)
                second = best_key; /* no other head is below the old best */
            best = s;
            best_key = k;
        } else if (k < second) {
            second = k;
        }
    }
    if (!best)
        return SL_OK;
    int64_t left = best->cur->nrows - best->pos;
    int64_t n = run_length(sc, best, second);
    int rc;
    if (n == left && best->pos == 0) {
        *out = best->cur; /* the whole batch comes first: hand it over */
        best->cur = NULL;
        rc = src_advance(sc, best, e);
    } else if (n == left || n >= 4096) {
        /* A long run: one copy of it. */
        rc = lake_batch_slice(best->cur, best->pos, n, out);
        if (rc)
            return errmsg_set(e, rc, "out of memory");
        best->pos += n;
        if (best->pos == best->cur->nrows)
            rc = src_advance(sc, best, e);
    } else {
        rc = merge_window(sc, out, e);
    }
    if (*out)
        atomic_fetch_add(&sc->l->scan_rows, (uint64_t)(*out)->nrows);
    return rc;
}

/* Every failure leaves with a reason, even one a helper returned without a message. */
static int with_reason(errmsg *e, int rc, const char *view)
{
    if (rc && e && !e->text[0])
        errmsg_set(e, rc, "%s: %s", view, sl_strerror(rc));
    return rc;
}

int lake_scan_open(lake *l, lake_view_id v, const char *instance, const lake_scan_opts *o,
                   lake_mat_stats *st, lake_scan **out, errmsg *e)
{
    const lake_view_def *vd = lake_view_get(v);
    return with_reason(e, scan_open(l, v, instance, o, st, out, e), vd ? vd->name : "scan");
}

int lake_scan_next(lake_scan *sc, col_batch **out, errmsg *e)
{
    return with_reason(e, scan_next(sc, out, e), sc->vd->name);
}

uint64_t lake_scan_memory_bound(const lake_scan *sc)
{
    const col_schema *sch = sc->proj ? sc->proj : lake_view_schema(sc->vd->id);
    uint64_t row = 0;
    for (int c = 0; c < sch->ncols; c++) {
        col_type t = sch->fields[c].type;
        row += t == COL_STRING || t == COL_BINARY || t == COL_DICT ? 64 + 4
                                                                   : col_type_width(t, 4);
        row += 1; /* validity and selection */
    }
    /* Each source: its current batch, and the page its reader is decoding (as large). */
    return (uint64_t)(sc->n ? sc->n : 1) * 2 * (uint64_t)sc->o.batch_rows * row;
}

void lake_scan_close(lake_scan *sc)
{
    if (!sc)
        return;
    for (size_t i = 0; sc->s && i < sc->n; i++)
        src_close(sc->l, &sc->s[i]);
    if (sc->parts_entry)
        lcache_release(&sc->l->parts, sc->parts_entry);
    sl_free(sc->s);
    col_schema_unref(sc->proj);
    sl_free(sc->proj_idx);
    sl_free(sc->proj_names);
    sl_free(sc);
}
