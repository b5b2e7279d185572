/*
 * window.c - watermarks and window assignment (see window.h for the rules).
 *
 * Times are int64 nanoseconds since the epoch; every subtraction saturates so
 * that a max_delay larger than the event times, or event times near the ends
 * of the range, never wrap around.
 */
#include "stream/window.h"

#include <string.h>

static int64_t sub_sat(int64_t a, int64_t b)
{
    int64_t r;
    return __builtin_sub_overflow(a, b, &r) ? (b > 0 ? INT64_MIN + 1 : INT64_MAX) : r;
}

/* floor(a / b) for b > 0, whatever the sign of a. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

void stream_wm_init(stream_wm *w, int64_t delay_ns)
{
    w->delay_ns = delay_ns < 0 ? 0 : delay_ns;
    w->max_ns = 0;
    w->seen = false;
    w->ended = false;
}

int64_t stream_wm_value(const stream_wm *w)
{
    if (w->ended)
        return STREAM_WM_END;
    if (!w->seen)
        return STREAM_WM_NONE;
    /* INT64_MIN + 1 at worst: a watermark, never "none" */
    return sub_sat(w->max_ns, w->delay_ns);
}

bool stream_wm_late(const stream_wm *w, int64_t ts_ns)
{
    int64_t wm = stream_wm_value(w);
    return wm != STREAM_WM_NONE && ts_ns < wm;
}

void stream_wm_observe(stream_wm *w, int64_t ts_ns)
{
    if (!w->seen || ts_ns > w->max_ns)
        w->max_ns = ts_ns;
    w->seen = true;
}

void stream_wm_end(stream_wm *w)
{
    w->ended = true;
}

int stream_win_assign(const stream_win *w, int64_t ts_ns, int64_t *first)
{
    /* the last window holding ts starts at floor(ts / slide) * slide; earlier ones
     * every slide back, while their end (start + size) is still past ts */
    int64_t k_last = floor_div(ts_ns, w->slide_ns);
    int64_t last;
    if (__builtin_mul_overflow(k_last, w->slide_ns, &last))
        return 0;
    int64_t lo = sub_sat(ts_ns, w->size_ns); /* starts must be > ts - size */
    int n = 0;
    int64_t s = last;
    while (s > lo && n < STREAM_WIN_MAX_PER_ROW) {
        int64_t end;
        if (__builtin_add_overflow(s, w->size_ns, &end))
            return 0;
        n++;
        *first = s;
        if (__builtin_sub_overflow(s, w->slide_ns, &s))
            break;
    }
    return n;
}

int stream_win_lower_bound(const void *base, int n, size_t stride, int64_t start)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        int64_t s;
        memcpy(&s, (const char *)base + (size_t)mid * stride, sizeof s);
        if (s < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}
