#!/usr/bin/env python3
"""Ingestion with PostgreSQL metadata vs SQLite, in the same run.

Starts a throwaway PostgreSQL 15 (tests/sql/pgcluster.py, commits fsync'd like
SQLite's synchronous=FULL) and, round by round, alternating, a `streamlake serve`
with SQLite metadata and one with `--meta postgres://...` (objects in a local
directory for both), and drives each with bench_ingest --url (pre-built blocks of
thread spans, N connections).  Prints events/s and the p50/p99 acknowledgement
latency per store and round, then the medians.

  bench/ingest/meta_compare.py [--build DIR] [--rounds 3] [--blocks 320]
                               [--events 32768] [--connections 8]

Everything runs on 127.0.0.1; every process is stopped by its PID.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "sql"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "e2e"))
from pgcluster import PgCluster  # noqa: E402


def serve(build, args):
    data = tempfile.mkdtemp(prefix="sl-bench-meta-")
    p = subprocess.Popen([os.path.join(build, "streamlake"), "serve", "--data", data,
                          "--listen", "127.0.0.1:0", "--no-pg"] + args,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = p.stdout.readline().decode()
    m = re.match(r"streamlake: listening on (http://\S+)", line)
    if not m:
        p.kill()
        raise RuntimeError("server did not start: %r" % line)
    return p, m.group(1), data


def run_round(build, url, a):
    out = subprocess.run([os.path.join(build, "bench", "ingest", "bench_ingest"), "--url", url,
                          "--blocks", str(a.blocks), "--events", str(a.events),
                          "--connections", str(a.connections)],
                         capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(out.stdout + out.stderr)
    ev = float(re.search(r"ingest\s+([\d.]+) M events/s", out.stdout).group(1))
    lat = re.search(r"p50 ([\d.]+) ms\s+p99 ([\d.]+) ms", out.stdout)
    return ev, float(lat.group(1)), float(lat.group(2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(os.getcwd(), "build"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--blocks", type=int, default=320)
    ap.add_argument("--events", type=int, default=32768)
    ap.add_argument("--connections", type=int, default=8)
    a = ap.parse_args()
    pg = PgCluster(max_connections=100, durable=True)
    results = {"sqlite": [], "postgres": []}
    try:
        for r in range(a.rounds):
            order = ["sqlite", "postgres"] if r % 2 == 0 else ["postgres", "sqlite"]
            for store in order:
                db = "bench_%d_%s" % (r, store)
                args = []
                if store == "postgres":
                    pg.psql("CREATE DATABASE " + db)
                    args = ["--meta", pg.url(db)]
                p, url, data = serve(a.build, args)
                try:
                    res = run_round(a.build, url, a)
                finally:
                    p.terminate()
                    p.wait(60)
                    shutil.rmtree(data, ignore_errors=True)
                results[store].append(res)
                print("round %d %-8s %8.2f M events/s  ack p50 %7.2f ms  p99 %7.2f ms" %
                      ((r + 1, store) + res), flush=True)
    finally:
        pg.stop()
    print("median over %d rounds (%d blocks x %d events, %d connections):" %
          (a.rounds, a.blocks, a.events, a.connections))
    for store, rs in results.items():
        print("  %-8s %8.2f M events/s  ack p50 %7.2f ms  p99 %7.2f ms" % (
            store, statistics.median(x[0] for x in rs), statistics.median(x[1] for x in rs),
            statistics.median(x[2] for x in rs)))


if __name__ == "__main__":
    main()
