/*
 * jsonb.h - jsonb values as canonical text.
 *
 * A jsonb value is stored as the text PostgreSQL's jsonb_out would print for
 * it: object keys unique (the last one wins) and sorted shorter first, then
 * bytewise; ", " and ": " as separators; numbers as numeric prints them;
 * strings re-escaped.  Equal jsonb values therefore have equal bytes, so
 * comparison, hashing, grouping and output need nothing special, and the
 * operators below walk the text without building a tree.
 *
 * Nesting is limited to JSONB_MAX_DEPTH levels.
 */
#ifndef SL_SQL_TYPES_JSONB_H
#define SL_SQL_TYPES_JSONB_H

#include "base/dbuf.h"

#include <stddef.h>
#include <stdint.h>

#define JSONB_MAX_DEPTH 256

/* Parses JSON text and appends its canonical form to out; -1 if it is not JSON. */
int sql_jsonb_canon(const char *s, size_t n, dbuf *out);

/* The member `key` of an object (1, with its canonical text in *v, *vn), or 0. */
int sql_jsonb_key(const char *s, size_t n, const char *key, size_t kn, const char **v,
                  size_t *vn);
/* Element i of an array (negative counts from the end): 1 or 0. */
int sql_jsonb_index(const char *s, size_t n, int64_t i, const char **v, size_t *vn);
/* ->> of a member's text: strings unescaped, null as SQL NULL (returns 0), others as is. */
int sql_jsonb_as_text(const char *v, size_t vn, dbuf *out);
/* "object", "array", "string", "number", "boolean" or "null". */
const char *sql_jsonb_typeof(const char *s, size_t n);
/* Elements of an array, or -1 if s is not an array. */
int64_t sql_jsonb_array_length(const char *s, size_t n);
/* The ? operator: an object with the key, or an array with the string. */
int sql_jsonb_exists(const char *s, size_t n, const char *key, size_t kn);
/* a @> b. */
int sql_jsonb_contains(const char *a, size_t an, const char *b, size_t bn);
/* Appends s as a JSON string (quoted, escaped as jsonb prints it). */
int sql_json_quote(const char *s, size_t n, dbuf *out);

#endif
