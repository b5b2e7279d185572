#!/usr/bin/python3
"""End-to-end tests of `streamlake serve`: a real server on a free loopback port,
real HTTP, an independent Python encoder of the block format.

Each test states a promise of the ingestion server and checks it the way a user
would notice: statuses and reasons over HTTP, rows in meta.sqlite, files under blobs/.
"""

import json
import os
import socket
import sys
import threading
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import Block, Server  # noqa: E402


def setup_process(srv, n_threads=1, exe="/usr/bin/app"):
    """Inserts a process and n thread streams; returns (process_id, [stream_id...])."""
    pid = uuid.uuid4()
    status, _, body = srv.post("/ingestion/insert_process", sltest.process_msg(pid, exe=exe))
    assert status == 200, (status, body)
    sids = []
    for i in range(n_threads):
        sid = uuid.uuid4()
        msg = sltest.stream_msg(sid, pid, tags=("cpu",),
                                props=(("thread-id", str(100 + i)), ("thread-name", "t%d" % i)))
        status, _, body = srv.post("/ingestion/insert_stream", msg)
        assert status == 200, (status, body)
        sids.append(sid)
    return pid, sids


class IngestTest(unittest.TestCase):
    def setUp(self):
        self.srv = Server(args=["--threads", "4"])

    def tearDown(self):
        self.srv.cleanup()

    def assert_nothing_stored(self, block_ids=()):
        d = self.srv.data_dir
        self.assertEqual(sltest.temp_files(d), [])
        stored = {r["block_id"] for r in sltest.rows(d, "blocks")}
        for b in block_ids:
            self.assertNotIn(str(b), stored)
            self.assertFalse(any(str(b) in f for f in sltest.blob_files(d)))

    def assert_refused(self, path, body, status, reason=None, **kw):
        got, headers, data = self.srv.post(path, body, **kw)
        self.assertEqual(got, status, data)
        text = data.decode()
        # One line: the reason, then a newline, nothing else.
        self.assertTrue(text.endswith("\n") and text.count("\n") == 1, repr(text))
        if reason:
            self.assertIn(reason, text)
        return headers

    def test_idempotent_resend(self):
        pid, (sid,) = setup_process(self.srv)
        blk = Block(sid, pid, sltest.span_body(500))
        for expect in ("inserted", "exists"):
            status, _, body = self.srv.post("/ingestion/insert_block", blk.msg)
            self.assertEqual(status, 200, body)
            self.assertEqual(json.loads(body)["status"], expect)
        blocks = sltest.rows(self.srv.data_dir, "blocks")
        self.assertEqual(len(blocks), 1)
        self.assertEqual(sltest.blob_files(self.srv.data_dir), [blk.key()])
        self.assertEqual(sltest.read_object(self.srv.data_dir, blk.key()),
                         blk.payload)  # stored verbatim
        # Process and stream re-sends are idempotent as well.
        status, _, _ = self.srv.post("/ingestion/insert_process", sltest.process_msg(pid))
        self.assertEqual(status, 200)
        self.assertEqual(len(sltest.rows(self.srv.data_dir, "processes")), 1)

    def test_unknown_stream_is_retryable(self):
        pid = uuid.uuid4()
        sid = uuid.uuid4()
        blk = Block(sid, pid, sltest.span_body(50))
        headers = self.assert_refused("/ingestion/insert_block", blk.msg, 409, str(sid))
        self.assertEqual(headers.get("retry-after"), "1")
        # A stream whose process is unknown: 409 too, naming the process.
        headers = self.assert_refused("/ingestion/insert_stream", sltest.stream_msg(sid, pid),
                                      409, str(pid))
        self.assertEqual(headers.get("retry-after"), "1")
        self.assert_nothing_stored([blk.block_id])
        self.assertEqual(self.srv.post("/ingestion/insert_process",
                                       sltest.process_msg(pid))[0], 200)
        self.assertEqual(self.srv.post("/ingestion/insert_stream",
                                       sltest.stream_msg(sid, pid))[0], 200)
        status, _, body = self.srv.post("/ingestion/insert_block", blk.msg)
        self.assertEqual(status, 200, body)
        self.assertEqual(sltest.blob_files(self.srv.data_dir), [blk.key()])

    def test_bad_input_stores_nothing(self):
        pid, (sid,) = setup_process(self.srv)
        body = sltest.span_body(200)
        good = Block(sid, pid, body)
        bid = good.block_id
        cases = []
        # Malformed: not a block message at all.
        cases.append(("garbage", b"\x00\x01hello" * 50, 400, "magic"))
        # Truncated: header only, and payload cut short.
        cases.append(("header only", good.msg[:100], 400, None))
        cases.append(("cut payload", good.msg[:-7], 400, None))
        # Unknown version of the message and of the payload.
        m = bytearray(good.msg)
        m[4] = 7
        cases.append(("message version", bytes(m), 400, "version"))
        pl = sltest.payload(body, bid, sid, pid, version=3)
        cases.append(("payload version",
                      sltest.block_msg(bid, sid, pid, pl, body.n_events, body.min_ticks,
                                       body.max_ticks), 400, "version"))
        # Mismatched ids: the payload names another block / stream / process.
        for label, ids in (("block id", (uuid.uuid4(), sid, pid)),
                           ("stream id", (bid, uuid.uuid4(), pid)),
                           ("process id", (bid, sid, uuid.uuid4()))):
            pl = sltest.payload(body, *ids)
            cases.append(("payload " + label,
                          sltest.block_msg(bid, sid, pid, pl, body.n_events, body.min_ticks,
                                           body.max_ticks), 400, "differ"))
        # Event count that disagrees with the payload.
        cases.append(("nb_objects",
                      sltest.block_msg(bid, sid, pid, good.payload, body.n_events + 1,
                                       body.min_ticks, body.max_ticks), 400, "nb_objects"))
        # A damaged event with a correct hash: the whole payload is checked.
        bad = sltest.span_body(200)
        bad.events[-1] = 9  # last event's descriptor index; only 0 exists
        pl = sltest.payload(bad, bid, sid, pid)
        cases.append(("bad event",
                      sltest.block_msg(bid, sid, pid, pl, bad.n_events, bad.min_ticks,
                                       bad.max_ticks), 400, "event"))
        # A body corrupted after hashing.
        m = bytearray(good.msg)
        m[-3] ^= 0xFF
        cases.append(("hash", bytes(m), 400, "hash"))
        for label, msg, status, reason in cases:
            with self.subTest(label):
                self.assert_refused("/ingestion/insert_block", msg, status, reason)
                self.assert_nothing_stored([bid])
        self.assertEqual(sltest.blob_files(self.srv.data_dir), [])
        # Bad process and stream messages too.
        self.assert_refused("/ingestion/insert_process", b"SLPR" + b"\x01" * 40, 400)
        self.assert_refused("/ingestion/insert_stream", sltest.stream_msg(sid, pid)[:-1], 400)
        self.assertEqual(len(sltest.rows(self.srv.data_dir, "processes")), 1)
        # After all that, the good block still goes in.
        self.assertEqual(self.srv.post("/ingestion/insert_block", good.msg)[0], 200)

    def test_conflicts_are_permanent_4xx(self):
        pid, (sid,) = setup_process(self.srv)
        first = Block(sid, pid, sltest.span_body(100))
        self.assertEqual(self.srv.post("/ingestion/insert_block", first.msg)[0], 200)
        # Same id, different content: 422, the stored block is untouched.
        other = Block(sid, pid, sltest.span_body(101), block_id=first.block_id)
        self.assert_refused("/ingestion/insert_block", other.msg, 422, "different content")
        self.assertEqual(sltest.read_object(self.srv.data_dir, first.key()), first.payload)
        self.assert_refused("/ingestion/insert_process",
                            sltest.process_msg(pid, exe="/other"), 422, "different content")
        self.assert_refused("/ingestion/insert_stream",
                            sltest.stream_msg(sid, pid, tags=("log",)), 422, "different content")
        # A block of process B naming a stream of process A.
        pid2, _ = setup_process(self.srv, 0, exe="/bin/b")
        stray = Block(sid, pid2, sltest.span_body(10))
        self.assert_refused("/ingestion/insert_block", stray.msg, 422, "belongs to process")
        self.assert_nothing_stored([stray.block_id])
        self.assertEqual(len(sltest.rows(self.srv.data_dir, "blocks")), 1)

    def test_over_cap_bodies(self):
        self.srv.cleanup()
        self.srv = Server(args=["--max-body-bytes", "65536"])
        pid, (sid,) = setup_process(self.srv)
        big = Block(sid, pid, sltest.span_body(20000))
        self.assertGreater(len(big.msg), 65536)
        self.assert_refused("/ingestion/insert_block", big.msg, 413, "cap")
        # No Content-Length (chunked): still capped, still 413, nothing kept.
        def chunks():
            for i in range(0, len(big.msg), 8192):
                yield big.msg[i:i + 8192]
        conn = sltest.http.client.HTTPConnection(self.srv.host, self.srv.port, timeout=60)
        conn.request("POST", "/ingestion/insert_block", body=chunks(), encode_chunked=True)
        r = conn.getresponse()
        self.assertEqual(r.status, 413)
        r.read()
        conn.close()
        self.assert_nothing_stored([big.block_id])
        self.assertEqual(sltest.blob_files(self.srv.data_dir), [])
        # A block under the cap still goes in.
        small = Block(sid, pid, sltest.span_body(100))
        self.assertEqual(self.srv.post("/ingestion/insert_block", small.msg)[0], 200)

    def test_inflight_budget(self):
        """Bodies in memory are bounded across connections: past it, 503 + Retry-After."""
        self.srv.cleanup()
        self.srv = Server(args=["--max-body-bytes", "65536", "--max-inflight-bytes", "65536"])
        pid, (sid,) = setup_process(self.srv)
        blk = Block(sid, pid, sltest.span_body(300))

        def open_a():
            # Connection A announces a 65000-byte body (nearly the whole budget), sends a part.
            a = socket.create_connection((self.srv.host, self.srv.port), timeout=30)
            a.sendall(b"POST /ingestion/insert_block HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Length: 65000\r\n\r\n" + b"\0" * 1000)
            return a

        a = open_a()
        # Wait until the server has taken A's budget, then B does not fit.
        deadline = sltest.time.monotonic() + 20
        while True:
            status, headers, body = self.srv.post("/ingestion/insert_block", blk.msg)
            if status == 503 or sltest.time.monotonic() > deadline:
                break
            # B fitted.  If A's headers arrived while B held budget, A was refused
            # (it has a reply waiting): open it again, or no B would ever be refused.
            if sltest.select.select([a], [], [], 0)[0]:
                a.close()
                a = open_a()
        self.assertEqual(status, 503, body)
        self.assertEqual(headers.get("retry-after"), "1")
        self.assertIn(b"busy", body)
        # A finishes (garbage: 400); its budget is returned and B goes in.
        a.sendall(b"\0" * 64000)
        reply = a.recv(4096)
        self.assertTrue(reply.startswith(b"HTTP/1.1 400"), reply)
        a.close()
        self.assertEqual(self.srv.post("/ingestion/insert_block", blk.msg)[0], 200)

    def test_nasty_http(self):
        srv = self.srv
        self.assertEqual(srv.get("/nope")[0], 404)
        self.assertEqual(srv.get("/ingestion/insert_block")[0], 405)
        self.assertEqual(srv.request("DELETE", "/api/processes")[0], 405)
        self.assertEqual(srv.request("BREW", "/health")[0], 405)
        self.assertEqual(srv.get("/api/processes/../../etc/passwd")[0], 404)
        self.assertEqual(srv.get("/api/processes/%s/streams" % uuid.uuid4())[0], 404)
        # A header far larger than the server's per-connection memory.
        try:
            status = srv.get("/health", headers={"X-Big": "a" * (1 << 20)})[0]
            self.assertGreaterEqual(status, 400)
        except (ConnectionError, sltest.http.client.HTTPException, OSError):
            pass  # closing the connection is an acceptable answer too
        # Raw garbage instead of HTTP, then a half request left hanging.
        for raw in (b"\x00\xff" * 1000 + b"\r\n\r\n", b"POST /ingestion/insert_block HTTP/1.1\r\n"):
            s = socket.create_connection((srv.host, srv.port), timeout=10)
            s.sendall(raw)
            s.close()
        # The server is still healthy and stored nothing.
        self.assertEqual(srv.get("/health")[0], 200)
        self.assertEqual(sltest.blob_files(srv.data_dir), [])

    def test_json_api(self):
        pid, sids = setup_process(self.srv, n_threads=2, exe="/opt/game/bin/game")
        log_sid = uuid.uuid4()
        self.assertEqual(self.srv.post("/ingestion/insert_stream",
                                       sltest.stream_msg(log_sid, pid, tags=("log",)))[0], 200)
        sizes = {}
        for i, sid in enumerate(sids):
            for j in range(i + 1):  # stream 0: 1 block, stream 1: 2 blocks
                blk = Block(sid, pid, sltest.span_body(10 * (j + 1)), object_offset=j)
                self.assertEqual(self.srv.post("/ingestion/insert_block", blk.msg)[0], 200)
                sizes[sid] = sizes.get(sid, 0) + len(blk.payload)
        procs = self.srv.get_json("/api/processes")
        self.assertEqual(len(procs), 1)
        p = procs[0]
        self.assertEqual(p["process_id"], str(pid))
        self.assertEqual(p["exe"], "/opt/game/bin/game")
        self.assertEqual(p["computer"], "box")
        self.assertEqual(p["username"], "ana")
        self.assertEqual(p["start_time"], "2023-11-14T22:13:20.000000000Z")
        self.assertEqual(p["thread_count"], 2)
        self.assertEqual(p["block_count"], 3)
        self.assertEqual(p["event_count"], 20 + 20 + 40)
        self.assertEqual(p["payload_bytes"], sum(sizes.values()))
        streams = self.srv.get_json("/api/processes/%s/streams" % pid)
        self.assertEqual(len(streams), 3)
        by_id = {s["stream_id"]: s for s in streams}
        s1 = by_id[str(sids[1])]
        self.assertEqual(s1["tags"], ["cpu"])
        self.assertEqual(s1["thread_id"], "101")
        self.assertEqual(s1["thread_name"], "t1")
        self.assertEqual(s1["block_count"], 2)
        self.assertEqual(s1["event_count"], 60)
        lg = by_id[str(log_sid)]
        self.assertEqual(lg["tags"], ["log"])
        self.assertIsNone(lg["thread_name"])
        self.assertEqual(lg["event_count"], 0)
        # The CLI shows the same numbers.
        out = sltest.subprocess.run([sltest.binary(), "processes", "--server", self.srv.url],
                                    capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(str(pid), out.stdout)
        self.assertIn("game", out.stdout)
        line = [l for l in out.stdout.splitlines() if str(pid) in l][0]
        self.assertEqual(line.split()[-5:-2], ["2", "80", "3"])  # threads, events, blocks
        out = sltest.subprocess.run([sltest.binary(), "processes", "--server", self.srv.url,
                                     "--json"], capture_output=True, text=True, timeout=60)
        self.assertEqual(json.loads(out.stdout)[0]["event_count"], 80)
        # No server there: a one-line error and exit code 1.
        self.srv.stop()
        out = sltest.subprocess.run([sltest.binary(), "processes", "--server", self.srv.url],
                                    capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 1)
        self.assertIn("streamlake processes:", out.stderr)

    def test_sigterm_stops_cleanly(self):
        pid, (sid,) = setup_process(self.srv)
        blk = Block(sid, pid, sltest.span_body(10))
        self.assertEqual(self.srv.post("/ingestion/insert_block", blk.msg)[0], 200)
        self.assertEqual(self.srv.stop(), 0, self.srv.log_text())
        self.srv.start()
        self.assertEqual(self.srv.get_json("/api/processes")[0]["block_count"], 1)


class CrashTest(unittest.TestCase):
    """Acknowledged means durable: kill -9 mid-stream, restart, everything acked is there."""

    def test_kill9_keeps_acknowledged_blocks(self):
        srv = Server(args=["--threads", "4"])
        try:
            self._run(srv)
        finally:
            srv.cleanup()

    def _run(self, srv):
        n_senders, per_sender = 4, 400
        pid, sids = setup_process(srv, n_threads=n_senders)
        bodies = [sltest.span_body(1000 + 100 * i) for i in range(n_senders)]
        acked, lock = [], threading.Lock()
        enough = threading.Event()

        def sender(i):
            conn = None
            for j in range(per_sender):
                blk = Block(sids[i], pid, bodies[i], object_offset=j)
                try:
                    if conn is None:
                        conn = sltest.http.client.HTTPConnection(srv.host, srv.port, timeout=30)
                    conn.request("POST", "/ingestion/insert_block", body=blk.msg)
                    r = conn.getresponse()
                    r.read()
                except (OSError, sltest.http.client.HTTPException):
                    return  # the server is gone
                if r.status == 200:
                    with lock:
                        acked.append(blk)
                        if len(acked) >= 60:
                            enough.set()

        threads = [threading.Thread(target=sender, args=(i,)) for i in range(n_senders)]
        for t in threads:
            t.start()
        enough.wait(120)
        srv.kill()  # SIGKILL while the senders are still sending
        for t in threads:
            t.join(60)
        self.assertGreaterEqual(len(acked), 60)
        self.assertLess(len(acked), n_senders * per_sender, "the kill came too late to matter")
        srv.start()
        d = srv.data_dir
        self.assertEqual(sltest.temp_files(d), [])  # startup removed any partial put
        stored = {r["block_id"]: r for r in sltest.rows(d, "blocks")}
        for blk in acked:
            self.assertIn(str(blk.block_id), stored)
            self.assertEqual(sltest.read_object(d, blk.key()), blk.payload)
        # Every stored object is whole: its size is what its header says.
        for rel in sltest.blob_files(d):
            data = sltest.read_object(d, rel)
            stored_size = int.from_bytes(data[80:84], "little")
            self.assertEqual(len(data), sltest.PAYLOAD_HDR + stored_size, rel)
            self.assertEqual(sltest.xxh3_64(data[96:]), int.from_bytes(data[88:96], "little"))
        # The API counts at least what was acknowledged, and exactly what has rows.
        p = srv.get_json("/api/processes")[0]
        self.assertGreaterEqual(p["block_count"], len(acked))
        self.assertEqual(p["block_count"], len(stored))
        self.assertEqual(p["event_count"], sum(r["nb_objects"] for r in stored.values()))
        # The server still ingests after the crash, including a re-send of an acked block.
        self.assertEqual(srv.post("/ingestion/insert_block", acked[0].msg)[0], 200)


if __name__ == "__main__":
    unittest.main(verbosity=2)
