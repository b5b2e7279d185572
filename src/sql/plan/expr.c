/*
 * expr.c - walking and printing bound expressions (see expr.h).
 */
#include "sql/plan/expr.h"

#include "base/dbuf.h"
#include "sql/func/func.h"
#include "sql/plan/plan.h"

#include <string.h>

bool sql_expr_is_const(const sql_expr *e)
{
    if (!e)
        return true;
    switch ((sql_ekind)e->kind) {
    case SE_CONST:
        return true;
    case SE_COL:
    case SE_PARAM:
    case SE_OUTER:
    case SE_SUBQUERY:
    case SE_AGG:
    case SE_WINDOW:
        return false;
    default:
        break;
    }
    if (e->volatile_)
        return false;
    for (int i = 0; i < e->nargs; i++)
        if (!sql_expr_is_const(e->args[i]))
            return false;
    return true;
}

bool sql_expr_has_subquery(const sql_expr *e)
{
    if (!e)
        return false;
    if (e->kind == SE_SUBQUERY)
        return true;
    for (int i = 0; i < e->nargs; i++)
        if (sql_expr_has_subquery(e->args[i]))
            return true;
    return sql_expr_has_subquery(e->filter);
}

bool sql_expr_uses_col(const sql_expr *e, int c)
{
    if (!e)
        return false;
    if (e->kind == SE_COL)
        return e->col == c;
    for (int i = 0; i < e->nargs; i++)
        if (sql_expr_uses_col(e->args[i], c))
            return true;
    if (e->filter && sql_expr_uses_col(e->filter, c))
        return true;
    for (int i = 0; i < e->norder; i++)
        if (sql_expr_uses_col(e->order[i], c))
            return true;
    if (e->kind == SE_WINDOW && e->win) {
        const sql_window *w = e->win;
        for (int i = 0; i < w->npart; i++)
            if (sql_expr_uses_col(w->part[i], c))
                return true;
        for (int i = 0; i < w->norder; i++)
            if (sql_expr_uses_col(w->order[i].e, c))
                return true;
    }
    return false;
}

void sql_expr_walk_cols(sql_expr *e, void (*fn)(sql_expr *col, void *arg), void *arg)
{
    if (!e)
        return;
    if (e->kind == SE_COL) {
        fn(e, arg);
        return;
    }
    for (int i = 0; i < e->nargs; i++)
        sql_expr_walk_cols(e->args[i], fn, arg);
    if (e->filter)
        sql_expr_walk_cols(e->filter, fn, arg);
    for (int i = 0; i < e->norder; i++)
        sql_expr_walk_cols(e->order[i], fn, arg);
    if (e->kind == SE_WINDOW && e->win) {
        sql_window *w = e->win;
        for (int i = 0; i < w->npart; i++)
            sql_expr_walk_cols(w->part[i], fn, arg);
        for (int i = 0; i < w->norder; i++)
            sql_expr_walk_cols(w->order[i].e, fn, arg);
    }
}

static bool infix(const char *name)
{
    return name && (strchr("+-*/%<>=|~!?@&", name[0]) != NULL) && strcmp(name, "= any");
}

int sql_expr_text(const sql_expr *e, const char *const *colnames, dbuf *out)
{
    if (!e)
        return dbuf_append_str(out, "?");
    int rc = 0;
    switch ((sql_ekind)e->kind) {
    case SE_CONST: {
        if (e->c.null)
            return dbuf_append_str(out, "NULL");
        bool quote = sql_type_phys(e->type) == COL_STRING || sql_type_phys(e->type) == COL_BINARY ||
                     e->type.id == ST_TIMESTAMP || e->type.id == ST_TIMESTAMPTZ ||
                     e->type.id == ST_DATE || e->type.id == ST_INTERVAL;
        if (quote)
            rc = dbuf_append_byte(out, '\'');
        rc = rc ? rc : sql_datum_text(e->type, &e->c, out);
        if (quote && !rc)
            rc = dbuf_append_byte(out, '\'');
        return rc;
    }
    case SE_COL:
        return colnames && colnames[e->col] ? dbuf_append_str(out, colnames[e->col])
                                            : dbuf_printf(out, "$col%d", e->col + 1);
    case SE_PARAM:
        return dbuf_printf(out, "$%d", e->col + 1);
    case SE_OUTER:
        return dbuf_printf(out, "outer.$%d", e->col + 1);
    case SE_FUNC:
        if (infix(e->name) && e->nargs == 2) {
            rc = dbuf_append_byte(out, '(');
            rc = rc ? rc : sql_expr_text(e->args[0], colnames, out);
            rc = rc ? rc : dbuf_printf(out, " %s ", e->name);
            rc = rc ? rc : sql_expr_text(e->args[1], colnames, out);
            return rc ? rc : dbuf_append_byte(out, ')');
        }
        rc = dbuf_printf(out, "%s(", e->name ? e->name : "?");
        for (int i = 0; i < e->nargs && !rc; i++) {
            if (i)
                rc = dbuf_append_str(out, ", ");
            rc = rc ? rc : sql_expr_text(e->args[i], colnames, out);
        }
        return rc ? rc : dbuf_append_byte(out, ')');
    case SE_CAST: {
        char t[64];
        rc = sql_expr_text(e->args[0], colnames, out);
        return rc ? rc : dbuf_printf(out, "::%s", sql_type_name(e->type, t, sizeof t));
    }
    case SE_AND:
    case SE_OR:
        rc = dbuf_append_byte(out, '(');
        for (int i = 0; i < e->nargs && !rc; i++) {
            if (i)
                rc = dbuf_append_str(out, e->kind == SE_AND ? " AND " : " OR ");
            rc = rc ? rc : sql_expr_text(e->args[i], colnames, out);
        }
        return rc ? rc : dbuf_append_byte(out, ')');
    case SE_NOT:
        rc = dbuf_append_str(out, "NOT ");
        return rc ? rc : sql_expr_text(e->args[0], colnames, out);
    case SE_ISNULL:
        rc = sql_expr_text(e->args[0], colnames, out);
        return rc ? rc : dbuf_append_str(out, e->negated ? " IS NOT NULL" : " IS NULL");
    case SE_AGG:
    case SE_WINDOW:
        rc = dbuf_printf(out, "%s(%s", e->name ? e->name : "?", e->agg_distinct ? "DISTINCT " : "");
        if (e->agg_star)
            rc = rc ? rc : dbuf_append_byte(out, '*');
        for (int i = 0; i < e->nargs && !rc; i++) {
            if (i)
                rc = dbuf_append_str(out, ", ");
            rc = rc ? rc : sql_expr_text(e->args[i], colnames, out);
        }
        rc = rc ? rc : dbuf_append_byte(out, ')');
        if (!rc && e->kind == SE_WINDOW)
            rc = dbuf_append_str(out, " OVER (...)");
        return rc;
    case SE_SUBQUERY:
        return dbuf_append_str(out, e->subkind == SQ_EXISTS  ? "EXISTS(SubPlan)"
                                    : e->subkind == SQ_ARRAY ? "ARRAY(SubPlan)"
                                                             : "(SubPlan)");
    case SE_IN:
        rc = sql_expr_text(e->args[0], colnames, out);
        rc = rc ? rc : dbuf_append_str(out, e->negated ? " NOT IN (" : " IN (");
        for (int i = 1; i < e->nargs && !rc; i++) {
            if (i > 1)
                rc = dbuf_append_str(out, ", ");
            rc = rc ? rc : sql_expr_text(e->args[i], colnames, out);
        }
        return rc ? rc : dbuf_append_byte(out, ')');
    default: {
        static const char *names[] = {[SE_BOOLTEST] = "booltest", [SE_DISTINCT] = "distinct",
                                      [SE_CASE] = "CASE", [SE_COALESCE] = "COALESCE",
                                      [SE_NULLIF] = "NULLIF", [SE_GREATEST] = "GREATEST",
                                      [SE_LEAST] = "LEAST", [SE_ARRAY] = "ARRAY"};
        const char *n = e->kind < sizeof names / sizeof names[0] && names[e->kind] ? names[e->kind] : "?";
        rc = dbuf_printf(out, "%s(", n);
        for (int i = 0; i < e->nargs && !rc; i++) {
            if (i)
                rc = dbuf_append_str(out, ", ");
            rc = rc ? rc : sql_expr_text(e->args[i], colnames, out);
        }
        return rc ? rc : dbuf_append_byte(out, ')');
    }
    }
}
