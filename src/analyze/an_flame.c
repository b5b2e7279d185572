/*
 * an_flame.c - the flame graph files of a report: folded stacks, the
 * d3-flame-graph JSON tree, a static SVG and an HTML page that works offline.
 *
 * Input is the report's "flame"."folded" array: one "f0;f1;...;fk value"
 * line per stack (value: the self time, in ns, of the spans whose stack it
 * is; f0 is the thread's name, or "async").  The lines are merged into a
 * tree whose node totals are the sums of their subtree's self times, so the
 * root's total is the sum of every value: for thread spans, which nest, the
 * total time of the root spans.
 *
 * The tree is kept in pre-order (children sorted by name), which every
 * output walks without recursion: a node's subtree is the next size[i]
 * nodes.  Folded output is flamegraph.pl's input format; the JSON is
 * d3-flame-graph's {"name", "value", "children"} (value = total); the SVG
 * draws a rectangle per node at least MIN_SVG_PX wide, root at the bottom,
 * each with a <title> for hover; the HTML page holds the tree as flat arrays
 * and draws it on a canvas with its own small script (click to zoom, hover
 * for totals), no external fetch.
 */
#include "analyze/an_int.h"

#include "base/alloc.h"
#include "base/hash.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_SVG_PX 0.3
#define SVG_WIDTH 1200
#define SVG_ROW 16

typedef struct fnode {
    uint32_t parent, name_off, name_len;
    int64_t total, self;
} fnode;

struct an_flame {
    fnode *n;
    uint32_t nn, cap;
    dbuf names;
    u64map kids;      /* hash of (parent, name) -> node (several per hash) */
    uint32_t *pre;    /* node ids in pre-order */
    uint32_t *size;   /* by pre-order index: nodes in the subtree */
    uint32_t *depth;  /* by pre-order index */
    int64_t *x;       /* by pre-order index: ns from the left edge */
    uint32_t *ppre;   /* by pre-order index: the parent's pre-order index */
    uint32_t max_depth;
};

static int add_node(an_flame *f, uint32_t parent, const char *name, size_t len, uint64_t h,
                    uint32_t *out)
{
    if (f->nn == f->cap) {
        uint32_t nc = f->cap ? f->cap * 2 : 256;
        fnode *n = sl_realloc(f->n, sizeof *n * nc);
        if (!n)
            return SL_ENOMEM;
        f->n = n;
        f->cap = nc;
    }
    uint32_t off = (uint32_t)f->names.len;
    int rc = f->names.p ? SL_OK : dbuf_reserve(&f->names, 4096);
    if (!rc && len)
        rc = dbuf_append(&f->names, name, len);
    if (!rc && f->nn)
        rc = u64map_put_multi(&f->kids, h, f->nn);
    if (rc)
        return rc;
    f->n[f->nn] = (fnode){parent, off, (uint32_t)len, 0, 0};
    *out = f->nn++;
    return SL_OK;
}

static int child(an_flame *f, uint32_t parent, const char *name, size_t len, uint32_t *out)
{
    uint64_t h = hash64_seed(name, len, parent);
    size_t pos = (size_t)-1;
    uint32_t id;
    while (u64map_find_next(&f->kids, h, &pos, &id)) {
        const fnode *c = &f->n[id];
        if (c->parent == parent && c->name_len == len &&
            (!len || !memcmp(f->names.p + c->name_off, name, len))) {
            *out = id;
            return SL_OK;
        }
    }
    return add_node(f, parent, name, len, h, out);
}

/* One folded line into the tree: SL_EINVAL if it does not end in " value". */
static int add_line(an_flame *f, const char *s, size_t n)
{
    size_t sp = n;
    while (sp > 0 && s[sp - 1] != ' ')
        sp--;
    if (sp == 0 || sp == n)
        return SL_EINVAL;
    int64_t v = 0;
    for (size_t i = sp; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (INT64_MAX - 9) / 10)
            return SL_EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    uint32_t node = 0;
    f->n[0].total += v;
    size_t a = 0, stop = sp - 1;
    while (a <= stop) {
        size_t b = a;
        while (b < stop && s[b] != ';')
            b++;
        int rc = child(f, node, s + a, b - a, &node);
        if (rc)
            return rc;
        f->n[node].total += v;
        a = b + 1;
    }
    f->n[node].self += v;
    return SL_OK;
}

typedef struct kid {
    uint32_t parent, id;
    const char *name;
    uint32_t len;
} kid;

static int kid_cmp(const void *pa, const void *pb)
{
    const kid *a = pa, *b = pb;
    if (a->parent != b->parent)
        return a->parent < b->parent ? -1 : 1;
    uint32_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->name, b->name, n) : 0;
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

/* Orders the tree: children by name, nodes in pre-order with depth and x. */
static int order(an_flame *f)
{
    uint32_t nn = f->nn;
    kid *k = sl_malloc(sizeof *k * nn);
    uint32_t *first = sl_malloc(sizeof *first * (nn + 1u));
    uint32_t *stack = sl_malloc(sizeof *stack * nn);
    f->pre = sl_malloc(sizeof *f->pre * nn);
    f->size = sl_malloc(sizeof *f->size * nn);
    f->depth = sl_malloc(sizeof *f->depth * nn);
    f->x = sl_malloc(sizeof *f->x * nn);
    f->ppre = sl_malloc(sizeof *f->ppre * nn);
    int rc = k && first && stack && f->pre && f->size && f->depth && f->x && f->ppre
                 ? SL_OK : SL_ENOMEM;
    if (!rc) {
        for (uint32_t i = 1; i < nn; i++)
            k[i - 1] = (kid){f->n[i].parent, i, (const char *)f->names.p + f->n[i].name_off,
                             f->n[i].name_len};
        qsort(k, nn - 1, sizeof *k, kid_cmp);
        /* first[p] .. first[p + 1]: the children of p in k */
        memset(first, 0, sizeof *first * (nn + 1u));
        for (uint32_t i = 0; i + 1 < nn; i++)
            first[k[i].parent + 1]++;
        for (uint32_t p = 0; p < nn; p++)
            first[p + 1] += first[p];
        /* pre-order by an explicit stack: push children in reverse */
        uint32_t ns = 0, np = 0;
        stack[ns++] = 0;
        while (ns) {
            uint32_t id = stack[--ns];
            f->pre[np++] = id;
            for (uint32_t j = first[id + 1]; j > first[id]; j--)
                stack[ns++] = k[j - 1].id;
        }
        /* sizes backwards; depth, x and the parent's index forwards */
        uint32_t *at = first; /* reused: node id -> pre-order index */
        for (uint32_t i = 0; i < nn; i++)
            at[f->pre[i]] = i;
        memset(f->size, 0, sizeof *f->size * nn);
        for (uint32_t i = nn; i-- > 0;) {
            f->size[i] += 1;
            if (i)
                f->size[at[f->n[f->pre[i]].parent]] += f->size[i];
        }
        f->depth[0] = 0;
        f->x[0] = 0;
        f->ppre[0] = 0;
        f->max_depth = 0;
        /* each parent hands out x from its left edge: its next child starts at cursor */
        int64_t *cursor = (int64_t *)k; /* reused: k is no longer needed, and 24 >= 8 bytes */
        cursor[0] = 0;
        for (uint32_t i = 1; i < nn; i++) {
            uint32_t p = at[f->n[f->pre[i]].parent];
            f->ppre[i] = p;
            f->depth[i] = f->depth[p] + 1;
            f->x[i] = cursor[p];
            cursor[p] += f->n[f->pre[i]].total;
            cursor[i] = f->x[i];
            if (f->depth[i] > f->max_depth)
                f->max_depth = f->depth[i];
        }
    }
    sl_free(k);
    sl_free(first);
    sl_free(stack);
    return rc;
}

void analyze_flame_free(an_flame *f)
{
    if (!f)
        return;
    sl_free(f->n);
    dbuf_free(&f->names);
    u64map_free(&f->kids);
    void *arrs[] = {f->pre, f->size, f->depth, f->x, f->ppre};
    for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++)
        sl_free(arrs[i]);
    sl_free(f);
}

int analyze_flame_build(const json_val *report, an_flame **out, errmsg *e)
{
    const json_val *fl = report ? json_get(report, "flame") : NULL;
    const json_val *lines = fl ? json_get(fl, "folded") : NULL;
    if (!lines || lines->type != JSON_ARR)
        return errmsg_set(e, SL_EINVAL, "the report has no flame.folded array");
    an_flame *f = sl_calloc(1, sizeof *f);
    if (!f)
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    dbuf_init(&f->names, (size_t)1 << 31);
    u64map_init(&f->kids);
    uint32_t root;
    int rc = add_node(f, 0, "all", 3, 0, &root);
    for (size_t i = 0; i < lines->len && !rc; i++) {
        const json_val *l = &lines->items[i];
        if (l->type != JSON_STR || add_line(f, l->str, l->len))
            rc = errmsg_set(e, SL_EINVAL, "flame.folded[%zu] is not \"frames value\"", i);
    }
    if (!rc && (rc = order(f)))
        errmsg_set(e, rc, "out of memory");
    if (rc) {
        analyze_flame_free(f);
        return rc;
    }
    *out = f;
    return SL_OK;
}

int64_t analyze_flame_total(const an_flame *f)
{
    return f->n[0].total;
}

static const char *name_of(const an_flame *f, uint32_t id, size_t *len)
{
    *len = f->n[id].name_len;
    return (const char *)f->names.p + f->n[id].name_off;
}

int analyze_flame_folded(const an_flame *f, dbuf *out)
{
    /* every node with self time, and every leaf, as its path from the root */
    uint32_t *path = sl_malloc(sizeof *path * (f->max_depth + 1u));
    int rc = path ? SL_OK : SL_ENOMEM;
    for (uint32_t i = 1; i < f->nn && !rc; i++) {
        const fnode *nd = &f->n[f->pre[i]];
        if (!nd->self && f->size[i] > 1)
            continue;
        uint32_t np = 0;
        for (uint32_t p = i; p != 0; p = f->ppre[p])
            path[np++] = p;
        while (np > 0 && !rc) {
            size_t len;
            const char *s = name_of(f, f->pre[path[--np]], &len);
            rc = dbuf_append(out, s, len);
            if (!rc)
                rc = dbuf_append_byte(out, np ? ';' : ' ');
        }
        if (!rc)
            rc = dbuf_printf(out, "%lld\n", (long long)nd->self);
    }
    sl_free(path);
    return rc;
}

/*
 * d3-flame-graph's tree, written in pre-order without recursion: a node opens
 * its object and its children array; where a subtree ends, it closes its own
 * and those of the ancestors it was the last descendant of.
 */
int analyze_flame_json(const an_flame *f, dbuf *out)
{
    int rc = SL_OK;
    for (uint32_t i = 0; i < f->nn && !rc; i++) {
        size_t len;
        const char *s = name_of(f, f->pre[i], &len);
        rc = dbuf_append_str(out, i && i != f->ppre[i] + 1 ? ",{\"name\":" : "{\"name\":");
        if (!rc)
            rc = json_escape(out, s, len);
        if (!rc)
            rc = dbuf_printf(out, ",\"value\":%lld,\"children\":[",
                             (long long)f->n[f->pre[i]].total);
        for (uint32_t j = i; f->size[i] == 1 && !rc;) {
            rc = dbuf_append_str(out, "]}");
            if (j == 0)
                break;
            uint32_t p = f->ppre[j];
            if (p + f->size[p] != j + f->size[j])
                break; /* j is not the last of p's subtree */
            j = p;
        }
    }
    if (!rc)
        rc = dbuf_append_byte(out, '\n');
    return rc;
}

/* ---- SVG ---- */

/* Text for XML (element content and attribute values): escaped, control bytes as '?'. */
void an_fmt_ns(double ns, char *out, size_t n)
{
    double a = fabs(ns);
    if (!isfinite(ns))
        snprintf(out, n, "-");
    else if (a < 1e3)
        snprintf(out, n, "%.0f ns", ns);
    else if (a < 1e6)
        snprintf(out, n, "%.2f us", ns / 1e3);
    else if (a < 1e9)
        snprintf(out, n, "%.2f ms", ns / 1e6);
    else
        snprintf(out, n, "%.3f s", ns / 1e9);
}

int an_xml_text(dbuf *b, const char *s, size_t n)
{
    int rc = SL_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        unsigned char c = (unsigned char)s[i];
        rc = c == '&'   ? dbuf_append_str(b, "&amp;")
             : c == '<' ? dbuf_append_str(b, "&lt;")
             : c == '>' ? dbuf_append_str(b, "&gt;")
             : c == '"' ? dbuf_append_str(b, "&quot;")
             : c < 0x20 || c == 0x7f ? dbuf_append_byte(b, '?')
                                     : dbuf_append_byte(b, c);
    }
    return rc;
}

/* A warm colour from the name, so one frame keeps its colour across the graph. */
static void color_of(const char *s, size_t n, char out[8])
{
    uint64_t h = hash64(s, n);
    snprintf(out, 8, "#%02x%02x%02x", 205 + (unsigned)(h % 50), 80 + (unsigned)((h >> 8) % 150),
             (unsigned)((h >> 16) % 55));
}

/* At most max_chars characters of s (cut on a UTF-8 boundary), ".." when cut. */
static size_t label_len(const char *s, size_t n, size_t max_chars, int *cut)
{
    size_t chars = 0, i = 0;
    *cut = 0;
    for (; i < n; i++) {
        if (((unsigned char)s[i] & 0xC0) == 0x80)
            continue;
        if (chars == max_chars) {
            *cut = 1;
            break;
        }
        chars++;
    }
    return i;
}

static int svg_node(const an_flame *f, uint32_t i, double x0, double w, double y, dbuf *out)
{
    size_t len;
    const char *s = name_of(f, f->pre[i], &len);
    const fnode *nd = &f->n[f->pre[i]];
    char col[8], tot[32], self[32];
    color_of(s, len, col);
    an_fmt_ns((double)nd->total, tot, sizeof tot);
    an_fmt_ns((double)nd->self, self, sizeof self);
    double pct = f->n[0].total ? 100.0 * (double)nd->total / (double)f->n[0].total : 0;
    int rc = dbuf_append_str(out, "<g><title>");
    if (!rc)
        rc = an_xml_text(out, s, len);
    if (!rc)
        rc = dbuf_printf(out, ": total %s (%.2f%%), self %s</title><rect x=\"%.2f\" y=\"%.0f\" "
                         "width=\"%.2f\" height=\"%d\" fill=\"%s\" rx=\"2\"/>",
                         tot, pct, self, x0, y, w, SVG_ROW - 1, col);
    if (!rc && w > 24) {
        int cut;
        size_t ll = label_len(s, len, (size_t)((w - 6) / 7), &cut);
        rc = dbuf_printf(out, "<text x=\"%.2f\" y=\"%.0f\">", x0 + 3, y + 11);
        if (!rc)
            rc = an_xml_text(out, s, ll);
        if (!rc)
            rc = dbuf_append_str(out, cut ? "..</text>" : "</text>");
    }
    if (!rc)
        rc = dbuf_append_str(out, "</g>\n");
    return rc;
}

int analyze_flame_svg(const an_flame *f, const char *title, dbuf *out)
{
    int64_t total = f->n[0].total;
    double scale = total > 0 ? (SVG_WIDTH - 20) / (double)total : 0;
    int height = (int)(f->max_depth + 1) * SVG_ROW + 50;
    int rc = dbuf_printf(out,
                         "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                         "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                         "viewBox=\"0 0 %d %d\" font-family=\"monospace\" font-size=\"11\">\n"
                         "<rect width=\"100%%\" height=\"100%%\" fill=\"#fafafa\"/>\n"
                         "<text x=\"%d\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">",
                         SVG_WIDTH, height, SVG_WIDTH, height, SVG_WIDTH / 2);
    if (!rc)
        rc = an_xml_text(out, title, strlen(title));
    if (!rc)
        rc = dbuf_append_str(out, "</text>\n");
    for (uint32_t i = 0; i < f->nn && !rc;) {
        double w = (double)f->n[f->pre[i]].total * scale;
        if (w < MIN_SVG_PX) {
            i += f->size[i]; /* its subtree is narrower still */
            continue;
        }
        double y = height - 10 - (double)(f->depth[i] + 1) * SVG_ROW;
        rc = svg_node(f, i, 10 + (double)f->x[i] * scale, w, y, out);
        i++;
    }
    if (!rc)
        rc = dbuf_append_str(out, "</svg>\n");
    return rc;
}

/* ---- HTML ---- */

/*
 * The page's script: D holds, per node in pre-order, its name (f), parent's
 * index (p), total (t), self (s) and subtree size (z).  It lays the nodes out
 * as the SVG does, draws the focused node's subtree across the canvas with
 * the focus's ancestors under it at full width, and answers hover and click.
 */
static const char FLAME_JS[] =
    "(function(){\n"
    "const N=D.p.length,dep=new Int32Array(N),x=new Float64Array(N),cur=new Float64Array(N);\n"
    "let maxd=0;\n"
    "for(let i=1;i<N;i++){const p=D.p[i];dep[i]=dep[p]+1;x[i]=cur[p];cur[p]+=D.t[i];"
    "cur[i]=x[i];if(dep[i]>maxd)maxd=dep[i];}\n"
    "const cv=document.getElementById('fg'),ctx=cv.getContext('2d'),"
    "tip=document.getElementById('tip'),RH=17;\n"
    "let focus=0,boxes=[];\n"
    "function fmt(ns){if(ns<1e3)return ns.toFixed(0)+' ns';if(ns<1e6)return (ns/1e3).toFixed(2)+"
    "' us';if(ns<1e9)return (ns/1e6).toFixed(2)+' ms';return (ns/1e9).toFixed(3)+' s';}\n"
    "function color(s){let h=7;for(let k=0;k<s.length;k++)h=(h*31+s.charCodeAt(k))>>>0;"
    "return 'rgb('+(205+h%50)+','+(80+(h>>>8)%150)+','+((h>>>16)%55)+')';}\n"
    "function box(i,x0,w,H){const y=H-(dep[i]+1)*RH;ctx.fillStyle=color(D.f[i]);"
    "ctx.fillRect(x0,y,Math.max(w-0.5,0.5),RH-1);"
    "if(w>24){ctx.save();ctx.beginPath();ctx.rect(x0,y,w-3,RH);ctx.clip();"
    "ctx.fillStyle='#000';ctx.fillText(D.f[i],x0+3,y+12);ctx.restore();}"
    "boxes.push([x0,y,w,i]);}\n"
    "function draw(){const W=cv.clientWidth||1000,H=(maxd+1)*RH,r=window.devicePixelRatio||1;"
    "cv.width=W*r;cv.height=H*r;cv.style.height=H+'px';ctx.setTransform(r,0,0,r,0,0);"
    "ctx.clearRect(0,0,W,H);ctx.font='11px monospace';boxes=[];"
    "for(let a=focus;;a=D.p[a]){box(a,0,W,H);if(a===0)break;}"
    "const fx=x[focus],ft=D.t[focus]||1,end=focus+D.z[focus];"
    "for(let i=focus+1;i<end;i++){const w=D.t[i]/ft*W;if(w<0.5){i+=D.z[i]-1;continue;}"
    "box(i,(x[i]-fx)/ft*W,w,H);}"
    "document.getElementById('focus').textContent=focus?'zoomed on '+D.f[focus]+"
    "' (click a frame below it to zoom out)':'';}\n"
    "function hit(e){const b=cv.getBoundingClientRect(),mx=e.clientX-b.left,my=e.clientY-b.top;"
    "for(let k=boxes.length-1;k>=0;k--){const q=boxes[k];"
    "if(mx>=q[0]&&mx<q[0]+q[2]&&my>=q[1]&&my<q[1]+RH)return q[3];}return -1;}\n"
    "cv.addEventListener('mousemove',function(e){const i=hit(e);"
    "if(i<0){tip.style.display='none';return;}"
    "tip.textContent=D.f[i]+': total '+fmt(D.t[i])+' ('+(100*D.t[i]/(D.t[0]||1)).toFixed(2)+"
    "'% of all), self '+fmt(D.s[i]);tip.style.display='block';"
    "tip.style.left=(e.clientX+12)+'px';tip.style.top=(e.clientY+12)+'px';});\n"
    "cv.addEventListener('mouseleave',function(){tip.style.display='none';});\n"
    "cv.addEventListener('click',function(e){const i=hit(e);if(i>=0){focus=i;draw();}});\n"
    "document.getElementById('reset').addEventListener('click',function(){focus=0;draw();});\n"
    "window.addEventListener('resize',draw);\n"
    "draw();\n"
    "})();\n";

/* JSON for inside a <script>: '<' written as \u003c so no "</script>" can appear. */
static int script_json_str(dbuf *out, const char *s, size_t n)
{
    dbuf tmp;
    dbuf_init(&tmp, (size_t)1 << 30);
    int rc = json_escape(&tmp, s, n);
    for (size_t i = 0; i < tmp.len && !rc; i++)
        rc = tmp.p[i] == '<' ? dbuf_append_str(out, "\\u003c") : dbuf_append_byte(out, tmp.p[i]);
    dbuf_free(&tmp);
    return rc;
}

static int html_data(const an_flame *f, dbuf *out)
{
    static const char *keys[5] = {"f", "p", "t", "s", "z"};
    int rc = dbuf_append_str(out, "const D={");
    for (int k = 0; k < 5 && !rc; k++) {
        rc = dbuf_printf(out, "%s\"%s\":[", k ? "," : "", keys[k]);
        for (uint32_t i = 0; i < f->nn && !rc; i++) {
            const fnode *nd = &f->n[f->pre[i]];
            if (i)
                rc = dbuf_append_byte(out, ',');
            if (rc)
                break;
            size_t len;
            const char *s = name_of(f, f->pre[i], &len);
            rc = k == 0   ? script_json_str(out, s, len)
                 : k == 1 ? dbuf_printf(out, "%u", f->ppre[i])
                 : k == 2 ? dbuf_printf(out, "%lld", (long long)nd->total)
                 : k == 3 ? dbuf_printf(out, "%lld", (long long)nd->self)
                          : dbuf_printf(out, "%u", f->size[i]);
        }
        if (!rc)
            rc = dbuf_append_byte(out, ']');
    }
    if (!rc)
        rc = dbuf_append_str(out, "};\n");
    return rc;
}

int analyze_flame_html(const an_flame *f, const char *title, dbuf *out)
{
    int rc = dbuf_append_str(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
                                  "<meta charset=\"utf-8\">\n<title>");
    if (!rc)
        rc = an_xml_text(out, title, strlen(title));
    if (!rc)
        rc = dbuf_append_str(
            out, "</title>\n<style>\nbody{font:13px sans-serif;margin:12px}\n"
                 "canvas{width:100%;display:block;cursor:pointer}\n"
                 "#tip{position:fixed;display:none;background:#222;color:#fff;padding:4px 6px;"
                 "font:12px monospace;border-radius:3px;pointer-events:none}\n"
                 "</style>\n</head>\n<body>\n<h1>");
    if (!rc)
        rc = an_xml_text(out, title, strlen(title));
    char tot[32];
    an_fmt_ns((double)f->n[0].total, tot, sizeof tot);
    if (!rc)
        rc = dbuf_printf(out, "</h1>\n<p>Total %s (%lld ns of self time, summed). Click a frame "
                         "to zoom in; hover for its total and self time. "
                         "<button id=\"reset\">Reset zoom</button> <span id=\"focus\"></span></p>\n"
                         "<canvas id=\"fg\"></canvas>\n<div id=\"tip\"></div>\n<script>\n",
                         tot, (long long)f->n[0].total);
    if (!rc)
        rc = html_data(f, out);
    if (!rc)
        rc = dbuf_append_str(out, FLAME_JS);
    if (!rc)
        rc = dbuf_append_str(out, "</script>\n</body>\n</html>\n");
    return rc;
}
