#!/usr/bin/python3
"""A 1BRC-style aggregation: min/avg/max temperature per station over a CSV of
ROWS lines, streamlake's read_csv against DuckDB's read_csv, same file, same
thread count, in the same run.

  /usr/bin/python3 bench/sql/brc.py [--rows 100000000] [--threads 2 1] [--reps 3]

The CSV (about 1.6 GB for 100 M rows) is generated once by DuckDB into
$BENCH_BRC_DIR (default /tmp/sl-1brc) and reused.  Ours runs in process
(build/bench/bench_sql with --files on that directory: median of --reps runs
after a warm-up); DuckDB through bench/sql/brc_duckdb.mjs.  Prints rows/s of
both and the ratio.  Nothing here is a test.
"""
import argparse
import os
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BENCH = os.path.join(ROOT, "build", "bench", "bench_sql")
DUCK = os.path.join(ROOT, "bench", "sql", "brc_duckdb.mjs")


def sh(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("%s: %s%s" % (" ".join(cmd[:3]), r.stdout[-2000:], r.stderr[-2000:]))
    return r.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=100_000_000)
    ap.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    d = os.environ.get("BENCH_BRC_DIR") or "/tmp/sl-1brc"
    os.makedirs(d, exist_ok=True)
    csv = os.path.join(d, "m%d.csv" % a.rows)
    if not os.path.exists(csv):
        print("generating %s (%d rows)..." % (csv, a.rows), flush=True)
        sh(["node", DUCK, "gen", csv + ".tmp", str(a.rows)])
        os.rename(csv + ".tmp", csv)
    print("machine: %d cores; load average %s; %s, %.2f GB" % (
        os.cpu_count(), open("/proc/loadavg").read().split()[0], csv,
        os.path.getsize(csv) / 1e9), flush=True)
    data = tempfile.mkdtemp(prefix="sl-brc-data-")
    q = os.path.join(data, "q.tsv")
    with open(q, "w") as f:
        f.write("brc\tSELECT station, min(temp), avg(temp), max(temp) FROM read_csv('%s') "
                "GROUP BY station ORDER BY station\n" % csv)
    print("| threads | streamlake s | DuckDB s | streamlake M rows/s | DuckDB M rows/s "
          "| ours/DuckDB rows/s | our peak MB |")
    print("|---|---|---|---|---|---|---|")
    for t in a.threads:
        out = sh([BENCH, data, q, "--workers", str(t), "--reps", str(a.reps), "--files", d])
        f = [x for x in out.splitlines() if x.startswith("query\tbrc\t")][0].split("\t")
        ours, peak = float(f[2]) / 1e3, float(f[5])
        duck = float(sh(["node", DUCK, "time", csv, str(t), str(a.reps)]).split("\t")[1]) / 1e3
        print("| %d | %.2f | %.2f | %.1f | %.1f | %.2fx | %.0f |" % (
            t, ours, duck, a.rows / ours / 1e6, a.rows / duck / 1e6, duck / ours, peak),
            flush=True)
    subprocess.run(["rm", "-rf", data])
    print("load average after: %s" % open("/proc/loadavg").read().split()[0])


if __name__ == "__main__":
    main()
