#!/usr/bin/env python3
"""The self-trace's cost in instructions: `streamlake serve` with and without
--no-self-trace under valgrind (callgrind), the same ingestion workload, and the
ratio of instructions per ingested block.  Needs valgrind (Debian package
`valgrind`; installed with apt-get when missing and --install is given).

Method (docs/internals/self-trace.md, "Cost in instructions"):

  * Each run starts a fresh `streamlake serve` under callgrind with
    instrumentation off, sends it --warmup blocks (each HTTP thread's first
    recorded event allocates its ring), lets bench_ingest (--url, --pause)
    build its blocks, turns instrumentation on (callgrind_control -i on), lets
    the client send them, and turns it off after its last acknowledgement: the
    window holds the ingestion and nothing of start-up or shutdown.  Threads
    are counted separately (--separate-threads=yes).
  * Under valgrind the server runs 10-50x slower, so work done per unit of wall
    time (the janitor's tick every second, with the /api/stats metrics when
    self-traced; the library's collector passes and its 5 s flushes, whose
    blocks the sender stores) happens that much more often per ingested block
    than at full speed.  The same workload is also run natively (self-traced, same
    window) to get T_real; each run's window lasted T_vg.  The janitor's
    thread is time-driven: scaled by T_real / T_vg.  The collector's and the
    sender's threads do work per own block (time-driven) and per own event
    (request-driven: two per ingestion request): scaled by the ratio of own
    events, real/valgrind, where own events = inline events (same in both) +
    metric events x T_real / T_vg.  This overstates them (their per-block part
    shrinks with time too), so the corrected figure is an upper bound; the
    lower one (all of it scaled by time) is printed next to it.  Every other
    thread (HTTP workers, metadata writer) is counted as measured.
  * Instructions are not time: cache misses, system calls (fsync), waiting
    and kernel work are not counted.  --strace adds system-call counts of
    native runs (strace -f -c, whole process life, on and off).

Prints, per repeat, instructions per ingested block off and on, their ratio raw
and corrected, and at the end the self-trace's functions (inclusive, in the
self-traced run) and the largest per-function differences on - off.
"""
import argparse
import collections
import glob
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROLE_FUNCS = {  # a thread's role: the first whose functions it ran (the sender also ingests)
    "collector": ("collector_main", "pass"),
    "sender": ("sender_main", "send_one"),
    "janitor": ("janitor_main", "background_tick", "record_stats"),
    "writer": ("writer_main", "run_batch"),  # the metadata writer (counted as measured)
    "http": ("run_post", "ingest_block", "ingest_process", "ingest_stream"),  # HTTP workers
}
MEASURED = ("writer", "http", "other")
SELF_RE = re.compile(r"^(sl_|cl_|self_trace|record_stats|record_numbers|metric_desc|log_desc|"
                     r"on_log|deliver|collector_main|sender_main|seal|drain|pass$|emit|"
                     r"reserve|add_ring_event|send_one|api_stats_json|LZ4)")
EVENT_FUNCS = ("sl_async_begin", "sl_async_end", "sl_metric_int", "sl_metric_float",
               "sl_logf", "sl_log", "sl_span_begin", "sl_span_end")


def die(msg):
    sys.stderr.write("selftrace_instr: %s\n" % msg)
    sys.exit(1)


def ensure_valgrind(install):
    if shutil.which("valgrind") and shutil.which("callgrind_control"):
        return
    if not install:
        die("valgrind is not installed (apt-get install valgrind, or pass --install)")
    # As scripts/deps.sh installs packages: apt, only when missing.
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.check_call(sudo + ["apt-get", "update", "-q"], env=env)
    subprocess.check_call(sudo + ["apt-get", "install", "-y", "-q", "--no-install-recommends",
                                  "valgrind"], env=env)


def parse_callgrind(path):
    """(total Ir, {function: [self, inclusive, calls]}) of one callgrind output file."""
    names = {}
    funcs = collections.defaultdict(lambda: [0, 0, 0])
    total = 0
    fn = cfn = None
    after_calls = False

    def name_of(v):
        m = re.match(r"\((\d+)\)(?: (.*))?$", v)
        if not m:
            return v
        if m.group(2) is not None:
            names[m.group(1)] = m.group(2)
        return names.get(m.group(1), v)

    with open(path, errors="replace") as f:
        for line in f:
            c = line[:1]
            if c.isdigit() or c in "+-*":
                parts = line.split()
                cost = int(parts[1]) if len(parts) > 1 else 0
                if after_calls:
                    if cfn != fn:
                        funcs[fn][1] += cost
                    after_calls = False
                else:
                    funcs[fn][0] += cost
                    funcs[fn][1] += cost
                continue
            if line.startswith("fn="):
                fn = name_of(line[3:].strip())
            elif line.startswith("cfn="):
                cfn = name_of(line[4:].strip())
            elif line.startswith("calls="):
                after_calls = True
                funcs[cfn][2] += int(line[6:].split()[0])
            elif line.startswith(("summary:", "totals:")):
                total = max(total, int(line.split()[1]))
    return total, funcs


def role_of(funcs):
    for role, names in ROLE_FUNCS.items():
        if any(funcs.get(n, (0, 0))[1] > 0 for n in names):
            return role
    return "other"


def read_until(proc, pattern, timeout):
    """The first line of proc's stdout matching pattern (a compiled regex)."""
    end = time.time() + timeout
    while time.time() < end:
        line = proc.stdout.readline()
        if not line:
            break
        m = pattern.search(line)
        if m:
            return m
    die("no line matching %r (exit %s)" % (pattern.pattern, proc.poll()))


def one_run(a, self_trace, tool, tmp, tag):
    """One server (under valgrind when tool), one client; a dict of what was measured."""
    data = os.path.join(tmp, "data-" + tag)
    out = os.path.join(tmp, "cg-" + tag + ".out")
    cmd = [a.streamlake, "serve", "--data", data, "--listen", "127.0.0.1:0", "--no-pg",
           "--threads", str(a.server_threads)]
    if not self_trace:
        cmd.append("--no-self-trace")
    strace_out = None
    if tool == "callgrind":
        cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--separate-threads=yes",
               "--callgrind-out-file=" + out] + cmd
    elif tool == "strace":
        strace_out = os.path.join(tmp, "strace-" + tag + ".txt")
        cmd = ["strace", "-f", "-c", "-o", strace_out] + cmd
    log = open(os.path.join(tmp, "serve-" + tag + ".log"), "w")
    srv = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        url = read_until(srv, re.compile(r"listening on (http://\S+)"), 300).group(1)
        # Warm-up, outside the window: each HTTP thread's first recording allocates and
        # zeroes its ring, once in the life of the thread, not per block.  Many
        # connections at once, so that every HTTP thread takes some.
        if a.warmup:
            subprocess.check_call([a.bench_ingest, "--url", url, "--blocks", str(a.warmup),
                                   "--events", str(a.events), "--connections",
                                   str(min(a.warmup, 4 * a.server_threads))],
                                  stdout=subprocess.DEVNULL)
        cli = subprocess.Popen([a.bench_ingest, "--url", url, "--blocks", str(a.blocks),
                                "--events", str(a.events), "--connections", str(a.connections),
                                "--pause"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
        read_until(cli, re.compile(r"^bench_ingest: ready"), 600)
        if tool == "callgrind":
            subprocess.check_call(["callgrind_control", "-i", "on", str(srv.pid)],
                                  stdout=subprocess.DEVNULL)
        t0 = time.monotonic()
        cli.stdin.write("go\n")
        cli.stdin.flush()
        rest = cli.stdout.read()
        rc = cli.wait()
        t1 = time.monotonic()
        if tool == "callgrind":
            subprocess.check_call(["callgrind_control", "-i", "off", str(srv.pid)],
                                  stdout=subprocess.DEVNULL)
        if rc != 0 or "FAILED" in rest:
            die("bench_ingest failed (%d): %s" % (rc, rest))
    finally:
        victim = srv.pid
        if tool == "strace":  # strace detaches on SIGTERM: stop the server it runs
            try:
                with open("/proc/%d/task/%d/children" % (srv.pid, srv.pid)) as f:
                    victim = int(f.read().split()[0])
            except (OSError, IndexError, ValueError):
                pass
        os.kill(victim, signal.SIGTERM)
        try:
            srv.wait(timeout=600)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()
        log.close()
        shutil.rmtree(data, ignore_errors=True)
    r = {"secs": t1 - t0, "self_trace": self_trace}
    if tool == "callgrind":
        threads = collections.defaultdict(int)
        funcs = collections.defaultdict(lambda: [0, 0, 0])
        other = collections.defaultdict(int)  # self Ir of the threads counted as measured
        files = [p for p in glob.glob(out + "*") if re.search(r"-\d+$", p)]
        if not files:
            die("no callgrind output for %s" % tag)
        for p in files:
            total, fs = parse_callgrind(p)
            role = role_of(fs)
            threads[role] += total
            if role in MEASURED:
                for k, v in fs.items():
                    other[k] += v[0]
            for k, v in fs.items():
                for i in range(3):
                    funcs[k][i] += v[i]
            if not a.keep:
                os.remove(p)
        r["threads"] = dict(threads)
        r["total"] = sum(threads.values())
        r["funcs"] = funcs
        r["other"] = other
    if strace_out:
        r["syscalls"] = parse_strace(strace_out)
    return r


def parse_strace(path):
    """{syscall: calls} from strace -c's table."""
    calls = {}
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) >= 5 and re.match(r"^[\d.]+$", p[0]) and p[-1] != "total":
                n = p[3] if len(p) == 6 else p[3]
                if n.isdigit():
                    calls[p[-1]] = int(n)
    return calls


def corrected(r, t_real):
    """Instructions of run r with its time-driven work at the real speed: (upper, lower)."""
    k = t_real / r["secs"]
    th = r["threads"]
    base = sum(th.get(x, 0) for x in MEASURED) + th.get("janitor", 0) * k
    cs = th.get("collector", 0) + th.get("sender", 0)
    if not cs:
        return base, base
    f = r["funcs"]
    metric_ev = f["sl_metric_int"][2] + f["sl_metric_float"][2]
    all_ev = sum(f[n][2] for n in EVENT_FUNCS)
    ev_real = (all_ev - metric_ev) + metric_ev * k
    return base + cs * (ev_real / all_ev if all_ev else k), base + cs * k


def fmt(n):
    return "{:,}".format(int(round(n)))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    p.add_argument("--build", default="build", help="build directory (default build)")
    p.add_argument("--blocks", type=int, default=192, help="blocks ingested per run (192)")
    p.add_argument("--events", type=int, default=32768, help="events per block (32768)")
    p.add_argument("--connections", type=int, default=8, help="client connections (8)")
    p.add_argument("--server-threads", type=int, default=8, help="serve --threads (8)")
    p.add_argument("--warmup", type=int, default=64,
                   help="blocks sent before the window opens (64)")
    p.add_argument("--repeats", type=int, default=2, help="pairs of valgrind runs (2)")
    p.add_argument("--native-runs", type=int, default=3,
                   help="native self-traced runs for T_real, the median (3)")
    p.add_argument("--top", type=int, default=25, help="functions listed (25)")
    p.add_argument("--strace", action="store_true",
                   help="also count system calls of native runs (strace -f -c)")
    p.add_argument("--keep", action="store_true",
                   help="keep the callgrind outputs (one file per thread and run)")
    p.add_argument("--install", action="store_true", help="apt-get install valgrind if missing")
    a = p.parse_args()
    a.streamlake = os.path.join(a.build, "streamlake")
    a.bench_ingest = os.path.join(a.build, "bench", "ingest", "bench_ingest")
    for exe in (a.streamlake, a.bench_ingest):
        if not os.access(exe, os.X_OK):
            die("%s not built" % exe)
    ensure_valgrind(a.install)
    tmp = tempfile.mkdtemp(prefix="sl-selftrace-instr-")
    n = a.blocks
    try:
        print("selftrace_instr: %d blocks x ~%d events, %d connections, serve --threads %d; "
              "load %s" % (n, a.events, a.connections, a.server_threads,
                           open("/proc/loadavg").read().split()[0]))
        native = [one_run(a, True, None, tmp, "native%d" % i)["secs"]
                  for i in range(a.native_runs)]
        t_real = statistics.median(native)
        print("native self-traced window (T_real): median %.3f s (%s)" %
              (t_real, ", ".join("%.3f" % s for s in native)))
        pairs = []
        for i in range(a.repeats):
            order = (False, True) if i % 2 == 0 else (True, False)
            res = {}
            for st in order:
                res[st] = one_run(a, st, "callgrind", tmp, "%s%d" % ("on" if st else "off", i))
            pairs.append(res)
            off, on = res[False], res[True]
            up_on, lo_on = corrected(on, t_real)
            c_off = corrected(off, t_real)[0]
            th = on["threads"]
            print("repeat %d (%s first): window off %.1f s, on %.1f s under valgrind" %
                  (i + 1, "off" if not order[0] else "on", off["secs"], on["secs"]))
            print("  Ir per block, raw:       off %s  on %s  on/off %.4f (%+.2f %%)" %
                  (fmt(off["total"] / n), fmt(on["total"] / n), on["total"] / off["total"],
                   100 * (on["total"] / off["total"] - 1)))
            print("  Ir per block, corrected: off %s  on %s  on/off %.4f (%+.2f %%; "
                  "lower bound %+.2f %%)" % (fmt(c_off / n), fmt(up_on / n), up_on / c_off,
                                            100 * (up_on / c_off - 1),
                                            100 * (lo_on / c_off - 1)))
            tf = off["threads"]
            print("  threads (Ir/block, on - off): collector %s, sender %s, janitor %s; "
                  "counted as measured: HTTP workers %s, metadata writer %s, others %s" % tuple(
                      fmt((th.get(x, 0) - tf.get(x, 0)) / n)
                      for x in ("collector", "sender", "janitor", "http", "writer", "other")))
            k = t_real / on["secs"]
            measured = sum(th.get(x, 0) - tf.get(x, 0) for x in MEASURED)
            cs_up = up_on - c_off - measured - (th.get("janitor", 0) * k -
                                                tf.get("janitor", 0) * t_real / off["secs"])
            inl = sum(on["funcs"][x][1] for x in ("sl_async_begin", "sl_async_end"))
            print("  self-trace per block at native speed (upper bound): metrics step (janitor, "
                  "x %.4f) %s + collector and sender %s + other threads' difference %s "
                  "(measured: own blocks' metadata rows, inline calls %s, noise) = %s" % (
                      k, fmt((th.get("janitor", 0) * k - off["threads"].get("janitor", 0) *
                              t_real / off["secs"]) / n), fmt(cs_up / n),
                      fmt(measured / n),
                      fmt(inl / n), fmt((up_on - c_off) / n)))
            f = on["funcs"]
            print("  own events recorded in the window: %d (metrics %d, async span ends %d); "
                  "janitor ticks %d on, %d off" % (
                      sum(f[x][2] for x in EVENT_FUNCS),
                      f["sl_metric_int"][2] + f["sl_metric_float"][2],
                      f["sl_async_end"][2], f["background_tick"][2],
                      off["funcs"]["background_tick"][2]))
            sys.stdout.flush()
        raw = [r[True]["total"] / r[False]["total"] for r in pairs]
        cor = [corrected(r[True], t_real)[0] / corrected(r[False], t_real)[0] for r in pairs]
        print("summary over %d repeats: raw on/off %s; corrected (upper bound) on/off %s" %
              (len(pairs), " ".join("%.4f" % x for x in raw), " ".join("%.4f" % x for x in cor)))
        last = pairs[-1]
        fon, foff = last[True]["funcs"], last[False]["funcs"]
        print("\nself-trace functions, last self-traced run (inclusive Ir per ingested block, "
              "calls):")
        sel = sorted((v[1], k, v[2]) for k, v in fon.items() if k and SELF_RE.match(k))
        for incl, k, calls in reversed(sel[-a.top:]):
            print("  %12s  %10s calls  %s" % (fmt(incl / n), fmt(calls), k))
        for title, gon, goff in (
                ("all threads", {k: v[0] for k, v in fon.items()},
                 {k: v[0] for k, v in foff.items()}),
                ("threads counted as measured (HTTP, metadata writer, ...)",
                 last[True]["other"], last[False]["other"])):
            print("\nlargest differences on - off, %s (self Ir per ingested block):" % title)
            diff = sorted((gon.get(k, 0) - goff.get(k, 0), k) for k in set(gon) | set(goff) if k)
            for d, k in reversed(diff[-a.top:]):
                if d > 0:
                    print("  %+12s  %s" % (fmt(d / n), k))
        if a.strace:
            if not shutil.which("strace"):
                die("strace is not installed")
            print("\nsystem calls, native, whole server life (strace -f -c), per ingested block:")
            sc = {st: one_run(a, st, "strace", tmp, "strace-" + ("on" if st else "off"))
                  for st in (False, True)}
            s_off, s_on = sc[False]["syscalls"], sc[True]["syscalls"]
            t_off, t_on = sum(s_off.values()), sum(s_on.values())
            print("  total: off %.1f, on %.1f (%+.2f %%)" % (t_off / n, t_on / n,
                                                           100 * (t_on / t_off - 1)))
            for k in sorted(set(s_on) | set(s_off), key=lambda k: -s_on.get(k, 0))[:12]:
                print("  %-16s off %8.2f  on %8.2f" % (k, s_off.get(k, 0) / n,
                                                       s_on.get(k, 0) / n))
    finally:
        if a.keep:
            print("\ncallgrind outputs kept in %s (callgrind_annotate FILE)" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
