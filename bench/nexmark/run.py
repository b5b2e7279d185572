#!/usr/bin/env python3
"""run.py - Nexmark q0, q1, q2, q5, q7, q8 on the built-in generator: events/s per core.

    bench/nexmark/run.py [--events N] [--workers 1,2] [--build DIR] [--reps R]

Each query (bench/nexmark/qN.sql after tables.sql, events set to N) runs as
`streamlake run` with --workers W; the figure is events of the sequence divided
by the wall time (best of R runs) and by W: events/s per core.  Sinks are CSV
files in a temporary directory (ours include formatting and writing the
output); the published figures use a sink that discards, so q0 and q1 also run
into `connector = 'blackhole'` (rows "q0/bh", "q1/bh": the rows counted, none
formatted), the figures to set next to them.  The floor measured in the same run:
the generator alone (every bid made and filtered out, nothing written), and the same per
core.  Next to them, the published per-core figures: Flink (q0 ~155 K/s, q5
~22 K/s, q7 ~12 K/s) and DBSP/Feldera (~1 M/s on q0 and q5).

Smoke run: bench/nexmark/run.py --events 100000 --reps 1
"""
import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
QUERIES = ["q0", "q1", "q2", "q5", "q7", "q8"]
PUBLISHED = {"q0": ("155 K", "1 M"), "q5": ("22 K", "1 M"), "q7": ("12 K", "")}
BLACKHOLE = re.compile(r"WITH \(connector = 'file', path = '[^']*', format = 'csv'\);")
FLOOR = ("CREATE TABLE out (auction bigint) WITH (connector = 'file', path = 'floor.csv');\n"
         "INSERT INTO out SELECT auction FROM bid WHERE price < 0;\n")


def script(events, body):
    t = open(os.path.join(HERE, "tables.sql")).read().replace("events = 1000000", "events = %d" % events)
    return t + body


def run_once(binary, d, text, workers):
    path = os.path.join(d, "job.sql")
    with open(path, "w") as f:
        f.write(text)
    out = os.path.join(d, "out")
    shutil.rmtree(out, ignore_errors=True)
    os.mkdir(out)
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run([binary, "run", path, "--output-dir", out, "--workers", str(workers)],
                       capture_output=True, text=True)
    dt = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode:
        sys.exit("streamlake run failed:\n" + p.stderr)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return dt, cpu


def best(binary, d, text, workers, reps):
    """(wall seconds, CPU seconds) of the fastest run."""
    return min(run_once(binary, d, text, workers) for _ in range(reps))


def fmt(rate):
    return "%.2f M" % (rate / 1e6) if rate >= 1e6 else "%.0f K" % (rate / 1e3)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=5000000)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    a = ap.parse_args()
    binary = os.path.join(a.build, "streamlake")
    workers = [int(w) for w in a.workers.split(",")]
    d = tempfile.mkdtemp(prefix="sl-nexmark-bench-")
    try:
        print("Nexmark on the built-in generator: %d events (%s), %d cores here" %
              (a.events, "1 person : 3 auctions : 46 bids", os.cpu_count()))
        row = "%-6s %8s %12s %12s %12s %12s %12s"
        print(row % ("query", "workers", "events/s", "per core", "per CPU-s", "Flink/core", "DBSP/core"))
        for q in ["floor"] + QUERIES[:2] + [q + "/bh" for q in QUERIES[:2]] + QUERIES[2:]:
            body = FLOOR if q == "floor" else open(os.path.join(HERE, q[:2] + ".sql")).read()
            if q.endswith("/bh"):
                body = BLACKHOLE.sub("WITH (connector = 'blackhole');", body)
            for w in workers:
                dt, cpu = best(binary, d, script(a.events, body), w, a.reps)
                r = a.events / dt
                fl, db = PUBLISHED.get(q.replace("/bh", ""), ("", ""))
                print(row % (q, w, fmt(r), fmt(r / w), fmt(a.events / cpu), fl, db))
        print("qN/bh: the same job into a blackhole sink (as the published figures)")
        print("floor: the generator alone (every bid made, none kept); wall time of "
              "`streamlake run`, best of %d, startup included; per CPU-s: events over the process's "
              "user + system time (meaningful on a busy machine)" % a.reps)
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
