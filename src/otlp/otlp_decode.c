/*
 * otlp_decode.c - an OTLP export request from bytes: gzip, protobuf, JSON.
 *
 * Protobuf: protobuf-c unpacks into the generated structures with an
 * allocator over the request's arena (so the arena's cap bounds the tree, and
 * freeing is dropping the arena).  protobuf-c recurses once per nested
 * message and has no depth limit, so the bytes are walked first, with the
 * same descriptors, by an iterative-enough checker (recursion bounded by
 * OTLP_MAX_DEPTH) that also finds malformed input and says where.
 *
 * JSON: the OTLP JSON mapping is the proto3 JSON mapping with three changes
 * (trace and span ids are hex, enums are integers, keys are lowerCamelCase;
 * the original snake_case is accepted too, as proto3 parsers do).  The JSON
 * tree is walked with the same protobuf-c descriptors, filling the same
 * structures, so one generic filler serves every message type.  64-bit
 * integers may come as numbers or strings; doubles also as "NaN",
 * "Infinity", "-Infinity".  Unknown keys are ignored (forward compatibility);
 * a known key with a value of the wrong type is an error.
 */
#include "otlp/otlp.h"

#include "base/base64.h"
#include "base/json.h"
#include "otlp/otlp_subset.pb-c.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

const char *otlp_signal_name(otlp_signal s)
{
    return s == OTLP_LOGS ? "logs" : s == OTLP_METRICS ? "metrics" : "traces";
}

/* ------------------------------------------------------------ gzip */

int otlp_gunzip(const void *in, size_t len, dbuf *out, errmsg *e)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
        return errmsg_set(e, SL_ENOMEM, "out of memory for gzip");
    z.next_in = (Bytef *)(uintptr_t)in;
    int rc = SL_OK, zr = Z_OK;
    size_t left = len;
    while (zr != Z_STREAM_END) {
        /* zlib counts in uInt: feed at most 1 GiB at a time */
        if (z.avail_in == 0 && left) {
            z.avail_in = left > (1u << 30) ? 1u << 30 : (uInt)left;
            left -= z.avail_in;
        }
        if (dbuf_reserve(out, 64 * 1024)) {
            rc = errmsg_set(e, SL_ETOOBIG, "gzip body inflates past %zu bytes", out->max);
            break;
        }
        size_t room = out->cap - out->len;
        z.next_out = out->p + out->len;
        z.avail_out = room > (1u << 30) ? 1u << 30 : (uInt)room;
        uInt before = z.avail_out;
        zr = inflate(&z, Z_NO_FLUSH);
        out->len += before - z.avail_out;
        if (zr == Z_STREAM_END)
            break;
        if (zr == Z_BUF_ERROR && z.avail_in == 0 && left == 0) {
            rc = errmsg_set(e, SL_EINVAL, "gzip body is truncated (%zu bytes)", len);
            break;
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            rc = errmsg_set(e, SL_EINVAL, "gzip body is not valid gzip: %s",
                            z.msg ? z.msg : "bad data");
            break;
        }
    }
    if (!rc && (z.avail_in || left))
        rc = errmsg_set(e, SL_EINVAL, "bytes after the end of the gzip stream");
    inflateEnd(&z);
    return rc;
}

/* ------------------------------------------------------------ protobuf */

typedef struct pb_rd {
    const uint8_t *base, *p, *end;
} pb_rd;

static int pb_varint(pb_rd *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int s = 0; s < 70; s += 7) {
        if (r->p >= r->end)
            return -1;
        uint8_t b = *r->p++;
        if (s == 63 && b > 1)
            return -1;
        x |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

static const ProtobufCFieldDescriptor *pb_field(const ProtobufCMessageDescriptor *d, uint32_t id)
{
    for (unsigned i = 0; i < d->n_fields; i++)
        if (d->fields[i].id == id)
            return &d->fields[i];
    return NULL;
}

/*
 * Walks a message's bytes: every tag and length is well-formed and inside the
 * input, fields of message type are walked in turn, no deeper than the cap.
 * Values of known scalar fields are left to protobuf-c.
 */
static int pb_check(const ProtobufCMessageDescriptor *d, const uint8_t *base, const uint8_t *p,
                    size_t len, int depth, errmsg *e)
{
    if (depth > OTLP_MAX_DEPTH)
        return errmsg_set(e, SL_EINVAL, "protobuf: messages nested deeper than %d at byte %zu",
                          OTLP_MAX_DEPTH, (size_t)(p - base));
    pb_rd r = {base, p, p + len};
    while (r.p < r.end) {
        size_t at = (size_t)(r.p - base);
        uint64_t key, n;
        if (pb_varint(&r, &key) || (key >> 3) == 0 || (key >> 3) > 0x1fffffff)
            return errmsg_set(e, SL_EINVAL, "protobuf: bad field key at byte %zu", at);
        const ProtobufCFieldDescriptor *f = pb_field(d, (uint32_t)(key >> 3));
        switch (key & 7) {
        case 0:
            if (pb_varint(&r, &n))
                return errmsg_set(e, SL_EINVAL, "protobuf: bad varint at byte %zu", at);
            break;
        case 1:
        case 5: {
            size_t w = (key & 7) == 1 ? 8 : 4;
            if ((size_t)(r.end - r.p) < w)
                return errmsg_set(e, SL_EINVAL, "protobuf: truncated field at byte %zu", at);
            r.p += w;
            break;
        }
        case 2:
            if (pb_varint(&r, &n) || n > (uint64_t)(r.end - r.p))
                return errmsg_set(e, SL_EINVAL, "protobuf: length past the end at byte %zu",
                                  at);
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                int rc = pb_check(f->descriptor, base, r.p, (size_t)n, depth + 1, e);
                if (rc)
                    return rc;
            }
            r.p += n;
            break;
        default:
            /* groups (3, 4) are not used by OTLP; 6 and 7 do not exist */
            return errmsg_set(e, SL_EINVAL, "protobuf: unsupported wire type %u at byte %zu",
                              (unsigned)(key & 7), at);
        }
    }
    return SL_OK;
}

typedef struct arena_alloc_ctx {
    arena *a;
    int oom;
} arena_alloc_ctx;

static void *pbc_alloc(void *data, size_t size)
{
    arena_alloc_ctx *c = data;
    void *p = arena_alloc(c->a, size ? size : 1);
    if (!p)
        c->oom = 1;
    return p;
}

static void pbc_free(void *data, void *p)
{
    (void)data;
    (void)p; /* the arena frees everything at once */
}

static const ProtobufCMessageDescriptor *request_desc(otlp_signal sig)
{
    return sig == OTLP_LOGS      ? &slotlp__export_logs_service_request__descriptor
           : sig == OTLP_METRICS ? &slotlp__export_metrics_service_request__descriptor
                                 : &slotlp__export_trace_service_request__descriptor;
}

static int decode_pb(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len, arena *a,
                     void **out, errmsg *e)
{
    int rc = pb_check(d, p, p, len, 0, e);
    if (rc)
        return rc;
    arena_alloc_ctx ctx = {a, 0};
    ProtobufCAllocator al = {pbc_alloc, pbc_free, &ctx};
    ProtobufCMessage *m = protobuf_c_message_unpack(d, &al, len, p);
    if (!m)
        return ctx.oom ? errmsg_set(e, SL_ETOOBIG, "request needs more than %u MiB to decode",
                                    (unsigned)(OTLP_ARENA_MAX >> 20))
                       : errmsg_set(e, SL_EINVAL, "protobuf: a field has a value of the wrong "
                                    "type for %s", d->short_name);
    *out = m;
    return SL_OK;
}

/* ------------------------------------------------------------ JSON */

typedef struct jfill {
    arena *a;
    errmsg *e;
    char path[160];   /* the field being filled, for messages */
} jfill;

/* key equals the field's name or its lowerCamelCase spelling. */
static int key_matches(const char *name, const char *key)
{
    if (!strcmp(name, key))
        return 1;
    for (;;) {
        if (*name == '_' && name[1]) {
            name++;
            char up = (*name >= 'a' && *name <= 'z') ? (char)(*name - 32) : *name;
            if (*key != up)
                return 0;
        } else if (*name != *key) {
            return 0;
        }
        if (!*name)
            return 1;
        name++;
        key++;
    }
}

static int jbad(jfill *f, const ProtobufCFieldDescriptor *fd, const char *want)
{
    return errmsg_set(f->e, SL_EINVAL, "JSON: field \"%s\" must be %s", fd->name, want);
}

static int j_int(jfill *f, const ProtobufCFieldDescriptor *fd, const json_val *v, int is_signed,
                 uint64_t *out)
{
    if (v->type == JSON_NUM && v->is_int && (is_signed || v->i >= 0)) {
        *out = (uint64_t)v->i;
        return SL_OK;
    }
    if (v->type == JSON_NUM && !v->is_int && !is_signed && v->num >= 0 && v->num < 18446744073709551616.0 &&
        v->num == floor(v->num)) {
        *out = (uint64_t)v->num;
        return SL_OK;
    }
    if (v->type == JSON_STR && v->len > 0 && v->len < 24 && strlen(v->str) == v->len) {
        char *end;
        errno = 0;
        if (is_signed) {
            long long x = strtoll(v->str, &end, 10);
            *out = (uint64_t)x;
        } else {
            if (v->str[0] == '-')
                return jbad(f, fd, "a non-negative integer");
            *out = strtoull(v->str, &end, 10);
        }
        if (!errno && *end == 0)
            return SL_OK;
    }
    return jbad(f, fd, "an integer (a number or a decimal string)");
}

static int j_double(jfill *f, const ProtobufCFieldDescriptor *fd, const json_val *v, double *out)
{
    if (v->type == JSON_NUM) {
        *out = v->num;
        return SL_OK;
    }
    if (v->type == JSON_STR) {
        if (!strcmp(v->str, "NaN"))
            *out = NAN;
        else if (!strcmp(v->str, "Infinity"))
            *out = INFINITY;
        else if (!strcmp(v->str, "-Infinity"))
            *out = -INFINITY;
        else {
            char *end;
            *out = strtod(v->str, &end);
            if (!v->len || *end)
                return jbad(f, fd, "a number");
        }
        return SL_OK;
    }
    return jbad(f, fd, "a number");
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                        : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Trace and span ids are hex in OTLP JSON; other bytes fields are base64. */
static int j_bytes(jfill *f, const ProtobufCFieldDescriptor *fd, const json_val *v,
                   ProtobufCBinaryData *out)
{
    if (v->type != JSON_STR)
        return jbad(f, fd, "a string");
    int hex = strstr(fd->name, "_id") != NULL;
    size_t cap = hex ? v->len / 2 + 1 : v->len / 4 * 3 + 3;
    uint8_t *p = arena_alloc(f->a, cap);
    if (!p)
        return errmsg_set(f->e, SL_ETOOBIG, "request too large to decode");
    if (hex) {
        if (v->len % 2)
            return jbad(f, fd, "hex digits (an even number)");
        for (size_t i = 0; i < v->len / 2; i++) {
            int hi = hexval(v->str[2 * i]), lo = hexval(v->str[2 * i + 1]);
            if (hi < 0 || lo < 0)
                return jbad(f, fd, "hex digits");
            p[i] = (uint8_t)(hi << 4 | lo);
        }
        out->len = v->len / 2;
    } else if (b64_decode(v->str, v->len, p, cap, &out->len)) {
        return jbad(f, fd, "base64");
    }
    out->data = p;
    return SL_OK;
}

static int fill_msg(jfill *f, const ProtobufCMessageDescriptor *d, const json_val *obj,
                    ProtobufCMessage **out);

/* Element width of a field's value in its C structure. */
static size_t field_width(const ProtobufCFieldDescriptor *fd)
{
    switch (fd->type) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_ENUM:
    case PROTOBUF_C_TYPE_FLOAT:
        return 4;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_STRING: case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    default:
        return 8;
    }
}

/* Fills one value of field fd at dst from v. */
static int fill_value(jfill *f, const ProtobufCFieldDescriptor *fd, const json_val *v, void *dst)
{
    uint64_t u = 0;
    double x = 0;
    int rc = SL_OK;
    switch (fd->type) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        if (!(rc = j_int(f, fd, v, 1, &u))) {
            if ((int64_t)u < INT32_MIN || (int64_t)u > INT32_MAX)
                return jbad(f, fd, "a 32-bit integer");
            int32_t i = (int32_t)(int64_t)u;
            memcpy(dst, &i, 4);
        }
        return rc;
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
        if (!(rc = j_int(f, fd, v, 0, &u))) {
            if (u > UINT32_MAX)
                return jbad(f, fd, "a 32-bit unsigned integer");
            uint32_t i = (uint32_t)u;
            memcpy(dst, &i, 4);
        }
        return rc;
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: {
        int is_signed = fd->type != PROTOBUF_C_TYPE_UINT64 && fd->type != PROTOBUF_C_TYPE_FIXED64;
        if (!(rc = j_int(f, fd, v, is_signed, &u)))
            memcpy(dst, &u, 8);
        return rc;
    }
    case PROTOBUF_C_TYPE_DOUBLE:
        if (!(rc = j_double(f, fd, v, &x)))
            memcpy(dst, &x, 8);
        return rc;
    case PROTOBUF_C_TYPE_FLOAT: {
        float fl;
        if (!(rc = j_double(f, fd, v, &x))) {
            fl = (float)x;
            memcpy(dst, &fl, 4);
        }
        return rc;
    }
    case PROTOBUF_C_TYPE_BOOL: {
        if (v->type != JSON_BOOL)
            return jbad(f, fd, "true or false");
        protobuf_c_boolean b = v->b != 0;
        memcpy(dst, &b, sizeof b);
        return SL_OK;
    }
    case PROTOBUF_C_TYPE_STRING: {
        if (v->type != JSON_STR)
            return jbad(f, fd, "a string");
        char *s = arena_strndup(f->a, v->str, v->len);
        if (!s)
            return errmsg_set(f->e, SL_ETOOBIG, "request too large to decode");
        memcpy(dst, &s, sizeof s);
        return SL_OK;
    }
    case PROTOBUF_C_TYPE_BYTES:
        return j_bytes(f, fd, v, dst);
    case PROTOBUF_C_TYPE_MESSAGE: {
        if (v->type != JSON_OBJ)
            return jbad(f, fd, "an object");
        ProtobufCMessage *m;
        if ((rc = fill_msg(f, fd->descriptor, v, &m)))
            return rc;
        memcpy(dst, &m, sizeof m);
        return SL_OK;
    }
    default:
        return jbad(f, fd, "a supported type");
    }
}

static int fill_field(jfill *f, uint8_t *msg, const ProtobufCFieldDescriptor *fd,
                      const json_val *v)
{
    if (v->type == JSON_NULL)
        return SL_OK; /* null is the default value */
    if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
        if (v->type != JSON_ARR)
            return jbad(f, fd, "an array");
        size_t w = field_width(fd);
        uint8_t *arr = arena_zalloc(f->a, w * (v->len ? v->len : 1));
        if (!arr)
            return errmsg_set(f->e, SL_ETOOBIG, "request too large to decode");
        for (size_t i = 0; i < v->len; i++) {
            int rc = fill_value(f, fd, &v->items[i], arr + i * w);
            if (rc)
                return rc;
        }
        size_t n = v->len;
        memcpy(msg + fd->quantifier_offset, &n, sizeof n);
        memcpy(msg + fd->offset, &arr, sizeof arr);
        return SL_OK;
    }
    int rc = fill_value(f, fd, v, msg + fd->offset);
    if (!rc && (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)) {
        uint32_t id = fd->id;
        memcpy(msg + fd->quantifier_offset, &id, sizeof id);
    } else if (!rc && fd->label == PROTOBUF_C_LABEL_OPTIONAL && fd->quantifier_offset) {
        protobuf_c_boolean has = 1;
        memcpy(msg + fd->quantifier_offset, &has, sizeof has);
    }
    return rc;
}

static int fill_msg(jfill *f, const ProtobufCMessageDescriptor *d, const json_val *obj,
                    ProtobufCMessage **out)
{
    uint8_t *msg = arena_zalloc(f->a, d->sizeof_message);
    if (!msg)
        return errmsg_set(f->e, SL_ETOOBIG, "request too large to decode");
    d->message_init((ProtobufCMessage *)(void *)msg);
    for (size_t k = 0; k < obj->len; k++) {
        for (unsigned i = 0; i < d->n_fields; i++) {
            if (!key_matches(d->fields[i].name, obj->keys[k]))
                continue;
            int rc = fill_field(f, msg, &d->fields[i], &obj->items[k]);
            if (rc)
                return rc;
            break;
        }
    }
    *out = (ProtobufCMessage *)(void *)msg;
    return SL_OK;
}

static int decode_json(const ProtobufCMessageDescriptor *d, const void *body, size_t len,
                       arena *a, void **out, errmsg *e)
{
    json_val *root;
    int rc = json_parse(a, body, len, &root, e);
    if (rc) {
        char why[sizeof e->text];
        snprintf(why, sizeof why, "%s", e->text);
        return rc == SL_ENOMEM ? errmsg_set(e, SL_ETOOBIG, "request too large to decode")
                               : errmsg_set(e, SL_EINVAL, "JSON: %s", why);
    }
    if (root->type != JSON_OBJ)
        return errmsg_set(e, SL_EINVAL, "JSON: the body must be an object");
    jfill f = {.a = a, .e = e};
    ProtobufCMessage *m;
    if ((rc = fill_msg(&f, d, root, &m)))
        return rc;
    *out = m;
    return SL_OK;
}

int otlp_decode(otlp_signal sig, otlp_encoding enc, const void *body, size_t len, arena *a,
                void **out, errmsg *e)
{
    if (len > OTLP_MAX_BODY)
        return errmsg_set(e, SL_ETOOBIG, "body of %zu bytes is over the cap of %u", len,
                          (unsigned)OTLP_MAX_BODY);
    const ProtobufCMessageDescriptor *d = request_desc(sig);
    return enc == OTLP_JSON ? decode_json(d, body, len, a, out, e)
                            : decode_pb(d, body, len, a, out, e);
}
