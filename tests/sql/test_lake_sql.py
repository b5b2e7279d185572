#!/usr/bin/python3
"""SQL over the lake: golden tests for every lake table and table function.

A server ingests a `streamlake loadgen` process whose event counts are known
exactly; every table and function must give those counts, the same rows as
the lake's own view API (GET /api/views, what `streamlake view` prints), and
perfetto_trace_chunks must give the very bytes of GET .../trace.pftrace (what
`streamlake trace` writes).  Also: time ranges prune and give the rows they
should, the HTTP API's begin/end, errors as JSON with SQLSTATE and position,
read_csv/read_parquet only under --files, DuckDB agreeing with us on the
lake's own Parquet files, and the shell-less CLI.
"""

import csv
import io
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import sltest  # noqa: E402

NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "node")
THREADS, SPANS, ASYNC, LOGS, METRICS = 3, 2000, 30, 40, 25


def loadgen(url):
    out = subprocess.run([sltest.binary(), "loadgen", "--json", "--server", url,
                          "--threads", str(THREADS), "--spans", str(SPANS), "--depth", "5",
                          "--async", str(ASYNC), "--logs", str(LOGS), "--metrics", str(METRICS)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


class Lake:
    """One server and one loadgen process for the whole module."""
    srv = None
    pid = None
    files = None


def setUpModule():
    Lake.files = tempfile.mkdtemp(prefix="sl-files-")
    Lake.srv = sltest.Server(args=["--files", Lake.files])
    Lake.pid = loadgen(Lake.srv.url)["process_id"]


def tearDownModule():
    code = Lake.srv.stop()
    log = Lake.srv.log_text()
    Lake.srv.cleanup()
    subprocess.run(["rm", "-rf", Lake.files])
    # under the sanitizers a leak or an error makes the exit code non-zero
    assert code == 0, "server exit %r:\n%s" % (code, log[-4000:])


def query(sql, params=None, begin=None, end=None, fmt="json", expect=200):
    body = {"sql": sql}
    if params is not None:
        body["params"] = params
    if begin is not None:
        body["begin"] = begin
    if end is not None:
        body["end"] = end
    st, hdr, data = Lake.srv.post("/api/query?format=" + fmt, json.dumps(body).encode(),
                                  timeout=600)
    assert st == expect, (st, data[:2000])
    return hdr, data.decode()


def rows(sql, **kw):
    """(column names, rows as lists) of one statement's JSON-lines result."""
    _, text = query(sql, **kw)
    lines = [json.loads(line) for line in text.splitlines()]
    assert "columns" in lines[0], lines[:2]
    names = [c["name"] for c in lines[0]["columns"]]
    out = [ln for ln in lines[1:] if isinstance(ln, list)]
    tail = lines[-1]
    assert "end" in tail, tail
    return names, out


def scalar(sql, **kw):
    return rows(sql, **kw)[1][0][0]


def view_csv(view, instance, extra=""):
    st, _, body = Lake.srv.get("/api/views/%s/%s?format=csv%s" % (view, instance, extra),
                               timeout=600)
    assert st == 200, body
    return list(csv.DictReader(io.StringIO(body.decode())))


class Tables(unittest.TestCase):
    def test_processes(self):
        names, r = rows("SELECT * FROM processes")
        self.assertEqual(len(r), 1)
        row = dict(zip(names, r[0]))
        api = [p for p in Lake.srv.get_json("/api/processes") if p["process_id"] == Lake.pid][0]
        self.assertEqual(row["process_id"], Lake.pid)
        for k in ("exe", "username", "computer"):
            self.assertEqual(row[k], api[k], k)
        self.assertIsInstance(row["properties"], dict)  # jsonb comes back as JSON
        self.assertEqual(names, ["process_id", "exe", "username", "realname", "computer",
                                 "distro", "cpu_brand", "tsc_frequency", "start_time",
                                 "start_ticks", "parent_process_id", "properties",
                                 "insert_time"])
        # a point lookup by id, and an id that is not there
        self.assertEqual(scalar("SELECT count(*) FROM processes WHERE process_id = $1",
                                params=[Lake.pid]), 1)
        self.assertEqual(scalar("SELECT count(*) FROM processes WHERE process_id = "
                                "'00000000-0000-4000-8000-000000000000'"), 0)

    def test_streams_and_blocks(self):
        names, r = rows("SELECT tags, properties->>'thread-name' AS tn FROM streams "
                        "WHERE process_id = $1 ORDER BY 2", params=[Lake.pid])
        cpu = [x for x in r if "cpu" in x[0]]
        self.assertEqual(len(cpu), THREADS)
        self.assertTrue(any("log" in x[0] for x in r) and any("metrics" in x[0] for x in r))
        self.assertEqual(scalar("SELECT count(*) FROM streams WHERE 'cpu' = ANY(tags)"), THREADS)
        nb = scalar("SELECT sum(nb_objects) FROM blocks WHERE process_id = $1", params=[Lake.pid])
        api = [p for p in Lake.srv.get_json("/api/processes") if p["process_id"] == Lake.pid][0]
        self.assertEqual(int(nb), api["event_count"])
        self.assertEqual(scalar("SELECT count(*) FROM blocks"), api["block_count"])

    def test_log_entries_and_measures(self):
        self.assertEqual(scalar("SELECT count(*) FROM log_entries"), THREADS * LOGS)
        self.assertEqual(scalar("SELECT count(*) FROM measures"), THREADS * METRICS)
        _, ours = rows("SELECT time, level, target, msg FROM log_entries ORDER BY time, msg",
                       fmt="json")
        api = view_csv("log_entries", Lake.pid)
        self.assertEqual(sorted(r["msg"] for r in api), sorted(x[3] for x in ours))
        self.assertEqual(sorted(int(r["level"]) for r in api), sorted(x[1] for x in ours))
        # log_stats counts the same lines per minute
        self.assertEqual(int(scalar("SELECT sum(count) FROM log_stats")), THREADS * LOGS)
        _, per_level = rows("SELECT level, count(*) FROM log_entries GROUP BY 1 ORDER BY 1")
        _, per_level2 = rows("SELECT level, sum(count)::int8 FROM log_stats GROUP BY 1 ORDER BY 1")
        self.assertEqual(per_level, per_level2)
        _, m = rows("SELECT name, count(*), min(value), max(value) FROM measures GROUP BY 1 "
                    "ORDER BY 1")
        api = view_csv("measures", Lake.pid)
        self.assertEqual(sorted(set(r["name"] for r in api)), [x[0] for x in m])
        self.assertEqual(sum(x[1] for x in m), len(api))

    def test_view_instance_matches_the_view_api(self):
        _, streams = rows("SELECT stream_id FROM streams WHERE 'cpu' = ANY(tags) ORDER BY 1")
        sid = streams[0][0]
        _, ours = rows("SELECT id, parent, depth, begin, \"end\", duration, name FROM "
                       "view_instance('thread_spans', $1)", params=[sid])
        api = view_csv("thread_spans", sid)
        self.assertEqual(len(ours), SPANS)
        self.assertEqual([int(r["id"]) for r in api], [x[0] for x in ours])
        self.assertEqual([int(r["duration"]) for r in api], [x[5] for x in ours])
        self.assertEqual([r["name"] for r in api], [x[6] for x in ours])
        self.assertEqual(scalar("SELECT count(*) FROM view_instance('async_events', $1)",
                                params=[Lake.pid]), THREADS * ASYNC * 2)
        for v, n in (("log_entries", LOGS), ("measures", METRICS)):
            self.assertEqual(scalar("SELECT count(*) FROM view_instance('%s', $1)" % v,
                                    params=[Lake.pid]), THREADS * n)
        # a wrong instance or view is a clear error
        _, text = query("SELECT * FROM view_instance('thread_spans', 'nope')", expect=400)
        self.assertIn("22023", text)
        _, text = query("SELECT * FROM view_instance('nosuch', $1)", params=[Lake.pid], expect=400)
        self.assertIn("unknown view", text)

    def test_process_spans(self):
        for kind, want in (("thread", THREADS * SPANS), ("async", THREADS * ASYNC),
                           ("both", THREADS * (SPANS + ASYNC))):
            self.assertEqual(scalar("SELECT count(*) FROM process_spans($1, $2)",
                                    params=[Lake.pid, kind]), want, kind)
        _, per_thread = rows("SELECT thread_name, count(*) FROM process_spans($1, 'thread') "
                             "GROUP BY 1 ORDER BY 1", params=[Lake.pid])
        self.assertEqual([x[1] for x in per_thread], [SPANS] * THREADS)
        self.assertEqual(scalar("SELECT count(*) FROM process_spans($1, 'async') "
                                "WHERE duration >= 0 AND \"end\" >= begin", params=[Lake.pid]),
                         THREADS * ASYNC)
        _, text = query("SELECT 1 FROM process_spans($1, 'sideways')", params=[Lake.pid],
                        expect=400)
        self.assertIn("thread", text)

    def test_top_n_is_the_head_of_the_full_sort(self):
        # ORDER BY ... LIMIT runs on the scan's workers and skips row groups by a
        # bound from the rows kept; the rows must be the full sort's first ones
        for order, where in (("duration DESC", ""), ("duration", ""), ("begin DESC", ""),
                             ("duration DESC", "WHERE depth > 1"), ("\"end\"", "WHERE depth = 0")):
            base = ("SELECT stream_id, begin, duration FROM process_spans($1, 'thread') %s "
                    "ORDER BY %s, stream_id, begin" % (where, order))
            _, full = rows(base, params=[Lake.pid])
            self.assertGreater(len(full), 40, base)
            for k in (1, 10, 500):
                _, top = rows(base + " LIMIT %d" % k, params=[Lake.pid])
                self.assertEqual(top, full[:k], (order, where, k))
        _, off = rows("SELECT begin, duration FROM process_spans($1, 'thread') "
                      "ORDER BY duration DESC, begin OFFSET 7 LIMIT 3", params=[Lake.pid])
        _, full = rows("SELECT begin, duration FROM process_spans($1, 'thread') "
                       "ORDER BY duration DESC, begin", params=[Lake.pid])
        self.assertEqual(off, full[7:10])

    def test_distinct_aggregates_on_parallel_workers(self):
        # DISTINCT aggregates run on the scan's workers and merge their (group, value)
        # pairs: the same answers as the plain formulation over SELECT DISTINCT
        _, got = rows("SELECT thread_name, count(DISTINCT name), count(DISTINCT depth), "
                      "sum(DISTINCT depth), count(DISTINCT name) FILTER (WHERE depth > 2), "
                      "count(*) FROM process_spans($1, 'thread') GROUP BY 1 ORDER BY 1",
                      params=[Lake.pid])
        _, names = rows("SELECT thread_name, count(*) FROM (SELECT DISTINCT thread_name, name "
                        "FROM process_spans($1, 'thread')) s GROUP BY 1 ORDER BY 1",
                        params=[Lake.pid])
        _, depths = rows("SELECT thread_name, count(*), sum(depth) FROM (SELECT DISTINCT "
                         "thread_name, depth FROM process_spans($1, 'thread')) s "
                         "GROUP BY 1 ORDER BY 1", params=[Lake.pid])
        _, deep = rows("SELECT thread_name, count(*) FROM (SELECT DISTINCT thread_name, name "
                       "FROM process_spans($1, 'thread') WHERE depth > 2) s GROUP BY 1 "
                       "ORDER BY 1", params=[Lake.pid])
        self.assertEqual(len(got), THREADS)
        for g, n, d, dd in zip(got, names, depths, deep):
            self.assertEqual([g[0], g[1]], n)
            self.assertEqual([g[0], g[2], g[3]], d)
            self.assertEqual([g[0], g[4]], dd)
            self.assertEqual(g[5], SPANS)
        self.assertEqual(scalar("SELECT count(DISTINCT name) FROM process_spans($1, 'thread')",
                                params=[Lake.pid]),
                         scalar("SELECT count(*) FROM (SELECT DISTINCT name FROM "
                                "process_spans($1, 'thread')) s", params=[Lake.pid]))

    def test_admin_materialize_and_retire(self):
        pid = Lake.pid
        _, built = rows("SELECT view_set_name, view_instance_id, partitions, error FROM "
                        "materialize_partitions('log_entries', NULL, NULL)")
        self.assertIn(["log_entries", pid, 1, None], [r[:2] + [min(r[2], 1), r[3]] for r in built])
        _, threads = rows("SELECT count(*), sum(partitions), count(error) FROM "
                          "materialize_partitions('thread_spans', '2000-01-01', '2100-01-01')")
        self.assertEqual(threads[0][0], THREADS)
        self.assertGreaterEqual(threads[0][1], THREADS)
        self.assertEqual(threads[0][2], 0)
        # a range with no events selects no process
        self.assertEqual(scalar("SELECT count(*) FROM materialize_partitions('measures', "
                                "'2100-01-01', NULL)"), 0)
        want = scalar("SELECT count(*) FROM log_entries WHERE process_id = $1", params=[pid])
        _, gone = rows("SELECT file_path, row_count FROM retire_partitions('log_entries', $1, "
                       "NULL, NULL)", params=[pid])
        self.assertGreaterEqual(len(gone), 1)
        self.assertEqual(sum(r[1] for r in gone), want)
        retired = scalar("SELECT count(*) FROM list_partitions() WHERE retired AND "
                         "file_path = ANY($1)", params=["{%s}" % ",".join(r[0] for r in gone)])
        self.assertEqual(retired, len(gone))
        # the next read builds them again, and says so; the one after reuses them
        _, text = query("EXPLAIN ANALYZE SELECT count(*) FROM log_entries WHERE process_id = $1",
                        params=[pid], fmt="csv")
        self.assertRegex(text, r"partitions built: [1-9]")
        _, text = query("EXPLAIN ANALYZE SELECT count(*) FROM log_entries WHERE process_id = $1",
                        params=[pid], fmt="csv")
        self.assertIn("partitions built: 0", text)
        self.assertEqual(scalar("SELECT count(*) FROM log_entries WHERE process_id = $1",
                                params=[pid]), want)
        # nothing left to retire in an empty range; views without partitions are refused
        self.assertEqual(scalar("SELECT count(*) FROM retire_partitions('log_entries', $1, "
                                "'2100-01-01', NULL)", params=[pid]), 0)
        for sql in ("SELECT * FROM materialize_partitions('processes')",
                    "SELECT * FROM retire_partitions('nope', 'x')",
                    "SELECT * FROM retire_partitions('thread_spans', 'not-a-stream')"):
            _, text = query(sql, expect=400)
            self.assertIn("22023", text, sql)

    def test_joins_on_parallel_workers(self):
        # filters, projections and hash-join probes between a parallel scan and an
        # aggregation or a top-N run on the scan's workers: the answers must be the
        # ones the same data gives without joins
        pid = Lake.pid
        total = scalar("SELECT sum(duration) FROM process_spans($1, 'thread')", params=[pid])
        _, by_exe = rows("SELECT p.exe, count(*), sum(s.duration) FROM process_spans($1, 'thread') s "
                         "JOIN streams st ON s.stream_id = st.stream_id "
                         "JOIN processes p ON st.process_id = p.process_id GROUP BY 1", params=[pid])
        self.assertEqual(len(by_exe), 1)
        self.assertEqual(by_exe[0][1:], [THREADS * SPANS, total])
        _, per_thread = rows("SELECT thread_name, count(*), sum(duration) FROM "
                             "process_spans($1, 'thread') WHERE depth > 0 GROUP BY 1 ORDER BY 1",
                             params=[pid])
        _, joined = rows("SELECT st.properties->>'thread-name', count(*), sum(s.d2) / 2 FROM "
                         "(SELECT stream_id, duration * 2 AS d2 FROM process_spans($1, 'thread') "
                         "WHERE depth > 0) s LEFT JOIN streams st ON s.stream_id = st.stream_id "
                         "GROUP BY 1 ORDER BY 1", params=[pid])
        self.assertEqual([[r[0], r[1], int(r[2])] for r in joined],
                         [[r[0], r[1], int(r[2])] for r in per_thread])
        # semi and anti joins; a build side with every key twice (pairs, not the direct path)
        self.assertEqual(scalar("SELECT count(*) FROM process_spans($1, 'thread') s WHERE "
                                "s.stream_id IN (SELECT stream_id FROM streams)", params=[pid]),
                         THREADS * SPANS)
        self.assertEqual(scalar("SELECT count(*) FROM process_spans($1, 'thread') s WHERE NOT "
                                "EXISTS (SELECT 1 FROM streams st WHERE st.stream_id = s.stream_id "
                                "AND st.process_id = $1)", params=[pid]), 0)
        self.assertEqual(scalar("SELECT count(*), sum(s.depth) FROM process_spans($1, 'thread') s "
                                "JOIN (SELECT stream_id FROM streams UNION ALL SELECT stream_id "
                                "FROM streams) d ON s.stream_id = d.stream_id", params=[pid]),
                         2 * THREADS * SPANS)
        # a top-N over a join: the head of the full sort
        q = ("SELECT s.begin, s.duration, st.stream_id FROM process_spans($1, 'thread') s JOIN "
             "streams st ON s.stream_id = st.stream_id ORDER BY s.duration DESC, s.begin")
        _, full = rows(q, params=[pid])
        _, top = rows(q + " LIMIT 25", params=[pid])
        self.assertEqual(top, full[:25])

    def test_perfetto_trace_chunks_are_the_trace(self):
        st, _, trace = Lake.srv.get("/api/processes/%s/trace.pftrace" % Lake.pid, timeout=600)
        self.assertEqual(st, 200)
        _, text = query("SELECT chunk_id, encode(chunk_data, 'hex') FROM "
                        "perfetto_trace_chunks($1, 'both') ORDER BY chunk_id",
                        params=[Lake.pid], fmt="csv")
        r = list(csv.reader(io.StringIO(text)))[1:]
        self.assertEqual([int(x[0]) for x in r], list(range(len(r))))
        ours = b"".join(bytes.fromhex(x[1]) for x in r)
        self.assertEqual(ours, trace)
        self.assertGreater(len(trace), 1000)

    def test_admin_listings(self):
        scalar("SELECT count(*) FROM process_spans($1)", params=[Lake.pid])  # builds partitions
        _, vs = rows("SELECT view_set_name FROM list_view_sets() ORDER BY 1")
        self.assertEqual([x[0] for x in vs], sorted(["async_events", "blocks", "log_entries",
                                                     "measures", "otel_spans", "processes",
                                                     "streams", "thread_spans"]))
        n = scalar("SELECT count(*) FROM list_partitions() WHERE view_set_name = 'thread_spans' "
                   "AND NOT retired")
        self.assertGreaterEqual(n, THREADS)
        self.assertEqual(int(scalar("SELECT sum(row_count) FROM list_partitions() WHERE "
                                    "view_set_name = 'thread_spans' AND NOT retired")),
                         THREADS * SPANS)

    def test_time_ranges(self):
        _, b = rows("SELECT min(time), max(time) FROM log_entries")
        lo, hi = b[0]
        _, mid = rows("SELECT time FROM log_entries ORDER BY time OFFSET $1 LIMIT 1",
                      params=[THREADS * LOGS // 2])
        t = mid[0][0]
        inside = scalar("SELECT count(*) FROM log_entries WHERE time >= $1", params=[t])
        self.assertGreater(inside, 0)
        self.assertLess(inside, THREADS * LOGS)
        # the request's range applies to every lake table, as a predicate would
        self.assertEqual(scalar("SELECT count(*) FROM log_entries", begin=t.replace(" ", "T")
                                .replace("+00", "Z")), inside)
        # the plan shows the range pushed into the scan
        _, text = query("EXPLAIN SELECT count(*) FROM log_entries WHERE time >= $1",
                        params=[t], fmt="csv")
        self.assertIn("Time Range", text)
        # spans overlapping a range: the same as the view API's range
        _, streams = rows("SELECT stream_id FROM streams WHERE 'cpu' = ANY(tags) ORDER BY 1")
        sid = streams[0][0]
        _, spans = rows("SELECT begin FROM view_instance('thread_spans', $1) ORDER BY begin",
                        params=[sid])
        b0 = spans[len(spans) // 2][0]
        n = scalar("SELECT count(*) FROM view_instance('thread_spans', $1) WHERE begin >= $2",
                   params=[sid, b0])
        self.assertEqual(n, len([s for s in spans if s[0] >= b0]))
        del lo, hi


class Interfaces(unittest.TestCase):
    def test_errors_are_json_with_sqlstate_and_position(self):
        st, _, body = Lake.srv.post("/api/query", json.dumps(
            {"sql": "SELECT nme FROM processes"}).encode())
        self.assertEqual(st, 400)
        err = json.loads(body)["error"]
        self.assertEqual(err["sqlstate"], "42703")
        self.assertEqual(err["position"], 8)
        st, _, body = Lake.srv.post("/api/query", b"{\"sql\": 5}")
        self.assertEqual(st, 400)
        st, _, body = Lake.srv.post("/api/query", json.dumps({"sql": "SELEC 1"}).encode())
        self.assertEqual(json.loads(body)["error"]["sqlstate"], "42601")
        # a failure after rows were sent ends the stream with an error line
        _, text = query("SELECT 10 / (3 - g) FROM generate_series(1, 5) g")
        self.assertEqual(json.loads(text.splitlines()[-1])["error"]["sqlstate"], "22012")

    def test_formats(self):
        hdr, text = query("SELECT 1 AS a, 'x,y' AS b, NULL::text AS c, ''::text AS d", fmt="csv")
        self.assertEqual(text, "a,b,c,d\n1,\"x,y\",,\"\"\n")
        self.assertTrue(hdr["content-type"].startswith("text/csv"))
        _, text = query("SELECT 1 AS a", fmt="table")
        self.assertEqual(text, " a \n---\n 1\n(1 row)\n\n")
        st, hdr, data = Lake.srv.post("/api/query", json.dumps({"sql": "SELECT 1"}).encode(),
                                      headers={"Accept": "text/csv"})
        self.assertEqual(data.decode(), "?column?\n1\n")

    def test_several_statements_and_settings(self):
        _, text = query("SET work_mem = '8MB'; SHOW work_mem; SELECT 2 AS x")
        lines = [json.loads(x) for x in text.splitlines()]
        self.assertIn(["8MB"], lines)
        self.assertIn([2], lines)

    def test_files_are_allowlisted(self):
        path = os.path.join(Lake.files, "w.csv")
        with open(path, "w") as f:
            f.write("station,temp\nOslo,-3.5\nLima,21.0\nOslo,1.5\n")
        _, r = rows("SELECT station, min(temp), max(temp), count(*) FROM read_csv($1) "
                    "GROUP BY 1 ORDER BY 1", params=[path])
        self.assertEqual(r, [["Lima", "21", "21", 1], ["Oslo", "-3.5", "1.5", 2]]
                         if isinstance(r[0][1], str) else
                         [["Lima", 21.0, 21.0, 1], ["Oslo", -3.5, 1.5, 2]])
        for bad in ("/etc/passwd", os.path.join(Lake.files, "..", "x.csv")):
            st, _, body = Lake.srv.post("/api/query", json.dumps(
                {"sql": "SELECT * FROM read_csv($1)", "params": [bad]}).encode())
            self.assertIn(st, (400, 404), body)
            self.assertIn(json.loads(body)["error"]["sqlstate"], ("42501", "58P01"))
        # a Parquet partition of the lake, copied under the allowed directory, reads back
        scalar("SELECT count(*) FROM process_spans($1)", params=[Lake.pid])
        _, parts = rows("SELECT file_path, row_count FROM list_partitions() WHERE "
                        "view_set_name = 'thread_spans' AND NOT retired LIMIT 1")
        dst = os.path.join(Lake.files, "part.parquet")
        with open(dst, "wb") as b:
            b.write(sltest.read_object(Lake.srv.data_dir, parts[0][0]))
        self.assertEqual(scalar("SELECT count(*) FROM read_parquet($1)", params=[dst]),
                         parts[0][1])

    def test_duckdb_agrees_on_the_lakes_parquet(self):
        """The same telemetry queries over the lake's own partition files: ours and DuckDB's."""
        scalar("SELECT count(*) FROM process_spans($1)", params=[Lake.pid])
        _, parts = rows("SELECT file_path FROM list_partitions() WHERE view_set_name = "
                        "'thread_spans' AND NOT retired ORDER BY 1")
        paths = []
        for i, (p,) in enumerate(parts):
            dst = os.path.join(Lake.files, "ts-%d.parquet" % i)
            with open(dst, "wb") as b:
                b.write(sltest.read_object(Lake.srv.data_dir, p))
            paths.append(dst)
        glob = os.path.join(Lake.files, "ts-*.parquet")
        queries = [
            "SELECT name, count(*) AS n, sum(duration) AS total FROM read_parquet('{g}') "
            "GROUP BY name ORDER BY name",
            "SELECT depth, min(duration) AS lo, max(duration) AS hi FROM read_parquet('{g}') "
            "GROUP BY depth ORDER BY depth",
            "SELECT id, duration FROM read_parquet('{g}') ORDER BY duration DESC, id LIMIT 10",
            "SELECT count(*) AS n FROM read_parquet('{g}') WHERE name LIKE 'task-%' AND depth > 1",
        ]
        for q in queries:
            _, ours = rows(q.format(g=glob))
            out = subprocess.run(["node", "duckdb_rows.mjs", q.format(g=glob)], cwd=NODE_DIR,
                                 capture_output=True, text=True, timeout=300)
            self.assertEqual(out.returncode, 0, out.stderr)
            duck = [list(json.loads(x).values()) for x in out.stdout.splitlines()]
            norm = [[str(v) for v in r] for r in ours]
            self.assertEqual(norm, [[str(v) for v in r] for r in duck], q)

    def test_cli(self):
        out = subprocess.run([sltest.binary(), "sql", "--server", Lake.srv.url,
                              "SELECT count(*) AS n FROM log_entries", "--format", "csv"],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout, "n\n%d\n" % (THREADS * LOGS))
        out = subprocess.run([sltest.binary(), "sql", "--server", Lake.srv.url, "SELEC 1"],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 1)
        self.assertIn("syntax error", out.stdout + out.stderr)
        out = subprocess.run([sltest.binary(), "sql", "--help"], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0)
        self.assertIn("--format", out.stdout)


if __name__ == "__main__":
    unittest.main()
