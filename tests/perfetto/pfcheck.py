#!/usr/bin/python3
"""pfcheck - an independent checker of Perfetto protobuf traces.

Usage:
    pfcheck.py TRACE [--expect-json FILE] [--events] [--max-list N]

Decodes a Perfetto trace (a `Trace` message: repeated length-delimited
`TracePacket`s) with nothing but the Python standard library, applies the
format's sequence rules the way the Perfetto importer describes them, and
prints a JSON summary.  Exits 0 when no problem was found, 1 when the trace
breaks a rule or an expectation, 2 when the file cannot be decoded at all.

This file was written from the public .proto files and documentation of the
format, not from streamlake's writer, so that it can catch the writer's
mistakes.  Rules applied per packet, in this order (the order readers use,
whatever the byte order of fields in the packet):

  1. SEQ_INCREMENTAL_STATE_CLEARED (sequence_flags bit 1) makes the
     sequence's incremental state valid and empty: interned tables and
     TracePacketDefaults are dropped (clock domains are not: a reader keeps
     them for the whole trace).
  2. trace_packet_defaults replaces the sequence's defaults.
  3. interned_data adds entries; entries arriving while the state is not
     valid are a problem (readers drop them).
  4. a clock_snapshot defines clock domains; readers ignore everything else
     in a packet that has one.
  5. a packet with SEQ_NEEDS_INCREMENTAL_STATE on a sequence whose state is
     not valid is a problem (readers skip it).
  6. the timestamp is read in timestamp_clock_id, else the defaults' clock,
     else the trace clock.  Sequence clocks (64..127) need a snapshot on the
     same sequence; an incremental one adds each packet's value to its last
     value.  Values convert to the trace clock (BOOTTIME) through the latest
     snapshot of that sequence.
  7. a track_event resolves its track (track_uuid, else the defaults'),
     name, categories and source location through the sequence's interned
     tables; an iid that does not resolve is a problem.

Then, per track, in trace order: timestamps never go back, every
TYPE_SLICE_END closes an open TYPE_SLICE_BEGIN, nothing is left open, and
each slice lies within its enclosing slice.  Tracks used by events must be
described; a thread has one thread track; a parent_uuid must be described.

--expect-json FILE checks the trace against what the producer meant:
  {"process": {"pid": 1, "name": "exe"},
   "threads": [{"tid": 2, "name": "main", "pid": 1, "slices": 10,
                "events": [["B", ts, name, category, file, line], ["E", ts]]}],
   "async": {"slices": [[begin, end, name, category, file, line], ...],
             "max_lanes": 8},
   "names_include": ["..."], "slices_total": 123}
Every key is optional.  "async" compares the multiset of slices on all named
child tracks of the process (the async lanes).

As a module: check(data: bytes, expect: dict | None) -> dict summary.
"""

import json
import sys

# Field numbers (protos/perfetto/trace/...), see docs/internals/perfetto.md.
TRACE_PACKET = 1
PKT_CLOCK_SNAPSHOT = 6
PKT_TIMESTAMP = 8
PKT_SEQ_ID = 10
PKT_TRACK_EVENT = 11
PKT_INTERNED = 12
PKT_FLAGS = 13
PKT_CLOCK_ID = 58
PKT_DEFAULTS = 59
PKT_TRACK_DESCRIPTOR = 60
PKT_FIRST_ON_SEQ = 87

SEQ_CLEARED = 1
SEQ_NEEDS = 2

BOOTTIME = 6
SLICE_BEGIN = 1
SLICE_END = 2
INSTANT = 3


class DecodeError(Exception):
    pass


def read_varint(buf, pos, end):
    """Returns (value, new_pos); rejects truncated and overlong varints."""
    b = buf[pos] if pos < end else None
    if b is None:
        raise DecodeError("truncated varint at byte %d" % pos)
    if b < 0x80:
        return b, pos + 1
    value = 0
    shift = 0
    while True:
        if pos >= end:
            raise DecodeError("truncated varint at byte %d" % pos)
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            break
        shift += 7
        if shift >= 70:
            raise DecodeError("varint longer than 10 bytes at byte %d" % pos)
    if value >= 1 << 64:
        raise DecodeError("varint overflows 64 bits at byte %d" % pos)
    return value, pos


def fields(buf, start, end):
    """Yields (field_number, wire_type, value) over buf[start:end].

    value is an int for varint / fixed fields and a (start, end) pair of
    offsets into buf for length-delimited fields."""
    pos = start
    while pos < end:
        key, pos = read_varint(buf, pos, end)
        num, wt = key >> 3, key & 7
        if num == 0:
            raise DecodeError("field number 0 at byte %d" % pos)
        if wt == 0:
            v, pos = read_varint(buf, pos, end)
            yield num, wt, v
        elif wt == 2:
            n, pos = read_varint(buf, pos, end)
            if n > end - pos:
                raise DecodeError("length %d runs past its message at byte %d" % (n, pos))
            yield num, wt, (pos, pos + n)
            pos += n
        elif wt == 1:
            if end - pos < 8:
                raise DecodeError("truncated fixed64 at byte %d" % pos)
            yield num, wt, int.from_bytes(buf[pos:pos + 8], "little")
            pos += 8
        elif wt == 5:
            if end - pos < 4:
                raise DecodeError("truncated fixed32 at byte %d" % pos)
            yield num, wt, int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
        else:
            raise DecodeError("unsupported wire type %d at byte %d" % (wt, pos))


def to_int64(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def text(buf, span):
    return bytes(buf[span[0]:span[1]]).decode("utf-8", errors="replace")


def varints(buf, wt, v):
    """A repeated varint field's values, packed or not."""
    if wt == 0:
        return [v]
    out = []
    pos, end = v
    while pos < end:
        x, pos = read_varint(buf, pos, end)
        out.append(x)
    return out


class Sequence:
    def __init__(self, seq_id):
        self.id = seq_id
        self.valid = False
        self.clears = 0
        self.packets = 0
        self.defaults_clock = 0
        self.defaults_track = None
        self.names = {}
        self.cats = {}
        self.locs = {}
        # sequence-scoped clock id -> dict(incremental, unit, last, snap, boot)
        self.clocks = {}

    def clear(self):
        self.valid = True
        self.clears += 1
        self.defaults_clock = 0
        self.defaults_track = None
        self.names = {}
        self.cats = {}
        self.locs = {}


class Checker:
    def __init__(self, data, keep_events=True):
        self.buf = memoryview(data)
        self.problems = []
        self.seqs = {}
        self.descs = {}        # uuid -> descriptor dict
        self.tracks = {}       # uuid -> list of events
        self.npackets = 0
        self.keep_events = keep_events
        self.all_names = set()
        self.all_cats = set()
        self.all_locs = set()

    def problem(self, msg):
        if len(self.problems) < 200:
            self.problems.append(msg)
        elif len(self.problems) == 200:
            self.problems.append("... more problems not listed")

    # ---- packets -----------------------------------------------------------

    def run(self):
        buf = self.buf
        for num, wt, v in fields(buf, 0, len(buf)):
            if num != TRACE_PACKET or wt != 2:
                self.problem("Trace has field %d (wire type %d), not a packet" % (num, wt))
                continue
            self.packet(v[0], v[1])
            self.npackets += 1
        self.finish()

    def packet(self, start, end):
        buf = self.buf
        p = {"ts": None, "clock": 0, "seq": None, "flags": 0}
        idx = self.npackets
        for num, wt, v in fields(buf, start, end):
            if num == PKT_TIMESTAMP:
                p["ts"] = v
            elif num == PKT_CLOCK_ID:
                p["clock"] = v
            elif num == PKT_SEQ_ID:
                p["seq"] = v
            elif num == PKT_FLAGS:
                p["flags"] = v
            elif num in (PKT_DEFAULTS, PKT_INTERNED, PKT_CLOCK_SNAPSHOT, PKT_TRACK_EVENT,
                         PKT_TRACK_DESCRIPTOR):
                if wt != 2:
                    raise DecodeError("packet %d: field %d is not a message" % (idx, num))
                p[num] = v
            elif num == PKT_FIRST_ON_SEQ:
                p["first"] = v
        seq_id = p["seq"]
        if not seq_id:
            if p["flags"] or PKT_INTERNED in p or PKT_DEFAULTS in p:
                self.problem("packet %d uses sequence state without a "
                             "trusted_packet_sequence_id" % idx)
            seq = Sequence(0)
        else:
            seq = self.seqs.get(seq_id)
            if seq is None:
                seq = self.seqs[seq_id] = Sequence(seq_id)
        seq.packets += 1
        if p["flags"] & SEQ_CLEARED:
            seq.clear()
        if PKT_DEFAULTS in p:
            self.defaults(seq, *p[PKT_DEFAULTS])
        if PKT_INTERNED in p:
            if not seq.valid:
                self.problem("packet %d: interned data on sequence %d before any "
                             "SEQ_INCREMENTAL_STATE_CLEARED (readers drop it)" % (idx, seq.id))
            else:
                self.interned(seq, idx, *p[PKT_INTERNED])
        if PKT_CLOCK_SNAPSHOT in p:
            if PKT_TRACK_EVENT in p or PKT_TRACK_DESCRIPTOR in p:
                self.problem("packet %d: a clock snapshot packet's other content is "
                             "ignored by readers" % idx)
            self.clock_snapshot(seq, idx, *p[PKT_CLOCK_SNAPSHOT])
            return
        if p["flags"] & SEQ_NEEDS and not seq.valid:
            self.problem("packet %d needs incremental state that sequence %d does not have "
                         "(readers skip it)" % (idx, seq.id))
            return
        ts = None
        if p["ts"] is not None:
            ts = self.timestamp(seq, idx, p["ts"], p["clock"])
        if PKT_TRACK_EVENT in p:
            if ts is None:
                self.problem("packet %d: track event without a usable timestamp" % idx)
            else:
                self.track_event(seq, idx, ts, *p[PKT_TRACK_EVENT])
        if PKT_TRACK_DESCRIPTOR in p:
            self.descriptor(idx, *p[PKT_TRACK_DESCRIPTOR])

    def defaults(self, seq, start, end):
        buf = self.buf
        seq.defaults_clock = 0
        seq.defaults_track = None
        for num, wt, v in fields(buf, start, end):
            if num == 58:
                seq.defaults_clock = v
            elif num == 11 and wt == 2:
                for n2, _, v2 in fields(buf, *v):
                    if n2 == 11:
                        seq.defaults_track = v2

    def interned(self, seq, idx, start, end):
        buf = self.buf
        for num, wt, v in fields(buf, start, end):
            if num not in (1, 2, 4) or wt != 2:
                continue
            iid, name, line = None, None, 0
            for n2, _, v2 in fields(buf, *v):
                if n2 == 1:
                    iid = v2
                elif n2 == 2:
                    name = text(buf, v2)
                elif n2 == 4 and num == 4:
                    line = v2
            if not iid:
                self.problem("packet %d: interned entry without an iid" % idx)
                continue
            table = seq.cats if num == 1 else seq.names if num == 2 else seq.locs
            value = (name or "", line) if num == 4 else (name or "")
            old = table.get(iid)
            if old is not None and old != value:
                self.problem("packet %d: sequence %d redefines iid %d of field %d "
                             "within one generation" % (idx, seq.id, iid, num))
            table[iid] = value

    def clock_snapshot(self, seq, idx, start, end):
        buf = self.buf
        clocks = []
        for num, wt, v in fields(buf, start, end):
            if num != 1 or wt != 2:
                continue
            c = {"id": 0, "ts": 0, "incr": False, "unit": 1}
            for n2, _, v2 in fields(buf, *v):
                if n2 == 1:
                    c["id"] = v2
                elif n2 == 2:
                    c["ts"] = v2
                elif n2 == 3:
                    c["incr"] = bool(v2)
                elif n2 == 4:
                    c["unit"] = v2 or 1
            clocks.append(c)
        boot = [c for c in clocks if c["id"] == BOOTTIME]
        for c in clocks:
            if c["incr"] and not 64 <= c["id"] <= 127:
                self.problem("packet %d: incremental clock %d is not sequence-scoped" %
                             (idx, c["id"]))
            if 64 <= c["id"] <= 127:
                if not seq.id:
                    self.problem("packet %d: sequence clock without a sequence id" % idx)
                    continue
                if not boot:
                    self.problem("packet %d: sequence clock %d not related to BOOTTIME" %
                                 (idx, c["id"]))
                    continue
                old = seq.clocks.get(c["id"])
                if old and (old["incr"] != c["incr"] or old["unit"] != c["unit"]):
                    self.problem("packet %d: clock %d changes its properties" % (idx, c["id"]))
                if old and boot[0]["ts"] < old["boot"]:
                    self.problem("packet %d: snapshots of clock %d go back in time" %
                                 (idx, c["id"]))
                seq.clocks[c["id"]] = {"incr": c["incr"], "unit": c["unit"],
                                       "last": c["ts"] * c["unit"],
                                       "snap": c["ts"] * c["unit"], "boot": boot[0]["ts"]}

    def timestamp(self, seq, idx, raw, clock_id):
        clock = clock_id or seq.defaults_clock
        if clock in (0, BOOTTIME):
            return raw
        if 64 <= clock <= 127:
            c = seq.clocks.get(clock)
            if c is None:
                self.problem("packet %d: sequence clock %d used before its snapshot" %
                             (idx, clock))
                return None
            if c["incr"]:
                c["last"] += to_int64(raw) * c["unit"]
                v = c["last"]
            else:
                v = raw * c["unit"]
            return v - c["snap"] + c["boot"]
        self.problem("packet %d: clock %d is not one this checker converts" % (idx, clock))
        return None

    def track_event(self, seq, idx, ts, start, end):
        buf = self.buf
        ev_type, track = 0, seq.defaults_track
        name, cats, loc = None, [], None
        for num, wt, v in fields(buf, start, end):
            if num == 9:
                ev_type = v
            elif num == 11:
                track = v
            elif num == 10:
                name = seq.names.get(v)
                if name is None:
                    self.problem("packet %d: name iid %d does not resolve on sequence %d" %
                                 (idx, v, seq.id))
            elif num == 23:
                name = text(buf, v)
            elif num == 3:
                for iid in varints(buf, wt, v):
                    c = seq.cats.get(iid)
                    if c is None:
                        self.problem("packet %d: category iid %d does not resolve on "
                                     "sequence %d" % (idx, iid, seq.id))
                    else:
                        cats.append(c)
            elif num == 22:
                cats.append(text(buf, v))
            elif num == 34:
                loc = seq.locs.get(v)
                if loc is None:
                    self.problem("packet %d: source location iid %d does not resolve on "
                                 "sequence %d" % (idx, v, seq.id))
            elif num == 33 and wt == 2:
                f, line = "", 0
                for n2, _, v2 in fields(buf, *v):
                    if n2 == 2:
                        f = text(buf, v2)
                    elif n2 == 4:
                        line = v2
                loc = (f, line)
        if track is None:
            track = 0
        if ev_type not in (SLICE_BEGIN, SLICE_END, INSTANT):
            self.problem("packet %d: track event of type %d" % (idx, ev_type))
            return
        if name is not None:
            self.all_names.add(name)
        for c in cats:
            self.all_cats.add(c)
        if loc is not None:
            self.all_locs.add(loc)
        self.tracks.setdefault(track, []).append(
            (ts, ev_type, name, cats[0] if cats else None, loc, idx))

    def descriptor(self, idx, start, end):
        buf = self.buf
        d = {"uuid": 0, "parent_uuid": 0, "name": None, "kind": "named", "pid": None,
             "tid": None, "merge": 0}
        for num, wt, v in fields(buf, start, end):
            if num == 1:
                d["uuid"] = v
            elif num == 5:
                d["parent_uuid"] = v
            elif num == 2:
                d["name"] = text(buf, v)
            elif num == 15:
                d["merge"] = v
            elif num in (3, 4) and wt == 2:
                d["kind"] = "process" if num == 3 else "thread"
                for n2, _, v2 in fields(buf, *v):
                    if n2 == 1:
                        d["pid"] = to_int64(v2)
                    elif n2 == 2 and num == 4:
                        d["tid"] = to_int64(v2)
                    elif (n2 == 6 and num == 3) or (n2 == 5 and num == 4):
                        d["name"] = text(buf, v2)
        if not d["uuid"]:
            self.problem("packet %d: track descriptor without a uuid" % idx)
            return
        old = self.descs.get(d["uuid"])
        if old is not None and old != d:
            self.problem("packet %d: track %d described twice, differently" % (idx, d["uuid"]))
        self.descs[d["uuid"]] = d
        if d["kind"] == "thread" and (d["pid"] is None or d["tid"] is None):
            self.problem("packet %d: thread track %d without pid and tid" % (idx, d["uuid"]))

    # ---- whole-trace rules --------------------------------------------------

    def finish(self):
        self.slices = {}
        self.max_depth = {}
        for uuid, events in self.tracks.items():
            if uuid and uuid not in self.descs:
                self.problem("track %d has events but no descriptor" % uuid)
            self.slices[uuid] = self.pair(uuid, events)
        threads = {}
        for d in self.descs.values():
            if d["kind"] == "thread":
                threads.setdefault((d["pid"], d["tid"]), []).append(d["uuid"])
            if d["parent_uuid"] and d["parent_uuid"] not in self.descs:
                self.problem("track %d has parent %d, which is not described" %
                             (d["uuid"], d["parent_uuid"]))
        for (pid, tid), uuids in threads.items():
            if len(uuids) > 1:
                self.problem("thread %s/%s has %d thread tracks" % (pid, tid, len(uuids)))

    def pair(self, uuid, events):
        """Matches begins and ends on one track; returns the closed slices."""
        stack, out, last, depth = [], [], None, 0
        for ts, ev_type, name, cat, loc, idx in events:
            if last is not None and ts < last:
                self.problem("track %d: time goes back from %d to %d at packet %d" %
                             (uuid, last, ts, idx))
            last = ts
            if ev_type == SLICE_BEGIN:
                stack.append((ts, name, cat, loc))
                depth = max(depth, len(stack))
            elif ev_type == SLICE_END:
                if not stack:
                    self.problem("track %d: slice end at %d closes nothing (packet %d)" %
                                 (uuid, ts, idx))
                    continue
                b, name, cat, loc = stack.pop()
                if stack and stack[-1][0] > b:
                    self.problem("track %d: slice at %d begins before its parent" % (uuid, b))
                out.append((b, ts, name, cat, loc))
        for b, name, _, _ in stack:
            self.problem("track %d: slice %r begun at %d never ends" % (uuid, name, b))
        self.max_depth[uuid] = depth
        return out

    # ---- reporting ------------------------------------------------------------

    def summary(self, max_list):
        tracks = []
        for uuid in sorted(set(self.descs) | set(self.tracks)):
            d = self.descs.get(uuid, {})
            tracks.append({"uuid": uuid, "kind": d.get("kind", "undescribed"),
                           "name": d.get("name"), "pid": d.get("pid"), "tid": d.get("tid"),
                           "parent_uuid": d.get("parent_uuid", 0),
                           "slices": len(self.slices.get(uuid, [])),
                           "max_depth": self.max_depth.get(uuid, 0)})
        out = {
            "packets": self.npackets,
            "bytes": len(self.buf),
            "sequences": [{"id": s.id, "packets": s.packets, "clears": s.clears}
                          for s in sorted(self.seqs.values(), key=lambda s: s.id)],
            "tracks": tracks,
            "slices_total": sum(len(v) for v in self.slices.values()),
            "interned": {
                "names": sorted(self.all_names)[:max_list],
                "categories": sorted(self.all_cats)[:max_list],
                "source_locations": [list(x) for x in sorted(self.all_locs)][:max_list],
                "counts": {"names": len(self.all_names), "categories": len(self.all_cats),
                           "source_locations": len(self.all_locs)},
            },
        }
        if self.keep_events:
            out["events"] = {str(u): [list(e[:2]) + [e[2], e[3], list(e[4]) if e[4] else None]
                                      for e in ev] for u, ev in self.tracks.items()}
        out["problems"] = self.problems
        return out

    # ---- expectations -----------------------------------------------------

    def expect(self, exp):
        threads = [d for d in self.descs.values() if d["kind"] == "thread"]
        procs = [d for d in self.descs.values() if d["kind"] == "process"]
        proc_uuid = None
        if "process" in exp:
            want = exp["process"]
            match = [d for d in procs if d["pid"] == want.get("pid", d["pid"])]
            if len(match) != 1:
                self.problem("expected one process track with pid %s, found %d" %
                             (want.get("pid"), len(match)))
            else:
                proc_uuid = match[0]["uuid"]
                if "name" in want and match[0]["name"] != want["name"]:
                    self.problem("process name %r, expected %r" % (match[0]["name"],
                                                                   want["name"]))
        for want in exp.get("threads", []):
            match = [d for d in threads if d["tid"] == want["tid"]]
            if len(match) != 1:
                self.problem("expected one thread track for tid %s, found %d" %
                             (want["tid"], len(match)))
                continue
            d = match[0]
            if "name" in want and d["name"] != want["name"]:
                self.problem("tid %s: name %r, expected %r" % (want["tid"], d["name"],
                                                               want["name"]))
            if "pid" in want and d["pid"] != want["pid"]:
                self.problem("tid %s: pid %s, expected %s" % (want["tid"], d["pid"],
                                                              want["pid"]))
            got = self.slices.get(d["uuid"], [])
            if "slices" in want and len(got) != want["slices"]:
                self.problem("tid %s: %d slices, expected %d" % (want["tid"], len(got),
                                                                 want["slices"]))
            if "events" in want:
                self.compare_events(want["tid"], self.tracks.get(d["uuid"], []),
                                    want["events"])
        if "async" in exp:
            self.expect_async(exp["async"], proc_uuid)
        for name in exp.get("names_include", []):
            if name not in self.all_names:
                self.problem("name %r never appears" % name)
        if "slices_total" in exp:
            total = sum(len(v) for v in self.slices.values())
            if total != exp["slices_total"]:
                self.problem("%d slices in all, expected %d" % (total, exp["slices_total"]))

    def compare_events(self, tid, got, want):
        if len(got) != len(want):
            self.problem("tid %s: %d events, expected %d" % (tid, len(got), len(want)))
        for i, (g, w) in enumerate(zip(got, want)):
            ts, ev_type, name, cat, loc, _ = g
            if w[0] == "B":
                ok = (ev_type == SLICE_BEGIN and ts == w[1] and name == w[2] and
                      (cat or "") == (w[3] or "") and
                      (loc or ("", 0)) == (w[4] or "", w[5] or 0))
            else:
                ok = ev_type == SLICE_END and ts == w[1]
            if not ok:
                self.problem("tid %s: event %d is %r, expected %r" %
                             (tid, i, [ev_type, ts, name, cat, loc], w))
                return

    def expect_async(self, want, proc_uuid):
        lanes = [d["uuid"] for d in self.descs.values()
                 if d["kind"] == "named" and (proc_uuid is None or d["parent_uuid"] == proc_uuid)]
        got = []
        for u in lanes:
            for b, e, name, cat, loc in self.slices.get(u, []):
                f, line = loc if loc else ("", 0)
                got.append([b, e, name, cat or "", f, line])
        exp = [[s[0], s[1], s[2], s[3] or "", s[4] or "", s[5] or 0]
               for s in want.get("slices", [])]
        if "slices" in want and sorted(got) != sorted(exp):
            self.problem("async slices differ: %d found, %d expected" % (len(got), len(exp)))
        if "max_lanes" in want and len(lanes) > want["max_lanes"]:
            self.problem("%d async lanes, expected at most %d" % (len(lanes), want["max_lanes"]))


def check(data, expect=None, keep_events=False, max_list=1000):
    """Checks a trace; returns the summary dict (problems in ["problems"]).

    Raises DecodeError when the bytes are not a decodable trace."""
    c = Checker(data, keep_events)
    c.run()
    if expect:
        c.expect(expect)
    return c.summary(max_list)


def main(argv):
    args = argv[1:]
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 2
    path, expect, keep_events, max_list = None, None, False, 1000
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--expect-json":
            with open(args[i + 1]) as f:
                expect = json.load(f)
            i += 2
        elif a == "--events":
            keep_events = True
            i += 1
        elif a == "--max-list":
            max_list = int(args[i + 1])
            i += 2
        else:
            path = a
            i += 1
    with open(path, "rb") as f:
        data = f.read()
    try:
        out = check(data, expect, keep_events, max_list)
    except DecodeError as e:
        json.dump({"bytes": len(data), "problems": ["undecodable: %s" % e]}, sys.stdout)
        sys.stdout.write("\n")
        return 2
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 1 if out["problems"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
