import { useMemo, useState } from "preact/hooks";
import { processes, rows } from "../api";
import { TimeChart } from "../chart";
import { fmtTime, ProcessPicker, RangePicker, rangeFromPreset, resolveRange, Status, useLoad, useQueryParam } from "../util";

const sqlText = (s: string) => "'" + s.replace(/'/g, "''") + "'";

export function MetricsPage() {
  const [proc, setProc] = useState(useQueryParam("process") ?? "");
  const [picked, setPicked] = useState<string[]>([]);
  const [agg, setAgg] = useState("avg");
  const [range, setRange] = useState(rangeFromPreset("all"));
  const procs = useLoad((s) => processes(s), []);
  const r = resolveRange(range);
  const names = useLoad((s) => rows<{ name: string; unit: string; n: number }>(
    `SELECT name, unit, count(*) AS n FROM measures ${proc ? "WHERE process_id = $1" : ""} GROUP BY name, unit ORDER BY name`,
    { params: proc ? [proc] : undefined, range: r, signal: s }), [proc, range]);
  const chosen = picked.length ? picked : names.data?.length ? [names.data[0].name] : [];
  const data = useLoad(async (s) => {
    if (!chosen.length) return null;
    const where = `name IN (${chosen.map(sqlText).join(", ")})${proc ? " AND process_id = $1" : ""}`;
    const params = proc ? [proc] : undefined;
    const [ext] = await rows<{ lo: string; hi: string }>(`SELECT min(time) AS lo, max(time) AS hi FROM measures WHERE ${where}`, { params, range: r, signal: s });
    if (!ext?.lo) return { xs: [], series: [], bin: 0 };
    const spanMs = Math.max(1, Date.parse(ext.hi) - Date.parse(ext.lo));
    const binMs = Math.max(1, Math.ceil(spanMs / 400));
    const pts = await rows<{ t: string; name: string; v: number }>(
      `SELECT date_bin(interval '${binMs / 1000} seconds', time, timestamptz '2000-01-01 00:00:00+00') AS t, name, ${agg}(value) AS v
       FROM measures WHERE ${where} GROUP BY 1, 2 ORDER BY 1`, { params, range: r, signal: s });
    const xsSet = [...new Set(pts.map((x) => x.t))];
    const idx = new Map(xsSet.map((t, i) => [t, i]));
    const series = chosen.map((n) => ({ label: n, ys: new Array<number | null>(xsSet.length).fill(null) }));
    for (const p of pts) series[chosen.indexOf(p.name)].ys[idx.get(p.t)!] = Number(p.v);
    return { xs: xsSet.map((t) => Date.parse(t) / 1000), series, bin: binMs };
  }, [proc, chosen.join("\u0000"), agg, range]);
  const onZoom = useMemo(() => (a: number, b: number) =>
    setRange({ preset: "custom", begin: new Date(a * 1000).toISOString(), end: new Date(b * 1000).toISOString() }), []);
  return (
    <section>
      <h1>Metrics</h1>
      <div class="toolbar">
        <ProcessPicker value={proc} onChange={(v) => { setProc(v); setPicked([]); }} processes={procs.data ?? []} />
        <label>Aggregate <select value={agg} onChange={(e) => setAgg((e.target as HTMLSelectElement).value)}>
          {["avg", "min", "max", "sum", "count"].map((a) => <option value={a}>{a}</option>)}</select></label>
        <RangePicker value={range} onChange={setRange} />
        {range.preset === "custom" && <button onClick={() => setRange(rangeFromPreset("all"))}>Reset zoom</button>}
      </div>
      <div class="metric-layout">
        <div class="metric-list" id="metric-list">
          <Status loading={names.loading && !names.data} error={names.error} />
          {(names.data ?? []).map((m) => (
            <label class="metric"><input type="checkbox" checked={chosen.includes(m.name)} onChange={(e) => {
              const on = (e.target as HTMLInputElement).checked;
              setPicked(on ? [...chosen, m.name] : chosen.filter((x) => x !== m.name));
            }} /> {m.name} <span class="muted">{m.unit} · {m.n}</span></label>))}
          {names.data?.length === 0 && <p class="muted">No metrics in this range.</p>}
        </div>
        <div class="metric-chart">
          <Status loading={data.loading && !data.data} error={data.error} />
          {data.data && data.data.xs.length > 0 &&
            <>
              <p class="muted">{agg} per {data.data.bin} ms bin · {fmtTime(data.data.xs[0] * 1e9)} → {fmtTime(data.data.xs[data.data.xs.length - 1] * 1e9)} · drag to zoom</p>
              <TimeChart id="metric-chart" xs={data.data.xs} series={data.data.series} onZoom={onZoom} />
            </>}
        </div>
      </div>
    </section>
  );
}
