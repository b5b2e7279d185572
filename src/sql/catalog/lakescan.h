/*
 * lakescan.h - a lake view instance read as SQL batches.
 *
 * The lake hands out col_batch rows of a view (src/lake); SQL wants its own
 * types: ids as uuid, uint32 counters as integers, properties as jsonb, tags
 * as text[].  A lakescan opens (view, instance, time range) with the columns a
 * query needs (the lake decodes nothing else), converts each batch, and can
 * add columns that hold one value on every row (a thread's stream id and
 * name in process_spans) without repeating it: a one-entry dictionary.
 * Shared by the global lake tables (lake_tables.c) and the table functions
 * (tfuncs.c).
 */
#ifndef SL_SQL_CATALOG_LAKESCAN_H
#define SL_SQL_CATALOG_LAKESCAN_H

#include "lake/lake.h"
#include "sql/catalog/catalog.h"

/* How a lake column becomes a SQL column. */
typedef enum lc_conv {
    LC_SHARE = 0, /* same representation: the vector is shared */
    LC_U32_I4,    /* uint32 to int4 (depth, line) */
    LC_U32_I8,    /* uint32 to int8 (hash) */
    LC_JSONB,     /* JSON text to canonical jsonb text */
    LC_TAGS,      /* a JSON array of strings to text[] */
    LC_BIN16,     /* 16-byte binary values to numeric/interval (user table segments) */
} lc_conv;

/* A column of a lake-backed SQL table. */
typedef struct lake_coldef {
    const char *name;
    sql_tid type;
    uint8_t conv;     /* lc_conv */
} lake_coldef;

/* The SQL columns of a lake view (lake_tables.c), in the view's column order. */
const lake_coldef *lake_coldefs(lake_view_id v, int *n);

/* One output column of a lakescan. */
typedef struct lakescan_col {
    int src;              /* the view's column index; -1: `fill` on every row */
    uint8_t conv;
    sql_type type;
    sql_datum fill;       /* src < 0 (strings copied by the scan) */
} lakescan_col;

typedef struct lakescan_opts {
    lake_view_id view;
    const char *instance;
    int64_t begin_ns, end_ns;
    int64_t key_lo;       /* the time column's own lower bound (INT64_MIN: none) */
    int ncols;
    const lakescan_col *cols;
    int batch_rows;
    const uint8_t *cancel;
    bool materialize;     /* build what is missing first (true for every SQL read) */
    int split, nsplits;   /* one of nsplits parallel readers of the instance (0, 0: all) */
    sql_scan_bound *bound;/* a top-N's threshold on an output column (NULL: none) */
    _Atomic uint64_t *built; /* partitions the lake built for this scan are added here */
} lakescan_opts;

/* Opens the scan (materializing first).  Lake errors become SQL errors. */
int lakescan_open(lake *l, const lakescan_opts *o, sql_scan **out, sql_err *e);

/* A scan without rows (a unit that turned out to be empty). */
int lakescan_open_empty(sql_scan **out, sql_err *e);

/* The SQL error for a lake failure (code and message). */
int lakescan_fail(sql_err *e, int code, const char *msg);

/* The standard output columns of a table defined by coldefs, for req (src = i). */
int lakescan_cols(const lake_coldef *defs, const lake_view_id v, const sql_scan_req *req,
                  lakescan_col *out);

/* Converts a batch's columns into a new SQL batch: lake scans, and every reader of
 * Parquet (read_parquet, user tables). in_col NULL: output column i is input i. */
int lakescan_convert(const col_batch *in, const int *in_col, const lakescan_col *cols, int ncols,
                     const sql_type *types, sql_batch **out, sql_err *e);

#endif
