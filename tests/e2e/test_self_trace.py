"""The server records its own work (`serve`, on unless --no-self-trace).

  * After ingestion (loadgen over HTTP), SQL over HTTP and over the PostgreSQL
    protocol, and a trace: the server's own process is in /api/processes and
    in the processes table (exe streamlake, property streamlake.role =
    server), with async spans named for each operation, at least as many as
    the operations sent; its log lines are log entries; its /api/stats
    figures are metrics; `streamlake analyze` of it names the operations.
  * Storing its own events records no ingestion span: an idle server's
    ingest.* span counts stay put while its own blocks keep arriving.
  * With --no-self-trace there is no such process.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import Server  # noqa: E402

HTTP_QUERIES = 7
PG_QUERIES = 5


def run(*args, timeout=600, env=None):
    return subprocess.run([sltest.binary()] + list(args), capture_output=True, text=True,
                          timeout=timeout, env=env)


def sql(srv, text):
    """Rows of one statement as dicts (HTTP, JSON lines: columns, rows, end)."""
    st, _, body = srv.request("POST", "/api/query", body=json.dumps({"sql": text}).encode(),
                              headers={"Content-Type": "application/json"})
    assert st == 200, body
    lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
    cols = [c["name"] for c in lines[0]["columns"]]
    return [dict(zip(cols, r)) for r in lines[1:] if isinstance(r, list)]


def self_process(srv):
    rows = sql(srv, "SELECT process_id, exe, properties FROM processes")
    mine = [r for r in rows if "streamlake.role" in str(r["properties"])]
    return mine


def span_counts(srv, pid):
    rows = sql(srv, "SELECT name, count(*) AS n FROM process_spans('%s', 'async') "
                    "GROUP BY name" % pid)
    return {r["name"]: int(r["n"]) for r in rows}


def loadgen(url, env=None):
    out = run("loadgen", "--json", "--server", url, "--threads", "2", "--spans", "2000",
              "--async", "20", "--logs", "10", "--metrics", "10", env=env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


class SelfTrace(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(self_trace=True)
        cls.lg = loadgen(cls.srv.url)
        for i in range(HTTP_QUERIES):
            sql(cls.srv, "SELECT count(*) AS n FROM process_spans('%s') WHERE depth >= %d"
                % (cls.lg["process_id"], i % 3))
        for i in range(PG_QUERIES):
            out = subprocess.run(["psql", "-X", "-A", "-t", "-h", "127.0.0.1", "-p",
                                  str(cls.srv.pg_port), "-U", "x", "-d", "lake", "-c",
                                  "SELECT count(*) FROM log_entries WHERE level <= %d" % (i + 2)],
                                 capture_output=True, text=True, timeout=120)
            assert out.returncode == 0, out.stderr
        cls.trace_file = tempfile.mktemp(suffix=".pftrace")
        out = run("trace", cls.lg["process_id"], "-o", cls.trace_file, "--server", cls.srv.url)
        assert out.returncode == 0, out.stderr
        # The server's events reach its lake within its flush period (5 s): wait for them.
        deadline = time.monotonic() + 60
        cls.counts = {}
        while time.monotonic() < deadline:
            procs = self_process(cls.srv)
            if procs:
                cls.pid = procs[0]["process_id"]
                cls.counts = span_counts(cls.srv, cls.pid)
                if (cls.counts.get("sql.query.http", 0) >= HTTP_QUERIES and
                        cls.counts.get("sql.query.pgwire", 0) >= PG_QUERIES and
                        cls.counts.get("trace.generate", 0) >= 1):
                    break
            time.sleep(0.5)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.srv.cleanup()
        if os.path.exists(cls.trace_file):
            os.unlink(cls.trace_file)

    def test_process_is_listed(self):
        procs = self_process(self.srv)
        self.assertEqual(len(procs), 1)
        self.assertTrue(procs[0]["exe"].endswith("/streamlake"), procs[0]["exe"])
        props = procs[0]["properties"]
        props = json.loads(props) if isinstance(props, str) else props
        self.assertEqual(props["streamlake.role"], "server")
        self.assertEqual(props["streamlake.listen"], "127.0.0.1:%d" % self.srv.port)
        listed = self.srv.get_json("/api/processes")
        self.assertIn(self.pid, [p["process_id"] for p in listed])

    def test_spans_per_operation(self):
        c = self.counts
        # loadgen's blocks, streams and its process all came over HTTP
        self.assertGreaterEqual(c.get("ingest.block", 0), 1, c)
        self.assertGreaterEqual(c.get("ingest.stream", 0), 2, c)  # two threads at least
        self.assertGreaterEqual(c.get("ingest.process", 0), 1, c)
        self.assertGreaterEqual(c.get("sql.query.http", 0), HTTP_QUERIES, c)
        self.assertGreaterEqual(c.get("sql.query.pgwire", 0), PG_QUERIES, c)
        self.assertGreaterEqual(c.get("trace.generate", 0), 1, c)
        self.assertGreaterEqual(c.get("lake.partition_lookup", 0), 1, c)
        self.assertGreaterEqual(c.get("lake.jit_build", 0), 1, c)
        # a span per block posted: at least as many as loadgen's delivered blocks
        self.assertGreaterEqual(c.get("ingest.block", 0), self.lg["library"]["blocks"], c)

    def test_logs_and_metrics(self):
        # metrics are recorded every second and flushed within the next: wait for them
        deadline = time.monotonic() + 60
        while True:
            logs = sql(self.srv, "SELECT target, msg FROM log_entries WHERE process_id = '%s'"
                       % self.pid)
            names = {r["name"] for r in sql(self.srv, "SELECT DISTINCT name FROM measures "
                                            "WHERE process_id = '%s'" % self.pid)}
            if "traces.count" in names or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        self.assertTrue(any(r["target"] == "serve" and "recording itself" in r["msg"]
                            for r in logs), logs)
        self.assertIn("lake.partitions.built", names)
        self.assertIn("traces.count", names)

    def test_analyze_names_the_operations(self):
        out = run("analyze", self.pid, "--server", self.srv.url, "--format", "json")
        self.assertEqual(out.returncode, 0, out.stderr)
        text = out.stdout
        for name in ("ingest.block", "sql.query.http", "sql.query.pgwire", "trace.generate",
                     "lake.jit_build"):
            self.assertIn('"%s"' % name, text)

    def test_own_ingestion_does_not_feed_itself(self):
        before = span_counts(self.srv, self.pid)
        blocks_before = sql(self.srv, "SELECT count(*) AS n FROM blocks WHERE process_id = '%s'"
                            % self.pid)[0]["n"]
        time.sleep(6.5)  # metrics every second, sealed every 5 s: own blocks keep arriving
        after = span_counts(self.srv, self.pid)
        blocks_after = sql(self.srv, "SELECT count(*) AS n FROM blocks WHERE process_id = '%s'"
                           % self.pid)[0]["n"]
        self.assertGreater(int(blocks_after), int(blocks_before))
        for name in ("ingest.block", "ingest.stream", "ingest.process"):
            self.assertEqual(before.get(name, 0), after.get(name, 0), name)


class NoSelfTrace(unittest.TestCase):
    def test_flag_off(self):
        srv = Server(args=["--no-self-trace"])
        try:
            lg = loadgen(srv.url)
            sql(srv, "SELECT count(*) FROM processes")
            time.sleep(2)
            rows = sql(srv, "SELECT process_id FROM processes")
            self.assertEqual([r["process_id"] for r in rows], [lg["process_id"]])
        finally:
            srv.stop()
            srv.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
