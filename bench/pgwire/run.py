#!/usr/bin/python3
"""The PostgreSQL protocol against PostgreSQL 15 itself: same client, same machine,
same run.

  /usr/bin/python3 bench/pgwire/run.py [--rows 2000000] [--iters 10000]

A throwaway PostgreSQL 15 cluster (tests/sql/pgcluster.py: initdb in a temp dir,
loopback, fsync off) and a `streamlake serve` on a fresh data directory, both
asked by psycopg2 (libpq) over TCP on 127.0.0.1:

  connect     connection setup, startup to ReadyForQuery (300 times)
  select1     round trip of SELECT 1 (--iters times)
  prepared    EXECUTE of a prepared point query on a 1,000-row table (--iters
              times; PostgreSQL has a primary key index, streamlake scans)
  rows_text   --rows rows x 4 columns (int8, int8, text, numeric) as text DataRows
              through a named cursor, 50,000 rows a FETCH
  copy_text   the same rows through COPY (...) TO STDOUT, text format

Prints medians (and p99 for the round trips), rows/s, and the ratio
streamlake / PostgreSQL (below 1: streamlake is faster for latencies; above 1:
faster for rows/s).  The load average is printed first.  Nothing here is a test.
"""
import argparse
import io
import os
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
os.environ.setdefault("SL_BUILD_DIR", os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.join(ROOT, "tests", "sql"))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import pgcluster  # noqa: E402
import psycopg2  # noqa: E402
import sltest  # noqa: E402


class Null(io.RawIOBase):
    """A file that counts what is written to it."""
    def __init__(self):
        self.n = 0

    def write(self, b):
        self.n += len(b)
        return len(b)

    def writable(self):
        return True


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def p99(xs):
    xs = sorted(xs)
    return xs[len(xs) * 99 // 100]


def bench(dsn, rows, iters):
    out = {}
    t = []
    for _ in range(300):
        t0 = time.perf_counter()
        c = psycopg2.connect(**dsn)
        t.append(time.perf_counter() - t0)
        c.close()
    out["connect"] = (median(t) * 1e6, p99(t) * 1e6)
    c = psycopg2.connect(**dsn)
    c.autocommit = True
    cur = c.cursor()
    t = []
    for _ in range(iters):
        t0 = time.perf_counter()
        cur.execute("SELECT 1")
        cur.fetchone()
        t.append(time.perf_counter() - t0)
    out["select1"] = (median(t) * 1e6, p99(t) * 1e6)
    cur.execute("DROP TABLE IF EXISTS bench_pt")
    cur.execute("CREATE TABLE bench_pt (id int PRIMARY KEY, name text, v float8)")
    cur.execute("INSERT INTO bench_pt SELECT g, 'name ' || g, g * 0.5 FROM generate_series(1, 1000) g")
    cur.execute("PREPARE bench_q(int) AS SELECT id, name, v FROM bench_pt WHERE id = $1")
    t = []
    for i in range(iters):
        t0 = time.perf_counter()
        cur.execute("EXECUTE bench_q(%s)", (1 + (i * 7919) % 1000,))
        if len(cur.fetchall()) != 1:
            raise SystemExit("prepared point query: not one row")
        t.append(time.perf_counter() - t0)
    out["prepared"] = (median(t) * 1e6, p99(t) * 1e6)
    q = ("SELECT g, g * 2, 'row ' || g, (g * 0.25)::numeric FROM generate_series(1, %d) g"
         % rows)
    c.autocommit = False
    best = None
    for _ in range(2):
        nc = c.cursor(name="bench_rows")
        nc.itersize = 50000
        t0 = time.perf_counter()
        nc.execute(q)
        n = sum(1 for _ in nc)
        dt = time.perf_counter() - t0
        nc.close()
        c.commit()
        if n != rows:
            raise SystemExit("rows_text: %d rows" % n)
        best = dt if best is None else min(best, dt)
    out["rows_text"] = (rows / best,)
    c.autocommit = True
    best = None
    for _ in range(2):
        sink = Null()
        t0 = time.perf_counter()
        cur.copy_expert("COPY (%s) TO STDOUT" % q, sink)
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    out["copy_text"] = (rows / best,)
    c.close()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=2000000)
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
    for k, unit in (("connect", "us"), ("select1", "us"), ("prepared", "us")):
        s, p = res_sl[k], res_pg[k]
        print("| %s median (p99) | %.0f (%.0f) %s | %.0f (%.0f) %s | %.2fx |" % (
            k, s[0], s[1], unit, p[0], p[1], unit, s[0] / p[0]))
    for k in ("rows_text", "copy_text"):
        s, p = res_sl[k][0], res_pg[k][0]
        print("| %s (%d rows x 4) | %.2f M rows/s | %.2f M rows/s | %.2fx |" % (
            k, a.rows, s / 1e6, p / 1e6, s / p))
    print("load average after: %s" % open("/proc/loadavg").read().split()[0])


if __name__ == "__main__":
    main()
