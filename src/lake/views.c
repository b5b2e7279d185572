/*
 * views.c - the view table and the column schemas (see views.h).
 *
 * Schemas are built once, on first use, and shared (refcounted, immutable).
 * Strings that repeat per row are dictionary columns (type COL_DICT with
 * 4-byte keys): builders emit dictionaries and the Parquet writer and reader
 * keep them, so a consumer sees keys into a small dictionary.
 */
#include "lake/views.h"

#include "base/err.h"
#include "base/uuid.h"

#include <pthread.h>
#include <string.h>

static const lake_view_def g_views[LAKE_VIEW_COUNT] = {
    {LAKE_THREAD_SPANS, "thread_spans", LAKE_INSTANCE_STREAM, 1, 1, "cpu", "begin", "end"},
    {LAKE_ASYNC_EVENTS, "async_events", LAKE_INSTANCE_PROCESS, 1, 1, "cpu", "time", NULL},
    {LAKE_LOG_ENTRIES, "log_entries", LAKE_INSTANCE_PROCESS, 1, 1, "log", "time", NULL},
    {LAKE_MEASURES, "measures", LAKE_INSTANCE_PROCESS, 1, 1, "metrics", "time", NULL},
    {LAKE_PROCESSES, "processes", LAKE_INSTANCE_GLOBAL, 1, 0, NULL, "start_time", NULL},
    {LAKE_STREAMS, "streams", LAKE_INSTANCE_GLOBAL, 1, 0, NULL, "insert_time", NULL},
    {LAKE_BLOCKS, "blocks", LAKE_INSTANCE_GLOBAL, 1, 0, NULL, "begin_time", NULL},
    {LAKE_OTEL_SPANS, "otel_spans", LAKE_INSTANCE_PROCESS, 1, 1, "otel_spans", "start", "end"},
};

typedef struct col_spec {
    const char *name;
    col_type type;
} col_spec;

#define D COL_DICT
static const col_spec g_thread_spans[] = {
    {"id", COL_INT64},      {"parent", COL_INT64}, {"depth", COL_UINT32}, {"hash", COL_UINT32},
    {"begin", COL_TS_NS},   {"end", COL_TS_NS},    {"duration", COL_INT64}, {"name", D},
    {"target", D},          {"filename", D},       {"line", COL_UINT32}};
static const col_spec g_async_events[] = {
    {"stream_id", D}, {"block_id", D}, {"time", COL_TS_NS}, {"event_type", D},
    {"span_id", COL_INT64}, {"parent_span_id", COL_INT64}, {"depth", COL_UINT32},
    {"hash", COL_UINT32}, {"name", D}, {"filename", D}, {"target", D}, {"line", COL_UINT32}};
static const col_spec g_log_entries[] = {
    {"process_id", D}, {"stream_id", D}, {"block_id", D}, {"insert_time", COL_TS_NS},
    {"exe", D}, {"username", D}, {"computer", D}, {"time", COL_TS_NS}, {"target", D},
    {"level", COL_INT32}, {"msg", COL_STRING}, {"properties", COL_STRING}};
static const col_spec g_measures[] = {
    {"process_id", D}, {"stream_id", D}, {"block_id", D}, {"insert_time", COL_TS_NS},
    {"exe", D}, {"username", D}, {"computer", D}, {"time", COL_TS_NS}, {"target", D},
    {"name", D}, {"unit", D}, {"value", COL_DOUBLE}, {"properties", COL_STRING}};
static const col_spec g_processes[] = {
    {"process_id", COL_STRING}, {"exe", COL_STRING}, {"username", COL_STRING},
    {"realname", COL_STRING}, {"computer", COL_STRING}, {"distro", COL_STRING},
    {"cpu_brand", COL_STRING}, {"tsc_frequency", COL_INT64}, {"start_time", COL_TS_NS},
    {"start_ticks", COL_INT64}, {"parent_process_id", COL_STRING}, {"properties", COL_STRING},
    {"insert_time", COL_TS_NS}};
static const col_spec g_streams[] = {
    {"stream_id", COL_STRING}, {"process_id", COL_STRING}, {"tags", COL_STRING},
    {"properties", COL_STRING}, {"insert_time", COL_TS_NS}};
static const col_spec g_blocks[] = {
    {"block_id", COL_STRING},   {"stream_id", COL_STRING},   {"process_id", COL_STRING},
    {"begin_time", COL_TS_NS},  {"end_time", COL_TS_NS},     {"begin_ticks", COL_INT64},
    {"end_ticks", COL_INT64},   {"nb_objects", COL_INT64},   {"object_offset", COL_INT64},
    {"payload_size", COL_INT64}, {"insert_time", COL_TS_NS}};
static const col_spec g_otel_spans[] = {
    {"process_id", D}, {"stream_id", D}, {"trace_id", COL_STRING}, {"span_id", COL_STRING},
    {"parent_span_id", COL_STRING}, {"name", D}, {"scope", D}, {"kind", D},
    {"start", COL_TS_NS}, {"end", COL_TS_NS}, {"duration", COL_INT64}, {"status", D},
    {"status_message", COL_STRING}, {"attributes", COL_STRING}, {"events", COL_STRING}};
#undef D

static const struct {
    const col_spec *cols;
    int n;
} g_specs[LAKE_VIEW_COUNT] = {
    {g_thread_spans, TS_NCOLS},
    {g_async_events, AE_NCOLS},
    {g_log_entries, LE_NCOLS},
    {g_measures, ME_NCOLS},
    {g_processes, (int)(sizeof g_processes / sizeof g_processes[0])},
    {g_streams, (int)(sizeof g_streams / sizeof g_streams[0])},
    {g_blocks, (int)(sizeof g_blocks / sizeof g_blocks[0])},
    {g_otel_spans, OS_NCOLS},
};

static col_schema *g_schemas[LAKE_VIEW_COUNT];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void build_schemas(void)
{
    for (int v = 0; v < LAKE_VIEW_COUNT; v++) {
        col_schema *s = col_schema_new(g_specs[v].n);
        for (int i = 0; s && i < g_specs[v].n; i++) {
            const col_spec *c = &g_specs[v].cols[i];
            /* Dictionary columns are strings carried by COL_DICT vectors. */
            col_schema_set(s, i, c->name, c->type == COL_DICT ? COL_STRING : c->type, 0,
                           c->type == COL_STRING && !g_views[v].partitioned);
        }
        g_schemas[v] = s;
    }
}

const lake_view_def *lake_view_find(const char *name)
{
    for (int v = 0; v < LAKE_VIEW_COUNT; v++)
        if (!strcmp(g_views[v].name, name))
            return &g_views[v];
    return NULL;
}

int lake_instance_canon(const lake_view_def *vd, const char *instance,
                        char out[LAKE_INSTANCE_MAX], errmsg *e)
{
    int takes_global = vd->instance == LAKE_INSTANCE_GLOBAL || !vd->partitioned;
    /* metadata views take an id too: a process (processes, streams, blocks) or a
     * stream (blocks) */
    int takes_id = vd->instance != LAKE_INSTANCE_GLOBAL || !vd->partitioned;
    if (instance && takes_global && !strcmp(instance, "global")) {
        memcpy(out, "global", sizeof "global");
        return SL_OK;
    }
    sl_uuid id;
    if (instance && takes_id && strlen(instance) == 36 && uuid_parse(instance, &id) == 0) {
        uuid_format(&id, out);
        return SL_OK;
    }
    const char *want = !takes_id ? "\"global\""
                       : vd->instance == LAKE_INSTANCE_STREAM ? "a stream id"
                       : takes_global ? "\"global\" or a process or stream id"
                                      : "a process id";
    return errmsg_set(e, SL_EINVAL, "%s: the instance must be %s, not '%.64s'", vd->name, want,
                      instance ? instance : "");
}

const lake_view_def *lake_view_get(lake_view_id id)
{
    return id < LAKE_VIEW_COUNT ? &g_views[id] : NULL;
}

col_schema *lake_view_schema(lake_view_id id)
{
    pthread_once(&g_once, build_schemas);
    return id < LAKE_VIEW_COUNT ? g_schemas[id] : NULL;
}

col_type lake_view_col_type(lake_view_id id, int i)
{
    return g_specs[id].cols[i].type;
}
