#!/usr/bin/python3
"""End-to-end tests of the tracing library with a real server.

`streamlake loadgen` is a real instrumented program (it links the library); these
tests run it against `streamlake serve` on a free loopback port and check through
the JSON API, as a user would, that what it recorded is what the server holds:
  * every count matches exactly what loadgen reported;
  * with the server down, the library keeps its memory cap, counts what it drops,
    reports the drops (metric + log line), and delivers everything it kept once
    the server is back;
  * an offline capture imported twice is stored once.
"""

import json
import os
import subprocess
import sys
import tempfile
import shutil
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import Server  # noqa: E402


def loadgen(*args, timeout=600):
    """Runs loadgen with --json; returns (exit code, report dict, stderr)."""
    out = subprocess.run([sltest.binary(), "loadgen", "--json"] + list(args),
                         capture_output=True, text=True, timeout=timeout)
    report = json.loads(out.stdout.strip().splitlines()[-1]) if out.stdout.strip() else None
    return out.returncode, report, out.stderr


def streams_of(srv, process_id):
    return srv.get_json("/api/processes/%s/streams" % process_id)


def process_row(srv, process_id):
    rows = [p for p in srv.get_json("/api/processes") if p["process_id"] == process_id]
    assert len(rows) == 1, rows
    return rows[0]


def decode_events(paths):
    """Every event of the given stored payload files, via `streamlake decode --events`."""
    out = subprocess.run([sltest.binary(), "decode", "--events"] + paths,
                         capture_output=True, text=True, check=True)
    events = []
    for line in out.stdout.splitlines():
        events.extend(json.loads(line)["events"])
    return events


class LibraryTest(unittest.TestCase):
    def capture(self, *args):
        """Runs loadgen into a fresh offline capture directory; returns (directory, report)."""
        capture = tempfile.mkdtemp(prefix="sl-capture-")
        self.addCleanup(shutil.rmtree, capture, True)
        code, rep, err = loadgen("--dir", capture, *args)
        self.assertEqual(code, 0, err)
        return capture, rep

    def test_counts_through_the_api_match_loadgen(self):
        srv = Server()
        self.addCleanup(srv.cleanup)
        code, rep, err = loadgen("--server", srv.url, "--threads", "8", "--spans", "3000",
                                 "--depth", "5", "--async", "50", "--logs", "40",
                                 "--metrics", "30")
        self.assertEqual(code, 0, err)
        lib = rep["library"]
        self.assertEqual(lib["dropped"], 0)
        self.assertEqual(lib["delivered"], rep["total_events"])
        self.assertEqual(rep["events_per_thread_stream"], 2 * (3000 + 50))
        self.assertEqual(rep["log_events"], 8 * 40)
        self.assertEqual(rep["metric_events"], 8 * 30)

        p = process_row(srv, rep["process_id"])
        self.assertEqual(p["thread_count"], 8)
        self.assertEqual(p["event_count"], rep["total_events"])
        self.assertIn("streamlake", p["exe"])

        streams = streams_of(srv, rep["process_id"])
        cpu = [s for s in streams if "cpu" in s["tags"]]
        logs = [s for s in streams if "log" in s["tags"]]
        metrics = [s for s in streams if "metrics" in s["tags"]]
        self.assertEqual(len(cpu), 8)
        self.assertEqual(len(logs), 1)
        self.assertEqual(len(metrics), 1)
        for s in cpu:
            self.assertEqual(s["event_count"], rep["events_per_thread_stream"], s)
            self.assertTrue(int(s["thread_id"]) > 0)
        self.assertEqual(sorted(s["thread_name"] for s in cpu),
                         ["worker-%02d" % i for i in range(8)])
        self.assertEqual(logs[0]["event_count"], rep["log_events"])
        self.assertEqual(metrics[0]["event_count"], rep["metric_events"])
        self.assertEqual(sum(s["event_count"] for s in streams), rep["total_events"])

    def test_server_down_cap_holds_drops_counted_then_delivered(self):
        # Learn a free port, then take the server away.
        srv = Server()
        self.addCleanup(srv.cleanup)
        url, port = srv.url, srv.port
        srv.stop()
        cap_mb = 4
        proc = subprocess.Popen(
            [sltest.binary(), "loadgen", "--json", "--server", url, "--threads", "4",
             "--spans", "150000", "--depth", "4", "--async", "100", "--logs", "2000",
             "--metrics", "2000", "--work", "20", "--memory-mb", str(cap_mb),
             "--shutdown-timeout-ms", "120000", "--overload"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        # Wait until loadgen has recorded everything (the server has been down all along).
        deadline = time.monotonic() + 300
        err = ""
        while "recorded, flushing" not in err and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            err += line
        self.assertIn("recorded, flushing", err)
        time.sleep(0.5)  # a few failed attempts: retries back off
        srv.args = ["--listen", "127.0.0.1:%d" % port]
        srv.start()
        out, rest = proc.communicate(timeout=300)
        rep = json.loads(out.strip().splitlines()[-1])
        lib = rep["library"]
        # The cap held, and the loss is counted, not hidden.
        self.assertLessEqual(lib["memory_peak_bytes"], lib["memory_cap_bytes"])
        self.assertEqual(lib["memory_cap_bytes"], cap_mb << 20)
        self.assertGreater(lib["dropped"], 0)
        self.assertGreater(lib["retries"], 0)
        # --overload (no pacing: the program outruns a server that is down) expects
        # drops, so they do not fail the run; without it they would (test_hardening).
        self.assertEqual(proc.returncode, 0, rest)
        # Everything is accounted for: delivered + dropped = recorded by the program
        # plus the library's own drop reports.
        self.assertEqual(lib["delivered"] + lib["dropped"],
                         rep["total_events"] + lib["library_events"])
        self.assertGreater(lib["library_events"], 0)
        # What was kept arrived: the server holds exactly what the library delivered.
        p = process_row(srv, rep["process_id"])
        self.assertEqual(p["event_count"], lib["delivered"])
        # The drops were reported in the process's own streams.
        streams = streams_of(srv, rep["process_id"])
        blobs = os.path.join(srv.data_dir, "blobs", rep["process_id"])
        log_sid = [s["stream_id"] for s in streams if "log" in s["tags"]][0]
        met_sid = [s["stream_id"] for s in streams if "metrics" in s["tags"]][0]

        def files(sid):
            d = os.path.join(blobs, sid)
            return [os.path.join(d, f) for f in os.listdir(d)]

        logs = [e for e in decode_events(files(log_sid))
                if e["target"] == "streamlake" and "events dropped" in e["msg"]]
        metrics = [e for e in decode_events(files(met_sid))
                   if e["name"] == "streamlake.dropped_events"]
        self.assertGreater(len(logs), 0)
        self.assertGreater(len(metrics), 0)
        self.assertEqual(logs[0]["level"], 3)
        # The metric is the running total: it never decreases and never passes the final count.
        values = [m["value"] for m in sorted(metrics, key=lambda e: e["ticks"])]
        self.assertEqual(values, sorted(values))
        self.assertLessEqual(values[-1], lib["dropped"])

    def test_offline_capture_import_is_idempotent(self):
        capture, rep = self.capture("--threads", "3", "--spans", "2000", "--async", "10",
                                    "--logs", "10", "--metrics", "10")
        srv = Server()
        self.addCleanup(srv.cleanup)
        for attempt in range(2):
            out = subprocess.run([sltest.binary(), "import", capture, "--server", srv.url],
                                 capture_output=True, text=True, timeout=300)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("0 refused", out.stdout)
            p = process_row(srv, rep["process_id"])
            self.assertEqual(p["event_count"], rep["total_events"], "import #%d" % (attempt + 1))
            self.assertEqual(p["thread_count"], 3)
        # Stored once: one row and one object per block.
        rows = sltest.rows(srv.data_dir, "blocks")
        self.assertEqual(len(rows), len({r["block_id"] for r in rows}))
        self.assertEqual(len(sltest.blob_files(srv.data_dir)), len(rows))

    def test_import_reports_a_damaged_file(self):
        capture, rep = self.capture("--threads", "1", "--spans", "100", "--async", "0",
                                    "--logs", "0", "--metrics", "0")
        pdir = os.path.join(capture, rep["process_id"])
        block = sorted(f for f in os.listdir(pdir) if f.endswith(".block"))[0]
        with open(os.path.join(pdir, block), "r+b") as f:
            f.seek(200)
            b = f.read(1)
            f.seek(200)
            f.write(bytes([b[0] ^ 0xFF]))
        srv = Server()
        self.addCleanup(srv.cleanup)
        out = subprocess.run([sltest.binary(), "import", capture, "--server", srv.url],
                             capture_output=True, text=True, timeout=300)
        self.assertEqual(out.returncode, 1)
        self.assertIn(block, out.stderr)
        self.assertIn("1 refused", out.stdout)
        self.assertEqual(sltest.temp_files(srv.data_dir), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
