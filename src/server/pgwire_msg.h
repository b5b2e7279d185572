/*
 * pgwire_msg.h - PostgreSQL frontend/backend protocol 3.0: reading frontend
 * messages and writing backend ones (docs/internals/pgwire.md).
 *
 * Pure functions over byte buffers: no sockets here, so the decoder can be
 * fuzzed (tests/fuzz/fuzz_pgwire.c).  Every reader checks its bounds; a
 * message that ends early or carries a string without its terminator sets
 * `bad`, and the connection answers it with an ErrorResponse (08P01).
 */
#ifndef SL_SERVER_PGWIRE_MSG_H
#define SL_SERVER_PGWIRE_MSG_H

#include "base/dbuf.h"
#include "base/err.h"
#include "sql/front/error.h"
#include "sql/types/value.h"

#include <stdbool.h>
#include <stdint.h>

/* The codes of the untyped first packets (protocol version 3.0, SSL, GSS, cancel). */
#define PG_PROTOCOL_3 196608
#define PG_SSL_REQUEST 80877103
#define PG_GSSENC_REQUEST 80877104
#define PG_CANCEL_REQUEST 80877102

#define PG_STARTUP_MAX_PARAMS 32

/* The first packet: its code, and the parameters of a StartupMessage or the key of
 * a CancelRequest.  Strings point into the packet. */
typedef struct pg_startup {
    int32_t code;
    int32_t pid, secret;                 /* CancelRequest */
    int nparams;
    const char *keys[PG_STARTUP_MAX_PARAMS];
    const char *vals[PG_STARTUP_MAX_PARAMS];
} pg_startup;

/* Parses a first packet's body (what follows its length).  SL_ECORRUPT with e set
 * for a malformed one (unterminated strings, a short cancel key, too many
 * parameters); an unknown code is returned as it is, for the caller to refuse. */
int pg_parse_startup(const uint8_t *body, size_t n, pg_startup *out, errmsg *e);
/* The value of a startup parameter, or NULL. */
const char *pg_startup_get(const pg_startup *s, const char *key);

/* A reader over a message body. */
typedef struct pg_rd {
    const uint8_t *p, *end;
    bool bad;                /* read past the end or an unterminated string */
} pg_rd;

void pg_rd_init(pg_rd *r, const uint8_t *p, size_t n);
int16_t pg_rd_i16(pg_rd *r);
int32_t pg_rd_i32(pg_rd *r);
/* A NUL-terminated string inside the body ("" when bad). */
const char *pg_rd_str(pg_rd *r);
/* n bytes (NULL when bad or n < 0). */
const uint8_t *pg_rd_bytes(pg_rd *r, int32_t n);

/* Writers: a message is begun (its type and a length to fill), filled, ended. */
size_t pg_msg_begin(dbuf *b, char type);
void pg_msg_end(dbuf *b, size_t at);
void pg_put_i16(dbuf *b, int16_t v);
void pg_put_i32(dbuf *b, int32_t v);
void pg_put_str(dbuf *b, const char *s);

/* A value in PostgreSQL's binary format (the DataRow bytes, without the length):
 * bool, int2/4/8, oid, float4/8, numeric, text, varchar, bytea, date, timestamp,
 * timestamptz, interval, uuid, jsonb, text[] (docs/internals/pgwire.md). */
int pg_binary_value(sql_type t, const col_vec *v, int64_t r, dbuf *out);

/* A parameter sent in binary (Bind's format 1) as the text the engine reads: oid,
 * numeric, date, timestamp, timestamptz, interval, uuid, json, jsonb (their send
 * formats above, read back).  SL_EINVAL for another type or malformed bytes. */
int pg_binary_param_text(uint32_t oid, const uint8_t *p, int32_t n, dbuf *out);

/* Authentication request codes (the int32 after 'R'). */
#define PG_AUTH_OK 0
#define PG_AUTH_SASL 10
#define PG_AUTH_SASL_CONTINUE 11
#define PG_AUTH_SASL_FINAL 12

/* SASLInitialResponse ('p' after AuthenticationSASL): the mechanism the client chose
 * and its first message (pointers into the body). */
typedef struct pg_sasl_initial {
    const char *mechanism;
    const uint8_t *data;
    size_t len;
} pg_sasl_initial;

/* SL_ECORRUPT with e set when the body is not a mechanism, an int32 length (not -1:
 * SCRAM always sends a first message) and exactly that many bytes. */
int pg_parse_sasl_initial(const uint8_t *body, size_t n, pg_sasl_initial *out, errmsg *e);

/* Whole backend messages. */
void pg_auth_ok(dbuf *b);
/* AuthenticationSASL with one mechanism. */
void pg_auth_sasl(dbuf *b, const char *mechanism);
/* AuthenticationSASLContinue (PG_AUTH_SASL_CONTINUE) or AuthenticationSASLFinal: data. */
void pg_auth_sasl_data(dbuf *b, int32_t code, const char *data, size_t n);
void pg_parameter_status(dbuf *b, const char *name, const char *value);
void pg_backend_key(dbuf *b, int32_t pid, int32_t secret);
void pg_ready(dbuf *b, char status);
void pg_command_complete(dbuf *b, const char *tag);
void pg_empty_query(dbuf *b);
/* ErrorResponse (or NoticeResponse with notice) with severity, SQLSTATE, message,
 * detail, hint and the 1-based character position (0: none). */
void pg_error(dbuf *b, const char *severity, const sql_err *e, int position, bool notice);

#endif
