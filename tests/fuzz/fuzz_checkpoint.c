/*
 * fuzz_checkpoint.c - fuzz target for the checkpoint decoders (a manifest, a
 * worker's part and a telemetry job's live-I object: src/stream/checkpoint.c,
 * docs/internals/stream.md), and a part's session state loaded into sessions
 * (src/stream/session.c).
 *
 * Recovery reads these objects back from a directory anyone may have
 * damaged; a decoder must refuse what is not an object of its version and
 * never read past its input.  The trailing CRC would stop almost every
 * mutation, so each input also runs with its CRC recomputed, which lets
 * mutations reach the field checks.
 */
#include "stream/checkpoint.h"
#include "stream/live.h"
#include "stream/session.h"

#include "base/alloc.h"
#include "base/bytes.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void live(const uint8_t *data, size_t size);
static void gauges(const uint8_t *data, size_t size);

static void one(const uint8_t *data, size_t size)
{
    live(data, size);
    gauges(data, size);
    stream_ckpt_manifest m;
    if (!stream_ckpt_manifest_decode(data, size, &m) && m.pos.nparts > STREAM_POS_MAX_PARTS)
        abort(); /* kafka partitions of a position: never more than the array holds */
    stream_ckpt_worker w;
    if (!stream_ckpt_worker_decode(data, size, &w)) {
        if (w.pos.nparts > STREAM_POS_MAX_PARTS)
            abort();
        /* every window's bytes lie inside the input */
        for (uint32_t i = 0; i < w.nwins; i++)
            if (w.wins[i].len && (w.wins[i].state < data ||
                                  w.wins[i].state + w.wins[i].len > data + size))
                abort();
        if (w.sessions_len && (w.sessions < data || w.sessions + w.sessions_len > data + size))
            abort();
        /* the session state's rows: (bigint key, text, timestamp event time) */
        sql_type ty[3] = {sql_type_of(ST_INT8), sql_type_of(ST_TEXT), sql_type_of(ST_TIMESTAMP)};
        int keys[1] = {0};
        stream_sessions *ss;
        if (w.sessions_len && !stream_sessions_new(1000000000, 2, keys, 1, ty, &ss)) {
            sql_err e;
            sql_err_clear(&e);
            stream_sessions_load(ss, w.sessions, w.sessions_len, 3, ty, &e);
            stream_sessions_free(ss);
        }
        stream_ckpt_worker_free(&w);
    }
}

/* thread_spans states (live-I, version 12): loaded, they save back the same
 * bytes; refused, the states are as they were (one set for every input) */
static void spans(const uint8_t *p, size_t n)
{
    static stream_spans *m;
    if (!m && !(m = stream_spans_new(0)))
        return;
    dbuf before, after;
    dbuf_init(&before, (size_t)1 << 30);
    dbuf_init(&after, (size_t)1 << 30);
    if (stream_spans_save(m, &before))
        abort();
    int rc = stream_spans_load(m, p, n);
    if (stream_spans_save(m, &after))
        abort();
    if (rc == SL_OK && (after.len != n || memcmp(after.p, p, n)))
        abort();
    if (rc == SL_EINVAL && (after.len != before.len || memcmp(after.p, before.p, after.len)))
        abort();
    dbuf_free(&before);
    dbuf_free(&after);
}

/* a live-I object: its list fits the input, and encodes back to the same bytes
 * but for the version it writes (the current one) and so the CRC */
static void live(const uint8_t *data, size_t size)
{
    stream_ckpt_live l;
    if (stream_ckpt_live_decode(data, size, &l))
        return;
    if ((size_t)l.n * 24 > size)
        abort();
    dbuf b;
    dbuf_init(&b, size + 64);
    if (!stream_ckpt_live_encode(&l, &b) &&
        (b.len != size || memcmp(b.p, data, 4) || memcmp(b.p + 6, data + 6, size - 10)))
        abort();
    dbuf_free(&b);
    if (l.has_spans)
        spans(l.spans, l.spans_len);
    sl_free(l.done);
}

/* a gauges object: loaded into a sink of (text, bigint), it saves back the same
 * body; a body it refuses leaves the series as they were (one sink for every
 * input: it holds what the last good one loaded) */
static void gauges(const uint8_t *data, size_t size)
{
    static stream_gauges *g;
    uint64_t seq;
    const uint8_t *body;
    size_t len;
    if (stream_ckpt_gauges_open(data, size, &seq, &body, &len))
        return;
    const char *names[2] = {"target", "lines"};
    sql_type ty[2] = {sql_type_of(ST_TEXT), sql_type_of(ST_INT8)};
    if (!g && stream_gauges_new("m", 2, names, ty, &g))
        return;
    dbuf before, after;
    dbuf_init(&before, (size_t)1 << 30);
    dbuf_init(&after, (size_t)1 << 30);
    int rc = stream_gauges_save(g, &before);
    int lrc = rc ? rc : stream_gauges_load(g, body, len);
    if (!rc && !stream_gauges_save(g, &after)) {
        const dbuf *want = lrc ? &before : NULL;
        if (want ? after.len != want->len || memcmp(after.p, want->p, want->len)
                 : after.len != len || memcmp(after.p, body, len))
            abort();
    }
    dbuf_free(&before);
    dbuf_free(&after);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one(data, size);
    if (size >= 4) {
        uint8_t *c = malloc(size);
        if (!c)
            return 0;
        memcpy(c, data, size);
        st_u32le(c + size - 4, (uint32_t)crc32(0L, c, (uInt)(size - 4)));
        one(c, size);
        free(c);
    }
    return 0;
}
