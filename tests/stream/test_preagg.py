"""test_preagg.py - local-global aggregation of continuous jobs.

A GROUP BY whose keys are all window columns sends every row of a window to
one owner; instead each worker aggregates its own rows into partial tables
and ships a window's table to the window's owner when its watermark passes
the window's end, where the tables are combined (docs/internals/stream.md,
"Local-global aggregation").  Checked here, over generated inputs with
out-of-order, late and NULL rows:

- every aggregate kind that combines (count, count(DISTINCT) of ints and of
  text, sum(DISTINCT), FILTER, sum, avg, min/max of ints and text,
  bool_and/or, stddev/var_pop) over tumble and hop windows equals the batch
  engine over the non-late rows, with 1, 2 and 4 workers;
- the --stats counters: with 2 and 4 workers, no row crosses workers for
  such a job (rows_exchanged 0) and partial tables do (partials_exchanged >
  0); jobs with an aggregate that does not combine (ORDER BY inside the
  call; string_agg, whose order is the input's) and a keyed one still
  exchange rows, and are right.

The build under test: SL_BUILD_DIR (ctest sets it), else ./build.
"""

import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_stream as ts  # noqa: E402  (its helpers: input, oracle, check)

AGGS = ("count(*) AS n, count(price) AS np, sum(price) AS total, avg(price) AS mean, "
        "min(price) AS lo, max(price) AS hi, min(bidder) AS b_lo, max(bidder) AS b_hi, "
        "count(DISTINCT auction) AS auctions, count(DISTINCT bidder) AS bidders, "
        "sum(DISTINCT price) AS dsum, "
        "count(*) FILTER (WHERE price > 50) AS big, sum(price) FILTER (WHERE bidder = 'bob') AS bob, "
        "bool_and(price > 5) AS all5, bool_or(price > 95) AS any95, "
        "round(stddev(price)::numeric, 6) AS sd, round(var_pop(price)::numeric, 6) AS vp, "
        "sum(price / 3.0::float8) AS fs, stddev(price * 0.7::float8) AS fsd")
NAGG = 19
TYPES = ("n bigint, np bigint, total numeric, mean numeric, lo bigint, hi bigint, b_lo text, "
         "b_hi text, auctions bigint, bidders bigint, dsum numeric, big bigint, bob numeric, "
         "all5 boolean, any95 boolean, sd numeric, vp numeric, fs float8, fsd float8")


def norm(rows, nkeys):
    return sorted(list(r) for r in rows)


def stats(d):
    with open(os.path.join(d, "stats.json")) as f:
        return json.load(f)["sources"]["bids"]


def run_job(d, sql, workers):
    with open(os.path.join(d, "job.sql"), "w") as f:
        f.write(sql)
    rc, out, err = ts.run(["run", "job.sql", "--format", "csv", "--stats", "stats.json",
                           "--workers", str(workers)], cwd=d)
    ts.check(rc == 0, "%d workers: streamlake run succeeds %s" % (workers, err.strip()[:300]))
    if rc:
        return None, None
    with open(os.path.join(d, "out.csv")) as f:
        return ts.csv_rows(f.read()), stats(d)


def sink(cols):
    return ("CREATE TABLE out (%s) WITH (connector = 'file', path = 'out.csv', "
            "format = 'csv');\n" % cols)


def test_tumble_hop(seed, n, delay_ms):
    d = tempfile.mkdtemp(prefix="sl-preagg-")
    try:
        rows, keep, late = ts.make_input(d, seed, n, delay_ms)
        src = "read_csv('%s', true, ',', '%s')" % (os.path.join(d, "keep.csv"), ts.COLS)
        delay = "%d milliseconds" % delay_ms
        cases = {
            "tumble": (
                sink("window_start timestamp, window_end timestamp, " + TYPES) +
                "INSERT INTO out SELECT window_start, window_end, %s FROM "
                "tumble(bids, ts, INTERVAL '10 seconds') WHERE auction <> 7 "
                "GROUP BY window_start, window_end;\n" % AGGS,
                "SELECT date_bin(INTERVAL '10 seconds', ts, TIMESTAMP '1970-01-01') AS ws, "
                "date_bin(INTERVAL '10 seconds', ts, TIMESTAMP '1970-01-01') + "
                "INTERVAL '10 seconds' AS we, %s FROM %s WHERE auction <> 7 AND ts IS NOT NULL "
                "GROUP BY 1, 2" % (AGGS, src), 2),
            "hop, window_end only, HAVING": (
                sink("window_end timestamp, " + TYPES) +
                "INSERT INTO out SELECT window_end, %s FROM "
                "hop(bids, ts, INTERVAL '5 seconds', INTERVAL '15 seconds') "
                "GROUP BY window_end HAVING count(*) > 1;\n" % AGGS,
                "SELECT ws + INTERVAL '15 seconds' AS we, %s FROM (SELECT *, "
                "date_bin(INTERVAL '5 seconds', ts, TIMESTAMP '1970-01-01') - g * "
                "INTERVAL '5 seconds' AS ws FROM %s CROSS JOIN generate_series(0, 2) AS g "
                "WHERE ts IS NOT NULL) x GROUP BY 1 HAVING count(*) > 1" % (AGGS, src), 1),
        }
        for name, (job, oracle_sql, nkeys) in cases.items():
            want = norm(ts.oracle(d, oracle_sql)[1:], nkeys)
            ts.check(len(want) > 5, "seed %d %s: the oracle has windows (%d)" %
                     (seed, name, len(want)))
            first = None
            for workers in (1, 2, 4):
                got, st = run_job(d, ts.source_sql(delay) + job, workers)
                if got is None:
                    continue
                ends = [r[nkeys - 1] for r in got[1:]]
                ts.check(ends == sorted(ends), "seed %d %s, %d workers: window_end order" %
                         (seed, name, workers))
                got = norm(got[1:], nkeys)
                ts.check(got == want, "seed %d %s, %d workers: == batch query over the non-late "
                         "rows" % (seed, name, workers))
                if first is None:
                    first = got
                ts.check(got == first, "seed %d %s, %d workers: == 1 worker" %
                         (seed, name, workers))
                ts.check(st["rows_read"] == len(rows) and st["late_dropped"] == late,
                         "seed %d %s, %d workers: rows read and late" % (seed, name, workers))
                if workers > 1:
                    ts.check(st["rows_exchanged"] == 0 and st["partials_exchanged"] > 0,
                             "seed %d %s, %d workers: partial tables cross workers, rows do not "
                             "(%s)" % (seed, name, workers, st))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_exchanged_rows(seed, n, delay_ms):
    """Jobs that do not pre-aggregate: rows still cross workers, results still right."""
    d = tempfile.mkdtemp(prefix="sl-preagg-")
    try:
        ts.make_input(d, seed, n, delay_ms)
        src = "read_csv('%s', true, ',', '%s')" % (os.path.join(d, "keep.csv"), ts.COLS)
        delay = "%d milliseconds" % delay_ms
        bin10 = "date_bin(INTERVAL '10 seconds', ts, TIMESTAMP '1970-01-01')"
        cases = {
            "ORDER BY inside a call": (
                sink("window_end timestamp, n bigint, who text") +
                "INSERT INTO out SELECT window_end, count(*), string_agg(coalesce(bidder, '-'), "
                "',' ORDER BY coalesce(bidder, '-'), price, auction) FROM "
                "tumble(bids, ts, INTERVAL '10 seconds') GROUP BY window_end;\n",
                "SELECT %s + INTERVAL '10 seconds', count(*), string_agg(coalesce(bidder, '-'), "
                "',' ORDER BY coalesce(bidder, '-'), price, auction) FROM %s "
                "WHERE ts IS NOT NULL GROUP BY 1" % (bin10, src)),
            "string_agg without ORDER BY": (
                sink("window_start timestamp, n bigint, who text") +
                "INSERT INTO out SELECT window_start, count(*), length(string_agg(bidder, '')) "
                "FROM tumble(bids, ts, INTERVAL '10 seconds') GROUP BY window_start;\n",
                "SELECT %s, count(*), length(string_agg(bidder, '')) FROM %s "
                "WHERE ts IS NOT NULL GROUP BY 1" % (bin10, src)),
            "keyed": (
                sink("window_end timestamp, auction bigint, n bigint, total numeric") +
                "INSERT INTO out SELECT window_end, auction, count(*), sum(price) FROM "
                "tumble(bids, ts, INTERVAL '10 seconds') GROUP BY window_end, auction;\n",
                "SELECT %s + INTERVAL '10 seconds', auction, count(*), sum(price) FROM %s "
                "WHERE ts IS NOT NULL GROUP BY 1, 2" % (bin10, src)),
        }
        for name, (job, oracle_sql) in cases.items():
            want = sorted(ts.oracle(d, oracle_sql)[1:])
            for workers in (1, 2, 4):
                got, st = run_job(d, ts.source_sql(delay) + job, workers)
                if got is None:
                    continue
                ts.check(sorted(got[1:]) == want and len(want) > 5,
                         "seed %d %s, %d workers: == batch query" % (seed, name, workers))
                if workers > 1:
                    ts.check(st["rows_exchanged"] > 0 and st["partials_exchanged"] == 0,
                             "seed %d %s, %d workers: rows cross workers (%s)" %
                             (seed, name, workers, st))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_first_pass_layouts(seed, n):
    """The first pass compares timestamps of one fixed layout as bytes: event times
    written in several layouts (separator T or space, 0 to 6 fractional digits,
    24:00:00), out of order, over many splits, must give the lateness of one reader
    in line order."""
    import datetime
    import random
    rng = random.Random(seed)
    d = tempfile.mkdtemp(prefix="sl-preagg-")
    try:
        base = datetime.datetime(2024, 1, 1)
        now, mx, late, lines = 0, None, 0, ["auction,bidder,price,ts"]
        for i in range(n):
            now += rng.choice([0, 1, 7, 250, 999])
            us = now * 1000 - (rng.randint(0, 3000000) if rng.random() < 0.3 else 0)
            t = base + datetime.timedelta(microseconds=us)
            sep = rng.choice([" ", "T"])
            frac = rng.choice([0, 1, 3, 6])
            text = t.strftime("%Y-%m-%d" + sep + "%H:%M:%S")
            if frac:
                text += "." + ("%06d" % t.microsecond)[:frac]
            if t.hour == 0 and t.minute == 0 and t.second == 0 and rng.random() < 0.5:
                text = (t - datetime.timedelta(days=1)).strftime("%Y-%m-%d" + sep) + "24:00:00"
                us = (t.replace(microsecond=0) - base) // datetime.timedelta(microseconds=1)
            else:
                us = (datetime.datetime.strptime(text.replace("T", " "),
                                                 "%Y-%m-%d %H:%M:%S" + (".%f" if frac else ""))
                      - base) // datetime.timedelta(microseconds=1)
            if mx is not None and us < mx - 1000000:
                late += 1
            else:
                mx = us if mx is None else max(mx, us)
            lines.append("%d,x,%d,%s" % (i % 9, i % 100, text))
        with open(os.path.join(d, "bids.csv"), "w") as f:
            f.write("\n".join(lines) + "\n")
        job = ts.source_sql("1 second") + sink("n bigint") + (
            "INSERT INTO out SELECT count(*) FROM tumble(bids, ts, INTERVAL '1 minute') "
            "GROUP BY window_start;\n")
        for workers in (1, 2, 4):
            got, st = run_job(d, job, workers)
            if got is None:
                continue
            ts.check(st["rows_read"] == n and st["late_dropped"] == late and
                     sum(int(r[0]) for r in got[1:]) == n - late,
                     "timestamp layouts, %d workers: %d late of %d as one reader (%s)" %
                     (workers, late, n, st))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    test_first_pass_layouts(4, 40000)
    for seed, n, delay in ((1, 3000, 2000), (2, 60000, 5000)):
        test_tumble_hop(seed, n, delay)
    test_exchanged_rows(3, 20000, 3000)
    if ts.FAILS:
        print("%d failures" % len(ts.FAILS))
        return 1
    print("all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
