/*
 * build_events.c - the event views of a process: async_events, log_entries and
 * measures.  One row per event of the right kind, in time order.
 *
 * Rows are appended as events are decoded.  Events of one block can be out of
 * time order (a log block mixes threads) and so can blocks of different
 * streams (async_events reads every thread), so a partition's rows are sorted
 * by time at the end, stably, unless they already are: the sort is skipped in
 * the common case of one well-ordered stream.
 */
#include "lake/build.h"

#include "base/alloc.h"
#include "base/bytes.h"

#include <stdlib.h>
#include <string.h>

/* A column under construction: fixed-width values, dictionary keys or strings. */
typedef struct ecol {
    col_type type;      /* output type (COL_DICT: keys into dict) */
    lake_colb fixed;    /* fixed-width values and dictionary keys */
    lake_dictb dict;
    col_vec str;        /* COL_STRING */
} ecol;

typedef struct etable {
    int ncols;
    ecol c[16];
    int time_col;       /* the view's time column, which rows are sorted on */
} etable;

/* Columns typed as the view's builders make them (lake_view_col_type). */
static int etable_init(etable *t, lake_view_id v, int64_t rows_hint)
{
    const col_schema *schema = lake_view_schema(v);
    memset(t, 0, sizeof *t);
    t->ncols = schema->ncols;
    t->time_col = col_schema_find(schema, lake_view_get(v)->time_column);
    for (int i = 0; i < t->ncols; i++) {
        ecol *c = &t->c[i];
        c->type = lake_view_col_type(v, i);
        int rc = SL_OK;
        if (c->type == COL_STRING)
            col_vec_init(&c->str, COL_STRING, 0);
        else if (c->type == COL_DICT)
            rc = lake_dictb_init(&c->dict, 64u << 20);
        if (!rc && c->type != COL_STRING)
            rc = lake_colb_init(&c->fixed, col_type_width(c->type, 4), rows_hint);
        if (rc)
            return rc;
    }
    return SL_OK;
}

static void etable_free(etable *t)
{
    for (int i = 0; i < t->ncols; i++) {
        ecol *c = &t->c[i];
        lake_colb_free(&c->fixed);
        if (c->type == COL_DICT)
            lake_dictb_free(&c->dict);
        if (c->type == COL_STRING)
            col_vec_release(&c->str);
    }
}

static int put_i64(etable *t, int col, int64_t v)
{
    int64_t *p = lake_colb_push(&t->c[col].fixed);
    if (!p)
        return SL_ENOMEM;
    *p = v;
    return SL_OK;
}

static int put_u32(etable *t, int col, uint32_t v)
{
    uint32_t *p = lake_colb_push(&t->c[col].fixed);
    if (!p)
        return SL_ENOMEM;
    *p = v;
    return SL_OK;
}

static int put_f64(etable *t, int col, double v)
{
    double *p = lake_colb_push(&t->c[col].fixed);
    if (!p)
        return SL_ENOMEM;
    *p = v;
    return SL_OK;
}

static int put_dict(etable *t, int col, const char *s, size_t len)
{
    uint32_t k;
    int rc = lake_dictb_key(&t->c[col].dict, s, len, &k);
    return rc ? rc : put_u32(t, col, k);
}

static int put_str(etable *t, int col, const char *s, size_t len)
{
    return col_vec_append_str(&t->c[col].str, s, len);
}

typedef struct ts_ix {
    int64_t t;
    int64_t i;
} ts_ix;

static int cmp_ts(const void *a, const void *b)
{
    const ts_ix *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i; /* stable */
}

/* Reorders every column so that the time column is ascending. */
static int sort_by_time(etable *t, int64_t n)
{
    const int64_t *time = (const int64_t *)(const void *)t->c[t->time_col].fixed.buf->p;
    int64_t i = 1;
    while (i < n && time[i - 1] <= time[i])
        i++;
    if (i >= n)
        return SL_OK;
    ts_ix *ix = sl_malloc(sizeof(ts_ix) * (size_t)n);
    if (!ix)
        return SL_ENOMEM;
    for (i = 0; i < n; i++)
        ix[i] = (ts_ix){time[i], i};
    qsort(ix, (size_t)n, sizeof *ix, cmp_ts);
    int rc = SL_OK;
    for (int c = 0; c < t->ncols && !rc; c++) {
        ecol *col = &t->c[c];
        if (col->type == COL_STRING) {
            col_vec nv;
            col_vec_init(&nv, COL_STRING, 0);
            for (i = 0; i < n && !rc; i++) {
                size_t l;
                const uint8_t *p = col_vec_str(&col->str, ix[i].i, &l);
                rc = col_vec_append_str(&nv, p, l);
            }
            col_vec_release(&col->str);
            col->str = nv;
            continue;
        }
        size_t w = col->fixed.width;
        col_buf *nb = col_buf_new_uninit(w * (size_t)n); /* every row is written below */
        if (!nb) {
            rc = SL_ENOMEM;
            break;
        }
        for (i = 0; i < n; i++)
            memcpy(nb->p + (size_t)i * w, col->fixed.buf->p + (size_t)ix[i].i * w, w);
        col_buf_unref(col->fixed.buf);
        col->fixed.buf = nb;
    }
    sl_free(ix);
    return rc;
}

static int etable_finish(etable *t, lake_view_id v, lake_build_out *out)
{
    int64_t n = t->c[t->time_col].fixed.n;
    int rc = sort_by_time(t, n);
    if (rc)
        return rc;
    col_batch *b;
    if ((rc = col_batch_new(col_schema_ref(lake_view_schema(v)), &b)))
        return rc;
    col_schema_unref(lake_view_schema(v));
    b->nrows = n;
    for (int c = 0; c < t->ncols; c++) {
        ecol *col = &t->c[c];
        if (col->type == COL_DICT) {
            lake_colb_to_dict_vec(&col->fixed, &b->cols[c], &col->dict);
        } else if (col->type == COL_STRING) {
            col_vec_release(&b->cols[c]);
            b->cols[c] = col->str;
            col_vec_init(&col->str, COL_STRING, 0);
        } else {
            lake_colb_to_vec(&col->fixed, &b->cols[c], col->type);
        }
    }
    if (n) {
        const int64_t *time = (const int64_t *)(const void *)b->cols[t->time_col].values->p;
        out->min_event_ns = time[0];
        out->max_event_ns = time[n - 1];
    }
    out->batch = b;
    return SL_OK;
}

/* Appends the row of one event to t (or nothing, for events of other kinds). */
typedef int (*row_fn)(etable *t, const lake_proc *p, const lake_src_block *b,
                      const wire_payload *pl, const wire_event *ev);

typedef struct ebuild {
    etable t;
    const lake_proc *p;
    row_fn row;
    lake_build_out *out;
} ebuild;

/* lake_block_fn: calls row() for every event of the block. */
static int block_rows(void *arg, const lake_src_block *b, wire_payload *pl, arena *a, errmsg *e)
{
    ebuild *x = arg;
    (void)a;
    wire_event ev;
    int rc;
    while ((rc = wire_payload_next(pl, &ev, e)) == 1) {
        x->out->events++;
        if ((rc = x->row(&x->t, x->p, b, pl, &ev)))
            return errmsg_set(e, rc, "%s", rc == SL_ETOOBIG ? "too many distinct strings in one "
                              "partition" : "out of memory");
    }
    return rc;
}

static int build(lake_view_id v, row_fn row, const lake_proc *p, const lake_src_block *blocks,
                 size_t n, lake_build_out *out, errmsg *e)
{
    uint64_t events = 0;
    for (size_t i = 0; i < n; i++)
        events += blocks[i].nb_objects;
    ebuild x = {.p = p, .row = row, .out = out};
    /* The blocks' event count bounds the rows but is far above it when the view
     * keeps a few kinds of event (async spans among thread spans): start small,
     * the columns grow by doubling. */
    int64_t hint = events + 16 < 65536 ? (int64_t)events + 16 : 65536;
    int rc = etable_init(&x.t, v, hint);
    if (rc) {
        errmsg_set(e, rc, "%s: out of memory", lake_view_get(v)->name);
    } else if (!(rc = lake_build_each_block(blocks, n, block_rows, &x, e)) &&
               (rc = etable_finish(&x.t, v, out))) {
        errmsg_set(e, rc, "%s: out of memory", lake_view_get(v)->name);
    }
    etable_free(&x.t);
    return rc;
}

static int put_uuid(etable *t, int col, const sl_uuid *u)
{
    char s[UUID_STR_LEN];
    uuid_format(u, s);
    return put_dict(t, col, s, 36);
}

#define TRY(x)                                                                            \
    do {                                                                                  \
        int rc_ = (x);                                                                    \
        if (rc_)                                                                          \
            return rc_;                                                                   \
    } while (0)

/* ------------------------------------------------------------ async_events */

static int async_row(etable *t, const lake_proc *p, const lake_src_block *b,
                     const wire_payload *pl, const wire_event *ev)
{
    if (ev->type != WIRE_EV_ASYNC_BEGIN && ev->type != WIRE_EV_ASYNC_END)
        return SL_OK;
    const wire_desc *d = &pl->descs[ev->desc];
    int begin = ev->type == WIRE_EV_ASYNC_BEGIN;
    TRY(put_uuid(t, AE_STREAM_ID, &b->stream_id));
    TRY(put_uuid(t, AE_BLOCK_ID, &b->block_id));
    TRY(put_i64(t, AE_TIME, lake_ticks_to_ns(p, ev->ticks)));
    TRY(put_dict(t, AE_EVENT_TYPE, begin ? "begin" : "end", begin ? 5 : 3));
    TRY(put_i64(t, AE_SPAN_ID, (int64_t)ev->span_id));
    TRY(put_i64(t, AE_PARENT_SPAN_ID, (int64_t)ev->parent_span_id));
    TRY(put_u32(t, AE_DEPTH, ev->depth));
    TRY(put_u32(t, AE_HASH, lake_site_hash(d->name.p, d->name.len, d->target.p, d->target.len,
                                           d->file.p, d->file.len, d->line)));
    TRY(put_dict(t, AE_NAME, d->name.p, d->name.len));
    TRY(put_dict(t, AE_FILENAME, d->file.p, d->file.len));
    TRY(put_dict(t, AE_TARGET, d->target.p, d->target.len));
    return put_u32(t, AE_LINE, d->line);
}

int lake_build_async_events(const lake_proc *p, const lake_src_block *blocks, size_t n,
                            const void *prev_state, size_t prev_len, lake_build_out *out,
                            errmsg *e)
{
    (void)prev_state;
    (void)prev_len;
    return build(LAKE_ASYNC_EVENTS, async_row, p, blocks, n, out, e);
}

/* ------------------------------------------------------------ log_entries, measures */

/* The columns both views share, in the same positions (process_id .. target). */
static int common_row(etable *t, const lake_proc *p, const lake_src_block *b,
                      const wire_desc *d, const wire_event *ev)
{
    TRY(put_dict(t, LE_PROCESS_ID, p->process_id_str, 36));
    TRY(put_uuid(t, LE_STREAM_ID, &b->stream_id));
    TRY(put_uuid(t, LE_BLOCK_ID, &b->block_id));
    TRY(put_i64(t, LE_INSERT_TIME, b->insert_time_ns));
    TRY(put_dict(t, LE_EXE, p->exe, strlen(p->exe)));
    TRY(put_dict(t, LE_USERNAME, p->username, strlen(p->username)));
    TRY(put_dict(t, LE_COMPUTER, p->computer, strlen(p->computer)));
    TRY(put_i64(t, LE_TIME, lake_ticks_to_ns(p, ev->ticks)));
    return put_dict(t, LE_TARGET, d->target.p, d->target.len);
}

static int log_row(etable *t, const lake_proc *p, const lake_src_block *b, const wire_payload *pl,
                   const wire_event *ev)
{
    if (ev->type != WIRE_EV_LOG && ev->type != WIRE_EV_LOG_FMT && ev->type != WIRE_EV_LOG_ATTRS)
        return SL_OK;
    const wire_desc *d = &pl->descs[ev->desc];
    const wire_str msg = ev->type == WIRE_EV_LOG ? d->name : ev->name;
    TRY(common_row(t, p, b, d, ev));
    TRY(put_u32(t, LE_LEVEL, d->level));
    TRY(put_str(t, LE_MSG, msg.p, msg.len));
    if (ev->type == WIRE_EV_LOG_ATTRS)
        return put_str(t, LE_PROPERTIES, ev->props.p, ev->props.len);
    return put_str(t, LE_PROPERTIES, "{}", 2);
}

int lake_build_log_entries(const lake_proc *p, const lake_src_block *blocks, size_t n,
                           const void *prev_state, size_t prev_len, lake_build_out *out,
                           errmsg *e)
{
    (void)prev_state;
    (void)prev_len;
    return build(LAKE_LOG_ENTRIES, log_row, p, blocks, n, out, e);
}

static int measure_row(etable *t, const lake_proc *p, const lake_src_block *b,
                       const wire_payload *pl, const wire_event *ev)
{
    if (ev->type != WIRE_EV_METRIC_INT && ev->type != WIRE_EV_METRIC_FLOAT &&
        ev->type != WIRE_EV_METRIC_ATTRS)
        return SL_OK;
    const wire_desc *d = &pl->descs[ev->desc];
    TRY(common_row(t, p, b, d, ev));
    TRY(put_dict(t, ME_NAME, d->name.p, d->name.len));
    TRY(put_dict(t, ME_UNIT, d->unit.p, d->unit.len));
    TRY(put_f64(t, ME_VALUE,
                ev->type == WIRE_EV_METRIC_INT ? (double)ev->value_i : ev->value_f));
    if (ev->type == WIRE_EV_METRIC_ATTRS)
        return put_str(t, ME_PROPERTIES, ev->props.p, ev->props.len);
    return put_str(t, ME_PROPERTIES, "{}", 2);
}

int lake_build_measures(const lake_proc *p, const lake_src_block *blocks, size_t n,
                        const void *prev_state, size_t prev_len, lake_build_out *out, errmsg *e)
{
    (void)prev_state;
    (void)prev_len;
    return build(LAKE_MEASURES, measure_row, p, blocks, n, out, e);
}

/* ------------------------------------------------------------ otel_spans */

static int otel_span_row(etable *t, const lake_proc *p, const lake_src_block *b,
                         const wire_payload *pl, const wire_event *ev)
{
    static const char *const kinds[] = {"unspecified", "internal", "server",
                                        "client",      "producer", "consumer"};
    static const char *const statuses[] = {"unset", "ok", "error"};
    static const uint8_t zero[WIRE_SPAN_ID_BYTES];
    if (ev->type != WIRE_EV_OTEL_SPAN)
        return SL_OK;
    const wire_desc *d = &pl->descs[ev->desc];
    char hex[2 * WIRE_TRACE_ID_BYTES + 1];
    int has_parent = memcmp(ev->otel_parent_id, zero, sizeof zero) != 0;
    int64_t begin = lake_ticks_to_ns(p, ev->ticks), end = lake_ticks_to_ns(p, ev->end_ticks);
    TRY(put_dict(t, OS_PROCESS_ID, p->process_id_str, 36));
    TRY(put_uuid(t, OS_STREAM_ID, &b->stream_id));
    bytes_hex(ev->trace_id, WIRE_TRACE_ID_BYTES, hex);
    TRY(put_str(t, OS_TRACE_ID, hex, 2 * WIRE_TRACE_ID_BYTES));
    bytes_hex(ev->otel_span_id, WIRE_SPAN_ID_BYTES, hex);
    TRY(put_str(t, OS_SPAN_ID, hex, 2 * WIRE_SPAN_ID_BYTES));
    bytes_hex(ev->otel_parent_id, WIRE_SPAN_ID_BYTES, hex);
    TRY(put_str(t, OS_PARENT_SPAN_ID, hex, has_parent ? 2 * WIRE_SPAN_ID_BYTES : 0));
    TRY(put_dict(t, OS_NAME, d->name.p, d->name.len));
    TRY(put_dict(t, OS_SCOPE, d->target.p, d->target.len));
    TRY(put_dict(t, OS_KIND, kinds[ev->span_kind], strlen(kinds[ev->span_kind])));
    TRY(put_i64(t, OS_START, begin));
    TRY(put_i64(t, OS_END, end));
    TRY(put_i64(t, OS_DURATION, end - begin));
    TRY(put_dict(t, OS_STATUS, statuses[ev->status_code], strlen(statuses[ev->status_code])));
    TRY(put_str(t, OS_STATUS_MESSAGE, ev->status_msg.p, ev->status_msg.len));
    TRY(put_str(t, OS_ATTRIBUTES, ev->props.p, ev->props.len));
    return put_str(t, OS_EVENTS, ev->events_json.p, ev->events_json.len);
}

int lake_build_otel_spans(const lake_proc *p, const lake_src_block *blocks, size_t n,
                          const void *prev_state, size_t prev_len, lake_build_out *out,
                          errmsg *e)
{
    (void)prev_state;
    (void)prev_len;
    return build(LAKE_OTEL_SPANS, otel_span_row, p, blocks, n, out, e);
}
