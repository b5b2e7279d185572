"""test_stream.py - `streamlake run` against an oracle: the batch query over the
non-late rows.

Bounded CSV inputs are generated with out-of-order rows, rows exactly on the
watermark, late rows, gaps (empty windows) and NULL keys.  Which rows are late
is computed here from the rules of docs/streaming.md (independently of the C
code); the non-late rows go to a CSV, and `streamlake sql` runs the equivalent
batch query over read_csv(...) of it (tumble -> date_bin, hop -> a cross join
with the window offsets).  Results must be equal value for value, the sink's
rows in non-decreasing window_end order, and the --stats figures exact.
DuckDB (tests/node) is a second oracle for the hop windows.
Also: the examples of docs/streaming.md, bad input (wrong field count, bad
value, on_error = 'skip', late = 'error'), unwritable sinks.  Every oracle test runs
with --workers 1, 2 and 4, whose outputs must be identical (within one window_end
the rows are compared in key order: the semantics fix only window_end's order),
float sums, averages and variances to the last bit;
larger inputs check what a later split must get right (its watermark, its line
numbers, the first error in line order, quoted files read by one reader).

The build under test: SL_BUILD_DIR (ctest sets it), else ./build.
"""

import csv
import datetime
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

BUILD = os.environ.get("SL_BUILD_DIR") or os.path.join(os.getcwd(), "build")
BIN = os.path.join(BUILD, "streamlake")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EPOCH = datetime.datetime(2024, 1, 1)
FAILS = []


def finish():
    """Ends a test script: exit status 1 and the count when a check failed."""
    if FAILS:
        print("%d failure(s)" % len(FAILS))
        sys.exit(1)
    print("all passed")


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what)
    else:
        print("ok  ", what)


def ts_text(ms):
    t = EPOCH + datetime.timedelta(milliseconds=ms)
    s = t.strftime("%Y-%m-%d %H:%M:%S")
    return s + (".%03d" % (ms % 1000) if ms % 1000 else "")


def run(args, cwd=None):
    p = subprocess.run([BIN] + args, cwd=cwd, capture_output=True, text=True, timeout=600)
    return p.returncode, p.stdout, p.stderr


def csv_rows(text):
    return [r for r in csv.reader(io.StringIO(text))]


# ---- the data and the oracle's idea of lateness -----------------------------

def gen_rows(seed, n, delay_ms):
    """(auction, bidder, price, ts_ms | None) in arrival order, with the edge cases."""
    rng = random.Random(seed)
    rows, now, mx = [], 0, None
    bidders = ["alice", "bob", "carol", "dave", None]
    for i in range(n):
        now += rng.choice([0, 137, 250, 700, 1000, 1500])
        if i % 97 == 50:
            now += 45000  # a gap: empty windows
        kind = rng.random()
        if mx is not None and i % 23 == 7:
            ts = mx - delay_ms  # exactly on the watermark: on time
        elif mx is not None and i % 29 == 11:
            ts = mx - delay_ms - 1  # one millisecond late
        elif kind < 0.3:
            ts = now - rng.randint(0, 2 * delay_ms)  # out of order, maybe late
        else:
            ts = now
        if i % 61 == 3:
            ts = None  # no event time: never late, in no window
        price = None if i % 17 == 5 else rng.randint(1, 100)
        rows.append((rng.randint(1, 9), rng.choice(bidders), price, ts))
        if ts is not None:
            mx = ts if mx is None else max(mx, ts)
    return rows


def split_late(rows, delay_ms):
    """The rule: late iff a watermark is in force and ts < max(earlier ts) - delay."""
    keep, late, mx = [], 0, None
    for r in rows:
        ts = r[3]
        if ts is not None and mx is not None and ts < mx - delay_ms:
            late += 1
            continue
        keep.append(r)
        if ts is not None:
            mx = ts if mx is None else max(mx, ts)
    return keep, late


def write_csv(path, rows, header=True):
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        if header:
            w.writerow(["auction", "bidder", "price", "ts"])
        for a, b, p, t in rows:
            w.writerow([a, "" if b is None else b, "" if p is None else p,
                        "" if t is None else ts_text(t)])


def make_input(d, seed, n, delay_ms):
    """bids.csv (every row) and keep.csv (the non-late ones, for the oracle) in d."""
    rows = gen_rows(seed, n, delay_ms)
    keep, late = split_late(rows, delay_ms)
    write_csv(os.path.join(d, "bids.csv"), rows)
    write_csv(os.path.join(d, "keep.csv"), keep)
    return rows, keep, late


COLS = "auction bigint, bidder text, price bigint, ts timestamp"


def oracle(d, sql):
    """The batch engine over the non-late rows (keep.csv in d)."""
    data = os.path.join(d, "oracle-data")
    os.makedirs(data, exist_ok=True)
    rc, out, err = run(["sql", "--data", data, "--files", d, "--format", "csv", sql])
    if rc:
        raise RuntimeError("oracle failed: %s\n%s" % (sql, err))
    return csv_rows(out)


NODE_DIR = os.path.join(ROOT, "tests", "node")


def duckdb_oracle(sql):
    """DuckDB (the second oracle, tests/node/duckdb_rows.mjs) running sql: its rows
    as lists of strings (None for NULL)."""
    p = subprocess.run(["node", "duckdb_rows.mjs", sql], cwd=NODE_DIR, capture_output=True,
                       text=True, timeout=300)
    if p.returncode:
        raise RuntimeError("duckdb failed: %s\n%s" % (sql, p.stderr))
    return [list(json.loads(line).values()) for line in p.stdout.splitlines()]


def epoch_ms(text):
    """A timestamp as the engine prints it, in ms since the epoch."""
    fmt = "%Y-%m-%d %H:%M:%S.%f" if "." in text else "%Y-%m-%d %H:%M:%S"
    return round((datetime.datetime.strptime(text, fmt) - datetime.datetime(1970, 1, 1))
                 .total_seconds() * 1000)


def source_sql(delay, extra=""):
    return ("CREATE TABLE bids (%s) WITH (connector = 'file', path = 'bids.csv', "
            "format = 'csv', event_time = 'ts', max_delay = '%s'%s);\n" % (COLS, delay, extra))


AGGS = ("count(*) AS n, sum(price) AS total, min(price) AS lo, max(price) AS hi, "
        "avg(price) AS mean, count(DISTINCT auction) AS auctions, "
        "count(*) FILTER (WHERE price > 50) AS big, "
        "string_agg(coalesce(bidder, '-'), ',' ORDER BY coalesce(bidder, '-'), price) AS who, "
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY price) AS med, bool_or(price > 90) AS any90, "
        "every(price > 3) AS all3, array_to_string(array_agg(auction::text ORDER BY "
        "price DESC, auction), '|') AS arr, sum(price * 0.1::float8) AS fsum, "
        "avg(price / 7.0::float8) AS fmean, stddev_samp(price::float8 / 3 + 1e9) AS fsd, "
        "var_pop(price * 1.1::float8) AS fvar")
AGG_TYPES = ("n bigint, total numeric, lo bigint, hi bigint, mean numeric, auctions bigint, "
             "big bigint, who text, med double precision, any90 boolean, all3 boolean, arr text, "
             "fsum float8, fmean float8, fsd float8, fvar float8")


def sorted_within_end(rows, end_col):
    """Rows of a windowed sink with the order inside one window_end normalized: the
    semantics fix the order of window_end only."""
    return sorted(rows, key=lambda r: (r[end_col], r))


RESULTS = {}  # (seed, what) -> the first worker count's output, to compare others with


def same_across_workers(seed, workers, what, got):
    key = (seed, what)
    if key not in RESULTS:
        RESULTS[key] = (workers, got)
        return
    w0, want = RESULTS[key]
    check(got == want, "seed %d: %s with --workers %d == with --workers %d" % (seed, what, workers, w0))


def test_windows(seed, n, delay_ms, workers=1):
    d = tempfile.mkdtemp(prefix="sl-stream-")
    try:
        rows, keep, late = make_input(d, seed, n, delay_ms)
        check(late > 0 and late < len(rows), "seed %d: the input has late rows (%d)" % (seed, late))
        delay = "%d milliseconds" % delay_ms
        job = source_sql(delay) + (
            "CREATE TABLE out1 (window_start timestamp, window_end timestamp, bidder text, %s) "
            "WITH (connector = 'file', path = 'out1.csv', format = 'csv');\n"
            "INSERT INTO out1 SELECT window_start, window_end, bidder, %s "
            "FROM tumble(bids, ts, INTERVAL '10 seconds') WHERE auction <> 7 "
            "GROUP BY window_start, window_end, bidder HAVING count(*) >= 2;\n"
            "CREATE MATERIALIZED VIEW hv WITH (emit = 'on_window_close') AS "
            "SELECT window_start, window_end, auction %% 3 AS k, count(*) AS n, sum(price) AS total, "
            "max(bidder) AS top FROM hop(bids, ts, INTERVAL '5 seconds', INTERVAL '15 seconds') "
            "GROUP BY window_start, window_end, auction %% 3;\n"
            "CREATE TABLE out3 (auction bigint, who text, p2 bigint, ts timestamp) "
            "WITH (connector = 'file', path = 'out3.csv', format = 'csv');\n"
            "INSERT INTO out3 SELECT auction, upper(bidder), price * 2, ts FROM bids "
            "WHERE price IS NULL OR price > 40;\n"
            "SELECT * FROM hv ORDER BY window_start, k;\n") % (AGG_TYPES, AGGS)
        with open(os.path.join(d, "job.sql"), "w") as f:
            f.write(job)
        out_dir = os.path.join(d, "out")
        os.mkdir(out_dir)
        rc, out, err = run(["run", os.path.join(d, "job.sql"), "--input-dir", d, "--output-dir",
                            out_dir, "--format", "csv", "--stats", os.path.join(d, "stats.json"),
                            "--workers", str(workers)])
        check(rc == 0, "seed %d, %d workers: streamlake run succeeds %s" % (seed, workers, err.strip()[:300]))
        if rc:
            return
        src = "read_csv('%s', true, ',', '%s')" % (os.path.join(d, "keep.csv"), COLS)
        # tumble
        want = oracle(d, "SELECT date_bin(INTERVAL '10 seconds', ts, TIMESTAMP '1970-01-01') AS ws, "
                      "date_bin(INTERVAL '10 seconds', ts, TIMESTAMP '1970-01-01') + INTERVAL '10 seconds' "
                      "AS we, bidder, %s FROM %s WHERE auction <> 7 AND ts IS NOT NULL "
                      "GROUP BY 1, 2, 3 HAVING count(*) >= 2" % (AGGS, src))
        with open(os.path.join(out_dir, "out1.csv")) as f:
            got = csv_rows(f.read())
        check(got[0][:3] == ["window_start", "window_end", "bidder"], "tumble sink header")
        check(len(got) > 10, "seed %d: tumble has rows (%d)" % (seed, len(got) - 1))
        check(sorted(got[1:]) == sorted(want[1:]),
              "seed %d: tumble job == batch query over the non-late rows" % seed)
        ends = [r[1] for r in got[1:]]
        check(ends == sorted(ends), "seed %d: rows leave in non-decreasing window_end" % seed)
        same_across_workers(seed, workers, "tumble sink", sorted_within_end(got[1:], 1))
        check(any(r[2] == "" for r in got[1:]), "seed %d: a NULL key group is there" % seed)
        # hop: a row in each of the 3 windows holding it
        want = oracle(d, "SELECT ws, ws + INTERVAL '15 seconds' AS we, auction %% 3 AS k, count(*) AS n, "
                      "sum(price) AS total, max(bidder) AS top FROM (SELECT *, date_bin(INTERVAL "
                      "'5 seconds', ts, TIMESTAMP '1970-01-01') - g * INTERVAL '5 seconds' AS ws "
                      "FROM %s CROSS JOIN generate_series(0, 2) AS g WHERE ts IS NOT NULL) x "
                      "GROUP BY 1, 2, 3 ORDER BY 1, 3" % src)
        got = csv_rows(out)
        check(got[1:] == want[1:] and len(got) > 10,
              "seed %d: hop view (SELECT * FROM hv) == batch query" % seed)
        same_across_workers(seed, workers, "hop view", got)
        if workers == 1:  # the second oracle: DuckDB over the same non-late rows
            duck = duckdb_oracle(
                "SELECT ws, auction %% 3 AS k, count(*), sum(price), max(bidder) FROM (SELECT *, "
                "epoch_ms(ts) // 5000 * 5000 - g * 5000 AS ws FROM read_csv('%s', header = true, "
                "columns = {'auction': 'BIGINT', 'bidder': 'VARCHAR', 'price': 'BIGINT', "
                "'ts': 'TIMESTAMP'}) CROSS JOIN range(0, 3) AS r(g) WHERE ts IS NOT NULL) x "
                "GROUP BY 1, 2" % os.path.join(d, "keep.csv"))
            mine = sorted([epoch_ms(r[0]), r[2] or None, r[3], r[4] or None, r[5] or None]
                          for r in got[1:])
            check(sorted([int(r[0])] + [None if v is None else str(v) for v in r[1:]]
                         for r in duck) == mine and len(duck) > 10,
                  "seed %d: hop view == DuckDB's batch query (%d rows)" % (seed, len(duck)))
        # filter and projection: append-only, in line order
        want = oracle(d, "SELECT auction, upper(bidder), price * 2, ts FROM %s "
                      "WHERE price IS NULL OR price > 40" % src)
        with open(os.path.join(out_dir, "out3.csv")) as f:
            got = csv_rows(f.read())
        check(sorted(got[1:]) == sorted(want[1:]) and len(got) > 1,
              "seed %d: filter/projection job == batch query" % seed)
        line_order = [[str(a), (b or "").upper(), "" if p is None else str(2 * p),
                       "" if t is None else ts_text(t).rstrip("0").rstrip(".") if t % 1000
                       else ts_text(t)]
                      for a, b, p, t in keep if p is None or p > 40]
        check(got[1:] == line_order, "seed %d: filter/projection rows in line order" % seed)
        same_across_workers(seed, workers, "filter sink", got)
        with open(os.path.join(d, "stats.json")) as f:
            st = json.load(f)
        for f in ("readers", "rows_exchanged", "partials_exchanged"):  # these depend on --workers
            st["sources"]["bids"].pop(f, None)
        peak = {k: v.pop("state_bytes_peak") for k, v in st["sinks"].items()}
        check(peak["out1"] > 0 and peak["out3"] == 0,
              "seed %d: the most state of each job: windows held, none for a filter %s"
              % (seed, peak))
        same_across_workers(seed, workers, "stats", st)
        s = st["sources"]["bids"]
        check(s["rows_read"] == len(rows) and s["late_dropped"] == late and s["bad_rows"] == 0,
              "seed %d: stats of the source %s (want %d read, %d late)" % (seed, s, len(rows), late))
        check(st["sinks"]["out1"]["rows_written"] == len(csv_rows(open(os.path.join(out_dir, "out1.csv")).read())) - 1,
              "seed %d: stats of the sink" % seed)
        check(st["sinks"]["out3"]["rows_written"] == len(line_order), "seed %d: stats of out3" % seed)
        check(not [x for x in os.listdir(out_dir) if x.endswith(".part")], "no part file left")
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---- bad input ----------------------------------------------------------------

def run_text(d, sql, extra=()):
    with open(os.path.join(d, "job.sql"), "w") as f:
        f.write(sql)
    return run(["run", "job.sql", "--stats", "stats.json"] + list(extra), cwd=d)


def test_bad_input():
    d = tempfile.mkdtemp(prefix="sl-stream-bad-")
    try:
        job = source_sql("1 second") + (
            "CREATE TABLE o (n bigint) WITH (connector = 'file', path = 'o.csv');\n"
            "INSERT INTO o SELECT count(*) FROM tumble(bids, ts, INTERVAL '1 minute') "
            "GROUP BY window_start;\n")
        with open(os.path.join(d, "bids.csv"), "w") as f:
            f.write("auction,bidder,price,ts\n1,a,5,2024-01-01 00:00:01\n2,b,6\n")
        rc, out, err = run_text(d, job)
        check(rc == 1 and 'source "bids"' in err and "line 3" in err and "3 fields, expected 4" in err,
              "wrong field count names the source and the line: " + err.strip()[:200])
        with open(os.path.join(d, "bids.csv"), "w") as f:
            f.write("auction,bidder,price,ts\n1,a,5,2024-01-01 00:00:01\n2,b,six,2024-01-01 00:00:02\n")
        rc, out, err = run_text(d, job)
        check(rc == 1 and "line 3" in err and 'column "price"' in err and "bigint" in err,
              "a bad value names the line and the column: " + err.strip()[:200])
        check(not os.path.exists(os.path.join(d, "o.csv")) and
              not os.path.exists(os.path.join(d, "o.csv.part")), "a failed job leaves no sink file")
        rc, out, err = run_text(d, job.replace("max_delay = '1 second'",
                                               "max_delay = '1 second', on_error = 'skip'"))
        st = json.load(open(os.path.join(d, "stats.json"))) if rc == 0 else {}
        check(rc == 0 and st["sources"]["bids"] == {"rows_read": 1, "late_dropped": 0, "bad_rows": 1,
                                                   "readers": 1, "rows_exchanged": 0,
                                                   "partials_exchanged": 0,
                                                   "watermark": "2024-01-01 00:00:00"},
              "on_error = 'skip' counts the bad row: %s %s" % (st, err.strip()[:200]))
        check(open(os.path.join(d, "o.csv")).read() == "n\n1\n", "and the job runs without it")
        with open(os.path.join(d, "bids.csv"), "w") as f:
            f.write("auction,bidder,price,ts\n1,a,5,2024-01-01 00:00:09\n2,b,6,2024-01-01 00:00:01\n")
        rc, out, err = run_text(d, job.replace("max_delay = '1 second'",
                                               "max_delay = '1 second', late = 'error'"))
        check(rc == 1 and "line 3" in err and "late" in err, "late = 'error' fails on the late row: " + err.strip()[:200])
        rc, out, err = run_text(d, job.replace("path = 'o.csv'", "path = 'no/such/dir/o.csv'"))
        check(rc == 1 and 'sink "o"' in err and "cannot write" in err,
              "an unwritable sink is a clear error: " + err.strip()[:200])
        rc, out, err = run_text(d, job, ["--workers", "0"])
        check(rc == 2 and "--workers" in err, "--workers 0 is refused: " + err.strip()[:200])
        rc, out, err = run_text(d, source_sql("1 second") +
                                "CREATE MATERIALIZED VIEW v WITH (emit = 'on_window_close') AS "
                                "SELECT bidder, count(*) FROM bids GROUP BY bidder;\n")
        check(rc == 1 and "on_update" in err,
              "GROUP BY without a window and emit = 'on_window_close' is refused: " + err.strip()[:200])
        for sel, what in (("* FROM session(bids, ts, INTERVAL '1 second')", "without GROUP BY"),
                          ("window_start, date_trunc('hour', window_end), count(*) FROM "
                           "session(bids, ts, INTERVAL '1 second') GROUP BY 1, 2",
                           "key 2 reads window_start or window_end"),
                          ("window_start, random() < 0.5, count(*) FROM session(bids, ts, "
                           "INTERVAL '1 second') GROUP BY 1, 2", "key 2 reads a volatile")):
            rc, out, err = run_text(d, source_sql("1 second") +
                                    "CREATE MATERIALIZED VIEW v AS SELECT %s;\n" % sel)
            check(rc == 1 and what in err, "session windows %s are refused: %s" % (what, err.strip()[:200]))
        with open(os.path.join(d, "items.csv"), "w") as f:
            f.write("id,cat\n1,x\n2,y\n")
        rc, out, err = run_text(d, source_sql("1 second") +
                                "CREATE TABLE items (id bigint, cat text) WITH (connector = "
                                "'file', path = 'items.csv');\n"
                                "CREATE MATERIALIZED VIEW v AS SELECT window_start, i.cat, count(*) "
                                "FROM session(bids, ts, INTERVAL '1 second') b JOIN items i "
                                "ON i.id = b.auction GROUP BY 1, window_end, 2;\n")
        check(rc == 1 and "key 3 reads a lookup table's column" in err,
              "session windows keyed by a lookup table's column are refused, saying so (not "
              "with the interval join's reason): " + err.strip()[:300])
        with open(os.path.join(d, "bids.csv"), "w") as f:
            f.write("auction,bidder,price,ts\n1,a,5,2024-01-01 00:00:01\n2,b,0,2024-01-01 00:00:02\n")
        rc, out, err = run_text(d, source_sql("1 second") +
                                "CREATE MATERIALIZED VIEW v AS SELECT window_start, 10 / price, "
                                "count(*) FROM session(bids, ts, INTERVAL '1 second') "
                                "WHERE price > 0 GROUP BY 1, 2;\n")
        check(rc == 1 and "division by zero" in err and "before WHERE" in err,
              "a session key failing on a row WHERE drops fails the job, saying why: "
              + err.strip()[-200:])
        rc, out, _ = run(["run", "--help"])
        check(rc == 0 and "--input-dir" in out and "--stats" in out, "run --help")
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---- emit = 'on_update': upsert logs and final contents ------------------------

def last_per_key(rows, nkeys):
    last = {}
    for r in rows:
        last[tuple(r[:nkeys])] = r
    return sorted(last.values())


def test_updates(seed, n, delay_ms, workers):
    d = tempfile.mkdtemp(prefix="sl-stream-upd-")
    try:
        make_input(d, seed, n, delay_ms)
        job = source_sql("%d milliseconds" % delay_ms) + (
            "CREATE TABLE log (bidder text, n bigint, total numeric, hi bigint, auctions bigint) "
            "WITH (connector = 'file', path = 'log.csv');\n"
            "INSERT INTO log SELECT bidder, count(*), sum(price), max(price), "
            "count(DISTINCT auction) FROM bids WHERE auction <> 7 GROUP BY bidder;\n"
            "CREATE MATERIALIZED VIEW byk WITH (emit = 'on_update') AS SELECT auction % 3 AS k, "
            "bidder, count(*) AS n, avg(price) AS mean, count(*) FILTER (WHERE price > 50) AS big "
            "FROM bids GROUP BY auction % 3, bidder;\n"
            "CREATE MATERIALIZED VIEW wu WITH (emit = 'on_update') AS SELECT window_start, "
            "window_end, bidder, count(*) AS n, sum(price) AS total FROM tumble(bids, ts, "
            "INTERVAL '10 seconds') GROUP BY window_start, window_end, bidder;\n"
            "SELECT 'byk' AS v, k, bidder, n, mean, big FROM byk ORDER BY k, bidder;\n"
            "SELECT window_start, window_end, bidder, n, total FROM wu "
            "ORDER BY window_start, bidder;\n")
        with open(os.path.join(d, "job.sql"), "w") as f:
            f.write(job)
        rc, out, err = run(["run", "job.sql", "--format", "csv", "--stats", "stats.json",
                            "--workers", str(workers)], cwd=d)
        check(rc == 0, "on_update seed %d, %d workers: run succeeds %s" % (seed, workers, err.strip()[:300]))
        if rc:
            return
        src = "read_csv('%s', true, ',', '%s')" % (os.path.join(d, "keep.csv"), COLS)
        # the upsert log: the last row of each key is the batch GROUP BY's
        log = csv_rows(open(os.path.join(d, "log.csv")).read())[1:]
        want = oracle(d, "SELECT bidder, count(*), sum(price), max(price), count(DISTINCT auction) "
                      "FROM %s WHERE auction <> 7 GROUP BY bidder" % src)
        check(last_per_key(log, 1) == sorted(want[1:]),
              "on_update seed %d, %d workers: the log's last row per key == batch GROUP BY"
              % (seed, workers))
        counts = {}
        mono = True
        for r in log:
            mono &= int(r[1]) > counts.get(r[0], 0)
            counts[r[0]] = int(r[1])
        check(mono, "on_update seed %d: a key's updates follow its changes (count rises)" % seed)
        check(len(log) > len(want) - 1, "on_update seed %d: keys are updated more than once "
              "(%d updates, %d keys)" % (seed, len(log), len(want) - 1))
        st = json.load(open(os.path.join(d, "stats.json")))
        check(st["sinks"]["log"]["rows_written"] == len(log), "on_update: the log's rows are counted")
        # the views' final contents
        res = csv_rows(out)
        cut = next(i for i, r in enumerate(res) if r and r[0] == "window_start")
        byk, wu = res[:cut], res[cut:]
        want = oracle(d, "SELECT 'byk' AS v, auction %% 3 AS k, bidder, count(*) AS n, avg(price) "
                      "AS mean, count(*) FILTER (WHERE price > 50) AS big FROM %s "
                      "GROUP BY 2, 3 ORDER BY 2, 3" % src)
        check(byk == want, "on_update seed %d, %d workers: SELECT * FROM view == batch GROUP BY"
              % (seed, workers))
        want = oracle(d, "SELECT date_bin(INTERVAL '10 seconds', ts, TIMESTAMP '1970-01-01') AS ws, "
                      "date_bin(INTERVAL '10 seconds', ts, TIMESTAMP '1970-01-01') + INTERVAL "
                      "'10 seconds' AS we, bidder, count(*) AS n, sum(price) AS total FROM %s "
                      "WHERE ts IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 3" % src)
        check(wu[1:] == want[1:] and len(wu) > 10,
              "on_update seed %d, %d workers: a windowed view's final contents == batch query"
              % (seed, workers))
        same_across_workers(seed, workers, "on_update contents", (last_per_key(log, 1), byk, wu))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def ordered_prefix(rows):
    """(seq, med, lo) of the log's aggregates over rows (auction, bidder, price, ts)
    as PostgreSQL computes them: string_agg ORDER BY price DESC (NULLs first),
    auction; percentile_disc(0.5); min(price)."""
    import math
    srt = sorted(rows, key=lambda r: (r[2] is not None, -(r[2] or 0), r[0]))
    seq = ",".join("%d:%s" % (r[0], "-" if r[2] is None else r[2]) for r in srt)
    prices = sorted(r[2] for r in rows if r[2] is not None)
    med = str(prices[max(0, math.ceil(0.5 * len(prices)) - 1)]) if prices else ""
    return [seq, med, str(prices[0]) if prices else ""]


def test_ordered_updates(seed, n, delay_ms, workers):
    """emit = 'on_update' with aggregates that have ORDER BY inside the call
    (string_agg ... ORDER BY, percentile_disc / _cont WITHIN GROUP): every update
    of a key is the aggregate over the key's rows so far (with one worker, the
    first N of its non-late rows in line order, N the update's count), the last
    one per key and a windowed view's final contents are the batch query's, and
    1, 2 and 4 workers agree."""
    d = tempfile.mkdtemp(prefix="sl-stream-ordupd-")
    try:
        _, keep, _ = make_input(d, seed, n, delay_ms)
        job = source_sql("%d milliseconds" % delay_ms) + (
            "CREATE TABLE log (auction bigint, bidder text, n bigint, seq text, med bigint, "
            "lo bigint) "
            "WITH (connector = 'file', path = 'log.csv');\n"
            "INSERT INTO log SELECT auction, bidder, count(*), string_agg(auction::text || ':' "
            "|| coalesce(price::text, '-'), ',' ORDER BY price DESC, auction), "
            "percentile_disc(0.5) WITHIN GROUP (ORDER BY price), min(price) FROM bids "
            "GROUP BY auction, bidder;\n"
            "CREATE MATERIALIZED VIEW ov WITH (emit = 'on_update') AS SELECT window_start, "
            "bidder, count(*) AS n, string_agg(auction::text, ',' ORDER BY auction DESC, price) "
            "AS seq, percentile_cont(0.25) WITHIN GROUP (ORDER BY price) AS q1 FROM tumble(bids, "
            "ts, INTERVAL '10 seconds') GROUP BY window_start, bidder;\n"
            "SELECT window_start, bidder, n, seq, q1 FROM ov ORDER BY window_start, bidder;\n")
        with open(os.path.join(d, "job.sql"), "w") as f:
            f.write(job)
        rc, out, err = run(["run", "job.sql", "--format", "csv", "--workers", str(workers)], cwd=d)
        what = "on_update with ORDER BY inside calls, seed %d, %d workers" % (seed, workers)
        check(rc == 0, "%s: run succeeds %s" % (what, err.strip()[:300]))
        if rc:
            return
        log = csv_rows(open(os.path.join(d, "log.csv")).read())[1:]
        src = "read_csv('%s', true, ',', '%s')" % (os.path.join(d, "keep.csv"), COLS)
        want = oracle(d, "SELECT auction, bidder, count(*), string_agg(auction::text || ':' "
                      "|| coalesce(price::text, '-'), ',' ORDER BY price DESC, auction), "
                      "percentile_disc(0.5) WITHIN GROUP (ORDER BY price), min(price) FROM %s "
                      "GROUP BY auction, bidder" % src)
        check(last_per_key(log, 2) == sorted(want[1:], key=lambda r: (int(r[0]), r[1])) and
              len(log) > 2 * len(want),
              "%s: the log's last row per key == batch GROUP BY (%d updates of %d keys)" %
              (what, len(log), len(want) - 1))
        if workers == 1:
            by = {}
            for r in keep:
                by.setdefault((str(r[0]), "" if r[1] is None else r[1]), []).append(r)
            bad = [r for r in log if r[3:] != ordered_prefix(by[tuple(r[:2])][:int(r[2])])]
            check(not bad, "%s: every update is the aggregate over the key's rows so far "
                  "(%d updates, wrong: %s)" % (what, len(log), bad[:1]))
        res = csv_rows(out)
        want = oracle(d, "SELECT date_bin(INTERVAL '10 seconds', ts, TIMESTAMP '1970-01-01') AS "
                      "ws, bidder, count(*) AS n, string_agg(auction::text, ',' ORDER BY auction "
                      "DESC, price) AS seq, percentile_cont(0.25) WITHIN GROUP (ORDER BY price) "
                      "AS q1 FROM %s WHERE ts IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2" % src)
        check(res[1:] == want[1:] and len(res) > 10,
              "%s: the windowed view's final contents == batch query (%d rows against %d)" %
              (what, len(res) - 1, len(want) - 1))
        same_across_workers(seed, workers, "on_update ordered", (last_per_key(log, 2), res))
    finally:
        shutil.rmtree(d, ignore_errors=True)



def apply_log(rows, nkeys):
    """An upsert log with its operation first (op_column): the rows it leaves, and
    whether every delete named a key the log held."""
    state, ok, deletes = {}, True, 0
    for r in rows:
        key = tuple(r[1:1 + nkeys])
        if r[0] == "upsert":
            state[key] = r[1:]
        elif r[0] == "delete":
            ok &= state.pop(key, None) is not None
            deletes += 1
        else:
            ok = False
    return sorted(state.values()), ok, deletes


def test_update_deletes(seed, n, delay_ms, workers):
    """A GROUP BY whose HAVING a group passes and fails by turns (an even count), into
    sinks with op_column: applying the log (upsert, delete) leaves the batch query's
    rows, every delete names a group the log holds, and a jsonl sink says the same."""
    d = tempfile.mkdtemp(prefix="sl-stream-del-")
    try:
        make_input(d, seed, n, delay_ms)
        sel = ("SELECT auction, bidder, count(*), sum(price) FROM bids GROUP BY auction, bidder "
               "HAVING count(*) %% 2 = 0")
        job = source_sql("%d milliseconds" % delay_ms) + (
            "CREATE TABLE log (op text, auction bigint, bidder text, n bigint, total numeric) "
            "WITH (connector = 'file', path = 'log.csv', op_column = 'op');\n"
            "INSERT INTO log " + sel % () + ";\n"
            "CREATE TABLE jlog (auction bigint, bidder text, n bigint, total numeric, op text) "
            "WITH (connector = 'file', path = 'log.jsonl', format = 'jsonl', op_column = 'op');\n"
            "INSERT INTO jlog " + sel % () + ";\n")
        with open(os.path.join(d, "job.sql"), "w") as f:
            f.write(job)
        rc, out, err = run(["run", "job.sql", "--workers", str(workers)], cwd=d)
        check(rc == 0, "deletes seed %d, %d workers: run succeeds %s" % (seed, workers,
                                                                      err.strip()[:300]))
        if rc:
            return
        src = "read_csv('%s', true, ',', '%s')" % (os.path.join(d, "keep.csv"), COLS)
        want = oracle(d, "SELECT auction, coalesce(bidder, ''), count(*), sum(price) FROM %s "
                      "GROUP BY auction, bidder HAVING count(*) %% 2 = 0" % src)[1:]
        log = csv_rows(open(os.path.join(d, "log.csv")).read())
        check(log[0] == ["op", "auction", "bidder", "n", "total"], "deletes: the csv header")
        got, ok, deletes = apply_log(log[1:], 2)
        check(got == sorted(want) and ok and deletes > 10,
              "deletes seed %d, %d workers: applying the log leaves the batch query's rows, "
              "each delete of a group it held (%d deletes, %d rows, want %d)"
              % (seed, workers, deletes, len(got), len(want)))
        js = [json.loads(x) for x in open(os.path.join(d, "log.jsonl"))]
        rows = [[o["op"], str(o["auction"]), o.get("bidder") or "", str(o["n"]) if o["n"] is not
                 None else "", str(o["total"]) if o["total"] is not None else ""] for o in js]
        got_j, ok_j, deletes_j = apply_log(rows, 2)
        dels = [o for o in js if o["op"] == "delete"]
        # (another job: how many updates and deletes it writes depends on its batches)
        check(got_j == got and ok_j and deletes_j > 0 and
              all(o["n"] is None and o["total"] is None for o in dels),
              "deletes seed %d, %d workers: the jsonl sink's log applied leaves the same rows, "
              "a delete with its key only" % (seed, workers))
        same_across_workers(seed, workers, "deletes", got)
        if workers == 1:  # op_column's refusals
            for bad, msg in (("op_column = 'n'", 'op_column column "n" must be of type text'),
                             ("op_column = 'nope'", 'op_column column "nope" does not exist')):
                rc, out, err = run_text(d, job.replace("op_column = 'op'", bad, 1))
                check(rc != 0 and msg in err, "op_column: %s is refused: %s" % (bad, err.strip()))
            rc, out, err = run_text(d, job.replace(
                "INSERT INTO log ", "INSERT INTO log (op, auction, bidder, n) ", 1))
            check(rc != 0 and "is its op_column" in err,
                  "op_column: an INSERT naming it is refused: " + err.strip())
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_update_log_memory():
    """A view's upsert log is state: counted with the aggregation's against work_mem.
    The smallest work_mem the same GROUP BY into a file sink (no log) runs in is too
    small for the view, which also keeps a row per group."""
    d = tempfile.mkdtemp(prefix="sl-stream-ulogmem-")
    try:
        with open(os.path.join(d, "k.csv"), "w") as f:
            f.write("k,v,ts\n")
            f.write("".join("key-%06d,%d,2024-01-01 00:%02d:%02d\n" % (i, i % 7, i // 3600 % 60,
                                                                      i // 60 % 60)
                            for i in range(30000)))
        src = ("CREATE TABLE ks (k text, v bigint, ts timestamp) WITH (connector = 'file', "
               "path = 'k.csv', event_time = 'ts', max_delay = '1 hour');\n")
        to_file = (src + "CREATE TABLE o (k text, n bigint, s bigint) WITH (connector = 'file', "
                   "path = 'o.csv');\nINSERT INTO o SELECT k, count(*), sum(v) FROM ks GROUP BY k;\n")
        to_view = (src + "CREATE MATERIALIZED VIEW v AS SELECT k, count(*) AS n, sum(v) AS s "
                   "FROM ks GROUP BY k;\nSELECT count(*) FROM v;\n")

        def runs(job, kb):
            rc, out, err = run_text(d, "SET work_mem = '%dkB';\n" % kb + job, ["--workers", "1"])
            return rc == 0, err
        lo, hi = 64, 1 << 20  # the file job fails at lo, runs at hi
        check(not runs(to_file, lo)[0] and runs(to_file, hi)[0],
              "upsert log memory: the GROUP BY needs between 64 kB and 1 GB")
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if runs(to_file, mid)[0] else (mid, hi)
        ok, err = runs(to_view, hi)
        # (whichever check sees the total first: the log's or the aggregation's)
        check(not ok and "out of memory" in err and "work_mem" in err,
              "the view's upsert log counts against work_mem: at the %d kB the same GROUP BY "
              "into a file runs in, the view fails: %s" % (hi, err.strip()[:200]))
        check(runs(to_view, 4 * hi)[0], "... and runs with more work_mem")
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---- session windows ------------------------------------------------------------

def pg_time(text):
    """A timestamp as the engine prints it: trailing zeros of the fraction dropped."""
    return text.rstrip("0").rstrip(".") if re.match(r".* \d\d:\d\d:\d\d\.\d+$", text) else text


def sessions(keep, gap_ms, key):
    """Rule 5 computed here: per key, rows sorted by time, a new session when the
    next row is more than gap after the last; (start, end, key) -> rows."""
    by_key = {}
    for r in keep:
        if r[3] is not None:
            by_key.setdefault(key(r), []).append(r)
    out = {}
    for k, rows in by_key.items():
        rows.sort(key=lambda r: r[3])
        cur = []
        for r in rows + [None]:
            if cur and (r is None or r[3] - cur[-1][3] > gap_ms):
                out[(cur[0][3], cur[-1][3] + gap_ms, k)] = cur
                cur = []
            if r is not None:
                cur.append(r)
    return out


def bidder_sessions(keep, gap_ms, having):
    """The rows of `SELECT window_start, window_end, bidder, count(*), sum(price),
    count(DISTINCT auction) FROM session(...) WHERE auction <> 7 GROUP BY ...`
    with a HAVING on count(*)."""
    want = []
    for (st, en, k), rs in sessions(keep, gap_ms, lambda r: r[1]).items():
        rs = [r for r in rs if r[0] != 7]
        if rs and having(len(rs)):
            prices = [r[2] for r in rs if r[2] is not None]
            want.append([ts_text(st), ts_text(en), k or "", str(len(rs)),
                         str(sum(prices)) if prices else "", str(len({r[0] for r in rs}))])
    return want


def length_sessions(keep, gap_ms, where):
    """The rows of `SELECT window_start, window_end, length(bidder), auction % 3,
    count(*), sum(price) FROM session(...) WHERE ... GROUP BY window_start,
    window_end, length(bidder), auction % 3`: keys that are expressions, so
    alice's and carol's rows (both 5 letters) share sessions."""
    want = []
    key = lambda r: (len(r[1]) if r[1] is not None else None, r[0] % 3)
    for (st, en, k), rs in sessions(keep, gap_ms, key).items():
        rs = [r for r in rs if where(r)]
        if rs:
            prices = [r[2] for r in rs if r[2] is not None]
            want.append([ts_text(st), ts_text(en), "" if k[0] is None else str(k[0]), str(k[1]),
                         str(len(rs)), str(sum(prices)) if prices else ""])
    return want


def norm_times(rows):
    return sorted([[pg_time(c) for c in r] for r in rows])


def test_sessions(seed, n, delay_ms, gap_ms, workers):
    d = tempfile.mkdtemp(prefix="sl-stream-sess-")
    try:
        rows, keep, late = make_input(d, seed, n, delay_ms)
        job = source_sql("%d milliseconds" % delay_ms) + (
            "CREATE TABLE s (window_start timestamp, window_end timestamp, bidder text, n bigint, "
            "total bigint, auctions bigint) WITH (connector = 'file', path = 's.csv');\n"
            "INSERT INTO s SELECT window_start, window_end, bidder, count(*), sum(price), "
            "count(DISTINCT auction) FROM session(bids, ts, INTERVAL '%d milliseconds') "
            "WHERE auction <> 7 GROUP BY window_start, window_end, bidder;\n"
            "CREATE MATERIALIZED VIEW g AS SELECT window_start, window_end, count(*) AS n "
            "FROM session(bids, ts, INTERVAL '%d milliseconds') GROUP BY window_start, window_end;\n"
            "SELECT * FROM g ORDER BY window_start;\n") % (gap_ms, gap_ms)
        # keys that are expressions, through a projection: computed from the source's
        # rows as they arrive (sessions form before WHERE)
        job += ("CREATE TABLE x (ws timestamp, we timestamp, l int, a3 bigint, n bigint, "
                "total bigint) WITH (connector = 'file', path = 'x.csv');\n"
                "INSERT INTO x SELECT window_start, window_end, l, a3, count(*), sum(price) FROM "
                "(SELECT window_start, window_end, length(bidder) AS l, auction %% 3 AS a3, price "
                "FROM session(bids, ts, INTERVAL '%d milliseconds')) s WHERE price > 20 "
                "GROUP BY window_start, window_end, l, a3;\n") % gap_ms
        with open(os.path.join(d, "job.sql"), "w") as f:
            f.write(job)
        rc, out, err = run(["run", "job.sql", "--format", "csv", "--workers", str(workers)], cwd=d)
        check(rc == 0, "sessions seed %d, %d workers: run succeeds %s" % (seed, workers, err.strip()[:300]))
        if rc:
            return
        got = csv_rows(open(os.path.join(d, "s.csv")).read())[1:]
        # WHERE applies to the rows of sessions formed over every row (the window
        # table function comes before WHERE, as in batch SQL)
        want = bidder_sessions(keep, gap_ms, lambda n: True)
        check(norm_times(got) == norm_times(want) and len(got) > 20,
              "sessions seed %d, %d workers: per-key sessions == computed from the non-late rows "
              "(%d sessions)" % (seed, workers, len(got)))
        ends = [r[1] for r in got]
        check(ends == sorted(ends), "sessions: rows leave in non-decreasing window_end")
        gotx = csv_rows(open(os.path.join(d, "x.csv")).read())[1:]
        wantx = length_sessions(keep, gap_ms, lambda r: r[2] is not None and r[2] > 20)
        check(norm_times(gotx) == norm_times(wantx) and len(gotx) > 20,
              "sessions seed %d, %d workers: keyed by length(bidder) and auction %% 3 (alice and "
              "carol share sessions) == computed from the non-late rows (%d sessions)"
              % (seed, workers, len(gotx)))
        merged = sessions(keep, gap_ms, lambda r: 0)
        want = sorted([pg_time(ts_text(st)), pg_time(ts_text(en)), str(len(rs))]
                      for (st, en, _), rs in merged.items())
        check(csv_rows(out)[1:] == want, "sessions seed %d, %d workers: one sequence without keys "
              "(%d sessions)" % (seed, workers, len(want)))
        same_across_workers(seed, workers, "sessions", (sorted_within_end(got, 1), csv_rows(out),
                                                        norm_times(gotx)))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_session_updates(seed, n, delay_ms, gap_ms, workers):
    """emit = 'on_update' with session windows: a view's contents after the run are
    the sessions of the non-late rows (computed here), so every session a later
    batch grew or merged into another left the log (its old key deleted), and a
    HAVING that stops keeping a session deletes it.  Many batches (8,192 rows
    each), so that sessions grow and merge across them."""
    d = tempfile.mkdtemp(prefix="sl-stream-sessupd-")
    try:
        rows, keep, late = make_input(d, seed, n, delay_ms)
        job = source_sql("%d milliseconds" % delay_ms) + (
            "CREATE MATERIALIZED VIEW u WITH (emit = 'on_update') AS SELECT window_start, "
            "window_end, bidder, count(*) AS n, sum(price) AS total, count(DISTINCT auction) AS a "
            "FROM session(bids, ts, INTERVAL '%d milliseconds') WHERE auction <> 7 "
            "GROUP BY window_start, window_end, bidder HAVING count(*) %% 3 <> 1;\n"
            "CREATE TABLE ups (ws timestamp, we timestamp, bidder text, n bigint, total bigint, "
            "a bigint) WITH (connector = 'file', path = 'ups.csv');\n"
            "INSERT INTO ups SELECT * FROM u;\n"
            "CREATE MATERIALIZED VIEW ux WITH (emit = 'on_update') AS SELECT window_start, "
            "window_end, length(bidder) AS l, auction %% 3 AS a3, count(*) AS n, sum(price) AS t "
            "FROM session(bids, ts, INTERVAL '%d milliseconds') WHERE price > 20 "
            "GROUP BY window_start, window_end, length(bidder), auction %% 3;\n"
            "CREATE TABLE uxs (ws timestamp, we timestamp, l int, a3 bigint, n bigint, t bigint) "
            "WITH (connector = 'file', path = 'uxs.csv');\n"
            "INSERT INTO uxs SELECT * FROM ux;\n"
            "SELECT * FROM u ORDER BY window_start, bidder;\n") % (gap_ms, gap_ms)
        with open(os.path.join(d, "job.sql"), "w") as f:
            f.write(job)
        rc, out, err = run(["run", "job.sql", "--format", "csv", "--workers", str(workers)], cwd=d)
        check(rc == 0, "session updates seed %d, %d workers: run succeeds %s"
              % (seed, workers, err.strip()[:300]))
        if rc:
            return
        want = bidder_sessions(keep, gap_ms, lambda n: n % 3 != 1)
        got = csv_rows(out)[1:]
        check(norm_times(got) == norm_times(want) and len(got) > 50,
              "session updates seed %d, %d workers: the view holds the sessions of the non-late "
              "rows, no grown or merged one twice (%d rows, %d expected)"
              % (seed, workers, len(got), len(want)))
        # in `streamlake run` a job reading an on_update view gets its final rows
        ups = csv_rows(open(os.path.join(d, "ups.csv")).read())[1:]
        check(norm_times(ups) == norm_times(got), "session updates seed %d, %d workers: a job reading the "
              "view gets its rows" % (seed, workers))
        uxs = csv_rows(open(os.path.join(d, "uxs.csv")).read())[1:]
        wantx = length_sessions(keep, gap_ms, lambda r: r[2] is not None and r[2] > 20)
        check(norm_times(uxs) == norm_times(wantx) and len(uxs) > 50,
              "session updates seed %d, %d workers: keyed by expressions, grown and merged "
              "sessions deleted by their computed keys (%d rows, %d expected)"
              % (seed, workers, len(uxs), len(wantx)))
        same_across_workers(seed, workers, "session updates", norm_times(got))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_session_update_merge():
    """emit = 'on_update': a's two sessions and b's one are handed out as updates
    with the first batch (8,192 rows); in a later batch a row bridges a's two
    into one and another extends b backwards, so the view drops their old rows."""
    d = tempfile.mkdtemp(prefix="sl-stream-sessupd2-")
    try:
        lines = ["auction,bidder,price,ts",
                 "1,a,1,2024-01-01 00:00:10",
                 "1,a,2,2024-01-01 00:00:16",   # a: [10,13) and [16,19)
                 "1,b,3,2024-01-01 00:00:12"]   # b: [12,15)
        lines += ["2,f%d,1,2024-01-01 00:00:%02d" % (i % 40, 10 + i % 9) for i in range(9000)]
        lines += ["1,a,4,2024-01-01 00:00:13",  # bridges a's two: [10,19)
                  "1,b,5,2024-01-01 00:00:10"]  # extends b backwards: [10,15)
        with open(os.path.join(d, "bids.csv"), "w") as f:
            f.write("\n".join(lines) + "\n")
        job = source_sql("10 seconds") + (
            "CREATE MATERIALIZED VIEW u WITH (emit = 'on_update') AS SELECT window_start, "
            "window_end, bidder, count(*) AS n, sum(price) AS total FROM session(bids, ts, "
            "INTERVAL '3 seconds') GROUP BY window_start, window_end, bidder;\n"
            "SELECT * FROM u WHERE bidder IN ('a', 'b') ORDER BY bidder, window_start;\n")
        for workers in (1, 2, 4):
            rc, out, err = run_text(d, job, ["--workers", str(workers), "--format", "csv"])
            check(rc == 0 and out == "window_start,window_end,bidder,n,total\n"
                  "2024-01-01 00:00:10,2024-01-01 00:00:19,a,3,7\n"
                  "2024-01-01 00:00:10,2024-01-01 00:00:15,b,2,8\n",
                  "on_update sessions merge and extend across batches (%d workers): %s"
                  % (workers, out if rc == 0 else err))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_session_merge():
    """A row arriving late (but on time) bridges two sessions of its key into one;
    another extends a session backwards; a session closes only when the watermark
    is past its end."""
    d = tempfile.mkdtemp(prefix="sl-stream-merge-")
    try:
        with open(os.path.join(d, "bids.csv"), "w") as f:
            f.write("auction,bidder,price,ts\n"
                    "1,a,1,2024-01-01 00:00:10\n"
                    "1,a,2,2024-01-01 00:00:16\n"   # a: [10,13) and [16,19)
                    "1,b,3,2024-01-01 00:00:12\n"
                    "1,a,4,2024-01-01 00:00:13\n"   # bridges a's two: [10,19)
                    "1,b,5,2024-01-01 00:00:10\n"   # extends b backwards: [10,15)
                    "1,a,6,2024-01-01 00:00:40\n")  # a: [40,43)
        job = source_sql("10 seconds") + (
            "CREATE TABLE s (ws timestamp, we timestamp, bidder text, n bigint, total bigint) "
            "WITH (connector = 'file', path = 's.csv');\n"
            "INSERT INTO s SELECT window_start, window_end, bidder, count(*), sum(price) "
            "FROM session(bids, ts, INTERVAL '3 seconds') GROUP BY window_start, window_end, bidder;\n")
        for workers in (1, 2, 4):
            rc, out, err = run_text(d, job, ["--workers", str(workers)])
            got = open(os.path.join(d, "s.csv")).read() if rc == 0 else err
            check(got == "ws,we,bidder,n,total\n"
                  "2024-01-01 00:00:10,2024-01-01 00:00:15,b,2,8\n"
                  "2024-01-01 00:00:10,2024-01-01 00:00:19,a,3,7\n"
                  "2024-01-01 00:00:40,2024-01-01 00:00:43,a,1,6\n",
                  "sessions merge and extend (%d workers): %s" % (workers, got))
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---- jsonl sources ------------------------------------------------------------------

def test_jsonl(seed, n, delay_ms):
    """The same rows as JSON lines give what the CSV file gives, for 1, 2 and 4
    workers; a line that is not a JSON object is a bad record."""
    d = tempfile.mkdtemp(prefix="sl-stream-jsonl-")
    try:
        rows, keep, late = make_input(d, seed, n, delay_ms)
        with open(os.path.join(d, "bids.jsonl"), "w") as f:
            for a, b, p, t in rows:
                obj = {"auction": a, "price": p, "ts": None if t is None else ts_text(t)}
                if b is not None:
                    obj["bidder"] = b  # a missing key is NULL too
                f.write(json.dumps(obj) + "\n")
        job = ("CREATE TABLE bids (%s) WITH (connector = 'file', path = '%%s', format = '%%s', "
               "event_time = 'ts', max_delay = '%d milliseconds');\n"
               "CREATE TABLE o (ws timestamp, bidder text, n bigint, total numeric) "
               "WITH (connector = 'file', path = 'o.csv');\n"
               "INSERT INTO o SELECT window_start, bidder, count(*), sum(price) FROM "
               "tumble(bids, ts, INTERVAL '10 seconds') GROUP BY window_start, bidder;\n") % (COLS, delay_ms)
        outs = []
        for path, fmt, workers in (("bids.csv", "csv", 1), ("bids.jsonl", "jsonl", 1),
                                   ("bids.jsonl", "jsonl", 2), ("bids.jsonl", "jsonl", 4)):
            rc, out, err = run_text(d, job % (path, fmt), ["--workers", str(workers)])
            st = json.load(open(os.path.join(d, "stats.json"))) if rc == 0 else {}
            check(rc == 0 and st["sources"]["bids"]["late_dropped"] == late,
                  "jsonl seed %d (%s, %d workers): runs, %d late %s" % (seed, fmt, workers, late,
                                                                        err.strip()[:200]))
            outs.append(sorted_within_end(csv_rows(open(os.path.join(d, "o.csv")).read()), 0)
                        if rc == 0 else None)
        check(outs[0] and all(o == outs[0] for o in outs), "jsonl: the same rows as from csv")
        # a jsonl file sink: the same rows, an object a line (NULL as null, numbers as
        # numbers), for an aggregation and for a pass-through (formatted on the workers)
        sinks = job.replace("'o.csv'", "'o.jsonl', format = 'jsonl'") + (
            "CREATE TABLE p (auction bigint, bidder text, price bigint, ts timestamp) WITH "
            "(connector = 'file', path = 'p.jsonl', format = 'jsonl');\n"
            "INSERT INTO p SELECT * FROM bids;\n")
        want_p = [[a, b, p, None if t is None else pg_time(ts_text(t))] for a, b, p, t in keep]
        for workers in (1, 2, 4):
            rc, out, err = run_text(d, sinks % ("bids.csv", "csv"), ["--workers", str(workers)])
            got = [json.loads(x) for x in open(os.path.join(d, "o.jsonl"))] if rc == 0 else []
            got = [["" if o[k] is None else str(o[k]) for k in ("ws", "bidder", "n", "total")]
                   for o in got]
            check(rc == 0 and sorted_within_end(got, 0) == [r for r in outs[0] if r[0] != "ws"],
                  "jsonl sink, %d workers: the aggregation's rows == the csv sink's %s"
                  % (workers, err.strip()[:200]))
            got = [json.loads(x) for x in open(os.path.join(d, "p.jsonl"))] if rc == 0 else []
            check([[o["auction"], o["bidder"], o["price"], o["ts"]] for o in got] == want_p,
                  "jsonl sink, %d workers: a pass-through writes the on-time rows in line "
                  "order, NULL as null" % workers)
        with open(os.path.join(d, "bids.jsonl"), "a") as f:
            f.write('{"auction": 1, "price": [1], "ts": "2024-01-01"}\nnot json\n')
        rc, out, err = run_text(d, job % ("bids.jsonl", "jsonl"), ["--workers", "2"])
        check(rc == 1 and "line %d" % (n + 1) in err and "JSON array" in err and
              'source "bids"' in err and 'column "price"' in err,
              "jsonl: an array for a bigint names the line and the column: " + err.strip()[:200])
        rc, out, err = run_text(d, (job % ("bids.jsonl", "jsonl")).replace(
            "max_delay", "on_error = 'skip', max_delay"), ["--workers", "2"])
        st = json.load(open(os.path.join(d, "stats.json"))) if rc == 0 else {}
        check(rc == 0 and st["sources"]["bids"]["bad_rows"] == 2,
              "jsonl: bad lines skipped with on_error = 'skip' %s %s" % (st, err.strip()[:200]))
        # a line that is not JSON at all fails the job (on_error = 'fail'), naming its line
        with open(os.path.join(d, "bids.jsonl")) as f:
            lines = f.readlines()
        with open(os.path.join(d, "bids.jsonl"), "w") as f:
            f.writelines(lines[:n] + ["not json\n"])
        rc, out, err = run_text(d, job % ("bids.jsonl", "jsonl"), ["--workers", "2"])
        check(rc == 1 and "line %d" % (n + 1) in err and "not a JSON object" in err and
              'source "bids"' in err,
              "jsonl: a line that does not parse names the source and the line: " +
              err.strip()[:200])
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---- partitioned reading: what a later split must get right ---------------------

def big_input(n, bad_at=None, late_at=None, quote=False):
    """Rows whose event time goes up a second per row; a row far in the past at
    late_at, a bad price at bad_at, a quoted bidder somewhere when quote."""
    lines = ["auction,bidder,price,ts"]
    for i in range(n):
        ms = i * 1000
        if i == late_at:
            ms = 0
        price = "six" if i == bad_at else str(i % 50)
        bidder = '"b,%d"' % (i % 5) if quote and i == n // 2 else "b%d" % (i % 5)
        lines.append("%d,%s,%s,%s" % (i % 7, bidder, price, ts_text(ms)))
    return "\n".join(lines) + "\n"


def test_splits():
    d = tempfile.mkdtemp(prefix="sl-stream-split-")
    try:
        n = 6000  # about 250 KB: several splits per worker
        job = source_sql("2 seconds") + (
            "CREATE TABLE o (ws timestamp, bidder text, n bigint, total bigint) "
            "WITH (connector = 'file', path = 'o.csv');\n"
            "INSERT INTO o SELECT window_start, bidder, count(*), sum(price) "
            "FROM tumble(bids, ts, INTERVAL '1 minute') GROUP BY window_start, bidder;\n")
        outs = {}
        for quote in (False, True):
            with open(os.path.join(d, "bids.csv"), "w") as f:
                f.write(big_input(n, late_at=4000, quote=quote))
            for workers in (1, 3):
                rc, out, err = run_text(d, job, ["--workers", str(workers)])
                st = json.load(open(os.path.join(d, "stats.json"))) if rc == 0 else {}
                check(rc == 0 and st["sources"]["bids"]["late_dropped"] == 1 and
                      st["sources"]["bids"]["rows_read"] == n,
                      "split input (quotes %s), %d workers: one late row in a later split %s %s"
                      % (quote, workers, st, err.strip()[:200]))
                got = csv_rows(open(os.path.join(d, "o.csv")).read()) if rc == 0 else []
                ends = [r[0] for r in got[1:]]
                check(ends == sorted(ends), "split input: rows in non-decreasing window order")
                outs[(quote, workers)] = sorted_within_end(got[1:], 0)
        check(outs[(False, 1)] == outs[(False, 3)] and outs[(False, 1)],
              "split input: 1 and 3 workers write the same file")
        check(outs[(True, 1)] == outs[(True, 3)] and outs[(True, 1)],
              "a file with quotes (one reader, rows still exchanged): the same file")
        # a bad row in a later split: the error names its line, as one reader would
        with open(os.path.join(d, "bids.csv"), "w") as f:
            f.write(big_input(n, bad_at=5000))
        rc, out, err = run_text(d, job, ["--workers", "4"])
        check(rc == 1 and "line 5002" in err and 'column "price"' in err,
              "a bad value in a later split names its line: " + err.strip()[:200])
        # two bad rows in different splits: the first in line order is reported
        lines = big_input(n, bad_at=5000).split("\n")
        lines[1001] = lines[1001].replace(",1,", ",one,", 1) if ",1," in lines[1001] else \
            lines[1001].split(",")[0] + ",x,bad," + lines[1001].split(",")[3]
        with open(os.path.join(d, "bids.csv"), "w") as f:
            f.write("\n".join(lines))
        rc, out, err = run_text(d, job, ["--workers", "4"])
        check(rc == 1 and "line 1002" in err, "of two bad rows, the first in line order: " + err.strip()[:200])
        # on_error = 'skip': a bad row with a far-future time must not move the watermark
        lines = big_input(n).split("\n")
        lines[3001] = "1,bx,oops,%s" % ts_text(10**9)
        with open(os.path.join(d, "bids.csv"), "w") as f:
            f.write("\n".join(lines))
        rc, out, err = run_text(d, job.replace("max_delay = '2 seconds'",
                                               "max_delay = '2 seconds', on_error = 'skip'"),
                                ["--workers", "4"])
        st = json.load(open(os.path.join(d, "stats.json"))) if rc == 0 else {}
        check(rc == 0 and st["sources"]["bids"]["late_dropped"] == 0 and
              st["sources"]["bids"]["bad_rows"] == 1,
              "a skipped bad row in one split does not make the next splits late: %s %s"
              % (st, err.strip()[:200]))
        # late = 'error' in a later split
        with open(os.path.join(d, "bids.csv"), "w") as f:
            f.write(big_input(n, late_at=4500))
        rc, out, err = run_text(d, job.replace("max_delay = '2 seconds'",
                                               "max_delay = '2 seconds', late = 'error'"),
                                ["--workers", "4"])
        check(rc == 1 and "line 4502" in err and "late" in err,
              "late = 'error' in a later split names its line: " + err.strip()[:200])
    finally:
        shutil.rmtree(d, ignore_errors=True)


def run_bounded(d, sql, extra=()):
    """run_text with a hang detector: None for the exit status when the run did
    not end within 120 s (a generous bound: the runs here take well under a second)."""
    with open(os.path.join(d, "job.sql"), "w") as f:
        f.write(sql)
    try:
        p = subprocess.run([BIN, "run", "job.sql", "--stats", "stats.json"] + list(extra), cwd=d,
                           capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return None, "", "(hung: killed after 120 s)"
    return p.returncode, p.stdout, p.stderr


def split_input(n, quote_every):
    """Rows a second apart; every quote_every-th bidder a quoted field holding a
    line break and a comma, so that splits cut at byte offsets often start inside
    one (each split then starts where the one before it stopped reading)."""
    lines = ["auction,bidder,price,ts"]
    for i in range(n):
        bidder = '"b\n,%d"' % (i % 5) if quote_every and i % quote_every == 0 else "b%d" % (i % 5)
        lines.append("%d,%s,%d,%s" % (i % 7, bidder, i % 50, ts_text(i * 1000)))
    return lines


def test_quoted_splits():
    """A CSV file holding quotes is split where records end when a job cannot check
    its splits as it reads (checkpoints, late = 'error'): quoted fields with line
    breaks, commas and doubled quotes across the cut points, quotes inside an
    unquoted field (literal), bytes after a closing quote (skipped), CRLF lines and
    a quoted header.  2 and 4 workers each read a part and write what 1 worker
    writes, byte for byte, and an error's line is the one reader's."""
    d = tempfile.mkdtemp(prefix="sl-stream-qsplit-")
    try:
        rnd = random.Random(17)
        odd = ['"q\n,%d"', 'ab"c%d', '"x""y%d"', '"z%d"tail', '""', '"cr\r\n%d"', '"%d\n"""']
        lines = ['"auction","bidder",price,"ts"']
        for i in range(30000):
            b = rnd.choice(odd) if rnd.random() < 0.3 else "b%d"
            b = b % (i % 9) if "%d" in b else b
            end = "\r" if rnd.random() < 0.05 else ""
            lines.append("%d,%s,%d,%s%s" % (i % 7, b, i % 50, ts_text(i * 1000), end))
        text = "\n".join(lines) + "\n"
        with open(os.path.join(d, "bids.csv"), "w", newline="") as f:
            f.write(text)
        job = source_sql("2 seconds", ", late = 'error'") + (
            "CREATE TABLE o (auction bigint, bidder text, price bigint, ts timestamp) "
            "WITH (connector = 'file', path = 'o.csv');\n"
            "INSERT INTO o SELECT * FROM bids WHERE price >= 0;\n")
        want = None
        for workers in (1, 2, 4):
            for ck in ([], ["--checkpoint-dir", os.path.join(d, "ck"),
                            "--checkpoint-interval", "0.01"]):
                rc, out, err = run_bounded(d, job, ["--workers", str(workers)] + ck)
                st = json.load(open(os.path.join(d, "stats.json"))) if rc == 0 else {}
                src = st.get("sources", {}).get("bids", {})
                got = open(os.path.join(d, "o.csv"), "rb").read() if rc == 0 else b""
                want = got if want is None else want
                check(rc == 0 and got == want and src.get("rows_read") == 30000 and
                      src.get("readers") == workers,
                      "quoted file, %d workers%s: read by every worker (%s), output equal to "
                      "1 worker's byte for byte %s" % (workers, " with checkpoints" if ck else
                                                       "", src.get("readers"), err.strip()[:200]))
        # a late row far into the file: the error's line counts quoted line breaks
        bad = text.split("\n")
        at = next(i for i in range(len(bad) * 3 // 4, len(bad)) if bad[i].startswith("3,b"))
        bad[at] = bad[at].rsplit(",", 1)[0] + "," + ts_text(0)
        with open(os.path.join(d, "bids.csv"), "w", newline="") as f:
            f.write("\n".join(bad))
        errs = set()
        for workers in (1, 2, 4):
            rc, out, err = run_bounded(d, job, ["--workers", str(workers)])
            errs.add((rc, tuple(l for l in err.splitlines() if "ERROR" in l)))
        check(len(errs) == 1 and next(iter(errs))[0] == 1 and
              "line %d" % (at + 1) in str(errs),
              "a late row in a quoted file: the same error and line with 1, 2 and 4 workers %s"
              % errs)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_split_errors():
    """A bad record in a later split read by 2 or 4 workers: the same error (source,
    line, column) and exit status as one reader, and no hang, wherever it falls
    (a worker's first, middle or last split); on_error = 'skip' gives the same
    output and figures as one reader."""
    d = tempfile.mkdtemp(prefix="sl-stream-splerr-")
    try:
        n = 20000  # about 800 KB: several splits per worker with 4 workers
        agg = ("CREATE TABLE o (ws timestamp, bidder text, n bigint, total bigint) "
               "WITH (connector = 'file', path = 'o.csv');\n"
               "INSERT INTO o SELECT window_start, bidder, count(*), sum(price) "
               "FROM tumble(bids, ts, INTERVAL '1 minute') GROUP BY window_start, bidder;\n")
        plain = ("CREATE TABLE o (auction bigint, bidder text, price bigint, ts timestamp) "
                 "WITH (connector = 'file', path = 'o.csv');\n"
                 "INSERT INTO o SELECT * FROM bids WHERE price >= 0;\n")
        bads = (("field count", lambda l: l.rsplit(",", 1)[0], "3 fields, expected 4"),
                ("bad value", lambda l: re.sub(r",(\d+),(2024-)", r",x\1,\2", l), 'column "price"'))
        for quote_every in (0, 3):
            for what, spoil, says in bads:
                for at in (n * 3 // 10, n * 6 // 10, n - 40):
                    lines = split_input(n, quote_every)
                    lines[1 + at] = spoil(lines[1 + at])
                    with open(os.path.join(d, "bids.csv"), "w") as f:
                        f.write("\n".join(lines) + "\n")
                    for kind, tail in (("aggregation", agg), ("pass-through", plain)):
                        job = source_sql("2 seconds") + tail
                        want = None
                        for workers in (1, 2, 4):
                            rc, out, err = run_bounded(d, job, ["--workers", str(workers)])
                            got = (rc, [l for l in err.splitlines() if "ERROR" in l])
                            if workers == 1:
                                want = got
                                check(rc == 1 and 'source "bids"' in err and "line " in err and
                                      says in err, "%s at row %d (quotes every %d, %s), 1 worker: "
                                      "a clear error %s" % (what, at, quote_every, kind,
                                                            err.strip()[:200]))
                            else:
                                check(got == want, "%s at row %d (quotes every %d, %s), %d workers:"
                                      " ends with the error and status of 1 worker%s"
                                      % (what, at, quote_every, kind, workers,
                                         "" if got == want else ": %s, not %s" % (got, want)))
                    # skipped: the same output and figures as one reader
                    job = source_sql("2 seconds", ", on_error = 'skip'") + agg
                    want = None
                    for workers in (1, 2, 4):
                        rc, out, err = run_bounded(d, job, ["--workers", str(workers)])
                        st = json.load(open(os.path.join(d, "stats.json"))) if rc == 0 else {}
                        src = st.get("sources", {}).get("bids", {})
                        for f in ("readers", "rows_exchanged", "partials_exchanged"):
                            src.pop(f, None)
                        res = open(os.path.join(d, "o.csv")).read() if rc == 0 else ""
                        got = (rc, src, sorted_within_end(csv_rows(res)[1:], 0))
                        if workers == 1:
                            want = got
                            check(rc == 0 and src.get("bad_rows") == 1 and
                                  src.get("rows_read") == n - 1,
                                  "on_error = 'skip', %s at row %d (quotes every %d), 1 worker: "
                                  "%s %s" % (what, at, quote_every, src, err.strip()[:200]))
                        else:
                            check(got == want, "on_error = 'skip', %s at row %d (quotes every %d), "
                                  "%d workers: the output and figures of 1 worker%s"
                                  % (what, at, quote_every, workers,
                                     "" if got == want else ": %s, not %s %s" % (got[:2], want[:2],
                                                                                 err.strip()[:200])))
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---- the examples of docs/streaming.md -------------------------------------------

def test_docs():
    """Code blocks whose info string names a file (```sql job.sql, ```csv bids.csv) are
    written to a directory; the ```text block named `output` is what
    `streamlake run job.sql` prints; ```json stats.json what --stats writes."""
    with open(os.path.join(ROOT, "docs", "streaming.md")) as f:
        doc = f.read()
    blocks = re.findall(r"```(\w+) ([\w.]+)\n(.*?)```", doc, re.S)
    check(len(blocks) >= 4, "docs/streaming.md has its runnable example")
    d = tempfile.mkdtemp(prefix="sl-stream-doc-")
    try:
        files = {}
        for _, name, body in blocks:
            files[name] = body
            if name not in ("output", "stats.json", "out.csv", "sessions_output"):
                with open(os.path.join(d, name), "w") as f:
                    f.write(body)
        rc, out, err = run(["run", "job.sql", "--stats", "stats.json"], cwd=d)
        ok = rc == 0 and out == files.get("output")
        check(ok, "docs example output" + ("" if ok else ":\n%s%s" % (out, err)))
        if "out.csv" in files:
            check(open(os.path.join(d, "out.csv")).read() == files["out.csv"], "docs example out.csv")
        for workers in ("1", "2"):  # sessions keyed by an expression
            rc, out, err = run(["run", "sessions.sql", "--workers", workers], cwd=d)
            ok = rc == 0 and out == files.get("sessions_output")
            check(ok, "docs session example, %s workers" % workers +
                  ("" if ok else ":\n%s%s" % (out, err)))
        if "stats.json" in files:
            got, want = json.load(open(os.path.join(d, "stats.json"))), json.loads(files["stats.json"])
            for x in (got, want):  # these depend on the number of cores (--workers)
                for f in ("readers", "rows_exchanged", "partials_exchanged"):
                    x["sources"]["bids"].pop(f, None)
                for s in x["sinks"].values():  # bytes: the allocator's and the platform's
                    s.pop("state_bytes_peak", None)
            check(got == want,
                  "docs example stats.json")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    for workers in (1, 2, 4):
        test_windows(7, 1500, 3000, workers)
        test_windows(11, 600, 0, workers)
        test_windows(3, 2500, 12000, workers)
    for workers in (1, 2, 4):
        test_updates(5, 20000, 3000, workers)
    for workers in (1, 2, 4):
        test_ordered_updates(23, 50000, 3000, workers)
    for workers in (1, 2, 4):
        test_update_deletes(9, 20000, 3000, workers)
    test_update_log_memory()
    for workers in (1, 2, 4):
        test_sessions(13, 3000, 4000, 2500, workers)
    for workers in (1, 2, 4):
        test_session_updates(19, 60000, 4000, 2500, workers)
    test_session_update_merge()
    test_session_merge()
    test_jsonl(17, 3000, 3000)
    test_splits()
    test_quoted_splits()
    test_split_errors()
    test_bad_input()
    test_docs()
    finish()


if __name__ == "__main__":
    main()
