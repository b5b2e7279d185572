#!/usr/bin/python3
"""The PostgreSQL protocol against PostgreSQL 15 itself: same clients, same machine,
same run.

  /usr/bin/python3 bench/pgwire/run.py [--rows 10000000] [--iters 10000]

A throwaway PostgreSQL 15 cluster (tests/sql/pgcluster.py: initdb in a temp dir,
loopback, fsync off) and a `streamlake serve` on a fresh data directory, both
asked over TCP on 127.0.0.1 by two clients:

  pgraw (bench/pgwire/pgraw.c, built with the project): a raw protocol client
  that reads message headers and counts rows, so the server is what is measured;
  it gathers Bind/Execute/Sync into one write as libpq does.
    connect     startup to ReadyForQuery (300 times)
    select1     round trip of a simple query SELECT 1 (--iters times)
    prepared    Bind/Execute/Sync of a prepared point query on a 1,000-row table,
                a text int8 parameter (--iters times; PostgreSQL has a primary
                key index, streamlake keeps the small table decoded in memory)
    text        --rows rows x 4 columns (int8, int8, text, numeric) as text
                DataRows (simple query)
    binary      the same as binary DataRows (extended protocol, result format 1)
    copy        the same through COPY (...) TO STDOUT
    copybin     the same through COPY (...) TO STDOUT WITH (FORMAT binary)
  psycopg2 (libpq under Python), for what an application sees:
    py_select1, py_prepared (EXECUTE of an SQL PREPARE), median and p99

Each measure alternates between the two servers --rounds times (PostgreSQL,
streamlake, PostgreSQL, ...) and keeps each server's best round, so a change of
load on the machine weighs on both alike.  Prints medians (and p99 for the
round trips), rows/s, and the ratio
streamlake / PostgreSQL (below 1: streamlake is faster for latencies; above 1:
faster for rows/s).  The load average is printed before and after: figures
taken while something else ran are not figures.  Nothing here is a test.
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
os.environ.setdefault("SL_BUILD_DIR", os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.join(ROOT, "tests", "sql"))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import pgcluster  # noqa: E402
import psycopg2  # noqa: E402
import sltest  # noqa: E402


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def p99(xs):
    xs = sorted(xs)
    return xs[len(xs) * 99 // 100]


def pgraw(dsn, *args):
    exe = os.path.join(os.environ["SL_BUILD_DIR"], "bench", "pgraw")
    out = subprocess.run([exe, "127.0.0.1", str(dsn["port"]), dsn["user"], dsn["dbname"]]
                         + [str(a) for a in args], capture_output=True, text=True, timeout=3600)
    if out.returncode:
        raise SystemExit("pgraw %s: %s" % (" ".join(map(str, args)), out.stderr))
    return json.loads(out.stdout)


def setup(dsn):
    c = psycopg2.connect(**dsn)
    c.autocommit = True
    cur = c.cursor()
    cur.execute("DROP TABLE IF EXISTS bench_pt")
    cur.execute("CREATE TABLE bench_pt (id int PRIMARY KEY, name text, v float8)")
    cur.execute("INSERT INTO bench_pt SELECT g, 'name ' || g, g * 0.5 FROM generate_series(1, 1000) g")
    c.close()


def py_latency(dsn, iters, prepared):
    """psycopg2 round trips: SELECT 1, or EXECUTE of an SQL PREPARE; (median, p99) us."""
    c = psycopg2.connect(**dsn)
    c.autocommit = True
    cur = c.cursor()
    if prepared:
        cur.execute("PREPARE bench_q(int) AS SELECT id, name, v FROM bench_pt WHERE id = $1")
    t = []
    for i in range(iters):
        t0 = time.perf_counter()
        if prepared:
            cur.execute("EXECUTE bench_q(%s)", (1 + (i * 7919) % 1000,))
        else:
            cur.execute("SELECT 1")
        if len(cur.fetchall()) != 1:
            raise SystemExit("not one row")
        t.append(time.perf_counter() - t0)
    c.close()
    return (median(t) * 1e6, p99(t) * 1e6)


def measure(key, dsn, rows, iters):
    """One measurement: (median us, p99 us) for latencies, (rows/s,) for streams."""
    q = ("SELECT g, g * 2, 'row ' || g, (g * 0.25)::numeric FROM generate_series(1, %d) g"
         % rows)
    if key == "connect":
        r = pgraw(dsn, "connect", 300)
    elif key == "select1":
        r = pgraw(dsn, "latency", iters, "SELECT 1")
    elif key == "prepared":
        r = pgraw(dsn, "prepared", iters, "SELECT id, name, v FROM bench_pt WHERE id = $1", 1000)
    elif key.startswith("py_"):
        return py_latency(dsn, iters, key == "py_prepared")
    else:
        r = pgraw(dsn, "stream", key, q)
        if r["rows"] != rows:
            raise SystemExit("%s: %d rows" % (key, r["rows"]))
        return (rows / r["seconds"],)
    return (r["median_us"], r["p99_us"])


LATENCIES = ("connect", "select1", "prepared", "py_select1", "py_prepared")
STREAMS = ("text", "binary", "copy", "copybin")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10000000)
    ap.add_argument("--iters", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=3,
                    help="each measure alternates between the servers this many times")
    a = ap.parse_args()
    print("machine: %d cores; load average %s" % (os.cpu_count(),
                                                  open("/proc/loadavg").read().split()[0]))
    pg = pgcluster.PgCluster()
    srv = sltest.Server(args=["--pg-max-connections", "50"])
    dsns = {"pg": {"host": "127.0.0.1", "port": pg.port, "user": "postgres",
                   "dbname": "postgres"},
            "sl": {"host": "127.0.0.1", "port": srv.pg_port, "user": "bench", "dbname": "lake"}}
    res = {"pg": {}, "sl": {}}
    try:
        for who in dsns:
            setup(dsns[who])
        # PostgreSQL, streamlake, PostgreSQL, ...: a change of load hits both alike;
        # the best round of each (lowest median, highest rows/s) is kept
        for key in LATENCIES + STREAMS:
            for _ in range(a.rounds):
                for who in ("pg", "sl"):
                    m = measure(key, dsns[who], a.rows, a.iters)
                    best = res[who].get(key)
                    if best is None or (m[0] < best[0] if key in LATENCIES else m[0] > best[0]):
                        res[who][key] = m
    finally:
        pg.stop()
        srv.stop()
        srv.cleanup()
    res_sl, res_pg = res["sl"], res["pg"]
    print("| measure | streamlake | PostgreSQL 15 | streamlake / PostgreSQL |")
    print("|---|---|---|---|")
    for k in LATENCIES:
        s, p = res_sl[k], res_pg[k]
        print("| %s median (p99) | %.0f (%.0f) us | %.0f (%.0f) us | %.2fx |" % (
            k, s[0], s[1], p[0], p[1], s[0] / p[0]))
    for k in STREAMS:
        s, p = res_sl[k][0], res_pg[k][0]
        print("| %s (%d rows x 4) | %.2f M rows/s | %.2f M rows/s | %.2fx |" % (
            k, a.rows, s / 1e6, p / 1e6, s / p))
    print("load average after: %s" % open("/proc/loadavg").read().split()[0])


if __name__ == "__main__":
    main()
