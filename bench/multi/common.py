"""Shared pieces of the bench/multi benchmarks (standard library only).

The stores and servers are the tests' own: PgCluster (tests/sql/pgcluster.py, a
throwaway PostgreSQL 15), S3rver (tests/e2e/test_s3.py, npm s3rver) and Server
(tests/e2e/sltest.py, `streamlake serve` on a free loopback port, stopped by PID).
This module adds what the benchmarks measure with them: a loadgen capture of
several processes, cold traces timed to the last byte, the SQL suite of
bench/sql/queries.tsv over HTTP, and the lake's cache and object-store counters
of GET /api/stats as differences between two readings.
"""

import hashlib
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
sys.path.insert(0, os.path.join(ROOT, "tests", "sql"))

import sltest  # noqa: E402
from pgcluster import PgCluster  # noqa: E402,F401
from sltest import Server  # noqa: E402,F401
from test_s3 import BUCKET, KEYS, S3rver  # noqa: E402,F401

CACHES = ("processes", "streams", "block_lists", "partition_index", "parquet_footers",
          "file_bytes")


def set_build(build):
    """Points the tests' helpers at this build directory; returns the streamlake binary."""
    os.environ["SL_BUILD_DIR"] = os.path.abspath(build)
    os.environ.update(KEYS)  # s3rver's keys, for every server started from here
    return sltest.binary()


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def machine_note(extra):
    cpu = open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].strip(": \t")
    print("machine: %d cores, %s; load average %s (1, 5, 15 min) before the run" %
          (os.cpu_count(), cpu, loadavg()), flush=True)
    print("note: " + extra, flush=True)


def run(cmd, timeout=3600):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("%s: exit %d\n%s%s" % (" ".join(cmd[:3]), r.returncode,
                                                  r.stdout[-2000:], r.stderr[-2000:]))
    return r.stdout


def make_capture(binary, n_procs, threads, spans):
    """An offline capture of n_procs loadgen processes; returns (dir, [process ids])."""
    d = tempfile.mkdtemp(prefix="sl-bench-multi-cap-")
    pids = []
    for _ in range(n_procs):
        out = run([binary, "loadgen", "--dir", d, "--json", "--threads", str(threads),
                   "--spans", str(spans), "--async", str(max(1, spans // 100)),
                   "--logs", str(max(1, spans // 20)), "--metrics", str(max(1, spans // 20))])
        pids.append(json.loads(out.strip().splitlines()[-1])["process_id"])
    return d, pids


def import_capture(binary, capture, srv):
    run([binary, "import", capture, "--server", srv.url])


def store_args(kind, pg, s3, name):
    """serve arguments for one store: kind is local, s3 (SQLite + s3rver) or pg+s3."""
    args = ["--no-pg"]
    if kind == "pg+s3":
        pg.psql("CREATE DATABASE " + name)
        args += ["--meta", pg.url(name)]
    if kind in ("s3", "pg+s3", "s3-seq"):
        args += ["--objects", "s3://%s/%s" % (BUCKET, name), "--s3-endpoint", s3.endpoint]
    return args


def store_env(kind):
    """s3-seq: the s3 store with a trace's commits and payload reads in sequence
    (SL_LAKE_TRACE_OVERLAP=0), for a same-run comparison of the overlap."""
    return {"SL_LAKE_TRACE_OVERLAP": "0"} if kind == "s3-seq" else None


def unique(tag):
    return "b_%s_%s" % (tag.replace("+", ""), uuid.uuid4().hex[:10])


def stats(srv):
    return srv.get_json("/api/stats")


def cpu_seconds(pid):
    """User + system CPU seconds a process has used so far (/proc/PID/stat), 0 if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def counters(st):
    """The figures compared before/after: cache hits and misses, store requests and bytes."""
    out = {}
    for name, c in st["lake"]["caches"].items():
        out["cache." + name + ".hits"] = c["hits"]
        out["cache." + name + ".misses"] = c["misses"]
    ob = st.get("objstore") or {}
    for k, v in (ob.get("requests") or {}).items():
        out["s3." + k] = v
    for k in ("bytes_downloaded", "bytes_uploaded", "retries", "failures"):
        if k in ob:
            out["s3." + k] = ob[k]
    out["partitions.built"] = st["lake"]["partitions"]["built"]
    out["payloads_waited_for"] = st["lake"]["partitions"].get("payloads_waited_for", 0)
    out["deferred_commits"] = st["lake"]["partitions"].get("deferred_commits", 0)
    out["payloads_prefetched"] = st["lake"]["partitions"].get("payloads_prefetched", 0)
    for k, v in st["lake"]["partitions"].get("build_phases_ms", {}).items():
        out["phase." + k] = v
    return out


def delta(after, before):
    return {k: v - before.get(k, 0) for k, v in after.items()}


def hit_rate(d, cache):
    h, m = d.get("cache.%s.hits" % cache, 0), d.get("cache.%s.misses" % cache, 0)
    return "%5.1f%%" % (100.0 * h / (h + m)) if h + m else "    - "


def cold_trace(srv, pid, timeout=3600):
    """GET the process's Perfetto trace; (seconds to last byte, first byte, bytes, sha256)."""
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=timeout)
    t0 = time.monotonic()
    try:
        conn.request("GET", "/api/processes/%s/trace.pftrace" % pid)
        r = conn.getresponse()
        if r.status != 200:
            raise RuntimeError("trace of %s: %d %r" % (pid, r.status, r.read()[:300]))
        h = hashlib.sha256()
        first, n = None, 0
        while True:
            chunk = r.read(1 << 16)
            if first is None:
                first = time.monotonic() - t0
            if not chunk:
                break
            n += len(chunk)
            h.update(chunk)
        return time.monotonic() - t0, first, n, h.hexdigest()
    finally:
        conn.close()


def query(srv, sql, timeout=3600):
    """Runs one SQL statement; (seconds, number of rows)."""
    t0 = time.monotonic()
    st, _, data = srv.post("/api/query?format=json", json.dumps({"sql": sql}).encode(),
                           timeout=timeout)
    secs = time.monotonic() - t0
    if st != 200:
        raise RuntimeError("query %r: %d %r" % (sql[:80], st, data[:300]))
    lines = [json.loads(x) for x in data.decode().splitlines() if x]
    rows = [r for r in lines[1:] if not (isinstance(r, dict) and "end" in r)]
    return secs, rows


def sql_suite(srv, pid):
    """bench/sql/queries.tsv's streamlake column for process pid: [(name, sql)]."""
    _, rows = query(srv, "SELECT min(begin), max(begin) FROM process_spans('%s', 'thread')"
                    % pid)
    lo, hi = rows[0]
    mid = _ts_ns(lo) + (_ts_ns(hi) - _ts_ns(lo)) // 2

    def iso(ns):
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ns // 10**9)) + \
            ".%06d+00" % (ns % 10**9 // 1000)
    out = []
    with open(os.path.join(ROOT, "bench", "sql", "queries.tsv")) as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            name, sql = line.rstrip("\n").split("\t")[:2]
            sql = sql.replace("$P", pid).replace("$T0", iso(mid)).replace("$T1", iso(mid + 10**7))
            out.append((name, sql))
    return out


def _ts_ns(v):
    """A timestamp of the JSON answer (integer ns or RFC 3339 text) as integer ns."""
    if isinstance(v, (int, float)):
        return int(v)
    m = re.match(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?", v)
    if not m:
        raise ValueError("timestamp %r" % v)
    import calendar
    secs = calendar.timegm(tuple(int(x) for x in m.groups()[:6]))
    frac = (m.group(7) or "0")[:9].ljust(9, "0")
    return secs * 10**9 + int(frac)


def median(xs):
    return statistics.median(xs) if xs else float("nan")
