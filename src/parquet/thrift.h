/*
 * thrift.h - the Thrift compact protocol, as much of it as Parquet metadata uses.
 *
 * Wire facts (Apache Thrift compact protocol specification):
 *   field header  one byte: high nibble = field id delta (1..15) from the
 *                 previous field of the same struct, low nibble = type; a zero
 *                 delta is followed by the id as a zigzag varint (i16).
 *                 Type 0 (STOP) ends a struct.
 *   bool field    the value is the type: 1 = true, 2 = false (no payload).
 *   i8            one byte; i16/i32/i64 zigzag varints; double 8 bytes LE.
 *   binary        varint length, then the bytes (strings are binary).
 *   list / set    one byte: high nibble = size (15 means a varint size
 *                 follows), low nibble = element type; bool elements are one
 *                 byte each.
 *   map           varint size; when not zero one byte key type << 4 | value type.
 *   uuid          16 bytes (type 13, newer Thrift).
 *
 * The writer (tw) appends to a dbuf and remembers one "last field id" per
 * open struct.  The reader (tr) works on a bounded rd: it never reads past the
 * end, skips fields it does not know whatever their type (forward
 * compatibility), refuses nesting deeper than TR_MAX_DEPTH, and refuses a
 * list longer than the bytes left (every element takes at least one byte),
 * so a lying count cannot make a caller allocate more than the input allows.
 */
#ifndef SL_PARQUET_THRIFT_H
#define SL_PARQUET_THRIFT_H

#include "base/bytes.h"
#include "base/dbuf.h"

#include <stdbool.h>
#include <stdint.h>

enum {
    TT_STOP = 0,
    TT_TRUE = 1,
    TT_FALSE = 2,
    TT_I8 = 3,
    TT_I16 = 4,
    TT_I32 = 5,
    TT_I64 = 6,
    TT_DOUBLE = 7,
    TT_BINARY = 8,
    TT_LIST = 9,
    TT_SET = 10,
    TT_MAP = 11,
    TT_STRUCT = 12,
    TT_UUID = 13,
};

#define TW_MAX_DEPTH 16
#define TR_MAX_DEPTH 32

typedef struct tw {
    dbuf *b;
    int depth;
    int16_t last[TW_MAX_DEPTH];
    int err; /* first dbuf error, sticky */
} tw;

void tw_init(tw *w, dbuf *b);
/* Field header for field id of type t in the current struct. */
void tw_field(tw *w, int16_t id, uint8_t t);
void tw_i32(tw *w, int16_t id, int32_t v);
void tw_i64(tw *w, int16_t id, int64_t v);
void tw_bool(tw *w, int16_t id, bool v);
void tw_bin(tw *w, int16_t id, const void *p, size_t n);
void tw_str(tw *w, int16_t id, const char *s);
/* Opens a struct field (id > 0) or a struct list element (id == 0). */
void tw_struct_begin(tw *w, int16_t id);
/* Writes STOP and closes the struct. */
void tw_struct_end(tw *w);
/* List header for field id (0 for no field header, i.e. nested lists). */
void tw_list(tw *w, int16_t id, uint8_t elem_type, size_t n);
/* Bare values, for list elements. */
void tw_raw_varint(tw *w, uint64_t v);
void tw_raw_i32(tw *w, int32_t v);
void tw_raw_bin(tw *w, const void *p, size_t n);

typedef struct tr {
    rd r;
    int depth;
    size_t base_off; /* offset of r.base in the file, for messages */
} tr;

void tr_init(tr *t, const void *p, size_t n, size_t base_off);
/* Reads a field header within a struct whose previous id is *last.  Returns
 * 1 with *id and *type set, 0 at STOP, or a negative code (also in t->r.err). */
int tr_field(tr *t, int16_t *last, int16_t *id, uint8_t *type);
int64_t tr_int(tr *t); /* i8 (byte), i16, i32, i64 use this via their type */
int64_t tr_int_typed(tr *t, uint8_t type);
/* Binary / string: points into the input, no copy. */
const uint8_t *tr_bin(tr *t, size_t *n);
/* List or set header: element type and count (count <= bytes left). */
int tr_list(tr *t, uint8_t *elem_type, size_t *n);
/* Skips one value of type. */
void tr_skip(tr *t, uint8_t type);
/* Enter / leave a nested struct (depth cap). */
int tr_enter(tr *t);
void tr_leave(tr *t);
/* Absolute offset of the reader, for messages. */
size_t tr_off(const tr *t);

#endif
