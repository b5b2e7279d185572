/*
 * otlp_map.c - a decoded OTLP request as process, stream and block messages.
 *
 * docs/internals/otlp.md is the specification of this mapping; in short:
 *
 *   Resource              -> a process (id from its attributes, clock in ns:
 *                            start 0, 10^9 ticks per second, so ticks are
 *                            nanoseconds since the epoch)
 *   InstrumentationScope  -> a stream of that process, tagged log, metrics or
 *                            otel_spans by signal
 *   LogRecord             -> event 11 (log with attributes) -> log_entries
 *   data point            -> event 12 (metric with attributes) -> measures;
 *                            histograms and summaries as several rows
 *   Span                  -> event 13 -> otel_spans
 *
 * Ids come from content so that a re-sent request maps to the same messages
 * byte for byte, which ingestion stores once.  A block's id is derived from
 * its stream and its uncompressed body (compression could differ between
 * zstd versions; the logical content cannot).
 *
 * Per item nothing is allocated: strings are written into per-request
 * buffers that are reset per item, and the payload builder keeps its memory.
 */
#include "otlp/otlp.h"

#include "base/alloc.h"
#include "base/base64.h"
#include "base/bytes.h"
#include "base/hash.h"
#include "base/json.h"
#include "base/uuid.h"
#include "otlp/otlp_subset.pb-c.h"
#include "wire/wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX (1u << 20)     /* one attribute object under construction */
#define MAX_RESOURCE_ATTRS 4096 /* attributes of one resource that are sorted */
#define PROCESS_PROPS_MAX (192u << 10) /* bytes of properties in a process message */

typedef struct mapper {
    otlp_emit_fn emit;
    void *arg;
    otlp_result *res;
    errmsg *e;
    wire_pb *pb;
    dbuf msg;         /* an encoded message */
    dbuf payload;     /* a sealed payload */
    dbuf json;        /* attributes as JSON */
    dbuf json2;       /* a span's events, a log's body */
    sl_uuid process_id, stream_id;
    const char *scope;
} mapper;

/* ------------------------------------------------------------ ids */

/* A uuid (version 8: application-defined) from the hash of bytes. */
static void uuid_of(const void *p, size_t n, uint64_t seed, sl_uuid *out)
{
    XXH128_hash_t h = XXH3_128bits_withSeed(p, n, seed);
    memcpy(out->b, &h.high64, 8);
    memcpy(out->b + 8, &h.low64, 8);
    out->b[6] = (uint8_t)((out->b[6] & 0x0f) | 0x80);
    out->b[8] = (uint8_t)((out->b[8] & 0x3f) | 0x80);
}

/* ------------------------------------------------------------ attributes as JSON */

static void any_json(jw *w, const Slotlp__AnyValue *v);

static void kvs_json(jw *w, Slotlp__KeyValue *const *kv, size_t n)
{
    jw_obj_begin(w);
    for (size_t i = 0; i < n; i++) {
        jw_key(w, kv[i]->key ? kv[i]->key : "");
        any_json(w, kv[i]->value);
    }
    jw_obj_end(w);
}

/* An AnyValue as plain JSON: strings, numbers, booleans, arrays, objects; bytes as base64. */
static void any_json(jw *w, const Slotlp__AnyValue *v)
{
    if (!v) {
        jw_null(w);
        return;
    }
    switch (v->value_case) {
    case SLOTLP__ANY_VALUE__VALUE_STRING_VALUE:
        jw_str(w, v->string_value);
        break;
    case SLOTLP__ANY_VALUE__VALUE_BOOL_VALUE:
        jw_bool(w, v->bool_value);
        break;
    case SLOTLP__ANY_VALUE__VALUE_INT_VALUE:
        jw_int(w, v->int_value);
        break;
    case SLOTLP__ANY_VALUE__VALUE_DOUBLE_VALUE:
        jw_double(w, v->double_value);
        break;
    case SLOTLP__ANY_VALUE__VALUE_ARRAY_VALUE:
        jw_arr_begin(w);
        for (size_t i = 0; v->array_value && i < v->array_value->n_values; i++)
            any_json(w, v->array_value->values[i]);
        jw_arr_end(w);
        break;
    case SLOTLP__ANY_VALUE__VALUE_KVLIST_VALUE:
        if (v->kvlist_value)
            kvs_json(w, v->kvlist_value->values, v->kvlist_value->n_values);
        else
            jw_raw(w, "{}");
        break;
    case SLOTLP__ANY_VALUE__VALUE_BYTES_VALUE: {
        size_t cap = v->bytes_value.len / 3 * 4 + 8;
        char *t = sl_malloc(cap);
        if (!t) {
            w->err = SL_ENOMEM;
            break;
        }
        b64_encode(v->bytes_value.data, v->bytes_value.len, t, cap, false);
        jw_str(w, t);
        sl_free(t);
        break;
    }
    default:
        jw_null(w);
    }
}

/* ------------------------------------------------------------ process and stream */

/* A resource attribute's value as the text of a process property. */
static const char *attr_text(mapper *m, const Slotlp__AnyValue *v, dbuf *b)
{
    dbuf_reset(b);
    if (v && v->value_case == SLOTLP__ANY_VALUE__VALUE_STRING_VALUE)
        return v->string_value;
    jw w;
    jw_init(&w, b);
    any_json(&w, v);
    if (w.err || dbuf_append_byte(b, 0))
        return "";
    (void)m;
    return (const char *)b->p;
}

static int cmp_kv(const void *a, const void *b)
{
    const Slotlp__KeyValue *x = *(Slotlp__KeyValue *const *)a, *y = *(Slotlp__KeyValue *const *)b;
    return strcmp(x->key ? x->key : "", y->key ? y->key : "");
}

/* The value of a string attribute, or NULL. */
static const char *attr_str(Slotlp__KeyValue *const *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (kv[i]->key && !strcmp(kv[i]->key, key) && kv[i]->value &&
            kv[i]->value->value_case == SLOTLP__ANY_VALUE__VALUE_STRING_VALUE)
            return kv[i]->value->string_value;
    return NULL;
}

static wire_str wstr(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return (wire_str){s ? s : "", (uint32_t)(n > WIRE_MAX_STRING ? WIRE_MAX_STRING : n)};
}

static int emit_msg(mapper *m, int kind)
{
    return m->emit(m->arg, kind, m->msg.p, m->msg.len, m->e);
}

static int oom(mapper *m)
{
    return errmsg_set(m->e, SL_ENOMEM, "out of memory mapping the request");
}

/*
 * The process of a resource: its id hashes the attributes sorted by key (so
 * their order does not matter), and its message lists them in that order.
 */
static int map_resource(mapper *m, const Slotlp__Resource *r)
{
    size_t n = r ? r->n_attributes : 0;
    if (n > MAX_RESOURCE_ATTRS)
        n = MAX_RESOURCE_ATTRS;
    Slotlp__KeyValue **kv = sl_malloc(sizeof *kv * (n ? n : 1));
    wire_kv *props = sl_malloc(sizeof *props * WIRE_MAX_PROPERTIES);
    char **texts = sl_calloc(WIRE_MAX_PROPERTIES, sizeof *texts);
    int rc = SL_OK;
    if (!kv || !props || !texts) {
        rc = oom(m);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        kv[i] = r->attributes[i];
    qsort(kv, n, sizeof *kv, cmp_kv);
    dbuf_reset(&m->json);
    jw w;
    jw_init(&w, &m->json);
    kvs_json(&w, kv, n);
    if (w.err) {
        rc = errmsg_set(m->e, SL_ETOOBIG, "resource attributes are larger than %u bytes",
                        JSON_MAX);
        goto out;
    }
    uuid_of(m->json.p, m->json.len, 0x6f746c70ull, &m->process_id);
    uint32_t np = 0;
    size_t total = 0;
    for (size_t i = 0; i < n && np < WIRE_MAX_PROPERTIES; i++) {
        const char *t = attr_text(m, kv[i]->value, &m->json2);
        /* the process message holds 256 KiB: properties past PROCESS_PROPS_MAX are left out */
        total += wstr(kv[i]->key).len + wstr(t).len + 4;
        if (total > PROCESS_PROPS_MAX)
            break;
        if (!(texts[np] = sl_malloc(strlen(t) + 1))) {
            rc = oom(m);
            goto out;
        }
        strcpy(texts[np], t);
        props[np].key = wstr(kv[i]->key);
        props[np].value = wstr(texts[np]);
        np++;
    }
    const char *service = attr_str(kv, n, "service.name");
    const char *exe = attr_str(kv, n, "process.executable.name");
    const char *os = attr_str(kv, n, "os.description");
    wire_process p = {
        .process_id = m->process_id,
        .start_time_ns = 0,
        .start_ticks = 0,
        .tsc_frequency = 1000000000ull,
        .exe = wstr(exe ? exe : service ? service : "unknown_service"),
        .username = wstr(attr_str(kv, n, "process.owner")),
        .realname = wstr(service),
        .computer = wstr(attr_str(kv, n, "host.name")),
        .distro = wstr(os ? os : attr_str(kv, n, "os.type")),
        .cpu_brand = wstr(attr_str(kv, n, "host.arch")),
        .n_properties = np,
        .properties = props,
    };
    dbuf_reset(&m->msg);
    if ((rc = wire_process_encode(&p, &m->msg)))
        rc = errmsg_set(m->e, rc, "resource too large for a process message");
    else
        rc = emit_msg(m, 'P');
out:
    for (size_t i = 0; texts && i < WIRE_MAX_PROPERTIES; i++)
        sl_free(texts[i]);
    sl_free(texts);
    sl_free(props);
    sl_free(kv);
    return rc;
}

/* The stream of a scope: tagged by signal, id from process, tag, name and version. */
static int map_scope(mapper *m, const char *tag, const Slotlp__InstrumentationScope *s)
{
    const char *name = s && s->name ? s->name : "", *version = s && s->version ? s->version : "";
    dbuf_reset(&m->json);
    if (dbuf_append(&m->json, m->process_id.b, 16) || dbuf_append_str(&m->json, tag) ||
        dbuf_append_byte(&m->json, 0) || dbuf_append_str(&m->json, name) ||
        dbuf_append_byte(&m->json, 0) || dbuf_append_str(&m->json, version))
        return oom(m);
    uuid_of(m->json.p, m->json.len, 0x73636f7065ull, &m->stream_id);
    m->scope = name;
    wire_str tags[1] = {wstr(tag)};
    wire_kv props[2];
    uint32_t np = 0;
    props[np++] = (wire_kv){wstr("otel.scope.name"), wstr(name)};
    if (*version)
        props[np++] = (wire_kv){wstr("otel.scope.version"), wstr(version)};
    wire_stream st = {.stream_id = m->stream_id,
                      .process_id = m->process_id,
                      .n_tags = 1,
                      .tags = tags,
                      .n_properties = np,
                      .properties = props};
    dbuf_reset(&m->msg);
    int rc = wire_stream_encode(&st, &m->msg);
    if (rc)
        return errmsg_set(m->e, rc, "scope too large for a stream message");
    wire_pb_reset(m->pb);
    return emit_msg(m, 'S');
}

/* ------------------------------------------------------------ blocks */

/* Seals the events added since the last seal into one block and emits it. */
static int seal(mapper *m)
{
    uint32_t n = wire_pb_count(m->pb);
    if (n == 0)
        return SL_OK;
    int64_t lo = wire_pb_min_ticks(m->pb), hi = wire_pb_max_ticks(m->pb);
    sl_uuid nil_id, block_id;
    memset(&nil_id, 0, sizeof nil_id);
    nil_id.b[15] = 1;
    /* the id: the stream and the uncompressed body, which compression cannot change */
    dbuf_reset(&m->payload);
    int rc = wire_pb_finish(m->pb, WIRE_CODEC_NONE, &nil_id, &m->stream_id, &m->process_id, lo,
                            hi, &m->payload);
    if (rc)
        return errmsg_set(m->e, rc, "cannot seal a block");
    uuid_of(m->payload.p + WIRE_PAYLOAD_HDR, m->payload.len - WIRE_PAYLOAD_HDR,
            hash64(m->stream_id.b, 16), &block_id);
    dbuf_reset(&m->payload);
    if ((rc = wire_pb_finish(m->pb, WIRE_CODEC_ZSTD, &block_id, &m->stream_id, &m->process_id,
                             lo, hi, &m->payload)))
        return errmsg_set(m->e, rc, "cannot seal a block");
    wire_block b = {
        .block_id = block_id,
        .stream_id = m->stream_id,
        .process_id = m->process_id,
        .begin_time_ns = lo,
        .end_time_ns = hi,
        .begin_ticks = lo,
        .end_ticks = hi,
        .nb_objects = n,
        .object_offset = 0,
        .payload_size = (uint32_t)m->payload.len,
    };
    dbuf_reset(&m->msg);
    if ((rc = wire_block_encode_header(&b, &m->msg)) ||
        (rc = dbuf_append(&m->msg, m->payload.p, m->payload.len)))
        return errmsg_set(m->e, rc, "cannot encode a block");
    wire_pb_reset(m->pb);
    return emit_msg(m, 'B');
}

/* Counts a rejected item, keeping the first reason. */
static void reject(mapper *m, const char *what, size_t index, const char *why)
{
    if (!m->res->rejected++)
        snprintf(m->res->message, sizeof m->res->message, "%s %zu of scope \"%.60s\": %s", what,
                 index, m->scope ? m->scope : "", why);
}

/* The descriptor of (kind, level, name, unit) in the scope's block. */
static int desc_of(mapper *m, uint8_t kind, uint8_t level, const char *name, const char *unit,
                   uint32_t *index)
{
    uint64_t key = hash64_seed(name, strlen(name), kind * 8u + level) ^
                   hash_u64(hash64(unit ? unit : "", unit ? strlen(unit) : 0) + 1);
    return wire_pb_desc(m->pb, key, kind, level, name, m->scope, "", 0, unit, index);
}

/*
 * Adds one event; a full block is sealed first.  0 when added, 1 when the
 * item alone is too large for a block (the caller rejects it), or an error.
 */
static int add_event(mapper *m, uint8_t kind, uint8_t level, const char *name, const char *unit,
                     wire_event *ev)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        int rc = desc_of(m, kind, level, name, unit, &ev->desc);
        if (!rc)
            rc = wire_pb_event(m->pb, ev);
        if (rc == SL_OK)
            return 0;
        if (rc != SL_ETOOBIG)
            return oom(m);
        if (attempt == 0 && (rc = seal(m)))
            return rc;
    }
    wire_pb_reset(m->pb);
    return 1;
}

/* Writes an attribute object (plus the extra string keys) into b; 0 or SL_ETOOBIG. */
static int attrs_json(dbuf *b, Slotlp__KeyValue *const *kv, size_t n, const char *const *extra,
                      int n_extra)
{
    dbuf_reset(b);
    jw w;
    jw_init(&w, b);
    jw_obj_begin(&w);
    for (int i = 0; i + 1 < n_extra; i += 2)
        if (extra[i + 1] && *extra[i + 1])
            jw_kv_str(&w, extra[i], extra[i + 1]);
    for (size_t i = 0; i < n; i++) {
        jw_key(&w, kv[i]->key ? kv[i]->key : "");
        any_json(&w, kv[i]->value);
    }
    jw_obj_end(&w);
    return w.err || b->len > WIRE_MAX_INLINE ? SL_ETOOBIG : SL_OK;
}

static wire_str dstr(const dbuf *b)
{
    return (wire_str){(const char *)b->p, (uint32_t)b->len};
}

/* A time in ns the lake can place (an int64 and not 0), else 0. */
static int64_t ns_of(uint64_t t)
{
    return t > 0 && t <= (uint64_t)INT64_MAX ? (int64_t)t : 0;
}

/* ------------------------------------------------------------ logs */

/* OTLP SeverityNumber (1..24) to the log levels of log_entries (1 fatal .. 6 trace). */
static uint8_t level_of(int32_t sev)
{
    if (sev >= 21)
        return 1;
    if (sev >= 17)
        return 2;
    if (sev >= 13)
        return 3;
    if (sev >= 9 || sev <= 0)
        return 4;
    return sev >= 5 ? 5 : 6;
}

static int map_log(mapper *m, const void *item, size_t index)
{
    const Slotlp__LogRecord *r = item;
    int64_t t = ns_of(r->time_unix_nano);
    if (!t)
        t = ns_of(r->observed_time_unix_nano);
    if (!t) {
        reject(m, "log record", index, "no time_unix_nano nor observed_time_unix_nano");
        return SL_OK;
    }
    char tid[33] = "", sid[17] = "";
    if (r->trace_id.len == 16)
        bytes_hex(r->trace_id.data, 16, tid);
    if (r->span_id.len == 8)
        bytes_hex(r->span_id.data, 8, sid);
    const char *extra[] = {"trace_id", tid, "span_id", sid, "severity_text", r->severity_text,
                           "event_name", r->event_name};
    if (attrs_json(&m->json, r->attributes, r->n_attributes, extra, 8)) {
        reject(m, "log record", index, "attributes larger than 65536 bytes of JSON");
        return SL_OK;
    }
    wire_str msg;
    if (r->body && r->body->value_case == SLOTLP__ANY_VALUE__VALUE_STRING_VALUE) {
        msg = (wire_str){r->body->string_value, (uint32_t)strlen(r->body->string_value)};
    } else {
        dbuf_reset(&m->json2);
        jw w;
        jw_init(&w, &m->json2);
        if (r->body)
            any_json(&w, r->body);
        msg = w.err ? (wire_str){"", 0} : dstr(&m->json2);
    }
    if (msg.len > WIRE_MAX_INLINE)
        msg.len = WIRE_MAX_INLINE; /* documented: a longer body is cut */
    wire_event ev = {.type = WIRE_EV_LOG_ATTRS, .ticks = t, .name = msg, .props = dstr(&m->json)};
    int rc = add_event(m, WIRE_DESC_LOG, level_of(r->severity_number), "", NULL, &ev);
    if (rc == 1)
        reject(m, "log record", index, "too large for one block");
    else if (rc == 0)
        m->res->accepted++;
    return rc < 0 ? rc : SL_OK;
}

/* ------------------------------------------------------------ metrics */

/* One measure row: name, unit, value, the point's attributes plus one extra key. */
static int add_point_row(mapper *m, const char *name, const char *unit, int64_t t, double value,
                         Slotlp__KeyValue *const *kv, size_t n, const char *xk, const char *xv)
{
    const char *extra[] = {xk, xv};
    if (attrs_json(&m->json, kv, n, extra, xk ? 2 : 0))
        return 1;
    wire_event ev = {.type = WIRE_EV_METRIC_ATTRS, .ticks = t, .value_f = value,
                     .props = dstr(&m->json)};
    return add_event(m, WIRE_DESC_METRIC, 0, name, unit, &ev);
}

/* name + suffix into buf (names longer than the buffer are cut). */
static const char *suffixed(char *buf, size_t cap, const char *name, const char *suffix)
{
    snprintf(buf, cap, "%s%s", name, suffix);
    return buf;
}

/* A point's time, or 0 after rejecting it. */
static int64_t point_time(mapper *m, uint64_t t_ns, size_t i)
{
    int64_t t = ns_of(t_ns);
    if (!t)
        reject(m, "data point", i, "no time_unix_nano");
    return t;
}

/* Counts a point by the outcome of its rows: 0 stored, 1 rejected, < 0 an error to return. */
static int point_done(mapper *m, int rc, size_t i)
{
    if (rc == 1)
        reject(m, "data point", i, "attributes larger than 65536 bytes of JSON");
    else if (rc == 0)
        m->res->accepted++;
    return rc < 0 ? rc : SL_OK;
}

/* The NAME.count and NAME.sum rows of a histogram or summary point. */
static int count_sum_rows(mapper *m, const Slotlp__Metric *mt, int64_t t, uint64_t count,
                          double sum, Slotlp__KeyValue *const *kv, size_t na)
{
    char nm[512];
    int rc = add_point_row(m, suffixed(nm, sizeof nm, mt->name, ".count"), "1", t,
                           (double)count, kv, na, NULL, NULL);
    if (!rc)
        rc = add_point_row(m, suffixed(nm, sizeof nm, mt->name, ".sum"), mt->unit, t, sum, kv,
                           na, NULL, NULL);
    return rc;
}

static int map_number_points(mapper *m, const Slotlp__Metric *mt, Slotlp__NumberDataPoint **pts,
                             size_t n)
{
    int rc = SL_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        const Slotlp__NumberDataPoint *p = pts[i];
        int64_t t = point_time(m, p->time_unix_nano, i);
        if (!t)
            continue;
        double v = p->value_case == SLOTLP__NUMBER_DATA_POINT__VALUE_AS_INT ? (double)p->as_int
                                                                             : p->as_double;
        rc = point_done(m, add_point_row(m, mt->name, mt->unit, t, v, p->attributes,
                                         p->n_attributes, NULL, NULL), i);
    }
    return rc;
}

static int map_histogram(mapper *m, const Slotlp__Metric *mt, const Slotlp__Histogram *h)
{
    char nm[512], le[40];
    int rc = SL_OK;
    for (size_t i = 0; i < h->n_data_points && !rc; i++) {
        const Slotlp__HistogramDataPoint *p = h->data_points[i];
        int64_t t = point_time(m, p->time_unix_nano, i);
        if (!t)
            continue;
        if (p->n_bucket_counts && p->n_bucket_counts != p->n_explicit_bounds + 1) {
            reject(m, "data point", i, "bucket_counts must have one more entry than "
                   "explicit_bounds");
            continue;
        }
        int r = count_sum_rows(m, mt, t, p->count, p->sum, p->attributes, p->n_attributes);
        for (size_t b = 0; !r && b < p->n_bucket_counts; b++) {
            if (b < p->n_explicit_bounds)
                snprintf(le, sizeof le, "%.17g", p->explicit_bounds[b]);
            else
                snprintf(le, sizeof le, "+Inf");
            r = add_point_row(m, suffixed(nm, sizeof nm, mt->name, ".bucket"), "1", t,
                              (double)p->bucket_counts[b], p->attributes, p->n_attributes, "le",
                              le);
        }
        rc = point_done(m, r, i);
    }
    return rc;
}

static int map_summary(mapper *m, const Slotlp__Metric *mt, const Slotlp__Summary *s)
{
    char nm[512], q[40];
    int rc = SL_OK;
    for (size_t i = 0; i < s->n_data_points && !rc; i++) {
        const Slotlp__SummaryDataPoint *p = s->data_points[i];
        int64_t t = point_time(m, p->time_unix_nano, i);
        if (!t)
            continue;
        int r = count_sum_rows(m, mt, t, p->count, p->sum, p->attributes, p->n_attributes);
        for (size_t k = 0; !r && k < p->n_quantile_values; k++) {
            snprintf(q, sizeof q, "%.17g", p->quantile_values[k]->quantile);
            r = add_point_row(m, suffixed(nm, sizeof nm, mt->name, ".quantile"), mt->unit, t,
                              p->quantile_values[k]->value, p->attributes, p->n_attributes,
                              "quantile", q);
        }
        rc = point_done(m, r, i);
    }
    return rc;
}

static int map_metric(mapper *m, const void *item, size_t index)
{
    const Slotlp__Metric *mt = item;
    (void)index;
    switch (mt->data_case) {
    case SLOTLP__METRIC__DATA_GAUGE:
        return map_number_points(m, mt, mt->gauge->data_points, mt->gauge->n_data_points);
    case SLOTLP__METRIC__DATA_SUM:
        return map_number_points(m, mt, mt->sum->data_points, mt->sum->n_data_points);
    case SLOTLP__METRIC__DATA_HISTOGRAM:
        return map_histogram(m, mt, mt->histogram);
    case SLOTLP__METRIC__DATA_SUMMARY:
        return map_summary(m, mt, mt->summary);
    case SLOTLP__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
        for (size_t i = 0; i < mt->exponential_histogram->n_data_points; i++)
            reject(m, "data point", i, "exponential histograms are not stored");
        return SL_OK;
    default:
        return SL_OK; /* a metric without data has no points */
    }
}

/* ------------------------------------------------------------ traces */

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* Why a span cannot be stored, or NULL. */
static const char *span_problem(const Slotlp__Span *s)
{
    if (s->trace_id.len != 16 || all_zero(s->trace_id.data, 16))
        return "trace_id must be 16 bytes, not all zero";
    if (s->span_id.len != 8 || all_zero(s->span_id.data, 8))
        return "span_id must be 8 bytes, not all zero";
    if (s->parent_span_id.len != 0 && s->parent_span_id.len != 8)
        return "parent_span_id must be empty or 8 bytes";
    if (!ns_of(s->start_time_unix_nano) || !ns_of(s->end_time_unix_nano))
        return "start and end times must be set";
    if (s->end_time_unix_nano < s->start_time_unix_nano)
        return "end_time_unix_nano is before start_time_unix_nano";
    if (s->kind < 0 || s->kind > 5)
        return "kind must be 0..5";
    if (s->status && (s->status->code < 0 || s->status->code > 2))
        return "status code must be 0..2";
    return NULL;
}

static int map_span(mapper *m, const void *item, size_t index)
{
    const Slotlp__Span *s = item;
    const char *why = span_problem(s);
    if (why) {
        reject(m, "span", index, why);
        return SL_OK;
    }
    if (attrs_json(&m->json, s->attributes, s->n_attributes, NULL, 0)) {
        reject(m, "span", index, "attributes larger than 65536 bytes of JSON");
        return SL_OK;
    }
    dbuf_reset(&m->json2);
    jw w;
    jw_init(&w, &m->json2);
    jw_arr_begin(&w);
    for (size_t i = 0; i < s->n_events; i++) {
        const Slotlp__SpanEvent *ev = s->events[i];
        jw_obj_begin(&w);
        jw_kv_str(&w, "name", ev->name);
        jw_kv_uint(&w, "time_unix_nano", ev->time_unix_nano);
        jw_key(&w, "attributes");
        kvs_json(&w, ev->attributes, ev->n_attributes);
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    if (w.err || m->json2.len > WIRE_MAX_INLINE) {
        reject(m, "span", index, "events larger than 65536 bytes of JSON");
        return SL_OK;
    }
    wire_event ev = {
        .type = WIRE_EV_OTEL_SPAN,
        .ticks = (int64_t)s->start_time_unix_nano,
        .end_ticks = (int64_t)s->end_time_unix_nano,
        .span_kind = (uint8_t)s->kind,
        .status_code = s->status ? (uint8_t)s->status->code : 0,
        .status_msg = wstr(s->status && s->status->message ? s->status->message : ""),
        .props = dstr(&m->json),
        .events_json = dstr(&m->json2),
    };
    memcpy(ev.trace_id, s->trace_id.data, 16);
    memcpy(ev.otel_span_id, s->span_id.data, 8);
    if (s->parent_span_id.len == 8)
        memcpy(ev.otel_parent_id, s->parent_span_id.data, 8);
    int rc = add_event(m, WIRE_DESC_SPAN, 0, s->name ? s->name : "", NULL, &ev);
    if (rc == 1)
        reject(m, "span", index, "too large for one block");
    else if (rc == 0)
        m->res->accepted++;
    return rc < 0 ? rc : SL_OK;
}

/* ------------------------------------------------------------ the request */

/*
 * The three requests share one shape, field numbers included: field 1 of the
 * request lists Resource<X>, whose field 1 is the resource and field 2 lists
 * Scope<X>, whose field 1 is the scope and field 2 lists the items.  So one
 * walk serves them all, reading fields through the protobuf-c descriptors.
 */
static const void *field_ptr(const ProtobufCMessage *msg, unsigned id, size_t *n)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field(msg->descriptor, id);
    const void *p;
    memcpy(&p, (const char *)msg + f->offset, sizeof p);
    if (n)
        memcpy(n, (const char *)msg + f->quantifier_offset, sizeof *n);
    return p;
}

typedef int (*item_fn)(mapper *m, const void *item, size_t index);

static int walk(mapper *m, const ProtobufCMessage *req, const char *tag, item_fn fn)
{
    size_t nr, ns, ni;
    const ProtobufCMessage *const *rs = field_ptr(req, 1, &nr);
    int rc = SL_OK;
    for (size_t i = 0; i < nr && !rc; i++) {
        if ((rc = map_resource(m, field_ptr(rs[i], 1, NULL))))
            break;
        const ProtobufCMessage *const *ss = field_ptr(rs[i], 2, &ns);
        for (size_t j = 0; j < ns && !rc; j++) {
            if ((rc = map_scope(m, tag, field_ptr(ss[j], 1, NULL))))
                break;
            const void *const *items = field_ptr(ss[j], 2, &ni);
            for (size_t k = 0; k < ni && !rc; k++)
                rc = fn(m, items[k], k);
            if (!rc)
                rc = seal(m);
        }
    }
    return rc;
}

int otlp_map(otlp_signal sig, const void *request, otlp_emit_fn emit, void *arg,
             otlp_result *res, errmsg *e)
{
    memset(res, 0, sizeof *res);
    mapper m = {.emit = emit, .arg = arg, .res = res, .e = e};
    if (wire_pb_new(OTLP_BLOCK_BODY, &m.pb))
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    dbuf_init(&m.msg, WIRE_MAX_BLOCK_MSG);
    dbuf_init(&m.payload, WIRE_MAX_PAYLOAD);
    dbuf_init(&m.json, JSON_MAX);
    dbuf_init(&m.json2, JSON_MAX);
    int rc = sig == OTLP_LOGS      ? walk(&m, request, "log", map_log)
             : sig == OTLP_METRICS ? walk(&m, request, "metrics", map_metric)
                                   : walk(&m, request, "otel_spans", map_span);
    wire_pb_free(m.pb);
    dbuf_free(&m.msg);
    dbuf_free(&m.payload);
    dbuf_free(&m.json);
    dbuf_free(&m.json2);
    return rc;
}
