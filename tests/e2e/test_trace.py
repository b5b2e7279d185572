#!/usr/bin/python3
"""End-to-end tests of Perfetto traces: a real server, `streamlake loadgen` as the
traced program, `streamlake trace` and the two HTTP routes as clients.

Traces are checked with `protoc --decode` against the project's .proto subset and
with tests/perfetto/pfcheck.py, an independent decoder that applies the format's
rules (interning, sequences, per-track order, nesting) and compares the trace with
what the program recorded.
"""

import csv
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "perfetto"))
import pfcheck  # noqa: E402
import pfframes  # noqa: E402
import sltest  # noqa: E402
from sltest import Server  # noqa: E402

PROTO_DIR = os.path.join(HERE, "..", "..", "src", "perfetto")


def loadgen(url, *args):
    out = subprocess.run([sltest.binary(), "loadgen", "--json", "--server", url] + list(args),
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def trace_cli(srv, pid, *args):
    """Runs `streamlake trace`; returns (exit code, trace bytes or None, stderr)."""
    fd, path = tempfile.mkstemp(suffix=".pftrace")
    os.close(fd)
    try:
        out = subprocess.run([sltest.binary(), "trace", pid, "-o", path, "--server", srv.url]
                             + list(args), capture_output=True, text=True, timeout=600)
        data = None
        if out.returncode in (0, 3):
            with open(path, "rb") as f:
                data = f.read()
        return out.returncode, data, out.stderr
    finally:
        os.unlink(path)


def cpu_streams(srv, pid):
    return [s for s in srv.get_json("/api/processes/%s/streams" % pid) if "cpu" in s["tags"]]


def ns(rfc3339):
    import calendar
    date, frac = rfc3339.rstrip("Z").split(".")
    return calendar.timegm(time.strptime(date, "%Y-%m-%dT%H:%M:%S")) * 10**9 + \
        int(frac.ljust(9, "0"))


def view_csv(srv, view, instance, query=""):
    status, _, body = srv.get("/api/views/%s/%s?format=csv%s" % (view, instance, query))
    assert status == 200, body
    return list(csv.DictReader(io.StringIO(body.decode())))


def async_slices(srv, pid):
    """The process's async spans from the async_events view, as pfcheck's slices."""
    begins, out = {}, []
    for r in view_csv(srv, "async_events", pid):
        if r["event_type"] == "begin":
            begins[r["span_id"]] = r
        else:
            b = begins.pop(r["span_id"])
            out.append([ns(b["time"]), ns(r["time"]), b["name"], b["target"], b["filename"],
                        int(b["line"])])
    return out


def check(data, expect=None):
    summary = pfcheck.check(data, expect)
    assert not summary["problems"], summary["problems"][:5]
    return summary


class TraceTest(unittest.TestCase):
    def setUp(self):
        self.srv = Server()
        self.addCleanup(self.srv.cleanup)

    def process(self, threads=6, spans=4000, asyncs=30, depth=5):
        rep = loadgen(self.srv.url, "--threads", str(threads), "--spans", str(spans),
                      "--depth", str(depth), "--async", str(asyncs), "--logs", "5",
                      "--metrics", "5")
        return rep["process_id"], rep

    def test_trace_holds_what_the_program_recorded(self):
        pid, rep = self.process()
        code, data, err = trace_cli(self.srv, pid)
        self.assertEqual(code, 0, err)
        self.assertIn("6 threads", err)
        proc = [p for p in self.srv.get_json("/api/processes") if p["process_id"] == pid][0]
        threads = [{"tid": int(s["thread_id"]), "name": s["thread_name"],
                    "pid": int(proc["properties"]["pid"]), "slices": 4000}
                   for s in cpu_streams(self.srv, pid)]
        expect = {"process": {"pid": int(proc["properties"]["pid"]), "name": "streamlake"},
                  "threads": threads,
                  "async": {"slices": async_slices(self.srv, pid)},
                  "names_include": ["task-0", "update", "physics", "request", "fetch"],
                  "slices_total": 6 * 4000 + 6 * 30}
        summary = check(data, expect)
        self.assertEqual(summary["slices_total"], 6 * 4000 + 6 * 30)
        self.assertIn("loadgen.sim", summary["interned"]["categories"])
        # protoc decodes it with the project's subset of the format.
        with tempfile.NamedTemporaryFile(suffix=".pftrace") as f:
            f.write(data)
            f.flush()
            with open(f.name, "rb") as inp:
                out = subprocess.run(["protoc", "--decode=perfetto.protos.Trace",
                                      "-I", PROTO_DIR, "perfetto_subset.proto"], stdin=inp,
                                     capture_output=True, timeout=300)
        self.assertEqual(out.returncode, 0, out.stderr.decode())
        text = out.stdout.decode()
        self.assertIn('process_name: "streamlake"', text)
        for t in threads:
            self.assertIn('thread_name: "%s"' % t["name"], text)

    def test_frame_stream_reassembles_to_the_cli_trace(self):
        pid, _ = self.process(threads=4, spans=3000)
        code, cli, err = trace_cli(self.srv, pid)
        self.assertEqual(code, 0, err)
        status, headers, body = self.srv.post("/api/perfetto/%s/generate" % pid,
                                              json.dumps({"include_thread_spans": True,
                                                          "include_async_spans": True}).encode())
        self.assertEqual(status, 200)
        parts = pfframes.parse(body)
        self.assertEqual(parts["trace"], cli)  # byte for byte
        self.assertIn("summary", parts)
        self.assertEqual(parts["summary"]["bytes"], len(cli))
        kinds = [p["kind"] for p in parts["progress"]]
        self.assertEqual(kinds[0], "start")
        self.assertEqual(kinds.count("thread"), 4)
        # The plain download is the same trace too.
        status, headers, plain = self.srv.get("/api/processes/%s/trace.pftrace" % pid)
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/octet-stream")
        self.assertIn("attachment", headers["content-disposition"])
        self.assertEqual(plain, cli)

    def test_a_thread_that_cannot_be_read_is_reported_not_hidden(self):
        pid, _ = self.process(threads=3, spans=2000, asyncs=0)
        bad = cpu_streams(self.srv, pid)[1]
        # Damage that thread's stored payload before anything reads it.
        key = sltest.object_keys(self.srv.data_dir,
                                 "blobs/%s/%s/" % (pid, bad["stream_id"]))[0]
        data = sltest.read_object(self.srv.data_dir, key)
        sltest.overwrite_object(self.srv.data_dir, key, data[:-2] + b"\xff\xff")
        code, data, err = trace_cli(self.srv, pid)
        self.assertEqual(code, 3, err)  # written, but incomplete: says so
        self.assertIn("could not be read", err)
        self.assertIn(bad["thread_name"], err)
        summary = check(data)  # still a valid trace
        self.assertEqual(summary["slices_total"], 2 * 2000)
        status, _, body = self.srv.post("/api/perfetto/%s/generate" % pid, b"")
        parts = pfframes.parse(body)
        self.assertEqual(parts["summary"]["threads_failed"], 1)
        self.assertTrue(any(p["kind"] == "failure" for p in parts["progress"]))

    def test_errors(self):
        pid, _ = self.process(threads=1, spans=10)
        nobody = "00000000-0000-4000-8000-000000000000"
        for method, path, body, want in (
                ("GET", "/api/processes/%s/trace.pftrace" % nobody, None, 404),
                ("POST", "/api/perfetto/%s/generate" % nobody, b"", 404),
                ("GET", "/api/processes/%s/trace.pftrace?kinds=some" % pid, None, 400),
                ("GET", "/api/processes/%s/trace.pftrace?begin=soon" % pid, None, 400),
                ("POST", "/api/perfetto/%s/generate" % pid, b"{not json", 400),
                ("POST", "/api/perfetto/%s/generate" % pid,
                 b'{"include_thread_spans": false, "include_async_spans": false}', 400),
                ("POST", "/api/perfetto/%s/generate" % pid, b'{"jobs": 0}', 400),
                ("POST", "/api/perfetto/%s/generate" % pid,
                 b'{"time_range": {"begin": "yesterday"}}', 400)):
            status, _, text = self.srv.request(method, path, body)
            self.assertEqual(status, want, (path, text))
            self.assertTrue(text.endswith(b"\n") and text.count(b"\n") == 1, text)
        code, _, err = trace_cli(self.srv, nobody)
        self.assertEqual(code, 1)
        self.assertIn("unknown process", err)

    def test_workers_default_to_serve_jobs(self):
        self.srv.stop()
        self.srv.args = ["--jobs", "1"]
        self.srv.start()
        pid, _ = self.process(threads=2, spans=50)
        status, _, _ = self.srv.get("/api/processes/%s/trace.pftrace" % pid)
        self.assertEqual(status, 200)
        self.assertEqual(self.srv.get_json("/api/stats")["last_trace"]["jobs"], 1)
        status, _, _ = self.srv.post("/api/perfetto/%s/generate" % pid, b'{"jobs": 2}')
        self.assertEqual(status, 200)
        self.assertEqual(self.srv.get_json("/api/stats")["last_trace"]["jobs"], 2)

    def test_empty_range_gives_just_the_descriptors(self):
        pid, _ = self.process(threads=3, spans=500)
        future = str(4102444800 * 10**9)  # 2100-01-01
        code, data, err = trace_cli(self.srv, pid, "--begin", future)
        self.assertEqual(code, 0, err)
        summary = check(data, {"threads": [{"tid": int(s["thread_id"]), "name": s["thread_name"],
                                            "slices": 0} for s in cpu_streams(self.srv, pid)]})
        self.assertEqual(summary["slices_total"], 0)

    def test_a_range_cuts_spans(self):
        pid, _ = self.process(threads=2, spans=3000, asyncs=20)
        rows = view_csv(self.srv, "thread_spans", cpu_streams(self.srv, pid)[0]["stream_id"])
        mid = ns(rows[len(rows) // 2]["begin"])
        lo, hi = mid - 50000, mid + 50000
        code, data, err = trace_cli(self.srv, pid, "--begin", str(lo), "--end", str(hi),
                                    "--kinds", "thread")
        self.assertEqual(code, 0, err)
        summary = check(data)
        want = 0
        for s in cpu_streams(self.srv, pid):
            want += len(view_csv(self.srv, "thread_spans", s["stream_id"],
                                 "&begin=%d&end=%d" % (lo, hi + 1)))
        self.assertEqual(summary["slices_total"], want)
        self.assertGreater(want, 0)
        self.assertLess(want, 2 * 3000)
        # Every slice lies within the range: cut, not dropped.
        full = pfcheck.check(data, None, keep_events=True)
        times = [e[0] for evs in full["events"].values() for e in evs]
        self.assertTrue(times)
        self.assertGreaterEqual(min(times), lo)
        self.assertLessEqual(max(times), hi)

    def test_client_disconnect_stops_the_work(self):
        pid, _ = self.process(threads=8, spans=50000, asyncs=0, depth=6)
        stats = self.srv.get_json("/api/stats")["traces"]
        before = stats["count"]
        s = socket.create_connection((self.srv.host, self.srv.port), timeout=60)
        req = ("POST /api/perfetto/%s/generate HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
               % pid).encode()
        s.sendall(req)
        got = s.recv(4096)
        self.assertIn(b"200", got.split(b"\r\n")[0])
        s.close()  # leave mid-stream
        time.sleep(0.5)
        self.assertEqual(self.srv.get("/health")[0], 200)
        self.assertEqual(self.srv.get_json("/api/stats")["traces"]["count"], before)
        # The generator was closed before its end: counted as cancelled, none running.
        deadline = time.monotonic() + 60
        while True:
            t = self.srv.get_json("/api/stats")["traces"]
            if t["running"] == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual((t["running"], t["cancelled"], t["count"]),
                         (0, stats["cancelled"] + 1, before))
        # The server still serves traces, and stops cleanly without leaks (ASan build).
        code, data, err = trace_cli(self.srv, pid, "--kinds", "thread")
        self.assertEqual(code, 0, err)
        self.assertEqual(self.srv.stop(), 0)
        log = self.srv.log_text()
        self.assertNotIn("LeakSanitizer", log)
        self.assertNotIn("AddressSanitizer", log)


class InterruptTest(unittest.TestCase):
    """Ctrl-C on `streamlake trace`: workers stop, nothing is written, nothing leaks."""

    def setUp(self):
        self.srv = Server()
        self.addCleanup(self.srv.cleanup)
        rep = loadgen(self.srv.url, "--threads", "8", "--spans", "3000", "--async", "10")
        self.pid = rep["process_id"]
        self.out_dir = tempfile.mkdtemp(prefix="sl-trace-int-")
        self.addCleanup(lambda: __import__("shutil").rmtree(self.out_dir, ignore_errors=True))
        self.out = os.path.join(self.out_dir, "t.pftrace")

    def interrupt(self, args, started):
        """Starts the command, waits until started() holds, sends SIGINT."""
        env = dict(os.environ, SL_LAKE_TEST_DELAY_MS="400")  # each build holds 400 ms
        p = subprocess.Popen([sltest.binary(), "trace", self.pid, "-o", self.out] + args,
                             stderr=subprocess.PIPE, text=True, env=env)
        deadline = time.time() + 60
        while not started() and p.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        self.assertIsNone(p.poll(), "the trace ended before it could be interrupted")
        p.send_signal(2)
        _, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 130, err)
        self.assertIn("interrupted", err)
        self.assertEqual(os.listdir(self.out_dir), [], "a partial or temporary file was left")
        self.assertNotIn("Sanitizer", err)
        return err

    def built_files(self):
        return len(sltest.object_keys(self.srv.data_dir, "views/thread_spans/"))

    @unittest.skipUnless(sltest.local_stores(), "`trace --data` reads a local SQLite store")
    def test_ctrl_c_with_data_dir_cancels_the_workers(self):
        self.assertEqual(self.srv.stop(), 0)
        self.interrupt(["--data", self.srv.data_dir, "--jobs", "2"],
                       lambda: self.built_files() > 0)
        # The lake is consistent afterwards: a full trace still comes out right.
        out = subprocess.run([sltest.binary(), "trace", self.pid, "-o", self.out, "--data",
                              self.srv.data_dir], capture_output=True, text=True, timeout=600)
        self.assertEqual(out.returncode, 0, out.stderr)
        with open(self.out, "rb") as f:
            summary = check(f.read())
        self.assertEqual(summary["slices_total"], 8 * 3000 + 8 * 10)

    def test_ctrl_c_with_server_leaves_the_server_well(self):
        os.environ["SL_LAKE_TEST_DELAY_MS"] = "400"  # the restarted server builds slowly
        try:
            self.srv.restart()
        finally:
            del os.environ["SL_LAKE_TEST_DELAY_MS"]
        self.interrupt(["--server", self.srv.url], lambda: self.built_files() > 0)
        self.assertEqual(self.srv.get("/health")[0], 200)
        code, data, err = trace_cli(self.srv, self.pid)
        self.assertEqual(code, 0, err)
        check(data)
        self.assertEqual(self.srv.stop(), 0)
        self.assertNotIn("Sanitizer", self.srv.log_text())


if __name__ == "__main__":
    unittest.main(verbosity=2)
