/*
 * ulog.h - the upsert log of a materialized view with emit = 'on_update'
 * (and of every GROUP BY without a window into a view): the view's current
 * contents while its job runs, one row per group.  docs/internals/stream.md,
 * "The upsert log of a view", has the design and its bounds.
 *
 * Two halves:
 *   owners (upost.c;   stream_ulog_post: the new results of the groups a
 *   job.h)             batch changed (or a closing window's final results)
 *                      through the post chain, each row leaving with its
 *                      group's key (the GROUP BY values, window columns
 *                      included); groups HAVING drops leave as deletions
 *   the merger         stream_ulog_upsert / stream_ulog_delete (through
 *   (sink.c)           sink.c) change the log; readers copy its live rows
 *                      (stream_ulog_read) under the view's mutex.
 *
 * Threads: one writer (the job's merger); readers hold the view's mutex,
 * which the writer takes only to publish a change (a batch's rows at once),
 * so a reader never sees a key twice or missing.
 */
#ifndef SL_STREAM_ULOG_H
#define SL_STREAM_ULOG_H

#include "stream/stream_int.h"

/* What an UPDATE message into a view's log carries (its `end` field). */
enum {
    STREAM_ULOG_UPSERT = 1,  /* b: the view's columns, then the key's; counted as updates */
    STREAM_ULOG_FINAL,       /* ... a closing window's final rows (not counted) */
    STREAM_ULOG_DELETE       /* b: the key's columns only: those groups have no row */
};

typedef struct stream_ulog stream_ulog;

/* An empty log of rows of ncols columns keyed by nkeys columns (types copied). */
int stream_ulog_new(int ncols, const sql_type *types, int nkeys, const sql_type *ktypes,
                    stream_ulog **out);
void stream_ulog_free(stream_ulog *l);
/* The columns of a row with its key (ncols + nkeys; the view's, then the key's). */
const sql_type *stream_ulog_types(const stream_ulog *l, int *n);
/* Live rows. */
int64_t stream_ulog_rows(const stream_ulog *l);
/* Bytes the log holds: its batches (live and superseded rows), key table and
 * row index (counted in the job's state, against work_mem). */
int64_t stream_ulog_mem(const stream_ulog *l);

/*
 * Writer (one thread).  upsert: rows (the view's columns) and keys (the same
 * number of rows), both taken; each row replaces its key's row.  delete:
 * keys taken; their rows go.  mu: taken while the change is published (NULL:
 * no reader runs meanwhile).  0 or SL_ENOMEM (the log is unchanged).
 */
int stream_ulog_upsert(stream_ulog *l, sql_batch *rows, sql_batch *keys, pthread_mutex_t *mu);
int stream_ulog_delete(stream_ulog *l, sql_batch *keys, pthread_mutex_t *mu);

/* The live rows, a batch at a time, handed to fn (taken): the view's columns, and
 * with keys their key's after them.  The caller holds the view's mutex or is the
 * writer. */
int stream_ulog_read(const stream_ulog *l, bool keys, int (*fn)(void *arg, sql_batch *b),
                     void *arg);

/*
 * Followers (a job reading the view as a stream; the caller holds the view's
 * mutex for each call).  follow: the live rows to fn (keyed: each with its key's
 * columns after it), and *pos set after them; again: a follower that was
 * overrun takes them again from its old *pos, a keyed one after the keys that
 * have no live row now, to gone (it may have passed on a row of one of them).
 * follow_next: the next change after *pos (shared; NULL: none yet), or
 * *overrun when the log dropped changes the follower had not read (call follow
 * again).  Keyed, a change is an upsert's rows with their keys (*kind
 * STREAM_ULOG_UPSERT) or a deletion's keys (STREAM_ULOG_DELETE); unkeyed, an
 * upsert's rows only, and deletions are skipped.  unfollow: the follower at
 * pos leaves.
 */
int stream_ulog_follow(stream_ulog *l, int64_t *pos, bool again, bool keyed,
                       int (*gone)(void *arg, sql_batch *b), int (*fn)(void *arg, sql_batch *b),
                       void *arg);
int stream_ulog_follow_next(stream_ulog *l, int64_t *pos, bool keyed, sql_batch **out,
                            int *kind, bool *overrun);
void stream_ulog_unfollow(stream_ulog *l, int64_t pos);

/* A stream_ulog_read callback: b appended to the rows of arg (an ftab). */
int stream_ulog_into_ftab(void *arg, sql_batch *b);

/* A new batch of n columns of the given types sharing src's from column `from`. */
int stream_ulog_share(const sql_batch *src, int from, int n, const sql_type *types,
                      sql_batch **out);
/* b (taken) cut after column ncols: the row's columns and the key's. */
int stream_ulog_split(sql_batch *b, int ncols, sql_batch **rows, sql_batch **keys);

#endif
