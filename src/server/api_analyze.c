/*
 * api_analyze.c - the analysis report over HTTP (see api_analyze.h).
 *
 * The report runs on the request's worker thread in its own SQL session, as
 * POST /api/materialize does: its queries share the engine's limits
 * (work_mem per query, --sql-memory-mb for all), and its parent-link pass is
 * bounded by max_spans (ANALYZE_MAX_SPANS_DEFAULT unless the request asks
 * for fewer).  The reply is the JSON the CLI renders, byte for byte.
 */
#include "server/api_analyze.h"

#include "analyze/analyze.h"
#include "server/api.h"
#include "sql/sql.h"

#include <errno.h>
#include <stdlib.h>

/* A decimal parameter in [lo, hi]; SL_EINVAL naming it otherwise. */
static int int_param(const char *s, const char *what, long long lo, long long hi,
                     long long *out, errmsg *e)
{
    if (!s || !*s)
        return SL_OK;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return errmsg_set(e, SL_EINVAL, "%s=%s: an integer from %lld to %lld", what, s, lo, hi);
    *out = v;
    return SL_OK;
}

int api_analyze_json(struct sql_engine *eng, const api_analyze_req *rq, dbuf *out, int *status,
                     errmsg *e)
{
    analyze_opts o;
    analyze_opts_init(&o);
    o.process_id = rq->process_id;
    int has;
    long long top = o.top_n, max = o.max_spans;
    int rc = api_parse_time(rq->begin, &has, &o.begin_ns, "begin", e);
    if (!rc)
        rc = api_parse_time(rq->end, &has, &o.end_ns, "end", e);
    if (!rc && rq->kinds && *rq->kinds && analyze_kinds_parse(rq->kinds, &o.kinds))
        rc = errmsg_set(e, SL_EINVAL, "kinds=%s: use thread, async or both", rq->kinds);
    if (!rc)
        rc = int_param(rq->top, "top", 1, ANALYZE_MAX_TOP, &top, e);
    if (!rc)
        rc = int_param(rq->max_spans, "max_spans", 1, ANALYZE_MAX_SPANS_DEFAULT, &max, e);
    o.top_n = (int)top;
    o.max_spans = max;
    sql_session *s = NULL;
    if (!rc && sql_session_new(eng, &s))
        rc = errmsg_set(e, SL_ENOMEM, "out of memory");
    if (!rc)
        rc = analyze_run(s, &o, out, e);
    sql_session_free(s);
    *status = rc == SL_ETOOBIG ? 413 : api_http_status(rc);
    return rc;
}
