/*
 * pf_lake.h - the lake as the span source of trace generation.
 *
 *   pf_lake_source src;
 *   pf_lake_source_init(&src, lake, &process_id);
 *   pf_gen_open(&g, &cfg, pf_lake_source_get(&src), &e);  ... pf_gen_close(g);
 *   pf_lake_source_free(&src);
 *
 * Threads are the process's cpu streams, ordered by thread name then tid;
 * thread spans come from the thread_spans view, async events from
 * async_events, both materialized just in time by the readers (so on the
 * generator's workers, in parallel).  The source's stats report the time
 * spent building partitions and the lake's cache hits and misses during the
 * trace (all requests' lookups together, when several run at once).
 */
#ifndef SL_PERFETTO_PF_LAKE_H
#define SL_PERFETTO_PF_LAKE_H

#include "lake/lake.h"
#include "perfetto/pf_source.h"

#include <stdatomic.h>

typedef struct pf_lake_source {
    lake *l;
    sl_uuid process_id;
    const lake_process *proc;
    pf_thread_info *threads;
    size_t n_threads;
    _Atomic int64_t jit_ns;
    uint64_t hits0, misses0;
    lake_prefetch *prefetch; /* the threads' payloads read ahead (S3), or NULL */
} pf_lake_source;

void pf_lake_source_init(pf_lake_source *s, lake *l, const sl_uuid *process_id);
pf_source pf_lake_source_get(pf_lake_source *s);
/* After pf_gen_close. */
void pf_lake_source_free(pf_lake_source *s);

#endif
