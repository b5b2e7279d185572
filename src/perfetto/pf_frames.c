/*
 * pf_frames.c - the progress frame stream: writer and reader (see
 * pf_frames.h and docs/internals/perfetto.md section 10).
 *
 * The writer sends a frame header and its payload as separate sink calls,
 * so trace chunks are never copied.  The reader is a pure function of the
 * bytes it is handed plus a few counters: it checks the stream header, each
 * frame header (known type, zero reserved bytes, length within the caps and
 * the DATA minimum) and the continuity of DATA offsets, and refuses anything
 * after the final frame.
 */
#include "perfetto/pf_frames.h"

#include "base/arena.h"
#include "base/bytes.h"
#include "base/json.h"
#include "perfetto/pf_intern.h"

#include <string.h>

static const uint8_t MAGIC[4] = {'S', 'L', 'P', 'F'};

/* ---- writer ---------------------------------------------------------------- */

void pf_frame_writer_init(pf_frame_writer *w, pf_sink out)
{
    memset(w, 0, sizeof *w);
    w->out = out;
    dbuf_init(&w->json, PF_FRAME_MAX_JSON);
}

void pf_frame_writer_free(pf_frame_writer *w)
{
    dbuf_free(&w->json);
}

static int put(pf_frame_writer *w, const uint8_t *p, size_t n)
{
    if (w->err)
        return w->err;
    int rc = w->out.write(w->out.ctx, p, n);
    if (rc)
        w->err = rc;
    return rc;
}

/* Header, then payload (prefix: the DATA offset, written with the header). */
static int frame(pf_frame_writer *w, uint8_t type, const uint8_t *payload, size_t n,
                 const uint8_t *prefix, size_t nprefix)
{
    if (w->err)
        return w->err;
    if (w->ended)
        return w->err = SL_ESTATE;
    if (n + nprefix > PF_FRAME_MAX_PAYLOAD)
        return w->err = SL_ETOOBIG;
    uint8_t hdr[PF_FRAMES_HEADER_BYTES + PF_FRAME_HEADER_BYTES + 8];
    size_t h = 0;
    if (!w->started) {
        memcpy(hdr, MAGIC, 4);
        st_u16le(hdr + 4, PF_FRAMES_VERSION);
        st_u16le(hdr + 6, 0);
        h = PF_FRAMES_HEADER_BYTES;
        w->started = 1;
    }
    hdr[h] = type;
    hdr[h + 1] = hdr[h + 2] = hdr[h + 3] = 0;
    st_u32le(hdr + h + 4, (uint32_t)(n + nprefix));
    h += PF_FRAME_HEADER_BYTES;
    if (nprefix)
        memcpy(hdr + h, prefix, nprefix);
    h += nprefix;
    int rc = put(w, hdr, h);
    if (!rc && n)
        rc = put(w, payload, n);
    if (!rc) {
        w->frames++;
        if (type == PF_FRAME_SUMMARY || type == PF_FRAME_ERROR)
            w->ended = 1;
    }
    return rc;
}

int pf_frame_write(pf_frame_writer *w, uint8_t type, const uint8_t *payload, size_t n)
{
    return frame(w, type, payload, n, NULL, 0);
}

static int data_write(void *ctx, const uint8_t *p, size_t n)
{
    pf_frame_writer *w = ctx;
    uint8_t off[8];
    st_u64le(off, w->offset);
    int rc = frame(w, PF_FRAME_DATA, p, n, off, 8);
    if (!rc)
        w->offset += n;
    return rc;
}

pf_sink pf_frame_writer_data_sink(pf_frame_writer *w)
{
    return (pf_sink){data_write, w};
}

void pf_frame_writer_progress(void *ctx, const pf_progress *p)
{
    pf_frame_writer *w = ctx;
    dbuf_reset(&w->json);
    if (pf_progress_json(p, &w->json) == 0)
        frame(w, PF_FRAME_PROGRESS, w->json.p, w->json.len, NULL, 0);
}

int pf_frame_writer_summary(pf_frame_writer *w, const pf_gen_summary *s)
{
    dbuf_reset(&w->json);
    int rc = pf_gen_summary_json(s, &w->json);
    return rc ? rc : frame(w, PF_FRAME_SUMMARY, w->json.p, w->json.len, NULL, 0);
}

int pf_frame_writer_error(pf_frame_writer *w, int code, const char *message)
{
    dbuf_reset(&w->json);
    jw j;
    jw_init(&j, &w->json);
    jw_obj_begin(&j);
    jw_key(&j, "code");
    jw_int(&j, code);
    jw_key(&j, "error");
    jw_str(&j, sl_strerror(code));
    jw_key(&j, "message");
    pf_json_put_text(&j, message);
    jw_obj_end(&j);
    return j.err ? j.err : frame(w, PF_FRAME_ERROR, w->json.p, w->json.len, NULL, 0);
}

int pf_frames_run(pf_gen *g, pf_frame_writer *w)
{
    int rc = pf_gen_run(g, pf_frame_writer_data_sink(w));
    if (w->err)
        return w->err; /* our own sink failed: nobody is listening any more */
    if (rc) {
        pf_frame_writer_error(w, rc, pf_gen_error(g));
        return w->err ? w->err : rc;
    }
    return pf_frame_writer_summary(w, pf_gen_get_summary(g));
}

/* ---- reader ---------------------------------------------------------------- */

void pf_frame_reader_init(pf_frame_reader *r)
{
    memset(r, 0, sizeof *r);
}

static int bad(errmsg *e, int code, uint64_t at, const char *what)
{
    return errmsg_set(e, code, "frame stream, byte %llu: %s", (unsigned long long)at, what);
}

int pf_frame_next(pf_frame_reader *r, const uint8_t *p, size_t n, size_t *used, pf_frame *out,
                  errmsg *e)
{
    *used = 0;
    size_t h = 0;
    if (r->state == 2)
        return n ? bad(e, SL_ECORRUPT, r->pos, "bytes after the final frame") : 0;
    if (n == 0)
        return 0; /* p may be NULL then */
    if (r->state == 0) {
        if (n < PF_FRAMES_HEADER_BYTES) {
            if (memcmp(p, MAGIC, n < 4 ? n : 4) != 0)
                return bad(e, SL_ECORRUPT, r->pos, "not a streamlake frame stream (magic)");
            return 0;
        }
        if (memcmp(p, MAGIC, 4) != 0)
            return bad(e, SL_ECORRUPT, r->pos, "not a streamlake frame stream (magic)");
        if (ld_u16le(p + 4) != PF_FRAMES_VERSION)
            return errmsg_set(e, SL_EVERSION, "frame stream, byte %llu: version %u, this build "
                              "reads %d", (unsigned long long)r->pos + 4, ld_u16le(p + 4),
                              PF_FRAMES_VERSION);
        if (ld_u16le(p + 6) != 0)
            return bad(e, SL_ECORRUPT, r->pos + 6, "reserved header bytes are not zero");
        h = PF_FRAMES_HEADER_BYTES;
    }
    uint64_t at = r->pos + h;
    if (n - h < PF_FRAME_HEADER_BYTES)
        return 0;
    const uint8_t *f = p + h;
    uint8_t type = f[0];
    uint32_t len = ld_u32le(f + 4);
    if (type < PF_FRAME_PROGRESS || type > PF_FRAME_ERROR)
        return bad(e, SL_ECORRUPT, at, "unknown frame type");
    if (f[1] || f[2] || f[3])
        return bad(e, SL_ECORRUPT, at + 1, "reserved frame bytes are not zero");
    size_t cap = type == PF_FRAME_DATA ? PF_FRAME_MAX_PAYLOAD : PF_FRAME_MAX_JSON;
    if (len > cap)
        return bad(e, SL_ETOOBIG, at + 4, "frame longer than its cap");
    if (type == PF_FRAME_DATA && len <= 8)
        return bad(e, SL_ECORRUPT, at + 4, "data frame without trace bytes");
    if (n - h - PF_FRAME_HEADER_BYTES < len)
        return 0;
    const uint8_t *pl = f + PF_FRAME_HEADER_BYTES;
    *out = (pf_frame){type, pl, len, 0};
    if (type == PF_FRAME_DATA) {
        out->offset = ld_u64le(pl);
        if (out->offset != r->next_offset)
            return errmsg_set(e, SL_ECORRUPT, "frame stream, byte %llu: data at trace offset "
                              "%llu, expected %llu", (unsigned long long)at + 8,
                              (unsigned long long)out->offset,
                              (unsigned long long)r->next_offset);
        out->payload = pl + 8;
        out->len = len - 8;
        r->next_offset += out->len;
    }
    if (type == PF_FRAME_SUMMARY || type == PF_FRAME_ERROR) {
        r->state = 2;
        r->final_type = type;
    } else {
        r->state = 1;
    }
    *used = h + PF_FRAME_HEADER_BYTES + len;
    r->pos += *used;
    r->frames++;
    return 1;
}

int pf_frame_reader_finish(const pf_frame_reader *r, errmsg *e)
{
    if (r->state == 2)
        return SL_OK;
    return bad(e, SL_ETRUNC, r->pos, "the stream ends without a summary or an error frame");
}

/* JSON payloads: an object, with the members each type promises. */
static int check_json(const pf_frame *f, uint64_t at, uint64_t trace_bytes, errmsg *e)
{
    arena a;
    arena_init(&a, 16 * 1024, 1 << 20);
    json_val *v = NULL;
    errmsg je;
    size_t ok = pf_utf8_valid_len((const char *)f->payload, f->len);
    if (ok != f->len) {
        arena_destroy(&a);
        return bad(e, SL_ECORRUPT, at + ok, "JSON payload is not valid UTF-8");
    }
    int rc = json_parse(&a, (const char *)f->payload, f->len, &v, &je);
    if (rc) {
        rc = errmsg_set(e, SL_ECORRUPT, "frame stream, byte %llu: bad JSON payload: %s",
                        (unsigned long long)at, errmsg_str(&je));
        goto out;
    }
    const json_val *k;
    if (v->type != JSON_OBJ) {
        rc = bad(e, SL_ECORRUPT, at, "JSON payload is not an object");
    } else if (f->type == PF_FRAME_PROGRESS) {
        k = json_get(v, "kind");
        if (!k || k->type != JSON_STR)
            rc = bad(e, SL_ECORRUPT, at, "progress without a kind");
    } else if (f->type == PF_FRAME_ERROR) {
        k = json_get(v, "code");
        const json_val *m = json_get(v, "message");
        if (!k || k->type != JSON_NUM || !k->is_int || k->i >= 0 || !m || m->type != JSON_STR)
            rc = bad(e, SL_ECORRUPT, at, "error without a negative code and a message");
    } else if (f->type == PF_FRAME_SUMMARY) {
        k = json_get(v, "bytes");
        if (k && (k->type != JSON_NUM || !k->is_int || k->i < 0 ||
                  (uint64_t)k->i != trace_bytes))
            rc = errmsg_set(e, SL_ECORRUPT, "frame stream, byte %llu: the summary counts "
                            "other bytes than the %llu received", (unsigned long long)at,
                            (unsigned long long)trace_bytes);
    }
out:
    arena_destroy(&a);
    return rc;
}

int pf_frames_validate(const uint8_t *p, size_t n, dbuf *trace_out, uint8_t *final_type,
                       errmsg *e)
{
    pf_frame_reader r;
    pf_frame_reader_init(&r);
    size_t off = 0;
    for (;;) {
        pf_frame f;
        size_t used;
        int rc = pf_frame_next(&r, p + off, n - off, &used, &f, e);
        if (rc < 0)
            return rc;
        if (rc == 0)
            break;
        uint64_t at = r.pos - used;
        if (f.type == PF_FRAME_DATA && trace_out && (rc = dbuf_append(trace_out, f.payload, f.len)))
            return errmsg_set(e, rc, "frame stream: the trace passes its cap");
        if (f.type != PF_FRAME_DATA && (rc = check_json(&f, at, r.next_offset, e)))
            return rc;
        off += used;
    }
    if (off != n && r.state != 2)
        return bad(e, SL_ETRUNC, r.pos, "the stream ends inside a frame");
    if (final_type)
        *final_type = r.final_type;
    return pf_frame_reader_finish(&r, e);
}
