"""test_checkpoint.py - checkpoints and crash recovery of `streamlake run`.

A job runs with --checkpoint-dir; it is killed with SIGKILL (a bounded,
seeded loop of kills, each at a random moment shortly after a new checkpoint
was published, so that every restart resumes from a checkpoint) and run again
with the same file and directory until it ends.  The final sink output must
equal an uninterrupted run's: no row lost, none duplicated (jobs without an
aggregation byte for byte, in line order; windowed ones as the same rows with
window_end non-decreasing, since the semantics fix only that order; an
upsert log by each key's last row, since how updates are batched may differ
after a resume), with 1, 2 and 4 workers, for tumble, hop and session windows; a job
grouping by the window only (its workers' partial tables shipped to the window's
owner before each barrier); materialized views (their contents printed by a SELECT
after the jobs); a table sink (the user table's rows, printed by a SELECT after the
job).  Also: what cannot be resumed is refused with a clear error.

The build under test: SL_BUILD_DIR (ctest sets it), else ./build.
"""

import datetime
import http.server
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

BUILD = os.environ.get("SL_BUILD_DIR") or os.path.join(os.getcwd(), "build")
BIN = os.path.join(BUILD, "streamlake")
FAILS = []
LAST_STDOUT = [""]  # what the run that ended printed (crash_run)


def check(cond, what):
    print(("ok   " if cond else "FAIL: ") + what)
    if not cond:
        FAILS.append(what)


def make_input(path, n, seed, quote_every=0, lines=1):
    """n bids, out of order, some late; with quote_every, every quote_every-th bidder a
    quoted field holding `lines` line breaks, a comma and a doubled quote."""
    rnd = random.Random(seed)
    base = datetime.datetime(2024, 1, 1)
    t = 0
    with open(path, "w") as f:
        f.write("auction,bidder,price,ts\n")
        for _ in range(n):
            t += rnd.randint(0, 30)
            ms = max(0, t - rnd.randint(0, 2000))  # out of order, some late
            d = base + datetime.timedelta(milliseconds=ms)
            bidder = "" if rnd.random() < 0.01 else "b%d" % rnd.randint(1, 300)
            if quote_every and rnd.randrange(quote_every) == 0:
                bidder = '"q%s%s,""x"""' % ("\n" * lines, bidder)
            f.write("%d,%s,%d,%s\n" % (rnd.randint(1, 40), bidder, rnd.randint(1, 1000),
                                       d.strftime("%Y-%m-%d %H:%M:%S.%f")))


SOURCE = ("CREATE TABLE bids (auction bigint, bidder text, price bigint, ts timestamp) "
          "WITH (connector = 'file', path = 'bids.csv', format = 'csv', event_time = 'ts', "
          "max_delay = '1 second');\n")
ASKS = SOURCE.replace("bids", "asks")
NEXMARK = ("CREATE TABLE bids (auction bigint, bidder bigint, price bigint, "
           "date_time timestamp) WITH (connector = 'nexmark', kind = 'bid', events = 2000000, "
           "seed = 5);\n")

# Float sums and variances are exact before their one rounding (base/xsum.h): their
# bits do not depend on the order in which a key's rows from different producers
# reach its owner, so they are compared like the others.
JOBS = {
    "tumble": SOURCE + """
CREATE TABLE out (window_start timestamp, window_end timestamp, auction bigint, n bigint,
  total bigint, top bigint, mean numeric, first_bidder text, last_bidder text, chars int)
  WITH (connector = 'file', path = 'out.csv', format = 'csv');
INSERT INTO out SELECT window_start, window_end, auction, count(*), sum(price), max(price),
  avg(price), min(bidder), max(bidder), length(string_agg(bidder, ''))
  FROM tumble(bids, ts, INTERVAL '10 seconds') GROUP BY window_start, window_end, auction;
""",
    "hop": SOURCE + """
CREATE TABLE out (window_end timestamp, bidder text, n bigint, low bigint, sd numeric,
  vp numeric, anybig boolean, exact numeric, span interval, fsum float8, fmean float8,
  fsd float8)
  WITH (connector = 'file', path = 'out.csv', format = 'csv');
INSERT INTO out SELECT window_end, bidder, count(*) FILTER (WHERE price > 500), min(price),
  stddev(price), var_pop(price), bool_or(price > 990), sum(price::numeric) / 3,
  max(ts) - min(ts), sum(price * 0.1::float8), avg(price / 7.0::float8),
  stddev_pop(price::float8 / 3 + 1e9)
  FROM hop(bids, ts, INTERVAL '5 seconds', INTERVAL '20 seconds')
  GROUP BY window_end, bidder;
""",
    "window": SOURCE + """
CREATE TABLE out (window_start timestamp, window_end timestamp, n bigint, total bigint,
  first_bidder text, top bigint, mean numeric, big bigint)
  WITH (connector = 'file', path = 'out.csv', format = 'csv');
INSERT INTO out SELECT window_start, window_end, count(*), sum(price), min(bidder), max(price),
  avg(price), count(*) FILTER (WHERE price > 900)
  FROM tumble(bids, ts, INTERVAL '2 seconds') GROUP BY window_start, window_end;
""",
    "upsert": SOURCE + """
CREATE TABLE out (auction bigint, n bigint, total bigint, top text)
  WITH (connector = 'file', path = 'out.csv', format = 'csv');
INSERT INTO out SELECT auction, count(*), sum(price), max(bidder) FROM bids GROUP BY auction;
""",
    # aggregates that keep more than a fixed state: DISTINCT's values seen, ORDER BY's
    # rows (fed when the window closes), the percentiles' values (numbers as keys, text
    # and numeric as values), approx_percentile's histogram
    "kept": SOURCE + """
CREATE TABLE out (window_end timestamp, auction bigint, bidders bigint, big bigint,
  names text, mid bigint, p90 float8, mid_name text, mid_num numeric, approx float8,
  dnames text)
  WITH (connector = 'file', path = 'out.csv', format = 'csv');
INSERT INTO out SELECT window_end, auction, count(DISTINCT bidder),
  count(DISTINCT bidder) FILTER (WHERE price > 500), string_agg(bidder, ',' ORDER BY bidder, price),
  percentile_disc(0.5) WITHIN GROUP (ORDER BY price),
  percentile_cont(0.9) WITHIN GROUP (ORDER BY price),
  percentile_disc(0.5) WITHIN GROUP (ORDER BY bidder),
  percentile_disc(0.25) WITHIN GROUP (ORDER BY price::numeric / 7),
  approx_percentile(price::float8, 0.5),
  string_agg(DISTINCT bidder, ',' ORDER BY bidder) FILTER (WHERE price > 300)
  FROM tumble(bids, ts, INTERVAL '10 seconds') GROUP BY window_end, auction;
""",
    # session windows: their kept rows go into the checkpoint (so count(DISTINCT) is fine),
    # with the keys that are expressions computed as they arrived
    "session": SOURCE + """
CREATE TABLE out (window_start timestamp, window_end timestamp, auction bigint, odd int,
  n bigint, total bigint, bidders bigint, first_bidder text)
  WITH (connector = 'file', path = 'out.csv', format = 'csv');
INSERT INTO out SELECT window_start, window_end, auction, length(bidder) % 2, count(*),
  sum(price), count(DISTINCT bidder), min(bidder)
  FROM session(bids, ts, INTERVAL '400 milliseconds')
  GROUP BY window_start, window_end, auction, length(bidder) % 2;
""",
    # a HAVING a group passes and fails by turns, into a log with op_column: applied
    # (upsert, delete) it leaves the uninterrupted run's rows
    "deletes": SOURCE + """
CREATE TABLE out (op text, auction bigint, n bigint, total bigint)
  WITH (connector = 'file', path = 'out.csv', format = 'csv', op_column = 'op');
INSERT INTO out SELECT auction, count(*), sum(price) FROM bids GROUP BY auction
  HAVING count(*) % 2 = 0;
""",
    # joins of windows (one source joined with itself, q7's shape; two sources): each
    # source's reader place and held rows are saved, the windows in flight written first
    "q7": SOURCE + """
CREATE TABLE out (auction bigint, price bigint, window_end timestamp)
  WITH (connector = 'file', path = 'out.csv', format = 'csv');
INSERT INTO out SELECT b.auction, b.price, b.window_end FROM tumble(bids, ts, INTERVAL '2 seconds') b
  JOIN (SELECT max(price) AS mp, window_start, window_end FROM tumble(bids, ts, INTERVAL '2 seconds')
        GROUP BY window_start, window_end) m
  ON b.window_start = m.window_start AND b.window_end = m.window_end AND b.price = m.mp;
""",
    "wjoin": SOURCE + ASKS + """
CREATE TABLE out (window_start timestamp, auction bigint, bp bigint, ap bigint)
  WITH (connector = 'file', path = 'out.csv', format = 'csv');
INSERT INTO out SELECT b.window_start, b.auction, b.price, a.price
  FROM hop(bids, ts, INTERVAL '1 second', INTERVAL '3 seconds') b
  JOIN hop(asks, ts, INTERVAL '1 second', INTERVAL '3 seconds') a
  ON b.auction = a.auction AND b.window_start = a.window_start AND b.bidder = a.bidder;
""",
    # an interval join: each source's place and the kept rows of its side
    "ijoin": SOURCE + ASKS + """
CREATE TABLE out (auction bigint, bidder text, bp bigint, ap bigint, bts timestamp, ats timestamp)
  WITH (connector = 'file', path = 'out.csv', format = 'csv');
INSERT INTO out SELECT b.auction, b.bidder, b.price, a.price, b.ts, a.ts FROM bids b JOIN asks a
  ON b.auction = a.auction AND a.ts BETWEEN b.ts AND b.ts + INTERVAL '150 milliseconds';
""",
    # the generator: a reader's place is its next event number (a resumed run that
    # made its events again from the start of its splits doubled the windows' counts)
    "nexmark": NEXMARK + """
CREATE TABLE out (window_start timestamp, window_end timestamp, auction bigint, n bigint,
  total bigint, top bigint)
  WITH (connector = 'file', path = 'out.csv', format = 'csv');
INSERT INTO out SELECT window_start, window_end, auction, count(*), sum(price), max(bidder)
  FROM tumble(bids, date_time, INTERVAL '1 second') GROUP BY window_start, window_end, auction;
""",
    # q7 over the generator (a join of windows: each source's event number and held rows)
    "nxq7": NEXMARK + """
CREATE TABLE out (auction bigint, price bigint, window_end timestamp)
  WITH (connector = 'file', path = 'out.csv', format = 'csv');
INSERT INTO out SELECT b.auction, b.price, b.window_end
  FROM tumble(bids, date_time, INTERVAL '2 seconds') b
  JOIN (SELECT max(price) AS mp, window_start, window_end
        FROM tumble(bids, date_time, INTERVAL '2 seconds') GROUP BY window_start, window_end) m
  ON b.window_start = m.window_start AND b.window_end = m.window_end AND b.price = m.mp;
""",
    # a CSV file holding quoted fields with line breaks: split where records end (a
    # checkpoint's place is inside such a split), read by every worker
    "quoted": SOURCE.replace("bids.csv", "qbids.csv") + """
CREATE TABLE out (auction bigint, bidder text, price bigint, ts timestamp)
  WITH (connector = 'file', path = 'out.csv', format = 'csv');
INSERT INTO out SELECT auction, bidder, price, ts FROM bids WHERE price > 300;
""",
    "multiline": SOURCE.replace("bids.csv", "mbids.csv") + """
CREATE TABLE out (auction bigint, bidder text, price bigint, ts timestamp)
  WITH (connector = 'file', path = 'out.csv', format = 'csv');
INSERT INTO out SELECT auction, bidder, price, ts FROM bids WHERE price > 300;
""",
    "filter": SOURCE + """
CREATE TABLE out (auction bigint, bidder text, price bigint, ts timestamp)
  WITH (connector = 'file', path = 'out.csv', format = 'csv');
INSERT INTO out SELECT auction, upper(bidder), price * 2, ts FROM bids WHERE price > 300;
""",
}


# three views (windows closed once; an upsert GROUP BY whose final rows the view keeps;
# session windows with updates, each grown or merged session's old row deleted) and a
# SELECT over them after the jobs
VIEWS = SOURCE + """
CREATE MATERIALIZED VIEW per_window AS SELECT window_end, auction, count(*) AS n,
  sum(price) AS total, max(bidder) AS top
  FROM tumble(bids, ts, INTERVAL '5 seconds') GROUP BY window_end, auction;
CREATE MATERIALIZED VIEW per_auction WITH (emit = 'on_update') AS
  SELECT auction, count(*) AS n, min(bidder) AS low FROM bids GROUP BY auction;
CREATE MATERIALIZED VIEW per_session WITH (emit = 'on_update') AS
  SELECT window_start, window_end, auction % 8 AS a8, count(*) AS n,
  count(DISTINCT bidder) AS bidders
  FROM session(bids, ts, INTERVAL '300 milliseconds') GROUP BY window_start, window_end, a8;
SELECT * FROM per_window ORDER BY window_end, auction;
SELECT * FROM per_auction ORDER BY auction;
SELECT * FROM per_session ORDER BY window_start, a8;
"""


# a table sink (a user table of the data directory given by --data): its rows, read by
# the SELECT after the job, are what an uninterrupted run leaves in a new directory
TABLE_JOB = SOURCE + """
CREATE TABLE out (window_end timestamp, auction bigint, n bigint, total bigint, top text)
  WITH (connector = 'table');
INSERT INTO out SELECT window_end, auction, count(*), sum(price), max(bidder)
  FROM tumble(bids, ts, INTERVAL '2 seconds') GROUP BY window_end, auction;
SELECT * FROM out ORDER BY window_end, auction;
"""


def run(cwd, workers, ckdir=None, interval="0.02", extra=()):
    args = [BIN, "run", "job.sql", "--workers", str(workers)] + list(extra)
    if ckdir:
        args += ["--checkpoint-dir", ckdir, "--checkpoint-interval", interval]
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600)


def manifests(ckdir):
    d = os.path.join(ckdir, "job-0")
    if not os.path.isdir(d):
        return set()
    return {f for f in os.listdir(d) if f.startswith("manifest-")}


def crash_run(cwd, workers, ckdir, kills, seed, extra=(), before_run=None):
    """Runs the job to its end, killing it `kills` times; returns (kills done, rc, stderr).
    before_run, if given, is called before each run starts."""
    rnd = random.Random(seed)
    done = 0
    for _ in range(kills + 20):
        seen = manifests(ckdir)
        if before_run:
            before_run()
        # stdout into a file: a pipe nobody reads while waiting would stall the run
        out_path = os.path.join(cwd, "stdout.txt")
        with open(out_path, "w") as out_f:
            # each batch read sleeps 2 ms a worker, 4 ms at least (a test switch of the reader; 8 ms with 4
            # workers, which read 4 splits at once): on a fast machine a job would
            # otherwise end before a kill could land after a checkpoint
            p = subprocess.Popen([BIN, "run", "job.sql", "--workers", str(workers),
                                  "--checkpoint-dir", ckdir, "--checkpoint-interval", "0.02"] +
                                 list(extra),
                                 cwd=cwd, stdout=out_f, stderr=subprocess.PIPE, text=True,
                                 env=dict(os.environ, SL_STREAM_TEST_BATCH_DELAY_US=str(
                                     2000 * max(workers, 2))))
        if done < kills:
            # wait for a checkpoint this run published, then kill at a random moment after it
            while p.poll() is None and not (manifests(ckdir) - seen):
                time.sleep(0.005)
            time.sleep(rnd.uniform(0, 0.05))
            if p.poll() is None:
                p.kill()
                p.communicate()
                done += 1
                continue
        err = p.communicate()[1]
        with open(out_path) as f:
            LAST_STDOUT[0] = f.read()
        return done, p.returncode, err
    return done, -1, "did not end"


def source_stats(cwd):
    """The source's figures in the --stats file of the last run that ended."""
    try:
        with open(os.path.join(cwd, "stats.json")) as f:
            src = json.load(f)["sources"]["bids"]
    except (OSError, ValueError, KeyError) as e:
        return "no stats (%s)" % e
    return (src.get("rows_read"), src.get("late_dropped"))


def readers(cwd):
    """How many workers read the source in the last run that ended (--stats)."""
    try:
        with open(os.path.join(cwd, "stats.json")) as f:
            return json.load(f)["sources"]["bids"].get("readers")
    except (OSError, ValueError, KeyError) as e:
        return "no stats (%s)" % e


def applied(text):
    """An upsert log with its operation first: the rows it leaves (a delete after a
    resume may name a group the log does not hold: the resumed job cannot know)."""
    state = {}
    for r in text.splitlines()[1:]:
        f = r.split(",")
        if f[0] == "delete":
            state.pop(f[1], None)
        else:
            state[f[1]] = f[1:]
    return sorted(state.values())


def sorted_rows(text):
    lines = text.splitlines()
    return lines[:1] + sorted(lines[1:])


def last_per_key(text):
    rows = {}
    for line in text.splitlines()[1:]:
        rows[line.split(",")[0]] = line
    return sorted(rows.values())


def without_log_count(text):
    """The output of VIEWS without the on_update view jobs' tags (its third and
    fourth lines, "SELECT n"): n counts the upsert log's updates, whose batching
    depends on the worker count and on resumes; the views' contents do not."""
    lines = text.splitlines()
    return lines[:2] + [l for l in lines[2:4] if not l.startswith("SELECT ")] + lines[4:]


def window_ends_ordered(text, col):
    ends = [l.split(",")[col] for l in text.splitlines()[1:]]
    return all(a <= b for a, b in zip(ends, ends[1:]))


WEBHOOK_JOB = SOURCE + """
CREATE TABLE hook (window_end timestamp, n bigint, total bigint)
  WITH (connector = 'webhook', url = 'http://127.0.0.1:%d/hook');
INSERT INTO hook SELECT window_end, count(*), sum(price)
  FROM tumble(bids, ts, INTERVAL '1 second') GROUP BY window_end;
"""


def webhook_resumes(tmp):
    """A webhook sink takes checkpoints (each waits until every row before it was
    POSTed): killed and restarted, the job resumes and POSTs the rows after its
    checkpoint, so every row arrives at least once, and the last run does not POST
    them all again (a job without checkpoints starts over and would)."""
    posts, lock = [], threading.Lock()
    run_no = [0]

    def row(body):
        o = json.loads(body)
        return (o["window_end"], o["n"], o["total"])

    class Hook(http.server.BaseHTTPRequestHandler):
        log_message = lambda self, *a: None

        def do_POST(self):  # bodies kept with the run that POSTed them
            n = int(self.headers["Content-Length"])
            with lock:
                posts.append((run_no[0], row(self.rfile.read(n))))
            self.send_response(204)
            self.end_headers()

    hs = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hs.serve_forever, daemon=True).start()
    try:
        with open(os.path.join(tmp, "job.sql"), "w") as f:
            f.write(WEBHOOK_JOB % hs.server_address[1])
        ref = run(tmp, 1)
        with lock:
            want = [r for _, r in posts]
        check(ref.returncode == 0 and len(want) > 1000 and len(set(want)) == len(want),
              "webhook: uninterrupted run (%d rows; %s)" % (len(want), ref.stderr.strip()))
        for workers in (1, 2):
            ck = os.path.join(tmp, "ck-hook-%d" % workers)
            with lock:
                posts.clear()
                run_no[0] = 0

            def next_run():
                with lock:
                    run_no[0] += 1
            done, rc, err = crash_run(tmp, workers, ck, 3, seed=workers * 23, before_run=next_run)
            with lock:
                got = list(posts)
            last = [r for n, r in got if n == run_no[0]]
            check(rc == 0 and done >= 1 and "resuming from checkpoint" in err,
                  "webhook, %d workers: ends after %d kills, resumed (%s)"
                  % (workers, done, err.strip()[-300:]))
            check({r for _, r in got} == set(want),
                  "webhook, %d workers: every row POSTed at least once, none other (%d POSTs "
                  "for %d rows)" % (workers, len(got), len(want)))
            suffix = set(want[len(want) - len(set(last)):])
            odd = [(k, want.index(r) if r in want else None) for k, r in enumerate(last)
                   if r not in suffix][:5]
            check(0 < len(set(last)) < len(want) and set(last) == suffix,
                  "webhook, %d workers: the resumed run POSTs the rows after its checkpoint "
                  "(%d of %d), not every row again (outside that suffix, as (POST, row): %s)"
                  % (workers, len(last), len(want), odd))
            check(not manifests(ck), "webhook, %d workers: checkpoints removed at the end" %
                  workers)
    finally:
        hs.shutdown()


def main():
    tmp = tempfile.mkdtemp(prefix="sl-ckpt-")
    try:
        make_input(os.path.join(tmp, "bids.csv"), int(os.environ.get("SL_CKPT_ROWS", "200000")), 7)
        make_input(os.path.join(tmp, "asks.csv"), int(os.environ.get("SL_CKPT_ROWS", "200000")), 8)
        make_input(os.path.join(tmp, "qbids.csv"), int(os.environ.get("SL_CKPT_ROWS", "200000")),
                   9, quote_every=5)
        # most line breaks inside quoted fields: most cuts at a line break fall inside
        # one, so splits start where the split before them stopped, and a resumed job
        # must cut the file as those splits were read
        make_input(os.path.join(tmp, "mbids.csv"), int(os.environ.get("SL_CKPT_ROWS", "200000")),
                   10, quote_every=2, lines=12)
        for name, sql in JOBS.items():
            with open(os.path.join(tmp, "job.sql"), "w") as f:
                f.write(sql)
            ref = run(tmp, 1, extra=("--stats", "stats.json"))
            check(ref.returncode == 0, "%s: uninterrupted run (%s)" % (name, ref.stderr.strip()))
            with open(os.path.join(tmp, "out.csv")) as f:
                want = f.read()
            want_stats = source_stats(tmp)
            for workers in (1, 2, 4):
                for f in ("out.csv", "out.csv.part"):
                    if os.path.exists(os.path.join(tmp, f)):
                        os.remove(os.path.join(tmp, f))
                ck = os.path.join(tmp, "ck-%s-%d" % (name, workers))
                kills = 6 if name in ("tumble", "session", "multiline") else 3
                os.remove(os.path.join(tmp, "stats.json"))
                done, rc, err = crash_run(tmp, workers, ck, kills, seed=workers * 100 + len(name),
                                          extra=("--stats", "stats.json"))
                check(rc == 0, "%s, %d workers: ends after %d kills (%s)" %
                      (name, workers, done, err.strip()))
                got_stats = source_stats(tmp)
                if name in ("quoted", "multiline"):
                    check(readers(tmp) == workers, "%s, %d workers: every worker read "
                          "part of the file (readers %s)" % (name, workers, readers(tmp)))
                check(got_stats == want_stats,
                      "%s, %d workers: rows read and late rows dropped after the resumes equal "
                      "the uninterrupted run's (%s, want %s)" % (name, workers, got_stats,
                                                                 want_stats))
                check(done >= 1, "%s, %d workers: killed at least once after a checkpoint" %
                      (name, workers))
                check(not os.path.exists(os.path.join(tmp, "out.csv.part")),
                      "%s, %d workers: no part file left" % (name, workers))
                with open(os.path.join(tmp, "out.csv")) as f:
                    got = f.read()
                if name == "upsert":
                    # an upsert log: how updates are batched may differ after a resume;
                    # each key's last row is the result
                    check(last_per_key(got) == last_per_key(want),
                          "%s, %d workers: every key's last row equals the uninterrupted "
                          "run's" % (name, workers))
                elif name == "deletes":
                    check(applied(got) == applied(want) and "delete" in got,
                          "%s, %d workers: the log applied leaves the uninterrupted run's rows" %
                          (name, workers))
                elif name in ("filter", "quoted", "multiline"):
                    check(got == want, "%s, %d workers: output equals the uninterrupted run's, "
                          "byte for byte" % (name, workers))
                else:
                    check(sorted_rows(got) == sorted_rows(want),
                          "%s, %d workers: the same rows as the uninterrupted run (%d)" %
                          (name, workers, len(want.splitlines()) - 1))
                    col = {"tumble": 1, "window": 1, "session": 1, "q7": 2, "nexmark": 1,
                           "nxq7": 2}.get(name, 0)
                    if name != "ijoin":  # (append-only: no window)
                        check(window_ends_ordered(got, col),
                              "%s, %d workers: window_end non-decreasing" % (name, workers))
                check(not manifests(ck), "%s, %d workers: checkpoints removed at the end" %
                      (name, workers))

        # materialized views: their contents are in the checkpoint, so the SELECT after
        # the jobs prints what an uninterrupted run prints
        with open(os.path.join(tmp, "job.sql"), "w") as f:
            f.write(VIEWS)
        ref = run(tmp, 1)
        check(ref.returncode == 0 and len(ref.stdout.splitlines()) > 100,
              "views: uninterrupted run (%s)" % ref.stderr.strip())
        for workers in (1, 2, 4):
            ck = os.path.join(tmp, "ck-views-%d" % workers)
            done, rc, err = crash_run(tmp, workers, ck, 4, seed=workers * 31)
            check(rc == 0 and done >= 1, "views, %d workers: ends after %d kills (%s)" %
                  (workers, done, err.strip()))
            check(without_log_count(LAST_STDOUT[0]) == without_log_count(ref.stdout),
                  "views, %d workers: the views' contents equal the uninterrupted run's" %
                  workers)
            check(not manifests(ck), "views, %d workers: checkpoints removed at the end" %
                  workers)

        # a table sink: rows staged between checkpoints, published with each one; after
        # kills the table holds each row once (a sink ignoring checkpoints starts over and
        # appends its rows again)
        with open(os.path.join(tmp, "job.sql"), "w") as f:
            f.write(TABLE_JOB)
        data = os.path.join(tmp, "data-ref")
        os.mkdir(data)
        ref = run(tmp, 1, extra=["--data", data, "--format", "csv"])
        check(ref.returncode == 0 and len(ref.stdout.splitlines()) > 1000,
              "table sink: uninterrupted run (%s)" % ref.stderr.strip())
        for workers in (1, 2, 4):
            data = os.path.join(tmp, "data-%d" % workers)
            os.mkdir(data)
            ck = os.path.join(tmp, "ck-table-%d" % workers)
            done, rc, err = crash_run(tmp, workers, ck, 4, seed=workers * 17,
                                      extra=["--data", data, "--format", "csv"])
            check(rc == 0 and done >= 1, "table sink, %d workers: ends after %d kills (%s)" %
                  (workers, done, err.strip()))
            got = LAST_STDOUT[0].splitlines()
            want = ref.stdout.splitlines()
            # the job's tag ("INSERT 0 n") counts the rows of the last run only
            check(sorted(l for l in got if not l.startswith("INSERT")) ==
                  sorted(l for l in want if not l.startswith("INSERT")),
                  "table sink, %d workers: the table's rows equal the uninterrupted run's "
                  "(%d rows, %d in the table)" % (workers, len(want) - 4, len(got) - 4))
            check(not manifests(ck), "table sink, %d workers: checkpoints removed at the end" %
                  workers)
        # the file run again starts over: it replaces the rows its earlier run published
        again = run(tmp, 2, ck, extra=["--data", data, "--format", "csv"])
        check(again.returncode == 0 and
              sorted(l for l in again.stdout.splitlines() if not l.startswith("INSERT")) ==
              sorted(l for l in ref.stdout.splitlines() if not l.startswith("INSERT")),
              "table sink: a run that starts over replaces its earlier rows (%s)" %
              again.stderr.strip())

        webhook_resumes(tmp)

        # refusals: another worker count, another statement
        with open(os.path.join(tmp, "job.sql"), "w") as f:
            f.write(JOBS["tumble"])
        ck = os.path.join(tmp, "ck-refuse")
        # (each batch read sleeps 2 ms: killed after its first checkpoint, the job must
        # not have ended already)
        p = subprocess.Popen([BIN, "run", "job.sql", "--workers", "2", "--checkpoint-dir", ck,
                              "--checkpoint-interval", "0.02"], cwd=tmp,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env=dict(os.environ, SL_STREAM_TEST_BATCH_DELAY_US="2000"))
        while p.poll() is None and not manifests(ck):
            time.sleep(0.005)
        if p.poll() is None:
            p.kill()
            p.wait()
            r = run(tmp, 1, ck)
            check(r.returncode != 0 and "--workers 2" in r.stderr,
                  "another worker count is refused, naming the one to use (%s)" % r.stderr.strip())
            with open(os.path.join(tmp, "job.sql"), "w") as f:
                f.write(JOBS["tumble"].replace("count(*)", "count(price)"))
            r = run(tmp, 2, ck)
            check(r.returncode != 0 and "another statement" in r.stderr,
                  "a changed statement is refused (%s)" % r.stderr.strip())
            check(os.path.exists(os.path.join(tmp, "out.csv.part")),
                  "a refused resume leaves the committed part file alone")
        else:
            check(False, "the job was still running when its first checkpoint appeared")

        # a checkpoint that cannot be written (its store's job directory replaced by a
        # file once the first one is published) fails the job, naming the object; the
        # part file the first one committed is kept
        with open(os.path.join(tmp, "job.sql"), "w") as f:
            f.write(JOBS["tumble"])
        for workers in (1, 2):
            ck = os.path.join(tmp, "ck-broken-%d" % workers)
            p = subprocess.Popen([BIN, "run", "job.sql", "--workers", str(workers),
                                  "--checkpoint-dir", ck, "--checkpoint-interval", "0.02"],
                                 cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 text=True,
                                 env=dict(os.environ, SL_STREAM_TEST_BATCH_DELAY_US="2000"))
            while p.poll() is None and not manifests(ck):
                time.sleep(0.002)
            if p.poll() is not None:
                check(False, "%d workers: the job was still running at its first checkpoint" %
                      workers)
                continue
            shutil.rmtree(os.path.join(ck, "job-0"))
            open(os.path.join(ck, "job-0"), "w").close()
            err = p.communicate(timeout=600)[1]
            check(p.returncode != 0 and "checkpoint: job-0/" in err,
                  "%d workers: a checkpoint that cannot be written fails the job, naming it "
                  "(%s)" % (workers, err.strip()))
            check(os.path.exists(os.path.join(tmp, "out.csv.part")),
                  "%d workers: the failed job keeps its committed part file" % workers)

        # a bad value three quarters into the file fails the job after checkpoints, naming
        # its line and column, and keeps what they committed; with the value fixed (the
        # same size), the run resumes from the last checkpoint and ends as an
        # uninterrupted run over the fixed file does
        with open(os.path.join(tmp, "job.sql"), "w") as f:
            f.write(JOBS["tumble"])
        src = os.path.join(tmp, "bids.csv")
        for f in ("out.csv", "out.csv.part"):
            if os.path.exists(os.path.join(tmp, f)):
                os.remove(os.path.join(tmp, f))
        ref = run(tmp, 2)
        with open(os.path.join(tmp, "out.csv")) as f:
            want = f.read()
        os.remove(os.path.join(tmp, "out.csv"))
        with open(src) as f:
            lines = f.readlines()
        at = len(lines) * 3 // 4
        good = lines[at]
        fields = good.split(",")  # auction, bidder, price, ts
        lines[at] = ",".join(fields[:2] + ["x" * len(fields[2])] + fields[3:])
        for workers in (1, 2):
            with open(src, "w") as f:
                f.writelines(lines)
            ck = os.path.join(tmp, "ck-badline-%d" % workers)
            bad = subprocess.run([BIN, "run", "job.sql", "--workers", str(workers),
                                  "--checkpoint-dir", ck, "--checkpoint-interval", "0.02"],
                                 cwd=tmp, capture_output=True, text=True, timeout=600,
                                 env=dict(os.environ, SL_STREAM_TEST_BATCH_DELAY_US="2000"))
            check(ref.returncode == 0 and bad.returncode != 0 and
                  "line %d" % (at + 1) in bad.stderr and 'column "price"' in bad.stderr,
                  "%d workers: a bad value fails the job naming its line %d and column (%s)" %
                  (workers, at + 1, bad.stderr.strip()))
            check(manifests(ck), "%d workers: checkpoints were taken before the bad line" %
                  workers)
            part = os.path.join(tmp, "out.csv.part")
            kept = open(part).read().splitlines() if os.path.exists(part) else []
            check(len(kept) > 1 and set(kept) <= set(want.splitlines()),
                  "%d workers: the failed job keeps its part file, rows of the uninterrupted "
                  "run only (%d lines)" % (workers, len(kept)))
            lines_fixed = lines[:at] + [good] + lines[at + 1:]
            with open(src, "w") as f:
                f.writelines(lines_fixed)
            again = run(tmp, workers, ck)
            got = open(os.path.join(tmp, "out.csv")).read() if again.returncode == 0 else ""
            check(again.returncode == 0 and sorted_rows(got) == sorted_rows(want),
                  "%d workers: fixed, the run resumes and ends with the uninterrupted run's rows "
                  "(%s)" % (workers, again.stderr.strip()))
            check(not manifests(ck), "%d workers: checkpoints removed at the end" % workers)
            if os.path.exists(os.path.join(tmp, "out.csv")):
                os.remove(os.path.join(tmp, "out.csv"))

        # DISTINCT in a tumble (a view) and over sessions: both take checkpoints now
        with open(os.path.join(tmp, "job.sql"), "w") as f:
            f.write(SOURCE + """
CREATE MATERIALIZED VIEW v AS SELECT window_end, auction, count(DISTINCT bidder) AS n
  FROM tumble(bids, ts, INTERVAL '10 seconds') GROUP BY window_end, auction;
CREATE TABLE out (window_end timestamp, auction bigint, n bigint)
  WITH (connector = 'file', path = 'out.csv', format = 'csv');
INSERT INTO out SELECT window_end, auction, count(DISTINCT bidder)
  FROM session(bids, ts, INTERVAL '1 second') GROUP BY window_end, auction;
SELECT count(*) FROM v;
""")
        r = run(tmp, 2, os.path.join(tmp, "ck-notice"))
        check(r.returncode == 0 and "no checkpoints for" not in r.stderr,
              "a tumble with count(DISTINCT) and session windows take checkpoints, no notice "
              "(%s)" % r.stderr.strip())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d failures" % len(FAILS))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
