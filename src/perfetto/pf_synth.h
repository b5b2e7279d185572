/*
 * pf_synth.h - a synthetic span source for tests and benchmarks.
 *
 * Implements pf_source.h without any storage: every reader regenerates its
 * data from the seed, a batch at a time, so a trace of any size costs the
 * source one batch of memory per open reader.  The same configuration always
 * yields the same spans, in any order of reads and on any thread.
 *
 *  - threads: each has exactly spans_per_thread spans forming random nested
 *    call trees (up to max_depth), in begin order with depths, including
 *    zero-length spans; thread i's clock starts at base_ns + i * 1000.
 *  - async: async_spans spans with ids 1..N, begun in id order; about half
 *    have an open span as parent, most of those end within it (the others
 *    outlive it); one in 512 lasts very long.  Events (begin and end) come in
 *    time order, ends before begins at equal times; an open-span heap keeps
 *    memory proportional to the spans open at once.
 *  - failures: reads of thread fail_thread fail with SL_EIO, at open or
 *    after fail_after_rows rows; unknown_process makes resolve fail with
 *    SL_ENOTFOUND.
 *  - delay_us: each batch waits that long (simulated JIT and I/O), reported
 *    as jit_ns; the wait ends early on cancel.  async_delay_us: async
 *    batches wait that much longer (a slow process part).
 *  - thread_prepare only counts its calls (`prepared`).
 *  - filter_range: like the lake, return only async events inside the
 *    requested range and skip thread rows ending before it; without it the
 *    source returns everything and the generator must filter and clip.
 */
#ifndef SL_PERFETTO_PF_SYNTH_H
#define SL_PERFETTO_PF_SYNTH_H

#include "perfetto/pf_source.h"

#include <stdatomic.h>
#include <stdint.h>

typedef struct pf_synth_cfg {
    uint64_t seed;
    uint32_t threads;
    uint64_t spans_per_thread;
    uint64_t async_spans;
    uint32_t sites;          /* 0: 64 */
    uint32_t max_depth;      /* 0: 8 */
    uint32_t batch_rows;     /* 0: 4096 */
    int32_t pid;             /* 0: 4321 */
    int64_t base_ns;         /* 0: 1.7e18 */
    int fail_thread;         /* -1: none */
    uint64_t fail_after_rows;
    uint32_t delay_us;
    uint32_t async_delay_us;
    int unknown_process;
    int filter_range;
} pf_synth_cfg;

typedef struct pf_synth {
    pf_synth_cfg cfg;
    pf_thread_info *threads;
    char (*names)[32];
    pf_site *sites;
    char (*site_text)[3][48];
    atomic_llong jit_ns;
    atomic_ullong opens;
    atomic_ullong prepared;  /* thread_prepare calls */
} pf_synth;

/* Defaults as above, no failure, no delay. */
void pf_synth_cfg_init(pf_synth_cfg *cfg);
/* 0 or SL_ENOMEM / SL_EINVAL (with e). */
int pf_synth_init(pf_synth *s, const pf_synth_cfg *cfg, errmsg *e);
void pf_synth_free(pf_synth *s);
/* The source reading s (s must outlive its use). */
pf_source pf_synth_source(pf_synth *s);

/* Spans of thread i overlapping [begin_ns, end_ns] (what a trace should hold). */
uint64_t pf_synth_thread_count(const pf_synth *s, uint32_t i, int64_t begin_ns, int64_t end_ns);

#endif
