/*
 * explain.c - EXPLAIN's text: one line per plan node, children indented
 * under "->", as PostgreSQL lays it out; with ANALYZE each node also shows
 * what it did (rows, batches, time, peak memory; scans: units read, units
 * pruned, workers).
 */
#include "sql/exec/exec.h"

#include "base/dbuf.h"
#include "sql/types/datetime.h"

#include <string.h>

static const sql_opstats *find_stats(const sql_plan *p, const sql_opstats *const *st, int n)
{
    for (int i = 0; i < n; i++)
        if (st[i]->plan == p)
            return st[i];
    return NULL;
}

static void put_expr(dbuf *out, const sql_expr *e, const char *const *names)
{
    sql_expr_text(e, names, out);
}

static void put_time(dbuf *out, int64_t ns)
{
    if (ns == INT64_MIN || ns == INT64_MAX) {
        dbuf_append_str(out, ns == INT64_MIN ? "-infinity" : "infinity");
        return;
    }
    dt_format_timestamp(ns, true, out);
}

static const char *kind_name(const sql_plan *p)
{
    switch ((sql_pkind)p->kind) {
    case SP_SCAN: return "Scan";
    case SP_VALUES: return "Values";
    case SP_RESULT: return "Result";
    case SP_FILTER: return "Filter";
    case SP_PROJECT: return p->project.srf ? "ProjectSet" : "Project";
    case SP_AGG: return p->agg.nkeys ? "HashAggregate" : "Aggregate";
    case SP_JOIN: {
        static const char *j[] = {"Inner", "Left", "Right", "Full", "Semi", "Anti", "Cross"};
        (void)j;
        return p->join.nkeys ? "Hash Join" : "Nested Loop";
    }
    case SP_SORT: return p->sort.limit >= 0 ? "Top-N Sort" : "Sort";
    case SP_LIMIT: return "Limit";
    case SP_DISTINCT: return "Distinct";
    case SP_SETOP: {
        static const char *s[] = {"Union", "Intersect", "Except"};
        return s[p->setop.op];
    }
    case SP_WINDOW: return "WindowAgg";
    case SP_CTE: return "CTE";
    case SP_CTE_REF: return "CTE Scan";
    }
    return "?";
}

static void node(dbuf *out, const sql_plan *p, int depth, const sql_opstats *const *st, int nst)
{
    int ind = depth ? 6 * depth - 4 : 0;
    for (int i = 0; i < ind; i++)
        dbuf_append_byte(out, ' ');
    if (depth)
        dbuf_append_str(out, "->  ");
    dbuf_append_str(out, kind_name(p));
    const char *const *in = p->child ? p->child->names : NULL;
    switch ((sql_pkind)p->kind) {
    case SP_SCAN:
        dbuf_printf(out, " on %s", p->scan.table->name);
        break;
    case SP_JOIN: {
        static const char *j[] = {"Inner", "Left", "Right", "Full", "Semi", "Anti", "Cross"};
        dbuf_printf(out, " (%s)", j[p->join.type]);
        break;
    }
    case SP_SORT:
        if (p->sort.limit >= 0)
            dbuf_printf(out, " (keep %lld)", (long long)p->sort.limit);
        break;
    case SP_SETOP:
        if (p->setop.all)
            dbuf_append_str(out, " All");
        break;
    case SP_CTE_REF:
        dbuf_printf(out, " on %s", p->cte_ref.cte ? p->cte_ref.cte->name : "?");
        break;
    default: break;
    }
    dbuf_printf(out, "  (rows=%.0f)", p->est_rows);
    const sql_opstats *s = find_stats(p, st, nst);
    if (s) {
        dbuf_printf(out, " (actual rows=%llu batches=%llu time=%.3f ms", (unsigned long long)s->rows,
                    (unsigned long long)s->batches, (double)s->ns / 1e6);
        if (s->mem_peak)
            dbuf_printf(out, " memory=%lld kB", (long long)((s->mem_peak + 1023) >> 10));
        dbuf_append_byte(out, ')');
    }
    dbuf_append_byte(out, '\n');
    /* details */
    char pad[256];
    int pn = (depth ? ind + 6 : 2);
    if (pn > 250)
        pn = 250;
    memset(pad, ' ', (size_t)pn);
    pad[pn] = 0;
    switch ((sql_pkind)p->kind) {
    case SP_SCAN: {
        const sql_table *t = p->scan.table;
        dbuf_printf(out, "%sColumns: ", pad);
        for (int i = 0; i < p->ncols; i++)
            dbuf_printf(out, "%s%s", i ? ", " : "", t->colnames[p->scan.cols[i]]);
        dbuf_append_byte(out, '\n');
        if (p->scan.begin_ns != INT64_MIN || p->scan.end_ns != INT64_MAX) {
            dbuf_printf(out, "%sTime Range: [", pad);
            put_time(out, p->scan.begin_ns);
            dbuf_append_str(out, ", ");
            put_time(out, p->scan.end_ns);
            dbuf_append_str(out, ")\n");
        }
        if (p->scan.id_eq)
            dbuf_printf(out, "%sProcess: %s\n", pad, p->scan.id_eq);
        if (p->scan.filter) {
            dbuf_printf(out, "%sFilter: ", pad);
            put_expr(out, p->scan.filter, p->names);
            dbuf_append_byte(out, '\n');
        }
        if (s) {
            /* the just-in-time builds of lake tables (and of functions that read the lake) */
            uint64_t built = atomic_load(&s->built);
            dbuf_printf(out, "%sUnits: %llu read, %llu pruned; ", pad, (unsigned long long)s->units,
                        (unsigned long long)s->pruned);
            if (built || p->scan.table->kind == TABLE_LAKE)
                dbuf_printf(out, "partitions built: %llu; ", (unsigned long long)built);
            dbuf_printf(out, "workers: %llu\n", (unsigned long long)s->workers);
        }
        break;
    }
    case SP_FILTER:
        dbuf_printf(out, "%sFilter: ", pad);
        put_expr(out, p->filter.pred, in);
        dbuf_append_byte(out, '\n');
        break;
    case SP_PROJECT:
        dbuf_printf(out, "%sOutput: ", pad);
        for (int i = 0; i < p->ncols; i++) {
            if (i)
                dbuf_append_str(out, ", ");
            put_expr(out, p->project.exprs[i], in);
        }
        dbuf_append_byte(out, '\n');
        break;
    case SP_AGG:
        if (p->agg.nkeys) {
            dbuf_printf(out, "%sGroup Key: ", pad);
            for (int i = 0; i < p->agg.nkeys; i++) {
                if (i)
                    dbuf_append_str(out, ", ");
                put_expr(out, p->agg.keys[i], in);
            }
            dbuf_append_byte(out, '\n');
        }
        if (p->agg.naggs) {
            dbuf_printf(out, "%sAggregates: ", pad);
            for (int i = 0; i < p->agg.naggs; i++) {
                if (i)
                    dbuf_append_str(out, ", ");
                put_expr(out, p->agg.aggs[i], in);
            }
            dbuf_append_byte(out, '\n');
        }
        break;
    case SP_JOIN: {
        const char *names[512];
        int lw = p->child->ncols, rw = p->right->ncols;
        for (int i = 0; i < lw + rw && i < 512; i++)
            names[i] = i < lw ? p->child->names[i] : p->right->names[i - lw];
        if (p->join.nkeys) {
            dbuf_printf(out, "%sHash Cond: ", pad);
            for (int i = 0; i < p->join.nkeys; i++) {
                if (i)
                    dbuf_append_str(out, " AND ");
                dbuf_append_byte(out, '(');
                put_expr(out, p->join.lkeys[i], p->child->names);
                dbuf_append_str(out, " = ");
                put_expr(out, p->join.rkeys[i], p->right->names);
                dbuf_append_byte(out, ')');
            }
            dbuf_append_byte(out, '\n');
        }
        if (p->join.cond) {
            dbuf_printf(out, "%sJoin Filter: ", pad);
            put_expr(out, p->join.cond, names);
            dbuf_append_byte(out, '\n');
        }
        break;
    }
    case SP_SORT:
        dbuf_printf(out, "%sSort Key: ", pad);
        for (int i = 0; i < p->sort.nkeys; i++) {
            if (i)
                dbuf_append_str(out, ", ");
            put_expr(out, p->sort.keys[i].e, in);
            if (p->sort.keys[i].desc)
                dbuf_append_str(out, " DESC");
        }
        dbuf_append_byte(out, '\n');
        if (s && s->spill_runs)
            dbuf_printf(out, "%sSort Method: external merge of %llu runs, %llu kB on disk\n", pad,
                        (unsigned long long)s->spill_runs,
                        (unsigned long long)((s->spill_bytes + 1023) >> 10));
        break;
    default: break;
    }
    if (p->kind == SP_CTE_REF)
        return;
    if (p->child)
        node(out, p->child, depth + 1, st, nst);
    if (p->right)
        node(out, p->right, depth + 1, st, nst);
}

int sql_plan_explain(const sql_plan *p, const sql_opstats *const *stats, int nstats, dbuf *out)
{
    node(out, p, 0, stats, nstats);
    return out->len > out->max ? SL_ENOMEM : SL_OK;
}
