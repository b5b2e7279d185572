/*
 * recent.c - the background materializer of the global views.
 *
 * log_entries and measures over all processes (and log_stats, a view over
 * log_entries) read one instance per process; a dashboard over the last hours
 * would otherwise wait for the JIT to build every recent process's partitions.
 * The leader calls lake_materialize_recent every few seconds: every process
 * whose blocks reach into the horizon gets its log_entries and measures
 * partitions built (the usual JIT build, under the same partition locks, so a
 * query racing it waits for or reuses its work), in batches bounded per call.
 */
#include "lake/lake_int.h"

#include "base/alloc.h"
#include "base/log.h"

#include <string.h>

typedef struct recent_list {
    sl_uuid *ids;
    size_t n, cap;
    int64_t since_ns;
} recent_list;

static int take_recent(void *arg, const meta_process_summary *row)
{
    recent_list *r = arg;
    if (!row->block_count || row->last_time_ns < r->since_ns || r->n == r->cap)
        return 0;
    r->ids[r->n++] = row->p.process_id;
    return 0;
}

int lake_materialize_recent(lake *l, int64_t since_ns, size_t max_processes, errmsg *e)
{
    recent_list r = {sl_calloc(max_processes ? max_processes : 1, sizeof(sl_uuid)), 0,
                     max_processes, since_ns};
    if (!r.ids)
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    int rc = meta_processes_list(l->m, take_recent, &r, e);
    static const lake_view_id views[] = {LAKE_LOG_ENTRIES, LAKE_MEASURES};
    lake_mat_stats st;
    memset(&st, 0, sizeof st);
    for (size_t i = 0; !rc && i < r.n; i++) {
        char pid[UUID_STR_LEN];
        uuid_format(&r.ids[i], pid);
        for (size_t v = 0; v < sizeof views / sizeof views[0]; v++) {
            errmsg ve;
            errmsg_clear(&ve);
            if (lake_materialize(l, views[v], pid, &st, &ve)) {
                st.failed++;
                log_warn("lake", "materializer: %s %s: %s", lake_view_get(views[v])->name, pid,
                         errmsg_str(&ve));
            }
        }
    }
    atomic_fetch_add(&l->mat_runs, 1);
    atomic_fetch_add(&l->mat_instances, r.n * 2);
    atomic_fetch_add(&l->mat_built, st.built);
    atomic_fetch_add(&l->mat_failed, st.failed);
    atomic_store(&l->mat_since_ns, since_ns);
    sl_free(r.ids);
    return rc;
}
