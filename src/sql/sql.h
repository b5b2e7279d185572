/*
 * sql.h - the SQL engine: PostgreSQL's dialect over the lake, user tables and
 * table functions.
 *
 * One engine per server (or per CLI run over a data directory) holds the
 * shared state: the lake, the user catalog, the response budget.  A session
 * per client holds its settings (streamlake.begin/end, work_mem,
 * statement_timeout, ...) and prepared statements.  A statement runs as a
 * cursor: sql_query_open parses, binds, plans and starts it; sql_query_next
 * hands out result batches until the end; sql_query_close frees everything
 * (cancelling workers if the query is not finished).  Commands that return no
 * rows (SET, CREATE TABLE, INSERT ...) finish in open and report their tag.
 *
 * docs/sql.md is the user's reference; docs/internals/sql.md the design.
 */
#ifndef SL_SQL_SQL_H
#define SL_SQL_SQL_H

#include "base/budget.h"
#include "base/dbuf.h"
#include "sql/exec/vec.h"
#include "sql/front/error.h"
#include "sql/types/value.h"

#include <stdatomic.h>

struct lake;
struct meta;
struct objstore;

typedef struct sql_engine sql_engine;
typedef struct sql_session sql_session;
typedef struct sql_query sql_query;

typedef struct sql_engine_opts {
    int64_t work_mem_bytes;       /* per query, default 256 MiB */
    int64_t max_memory_bytes;     /* all running queries together (0: no limit); past it a
                                   * query fails with 53200 instead of taking the server */
    int64_t statement_timeout_ms; /* 0: none */
    int workers;                  /* parallel workers per query; 0: cores */
    const char *files_dirs[8];    /* read_parquet / read_csv may read under these only */
    int nfiles_dirs;
    const char *data_dir;         /* user tables: data_dir/sql (NULL: in memory only) */
    budget *bud;                  /* the server's response budget (NULL: none) */
} sql_engine_opts;

int sql_engine_open(struct lake *l, struct meta *m, struct objstore *os,
                    const sql_engine_opts *o, sql_engine **out, errmsg *e);
void sql_engine_close(sql_engine *eng);

int sql_session_new(sql_engine *eng, sql_session **out);
void sql_session_free(sql_session *s);
/* A session with from's settings and catalog hook (no prepared statements, no
 * transaction): a driver's own session for one of its threads, since a session
 * is used by one thread at a time. */
int sql_session_new_like(const sql_session *from, sql_session **out);

/* A session setting (SET name = value), as SHOW would print it; NULL if unknown. */
const char *sql_session_get(sql_session *s, const char *name, char *buf, size_t n);
int sql_session_set(sql_session *s, const char *name, const char *value, sql_err *e);
/* The connection's process id as the client knows it (the PostgreSQL protocol's
 * BackendKeyData): what pg_backend_pid() answers.  0 until set. */
void sql_session_set_backend_pid(sql_session *s, int32_t pid);
/*
 * The session's user lacks the admin scope (server/keys.h): table functions
 * that build or delete (materialize_partitions, retire_partitions) fail with
 * SQLSTATE 42501.  No SQL statement can undo it.
 */
void sql_session_deny_admin(sql_session *s);
/* Inside an explicit transaction block (BEGIN ... COMMIT): for ReadyForQuery. */
bool sql_session_in_tx(const sql_session *s);

/* Query parameters: text (as the wire protocol's text format) or typed datums. */
typedef struct sql_params {
    int n;
    const sql_type *types;   /* declared types (ST_UNKNOWN: to be inferred) */
    const sql_datum *vals;   /* values, of types[i] (text for ST_UNKNOWN) */
} sql_params;

/* A statement's text parsed once (the wire protocol's prepared statements): queries
 * opened with it skip the parser.  Refcounted, immutable once made, shared by threads. */
typedef struct sql_parsed_text sql_parsed_text;
/* The parsed text, or NULL when it does not parse (opening the query reports why). */
sql_parsed_text *sql_parsed_text_new(const char *text);
/* How many statements the text holds. */
size_t sql_parsed_text_count(const sql_parsed_text *p);
sql_parsed_text *sql_parsed_text_ref(sql_parsed_text *p);
void sql_parsed_text_unref(sql_parsed_text *p);

typedef struct sql_query_opts {
    const sql_params *params;
    sql_parsed_text *parsed;   /* the statement's text parsed already (NULL: parse it) */
    int64_t begin_ns, end_ns;  /* a time range for every lake table (HTTP "begin"/"end");
                                * INT64_MIN/INT64_MAX: none (the session's applies) */
    const _Atomic uint8_t *cancel; /* the caller's cancel flag (client gone, Ctrl-C) */
} sql_query_opts;

/*
 * Parses, binds, plans and starts one statement (text must hold exactly one;
 * see sql_split for several).  0 with *out set, or a negative code with e set
 * (SQLSTATE, message, position relative to text).
 */
int sql_query_open(sql_session *s, const char *text, const sql_query_opts *o, sql_query **out,
                   sql_err *e);
/* Whether the statement returns rows (SELECT, EXPLAIN, SHOW; not commands). */
bool sql_query_has_rows(const sql_query *q);
/* The result's columns (0 for commands). */
int sql_query_ncols(const sql_query *q);
const char *sql_query_colname(const sql_query *q, int i);
sql_type sql_query_coltype(const sql_query *q, int i);
/* Next batch of rows (the query keeps it until the next call), NULL at the end. */
int sql_query_next(sql_query *q, const sql_batch **out, sql_err *e);
/* The command tag once finished: "SELECT 42", "INSERT 0 3", "CREATE TABLE"... */
const char *sql_query_tag(const sql_query *q);
/* COPY table FROM STDIN: once open, the query waits for rows.  sql_query_copy_in gives the
 * number of fields per line (-1: not such a query); the rows come in pieces of any size
 * (text or CSV as the statement said); copy_end adds them all to the table at once (tag
 * "COPY n").  After an error, or a close without copy_end, the table is as it was. */
int sql_query_copy_in(const sql_query *q);
int sql_query_copy_data(sql_query *q, const void *data, size_t n, sql_err *e);
int sql_query_copy_end(sql_query *q, sql_err *e);
/* Asks a running query to stop (any thread). */
void sql_query_cancel(sql_query *q);
void sql_query_close(sql_query *q);

/* Splits a text of several statements: calls fn with each statement's text. */
int sql_split(const char *text, int (*fn)(void *arg, const char *stmt, size_t n), void *arg,
              sql_err *e);

/* Figures of an engine (queries run, failed, rows, time), members of a JSON object. */
struct jw;
void sql_engine_stats_json(sql_engine *eng, struct jw *w);

#endif
