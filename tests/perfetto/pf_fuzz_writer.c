/*
 * pf_fuzz_writer.c - the Perfetto writer fed hostile span data.
 *
 * The writer's inputs come from Parquet files (the views), so they may be
 * anything: unsorted, overlapping, negative, absurdly deep, with binary names.
 * Each input is read as a small header and a list of 8-byte records that
 * become thread-span rows and async-span rows plus a few sites whose strings
 * are taken from the input itself.  The writer must never crash or touch
 * memory it does not own (the ASan build runs this), must refuse bad input
 * only with SL_EINVAL / SL_ETOOBIG, and whenever it accepts the input its
 * trace must decode (tests/unit/perfetto/tdec.h) with every track's
 * timestamps in order and every begin matched by an end.
 *
 * Built two ways: with -DPF_LIBFUZZER as a libFuzzer target
 * (LLVMFuzzerTestOneInput), and by default as a program that replays every
 * file of a corpus directory, then N inputs from a seeded generator:
 *
 *   pf_fuzz_writer CORPUS_DIR [N_RANDOM]
 *
 * It prints "N passed, 0 failed" and exits 0 when every input behaved.
 */
#include "../unit/perfetto/tdec.h"

#include "base/bytes.h"
#include "perfetto/pf_seq.h"
#include "perfetto/pf_spans.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROWS 4096

static int g_accepted; /* inputs whose trace was written and checked */

static int bad(const char *what)
{
    fprintf(stderr, "pf_fuzz_writer: %s\n", what);
    abort();
}

/* Per track: times never go back, begins and ends balance. */
static void check_decoded(const tdec *d)
{
    uint64_t tracks[256];
    int64_t last[256];
    long depth[256];
    size_t nt = 0;
    for (size_t i = 0; i < d->nev; i++) {
        size_t k = 0;
        while (k < nt && tracks[k] != d->ev[i].track)
            k++;
        if (k == nt) {
            if (nt == 256)
                continue;
            tracks[nt] = d->ev[i].track;
            last[nt] = INT64_MIN;
            depth[nt++] = 0;
        }
        if (d->ev[i].ts < last[k])
            bad("time goes back on a track");
        last[k] = d->ev[i].ts;
        depth[k] += d->ev[i].type == 1 ? 1 : -1;
        if (depth[k] < 0)
            bad("an end without a begin");
    }
    for (size_t k = 0; k < nt; k++)
        if (depth[k] != 0)
            bad("a begin without an end");
}

static int ok_refusal(int rc)
{
    return rc == SL_EINVAL || rc == SL_ETOOBIG;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rd r;
    rd_init(&r, data, size);
    uint8_t hdr = rd_u8(&r);
    uint8_t chunk_sel = rd_u8(&r);
    uint8_t cap_sel = rd_u8(&r);
    /* Sites: four strings sliced from the input (binary, any length). */
    pf_site sites[4];
    for (int i = 0; i < 4; i++) {
        size_t n = rd_u8(&r);
        if (n > 250)
            n = (n - 250) * 1700; /* up to 8500 bytes: past PF_STR_MAX_BYTES */
        size_t take = n < rd_left(&r) ? n : rd_left(&r);
        const char *p = (const char *)rd_bytes(&r, take);
        sites[i] = (pf_site){p ? p : "", i % 2 ? "cat" : (p ? p : ""), i == 3 ? "" : "f.c",
                             p ? (uint32_t)take : 0, i % 2 ? 3 : (p ? (uint32_t)take : 0),
                             i == 3 ? 0 : 3, (uint32_t)i * 10, i == 2 ? 99 : 0};
    }
    static int64_t tb[MAX_ROWS], te[MAX_ROWS], ab[MAX_ROWS], ae[MAX_ROWS];
    static uint32_t tdepth[MAX_ROWS], tsite[MAX_ROWS], asite[MAX_ROWS];
    static uint64_t aid[MAX_ROWS], apar[MAX_ROWS];
    size_t nt = 0, na = 0;
    int64_t tclock = 1700000000000000000ll, aclock = tclock;
    while (rd_left(&r) >= 8 && nt < MAX_ROWS && na < MAX_ROWS) {
        uint8_t kind = rd_u8(&r);
        uint16_t step = rd_u16(&r);
        uint16_t dur = rd_u16(&r);
        uint8_t depth = rd_u8(&r), site = rd_u8(&r), back = rd_u8(&r);
        /* Rare flags make bad data: going back in time, negative times, ends
           before begins; huge durations are common. */
        int64_t big = kind & 0x40 ? (int64_t)dur << 40 : dur;
        int64_t dt = (kind & 0x0c) == 0x0c && depth == 0xff ? -(int64_t)step : step;
        int backwards = (kind & 0x20) && site == 0xff;
        if (kind & 1) {
            aclock += dt;
            ab[na] = (kind & 0x80) && back == 0xff ? -aclock : aclock;
            ae[na] = ab[na] + (backwards ? -big : big);
            aid[na] = kind & 0x10 ? 0 : na + 1;
            apar[na] = back && back <= na ? na + 1 - back : 0;
            asite[na++] = site % 4;
        } else {
            tclock += dt;
            tb[nt] = tclock;
            te[nt] = tclock + (backwards ? -big : big);
            tdepth[nt] = kind & 0x08 ? 60000u + depth : depth % 16;
            tsite[nt++] = site % 4;
        }
    }

    size_t chunks[] = {1, 100, 4096, 0};
    pf_mem_sink ms;
    pf_mem_sink_init(&ms, (size_t)64 << 20);
    pf_seq ts, as;
    pf_seq_cfg tc = {.seq_id = 2, .ts_mode = hdr & 1 ? PF_TS_INCREMENTAL : PF_TS_ABSOLUTE,
                     .default_track_uuid = hdr & 2 ? 10 : 0, .chunk_bytes = chunks[chunk_sel % 4],
                     .intern_max_entries = cap_sel % 2 ? 16 : 0};
    pf_seq_cfg ac = tc;
    ac.seq_id = 3;
    ac.default_track_uuid = 0;
    if (pf_seq_init(&ts, &tc, pf_mem_sink_get(&ms), NULL) ||
        pf_seq_init(&as, &ac, pf_mem_sink_get(&ms), NULL))
        bad("init");
    int rc = pf_seq_process_track(&as, 1, 77, "p", 1);
    if (!rc)
        rc = pf_seq_thread_track(&ts, 10, 1, 77, 78, "t", 1);
    errmsg e;
    pf_thread_writer tw;
    pf_thread_writer_init(&tw, &ts, 10);
    pf_span_rows trows = {.n = nt, .begin_ns = tb, .end_ns = te, .depth = tdepth,
                          .site_idx = tsite, .sites = sites, .n_sites = 4};
    int rct = rc ? rc : pf_thread_writer_add(&tw, &trows, &e);
    if (!rct)
        rct = pf_thread_writer_finish(&tw, &e);
    if (!rct)
        rct = pf_seq_flush(&ts);
    pf_async_writer aw;
    pf_async_writer_init(&aw, &as, 1, 1000, "lane");
    pf_span_rows arows = {.n = na, .begin_ns = ab, .end_ns = ae, .span_id = aid,
                          .parent_span_id = apar, .site_idx = asite, .sites = sites,
                          .n_sites = 4};
    int rca = rc ? rc : pf_async_writer_add(&aw, &arows, &e);
    if (!rca)
        rca = pf_async_writer_finish(&aw, &e);
    if (!rca)
        rca = pf_seq_flush(&as);
    if ((rct && !ok_refusal(rct)) || (rca && !ok_refusal(rca)))
        bad("an error other than a refusal of bad input");
    if (!rct && !rca) {
        tdec d;
        memset(&d, 0, sizeof d);
        if (tdec_run(&d, ms.buf.p, ms.buf.len)) {
            fprintf(stderr, "decode: %s\n", d.err);
            bad("the accepted input gave an undecodable trace");
        }
        check_decoded(&d);
        tdec_free(&d);
        g_accepted++;
    }
    pf_thread_writer_destroy(&tw);
    pf_async_writer_destroy(&aw);
    pf_seq_destroy(&ts);
    pf_seq_destroy(&as);
    pf_mem_sink_free(&ms);
    return 0;
}

#ifndef PF_LIBFUZZER
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

int main(int argc, char **argv)
{
    int passed = 0;
    static uint8_t buf[1 << 16];
    if (argc > 1) {
        DIR *dir = opendir(argv[1]);
        struct dirent *de;
        while (dir && (de = readdir(dir)) != NULL) {
            if (de->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[1], de->d_name);
            FILE *f = fopen(path, "rb");
            if (!f)
                continue;
            size_t n = fread(buf, 1, sizeof buf, f);
            fclose(f);
            LLVMFuzzerTestOneInput(buf, n);
            passed++;
        }
        if (dir)
            closedir(dir);
    }
    int nrand = argc > 2 ? atoi(argv[2]) : 200;
    uint64_t s = 0x5eed;
    for (int i = 0; i < nrand; i++) {
        size_t n = (size_t)(rnd(&s) % 6000);
        for (size_t k = 0; k < n; k++)
            buf[k] = (uint8_t)rnd(&s);
        LLVMFuzzerTestOneInput(buf, n);
        passed++;
    }
    fprintf(stderr, "pf_fuzz_writer: %d of %d inputs accepted and checked\n", g_accepted,
            passed);
    printf("%d passed, 0 failed\n", passed);
    return 0;
}
#endif
