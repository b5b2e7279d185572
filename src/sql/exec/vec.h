/*
 * vec.h - what the executor computes on: batches, vectors, selections.
 *
 * A batch is a set of equally long col_vec columns (src/col, Arrow layout;
 * buffers refcounted, so a batch can share its columns with the scan that
 * produced it).  A selection lists the live rows of a batch (ascending
 * indexes); a filter narrows it instead of copying rows.  Expressions are
 * evaluated over (batch, selection) and produce *dense* vectors: one value
 * per selected row, in selection order (sql_eval, eval.h).  A vector may be
 * a constant: one row standing for every row (is_const), so that `x + 1` or
 * `name = 'render'` never expands its literal.
 *
 * Null rows hold zero values (empty strings), so a kernel may compute over
 * them harmlessly; kernels that can fail on a value (division by zero, an
 * overflow) skip rows whose result is null.
 */
#ifndef SL_SQL_EXEC_VEC_H
#define SL_SQL_EXEC_VEC_H

#include "col/col.h"
#include "sql/types/type.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct sql_vec {
    col_vec v;        /* v.len rows; one row when is_const */
    bool is_const;
} sql_vec;

typedef struct sql_sel {
    const uint32_t *idx; /* NULL: rows 0 .. n-1 */
    int64_t n;
} sql_sel;

typedef struct sql_batch {
    int ncols;
    int64_t n;        /* rows of every column */
    col_vec *cols;
    const sql_type *types; /* the producer's column types (not owned) */
} sql_batch;

/* Row i of the selection. */
static inline int64_t sql_sel_row(const sql_sel *s, int64_t i)
{
    return s->idx ? (int64_t)s->idx[i] : i;
}

/* An empty batch of ncols columns with the given SQL types (types must outlive it;
 * NULL: the caller sets every column). */
int sql_batch_new(int ncols, const sql_type *types, sql_batch **out);
void sql_batch_free(sql_batch *b);
/* Releases the columns' buffers, keeps the batch (ncols, types) for reuse. */
void sql_batch_clear(sql_batch *b);

/* A vector of n rows of type t, values zeroed, no validity (all valid). */
int sql_vec_alloc(sql_vec *v, sql_type t, int64_t n);
/* A constant vector: one row, valid or null. */
int sql_vec_const_null(sql_vec *v, sql_type t);
void sql_vec_release(sql_vec *v);
/* Makes a validity bitmap for n rows (all valid) if there is none. */
int sql_vec_need_validity(sql_vec *v);
static inline void sql_vec_set_null(sql_vec *v, int64_t i)
{
    v->v.validity->p[i >> 3] &= (uint8_t)~(1u << (i & 7));
    v->v.null_count++;
}
static inline bool sql_vec_valid(const sql_vec *v, int64_t i)
{
    return col_vec_is_valid(&v->v, v->is_const ? 0 : i);
}
/* Row index to read in v for logical row i. */
static inline int64_t sql_vec_row(const sql_vec *v, int64_t i)
{
    return v->is_const ? 0 : i;
}

/* Dense copy of src's selected rows (a dictionary stays a dictionary). */
int sql_vec_gather(const col_vec *src, const sql_sel *sel, col_vec *out);
/* Expands a constant vector to n rows (same values). */
int sql_vec_expand(const sql_vec *c, int64_t n, col_vec *out);
/* A shared reference to v (buffers refcounted). */
void sql_vec_share(const col_vec *v, col_vec *out);

#endif
