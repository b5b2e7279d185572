"""End-to-end: OpenTelemetry in (POST /v1/logs, /v1/metrics, /v1/traces).

  * the OpenTelemetry JS SDK (tests/node/otlp_send.mjs) sends known spans, log
    records and metric points through its OTLP/HTTP exporters, once in protobuf and
    once in JSON, each batch exported twice (a retry); SQL over otel_spans,
    log_entries and measures returns exactly what was sent, once: names, ids,
    parent links, durations, attributes, levels, metric values;
  * a hand-written JSON export, gzip-compressed, re-sent: same answer, same rows,
    not one more stored object;
  * partial success: a span without a valid trace id and an exponential histogram
    are rejected with counts and a message, the rest is stored;
  * malformed bodies (truncated protobuf, bad JSON, bad gzip, a wrong type) get 400
    with a google.rpc.Status and store nothing; an unknown content type gets 415; a
    gzip body that inflates past the cap gets 413.

Only 127.0.0.1 is used; every process started here is stopped by its PID.
"""

import gzip
import json
import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import Server  # noqa: E402

NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "node")
PB = {"Content-Type": "application/x-protobuf"}
JS = {"Content-Type": "application/json"}


def query(srv, sql):
    st, _, data = srv.post("/api/query?format=json", json.dumps({"sql": sql}).encode(),
                           timeout=600)
    assert st == 200, (st, data[:2000])
    lines = [json.loads(line) for line in data.decode().splitlines()]
    return [r for r in lines[1:] if not (isinstance(r, dict) and "end" in r)]


def node_available():
    return shutil.which("node") and os.path.isdir(
        os.path.join(NODE_DIR, "node_modules", "@opentelemetry", "sdk-trace-base"))


# ------------------------------------------------------------------ a tiny protobuf writer

def _varint(v):
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def _ld(field, data):
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def _fixed64(field, v):
    return _varint(field << 3 | 1) + v.to_bytes(8, "little")


def _kv(key, s):
    return _ld(1, key.encode()) + _ld(2, _ld(1, s.encode()))


def pb_traces(service, n_spans):
    """An ExportTraceServiceRequest: one resource, one scope, n spans."""
    spans = b""
    for i in range(n_spans):
        span = (_ld(1, bytes([0xAB] * 16)) + _ld(2, (i + 1).to_bytes(8, "big")) +
                _ld(5, b"pb-span-%d" % i) + _varint(6 << 3) + _varint(2) +
                _fixed64(7, 1_700_000_000_000_000_000 + i) +
                _fixed64(8, 1_700_000_000_000_000_000 + i + 1000) +
                _ld(9, _kv("i", str(i))))
        spans += _ld(2, span)
    scope = _ld(1, _ld(1, b"pb-scope"))
    rs = _ld(1, _ld(1, _kv("service.name", service))) + _ld(2, scope + spans)
    return _ld(1, rs)


def _read_varint(data, i):
    v, shift = 0, 0
    while True:
        b = data[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return v, i


def pb_parse(data):
    """Fields of one protobuf message: {field: [values]} (varints as ints, the rest bytes)."""
    out, i = {}, 0
    while i < len(data):
        key, i = _read_varint(data, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _read_varint(data, i)
        elif wt == 2:
            n, i = _read_varint(data, i)
            v = data[i:i + n]
            i += n
        else:
            raise ValueError("wire type %d" % wt)
        out.setdefault(f, []).append(v)
    return out


def json_traces(service, spans):
    return json.dumps({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"scope": {"name": "json-scope", "version": "9"}, "spans": spans}]}]}).encode()


def json_span(i, trace="5b8efff798038103d269b633813fc60c", parent=""):
    return {"traceId": trace, "spanId": "%016x" % (0x1000 + i), "parentSpanId": parent,
            "name": "js-%d" % i, "kind": 3, "startTimeUnixNano": str(1_700_000_000_000_000_000 + i),
            "endTimeUnixNano": 1_700_000_000_000_000_000 + i + 5000,
            "attributes": [{"key": "k", "value": {"intValue": str(i)}},
                           {"key": "arr", "value": {"arrayValue": {"values": [{"boolValue": True}]}}}],
            "status": {"code": 2, "message": "bad %d" % i},
            "events": [{"name": "ev", "timeUnixNano": "1700000000000000100",
                        "attributes": [{"key": "x", "value": {"doubleValue": 1.5}}]}]}


class OtlpServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def process_id(self, exe):
        rows = query(self.srv, "SELECT process_id FROM processes WHERE exe = '%s'" % exe)
        self.assertEqual(len(rows), 1, rows)
        return rows[0][0]

    # ---------------------------------------------------------------- the JS SDK

    def run_sdk(self, mode, tag):
        p = subprocess.run(["node", os.path.join(NODE_DIR, "otlp_send.mjs"), self.srv.url, mode,
                            tag, "2"], capture_output=True, text=True, timeout=300, cwd=NODE_DIR)
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        sent = json.loads(p.stdout.strip().splitlines()[-1])
        for sig in ("spans", "logs", "metrics"):
            self.assertEqual(sent[sig]["results"], [0, 0], (sig, sent[sig]))  # SUCCESS twice
        return sent

    @unittest.skipUnless(node_available(), "node and tests/node packages (npm ci) needed")
    def test_sdk_protobuf(self):
        self.check_sdk("proto", "pb")

    @unittest.skipUnless(node_available(), "node and tests/node packages (npm ci) needed")
    def test_sdk_json(self):
        self.check_sdk("json", "js")

    def check_sdk(self, mode, tag):
        sent = self.run_sdk(mode, tag)
        pid = self.process_id("otlp-" + tag)
        proc = query(self.srv, "SELECT username, computer, properties->>'service.instance.id' "
                     "FROM processes WHERE process_id = '%s'" % pid)
        self.assertEqual(proc, [["tester", "otlp-test-host", "instance-" + tag]])

        # spans: every one once, with its ids, parent, duration, attributes, status
        rows = query(self.srv, "SELECT name, trace_id, span_id, parent_span_id, duration, kind, "
                     "status, status_message, attributes, jsonb_array_length(events), scope "
                     "FROM otel_spans WHERE process_id = '%s' ORDER BY name" % pid)
        want = sorted(sent["spans"]["items"], key=lambda s: s["name"])
        self.assertEqual([r[0] for r in rows], [s["name"] for s in want])
        for r, s in zip(rows, want):
            self.assertEqual(r[1:5], [s["trace_id"], s["span_id"], s["parent_span_id"],
                                      s["duration_ns"]], s["name"])
            self.assertEqual(r[5], "internal")
            self.assertEqual(r[6], "error" if s["status"] == 2 else "unset")
            self.assertEqual(r[7], "boom" if s["status"] == 2 else "")
            attrs = r[8] if isinstance(r[8], dict) else json.loads(r[8])
            self.assertEqual(attrs, s["attributes"])
            self.assertEqual(r[9], s["events"])
            self.assertEqual(r[10], "otlp-test-tracer")
        root = [s for s in want if s["name"] == "root-op"][0]
        self.assertEqual(root["parent_span_id"], "")
        self.assertTrue(all(s["parent_span_id"] == root["span_id"]
                            for s in want if s["name"] != "root-op"))

        # logs: five records, levels fatal..debug mapped, attributes kept
        rows = query(self.srv, "SELECT msg, level, properties->>'idx', properties->>'severity_text', "
                     "target FROM log_entries WHERE process_id = '%s' ORDER BY time" % pid)
        self.assertEqual([r[0] for r in rows], ["message %d" % i for i in range(5)])
        self.assertEqual([r[1] for r in rows], [5, 4, 3, 2, 1])
        self.assertEqual([r[2] for r in rows], [str(i) for i in range(5)])
        self.assertEqual([r[3] for r in rows], ["S5", "S9", "S13", "S17", "S21"])
        self.assertEqual({r[4] for r in rows}, {"otlp-test-logger"})

        # metrics: sums per attribute set, the histogram as count/sum/buckets, the gauge
        rows = query(self.srv, "SELECT name, unit, value, properties->>'route', properties->>'le', "
                     "properties->>'room' FROM measures WHERE process_id = '%s' "
                     "ORDER BY name, properties->>'route', value" % pid)
        got = [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]
        self.assertEqual(sorted(got, key=repr), sorted([
            ("requests", "1", 8.0, "/a", None, None),
            ("requests", "1", 4.0, "/b", None, None),
            ("latency.count", "1", 4.0, "/a", None, None),
            ("latency.sum", "ms", 562.0, "/a", None, None),
            ("latency.bucket", "1", 2.0, "/a", "10", None),
            ("latency.bucket", "1", 1.0, "/a", "100", None),
            ("latency.bucket", "1", 1.0, "/a", "+Inf", None),
            ("temperature", "C", 21.5, None, None, "lab"),
        ], key=repr))

    # ---------------------------------------------------------------- by hand

    def test_json_gzip_resend_changes_nothing(self):
        body = gzip.compress(json_traces("otlp-resend", [json_span(0), json_span(1, parent="%016x" % 0x1000)]))
        hdr = dict(JS, **{"Content-Encoding": "gzip"})
        st, h, data = self.srv.post("/v1/traces", body, headers=hdr)
        self.assertEqual((st, json.loads(data)), (200, {}))
        self.assertTrue(h["content-type"].startswith("application/json"))
        files = sltest.blob_files(self.srv.data_dir)
        pid = self.process_id("otlp-resend")
        sql = ("SELECT name, kind, status, status_message, attributes->>'k', events, parent_span_id "
               "FROM otel_spans WHERE process_id = '%s' ORDER BY name" % pid)
        first = query(self.srv, sql)
        self.assertEqual(len(first), 2)
        self.assertEqual(first[0][:5], ["js-0", "client", "error", "bad 0", "0"])
        self.assertEqual(first[1][6], "%016x" % 0x1000)
        ev = first[0][5] if isinstance(first[0][5], list) else json.loads(first[0][5])
        self.assertEqual(ev, [{"name": "ev", "time_unix_nano": 1700000000000000100,
                               "attributes": {"x": 1.5}}])
        for _ in range(2):
            st, _, data = self.srv.post("/v1/traces", body, headers=hdr)
            self.assertEqual((st, json.loads(data)), (200, {}))
        self.assertEqual(sltest.blob_files(self.srv.data_dir), files)
        self.assertEqual(query(self.srv, sql), first)

    def test_protobuf_answer_and_partial_success(self):
        st, h, data = self.srv.post("/v1/traces", pb_traces("otlp-pb-hand", 3), headers=PB)
        self.assertEqual(st, 200, data)
        self.assertEqual(h["content-type"], "application/x-protobuf")
        self.assertEqual(data, b"")  # an ExportTraceServiceResponse without partial_success
        pid = self.process_id("otlp-pb-hand")
        rows = query(self.srv, "SELECT name, kind, duration, attributes->>'i', scope FROM otel_spans "
                     "WHERE process_id = '%s' ORDER BY name" % pid)
        self.assertEqual(rows, [["pb-span-%d" % i, "server", 1000, str(i), "pb-scope"]
                                for i in range(3)])
        # one span with a short trace id: rejected, counted, the other stored
        bad = json_span(7, trace="abcd")
        st, _, data = self.srv.post("/v1/traces", json_traces("otlp-partial", [json_span(6), bad]),
                                    headers=JS)
        self.assertEqual(st, 200, data)
        ps = json.loads(data)["partialSuccess"]
        self.assertEqual(ps["rejectedSpans"], "1")
        self.assertIn("trace_id", ps["errorMessage"])
        pid = self.process_id("otlp-partial")
        self.assertEqual(query(self.srv, "SELECT name FROM otel_spans WHERE process_id = '%s'" % pid),
                         [["js-6"]])
        # an exponential histogram is refused, the gauge beside it stored (protobuf answer)
        metrics = json.dumps({"resourceMetrics": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "otlp-exp"}}]},
            "scopeMetrics": [{"scope": {"name": "m"}, "metrics": [
                {"name": "g", "unit": "s", "gauge": {"dataPoints": [
                    {"timeUnixNano": "1700000000000000000", "asInt": "42"}]}},
                {"name": "e", "exponentialHistogram": {"dataPoints": [
                    {"timeUnixNano": "1700000000000000000"}, {"timeUnixNano": "1700000000000000001"}]}},
            ]}]}]}).encode()
        st, _, data = self.srv.post("/v1/metrics", metrics, headers=JS)
        self.assertEqual(st, 200, data)
        self.assertEqual(json.loads(data)["partialSuccess"]["rejectedDataPoints"], "2")
        pid = self.process_id("otlp-exp")
        self.assertEqual(query(self.srv, "SELECT name, unit, value FROM measures "
                               "WHERE process_id = '%s'" % pid), [["g", "s", 42.0]])

    def test_malformed_bodies_store_nothing(self):
        srv = Server()
        try:
            good_pb = pb_traces("otlp-bad", 2)
            cases = [
                ("/v1/traces", PB, good_pb[:-5]),                         # truncated protobuf
                ("/v1/traces", PB, good_pb[:20]),
                ("/v1/logs", PB, b"\x0a\xff\xff\xff\xff\x0f"),            # length past the end
                ("/v1/traces", JS, b'{"resourceSpans": [ {'),             # bad JSON
                ("/v1/traces", JS, b'{"resourceSpans": 3}'),              # wrong type
                ("/v1/metrics", JS, b'[1,2]'),
                ("/v1/logs", dict(JS, **{"Content-Encoding": "gzip"}), b"\x1f\x8b\x08\x00garbage"),
                ("/v1/traces", dict(PB, **{"Content-Encoding": "gzip"}), gzip.compress(good_pb)[:-8]),
            ]
            for path, hdr, body in cases:
                st, h, data = srv.post(path, body, headers=hdr)
                self.assertEqual(st, 400, (path, body[:40], data))
                if hdr["Content-Type"] == "application/json":
                    status = json.loads(data)
                    self.assertEqual(status["code"], 3)
                    self.assertTrue(status["message"])
                else:
                    status = pb_parse(data)
                    self.assertEqual(status[1], [3])             # INVALID_ARGUMENT
                    self.assertTrue(status[2][0])                # the message
            st, _, _ = srv.post("/v1/traces", good_pb, headers={"Content-Type": "text/plain"})
            self.assertEqual(st, 415)
            st, _, _ = srv.post("/v1/traces", good_pb, headers=dict(PB, **{"Content-Encoding": "br"}))
            self.assertEqual(st, 415)
            # 70 MB of zeros inflate past the 64 MiB cap
            bomb = gzip.compress(b"\0" * (70 << 20))
            st, _, data = srv.post("/v1/logs", bomb, headers=dict(PB, **{"Content-Encoding": "gzip"}))
            self.assertEqual(st, 413, data)
            self.assertEqual(sltest.blob_files(srv.data_dir), [])
            self.assertEqual(query(srv, "SELECT count(*) FROM processes"), [[0]])
            st, _, _ = srv.post("/v1/traces", good_pb, headers=PB)
            self.assertEqual(st, 200)
            self.assertEqual(query(srv, "SELECT count(*) FROM otel_spans"), [[2]])
        finally:
            srv.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
