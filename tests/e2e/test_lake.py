#!/usr/bin/python3
"""End-to-end tests of the lake over HTTP and the CLI.

A real server on a free loopback port ingests a process from `streamlake loadgen`;
the tests read its views through GET /api/views and `streamlake view`, and check:
  * every span loadgen recorded is exactly one thread_spans row, and the other
    views hold exactly the events recorded;
  * DuckDB reads the Parquet partitions the lake wrote and sees the same rows;
  * concurrent requests build each partition once (GET /api/stats);
  * a crash between writing a partition's file and recording its row, and a
    kill -9 in the middle of builds, leave no broken row or stray file once the
    server is back, and the next request rebuilds what is missing.
"""

import concurrent.futures
import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import Server  # noqa: E402

NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "node")


def loadgen(url, *args):
    out = subprocess.run([sltest.binary(), "loadgen", "--json", "--server", url] + list(args),
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def get(srv, path, timeout=300):
    status, _, body = srv.get(path, timeout=timeout)
    return status, body.decode()


def csv_rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def cpu_streams(srv, pid):
    return [s for s in srv.get_json("/api/processes/%s/streams" % pid) if "cpu" in s["tags"]]


def partitions(data_dir):
    if sltest.test_meta() == "postgres":
        return [(r["view_set_name"], r["view_instance_id"], r["file_path"], r["retired"],
                 r["row_count"]) for r in sltest.pg_rows(
            data_dir, "SELECT view_set_name, view_instance_id, file_path, retired, row_count"
            " FROM lakehouse_partitions")]
    con = sqlite3.connect("file:%s?mode=ro" % os.path.join(data_dir, "meta.sqlite"), uri=True)
    try:
        return con.execute("SELECT view_set_name, view_instance_id, file_path, retired,"
                           " row_count FROM lakehouse_partitions").fetchall()
    finally:
        con.close()


def view_files(data_dir):
    return sltest.object_keys(data_dir, "views/")


def ns(rfc3339):
    """ns since the epoch of '2026-11-22T06:26:37.503103861Z'."""
    import calendar
    date, frac = rfc3339.rstrip("Z").split(".")
    secs = calendar.timegm(time.strptime(date, "%Y-%m-%dT%H:%M:%S"))
    return secs * 10**9 + int(frac.ljust(9, "0"))


class LakeTest(unittest.TestCase):
    def setUp(self):
        self.srv = Server()
        self.addCleanup(self.srv.cleanup)

    def test_views_hold_exactly_what_was_recorded(self):
        rep = loadgen(self.srv.url, "--threads", "4", "--spans", "3000", "--depth", "5",
                      "--async", "40", "--logs", "30", "--metrics", "20")
        pid = rep["process_id"]
        total_spans = 0
        for s in cpu_streams(self.srv, pid):
            status, text = get(self.srv, "/api/views/thread_spans/%s?format=csv" % s["stream_id"])
            self.assertEqual(status, 200, text)
            rows = csv_rows(text)
            self.assertEqual(len(rows), 3000)  # every span exactly once
            self.assertEqual(len({r["id"] for r in rows}), 3000)
            begins = [ns(r["begin"]) for r in rows]
            self.assertEqual(begins, sorted(begins))
            by_id = {r["id"]: r for r in rows}
            for r in rows:
                self.assertEqual(int(r["duration"]), ns(r["end"]) - ns(r["begin"]))
                if r["parent"] != "-1":  # a child lies within its parent, one level deeper
                    p = by_id[r["parent"]]
                    self.assertLessEqual(ns(p["begin"]), ns(r["begin"]))
                    self.assertGreaterEqual(ns(p["end"]), ns(r["end"]))
                    self.assertEqual(int(r["depth"]), int(p["depth"]) + 1)
            self.assertLessEqual(max(int(r["depth"]) for r in rows), 4)
            self.assertTrue(any(r["name"].startswith("task-") for r in rows))
            total_spans += len(rows)
        self.assertEqual(total_spans, 4 * 3000)
        for view, want in (("async_events", 4 * 40 * 2), ("log_entries", 4 * 30),
                           ("measures", 4 * 20)):
            status, text = get(self.srv, "/api/views/%s/%s?format=json" % (view, pid))
            self.assertEqual(status, 200, text)
            rows = [json.loads(line) for line in text.splitlines()]
            self.assertEqual(len(rows), want, view)
        # Each async span has one begin and one end.
        _, text = get(self.srv, "/api/views/async_events/%s" % pid)
        ev = csv_rows(text)
        begins = sorted(r["span_id"] for r in ev if r["event_type"] == "begin")
        ends = sorted(r["span_id"] for r in ev if r["event_type"] == "end")
        self.assertEqual(begins, ends)
        # A time range keeps the spans that overlap it; the CLI gives the same rows.
        sid = cpu_streams(self.srv, pid)[0]["stream_id"]
        _, text = get(self.srv, "/api/views/thread_spans/%s?format=csv" % sid)
        rows = csv_rows(text)
        mid = ns(rows[len(rows) // 2]["begin"])
        lo, hi = mid - 20000, mid + 20000
        want = [r["id"] for r in rows if ns(r["begin"]) < hi and ns(r["end"]) >= lo]
        out = subprocess.run([sltest.binary(), "view", "thread_spans", sid, "--server",
                              self.srv.url, "--begin", str(lo), "--end", str(hi), "--format",
                              "csv"], capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual([r["id"] for r in csv_rows(out.stdout)], want)
        self.assertGreater(len(want), 0)
        self.assertLess(len(want), len(rows))

    def test_bad_requests_get_clear_errors(self):
        rep = loadgen(self.srv.url, "--threads", "1", "--spans", "10")
        for path, status in (("/api/views/nosuch/global", 404),
                             ("/api/views/thread_spans/not-a-uuid", 400),
                             ("/api/views/thread_spans/%s" % rep["process_id"], 404),
                             ("/api/views/log_entries/%s?format=xml" % rep["process_id"], 400),
                             ("/api/views/log_entries/%s?begin=yesterday" % rep["process_id"],
                              400)):
            got, body = get(self.srv, path)
            self.assertEqual(got, status, (path, body))
            self.assertTrue(body.endswith("\n") and body.count("\n") == 1, body)

    def test_duckdb_reads_the_partitions(self):
        rep = loadgen(self.srv.url, "--threads", "2", "--spans", "500", "--async", "10")
        sid = cpu_streams(self.srv, rep["process_id"])[0]["stream_id"]
        _, text = get(self.srv, "/api/views/thread_spans/%s?format=csv" % sid)
        ours = csv_rows(text)
        files = [p[2] for p in partitions(self.srv.data_dir)
                 if p[0] == "thread_spans" and p[1] == sid and not p[3]]
        self.assertEqual(len(files), 1)
        path = sltest.object_file(self.srv.data_dir, files[0])
        sql = ("SELECT id, parent, depth, \"begin\", \"end\", duration, name, target, filename, "
               "line FROM read_parquet('%s') ORDER BY \"begin\", id" % path)
        out = subprocess.run(["node", "duckdb_rows.mjs", sql], cwd=NODE_DIR,
                             capture_output=True, text=True, timeout=300)
        self.assertEqual(out.returncode, 0, out.stderr)
        duck = [json.loads(line) for line in out.stdout.splitlines()]
        self.assertEqual(len(duck), len(ours))
        for d, o in zip(duck, ours):
            self.assertEqual(d["id"], o["id"])
            self.assertEqual(d["parent"], o["parent"])
            self.assertEqual(int(d["depth"]), int(o["depth"]))
            self.assertEqual(int(d["begin"]), ns(o["begin"]))  # exact nanoseconds
            self.assertEqual(int(d["end"]), ns(o["end"]))
            self.assertEqual(d["duration"], o["duration"])
            for k in ("name", "target", "filename", "line"):
                self.assertEqual(d[k], o[k])

    def test_concurrent_requests_build_each_partition_once(self):
        rep = loadgen(self.srv.url, "--threads", "6", "--spans", "2000")
        sids = [s["stream_id"] for s in cpu_streams(self.srv, rep["process_id"])]
        paths = ["/api/views/thread_spans/%s?format=csv" % sids[i % len(sids)]
                 for i in range(24)]
        with concurrent.futures.ThreadPoolExecutor(12) as ex:
            results = list(ex.map(lambda p: get(self.srv, p), paths))
        by_stream = {}
        for p, (status, text) in zip(paths, results):
            self.assertEqual(status, 200, text)
            by_stream.setdefault(p, set()).add(text)
        for p, texts in by_stream.items():
            self.assertEqual(len(texts), 1, "every request for %s saw the same rows" % p)
        stats = self.srv.get_json("/api/stats")["lake"]["partitions"]
        self.assertEqual(stats["built"], len(sids))

    def assert_lake_consistent(self):
        """Every row's file exists; no file without a row; no temp files."""
        rows = partitions(self.srv.data_dir)
        files = set(view_files(self.srv.data_dir))
        referenced = {r[2] for r in rows}
        for r in rows:
            self.assertIn(r[2], files, "a row points at a missing file")
        if not sltest.store_shared():
            # shared metadata: another server may be building, so startup keeps orphans
            # for the grace period (docs/internals/meta-postgres.md)
            self.assertEqual(files - referenced, set(), "stray files")
        self.assertEqual(sltest.temp_files(self.srv.data_dir), [])

    def test_crash_between_file_and_row(self):
        rep = loadgen(self.srv.url, "--threads", "2", "--spans", "1000")
        sid = cpu_streams(self.srv, rep["process_id"])[0]["stream_id"]
        port = self.srv.port
        self.srv.stop()
        # The build writes the file, then the process dies before the row is committed.
        os.environ["SL_LAKE_CRASH"] = "after_put"
        try:
            self.srv.args = ["--listen", "127.0.0.1:%d" % port]
            self.srv.start()
        finally:
            del os.environ["SL_LAKE_CRASH"]
        with self.assertRaises(Exception):
            get(self.srv, "/api/views/thread_spans/%s" % sid, timeout=60)
        self.srv.proc.wait(30)
        self.srv.kill()  # reap it and close its pipes
        self.assertEqual(len(view_files(self.srv.data_dir)), 1)
        self.assertEqual([r for r in partitions(self.srv.data_dir) if r[1] == sid], [])
        self.srv.start()  # startup cleanup removes the orphan
        self.assert_lake_consistent()
        status, text = get(self.srv, "/api/views/thread_spans/%s?format=csv" % sid)
        self.assertEqual(status, 200)
        self.assertEqual(len(csv_rows(text)), 1000)
        self.assert_lake_consistent()

    def test_kill_9_during_builds(self):
        rep = loadgen(self.srv.url, "--threads", "8", "--spans", "20000", "--depth", "6")
        pid = rep["process_id"]
        sids = [s["stream_id"] for s in cpu_streams(self.srv, pid)]
        # One partition is built and committed before the crash.
        status, _ = get(self.srv, "/api/views/thread_spans/%s?format=csv" % sids[0])
        self.assertEqual(status, 200)
        port = self.srv.port
        self.srv.stop()
        # Builds now hold 60 s between their file and their row, so once a file shows up
        # without a row, the kill is certain to land in that window.
        os.environ["SL_LAKE_TEST_DELAY_MS"] = "60000"
        try:
            self.srv.args = ["--listen", "127.0.0.1:%d" % port, "--jobs", "2"]
            self.srv.start()
        finally:
            del os.environ["SL_LAKE_TEST_DELAY_MS"]

        def materialize():
            try:
                self.srv.post("/api/materialize?process_id=%s" % pid, b"", timeout=300)
            except Exception:
                pass

        with concurrent.futures.ThreadPoolExecutor(1) as ex:
            fut = ex.submit(materialize)
            deadline = time.monotonic() + 120
            while (len(view_files(self.srv.data_dir)) <= len(partitions(self.srv.data_dir))
                   and time.monotonic() < deadline):
                time.sleep(0.02)
            rows = len(partitions(self.srv.data_dir))
            files = len(view_files(self.srv.data_dir))
            self.srv.kill()
            fut.result(60)
        self.assertEqual(rows, 1)
        self.assertGreater(files, rows, "no build reached the window between file and row")
        self.srv.args = ["--listen", "127.0.0.1:%d" % port]
        self.srv.start()
        self.assert_lake_consistent()
        self.assertEqual(len(partitions(self.srv.data_dir)), 1)  # the committed one survived
        # The rest is built on request.
        for sid in sids:
            status, text = get(self.srv, "/api/views/thread_spans/%s?format=csv" % sid)
            self.assertEqual(status, 200)
            self.assertEqual(len(csv_rows(text)), 20000)
        self.assert_lake_consistent()


if __name__ == "__main__":
    unittest.main(verbosity=2)
