/*
 * budget.h - a server-wide budget of response memory and worker threads.
 *
 * Every request that produces a large answer (a trace, a view, later a SQL
 * result or a pgwire portal) holds resources until its client has read the
 * answer or gone: worker threads that build and encode, and buffers that wait
 * for the socket.  A client that never reads would hold them for ever, and
 * many such clients would take the machine.  So before such a request starts,
 * it takes a *grant* from the one budget of its server: an upper bound of the
 * memory it can hold at once (each producer computes its own bound from its
 * configuration: pf_gen_memory_bound, the view's batch and text sizes) and the
 * threads it will run.  A request whose grant does not fit is refused at once
 * (HTTP 503 with the reason and Retry-After; SQLSTATE 53200 or 53300 later);
 * nothing is queued, so refusal costs nothing.  The grant is given back when
 * the response is freed (finished, failed, or its client gone or timed out).
 *
 * Threads are granted between a minimum and what was asked: a trace asking for
 * 8 workers on a busy server runs with the 2 that are free rather than being
 * refused, and is refused only when not even its minimum is free.
 *
 * Memory given back after a burst: glibc keeps freed memory in its arenas, so
 * resident memory would stay at the burst's peak.  budget_give notes when the
 * budget becomes idle; budget_trim_if_idle (called by a background thread)
 * then returns free pages to the system with malloc_trim.
 *
 * Counters are atomics; a grant is a CAS loop, no lock.  Thread-safe.
 */
#ifndef SL_BASE_BUDGET_H
#define SL_BASE_BUDGET_H

#include "base/err.h"

#include <stdatomic.h>
#include <stdint.h>

typedef struct budget {
    uint64_t max_bytes;              /* response memory of all requests together */
    uint32_t max_threads;            /* worker threads of all requests together */
    _Atomic uint64_t bytes;          /* held now */
    _Atomic uint32_t threads;        /* held now */
    _Atomic uint32_t grants;         /* grants held now */
    _Atomic uint64_t peak_bytes;     /* the most held at once */
    _Atomic uint32_t peak_threads;
    _Atomic uint64_t granted_total;  /* grants given so far */
    _Atomic uint64_t refused_total;  /* requests refused so far */
    _Atomic int trim_wanted;         /* the budget went idle since the last trim */
    _Atomic uint64_t trims;          /* malloc_trim calls made */
} budget;

/* What one request holds. */
typedef struct budget_grant {
    uint64_t bytes;
    uint32_t threads;
} budget_grant;

void budget_init(budget *b, uint64_t max_bytes, uint32_t max_threads);

/*
 * Takes `bytes` of memory and between min_threads and want_threads threads
 * (as many as are free, up to want).  0 with *g filled (g->threads is what was
 * granted), or SL_EBUSY with the reason in e (what was asked, what is held,
 * the limit) and nothing taken.  A request larger than the whole budget is
 * refused too (it could never fit).
 */
int budget_take(budget *b, uint64_t bytes, uint32_t min_threads, uint32_t want_threads,
                budget_grant *g, errmsg *e);

/* Lowers g's memory to bytes (no-op if it holds less): once fewer threads than
 * asked were granted, a request needs less than it reserved. */
void budget_shrink(budget *b, budget_grant *g, uint64_t bytes);

/* Gives back what g holds and clears it (a cleared grant is a no-op). */
void budget_give(budget *b, budget_grant *g);

/*
 * Returns freed heap pages to the system (malloc_trim) if the budget has gone
 * idle since the last call; cheap when there is nothing to do.  1 if it trimmed.
 */
int budget_trim_if_idle(budget *b);

/* Figures for /api/stats, as the members of a JSON object. */
struct jw;
void budget_stats_json(budget *b, struct jw *w);

#endif
