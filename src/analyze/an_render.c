/*
 * an_render.c - the report's Markdown and HTML renderings, from its JSON.
 *
 * One walker (render) reads the report and speaks to a small document
 * interface (headings, paragraphs, lists, tables); a doc is Markdown or HTML,
 * so the two renderings cannot drift apart.  The HTML page is self-contained:
 * inline CSS, the histogram as inline SVG bars, and the static flame graph
 * SVG inlined; the flame graph's own page is linked when it was written.
 * Every figure shown is the JSON's; durations are also shown for people
 * ("3.41 us") next to the exact nanoseconds where a table has room.
 */
#include "analyze/an_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_TABLE_ROWS 50

/* ------------------------------------------------------------ the document */

typedef struct doc {
    dbuf *b;
    bool html;
    int rc;
    int ncols;
} doc;

static void put(doc *d, const char *s)
{
    if (!d->rc)
        d->rc = dbuf_append_str(d->b, s);
}

static void putf(doc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(doc *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (!d->rc)
        d->rc = dbuf_vprintf(d->b, fmt, ap);
    va_end(ap);
}

/* Text as the document's text: HTML-escaped, or Markdown with its markup characters escaped. */
static void text(doc *d, const char *s)
{
    if (d->rc || !s)
        return;
    if (d->html) {
        d->rc = an_xml_text(d->b, s, strlen(s));
        return;
    }
    for (; *s && !d->rc; s++) {
        if (strchr("\\`*_[]<>|#", *s))
            d->rc = dbuf_append_byte(d->b, '\\');
        if (!d->rc)
            d->rc = dbuf_append_byte(d->b, *s == '\n' || *s == '\r' ? ' ' : (uint8_t)*s);
    }
}

static void heading(doc *d, int level, const char *s)
{
    if (d->html) {
        putf(d, "<h%d>", level);
        text(d, s);
        putf(d, "</h%d>\n", level);
    } else {
        putf(d, "%s%.*s ", d->b->len ? "\n" : "", level, "######");
        text(d, s);
        put(d, "\n\n");
    }
}

static void para(doc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void para(doc *d, const char *fmt, ...)
{
    char s[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s, sizeof s, fmt, ap);
    va_end(ap);
    put(d, d->html ? "<p>" : "");
    text(d, s);
    put(d, d->html ? "</p>\n" : "\n\n");
}

static void list_begin(doc *d)
{
    put(d, d->html ? "<ul>\n" : "");
}

static void item(doc *d, const char *s)
{
    put(d, d->html ? "<li>" : "- ");
    text(d, s);
    put(d, d->html ? "</li>\n" : "\n");
}

static void list_end(doc *d)
{
    put(d, d->html ? "</ul>\n" : "\n");
}

static void table_begin(doc *d, int n, const char *const *heads)
{
    d->ncols = n;
    put(d, d->html ? "<table>\n<tr>" : "|");
    for (int i = 0; i < n; i++) {
        put(d, d->html ? "<th>" : " ");
        text(d, heads[i]);
        put(d, d->html ? "</th>" : " |");
    }
    put(d, d->html ? "</tr>\n" : "\n|");
    for (int i = 0; i < n && !d->html; i++)
        put(d, "---|");
    put(d, d->html ? "" : "\n");
}

static void row(doc *d, const char *const *cells)
{
    put(d, d->html ? "<tr>" : "|");
    for (int i = 0; i < d->ncols; i++) {
        put(d, d->html ? "<td>" : " ");
        text(d, cells[i]);
        put(d, d->html ? "</td>" : " |");
    }
    put(d, d->html ? "</tr>\n" : "\n");
}

static void table_end(doc *d)
{
    put(d, d->html ? "</table>\n" : "\n");
}

static void link_item(doc *d, const char *label, const char *href)
{
    if (!href)
        return;
    if (d->html) {
        put(d, "<li><a href=\"");
        text(d, href);
        put(d, "\">");
        text(d, label);
        put(d, "</a></li>\n");
    } else {
        putf(d, "- [%s](%s)\n", label, href);
    }
}

/* ------------------------------------------------------------ reading the JSON */

static const json_val *obj(const json_val *o, const char *k)
{
    const json_val *v = o ? json_get(o, k) : NULL;
    return v && v->type != JSON_NULL ? v : NULL;
}

static double num(const json_val *o, const char *k)
{
    const json_val *v = obj(o, k);
    return v && v->type == JSON_NUM ? v->num : NAN;
}

static const char *str(const json_val *o, const char *k)
{
    const json_val *v = obj(o, k);
    return v && v->type == JSON_STR ? v->str : NULL;
}

/* The same, "?" when absent: for sentences. */
static const char *sq(const json_val *o, const char *k)
{
    const char *s = str(o, k);
    return s ? s : "?";
}

/* Cell text of a number: an integer, "-" for null. */
static const char *fint(char *buf, size_t n, double v)
{
    if (isfinite(v))
        snprintf(buf, n, "%.0f", v);
    else
        snprintf(buf, n, "-");
    return buf;
}

static const char *fdur(char *buf, size_t n, double v)
{
    an_fmt_ns(v, buf, n);
    return buf;
}

static const char *fpct(char *buf, size_t n, double v)
{
    if (isfinite(v))
        snprintf(buf, n, "%.1f%%", 100 * v);
    else
        snprintf(buf, n, "-");
    return buf;
}

/* ------------------------------------------------------------ sections */

static void r_head(doc *d, const json_val *r)
{
    const json_val *p = obj(r, "process"), *rg = obj(r, "range");
    char title[512];
    snprintf(title, sizeof title, "Where the time went: %s", sq(p, "exe"));
    heading(d, 1, title);
    para(d, "Process %s (%s on %s, user %s), started %s. Spans: %s. Range: %s.",
         sq(p, "process_id"), sq(p, "exe"), sq(p, "computer"), sq(p, "username"),
         sq(p, "start_time"), sq(r, "kinds"),
         obj(rg, "begin_ns") || obj(rg, "end_ns") ? "the spans overlapping the time range given"
                                                  : "the whole process");
    heading(d, 2, "Findings");
    const json_val *f = obj(r, "findings");
    if (!f || !f->len)
        para(d, "None of the rules at the end of this report held.");
    list_begin(d);
    for (size_t i = 0; f && i < f->len; i++)
        item(d, str(&f->items[i], "text"));
    list_end(d);
}

static void r_dataset(doc *d, const json_val *r)
{
    const json_val *ds = obj(r, "dataset");
    heading(d, 2, "Dataset");
    static const char *const heads[] = {"figure", "value"};
    table_begin(d, 2, heads);
    static const char *const keys[] = {
        "events", "thread_events", "async_events", "spans", "thread_spans", "async_spans",
        "spans_with_duration", "complete_spans", "unmatched_async_begins",
        "unmatched_async_ends", "unmatched_thread_events", "threads", "targets", "names",
        "files"};
    char b[64];
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *cells[2] = {keys[i], fint(b, sizeof b, num(ds, keys[i]))};
        row(d, cells);
    }
    const char *c1[2] = {"first begin", str(ds, "first_begin")};
    row(d, c1);
    const char *c2[2] = {"last end", str(ds, "last_end")};
    row(d, c2);
    const char *c3[2] = {"time covered", fdur(b, sizeof b, num(ds, "covered_ns"))};
    row(d, c3);
    table_end(d);
    if (!obj(ds, "events"))
        para(d, "Events are counted over the whole process: with a time range they are not "
                "(blocks are not cut by time), nor are the thread spans' unmatched events.");
}

static void r_hist_svg(doc *d, const json_val *h)
{
    double mx = 0;
    for (size_t i = 0; i < h->len; i++)
        mx = fmax(mx, num(&h->items[i], "count"));
    int height = 20 * (int)h->len + 10;
    putf(d, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"%d\" "
            "font-family=\"monospace\" font-size=\"11\">\n", height);
    for (size_t i = 0; i < h->len; i++) {
        const json_val *k = &h->items[i];
        char lo[32], n[32];
        double w = mx > 0 ? 440 * num(k, "count") / mx : 0;
        putf(d, "<text x=\"0\" y=\"%zu\">&gt;= %s</text><rect x=\"120\" y=\"%zu\" width=\"%.1f\" "
                "height=\"16\" fill=\"#e8743b\"/><text x=\"%.1f\" y=\"%zu\">%s</text>\n",
             20 * i + 17, fdur(lo, sizeof lo, num(k, "lo_ns")), 20 * i + 5, w, 125 + w,
             20 * i + 17, fint(n, sizeof n, num(k, "count")));
    }
    put(d, "</svg>\n");
}

static void r_durations(doc *d, const json_val *r)
{
    const json_val *du = obj(r, "durations");
    heading(d, 2, "Durations");
    static const char *const heads[] = {"count", "mean", "min", "max", "stddev", "p50", "p90",
                                        "p99"};
    static const char *const keys[] = {"mean_ns", "min_ns", "max_ns", "stddev_ns", "p50_ns",
                                       "p90_ns", "p99_ns"};
    char b[8][32];
    const char *cells[8] = {fint(b[0], 32, num(du, "count"))};
    for (int i = 0; i < 7; i++)
        cells[i + 1] = fdur(b[i + 1], 32, num(du, keys[i]));
    table_begin(d, 8, heads);
    row(d, cells);
    table_end(d);
    para(d, "Quantiles are %s.", sq(du, "quantiles"));
    heading(d, 3, "Histogram (log2 buckets: from, up to but excluding twice that)");
    const json_val *h = obj(du, "histogram");
    if (d->html && h && h->len)
        r_hist_svg(d, h);
    static const char *const hh[] = {"from", "to", "spans"};
    table_begin(d, 3, hh);
    for (size_t i = 0; h && i < h->len; i++) {
        char lo[32], hi[32], n[32];
        const char *c[3] = {fdur(lo, 32, num(&h->items[i], "lo_ns")),
                            fdur(hi, 32, num(&h->items[i], "hi_ns")),
                            fint(n, 32, num(&h->items[i], "count"))};
        row(d, c);
    }
    table_end(d);
}

static void r_top(doc *d, const json_val *r)
{
    const json_val *t = obj(r, "top");
    char title[64];
    snprintf(title, sizeof title, "Longest spans (top %zu)", t ? t->len : 0);
    heading(d, 2, title);
    static const char *const heads[] = {"#", "thread", "id", "name", "target", "start",
                                        "duration", "ns"};
    table_begin(d, 8, heads);
    for (size_t i = 0; t && i < t->len; i++) {
        const json_val *s = &t->items[i];
        char n[24], id[32], du[32], ns[32];
        snprintf(n, sizeof n, "%zu", i + 1);
        const char *c[8] = {n, str(s, "thread") ? str(s, "thread") : "(async)",
                            fint(id, 32, num(s, "id")), str(s, "name"), str(s, "target"),
                            str(s, "begin"), fdur(du, 32, num(s, "duration_ns")),
                            fint(ns, 32, num(s, "duration_ns"))};
        row(d, c);
    }
    table_end(d);
}

static void r_groups(doc *d, const json_val *r, const char *key, const char *field,
                     const char *title)
{
    const json_val *g = obj(r, key);
    heading(d, 2, title);
    static const char *const heads[] = {"", "executions", "total", "mean", "max", "stddev",
                                        "p99", "self", "share", "inclusive"};
    const char *h[10];
    memcpy(h, heads, sizeof h);
    h[0] = field;
    table_begin(d, 10, h);
    size_t n = g ? g->len : 0;
    for (size_t i = 0; i < n && i < MAX_TABLE_ROWS; i++) {
        const json_val *x = &g->items[i];
        char b[9][32];
        const char *c[10] = {str(x, field),
                             fint(b[0], 32, num(x, "executions")),
                             fdur(b[1], 32, num(x, "total_ns")),
                             fdur(b[2], 32, num(x, "mean_ns")),
                             fdur(b[3], 32, num(x, "max_ns")),
                             fdur(b[4], 32, num(x, "stddev_ns")),
                             fdur(b[5], 32, num(x, "p99_ns")),
                             fdur(b[6], 32, num(x, "self_ns")),
                             fpct(b[7], 32, num(x, "share")),
                             fpct(b[8], 32, num(x, "inclusive_share"))};
        row(d, c);
    }
    table_end(d);
    if (n > MAX_TABLE_ROWS)
        para(d, "... and %zu more in the JSON report.", n - MAX_TABLE_ROWS);
}

static void r_structure(doc *d, const json_val *r)
{
    const json_val *c = obj(r, "concurrency"), *h = obj(r, "hierarchy"), *t = obj(r, "time");
    heading(d, 2, "Concurrency");
    list_begin(d);
    static const char *const which[2] = {"spans", "roots"};
    for (int i = 0; i < 2; i++) {
        const json_val *x = obj(c, which[i]);
        char s[512], dur[32];
        snprintf(s, sizeof s, "%s: at most %.0f open at once, first at %s for %s; on average "
                 "%.2f.", i ? "Root spans" : "All spans", num(x, "max"),
                 sq(x, "max_at"),
                 fdur(dur, sizeof dur, num(x, "max_for_ns")), num(x, "mean"));
        item(d, s);
    }
    list_end(d);
    heading(d, 2, "Hierarchy");
    char s[512];
    snprintf(s, sizeof s, "%.0f roots, %.0f children; %.0f spans whose parent is not in the "
             "data (counted as roots), %.0f parent cycles cut; deepest nesting %.0f.",
             num(h, "roots"), num(h, "children"), num(h, "orphans"), num(h, "cycles"),
             num(h, "max_depth"));
    para(d, "%s", s);
    static const char *const dh[] = {"depth", "spans"};
    table_begin(d, 2, dh);
    const json_val *ds = obj(h, "depths");
    for (size_t i = 0; ds && i < ds->len && i < MAX_TABLE_ROWS; i++) {
        char a[32], b[32];
        const char *cells[2] = {fint(a, 32, num(&ds->items[i], "depth")),
                                fint(b, 32, num(&ds->items[i], "spans"))};
        row(d, cells);
    }
    table_end(d);
    char a[32], b[32], o[32];
    para(d, "Time of the root spans: %s; self time summed: %s; children's time past their "
            "parent's end (async spans only, clipped from self time): %s.",
         fdur(a, 32, num(t, "root_total_ns")), fdur(b, 32, num(t, "self_total_ns")),
         fdur(o, 32, num(t, "overlap_ns")));
}

static void r_flame(doc *d, const json_val *r, const analyze_links *l)
{
    const json_val *f = obj(r, "flame");
    heading(d, 2, "Flame graph");
    char tot[32];
    para(d, "%.0f stacks; the root's total is the self time summed, %s.", num(f, "stacks"),
         fdur(tot, 32, num(f, "total_ns")));
    if (l && (l->folded || l->flame_json || l->flame_html || l->flame_svg)) {
        list_begin(d);
        link_item(d, "flame graph (interactive HTML)", l->flame_html);
        link_item(d, "flame graph (SVG)", l->flame_svg);
        link_item(d, "folded stacks (flamegraph.pl)", l->folded);
        link_item(d, "d3-flame-graph JSON", l->flame_json);
        list_end(d);
    }
    if (!d->html || d->rc)
        return;
    an_flame *fl;
    if (analyze_flame_build(r, &fl, NULL) == SL_OK) {
        dbuf svg;
        dbuf_init(&svg, (size_t)1 << 30);
        /* inline: the document's own <svg> element, without the XML declaration */
        if (!analyze_flame_svg(fl, "", &svg)) {
            const char *p = strstr((const char *)svg.p, "<svg");
            put(d, p ? p : "");
        }
        dbuf_free(&svg);
        analyze_flame_free(fl);
    }
}

static void r_rules(doc *d, const json_val *r)
{
    heading(d, 2, "Rules");
    para(d, "A sentence under Findings appears only when its rule held. p99 per name and per "
            "target: %s.", sq(r, "p99_method"));
    const json_val *rs = obj(r, "rules");
    list_begin(d);
    for (size_t i = 0; rs && i < rs->len; i++) {
        const json_val *x = &rs->items[i], *held = json_get(x, "held");
        char s[512];
        snprintf(s, sizeof s, "%s: %s (%s)", sq(x, "id"), sq(x, "rule"),
                 held && held->type == JSON_BOOL && held->b ? "held" : "did not hold");
        item(d, s);
    }
    list_end(d);
}

static int render(doc *d, const json_val *r, const analyze_links *l)
{
    if (!r || r->type != JSON_OBJ || !obj(r, "dataset"))
        return SL_EINVAL;
    r_head(d, r);
    r_dataset(d, r);
    r_durations(d, r);
    r_top(d, r);
    r_groups(d, r, "by_name", "name", "By name");
    r_groups(d, r, "by_target", "target", "By target");
    r_structure(d, r);
    r_flame(d, r, l);
    r_rules(d, r);
    return d->rc;
}

int analyze_render_md(const json_val *report, const analyze_links *links, dbuf *out)
{
    doc d = {out, false, SL_OK, 0};
    return render(&d, report, links);
}

int analyze_render_html(const json_val *report, const analyze_links *links, dbuf *out)
{
    doc d = {out, true, SL_OK, 0};
    const char *exe = str(obj(report, "process"), "exe");
    put(&d, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
    text(&d, "streamlake analyze: ");
    text(&d, exe ? exe : "?");
    put(&d, "</title>\n<style>\nbody{font:14px sans-serif;margin:16px;max-width:1250px}\n"
            "table{border-collapse:collapse;margin:8px 0}\n"
            "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}\n"
            "td:first-child,th:first-child{text-align:left}\nth{background:#f0f0f0}\n"
            "</style>\n</head>\n<body>\n");
    int rc = render(&d, report, links);
    put(&d, "</body>\n</html>\n");
    return rc ? rc : d.rc;
}
