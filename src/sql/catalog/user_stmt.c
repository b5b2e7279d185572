/*
 * user_stmt.c - the statements of user tables and views: CREATE/DROP TABLE,
 * CREATE TABLE AS, INSERT, UPDATE, DELETE, TRUNCATE, CREATE/DROP VIEW,
 * CREATE INDEX (storage and guarantees: user.c).
 */
#include "sql/catalog/user_int.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/uuid.h"

#include <stdio.h>
#include <string.h>

static int oom(sql_err *e)
{
    return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
}

/* ---- statements ---- */

static bool builtin_name(sql_engine *eng, const char *name)
{
    return sql_builtin_table(eng, NULL, name, NULL) != NULL;
}

static const char *rel_name(sql_query *q, const PgQuery__RangeVar *rv)
{
    const char *schema = pstr(rv->schemaname);
    if (schema && strcmp(schema, "public")) {
        sql_err_set(q->e, "3F000", rv->location, "schema \"%s\" does not exist (user tables "
                                                 "live in public)", schema);
        return NULL;
    }
    if (strlen(rv->relname) > 63) {
        sql_err_set(q->e, "42622", rv->location, "identifier \"%.20s...\" is too long",
                    rv->relname);
        return NULL;
    }
    return rv->relname;
}

/* The name of a relation to create: NULL (q->e set) when malformed or a lake table's. */
static const char *new_rel_name(sql_query *q, const PgQuery__RangeVar *rv)
{
    const char *name = rel_name(q, rv);
    if (name && builtin_name(q->s->eng, name)) {
        sql_err_set(q->e, SQLSTATE_DUPLICATE_TABLE, rv->location,
                    "relation \"%s\" already exists (a lake table)", name);
        return NULL;
    }
    return name;
}

/* (user_int.h) */
int sql_user_writable(sql_query *q, const PgQuery__RangeVar *rv, const char *verb,
                      const char **name, udef *d)
{
    if (!(*name = rel_name(q, rv)))
        return SL_EINVAL;
    int ex = user_def_get(q->s->eng, *name, &q->a, d, q->e);
    if (ex < 0)
        return ex;
    if (ex && d->kind == UK_TABLE)
        return SL_OK;
    if (ex || builtin_name(q->s->eng, *name))
        return sql_err_set(q->e, "42809", rv->location, "cannot %s \"%s\": it is not a user table",
                           verb, *name);
    return sql_err_set(q->e, SQLSTATE_UNDEFINED_TABLE, rv->location,
                       "relation \"%s\" does not exist", *name);
}

static char *new_uid(arena *a)
{
    sl_uuid id;
    uuid_v4(&id);
    char t[UUID_STR_LEN];
    uuid_format(&id, t);
    return arena_strndup(a, t, strlen(t));
}

static int create_table(sql_query *q, binder *b, const PgQuery__CreateStmt *c)
{
    snprintf(q->tag, sizeof q->tag, "CREATE TABLE");
    const char *name = rel_name(q, c->relation);
    if (!name)
        return SL_EINVAL;
    if ((c->relation->relpersistence && c->relation->relpersistence[0] == 't') || c->n_inh_relations || c->partspec || c->of_typename)
        return sql_err_set(q->e, SQLSTATE_FEATURE, c->relation->location, "temporary, inherited, "
                                                                        "partitioned and typed "
                                                                        "tables are not supported");
    if (builtin_name(q->s->eng, name))
        return sql_err_set(q->e, SQLSTATE_DUPLICATE_TABLE, c->relation->location,
                           "relation \"%s\" already exists (a lake table)", name);
    udef d = {.kind = UK_TABLE, .uid = new_uid(&q->a)};
    int n = (int)c->n_table_elts;
    d.names = arena_zalloc(&q->a, sizeof *d.names * (size_t)(n + 1));
    d.types = arena_zalloc(&q->a, sizeof *d.types * (size_t)(n + 1));
    if (!d.names || !d.types || !d.uid)
        return oom(q->e);
    for (int i = 0; i < n; i++) {
        const PgQuery__Node *el = c->table_elts[i];
        if (el->node_case != PG_QUERY__NODE__NODE_COLUMN_DEF) {
            if (el->node_case == PG_QUERY__NODE__NODE_CONSTRAINT)
                continue; /* PRIMARY KEY (...), UNIQUE (...): accepted, not enforced */
            return sql_err_set(q->e, SQLSTATE_FEATURE, -1, "this table element is not supported");
        }
        const PgQuery__ColumnDef *cd = el->column_def;
        for (int k = 0; k < d.ncols; k++)
            if (!strcmp(d.names[k], cd->colname))
                return sql_err_set(q->e, "42701", cd->location, "column \"%s\" specified more "
                                                                 "than once", cd->colname);
        if (!bind_typename(b, cd->type_name, &d.types[d.ncols]))
            return q->e->code ? q->e->code : SL_EINVAL;
        if (d.types[d.ncols].id == ST_UNKNOWN || d.types[d.ncols].id == ST_NULL)
            return sql_err_set(q->e, SQLSTATE_FEATURE, cd->location, "column \"%s\" needs a "
                                                                     "type", cd->colname);
        d.names[d.ncols++] = cd->colname;
    }
    if (d.ncols > USER_MAX_COLS)
        return sql_err_set(q->e, "54011", -1, "tables can have at most %d columns", USER_MAX_COLS);
    int rc = user_def_put(q->s->eng, name, &d, 0, q->e);
    if (rc && c->if_not_exists && !strcmp(q->e->state, SQLSTATE_DUPLICATE_TABLE)) {
        sql_err_clear(q->e);
        return SL_OK;
    }
    return rc;
}

/* Writes every row of plan p into new segments of table d (columns already coerced). */
static int fill(sql_query *q, sql_plan *p, const udef *d, segw *w, uint64_t *rows)
{
    int rc = user_segw_init(w, q->s->eng, d, &q->a, q->e);
    uint64_t before = q->nrows;
    if (!rc)
        rc = sql_run_plan_all(q, p, false, user_write_rows, w);
    if (!rc)
        rc = user_segw_flush(w);
    *rows = q->nrows - before;
    return rc;
}

static int create_table_as(sql_query *q, binder *b, const PgQuery__CreateTableAsStmt *c)
{
    snprintf(q->tag, sizeof q->tag, "SELECT");
    if (c->objtype != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE)
        return sql_err_set(q->e, SQLSTATE_FEATURE, -1, "CREATE MATERIALIZED VIEW is not "
                                                       "supported; use CREATE TABLE AS");
    const PgQuery__IntoClause *into = c->into;
    const char *name = new_rel_name(q, into->rel);
    if (!name)
        return q->e->code ? q->e->code : SL_EINVAL;
    if (!c->query || c->query->node_case != PG_QUERY__NODE__NODE_SELECT_STMT)
        return sql_err_set(q->e, SQLSTATE_FEATURE, -1, "CREATE TABLE AS needs a SELECT");
    udef exist;
    int ex = user_def_get(q->s->eng, name, &q->a, &exist, q->e);
    if (ex < 0)
        return ex;
    if (ex) {
        if (c->if_not_exists) {
            snprintf(q->tag, sizeof q->tag, "CREATE TABLE AS");
            return SL_OK;
        }
        return sql_err_set(q->e, SQLSTATE_DUPLICATE_TABLE, into->rel->location,
                           "relation \"%s\" already exists", name);
    }
    sql_plan *p = bind_select(b, NULL, c->query->select_stmt);
    if (!p)
        return q->e->code ? q->e->code : SL_EINVAL;
    if ((int)into->n_col_names > p->ncols)
        return sql_err_set(q->e, "42601", -1, "CREATE TABLE AS specifies too many column names");
    udef d = {.kind = UK_TABLE, .uid = new_uid(&q->a), .ncols = p->ncols,
              .names = arena_zalloc(&q->a, sizeof(char *) * (size_t)(p->ncols + 1)),
              .types = arena_zalloc(&q->a, sizeof(sql_type) * (size_t)(p->ncols + 1))};
    if (!d.names || !d.types || !d.uid)
        return oom(q->e);
    for (int i = 0; i < p->ncols; i++) {
        d.names[i] = i < (int)into->n_col_names ? node_str(into->col_names[i]) : p->names[i];
        d.types[i] = p->types[i].id == ST_UNKNOWN || p->types[i].id == ST_NULL
                         ? sql_type_of(ST_TEXT) : p->types[i];
        for (int k = 0; k < i; k++)
            if (!strcmp(d.names[k], d.names[i]))
                return sql_err_set(q->e, "42701", -1, "column \"%s\" specified more than once",
                                   d.names[i]);
    }
    if (d.ncols > USER_MAX_COLS)
        return sql_err_set(q->e, "54011", -1, "tables can have at most %d columns", USER_MAX_COLS);
    segw w;
    uint64_t rows = 0;
    int rc = into->skip_data ? user_segw_init(&w, q->s->eng, &d, &q->a, q->e)
                             : fill(q, p, &d, &w, &rows);
    if (!rc) {
        d.segs = w.out;
        d.nseg = w.nout;
        rc = user_def_put(q->s->eng, name, &d, 0, q->e);
    }
    if (rc)
        user_segw_abort(&w);
    else
        user_segw_done(&w);
    q->nrows = rows;
    snprintf(q->tag, sizeof q->tag, "SELECT %llu", (unsigned long long)rows);
    return rc;
}

/* A projection casting p's columns to the table's (assignment casts), in table order. */
static sql_plan *to_table_row(binder *b, sql_plan *p, const udef *d, const int *target, int nt)
{
    sql_plan *pr = mk_plan(b, SP_PROJECT, d->ncols);
    if (!pr)
        return NULL;
    pr->child = p;
    pr->est_rows = p->est_rows;
    for (int c = 0; c < d->ncols; c++) {
        int src = -1;
        for (int k = 0; k < nt; k++)
            if (target[k] == c)
                src = k;
        sql_expr *e;
        if (src < 0) {
            sql_datum nd = sql_datum_null();
            e = mk_const(b, d->types[c], &nd, -1);
        } else {
            e = mk_col(b, src, p->types[src], -1);
            char what[96];
            snprintf(what, sizeof what, "column \"%s\"", d->names[c]);
            if (e && !sql_type_eq(e->type, d->types[c]))
                e = coerce(b, e, d->types[c], 'a', what);
        }
        if (!e)
            return NULL;
        pr->project.exprs[c] = e;
        pr->types[c] = d->types[c];
        pr->names[c] = d->names[c];
    }
    return pr;
}

/* INSERT ... VALUES: each value bound with its target column's type in view. */
static sql_plan *insert_values(binder *b, const PgQuery__SelectStmt *s, const udef *d,
                               const int *target, int nt)
{
    int nrows = (int)s->n_values_lists;
    sql_plan *v = mk_plan(b, SP_VALUES, nt);
    if (!v)
        return NULL;
    v->values.nrows = nrows;
    v->values.rows = arena_zalloc(b->a, sizeof *v->values.rows * (size_t)nrows);
    if (!v->values.rows)
        return NULL;
    bind_scope sc = {0};
    for (int r = 0; r < nrows; r++) {
        const PgQuery__List *l = s->values_lists[r]->list;
        if ((int)l->n_items != nt) {
            bind_fail(b, "42601", -1, (int)l->n_items > nt
                                          ? "INSERT has more expressions than target columns"
                                          : "INSERT has more target columns than expressions");
            return NULL;
        }
        if (!(v->values.rows[r] = arena_zalloc(b->a, sizeof(sql_expr *) * (size_t)nt)))
            return NULL;
        for (int k = 0; k < nt; k++) {
            const PgQuery__Node *n = l->items[k];
            sql_type t = d->types[target[k]];
            sql_expr *e;
            if (n->node_case == PG_QUERY__NODE__NODE_SET_TO_DEFAULT) {
                sql_datum nd = sql_datum_null();
                e = mk_const(b, t, &nd, -1);
            } else {
                e = bind_expr(b, &sc, n);
                char what[96];
                snprintf(what, sizeof what, "column \"%s\"", d->names[target[k]]);
                if (e && e->kind == SE_PARAM && e->type.id == ST_UNKNOWN)
                    param_infer(b, e->col, t);
                if (e && !sql_type_eq(e->type, t))
                    e = coerce(b, e, t, 'a', what);
            }
            if (!e)
                return NULL;
            v->values.rows[r][k] = e;
            v->types[k] = t;
            v->names[k] = d->names[target[k]];
        }
    }
    v->est_rows = nrows;
    return v;
}

static int insert(sql_query *q, binder *b, const PgQuery__InsertStmt *s)
{
    snprintf(q->tag, sizeof q->tag, "INSERT 0 0");
    if (s->n_returning_list || s->on_conflict_clause || s->with_clause)
        return sql_err_set(q->e, SQLSTATE_FEATURE, -1, "INSERT with RETURNING, ON CONFLICT or "
                                                       "WITH is not supported");
    const char *name;
    udef d;
    int rc0 = sql_user_writable(q, s->relation, "insert into", &name, &d);
    if (rc0)
        return rc0;
    int nt = s->n_cols ? (int)s->n_cols : d.ncols;
    int *target = arena_zalloc(&q->a, sizeof *target * (size_t)(nt + 1));
    if (!target)
        return oom(q->e);
    for (int k = 0; k < nt; k++) {
        if (!s->n_cols) {
            target[k] = k;
            continue;
        }
        const PgQuery__ResTarget *rt = s->cols[k]->res_target;
        target[k] = -1;
        for (int c = 0; c < d.ncols; c++)
            if (!strcmp(d.names[c], rt->name))
                target[k] = c;
        if (target[k] < 0)
            return sql_err_set(q->e, SQLSTATE_UNDEFINED_COLUMN, rt->location, "column \"%s\" "
                               "of relation \"%s\" does not exist", rt->name, name);
        for (int j = 0; j < k; j++)
            if (target[j] == target[k])
                return sql_err_set(q->e, "42701", rt->location, "column \"%s\" specified more "
                                                                "than once", rt->name);
    }
    sql_plan *p;
    const PgQuery__SelectStmt *sel = s->select_stmt ? s->select_stmt->select_stmt : NULL;
    if (!sel) {
        /* INSERT ... DEFAULT VALUES */
        p = mk_plan(b, SP_RESULT, 0);
        nt = 0;
        if (p)
            p->est_rows = 1;
    } else if (sel->n_values_lists && !sel->n_sort_clause && !sel->limit_count) {
        p = insert_values(b, sel, &d, target, nt);
    } else {
        p = bind_select(b, NULL, sel);
        if (p && p->ncols != nt)
            return sql_err_set(q->e, "42601", -1, p->ncols > nt
                                   ? "INSERT has more expressions than target columns"
                                   : "INSERT has more target columns than expressions");
    }
    if (!p || !(p = to_table_row(b, p, &d, target, nt)))
        return q->e->code ? q->e->code : SL_EINVAL;
    segw w;
    uint64_t rows = 0;
    int rc = fill(q, p, &d, &w, &rows);
    if (!rc && w.nout)
        rc = sql_user_add_segments(q->s->eng, name, &d, w.out, w.nout, &q->a, q->e);
    if (rc)
        user_segw_abort(&w);
    else
        user_segw_done(&w);
    q->nrows = rc ? 0 : rows;
    snprintf(q->tag, sizeof q->tag, "INSERT 0 %llu", (unsigned long long)(rc ? 0 : rows));
    return rc;
}

/* UPDATE and DELETE: every segment read once, rewritten only if a row changes. */
typedef struct rewrite {
    segw w;
    int ncols;               /* the table's columns; a batch may carry one more (the flag) */
    uint64_t changed;
    bool flag;               /* the batch's last column says whether the row changed */
} rewrite;

static int rewrite_rows(void *arg, const sql_batch *b)
{
    rewrite *r = arg;
    if (r->flag) {
        const col_vec *f = &b->cols[r->ncols];
        for (int64_t i = 0; i < b->n; i++)
            r->changed += col_vec_is_valid(f, i) && col_vec_bool(f, i);
    }
    sql_batch t = *b;
    t.ncols = r->ncols;
    return user_segw_add(&r->w, &t);
}

static int update_or_delete(sql_query *q, binder *b, const PgQuery__RangeVar *rel,
                            const PgQuery__Node *where, PgQuery__Node **set, int nset,
                            bool is_delete)
{
    const char *name;
    udef d;
    int rc0 = sql_user_writable(q, rel, "change", &name, &d);
    if (rc0)
        return rc0;
    sql_table *t = user_table_of(q->s->eng, name, &d, &q->a);
    if (!t)
        return oom(q->e);
    const char *alias = rel->alias && pstr(rel->alias->aliasname) ? rel->alias->aliasname : name;
    /* the expressions: SET values (by column), then WHERE */
    const PgQuery__Node **nodes = arena_zalloc(&q->a, sizeof *nodes * (size_t)(d.ncols + 1));
    sql_expr **ex_out = arena_zalloc(&q->a, sizeof *ex_out * (size_t)(d.ncols + 1));
    if (!nodes || !ex_out)
        return oom(q->e);
    for (int i = 0; i < nset; i++) {
        const PgQuery__ResTarget *rt = set[i]->res_target;
        int c = -1;
        for (int k = 0; k < d.ncols; k++)
            if (!strcmp(d.names[k], rt->name))
                c = k;
        if (c < 0)
            return sql_err_set(q->e, SQLSTATE_UNDEFINED_COLUMN, rt->location, "column \"%s\" of "
                               "relation \"%s\" does not exist", rt->name, name);
        if (rt->n_indirection)
            return sql_err_set(q->e, SQLSTATE_FEATURE, rt->location, "assigning to a part of a "
                                                                     "column is not supported");
        if (nodes[c])
            return sql_err_set(q->e, "42601", rt->location, "multiple assignments to same column "
                                                            "\"%s\"", rt->name);
        nodes[c] = rt->val;
    }
    nodes[d.ncols] = where;
    sql_plan *scan = bind_table_exprs(b, t, alias, nodes, d.ncols + 1, true, ex_out);
    if (!scan)
        return q->e->code ? q->e->code : SL_EINVAL;
    sql_expr *cond = ex_out[d.ncols];
    /* the flag: the condition is true (a NULL condition changes nothing) */
    sql_expr *flag;
    if (cond) {
        flag = mk_expr(b, SE_BOOLTEST, sql_type_of(ST_BOOL), -1, 1);
        if (!flag)
            return oom(q->e);
        flag->test = 1;
        flag->args[0] = cond;
    } else {
        flag = mk_bool_const(b, true);
    }
    sql_user_catalog *uc = q->s->eng->users;
    pthread_mutex_lock(&uc->write_mu);
    int rc = SL_OK;
    uint64_t changed = 0;
    useg *segs = arena_alloc(&q->a, sizeof *segs * (size_t)(d.nseg * 2 + 1));
    int nseg = 0;
    bool any = false;
    char **replaced = arena_zalloc(&q->a, sizeof *replaced * (size_t)(d.nseg + 1));
    if (!segs || !replaced)
        rc = oom(q->e);
    segw all = {0};
    if (!rc)
        rc = user_segw_init(&all, q->s->eng, &d, &q->a, q->e);
    for (int sgi = 0; sgi < d.nseg && !rc; sgi++) {
        ((utab *)t)->only_seg = sgi;
        /* the per-segment plan: the scan, then the new row and the flag */
        sql_plan *p = mk_plan(b, SP_PROJECT, d.ncols + 1);
        if (!p) {
            rc = oom(q->e);
            break;
        }
        sql_plan *sc = mk_plan(b, SP_SCAN, scan->ncols);
        if (!sc) {
            rc = oom(q->e);
            break;
        }
        *sc = *scan; /* a fresh node: the optimizer rewrites plans in place */
        sc->types = scan->types;
        sc->names = scan->names;
        int *cols = arena_alloc(&q->a, sizeof *cols * (size_t)(d.ncols + 1));
        if (!cols) {
            rc = oom(q->e);
            break;
        }
        memcpy(cols, scan->scan.cols, sizeof *cols * (size_t)d.ncols);
        sc->scan.cols = cols;
        sc->scan.filter = NULL;
        p->child = sc;
        if (is_delete) {
            /* survivors: rows whose condition is not true */
            sql_plan *f = mk_plan(b, SP_FILTER, d.ncols);
            sql_expr *keep = mk_expr(b, SE_NOT, sql_type_of(ST_BOOL), -1, 1);
            if (!f || !keep) {
                rc = oom(q->e);
                break;
            }
            keep->args[0] = flag;
            f->child = sc;
            f->filter.pred = keep;
            memcpy(f->types, d.types, sizeof *d.types * (size_t)d.ncols);
            memcpy(f->names, d.names, sizeof *d.names * (size_t)d.ncols);
            p->child = f;
        }
        for (int c = 0; c < d.ncols; c++) {
            sql_expr *col = mk_col(b, c, d.types[c], -1), *e = col;
            if (!is_delete && ex_out[c]) {
                char what[96];
                snprintf(what, sizeof what, "column \"%s\"", d.names[c]);
                sql_expr *nv = ex_out[c];
                if (nv->kind == SE_PARAM && nv->type.id == ST_UNKNOWN)
                    param_infer(b, nv->col, d.types[c]);
                if (!sql_type_eq(nv->type, d.types[c]) && !(nv = coerce(b, nv, d.types[c], 'a', what))) {
                    rc = q->e->code ? q->e->code : SL_EINVAL;
                    break;
                }
                /* CASE WHEN flag THEN new ELSE old END */
                e = mk_expr(b, SE_CASE, d.types[c], -1, 3);
                if (!e) {
                    rc = oom(q->e);
                    break;
                }
                e->has_else = 1;
                e->args[0] = flag;
                e->args[1] = nv;
                e->args[2] = col;
            }
            p->project.exprs[c] = e;
            p->types[c] = d.types[c];
            p->names[c] = d.names[c];
        }
        if (rc)
            break;
        p->project.exprs[d.ncols] = is_delete ? mk_bool_const(b, false) : flag;
        p->types[d.ncols] = sql_type_of(ST_BOOL);
        p->names[d.ncols] = "?changed?";
        rewrite r = {.ncols = d.ncols, .flag = !is_delete};
        if ((rc = user_segw_init(&r.w, q->s->eng, &d, &q->a, q->e)))
            break;
        uint64_t before = q->nrows;
        rc = sql_run_plan_all(q, p, false, rewrite_rows, &r);
        /* the plan ran in q's executor: free its operators before the next segment */
        if (q->root) {
            sql_op_close(q->root);
            q->root = NULL;
        }
        if (q->x_on) {
            void sql_exec_free_ctes(sql_exec * x);
            void sql_exec_free_subqueries(sql_exec * x);
            sql_exec_free_ctes(&q->x);
            sql_exec_free_subqueries(&q->x);
            pthread_mutex_destroy(&q->x.mu);
            q->x_on = false;
        }
        uint64_t kept = q->nrows - before;
        uint64_t seg_changed = is_delete ? (uint64_t)d.segs[sgi].rows - kept : r.changed;
        if (!rc && seg_changed == 0) {
            /* nothing changed here: the segment stays, what was written goes */
            if (r.w.w) {
                pq_writer_free(r.w.w);
                r.w.w = NULL;
                dbuf_free(&r.w.buf);
            }
            user_segw_done(&r.w);
            segs[nseg++] = d.segs[sgi];
            continue;
        }
        if (!rc)
            rc = user_segw_flush(&r.w);
        if (rc) {
            user_segw_abort(&r.w);
            break;
        }
        changed += seg_changed;
        any = true;
        replaced[sgi] = (char *)d.segs[sgi].key;
        for (int k = 0; k < r.w.nout; k++)
            segs[nseg++] = r.w.out[k];
        /* keep track of the new segments for an abort */
        for (int k = 0; k < r.w.nout; k++) {
            if (all.nout == all.cap) {
                int nc = all.cap ? all.cap * 2 : 8;
                useg *nn = arena_alloc(&q->a, sizeof *nn * (size_t)nc);
                if (!nn) {
                    rc = oom(q->e);
                    break;
                }
                if (all.out)
                    memcpy(nn, all.out, sizeof *nn * (size_t)all.nout);
                all.out = nn;
                all.cap = nc;
            }
            all.out[all.nout++] = r.w.out[k];
        }
        user_segw_done(&r.w);
    }
    if (!rc && any) {
        udef nd = d;
        nd.segs = segs;
        nd.nseg = nseg;
        rc = user_def_put(q->s->eng, name, &nd, d.version, q->e);
    }
    pthread_mutex_unlock(&uc->write_mu);
    if (rc) {
        user_segw_abort(&all);
        q->nrows = 0;
        return rc;
    }
    user_segw_done(&all);
    for (int i = 0; i < d.nseg; i++)
        if (replaced[i])
            user_retire_later(uc, replaced[i]);
    user_retire_sweep(q->s->eng, false);
    q->nrows = changed;
    snprintf(q->tag, sizeof q->tag, "%s %llu", is_delete ? "DELETE" : "UPDATE",
             (unsigned long long)changed);
    return SL_OK;
}

static int truncate_tables(sql_query *q, const PgQuery__TruncateStmt *t)
{
    snprintf(q->tag, sizeof q->tag, "TRUNCATE TABLE");
    sql_user_catalog *uc = q->s->eng->users;
    for (size_t i = 0; i < t->n_relations; i++) {
        const PgQuery__RangeVar *rv = t->relations[i]->range_var;
        const char *name = rel_name(q, rv);
        if (!name)
            return SL_EINVAL;
        udef d;
        int ex = user_def_get(q->s->eng, name, &q->a, &d, q->e);
        if (ex < 0)
            return ex;
        if (!ex || d.kind != UK_TABLE)
            return sql_err_set(q->e, ex ? "42809" : SQLSTATE_UNDEFINED_TABLE, rv->location,
                               ex ? "\"%s\" is not a table" : "relation \"%s\" does not exist",
                               name);
        udef nd = d;
        nd.nseg = 0;
        pthread_mutex_lock(&uc->write_mu);
        int rc = user_def_put(q->s->eng, name, &nd, d.version, q->e);
        pthread_mutex_unlock(&uc->write_mu);
        if (rc)
            return rc;
        for (int k = 0; k < d.nseg; k++)
            user_retire_later(uc, d.segs[k].key);
    }
    return SL_OK;
}

static int drop(sql_query *q, const PgQuery__DropStmt *ds)
{
    bool view = ds->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_VIEW;
    bool index = ds->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_INDEX;
    snprintf(q->tag, sizeof q->tag, view ? "DROP VIEW" : index ? "DROP INDEX" : "DROP TABLE");
    if (index)
        return SL_OK; /* indexes are not kept: dropping one changes nothing */
    if (!view && ds->remove_type != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE)
        return sql_err_set(q->e, SQLSTATE_FEATURE, -1, "only DROP TABLE, DROP VIEW and DROP "
                                                       "INDEX are supported");
    sql_user_catalog *uc = q->s->eng->users;
    for (size_t i = 0; i < ds->n_objects; i++) {
        const PgQuery__List *l = ds->objects[i]->list;
        const char *name = l && l->n_items ? node_str(l->items[l->n_items - 1]) : NULL;
        if (!name)
            return sql_err_set(q->e, SQLSTATE_FEATURE, -1, "DROP: unsupported object name");
        udef d;
        int ex = user_def_get(q->s->eng, name, &q->a, &d, q->e);
        if (ex < 0)
            return ex;
        if (!ex) {
            if (ds->missing_ok)
                continue;
            if (builtin_name(q->s->eng, name))
                return sql_err_set(q->e, "42809", -1, "\"%s\" is a lake table; it cannot be "
                                                      "dropped", name);
            return sql_err_set(q->e, SQLSTATE_UNDEFINED_TABLE, -1, "%s \"%s\" does not exist",
                               view ? "view" : "table", name);
        }
        if ((d.kind == UK_VIEW) != view)
            return sql_err_set(q->e, "42809", -1, "\"%s\" is not a %s", name,
                               view ? "view" : "table");
        pthread_mutex_lock(&uc->write_mu);
        int rc = user_def_put(q->s->eng, name, NULL, d.version, q->e);
        pthread_mutex_unlock(&uc->write_mu);
        if (rc)
            return rc;
        for (int k = 0; k < d.nseg; k++)
            user_retire_later(uc, d.segs[k].key);
    }
    user_retire_sweep(q->s->eng, false);
    return SL_OK;
}

/* The SELECT of a view as text: PostgreSQL's own deparser over its parse tree. */
static char *deparse_select(arena *a, PgQuery__Node *query)
{
    PgQuery__RawStmt raw = PG_QUERY__RAW_STMT__INIT;
    raw.stmt = query;
    PgQuery__RawStmt *rp = &raw;
    PgQuery__ParseResult pr = PG_QUERY__PARSE_RESULT__INIT;
    pr.version = PG_VERSION_NUM;
    pr.n_stmts = 1;
    pr.stmts = &rp;
    size_t n = pg_query__parse_result__get_packed_size(&pr);
    uint8_t *buf = sl_malloc(n ? n : 1);
    if (!buf)
        return NULL;
    pg_query__parse_result__pack(&pr, buf);
    PgQueryProtobuf pb = {n, (char *)buf};
    PgQueryDeparseResult r = pg_query_deparse_protobuf(pb);
    sl_free(buf);
    char *out = NULL;
    if (!r.error && r.query)
        out = arena_strndup(a, r.query, strlen(r.query));
    pg_query_free_deparse_result(r);
    return out;
}

static int create_view(sql_query *q, binder *b, PgQuery__ViewStmt *v)
{
    snprintf(q->tag, sizeof q->tag, "CREATE VIEW");
    const char *name = new_rel_name(q, v->view);
    if (!name)
        return q->e->code ? q->e->code : SL_EINVAL;
    if (!v->query || v->query->node_case != PG_QUERY__NODE__NODE_SELECT_STMT)
        return sql_err_set(q->e, SQLSTATE_FEATURE, -1, "a view is a SELECT");
    /* bound now, so a wrong view is refused when created */
    sql_plan *p = bind_select(b, NULL, v->query->select_stmt);
    if (!p)
        return q->e->code ? q->e->code : SL_EINVAL;
    if ((int)v->n_aliases > p->ncols)
        return sql_err_set(q->e, "42601", -1, "CREATE VIEW specifies more column names than "
                                              "columns");
    udef d = {.kind = UK_VIEW, .ncols = p->ncols,
              .names = arena_zalloc(&q->a, sizeof(char *) * (size_t)(p->ncols + 1)),
              .view_sql = deparse_select(&q->a, v->query)};
    if (!d.names || !d.view_sql)
        return sql_err_set(q->e, SQLSTATE_INTERNAL, -1, "the view's query cannot be stored");
    for (int i = 0; i < p->ncols; i++)
        d.names[i] = i < (int)v->n_aliases ? node_str(v->aliases[i]) : p->names[i];
    udef old;
    int ex = user_def_get(q->s->eng, name, &q->a, &old, q->e);
    if (ex < 0)
        return ex;
    if (ex && (!v->replace || old.kind != UK_VIEW))
        return sql_err_set(q->e, SQLSTATE_DUPLICATE_TABLE, v->view->location,
                           "relation \"%s\" already exists", name);
    sql_user_catalog *uc = q->s->eng->users;
    pthread_mutex_lock(&uc->write_mu);
    int rc = user_def_put(q->s->eng, name, &d, ex ? old.version : 0, q->e);
    pthread_mutex_unlock(&uc->write_mu);
    return rc;
}

static int create_index(sql_query *q, const PgQuery__IndexStmt *ix)
{
    snprintf(q->tag, sizeof q->tag, "CREATE INDEX");
    const char *name = rel_name(q, ix->relation);
    if (!name)
        return SL_EINVAL;
    udef d;
    int ex = user_def_get(q->s->eng, name, &q->a, &d, q->e);
    if (ex < 0)
        return ex;
    if (!ex && !builtin_name(q->s->eng, name))
        return sql_err_set(q->e, SQLSTATE_UNDEFINED_TABLE, ix->relation->location,
                           "relation \"%s\" does not exist", name);
    return SL_OK; /* accepted: scans are columnar and parallel; no index is kept */
}

int sql_user_statement(sql_query *q, binder *b, const PgQuery__Node *st)
{
    if (!q->s->eng->m || !q->s->eng->os)
        return sql_err_set(q->e, SQLSTATE_FEATURE, -1, "user tables need a data directory");
    switch (st->node_case) {
    case PG_QUERY__NODE__NODE_CREATE_STMT: return create_table(q, b, st->create_stmt);
    case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT:
        return create_table_as(q, b, st->create_table_as_stmt);
    case PG_QUERY__NODE__NODE_INSERT_STMT: return insert(q, b, st->insert_stmt);
    case PG_QUERY__NODE__NODE_UPDATE_STMT: {
        const PgQuery__UpdateStmt *u = st->update_stmt;
        snprintf(q->tag, sizeof q->tag, "UPDATE 0");
        if (u->n_from_clause || u->n_returning_list || u->with_clause)
            return sql_err_set(q->e, SQLSTATE_FEATURE, -1, "UPDATE with FROM, RETURNING or WITH "
                                                           "is not supported");
        return update_or_delete(q, b, u->relation, u->where_clause, u->target_list,
                                (int)u->n_target_list, false);
    }
    case PG_QUERY__NODE__NODE_DELETE_STMT: {
        const PgQuery__DeleteStmt *d = st->delete_stmt;
        snprintf(q->tag, sizeof q->tag, "DELETE 0");
        if (d->n_using_clause || d->n_returning_list || d->with_clause)
            return sql_err_set(q->e, SQLSTATE_FEATURE, -1, "DELETE with USING, RETURNING or WITH "
                                                           "is not supported");
        return update_or_delete(q, b, d->relation, d->where_clause, NULL, 0, true);
    }
    case PG_QUERY__NODE__NODE_DROP_STMT: return drop(q, st->drop_stmt);
    case PG_QUERY__NODE__NODE_VIEW_STMT: return create_view(q, b, st->view_stmt);
    case PG_QUERY__NODE__NODE_INDEX_STMT: return create_index(q, st->index_stmt);
    case PG_QUERY__NODE__NODE_TRUNCATE_STMT: return truncate_tables(q, st->truncate_stmt);
    default: return sql_err_set(q->e, SQLSTATE_FEATURE, -1, "this statement is not supported");
    }
}

/* Every user table and view (for information_schema): fn(arg, name, def) per row. */