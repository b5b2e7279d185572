/*
 * retention.c - deleting telemetry older than a horizon.
 *
 * Order, so that nothing ever points at what is gone:
 *   1. block rows, a small batch per transaction (the metadata store's short
 *      DELETE ... RETURNING; ingestion commits between batches);
 *   2. each deleted block's payload (a crash in between leaves an unreferenced
 *      payload, never a row without its payload; the leader's payload sweep,
 *      lake_janitor_payloads, deletes it later);
 *   3. the partitions that began at or before the newest deleted block's insert
 *      time are retired: their source blocks may be gone, so the next read
 *      plans and builds what is left, and the janitor deletes the old files
 *      after its grace period (readers that opened them keep them that long);
 *      first this server's deferred commits are let in (commit.c), so that none
 *      puts a partition's row in after the retirement.  A pending commit of
 *      another server on the same metadata store is not waited for.
 * Only blocks whose end_time is before the horizon go: a block that ends inside
 * it stays whole.  Called by the leader only (server background thread).
 */
#include "lake/lake_int.h"

#include "base/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct expire_ctx {
    lake *l;
    int64_t max_insert;
    lake_retention_report *r;
} expire_ctx;

static int drop_payload(void *arg, const meta_block *b)
{
    expire_ctx *c = arg;
    /* For crash tests: die with the rows deleted and their payloads not yet. */
    const char *crash = getenv("SL_LAKE_CRASH");
    if (crash && !strcmp(crash, "retention_after_rows")) {
        log_warn("lake", "SL_LAKE_CRASH=%s: exiting as if killed", crash);
        _exit(137);
    }
    char key[160], pid[UUID_STR_LEN], sid[UUID_STR_LEN], bid[UUID_STR_LEN];
    uuid_format(&b->process_id, pid);
    uuid_format(&b->stream_id, sid);
    uuid_format(&b->block_id, bid);
    snprintf(key, sizeof key, "blobs/%s/%s/%s", pid, sid, bid);
    errmsg e;
    errmsg_clear(&e);
    int rc = objstore_delete(c->l->os, key, &e);
    if (rc && rc != SL_ENOTFOUND)
        log_warn("lake", "retention: cannot delete %s: %s", key, errmsg_str(&e));
    else
        c->r->payloads++;
    c->r->blocks++;
    c->r->payload_bytes += b->payload_size;
    if (b->insert_time_ns > c->max_insert)
        c->max_insert = b->insert_time_ns;
    return 0;
}

int lake_retention(lake *l, int64_t horizon_ns, int batch, int max_batches,
                   lake_retention_report *r, errmsg *e)
{
    if (batch < 1)
        batch = 1000;
    expire_ctx c = {l, INT64_MIN, r};
    int rc = SL_OK;
    for (int i = 0; i < max_batches; i++) {
        int n = meta_blocks_expire(l->m, horizon_ns, batch, drop_payload, &c, e);
        if (n < 0) {
            rc = n;
            break;
        }
        if (n < batch)
            break;
    }
    if (c.max_insert != INT64_MIN) {
        /* a deferred commit still pending would put its row in after the retirement:
         * a current partition built from blocks just deleted */
        lake_pending_drain(l);
        for (int i = 0; !rc && i < max_batches; i++) {
            int n = 0;
            rc = meta_partitions_expire(l->m, c.max_insert + 1, batch, &n, e);
            r->partitions += (uint64_t)n;
            if (n < batch)
                break;
        }
        /* One server: the caches learn of the deletions here (shared: never cached). */
        if (!l->m->shared) {
            lcache_clear(&l->procs);
            lcache_clear(&l->blocks);
            lcache_clear(&l->parts);
        }
    }
    atomic_fetch_add(&l->ret_runs, 1);
    atomic_fetch_add(&l->ret_blocks, r->blocks);
    atomic_fetch_add(&l->ret_bytes, r->payload_bytes);
    atomic_fetch_add(&l->ret_payloads, r->payloads);
    atomic_fetch_add(&l->ret_parts, r->partitions);
    atomic_store(&l->ret_horizon_ns, horizon_ns);
    return rc;
}

void lake_set_leader(lake *l, int leader)
{
    atomic_store(&l->leader, leader);
}
