/*
 * init.c - starting, flushing and stopping the library; its counters.
 *
 * sl_init fixes the process identity and the tick origin, creates the sink,
 * and starts the collector and the sender.  sl_shutdown stops recording,
 * drains every ring, gives the sink shutdown_timeout_ms to take what is
 * queued, and counts the rest as dropped.  State moves 0 -> 1 -> 2 -> 3 and
 * never back: the library runs once per process.
 */
#include "client/client.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "wire/wire.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

cl_global g_cl;

#define DEFAULT_MEMORY (64u << 20)
#define DEFAULT_MAX_RING (4u << 20)
#define MIN_RING (16u << 10)

static size_t pow2_at_least(size_t n)
{
    size_t p = MIN_RING;
    while (p < n && p < ((size_t)1 << 40))
        p <<= 1;
    return p;
}

static void free_config(void)
{
    sl_free((void *)g_cl.cfg.server_url);
    sl_free((void *)g_cl.cfg.directory);
    for (size_t i = 0; i < g_cl.cfg.n_properties; i++) {
        sl_free((void *)g_cl.cfg.properties[i].key);
        sl_free((void *)g_cl.cfg.properties[i].value);
    }
    sl_free((void *)g_cl.cfg.properties);
    memset(&g_cl.cfg, 0, sizeof g_cl.cfg);
}

/* Copies the user's configuration, filling defaults and the environment. */
static int take_config(const sl_config *in, int in_process, errmsg *e)
{
    sl_config c;
    memset(&c, 0, sizeof c);
    if (in)
        c = *in;
    if (in_process)
        c.server_url = c.directory = NULL;
    if (!in_process && !c.server_url && !c.directory) {
        c.server_url = getenv("STREAMLAKE_SERVER");
        c.directory = getenv("STREAMLAKE_DIR");
    }
    if (!in_process && !c.server_url && !c.directory)
        return errmsg_set(e, SL_EINVAL, "no sink: set sl_config.server_url or .directory, "
                          "or STREAMLAKE_SERVER or STREAMLAKE_DIR");
    if (!c.max_memory_bytes)
        c.max_memory_bytes = DEFAULT_MEMORY;
    if (!c.thread_buffer_bytes)
        c.thread_buffer_bytes = DEFAULT_MAX_RING;
    if (!c.flush_period_ms)
        c.flush_period_ms = 1000;
    if (!c.shutdown_timeout_ms)
        c.shutdown_timeout_ms = 5000;
    const char *url = c.server_url, *dir = c.directory;
    c.server_url = url ? sl_strdup(url) : NULL;
    c.directory = dir ? sl_strdup(dir) : NULL;
    int oom = (url && !c.server_url) || (dir && !c.directory);
    sl_property *props = c.n_properties ? sl_calloc(c.n_properties, sizeof *props) : NULL;
    oom |= c.n_properties && !props;
    for (size_t i = 0; props && i < c.n_properties; i++) {
        props[i].key = sl_strdup(in->properties[i].key);
        props[i].value = sl_strdup(in->properties[i].value);
        oom |= !props[i].key || !props[i].value;
    }
    c.properties = props;
    if (!props)
        c.n_properties = 0;
    g_cl.cfg = c;
    if (oom) {
        free_config();
        return errmsg_set(e, SL_ENOMEM, "no memory for the configuration");
    }
    g_cl.mem_cap = c.max_memory_bytes;
    g_cl.ring_cap = c.max_memory_bytes / 4 * 3;
    /* Spans start at 64 KiB, logs and metrics at 16 KiB; all may grow to the maximum. */
    size_t max = pow2_at_least(c.thread_buffer_bytes);
    g_cl.ring_min_bytes[RING_CPU] = max < (64u << 10) ? max : (64u << 10);
    g_cl.ring_min_bytes[RING_LOG] = g_cl.ring_min_bytes[RING_METRIC] = MIN_RING;
    for (int k = 0; k < RING_KINDS; k++)
        g_cl.ring_max_bytes[k] = max;
    return SL_OK;
}

/* sl_init, with the sink from the configuration or (fn not NULL) the in-process one. */
static int start(const sl_config *cfg, cl_sink_fn fn, void *fn_arg)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong(&g_cl.state, &expected, 2))
        return SL_ESTATE; /* started before */
    errmsg e;
    errmsg_clear(&e);
    int rc = take_config(cfg, fn != NULL, &e);
    if (rc)
        goto fail;
    /*
     * Blocks for a network or a directory are compressed hard (zstd); the
     * in-process sink hands them straight to a server in this process, which
     * decompresses each one to validate it: lz4 costs a fraction of zstd on
     * both sides, for somewhat larger objects (docs/internals/self-trace.md).
     */
    g_cl.codec = fn ? WIRE_CODEC_LZ4 : WIRE_CODEC_ZSTD;
    uuid_v4(&g_cl.process_id);
    uuid_format(&g_cl.process_id, g_cl.process_id_str);
    uuid_v4(&g_cl.log_stream_id);
    uuid_v4(&g_cl.metric_stream_id);
    g_cl.start_mono_ns = clock_mono_ns();
    g_cl.start_ticks = clock_ticks();
    g_cl.start_time_ns = clock_wall_ns();
    pthread_key_create(&g_cl.thread_key, cl_thread_key_destructor);
    pthread_mutex_init(&g_cl.q_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g_cl.q_cv, &ca);
    pthread_condattr_destroy(&ca);
    if (fn) {
        if ((rc = cl_sink_fn_new(fn, fn_arg, &g_cl.sink)))
            errmsg_set(&e, rc, "out of memory");
    } else if (g_cl.cfg.server_url) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        rc = cl_sink_http_new(g_cl.cfg.server_url, &g_cl.sink, &e);
    } else {
        rc = cl_sink_dir_new(g_cl.cfg.directory, g_cl.process_id_str, &g_cl.sink, &e);
    }
    if (rc)
        goto fail;
    atomic_store(&g_cl.state, 1);
    if ((rc = cl_sender_start()) || (rc = cl_collector_start()))
        goto fail; /* threads cannot be created: nothing will be recorded */
    atexit(sl_shutdown);
    return SL_OK;
fail:
    fprintf(stderr, "streamlake: not started: %s\n", errmsg_str(&e));
    atomic_store(&g_cl.state, 3);
    return rc;
}

int sl_init(const sl_config *cfg)
{
    return start(cfg, NULL, NULL);
}

int cl_init_in_process(const sl_config *cfg, cl_sink_fn fn, void *arg)
{
    return fn ? start(cfg, fn, arg) : SL_EINVAL;
}

int sl_flush(uint32_t timeout_ms)
{
    if (atomic_load(&g_cl.state) != 1)
        return SL_ESTATE;
    int64_t deadline = clock_mono_ns() + (int64_t)timeout_ms * 1000000;
    uint64_t req = atomic_fetch_add(&g_cl.flush_req, 1) + 1;
    atomic_fetch_add(&g_cl.wake_seq, 1);
    cl_futex_wake(&g_cl.wake_seq);
    struct timespec ts = {(time_t)(deadline / 1000000000), (long)(deadline % 1000000000)};
    pthread_mutex_lock(&g_cl.q_mu);
    while (atomic_load(&g_cl.flush_done) < req && clock_mono_ns() < deadline)
        pthread_cond_timedwait(&g_cl.q_cv, &g_cl.q_mu, &ts);
    pthread_mutex_unlock(&g_cl.q_mu);
    return cl_queue_wait_empty(deadline);
}

void sl_shutdown(void)
{
    int expected = 1;
    if (!atomic_compare_exchange_strong(&g_cl.state, &expected, 2))
        return;
    int64_t deadline = clock_mono_ns() + (int64_t)g_cl.cfg.shutdown_timeout_ms * 1000000;
    cl_collector_stop();
    cl_queue_wait_empty(deadline);
    cl_sender_stop();
    g_cl.sink->destroy(g_cl.sink);
    g_cl.sink = NULL;
    if (g_cl.cfg.server_url)
        curl_global_cleanup();
    uint64_t dropped = atomic_load(&g_cl.ev_dropped);
    if (dropped)
        fprintf(stderr, "streamlake: %llu of %llu events were dropped (see sl_stats)\n",
                (unsigned long long)dropped,
                (unsigned long long)(atomic_load(&g_cl.ev_drained) + dropped));
    if (getenv("STREAMLAKE_DEBUG"))
        fprintf(stderr, "streamlake debug: %llu collector passes, %llu blocks, %llu events "
                "dropped in rings, %llu with blocks, peak memory %zu of %zu bytes; passes took "
                "%.1f ms in total (max %.2f ms), compression %.1f ms\n",
                (unsigned long long)g_cl.dbg_passes, (unsigned long long)g_cl.dbg_blocks,
                (unsigned long long)g_cl.dbg_ring_drops,
                (unsigned long long)g_cl.dbg_block_drops, (size_t)g_cl.mem_peak, g_cl.mem_cap,
                (double)g_cl.dbg_pass_ns_total / 1e6, (double)g_cl.dbg_pass_ns_max / 1e6,
                (double)g_cl.dbg_seal_ns_total / 1e6);
    free_config();
    atomic_store(&g_cl.state, 3);
}

const char *sl_process_id(void)
{
    return g_cl.process_id_str;
}

static int64_t thread_cpu_ns(pthread_t th)
{
    clockid_t id;
    struct timespec ts;
    if (pthread_getcpuclockid(th, &id) || clock_gettime(id, &ts))
        return -1;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int cl_thread_cpu_ns(int64_t *collector_ns, int64_t *sender_ns)
{
    if (atomic_load(&g_cl.state) != 1)
        return SL_ESTATE;
    *collector_ns = thread_cpu_ns(g_cl.collector_th);
    *sender_ns = thread_cpu_ns(g_cl.sender_th);
    return *collector_ns < 0 || *sender_ns < 0 ? SL_ESTATE : SL_OK;
}

void sl_stats_get(sl_stats *out)
{
    memset(out, 0, sizeof *out);
    out->events_recorded = atomic_load(&g_cl.ev_drained);
    out->events_dropped = atomic_load(&g_cl.ev_dropped);
    out->events_delivered = atomic_load(&g_cl.ev_delivered);
    out->blocks_delivered = atomic_load(&g_cl.blocks_delivered);
    out->bytes_delivered = atomic_load(&g_cl.bytes_delivered);
    out->send_retries = atomic_load(&g_cl.retries);
    out->library_events = atomic_load(&g_cl.ev_library);
    out->memory_bytes = atomic_load(&g_cl.mem_used);
    out->memory_peak_bytes = atomic_load(&g_cl.mem_peak);
    out->memory_cap_bytes = g_cl.mem_cap;
}
