/*
 * alloc.h - the one allocation wrapper, with counters.
 *
 * All heap memory in streamlake goes through these calls so that the server can
 * report live bytes and call counts (GET /api/stats) and tests can assert that a
 * request freed what it took.  Each thread counts on its own cache line (no
 * line shared between cores per call); alloc_stats_get sums the threads, and
 * the sum is exact once the threads that touched memory are quiet or joined.
 * The peak may miss a high point by less than 1 MiB per thread.
 *
 * Byte counts use malloc_usable_size(), so they include allocator rounding:
 * that is the memory really held.
 */
#ifndef SL_BASE_ALLOC_H
#define SL_BASE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

void *sl_malloc(size_t n);
void *sl_calloc(size_t count, size_t n);
void *sl_realloc(void *p, size_t n);
void sl_free(void *p);
char *sl_strdup(const char *s);
char *sl_strndup(const char *s, size_t n);

typedef struct alloc_stats {
    int64_t live_bytes;
    int64_t live_blocks;
    uint64_t total_calls;
    int64_t peak_bytes; /* the highest live_bytes seen */
} alloc_stats;

void alloc_stats_get(alloc_stats *out);

#endif
