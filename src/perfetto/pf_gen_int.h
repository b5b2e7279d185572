/*
 * pf_gen_int.h - the generator's internal state, shared by pf_gen.c (the
 * consumer, the chunk queues and the thread parts) and pf_gen_async.c (the
 * process / async part).  Not a public interface.
 *
 * Locking: g->mu protects the chunk free list, every part's queue, `done`
 * flags and the chunk counters.  A part's results (rc, message, counters)
 * are written by its worker before it sets `done` under g->mu and read by
 * the consumer after it has seen `done` under g->mu.
 */
#ifndef SL_PERFETTO_PF_GEN_INT_H
#define SL_PERFETTO_PF_GEN_INT_H

#include "base/pool.h"
#include "perfetto/pf_gen.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct pf_chunk {
    struct pf_chunk *next; /* free list */
    size_t len;
    uint8_t data[];
} pf_chunk;

typedef struct pf_part {
    pool_task task;
    pf_gen *g;
    size_t idx;               /* 0: process / async part; i + 1: thread i */
    pf_chunk *q[PF_GEN_QUEUE_CHUNKS_MAX];
    unsigned qhead, qlen;
    int done;
    atomic_int claimed;       /* its task started, or a blocked worker prepared it */
    pthread_cond_t cv_space;  /* the worker waits here while its queue is full */
    /* results, written by the worker before done */
    int rc;
    errmsg err;
    uint64_t spans;
    uint64_t clamped;
    int64_t read_ns;
    uint64_t lanes, begun_earlier, forced, unpaired;
} pf_part;

struct pf_gen {
    pf_gen_cfg cfg;
    pf_source src;
    pf_process_info proc;
    pf_read_req req;
    int64_t rb, re;           /* the range, INT64_MIN / INT64_MAX when unbounded */
    int empty_range;          /* rb > re: nothing is read, only descriptors are written */
    size_t chunk_cap;         /* bytes in a chunk buffer */
    atomic_int cancelled;
    pool pool;
    int pool_up;
    pthread_mutex_t mu;
    pthread_cond_t cv_data;   /* the consumer waits here for its part */
    pf_part *parts;
    size_t nparts, next_submit, cur;
    atomic_size_t prep_next;  /* the next part a blocked worker may prepare */
    pf_chunk *free_chunks;
    uint64_t chunks_live, chunks_peak;
    /* consumer state */
    pf_chunk *handed;         /* returned by the last next_chunk, recycled on the next */
    pf_chunk *carry;          /* taken from a queue, to hand out next */
    dbuf merge;               /* small chunks merged up to chunk_bytes */
    int started, finished, failed;
    int64_t t_open, last_progress;
    int64_t *read_times;      /* per thread, for the median */
    errmsg err;
    pf_gen_summary sum;
};

/* A sink that queues chunks on part p (blocks while its queue is full). */
pf_sink pf_part_sink(pf_part *p);

/* Marks part p done (its results are final) and wakes the consumer. */
void pf_part_done(pf_part *p);

/* The process / async part, run on a worker (pf_gen_async.c). */
void pf_gen_async_run(pool_task *t);

static inline int pf_gen_is_cancelled(const pf_gen *g)
{
    return atomic_load_explicit(&((pf_gen *)g)->cancelled, memory_order_relaxed);
}

#endif
