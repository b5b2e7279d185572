/*
 * api_analyze.h - GET /api/analyze/{process_id}?begin=&end=&kinds=&top=&max_spans=
 * (docs/internals/http-api.md): the analysis report as JSON (src/analyze).
 */
#ifndef SL_SERVER_API_ANALYZE_H
#define SL_SERVER_API_ANALYZE_H

#include "base/dbuf.h"
#include "base/err.h"

struct sql_engine;

/* The query string's values (NULL when absent). */
typedef struct api_analyze_req {
    const char *process_id, *begin, *end, *kinds, *top, *max_spans;
} api_analyze_req;

/*
 * Runs the report in a fresh session of eng and appends its JSON to out.  0,
 * or an error with *status: 400 bad parameter, 404 unknown process, 413 more
 * spans than max_spans, 503 out of memory, 500 otherwise.
 */
int api_analyze_json(struct sql_engine *eng, const api_analyze_req *rq, dbuf *out, int *status,
                     errmsg *e);

#endif
