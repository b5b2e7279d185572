/*
 * pf_seq.h - writes the TracePackets of one Perfetto packet sequence.
 *
 * A Perfetto trace (trace/trace.proto) is a sequence of length-delimited
 * TracePackets, each tagged with a trusted_packet_sequence_id.  Incremental
 * state (interned strings, packet defaults, the incremental clock) is scoped
 * to one sequence id, so a pf_seq owns everything needed to encode its packets
 * and shares nothing: several pf_seq, each with its own id and sink, can run
 * on different threads at once, and their outputs concatenated at packet
 * boundaries (for instance thread by thread, in a stable order) form a valid
 * trace.  This is what lets trace generation encode threads in parallel.
 *
 * Packets of a sequence (docs/internals/perfetto.md has the byte-level list):
 *  - the first packet, and the first after every interning reset, clears the
 *    incremental state (SEQ_INCREMENTAL_STATE_CLEARED) and declares
 *    TracePacketDefaults: the timestamp clock and, if configured, the default
 *    track of the sequence's events; in incremental mode it also carries the
 *    ClockSnapshot that anchors sequence clock 64 to BOOTTIME;
 *  - every packet carries SEQ_NEEDS_INCREMENTAL_STATE (they use the defaults);
 *  - track descriptors (process, thread, child tracks such as async lanes);
 *  - TrackEvent slice begin / end, naming interned name, category and source
 *    location iids, with new interned entries in the same packet.
 *
 * Timestamps are exact nanoseconds.  PF_TS_ABSOLUTE writes each packet's
 * value as is (about 10 bytes for wall-clock ns); PF_TS_INCREMENTAL writes the
 * difference from the sequence's previous timestamp (1 to 4 bytes typically),
 * falling back to an absolute BOOTTIME value for a packet earlier than its
 * predecessor, so any event order stays exact.
 *
 * Output goes to the sink in chunks: packets are staged in a buffer and a
 * chunk is handed over as soon as the next packet would make it larger than
 * chunk_bytes.  Every chunk is a whole number of packets and at most
 * chunk_bytes long, except that a single packet larger than chunk_bytes is a
 * chunk of its own (packets are bounded by PF_PACKET_MAX_BYTES).  Call
 * pf_seq_flush at the end to hand over the rest.
 *
 * Errors are sticky: after the first failure (sink error, bad argument) every
 * call returns that code and pf_seq_error() says what happened.
 */
#ifndef SL_PERFETTO_PF_SEQ_H
#define SL_PERFETTO_PF_SEQ_H

#include "base/dbuf.h"
#include "base/err.h"
#include "perfetto/pf_intern.h"
#include "perfetto/pf_sink.h"

#include <stddef.h>
#include <stdint.h>

#define PF_CHUNK_BYTES_DEFAULT (64 * 1024)
#define PF_PACKET_MAX_BYTES (16 * 1024)
#define PF_BOUND_SITES_MAX (1u << 22)

typedef enum pf_ts_mode {
    PF_TS_ABSOLUTE = 0,
    PF_TS_INCREMENTAL = 1,
} pf_ts_mode;

typedef struct pf_seq_cfg {
    uint32_t seq_id;             /* trusted_packet_sequence_id: nonzero, unique per trace */
    pf_ts_mode ts_mode;
    uint64_t default_track_uuid; /* events on this track omit track_uuid; 0: none */
    size_t chunk_bytes;          /* 0: PF_CHUNK_BYTES_DEFAULT */
    size_t intern_max_bytes;     /* 0: PF_INTERN_MAX_BYTES_DEFAULT */
    uint32_t intern_max_entries; /* 0: PF_INTERN_MAX_ENTRIES_DEFAULT */
} pf_seq_cfg;

typedef struct pf_seq_stats {
    uint64_t packets;
    uint64_t bytes;          /* encoded bytes, staged or handed over */
    uint64_t chunks;         /* sink calls */
    uint64_t slices_begun;
    uint64_t slices_ended;
    uint64_t clears;         /* packets with SEQ_INCREMENTAL_STATE_CLEARED */
    uint64_t interned;       /* interned entries emitted */
    uint64_t abs_fallbacks;  /* incremental mode: packets that went back in time */
} pf_seq_stats;

typedef struct pf_seq {
    pf_seq_cfg cfg;
    pf_sink sink;
    pf_intern in;
    dbuf out;            /* staged complete packets, fewer than chunk_bytes */
    int started;         /* the first packet has been written */
    int need_clear;      /* the next packet must follow a state clear */
    int err;             /* sticky first error */
    int64_t last_ts;     /* incremental clock: last timestamp written, ns */
    const pf_site *bound;     /* site dictionary of pf_seq_sites_bind */
    uint32_t nbound;
    uint32_t memo_cap;
    uint32_t *memo_gen;       /* per bound site: generation of memo_iids, 0 = none */
    pf_iids *memo_iids;
    uint8_t trailer[48];      /* encoded sequence id + SEQ_NEEDS_INCREMENTAL_STATE */
    uint8_t trailer_len;
    errmsg emsg;
    pf_seq_stats stats;
} pf_seq;

/* Ready to write; nothing is emitted yet.  0, or SL_EINVAL (seq_id 0). */
int pf_seq_init(pf_seq *s, const pf_seq_cfg *cfg, pf_sink sink, errmsg *e);
/* Frees memory; staged bytes that were not flushed are dropped. */
void pf_seq_destroy(pf_seq *s);
/* What the first error was (or "ok"). */
const char *pf_seq_error(const pf_seq *s);

/* A process track: TrackDescriptor{uuid, process{pid, process_name}}. */
int pf_seq_process_track(pf_seq *s, uint64_t uuid, int32_t pid, const char *name,
                         size_t name_len);
/* A thread track: TrackDescriptor{uuid, parent_uuid, thread{pid, tid, thread_name}}. */
int pf_seq_thread_track(pf_seq *s, uint64_t uuid, uint64_t parent_uuid, int32_t pid, int64_t tid,
                        const char *name, size_t name_len);
/*
 * A named child track, e.g. an async lane under its process:
 * TrackDescriptor{uuid, parent_uuid, name, sibling_merge_behavior = NONE}
 * (NONE keeps the reader from merging same-named siblings into one track).
 */
int pf_seq_child_track(pf_seq *s, uint64_t uuid, uint64_t parent_uuid, const char *name,
                       size_t name_len);

/*
 * A slice begins on track_uuid (0: the sequence's default track) at ts_ns
 * (>= 0).  Its name, category and source location are interned.
 */
int pf_seq_slice_begin(pf_seq *s, uint64_t track_uuid, int64_t ts_ns, const pf_site *site);
/* The innermost open slice on track_uuid ends at ts_ns. */
int pf_seq_slice_end(pf_seq *s, uint64_t track_uuid, int64_t ts_ns);

/*
 * Batch fast path: bind a dictionary of sites (e.g. the distinct call sites
 * of one batch of rows), then begin slices by index.  Each site is interned
 * once per binding and generation, after which a begin costs no hashing.
 * sites must stay valid until the next bind.  0, SL_ETOOBIG past
 * PF_BOUND_SITES_MAX, SL_ENOMEM.
 */
int pf_seq_sites_bind(pf_seq *s, const pf_site *sites, size_t n_sites);
int pf_seq_slice_begin_bound(pf_seq *s, uint64_t track_uuid, int64_t ts_ns, uint32_t site_idx);

/* Hand the staged packets to the sink (call once the sequence is done). */
int pf_seq_flush(pf_seq *s);

#endif
