/*
 * checkpoint.h - a job's checkpoints in an object store: what every worker
 * held at an aligned barrier (its reading position, its open windows' state)
 * and the manifest that makes them one checkpoint, with the sink's committed
 * length.  docs/internals/stream.md ("Checkpoints") has the byte tables; this
 * file's encoders and decoders are their only implementation.
 *
 * Objects (keys relative to the store, J the job's number in its script):
 *   job-J/S/worker-I      worker I's part of checkpoint S (20 digits)
 *   job-J/S/view          a materialized view's contents at S (rows)
 *   job-J/S/live-I        a job over telemetry: the blocks worker I took
 *   job-J/S/gauges        a job writing a metrics sink: its gauges at S
 *   job-J/manifest-S      the commit: written last, create-only; recovery
 *                         reads the newest manifest, and parts without one are
 *                         garbage (replaced when the same S is taken again)
 */
#ifndef SL_STREAM_CHECKPOINT_H
#define SL_STREAM_CHECKPOINT_H

#include "base/dbuf.h"
#include "stream/stream_int.h"

#define STREAM_CKPT_VERSION 13 /* 13: float sum/avg states hold an exact sum (80
                                 bytes), float variances two (144 bytes); the 16
                                 and 24 bytes of before are converted as read;
                                 12: a job over thread_spans ends its live-I
                                 objects with its streams' open spans (no other
                                 byte changed);
                                 11: a job writing a metrics sink writes a gauges
                                 object (no other byte changed);
                                 10: a job over telemetry writes a live-I object per
                                 worker (the blocks it took; no other byte changed);
                                 9: a file's splits are cut at line breaks and checked
                                 as read (no byte changed: a resumed job cuts them as
                                 they were read, STREAM_CUT_AS_CHECKED; before 9 they
                                 were cut where records end);
                                 8: aggregation states of DISTINCT, ORDER BY inside
                                 a call and the percentiles (jobs that took none before);
                                 7: a followed file's file size is the bytes its splits
                                 were cut from, which a resumed job cuts again (no byte
                                 changed); 6: a join of two streams writes a part per source (no byte
                                 changed: docs/internals/stream.md); 5: a file position of a job reading splits ahead counts
                                 lines from its split's start (no byte changed); 4: a
                                 view with emit = 'on_update' saves its rows with their
                                 keys; 3: the manifest's sink run (table sinks); 2: kafka
                                 partitions in a position, a worker part's sessions; 1
                                 to 7 are still read */
#define STREAM_CKPT_MAX_BYTES ((size_t)1 << 31) /* an object read back: the cap */

typedef struct stream_ckpt_manifest {
    uint64_t seq;
    uint64_t job_hash;       /* FNV-1a 64 of the statement's text */
    uint64_t file_size;      /* the source file's bytes */
    uint32_t nworkers, nsplits;
    uint64_t sink_bytes;     /* the sink's part file: bytes committed; a table sink: the
                                segments it published (numbered 0 .. sink_bytes - 1) */
    int32_t chunk;           /* no aggregation: the split of the merger's cut; else -1 */
    bool has_pos;            /* ... and the reader's position in it */
    stream_reader_pos pos;
    uint64_t sink_run;       /* version 3: a table sink's run (its segments' tag); else 0 */
    uint16_t version;        /* the manifest's (decoded; encoding writes the current one) */
} stream_ckpt_manifest;

typedef struct stream_ckpt_win {
    int64_t start, end;
    const uint8_t *state;    /* sql_aggtab_save's bytes (into the decoded object) */
    uint32_t len;
} stream_ckpt_win;

/* A worker's part: its reading half at the barrier, its owning half after it. */
typedef struct stream_ckpt_worker {
    uint64_t seq;
    uint32_t worker;
    int32_t chunk;           /* the split it was reading (>= splits: none left) */
    bool has_pos;
    stream_reader_pos pos;
    uint64_t rows_read, late, bad; /* of its splits before chunk */
    bool max_seen;
    int64_t max_ns;
    int64_t wm;              /* its reader's last watermark */
    int64_t owner_wm;
    uint32_t nprod;
    int64_t *in_wm;          /* nprod (allocated) */
    uint32_t nwins;
    stream_ckpt_win *wins;   /* nwins (allocated) */
    const uint8_t *sessions; /* version 2: stream_sessions_save's bytes (into the object) */
    uint32_t sessions_len;   /* 0: the job has no session windows */
} stream_ckpt_worker;

int stream_ckpt_manifest_encode(const stream_ckpt_manifest *m, dbuf *out);
/* 0, or SL_EINVAL for bytes that are not a manifest of this version. */
int stream_ckpt_manifest_decode(const uint8_t *p, size_t n, stream_ckpt_manifest *m);
/* The part with no windows; then stream_ckpt_worker_win per window (its state
 * appended by the caller after it, then stream_ckpt_worker_win_done), then
 * stream_ckpt_worker_sessions (the session state appended after it, then
 * stream_ckpt_worker_win_done with its len_at), then stream_ckpt_worker_finish. */
int stream_ckpt_worker_begin(const stream_ckpt_worker *w, dbuf *out);
int stream_ckpt_worker_win(dbuf *out, int64_t start, int64_t end, size_t *len_at);
void stream_ckpt_worker_win_done(dbuf *out, size_t len_at);
int stream_ckpt_worker_sessions(dbuf *out, size_t nwins_at, uint32_t nwins, size_t *len_at);
int stream_ckpt_worker_finish(dbuf *out);
/* 0, SL_EINVAL (not a part), SL_ENOMEM; w points into p; free with ..._free. */
int stream_ckpt_worker_decode(const uint8_t *p, size_t n, stream_ckpt_worker *w);
void stream_ckpt_worker_free(stream_ckpt_worker *w);

/*
 * A job over telemetry (version 10): what worker I took of the blocks ingested
 * from low_ns on (insert times).  Every block inserted before low_ns that its
 * streams route to it was taken before the barrier; of the later ones, exactly
 * those listed (with when they were delivered, at_ns: at least their insert
 * time) were.  A resumed job replays the others (source_telemetry.c).
 */
typedef struct stream_ckpt_live {
    uint64_t seq;
    uint32_t worker;
    int64_t low_ns;
    uint32_t n;
    stream_live_done *done;  /* n (decode: allocated, free with sl_free) */
    /* version 12, a job over thread_spans: its streams' states (stream_spans_save's
     * bytes; decode: into p) */
    bool has_spans;
    const uint8_t *spans;
    uint32_t spans_len;
} stream_ckpt_live;
int stream_ckpt_live_encode(const stream_ckpt_live *l, dbuf *out);
/* 0, SL_EINVAL (not such an object of version 10 or later), SL_ENOMEM. */
int stream_ckpt_live_decode(const uint8_t *p, size_t n, stream_ckpt_live *l);

/* A metrics sink's gauges (version 11): the header, stream_gauges_save's bytes,
 * the CRC; open checks all but the body (stream_gauges_load's) and points into p. */
int stream_ckpt_gauges_begin(uint64_t seq, dbuf *out);
int stream_ckpt_gauges_finish(dbuf *out);
int stream_ckpt_gauges_open(const uint8_t *p, size_t n, uint64_t *seq, const uint8_t **body,
                            size_t *len);

uint64_t stream_ckpt_hash(const char *text);

/* Rows in a checkpoint (session state, a view's contents; docs/internals/stream.md
 * "Rows"): u32 rows, u32 columns, then per row and column a byte 1 (NULL) or 0,
 * u32 length and the value's text (its type's output function). */
int stream_ckpt_rows_head(dbuf *out, uint32_t nrows, uint32_t ncols);
/* Row r of b (txt: scratch). */
int stream_ckpt_row(dbuf *out, const sql_batch *b, int64_t r, dbuf *txt);
/* Rows of ncols columns (types) read back, handed to fn in batches (taken by fn,
 * which returns 0 or SL_ENOMEM).  0, or e set (XX001 for bytes that are not
 * such rows: a count past the bytes, another column count, a value that does
 * not parse, trailing bytes). */
int stream_ckpt_rows_read(const uint8_t *p, size_t n, int ncols, const sql_type *types,
                          int (*fn)(void *arg, sql_batch *b), void *arg, sql_err *e);

/* A job's checkpoints in a local directory (created if missing). */
typedef struct stream_ckpt stream_ckpt;
int stream_ckpt_open(const char *dir, int job, stream_ckpt **out, sql_err *e);
/* A server job's checkpoints: keys under prefix ("stream/checkpoints/NAME", in
 * place of "job-J") of a store the caller keeps open (the server's). */
struct objstore;
int stream_ckpt_open_store(struct objstore *os, const char *prefix, stream_ckpt **out,
                           sql_err *e);
void stream_ckpt_close(stream_ckpt *c);
/* The newest manifest (*found false: none). */
int stream_ckpt_latest(stream_ckpt *c, stream_ckpt_manifest *m, bool *found, sql_err *e);
/* The object name of worker w's part (put with stream_ckpt_put_obj). */
void stream_ckpt_worker_obj(int w, char name[32]);
/* Reads worker w's part of seq into out (decode it from there). */
int stream_ckpt_get_worker(stream_ckpt *c, uint64_t seq, int w, dbuf *out, sql_err *e);
/* Another object of checkpoint seq ("view"), written before its manifest. */
int stream_ckpt_put_obj(stream_ckpt *c, uint64_t seq, const char *name, const dbuf *b,
                        sql_err *e);
int stream_ckpt_get_obj(stream_ckpt *c, uint64_t seq, const char *name, dbuf *out, sql_err *e);
/* Publishes the manifest (create-only), then removes the checkpoints before it. */
int stream_ckpt_commit(stream_ckpt *c, const stream_ckpt_manifest *m, sql_err *e);
/* Removes every object of the job (it ended well). */
void stream_ckpt_clear(stream_ckpt *c);

#endif
