"""test_ijoin.py - interval joins of two streams against the oracle: the batch
engine running the same join over the non-late rows of both files.

Two generated streams (test_stream.gen_rows: out-of-order rows, rows exactly on
the watermark, late rows, NULL bidders and event times, several rows per
auction, so a row matches several) joined on equality keys and a band on
their event times written as BETWEEN, as >= / <, and with the other stream on
the left; a filter after the join; a materialized view.  A small hand-made
pair of files puts rows exactly on both edges of the band and just outside.
Every case runs with --workers 1, 2 and 4, whose outputs must hold the same
rows (append-only: order aside).  State: past work_mem the job fails with
53200; joins this version does not run (unbounded bands, outer joins, an
aggregation over the join) are refused with a clear error.

The build under test: SL_BUILD_DIR (ctest sets it), else ./build.
"""

import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_stream as ts  # noqa: E402  (the generator, the oracle, the runner)
from test_joins import run_job, read_sink  # noqa: E402

check = ts.check

SOURCES = (ts.source_sql("3 seconds") + ts.source_sql("8 seconds").replace("bids", "asks"))

JOB = (
    "CREATE TABLE i1 (auction bigint, bidder text, bp bigint, ap bigint, bts timestamp, "
    "ats timestamp) WITH (connector = 'file', path = 'i1.csv', format = 'csv');\n"
    "INSERT INTO i1 SELECT b.auction, b.bidder, b.price, a.price, b.ts, a.ts FROM bids b "
    "JOIN asks a ON b.auction = a.auction AND a.ts BETWEEN b.ts AND b.ts + INTERVAL '20 seconds';\n"
    "CREATE TABLE i2 (bidder text, bp bigint, ap bigint, gap interval) "
    "WITH (connector = 'file', path = 'i2.csv', format = 'csv');\n"
    "INSERT INTO i2 SELECT a.bidder, b.price, a.price, a.ts - b.ts FROM asks a JOIN bids b "
    "ON a.bidder = b.bidder AND b.ts >= a.ts - INTERVAL '5 seconds' "
    "AND b.ts < a.ts + INTERVAL '2 seconds' WHERE a.price > b.price AND b.price > 5;\n"
    "CREATE MATERIALIZED VIEW v AS SELECT b.auction, b.bidder, a.bidder AS other, b.ts "
    "FROM bids b, asks a WHERE a.auction = b.auction AND a.bidder = b.bidder "
    "AND b.ts - a.ts <= INTERVAL '1 second' AND a.ts - b.ts <= INTERVAL '3 seconds';\n"
    "SELECT count(*) FROM v;\n")


def oracles(d):
    b = "read_csv('%s', true, ',', '%s')" % (os.path.join(d, "keep.csv"), ts.COLS)
    a = "read_csv('%s', true, ',', '%s')" % (os.path.join(d, "keep_asks.csv"), ts.COLS)
    w1 = ts.oracle(d, "SELECT b.auction, b.bidder, b.price, a.price, b.ts, a.ts FROM %s b JOIN %s a "
                   "ON b.auction = a.auction AND a.ts BETWEEN b.ts AND b.ts + INTERVAL '20 seconds'"
                   % (b, a))
    w2 = ts.oracle(d, "SELECT a.bidder, b.price, a.price, a.ts - b.ts FROM %s a JOIN %s b "
                   "ON a.bidder = b.bidder AND b.ts >= a.ts - INTERVAL '5 seconds' "
                   "AND b.ts < a.ts + INTERVAL '2 seconds' WHERE a.price > b.price AND b.price > 5" % (a, b))
    wv = ts.oracle(d, "SELECT count(*) FROM %s b, %s a WHERE a.auction = b.auction AND "
                   "a.bidder = b.bidder AND b.ts - a.ts <= INTERVAL '1 second' "
                   "AND a.ts - b.ts <= INTERVAL '3 seconds'" % (b, a))
    return w1, w2, wv


def two_streams(d, seed, n):
    ts.make_input(d, seed, n, 3000)
    d2 = os.path.join(d, "asks")
    os.mkdir(d2)
    ts.make_input(d2, seed + 100, n, 8000)
    os.rename(os.path.join(d2, "bids.csv"), os.path.join(d, "asks.csv"))
    os.rename(os.path.join(d2, "keep.csv"), os.path.join(d, "keep_asks.csv"))


def test_generated(seed, n):
    d = tempfile.mkdtemp(prefix="sl-ijoin-")
    try:
        two_streams(d, seed, n)
        want1, want2, wantv = oracles(d)
        check(len(want1) > 50 and len(want2) > 20 and int(wantv[1][0]) > 5,
              "seed %d: the oracles have rows (%d, %d, %s)" % (seed, len(want1), len(want2), wantv[1]))
        first = None
        for workers in (1, 2, 4):
            rc, out, err = run_job(d, workers, SOURCES + JOB)
            check(rc == 0, "seed %d, %d workers: interval joins run %s" % (seed, workers, err.strip()[:300]))
            if rc:
                continue
            got = [read_sink(os.path.join(d, "out", f)) for f in ("i1.csv", "i2.csv")]
            check(got[0][0] == want1[0][:0] + ["auction", "bidder", "bp", "ap", "bts", "ats"],
                  "the sink's header")
            check(sorted(got[0][1:]) == sorted(want1[1:]),
                  "seed %d, %d workers: a.ts BETWEEN b.ts AND b.ts + 20 s == batch (%d rows)"
                  % (seed, workers, len(want1) - 1))
            check(sorted(got[1][1:]) == sorted(want2[1:]),
                  "seed %d, %d workers: a band of >= and <, the other stream on the left, NULL "
                  "keys, a filter after the join == batch (%d rows)" % (seed, workers, len(want2) - 1))
            check(ts.csv_rows(out)[1:] == wantv[1:],
                  "seed %d, %d workers: a materialized view over FROM a, b WHERE ... == batch: %s %s"
                  % (seed, workers, out.strip()[-40:].replace("\n", " "), wantv[1:]))
            st = json.load(open(os.path.join(d, "stats.json")))
            late = st["sources"]["bids"]["late_dropped"], st["sources"]["asks"]["late_dropped"]
            check(late[0] > 0 and late[1] > 0, "seed %d: late rows of both streams dropped and "
                  "counted %s" % (seed, late))
            check(st["sinks"]["i1"]["state_bytes_peak"] > 0 and st["sinks"]["i2"]["state_bytes_peak"] > 0,
                  "seed %d: the interval joins' kept rows counted as state %s" % (seed, st["sinks"]))
            now = [sorted(g) for g in got]
            if first is None:
                first = now
            else:
                check(now == first, "seed %d: --workers %d == --workers 1" % (seed, workers))
    finally:
        shutil.rmtree(d, ignore_errors=True)


# a view of an interval join read as a stream: its rows' times are not in order, so a
# reader's watermark is the join's (the smaller of its sources', as every partition
# applied it) less how far the band lets a later pair's time lie below it
VIEW_JOBS = (
    "CREATE MATERIALIZED VIEW ijv AS SELECT b.auction, b.bidder, b.price AS bp, a.price AS ap, "
    "b.ts AS bts, a.ts AS ats FROM bids b JOIN asks a ON b.auction = a.auction "
    "AND a.ts BETWEEN b.ts - INTERVAL '2 seconds' AND b.ts + INTERVAL '20 seconds';\n"
    "CREATE TABLE per10 (window_start timestamp, n bigint, sa bigint, mb bigint) "
    "WITH (connector = 'file', path = 'per10.csv', format = 'csv');\n"
    "INSERT INTO per10 SELECT window_start, count(*), sum(ap), max(bp) "
    "FROM tumble(ijv, bts, INTERVAL '10 seconds') GROUP BY window_start, window_end;\n"
    "CREATE TABLE pera (window_end timestamp, auction bigint, n bigint) "
    "WITH (connector = 'file', path = 'pera.csv', format = 'csv');\n"
    "INSERT INTO pera SELECT window_end, auction, count(*) "
    "FROM tumble(ijv, ats, INTERVAL '30 seconds') GROUP BY window_end, auction;\n"
    "CREATE TABLE rows_out (auction bigint, bp bigint, ap bigint) "
    "WITH (connector = 'file', path = 'rows.csv', format = 'csv');\n"
    "INSERT INTO rows_out SELECT auction, bp, ap FROM ijv WHERE ap > bp;\n")


def test_view_as_stream(seed, n):
    """Jobs read an interval join's view: windows over either side's event time and a
    filter equal the batch queries over the join's rows, with 1, 2 and 4 workers (a
    watermark that ignored the band would close windows before their last pairs: a
    reader lag of 0 writes a window twice; checked)."""
    d = tempfile.mkdtemp(prefix="sl-ijoin-v-")
    try:
        two_streams(d, seed, n)
        b = "read_csv('%s', true, ',', '%s')" % (os.path.join(d, "keep.csv"), ts.COLS)
        a = "read_csv('%s', true, ',', '%s')" % (os.path.join(d, "keep_asks.csv"), ts.COLS)
        ijv = ("(SELECT b.auction, b.bidder, b.price AS bp, a.price AS ap, b.ts AS bts, "
               "a.ts AS ats FROM %s b JOIN %s a ON b.auction = a.auction AND a.ts BETWEEN "
               "b.ts - INTERVAL '2 seconds' AND b.ts + INTERVAL '20 seconds')" % (b, a))
        want10 = ts.oracle(d, "SELECT date_bin(INTERVAL '10 seconds', bts, TIMESTAMP "
                           "'1970-01-01'), count(*), sum(ap), max(bp) FROM %s v GROUP BY 1 "
                           "ORDER BY 1" % ijv)
        wanta = ts.oracle(d, "SELECT date_bin(INTERVAL '30 seconds', ats, TIMESTAMP "
                          "'1970-01-01') + INTERVAL '30 seconds', auction, count(*) FROM %s v "
                          "GROUP BY 1, 2" % ijv)
        wantr = ts.oracle(d, "SELECT auction, bp, ap FROM %s v WHERE ap > bp" % ijv)
        check(len(want10) > 20 and len(wanta) > 20 and len(wantr) > 20,
              "seed %d: the view oracles have rows" % seed)
        for workers in (1, 2, 4):
            rc, out, err = run_job(d, workers, SOURCES + VIEW_JOBS)
            check(rc == 0, "seed %d, %d workers: jobs over an interval join's view run %s"
                  % (seed, workers, err.strip()[:300]))
            if rc:
                continue
            got10 = read_sink(os.path.join(d, "out", "per10.csv"))
            gota = read_sink(os.path.join(d, "out", "pera.csv"))
            gotr = read_sink(os.path.join(d, "out", "rows.csv"))
            check(got10[1:] == want10[1:], "seed %d, %d workers: a tumble over the view by the "
                  "left side's time == batch, each window once, in order (%d windows)"
                  % (seed, workers, len(want10) - 1))
            check(sorted(gota[1:]) == sorted(wanta[1:]), "seed %d, %d workers: a tumble by the "
                  "right side's time == batch (%d rows)" % (seed, workers, len(wanta) - 1))
            check(sorted(gotr[1:]) == sorted(wantr[1:]), "seed %d, %d workers: a filter over "
                  "the view == batch (%d rows)" % (seed, workers, len(wantr) - 1))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_edges():
    """Rows exactly on both edges of the band match; a millisecond outside does not."""
    d = tempfile.mkdtemp(prefix="sl-ijoin-e-")
    try:
        ms = 10000
        bids = [(1, "x", 1, ms), (2, "y", 2, ms), (3, "z", 3, ms), (None, "n", 4, ms), (1, "w", 5, None)]
        asks = [(1, "out-lo", 12, ms - 1), (1, "on-lo", 10, ms), (None, "nullkey", 16, ms + 1),
                (3, "nots", 17, None), (2, "in", 14, ms + 7000), (2, "in2", 15, ms + 7000),
                (1, "on-hi", 11, ms + 20000), (1, "out-hi", 13, ms + 20001)]
        ts.write_csv(os.path.join(d, "bids.csv"), bids)
        ts.write_csv(os.path.join(d, "asks.csv"), asks)
        job = SOURCES + JOB.split(";\n")[0] + ";\n" + JOB.split(";\n")[1] + ";\n"
        for workers in (1, 2, 4):
            rc, out, err = run_job(d, workers, job)
            check(rc == 0, "edges: runs %s" % err.strip()[:300])
            if rc:
                continue
            got = read_sink(os.path.join(d, "out", "i1.csv"))[1:]
            who = sorted((r[0], r[3]) for r in got)
            check(who == [("1", "10"), ("1", "11"), ("2", "14"), ("2", "15")],
                  "edges (%d workers): both edges of the band match, 1 ms outside does not, NULL "
                  "keys and NULL times never match, a row matches two: %s" % (workers, who))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_refused_and_memory():
    d = tempfile.mkdtemp(prefix="sl-ijoin-r-")
    try:
        two_streams(d, 5, 3000)
        sink = JOB.split(";\n")[0] + ";\n"
        for sql, what in (
                ("INSERT INTO i1 SELECT b.auction, b.bidder, b.price, a.price, b.ts, a.ts FROM bids b "
                 "JOIN asks a ON b.auction = a.auction AND a.ts >= b.ts;\n", "bounded on both sides"),
                ("INSERT INTO i1 SELECT b.auction, b.bidder, b.price, a.price, b.ts, a.ts FROM bids b "
                 "LEFT JOIN asks a ON b.auction = a.auction AND a.ts BETWEEN b.ts AND "
                 "b.ts + INTERVAL '1 second';\n", "outer interval joins"),
                ("INSERT INTO i1 SELECT b.auction, NULL, count(*), NULL, NULL, NULL FROM bids b "
                 "JOIN asks a ON b.auction = a.auction AND a.ts BETWEEN b.ts AND "
                 "b.ts + INTERVAL '1 second' GROUP BY b.auction;\n", "aggregations over an interval join")):
            rc, out, err = run_job(d, 1, SOURCES + sink + sql)
            check(rc == 1 and what in err,
                  "refused with a clear error (%s): %s" % (what, err.strip()[:200]))
        rc, out, err = run_job(d, 1, "SET work_mem = '64kB';\n" + SOURCES + sink +
                               "INSERT INTO i1 SELECT b.auction, b.bidder, b.price, a.price, b.ts, "
                               "a.ts FROM bids b JOIN asks a ON b.auction = a.auction AND a.ts "
                               "BETWEEN b.ts - INTERVAL '1 day' AND b.ts + INTERVAL '1 day';\n")
        check(rc == 1 and "out of memory" in err and "work_mem" in err,
              "kept rows past work_mem fail the job (53200, out of memory): " + err.strip()[:200])
        check(not os.path.exists(os.path.join(d, "out", "i1.csv")), "a failed job leaves no sink file")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_bounded_state():
    """Long streams under a small work_mem: only trimming by the watermarks keeps the
    kept rows (a few seconds of each stream) under it; the result is the batch join's."""
    d = tempfile.mkdtemp(prefix="sl-ijoin-m-")
    try:
        two_streams(d, 21, 40000)
        job = "SET work_mem = '1MB';\n" + SOURCES + JOB.split(";\n")[0] + ";\n" + JOB.split(";\n")[1] + ";\n"
        want = oracles(d)[0]
        rc, out, err = run_job(d, 2, job)
        check(rc == 0, "40000 rows a stream in 1MB of work_mem: runs %s" % err.strip()[:300])
        got = read_sink(os.path.join(d, "out", "i1.csv")) if rc == 0 else []
        check(sorted(got[1:]) == sorted(want[1:]),
              "40000 rows a stream: the interval join == batch (%d rows)" % (len(want) - 1))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_docs():
    """The interval join example of docs/streaming.md: ijoin.sql over bids.csv and
    asks.csv prints the block named ijoin_output, with 1 and 2 workers."""
    import re
    with open(os.path.join(ts.ROOT, "docs", "streaming.md")) as f:
        blocks = {name: body for _, name, body in re.findall(r"```(\w+) ([\w.]+)\n(.*?)```", f.read(), re.S)}
    d = tempfile.mkdtemp(prefix="sl-ijoin-doc-")
    try:
        for name in ("bids.csv", "asks.csv", "ijoin.sql"):
            with open(os.path.join(d, name), "w") as f:
                f.write(blocks[name])
        for workers in ("1", "2"):
            rc, out, err = ts.run(["run", "ijoin.sql", "--workers", workers], cwd=d)
            check(rc == 0 and out == blocks["ijoin_output"], "docs interval join example output" +
                  ("" if rc == 0 and out == blocks["ijoin_output"] else ":\n%s%s" % (out, err)))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    test_docs()
    test_bounded_state()
    test_edges()
    test_generated(3, 2000)
    test_generated(8, 5000)
    test_view_as_stream(5, 20000)
    test_refused_and_memory()
    ts.finish()


if __name__ == "__main__":
    main()
