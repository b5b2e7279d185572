"""test_joins.py - joins in continuous jobs against the oracle: the batch engine over
the non-late rows.

A stream joined with a static table (a connector table without event_time, read
whole before the stream's rows): inner and left, on an integer key with
duplicates, missing keys and a NULL key in the table, and on a text key that is
NULL in the stream (NULL never matches); into a pass-through sink and into a
tumbling GROUP BY over the joined rows.  Inputs have out-of-order rows, rows on
the watermark and late rows (test_stream.gen_rows).  Empty inputs on either
side.  Every case runs with --workers 1, 2 and 4, whose outputs must be identical
(an inner join's rows in line order); joins that this version
does not run are refused with a clear error.

The build under test: SL_BUILD_DIR (ctest sets it), else ./build.
"""

import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_stream as ts  # noqa: E402  (the generator, the oracle, the runner)

check = ts.check
ITEMS = "id bigint, name text, category text"
PEOPLE = "who text, city text"


def write_static(d):
    with open(os.path.join(d, "items.csv"), "w") as f:
        f.write("id,name,category\n1,lamp,home\n2,book,media\n3,pen,office\n3,pen2,office\n"
                "4,chair,home\n5,,media\n6,cup,\n,ghost,home\n")  # 7, 8, 9: no item
    with open(os.path.join(d, "people.csv"), "w") as f:
        f.write("who,city\nalice,Paris\nbob,Oslo\ncarol,Rome\ncarol,Lima\n,Nowhere\n")


def static_sql(extra=""):
    return ("CREATE TABLE items (%s) WITH (connector = 'file', path = 'items.csv'%s);\n"
            "CREATE TABLE people (%s) WITH (connector = 'file', path = 'people.csv');\n"
            % (ITEMS, extra, PEOPLE))


JOB = (
    "CREATE TABLE o1 (auction bigint, name text, category text, price bigint, ts timestamp) "
    "WITH (connector = 'file', path = 'o1.csv', format = 'csv');\n"
    "INSERT INTO o1 SELECT b.auction, i.name, i.category, b.price, b.ts FROM bids b "
    "JOIN items i ON b.auction = i.id WHERE b.price > 10;\n"
    "CREATE TABLE o2 (bidder text, city text, price bigint) "
    "WITH (connector = 'file', path = 'o2.csv', format = 'csv');\n"
    "INSERT INTO o2 SELECT b.bidder, p.city, b.price FROM bids b LEFT JOIN people p "
    "ON b.bidder = p.who;\n"
    "CREATE MATERIALIZED VIEW v AS SELECT window_start, window_end, i.category, count(*) AS n, "
    "sum(b.price) AS total, count(DISTINCT i.name) AS names "
    "FROM tumble(bids, ts, INTERVAL '10 seconds') b LEFT JOIN items i ON b.auction = i.id "
    "GROUP BY window_start, window_end, i.category;\n"
    "SELECT * FROM v ORDER BY window_start, category;\n")


def read_sink(path):
    with open(path) as f:
        return ts.csv_rows(f.read())


def oracles(d):
    src = "read_csv('%s', true, ',', '%s')" % (os.path.join(d, "keep.csv"), ts.COLS)
    items = "read_csv('%s', true, ',', '%s')" % (os.path.join(d, "items.csv"), ITEMS)
    people = "read_csv('%s', true, ',', '%s')" % (os.path.join(d, "people.csv"), PEOPLE)
    o1 = ts.oracle(d, "SELECT b.auction, i.name, i.category, b.price, b.ts FROM %s b JOIN %s i "
                   "ON b.auction = i.id WHERE b.price > 10" % (src, items))
    o2 = ts.oracle(d, "SELECT b.bidder, p.city, b.price FROM %s b LEFT JOIN %s p "
                   "ON b.bidder = p.who" % (src, people))
    v = ts.oracle(d, "SELECT date_bin(INTERVAL '10 seconds', b.ts, TIMESTAMP '1970-01-01') AS ws, "
                  "date_bin(INTERVAL '10 seconds', b.ts, TIMESTAMP '1970-01-01') + "
                  "INTERVAL '10 seconds' AS we, i.category, count(*) AS n, sum(b.price) AS total, "
                  "count(DISTINCT i.name) AS names FROM %s b LEFT JOIN %s i ON b.auction = i.id "
                  "WHERE b.ts IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 3" % (src, items))
    return o1, o2, v


def run_job(d, workers, sql):
    with open(os.path.join(d, "job.sql"), "w") as f:
        f.write(sql)
    out_dir = os.path.join(d, "out")
    shutil.rmtree(out_dir, ignore_errors=True)
    os.mkdir(out_dir)
    return ts.run(["run", "job.sql", "--input-dir", d, "--output-dir", out_dir, "--format",
                   "csv", "--stats", os.path.join(d, "stats.json"), "--workers", str(workers)],
                  cwd=d)


def test_lookup(seed, n, delay_ms):
    d = tempfile.mkdtemp(prefix="sl-join-")
    try:
        rows, keep, late = ts.make_input(d, seed, n, delay_ms)
        write_static(d)
        check(late > 0, "seed %d: the input has late rows (%d)" % (seed, late))
        o1, o2, v = oracles(d)
        check(len(o1) > 10 and len(o2) > 10 and len(v) > 5, "seed %d: the oracles have rows" % seed)
        job = ts.source_sql("%d milliseconds" % delay_ms) + static_sql() + JOB
        first = None
        for workers in (1, 2, 4):
            rc, out, err = run_job(d, workers, job)
            check(rc == 0, "seed %d, %d workers: the join job runs %s" % (seed, workers, err.strip()[:300]))
            if rc:
                continue
            got1 = read_sink(os.path.join(d, "out", "o1.csv"))
            got2 = read_sink(os.path.join(d, "out", "o2.csv"))
            check(sorted(got1[1:]) == sorted(o1[1:]),
                  "seed %d, %d workers: stream JOIN static == batch join over the non-late rows"
                  % (seed, workers))
            check(sorted(got2[1:]) == sorted(o2[1:]),
                  "seed %d, %d workers: stream LEFT JOIN static on a text key with NULLs == batch"
                  % (seed, workers))
            check(any(r[0] == "" and r[1] == "" for r in got2[1:]),
                  "seed %d: a NULL bidder finds no partner (not the NULL person)" % seed)
            check(ts.csv_rows(out)[1:] == v[1:],
                  "seed %d, %d workers: tumble over a LEFT JOIN == batch" % (seed, workers))
            st = json.load(open(os.path.join(d, "stats.json")))
            check(st["sources"]["items"]["rows_read"] == 8 and st["sources"]["bids"]["late_dropped"] == late,
                  "seed %d: stats of the static table and the stream %s" % (seed, st["sources"]))
            # a left join's unmatched rows may leave after the matched ones of their
            # batch: the order of the rows of one batch is not part of the semantics
            now = (got1, sorted(got2), out)
            if first is None:
                first = now
            else:
                check(now == first, "seed %d: --workers %d gives the same output as --workers 1"
                      % (seed, workers))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_empty_and_bad():
    d = tempfile.mkdtemp(prefix="sl-join-empty-")
    try:
        rows, keep, late = ts.make_input(d, 3, 300, 2000)
        write_static(d)
        with open(os.path.join(d, "items.csv"), "w") as f:
            f.write("id,name,category\n")
        job = ts.source_sql("2 seconds") + static_sql() + JOB
        for workers in (1, 2, 4):
            rc, out, err = run_job(d, workers, job)
            got1 = read_sink(os.path.join(d, "out", "o1.csv")) if rc == 0 else []
            check(rc == 0 and got1 == [["auction", "name", "category", "price", "ts"]],
                  "%d workers: an empty static table: an inner join has no rows %s" % (workers, err[:200]))
            v = ts.csv_rows(out)
            check(rc == 0 and len(v) > 2 and all(r[2] == "" for r in v[1:]),
                  "%d workers: ... and a left join keeps every row, NULL-extended" % workers)
        write_static(d)
        with open(os.path.join(d, "bids.csv"), "w") as f:
            f.write("auction,bidder,price,ts\n")
        rc, out, err = run_job(d, 2, job)
        check(rc == 0 and read_sink(os.path.join(d, "out", "o1.csv"))[1:] == [] and
              ts.csv_rows(out)[1:] == [], "an empty stream joined: no rows " + err[:200])
        # bad input in the static table: named, or skipped and counted
        with open(os.path.join(d, "items.csv"), "a") as f:
            f.write("x7,bad,home\n")
        rc, out, err = run_job(d, 1, job)
        check(rc == 1 and 'source "items"' in err and "line 10" in err and 'column "id"' in err,
              "a bad value in a static table names it, the line and the column: " + err.strip()[:200])
        rc, out, err = run_job(d, 1, ts.source_sql("2 seconds") + static_sql(", on_error = 'skip'") + JOB)
        st = json.load(open(os.path.join(d, "stats.json"))) if rc == 0 else {}
        check(rc == 0 and st["sources"]["items"]["bad_rows"] == 1 and st["sources"]["items"]["rows_read"] == 8,
              "on_error = 'skip' on a static table counts the bad row %s %s" % (st, err[:200]))
        # refused shapes
        for sql, what in (
                ("INSERT INTO o1 SELECT b.auction, c.bidder, b.price, b.price, b.ts FROM bids b "
                 "JOIN bids c ON b.auction = c.auction;\n", "a source with itself"),
                ("INSERT INTO o1 SELECT i.id, i.name, i.category, 1, TIMESTAMP '2024-01-01' "
                 "FROM items i;\n", "static (lookup) table"),
                ("INSERT INTO o1 SELECT b.auction, i.name, i.category, b.price, b.ts FROM items i "
                 "LEFT JOIN bids b ON b.auction = i.id;\n", "join")):
            rc, out, err = run_job(d, 1, ts.source_sql("2 seconds") + static_sql() +
                                   JOB.split(";\n")[0] + ";\n" + sql)
            check(rc == 1 and what in err, "refused with a clear error (%s): %s" % (what, err.strip()[:200]))
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---- joins local to windows (two streams, aggregates of aggregates) -------------

def hop_src(src, slide_s, size_s):
    """The batch equivalent of hop(src, ts, slide, size): a row per window holding it."""
    k = size_s // slide_s
    return ("(SELECT *, ws + INTERVAL '%d seconds' AS we FROM (SELECT *, date_bin(INTERVAL '%d seconds', "
            "ts, TIMESTAMP '1970-01-01') - g * INTERVAL '%d seconds' AS ws FROM %s CROSS JOIN "
            "generate_series(0, %d) AS g WHERE ts IS NOT NULL) h0)" % (size_s, slide_s, slide_s, src, k - 1)).replace(") h0)", ") h)")


def hop_any_src(src, slide_s, size_s):
    """hop(src, ts, slide, size) for any slide and size (a size that is no multiple of
    the slide, or a slide past the size: rows in the gaps are in no window)."""
    k = -(-size_s // slide_s)
    return ("(SELECT *, ws + INTERVAL '%d seconds' AS we FROM (SELECT *, date_bin(INTERVAL '%d seconds', "
            "ts, TIMESTAMP '1970-01-01') - g * INTERVAL '%d seconds' AS ws FROM %s CROSS JOIN "
            "generate_series(0, %d) AS g WHERE ts IS NOT NULL) h WHERE ts < ws + INTERVAL '%d seconds')"
            % (size_s, slide_s, slide_s, src, k - 1, size_s))


def tumble_src(src, size_s):
    return ("(SELECT *, date_bin(INTERVAL '%d seconds', ts, TIMESTAMP '1970-01-01') AS ws, "
            "date_bin(INTERVAL '%d seconds', ts, TIMESTAMP '1970-01-01') + INTERVAL '%d seconds' "
            "AS we FROM %s WHERE ts IS NOT NULL)" % (size_s, size_s, size_s, src))


WJOB = (
    "CREATE TABLE w1 (window_start timestamp, auction bigint, bp bigint, ap bigint, bidder text) "
    "WITH (connector = 'file', path = 'w1.csv', format = 'csv');\n"
    "INSERT INTO w1 SELECT b.window_start, b.auction, b.price, a.price, a.bidder "
    "FROM tumble(bids, ts, INTERVAL '10 seconds') b JOIN tumble(asks, ts, INTERVAL '10 seconds') a "
    "ON b.auction = a.auction AND b.window_start = a.window_start AND b.window_end = a.window_end "
    "AND b.bidder = a.bidder;\n"
    "CREATE TABLE w2 (auction bigint, price bigint, window_end timestamp) "
    "WITH (connector = 'file', path = 'w2.csv', format = 'csv');\n"
    "INSERT INTO w2 SELECT b.auction, b.price, b.window_end FROM tumble(bids, ts, INTERVAL '10 seconds') b "
    "JOIN (SELECT max(price) AS mp, window_start, window_end FROM tumble(bids, ts, INTERVAL '10 seconds') "
    "GROUP BY window_start, window_end) m ON b.window_start = m.window_start "
    "AND b.window_end = m.window_end AND b.price = m.mp;\n"
    "CREATE TABLE w3 (auction bigint, num bigint, window_start timestamp, window_end timestamp) "
    "WITH (connector = 'file', path = 'w3.csv', format = 'csv');\n"
    "INSERT INTO w3 SELECT a.auction, a.num, a.window_start, a.window_end FROM "
    "(SELECT auction, count(*) AS num, window_start, window_end FROM hop(bids, ts, INTERVAL '5 seconds', "
    "INTERVAL '15 seconds') GROUP BY auction, window_start, window_end) a JOIN "
    "(SELECT max(num) AS maxn, window_start, window_end FROM (SELECT auction, count(*) AS num, "
    "window_start, window_end FROM hop(bids, ts, INTERVAL '5 seconds', INTERVAL '15 seconds') "
    "GROUP BY auction, window_start, window_end) c GROUP BY window_start, window_end) m "
    "ON a.window_start = m.window_start AND a.window_end = m.window_end AND a.num >= m.maxn;\n")
# hops whose size is no multiple of the slide (a row in 2 or 3 windows), and whose
# slide exceeds the size (rows between windows are in none): rows with their window's max
WJOB_HOPS = "".join(
    "CREATE TABLE w%d (auction bigint, price bigint, window_start timestamp, window_end timestamp) "
    "WITH (connector = 'file', path = 'w%d.csv', format = 'csv');\n"
    "INSERT INTO w%d SELECT b.auction, b.price, b.window_start, b.window_end "
    "FROM hop(bids, ts, INTERVAL '%d seconds', INTERVAL '%d seconds') b "
    "JOIN (SELECT max(price) AS mp, window_start, window_end FROM hop(bids, ts, INTERVAL '%d seconds', "
    "INTERVAL '%d seconds') GROUP BY window_start, window_end) m ON b.window_start = m.window_start "
    "AND b.window_end = m.window_end AND b.price = m.mp;\n" % (n, n, n, sl, sz, sl, sz)
    for n, sl, sz in ((4, 4, 10), (5, 10, 4)))


def test_window_joins(seed, n):
    d = tempfile.mkdtemp(prefix="sl-wjoin-")
    try:
        rows, keep, late = ts.make_input(d, seed, n, 3000)
        d2 = os.path.join(d, "asks")
        os.mkdir(d2)
        rows2, keep2, late2 = ts.make_input(d2, seed + 100, n, 8000)
        os.rename(os.path.join(d2, "bids.csv"), os.path.join(d, "asks.csv"))
        os.rename(os.path.join(d2, "keep.csv"), os.path.join(d, "keep_asks.csv"))
        check(late > 0 and late2 > 0, "seed %d: both streams have late rows" % seed)
        job = (ts.source_sql("3 seconds") + ts.source_sql("8 seconds").replace("bids", "asks") + WJOB +
               WJOB_HOPS)
        b = "read_csv('%s', true, ',', '%s')" % (os.path.join(d, "keep.csv"), ts.COLS)
        a = "read_csv('%s', true, ',', '%s')" % (os.path.join(d, "keep_asks.csv"), ts.COLS)
        want1 = ts.oracle(d, "SELECT b.ws, b.auction, b.price, a.price, a.bidder FROM %s b JOIN %s a "
                          "ON b.auction = a.auction AND b.ws = a.ws AND b.bidder = a.bidder"
                          % (tumble_src(b, 10), tumble_src(a, 10)))
        want2 = ts.oracle(d, "SELECT b.auction, b.price, b.we FROM %s b JOIN (SELECT max(price) AS mp, ws "
                          "FROM %s x GROUP BY ws) m ON b.ws = m.ws AND b.price = m.mp"
                          % (tumble_src(b, 10), tumble_src(b, 10)))
        cnt = "(SELECT auction, count(*) AS num, ws, we FROM %s x GROUP BY auction, ws, we)"
        want3 = ts.oracle(d, "SELECT a.auction, a.num, a.ws, a.we FROM %s a JOIN (SELECT max(num) AS maxn, "
                          "ws FROM %s c GROUP BY ws) m ON a.ws = m.ws AND a.num >= m.maxn"
                          % (cnt % hop_src(b, 5, 15), cnt % hop_src(b, 5, 15)))
        want45 = [ts.oracle(d, "SELECT b.auction, b.price, b.ws, b.we FROM %s b JOIN (SELECT max(price) AS mp, "
                            "ws FROM %s x GROUP BY ws) m ON b.ws = m.ws AND b.price = m.mp"
                            % (hop_any_src(b, sl, sz), hop_any_src(b, sl, sz))) for sl, sz in ((4, 10), (10, 4))]
        check(len(want1) > 5 and len(want2) > 5 and len(want3) > 5 and all(len(w) > 5 for w in want45),
              "seed %d: the oracles have rows" % seed)
        first = None
        for workers in (1, 2, 4):
            rc, out, err = run_job(d, workers, job)
            check(rc == 0, "seed %d, %d workers: window joins run %s" % (seed, workers, err.strip()[:300]))
            if rc:
                continue
            got = [read_sink(os.path.join(d, "out", f)) for f in ("w1.csv", "w2.csv", "w3.csv", "w4.csv",
                                                                   "w5.csv")]
            check(sorted(got[0][1:]) == sorted(want1[1:]),
                  "seed %d, %d workers: two windowed streams joined on the window == batch "
                  "(NULL bidders never match)" % (seed, workers))
            check(sorted(got[1][1:]) == sorted(want2[1:]),
                  "seed %d, %d workers: rows joined with their window's max (q7 shape) == batch" % (seed, workers))
            check(sorted(got[2][1:]) == sorted(want3[1:]),
                  "seed %d, %d workers: hop counts joined with their max (q5 shape) == batch" % (seed, workers))
            for k, (sl, sz) in enumerate(((4, 10), (10, 4))):
                check(sorted(got[3 + k][1:]) == sorted(want45[k][1:]),
                      "seed %d, %d workers: rows with their hop(%ds, %ds) window's max == batch"
                      % (seed, workers, sl, sz))
            ends = [r[2] for r in got[1][1:]]
            check(ends == sorted(ends), "seed %d: window results leave in window_end order" % seed)
            st = json.load(open(os.path.join(d, "stats.json")))
            check(st["sources"]["bids"]["late_dropped"] == late and st["sources"]["asks"]["late_dropped"] == late2,
                  "seed %d: late rows of each stream counted %s" % (seed, st["sources"]))
            check(all(s["state_bytes_peak"] > 0 for s in st["sinks"].values()),
                  "seed %d: every window join held its open windows' rows as state %s"
                  % (seed, st["sinks"]))
            now = [sorted(g) for g in got]
            if first is None:
                first = now
            else:
                check(now == first, "seed %d: --workers %d == --workers 1" % (seed, workers))
        # an interval join (no window equality) is refused with a clear error
        rc, out, err = run_job(d, 1, ts.source_sql("3 seconds") + ts.source_sql("8 seconds").replace("bids", "asks") +
                               WJOB.split(";\n")[0] + ";\nINSERT INTO w1 SELECT b.window_start, b.auction, "
                               "b.price, a.price, a.bidder FROM tumble(bids, ts, INTERVAL '10 seconds') b "
                               "JOIN asks a ON b.auction = a.auction;\n")
        check(rc == 1 and "interval" in err, "a join of streams not on the window is refused: " + err.strip()[:200])
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_window_join_view(seed, n):
    """A view of a window join (each bid with its window's highest price, q7's shape)
    is a stream: a job reads it, in window_end order, with a coarser tumble over its
    window_end (named `we`) and a filter, and a second job passes its rows on; each
    equals the batch query over the view's rows (the oracle composes the two)."""
    d = tempfile.mkdtemp(prefix="sl-wjview-")
    try:
        ts.make_input(d, seed, n, 3000)
        job = ts.source_sql("3 seconds") + (
            "CREATE MATERIALIZED VIEW hb AS SELECT b.auction, b.price, b.bidder, "
            "b.window_start AS ws, b.window_end AS we FROM tumble(bids, ts, INTERVAL '10 seconds') b "
            "JOIN (SELECT max(price) AS mp, window_start, window_end FROM tumble(bids, ts, "
            "INTERVAL '10 seconds') GROUP BY window_start, window_end) m "
            "ON b.window_start = m.window_start AND b.window_end = m.window_end AND b.price = m.mp;\n"
            "CREATE TABLE per_min (window_end timestamp, n bigint, top bigint, bidders bigint) "
            "WITH (connector = 'file', path = 'per_min.csv', format = 'csv');\n"
            "INSERT INTO per_min SELECT window_end, count(*), max(price), count(DISTINCT bidder) "
            "FROM tumble(hb, we, INTERVAL '60 seconds') WHERE auction <> 3 "
            "GROUP BY window_start, window_end;\n"
            "CREATE TABLE rows_out (auction bigint, price bigint, we timestamp) "
            "WITH (connector = 'file', path = 'rows.csv', format = 'csv');\n"
            "INSERT INTO rows_out SELECT auction, price, we FROM hb;\n")
        b = "read_csv('%s', true, ',', '%s')" % (os.path.join(d, "keep.csv"), ts.COLS)
        hb = ("(SELECT b.auction, b.price, b.bidder, b.ws, b.we FROM %s b JOIN (SELECT max(price) "
              "AS mp, ws FROM %s x GROUP BY ws) m ON b.ws = m.ws AND b.price = m.mp)"
              % (tumble_src(b, 10), tumble_src(b, 10)))
        want_rows = ts.oracle(d, "SELECT auction, price, we FROM %s h" % hb)
        want_min = ts.oracle(d, "SELECT date_bin(INTERVAL '60 seconds', we, TIMESTAMP '1970-01-01') "
                             "+ INTERVAL '60 seconds' AS e, count(*), max(price), "
                             "count(DISTINCT bidder) FROM %s h WHERE auction <> 3 GROUP BY 1 "
                             "ORDER BY 1" % hb)
        check(len(want_rows) > 20 and len(want_min) > 3, "seed %d: the oracles have rows" % seed)
        for workers in (1, 2, 4):
            rc, out, err = run_job(d, workers, job)
            check(rc == 0, "seed %d, %d workers: jobs reading a window join's view run %s"
                  % (seed, workers, err.strip()[:300]))
            if rc:
                continue
            got_rows = read_sink(os.path.join(d, "out", "rows.csv"))
            got_min = read_sink(os.path.join(d, "out", "per_min.csv"))
            check(sorted(got_rows[1:]) == sorted(want_rows[1:]),
                  "seed %d, %d workers: a job reading the join's view gets its rows (%d)"
                  % (seed, workers, len(got_rows) - 1))
            ends = [r[2] for r in got_rows[1:]]
            check(ends == sorted(ends), "seed %d, %d workers: ... in window_end order"
                  % (seed, workers))
            check(got_min[1:] == want_min[1:],
                  "seed %d, %d workers: a tumble over the join's view == batch over its rows "
                  "(%d windows)" % (seed, workers, len(got_min) - 1))
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---- the nexmark generator and the Nexmark queries --------------------------------

NEXMARK = os.path.join(ts.ROOT, "bench", "nexmark")
DUMP = ("CREATE TABLE bid_out (auction bigint, bidder bigint, price bigint, channel text, url text, "
        "date_time timestamp, extra text) WITH (connector = 'file', path = 'bid.csv', format = 'csv');\n"
        "INSERT INTO bid_out SELECT * FROM bid;\n"
        "CREATE TABLE person_out (id bigint, name text, email_address text, credit_card text, city text, "
        "state text, date_time timestamp, extra text) WITH (connector = 'file', path = 'person.csv');\n"
        "INSERT INTO person_out SELECT * FROM person;\n"
        "CREATE TABLE auction_out (id bigint, item_name text, description text, initial_bid bigint, "
        "reserve bigint, date_time timestamp, expires timestamp, seller bigint, category bigint, extra text) "
        "WITH (connector = 'file', path = 'auction.csv');\n"
        "INSERT INTO auction_out SELECT * FROM auction;\n")


def nexmark_tables(events, seed, rate=1000):
    t = open(os.path.join(NEXMARK, "tables.sql")).read()
    return (t.replace("events = 1000000", "events = %d, rate = %d" % (events, rate))
             .replace("seed = 1", "seed = %d" % seed))


def test_nexmark():
    d = tempfile.mkdtemp(prefix="sl-nexmark-")
    try:
        events = 60000
        dumps = {}
        for workers, seed in ((1, 5), (2, 5), (4, 5), (1, 6)):
            rc, out, err = run_job(d, workers, nexmark_tables(events, seed) + DUMP)
            check(rc == 0, "nexmark dump runs %s" % err.strip()[:200])
            dumps[(workers, seed)] = [open(os.path.join(d, "out", f + ".csv")).read()
                                      for f in ("bid", "person", "auction")]
            if (workers, seed) == (1, 5):
                for f in ("bid", "person", "auction"):
                    shutil.copy(os.path.join(d, "out", f + ".csv"), os.path.join(d, f + ".csv"))
                st = json.load(open(os.path.join(d, "stats.json")))["sources"]
                check(st["person"]["rows_read"] == events // 50 and st["auction"]["rows_read"] == events // 50 * 3
                      and st["bid"]["rows_read"] == events // 50 * 46,
                      "nexmark: 1 person, 3 auctions, 46 bids in 50 events %s" % st)
        check(dumps[(1, 5)] == dumps[(2, 5)] == dumps[(4, 5)],
              "nexmark: the same seed gives the same streams with 1, 2 and 4 workers")
        check(dumps[(1, 6)] != dumps[(1, 5)], "nexmark: another seed, other streams")
        bid = ("read_csv('%s', true, ',', 'auction bigint, bidder bigint, price bigint, channel text, "
               "url text, ts timestamp, extra text')" % os.path.join(d, "bid.csv"))
        person = ("read_csv('%s', true, ',', 'id bigint, name text, email_address text, credit_card text, "
                  "city text, state text, ts timestamp, extra text')" % os.path.join(d, "person.csv"))
        auction = ("read_csv('%s', true, ',', 'id bigint, item_name text, description text, initial_bid "
                   "bigint, reserve bigint, ts timestamp, expires timestamp, seller bigint, category bigint, "
                   "extra text')" % os.path.join(d, "auction.csv"))
        cnt = "(SELECT auction, count(*) AS num, ws, we FROM %s x GROUP BY auction, ws, we)"
        oracles = {
            "q0": "SELECT auction, bidder, price, ts, extra FROM %s" % bid,
            "q1": "SELECT auction, bidder, 0.908 * price, ts, extra FROM %s" % bid,
            "q2": "SELECT auction, price FROM %s WHERE auction %% 123 = 0" % bid,
            "q5": ("SELECT a.auction, a.num, a.ws, a.we FROM %s a JOIN (SELECT max(num) AS maxn, ws FROM %s c "
                   "GROUP BY ws) m ON a.ws = m.ws AND a.num >= m.maxn"
                   % (cnt % hop_src(bid, 2, 10), cnt % hop_src(bid, 2, 10))),
            "q7": ("SELECT b.auction, b.price, b.bidder, b.ts, b.extra FROM %s b JOIN (SELECT max(price) AS mp, "
                   "ws FROM %s x GROUP BY ws) m ON b.ws = m.ws AND b.price = m.mp"
                   % (tumble_src(bid, 10), tumble_src(bid, 10))),
            "q8": ("SELECT DISTINCT p.id, p.name, p.ws FROM %s p JOIN %s a ON p.id = a.seller AND p.ws = a.ws"
                   % (tumble_src(person, 10), tumble_src(auction, 10))),
        }
        for q, sql in sorted(oracles.items()):
            want = ts.oracle(d, sql)
            for workers in (1, 2, 4):
                rc, out, err = run_job(d, workers, nexmark_tables(events, 5) +
                                       open(os.path.join(NEXMARK, q + ".sql")).read())
                got = read_sink(os.path.join(d, "out", q + ".csv")) if rc == 0 else []
                check(rc == 0 and len(got) > 1 and sorted(got[1:]) == sorted(want[1:]),
                      "nexmark %s with %d workers == the batch query over the generated streams (%d rows) %s"
                      % (q, workers, len(got) - 1, err.strip()[:200]))
        rc, out, err = run_job(d, 1, nexmark_tables(events, 5).replace("kind = 'bid'", "kind = 'bids'"))
        check(rc == 1 and "kind must be" in err, "a bad nexmark option is named: " + err.strip()[:200])
        rc, out, err = run_job(d, 1, "CREATE TABLE b (auction bigint, cost bigint, date_time timestamp) WITH "
                               "(connector = 'nexmark', kind = 'bid', events = 10);\n")
        check(rc == 1 and 'no field "cost"' in err, "an unknown nexmark field is named: " + err.strip()[:200])
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_docs():
    """The joins example of docs/streaming.md: joins.sql over bids.csv and items.csv
    prints the block named joins_output."""
    import re
    with open(os.path.join(ts.ROOT, "docs", "streaming.md")) as f:
        blocks = {name: body for _, name, body in re.findall(r"```(\w+) ([\w.]+)\n(.*?)```", f.read(), re.S)}
    d = tempfile.mkdtemp(prefix="sl-join-doc-")
    try:
        for name in ("bids.csv", "items.csv", "joins.sql"):
            with open(os.path.join(d, name), "w") as f:
                f.write(blocks[name])
        rc, out, err = ts.run(["run", "joins.sql"], cwd=d)
        check(rc == 0 and out == blocks["joins_output"], "docs joins example output" +
              ("" if rc == 0 and out == blocks["joins_output"] else ":\n%s%s" % (out, err)))
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---- follow = true: a growing file, stopped by SIGINT ---------------------------

def start_run(d, workers=2, args=(), env=None):
    """`streamlake run job.sql` in d on 2 workers (or workers), once its job started
    (its sink o.csv has its part file) or ended."""
    import subprocess
    import time
    p = subprocess.Popen([ts.BIN, "run", "job.sql", "--stats", "stats.json", "--workers", str(workers)] +
                         list(args), cwd=d, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, **env) if env else None)
    for _ in range(600):
        if os.path.exists(os.path.join(d, "o.csv.part")) or p.poll() is not None:
            break
        time.sleep(0.05)
    return p


def test_follow():
    import signal
    import time
    d = tempfile.mkdtemp(prefix="sl-follow-")
    try:
        with open(os.path.join(d, "t.csv"), "w") as f:
            f.write("id,v,ts\n1,10,2024-01-01 00:00:01\n2,20,2024-01-01 00:00:02\n3,3")  # a partial line
        with open(os.path.join(d, "job.sql"), "w") as f:
            f.write("CREATE TABLE t (id bigint, v bigint, ts timestamp) WITH (connector = 'file', "
                    "path = 't.csv', event_time = 'ts', max_delay = '1 second', follow = true);\n"
                    "CREATE TABLE o (id bigint, v bigint) WITH (connector = 'file', path = 'o.csv');\n"
                    "INSERT INTO o SELECT id, v FROM t WHERE v > 5;\n")
        p = start_run(d)
        with open(os.path.join(d, "t.csv"), "a") as f:
            f.write("0,2024-01-01 00:00:03\n4,40,2024-01-01 00:00:04\n")
        time.sleep(0.3)
        with open(os.path.join(d, "t.csv"), "a") as f:
            f.write("5,50,2024-01-01 00:00:06\n6,60,2024-01-01 00:00:04\n7,70,2024-01-01 00:00:07\n")
        time.sleep(0.5)
        still = p.poll() is None
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
        check(still, "follow = true: the job waits for more lines instead of ending")
        got = read_sink(os.path.join(d, "o.csv")) if p.returncode == 0 else []
        check(p.returncode == 0 and got == [["id", "v"], ["1", "10"], ["2", "20"], ["3", "30"], ["4", "40"],
                                            ["5", "50"], ["7", "70"]],
              "follow = true: lines appended while the job runs are read (a partial line once "
              "complete, a late one dropped) until SIGINT: %s %s" % (got, err.strip()[:200]))
        st = json.load(open(os.path.join(d, "stats.json"))) if p.returncode == 0 else {}
        check(st.get("sources", {}).get("t", {}).get("rows_read") == 7 and st["sources"]["t"]["late_dropped"] == 1,
              "follow = true: rows seen and late rows counted %s" % st)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def follow_rows(n, seed):
    """n rows (id, v, ts in ms) a little out of order: with max_delay 1 s some are
    late, some exactly on the watermark."""
    import random
    rnd = random.Random(seed)
    rows, t = [], 0
    for i in range(n):
        t += rnd.randint(0, 40)
        ts = t - rnd.choice([0, 0, 0, 200, 900, 1500])
        rows.append((i, rnd.randint(0, 99), max(ts, 0)))
    return rows


def fmt_ts(ms):
    import datetime
    return (datetime.datetime(2024, 1, 1) + datetime.timedelta(milliseconds=ms)).strftime(
        "%Y-%m-%d %H:%M:%S.%f")[:-3]


def on_time(rows, delay_ms):
    """Rule 2 and 3 in line order: the rows that are not late."""
    keep, mx = [], None
    for r in rows:
        if mx is not None and r[2] < mx - delay_ms:
            continue
        keep.append(r)
        mx = r[2] if mx is None else max(mx, r[2])
    return keep


def follow_job(agg):
    """The job of the follow tests: t.csv followed, into o.csv a tumble (agg) or a
    filter."""
    job = ("CREATE TABLE t (id bigint, v bigint, ts timestamp) WITH (connector = 'file', "
           "path = 't.csv', event_time = 'ts', max_delay = '1 second', follow = true);\n")
    if agg:
        return job + ("CREATE TABLE o (ws timestamp, n bigint, total bigint) WITH (connector = "
                      "'file', path = 'o.csv');\nINSERT INTO o SELECT window_start, count(*), "
                      "sum(v) FROM tumble(t, ts, INTERVAL '10 seconds') GROUP BY window_start, "
                      "window_end;\n")
    return job + ("CREATE TABLE o (id bigint, v bigint) WITH (connector = 'file', path = 'o.csv');\n"
                  "INSERT INTO o SELECT id, v FROM t WHERE v % 3 <> 0;\n")


def follow_want(keep, agg):
    """follow_job's output over the rows kept: per window sorted, or in line order."""
    if not agg:
        return [[str(r[0]), str(r[1])] for r in keep if r[1] % 3 != 0]
    wins = {}
    for r in keep:
        w = r[2] // 10000 * 10000
        c, s = wins.get(w, (0, 0))
        wins[w] = (c + 1, s + r[1])
    return sorted([fmt_ts(w)[:-4], str(c), str(s)] for w, (c, s) in wins.items())


def follow_end(d, p, agg, first, then):
    """Appends first to t.csv, then (0.3 s later) then; a second later stops the run
    with SIGINT: (the run, its stderr, the source's stats, o.csv's rows: sorted for
    a tumble)."""
    import signal
    import time
    for i, text in enumerate((first, then)):
        if i:
            time.sleep(0.3)
        with open(os.path.join(d, "t.csv"), "a") as f:
            f.write(text)
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    st = json.load(open(os.path.join(d, "stats.json"))) if p.returncode == 0 else {}
    got = read_sink(os.path.join(d, "o.csv")) if p.returncode == 0 else [[]]
    return p, err, st.get("sources", {}).get("t", {}), sorted(got[1:]) if agg else got[1:]


def test_follow_backlog(workers, agg):
    """follow = true over a file that already holds many lines: what it holds when
    the job starts is cut for every worker (its last split grows), lines appended
    afterwards are read by the last split's reader; the output is the oracle's over
    the rows read (a filter's in line order, a tumble's per window), and every
    worker read."""
    d = tempfile.mkdtemp(prefix="sl-follow-cut-")
    try:
        rows = follow_rows(60000, 31 + workers)
        back, more = rows[:50000], rows[50000:]
        line = lambda r: "%d,%d,%s\n" % (r[0], r[1], fmt_ts(r[2]))  # noqa: E731
        text = "".join(line(r) for r in back) + line(more[0])[:9]  # a partial last line
        with open(os.path.join(d, "t.csv"), "w") as f:
            f.write("id,v,ts\n" + text)
        with open(os.path.join(d, "job.sql"), "w") as f:
            f.write(follow_job(agg))
        p = start_run(d, workers)
        p, err, src, got = follow_end(d, p, agg, line(more[0])[9:] + "".join(
            line(r) for r in more[1:5000]), "".join(line(r) for r in more[5000:]))
        n = src.get("rows_read", 0)
        keep = on_time(rows[:n], 1000)
        want = follow_want(keep, agg)
        what = "follow = true, %s, %d workers" % ("tumble" if agg else "filter", workers)
        check(p.returncode == 0 and n == len(rows),
              "%s: the lines appended while it ran are read: %d of %d rows %s" %
              (what, n, len(rows), err.strip()[:300]))
        check(got == want and src.get("late_dropped") == n - len(keep),
              "%s: the output is the oracle's over the rows read (%d rows, %d late): %d rows "
              "against %d, late %s" % (what, n, n - len(keep), len(got), len(want),
                                       src.get("late_dropped")))
        check(src.get("readers") == workers,
              "%s: the lines it held when the job started are read by every worker: readers %s" %
              (what, src.get("readers")))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_follow_resumes(workers, agg):
    """follow = true with checkpoints: what the file holds when the job starts is
    still cut for every worker; killed with SIGKILL after a checkpoint, the file
    grown meanwhile, the job run again resumes with the same cut (the checkpoint
    keeps the size it was cut at), reads the lines appended before and after, and
    when stopped its output equals the oracle's over every row: none lost, none
    twice, the rows read and late of one reader.  A file that shrank meanwhile is
    refused with a clear error, and the part file is left as it was (its
    uncommitted bytes too: the resumed run writes over them)."""
    import subprocess
    import time
    d = tempfile.mkdtemp(prefix="sl-follow-ck-")
    try:
        rows = follow_rows(60000, 71 + workers)
        line = lambda r: "%d,%d,%s\n" % (r[0], r[1], fmt_ts(r[2]))  # noqa: E731
        with open(os.path.join(d, "t.csv"), "w") as f:
            f.write("id,v,ts\n" + "".join(line(r) for r in rows[:50000]))
        with open(os.path.join(d, "job.sql"), "w") as f:
            f.write(follow_job(agg))
        ck = os.path.join(d, "ck")
        args = ["--checkpoint-dir", ck, "--checkpoint-interval", "0.02"]
        what = "follow = true with checkpoints, %s, %d workers" % ("tumble" if agg else "filter",
                                                                   workers)
        p = start_run(d, workers, args, {"SL_STREAM_TEST_BATCH_DELAY_US": "20000"})
        deadline = time.monotonic() + 60
        while p.poll() is None and time.monotonic() < deadline and not any(
                f.startswith("manifest-") for _, _, fs in os.walk(ck) for f in fs):
            time.sleep(0.01)
        p.kill()
        p.communicate()
        if workers == 2:  # a file shorter than when it was cut: refused, nothing changed
            t = os.path.join(d, "t.csv")
            os.rename(t, t + ".keep")
            with open(t + ".keep") as f, open(t, "w") as g:
                g.write(f.read()[:-100])
            with open(os.path.join(d, "o.csv.part"), "ab") as f:
                f.write(b"-1,uncommitted\n")  # as if written after the checkpoint
            part = open(os.path.join(d, "o.csv.part"), "rb").read()
            r = subprocess.run([ts.BIN, "run", "job.sql", "--workers", "2"] + args, cwd=d,
                               capture_output=True, text=True, timeout=120)
            check(r.returncode != 0 and "holds fewer bytes than when the checkpoint was taken"
                  in r.stderr and "resuming from checkpoint" not in r.stderr and
                  open(os.path.join(d, "o.csv.part"), "rb").read() == part,
                  "%s: a followed file that shrank is refused (no resume announced), the part "
                  "file unchanged: %s" %
                  (what, r.stderr.strip()[-300:]))
            os.replace(t + ".keep", t)
        with open(os.path.join(d, "t.csv"), "a") as f:
            f.write("".join(line(r) for r in rows[50000:55000]))
        p = start_run(d, workers, args)
        p, err, src, got = follow_end(d, p, agg, "", "".join(line(r) for r in rows[55000:]))
        keep = on_time(rows, 1000)
        want = follow_want(keep, agg)
        check(p.returncode == 0 and "resum" in err,
              "%s: the job run again resumes its checkpoint: %s" % (what, err.strip()[:300]))
        check(got == want and src.get("rows_read") == len(rows) and
              src.get("late_dropped") == len(rows) - len(keep),
              "%s: the output is the oracle's over every row: %d rows against %d, read %s "
              "late %s (want %d, %d)" % (what, len(got), len(want), src.get("rows_read"),
                                         src.get("late_dropped"), len(rows), len(rows) - len(keep)))
        check(workers == 1 or src.get("readers") == workers,
              "%s: the lines it held when the job started are read by every worker: readers %s" %
              (what, src.get("readers")))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_follow_late_error(workers):
    """follow = true with late = 'error': the lines the file holds are still cut for
    every worker (a first pass finds where each split starts); a late row among
    them, or among the lines appended later, fails the job naming its line."""
    import time
    d = tempfile.mkdtemp(prefix="sl-follow-late-")
    try:
        line = lambda i, back=0: "%d,%d,%s\n" % (i, i % 100, fmt_ts(100 * i - back))  # noqa: E731
        with open(os.path.join(d, "job.sql"), "w") as f:
            f.write(follow_job(True).replace("follow = true", "follow = true, late = 'error'"))
        for late_at in (40000, 50010, None):
            with open(os.path.join(d, "t.csv"), "w") as f:
                f.write("id,v,ts\n" + "".join(line(i, 5000 if i == late_at else 0)
                                              for i in range(50000)))
            p = start_run(d, workers)
            time.sleep(0.5)
            p, err, src, got = follow_end(d, p, True, "".join(
                line(i, 5000 if i == late_at else 0) for i in range(50000, 50020)), "")
            what = "follow = true, late = 'error', %d workers" % workers
            if late_at is None:
                check(p.returncode == 0 and src.get("rows_read") == 50020 and
                      src.get("readers") == workers,
                      "%s: every worker reads what the file held: %s %s" % (what, src, err[:200]))
            else:
                check(p.returncode != 0 and "t.csv line %d: late row" % (late_at + 2) in err,
                      "%s: a late row %s fails the job naming line %d: %s" %
                      (what, "held" if late_at < 50000 else "appended", late_at + 2,
                       err.strip()[-200:]))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_nexmark_unbounded():
    """A nexmark source without events: paced by rate, generated until SIGINT, which
    ends it as an input ends (open windows close, the sink is committed)."""
    import signal
    import time
    d = tempfile.mkdtemp(prefix="sl-nexmark-live-")
    try:
        with open(os.path.join(d, "job.sql"), "w") as f:
            f.write("CREATE TABLE bid (auction bigint, price bigint, date_time timestamp) "
                    "WITH (connector = 'nexmark', kind = 'bid', rate = 2000);\n"
                    "CREATE TABLE o (ws timestamp, n bigint) WITH (connector = 'file', path = 'o.csv');\n"
                    "INSERT INTO o SELECT window_start, count(*) FROM tumble(bid, date_time, "
                    "INTERVAL '1 second') GROUP BY window_start, window_end;\n")
        p = start_run(d)
        time.sleep(2.5)  # a few thousand events of a paced, unbounded source
        still = p.poll() is None
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
        check(still, "nexmark without events: the job runs until it is stopped")
        got = read_sink(os.path.join(d, "o.csv")) if p.returncode == 0 else []
        n = [int(r[1]) for r in got[1:]]
        starts = [r[0] for r in got[1:]]
        want = ["2024-01-01 00:00:%02d" % i for i in range(len(n))]
        # 2000 events a second of event time: 40 runs of 50 events, 46 bids each
        check(p.returncode == 0 and len(n) >= 2 and starts == want and
              all(c == 1840 for c in n[:-1]) and 0 < n[-1] <= 1840,
              "nexmark rate = 2000: every closed second has 1840 bids, SIGINT closes the "
              "last: %s %s" % (got[:4], err.strip()[:200]))
        st = json.load(open(os.path.join(d, "stats.json"))) if p.returncode == 0 else {}
        check(st.get("sources", {}).get("bid", {}).get("rows_read") == sum(n),
              "nexmark without events: rows read = rows counted %s" % st)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    test_lookup(7, 1500, 3000)
    test_lookup(3, 6000, 12000)
    test_empty_and_bad()
    test_window_joins(21, 3000)
    test_window_joins(22, 9000)
    test_window_join_view(23, 6000)
    test_nexmark()
    test_docs()
    test_follow()
    for agg in (False, True):
        for workers in (1, 2, 4):
            test_follow_backlog(workers, agg)
            test_follow_resumes(workers, agg)
    for workers in (1, 2, 4):
        test_follow_late_error(workers)
    test_nexmark_unbounded()
    ts.finish()


if __name__ == "__main__":
    main()
