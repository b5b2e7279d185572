"""test_stream.py - `streamlake run` against an oracle: the batch query over the
non-late rows.

Bounded CSV inputs are generated with out-of-order rows, rows exactly on the
watermark, late rows, gaps (empty windows) and NULL keys.  Which rows are late
is computed here from the rules of docs/streaming.md (independently of the C
code); the non-late rows go to a CSV, and `streamlake sql` runs the equivalent
batch query over read_csv(...) of it (tumble -> date_bin, hop -> a cross join
with the window offsets).  Results must be equal value for value, the sink's
rows in non-decreasing window_end order, and the --stats figures exact.
Also: the examples of docs/streaming.md, bad input (wrong field count, bad
value, on_error = 'skip', late = 'error'), unwritable sinks, --workers 2.

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


COLS = "auction bigint, bidder text, price bigint, ts timestamp"


def oracle(d, sql):
    """The batch engine over the non-late rows (keep.csv in d)."""
    data = os.path.join(d, "oracle-data")
    os.makedirs(data, exist_ok=True)
    rc, out, err = run(["sql", "--data", data, "--files", d, "--format", "csv", sql])
    if rc:
        raise RuntimeError("oracle failed: %s\n%s" % (sql, err))
    return csv_rows(out)


def source_sql(delay, extra=""):
    return ("CREATE TABLE bids (%s) WITH (connector = 'file', path = 'bids.csv', "
            "format = 'csv', event_time = 'ts', max_delay = '%s'%s);\n" % (COLS, delay, extra))


AGGS = ("count(*) AS n, sum(price) AS total, min(price) AS lo, max(price) AS hi, "
        "avg(price) AS mean, count(DISTINCT auction) AS auctions, "
        "count(*) FILTER (WHERE price > 50) AS big, "
        "string_agg(coalesce(bidder, '-'), ',' ORDER BY coalesce(bidder, '-'), price) AS who, "
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY price) AS med, bool_or(price > 90) AS any90")
AGG_TYPES = ("n bigint, total numeric, lo bigint, hi bigint, mean numeric, auctions bigint, "
             "big bigint, who text, med double precision, any90 boolean")


def test_windows(seed, n, delay_ms):
    d = tempfile.mkdtemp(prefix="sl-stream-")
    try:
        rows = gen_rows(seed, n, delay_ms)
        keep, late = split_late(rows, delay_ms)
        write_csv(os.path.join(d, "bids.csv"), rows)
        write_csv(os.path.join(d, "keep.csv"), keep)
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
                            out_dir, "--format", "csv", "--stats", os.path.join(d, "stats.json")])
        check(rc == 0, "seed %d: streamlake run succeeds %s" % (seed, err.strip()[:300]))
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
        with open(os.path.join(d, "stats.json")) as f:
            st = json.load(f)
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
        rc, out, err = run_text(d, job, ["--workers", "2"])
        check(rc == 1 and "--workers 2" in err and "one worker" in err,
              "--workers 2 is refused clearly: " + err.strip()[:200])
        rc, out, err = run_text(d, source_sql("1 second") +
                                "CREATE TABLE o (n bigint) WITH (connector = 'file', path = 'o.csv');\n"
                                "INSERT INTO o SELECT count(*) FROM bids;\n")
        check(rc == 1 and "without a window" in err, "GROUP BY without a window is refused: " + err.strip()[:200])
        rc, out, _ = run(["run", "--help"])
        check(rc == 0 and "--input-dir" in out and "--stats" in out, "run --help")
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
            if name not in ("output", "stats.json", "out.csv"):
                with open(os.path.join(d, name), "w") as f:
                    f.write(body)
        rc, out, err = run(["run", "job.sql", "--stats", "stats.json"], cwd=d)
        ok = rc == 0 and out == files.get("output")
        check(ok, "docs example output" + ("" if ok else ":\n%s%s" % (out, err)))
        if "out.csv" in files:
            check(open(os.path.join(d, "out.csv")).read() == files["out.csv"], "docs example out.csv")
        if "stats.json" in files:
            check(json.load(open(os.path.join(d, "stats.json"))) == json.loads(files["stats.json"]),
                  "docs example stats.json")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    test_windows(7, 1500, 3000)
    test_windows(11, 600, 0)
    test_windows(3, 2500, 12000)
    test_bad_input()
    test_docs()
    if FAILS:
        print("%d failure(s)" % len(FAILS))
        sys.exit(1)
    print("all passed")


if __name__ == "__main__":
    main()
