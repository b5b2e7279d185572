#!/usr/bin/python3
"""pfframes - reassembles a streamlake progress frame stream.

Usage:
    pfframes.py STREAM [--out TRACE] [--quiet] [--json]

STREAM is the body of `POST /api/perfetto/{process_id}/generate` (or "-"
for standard input).  The data chunks are concatenated into TRACE (a
.pftrace file Perfetto opens); progress messages are printed one per line
("thread 15/50: render"), then the summary as JSON.  With --json every
message is printed as its JSON object instead.

Exit status: 0 when the stream ends with a summary, 1 when it ends with an
error frame (the error is printed), 2 when the stream is malformed or cut
short (what and at which byte is printed).

The format (docs/internals/perfetto.md, section 10), written again here from
the document with nothing but the Python standard library, so that it checks
the C writer rather than sharing its mistakes:

    header  "SLPF", u16le version = 1, u16le 0
    frame   u8 type, 3 zero bytes, u32le payload length, payload
    types   1 progress (JSON), 2 data (u64le trace offset + bytes),
            3 summary (JSON, final), 4 error (JSON, final)

As a module: parse(data: bytes) -> dict with "trace" (bytes), "progress"
(list of dicts), "summary" or "error" (dict); raises FrameError.
"""

import json
import struct
import sys

VERSION = 1
PROGRESS, DATA, SUMMARY, ERROR = 1, 2, 3, 4
MAX_DATA = 16 << 20
MAX_JSON = 64 << 10


class FrameError(Exception):
    pass


def parse(data):
    """Splits a whole frame stream; returns its parts or raises FrameError."""
    if len(data) < 8:
        raise FrameError("byte 0: stream shorter than its 8-byte header")
    magic, version, reserved = struct.unpack_from("<4sHH", data, 0)
    if magic != b"SLPF":
        raise FrameError("byte 0: bad magic %r" % magic)
    if version != VERSION:
        raise FrameError("byte 4: version %d, this reader knows %d" % (version, VERSION))
    if reserved:
        raise FrameError("byte 6: reserved bytes are not zero")
    pos = 8
    trace = bytearray()
    out = {"progress": [], "summary": None, "error": None, "frames": 0}
    final = False
    while pos < len(data):
        if final:
            raise FrameError("byte %d: bytes after the final frame" % pos)
        if len(data) - pos < 8:
            raise FrameError("byte %d: stream ends inside a frame header" % pos)
        ftype, r1, r2, r3, length = struct.unpack_from("<BBBBI", data, pos)
        if ftype not in (PROGRESS, DATA, SUMMARY, ERROR):
            raise FrameError("byte %d: unknown frame type %d" % (pos, ftype))
        if r1 or r2 or r3:
            raise FrameError("byte %d: reserved frame bytes are not zero" % (pos + 1))
        if length > (MAX_DATA if ftype == DATA else MAX_JSON):
            raise FrameError("byte %d: frame of %d bytes is over its cap" % (pos + 4, length))
        body = pos + 8
        if len(data) - body < length:
            raise FrameError("byte %d: stream ends inside a frame of %d bytes" % (pos, length))
        payload = data[body:body + length]
        if ftype == DATA:
            if length <= 8:
                raise FrameError("byte %d: data frame without trace bytes" % pos)
            (offset,) = struct.unpack_from("<Q", payload, 0)
            if offset != len(trace):
                raise FrameError("byte %d: data at trace offset %d, expected %d" %
                                 (body, offset, len(trace)))
            trace += payload[8:]
        else:
            try:
                msg = json.loads(payload.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                raise FrameError("byte %d: bad JSON payload: %s" % (body, e))
            if not isinstance(msg, dict):
                raise FrameError("byte %d: JSON payload is not an object" % body)
            if ftype == PROGRESS:
                if not isinstance(msg.get("kind"), str):
                    raise FrameError("byte %d: progress without a kind" % body)
                out["progress"].append(msg)
            elif ftype == SUMMARY:
                if "bytes" in msg and msg["bytes"] != len(trace):
                    raise FrameError("byte %d: summary says %s bytes, %d received" %
                                     (body, msg["bytes"], len(trace)))
                out["summary"] = msg
                final = True
            else:
                code = msg.get("code")
                if (not isinstance(code, int) or isinstance(code, bool) or code >= 0 or
                        not isinstance(msg.get("message"), str)):
                    raise FrameError("byte %d: error without a negative code and a message" %
                                     body)
                out["error"] = msg
                final = True
        out["frames"] += 1
        pos = body + length
    if not final:
        raise FrameError("byte %d: the stream ends without a summary or an error" % pos)
    out["trace"] = bytes(trace)
    return out


def describe(msg):
    """One line for a progress message, as a person wants to read it."""
    kind = msg.get("kind")
    if kind == "start":
        return "process %s: %d threads" % (msg.get("name", "?"), msg.get("count", 0))
    if kind == "thread":
        return "thread %d/%d: %s" % (msg.get("index", 0), msg.get("count", 0),
                                     msg.get("name", ""))
    if kind == "bytes":
        return "%d spans, %d bytes" % (msg.get("spans", 0), msg.get("bytes", 0))
    if kind == "failure":
        what = ("thread %d/%d %s" % (msg.get("index", 0), msg.get("count", 0), msg.get("name"))
                if msg.get("index") else "async spans")
        return "FAILED %s: %s" % (what, msg.get("message", ""))
    return json.dumps(msg)


def main(argv):
    args = argv[1:]
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 2
    src, out, quiet, as_json = None, None, False, False
    i = 0
    while i < len(args):
        if args[i] == "--out":
            out = args[i + 1]
            i += 2
            continue
        if args[i] == "--quiet":
            quiet = True
        elif args[i] == "--json":
            as_json = True
        else:
            src = args[i]
        i += 1
    data = sys.stdin.buffer.read() if src in (None, "-") else open(src, "rb").read()
    try:
        parts = parse(data)
    except FrameError as e:
        print("pfframes: malformed stream: %s" % e, file=sys.stderr)
        return 2
    if out:
        with open(out, "wb") as f:
            f.write(parts["trace"])
    if not quiet:
        for msg in parts["progress"]:
            print(json.dumps(msg) if as_json else describe(msg))
    if parts["error"] is not None:
        print("pfframes: error: %s" % json.dumps(parts["error"]), file=sys.stderr)
        return 1
    if not quiet:
        print(json.dumps(parts["summary"], indent=None if as_json else 1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
