"""End-to-end: several servers on one PostgreSQL and one S3 bucket, and retention.

A throwaway PostgreSQL 15 (tests/sql/pgcluster.py) and s3rver run on 127.0.0.1; each
test creates its own database and bucket prefix and starts two or three
`streamlake serve --meta postgres://... --objects s3://...` processes on them:

  * loadgen sends one process to each server; every server answers the same rows to
    the same SQL and the same bytes for each process's Perfetto trace;
  * concurrent first reads of one partition through three servers build it exactly
    once (the servers' build counters and the partition rows in PostgreSQL agree);
  * a server killed with SIGKILL between a partition's file and its row leaves no
    row without its file, and another server completes the build;
  * a trace's deferred commits (upload and row in the background) keep the
    partitions' locks until done: another server waits, then reuses the rows; killed
    with commits pending, a server leaves no row and another builds them again;
  * the leader of background work is killed: another server takes over;
  * a server's cached block and partition lists are reused while PostgreSQL's change
    stamps say nothing changed, and reloaded as soon as another server adds blocks;
  * --materialize: the leader builds the global views' partitions of recent
    processes before any query asks;
  * retention (--retention) with PostgreSQL and with SQLite: blocks older than the
    horizon disappear from SQL and from the object store, recent ones stay, and
    ingestion goes on.

Only 127.0.0.1 is used; every process started here is stopped by its PID.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import Server  # noqa: E402
from test_s3 import BUCKET, KEYS, S3rver, cli, query  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sql"))
from pgcluster import PgCluster  # noqa: E402


def loadgen(srv, threads=2, spans=3000):
    out = cli("loadgen", "--server", srv.url, "--json", "--threads", str(threads), "--spans",
              str(spans), "--async", "20", "--logs", "30", "--metrics", "20")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])["process_id"]


def stats(srv):
    return srv.get_json("/api/stats")["lake"]


def wait_for(pred, what, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


class Shared(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = PgCluster(max_connections=200)
        cls.s3 = S3rver()
        cls.saved_env = {k: os.environ.get(k) for k in KEYS}
        os.environ.update(KEYS)

    @classmethod
    def tearDownClass(cls):
        cls.s3.stop()
        cls.s3.cleanup()
        cls.pg.stop()
        for k, v in cls.saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    def setUp(self):
        self.db = "m_" + uuid.uuid4().hex[:12]
        self.pg.psql("CREATE DATABASE " + self.db)
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.cleanup()

    def args(self):
        return ["--no-pg", "--meta", self.pg.url(self.db), "--objects",
                "s3://%s/%s" % (BUCKET, self.db), "--s3-endpoint", self.s3.endpoint]

    def start(self, n, env=None, extra=()):
        saved = {k: os.environ.get(k) for k in (env or {})}
        os.environ.update(env or {})
        try:
            new = [Server(args=self.args() + list(extra)) for _ in range(n)]
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        self.servers += new
        return new

    def sql(self, q):
        return self.pg.psql(q, self.db).strip()

    def object_keys(self, prefix):
        """Keys under the test's bucket prefix, as s3rver stores them on disk."""
        root = os.path.join(self.s3.dir, BUCKET, self.db, prefix)
        out = []
        for dirpath, _, files in os.walk(root):
            for f in files:
                if f.endswith("._S3rver_object"):
                    rel = os.path.relpath(os.path.join(dirpath, f), os.path.join(
                        self.s3.dir, BUCKET, self.db))
                    out.append(rel[:-len("._S3rver_object")])
        return out

    def assert_rows_have_files(self):
        """Every partition row's file exists in the bucket."""
        paths = [p for p in self.sql("SELECT file_path FROM lakehouse_partitions").split("\n")
                 if p]
        keys = set(self.object_keys("views"))
        self.assertTrue(paths)
        for p in paths:
            self.assertIn(p, keys)


class MultiServer(Shared):
    def test_servers_answer_the_same(self):
        servers = self.start(3)
        pids = [loadgen(s) for s in servers]
        sqls = ["SELECT count(*), sum(duration) FROM view_instance('thread_spans', '%s')",
                "SELECT time, level, target, msg FROM log_entries ORDER BY time, msg",
                "SELECT time, name, value FROM measures ORDER BY time, name, value",
                "SELECT process_id, exe FROM processes ORDER BY process_id"]
        for pid in pids:
            streams = servers[0].get_json("/api/processes/%s/streams" % pid)
            sid = sorted(s["stream_id"] for s in streams if "cpu" in s["tags"])[0]
            for q in sqls:
                q = q % sid if "%s" in q else q
                got = [query(s, q) for s in servers]
                self.assertTrue(got[0], q)
                self.assertEqual(got[0], got[1], q)
                self.assertEqual(got[0], got[2], q)
            traces = []
            for s in servers:
                st, _, body = s.get("/api/processes/%s/trace.pftrace" % pid, timeout=600)
                self.assertEqual(st, 200)
                traces.append(body)
            self.assertGreater(len(traces[0]), 1000)
            self.assertEqual(traces[0], traces[1])
            self.assertEqual(traces[0], traces[2])
        self.assertEqual(self.sql("SELECT count(*) FROM processes"), "3")
        # one leader among the three
        leaders = [stats(s)["background"]["leader"] for s in servers]
        wait_for(lambda: sum(stats(s)["background"]["leader"] for s in servers) == 1,
                 "one leader")
        del leaders
        self.assert_rows_have_files()

    def test_schema_migrates_and_a_newer_one_is_refused(self):
        """A store of schema version 1 (no index on blocks' insert times) is migrated
        to 2 when a server starts, its blocks kept; a version newer than the build's
        is refused with a clear error and changes nothing."""
        (srv,) = self.start(1)
        loadgen(srv)
        srv.stop()
        self.sql("DROP INDEX blocks_by_insert_time; UPDATE streamlake_schema SET version = 1")
        blocks = self.sql("SELECT count(*) FROM blocks")
        (srv,) = self.start(1)
        self.assertEqual(self.sql("SELECT version FROM streamlake_schema"), "2")
        self.assertEqual(self.sql("SELECT count(*) FROM pg_indexes WHERE "
                                  "indexname = 'blocks_by_insert_time'"), "1")
        self.assertEqual(self.sql("SELECT count(*) FROM blocks"), blocks)
        srv.stop()
        self.sql("UPDATE streamlake_schema SET version = 3")
        with self.assertRaises(RuntimeError) as cm:
            self.start(1)
        self.assertIn("metadata schema version 3 in PostgreSQL is newer than this build's 2",
                      str(cm.exception))
        self.assertEqual(self.sql("SELECT version FROM streamlake_schema"), "3")

    def test_concurrent_first_reads_build_once(self):
        # every build holds its lock 300 ms between file and row: the reads overlap
        servers = self.start(3, env={"SL_LAKE_TEST_DELAY_MS": "300"})
        pid = loadgen(servers[0], threads=1)
        streams = servers[0].get_json("/api/processes/%s/streams" % pid)
        sid = [s["stream_id"] for s in streams if "cpu" in s["tags"]][0]
        before = sum(stats(s)["partitions"]["built"] for s in servers)
        results = [None] * 3

        def read(i):
            results[i] = query(servers[i], "SELECT count(*) FROM view_instance('thread_spans',"
                                           " '%s')" % sid)

        ts = [threading.Thread(target=read, args=(i,)) for i in range(3)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(results[0], results[1])
        self.assertEqual(results[0], results[2])
        built = sum(stats(s)["partitions"]["built"] for s in servers) - before
        rows = int(self.sql("SELECT count(*) FROM lakehouse_partitions WHERE view_instance_id"
                            " = '%s'" % sid))
        self.assertEqual(rows, 1)  # one partition, never retired nor built twice
        self.assertEqual(built, 1)
        self.assert_rows_have_files()

    def test_sigkill_mid_build_leaves_no_row_without_file(self):
        (crashy,) = self.start(1, env={"SL_LAKE_CRASH": "after_put"})
        (good,) = self.start(1)
        pid = loadgen(good, threads=1)
        streams = good.get_json("/api/processes/%s/streams" % pid)
        sid = [s["stream_id"] for s in streams if "cpu" in s["tags"]][0]
        q = "SELECT count(*) FROM view_instance('thread_spans', '%s')" % sid
        try:
            crashy.post("/api/query?format=json", json.dumps({"sql": q}).encode(), timeout=120)
        except Exception:
            pass  # the server died mid-request, as intended
        wait_for(lambda: crashy.proc.poll() is not None, "the crash")
        self.assertEqual(self.sql("SELECT count(*) FROM lakehouse_partitions"), "0")
        self.assertEqual(len(self.object_keys("views")), 1)  # the file without its row
        self.assertEqual(query(good, q), [[3000]])
        self.assert_rows_have_files()

    def gated(self):
        """A server whose deferred commits wait at a gate file (SL_LAKE_TEST_COMMIT_GATE)
        until the test creates it, and a plain one; a process loaded through the latter."""
        gdir = tempfile.mkdtemp(prefix="sl-multi-gate-")
        self.addCleanup(shutil.rmtree, gdir, True)
        gate = os.path.join(gdir, "open")
        (held,) = self.start(1, env={"SL_LAKE_TEST_COMMIT_GATE": gate})
        (other,) = self.start(1)
        pid = loadgen(other, threads=2)
        return held, other, pid, gate

    def partition_rows(self):
        return int(self.sql("SELECT count(*) FROM lakehouse_partitions"))

    def test_deferred_commit_is_seen_by_another_server_once_done(self):
        """A trace reads its JIT partitions from memory while their uploads and rows are
        committed in the background, under the partitions' locks: another server asking
        for them meanwhile waits for the locks and then reuses the committed rows."""
        held, other, pid, gate = self.gated()
        path = "/api/processes/%s/trace.pftrace" % pid
        st, _, trace = held.get(path, timeout=600)
        self.assertEqual(st, 200)
        pending = stats(held)["partitions"]
        self.assertGreater(pending["deferred_commits"], 0)
        self.assertEqual(pending["deferred_done"], 0)
        self.assertEqual(self.partition_rows(), 0)  # no row before its commit
        self.assertEqual(self.object_keys("views"), [])  # nor a file (the gate is first)
        built0 = stats(other)["partitions"]["built"]
        got = {}

        def read():
            got["r"] = other.get(path, timeout=600)

        t = threading.Thread(target=read)
        t.start()
        t.join(2)
        self.assertTrue(t.is_alive())  # waiting for the locks the committers hold
        open(gate, "w").close()
        t.join()
        self.assertEqual(got["r"][0], 200)
        self.assertEqual(got["r"][2], trace)
        self.assertEqual(stats(other)["partitions"]["built"], built0)  # built once, by held
        wait_for(lambda: stats(held)["partitions"]["deferred_done"] ==
                 pending["deferred_commits"], "the commits")
        self.assertEqual(self.partition_rows(), pending["deferred_commits"])
        self.assertEqual(stats(held)["partitions"]["deferred_failed"], 0)
        self.assert_rows_have_files()

    def test_sigkill_with_commits_pending_leaves_no_row(self):
        """A server killed with SIGKILL while its deferred commits wait leaves no row (and
        no row without its file); its locks die with its sessions, and another server
        builds the partitions again."""
        held, other, pid, gate = self.gated()
        path = "/api/processes/%s/trace.pftrace" % pid
        st, _, trace = held.get(path, timeout=600)
        self.assertEqual(st, 200)
        n = stats(held)["partitions"]["deferred_commits"]
        self.assertGreater(n, 0)
        held.kill()
        self.assertEqual(self.partition_rows(), 0)
        built0 = stats(other)["partitions"]["built"]
        st, _, again = other.get(path, timeout=600)
        self.assertEqual(st, 200)
        self.assertEqual(again, trace)
        self.assertEqual(stats(other)["partitions"]["built"] - built0, n)
        self.assertEqual(self.partition_rows(), n)
        self.assert_rows_have_files()

    def test_cached_lists_follow_blocks_another_server_adds(self):
        """A server's cached block and partition lists are checked against PostgreSQL's
        change stamps at every use: reused while nothing changed (hits), reloaded as
        soon as another server adds blocks (no missing rows)."""
        a, b = self.start(2)
        cap = tempfile.mkdtemp(prefix="sl-multi-cap-")
        self.addCleanup(shutil.rmtree, cap, True)
        # a 2 MB cap: the loadgen's pacing flushes (and so cuts the thread's blocks)
        # every quarter of it by count, not only when the collector's timer or a
        # quarter of a large ring says so (a loaded ASan run once cut one block)
        out = cli("loadgen", "--dir", cap, "--json", "--threads", "1", "--spans", "40000",
                  "--async", "5", "--logs", "5", "--metrics", "5", "--memory-mb", "2")
        self.assertEqual(out.returncode, 0, out.stderr)
        pid = json.loads(out.stdout.strip().splitlines()[-1])["process_id"]
        # the first half of the thread stream's blocks now, the rest later through the other
        # server (capture files: a stream's id at byte 16, a block's stream id at byte 32)
        first = os.path.join(cap, "first")
        shutil.copytree(os.path.join(cap, pid), os.path.join(first, pid))
        names = sorted(os.listdir(os.path.join(first, pid)))

        def head(f):
            with open(os.path.join(first, pid, f), "rb") as fh:
                return fh.read(4096)
        cpu_id = [head(f)[16:32] for f in names if f.endswith(".stream") and b"cpu" in head(f)]
        self.assertEqual(len(cpu_id), 1)
        blocks = [f for f in names if f.endswith(".block") and head(f)[32:48] == cpu_id[0]]
        self.assertGreaterEqual(len(blocks), 2)
        for f in blocks[(len(blocks) + 1) // 2:]:
            os.remove(os.path.join(first, pid, f))
        self.assertEqual(cli("import", first, "--server", a.url).returncode, 0)
        streams = b.get_json("/api/processes/%s/streams" % pid)
        sid = [s["stream_id"] for s in streams if "cpu" in s["tags"]][0]
        q = "SELECT count(*) FROM view_instance('thread_spans', '%s')" % sid
        partial = query(b, q)[0][0]
        self.assertLess(partial, 40000)
        hits = {k: v["hits"] for k, v in stats(b)["caches"].items()}
        self.assertEqual(query(b, q), [[partial]])
        caches = stats(b)["caches"]
        for name in ("block_lists", "partition_index"):
            self.assertGreater(caches[name]["hits"], hits[name], name)  # nothing changed
        self.assertEqual(cli("import", os.path.join(cap, pid), "--server", a.url).returncode,
                         0)
        self.assertEqual(query(b, q), [[40000]])  # at once: no stale list is used
        self.assertGreater(stats(b)["caches"]["block_lists"]["changed"], 0)
        self.assertEqual(query(a, q), [[40000]])

    def test_leader_killed_another_takes_over(self):
        servers = self.start(2)
        leader = wait_for(lambda: [s for s in servers if stats(s)["background"]["leader"]],
                          "a leader")
        self.assertEqual(len(leader), 1)
        other = [s for s in servers if s is not leader[0]][0]
        leader[0].kill()
        wait_for(lambda: stats(other)["background"]["leader"], "the takeover", timeout=60)
        self.assertIn("leads background work now", other.log_text())


class SharedJobs(Shared):
    def test_jobs_run_on_the_leader_and_move_with_it(self):
        """On a shared lake continuous jobs run on its leader only.  Another server
        refuses to define one, saying where to send it, and started again it does not
        run the leader's job (before, every server started every kept job, two of them
        writing one job's checkpoints).  When the leader is killed, the server that
        takes the lead resumes the job from its checkpoint in the shared bucket: each
        1 s window of the paced generator holds its 1,840 bids once, no window lost."""
        extra = ["--workers", "2", "--checkpoint-interval-ms", "300"]
        servers = self.start(2, extra=extra)
        leader = wait_for(lambda: [s for s in servers if stats(s)["background"]["leader"]],
                          "a leader")[0]
        other = [s for s in servers if s is not leader][0]
        src = ("CREATE TABLE bid (auction bigint, price bigint, date_time timestamp) WITH "
               "(connector = 'nexmark', kind = 'bid', rate = 2000)")
        view = ("CREATE MATERIALIZED VIEW per_sec AS SELECT window_start, count(*) AS n "
                "FROM tumble(bid, date_time, INTERVAL '1 second') GROUP BY window_start")
        st, _, body = other.post("/api/query?format=json", json.dumps({"sql": src}).encode())
        self.assertNotEqual(st, 200, body[:500])
        self.assertIn(b"does not lead it", body)
        self.assertIn(b"lake.background.leader", body)
        query(leader, src)
        query(leader, view)
        windows = "SELECT window_start::text, n FROM per_sec ORDER BY 1"
        wait_for(lambda: len(query(leader, windows)) >= 2, "closed windows on the leader")
        # a server started now does not run the leader's job (it leads nothing)
        other.kill()
        other = self.start(1, extra=extra)[0]
        self.assertEqual(query(other, "SELECT name FROM jobs"), [])
        self.assertFalse(stats(other)["background"]["leader"])
        before = query(leader, windows)
        leader.kill()
        wait_for(lambda: stats(other)["background"]["leader"], "the takeover", timeout=60)
        wait_for(lambda: query(other, "SELECT state FROM jobs WHERE name = 'per_sec'") ==
                 [["running"]], "the job running on the new leader")
        got = wait_for(lambda: (lambda r: r if len(r) >= len(before) + 3 else None)(
            query(other, windows)), "windows after the takeover")
        # (the jobs table says running as the job starts; its thread logs a moment later)
        self.assertTrue(other.wait_log("job per_sec: resuming from checkpoint"),
                        other.log_text()[-3000:])
        self.assertEqual(got[:len(before)], before)  # the checkpoint kept them
        self.assertEqual(got[0][0], "2024-01-01 00:00:00")
        starts = [r[0] for r in got]
        self.assertEqual(len(starts), len(set(starts)))
        for i, (ws, n) in enumerate(got):
            self.assertEqual(ws, "2024-01-01 00:00:%02d" % i if i < 60 else ws, got)
            self.assertEqual(n, 1840, got)


    def test_a_leader_that_loses_the_lead_halts_its_jobs_until_it_leads_again(self):
        """A server whose leader session ends while another holder takes the lock (here
        a psql session) halts its jobs, keeping their checkpoints, forgets them and
        refuses new ones; when it leads again it reads the definitions afresh and
        starts the jobs from their checkpoints: each 1 s window of the paced generator
        still holds its 1,840 bids once."""
        (srv,) = self.start(1, extra=["--workers", "2", "--checkpoint-interval-ms", "300"])
        wait_for(lambda: stats(srv)["background"]["leader"], "the lead")
        query(srv, "CREATE TABLE bid (auction bigint, price bigint, date_time timestamp) WITH "
              "(connector = 'nexmark', kind = 'bid', rate = 2000)")
        query(srv, "CREATE MATERIALIZED VIEW per_sec AS SELECT window_start, count(*) AS n "
              "FROM tumble(bid, date_time, INTERVAL '1 second') GROUP BY window_start")
        windows = "SELECT window_start::text, n FROM per_sec ORDER BY 1"
        wait_for(lambda: len(query(srv, windows)) >= 2, "closed windows")
        # the leader lock is pg_advisory_lock(0x534c4b45, 1): end its holder, take it
        lock = "1397508933, 1"
        holder = subprocess.Popen(
            ["psql", "-X", "-q", self.pg.url(self.db), "-c",
             "SET client_connection_check_interval = '100ms'; DO $$ BEGIN LOOP "
             "PERFORM pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
             "AND classid = 1397508933 AND objid = 1 AND granted AND pid <> "
             "pg_backend_pid(); EXIT WHEN pg_try_advisory_lock(%s); PERFORM pg_sleep(0.05); "
             "END LOOP; END $$; SELECT pg_sleep(60)" % lock],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            wait_for(lambda: query(srv, "SELECT name FROM jobs") == [] or
                     holder.poll() is not None, "the job halted", timeout=60)
            self.assertIsNone(holder.poll(), holder.stderr.read() if holder.poll() is not None
                              else "")
            self.assertEqual(query(srv, "SELECT name FROM jobs"), [])
            self.assertFalse(stats(srv)["background"]["leader"])
            st, _, body = srv.post("/api/query?format=json", json.dumps(
                {"sql": "CREATE MATERIALIZED VIEW v2 AS SELECT count(*) FROM bid"}).encode())
            self.assertNotEqual(st, 200, body[:500])
            self.assertIn(b"does not lead it", body)
            self.assertIn("no longer leads the lake", srv.log_text())
        finally:
            holder.kill()
            holder.wait()
            holder.stderr.close()
        wait_for(lambda: query(srv, "SELECT state FROM jobs") == [["running"]],
                 "the job running again", timeout=60)
        # (the jobs table says running as the job starts; its thread logs a moment later)
        self.assertTrue(srv.wait_log("job per_sec: resuming from checkpoint"),
                        srv.log_text()[-3000:])
        got = wait_for(lambda: (lambda r: r if len(r) >= 6 else None)(query(srv, windows)),
                       "windows after the lead came back")
        for i, (ws, n) in enumerate(got):
            self.assertEqual((ws, n), ("2024-01-01 00:00:%02d" % i, 1840), got)


class Materializer(Shared):
    def test_leader_keeps_global_views_built(self):
        servers = self.start(2, extra=["--materialize", "1h"])
        pid = loadgen(servers[1], threads=1)
        q = ("SELECT view_set_name FROM lakehouse_partitions WHERE view_instance_id = '%s'"
             " AND retired = 0 ORDER BY 1" % pid)
        # built by the leader in the background: no query asked for them
        wait_for(lambda: self.sql(q) == "log_entries\nmeasures", "the materializer")
        # the materializer may have run while loadgen was still sending: wait for the
        # partitions of everything sent, then nothing is left for queries to build
        wait_for(lambda: self.sql("SELECT sum(row_count) FROM lakehouse_partitions WHERE"
                                  " view_instance_id = '%s' AND retired = 0" % pid) == "50",
                 "the partitions of every row")
        figures = [stats(s)["materializer"] for s in servers]
        self.assertGreaterEqual(sum(f["partitions_built"] for f in figures), 2)
        self.assertGreater(sum(f["runs"] for f in figures), 0)
        built = sum(stats(s)["partitions"]["built"] for s in servers)
        got = [query(s, "SELECT count(*) FROM log_entries") for s in servers]
        self.assertEqual(got[0], [[30]])
        self.assertEqual(got[1], got[0])
        self.assertEqual(sum(stats(s)["partitions"]["built"] for s in servers), built)


class Retention(Shared):
    DAY = 86400 * 10**9

    def ingest(self, srv, end_time_ns):
        """One process, stream and block whose events end at end_time_ns."""
        pid, sid = uuid.uuid4(), uuid.uuid4()
        for path, msg in (("/ingestion/insert_process", sltest.process_msg(pid)),
                          ("/ingestion/insert_stream", sltest.stream_msg(sid, pid))):
            st, _, body = srv.post(path, msg)
            self.assertEqual(st, 200, body)
        body = sltest.span_body(50)
        blk = sltest.Block(sid, pid, body)
        blk.msg = sltest.block_msg(blk.block_id, sid, pid, blk.payload, body.n_events,
                                   body.min_ticks, body.max_ticks,
                                   begin_time_ns=end_time_ns - 10**9, end_time_ns=end_time_ns)
        st, _, out = srv.post("/ingestion/insert_block", blk.msg)
        self.assertEqual(st, 200, out)
        return str(pid), str(sid), blk

    def check(self, srv, payload_keys):
        now = time.time_ns()
        old = self.ingest(srv, now - 10 * self.DAY)
        new = self.ingest(srv, now + self.DAY)
        q = "SELECT count(*) FROM view_instance('thread_spans', '%s')"
        self.assertEqual(query(srv, q % old[1]), [[50]])  # built before it expires
        wait_for(lambda: stats(srv)["retention"]["blocks_deleted"] >= 1, "retention")
        # ingestion goes on meanwhile
        newer = self.ingest(srv, now + self.DAY)
        st = stats(srv)["retention"]
        self.assertEqual(st["blocks_deleted"], 1)
        self.assertEqual(st["payloads_deleted"], 1)
        keys = payload_keys()
        self.assertNotIn(old[2].key(), keys)
        self.assertIn(new[2].key(), keys)
        self.assertIn(newer[2].key(), keys)
        self.assertEqual(query(srv, q % new[1]), [[50]])
        self.assertEqual(query(srv, q % newer[1]), [[50]])
        self.assertEqual(query(srv, q % old[1]), [[0]])
        self.assertIn("retention: removed 1 blocks", srv.log_text())

    def test_postgres_and_s3(self):
        (srv,) = self.start(1, extra=["--retention", "5d"])
        self.check(srv, lambda: self.object_keys("blobs"))

    def test_sqlite_and_local(self):
        srv = Server(args=["--no-pg", "--retention", "5d"])
        self.servers.append(srv)
        self.check(srv, lambda: sltest.blob_files(srv.data_dir))

    def crash_mid_retention(self, srv, payload_keys, block_rows):
        """The server dies once retention has deleted a block's row and before its payload
        (SL_LAKE_CRASH): no row is left without its payload, and the next leader's sweep
        deletes the payload left without a row; the recent block keeps both."""
        now = time.time_ns()
        keep = self.ingest(srv, now + self.DAY)
        old = self.ingest(srv, now - 10 * self.DAY)
        self.assertEqual(srv.proc.wait(120), 137)  # the first retention pass, within 10 s
        srv.kill()
        self.assertIn("SL_LAKE_CRASH=retention_after_rows", srv.log_text())
        self.assertEqual(block_rows(), {str(keep[2].block_id)})
        self.assertIn(old[2].key(), payload_keys())
        os.environ["SL_LAKE_TEST_ORPHAN_GRACE_MS"] = "1000"
        try:
            srv.start()
        finally:
            del os.environ["SL_LAKE_TEST_ORPHAN_GRACE_MS"]
        wait_for(lambda: old[2].key() not in payload_keys(), "the payload sweep")
        self.assertIn(keep[2].key(), payload_keys())
        # the sweep logs once its deletions are done: the file may vanish first
        wait_for(lambda: "removed 1 payload(s) without a block row" in srv.log_text(),
                 "the sweep's log line")
        q = "SELECT count(*) FROM view_instance('thread_spans', '%s')"
        self.assertEqual(query(srv, q % keep[1]), [[50]])
        self.assertEqual(query(srv, q % old[1]), [[0]])

    def test_crash_mid_retention_postgres_and_s3(self):
        (srv,) = self.start(1, env={"SL_LAKE_CRASH": "retention_after_rows"},
                            extra=["--retention", "5d"])
        self.crash_mid_retention(srv, lambda: self.object_keys("blobs"), lambda: set(
            self.sql("SELECT block_id FROM blocks").split()))

    def test_crash_mid_retention_sqlite_and_local(self):
        os.environ["SL_LAKE_CRASH"] = "retention_after_rows"
        try:
            srv = Server(args=["--no-pg", "--retention", "5d"])
        finally:
            del os.environ["SL_LAKE_CRASH"]
        self.servers.append(srv)
        self.crash_mid_retention(srv, lambda: sltest.blob_files(srv.data_dir), lambda: {
            r["block_id"] for r in sltest.rows(srv.data_dir, "blocks")})

    def test_bad_durations_are_refused(self):
        for bad in ("30", "30x", "-1d", "+1d", "1.5d", " 1d", "0d", "d", "99999999999999d"):
            out = subprocess.run([sltest.binary(), "serve", "--retention", bad],
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 2, bad)
            self.assertIn("is not a duration", out.stderr)


if __name__ == "__main__":
    unittest.main()
