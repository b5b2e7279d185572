/*
 * thrift.c - Thrift compact protocol writer and bounded reader (see thrift.h).
 *
 * The reader's errors are sticky in the embedded rd: once a read fails every
 * later read returns zero, so a struct decoder can read a whole struct and
 * check t->r.err once, the way decoders elsewhere in streamlake do.
 */
#include "parquet/thrift.h"

#include <string.h>

/* --- writer ---------------------------------------------------------------- */

void tw_init(tw *w, dbuf *b)
{
    memset(w, 0, sizeof *w);
    w->b = b;
}

static void put(tw *w, const void *p, size_t n)
{
    if (!w->err)
        w->err = dbuf_append(w->b, p, n);
}

void tw_raw_varint(tw *w, uint64_t v)
{
    uint8_t tmp[10];
    put(w, tmp, uvarint_put(tmp, v));
}

void tw_raw_i32(tw *w, int32_t v)
{
    tw_raw_varint(w, zigzag_enc(v));
}

void tw_raw_bin(tw *w, const void *p, size_t n)
{
    tw_raw_varint(w, n);
    put(w, p, n);
}

void tw_field(tw *w, int16_t id, uint8_t t)
{
    int16_t delta = (int16_t)(id - w->last[w->depth]);
    if (delta > 0 && delta <= 15) {
        uint8_t h = (uint8_t)(delta << 4 | t);
        put(w, &h, 1);
    } else {
        put(w, &t, 1);
        tw_raw_varint(w, zigzag_enc(id));
    }
    w->last[w->depth] = id;
}

void tw_i32(tw *w, int16_t id, int32_t v)
{
    tw_field(w, id, TT_I32);
    tw_raw_varint(w, zigzag_enc(v));
}

void tw_i64(tw *w, int16_t id, int64_t v)
{
    tw_field(w, id, TT_I64);
    tw_raw_varint(w, zigzag_enc(v));
}

void tw_bool(tw *w, int16_t id, bool v)
{
    tw_field(w, id, v ? TT_TRUE : TT_FALSE);
}

void tw_bin(tw *w, int16_t id, const void *p, size_t n)
{
    tw_field(w, id, TT_BINARY);
    tw_raw_bin(w, p, n);
}

void tw_str(tw *w, int16_t id, const char *s)
{
    tw_bin(w, id, s, strlen(s));
}

void tw_struct_begin(tw *w, int16_t id)
{
    if (id > 0)
        tw_field(w, id, TT_STRUCT);
    if (w->depth + 1 >= TW_MAX_DEPTH) {
        w->err = SL_EINTERNAL; /* our own metadata never nests this deep */
        return;
    }
    w->last[++w->depth] = 0;
}

void tw_struct_end(tw *w)
{
    uint8_t stop = TT_STOP;
    put(w, &stop, 1);
    if (w->depth > 0)
        w->depth--;
}

void tw_list(tw *w, int16_t id, uint8_t elem_type, size_t n)
{
    if (id > 0)
        tw_field(w, id, TT_LIST);
    if (n < 15) {
        uint8_t h = (uint8_t)(n << 4 | elem_type);
        put(w, &h, 1);
    } else {
        uint8_t h = (uint8_t)(0xf0 | elem_type);
        put(w, &h, 1);
        tw_raw_varint(w, n);
    }
}

/* --- reader ---------------------------------------------------------------- */

void tr_init(tr *t, const void *p, size_t n, size_t base_off)
{
    rd_init(&t->r, p, n);
    t->depth = 0;
    t->base_off = base_off;
}

size_t tr_off(const tr *t)
{
    return t->base_off + (t->r.err ? t->r.err_off : rd_off(&t->r));
}

int tr_field(tr *t, int16_t *last, int16_t *id, uint8_t *type)
{
    uint8_t h = rd_u8(&t->r);
    if (t->r.err)
        return t->r.err;
    uint8_t ty = h & 0x0f;
    if (ty == TT_STOP)
        return 0;
    if (ty > TT_UUID) {
        rd_fail(&t->r, SL_ECORRUPT);
        return SL_ECORRUPT;
    }
    int delta = h >> 4;
    int64_t fid = delta ? *last + delta : zigzag_dec(rd_uvarint(&t->r));
    if (t->r.err)
        return t->r.err;
    if (fid < INT16_MIN || fid > INT16_MAX) {
        rd_fail(&t->r, SL_ECORRUPT);
        return SL_ECORRUPT;
    }
    *id = *last = (int16_t)fid;
    *type = ty;
    return 1;
}

int64_t tr_int(tr *t)
{
    return zigzag_dec(rd_uvarint(&t->r));
}

int64_t tr_int_typed(tr *t, uint8_t type)
{
    switch (type) {
    case TT_I8:
        return (int8_t)rd_u8(&t->r);
    case TT_I16:
    case TT_I32:
    case TT_I64:
        return tr_int(t);
    case TT_TRUE:
        return 1;
    case TT_FALSE:
        return 0;
    default:
        rd_fail(&t->r, SL_ECORRUPT);
        return 0;
    }
}

const uint8_t *tr_bin(tr *t, size_t *n)
{
    uint64_t len = rd_uvarint(&t->r);
    if (len > rd_left(&t->r)) {
        rd_fail(&t->r, SL_ETRUNC);
        *n = 0;
        return NULL;
    }
    *n = (size_t)len;
    return rd_bytes(&t->r, (size_t)len);
}

int tr_list(tr *t, uint8_t *elem_type, size_t *n)
{
    uint8_t h = rd_u8(&t->r);
    uint64_t cnt = h >> 4;
    if (cnt == 15)
        cnt = rd_uvarint(&t->r);
    *elem_type = h & 0x0f;
    *n = 0;
    if (t->r.err)
        return t->r.err;
    /* Each element is at least one byte (a bool, a varint, an empty struct's
     * STOP); a count above the bytes left is a lie. */
    if (cnt > rd_left(&t->r) || *elem_type == TT_STOP || *elem_type > TT_UUID) {
        rd_fail(&t->r, SL_ECORRUPT);
        return SL_ECORRUPT;
    }
    *n = (size_t)cnt;
    return SL_OK;
}

int tr_enter(tr *t)
{
    if (++t->depth > TR_MAX_DEPTH) {
        rd_fail(&t->r, SL_ECORRUPT);
        return SL_ECORRUPT;
    }
    return SL_OK;
}

void tr_leave(tr *t)
{
    t->depth--;
}

static void skip_struct(tr *t)
{
    if (tr_enter(t))
        return;
    int16_t last = 0, id;
    uint8_t ty;
    while (tr_field(t, &last, &id, &ty) == 1)
        tr_skip(t, ty);
    tr_leave(t);
}

void tr_skip(tr *t, uint8_t type)
{
    size_t n;
    uint8_t et;
    switch (type) {
    case TT_TRUE:
    case TT_FALSE:
        return;
    case TT_I8:
        rd_u8(&t->r);
        return;
    case TT_I16:
    case TT_I32:
    case TT_I64:
        rd_uvarint(&t->r);
        return;
    case TT_DOUBLE:
        rd_bytes(&t->r, 8);
        return;
    case TT_UUID:
        rd_bytes(&t->r, 16);
        return;
    case TT_BINARY:
        tr_bin(t, &n);
        return;
    case TT_STRUCT:
        skip_struct(t);
        return;
    case TT_LIST:
    case TT_SET:
        if (tr_list(t, &et, &n) || tr_enter(t))
            return;
        for (size_t i = 0; i < n && !t->r.err; i++)
            tr_skip(t, et == TT_TRUE || et == TT_FALSE ? TT_I8 : et);
        tr_leave(t);
        return;
    case TT_MAP: {
        uint64_t cnt = rd_uvarint(&t->r);
        if (cnt == 0)
            return;
        uint8_t kv = rd_u8(&t->r);
        if (cnt > rd_left(&t->r) || tr_enter(t)) {
            rd_fail(&t->r, SL_ECORRUPT);
            return;
        }
        uint8_t kt = kv >> 4, vt = kv & 0x0f;
        if (kt == TT_TRUE || kt == TT_FALSE)
            kt = TT_I8;
        if (vt == TT_TRUE || vt == TT_FALSE)
            vt = TT_I8;
        for (uint64_t i = 0; i < cnt && !t->r.err; i++) {
            tr_skip(t, kt);
            tr_skip(t, vt);
        }
        tr_leave(t);
        return;
    }
    default:
        rd_fail(&t->r, SL_ECORRUPT);
        return;
    }
}
