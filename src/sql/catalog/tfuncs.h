/*
 * tfuncs.h - what the table functions share (tfuncs.c, tf_async.c, tf_files.c).
 *
 * A bound table function is an ftab: a sql_table with room for its columns
 * and its arguments, freed with the query.  Functions whose result is small
 * (listings, unnest) compute their rows when bound (ftab_rows_ops); the
 * others read lazily, unit by unit, with their own scans.
 */
#ifndef SL_SQL_CATALOG_TFUNCS_H
#define SL_SQL_CATALOG_TFUNCS_H

#include "base/arena.h"
#include "sql/catalog/catalog.h"

struct sql_engine;

#define FTAB_MAXCOLS 64

typedef struct ftab ftab;
struct ftab {
    sql_table t;               /* first: a ftab is its table */
    struct sql_engine *eng;
    const char *names[FTAB_MAXCOLS];
    sql_type types[FTAB_MAXCOLS];
    arena mem;                 /* arguments, names, the function's own state */
    void *impl;
    void (*on_free)(ftab *f);
    /* rows computed at bind time (ftab_rows_ops) */
    sql_batch **rows;
    int nrows_batches, rows_cap;
    sql_batch *cur;
};

ftab *ftab_new(struct sql_engine *eng, const char *name, int ncols, const sql_table_ops *ops);
void ftab_col(ftab *f, int i, const char *name, sql_tid t);
/* A datum's string as a NUL-terminated copy in f->mem (NULL for a null datum). */
const char *ftab_text(ftab *f, const sql_datum *d);
/* Rows computed at bind time: append to ftab_batch(f), then ftab_flush(f). */
extern const sql_table_ops ftab_rows_ops;
sql_batch *ftab_batch(ftab *f);
int ftab_flush(ftab *f);
void sql_rows_free_batches(sql_batch **b, int n);

/* pg_catalog.c: a pg_catalog table made for one query in a (NULL: no such table) */
sql_table *sql_pg_catalog_table(struct sql_engine *eng, const char *name, arena *a);
/* The oid a ::regclass, ::regtype, ::regnamespace or ::regrole cast of the
 * constant `text` names (kind: the type's name); -1 when nothing has that name. */
int sql_pg_reg_oid(struct sql_engine *eng, const char *kind, const char *text, arena *a,
                   int64_t *oid);

/* tf_admin.c */
bool sql_materialize_partitions_args(const sql_type *given, int nargs, sql_type *want);
int sql_materialize_partitions_bind(struct sql_engine *eng, const sql_datum *args,
                                    const sql_type *types, int nargs, sql_table **out,
                                    sql_err *e);
bool sql_retire_partitions_args(const sql_type *given, int nargs, sql_type *want);
int sql_retire_partitions_bind(struct sql_engine *eng, const sql_datum *args,
                               const sql_type *types, int nargs, sql_table **out, sql_err *e);

/* tf_files.c */
bool sql_read_csv_args(const sql_type *given, int nargs, sql_type *want);
int sql_read_csv_bind(struct sql_engine *eng, const sql_datum *args, const sql_type *types,
                      int nargs, sql_table **out, sql_err *e);
int sql_read_parquet_bind(struct sql_engine *eng, const sql_datum *args, const sql_type *types,
                          int nargs, sql_table **out, sql_err *e);

#endif
