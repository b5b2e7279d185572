/*
 * test_client.c - the tracing library, observed from outside: what a program
 * records is what arrives in the sink, in order, and what cannot be kept is
 * counted, with memory under the cap.
 */
#include "test.h"

#define SL_TARGET "test"
#include "streamlake/trace.h"

#include "capture.h"
#include "base/clock.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct tally {
    uint64_t by_type[16];
    uint64_t events;
    uint64_t named_task;     /* named spans called "task-7" */
    uint64_t log_fmt_ok;     /* formatted logs whose text matched */
    uint64_t async_ids[4096];
    int n_async;
} tally;

static void count(void *ctx, const wire_block *b, const wire_payload *pl, const wire_event *ev)
{
    (void)b;
    (void)pl;
    tally *t = ctx;
    t->events++;
    t->by_type[ev->type]++;
    if (ev->type == WIRE_EV_NAMED_SPAN_BEGIN && ev->name.len == 6 &&
        !memcmp(ev->name.p, "task-7", 6))
        t->named_task++;
    if (ev->type == WIRE_EV_LOG_FMT && ev->name.len >= 6 && !memcmp(ev->name.p, "value ", 6))
        t->log_fmt_ok++;
    if (ev->type == WIRE_EV_ASYNC_BEGIN && t->n_async < 4096)
        t->async_ids[t->n_async++] = ev->span_id;
}

static const sl_span_desc g_work = {"work", "test", "t.c", 1};

typedef struct shared_async {
    sl_async_span spans[64];
    pthread_barrier_t bar;
} shared_async;

static void *recorder(void *arg)
{
    shared_async *sa = arg;
    for (int i = 0; i < 1000; i++) {
        SL_SPAN("outer");
        SL_NAMED_SPAN("task", i % 8 == 7 ? "task-7" : "task-x");
        sl_span_begin(&g_work);
        sl_span_end(&g_work);
    }
    for (int i = 0; i < 100; i++)
        SL_LOGF(SL_INFO, "value %d", i);
    SL_LOG(SL_WARN, "static");
    SL_METRIC_F("load", "%", 0.5);
    /* Thread 0 begins async spans, the others end them. */
    static _Atomic int who;
    int me = atomic_fetch_add(&who, 1);
    if (me == 0)
        for (int i = 0; i < 64; i++)
            sa->spans[i] = SL_ASYNC_BEGIN("request", i ? &sa->spans[0] : NULL);
    pthread_barrier_wait(&sa->bar);
    if (me == 1)
        for (int i = 0; i < 64; i++)
            sl_async_end(&sa->spans[i]);
    return NULL;
}

TEST(what_is_recorded_arrives)
{
    char dir[256];
    capture_tmpdir(dir, sizeof dir, "roundtrip");
    sl_config cfg = {.directory = dir};
    CHECK_OK(sl_init(&cfg));
    shared_async sa;
    pthread_barrier_init(&sa.bar, NULL, 3);
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, recorder, &sa);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    sl_shutdown();
    sl_stats st;
    sl_stats_get(&st);
    uint64_t expect = 3 * (1000 * 6 + 100 + 1 + 1) + 64 * 2;
    CHECK_EQ(st.events_dropped, 0);
    CHECK_EQ(st.events_recorded, expect);
    CHECK_EQ(st.events_delivered, expect);

    tally t = {0};
    dbuf proc;
    dbuf_init(&proc, 1 << 20);
    CHECK(capture_walk(dir, count, &t, &proc) > 0);
    CHECK_EQ(t.events, expect);
    CHECK_EQ(t.by_type[WIRE_EV_SPAN_BEGIN], 3 * 2000);
    CHECK_EQ(t.by_type[WIRE_EV_SPAN_END], 3 * 2000);
    CHECK_EQ(t.by_type[WIRE_EV_NAMED_SPAN_BEGIN], 3000);
    CHECK_EQ(t.named_task, 3 * 125);
    CHECK_EQ(t.by_type[WIRE_EV_LOG_FMT], 300);
    CHECK_EQ(t.log_fmt_ok, 300);
    CHECK_EQ(t.by_type[WIRE_EV_LOG], 3);
    CHECK_EQ(t.by_type[WIRE_EV_METRIC_FLOAT], 3);
    CHECK_EQ(t.by_type[WIRE_EV_ASYNC_BEGIN], 64);
    CHECK_EQ(t.by_type[WIRE_EV_ASYNC_END], 64);
    for (int i = 0; i < t.n_async; i++)
        for (int j = i + 1; j < t.n_async; j++)
            CHECK(t.async_ids[i] != t.async_ids[j]);

    arena a;
    arena_init(&a, 4096, 0);
    wire_process p;
    errmsg e;
    CHECK_OK(wire_process_decode(proc.p, proc.len, &a, &p, &e));
    CHECK(p.tsc_frequency > 1000000);
    CHECK(p.exe.len > 0);
    CHECK(memmem(p.exe.p, p.exe.len, "test_client", 11) != NULL);
    arena_destroy(&a);
    dbuf_free(&proc);
}

/* Formatted logs of varying length force padding at every wrap of a small ring. */
static const sl_metric_desc g_seq = {"seq", "n", "test", "t.c", 2};

typedef struct seq_tally {
    uint64_t seq, logs;
    int64_t last;
    int ordered;
} seq_tally;

static void count_seq(void *ctx, const wire_block *b, const wire_payload *pl,
                      const wire_event *ev)
{
    (void)b;
    seq_tally *t = ctx;
    if (ev->type == WIRE_EV_METRIC_INT && pl->descs[ev->desc].name.len == 3) {
        t->seq++;
        if (ev->value_i <= t->last)
            t->ordered = 0;
        t->last = ev->value_i;
    }
    if (ev->type == WIRE_EV_LOG_FMT && pl->descs[ev->desc].name.len == 7) /* "%d %.*s" */
        t->logs++;
}

static void record_sequence(int n, int flush_every)
{
    char pad[200];
    memset(pad, 'x', sizeof pad);
    for (int i = 0; i < n; i++) {
        sl_metric_int(&g_seq, i);
        if (i % 3 == 0)
            SL_LOGF(SL_DEBUG, "%d %.*s", i, i % 199, pad);
        if (flush_every && i % flush_every == 0)
            CHECK_OK(sl_flush(10000));
    }
}

TEST(small_rings_wrap_and_keep_order)
{
    char dir[256];
    capture_tmpdir(dir, sizeof dir, "wrap");
    sl_config cfg = {.directory = dir, .thread_buffer_bytes = 64 << 10};
    CHECK_OK(sl_init(&cfg));
    const int n = 200000;
    /* Flushing often keeps the rings from filling, so nothing may be missing. */
    record_sequence(n, 500);
    sl_shutdown();
    sl_stats st;
    sl_stats_get(&st);
    seq_tally t = {.last = -1, .ordered = 1};
    CHECK(capture_walk(dir, count_seq, &t, NULL) > 0);
    CHECK_EQ(st.events_dropped, 0);
    CHECK(t.ordered);
    CHECK_EQ(t.seq, n);
    CHECK_EQ(t.logs, (n + 2) / 3);
    CHECK_EQ(t.last, n - 1);
}

TEST(overload_loses_only_what_it_counts)
{
    char dir[256];
    capture_tmpdir(dir, sizeof dir, "overload");
    sl_config cfg = {.directory = dir, .thread_buffer_bytes = 32 << 10};
    CHECK_OK(sl_init(&cfg));
    const int n = 1000000;
    record_sequence(n, 0); /* as fast as it goes: the collector cannot keep up */
    sl_shutdown();
    sl_stats st;
    sl_stats_get(&st);
    seq_tally t = {.last = -1, .ordered = 1};
    CHECK(capture_walk(dir, count_seq, &t, NULL) > 0);
    CHECK(t.ordered);
    /* Drops may include the library's own reports; nothing else goes missing. */
    CHECK(t.seq + t.logs + st.events_dropped >= (uint64_t)(n + (n + 2) / 3));
    CHECK(t.seq + t.logs <= (uint64_t)(n + (n + 2) / 3));
}

TEST(memory_cap_holds_and_drops_are_counted)
{
    /* Port 1 on loopback refuses connections: the sink is down for the whole test. */
    sl_config cfg = {.server_url = "http://127.0.0.1:1",
                     .max_memory_bytes = 2 << 20,
                     .thread_buffer_bytes = 256 << 10,
                     .shutdown_timeout_ms = 300};
    CHECK_OK(sl_init(&cfg));
    const uint64_t n = 4000000;
    for (uint64_t i = 0; i < n / 2; i++) {
        sl_span_begin(&g_work);
        sl_span_end(&g_work);
        if (i % 100000 == 0) {
            sl_stats st;
            sl_stats_get(&st);
            CHECK(st.memory_bytes <= st.memory_cap_bytes);
        }
    }
    sl_stats st;
    sl_stats_get(&st);
    CHECK(st.memory_peak_bytes <= 2 << 20);
    sl_shutdown();
    sl_stats_get(&st);
    CHECK_EQ(st.events_delivered, 0);
    CHECK(st.events_dropped >= n - st.events_recorded);
    /* Every event is either delivered or counted as dropped (the library may add its own
     * drop reports, which are dropped too). */
    CHECK(st.events_dropped >= n);
    CHECK(st.send_retries > 0);
    CHECK(st.memory_peak_bytes <= 2 << 20);
}

TEST(events_after_shutdown_are_counted_not_lost_silently)
{
    char dir[256];
    capture_tmpdir(dir, sizeof dir, "after");
    sl_config cfg = {.directory = dir};
    CHECK_OK(sl_init(&cfg));
    for (int i = 0; i < 10; i++)
        sl_span_begin(&g_work);
    sl_shutdown();
    for (int i = 0; i < 5; i++)
        sl_span_end(&g_work);
    sl_stats st;
    sl_stats_get(&st);
    CHECK_EQ(st.events_delivered, 10);
    CHECK_EQ(st.events_dropped, 5);
}

static void *short_lived(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100; i++) {
        SL_SPAN("brief");
    }
    return NULL;
}

TEST(exited_threads_are_collected_and_freed)
{
    char dir[256];
    capture_tmpdir(dir, sizeof dir, "exit");
    sl_config cfg = {.directory = dir};
    CHECK_OK(sl_init(&cfg));
    for (int round = 0; round < 5; round++) {
        pthread_t th[8];
        for (int i = 0; i < 8; i++)
            pthread_create(&th[i], NULL, short_lived, NULL);
        for (int i = 0; i < 8; i++)
            pthread_join(th[i], NULL);
    }
    CHECK_OK(sl_flush(10000));
    sl_stats st;
    sl_stats_get(&st);
    CHECK_EQ(st.events_delivered, 40 * 200);
    /* The 40 threads' rings are gone: what remains is the collector's own. */
    CHECK(st.memory_bytes < 1 << 20);
    sl_shutdown();
}

TEST(without_a_sink_nothing_starts)
{
    unsetenv("STREAMLAKE_SERVER");
    unsetenv("STREAMLAKE_DIR");
    CHECK(sl_init(NULL) < 0);
    sl_span_begin(&g_work); /* harmless */
    sl_stats st;
    sl_stats_get(&st);
    CHECK_EQ(st.events_recorded, 0);
    CHECK(sl_init(NULL) < 0); /* runs once per process */
}

TEST(flush_delivers_without_stopping)
{
    char dir[256];
    capture_tmpdir(dir, sizeof dir, "flush");
    sl_config cfg = {.directory = dir, .flush_period_ms = 60000};
    CHECK_OK(sl_init(&cfg));
    sl_span_begin(&g_work);
    sl_span_end(&g_work);
    CHECK_OK(sl_flush(5000));
    sl_stats st;
    sl_stats_get(&st);
    CHECK_EQ(st.events_delivered, 2);
    sl_span_begin(&g_work);
    CHECK_OK(sl_flush(5000));
    sl_stats_get(&st);
    CHECK_EQ(st.events_delivered, 3);
    sl_shutdown();
}
