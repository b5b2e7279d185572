#!/usr/bin/python3
"""run_gen_checks - end-to-end checks of trace generation, run by ctest.

    run_gen_checks.py --tool PF_GENTOOL --corpus DIR --workdir DIR CHECK...

CHECK is one of:
  same_bytes  the same request written as a plain trace (1 worker) and as
              frame streams (2 and 3 workers, other chunk and queue sizes),
              reassembled by pfframes.py: byte-identical traces, which
              pfcheck.py finds valid with every thread's slice count.
  failure     a thread whose reads fail midway: the stream still ends with
              a summary, a failure progress message names the thread, the
              trace is valid and the other threads are complete.
  range       a time range: every event inside it, slice counts of the
              spans overlapping it, for a filtering and a plain source.
  not_found   an unknown process fails before any byte (the route's 404).
  corpus      pfframes.py and the C reader (pf_gentool --validate) give the
              same verdict on every fuzz corpus file and on real streams.
"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pfcheck  # noqa: E402
import pfframes  # noqa: E402

PFFRAMES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pfframes.py")


def tool(args, *extra, ok=(0,)):
    cmd = [args["tool"]] + [str(x) for x in extra]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode not in ok:
        raise SystemExit("%s exited %d\n%s" % (" ".join(cmd), r.returncode, r.stderr))
    return r


def path(args, name):
    return os.path.join(args["workdir"], name)


def read(p):
    with open(p, "rb") as f:
        return f.read()


def pfcheck_file(trace, expect_path):
    with open(expect_path) as f:
        exp = json.load(f)
    out = pfcheck.check(read(trace), exp)
    if out["problems"]:
        raise SystemExit("pfcheck on %s: %s" % (trace, out["problems"][:10]))
    return out


def reassemble(args, stream, name):
    trace = path(args, name)
    r = subprocess.run(["/usr/bin/python3", PFFRAMES, stream, "--out", trace],
                       capture_output=True, text=True)
    return r, trace


BASE = ["--threads", 7, "--spans", 3000, "--async", 2500, "--seed", 5, "--batch", 700]


def check_same_bytes(args):
    plain = path(args, "plain.pftrace")
    exp = path(args, "plain.json")
    tool(args, "--out", plain, "--expect", exp, "--jobs", 1, *BASE)
    ref = read(plain)
    out = pfcheck_file(plain, exp)
    threads = [t for t in out["tracks"] if t["kind"] == "thread"]
    assert len(threads) == 7, threads
    variants = [["--jobs", 2], ["--jobs", 3, "--queue", 1, "--chunk", 8192],
                ["--jobs", 2, "--lookahead", 5, "--chunk", 200000]]
    for i, extra in enumerate(variants):
        stream = path(args, "s%d.frames" % i)
        tool(args, "--frames", stream, *BASE, *extra)
        r, trace = reassemble(args, stream, "s%d.pftrace" % i)
        if r.returncode != 0:
            raise SystemExit("pfframes failed on %s: %s" % (stream, r.stderr))
        if read(trace) != ref:
            raise SystemExit("variant %s: reassembled trace differs from the plain one" % extra)
        lines = r.stdout.splitlines()
        threads_seen = [ln for ln in lines if ln.startswith("thread ")]
        want = ["thread %d/7: %s" % (k + 1, "main" if k == 0 else "worker-%d" % k)
                for k in range(7)]
        if threads_seen != want:
            raise SystemExit("progress lines %s, expected %s" % (threads_seen, want))
        summary = pfframes.parse(read(stream))["summary"]
        assert summary["thread_spans"] == 7 * 3000, summary
        assert summary["async_spans"] == 2500, summary
    # A slow process part: the worker on thread 1 fills its one-chunk queue and,
    # instead of sleeping, prepares the threads after it (nobody else can have
    # claimed thread 2 while both workers are busy); the trace is unchanged.
    r = tool(args, "--out", path(args, "prep.pftrace"), *BASE, "--jobs", 2, "--queue", 1,
             "--chunk", 4096, "--async-delay-us", 40000)
    prepared = int(r.stderr.split("prepared ")[1].split()[0])
    if prepared < 1:
        raise SystemExit("a blocked worker prepared no thread ahead: %s" % r.stderr)
    if read(path(args, "prep.pftrace")) != ref:
        raise SystemExit("prepare-ahead changed the trace")
    print("same_bytes: %d bytes, %d slices, identical over %d frame streams" %
          (len(ref), out["slices_total"], len(variants)))
    return 1


def check_failure(args):
    stream = path(args, "fail.frames")
    exp = path(args, "fail.json")
    tool(args, "--frames", stream, "--expect", exp, "--fail-thread", 3, "--fail-after", 1000,
         *BASE, "--jobs", 2)
    r, trace = reassemble(args, stream, "fail.pftrace")
    if r.returncode != 0:
        raise SystemExit("a failed thread must not fail the stream: %s" % r.stderr)
    fails = [ln for ln in r.stdout.splitlines() if ln.startswith("FAILED")]
    if len(fails) != 1 or "thread 4/7 worker-3" not in fails[0] or "injected" not in fails[0]:
        raise SystemExit("failure not reported as expected: %s" % fails)
    summary = pfframes.parse(read(stream))["summary"]
    assert summary["threads_failed"] == 1, summary
    out = pfcheck_file(trace, exp)
    failed = [t for t in out["tracks"] if t["kind"] == "thread" and t["tid"] == 1003]
    assert failed and 1000 <= failed[0]["slices"] < 3000, failed
    print("failure: reported %r, trace valid" % fails[0])
    return 1


def check_range(args):
    runs = 0
    for filt in ([], ["--filter-range"]):
        trace = path(args, "range.pftrace")
        exp = path(args, "range.json")
        b, e = 3000000, 6000000
        tool(args, "--out", trace, "--expect", exp, "--range", b, e, *BASE, *filt)
        with open(exp) as f:
            want = json.load(f)
        out = pfcheck.check(read(trace), want, keep_events=True)
        if out["problems"]:
            raise SystemExit("range %s: %s" % (filt, out["problems"][:10]))
        base = 1700000000000000000
        ts = [ev[0] for evs in out["events"].values() for ev in evs]
        if not ts or min(ts) < base + b or max(ts) > base + e:
            raise SystemExit("range %s: events outside [%d, %d]: %s..%s" %
                             (filt, base + b, base + e, min(ts), max(ts)))
        total = sum(t["slices"] for t in want["threads"])
        assert 0 < total < 7 * 3000, total
        runs += 1
    print("range: %d runs, every event inside the range" % runs)
    return runs


def check_not_found(args):
    stream = path(args, "nf.frames")
    if os.path.exists(stream):
        os.unlink(stream)
    r = tool(args, "--frames", stream, "--unknown-process", *BASE, ok=(3,))
    if os.path.exists(stream) or "not in the lake" not in r.stderr:
        raise SystemExit("unknown process: expected no stream and a clear message, got %r" %
                         r.stderr)
    print("not_found: %s" % r.stderr.strip())
    return 1


def check_corpus(args):
    files = sorted(os.path.join(args["corpus"], f) for f in os.listdir(args["corpus"]))
    files += [path(args, "s0.frames"), path(args, "fail.frames")]
    n = 0
    for f in files:
        if not os.path.exists(f):
            continue
        c = tool(args, "--validate", f, ok=(0, 1, 2)).returncode
        p = subprocess.run(["/usr/bin/python3", PFFRAMES, f, "--quiet"],
                           capture_output=True).returncode
        if c != p:
            raise SystemExit("%s: C reader says %d, pfframes.py says %d" % (f, c, p))
        n += 1
    print("corpus: %d streams, C and Python readers agree" % n)
    return n


def main(argv):
    args = {"tool": None, "corpus": None, "workdir": "."}
    rest = []
    i = 1
    while i < len(argv):
        if argv[i] in ("--tool", "--corpus", "--workdir"):
            args[argv[i][2:]] = argv[i + 1]
            i += 2
        else:
            rest.append(argv[i])
            i += 1
    os.makedirs(args["workdir"], exist_ok=True)
    checks = {"same_bytes": check_same_bytes, "failure": check_failure, "range": check_range,
              "not_found": check_not_found, "corpus": check_corpus}
    n = 0
    for name in rest:
        n += checks[name](args)
    print("%d passed, 0 failed" % n)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
