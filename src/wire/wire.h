/*
 * wire.h - the block format shared by the tracing client and the server.
 *
 * Four messages cross the boundary between an instrumented process and
 * streamlake (docs/internals/block-format.md is the specification, with byte
 * tables; this header mirrors it):
 *
 *   process message  "SLPR"  who the process is and how to turn ticks into time
 *   stream message   "SLST"  one per thread (tag cpu), one log, one metrics stream
 *   block message    "SLBK"  block metadata followed by the payload
 *   payload          "SLPL"  self-describing, stored verbatim as
 *                            blobs/{process_id}/{stream_id}/{block_id}
 *
 * A payload's body is a string table, a table of descriptors (static metadata
 * of spans, logs and metrics, deduplicated within the block) and the events,
 * each event stamped with its tick relative to the process start.  Blocks are
 * self-contained: decoding one needs nothing from any other block.
 *
 * Decoding is strict.  Every decoder checks magic, version, declared sizes
 * against real sizes, caps, index ranges and cross-field consistency, and
 * reports the first violation with its byte offset; it never reads outside the
 * input.  Nothing is ever partially accepted.
 */
#ifndef SL_WIRE_H
#define SL_WIRE_H

#include "base/arena.h"
#include "base/dbuf.h"
#include "base/err.h"
#include "base/uuid.h"

#include <stddef.h>
#include <stdint.h>

#define WIRE_VERSION 1
/*
 * Payloads that carry OpenTelemetry events (types 11..13, written by the OTLP
 * routes) say version 2 at byte 4; everything else in them is as in version 1.
 * Readers take both; the tracing library keeps writing 1.
 */
#define WIRE_PAYLOAD_VERSION_OTEL 2

/* Caps. A message over a cap is rejected as a whole (SL_ETOOBIG). */
#define WIRE_MAX_STRING 4096            /* bytes in one metadata string (message fields) */
#define WIRE_MAX_PROPERTIES 256         /* key/value pairs in a process or stream message */
#define WIRE_MAX_TAGS 16                /* tags of a stream */
#define WIRE_MAX_META_MSG (256 * 1024)  /* process and stream messages */
#define WIRE_MAX_BODY (32u << 20)       /* uncompressed payload body */
#define WIRE_MAX_PAYLOAD (WIRE_PAYLOAD_HDR + (33u << 20)) /* stored payload */
#define WIRE_MAX_BLOCK_MSG (WIRE_BLOCK_HDR + WIRE_MAX_PAYLOAD)
#define WIRE_MAX_INLINE 65536           /* bytes in one inline event string */
/* A process clock the lake can convert (block-format.md, "Process message"). */
#define WIRE_MIN_TSC_FREQUENCY 1000ull  /* ticks per second: 1 kHz */
#define WIRE_MAX_START_TIME_NS 7258118400000000000ll /* 2200-01-01T00:00:00Z */

#define WIRE_PROCESS_HDR 72
#define WIRE_STREAM_HDR 48
#define WIRE_BLOCK_HDR 120
#define WIRE_PAYLOAD_HDR 96

enum wire_codec { WIRE_CODEC_NONE = 0, WIRE_CODEC_ZSTD = 1, WIRE_CODEC_LZ4 = 2 };

/* Descriptor kinds (static metadata referenced by events). */
enum wire_desc_kind { WIRE_DESC_SPAN = 1, WIRE_DESC_LOG = 2, WIRE_DESC_METRIC = 3 };

/* Event types. The number is the byte written on the wire. */
enum wire_event_type {
    WIRE_EV_SPAN_BEGIN = 1,
    WIRE_EV_SPAN_END = 2,
    WIRE_EV_NAMED_SPAN_BEGIN = 3,
    WIRE_EV_NAMED_SPAN_END = 4,
    WIRE_EV_ASYNC_BEGIN = 5,
    WIRE_EV_ASYNC_END = 6,
    WIRE_EV_LOG = 7,
    WIRE_EV_LOG_FMT = 8,
    WIRE_EV_METRIC_INT = 9,
    WIRE_EV_METRIC_FLOAT = 10,
    /* Payload version 2 only (OpenTelemetry data, docs/internals/otlp.md): */
    WIRE_EV_LOG_ATTRS = 11,     /* a log with its message and attributes (JSON) */
    WIRE_EV_METRIC_ATTRS = 12,  /* a float metric point with its attributes (JSON) */
    WIRE_EV_OTEL_SPAN = 13,     /* a complete span with trace ids, status, attributes, events */
    WIRE_EV_MAX_ = 13
};

/* Sizes of the fixed-width ids of an OpenTelemetry span event. */
#define WIRE_TRACE_ID_BYTES 16
#define WIRE_SPAN_ID_BYTES 8

/* A length-delimited string that points into a message or a body (no NUL). */
typedef struct wire_str {
    const char *p;
    uint32_t len;
} wire_str;

typedef struct wire_kv {
    wire_str key, value;
} wire_kv;

/* ------------------------------------------------------------ messages */

typedef struct wire_process {
    sl_uuid process_id;
    sl_uuid parent_process_id; /* nil: no parent */
    int64_t start_time_ns;     /* wall time at start_ticks, ns since the Unix epoch */
    uint64_t start_ticks;      /* raw counter value at start */
    uint64_t tsc_frequency;    /* ticks per second, > 0 */
    wire_str exe, username, realname, computer, distro, cpu_brand;
    uint32_t n_properties;
    wire_kv *properties;
} wire_process;

typedef struct wire_stream {
    sl_uuid stream_id;
    sl_uuid process_id;
    uint32_t n_tags;
    wire_str *tags;
    uint32_t n_properties;
    wire_kv *properties;
} wire_stream;

/* The metadata part of a block message; the payload follows it on the wire. */
typedef struct wire_block {
    sl_uuid block_id;
    sl_uuid stream_id;
    sl_uuid process_id;
    int64_t begin_time_ns, end_time_ns;
    int64_t begin_ticks, end_ticks; /* relative to the process's start_ticks */
    uint64_t nb_objects;            /* events in the block */
    uint64_t object_offset;         /* index of the block's first event in its stream */
    uint32_t payload_size;
} wire_block;

/* Appends the encoded message to out. SL_ETOOBIG if a cap is exceeded. */
int wire_process_encode(const wire_process *p, dbuf *out);
int wire_stream_encode(const wire_stream *s, dbuf *out);
/* Appends the block header; the caller appends exactly b->payload_size payload bytes. */
int wire_block_encode_header(const wire_block *b, dbuf *out);

/*
 * Decoders. Strings and arrays point into `data` (which must outlive the result);
 * arrays are allocated in `a`. On error nothing is returned and e says why.
 */
int wire_process_decode(const void *data, size_t len, arena *a, wire_process *out, errmsg *e);

/*
 * The wall time of a tick relative to a process start (start_time_ns +
 * ticks * 1e9 / tsc_frequency) into *ns; SL_EINVAL when it is outside what int64
 * nanoseconds hold.  Ingestion refuses blocks whose tick range fails this.
 */
int wire_ticks_to_ns_checked(int64_t start_time_ns, uint64_t tsc_frequency, int64_t ticks,
                             int64_t *ns);
int wire_stream_decode(const void *data, size_t len, arena *a, wire_stream *out, errmsg *e);
/* Decodes the header and returns where the payload is; checks sizes, not the payload. */
int wire_block_decode(const void *data, size_t len, wire_block *out, const uint8_t **payload,
                      errmsg *e);

/* Kind of message by its magic: 'P', 'S', 'B', 'L' (payload) or 0. */
int wire_message_kind(const void *data, size_t len);

/* ------------------------------------------------------------ payload */

typedef struct wire_desc {
    uint8_t kind;    /* enum wire_desc_kind */
    uint8_t level;   /* logs: 1 fatal .. 6 trace */
    uint32_t line;
    wire_str name;   /* span name, log message or format, metric name */
    wire_str target;
    wire_str file;
    wire_str unit;   /* metrics */
} wire_desc;

/* One decoded event. Fields not used by its type are zero. */
typedef struct wire_event {
    uint8_t type;
    int64_t ticks;         /* relative to the process start */
    uint32_t desc;         /* index into the payload's descriptors */
    wire_str name;         /* named spans: the dynamic name; LOG_FMT: the message */
    uint64_t span_id;      /* async */
    uint64_t parent_span_id;
    uint32_t depth;
    int64_t value_i;       /* METRIC_INT */
    double value_f;        /* METRIC_FLOAT, METRIC_ATTRS */
    /* version 2 events (LOG_ATTRS: name is the message) */
    wire_str props;        /* attributes as a JSON object */
    int64_t end_ticks;     /* OTEL_SPAN: its end, >= ticks */
    uint8_t trace_id[WIRE_TRACE_ID_BYTES];
    uint8_t otel_span_id[WIRE_SPAN_ID_BYTES];
    uint8_t otel_parent_id[WIRE_SPAN_ID_BYTES]; /* all zero: a root span */
    uint8_t span_kind;     /* 0 unspecified .. 5 consumer (OTLP SpanKind) */
    uint8_t status_code;   /* 0 unset, 1 ok, 2 error */
    wire_str status_msg;
    wire_str events_json;  /* the span's events as a JSON array */
} wire_event;

/* The fixed header of a payload. */
typedef struct wire_payload_hdr {
    uint8_t version;   /* 1, or WIRE_PAYLOAD_VERSION_OTEL */
    uint8_t codec;
    sl_uuid block_id, stream_id, process_id;
    int64_t begin_ticks, end_ticks;
    uint32_t nb_objects;
    uint32_t body_size;
    uint32_t stored_size;
    uint64_t body_hash;
} wire_payload_hdr;

/* An opened payload: header, tables, and a cursor over the events. */
typedef struct wire_payload {
    wire_payload_hdr hdr;
    const uint8_t *body;   /* uncompressed body (in scratch or in the payload) */
    uint32_t n_strings;
    wire_str *strings;
    uint32_t n_descs;
    wire_desc *descs;
    uint32_t n_events;
    /* event cursor */
    const uint8_t *ev_p, *ev_end;
    uint32_t ev_index;
    int64_t ev_ticks;
} wire_payload;

int wire_payload_hdr_decode(const void *data, size_t len, wire_payload_hdr *out, errmsg *e);

/*
 * Checks the header and the body hash, decompresses the body into scratch (whose
 * max bounds memory), and parses the string and descriptor tables (arrays in a).
 * The event cursor is left at the first event.
 */
int wire_payload_open(const void *data, size_t len, dbuf *scratch, arena *a, wire_payload *out,
                      errmsg *e);

/*
 * Decodes the next event. Returns 1 with *ev filled, 0 after the last event (having
 * checked that the body ends exactly there), or a negative error.  Checks index
 * ranges, descriptor kinds against event types and ticks against the header range.
 */
int wire_payload_next(wire_payload *pl, wire_event *ev, errmsg *e);

/* Opens and walks the whole payload; 0 if every rule holds. */
int wire_payload_validate(const void *data, size_t len, dbuf *scratch, arena *a, errmsg *e);

/*
 * Checks a decoded block message against its payload: ids, ticks and event count
 * must agree.  Used by ingestion before anything is stored.
 */
int wire_block_check_payload(const wire_block *b, const wire_payload_hdr *h, errmsg *e);

/* ------------------------------------------------------------ payload builder */

/*
 * Builds one payload.  Descriptors are deduplicated by the caller's key (the
 * client uses the address of its static metadata), so an event that refers to a
 * known descriptor costs one integer lookup; strings are deduplicated by content
 * when a descriptor or a dynamic name is first added to the block.
 * Memory is bounded by max_body_bytes; an add that would pass it fails with
 * SL_ETOOBIG and the caller seals the block first.
 */
typedef struct wire_pb wire_pb;

int wire_pb_new(size_t max_body_bytes, wire_pb **out);
void wire_pb_free(wire_pb *pb);
/* Forget events and tables; keep memory. */
void wire_pb_reset(wire_pb *pb);
/* Index of a string in the block's table, deduplicated by content. */
int wire_pb_string(wire_pb *pb, const char *s, size_t len, uint32_t *index);
/* Index of the descriptor identified by key; its strings are added if it is new. */
int wire_pb_desc(wire_pb *pb, uint64_t key, uint8_t kind, uint8_t level, const char *name,
                 const char *target, const char *file, uint32_t line, const char *unit,
                 uint32_t *index);
/*
 * Appends one event (fields per ev->type; ev->ticks relative to the process start).
 * A version 2 event type makes the payload a version 2 one.
 */
int wire_pb_event(wire_pb *pb, const wire_event *ev);
uint32_t wire_pb_count(const wire_pb *pb);
size_t wire_pb_body_bytes(const wire_pb *pb);
int64_t wire_pb_min_ticks(const wire_pb *pb);
int64_t wire_pb_max_ticks(const wire_pb *pb);
/*
 * Writes the payload (header + compressed body) to out.  begin/end ticks bound all
 * events (callers may widen them).  The builder is left as it was.
 */
int wire_pb_finish(wire_pb *pb, int codec, const sl_uuid *block_id, const sl_uuid *stream_id,
                   const sl_uuid *process_id, int64_t begin_ticks, int64_t end_ticks, dbuf *out);

#endif
