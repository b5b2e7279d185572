"""End-to-end: the S3 object store (src/objstore/objstore_s3.c) against s3rver.

s3rver (npm, tests/node/s3_server.mjs) runs on 127.0.0.1 with a free port and its
own temp directory; everything it is asked to do goes through the wire as SigV4
requests:

  * the object-store contract, C level (tests/unit/objstore/s3_contract.c): put once /
    identical again / different -> EEXIST, get with caps, get_range, stat, delete, a
    listing of 1100 keys that crosses a continuation token, a multipart upload (the
    part size is set small with SL_S3_PART_BYTES), wrong credentials and a missing
    bucket refused at open;
  * `streamlake serve --objects s3://lake/PREFIX` fed by `streamlake import` of one
    loadgen capture, and a local-directory server fed the same capture: views, SQL
    and the Perfetto trace answer the same on both, the S3 server read its partitions
    with ranged GETs, and /api/stats shows the store's requests and the caches' hit
    rates;
  * errors: wrong credentials stop `serve` at start-up with the server's error code;
    s3rver stopped mid-run gives a request a clear error after the retries, the server
    stays up, and answers again once s3rver is back.

Only 127.0.0.1 is used; every process started here is stopped by its PID.
"""

import json
import os
import re
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import Server  # noqa: E402

NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "node")
BUCKET = "lake"
KEYS = {"AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER",
        "AWS_REGION": "us-east-1"}


class S3rver:
    """node s3_server.mjs on 127.0.0.1 (a free port unless one is given)."""

    def __init__(self, directory=None, port=0):
        self.dir = directory or tempfile.mkdtemp(prefix="sl-s3rver-")
        self.port = port
        self.proc = None
        self.start()

    def start(self):
        env = dict(os.environ, S3RVER_PORT=str(self.port))
        self.proc = subprocess.Popen(
            ["node", "--openssl-legacy-provider", os.path.join(NODE_DIR, "s3_server.mjs"),
             self.dir, BUCKET], cwd=NODE_DIR, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        fd = self.proc.stdout.fileno()
        line, deadline = b"", time.monotonic() + 60
        while not line.endswith(b"\n") and time.monotonic() < deadline:
            if not select.select([fd], [], [], deadline - time.monotonic())[0]:
                break
            c = os.read(fd, 1)
            if not c:
                break
            line += c
        m = re.match(r"s3rver: listening on 127\.0\.0\.1:(\d+)$", line.decode().strip())
        if not m:
            self.stop()
            raise RuntimeError("s3rver did not start: %r %r" % (line, self.proc.stderr.read()))
        self.port = int(m.group(1))

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc:
            self.proc.stdout.close()
            self.proc.stderr.close()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def cli(*args, timeout=600):
    return subprocess.run([sltest.binary()] + list(args), capture_output=True, text=True,
                          timeout=timeout)


def query(srv, sql):
    st, _, data = srv.post("/api/query?format=json", json.dumps({"sql": sql}).encode(),
                           timeout=600)
    assert st == 200, (st, data[:2000])
    lines = [json.loads(line) for line in data.decode().splitlines()]
    return [r for r in lines[1:] if not (isinstance(r, dict) and "end" in r)]  # no timings


class S3Env(unittest.TestCase):
    """s3rver for the class, and the AWS variables pointing at it (servers inherit them)."""

    @classmethod
    def setUpClass(cls):
        cls.s3 = S3rver()
        cls.saved = {k: os.environ.get(k) for k in list(KEYS) + ["AWS_ENDPOINT_URL",
                                                                   "SL_S3_PART_BYTES"]}
        os.environ.update(KEYS)
        os.environ["AWS_ENDPOINT_URL"] = cls.s3.endpoint

    @classmethod
    def tearDownClass(cls):
        cls.s3.cleanup()
        for k, v in cls.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    def prefix(self):
        return "s3://%s/t-%s" % (BUCKET, uuid.uuid4().hex[:12])


class Contract(S3Env):
    def test_every_operation_against_s3rver(self):
        exe = os.path.join(sltest.build_dir(), "tests", "unit", "objstore", "s3_contract")
        env = dict(os.environ, SL_TEST_S3_URL=self.prefix(), SL_S3_PART_BYTES=str(1 << 20))
        out = subprocess.run([exe], capture_output=True, text=True, timeout=900, env=env)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("10 passed, 0 failed", out.stdout)

    def test_every_operation_virtual_hosted(self):
        """The bucket in the host name (BUCKET.s3.localhost, which curl sends to loopback),
        as against AWS: the same contract holds, and an object put one way is read the
        other way (the contract's last case)."""
        exe = os.path.join(sltest.build_dir(), "tests", "unit", "objstore", "s3_contract")
        env = dict(os.environ, SL_TEST_S3_URL=self.prefix(), SL_S3_PART_BYTES=str(1 << 20),
                   SL_S3_ADDRESSING="virtual",
                   AWS_ENDPOINT_URL="http://s3.localhost:%d" % self.s3.port)
        out = subprocess.run([exe], capture_output=True, text=True, timeout=900, env=env)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("10 passed, 0 failed", out.stdout)


class EndToEnd(S3Env):
    def setUp(self):
        self.cap = tempfile.mkdtemp(prefix="sl-s3-cap-")
        self.addCleanup(shutil.rmtree, self.cap, True)
        # 40000 spans a thread: partition files of about 200 KB, past the 64 KiB tail
        # that a first read of a file fetches, so column chunks are fetched by range.
        out = cli("loadgen", "--dir", self.cap, "--json", "--threads", "3", "--spans", "40000",
                  "--depth", "5", "--async", "20", "--logs", "30", "--metrics", "20")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.pid = json.loads(out.stdout.strip().splitlines()[-1])["process_id"]
        common = ["--no-pg"]
        self.local = Server(args=common)
        self.addCleanup(self.local.cleanup)
        self.s3srv = Server(args=common + ["--objects", self.prefix()])
        self.addCleanup(self.s3srv.cleanup)
        for srv in (self.local, self.s3srv):
            out = cli("import", self.cap, "--server", srv.url)
            self.assertEqual(out.returncode, 0, out.stderr)

    def both(self, path):
        got = []
        for srv in (self.local, self.s3srv):
            st, _, body = srv.get(path, timeout=600)
            self.assertEqual(st, 200, body[:500])
            got.append(body)
        return got

    def partition_bytes(self, sid):
        con = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.s3srv.data_dir,
                                                             "meta.sqlite"), uri=True)
        try:
            return con.execute("SELECT sum(file_size) FROM lakehouse_partitions WHERE "
                               "view_instance_id = ? AND retired = 0", (sid,)).fetchone()[0]
        finally:
            con.close()

    def test_cold_trace_reads_ahead_and_commits_in_the_background(self):
        """A cold trace over S3 reads its payloads ahead when asked (each still downloaded
        once) and hands its partitions' uploads and rows to the background committers;
        once those are done, a restarted server reads the partitions from the bucket and
        needs no payload (a warm trace reads nothing ahead)."""
        self.s3srv.env = {"SL_LAKE_TRACE_OVERLAP": "all"}  # the read-ahead is opt-in
        self.s3srv.restart()
        streams = self.local.get_json("/api/processes/%s/streams" % self.pid)
        cpu = [s["stream_id"] for s in streams if "cpu" in s["tags"]]
        blocks = sum(int(query(self.local, "SELECT count(*) FROM blocks WHERE stream_id = '%s'"
                               % sid)[0][0]) for sid in cpu)
        gets0 = self.s3srv.get_json("/api/stats")["objstore"]["requests"]["get"]
        ta, tb = self.both("/api/processes/%s/trace.pftrace" % self.pid)
        self.assertEqual(ta, tb)
        st = self.s3srv.get_json("/api/stats")
        parts = st["lake"]["partitions"]
        self.assertGreater(parts["payloads_prefetched"], 0)
        self.assertEqual(st["objstore"]["requests"]["get"] - gets0, blocks)  # each once
        self.assertGreater(parts["deferred_commits"], 0)
        deadline = time.monotonic() + 120
        while (self.s3srv.get_json("/api/stats")["lake"]["partitions"]["deferred_done"] <
               parts["deferred_commits"]):
            self.assertLess(time.monotonic(), deadline, "deferred commits never ended")
            time.sleep(0.1)
        self.assertEqual(self.s3srv.get_json("/api/stats")["lake"]["partitions"]
                         ["deferred_failed"], 0)
        self.s3srv.restart()
        gets0 = self.s3srv.get_json("/api/stats")["objstore"]["requests"]["get"]
        st, _, again = self.s3srv.get("/api/processes/%s/trace.pftrace" % self.pid,
                                      timeout=600)
        self.assertEqual(st, 200)
        self.assertEqual(again, ta)
        warm = self.s3srv.get_json("/api/stats")
        self.assertEqual(warm["lake"]["partitions"]["built"], 0)
        self.assertEqual(warm["lake"]["partitions"]["payloads_prefetched"], 0)
        self.assertEqual(warm["objstore"]["requests"]["get"], gets0)  # no payload

    def test_views_sql_and_trace_match_the_local_store(self):
        streams = self.local.get_json("/api/processes/%s/streams" % self.pid)
        cpu = sorted(s["stream_id"] for s in streams if "cpu" in s["tags"])
        self.assertEqual(len(cpu), 3)
        # Built ahead, not read: what the query below downloads is its own reading.
        gets0 = self.s3srv.get_json("/api/stats")["objstore"]["requests"]["get"]
        for srv in (self.local, self.s3srv):
            st, _, body = srv.post("/api/materialize?process_id=%s" % self.pid, b"",
                                   timeout=600)
            self.assertEqual(st, 200, body[:300])
        # The cold build fetched each partition's payloads with GETs in flight together
        # and kept the files it wrote in its cache: no ranged GET of what it just put.
        built = self.s3srv.get_json("/api/stats")
        self.assertGreater(built["objstore"]["gets_in_flight_max"], 1)
        self.assertGreater(built["lake"]["partitions"]["files_kept_in_cache"], 0)
        self.assertEqual(built["objstore"]["requests"]["get_range"], 0)
        # Each payload was downloaded once, though async_events reads every thread block
        # its threads' thread_spans read too: the builds shared them.
        blocks = query(self.local, "SELECT count(*) FROM blocks WHERE process_id = '%s'"
                       % self.pid)[0][0]
        self.assertEqual(built["objstore"]["requests"]["get"] - gets0, int(blocks))
        self.assertGreater(built["lake"]["caches"]["payloads"]["hits"] +
                           built["lake"]["partitions"]["payloads_waited_for"], 0)
        self.s3srv.restart()  # empty caches: the query below reads from the bucket
        before = self.s3srv.get_json("/api/stats")["objstore"]
        sql = "SELECT max(depth) AS d, count(*) AS n FROM view_instance('thread_spans', '%s')"
        self.assertEqual(query(self.s3srv, sql % cpu[0]), [[4, 40000]])
        after = self.s3srv.get_json("/api/stats")["objstore"]
        self.assertEqual(after["requests"]["get"], before["requests"]["get"])  # never whole
        self.assertGreater(after["requests"]["get_range"], before["requests"]["get_range"])
        # the footer and one column's chunks: well under the file (11 columns)
        got = after["bytes_downloaded"] - before["bytes_downloaded"]
        self.assertLess(got, self.partition_bytes(cpu[0]))
        for sid in cpu:
            a, b = self.both("/api/views/thread_spans/%s?format=csv" % sid)
            self.assertEqual(a, b)
            self.assertEqual(len(a.decode().splitlines()), 40000 + 1)
        a, b = self.both("/api/views/async_events/%s?format=csv" % self.pid)
        self.assertEqual(a, b)
        sqls = ["SELECT name, count(*) AS n, sum(duration) AS d, max(depth) AS md "
                "FROM view_instance('thread_spans', '%s') GROUP BY name ORDER BY name" % cpu[0],
                "SELECT time, level, target, msg FROM log_entries ORDER BY time, msg",
                "SELECT time, name, value FROM measures ORDER BY time, name, value"]
        for sql in sqls:
            ra, rb = query(self.local, sql), query(self.s3srv, sql)
            self.assertEqual(ra, rb, sql)
            self.assertGreater(len(ra), 0, sql)
        ta, tb = self.both("/api/processes/%s/trace.pftrace" % self.pid)
        self.assertEqual(ta, tb)
        self.assertGreater(len(ta), 100000)
        st = self.s3srv.get_json("/api/stats")
        os_ = st["objstore"]
        self.assertEqual(os_["backend"], "s3")
        # Partitions were read through their footers and chunks, never whole.
        self.assertGreater(os_["requests"]["get_range"], 0)
        self.assertGreater(os_["requests"]["put"], 0)
        self.assertGreater(os_["bytes_downloaded"], 0)
        caches = st["lake"]["caches"]
        for c in caches.values():
            self.assertIn("hit_rate", c)
        # A second trace is served from the caches: hits, and no new ranged reads.
        before = st["objstore"]["requests"]["get_range"]
        self.both("/api/processes/%s/trace.pftrace" % self.pid)
        st2 = self.s3srv.get_json("/api/stats")
        self.assertEqual(st2["objstore"]["requests"]["get_range"], before)
        hits = sum(c["hits"] for c in st2["lake"]["caches"].values())
        self.assertGreater(hits, sum(c["hits"] for c in caches.values()))
        # A clean stop (under the sanitizers: no leak, no error report).
        self.assertEqual(self.s3srv.stop(), 0, self.s3srv.log_text()[-3000:])


class Errors(S3Env):
    def test_wrong_credentials_stop_serve_at_start(self):
        saved = os.environ["AWS_ACCESS_KEY_ID"]
        os.environ["AWS_ACCESS_KEY_ID"] = "NOT-A-KEY"
        try:
            with self.assertRaises(RuntimeError) as cm:
                Server(args=["--no-pg", "--objects", self.prefix()])
        finally:
            os.environ["AWS_ACCESS_KEY_ID"] = saved
        msg = str(cm.exception)
        self.assertIn("HTTP 403", msg)
        self.assertIn("InvalidAccessKeyId", msg)

    def test_flags_need_an_s3_url_and_keys_stay_off_the_command_line(self):
        out = cli("serve", "--objects", "/tmp/somewhere")
        self.assertEqual(out.returncode, 2)
        self.assertIn("s3://", out.stderr)
        out = cli("serve", "--s3-endpoint", self.s3.endpoint)
        self.assertEqual(out.returncode, 2)
        out = cli("serve", "--help")
        self.assertNotIn("--s3-secret", out.stdout)
        self.assertIn("AWS_SECRET_ACCESS_KEY", out.stdout)

    def test_s3rver_stopped_mid_run(self):
        s3 = S3rver()  # its own, so that stopping it leaves the class's alone
        self.addCleanup(s3.cleanup)
        cap = tempfile.mkdtemp(prefix="sl-s3-cap-")
        self.addCleanup(shutil.rmtree, cap, True)
        out = cli("loadgen", "--dir", cap, "--json", "--threads", "2", "--spans", "500")
        self.assertEqual(out.returncode, 0, out.stderr)
        pid = json.loads(out.stdout.strip().splitlines()[-1])["process_id"]
        srv = Server(args=["--no-pg", "--objects", self.prefix(), "--s3-endpoint",
                           s3.endpoint])
        self.addCleanup(srv.cleanup)
        self.assertEqual(cli("import", cap, "--server", srv.url).returncode, 0)
        port = s3.port
        s3.stop()
        # The partitions are not built yet: their payloads are in the stopped server.
        st, _, body = srv.get("/api/views/async_events/%s?format=csv" % pid, timeout=300)
        self.assertGreaterEqual(st, 500, body[:300])
        self.assertIn(b"cannot reach", body)
        self.assertIsNone(srv.proc.poll())
        self.assertEqual(srv.get("/health")[0], 200)
        stats = srv.get_json("/api/stats")["objstore"]
        self.assertGreater(stats["retries"], 0)
        self.assertGreater(stats["failures"], 0)
        # Back on the same port and directory: the same request now answers.
        s3.port = port
        s3.start()
        st, _, body = srv.get("/api/views/async_events/%s?format=csv" % pid, timeout=300)
        self.assertEqual(st, 200, body[:300])
        self.assertEqual(len(body.decode().splitlines()), 2 * 100 * 2 + 1)
        self.assertEqual(srv.stop(), 0, srv.log_text()[-3000:])


if __name__ == "__main__":
    unittest.main(verbosity=2)
