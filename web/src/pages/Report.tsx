import { useState } from "preact/hooks";
import { getJson, processes } from "../api";
import { fmtNs, fmtTime, Link, ProcessPicker, RangePicker, rangeFromPreset, resolveRange, Status, useLoad, useQueryParam } from "../util";

type J = null | boolean | number | string | J[] | { [k: string]: J };

// Keys whose numbers are durations in ns (docs/analyze.md).
const isNs = (k: string) => /(_ns|^mean|^min|^max|^p\d+|^stddev|^total|^self)$/.test(k) && !/count|share/.test(k);

function cell(k: string, v: J): string {
  if (v === null) return "";
  if (typeof v === "number" && /_ns$/.test(k) && v > 1e17) return fmtTime(v); // a time, not a duration
  if (typeof v === "number" && /share$/.test(k)) return (v * 100).toFixed(2) + " %";
  if (typeof v === "number") return isNs(k) && Math.abs(v) >= 1000 ? `${fmtNs(v)}` : v.toLocaleString("en-US", { maximumFractionDigits: 4 });
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function Value(p: { k: string; v: J }) {
  const v = p.v;
  if (Array.isArray(v) && v.length && v.every((x) => x && typeof x === "object" && !Array.isArray(x))) {
    const cols = [...new Set(v.flatMap((x) => Object.keys(x as object)))];
    return (
      <table class="grid"><thead><tr>{cols.map((c) => <th>{c}</th>)}</tr></thead>
        <tbody>{v.map((r) => <tr>{cols.map((c) => <td class={typeof (r as Record<string, J>)[c] === "number" ? "num" : ""}>{cell(c, (r as Record<string, J>)[c])}</td>)}</tr>)}</tbody></table>);
  }
  if (v && typeof v === "object" && !Array.isArray(v)) {
    return (
      <table class="props"><tbody>{Object.entries(v).map(([k, x]) => <tr><th>{k}</th><td>{x && typeof x === "object" ? <Value k={k} v={x} /> : cell(k, x)}</td></tr>)}</tbody></table>);
  }
  return <span>{cell(p.k, v)}</span>;
}

export function ReportPage() {
  const [proc, setProc] = useState(useQueryParam("process") ?? "");
  const [kinds, setKinds] = useState("both");
  const [range, setRange] = useState(rangeFromPreset("all"));
  const procs = useLoad((s) => processes(s), []);
  const rep = useLoad(async (s) => {
    if (!proc) return null;
    const q = new URLSearchParams({ kinds });
    const r = resolveRange(range);
    if (r.begin) q.set("begin", r.begin);
    if (r.end) q.set("end", r.end);
    return getJson<Record<string, J>>(`/api/analyze/${proc}?${q}`, s);
  }, [proc, kinds, range]);
  const d = rep.data;
  const findings = (d?.findings ?? []) as { rule: string; text: string }[];
  const order = ["dataset", "time", "durations", "concurrency", "hierarchy", "top", "by_name", "by_target", "rules"];
  return (
    <section>
      <h1>Report</h1>
      <div class="toolbar">
        <ProcessPicker value={proc} onChange={setProc} processes={procs.data ?? []} />
        <label>Spans <select value={kinds} onChange={(e) => setKinds((e.target as HTMLSelectElement).value)}>
          <option value="both">thread and async</option><option value="thread">thread</option><option value="async">async</option></select></label>
        <RangePicker value={range} onChange={setRange} />
        {proc && <Link href={`/flame?process=${proc}`}>Flame graph</Link>}
      </div>
      {!proc && <p class="muted">Choose a process: the report says where its time went (docs/analyze.md).</p>}
      <Status loading={rep.loading && !!proc} error={rep.error} />
      {d && <div id="report">
        <h2>Findings</h2>
        {findings.length ? <ul>{findings.map((f) => <li><b>{f.rule}</b>: {f.text}</li>)}</ul> : <p class="muted">No rule held: nothing stands out by the stated rules.</p>}
        {order.filter((k) => k in d).map((k) => <><h2>{k.replace("_", " ")}</h2><Value k={k} v={d[k]} /></>)}
      </div>}
    </section>
  );
}
