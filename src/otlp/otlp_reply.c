/*
 * otlp_reply.c - the answers of the OTLP routes, in the request's encoding.
 *
 * Success is Export<Signal>ServiceResponse: empty when everything was
 * accepted, with partial_success (the rejected count and the first reason)
 * otherwise.  Errors carry a google.rpc.Status (code, message).  In JSON,
 * int64 counts are strings, as the proto3 JSON mapping writes them.
 */
#include "otlp/otlp.h"

#include "base/json.h"
#include "otlp/otlp_subset.pb-c.h"

#include <stdio.h>

static int pack(const ProtobufCMessage *msg, dbuf *out)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    int rc = dbuf_reserve(out, n + 1);
    if (rc)
        return rc;
    out->len += protobuf_c_message_pack(msg, out->p + out->len);
    return SL_OK;
}

static int pack_response(otlp_signal sig, const otlp_result *res, dbuf *out)
{
    int64_t rej = (int64_t)res->rejected;
    char *msg = (char *)res->message;
    if (sig == OTLP_LOGS) {
        Slotlp__ExportLogsPartialSuccess ps = SLOTLP__EXPORT_LOGS_PARTIAL_SUCCESS__INIT;
        Slotlp__ExportLogsServiceResponse r = SLOTLP__EXPORT_LOGS_SERVICE_RESPONSE__INIT;
        ps.rejected_log_records = rej;
        ps.error_message = msg;
        r.partial_success = rej ? &ps : NULL;
        return pack(&r.base, out);
    }
    if (sig == OTLP_METRICS) {
        Slotlp__ExportMetricsPartialSuccess ps = SLOTLP__EXPORT_METRICS_PARTIAL_SUCCESS__INIT;
        Slotlp__ExportMetricsServiceResponse r = SLOTLP__EXPORT_METRICS_SERVICE_RESPONSE__INIT;
        ps.rejected_data_points = rej;
        ps.error_message = msg;
        r.partial_success = rej ? &ps : NULL;
        return pack(&r.base, out);
    }
    Slotlp__ExportTracePartialSuccess ps = SLOTLP__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
    Slotlp__ExportTraceServiceResponse r = SLOTLP__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
    ps.rejected_spans = rej;
    ps.error_message = msg;
    r.partial_success = rej ? &ps : NULL;
    return pack(&r.base, out);
}

int otlp_response(otlp_signal sig, otlp_encoding enc, const otlp_result *res, dbuf *out)
{
    if (enc == OTLP_PROTOBUF)
        return pack_response(sig, res, out);
    static const char *const keys[] = {"rejectedLogRecords", "rejectedDataPoints",
                                       "rejectedSpans"};
    jw w;
    jw_init(&w, out);
    jw_obj_begin(&w);
    if (res->rejected) {
        char n[24];
        snprintf(n, sizeof n, "%llu", (unsigned long long)res->rejected);
        jw_key(&w, "partialSuccess");
        jw_obj_begin(&w);
        jw_kv_str(&w, keys[sig], n);
        jw_kv_str(&w, "errorMessage", res->message);
        jw_obj_end(&w);
    }
    jw_obj_end(&w);
    return w.err;
}

int otlp_status(otlp_encoding enc, int grpc_code, const char *message, dbuf *out)
{
    if (enc == OTLP_PROTOBUF) {
        Slotlp__RpcStatus st = SLOTLP__RPC_STATUS__INIT;
        st.code = grpc_code;
        st.message = (char *)message;
        return pack(&st.base, out);
    }
    jw w;
    jw_init(&w, out);
    jw_obj_begin(&w);
    jw_kv_int(&w, "code", grpc_code);
    jw_kv_str(&w, "message", message);
    jw_obj_end(&w);
    return w.err;
}
