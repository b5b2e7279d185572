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

Prints medians (and p99 for the round trips), rows/s, and the ratio
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


def bench(dsn, rows, iters):
    out = {}
    r = pgraw(dsn, "connect", 300)
    out["connect"] = (r["median_us"], r["p99_us"])
    r = pgraw(dsn, "latency", iters, "SELECT 1")
    out["select1"] = (r["median_us"], r["p99_us"])
    c = psycopg2.connect(**dsn)
    c.autocommit = True
    cur = c.cursor()
    cur.execute("DROP TABLE IF EXISTS bench_pt")
    cur.execute("CREATE TABLE bench_pt (id int PRIMARY KEY, name text, v float8)")
    cur.execute("INSERT INTO bench_pt SELECT g, 'name ' || g, g * 0.5 FROM generate_series(1, 1000) g")
    r = pgraw(dsn, "prepared", iters, "SELECT id, name, v FROM bench_pt WHERE id = $1", 1000)
    out["prepared"] = (r["median_us"], r["p99_us"])
    t = []
    for _ in range(iters):
        t0 = time.perf_counter()
        cur.execute("SELECT 1")
        cur.fetchone()
        t.append(time.perf_counter() - t0)
    out["py_select1"] = (median(t) * 1e6, p99(t) * 1e6)
    cur.execute("PREPARE bench_q(int) AS SELECT id, name, v FROM bench_pt WHERE id = $1")
    t = []
    for i in range(iters):
        t0 = time.perf_counter()
        cur.execute("EXECUTE bench_q(%s)", (1 + (i * 7919) % 1000,))
        if len(cur.fetchall()) != 1:
            raise SystemExit("prepared point query: not one row")
        t.append(time.perf_counter() - t0)
    out["py_prepared"] = (median(t) * 1e6, p99(t) * 1e6)
    c.close()
    q = ("SELECT g, g * 2, 'row ' || g, (g * 0.25)::numeric FROM generate_series(1, %d) g"
         % rows)
    for how in ("text", "binary", "copy", "copybin"):
        best = None
        for _ in range(2):
            r = pgraw(dsn, "stream", how, q)
            if r["rows"] != rows:
                raise SystemExit("%s: %d rows" % (how, r["rows"]))
            best = r["seconds"] if best is None else min(best, r["seconds"])
        out[how] = (rows / best,)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10000000)
    ap.add_argument("--iters", type=int, default=10000)
    a = ap.parse_args()
    print("machine: %d cores; load average %s" % (os.cpu_count(),
                                                  open("/proc/loadavg").read().split()[0]))
    pg = pgcluster.PgCluster()
    srv = sltest.Server(args=["--pg-max-connections", "50"])
    try:
        res_pg = bench({"host": "127.0.0.1", "port": pg.port, "user": "postgres",
                        "dbname": "postgres"}, a.rows, a.iters)
        res_sl = bench({"host": "127.0.0.1", "port": srv.pg_port, "user": "bench",
                        "dbname": "lake"}, a.rows, a.iters)
    finally:
        pg.stop()
        srv.stop()
        srv.cleanup()
    print("| measure | streamlake | PostgreSQL 15 | streamlake / PostgreSQL |")
    print("|---|---|---|---|")
    for k in ("connect", "select1", "prepared", "py_select1", "py_prepared"):
        s, p = res_sl[k], res_pg[k]
        print("| %s median (p99) | %.0f (%.0f) us | %.0f (%.0f) us | %.2fx |" % (
            k, s[0], s[1], p[0], p[1], s[0] / p[0]))
    for k in ("text", "binary", "copy", "copybin"):
        s, p = res_sl[k][0], res_pg[k][0]
        print("| %s (%d rows x 4) | %.2f M rows/s | %.2f M rows/s | %.2fx |" % (
            k, a.rows, s / 1e6, p / 1e6, s / p))
    print("load average after: %s" % open("/proc/loadavg").read().split()[0])


if __name__ == "__main__":
    main()
