#!/usr/bin/python3
"""Cold traces and the SQL suite with objects in S3 (s3rver) against the local
directory, in the same run.

  /usr/bin/python3 bench/multi/s3_vs_local.py [--build build] [--reps 3]
      [--threads 8] [--spans 50000] [--sql-reps 3] [--stores local,s3,pg+s3]
      [--cache-mb 0] [--no-sql]

Stores (each a `streamlake serve` on 127.0.0.1 with a free port):
  local   SQLite metadata and objects in the data directory (the default setup);
  s3      SQLite metadata, objects in s3rver (npm, tests/e2e/test_s3.py) on loopback;
  pg+s3   a throwaway PostgreSQL 15 (tests/sql/pgcluster.py) and s3rver: what
          several servers share;
  s3-seq  (only when asked) s3 with SL_LAKE_TRACE_OVERLAP=0: a trace's uploads and
          rows on its path and no payload read-ahead, to measure the overlap in
          the same run (--stores local,s3,s3-seq).

1. One loadgen capture of --reps processes (--threads x --spans thread spans each,
   plus async spans, logs and metrics) is imported into every store.
2. Cold traces: for each rep, every store in turn (the order alternates), the
   server is restarted (its caches empty) and GET /api/processes/{id}/trace.pftrace
   of a process no store has traced yet is timed to its last byte: the partitions
   are built from the raw blocks (the JIT) during the trace.  The traces of one
   process must be byte-identical on every store.  The CPU seconds the server and
   s3rver used during each trace (/proc/PID/stat) say where the time went: wall
   time above their sum over two cores is waiting.
3. The SQL suite (bench/sql/queries.tsv, streamlake's column, on the first process
   after POST /api/materialize): servers restarted, each query once with cold
   caches, then --sql-reps warm runs (median), stores alternating per query.
4. Prints per store the median cold trace, its ratio to the local store's (the
   issue's target: S3 <= 1.5x), the SQL times and ratios, and the cache hit rates
   and object-store requests of GET /api/stats (differences over each phase).

The machine's load average is printed before and after.  On a 2-core machine the
server, s3rver (node) and PostgreSQL share the cores: s3rver's own CPU time per
request is part of every S3 figure, which a real S3 endpoint would not charge to
this machine.  Nothing here is a test; every process started is stopped by its PID.
"""

import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as c  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(c.ROOT, "build"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--spans", type=int, default=50000)
    ap.add_argument("--sql-reps", type=int, default=3)
    ap.add_argument("--stores", default="local,s3,pg+s3")
    ap.add_argument("--cache-mb", type=int, default=0, help="serve --cache-mb (0: default)")
    ap.add_argument("--no-sql", action="store_true", help="cold traces only (step 3 skipped)")
    a = ap.parse_args()
    stores = a.stores.split(",")
    for s in stores:
        if s not in ("local", "s3", "pg+s3", "s3-seq"):
            sys.exit("unknown store %r (local, s3, pg+s3, s3-seq)" % s)
    binary = c.set_build(a.build)
    c.machine_note("a 2-core machine runs the server, s3rver (node) and PostgreSQL at once: "
                   "the S3 figures include s3rver's CPU, and other work on the machine "
                   "shows in every figure (see the load averages).")
    print("capture: %d processes x %d threads x %d spans" % (a.reps, a.threads, a.spans),
          flush=True)
    capture, pids = c.make_capture(binary, a.reps, a.threads, a.spans)
    pg = c.PgCluster(max_connections=100) if "pg+s3" in stores else None
    s3 = c.S3rver() if any("s3" in s for s in stores) else None
    servers = {}
    dirs = []
    extra = ["--cache-mb", str(a.cache_mb)] if a.cache_mb else []
    try:
        for kind in stores:
            d = tempfile.mkdtemp(prefix="sl-bench-multi-")
            dirs.append(d)
            srv = c.Server(data_dir=d, args=c.store_args(kind, pg, s3, c.unique(kind)) + extra,
                           env=c.store_env(kind))
            servers[kind] = srv
            c.import_capture(binary, capture, srv)
            srv.stop()
        print("imported into %s" % ", ".join(stores), flush=True)
        trace_phase(a, stores, servers, pids, s3)
        if not a.no_sql:
            sql_phase(a, stores, servers, pids[0])
    finally:
        for srv in servers.values():
            srv.stop()
            srv.cleanup()
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(capture, ignore_errors=True)
        if s3:
            s3.cleanup()
        if pg:
            pg.stop()
    print("load average after: %s" % c.loadavg())


def trace_phase(a, stores, servers, pids, s3):
    times = {k: [] for k in stores}
    deltas = {k: [] for k in stores}
    cpus = {k: [] for k in stores}
    print("\ncold traces (server restarted before each; seconds to the last byte):", flush=True)
    for r, pid in enumerate(pids):
        order = stores if r % 2 == 0 else stores[::-1]
        digests = {}
        for kind in order:
            srv = servers[kind]
            srv.start()
            before = c.counters(c.stats(srv))
            cpu0 = (c.cpu_seconds(srv.proc.pid), c.cpu_seconds(s3.proc.pid) if s3 else 0)
            secs, first, n, digest = c.cold_trace(srv, pid)
            cpu = (c.cpu_seconds(srv.proc.pid) - cpu0[0],
                   (c.cpu_seconds(s3.proc.pid) if s3 else 0) - cpu0[1] if "s3" in kind else 0)
            d = c.delta(c.counters(c.stats(srv)), before)
            srv.stop()
            times[kind].append(secs)
            deltas[kind].append(d)
            cpus[kind].append(cpu)
            digests[kind] = digest
            print("  rep %d %-6s %7.3f s  first byte %6.3f s  %6.1f MB  built %d partitions"
                  "  GETs %d  CPU server %.3f s s3rver %.3f s  %s" % (
                      r + 1, kind, secs, first, n / 1e6, d["partitions.built"],
                      d.get("s3.get", 0) + d.get("s3.get_range", 0), cpu[0], cpu[1],
                      "load %s" % c.loadavg()), flush=True)
        if len(set(digests.values())) != 1:
            raise SystemExit("traces of %s differ between stores: %r" % (pid, digests))
    base = c.median(times["local"]) if "local" in times else None
    print("\n| store | cold trace median s (range) | vs local | file_bytes hit | footers hit "
          "| S3 GETs / ranged GETs / PUTs / HEADs per trace | MB downloaded per trace "
          "| CPU s server / s3rver (median) |")
    print("|---|---|---|---|---|---|---|---|")
    for kind in stores:
        m = c.median(times[kind])
        ds = deltas[kind]
        tot = {k: sum(d.get(k, 0) for d in ds) for k in ds[0]}
        n = len(ds)
        print("| %s | %.3f (%.3f-%.3f) | %s | %s | %s | %s | %s | %.3f / %.3f |" % (
            kind, m, min(times[kind]), max(times[kind]),
            "%.2fx" % (m / base) if base else "-",
            c.hit_rate(tot, "file_bytes"), c.hit_rate(tot, "parquet_footers"),
            "%d / %d / %d / %d" % tuple(tot.get("s3." + k, 0) // n
                                        for k in ("get", "get_range", "put", "head"))
            if "s3.get" in tot or "s3.get_range" in tot else "-",
            "%.1f" % (tot.get("s3.bytes_downloaded", 0) / n / 1e6)
            if "s3.bytes_downloaded" in tot else "-",
            c.median([x[0] for x in cpus[kind]]), c.median([x[1] for x in cpus[kind]])))
    print("\nbuild phases per trace (ms summed over the builds, which run in parallel; "
          "lake.partitions.build_phases_ms; put and commit of deferred commits are "
          "counted when they end, off the trace's path, maybe after the trace):")
    for kind in stores:
        ds = deltas[kind]
        keys = sorted(k for k in ds[0] if k.startswith("phase."))
        if keys:
            print("  %-6s %s  payloads waited for %d  prefetched %d  deferred commits %d" % (
                kind, "  ".join("%s %.1f" % (k[6:], sum(d.get(k, 0) for d in ds) / len(ds))
                                for k in keys),
                sum(d.get("payloads_waited_for", 0) for d in ds) // len(ds),
                sum(d.get("payloads_prefetched", 0) for d in ds) // len(ds),
                sum(d.get("deferred_commits", 0) for d in ds) // len(ds)))
    if base:
        for kind in stores:
            if kind != "local":
                ratio = c.median(times[kind]) / base
                print("cold trace %s / local = %.2fx (target <= 1.5x: %s)" % (
                    kind, ratio, "met" if ratio <= 1.5 else "NOT met"))


def sql_phase(a, stores, servers, pid):
    print("\nSQL suite on process %s (partitions materialized first; servers restarted):"
          % pid, flush=True)
    for kind in stores:
        srv = servers[kind]
        srv.start()
        st, _, body = srv.post("/api/materialize?process_id=%s" % pid, b"", timeout=3600)
        if st != 200:
            raise SystemExit("materialize on %s: %d %r" % (kind, st, body[:300]))
        # the global views (log_entries, measures) of every process
        st, _, body = srv.post("/api/materialize", b"", timeout=3600)
        if st != 200:
            raise SystemExit("materialize on %s: %d %r" % (kind, st, body[:300]))
        srv.stop()
    for srv in servers.values():
        srv.start()
    first = servers[stores[0]]
    suite = c.sql_suite(first, pid)
    befores = {k: c.counters(c.stats(servers[k])) for k in stores}
    cold = {k: {} for k in stores}
    warm = {k: {} for k in stores}
    answers = {}
    for i, (name, sql) in enumerate(suite):
        order = stores if i % 2 == 0 else stores[::-1]
        for kind in order:
            secs, rows = c.query(servers[kind], sql)
            cold[kind][name] = secs
            answers.setdefault(name, {})[kind] = rows
        ws = {k: [] for k in stores}
        for r in range(a.sql_reps):
            for kind in (order if r % 2 == 0 else order[::-1]):
                ws[kind].append(c.query(servers[kind], sql)[0])
        for kind in stores:
            warm[kind][name] = c.median(ws[kind])
        got = list(answers[name].values())
        if any(g != got[0] for g in got):
            raise SystemExit("query %s answers differently on the stores" % name)
    deltas = {k: c.delta(c.counters(c.stats(servers[k])), befores[k]) for k in stores}
    for srv in servers.values():
        srv.stop()
    print("\n| query | " + " | ".join("%s cold ms | %s warm ms" % (k, k) for k in stores) +
          " | " + " | ".join("%s/local cold | %s/local warm" % (k, k)
                             for k in stores if k != "local") + " |")
    print("|---|" + "---|" * (2 * len(stores) + 2 * (len(stores) - 1)))
    sums = {k: [0.0, 0.0] for k in stores}
    for name, _ in suite:
        cells = []
        for kind in stores:
            cells += ["%.1f" % (cold[kind][name] * 1e3), "%.1f" % (warm[kind][name] * 1e3)]
            sums[kind][0] += cold[kind][name]
            sums[kind][1] += warm[kind][name]
        if "local" in stores:
            for kind in stores:
                if kind != "local":
                    cells += ["%.2fx" % (cold[kind][name] / cold["local"][name]),
                              "%.2fx" % (warm[kind][name] / warm["local"][name])]
        print("| %s | %s |" % (name, " | ".join(cells)))
    for kind in stores:
        print("suite total %-6s cold %.3f s, warm %.3f s%s" % (
            kind, sums[kind][0], sums[kind][1],
            "" if kind == "local" or "local" not in stores else
            "  (%.2fx, %.2fx of local)" % (sums[kind][0] / sums["local"][0],
                                           sums[kind][1] / sums["local"][1])))
    print("\ncache hit rates over the SQL suite (cold + warm runs):")
    for kind in stores:
        d = deltas[kind]
        print("  %-6s %s%s" % (kind, "  ".join("%s %s" % (n, c.hit_rate(d, n).strip())
                                              for n in c.CACHES),
                               "  S3 GETs %d ranged %d, %.1f MB" % (
                                   d.get("s3.get", 0), d.get("s3.get_range", 0),
                                   d.get("s3.bytes_downloaded", 0) / 1e6)
                               if "s3.get" in d else ""))


if __name__ == "__main__":
    main()
