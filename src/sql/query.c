/*
 * query.c - one statement from text to result batches (see sql.h).
 *
 * sql_query_open parses the text, then by statement:
 *
 *   SELECT, VALUES, WITH   bind -> optimize -> build the operators -> open;
 *                          rows come out of sql_query_next as the root
 *                          operator produces them
 *   EXPLAIN [ANALYZE]      the plan's text (ANALYZE runs the query first,
 *                          discarding its rows, and shows each node's figures)
 *   SET, RESET, SHOW       session settings (engine.c)
 *   BEGIN, COMMIT, ...     accepted: every statement is atomic on its own;
 *                          docs/sql.md says what a transaction block means here
 *   PREPARE, EXECUTE, DEALLOCATE
 *   CREATE/DROP TABLE, CREATE TABLE AS, INSERT, UPDATE, DELETE, CREATE/DROP
 *   VIEW, CREATE INDEX     user tables (catalog/user.c)
 *
 * Everything a query allocates lives in its arena or is owned by its
 * operators, and sql_query_close frees it all, finished or not.
 */
#include "sql/query_int.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "sql/plan/optimize.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

void sql_exec_free_ctes(sql_exec *x);
void sql_exec_free_subqueries(sql_exec *x);

/* ---- results made of text rows (EXPLAIN, SHOW) ---- */

int sql_query_set_columns(sql_query *q, int n, const char *const *names, const sql_type *types)
{
    q->has_rows = true;
    q->ncols = n;
    q->names = arena_zalloc(&q->a, sizeof *q->names * (size_t)(n ? n : 1));
    q->types = arena_zalloc(&q->a, sizeof *q->types * (size_t)(n ? n : 1));
    if (!q->names || !q->types)
        return SL_ENOMEM;
    for (int i = 0; i < n; i++) {
        q->names[i] = arena_strndup(&q->a, names[i], strlen(names[i]));
        if (!q->names[i])
            return SL_ENOMEM;
        q->types[i] = types[i];
    }
    return SL_OK;
}

/* Appends a row of text values to the prepared result (one batch). */
int sql_query_add_text_row(sql_query *q, const char *const *vals)
{
    if (!q->given && sql_batch_new(q->ncols, q->types, &q->given))
        return SL_ENOMEM;
    for (int i = 0; i < q->ncols; i++) {
        int rc = vals[i] ? col_vec_append_str(&q->given->cols[i], vals[i], strlen(vals[i]))
                         : col_vec_append_null(&q->given->cols[i]);
        if (rc)
            return rc;
    }
    q->given->n++;
    return SL_OK;
}

/* ---- binding ---- */

void sql_binder_init(binder *b, sql_query *q, const char *text)
{
    memset(b, 0, sizeof *b);
    b->s = q->s;
    b->a = &q->a;
    b->e = q->e;
    b->text = text;
    b->qbegin = q->begin_ns;
    b->qend = q->end_ns;
    arena_init(&b->scratch, 4096, 64u << 20);
    b->ex.f.err = q->e;
    b->ex.f.scratch = &b->scratch;
    b->ex.f.now_ns = q->now_ns;
    b->ex.f.random_state = q->s->random_state;
    b->ex.params = q->params;
    b->ex.param_types = q->ptypes;
    b->ex.nparams = q->nparams;
    if (q->nparams && q->ptypes) {
        /* declared types bind as such; text values are inferred from their use */
        bool any = false;
        for (int i = 0; i < q->nparams; i++)
            any |= q->ptypes[i].id != ST_UNKNOWN;
        if (any) {
            b->ptypes = arena_alloc(&q->a, sizeof *b->ptypes * (size_t)q->nparams);
            if (b->ptypes) {
                memcpy(b->ptypes, q->ptypes, sizeof *b->ptypes * (size_t)q->nparams);
                b->nparams = b->ptypes_cap = q->nparams;
            }
        }
    }
}

void sql_binder_done(binder *b)
{
    arena_destroy(&b->scratch);
}

/* ---- running a plan ---- */

static int start_plan(sql_query *q, sql_plan *plan, bool analyze)
{
    sql_exec *x = &q->x;
    memset(x, 0, sizeof *x);
    x->root = x;
    x->s = q->s;
    x->eng = q->s->eng;
    x->a = &q->a;
    x->e = q->e;
    x->ex.f.err = q->e;
    x->ex.f.scratch = &q->scratch;
    x->ex.f.now_ns = q->now_ns;
    x->ex.f.random_state = q->s->random_state;
    x->ex.params = q->params;
    x->ex.param_types = q->ptypes;
    x->ex.nparams = q->nparams;
    x->ex.subq = sql_exec_subquery;
    x->ex.subq_arg = x;
    x->ext_cancel = q->ext_cancel;
    x->deadline_ns = q->s->timeout_ms > 0 ? q->t0 + q->s->timeout_ms * 1000000 : 0;
    x->mem_limit = q->s->work_mem_bytes;
    x->workers = q->s->workers;
    x->analyze = analyze;
    pthread_mutex_init(&x->mu, NULL);
    q->x_on = true;
    x->ex.cancel = (const uint8_t *)&x->cancel;
    /* the optimizer evaluates constants and parameters with the same context */
    sql_ectx cx = x->ex;
    if (sql_optimize(&q->a, &cx, &plan, q->e))
        return SL_ENOMEM;
    q->plan = plan;
    int rc = sql_op_build(x, plan, &q->root);
    if (!rc && !q->plan_only)
        rc = sql_op_open(q->root);
    return rc;
}

static int select_columns(sql_query *q, const sql_plan *p)
{
    q->ncols = p->ncols;
    q->names = (const char **)p->names;
    q->types = p->types;
    return SL_OK;
}

int sql_run_select(sql_query *q, binder *b, const PgQuery__SelectStmt *s)
{
    sql_plan *p = bind_select(b, NULL, s);
    if (!p)
        return q->e->code ? q->e->code : SL_EINVAL;
    select_columns(q, p);
    q->tag_rows = true;
    q->has_rows = true;
    snprintf(q->tag, sizeof q->tag, "SELECT");
    return start_plan(q, p, false);
}

/* Runs a bound plan to the end (EXPLAIN ANALYZE, CREATE TABLE AS, INSERT ... SELECT),
 * handing each batch to fn (NULL: drop it). */
int sql_run_plan_all(sql_query *q, sql_plan *p, bool analyze,
                     int (*fn)(void *arg, const sql_batch *b), void *arg)
{
    int rc = start_plan(q, p, analyze);
    while (!rc) {
        sql_batch *b;
        if ((rc = sql_op_next(q->root, &b)) || !b)
            break;
        q->nrows += (uint64_t)b->n;
        if (fn)
            rc = fn(arg, b);
        sql_batch_free(b);
    }
    return rc;
}

static int run_explain(sql_query *q, binder *b, const PgQuery__ExplainStmt *ex)
{
    bool analyze = false;
    for (size_t i = 0; i < ex->n_options; i++) {
        const PgQuery__DefElem *d = ex->options[i]->def_elem;
        if (!d || !d->defname)
            continue;
        bool on = true;
        if (d->arg) {
            const char *v = node_str(d->arg);
            if (d->arg->node_case == PG_QUERY__NODE__NODE_BOOLEAN)
                on = d->arg->boolean->boolval;
            else if (v && (!strcasecmp(v, "false") || !strcasecmp(v, "off") || !strcmp(v, "0")))
                on = false;
        }
        if (!strcmp(d->defname, "analyze"))
            analyze = on;
        else if (!strcmp(d->defname, "format") && d->arg && node_str(d->arg) &&
                 strcasecmp(node_str(d->arg), "text"))
            return sql_err_set(q->e, SQLSTATE_FEATURE, d->location, "EXPLAIN format %s is not "
                               "supported (text only)", node_str(d->arg));
    }
    const PgQuery__Node *st = ex->query;
    if (!st || st->node_case != PG_QUERY__NODE__NODE_SELECT_STMT)
        return sql_err_set(q->e, SQLSTATE_FEATURE, -1, "EXPLAIN supports SELECT statements");
    sql_plan *p = bind_select(b, NULL, st->select_stmt);
    if (!p)
        return q->e->code ? q->e->code : SL_EINVAL;
    int rc;
    int64_t t0 = clock_mono_ns();
    if (analyze) {
        rc = sql_run_plan_all(q, p, true, NULL, NULL);
    } else {
        sql_ectx cx = {0};
        cx.f.err = q->e;
        cx.f.scratch = &q->scratch;
        cx.f.now_ns = q->now_ns;
        cx.params = q->params;
        cx.param_types = q->ptypes;
        cx.nparams = q->nparams;
        rc = sql_optimize(&q->a, &cx, &p, q->e);
        q->plan = p;
    }
    if (rc)
        return rc;
    dbuf out;
    dbuf_init(&out, 16u << 20);
    rc = sql_plan_explain(q->plan, analyze ? (const sql_opstats *const *)q->x.stats : NULL,
                          analyze ? q->x.nstats : 0, &out);
    if (!rc && analyze)
        rc = dbuf_printf(&out, "Execution Time: %.3f ms\nPeak Memory: %lld kB\n",
                         (double)(clock_mono_ns() - t0) / 1e6,
                         (long long)((atomic_load(&q->x.mem_peak) + 1023) >> 10));
    static const char *name = "QUERY PLAN";
    sql_type tt = sql_type_of(ST_TEXT);
    if (!rc)
        rc = sql_query_set_columns(q, 1, &name, &tt);
    for (char *line = (char *)out.p, *nl; !rc && line && *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl)
            break;
        *nl = 0;
        const char *v = line;
        rc = sql_query_add_text_row(q, &v);
    }
    dbuf_free(&out);
    if (rc && !q->e->state[0])
        sql_err_set(q->e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    snprintf(q->tag, sizeof q->tag, "EXPLAIN");
    q->tag_rows = false;
    return rc;
}

/* ---- SET / SHOW / transactions ---- */

static int set_value_text(const PgQuery__Node *n, char *buf, size_t len)
{
    if (n->node_case == PG_QUERY__NODE__NODE_A_CONST) {
        const PgQuery__AConst *c = n->a_const;
        switch (c->val_case) {
        case PG_QUERY__A__CONST__VAL_SVAL: snprintf(buf, len, "%s", c->sval->sval); return 0;
        case PG_QUERY__A__CONST__VAL_IVAL:
            snprintf(buf, len, "%d", c->ival ? c->ival->ival : 0);
            return 0;
        case PG_QUERY__A__CONST__VAL_FVAL: snprintf(buf, len, "%s", c->fval->fval); return 0;
        case PG_QUERY__A__CONST__VAL_BOOLVAL:
            snprintf(buf, len, "%s", c->boolval->boolval ? "on" : "off");
            return 0;
        default: return -1;
        }
    }
    if (n->node_case == PG_QUERY__NODE__NODE_TYPE_CAST)
        return set_value_text(n->type_cast->arg, buf, len);
    const char *s = node_str(n);
    if (s) {
        snprintf(buf, len, "%s", s);
        return 0;
    }
    return -1;
}

static int run_set(sql_query *q, const PgQuery__VariableSetStmt *v)
{
    snprintf(q->tag, sizeof q->tag, v->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET ||
                                            v->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET_ALL
                                        ? "RESET" : "SET");
    const char *name = v->name;
    switch (v->kind) {
    case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE: {
        char val[1024] = "";
        size_t used = 0;
        for (size_t i = 0; i < v->n_args; i++) {
            char one[512];
            if (set_value_text(v->args[i], one, sizeof one))
                return sql_err_set(q->e, SQLSTATE_FEATURE, -1, "SET %s: unsupported value", name);
            used += (size_t)snprintf(val + used, sizeof val - used, "%s%s", i ? ", " : "", one);
            if (used >= sizeof val)
                return sql_err_set(q->e, "22023", -1, "SET %s: value too long", name);
        }
        return sql_session_set(q->s, name, val, q->e);
    }
    case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_DEFAULT:
    case PG_QUERY__VARIABLE_SET_KIND__VAR_RESET:
        return sql_session_set(q->s, name, NULL, q->e);
    case PG_QUERY__VARIABLE_SET_KIND__VAR_RESET_ALL:
        for (int i = 0; i < q->s->nsettings; i++)
            sql_session_set(q->s, q->s->settings[i].name, NULL, q->e);
        sql_err_clear(q->e);
        return SL_OK;
    case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_MULTI:
        /* SET TRANSACTION ... / SET SESSION CHARACTERISTICS: accepted */
        return SL_OK;
    default:
        return sql_err_set(q->e, SQLSTATE_FEATURE, -1, "this form of SET is not supported");
    }
}

static int run_show(sql_query *q, const PgQuery__VariableShowStmt *v)
{
    snprintf(q->tag, sizeof q->tag, "SHOW");
    sql_type tt = sql_type_of(ST_TEXT);
    char buf[256];
    if (!strcasecmp(v->name, "all")) {
        static const char *names[] = {"name", "setting", "description"};
        sql_type t3[3] = {tt, tt, tt};
        int rc = sql_query_set_columns(q, 3, names, t3);
        for (int i = 0; !rc; i++) {
            const char *n = sql_setting_name_at(q->s, i);
            if (!n)
                break;
            const char *row[3] = {n, sql_session_get(q->s, n, buf, sizeof buf), ""};
            rc = sql_query_add_text_row(q, row);
        }
        return rc ? sql_err_set(q->e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory") : SL_OK;
    }
    const char *val = sql_session_get(q->s, v->name, buf, sizeof buf);
    if (!val)
        return sql_err_set(q->e, "42704", -1, "unrecognized configuration parameter \"%s\"",
                           v->name);
    const char *name = v->name;
    int rc = sql_query_set_columns(q, 1, &name, &tt);
    if (!rc)
        rc = sql_query_add_text_row(q, &val);
    return rc ? sql_err_set(q->e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory") : SL_OK;
}

static int run_tx(sql_query *q, const PgQuery__TransactionStmt *t)
{
    sql_session *s = q->s;
    switch (t->kind) {
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN:
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_START:
        snprintf(q->tag, sizeof q->tag, "BEGIN");
        s->in_tx = true;
        s->tx_failed = false;
        return SL_OK;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT:
        snprintf(q->tag, sizeof q->tag, s->tx_failed ? "ROLLBACK" : "COMMIT");
        s->in_tx = s->tx_failed = false;
        return SL_OK;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK:
        snprintf(q->tag, sizeof q->tag, "ROLLBACK");
        s->in_tx = s->tx_failed = false;
        return SL_OK;
    default:
        return sql_err_set(q->e, SQLSTATE_FEATURE, -1, "savepoints and two-phase commit are not "
                                                       "supported");
    }
}

/* ---- PREPARE / EXECUTE / DEALLOCATE ---- */

static int run_prepare(sql_query *q, binder *b, const PgQuery__PrepareStmt *p, const char *text)
{
    snprintf(q->tag, sizeof q->tag, "PREPARE");
    sql_type types[64];
    int n = (int)p->n_argtypes;
    if (n > 64)
        return sql_err_set(q->e, "54000", -1, "too many parameters");
    for (int i = 0; i < n; i++)
        if (!bind_typename(b, p->argtypes[i]->type_name, &types[i]))
            return q->e->code ? q->e->code : SL_EINVAL;
    const PgQuery__Node *st = p->query;
    int loc = st && st->node_case == PG_QUERY__NODE__NODE_SELECT_STMT ? 0 : 0;
    (void)loc;
    /* the statement text: what follows AS */
    const char *as = text;
    for (const char *c = text; *c; c++)
        if (!strncasecmp(c, " as ", 4) || !strncasecmp(c, "\nas ", 4) ||
            !strncasecmp(c, " as\n", 4)) {
            as = c + 4;
            break;
        }
    return sql_prepared_add(q->s, p->name, as, types, n, q->e);
}

static int run_deallocate(sql_query *q, const PgQuery__DeallocateStmt *d)
{
    snprintf(q->tag, sizeof q->tag, "DEALLOCATE");
    if (!pstr(d->name)) {
        sql_prepared_clear(q->s);
        return SL_OK;
    }
    sql_prepared *p = sql_prepared_find(q->s, d->name);
    if (!p)
        return sql_err_set(q->e, "26000", -1, "prepared statement \"%s\" does not exist", d->name);
    sql_prepared_drop(q->s, p);
    return SL_OK;
}

/* ---- the entry ---- */

static int dispatch(sql_query *q, const PgQuery__Node *st, const char *text);

static int run_execute(sql_query *q, binder *b, const PgQuery__ExecuteStmt *x)
{
    sql_prepared *p = sql_prepared_find(q->s, x->name);
    if (!p)
        return sql_err_set(q->e, "26000", -1, "prepared statement \"%s\" does not exist",
                           x->name);
    int n = (int)x->n_params;
    sql_datum *vals = arena_zalloc(&q->a, sizeof *vals * (size_t)(n ? n : 1));
    sql_type *types = arena_zalloc(&q->a, sizeof *types * (size_t)(n ? n : 1));
    if (!vals || !types)
        return sql_err_set(q->e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    bind_scope sc = {0};
    for (int i = 0; i < n; i++) {
        sql_expr *e = bind_expr(b, &sc, x->params[i]);
        if (!e)
            return q->e->code ? q->e->code : SL_EINVAL;
        if (i < p->ntypes && p->types[i].id != ST_UNKNOWN &&
            !(e = coerce(b, e, p->types[i], 'a', "parameter")))
            return q->e->code ? q->e->code : SL_EINVAL;
        if (e->kind != SE_CONST && !(e = fold(b, e)))
            return q->e->code ? q->e->code : SL_EINVAL;
        vals[i] = e->c;
        types[i] = e->type.id == ST_NULL ? sql_type_of(ST_UNKNOWN) : e->type;
    }
    q->params = vals;
    q->ptypes = types;
    q->nparams = n;
    if (!p->parsed && !(p->parsed = sql_parsed_text_new(p->text))) {
        sql_parsed ps; /* the parser's error */
        if (sql_parse(p->text, &ps, q->e))
            return SL_EINVAL;
        sql_parsed_free(&ps);
        return sql_err_set(q->e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    }
    q->pt_inner = sql_parsed_text_ref(p->parsed);
    const sql_parsed ps = p->parsed->ps;
    if (ps.n_stmts != 1) {
        return sql_err_set(q->e, SQLSTATE_SYNTAX, -1, "prepared statement \"%s\" holds %zu "
                           "statements", x->name, ps.n_stmts);
    }
    q->text = p->text;
    return dispatch(q, ps.tree->stmts[0]->stmt, p->text);
}

/* sql_query_open_plan: the SELECT inside a statement, NULL if it has none. */
static const PgQuery__Node *select_of(const PgQuery__Node *st)
{
    switch (st->node_case) {
    case PG_QUERY__NODE__NODE_SELECT_STMT: return st;
    case PG_QUERY__NODE__NODE_INSERT_STMT: return st->insert_stmt->select_stmt;
    case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT: return st->create_table_as_stmt->query;
    default: return NULL;
    }
}

static int dispatch(sql_query *q, const PgQuery__Node *st, const char *text)
{
    binder b;
    sql_binder_init(&b, q, text);
    int rc;
    if (q->plan_only) {
        const PgQuery__Node *sel = select_of(st);
        rc = sel && sel->node_case == PG_QUERY__NODE__NODE_SELECT_STMT
                 ? sql_run_select(q, &b, sel->select_stmt)
                 : sql_err_set(q->e, SQLSTATE_FEATURE, -1, "the statement has no SELECT to run");
        sql_binder_done(&b);
        return rc;
    }
    const sql_stmt_hook *sh = q->s->eng->stmt_hook;
    if (sh && (rc = sh->run(sh->arg, q, st, text)) != 0) {
        sql_binder_done(&b);
        return rc < 0 ? rc : SL_OK;
    }
    switch (st->node_case) {
    case PG_QUERY__NODE__NODE_SELECT_STMT: rc = sql_run_select(q, &b, st->select_stmt); break;
    case PG_QUERY__NODE__NODE_EXPLAIN_STMT: rc = run_explain(q, &b, st->explain_stmt); break;
    case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT: rc = run_set(q, st->variable_set_stmt); break;
    case PG_QUERY__NODE__NODE_VARIABLE_SHOW_STMT: rc = run_show(q, st->variable_show_stmt); break;
    case PG_QUERY__NODE__NODE_TRANSACTION_STMT: rc = run_tx(q, st->transaction_stmt); break;
    case PG_QUERY__NODE__NODE_PREPARE_STMT: rc = run_prepare(q, &b, st->prepare_stmt, text); break;
    case PG_QUERY__NODE__NODE_EXECUTE_STMT: rc = run_execute(q, &b, st->execute_stmt); break;
    case PG_QUERY__NODE__NODE_DEALLOCATE_STMT: rc = run_deallocate(q, st->deallocate_stmt); break;
    case PG_QUERY__NODE__NODE_CREATE_STMT:
    case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT:
    case PG_QUERY__NODE__NODE_INSERT_STMT:
    case PG_QUERY__NODE__NODE_UPDATE_STMT:
    case PG_QUERY__NODE__NODE_DELETE_STMT:
    case PG_QUERY__NODE__NODE_DROP_STMT:
    case PG_QUERY__NODE__NODE_VIEW_STMT:
    case PG_QUERY__NODE__NODE_INDEX_STMT:
    case PG_QUERY__NODE__NODE_TRUNCATE_STMT:
        rc = sql_user_statement(q, &b, st);
        break;
    case PG_QUERY__NODE__NODE_COPY_STMT: rc = sql_user_copy_open(q, st->copy_stmt); break;
    case PG_QUERY__NODE__NODE_DISCARD_STMT:
        snprintf(q->tag, sizeof q->tag, "DISCARD ALL");
        sql_prepared_clear(q->s);
        rc = SL_OK;
        break;
    default:
        rc = sql_err_set(q->e, SQLSTATE_FEATURE, -1, "this kind of statement is not supported");
        break;
    }
    sql_binder_done(&b);
    return rc;
}

static int open_query(sql_session *s, const char *text, const sql_query_opts *o, bool plan_only,
                      sql_query **out, sql_err *e)
{
    *out = NULL;
    sql_err_clear(e);
    sql_query *q = sl_calloc(1, sizeof *q);
    if (!q)
        return sql_err_set(e, SQLSTATE_OUT_OF_MEMORY, -1, "out of memory");
    q->s = s;
    q->plan_only = plan_only;
    q->e = &q->err;
    q->t0 = clock_mono_ns();
    q->now_ns = clock_wall_ns();
    arena_init(&q->a, 16384, (size_t)s->work_mem_bytes + (64u << 20));
    arena_init(&q->scratch, 4096, 64u << 20);
    q->begin_ns = s->begin_ns;
    q->end_ns = s->end_ns;
    if (o) {
        if (o->begin_ns != INT64_MIN && o->begin_ns > q->begin_ns)
            q->begin_ns = o->begin_ns;
        if (o->end_ns != INT64_MAX && o->end_ns < q->end_ns)
            q->end_ns = o->end_ns;
        q->ext_cancel = o->cancel;
        if (o->params) {
            q->nparams = o->params->n;
            q->params = (sql_datum *)o->params->vals;
            q->ptypes = (sql_type *)o->params->types;
        }
    }
    atomic_fetch_add(&s->eng->queries, 1);
    if (s->in_tx && s->tx_failed) {
        sql_parsed ps;
        sql_err pe;
        bool end_tx = false;
        if (!sql_parse(text, &ps, &pe) && ps.n_stmts == 1 &&
            ps.tree->stmts[0]->stmt->node_case == PG_QUERY__NODE__NODE_TRANSACTION_STMT)
            end_tx = true;
        if (!end_tx) {
            sql_parsed_free(&ps);
            sql_err_set(e, "25P02", -1, "current transaction is aborted, commands ignored until "
                                        "end of transaction block");
            sql_query_close(q);
            return SL_EINVAL;
        }
        sql_parsed_free(&ps);
    }
    q->text = text;
    int rc;
    if (o && o->parsed) {
        q->pt = sql_parsed_text_ref(o->parsed);
        q->parsed = o->parsed->ps;
        rc = SL_OK;
    } else {
        rc = sql_parse(text, &q->parsed, q->e);
    }
    if (!rc && q->parsed.n_stmts != 1)
        rc = q->parsed.n_stmts == 0
                 ? (snprintf(q->tag, sizeof q->tag, "EMPTY"), q->empty = true, SL_OK)
                 : sql_err_set(q->e, SQLSTATE_SYNTAX, -1, "cannot run %zu statements at once "
                                                          "(one statement per query)",
                               q->parsed.n_stmts);
    if (!rc && !q->empty)
        rc = dispatch(q, q->parsed.tree->stmts[0]->stmt, text);
    if (rc) {
        if (!q->e->state[0])
            sql_err_set(q->e, SQLSTATE_INTERNAL, -1, "%s", sl_strerror(rc));
        sql_err_fix_position(q->e, q->text);
        *e = *q->e;
        atomic_fetch_add(&s->eng->failed, 1);
        if (s->in_tx)
            s->tx_failed = true;
        sql_query_close(q);
        return rc < 0 ? rc : SL_EINVAL;
    }
    *out = q;
    return SL_OK;
}

int sql_query_open(sql_session *s, const char *text, const sql_query_opts *o, sql_query **out,
                   sql_err *e)
{
    return open_query(s, text, o, false, out, e);
}

int sql_query_open_plan(sql_session *s, const char *text, sql_query **out, sql_err *e)
{
    return open_query(s, text, NULL, true, out, e);
}

int sql_session_typename(sql_session *s, const char *text, const PgQuery__TypeName *tn,
                         sql_type *out, sql_err *e)
{
    sql_query q;
    memset(&q, 0, sizeof q);
    q.s = s;
    q.e = &q.err;
    q.begin_ns = INT64_MIN;
    q.end_ns = INT64_MAX;
    arena_init(&q.a, 4096, 1u << 20);
    binder b;
    sql_binder_init(&b, &q, text);
    int rc = bind_typename(&b, tn, out) ? SL_OK : SL_EINVAL;
    sql_binder_done(&b);
    arena_destroy(&q.a);
    if (rc) {
        sql_err_fix_position(q.e, text);
        *e = *q.e;
    }
    return rc;
}

bool sql_query_has_rows(const sql_query *q)
{
    return q->has_rows;
}

int sql_query_ncols(const sql_query *q)
{
    return q->ncols;
}

const char *sql_query_colname(const sql_query *q, int i)
{
    return q->names[i];
}

sql_type sql_query_coltype(const sql_query *q, int i)
{
    return q->types[i];
}

int sql_query_next(sql_query *q, const sql_batch **out, sql_err *e)
{
    *out = NULL;
    sql_batch_free(q->cur);
    q->cur = NULL;
    if (q->done)
        return SL_OK;
    if (q->given) {
        q->cur = q->given;
        q->given = NULL;
        q->nrows += (uint64_t)q->cur->n;
        *out = q->cur;
        return SL_OK;
    }
    if (!q->root) {
        q->done = true;
        return SL_OK;
    }
    sql_batch *b;
    int rc = sql_op_next(q->root, &b);
    if (rc) {
        if (!q->e->state[0])
            sql_err_set(q->e, SQLSTATE_INTERNAL, -1, "%s", sl_strerror(rc));
        *e = *q->e;
        q->done = true;
        atomic_fetch_add(&q->s->eng->failed, 1);
        if (q->s->in_tx)
            q->s->tx_failed = true;
        return rc;
    }
    if (!b) {
        q->done = true;
        return SL_OK;
    }
    q->nrows += (uint64_t)b->n;
    q->cur = b;
    *out = b;
    return SL_OK;
}

const char *sql_query_tag(const sql_query *q)
{
    sql_query *w = (sql_query *)q;
    if (q->tag_rows && q->done)
        snprintf(w->tagbuf, sizeof w->tagbuf, "%s %llu", q->tag, (unsigned long long)q->nrows);
    else if (q->tag_rows)
        snprintf(w->tagbuf, sizeof w->tagbuf, "%s", q->tag);
    else
        snprintf(w->tagbuf, sizeof w->tagbuf, "%s", q->tag);
    return w->tagbuf;
}

void sql_query_cancel(sql_query *q)
{
    atomic_store(&q->x.cancel, 1);
}

int sql_query_copy_in(const sql_query *q)
{
    return q->copy ? q->copy_cols : -1;
}

void sql_query_close(sql_query *q)
{
    if (!q)
        return;
    sql_user_copy_abort(q);
    if (q->root)
        sql_op_close(q->root);
    if (q->x_on) {
        sql_exec_free_ctes(&q->x);
        sql_exec_free_subqueries(&q->x);
        pthread_mutex_destroy(&q->x.mu);
    }
    sql_batch_free(q->cur);
    sql_batch_free(q->given);
    sql_engine *eng = q->s->eng;
    atomic_fetch_add(&eng->rows_out, q->nrows);
    atomic_fetch_add(&eng->query_ns, clock_mono_ns() - q->t0);
    arena_destroy(&q->a);
    arena_destroy(&q->scratch);
    if (q->pt)
        sql_parsed_text_unref(q->pt);
    else
        sql_parsed_free(&q->parsed);
    if (q->pt_inner)
        sql_parsed_text_unref(q->pt_inner);
    else
        sql_parsed_free(&q->parsed_inner);
    sl_free(q);
}

/* ---- several statements ---- */

int sql_split(const char *text, int (*fn)(void *arg, const char *stmt, size_t n), void *arg,
              sql_err *e)
{
    sql_parsed ps;
    int rc = sql_parse(text, &ps, e);
    if (rc) {
        sql_err_fix_position(e, text);
        return rc;
    }
    for (size_t i = 0; i < ps.n_stmts && !rc; i++) {
        const char *s;
        size_t n;
        sql_parsed_stmt_text(&ps, text, i, &s, &n);
        rc = fn(arg, s, n);
    }
    sql_parsed_free(&ps);
    return rc;
}
