/*
 * pf_seq.c - the packets of one Perfetto sequence (see pf_seq.h).
 *
 * Every packet is encoded straight into the staging buffer: the buffer is
 * first grown to hold an upper bound of the packet (fixed overhead plus the
 * strings it carries), then a pw writer fills it and the packet's length is
 * backpatched (pf_wire.h).  Nothing is allocated per packet once the staging
 * buffer and the interning tables have reached their working size.
 *
 * The order inside a packet does not matter to readers (protobuf fields are
 * keyed); we write timestamp, payload, interned_data, sequence id, flags.
 * Readers apply a packet's state changes in a fixed order whatever the byte
 * order: clear, then defaults, then interned data, then the payload.
 */
#include "perfetto/pf_seq.h"

#include "base/alloc.h"
#include "perfetto/pf_proto.h"
#include "perfetto/pf_wire.h"

#include <string.h>

/* Room for the fixed fields of any packet: tags, ids, flags, timestamps. */
#define PKT_OVERHEAD 128

static int fail(pf_seq *s, int code, const char *fmt, const char *detail)
{
    if (!s->err) {
        s->err = code;
        errmsg_set(&s->emsg, code, fmt, detail);
    }
    return s->err;
}

int pf_seq_init(pf_seq *s, const pf_seq_cfg *cfg, pf_sink sink, errmsg *e)
{
    memset(s, 0, sizeof *s);
    if (!cfg || cfg->seq_id == 0 || !sink.write)
        return errmsg_set(e, SL_EINVAL, "pf_seq: a nonzero seq_id and a sink are required");
    s->cfg = *cfg;
    if (!s->cfg.chunk_bytes)
        s->cfg.chunk_bytes = PF_CHUNK_BYTES_DEFAULT;
    if (!s->cfg.intern_max_bytes)
        s->cfg.intern_max_bytes = PF_INTERN_MAX_BYTES_DEFAULT;
    if (!s->cfg.intern_max_entries)
        s->cfg.intern_max_entries = PF_INTERN_MAX_ENTRIES_DEFAULT;
    s->sink = sink;
    pf_intern_init(&s->in, s->cfg.intern_max_bytes, s->cfg.intern_max_entries);
    dbuf_init(&s->out, s->cfg.chunk_bytes + PF_PACKET_MAX_BYTES);
    pw w;
    pw_init(&w, s->trailer, sizeof s->trailer);
    pw_varint(&w, PF_PKT_TRUSTED_PACKET_SEQUENCE_ID, s->cfg.seq_id);
    pw_varint(&w, PF_PKT_SEQUENCE_FLAGS, PF_SEQ_NEEDS_INCREMENTAL_STATE);
    s->trailer_len = (uint8_t)pw_len(&w);
    if (w.err)
        return errmsg_set(e, SL_EINTERNAL, "pf_seq: the packet trailer does not fit");
    errmsg_clear(&s->emsg);
    return SL_OK;
}

void pf_seq_destroy(pf_seq *s)
{
    pf_intern_free(&s->in);
    dbuf_free(&s->out);
    sl_free(s->memo_gen);
    sl_free(s->memo_iids);
    s->memo_gen = NULL;
    s->memo_iids = NULL;
}

const char *pf_seq_error(const pf_seq *s)
{
    return s->err ? errmsg_str(&s->emsg) : "ok";
}

static int emit(pf_seq *s, const uint8_t *p, size_t n)
{
    if (n == 0)
        return SL_OK;
    s->stats.chunks++;
    int rc = s->sink.write(s->sink.ctx, p, n);
    if (rc)
        return fail(s, rc, "pf_seq: the sink failed: %s", sl_strerror(rc));
    return SL_OK;
}

/*
 * Called after each packet, which starts at pkt_start in the staging buffer:
 * hands over everything before it once the buffer passes chunk_bytes, so each
 * chunk is as full as whole packets allow without passing chunk_bytes.
 */
static int after_packet(pf_seq *s, size_t pkt_start)
{
    size_t chunk = s->cfg.chunk_bytes;
    int rc;
    if (s->out.len < chunk)
        return SL_OK;
    if (s->out.len > chunk && pkt_start > 0) {
        if ((rc = emit(s, s->out.p, pkt_start)))
            return rc;
        size_t rest = s->out.len - pkt_start;
        memmove(s->out.p, s->out.p + pkt_start, rest);
        s->out.len = rest;
        if (rest < chunk)
            return SL_OK;
    }
    /* Exactly full, or one packet that alone is at least a chunk. */
    rc = emit(s, s->out.p, s->out.len);
    s->out.len = 0;
    return rc;
}

/* Opens a packet with room for bound bytes; returns 0 or the error. */
static int pkt_open(pf_seq *s, pw *w, size_t bound)
{
    if (s->err)
        return s->err;
    /* Inline fast path: the staging buffer has usually reached its size. */
    if (!s->out.p || s->out.cap - s->out.len < bound) {
        int rc = dbuf_reserve(&s->out, bound);
        if (rc)
            return fail(s, rc, "pf_seq: cannot stage a packet: %s", sl_strerror(rc));
    }
    pw_init(w, s->out.p + s->out.len, bound);
    pw_msg_begin(w, PF_TRACE_PACKET);
    return SL_OK;
}

static int pkt_close(pf_seq *s, pw *w, uint32_t flags)
{
    if (flags == PF_SEQ_NEEDS_INCREMENTAL_STATE && s->stats.packets && pw_room(w, s->trailer_len)) {
        /* The common trailer, encoded once at init (sequence id and flags). */
        memcpy(w->p, s->trailer, s->trailer_len);
        w->p += s->trailer_len;
    } else {
        pw_varint(w, PF_PKT_TRUSTED_PACKET_SEQUENCE_ID, s->cfg.seq_id);
        if (flags)
            pw_varint(w, PF_PKT_SEQUENCE_FLAGS, flags);
        if (s->stats.packets == 0)
            pw_varint(w, PF_PKT_FIRST_PACKET_ON_SEQUENCE, 1);
    }
    pw_msg_end(w);
    if (w->err)
        return fail(s, SL_EINTERNAL, "pf_seq: a packet passed its size bound (%s)",
                    sl_strerror(w->err));
    size_t start = s->out.len;
    s->out.len += pw_len(w);
    s->stats.packets++;
    s->stats.bytes += pw_len(w);
    return after_packet(s, start);
}

/* The packet's timestamp, in the sequence's encoding (see pf_seq.h). */
static void put_ts(pf_seq *s, pw *w, int64_t ts_ns)
{
    if (s->cfg.ts_mode == PF_TS_INCREMENTAL) {
        if (ts_ns >= s->last_ts) {
            pw_varint(w, PF_PKT_TIMESTAMP, (uint64_t)ts_ns - (uint64_t)s->last_ts); /* no signed overflow */
            s->last_ts = ts_ns;
        } else {
            pw_varint(w, PF_PKT_TIMESTAMP, (uint64_t)ts_ns);
            pw_varint(w, PF_PKT_TIMESTAMP_CLOCK_ID, PF_CLOCK_BOOTTIME);
            s->stats.abs_fallbacks++;
        }
    } else {
        pw_varint(w, PF_PKT_TIMESTAMP, (uint64_t)ts_ns);
    }
}

/*
 * The packet that (re)starts the sequence's incremental state.  In
 * incremental mode it anchors clock 64 at the current clock value (or, for the
 * very first packet, at the first timestamp to come, so the first delta is 0):
 * the value only grows, so successive snapshots of the sequence stay monotonic
 * as readers require.
 */
static int emit_clear(pf_seq *s, int64_t first_ts)
{
    pw w;
    int rc = pkt_open(s, &w, PKT_OVERHEAD);
    if (rc)
        return rc;
    if (!s->started)
        s->last_ts = first_ts;
    int incr = s->cfg.ts_mode == PF_TS_INCREMENTAL;
    pw_msg_begin(&w, PF_PKT_TRACE_PACKET_DEFAULTS);
    pw_varint(&w, PF_DEF_TIMESTAMP_CLOCK_ID, incr ? PF_CLOCK_SEQ_INCREMENTAL : PF_CLOCK_BOOTTIME);
    if (s->cfg.default_track_uuid) {
        pw_msg_begin(&w, PF_DEF_TRACK_EVENT_DEFAULTS);
        pw_varint(&w, PF_TED_TRACK_UUID, s->cfg.default_track_uuid);
        pw_msg_end(&w);
    }
    pw_msg_end(&w);
    if (incr) {
        pw_msg_begin(&w, PF_PKT_CLOCK_SNAPSHOT);
        pw_msg_begin(&w, PF_CS_CLOCKS);
        pw_varint(&w, PF_CLK_CLOCK_ID, PF_CLOCK_BOOTTIME);
        pw_varint(&w, PF_CLK_TIMESTAMP, (uint64_t)s->last_ts);
        pw_msg_end(&w);
        pw_msg_begin(&w, PF_CS_CLOCKS);
        pw_varint(&w, PF_CLK_CLOCK_ID, PF_CLOCK_SEQ_INCREMENTAL);
        pw_varint(&w, PF_CLK_TIMESTAMP, (uint64_t)s->last_ts);
        pw_varint(&w, PF_CLK_IS_INCREMENTAL, 1);
        pw_msg_end(&w);
        pw_msg_end(&w);
    }
    s->started = 1;
    s->need_clear = 0;
    s->stats.clears++;
    return pkt_close(s, &w, PF_SEQ_INCREMENTAL_STATE_CLEARED | PF_SEQ_NEEDS_INCREMENTAL_STATE);
}

static int ensure_state(pf_seq *s, int64_t first_ts)
{
    if (s->err)
        return s->err;
    if (!s->started || s->need_clear)
        return emit_clear(s, first_ts);
    return SL_OK;
}

static int check_ts(pf_seq *s, int64_t ts_ns)
{
    if (ts_ns < 0)
        return fail(s, SL_EINVAL, "pf_seq: negative timestamp%s", "");
    return s->err;
}

/* ------------------------------------------------------------------------ */
/* Track descriptors                                                         */

typedef struct desc {
    uint64_t uuid, parent_uuid;
    int kind; /* 0 process, 1 thread, 2 child */
    int32_t pid;
    int64_t tid;
    const char *name;
    uint32_t name_len;
} desc;

/*
 * Descriptors use no incremental state (no timestamp, no iids).  Before the
 * sequence's first clear they go out without flags, so that the clear, and
 * the anchor of the incremental clock, can wait for the first event and its
 * timestamp; after it they carry SEQ_NEEDS_INCREMENTAL_STATE like every
 * packet that follows TracePacketDefaults must.
 */
static int write_desc(pf_seq *s, const desc *d)
{
    int rc = s->started ? ensure_state(s, s->last_ts) : s->err;
    if (rc)
        return rc;
    pw w;
    if ((rc = pkt_open(s, &w, PKT_OVERHEAD + d->name_len)))
        return rc;
    pw_msg_begin(&w, PF_PKT_TRACK_DESCRIPTOR);
    pw_varint(&w, PF_TD_UUID, d->uuid);
    if (d->parent_uuid)
        pw_varint(&w, PF_TD_PARENT_UUID, d->parent_uuid);
    if (d->kind == 0) {
        pw_msg_begin(&w, PF_TD_PROCESS);
        pw_int64(&w, PF_PD_PID, d->pid);
        pw_bytes(&w, PF_PD_PROCESS_NAME, d->name, d->name_len);
        pw_msg_end(&w);
    } else if (d->kind == 1) {
        pw_msg_begin(&w, PF_TD_THREAD);
        pw_int64(&w, PF_THD_PID, d->pid);
        pw_int64(&w, PF_THD_TID, d->tid);
        pw_bytes(&w, PF_THD_THREAD_NAME, d->name, d->name_len);
        pw_msg_end(&w);
    } else {
        pw_bytes(&w, PF_TD_NAME, d->name, d->name_len);
        pw_varint(&w, PF_TD_SIBLING_MERGE_BEHAVIOR, PF_SIBLING_MERGE_BEHAVIOR_NONE);
    }
    pw_msg_end(&w);
    return pkt_close(s, &w, s->started ? PF_SEQ_NEEDS_INCREMENTAL_STATE : 0);
}

int pf_seq_process_track(pf_seq *s, uint64_t uuid, int32_t pid, const char *name, size_t name_len)
{
    desc d = {uuid, 0, 0, pid, 0, name, pf_str_clamp(name, name_len, PF_STR_MAX_BYTES)};
    return write_desc(s, &d);
}

int pf_seq_thread_track(pf_seq *s, uint64_t uuid, uint64_t parent_uuid, int32_t pid, int64_t tid,
                        const char *name, size_t name_len)
{
    desc d = {uuid, parent_uuid, 1, pid, tid, name, pf_str_clamp(name, name_len, PF_STR_MAX_BYTES)};
    return write_desc(s, &d);
}

int pf_seq_child_track(pf_seq *s, uint64_t uuid, uint64_t parent_uuid, const char *name,
                       size_t name_len)
{
    desc d = {uuid, parent_uuid, 2, 0, 0, name, pf_str_clamp(name, name_len, PF_STR_MAX_BYTES)};
    return write_desc(s, &d);
}

/* ------------------------------------------------------------------------ */
/* Slices                                                                    */

/* Writes InternedData with the entries of ids named by fresh. */
static void put_interned(pf_seq *s, pw *w, const pf_iids *ids, unsigned fresh)
{
    uint32_t len, line;
    const char *p;
    pw_msg_begin(w, PF_PKT_INTERNED_DATA);
    if (fresh & PF_FRESH_CAT) {
        p = pf_intern_bytes(&s->in, &s->in.cats, ids->cat, &len, NULL);
        pw_msg_begin(w, PF_ID_EVENT_CATEGORIES);
        pw_varint(w, PF_IN_IID, ids->cat);
        pw_bytes(w, PF_IN_NAME, p, len);
        pw_msg_end(w);
        s->stats.interned++;
    }
    if (fresh & PF_FRESH_NAME) {
        p = pf_intern_bytes(&s->in, &s->in.names, ids->name, &len, NULL);
        pw_msg_begin(w, PF_ID_EVENT_NAMES);
        pw_varint(w, PF_IN_IID, ids->name);
        pw_bytes(w, PF_IN_NAME, p, len);
        pw_msg_end(w);
        s->stats.interned++;
    }
    if (fresh & PF_FRESH_LOC) {
        p = pf_intern_bytes(&s->in, &s->in.locs, ids->loc, &len, &line);
        pw_msg_begin(w, PF_ID_SOURCE_LOCATIONS);
        pw_varint(w, PF_SL_IID, ids->loc);
        if (len)
            pw_bytes(w, PF_SL_FILE_NAME, p, len);
        pw_varint(w, PF_SL_LINE_NUMBER, line);
        pw_msg_end(w);
        s->stats.interned++;
    }
    pw_msg_end(w);
}

static size_t fresh_bytes(const pf_seq *s, const pf_iids *ids, unsigned fresh)
{
    size_t n = 0;
    uint32_t len;
    if (fresh & PF_FRESH_NAME && pf_intern_bytes(&s->in, &s->in.names, ids->name, &len, NULL))
        n += len + 32;
    if (fresh & PF_FRESH_CAT && pf_intern_bytes(&s->in, &s->in.cats, ids->cat, &len, NULL))
        n += len + 32;
    if (fresh & PF_FRESH_LOC && pf_intern_bytes(&s->in, &s->in.locs, ids->loc, &len, NULL))
        n += len + 32;
    return n;
}

static void put_track(const pf_seq *s, pw *w, uint64_t track_uuid)
{
    if (track_uuid && track_uuid != s->cfg.default_track_uuid)
        pw_varint(w, PF_TE_TRACK_UUID, track_uuid);
}

/* The begin packet once the site's iids are known and defined. */
static int write_begin(pf_seq *s, uint64_t track_uuid, int64_t ts_ns, const pf_iids *ids,
                       unsigned fresh)
{
    int rc = ensure_state(s, ts_ns);
    if (rc)
        return rc;
    pw w;
    if ((rc = pkt_open(s, &w, PKT_OVERHEAD + fresh_bytes(s, ids, fresh))))
        return rc;
    put_ts(s, &w, ts_ns);
    pw_msg_begin(&w, PF_PKT_TRACK_EVENT);
    pw_varint(&w, PF_TE_TYPE, PF_TYPE_SLICE_BEGIN);
    put_track(s, &w, track_uuid);
    if (ids->name)
        pw_varint(&w, PF_TE_NAME_IID, ids->name);
    if (ids->cat)
        pw_varint(&w, PF_TE_CATEGORY_IIDS, ids->cat);
    if (ids->loc)
        pw_varint(&w, PF_TE_SOURCE_LOCATION_IID, ids->loc);
    pw_msg_end(&w);
    if (fresh)
        put_interned(s, &w, ids, fresh);
    s->stats.slices_begun++;
    return pkt_close(s, &w, PF_SEQ_NEEDS_INCREMENTAL_STATE);
}

/* Interns site; a forced table reset makes the next packet clear the state. */
static int resolve(pf_seq *s, const pf_site *site, pf_iids *ids, unsigned *fresh)
{
    int did_reset = 0;
    int rc = pf_intern_site(&s->in, site, ids, fresh, &did_reset);
    if (did_reset)
        s->need_clear = 1;
    if (rc)
        return fail(s, rc, "pf_seq: interning failed: %s", sl_strerror(rc));
    return SL_OK;
}

int pf_seq_slice_begin(pf_seq *s, uint64_t track_uuid, int64_t ts_ns, const pf_site *site)
{
    int rc = check_ts(s, ts_ns);
    if (rc)
        return rc;
    pf_iids ids;
    unsigned fresh;
    if ((rc = resolve(s, site, &ids, &fresh)))
        return rc;
    return write_begin(s, track_uuid, ts_ns, &ids, fresh);
}

int pf_seq_slice_end(pf_seq *s, uint64_t track_uuid, int64_t ts_ns)
{
    int rc = check_ts(s, ts_ns);
    if (rc || (rc = ensure_state(s, ts_ns)))
        return rc;
    pw w;
    if ((rc = pkt_open(s, &w, PKT_OVERHEAD)))
        return rc;
    put_ts(s, &w, ts_ns);
    pw_msg_begin(&w, PF_PKT_TRACK_EVENT);
    pw_varint(&w, PF_TE_TYPE, PF_TYPE_SLICE_END);
    put_track(s, &w, track_uuid);
    pw_msg_end(&w);
    s->stats.slices_ended++;
    return pkt_close(s, &w, PF_SEQ_NEEDS_INCREMENTAL_STATE);
}

int pf_seq_sites_bind(pf_seq *s, const pf_site *sites, size_t n_sites)
{
    if (s->err)
        return s->err;
    if (n_sites > PF_BOUND_SITES_MAX)
        return fail(s, SL_ETOOBIG, "pf_seq: too many sites in one binding%s", "");
    if (n_sites > s->memo_cap) {
        uint32_t ncap = s->memo_cap ? s->memo_cap : 256;
        while (ncap < n_sites)
            ncap *= 2;
        uint32_t *g = sl_realloc(s->memo_gen, (size_t)ncap * sizeof *g);
        if (g)
            s->memo_gen = g;
        pf_iids *m = g ? sl_realloc(s->memo_iids, (size_t)ncap * sizeof *m) : NULL;
        if (!m)
            return fail(s, SL_ENOMEM, "pf_seq: no memory for the site memo%s", "");
        s->memo_iids = m;
        s->memo_cap = ncap;
    }
    if (n_sites)
        memset(s->memo_gen, 0, n_sites * sizeof *s->memo_gen);
    s->bound = sites;
    s->nbound = (uint32_t)n_sites;
    return SL_OK;
}

int pf_seq_slice_begin_bound(pf_seq *s, uint64_t track_uuid, int64_t ts_ns, uint32_t site_idx)
{
    int rc = check_ts(s, ts_ns);
    if (rc)
        return rc;
    if (site_idx >= s->nbound)
        return fail(s, SL_EINVAL, "pf_seq: site index outside the bound sites%s", "");
    pf_iids *ids = &s->memo_iids[site_idx];
    unsigned fresh = 0;
    if (s->memo_gen[site_idx] != s->in.generation) {
        if ((rc = resolve(s, &s->bound[site_idx], ids, &fresh)))
            return rc;
        s->memo_gen[site_idx] = s->in.generation;
    }
    return write_begin(s, track_uuid, ts_ns, ids, fresh);
}

int pf_seq_flush(pf_seq *s)
{
    if (s->err)
        return s->err;
    int rc = emit(s, s->out.p, s->out.len);
    s->out.len = 0;
    return rc;
}
