/*
 * msg.c - process, stream and block messages (docs/internals/block-format.md).
 *
 * Every message starts with the same 16-byte prefix: magic, version, flags,
 * total_size, reserved.  total_size must equal the bytes actually received, so
 * a truncated or padded body is caught before any field is trusted.
 */
#include "wire/wire.h"

#include "base/bytes.h"

#include <string.h>

#define MAGIC_PROCESS "SLPR"
#define MAGIC_STREAM "SLST"
#define MAGIC_BLOCK "SLBK"
#define MAGIC_PAYLOAD "SLPL"

int wire_message_kind(const void *data, size_t len)
{
    if (len < 4)
        return 0;
    if (memcmp(data, MAGIC_PROCESS, 4) == 0)
        return 'P';
    if (memcmp(data, MAGIC_STREAM, 4) == 0)
        return 'S';
    if (memcmp(data, MAGIC_BLOCK, 4) == 0)
        return 'B';
    if (memcmp(data, MAGIC_PAYLOAD, 4) == 0)
        return 'L';
    return 0;
}

/* ------------------------------------------------------------ encoding */

static void put_prefix(uint8_t *p, const char *magic, uint32_t total)
{
    memcpy(p, magic, 4);
    st_u16le(p + 4, WIRE_VERSION);
    st_u16le(p + 6, 0);
    st_u32le(p + 8, total);
    st_u32le(p + 12, 0);
}

/* A count or a length: u16 on the wire (the callers check it against its cap). */
static int put_u16(dbuf *out, uint32_t v)
{
    uint8_t l[2];
    st_u16le(l, (uint16_t)v);
    return dbuf_append(out, l, 2);
}

static int put_str(dbuf *out, wire_str s)
{
    if (s.len > WIRE_MAX_STRING)
        return SL_ETOOBIG;
    int rc = put_u16(out, s.len);
    return rc ? rc : dbuf_append(out, s.p, s.len);
}

static int put_kvs(dbuf *out, const wire_kv *kv, uint32_t n)
{
    if (n > WIRE_MAX_PROPERTIES)
        return SL_ETOOBIG;
    int rc = put_u16(out, n);
    for (uint32_t i = 0; i < n && !rc; i++) {
        rc = put_str(out, kv[i].key);
        if (!rc)
            rc = put_str(out, kv[i].value);
    }
    return rc;
}

/*
 * Ends the message that begins at start once its variable part is appended
 * (rc says whether that went well): sets total_size, or on an error (rc, or
 * the cap) removes the partial message from out.
 */
static int finish_meta(dbuf *out, size_t start, int rc)
{
    size_t total = out->len - start;
    if (!rc && total > WIRE_MAX_META_MSG)
        rc = SL_ETOOBIG;
    if (rc) {
        out->len = start;
        return rc;
    }
    st_u32le(out->p + start + 8, (uint32_t)total);
    return SL_OK;
}

int wire_process_encode(const wire_process *p, dbuf *out)
{
    size_t start = out->len;
    int rc = dbuf_reserve(out, WIRE_PROCESS_HDR);
    if (rc)
        return rc;
    uint8_t *h = out->p + start;
    put_prefix(h, MAGIC_PROCESS, 0);
    memcpy(h + 16, p->process_id.b, 16);
    memcpy(h + 32, p->parent_process_id.b, 16);
    st_u64le(h + 48, (uint64_t)p->start_time_ns);
    st_u64le(h + 56, p->start_ticks);
    st_u64le(h + 64, p->tsc_frequency);
    out->len += WIRE_PROCESS_HDR;
    const wire_str *strs[] = {&p->exe, &p->username, &p->realname,
                              &p->computer, &p->distro, &p->cpu_brand};
    for (size_t i = 0; i < 6 && !rc; i++)
        rc = put_str(out, *strs[i]);
    if (!rc)
        rc = put_kvs(out, p->properties, p->n_properties);
    return finish_meta(out, start, rc);
}

int wire_stream_encode(const wire_stream *s, dbuf *out)
{
    size_t start = out->len;
    if (s->n_tags > WIRE_MAX_TAGS)
        return SL_ETOOBIG;
    int rc = dbuf_reserve(out, WIRE_STREAM_HDR);
    if (rc)
        return rc;
    uint8_t *h = out->p + start;
    put_prefix(h, MAGIC_STREAM, 0);
    memcpy(h + 16, s->stream_id.b, 16);
    memcpy(h + 32, s->process_id.b, 16);
    out->len += WIRE_STREAM_HDR;
    rc = put_u16(out, s->n_tags);
    for (uint32_t i = 0; i < s->n_tags && !rc; i++)
        rc = put_str(out, s->tags[i]);
    if (!rc)
        rc = put_kvs(out, s->properties, s->n_properties);
    return finish_meta(out, start, rc);
}

int wire_block_encode_header(const wire_block *b, dbuf *out)
{
    if (b->payload_size > WIRE_MAX_PAYLOAD)
        return SL_ETOOBIG;
    int rc = dbuf_reserve(out, WIRE_BLOCK_HDR);
    if (rc)
        return rc;
    uint8_t *h = out->p + out->len;
    put_prefix(h, MAGIC_BLOCK, WIRE_BLOCK_HDR + b->payload_size);
    memcpy(h + 16, b->block_id.b, 16);
    memcpy(h + 32, b->stream_id.b, 16);
    memcpy(h + 48, b->process_id.b, 16);
    st_u64le(h + 64, (uint64_t)b->begin_time_ns);
    st_u64le(h + 72, (uint64_t)b->end_time_ns);
    st_u64le(h + 80, (uint64_t)b->begin_ticks);
    st_u64le(h + 88, (uint64_t)b->end_ticks);
    st_u64le(h + 96, b->nb_objects);
    st_u64le(h + 104, b->object_offset);
    st_u32le(h + 112, b->payload_size);
    st_u32le(h + 116, 0);
    out->len += WIRE_BLOCK_HDR;
    return SL_OK;
}

/* ------------------------------------------------------------ decoding */

/* Checks the common prefix; on success r is positioned after it. */
static int check_prefix(rd *r, const char *magic, const char *what, size_t min_size,
                        size_t max_size, errmsg *e)
{
    size_t len = rd_left(r);
    if (len < 16)
        return errmsg_set(e, SL_ETRUNC, "%s message truncated: %zu bytes, header needs 16", what,
                          len);
    const uint8_t *p = rd_bytes(r, 16);
    if (memcmp(p, magic, 4) != 0)
        return errmsg_set(e, SL_EINVAL, "%s message: bad magic at byte 0 (expected \"%s\")",
                          what, magic);
    uint16_t version = ld_u16le(p + 4);
    if (version != WIRE_VERSION)
        return errmsg_set(e, SL_EVERSION, "%s message: unsupported version %u at byte 4 "
                          "(this server reads version %d)", what, version, WIRE_VERSION);
    if (ld_u16le(p + 6) != 0)
        return errmsg_set(e, SL_EINVAL, "%s message: unknown flags 0x%04x at byte 6", what,
                          ld_u16le(p + 6));
    uint32_t total = ld_u32le(p + 8);
    if (ld_u32le(p + 12) != 0)
        return errmsg_set(e, SL_EINVAL, "%s message: reserved bytes 12..15 must be zero", what);
    if (total > max_size || len > max_size)
        return errmsg_set(e, SL_ETOOBIG, "%s message: %zu bytes is over the cap of %zu", what,
                          total > len ? (size_t)total : len, max_size);
    if (total != len)
        return errmsg_set(e, total > len ? SL_ETRUNC : SL_EINVAL,
                          "%s message: total_size at byte 8 says %u bytes but %zu arrived", what,
                          total, len);
    if (len < min_size)
        return errmsg_set(e, SL_ETRUNC, "%s message truncated: %zu bytes, header needs %zu",
                          what, len, min_size);
    return SL_OK;
}

static int get_str(rd *r, wire_str *s, const char *what, const char *field, errmsg *e)
{
    size_t off = rd_off(r);
    uint16_t n = rd_u16(r);
    const uint8_t *p = rd_bytes(r, n);
    if (r->err)
        return errmsg_set(e, SL_ETRUNC, "%s message: %s at byte %zu runs past the end", what,
                          field, off);
    if (n > WIRE_MAX_STRING)
        return errmsg_set(e, SL_ETOOBIG, "%s message: %s at byte %zu is %u bytes (cap %d)", what,
                          field, off, n, WIRE_MAX_STRING);
    s->p = (const char *)p;
    s->len = n;
    return SL_OK;
}

static int get_kvs(rd *r, arena *a, wire_kv **out, uint32_t *n_out, const char *what, errmsg *e)
{
    size_t off = rd_off(r);
    uint16_t n = rd_u16(r);
    if (r->err)
        return errmsg_set(e, SL_ETRUNC, "%s message: property count at byte %zu missing", what,
                          off);
    if (n > WIRE_MAX_PROPERTIES)
        return errmsg_set(e, SL_ETOOBIG, "%s message: %u properties at byte %zu (cap %d)", what,
                          n, off, WIRE_MAX_PROPERTIES);
    wire_kv *kv = n ? arena_alloc(a, sizeof *kv * n) : NULL;
    if (n && !kv)
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    for (uint16_t i = 0; i < n; i++) {
        int rc = get_str(r, &kv[i].key, what, "property key", e);
        if (!rc)
            rc = get_str(r, &kv[i].value, what, "property value", e);
        if (rc)
            return rc;
    }
    *out = kv;
    *n_out = n;
    return SL_OK;
}

static int expect_end(rd *r, const char *what, errmsg *e)
{
    if (rd_left(r))
        return errmsg_set(e, SL_EINVAL, "%s message: %zu unexpected bytes after the last field "
                          "at byte %zu", what, rd_left(r), rd_off(r));
    return SL_OK;
}

int wire_process_decode(const void *data, size_t len, arena *a, wire_process *out, errmsg *e)
{
    static const char *what = "process";
    rd r;
    rd_init(&r, data, len);
    int rc = check_prefix(&r, MAGIC_PROCESS, what, WIRE_PROCESS_HDR, WIRE_MAX_META_MSG, e);
    if (rc)
        return rc;
    memset(out, 0, sizeof *out);
    memcpy(out->process_id.b, rd_bytes(&r, 16), 16);
    memcpy(out->parent_process_id.b, rd_bytes(&r, 16), 16);
    out->start_time_ns = (int64_t)rd_u64(&r);
    out->start_ticks = rd_u64(&r);
    out->tsc_frequency = rd_u64(&r);
    if (uuid_is_nil(&out->process_id))
        return errmsg_set(e, SL_EINVAL, "process message: process_id at byte 16 is nil");
    /*
     * A clock the lake can convert: below 1 kHz a tick is a millisecond or more and
     * a plausible tick count lands centuries away; a start outside 1970..2200
     * leaves no room for the process's events before int64 ns run out in 2262.
     */
    if (out->tsc_frequency < WIRE_MIN_TSC_FREQUENCY)
        return errmsg_set(e, SL_EINVAL, "process message: tsc_frequency %llu at byte 64 is "
                          "below %llu ticks per second", (unsigned long long)out->tsc_frequency,
                          WIRE_MIN_TSC_FREQUENCY);
    if (out->start_time_ns < 0 || out->start_time_ns > WIRE_MAX_START_TIME_NS)
        return errmsg_set(e, SL_EINVAL, "process message: start_time_ns %lld at byte 48 is "
                          "outside 1970-01-01..2200-01-01", (long long)out->start_time_ns);
    static const char *names[] = {"exe", "username", "realname", "computer", "distro",
                                  "cpu_brand"};
    wire_str *strs[] = {&out->exe, &out->username, &out->realname,
                        &out->computer, &out->distro, &out->cpu_brand};
    for (int i = 0; i < 6; i++)
        if ((rc = get_str(&r, strs[i], what, names[i], e)))
            return rc;
    if ((rc = get_kvs(&r, a, &out->properties, &out->n_properties, what, e)))
        return rc;
    return expect_end(&r, what, e);
}

int wire_stream_decode(const void *data, size_t len, arena *a, wire_stream *out, errmsg *e)
{
    static const char *what = "stream";
    rd r;
    rd_init(&r, data, len);
    int rc = check_prefix(&r, MAGIC_STREAM, what, WIRE_STREAM_HDR + 4, WIRE_MAX_META_MSG, e);
    if (rc)
        return rc;
    memset(out, 0, sizeof *out);
    memcpy(out->stream_id.b, rd_bytes(&r, 16), 16);
    memcpy(out->process_id.b, rd_bytes(&r, 16), 16);
    if (uuid_is_nil(&out->stream_id))
        return errmsg_set(e, SL_EINVAL, "stream message: stream_id at byte 16 is nil");
    if (uuid_is_nil(&out->process_id))
        return errmsg_set(e, SL_EINVAL, "stream message: process_id at byte 32 is nil");
    uint16_t n = rd_u16(&r);
    if (n > WIRE_MAX_TAGS)
        return errmsg_set(e, SL_ETOOBIG, "stream message: %u tags at byte 48 (cap %d)", n,
                          WIRE_MAX_TAGS);
    out->tags = n ? arena_alloc(a, sizeof(wire_str) * n) : NULL;
    if (n && !out->tags)
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    out->n_tags = n;
    for (uint16_t i = 0; i < n; i++)
        if ((rc = get_str(&r, &out->tags[i], what, "tag", e)))
            return rc;
    if ((rc = get_kvs(&r, a, &out->properties, &out->n_properties, what, e)))
        return rc;
    return expect_end(&r, what, e);
}

int wire_block_decode(const void *data, size_t len, wire_block *out, const uint8_t **payload,
                      errmsg *e)
{
    rd r;
    rd_init(&r, data, len);
    int rc = check_prefix(&r, MAGIC_BLOCK, "block", WIRE_BLOCK_HDR, WIRE_MAX_BLOCK_MSG, e);
    if (rc)
        return rc;
    memset(out, 0, sizeof *out);
    memcpy(out->block_id.b, rd_bytes(&r, 16), 16);
    memcpy(out->stream_id.b, rd_bytes(&r, 16), 16);
    memcpy(out->process_id.b, rd_bytes(&r, 16), 16);
    out->begin_time_ns = (int64_t)rd_u64(&r);
    out->end_time_ns = (int64_t)rd_u64(&r);
    out->begin_ticks = (int64_t)rd_u64(&r);
    out->end_ticks = (int64_t)rd_u64(&r);
    out->nb_objects = rd_u64(&r);
    out->object_offset = rd_u64(&r);
    out->payload_size = rd_u32(&r);
    uint32_t reserved = rd_u32(&r);
    if (reserved)
        return errmsg_set(e, SL_EINVAL, "block message: reserved bytes 116..119 must be zero");
    if (uuid_is_nil(&out->block_id) || uuid_is_nil(&out->stream_id) ||
        uuid_is_nil(&out->process_id))
        return errmsg_set(e, SL_EINVAL, "block message: a nil id in bytes 16..63");
    if (out->payload_size != len - WIRE_BLOCK_HDR)
        return errmsg_set(e, SL_EINVAL, "block message: payload_size at byte 112 says %u but "
                          "%zu payload bytes follow", out->payload_size, len - WIRE_BLOCK_HDR);
    if (out->end_ticks < out->begin_ticks)
        return errmsg_set(e, SL_EINVAL, "block message: end_ticks < begin_ticks");
    if (out->end_time_ns < out->begin_time_ns)
        return errmsg_set(e, SL_EINVAL, "block message: end_time < begin_time");
    if (out->nb_objects == 0 || out->nb_objects > UINT32_MAX)
        return errmsg_set(e, SL_EINVAL, "block message: nb_objects %llu at byte 96 out of range "
                          "1..2^32-1", (unsigned long long)out->nb_objects);
    /* Event ids are object_offset + index as int64 (the lake's span ids): no wrap. */
    if (out->object_offset > (uint64_t)INT64_MAX - out->nb_objects)
        return errmsg_set(e, SL_EINVAL, "block message: object_offset %llu at byte 104 plus "
                          "nb_objects %llu passes 2^63-1", (unsigned long long)out->object_offset,
                          (unsigned long long)out->nb_objects);
    *payload = (const uint8_t *)data + WIRE_BLOCK_HDR;
    return SL_OK;
}

int wire_ticks_to_ns_checked(int64_t start_time_ns, uint64_t tsc_frequency, int64_t ticks,
                             int64_t *ns)
{
    if (tsc_frequency == 0)
        return SL_EINVAL;
    /* |ticks| * 1e9 < 2^93: exact in 128 bits. */
    __int128 v = (__int128)ticks * 1000000000 / (__int128)tsc_frequency + start_time_ns;
    if (v > INT64_MAX || v < INT64_MIN)
        return SL_EINVAL;
    *ns = (int64_t)v;
    return SL_OK;
}

int wire_block_check_payload(const wire_block *b, const wire_payload_hdr *h, errmsg *e)
{
    if (!uuid_eq(&b->block_id, &h->block_id))
        return errmsg_set(e, SL_EMISMATCH, "block_id of the message and of its payload differ");
    if (!uuid_eq(&b->stream_id, &h->stream_id))
        return errmsg_set(e, SL_EMISMATCH, "stream_id of the message and of its payload differ");
    if (!uuid_eq(&b->process_id, &h->process_id))
        return errmsg_set(e, SL_EMISMATCH, "process_id of the message and of its payload differ");
    if (b->nb_objects != h->nb_objects)
        return errmsg_set(e, SL_ECORRUPT, "nb_objects %llu in the message, %u in the payload",
                          (unsigned long long)b->nb_objects, h->nb_objects);
    if (b->begin_ticks != h->begin_ticks || b->end_ticks != h->end_ticks)
        return errmsg_set(e, SL_ECORRUPT, "tick range of the message and of its payload differ");
    return SL_OK;
}
