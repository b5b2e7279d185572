/*
 * engine_int.h - what the engine and its sessions hold, shared by the
 * binder, the executor and the catalog (not for callers: sql.h is the API).
 */
#ifndef SL_SQL_ENGINE_INT_H
#define SL_SQL_ENGINE_INT_H

#include "sql/sql.h"

#include <pthread.h>

struct sql_user_catalog;

struct sql_engine {
    struct lake *l;
    struct meta *m;
    struct objstore *os;
    sql_engine_opts o;
    char files_dirs[8][4096];
    char data_dir[4096];
    struct sql_user_catalog *users;
    struct sql_table **builtin;      /* lake tables and built-in views (lake_tables.c) */
    int nbuiltin;
    const struct sql_catalog_hook *default_hook; /* every new session's (catalog.h) */
    const struct sql_stmt_hook *stmt_hook;
    /* figures */
    _Atomic int64_t mem_used;        /* what running queries hold (work_mem accounting) */
    _Atomic int64_t mem_peak;
    _Atomic uint64_t queries, failed, rows_out;
    _Atomic int64_t query_ns;
};

#define SQL_MAX_SETTINGS 64

typedef struct sql_setting {
    char name[64];
    char value[256];
} sql_setting;

/* A prepared statement (PREPARE, or the wire protocol's Parse): bound again at
 * each execution, which costs microseconds and always sees the current catalog. */
typedef struct sql_prepared {
    struct sql_prepared *next;
    char *name;
    char *text;
    int ntypes;
    sql_type *types;         /* declared parameter types (ST_UNKNOWN: inferred) */
    struct sql_parsed_text *parsed; /* text parsed at the first EXECUTE */
} sql_prepared;

struct sql_session {
    sql_engine *eng;
    int workers;                     /* streamlake.workers */
    sql_prepared *prepared;
    int64_t begin_ns, end_ns;        /* streamlake.begin / streamlake.end */
    int64_t work_mem_bytes;
    int64_t timeout_ms;              /* statement_timeout */
    bool in_tx;
    bool tx_failed;
    int nsettings;
    sql_setting settings[SQL_MAX_SETTINGS]; /* other SET values, as SHOW prints them */
    uint64_t random_state;
    const struct sql_catalog_hook *hook; /* names another driver adds (catalog.h); NULL none */
    int32_t backend_pid;             /* pg_backend_pid() */
    bool no_admin;                   /* admin table functions refused (42501) */
};

/* Settings every session starts with, and what SHOW prints for them. */
const char *sql_setting_default(const char *name);
/* Names of the settings SHOW ALL lists, i = 0.. until NULL. */
const char *sql_setting_name_at(sql_session *s, int i);

/* Prepared statements of a session (query.c). */
sql_prepared *sql_prepared_find(sql_session *s, const char *name);
int sql_prepared_add(sql_session *s, const char *name, const char *text, const sql_type *types,
                     int ntypes, sql_err *e);
void sql_prepared_drop(sql_session *s, sql_prepared *p);
void sql_prepared_clear(sql_session *s);

#endif
