#!/usr/bin/python3
"""The server's response budget against clients that never read (issue 12, point 1).

Clients open many trace and view requests and never read the replies: the frame
stream with jobs=64, plain trace downloads, CSV reads of a thread_spans view.
While they sit there, the server must

  * keep its resident memory under the budget plus a fixed overhead, and its
    threads under the worker budget plus its own;
  * refuse what does not fit with 503, a reason and Retry-After, at once;
  * cap every request's jobs;
  * keep answering well-behaved clients: ingestion, the process list, and a
    heavy request once the stalled clients have timed out, with correct data;
  * after the burst, free the stalled clients' resources (client timeout) and
    give the memory back to the system.

The sizes here are bounded so the suite stays quick; the issue's full sizes
(25 generate with jobs=64, 200 trace downloads, 60 CSV reads of a 1 M-row view)
run with `SL_BUDGET_FULL=1` (docs/serve.md, "Budgets").  Resident-memory bounds
are checked in the optimised build only: AddressSanitizer's allocator keeps
freed memory in quarantine and shadows every byte, so its resident size says
nothing about ours (the budget's own counters are checked in both builds).
"""

import json
import os
import socket
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "perfetto"))
import pfcheck  # noqa: E402
import pfframes  # noqa: E402
import sltest  # noqa: E402
from sltest import Server  # noqa: E402

FULL = os.environ.get("SL_BUDGET_FULL") == "1"
BUDGET_MB = 64
TIMEOUT_S = 4
# What the server may hold beyond the budget: its caches (--cache-mb 16), the
# metadata store, thread stacks and connection buffers, allocator slack.
OVERHEAD_MB = 96


def sanitized():
    cache = os.path.join(sltest.build_dir(), "CMakeCache.txt")
    try:
        with open(cache) as f:
            return "SL_SANITIZE:BOOL=ON" in f.read()
    except OSError:
        return False


def status_of(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return int(out["VmRSS"].split()[0]) // 1024, int(out["Threads"])


def loadgen(url, *args):
    out = subprocess.run([sltest.binary(), "loadgen", "--json", "--server", url] + list(args),
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


class Stalled:
    """Requests whose replies are never read (tiny receive buffers)."""

    def __init__(self, srv):
        self.srv, self.socks = srv, []

    def open(self, request):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect((self.srv.host, self.srv.port))
        s.sendall(request)
        self.socks.append(s)

    def close(self):
        for s in self.socks:
            s.close()
        self.socks = []


def get_req(path):
    return ("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode()


def post_req(path, body):
    return ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" %
            (path, len(body))).encode() + body


class BudgetTest(unittest.TestCase):
    def setUp(self):
        self.srv = Server(args=["--max-response-mb", str(BUDGET_MB), "--client-timeout",
                                str(TIMEOUT_S), "--cache-mb", "16", "--threads", "8"])
        self.addCleanup(self.srv.cleanup)
        threads, spans = (50, 40000) if FULL else (8, 20000)
        self.rep = loadgen(self.srv.url, "--threads", str(threads), "--spans", str(spans),
                           "--work", "0")
        self.pid = self.rep["process_id"]
        streams = self.srv.get_json("/api/processes/%s/streams" % self.pid)
        self.sid = [s for s in streams if "cpu" in s["tags"]][0]["stream_id"]
        status, _, body = self.srv.post("/api/materialize", b"", timeout=900)
        self.assertEqual(status, 200, body)
        self.expect_slices = self.rep["threads"] * (self.rep["spans_per_thread"] +
                                                    self.rep["async_per_thread"])

    def budget(self):
        return self.srv.get_json("/api/stats")["budget"]

    def check_trace(self):
        status, _, data = self.srv.get("/api/processes/%s/trace.pftrace" % self.pid, timeout=600)
        if status == 503:
            return False
        self.assertEqual(status, 200, data[:200])
        summary = pfcheck.check(data)
        self.assertFalse(summary["problems"], summary["problems"][:3])
        self.assertEqual(summary["slices_total"], self.expect_slices)
        return True

    def test_stalled_clients_stay_within_the_budget(self):
        server_pid = self.srv.proc.pid
        # Warm up: one of each request, read to the end, so caches are as full as
        # they get and the baseline is honest.
        self.assertTrue(self.check_trace())
        status, _, body = self.srv.get("/api/views/thread_spans/%s?format=csv" % self.sid)
        self.assertEqual(status, 200)
        time.sleep(1.5)
        base_rss, base_threads = status_of(server_pid)
        n_gen, n_trace, n_view = (25, 200, 60) if FULL else (10, 40, 20)
        stalled = Stalled(self.srv)
        try:
            for _ in range(n_gen):
                stalled.open(post_req("/api/perfetto/%s/generate" % self.pid,
                                      json.dumps({"jobs": 64}).encode()))
            for _ in range(n_trace):
                stalled.open(get_req("/api/processes/%s/trace.pftrace" % self.pid))
            for _ in range(n_view):
                stalled.open(get_req("/api/views/thread_spans/%s?format=csv" % self.sid))
            time.sleep(1.5)  # let every admitted response fill what it may
            b = self.budget()
            self.assertLessEqual(b["bytes"], b["max_bytes"])
            self.assertLessEqual(b["threads"], b["max_threads"])
            self.assertGreater(b["refused_total"], 0, b)
            rss, threads = status_of(server_pid)
            print("\n  baseline %d MiB, %d threads; stalled: %d MiB, %d threads; budget %s; "
                  "heap %s" % (base_rss, base_threads, rss, threads, b,
                               self.srv.get_json("/api/stats")["memory"]), file=sys.stderr)
            if not sanitized():
                self.assertLess(rss, base_rss + BUDGET_MB + OVERHEAD_MB,
                                "RSS %d MiB, baseline %d MiB" % (rss, base_rss))
            self.assertLessEqual(threads, base_threads + b["max_threads"] + 2)
            # Well-behaved clients meanwhile: cheap routes answer, heavy ones answer
            # correctly or are refused at once with a reason and Retry-After.
            procs = self.srv.get_json("/api/processes")
            self.assertIn(self.pid, [p["process_id"] for p in procs])
            small = loadgen(self.srv.url, "--threads", "2", "--spans", "500")
            self.assertEqual(small["library"]["dropped"], 0)
            status, headers, body = self.srv.get("/api/processes/%s/trace.pftrace" % self.pid)
            if status == 503:
                self.assertIn("server busy", body.decode())
                self.assertEqual(headers.get("retry-after"), "1")
            else:
                self.assertEqual(status, 200)
            # The stalled clients time out and their resources go back.
            deadline = time.monotonic() + TIMEOUT_S * 10 + 30
            while self.budget()["grants"] and time.monotonic() < deadline:
                time.sleep(0.5)
            self.assertEqual(self.budget()["grants"], 0, self.budget())
            self.assertEqual(self.budget()["bytes"], 0)
        finally:
            stalled.close()
        # Now a heavy request gets its full, correct answer.
        self.assertTrue(self.check_trace())
        time.sleep(2.5)  # the trim runs once a second after the budget goes idle
        b = self.budget()
        self.assertGreater(b["trims"], 0)
        rss, _ = status_of(server_pid)
        print("  after the burst: %d MiB" % rss, file=sys.stderr)
        if not sanitized():
            self.assertLess(rss, base_rss + 48, "RSS after the burst %d MiB, baseline %d MiB"
                            % (rss, base_rss))

    def test_jobs_are_capped(self):
        status, _, data = self.srv.post("/api/perfetto/%s/generate" % self.pid,
                                        json.dumps({"jobs": 64}).encode(), timeout=600)
        self.assertEqual(status, 200)
        summary = pfframes.parse(data)["summary"]
        cores = os.cpu_count() or 2
        self.assertLessEqual(summary["jobs"], max(cores, 2))
        self.assertGreaterEqual(summary["jobs"], 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
