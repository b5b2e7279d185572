/*
 * test_window.c - watermarks, lateness and window assignment (stream/window.c):
 * the rules of docs/streaming.md, case by case.
 */
#include "test.h"

#include "stream/window.c" /* the file under test, statics included */

#define S 1000000000ll

TEST(no_watermark_before_the_first_row)
{
    stream_wm w;
    stream_wm_init(&w, 2 * S);
    CHECK(stream_wm_value(&w) == STREAM_WM_NONE);
    CHECK(!stream_wm_late(&w, INT64_MIN + 1));
    CHECK(!stream_wm_late(&w, 0));
}

TEST(watermark_is_max_of_earlier_rows_minus_delay)
{
    stream_wm w;
    stream_wm_init(&w, 2 * S);
    stream_wm_observe(&w, 10 * S);
    CHECK_EQ(stream_wm_value(&w), 8 * S);
    stream_wm_observe(&w, 5 * S); /* out of order: the watermark does not go back */
    CHECK_EQ(stream_wm_value(&w), 8 * S);
    stream_wm_observe(&w, 12 * S);
    CHECK_EQ(stream_wm_value(&w), 10 * S);
}

TEST(a_row_exactly_on_the_watermark_is_on_time)
{
    stream_wm w;
    stream_wm_init(&w, 2 * S);
    stream_wm_observe(&w, 10 * S);
    CHECK(!stream_wm_late(&w, 8 * S));
    CHECK(stream_wm_late(&w, 8 * S - 1));
    CHECK(!stream_wm_late(&w, 9 * S));
}

TEST(zero_delay)
{
    stream_wm w;
    stream_wm_init(&w, 0);
    stream_wm_observe(&w, 7);
    CHECK(!stream_wm_late(&w, 7));
    CHECK(stream_wm_late(&w, 6));
}

TEST(end_of_input_is_infinity)
{
    stream_wm w;
    stream_wm_init(&w, S);
    stream_wm_end(&w);
    CHECK(stream_wm_value(&w) == STREAM_WM_END);
    CHECK(stream_win_closed(INT64_MAX - 1, stream_wm_value(&w)));
}

TEST(huge_delay_saturates)
{
    stream_wm w;
    stream_wm_init(&w, INT64_MAX);
    stream_wm_observe(&w, -5 * S);
    CHECK(stream_wm_value(&w) != STREAM_WM_NONE);
    CHECK(!stream_wm_late(&w, INT64_MIN + 1));
}

TEST(tumble_is_epoch_aligned_and_end_exclusive)
{
    stream_win t = {10 * S, 10 * S, false};
    int64_t first;
    CHECK_EQ(stream_win_assign(&t, 0, &first), 1);
    CHECK_EQ(first, 0);
    CHECK_EQ(stream_win_assign(&t, 10 * S - 1, &first), 1);
    CHECK_EQ(first, 0);
    CHECK_EQ(stream_win_assign(&t, 10 * S, &first), 1); /* the end belongs to the next */
    CHECK_EQ(first, 10 * S);
    CHECK_EQ(stream_win_assign(&t, 1234567 * S + 5, &first), 1);
    CHECK_EQ(first, 1234560 * S);
}

TEST(negative_times_floor)
{
    stream_win t = {10 * S, 10 * S, false};
    int64_t first;
    CHECK_EQ(stream_win_assign(&t, -1, &first), 1);
    CHECK_EQ(first, -10 * S);
    CHECK_EQ(stream_win_assign(&t, -10 * S, &first), 1);
    CHECK_EQ(first, -10 * S);
}

TEST(hop_overlaps)
{
    stream_win h = {10 * S, 5 * S, false}; /* size 10 s, slide 5 s */
    int64_t first;
    CHECK_EQ(stream_win_assign(&h, 12 * S, &first), 2); /* [5, 15) and [10, 20) */
    CHECK_EQ(first, 5 * S);
    CHECK_EQ(stream_win_assign(&h, 10 * S, &first), 2); /* [5, 15), [10, 20) */
    CHECK_EQ(first, 5 * S);
    CHECK_EQ(stream_win_assign(&h, 0, &first), 2); /* [-5, 5), [0, 10) */
    CHECK_EQ(first, -5 * S);
    stream_win h3 = {30 * S, 10 * S, false};
    CHECK_EQ(stream_win_assign(&h3, 25 * S, &first), 3); /* [0,30) [10,40) [20,50) */
    CHECK_EQ(first, 0);
}

TEST(hop_with_gaps)
{
    stream_win g = {2 * S, 5 * S, false}; /* size 2 s every 5 s: [0,2) [5,7) ... */
    int64_t first;
    CHECK_EQ(stream_win_assign(&g, 1 * S, &first), 1);
    CHECK_EQ(first, 0);
    CHECK_EQ(stream_win_assign(&g, 3 * S, &first), 0);
    CHECK_EQ(stream_win_assign(&g, 5 * S, &first), 1);
    CHECK_EQ(first, 5 * S);
}

TEST(window_closes_when_watermark_reaches_its_end)
{
    CHECK(!stream_win_closed(10 * S, STREAM_WM_NONE));
    CHECK(!stream_win_closed(10 * S, 10 * S - 1));
    CHECK(stream_win_closed(10 * S, 10 * S));
}

TEST(far_times_do_not_wrap)
{
    stream_win t = {10 * S, 10 * S, false};
    int64_t first;
    CHECK_EQ(stream_win_assign(&t, INT64_MAX - 1, &first), 0); /* its end is past the range */
    CHECK(stream_win_assign(&t, INT64_MIN + 1, &first) >= 0);
}

TEST(a_session_closes_when_the_watermark_passes_its_end)
{
    CHECK(!stream_session_closed(10 * S, STREAM_WM_NONE));
    CHECK(!stream_session_closed(10 * S, 10 * S)); /* a row at the end still joins it */
    CHECK(stream_session_closed(10 * S, 10 * S + 1));
}
