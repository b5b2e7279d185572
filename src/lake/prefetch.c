/*
 * prefetch.c - reading ahead the payloads that a cold trace's builds will need.
 *
 * A cold trace over S3 builds its threads' thread_spans partitions a few at a
 * time (the generator's workers); each build first waits for the GET of its
 * first payload, so every build pays at least one round trip before it can
 * decode, and the builds that come later could have had their payloads
 * downloaded while the first ones decoded.  A prefetch reads, on one thread of
 * its own, the payloads of the blocks that the streams' current partitions do
 * not cover yet (insert time at or past the last partition's end: the blocks a
 * build will read), in the order the trace builds the streams, into the
 * payload cache (payloads.c).  Builds then find them cached, or claimed by the
 * prefetch and wait for that GET instead of sending their own: a payload is
 * still read once.
 *
 * Bounded: it stops after a quarter of the file cache's bound (half of the
 * payload cache, so it does not evict what running builds read), and holds at
 * most PREFETCH_CHUNK payloads at once.  Nothing happens over a store that maps
 * files (a read there is a copy from the page cache), nor for a stream whose
 * partitions are current (a warm trace reads no payload).  Failures are
 * ignored: a build reads what it lacks itself and reports the error.
 *
 * Opt-in (SL_LAKE_TRACE_OVERLAP=all): against s3rver on loopback on two cores a
 * GET costs CPU, not a round trip, and reading ahead did not shorten the trace
 * (docs/internals/lake.md); it is meant for stores with real round trips.
 */
#define SL_TARGET "streamlake.lake"
#include "lake/lake_int.h"

#include "base/alloc.h"

#include <stdio.h>
#include <string.h>

#define PREFETCH_CHUNK 16

struct lake_prefetch {
    lake *l;
    char process[UUID_STR_LEN];
    char (*streams)[UUID_STR_LEN];
    size_t n;
    pthread_t th;
    _Atomic int stop;
    uint64_t bytes;
};

/* The insert time past which the stream's blocks are not in a current partition. */
static int64_t covered_until(lake *l, const char *stream)
{
    lcache_entry *en;
    int64_t end = INT64_MIN;
    if (lake_parts_get(l, LAKE_THREAD_SPANS, stream, &en, NULL))
        return INT64_MAX; /* unknown: read nothing ahead */
    const lake_parts *ps = en->val;
    for (size_t i = 0; i < ps->n; i++)
        if (ps->p[i].end_insert_time_ns > end)
            end = ps->p[i].end_insert_time_ns;
    lcache_release(&l->parts, en);
    return end;
}

/* Reads keys [0, n) into the payload cache and lets go of them at once. */
static void read_chunk(lake_prefetch *p, char (*keys)[128], size_t n)
{
    const char *kp[PREFETCH_CHUNK];
    lake_payload pls[PREFETCH_CHUNK];
    for (size_t i = 0; i < n; i++)
        kp[i] = keys[i];
    if (lake_payloads_get(p->l, kp, n, pls, NULL) == SL_OK)
        for (size_t i = 0; i < n; i++) {
            p->bytes += pls[i].len;
            atomic_fetch_add(&p->l->pl_prefetched, 1);
        }
    lake_payloads_release(p->l, pls, n);
}

static void prefetch_stream(lake_prefetch *p, const char *stream, uint64_t budget)
{
    sl_uuid id;
    lcache_entry *en;
    if (uuid_parse(stream, &id) || lake_blocks_get(p->l, &id, &en, NULL))
        return;
    int64_t from = covered_until(p->l, stream);
    const lake_blocks *bl = en->val;
    char keys[PREFETCH_CHUNK][128];
    size_t k = 0;
    for (size_t i = 0; i < bl->n && !atomic_load(&p->stop) && p->bytes < budget; i++) {
        if (bl->b[i].insert_time_ns < from)
            continue;
        char bid[UUID_STR_LEN];
        uuid_format(&bl->b[i].block_id, bid);
        snprintf(keys[k++], sizeof keys[0], "blobs/%s/%s/%s", p->process, stream, bid);
        if (k == PREFETCH_CHUNK) {
            read_chunk(p, keys, k);
            k = 0;
        }
    }
    if (k && !atomic_load(&p->stop))
        read_chunk(p, keys, k);
    lcache_release(&p->l->blocks, en);
}

static void *prefetch_run(void *arg)
{
    lake_prefetch *p = arg;
    uint64_t budget = p->l->o.cache_bytes / 4;
    for (size_t i = 0; i < p->n && !atomic_load(&p->stop) && p->bytes < budget; i++)
        prefetch_stream(p, p->streams[i], budget);
    return NULL;
}

lake_prefetch *lake_prefetch_start(lake *l, const char *process_id, const char *const *streams,
                                   size_t n)
{
    if (!lake_payloads_cached(l) || !(l->trace_overlap & LAKE_OVERLAP_PREFETCH) || !n)
        return NULL;
    lake_prefetch *p = sl_calloc(1, sizeof *p);
    if (p)
        p->streams = sl_calloc(n, sizeof *p->streams);
    if (!p || !p->streams)
        goto fail;
    p->l = l;
    p->n = n;
    snprintf(p->process, sizeof p->process, "%s", process_id);
    for (size_t i = 0; i < n; i++)
        snprintf(p->streams[i], sizeof p->streams[i], "%s", streams[i]);
    if (pthread_create(&p->th, NULL, prefetch_run, p) != 0)
        goto fail;
    return p;
fail:
    if (p)
        sl_free(p->streams);
    sl_free(p);
    return NULL;
}

void lake_prefetch_stop(lake_prefetch *p)
{
    if (!p)
        return;
    atomic_store(&p->stop, 1);
    pthread_join(p->th, NULL);
    sl_free(p->streams);
    sl_free(p);
}
