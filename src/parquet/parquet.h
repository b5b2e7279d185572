/*
 * parquet.h - the Parquet writer and reader streamlake's lake is built on.
 *
 * Written here from the public specification (apache/parquet-format).  What is
 * supported, and how unsupported input is refused, is the table in
 * docs/internals/parquet.md.  In short:
 *
 *   Writer: flat schemas of col types; row groups of at most row_group_rows;
 *   v1 data pages of about page_bytes; PLAIN, or RLE_DICTIONARY for strings
 *   with a fall back to PLAIN when the dictionary grows past its caps;
 *   definition levels for nullable columns; ZSTD (default), LZ4_RAW, SNAPPY or
 *   UNCOMPRESSED; min/max/null_count statistics per column chunk in each
 *   type's order; key/value metadata; footer in the Thrift compact protocol.
 *
 *   Footer: pq_footer_parse() decodes a file's metadata into an immutable,
 *   refcounted object that any number of readers on any threads may share.
 *
 *   Reader: opens bytes in memory (borrowed) or a file (mapped), scans with a
 *   projection and an optional int64 range on one column that prunes row
 *   groups by statistics, and returns batches of at most batch_rows rows, one
 *   at a time, so memory stays bounded whatever the file size.  Dictionary
 *   pages of string columns come out as COL_DICT vectors.
 *
 * Errors: every call that can fail returns 0 or a negative SL_E* code and
 * fills an errmsg with what and where (byte offset in the file).
 */
#ifndef SL_PARQUET_PARQUET_H
#define SL_PARQUET_PARQUET_H

#include "base/dbuf.h"
#include "base/err.h"
#include "col/col.h"
#include "parquet/meta.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Version of what the writer produces and the reader accepts, as laid out in
 * docs/internals/parquet.md; bumped with that document. */
#define PQ_LAYOUT_VERSION 3

/* --- writer ---------------------------------------------------------------- */

/* Where the writer's bytes go.  write returns 0 or a negative SL_E* code. */
typedef struct pq_sink {
    int (*write)(void *ctx, const void *p, size_t n);
    void *ctx;
} pq_sink;

/* A sink appending to b (whose own cap applies). */
void pq_sink_dbuf(pq_sink *s, dbuf *b);
/* A sink writing to a file descriptor (retrying short writes). */
void pq_sink_fd(pq_sink *s, int fd);

typedef struct pq_write_opts {
    int codec;                /* PQ_CODEC_ZSTD (default), LZ4_RAW, SNAPPY, UNCOMPRESSED */
    int level;                /* zstd level; default 3 */
    int64_t row_group_rows;   /* default 1048576 */
    size_t page_bytes;        /* target encoded size of a data page; default 1 MiB */
    bool dictionary;          /* dictionary-encode string columns; default true */
    size_t dict_max_bytes;    /* fall back to PLAIN past this dictionary size; default 1 MiB */
    int64_t dict_max_entries; /* ... or this many entries; default 65536 */
    const char *created_by;   /* default "streamlake version <v>" */
    bool ts_utc;              /* TIMESTAMP isAdjustedToUTC; default true.  DuckDB 1.5
                               * reads UTC-adjusted NANOS as microsecond TIMESTAMPTZ,
                               * so false keeps nanoseconds for DuckDB readers. */
    /* 64-bit integer and timestamp columns written with DELTA_BINARY_PACKED (then
     * compressed): sorted or nearly sorted times shrink to a few bits a value and
     * decode without the codec doing most of the work.  NULL: none. */
    const char *const *delta_columns;
    int ndelta_columns;
} pq_write_opts;

void pq_write_opts_default(pq_write_opts *o);

typedef struct pq_writer pq_writer;

/* Starts a file on sink for batches of schema s (a reference is kept).
 * opts may be NULL for the defaults. Writes the leading magic. */
int pq_writer_open(pq_sink *sink, col_schema *s, const pq_write_opts *opts, pq_writer **out,
                   errmsg *e);
/* Appends a batch whose vectors match the schema (a COL_STRING field may get
 * COL_DICT vectors).  Row groups are cut at row_group_rows. */
int pq_writer_add_batch(pq_writer *w, const col_batch *b, errmsg *e);
/* Sets a key/value pair of the footer (replaces an earlier value of key). */
int pq_writer_set_kv(pq_writer *w, const char *key, const char *value, errmsg *e);
/* Flushes the last row group, writes the footer, frees the writer.  *size_out
 * (may be NULL) gets the file size.  On error the output is incomplete. */
int pq_writer_close(pq_writer *w, int64_t *size_out, errmsg *e);
/* Frees a writer without finishing the file. */
void pq_writer_free(pq_writer *w);

/* --- footer ---------------------------------------------------------------- */

typedef struct pq_footer pq_footer;

/* Footer size cap: a footer larger than this is refused (SL_ETOOBIG). */
#define PQ_FOOTER_MAX_BYTES ((size_t)64 << 20)

/* Parses the footer of the file whose bytes are file[0..len).  The result is
 * immutable, owns a copy of what it needs and holds one reference. */
int pq_footer_parse(const uint8_t *file, size_t len, pq_footer **out, errmsg *e);
pq_footer *pq_footer_ref(pq_footer *f);
void pq_footer_unref(pq_footer *f);

/* The decoded FileMetaData (read-only). */
const pq_file_meta *pq_footer_meta(const pq_footer *f);
/* Column schema as the reader will return it (string columns as COL_STRING). */
col_schema *pq_footer_schema(const pq_footer *f);
int64_t pq_footer_num_rows(const pq_footer *f);
int pq_footer_num_row_groups(const pq_footer *f);
int64_t pq_footer_row_group_rows(const pq_footer *f, int rg);
/* Value of key in the key/value metadata, or NULL. */
const char *pq_footer_kv(const pq_footer *f, const char *key);

/* Min and max of an integer-like column (INT32, INT64, timestamps) in row
 * group rg, from the statistics.  SL_ENOTFOUND when the file has none. */
int pq_footer_stats_i64(const pq_footer *f, int rg, int col, int64_t *min, int64_t *max);
/* Null count of a column in a row group; SL_ENOTFOUND when not recorded. */
int pq_footer_null_count(const pq_footer *f, int rg, int col, int64_t *nulls);

/* --- reader ---------------------------------------------------------------- */

typedef struct pq_reader pq_reader;

/* Opens bytes in memory.  The bytes are borrowed: they must outlive the
 * reader and its scans (batches do not point into them).  footer may be NULL
 * (parsed here) or one parsed from the same bytes (a reference is taken). */
int pq_reader_open(const uint8_t *bytes, size_t len, pq_footer *footer, pq_reader **out, errmsg *e);
/* Opens a file by mapping it read-only (files are immutable once written). */
int pq_reader_open_file(const char *path, pq_reader **out, errmsg *e);
pq_footer *pq_reader_footer(const pq_reader *r);
void pq_reader_close(pq_reader *r);

typedef struct pq_scan_opts {
    const char *const *columns; /* names to read, in output order; NULL = all */
    int ncolumns;
    const char *range_column;     /* prune row groups whose [min, max] misses the range */
    int64_t range_min, range_max; /* inclusive */
    int64_t batch_rows;           /* rows per batch; default 65536 */
    size_t max_page_bytes;        /* cap on one decompressed page; default 64 MiB.  Also
                                   * bounds decoded DELTA values (max/4 per page) and
                                   * the string bytes of one batch column (4 x max). */
    /* Splits for parallel readers: with rg_mod > 1, only the row groups g with
     * (rg_base + g) % rg_mod == rg_rem (rg_base: row groups of earlier files). */
    int rg_mod, rg_rem;
    int64_t rg_base;
    /* A bound that tightens while the scan runs (a top-N's threshold): a row group
     * reached later is skipped when its statistics put every value of dyn_column
     * below *dyn_lo or above *dyn_hi and it has no nulls.  NULL pointers: none. */
    const char *dyn_column;
    _Atomic int64_t *dyn_lo, *dyn_hi;
} pq_scan_opts;

typedef struct pq_scan pq_scan;

/* Starts a scan; opts may be NULL (every column, every row group). Several
 * scans of one reader may run at once on different threads. */
int pq_scan_open(pq_reader *r, const pq_scan_opts *opts, pq_scan **out, errmsg *e);
/* Next batch (owned by the caller, release with col_batch_release), or *out
 * = NULL at the end. */
int pq_scan_next(pq_scan *s, col_batch **out, errmsg *e);
/* Row groups the scan will read after pruning. */
int pq_scan_row_groups(const pq_scan *s);
void pq_scan_close(pq_scan *s);

#endif
