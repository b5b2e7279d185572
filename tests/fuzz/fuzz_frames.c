/*
 * fuzz_frames.c - fuzz target for the progress frame stream decoder
 * (src/perfetto/pf_frames.c), which reads what a server sends over HTTP.
 *
 * Each input is decoded three ways: pf_frames_validate (framing, JSON
 * payloads, offsets, the summary's count, trace rebuilt under a cap); the
 * incremental reader over the whole buffer at once; and the incremental
 * reader fed in small pieces whose sizes come from the input itself.  Beyond
 * "no crash, no out-of-bounds read, no leak", the two incremental passes
 * must agree on every frame and on the verdict: a reader whose answer
 * depends on how the network split the bytes is a bug, and abort() makes the
 * fuzzer report it.
 */
#include "base/dbuf.h"
#include "perfetto/pf_frames.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct verdict {
    int rc;          /* last pf_frame_next code, or the finish code */
    uint64_t frames;
    uint64_t data_bytes;
    uint64_t sum;    /* a checksum of frame types, lengths and offsets */
} verdict;

static void note(verdict *v, const pf_frame *f)
{
    v->frames++;
    if (f->type == PF_FRAME_DATA)
        v->data_bytes += f->len;
    v->sum = v->sum * 31 + f->type * 7 + f->len + f->offset;
}

static verdict whole(const uint8_t *p, size_t n)
{
    verdict v = {0, 0, 0, 0};
    pf_frame_reader r;
    pf_frame_reader_init(&r);
    errmsg e;
    size_t off = 0;
    for (;;) {
        pf_frame f;
        size_t used;
        int rc = pf_frame_next(&r, p + off, n - off, &used, &f, &e);
        if (rc < 0) {
            v.rc = rc;
            return v;
        }
        if (rc == 0)
            break;
        note(&v, &f);
        off += used;
    }
    v.rc = off == n ? pf_frame_reader_finish(&r, &e) : SL_ETRUNC;
    return v;
}

static verdict pieces(const uint8_t *p, size_t n)
{
    verdict v = {0, 0, 0, 0};
    pf_frame_reader r;
    pf_frame_reader_init(&r);
    errmsg e;
    size_t start = 0, avail = 0, k = 0;
    while (avail < n) {
        size_t step = 1 + (n ? p[k++ % n] % 23 : 0);
        avail = avail + step > n ? n : avail + step;
        for (;;) {
            pf_frame f;
            size_t used;
            /* A private copy of the window, so ASan sees any read past it. */
            size_t w = avail - start;
            uint8_t *win = malloc(w ? w : 1);
            memcpy(win, p + start, w);
            int rc = pf_frame_next(&r, win, w, &used, &f, &e);
            if (rc == 1)
                note(&v, &f);
            free(win);
            if (rc < 0) {
                v.rc = rc;
                return v;
            }
            if (rc == 0)
                break;
            start += used;
        }
    }
    v.rc = start == n ? pf_frame_reader_finish(&r, &e) : SL_ETRUNC;
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    errmsg e;
    dbuf trace;
    dbuf_init(&trace, (size_t)1 << 24);
    uint8_t final = 0;
    int rc = pf_frames_validate(data, size, &trace, &final, &e);
    verdict a = whole(data, size), b = pieces(data, size);
    if (a.rc != b.rc || a.frames != b.frames || a.data_bytes != b.data_bytes || a.sum != b.sum)
        abort();
    /* a valid stream is valid framing too, and carries exactly its data */
    if (rc == 0 && (a.rc != 0 || a.data_bytes != trace.len))
        abort();
    dbuf_free(&trace);
    return 0;
}
