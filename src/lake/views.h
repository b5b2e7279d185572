/*
 * views.h - the lake's views: names, instances, columns and schema versions.
 *
 * A view is a table of telemetry derived from blocks (thread_spans,
 * async_events, log_entries, measures) or read from the metadata store
 * (processes, streams, blocks).  docs/internals/lake.md describes each.  A
 * view's schema version changes whenever its columns or their meaning change;
 * partitions built with an older version are stale and get rebuilt.
 */
#ifndef SL_LAKE_VIEWS_H
#define SL_LAKE_VIEWS_H

#include "col/col.h"

typedef enum lake_view_id {
    LAKE_THREAD_SPANS = 0,
    LAKE_ASYNC_EVENTS,
    LAKE_LOG_ENTRIES,
    LAKE_MEASURES,
    LAKE_PROCESSES,
    LAKE_STREAMS,
    LAKE_BLOCKS,
    LAKE_OTEL_SPANS,   /* spans received over OTLP (docs/internals/otlp.md) */
    LAKE_VIEW_COUNT
} lake_view_id;

/* What a view's instance id names. */
typedef enum lake_instance_kind {
    LAKE_INSTANCE_STREAM,   /* a thread stream id */
    LAKE_INSTANCE_PROCESS,  /* a process id */
    LAKE_INSTANCE_GLOBAL,   /* the word "global" */
} lake_instance_kind;

typedef struct lake_view_def {
    lake_view_id id;
    const char *name;
    lake_instance_kind instance;
    uint32_t schema_version;
    int partitioned;          /* built from blocks into partitions (else read from metadata) */
    const char *stream_tag;   /* partitioned views: tag of the source streams */
    const char *time_column;  /* the column a time range applies to */
    const char *end_column;   /* for intervals (spans): the column of their end, else NULL */
} lake_view_def;

/* Room for an instance's canonical text: a uuid's 36 characters or "global". */
#define LAKE_INSTANCE_MAX 40

/*
 * The one spelling of an instance that the lake uses for keys, paths and
 * metadata rows: a uuid in lower case (any case accepted), or "global" where the
 * view takes it (processes; streams and blocks of every process).  Every entry
 * point of the lake canonicalizes first, so two spellings of one id can never
 * name two sets of partitions.  0, or SL_EINVAL with the reason in e.
 */
struct errmsg;
int lake_instance_canon(const lake_view_def *vd, const char *instance,
                        char out[LAKE_INSTANCE_MAX], struct errmsg *e);

/* The definition of a view by name, or NULL. */
const lake_view_def *lake_view_find(const char *name);
const lake_view_def *lake_view_get(lake_view_id id);
/* The view's columns (one reference held by the lake; take your own with col_schema_ref). */
col_schema *lake_view_schema(lake_view_id id);
/*
 * The type of the vector a builder makes for column i: the schema's, except
 * COL_DICT (4-byte keys) for the string columns that are dictionaries.
 */
col_type lake_view_col_type(lake_view_id id, int i);

/* Column indexes of thread_spans, in schema order. */
enum {
    TS_ID, TS_PARENT, TS_DEPTH, TS_HASH, TS_BEGIN, TS_END, TS_DURATION,
    TS_NAME, TS_TARGET, TS_FILENAME, TS_LINE, TS_NCOLS
};
/* async_events */
enum {
    AE_STREAM_ID, AE_BLOCK_ID, AE_TIME, AE_EVENT_TYPE, AE_SPAN_ID, AE_PARENT_SPAN_ID,
    AE_DEPTH, AE_HASH, AE_NAME, AE_FILENAME, AE_TARGET, AE_LINE, AE_NCOLS
};
/* log_entries */
enum {
    LE_PROCESS_ID, LE_STREAM_ID, LE_BLOCK_ID, LE_INSERT_TIME, LE_EXE, LE_USERNAME,
    LE_COMPUTER, LE_TIME, LE_TARGET, LE_LEVEL, LE_MSG, LE_PROPERTIES, LE_NCOLS
};
/* measures */
enum {
    ME_PROCESS_ID, ME_STREAM_ID, ME_BLOCK_ID, ME_INSERT_TIME, ME_EXE, ME_USERNAME,
    ME_COMPUTER, ME_TIME, ME_TARGET, ME_NAME, ME_UNIT, ME_VALUE, ME_PROPERTIES, ME_NCOLS
};
/* otel_spans */
enum {
    OS_PROCESS_ID, OS_STREAM_ID, OS_TRACE_ID, OS_SPAN_ID, OS_PARENT_SPAN_ID, OS_NAME, OS_SCOPE,
    OS_KIND, OS_START, OS_END, OS_DURATION, OS_STATUS, OS_STATUS_MESSAGE, OS_ATTRIBUTES,
    OS_EVENTS, OS_NCOLS
};

#endif
