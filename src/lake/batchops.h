/*
 * batchops.h - selecting rows of a batch into a new one.
 *
 * The lake filters rows by time and merges partitions by taking runs of rows;
 * both need "these rows of that batch" as a new batch of the same schema.
 * Dictionary columns keep their dictionary (keys are copied, the dictionary is
 * shared), so selecting never expands strings.
 */
#ifndef SL_LAKE_BATCHOPS_H
#define SL_LAKE_BATCHOPS_H

#include "col/col.h"

/* A batch holding rows[0..n) of b (indexes into b, any order). */
int lake_batch_gather(const col_batch *b, const int64_t *rows, int64_t n, col_batch **out);
/* A batch holding rows [start, start + n) of b. */
int lake_batch_slice(const col_batch *b, int64_t start, int64_t n, col_batch **out);
/*
 * A batch of n rows taken from several batches of the same schema: row i is
 * row rows[i] of srcs[src[i]] (n >= 1; a source no row names may be NULL).
 * A dictionary column keeps its dictionary when every source shares it, else
 * comes out as plain strings.
 */
int lake_batch_gather_multi(col_batch *const *srcs, const int *src, const int64_t *rows,
                            int64_t n, col_batch **out);
/*
 * The columns idx[0..schema->ncols) of b as a batch of `schema` (whose fields
 * match them); the vectors' buffers are shared, not copied.
 */
int lake_batch_project(const col_batch *b, col_schema *schema, const int *idx, col_batch **out);

#endif
