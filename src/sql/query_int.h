/*
 * query_int.h - a statement being run, shared by query.c (the statement
 * kinds that read) and catalog/user.c (the ones that write user tables).
 */
#ifndef SL_SQL_QUERY_INT_H
#define SL_SQL_QUERY_INT_H

#include "sql/exec/exec.h"
#include "sql/plan/bind_int.h"

struct sql_query {
    sql_session *s;
    const char *text;
    sql_err err;
    sql_err *e;                 /* &err */
    arena a;                    /* the plan, expressions, names */
    arena scratch;              /* the evaluation context of the root */
    sql_parsed parsed, parsed_inner;
    struct sql_parsed_text *pt, *pt_inner; /* borrowed trees (parsed, parsed_inner) */
    int64_t t0, now_ns;
    int64_t begin_ns, end_ns;   /* the time range every lake table gets */
    const _Atomic uint8_t *ext_cancel;
    sql_datum *params;
    sql_type *ptypes;
    int nparams;
    /* running */
    sql_exec x;
    bool x_on;
    sql_plan *plan;
    sql_op *root;
    /* the result */
    int ncols;
    const char **names;
    sql_type *types;
    sql_batch *given;           /* rows made without operators (EXPLAIN, SHOW) */
    sql_batch *cur;             /* the batch last handed out */
    uint64_t nrows;
    bool done, empty;
    bool tag_rows;              /* the tag ends with the row count (SELECT n) */
    bool has_rows;              /* a result with columns (SELECT, EXPLAIN, SHOW) */
    char tag[64];
    char tagbuf[96];
    struct user_copy *copy;     /* COPY ... FROM STDIN waiting for its rows */
    int copy_cols;
    bool plan_only;             /* sql_query_open_plan: operators built, not opened */
};

/*
 * Another driver's entry (continuous jobs, src/stream): the SELECT of one
 * statement (a SELECT, the query of INSERT ... SELECT or of CREATE TABLE /
 * MATERIALIZED VIEW ... AS) parsed, bound, optimized and built into operators
 * (q->plan, q->root, q->x) that are not opened: the caller drives them (their
 * stream callbacks, sql_aggtab) and closes the query as usual.
 */
int sql_query_open_plan(sql_session *s, const char *text, sql_query **out, sql_err *e);
/* The type a TypeName names, as CREATE TABLE binds it (text: the statement's). */
int sql_session_typename(sql_session *s, const char *text, const PgQuery__TypeName *tn,
                         sql_type *out, sql_err *e);

typedef struct user_copy user_copy;
/* catalog/user_copy.c: COPY table FROM STDIN, opened as a statement (q->copy set); a
 * COPY that did not end frees what it wrote. */
int sql_user_copy_open(sql_query *q, const PgQuery__CopyStmt *c);
void sql_user_copy_abort(sql_query *q);

void sql_binder_init(binder *b, sql_query *q, const char *text);
void sql_binder_done(binder *b);
int sql_query_set_columns(sql_query *q, int n, const char *const *names, const sql_type *types);
int sql_query_add_text_row(sql_query *q, const char *const *vals);
int sql_run_plan_all(sql_query *q, sql_plan *p, bool analyze,
                     int (*fn)(void *arg, const sql_batch *b), void *arg);

/* catalog/user.c: CREATE/DROP TABLE/VIEW, INSERT, UPDATE, DELETE, ... */
int sql_user_statement(sql_query *q, binder *b, const PgQuery__Node *st);

#endif
