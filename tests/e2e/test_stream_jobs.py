"""Continuous jobs on a server (docs/streaming.md, "Jobs on a server").

A real server on a free loopback port; jobs are defined through POST /api/query
and the PostgreSQL protocol (psycopg2), fed by `streamlake loadgen`, and read
back through SQL, GET /api/jobs, /metrics and `streamlake job`.  Checks:
  * a telemetry job (error logs per minute per process) equals the batch query
    over log_entries once the input stops (the idle rule closes the windows);
  * SHOW JOBS, SELECT * FROM jobs, /metrics and `streamlake job list` show the
    figures (rows read = the rows of log_entries, none late);
  * definitions survive a restart, stop/start and DROP MATERIALIZED VIEW work,
    and bad statements are clear errors that change nothing.
  * a view is a stream: a job over a file-fed view gives the batch query's
    result, a filter over a telemetry view receives its windows while both
    run, a view a running job reads cannot be dropped, and the reader stops.
"""
import http.server
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import sltest  # noqa: E402

try:
    import psycopg2
except ImportError:  # pragma: no cover
    psycopg2 = None

ERRS = ("CREATE TABLE errs (process_id uuid, time timestamptz, level int, msg text) "
        "WITH (connector = 'telemetry', view = 'log_entries', event_time = 'time', "
        "max_delay = '5 seconds', idle_timeout = '1 second')")
PER_MIN = ("CREATE MATERIALIZED VIEW errors_per_minute AS "
           "SELECT process_id, window_start, count(*) AS errors "
           "FROM tumble(errs, time, INTERVAL '1 minute') WHERE level <= 3 "
           "GROUP BY process_id, window_start")
BATCH = ("SELECT process_id, date_trunc('minute', time) AS window_start, count(*) AS errors "
         "FROM log_entries WHERE level <= 3 GROUP BY 1, 2 ORDER BY 1, 2")


def query(srv, sql, status=200):
    st, _, data = srv.post("/api/query?format=json", json.dumps({"sql": sql}).encode(),
                           timeout=120)
    assert st == status, (st, data[:2000])
    if status != 200:
        return json.loads(data)
    lines = [json.loads(line) for line in data.decode().splitlines()]
    return [r for r in lines[1:] if not (isinstance(r, dict) and "end" in r)]


def loadgen(url, *args):
    out = subprocess.run([sltest.binary(), "loadgen", "--json", "--server", url] + list(args),
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def cli(*args):
    return subprocess.run([sltest.binary()] + list(args), capture_output=True, text=True,
                          timeout=60)


class StreamJobs(unittest.TestCase):
    def setUp(self):
        self.srv = sltest.Server(args=["--workers", "2"])

    def tearDown(self):
        self.srv.cleanup()

    def wait_equal(self, sql_a, sql_b, timeout=150, pause=1.0):
        deadline = time.monotonic() + timeout
        while True:
            a, b = query(self.srv, sql_a), query(self.srv, sql_b)
            if a == b or time.monotonic() > deadline:
                return a, b
            time.sleep(pause)

    def assert_per_minute_counts_each_row_once(self):
        """errors_per_minute equals the batch query once it catches up, and its job
        read each log row once (none late)."""
        got, want = self.wait_equal("SELECT * FROM errors_per_minute ORDER BY 1, 2", BATCH)
        self.assertTrue(want)
        total = query(self.srv, "SELECT count(*) FROM log_entries")[0][0]
        figures = query(self.srv, "SELECT rows_read, late_dropped FROM jobs WHERE "
                        "name = 'errors_per_minute'")
        # (when they differ: the job's figures and the server's log say why)
        why = "log_entries: %d rows; the job read, dropped late: %s\n%s" % (
            total, figures, self.srv.log_text()[-4000:])
        self.assertEqual(got, want, why)
        self.assertEqual(figures, [[total, 0]], why)

    def wait_rows(self, sql, want, timeout=60):
        """The rows of sql once they are want, or what they were at the timeout (a
        hang detector, not a timing threshold)."""
        deadline = time.monotonic() + timeout
        got = None
        while time.monotonic() < deadline:
            got = query(self.srv, sql)
            if got == want:
                break
            time.sleep(0.2)
        return got

    def test_telemetry_errors_per_minute(self):
        query(self.srv, ERRS)
        query(self.srv, PER_MIN)
        # a second job over the metrics (measures), defined with `streamlake sql`
        out = cli("sql", "--server", self.srv.url,
                  "CREATE TABLE ms (process_id uuid, time timestamptz, name text, "
                  "value double precision) WITH (connector = 'telemetry', view = 'measures', "
                  "event_time = 'time', max_delay = '5 seconds', idle_timeout = '1 second'); "
                  "CREATE MATERIALIZED VIEW metrics_per_minute AS SELECT process_id, name, "
                  "window_start, count(*) AS n, max(value) AS hi FROM tumble(ms, time, "
                  "INTERVAL '1 minute') GROUP BY process_id, name, window_start")
        self.assertEqual(out.returncode, 0, out.stderr)
        # a third over the async events, whose process and stream ids the source fills
        query(self.srv, "CREATE TABLE ae (process_id uuid, stream_id uuid, time timestamptz, "
              "event_type text, name text) WITH (connector = 'telemetry', view = 'async_events', "
              "event_time = 'time', max_delay = '5 seconds', idle_timeout = '1 second')")
        query(self.srv, "CREATE MATERIALIZED VIEW async_per_minute AS SELECT process_id, name, "
              "event_type, window_start, count(*) AS n, count(DISTINCT stream_id) AS streams "
              "FROM tumble(ae, time, INTERVAL '1 minute') "
              "GROUP BY process_id, name, event_type, window_start")
        for _ in range(2):
            loadgen(self.srv.url, "--threads", "2", "--spans", "50", "--logs", "400",
                    "--metrics", "5", "--async", "5")
        view = "SELECT * FROM errors_per_minute ORDER BY 1, 2"
        got, want = self.wait_equal(view, BATCH)
        self.assertTrue(want)
        self.assertEqual(got, want)
        got_m, want_m = self.wait_equal(
            "SELECT * FROM metrics_per_minute ORDER BY 1, 2, 3",
            "SELECT process_id, name, date_trunc('minute', time), count(*), max(value) "
            "FROM measures GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")
        self.assertTrue(want_m)
        self.assertEqual(got_m, want_m)

        def async_batch():  # async_events is a view per process
            out = []
            for (pid,) in query(self.srv, "SELECT process_id FROM processes ORDER BY 1"):
                out += [[pid] + r for r in query(
                    self.srv, "SELECT name, event_type, date_trunc('minute', time), count(*), "
                    "count(DISTINCT stream_id) FROM view_instance('async_events', '%s') "
                    "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3" % pid)]
            return out
        want_a = async_batch()
        self.assertTrue(want_a)
        got_a = self.wait_rows("SELECT * FROM async_per_minute ORDER BY 1, 2, 3, 4", want_a,
                               timeout=150)
        self.assertEqual(got_a, want_a)
        total = query(self.srv, "SELECT count(*) FROM log_entries")[0][0]
        jobs = query(self.srv, "SELECT name, state, source, rows_read, late_dropped, "
                     "rows_written, watermark IS NOT NULL FROM jobs "
                     "WHERE name = 'errors_per_minute'")
        self.assertEqual(jobs, [["errors_per_minute", "running", "errs", total, 0, len(want),
                                 True]])
        st, _, body = self.srv.get("/metrics")
        self.assertEqual(st, 200)
        text = body.decode()
        self.assertIn('streamlake_source_rows_read{job="errors_per_minute",source="errs"} %d'
                      % total, text)
        self.assertIn('streamlake_source_late_dropped{job="errors_per_minute",source="errs"} 0',
                      text)
        self.assertIn('streamlake_sink_rows_written{job="errors_per_minute",'
                      'sink="errors_per_minute"} %d' % len(want), text)
        out = cli("job", "list", "--server", self.srv.url)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertRegex(out.stdout, r"errors_per_minute\s+running\s+%d\s+0\s+%d"
                         % (total, len(want)))
        out = cli("job", "describe", "errors_per_minute", "--server", self.srv.url)
        self.assertEqual(json.loads(out.stdout)["sources"]["errs"]["rows_read"], total)

    def test_lifecycle_and_restart(self):
        query(self.srv, ERRS)
        if psycopg2:
            con = psycopg2.connect(host="127.0.0.1", port=self.srv.pg_port, user="streamlake",
                                   dbname="streamlake")
            con.autocommit = True
            cur = con.cursor()
            cur.execute(PER_MIN)
            cur.execute("SHOW JOBS")
            rows = cur.fetchall()
            self.assertEqual([(r[0], r[1], r[2]) for r in rows],
                             [("errors_per_minute", "running", "errs")])
            con.close()
        else:
            query(self.srv, PER_MIN)
        # a second job of the same name, a job over a missing source: errors, nothing changes
        err = query(self.srv, PER_MIN, status=400)
        self.assertIn("exists already", json.dumps(err))
        err = query(self.srv, "CREATE MATERIALIZED VIEW x AS SELECT count(*) FROM nosuch",
                    status=400)
        self.assertIn("nosuch", json.dumps(err))
        err = query(self.srv, "CREATE TABLE t2 (time timestamptz) WITH (connector = "
                    "'telemetry', view = 'nosuch')", status=400)
        self.assertIn("view must be", json.dumps(err))
        err = query(self.srv, "DROP TABLE errs", status=400)
        self.assertIn("a job uses it", json.dumps(err))
        self.assertEqual(len(self.srv.get_json("/api/jobs")), 1)

        # definitions survive a restart; a restarted telemetry job resumes from its
        # checkpoint (nothing was ingested before: it reads what comes now)
        self.srv.restart()
        jobs = self.srv.get_json("/api/jobs")
        self.assertEqual([(j["name"], j["state"]) for j in jobs],
                         [("errors_per_minute", "running")])
        loadgen(self.srv.url, "--threads", "1", "--spans", "20", "--logs", "100",
                "--metrics", "5", "--async", "5")
        got, want = self.wait_equal("SELECT * FROM errors_per_minute ORDER BY 1, 2", BATCH)
        self.assertEqual(got, want)

        # stop keeps the view's rows; start starts it over
        st, _, body = self.srv.post("/api/jobs/errors_per_minute/stop", b"")
        self.assertEqual(st, 200, body)
        self.assertEqual(json.loads(body)["state"], "stopped")
        self.assertEqual(query(self.srv, "SELECT * FROM errors_per_minute ORDER BY 1, 2"), want)
        self.srv.restart()
        self.assertEqual(self.srv.get_json("/api/jobs/errors_per_minute")["state"], "stopped")
        out = cli("job", "start", "errors_per_minute", "--server", self.srv.url)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(json.loads(out.stdout)["state"], "running")
        st, _, _ = self.srv.get("/api/jobs/nosuch")
        self.assertEqual(st, 404)

        # DROP MATERIALIZED VIEW stops and forgets the job, for good
        query(self.srv, "DROP MATERIALIZED VIEW errors_per_minute")
        self.assertEqual(self.srv.get_json("/api/jobs"), [])
        query(self.srv, "DROP TABLE errs")
        self.srv.restart()
        self.assertEqual(self.srv.get_json("/api/jobs"), [])
        query(self.srv, ERRS)  # the name is free again

    def test_telemetry_job_resumes_after_kill(self):
        """A telemetry job takes checkpoints: killed with SIGKILL after blocks it had
        not checkpointed, and started again, it resumes from its checkpoint and
        replays the blocks ingested since (from the store), then goes on with live
        ones; its view equals the batch query over every log entry, each counted
        once (rows_read is the number of log entries).  A filter job over the same
        source resumes likewise: its view holds every error row once."""
        self.srv.cleanup()
        # checkpoints 3 s apart: the second batch of blocks lands after the one waited
        # for and before the next
        self.srv = sltest.Server(args=["--workers", "2", "--checkpoint-interval-ms", "3000"])
        query(self.srv, ERRS)
        query(self.srv, PER_MIN)
        # and a job without an aggregation: every error row once
        query(self.srv, "CREATE MATERIALIZED VIEW error_rows AS SELECT process_id, time, msg "
              "FROM errs WHERE level <= 3")
        load = ("--threads", "2", "--spans", "20", "--logs", "300", "--metrics", "5",
                "--async", "5")
        loadgen(self.srv.url, *load)
        objects_here = sltest.test_objects() == "local"  # (metadata: either store)
        if objects_here:  # a checkpoint published after the first batch
            after = time.time()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not any(
                    f.startswith("manifest-") and
                    os.path.getmtime(os.path.join(d, f)) > after + 0.5
                    for d, _, fs in os.walk(self.srv.data_dir) for f in fs):
                time.sleep(0.05)
        loadgen(self.srv.url, "--threads", "1", "--spans", "10", "--logs", "200",
                "--metrics", "5", "--async", "5")
        self.srv.kill()
        # each replay pauses before it lists the blocks since its checkpoint and after;
        # blocks sent meanwhile are held until the replays end (some listed too, which
        # the workers skip)
        self.srv.env = {"SL_STREAM_TEST_REPLAY_PAUSE_MS": "1500"}
        self.srv.start()

        def during_replay():
            loadgen(self.srv.url, *load)
            time.sleep(1.6)
            loadgen(self.srv.url, *load)
        meanwhile = threading.Thread(target=during_replay)
        meanwhile.start()
        self.assertTrue(self.srv.wait_log("job errors_per_minute: resuming from checkpoint"),
                        self.srv.log_text()[-2000:])
        if objects_here:
            deadline = time.monotonic() + 60
            while True:  # each worker says what it replayed
                counts = re.findall(r"table errs: worker \d+ replayed (\d+) blocks",
                                    self.srv.log_text())
                if len(counts) == 4 or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            self.assertEqual(len(counts), 4, self.srv.log_text()[-3000:])  # 2 jobs
            self.assertGreater(sum(int(n) for n in counts), 0, self.srv.log_text()[-3000:])
        meanwhile.join()
        self.assertEqual(len(re.findall(r"table errs: \d+ blocks delivered while the job "
                                        r"replayed", self.srv.log_text())), 2,
                         self.srv.log_text()[-3000:])
        loadgen(self.srv.url, *load)
        self.assert_per_minute_counts_each_row_once()
        # (sorted here: log_entries' times have nanoseconds, which order rows that
        # the view's microseconds make equal)
        want_rows = sorted(query(self.srv, "SELECT process_id, time, msg FROM log_entries "
                                 "WHERE level <= 3"))
        self.assertTrue(want_rows)
        deadline = time.monotonic() + 60
        while True:
            got_rows = sorted(query(self.srv, "SELECT * FROM error_rows"))
            if got_rows == want_rows or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(got_rows, want_rows)
        self.assertTrue(self.srv.wait_log("job error_rows: resuming from checkpoint"))
        self.assertNotIn("no checkpoints for", self.srv.log_text())

    def test_block_listed_by_a_replay_and_delivered_after_it_counts_once(self):
        """A block whose row commits before a resumed job's replay lists it, but which
        ingestion delivers only after the replay is over (its insert still under way),
        is skipped: the job counts each log row once and equals the batch query."""
        self.srv.cleanup()
        self.srv = sltest.Server(args=["--workers", "2", "--checkpoint-interval-ms", "1000"])
        query(self.srv, ERRS)
        query(self.srv, PER_MIN)
        load = ("--threads", "2", "--spans", "20", "--logs", "300", "--metrics", "5",
                "--async", "5")
        loadgen(self.srv.url, *load)
        time.sleep(2.5)  # a checkpoint after those blocks
        self.srv.kill()
        # each replay waits 1.5 s before it lists and after; while it replays, every
        # delivery waits 5 s after its block's row committed
        self.srv.env = {"SL_STREAM_TEST_REPLAY_PAUSE_MS": "1500",
                        "SL_STREAM_TEST_LATE_DELIVERY_MS": "5000"}
        self.srv.start()
        self.assertTrue(self.srv.wait_log("job errors_per_minute: resuming from checkpoint"),
                        self.srv.log_text()[-2000:])
        # (logs only: the client sends its first block, a log block, before the listing;
        # its delivery waits, and the client sends no other block meanwhile)
        loadgen(self.srv.url, "--threads", "1", "--spans", "0", "--logs", "200",
                "--metrics", "0", "--async", "0")
        self.assert_per_minute_counts_each_row_once()
        self.assertIn("replayed, delivered after the replay: skipped", self.srv.log_text())

    def test_span_job_resumes_after_kill(self):
        """A job over thread_spans takes checkpoints with each stream's open spans.
        The server is killed with SIGKILL while a client records slow nested spans
        (spans are open across every checkpoint and every block) and started again
        on the same port; the client sends the rest.  The job resumes: the spans
        begun before its checkpoint and ended in a block it replays, or in one that
        arrives after the restart, come out whole and once.  Its per-name counts,
        total durations and earliest begins, and a filter job's root spans, equal
        the batch queries over thread_spans."""
        self.srv.cleanup()
        self.srv = sltest.Server(args=["--workers", "2", "--checkpoint-interval-ms", "1000"])
        query(self.srv, "CREATE TABLE live_spans (name text, depth int, \"begin\" timestamptz, "
              "\"end\" timestamptz, duration bigint) WITH (connector = 'telemetry', "
              "view = 'thread_spans', event_time = 'end', max_delay = '1 minute')")
        query(self.srv, "CREATE MATERIALIZED VIEW span_sums WITH (emit = 'on_update') AS "
              "SELECT name, count(*) AS spans, sum(duration) AS total, min(\"begin\") AS first "
              "FROM live_spans GROUP BY name")
        query(self.srv, "CREATE MATERIALIZED VIEW root_spans AS SELECT name, \"begin\", "
              "duration FROM live_spans WHERE depth = 0")
        # about 3 ms a span, a root's tree about a second, 8 s in all
        lg = subprocess.Popen([sltest.binary(), "loadgen", "--json", "--server", self.srv.url,
                               "--threads", "2", "--spans", "2400", "--work", "3000000",
                               "--logs", "0", "--metrics", "0", "--async", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            # a checkpoint taken a while into the run, blocks after it, then the crash
            # (objects elsewhere than the data directory: a pause instead)
            after = time.time() + 2
            deadline = time.monotonic() + 60
            while sltest.test_objects() == "local" and time.monotonic() < deadline and \
                    not any(f.startswith("manifest-") and
                            os.path.getmtime(os.path.join(d, f)) > after
                            for d, _, fs in os.walk(self.srv.data_dir) for f in fs):
                time.sleep(0.05)
            time.sleep(0.6 if sltest.test_objects() == "local" else 3)
            self.assertIsNone(lg.poll(), "the client ended before the crash")
            self.srv.kill()
            # each replay pauses before it lists the blocks since its checkpoint and
            # after: the client's blocks come meanwhile, held undecoded (some listed too)
            self.srv.env = {"SL_STREAM_TEST_REPLAY_PAUSE_MS": "1500"}
            self.srv.start(same_port=True)
            out, err = lg.communicate(timeout=600)
        finally:
            if lg.poll() is None:
                lg.kill()
                lg.wait()
        self.assertEqual(lg.returncode, 0, err)
        for job in ("span_sums", "root_spans"):
            self.assertTrue(self.srv.wait_log("job %s: resuming from checkpoint" % job),
                            self.srv.log_text()[-2000:])
        counts = re.findall(r"table live_spans: worker \d+ replayed (\d+) blocks",
                            self.srv.log_text())
        self.assertEqual(len(counts), 4, self.srv.log_text()[-3000:])
        if sltest.test_objects() == "local":  # (metadata: either store)
            self.assertGreater(sum(int(n) for n in counts), 0, self.srv.log_text()[-3000:])
        held = re.findall(r"table live_spans: (\d+) blocks delivered while the job replayed",
                          self.srv.log_text())
        self.assertEqual(len(held), 2, self.srv.log_text()[-3000:])
        sids = [r[0] for r in query(self.srv, "SELECT stream_id FROM streams "
                                    "WHERE 'cpu' = ANY(tags)")]
        self.assertEqual(len(sids), 2)
        spans = " UNION ALL ".join("SELECT name, depth, \"begin\", duration FROM "
                                   "view_instance('thread_spans', '%s')" % s for s in sids)
        got, want = self.wait_equal(
            "SELECT name, spans, total, first FROM span_sums ORDER BY 1",
            "SELECT name, count(*), sum(duration), min(\"begin\") FROM (%s) s GROUP BY 1 "
            "ORDER BY 1" % spans)
        self.assertTrue(want)
        self.assertEqual(got, want)
        self.assertEqual(sum(r[1] for r in want), 2 * 2400)
        self.assertEqual(query(self.srv, "SELECT rows_read, late_dropped FROM jobs WHERE "
                               "name = 'span_sums'"), [[2 * 2400, 0]])
        got, want = self.wait_equal("SELECT * FROM root_spans ORDER BY 2, 1, 3",
                                    "SELECT name, \"begin\", duration FROM (%s) s WHERE "
                                    "depth = 0 ORDER BY 2, 1, 3" % spans)
        self.assertTrue(want)
        self.assertEqual(got, want)
        self.assertNotIn("no checkpoints for", self.srv.log_text())

    def test_server_examples_of_the_docs_run(self):
        """The ```sql blocks of docs/streaming.md's server sections run on a server as
        written (a file's path and the webhook's URL pointed at the test's): every
        statement succeeds, the followed file's view holds each bidder's totals
        once its lines are read, and the metrics sink's gauges count the log lines
        per target that loadgen sent."""
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
        with open(os.path.join(root, "docs", "streaming.md")) as f:
            doc = f.read()
        section = doc[doc.index("## Jobs on a server"):doc.index("## Not yet")]
        blocks = re.findall(r"```sql\n(.*?)```", section, re.S)
        self.assertEqual(len(blocks), 3, "the server sections' sql examples")
        d = tempfile.mkdtemp(prefix="sl-e2e-docs-")
        self.addCleanup(shutil.rmtree, d, True)
        bids = os.path.join(d, "bids.csv")
        with open(bids, "w") as f:
            f.write("bidder,price,ts\nann,10,2024-01-01 00:00:01\nbob,5,2024-01-01 00:00:02\n")

        def statements(block):
            text = re.sub(r"--[^\n]*", "", block)
            text = text.replace("'bids.csv'", "'%s'" % bids).replace(
                "http://127.0.0.1:9000/hook", "http://127.0.0.1:9/hook")
            return [x.strip() for x in text.split(";") if x.strip()]

        for st in statements(blocks[0]):  # telemetry: a view of errors per minute
            query(self.srv, st)
            if st.startswith("SHOW JOBS"):
                self.assertIn("errors_per_minute", [r[0] for r in query(self.srv, st)])
        self.assertEqual(query(self.srv, "SELECT name FROM jobs"), [])  # dropped at the end
        for st in statements(blocks[1]):  # a followed file's totals per bidder
            query(self.srv, st)
        with open(bids, "a") as f:
            f.write("ann,7,2024-01-01 00:00:03\n")
        self.assertEqual(self.wait_rows("SELECT bidder, n, total FROM per_bidder ORDER BY 1",
                                        [["ann", 2, 17], ["bob", 1, 5]]),
                         [["ann", 2, 17], ["bob", 1, 5]])
        for st in statements(blocks[2]):  # table, webhook and metrics sinks
            query(self.srv, st)
        loadgen(self.srv.url, "--threads", "2", "--spans", "10", "--logs", "100")
        want = {r[0]: r[1] for r in query(self.srv, "SELECT target, count(*) FROM log_entries "
                                                    "GROUP BY 1")}
        self.assertTrue(want)
        deadline = time.monotonic() + 60
        while True:
            _, _, body = self.srv.get("/metrics")
            got = {m.group(1): float(m.group(2)) for m in re.finditer(
                r'^per_target_lines\{target="([^"]*)"\} (\S+)$', body.decode(), re.M)}
            if got == want or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(got, {k: float(v) for k, v in want.items()})

    def test_webhook_and_metrics_sinks(self):
        """A webhook sink gets each closed window's row (a failed POST tried again),
        a metrics sink's gauges follow a GROUP BY; killed and started again, the
        server shows the gauges its checkpoint saved."""
        got, lock = [], threading.Lock()
        fails = [1]  # the first POST is answered 500: the sink tries it again

        class Hook(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with lock:
                    bad = fails[0] > 0
                    fails[0] -= 1
                    if not bad:
                        got.append(json.loads(body))
                self.send_response(500 if bad else 204)
                self.end_headers()

            def log_message(self, *a):
                pass

        hs = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        threading.Thread(target=hs.serve_forever, daemon=True).start()
        try:
            query(self.srv, "CREATE TABLE logs (process_id uuid, time timestamptz, level int, "
                  "target text) WITH (connector = 'telemetry', view = 'log_entries', "
                  "event_time = 'time', max_delay = '5 seconds')")
            query(self.srv, "CREATE TABLE alerts (process_id uuid, window_start timestamptz, "
                  "errors bigint) WITH (connector = 'webhook', url = 'http://127.0.0.1:%d/hook', "
                  "retries = 2)" % hs.server_address[1])
            query(self.srv, "INSERT INTO alerts SELECT process_id, window_start, count(*) "
                  "FROM tumble(logs, time, INTERVAL '10 seconds') WHERE level <= 3 "
                  "GROUP BY process_id, window_start")
            query(self.srv, "CREATE TABLE per_target (target text, lines bigint) "
                  "WITH (connector = 'metrics')")
            query(self.srv, "INSERT INTO per_target SELECT target, count(*) FROM logs "
                  "GROUP BY target")
            err = query(self.srv, "CREATE TABLE w2 (a int) WITH (connector = 'webhook')", 400)
            self.assertIn("needs a url", json.dumps(err))
            loadgen(self.srv.url, "--threads", "2", "--spans", "20", "--logs", "200",
                    "--metrics", "5", "--async", "5")
            want = query(self.srv, "SELECT process_id::text, date_bin(INTERVAL '10 seconds', "
                         "time, TIMESTAMPTZ '1970-01-01 00:00:00+00')::text, count(*) "
                         "FROM log_entries WHERE level <= 3 GROUP BY 1, 2 ORDER BY 1, 2")
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                with lock:
                    rows = sorted([r["process_id"], r["window_start"], r["errors"]] for r in got)
                if rows == want:
                    break
                time.sleep(1)
            self.assertTrue(want)
            self.assertEqual(rows, want)
            per_target = query(self.srv, "SELECT target, count(*) FROM log_entries GROUP BY 1")
            deadline = time.monotonic() + 60
            while True:
                text = self.srv.get("/metrics")[2].decode()
                seen = {m.group(1): int(float(m.group(2))) for m in re.finditer(
                    r'^per_target_lines\{target="([^"]*)"\} (\S+)$', text, re.M)}
                if seen == dict(per_target) or time.monotonic() > deadline:
                    break
                time.sleep(1)
            self.assertEqual(seen, dict(per_target))
            self.assertIn("# TYPE per_target_lines gauge", text)
            jobs = {j["name"]: j for j in self.srv.get_json("/api/jobs")}
            self.assertEqual(jobs["alerts"]["sinks"]["alerts"]["rows_written"], len(want))
            # the gauges are saved with the job's checkpoints: killed and started
            # again, the server shows them at once (nothing was ingested since)
            ck = os.path.join(self.srv.data_dir, "stream", "checkpoints", "per_target")
            after = time.time()
            deadline = time.monotonic() + 60
            while sltest.test_objects() == "local" and time.monotonic() < deadline and not any(
                    f.startswith("manifest-") and os.path.getmtime(os.path.join(ck, f)) > after
                    for f in (os.listdir(ck) if os.path.isdir(ck) else [])):
                time.sleep(0.05)
            self.srv.kill()
            self.srv.start()
            self.assertTrue(self.srv.wait_log("job per_target: resuming from checkpoint"),
                            self.srv.log_text()[-2000:])
            text = self.srv.get("/metrics")[2].decode()
            seen = {m.group(1): int(float(m.group(2))) for m in re.finditer(
                r'^per_target_lines\{target="([^"]*)"\} (\S+)$', text, re.M)}
            self.assertEqual(seen, dict(per_target))
        finally:
            hs.shutdown()
            hs.server_close()

    def test_table_sink(self):
        query(self.srv, "CREATE TABLE lg (process_id uuid, time timestamptz, level int) WITH "
              "(connector = 'telemetry', view = 'log_entries', event_time = 'time', "
              "max_delay = '5 seconds')")
        query(self.srv, "CREATE TABLE levels_10s (process_id uuid, window_start timestamptz, "
              "level int, n bigint) WITH (connector = 'table')")
        query(self.srv, "INSERT INTO levels_10s SELECT process_id, window_start, level, count(*) "
              "FROM tumble(lg, time, INTERVAL '10 seconds') GROUP BY process_id, window_start, "
              "level")
        loadgen(self.srv.url, "--threads", "2", "--spans", "20", "--logs", "150",
                "--metrics", "5", "--async", "5")
        got, want = self.wait_equal(
            "SELECT process_id, window_start, level, n FROM levels_10s ORDER BY 1, 2, 3",
            "SELECT process_id, date_bin(INTERVAL '10 seconds', time, "
            "TIMESTAMPTZ '1970-01-01 00:00:00+00'), level, count(*) FROM log_entries "
            "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3", timeout=90)
        self.assertTrue(want)
        self.assertEqual(got, want)
        # a user table like any other: it stays after the job and the server stop
        query(self.srv, "DROP TABLE levels_10s", status=400)  # the job still writes it
        self.srv.post("/api/jobs/levels_10s/stop", b"")
        self.srv.restart()
        self.assertEqual(query(self.srv, "SELECT sum(n) FROM levels_10s"),
                         query(self.srv, "SELECT count(*) FROM log_entries"))

    def followed_bids(self, prefix, delay, args=()):
        """A server of 2 workers over a new directory holding bids.csv (a header only),
        and fbids, a source following it with max_delay delay: the file's path."""
        d = tempfile.mkdtemp(prefix=prefix)
        self.addCleanup(shutil.rmtree, d, True)
        self.srv.cleanup()
        self.srv = sltest.Server(args=["--workers", "2", "--files", d] + list(args))
        path = os.path.join(d, "bids.csv")
        with open(path, "w") as f:
            f.write("bidder,price,ts\n")
        query(self.srv, "CREATE TABLE fbids (bidder text, price bigint, ts timestamp) WITH "
              "(connector = 'file', path = '%s', format = 'csv', event_time = 'ts', "
              "max_delay = '%s', follow = true)" % (path, delay))
        return path

    def test_state_bytes_and_lag(self):
        """SELECT * FROM jobs and /metrics show each job's state and lag: a
        telemetry job whose windows stay open (max_delay of an hour) holds state
        (state_bytes > 0), and its lag_seconds is how far its watermark (the newest
        event time less the delay) trails the wall clock: the delay, plus at most
        the time since the events were made; a job over a file has no lag (NULL:
        its event times need not be near the wall clock) but holds state too."""
        path = self.followed_bids("sl-e2e-figs-", "1 hour")
        query(self.srv, ERRS.replace("errs", "errs_h").replace(
            "max_delay = '5 seconds', idle_timeout = '1 second'", "max_delay = '1 hour'"))
        query(self.srv, "CREATE MATERIALIZED VIEW open_minutes AS SELECT process_id, "
              "window_start, count(*) AS n FROM tumble(errs_h, time, INTERVAL '1 minute') "
              "GROUP BY process_id, window_start")
        query(self.srv, "CREATE MATERIALIZED VIEW file_minutes AS SELECT bidder, window_start, "
              "count(*) AS n FROM tumble(fbids, ts, INTERVAL '1 minute') "
              "GROUP BY bidder, window_start")
        with open(path, "a") as f:
            f.write("".join("b%d,%d,2024-03-01 00:%02d:00\n" % (i % 7, i, i % 60)
                            for i in range(500)))
        made = time.time()
        loadgen(self.srv.url, "--threads", "2", "--spans", "50", "--logs", "400")
        total = query(self.srv, "SELECT count(*) FROM log_entries")[0][0]
        figs = "SELECT name, rows_read FROM jobs ORDER BY 1"
        self.assertEqual(self.wait_rows(figs, [["file_minutes", 500], ["open_minutes", total]]),
                         [["file_minutes", 500], ["open_minutes", total]])
        # rows_read counts rows as the source takes them; the workers aggregate them a
        # moment later (under load, later still): wait for both jobs to hold state
        deadline = time.monotonic() + 30
        while True:
            rows = {r[0]: r[1:] for r in query(self.srv, "SELECT name, state_bytes, "
                                               "lag_seconds FROM jobs")}
            if (rows["open_minutes"][0] > 0 and rows["file_minutes"][0] > 0) or \
                    time.monotonic() > deadline:
                break
            time.sleep(0.1)
        since = time.time() - made
        state, lag = rows["open_minutes"]
        self.assertGreater(state, 0, rows)
        self.assertIsNotNone(lag, rows)
        self.assertGreaterEqual(lag, 3600 - 1, rows)  # a second for clocks rounding
        self.assertLessEqual(lag, 3600 + since + 1, rows)
        self.assertGreater(rows["file_minutes"][0], 0, rows)
        self.assertIsNone(rows["file_minutes"][1], rows)
        st, _, body = self.srv.get("/metrics")
        text = body.decode()
        m = re.search(r'^streamlake_job_state_bytes\{job="open_minutes"\} (\S+)$', text, re.M)
        self.assertTrue(m and float(m.group(1)) > 0, text[:3000])
        m = re.search(r'^streamlake_job_lag_seconds\{job="open_minutes"\} (\S+)$', text, re.M)
        self.assertTrue(m and 3600 - 1 <= float(m.group(1)) <= 3600 + time.time() - made + 1,
                        text[:3000])
        self.assertNotIn('streamlake_job_lag_seconds{job="file_minutes"}', text)
        # the file job's watermark: its newest event time (00:59) less the hour, in the
        # jobs table and as the gauge (seconds since the epoch)
        self.assertEqual(query(self.srv, "SELECT watermark::text FROM jobs WHERE name = "
                               "'file_minutes'"), [["2024-02-29 23:59:00+00"]])
        m = re.search(r'^streamlake_job_watermark_seconds\{job="file_minutes"\} (\S+)$', text, re.M)
        self.assertTrue(m and abs(float(m.group(1)) - 1709251140) < 0.5, text[:3000])

    def test_on_update_views_while_running(self):
        """Views with emit = 'on_update' over a followed file show their current
        rows while the job runs (equal to the batch query over the lines so far,
        HAVING included: a group that stops passing leaves the view), and the
        final rows once it is stopped."""
        path = self.followed_bids("sl-e2e-onupd-", "10 minutes")
        # a GROUP BY without a window (on_update by default), with a HAVING a group
        # leaves and passes again; a windowed view whose window stays open
        query(self.srv, "CREATE MATERIALIZED VIEW per_bidder AS SELECT bidder, count(*) AS n, "
              "sum(price) AS total FROM fbids GROUP BY bidder HAVING count(*) <> 2")
        query(self.srv, "CREATE MATERIALIZED VIEW per_hour WITH (emit = 'on_update') AS "
              "SELECT window_start, bidder, count(*) AS n, max(price) AS top "
              "FROM tumble(fbids, ts, INTERVAL '1 hour') GROUP BY window_start, bidder")
        src = ("read_csv('%s', true, ',', 'bidder text, price bigint, ts timestamp')" % path)
        batch_bidder = ("SELECT bidder, count(*), sum(price) FROM %s GROUP BY bidder "
                        "HAVING count(*) <> 2 ORDER BY 1" % src)
        batch_hour = ("SELECT date_trunc('hour', ts), bidder, count(*), max(price) FROM %s "
                      "GROUP BY 1, 2 ORDER BY 1, 2" % src)
        view_bidder = "SELECT * FROM per_bidder ORDER BY 1"
        view_hour = "SELECT * FROM per_hour ORDER BY 1, 2"

        steps = [
            # every row on time (event times rise), all within 00:00 .. 00:40 until the
            # last step, so the first hour's window is open while the job runs
            [("ann", 5, "00:00:01"), ("bob", 7, "00:00:02"), ("cy", 1, "00:00:03")],
            [("ann", 9, "00:10:00"), ("bob", 2, "00:11:00"), ("dee", 4, "00:12:00")],
            [("ann", 3, "00:20:00"), ("cy", 8, "00:21:00"), ("eve", 6, "00:22:00"),
             ("eve", 1, "00:23:00")],
            [("bob", 5, "00:40:00"), ("ann", 2, "01:05:00"), ("dee", 9, "01:06:00")],
        ]
        for i, rows in enumerate(steps):
            with open(path, "a") as f:
                f.write("".join("%s,%d,2024-03-01 %s\n" % r for r in rows))
            for view, batch in ((view_bidder, batch_bidder), (view_hour, batch_hour)):
                got, want = self.wait_equal(view, batch, timeout=60, pause=0.2)
                self.assertTrue(want, (i, view))
                self.assertEqual(got, want, "step %d: %s" % (i, view))
            jobs = query(self.srv, "SELECT name, state FROM jobs ORDER BY 1")
            self.assertEqual(jobs, [["per_bidder", "running"], ["per_hour", "running"]])
        # stopped: the input ends, windows close; the views hold the final rows
        for name in ("per_bidder", "per_hour"):
            st, _, body = self.srv.post("/api/jobs/%s/stop" % name, b"")
            self.assertEqual(st, 200, body)
        self.assertEqual(query(self.srv, view_bidder), query(self.srv, batch_bidder))
        self.assertEqual(query(self.srv, view_hour), query(self.srv, batch_hour))

    def test_job_follows_an_on_update_view(self):
        """A job reading a view that emits updates, on a server: it gets the view's rows
        when it starts, then each update as the view's job publishes it, so the newest
        row it has of each group is the view's current row while both run; it ends
        when the view's job ends."""
        path = self.followed_bids("sl-e2e-follow-", "1 hour")

        def append(rows):
            with open(path, "a") as f:
                f.write("".join("%s,%d,2024-03-01 00:%02d:00\n" % r for r in rows))
        query(self.srv, "CREATE MATERIALIZED VIEW per_bidder AS SELECT bidder, count(*) AS n, "
              "sum(price) AS total FROM fbids GROUP BY bidder")
        current = "SELECT bidder, n, total FROM per_bidder ORDER BY 1"
        append([("ann", 5, 1), ("bob", 7, 2), ("cy", 1, 3), ("ann", 2, 4)])
        got, want = self.wait_equal(current, "SELECT 'ann', 2, 7 UNION ALL SELECT 'bob', 1, 7 "
                                    "UNION ALL SELECT 'cy', 1, 1 ORDER BY 1", timeout=60, pause=0.2)
        self.assertEqual(got, want)
        # started after the view has rows: it gets them first, then the updates; a
        # projection of a view that emits updates is keyed by the view's key, so it
        # holds each group's newest row
        query(self.srv, "CREATE MATERIALIZED VIEW seen AS SELECT bidder, n, total FROM per_bidder")
        newest = "SELECT bidder, n, total FROM seen ORDER BY 1"
        steps = [[("bob", 4, 10), ("dee", 9, 11)],
                 [("ann", 1, 20), ("ann", 3, 21), ("eve", 6, 22)],
                 [("cy", 8, 30)], [("bob", 2, 40), ("dee", 1, 41), ("ann", 4, 42)]]
        acc = {"ann": [2, 7], "bob": [1, 7], "cy": [1, 1]}
        for i, rows in enumerate([[]] + steps):
            append(rows)
            for b, price, _ in rows:
                acc.setdefault(b, [0, 0])
                acc[b] = [acc[b][0] + 1, acc[b][1] + price]
            expect = sorted([b, n, t] for b, (n, t) in acc.items())
            for sql in (current, newest):  # the view, then the job reading it
                deadline = time.monotonic() + 60
                while query(self.srv, sql) != expect and time.monotonic() < deadline:
                    time.sleep(0.2)
                self.assertEqual(query(self.srv, sql), expect, "step %d: %s" % (i, sql))
            states = {j["name"]: j["state"] for j in self.srv.get_json("/api/jobs")}
            self.assertEqual(states, {"per_bidder": "running", "seen": "running"})
        # every update read, not only the last: the 3 groups at the start, then the
        # groups each append changed (2, 2, 1, 3), each at least once; the jobs table
        # counts the rows read while the jobs run: the file's lines, the view's updates
        lines = 4 + sum(len(rows) for rows in steps)
        figures = query(self.srv, "SELECT name, rows_read, watermark IS NOT NULL "
                        "FROM jobs ORDER BY 1")
        self.assertEqual(figures[0], ["per_bidder", lines, True])
        self.assertEqual((figures[1][0], figures[1][2]), ("seen", False))
        self.assertGreaterEqual(int(figures[1][1]), 3 + 8, figures)
        err = query(self.srv, "DROP MATERIALIZED VIEW per_bidder", status=400)
        self.assertIn("reads it", json.dumps(err))
        st, _, body = self.srv.post("/api/jobs/per_bidder/stop", b"")
        self.assertEqual(st, 200, body)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            states = {j["name"]: j["state"] for j in self.srv.get_json("/api/jobs")}
            if states["seen"] != "running":
                break
            time.sleep(0.2)
        self.assertEqual(states["seen"], "finished")
        self.assertEqual(query(self.srv, newest), query(self.srv, current))

    def test_filter_of_an_update_view_passes_its_deletions(self):
        """A filter of a view that emits updates, on a server, is keyed by the view's
        key: a group the view's HAVING drops, or whose new row the filter rejects,
        leaves it (a view over it holds the filter of the view's current rows while
        both run), and a file sink with op_column gets 'delete' for such a group
        only if it had the group; replaying its log gives the filter's final rows."""
        path = self.followed_bids("sl-e2e-ukeyed-", "1 hour")
        out = os.path.join(os.path.dirname(path), "odd.csv")

        def append(rows):
            with open(path, "a") as f:
                f.write("".join("%s,%d,2024-03-01 00:%02d:00\n" % r for r in rows))
        query(self.srv, "CREATE MATERIALIZED VIEW per_bidder AS SELECT bidder, count(*) AS n, "
              "sum(price) AS total FROM fbids GROUP BY bidder HAVING count(*) <> 2")
        query(self.srv, "CREATE MATERIALIZED VIEW odd AS SELECT bidder AS who, total "
              "FROM per_bidder WHERE n % 2 = 1")
        query(self.srv, "CREATE TABLE odd_log (op text, who text, n bigint) WITH (connector "
              "= 'file', path = '%s', format = 'csv', op_column = 'op')" % out)
        query(self.srv, "INSERT INTO odd_log SELECT bidder, n FROM per_bidder WHERE total < 20")
        # GROUP BYs over it: a changed group is computed again from the view's rows
        query(self.srv, "CREATE MATERIALIZED VIEW by_n AS SELECT n, count(*) AS bidders, "
              "sum(total) AS t, string_agg(bidder, ',' ORDER BY bidder) AS who "
              "FROM per_bidder WHERE total <= 20 GROUP BY n")
        query(self.srv, "CREATE MATERIALIZED VIEW whole AS SELECT count(*) AS c, "
              "max(total) AS top FROM per_bidder")
        n_out = os.path.join(os.path.dirname(path), "by_n.csv")
        query(self.srv, "CREATE TABLE n_log (op text, n bigint, bidders bigint) WITH (connector "
              "= 'file', path = '%s', format = 'csv', op_column = 'op')" % n_out)
        query(self.srv, "INSERT INTO n_log SELECT n, count(*) FROM per_bidder GROUP BY n")
        err = query(self.srv, "CREATE MATERIALIZED VIEW bad WITH (emit = 'on_window_close') AS "
                    "SELECT bidder FROM per_bidder", status=400)
        self.assertIn("emits updates", json.dumps(err))
        steps = [[("ann", 5, 1), ("bob", 7, 2), ("cy", 1, 3)],
                 [("ann", 2, 4), ("dee", 4, 5)],          # ann: n = 2, the HAVING drops it
                 [("ann", 3, 6), ("bob", 1, 7)],          # ann back (n 3); bob dropped
                 [("cy", 2, 8), ("cy", 30, 9), ("ann", 1, 10)],  # cy n 3 total 33; ann n 4
                 [("eve", 6, 11), ("dee", 1, 12)],        # dee: n = 2, dropped
                 [("dee", 1, 13)]]                        # dee back
        want_odd = "SELECT bidder, total FROM per_bidder WHERE n % 2 = 1 ORDER BY 1"
        for i, rows in enumerate(steps):
            append(rows)
            counts = {}
            for r in (x for st in steps[:i + 1] for x in st):
                counts.setdefault(r[0], [0, 0])
                counts[r[0]] = [counts[r[0]][0] + 1, counts[r[0]][1] + r[1]]
            expect = sorted([b, t] for b, (n, t) in counts.items() if n != 2 and n % 2 == 1)
            self.assertEqual(self.wait_rows(want_odd, expect), expect, "step %d: the view" % i)
            self.assertEqual(self.wait_rows("SELECT * FROM odd ORDER BY 1", expect), expect,
                             "step %d: the filter of it" % i)
            live = {b: v for b, v in counts.items() if v[0] != 2}
            by_n = {}
            for b in sorted(live):
                if live[b][1] <= 20:
                    g = by_n.setdefault(live[b][0], [0, 0, []])
                    g[0], g[1] = g[0] + 1, g[1] + live[b][1]
                    g[2].append(b)
            expect = [[n, c, t, ",".join(w)] for n, (c, t, w) in sorted(by_n.items())]
            self.assertEqual(self.wait_rows("SELECT * FROM by_n ORDER BY 1", expect), expect,
                             "step %d: a GROUP BY of it" % i)
            expect = [[len(live), max(v[1] for v in live.values())]]
            self.assertEqual(self.wait_rows("SELECT * FROM whole", expect), expect,
                             "step %d: a GROUP BY of no column of it" % i)
        for name in ("per_bidder",):
            st, _, body = self.srv.post("/api/jobs/%s/stop" % name, b"")
            self.assertEqual(st, 200, body)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            states = {j["name"]: j["state"] for j in self.srv.get_json("/api/jobs")}
            if all(states[n] != "running" for n in ("odd", "odd_log", "by_n", "n_log")):
                break
            time.sleep(0.2)
        self.assertEqual([states[n] for n in ("odd", "odd_log", "by_n", "whole", "n_log")],
                         ["finished"] * 5)
        # the log replayed: each upsert sets its key's row, each delete removes it
        final, ops = {}, []
        with open(out) as f:
            for line in f.read().splitlines()[1:]:
                op, who, n = line.split(",")
                ops.append((op, who))
                if op == "delete":
                    self.assertIn(who, final, "a delete of a group it never had: %s" % ops)
                    del final[who]
                else:
                    self.assertEqual(op, "upsert")
                    final[who] = int(n)
        want = query(self.srv, "SELECT bidder, n FROM per_bidder WHERE total < 20 ORDER BY 1")
        self.assertEqual(sorted([k, v] for k, v in final.items()), want)
        final = {}
        with open(n_out) as f:
            for line in f.read().splitlines()[1:]:
                op, n, c = line.split(",")
                if op == "delete":
                    self.assertIn(n, final)
                    del final[n]
                else:
                    final[n] = int(c)
        want = query(self.srv, "SELECT n, count(*) FROM per_bidder GROUP BY n ORDER BY 1")
        self.assertEqual(sorted([int(k), v] for k, v in final.items()), want)
        # the groups that left: ann, bob and dee at n = 2 (the HAVING), cy at total 33
        self.assertEqual(sorted(w for op, w in ops if op == "delete"),
                         ["ann", "bob", "cy", "dee"], ops)

    def test_window_over_a_view_closes_with_the_views_watermark(self):
        """On a server, a window over a windowed view closes when the view's job has
        closed every window up to its end, even when those windows were empty: the
        view's rows alone (the last one ends at 00:00:10) would hold it open until the
        view's next row."""
        path = self.followed_bids("sl-e2e-viewwm-", "0 seconds")
        query(self.srv, "CREATE MATERIALIZED VIEW per10 AS SELECT window_end AS we, "
              "count(*) AS n FROM tumble(fbids, ts, INTERVAL '10 seconds') "
              "GROUP BY window_start, window_end")
        query(self.srv, "CREATE MATERIALIZED VIEW per_min AS SELECT window_start, sum(n) AS n "
              "FROM tumble(per10, we, INTERVAL '1 minute') GROUP BY window_start, window_end")
        with open(path, "a") as f:
            f.write("ann,1,2024-03-01 00:00:01\nbob,2,2024-03-01 00:00:05\n"
                    "cy,3,2024-03-01 00:05:00\n")
        want = [["2024-03-01 00:00:00", 2]]
        self.assertEqual(self.wait_rows("SELECT window_start::text, n FROM per_min ORDER BY 1",
                                        want), want)
        self.assertEqual(query(self.srv, "SELECT we::text, n FROM per10 ORDER BY 1"),
                         [["2024-03-01 00:00:10", 2]])

    def test_window_over_a_join_view_closes_with_its_watermark(self):
        """On a server, a view of a window join (each row with its window's highest
        price) is read by a job as a stream, and a window over it closes once the
        join has closed every window up to its end: its one row (of 00:00:10)
        alone would hold the minute open until the join's next row."""
        path = self.followed_bids("sl-e2e-joinview-", "0 seconds")
        query(self.srv, "CREATE MATERIALIZED VIEW top10 AS SELECT b.bidder, b.price, "
              "b.window_end AS we FROM tumble(fbids, ts, INTERVAL '10 seconds') b JOIN "
              "(SELECT max(price) AS mp, window_start FROM tumble(fbids, ts, INTERVAL '10 seconds') "
              "GROUP BY window_start) m ON b.window_start = m.window_start AND b.price = m.mp")
        query(self.srv, "CREATE MATERIALIZED VIEW top_min AS SELECT window_start, max(price) AS top, "
              "count(*) AS n FROM tumble(top10, we, INTERVAL '1 minute') "
              "GROUP BY window_start, window_end")
        with open(path, "a") as f:
            f.write("ann,1,2024-03-01 00:00:01\nbob,2,2024-03-01 00:00:05\n"
                    "cy,3,2024-03-01 00:05:00\n")
        want = [["2024-03-01 00:00:00", 2, 1]]
        self.assertEqual(self.wait_rows("SELECT window_start::text, top, n FROM top_min "
                                        "ORDER BY 1", want), want)
        self.assertEqual(query(self.srv, "SELECT bidder, price, we::text FROM top10"),
                         [["bob", 2, "2024-03-01 00:00:10"]])

    def test_window_over_an_interval_join_view_closes_with_its_watermark(self):
        """On a server, a view of an interval join of two followed files is read by a
        job as a stream, and a window over it closes once both sources' watermarks
        (less the band) passed its end, though the view's later rows say nothing of
        it: the view's job publishes its watermark as its partitions apply it."""
        path = self.followed_bids("sl-e2e-ijview-", "0 seconds")
        asks = os.path.join(os.path.dirname(path), "asks.csv")
        with open(asks, "w") as f:
            f.write("bidder,price,ts\n")
        query(self.srv, "CREATE TABLE fasks (bidder text, price bigint, ts timestamp) WITH "
              "(connector = 'file', path = '%s', format = 'csv', event_time = 'ts', "
              "max_delay = '0 seconds', follow = true)" % asks)
        query(self.srv, "CREATE MATERIALIZED VIEW pairs AS SELECT b.bidder, b.price, "
              "b.ts AS bts, a.price AS ap FROM fbids b JOIN fasks a ON b.bidder = a.bidder "
              "AND a.ts BETWEEN b.ts AND b.ts + INTERVAL '5 seconds'")
        query(self.srv, "CREATE MATERIALIZED VIEW pairs_min AS SELECT window_start, "
              "count(*) AS n, max(ap) AS top FROM tumble(pairs, bts, INTERVAL '1 minute') "
              "GROUP BY window_start, window_end")
        with open(path, "a") as f:
            f.write("ann,1,2024-03-01 00:00:01\nzed,9,2024-03-01 00:05:00\n")
        with open(asks, "a") as f:
            f.write("ann,10,2024-03-01 00:00:03\nann,11,2024-03-01 00:00:07\n"
                    "zed,9,2024-03-01 00:05:00\n")
        want = [["2024-03-01 00:00:00", 1, 10]]
        self.assertEqual(self.wait_rows("SELECT window_start::text, n, top FROM pairs_min "
                                        "ORDER BY 1", want), want)
        self.assertEqual(query(self.srv, "SELECT bidder, ap FROM pairs ORDER BY 1"),
                         [["ann", 10], ["zed", 9]])

    def test_join_over_a_followed_file_resumes(self):
        """A join of windows over a followed file takes checkpoints on a server: killed
        with SIGKILL and started again, it resumes where its checkpoint stood, reads
        the lines written meanwhile, and its view holds each window's highest bid
        once."""
        path = self.followed_bids("sl-e2e-joinck-", "0 seconds",
                                  ["--checkpoint-interval-ms", "50"])
        query(self.srv, "CREATE MATERIALIZED VIEW top10 AS SELECT b.window_end AS we, "
              "b.bidder, b.price FROM tumble(fbids, ts, INTERVAL '10 seconds') b JOIN "
              "(SELECT max(price) AS mp, window_start FROM tumble(fbids, ts, INTERVAL '10 seconds') "
              "GROUP BY window_start) m ON b.window_start = m.window_start AND b.price = m.mp")
        lines = ["b%d,%d,2024-03-01 00:%02d:%02d" % (i % 7, (i * 37) % 101, i // 60, i % 60)
                 for i in range(0, 600, 3)]
        with open(path, "a") as f:
            f.write("\n".join(lines[:100]) + "\n")
        sel = "SELECT we::text, bidder, price FROM top10 ORDER BY 1, 2, 3"
        want_first = self.wait_rows("SELECT count(*) > 0 FROM top10", [[True]])
        self.assertEqual(want_first, [[True]])
        if sltest.local_stores():  # a checkpoint published
            ck = os.path.join(self.srv.data_dir)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not any(
                    f.startswith("manifest-") for _, _, fs in os.walk(ck) for f in fs):
                time.sleep(0.05)
        self.srv.kill()
        with open(path, "a") as f:
            f.write("\n".join(lines[100:]) + "\n")
        self.srv.start()
        if sltest.local_stores():
            self.assertTrue(self.srv.wait_log("job top10: resuming from checkpoint"),
                            self.srv.log_text()[-2000:])
        # every window but the last (the watermark is the last line's time) has closed
        rows = [(l.split(",")[0], int(l.split(",")[1]),
                 datetime.datetime.strptime(l.split(",")[2], "%Y-%m-%d %H:%M:%S"))
                for l in lines]
        last = max(r[2] for r in rows)
        best = {}
        for b, p, t in rows:
            start = t.replace(second=t.second // 10 * 10)
            if start + datetime.timedelta(seconds=10) <= last:
                best.setdefault(start, []).append((b, p))
        want = sorted([str(s + datetime.timedelta(seconds=10)), b, p]
                      for s, rs in best.items() for b, p in rs if p == max(x[1] for x in rs))
        self.assertEqual(self.wait_rows(sel, want), want)

    def test_followed_file_is_cut_for_the_workers_and_resumes(self):
        """On a server, what a followed file holds when its job starts is cut into
        splits for both workers (the job's checkpoints say how many), and the job
        takes checkpoints: killed with SIGKILL after one, started again after the
        file grew, it cuts the file as before (the checkpoint keeps the size it was
        cut at) instead of refusing a file that is "not the file it was taken
        over", goes on, and its view equals the batch query over the non-late
        rows of every line so far, with the source's figures of one reader."""
        d = tempfile.mkdtemp(prefix="sl-e2e-followcut-")
        self.addCleanup(shutil.rmtree, d, True)
        self.srv.cleanup()
        self.srv = sltest.Server(args=["--workers", "2", "--files", d,
                                       "--checkpoint-interval-ms", "50"],
                                 env={"SL_STREAM_TEST_BATCH_DELAY_US": "30000"})
        path = os.path.join(d, "bids.csv")
        t0 = datetime.datetime(2024, 3, 1)

        def lines(lo, hi):  # every 13th row 40 s back: late under a 5 s delay
            out = []
            for i in range(lo, hi):
                t = t0 + datetime.timedelta(milliseconds=100 * i - (40000 if i % 13 == 5 else 0))
                out.append("b%d,%d,%s" % (i % 7, (i * 37) % 1001, t.strftime("%Y-%m-%d %H:%M:%S.%f")))
            return out
        parts = [lines(0, 60000), lines(60000, 70000), lines(70000, 80000)]
        with open(path, "w") as f:
            f.write("bidder,price,ts\n" + "\n".join(parts[0]) + "\n")
        query(self.srv, "CREATE TABLE fbids (bidder text, price bigint, ts timestamp) WITH "
              "(connector = 'file', path = '%s', format = 'csv', event_time = 'ts', "
              "max_delay = '5 seconds', follow = true)" % path)
        query(self.srv, "CREATE MATERIALIZED VIEW per10 AS SELECT window_start, count(*) AS n, "
              "sum(price) AS s FROM tumble(fbids, ts, INTERVAL '10 seconds') "
              "GROUP BY window_start")
        manifests = []
        deadline = time.monotonic() + 60
        while sltest.local_stores() and not manifests and time.monotonic() < deadline:
            manifests = sorted(os.path.join(a, f) for a, _, fs in os.walk(self.srv.data_dir)
                               for f in fs if f.startswith("manifest-"))
            time.sleep(0.02)
        self.srv.kill()
        if sltest.local_stores():
            with open(manifests[-1], "rb") as f:
                man = f.read()
            self.assertEqual(man[:4], b"SLCK")
            nsplits = int.from_bytes(man[36:40], "little")
            self.assertGreater(nsplits, 2, "the file's content was not cut for the workers")
        with open(path, "a") as f:
            f.write("\n".join(parts[1]) + "\n")
        self.srv.start()
        if sltest.local_stores():
            self.assertTrue(self.srv.wait_log("job per10: resuming from checkpoint"),
                            self.srv.log_text()[-2000:])
        with open(path, "a") as f:
            f.write("\n".join(parts[2]) + "\n")
        # the oracle: rows in line order, late ones dropped, closed windows only
        delay = datetime.timedelta(seconds=5)
        wm, top, late, wins = None, None, 0, {}
        for line in parts[0] + parts[1] + parts[2]:
            _, price, ts = line.split(",")
            t = datetime.datetime.strptime(ts, "%Y-%m-%d %H:%M:%S.%f")
            if wm is not None and t < wm:
                late += 1
                continue
            top = t if top is None or t > top else top
            wm = top - delay
            start = t.replace(second=t.second // 10 * 10, microsecond=0)
            n, s = wins.get(start, (0, 0))
            wins[start] = (n + 1, s + int(price))
        want = [[str(k), n, s] for k, (n, s) in sorted(wins.items())
                if k + datetime.timedelta(seconds=10) <= wm]
        got = self.wait_rows("SELECT window_start::text, n, s FROM per10 ORDER BY 1", want,
                             timeout=120)
        self.assertEqual(len(got), len(want))
        self.assertEqual(got, want)
        row = query(self.srv, "SELECT rows_read, late_dropped FROM jobs WHERE name = 'per10'")
        self.assertEqual([int(x) for x in row[0]], [80000, late])
        query(self.srv, "DROP MATERIALIZED VIEW per10")  # a stop while it follows the file

    def test_job_over_a_file_stops_while_it_reads(self):
        """A job over a bounded file stopped while its workers read the file's splits
        (ahead, on a server too) stops, having read only part of the file: no
        reader is left waiting for a split before its own that nobody will read.
        Started again, it reads the file from the start: its view equals the batch
        query and its figures are those of the whole file."""
        d = tempfile.mkdtemp(prefix="sl-e2e-stopahead-")
        self.addCleanup(shutil.rmtree, d, True)
        self.srv.cleanup()
        self.srv = sltest.Server(args=["--workers", "2", "--files", d],
                                 env={"SL_STREAM_TEST_BATCH_DELAY_US": "40000"})
        path = os.path.join(d, "bids.csv")
        with open(path, "w") as f:
            f.write("bidder,price,ts\n")
            for i in range(400000):
                f.write("b%d,%d,2024-03-01 %02d:%02d:%02d\n" % (i % 7, i % 101, i // 36000,
                                                                 i // 600 % 60, i // 10 % 60))
        query(self.srv, "CREATE TABLE bids (bidder text, price bigint, ts timestamp) WITH "
              "(connector = 'file', path = '%s', event_time = 'ts', max_delay = '1 second')"
              % path)
        query(self.srv, "CREATE MATERIALIZED VIEW per_min AS SELECT window_start, count(*) AS n, "
              "sum(price) AS s FROM tumble(bids, ts, INTERVAL '1 minute') GROUP BY window_start")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not int(
                query(self.srv, "SELECT rows_read FROM jobs")[0][0] or 0):
            time.sleep(0.02)
        st, _, body = self.srv.post("/api/jobs/per_min/stop", b"", timeout=60)
        self.assertEqual(st, 200, body)
        self.assertEqual(json.loads(body)["state"], "stopped")
        read = int(query(self.srv, "SELECT rows_read FROM jobs")[0][0])
        self.assertTrue(0 < read < 400000, read)
        out = cli("job", "start", "per_min", "--server", self.srv.url)
        self.assertEqual(out.returncode, 0, out.stderr)
        wins = {}  # the batch query: rows in order, none late; the end closes the last
        for i in range(400000):
            n, s = wins.get(i // 600, (0, 0))
            wins[i // 600] = (n + 1, s + i % 101)
        want = [[str(datetime.datetime(2024, 3, 1) + datetime.timedelta(minutes=m)), n, s]
                for m, (n, s) in sorted(wins.items())]
        got = self.wait_rows("SELECT window_start::text, n, s FROM per_min ORDER BY 1", want,
                             timeout=120)
        self.assertEqual(got, want)
        self.assertEqual(query(self.srv, "SELECT state, rows_read FROM jobs"),
                         [["finished", 400000]])

    def test_joins_of_two_streams(self):
        """Joins of two streams run on a server as with `streamlake run`: a window join
        and an interval join of two files into views equal the batch joins over the
        non-late rows; the sources of a join cannot be dropped under it; a job over an
        unbounded generator stops when asked."""
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                        "stream"))
        import test_stream as ts  # the generated bids and the batch oracle
        d = tempfile.mkdtemp(prefix="sl-e2e-joins-")
        self.addCleanup(shutil.rmtree, d, True)
        rows_b, _, late_b = ts.make_input(d, 7, 6000, 3000)
        d2 = os.path.join(d, "asks")
        os.mkdir(d2)
        rows_a, _, late_a = ts.make_input(d2, 107, 6000, 8000)
        for name, delay, path in (("bids", "3 seconds", os.path.join(d, "bids.csv")),
                                  ("asks", "8 seconds", os.path.join(d2, "bids.csv"))):
            query(self.srv, "CREATE TABLE %s (%s) WITH (connector = 'file', path = '%s', "
                  "event_time = 'ts', max_delay = '%s')" % (name, ts.COLS, path, delay))
        query(self.srv, "CREATE MATERIALIZED VIEW wj AS SELECT b.window_start, b.auction, "
              "b.price AS bp, a.price AS ap, a.bidder FROM tumble(bids, ts, INTERVAL '10 seconds') b "
              "JOIN tumble(asks, ts, INTERVAL '10 seconds') a ON b.auction = a.auction "
              "AND b.window_start = a.window_start AND b.window_end = a.window_end "
              "AND b.bidder = a.bidder")
        query(self.srv, "CREATE MATERIALIZED VIEW ij AS SELECT b.auction, b.bidder, b.price AS bp, "
              "a.price AS ap, b.ts AS bts, a.ts AS ats FROM bids b JOIN asks a "
              "ON b.auction = a.auction AND a.ts BETWEEN b.ts AND b.ts + INTERVAL '20 seconds'")
        err = query(self.srv, "DROP TABLE asks", status=400)  # both jobs read it
        self.assertIn("asks", json.dumps(err))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            states = {j["name"]: j["state"] for j in self.srv.get_json("/api/jobs")}
            if "running" not in states.values():
                break
            time.sleep(0.2)
        self.assertEqual(states, {"wj": "finished", "ij": "finished"})
        # each source's figures: in the jobs table (summed, the sources named), in the
        # job's JSON and in /metrics (a series per source); after the server's ticker
        # reaped the ended jobs (once a second), from the source tables
        time.sleep(1.5)
        want_src = {"bids": (len(rows_b), late_b), "asks": (len(rows_a), late_a)}
        for name in ("wj", "ij"):
            row = query(self.srv, "SELECT source, rows_read, late_dropped FROM jobs WHERE name = "
                        "'%s'" % name)[0]
            self.assertEqual(sorted(row[0].split(", ")), ["asks", "bids"], row)
            self.assertEqual((int(row[1]), int(row[2])),
                             (len(rows_b) + len(rows_a), late_b + late_a), row)
            js = self.srv.get_json("/api/jobs/%s" % name)
            self.assertEqual({k: (v["rows_read"], v["late_dropped"])
                              for k, v in js["sources"].items()}, want_src, js)
        metrics = self.srv.get("/metrics")[2].decode()
        for src, (n, late) in want_src.items():
            self.assertIn('streamlake_source_rows_read{job="ij",source="%s"} %d' % (src, n),
                          metrics)
            self.assertIn('streamlake_source_late_dropped{job="wj",source="%s"} %d' % (src, late),
                          metrics)
        b = "read_csv('%s', true, ',', '%s')" % (os.path.join(d, "keep.csv"), ts.COLS)
        a = "read_csv('%s', true, ',', '%s')" % (os.path.join(d2, "keep.csv"), ts.COLS)
        t = "coalesce(%s::text, '-')"
        cols = lambda *c: ", ".join(t % x for x in c)  # noqa: E731
        want_wj = ts.oracle(d, "SELECT %s FROM (SELECT *, date_bin(INTERVAL '10 seconds', ts, "
                            "TIMESTAMP '1970-01-01') AS ws FROM %s WHERE ts IS NOT NULL) b JOIN "
                            "(SELECT *, date_bin(INTERVAL '10 seconds', ts, TIMESTAMP '1970-01-01') "
                            "AS ws FROM %s WHERE ts IS NOT NULL) a ON b.auction = a.auction AND "
                            "b.ws = a.ws AND b.bidder = a.bidder"
                            % (cols("b.ws", "b.auction", "b.price", "a.price", "a.bidder"), b, a))[1:]
        want_ij = ts.oracle(d, "SELECT %s FROM %s b JOIN %s a ON b.auction = a.auction AND a.ts "
                            "BETWEEN b.ts AND b.ts + INTERVAL '20 seconds'"
                            % (cols("b.auction", "b.bidder", "b.price", "a.price", "b.ts", "a.ts"),
                               b, a))[1:]
        got_wj = query(self.srv, "SELECT %s FROM wj" % cols("window_start", "auction", "bp", "ap",
                                                             "bidder"))
        got_ij = query(self.srv, "SELECT %s FROM ij" % cols("auction", "bidder", "bp", "ap", "bts",
                                                             "ats"))
        self.assertTrue(len(want_wj) > 5 and len(want_ij) > 5)
        self.assertEqual(sorted(got_wj), sorted(want_wj))
        self.assertEqual(sorted(got_ij), sorted(want_ij))
        # an unbounded generator: the job runs until stopped, then ends as an input ends
        query(self.srv, "CREATE TABLE nbid (auction bigint, price bigint, date_time timestamp) "
              "WITH (connector = 'nexmark', kind = 'bid', rate = '20000')")
        query(self.srv, "CREATE MATERIALIZED VIEW top AS SELECT b.auction, b.price, b.window_end "
              "FROM tumble(nbid, date_time, INTERVAL '1 second') b JOIN (SELECT max(price) AS mp, "
              "window_start, window_end FROM tumble(nbid, date_time, INTERVAL '1 second') "
              "GROUP BY window_start, window_end) m ON b.window_start = m.window_start "
              "AND b.window_end = m.window_end AND b.price = m.mp")
        time.sleep(1.5)
        states = {j["name"]: j["state"] for j in self.srv.get_json("/api/jobs")}
        self.assertEqual(states["top"], "running", self.srv.get_json("/api/jobs"))
        st, _, body = self.srv.post("/api/jobs/top/stop", b"")
        self.assertEqual(st, 200, body)
        states = {j["name"]: j["state"] for j in self.srv.get_json("/api/jobs")}
        self.assertEqual(states["top"], "stopped")
        self.assertGreater(query(self.srv, "SELECT count(*) FROM top")[0][0], 0)

    def test_view_as_stream(self):
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                        "stream"))
        import test_stream as ts  # the generated bids and the batch oracle
        d = tempfile.mkdtemp(prefix="sl-viewsrc-")
        self.addCleanup(shutil.rmtree, d, True)
        ts.make_input(d, 5, 6000, 3000)
        # a chain over a file: per-10-second counts, then their per-minute maximum
        query(self.srv, "CREATE TABLE bids (%s) WITH (connector = 'file', path = '%s', "
              "event_time = 'ts', max_delay = '3 seconds')" % (ts.COLS, os.path.join(d, "bids.csv")))
        query(self.srv, "CREATE MATERIALIZED VIEW per10 AS SELECT window_start AS ws, "
              "window_end AS we, auction, count(*) AS n FROM tumble(bids, ts, INTERVAL '10 seconds') "
              "GROUP BY window_start, window_end, auction")
        query(self.srv, "CREATE MATERIALIZED VIEW per_min AS SELECT window_start, max(n) AS most, "
              "sum(n) AS n FROM tumble(per10, ws, INTERVAL '1 minute') "
              "GROUP BY window_start, window_end")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            states = {j["name"]: j["state"] for j in self.srv.get_json("/api/jobs")}
            if states.get("per_min") != "running":
                break
            time.sleep(0.2)
        self.assertEqual(states, {"per10": "finished", "per_min": "finished"})
        src = "read_csv('%s', true, ',', '%s')" % (os.path.join(d, "keep.csv"), ts.COLS)
        inner = ("SELECT date_bin(INTERVAL '10 seconds', ts, TIMESTAMP '1970-01-01') AS ws, "
                 "auction, count(*) AS n FROM %s WHERE ts IS NOT NULL GROUP BY 1, 2" % src)
        want = ts.oracle(d, "SELECT date_bin(INTERVAL '1 minute', ws, TIMESTAMP '1970-01-01')::text, "
                         "max(n)::text, sum(n)::text FROM (%s) v GROUP BY 1 ORDER BY 1" % inner)[1:]
        got = query(self.srv, "SELECT window_start::text, most::text, n::text FROM per_min "
                    "ORDER BY window_start")
        self.assertTrue(len(want) > 10)
        self.assertEqual(got, want)

        # a filter over a live telemetry view receives its windows as they close
        query(self.srv, ERRS)
        query(self.srv, "CREATE MATERIALIZED VIEW per10s AS SELECT process_id, window_start, "
              "count(*) AS n FROM tumble(errs, time, INTERVAL '10 seconds') "
              "GROUP BY process_id, window_start")
        query(self.srv, "CREATE MATERIALIZED VIEW busy AS SELECT process_id, window_start, n "
              "FROM per10s WHERE n >= 2")
        loadgen(self.srv.url, "--threads", "2", "--spans", "20", "--logs", "300",
                "--metrics", "5", "--async", "5")
        deadline = time.monotonic() + 90
        while True:  # until windows closed (the idle rule) and reached the reader
            got, want = self.wait_equal("SELECT * FROM busy ORDER BY 1, 2",
                                        "SELECT process_id, window_start, n FROM per10s "
                                        "WHERE n >= 2 ORDER BY 1, 2", timeout=90)
            if want or time.monotonic() > deadline:
                break
            time.sleep(1)
        self.assertTrue(want)
        self.assertEqual(got, want)
        states = {j["name"]: j["state"] for j in self.srv.get_json("/api/jobs")}
        self.assertEqual((states["per10s"], states["busy"]), ("running", "running"))
        err = query(self.srv, "DROP MATERIALIZED VIEW per10s", status=400)
        self.assertIn("reads it", json.dumps(err))
        out = cli("job", "stop", "busy", "--server", self.srv.url)
        self.assertEqual(out.returncode, 0, out.stderr)
        states = {j["name"]: j["state"] for j in self.srv.get_json("/api/jobs")}
        self.assertEqual(states["busy"], "stopped")
        query(self.srv, "DROP MATERIALIZED VIEW busy")
        query(self.srv, "DROP MATERIALIZED VIEW per10s")


if __name__ == "__main__":
    unittest.main(verbosity=2)
