"""test_kafka.py - the kafka connector against librdkafka's mock cluster: a real
Kafka protocol endpoint on 127.0.0.1, started by kafka_mock (built next to
the tests) for the length of the test and stopped by its PID.

- Rows with out-of-order and late event times go to a 3-partition topic.
  Which are late is computed here, partition by partition (arrival order is
  offset order within a partition, docs/streaming.md "Kafka"); a job reading
  the topic (bounded = true) runs a tumbling GROUP BY with a filter into a
  file sink and into a kafka sink topic, and a filter into a file sink.  Both
  must equal the batch engine's query over the non-late rows, the sink topic
  read back must hold the same rows (keyed by the key columns), and --workers
  1, 2 and 4 must give the same results.
- Restart: an unbounded job with --checkpoint-dir is killed with SIGKILL after
  checkpoints were taken; more rows are produced; the job is started again
  with start_offset = 'latest' and bounded = true.  Only offsets restored from
  the checkpoint make its output equal the oracle over every row: starting at
  the latest offset would lose the first rows, at the earliest count them twice.
- Bad input: a message that is not JSON fails the job naming the topic,
  partition and offset, or is counted and skipped with on_error = 'skip'.
- The kafka example of docs/streaming.md runs.
"""

import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_stream as ts  # noqa: E402  (its helpers: data, oracle, checks)

BUILD = ts.BUILD
MOCK = os.environ.get("SL_KAFKA_MOCK") or os.path.join(BUILD, "tests", "stream", "kafka_mock")
check = ts.check
COLS = ts.COLS


class Cluster:
    def __init__(self, topics):
        self.p = subprocess.Popen([MOCK, "serve"] + topics, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        self.bootstrap = self.p.stdout.readline().strip()
        if not self.bootstrap.startswith("127.0.0.1:"):
            raise RuntimeError("mock cluster did not start: %r" % self.bootstrap)

    def stop(self):
        self.p.stdin.close()
        try:
            self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(self.p.pid, signal.SIGKILL)
            self.p.wait()

    def produce(self, topic, msgs):
        """msgs: (partition, value) in order."""
        text = "".join("%d\t%s\n" % (p, v) for p, v in msgs)
        r = subprocess.run([MOCK, "produce", self.bootstrap, topic], input=text, text=True,
                           capture_output=True, timeout=120)
        if r.returncode:
            raise RuntimeError("produce failed: " + r.stderr)

    def consume(self, topic):
        r = subprocess.run([MOCK, "consume", self.bootstrap, topic], text=True,
                           capture_output=True, timeout=120)
        if r.returncode:
            raise RuntimeError("consume failed: " + r.stderr)
        return [line.split("\t", 3) for line in r.stdout.splitlines()]


def message(row):
    a, b, p, t = row
    return json.dumps({"auction": a, "bidder": b, "price": p,
                       "ts": None if t is None else ts.ts_text(t)})


def partitioned(rows, nparts, delay_ms):
    """Each row's partition, and the non-late rows under per-partition watermarks."""
    msgs, keep, late = [], [], 0
    per = [[] for _ in range(nparts)]
    for i, r in enumerate(rows):
        p = (i * 7 + i // 5) % nparts
        msgs.append((p, message(r)))
        per[p].append(r)
    for p in range(nparts):
        k, n = ts.split_late(per[p], delay_ms)
        keep += k
        late += n
    return msgs, keep, late


def source(bootstrap, topic, delay, extra=""):
    return ("CREATE TABLE bids (%s) WITH (connector = 'kafka', topic = '%s', "
            "bootstrap_servers = '%s', format = 'jsonl', event_time = 'ts', "
            "max_delay = '%s'%s);\n" % (COLS, topic, bootstrap, delay, extra))


TUMBLE = ("SELECT window_start, window_end, bidder, count(*), sum(price) "
          "FROM tumble(bids, ts, INTERVAL '10 seconds') WHERE auction <> 7 "
          "GROUP BY window_start, window_end, bidder")
TUMBLE_ORACLE = ("SELECT date_bin(INTERVAL '10 seconds', ts, TIMESTAMP '1970-01-01') AS ws, "
                 "date_bin(INTERVAL '10 seconds', ts, TIMESTAMP '1970-01-01') + "
                 "INTERVAL '10 seconds' AS we, bidder, count(*), sum(price) FROM %s "
                 "WHERE auction <> 7 AND ts IS NOT NULL GROUP BY 1, 2, 3")
WIN_COLS = "window_start timestamp, window_end timestamp, bidder text, n bigint, total bigint"


def json_row(v):
    o = json.loads(v)
    return ["" if o[k] is None else str(o[k])
            for k in ("window_start", "window_end", "bidder", "n", "total")]


def test_jobs(cl, d, rows, keep, late, workers):
    job = source(cl.bootstrap, "bids", "3 seconds", ", bounded = true") + (
        "CREATE TABLE out1 (%s) WITH (connector = 'file', path = 'out1.csv', format = 'csv');\n"
        "INSERT INTO out1 %s;\n"
        "CREATE TABLE outk (%s) WITH (connector = 'kafka', topic = 'out%d', "
        "bootstrap_servers = '%s', key = 'window_start,bidder');\n"
        "INSERT INTO outk %s;\n"
        "CREATE TABLE out3 (auction bigint, bidder text, price bigint, ts timestamp) "
        "WITH (connector = 'file', path = 'out3.csv', format = 'csv');\n"
        "INSERT INTO out3 SELECT auction, bidder, price, ts FROM bids WHERE price > 40;\n"
        % (WIN_COLS, TUMBLE, WIN_COLS, workers, cl.bootstrap, TUMBLE))
    out = os.path.join(d, "out%d" % workers)
    os.mkdir(out)
    with open(os.path.join(d, "job.sql"), "w") as f:
        f.write(job)
    stats = os.path.join(d, "stats%d.json" % workers)
    rc, _, err = ts.run(["run", os.path.join(d, "job.sql"), "--output-dir", out,
                         "--workers", str(workers), "--stats", stats])
    check(rc == 0, "%d workers: the kafka job runs %s" % (workers, err.strip()[:400]))
    if rc:
        return None
    src = "read_csv('%s', true, ',', '%s')" % (os.path.join(d, "keep.csv"), COLS)
    want = ts.oracle(d, TUMBLE_ORACLE % src)
    got = ts.csv_rows(open(os.path.join(out, "out1.csv")).read())
    check(len(got) > 10 and sorted(got[1:]) == sorted(want[1:]),
          "%d workers: tumble over the topic == batch query over the non-late rows (%d rows)"
          % (workers, len(got) - 1))
    ends = [r[1] for r in got[1:]]
    check(ends == sorted(ends), "%d workers: windows leave in window_end order" % workers)
    msgs = cl.consume("out%d" % workers)
    back = [json_row(m[3]) for m in msgs]
    check(sorted(back) == sorted(got[1:]),
          "%d workers: the kafka sink topic holds the file sink's rows (%d messages)"
          % (workers, len(back)))
    check(all(m[2] == "%s,%s" % (json.loads(m[3])["window_start"],
                                 json.loads(m[3])["bidder"] or "") for m in msgs),
          "%d workers: messages are keyed by window_start,bidder" % workers)
    want3 = ts.oracle(d, "SELECT auction, bidder, price, ts FROM %s WHERE price > 40" % src)
    got3 = ts.csv_rows(open(os.path.join(out, "out3.csv")).read())
    check(len(got3) > 10 and sorted(got3[1:]) == sorted(want3[1:]),
          "%d workers: filter over the topic == batch query" % workers)
    st = json.load(open(stats))
    s = st["sources"]["bids"]
    check(s["rows_read"] == len(rows) and s["late_dropped"] == late,
          "%d workers: stats %s (want %d read, %d late)" % (workers, s, len(rows), late))
    return (sorted(got[1:]), sorted(got3[1:]), sorted(back))


def ulog_input(cl):
    """40,000 bids on topic ubids (one partition, so more batches than one), and each
    bidder's final count and sum (NULL bidder: "")."""
    names = ["ann", "ben", "cy", "dee", "eve", None]
    msgs, final = [], {}
    for i in range(40000):
        b = names[(i * 7 + i // 11) % 6]
        price = (i * 37) % 100
        t = datetime.datetime(2024, 1, 1) + datetime.timedelta(milliseconds=10 * i)
        msgs.append((0, json.dumps({"auction": i % 50, "bidder": b, "price": price,
                                    "ts": t.strftime("%Y-%m-%d %H:%M:%S.%f")})))
        n, s = final.get(b or "", (0, 0))
        final[b or ""] = (n + 1, s + price)
    cl.produce("ubids", msgs)
    return final


def test_upsert_log(cl, d, final, workers):
    """A GROUP BY without a window into a kafka sink with no `key` option: an upsert
    log keyed by the GROUP BY column, each key's last message its group's final row,
    and a group the HAVING stops keeping ends with a tombstone (its key, no value),
    as a compacted topic wants."""
    limit = sorted(n for n, _ in final.values())[len(final) // 2]
    topic = "ulog%d" % workers
    job = source(cl.bootstrap, "ubids", "3 seconds", ", bounded = true") + (
        "CREATE TABLE per_bidder (bidder text, n bigint, total bigint) WITH (connector = "
        "'kafka', topic = '%s', bootstrap_servers = '%s');\n"
        "INSERT INTO per_bidder SELECT bidder, count(*), sum(price) FROM bids GROUP BY bidder "
        "HAVING count(*) < %d;\n" % (topic, cl.bootstrap, limit))
    with open(os.path.join(d, "ulog.sql"), "w") as f:
        f.write(job)
    rc, _, err = ts.run(["run", os.path.join(d, "ulog.sql"), "--output-dir", d,
                         "--workers", str(workers)])
    check(rc == 0, "%d workers: the upsert log job runs %s" % (workers, err.strip()[:400]))
    if rc:
        return
    last, tombs, keys = {}, 0, set()
    for m in cl.consume(topic):  # one partition per key: each key's messages in order
        keys.add(m[2])
        k = json.loads(m[2])  # {"bidder": ...}: NULL and '' (and commas) kept apart
        last["" if k["bidder"] is None else k["bidder"]] = m[3]
        tombs += m[3] == ""
    check(all(list(json.loads(k)) == ["bidder"] for k in keys),
          "%d workers: keys are JSON objects of the GROUP BY column %s" % (workers, keys))
    check(tombs > 0, "%d workers: groups the HAVING stopped keeping got tombstones (%s)"
          % (workers, last))
    for k, (n, total) in final.items():
        v = last.get(k)
        if n < limit:
            o = json.loads(v) if v else {}
            check([o.get("bidder") or "", o.get("n"), o.get("total")] == [k, n, total],
                  "%d workers: key %r: the last message is the final row (got %r)"
                  % (workers, k, v))
        else:
            check(v in (None, ""), "%d workers: key %r: no longer kept, ends with a tombstone "
                  "(got %r)" % (workers, k, v))
    check(set(last) <= set(final), "%d workers: messages keyed by the bidder" % workers)


def manifests(ckdir):
    d = os.path.join(ckdir, "job-0")
    return [x for x in os.listdir(d) if x.startswith("manifest-")] if os.path.isdir(d) else []


def kill_when_checkpointed(p, ck, part, lines):
    """Waits until the job p took a checkpoint and its part file has more than `lines`
    lines (an idle job takes no new checkpoints, so their count is no clock), then
    kills it with SIGKILL; returns (whether it was still running, its stderr)."""
    deadline = time.time() + 120
    while time.time() < deadline and p.poll() is None:
        if manifests(ck) and os.path.exists(part) and \
                len(open(part).read().splitlines()) > lines:
            break
        time.sleep(0.05)
    running = p.poll() is None
    os.kill(p.pid, signal.SIGKILL)
    return running, p.communicate()[1]


FILTER = "SELECT auction, bidder, price, ts FROM bids WHERE price > 40"


def test_restart(cl, d, workers, job="tumble"):
    """A job over an unbounded topic with checkpoints, killed with SIGKILL, resumed
    with more messages: its output is the batch query's over every non-late row.
    job: "tumble" (an aggregation) or "filter" (none: with several workers each
    reads its partitions and the merger aligns their barriers)."""
    rows = ts.gen_rows(29, 1800, 2000)
    msgs, keep, late = partitioned(rows, 3, 2000)
    first = len(msgs) * 3 // 5
    topic = "live%d%s" % (workers, job)
    cl.produce(topic, msgs[:first])
    ts.write_csv(os.path.join(d, "keep_r.csv"), keep)
    if job == "tumble":
        ins = ("CREATE TABLE out (%s) WITH (connector = 'file', path = 'out_r%d.csv', "
               "format = 'csv');\nINSERT INTO out %s;\n" % (WIN_COLS, workers, TUMBLE))
    else:
        ins = ("CREATE TABLE out (auction bigint, bidder text, price bigint, ts timestamp) "
               "WITH (connector = 'file', path = 'out_r%d.csv', format = 'csv');\n"
               "INSERT INTO out %s;\n" % (workers, FILTER))
    ck = os.path.join(d, "ck%d%s" % (workers, job))
    shutil.rmtree(ck, ignore_errors=True)
    with open(os.path.join(d, "live.sql"), "w") as f:
        f.write(source(cl.bootstrap, topic, "2 seconds") + ins)
    args = [ts.BIN, "run", os.path.join(d, "live.sql"), "--output-dir", d, "--workers",
            str(workers), "--checkpoint-dir", ck, "--checkpoint-interval", "0.05"]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    part = os.path.join(d, "out_r%d.csv.part" % workers)
    running, err = kill_when_checkpointed(p, ck, part, 10)
    check(running and manifests(ck), "%d workers: the unbounded job took checkpoints before "
          "SIGKILL %s" % (workers, err.strip()[:300]))
    check(os.path.exists(part) and len(open(part).read().splitlines()) > 10,
          "%d workers: the killed job left its part file with closed windows" % workers)
    cl.produce(topic, msgs[first:])
    # resumed: 'latest' would skip the first rows, 'earliest' count them twice
    with open(os.path.join(d, "live.sql"), "w") as f:
        f.write(source(cl.bootstrap, topic, "2 seconds",
                       ", start_offset = 'latest', bounded = true") + ins)
    stats = os.path.join(d, "stats_r%d.json" % workers)
    rc, _, err = ts.run(args[1:] + ["--stats", stats])
    check(rc == 0, "%d workers: the job resumes from its checkpoint %s" % (workers, err.strip()[:400]))
    if rc:
        return
    src = "read_csv('%s', true, ',', '%s')" % (os.path.join(d, "keep_r.csv"), COLS)
    want = ts.oracle(d, TUMBLE_ORACLE % src if job == "tumble"
                     else FILTER.replace("FROM bids", "FROM %s") % src)
    got = ts.csv_rows(open(os.path.join(d, "out_r%d.csv" % workers)).read())
    check(len(got) > 10 and sorted(got[1:]) == sorted(want[1:]),
          "%s, %d workers: after kill -9 and restart the output == batch query over every "
          "non-late row (no row lost, none twice: offsets restored)" % (job, workers))
    st = json.load(open(stats))["sources"]["bids"]
    check(st["rows_read"] == len(rows) and st["late_dropped"] == late,
          "%d workers: figures carried over the restart %s (want %d, %d)"
          % (workers, st, len(rows), late))


# joins of two streams over topics: a join of windows (q7's shape, the topic with
# itself) and an interval join of two topics
JOINS = (
    "CREATE TABLE q7 (auction bigint, price bigint, window_end timestamp) "
    "WITH (connector = 'file', path = 'q7_%(tag)s.csv', format = 'csv');\n"
    "INSERT INTO q7 SELECT b.auction, b.price, b.window_end "
    "FROM tumble(bids, ts, INTERVAL '10 seconds') b JOIN (SELECT max(price) AS mp, window_start, "
    "window_end FROM tumble(bids, ts, INTERVAL '10 seconds') GROUP BY window_start, window_end) m "
    "ON b.window_start = m.window_start AND b.window_end = m.window_end AND b.price = m.mp;\n"
    "CREATE TABLE ij (auction bigint, bidder text, bp bigint, ap bigint, bts timestamp, "
    "ats timestamp) WITH (connector = 'file', path = 'ij_%(tag)s.csv', format = 'csv');\n"
    "INSERT INTO ij SELECT b.auction, b.bidder, b.price, a.price, b.ts, a.ts FROM bids b "
    "JOIN asks a ON b.auction = a.auction AND a.ts BETWEEN b.ts AND b.ts + INTERVAL '2 seconds';\n")


def join_oracles(d, kb, ka):
    b = "read_csv('%s', true, ',', '%s')" % (os.path.join(d, kb), COLS)
    a = "read_csv('%s', true, ',', '%s')" % (os.path.join(d, ka), COLS)
    win = ("(SELECT *, date_bin(INTERVAL '10 seconds', ts, TIMESTAMP '1970-01-01') AS ws "
           "FROM %s WHERE ts IS NOT NULL)" % b)
    q7 = ts.oracle(d, "SELECT b.auction, b.price, b.ws + INTERVAL '10 seconds' FROM %s b JOIN "
                   "(SELECT max(price) AS mp, ws FROM %s x GROUP BY ws) m "
                   "ON b.ws = m.ws AND b.price = m.mp" % (win, win))
    ij = ts.oracle(d, "SELECT b.auction, b.bidder, b.price, a.price, b.ts, a.ts FROM %s b "
                   "JOIN %s a ON b.auction = a.auction AND a.ts BETWEEN b.ts AND "
                   "b.ts + INTERVAL '2 seconds'" % (b, a))
    return q7, ij


def test_joins(cl, d):
    """Joins of two streams read topics: equal to the batch joins over the non-late rows
    (lateness per partition), with 1 and 2 workers; with checkpoints, killed with SIGKILL
    and resumed after more messages came, every reader's offsets are restored."""
    rows_b, rows_a = ts.gen_rows(41, 1500, 3000), ts.gen_rows(42, 1500, 3000)
    msgs_b, keep_b, _ = partitioned(rows_b, 3, 3000)
    msgs_a, keep_a, _ = partitioned(rows_a, 2, 3000)
    ts.write_csv(os.path.join(d, "jkeep_b.csv"), keep_b)
    ts.write_csv(os.path.join(d, "jkeep_a.csv"), keep_a)
    want_q7, want_ij = join_oracles(d, "jkeep_b.csv", "jkeep_a.csv")
    check(len(want_q7) > 20 and len(want_ij) > 20, "the join oracles have rows (%d, %d)"
          % (len(want_q7), len(want_ij)))

    def sources(tb, ta, extra):
        return (source(cl.bootstrap, tb, "3 seconds", extra) +
                source(cl.bootstrap, ta, "3 seconds", extra).replace("TABLE bids", "TABLE asks"))

    def outputs(tag):
        return [sorted(ts.csv_rows(open(os.path.join(d, "%s_%s.csv" % (n, tag))).read())[1:])
                if os.path.exists(os.path.join(d, "%s_%s.csv" % (n, tag))) else None
                for n in ("q7", "ij")]

    cl.produce("jbids", msgs_b)
    cl.produce("jasks", msgs_a)
    for workers in (1, 2, 4):
        tag = "b%d" % workers
        with open(os.path.join(d, "joins.sql"), "w") as f:
            f.write(sources("jbids", "jasks", ", bounded = true") + JOINS % {"tag": tag})
        rc, _, err = ts.run(["run", os.path.join(d, "joins.sql"), "--output-dir", d,
                             "--workers", str(workers)])
        check(rc == 0, "%d workers: joins over topics run %s" % (workers, err.strip()[:300]))
        if rc:
            continue
        got_q7, got_ij = outputs(tag)
        check(got_q7 == sorted(want_q7[1:]), "%d workers: a join of windows over a topic == the "
              "batch join over the non-late rows (%d rows)" % (workers, len(got_q7)))
        check(got_ij == sorted(want_ij[1:]), "%d workers: an interval join of two topics == the "
              "batch join over the non-late rows (%d rows)" % (workers, len(got_ij)))
    # restart: unbounded, checkpoints, SIGKILL; the rest produced; resumed bounded from
    # 'latest' (which alone would skip the first messages): the offsets saved decide.
    # (Each join alone: `streamlake run` runs a file's statements one after another.)
    jobs = JOINS.split(";\n")
    for workers in (1, 2):
        for k, name in enumerate(("q7", "ij")):
            tb, ta, tag = "lj%sb%d" % (name, workers), "lj%sa%d" % (name, workers), "r%d" % workers
            first_b, first_a = len(msgs_b) * 3 // 5, len(msgs_a) * 2 // 5
            cl.produce(tb, msgs_b[:first_b])
            cl.produce(ta, msgs_a[:first_a])
            ck = os.path.join(d, "ckj%s%d" % (name, workers))
            job = ";\n".join(jobs[2 * k:2 * k + 2]) % {"tag": tag} + ";\n"
            with open(os.path.join(d, "joins.sql"), "w") as f:
                f.write(sources(tb, ta, "") + job)
            args = [ts.BIN, "run", os.path.join(d, "joins.sql"), "--output-dir", d, "--workers",
                    str(workers), "--checkpoint-dir", ck, "--checkpoint-interval", "0.05"]
            p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            part = os.path.join(d, "%s_%s.csv.part" % (name, tag))
            running, err = kill_when_checkpointed(p, ck, part, 5)
            check(running and manifests(ck) and "no checkpoints" not in err,
                  "%s, %d workers: the join over unbounded topics took checkpoints and wrote "
                  "rows before SIGKILL %s" % (name, workers, err.strip()[:300]))
            cl.produce(tb, msgs_b[first_b:])
            cl.produce(ta, msgs_a[first_a:])
            with open(os.path.join(d, "joins.sql"), "w") as f:
                f.write(sources(tb, ta, ", start_offset = 'latest', bounded = true") + job)
            rc, _, err = ts.run(args[1:])
            check(rc == 0, "%s, %d workers: the join resumes %s"
                  % (name, workers, err.strip()[:300]))
            if rc:
                continue
            got = outputs(tag)[k]
            want = (want_q7, want_ij)[k]
            check(got == sorted(want[1:]),
                  "%s, %d workers: after kill -9 and a resume the join's output == the batch "
                  "join (no row lost, none twice: offsets and kept rows restored; %d rows)"
                  % (name, workers, len(got)))


def test_bad(cl, d):
    good = [(1, "ann", 10, 1000), (2, "bob", 20, 2000)]
    cl.produce("bad", [(0, message(good[0])), (0, "{not json"), (0, message(good[1]))])
    for skip in (False, True):
        job = (source(cl.bootstrap, "bad", "1 second",
                      ", bounded = true" + (", on_error = 'skip'" if skip else "")) +
               "CREATE TABLE o (auction bigint, bidder text, price bigint, ts timestamp) WITH "
               "(connector = 'file', path = 'bad_out.csv', format = 'csv');\n"
               "INSERT INTO o SELECT * FROM bids;\n")
        with open(os.path.join(d, "bad.sql"), "w") as f:
            f.write(job)
        stats = os.path.join(d, "bad_stats.json")
        rc, _, err = ts.run(["run", os.path.join(d, "bad.sql"), "--output-dir", d, "--stats",
                             stats])
        if not skip:
            check(rc != 0 and 'topic "bad" partition 0 offset 1' in err and "JSON" in err,
                  "a bad message fails the job naming topic, partition, offset: %s" % err.strip())
            check(not os.path.exists(os.path.join(d, "bad_out.csv")), "... and writes no sink")
        else:
            st = json.load(open(stats))["sources"]["bids"] if rc == 0 else {}
            rows = ts.csv_rows(open(os.path.join(d, "bad_out.csv")).read()) if rc == 0 else []
            check(rc == 0 and st.get("bad_rows") == 1 and len(rows) == 3,
                  "on_error = 'skip': the bad message is counted and skipped %s %s" % (st, err))
    # options checked before anything runs
    job = ("CREATE TABLE k (a bigint) WITH (connector = 'kafka', topic = 't');\n"
           "CREATE TABLE o (a bigint) WITH (connector = 'file', path = 'o.csv');\n"
           "INSERT INTO o SELECT a FROM k;\n")
    with open(os.path.join(d, "opt.sql"), "w") as f:
        f.write(job)
    rc, _, err = ts.run(["run", os.path.join(d, "opt.sql"), "--output-dir", d])
    check(rc != 0 and "needs topic and bootstrap_servers" in err, "a missing option: %s" % err.strip())


def test_ends(cl, d):
    """Bounded sources end at once with nothing to read; Ctrl-C ends an unbounded one."""
    sink = ("CREATE TABLE o (auction bigint, bidder text, price bigint, ts timestamp) WITH "
            "(connector = 'file', path = 'end_out.csv', format = 'csv');\n"
            "INSERT INTO o SELECT * FROM bids;\n")
    for topic, extra, what in (("bids", ", start_offset = 'latest'", "start_offset = 'latest'"),
                               ("empty", "", "an empty topic")):
        with open(os.path.join(d, "end.sql"), "w") as f:
            f.write(source(cl.bootstrap, topic, "1 second", ", bounded = true" + extra) + sink)
        rc, _, err = ts.run(["run", os.path.join(d, "end.sql"), "--output-dir", d,
                             "--workers", "2"])
        rows = ts.csv_rows(open(os.path.join(d, "end_out.csv")).read()) if rc == 0 else None
        check(rows == [["auction", "bidder", "price", "ts"]],
              "bounded, %s: the job ends with no rows %s" % (what, err.strip()[:200]))
    with open(os.path.join(d, "end.sql"), "w") as f:
        f.write(source(cl.bootstrap, "bad", "1 second", ", on_error = 'skip'") + sink)
    p = subprocess.Popen([ts.BIN, "run", os.path.join(d, "end.sql"), "--output-dir", d],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    still = p.poll() is None
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    rows = ts.csv_rows(open(os.path.join(d, "end_out.csv")).read()) if p.returncode == 0 else []
    check(still and p.returncode == 0 and len(rows) <= 3 and rows[0][0] == "auction",
          "unbounded: runs until Ctrl-C, then commits its sink %s" % err.strip()[:200])


def test_idle(cl, d):
    """idle_timeout: a partition with no messages stops holding the watermark back, so an
    unbounded job closes windows while it runs (seen in its output topic before Ctrl-C);
    rows that come back to that partition below the watermark handed on are late.
    Without the option the empty partition holds every window open until the end."""
    rows = [(1, "ann", 10 + i, 1000 * i) for i in range(45)]  # 00:00:00 .. 00:00:44
    cl.produce("quiet", [(0, message(r)) for r in rows])
    # the watermark: 00:00:44 - 2 s = 00:00:42, so the windows ending by 00:00:40 close
    want = sorted([ts.ts_text(10000 * w), 10, sum(10 + i for i in range(10 * w, 10 * w + 10))]
                  for w in range(4))
    for extra, expect, what, out in (("", [], "without", "idle_out1"),
                                     (", idle_timeout = '300 milliseconds'", want, "with",
                                      "idle_out2")):
        with open(os.path.join(d, "idle.sql"), "w") as f:
            f.write(source(cl.bootstrap, "quiet", "2 seconds", extra) +
                    "CREATE TABLE o (window_start timestamp, n bigint, total bigint) WITH "
                    "(connector = 'kafka', topic = '%s', bootstrap_servers = '%s');\n"
                    "INSERT INTO o SELECT window_start, count(*), sum(price) FROM "
                    "tumble(bids, ts, INTERVAL '10 seconds') GROUP BY window_start, window_end;\n"
                    % (out, cl.bootstrap))
        p = subprocess.Popen([ts.BIN, "run", os.path.join(d, "idle.sql"), "--output-dir", d,
                              "--workers", "1", "--stats", os.path.join(d, "idle.json")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        got = []
        while time.monotonic() < deadline and p.poll() is None:
            time.sleep(1)
            got = sorted([o["window_start"], o["n"], o["total"]]
                         for o in (json.loads(m[3]) for m in cl.consume(out)))
            if got == want or (not expect and time.monotonic() > deadline - 25):
                break
        running = p.poll() is None
        if what == "with":  # partition 1 wakes up: an old row (late) and a new one
            cl.produce("quiet", [(1, message((2, "bob", 1, 5000))),
                                 (1, message((2, "bob", 2, 46000)))])
            time.sleep(1)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
        check(running and got == expect, "%s idle_timeout, an empty partition: the windows "
              "closed while the job runs %s (want %s) %s" % (what, got, expect, err.strip()[:200]))
        if what == "with":
            st = json.load(open(os.path.join(d, "idle.json")))["sources"]["bids"]
            check(p.returncode == 0 and st["rows_read"] == 47 and st["late_dropped"] == 1,
                  "a row below the watermark from a partition back from idleness is late: %s"
                  % st)
    with open(os.path.join(d, "idle.sql"), "w") as f:
        f.write(source(cl.bootstrap, "quiet", "2 seconds", ", idle_timeout = '0 seconds'"))
    rc, _, err = ts.run(["run", os.path.join(d, "idle.sql"), "--output-dir", d])
    check(rc != 0 and "idle_timeout must be positive" in err, "idle_timeout 0 is refused: " +
          err.strip()[:200])


def test_docs(cl, d):
    """The ```kafka-sql block of docs/streaming.md, with the cluster's address."""
    doc = open(os.path.join(ts.ROOT, "docs", "streaming.md")).read()
    m = re.search(r"```kafka-sql\n(.*?)```", doc, re.S)
    check(m is not None, "docs/streaming.md has a kafka example")
    if not m:
        return
    cl.produce("bids_doc", [(0, '{"auction": 1, "price": 30, "ts": "2024-01-01 00:00:01"}'),
                            (1, '{"auction": 2, "price": 50, "ts": "2024-01-01 00:00:04"}'),
                            (0, '{"auction": 1, "price": 70, "ts": "2024-01-01 00:00:12"}')])
    with open(os.path.join(d, "doc.sql"), "w") as f:
        f.write(m.group(1).replace("127.0.0.1:9092", cl.bootstrap))
    rc, out, err = ts.run(["run", os.path.join(d, "doc.sql"), "--output-dir", d])
    check(rc == 0, "the docs' kafka example runs %s" % err.strip()[:300])
    back = sorted(json.loads(x[3])["n"] for x in cl.consume("counts_doc"))
    check(back == [1, 2], "the docs' kafka example writes its windows to a topic: %s" % back)


def main():
    cl = Cluster(["bids:3", "out1:3", "out2:3", "out4:3", "live1tumble:3", "live2tumble:3", "live1filter:3", "live2filter:3", "live3filter:3", "bad:1",
                  "bids_doc:2", "counts_doc:1", "empty:2", "quiet:2",
                  "idle_out1:1", "idle_out2:1", "jbids:3", "jasks:2", "ubids:1", "ulog1:2", "ulog2:2"] +
                 ["lj%s%s%d:%d" % (j, s, w, 3 if s == "b" else 2)
                  for j in ("q7", "ij") for s in "ba" for w in (1, 2)])
    d = tempfile.mkdtemp(prefix="sl-kafka-")
    try:
        rows = ts.gen_rows(7, 1500, 3000)
        msgs, keep, late = partitioned(rows, 3, 3000)
        check(0 < late < len(rows), "the input has late rows (%d)" % late)
        cl.produce("bids", msgs)
        ts.write_csv(os.path.join(d, "keep.csv"), keep)
        results = {}
        for workers in (1, 2, 4):
            results[workers] = test_jobs(cl, d, rows, keep, late, workers)
        check(results[1] is not None and results[1] == results[2] == results[4],
              "--workers 1, 2 and 4 give the same results")
        final = ulog_input(cl)
        for workers in (1, 2):
            test_upsert_log(cl, d, final, workers)
        for workers in (1, 2):
            test_restart(cl, d, workers)
        for workers in (1, 2, 3):
            test_restart(cl, d, workers, "filter")
        test_joins(cl, d)
        test_bad(cl, d)
        test_ends(cl, d)
        test_idle(cl, d)
        test_docs(cl, d)
    finally:
        cl.stop()
        shutil.rmtree(d, ignore_errors=True)
    ts.finish()


if __name__ == "__main__":
    main()
