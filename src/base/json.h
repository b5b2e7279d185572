/*
 * json.h - a JSON writer over dbuf, and a small bounded JSON parser.
 *
 * The writer tracks commas itself so callers just emit keys and values.  The
 * parser builds a tree in a caller's arena, rejects nesting deeper than 64 and
 * anything that is not RFC 8259 JSON, and reports the byte offset of the
 * first problem.  Both exist for HTTP API bodies, not for bulk data.
 */
#ifndef SL_BASE_JSON_H
#define SL_BASE_JSON_H

#include "base/arena.h"
#include "base/dbuf.h"
#include "base/err.h"

#include <stddef.h>
#include <stdint.h>

#define JW_MAX_DEPTH 64

typedef struct jw {
    dbuf *b;
    int err;
    int depth;
    uint8_t first[JW_MAX_DEPTH]; /* 1 while the container at that depth is empty */
    uint8_t after_key;
} jw;

void jw_init(jw *w, dbuf *b);
void jw_obj_begin(jw *w);
void jw_obj_end(jw *w);
void jw_arr_begin(jw *w);
void jw_arr_end(jw *w);
void jw_key(jw *w, const char *k);
void jw_str(jw *w, const char *s);
void jw_strn(jw *w, const char *s, size_t n);
void jw_int(jw *w, int64_t v);
void jw_uint(jw *w, uint64_t v);
void jw_double(jw *w, double v);
void jw_bool(jw *w, int v);
void jw_null(jw *w);
/* A key and its value: a string (null when v is NULL), an integer, an unsigned. */
void jw_kv_str(jw *w, const char *k, const char *v);
void jw_kv_int(jw *w, const char *k, int64_t v);
void jw_kv_uint(jw *w, const char *k, uint64_t v);
/* A value that is already JSON text, written as it is (null when empty or NULL). */
void jw_raw(jw *w, const char *json);
/* As jw_raw, for n bytes of JSON text that need not end in NUL. */
void jw_rawn(jw *w, const char *json, size_t n);
/* Appends s as a quoted, escaped JSON string to b (no comma handling). */
int json_escape(dbuf *b, const char *s, size_t n);

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUM, JSON_STR, JSON_ARR, JSON_OBJ } json_type;

typedef struct json_val json_val;
struct json_val {
    json_type type;
    int b;              /* JSON_BOOL */
    double num;         /* JSON_NUM */
    int is_int;         /* JSON_NUM written without fraction or exponent, fits int64 */
    int64_t i;          /* JSON_NUM when is_int */
    const char *str;    /* JSON_STR (NUL-terminated, may contain NULs via \u0000) */
    size_t len;         /* JSON_STR length; JSON_ARR / JSON_OBJ item count */
    json_val *items;    /* JSON_ARR items, JSON_OBJ values */
    const char **keys;  /* JSON_OBJ keys */
};

int json_parse(arena *a, const char *text, size_t len, json_val **out, errmsg *e);
/* The value of key in an object, or NULL. */
const json_val *json_get(const json_val *obj, const char *key);

#endif
