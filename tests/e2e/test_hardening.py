#!/usr/bin/python3
"""Regression tests for what an outside test of the server found (issue 12).

Each test reproduces one finding against a real server on a free loopback port
(or the CLI) and checks the behaviour a user expects instead:

  * times past 2262 or before 1677 mean "no bound" instead of wrapping; invalid
    RFC 3339 (Feb 31, +99:99, a date alone) is a 400 naming the field, in the API
    and the CLI alike; a time_range of the wrong JSON type is refused;
  * process clocks that cannot be converted, and blocks whose ticks or event ids
    overflow, are refused at ingestion;
  * ids in upper or mixed case name the same instance (one set of partitions),
    and a %00 in a path is refused, not cut;
  * a stream nested 70,000 deep builds; one nested past the limit fails alone,
    reported for its process and view, while everything else is built;
  * a request line with thousands of query parameters gets 414 at once;
  * a read-only data directory is reported as such; serve checks --listen before
    it creates the data directory;
  * damaged partition files are errors with a reason (page CRCs, footers), never
    "ok" and never different rows;
  * blocks of one stream whose times overlap keep their thread in traces;
  * loadgen paces itself so nothing is dropped, and says so when it was.
"""

import csv
import glob
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "perfetto"))
import pfcheck  # noqa: E402
import sltest  # noqa: E402
from sltest import Block, Body, Server  # noqa: E402

FAR_END = "9999-12-31T23:59:59Z"
FAR_BEGIN = "0000-01-01T00:00:00Z"


def post_ok(srv, path, msg):
    status, _, body = srv.post(path, msg)
    assert status == 200, (path, status, body)


def new_process(srv, n_threads=1, **kw):
    pid = uuid.uuid4()
    post_ok(srv, "/ingestion/insert_process", sltest.process_msg(pid, **kw))
    sids = []
    for i in range(n_threads):
        sid = uuid.uuid4()
        post_ok(srv, "/ingestion/insert_stream",
                sltest.stream_msg(sid, pid, props=(("thread-id", str(10 + i)),
                                                   ("thread-name", "t%d" % i))))
        sids.append(sid)
    return pid, sids


def nested_body(depth, close=False, first_tick=100):
    """`depth` nested begins (then their ends, innermost first, when close)."""
    b = Body()
    d = b.desc(sltest.DESC_SPAN, "deep", line=7)
    t = first_tick
    for _ in range(depth):
        b.event(sltest.EV_SPAN_BEGIN, t, d)
        t += 1
    for _ in range(depth if close else 0):
        b.event(sltest.EV_SPAN_END, t, d)
        t += 1
    return b


def view_rows(srv, view, instance, query=""):
    status, _, body = srv.get("/api/views/%s/%s?format=csv%s" % (view, instance, query),
                              timeout=600)
    assert status == 200, (status, body[:300])
    return list(csv.DictReader(io.StringIO(body.decode())))


def cli(*args, timeout=600):
    return subprocess.run([sltest.binary()] + list(args), capture_output=True, text=True,
                          timeout=timeout)


partition_rows = sltest.partition_rows


def trace_bytes(srv, pid, query=""):
    status, _, body = srv.get("/api/processes/%s/trace.pftrace%s" % (pid, query), timeout=600)
    assert status == 200, (status, body[:300])
    return body


def slices_of(data):
    summary = pfcheck.check(data)
    assert not summary["problems"], summary["problems"][:5]
    return summary


class Hardening(unittest.TestCase):
    def setUp(self):
        self.srv = Server(args=["--threads", "4"])
        self.addCleanup(self.srv.cleanup)

    def spans_process(self, n_threads=2, pairs=300):
        pid, sids = new_process(self.srv, n_threads)
        for i, sid in enumerate(sids):
            post_ok(self.srv, "/ingestion/insert_block",
                    Block(sid, pid, sltest.span_body(pairs, first_tick=100 + i)).msg)
        return pid, sids

    # ---------------------------------------------------------------- 2. times

    def test_far_times_mean_no_bound(self):
        pid, sids = self.spans_process()
        sid = str(sids[0])
        all_rows = view_rows(self.srv, "thread_spans", sid)
        self.assertEqual(len(all_rows), 300)
        for q in ("&end=" + FAR_END, "&begin=" + FAR_BEGIN,
                  "&begin=%s&end=%s" % (FAR_BEGIN, FAR_END),
                  "&end=99999999999999999999999"):
            self.assertEqual(view_rows(self.srv, "thread_spans", sid, q), all_rows, q)
        whole = slices_of(trace_bytes(self.srv, pid))["slices_total"]
        self.assertEqual(whole, 600)
        far = slices_of(trace_bytes(self.srv, pid, "?end=" + FAR_END))["slices_total"]
        self.assertEqual(far, whole)
        status, _, body = self.srv.post("/api/perfetto/%s/generate" % pid,
                                        json.dumps({"time_range": {"end": FAR_END}}))
        self.assertEqual(status, 200, body[:200])
        # The CLI follows the same rule.
        out = cli("view", "thread_spans", sid, "--server", self.srv.url, "--format", "csv",
                  "--end", FAR_END)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(list(csv.DictReader(io.StringIO(out.stdout))), all_rows)

    def test_invalid_times_are_refused_naming_the_field(self):
        pid, sids = self.spans_process(1, 10)
        bad = ["2026-02-31T00:00:00Z", "2026-11-22T05:07:00+99:99", "2026-11-22",
               "2026-11-22T05:07:00", "2023-02-29T01:00:00Z", "2026-11-22T25:00:00Z"]
        for field in ("begin", "end"):
            for t in bad:
                for path in ("/api/views/thread_spans/%s?%s=%s" % (sids[0], field, t),
                             "/api/processes/%s/trace.pftrace?%s=%s" % (pid, field, t)):
                    status, _, body = self.srv.get(path)
                    self.assertEqual(status, 400, (path, body))
                    self.assertIn(field, body.decode(), path)
        for body, field in ((b'{"time_range": "yesterday"}', "time_range"),
                            (b'{"time_range": 5}', "time_range"),
                            (b'{"time_range": [1, 2]}', "time_range"),
                            (b'{"time_range": {"begin": true}}', "time_range.begin"),
                            (b'{"time_range": {"end": "2026-02-31T00:00:00Z"}}',
                             "time_range.end"),
                            (b'{"time_range": {"end": "2026-11-22T05:07:00Z\\u0000x"}}',
                             "time_range.end")):
            status, _, reply = self.srv.post("/api/perfetto/%s/generate" % pid, body)
            self.assertEqual(status, 400, (body, reply))
            self.assertIn(field, reply.decode(), body)
        out = cli("view", "thread_spans", str(sids[0]), "--server", self.srv.url,
                  "--end", "2026-02-31T00:00:00Z")
        self.assertEqual(out.returncode, 2, out.stderr)
        out = cli("trace", str(pid), "-o", os.devnull, "--server", self.srv.url,
                  "--begin", "2026-11-22T05:07:00+99:99")
        self.assertEqual(out.returncode, 2, out.stderr)

    def test_clocks_that_overflow_are_refused(self):
        def refused(msg, what):
            status, _, body = self.srv.post("/ingestion/insert_process", msg)
            self.assertEqual(status, 400, body)
            self.assertIn(what, body.decode())
        refused(sltest.process_msg(uuid.uuid4(), tsc_frequency=1), "tsc_frequency")
        refused(sltest.process_msg(uuid.uuid4(), start_time_ns=2**63 - 10), "start_time_ns")
        refused(sltest.process_msg(uuid.uuid4(), start_time_ns=-5), "start_time_ns")
        # A valid slow clock, then a block whose ticks land past 2262.
        pid, (sid,) = new_process(self.srv, 1, tsc_frequency=1000,
                                  start_time_ns=7_000_000_000_000_000_000)
        body = sltest.span_body(2, first_tick=10**15)
        status, _, reply = self.srv.post("/ingestion/insert_block", Block(sid, pid, body).msg)
        self.assertEqual(status, 400, reply)
        self.assertIn("ticks", reply.decode())
        # Event ids (object_offset + index) may not pass 2^63 - 1.
        pid, (sid,) = new_process(self.srv, 1)
        blk = Block(sid, pid, sltest.span_body(2), object_offset=2**63 - 2)
        status, _, reply = self.srv.post("/ingestion/insert_block", blk.msg)
        self.assertEqual(status, 400, reply)
        self.assertIn("object_offset", reply.decode())
        self.assertEqual(sltest.rows(self.srv.data_dir, "blocks"), [])

    # ---------------------------------------------------------------- 3. ids

    def test_ids_in_any_case_name_one_instance(self):
        pid, sids = self.spans_process(1, 50)
        logs = Body()
        d = logs.desc(sltest.DESC_LOG, "hello", level=3)
        for i in range(20):
            logs.event(sltest.EV_LOG, 100 + i, d)
        lsid = uuid.uuid4()
        post_ok(self.srv, "/ingestion/insert_stream", sltest.stream_msg(lsid, pid, tags=("log",)))
        post_ok(self.srv, "/ingestion/insert_block", Block(lsid, pid, logs).msg)
        sid = str(sids[0])
        lower = view_rows(self.srv, "thread_spans", sid)
        self.assertEqual(len(lower), 50)
        self.assertEqual(view_rows(self.srv, "thread_spans", sid.upper()), lower)
        p = str(pid)
        spellings = [p, p.upper()] + [
            "".join(c.upper() if (i >> k) & 1 else c for k, c in enumerate(p))
            for i in (1, 2, 5, 9, 77, 1234)]
        got = [view_rows(self.srv, "log_entries", s) for s in spellings]
        self.assertEqual(len(got[0]), 20)
        for g in got:
            self.assertEqual(g, got[0])
        instances = {(v, i) for v, i, _ in partition_rows(self.srv.data_dir)}
        self.assertEqual({i for v, i in instances if v == "log_entries"}, {p})
        self.assertEqual({i for v, i in instances if v == "thread_spans"}, {sid})
        self.assertEqual(len([1 for v, _, _ in partition_rows(self.srv.data_dir)
                              if v == "log_entries"]), 1)
        # A NUL is never taken as the end of an id.
        for path in ("/api/views/processes/global%00x", "/api/views/log_entries/%s%%00" % p,
                     "/api/views/thread_spans/%s%%00abc" % sid):
            status, _, body = self.srv.get(path)
            self.assertEqual(status, 400, (path, body))

    # ---------------------------------------------------------------- 4. one bad process

    def test_deep_nesting_builds_and_past_the_limit_fails_alone(self):
        healthy, hsids = self.spans_process(2, 100)
        deep, (dsid,) = new_process(self.srv, 1)
        post_ok(self.srv, "/ingestion/insert_block", Block(dsid, deep, nested_body(70000)).msg)
        status, _, body = self.srv.post("/api/materialize", b"", timeout=900)
        self.assertEqual(status, 200, body)
        rep = json.loads(body)
        self.assertEqual(rep["failed"], 0, rep)
        rows = view_rows(self.srv, "thread_spans", str(dsid))
        self.assertEqual(len(rows), 70000)
        self.assertEqual(max(int(r["depth"]) for r in rows), 69999)
        summary = slices_of(trace_bytes(self.srv, deep))
        self.assertEqual(summary["slices_total"], 70000)
        # Past the limit (2^20 open spans) only that thread's view fails.
        toodeep, (tsid, okid) = new_process(self.srv, 2)
        post_ok(self.srv, "/ingestion/insert_block",
                Block(tsid, toodeep, nested_body((1 << 20) + 5)).msg)
        post_ok(self.srv, "/ingestion/insert_block",
                Block(okid, toodeep, sltest.span_body(40)).msg)
        status, _, body = self.srv.post("/api/materialize", b"", timeout=900)
        self.assertEqual(status, 200, body)
        rep = json.loads(body)
        self.assertEqual(rep["failed"], 1, rep)
        (f,) = rep["failures"]
        self.assertEqual((f["process_id"], f["view"], f["instance"]),
                         (str(toodeep), "thread_spans", str(tsid)))
        self.assertIn("nested", f["message"])
        built = {(v, i) for v, i, _ in partition_rows(self.srv.data_dir)}
        for sid in hsids + [okid, dsid]:
            self.assertIn(("thread_spans", str(sid)), built)
        self.assertIn(("async_events", str(toodeep)), built)
        self.assertEqual(len(view_rows(self.srv, "thread_spans", str(okid))), 40)
        # The CLI on the data directory says the same and exits 1, having built the rest.
        self.srv.stop()
        out = cli("materialize", "--data", self.srv.data_dir)
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertIn(str(tsid), out.stderr)
        self.assertIn("nested", out.stderr)
        self.assertIn("could not be built", out.stdout)
        self.srv.start()
        # A trace of that process still has its healthy thread, and names the failure.
        data = trace_bytes(self.srv, toodeep, "?kinds=thread")
        self.assertGreaterEqual(slices_of(data)["slices_total"], 40)

    # ---------------------------------------------------------------- 5. smaller ones

    def test_thousands_of_query_parameters_get_414(self):
        q = "&".join("a%d=1" % i for i in range(5000))
        for path in ("/health?" + q, "/api/processes?" + q, "/api/views/processes/global?" + q):
            s = socket.create_connection((self.srv.host, self.srv.port), timeout=60)
            s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
            reply = s.recv(4096).decode(errors="replace")
            s.close()
            self.assertTrue(reply.startswith("HTTP/1.1 414"), reply[:200])
            self.assertIn("bytes", reply)
        q = "&".join("a%d=1" % i for i in range(100))
        status, _, body = self.srv.get("/health?" + q)
        self.assertEqual(status, 414, body)
        self.assertIn("query parameters", body.decode())
        status, _, _ = self.srv.get("/health?a=1&b=2")
        self.assertEqual(status, 200)

    def test_damaged_partitions_are_errors_with_a_reason(self):
        pid, sids = self.spans_process(1, 3000)
        sid = str(sids[0])
        good = view_rows(self.srv, "thread_spans", sid)
        self.srv.stop()
        (path,) = glob.glob(os.path.join(self.srv.data_dir, "views", "thread_spans", sid, "*"))
        with open(path, "rb") as f:
            orig = f.read()
        flen = int.from_bytes(orig[-8:-4], "little")
        damages = {
            "page byte": lambda b: b[:40] + bytes([b[40] ^ 0x5A]) + b[41:],
            "footer length": lambda b: b[:-8] + (len(b) * 3).to_bytes(4, "little") + b[-4:],
            "footer zeroed": lambda b: b[:-8 - flen] + bytes(flen) + b[-8:],
            "footer truncated": lambda b: b[:-8 - flen // 2] + b[-8:],
            "magic": lambda b: b[:-4] + b"PAR2",
            "row count": lambda b: b[:-8 - flen + 20] + b"\xff\xff\xff\x7f" +
            b[-8 - flen + 24:],
        }
        for i in range(200):  # and a spread of single-byte changes through the footer
            k = len(orig) - 8 - flen + (i * 7919) % flen
            damages["footer byte %d" % k] = (
                lambda b, k=k, i=i: b[:k] + bytes([(b[k] + 1 + i) % 256]) + b[k + 1:])
        for name, damage in damages.items():
            with open(path, "wb") as f:
                f.write(damage(orig))
            out = cli("view", "thread_spans", sid, "--data", self.srv.data_dir,
                      "--format", "csv")
            msg = out.stderr.strip()
            if out.returncode == 0:
                # A change the reader cannot see (a statistic, a name) may still read,
                # but never as other rows than the file holds.
                self.assertEqual(list(csv.DictReader(io.StringIO(out.stdout))), good, name)
                continue
            self.assertEqual(out.returncode, 1, (name, msg))
            self.assertTrue(msg and not msg.endswith("ok") and ": " in msg, (name, msg))
            if name == "page byte":
                self.assertIn("CRC", msg)
        with open(path, "wb") as f:
            f.write(orig)

    def test_overlapping_blocks_keep_their_thread(self):
        pid, (sid, other) = new_process(self.srv, 2)
        first = Block(sid, pid, sltest.span_body(200, first_tick=1000), object_offset=0)
        # The next block of the same stream starts before the first one ends.
        second = Block(sid, pid, sltest.span_body(200, first_tick=1500), object_offset=400)
        for b in (first, second, Block(other, pid, sltest.span_body(10))):
            post_ok(self.srv, "/ingestion/insert_block", b.msg)
        rows = view_rows(self.srv, "thread_spans", str(sid))
        self.assertEqual(len(rows), 400)
        begins = [r["begin"] for r in rows]
        self.assertEqual(begins, sorted(begins))
        summary = slices_of(trace_bytes(self.srv, pid, "?kinds=thread"))
        self.assertEqual(summary["slices_total"], 410)
        threads = [t for t in summary["tracks"] if t["kind"] == "thread"]
        self.assertEqual(sorted(t["slices"] for t in threads), [10, 400])

    def test_serve_checks_the_address_before_the_data_directory(self):
        d = tempfile.mkdtemp(prefix="sl-hard-")
        target = os.path.join(d, "never-created")
        try:
            for listen in ("127.0.0.1:%d" % self.srv.port, "10.255.255.1:1", "nowhere:1"):
                out = cli("serve", "--data", target, "--listen", listen, timeout=60)
                self.assertNotEqual(out.returncode, 0, listen)
                self.assertIn("listen", out.stderr)
                self.assertFalse(os.path.exists(target), listen)
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_read_only_data_directory_says_so(self):
        d = tempfile.mkdtemp(prefix="sl-ro-")
        self.addCleanup(shutil.rmtree, d, True)
        data = os.path.join(d, "data")
        # An existing store on a file system that became read-only: a private mount
        # namespace (unshare) gives a real read-only mount without touching the host.
        first = Server(data_dir=data)
        first.stop()
        script = ("mount --bind %s %s && mount -o remount,bind,ro %s && exec %s serve "
                  "--data %s --listen 127.0.0.1:0" % (data, data, data, sltest.binary(), data))
        out = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True,
                             text=True, timeout=60)
        if "mount" in out.stderr and "serve" not in out.stderr:
            self.skipTest("cannot make a read-only mount here: " + out.stderr.strip())
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("Read-only file system", out.stderr)
        self.assertNotIn("in use by another process", out.stderr)

    def test_loadgen_delivers_everything_or_says_it_did_not(self):
        out = cli("loadgen", "--server", self.srv.url, "--threads", "16", "--spans", "60000",
                  "--work", "0", "--async", "10", "--json")
        self.assertEqual(out.returncode, 0, out.stderr)
        rep = json.loads(out.stdout.strip().splitlines()[-1])
        self.assertEqual(rep["library"]["dropped"], 0)
        self.assertEqual(rep["library"]["delivered"], rep["total_events"] +
                         rep["library"]["library_events"])
        # A cap too small for the threads: events are dropped, and the exit code says so.
        args = ["loadgen", "--server", self.srv.url, "--threads", "64", "--spans", "3000",
                "--work", "0", "--memory-mb", "1", "--json"]
        out = cli(*args)
        rep = json.loads(out.stdout.strip().splitlines()[-1])
        self.assertGreater(rep["library"]["dropped"], 0)
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertIn("dropped", out.stderr)
        out = cli(*(args + ["--overload"]))
        self.assertEqual(out.returncode, 0, out.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
