/*
 * analyze.h - where a process's time went: the report of `streamlake analyze`
 * and of GET /api/analyze/{process_id} (docs/analyze.md).
 *
 * One computation, three renderings.  analyze_run asks the SQL engine for
 * everything an aggregate answers (counts, sums, extremes, standard
 * deviations, per-name and per-target groups with approx_percentile, the
 * longest spans, depths, unmatched async events), then walks the spans'
 * parent links once in C (an_tree.c) for what needs them: self time, the
 * flame graph's stacks, concurrency, roots and children, the exact duration
 * quantiles and the histogram.  The result is one JSON document (the
 * report's canonical form, version ANALYZE_REPORT_VERSION); the Markdown and
 * HTML renderings (an_render.c) and the flame graph files (an_flame.c) are
 * made from that JSON, so a report computed by a server renders the same on
 * the client.
 *
 * Dependencies point downward: the CLI and the server call this module, it
 * calls the SQL engine (sql.h) and base.
 */
#ifndef SL_ANALYZE_ANALYZE_H
#define SL_ANALYZE_ANALYZE_H

#include "base/dbuf.h"
#include "base/err.h"
#include "base/json.h"

#include <stdatomic.h>
#include <stdint.h>

#define ANALYZE_REPORT_VERSION 1
/* Spans one report may hold in its parent-link pass (about 64 bytes each). */
#define ANALYZE_MAX_SPANS_DEFAULT (64LL << 20)
/* Rows kept in by_name and by_target (the largest totals first). */
#define ANALYZE_MAX_GROUPS 10000
/* The longest spans listed at most (--top). */
#define ANALYZE_MAX_TOP 10000

enum { ANALYZE_THREAD = 1, ANALYZE_ASYNC = 2, ANALYZE_BOTH = 3 };

struct sql_session;

/* Where a report's own time went (for benchmarks), in ns of wall time. */
typedef struct analyze_timing {
    int64_t aggregates_ns; /* the aggregate statements */
    int64_t links_ns;      /* the statement feeding the parent-link pass, and the loading */
    int64_t compute_ns;    /* the parent-link pass */
    int64_t json_ns;       /* writing the JSON */
} analyze_timing;

typedef struct analyze_opts {
    const char *process_id;        /* uuid text, any accepted form */
    int64_t begin_ns, end_ns;      /* INT64_MIN / INT64_MAX: no bound */
    unsigned kinds;                /* ANALYZE_THREAD | ANALYZE_ASYNC */
    int top_n;                     /* longest spans listed (1 .. ANALYZE_MAX_TOP) */
    int64_t max_spans;             /* cap of the parent-link pass; 0: the default */
    const _Atomic uint8_t *cancel; /* optional: stops the queries */
    analyze_timing *timing;        /* optional: filled in */
} analyze_opts;

void analyze_opts_init(analyze_opts *o);
/* "thread", "async", "both" to ANALYZE_* bits: 0, or SL_EINVAL. */
int analyze_kinds_parse(const char *s, unsigned *out);

/*
 * Computes the report of one process and appends its JSON to out.  0, or
 * SL_EINVAL (bad option, with a message), SL_ENOTFOUND (no such process),
 * SL_ETOOBIG (more spans than max_spans), SL_ENOMEM, SL_ECANCELED, or
 * SL_EINTERNAL for an SQL failure (the SQL error's message in e).
 */
int analyze_run(struct sql_session *s, const analyze_opts *o, dbuf *out, errmsg *e);

/* ---- renderings of a report's JSON (an_render.c, an_flame.c) ---- */

typedef struct analyze_links {
    const char *folded, *flame_json, *flame_html, *flame_svg; /* relative paths, or NULL */
} analyze_links;

/* Markdown and a self-contained HTML page of the report; links: the flame files. */
int analyze_render_md(const json_val *report, const analyze_links *links, dbuf *out);
int analyze_render_html(const json_val *report, const analyze_links *links, dbuf *out);

/*
 * The flame graph of the report's "flame" section: folded stacks (one
 * "frame;frame;... self_ns" line per stack, flamegraph.pl's input), the
 * d3-flame-graph JSON tree ({"name", "value", "children"}), a static SVG,
 * and an HTML page that draws it offline with click-to-zoom.
 */
typedef struct an_flame an_flame;
int analyze_flame_build(const json_val *report, an_flame **out, errmsg *e);
void analyze_flame_free(an_flame *f);
/* The root's value: the sum of every stack's self time. */
int64_t analyze_flame_total(const an_flame *f);
int analyze_flame_folded(const an_flame *f, dbuf *out);
int analyze_flame_json(const an_flame *f, dbuf *out);
int analyze_flame_svg(const an_flame *f, const char *title, dbuf *out);
int analyze_flame_html(const an_flame *f, const char *title, dbuf *out);

#endif
