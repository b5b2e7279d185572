#!/usr/bin/python3
"""End-to-end tests of the CLI opening a lake's stores itself (cli/local.h): with
`--meta postgres://... --objects s3://...` a command runs beside the servers of that
lake (a throwaway PostgreSQL 15 and s3rver here), builds what it reads under the same
advisory locks, and answers what the servers answer: `sql` the same rows, `trace` the
same bytes as the server's trace download, `view` the same rows, `analyze` the server's
report (its counts and sums also those `sql` finds).  Layouts that a running server
could be using unprotected are refused with exit code 2.

Only 127.0.0.1 is used; every process started here is stopped by its PID.
"""

import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_multi import Shared, loadgen, stats  # noqa: E402
from test_s3 import BUCKET, cli, query  # noqa: E402


class CliOnSharedStores(Shared):
    def stores(self):
        """The store options of the test's lake, for a command (no --no-pg)."""
        return [a for a in self.args() if a != "--no-pg"]

    def sql_cli(self, q):
        out = cli("sql", "--format", "json", q, *self.stores())
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
        return [r for r in lines[1:] if isinstance(r, list)]  # the rows, as query() does

    def trace_cli(self, pid):
        fd, path = tempfile.mkstemp(suffix=".pftrace")
        os.close(fd)
        try:
            out = cli("trace", pid, "-o", path, *self.stores())
            self.assertEqual(out.returncode, 0, out.stderr)
            with open(path, "rb") as f:
                return f.read()
        finally:
            os.unlink(path)

    def test_sql_and_trace_beside_a_running_server(self):
        (srv,) = self.start(1)
        pid = loadgen(srv, threads=3, spans=2000)
        streams = srv.get_json("/api/processes/%s/streams" % pid)
        sid = [s["stream_id"] for s in streams if "cpu" in s["tags"]][0]
        # Nothing is built yet: the CLI builds the thread's partition itself, under the
        # PostgreSQL advisory lock, while the server keeps running.
        q = "SELECT count(*) FROM view_instance('thread_spans', '%s')" % sid
        built = stats(srv)["partitions"]["built"]
        self.assertEqual(self.sql_cli(q), [[2000]])
        self.assertEqual(query(srv, q), [[2000]])
        self.assertEqual(stats(srv)["partitions"]["built"], built)  # the CLI's file serves
        self.assertEqual(self.sql_cli("SELECT count(*) FROM log_entries"),
                         query(srv, "SELECT count(*) FROM log_entries"))
        self.assertEqual(self.sql_cli("SELECT count(*) FROM processes"), [[1]])
        # The partition was built once, by the CLI: one row, and its file exists.
        rows = self.sql("SELECT count(*) FROM lakehouse_partitions WHERE view_instance_id = "
                        "'%s'" % sid)
        self.assertEqual(rows, "1")
        self.assert_rows_have_files()
        # The trace: the CLI's (cold for the other threads) is the server's, byte for byte.
        cli_trace = self.trace_cli(pid)
        st, _, served = srv.get("/api/processes/%s/trace.pftrace" % pid, timeout=600)
        self.assertEqual(st, 200)
        self.assertTrue(cli_trace)
        self.assertEqual(cli_trace, served)
        # view and materialize take the same options.
        out = cli("view", "thread_spans", sid, "--format", "csv", *self.stores())
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(len(out.stdout.splitlines()), 1 + 2000)
        out = cli("materialize", pid, *self.stores())
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("1 process:", out.stdout)
        self.assertEqual(srv.get("/health")[0], 200)
        self.assertEqual(srv.stop(), 0)

    def analyze_cli(self, pid, *args):
        out = cli("analyze", pid, "--format", "json", "--no-flame", *args, *self.stores())
        self.assertEqual(out.returncode, 0, out.stderr)
        return json.loads(out.stdout)

    def test_analyze_on_the_shared_stores(self):
        (srv,) = self.start(1)
        pid = loadgen(srv, threads=3, spans=2000)
        sids = [s["stream_id"] for s in srv.get_json("/api/processes/%s/streams" % pid)
                if "cpu" in s["tags"]]
        self.assertEqual(len(sids), 3)
        # Cold: the CLI builds the partitions its report reads, on the shared stores.
        built = stats(srv)["partitions"]["built"]
        mine = self.analyze_cli(pid)
        self.assertEqual(stats(srv)["partitions"]["built"], built)
        self.assertGreater(int(self.sql("SELECT count(*) FROM lakehouse_partitions")), 0)
        self.assert_rows_have_files()
        # The server reads the same lake: the same report, figure for figure.
        st, _, body = srv.get("/api/analyze/%s" % pid, timeout=600)
        self.assertEqual(st, 200, body[:300])
        self.assertEqual(mine, json.loads(body))
        # And the figures are those `streamlake sql` finds on the same stores.
        ds = mine["dataset"]
        thread = [self.sql_cli("SELECT count(*), sum(duration) FROM view_instance("
                               "'thread_spans', '%s')" % sid)[0] for sid in sids]
        self.assertEqual(ds["thread_spans"], sum(int(n) for n, _ in thread))
        self.assertEqual(ds["thread_spans"], 3 * 2000)
        begins = self.sql_cli("SELECT count(*) FROM view_instance('async_events', '%s') "
                              "WHERE event_type = 'begin'" % pid)
        self.assertEqual(ds["unmatched_async_begins"] + ds["unmatched_async_ends"], 0)
        self.assertEqual(ds["async_spans"], int(begins[0][0]))
        self.assertGreater(ds["async_spans"], 0)
        self.assertEqual(ds["spans"], ds["thread_spans"] + ds["async_spans"])
        du = self.analyze_cli(pid, "--kinds", "thread")["durations"]
        self.assertEqual(du["count"], 3 * 2000)
        self.assertEqual(du["sum_ns"], sum(int(s) for _, s in thread))
        self.assertEqual(srv.stop(), 0)

    def test_layouts_a_server_could_share_unprotected_are_refused(self):
        stores = self.stores()
        meta, objects = stores[1], stores[3]
        d = tempfile.mkdtemp(prefix="sl-cli-stores-")
        self.addCleanup(lambda: __import__("shutil").rmtree(d, ignore_errors=True))
        cases = [
            # SQLite metadata with S3 objects: no lock keeps a server off that file.
            (["--data", d, "--objects", objects], "--objects needs --meta"),
            (["--meta", meta], "--meta needs --objects"),
            (["--meta", meta, "--objects", objects, "--data", d], "leave it out"),
            (["--objects", "/tmp/x", "--meta", meta], "s3://BUCKET/PREFIX"),
            (["--meta", "mysql://x", "--objects", objects], "postgres://"),
            (["--data", d, "--s3-endpoint", "http://127.0.0.1:1"], "need --objects"),
            (["--server", "http://127.0.0.1:1", "--meta", meta, "--objects", objects],
             "not both"),
        ]
        for args, msg in cases:
            for cmd in (["sql", "SELECT 1"],
                        ["trace", "00000000-0000-0000-0000-000000000001", "-o", d + "/t"]):
                out = cli(*cmd, *args)
                self.assertEqual(out.returncode, 2, (cmd, args, out.stderr))
                self.assertIn(msg, out.stderr, (cmd, args))
        self.assertEqual(os.listdir(d), [])

    def test_unreachable_stores_fail_clearly(self):
        out = cli("sql", "SELECT 1", "--meta", "postgres://postgres@127.0.0.1:1/nothing",
                  "--objects", "s3://%s/x" % BUCKET, "--s3-endpoint", self.s3.endpoint)
        self.assertEqual(out.returncode, 1)
        self.assertIn("cannot open the metadata (--meta)", out.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
