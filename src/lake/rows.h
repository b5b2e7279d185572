/*
 * rows.h - writing batches as text: CSV, JSON lines, or an aligned table.
 *
 * CSV follows RFC 4180 (a header row; fields with commas, quotes or line
 * breaks are quoted, quotes doubled).  JSON writes one object per row.  The
 * table is for terminals: fixed column widths by type, long values cut with
 * "~".  Timestamps are RFC 3339 UTC with nanoseconds in every format; nulls
 * are empty (CSV, table) or null (JSON).
 */
#ifndef SL_LAKE_ROWS_H
#define SL_LAKE_ROWS_H

#include "base/dbuf.h"
#include "col/col.h"

typedef enum rows_format { ROWS_CSV, ROWS_JSON, ROWS_TABLE } rows_format;

/* "csv", "json" or "table"; SL_EINVAL otherwise. */
int rows_format_parse(const char *s, rows_format *out);
const char *rows_content_type(rows_format f);
/* The header (CSV: names; table: names and a rule; JSON: nothing). */
int rows_header(const col_schema *s, rows_format f, dbuf *out);
/* Every row of b. */
int rows_batch(const col_batch *b, rows_format f, dbuf *out);
/*
 * Rows of b from *row on, until the end of the batch or until out holds at
 * least min_bytes; *row is left at the first row not written.  A response can
 * so hold a bounded piece of text however large the batch.
 */
int rows_batch_some(const col_batch *b, rows_format f, int64_t *row, size_t min_bytes,
                    dbuf *out);

#endif
