/*
 * pf_sink.h - where encoded trace bytes go: a callback, a file, or memory.
 *
 * A Perfetto trace is never held whole: writers (pf_seq) hand their output to
 * a sink in chunks of about 64 KiB, each chunk a run of complete TracePackets
 * (see pf_seq.h for the chunking rule).  A sink is just a function and its
 * context; it returns 0 or a negative SL_E* code, and an error stops the
 * writer that called it (the writer reports that code back to its caller).
 *
 * Two sinks are provided: a file sink writing to a descriptor, and a memory
 * sink appending to a dbuf with a hard cap (for tests, for per-worker buffers
 * that are concatenated later, and for small traces served from memory).
 * Sinks are not thread-safe: give each writer its own, or serialize calls.
 */
#ifndef SL_PERFETTO_PF_SINK_H
#define SL_PERFETTO_PF_SINK_H

#include "base/dbuf.h"
#include "base/err.h"

#include <stddef.h>
#include <stdint.h>

typedef int (*pf_sink_fn)(void *ctx, const uint8_t *p, size_t n);

typedef struct pf_sink {
    pf_sink_fn write;
    void *ctx;
} pf_sink;

typedef struct pf_file_sink {
    int fd;
    int owns_fd;          /* 1 when pf_file_sink_open opened it */
    uint64_t bytes;       /* bytes written so far */
    uint64_t chunks;      /* calls received */
} pf_file_sink;

/* Create (truncate) path for writing. 0, or SL_EIO with a message in e. */
int pf_file_sink_open(pf_file_sink *fs, const char *path, errmsg *e);
/* Write to an already open descriptor, which the caller keeps and closes. */
void pf_file_sink_init_fd(pf_file_sink *fs, int fd);
/* The sink that writes to fs (all of each chunk, retrying short writes). */
pf_sink pf_file_sink_get(pf_file_sink *fs);
/* Close the descriptor if pf_file_sink_open opened it; 0 or SL_EIO. */
int pf_file_sink_close(pf_file_sink *fs);

typedef struct pf_mem_sink {
    dbuf buf;          /* everything received, in order */
    uint64_t chunks;   /* calls received */
    size_t max_chunk_bytes; /* largest chunk received */
} pf_mem_sink;

/* An empty memory sink that refuses (SL_ETOOBIG) to grow past max_bytes. */
void pf_mem_sink_init(pf_mem_sink *ms, size_t max_bytes);
pf_sink pf_mem_sink_get(pf_mem_sink *ms);
void pf_mem_sink_free(pf_mem_sink *ms);

#endif
