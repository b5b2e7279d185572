/*
 * an_int.h - inside the analyze module: the parent-link pass (an_tree.c) and
 * the string interner it uses.
 */
#ifndef SL_ANALYZE_AN_INT_H
#define SL_ANALYZE_AN_INT_H

#include "analyze/analyze.h"
#include "base/u64map.h"
#include "col/col.h"

#include <stdbool.h>

/* ---- strings interned to dense ids (an_tree.c) ---- */

#define AN_NO_STR UINT32_MAX
/* Bytes of all distinct strings of one report together. */
#define AN_MAX_STR_BYTES ((size_t)256 << 20)

typedef struct an_strings {
    dbuf bytes;      /* the strings back to back */
    uint32_t *off, *len;
    uint32_t n, cap;
    u64map by_hash;  /* hash64 of the bytes -> id (several per hash) */
} an_strings;

/* The id of row r of v (COL_STRING or COL_DICT), interned; per column, a cache
 * maps a batch's dictionary once and remembers the previous row's string, so
 * a repeated value costs a comparison and a dictionary value a table load. */
typedef struct an_col_cache {
    const col_dict *dict;
    uint32_t *map;   /* dictionary key -> id (AN_NO_STR: not yet interned) */
    int64_t map_cap;
    const col_buf *last_data;
    uint32_t last_id;
    size_t last_len;
    uint8_t last[64];
} an_col_cache;

void an_strings_init(an_strings *s);
void an_strings_free(an_strings *s);
int an_strings_intern(an_strings *s, const void *p, size_t n, uint32_t *id);
/* AN_NO_STR when absent. */
uint32_t an_strings_find(const an_strings *s, const void *p, size_t n);
static inline const char *an_strings_get(const an_strings *s, uint32_t id, size_t *n)
{
    *n = s->len[id];
    return (const char *)s->bytes.p + s->off[id];
}
int an_col_intern(an_strings *s, an_col_cache *c, const col_vec *v, int64_t r, uint32_t *id);
void an_col_cache_free(an_col_cache *c);

/* ---- shared by the renderings ---- */

/* A duration for people: "812 ns", "3.41 us", "12.07 ms", "1.204 s" (an_flame.c). */
void an_fmt_ns(double ns, char *out, size_t n);
/* s escaped for XML and HTML text and attribute values (an_flame.c). */
int an_xml_text(dbuf *b, const char *s, size_t n);

/* ---- the parent-link pass (an_tree.c) ---- */

typedef struct an_conc {
    int64_t max, max_at_ns, max_for_ns; /* most spans open at once, first when, how long */
    double mean;                        /* time-weighted over [first begin, last end) */
} an_conc;

#define AN_HIST_BUCKETS 65 /* 0 ns, then [2^(k-1), 2^k) for k = 1 .. 64 */

typedef struct an_tree_result {
    int64_t rows, complete;
    double p50_ns, p90_ns, p99_ns;         /* exact, percentile_cont's interpolation */
    int64_t hist[AN_HIST_BUCKETS];
    int64_t roots, children, orphans, cycles, max_depth;
    int64_t root_total_ns;   /* sum of complete root spans' durations */
    int64_t self_total_ns;   /* sum of self times (each clipped at 0) */
    int64_t overlap_ns;      /* children's time past their parent's duration, clipped */
    int64_t first_begin_ns, last_end_ns;
    an_conc all, roots_conc;
    int64_t nstacks;
} an_tree_result;

typedef struct an_tree an_tree;

/* An empty pass for at most max_spans rows. */
int an_tree_new(int64_t max_spans, an_tree **out);
void an_tree_free(an_tree *t);
/* Room for rows spans at once (the count the caller expects): no growth while loading. */
int an_tree_reserve(an_tree *t, int64_t rows);
/*
 * Adds a result batch of the query
 *   SELECT stream_id, thread_name, id, parent, "begin", "end", name, target
 * (thread_name NULL marks an async span).  SL_ETOOBIG past max_spans.
 */
int an_tree_add(an_tree *t, const col_vec *cols, int64_t n);
/* Links, self times, stacks, quantiles, histogram, concurrency. */
int an_tree_compute(an_tree *t, an_tree_result *r);
/* Self time of the spans of one name / one target (0 if none). */
int64_t an_tree_self_of_name(const an_tree *t, const char *s, size_t n);
int64_t an_tree_self_of_target(const an_tree *t, const char *s, size_t n);
/* Writes the folded stacks as a JSON array of "frame;frame value" strings, sorted. */
int an_tree_folded_json(const an_tree *t, jw *w);

#endif
