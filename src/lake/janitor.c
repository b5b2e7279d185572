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

static void delete_all(lake *l, const retired_list *rl, int forget_rows, const char *why)
{
    for (size_t i = 0; i < rl->n; i++) {
        errmsg e;
        errmsg_clear(&e);
        int rc = objstore_delete(l->os, rl->paths[i], &e);
        if (rc && rc != SL_ENOTFOUND) {
            log_warn("lake", "cannot delete %s: %s", rl->paths[i], errmsg_str(&e));
            continue;
        }
        lcache_remove(&l->bytes, rl->paths[i]);
        lcache_remove(&l->footers, rl->paths[i]);
        if (forget_rows && meta_partition_forget(l->m, rl->paths[i], &e))
            log_warn("lake", "cannot forget %s: %s", rl->paths[i], errmsg_str(&e));
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
