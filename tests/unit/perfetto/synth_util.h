/*
 * synth_util.h - a synthetic span source of a given size for the generator
 * tests (batches of 1,000 rows, everything else as pf_synth_cfg_init says).
 * Include after test.h.
 */
#ifndef SL_TESTS_PERFETTO_SYNTH_UTIL_H
#define SL_TESTS_PERFETTO_SYNTH_UTIL_H

#include "perfetto/pf_synth.h"

static inline void synth(pf_synth *s, uint32_t threads, uint64_t spans, uint64_t async)
{
    pf_synth_cfg c;
    pf_synth_cfg_init(&c);
    c.threads = threads;
    c.spans_per_thread = spans;
    c.async_spans = async;
    c.batch_rows = 1000;
    errmsg e;
    if (pf_synth_init(s, &c, &e))
        TEST_FAIL("pf_synth_init: %s", e.text);
}

#endif
