/*
 * pgwire_msg.c - protocol 3.0 messages in and out (see pgwire_msg.h).
 */
#include "server/pgwire_msg.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

void pg_rd_init(pg_rd *r, const uint8_t *p, size_t n)
{
    r->p = p;
    r->end = p + n;
    r->bad = false;
}

int16_t pg_rd_i16(pg_rd *r)
{
    if (r->bad || r->end - r->p < 2) {
        r->bad = true;
        return 0;
    }
    uint16_t v = (uint16_t)((r->p[0] << 8) | r->p[1]);
    r->p += 2;
    return (int16_t)v;
}

int32_t pg_rd_i32(pg_rd *r)
{
    if (r->bad || r->end - r->p < 4) {
        r->bad = true;
        return 0;
    }
    uint32_t v = ((uint32_t)r->p[0] << 24) | ((uint32_t)r->p[1] << 16) | ((uint32_t)r->p[2] << 8) |
                 r->p[3];
    r->p += 4;
    return (int32_t)v;
}

const char *pg_rd_str(pg_rd *r)
{
    const uint8_t *z = r->bad ? NULL : memchr(r->p, 0, (size_t)(r->end - r->p));
    if (!z) {
        r->bad = true;
        return "";
    }
    const char *s = (const char *)r->p;
    r->p = z + 1;
    return s;
}

const uint8_t *pg_rd_bytes(pg_rd *r, int32_t n)
{
    if (r->bad || n < 0 || r->end - r->p < n) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    return p;
}

int pg_parse_startup(const uint8_t *body, size_t n, pg_startup *out, errmsg *e)
{
    memset(out, 0, sizeof *out);
    pg_rd r;
    pg_rd_init(&r, body, n);
    out->code = pg_rd_i32(&r);
    if (r.bad)
        return errmsg_set(e, SL_ECORRUPT, "startup packet too short");
    if (out->code == PG_CANCEL_REQUEST) {
        out->pid = pg_rd_i32(&r);
        out->secret = pg_rd_i32(&r);
        return r.bad ? errmsg_set(e, SL_ECORRUPT, "cancel request too short") : SL_OK;
    }
    if (out->code != PG_PROTOCOL_3)
        return SL_OK;
    /* key, value pairs, each NUL-terminated, then a final NUL */
    for (;;) {
        const char *k = pg_rd_str(&r);
        if (r.bad)
            return errmsg_set(e, SL_ECORRUPT, "startup packet: unterminated parameter name");
        if (!*k)
            break;
        const char *v = pg_rd_str(&r);
        if (r.bad)
            return errmsg_set(e, SL_ECORRUPT, "startup packet: parameter \"%.64s\" has no value",
                              k);
        if (out->nparams == PG_STARTUP_MAX_PARAMS)
            return errmsg_set(e, SL_ECORRUPT, "startup packet: more than %d parameters",
                              PG_STARTUP_MAX_PARAMS);
        out->keys[out->nparams] = k;
        out->vals[out->nparams++] = v;
    }
    return SL_OK;
}

const char *pg_startup_get(const pg_startup *s, const char *key)
{
    for (int i = 0; i < s->nparams; i++)
        if (!strcmp(s->keys[i], key))
            return s->vals[i];
    return NULL;
}

size_t pg_msg_begin(dbuf *b, char type)
{
    dbuf_append_byte(b, (uint8_t)type);
    size_t at = b->len;
    pg_put_i32(b, 0);
    return at;
}

void pg_msg_end(dbuf *b, size_t at)
{
    if (b->len < at + 4)
        return;
    uint32_t n = htonl((uint32_t)(b->len - at));
    memcpy(b->p + at, &n, 4);
}

void pg_put_i16(dbuf *b, int16_t v)
{
    uint16_t n = htons((uint16_t)v);
    dbuf_append(b, &n, 2);
}

void pg_put_i32(dbuf *b, int32_t v)
{
    uint32_t n = htonl((uint32_t)v);
    dbuf_append(b, &n, 4);
}

void pg_put_str(dbuf *b, const char *s)
{
    dbuf_append(b, s, strlen(s) + 1);
}

void pg_auth_ok(dbuf *b)
{
    size_t at = pg_msg_begin(b, 'R');
    pg_put_i32(b, 0);
    pg_msg_end(b, at);
}

void pg_parameter_status(dbuf *b, const char *name, const char *value)
{
    size_t at = pg_msg_begin(b, 'S');
    pg_put_str(b, name);
    pg_put_str(b, value);
    pg_msg_end(b, at);
}

void pg_backend_key(dbuf *b, int32_t pid, int32_t secret)
{
    size_t at = pg_msg_begin(b, 'K');
    pg_put_i32(b, pid);
    pg_put_i32(b, secret);
    pg_msg_end(b, at);
}

void pg_ready(dbuf *b, char status)
{
    size_t at = pg_msg_begin(b, 'Z');
    dbuf_append_byte(b, (uint8_t)status);
    pg_msg_end(b, at);
}

void pg_command_complete(dbuf *b, const char *tag)
{
    size_t at = pg_msg_begin(b, 'C');
    pg_put_str(b, tag);
    pg_msg_end(b, at);
}

void pg_empty_query(dbuf *b)
{
    size_t at = pg_msg_begin(b, 'I');
    pg_msg_end(b, at);
}

static void field(dbuf *b, char code, const char *v)
{
    if (!v || !*v)
        return;
    dbuf_append_byte(b, (uint8_t)code);
    pg_put_str(b, v);
}

void pg_error(dbuf *b, const char *severity, const sql_err *e, int position, bool notice)
{
    size_t at = pg_msg_begin(b, notice ? 'N' : 'E');
    field(b, 'S', severity);
    field(b, 'V', severity);
    field(b, 'C', e->state[0] ? e->state : "XX000");
    field(b, 'M', e->msg[0] ? e->msg : "internal error");
    field(b, 'D', e->detail);
    field(b, 'H', e->hint);
    if (position > 0) {
        char pos[16];
        snprintf(pos, sizeof pos, "%d", position);
        field(b, 'P', pos);
    }
    dbuf_append_byte(b, 0);
    pg_msg_end(b, at);
}
