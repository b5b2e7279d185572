#!/usr/bin/python3
"""gen_frames_corpus - writes the seed corpus of the frame-stream fuzz target.

    gen_frames_corpus.py DIR

Valid streams (progress, data, summary; an error ending; empty data) and
nasty ones: bad magic and version, nonzero reserved bytes, unknown types,
lengths past the caps or past the end, data offsets with gaps and overlaps,
bytes after the final frame, missing final frame, bad JSON, a summary
counting other bytes.  Written from docs/internals/perfetto.md section 10.
"""

import json
import os
import struct
import sys


def header(version=1, reserved=0):
    return b"SLPF" + struct.pack("<HH", version, reserved)


def frame(ftype, payload, reserved=b"\0\0\0", length=None):
    n = len(payload) if length is None else length
    return bytes([ftype]) + reserved + struct.pack("<I", n) + payload


def js(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def data(offset, body):
    return frame(2, struct.pack("<Q", offset) + body)


def main(out):
    os.makedirs(out, exist_ok=True)
    trace = bytes(range(256)) * 3
    prog = frame(1, js({"kind": "thread", "index": 1, "count": 2, "name": "main",
                         "tid": 7, "spans": 0, "bytes": 0}))
    summ = frame(3, js({"threads": 2, "bytes": len(trace), "thread_spans": 10}))
    summ0 = frame(3, js({"bytes": 0}))
    ok = header() + prog + data(0, trace[:500]) + prog + data(500, trace[500:]) + summ
    cases = {
        "valid": ok,
        "valid-error": header() + prog + frame(4, js({"code": -7, "error": "I/O error",
                                                      "message": "disk gone"})),
        "valid-empty-trace": header() + frame(3, js({"bytes": 0})),
        "valid-unicode": header() + frame(1, js({"kind": "thread", "name": "wörker ✓"})) +
        frame(3, js({})),
        "header-only": header(),
        "empty": b"",
        "bad-magic": b"SLPG" + ok[4:],
        "bad-version": header(2) + ok[8:],
        "reserved-header": header(1, 1) + ok[8:],
        "reserved-frame": header() + frame(1, js({"kind": "x"}), reserved=b"\0\1\0") + summ0,
        "unknown-type": header() + frame(9, b"{}") + summ0,
        "type-zero": header() + frame(0, b"") + summ0,
        "length-past-end": header() + frame(2, struct.pack("<Q", 0) + b"abc", length=1000),
        "length-huge": header() + frame(2, b"", length=0xFFFFFFFF),
        "json-over-cap": header() + frame(1, b"", length=(64 << 10) + 1),
        "data-no-bytes": header() + frame(2, struct.pack("<Q", 0)) + summ,
        "data-short": header() + frame(2, b"\0\0\0") + summ,
        "offset-gap": header() + data(0, trace[:10]) + data(11, trace[11:20]) + summ,
        "offset-overlap": header() + data(0, trace[:10]) + data(5, trace[5:20]) + summ,
        "offset-start": header() + data(1, trace[:10]) + summ,
        "after-final": ok + prog,
        "after-final-byte": ok + b"\0",
        "no-final": ok[:len(ok) - len(summ)],
        "two-finals": ok + summ,
        "cut-in-header": ok[:len(ok) - len(summ) + 5],
        "cut-in-payload": ok[:len(ok) - 3],
        "bad-json": header() + frame(1, b'{"kind": "thread",') + summ0,
        "json-not-object": header() + frame(1, b"[1,2,3]") + summ0,
        "json-deep": header() + frame(1, b"[" * 200 + b"]" * 200) + summ0,
        "progress-no-kind": header() + frame(1, js({"index": 1})) + summ0,
        "error-positive-code": header() + frame(4, js({"code": 5, "message": "x"})),
        "error-no-message": header() + frame(4, js({"code": -5})),
        "summary-lies": header() + data(0, trace[:10]) + frame(3, js({"bytes": 11})),
        "summary-bytes-string": header() + frame(3, js({"bytes": "0"})),
        "json-invalid-utf8": header() + frame(1, b'{"kind":"\xff\xfe"}') + summ0,
    }
    for name, body in cases.items():
        with open(os.path.join(out, name + ".bin"), "wb") as f:
            f.write(body)
    print("%d corpus files in %s" % (len(cases), out))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else
         os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "frames"))
