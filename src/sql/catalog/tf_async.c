/*
 * tf_async.c - a process's async spans for process_spans(): begin and end
 * events of the async_events view paired by span id.
 *
 * Events are read in time order; a begin waits in a table keyed by span id
 * until its end arrives, and the pair becomes one row with the columns of a
 * thread span (id = span id, parent = parent span id, begin, end, duration,
 * depth, name, target, filename, line; stream_id from the begin event;
 * thread_id and thread_name NULL).  Memory is bounded by the spans open at
 * once, not by the process.  A begin never ended comes out at the end with a
 * NULL end and duration; an end without its begin (the begin was lost, or the
 * span id was reused) is counted and dropped.
 */
#include "base/alloc.h"
#include "lake/lake.h"
#include "sql/catalog/lakescan.h"

#include <string.h>

enum { O_STREAM_ID, O_THREAD_ID, O_THREAD_NAME, O_ID, O_PARENT, O_DEPTH, O_HASH, O_BEGIN,
       O_END, O_DURATION, O_NAME, O_TARGET, O_FILENAME, O_LINE, O_NCOLS };

typedef struct pend {
    int64_t span_id, parent, time;
    uint32_t depth, hash, line;
    char *strs;            /* stream_id, name, target, filename: NUL-separated */
    uint32_t len[4];
} pend;

typedef struct async_scan {
    sql_scan base;
    lake_scan *ls;
    const sql_scan_req *req;
    const sql_type *types;        /* process_spans' column types */
    /* open spans: pend[] and a linear-probing map span_id -> index + 1 */
    pend *p;
    int64_t np, pcap;
    int64_t *keys;
    int32_t *slot;
    int64_t mcap;
    col_vec out[O_NCOLS];
    int64_t nout;
    bool eof, flushed_open;
    uint64_t unmatched;
} async_scan;

static uint64_t mix(int64_t k)
{
    uint64_t x = (uint64_t)k * 0x9E3779B97F4A7C15ull;
    return x ^ (x >> 29);
}

static int map_grow(async_scan *a)
{
    int64_t ncap = a->mcap ? a->mcap * 2 : 1024;
    int64_t *k = sl_malloc(sizeof *k * (size_t)ncap);
    int32_t *s = sl_calloc((size_t)ncap, sizeof *s);
    if (!k || !s) {
        sl_free(k);
        sl_free(s);
        return SL_ENOMEM;
    }
    for (int64_t i = 0; i < a->mcap; i++) {
        if (!a->slot[i])
            continue;
        uint64_t h = mix(a->keys[i]) & (uint64_t)(ncap - 1);
        while (s[h])
            h = (h + 1) & (uint64_t)(ncap - 1);
        k[h] = a->keys[i];
        s[h] = a->slot[i];
    }
    sl_free(a->keys);
    sl_free(a->slot);
    a->keys = k;
    a->slot = s;
    a->mcap = ncap;
    return SL_OK;
}

static int64_t map_find(const async_scan *a, int64_t key)
{
    if (!a->mcap)
        return -1;
    uint64_t m = (uint64_t)(a->mcap - 1), h = mix(key) & m;
    while (a->slot[h]) {
        if (a->keys[h] == key)
            return (int64_t)h;
        h = (h + 1) & m;
    }
    return -1;
}

/* Removes slot h, shifting later entries of its run back (no tombstones). */
static void map_del(async_scan *a, int64_t h)
{
    uint64_t m = (uint64_t)(a->mcap - 1), i = (uint64_t)h, j = i;
    a->slot[i] = 0;
    for (;;) {
        j = (j + 1) & m;
        if (!a->slot[j])
            return;
        uint64_t want = mix(a->keys[j]) & m;
        /* j's entry may move to i if i lies cyclically in [want, j) */
        bool move = i <= j ? (want <= i || want > j) : (want <= i && want > j);
        if (move) {
            a->keys[i] = a->keys[j];
            a->slot[i] = a->slot[j];
            a->slot[j] = 0;
            i = j;
        }
    }
}

static const char *str_at(const col_vec *v, int64_t r, uint32_t *n)
{
    size_t len;
    const uint8_t *p = col_vec_str(v, r, &len);
    *n = (uint32_t)len;
    return (const char *)p;
}

static int put_str(col_vec *v, const char *s, uint32_t n)
{
    return s ? col_vec_append_str(v, s, n) : col_vec_append_null(v);
}

/* Appends a span row (end_time < 0 with has_end false: still open). */
static int emit(async_scan *a, const pend *b, bool has_end, int64_t end_time)
{
    if (b->time >= a->req->end_ns || (has_end && end_time < a->req->begin_ns))
        return SL_OK;
    const char *s = b->strs;
    const char *f[4];
    for (int i = 0; i < 4; i++) {
        f[i] = s;
        s += b->len[i] + 1;
    }
    col_vec *o = a->out;
    int rc = put_str(&o[O_STREAM_ID], f[0], b->len[0]);
    rc |= col_vec_append_null(&o[O_THREAD_ID]);
    rc |= col_vec_append_null(&o[O_THREAD_NAME]);
    rc |= col_vec_append_i64(&o[O_ID], b->span_id);
    rc |= col_vec_append_i64(&o[O_PARENT], b->parent);
    rc |= col_vec_append_i32(&o[O_DEPTH], (int32_t)b->depth);
    rc |= col_vec_append_i64(&o[O_HASH], b->hash);
    rc |= col_vec_append_i64(&o[O_BEGIN], b->time);
    rc |= has_end ? col_vec_append_i64(&o[O_END], end_time) : col_vec_append_null(&o[O_END]);
    rc |= has_end ? col_vec_append_i64(&o[O_DURATION], end_time - b->time)
                  : col_vec_append_null(&o[O_DURATION]);
    rc |= put_str(&o[O_NAME], f[1], b->len[1]);
    rc |= put_str(&o[O_TARGET], f[2], b->len[2]);
    rc |= put_str(&o[O_FILENAME], f[3], b->len[3]);
    rc |= col_vec_append_i32(&o[O_LINE], (int32_t)b->line);
    a->nout++;
    return rc ? SL_ENOMEM : SL_OK;
}

static int on_begin(async_scan *a, const col_batch *cb, int64_t r)
{
    int64_t id = col_vec_i64(&cb->cols[AE_SPAN_ID], r);
    if (map_find(a, id) >= 0) {
        a->unmatched++; /* a second begin of an open span: keep the first */
        return SL_OK;
    }
    if (a->np == a->pcap) {
        int64_t nc = a->pcap ? a->pcap * 2 : 256;
        pend *n = sl_realloc(a->p, sizeof *n * (size_t)nc);
        if (!n)
            return SL_ENOMEM;
        a->p = n;
        a->pcap = nc;
    }
    if ((a->np + 1) * 2 > a->mcap && map_grow(a))
        return SL_ENOMEM;
    pend *b = &a->p[a->np];
    b->span_id = id;
    b->parent = col_vec_i64(&cb->cols[AE_PARENT_SPAN_ID], r);
    b->time = col_vec_i64(&cb->cols[AE_TIME], r);
    b->depth = ((const uint32_t *)cb->cols[AE_DEPTH].values->p)[r];
    b->hash = ((const uint32_t *)cb->cols[AE_HASH].values->p)[r];
    b->line = ((const uint32_t *)cb->cols[AE_LINE].values->p)[r];
    static const int sc[4] = {AE_STREAM_ID, AE_NAME, AE_TARGET, AE_FILENAME};
    const char *sp[4];
    size_t total = 0;
    for (int i = 0; i < 4; i++) {
        sp[i] = str_at(&cb->cols[sc[i]], r, &b->len[i]);
        total += b->len[i] + 1;
    }
    if (!(b->strs = sl_malloc(total)))
        return SL_ENOMEM;
    char *w = b->strs;
    for (int i = 0; i < 4; i++) {
        if (b->len[i])
            memcpy(w, sp[i], b->len[i]);
        w[b->len[i]] = 0;
        w += b->len[i] + 1;
    }
    uint64_t m = (uint64_t)(a->mcap - 1), h = mix(id) & m;
    while (a->slot[h])
        h = (h + 1) & m;
    a->keys[h] = id;
    a->slot[h] = (int32_t)(++a->np);
    return SL_OK;
}

static int on_end(async_scan *a, const col_batch *cb, int64_t r)
{
    int64_t id = col_vec_i64(&cb->cols[AE_SPAN_ID], r);
    int64_t h = map_find(a, id);
    if (h < 0) {
        a->unmatched++;
        return SL_OK;
    }
    int64_t k = a->slot[h] - 1;
    int rc = emit(a, &a->p[k], true, col_vec_i64(&cb->cols[AE_TIME], r));
    sl_free(a->p[k].strs);
    map_del(a, h);
    /* the last pending entry takes k's place */
    if (k != a->np - 1) {
        a->p[k] = a->p[a->np - 1];
        int64_t hl = map_find(a, a->p[k].span_id);
        a->slot[hl] = (int32_t)(k + 1);
    }
    a->np--;
    return rc;
}

static int take_batch(async_scan *a, sql_batch **out, sql_err *e)
{
    sql_batch *b;
    if (sql_batch_new(a->req->ncols, NULL, &b))
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    b->n = a->nout;
    for (int i = 0; i < a->req->ncols; i++)
        sql_vec_share(&a->out[a->req->cols[i]], &b->cols[i]);
    for (int i = 0; i < O_NCOLS; i++) {
        col_vec_release(&a->out[i]);
        col_vec_init(&a->out[i], sql_type_phys(a->types[i]), 0);
    }
    a->nout = 0;
    *out = b;
    return SL_OK;
}

static int as_next(sql_scan *s, sql_batch **out, sql_err *e)
{
    async_scan *a = (async_scan *)s;
    *out = NULL;
    int64_t want = a->req->batch_rows > 0 ? a->req->batch_rows : 8192;
    while (!a->eof && a->nout < want) {
        if (a->req->cancel && *a->req->cancel)
            return sql_err_set(e, SQLSTATE_CANCELED, -1,
                               "canceling statement due to user request");
        col_batch *cb;
        errmsg em = {0};
        int rc = lake_scan_next(a->ls, &cb, &em);
        if (rc)
            return lakescan_fail(e, rc, em.text);
        if (!cb) {
            a->eof = true;
            break;
        }
        for (int64_t r = 0; r < cb->nrows && !rc; r++) {
            uint32_t n;
            const char *t = str_at(&cb->cols[AE_EVENT_TYPE], r, &n);
            if (n == 5 && !memcmp(t, "begin", 5))
                rc = on_begin(a, cb, r);
            else if (n == 3 && !memcmp(t, "end", 3))
                rc = on_end(a, cb, r);
        }
        col_batch_release(cb);
        if (rc)
            return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    }
    if (a->eof && !a->flushed_open) {
        /* spans never ended, in begin order */
        a->flushed_open = true;
        for (int64_t k = 0; k < a->np; k++) {
            if (emit(a, &a->p[k], false, 0))
                return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
        }
    }
    return a->nout ? take_batch(a, out, e) : SL_OK;
}

static void as_close(sql_scan *s)
{
    async_scan *a = (async_scan *)s;
    if (a->ls)
        lake_scan_close(a->ls);
    for (int64_t k = 0; k < a->np; k++)
        sl_free(a->p[k].strs);
    sl_free(a->p);
    sl_free(a->keys);
    sl_free(a->slot);
    for (int i = 0; i < O_NCOLS; i++)
        col_vec_release(&a->out[i]);
    sl_free(a);
}

static const sql_scan_ops g_async_ops = {as_next, as_close};

int sql_async_spans_open(lake *l, const char *process_id, const sql_scan_req *req,
                         const sql_type *types, sql_scan **out, sql_err *e);

int sql_async_spans_open(lake *l, const char *process_id, const sql_scan_req *req,
                         const sql_type *types, sql_scan **out, sql_err *e)
{
    async_scan *a = sl_calloc(1, sizeof *a);
    if (!a)
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    a->base.ops = &g_async_ops;
    a->req = req;
    a->types = types;
    for (int i = 0; i < O_NCOLS; i++)
        col_vec_init(&a->out[i], sql_type_phys(types[i]), 0);
    /* every event: a span that overlaps the range may have begun before it */
    lake_scan_opts so;
    lake_scan_opts_init(&so);
    so.batch_rows = 8192;
    errmsg em = {0};
    int rc = lake_scan_open(l, LAKE_ASYNC_EVENTS, process_id, &so, NULL, &a->ls, &em);
    if (rc) {
        as_close(&a->base);
        return lakescan_fail(e, rc, em.text);
    }
    *out = &a->base;
    return SL_OK;
}
