/*
 * spill.h - batches in an anonymous temporary file: a sort larger than
 * work_mem writes sorted runs here and merges them (op_sort.c).
 *
 * The file is opened with O_TMPFILE in $TMPDIR (default /tmp), or created and
 * unlinked at once, so it has no name: nothing is left behind by a crash and
 * the space goes back when the query closes it.  A batch is written as a
 * header (magic "SLSP", column count, row count) and per column its type,
 * null count and the raw Arrow-layout buffers (validity bits when there are
 * nulls, values, string bytes); dictionary columns are written as strings.
 * The format lives only inside one process for one query: docs/internals/sql.md.
 */
#ifndef SL_SQL_EXEC_SPILL_H
#define SL_SQL_EXEC_SPILL_H

#include "sql/exec/vec.h"
#include "sql/front/error.h"

typedef struct sql_spill {
    int fd;
    uint64_t end;            /* bytes written */
} sql_spill;

int sql_spill_open(sql_spill *sp, sql_err *e);
void sql_spill_close(sql_spill *sp);
/* Appends b at sp->end. */
int sql_spill_write(sql_spill *sp, const sql_batch *b, sql_err *e);
/* Reads the batch at *at (advanced past it) with the given column types. */
int sql_spill_read(const sql_spill *sp, uint64_t *at, int ncols, const sql_type *types,
                   sql_batch **out, sql_err *e);

#endif
