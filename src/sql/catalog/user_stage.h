/*
 * user_stage.h - appending to a user table in two steps: rows staged into
 * segments no definition names yet, then published (added to the table's
 * definition) all at once.  A continuous job's table sink uses it so that
 * what it appended can be tied to a checkpoint (src/stream/sink_ext.c).
 *
 * Staged segments are keyed sql/tables/{uid}/{tag}-{k}.parquet, k counting
 * up from the first number given at open (or past the largest stored segment
 * of the tag, a crashed writer's: segments are stored create-only): a writer
 * that knows its tag and the next number at some point can later remove from
 * the definition every segment it published after that point
 * (sql_user_stage_truncate), as a file is cut back to a committed length.
 * A staged segment never published is an orphan (the engine's sweep at open
 * removes it after its grace period).
 */
#ifndef SL_SQL_CATALOG_USER_STAGE_H
#define SL_SQL_CATALOG_USER_STAGE_H

#include "sql/sql.h"

#define SQL_USER_STAGE_TAG_MAX 32

typedef struct sql_user_stage sql_user_stage;

/*
 * Stages rows for user table name, whose columns must be ncols of types
 * (else 42804); tag: letters, digits, '_' only (at most SQL_USER_STAGE_TAG_MAX);
 * first: the number of the first segment.  0, or e set.
 */
int sql_user_stage_open(sql_engine *eng, const char *name, const char *tag, int64_t first,
                        int ncols, const sql_type *types, sql_user_stage **out, sql_err *e);
/* Adds rows (the table's columns, in order); a full segment is stored, unpublished. */
int sql_user_stage_add(sql_user_stage *s, const sql_batch *b, sql_err *e);
/* Stores the segment being written, then adds every stored, unpublished segment to
 * the table's definition in one change (40001 if the table was dropped or replaced).
 * *next: the number the next segment will get (every one before it is published). */
int sql_user_stage_publish(sql_user_stage *s, int64_t *next, sql_err *e);
/* Segments of the table published with tag and a number >= keep_below are removed
 * from its definition (their files retired).  0 (nothing to remove included), or e set. */
int sql_user_stage_truncate(sql_engine *eng, const char *name, const char *tag,
                            int64_t keep_below, sql_err *e);
/* Frees s; stored segments not published stay unnamed (orphans). */
void sql_user_stage_close(sql_user_stage *s);

#endif
