"""test_viewsrc.py - jobs reading a materialized view as a stream (INSERT INTO sink
SELECT ... FROM mv, a view over a view) against the oracle: the batch engine over
the non-late rows.

A windowed view (per-10-second counts per auction) feeds a filter, a tumbling
per-minute aggregation over its window_start (Nexmark q5/q7 shape: the top
count per minute), a hop over its window_end keyed by auction (rows exchanged
between workers), and a second view over it whose rows a SELECT prints.  An
append-only view (a filter of the source) feeds a pass-through job and a
tumbling GROUP BY over the source's event time.  The inputs have out-of-order,
on-the-watermark and late rows (test_stream.gen_rows).  Every case runs with
--workers 1, 2 and 4: the results equal the batch queries and each other (within
one window_end the order is left open); what the view emitted arrives in its
order (window_start never decreases in the filter's output; an append-only chain
keeps line order).  A view with emit = 'on_update' is read as its updates (here:
its final rows).  Views a job cannot read (no time column), windows over a view
with no event time (on_update) and windows over a column the view is not
ordered by are refused with the reason.  The example of docs/streaming.md ("A view is a stream") runs.

The build under test: SL_BUILD_DIR (ctest sets it), else ./build.
"""

import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_stream as ts  # noqa: E402  (the generator, the oracle, the runner)

check = ts.check
EPOCH = "TIMESTAMP '1970-01-01'"

JOBS = """
CREATE MATERIALIZED VIEW per10 AS
SELECT window_start AS ws, window_end AS we, auction, count(*) AS n, max(price) AS top
FROM tumble(bids, ts, INTERVAL '10 seconds')
GROUP BY window_start, window_end, auction;

CREATE TABLE busy (ws timestamp, auction bigint, n bigint)
  WITH (connector = 'file', path = 'busy.csv');
INSERT INTO busy SELECT ws, auction, n FROM per10 WHERE n >= 3;

CREATE TABLE hot (ws timestamp, we timestamp, most bigint, groups bigint, rows numeric)
  WITH (connector = 'file', path = 'hot.csv');
INSERT INTO hot SELECT window_start, window_end, max(n), count(*), sum(n)
FROM tumble(per10, ws, INTERVAL '1 minute')
GROUP BY window_start, window_end;

CREATE TABLE slid (ws timestamp, we timestamp, auction bigint, n numeric)
  WITH (connector = 'file', path = 'slid.csv');
INSERT INTO slid SELECT window_start, window_end, auction, sum(n)
FROM hop(per10, we, INTERVAL '20 seconds', INTERVAL '1 minute')
GROUP BY window_start, window_end, auction;

CREATE MATERIALIZED VIEW per_min AS
SELECT window_start AS minute, max(top) AS top, sum(n) AS n
FROM tumble(per10, ws, INTERVAL '1 minute')
GROUP BY window_start, window_end;

CREATE MATERIALIZED VIEW cheap AS SELECT auction, bidder, price, ts FROM bids WHERE price < 50;

CREATE TABLE picked (auction bigint, price bigint, ts timestamp)
  WITH (connector = 'file', path = 'picked.csv');
INSERT INTO picked SELECT auction, price, ts FROM cheap WHERE bidder = 'alice';

CREATE TABLE cheap10 (ws timestamp, bidder text, n bigint, total numeric)
  WITH (connector = 'file', path = 'cheap10.csv');
INSERT INTO cheap10 SELECT window_start, bidder, count(*), sum(price)
FROM tumble(cheap, ts, INTERVAL '10 seconds') GROUP BY window_start, window_end, bidder;

SELECT * FROM per_min ORDER BY minute;
"""


def oracles(d):
    src = "read_csv('%s', true, ',', '%s')" % (os.path.join(d, "keep.csv"), ts.COLS)
    bin10 = "date_bin(INTERVAL '10 seconds', ts, %s)" % EPOCH
    inner = ("SELECT %s AS ws, %s + INTERVAL '10 seconds' AS we, auction, count(*) AS n, "
             "max(price) AS top FROM %s WHERE ts IS NOT NULL GROUP BY 1, 2, 3" % (bin10, bin10, src))
    minute = "date_bin(INTERVAL '1 minute', ws, %s)" % EPOCH
    o = {}
    o["busy"] = ts.oracle(d, "SELECT ws, auction, n FROM (%s) v WHERE n >= 3 ORDER BY ws, auction"
                          % inner)
    o["hot"] = ts.oracle(d, "SELECT %s AS ws, %s + INTERVAL '1 minute' AS we, max(n) AS most, "
                         "count(*) AS groups, sum(n) AS rows FROM (%s) v GROUP BY 1, 2 ORDER BY 1"
                         % (minute, minute, inner))
    o["slid"] = ts.oracle(d, "SELECT s AS ws, s + INTERVAL '1 minute' AS we, auction, sum(n) AS n "
                          "FROM (SELECT date_bin(INTERVAL '20 seconds', we, %s) - k.k * "
                          "INTERVAL '20 seconds' AS s, auction, n FROM (%s) v "
                          "CROSS JOIN (VALUES (0), (1), (2)) AS k(k)) x GROUP BY 1, 2, 3 "
                          "ORDER BY 2, 3" % (EPOCH, inner))
    o["per_min"] = ts.oracle(d, "SELECT %s AS minute, max(top) AS top, sum(n) AS n FROM (%s) v "
                             "GROUP BY 1 ORDER BY 1" % (minute, inner))
    o["picked"] = ts.oracle(d, "SELECT auction, price, ts FROM %s WHERE price < 50 AND "
                            "bidder = 'alice' ORDER BY ts, auction, price" % src)
    o["cheap10"] = ts.oracle(d, "SELECT %s AS ws, bidder, count(*) AS n, sum(price) AS total "
                             "FROM %s WHERE price < 50 AND ts IS NOT NULL GROUP BY 1, 2 "
                             "ORDER BY 1, 2" % (bin10, src))
    return o


def run_job(d, workers, sql, name="job.sql"):
    with open(os.path.join(d, name), "w") as f:
        f.write(sql)
    out_dir = os.path.join(d, "out")
    shutil.rmtree(out_dir, ignore_errors=True)
    os.mkdir(out_dir)
    return ts.run(["run", name, "--input-dir", d, "--output-dir", out_dir, "--format", "csv",
                   "--workers", str(workers)], cwd=d)


def sink(d, name):
    with open(os.path.join(d, "out", name + ".csv")) as f:
        return ts.csv_rows(f.read())


def by_end(rows, end_col):
    """Rows with the order inside one window_end (or start) normalized."""
    return ts.sorted_within_end(rows, end_col)


def test_chain(seed, n, delay_ms):
    d = tempfile.mkdtemp(prefix="sl-viewsrc-")
    try:
        rows, keep, late = ts.make_input(d, seed, n, delay_ms)
        check(late > 0, "seed %d: the input has late rows (%d)" % (seed, late))
        o = oracles(d)
        check(all(len(v) > 5 for v in o.values()), "seed %d: the oracles have rows" % seed)
        job = ts.source_sql("%d milliseconds" % delay_ms) + JOBS
        for workers in (1, 2, 4):
            rc, out, err = run_job(d, workers, job)
            check(rc == 0, "seed %d, %d workers: jobs reading views run %s"
                  % (seed, workers, err.strip()[:400]))
            if rc:
                continue
            got = {k: sink(d, k) for k in ("busy", "hot", "slid", "picked", "cheap10")}
            w = "seed %d, %d workers" % (seed, workers)
            busy = got["busy"][1:]
            check(sorted(busy) == sorted(o["busy"][1:]),
                  "%s: a filter over a windowed view == the batch query" % w)
            check([r[0] for r in busy] == sorted(r[0] for r in busy),
                  "%s: ... its rows arrive in the view's order (window_start never decreases)" % w)
            check(got["hot"][1:] == o["hot"][1:],
                  "%s: tumble(view, window_start) per minute == the batch query" % w)
            check(sorted(got["slid"][1:]) == sorted(o["slid"][1:]),
                  "%s: hop(view, window_end) keyed by auction == the batch query" % w)
            check(sorted(got["picked"][1:]) == sorted(o["picked"][1:]),
                  "%s: a filter over an append-only view == the batch query" % w)
            check(sorted(got["cheap10"][1:]) == sorted(o["cheap10"][1:]),
                  "%s: tumble(append-only view, ts) == the batch query" % w)
            per_min = ts.csv_rows(out)[1:]
            check(per_min == o["per_min"][1:],
                  "%s: a view over a view, read by SELECT == the batch query" % w)
            ts.same_across_workers(seed, workers, "jobs reading views",
                                   (by_end(busy, 0), got["hot"], by_end(got["slid"][1:], 1),
                                    got["picked"], by_end(got["cheap10"][1:], 0), per_min))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_refused():
    d = tempfile.mkdtemp(prefix="sl-viewsrc-bad-")
    try:
        ts.make_input(d, 3, 300, 2000)
        src = ts.source_sql("2 seconds")
        out_sql = ("CREATE TABLE o (a timestamp, b bigint) WITH (connector = 'file', "
                   "path = 'o.csv');\n")
        cases = [
            ("CREATE MATERIALIZED VIEW u WITH (emit = 'on_update') AS SELECT window_start AS s, "
             "count(*) AS n FROM tumble(bids, ts, INTERVAL '10 seconds') GROUP BY window_start;\n"
             "INSERT INTO o SELECT window_start, sum(n) FROM tumble(u, s, INTERVAL '1 minute') "
             "GROUP BY window_start;\n",
             "which carry no event time", "a window over a view with emit = 'on_update'"),
            ("CREATE MATERIALIZED VIEW u AS SELECT bidder, count(*) AS n FROM bids "
             "GROUP BY bidder;\nINSERT INTO o SELECT window_start, count(*) FROM "
             "tumble(u, n, INTERVAL '1 minute') GROUP BY window_start;\n",
             "which carry no event time", "a window over a GROUP BY without a window (updates)"),
            ("CREATE MATERIALIZED VIEW u AS SELECT auction, count(*) AS n FROM "
             "tumble(bids, ts, INTERVAL '10 seconds') GROUP BY window_start, auction;\n"
             "INSERT INTO o SELECT NULL, n FROM u;\n",
             "neither window_start nor window_end", "a view without its window's columns"),
            ("CREATE MATERIALIZED VIEW u AS SELECT window_start AS s, window_end AS e, count(*) "
             "AS n FROM tumble(bids, ts, INTERVAL '10 seconds') GROUP BY window_start, window_end;\n"
             "INSERT INTO o SELECT window_start, max(n) FROM tumble(u, n, INTERVAL '1 minute') "
             "GROUP BY window_start;\n",
             "in the order of \"s\" or \"e\"", "a window over another column"),
            ("CREATE MATERIALIZED VIEW u AS SELECT window_start, window_end, count(*) AS n FROM "
             "tumble(bids, ts, INTERVAL '10 seconds') GROUP BY window_start, window_end;\n"
             "INSERT INTO o SELECT window_start, max(n) FROM tumble(u, window_start, "
             "INTERVAL '1 minute') GROUP BY window_start;\n",
             "has a column named window_start", "a window over a view with window columns"),
            ("CREATE MATERIALIZED VIEW u AS SELECT bidder, window_start AS s, window_end AS e, "
             "count(*) AS n FROM session(bids, ts, INTERVAL '5 seconds') GROUP BY bidder, "
             "window_start, window_end;\nINSERT INTO o SELECT window_start, max(n) FROM "
             "tumble(u, s, INTERVAL '1 minute') GROUP BY window_start;\n",
             "in the order of \"e\",", "a session view over its window_start"),
        ]
        for body, want, what in cases:
            rc, out, err = run_job(d, 2, src + out_sql + body)
            check(rc != 0 and want in err, "refused with the reason: %s (%s)" % (what, err.strip()[:300]))
        # a lookup join of an update view: its rows may be appended, not kept by key (the
        # view's deletions would not reach them)
        with open(os.path.join(d, "names.csv"), "w") as f:
            f.write("id,name\n1,one\n2,two\n3,three\n")
        lookup = ("CREATE TABLE names (id bigint, name text) WITH (connector = 'file', "
                  "path = 'names.csv');\nCREATE MATERIALIZED VIEW u WITH (emit = 'on_update') AS "
                  "SELECT auction, count(*) AS n FROM bids GROUP BY auction HAVING count(*) < 40;\n")
        join = "SELECT u.auction, u.n, names.name FROM u JOIN names ON u.auction = names.id;\n"
        kinds = (("CREATE MATERIALIZED VIEW e AS " + join, "a view"),
                 ("CREATE MATERIALIZED VIEW e WITH (emit = 'on_update') AS " + join,
                  "a view with emit = 'on_update'"),
                 ("CREATE TABLE k (auction bigint, n bigint, name text, op text) WITH "
                  "(connector = 'file', path = 'k.csv', op_column = 'op');\nINSERT INTO k " + join,
                  "a sink with op_column"))
        for workers in (1, 2, 4):
            for body, what in kinds:
                rc, out, err = run_job(d, workers, src + lookup + body)
                check(rc != 0 and "deletions do not reach the joined rows" in err and
                      "\"u\"'s own query" in err,
                      "%d workers: a lookup join of an update view into %s is refused %s"
                      % (workers, what, err.strip()[:300]))
            rc, out, err = run_job(d, workers, src + lookup + "CREATE TABLE k (auction bigint, "
                                   "n bigint, name text) WITH (connector = 'file', path = "
                                   "'k.csv');\nINSERT INTO k " + join)
            rows = sink(d, "k") if rc == 0 else []
            check(rc == 0 and len(rows) > 1 and all(r[2] in ("one", "two", "three") for r in rows[1:]),
                  "%d workers: appended to a sink without op_column, the joined updates are "
                  "written (%d rows) %s" % (workers, len(rows) - 1, err.strip()[:200]))
        # a session view is a stream in window_end order
        body = ("CREATE MATERIALIZED VIEW u AS SELECT bidder, window_start AS s, window_end AS e, "
                "count(*) AS n FROM session(bids, ts, INTERVAL '5 seconds') GROUP BY bidder, "
                "window_start, window_end;\nINSERT INTO o SELECT window_start, sum(n) FROM "
                "tumble(u, e, INTERVAL '1 minute') GROUP BY window_start;\n")
        rc, out, err = run_job(d, 2, src + out_sql + body)
        rows = sink(d, "o") if rc == 0 else []
        total = sum(int(r[1]) for r in rows[1:])
        keep = [r for r in ts.split_late(ts.gen_rows(3, 300, 2000), 2000)[0] if r[3] is not None]
        check(rc == 0 and total == len(keep),
              "tumble over a session view's window_end counts every sessioned row (%d, %d) %s"
              % (total, len(keep), err.strip()[:200]))
    finally:
        shutil.rmtree(d, ignore_errors=True)


UPDATES = """
CREATE MATERIALIZED VIEW byb AS
SELECT auction, bidder, count(*) AS n, sum(price) AS total FROM bids
GROUP BY auction, bidder;

CREATE TABLE big (auction bigint, bidder text, n bigint, total numeric)
  WITH (connector = 'file', path = 'big.csv');
INSERT INTO big SELECT auction, bidder, n, total FROM byb WHERE n >= 3;

CREATE TABLE small (op text, bidder text, auction bigint, n bigint)
  WITH (connector = 'file', path = 'small.csv', op_column = 'op');
INSERT INTO small SELECT bidder, auction, n FROM byb WHERE n % 2 = 0;

CREATE MATERIALIZED VIEW summary AS SELECT count(*) AS keys, max(n) AS most FROM byb;
SELECT * FROM summary;
"""


def test_updates(seed, n, delay_ms):
    """A view that emits updates (a GROUP BY without a window) read as a stream: in
    `streamlake run` its job has ended, so a reader gets its final rows, one per
    group (on a server a reader follows each update: tests/e2e/test_stream_jobs.py)."""
    d = tempfile.mkdtemp(prefix="sl-viewsrc-upd-")
    try:
        ts.make_input(d, seed, n, delay_ms)
        src = "read_csv('%s', true, ',', '%s')" % (os.path.join(d, "keep.csv"), ts.COLS)
        want_big = ts.oracle(d, "SELECT auction, bidder, count(*), sum(price) FROM %s "
                             "GROUP BY 1, 2 HAVING count(*) >= 3" % src)[1:]
        want_sum = ts.oracle(d, "SELECT count(*), max(n) FROM (SELECT auction, bidder, "
                             "count(*) AS n FROM %s GROUP BY 1, 2) g" % src)[1:]
        want_small = [["upsert", b, a, c] for a, b, c in ts.oracle(
            d, "SELECT auction, bidder, count(*) FROM %s GROUP BY 1, 2 HAVING count(*) %% 2 = 0"
            % src)[1:]]
        check(len(want_big) > 5 and len(want_small) > 5, "seed %d: the oracle has rows (%d, %d)"
              % (seed, len(want_big), len(want_small)))
        job = ts.source_sql("%d milliseconds" % delay_ms) + UPDATES
        for workers in (1, 2, 4):
            rc, out, err = run_job(d, workers, job)
            w = "seed %d, %d workers" % (seed, workers)
            check(rc == 0, "%s: jobs reading an on_update view run %s" % (w, err.strip()[:400]))
            if rc:
                continue
            check(sorted(sink(d, "big")[1:]) == sorted(want_big),
                  "%s: a filter over an on_update view gets each group's final row" % w)
            check(ts.csv_rows(out)[1:] == want_sum,
                  "%s: an aggregation over it counts one row per group" % w)
            # keyed by the view's key (op_column): the final rows as upserts
            check(sorted(sink(d, "small")[1:]) == sorted(want_small),
                  "%s: a filter over an on_update view into an op_column sink upserts each "
                  "group's final row" % w)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_docs():
    """The examples of "A view is a stream" in docs/streaming.md: views.sql and
    updates.sql over bids.csv print the blocks views_output and updates_output."""
    with open(os.path.join(ts.ROOT, "docs", "streaming.md")) as f:
        blocks = {name: body for _, name, body in
                  re.findall(r"```(\w+) ([\w.]+)\n(.*?)```", f.read(), re.S)}
    d = tempfile.mkdtemp(prefix="sl-viewsrc-doc-")
    try:
        for name in ("bids.csv", "views.sql", "updates.sql"):
            with open(os.path.join(d, name), "w") as f:
                f.write(blocks[name])
        for job in ("views", "updates"):
            for workers in (1, 2):
                rc, out, err = ts.run(["run", job + ".sql", "--workers", str(workers)], cwd=d)
                ok = rc == 0 and out == blocks[job + "_output"]
                check(ok, "docs %s example output, %d workers" % (job, workers) +
                      ("" if ok else ":\n%s%s" % (out, err)))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    test_chain(7, 1500, 3000)
    test_chain(3, 4000, 12000)
    test_chain(11, 800, 0)
    test_refused()
    test_updates(5, 4000, 3000)
    test_docs()
    ts.finish()


if __name__ == "__main__":
    main()
