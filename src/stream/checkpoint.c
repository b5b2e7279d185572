/*
 * checkpoint.c - checkpoint objects: their encoders and bounds-checked
 * decoders (checkpoint.h; the byte tables in docs/internals/stream.md are the
 * specification), and a job's objects in a local object store.
 *
 * Every object ends with the CRC-32 (zlib's) of the bytes before it, so a
 * torn or damaged object is refused whole rather than half read; a decoder
 * never reads past its input and never trusts a count before checking it
 * against the bytes left (tests/fuzz/fuzz_checkpoint.c).
 */
#include "stream/checkpoint.h"

#include "base/alloc.h"
#include "base/bytes.h"
#include "objstore/objstore.h"
#include "sql/types/value.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define MAGIC "SLCK"
enum { KIND_MANIFEST = 1, KIND_WORKER = 2, KIND_LIVE = 3, KIND_GAUGES = 4 };
#define PART_POS_BYTES 21 /* a kafka partition's position (version 2) */
#define HEAD_BYTES 16 /* magic, version, kind, seq */

/* ---- bytes ------------------------------------------------------------------ */

static int put_u8(dbuf *o, uint8_t v)
{
    return dbuf_append_byte(o, v);
}

static int put_u16(dbuf *o, uint16_t v)
{
    uint8_t b[2];
    st_u16le(b, v);
    return dbuf_append(o, b, 2);
}

static int put_u32(dbuf *o, uint32_t v)
{
    uint8_t b[4];
    st_u32le(b, v);
    return dbuf_append(o, b, 4);
}

static int put_u64(dbuf *o, uint64_t v)
{
    uint8_t b[8];
    st_u64le(b, v);
    return dbuf_append(o, b, 8);
}

typedef struct cur {
    const uint8_t *p;
    size_t n;
    bool bad;
    int version;             /* the object's */
} cur;

static const uint8_t *take(cur *c, size_t n)
{
    if (c->bad || c->n < n) {
        c->bad = true;
        return NULL;
    }
    const uint8_t *p = c->p;
    c->p += n;
    c->n -= n;
    return p;
}

static uint8_t get_u8(cur *c)
{
    const uint8_t *p = take(c, 1);
    return p ? p[0] : 0;
}

static bool get_bool(cur *c)
{
    uint8_t v = get_u8(c);
    c->bad |= v > 1;
    return v == 1;
}

static uint32_t get_u32(cur *c)
{
    const uint8_t *p = take(c, 4);
    return p ? ld_u32le(p) : 0;
}

static uint64_t get_u64(cur *c)
{
    const uint8_t *p = take(c, 8);
    return p ? ld_u64le(p) : 0;
}

static uint32_t crc_of(const uint8_t *p, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    while (n) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}

/* The object's body (header checked) between the header and the CRC. */
static int open_obj(const uint8_t *p, size_t n, int kind, cur *c, uint64_t *seq)
{
    if (n < HEAD_BYTES + 4 || memcmp(p, MAGIC, 4) || ld_u16le(p + 4) < 1 ||
        ld_u16le(p + 4) > STREAM_CKPT_VERSION || ld_u16le(p + 6) != kind ||
        crc_of(p, n - 4) != ld_u32le(p + n - 4))
        return SL_EINVAL;
    *seq = ld_u64le(p + 8);
    *c = (cur){p + HEAD_BYTES, n - HEAD_BYTES - 4, false, ld_u16le(p + 4)};
    return SL_OK;
}

static int put_head(dbuf *o, int kind, uint64_t seq)
{
    int rc = dbuf_append(o, MAGIC, 4);
    if (!rc)
        rc = put_u16(o, STREAM_CKPT_VERSION);
    if (!rc)
        rc = put_u16(o, (uint16_t)kind);
    return rc ? rc : put_u64(o, seq);
}

static int put_crc(dbuf *o)
{
    return put_u32(o, crc_of(o->p, o->len));
}

static int put_pos(dbuf *o, const stream_reader_pos *p)
{
    int rc = put_u64(o, p->offset);
    rc = rc ? rc : put_u64(o, (uint64_t)p->line);
    rc = rc ? rc : put_u8(o, p->header_done);
    rc = rc ? rc : put_u8(o, p->seen);
    rc = rc ? rc : put_u64(o, (uint64_t)p->max_ns);
    rc = rc ? rc : put_u64(o, p->rows_read);
    rc = rc ? rc : put_u64(o, p->late);
    rc = rc ? rc : put_u64(o, p->bad);
    rc = rc ? rc : put_u32(o, p->nparts);
    for (uint32_t i = 0; i < p->nparts && i < STREAM_POS_MAX_PARTS && !rc; i++) {
        const stream_part_pos *q = &p->parts[i];
        rc = put_u32(o, (uint32_t)q->partition);
        rc = rc ? rc : put_u64(o, (uint64_t)q->next);
        rc = rc ? rc : put_u8(o, q->seen);
        rc = rc ? rc : put_u64(o, (uint64_t)q->max_ns);
    }
    return rc;
}

static void get_pos(cur *c, stream_reader_pos *p)
{
    p->offset = get_u64(c);
    p->line = (int64_t)get_u64(c);
    p->header_done = get_bool(c);
    p->seen = get_bool(c);
    p->max_ns = (int64_t)get_u64(c);
    p->rows_read = get_u64(c);
    p->late = get_u64(c);
    p->bad = get_u64(c);
    p->nparts = c->version >= 2 ? get_u32(c) : 0;
    if (p->nparts > STREAM_POS_MAX_PARTS || (size_t)p->nparts * PART_POS_BYTES > c->n) {
        c->bad = true;
        p->nparts = 0;
    }
    for (uint32_t i = 0; i < p->nparts; i++) {
        stream_part_pos *q = &p->parts[i];
        q->partition = (int32_t)get_u32(c);
        q->next = (int64_t)get_u64(c);
        q->seen = get_bool(c);
        q->max_ns = (int64_t)get_u64(c);
        c->bad |= q->partition < 0;
    }
}

/* ---- the manifest -------------------------------------------------------------- */

int stream_ckpt_manifest_encode(const stream_ckpt_manifest *m, dbuf *o)
{
    int rc = put_head(o, KIND_MANIFEST, m->seq);
    rc = rc ? rc : put_u64(o, m->job_hash);
    rc = rc ? rc : put_u64(o, m->file_size);
    rc = rc ? rc : put_u32(o, m->nworkers);
    rc = rc ? rc : put_u32(o, m->nsplits);
    rc = rc ? rc : put_u64(o, m->sink_bytes);
    rc = rc ? rc : put_u32(o, (uint32_t)m->chunk);
    rc = rc ? rc : put_u8(o, m->has_pos);
    rc = rc ? rc : put_pos(o, &m->pos);
    rc = rc ? rc : put_u64(o, m->sink_run);
    return rc ? rc : put_crc(o);
}

int stream_ckpt_manifest_decode(const uint8_t *p, size_t n, stream_ckpt_manifest *m)
{
    cur c;
    memset(m, 0, sizeof *m);
    if (open_obj(p, n, KIND_MANIFEST, &c, &m->seq))
        return SL_EINVAL;
    m->job_hash = get_u64(&c);
    m->file_size = get_u64(&c);
    m->nworkers = get_u32(&c);
    m->nsplits = get_u32(&c);
    m->sink_bytes = get_u64(&c);
    m->chunk = (int32_t)get_u32(&c);
    m->has_pos = get_bool(&c);
    get_pos(&c, &m->pos);
    m->sink_run = c.version >= 3 ? get_u64(&c) : 0;
    m->version = (uint16_t)c.version;
    if (c.bad || c.n || !m->nworkers || m->nworkers > 1024 || !m->nsplits || m->chunk < -1 ||
        m->chunk >= (int64_t)m->nsplits)
        return SL_EINVAL;
    return SL_OK;
}

/* ---- a worker's part -------------------------------------------------------------- */

int stream_ckpt_worker_begin(const stream_ckpt_worker *w, dbuf *o)
{
    int rc = put_head(o, KIND_WORKER, w->seq);
    rc = rc ? rc : put_u32(o, w->worker);
    rc = rc ? rc : put_u32(o, (uint32_t)w->chunk);
    rc = rc ? rc : put_u8(o, w->has_pos);
    rc = rc ? rc : put_pos(o, &w->pos);
    rc = rc ? rc : put_u64(o, w->rows_read);
    rc = rc ? rc : put_u64(o, w->late);
    rc = rc ? rc : put_u64(o, w->bad);
    rc = rc ? rc : put_u8(o, w->max_seen);
    rc = rc ? rc : put_u64(o, (uint64_t)w->max_ns);
    rc = rc ? rc : put_u64(o, (uint64_t)w->wm);
    rc = rc ? rc : put_u64(o, (uint64_t)w->owner_wm);
    rc = rc ? rc : put_u32(o, w->nprod);
    for (uint32_t i = 0; i < w->nprod && !rc; i++)
        rc = put_u64(o, (uint64_t)w->in_wm[i]);
    return rc ? rc : put_u32(o, 0); /* the window count, set by finish */
}

int stream_ckpt_worker_win(dbuf *o, int64_t start, int64_t end, size_t *len_at)
{
    int rc = put_u64(o, (uint64_t)start);
    rc = rc ? rc : put_u64(o, (uint64_t)end);
    *len_at = o->len;
    return rc ? rc : put_u32(o, 0);
}

void stream_ckpt_worker_win_done(dbuf *o, size_t len_at)
{
    st_u32le(o->p + len_at, (uint32_t)(o->len - len_at - 4));
}

int stream_ckpt_worker_sessions(dbuf *o, size_t nwins_at, uint32_t nwins, size_t *len_at)
{
    st_u32le(o->p + nwins_at, nwins);
    *len_at = o->len;
    return put_u32(o, 0);
}

int stream_ckpt_worker_finish(dbuf *o)
{
    return put_crc(o);
}

int stream_ckpt_worker_decode(const uint8_t *p, size_t n, stream_ckpt_worker *w)
{
    cur c;
    memset(w, 0, sizeof *w);
    if (open_obj(p, n, KIND_WORKER, &c, &w->seq))
        return SL_EINVAL;
    w->worker = get_u32(&c);
    w->chunk = (int32_t)get_u32(&c);
    w->has_pos = get_bool(&c);
    get_pos(&c, &w->pos);
    w->rows_read = get_u64(&c);
    w->late = get_u64(&c);
    w->bad = get_u64(&c);
    w->max_seen = get_bool(&c);
    w->max_ns = (int64_t)get_u64(&c);
    w->wm = (int64_t)get_u64(&c);
    w->owner_wm = (int64_t)get_u64(&c);
    w->nprod = get_u32(&c);
    if (c.bad || w->chunk < 0 || w->nprod > 1024 || (size_t)w->nprod * 8 > c.n)
        return SL_EINVAL;
    if (!(w->in_wm = sl_malloc(sizeof *w->in_wm * (w->nprod ? w->nprod : 1))))
        return SL_ENOMEM;
    for (uint32_t i = 0; i < w->nprod; i++)
        w->in_wm[i] = (int64_t)get_u64(&c);
    w->nwins = get_u32(&c);
    if (c.bad || w->nwins > c.n / 20) { /* a window takes at least 20 bytes */
        stream_ckpt_worker_free(w);
        return SL_EINVAL;
    }
    if (!(w->wins = sl_calloc(w->nwins ? w->nwins : 1, sizeof *w->wins))) {
        stream_ckpt_worker_free(w);
        return SL_ENOMEM;
    }
    for (uint32_t i = 0; i < w->nwins && !c.bad; i++) {
        stream_ckpt_win *x = &w->wins[i];
        x->start = (int64_t)get_u64(&c);
        x->end = (int64_t)get_u64(&c);
        x->len = get_u32(&c);
        x->state = take(&c, x->len);
        if (i && x->start <= w->wins[i - 1].start) /* sorted by start, as kept */
            c.bad = true;
    }
    if (c.version >= 2) {
        w->sessions_len = get_u32(&c);
        w->sessions = take(&c, w->sessions_len);
    }
    if (c.bad || c.n) {
        stream_ckpt_worker_free(w);
        return SL_EINVAL;
    }
    return SL_OK;
}

void stream_ckpt_worker_free(stream_ckpt_worker *w)
{
    sl_free(w->in_wm);
    sl_free(w->wins);
    w->in_wm = NULL;
    w->wins = NULL;
}

/* ---- a telemetry job's blocks (version 10) --------------------------------------- */

int stream_ckpt_live_encode(const stream_ckpt_live *l, dbuf *o)
{
    int rc = put_head(o, KIND_LIVE, l->seq);
    rc = rc ? rc : put_u32(o, l->worker);
    rc = rc ? rc : put_u64(o, (uint64_t)l->low_ns);
    rc = rc ? rc : put_u32(o, l->n);
    for (uint32_t i = 0; i < l->n && !rc; i++) {
        rc = dbuf_append(o, l->done[i].id.b, 16);
        rc = rc ? rc : put_u64(o, (uint64_t)l->done[i].at_ns);
    }
    if (l->has_spans) {
        rc = rc ? rc : put_u32(o, l->spans_len);
        rc = rc ? rc : dbuf_append(o, l->spans, l->spans_len);
    }
    return rc ? rc : put_crc(o);
}

int stream_ckpt_live_decode(const uint8_t *p, size_t n, stream_ckpt_live *l)
{
    cur c;
    memset(l, 0, sizeof *l);
    if (open_obj(p, n, KIND_LIVE, &c, &l->seq) || c.version < 10)
        return SL_EINVAL;
    l->worker = get_u32(&c);
    l->low_ns = (int64_t)get_u64(&c);
    l->n = get_u32(&c);
    /* the list, then nothing or (version 12) the states: a length and as many bytes */
    size_t list = (size_t)l->n * 24;
    if (c.bad || c.n < list)
        return SL_EINVAL;
    l->has_spans = c.n > list;
    if (l->has_spans && (c.version < 12 || c.n - list < 4 ||
                         ld_u32le(c.p + list) != c.n - list - 4))
        return SL_EINVAL;
    if (!(l->done = sl_malloc(sizeof *l->done * (l->n ? l->n : 1))))
        return SL_ENOMEM;
    for (uint32_t i = 0; i < l->n; i++) {
        memcpy(l->done[i].id.b, take(&c, 16), 16);
        l->done[i].at_ns = (int64_t)get_u64(&c);
    }
    if (l->has_spans) {
        l->spans_len = get_u32(&c);
        l->spans = take(&c, l->spans_len);
    }
    return SL_OK;
}

/* ---- a metrics sink's gauges (version 11) ---------------------------------------- */

int stream_ckpt_gauges_begin(uint64_t seq, dbuf *out)
{
    return put_head(out, KIND_GAUGES, seq);
}

int stream_ckpt_gauges_finish(dbuf *out)
{
    return put_crc(out);
}

int stream_ckpt_gauges_open(const uint8_t *p, size_t n, uint64_t *seq, const uint8_t **body,
                            size_t *len)
{
    cur c;
    if (open_obj(p, n, KIND_GAUGES, &c, seq) || c.version < 11)
        return SL_EINVAL;
    *body = c.p;
    *len = c.n;
    return SL_OK;
}

uint64_t stream_ckpt_hash(const char *text)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h;
}

/* ---- rows ----------------------------------------------------------------------- */

#define ROWS_BATCH 8192 /* rows handed back per batch */

int stream_ckpt_rows_head(dbuf *o, uint32_t nrows, uint32_t ncols)
{
    int rc = put_u32(o, nrows);
    return rc ? rc : put_u32(o, ncols);
}

int stream_ckpt_row(dbuf *o, const sql_batch *b, int64_t r, dbuf *txt)
{
    int rc = SL_OK;
    for (int c = 0; c < b->ncols && !rc; c++) {
        bool null = !col_vec_is_valid(&b->cols[c], r);
        dbuf_reset(txt);
        if ((rc = put_u8(o, null)) || null)
            continue;
        if (!(rc = sql_vec_text(b->types[c], &b->cols[c], r, txt)) &&
            !(rc = put_u32(o, (uint32_t)txt->len)))
            rc = dbuf_append(o, txt->p, txt->len);
    }
    return rc;
}

static int rows_damaged(sql_err *e, const char *what)
{
    return sql_err_set(e, "XX001", -1, "checkpoint: rows damaged (%s)", what);
}

int stream_ckpt_rows_read(const uint8_t *p, size_t n, int ncols, const sql_type *types,
                          int (*fn)(void *arg, sql_batch *b), void *arg, sql_err *e)
{
    cur c = {p, n, false, STREAM_CKPT_VERSION};
    uint32_t nrows = get_u32(&c), nc = get_u32(&c);
    if (c.bad)
        return rows_damaged(e, "header");
    if (nrows && (nc != (uint32_t)ncols || !nc || nrows > c.n / nc))
        return rows_damaged(e, "row count");
    if (!nrows && nc)
        return rows_damaged(e, "column count");
    arena a;
    arena_init(&a, 16384, (size_t)1 << 30);
    sql_batch *b = NULL;
    int rc = SL_OK;
    for (uint32_t i = 0; i < nrows && !rc; i++) {
        if (!b && sql_batch_new(ncols, types, &b)) {
            rc = sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
            break;
        }
        arena_reset(&a);
        for (int k = 0; k < ncols && !rc; k++) {
            sql_datum d = sql_datum_null();
            const char *state = NULL;
            bool null = get_bool(&c);
            uint32_t len = null ? 0 : get_u32(&c);
            const uint8_t *tp = null ? NULL : take(&c, len);
            if (c.bad)
                rc = rows_damaged(e, "value");
            else if (!null && sql_datum_parse(types[k], (const char *)tp, len, &a, &d, &state))
                rc = rows_damaged(e, "value text");
            else if (sql_datum_append(types[k], &d, &b->cols[k]))
                rc = sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
        }
        if (!rc && (++b->n == ROWS_BATCH || i + 1 == nrows)) {
            sql_batch *full = b;
            b = NULL;
            if (fn(arg, full))
                rc = sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
        }
    }
    if (!rc && c.n)
        rc = rows_damaged(e, "trailing bytes");
    sql_batch_free(b);
    arena_destroy(&a);
    return rc;
}

/* ---- a job's objects ------------------------------------------------------------ */

struct stream_ckpt {
    objstore *os;
    bool own;                /* os opened here (a local directory) */
    char job[200];           /* "job-J", or a server job's prefix */
};

static int store_err(sql_err *e, const char *what, const errmsg *m)
{
    return sql_err_set(e, "58030", -1, "checkpoint: %s: %s", what, m->text);
}

int stream_ckpt_open(const char *dir, int job, stream_ckpt **out, sql_err *e)
{
    *out = NULL;
    stream_ckpt *c = sl_calloc(1, sizeof *c);
    if (!c)
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    snprintf(c->job, sizeof c->job, "job-%d", job);
    errmsg m = {0};
    int rc = objstore_local_open(dir, &c->os, &m);
    if (rc) {
        sl_free(c);
        return sql_err_set(e, "58030", -1, "checkpoint directory \"%s\": %s", dir, m.text);
    }
    c->own = true;
    *out = c;
    return SL_OK;
}

int stream_ckpt_open_store(objstore *os, const char *prefix, stream_ckpt **out, sql_err *e)
{
    *out = NULL;
    stream_ckpt *c = sl_calloc(1, sizeof *c);
    if (!c)
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    if ((size_t)snprintf(c->job, sizeof c->job, "%s", prefix) >= sizeof c->job) {
        sl_free(c);
        return sql_err_set(e, "42622", -1, "checkpoint: the name \"%s\" is too long", prefix);
    }
    c->os = os;
    *out = c;
    return SL_OK;
}

void stream_ckpt_close(stream_ckpt *c)
{
    if (!c)
        return;
    if (c->own)
        objstore_close(c->os);
    sl_free(c);
}

typedef struct newest {
    const char *prefix;
    size_t plen;
    uint64_t seq;
    bool found;
} newest;

static int on_manifest(void *arg, const char *key, const objstore_stat *st)
{
    (void)st;
    newest *n = arg;
    const char *s = key + n->plen;
    char *end;
    if (strncmp(key, n->prefix, n->plen) || !*s)
        return 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || end - s != 20)
        return 0;
    if (!n->found || v > n->seq)
        n->seq = v;
    n->found = true;
    return 0;
}

int stream_ckpt_latest(stream_ckpt *c, stream_ckpt_manifest *m, bool *found, sql_err *e)
{
    char prefix[256];
    snprintf(prefix, sizeof prefix, "%s/manifest-", c->job);
    newest n = {prefix, strlen(prefix), 0, false};
    errmsg em = {0};
    *found = false;
    if (objstore_list(c->os, prefix, on_manifest, &n, &em))
        return store_err(e, "list", &em);
    if (!n.found)
        return SL_OK;
    char key[300];
    snprintf(key, sizeof key, "%s%020" PRIu64, prefix, n.seq);
    dbuf b;
    dbuf_init(&b, 4096);
    int rc = objstore_get(c->os, key, &b, &em);
    if (rc)
        rc = store_err(e, key, &em);
    else if (stream_ckpt_manifest_decode(b.p, b.len, m) || m->seq != n.seq)
        rc = sql_err_set(e, "XX001", -1, "checkpoint: %s is damaged", key);
    dbuf_free(&b);
    *found = !rc;
    return rc;
}

static void obj_key(const stream_ckpt *c, uint64_t seq, const char *name, char *key, size_t n)
{
    snprintf(key, n, "%s/%020" PRIu64 "/%s", c->job, seq, name);
}

int stream_ckpt_put_obj(stream_ckpt *c, uint64_t seq, const char *name, const dbuf *b,
                        sql_err *e)
{
    char key[300];
    obj_key(c, seq, name, key, sizeof key);
    errmsg em = {0};
    /* an object of an unpublished checkpoint (a crash before its manifest) is garbage */
    if (objstore_put(c->os, key, b->p, b->len, OBJSTORE_PUT_REPLACE, &em))
        return store_err(e, key, &em);
    return SL_OK;
}

int stream_ckpt_get_obj(stream_ckpt *c, uint64_t seq, const char *name, dbuf *out, sql_err *e)
{
    char key[300];
    obj_key(c, seq, name, key, sizeof key);
    errmsg em = {0};
    if (objstore_get(c->os, key, out, &em))
        return store_err(e, key, &em);
    return SL_OK;
}

void stream_ckpt_worker_obj(int w, char name[32])
{
    snprintf(name, 32, "worker-%d", w);
}

int stream_ckpt_get_worker(stream_ckpt *c, uint64_t seq, int w, dbuf *out, sql_err *e)
{
    char name[32];
    stream_ckpt_worker_obj(w, name);
    return stream_ckpt_get_obj(c, seq, name, out, e);
}

typedef struct dels {
    objstore *os;
    const char *keep;        /* a key prefix kept (NULL: none) */
    const char *keep2;
    const char *only;        /* only keys holding this (NULL: any) */
} dels;

static int on_delete(void *arg, const char *key, const objstore_stat *st)
{
    (void)st;
    dels *d = arg;
    if ((d->keep && !strncmp(key, d->keep, strlen(d->keep))) ||
        (d->keep2 && !strcmp(key, d->keep2)) || (d->only && !strstr(key, d->only)))
        return 0;
    errmsg em = {0};
    objstore_delete(d->os, key, &em); /* best effort: a leftover is garbage, not state */
    return 0;
}

int stream_ckpt_commit(stream_ckpt *c, const stream_ckpt_manifest *m, sql_err *e)
{
    dbuf b;
    dbuf_init(&b, 4096);
    char key[300], parts[300], prefix[256];
    snprintf(key, sizeof key, "%s/manifest-%020" PRIu64, c->job, m->seq);
    snprintf(parts, sizeof parts, "%s/%020" PRIu64 "/", c->job, m->seq);
    snprintf(prefix, sizeof prefix, "%s/", c->job);
    errmsg em = {0};
    int rc = stream_ckpt_manifest_encode(m, &b) ? sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1,
                                                              "out of memory")
                                                : SL_OK;
    if (!rc && objstore_put(c->os, key, b.p, b.len, OBJSTORE_PUT_ONCE, &em))
        rc = store_err(e, key, &em);
    dbuf_free(&b);
    if (!rc) {
        dels d = {c->os, parts, key, NULL};
        objstore_list(c->os, prefix, on_delete, &d, &em);
    }
    return rc;
}

void stream_ckpt_clear(stream_ckpt *c)
{
    char prefix[256];
    snprintf(prefix, sizeof prefix, "%s/", c->job);
    /* the manifests first: a crash part way leaves garbage, never a manifest whose
     * parts are gone */
    dels d = {c->os, NULL, NULL, "/manifest-"};
    errmsg em = {0};
    objstore_list(c->os, prefix, on_delete, &d, &em);
    d.only = NULL;
    objstore_list(c->os, prefix, on_delete, &d, &em);
}
