/*
 * jit.c - just-in-time partitions: which ones a request needs, and building them.
 *
 * Plan.  An instance's source blocks, sorted by insert time, are cut into
 * partitions at the existing partitions' begin_insert_time boundaries; past
 * the last boundary, a partition takes blocks until it holds max_events
 * source events, then a new one begins at the next block.  Each planned
 * partition gets a source token: XXH3 of the view's schema version, its
 * begin, its blocks' ids and event counts and, for thread_spans, the previous
 * partition's token (its rows depend on the spans carried in).  A planned
 * partition whose token equals its existing row's is current.
 *
 * Build.  Partitions of one instance are handled in order (thread_spans needs
 * the previous partition's state).  A stale or missing one is built under the
 * lock of its key (view, instance, begin): this process's lock, then the
 * metadata store's (a PostgreSQL advisory lock when servers share the store),
 * both taken before the file is written: after getting them the builder
 * reads the metadata again, and if another request committed the same token
 * meanwhile it reuses that partition.  Otherwise it fetches the payloads,
 * runs the view's builder, writes the Parquet file to the object store
 * (atomic put), then records the row (retiring the old one) in one
 * transaction.  A crash between the put and the row leaves an unreferenced
 * file for the janitor; never a row without its file.  For a reader that reads
 * at once over a store that cannot map (a trace over S3), the put and the row
 * are handed with the locks to the background committers once the file is
 * written and kept in the file cache (commit.c: same order, same locks).
 */
#define SL_TARGET "streamlake.lake"
#include "lake/lake_int.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/pool.h"
#include "streamlake/trace.h"
#include "wire/wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

typedef struct plan_entry {
    int64_t begin;           /* begin_insert_time */
    int64_t end;             /* last block's insert time + 1 */
    size_t first, n;         /* blocks [first, first + n) of the instance list */
    uint64_t events;
    uint64_t token;
    const meta_partition *cur; /* the existing row with this begin, or NULL */
} plan_entry;

typedef struct plan {
    plan_entry *e;
    size_t n, cap;
} plan;

static plan_entry *plan_add(plan *p, int64_t begin, size_t first, const meta_partition *cur)
{
    if (p->n == p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : 8;
        plan_entry *n = sl_realloc(p->e, sizeof *n * ncap);
        if (!n)
            return NULL;
        p->e = n;
        p->cap = ncap;
    }
    plan_entry *pe = &p->e[p->n++];
    memset(pe, 0, sizeof *pe);
    pe->begin = begin;
    pe->first = first;
    pe->cur = cur;
    return pe;
}

/* Cuts the blocks into partitions (see the essay); empty entries are dropped. */
static int make_plan(const meta_block *blocks, size_t nb, const lake_parts *parts,
                     uint64_t max_events, plan *out)
{
    size_t pi = 0;
    plan_entry *cur = NULL;
    for (size_t i = 0; i < nb; i++) {
        const meta_block *b = &blocks[i];
        int started = 0;
        while (pi < parts->n && b->insert_time_ns >= parts->p[pi].begin_insert_time_ns) {
            if (!(cur = plan_add(out, parts->p[pi].begin_insert_time_ns, i, &parts->p[pi])))
                return SL_ENOMEM;
            pi++;
            started = 1;
        }
        if (!started && (!cur || (pi == parts->n && cur->events >= max_events)))
            if (!(cur = plan_add(out, b->insert_time_ns, i, NULL)))
                return SL_ENOMEM;
        cur->n++;
        cur->events += b->nb_objects;
        cur->end = b->insert_time_ns + 1;
    }
    size_t k = 0;
    for (size_t i = 0; i < out->n; i++)
        if (out->e[i].n)
            out->e[k++] = out->e[i];
    out->n = k;
    return SL_OK;
}

static uint64_t entry_token(const lake_view_def *vd, const plan_entry *pe,
                            const meta_block *blocks, uint64_t prev_token)
{
    XXH3_state_t st; /* on the stack: XXH3_createState would malloc per partition */
    XXH3_64bits_reset(&st);
    uint64_t head[3] = {vd->schema_version, (uint64_t)pe->begin,
                        vd->id == LAKE_THREAD_SPANS ? prev_token : 0};
    XXH3_64bits_update(&st, head, sizeof head);
    for (size_t i = pe->first; i < pe->first + pe->n; i++) {
        XXH3_64bits_update(&st, blocks[i].block_id.b, 16);
        XXH3_64bits_update(&st, &blocks[i].nb_objects, sizeof blocks[i].nb_objects);
    }
    return XXH3_64bits_digest(&st);
}

static uint64_t partition_key(const lake_view_def *vd, const char *instance, int64_t begin)
{
    char k[160];
    int n = snprintf(k, sizeof k, "%s/%s/%lld", vd->name, instance, (long long)begin);
    return hash64(k, (size_t)n);
}

/* ------------------------------------------------------------ build */

/* The current row of (view, instance, begin) straight from the metadata store. */
typedef struct fresh_row {
    int64_t begin;
    int found;
    uint64_t token;
    uint32_t schema_version;
    dbuf state;
} fresh_row;

static int take_fresh(void *arg, const meta_partition *p)
{
    fresh_row *f = arg;
    if (p->begin_insert_time_ns != f->begin)
        return 0;
    f->found = 1;
    f->token = p->source_token;
    f->schema_version = p->schema_version;
    dbuf_reset(&f->state);
    return dbuf_append(&f->state, p->state, p->state_len);
}

/* "blobs/{process}/{stream}/{block}": three UUIDs and their separators */
#define LAKE_BLOB_KEY 128

/* A build's source blocks: their keys, the payloads read for them and what builders read. */
typedef struct build_src {
    char (*keys)[LAKE_BLOB_KEY];
    const char **kp;
    lake_payload *pls;
    lake_src_block *src;
    lake_payload_feed *feed; /* payloads still arriving (S3), or NULL */
    size_t n;
} build_src;

/*
 * Starts reading the payloads of the partition's blocks (keys first, then one
 * batch: a store across a network overlaps the GETs, and over S3 the builder
 * decodes the first blocks while the next ones arrive).
 */
static int src_start(lake *l, const lake_proc *proc, const meta_block *blocks,
                     const plan_entry *pe, build_src *s, errmsg *e)
{
    size_t n = pe->n ? pe->n : 1;
    s->n = pe->n;
    s->keys = sl_calloc(n, sizeof *s->keys);
    s->kp = sl_calloc(n, sizeof *s->kp);
    s->pls = sl_calloc(n, sizeof *s->pls);
    s->src = sl_calloc(n, sizeof *s->src);
    if (!s->keys || !s->kp || !s->pls || !s->src)
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    for (size_t i = 0; i < pe->n; i++) {
        const meta_block *b = &blocks[pe->first + i];
        char bid[UUID_STR_LEN], sid[UUID_STR_LEN];
        uuid_format(&b->block_id, bid);
        uuid_format(&b->stream_id, sid);
        snprintf(s->keys[i], sizeof s->keys[i], "blobs/%s/%s/%s", proc->process_id_str, sid,
                 bid);
        s->kp[i] = s->keys[i];
    }
    int rc = lake_payloads_start(l, s->kp, pe->n, s->pls, &s->feed, e);
    if (rc)
        return rc;
    const lake_src_feed *feed = s->feed ? lake_payloads_feed_src(s->feed) : NULL;
    for (size_t i = 0; i < pe->n; i++) {
        const meta_block *b = &blocks[pe->first + i];
        s->src[i] = (lake_src_block){.block_id = b->block_id, .stream_id = b->stream_id,
                                     .insert_time_ns = b->insert_time_ns,
                                     .object_offset = b->object_offset,
                                     .nb_objects = b->nb_objects,
                                     .payload = feed ? NULL : s->pls[i].p,
                                     .payload_len = feed ? 0 : s->pls[i].len, .feed = feed};
    }
    return SL_OK;
}

/*
 * Waits for reads still running (after a failed build too), then frees everything;
 * *waited_ns: the builder's time waiting for payloads still arriving.
 */
static int src_end(lake *l, build_src *s, int64_t *waited_ns, errmsg *e)
{
    int rc = lake_payloads_finish(s->feed, waited_ns, e);
    s->feed = NULL;
    lake_payloads_release(l, s->pls, s->pls ? s->n : 0);
    sl_free(s->pls);
    sl_free(s->src);
    sl_free(s->kp);
    sl_free(s->keys);
    memset(s, 0, sizeof *s);
    return rc;
}

/* Writes the batch as Parquet into out with the lake's options and metadata. */
static int write_parquet(const lake_view_def *vd, const char *instance, const col_batch *b,
                         dbuf *out, errmsg *e)
{
    pq_write_opts o;
    pq_write_opts_default(&o);
    /* DuckDB reads isAdjustedToUTC nanoseconds as microseconds; keep nanoseconds exact. */
    o.ts_utc = false;
    o.row_group_rows = 131072; /* finer pruning of time ranges */
    /* times are sorted (begin, time) or nearly (end): delta-packed they take a few bits
     * a value, and every scan and trace decodes them faster */
    static const char *const delta[] = {"begin", "end", "time", "insert_time"};
    o.delta_columns = delta;
    o.ndelta_columns = 4;
    pq_sink sink;
    pq_sink_dbuf(&sink, out);
    pq_writer *w;
    int rc = pq_writer_open(&sink, lake_view_schema(vd->id), &o, &w, e);
    if (rc)
        return rc;
    char ver[16];
    snprintf(ver, sizeof ver, "%u", vd->schema_version);
    if ((rc = pq_writer_set_kv(w, "streamlake.view", vd->name, e)) ||
        (rc = pq_writer_set_kv(w, "streamlake.instance", instance, e)) ||
        (rc = pq_writer_set_kv(w, "streamlake.schema_version", ver, e)) ||
        (b->nrows && (rc = pq_writer_add_batch(w, b, e)))) {
        pq_writer_free(w);
        return rc;
    }
    return pq_writer_close(w, NULL, e);
}

/* Makes a partition's state the one the next partition continues from. */
static int set_state(dbuf *to, const void *state, size_t len, errmsg *e)
{
    dbuf_reset(to);
    int rc = dbuf_append(to, state, len);
    return rc ? errmsg_set(e, rc, "partition state of %zu bytes: out of memory", len) : SL_OK;
}

typedef struct build_job {
    lake *l;
    const lake_view_def *vd;
    const char *instance;
    const lake_proc *proc;
    const meta_block *blocks;
    const plan_entry *pe;
    const void *prev_state;
    size_t prev_len;
    dbuf *state_out;         /* receives the new partition's state */
    const sl_async_span *lookup; /* the request's lookup span (serve records itself) */
    int defer;               /* may hand the upload and row to the committers */
    uint64_t key;            /* the partition's lock key ... */
    void *hold;              /* ... and the store's lock, both held by ensure_partition */
    int handed;              /* set: the committers have the locks now (commit.c) */
} build_job;

static int build_partition(build_job *j, errmsg *e)
{
    lake *l = j->l;
    sl_async_span sp = SL_ASYNC_BEGIN("lake.jit_build", j->lookup);
    int64_t t0 = clock_mono_ns();
    build_src bs = {0};
    lake_build_out out;
    lake_build_out_init(&out);
    dbuf file;
    dbuf_init(&file, (size_t)4 << 30);
    int rc = src_start(l, j->proc, j->blocks, j->pe, &bs, e);
    int64_t t1 = clock_mono_ns(), waited = 0;
    if (!rc)
        rc = lake_builder_of(j->vd->id)(j->proc, bs.src, j->pe->n, j->prev_state, j->prev_len,
                                        &out, e);
    int64_t t2 = clock_mono_ns();
    /* the payloads go before the file is written: the build has read them all */
    int rc2 = src_end(l, &bs, &waited, rc ? NULL : e);
    if (!rc)
        rc = rc2;
    if (!rc)
        rc = write_parquet(j->vd, j->instance, out.batch, &file, e);
    int64_t t3 = clock_mono_ns();
    char path[256];
    uint64_t rnd = 0;
    if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
        rnd = (uint64_t)clock_mono_ns();
    snprintf(path, sizeof path, "views/%s/%s/%lld-%016llx-%016llx.parquet", j->vd->name,
             j->instance, (long long)j->pe->begin, (unsigned long long)j->pe->token,
             (unsigned long long)rnd);
    meta_partition row = {
        .view_set_name = j->vd->name, .view_instance_id = j->instance,
        .begin_insert_time_ns = j->pe->begin, .end_insert_time_ns = j->pe->end,
        .min_event_time_ns = !rc && out.batch->nrows ? out.min_event_ns : 0,
        .max_event_time_ns = !rc && out.batch->nrows ? out.max_event_ns : 0,
        .file_path = path, .file_size = file.len, .schema_version = j->vd->schema_version,
        .source_token = j->pe->token, .row_count = rc ? 0 : (uint64_t)out.batch->nrows,
        .event_count = out.events, .state = out.state.p, .state_len = out.state.len};
    const uint8_t *fp = file.p;
    lcache_entry *kept = NULL;
    /* A reader waits: the file goes into the cache for it, and the upload and the
     * row to the committers with the locks (commit.c), unless they are full. */
    if (!rc && j->defer && (l->trace_overlap & LAKE_OVERLAP_DEFER) &&
        (kept = lake_file_keep_ref(l, path, &file))) {
        fp = ((const lake_bytes *)kept->val)->p;
        if (lake_commit_defer(l, j->vd->id, j->key, j->hold, &row, kept) == SL_OK) {
            j->handed = 1;
            kept = NULL;
        }
    }
    if (!rc && !j->handed)
        rc = objstore_put(l->os, path, fp, (size_t)row.file_size, OBJSTORE_PUT_NEW, e);
    int64_t t4 = clock_mono_ns();
    if (!rc && !j->handed) {
        lake_crash_point("after_put");
        rc = meta_partition_replace(l->m, &row, e);
        /* the reader of this build (the trace, the query) finds the file in the cache,
         * not behind ranged GETs of what this server has just uploaded */
        if (!rc && !kept)
            lake_file_keep(l, path, &file);
    }
    if (kept)
        lcache_release(&l->bytes, kept);
    if (!rc)
        rc = set_state(j->state_out, out.state.p, out.state.len, e);
    if (!rc) {
        atomic_fetch_add(&l->phase_wait_ns, (uint64_t)(t1 - t0 + waited));
        atomic_fetch_add(&l->phase_decode_ns, (uint64_t)(t2 - t1 - waited));
        atomic_fetch_add(&l->phase_write_ns, (uint64_t)(t3 - t2));
        if (!j->handed) { /* else the committer counts them */
            atomic_fetch_add(&l->phase_put_ns, (uint64_t)(t4 - t3));
            atomic_fetch_add(&l->phase_commit_ns, (uint64_t)(clock_mono_ns() - t4));
        }
        atomic_fetch_add(&l->builds, 1);
        atomic_fetch_add(&l->build_events, out.events);
        atomic_fetch_add(&l->build_ns, (uint64_t)(clock_mono_ns() - t0));
        atomic_fetch_add(&l->spans_unclosed, out.unclosed);
        atomic_fetch_add(&l->spans_orphan_ends, out.orphan_ends);
        atomic_fetch_add(&l->spans_resorted, out.resorted);
        if (out.resorted)
            log_info("lake", "%s %s: blocks overlap in time; rows sorted by begin",
                     j->vd->name, j->instance);
        if (out.unclosed || out.orphan_ends)
            log_info("lake", "%s %s: %llu spans closed by their parent's end, %llu ends "
                     "without a begin", j->vd->name, j->instance,
                     (unsigned long long)out.unclosed, (unsigned long long)out.orphan_ends);
    }
    lake_build_out_free(&out);
    dbuf_free(&file);
    sl_async_end(&sp);
    return rc;
}

/*
 * Makes one planned partition current: reuses it if its token matches (now, or
 * after waiting for another builder), else builds it.  *state gets its state.
 */
static int ensure_partition(build_job *j, lake_mat_stats *st, errmsg *e)
{
    const plan_entry *pe = j->pe;
    if (pe->cur && pe->cur->source_token == pe->token &&
        pe->cur->schema_version == j->vd->schema_version)
        return set_state(j->state_out, pe->cur->state, pe->cur->state_len, e);
    uint64_t key = partition_key(j->vd, j->instance, pe->begin);
    lake_commit_urge(j->l, key); /* a held commit of it goes now (commit.c) */
    int rc = lake_key_lock(j->l, key);
    if (rc)
        return errmsg_set(e, rc, "out of memory");
    void *hold = NULL;
    if ((rc = meta_partition_lock(j->l->m, key, &hold, e))) {
        lake_key_unlock(j->l, key);
        return rc;
    }
    fresh_row f = {.begin = pe->begin};
    dbuf_init(&f.state, 64u << 20); /* as lake_build_out's state */
    rc = meta_partitions_list(j->l->m, j->vd->name, j->instance, take_fresh, &f, e);
    if (!rc && f.found && f.token == pe->token && f.schema_version == j->vd->schema_version) {
        /* Another request built it while we waited for the lock. */
        rc = set_state(j->state_out, f.state.p, f.state.len, e);
        atomic_fetch_add(&j->l->reused, 1);
        if (st)
            st->reused++;
    } else if (!rc) {
        j->key = key;
        j->hold = hold;
        rc = build_partition(j, e);
        if (!rc && st) {
            st->built++;
            st->source_events += pe->events;
        }
    }
    dbuf_free(&f.state);
    if (!j->handed) { /* else released by the committer after the row */
        meta_partition_unlock(j->l->m, key, hold);
        lake_key_unlock(j->l, key);
    }
    return rc;
}

/* The instance's source blocks: a stream's, or those of a process's streams with a tag. */
static int instance_blocks(lake *l, const lake_view_def *vd, const char *instance,
                           const lake_process *proc, meta_block **out, size_t *n_out, errmsg *e)
{
    size_t n = 0, cap = 0;
    meta_block *all = NULL;
    int rc = SL_OK;
    for (size_t i = 0; i < proc->n_streams && !rc; i++) {
        const lake_stream_info *s = &proc->streams[i];
        int want = vd->instance == LAKE_INSTANCE_STREAM ? !strcmp(s->stream_id_str, instance)
                   : !strcmp(vd->stream_tag, "cpu")   ? s->is_cpu
                   : !strcmp(vd->stream_tag, "log")   ? s->is_log
                   : !strcmp(vd->stream_tag, "otel_spans") ? s->is_otel_spans
                                                      : s->is_metrics;
        if (!want)
            continue;
        lcache_entry *en;
        if ((rc = lake_blocks_get(l, &s->stream_id, &en, e)))
            break;
        const lake_blocks *bl = en->val;
        if (n + bl->n > cap) {
            cap = (n + bl->n) * 2;
            meta_block *nb = sl_realloc(all, sizeof *nb * cap);
            if (!nb)
                rc = errmsg_set(e, SL_ENOMEM, "out of memory");
            else
                all = nb;
        }
        if (!rc && bl->n) { /* no blocks yet, or all expired: none to copy (b is NULL) */
            memcpy(all + n, bl->b, bl->n * sizeof *bl->b);
            n += bl->n;
        }
        lcache_release(&l->blocks, en);
    }
    if (rc) {
        sl_free(all);
        return rc;
    }
    *out = all;
    *n_out = n;
    return SL_OK;
}

static int cmp_insert(const void *a, const void *b)
{
    const meta_block *x = a, *y = b;
    if (x->insert_time_ns != y->insert_time_ns)
        return x->insert_time_ns < y->insert_time_ns ? -1 : 1;
    int c = memcmp(x->stream_id.b, y->stream_id.b, 16);
    if (c)
        return c;
    return x->object_offset < y->object_offset ? -1 : x->object_offset > y->object_offset;
}

static void mat_stats_add(lake_mat_stats *to, const lake_mat_stats *from)
{
    if (!to)
        return;
    to->partitions += from->partitions;
    to->built += from->built;
    to->reused += from->reused;
    to->source_events += from->source_events;
    to->build_ms += from->build_ms;
    to->failed += from->failed;
}

int lake_jit_instance(lake *l, lake_view_id v, const char *instance, const lake_process *proc,
                      int defer, lake_mat_stats *st, errmsg *e)
{
    const lake_view_def *vd = lake_view_get(v);
    meta_block *blocks = NULL;
    size_t nb = 0;
    sl_async_span sp = SL_ASYNC_BEGIN("lake.partition_lookup", NULL);
    int rc = instance_blocks(l, vd, instance, proc, &blocks, &nb, e);
    if (rc) {
        sl_async_end(&sp);
        return rc;
    }
    if (nb > 1 && vd->instance == LAKE_INSTANCE_PROCESS)
        qsort(blocks, nb, sizeof *blocks, cmp_insert);
    lcache_entry *pen = NULL;
    plan pl = {0};
    /*
     * Event views keep a small share of the events they read (async spans among a
     * thread's spans, every log of a log stream is a row but logs are few): their
     * partitions cover 8 times as many source events, so a process's event views
     * have few partitions to merge.
     */
    uint64_t max_events = l->o.max_partition_events * (v == LAKE_THREAD_SPANS ? 1 : 8);
    if (!(rc = lake_parts_get(l, v, instance, &pen, e)) &&
        (rc = make_plan(blocks, nb, pen->val, max_events, &pl)))
        errmsg_set(e, rc, "out of memory");
    dbuf state;
    dbuf_init(&state, 64u << 20); /* as lake_build_out's state */
    uint64_t prev_token = 0;
    int64_t t0 = clock_mono_ns();
    lake_mat_stats local = {0};
    for (size_t i = 0; !rc && i < pl.n; i++) {
        plan_entry *pe = &pl.e[i];
        pe->token = entry_token(vd, pe, blocks, prev_token);
        prev_token = pe->token;
        /* The previous partition's state is read by the build before it is replaced. */
        build_job j = {.l = l, .vd = vd, .instance = instance, .proc = &proc->proc,
                       .blocks = blocks, .pe = pe, .prev_state = state.p,
                       .prev_len = state.len, .state_out = &state, .lookup = &sp,
                       .defer = defer};
        rc = ensure_partition(&j, &local, e);
    }
    if (pen)
        lcache_release(&l->parts, pen);
    /* A build (ours or one we waited for) changed the partition index: read it again. */
    if (local.built || local.reused)
        lake_parts_forget(l, v, instance);
    local.partitions = pl.n;
    local.build_ms = (double)(clock_mono_ns() - t0) / 1e6;
    mat_stats_add(st, &local);
    dbuf_free(&state);
    sl_free(pl.e);
    sl_free(blocks);
    sl_async_end(&sp);
    return rc;
}

/* ------------------------------------------------------------ entry points */

int lake_instance_process(lake *l, const lake_view_def *vd, const char *instance,
                          const lake_process **proc, errmsg *e)
{
    sl_uuid id, pid;
    if (uuid_parse(instance, &id))
        return errmsg_set(e, SL_EINVAL, "%s: instance '%s' is not a %s id", vd->name, instance,
                          vd->instance == LAKE_INSTANCE_STREAM ? "stream" : "process");
    int rc = SL_OK;
    if (vd->instance == LAKE_INSTANCE_STREAM)
        rc = lake_stream_process(l, &id, &pid, e);
    else
        pid = id;
    return rc ? rc : lake_process_get(l, &pid, proc, e);
}

static int materialize(lake *l, lake_view_id v, const char *instance, int defer,
                       lake_mat_stats *st, errmsg *e)
{
    const lake_view_def *vd = lake_view_get(v);
    if (!vd || !vd->partitioned)
        return errmsg_set(e, SL_EINVAL, "view %s is read from the metadata, not materialized",
                          vd ? vd->name : "?");
    char canon[LAKE_INSTANCE_MAX];
    if (lake_instance_canon(vd, instance, canon, e))
        return SL_EINVAL;
    const lake_process *proc;
    int rc = lake_instance_process(l, vd, canon, &proc, e);
    if (rc)
        return rc;
    rc = lake_jit_instance(l, v, canon, proc, defer, st, e);
    if (rc && e && !e->text[0])
        errmsg_set(e, rc, "%s %s: %s", vd->name, canon, sl_strerror(rc));
    lake_process_release(l, proc);
    return rc;
}

int lake_materialize(lake *l, lake_view_id v, const char *instance, lake_mat_stats *st,
                     errmsg *e)
{
    return materialize(l, v, instance, 0, st, e);
}

int lake_materialize_for_read(lake *l, lake_view_id v, const char *instance,
                              lake_mat_stats *st, errmsg *e)
{
    return materialize(l, v, instance, 1, st, e);
}

typedef struct mat_task {
    pool_task t;
    lake *l;
    lake_view_id v;
    char instance[UUID_STR_LEN];
    const lake_process *proc;
    lake_mat_stats st;
    errmsg e;
} mat_task;

static void run_mat(pool_task *t)
{
    mat_task *m = (mat_task *)t;
    errmsg_clear(&m->e);
    t->rc = lake_jit_instance(m->l, m->v, m->instance, m->proc, 0, &m->st, &m->e);
    if (t->rc && !m->e.text[0])
        errmsg_set(&m->e, t->rc, "%s", sl_strerror(t->rc)); /* never a failure without a reason */
}

int lake_materialize_process(lake *l, const sl_uuid *process_id, unsigned jobs,
                             lake_mat_stats *st, lake_failure_fn fail, void *fail_arg,
                             errmsg *e)
{
    if (!jobs)
        jobs = (unsigned)l->o.jobs;
    const lake_process *proc;
    int rc = lake_process_get(l, process_id, &proc, e);
    if (rc)
        return rc;
    /* One task per thread stream (thread_spans) and one per event view. */
    size_t n = 4;
    for (size_t i = 0; i < proc->n_streams; i++)
        n += proc->streams[i].is_cpu;
    mat_task *tasks = sl_calloc(n, sizeof *tasks);
    pool p;
    if (!tasks || pool_init(&p, jobs, 0, e)) {
        sl_free(tasks);
        lake_process_release(l, proc);
        return errmsg_set(e, SL_ENOMEM, "cannot start build workers");
    }
    size_t k = 0;
    for (size_t i = 0; i < proc->n_streams; i++) {
        if (!proc->streams[i].is_cpu)
            continue;
        tasks[k].v = LAKE_THREAD_SPANS;
        snprintf(tasks[k++].instance, UUID_STR_LEN, "%s", proc->streams[i].stream_id_str);
    }
    lake_view_id ev[4] = {LAKE_ASYNC_EVENTS, LAKE_LOG_ENTRIES, LAKE_MEASURES, LAKE_OTEL_SPANS};
    for (int i = 0; i < 4; i++) {
        tasks[k].v = ev[i];
        snprintf(tasks[k++].instance, UUID_STR_LEN, "%s", proc->proc.process_id_str);
    }
    /* Submit and collect in order: the pool bounds what is in flight. */
    size_t submitted = 0, collected = 0;
    while (collected < k) {
        while (submitted < k && pool_in_flight(&p) < (size_t)jobs * 2) {
            mat_task *m = &tasks[submitted++];
            m->t.run = run_mat;
            m->l = l;
            m->proc = proc;
            pool_submit(&p, &m->t);
        }
        pool_task *done;
        if (pool_next(&p, &done))
            break;
        mat_task *m = (mat_task *)done;
        collected++;
        if (done->rc && fail) {
            if (st)
                st->failed++;
            fail(fail_arg, process_id, lake_view_get(m->v)->name, m->instance, done->rc,
                 errmsg_str(&m->e));
        } else if (done->rc && !rc) {
            rc = errmsg_set(e, done->rc, "%s %s: %s", lake_view_get(m->v)->name, m->instance,
                            errmsg_str(&m->e));
        }
        mat_stats_add(st, &m->st);
    }
    pool_destroy(&p);
    sl_free(tasks);
    lake_process_release(l, proc);
    return rc;
}
