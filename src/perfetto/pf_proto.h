/*
 * pf_proto.h - the field numbers of the Perfetto trace format that we write.
 *
 * Every number below was read from Perfetto's public .proto files (paths are
 * relative to protos/perfetto/ in the Perfetto repository) and is listed again,
 * with its type and meaning, in docs/internals/perfetto.md.  The project's own
 * subset schema, src/perfetto/perfetto_subset.proto, declares the same fields
 * so that `protoc --decode=perfetto.protos.Trace` can check our output; a test
 * fails if we write a field that the subset does not declare.
 *
 * Field numbers of a published protobuf never change meaning, so these are
 * constants of the format, not of a version of our writer.
 */
#ifndef SL_PERFETTO_PF_PROTO_H
#define SL_PERFETTO_PF_PROTO_H

/* trace/trace.proto: message Trace */
enum { PF_TRACE_PACKET = 1 };

/* trace/trace_packet.proto: message TracePacket */
enum {
    PF_PKT_CLOCK_SNAPSHOT = 6,               /* ClockSnapshot */
    PF_PKT_TIMESTAMP = 8,                    /* uint64 */
    PF_PKT_TRUSTED_PACKET_SEQUENCE_ID = 10,  /* uint32 */
    PF_PKT_TRACK_EVENT = 11,                 /* TrackEvent */
    PF_PKT_INTERNED_DATA = 12,               /* InternedData */
    PF_PKT_SEQUENCE_FLAGS = 13,              /* uint32, SequenceFlags bits */
    PF_PKT_TIMESTAMP_CLOCK_ID = 58,          /* uint32 */
    PF_PKT_TRACE_PACKET_DEFAULTS = 59,       /* TracePacketDefaults */
    PF_PKT_TRACK_DESCRIPTOR = 60,            /* TrackDescriptor */
    PF_PKT_FIRST_PACKET_ON_SEQUENCE = 87,    /* bool */
};

/* TracePacket.SequenceFlags */
enum {
    PF_SEQ_INCREMENTAL_STATE_CLEARED = 1,
    PF_SEQ_NEEDS_INCREMENTAL_STATE = 2,
};

/* trace/trace_packet_defaults.proto: message TracePacketDefaults */
enum {
    PF_DEF_TRACK_EVENT_DEFAULTS = 11, /* TrackEventDefaults */
    PF_DEF_TIMESTAMP_CLOCK_ID = 58,   /* uint32 */
};

/* trace/track_event/track_event.proto: message TrackEventDefaults */
enum { PF_TED_TRACK_UUID = 11 }; /* uint64 */

/* trace/track_event/track_event.proto: message TrackEvent */
enum {
    PF_TE_CATEGORY_IIDS = 3,         /* repeated uint64 */
    PF_TE_TYPE = 9,                  /* enum Type */
    PF_TE_NAME_IID = 10,             /* uint64 (oneof name_field) */
    PF_TE_TRACK_UUID = 11,           /* uint64 */
    PF_TE_SOURCE_LOCATION_IID = 34,  /* uint64 (oneof source_location_field) */
};

/* TrackEvent.Type */
enum {
    PF_TYPE_SLICE_BEGIN = 1,
    PF_TYPE_SLICE_END = 2,
};

/* trace/track_event/track_descriptor.proto: message TrackDescriptor */
enum {
    PF_TD_UUID = 1,                    /* uint64 */
    PF_TD_NAME = 2,                    /* string (oneof static_or_dynamic_name) */
    PF_TD_PROCESS = 3,                 /* ProcessDescriptor */
    PF_TD_THREAD = 4,                  /* ThreadDescriptor */
    PF_TD_PARENT_UUID = 5,             /* uint64 */
    PF_TD_SIBLING_MERGE_BEHAVIOR = 15, /* enum SiblingMergeBehavior */
};

/* TrackDescriptor.SiblingMergeBehavior */
enum { PF_SIBLING_MERGE_BEHAVIOR_NONE = 2 };

/* trace/track_event/process_descriptor.proto: message ProcessDescriptor */
enum {
    PF_PD_PID = 1,          /* int32 */
    PF_PD_PROCESS_NAME = 6, /* string */
};

/* trace/track_event/thread_descriptor.proto: message ThreadDescriptor */
enum {
    PF_THD_PID = 1,         /* int32 */
    PF_THD_TID = 2,         /* int64 */
    PF_THD_THREAD_NAME = 5, /* string */
};

/* trace/interned_data/interned_data.proto: message InternedData */
enum {
    PF_ID_EVENT_CATEGORIES = 1,  /* repeated EventCategory */
    PF_ID_EVENT_NAMES = 2,       /* repeated EventName */
    PF_ID_SOURCE_LOCATIONS = 4,  /* repeated SourceLocation */
};

/* track_event.proto: EventCategory and EventName have the same two fields. */
enum {
    PF_IN_IID = 1,  /* uint64 */
    PF_IN_NAME = 2, /* string */
};

/* trace/track_event/source_location.proto: message SourceLocation */
enum {
    PF_SL_IID = 1,         /* uint64 */
    PF_SL_FILE_NAME = 2,   /* string */
    PF_SL_LINE_NUMBER = 4, /* uint32 */
};

/* trace/clock_snapshot.proto: message ClockSnapshot and ClockSnapshot.Clock */
enum {
    PF_CS_CLOCKS = 1,            /* repeated Clock */
    PF_CLK_CLOCK_ID = 1,         /* uint32 */
    PF_CLK_TIMESTAMP = 2,        /* uint64 */
    PF_CLK_IS_INCREMENTAL = 3,   /* bool */
};

/*
 * Clock ids (common/builtin_clock.proto and clock_snapshot.proto): builtin
 * clocks are 1..63, ids 64..127 are sequence-scoped clocks defined by a
 * ClockSnapshot on the same sequence.  We carry our exact nanoseconds in the
 * BOOTTIME domain (the trace clock the Perfetto importer assumes for proto
 * traces) and, in incremental mode, in sequence clock 64 anchored to it.
 */
enum {
    PF_CLOCK_BOOTTIME = 6,
    PF_CLOCK_SEQ_INCREMENTAL = 64,
};

#endif
