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
        for workers in (1, 2):
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
                 "JOIN bids c ON b.auction = c.auction;\n", "two streams"),
                ("INSERT INTO o1 SELECT i.id, i.name, i.category, 1, TIMESTAMP '2024-01-01' "
                 "FROM items i;\n", "static (lookup) table"),
                ("INSERT INTO o1 SELECT b.auction, i.name, i.category, b.price, b.ts FROM items i "
                 "LEFT JOIN bids b ON b.auction = i.id;\n", "join")):
            rc, out, err = run_job(d, 1, ts.source_sql("2 seconds") + static_sql() +
                                   JOB.split(";\n")[0] + ";\n" + sql)
            check(rc == 1 and what in err, "refused with a clear error (%s): %s" % (what, err.strip()[:200]))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    test_lookup(7, 1500, 3000)
    test_lookup(3, 6000, 12000)
    test_empty_and_bad()
    if ts.FAILS:
        print("%d failure(s)" % len(ts.FAILS))
        sys.exit(1)
    print("all passed")


if __name__ == "__main__":
    main()
