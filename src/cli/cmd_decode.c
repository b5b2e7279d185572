/*
 * cmd_decode.c - `streamlake decode FILE...`: prints wire messages as JSON.
 *
 * Reads process, stream and block message files (as the directory sink writes
 * them) and stored payloads (blobs/...), checks them with the same strict
 * decoders the server uses, and prints one JSON object per file: the fields,
 * and with --events every event with its descriptor resolved.  A file that
 * does not decode prints {"file":..., "error":...} and makes the exit code 1.
 */
#include "cli/cli.h"

#include "base/bytes.h"
#include "base/json.h"
#include "wire/wire.h"

#include <stdio.h>
#include <string.h>

static void put_wstr(jw *w, const char *key, wire_str s)
{
    jw_key(w, key);
    jw_strn(w, s.p, s.len);
}

static void put_uuid(jw *w, const char *key, const sl_uuid *u)
{
    char s[UUID_STR_LEN];
    uuid_format(u, s);
    jw_key(w, key);
    jw_str(w, s);
}

static void put_kvs(jw *w, const wire_kv *kv, uint32_t n)
{
    jw_key(w, "properties");
    jw_obj_begin(w);
    for (uint32_t i = 0; i < n; i++) {
        char k[WIRE_MAX_STRING + 1];
        snprintf(k, sizeof k, "%.*s", (int)kv[i].key.len, kv[i].key.p);
        jw_key(w, k);
        jw_strn(w, kv[i].value.p, kv[i].value.len);
    }
    jw_obj_end(w);
}

static const char *const g_types[] = {"?", "span_begin", "span_end", "named_span_begin",
                                      "named_span_end", "async_begin", "async_end", "log",
                                      "log_fmt", "metric_int", "metric_float", "log_attrs",
                                      "metric_attrs", "otel_span"};
_Static_assert(sizeof g_types / sizeof g_types[0] == WIRE_EV_MAX_ + 1, "a name per event type");

static void put_event(jw *w, const wire_payload *pl, const wire_event *ev)
{
    const wire_desc *d = &pl->descs[ev->desc];
    jw_obj_begin(w);
    jw_key(w, "type");
    jw_str(w, g_types[ev->type <= WIRE_EV_MAX_ ? ev->type : 0]);
    jw_key(w, "ticks");
    jw_int(w, ev->ticks);
    put_wstr(w, "name", (ev->type == WIRE_EV_NAMED_SPAN_BEGIN ||
                         ev->type == WIRE_EV_NAMED_SPAN_END) ? ev->name : d->name);
    put_wstr(w, "target", d->target);
    put_wstr(w, "file", d->file);
    jw_key(w, "line");
    jw_uint(w, d->line);
    if (ev->type == WIRE_EV_ASYNC_BEGIN || ev->type == WIRE_EV_ASYNC_END) {
        jw_key(w, "span_id");
        jw_uint(w, ev->span_id);
        jw_key(w, "parent_span_id");
        jw_uint(w, ev->parent_span_id);
        jw_key(w, "depth");
        jw_uint(w, ev->depth);
    } else if (ev->type == WIRE_EV_LOG || ev->type == WIRE_EV_LOG_FMT) {
        jw_key(w, "level");
        jw_uint(w, d->level);
        put_wstr(w, "msg", ev->type == WIRE_EV_LOG ? d->name : ev->name);
    } else if (ev->type == WIRE_EV_METRIC_INT) {
        put_wstr(w, "unit", d->unit);
        jw_key(w, "value");
        jw_int(w, ev->value_i);
    } else if (ev->type == WIRE_EV_METRIC_FLOAT || ev->type == WIRE_EV_METRIC_ATTRS) {
        put_wstr(w, "unit", d->unit);
        jw_key(w, "value");
        jw_double(w, ev->value_f);
    } else if (ev->type == WIRE_EV_LOG_ATTRS) {
        jw_key(w, "level");
        jw_uint(w, d->level);
        put_wstr(w, "msg", ev->name);
    } else if (ev->type == WIRE_EV_OTEL_SPAN) {
        char hex[2 * WIRE_TRACE_ID_BYTES + 1];
        bytes_hex(ev->trace_id, WIRE_TRACE_ID_BYTES, hex);
        jw_kv_str(w, "trace_id", hex);
        bytes_hex(ev->otel_span_id, WIRE_SPAN_ID_BYTES, hex);
        jw_kv_str(w, "span_id", hex);
        bytes_hex(ev->otel_parent_id, WIRE_SPAN_ID_BYTES, hex);
        jw_kv_str(w, "parent_span_id", hex);
        jw_kv_int(w, "end_ticks", ev->end_ticks);
        jw_kv_uint(w, "kind", ev->span_kind);
        jw_kv_uint(w, "status", ev->status_code);
        put_wstr(w, "status_message", ev->status_msg);
        jw_key(w, "events");
        jw_rawn(w, ev->events_json.p, ev->events_json.len);
    }
    if (ev->type >= WIRE_EV_LOG_ATTRS) {
        jw_key(w, "attributes");
        jw_rawn(w, ev->props.p, ev->props.len);
    }
    jw_obj_end(w);
}

static int put_payload(jw *w, const uint8_t *p, size_t n, int events, errmsg *e)
{
    dbuf scratch;
    dbuf_init(&scratch, WIRE_MAX_BODY);
    arena a;
    arena_init(&a, 1 << 16, 256u << 20);
    wire_payload pl;
    int rc = wire_payload_open(p, n, &scratch, &a, &pl, e);
    if (!rc) {
        jw_key(w, "codec");
        jw_uint(w, pl.hdr.codec);
        jw_key(w, "body_size");
        jw_uint(w, pl.hdr.body_size);
        jw_key(w, "stored_size");
        jw_uint(w, pl.hdr.stored_size);
        jw_key(w, "events");
        if (events)
            jw_arr_begin(w);
        wire_event ev;
        uint64_t count = 0;
        while ((rc = wire_payload_next(&pl, &ev, e)) == 1) {
            if (events)
                put_event(w, &pl, &ev);
            count++;
        }
        if (events)
            jw_arr_end(w);
        else
            jw_uint(w, count);
    }
    arena_destroy(&a);
    dbuf_free(&scratch);
    return rc < 0 ? rc : 0;
}

static int decode_one(jw *w, const dbuf *m, int events, errmsg *e)
{
    arena a;
    arena_init(&a, 4096, 1 << 20);
    int rc = SL_EINVAL;
    int kind = wire_message_kind(m->p, m->len);
    jw_key(w, "kind");
    if (kind == 'P') {
        wire_process p;
        jw_str(w, "process");
        if (!(rc = wire_process_decode(m->p, m->len, &a, &p, e))) {
            put_uuid(w, "process_id", &p.process_id);
            put_uuid(w, "parent_process_id", &p.parent_process_id);
            put_wstr(w, "exe", p.exe);
            put_wstr(w, "username", p.username);
            put_wstr(w, "computer", p.computer);
            jw_key(w, "start_time_ns");
            jw_int(w, p.start_time_ns);
            jw_key(w, "tsc_frequency");
            jw_uint(w, p.tsc_frequency);
            put_kvs(w, p.properties, p.n_properties);
        }
    } else if (kind == 'S') {
        wire_stream s;
        jw_str(w, "stream");
        if (!(rc = wire_stream_decode(m->p, m->len, &a, &s, e))) {
            put_uuid(w, "stream_id", &s.stream_id);
            put_uuid(w, "process_id", &s.process_id);
            jw_key(w, "tags");
            jw_arr_begin(w);
            for (uint32_t i = 0; i < s.n_tags; i++)
                jw_strn(w, s.tags[i].p, s.tags[i].len);
            jw_arr_end(w);
            put_kvs(w, s.properties, s.n_properties);
        }
    } else if (kind == 'B') {
        wire_block b;
        const uint8_t *payload;
        jw_str(w, "block");
        if (!(rc = wire_block_decode(m->p, m->len, &b, &payload, e))) {
            put_uuid(w, "block_id", &b.block_id);
            put_uuid(w, "stream_id", &b.stream_id);
            jw_key(w, "nb_objects");
            jw_uint(w, b.nb_objects);
            jw_key(w, "object_offset");
            jw_uint(w, b.object_offset);
            jw_key(w, "begin_time_ns");
            jw_int(w, b.begin_time_ns);
            wire_payload_hdr h;
            rc = wire_payload_hdr_decode(payload, b.payload_size, &h, e);
            if (!rc)
                rc = wire_block_check_payload(&b, &h, e);
            if (!rc)
                rc = put_payload(w, payload, b.payload_size, events, e);
        }
    } else if (kind == 'L') {
        jw_str(w, "payload");
        rc = put_payload(w, m->p, m->len, events, e);
    } else {
        jw_str(w, "unknown");
        errmsg_set(e, SL_EINVAL, "not a streamlake message (unknown magic)");
    }
    arena_destroy(&a);
    return rc;
}

int cmd_decode(int argc, char **argv)
{
    if (cli_wants_help(argc, argv) || argc < 2) {
        fprintf(argc < 2 ? stderr : stdout,
                "usage: streamlake decode [--events] FILE...\n\n"
                "Checks and prints process, stream and block message files and stored\n"
                "payloads as JSON, one object per line.  --events lists every event.\n");
        return argc < 2 ? 2 : 0;
    }
    int events = 0, failed = 0;
    dbuf m, out;
    dbuf_init(&m, WIRE_MAX_BLOCK_MSG);
    dbuf_init(&out, (size_t)1 << 31);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--events")) {
            events = 1;
            continue;
        }
        dbuf_reset(&m);
        dbuf_reset(&out);
        jw w;
        jw_init(&w, &out);
        jw_obj_begin(&w);
        jw_key(&w, "file");
        jw_str(&w, argv[i]);
        errmsg e;
        errmsg_clear(&e);
        FILE *f = fopen(argv[i], "rb");
        int rc = f ? 0 : errmsg_set(&e, SL_EIO, "cannot open");
        char buf[65536];
        size_t got;
        while (f && !rc && (got = fread(buf, 1, sizeof buf, f)) > 0)
            if (dbuf_append(&m, buf, got))
                rc = errmsg_set(&e, SL_ETOOBIG, "file larger than any message");
        if (f)
            fclose(f);
        if (!rc)
            rc = decode_one(&w, &m, events, &e);
        if (rc) {
            jw_key(&w, "error");
            jw_str(&w, errmsg_str(&e));
            failed = 1;
        }
        jw_obj_end(&w);
        fwrite(out.p, 1, out.len, stdout);
        fputc('\n', stdout);
    }
    dbuf_free(&m);
    dbuf_free(&out);
    return failed;
}
