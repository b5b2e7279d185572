/*
 * streamlake/trace.h - the streamlake tracing library.
 *
 * Record what every thread of a C or C++ program does, cheaply and all the
 * time: thread spans, async spans (which may begin on one thread and end on
 * another), logs and metrics.  Each event costs a read of the cycle counter and
 * a few stores into a buffer owned by the calling thread: no lock, no
 * allocation, no system call.  A background thread turns buffers into
 * compressed blocks and hands them to a sink (a streamlake server over HTTP,
 * or a local directory to import later).
 *
 * Recording never blocks.  When the sink is slow or down, memory stays under a
 * cap (sl_config.max_memory_bytes, default 64 MiB); blocks wait and are retried
 * with backoff; what cannot be kept is dropped, counted (sl_stats_get), and
 * reported as the metric `streamlake.dropped_events` and a warning log line.
 *
 *     #define SL_TARGET "engine.render"      // optional: category of this file's events
 *     #include <streamlake/trace.h>
 *
 *     int main(void) {
 *         sl_init(NULL);                       // STREAMLAKE_SERVER or STREAMLAKE_DIR from env
 *         { SL_SPAN("frame"); draw(); }        // span ends when the block exits
 *         SL_LOGF(SL_INFO, "loaded %d meshes", n);
 *         SL_METRIC_F("frame_time", "ms", 16.6);
 *         sl_shutdown();                       // also runs at exit
 *     }
 *
 * Descriptors (name, target, file, line) are static: the macros declare them
 * once per call site, and blocks carry each only once.  Names given at run
 * time (sl_named_span_begin, formatted logs) are copied.
 *
 * Thread safety: every function may be called from any thread.  sl_init and
 * sl_shutdown are called once each, from one thread.
 */
#ifndef STREAMLAKE_TRACE_H
#define STREAMLAKE_TRACE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef SL_TARGET
#define SL_TARGET ""
#endif

/* Log levels (the numbers are stored). */
enum sl_level { SL_FATAL = 1, SL_ERROR = 2, SL_WARN = 3, SL_INFO = 4, SL_DEBUG = 5, SL_TRACE = 6 };

/* Static description of a span call site. Must outlive the process's use of it. */
typedef struct sl_span_desc {
    const char *name;
    const char *target;
    const char *file;
    uint32_t line;
} sl_span_desc;

/* Static description of a log call site; `fmt` is the message or its format. */
typedef struct sl_log_desc {
    const char *fmt;
    const char *target;
    const char *file;
    uint32_t line;
    uint8_t level;
} sl_log_desc;

typedef struct sl_metric_desc {
    const char *name;
    const char *unit;
    const char *target;
    const char *file;
    uint32_t line;
} sl_metric_desc;

typedef struct sl_property {
    const char *key;
    const char *value;
} sl_property;

typedef struct sl_config {
    const char *server_url;       /* e.g. "http://127.0.0.1:8080"; env STREAMLAKE_SERVER */
    const char *directory;        /* offline capture directory; env STREAMLAKE_DIR */
    size_t max_memory_bytes;      /* cap on buffers + queued blocks; 0 = 64 MiB */
    size_t thread_buffer_bytes;   /* largest per-thread buffer; buffers start at 64 KiB and
                                     double while a thread records fast; 0 = 4 MiB */
    uint32_t flush_period_ms;     /* max age of an event before it is sent; 0 = 1000 */
    uint32_t shutdown_timeout_ms; /* how long sl_shutdown waits for the sink; 0 = 5000 */
    uint64_t tsc_frequency;       /* ticks per second; 0 = measure at start */
    const sl_property *properties;/* process properties, copied */
    size_t n_properties;
} sl_config;

/*
 * Starts the library: registers the process and starts the background thread.
 * cfg may be NULL (defaults, sink from the environment).  Without any sink the
 * library records nothing and returns a negative code.  Returns 0 on success.
 */
int sl_init(const sl_config *cfg);

/*
 * Flushes every thread's buffers and waits up to shutdown_timeout_ms for the
 * sink to take everything; what it could not take is counted as dropped and
 * printed to stderr.  Events recorded after this are dropped and counted.
 * Registered with atexit() by sl_init; calling it twice is harmless.
 */
void sl_shutdown(void);

/*
 * Sends everything recorded so far and waits up to timeout_ms for the sink to
 * acknowledge it.  Returns 0 when all was delivered, a negative code otherwise.
 */
int sl_flush(uint32_t timeout_ms);

/* The process id as 36 characters of text (empty before sl_init). */
const char *sl_process_id(void);

/* Names the calling thread's stream (call before its first event to be sure it is used). */
void sl_thread_set_name(const char *name);

/* ---- recording ---------------------------------------------------------- */

void sl_span_begin(const sl_span_desc *d);
void sl_span_end(const sl_span_desc *d);
/* A span whose name is known only at run time (copied, up to 1024 bytes). */
void sl_named_span_begin(const sl_span_desc *d, const char *name);
void sl_named_span_end(const sl_span_desc *d, const char *name);

/* An async span: may end on another thread. Ids are unique in the process. */
typedef struct sl_async_span {
    const sl_span_desc *desc;
    uint64_t span_id;
    uint64_t parent_span_id; /* 0: no parent */
    uint32_t depth;          /* parent's depth + 1; 0 for a root */
} sl_async_span;

sl_async_span sl_async_begin(const sl_span_desc *d, const sl_async_span *parent);
void sl_async_end(const sl_async_span *s);

/* A log line with a static message. */
void sl_log(const sl_log_desc *d);
/* A formatted log line; d->fmt is the format (messages are cut at 4000 bytes). */
void sl_logf(const sl_log_desc *d, ...);
void sl_metric_int(const sl_metric_desc *d, int64_t value);
void sl_metric_float(const sl_metric_desc *d, double value);

/* ---- counters ----------------------------------------------------------- */

/*
 * At the end (after sl_shutdown), every event is accounted for:
 *   events the program recorded + library_events == events_delivered + events_dropped
 */
typedef struct sl_stats {
    uint64_t events_recorded;   /* written into a buffer */
    uint64_t events_dropped;    /* lost: buffer full, memory cap, sink refused, shutdown */
    uint64_t events_delivered;  /* acknowledged by the sink */
    uint64_t blocks_delivered;
    uint64_t bytes_delivered;   /* block message bytes acknowledged */
    uint64_t send_retries;      /* failed attempts that were retried */
    uint64_t library_events;    /* events the library recorded itself (drop reports) */
    size_t memory_bytes;        /* buffers and queued blocks now */
    size_t memory_peak_bytes;   /* highest memory_bytes so far */
    size_t memory_cap_bytes;
} sl_stats;

void sl_stats_get(sl_stats *out);

/* ---- macros ------------------------------------------------------------- */

/* Never called: lets the compiler check SL_LOGF's arguments against its format. */
static inline void sl__check_format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void sl__check_format(const char *fmt, ...)
{
    (void)fmt;
}

#define SL__CAT2(a, b) a##b
#define SL__CAT(a, b) SL__CAT2(a, b)
#define SL__ID(x) SL__CAT(x, __LINE__)

/* Declares a static span descriptor named var. */
#define SL_SPAN_DESC(var, name_) \
    static const sl_span_desc var = {name_, SL_TARGET, __FILE__, __LINE__}

#ifdef __cplusplus
} /* extern "C" */

namespace streamlake {
/* Ends the span when the scope exits. */
struct span_guard {
    const sl_span_desc *d;
    const char *name;
    explicit span_guard(const sl_span_desc *d_) : d(d_), name(nullptr) { sl_span_begin(d); }
    span_guard(const sl_span_desc *d_, const char *n) : d(d_), name(n)
    {
        sl_named_span_begin(d, n);
    }
    ~span_guard()
    {
        if (name)
            sl_named_span_end(d, name);
        else
            sl_span_end(d);
    }
    span_guard(const span_guard &) = delete;
    span_guard &operator=(const span_guard &) = delete;
};
} // namespace streamlake

#define SL_SPAN(name_)                                                                   \
    SL_SPAN_DESC(SL__ID(sl__desc_), name_);                                              \
    streamlake::span_guard SL__ID(sl__guard_)(&SL__ID(sl__desc_))
#define SL_NAMED_SPAN(label_, name_)                                                     \
    SL_SPAN_DESC(SL__ID(sl__desc_), label_);                                             \
    streamlake::span_guard SL__ID(sl__guard_)(&SL__ID(sl__desc_), (name_))

#else /* C */

typedef struct sl__span_guard {
    const sl_span_desc *d;
    const char *name;
} sl__span_guard;

static inline sl__span_guard sl__guard_begin(const sl_span_desc *d, const char *name)
{
    if (name)
        sl_named_span_begin(d, name);
    else
        sl_span_begin(d);
    sl__span_guard g = {d, name};
    return g;
}

static inline void sl__guard_end(sl__span_guard *g)
{
    if (g->name)
        sl_named_span_end(g->d, g->name);
    else
        sl_span_end(g->d);
}

/* A span from here to the end of the enclosing block (GCC and Clang). */
#define SL_SPAN(name_)                                                                   \
    SL_SPAN_DESC(SL__ID(sl__desc_), name_);                                              \
    sl__span_guard SL__ID(sl__guard_) __attribute__((cleanup(sl__guard_end), unused)) = \
        sl__guard_begin(&SL__ID(sl__desc_), NULL)
/* Same, with a run-time name (must stay valid until the block exits). */
#define SL_NAMED_SPAN(label_, name_)                                                     \
    SL_SPAN_DESC(SL__ID(sl__desc_), label_);                                             \
    sl__span_guard SL__ID(sl__guard_) __attribute__((cleanup(sl__guard_end), unused)) = \
        sl__guard_begin(&SL__ID(sl__desc_), (name_))

#endif /* __cplusplus */

/* A span around the whole current function. */
#define SL_SPAN_FN() SL_SPAN(__func__)

/* Begins an async span; parent_ may be NULL. Returns an sl_async_span to pass to sl_async_end. */
#define SL_ASYNC_BEGIN(name_, parent_)                                                   \
    ({                                                                                   \
        SL_SPAN_DESC(sl__adesc_, name_);                                                 \
        sl_async_begin(&sl__adesc_, (parent_));                                          \
    })

#define SL_LOG(level_, msg_)                                                             \
    do {                                                                                 \
        static const sl_log_desc sl__ld_ = {msg_, SL_TARGET, __FILE__, __LINE__, level_}; \
        sl_log(&sl__ld_);                                                                \
    } while (0)

/* Formatted log line. level_ must be a constant; arguments are checked like printf's. */
#define SL_LOGF(level_, fmt_, ...)                                                       \
    do {                                                                                 \
        static const sl_log_desc sl__ld_ = {fmt_, SL_TARGET, __FILE__, __LINE__, level_}; \
        if (0)                                                                           \
            sl__check_format(fmt_, ##__VA_ARGS__);                                       \
        sl_logf(&sl__ld_, ##__VA_ARGS__);                                                \
    } while (0)

#define SL_METRIC_I(name_, unit_, value_)                                                \
    do {                                                                                 \
        static const sl_metric_desc sl__md_ = {name_, unit_, SL_TARGET, __FILE__, __LINE__}; \
        sl_metric_int(&sl__md_, (int64_t)(value_));                                      \
    } while (0)

#define SL_METRIC_F(name_, unit_, value_)                                                \
    do {                                                                                 \
        static const sl_metric_desc sl__md_ = {name_, unit_, SL_TARGET, __FILE__, __LINE__}; \
        sl_metric_float(&sl__md_, (double)(value_));                                     \
    } while (0)

#endif
