/*
 * self_trace.c - the server's own events into its own lake (self_trace.h).
 *
 * Three pieces.  The sink: each library message goes to ingest_process,
 * ingest_stream or ingest_block, and their HTTP-like status is turned into
 * what the library's sender expects (409: resend the process and stream;
 * 5xx: retry).  The log hook: each log line becomes a log entry whose target
 * is the line's subsystem.  The metrics: each number of the /api/stats
 * document becomes a metric named by its path ("lake.partitions.built").
 *
 * The library wants descriptors that live as long as it reads them: log and
 * metric descriptors are made on first use of a (level, subsystem) or a path
 * and kept in fixed tables for the life of the process (they are few: a
 * subsystem per module, a path per figure); past the tables' size, lines are
 * recorded under a shared "other" descriptor and figures are skipped.
 */
#define SL_TARGET "streamlake.server"
#include "server/self_trace.h"

#include "base/arena.h"
#include "base/json.h"
#include "base/log.h"
#include "client/client.h"
#include "streamlake/trace.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define LOG_DESCS 128
#define METRIC_DESCS 512
#define NAME_MAX_BYTES 96
#define SELF_TRACE_FLUSH_MS 5000

typedef struct log_slot {
    sl_log_desc d;
    char target[48];
} log_slot;

typedef struct metric_slot {
    sl_metric_desc d;
    char name[NAME_MAX_BYTES];
} metric_slot;

static ingest *g_ingest;
static _Atomic int g_on;
static _Atomic int64_t g_metrics_ns;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static log_slot g_logs[LOG_DESCS];
static int g_nlogs;
static metric_slot g_metrics[METRIC_DESCS];
static int g_nmetrics;
static const sl_log_desc g_log_other = {"%s", "streamlake.server", __FILE__, __LINE__, SL_INFO};

/* The sender thread's messages, stored as the ingestion routes would store them. */
static int deliver(void *arg, int kind, const uint8_t *msg, size_t len, errmsg *e)
{
    (void)arg;
    ingest_reply r;
    if (kind == 'P')
        ingest_process(g_ingest, msg, len, &r);
    else if (kind == 'S')
        ingest_stream(g_ingest, msg, len, &r);
    else
        ingest_block(g_ingest, msg, len, &r);
    if (r.status / 100 == 2)
        return SL_OK;
    int code = r.status == 409 ? SL_EAGAIN : r.status >= 500 ? SL_EIO : SL_EINVAL;
    return errmsg_set(e, code, "%d: %s", r.status, errmsg_str(&r.e));
}

/* The descriptor of (level, subsystem), made on first use; the shared one when full. */
static const sl_log_desc *log_desc(int level, const char *subsystem)
{
    const sl_log_desc *d = NULL;
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < g_nlogs && !d; i++)
        if (g_logs[i].d.level == level && !strcmp(g_logs[i].target, subsystem))
            d = &g_logs[i].d;
    if (!d && g_nlogs < LOG_DESCS && strlen(subsystem) < sizeof g_logs[0].target) {
        log_slot *s = &g_logs[g_nlogs++];
        snprintf(s->target, sizeof s->target, "%s", subsystem);
        s->d = (sl_log_desc){"%s", s->target, "server", 0, (uint8_t)level};
        d = &s->d;
    }
    pthread_mutex_unlock(&g_mu);
    return d ? d : &g_log_other;
}

static void on_log(int level, const char *subsystem, const char *message)
{
    if (atomic_load_explicit(&g_on, memory_order_relaxed))
        sl_logf(log_desc(level, subsystem), message);
}

static const sl_metric_desc *metric_desc(const char *name)
{
    const sl_metric_desc *d = NULL;
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < g_nmetrics && !d; i++)
        if (!strcmp(g_metrics[i].name, name))
            d = &g_metrics[i].d;
    if (!d && g_nmetrics < METRIC_DESCS) {
        metric_slot *s = &g_metrics[g_nmetrics++];
        snprintf(s->name, sizeof s->name, "%s", name);
        s->d = (sl_metric_desc){s->name, "", SL_TARGET, "server", 0};
        d = &s->d;
    }
    pthread_mutex_unlock(&g_mu);
    return d;
}

/* Records every number under v, named by its path from the root. */
static void record_numbers(const json_val *v, char *path, size_t plen)
{
    if (v->type == JSON_NUM) {
        const sl_metric_desc *d = metric_desc(path);
        if (d && v->is_int)
            sl_metric_int(d, v->i);
        else if (d)
            sl_metric_float(d, v->num);
        return;
    }
    if (v->type != JSON_OBJ)
        return; /* arrays and strings are not figures */
    for (size_t i = 0; i < v->len; i++) {
        int n = snprintf(path + plen, NAME_MAX_BYTES - plen, "%s%s", plen ? "." : "",
                         v->keys[i]);
        if (n > 0 && plen + (size_t)n < NAME_MAX_BYTES)
            record_numbers(&v->items[i], path, plen + (size_t)n);
    }
    path[plen] = 0;
}

void self_trace_metrics(const char *json, size_t len)
{
    if (!atomic_load(&g_on))
        return;
    arena a;
    arena_init(&a, 64u << 10, 16u << 20);
    json_val *root;
    errmsg e;
    errmsg_clear(&e);
    char path[NAME_MAX_BYTES] = "";
    if (json_parse(&a, json, len, &root, &e) == SL_OK)
        record_numbers(root, path, 0);
    arena_destroy(&a);
}

int self_trace_start(ingest *g, const char *listen, errmsg *e)
{
    g_ingest = g;
    sl_property props[] = {{"program", "streamlake serve"}, {"streamlake.role", "server"},
                           {"streamlake.listen", listen}};
    /* Storing a block costs the same CPU however small it is (an object and a
     * metadata row): five seconds per block instead of the library's one keep
     * the server's own blocks few (docs/internals/self-trace.md, "Cost"). */
    sl_config cfg = {.properties = props, .n_properties = 3,
                     .flush_period_ms = SELF_TRACE_FLUSH_MS};
    int rc = cl_init_in_process(&cfg, deliver, NULL);
    if (rc)
        return errmsg_set(e, rc, rc == SL_ESTATE ? "the tracing library already ran in this "
                          "process" : "the tracing library did not start");
    sl_thread_set_name("serve-main");
    atomic_store(&g_on, 1);
    log_set_hook(on_log);
    return SL_OK;
}

void self_trace_stop(void)
{
    if (!atomic_exchange(&g_on, 0))
        return;
    log_set_hook(NULL);
    sl_shutdown();
    g_ingest = NULL;
}

int self_trace_on(void)
{
    return atomic_load(&g_on);
}

int64_t self_trace_thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void self_trace_charge_metrics(int64_t t0)
{
    atomic_fetch_add(&g_metrics_ns, self_trace_thread_cpu_ns() - t0);
}

int self_trace_cost_get(self_trace_cost *out)
{
    memset(out, 0, sizeof *out);
    if (!atomic_load(&g_on))
        return SL_ESTATE;
    int rc = cl_thread_cpu_ns(&out->collector_ns, &out->sender_ns);
    out->metrics_ns = atomic_load(&g_metrics_ns);
    sl_stats st;
    sl_stats_get(&st);
    out->events_recorded = st.events_recorded;
    out->events_delivered = st.events_delivered;
    out->blocks_delivered = st.blocks_delivered;
    out->bytes_delivered = st.bytes_delivered;
    out->events_dropped = st.events_dropped;
    return rc;
}
