/*
 * build_common.c - pieces every view builder uses: the process clock, the walk
 * over the blocks' payloads, call-site hashes, string dictionaries, growable
 * columns, and the table of builders.
 */
#include "lake/build.h"

#include "base/hash.h"
#include "base/u64map.h"

#include <string.h>

void lake_proc_init_clock(lake_proc *p)
{
    /* ns per tick = 1e9 / f, in 32.32 fixed point: exact to 2^-32 ns per tick. */
    p->ns_per_tick_q32 = (uint64_t)(((__int128)1000000000 << 32) / (__int128)p->tsc_frequency);
}

void lake_build_out_init(lake_build_out *o)
{
    memset(o, 0, sizeof *o);
    o->min_event_ns = INT64_MAX;
    o->max_event_ns = INT64_MIN;
    dbuf_init(&o->state, 64u << 20); /* open spans: up to MAX_OPEN of them */
}

void lake_build_out_free(lake_build_out *o)
{
    col_batch_release(o->batch);
    o->batch = NULL;
    dbuf_free(&o->state);
}

lake_builder_fn lake_builder_of(lake_view_id v)
{
    switch (v) {
    case LAKE_THREAD_SPANS: return lake_build_thread_spans;
    case LAKE_ASYNC_EVENTS: return lake_build_async_events;
    case LAKE_LOG_ENTRIES: return lake_build_log_entries;
    case LAKE_MEASURES: return lake_build_measures;
    case LAKE_OTEL_SPANS: return lake_build_otel_spans;
    default: return NULL;
    }
}

int lake_build_each_block(const lake_src_block *blocks, size_t n, lake_block_fn fn, void *arg,
                          errmsg *e)
{
    dbuf scratch;
    dbuf_init(&scratch, WIRE_MAX_BODY);
    arena a;
    arena_init(&a, 1 << 16, 256u << 20);
    int rc = SL_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        arena_reset(&a);
        wire_payload pl;
        const uint8_t *payload = blocks[i].payload;
        size_t len = blocks[i].payload_len;
        if (blocks[i].feed)
            rc = blocks[i].feed->wait(blocks[i].feed->arg, i, &payload, &len, e);
        if (!rc)
            rc = wire_payload_open(payload, len, &scratch, &a, &pl, e);
        if (!rc)
            rc = fn(arg, &blocks[i], &pl, &a, e);
        if (rc) {
            char id[UUID_STR_LEN];
            uuid_format(&blocks[i].block_id, id);
            errmsg tmp = *e;
            errmsg_set(e, rc, "block %s: %s", id, tmp.text);
        }
    }
    arena_destroy(&a);
    dbuf_free(&scratch);
    return rc;
}

uint32_t lake_site_hash(const char *name, size_t nl, const char *target, size_t tl,
                        const char *file, size_t fl, uint32_t line)
{
    uint64_t h = hash64(name, nl) ^ hash_u64(hash64(target, tl)) ^
                 hash_u64(hash64(file, fl) + line);
    return (uint32_t)(h ^ (h >> 32));
}

int lake_dictb_init(lake_dictb *d, size_t max_bytes)
{
    u64map_init(&d->map);
    d->max_bytes = max_bytes;
    d->dict = col_dict_new();
    return d->dict ? SL_OK : SL_ENOMEM;
}

void lake_dictb_free(lake_dictb *d)
{
    u64map_free(&d->map);
    col_dict_unref(d->dict);
    d->dict = NULL;
}

int lake_dictb_key(lake_dictb *d, const char *s, size_t len, uint32_t *key)
{
    uint64_t h = hash64(s, len);
    size_t pos = (size_t)-1;
    uint32_t cand;
    col_vec *strs = &d->dict->strings;
    while (u64map_find_next(&d->map, h, &pos, &cand)) {
        size_t l;
        const uint8_t *p = col_vec_str(strs, cand, &l);
        if (l == len && memcmp(p, s, len) == 0) {
            *key = cand;
            return SL_OK;
        }
    }
    if ((strs->data ? strs->data->len_bytes : 0) + len > d->max_bytes || strs->len >= UINT32_MAX)
        return SL_ETOOBIG;
    int rc = col_vec_append_str(strs, s, len);
    if (!rc)
        rc = u64map_put_multi(&d->map, h, (uint32_t)(strs->len - 1));
    if (rc)
        return rc;
    *key = (uint32_t)(strs->len - 1);
    return SL_OK;
}

int lake_colb_init(lake_colb *c, size_t width, int64_t cap_rows)
{
    c->width = width;
    c->n = 0;
    /* Every row is written before it is read: no need to zero the memory. */
    c->buf = col_buf_new_uninit(width * (size_t)(cap_rows > 0 ? cap_rows : 1024));
    return c->buf ? SL_OK : SL_ENOMEM;
}

void lake_colb_free(lake_colb *c)
{
    col_buf_unref(c->buf);
    c->buf = NULL;
    c->n = 0;
}

static void move_to_vec(lake_colb *c, col_vec *v, col_type t, uint8_t key_bytes)
{
    col_vec_release(v);
    col_vec_init(v, t, key_bytes);
    c->buf->len_bytes = (size_t)c->n * c->width;
    v->values = c->buf;
    v->len = c->n;
    c->buf = NULL;
    c->n = 0;
}

void lake_colb_to_vec(lake_colb *c, col_vec *v, col_type t)
{
    move_to_vec(c, v, t, 0);
}

void lake_colb_to_dict_vec(lake_colb *c, col_vec *v, lake_dictb *d)
{
    move_to_vec(c, v, COL_DICT, 4);
    col_vec_set_dict(v, d->dict);
}
