#!/usr/bin/python3
"""bench/analyze/run.py - `streamlake analyze` of a 5 M-span process, cold and warm,
against DuckDB running the report's queries on the same Parquet files.

    /usr/bin/python3 bench/analyze/run.py [BUILD_DIR] [THREADS SPANS_PER_THREAD ASYNC]

Starts `BUILD/streamlake serve` on a fresh data directory, records a loadgen process
(default 50 threads x 100,000 thread spans + 1,000 async spans each: 5.05 M spans),
stops the server, then runs `streamlake analyze ID --data DIR --format json`:
  * cold: the first report, which builds the process's partitions (JIT) on the way;
  * warm: the best of two more (partitions built, files in the OS cache);
and bench/analyze/duckdb_report.mjs over the partitions the report read (first and
second pass in one DuckDB instance).  Prints one JSON object and a Markdown table
row for bench/RESULTS.md.  A benchmark, not a test: it asserts nothing about speed.
"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build")
    threads, spans, asyncs = (sys.argv[2:5] if len(sys.argv) > 4 else ("50", "100000", "1000"))
    os.environ["SL_BUILD_DIR"] = build
    import sltest
    srv = sltest.Server()
    out = subprocess.run([sltest.binary(), "loadgen", "--json", "--server", srv.url, "--threads",
                          threads, "--spans", spans, "--async", asyncs],
                         capture_output=True, text=True, check=True)
    pid = json.loads(out.stdout.strip().splitlines()[-1])["process_id"]
    data = srv.data_dir
    srv.stop()

    def analyze():
        t0 = time.monotonic()
        r = subprocess.run([sltest.binary(), "analyze", pid, "--data", data, "--format", "json",
                            "--no-flame"], capture_output=True, text=True, check=True)
        return time.monotonic() - t0, json.loads(r.stdout), r.stderr.strip().splitlines()[-1]

    cold, rep, cold_parts = analyze()
    warm = [analyze() for _ in range(2)]
    best = min(warm, key=lambda w: w[0])
    con = sqlite3.connect(os.path.join(data, "meta.sqlite"))
    parts = con.execute("SELECT view_set_name, view_instance_id, file_path FROM "
                        "lakehouse_partitions WHERE NOT retired").fetchall()
    con.close()
    streams = {r[1] for r in parts if r[0] == "thread_spans"}
    spec = {"thread": [[i, os.path.join(data, p)] for v, i, p in parts
                       if v == "thread_spans" and i in streams],
            "async": [os.path.join(data, p) for v, i, p in parts
                      if v == "async_events" and i == pid],
            "top": 20}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
    d = subprocess.run(["node", os.path.join(HERE, "duckdb_report.mjs"), f.name],
                       capture_output=True, text=True, check=True)
    os.unlink(f.name)
    duck = json.loads(d.stdout)
    res = {"spans": rep["dataset"]["spans"], "cold_s": round(cold, 2),
           "warm_s": round(best[0], 2), "warm_breakdown": best[2], "cold_breakdown": cold_parts,
           "duckdb_cold_s": round(duck["cold_s"], 2), "duckdb_warm_s": round(duck["warm_s"], 2),
           "load_average": os.getloadavg()}
    print(json.dumps(res))
    print("| %d spans | %.2f s | %.2f s | %.2f s | %.2f s | %.2fx | %.1f |" % (
        res["spans"], cold, best[0], duck["cold_s"], duck["warm_s"], best[0] / duck["warm_s"],
        res["load_average"][0]))
    srv.cleanup()


if __name__ == "__main__":
    main()
