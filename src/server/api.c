/*
 * api.c - JSON rendering of the process and stream lists.
 *
 * Times appear twice: as RFC 3339 text for people and as integer ns for
 * tools.  Tags and properties are stored as JSON text that ingestion wrote
 * itself, so they are embedded as they are instead of being parsed again.
 */
#include "server/api.h"

#include "base/clock.h"
#include "base/json.h"

#include <stdio.h>
#include <string.h>

static void time_fields(jw *w, const char *name, int64_t ns)
{
    char text[48], key[64];
    clock_format_rfc3339(ns, text, sizeof text);
    jw_key(w, name);
    jw_str(w, text);
    snprintf(key, sizeof key, "%s_ns", name);
    jw_key(w, key);
    jw_int(w, ns);
}

static void uuid_field(jw *w, const char *name, const sl_uuid *u)
{
    char s[UUID_STR_LEN];
    jw_key(w, name);
    if (uuid_is_nil(u)) {
        jw_null(w);
        return;
    }
    uuid_format(u, s);
    jw_str(w, s);
}

static int process_row(void *arg, const meta_process_summary *r)
{
    jw *w = arg;
    const meta_process *p = &r->p;
    jw_obj_begin(w);
    uuid_field(w, "process_id", &p->process_id);
    jw_kv_str(w, "exe", p->exe);
    jw_kv_str(w, "computer", p->computer);
    jw_kv_str(w, "username", p->username);
    jw_kv_str(w, "realname", p->realname);
    jw_kv_str(w, "distro", p->distro);
    jw_kv_str(w, "cpu_brand", p->cpu_brand);
    time_fields(w, "start_time", p->start_time_ns);
    jw_kv_uint(w, "start_ticks", p->start_ticks);
    jw_kv_uint(w, "tsc_frequency", p->tsc_frequency);
    uuid_field(w, "parent_process_id", &p->parent_process_id);
    jw_key(w, "properties");
    jw_raw(w, p->properties_json);
    time_fields(w, "insert_time", p->insert_time_ns);
    jw_kv_uint(w, "thread_count", r->thread_count);
    jw_kv_uint(w, "stream_count", r->stream_count);
    jw_kv_uint(w, "block_count", r->block_count);
    jw_kv_uint(w, "event_count", r->event_count);
    jw_kv_uint(w, "payload_bytes", r->payload_bytes);
    jw_obj_end(w);
    return w->err;
}

/* Closes the array, or turns a failure into the right message (w.err: the reply cap). */
static int finish_list(jw *w, int rc, const char *what, errmsg *e)
{
    if (rc && rc != w->err)
        return rc;
    if (!rc)
        jw_arr_end(w);
    if (w->err)
        return errmsg_set(e, w->err, "%s list larger than the reply cap", what);
    return SL_OK;
}

int api_processes_json(meta *m, dbuf *out, errmsg *e)
{
    jw w;
    jw_init(&w, out);
    jw_arr_begin(&w);
    return finish_list(&w, meta_processes_list(m, process_row, &w, e), "process", e);
}

static int stream_row(void *arg, const meta_stream_summary *r)
{
    jw *w = arg;
    jw_obj_begin(w);
    uuid_field(w, "stream_id", &r->s.stream_id);
    uuid_field(w, "process_id", &r->s.process_id);
    jw_key(w, "tags");
    jw_raw(w, r->s.tags_json);
    jw_kv_str(w, "thread_id", r->thread_id);
    jw_kv_str(w, "thread_name", r->thread_name);
    jw_key(w, "properties");
    jw_raw(w, r->s.properties_json);
    time_fields(w, "insert_time", r->s.insert_time_ns);
    jw_kv_uint(w, "block_count", r->block_count);
    jw_kv_uint(w, "event_count", r->event_count);
    jw_kv_uint(w, "payload_bytes", r->payload_bytes);
    jw_obj_end(w);
    return w->err;
}

int api_streams_json(meta *m, const sl_uuid *process_id, dbuf *out, errmsg *e)
{
    jw w;
    jw_init(&w, out);
    jw_arr_begin(&w);
    return finish_list(&w, meta_streams_list(m, process_id, stream_row, &w, e), "stream", e);
}

int api_parse_time(const char *s, int *has, int64_t *ns, const char *what, errmsg *e)
{
    *has = s && *s;
    if (*has && clock_parse_time(s, ns))
        return errmsg_set(e, SL_EINVAL, "%s=%s is not an RFC 3339 time or integer ns", what, s);
    return SL_OK;
}

size_t api_copy_pending(const dbuf *b, size_t *off, char *buf, size_t max)
{
    size_t n = b->len - *off;
    if (n > max)
        n = max;
    memcpy(buf, b->p + *off, n);
    *off += n;
    return n;
}
