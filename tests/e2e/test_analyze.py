"""streamlake analyze: the report's figures, its renderings and its HTTP route.

  * A loadgen process (thread and async spans): every count, sum, extreme,
    standard deviation and quantile of the JSON report equals DuckDB's over the
    same Parquet partitions (thread_spans files, and async_events files paired
    by span id); per-name p99 is within the stated 1% of the exact value; self
    times, stacks and concurrency equal an independent computation in Python
    over the rows DuckDB read.
  * A crafted process with known nesting, an async child that outlasts its
    parent, an async begin never ended and an end never begun: every figure
    is known by hand.
  * The folded stacks parse back to the report's stacks and their total is the
    flame graph's; the SVG parses with xml.etree, the HTML pages with
    html.parser; md and html are written; bad arguments fail clearly; GET
    /api/analyze/{id} returns the JSON the CLI writes.
"""

import html.parser
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import unittest
import uuid
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import Server  # noqa: E402

NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "node")


def run(*args, timeout=600):
    return subprocess.run([sltest.binary()] + list(args), capture_output=True, text=True,
                          timeout=timeout)


def analyze(srv, pid, *args):
    out = run("analyze", pid, "--server", srv.url, "--format", "json", *args)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def duck(sql):
    out = subprocess.run(["node", "duckdb_rows.mjs", sql], cwd=NODE_DIR, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def close(a, b, rel=1e-9):
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


def folded_totals(lines):
    """flamegraph.pl's reading: 'a;b;c value' lines, summed per stack."""
    out = {}
    for line in lines:
        stack, value = line.rsplit(" ", 1)
        out[stack] = out.get(stack, 0) + int(value)
    return out


def sweep(spans):
    """Most [begin, end) intervals open at once, when first, and for how long."""
    ev = sorted([(b, 1) for b, e in spans] + [(e, -1) for b, e in spans],
                key=lambda x: (x[0], x[1]))
    best, at, open_, i = 0, None, 0, 0
    times = sorted(set(t for t, _ in ev))
    for t in times:
        while i < len(ev) and ev[i][0] == t:
            open_ += ev[i][1]
            i += 1
        if open_ > best:
            best, at = open_, t
    after = [t for t in times if at is not None and t > at]
    return best, at, (after[0] - at) if after else 0


def self_and_stacks(rows, thread_names):
    """Self time per row, per name, and per stack, from parent links (independent of C)."""
    key = {}
    for i, r in enumerate(rows):
        key.setdefault((r["stream"], r["id"]), i)
    parent = []
    for r in rows:
        none = r["parent"] == 0 if r["stream"] == "async" else r["parent"] < 0
        parent.append(None if none else key.get((r["stream"], r["parent"])))
    child = [0] * len(rows)
    for i, r in enumerate(rows):
        if parent[i] is not None and r["dur"] is not None:
            child[parent[i]] += r["dur"]
    stacks, by_name = {}, {}
    for i, r in enumerate(rows):
        if r["dur"] is None:
            continue
        frames, j = [], i
        while j is not None:
            frames.append(rows[j]["name"])
            j = parent[j]
        first = "async" if r["stream"] == "async" else thread_names[r["stream"]]
        stack = ";".join([first] + frames[::-1])
        s = max(0, r["dur"] - child[i])
        stacks[stack] = stacks.get(stack, 0) + s
        by_name[r["name"]] = by_name.get(r["name"], 0) + s
    return stacks, by_name, parent


class HtmlCheck(html.parser.HTMLParser):
    """Counts tags and checks that every non-void element closes in order."""
    VOID = {"meta", "br", "img", "input", "link", "hr", "rect"}

    def __init__(self):
        super().__init__()
        self.stack, self.tags = [], {}

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
        self.stack.pop()


def check_html(path):
    p = HtmlCheck()
    with open(path, encoding="utf-8") as f:
        p.feed(f.read())
    p.close()
    assert not p.stack, p.stack
    return p.tags


class LoadgenReport(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()
        out = run("loadgen", "--json", "--server", cls.srv.url, "--threads", "3", "--spans",
                  "3000", "--async", "40", "--depth", "5")
        assert out.returncode == 0, out.stderr
        cls.pid = json.loads(out.stdout.strip().splitlines()[-1])["process_id"]
        cls.report = analyze(cls.srv, cls.pid, "--top", "15")
        cls.streams = [s for s in cls.srv.get_json("/api/processes/%s/streams" % cls.pid)
                       if "cpu" in s["tags"]]
        con = sqlite3.connect("file:%s?mode=ro" % os.path.join(cls.srv.data_dir, "meta.sqlite"),
                              uri=True)
        parts = con.execute("SELECT view_set_name, view_instance_id, file_path FROM "
                            "lakehouse_partitions WHERE NOT retired").fetchall()
        con.close()
        sids = {s["stream_id"] for s in cls.streams}
        path = lambda p: os.path.join(cls.srv.data_dir, p)  # noqa: E731
        thread = ["(SELECT '%s' AS stream, * FROM read_parquet('%s'))" % (i, path(p))
                  for v, i, p in parts if v == "thread_spans" and i in sids]
        asyncf = ["'%s'" % path(p) for v, i, p in parts if v == "async_events" and i == cls.pid]
        assert thread and asyncf
        cls.spans_sql = (
            "WITH t AS (%s), ev AS (SELECT * FROM read_parquet([%s])), "
            "a AS (SELECT 'async' AS stream, b.span_id AS id, b.parent_span_id AS parent, "
            "b.depth, b.name, b.target, b.filename, epoch_ns(b.time) AS bg, "
            "epoch_ns(e.time) AS en FROM ev b JOIN ev e ON b.span_id = e.span_id "
            "AND b.event_type = 'begin' AND e.event_type = 'end'), "
            "s AS (SELECT stream, id, parent, depth, name, target, filename, "
            "epoch_ns(\"begin\") AS bg, epoch_ns(\"end\") AS en FROM t UNION ALL "
            "SELECT * FROM a) " % (" UNION ALL ".join(thread), ", ".join(asyncf)))

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def q(self, select):
        return duck(self.spans_sql + select)

    def test_dataset_and_durations_equal_duckdb(self):
        r = self.report
        d = self.q("SELECT count(*) AS n, count(DISTINCT name) AS names, "
                   "count(DISTINCT target) AS targets, count(DISTINCT filename) AS files, "
                   "sum(en - bg) AS total, min(en - bg) AS mn, max(en - bg) AS mx, "
                   "avg(en - bg) AS mean, stddev_samp(en - bg) AS sd, "
                   "quantile_cont(en - bg, 0.5) AS p50, quantile_cont(en - bg, 0.9) AS p90, "
                   "quantile_cont(en - bg, 0.99) AS p99, min(bg) AS first, max(en) AS last, "
                   "count(*) FILTER (WHERE stream = 'async') AS asyncs FROM s")[0]
        ds, du = r["dataset"], r["durations"]
        self.assertEqual(ds["spans"], int(d["n"]))
        self.assertEqual(ds["spans"], 3 * 3000 + 3 * 40)
        self.assertEqual(ds["async_spans"], int(d["asyncs"]))
        for k, dk in (("names", "names"), ("targets", "targets"), ("files", "files")):
            self.assertEqual(ds[k], int(d[dk]), k)
        self.assertEqual(ds["events"], 2 * ds["spans"])
        self.assertEqual(ds["unmatched_async_begins"] + ds["unmatched_async_ends"] +
                         ds["unmatched_thread_events"], 0)
        self.assertEqual(ds["first_begin_ns"], int(d["first"]))
        self.assertEqual(ds["last_end_ns"], int(d["last"]))
        self.assertEqual(du["count"], int(d["n"]))
        self.assertEqual(du["sum_ns"], int(d["total"]))
        self.assertEqual(du["min_ns"], int(d["mn"]))
        self.assertEqual(du["max_ns"], int(d["mx"]))
        self.assertTrue(close(du["mean_ns"], float(d["mean"])))
        self.assertTrue(close(du["stddev_ns"], float(d["sd"]), 1e-7))
        for k in ("p50", "p90", "p99"):  # exact: the same interpolation as quantile_cont
            self.assertTrue(close(du[k + "_ns"], float(d[k])), (k, du[k + "_ns"], d[k]))
        self.assertEqual(sum(b["count"] for b in du["histogram"]), du["count"])
        for b in du["histogram"]:
            n = self.q("SELECT count(*) AS n FROM s WHERE en - bg >= %d AND en - bg < %d"
                       % (b["lo_ns"], b["hi_ns"]))[0]["n"]
            self.assertEqual(b["count"], int(n), b)

    def test_groups_top_and_depths_equal_duckdb(self):
        r = self.report
        rows = self.q("SELECT name, count(*) AS n, sum(en - bg) AS total, max(en - bg) AS mx, "
                      "stddev_samp(en - bg) AS sd, list(en - bg ORDER BY en - bg) AS durs "
                      "FROM s GROUP BY name")
        by = {g["name"]: g for g in r["by_name"]}
        self.assertEqual(set(by), {x["name"] for x in rows})
        for x in rows:
            g = by[x["name"]]
            self.assertEqual(g["executions"], int(x["n"]))
            self.assertEqual(g["total_ns"], int(x["total"]))
            self.assertEqual(g["max_ns"], int(x["mx"]))
            if x["sd"] is not None:
                self.assertTrue(close(g["stddev_ns"], float(x["sd"]), 1e-7))
            durs = [int(v) for v in x["durs"].strip("[]").split(",")]
            # within 1% of the exact p99 (percentile_disc's rank, the sketch's own)
            import math
            k = max(1, math.ceil(0.99 * len(durs))) - 1
            lo, hi = durs[max(0, k - 1)], durs[min(len(durs) - 1, k + 1)]
            self.assertTrue(0.99 * lo <= g["p99_ns"] <= 1.01 * hi, (x["name"], g["p99_ns"],
                                                                     durs[k]))
        totals = [g["total_ns"] for g in r["by_name"]]
        self.assertEqual(totals, sorted(totals, reverse=True))
        tg = self.q("SELECT target, count(*) AS n, sum(en - bg) AS total FROM s GROUP BY 1")
        byt = {g["target"]: g for g in r["by_target"]}
        for x in tg:
            self.assertEqual(byt[x["target"]]["executions"], int(x["n"]))
            self.assertEqual(byt[x["target"]]["total_ns"], int(x["total"]))
        top = self.q("SELECT en - bg AS d FROM s ORDER BY d DESC LIMIT 15")
        self.assertEqual([t["duration_ns"] for t in r["top"]], [int(t["d"]) for t in top])
        dep = self.q("SELECT depth, count(*) AS n FROM s GROUP BY 1 ORDER BY 1")
        self.assertEqual([(h["depth"], h["spans"]) for h in r["hierarchy"]["depths"]],
                         [(int(x["depth"]), int(x["n"])) for x in dep])

    def test_self_time_stacks_and_concurrency_match_python(self):
        r = self.report
        raw = self.q("SELECT stream, id, parent, name, bg, en FROM s")
        rows = [{"stream": x["stream"], "id": int(x["id"]), "parent": int(x["parent"]),
                 "name": x["name"], "dur": int(x["en"]) - int(x["bg"]),
                 "bg": int(x["bg"]), "en": int(x["en"])} for x in raw]
        names = {s["stream_id"]: s["thread_name"] for s in self.streams}
        stacks, by_name, parent = self_and_stacks(rows, names)
        got = folded_totals(r["flame"]["folded"])
        self.assertEqual(got, stacks)
        self.assertEqual(sum(got.values()), r["flame"]["total_ns"])
        self.assertEqual(r["time"]["self_total_ns"], sum(stacks.values()))
        thread_roots = sum(x["dur"] for i, x in enumerate(rows)
                           if parent[i] is None and x["stream"] != "async")
        thread_stacks = sum(v for k, v in stacks.items() if not k.startswith("async;"))
        self.assertEqual(thread_stacks, thread_roots)  # thread spans nest: self sums to roots
        for g in r["by_name"]:
            self.assertEqual(g["self_ns"], by_name[g["name"]], g["name"])
        best, at, length = sweep([(x["bg"], x["en"]) for x in rows])
        c = r["concurrency"]["spans"]
        self.assertEqual((c["max"], c["max_at_ns"], c["max_for_ns"]), (best, at, length))
        roots = [(x["bg"], x["en"]) for i, x in enumerate(rows) if parent[i] is None]
        best, at, length = sweep(roots)
        c = r["concurrency"]["roots"]
        self.assertEqual((c["max"], c["max_at_ns"], c["max_for_ns"]), (best, at, length))
        self.assertEqual(r["hierarchy"]["roots"], len(roots))

    def test_files_parse_and_round_trip(self):
        d = tempfile.mkdtemp(prefix="sl-analyze-")
        for fmt in ("md", "html", "json"):
            path = os.path.join(d, "report." + fmt)
            out = run("analyze", self.pid, "--server", self.srv.url, "--format", fmt, "-o", path)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertTrue(os.path.getsize(path) > 0)
        with open(os.path.join(d, "report.md")) as f:
            md = f.read()
        for h in ("## Findings", "## Dataset", "## Durations", "## By name", "## By target",
                  "## Concurrency", "## Hierarchy", "## Flame graph", "## Rules"):
            self.assertIn(h, md)
        self.assertIn("(report.flame.html)", md)
        tags = check_html(os.path.join(d, "report.html"))
        self.assertGreater(tags.get("table", 0), 5)
        self.assertGreater(tags.get("svg", 0), 0)
        # the flame files next to report.*: folded, d3 JSON, SVG and an offline HTML page
        with open(os.path.join(d, "report.folded")) as f:
            folded = folded_totals(f.read().splitlines())
        self.assertEqual(folded, folded_totals(self.report["flame"]["folded"]))
        with open(os.path.join(d, "report.flame.json")) as f:
            tree = json.load(f)
        self.assertEqual(tree["value"], sum(folded.values()))

        def leaves(n, path):  # the d3 tree back to per-stack self times
            own = n["value"] - sum(c["value"] for c in n["children"])
            out = {";".join(path): own} if path and own else {}
            for c in n["children"]:
                out.update(leaves(c, path + [c["name"]]))
            return out
        self.assertEqual(leaves(tree, []), {k: v for k, v in folded.items() if v})
        svg = ET.parse(os.path.join(d, "report.flame.svg")).getroot()
        self.assertTrue(svg.tag.endswith("svg"))
        self.assertGreater(len(svg.findall(".//{http://www.w3.org/2000/svg}rect")), 5)
        tags = check_html(os.path.join(d, "report.flame.html"))
        self.assertEqual(tags.get("canvas"), 1)
        with open(os.path.join(d, "report.flame.html")) as f:
            page = f.read()
        self.assertNotIn("http://", page.replace("http://www.w3.org", ""))
        self.assertNotIn("https://", page)
        self.assertNotIn("<script src", page)

    def test_http_route_equals_cli(self):
        status, _, body = self.srv.get("/api/analyze/%s?top=15" % self.pid)
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), self.report)
        for path, code in (("/api/analyze/%s?kinds=none" % self.pid, 400),
                           ("/api/analyze/%s?begin=yesterday" % self.pid, 400),
                           ("/api/analyze/%s?top=0" % self.pid, 400),
                           ("/api/analyze/%s?max_spans=10" % self.pid, 413),
                           ("/api/analyze/%s" % uuid.uuid4(), 404),
                           ("/api/analyze/not-a-uuid", 404)):
            status, _, body = self.srv.get(path)
            self.assertEqual(status, code, (path, body))
        status, _, _ = self.srv.post("/api/analyze/%s" % self.pid, b"")
        self.assertEqual(status, 405)

    def test_bad_arguments(self):
        cases = [((), "PROCESS_ID is required"),
                 (("not-a-uuid",), "is not a process id"),
                 ((self.pid, "--kinds", "all"), "--kinds is thread, async or both"),
                 ((self.pid, "--format", "pdf"), "--format is md, json or html"),
                 ((self.pid, "--top", "0"), "--top is 1"),
                 ((self.pid, "--top", "x"), "not a non-negative integer"),
                 ((self.pid, "--begin", "yesterday"), "not an RFC 3339"),
                 ((self.pid, "--begin", "20", "--end", "10"), "--begin must come before"),
                 ((self.pid, "--data", "/x", "--server", "http://x"), "not both"),
                 ((self.pid, "--bogus"), "unexpected argument")]
        for args, msg in cases:
            out = run("analyze", *args)
            self.assertEqual(out.returncode, 2, (args, out.stderr))
            self.assertIn(msg, out.stderr, args)
        out = run("analyze", str(uuid.uuid4()), "--server", self.srv.url)
        self.assertEqual(out.returncode, 1)
        self.assertIn("no process", out.stderr)
        out = run("analyze", "--help")
        self.assertEqual(out.returncode, 0)
        self.assertIn("--kinds", out.stdout)

    def test_kinds_and_range(self):
        t = analyze(self.srv, self.pid, "--kinds", "thread")
        self.assertEqual(t["dataset"]["async_spans"], 0)
        self.assertEqual(t["dataset"]["spans"], 9000)
        a = analyze(self.srv, self.pid, "--kinds", "async")
        self.assertEqual(a["dataset"]["spans"], 120)
        self.assertTrue(all(k.startswith("async;") for k in a["flame"]["folded"]))
        mid = (self.report["dataset"]["first_begin_ns"] + self.report["dataset"]["last_end_ns"]) // 2
        h = analyze(self.srv, self.pid, "--kinds", "thread", "--begin", str(mid))
        lo, hi = [int(self.q("SELECT count(*) AS n FROM s WHERE stream <> 'async' AND en %s %d"
                             % (op, mid))[0]["n"]) for op in (">", ">=")]
        self.assertTrue(lo <= h["dataset"]["spans"] <= hi, (lo, h["dataset"]["spans"], hi))
        self.assertLess(h["dataset"]["spans"], 9000)
        self.assertIsNone(h["dataset"]["events"])  # blocks are not cut by time


T0 = 2000  # ticks (1 ns each) of the crafted process's first event


class CraftedReport(unittest.TestCase):
    """Known nesting: main: A[0,100) > B[10,30), C[40,90) > D[50,60); worker: E[20,70);
    async: X[0,50) > Y[10,80) (outlasts X), Z begun at 60 and never ended, W ended at 65
    and never begun."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server()
        pid, s1, s2 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        cls.pid = str(pid)
        post = cls.srv.post
        assert post("/ingestion/insert_process", sltest.process_msg(pid))[0] // 100 == 2
        for sid, name, tid in ((s1, "main", "1"), (s2, "worker", "2")):
            msg = sltest.stream_msg(sid, pid, props=[("thread-name", name), ("thread-id", tid)])
            assert post("/ingestion/insert_stream", msg)[0] // 100 == 2
        b1 = sltest.Body()
        d = {n: b1.desc(sltest.DESC_SPAN, n) for n in "ABCD"}
        for t, ev, n in ((0, 1, "A"), (10, 1, "B"), (30, 2, "B"), (40, 1, "C"), (50, 1, "D"),
                         (60, 2, "D"), (90, 2, "C"), (100, 2, "A")):
            b1.event(ev, T0 + t, d[n])
        b2 = sltest.Body()
        d = {n: b2.desc(sltest.DESC_SPAN, n) for n in "EXYZW"}
        # an async event's extra fields: span_id, parent_span_id, depth
        ax = lambda sp, par, dep: sltest.uvarint(sp) + sltest.uvarint(par) + sltest.uvarint(dep)  # noqa: E731
        for t, ev, n, extra in ((0, 5, "X", ax(7, 0, 0)), (10, 5, "Y", ax(8, 7, 1)),
                                (20, 1, "E", b""), (50, 6, "X", ax(7, 0, 0)),
                                (60, 5, "Z", ax(9, 0, 0)), (65, 6, "W", ax(10, 0, 0)),
                                (70, 2, "E", b""), (80, 6, "Y", ax(8, 7, 1))):
            b2.event(ev, T0 + t, d[n], extra)
        for sid, body in ((s1, b1), (s2, b2)):
            blk = sltest.Block(sid, pid, body)
            status, _, text = post("/ingestion/insert_block", blk.msg)
            assert status // 100 == 2, text
        cls.r = analyze(cls.srv, cls.pid)

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def test_known_figures(self):
        r = self.r
        ds = r["dataset"]
        self.assertEqual((ds["spans"], ds["thread_spans"], ds["async_spans"]), (8, 5, 3))
        self.assertEqual((ds["events"], ds["thread_events"], ds["async_events"]), (16, 10, 6))
        self.assertEqual((ds["unmatched_async_begins"], ds["unmatched_async_ends"],
                          ds["unmatched_thread_events"]), (1, 1, 0))
        self.assertEqual(ds["complete_spans"], 7)
        self.assertEqual(ds["threads"], 2)
        start = 1_700_000_000_000_000_000 + T0  # ticks count from the process's start time
        self.assertEqual((ds["first_begin_ns"], ds["covered_ns"]), (start, 100))
        du = r["durations"]
        self.assertEqual((du["count"], du["sum_ns"], du["min_ns"], du["max_ns"]),
                         (7, 350, 10, 100))
        self.assertEqual(du["p50_ns"], 50)
        self.assertAlmostEqual(du["p90_ns"], 82, places=6)  # 70 + 0.4 x (100 - 70)
        self.assertAlmostEqual(du["p99_ns"], 98.2, places=6)
        self.assertEqual(r["top"][0]["name"], "A")
        self.assertEqual(r["top"][0]["thread"], "main")
        self.assertEqual(r["top"][0]["begin_ns"], start)
        self_ns = {g["name"]: g["self_ns"] for g in r["by_name"]}
        self.assertEqual(self_ns, {"A": 30, "B": 20, "C": 40, "D": 10, "E": 50, "X": 0,
                                   "Y": 70, "Z": 0})
        self.assertEqual(r["time"], {"root_total_ns": 200, "self_total_ns": 220,
                                     "overlap_ns": 20})
        self.assertEqual(folded_totals(r["flame"]["folded"]),
                         {"main;A": 30, "main;A;B": 20, "main;A;C": 40, "main;A;C;D": 10,
                          "worker;E": 50, "async;X": 0, "async;X;Y": 70})
        c = r["concurrency"]
        self.assertEqual((c["spans"]["max"], c["spans"]["max_at_ns"], c["spans"]["max_for_ns"]),
                         (5, start + 20, 10))
        self.assertAlmostEqual(c["spans"]["mean"], 3.5)
        self.assertEqual((c["roots"]["max"], c["roots"]["max_at_ns"], c["roots"]["max_for_ns"]),
                         (3, start + 20, 30))
        self.assertAlmostEqual(c["roots"]["mean"], 2.0)
        h = r["hierarchy"]
        self.assertEqual((h["roots"], h["children"], h["orphans"], h["max_depth"]), (4, 4, 0, 2))
        self.assertEqual([(x["depth"], x["spans"]) for x in h["depths"]], [(0, 4), (1, 3), (2, 1)])

    def test_sentences_follow_their_rules(self):
        held = {x["id"]: x["held"] for x in self.r["rules"]}
        found = {f["rule"] for f in self.r["findings"]}
        self.assertEqual(found, {k for k, v in held.items() if v})
        # one target holds all the self time; no name reaches 40% (Y: 70 of 220)
        self.assertTrue(held["dominant_target"])
        self.assertFalse(held["dominant_name"])
        self.assertTrue(held["unmatched"])
        self.assertTrue(held["parallel"])  # 2.0 root spans open on average
        self.assertFalse(held["long_tail"])  # fewer than 100 spans
        text = [f["text"] for f in self.r["findings"] if f["rule"] == "dominant_target"][0]
        self.assertIn("'app' dominates", text)
        self.assertIn("100.0%", text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
