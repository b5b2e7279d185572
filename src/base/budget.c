/*
 * budget.c - the server-wide budget of response memory and worker threads
 * (see budget.h).
 *
 * Memory and threads are two counters taken together: a grant first takes
 * its threads (a CAS that grants as many as are free up to what was asked),
 * then its bytes; if the bytes do not fit, the threads are given back.  The
 * two steps are not one atomic operation, so two racing requests may both be
 * refused where one would have fitted: a refusal is always safe, an overrun
 * never happens.
 */
#include "base/budget.h"

#include "base/json.h"

#include <malloc.h>

/* Freed bytes since the last trim that make a trim worth its cost. */
#define TRIM_AFTER_BYTES (16u << 20)

void budget_init(budget *b, uint64_t max_bytes, uint32_t max_threads)
{
    b->max_bytes = max_bytes;
    b->max_threads = max_threads;
    atomic_init(&b->bytes, 0);
    atomic_init(&b->threads, 0);
    atomic_init(&b->grants, 0);
    atomic_init(&b->peak_bytes, 0);
    atomic_init(&b->peak_threads, 0);
    atomic_init(&b->granted_total, 0);
    atomic_init(&b->refused_total, 0);
    atomic_init(&b->trim_wanted, 0);
    atomic_init(&b->trims, 0);
}

static void peak64(_Atomic uint64_t *peak, uint64_t now)
{
    uint64_t p = atomic_load(peak);
    while (now > p && !atomic_compare_exchange_weak(peak, &p, now))
        ;
}

static void peak32(_Atomic uint32_t *peak, uint32_t now)
{
    uint32_t p = atomic_load(peak);
    while (now > p && !atomic_compare_exchange_weak(peak, &p, now))
        ;
}

/* Takes between lo and hi threads; how many, or 0 when not even lo are free. */
static uint32_t take_threads(budget *b, uint32_t lo, uint32_t hi)
{
    uint32_t cur = atomic_load(&b->threads);
    for (;;) {
        uint32_t free_n = cur < b->max_threads ? b->max_threads - cur : 0;
        uint32_t n = hi < free_n ? hi : free_n;
        if (n < lo)
            return 0;
        if (atomic_compare_exchange_weak(&b->threads, &cur, cur + n)) {
            peak32(&b->peak_threads, cur + n);
            return n;
        }
    }
}

static int refuse(budget *b, errmsg *e, const char *fmt, unsigned long long a,
                  unsigned long long held, unsigned long long max)
{
    atomic_fetch_add(&b->refused_total, 1);
    return errmsg_set(e, SL_EBUSY, fmt, a, held, max);
}

int budget_take(budget *b, uint64_t bytes, uint32_t min_threads, uint32_t want_threads,
                budget_grant *g, errmsg *e)
{
    g->bytes = 0;
    g->threads = 0;
    if (want_threads < min_threads)
        want_threads = min_threads;
    uint32_t t = 0;
    if (min_threads || want_threads) {
        t = take_threads(b, min_threads ? min_threads : 1, want_threads);
        if (t == 0 && min_threads)
            return refuse(b, e, "server busy: %llu worker threads needed, %llu of %llu in use; "
                          "retry later", min_threads, atomic_load(&b->threads), b->max_threads);
    }
    uint64_t cur = atomic_load(&b->bytes);
    for (;;) {
        if (bytes > b->max_bytes || cur > b->max_bytes - bytes) {
            if (t)
                atomic_fetch_sub(&b->threads, t);
            return refuse(b, e, "server busy: a response needing %llu bytes does not fit "
                          "(%llu of %llu bytes held by other responses); retry later",
                          (unsigned long long)bytes, cur, b->max_bytes);
        }
        if (atomic_compare_exchange_weak(&b->bytes, &cur, cur + bytes))
            break;
    }
    peak64(&b->peak_bytes, cur + bytes);
    atomic_fetch_add(&b->grants, 1);
    atomic_fetch_add(&b->granted_total, 1);
    g->bytes = bytes;
    g->threads = t;
    return SL_OK;
}

void budget_shrink(budget *b, budget_grant *g, uint64_t bytes)
{
    if (bytes >= g->bytes)
        return;
    atomic_fetch_sub(&b->bytes, g->bytes - bytes);
    g->bytes = bytes;
}

void budget_give(budget *b, budget_grant *g)
{
    if (!g->bytes && !g->threads)
        return;
    uint64_t left = atomic_fetch_sub(&b->bytes, g->bytes) - g->bytes;
    atomic_fetch_sub(&b->threads, g->threads);
    uint32_t grants = atomic_fetch_sub(&b->grants, 1) - 1;
    /* Worth a trim: the budget went idle, or a large response ended. */
    if (grants == 0 || g->bytes >= TRIM_AFTER_BYTES || left == 0)
        atomic_store(&b->trim_wanted, 1);
    g->bytes = 0;
    g->threads = 0;
}

int budget_trim_if_idle(budget *b)
{
    if (!atomic_exchange(&b->trim_wanted, 0))
        return 0;
    malloc_trim(0);
    atomic_fetch_add(&b->trims, 1);
    return 1;
}

void budget_stats_json(budget *b, jw *w)
{
    const struct {
        const char *key;
        uint64_t v;
    } f[] = {
        {"max_bytes", b->max_bytes},
        {"max_threads", b->max_threads},
        {"bytes", atomic_load(&b->bytes)},
        {"threads", atomic_load(&b->threads)},
        {"grants", atomic_load(&b->grants)},
        {"peak_bytes", atomic_load(&b->peak_bytes)},
        {"peak_threads", atomic_load(&b->peak_threads)},
        {"granted_total", atomic_load(&b->granted_total)},
        {"refused_total", atomic_load(&b->refused_total)},
        {"trims", atomic_load(&b->trims)},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        jw_key(w, f[i].key);
        jw_uint(w, f[i].v);
    }
}
