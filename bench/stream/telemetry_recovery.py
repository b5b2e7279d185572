#!/usr/bin/python3
"""Recovery of a telemetry job after kill -9 (issue 9, "Performance": recovery time).

A fresh server on a free loopback port (its own data directory, SQLite metadata,
local objects) runs a job over live log_entries:

    CREATE MATERIALIZED VIEW per_minute AS SELECT process_id, window_start,
    count(*) AS n FROM tumble(logs, time, INTERVAL '1 minute')
    GROUP BY process_id, window_start

with a checkpoint every --interval-ms.  A small loadgen run, then the first
checkpoint; then `streamlake loadgen --threads T --logs N` sends the blocks the
checkpoint does not hold, and the server is killed with SIGKILL as soon as the
loadgen has its acknowledgements.  The server is started again: the job resumes
and its workers replay those blocks from the store.  Prints:

  * restart to resumed: process start until the log says the job resumes;
  * replay: until every worker logged what it replayed, blocks and rows/s;
  * the floor, measured in the same run on the same rows: the batch query over
    log_entries that the view equals (cold, the first after the restart, which
    builds the lake's partitions; then warm), and the replay's time against it.

With --view thread_spans the job counts spans per name per minute (by their
end) and the loadgen records --spans spans per thread instead of log lines: the
replay then decodes each stream's blocks from the open spans its checkpoint
saved, and the floor is the batch query over every thread's thread_spans.

    /usr/bin/python3 bench/stream/telemetry_recovery.py [--build build]
        [--threads 4] [--logs 250000] [--interval-ms 30000] [--workers 2]
        [--view log_entries|thread_spans] [--spans 250000]
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

VIEW_SQL = ("CREATE MATERIALIZED VIEW per_minute AS SELECT process_id, window_start, "
            "count(*) AS n FROM tumble(logs, time, INTERVAL '1 minute') "
            "GROUP BY process_id, window_start")
BATCH = ("SELECT process_id, date_trunc('minute', time), count(*) FROM log_entries "
         "GROUP BY 1, 2")


class Server:
    def __init__(self, binary, data, args):
        self.binary, self.data, self.args = binary, data, args
        self.log = os.path.join(data, "bench-server.log")

    def start(self):
        self.t0 = time.monotonic()
        self.err = open(self.log, "ab")
        self.p = subprocess.Popen([self.binary, "serve", "--data", self.data, "--listen",
                                   "127.0.0.1:0", "--no-pg"] + self.args,
                                  stdout=subprocess.PIPE, stderr=self.err)
        line = self.p.stdout.readline().decode()
        self.url = re.search(r"(http://\S+)", line).group(1)

    def kill(self):
        os.kill(self.p.pid, signal.SIGKILL)
        self.p.wait()
        self.err.close()

    def stop(self):
        self.p.terminate()
        self.p.wait(timeout=60)
        self.err.close()

    def text(self):
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")

    def q(self, sql):
        req = urllib.request.Request(self.url + "/api/query?format=json",
                                     json.dumps({"sql": sql}).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=600) as r:
            lines = [json.loads(x) for x in r.read().decode().splitlines()]
        return [x for x in lines[1:] if not (isinstance(x, dict) and "end" in x)]


def manifests(data):
    d = os.path.join(data, "stream", "checkpoints", "per_minute")
    return sorted(f for f in os.listdir(d) if f.startswith("manifest-")) if os.path.isdir(d) else []


SPAN_VIEW_SQL = ("CREATE MATERIALIZED VIEW per_minute AS SELECT name, window_start, "
                 "count(*) AS n FROM tumble(spans, \"end\", INTERVAL '1 minute') "
                 "GROUP BY name, window_start")


def span_batch(srv):
    """The batch query over every thread's thread_spans (one instance per stream)."""
    sids = [r[0] for r in srv.q("SELECT stream_id FROM streams WHERE 'cpu' = ANY(tags)")]
    u = " UNION ALL ".join("SELECT name, \"end\" FROM view_instance('thread_spans', '%s')" % s
                           for s in sids)
    return "SELECT name, date_trunc('minute', \"end\"), count(*) FROM (%s) s GROUP BY 1, 2" % u


def loadgen(binary, url, threads, logs, spans=10):
    out = subprocess.run([binary, "loadgen", "--json", "--server", url, "--threads",
                          str(threads), "--spans", str(spans), "--logs", str(logs),
                          "--metrics", "1", "--async", "1"],
                         capture_output=True, text=True, timeout=1800)
    if out.returncode:
        raise SystemExit("loadgen failed: " + out.stderr[-2000:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--logs", type=int, default=250000)
    ap.add_argument("--interval-ms", type=int, default=30000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--view", choices=("log_entries", "thread_spans"), default="log_entries")
    ap.add_argument("--spans", type=int, default=250000)
    a = ap.parse_args()
    on_spans = a.view == "thread_spans"
    table = "spans" if on_spans else "logs"
    binary = os.path.join(a.build, "streamlake")
    data = tempfile.mkdtemp(prefix="sl-recovery-")
    srv = Server(binary, data, ["--workers", str(a.workers), "--checkpoint-interval-ms",
                                str(a.interval_ms)])
    try:
        srv.start()
        if on_spans:
            srv.q("CREATE TABLE spans (name text, \"end\" timestamptz) WITH (connector = "
                  "'telemetry', view = 'thread_spans', event_time = 'end', "
                  "max_delay = '5 seconds')")
        else:
            srv.q("CREATE TABLE logs (process_id uuid, time timestamptz, level int) WITH "
                  "(connector = 'telemetry', view = 'log_entries', event_time = 'time', "
                  "max_delay = '5 seconds')")
        srv.q(SPAN_VIEW_SQL if on_spans else VIEW_SQL)
        loadgen(binary, srv.url, 1, 100)
        deadline = time.monotonic() + a.interval_ms / 1000 * 3 + 30
        while not manifests(data) and time.monotonic() < deadline:
            time.sleep(0.05)
        first = manifests(data)
        if not first:
            raise SystemExit("no checkpoint was taken")
        t = time.monotonic()
        if on_spans:
            loadgen(binary, srv.url, a.threads, 1, a.spans)
        else:
            loadgen(binary, srv.url, a.threads, a.logs)
        sent_s = time.monotonic() - t
        srv.kill()
        if manifests(data) != first:
            print("note: a checkpoint was taken while the blocks were sent (their time %.1f s "
                  "against --interval-ms %d): fewer blocks to replay" % (sent_s, a.interval_ms))
        srv.start()
        resumed = replayed = None
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            text = srv.text().split("resuming from checkpoint", 1)
            if resumed is None and len(text) == 2:
                resumed = time.monotonic() - srv.t0
            counts = re.findall(r"table %s: worker \d+ replayed (\d+) blocks" % table,
                                srv.text())
            if len(counts) == a.workers:
                replayed = time.monotonic() - srv.t0
                break
            time.sleep(0.01)
        if replayed is None:
            raise SystemExit("the workers did not finish replaying: " + srv.text()[-2000:])
        blocks = sum(int(n) for n in counts)
        rows = srv.q("SELECT rows_read FROM jobs WHERE name = 'per_minute'")[0][0]
        batch = span_batch(srv) if on_spans else BATCH
        t = time.monotonic()
        got = srv.q(batch)
        cold = time.monotonic() - t
        t = time.monotonic()
        srv.q(batch)
        warm = time.monotonic() - t
        total = sum(r[2] for r in got)
        what = "span" if on_spans else "log"
        print("sent %d %s rows in %.2f s after checkpoint %s; killed, started again" %
              (a.threads * (a.spans if on_spans else a.logs), what, sent_s,
               first[-1][len("manifest-"):].lstrip("0")))
        print("restart to resumed: %.3f s" % resumed)
        print("replayed %d blocks in %.3f s from the start (the job's rows read now %d of %d "
              "%s rows)" % (blocks, replayed, rows, total, what))
        print("batch query over %s: cold %.3f s, warm %.3f s" % (a.view, cold, warm))
        print("replay (from the start) / cold batch query: %.2fx" % (replayed / cold))
        srv.stop()
    finally:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
