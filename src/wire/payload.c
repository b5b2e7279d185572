/*
 * payload.c - the block payload: builder (client side) and strict reader.
 *
 * Layout (docs/internals/block-format.md, "Payload"):
 *
 *   96-byte header | stored body (compressed with the header's codec)
 *
 *   body := uvarint n_strings, n_strings x (uvarint len, bytes)
 *           uvarint n_descs,   n_descs x descriptor
 *           uvarint n_events,  n_events x event
 *
 * Events carry their tick as a zigzag delta from the previous event's tick
 * (the first from zero), so ticks need not be monotonic but usually cost two
 * or three bytes.  The builder keeps the three sections in separate buffers
 * and joins them only when the block is sealed.
 */
#include "wire/wire.h"

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/hash.h"
#include "base/u64map.h"

#include <lz4.h>
#include <pthread.h>
#include <string.h>
#include <zstd.h>

/* ------------------------------------------------------------ header */

int wire_payload_hdr_decode(const void *data, size_t len, wire_payload_hdr *out, errmsg *e)
{
    const uint8_t *p = data;
    if (len < WIRE_PAYLOAD_HDR)
        return errmsg_set(e, SL_ETRUNC, "payload truncated: %zu bytes, header needs %d", len,
                          WIRE_PAYLOAD_HDR);
    if (len > WIRE_MAX_PAYLOAD)
        return errmsg_set(e, SL_ETOOBIG, "payload of %zu bytes is over the cap of %u", len,
                          (unsigned)WIRE_MAX_PAYLOAD);
    if (memcmp(p, "SLPL", 4) != 0)
        return errmsg_set(e, SL_EINVAL, "payload: bad magic at byte 0 (expected \"SLPL\")");
    uint16_t version = ld_u16le(p + 4);
    if (version != WIRE_VERSION && version != WIRE_PAYLOAD_VERSION_OTEL)
        return errmsg_set(e, SL_EVERSION, "payload: unsupported version %u at byte 4", version);
    memset(out, 0, sizeof *out);
    out->version = (uint8_t)version;
    out->codec = p[6];
    if (out->codec > WIRE_CODEC_LZ4)
        return errmsg_set(e, SL_EINVAL, "payload: unknown codec %u at byte 6", out->codec);
    if (p[7] != 0)
        return errmsg_set(e, SL_EINVAL, "payload: unknown flags 0x%02x at byte 7", p[7]);
    memcpy(out->block_id.b, p + 8, 16);
    memcpy(out->stream_id.b, p + 24, 16);
    memcpy(out->process_id.b, p + 40, 16);
    out->begin_ticks = (int64_t)ld_u64le(p + 56);
    out->end_ticks = (int64_t)ld_u64le(p + 64);
    out->nb_objects = ld_u32le(p + 72);
    out->body_size = ld_u32le(p + 76);
    out->stored_size = ld_u32le(p + 80);
    out->body_hash = ld_u64le(p + 88);
    if (ld_u32le(p + 84) != 0)
        return errmsg_set(e, SL_EINVAL, "payload: reserved bytes 84..87 must be zero");
    if (uuid_is_nil(&out->block_id) || uuid_is_nil(&out->stream_id) ||
        uuid_is_nil(&out->process_id))
        return errmsg_set(e, SL_EINVAL, "payload: a nil id in bytes 8..55");
    if (out->end_ticks < out->begin_ticks)
        return errmsg_set(e, SL_EINVAL, "payload: end_ticks < begin_ticks");
    if (out->nb_objects == 0)
        return errmsg_set(e, SL_EINVAL, "payload: nb_objects at byte 72 is zero");
    if (out->body_size > WIRE_MAX_BODY)
        return errmsg_set(e, SL_ETOOBIG, "payload: body_size %u at byte 76 is over the cap "
                          "of %u", out->body_size, (unsigned)WIRE_MAX_BODY);
    if (out->stored_size != len - WIRE_PAYLOAD_HDR)
        return errmsg_set(e, out->stored_size > len - WIRE_PAYLOAD_HDR ? SL_ETRUNC : SL_EINVAL,
                          "payload: stored_size at byte 80 says %u but %zu bytes follow",
                          out->stored_size, len - WIRE_PAYLOAD_HDR);
    if (out->codec == WIRE_CODEC_NONE && out->stored_size != out->body_size)
        return errmsg_set(e, SL_EINVAL, "payload: uncompressed but stored_size != body_size");
    return SL_OK;
}

/* ------------------------------------------------------------ reader */

static pthread_key_t g_dctx_key;
static pthread_once_t g_dctx_once = PTHREAD_ONCE_INIT;

static void dctx_free(void *p)
{
    ZSTD_freeDCtx(p);
}

static void dctx_key_make(void)
{
    pthread_key_create(&g_dctx_key, dctx_free);
}

/* One zstd decompression context per thread, freed when the thread exits. */
static ZSTD_DCtx *thread_dctx(void)
{
    pthread_once(&g_dctx_once, dctx_key_make);
    ZSTD_DCtx *d = pthread_getspecific(g_dctx_key);
    if (!d) {
        d = ZSTD_createDCtx();
        if (d)
            pthread_setspecific(g_dctx_key, d);
    }
    return d;
}

static int decompress(const wire_payload_hdr *h, const uint8_t *src, dbuf *scratch,
                      const uint8_t **body, errmsg *e)
{
    if (h->codec == WIRE_CODEC_NONE) {
        *body = src;
        return SL_OK;
    }
    dbuf_reset(scratch);
    if (dbuf_reserve(scratch, h->body_size))
        return errmsg_set(e, SL_ETOOBIG, "payload: body of %u bytes does not fit the decoder's "
                          "buffer", h->body_size);
    if (h->codec == WIRE_CODEC_ZSTD) {
        unsigned long long declared = ZSTD_getFrameContentSize(src, h->stored_size);
        if (declared != h->body_size)
            return errmsg_set(e, SL_ECORRUPT, "payload: zstd frame declares %llu bytes, header "
                              "body_size %u", declared, h->body_size);
        ZSTD_DCtx *d = thread_dctx();
        if (!d)
            return errmsg_set(e, SL_ENOMEM, "out of memory");
        size_t n = ZSTD_decompressDCtx(d, scratch->p, h->body_size, src, h->stored_size);
        if (ZSTD_isError(n) || n != h->body_size)
            return errmsg_set(e, SL_ECORRUPT, "payload: zstd body does not decompress to %u "
                              "bytes (%s)", h->body_size,
                              ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong size");
    } else {
        int n = LZ4_decompress_safe((const char *)src, (char *)scratch->p, (int)h->stored_size,
                                    (int)h->body_size);
        if (n < 0 || (uint32_t)n != h->body_size)
            return errmsg_set(e, SL_ECORRUPT, "payload: lz4 body does not decompress to %u "
                              "bytes", h->body_size);
    }
    scratch->len = h->body_size;
    *body = scratch->p;
    return SL_OK;
}

static int table_fail(const rd *r, const char *what, errmsg *e)
{
    return errmsg_set(e, r->err ? r->err : SL_EINVAL, "payload body: %s at byte %zu", what,
                      r->err ? r->err_off : rd_off(r));
}

static int read_strings(rd *r, arena *a, wire_payload *pl, errmsg *e)
{
    uint64_t n = rd_uvarint(r);
    if (r->err || n > rd_left(r))
        return table_fail(r, "string count is larger than the body", e);
    pl->n_strings = (uint32_t)n;
    pl->strings = arena_alloc(a, sizeof(wire_str) * (n ? n : 1));
    if (!pl->strings)
        return errmsg_set(e, SL_ENOMEM, "out of memory for %llu strings", (unsigned long long)n);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len = rd_uvarint(r);
        if (!r->err && len > WIRE_MAX_INLINE)
            return table_fail(r, "string longer than 65536 bytes", e);
        const uint8_t *p = rd_bytes(r, (size_t)len);
        if (r->err)
            return table_fail(r, "string table runs past the end", e);
        pl->strings[i].p = (const char *)p;
        pl->strings[i].len = (uint32_t)len;
    }
    return SL_OK;
}

static int read_str_ref(rd *r, const wire_payload *pl, wire_str *out, errmsg *e)
{
    uint64_t i = rd_uvarint(r);
    if (r->err)
        return table_fail(r, "descriptor truncated", e);
    if (i >= pl->n_strings)
        return errmsg_set(e, SL_ECORRUPT, "payload body: string index %llu out of range "
                          "(%u strings) at byte %zu", (unsigned long long)i, pl->n_strings,
                          rd_off(r));
    *out = pl->strings[i];
    return SL_OK;
}

static int read_descs(rd *r, arena *a, wire_payload *pl, errmsg *e)
{
    uint64_t n = rd_uvarint(r);
    if (r->err || n > rd_left(r))
        return table_fail(r, "descriptor count is larger than the body", e);
    pl->n_descs = (uint32_t)n;
    pl->descs = arena_zalloc(a, sizeof(wire_desc) * (n ? n : 1));
    if (!pl->descs)
        return errmsg_set(e, SL_ENOMEM, "out of memory for %llu descriptors",
                          (unsigned long long)n);
    for (uint64_t i = 0; i < n; i++) {
        wire_desc *d = &pl->descs[i];
        d->kind = rd_u8(r);
        if (r->err || d->kind < WIRE_DESC_SPAN || d->kind > WIRE_DESC_METRIC)
            return table_fail(r, "unknown descriptor kind", e);
        int rc = read_str_ref(r, pl, &d->name, e);
        if (!rc)
            rc = read_str_ref(r, pl, &d->target, e);
        if (!rc)
            rc = read_str_ref(r, pl, &d->file, e);
        if (rc)
            return rc;
        uint64_t line = rd_uvarint(r);
        if (r->err || line > UINT32_MAX)
            return table_fail(r, "bad line number", e);
        d->line = (uint32_t)line;
        if (d->kind == WIRE_DESC_LOG) {
            d->level = rd_u8(r);
            if (r->err || d->level < 1 || d->level > 6)
                return table_fail(r, "log level outside 1..6", e);
        } else if (d->kind == WIRE_DESC_METRIC) {
            if ((rc = read_str_ref(r, pl, &d->unit, e)))
                return rc;
        }
    }
    return SL_OK;
}

int wire_payload_open(const void *data, size_t len, dbuf *scratch, arena *a, wire_payload *out,
                      errmsg *e)
{
    memset(out, 0, sizeof *out);
    int rc = wire_payload_hdr_decode(data, len, &out->hdr, e);
    if (rc)
        return rc;
    const uint8_t *stored = (const uint8_t *)data + WIRE_PAYLOAD_HDR;
    if (hash64(stored, out->hdr.stored_size) != out->hdr.body_hash)
        return errmsg_set(e, SL_ECORRUPT, "payload: body hash mismatch (damaged in transit "
                          "or on disk)");
    if ((rc = decompress(&out->hdr, stored, scratch, &out->body, e)))
        return rc;
    rd r;
    rd_init(&r, out->body, out->hdr.body_size);
    if ((rc = read_strings(&r, a, out, e)) || (rc = read_descs(&r, a, out, e)))
        return rc;
    uint64_t n = rd_uvarint(&r);
    if (r.err)
        return table_fail(&r, "event count missing", e);
    if (n != out->hdr.nb_objects)
        return errmsg_set(e, SL_ECORRUPT, "payload body: %llu events but the header says %u",
                          (unsigned long long)n, out->hdr.nb_objects);
    out->n_events = (uint32_t)n;
    out->ev_p = r.p;
    out->ev_end = r.end;
    out->ev_index = 0;
    out->ev_ticks = 0;
    return SL_OK;
}

static int ev_fail(const wire_payload *pl, const rd *r, const char *what, errmsg *e)
{
    return errmsg_set(e, r->err ? r->err : SL_ECORRUPT, "payload body: event %u: %s at byte %zu",
                      pl->ev_index, what, (size_t)((r->err ? r->base + r->err_off : r->p) -
                                                   pl->body));
}

/* Reads a descriptor index and checks that its kind suits the event. */
static int ev_desc(wire_payload *pl, rd *r, uint8_t kind, wire_event *ev, errmsg *e)
{
    uint64_t d = rd_uvarint(r);
    if (r->err)
        return ev_fail(pl, r, "truncated", e);
    if (d >= pl->n_descs)
        return ev_fail(pl, r, "descriptor index out of range", e);
    if (pl->descs[d].kind != kind)
        return ev_fail(pl, r, "descriptor of the wrong kind for the event type", e);
    ev->desc = (uint32_t)d;
    return SL_OK;
}

/* A string index of an event (range-checked). */
static int ev_str(wire_payload *pl, rd *r, wire_str *out, errmsg *e)
{
    uint64_t s = rd_uvarint(r);
    if (r->err || s >= pl->n_strings)
        return ev_fail(pl, r, "string index out of range", e);
    *out = pl->strings[s];
    return SL_OK;
}

/* The fields of the version 2 event types (after type and tick delta). */
static int otel_fields(wire_payload *pl, rd *r, wire_event *ev, errmsg *e)
{
    int rc;
    if (ev->type == WIRE_EV_LOG_ATTRS) {
        if ((rc = ev_desc(pl, r, WIRE_DESC_LOG, ev, e)) || (rc = ev_str(pl, r, &ev->name, e)))
            return rc;
        return ev_str(pl, r, &ev->props, e);
    }
    if (ev->type == WIRE_EV_METRIC_ATTRS) {
        if ((rc = ev_desc(pl, r, WIRE_DESC_METRIC, ev, e)))
            return rc;
        ev->value_f = rd_f64(r);
        if (r->err)
            return ev_fail(pl, r, "truncated value", e);
        return ev_str(pl, r, &ev->props, e);
    }
    if ((rc = ev_desc(pl, r, WIRE_DESC_SPAN, ev, e)))
        return rc;
    uint64_t dur = rd_uvarint(r);
    const uint8_t *ids = rd_bytes(r, WIRE_TRACE_ID_BYTES + 2 * WIRE_SPAN_ID_BYTES);
    uint8_t kind = rd_u8(r), status = rd_u8(r);
    if (r->err)
        return ev_fail(pl, r, "span truncated", e);
    if (dur > INT64_MAX)
        return ev_fail(pl, r, "span duration out of range", e);
    if (kind > 5 || status > 2)
        return ev_fail(pl, r, "span kind above 5 or status above 2", e);
    memcpy(ev->trace_id, ids, WIRE_TRACE_ID_BYTES);
    memcpy(ev->otel_span_id, ids + WIRE_TRACE_ID_BYTES, WIRE_SPAN_ID_BYTES);
    memcpy(ev->otel_parent_id, ids + WIRE_TRACE_ID_BYTES + WIRE_SPAN_ID_BYTES,
           WIRE_SPAN_ID_BYTES);
    ev->span_kind = kind;
    ev->status_code = status;
    ev->end_ticks = (int64_t)dur; /* made absolute once the tick is known */
    if ((rc = ev_str(pl, r, &ev->status_msg, e)) || (rc = ev_str(pl, r, &ev->props, e)))
        return rc;
    return ev_str(pl, r, &ev->events_json, e);
}

static int ev_fields(wire_payload *pl, rd *r, wire_event *ev, errmsg *e)
{
    int rc;
    switch (ev->type) {
    case WIRE_EV_SPAN_BEGIN:
    case WIRE_EV_SPAN_END:
        return ev_desc(pl, r, WIRE_DESC_SPAN, ev, e);
    case WIRE_EV_NAMED_SPAN_BEGIN:
    case WIRE_EV_NAMED_SPAN_END: {
        if ((rc = ev_desc(pl, r, WIRE_DESC_SPAN, ev, e)))
            return rc;
        uint64_t s = rd_uvarint(r);
        if (r->err || s >= pl->n_strings)
            return ev_fail(pl, r, "name index out of range", e);
        ev->name = pl->strings[s];
        return SL_OK;
    }
    case WIRE_EV_ASYNC_BEGIN:
    case WIRE_EV_ASYNC_END: {
        if ((rc = ev_desc(pl, r, WIRE_DESC_SPAN, ev, e)))
            return rc;
        ev->span_id = rd_uvarint(r);
        ev->parent_span_id = rd_uvarint(r);
        uint64_t depth = rd_uvarint(r);
        if (r->err || depth > UINT32_MAX)
            return ev_fail(pl, r, "bad async fields", e);
        if (ev->span_id == 0)
            return ev_fail(pl, r, "async span id 0", e);
        ev->depth = (uint32_t)depth;
        return SL_OK;
    }
    case WIRE_EV_LOG:
        return ev_desc(pl, r, WIRE_DESC_LOG, ev, e);
    case WIRE_EV_LOG_FMT: {
        if ((rc = ev_desc(pl, r, WIRE_DESC_LOG, ev, e)))
            return rc;
        uint64_t len = rd_uvarint(r);
        if (!r->err && len > WIRE_MAX_INLINE)
            return ev_fail(pl, r, "message longer than 65536 bytes", e);
        const uint8_t *p = rd_bytes(r, (size_t)len);
        if (r->err)
            return ev_fail(pl, r, "message runs past the end", e);
        ev->name.p = (const char *)p;
        ev->name.len = (uint32_t)len;
        return SL_OK;
    }
    case WIRE_EV_METRIC_INT:
        if ((rc = ev_desc(pl, r, WIRE_DESC_METRIC, ev, e)))
            return rc;
        ev->value_i = rd_svarint(r);
        return r->err ? ev_fail(pl, r, "truncated value", e) : SL_OK;
    case WIRE_EV_METRIC_FLOAT:
        if ((rc = ev_desc(pl, r, WIRE_DESC_METRIC, ev, e)))
            return rc;
        ev->value_f = rd_f64(r);
        return r->err ? ev_fail(pl, r, "truncated value", e) : SL_OK;
    case WIRE_EV_LOG_ATTRS:
    case WIRE_EV_METRIC_ATTRS:
    case WIRE_EV_OTEL_SPAN:
        if (pl->hdr.version < WIRE_PAYLOAD_VERSION_OTEL)
            return ev_fail(pl, r, "event type 11..13 in a version 1 payload", e);
        return otel_fields(pl, r, ev, e);
    default:
        return ev_fail(pl, r, "unknown event type", e);
    }
}

int wire_payload_next(wire_payload *pl, wire_event *ev, errmsg *e)
{
    rd r;
    r.base = pl->body;
    r.p = pl->ev_p;
    r.end = pl->ev_end;
    r.err = 0;
    r.err_off = 0;
    if (pl->ev_index == pl->n_events) {
        if (r.p != r.end)
            return ev_fail(pl, &r, "bytes after the last event", e);
        return 0;
    }
    memset(ev, 0, sizeof *ev);
    ev->type = rd_u8(&r);
    int64_t delta = rd_svarint(&r);
    if (r.err)
        return ev_fail(pl, &r, "truncated", e);
    int rc = ev_fields(pl, &r, ev, e);
    if (rc)
        return rc;
    /*
     * The delta is any int64 the input holds: add in uint64, where wrapping is
     * defined, and let the range check below refuse whatever wrapped.
     */
    int64_t t = (int64_t)((uint64_t)pl->ev_ticks + (uint64_t)delta);
    if (t < pl->hdr.begin_ticks || t > pl->hdr.end_ticks)
        return ev_fail(pl, &r, "tick outside the block's begin/end range", e);
    if (ev->type == WIRE_EV_OTEL_SPAN) {
        /* the end too lies in the block's range (end - begin >= duration, no overflow) */
        if ((uint64_t)ev->end_ticks > (uint64_t)pl->hdr.end_ticks - (uint64_t)t)
            return ev_fail(pl, &r, "span end outside the block's range", e);
        ev->end_ticks = t + ev->end_ticks;
    }
    pl->ev_ticks = t;
    ev->ticks = t;
    pl->ev_p = r.p;
    pl->ev_index++;
    return 1;
}

int wire_payload_validate(const void *data, size_t len, dbuf *scratch, arena *a, errmsg *e)
{
    wire_payload pl;
    int rc = wire_payload_open(data, len, scratch, a, &pl, e);
    if (rc)
        return rc;
    wire_event ev;
    while ((rc = wire_payload_next(&pl, &ev, e)) == 1) {
    }
    return rc;
}

/* ------------------------------------------------------------ builder */

struct wire_pb {
    size_t max_body;
    dbuf strings, descs, events, body;
    uint32_t n_strings, n_descs, n_events;
    u64map str_by_hash;  /* content hash -> string index (multi) */
    u64map desc_by_key;  /* caller key -> descriptor index */
    uint32_t *str_off;   /* offset of each string's bytes in `strings` */
    uint32_t *str_len;   /* and its length */
    uint32_t str_off_cap;
    int64_t prev_ticks, min_ticks, max_ticks;
    uint16_t version;    /* WIRE_VERSION, or WIRE_PAYLOAD_VERSION_OTEL after a version 2 event */
    ZSTD_CCtx *zc;
};

int wire_pb_new(size_t max_body_bytes, wire_pb **out)
{
    wire_pb *pb = sl_calloc(1, sizeof *pb);
    if (!pb)
        return SL_ENOMEM;
    if (max_body_bytes > WIRE_MAX_BODY)
        max_body_bytes = WIRE_MAX_BODY;
    pb->max_body = max_body_bytes;
    dbuf_init(&pb->strings, max_body_bytes);
    dbuf_init(&pb->descs, max_body_bytes);
    dbuf_init(&pb->events, max_body_bytes);
    dbuf_init(&pb->body, max_body_bytes + 64);
    u64map_init(&pb->str_by_hash);
    u64map_init(&pb->desc_by_key);
    wire_pb_reset(pb);
    *out = pb;
    return SL_OK;
}

void wire_pb_free(wire_pb *pb)
{
    if (!pb)
        return;
    dbuf_free(&pb->strings);
    dbuf_free(&pb->descs);
    dbuf_free(&pb->events);
    dbuf_free(&pb->body);
    u64map_free(&pb->str_by_hash);
    u64map_free(&pb->desc_by_key);
    sl_free(pb->str_off);
    sl_free(pb->str_len);
    ZSTD_freeCCtx(pb->zc);
    sl_free(pb);
}

void wire_pb_reset(wire_pb *pb)
{
    dbuf_reset(&pb->strings);
    dbuf_reset(&pb->descs);
    dbuf_reset(&pb->events);
    u64map_clear(&pb->str_by_hash);
    u64map_clear(&pb->desc_by_key);
    pb->n_strings = pb->n_descs = pb->n_events = 0;
    pb->prev_ticks = 0;
    pb->min_ticks = INT64_MAX;
    pb->max_ticks = INT64_MIN;
    pb->version = WIRE_VERSION;
}

uint32_t wire_pb_count(const wire_pb *pb)
{
    return pb->n_events;
}

size_t wire_pb_body_bytes(const wire_pb *pb)
{
    return pb->strings.len + pb->descs.len + pb->events.len + 30;
}

int64_t wire_pb_min_ticks(const wire_pb *pb)
{
    return pb->min_ticks;
}

int64_t wire_pb_max_ticks(const wire_pb *pb)
{
    return pb->max_ticks;
}

/* True when n more bytes keep the joined body under the cap. */
static int fits(const wire_pb *pb, size_t n)
{
    return wire_pb_body_bytes(pb) + n <= pb->max_body;
}

int wire_pb_string(wire_pb *pb, const char *s, size_t len, uint32_t *index)
{
    if (len > WIRE_MAX_INLINE)
        len = WIRE_MAX_INLINE;
    uint64_t h = hash64(s, len);
    size_t pos = (size_t)-1;
    uint32_t cand;
    while (u64map_find_next(&pb->str_by_hash, h, &pos, &cand)) {
        if (pb->str_len[cand] == len && memcmp(pb->strings.p + pb->str_off[cand], s, len) == 0) {
            *index = cand;
            return SL_OK;
        }
    }
    if (!fits(pb, len + 10))
        return SL_ETOOBIG;
    if (pb->n_strings == pb->str_off_cap) {
        uint32_t ncap = pb->str_off_cap ? pb->str_off_cap * 2 : 256;
        uint32_t *no = sl_realloc(pb->str_off, sizeof(uint32_t) * ncap);
        if (!no)
            return SL_ENOMEM;
        pb->str_off = no;
        uint32_t *nl = sl_realloc(pb->str_len, sizeof(uint32_t) * ncap);
        if (!nl)
            return SL_ENOMEM;
        pb->str_len = nl;
        pb->str_off_cap = ncap;
    }
    uint8_t v[10];
    size_t vl = uvarint_put(v, len);
    int rc = dbuf_append(&pb->strings, v, vl);
    if (rc)
        return rc;
    pb->str_off[pb->n_strings] = (uint32_t)pb->strings.len;
    pb->str_len[pb->n_strings] = (uint32_t)len;
    if ((rc = dbuf_append(&pb->strings, s, len)))
        return rc;
    if ((rc = u64map_put_multi(&pb->str_by_hash, h, pb->n_strings)))
        return rc;
    *index = pb->n_strings++;
    return SL_OK;
}

static int put_uv(dbuf *b, uint64_t v)
{
    uint8_t t[10];
    return dbuf_append(b, t, uvarint_put(t, v));
}

int wire_pb_desc(wire_pb *pb, uint64_t key, uint8_t kind, uint8_t level, const char *name,
                 const char *target, const char *file, uint32_t line, const char *unit,
                 uint32_t *index)
{
    int64_t found = u64map_get(&pb->desc_by_key, key);
    if (found >= 0) {
        *index = (uint32_t)found;
        return SL_OK;
    }
    uint32_t si[4];
    const char *strs[4] = {name ? name : "", target ? target : "", file ? file : "",
                           unit ? unit : ""};
    int n = kind == WIRE_DESC_METRIC ? 4 : 3;
    for (int i = 0; i < n; i++) {
        int rc = wire_pb_string(pb, strs[i], strlen(strs[i]), &si[i]);
        if (rc)
            return rc;
    }
    if (!fits(pb, 64))
        return SL_ETOOBIG;
    int rc = dbuf_append_byte(&pb->descs, kind);
    for (int i = 0; i < 3 && !rc; i++)
        rc = put_uv(&pb->descs, si[i]);
    if (!rc)
        rc = put_uv(&pb->descs, line);
    if (!rc && kind == WIRE_DESC_LOG)
        rc = dbuf_append_byte(&pb->descs, level);
    if (!rc && kind == WIRE_DESC_METRIC)
        rc = put_uv(&pb->descs, si[3]);
    if (!rc)
        rc = u64map_put(&pb->desc_by_key, key, pb->n_descs);
    if (rc)
        return rc;
    *index = pb->n_descs++;
    return SL_OK;
}

/* Writes the fields of a version 2 event after its descriptor into t; returns their size. */
static int otel_event_fields(wire_pb *pb, const wire_event *ev, uint8_t *t, size_t *n)
{
    const wire_str *strs[3];
    int ns = 0;
    if (ev->type == WIRE_EV_LOG_ATTRS) {
        strs[ns++] = &ev->name;
    } else if (ev->type == WIRE_EV_METRIC_ATTRS) {
        uint64_t u;
        memcpy(&u, &ev->value_f, 8);
        st_u64le(t + *n, u);
        *n += 8;
    } else {
        if (ev->end_ticks < ev->ticks)
            return SL_EINVAL;
        *n += uvarint_put(t + *n, (uint64_t)ev->end_ticks - (uint64_t)ev->ticks);
        memcpy(t + *n, ev->trace_id, WIRE_TRACE_ID_BYTES);
        memcpy(t + *n + WIRE_TRACE_ID_BYTES, ev->otel_span_id, WIRE_SPAN_ID_BYTES);
        memcpy(t + *n + WIRE_TRACE_ID_BYTES + WIRE_SPAN_ID_BYTES, ev->otel_parent_id,
               WIRE_SPAN_ID_BYTES);
        *n += WIRE_TRACE_ID_BYTES + 2 * WIRE_SPAN_ID_BYTES;
        t[(*n)++] = ev->span_kind;
        t[(*n)++] = ev->status_code;
        strs[ns++] = &ev->status_msg;
    }
    strs[ns++] = &ev->props;
    if (ev->type == WIRE_EV_OTEL_SPAN)
        strs[ns++] = &ev->events_json;
    for (int i = 0; i < ns; i++) {
        uint32_t si;
        if (strs[i]->len > WIRE_MAX_INLINE)
            return SL_ETOOBIG;
        int rc = wire_pb_string(pb, strs[i]->p ? strs[i]->p : "", strs[i]->len, &si);
        if (rc)
            return rc;
        *n += uvarint_put(t + *n, si);
    }
    pb->version = WIRE_PAYLOAD_VERSION_OTEL;
    return SL_OK;
}

int wire_pb_event(wire_pb *pb, const wire_event *ev)
{
    uint8_t t[128];
    size_t n = 0;
    t[n++] = ev->type;
    n += uvarint_put(t + n, zigzag_enc((int64_t)((uint64_t)ev->ticks - (uint64_t)pb->prev_ticks)));
    n += uvarint_put(t + n, ev->desc);
    size_t inline_len = 0;
    switch (ev->type) {
    case WIRE_EV_NAMED_SPAN_BEGIN:
    case WIRE_EV_NAMED_SPAN_END: {
        uint32_t si;
        int rc = wire_pb_string(pb, ev->name.p, ev->name.len, &si);
        if (rc)
            return rc;
        n += uvarint_put(t + n, si);
        break;
    }
    case WIRE_EV_ASYNC_BEGIN:
    case WIRE_EV_ASYNC_END:
        n += uvarint_put(t + n, ev->span_id);
        n += uvarint_put(t + n, ev->parent_span_id);
        n += uvarint_put(t + n, ev->depth);
        break;
    case WIRE_EV_LOG_FMT:
        inline_len = ev->name.len > WIRE_MAX_INLINE ? WIRE_MAX_INLINE : ev->name.len;
        n += uvarint_put(t + n, inline_len);
        break;
    case WIRE_EV_METRIC_INT:
        n += uvarint_put(t + n, zigzag_enc(ev->value_i));
        break;
    case WIRE_EV_METRIC_FLOAT: {
        uint64_t u;
        memcpy(&u, &ev->value_f, 8);
        st_u64le(t + n, u);
        n += 8;
        break;
    }
    case WIRE_EV_LOG_ATTRS:
    case WIRE_EV_METRIC_ATTRS:
    case WIRE_EV_OTEL_SPAN: {
        int rc = otel_event_fields(pb, ev, t, &n);
        if (rc)
            return rc;
        break;
    }
    default:
        break;
    }
    if (!fits(pb, n + inline_len))
        return SL_ETOOBIG;
    int rc = dbuf_append(&pb->events, t, n);
    if (!rc && inline_len)
        rc = dbuf_append(&pb->events, ev->name.p, inline_len);
    if (rc)
        return rc;
    pb->prev_ticks = ev->ticks;
    if (ev->ticks < pb->min_ticks)
        pb->min_ticks = ev->ticks;
    if (ev->ticks > pb->max_ticks)
        pb->max_ticks = ev->ticks;
    if (ev->type == WIRE_EV_OTEL_SPAN && ev->end_ticks > pb->max_ticks)
        pb->max_ticks = ev->end_ticks;
    pb->n_events++;
    return SL_OK;
}

/* Joins the three sections into pb->body. */
static int join_body(wire_pb *pb)
{
    dbuf_reset(&pb->body);
    int rc = put_uv(&pb->body, pb->n_strings);
    if (!rc)
        rc = dbuf_append(&pb->body, pb->strings.p, pb->strings.len);
    if (!rc)
        rc = put_uv(&pb->body, pb->n_descs);
    if (!rc)
        rc = dbuf_append(&pb->body, pb->descs.p, pb->descs.len);
    if (!rc)
        rc = put_uv(&pb->body, pb->n_events);
    if (!rc)
        rc = dbuf_append(&pb->body, pb->events.p, pb->events.len);
    return rc;
}

static int compress_into(wire_pb *pb, int codec, dbuf *out, size_t *stored)
{
    const uint8_t *src = pb->body.p;
    size_t n = pb->body.len;
    size_t bound = codec == WIRE_CODEC_ZSTD ? ZSTD_compressBound(n)
                   : codec == WIRE_CODEC_LZ4 ? (size_t)LZ4_compressBound((int)n) : n;
    int rc = dbuf_reserve(out, bound);
    if (rc)
        return rc;
    uint8_t *dst = out->p + out->len;
    if (codec == WIRE_CODEC_ZSTD) {
        if (!pb->zc && !(pb->zc = ZSTD_createCCtx()))
            return SL_ENOMEM;
        ZSTD_CCtx_setParameter(pb->zc, ZSTD_c_compressionLevel, 1);
        ZSTD_CCtx_setParameter(pb->zc, ZSTD_c_contentSizeFlag, 1);
        size_t r = ZSTD_compress2(pb->zc, dst, bound, src, n);
        if (ZSTD_isError(r))
            return SL_EINTERNAL;
        *stored = r;
    } else if (codec == WIRE_CODEC_LZ4) {
        int r = LZ4_compress_default((const char *)src, (char *)dst, (int)n, (int)bound);
        if (r <= 0)
            return SL_EINTERNAL;
        *stored = (size_t)r;
    } else {
        memcpy(dst, src, n);
        *stored = n;
    }
    return SL_OK;
}

int wire_pb_finish(wire_pb *pb, int codec, const sl_uuid *block_id, const sl_uuid *stream_id,
                   const sl_uuid *process_id, int64_t begin_ticks, int64_t end_ticks, dbuf *out)
{
    if (pb->n_events == 0 || codec < 0 || codec > WIRE_CODEC_LZ4)
        return SL_EINVAL;
    if (begin_ticks > pb->min_ticks || end_ticks < pb->max_ticks)
        return SL_EINVAL;
    int rc = join_body(pb);
    if (rc)
        return rc;
    size_t start = out->len;
    if ((rc = dbuf_reserve(out, WIRE_PAYLOAD_HDR)))
        return rc;
    out->len += WIRE_PAYLOAD_HDR;
    size_t stored = 0;
    if ((rc = compress_into(pb, codec, out, &stored))) {
        out->len = start;
        return rc;
    }
    uint8_t *h = out->p + start;
    memcpy(h, "SLPL", 4);
    st_u16le(h + 4, pb->version);
    h[6] = (uint8_t)codec;
    h[7] = 0;
    memcpy(h + 8, block_id->b, 16);
    memcpy(h + 24, stream_id->b, 16);
    memcpy(h + 40, process_id->b, 16);
    st_u64le(h + 56, (uint64_t)begin_ticks);
    st_u64le(h + 64, (uint64_t)end_ticks);
    st_u32le(h + 72, pb->n_events);
    st_u32le(h + 76, (uint32_t)pb->body.len);
    st_u32le(h + 80, (uint32_t)stored);
    st_u32le(h + 84, 0);
    st_u64le(h + 88, hash64(h + WIRE_PAYLOAD_HDR, stored));
    out->len += stored;
    return SL_OK;
}
