/*
 * janitor.c - deleting files the lake no longer needs.
 *
 * Two kinds of files go:
 *   - retired partitions' files, once retired longer than the grace period
 *     (readers that opened them have had that long); then their rows;
 *   - orphans: files under views/ that no partition row references.  A crash
 *     between writing a partition's file and committing its row leaves one.
 *     At startup every orphan goes (no build can be running yet); later only
 *     orphans older than the orphan grace period, so a build that has written
 *     its file and is about to commit its row is never robbed.  With a shared
 *     metadata store another server may be building at our startup: the grace
 *     period always applies.
 * And, less often (lake_janitor_payloads), payloads under blobs/ whose block row
 * is gone: retention deletes rows before payloads, and ingestion writes the
 * payload before the row, so a crash in either leaves such a payload.
 */
#include "lake/lake_int.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/hash.h"
#include "base/u64map.h"

#include <string.h>

typedef struct retired_list {
    char **paths;
    size_t n, cap;
} retired_list;

static int add_path(retired_list *rl, const char *p)
{
    if (rl->n == rl->cap) {
        size_t ncap = rl->cap ? rl->cap * 2 : 16;
        char **n = sl_realloc(rl->paths, sizeof *n * ncap);
        if (!n)
            return SL_ENOMEM;
        rl->paths = n;
        rl->cap = ncap;
    }
    if (!(rl->paths[rl->n] = sl_strdup(p)))
        return SL_ENOMEM;
    rl->n++;
    return SL_OK;
}

static int take_retired(void *arg, const meta_partition *p)
{
    return add_path(arg, p->file_path);
}

static void list_free(retired_list *rl)
{
    for (size_t i = 0; i < rl->n; i++)
        sl_free(rl->paths[i]);
    sl_free(rl->paths);
}

/* Hashes of every referenced file path (current and retired rows). */
static int take_ref(void *arg, const meta_partition *p)
{
    return u64map_put(arg, hash64(p->file_path, strlen(p->file_path)), 1);
}

typedef struct orphan_ctx {
    u64map *refs;
    int64_t older_than_ns;
    retired_list doomed;
} orphan_ctx;

static int take_object(void *arg, const char *key, const objstore_stat *st)
{
    orphan_ctx *c = arg;
    if (u64map_get(c->refs, hash64(key, strlen(key))) >= 0)
        return 0;
    if (st->mtime_ns > c->older_than_ns)
        return 0;
    return add_path(&c->doomed, key);
}

/*
 * The row goes first, then the file: a crash in between leaves a file no row
 * references, which the orphan sweep deletes later, never a row without its file.
 */
static void delete_all(lake *l, const retired_list *rl, int forget_rows, const char *why)
{
    for (size_t i = 0; i < rl->n; i++) {
        errmsg e;
        errmsg_clear(&e);
        if (forget_rows && meta_partition_forget(l->m, rl->paths[i], &e)) {
            log_warn("lake", "cannot forget %s: %s", rl->paths[i], errmsg_str(&e));
            continue;
        }
        int rc = objstore_delete(l->os, rl->paths[i], &e);
        if (rc && rc != SL_ENOTFOUND) {
            log_warn("lake", "cannot delete %s: %s", rl->paths[i], errmsg_str(&e));
            continue;
        }
        lcache_remove(&l->bytes, rl->paths[i]);
        lcache_remove(&l->footers, rl->paths[i]);
        atomic_fetch_add(&l->janitor_deleted, 1);
        log_debug("lake", "deleted %s file %s", why, rl->paths[i]);
    }
}

int lake_janitor(lake *l, int startup, errmsg *e)
{
    int64_t now = clock_wall_ns();
    retired_list retired = {0};
    int rc = meta_partitions_retired(l->m, now - l->o.retire_grace_ns, take_retired, &retired, e);
    if (!rc)
        delete_all(l, &retired, 1, "retired");
    list_free(&retired);
    if (rc)
        return rc;
    u64map refs;
    u64map_init(&refs);
    orphan_ctx oc = {&refs, startup && !l->m->shared ? INT64_MAX : now - l->o.orphan_grace_ns, {0}};
    rc = meta_partition_files(l->m, take_ref, &refs, e);
    if (!rc)
        rc = objstore_list(l->os, "views/", take_object, &oc, e);
    if (!rc) {
        if (oc.doomed.n)
            log_info("lake", "removing %zu unreferenced partition file(s)", oc.doomed.n);
        delete_all(l, &oc.doomed, 0, "orphan");
    }
    list_free(&oc.doomed);
    u64map_free(&refs);
    return rc;
}

/*
 * Orphan payloads.  Keys are blobs/PROCESS/STREAM/BLOCK and both stores list a
 * stream's keys together, so the block ids of one stream at a time are held (as
 * hashes: a collision keeps an orphan, never deletes a payload with a row).
 * Payloads younger than the orphan grace are left alone: an ingestion may have
 * written one and not yet committed its row.
 */
typedef struct payload_ctx {
    lake *l;
    int64_t older_than_ns;
    sl_uuid stream;
    int have_stream;
    u64map ids;
    retired_list doomed;
    uint64_t seen;
    errmsg *e;
} payload_ctx;

static int take_block_id(void *arg, const meta_block *b)
{
    return u64map_put(arg, hash64(&b->block_id, sizeof b->block_id), 1);
}

static int take_payload(void *arg, const char *key, const objstore_stat *st)
{
    payload_ctx *c = arg;
    c->seen++;
    if (st->mtime_ns > c->older_than_ns)
        return 0;
    /* blobs/ + 36 + / + 36 + / + 36 */
    char sid_s[UUID_STR_LEN], bid_s[UUID_STR_LEN];
    sl_uuid sid, bid;
    if (strlen(key) != 6 + 36 * 3 + 2 || key[42] != '/' || key[79] != '/')
        return 0;
    memcpy(sid_s, key + 43, 36);
    sid_s[36] = 0;
    memcpy(bid_s, key + 80, 36);
    bid_s[36] = 0;
    if (uuid_parse(sid_s, &sid) || uuid_parse(bid_s, &bid))
        return 0; /* not a payload of ours: left alone */
    if (!c->have_stream || memcmp(&sid, &c->stream, sizeof sid) != 0) {
        u64map_free(&c->ids);
        u64map_init(&c->ids);
        int rc = meta_blocks_list(c->l->m, &sid, take_block_id, &c->ids, c->e);
        if (rc)
            return rc;
        c->stream = sid;
        c->have_stream = 1;
    }
    if (u64map_get(&c->ids, hash64(&bid, sizeof bid)) >= 0)
        return 0;
    int rc = add_path(&c->doomed, key);
    if (!rc && c->doomed.n >= 1024) { /* bounded: delete as the listing goes */
        delete_all(c->l, &c->doomed, 0, "orphan payload");
        list_free(&c->doomed);
        memset(&c->doomed, 0, sizeof c->doomed);
    }
    return rc;
}

int lake_janitor_payloads(lake *l, uint64_t *deleted, errmsg *e)
{
    payload_ctx c = {.l = l, .older_than_ns = clock_wall_ns() - l->o.orphan_grace_ns, .e = e};
    u64map_init(&c.ids);
    uint64_t before = atomic_load(&l->janitor_deleted);
    int rc = objstore_list(l->os, "blobs/", take_payload, &c, e);
    if (!rc)
        delete_all(l, &c.doomed, 0, "orphan payload");
    list_free(&c.doomed);
    u64map_free(&c.ids);
    uint64_t n = atomic_load(&l->janitor_deleted) - before;
    if (n)
        log_info("lake", "removed %llu payload(s) without a block row (of %llu listed)",
                 (unsigned long long)n, (unsigned long long)c.seen);
    if (deleted)
        *deleted = n;
    return rc;
}
