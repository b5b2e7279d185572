/*
 * col_arrow.h - export and import of vectors and batches through the Arrow C
 * Data Interface.
 *
 * The two structs below are an ABI fixed by the Arrow project's C Data
 * Interface specification; they are declared here (guarded by the macro the
 * specification names) so that any consumer built against Arrow's own header
 * sees the same layout.
 *
 * Export is zero-copy: the ArrowArray's private data holds references to the
 * vector's col_bufs, so the exported array stays valid after the batch is
 * released, until the consumer calls its release callback.  A batch exports
 * as a struct array ("+s") whose children are the columns, which is how Arrow
 * represents a record batch in the C interface.
 *
 * Formats used:
 *   b bool, i int32, l int64, I uint32, L uint64, g double, tsn:UTC timestamp
 *   ns UTC, u utf8 string, z binary, +s struct; dictionary vectors export their
 *   key type (C, S, I, L: uint8..uint64) with the strings in `dictionary`.
 *
 * Import copies the buffers into new col_bufs (honouring the array offset), so
 * the imported batch owns plain memory; it then calls the producer's release
 * callbacks.  Import validates lengths, offsets and dictionary keys: a
 * malformed array is refused with a message, never read out of bounds
 * (within what the structs themselves state: buffers are trusted to be as
 * long as length and offsets say).
 */
#ifndef SL_COL_COL_ARROW_H
#define SL_COL_COL_ARROW_H

#include "base/err.h"
#include "col/col.h"

#include <stdint.h>

#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE

#define ARROW_FLAG_DICTIONARY_ORDERED 1
#define ARROW_FLAG_NULLABLE 2
#define ARROW_FLAG_MAP_KEYS_SORTED 4

struct ArrowSchema {
    const char *format;
    const char *name;
    const char *metadata;
    int64_t flags;
    int64_t n_children;
    struct ArrowSchema **children;
    struct ArrowSchema *dictionary;
    void (*release)(struct ArrowSchema *);
    void *private_data;
};

struct ArrowArray {
    int64_t length;
    int64_t null_count;
    int64_t offset;
    int64_t n_buffers;
    int64_t n_children;
    const void **buffers;
    struct ArrowArray **children;
    struct ArrowArray *dictionary;
    void (*release)(struct ArrowArray *);
    void *private_data;
};

#endif /* ARROW_C_DATA_INTERFACE */

/* Export one vector as (schema, array). The vector stays usable. */
int col_vec_export(const col_vec *v, const char *name, bool nullable,
                   struct ArrowSchema *out_schema, struct ArrowArray *out_array);
/* Export a batch as a "+s" struct array with one child per column. */
int col_batch_export(const col_batch *b, struct ArrowSchema *out_schema,
                     struct ArrowArray *out_array);

/* Import one field into *out (initialised here).  field_out, if not NULL, receives
 * the type and nullability (its name is left NULL).  Does not release the structs. */
int col_vec_import(const struct ArrowSchema *s, const struct ArrowArray *a, col_vec *out,
                   col_field *field_out, errmsg *e);
/* Import a "+s" struct array as a batch.  Takes ownership of both structs:
 * their release callbacks are called whether import succeeds or not. */
int col_batch_import(struct ArrowSchema *s, struct ArrowArray *a, col_batch **out, errmsg *e);

#endif
