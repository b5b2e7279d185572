"""The web app in a real browser, against a real server with a loadgen process.

  * HTTP: `/` and the app's routes answer index.html, hashed assets are served with
    their content type and a year's cache, unknown paths are 404, wrong methods 405;
    saved queries are created, refused when a create-only PUT finds the name taken,
    replaced, listed, deleted, survive a restart, and bad names and bodies are 400/413
    changing nothing.
  * Chromium (Debian's, driven by npm playwright-core; tests/node/web_browser.mjs)
    goes through every page: the process list shows the loadgen process; the logs
    page's live tail shows new rows of a second loadgen process while it runs; the
    process page's Download trace gives files byte-identical to `streamlake trace` for
    the same process, kinds and range, with progress frames shown before completion;
    Open in Perfetto hands the same bytes to a stand-in for ui.perfetto.dev (served
    by playwright's route(), speaking the PING/PONG postMessage handshake) and, when
    a pop-up blocker refuses the tab (window.open answering null), the page says so; Cancel during a
    large trace's generation makes the server close its generator (/api/stats:
    cancelled, nothing served); no request leaves loopback; the logs page's level,
    text and target filters give SQL's counts; the metrics chart draws its points
    on a canvas; the flame graph's root equals the total time of the root thread
    spans computed in SQL, and its folded, JSON and SVG exports agree; the SQL page
    runs a query, shows EXPLAIN ANALYZE as a tree, marks the position of a bad
    query's error and saves a query on the server; the jobs page shows its table or
    a clear state and stops and starts a job.

Screenshots and downloaded traces go to BUILD/web-artifacts (printed); the first
useful paint of the process page and the time to a trace download are printed and
written to BUILD/web-artifacts/web-figures.md (measured, not asserted).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import unittest
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import Server  # noqa: E402

NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "node")
CHROMIUM = os.environ.get("SL_CHROMIUM", "/usr/bin/chromium")


def cli(*args, timeout=600):
    out = subprocess.run([sltest.binary()] + list(args), capture_output=True, text=True,
                         timeout=timeout)
    assert out.returncode == 0, out.stderr
    return out.stdout


def ns_of(text):
    """PostgreSQL's timestamptz text ('2026-12-02 11:01:55.470123+00') as ns."""
    m = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(?:\.(\d+))?\+00$", text)
    sec = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
    frac = (m.group(2) or "").ljust(9, "0")
    return int(sec.timestamp()) * 10**9 + int(frac)


class WebApp(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(args=["--no-pg"])
        out = cli("loadgen", "--json", "--server", cls.srv.url, "--threads", "4", "--spans",
                  "20000", "--async", "200", "--logs", "100", "--metrics", "100")
        cls.pid = json.loads(out.strip().splitlines()[-1])["process_id"]
        cls.art = os.path.abspath(os.path.join(sltest.build_dir(), "web-artifacts"))
        shutil.rmtree(cls.art, ignore_errors=True)
        os.makedirs(cls.art)

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def sql(self, text, *params):
        body = json.dumps({"sql": text, "params": list(params)}).encode()
        status, _, data = self.srv.request("POST", "/api/query?format=json", body)
        self.assertEqual(status, 200, data)
        lines = [json.loads(x) for x in data.decode().splitlines()]
        return [x for x in lines if isinstance(x, list)]

    # ---------------------------------------------------------------- HTTP

    def test_static_files(self):
        status, h, index = self.srv.request("GET", "/")
        self.assertEqual(status, 200)
        self.assertEqual(h["content-type"], "text/html; charset=utf-8")
        self.assertEqual(h["cache-control"], "no-cache")
        for route in ("/processes", "/process/%s" % self.pid, "/sql", "/jobs", "/flame"):
            status, h, body = self.srv.request("GET", route)
            self.assertEqual((status, body), (200, index), route)
        assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', index.decode())
        self.assertTrue(any(a.endswith(".js") for a in assets), index)
        for a in assets:
            status, h, body = self.srv.request("GET", a)
            self.assertEqual(status, 200, a)
            self.assertIn("max-age=31536000", h["cache-control"])
            want = "text/javascript" if a.endswith(".js") else "text/css"
            self.assertTrue(h["content-type"].startswith(want), (a, h["content-type"]))
            self.assertTrue(body)
        self.assertEqual(self.srv.request("HEAD", "/")[0], 200)
        for path in ("/assets/none.js", "/nothing", "/api/nothing"):
            self.assertEqual(self.srv.request("GET", path)[0], 404, path)
        status, h, _ = self.srv.request("POST", "/")
        self.assertEqual((status, h.get("allow")), (405, "GET, HEAD"))
        # the API's own routes are unchanged
        self.assertEqual(self.srv.request("GET", "/api/processes")[0], 200)

    def test_saved_queries(self):
        base = "/api/saved-queries"
        put = lambda name, body, **h: self.srv.request(  # noqa: E731
            "PUT", "%s/%s" % (base, name), json.dumps(body).encode(), headers=h)
        status, _, data = put("q.one", {"sql": "SELECT 1", "range": "1h"}, **{"If-None-Match": "*"})
        self.assertEqual(status, 201, data)
        self.assertEqual(json.loads(data)["range"], "1h")
        status, _, data = put("q.one", {"sql": "SELECT 2"}, **{"If-None-Match": "*"})
        self.assertEqual(status, 412, data)
        self.assertEqual(json.loads(self.srv.request("GET", base + "/q.one")[2])["sql"], "SELECT 1")
        self.assertEqual(put("q.one", {"sql": "SELECT 2", "description": "two"})[0], 200)
        for name, body, want in (("bad name", {"sql": "x"}, 400), ("q2", {"sq": "x"}, 400),
                                 ("q2", {"sql": 3}, 400), ("q2", {"sql": "x" * 70000}, 413),
                                 ("x" * 101, {"sql": "x"}, 400)):
            status, _, data = put(name.replace(" ", "%20"), body)
            self.assertEqual(status, want, (name, data))
            self.assertTrue(data.endswith(b"\n") and b"\n" not in data[:-1], data)
        status, _, data = self.srv.request("PUT", base + "/q3", b"{not json")
        self.assertEqual(status, 400, data)
        names = [q["name"] for q in json.loads(self.srv.request("GET", base)[2])["queries"]]
        self.assertIn("q.one", names)
        self.assertNotIn("q2", names)
        self.srv.restart()
        q = json.loads(self.srv.request("GET", base + "/q.one")[2])
        self.assertEqual((q["sql"], q["description"]), ("SELECT 2", "two"))
        self.assertEqual(self.srv.request("DELETE", base + "/q.one")[0], 200)
        self.assertEqual(self.srv.request("DELETE", base + "/q.one")[0], 404)
        self.assertEqual(self.srv.request("GET", base + "/q.one")[0], 404)
        self.assertEqual(self.srv.request("POST", base)[0], 405)

    # ---------------------------------------------------------------- browser

    def test_browser(self):
        self.assertTrue(os.path.exists(CHROMIUM),
                        "%s is missing: scripts/deps.sh test installs Debian's chromium" % CHROMIUM)
        [(first, last)] = self.sql("SELECT min(begin_time)::text, max(end_time)::text FROM blocks "
                                   "WHERE process_id = $1", self.pid)
        t0, t1 = ns_of(first), ns_of(last)
        begin, end = t0 + (t1 - t0) // 4, t0 + 3 * (t1 - t0) // 4
        # A process whose trace (~20 MB) is large enough to cancel while it is generated.
        out = cli("loadgen", "--json", "--server", self.srv.url, "--threads", "4", "--spans",
                  "150000", "--async", "0", "--logs", "0", "--metrics", "0", "--work", "0")
        big = json.loads(out.strip().splitlines()[-1])["process_id"]
        # A loadgen still running while the browser watches its logs (live tail): one span
        # about every 10 ms, a log line every 10 spans, for half a minute or more.
        live = subprocess.Popen([sltest.binary(), "loadgen", "--json", "--server", self.srv.url,
                                 "--threads", "1", "--spans", "3000", "--depth", "1", "--work",
                                 "3000000", "--async", "0", "--logs", "300", "--metrics", "0"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ended = {}

        def wait_live():
            ended["out"] = live.communicate()
            ended["t"] = time.time()
        waiter = threading.Thread(target=wait_live)
        waiter.start()
        try:
            out = subprocess.run(["node", "web_browser.mjs", self.srv.url, self.pid, self.art,
                                  str(begin), str(end), big], cwd=NODE_DIR,
                                 capture_output=True, text=True, timeout=900)
        finally:
            waiter.join(600)
        print("web artifacts (screenshots, traces): %s" % self.art)
        self.assertEqual(out.returncode, 0, out.stderr + out.stdout)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        self.assertEqual(r["errors"], [])
        self.assertEqual(r["outside_requests"], [])

        # logs, live tail: new rows of the live process appeared before it exited
        self.assertEqual(live.returncode, 0, ended.get("out"))
        live_pid = json.loads(ended["out"][0].strip().splitlines()[-1])["process_id"]
        self.assertEqual(r["tail_process"], live_pid)
        self.assertGreater(r["tail_second"], r["tail_first"])
        self.assertTrue(r["tail_newest_changed"], r)
        self.assertLess(r["tail_grew_at"] / 1000.0, ended["t"])

        # the process list and the process page
        self.assertIn("loadgen", self.srv.get_json("/api/processes")[0]["properties"]["program"])
        self.assertIn(os.path.basename(sltest.binary()), r["process_list_text"])
        self.assertEqual(r["thread_rows"], 4)
        sids = [s["stream_id"] for s in self.srv.get_json("/api/processes/%s/streams" % self.pid)
                if "cpu" in s["tags"]]
        counts = [self.sql("SELECT count(*) FROM view_instance('thread_spans', $1)", s)[0][0]
                  for s in sids]
        self.assertEqual(sorted(r["thread_span_counts"]), sorted(counts))

        # the custom range typed right after its inputs appeared is still there, also
        # when typed in the very task that made them
        self.assertEqual(r["range_inputs"], [str(begin), str(end)])
        self.assertEqual(r["range_same_task"], "123")
        # downloads: byte-identical to `streamlake trace`, progress seen before the end
        for key, args in (("download_all", []),
                          ("download_range", ["--kinds", "thread", "--begin", str(begin),
                                              "--end", str(end)])):
            d = r[key]
            want = os.path.join(self.art, "cli-%s.pftrace" % key)
            cli("trace", self.pid, "-o", want, "--server", self.srv.url, *args)
            with open(d["file"], "rb") as a, open(want, "rb") as b:
                got, exp = a.read(), b.read()
            self.assertGreater(len(exp), 1000)
            self.assertEqual(got, exp, key)
            self.assertGreaterEqual(d["running_with_frames"], 1, d)
            self.assertRegex(d["last_running"], r"threads \d+/4")
            self.assertIn("Downloaded", d["done_text"])
        self.assertLess(os.path.getsize(r["download_range"]["file"]),
                        os.path.getsize(r["download_all"]["file"]))

        # Open in Perfetto: the stand-in tab got exactly `streamlake trace`'s bytes for the
        # same kinds and range, after the handshake, from the server's origin
        p = r["perfetto"]
        with open(p["file"], "rb") as a, open(os.path.join(self.art, "cli-download_range.pftrace"),
                                              "rb") as b:
            self.assertEqual(a.read(), b.read())
        self.assertEqual(p["origin"], self.srv.url.rstrip("/"))
        self.assertEqual(p["title"], "%s.pftrace" % self.pid)
        self.assertTrue(p["url"].startswith("https://ui.perfetto.dev/"), p)
        self.assertGreaterEqual(p["pings"], 1)
        self.assertGreaterEqual(r["perfetto_requests"], 1)
        self.assertIn("Sent", p["done_text"])
        self.assertIn("blocked the Perfetto tab", r["popup_blocked_text"])
        self.assertEqual(r["popup_blocked_tabs"], 0)

        # cancel: the server closed the generator before its end, served nothing, and the
        # page got no progress after
        self.assertIn("Cancelled", r["cancel_text"])
        self.assertTrue(r["cancel_running_seen"])
        c = r["cancel"]
        self.assertEqual((c["cancelled"], c["served"]), (1, 0), c)
        self.assertEqual(c["frames_later"], c["frames_at_cancel"], c)
        self.assertEqual(self.srv.get_json("/api/stats")["traces"]["running"], 0)

        # logs
        n = lambda where: self.sql(  # noqa: E731
            "SELECT count(*) FROM log_entries WHERE process_id = $1 AND " + where, self.pid)[0][0]
        self.assertEqual(r["logs_all"], min(500, n("true")))
        self.assertEqual(r["logs_error"], n("level <= 2"))
        self.assertGreater(r["logs_error"], 0)
        self.assertLessEqual(set(r["logs_error_levels"]), {"fatal", "error"})
        self.assertEqual(r["logs_text"], min(500, n("msg ILIKE '%checkpoint%'")))
        self.assertGreater(r["logs_text"], 0)
        self.assertEqual(r["logs_target_none"], 0)

        # metrics: points and a drawn series
        self.assertGreater(r["metric_points"], 1)
        self.assertGreater(r["metric_painted_pixels"], 50)
        self.assertRegex(r["metric_zoom_begin"], r"^\d{4}-\d\d-\d\dT")

        # flame graph of thread spans: its root is the root spans' total time
        total = sum(self.sql("SELECT coalesce(sum(duration), 0) FROM view_instance('thread_spans', "
                             "$1) WHERE depth = 0", s)[0][0] for s in sids)
        self.assertEqual(r["flame_root_ns"], total)
        self.assertRegex(r["flame_hover"], r"total .* self ")
        # its exports: the folded lines sum to the root, the JSON's root is the same, the
        # SVG is well-formed XML with a frame per stack at least
        ex = r["flame_exports"]
        with open(ex["folded"]["file"]) as f:
            lines = f.read().splitlines()
        self.assertEqual(sum(int(x.rsplit(" ", 1)[1]) for x in lines), total)
        self.assertTrue(all(";" in x or " " in x for x in lines))
        with open(ex["json"]["file"]) as f:
            self.assertEqual(json.load(f)["value"], total)
        svg = ET.parse(ex["svg"]["file"]).getroot()
        self.assertTrue(svg.tag.endswith("svg"), svg.tag)
        self.assertGreater(sum(1 for el in svg.iter() if el.tag.rsplit("}", 1)[-1] == "g"), 1)
        self.assertEqual((ex["folded"]["name"], ex["json"]["name"], ex["svg"]["name"]),
                         ("%s.folded" % self.pid, "%s.flame.json" % self.pid,
                          "%s.flame.svg" % self.pid))

        self.assertGreater(r["report_sections"], 3)

        # SQL
        self.assertEqual(r["sql_value"], n("true"))
        self.assertEqual(r["sql_csv"], "n\r\n%d\r\n" % n("true"))
        self.assertGreater(r["plan_nodes"], 1)
        self.assertEqual((r["sql_error_position"], r["sql_error_char"]), (8, "n"))
        self.assertIn('column "nme" does not exist', r["sql_error_text"])
        saved = json.loads(self.srv.request("GET", "/api/saved-queries/browser-test")[2])
        self.assertIn("date_bin", saved["sql"])
        self.assertTrue(r["jobs_state"])
        # A job over the live telemetry was stopped and started again from the jobs page.
        self.assertTrue(r.get("job_stopped"), r)
        self.assertTrue(r.get("job_restarted"), r)
        self.assertEqual(len(r["screenshots"]), 16)

        self.write_figures(r)

    def write_figures(self, r):
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
        version = subprocess.run([CHROMIUM, "--version"], capture_output=True,
                                 text=True).stdout.strip()
        size = os.path.getsize(r["download_all"]["file"])
        lines = [
            "| figure | value |",
            "|---|---|",
            "| first useful paint of the process page (navigation start to properties and "
            "thread rows drawn) | %.0f ms |" % r["process_first_paint_ms"],
            "| time to a trace download (click to file; 4 threads x 20,000 spans + 800 async, "
            "%.2f MB) | %d ms |" % (size / 1e6, r["download_all"]["ms"]),
            "| time to a trace download, thread spans of half the range | %d ms |"
            % r["download_range"]["ms"],
            "",
            "Measured by tests/e2e/test_web.py (ctest e2e_web) in %s, headless, against "
            "`streamlake serve` on loopback; load average %s on %d cores while measured."
            % (version, load, os.cpu_count()),
        ]
        path = os.path.join(self.art, "web-figures.md")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        print("\n".join(lines))
        print("figures written to %s" % path)


if __name__ == "__main__":
    unittest.main(verbosity=2)
