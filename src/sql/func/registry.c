/*
 * registry.c - the one catalog of functions and aggregates (see func.h).
 *
 * The tables of each group (arith.c, compare.c, string.c, ...) are merged
 * once into one array sorted by name; a lookup is a binary search that
 * returns the run of rows sharing the name, the candidates the binder then
 * resolves by argument types.
 */
#include "sql/func/func.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FUNCS 2048
#define MAX_AGGS 128

static sql_func g_funcs[MAX_FUNCS];
static size_t g_nfuncs;
static sql_agg g_aggs[MAX_AGGS];
static size_t g_naggs;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static int cmp_func(const void *a, const void *b)
{
    return strcmp(((const sql_func *)a)->name, ((const sql_func *)b)->name);
}

static int cmp_agg(const void *a, const void *b)
{
    return strcmp(((const sql_agg *)a)->name, ((const sql_agg *)b)->name);
}

static void add_funcs(sql_func_table t)
{
    for (size_t i = 0; i < t.n && g_nfuncs < MAX_FUNCS; i++)
        g_funcs[g_nfuncs++] = t.f[i];
}

static void add_aggs(sql_agg_table t)
{
    for (size_t i = 0; i < t.n && g_naggs < MAX_AGGS; i++)
        g_aggs[g_naggs++] = t.a[i];
}

static void build(void)
{
    add_funcs(sql_funcs_arith());
    add_funcs(sql_funcs_compare());
    add_funcs(sql_funcs_string());
    add_funcs(sql_funcs_time());
    add_funcs(sql_funcs_pgcompat());
    add_funcs(sql_funcs_json());
    add_funcs(sql_funcs_math());
    /* a stable sort keeps each table's order among equal names: it is the
     * preference order when two candidates fit equally well */
    for (size_t i = 1; i < g_nfuncs; i++)
        for (size_t j = i; j > 0 && cmp_func(&g_funcs[j - 1], &g_funcs[j]) > 0; j--) {
            sql_func t = g_funcs[j];
            g_funcs[j] = g_funcs[j - 1];
            g_funcs[j - 1] = t;
        }
    add_aggs(sql_aggs_basic());
    add_aggs(sql_aggs_stats());
    qsort(g_aggs, g_naggs, sizeof g_aggs[0], cmp_agg);
}

const sql_func *sql_func_candidates(const char *name, int *count)
{
    pthread_once(&g_once, build);
    size_t lo = 0, hi = g_nfuncs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(g_funcs[mid].name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t end = lo;
    while (end < g_nfuncs && !strcmp(g_funcs[end].name, name))
        end++;
    *count = (int)(end - lo);
    return end > lo ? &g_funcs[lo] : NULL;
}

const sql_agg *sql_agg_candidates(const char *name, int *count)
{
    pthread_once(&g_once, build);
    size_t first = g_naggs;
    int n = 0;
    for (size_t i = 0; i < g_naggs; i++) {
        if (!strcmp(g_aggs[i].name, name)) {
            if (first == g_naggs)
                first = i;
            n++;
        }
    }
    *count = n;
    return n ? &g_aggs[first] : NULL;
}

bool sql_is_agg_name(const char *name)
{
    int n;
    return sql_agg_candidates(name, &n) != NULL;
}

bool sql_is_window_only_name(const char *name)
{
    static const char *const w[] = {"row_number", "rank", "dense_rank", "percent_rank",
                                    "cume_dist", "ntile", "lag", "lead", "first_value",
                                    "last_value", "nth_value"};
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
        if (!strcmp(w[i], name))
            return true;
    return false;
}
