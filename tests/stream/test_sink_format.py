"""test_sink_format.py - the bytes of file sinks and of batch output, value by value.

Append-only jobs format their rows on the workers (docs/internals/stream.md,
"Sinks and commit"); the formatter is the batch engine's (`--format csv` and
`json`).  Checks:
  * a CSV sink of every type with the values that are easy to get wrong (NULL,
    the empty string, commas, quotes, line breaks, carriage returns, unicode,
    negative numbers, numerics with trailing zeros, NaN and infinities,
    timestamps with and without fractions, the smallest and largest
    timestamps, dates, intervals) holds exactly PostgreSQL's text forms, the
    same bytes with 1, 2 and 4 workers;
  * batch output (`--format csv` and `--format json`) of the same kinds of values;
  * a larger file read by several workers in parallel and a nexmark job give the
    same bytes with 1, 2 and 4 workers;
  * the blackhole sink counts the rows and writes nothing, and refuses options.

The build under test: SL_BUILD_DIR (ctest sets it), else ./build.
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

BUILD = os.environ.get("SL_BUILD_DIR") or os.path.join(os.getcwd(), "build")
BIN = os.path.join(BUILD, "streamlake")
FAILS = []


def check(cond, what):
    print("ok  " if cond else "FAIL:", what)
    if not cond:
        FAILS.append(what)


def run(args, cwd):
    p = subprocess.run([BIN] + args, cwd=cwd, capture_output=True, timeout=600)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


INPUT = (
    'id,ts,i,n,f,t,d,b,tz,iv\n'
    '1,2024-01-01 00:00:00,-5,-0.50,NaN,"a,b",1999-12-31,t,2024-01-01 00:00:00.5,'
    '1 day 02:03:04.5\n'
    '2,2024-01-01 00:00:00.000001,0,123456789012345678.25,Infinity,"say ""hi""",2000-02-29,f,'
    '2024-06-30 23:59:59.999999,-00:00:01\n'
    '3,2024-01-01 00:00:01.12,-2147483648,0,-Infinity,"line\nbreak",1970-01-01,true,'
    '1999-01-01 00:00:00,3 mons\n'
    '4,2024-01-01 00:00:02,,,,,,,,\n'
    '5,2024-01-01 00:00:03,7,1e3,-0.1,"",2024-01-01,false,2024-01-01 12:00:00,00:00:00\n'
    '6,2024-01-01 00:00:03.999,2147483647,-12.3450,1e300,h\u00e9llo \u2713 x,1900-02-28,t,'
    '2262-04-10 00:00:00,-1 years -2 days\n'
    '7,2024-01-01 00:00:04,1,0.908,3.14159,"cr\rhere",2262-04-11,f,1677-09-22 00:00:01,'
    '100:00:00\n')

JOB = """
CREATE TABLE src (id bigint, ts timestamp, i int, n numeric, f double precision, t text,
    d date, b boolean, tz timestamptz, iv interval)
    WITH (connector = 'file', path = 'in.csv', format = 'csv', event_time = 'ts',
          max_delay = '1 hour');
CREATE TABLE out (id bigint, ts timestamp, i int, n numeric, f double precision, t text,
    d date, b boolean, tz timestamptz, iv interval, neg bigint, m numeric)
    WITH (connector = 'file', path = 'out.csv', format = 'csv');
INSERT INTO out SELECT id, ts, i, n, f, t, d, b, tz, iv, -id * 1000000007, 0.908 * id FROM src;
"""

EXPECTED = (
    'id,ts,i,n,f,t,d,b,tz,iv,neg,m\n'
    '1,2024-01-01 00:00:00,-5,-0.50,NaN,"a,b",1999-12-31,t,2024-01-01 00:00:00.5+00,'
    '1 day 02:03:04.5,-1000000007,0.908\n'
    '2,2024-01-01 00:00:00.000001,0,123456789012345678.25,Infinity,"say ""hi""",2000-02-29,f,'
    '2024-06-30 23:59:59.999999+00,-00:00:01,-2000000014,1.816\n'
    '3,2024-01-01 00:00:01.12,-2147483648,0,-Infinity,"line\nbreak",1970-01-01,t,'
    '1999-01-01 00:00:00+00,3 mons,-3000000021,2.724\n'
    '4,2024-01-01 00:00:02,,,,,,,,,-4000000028,3.632\n'
    '5,2024-01-01 00:00:03,7,1000,-0.1,"",2024-01-01,f,2024-01-01 12:00:00+00,00:00:00,'
    '-5000000035,4.540\n'
    '6,2024-01-01 00:00:03.999,2147483647,-12.3450,1e+300,h\u00e9llo \u2713 x,1900-02-28,t,'
    '2262-04-10 00:00:00+00,-1 years -2 days,-6000000042,5.448\n'
    '7,2024-01-01 00:00:04,1,0.908,3.14159,"cr\rhere",2262-04-11,f,1677-09-22 00:00:01+00,'
    '100:00:00,-7000000049,6.356\n')

BATCH = ("SELECT 1::bigint AS a, 'x\"y' AS b, 'h\u00e9llo \u2713' AS c, 'NaN'::float8 AS d, "
         "'-Infinity'::float8 AS e, 1.50::numeric AS f, timestamp '2024-01-01 00:00:00.5' AS g, "
         "NULL::text AS h, true AS i, interval '-1 years -2 days 3 mins' AS j, -7::int AS k, "
         "''::text AS l, 'a\nb' AS m, timestamptz '2024-01-01 00:00:00.123+00' AS n, "
         "date '1900-02-28' AS o, interval '100 hours' AS p, 0.5::float4 AS q;\n")
BATCH_CSV = ('a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q\n'
             '1,"x""y",h\u00e9llo \u2713,NaN,-Infinity,1.50,2024-01-01 00:00:00.5,,t,'
             '-1 years -2 days +00:03:00,-7,"","a\nb",2024-01-01 00:00:00.123+00,1900-02-28,'
             '100:00:00,0.5\n')
BATCH_JSON = [1, 'x"y', 'h\u00e9llo \u2713', "NaN", "-Infinity", 1.50, "2024-01-01 00:00:00.5",
              None, True, "-1 years -2 days +00:03:00", -7, "", "a\nb",
              "2024-01-01 00:00:00.123+00", "1900-02-28", "100:00:00", 0.5]


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def test_tricky(d):
    with open(os.path.join(d, "in.csv"), "w", newline="") as f:
        f.write(INPUT)
    with open(os.path.join(d, "job.sql"), "w") as f:
        f.write(JOB)
    outs = {}
    for w in (1, 2, 4):
        rc, _, err = run(["run", "job.sql", "--output-dir", d, "--workers", str(w)], d)
        check(rc == 0, "tricky values, %d workers: the job runs (%s)" % (w, err.strip()[:200]))
        outs[w] = read_bytes(os.path.join(d, "out.csv")) if rc == 0 else b""
    got = outs[1].decode("utf-8", "replace")
    check(got == EXPECTED, "tricky values: the CSV sink holds PostgreSQL's text forms")
    if got != EXPECTED:
        for a, b in zip(got.split("\n"), EXPECTED.split("\n")):
            if a != b:
                print("   got      %r\n   expected %r" % (a, b))
    check(outs[1] == outs[2] == outs[4], "tricky values: 1, 2 and 4 workers write the same bytes")


def test_batch(d):
    with open(os.path.join(d, "s.sql"), "w") as f:
        f.write(BATCH)
    rc, out, err = run(["run", "s.sql", "--format", "csv"], d)
    check(rc == 0 and out == BATCH_CSV, "batch --format csv: the same text forms (%r)" % out[:300])
    rc, out, err = run(["run", "s.sql", "--format", "json"], d)
    lines = out.splitlines()
    row = json.loads(lines[1]) if rc == 0 and len(lines) > 1 else None
    check(row == BATCH_JSON, "batch --format json: numbers as JSON, the rest as strings (%r)" % row)
    check(rc == 0 and '1.50,"2024-01-01 00:00:00.5",null,true,' in lines[1],
          "batch --format json: numerics keep their digits")


def test_parallel(d):
    """A file of ~60k rows (no quotes: split for every worker) and a nexmark job."""
    rng = random.Random(7)
    words = ["a", "b,c", "", "x y", "\u00e9t\u00e9", "line"]
    lines = ["id,ts,v,n,t"]
    for i in range(60000):
        ms = i * 10 + rng.randint(0, 5)
        frac = "" if ms % 1000 == 0 else ".%03d" % (ms % 1000)
        ts = "2024-01-%02d %02d:%02d:%02d%s" % (1 + ms // 86400000, ms // 3600000 % 24,
                                                  ms // 60000 % 60, ms // 1000 % 60, frac)
        v = "" if i % 13 == 0 else str(rng.randint(-10 ** 12, 10 ** 12))
        n = "" if i % 17 == 0 else "%d.%02d" % (rng.randint(-999, 999), rng.randint(0, 99))
        t = rng.choice(words)
        lines.append("%d,%s,%s,%s,%s" % (i, ts, v, n, '"' + t + '"' if "," in t else t))
    with open(os.path.join(d, "big.csv"), "w") as f:
        f.write("\n".join(lines) + "\n")
    job = ("CREATE TABLE big (id bigint, ts timestamp, v bigint, n numeric, t text) WITH "
           "(connector = 'file', path = 'big.csv', event_time = 'ts', max_delay = '1 second');\n"
           "CREATE TABLE o (id bigint, ts timestamp, v bigint, n numeric, t text, x numeric) WITH "
           "(connector = 'file', path = 'big_out.csv');\n"
           "INSERT INTO o SELECT id, ts, v, n, t, 0.5 * n FROM big WHERE id % 3 <> 1;\n"
           "CREATE TABLE bid (auction bigint, bidder bigint, price bigint, channel text, url text, "
           "date_time timestamp, extra text) WITH (connector = 'nexmark', kind = 'bid', "
           "events = 300000, seed = 3);\n"
           "CREATE TABLE q1 (auction bigint, price numeric, date_time timestamp, url text) WITH "
           "(connector = 'file', path = 'q1.csv');\n"
           "INSERT INTO q1 SELECT auction, 0.908 * price, date_time, url FROM bid;\n")
    with open(os.path.join(d, "par.sql"), "w") as f:
        f.write(job)
    res = {}
    for w in (1, 2, 4):
        rc, out, err = run(["run", "par.sql", "--output-dir", d, "--workers", str(w)], d)
        check(rc == 0, "parallel, %d workers: runs (%s)" % (w, err.strip()[:200]))
        res[w] = (read_bytes(os.path.join(d, "big_out.csv")), read_bytes(os.path.join(d, "q1.csv")))
    check(res[1] == res[2] == res[4], "parallel: 1, 2 and 4 workers write the same bytes "
          "(a file's rows and a nexmark job's)")
    check(res[1][0].count(b"\n") > 40000 and res[1][1].count(b"\n") > 270000,
          "parallel: every row is there")


def test_blackhole(d):
    job = ("CREATE TABLE bid (auction bigint, price bigint, date_time timestamp) WITH "
           "(connector = 'nexmark', kind = 'bid', events = 100000);\n"
           "CREATE TABLE nowhere (auction bigint, price bigint, date_time timestamp) WITH "
           "(connector = 'blackhole');\n"
           "INSERT INTO nowhere SELECT * FROM bid;\n")
    with open(os.path.join(d, "bh.sql"), "w") as f:
        f.write(job)
    before = sorted(os.listdir(d))
    for w in (1, 2):
        rc, out, err = run(["run", "bh.sql", "--output-dir", d, "--workers", str(w),
                            "--stats", os.path.join(d, "bh.json")], d)
        st = json.load(open(os.path.join(d, "bh.json"))) if rc == 0 else {}
        check(rc == 0 and "INSERT 0 92000" in out,
              "blackhole, %d workers: every bid counted (%s%s)" % (w, out[-60:], err[:200]))
        check(json.dumps(st).find("92000") >= 0, "blackhole: --stats counts the rows written")
    check(sorted(os.listdir(d)) == sorted(before + ["bh.json"]) or
          sorted(os.listdir(d)) == sorted(before), "blackhole: no file written")
    with open(os.path.join(d, "bh2.sql"), "w") as f:
        f.write("CREATE TABLE n (a bigint) WITH (connector = 'blackhole', path = 'x.csv');\n")
    rc, out, err = run(["run", "bh2.sql", "--output-dir", d], d)
    check(rc != 0 and "takes no options" in err, "blackhole: options refused (%s)" % err.strip())
    with open(os.path.join(d, "bh3.sql"), "w") as f:
        f.write("CREATE TABLE n (auction bigint) WITH (connector = 'blackhole');\n"
                "CREATE TABLE o (auction bigint) WITH (connector = 'file', path = 'o.csv');\n"
                "INSERT INTO o SELECT auction FROM n;\n")
    rc, out, err = run(["run", "bh3.sql", "--output-dir", d], d)
    check(rc != 0, "blackhole: not readable as a source (%s)" % err.strip()[:200])


def main():
    d = tempfile.mkdtemp(prefix="sl-sinkfmt-")
    try:
        test_tricky(d)
        test_batch(d)
        test_parallel(d)
        test_blackhole(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    if FAILS:
        print("%d failure(s)" % len(FAILS))
        sys.exit(1)
    print("all passed")


if __name__ == "__main__":
    main()
