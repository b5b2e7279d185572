/*
 * build_spans.c - the thread_spans view: one row per span of a thread stream.
 *
 * The builder replays the stream's span events in order with a stack of open
 * spans (docs/internals/lake.md, "thread_spans").  A span's row is allocated
 * when it begins and completed when it ends, so rows come out in begin order
 * without a sort.  Spans still open when the partition's blocks run out are
 * removed from its rows and saved in the state, and the next partition starts
 * with them on its stack: every span is exactly one row, in the partition
 * where it ends.
 *
 * Invariants:
 *   - every stack entry owns a row (carried spans get rows reserved first);
 *   - the stack is in begin order, so the rows of open spans are ascending;
 *   - an end closes the nearest open span of the same call site; spans above
 *     it close with it (counted unclosed); an end with no such span becomes a
 *     row that begins at the stream's first known time (counted orphan_ends).
 *
 * State, version 1 (all integers LEB128, s = zigzag):
 *   u8 version | s first_known_ns | s last_known_ns | u n_open |
 *   n_open x (s id | s parent | u depth | s begin_ns | u line |
 *             u len, name | u len, target | u len, file)
 */
#include "lake/build.h"

#include "base/alloc.h"
#include "base/arena.h"
#include "base/bytes.h"
#include "base/hash.h"
#include "base/u64map.h"
#include "wire/wire.h"

#include <string.h>

#define STATE_VERSION 1
/*
 * Nested open spans in one stream.  The stack grows by doubling (no recursion,
 * no per-depth allocation that can fail midway); past this, the stream's
 * thread_spans cannot be built and only that instance fails (lake_failure_fn).
 */
#define MAX_OPEN (1 << 20)

typedef struct site {
    uint32_t name, target, file; /* dictionary keys */
    uint32_t line;
    uint32_t hash;
} site;

typedef struct open_span {
    int64_t id, parent, begin_ns;
    uint32_t depth, site;
    int64_t row;
} open_span;

typedef struct spans {
    const lake_proc *proc;
    lake_dictb names, targets, files;
    site *sites;
    uint32_t n_sites, cap_sites;
    u64map site_map; /* hash of (name, target, file, line) -> site (several per hash) */
    open_span *stack;
    uint32_t depth, cap_stack;
    lake_colb c[TS_NCOLS];
    int64_t *orphan_rows;
    size_t n_orphans, cap_orphans;
    int64_t first_known_ns, last_known_ns;
    int have_first;
    lake_build_out *out;
} spans;

/* ------------------------------------------------------------ sites */

static int intern_site(spans *s, const char *name, size_t nl, const char *target, size_t tl,
                       const char *file, size_t fl, uint32_t line, uint32_t *out)
{
    uint32_t k[3];
    int rc;
    if ((rc = lake_dictb_key(&s->names, name, nl, &k[0])) ||
        (rc = lake_dictb_key(&s->targets, target, tl, &k[1])) ||
        (rc = lake_dictb_key(&s->files, file, fl, &k[2])))
        return rc;
    uint64_t key = hash_u64(((uint64_t)k[0] << 32 | k[1]) ^ hash_u64((uint64_t)k[2] << 32 | line));
    size_t pos = (size_t)-1;
    uint32_t cand;
    while (u64map_find_next(&s->site_map, key, &pos, &cand)) {
        const site *c = &s->sites[cand];
        if (c->name == k[0] && c->target == k[1] && c->file == k[2] && c->line == line) {
            *out = cand;
            return SL_OK;
        }
    }
    if (s->n_sites == s->cap_sites) {
        uint32_t ncap = s->cap_sites ? s->cap_sites * 2 : 256;
        site *n = sl_realloc(s->sites, sizeof(site) * ncap);
        if (!n)
            return SL_ENOMEM;
        s->sites = n;
        s->cap_sites = ncap;
    }
    /* The row's hash identifies the call site by content, stable across partitions. */
    s->sites[s->n_sites] = (site){k[0], k[1], k[2], line,
                                  lake_site_hash(name, nl, target, tl, file, fl, line)};
    if ((rc = u64map_put_multi(&s->site_map, key, s->n_sites)))
        return rc;
    *out = s->n_sites++;
    return SL_OK;
}

/* ------------------------------------------------------------ rows */

static int new_row(spans *s, int64_t id, int64_t parent, uint32_t depth, int64_t begin_ns,
                   uint32_t site_ix, int64_t *row)
{
    const site *st = &s->sites[site_ix];
    int64_t *pid = lake_colb_push(&s->c[TS_ID]), *ppar = lake_colb_push(&s->c[TS_PARENT]);
    uint32_t *pdep = lake_colb_push(&s->c[TS_DEPTH]), *phash = lake_colb_push(&s->c[TS_HASH]);
    int64_t *pb = lake_colb_push(&s->c[TS_BEGIN]), *pe = lake_colb_push(&s->c[TS_END]);
    int64_t *pd = lake_colb_push(&s->c[TS_DURATION]);
    uint32_t *pn = lake_colb_push(&s->c[TS_NAME]), *pt = lake_colb_push(&s->c[TS_TARGET]);
    uint32_t *pf = lake_colb_push(&s->c[TS_FILENAME]), *pl = lake_colb_push(&s->c[TS_LINE]);
    if (!pid || !ppar || !pdep || !phash || !pb || !pe || !pd || !pn || !pt || !pf || !pl)
        return SL_ENOMEM;
    *pid = id;
    *ppar = parent;
    *pdep = depth;
    *phash = st->hash;
    *pb = begin_ns;
    *pe = begin_ns; /* completed by the end */
    *pd = 0;
    *pn = st->name;
    *pt = st->target;
    *pf = st->file;
    *pl = st->line;
    *row = s->c[TS_ID].n - 1;
    return SL_OK;
}

static void end_row(spans *s, int64_t row, int64_t begin_ns, int64_t end_ns)
{
    if (end_ns < begin_ns)
        end_ns = begin_ns; /* ticks of one thread never go back; never write a negative duration */
    ((int64_t *)(void *)s->c[TS_END].buf->p)[row] = end_ns;
    int64_t d;
    if (__builtin_sub_overflow(end_ns, begin_ns, &d))
        d = INT64_MAX; /* only between saturated times (build.h) */
    ((int64_t *)(void *)s->c[TS_DURATION].buf->p)[row] = d;
    if (begin_ns < s->out->min_event_ns)
        s->out->min_event_ns = begin_ns;
    if (end_ns > s->out->max_event_ns)
        s->out->max_event_ns = end_ns;
}

static int push(spans *s, int64_t id, int64_t begin_ns, uint32_t site_ix, int64_t row_or_new)
{
    if (s->depth == MAX_OPEN)
        return SL_ETOOBIG;
    if (s->depth == s->cap_stack) {
        uint32_t ncap = s->cap_stack ? s->cap_stack * 2 : 64;
        open_span *n = sl_realloc(s->stack, sizeof(open_span) * ncap);
        if (!n)
            return SL_ENOMEM;
        s->stack = n;
        s->cap_stack = ncap;
    }
    open_span *o = &s->stack[s->depth];
    o->id = id;
    o->parent = s->depth ? s->stack[s->depth - 1].id : -1;
    o->depth = s->depth;
    o->begin_ns = begin_ns;
    o->site = site_ix;
    o->row = row_or_new;
    int rc = SL_OK;
    if (row_or_new < 0)
        rc = new_row(s, id, o->parent, o->depth, begin_ns, site_ix, &o->row);
    if (!rc)
        s->depth++;
    return rc;
}

/* Closes the innermost open span of site_ix (and those above it), or records an orphan. */
static int close_span(spans *s, int64_t id, int64_t end_ns, uint32_t site_ix)
{
    uint32_t k = s->depth;
    while (k > 0 && s->stack[k - 1].site != site_ix)
        k--;
    if (k == 0) {
        /* An end without a begin: the span started before anything we know of. */
        int64_t row;
        int64_t parent = s->depth ? s->stack[s->depth - 1].id : -1;
        int rc = new_row(s, id, parent, s->depth, s->first_known_ns, site_ix, &row);
        if (rc)
            return rc;
        end_row(s, row, s->first_known_ns, end_ns);
        if (s->n_orphans == s->cap_orphans) {
            size_t ncap = s->cap_orphans ? s->cap_orphans * 2 : 16;
            int64_t *n = sl_realloc(s->orphan_rows, sizeof(int64_t) * ncap);
            if (!n)
                return SL_ENOMEM;
            s->orphan_rows = n;
            s->cap_orphans = ncap;
        }
        s->orphan_rows[s->n_orphans++] = row;
        s->out->orphan_ends++;
        return SL_OK;
    }
    while (s->depth >= k) { /* down to the matching span, at depth k - 1 */
        open_span *o = &s->stack[--s->depth];
        end_row(s, o->row, o->begin_ns, end_ns);
        if (s->depth >= k)
            s->out->unclosed++; /* above the matching span: closed with it */
    }
    return SL_OK;
}

/* ------------------------------------------------------------ state */

/* Appends v unless an earlier append failed; the first failure stays in *rc. */
static void put_uv(dbuf *b, uint64_t v, int *rc)
{
    uint8_t t[10];
    if (!*rc)
        *rc = dbuf_append(b, t, uvarint_put(t, v));
}

static void put_str(dbuf *b, const lake_dictb *d, uint32_t key, int *rc)
{
    size_t l;
    const uint8_t *p = col_vec_str(&d->dict->strings, key, &l);
    put_uv(b, l, rc);
    if (!*rc)
        *rc = dbuf_append(b, p, l);
}

/* SL_ETOOBIG when the open spans do not fit the state's cap, never a cut state. */
static int save_state(spans *s)
{
    dbuf *b = &s->out->state;
    dbuf_reset(b);
    int rc = dbuf_append_byte(b, STATE_VERSION);
    put_uv(b, zigzag_enc(s->first_known_ns), &rc);
    put_uv(b, zigzag_enc(s->last_known_ns), &rc);
    put_uv(b, s->depth, &rc);
    for (uint32_t i = 0; i < s->depth && !rc; i++) {
        const open_span *o = &s->stack[i];
        const site *st = &s->sites[o->site];
        put_uv(b, zigzag_enc(o->id), &rc);
        put_uv(b, zigzag_enc(o->parent), &rc);
        put_uv(b, o->depth, &rc);
        put_uv(b, zigzag_enc(o->begin_ns), &rc);
        put_uv(b, st->line, &rc);
        put_str(b, &s->names, st->name, &rc);
        put_str(b, &s->targets, st->target, &rc);
        put_str(b, &s->files, st->file, &rc);
    }
    return rc;
}

typedef struct state_span {
    int64_t id, parent, begin_ns;
    uint32_t depth, line;
    wire_str name, target, file;
} state_span;

/* Reads the state header; r is left at the first open span. */
static int state_header(rd *r, int64_t *first, int64_t *last, uint64_t *n, errmsg *e)
{
    uint8_t v = rd_u8(r);
    *first = rd_svarint(r);
    *last = rd_svarint(r);
    *n = rd_uvarint(r);
    if (r->err || v != STATE_VERSION || *n > MAX_OPEN)
        return errmsg_set(e, SL_ECORRUPT, "thread_spans state: bad header (version %u)", v);
    return SL_OK;
}

static int state_span_read(rd *r, state_span *o, errmsg *e)
{
    o->id = rd_svarint(r);
    o->parent = rd_svarint(r);
    uint64_t depth = rd_uvarint(r);
    o->begin_ns = rd_svarint(r);
    uint64_t line = rd_uvarint(r);
    wire_str *strs[3] = {&o->name, &o->target, &o->file};
    for (int i = 0; i < 3; i++) {
        uint64_t l = rd_uvarint(r);
        const uint8_t *p = rd_bytes(r, (size_t)l);
        strs[i]->p = (const char *)p;
        strs[i]->len = (uint32_t)l;
    }
    if (r->err || depth > MAX_OPEN || line > UINT32_MAX)
        return errmsg_set(e, SL_ECORRUPT, "thread_spans state: bad open span");
    o->depth = (uint32_t)depth;
    o->line = (uint32_t)line;
    return SL_OK;
}

/* Puts the spans of the previous partition's state on the stack, rows reserved first. */
static int load_state(spans *s, const void *state, size_t len, errmsg *e)
{
    rd r;
    rd_init(&r, state, len);
    uint64_t n;
    int rc = state_header(&r, &s->first_known_ns, &s->last_known_ns, &n, e);
    if (rc)
        return rc;
    s->have_first = 1;
    for (uint64_t i = 0; i < n; i++) {
        state_span o = {0};
        uint32_t site_ix;
        if ((rc = state_span_read(&r, &o, e)) ||
            (rc = intern_site(s, o.name.p, o.name.len, o.target.p, o.target.len, o.file.p,
                              o.file.len, o.line, &site_ix)) ||
            (rc = push(s, o.id, o.begin_ns, site_ix, -1)))
            return rc < 0 && !e->text[0] ? errmsg_set(e, rc, "thread_spans state") : rc;
    }
    return SL_OK;
}

int64_t lake_spans_state_last_ns(const void *state, size_t len)
{
    rd r;
    rd_init(&r, state, len);
    int64_t first, last;
    uint64_t n;
    errmsg e;
    return state_header(&r, &first, &last, &n, &e) ? INT64_MIN : last;
}

/* ------------------------------------------------------------ events */

/* Site of a span event: its descriptor's, with the run-time name of named spans. */
static int event_site(spans *s, const wire_payload *pl, const wire_event *ev,
                      const uint32_t *desc_site, uint32_t *out)
{
    if (ev->type == WIRE_EV_SPAN_BEGIN || ev->type == WIRE_EV_SPAN_END) {
        *out = desc_site[ev->desc];
        return SL_OK;
    }
    const wire_desc *d = &pl->descs[ev->desc];
    return intern_site(s, ev->name.p, ev->name.len, d->target.p, d->target.len, d->file.p,
                       d->file.len, d->line, out);
}

/* lake_block_fn: replays the block's span events on the stack. */
static int replay_block(void *arg, const lake_src_block *b, wire_payload *pl, arena *a, errmsg *e)
{
    spans *s = arg;
    int rc;
    uint32_t *desc_site = arena_alloc(a, sizeof(uint32_t) * (pl->n_descs ? pl->n_descs : 1));
    if (!desc_site)
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < pl->n_descs; i++) {
        const wire_desc *d = &pl->descs[i];
        desc_site[i] = UINT32_MAX;
        if (d->kind == WIRE_DESC_SPAN &&
            (rc = intern_site(s, d->name.p, d->name.len, d->target.p, d->target.len, d->file.p,
                              d->file.len, d->line, &desc_site[i])))
            return errmsg_set(e, rc, "thread_spans: too many distinct names in one partition");
    }
    wire_event ev;
    uint64_t index = 0;
    while ((rc = wire_payload_next(pl, &ev, e)) == 1) {
        int64_t id = (int64_t)(b->object_offset + index++);
        s->out->events++;
        if (ev.type > WIRE_EV_NAMED_SPAN_END)
            continue; /* async spans are the async_events view's */
        int64_t ns = lake_ticks_to_ns(s->proc, ev.ticks);
        if (!s->have_first) {
            s->first_known_ns = ns;
            s->have_first = 1;
        }
        s->last_known_ns = ns;
        uint32_t site_ix;
        if ((rc = event_site(s, pl, &ev, desc_site, &site_ix)))
            return errmsg_set(e, rc, "thread_spans: too many distinct names in one partition");
        if (ev.type == WIRE_EV_SPAN_BEGIN || ev.type == WIRE_EV_NAMED_SPAN_BEGIN)
            rc = push(s, id, ns, site_ix, -1);
        else
            rc = close_span(s, id, ns, site_ix);
        if (rc)
            return errmsg_set(e, rc, rc == SL_ETOOBIG ? "thread_spans: more than %d nested "
                              "open spans" : "thread_spans: out of memory", MAX_OPEN);
    }
    return rc;
}

/* ------------------------------------------------------------ output */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct begin_row {
    int64_t begin, row;
} begin_row;

/* By begin, then by row: a stable order, since rows are allocated in event order. */
static int cmp_begin_row(const void *a, const void *b)
{
    const begin_row *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

/*
 * Rows come out in event order, which is begin order while the stream's ticks
 * never go back.  Blocks of one stream whose time ranges overlap (a client bug,
 * or two writers with one stream id) break that, and readers (scan merges,
 * Perfetto tracks) need begin order: so then the order is sorted by begin,
 * stably.  Every span is kept; readers repair the nesting (pf_spans.h).
 */
static int sort_by_begin(spans *s, int64_t *order, int64_t m)
{
    const int64_t *begin = (const int64_t *)(const void *)s->c[TS_BEGIN].buf->p;
    int sorted = 1;
    for (int64_t i = 1; i < m && sorted; i++)
        sorted = begin[order[i - 1]] <= begin[order[i]];
    if (sorted)
        return SL_OK;
    begin_row *br = sl_malloc(sizeof *br * (size_t)m);
    if (!br)
        return SL_ENOMEM;
    for (int64_t i = 0; i < m; i++)
        br[i] = (begin_row){begin[order[i]], order[i]};
    qsort(br, (size_t)m, sizeof *br, cmp_begin_row);
    for (int64_t i = 0; i < m; i++)
        order[i] = br[i].row;
    sl_free(br);
    s->out->resorted++;
    return SL_OK;
}

static int rows_in_begin_order(spans *s)
{
    const int64_t *begin = (const int64_t *)(const void *)s->c[TS_BEGIN].buf->p;
    for (int64_t i = 1; i < s->c[TS_ID].n; i++)
        if (begin[i - 1] > begin[i])
            return 0;
    return 1;
}

/*
 * Final row order: orphans first (they begin at the first known time), then every
 * other row in allocation (begin) order, without the rows of spans still open;
 * sorted by begin if the stream's ticks went back (sort_by_begin).  Gathers every
 * column when that order is not the identity.
 */
static int finish_rows(spans *s)
{
    int64_t n = s->c[TS_ID].n;
    if (!s->n_orphans && !s->depth && rows_in_begin_order(s))
        return SL_OK;
    uint8_t *drop = sl_calloc((size_t)(n ? n : 1), 1);
    int64_t *order = sl_malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    if (!drop || !order) {
        sl_free(drop);
        sl_free(order);
        return SL_ENOMEM;
    }
    int64_t m = 0;
    if (s->n_orphans)
        qsort(s->orphan_rows, s->n_orphans, sizeof(int64_t), cmp_i64);
    for (size_t i = 0; i < s->n_orphans; i++) {
        order[m++] = s->orphan_rows[i];
        drop[s->orphan_rows[i]] = 1;
    }
    for (uint32_t i = 0; i < s->depth; i++)
        drop[s->stack[i].row] = 1;
    for (int64_t r = 0; r < n; r++)
        if (!drop[r])
            order[m++] = r;
    int rc = sort_by_begin(s, order, m);
    for (int c = 0; c < TS_NCOLS && !rc; c++) {
        lake_colb *cb = &s->c[c];
        col_buf *nb = col_buf_new(cb->width * (size_t)(m ? m : 1));
        if (!nb) {
            rc = SL_ENOMEM;
            break;
        }
        for (int64_t i = 0; i < m; i++)
            memcpy(nb->p + (size_t)i * cb->width, cb->buf->p + (size_t)order[i] * cb->width,
                   cb->width);
        col_buf_unref(cb->buf);
        cb->buf = nb;
        cb->n = m;
    }
    sl_free(drop);
    sl_free(order);
    return rc;
}

static int make_batch(spans *s, col_batch **out)
{
    col_batch *b;
    int rc = col_batch_new(col_schema_ref(lake_view_schema(LAKE_THREAD_SPANS)), &b);
    col_schema_unref(lake_view_schema(LAKE_THREAD_SPANS));
    if (rc)
        return rc;
    lake_dictb *dicts[TS_NCOLS] = {[TS_NAME] = &s->names, [TS_TARGET] = &s->targets,
                                   [TS_FILENAME] = &s->files};
    b->nrows = s->c[TS_ID].n;
    for (int c = 0; c < TS_NCOLS; c++) {
        col_type t = lake_view_col_type(LAKE_THREAD_SPANS, c);
        if (t == COL_DICT)
            lake_colb_to_dict_vec(&s->c[c], &b->cols[c], dicts[c]);
        else
            lake_colb_to_vec(&s->c[c], &b->cols[c], t);
    }
    *out = b;
    return SL_OK;
}

static void spans_free(spans *s)
{
    lake_dictb_free(&s->names);
    lake_dictb_free(&s->targets);
    lake_dictb_free(&s->files);
    u64map_free(&s->site_map);
    sl_free(s->sites);
    sl_free(s->stack);
    sl_free(s->orphan_rows);
    for (int c = 0; c < TS_NCOLS; c++)
        lake_colb_free(&s->c[c]);
}

static int spans_init(spans *s, const lake_proc *p, lake_build_out *out, int64_t rows_hint)
{
    memset(s, 0, sizeof *s);
    s->proc = p;
    s->out = out;
    u64map_init(&s->site_map);
    int rc = lake_dictb_init(&s->names, 64u << 20);
    if (!rc)
        rc = lake_dictb_init(&s->targets, 16u << 20);
    if (!rc)
        rc = lake_dictb_init(&s->files, 16u << 20);
    for (int c = 0; c < TS_NCOLS && !rc; c++)
        rc = lake_colb_init(&s->c[c], col_type_width(lake_view_col_type(LAKE_THREAD_SPANS, c), 4),
                            rows_hint);
    return rc;
}

int lake_build_thread_spans(const lake_proc *p, const lake_src_block *blocks, size_t n,
                            const void *prev_state, size_t prev_len, lake_build_out *out,
                            errmsg *e)
{
    spans s;
    uint64_t events = 0;
    for (size_t i = 0; i < n; i++)
        events += blocks[i].nb_objects;
    int rc = spans_init(&s, p, out, (int64_t)(events / 2 + 16));
    if (rc) {
        errmsg_set(e, rc, "thread_spans: out of memory");
        goto out;
    }
    if (prev_len && (rc = load_state(&s, prev_state, prev_len, e)))
        goto out;
    rc = lake_build_each_block(blocks, n, replay_block, &s, e);
    if (!rc && (rc = save_state(&s)))
        errmsg_set(e, rc, "thread_spans: %s", rc == SL_ETOOBIG ? "the open spans do not fit "
                   "the state" : "out of memory");
    if (!rc && (rc = finish_rows(&s)))
        errmsg_set(e, rc, "thread_spans: out of memory");
    if (!rc && (rc = make_batch(&s, &out->batch)))
        errmsg_set(e, rc, "thread_spans: out of memory");
out:
    spans_free(&s);
    return rc;
}

/* ------------------------------------------------------------ open spans at the end */

int lake_spans_open_rows(const void *state, size_t len, int64_t end_ns, col_batch **out,
                         uint64_t *n_open, errmsg *e)
{
    spans s;
    lake_build_out tmp;
    lake_build_out_init(&tmp);
    int rc = spans_init(&s, NULL, &tmp, 16);
    *n_open = 0;
    if (!rc && len)
        rc = load_state(&s, state, len, e);
    /* Close every open span at end_ns: they are rows of the view until their end arrives. */
    for (uint32_t i = 0; !rc && i < s.depth; i++)
        end_row(&s, s.stack[i].row, s.stack[i].begin_ns, end_ns);
    if (!rc) {
        *n_open = s.depth;
        rc = make_batch(&s, out);
    }
    spans_free(&s);
    lake_build_out_free(&tmp);
    return rc;
}
