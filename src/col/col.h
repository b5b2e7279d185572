/*
 * col.h - columnar vectors and batches in the Arrow memory layout.
 *
 * A col_vec is one column of a batch: a validity bitmap, a values buffer and,
 * for strings, a data buffer.  The layouts are Arrow's, so that export through
 * the Arrow C Data Interface (col_arrow.h) hands the same memory over without
 * a copy:
 *
 *   validity   bit i of byte i/8 (least significant bit first) is 1 when row i
 *              holds a value.  NULL means "no nulls".  Internally the bitmap is
 *              often walked as uint64 words; on little-endian machines that is
 *              the same memory.
 *   values     BOOL: bits, LSB first.  INT32/UINT32: 4 bytes.  INT64/UINT64/
 *              TS_NS/DOUBLE: 8 bytes.  FIXED16: 16 bytes (Arrow fixed-size binary).  STRING/BINARY: len + 1 int32 offsets into
 *              data.  DICT: one unsigned key of key_bytes (1, 2, 4 or 8) per row.
 *   data       STRING/BINARY bytes.
 *   dict       DICT only: a shared, refcounted vector of strings that the keys
 *              index.  Dictionaries stay dictionaries from the Parquet page to
 *              the consumer; col_vec_expand() turns one into plain strings only
 *              when a consumer asks.
 *
 * Buffers (col_buf) are refcounted so that batches can share immutable memory
 * (a dictionary used by every batch of a row group, an exported Arrow array
 * still alive after the batch is released).  A buffer is written only while
 * its count is 1, that is while one builder owns it.
 *
 * Building appends rows to a vector; buffers grow geometrically and stop at
 * COL_BUF_MAX_BYTES (string offsets are int32, so a batch's string bytes stay
 * below 2 GiB).  Appends are amortised O(1) and never allocate per row.
 * Values of null rows are zero (empty string for strings, key 0 for DICT).
 */
#ifndef SL_COL_COL_H
#define SL_COL_COL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef enum col_type {
    COL_BOOL = 1,
    COL_INT32,
    COL_INT64,
    COL_UINT32,
    COL_UINT64,
    COL_DOUBLE,
    COL_TS_NS,  /* int64 nanoseconds since the Unix epoch, UTC */
    COL_STRING, /* UTF-8, int32 offsets */
    COL_BINARY, /* bytes, int32 offsets */
    COL_DICT,   /* unsigned keys of key_bytes into a string dictionary */
    COL_FIXED16, /* 16-byte values: SQL numeric (int128 with its scale) and interval */
} col_type;

/* Hard cap of one buffer: string offsets are int32. */
#define COL_BUF_MAX_BYTES ((size_t)INT32_MAX)

typedef struct col_buf {
    _Atomic int64_t refs;
    size_t len_bytes; /* bytes in use */
    size_t cap_bytes; /* bytes allocated */
    uint8_t *p;
} col_buf;

typedef struct col_dict col_dict;

typedef struct col_vec {
    col_type type;
    uint8_t key_bytes; /* COL_DICT: 1, 2, 4 or 8; else 0 */
    int64_t len;       /* rows */
    int64_t null_count;
    col_buf *validity; /* NULL when every row is valid */
    col_buf *values;
    col_buf *data;  /* STRING/BINARY only */
    col_dict *dict; /* DICT only */
} col_vec;

/* A refcounted dictionary: a vector of COL_STRING values without nulls. */
struct col_dict {
    _Atomic int64_t refs;
    col_vec strings;
};

typedef struct col_field {
    char *name;
    col_type type;
    uint8_t key_bytes; /* COL_DICT */
    bool nullable;
} col_field;

/* Column names, types and nullability; refcounted, immutable once shared. */
typedef struct col_schema {
    _Atomic int64_t refs;
    int ncols;
    col_field *fields;
} col_schema;

/*
 * A set of equally long vectors described by a schema; owns its vectors.
 * A vector's type equals its field's type, with one refinement: a COL_STRING
 * field may be carried by a COL_DICT vector (dictionary-encoded strings are
 * strings), because a Parquet column chunk can switch from dictionary to plain
 * pages and the reader keeps dictionaries whenever a batch allows it.
 */
typedef struct col_batch {
    col_schema *schema; /* one reference held */
    int64_t nrows;
    int ncols;
    col_vec *cols;
} col_batch;

/* --- buffers --------------------------------------------------------------- */

/* A new buffer with cap_bytes allocated (zeroed), len 0 and one reference; NULL on ENOMEM. */
col_buf *col_buf_new(size_t cap_bytes);
/* Same, without zeroing the first cap_bytes: for producers that write every
 * byte they expose (decoders), where zeroing would be wasted bandwidth. */
col_buf *col_buf_new_uninit(size_t cap_bytes);
col_buf *col_buf_ref(col_buf *b);
void col_buf_unref(col_buf *b);
/* Grow (never shrink) to at least need_bytes, geometrically, new bytes zeroed.
 * Returns 0, SL_ETOOBIG past COL_BUF_MAX_BYTES or SL_ENOMEM. */
int col_buf_reserve(col_buf *b, size_t need_bytes);

/* --- types ----------------------------------------------------------------- */

/* "int64", "string", "dict"... */
const char *col_type_name(col_type t);
/* Bytes per value in the values buffer (0 for BOOL, which uses bits; 4 for string offsets). */
size_t col_type_width(col_type t, uint8_t key_bytes);
bool col_type_is_valid(col_type t, uint8_t key_bytes);

/* --- vectors --------------------------------------------------------------- */

/* An empty vector of a type; allocates nothing. */
void col_vec_init(col_vec *v, col_type t, uint8_t key_bytes);
/* Drop the vector's references; the vector becomes empty (type kept). */
void col_vec_release(col_vec *v);
/* Bytes of values nrows rows of v's type take: ceil(nrows / 8) for BOOL,
 * nrows + 1 offsets for STRING/BINARY, else width * nrows. */
size_t col_vec_values_bytes(const col_vec *v, int64_t nrows);
/* Make room for nrows more rows and data_bytes more string bytes. */
int col_vec_reserve(col_vec *v, int64_t nrows, size_t data_bytes);
/* Make sure a validity bitmap exists covering cap rows (all previous rows valid). */
int col_vec_need_validity(col_vec *v, int64_t cap_rows);

int col_vec_append_null(col_vec *v);
int col_vec_append_bool(col_vec *v, bool x);
int col_vec_append_i32(col_vec *v, int32_t x);
int col_vec_append_i64(col_vec *v, int64_t x); /* INT64, TS_NS */
int col_vec_append_u32(col_vec *v, uint32_t x);
int col_vec_append_u64(col_vec *v, uint64_t x);
int col_vec_append_f64(col_vec *v, double x);
int col_vec_append_str(col_vec *v, const void *p, size_t n); /* STRING, BINARY */
int col_vec_append_fixed16(col_vec *v, const void *p16);
/* DICT: append a key; SL_EINVAL if it is not below the dictionary's length. */
int col_vec_append_key(col_vec *v, uint64_t key);

/* DICT: attach a dictionary (takes a new reference; replaces any previous one). */
void col_vec_set_dict(col_vec *v, col_dict *d);

/* Turn a DICT vector into plain COL_STRING rows appended to out (initialised
 * as COL_STRING by the caller).  The one place dictionaries are expanded. */
int col_vec_expand(const col_vec *v, col_vec *out);

static inline bool col_vec_is_valid(const col_vec *v, int64_t i)
{
    return !v->validity || ((v->validity->p[i >> 3] >> (i & 7)) & 1);
}

static inline const int32_t *col_vec_offsets(const col_vec *v)
{
    return (const int32_t *)(const void *)v->values->p;
}

/* Key of row i of a DICT vector. */
static inline uint64_t col_vec_key(const col_vec *v, int64_t i)
{
    const uint8_t *p = v->values->p;
    switch (v->key_bytes) {
    case 1:
        return p[i];
    case 2: {
        uint16_t k;
        memcpy(&k, p + 2 * i, 2);
        return k;
    }
    case 4: {
        uint32_t k;
        memcpy(&k, p + 4 * i, 4);
        return k;
    }
    default: {
        uint64_t k;
        memcpy(&k, p + 8 * i, 8);
        return k;
    }
    }
}

/* Bytes of row i of a STRING, BINARY or DICT vector (looked up in the dictionary). */
static inline const uint8_t *col_vec_str(const col_vec *v, int64_t i, size_t *len)
{
    if (v->type == COL_DICT) {
        i = (int64_t)col_vec_key(v, i);
        v = &v->dict->strings;
    }
    const int32_t *o = col_vec_offsets(v);
    *len = (size_t)(o[i + 1] - o[i]);
    return v->data->p + o[i];
}

static inline int64_t col_vec_i64(const col_vec *v, int64_t i)
{
    int64_t x;
    memcpy(&x, v->values->p + 8 * i, 8);
    return x;
}

static inline int32_t col_vec_i32(const col_vec *v, int64_t i)
{
    int32_t x;
    memcpy(&x, v->values->p + 4 * i, 4);
    return x;
}

static inline double col_vec_f64(const col_vec *v, int64_t i)
{
    double x;
    memcpy(&x, v->values->p + 8 * i, 8);
    return x;
}

static inline bool col_vec_bool(const col_vec *v, int64_t i)
{
    return (v->values->p[i >> 3] >> (i & 7)) & 1;
}

/* --- dictionaries ---------------------------------------------------------- */

/* A new empty string dictionary with one reference. */
col_dict *col_dict_new(void);
col_dict *col_dict_ref(col_dict *d);
void col_dict_unref(col_dict *d);
/* Smallest key width (1, 2, 4 or 8 bytes) able to index n entries. */
uint8_t col_dict_key_bytes(int64_t n);

/* --- schemas and batches --------------------------------------------------- */

/* A schema of ncols fields, names unset; one reference. NULL on ENOMEM. */
col_schema *col_schema_new(int ncols);
/* Set field i (copies the name). SL_EINVAL for a bad index, type or key width. */
int col_schema_set(col_schema *s, int i, const char *name, col_type t, uint8_t key_bytes,
                   bool nullable);
col_schema *col_schema_ref(col_schema *s);
void col_schema_unref(col_schema *s);
/* Index of the field called name, or -1. */
int col_schema_find(const col_schema *s, const char *name);

/* A batch of empty vectors typed by the schema (one reference to it is taken). */
int col_batch_new(col_schema *s, col_batch **out);
/* Releases the batch, its vectors and its schema reference. NULL is fine. */
void col_batch_release(col_batch *b);
/* Checks that every vector has nrows rows and the schema's type; SL_EINVAL if not. */
int col_batch_validate(const col_batch *b);

#endif
