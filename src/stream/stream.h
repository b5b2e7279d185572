/*
 * stream.h - continuous SQL: jobs over streams with windows and watermarks.
 *
 * stream_run_script runs a text of statements the way `streamlake run FILE.sql`
 * does, without a server: tables with a connector (sources and sinks),
 * continuous statements (INSERT INTO sink SELECT ..., CREATE MATERIALIZED
 * VIEW ... AS SELECT ...) run until their bounded sources end, and any other
 * statement (a SELECT over a materialized view, SET, ...) runs in the SQL
 * engine after the ones before it finished, its rows printed.
 *
 * docs/streaming.md is the user's reference; docs/internals/stream.md the
 * design (workers, watermarks, state; what this version does not do yet).
 */
#ifndef SL_STREAM_STREAM_H
#define SL_STREAM_STREAM_H

#include "sql/format.h"
#include "sql/sql.h"

struct lake;
struct meta;
struct objstore;

typedef struct stream_opts {
    const char *input_dir;   /* relative source paths resolve here (NULL: ".") */
    const char *output_dir;  /* relative sink paths resolve here (NULL: ".") */
    int workers;             /* partitioned workers (< 1: one) */
    int64_t work_mem_bytes;  /* state of one job (0: the engine's default) */
    const char *stats_path;  /* the JSON figures written at the end (NULL: none) */
    const char *checkpoint_dir; /* checkpoints of the jobs (NULL: none) */
    int64_t checkpoint_interval_ms; /* between two (<= 0: 2000) */
    /* a data directory opened by the caller (--data): user tables, so table sinks
     * (all NULL: none; the engine then has no user tables) */
    struct lake *lake;
    struct meta *meta;
    struct objstore *os;
    const char *data_dir;
} stream_opts;

/* Asks every following source (follow = true) to end: async-signal-safe, so a
 * SIGINT handler may call it.  Their jobs then end as at the end of a file. */
void stream_request_stop(void);

/*
 * Runs every statement of text in order; results of row-returning statements
 * go to out.  0, or the first failure's code with e set (its position relative
 * to *failed_text, the failing statement, which the caller frees with free()).
 */
int stream_run_script(const stream_opts *o, const char *text, sql_fmt *out, sql_err *e,
                      char **failed_text);

#endif
