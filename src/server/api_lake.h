/*
 * api_lake.h - the JSON/CSV API over the lake (docs/internals/http-api.md).
 *
 *   GET  /api/views/{view}/{instance}?begin=&end=&format=csv|json|table
 *   POST /api/materialize[?process_id=ID]
 *   GET  /api/stats
 *
 * A view is streamed: api_view_open materializes what is missing and opens a
 * scan (so errors such as an unknown instance become a status before any
 * byte is sent); api_view_read then fills the HTTP response a buffer at a
 * time, one batch of rows formatted at a time, so memory stays bounded
 * whatever the view's size.
 */
#ifndef SL_SERVER_API_LAKE_H
#define SL_SERVER_API_LAKE_H

#include "base/budget.h"
#include "base/dbuf.h"
#include "base/err.h"
#include "lake/lake.h"

#include <sys/types.h>

typedef struct api_view api_view;

/*
 * Parses the request, opens the scan and takes the response's memory from the
 * budget (its scan's bound and a text buffer; given back by api_view_close).
 * begin/end (may be NULL) are RFC 3339 times or integer ns; format NULL means
 * csv.  On failure *status is the HTTP status to answer (400 bad parameters,
 * 404 unknown view or instance, 503 budget exhausted, 500).
 */
int api_view_open(lake *l, budget *bud, const char *view, const char *instance,
                  const char *begin, const char *end, const char *format, api_view **out,
                  int *status, errmsg *e);
const char *api_view_content_type(const api_view *v);
/* Copies up to max bytes of the response; 0 at the end, -1 on an error (logged). */
ssize_t api_view_read(api_view *v, char *buf, size_t max);
void api_view_close(api_view *v);

/*
 * Materializes one process (process_id not NULL) or every process; JSON summary in
 * out.  A process or view that cannot be built is listed under "failures" with
 * its reason, and every other one is still built (the reply is 200 either way;
 * "failed" counts them).
 */
int api_materialize_json(lake *l, meta *m, budget *bud, const char *process_id, unsigned jobs,
                         dbuf *out, int *status, errmsg *e);

struct api_trace_stats;
struct sql_engine;
struct objstore;
/* GET /api/stats: the lake's caches and builds, the traces, SQL (sql may be NULL), the
 * object store's requests (os may be NULL) and the process's memory. */
int api_stats_json(lake *l, struct api_trace_stats *traces, budget *bud, struct sql_engine *sql,
                   struct objstore *os, dbuf *out, errmsg *e);

#endif
