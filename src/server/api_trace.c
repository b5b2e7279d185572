/*
 * api_trace.c - Perfetto traces over HTTP (see api_trace.h).
 *
 * Both routes pull the generator from the HTTP response callback: every call
 * hands out what is buffered and, when the buffer is empty, pulls the next
 * chunk (pf_gen_next_chunk), so a slow client slows the generator down (its
 * bounded queues fill) instead of memory growing.  The frame stream wraps
 * each chunk in a DATA frame and interleaves PROGRESS frames, which the
 * generator emits from inside pf_gen_next_chunk; the stream ends with a
 * SUMMARY or an ERROR frame.  The process is resolved in api_trace_open,
 * before the response starts, so an unknown process is a plain 404.  When
 * the client goes away the server frees the response, which closes the
 * generator: the workers are cancelled and joined, nothing leaks.
 */
#define SL_TARGET "streamlake.server"
#include "server/api_trace.h"

#include "base/alloc.h"
#include "base/arena.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"
#include "perfetto/pf_frames.h"
#include "perfetto/pf_lake.h"
#include "server/api.h"
#include "streamlake/trace.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct api_trace {
    api_trace_stats *stats;
    budget *bud;
    budget_grant grant;     /* the generator's threads and memory bound */
    pf_lake_source src;
    pf_gen *g;
    int frames;
    pf_frame_writer fw;
    dbuf out;          /* framed bytes not yet handed out */
    size_t off;
    const uint8_t *chunk; /* plain mode: the current chunk */
    size_t chunk_len, chunk_off;
    int done;
    int counted;            /* in stats->running */
    char process_id[UUID_STR_LEN];
    sl_async_span span;     /* open to close (serve records itself) */
};

static int out_sink(void *ctx, const uint8_t *p, size_t n)
{
    return dbuf_append(&((api_trace *)ctx)->out, p, n);
}

int api_trace_open(lake *l, budget *bud, api_trace_stats *stats, const char *process_id,
                   const api_trace_req *rq, api_trace **out, int *status, errmsg *e)
{
    sl_uuid pid;
    if (uuid_parse(process_id, &pid)) {
        *status = 400;
        return errmsg_set(e, SL_EINVAL, "'%s' is not a process id", process_id);
    }
    api_trace *t = sl_calloc(1, sizeof *t);
    if (!t) {
        *status = 503;
        return errmsg_set(e, SL_ENOMEM, "out of memory");
    }
    t->stats = stats;
    t->span = SL_ASYNC_BEGIN("trace.generate", NULL);
    t->frames = rq->frames;
    snprintf(t->process_id, sizeof t->process_id, "%s", process_id);
    dbuf_init(&t->out, PF_FRAME_MAX_PAYLOAD + (1u << 20));
    pf_lake_source_init(&t->src, l, &pid);
    pf_gen_cfg cfg;
    pf_gen_cfg_init(&cfg);
    cfg.kinds = rq->kinds;
    cfg.has_begin = rq->has_begin;
    cfg.begin_ns = rq->begin_ns;
    cfg.has_end = rq->has_end;
    cfg.end_ns = rq->end_ns;
    cfg.jobs = rq->jobs ? rq->jobs : 1;
    if (bud) {
        /* As many workers as are free (at least one), and the memory they can hold. */
        int rc = budget_take(bud, pf_gen_memory_bound(&cfg), 1, cfg.jobs, &t->grant, e);
        if (rc) {
            *status = api_http_status(rc);
            api_trace_close(t);
            return rc;
        }
        t->bud = bud;
        cfg.jobs = t->grant.threads;
        budget_shrink(bud, &t->grant, pf_gen_memory_bound(&cfg));
    }
    if (t->frames) {
        pf_frame_writer_init(&t->fw, (pf_sink){out_sink, t});
        cfg.progress = pf_frame_writer_progress;
        cfg.progress_ctx = &t->fw;
    }
    int rc = pf_gen_open(&t->g, &cfg, pf_lake_source_get(&t->src), e);
    if (rc) {
        *status = api_http_status(rc);
        api_trace_close(t);
        return rc;
    }
    if (stats) {
        pthread_mutex_lock(&stats->mu);
        stats->running++;
        pthread_mutex_unlock(&stats->mu);
        t->counted = 1;
    }
    *out = t;
    return SL_OK;
}

static void record(api_trace *t, const pf_gen_summary *s)
{
    api_trace_stats *st = t->stats;
    if (!st)
        return;
    dbuf j;
    dbuf_init(&j, 1 << 16);
    if (pf_gen_summary_json(s, &j) == 0) {
        pthread_mutex_lock(&st->mu);
        st->count++;
        st->total_ns += s->total_ns;
        st->jit_ns += s->jit_ns;
        snprintf(st->last, sizeof st->last, "%.*s", (int)j.len, (const char *)j.p);
        pthread_mutex_unlock(&st->mu);
    }
    dbuf_free(&j);
}

/* Frame mode: the next frames into t->out (empty only at the very end). */
static int fill_frames(api_trace *t)
{
    dbuf_reset(&t->out);
    t->off = 0;
    while (!t->out.len && !t->done) {
        const uint8_t *p;
        size_t n;
        int rc = pf_gen_next_chunk(t->g, &p, &n);
        if (rc) {
            pf_frame_writer_error(&t->fw, rc, pf_gen_error(t->g));
            t->done = 1;
        } else if (n) {
            pf_sink data = pf_frame_writer_data_sink(&t->fw); /* a DATA frame with its offset */
            rc = data.write(data.ctx, p, n);
        } else {
            const pf_gen_summary *s = pf_gen_get_summary(t->g);
            rc = pf_frame_writer_summary(&t->fw, s);
            record(t, s);
            t->done = 1;
        }
        if (rc && !t->done)
            return rc;
    }
    return SL_OK;
}

ssize_t api_trace_read(api_trace *t, char *buf, size_t max)
{
    if (t->frames) {
        while (t->off == t->out.len) {
            if (t->done)
                return 0;
            if (fill_frames(t))
                return -1;
        }
        size_t n = t->out.len - t->off < max ? t->out.len - t->off : max;
        memcpy(buf, t->out.p + t->off, n);
        t->off += n;
        return (ssize_t)n;
    }
    if (t->chunk_off == t->chunk_len) {
        if (t->done)
            return 0;
        int rc = pf_gen_next_chunk(t->g, &t->chunk, &t->chunk_len);
        t->chunk_off = 0;
        if (rc) {
            log_warn("api", "trace of %s: %s", t->process_id, pf_gen_error(t->g));
            return -1;
        }
        if (!t->chunk_len) {
            record(t, pf_gen_get_summary(t->g));
            t->done = 1;
            return 0;
        }
    }
    size_t n = t->chunk_len - t->chunk_off < max ? t->chunk_len - t->chunk_off : max;
    memcpy(buf, t->chunk + t->chunk_off, n);
    t->chunk_off += n;
    return (ssize_t)n;
}

void api_trace_close(api_trace *t)
{
    if (!t)
        return;
    pf_gen_close(t->g); /* cancels and joins the workers if the client left early */
    if (t->counted) {
        pthread_mutex_lock(&t->stats->mu);
        t->stats->running--;
        t->stats->cancelled += !t->done;
        pthread_mutex_unlock(&t->stats->mu);
    }
    pf_lake_source_free(&t->src);
    if (t->frames)
        pf_frame_writer_free(&t->fw);
    dbuf_free(&t->out);
    if (t->bud)
        budget_give(t->bud, &t->grant);
    sl_async_end(&t->span);
    sl_free(t);
}

const char *api_trace_process_id(const api_trace *t)
{
    return t->process_id;
}

int api_trace_parse_body(const char *body, size_t len, api_trace_req *rq, errmsg *e)
{
    arena a;
    arena_init(&a, 4096, 1 << 20);
    json_val *v = NULL;
    int rc = len ? json_parse(&a, body, len, &v, e) : SL_OK;
    if (!rc && v && v->type != JSON_OBJ)
        rc = errmsg_set(e, SL_EINVAL, "the body must be a JSON object");
    const json_val *tr = v ? json_get(v, "time_range") : NULL;
    if (tr && tr->type == JSON_NULL)
        tr = NULL;
    if (!rc && tr && tr->type != JSON_OBJ)
        rc = errmsg_set(e, SL_EINVAL, "time_range: an object with begin and end (RFC 3339 "
                        "times or integer ns), or null");
    const char *keys[2] = {"begin", "end"};
    int *has[2] = {&rq->has_begin, &rq->has_end};
    int64_t *ns[2] = {&rq->begin_ns, &rq->end_ns};
    for (int i = 0; !rc && tr && i < 2; i++) {
        const json_val *x = json_get(tr, keys[i]);
        if (!x || x->type == JSON_NULL)
            continue;
        *has[i] = 1;
        if (x->type == JSON_NUM && x->is_int)
            *ns[i] = x->i;
        else if (x->type != JSON_STR || strlen(x->str) != x->len ||
                 clock_parse_time(x->str, ns[i]))
            rc = errmsg_set(e, SL_EINVAL, "time_range.%s: an RFC 3339 time or integer ns",
                            keys[i]);
    }
    const json_val *th = v ? json_get(v, "include_thread_spans") : NULL;
    const json_val *as = v ? json_get(v, "include_async_spans") : NULL;
    const json_val *jobs = v ? json_get(v, "jobs") : NULL;
    if (!rc && ((th && th->type != JSON_BOOL) || (as && as->type != JSON_BOOL)))
        rc = errmsg_set(e, SL_EINVAL, "include_thread_spans and include_async_spans are booleans");
    if (!rc) {
        unsigned k = 0;
        if (!th || th->b)
            k |= 1; /* PF_KIND_THREAD */
        if (!as || as->b)
            k |= 2; /* PF_KIND_ASYNC */
        if (!k)
            rc = errmsg_set(e, SL_EINVAL, "nothing to include: thread and async spans are off");
        rq->kinds = k;
    }
    if (!rc && jobs) {
        if (jobs->type == JSON_NUM && jobs->is_int && jobs->i > 0 && jobs->i <= 64)
            rq->jobs = (unsigned)jobs->i;
        else
            rc = errmsg_set(e, SL_EINVAL, "jobs: an integer from 1 to 64");
    }
    arena_destroy(&a);
    return rc;
}
