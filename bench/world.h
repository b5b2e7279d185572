/*
 * world.h - a data directory holding one synthetic process, for benchmarks.
 *
 * Builds what the server would have stored after ingesting a program: a local
 * object store and SQLite metadata under /tmp, one process with `threads`
 * thread streams, each holding `events` span events (nested spans, depth up
 * to 6, 12 names, in zstd blocks of 32k events) and, optionally, async spans
 * that begin on one thread and end later on the same one.  Deterministic.
 */
#ifndef SL_BENCH_WORLD_H
#define SL_BENCH_WORLD_H

#include "meta/meta.h"
#include "objstore/objstore.h"

#include <stdint.h>

typedef struct world {
    char dir[64];
    objstore *os;
    meta *m;
    sl_uuid pid;
    char pid_s[UUID_STR_LEN];
    int nthreads;
    sl_uuid *sids;
    char (*sid_s)[UUID_STR_LEN];
    uint64_t events, spans, async_spans;
    uint64_t payload_bytes;
} world;

/* async_per_thread: async spans (begin + end events) mixed into each thread. */
void world_make(world *w, int nthreads, uint64_t events_per_thread, uint64_t async_per_thread);
/* Drops every lake partition (files and rows): the next read is cold again. */
void world_reset_lake(world *w);
/* Closes the stores (keeps the directory). */
void world_close_stores(world *w);
void world_reopen_stores(world *w);
/* Closes and removes everything. */
void world_free(world *w);
void world_die(const char *what, const errmsg *e);

#endif
