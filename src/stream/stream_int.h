/*
 * stream_int.h - what the files of src/stream share.
 *
 *   catalog.c     CREATE TABLE ... WITH (connector = ...) and materialized views
 *                 as names of the SQL session (the binder's catalog hook), and the
 *                 window table functions tumble and hop
 *   lookup.c      static (lookup) tables: a connector table without
 *                 event_time, scanned whole as a bounded table
 *   source_nexmark.c  the nexmark connector: a generator of the benchmark's
 *                 person, auction and bid streams, read through the file
 *                 connector's interface (splits are ranges of event numbers)
 *   source_kafka.c  the kafka connector (librdkafka): partitions are the
 *                 splits, read through the file connector's interface, and
 *                 the kafka sink
 *   source_view.c  a materialized view read as a stream by a later job
 *                 (INSERT INTO sink SELECT ... FROM mv), through the file
 *                 connector's interface (one split: the view's rows in the
 *                 order its job emitted them)
 *   source_csv.c  the file connector: a file cut into splits, a reader per
 *                 split (rows in line order, lateness and the watermark
 *                 applied at the source), the first pass over a split
 *   sink.c        where a job's rows go: a file (csv), a materialized view
 *   ulog.c        the upsert log of a view with emit = 'on_update' (ulog.h)
 *   job.c         one continuous statement: its plan taken apart into the
 *                 stateless chains and the aggregation (job.h)
 *   worker.c      the statement run on partitioned workers, merged into its sink
 *   ring.c        single-producer rings and doorbells between workers (ring.h)
 *   script.c      a file of statements, the figures, the stats file
 *   window.c      watermark and window arithmetic (window.h)
 *   ijoin.c       interval joins of two streams: kept rows of both sides,
 *                 trimmed by the other side's watermark, partitioned by an
 *                 equality key over threads
 *   winjoin.c     jobs local to windows (joins on window columns, aggregates
 *                 of aggregates): the batch query run over each window's rows,
 *                 windows side by side on a pool, written in order
 *   wholesrc.c    a source read whole in line order for those two, read ahead
 *   serve.c       the rows those two choose, served to the batch engine's scans
 *   checkpoint.c  checkpoint objects' bytes and store (checkpoint.h)
 *   ckpt_job.c    what a checkpoint saves of a job, and recovery (job.h)
 *
 * src/stream sits above src/sql and uses its binder, plans, evaluator,
 * operators and aggregates; src/sql knows nothing of it (ARCHITECTURE.md 6).
 */
#ifndef SL_STREAM_STREAM_INT_H
#define SL_STREAM_STREAM_INT_H

#include "base/uuid.h"
#include "sql/catalog/tfuncs.h"
#include "sql/query_int.h"
#include "stream/stream.h"
#include "stream/window.h"

#include <pthread.h>
#include <stdatomic.h>

#define STREAM_MAX_KEYS 64 /* GROUP BY keys of a job (and of a view's upsert log) */

enum { STREAM_FMT_CSV = 1, STREAM_FMT_JSONL };
enum {
    STREAM_CONN_FILE = 0,
    STREAM_CONN_TELEMETRY,
    STREAM_CONN_WEBHOOK,
    STREAM_CONN_METRICS,
    STREAM_CONN_TABLE,
    STREAM_CONN_NEXMARK,
    STREAM_CONN_KAFKA,
    STREAM_CONN_BLACKHOLE,   /* a sink that counts its rows and keeps none (benchmarks) */
    STREAM_CONN_VIEW         /* a materialized view read as a source (source_view.c) */
};

typedef struct stream_run stream_run;
typedef struct stream_nexmark stream_nexmark;
typedef struct stream_kafka stream_kafka;
typedef struct stream_serving stream_serving;
typedef struct stream_sink stream_sink;
typedef struct stream_hub stream_hub;   /* a server's live telemetry (source_telemetry.c) */
typedef struct stream_live stream_live; /* one job's subscription to it */
/* A telemetry block a job's worker took, and when it was delivered (checkpoints). */
typedef struct stream_live_done {
    sl_uuid id;
    int64_t at_ns;
} stream_live_done;
typedef struct stream_gauges stream_gauges; /* a metrics sink's gauges (sink_ext.c) */
typedef struct stream_view stream_view;

/* A table with a connector: a source when read, a sink when written. */
typedef struct stream_table {
    sql_table t;             /* first: what the binder sees (columns of the table) */
    stream_run *run;
    const char *name;
    int ncols;
    const char **names;
    sql_type *types;
    char path[4096];         /* resolved against --input-dir / --output-dir when used */
    const char *path_opt;    /* the path option as written */
    int format;              /* STREAM_FMT_* */
    bool header;             /* csv: a header line (default true) */
    char delim;
    int time_col;            /* event_time's column; -1: a static (lookup) table */
    int op_col;              /* a file sink's op_column: each row's operation (-1: none) */
    int64_t delay_ns;        /* max_delay */
    bool late_error;         /* late = 'error' (default 'drop') */
    bool skip_bad;           /* on_error = 'skip' (default 'fail') */
    bool follow;             /* follow = true: tail the growing file until a stop */
    /* figures (rows_read etc.: of the last complete read, the same for every job) */
    bool read_once, written;
    uint64_t rows_read, late_dropped, bad_rows, rows_written;
    int64_t state_peak;      /* sink: the most state the last job writing it held (bytes) */
    int readers;             /* the last job's: workers (or threads) that read parts of it */
    uint64_t rows_exchanged, partials_exchanged; /* the last job's: rows and partial
                                                    tables sent between workers */
    int64_t watermark_ns;    /* the last watermark before the end (STREAM_WM_NONE: none) */
    stream_nexmark *nx;      /* connector = 'nexmark': the generator's options (else NULL) */
    stream_kafka *kf;        /* connector = 'kafka': topic, cluster, offsets (else NULL) */
    stream_view *vw;         /* a materialized view read as a stream (else NULL) */
    int64_t vw_lag_ns;       /* ... over its window_end (0) or window_start (the window's
                                size): its rows' event time is at least the view's
                                closed_wm minus this; -1: not over a window column */
    int connector;           /* STREAM_CONN_* */
    int tel_view;            /* telemetry: the lake view (lake_view_id) */
    int tel_src[64];         /* telemetry: the view's column of each column (-1: none) */
    int64_t idle_ns;         /* telemetry: idle_timeout */
    const char *url;         /* webhook */
    int64_t queue_rows;      /* webhook: queue_size */
    int retries;             /* webhook */
    stream_gauges *gauges;   /* metrics: its gauges (made by its first job) */
} stream_table;
/* Whether a read of t may wait for input to come (a followed file, a topic). */
static inline bool stream_table_waits(const stream_table *t)
{
    return t->follow || t->connector == STREAM_CONN_KAFKA;
}

/* A table only jobs write into (webhook, metrics, table, blackhole): nothing reads it as a
 * source. */
static inline bool stream_table_is_sink(const stream_table *t)
{
    return t->connector == STREAM_CONN_WEBHOOK || t->connector == STREAM_CONN_METRICS ||
           t->connector == STREAM_CONN_TABLE || t->connector == STREAM_CONN_BLACKHOLE;
}

struct stream_ulog;

/* A materialized view: its contents, readable by the session's later SELECTs. */
struct stream_view {
    const char *name;
    ftab *f;                 /* the rows (ftab_rows_ops); f->t is the table */
    struct stream_ulog *log; /* emit = 'on_update': the contents, one row per group (ulog.h;
                                owned by f); f's rows are filled from it when a run's job
                                ends */
    int *key_of;             /* emit = 'on_update': per column, the log's key it carries
                                (-1: none; in f's arena) */
    uint64_t rows_written;
    int64_t state_peak;      /* the most state its job held (bytes) */
    bool emit_on_close;
    pthread_mutex_t *mu;     /* on a server: held while f's rows change or are copied */
    pthread_cond_t *grown;   /* on a server: broadcast (mu held) when rows are added or
                                growing turns false */
    bool growing;            /* on a server: its job runs (a reader at its end waits) */
    /* read as a stream by later jobs (source_view.c): the view as a source table
     * over each column that may be its event time (NULL: none), or why not */
    stream_table *as_src[2];
    char src_why[200];
    /* on a server, a windowed view emitted on close: every window ending at or before
     * it has been emitted (STREAM_WM_NONE: none yet); merge.c stores it after the rows,
     * a reader (source_view.c) at the view's end moves its watermark with it */
    _Atomic int64_t closed_wm;
    /* an interval join's view (record_wm): its job publishes closed_wm in `streamlake
     * run` too, and the view keeps it as it was when each batch of f was appended
     * (batch_wm[k], in f->mem; STREAM_WM_NONE from nbatch_wm on): a reader of the
     * whole view moves its watermark batch by batch, and only with these (its rows'
     * times are not in order) */
    bool record_wm;
    int64_t *batch_wm;
    int nbatch_wm, batch_wm_cap;
};

/* A window table bound by tumble(src, ts, size) / hop(src, ts, slide, size) /
 * session(src, ts, gap): the
 * source's columns, then window_start and window_end (of ts's type). */
typedef struct stream_wtab {
    sql_table t;
    stream_table *src;
    stream_win win;
    const char **names;
    sql_type *types;
} stream_wtab;

struct stream_run {
    const stream_opts *o;
    sql_engine *eng;
    sql_session *s;
    arena a;                 /* names, definitions: everything of the run */
    stream_table **tables;
    int ntables, tables_cap;
    stream_view **views;
    int nviews, views_cap;
    sql_catalog_hook hook;
    sql_hook_tfunc tumble, hop, session;
    /* checkpoints (worker.c): continuous statements run so far; a file sink
     * opened while sink_resume is set goes on from a checkpoint's bytes */
    int njobs;
    int64_t last_state_peak; /* the last job's most state (bytes; the --stats file's) */
    bool sink_resume;
    uint64_t sink_resume_bytes;
    stream_hub *hub;         /* a server's live telemetry; NULL for `streamlake run` */
    bool binding_job;        /* a job's statement is being bound: a view's name is the
                                view read as a stream (source_view.c) */
};

/* catalog.c */
void stream_catalog_init(stream_run *r);
void stream_catalog_free(stream_run *r);
stream_table *stream_table_find(stream_run *r, const char *name);
stream_view *stream_view_find(stream_run *r, const char *name);
/* CREATE TABLE with a connector option: 1 (registered), 0 (not a connector table:
 * the SQL engine's), or a negative code with e set. */
int stream_create_table(stream_run *r, const char *text, const PgQuery__CreateStmt *cs,
                        sql_err *e);
/* A new materialized view of the given columns (names and types copied). */
int stream_view_new(stream_run *r, const char *name, int ncols, const char *const *names,
                    const sql_type *types, stream_view **out, sql_err *e);
/* t (name, columns, time_col set) made a source table the binder sees. */
void stream_table_init_source(stream_table *t);
/* Whether a table is one of a run's sources, or a window over one (*win set). */
stream_table *stream_scan_source(const sql_table *t, const stream_win **win);
/* An option's value as text (strings, numbers, true/false), NULL if none. */
const char *stream_opt_text(const PgQuery__DefElem *d, char *buf, size_t n);
/* max_delay / window sizes: an interval's text to ns (no months), with e set. */
int stream_interval_ns(const char *what, const char *text, int64_t *out, sql_err *e);

/* lookup.c: the table operations of a connector table without event_time. */
extern const sql_table_ops stream_lookup_ops;

/* source_csv.c: a file mapped once, read by one reader per split (a byte range
 * starting after a line break). */
typedef struct stream_file stream_file;
typedef struct stream_reader stream_reader;
typedef struct stream_split {
    size_t begin, end;       /* bytes of the file */
    int64_t line;            /* the line begin is on (1-based; 0: not known, lines are
                                counted from the split's start and the lines before
                                it only for an error's message) */
    bool tail;               /* follow = true: the last split, which grows with the file */
    bool keyed;              /* a view with emit = 'on_update': read with its keys and
                                deletions (source_view.c) */
    bool seen;               /* first pass: the split's largest event time */
    int64_t max_ns;
    int64_t nlines;          /* first pass: line breaks in the split */
    bool start_seen;         /* the largest event time before the split */
    int64_t start_max_ns;
    _Atomic int parsed;      /* read ahead (worker.c): seen, max_ns and next are set */
    size_t next;             /* read ahead: where its reading stopped, the start of the
                                next split's first record (its end unless a quoted
                                field held the line break it was cut at) */
    uint64_t rows_read, late, bad; /* counted when its reader ended (worker.c: for
                                the merger's checkpoints of a job without an
                                aggregation) */
} stream_split;

/* A path relative to dir (NULL: as it is) into out; SL_EINVAL if too long. */
int stream_path_resolve(char *out, size_t n, const char *dir, const char *path);
int stream_file_open(stream_table *t, stream_file **out, sql_err *e);
void stream_file_close(stream_file *f);
/*
 * The file's splits for nworkers: byte ranges ending at line breaks, a few per
 * worker (one for one worker or a small file).  How a CSV file holding a double
 * quote is cut (a quoted field may span lines), by `how`:
 *   STREAM_CUT_QUOTED      where records end (found by walking them)
 *   STREAM_CUT_CHECKED     at line breaks: the caller checks where each split really
 *                          starts (each split is read after the one before it
 *                          stopped, see stream_reader_stop)
 *   STREAM_CUT_AS_CHECKED  the splits a checked run ended up reading: those line
 *                          cuts, each starting where the one before it stopped
 *                          and ending where it stops (walked as QUOTED, but a
 *                          split a quoted field ran over stays, empty): a resumed
 *                          job whose checkpoint such a run took
 * A file without a double quote is cut at line breaks by all three.  A followed file (follow = true)
 * is one split that grows, unless follow_cut: then what it holds when the job
 * starts (a resumed job: its first stream_file_cut_at bytes) is cut as a bounded
 * file's is and only its last split grows (its reader reads it ahead up to where
 * it ended, then follows the file).
 */
enum { STREAM_CUT_QUOTED, STREAM_CUT_CHECKED, STREAM_CUT_AS_CHECKED };
int stream_file_split(stream_file *f, int nworkers, int how, bool follow_cut,
                      stream_split **out, int *n);
/* A reader of one split; sp->line and sp->start_* must be set (the header is the
 * first record of the split that begins the file). */
int stream_reader_open(stream_file *f, const stream_split *sp, stream_reader **out,
                       sql_err *e);
/* follow = true: the reader also ends its input when *stop is set (a server's job
 * being stopped), as it does on stream_request_stop. */
void stream_reader_set_stop(stream_reader *r, _Atomic int *stop);
/*
 * The first pass over a split: the largest event time of its good records (with
 * on_error = 'fail' only the event-time field is parsed: a bad record fails the
 * job in the reading pass anyway) and how many lines it holds.  The reader is
 * used up.
 */
int stream_reader_scan_max(stream_reader *r, bool *seen, int64_t *max_ns, int64_t *lines);
/* The next batch of on-time rows (the table's columns), NULL at the end of the
 * split; *wm is the watermark after its last row (never STREAM_WM_END: the
 * caller knows when the whole input ended).  A followed file or a quiet topic
 * returns an empty batch after a short wait with nothing new (so that the caller
 * may checkpoint or see a stop). */
int stream_reader_next(stream_reader *r, sql_batch **out, int64_t *wm, sql_err *e);
/* Every good row is returned, late or not, and moves the reader's largest event
 * time: the caller applies the watermark (worker.c reads a split ahead before the
 * largest event time before it is known).  Not with late = 'error'.  A growing
 * split's reader then reads only up to the split's end as found. */
void stream_reader_defer_late(stream_reader *r);
/* Whether r reads a split that grows with its file (a followed file's last). */
bool stream_reader_grows(const stream_reader *r);
/* A reader that deferred lateness decides it again, from the watermark wm on (its
 * rows so far were served under wm by the caller); a growing split's reader then
 * follows its file. */
void stream_reader_late_from(stream_reader *r, const stream_wm *wm);
/* Rows read, dropped late, skipped bad so far. */
void stream_reader_counts(const stream_reader *r, uint64_t *read, uint64_t *late,
                          uint64_t *bad);
/* The largest event time seen (the split's start included). */
void stream_reader_final_max(const stream_reader *r, bool *seen, int64_t *max_ns);
/* Where a file reader stopped: past the last record it read, which may lie beyond
 * its split's end when a quoted field holds a line break. */
size_t stream_reader_stop(const stream_reader *r);
void stream_reader_close(stream_reader *r);
/* Where a reader is (checkpoints): what a reader of the same split opened
 * later needs to go on exactly as this one would. */
#define STREAM_POS_MAX_PARTS 256 /* kafka partitions one reader (worker) holds */
typedef struct stream_part_pos {
    int32_t partition;
    bool seen;               /* an event time seen in it */
    int64_t next;            /* the offset of the next message (< 0: librdkafka's logical
                                start, nothing read yet) */
    int64_t max_ns;
} stream_part_pos;
typedef struct stream_reader_pos {
    uint64_t offset;         /* byte of the file at the next record */
    int64_t line;
    bool header_done, seen;
    int64_t max_ns;
    uint64_t rows_read, late, bad;
    uint32_t nparts;         /* kafka: each partition of the reader (else 0) */
    stream_part_pos parts[STREAM_POS_MAX_PARTS];
} stream_reader_pos;
void stream_reader_save(const stream_reader *r, stream_reader_pos *p);
/* SL_EINVAL when p is not inside the reader's split (nothing changed).  A followed
 * file's last split grows: p may lie past its end, within the file as mapped. */
int stream_reader_restore(stream_reader *r, const stream_split *sp, const stream_reader_pos *p);
/* The mapped file's size in bytes; a followed file's: the bytes its splits are cut
 * from (a checkpoint's manifest keeps it, the file grows on). */
uint64_t stream_file_size(const stream_file *f);
/* A resumed job over a followed file: its splits cut from the file's first `cut`
 * bytes, as the checkpoint's run cut them.  SL_EINVAL (nothing changed) when the
 * file is not followed or is now shorter than that. */
int stream_file_cut_at(stream_file *f, uint64_t cut);

/* source_nexmark.c: what the file connector's functions hand over for a
 * nexmark table (t->nx set).  Options: new, then each option (1: not one of
 * its own), then check (columns, event time). */
typedef struct stream_nexmark_reader stream_nexmark_reader;
int stream_nexmark_new(stream_table *t);
int stream_nexmark_option(stream_table *t, const char *k, const char *v, int loc, sql_err *e);
int stream_nexmark_check(stream_table *t, sql_err *e);
int stream_nexmark_split(const stream_table *t, int nworkers, stream_split **out, int *n);
/* About the rows of a bounded nexmark source (a little more; -1: unbounded, or
 * not nexmark). */
int64_t stream_nexmark_rows(const stream_table *t);
int stream_nexmark_reader_open(stream_table *t, const stream_split *sp,
                               stream_nexmark_reader **out);
void stream_nexmark_reader_close(stream_nexmark_reader *r);
void stream_nexmark_scan_max(stream_nexmark_reader *r, bool *seen, int64_t *max_ns,
                             int64_t *lines);
int stream_nexmark_next(stream_nexmark_reader *r, sql_batch **out, int64_t *wm, sql_err *e);
/* A reader's place (checkpoints): SL_EINVAL when p is not inside split sp. */
void stream_nexmark_save(const stream_nexmark_reader *r, stream_reader_pos *p);
int stream_nexmark_restore(stream_nexmark_reader *r, const stream_split *sp,
                           const stream_reader_pos *p);
/* Rows made so far, and the largest event time. */
void stream_nexmark_counts(const stream_nexmark_reader *r, uint64_t *read, bool *seen,
                           int64_t *max_ns);

/* source_view.c: a materialized view read as a stream (t->vw set), through the
 * file connector's functions.  Setup: after the view's job is planned, the view's
 * columns a later job may take as event time (cols[i], with max_delay
 * delay_ns[i]; n <= 2), or why none (n = 0). */
typedef struct stream_view_reader stream_view_reader;
int stream_view_source_setup(stream_run *r, stream_view *v, const int *cols,
                             const int64_t *delay_ns, const int64_t *lag_ns, int n,
                             const char *why);
/* The view as a source whose event time is column col (NULL: the first one), or
 * a negative code with e set (the view cannot be read, or not over col). */
int stream_view_source(stream_view *v, const char *fn, const char *col, stream_table **out,
                       sql_err *e);
int stream_view_split(stream_split **out, int *n);
int stream_view_reader_open(stream_table *t, bool keyed, stream_view_reader **out);
void stream_view_reader_close(stream_view_reader *r);
int stream_view_next(stream_view_reader *r, sql_batch **out, int64_t *wm, sql_err *e);
void stream_view_counts(const stream_view_reader *r, uint64_t *read, bool *seen,
                        int64_t *max_ns);

/* source_kafka.c: what the file connector's functions hand over for a kafka
 * table (t->kf set).  Options: new, then each option (1: not one of its own),
 * then check.  start (when a job opens the source: partitions, and the end
 * offsets of a bounded source) and stop around a job. */
typedef struct stream_kafka_reader stream_kafka_reader;
typedef struct stream_kafka_sink stream_kafka_sink;
int stream_kafka_new(stream_table *t);
int stream_kafka_option(stream_table *t, const char *k, const char *v, int loc, sql_err *e);
int stream_kafka_check(stream_table *t, sql_err *e);
int stream_kafka_start(stream_table *t, sql_err *e);
void stream_kafka_stop(stream_table *t);
int stream_kafka_nparts(const stream_table *t);
/* start_offset = 'latest': a job starting over does not read the topic again. */
bool stream_kafka_from_latest(const stream_table *t);
/* One split per worker: split i holds the partitions p with p mod nworkers = i. */
int stream_kafka_split(const stream_table *t, int nworkers, stream_split **out, int *n);
int stream_kafka_reader_open(stream_table *t, const stream_split *sp,
                             stream_kafka_reader **out, sql_err *e);
void stream_kafka_reader_close(stream_kafka_reader *r);
/* The next batch (an empty one after a quiet poll interval, so that a checkpoint
 * barrier can pass), NULL at the end; rd parses the messages. */
int stream_kafka_next(stream_kafka_reader *r, stream_reader *rd, sql_batch **out, int64_t *wm,
                      sql_err *e);
void stream_kafka_counts(const stream_kafka_reader *r, uint64_t *read, uint64_t *late);
void stream_kafka_final_max(const stream_kafka_reader *r, bool *seen, int64_t *max_ns);
void stream_kafka_save(const stream_kafka_reader *r, stream_reader_pos *pos);
/* SL_EINVAL when pos is not about this reader's partitions. */
int stream_kafka_restore(stream_kafka_reader *r, const stream_reader_pos *pos);
int stream_kafka_sink_open(stream_table *t, stream_kafka_sink **out, sql_err *e);
/* del: the rows are deletions of a keyed log: each a tombstone (its key, no value). */
int stream_kafka_sink_write(stream_kafka_sink *k, const sql_batch *b, bool del, sql_err *e);
/* A sink without its own `key` option: keyed by columns cols (n of them, at most 16;
 * 0: no key).  False if the table names its key itself. */
bool stream_kafka_sink_key(stream_table *t, const int *cols, int n);
/* Every message produced so far delivered (a checkpoint, the end), or an error. */
int stream_kafka_sink_flush(stream_kafka_sink *k, sql_err *e);
void stream_kafka_sink_close(stream_kafka_sink *k);

/* source_csv.c, for message sources: one record in p (n bytes, no header)
 * parsed as the table's format; 1 good (*vals its values, valid until the next
 * call), 0 bad and skipped (on_error = 'skip'), or a negative code with e set,
 * the message naming `where` in place of a file's line. */
int stream_reader_parse_msg(stream_reader *r, const char *p, size_t n, const char *where,
                            sql_datum **vals, sql_err *e);
/* Whether stream_request_stop was called. */
bool stream_stop_requested(void);

/* sink_ext.c: row r of b as text (false: NULL), and as a JSON object of the
 * table's columns (numbers as numbers, NULL as null, the rest as strings). */
bool stream_cell_text(const sql_batch *b, int c, int64_t r, dbuf *out);
int stream_row_json(const stream_table *t, const sql_batch *b, int64_t r, dbuf *body,
                    dbuf *v);
/* The same object of columns cols only (n of them; cols NULL: the first n). */
int stream_cols_json(const stream_table *t, const sql_batch *b, int64_t r, const int *cols,
                     int n, dbuf *body, dbuf *v);

/* The owner (0..n-1) of a row whose partition key hashes to h: the high bits, as
 * an owner's own hash table uses the low ones (worker.c's exchange, ijoin.c). */
static inline int stream_owner_of(uint64_t h, int n)
{
    return (int)((h >> 40) % (uint64_t)n);
}

/* winjoin.c: whether a plan is local to windows (why not in *why). */
bool stream_winjoin_fits(const sql_plan *root, const char **why);
/* Of a plan that fits: which window column its output column col is (1:
 * window_start, 2: window_end, 0: neither), and its window (*win). */
int stream_winjoin_out_col(const sql_plan *root, int col, stream_win *win);
/* ijoin.c: whether a plan is an interval join of two streams (why not in *why:
 * NULL when the plan is no join of two streams at all). */
bool stream_ijoin_fits(const sql_plan *root, const char **why);
/* Of a plan that fits: whether its output column col is a side's event time,
 * and then how far below the join's closed watermark (the smaller of its two
 * sources' watermarks, as every partition has applied them) such a column of a
 * row written later may be (*lag). */
bool stream_ijoin_out_time(const sql_plan *root, int col, int64_t *lag);
/* Whether a plan reads a stream (a source, or a window over one). */
bool stream_plan_reads_stream(const sql_plan *p);
/* The streams (sources, also under window tables) a plan reads, at most max. */
int stream_plan_sources(const sql_plan *p, stream_table **out, int max);

/* wholesrc.c: a file, nexmark or kafka source read whole, in line order, for the
 * drivers that choose the rows a job's SELECT runs over (winjoin.c, ijoin.c):
 * relative paths resolve against input_dir, a followed file ends when *stop is
 * set (stop may be NULL); with ahead threads (0: none) a few batches ahead on a
 * thread of its own, or in chunks on a pool of that many. */
typedef struct stream_ahead stream_ahead;
/* What a source of a join of two streams read so far, for the jobs table and
 * /metrics while the job runs: stored by whichever thread reads the source
 * (relaxed: figures, not state), final once the source's figures are taken. */
typedef struct stream_src_pub {
    const stream_table *t;
    _Atomic uint64_t read, late;
    _Atomic int64_t wm;
} stream_src_pub;

typedef struct stream_source {
    stream_table *t;
    stream_src_pub *pub;     /* NULL: nobody reads its figures while it runs */
    stream_file *f;
    stream_reader *rd;
    int64_t wm;              /* after the last batch; STREAM_WM_END once ended */
    bool ended;
    stream_ahead *ah;        /* the read-ahead thread or chunks (NULL: read by the caller) */
    stream_split whole;      /* the reader's split (the whole file) */
    bool positions;          /* checkpoints: the reader's place after each batch kept */
    stream_reader_pos pos0;  /* ... where it started */
    const stream_reader_pos *pos_at; /* ... after the last batch taken (read ahead) */
    long delay_us;           /* stream_test_batch_delay */
} stream_source;
/* Whether a source can be read whole (a file, the generator, a topic). */
bool stream_source_whole(const stream_table *t);
/* A source read whole by one reader: ahead > 0, on threads of its own (ahead of
 * the caller); positions: each batch's place is kept (checkpoints; no chunks). */
int stream_source_open(stream_table *t, const char *input_dir, _Atomic int *stop, int ahead,
                       bool positions, stream_src_pub *pub, stream_source *s, sql_err *e);
/* The next batch of on-time rows (NULL at the end: then ended is set). */
int stream_source_next(stream_source *s, sql_batch **out, sql_err *e);
/* The source's figures (rows read, late, bad, watermark) from its reader. */
void stream_source_figures(stream_source *s);
/* For kill tests on fast machines: SL_STREAM_TEST_BATCH_DELAY_US=N makes a reader
 * (a worker's, or a join's) sleep N microseconds after each batch it reads, so that
 * a job lasts long enough to be killed between checkpoints.  0 (unset) in normal
 * use. */
long stream_test_batch_delay(void);
/* Checkpoints (a source opened with positions): the reader's place after the
 * last batch taken, and a new source put back there, before any batch is taken
 * (SL_EINVAL: p is not inside the file; else e set on failure). */
void stream_source_save(const stream_source *s, stream_reader_pos *p);
int stream_source_restore(stream_source *s, const stream_reader_pos *p, sql_err *e);
void stream_source_close(stream_source *s);

/* serve.c: what the scans of sources and window tables read while a driver runs
 * a job's SELECT over rows it chose (on the thread that calls stream_serve_query):
 * source src[i]'s rows are cur[i] (batches of its columns); a window table adds
 * window_start and window_end, the same on every row. */
#define STREAM_SERVE_MAX 8
struct stream_serving {
    stream_table *src[STREAM_SERVE_MAX];
    int nsrc;
    const sql_rows *cur[STREAM_SERVE_MAX];
    int64_t win_start, win_end;
};
/* The statement text planned in session s and run by the batch engine over the
 * rows sv serves, its rows (of the given types) added to out (NULL: written to
 * sink).  Each thread running it at once needs a session of its own. */
int stream_serve_query(sql_session *s, const char *text, const sql_type *types, stream_sink *sink,
                       const stream_serving *sv, sql_rows *out, sql_err *e);
/* Whether the calling thread serves rows (catalog.c: then a source's or window
 * table's scan is one unit, opened by stream_serving_open). */
bool stream_serving_active(void);
int stream_serving_open(stream_table *src, const sql_type *types, const sql_scan_req *req,
                        sql_scan **out, sql_err *e);

/* sink.c */
/*
 * A sink for rows of the job's columns (ncols of in_types): a connector table
 * (to its file, through a part file renamed at commit) or a view.  map[i]: the job
 * column feeding sink column i, -1 for NULL; assignment casts as INSERT makes them.
 */
int stream_sink_open(stream_run *r, stream_table *t, stream_view *v, const int *map,
                     const sql_type *in_types, int nin, stream_sink **out, sql_err *e);
/* Writes the rows of b (taken). */
int stream_sink_write(stream_sink *k, sql_batch *b, sql_err *e);
/* The values of a sink's op_column (docs/streaming.md): rows of append-only jobs
 * and closed windows are inserts, a GROUP BY's updates upserts, and the groups its
 * HAVING stops keeping deletes. */
#define STREAM_OP_INSERT "insert"
#define STREAM_OP_UPSERT "upsert"
#define STREAM_OP_DELETE "delete"
/* stream_sink_write with op as the rows' op_column (if it has one). */
int stream_sink_write_op(stream_sink *k, sql_batch *b, const char *op, sql_err *e);
/* A view with emit = 'on_update': an update of its upsert log (b taken; kind: a
 * STREAM_ULOG_* of ulog.h), applied under the view's mutex; upserts are counted. */
int stream_sink_ulog(stream_sink *k, sql_batch *b, int kind, sql_err *e);
int stream_sink_commit(stream_sink *k, sql_err *e);
/* Checkpoints (file sinks; a view: 0 bytes), in two steps so that the wait for
 * the disk can be left to another thread: begin hands what was written to the
 * kernel, *bytes its length, and sets *fd to the descriptor to flush (-1:
 * nothing left to do); from then on a failed job keeps the part file.  wait (any
 * thread, while the sink is open) makes those bytes durable (rows written
 * meanwhile maybe too).  A table sink publishes its staged rows in begin:
 * *bytes the segments published, *run its run (0 for other sinks); kafka waits
 * for every delivery report there. */
int stream_sink_sync_begin(stream_sink *k, uint64_t *bytes, uint64_t *run, int *fd, sql_err *e);
int stream_sink_sync_wait(const stream_sink *k, int fd, sql_err *e);
/* Checkpoints are on for the job (before any row): a table sink stages its rows
 * tagged run from then on; first it removes the segments of the tag published at
 * or past pos (resume: after the checkpoint; a new run: pos 0, every earlier run's
 * rows, unless keep: its source does not read again what they came from). */
int stream_sink_ckpt_start(stream_sink *k, bool resume, bool keep, uint64_t run, uint64_t pos,
                           sql_err *e);
bool stream_sink_is_file(const stream_sink *k);
/*
 * Formatting on workers: whether the sink takes bytes (a file), a worker's
 * context for it, the rows of b (taken) cast to the sink's columns and
 * appended to out as the file's lines (the engine's formatter, sql_fmt_rows),
 * and the merger's write of such bytes (n bytes holding rows rows).
 */
typedef struct stream_sink_fmt stream_sink_fmt;
bool stream_sink_preformat(const stream_sink *k);
int stream_sink_fmt_new(const stream_sink *k, stream_sink_fmt **out);
void stream_sink_fmt_free(stream_sink_fmt *f);
int stream_sink_format(stream_sink_fmt *f, sql_batch *b, dbuf *out, sql_err *e);
int stream_sink_write_bytes(stream_sink *k, const void *p, size_t n, uint64_t rows, sql_err *e);
/* The merger has nothing to write for now: a file sink's buffered bytes go to the
 * file, so output is never held back by buffering while a job waits for input
 * (an unbounded source gone quiet). */
void stream_sink_idle(stream_sink *k);
/* Whether a checkpoint can cover the sink's output: a file (exactly once), kafka
 * (at least once: messages after the checkpoint are sent again on resume), a
 * metrics sink (its gauges saved with the checkpoint). */
bool stream_sink_resumable(const stream_sink *k);
/* The metrics sink's table (its gauges), or NULL for another sink. */
stream_table *stream_sink_metrics(const stream_sink *k);
/* The view a sink writes (NULL: a table with a connector). */
stream_view *stream_sink_view(const stream_sink *k);

/* Frees the sink; a file sink not committed leaves no file behind. */
void stream_sink_close(stream_sink *k);

/* worker.c: INSERT INTO sink SELECT ... or CREATE MATERIALIZED VIEW ... AS SELECT ...,
 * run until its bounded sources end. */
int stream_job_run(stream_run *r, const char *text, const PgQuery__Node *st, sql_err *e);

#endif
