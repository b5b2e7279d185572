#!/usr/bin/python3
"""Telemetry latency of a continuous job (issue 9, "Performance").

A fresh server on a free loopback port runs a job over live thread_spans:

    CREATE MATERIALIZED VIEW lat AS SELECT window_end, count(*) AS spans
    FROM tumble(live, "end", INTERVAL '1 second') GROUP BY window_end

while `streamlake loadgen` sends spans for --seconds.  The view is polled every
10 ms; a window's latency beyond the configured delay is the wall-clock time
its row was first seen minus (window_end + max_delay): how long after the
watermark could first have closed it the row was readable.  Prints p50 and
p99 over the windows (smoke figures: the poll interval and the clients'
flush interval are part of them).

    /usr/bin/python3 bench/stream/telemetry_latency.py [--build build] [--seconds 10]
"""
import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--delay-ms", type=int, default=500)
    a = ap.parse_args()
    binary = os.path.join(a.build, "streamlake")
    data = tempfile.mkdtemp(prefix="sl-lat-")
    srv = subprocess.Popen([binary, "serve", "--data", data, "--listen", "127.0.0.1:0",
                            "--no-pg"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        line = srv.stdout.readline().decode()
        url = re.search(r"(http://\S+)", line).group(1)

        def q(sql):
            req = urllib.request.Request(url + "/api/query?format=json",
                                         json.dumps({"sql": sql}).encode(), method="POST")
            with urllib.request.urlopen(req, timeout=60) as r:
                lines = [json.loads(x) for x in r.read().decode().splitlines()]
            return [x for x in lines[1:] if not (isinstance(x, dict) and "end" in x)]

        q("CREATE TABLE live (\"end\" timestamptz) WITH (connector = 'telemetry', view = "
          "'thread_spans', event_time = 'end', max_delay = '%d milliseconds', "
          "idle_timeout = '1 second')" % a.delay_ms)
        q("CREATE MATERIALIZED VIEW lat AS SELECT window_end, count(*) AS spans FROM "
          "tumble(live, \"end\", INTERVAL '1 second') GROUP BY window_end")
        stop = threading.Event()

        def load():
            while not stop.is_set():
                subprocess.run([binary, "loadgen", "--server", url, "--threads", "2", "--spans",
                                "2000", "--async", "0", "--logs", "0", "--metrics", "0"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        th = threading.Thread(target=load)
        th.start()
        seen = {}
        t_end = time.time() + a.seconds
        while time.time() < t_end + 3:
            if time.time() >= t_end:
                stop.set()
            now = time.time()
            for we, _ in q("SELECT * FROM lat"):
                if we not in seen:
                    seen[we] = now
            time.sleep(0.01)
        th.join()
        lat = []
        for we, at in seen.items():
            end = datetime.datetime.fromisoformat(we.replace("+00", "+00:00")).timestamp()
            lat.append((at - end - a.delay_ms / 1000) * 1000)
        lat.sort()
        if not lat:
            print("no windows closed")
            return
        p = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))]
        print("telemetry latency beyond max_delay (%d ms), %d windows of 1 s: p50 %.0f ms, "
              "p99 %.0f ms (poll 10 ms; machine: %d cores, loaded or not)"
              % (a.delay_ms, len(lat), p(0.5), p(0.99), os.cpu_count()))
    finally:
        srv.terminate()
        srv.wait()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
