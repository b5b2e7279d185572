/*
 * engine.c - the engine, shared by every session of a server: its catalogs
 * opened and closed, its figures.  Sessions and settings are in session.c.
 */
#include "sql/engine_int.h"

#include "base/alloc.h"
#include "base/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int sql_builtin_init(sql_engine *eng);
void sql_builtin_free(sql_engine *eng);
int sql_user_open(sql_engine *eng, errmsg *e);
void sql_user_close(sql_engine *eng);

int sql_engine_open(struct lake *l, struct meta *m, struct objstore *os,
                    const sql_engine_opts *o, sql_engine **out, errmsg *e)
{
    sql_engine *eng = sl_calloc(1, sizeof *eng);
    if (!eng)
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    eng->l = l;
    eng->m = m;
    eng->os = os;
    if (o)
        eng->o = *o;
    if (eng->o.work_mem_bytes <= 0)
        eng->o.work_mem_bytes = (int64_t)256 << 20;
    if (eng->o.workers <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        eng->o.workers = n > 0 ? (int)n : 1;
    }
    for (int i = 0; i < eng->o.nfiles_dirs && i < 8; i++) {
        if (!realpath(eng->o.files_dirs[i], eng->files_dirs[i])) {
            int rc = errmsg_set(e, SL_EINVAL, "--files %s: %s", eng->o.files_dirs[i],
                                sl_strerror(SL_ENOTFOUND));
            sl_free(eng);
            return rc;
        }
        eng->o.files_dirs[i] = eng->files_dirs[i];
    }
    if (eng->o.data_dir) {
        snprintf(eng->data_dir, sizeof eng->data_dir, "%s", eng->o.data_dir);
        eng->o.data_dir = eng->data_dir;
    }
    int rc = sql_builtin_init(eng);
    if (rc) {
        errmsg_set(e, rc, "out of memory");
        sql_engine_close(eng);
        return rc;
    }
    if ((rc = sql_user_open(eng, e))) {
        sql_engine_close(eng);
        return rc;
    }
    *out = eng;
    return SL_OK;
}

void sql_engine_close(sql_engine *eng)
{
    if (!eng)
        return;
    sql_user_close(eng);
    sql_builtin_free(eng);
    sl_free(eng);
}

void sql_engine_stats_json(sql_engine *eng, struct jw *w)
{
    jw_key(w, "queries");
    jw_uint(w, atomic_load(&eng->queries));
    jw_key(w, "failed");
    jw_uint(w, atomic_load(&eng->failed));
    jw_key(w, "rows_out");
    jw_uint(w, atomic_load(&eng->rows_out));
    jw_key(w, "query_ms");
    jw_double(w, (double)atomic_load(&eng->query_ns) / 1e6);
    jw_key(w, "memory_bytes");
    jw_int(w, atomic_load(&eng->mem_used));
    jw_key(w, "memory_peak_bytes");
    jw_int(w, atomic_load(&eng->mem_peak));
    jw_key(w, "memory_limit_bytes");
    jw_int(w, eng->o.max_memory_bytes);
}
