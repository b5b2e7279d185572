/*
 * arena.c - bump allocator (see arena.h).
 *
 * Chunks form a singly linked list, newest first.  An allocation larger than a
 * quarter of the chunk size gets a chunk of its own so that big requests do not
 * waste the tail of the current chunk.
 */
#include "base/arena.h"

#include "base/alloc.h"
#include "base/err.h"

#include <string.h>

struct arena_chunk {
    arena_chunk *next;
    size_t size;
    size_t used;
    _Alignas(16) uint8_t data[];
};

struct arena_cleanup {
    arena_cleanup *next;
    void (*fn)(void *);
    void *arg;
};

void arena_init(arena *a, size_t chunk_bytes, size_t max_bytes)
{
    a->head = NULL;
    a->cleanups = NULL;
    a->used_bytes = 0;
    a->max_bytes = max_bytes ? max_bytes : SIZE_MAX;
    a->chunk_bytes = chunk_bytes ? chunk_bytes : 64 * 1024;
}

static arena_chunk *new_chunk(arena *a, size_t size)
{
    size_t total = sizeof(arena_chunk) + size;
    if (total > a->max_bytes - a->used_bytes)
        return NULL;
    arena_chunk *c = sl_malloc(total);
    if (!c)
        return NULL;
    c->size = size;
    c->used = 0;
    a->used_bytes += total;
    return c;
}

void *arena_alloc(arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    arena_chunk *c = a->head;
    if (c && c->size - c->used >= n) {
        void *p = c->data + c->used;
        c->used += n;
        return p;
    }
    if (n > a->chunk_bytes / 4) {
        arena_chunk *big = new_chunk(a, n);
        if (!big)
            return NULL;
        big->used = n;
        /* Keep the current chunk at the head: it may still have room. */
        if (c) {
            big->next = c->next;
            c->next = big;
        } else {
            big->next = NULL;
            a->head = big;
        }
        return big->data;
    }
    arena_chunk *nc = new_chunk(a, a->chunk_bytes);
    if (!nc)
        return NULL;
    nc->next = c;
    a->head = nc;
    nc->used = n;
    return nc->data;
}

void *arena_zalloc(arena *a, size_t n)
{
    void *p = arena_alloc(a, n);
    if (p)
        memset(p, 0, n);
    return p;
}

char *arena_strndup(arena *a, const char *s, size_t n)
{
    char *d = arena_alloc(a, n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

int arena_on_cleanup(arena *a, void (*fn)(void *), void *arg)
{
    arena_cleanup *c = arena_alloc(a, sizeof *c);
    if (!c)
        return SL_ENOMEM;
    c->fn = fn;
    c->arg = arg;
    c->next = a->cleanups;
    a->cleanups = c;
    return SL_OK;
}

static void run_cleanups(arena *a)
{
    arena_cleanup *c = a->cleanups;
    a->cleanups = NULL;
    for (; c; c = c->next)
        c->fn(c->arg);
}

void arena_reset(arena *a)
{
    run_cleanups(a);
    arena_chunk *keep = NULL;
    arena_chunk *c = a->head;
    while (c) {
        arena_chunk *next = c->next;
        if (!keep && c->size == a->chunk_bytes) {
            keep = c;
        } else {
            a->used_bytes -= sizeof(arena_chunk) + c->size;
            sl_free(c);
        }
        c = next;
    }
    if (keep) {
        keep->next = NULL;
        keep->used = 0;
    }
    a->head = keep;
}

void arena_destroy(arena *a)
{
    run_cleanups(a);
    arena_chunk *c = a->head;
    while (c) {
        arena_chunk *next = c->next;
        sl_free(c);
        c = next;
    }
    a->head = NULL;
    a->used_bytes = 0;
}
