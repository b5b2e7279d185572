#!/usr/bin/env python3
"""server_file.py - a continuous job over a CSV file on a server, against the same
job in `streamlake run`.

    bench/stream/server_file.py [--rows N] [--reps R] [--workers W] [--build DIR]
                                [--data-dir DIR] [--follow]

On run.py's generated file (id, value 0-99, ts 1 ms apart), the tumbling
GROUP BY SUM of run.py (10-second windows) runs R times each way:

  run      `streamlake run` of the job into a CSV sink, --workers W (the peer:
           the same engine without a server), best wall time
  server   a server started with --workers W (127.0.0.1, a free port, its own
           data directory): CREATE TABLE over the file and CREATE MATERIALIZED
           VIEW of the same SELECT through POST /api/query; the time from the
           view's CREATE until GET /api/jobs says the job finished (polled
           every 5 ms), best of R

It prints each time, rows/s, and server over run.  With --follow the source is
followed (follow = true) and the server's job never finishes: the time is until
the job's rows_read reaches the file's rows (polled every 5 ms), and the
server's figure is compared with a `streamlake run` of the bounded file.  A
server over a bounded file made a first pass over it before format 7 (one read
for the largest event times, one for the rows), and a followed file was one
split read by one worker; both now read the file once, in splits, on every
worker.

Smoke run: bench/stream/server_file.py --rows 200000 --reps 1
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import run as runbench  # noqa: E402  (the file and the `streamlake run` timing)

SELECT = ("SELECT window_start, sum(value) AS total, count(*) AS n FROM tumble(t, ts, "
          "INTERVAL '10 seconds') GROUP BY window_start, window_end")


def server_round(sltest, build, workers, csv, rows, follow):
    d = tempfile.mkdtemp(prefix="sl-bench-srv-")
    os.environ["SL_BUILD_DIR"] = build
    srv = sltest.Server(data_dir=os.path.join(d, "data"), args=["--workers", str(workers),
                                                                 "--files", os.path.dirname(csv)])
    try:
        def q(sql):
            st, _, data = srv.post("/api/query?format=json", json.dumps({"sql": sql}).encode(),
                                   timeout=600)
            if st != 200:
                sys.exit("server: %s: %s" % (sql[:60], data[:400]))
        q("CREATE TABLE t (id bigint, value bigint, ts timestamp) WITH (connector = 'file', "
          "path = '%s', event_time = 'ts', max_delay = '1 second'%s)" %
          (csv, ", follow = true" if follow else ""))
        t0 = time.perf_counter()
        q("CREATE MATERIALIZED VIEW v AS " + SELECT)
        while True:
            jobs = {j["name"]: j for j in srv.get_json("/api/jobs")}
            j = jobs.get("v", {})
            if j.get("state") == "failed":
                sys.exit("server: the job failed: %s" % j)
            srcs = j.get("sources") or {}
            read = sum(int(x.get("rows_read") or 0) for x in srcs.values()) \
                if isinstance(srcs, dict) else 0
            done = read >= rows if follow else j.get("state") == "finished"
            if done and read != rows:
                sys.exit("server: the job read %d rows of %d" % (read, rows))
            if done:
                return time.perf_counter() - t0
            time.sleep(0.005)
    finally:
        srv.cleanup()
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=5000000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--data-dir", help="keep the generated file here and reuse it")
    ap.add_argument("--follow", action="store_true", help="a followed file on the server")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    os.environ["SL_BUILD_DIR"] = build
    import sltest  # (after SL_BUILD_DIR: the binary under test)
    d = tempfile.mkdtemp(prefix="sl-bench-file-")
    try:
        os.mkdir(os.path.join(d, "o"))
        csv = os.path.join(d, "t.csv")
        # (a copy: the server's --files directory holds real files)
        runbench.place_file(csv, a.rows, a.data_dir, shutil.copyfile)
        job = (runbench.SRC + runbench.SINK % "window_start timestamp, total numeric, n bigint" +
               "INSERT INTO out " + SELECT + ";\n")
        ours = runbench.best(os.path.join(build, "streamlake"), d, job, a.workers, a.reps)
        srv = min(server_round(sltest, build, a.workers, csv, a.rows, a.follow)
                  for _ in range(a.reps))
        print("rows %d, workers %d, best of %d%s" % (a.rows, a.workers, a.reps,
                                                     ", followed on the server" if a.follow else ""))
        print("streamlake run          %.3f s  %6.2f M rows/s" % (ours, a.rows / ours / 1e6))
        print("server job              %.3f s  %6.2f M rows/s  %.2fx the run's time" %
              (srv, a.rows / srv / 1e6, srv / ours))
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
