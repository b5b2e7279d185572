/*
 * arena.h - bump allocator for request- and batch-scoped memory.
 *
 * Query work allocates from an arena and frees everything at once when the
 * request or batch ends.  An arena has a byte cap: an allocation past it
 * returns NULL, and the caller reports SL_ENOMEM for that request only.
 * Cleanup callbacks registered on an arena run (last first) when it is reset
 * or destroyed, so resources tied to a request (files, references) cannot leak.
 */
#ifndef SL_BASE_ARENA_H
#define SL_BASE_ARENA_H

#include <stddef.h>
#include <stdint.h>

typedef struct arena_chunk arena_chunk;
typedef struct arena_cleanup arena_cleanup;

typedef struct arena {
    arena_chunk *head;
    arena_cleanup *cleanups;
    size_t used_bytes;      /* bytes handed out plus chunk overhead */
    size_t max_bytes;       /* cap; 0 means SIZE_MAX */
    size_t chunk_bytes;     /* default chunk size */
} arena;

void arena_init(arena *a, size_t chunk_bytes, size_t max_bytes);
/* Memory aligned to 16 bytes, or NULL past the cap. */
void *arena_alloc(arena *a, size_t n);
void *arena_zalloc(arena *a, size_t n);
char *arena_strndup(arena *a, const char *s, size_t n);
/* Run fn(arg) when the arena is reset or destroyed. Returns 0 or SL_ENOMEM. */
int arena_on_cleanup(arena *a, void (*fn)(void *), void *arg);
/* Run cleanups, keep the first chunk for reuse. */
void arena_reset(arena *a);
void arena_destroy(arena *a);

#endif
