#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_otlp (tests/fuzz/corpus/otlp/), run by hand.

Each file is one byte saying what follows (fuzz_otlp.c: bits 0..1 the signal, bit 2
JSON, bit 3 gzip) and a request body: valid requests of each signal in both
encodings, gzip-compressed ones, and the nasty ones (truncated, deep nesting, ids of
the wrong size, lying lengths).
"""
import gzip
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import test_otlp as t  # noqa: E402  (the protobuf writer of the end-to-end test)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "otlp")
LOGS, METRICS, TRACES, JSON, GZ = 0, 1, 2, 4, 8


def write(name, flags, body):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(bytes([flags]) + body)


def pb_logs():
    rec = (t._fixed64(1, 1_700_000_000_000_000_000) + t._varint(2 << 3) + t._varint(17) +
           t._ld(3, b"ERROR") + t._ld(5, t._ld(1, b"disk full")) + t._ld(6, t._kv("path", "/x")) +
           t._ld(9, bytes(range(16))) + t._ld(10, bytes(range(8))))
    scope = t._ld(1, t._ld(1, b"logger")) + t._ld(2, rec) + t._ld(2, rec[:9])
    return t._ld(1, t._ld(1, t._ld(1, t._kv("service.name", "svc"))) + t._ld(2, scope))


def pb_metrics():
    ndp = t._fixed64(3, 1_700_000_000_000_000_000) + t._fixed64(4, 0x3FF8000000000000) + \
        t._ld(7, t._kv("a", "b"))
    hdp = (t._fixed64(3, 1_700_000_000_000_000_000) + t._fixed64(4, 3) + t._fixed64(5, 0) +
           t._ld(6, (1).to_bytes(8, "little") * 3) + t._ld(7, (0).to_bytes(8, "little") * 2))
    metrics = (t._ld(2, t._ld(1, b"g") + t._ld(5, t._ld(1, ndp))) +
               t._ld(2, t._ld(1, b"s") + t._ld(7, t._ld(1, ndp))) +
               t._ld(2, t._ld(1, b"h") + t._ld(9, t._ld(1, hdp))) +
               t._ld(2, t._ld(1, b"q") + t._ld(11, t._ld(1, t._fixed64(3, 5) + t._ld(6, b"")))))
    scope = t._ld(1, t._ld(1, b"meter")) + metrics
    return t._ld(1, t._ld(1, b"") + t._ld(2, scope))


def deep_any(depth):
    v = t._ld(1, b"leaf")
    for _ in range(depth):
        v = t._ld(5, t._ld(1, v))  # array_value { values: v }
    return v


def main():
    os.makedirs(OUT, exist_ok=True)
    traces = t.pb_traces("svc", 3)
    write("traces-pb.bin", TRACES, traces)
    write("traces-pb-truncated.bin", TRACES, traces[:-7])
    write("traces-pb-gzip.bin", TRACES | GZ, gzip.compress(traces, mtime=0))
    write("logs-pb.bin", LOGS, pb_logs())
    write("metrics-pb.bin", METRICS, pb_metrics())
    write("logs-pb-deep.bin", LOGS, t._ld(1, t._ld(2, t._ld(2, t._ld(5, deep_any(40))))))
    write("logs-pb-lying-length.bin", LOGS, b"\x0a\xff\xff\xff\xff\x0f\x00")
    spans = [t.json_span(0), t.json_span(1, parent="%016x" % 0x1000), t.json_span(2, trace="ab")]
    write("traces-json.bin", TRACES | JSON, t.json_traces("svc", spans))
    write("traces-json-gzip.bin", TRACES | JSON | GZ, gzip.compress(t.json_traces("svc", spans[:1]), mtime=0))
    logs = {"resourceLogs": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "svc"}},
        {"key": "b", "value": {"bytesValue": "AAEC"}},
        {"key": "kv", "value": {"kvlistValue": {"values": [{"key": "x", "value": {"intValue": 3}}]}}}]},
        "scopeLogs": [{"scope": {"name": "l"}, "logRecords": [
            {"timeUnixNano": "1700000000000000000", "severityNumber": 9, "body": {"stringValue": "hi"},
             "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174"},
            {"observedTimeUnixNano": 1700000000000000001, "body": {"kvlistValue": {"values": []}}},
            {"body": {"stringValue": "no time"}}]}]}]}
    write("logs-json.bin", LOGS | JSON, json.dumps(logs).encode())
    metrics = {"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": "g", "gauge": {"dataPoints": [{"timeUnixNano": "1700000000000000000", "asDouble": "NaN"}]}},
        {"name": "h", "histogram": {"dataPoints": [{"timeUnixNano": "1700000000000000000", "count": "3",
                                                    "sum": 1.5, "bucketCounts": ["1", 2], "explicitBounds": [1]}]}},
        {"name": "s", "summary": {"dataPoints": [{"timeUnixNano": 1, "count": 2, "sum": 3,
                                                  "quantileValues": [{"quantile": 0.5, "value": 1}]}]}},
        {"name": "e", "exponentialHistogram": {"dataPoints": [{"timeUnixNano": 1}]}}]}]}]}
    write("metrics-json.bin", METRICS | JSON, json.dumps(metrics).encode())
    write("traces-json-bad.bin", TRACES | JSON, b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": 5}]}]}]}')
    write("traces-json-deep.bin", TRACES | JSON, b"[" * 100 + b"]" * 100)
    write("gzip-garbage.bin", LOGS | GZ, b"\x1f\x8b\x08\x00garbage")


if __name__ == "__main__":
    main()
