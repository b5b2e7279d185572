/*
 * job.h - one continuous statement being run: what job.c (the plan taken
 * apart, the sink) and worker.c (partitioned workers, exchange, merge) share.
 *
 * Threads: N workers (worker.c) and the calling thread, which merges what
 * the workers emit and writes the sink.  Fields above "running" are set
 * before the workers start and only read after; a stream_wk belongs to its
 * worker alone (the merger reads its counters after joining it).
 */
#ifndef SL_STREAM_JOB_H
#define SL_STREAM_JOB_H

#include "sql/exec/hashtab.h"
#include "stream/ring.h"
#include "stream/session.h"
#include "stream/spans.h"
#include "stream/stream_int.h"

#include <pthread.h>

#define STREAM_MAX_CHAIN 16

typedef struct stream_job stream_job;

typedef struct open_win {
    int64_t start, end;
    sql_aggtab *t;
    int64_t mem;             /* t's bytes as last counted into its worker's tabs_mem */
} open_win;

/* Which groups of an owner's table a sink's log holds (a bit per group id): a
 * group HAVING drops is deleted only if the log may have it. */
typedef struct stream_kept {
    uint8_t *bits;
    size_t cap;              /* bytes */
    bool assume_in;          /* resumed: any group may be in the log (bits unknown) */
} stream_kept;

/* What one worker owns: its reading state (splits, the stateless part) and its
 * share of the keys (open windows). */
typedef struct stream_wk {
    stream_job *j;
    int id;
    pthread_t th;
    bool started;
    stream_bell bell;        /* rung when its inputs get a message or its outputs room */
    /* reading */
    sql_ectx cx;             /* the scan's pushed filter, partition keys */
    sql_err err;
    arena scratch, pscratch;
    uint32_t *sel;
    int64_t sel_cap;
    uint32_t *rows;          /* window assignment: source row of each output row */
    int64_t *starts;
    int64_t rows_cap;
    sql_ht hk;               /* only its hash function: the partition keys' types */
    bool hk_on;
    int chunk;               /* the split being read */
    int64_t wm;              /* the reader's watermark after its last batch */
    open_win *lwins;         /* local-global aggregation (j->preagg): its own rows'
                                partial tables per window, sorted by start */
    int nlwins, lwins_cap;
    uint64_t rows_x, parts_x; /* rows and partial tables sent to other owners */
    uint64_t rows_read, late, bad;
    bool max_seen;
    int64_t max_ns;
    sql_batch **ahead;       /* a split read ahead: its batches, late rows kept */
    struct ahead_pos *ahead_pos; /* ... with checkpoints: where the reader was after
                                each (worker.c) */
    int nahead, ahead_cap, ahead_at;
    bool ahead_on;           /* ... being served (ahead_next) */
    uint32_t *keep;          /* ... the on-time rows of one batch */
    int64_t keep_cap;
    int prefix;              /* splits before it published: their largest event time */
    bool pre_seen;
    int64_t pre_max;
    stream_wm lw;            /* ... the watermark of the split read ahead */
    uint64_t split_late;     /* ... its late rows so far (into late at its end) */
    stream_sink_fmt *sfmt;   /* append-only job, file sink: its rows formatted here */
    size_t fmt_row_bytes;    /* ... bytes a row in the last batch (the next one's guess) */
    /* owning */
    open_win *wins;          /* sorted by start (and so by end) */
    int nwins, wins_cap;
    int64_t *in_wm;          /* per producer: its last watermark */
    int ndone;               /* producers done */
    int64_t owner_wm;        /* windows ending at or before it are closed */
    int64_t closing_end;     /* the window being read out */
    int64_t mem;             /* its windows' state, accounted in j->state_mem */
    int64_t tabs_mem;        /* ... of it, its window tables' (each open_win.mem) */
    bool closing;            /* in close_windows: results pushed without waking the merger */
    bool merger_owed;        /* ... and some were (it rings once they are all in) */
    stream_sessions *ss;     /* session windows: its keys' open sessions */
    stream_kept ukept;       /* a sink's log with op_column: the groups it holds (a job
                                keyed by an update view: the keys its sink holds) */
    sql_ht *ukeys_ht;        /* a job keyed by an update view: its keys' ids (the reader's) */
    struct stream_uagg *uagg; /* ... with a GROUP BY: each key's row, groups (uagg.h) */
    const struct stream_wk_outs *kto; /* ... where its changes go (worker.c's) */
    int64_t uagg_mem;        /* ... its bytes, accounted in j->state_mem */
    sql_aggtab *cur;         /* the closing session's table */
    sql_err oerr;            /* a closing session's failure */
    /* checkpoints (ckpt_job.c): the barrier protocol of worker.c */
    uint64_t ck_sent;        /* reading half: the last barrier it sent */
    int32_t ck_chunk;        /* ... the split it was reading then (>= splits: none) */
    bool ck_has_pos;
    stream_reader_pos ck_pos; /* ... and where */
    uint64_t *bar_in;        /* owning half: per producer, its last barrier */
    bool *p_done;            /* ... producers done */
    uint64_t ck_align;       /* the barrier being aligned (0: none) */
    int32_t rs_chunk;        /* recovery: the split to go on from, and where in it */
    bool rs_has_pos;
    stream_reader_pos rs_pos;
    /* a job over telemetry with checkpoints (worker.c's read_live): the blocks it
     * took, delivered at or after its last checkpoint time (ckpt_job.c's live-I) */
    stream_live_done *live;
    int64_t nlive, live_cap;
    int64_t ck_live_low;     /* reading half: its checkpoint time at the last barrier */
    /* ... without an aggregation: what the merger saves, as it was at the barrier
     * (the reader goes on; it takes no other barrier before that one is committed) */
    stream_live_done *ck_live;
    int64_t ck_nlive, ck_live_cap;
    uint64_t ck_read, ck_late;
    int64_t ck_wm;
    int64_t rs_live_low;     /* recovery: the checkpoint's (what it replays from) */
    int64_t live_floor;      /* replaying: the insert time of its next block */
    stream_live_done *replayed; /* replayed (sorted), until the last maybe-seen block */
    int64_t nreplayed, replayed_cap;
    /* ... over thread_spans: its streams' states after the blocks it took (live.h),
     * and as they were at its last barrier (live-I's) */
    stream_spans *spans;
    dbuf ck_spans;
} stream_wk;

/* A worker's figures while the job runs (worker.c publishes them, exec.c makes them). */
struct stream_pub {
    _Atomic uint64_t read, late;
    _Atomic int64_t wm;
};

struct stream_job {
    stream_run *r;
    sql_query *q;
    sql_err *e;
    stream_table *src;
    const stream_win *win;
    sql_op *scan;
    sql_op *pre[STREAM_MAX_CHAIN], *post[STREAM_MAX_CHAIN]; /* bottom to top */
    int npre, npost;
    sql_op *agg;
    int win_col;             /* the aggregation's input column holding the window */
    bool win_is_end;         /* ... its window_end (else window_start) */
    int pkeys[STREAM_MAX_KEYS]; /* aggregation keys that pick a row's owner */
    int src_keys[STREAM_MAX_KEYS]; /* ... the source columns they are (sessions) */
    int key_src[STREAM_MAX_KEYS]; /* per aggregation key, the source column it is (src->ncols:
                                     window_start, + 1: window_end; -1: computed) */
    int npkeys;
    /* sessions keep source rows, with the keys that are expressions computed
     * after the source's columns (job.c source_expr) */
    const sql_expr *sess_x[STREAM_MAX_KEYS]; /* ... those keys over the source's columns */
    int nsess_x;
    int sess_cols[STREAM_MAX_KEYS]; /* ... per partition key, its column in a kept row */
    int key_kept[STREAM_MAX_KEYS]; /* ... per aggregation key, the same (-1: a window column) */
    int sess_ncols;          /* ... a kept row's columns and their types */
    const sql_type *sess_types;
    bool on_update;          /* emit = 'on_update': an upsert log of changed groups */
    bool log_to_sink;        /* ... written to the sink (a file, a table, ...) */
    bool ulog;               /* ... into a view's upsert log, keyed (ulog.c): */
    int ukeys;               /* ... key columns (the GROUP BY's; 1 for none: a constant) */
    bool ukey_const;         /* ... a GROUP BY of no column */
    sql_type *ustage[STREAM_MAX_CHAIN + 1]; /* ... the aggregation's and each post stage's
                                               columns, and a row number after them */
    sql_type *uout;          /* ... an update's columns: the view's, then the key's */
    bool join_refused;       /* analysis stopped at a join that is not a lookup */
    bool ukeyed;             /* reads a view with emit = 'on_update' with its keys and
                                deletions: a filter or projection of it (keyed by the
                                view's key), or a GROUP BY over it (uagg.h) */
    sql_type *upre[STREAM_MAX_CHAIN + 1]; /* ... the scan's and each pre stage's columns,
                                             and a row number after them */
    bool sink_deletes;       /* a sink's log with op_column: keyed the same way, and a
                                group its HAVING stops keeping is deleted */
    int *ukey_out;           /* ... per output column, the key it carries (-1: none) */
    bool interleave;         /* kafka without an aggregation on several workers: each
                                reads its partitions, the merger writes rows as they
                                come (a partition's in order), checkpoints aligned */
    bool ahead;              /* splits read ahead (no first pass, line numbers counted
                                from each split's start; see read_ahead) */
    bool preagg;             /* every key a window column, the aggregates combine: each
                                worker aggregates its rows into partial tables and ships
                                them (STREAM_MSG_PARTIAL) to the window's owner */
    stream_sink *sink;
    bool winjoin;            /* local to windows: run window by window (winjoin.c) */
    bool ijoin;              /* an interval join of two streams (ijoin.c) */
    const char *text;        /* the statement */
    /* running */
    int nw;
    stream_wk *w;
    stream_ring *x;          /* nw * nw: x[p * nw + o] from producer p to owner o */
    stream_ring *out;        /* nw: worker to the merger */
    stream_bell bell;        /* the merger's */
    stream_file *file;
    stream_split *splits;
    int nsplits;
    pthread_mutex_t mu;      /* new window tables (the query's arena); the first failure;
                                the first pass's barrier */
    pthread_cond_t first_done;
    int first_arrived;       /* workers done with the first pass */
    _Atomic int failed;
    int fail_chunk;          /* the failure's split (line order decides which is reported) */
    sql_err ferr;
    _Atomic int64_t state_mem;
    _Atomic int64_t state_peak; /* the most state_mem was (the --stats file's) */
    int64_t ulog_mem;        /* merger: the view's upsert log's part of state_mem */
    /* figures while it runs (a server's jobs table): each worker's rows read and late
     * so far and its reader's watermark, published once a batch; pub_nw is set
     * (release) once they exist.  Freed with the job (stream_job_free). */
    struct stream_pub *pub;
    _Atomic int pub_nw;
    /* checkpoints (NULL ckpt: none) */
    struct stream_ckpt *ckpt;
    uint64_t ckpt_hash;
    uint64_t sink_tag;       /* a table sink's rows: tagged with it (non-zero; the same for
                                every run of the statement as this job) */
    int64_t ckpt_interval_ms;
    int64_t ckpt_next_ms;    /* merger: when to ask for the next */
    _Atomic uint64_t ckpt_req; /* the checkpoint asked for (the merger's) */
    uint64_t ckpt_done;      /* merger: the last one finished (taken or given up) */
    int ckpt_barriers;       /* merger: owners whose barrier ckpt_req arrived */
    bool *ckpt_held;         /* merger: per owner, its ring held until the rest arrive */
    struct stream_ckpt_writer *ckw; /* the thread that writes them (NULL: written in place) */
    bool resuming;
    const char *log_name;    /* a server's job: its name in the server's log (NULL: stderr) */
    struct stream_ckpt_manifest *resume; /* the manifest recovered from */
    /* on a server (jobs.c): a telemetry source's subscription (read instead of a file),
     * and a flag that ends the input early (a stopped job ends as if its input had) */
    stream_live *live;
    _Atomic int *stop;
    /* a server shutting down (set before stop): the job ends as after a crash, no
     * checkpoint committed from then on (its end would count as the input's) and
     * the sink left uncommitted, so a restart resumes from the last one */
    _Atomic int *abort;
    /* a join of two streams: each source's figures while it runs (jobs.c reads
     * the first nsrc_pub, published with release) */
    stream_src_pub src_pub[STREAM_SERVE_MAX];
    _Atomic int nsrc_pub;
};


/* job.c: the statement planned and taken apart, its sink open and its operators
 * prepared for *nw workers (j filled even on failure: stream_job_free it). */
int stream_job_plan(stream_run *r, const char *text, const PgQuery__Node *st, stream_job *j,
                    int *nw, sql_err *e);
void stream_job_free(stream_job *j);
/* A new slot of j->src_pub for source t (NULL when they are all taken: its
 * figures are then not shown while it runs), published for jobs.c. */
stream_src_pub *stream_job_src_pub(stream_job *j, const stream_table *t);
/* splits.c: where each split of a worker starts (its essay has the stages). */
bool stream_prefix_ready(stream_wk *w, int c);       /* every split before c published */
int stream_keep_all(stream_wk *w, stream_reader *rd, sql_err *e); /* rd's batches kept */
void stream_ahead_free(stream_wk *w);                /* the kept batches not served */
/* The next kept batch, its late rows dropped and counted; NULL at the end. */
int stream_ahead_next(stream_wk *w, sql_batch **out, int64_t *wm, sql_err *e);
void stream_ahead_place(const stream_wk *w, stream_reader_pos *p); /* for a barrier */
void stream_split_publish(stream_wk *w, int c, size_t next); /* seen, max_ns set */
int stream_first_pass(stream_wk *w, sql_err *e);
int stream_resume_pass(stream_wk *w, sql_err *e);
/* winjoin.c: a job with winjoin set, run until its bounded sources end. */
int stream_winjoin_exec(stream_job *j, int nw);
/* ijoin.c: a job with ijoin set, run until its bounded sources end. */
int stream_ijoin_exec(stream_job *j, int nw);
/* A driver's state of mem bytes against work_mem: 53200 (detail: what needs more)
 * past it. */
int stream_state_check(stream_job *j, int64_t mem, const char *what, sql_err *e);
/* Adds d bytes to the job's state (state_mem, its peak in state_peak); the new total. */
int64_t stream_state_add(stream_job *j, int64_t d);


/* ckpt_job.c: checkpoints of a job (docs/internals/stream.md "Checkpoints"). */
/* Before planning: the store opened (*ck; NULL when no directory is configured)
 * and the newest checkpoint of this statement read into *m (*found; then
 * r->sink_resume is set from it). */
int stream_ckpt_job_open(stream_run *r, const char *text, struct stream_ckpt **ck,
                         struct stream_ckpt_manifest *m, bool *found, sql_err *e);
/* A server job's checkpoints in the server's store, under
 * STREAM_CKPT_SERVER_PREFIX + its name (its view's or sink's). */
#define STREAM_CKPT_SERVER_PREFIX "stream/checkpoints/"
struct objstore;
int stream_ckpt_server_open(stream_run *r, struct objstore *os, const char *name,
                            const char *text, struct stream_ckpt **ck,
                            struct stream_ckpt_manifest *m, bool *found, sql_err *e);
/* Removes a server job's checkpoints (it was dropped). */
void stream_ckpt_server_clear(struct objstore *os, const char *name);
/* After planning: whether the plan can be checkpointed (else checkpoints are
 * off for this job, with a notice on stderr); resuming, a view sink gets the
 * contents the checkpoint saved back. */
int stream_ckpt_job_check(stream_job *j, sql_err *e);
/* Says that the job resumes from its checkpoint (on stderr, or a server's log with
 * j->log_name): once every check passed and the workers' parts are restored. */
void stream_ckpt_resumed(const stream_job *j);
/* Worker setup on recovery: its part read back into its windows and position. */
int stream_ckpt_worker_restore(stream_wk *w, sql_err *e);
/* ... a job over telemetry: its live-I object read back (the blocks it took, and
 * its checkpoint time). */
int stream_ckpt_live_restore(stream_wk *w, sql_err *e);
/* A worker aligned on barrier seq: its part written. */
int stream_ckpt_worker_save(stream_wk *w, uint64_t seq, sql_err *e);
/* Merger: checkpoint seq committed (sink synced, manifest published). */
/* The checkpoint writer: one thread per job with checkpoints that puts the
 * workers' parts and the view's rows and then commits (the sink flushed to disk,
 * the manifest published) in the order they were handed over, so that no reader,
 * owner or merger waits for the store.  The merger asks for the next checkpoint
 * only when the writer is idle (no commit pending); a failure of the writer fails
 * the job (stream_ckpt_writer_failed: 0, or SL_EIO with its error).  stop drains
 * it and must come before the sink closes. */
/*
 * A join of two streams (winjoin.c, ijoin.c): source i's part of checkpoint seq
 * (its reader's place, its watermark, next: what the join keeps with it, and
 * the rows of nsets row sets, at(arg, k) the k-th); and, resuming, the part put
 * back: the reader at its place, s->wm and *next set, the rows handed to fn (a
 * batch at a time, taken).
 */
typedef const sql_rows *(*stream_rows_at)(void *arg, int k);
/* The join's checkpoints: begin (nw workers, nsrc sources, each a part), due
 * (one is due), commit (after the parts, unless rc: the manifest). */
void stream_ckpt_join_begin(stream_job *j, int nw, int nsrc);
bool stream_ckpt_join_due(const stream_job *j);
int stream_ckpt_join_commit(stream_job *j, uint64_t seq, int rc, sql_err *e);
/* An interleaved job (kafka without an aggregation): reader w's part of checkpoint
 * seq, written by the merger once every reader's barrier arrived (chunk: the split
 * it was reading, >= splits: none left; pos where it stood). */
/* A job over telemetry without an aggregation: reader w's part and live-I of
 * checkpoint seq, from what it kept at its barrier (done: it has ended, its
 * figures as they are). */
int stream_ckpt_live_reader_save(stream_job *j, uint64_t seq, int w, bool done, sql_err *e);
/* ... over thread_spans: worker w's states now (after every block in its list) kept
 * as those its next live-I saves (0 without them). */
int stream_ckpt_spans_keep(stream_wk *w, sql_err *e);
int stream_ckpt_reader_save(stream_job *j, uint64_t seq, int w, int32_t chunk, bool has_pos,
                            const stream_reader_pos *pos, sql_err *e);
int stream_ckpt_source_save(stream_job *j, uint64_t seq, int i, const stream_source *s,
                            int64_t next, int nsets, stream_rows_at at, void *arg, sql_err *e);
int stream_ckpt_source_restore(stream_job *j, int i, stream_source *s, int64_t *next,
                               int (*fn)(void *arg, sql_batch *b), void *arg, sql_err *e);
/* winjoin.c: whether a join of two streams (of windows, or an interval join)
 * can take checkpoints: its sources are files (followed or not). */
bool stream_join_resumable(const stream_job *j);
int stream_ckpt_writer_start(stream_job *j, sql_err *e);
int stream_ckpt_writer_stop(stream_job *j, sql_err *e);
int stream_ckpt_writer_failed(stream_job *j, sql_err *e);
bool stream_ckpt_writer_idle(stream_job *j);
int stream_ckpt_job_commit(stream_job *j, uint64_t seq, int32_t chunk, bool has_pos,
                           const stream_reader_pos *pos, sql_err *e);
/* After the job: the checkpoints removed when it ended well; the store closed. */
void stream_ckpt_job_close(stream_job *j, bool ok);
int64_t stream_ckpt_now_ms(void);
/* exec.c: reads the source on nw workers and writes the sink (j planned, its sink
 * open); the sink is not committed. */
int stream_job_exec(stream_job *j, int nw);
/* worker.c: a worker's thread (arg: its stream_wk), started by stream_job_exec. */
void *stream_worker_main(void *arg);
/* worker.c: records a failure of split `chunk` (INT32_MAX: not a reader's) and
 * wakes every waiter; the earliest split's failure is the one reported. */
void stream_job_fail(stream_job *j, int chunk, const sql_err *e);
/* job.c: a job into view v with emit = 'on_update': the types its owners need,
 * and v's log (ulog.h; freed with the view); 0A000 for a post chain that is not
 * FILTER / PROJECT.  upost.c: res (taken), the aggregation's output rows of some
 * groups (keys, then the aggregates; sql_aggtab_peek or _next), through the post
 * chain as worker w; the rows that pass go to out with their keys as `kind`
 * (STREAM_ULOG_UPSERT or _FINAL), the keys of those HAVING dropped as
 * STREAM_ULOG_DELETE. */
int stream_ulog_prepare(stream_job *j, stream_view *v, sql_err *e);
int stream_ulog_post(stream_job *j, int w, sql_batch *res, int kind,
                     int (*out)(void *arg, sql_batch *b, int kind), void *arg, sql_err *e);
/* stream_ulog_post for a sink's log: gids[i] is the group id of res's row i;
 * deletions only of the groups kb says the log holds (kb is kept up to date). */
int stream_ulog_post_kept(stream_job *j, int w, sql_batch *res, const uint32_t *gids,
                          stream_kept *kb, int (*out)(void *arg, sql_batch *b, int kind),
                          void *arg, sql_err *e);
/* A job keyed by the update view it reads (ukeyed): b (taken) widened by each
 * row's number (0, 1, ...), as the first stage of the pre chain (upre[0]). */
int stream_ulog_number(stream_job *j, sql_batch *b, sql_batch **out);
/* ... *cur (taken: numbered rows of the scan) through the pre chain: the rows
 * that pass, each with its number (NULL: none). */
int stream_ulog_pre(stream_job *j, int w, sql_batch **cur, sql_err *e);
/* ... keys (taken; gids: their ids in kb) deleted: to out as STREAM_ULOG_DELETE,
 * with kb those only that kb says the sink holds (their bits cleared). */
int stream_ulog_drop(sql_batch *keys, const uint32_t *gids, stream_kept *kb,
                     int (*out)(void *arg, sql_batch *b, int kind), void *arg);
/* ... cur (taken: the scan's rows numbered, through the scan's filter; NULL:
 * none) through the pre chain as worker w: the rows that pass go to out with
 * their keys (keys: one row per number; gids their ids) as STREAM_ULOG_UPSERT, and
 * the keys of the others as STREAM_ULOG_DELETE, those only that kb says the
 * sink holds. */
int stream_ulog_pass(stream_job *j, int w, sql_batch *cur, const sql_batch *keys,
                     const uint32_t *gids, stream_kept *kb,
                     int (*out)(void *arg, sql_batch *b, int kind), void *arg, sql_err *e);
/* Session windows: the upsert log keys (the GROUP BY's values) of sessions given
 * by a source row of each (rows) and each one's start and end (se, 2 a row). */
int stream_ulog_session_keys(const stream_job *j, const sql_batch *rows, const int64_t *se,
                             sql_batch **keys);
/* The figures of a running job (its workers' published ones): rows read and late
 * so far, and the smallest watermark of the workers still reading (STREAM_WM_NONE:
 * none yet).  Zeros before its workers start. */
void stream_job_live_figures(stream_job *j, uint64_t *read, uint64_t *late, int64_t *wm);

static inline bool stream_job_failed(const stream_job *j)
{
    return atomic_load_explicit(&j->failed, memory_order_acquire) != 0;
}

/* wintab.c: a worker's window tables.  Its windows' state into j->state_mem
 * (53200 past work_mem). */
int stream_wk_account(stream_wk *w, sql_err *e);
/* wintab.c: the scan's rows of a source batch (one per window holding a row;
 * session: its start and end), and *b (taken) replaced by its rows the scan's
 * pushed filter keeps (NULL: none). */
int stream_wk_scan_rows(stream_wk *w, sql_batch *in, const int64_t *session, bool per_row,
                        sql_batch **out);
int stream_wk_scan_filter(stream_wk *w, sql_batch **b, sql_err *e);
/* What leaves a worker for the merger (worker.c's; b taken): a GROUP BY's changed
 * rows through the post chain, an update of a view's log, of a sink's log with
 * op_column (kind: STREAM_ULOG_*). */
typedef struct stream_wk_outs {
    int (*update)(void *arg, int wid, sql_batch *b, sql_err *e);
    int (*ulog)(void *arg, sql_batch *b, int kind);
    int (*sink_log)(void *arg, sql_batch *b, int kind);
} stream_wk_outs;
/* keyed.c: a batch of a job reading an update view with its keys (in taken), what
 * leaves going to `to`; and the reading worker's state freed. */
int stream_keyed_push(stream_wk *w, sql_batch *in, const stream_wk_outs *to, sql_err *e);
void stream_keyed_free(stream_wk *w);
/* A window's table changed (counted: its bytes into w->tabs_mem, kept in ow->mem),
 * or leaves the worker's windows (uncounted: its last count out).  Every change
 * of a table in wins or lwins is counted before stream_wk_account, so that
 * accounting costs the same with one open window as with thousands. */
void stream_wk_counted(stream_wk *w, open_win *ow);
void stream_wk_uncounted(stream_wk *w, open_win *ow);
/* The open window starting at start among its own (local: its partial tables):
 * made if new, with table t when given (taken; else a new one), and *fresh set;
 * NULL with e set. */
open_win *stream_wk_window(stream_wk *w, bool local, int64_t start, sql_aggtab *t, bool *fresh,
                           sql_err *e);
/* A producer's partial table of the window starting at start (t taken): the
 * window's table if it has none yet, else combined into it. */
int stream_wk_take_partial(stream_wk *w, int64_t start, sql_aggtab *t, sql_err *e);
/* A batch's rows grouped by window: the windows' starts in order of first
 * appearance (start[k]), and the row numbers of window k in row order at
 * rows[end[k - 1] .. end[k]) (from 0 for k = 0).  win_col: the column holding
 * the window (-1: one window, start 0); off: subtracted from it (a window_end
 * column: the size).  One pass each way, however many windows the batch holds.
 * SL_ENOMEM with nothing to free. */
typedef struct stream_bywin {
    int64_t *start, *end;
    uint32_t *rows;
    int64_t nwins;
} stream_bywin;
int stream_rows_by_window(const sql_batch *b, int win_col, int64_t off, stream_bywin *g);
void stream_bywin_free(stream_bywin *g);
/* The owner of the window starting at start: the worker its rows would go to (the
 * hash of its keys, every one a window column), so a job's windows have the same
 * owners with partial tables as with rows. */
int stream_wk_win_owner(stream_wk *w, int64_t start, int *owner);
/* Local-global aggregation fits when every partition key is a window column (all
 * of a window's rows would go to one owner), windows close (no updates), and the
 * aggregates combine. */
bool stream_preagg_fits(const stream_job *j, int nw);

/* merge.c: the merger, on the calling thread: closed windows' results in
 * window_end order, or an append-only job's rows in split order, into the sink. */
int stream_merge_windows(stream_job *j, sql_err *e);
int stream_merge_splits(stream_job *j, sql_err *e);

#endif
