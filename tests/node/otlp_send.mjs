// Sends known telemetry to a streamlake server with the OpenTelemetry JS SDK and
// its OTLP/HTTP exporters (protobuf or JSON), then prints what it sent as JSON so
// that tests/e2e/test_otlp.py can compare it with what SQL returns.
//
// Usage: node otlp_send.mjs BASE_URL proto|json TAG [repeat]
//   TAG names the service (service.name = "otlp-TAG"), so runs do not mix.
//   repeat: export the very same batches this many times (default 1): a retry.
// Prints {"spans": [...], "logs": [...], "metrics": {...}, "results": [...]}.
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider, SimpleSpanProcessor, InMemorySpanExporter,
} from '@opentelemetry/sdk-trace-base';
import {
  LoggerProvider, SimpleLogRecordProcessor, InMemoryLogRecordExporter,
} from '@opentelemetry/sdk-logs';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { SpanStatusCode, context, trace } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPTraceExporter as TraceProto } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as TraceJson } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPLogExporter as LogProto } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPLogExporter as LogJson } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPMetricExporter as MetricProto } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPMetricExporter as MetricJson } from '@opentelemetry/exporter-metrics-otlp-http';

const [base, mode, tag, repeatArg] = process.argv.slice(2);
if (!base || !['proto', 'json'].includes(mode) || !tag) {
  console.error('usage: node otlp_send.mjs BASE_URL proto|json TAG [repeat]');
  process.exit(2);
}
const repeat = Number(repeatArg || 1);
const resource = resourceFromAttributes({
  'service.name': `otlp-${tag}`,
  'service.instance.id': `instance-${tag}`,
  'host.name': 'otlp-test-host',
  'process.owner': 'tester',
});
const P = mode === 'proto';
const opts = (path) => ({ url: `${base}${path}`, timeoutMillis: 20000 });

function exportOnce(exporter, items) {
  return new Promise((resolve) => exporter.export(items, (r) => resolve(r)));
}

// ---- spans: a root with two children (one with an error status and an event)
async function spans() {
  const mem = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor(mem)] });
  const tracer = provider.getTracer('otlp-test-tracer', '1.2.3');
  const t0 = Date.now() - 10000;
  const root = tracer.startSpan('root-op', { attributes: { 'http.method': 'GET', 'n': 7 }, startTime: t0 });
  const ctx = trace.setSpan(context.active(), root);
  for (let i = 0; i < 2; i++) {
    const child = tracer.startSpan(`child-${i}`, { attributes: { index: i, ok: i === 0 }, startTime: t0 + 100 + i * 1000 }, ctx);
    if (i === 1) {
      child.addEvent('retrying', { attempt: 2 }, t0 + 1200);
      child.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
    }
    child.end(t0 + 100 + i * 1000 + 250 * (i + 1));
  }
  root.end(t0 + 5000);
  await provider.forceFlush();
  const finished = mem.getFinishedSpans();
  const exporter = P ? new TraceProto(opts('/v1/traces')) : new TraceJson(opts('/v1/traces'));
  const results = [];
  for (let r = 0; r < repeat; r++) results.push((await exportOnce(exporter, finished)).code);
  await exporter.shutdown();
  return {
    results,
    items: finished.map((s) => ({
      name: s.name,
      trace_id: s.spanContext().traceId,
      span_id: s.spanContext().spanId,
      parent_span_id: s.parentSpanContext ? s.parentSpanContext.spanId : (s.parentSpanId || ''),
      duration_ns: Number(BigInt(s.duration[0]) * 1000000000n + BigInt(s.duration[1])),
      attributes: s.attributes,
      status: s.status.code,
      events: s.events.length,
    })),
  };
}

// ---- logs: five records, one per severity, with attributes
async function logs() {
  const mem = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({ resource, processors: [new SimpleLogRecordProcessor({ exporter: mem })] });
  const logger = provider.getLogger('otlp-test-logger', '0.1.0');
  const sev = [SeverityNumber.DEBUG, SeverityNumber.INFO, SeverityNumber.WARN, SeverityNumber.ERROR, SeverityNumber.FATAL];
  const now = Date.now() - 5000;
  sev.forEach((s, i) => logger.emit({
    severityNumber: s, severityText: `S${s}`, body: `message ${i}`,
    attributes: { idx: i, kind: 'test' }, timestamp: now + i,
  }));
  await provider.forceFlush();
  const records = mem.getFinishedLogRecords();
  const exporter = P ? new LogProto(opts('/v1/logs')) : new LogJson(opts('/v1/logs'));
  const results = [];
  for (let r = 0; r < repeat; r++) results.push((await exportOnce(exporter, records)).code);
  await exporter.shutdown();
  return { results, items: records.map((l) => ({ body: l.body, severity: l.severityNumber, attributes: l.attributes })) };
}

// ---- metrics: a counter (sum), a histogram and an observable gauge
class Reader extends MetricReader {
  async onForceFlush() {}
  async onShutdown() {}
}
async function metrics() {
  const reader = new Reader();
  const provider = new MeterProvider({ resource, readers: [reader] });
  const meter = provider.getMeter('otlp-test-meter');
  const counter = meter.createCounter('requests', { unit: '1' });
  counter.add(3, { route: '/a' });
  counter.add(4, { route: '/b' });
  counter.add(5, { route: '/a' });
  const hist = meter.createHistogram('latency', { unit: 'ms', advice: { explicitBucketBoundaries: [10, 100] } });
  for (const v of [5, 50, 500, 7]) hist.record(v, { route: '/a' });
  meter.createObservableGauge('temperature', { unit: 'C' }).addCallback((o) => o.observe(21.5, { room: 'lab' }));
  const { resourceMetrics } = await reader.collect();
  const exporter = P ? new MetricProto(opts('/v1/metrics')) : new MetricJson(opts('/v1/metrics'));
  const results = [];
  for (let r = 0; r < repeat; r++) results.push((await exportOnce(exporter, resourceMetrics)).code);
  await exporter.shutdown();
  return { results, points: 2 + 1 + 1 };
}

const out = { spans: await spans(), logs: await logs(), metrics: await metrics() };
console.log(JSON.stringify(out));
