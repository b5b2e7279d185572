/*
 * lake.c - the lake object: caches of metadata and files, and its figures.
 *
 * Everything the lake reads more than once goes through a bounded cache:
 * processes with their streams, the owner of each stream, each stream's block
 * list, each view instance's partition index, Parquet footers and file bytes.
 * Process and stream rows never change once stored; block lists and process
 * stream lists grow, so ingestion calls lake_notify_* and the entry is dropped
 * (the next request reads it again).  Partition indexes are dropped by the
 * builder after it commits a partition.
 *
 * A shared metadata store (several servers on one PostgreSQL) changes behind
 * our back: another server's ingestion and builds never notify us.  Then the
 * process, block-list and partition-index entries serve only the request that
 * read them (max age 1 ns: every later lookup reads the store again), so every
 * server answers from the committed state.  Files never change once written
 * and stay cached.
 */
#include "lake/lake_int.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------ values */

typedef struct proc_val {
    lake_process p;         /* first: lake_process pointers are proc_val pointers */
    /* To release it.  Every holder stores it (the same value) before use, so
     * it is atomic: the stores race, harmlessly but not silently. */
    _Atomic(lcache_entry *) entry;
    char *exe, *username, *computer;
    uint64_t stamp; /* shared metadata: the change stamp of the process's streams */
} proc_val;

static void proc_free(void *v)
{
    proc_val *pv = v;
    if (!pv)
        return;
    sl_free(pv->p.streams);
    sl_free(pv->exe);
    sl_free(pv->username);
    sl_free(pv->computer);
    sl_free(pv);
}

static void blocks_free(void *v)
{
    lake_blocks *b = v;
    if (b) {
        sl_free(b->b);
        sl_free(b);
    }
}

static void parts_free(void *v)
{
    lake_parts *ps = v;
    if (!ps)
        return;
    for (size_t i = 0; i < ps->n; i++) {
        sl_free((void *)ps->p[i].view_set_name);
        sl_free((void *)ps->p[i].view_instance_id);
        sl_free((void *)ps->p[i].file_path);
        sl_free((void *)ps->p[i].state);
    }
    sl_free(ps->p);
    sl_free(ps);
}

static void footer_free(void *v)
{
    pq_footer_unref(v);
}

/*
 * A partition file's bytes in the cache: mapped from the object store when it
 * can, else read into memory.  From a store that cannot map (S3) the image is
 * sparse: a zeroed buffer of the file's size holding the footer, into which
 * lake_file_fetch reads column chunks as scans need them (ranged GETs), so a
 * query of three columns never downloads the other ten.
 */
typedef struct file_bytes {
    lake_bytes b;
    objstore *os;      /* mapped: unmap through it */
    uint8_t *owned;    /* read: free */
    int sparse;        /* only the footer and the chunks flagged in have are in */
    pthread_mutex_t mu; /* sparse: held while fetching, so one chunk is fetched once */
    uint8_t *have;     /* sparse: a flag per (row group, column), allocated on first fetch */
} file_bytes;

static void bytes_free(void *v)
{
    file_bytes *f = v;
    if (f->owned)
        sl_free(f->owned);
    else
        objstore_unmap(f->os, f->b.p, f->b.len);
    if (f->sparse)
        pthread_mutex_destroy(&f->mu);
    sl_free(f->have);
    sl_free(f);
}

static uint64_t proc_stamp(const void *v)
{
    return ((const proc_val *)v)->stamp;
}

static uint64_t blocks_stamp(const void *v)
{
    return ((const lake_blocks *)v)->stamp;
}

static uint64_t parts_stamp(const void *v)
{
    return ((const lake_parts *)v)->stamp;
}

/*
 * The store's change stamp of a list a cache holds, read before the cache is
 * looked at (and so before a reload): *check is 0, and nothing is read, for a
 * store whose caches are told of every change (SQLite, one server).
 */
static int read_stamp(lake *l, int what, const sl_uuid *id, const char *view,
                      const char *instance, int *check, uint64_t *stamp, errmsg *e)
{
    *check = 0;
    *stamp = 0;
    if (!l->m->shared)
        return SL_OK;
    int rc = meta_change_stamp(l->m, what, id, view, instance, stamp, e);
    if (rc == SL_EUNSUPPORTED)
        return SL_OK;
    if (!rc)
        *check = 1;
    return rc;
}

/* ------------------------------------------------------------ open / close */

int lake_open(meta *m, objstore *os, const lake_opts *o, lake **out, errmsg *e)
{
    lake *l = sl_calloc(1, sizeof *l);
    if (!l)
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    l->m = m;
    l->os = os;
    if (o)
        l->o = *o;
    if (!l->o.cache_bytes)
        l->o.cache_bytes = (size_t)64 << 20;
    if (!l->o.max_partition_events)
        l->o.max_partition_events = 1000000;
    if (l->o.jobs <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        l->o.jobs = n > 0 ? (int)n : 2;
    }
    if (!l->o.retire_grace_ns)
        l->o.retire_grace_ns = 60ll * 1000000000;
    if (!l->o.orphan_grace_ns)
        l->o.orphan_grace_ns = 600ll * 1000000000;
    /* For tests of the orphan sweeps: a short grace instead of minutes. */
    const char *grace = getenv("SL_LAKE_TEST_ORPHAN_GRACE_MS");
    if (grace && atoll(grace) > 0)
        l->o.orphan_grace_ns = atoll(grace) * 1000000ll;
    pthread_mutex_init(&l->lock_mu, NULL);
    pthread_cond_init(&l->lock_cv, NULL);
    pthread_mutex_init(&l->pl_mu, NULL);
    pthread_cond_init(&l->pl_cv, NULL);
    lake_commit_init(l);
    const char *ov = getenv("SL_LAKE_TRACE_OVERLAP");
    /* the read-ahead is off unless asked for: against s3rver on two cores it did not
     * pay (docs/internals/lake.md) */
    l->trace_overlap = !ov                     ? LAKE_OVERLAP_DEFER
                       : !strcmp(ov, "all")      ? LAKE_OVERLAP_DEFER | LAKE_OVERLAP_PREFETCH
                       : !strcmp(ov, "prefetch") ? LAKE_OVERLAP_PREFETCH
                       : !strcmp(ov, "0")        ? 0
                                                 : LAKE_OVERLAP_DEFER;
    int rc = lcache_init(&l->procs, "processes", 100000, SIZE_MAX, proc_free);
    if (!rc)
        rc = lcache_init(&l->stream_of, "streams", 100000, SIZE_MAX, sl_free);
    if (!rc)
        rc = lcache_init(&l->blocks, "block_lists", 100000, (size_t)256 << 20, blocks_free);
    if (!rc)
        rc = lcache_init(&l->parts, "partition_index", 100000, (size_t)256 << 20, parts_free);
    if (!rc)
        rc = lcache_init(&l->footers, "parquet_footers", 10000, (size_t)256 << 20, footer_free);
    if (!rc)
        rc = lcache_init(&l->bytes, "file_bytes", 100000, l->o.cache_bytes, bytes_free);
    if (!rc) /* only filled over a store that cannot map (payloads.c) */
        rc = lcache_init(&l->payloads, "payloads", 100000, l->o.cache_bytes / 2,
                         lake_payload_val_free);
    if (rc) {
        lake_close(l);
        return errmsg_set(e, rc, "out of memory");
    }
    if (m->shared && m->ops->change_stamp) {
        /* other servers add streams, blocks and partitions: every use of a cached list
         * first checks the store's change stamp (docs/internals/lake.md) */
        l->procs.stamp_of = proc_stamp;
        l->blocks.stamp_of = blocks_stamp;
        l->parts.stamp_of = parts_stamp;
    } else if (m->shared) {
        l->procs.max_age_ns = l->blocks.max_age_ns = l->parts.max_age_ns = 1;
    }
    if ((rc = lake_janitor(l, 1, e))) {
        lake_close(l);
        return rc;
    }
    *out = l;
    return SL_OK;
}

void lake_close(lake *l)
{
    if (!l)
        return;
    lake_commit_close(l); /* pending commits hold cache entries and locks */
    lcache_destroy(&l->procs);
    lcache_destroy(&l->stream_of);
    lcache_destroy(&l->blocks);
    lcache_destroy(&l->parts);
    lcache_destroy(&l->footers);
    lcache_destroy(&l->bytes);
    lcache_destroy(&l->payloads);
    pthread_mutex_destroy(&l->lock_mu);
    pthread_cond_destroy(&l->lock_cv);
    pthread_mutex_destroy(&l->pl_mu);
    pthread_cond_destroy(&l->pl_cv);
    dbuf_free(&l->busy.keys);
    dbuf_free(&l->pl_busy.keys);
    sl_free(l);
}

void lake_notify_stream(lake *l, const sl_uuid *process_id, const sl_uuid *stream_id)
{
    char k[UUID_STR_LEN];
    uuid_format(process_id, k);
    lcache_remove(&l->procs, k);
    (void)stream_id;
}

void lake_notify_block(lake *l, const sl_uuid *stream_id)
{
    char k[UUID_STR_LEN];
    uuid_format(stream_id, k);
    lcache_remove(&l->blocks, k);
}

int lake_blocks_since(lake *l, int64_t since_ns, meta_block_fn fn, void *arg, errmsg *e)
{
    return meta_blocks_since(l->m, since_ns, fn, arg, e);
}

int lake_block_payload(lake *l, const meta_block *b, dbuf *out, errmsg *e)
{
    char key[160], pid[UUID_STR_LEN], sid[UUID_STR_LEN], bid[UUID_STR_LEN];
    uuid_format(&b->process_id, pid);
    uuid_format(&b->stream_id, sid);
    uuid_format(&b->block_id, bid);
    snprintf(key, sizeof key, "blobs/%s/%s/%s", pid, sid, bid);
    return objstore_get(l->os, key, out, e);
}

/* ------------------------------------------------------------ processes */

typedef struct proc_load {
    proc_val *pv;
    size_t cap;
    int rc;
} proc_load;

static int take_process(void *arg, const meta_process_summary *row)
{
    proc_load *ld = arg;
    proc_val *pv = ld->pv;
    const meta_process *p = &row->p;
    pv->p.proc.process_id = p->process_id;
    uuid_format(&p->process_id, pv->p.proc.process_id_str);
    pv->p.proc.start_time_ns = p->start_time_ns;
    pv->p.proc.tsc_frequency = p->tsc_frequency ? p->tsc_frequency : 1000000000;
    lake_proc_init_clock(&pv->p.proc);
    pv->exe = sl_strdup(p->exe);
    pv->username = sl_strdup(p->username);
    pv->computer = sl_strdup(p->computer);
    if (!pv->exe || !pv->username || !pv->computer)
        ld->rc = SL_ENOMEM;
    /* The OS pid if the process said it, else a stable number from its id. */
    const char *pp = p->properties_json ? strstr(p->properties_json, "\"pid\":\"") : NULL;
    pv->p.pid = pp ? (int32_t)atoi(pp + 7) : 0;
    if (pv->p.pid <= 0)
        pv->p.pid = (int32_t)((hash64(p->process_id.b, 16) & 0x3fffffff) | 1);
    pv->p.proc.exe = pv->exe;
    pv->p.proc.username = pv->username;
    pv->p.proc.computer = pv->computer;
    return 0;
}

static int has_tag(const char *json, const char *tag)
{
    char q[32];
    snprintf(q, sizeof q, "\"%s\"", tag);
    return json && strstr(json, q) != NULL;
}

static int take_stream(void *arg, const meta_stream_summary *row)
{
    proc_load *ld = arg;
    lake_process *p = &ld->pv->p;
    if (p->n_streams == ld->cap) {
        size_t ncap = ld->cap ? ld->cap * 2 : 16;
        lake_stream_info *n = sl_realloc(p->streams, sizeof *n * ncap);
        if (!n)
            return ld->rc = SL_ENOMEM;
        p->streams = n;
        ld->cap = ncap;
    }
    lake_stream_info *s = &p->streams[p->n_streams++];
    memset(s, 0, sizeof *s);
    s->stream_id = row->s.stream_id;
    uuid_format(&s->stream_id, s->stream_id_str);
    s->is_cpu = has_tag(row->s.tags_json, "cpu");
    s->is_log = has_tag(row->s.tags_json, "log");
    s->is_metrics = has_tag(row->s.tags_json, "metrics");
    s->is_otel_spans = has_tag(row->s.tags_json, "otel_spans");
    s->thread_id = row->thread_id ? atoll(row->thread_id) : 0;
    snprintf(s->thread_name, sizeof s->thread_name, "%s", row->thread_name ? row->thread_name : "");
    return 0;
}

int lake_process_get(lake *l, const sl_uuid *process_id, const lake_process **out, errmsg *e)
{
    char k[UUID_STR_LEN];
    uuid_format(process_id, k);
    int check;
    uint64_t stamp;
    int rc0 = read_stamp(l, META_STAMP_STREAMS, process_id, NULL, NULL, &check, &stamp, e);
    if (rc0)
        return rc0;
    uint64_t procs_epoch = lcache_epoch(&l->procs);
    lcache_entry *en = lcache_get_stamped(&l->procs, k, check, stamp);
    if (!en) {
        proc_load ld = {sl_calloc(1, sizeof(proc_val)), 0, 0};
        if (!ld.pv)
            return errmsg_set(e, SL_ENOMEM, "out of memory");
        ld.pv->stamp = stamp;
        int rc = meta_process_find(l->m, process_id, take_process, &ld, e);
        if (!rc)
            rc = meta_streams_list(l->m, process_id, take_stream, &ld, e);
        if (!rc && ld.rc)
            rc = errmsg_set(e, ld.rc, "out of memory");
        if (rc) {
            proc_free(ld.pv);
            return rc;
        }
        en = lcache_put(&l->procs, k, ld.pv, sizeof(proc_val) +
                        ld.pv->p.n_streams * sizeof(lake_stream_info), procs_epoch);
        if (!en)
            return errmsg_set(e, SL_ENOMEM, "out of memory");
    }
    proc_val *pv = en->val;
    atomic_store_explicit(&pv->entry, en, memory_order_relaxed); /* the same for every holder */
    *out = &pv->p;
    return SL_OK;
}

void lake_process_release(lake *l, const lake_process *p)
{
    if (p)
        lcache_release(&l->procs,
                       atomic_load_explicit(&((const proc_val *)(const void *)p)->entry,
                                            memory_order_relaxed));
}

int lake_stream_process(lake *l, const sl_uuid *stream_id, sl_uuid *process_id, errmsg *e)
{
    char k[UUID_STR_LEN];
    uuid_format(stream_id, k);
    uint64_t stream_of_epoch = lcache_epoch(&l->stream_of);
    lcache_entry *en = lcache_get(&l->stream_of, k);
    if (!en) {
        meta_stream s;
        int rc = meta_stream_find(l->m, stream_id, &s, e);
        if (rc)
            return rc;
        sl_uuid *v = sl_malloc(sizeof *v);
        if (!v)
            return errmsg_set(e, SL_ENOMEM, "out of memory");
        *v = s.process_id;
        if (!(en = lcache_put(&l->stream_of, k, v, sizeof *v, stream_of_epoch)))
            return errmsg_set(e, SL_ENOMEM, "out of memory");
    }
    *process_id = *(sl_uuid *)en->val;
    lcache_release(&l->stream_of, en);
    return SL_OK;
}

/* ------------------------------------------------------------ blocks */

typedef struct block_load {
    lake_blocks *b;
    size_t cap;
    int rc;
} block_load;

static int take_block(void *arg, const meta_block *row)
{
    block_load *ld = arg;
    if (ld->b->n == ld->cap) {
        size_t ncap = ld->cap ? ld->cap * 2 : 64;
        meta_block *n = sl_realloc(ld->b->b, sizeof *n * ncap);
        if (!n)
            return ld->rc = SL_ENOMEM;
        ld->b->b = n;
        ld->cap = ncap;
    }
    ld->b->b[ld->b->n++] = *row;
    return 0;
}

static int cmp_block(const void *a, const void *b)
{
    const meta_block *x = a, *y = b;
    if (x->insert_time_ns != y->insert_time_ns)
        return x->insert_time_ns < y->insert_time_ns ? -1 : 1;
    if (x->object_offset != y->object_offset)
        return x->object_offset < y->object_offset ? -1 : 1;
    return memcmp(x->block_id.b, y->block_id.b, 16);
}

int lake_blocks_get(lake *l, const sl_uuid *stream_id, lcache_entry **out, errmsg *e)
{
    char k[UUID_STR_LEN];
    uuid_format(stream_id, k);
    int check;
    uint64_t stamp;
    int rc0 = read_stamp(l, META_STAMP_BLOCKS, stream_id, NULL, NULL, &check, &stamp, e);
    if (rc0)
        return rc0;
    uint64_t blocks_epoch = lcache_epoch(&l->blocks);
    lcache_entry *en = lcache_get_stamped(&l->blocks, k, check, stamp);
    if (!en) {
        block_load ld = {sl_calloc(1, sizeof(lake_blocks)), 0, 0};
        if (!ld.b)
            return errmsg_set(e, SL_ENOMEM, "out of memory");
        ld.b->stamp = stamp;
        int rc = meta_blocks_list(l->m, stream_id, take_block, &ld, e);
        if (!rc && ld.rc)
            rc = errmsg_set(e, ld.rc, "out of memory");
        if (rc) {
            blocks_free(ld.b);
            return rc;
        }
        if (ld.b->n > 1)
            qsort(ld.b->b, ld.b->n, sizeof(meta_block), cmp_block);
        if (!(en = lcache_put(&l->blocks, k, ld.b, sizeof(lake_blocks) +
                              ld.b->n * sizeof(meta_block), blocks_epoch)))
            return errmsg_set(e, SL_ENOMEM, "out of memory");
    }
    *out = en;
    return SL_OK;
}

/* ------------------------------------------------------------ partitions */

typedef struct parts_load {
    lake_parts *ps;
    size_t cap;
    int rc;
} parts_load;

static int take_part(void *arg, const meta_partition *row)
{
    parts_load *ld = arg;
    if (ld->ps->n == ld->cap) {
        size_t ncap = ld->cap ? ld->cap * 2 : 8;
        meta_partition *n = sl_realloc(ld->ps->p, sizeof *n * ncap);
        if (!n)
            return ld->rc = SL_ENOMEM;
        ld->ps->p = n;
        ld->cap = ncap;
    }
    meta_partition *p = &ld->ps->p[ld->ps->n++];
    *p = *row;
    p->view_set_name = sl_strdup(row->view_set_name);
    p->view_instance_id = sl_strdup(row->view_instance_id);
    p->file_path = sl_strdup(row->file_path);
    void *st = row->state_len ? sl_malloc(row->state_len) : NULL;
    if (st)
        memcpy(st, row->state, row->state_len);
    p->state = st;
    if (!p->view_set_name || !p->view_instance_id || !p->file_path || (row->state_len && !st))
        ld->rc = SL_ENOMEM;
    return 0;
}

static int cmp_begin(const void *a, const void *b)
{
    const meta_partition *x = a, *y = b;
    return x->begin_insert_time_ns < y->begin_insert_time_ns   ? -1
           : x->begin_insert_time_ns > y->begin_insert_time_ns ? 1
                                                               : 0;
}

/*
 * Puts the pending rows of pend into ld (their strings move), each replacing the
 * listed row of its begin (the one its commit retires), and sorts by begin.
 */
static void parts_merge(parts_load *ld, lake_parts *pend)
{
    for (size_t i = 0; i < pend->n && !ld->rc; i++) {
        meta_partition *q = &pend->p[i], *to = NULL;
        for (size_t k = 0; k < ld->ps->n && !to; k++)
            if (ld->ps->p[k].begin_insert_time_ns == q->begin_insert_time_ns)
                to = &ld->ps->p[k];
        if (!to && take_part(ld, q) == 0 && !ld->rc)
            to = &ld->ps->p[ld->ps->n - 1]; /* a new slot: its copies are replaced below */
        if (!to)
            break;
        sl_free((void *)to->view_set_name);
        sl_free((void *)to->view_instance_id);
        sl_free((void *)to->file_path);
        sl_free((void *)to->state);
        *to = *q;
        memset(q, 0, sizeof *q); /* moved: parts_free of pend skips it */
    }
    qsort(ld->ps->p, ld->ps->n, sizeof *ld->ps->p, cmp_begin);
}

static void parts_key(char *k, size_t n, lake_view_id v, const char *instance)
{
    snprintf(k, n, "%s/%s", lake_view_get(v)->name, instance);
}

int lake_parts_get(lake *l, lake_view_id v, const char *instance, lcache_entry **out, errmsg *e)
{
    char k[128];
    parts_key(k, sizeof k, v, instance);
    int check;
    uint64_t stamp;
    int rc0 = read_stamp(l, META_STAMP_PARTITIONS, NULL, lake_view_get(v)->name, instance,
                         &check, &stamp, e);
    if (rc0)
        return rc0;
    uint64_t parts_epoch = lcache_epoch(&l->parts);
    lcache_entry *en = lcache_get_stamped(&l->parts, k, check, stamp);
    if (!en) {
        parts_load ld = {sl_calloc(1, sizeof(lake_parts)), 0, 0};
        if (!ld.ps)
            return errmsg_set(e, SL_ENOMEM, "out of memory");
        ld.ps->stamp = stamp;
        /* Pending rows (deferred commits) are taken before the list: a commit that
         * ends in between is in the list then (parts_merge keeps one per begin). */
        parts_load pend = {sl_calloc(1, sizeof(lake_parts)), 0, 0};
        int rc = SL_OK;
        if (!pend.ps)
            pend.rc = SL_ENOMEM;
        else
            lake_pending_overlay(l, v, instance, take_part, &pend);
        if (!pend.rc)
            rc = meta_partitions_list(l->m, lake_view_get(v)->name, instance, take_part, &ld, e);
        if (!rc && !pend.rc && !ld.rc && pend.ps->n)
            parts_merge(&ld, pend.ps);
        if (!rc && (ld.rc || pend.rc))
            rc = errmsg_set(e, SL_ENOMEM, "out of memory");
        parts_free(pend.ps);
        if (rc) {
            parts_free(ld.ps);
            return rc;
        }
        size_t size = sizeof(lake_parts) + ld.ps->n * (sizeof(meta_partition) + 128);
        for (size_t i = 0; i < ld.ps->n; i++)
            size += ld.ps->p[i].state_len;
        if (!(en = lcache_put(&l->parts, k, ld.ps, size, parts_epoch)))
            return errmsg_set(e, SL_ENOMEM, "out of memory");
    }
    *out = en;
    return SL_OK;
}

void lake_parts_forget(lake *l, lake_view_id v, const char *instance)
{
    char k[128];
    parts_key(k, sizeof k, v, instance);
    lcache_remove(&l->parts, k);
}

int lake_partitions_overlapping(lake *l, lake_view_id v, const char *instance, int64_t begin_ns,
                                int64_t end_ns, size_t *count, errmsg *e)
{
    char canon[LAKE_INSTANCE_MAX];
    const lake_view_def *vd = lake_view_get(v);
    if (!vd || !vd->partitioned)
        return errmsg_set(e, SL_EINVAL, "not a partitioned view");
    if (lake_instance_canon(vd, instance, canon, e))
        return SL_EINVAL;
    lcache_entry *en;
    int rc = lake_parts_get(l, v, canon, &en, e);
    if (rc)
        return rc;
    const lake_parts *ps = en->val;
    size_t n = 0;
    for (size_t i = 0; i < ps->n; i++)
        n += lake_part_overlaps(&ps->p[i], begin_ns, end_ns);
    lcache_release(&l->parts, en);
    *count = n;
    return SL_OK;
}

typedef struct retire_ctx {
    int64_t begin_ns, end_ns;
    dbuf paths;              /* NUL-terminated file paths to retire */
    dbuf rows;               /* their times and row counts (retire_row), in the same order */
} retire_ctx;

typedef struct retire_row {
    int64_t begin_ins, end_ins, min_ev, max_ev;
    uint64_t rows;
} retire_row;

static int retire_pick(void *arg, const meta_partition *p)
{
    retire_ctx *c = arg;
    if (!lake_part_overlaps(p, c->begin_ns, c->end_ns))
        return 0;
    retire_row r = {p->begin_insert_time_ns, p->end_insert_time_ns, p->min_event_time_ns,
                    p->max_event_time_ns, p->row_count};
    return dbuf_append(&c->paths, p->file_path, strlen(p->file_path) + 1) ||
                   dbuf_append(&c->rows, &r, sizeof r)
               ? SL_ENOMEM
               : 0;
}

int lake_retire_partitions(lake *l, lake_view_id v, const char *instance, int64_t begin_ns,
                           int64_t end_ns, meta_partition_fn fn, void *arg, errmsg *e)
{
    const lake_view_def *vd = lake_view_get(v);
    if (!vd || !vd->partitioned)
        return errmsg_set(e, SL_EINVAL, "view %s has no partitions", vd ? vd->name : "?");
    char canon[LAKE_INSTANCE_MAX];
    int rc = lake_instance_canon(vd, instance, canon, e);
    if (rc)
        return rc;
    lake_pending_drain(l); /* a pending row would come in after the retirement */
    retire_ctx c;
    memset(&c, 0, sizeof c);
    c.begin_ns = begin_ns;
    c.end_ns = end_ns;
    dbuf_init(&c.paths, (size_t)1 << 30);
    dbuf_init(&c.rows, (size_t)1 << 30);
    rc = meta_partitions_list(l->m, vd->name, canon, retire_pick, &c, e);
    /* one partition at a time: each is retired or not, a failure keeps the rest */
    size_t k = 0;
    for (size_t at = 0; !rc && at < c.paths.len; k++) {
        const char *path = (const char *)c.paths.p + at;
        at += strlen(path) + 1;
        int done = 0;
        if ((rc = meta_partition_retire(l->m, path, &done, e)) || !done || !fn)
            continue;
        retire_row r;
        memcpy(&r, c.rows.p + k * sizeof r, sizeof r);
        meta_partition p = {.view_set_name = vd->name, .view_instance_id = canon,
                            .begin_insert_time_ns = r.begin_ins, .end_insert_time_ns = r.end_ins,
                            .min_event_time_ns = r.min_ev, .max_event_time_ns = r.max_ev,
                            .file_path = path, .row_count = r.rows, .retired = 1};
        rc = fn(arg, &p);
    }
    lake_parts_forget(l, v, canon);
    dbuf_free(&c.paths);
    dbuf_free(&c.rows);
    return rc;
}

void lake_partition_index_drop(lake *l, lake_view_id v, const char *instance)
{
    char canon[LAKE_INSTANCE_MAX];
    const lake_view_def *vd = lake_view_get(v);
    if (vd && lake_instance_canon(vd, instance, canon, NULL) == SL_OK)
        lake_parts_forget(l, v, canon);
}

/* ------------------------------------------------------------ files */

/* Largest partition file the lake reads (the whole-file path's cap too). */
#define LAKE_FILE_MAX ((uint64_t)4 << 30)
/* Bytes read from the end of a file for its footer in one ranged read. */
#define LAKE_TAIL_BYTES ((uint64_t)64 << 10)
/* Chunks of one row group closer than this are fetched in one ranged read. */
#define LAKE_FETCH_GAP ((uint64_t)256 << 10)

/* Appends [off, off+n) of the object into dst (which has room for it). */
static int read_range_into(lake *l, const char *path, uint64_t off, uint64_t n, uint8_t *dst,
                           errmsg *e)
{
    dbuf d;
    dbuf_init(&d, (size_t)n);
    int rc = objstore_get_range(l->os, path, off, (size_t)n, &d, e);
    if (!rc)
        memcpy(dst, d.p, (size_t)n);
    dbuf_free(&d);
    return rc;
}

/*
 * Reads the footer end of a file that cannot be mapped into a zeroed image of
 * its size; a file no larger than the tail read is read whole (not sparse).
 */
static int read_sparse(lake *l, const char *path, uint64_t size, file_bytes *fb, errmsg *e)
{
    int rc;
    if (!size) {
        objstore_stat st;
        if ((rc = objstore_stat_get(l->os, path, &st, e)))
            return rc;
        size = st.size_bytes;
    }
    if (size > LAKE_FILE_MAX)
        return errmsg_set(e, SL_ETOOBIG, "partition file %s: %llu bytes", path,
                          (unsigned long long)size);
    if (!(fb->owned = sl_calloc(1, (size_t)size + 1)))
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    fb->b.p = fb->owned;
    fb->b.len = (size_t)size;
    uint64_t tail = size < LAKE_TAIL_BYTES ? size : LAKE_TAIL_BYTES;
    if ((rc = read_range_into(l, path, size - tail, tail, fb->owned + size - tail, e)))
        return rc;
    if (tail == size || size < 12)
        return SL_OK; /* whole; the footer parser judges it */
    uint64_t flen = (uint64_t)fb->owned[size - 8] | (uint64_t)fb->owned[size - 7] << 8 |
                    (uint64_t)fb->owned[size - 6] << 16 | (uint64_t)fb->owned[size - 5] << 24;
    if (flen + 12 <= size && flen + 8 > tail &&
        (rc = read_range_into(l, path, size - 8 - flen, flen + 8 - tail,
                              fb->owned + size - 8 - flen, e)))
        return rc;
    /*
     * The leading magic is not fetched (a round trip for four bytes no reader
     * uses); the footer parser checks it as a file-type test, which the trailing
     * magic just read makes already.
     */
    if (!memcmp(fb->owned + size - 4, "PAR1", 4))
        memcpy(fb->owned, "PAR1", 4);
    fb->sparse = 1;
    pthread_mutex_init(&fb->mu, NULL);
    return SL_OK;
}

/* The byte range [*a, *b) of a column chunk (its dictionary page first, if any). */
static void chunk_range(const pq_chunk *c, uint64_t *a, uint64_t *b)
{
    int64_t start = c->data_page_offset;
    if (c->dictionary_page_offset > 0 && c->dictionary_page_offset < start)
        start = c->dictionary_page_offset;
    *a = start > 0 ? (uint64_t)start : 0;
    *b = *a + (c->total_compressed > 0 ? (uint64_t)c->total_compressed : 0);
}

/* Whether the scan reads column c (NULL projection: every column). */
static int wanted_col(const pq_footer *f, const pq_scan_opts *o, int c)
{
    if (!o || !o->columns)
        return 1;
    const col_schema *s = pq_footer_schema(f);
    for (int i = 0; i < o->ncolumns; i++)
        if (col_schema_find(s, o->columns[i]) == c)
            return 1;
    return 0;
}

/* Whether the scan reads row group g: the reader's own pruning (reader.c prune). */
static int wanted_rg(const pq_footer *f, const pq_scan_opts *o, int g, int range_col)
{
    const pq_file_meta *m = pq_footer_meta(f);
    int64_t lo, hi;
    if (m->rgs[g].num_rows == 0)
        return 0;
    if (o && o->rg_mod > 1 && (o->rg_base + g) % o->rg_mod != o->rg_rem)
        return 0;
    return !(range_col >= 0 && pq_footer_stats_i64(f, g, range_col, &lo, &hi) == SL_OK &&
             (hi < o->range_min || lo > o->range_max));
}

/*
 * Fetches the missing wanted chunks of row group g; chunks closer than LAKE_FETCH_GAP
 * (with the unfetched bytes between them) in one read.  A run never spans a chunk
 * fetched before: other threads may be reading it, and must not see it rewritten.
 */
static int fetch_rg(lake *l, const char *path, file_bytes *fb, const pq_footer *f,
                    const pq_scan_opts *o, int g, errmsg *e)
{
    const pq_row_group *rg = &pq_footer_meta(f)->rgs[g];
    uint8_t *have = fb->have + (size_t)g * (size_t)rg->ncols;
    uint64_t lo = 0, hi = 0;
    int first = -1;
    for (int c = 0; c <= rg->ncols; c++) {
        int end = c == rg->ncols, present = !end && have[c];
        int want = !end && !present && wanted_col(f, o, c);
        if (!end && !want && !present)
            continue;
        uint64_t a = 0, b = 0;
        if (want)
            chunk_range(&rg->cols[c], &a, &b);
        if (b > fb->b.len)
            return errmsg_set(e, SL_ECORRUPT, "partition file %s: column chunk past its end",
                              path);
        if (first >= 0 && (end || present || a > hi + LAKE_FETCH_GAP || a < lo)) {
            int rc = hi > lo ? read_range_into(l, path, lo, hi - lo, fb->owned + lo, e) : SL_OK;
            if (rc)
                return rc;
            for (int k = first; k < c; k++)
                have[k] = have[k] || wanted_col(f, o, k);
            first = -1;
        }
        if (end)
            break;
        if (present)
            continue;
        if (first < 0) {
            first = c;
            lo = a;
            hi = b;
        } else if (b > hi) {
            hi = b;
        }
    }
    return SL_OK;
}

int lake_file_fetch(lake *l, const char *path, lcache_entry *bytes, const pq_footer *footer,
                    const pq_scan_opts *o, errmsg *e)
{
    file_bytes *fb = bytes->val;
    if (!fb->sparse)
        return SL_OK;
    const pq_file_meta *m = pq_footer_meta(footer);
    int ncols = m->nrgs ? m->rgs[0].ncols : 0;
    int range_col = o && o->range_column
                        ? col_schema_find(pq_footer_schema(footer), o->range_column)
                        : -1;
    int rc = SL_OK;
    pthread_mutex_lock(&fb->mu);
    if (!fb->have && !(fb->have = sl_calloc((size_t)m->nrgs * (size_t)ncols + 1, 1)))
        rc = errmsg_set(e, SL_ENOMEM, "out of memory");
    for (int g = 0; !rc && g < m->nrgs; g++) {
        if (m->rgs[g].ncols != ncols)
            rc = errmsg_set(e, SL_ECORRUPT, "partition file %s: row groups differ", path);
        else if (wanted_rg(footer, o, g, range_col))
            rc = fetch_rg(l, path, fb, footer, o, g, e);
    }
    pthread_mutex_unlock(&fb->mu);
    return rc;
}

int lake_file_open(lake *l, const char *path, uint64_t size_hint, lcache_entry **bytes,
                   lcache_entry **footer, errmsg *e)
{
    uint64_t bytes_epoch = lcache_epoch(&l->bytes);
    lcache_entry *b = lcache_get(&l->bytes, path);
    if (!b && !l->os->ops->map) {
        /* a partition committed in the background whose bytes left the cache: its
         * object exists once the commit is done (commit.c) */
        lake_pending_wait_path(l, path);
        bytes_epoch = lcache_epoch(&l->bytes);
        b = lcache_get(&l->bytes, path);
    }
    if (!b) {
        /*
         * Mapped when the store can (the local directory): no copy, and the pages
         * are the kernel's page cache, shared with every other reader; else read.
         * The cache charges the file's size either way, so the pages a scan
         * touches stay bounded by the cache.
         */
        file_bytes *fb = sl_calloc(1, sizeof *fb);
        if (!fb)
            return errmsg_set(e, SL_ENOMEM, "out of memory");
        fb->os = l->os;
        int rc = objstore_map(l->os, path, &fb->b.p, &fb->b.len, e);
        if (rc == SL_EUNSUPPORTED)
            rc = read_sparse(l, path, size_hint, fb, e);
        if (rc) {
            bytes_free(fb);
            return rc;
        }
        if (!(b = lcache_put(&l->bytes, path, fb, fb->b.len ? fb->b.len : 1, bytes_epoch)))
            return errmsg_set(e, SL_ENOMEM, "out of memory");
    }
    uint64_t footers_epoch = lcache_epoch(&l->footers);
    lcache_entry *f = lcache_get(&l->footers, path);
    if (!f) {
        const lake_bytes *cb = b->val;
        pq_footer *pf;
        int rc = pq_footer_parse(cb->p, cb->len, &pf, e);
        if (rc) {
            lcache_release(&l->bytes, b);
            return rc;
        }
        if (!(f = lcache_put(&l->footers, path, pf, 4096, footers_epoch))) {
            lcache_release(&l->bytes, b);
            return errmsg_set(e, SL_ENOMEM, "out of memory");
        }
    }
    *bytes = b;
    *footer = f;
    return SL_OK;
}

void lake_file_keep(lake *l, const char *path, dbuf *file)
{
    lcache_entry *en = lake_file_keep_ref(l, path, file);
    if (en)
        lcache_release(&l->bytes, en);
}

lcache_entry *lake_file_keep_ref(lake *l, const char *path, dbuf *file)
{
    if (l->os->ops->map || !file->len || file->len > l->o.cache_bytes)
        return NULL;
    uint64_t epoch = lcache_epoch(&l->bytes);
    file_bytes *fb = sl_calloc(1, sizeof *fb);
    if (!fb)
        return NULL;
    fb->os = l->os;
    fb->b.len = file->len;
    uint8_t *p = dbuf_take(file, NULL);
    /* the buffer grew by doubling: give back its slack, the cache charges len */
    uint8_t *fit = sl_realloc(p, fb->b.len + 1);
    fb->owned = fit ? fit : p;
    fb->b.p = fb->owned;
    lcache_entry *en = lcache_put(&l->bytes, path, fb, fb->b.len, epoch);
    if (en)
        atomic_fetch_add(&l->files_kept, 1);
    return en;
}

/* ------------------------------------------------------------ figures */

void lake_cache_counters(lake *l, uint64_t *hits, uint64_t *misses)
{
    lcache *caches[] = {&l->procs,   &l->stream_of, &l->blocks,  &l->parts,
                        &l->footers, &l->bytes,     &l->payloads};
    *hits = *misses = 0;
    for (size_t i = 0; i < sizeof caches / sizeof caches[0]; i++) {
        pthread_mutex_lock(&caches[i]->mu);
        *hits += caches[i]->hits;
        *misses += caches[i]->misses;
        pthread_mutex_unlock(&caches[i]->mu);
    }
}

uint64_t lake_builds_total(lake *l)
{
    return atomic_load(&l->builds);
}

/* Member `name`: an object of n counters, then one time (tname: tv). */
static void figures_json(jw *w, const char *name, const char *const *names, const uint64_t *v,
                         int n, const char *tname, int64_t tv)
{
    jw_key(w, name);
    jw_obj_begin(w);
    for (int i = 0; i < n; i++) {
        jw_key(w, names[i]);
        jw_uint(w, v[i]);
    }
    jw_key(w, tname);
    jw_int(w, tv);
    jw_obj_end(w);
}

void lake_stats_json(lake *l, jw *w)
{
    jw_key(w, "caches");
    jw_obj_begin(w);
    lcache *caches[] = {&l->procs,   &l->stream_of, &l->blocks,  &l->parts,
                        &l->footers, &l->bytes,     &l->payloads};
    for (size_t i = 0; i < sizeof caches / sizeof caches[0]; i++)
        lcache_stats_json(caches[i], w);
    jw_obj_end(w);
    jw_key(w, "partitions");
    jw_obj_begin(w);
    jw_key(w, "built");
    jw_uint(w, atomic_load(&l->builds));
    jw_key(w, "reused");
    jw_uint(w, atomic_load(&l->reused));
    jw_key(w, "build_ms");
    jw_double(w, (double)atomic_load(&l->build_ns) / 1e6);
    jw_key(w, "source_events");
    jw_uint(w, atomic_load(&l->build_events));
    jw_key(w, "files_kept_in_cache");
    jw_uint(w, atomic_load(&l->files_kept));
    jw_key(w, "payloads_waited_for");
    jw_uint(w, atomic_load(&l->pl_waited));
    jw_key(w, "payloads_prefetched");
    jw_uint(w, atomic_load(&l->pl_prefetched));
    /* builds whose upload and row were committed in the background (commit.c) */
    jw_key(w, "deferred_commits");
    jw_uint(w, atomic_load(&l->deferred));
    jw_key(w, "deferred_done");
    jw_uint(w, atomic_load(&l->deferred_done));
    jw_key(w, "deferred_failed");
    jw_uint(w, atomic_load(&l->deferred_failed));
    /* where the builds' time went, summed over builds (they run in parallel) */
    const char *pnames[] = {"wait_payloads", "decode", "write_parquet", "put", "commit"};
    uint64_t pv[] = {atomic_load(&l->phase_wait_ns), atomic_load(&l->phase_decode_ns),
                     atomic_load(&l->phase_write_ns), atomic_load(&l->phase_put_ns),
                     atomic_load(&l->phase_commit_ns)};
    jw_key(w, "build_phases_ms");
    jw_obj_begin(w);
    for (int i = 0; i < 5; i++) {
        jw_key(w, pnames[i]);
        jw_double(w, (double)pv[i] / 1e6);
    }
    jw_obj_end(w);
    jw_key(w, "files_deleted");
    jw_uint(w, atomic_load(&l->janitor_deleted));
    jw_key(w, "spans_closed_by_parent");
    jw_uint(w, atomic_load(&l->spans_unclosed));
    jw_key(w, "ends_without_begin");
    jw_uint(w, atomic_load(&l->spans_orphan_ends));
    jw_key(w, "partitions_sorted_by_begin");
    jw_uint(w, atomic_load(&l->spans_resorted));
    jw_obj_end(w);
    jw_key(w, "scans");
    jw_obj_begin(w);
    jw_key(w, "count");
    jw_uint(w, atomic_load(&l->scans));
    jw_key(w, "rows");
    jw_uint(w, atomic_load(&l->scan_rows));
    jw_obj_end(w);
    jw_key(w, "background");
    jw_obj_begin(w);
    jw_key(w, "leader");
    jw_bool(w, atomic_load(&l->leader) != 0);
    jw_key(w, "shared_metadata");
    jw_bool(w, l->m->shared != 0);
    jw_obj_end(w);
    const char *rnames[] = {"runs", "blocks_deleted", "payload_bytes_deleted",
                            "payloads_deleted", "partitions_retired"};
    uint64_t rv[] = {atomic_load(&l->ret_runs), atomic_load(&l->ret_blocks),
                     atomic_load(&l->ret_bytes), atomic_load(&l->ret_payloads),
                     atomic_load(&l->ret_parts)};
    figures_json(w, "retention", rnames, rv, 5, "horizon_ns", atomic_load(&l->ret_horizon_ns));
    const char *mnames[] = {"runs", "instances", "partitions_built", "failed"};
    uint64_t mv[] = {atomic_load(&l->mat_runs), atomic_load(&l->mat_instances),
                     atomic_load(&l->mat_built), atomic_load(&l->mat_failed)};
    figures_json(w, "materializer", mnames, mv, 4, "since_ns", atomic_load(&l->mat_since_ns));
}
