/*
 * window.h - event time in continuous jobs: watermarks, lateness, and which
 * windows a row belongs to.  Pure arithmetic, no allocation: the rules of
 * docs/streaming.md ("Semantics") in one place, unit-tested alone
 * (tests/unit/stream/test_window.c).
 *
 * Watermark of a source with event_time c and max_delay D: when row n
 * arrives it is max(c of rows 1..n-1) - D; there is none before the first
 * row with an event time (rows whose c is NULL neither move it nor are ever
 * late).  It never decreases, since the maximum never does.  The end of a
 * bounded input makes it +infinity (STREAM_WM_END).  A row is late iff a
 * watermark is in force and c < watermark: a row exactly on it is on time.
 *
 * Windows are aligned to the epoch (1970-01-01 00:00:00 UTC) and
 * end-exclusive: a row is in [s, e) iff s <= c < e.  tumble(size) is
 * hop(slide = size, size).  hop(slide, size) puts a row in every window
 * [k*slide, k*slide + size) that contains it: ceil(size / slide) windows when
 * slide divides size, fewer (possibly none) when size < slide.  A window
 * closes when the watermark >= its end; a session window (session.c) when
 * the watermark > its end.
 */
#ifndef SL_STREAM_WINDOW_H
#define SL_STREAM_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STREAM_WM_NONE INT64_MIN /* no watermark yet: nothing is late */
#define STREAM_WM_END INT64_MAX  /* a bounded input has ended */

typedef struct stream_wm {
    int64_t delay_ns;        /* max_delay, >= 0 */
    int64_t max_ns;          /* the largest event time seen (valid when seen) */
    bool seen;
    bool ended;
} stream_wm;

void stream_wm_init(stream_wm *w, int64_t delay_ns);
/* The watermark in force now (STREAM_WM_NONE, a time, or STREAM_WM_END). */
int64_t stream_wm_value(const stream_wm *w);
/* Whether a row with event time ts arriving now is late. */
bool stream_wm_late(const stream_wm *w, int64_t ts_ns);
/* The row with event time ts has arrived (after the lateness check). */
void stream_wm_observe(stream_wm *w, int64_t ts_ns);
/* The input has ended: the watermark is +infinity from now on. */
void stream_wm_end(stream_wm *w);

typedef struct stream_win {
    int64_t size_ns;         /* > 0; the gap of a session window */
    int64_t slide_ns;        /* > 0; == size_ns for tumble */
    bool session;            /* session(src, ts, gap): per key, rows at most gap apart */
} stream_win;

/* The most windows a row can be in (bounds the work per row). */
#define STREAM_WIN_MAX_PER_ROW 4096

/*
 * The windows holding ts: *first is the start of the earliest, the others
 * follow every slide_ns; returns how many (0 when ts falls in a gap of a hop
 * whose size is smaller than its slide, or when the window would not be
 * representable).
 */
int stream_win_assign(const stream_win *w, int64_t ts_ns, int64_t *first);
/* In an array of n elements of stride bytes, each beginning with its int64_t
 * start and sorted by it: the index of the first whose start is not less than
 * start (n if none). */
int stream_win_lower_bound(const void *base, int n, size_t stride, int64_t start);
/* Whether the window ending at end_ns closes under watermark wm. */
static inline bool stream_win_closed(int64_t end_ns, int64_t wm)
{
    return wm != STREAM_WM_NONE && wm >= end_ns;
}

/* Whether the session window ending at end_ns closes under watermark wm (rule 6:
 * strictly after its end, since a row exactly gap after its last one joins it). */
static inline bool stream_session_closed(int64_t end_ns, int64_t wm)
{
    return wm != STREAM_WM_NONE && wm > end_ns;
}

#endif
