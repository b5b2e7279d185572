/*
 * fuzz_pgwire.c - fuzz target for the PostgreSQL protocol's message decoding.
 *
 * The input is what a client could send: a first packet (length, code, body)
 * and then frontend messages (type, length, body).  Each is decoded as the
 * listener does (src/server/pgwire_msg.c): the startup parameters, a Query's
 * text, the fields of Parse, Bind (its values read as binary parameters of each
 * type), Execute, Describe and Close, and a SASL
 * message ('p': SASLInitialResponse, else SASLResponse, their SCRAM messages
 * parsed as src/server/pgwire_auth.c does), with the message length checked
 * against the cap.  Errors are answered the way the
 * listener would (an ErrorResponse is written).  A crash, an out-of-bounds
 * read or a hang is a bug.
 */
#include "server/pgwire_msg.h"
#include "server/scram.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MSG (1u << 20)

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void answer(dbuf *out, const char *state, const char *msg)
{
    sql_err e;
    sql_err_clear(&e);
    sql_err_set(&e, state, -1, "%.200s", msg);
    pg_error(out, "ERROR", &e, 0, false);
}

static void message(char type, const uint8_t *body, size_t n, dbuf *out)
{
    pg_rd r;
    pg_rd_init(&r, body, n);
    switch (type) {
    case 'Q': {
        const char *q = pg_rd_str(&r);
        if (!r.bad)
            pg_command_complete(out, q[0] ? "SELECT 0" : "");
        break;
    }
    case 'P': {
        pg_rd_str(&r);
        pg_rd_str(&r);
        int16_t np = pg_rd_i16(&r);
        for (int i = 0; i < np && !r.bad; i++)
            pg_rd_i32(&r);
        break;
    }
    case 'B': {
        pg_rd_str(&r);
        pg_rd_str(&r);
        int16_t nf = pg_rd_i16(&r);
        for (int i = 0; i < nf && !r.bad; i++)
            pg_rd_i16(&r);
        int16_t np = pg_rd_i16(&r);
        for (int i = 0; i < np && !r.bad; i++) {
            int32_t len = pg_rd_i32(&r);
            const uint8_t *v = len >= 0 ? pg_rd_bytes(&r, len) : NULL;
            /* a binary parameter, read as each type the listener decodes */
            static const uint32_t oids[] = {26, 114, 1082, 1114, 1184, 1186, 1700, 2950, 3802};
            for (size_t k = 0; v && k < sizeof oids / sizeof oids[0]; k++) {
                dbuf_reset(out);
                pg_binary_param_text(oids[k], v, len, out);
            }
        }
        int16_t nr = pg_rd_i16(&r);
        for (int i = 0; i < nr && !r.bad; i++)
            pg_rd_i16(&r);
        break;
    }
    case 'E':
        pg_rd_str(&r);
        pg_rd_i32(&r);
        break;
    case 'D':
    case 'C':
        pg_rd_bytes(&r, 1);
        pg_rd_str(&r);
        break;
    case 'p': {
        pg_sasl_initial in;
        errmsg e = {0};
        scram_client_first cf;
        scram_client_final ff;
        if (!pg_parse_sasl_initial(body, n, &in, &e)) {
            if (scram_parse_client_first((const char *)in.data, in.len, &cf, &e))
                answer(out, "08P01", e.text);
        } else if (scram_parse_client_final((const char *)body, n, &ff, &e)) {
            answer(out, "08P01", e.text);
        }
        break;
    }
    default:
        break;
    }
    if (r.bad)
        answer(out, "08P01", "invalid message format");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dbuf out;
    dbuf_init(&out, (size_t)1 << 24);
    size_t at = 0;
    if (size >= 4) {
        uint32_t len = be32(data);
        if (len >= 8 && len <= 10000 && len <= size) {
            pg_startup st;
            errmsg e = {0};
            if (pg_parse_startup(data + 4, len - 4, &st, &e))
                answer(&out, "08P01", e.text);
            else if (st.code == PG_PROTOCOL_3)
                pg_parameter_status(&out, "application_name",
                                    pg_startup_get(&st, "application_name") ?: "");
            at = len;
        }
    }
    while (size - at >= 5) {
        char type = (char)data[at];
        uint32_t len = be32(data + at + 1);
        if (len < 4 || len - 4 > MAX_MSG) {
            answer(&out, "08P01", "invalid message length");
            break;
        }
        if (len - 4 > size - at - 5)
            break; /* truncated: the listener waits for the rest (or the client leaves) */
        message(type, data + at + 5, len - 4, &out);
        at += 1 + len;
    }
    pg_ready(&out, 'I');
    dbuf_free(&out);
    return 0;
}
