/*
 * spans.c - thread_spans states: the lake builder's state (the spans still open)
 * of each stream after its latest block, for at most a fixed number of streams
 * (the least recently used forgotten first).  The telemetry hub keeps one for
 * the jobs it decodes blocks for together, a resumed job its own, and a worker
 * of a job taking checkpoints the states after the blocks it took, which its
 * checkpoints save (live-I, docs/internals/stream.md) and a resumed job replays
 * from.  Not locked: each owner holds its own lock around it.
 *
 * Bytes (stream_spans_save): u32 count, then count x (16-byte stream id, u32
 * length, the state), least recently used first, all little-endian.
 */
#include "stream/spans.h"

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/err.h"

#include <stdlib.h>
#include <string.h>

typedef struct span_state {
    sl_uuid stream;
    uint8_t *p;
    size_t n;
    int64_t used;
} span_state;

struct stream_spans {
    span_state *v;
    int n, cap;
    int max;                 /* streams kept */
    int64_t tick;
};

static void spans_clear(stream_spans *m)
{
    for (int i = 0; i < m->n; i++)
        sl_free(m->v[i].p);
    sl_free(m->v);
    int max = m->max;
    memset(m, 0, sizeof *m);
    m->max = max;
}

stream_spans *stream_spans_new(int max)
{
    stream_spans *m = sl_calloc(1, sizeof *m);
    if (m)
        m->max = max > 0 ? max : STREAM_SPANS_MAX;
    return m;
}

void stream_spans_free(stream_spans *m)
{
    if (m) {
        spans_clear(m);
        sl_free(m);
    }
}

static span_state *spans_find(stream_spans *m, const sl_uuid *stream)
{
    for (int i = 0; i < m->n; i++)
        if (uuid_eq(&m->v[i].stream, stream))
            return &m->v[i];
    return NULL;
}

const uint8_t *stream_spans_get(stream_spans *m, const sl_uuid *stream, size_t *n)
{
    span_state *s = spans_find(m, stream);
    if (s)
        s->used = ++m->tick;
    *n = s ? s->n : 0;
    return s ? s->p : NULL;
}

int stream_spans_set(stream_spans *m, const sl_uuid *stream, const void *p, size_t n)
{
    uint8_t *c = sl_malloc(n ? n : 1);
    if (!c)
        return SL_ENOMEM;
    if (n)
        memcpy(c, p, n);
    return stream_spans_adopt(m, stream, c, n);
}

int stream_spans_adopt(stream_spans *m, const sl_uuid *stream, uint8_t *c, size_t n)
{
    span_state *s = spans_find(m, stream);
    if (!s && m->n == m->max) { /* the least recently used makes room */
        int old = 0;
        for (int i = 1; i < m->n; i++)
            if (m->v[i].used < m->v[old].used)
                old = i;
        sl_free(m->v[old].p);
        m->v[old] = m->v[--m->n];
    }
    if (!s && m->n == m->cap) {
        int nc = m->cap ? m->cap * 2 : 16;
        span_state *nv = sl_realloc(m->v, sizeof *nv * (size_t)nc);
        if (!nv) {
            sl_free(c);
            return SL_ENOMEM;
        }
        m->v = nv;
        m->cap = nc;
    }
    if (!s) {
        s = &m->v[m->n++];
        s->stream = *stream;
        s->p = NULL;
    }
    sl_free(s->p);
    s->p = c;
    s->n = n;
    s->used = ++m->tick;
    return SL_OK;
}

int stream_spans_merge(stream_spans *into, const stream_spans *from)
{
    int rc = SL_OK;
    for (int i = 0; i < from->n; i++)
        if (stream_spans_set(into, &from->v[i].stream, from->v[i].p, from->v[i].n))
            rc = SL_ENOMEM;
    return rc;
}

static int cmp_used(const void *a, const void *b)
{
    int64_t x = (*(span_state *const *)a)->used, y = (*(span_state *const *)b)->used;
    return (x > y) - (x < y);
}

int stream_spans_save(const stream_spans *m, dbuf *out)
{
    span_state **o = sl_malloc(sizeof *o * (size_t)(m->n ? m->n : 1));
    if (!o)
        return SL_ENOMEM;
    for (int i = 0; i < m->n; i++)
        o[i] = &m->v[i];
    qsort(o, (size_t)m->n, sizeof *o, cmp_used);
    uint8_t w[4];
    st_u32le(w, (uint32_t)m->n);
    int rc = dbuf_append(out, w, 4);
    for (int i = 0; i < m->n && !rc; i++) {
        st_u32le(w, (uint32_t)o[i]->n);
        if (!(rc = dbuf_append(out, o[i]->stream.b, 16)) && !(rc = dbuf_append(out, w, 4)))
            rc = dbuf_append(out, o[i]->p, o[i]->n);
    }
    sl_free(o);
    return rc;
}

int stream_spans_load(stream_spans *m, const uint8_t *p, size_t n)
{
    if (n < 4)
        return SL_EINVAL;
    uint32_t count = ld_u32le(p);
    size_t at = 4;
    if (count > STREAM_SPANS_MAX)
        return SL_EINVAL;
    for (uint32_t i = 0; i < count; i++) { /* checked whole before anything changes */
        if (n - at < 20 || ld_u32le(p + at + 16) > n - at - 20)
            return SL_EINVAL;
        at += 20 + ld_u32le(p + at + 16);
    }
    if (at != n)
        return SL_EINVAL;
    stream_spans t = {.max = STREAM_SPANS_MAX};
    at = 4;
    for (uint32_t i = 0; i < count; i++) {
        sl_uuid id;
        memcpy(id.b, p + at, 16);
        uint32_t len = ld_u32le(p + at + 16);
        int had = t.n; /* (count <= the cap: a new stream makes one more) */
        int rc = stream_spans_set(&t, &id, p + at + 20, len);
        if (rc || t.n == had) { /* out of memory, or a stream listed twice */
            spans_clear(&t);
            return rc ? SL_ENOMEM : SL_EINVAL;
        }
        at += 20 + len;
    }
    t.max = m->max;
    spans_clear(m);
    *m = t;
    return SL_OK;
}
