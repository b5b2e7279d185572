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

int pg_parse_sasl_initial(const uint8_t *body, size_t n, pg_sasl_initial *out, errmsg *e)
{
    memset(out, 0, sizeof *out);
    pg_rd r;
    pg_rd_init(&r, body, n);
    out->mechanism = pg_rd_str(&r);
    int32_t len = pg_rd_i32(&r);
    if (r.bad)
        return errmsg_set(e, SL_ECORRUPT, "SASLInitialResponse: no mechanism and length");
    size_t left = (size_t)(r.end - r.p);
    if (len < 0 || (size_t)len != left)
        return errmsg_set(e, SL_ECORRUPT, "SASLInitialResponse: the length (%d) is not that of "
                          "the data (%zu bytes)", (int)len, left);
    out->data = r.p;
    out->len = left;
    return SL_OK;
}

void pg_auth_ok(dbuf *b)
{
    size_t at = pg_msg_begin(b, 'R');
    pg_put_i32(b, PG_AUTH_OK);
    pg_msg_end(b, at);
}

void pg_auth_sasl(dbuf *b, const char *mechanism)
{
    size_t at = pg_msg_begin(b, 'R');
    pg_put_i32(b, PG_AUTH_SASL);
    pg_put_str(b, mechanism);
    dbuf_append_byte(b, 0); /* the list's end */
    pg_msg_end(b, at);
}

void pg_auth_sasl_data(dbuf *b, int32_t code, const char *data, size_t n)
{
    size_t at = pg_msg_begin(b, 'R');
    pg_put_i32(b, code);
    dbuf_append(b, data, n);
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
    field(b, 'W', e->context);
    if (position > 0) {
        char pos[16];
        snprintf(pos, sizeof pos, "%d", position);
        field(b, 'P', pos);
    }
    dbuf_append_byte(b, 0);
    pg_msg_end(b, at);
}

/* ---- binary values ---- */

static void be16(dbuf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    dbuf_append(b, x, 2);
}

static void be32u(dbuf *b, uint32_t v)
{
    uint32_t x = htonl(v);
    dbuf_append(b, &x, 4);
}

static void be64(dbuf *b, uint64_t v)
{
    uint64_t x = ((uint64_t)htonl((uint32_t)v) << 32) | htonl((uint32_t)(v >> 32));
    dbuf_append(b, &x, 8);
}

#define PG_EPOCH_DAYS 10957                      /* 1970-01-01 to 2000-01-01 */
#define PG_EPOCH_US (10957LL * 86400 * 1000000)

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return q - ((a % b) < 0);
}

/* numeric from its text ("-12.3400", "NaN"): sign, weight and base-10000 digits. */
static int numeric_binary(const char *s, size_t n, dbuf *out)
{
    if (n == 3 && !memcmp(s, "NaN", 3)) {
        be16(out, 0);
        be16(out, 0);
        be16(out, 0xC000);
        be16(out, 0);
        return SL_OK;
    }
    bool neg = n && s[0] == '-';
    if (neg || (n && s[0] == '+')) {
        s++;
        n--;
    }
    const char *dot = memchr(s, '.', n);
    size_t il = dot ? (size_t)(dot - s) : n, fl = dot ? n - il - 1 : 0;
    const char *fs = dot ? dot + 1 : s + n;
    /* integer groups from the right, fraction groups from the left */
    size_t ig = (il + 3) / 4, fg = (fl + 3) / 4;
    uint16_t d[160];
    if (ig + fg > sizeof d / sizeof d[0])
        return SL_EINVAL;
    for (size_t g = 0; g < ig; g++) {
        int64_t end = (int64_t)il - (int64_t)(ig - 1 - g) * 4, start = end - 4;
        uint16_t v = 0;
        for (int64_t k = start < 0 ? 0 : start; k < end; k++)
            v = (uint16_t)(v * 10 + (s[k] - '0'));
        d[g] = v;
    }
    for (size_t g = 0; g < fg; g++) {
        uint16_t v = 0;
        for (size_t k = g * 4; k < g * 4 + 4; k++)
            v = (uint16_t)(v * 10 + (k < fl ? fs[k] - '0' : 0));
        d[ig + g] = v;
    }
    size_t first = 0, last = ig + fg;
    int weight = (int)ig - 1;
    while (first < last && d[first] == 0) {
        first++;
        weight--;
    }
    while (last > first && d[last - 1] == 0)
        last--;
    if (first == last)
        weight = 0;
    be16(out, (uint16_t)(last - first));
    be16(out, (uint16_t)(int16_t)weight);
    be16(out, neg && first < last ? 0x4000 : 0);
    be16(out, (uint16_t)fl);
    for (size_t g = first; g < last; g++)
        be16(out, d[g]);
    return SL_OK;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static uint64_t rd_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* numeric's binary form (int16 digits, weight, sign, scale, base-10000 digits) as
 * text: "-12.3400", "NaN".  At most 1000 digits, scale 1000: PostgreSQL's limits. */
static int numeric_text(const uint8_t *p, int32_t n, dbuf *out)
{
    if (n < 8)
        return SL_EINVAL;
    int nd = (int16_t)rd_be(p, 2), weight = (int16_t)rd_be(p + 2, 2);
    uint16_t sign = (uint16_t)rd_be(p + 4, 2);
    int scale = (int16_t)rd_be(p + 6, 2);
    if (sign == 0xC000)
        return dbuf_append_str(out, "NaN");
    if (nd < 0 || nd > 1000 || n != 8 + 2 * nd || scale < 0 || scale > 1000 ||
        weight < -1000 || weight > 1000 || (sign != 0 && sign != 0x4000))
        return SL_EINVAL;
    int rc = sign == 0x4000 && nd ? dbuf_append_byte(out, '-') : SL_OK;
    char g[8];
    /* the integer part: groups weight .. 0, the first without leading zeros */
    if (weight < 0 || nd == 0)
        rc |= dbuf_append_byte(out, '0');
    for (int k = 0; k <= weight && !rc; k++) {
        int d = k < nd ? (int)rd_be(p + 8 + 2 * k, 2) : 0;
        if (d > 9999)
            return SL_EINVAL;
        snprintf(g, sizeof g, k ? "%04d" : "%d", d);
        rc = dbuf_append_str(out, g);
    }
    /* the fraction: scale digits, from group weight + 1 on */
    for (int i = 0; i < scale && !rc; i++) {
        if (i == 0)
            rc = dbuf_append_byte(out, '.');
        int k = weight + 1 + i / 4, d = k >= 0 && k < nd ? (int)rd_be(p + 8 + 2 * k, 2) : 0;
        if (d > 9999)
            return SL_EINVAL;
        static const int div[4] = {1000, 100, 10, 1};
        rc |= dbuf_append_byte(out, (char)('0' + d / div[i % 4] % 10));
    }
    return rc;
}

int pg_binary_param_text(uint32_t oid, const uint8_t *p, int32_t n, dbuf *out)
{
    sql_datum d;
    memset(&d, 0, sizeof d);
    sql_tid t;
    switch (oid) {
    case 26: /* oid */
        if (n != 4)
            return SL_EINVAL;
        d.i = (int64_t)rd_be(p, 4);
        t = ST_INT8;
        break;
    case 1082: /* date */
        if (n != 4)
            return SL_EINVAL;
        d.i = (int64_t)(int32_t)rd_be(p, 4) + PG_EPOCH_DAYS;
        t = ST_DATE;
        break;
    case 1114: /* timestamp, timestamptz: microseconds since 2000 */
    case 1184: {
        if (n != 8)
            return SL_EINVAL;
        int64_t us = (int64_t)rd_be(p, 8);
        if (us > INT64_MAX / 1000 - PG_EPOCH_US || us < INT64_MIN / 1000 + PG_EPOCH_US)
            return SL_EINVAL;
        d.i = (us + PG_EPOCH_US) * 1000;
        t = oid == 1114 ? ST_TIMESTAMP : ST_TIMESTAMPTZ;
        break;
    }
    case 1186: { /* interval: int64 microseconds, int32 days, int32 months */
        if (n != 16)
            return SL_EINVAL;
        int64_t us = (int64_t)rd_be(p, 8);
        if (us > INT64_MAX / 1000 || us < INT64_MIN / 1000)
            return SL_EINVAL;
        d.iv.ns = us * 1000;
        d.iv.days = (int32_t)rd_be(p + 8, 4);
        d.iv.months = (int32_t)rd_be(p + 12, 4);
        t = ST_INTERVAL;
        break;
    }
    case 2950: { /* uuid: 16 bytes */
        if (n != 16)
            return SL_EINVAL;
        char u[40];
        int k = 0;
        for (int i = 0; i < 16; i++)
            k += snprintf(u + k, sizeof u - (size_t)k, "%s%02x",
                          i == 4 || i == 6 || i == 8 || i == 10 ? "-" : "", p[i]);
        return dbuf_append_str(out, u);
    }
    case 114: /* json: its text; jsonb: a version byte 1, then the text */
        return dbuf_append(out, p, (size_t)n);
    case 3802:
        return n >= 1 && p[0] == 1 ? dbuf_append(out, p + 1, (size_t)n - 1) : SL_EINVAL;
    case 1700:
        return numeric_text(p, n, out);
    default:
        return SL_EINVAL;
    }
    return sql_datum_text(sql_type_of(t), &d, out);
}

/* numeric straight from its mantissa and scale when they are small (the usual case):
 * base-10000 groups with the fraction padded to whole groups.  -1: use the text path. */
static int numeric_binary_dec(sql_dec dv, dbuf *out)
{
    __int128 m = dec_mant(dv);
    int s = dec_scale(dv);
    if (s < 0 || s > 60)
        return -1;
    uint64_t a;
    if (m > (__int128)(UINT64_MAX / 1000) || m < -(__int128)(UINT64_MAX / 1000))
        return -1;
    a = (uint64_t)(m < 0 ? -m : m);
    int pad = (4 - s % 4) % 4;
    for (int i = 0; i < pad; i++)
        a *= 10;
    uint16_t g[8]; /* least significant first; 2^64 < 10000^5 */
    int ng = 0;
    while (a) {
        g[ng++] = (uint16_t)(a % 10000);
        a /= 10000;
    }
    int frac = (s + pad) / 4, lo = 0;
    while (lo < ng && g[lo] == 0)
        lo++;                     /* trailing zero groups are not sent */
    int weight = ng - 1 - frac;
    if (lo == ng)
        weight = 0;
    be16(out, (uint16_t)(ng - lo));
    be16(out, (uint16_t)(int16_t)weight);
    be16(out, m < 0 && lo < ng ? 0x4000 : 0);
    be16(out, (uint16_t)s);
    for (int i = ng - 1; i >= lo; i--)
        be16(out, g[i]);
    return SL_OK;
}

int pg_binary_value(sql_type t, const col_vec *v, int64_t r, dbuf *out)
{
    /* the common columns without the general datum */
    if (t.id == ST_INT8 && v->type == COL_INT64) {
        be64(out, (uint64_t)col_vec_i64(v, r));
        return SL_OK;
    }
    if (t.id == ST_INT4 && v->type == COL_INT32) {
        be32u(out, (uint32_t)col_vec_i32(v, r));
        return SL_OK;
    }
    if (t.id == ST_TEXT && v->type == COL_STRING) {
        size_t n;
        const uint8_t *p = col_vec_str(v, r, &n);
        return dbuf_append(out, p, n);
    }
    sql_datum d = sql_datum_get(t, v, r);
    switch (t.id) {
    case ST_BOOL:
        return dbuf_append_byte(out, d.b ? 1 : 0);
    case ST_INT2:
        be16(out, (uint16_t)(int16_t)d.i);
        return SL_OK;
    case ST_INT4:
    case ST_OID:
        be32u(out, (uint32_t)d.i);
        return SL_OK;
    case ST_INT8:
        be64(out, (uint64_t)d.i);
        return SL_OK;
    case ST_FLOAT4: {
        float f = (float)d.f;
        uint32_t u;
        memcpy(&u, &f, 4);
        be32u(out, u);
        return SL_OK;
    }
    case ST_FLOAT8: {
        uint64_t u;
        memcpy(&u, &d.f, 8);
        be64(out, u);
        return SL_OK;
    }
    case ST_DATE:
        be32u(out, (uint32_t)(int32_t)(d.i - PG_EPOCH_DAYS));
        return SL_OK;
    case ST_TIMESTAMP:
    case ST_TIMESTAMPTZ:
        be64(out, (uint64_t)(floor_div(d.i, 1000) - PG_EPOCH_US));
        return SL_OK;
    case ST_INTERVAL:
        be64(out, (uint64_t)floor_div(d.iv.ns, 1000));
        be32u(out, (uint32_t)d.iv.days);
        be32u(out, (uint32_t)d.iv.months);
        return SL_OK;
    case ST_UUID: {
        uint8_t u[16];
        int k = 0;
        for (uint32_t i = 0; i < d.s.n && k < 32; i++) {
            int h = hexval(d.s.p[i]);
            if (h < 0)
                continue;
            if (k % 2 == 0)
                u[k / 2] = (uint8_t)(h << 4);
            else
                u[k / 2] |= (uint8_t)h;
            k++;
        }
        return k == 32 ? dbuf_append(out, u, 16) : SL_EINVAL;
    }
    case ST_JSONB:
        dbuf_append_byte(out, 1); /* jsonb's binary version */
        return dbuf_append(out, d.s.p, d.s.n);
    case ST_NUMERIC: {
        if (!numeric_binary_dec(d.d, out))
            return SL_OK;
        char txt[80];
        int n = dec_to_text(d.d, txt);
        return numeric_binary(txt, (size_t)n, out);
    }
    case ST_TEXTARR:
    case ST_INT2ARR: {
        /* int2[] elements are canonical decimal text: sent as int16 */
        bool i2 = t.id == ST_INT2ARR;
        uint32_t cnt = sql_textarr_count(d.s.p, d.s.n);
        bool nulls = false;
        for (uint32_t k = 0; k < cnt; k++) {
            const uint8_t *el;
            uint32_t en;
            nulls |= !sql_textarr_get(d.s.p, d.s.n, k, &el, &en);
        }
        be32u(out, cnt ? 1 : 0);  /* dimensions */
        be32u(out, nulls ? 1 : 0);
        be32u(out, i2 ? 21 : 25); /* element type: int2 or text */
        if (cnt) {
            be32u(out, cnt);
            be32u(out, 1);        /* lower bound */
        }
        for (uint32_t k = 0; k < cnt; k++) {
            const uint8_t *el;
            uint32_t en;
            int32_t num;
            if (!sql_textarr_get(d.s.p, d.s.n, k, &el, &en)) {
                be32u(out, UINT32_MAX);
            } else if (i2 && sql_int2arr_get(d.s.p, d.s.n, k, &num)) {
                be32u(out, 2);
                be16(out, (uint16_t)(int16_t)num);
            } else {
                be32u(out, en);
                dbuf_append(out, el, en);
            }
        }
        return SL_OK;
    }
    default: /* text, varchar, bytea, unknown: their bytes */
        return dbuf_append(out, d.s.p, d.s.n);
    }
}
