/*
 * metaview.c - the views read from the metadata store: processes, streams, blocks.
 *
 * They are small next to the telemetry, so they are not partitioned: a scan
 * lists the rows and returns them as one batch.  Instances:
 *   processes  "global", or a process id (that process alone: a keyed lookup)
 *   streams    "global", or a process id (that process's streams)
 *   blocks     a stream id or a process id (every stream of it), or "global"
 */
#include "lake/lake_int.h"

#include "base/alloc.h"

#include <string.h>

typedef struct mv {
    col_batch *b;
    int rc;
} mv;

static void put_uuid(mv *m, int c, const sl_uuid *u, int null_if_nil)
{
    char s[UUID_STR_LEN];
    if (null_if_nil && uuid_is_nil(u)) {
        if (!m->rc)
            m->rc = col_vec_append_null(&m->b->cols[c]);
        return;
    }
    uuid_format(u, s);
    if (!m->rc)
        m->rc = col_vec_append_str(&m->b->cols[c], s, 36);
}

static void put_text(mv *m, int c, const char *s)
{
    if (!m->rc)
        m->rc = col_vec_append_str(&m->b->cols[c], s ? s : "", s ? strlen(s) : 0);
}

static void put_i64(mv *m, int c, int64_t v)
{
    if (!m->rc)
        m->rc = col_vec_append_i64(&m->b->cols[c], v);
}

static int process_row(void *arg, const meta_process_summary *row)
{
    mv *m = arg;
    const meta_process *p = &row->p;
    put_uuid(m, 0, &p->process_id, 0);
    const char *texts[] = {p->exe, p->username, p->realname, p->computer, p->distro, p->cpu_brand};
    for (int i = 0; i < 6; i++)
        put_text(m, 1 + i, texts[i]);
    put_i64(m, 7, (int64_t)p->tsc_frequency);
    put_i64(m, 8, p->start_time_ns);
    put_i64(m, 9, (int64_t)p->start_ticks);
    put_uuid(m, 10, &p->parent_process_id, 1);
    put_text(m, 11, p->properties_json);
    put_i64(m, 12, p->insert_time_ns);
    m->b->nrows++;
    return m->rc;
}

static int stream_row(void *arg, const meta_stream_summary *row)
{
    mv *m = arg;
    put_uuid(m, 0, &row->s.stream_id, 0);
    put_uuid(m, 1, &row->s.process_id, 0);
    put_text(m, 2, row->s.tags_json);
    put_text(m, 3, row->s.properties_json);
    put_i64(m, 4, row->s.insert_time_ns);
    m->b->nrows++;
    return m->rc;
}

static int block_row(void *arg, const meta_block *b)
{
    mv *m = arg;
    put_uuid(m, 0, &b->block_id, 0);
    put_uuid(m, 1, &b->stream_id, 0);
    put_uuid(m, 2, &b->process_id, 0);
    int64_t v[] = {b->begin_time_ns, b->end_time_ns, b->begin_ticks, b->end_ticks,
                   (int64_t)b->nb_objects, (int64_t)b->object_offset, (int64_t)b->payload_size,
                   b->insert_time_ns};
    for (int i = 0; i < 8; i++)
        put_i64(m, 3 + i, v[i]);
    m->b->nrows++;
    return m->rc;
}

/* Streams of every process, or blocks of every stream of every process. */
typedef struct walk {
    lake *l;
    mv *m;
    int blocks;
    errmsg *e;
    sl_uuid *ids;
    size_t n, cap;
} walk;

static int collect_id(void *arg, const meta_process_summary *row)
{
    walk *w = arg;
    if (w->n == w->cap) {
        size_t ncap = w->cap ? w->cap * 2 : 64;
        sl_uuid *n = sl_realloc(w->ids, sizeof *n * ncap);
        if (!n)
            return SL_ENOMEM;
        w->ids = n;
        w->cap = ncap;
    }
    w->ids[w->n++] = row->p.process_id;
    return 0;
}

static int stream_then_blocks(void *arg, const meta_stream_summary *row)
{
    walk *w = arg;
    return meta_blocks_list(w->l->m, &row->s.stream_id, block_row, w->m, w->e);
}

static int for_process(walk *w, const sl_uuid *pid)
{
    if (w->blocks)
        return meta_streams_list(w->l->m, pid, stream_then_blocks, w, w->e);
    return meta_streams_list(w->l->m, pid, stream_row, w->m, w->e);
}

static int all_processes(walk *w)
{
    int rc = meta_processes_list(w->l->m, collect_id, w, w->e);
    for (size_t i = 0; !rc && i < w->n; i++)
        rc = for_process(w, &w->ids[i]);
    sl_free(w->ids);
    return rc;
}

int lake_meta_batch(lake *l, lake_view_id v, const char *instance, col_batch **out, errmsg *e)
{
    mv m = {NULL, 0};
    int rc = col_batch_new(col_schema_ref(lake_view_schema(v)), &m.b);
    col_schema_unref(lake_view_schema(v));
    if (rc)
        return errmsg_set(e, rc, "out of memory");
    int global = !strcmp(instance, "global");
    sl_uuid id;
    if (!global && uuid_parse(instance, &id)) {
        col_batch_release(m.b);
        return errmsg_set(e, SL_EINVAL, "%s: instance must be \"global\" or an id, not '%s'",
                          lake_view_get(v)->name, instance);
    }
    walk w = {l, &m, v == LAKE_BLOCKS, e, NULL, 0, 0};
    if (v == LAKE_PROCESSES) {
        rc = global ? meta_processes_list(l->m, process_row, &m, e)
                    : meta_process_find(l->m, &id, process_row, &m, e);
        if (rc == SL_ENOTFOUND) /* like streams of an unknown process: no rows */
            rc = SL_OK;
    } else if (global) {
        rc = all_processes(&w);
    } else if (v == LAKE_STREAMS) {
        rc = for_process(&w, &id);
    } else {
        /* blocks: a stream id, else a process id */
        meta_stream st;
        errmsg tmp;
        if (meta_stream_find(l->m, &id, &st, &tmp) == SL_OK)
            rc = meta_blocks_list(l->m, &id, block_row, &m, e);
        else
            rc = for_process(&w, &id);
    }
    if (!rc && m.rc)
        rc = errmsg_set(e, m.rc, "out of memory");
    if (rc) {
        col_batch_release(m.b);
        return rc;
    }
    *out = m.b;
    return SL_OK;
}
