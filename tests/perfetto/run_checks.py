#!/usr/bin/python3
"""run_checks - the Perfetto writer's end-to-end checks, run by ctest.

    run_checks.py --gen PF_TESTGEN --proto SUBSET.proto --workdir DIR CHECK

CHECK is one of:
  property   random span trees per thread (several seeds, both timestamp
             modes, tiny and normal chunks, tight interning caps) -> write
             with pf_testgen -> pfcheck finds no problem and every thread's
             exact events, async slices, names and process match.
  protoc     `protoc --decode=perfetto.protos.Trace` on a generated trace,
             against the project's subset schema, succeeds, shows the
             expected content and no field the schema does not declare.
  selftest   pfcheck itself catches broken traces (so a pass means
             something): a dropped interning packet, a missing state clear, a
             time going back, an unterminated slice, truncated bytes.
"""

import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pfcheck  # noqa: E402


def gen(args, name, *extra):
    trace = os.path.join(args["workdir"], name + ".pftrace")
    expect = os.path.join(args["workdir"], name + ".json")
    cmd = [args["gen"], "--out", trace, "--expect", expect] + list(extra)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("pf_testgen failed: %s\n%s" % (" ".join(cmd), r.stderr))
    with open(trace, "rb") as f:
        data = f.read()
    with open(expect) as f:
        exp = json.load(f)
    return trace, data, exp


def check_property(args):
    runs = 0
    cases = [
        # seed, mode, threads, spans, async, chunk, intern_entries
        (1, "incr", 6, 1500, 1500, 0, 0),
        (2, "abs", 6, 1500, 1500, 0, 0),
        (3, "incr", 4, 1000, 800, 200, 32),
        (4, "abs", 4, 1000, 800, 1, 16),
        (5, "incr", 9, 600, 2000, 4096, 64),
        (6, "incr", 3, 3000, 300, 65536, 24),
    ]
    for seed, mode, threads, spans, nasync, chunk, entries in cases:
        extra = ["--seed", str(seed), "--mode", mode, "--threads", str(threads),
                 "--spans", str(spans), "--async", str(nasync)]
        if chunk:
            extra += ["--chunk", str(chunk)]
        if entries:
            extra += ["--intern-entries", str(entries)]
        _, data, exp = gen(args, "prop%d" % seed, *extra)
        out = pfcheck.check(data, exp)
        if out["problems"]:
            print(json.dumps(out["problems"][:20], indent=1))
            raise SystemExit("seed %d (%s): pfcheck found problems" % (seed, mode))
        threads_seen = [t for t in out["tracks"] if t["kind"] == "thread"]
        assert len(threads_seen) == threads, threads_seen
        assert out["slices_total"] == exp["slices_total"]
        if entries:
            # tight caps: every thread sequence cleared its state many times
            clears = [s["clears"] for s in out["sequences"]]
            assert min(clears) > 1, clears
        print("seed %d %s: %d packets, %d bytes, %d slices, %.1f bytes/slice" %
              (seed, mode, out["packets"], out["bytes"], out["slices_total"],
               out["bytes"] / out["slices_total"]))
        runs += 1
    return runs


def check_protoc(args):
    trace, data, exp = gen(args, "protoc", "--seed", "11", "--threads", "2", "--spans", "40",
                           "--async", "30", "--intern-entries", "24")
    proto_dir = os.path.dirname(args["proto"])
    with open(trace, "rb") as f:
        r = subprocess.run(["protoc", "-I" + proto_dir, "--decode=perfetto.protos.Trace",
                            os.path.basename(args["proto"])], stdin=f, capture_output=True)
    if r.returncode != 0:
        raise SystemExit("protoc --decode failed: %s" % r.stderr.decode())
    text = r.stdout.decode("utf-8", errors="replace")
    unknown = [ln for ln in text.splitlines() if re.match(r"^\s*\d+\s*[:{]", ln)]
    if unknown:
        raise SystemExit("fields missing from the subset schema: %s" % unknown[:5])
    # protoc prints strings with octal escapes for non-ASCII bytes, so look
    # for ASCII content and the structure.
    want = ["packet {", "track_descriptor {", "process {", "pid: 4321", "thread {",
            "tid: 1000", 'thread_name: "worker-1"', "track_event {",
            "type: TYPE_SLICE_BEGIN", "type: TYPE_SLICE_END", "name_iid: ",
            "category_iids: ", "source_location_iid: ", "interned_data {", "event_names {",
            "event_categories {", "source_locations {", 'file_name: "src/file_',
            "trusted_packet_sequence_id: 2", "sequence_flags: 3", "sequence_flags: 2",
            "trace_packet_defaults {", "timestamp_clock_id: 64", "clock_snapshot {",
            "is_incremental: true", "sibling_merge_behavior: SIBLING_MERGE_BEHAVIOR_NONE",
            'name: "async 0"', "first_packet_on_sequence: true", "track_uuid: 1000000"]
    missing = [w for w in want if w not in text]
    if missing:
        raise SystemExit("protoc output lacks %s" % missing)
    npackets = text.count("\npacket {") + text.startswith("packet {")
    out = pfcheck.check(data, exp)
    assert npackets == out["packets"], (npackets, out["packets"])
    print("protoc decoded %d packets" % npackets)
    return 1


def packets(data):
    """Splits a trace into its packets' raw bytes (field 1 framing)."""
    out, pos = [], 0
    while pos < len(data):
        key, pos = pfcheck.read_varint(data, pos, len(data))
        n, pos = pfcheck.read_varint(data, pos, len(data))
        out.append(data[pos:pos + n])
        pos += n
    return out


def frame(pkts):
    b = bytearray()
    for p in pkts:
        b.append(0x0A)
        n = len(p)
        while n >= 0x80:
            b.append((n & 0x7F) | 0x80)
            n >>= 7
        b.append(n)
        b += p
    return bytes(b)


def field_present(pkt, num):
    for n, _, _ in pfcheck.fields(pkt, 0, len(pkt)):
        if n == num:
            return True
    return False


def check_selftest(args):
    _, data, exp = gen(args, "self", "--seed", "21", "--threads", "2", "--spans", "200",
                       "--async", "100", "--mode", "incr")
    assert not pfcheck.check(data, exp)["problems"]
    pk = packets(data)
    caught = 0

    def expect_problem(label, mutated, pattern, use_expect=False):
        nonlocal caught
        try:
            probs = pfcheck.check(mutated, exp if use_expect else None)["problems"]
        except pfcheck.DecodeError as e:
            probs = ["undecodable: %s" % e]
        if not any(re.search(pattern, p) for p in probs):
            raise SystemExit("pfcheck missed %s: %s" % (label, probs[:5]))
        caught += 1

    # 1. drop the first packet carrying interned data: later iids dangle
    i = next(k for k, p in enumerate(pk) if field_present(p, pfcheck.PKT_INTERNED))
    expect_problem("a dropped interning packet", frame(pk[:i] + pk[i + 1:]),
                   "does not resolve|before its snapshot|needs incremental")
    # 2. drop the packets that clear incremental state
    no_clear = [p for p in pk if not field_present(p, pfcheck.PKT_DEFAULTS)]
    expect_problem("missing state clears", frame(no_clear), "needs incremental state")
    # 3. swap two event packets of one track so that time goes back
    ev = [k for k, p in enumerate(pk) if field_present(p, pfcheck.PKT_TRACK_EVENT)]
    swapped = list(pk)
    a, b = ev[-3], ev[-2]
    swapped[a], swapped[b] = swapped[b], swapped[a]
    expect_problem("reordered events", frame(swapped),
                   "time goes back|closes nothing|never ends|differ|expected", True)
    # 4. drop the last slice end
    expect_problem("an unterminated slice", frame(pk[:ev[-1]] + pk[ev[-1] + 1:]),
                   "never ends")
    # 5. truncate the bytes mid-packet
    expect_problem("truncated bytes", data[:len(data) - 3], "undecodable|runs past|truncated")
    # 6. the expectation catches a wrong thread name
    exp["threads"][0]["name"] = "not-the-name"
    expect_problem("a wrong thread name", data, "expected 'not-the-name'", True)
    print("pfcheck caught %d broken traces" % caught)
    return caught


def main(argv):
    args = {"gen": None, "proto": None, "workdir": "."}
    rest = []
    i = 1
    while i < len(argv):
        if argv[i] in ("--gen", "--proto", "--workdir"):
            args[argv[i][2:]] = argv[i + 1]
            i += 2
        else:
            rest.append(argv[i])
            i += 1
    os.makedirs(args["workdir"], exist_ok=True)
    checks = {"property": check_property, "protoc": check_protoc, "selftest": check_selftest}
    n = 0
    for name in rest:
        n += checks[name](args)
    print("%d passed, 0 failed" % n)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
