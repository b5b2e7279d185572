"""checkpoint.py - what checkpoints cost a continuous job, and how long a
restart after kill -9 takes.

In one run, alternating round by round on the same generated CSV:
  none   streamlake run (a tumbling GROUP BY into a file sink), no checkpoints
  every  the same with --checkpoint-dir and --checkpoint-interval 1
and reports rows/s of each (median over rounds) and the ratio, then the same
ratio of the fastest rounds.  Then recovery: the job is started with
checkpoints, killed with SIGKILL right after the first checkpoint published
past half of a full run's time, and restarted; the figure is the
time from the restart to its end, next to a full run's time.

  python3 bench/stream/checkpoint.py [--rows N] [--rounds R] [--workers W]
                                     [--build DIR] [--data-dir DIR]
                                     [--job agg|filter|q7]
                                     [--quoted]

--job filter runs a filter (rows in line order), whose cost is mostly reading
the file.  --job q7 runs a join of windows instead (each bid with its window's highest
price, Nexmark q7's shape), whose checkpoints save its sources' places and
the rows of its open windows.

--quoted writes every bidder in double quotes: with checkpoints the file is
then cut where records end before the workers start (a walk of the records
around each quote), and a run with one worker, checkpoints on, is timed too,
for the speedup of reading such a file with every worker.

A third variant, checkpoints on with an interval no run reaches, separates what
taking checkpoints costs from what enabling them costs (a part file for the
sink, the quote check before cutting the file into splits).

Defaults are small (a smoke run); the lead runs it large on a quiet machine.
"""

import argparse
import datetime
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time

SOURCE = """
CREATE TABLE bids (auction bigint, bidder text, price bigint, ts timestamp)
  WITH (connector = 'file', path = 'bids.csv', format = 'csv', event_time = 'ts',
        max_delay = '1 second');
"""
JOBS = {
    "agg": SOURCE + """
CREATE TABLE out (window_end timestamp, auction bigint, n bigint, total bigint, top bigint)
  WITH (connector = 'file', path = 'out.csv', format = 'csv');
INSERT INTO out SELECT window_end, auction, count(*), sum(price), max(price)
  FROM tumble(bids, ts, INTERVAL '10 seconds') GROUP BY window_end, auction;
""",
    "filter": SOURCE + """
CREATE TABLE out (auction bigint, bidder text, price bigint)
  WITH (connector = 'file', path = 'out.csv', format = 'csv');
INSERT INTO out SELECT auction, bidder, price FROM bids WHERE price > 990;
""",
    "q7": SOURCE + """
CREATE TABLE out (auction bigint, price bigint, window_end timestamp)
  WITH (connector = 'file', path = 'out.csv', format = 'csv');
INSERT INTO out SELECT b.auction, b.price, b.window_end FROM tumble(bids, ts, INTERVAL '10 seconds') b
  JOIN (SELECT max(price) AS mp, window_start, window_end FROM tumble(bids, ts,
        INTERVAL '10 seconds') GROUP BY window_start, window_end) m
  ON b.window_start = m.window_start AND b.window_end = m.window_end AND b.price = m.mp;
""",
}


def gen(path, n, quoted=False):
    rnd = random.Random(1)
    base = datetime.datetime(2024, 1, 1)
    t = 0
    with open(path, "w") as f:
        f.write("auction,bidder,price,ts\n")
        for _ in range(n):
            t += rnd.randint(0, 20)
            d = base + datetime.timedelta(milliseconds=max(0, t - rnd.randint(0, 1500)))
            f.write(("%d,\"b%d\",%d,%s\n" if quoted else "%d,b%d,%d,%s\n") % (
                                        rnd.randint(1, 1000), rnd.randint(1, 500),
                                        rnd.randint(1, 1000), d.strftime("%Y-%m-%d %H:%M:%S.%f")))


def run(bin_, cwd, workers, ck=None, interval="1"):
    args = [bin_, "run", "job.sql", "--workers", str(workers)]
    if ck:
        shutil.rmtree(ck, ignore_errors=True)
        args += ["--checkpoint-dir", ck, "--checkpoint-interval", interval]
    t = time.monotonic()
    subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--build", default=os.path.join(os.getcwd(), "build"))
    ap.add_argument("--data-dir", help="keep the generated file here (reused when present)")
    ap.add_argument("--job", choices=sorted(JOBS), default="agg",
                    help="agg: a tumbling GROUP BY; filter: a filter (reading is most of "
                         "it); q7: a join of windows")
    ap.add_argument("--quoted", action="store_true", help="every bidder in double quotes")
    a = ap.parse_args()
    bin_ = os.path.join(os.path.abspath(a.build), "streamlake")
    tmp = a.data_dir or tempfile.mkdtemp(prefix="sl-bench-ckpt-")
    os.makedirs(tmp, exist_ok=True)
    try:
        tag = os.path.join(tmp, "bids.csv.%d%s" % (a.rows, ".quoted" if a.quoted else ""))
        if not os.path.exists(tag):
            for old in os.listdir(tmp):
                if old.startswith("bids.csv."):
                    os.remove(os.path.join(tmp, old))
            gen(os.path.join(tmp, "bids.csv"), a.rows, a.quoted)
            open(tag, "w").close()
        with open(os.path.join(tmp, "job.sql"), "w") as f:
            f.write(JOBS[a.job])
        ck = os.path.join(tmp, "ck")
        none, idle, every, one = [], [], [], []
        for _ in range(a.rounds):
            none.append(run(bin_, tmp, a.workers))
            idle.append(run(bin_, tmp, a.workers, ck, "86400"))
            every.append(run(bin_, tmp, a.workers, ck))
            if a.quoted:
                one.append(run(bin_, tmp, 1, ck))
        n, i, e = statistics.median(none), statistics.median(idle), statistics.median(every)
        print("job %s, rows %d, workers %d, rounds %d%s" % (a.job, a.rows, a.workers, a.rounds,
                                                         ", every bidder quoted" if a.quoted
                                                         else ""))
        print("no checkpoints            %10.0f rows/s  (%.3f s)" % (a.rows / n, n))
        print("checkpoints on, none due  %10.0f rows/s  (%.3f s)" % (a.rows / i, i))
        print("checkpoint every 1 s      %10.0f rows/s  (%.3f s)" % (a.rows / e, e))
        if one:
            o = statistics.median(one)
            print("1 worker, checkpoint every 1 s %6.0f rows/s  (%.3f s): %d workers read %.2fx "
                  "as fast" % (a.rows / o, o, a.workers, o / e))
        print("throughput with a checkpoint every second: %.1f %% of without checkpoints, "
              "%.1f %% of checkpoints on and none taken" % (100 * n / e, 100 * i / e))
        # the fastest round of each: what is left when the machine's noise (a shared
        # machine only ever adds time) is least
        bn, bi, be = min(none), min(idle), min(every)
        print("fastest rounds: %.3f s, %.3f s, %.3f s: %.1f %% of without checkpoints, "
              "%.1f %% of checkpoints on and none taken" % (bn, bi, be, 100 * bn / be,
                                                          100 * bi / be))

        # recovery: kill -9 right after the first checkpoint taken past half of a full
        # run's time, then restart: the restart reads only what that checkpoint left
        shutil.rmtree(ck, ignore_errors=True)
        man = os.path.join(ck, "job-0")
        p = subprocess.Popen([bin_, "run", "job.sql", "--workers", str(a.workers),
                              "--checkpoint-dir", ck, "--checkpoint-interval", "0.2"],
                             cwd=tmp, stdout=subprocess.DEVNULL)
        t0 = time.monotonic()
        seen = set()
        while p.poll() is None:
            now = set(x for x in os.listdir(man) if x.startswith("manifest-")) \
                if os.path.isdir(man) else set()
            if now - seen and time.monotonic() - t0 >= n / 2:
                break
            seen = now
            time.sleep(0.002)
        killed = p.poll() is None
        if killed:
            at = time.monotonic() - t0
            p.kill()
            p.wait()
        t = time.monotonic()
        subprocess.run([bin_, "run", "job.sql", "--workers", str(a.workers), "--checkpoint-dir",
                        ck, "--checkpoint-interval", "0.2"], cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL)
        r = time.monotonic() - t
        print("restart after kill -9 to the end: %.3f s (%s; a full run: %.3f s)" %
              (r, "killed %.2f s into the run, right after a checkpoint" % at if killed
               else "ended before a checkpoint", n))
    finally:
        if not a.data_dir:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
