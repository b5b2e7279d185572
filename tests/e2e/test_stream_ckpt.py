"""Checkpoints of continuous jobs on a server (docs/streaming.md, "Jobs on a
server").

A real server on a free loopback port, with a checkpoint every 50 ms, runs four
jobs over one CSV file: tumbling aggregations into a file sink, into a
materialized view and into a table sink (a user table), and a join of windows
into a materialized view.  The server is killed with SIGKILL a few times
(seeded, each time shortly after a new checkpoint of the file job was
published, when the stores are local) and started again on the same data
directory; the jobs resume from their checkpoints.  The same with an orderly
shutdown (SIGTERM) in place of the kill: jobs that take checkpoints end as
after a crash and resume after the restart.  Once they finish, the file sink's
rows, the views' contents and the user table's rows must equal those of
copies of the jobs started after the last restart (uninterrupted): no row
lost, none twice.  Also: a dropped job's checkpoints are removed.
"""
import json
import os
import random
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "stream"))
import sltest  # noqa: E402
from test_checkpoint import make_input  # noqa: E402  (the same generated bids)

ROWS = 200000


def statements(src, out, suffix=""):
    """The source (once), a file sink and its job, a view job; suffix names a copy."""
    src_def = [] if suffix else [
        "CREATE TABLE bids (auction bigint, bidder text, price bigint, ts timestamp) "
        "WITH (connector = 'file', path = '%s', format = 'csv', event_time = 'ts', "
        "max_delay = '1 second')" % src]
    return src_def + [
        "CREATE TABLE out%s (window_end timestamp, auction bigint, n bigint, total bigint, "
        "top text) WITH (connector = 'file', path = '%s', format = 'csv')" % (suffix, out),
        "INSERT INTO out%s SELECT window_end, auction, count(*), sum(price), max(bidder) "
        "FROM tumble(bids, ts, INTERVAL '2 seconds') GROUP BY window_end, auction" % suffix,
        "CREATE MATERIALIZED VIEW per_bidder%s AS SELECT window_end, bidder, count(*) AS n, "
        "min(price) AS low FROM tumble(bids, ts, INTERVAL '10 seconds') "
        "GROUP BY window_end, bidder" % suffix,
        "CREATE TABLE tout%s (window_end timestamp, auction bigint, n bigint, low bigint) "
        "WITH (connector = 'table')" % suffix,
        "INSERT INTO tout%s SELECT window_end, auction, count(*), min(price) "
        "FROM tumble(bids, ts, INTERVAL '5 seconds') GROUP BY window_end, auction" % suffix,
        # a join of windows: each window's highest bids (q7's shape)
        "CREATE MATERIALIZED VIEW top%s AS SELECT b.window_end, b.auction, b.price "
        "FROM tumble(bids, ts, INTERVAL '2 seconds') b JOIN (SELECT max(price) AS mp, "
        "window_start FROM tumble(bids, ts, INTERVAL '2 seconds') GROUP BY window_start) m "
        "ON b.window_start = m.window_start AND b.price = m.mp" % suffix,
    ]


VIEW_SELECT = "SELECT * FROM per_bidder%s ORDER BY window_end, bidder"
TABLE_SELECT = "SELECT * FROM tout%s ORDER BY window_end, auction"
JOIN_SELECT = "SELECT * FROM top%s ORDER BY window_end, auction, price"


def query(srv, sql, status=200):
    st, _, data = srv.post("/api/query?format=json", json.dumps({"sql": sql}).encode(),
                           timeout=120)
    assert st == status, (st, data[:2000])
    lines = [json.loads(line) for line in data.decode().splitlines()]
    return [r for r in lines[1:] if not (isinstance(r, dict) and "end" in r)]


def manifests(data_dir, job):
    """The manifests of a job's checkpoints (local stores: files under data_dir)."""
    found = set()
    for dirpath, _, files in os.walk(data_dir):
        if dirpath.endswith(os.path.join("stream", "checkpoints", job)):
            found |= {f for f in files if f.startswith("manifest-")}
    return found


def sorted_rows(text):
    lines = text.splitlines()
    return lines[:1] + sorted(lines[1:])


class StreamCheckpoints(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sl-e2e-ck-")
        self.src = os.path.join(self.tmp, "bids.csv")
        make_input(self.src, ROWS, 11)
        # readers pause 20 ms a batch (a test switch), so that the job outlives a few
        # checkpoints even on a fast, quiet machine
        self.srv = sltest.Server(args=["--workers", "2", "--checkpoint-interval-ms", "50"],
                                 env={"SL_STREAM_TEST_BATCH_DELAY_US": "20000"})

    def tearDown(self):
        self.srv.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def job_state(self, name):
        return self.srv.get_json("/api/jobs/" + name)["state"]

    def wait_finished(self, names):
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and \
                any(self.job_state(n) not in ("finished", "failed") for n in names):
            time.sleep(0.2)
        for n in names:
            self.assertEqual(self.job_state(n), "finished", n)

    def test_kill_and_resume(self):
        self.interrupted(self.srv.kill, "kills")

    def test_shutdown_and_resume(self):
        """An orderly shutdown (SIGTERM) ends the jobs that take checkpoints as a
        crash would: their checkpoints and part files stay, and after the restart
        they resume rather than start over."""
        self.interrupted(self.srv.stop, "shutdowns")

    def interrupted(self, interrupt, what):
        """The jobs interrupted (interrupt: the server killed or shut down) a few
        times, each time restarted; then their outputs against uninterrupted copies."""
        out = os.path.join(self.tmp, "out.csv")
        for st in statements(self.src, out):
            query(self.srv, st)
        rnd = random.Random(5)
        local = sltest.local_stores()
        kills = resumed = 0
        join_resumed = False
        for _ in range(3):
            # a new checkpoint of the file job and of the join (each on its own clock:
            # a file job that reads ahead checkpoints right after it starts)
            seen = {n: manifests(self.srv.data_dir, n) for n in ("out", "top")}
            deadline = time.monotonic() + 60
            while self.job_state("out") == "running" and time.monotonic() < deadline:
                if not local or all(manifests(self.srv.data_dir, n) - seen[n] or
                                    self.job_state(n) != "running" for n in seen):
                    break
                time.sleep(0.01)
            time.sleep(rnd.uniform(0, 0.1) if local else 0.3)
            if self.job_state("out") != "running":
                break
            interrupt()
            kills += 1
            self.srv.start()
            # A finished job's checkpoints are gone and a restart starts it over
            # (docs/streaming.md), so a job that ended in the moment between the
            # state read and the kill does not resume: count the resumes.
            # (logged by the job's thread once its checkpoint is restored)
            if self.srv.wait_log("job out: resuming from checkpoint", 5):
                resumed += 1
            if self.srv.wait_log("job top: resuming from checkpoint", 5):
                join_resumed = True
        print("%d %s, %d resumed from a checkpoint, the join resumed: %s"
              % (kills, what, resumed, join_resumed), file=sys.stderr)
        self.assertGreaterEqual(kills, 1, "the job ended before the first interruption")
        if local:
            self.assertGreaterEqual(resumed, 1, "no restart resumed from a checkpoint")
            self.assertTrue(join_resumed, "no restart resumed the join from a checkpoint")
        self.wait_finished(["out", "per_bidder", "tout", "top"])
        # the reference: the same jobs, run after the last restart without interruption
        ref = os.path.join(self.tmp, "ref.csv")
        for st in statements(self.src, ref, "_ref"):
            query(self.srv, st)
        self.wait_finished(["out_ref", "per_bidder_ref", "tout_ref", "top_ref"])
        with open(out) as f:
            got_out = f.read()
        with open(ref) as f:
            want_out = f.read()
        self.assertGreater(len(want_out.splitlines()), 1000)
        self.assertEqual(sorted_rows(got_out), sorted_rows(want_out),
                         "the file sink's rows after %d %s" % (kills, what))
        ends = [line.split(",")[0] for line in got_out.splitlines()[1:]]
        self.assertTrue(all(a <= b for a, b in zip(ends, ends[1:])), "window_end order")
        got_view = query(self.srv, VIEW_SELECT % "")
        want_view = query(self.srv, VIEW_SELECT % "_ref")
        self.assertGreater(len(want_view), 1000)
        self.assertEqual(got_view, want_view, "the view's contents after %d %s" % (kills, what))
        # the table sink: its user table holds each row once (a sink ignoring checkpoints
        # would start over after a kill and append its rows again)
        got_table = query(self.srv, TABLE_SELECT % "")
        want_table = query(self.srv, TABLE_SELECT % "_ref")
        self.assertGreater(len(want_table), 1000)
        self.assertEqual(got_table, want_table, "the table sink's rows after %d %s" % (kills, what))
        # the join of windows: its view holds each window's highest bids once
        got_join = query(self.srv, JOIN_SELECT % "")
        want_join = query(self.srv, JOIN_SELECT % "_ref")
        self.assertGreater(len(want_join), 100)
        self.assertEqual(got_join, want_join, "the join's view after %d %s" % (kills, what))
        if local:
            self.assertFalse(manifests(self.srv.data_dir, "out"),
                             "a finished job's checkpoints are removed")

    def test_drop_removes_checkpoints(self):
        if not sltest.local_stores():
            self.skipTest("inspects the local object store")
        for st in statements(self.src, os.path.join(self.tmp, "out.csv"))[:1]:
            query(self.srv, st)
        query(self.srv, "CREATE MATERIALIZED VIEW slow AS SELECT window_end, count(*) AS n "
              "FROM tumble(bids, ts, INTERVAL '1 second') GROUP BY window_end")
        deadline = time.monotonic() + 60
        while not manifests(self.srv.data_dir, "slow") and time.monotonic() < deadline and \
                self.job_state("slow") == "running":
            time.sleep(0.01)
        self.srv.kill()  # its checkpoints stay: a restart would resume
        self.srv.start()
        query(self.srv, "DROP MATERIALIZED VIEW slow")
        self.assertFalse(manifests(self.srv.data_dir, "slow"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
