#!/usr/bin/python3
"""The SQL benchmark: a telemetry query suite on streamlake and on DuckDB, the
same Parquet files, the same thread count, in the same run.

  /usr/bin/python3 bench/sql/run.py [--threads 50] [--spans 400000] [--reps 3]

1. A lake: a server ingests `streamlake loadgen` (default 50 threads x 400,000
   spans = 20 M thread spans, 1 M logs, 1 M metric values), then every view is
   materialized (`streamlake materialize --data`).  Kept in $BENCH_SQL_DATA
   (default /tmp/sl-bench-sql-THREADSxSPANS) and reused by later runs.
2. The queries of bench/sql/queries.tsv run in process on streamlake
   (build/bench/bench_sql: median of --reps runs after a warm-up, peak RSS
   above the baseline) and on DuckDB over the lake's current partition files
   (bench/sql/duckdb_suite.mjs), each with 2 workers, then 1.
3. Prints per query: both times, the ratio (ours / DuckDB; below 1 is faster),
   our 1 -> 2 worker speedup, our peak memory; then the geometric mean of the
   ratios, and the query setup costs: in process (bench_sql --setup) and
   through a server started on the lake for it (bench_sql --setup-http).

The machine's load is printed first: a figure taken while something else used
a core is not a figure.  Nothing here is a test.
"""
import argparse
import csv
import json
import math
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(ROOT, "build", "streamlake")
BENCH = os.path.join(ROOT, "build", "bench", "bench_sql")
QUERIES = os.path.join(ROOT, "bench", "sql", "queries.tsv")
DUCK = os.path.join(ROOT, "bench", "sql", "duckdb_suite.mjs")


def sh(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit("%s: %s%s" % (" ".join(cmd[:3]), r.stdout[-2000:], r.stderr[-2000:]))
    return r.stdout


def make_lake(data, threads, spans):
    print("making the lake in %s (%d threads x %d spans)..." % (data, threads, spans),
          flush=True)
    os.makedirs(data, exist_ok=True)
    log = open(os.path.join(data, "server.log"), "w")
    srv = subprocess.Popen([BIN, "serve", "--data", data, "--listen", "127.0.0.1:0"],
                           stdout=subprocess.PIPE, stderr=log, text=True)
    line = srv.stdout.readline()
    url = line.strip().split()[-1]
    t0 = time.time()
    try:
        sh([BIN, "loadgen", "--server", url, "--threads", str(threads), "--spans", str(spans),
            "--depth", "6", "--async", "200", "--memory-mb", "256", "--logs",
            str(spans // 20), "--metrics", str(spans // 20)], timeout=7200)
    finally:
        srv.terminate()  # never leave a server on the directory
        srv.wait()
    print("  loadgen: %.1f s" % (time.time() - t0), flush=True)
    t0 = time.time()
    sh([BIN, "materialize", "--data", data], timeout=7200)
    print("  materialize: %.1f s" % (time.time() - t0), flush=True)
    with open(os.path.join(data, "READY"), "w") as f:
        f.write("ok\n")


def prepare(data, prep):
    """Partition lists, threads and processes for DuckDB, and the query placeholders."""
    con = sqlite3.connect("file:%s?mode=ro" % os.path.join(data, "meta.sqlite"), uri=True)
    for view, name in (("thread_spans", "spans.txt"), ("log_entries", "logs.txt"),
                       ("measures", "measures.txt")):
        rows = con.execute("SELECT file_path FROM lakehouse_partitions WHERE view_set_name = ?"
                           " AND retired = 0 ORDER BY file_path", (view,)).fetchall()
        with open(os.path.join(prep, name), "w") as f:
            f.write("".join(r[0] + "\n" for r in rows))
    with open(os.path.join(prep, "threads.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["stream_id", "process_id", "thread_name"])
        for sid, p, props in con.execute("SELECT stream_id, process_id, properties FROM streams"):
            w.writerow([sid, p, json.loads(props or "{}").get("thread-name", "")])
    with open(os.path.join(prep, "processes.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["process_id", "exe"])
        pid = None
        for p, exe in con.execute("SELECT process_id, exe FROM processes ORDER BY start_time"):
            w.writerow([p, exe])
            pid = pid or p
    con.close()
    return pid


def times_of(out):
    res = {}
    for line in out.splitlines():
        f = line.split("\t")
        if f[0] == "query" and f[2] != "ERROR":
            res[f[1]] = [float(x) for x in f[2:4]] + [int(f[4])] + [float(f[5]) if len(f) > 5 else 0]
        elif f[0] == "query":
            res[f[1]] = None
    return res


def load():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=50)
    ap.add_argument("--spans", type=int, default=400000)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    data = os.environ.get("BENCH_SQL_DATA") or "/tmp/sl-bench-sql-%dx%d" % (a.threads, a.spans)
    if not os.path.exists(os.path.join(data, "READY")):
        make_lake(data, a.threads, a.spans)
    prep = tempfile.mkdtemp(prefix="sl-bench-sql-")
    pid = prepare(data, prep)
    # a 10 ms window in the middle of the spans, for the selective time range
    out = sh([BENCH, data, "--setup", "--reps", "1"])  # also warms the process
    con = sqlite3.connect("file:%s?mode=ro" % os.path.join(data, "meta.sqlite"), uri=True)
    lo, hi = con.execute("SELECT min(min_event_time), max(max_event_time) FROM "
                         "lakehouse_partitions WHERE view_set_name = 'thread_spans' AND "
                         "retired = 0").fetchone()
    con.close()
    mid = (lo + hi) // 2

    def iso(ns, zone="+00"):
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ns // 10**9)) + \
            ".%06d%s" % (ns % 10**9 // 1000, zone)
    qfile = os.path.join(prep, "queries.tsv")
    with open(QUERIES) as f, open(qfile, "w") as g:
        g.write(f.read().replace("$P", pid).replace("$T0", iso(mid))
                .replace("$T1", iso(mid + 10**7)).replace("$U0", iso(mid, ""))
                .replace("$U1", iso(mid + 10**7, "")))
    print("machine: %d cores, %s; load average %s" % (
        os.cpu_count(), open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0]
        .strip(": \t"), load()), flush=True)
    ours, duck = {}, {}
    for w in (2, 1):
        ours[w] = times_of(sh([BENCH, data, qfile, "--workers", str(w), "--reps",
                               str(a.reps)], timeout=7200))
        duck[w] = times_of(sh(["node", DUCK, data, prep, qfile, str(w), str(a.reps)],
                              timeout=7200))
        print("  %d worker(s) done; load average %s" % (w, load()), flush=True)
    names = [line.split("\t")[0] for line in open(QUERIES) if line.strip() and line[0] != "#"]
    print()
    print("| query | streamlake 2w ms | DuckDB 2t ms | ratio | streamlake 1w ms | DuckDB 1t ms "
          "| our speedup 1->2 | rows | our peak MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    ratios = []
    for n in names:
        o2, d2, o1, d1 = ours[2].get(n), duck[2].get(n), ours[1].get(n), duck[1].get(n)
        if not (o2 and d2 and o1 and d1):
            print("| %s | error | | | | | | | |" % n)
            continue
        r = o2[0] / d2[0]
        ratios.append(r)
        print("| %s | %.1f | %.1f | %.2fx | %.1f | %.1f | %.2fx | %d | %.0f |" % (
            n, o2[0], d2[0], r, o1[0], d1[0], o1[0] / o2[0], o2[2], o2[3]))
    if ratios:
        gm = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        print("\ngeometric mean of ours/DuckDB at 2 workers: %.2fx over %d queries; worst %.2fx"
              % (gm, len(ratios), max(ratios)))
    print("\nquery setup, in process (median, p99 in us):")
    print(sh([BENCH, data, "--setup", "--reps", "5000"]))
    # the same through a server's POST /api/query (a new connection per query)
    log = open(os.path.join(prep, "server.log"), "w")
    srv = subprocess.Popen([BIN, "serve", "--data", data, "--listen", "127.0.0.1:0"],
                           stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        url = srv.stdout.readline().strip().split()[-1]
        hostport = url.split("://")[1].rstrip("/")
        print("query setup, over HTTP on loopback (median, p99 in us):")
        print(sh([BENCH, "--setup-http", hostport, pid, "--reps", "2000"]))
    finally:
        srv.terminate()  # never leave a server on the directory
        srv.wait()


if __name__ == "__main__":
    main()
