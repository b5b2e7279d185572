/*
 * hash.h - 64-bit hashes (xxHash from libxxhash).
 *
 * hash64 is XXH3-64: used for hash tables, partition keys and content checks.
 * It is stable across runs and machines, so it may be stored.
 */
#ifndef SL_BASE_HASH_H
#define SL_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

static inline uint64_t hash64(const void *p, size_t n)
{
    return XXH3_64bits(p, n);
}

static inline uint64_t hash64_seed(const void *p, size_t n, uint64_t seed)
{
    return XXH3_64bits_withSeed(p, n, seed);
}

/* Mixes a 64-bit integer key (pointer, id) into a well-spread hash. */
static inline uint64_t hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

#endif
