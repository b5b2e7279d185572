/*
 * pf_frames.h - the progress frame stream of trace generation over HTTP.
 *
 * `POST /api/perfetto/{process_id}/generate` answers with a stream of typed,
 * length-prefixed frames: progress messages, trace data chunks, and finally
 * a summary or an error.  Every byte of the stream belongs to exactly one
 * frame whose header says its type and length, so a reader can never take
 * trace bytes for a message or the reverse (no "marker, then raw bytes").
 * docs/internals/perfetto.md section 10 has the byte tables; in short:
 *
 *   stream  = header frame* final
 *   header  = "SLPF" u16le version (1) u16le 0                    8 bytes
 *   frame   = u8 type, 3 bytes 0, u32le payload length, payload
 *   PROGRESS (1) JSON object       DATA (2) u64le offset, trace bytes
 *   SUMMARY  (3) JSON object       ERROR (4) JSON object
 *
 * DATA offsets are the position of the bytes in the trace: they start at 0
 * and each one continues the previous, so the trace is the concatenation of
 * the DATA payloads and a gap or overlap is detected.  The stream ends with
 * exactly one SUMMARY (success) or ERROR frame; a stream that stops before
 * it was cut short.
 *
 * Writer: wraps any byte sink (an HTTP response body) and offers a data
 * sink, a progress callback (pf_progress_fn) and the final frames.  It writes
 * nothing until the first frame, so a caller can still answer 404 when
 * pf_gen_open fails.  Errors are sticky: after a sink failure every call
 * returns it, and the generator, whose data sink fails, cancels.
 *
 * Reader: an incremental decoder over bytes as they arrive, which never
 * reads outside what it is given and reports what is wrong and at which
 * stream offset.  pf_frames_validate checks a whole stream (framing, JSON
 * payloads, offsets, the summary's byte count) and can rebuild the trace.
 */
#ifndef SL_PERFETTO_PF_FRAMES_H
#define SL_PERFETTO_PF_FRAMES_H

#include "base/dbuf.h"
#include "base/err.h"
#include "perfetto/pf_gen.h"
#include "perfetto/pf_sink.h"

#include <stddef.h>
#include <stdint.h>

#define PF_FRAMES_VERSION 1
#define PF_FRAMES_HEADER_BYTES 8
#define PF_FRAME_HEADER_BYTES 8
#define PF_FRAME_MAX_PAYLOAD ((size_t)16 << 20)
#define PF_FRAME_MAX_JSON ((size_t)64 << 10)

enum {
    PF_FRAME_PROGRESS = 1,
    PF_FRAME_DATA = 2,
    PF_FRAME_SUMMARY = 3,
    PF_FRAME_ERROR = 4,
};

typedef struct pf_frame_writer {
    pf_sink out;
    uint64_t offset;   /* trace bytes framed so far */
    uint64_t frames;
    int started;       /* the stream header is out */
    int ended;         /* the final frame is out */
    int err;           /* sticky */
    dbuf json;         /* scratch for JSON payloads */
} pf_frame_writer;

/* Nothing is written yet. */
void pf_frame_writer_init(pf_frame_writer *w, pf_sink out);
void pf_frame_writer_free(pf_frame_writer *w);
/* One frame of any type (DATA payloads include their offset). 0 or the error. */
int pf_frame_write(pf_frame_writer *w, uint8_t type, const uint8_t *payload, size_t n);
/* A sink turning each chunk into a DATA frame. */
pf_sink pf_frame_writer_data_sink(pf_frame_writer *w);
/* A pf_progress_fn (ctx = the writer) writing PROGRESS frames. */
void pf_frame_writer_progress(void *ctx, const pf_progress *p);
int pf_frame_writer_summary(pf_frame_writer *w, const pf_gen_summary *s);
int pf_frame_writer_error(pf_frame_writer *w, int code, const char *message);

/*
 * Runs g to its end into w: DATA frames, then SUMMARY, or ERROR when
 * generation fails (cancel included).  When w's own sink fails (the client
 * went away) nothing more is written and that code is returned.  Set
 * cfg.progress = pf_frame_writer_progress, progress_ctx = w before
 * pf_gen_open to interleave progress frames.
 */
int pf_frames_run(pf_gen *g, pf_frame_writer *w);

typedef struct pf_frame {
    uint8_t type;
    const uint8_t *payload; /* DATA: the trace bytes, after the offset */
    size_t len;
    uint64_t offset;        /* DATA only */
} pf_frame;

typedef struct pf_frame_reader {
    uint64_t pos;          /* stream bytes consumed */
    uint64_t next_offset;  /* the DATA offset expected next */
    uint64_t frames;
    int state;             /* 0 header expected, 1 frames, 2 final frame seen */
    uint8_t final_type;
} pf_frame_reader;

void pf_frame_reader_init(pf_frame_reader *r);
/*
 * Decodes from p[0..n), the bytes that follow what was consumed so far.
 * Returns 1 with *out and *used set (the frame, and any stream header before
 * it, were consumed; out points into p), 0 when more bytes are needed
 * (*used = 0), or SL_EVERSION / SL_ECORRUPT / SL_ETOOBIG with the reason and
 * stream offset in e.
 */
int pf_frame_next(pf_frame_reader *r, const uint8_t *p, size_t n, size_t *used, pf_frame *out,
                  errmsg *e);
/* At the end of input: 0 if the final frame was seen, else SL_ETRUNC. */
int pf_frame_reader_finish(const pf_frame_reader *r, errmsg *e);

/*
 * Checks a whole stream: framing, JSON payloads, DATA offsets, the
 * summary's "bytes".  Appends the trace to trace_out when not NULL (its cap
 * applies).  *final_type (if not NULL) gets PF_FRAME_SUMMARY or
 * PF_FRAME_ERROR.  0 or the first problem's code, with e.
 */
int pf_frames_validate(const uint8_t *p, size_t n, dbuf *trace_out, uint8_t *final_type,
                       errmsg *e);

#endif
