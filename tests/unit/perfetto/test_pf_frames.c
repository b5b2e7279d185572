/*
 * test_pf_frames.c - the progress frame stream: a generated trace goes
 * through frames and comes back byte for byte; progress and summary frames
 * are there; a cancel ends with an error frame; the incremental reader gives
 * the same frames whatever the split of the input; damaged streams are
 * refused with the offset of the damage; a failing client stops the writer.
 */
#include "test.h"

#include "base/alloc.h"
#include "base/bytes.h"
#include "perfetto/pf_frames.h"
#include "perfetto/pf_intern.h"
#include "perfetto/pf_synth.h"
#include "synth_util.h"

/* The trace written straight to memory. */
static void plain(pf_synth *s, dbuf *out)
{
    pf_gen_cfg g;
    pf_gen_cfg_init(&g);
    g.jobs = 1;
    pf_gen *gen;
    errmsg e;
    pf_mem_sink ms;
    pf_mem_sink_init(&ms, (size_t)1 << 30);
    CHECK_OK(pf_gen_open(&gen, &g, pf_synth_source(s), &e));
    CHECK_OK(pf_gen_run(gen, pf_mem_sink_get(&ms)));
    pf_gen_close(gen);
    *out = ms.buf;
}

/* The same request as a frame stream. */
static int framed(pf_synth *s, unsigned jobs, pf_mem_sink *ms)
{
    pf_mem_sink_init(ms, (size_t)1 << 30);
    pf_frame_writer w;
    pf_frame_writer_init(&w, pf_mem_sink_get(ms));
    pf_gen_cfg g;
    pf_gen_cfg_init(&g);
    g.jobs = jobs;
    g.progress = pf_frame_writer_progress;
    g.progress_ctx = &w;
    g.progress_ms = 1;
    pf_gen *gen;
    errmsg e;
    int rc = pf_gen_open(&gen, &g, pf_synth_source(s), &e);
    if (!rc) {
        rc = pf_frames_run(gen, &w);
        pf_gen_close(gen);
    }
    pf_frame_writer_free(&w);
    return rc;
}

TEST(frames_carry_the_exact_trace_progress_and_summary)
{
    pf_synth s;
    synth(&s, 6, 4000, 3000);
    dbuf ref;
    plain(&s, &ref);
    pf_mem_sink ms;
    CHECK_OK(framed(&s, 3, &ms));
    dbuf trace;
    dbuf_init(&trace, (size_t)1 << 30);
    errmsg e;
    uint8_t final = 0;
    CHECK_OK(pf_frames_validate(ms.buf.p, ms.buf.len, &trace, &final, &e));
    CHECK_EQ(final, PF_FRAME_SUMMARY);
    CHECK_EQ(trace.len, ref.len);
    CHECK(memcmp(trace.p, ref.p, ref.len) == 0);
    /* count frame types; thread announcements come in order with their text */
    pf_frame_reader r;
    pf_frame_reader_init(&r);
    size_t off = 0, used;
    int counts[5] = {0};
    int next_thread = 1;
    pf_frame f;
    while (pf_frame_next(&r, ms.buf.p + off, ms.buf.len - off, &used, &f, &e) == 1) {
        counts[f.type]++;
        if (f.type == PF_FRAME_PROGRESS && memmem(f.payload, f.len, "\"thread\"", 8)) {
            char want[64];
            int n = snprintf(want, sizeof want, "\"index\":%d,\"count\":6", next_thread);
            CHECK(memmem(f.payload, f.len, want, (size_t)n) != NULL);
            next_thread++;
        }
        if (f.type == PF_FRAME_SUMMARY)
            CHECK(memmem(f.payload, f.len, "\"thread_spans\":24000", 20) != NULL);
        off += used;
    }
    CHECK_EQ(off, ms.buf.len);
    CHECK_EQ(next_thread, 7);
    CHECK(counts[PF_FRAME_DATA] > 1);
    CHECK_EQ(counts[PF_FRAME_SUMMARY], 1);
    CHECK_EQ(counts[PF_FRAME_ERROR], 0);
    dbuf_free(&trace);
    dbuf_free(&ref);
    pf_mem_sink_free(&ms);
    pf_synth_free(&s);
}

TEST(the_reader_gives_the_same_frames_whatever_the_split)
{
    pf_synth s;
    synth(&s, 3, 1500, 800);
    pf_mem_sink ms;
    CHECK_OK(framed(&s, 2, &ms));
    const size_t steps[] = {1, 7, 8, 9, 4096, 100000};
    uint64_t ref_frames = 0;
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        /* feed the stream `step` bytes at a time into a growing window */
        pf_frame_reader r;
        pf_frame_reader_init(&r);
        size_t start = 0, avail = 0;
        errmsg e;
        while (start < ms.buf.len) {
            avail = avail + steps[k] > ms.buf.len ? ms.buf.len : avail + steps[k];
            for (;;) {
                pf_frame f;
                size_t used;
                int rc = pf_frame_next(&r, ms.buf.p + start, avail - start, &used, &f, &e);
                CHECK(rc >= 0);
                if (rc == 0)
                    break;
                start += used;
            }
            if (avail == ms.buf.len && start < ms.buf.len)
                TEST_FAIL("step %zu: %zu bytes left undecoded", steps[k], ms.buf.len - start);
        }
        CHECK_OK(pf_frame_reader_finish(&r, &e));
        if (k == 0)
            ref_frames = r.frames;
        CHECK_EQ(r.frames, ref_frames);
    }
    pf_mem_sink_free(&ms);
    pf_synth_free(&s);
}

static pf_gen *g_to_cancel;

static void cancel_soon(void *ctx, const pf_progress *p)
{
    pf_frame_writer_progress(ctx, p);
    if (p->kind == PF_PROG_THREAD && p->index == 2)
        pf_gen_cancel(g_to_cancel);
}

TEST(a_cancelled_generation_ends_with_an_error_frame)
{
    pf_synth s;
    synth(&s, 5, 20000, 100);
    pf_mem_sink ms;
    pf_mem_sink_init(&ms, (size_t)1 << 30);
    pf_frame_writer w;
    pf_frame_writer_init(&w, pf_mem_sink_get(&ms));
    pf_gen_cfg g;
    pf_gen_cfg_init(&g);
    g.jobs = 2;
    g.progress = cancel_soon;
    g.progress_ctx = &w;
    errmsg e;
    CHECK_OK(pf_gen_open(&g_to_cancel, &g, pf_synth_source(&s), &e));
    CHECK_EQ(pf_frames_run(g_to_cancel, &w), SL_ECANCELED);
    pf_gen_close(g_to_cancel);
    uint8_t final = 0;
    CHECK_OK(pf_frames_validate(ms.buf.p, ms.buf.len, NULL, &final, &e));
    CHECK_EQ(final, PF_FRAME_ERROR);
    CHECK(memmem(ms.buf.p, ms.buf.len, "\"code\":-12", 10) != NULL);
    pf_frame_writer_free(&w);
    pf_mem_sink_free(&ms);
    pf_synth_free(&s);
}

typedef struct flaky {
    pf_mem_sink ms;
    int left;
} flaky;

static int flaky_write(void *ctx, const uint8_t *p, size_t n)
{
    flaky *f = ctx;
    if (f->left-- <= 0)
        return SL_ENET;
    return pf_mem_sink_get(&f->ms).write(&f->ms, p, n);
}

TEST(a_client_going_away_stops_generation_and_leaks_nothing)
{
    alloc_stats before, after;
    alloc_stats_get(&before);
    pf_synth s;
    synth(&s, 20, 50000, 1000);
    flaky fl;
    pf_mem_sink_init(&fl.ms, (size_t)1 << 30);
    fl.left = 10;
    pf_frame_writer w;
    pf_frame_writer_init(&w, (pf_sink){flaky_write, &fl});
    pf_gen_cfg g;
    pf_gen_cfg_init(&g);
    g.jobs = 2;
    g.progress = pf_frame_writer_progress;
    g.progress_ctx = &w;
    pf_gen *gen;
    errmsg e;
    CHECK_OK(pf_gen_open(&gen, &g, pf_synth_source(&s), &e));
    CHECK_EQ(pf_frames_run(gen, &w), SL_ENET);
    pf_gen_close(gen);
    /* what reached the client is a prefix: frames, then nothing */
    CHECK_EQ(pf_frames_validate(fl.ms.buf.p, fl.ms.buf.len, NULL, NULL, &e), SL_ETRUNC);
    pf_frame_writer_free(&w);
    pf_mem_sink_free(&fl.ms);
    pf_synth_free(&s);
    alloc_stats_get(&after);
    CHECK_EQ(after.live_blocks, before.live_blocks);
}

static uint8_t *stream_of(size_t *n)
{
    pf_mem_sink ms;
    pf_mem_sink_init(&ms, 1 << 20);
    pf_frame_writer w;
    pf_frame_writer_init(&w, pf_mem_sink_get(&ms));
    pf_progress p = {.kind = PF_PROG_START, .count = 2, .name = "proc"};
    pf_frame_writer_progress(&w, &p);
    pf_sink d = pf_frame_writer_data_sink(&w);
    CHECK_OK(d.write(d.ctx, (const uint8_t *)"abcdefgh", 8));
    CHECK_OK(d.write(d.ctx, (const uint8_t *)"ijkl", 4));
    pf_gen_summary sum = {.bytes = 12};
    CHECK_OK(pf_frame_writer_summary(&w, &sum));
    CHECK_EQ(pf_frame_writer_error(&w, SL_EIO, "late"), SL_ESTATE); /* nothing after the end */
    pf_frame_writer_free(&w);
    return dbuf_take(&ms.buf, n);
}

static int damaged(const uint8_t *base, size_t n, size_t at, uint8_t v, errmsg *e)
{
    uint8_t *c = sl_malloc(n);
    memcpy(c, base, n);
    c[at] = v;
    int rc = pf_frames_validate(c, n, NULL, NULL, e);
    sl_free(c);
    return rc;
}

TEST(damaged_streams_are_refused_with_the_place)
{
    size_t n;
    uint8_t *s = stream_of(&n);
    errmsg e;
    dbuf t;
    dbuf_init(&t, 1 << 20);
    CHECK_OK(pf_frames_validate(s, n, &t, NULL, &e));
    CHECK_EQ(t.len, 12);
    CHECK(memcmp(t.p, "abcdefghijkl", 12) == 0);
    dbuf_free(&t);
    /* layout: header 8, progress frame at 8 */
    uint32_t plen = ld_u32le(s + 12);
    size_t d1 = 8 + 8 + plen, d2 = d1 + 8 + 8 + 8;
    CHECK_EQ(s[d1], PF_FRAME_DATA);
    CHECK_EQ(damaged(s, n, 0, 'X', &e), SL_ECORRUPT);                 /* magic */
    CHECK_EQ(damaged(s, n, 4, 2, &e), SL_EVERSION);                   /* version */
    CHECK(strstr(e.text, "byte 4") != NULL);
    CHECK_EQ(damaged(s, n, 8, 9, &e), SL_ECORRUPT);                   /* unknown type */
    CHECK_EQ(damaged(s, n, 9, 1, &e), SL_ECORRUPT);                   /* reserved */
    CHECK_EQ(damaged(s, n, d1 + 7, 0x7f, &e), SL_ETOOBIG);            /* huge length */
    CHECK_EQ(damaged(s, n, d2 + 8, 9, &e), SL_ECORRUPT);              /* offset gap */
    CHECK(strstr(e.text, "expected 8") != NULL);
    CHECK_EQ(damaged(s, n, 20, '{', &e), SL_ECORRUPT);                /* bad JSON */
    CHECK_EQ(pf_frames_validate(s, n - 1, NULL, NULL, &e), SL_ETRUNC); /* cut short */
    CHECK_EQ(pf_frames_validate(s, d2, NULL, NULL, &e), SL_ETRUNC);   /* no final frame */
    CHECK_EQ(pf_frames_validate(s, 3, NULL, NULL, &e), SL_ETRUNC);
    CHECK_EQ(pf_frames_validate(s, 0, NULL, NULL, &e), SL_ETRUNC);
    uint8_t *more = sl_malloc(n + 1);
    memcpy(more, s, n);
    more[n] = 0;
    CHECK_EQ(pf_frames_validate(more, n + 1, NULL, NULL, &e), SL_ECORRUPT); /* after the end */
    /* the summary must count the bytes received */
    uint8_t *lie = sl_malloc(n);
    memcpy(lie, s, n);
    uint8_t *b = memmem(lie, n, "\"bytes\":12", 10);
    CHECK(b != NULL);
    b[9] = '3';
    CHECK_EQ(pf_frames_validate(lie, n, NULL, NULL, &e), SL_ECORRUPT);
    sl_free(lie);
    sl_free(more);
    sl_free(s);
}

TEST(names_with_invalid_utf8_still_make_valid_json)
{
    CHECK_EQ(pf_utf8_valid_len("abc", 3), 3);
    CHECK_EQ(pf_utf8_valid_len("w\xc3\xb6rker", 7), 7);
    CHECK_EQ(pf_utf8_valid_len("a\xff", 2), 1);
    CHECK_EQ(pf_utf8_valid_len("a\xc0\xaf", 3), 1);         /* overlong '/' */
    CHECK_EQ(pf_utf8_valid_len("a\xed\xa0\x80", 4), 1);     /* a surrogate */
    CHECK_EQ(pf_utf8_valid_len("a\xf4\x90\x80\x80", 5), 1); /* past U+10FFFF */
    CHECK_EQ(pf_utf8_valid_len("a\xe2\x82", 3), 1);         /* cut short */
    CHECK_EQ(pf_utf8_valid_len("\xf0\x9f\x98\x80", 4), 4);
    pf_synth s;
    synth(&s, 3, 100, 10);
    snprintf(s.names[1], sizeof s.names[1], "bad\xff\xfe name \xe2\x82");
    pf_mem_sink ms;
    CHECK_OK(framed(&s, 2, &ms));
    errmsg e;
    CHECK_OK(pf_frames_validate(ms.buf.p, ms.buf.len, NULL, NULL, &e));
    CHECK(memmem(ms.buf.p, ms.buf.len, "bad\xef\xbf\xbd\xef\xbf\xbd name \xef\xbf\xbd", 17));
    pf_mem_sink_free(&ms);
    pf_synth_free(&s);
}
