"""ijoin.py - an interval join of two streams, 1 and 2 workers, against DuckDB.

    /usr/bin/python3 bench/stream/ijoin.py [--rows N] [--keys K] [--reps R] [--build DIR]
                                          [--workers 1,2] [--skip-duckdb]

Two CSV files of N rows each (bids and asks: auction, bidder, price, ts; ts
rises about 1 ms a row with up to 500 ms of disorder, auction uniform over K
keys) are written once under a temporary directory (or --data-dir).  Then:

  1. floor      both files read by `streamlake run` with a filter that keeps
                nothing (the reading alone), 1 worker
  2. ijoin      `INSERT INTO out SELECT ... FROM bids b JOIN asks a ON
                b.auction = a.auction AND a.ts BETWEEN b.ts AND b.ts +
                INTERVAL '20 seconds'` into a CSV file, per --workers
  3. duckdb     the same join as a batch query (COPY ... TO a CSV file) in
                DuckDB (tests/node's @duckdb/node-api, 2 threads), best of R
                after a warm-up run

Times are wall clock, best of R, start-up included.  Input rows/s counts the
rows of both files.  Nothing is late (max_delay 1 s > the disorder), so the
stream's pairs are the batch join's: the row counts are printed side by side.
The load average before and after is printed: a scaling figure is only one
on a quiet machine.
"""

import argparse
import datetime
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

SOURCES = (
    "CREATE TABLE bids (auction bigint, bidder text, price bigint, ts timestamp) WITH "
    "(connector = 'file', path = 'bids.csv', format = 'csv', event_time = 'ts', max_delay = '1 second');\n"
    "CREATE TABLE asks (auction bigint, bidder text, price bigint, ts timestamp) WITH "
    "(connector = 'file', path = 'asks.csv', format = 'csv', event_time = 'ts', max_delay = '1 second');\n")
JOIN = ("SELECT b.auction, b.price, a.price FROM {b} b JOIN {a} a ON b.auction = a.auction "
        "AND a.ts BETWEEN b.ts AND b.ts + INTERVAL '20 seconds'")
IJOB = (SOURCES + "CREATE TABLE out (auction bigint, bp bigint, ap bigint) WITH "
        "(connector = 'file', path = 'out.csv', format = 'csv');\n"
        "INSERT INTO out " + JOIN.format(b="bids", a="asks") + ";\n")
FLOOR = (SOURCES + "CREATE TABLE o1 (auction bigint) WITH (connector = 'file', path = 'o1.csv');\n"
         "CREATE TABLE o2 (auction bigint) WITH (connector = 'file', path = 'o2.csv');\n"
         "INSERT INTO o1 SELECT auction FROM bids WHERE price < 0;\n"
         "INSERT INTO o2 SELECT auction FROM asks WHERE price < 0;\n")


def make_file(path, rows, keys, seed):
    rnd = random.Random(seed)
    t = 1700000000000
    epoch = datetime.datetime(1970, 1, 1)
    with open(path, "w") as f:
        f.write("auction,bidder,price,ts\n")
        out = []
        for _ in range(rows):
            t += rnd.randint(0, 2)
            ts = epoch + datetime.timedelta(milliseconds=t - rnd.randint(0, 500))
            out.append("%d,b%d,%d,%s\n" % (rnd.randrange(keys), rnd.randrange(1000), rnd.randint(1, 1000),
                                           ts.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]))
            if len(out) == 100000:
                f.writelines(out)
                out = []
        f.writelines(out)


def run(binary, d, sql, workers):
    with open(os.path.join(d, "job.sql"), "w") as f:
        f.write(sql)
    out = os.path.join(d, "out")
    shutil.rmtree(out, ignore_errors=True)
    os.mkdir(out)
    t0 = time.perf_counter()
    p = subprocess.run([binary, "run", "job.sql", "--workers", str(workers), "--output-dir", out],
                       cwd=d, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if p.returncode:
        sys.exit("streamlake run failed: " + p.stderr.strip()[:400])
    return dt


def best(binary, d, sql, workers, reps):
    return min(run(binary, d, sql, workers) for _ in range(reps))


def duckdb(d, reps):
    b = "read_csv('%s', header = true)" % os.path.join(d, "bids.csv")
    a = "read_csv('%s', header = true)" % os.path.join(d, "asks.csv")
    out = os.path.join(d, "duck.csv")
    sql = "COPY (%s) TO '%s' (HEADER, DELIMITER ',')" % (JOIN.format(b=b, a=a), out)
    p = subprocess.run(["node", os.path.join(HERE, "duckdb_tumble.mjs"), sql, str(reps)],
                       capture_output=True, text=True)
    if p.returncode:
        print("duckdb: not run (%s)" % p.stderr.strip()[:200])
        return None, 0
    with open(out) as f:
        n = sum(1 for _ in f) - 1
    return float(p.stdout.split()[0]), n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=2000000, help="rows of each stream")
    ap.add_argument("--keys", type=int, default=200000, help="distinct auctions")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--data-dir", help="keep the generated files here (reused when present)")
    ap.add_argument("--skip-duckdb", action="store_true")
    a = ap.parse_args()
    binary = os.path.join(os.path.abspath(a.build), "streamlake")
    d = a.data_dir or tempfile.mkdtemp(prefix="sl-ijoin-bench-")
    os.makedirs(d, exist_ok=True)
    try:
        for name, seed in (("bids.csv", 1), ("asks.csv", 2)):
            p = os.path.join(d, name)
            tag = os.path.join(d, name + ".%d.%d" % (a.rows, a.keys))
            if not os.path.exists(tag):
                print("writing %s (%d rows)" % (p, a.rows), flush=True)
                make_file(p, a.rows, a.keys, seed)
                open(tag, "w").close()
        print("load average before: %.2f %.2f %.2f" % os.getloadavg())
        rows = 2 * a.rows
        floor = best(binary, d, FLOOR, 1, a.reps)
        print("%-28s %8.3f s  %8.2f M input rows/s" % ("floor: reading both, 1 worker", floor, rows / floor / 1e6))
        base = None
        for w in [int(x) for x in a.workers.split(",")]:
            t = best(binary, d, IJOB, w, a.reps)
            with open(os.path.join(d, "out", "out.csv")) as f:
                pairs = sum(1 for _ in f) - 1
            base = base or t
            print("%-28s %8.3f s  %8.2f M input rows/s (%.2f M per core)  %.2fx 1 worker  %d pairs"
                  % ("ijoin, %d worker%s" % (w, "s" if w > 1 else ""), t, rows / t / 1e6, rows / t / 1e6 / w,
                     base / t, pairs))
            last = t
        if not a.skip_duckdb:
            dt, n = duckdb(d, a.reps)
            if dt:
                print("%-28s %8.3f s  %8.2f M input rows/s  ours (last run) %.2fx DuckDB  %d pairs"
                      % ("duckdb batch join, 2 threads", dt, rows / dt / 1e6, dt / last, n))
        print("load average after: %.2f %.2f %.2f" % os.getloadavg())
    finally:
        if not a.data_dir:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
