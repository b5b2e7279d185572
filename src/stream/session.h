/*
 * session.h - session windows of one owner (session.c has the algorithm).
 */
#ifndef SL_STREAM_SESSION_H
#define SL_STREAM_SESSION_H

#include "base/dbuf.h"
#include "sql/exec/vec.h"
#include "sql/front/error.h"
#include "stream/window.h"

#define STREAM_SESSION_MAX_KEYS 64

typedef struct stream_sessions stream_sessions;

/* Sessions of gap_ns over rows of batches whose event time is column time_col,
 * per key of the columns key_cols (types key_types). */
int stream_sessions_new(int64_t gap_ns, int time_col, const int *key_cols, int nkeys,
                        const sql_type *key_types, stream_sessions **out);
void stream_sessions_free(stream_sessions *ss);
/* Rows (b taken) into their keys' sessions (rows without an event time dropped). */
int stream_sessions_add(stream_sessions *ss, sql_batch *b);
/* A closed session: its start, end and rows (rows taken). */
typedef int (*stream_session_fn)(void *arg, int64_t start_ns, int64_t end_ns, sql_batch *rows);
/* Hands out every session the watermark closed (wm > end), in order of end (fn
 * NULL: they are only dropped). */
int stream_sessions_close(stream_sessions *ss, int64_t wm, stream_session_fn fn, void *arg);
/*
 * emit = 'on_update': track makes the sessions remember what changed since the
 * last updates.  updates hands out, first, one row of each session identity
 * that no longer exists (grown or merged away) to gone, then every row of each
 * session a batch created, extended or merged to changed, each row with its
 * session's (start, end) in se (2 values a row); neither called when it has no
 * row.  Rows are copies (the sessions keep theirs), taken by fn.
 */
typedef int (*stream_session_rows_fn)(void *arg, sql_batch *rows, const int64_t *se);
void stream_sessions_track(stream_sessions *ss);
int stream_sessions_updates(stream_sessions *ss, stream_session_rows_fn gone,
                            stream_session_rows_fn changed, void *arg);
/* Checkpoints: the rows of the open sessions, each once, in the order closing
 * would hand them out, as checkpoint rows (stream_ckpt_rows_head/row). */
int stream_sessions_save(stream_sessions *ss, dbuf *out);
/* Saved rows (of ncols columns of types) put back into empty sessions: the same
 * open sessions as when saved.  0, or e set (XX001: damaged bytes). */
int stream_sessions_load(stream_sessions *ss, const uint8_t *p, size_t n, int ncols,
                         const sql_type *types, sql_err *e);
/* Bytes held (kept rows, the key table). */
int64_t stream_sessions_mem(const stream_sessions *ss);

#endif
