/*
 * commit.c - deferred partition commits: the upload of a just-built partition
 * file and its metadata row, done by background committers while the request
 * that needed the partition reads it from memory.
 *
 * Why.  Over S3 a JIT build's put and row (a PUT of the whole file and a
 * metadata transaction) sit on the critical path of the request that waits for
 * the partition, although that request reads the file from the file cache, not
 * from the store (lake_file_keep).  A reader that asks for it (a trace:
 * lake_scan_opts.defer_commit, lake_materialize_for_read) gets its build handed
 * over here once the Parquet file is written.
 *
 * Rules kept (docs/internals/lake.md "Deferred commits"):
 *   - The locks of the key (this process's and the metadata store's, taken by
 *     jit.c before the file was written) are handed over with the build and
 *     released by the committer after the row is committed (or the commit
 *     failed).  The store's lock is a PostgreSQL session advisory lock held by
 *     a dedicated locker session (meta_pg.c): it belongs to that session, not
 *     to a thread, so the committer releases it on the same session; no other
 *     thread uses the session meanwhile.  Another server wanting the partition
 *     waits for the lock, then reads the committed row, as with a build in
 *     progress; a request of this process waits on the process lock likewise.
 *   - Object, then row: the committer puts the file, then commits the row, as
 *     the synchronous path does.  A crash before the row leaves no row (at most
 *     an unreferenced file for the janitor); the dead server's sessions and so
 *     its locks go with it, and the next reader builds the partition again.
 *   - Readers of this process see a pending partition as if committed: the
 *     partition index adds pending rows (lake_pending_overlay) and the file's
 *     bytes are pinned in the file cache until the commit.  If the cache entry
 *     was dropped anyway (lcache_remove), lake_file_open waits for the commit
 *     and reads the object.
 *   - Bounded: at most LAKE_PENDING_MAX commits wait; beyond, the build commits
 *     synchronously.  lake_close waits for every pending commit.
 *   - While a trace that defers commits runs (lake_commit_hold), the committers
 *     wait, up to LAKE_HOLD_MS after a commit was handed over: the uploads and
 *     rows then do not compete with the trace's builds for the cores (and, with
 *     a local S3 emulator, neither does the emulator's work for the PUTs).  Not
 *     with a shared metadata store (PostgreSQL): there the partition locks are
 *     other servers' to wait on, and each is held on a session of a bounded
 *     pool (8 on a server) that the trace's next builds need.  A request of this
 *     process waiting for a held commit's key or file urges it (not held).
 *
 * A failed upload or commit is logged and counted (partitions.deferred_failed):
 * the request was served already, and the next reader builds the partition.
 */
#define SL_TARGET "streamlake.lake"
#include "lake/lake_int.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct lake_pending {
    struct lake_pending *next;
    lake_view_id v;
    uint64_t key;          /* the lock key (jit.c partition_key) */
    void *hold;            /* the metadata store's lock (meta_partition_lock) */
    meta_partition row;    /* strings point into this record */
    char instance[LAKE_INSTANCE_MAX];
    char path[LAKE_PATH_MAX];
    void *state;           /* the row's state (owned) */
    lcache_entry *bytes;   /* the file's bytes, pinned in the file cache */
    int busy;              /* a committer is working on it */
    int64_t since_ns;      /* when it was handed over (monotonic) */
    int urgent;            /* a request of this process waits for its lock */
};

/*
 * For crash tests: SL_LAKE_CRASH=after_put makes the process die between a
 * partition's file and its row; SL_LAKE_TEST_DELAY_MS=N holds every build N ms
 * in that window, so a test can kill -9 the server with builds half done.
 */
void lake_crash_point(const char *where)
{
    const char *c = getenv("SL_LAKE_CRASH");
    if (c && !strcmp(c, where)) {
        log_warn("lake", "SL_LAKE_CRASH=%s: exiting as if killed", where);
        _exit(137);
    }
    const char *d = getenv("SL_LAKE_TEST_DELAY_MS");
    if (d && atoi(d) > 0) {
        struct timespec ts = {atoi(d) / 1000, (long)(atoi(d) % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* Tests: SL_LAKE_TEST_COMMIT_GATE=FILE holds every deferred commit until FILE exists. */
static void test_gate(void)
{
    const char *g = getenv("SL_LAKE_TEST_COMMIT_GATE");
    if (!g || !*g)
        return;
    while (access(g, F_OK) != 0) {
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void pending_free(lake_pending *p)
{
    sl_free(p->state);
    sl_free(p);
}

/* Uploads and commits one pending partition; the locks stay with the caller. */
static int commit_one(lake *l, lake_pending *p, errmsg *e)
{
    test_gate();
    const lake_bytes *b = p->bytes->val;
    int64_t t0 = clock_mono_ns();
    int rc = objstore_put(l->os, p->path, b->p, b->len, OBJSTORE_PUT_NEW, e);
    int64_t t1 = clock_mono_ns();
    if (!rc) {
        lake_crash_point("after_put");
        rc = meta_partition_replace(l->m, &p->row, e);
    }
    if (!rc) {
        atomic_fetch_add(&l->phase_put_ns, (uint64_t)(t1 - t0));
        atomic_fetch_add(&l->phase_commit_ns, (uint64_t)(clock_mono_ns() - t1));
    }
    return rc;
}

static void *committer(void *arg)
{
    lake *l = arg;
    pthread_mutex_lock(&l->cm_mu);
    for (;;) {
        lake_pending *p = l->cm_head;
        while (p && p->busy)
            p = p->next;
        if (!p) {
            if (l->cm_stop)
                break;
            pthread_cond_wait(&l->cm_cv, &l->cm_mu);
            continue;
        }
        int64_t due = p->since_ns + (int64_t)LAKE_HOLD_MS * 1000000;
        if (l->cm_readers > 0 && !l->m->shared && !l->cm_stop && !p->urgent &&
            clock_mono_ns() < due) {
            /* held while traces run (lake_commit_hold), until due at the latest */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t left = due - clock_mono_ns();
            left = left < 1000000 ? 1000000 : left;
            ts.tv_sec += (time_t)(left / 1000000000);
            ts.tv_nsec += (long)(left % 1000000000);
            ts.tv_sec += ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&l->cm_cv, &l->cm_mu, &ts);
            continue;
        }
        p->busy = 1;
        pthread_mutex_unlock(&l->cm_mu);
        errmsg e;
        errmsg_clear(&e);
        int rc = commit_one(l, p, &e);
        if (rc) {
            atomic_fetch_add(&l->deferred_failed, 1);
            log_warn("lake", "deferred commit of %s %s (%s): %s; the next read builds it again",
                     lake_view_get(p->v)->name, p->instance, p->path, errmsg_str(&e));
        }
        /* The row is in (or not at all): readers stop seeing the pending one, then
         * the index is read again, then the locks go, so a waiter finds the row. */
        pthread_mutex_lock(&l->cm_mu);
        lake_pending **pp = &l->cm_head;
        while (*pp != p)
            pp = &(*pp)->next;
        *pp = p->next;
        l->cm_n--;
        pthread_mutex_unlock(&l->cm_mu);
        lake_parts_forget(l, p->v, p->instance);
        lcache_release(&l->bytes, p->bytes);
        meta_partition_unlock(l->m, p->key, p->hold);
        lake_key_unlock(l, p->key);
        atomic_fetch_add(&l->deferred_done, 1);
        pending_free(p);
        pthread_mutex_lock(&l->cm_mu);
        pthread_cond_broadcast(&l->cm_done_cv);
    }
    pthread_mutex_unlock(&l->cm_mu);
    return NULL;
}

void lake_commit_init(lake *l)
{
    pthread_mutex_init(&l->cm_mu, NULL);
    pthread_cond_init(&l->cm_cv, NULL);
    pthread_cond_init(&l->cm_done_cv, NULL);
}

void lake_commit_close(lake *l)
{
    pthread_mutex_lock(&l->cm_mu);
    l->cm_stop = 1;
    pthread_cond_broadcast(&l->cm_cv);
    int n = l->cm_threads;
    pthread_mutex_unlock(&l->cm_mu);
    for (int i = 0; i < n; i++)
        pthread_join(l->cm_tid[i], NULL);
    pthread_mutex_destroy(&l->cm_mu);
    pthread_cond_destroy(&l->cm_cv);
    pthread_cond_destroy(&l->cm_done_cv);
}

int lake_commit_defer(lake *l, lake_view_id v, uint64_t key, void *hold,
                      const meta_partition *row, lcache_entry *bytes)
{
    if (strlen(row->view_instance_id) >= LAKE_INSTANCE_MAX ||
        strlen(row->file_path) >= LAKE_PATH_MAX)
        return SL_EAGAIN;
    lake_pending *p = sl_calloc(1, sizeof *p);
    void *st = row->state_len ? sl_malloc(row->state_len) : NULL;
    if (!p || (row->state_len && !st)) {
        sl_free(p);
        sl_free(st);
        return SL_EAGAIN;
    }
    if (st)
        memcpy(st, row->state, row->state_len);
    p->v = v;
    p->key = key;
    p->hold = hold;
    p->since_ns = clock_mono_ns();
    p->bytes = bytes;
    p->state = st;
    snprintf(p->instance, sizeof p->instance, "%s", row->view_instance_id);
    snprintf(p->path, sizeof p->path, "%s", row->file_path);
    p->row = *row;
    p->row.view_set_name = lake_view_get(v)->name;
    p->row.view_instance_id = p->instance;
    p->row.file_path = p->path;
    p->row.state = st;
    /* the room, the committers and the insertion under one hold of the mutex, so
     * lake_commit_close never leaves a pending commit without a committer */
    pthread_mutex_lock(&l->cm_mu);
    int room = !l->cm_stop && l->cm_n < LAKE_PENDING_MAX;
    if (room && l->cm_threads < LAKE_COMMITTERS) {
        if (pthread_create(&l->cm_tid[l->cm_threads], NULL, committer, l) == 0)
            l->cm_threads++;
        else if (!l->cm_threads)
            room = 0;
    }
    if (room) {
        p->next = l->cm_head;
        l->cm_head = p;
        l->cm_n++;
        pthread_cond_signal(&l->cm_cv);
    }
    pthread_mutex_unlock(&l->cm_mu);
    if (!room) {
        pending_free(p);
        return SL_EAGAIN;
    }
    /* the index cached before this build lacks the row: readers load it again */
    lake_parts_forget(l, v, row->view_instance_id);
    atomic_fetch_add(&l->deferred, 1);
    return SL_OK;
}

void lake_commit_hold(lake *l, int delta)
{
    pthread_mutex_lock(&l->cm_mu);
    l->cm_readers += delta;
    if (l->cm_readers <= 0) /* the held commits go now */
        pthread_cond_broadcast(&l->cm_cv);
    pthread_mutex_unlock(&l->cm_mu);
}

void lake_commit_urge(lake *l, uint64_t key)
{
    pthread_mutex_lock(&l->cm_mu);
    for (lake_pending *p = l->cm_head; p; p = p->next)
        if (p->key == key && !p->urgent) {
            p->urgent = 1;
            pthread_cond_broadcast(&l->cm_cv);
        }
    pthread_mutex_unlock(&l->cm_mu);
}

int lake_pending_overlay(lake *l, lake_view_id v, const char *instance, meta_partition_fn fn,
                         void *arg)
{
    int rc = 0;
    pthread_mutex_lock(&l->cm_mu);
    for (lake_pending *p = l->cm_head; p && !rc; p = p->next)
        if (p->v == v && !strcmp(p->instance, instance))
            rc = fn(arg, &p->row);
    pthread_mutex_unlock(&l->cm_mu);
    return rc;
}

static int path_pending(lake *l, const char *path)
{
    for (lake_pending *p = l->cm_head; p; p = p->next)
        if (!strcmp(p->path, path))
            return 1;
    return 0;
}

void lake_pending_wait_path(lake *l, const char *path)
{
    pthread_mutex_lock(&l->cm_mu);
    for (lake_pending *p = l->cm_head; p; p = p->next)
        if (!strcmp(p->path, path))
            p->urgent = 1; /* not held for the traces running */
    pthread_cond_broadcast(&l->cm_cv);
    while (path_pending(l, path))
        pthread_cond_wait(&l->cm_done_cv, &l->cm_mu);
    pthread_mutex_unlock(&l->cm_mu);
}

void lake_pending_drain(lake *l)
{
    pthread_mutex_lock(&l->cm_mu);
    while (l->cm_head)
        pthread_cond_wait(&l->cm_done_cv, &l->cm_mu);
    pthread_mutex_unlock(&l->cm_mu);
}
