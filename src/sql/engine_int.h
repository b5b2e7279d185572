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
    /* figures */
    _Atomic uint64_t queries, failed, rows_out;
    _Atomic int64_t query_ns;
};

#define SQL_MAX_SETTINGS 64

typedef struct sql_setting {
    char name[64];
    char value[256];
} sql_setting;

struct sql_session {
    sql_engine *eng;
    int64_t begin_ns, end_ns;        /* streamlake.begin / streamlake.end */
    int64_t work_mem_bytes;
    int64_t timeout_ms;              /* statement_timeout */
    bool in_tx;
    bool tx_failed;
    int nsettings;
    sql_setting settings[SQL_MAX_SETTINGS]; /* other SET values, as SHOW prints them */
    uint64_t random_state;
};

/* Settings every session starts with, and what SHOW prints for them. */
const char *sql_setting_default(const char *name);

#endif
