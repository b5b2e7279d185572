/*
 * world.c - a synthetic ingested process for benchmarks (see world.h).
 */
#include "world.h"

#include "wire/wire.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char *g_names[] = {"update", "physics", "collide", "solve", "integrate",
                                "render", "cull", "draw", "sort", "upload", "present", "wait"};

void world_die(const char *what, const errmsg *e)
{
    fprintf(stderr, "bench: %s: %s\n", what, e ? errmsg_str(e) : "");
    exit(1);
}

static void seal(world *w, int t, wire_pb *pb, uint64_t *offset, dbuf *out)
{
    errmsg e;
    sl_uuid bid;
    uuid_v4(&bid);
    dbuf_reset(out);
    wire_pb_finish(pb, WIRE_CODEC_ZSTD, &bid, &w->sids[t], &w->pid, wire_pb_min_ticks(pb),
                   wire_pb_max_ticks(pb), out);
    char key[200], bs[UUID_STR_LEN];
    uuid_format(&bid, bs);
    snprintf(key, sizeof key, "blobs/%s/%s/%s", w->pid_s, w->sid_s[t], bs);
    if (objstore_put(w->os, key, out->p, out->len, OBJSTORE_PUT_ONCE, &e))
        world_die("put", &e);
    meta_block mb = {.block_id = bid, .stream_id = w->sids[t], .process_id = w->pid,
                     .begin_ticks = wire_pb_min_ticks(pb), .end_ticks = wire_pb_max_ticks(pb),
                     .nb_objects = wire_pb_count(pb), .object_offset = *offset,
                     .payload_size = out->len, .content_hash = 1};
    if (meta_block_insert(w->m, &mb, NULL, &e))
        world_die("block", &e);
    *offset += wire_pb_count(pb);
    w->payload_bytes += out->len;
    wire_pb_reset(pb);
}

static void fill_stream(world *w, int t, uint64_t events, uint64_t asyncs)
{
    wire_pb *pb;
    if (wire_pb_new(8u << 20, &pb))
        world_die("wire_pb_new", NULL);
    int64_t tick = 1000;
    uint64_t offset = 0, made = 0, async_made = 0, async_open = 0, next_id = (uint64_t)t << 32;
    int depth = 0, stack[8];
    uint64_t seed = (uint64_t)t * 7919 + 1;
    uint64_t every = asyncs ? events / (asyncs + 1) : 0;
    dbuf out;
    dbuf_init(&out, 64u << 20);
    while (made < events) {
        wire_event ev = {.ticks = tick += 50 + (int64_t)(seed % 200)};
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        if (every && made % every == every / 2 && async_made < asyncs) {
            /* An async span: begins now, ends a few spans later (open two at a time). */
            wire_pb_desc(pb, 100, WIRE_DESC_SPAN, 0, "request", "bench.io", "src/io.c", 7, NULL,
                         &ev.desc);
            ev.type = async_open ? WIRE_EV_ASYNC_END : WIRE_EV_ASYNC_BEGIN;
            ev.span_id = async_open ? async_open : ++next_id;
            if (async_open) {
                async_open = 0;
                async_made++;
            } else {
                async_open = ev.span_id;
            }
            wire_pb_event(pb, &ev);
            continue;
        }
        int open = depth == 0 || (depth < 6 && (seed >> 33) % 3 != 0);
        if (made + depth >= events)
            open = 0;
        int name = open ? (int)((seed >> 40) % 12) : stack[depth - 1];
        wire_pb_desc(pb, (uint64_t)name + 1, WIRE_DESC_SPAN, 0, g_names[name], "bench.sim",
                     "src/sim.c", 100 + (uint32_t)name, NULL, &ev.desc);
        ev.type = open ? WIRE_EV_SPAN_BEGIN : WIRE_EV_SPAN_END;
        if (open)
            stack[depth++] = name;
        else
            depth--;
        wire_pb_event(pb, &ev);
        made++;
        if (wire_pb_count(pb) >= 32768 || made == events)
            seal(w, t, pb, &offset, &out);
    }
    if (wire_pb_count(pb))
        seal(w, t, pb, &offset, &out);
    w->events += made + 2 * async_made;
    w->spans += made / 2;
    w->async_spans += async_made;
    dbuf_free(&out);
    wire_pb_free(pb);
}

void world_reopen_stores(world *w)
{
    errmsg e;
    char path[128];
    snprintf(path, sizeof path, "%s/meta.sqlite", w->dir);
    if (objstore_local_open(w->dir, &w->os, &e) || meta_sqlite_open(path, NULL, &w->m, &e))
        world_die("open stores", &e);
}

void world_close_stores(world *w)
{
    meta_close(w->m);
    objstore_close(w->os);
    w->m = NULL;
    w->os = NULL;
}

void world_make(world *w, int nthreads, uint64_t per_thread, uint64_t async_per_thread)
{
    snprintf(w->dir, sizeof w->dir, "/tmp/sl-bench-%d", (int)getpid());
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", w->dir, w->dir);
    if (system(cmd))
        world_die("mkdir", NULL);
    world_reopen_stores(w);
    errmsg e;
    uuid_v4(&w->pid);
    uuid_format(&w->pid, w->pid_s);
    meta_process p = {.process_id = w->pid, .exe = "/bin/bench", .username = "u", .realname = "",
                      .computer = "c", .distro = "", .cpu_brand = "",
                      .tsc_frequency = 2600000000ull, .start_time_ns = 1700000000000000000ll,
                      .properties_json = "{\"pid\":\"4242\"}", .content_hash = 1};
    if (meta_process_insert(w->m, &p, NULL, &e))
        world_die("process", &e);
    w->nthreads = nthreads;
    w->sids = calloc((size_t)nthreads, sizeof *w->sids);
    w->sid_s = calloc((size_t)nthreads, sizeof *w->sid_s);
    for (int t = 0; t < nthreads; t++) {
        uuid_v4(&w->sids[t]);
        uuid_format(&w->sids[t], w->sid_s[t]);
        char props[80];
        snprintf(props, sizeof props, "{\"thread-id\":\"%d\",\"thread-name\":\"worker-%02d\"}",
                 1000 + t, t);
        meta_stream s = {.stream_id = w->sids[t], .process_id = w->pid, .tags_json = "[\"cpu\"]",
                         .properties_json = props, .content_hash = 2};
        if (meta_stream_insert(w->m, &s, NULL, &e))
            world_die("stream", &e);
        fill_stream(w, t, per_thread, async_per_thread);
    }
}

static int drop_object(void *arg, const char *key, const objstore_stat *st)
{
    (void)st;
    errmsg e;
    return objstore_delete(arg, key, &e) ? 1 : 0;
}

void world_reset_lake(world *w)
{
    errmsg e;
    if (objstore_list(w->os, "views/", drop_object, w->os, &e))
        world_die("reset files", &e);
    char path[128];
    snprintf(path, sizeof path, "%s/meta.sqlite", w->dir);
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db, "DELETE FROM lakehouse_partitions", NULL, NULL, NULL) != SQLITE_OK)
        world_die("reset rows", NULL);
    sqlite3_close(db);
}

void world_free(world *w)
{
    world_close_stores(w);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", w->dir);
    if (system(cmd))
        fprintf(stderr, "bench: cannot remove %s\n", w->dir);
    free(w->sids);
    free(w->sid_s);
}
