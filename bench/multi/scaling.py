#!/usr/bin/python3
"""Two servers against one on the same PostgreSQL and the same bucket: ingestion
and cold traces of different processes, in the same run.

  /usr/bin/python3 bench/multi/scaling.py [--build build] [--reps 3]
      [--blocks 320] [--events 32768] [--connections 8]
      [--procs 4] [--threads 8] [--spans 50000] [--objects s3|local]

A throwaway PostgreSQL 15 (tests/sql/pgcluster.py; commits fsync'd, as
bench/ingest/meta_compare.py) and s3rver (tests/e2e/test_s3.py) on 127.0.0.1.
Each rep and configuration gets its own database and bucket prefix, with one or
two `streamlake serve --meta postgres://... --objects s3://...` on it; the order
of the configurations alternates between reps.

- Ingestion: bench_ingest (bench/ingest) sends --blocks pre-built blocks of
  --events thread-span events over --connections connections; with two servers
  the connections alternate between them (bench_ingest --url A,B).  Events/s and
  the p50/p99 acknowledgement latency.
- Cold traces: one loadgen capture of --procs processes is imported, the servers
  restarted (caches empty), then the Perfetto traces of all the processes are
  fetched at once, all through the one server, or alternately through the two
  (GET /api/processes/{id}/trace.pftrace, every partition built from the raw
  blocks during the trace).  Wall time until the last trace's last byte.

--objects local gives each server its own data directory for objects instead of
the bucket: only meaningful for ingestion (traces need the shared bucket).

The machine's load average is printed before and after.  On a 2-core machine two
servers, PostgreSQL and s3rver share the same two cores: a second server adds no
CPU, so a speedup here cannot show what a second machine gives; it shows the cost
of coordination (advisory locks, shared metadata) and whether the work spreads.
Nothing here is a test; every process started is stopped by its PID.
"""

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as c  # noqa: E402

sys.path.insert(0, os.path.join(c.ROOT, "bench", "ingest"))
from meta_compare import run_round  # noqa: E402


def start_servers(n, args):
    dirs = [tempfile.mkdtemp(prefix="sl-bench-scale-") for _ in range(n)]
    return [c.Server(data_dir=d, args=args) for d in dirs], dirs


def stop_servers(servers, dirs):
    for s in servers:
        s.stop()
        s.cleanup()
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


def ingest_round(a, pg, s3, n):
    name = c.unique("ing%d" % n)
    if a.objects == "s3":
        args = c.store_args("pg+s3", pg, s3, name)
    else:
        pg.psql("CREATE DATABASE " + name)
        args = ["--no-pg", "--meta", pg.url(name)]
    servers, dirs = start_servers(n, args)
    try:
        # bench_ingest --url A,B: connection i sends to server i % 2
        return run_round(a.build, ",".join(s.url for s in servers), a)
    finally:
        stop_servers(servers, dirs)


def trace_round(a, pg, s3, n, capture, pids):
    args = c.store_args("pg+s3", pg, s3, c.unique("tr%d" % n))
    servers, dirs = start_servers(n, args)
    try:
        c.import_capture(c.sltest.binary(), capture, servers[0])
        for s in servers:  # empty caches: nothing of the import is remembered
            s.restart()
        results = [None] * len(pids)

        def one(i):
            try:
                results[i] = c.cold_trace(servers[i % n], pids[i])
            except Exception as e:  # reported below
                results[i] = e

        ts = [threading.Thread(target=one, args=(i,)) for i in range(len(pids))]
        t0 = time.monotonic()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        wall = time.monotonic() - t0
        for r in results:
            if isinstance(r, Exception):
                raise r
        built = sum(c.stats(s)["lake"]["partitions"]["built"] for s in servers)
        return wall, sum(r[2] for r in results), built, [r[3] for r in results]
    finally:
        stop_servers(servers, dirs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(c.ROOT, "build"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--blocks", type=int, default=320)
    ap.add_argument("--events", type=int, default=32768)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--spans", type=int, default=50000)
    ap.add_argument("--objects", choices=("s3", "local"), default="s3")
    ap.add_argument("--skip", choices=("ingest", "trace"), help="leave out one part")
    a = ap.parse_args()
    a.build = os.path.abspath(a.build)
    binary = c.set_build(a.build)
    c.machine_note("two servers, PostgreSQL and s3rver (node) share this machine's %d cores: "
                   "a second server brings no CPU of its own here, so 2-vs-1 shows "
                   "coordination costs and how work spreads, not a second machine's gain."
                   % os.cpu_count())
    pg = c.PgCluster(max_connections=200, durable=True)
    s3 = c.S3rver()
    try:
        if a.skip != "ingest":
            print("\ningestion: %d blocks x %d events, %d connections, objects %s" % (
                a.blocks, a.events, a.connections, a.objects), flush=True)
            ing = {1: [], 2: []}
            for r in range(a.reps):
                for n in ((1, 2) if r % 2 == 0 else (2, 1)):
                    res = ingest_round(a, pg, s3, n)
                    ing[n].append(res)
                    print("  rep %d %d server(s) %8.2f M events/s  ack p50 %7.2f ms  "
                          "p99 %7.2f ms  load %s" % ((r + 1, n) + res + (c.loadavg(),)),
                          flush=True)
            m = {n: [c.median([x[i] for x in ing[n]]) for i in range(3)] for n in ing}
            for n in (1, 2):
                print("  median %d server(s): %.2f M events/s, ack p50 %.2f ms, p99 %.2f ms"
                      % (n, m[n][0], m[n][1], m[n][2]))
            print("  2 servers / 1 server: %.2fx events/s" % (m[2][0] / m[1][0]))
        if a.skip != "trace":
            print("\ncold traces of %d different processes in parallel (%d threads x %d spans"
                  " each), PostgreSQL + s3rver:" % (a.procs, a.threads, a.spans), flush=True)
            capture, pids = c.make_capture(binary, a.procs, a.threads, a.spans)
            tr = {1: [], 2: []}
            digests = None
            try:
                for r in range(a.reps):
                    for n in ((1, 2) if r % 2 == 0 else (2, 1)):
                        wall, nbytes, built, ds = trace_round(a, pg, s3, n, capture, pids)
                        if digests is None:
                            digests = ds
                        elif ds != digests:
                            raise SystemExit("traces differ between runs")
                        tr[n].append(wall)
                        print("  rep %d %d server(s) %7.3f s for %d traces (%.1f MB, %d "
                              "partitions built)  load %s" % (r + 1, n, wall, a.procs,
                                                               nbytes / 1e6, built,
                                                               c.loadavg()), flush=True)
            finally:
                shutil.rmtree(capture, ignore_errors=True)
            for n in (1, 2):
                print("  median %d server(s): %.3f s (range %.3f-%.3f)" % (
                    n, c.median(tr[n]), min(tr[n]), max(tr[n])))
            print("  2 servers / 1 server: %.2fx the speed" % (c.median(tr[1]) / c.median(tr[2])))
    finally:
        s3.cleanup()
        pg.stop()
    print("load average after: %s" % c.loadavg())


if __name__ == "__main__":
    main()
