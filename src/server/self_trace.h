/*
 * self_trace.h - the server records its own work in its own lake.
 *
 * `streamlake serve` (unless --no-self-trace) runs the tracing library
 * (include/streamlake/trace.h) inside itself: the routes, the lake and the
 * PostgreSQL listener record async spans around ingestion batches, JIT
 * partition builds, partition lookups, SQL queries, trace generation and
 * reports; every log line is also a log entry; the figures of /api/stats are
 * recorded as metrics every second.  The server then shows up in
 * /api/processes like any traced program, and `streamlake analyze` answers
 * which of its operations take the time.
 *
 * The library's messages do not go through the network: an in-process sink
 * (client/sink_fn.c) hands each one to the ingestion functions (ingest.h)
 * on the library's sender thread.  Spans around ingestion are recorded only
 * by the HTTP routes, never on that path, so storing the server's own events
 * records nothing new: self-data does not feed itself
 * (docs/internals/self-trace.md).
 */
#ifndef SL_SERVER_SELF_TRACE_H
#define SL_SERVER_SELF_TRACE_H

#include "base/err.h"
#include "server/ingest.h"

#include <stddef.h>

/*
 * Starts the library with g as its sink; `listen` (HOST:PORT) is recorded as
 * a property of the process.  The library runs once per process: a second
 * start (another server in the same process) is refused with SL_ESTATE.
 */
int self_trace_start(ingest *g, const char *listen, errmsg *e);
/* Records the numbers of a JSON object (the /api/stats document) as metrics. */
void self_trace_metrics(const char *json, size_t len);
/* Stores what is recorded and stops the library; g may be freed after. */
void self_trace_stop(void);
/* 1 while the server records itself. */
int self_trace_on(void);

/*
 * What recording itself has cost the server so far, for the benchmark that
 * shows it (bench/ingest, --self-trace): the CPU time of the library's two
 * threads (the sender's includes storing the server's own blocks: the
 * ingestion functions run on it), the CPU time spent turning /api/stats into
 * metrics, and the library's counters.  The recording calls made inline by
 * the server's threads are not timed one by one (that would cost more than
 * they do): events_recorded times a measured cost per event accounts for
 * them.  SL_ESTATE when the server does not record itself.
 */
typedef struct self_trace_cost {
    int64_t collector_ns, sender_ns;
    int64_t metrics_ns;
    uint64_t events_recorded, events_delivered, blocks_delivered, bytes_delivered, events_dropped;
} self_trace_cost;
int self_trace_cost_get(self_trace_cost *out);
/* The calling thread's CPU time (ns); charge_metrics adds what passed since t0. */
int64_t self_trace_thread_cpu_ns(void);
void self_trace_charge_metrics(int64_t t0);

#endif
