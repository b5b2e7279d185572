/*
 * uagg.h - a GROUP BY over a view that emits updates (job.c's ukeyed job with
 * an aggregation; docs/internals/stream.md, "A view read as a stream").  The
 * view's rows change and go, so a group's result cannot be added to: the
 * worker reading the view keeps each of the view's keys' current row as the
 * aggregation takes it (after the scan's filter and the pre chain), which
 * group it is in, and each group's members, and computes a changed group
 * again from its rows with the batch engine's aggregates (sql_aggtab): every
 * aggregate serves, with no inverse.
 *
 * Ids: a view key's id (vid) is the reader's (worker.c's key table); a
 * group's id (gid) is this table's own, over the GROUP BY values (a GROUP BY
 * of no column: one group, id 0).
 *
 * Bounds: the rows kept are the view's live keys' rows and at most as many
 * replaced ones plus 1024 (compaction, as in ulog.c); the group table keeps
 * every group that ever had a row.  One thread.
 */
#ifndef SL_STREAM_UAGG_H
#define SL_STREAM_UAGG_H

#include "sql/exec/exec.h"

typedef struct stream_uagg stream_uagg;

/* Rows of ncols columns of types (copied), grouped by nkeys GROUP BY values of
 * ktypes (0: one group). */
int stream_uagg_new(int ncols, const sql_type *types, int nkeys, const sql_type *ktypes,
                    stream_uagg **out);
void stream_uagg_free(stream_uagg *u);
/* Bytes held: the kept rows, the group table, the members' links. */
int64_t stream_uagg_mem(const stream_uagg *u);

/* The view's keys vids[0..n) lose their row, if they have one (a deletion, or
 * an upsert about to put the new one); its group has changed. */
int stream_uagg_remove(stream_uagg *u, const uint32_t *vids, int64_t n);
/* rows (shared, not taken): row i is key vids[i]'s, in the group of the values
 * kv (nkeys vectors of rows->n rows) and replaces any row the key has. */
int stream_uagg_put(stream_uagg *u, const sql_batch *rows, const uint32_t *vids,
                    const sql_vec *kv);
/*
 * The groups changed since the last call, then none: the rows of those that
 * have rows, to fn (a batch at a time, taken), and the GROUP BY values of those
 * left with none in *gone (NULL: none) with their ids in *gone_ids (free with
 * sl_free).  A GROUP BY of no column is never gone.
 */
int stream_uagg_changed(stream_uagg *u, int (*fn)(void *arg, sql_batch *b), void *arg,
                        sql_batch **gone, uint32_t **gone_ids);
/* The ids of the groups of values kv (n rows; SQL_HT_NONE: not a group). */
int stream_uagg_gids(stream_uagg *u, const sql_vec *kv, int64_t n, uint32_t *gids);

#endif
