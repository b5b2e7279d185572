import { useRef, useState } from "preact/hooks";
import { generateTrace, processes, Progress, rows, streams } from "../api";
import { download, fmtBytes, fmtInt, fmtNs, fmtTime, Link, RangePicker, rangeFromPreset, resolveRange, Status, useLoad } from "../util";

interface ThreadRow { stream_id: string; name: string; first: number; last: number; events: number; spans?: number }

const PERFETTO = "https://ui.perfetto.dev";

export function ProcessPage(p: { id: string }) {
  const info = useLoad(async (s) => {
    const [all, ss] = await Promise.all([processes(s), streams(p.id, s)]);
    const proc = all.find((x) => x.process_id === p.id);
    if (!proc) throw new Error(`unknown process ${p.id}`);
    const cov = await rows<{ stream_id: string; first: string; last: string; events: number }>(
      "SELECT stream_id, min(begin_time) AS first, max(end_time) AS last, sum(nb_objects) AS events FROM blocks WHERE process_id = $1 GROUP BY stream_id",
      { params: [p.id], signal: s });
    const byId = new Map(cov.map((c) => [c.stream_id, c]));
    const threads: ThreadRow[] = ss.filter((x) => x.tags.includes("cpu")).map((x) => {
      const c = byId.get(x.stream_id);
      return { stream_id: x.stream_id, name: x.thread_name ?? x.thread_id ?? x.stream_id.slice(0, 8),
        first: c ? Date.parse(c.first) : NaN, last: c ? Date.parse(c.last) : NaN, events: Number(c?.events ?? 0) };
    });
    return { proc, streams: ss, threads };
  }, [p.id]);
  // Span counts and log/metric counts come after the first paint: they read the lake.
  const counts = useLoad(async (s) => {
    if (!info.data) return null;
    const th = info.data.threads.slice(0, 256);
    const spans = th.length ? await rows<{ sid: string; n: number }>(th.map((t) =>
      `SELECT '${t.stream_id}' AS sid, count(*) AS n FROM view_instance('thread_spans', '${t.stream_id}')`).join(" UNION ALL "), { signal: s }) : [];
    const [logs] = await rows<{ n: number }>("SELECT count(*) AS n FROM log_entries WHERE process_id = $1", { params: [p.id], signal: s });
    const [metrics] = await rows<{ n: number }>("SELECT count(*) AS n FROM measures WHERE process_id = $1", { params: [p.id], signal: s });
    return { spans: new Map(spans.map((x) => [x.sid, Number(x.n)])), logs: Number(logs?.n ?? 0), metrics: Number(metrics?.n ?? 0) };
  }, [info.data]);
  if (!info.data) return <section><h1>Process</h1><Status loading={info.loading} error={info.error} /></section>;
  const { proc, threads } = info.data;
  const t0 = Math.min(...threads.map((t) => t.first).filter((x) => !isNaN(x)));
  const t1 = Math.max(...threads.map((t) => t.last).filter((x) => !isNaN(x)));
  const span = t1 > t0 ? t1 - t0 : 1;
  const props: [string, string][] = [
    ["Process id", proc.process_id], ["Exe", proc.exe], ["Computer", proc.computer], ["User", `${proc.username} (${proc.realname})`],
    ["Distro", proc.distro], ["CPU", proc.cpu_brand], ["Start", fmtTime(proc.start_time)],
    ["Parent", proc.parent_process_id ?? "none"], ["Streams", fmtInt(proc.stream_count)],
    ["Events", fmtInt(proc.event_count)], ["Data", fmtBytes(proc.payload_bytes)],
    ["Log entries", counts.data ? fmtInt(counts.data.logs) : "…"], ["Metric points", counts.data ? fmtInt(counts.data.metrics) : "…"],
    ...Object.entries(proc.properties).map(([k, v]) => [k, v] as [string, string]),
  ];
  return (
    <section>
      <h1>{proc.exe.split("/").pop()} <span class="muted small">{proc.process_id}</span></h1>
      <div class="links">
        <Link href={`/logs?process=${proc.process_id}`}>Logs</Link>
        <Link href={`/charts?process=${proc.process_id}`}>Metrics</Link>
        <Link href={`/flame?process=${proc.process_id}`}>Flame graph</Link>
        <Link href={`/report?process=${proc.process_id}`}>Report</Link>
      </div>
      <TracePanel id={proc.process_id} />
      <h2>Properties</h2>
      <table class="props" id="process-props"><tbody>{props.map(([k, v]) => <tr><th>{k}</th><td>{v}</td></tr>)}</tbody></table>
      <h2>Threads ({threads.length})</h2>
      <table class="grid" id="threads">
        <thead><tr><th>Thread</th><th>Spans</th><th>Events</th><th>First</th><th>Last</th><th class="timeline-h">Time coverage</th><th></th></tr></thead>
        <tbody>{threads.map((t) => (
          <tr>
            <td>{t.name}</td>
            <td class="num">{counts.data ? fmtInt(counts.data.spans.get(t.stream_id) ?? 0) : "…"}</td>
            <td class="num">{fmtInt(t.events)}</td>
            <td>{fmtTime(t.first * 1e6)}</td><td>{fmtTime(t.last * 1e6)}</td>
            <td class="timeline"><div class="bar" style={{ left: `${((t.first - t0) / span) * 100}%`, width: `${Math.max(0.5, ((t.last - t.first) / span) * 100)}%` }}
              title={`${fmtNs((t.last - t.first) * 1e6)}`} /></td>
            <td><Link href={`/flame?process=${proc.process_id}&thread=${t.stream_id}`}>flame</Link></td>
          </tr>))}
        </tbody>
      </table>
      <Status error={counts.error} />
    </section>
  );
}

interface Run { p?: Progress; current?: string; received: number; started: number; frames: number; done?: string; error?: string; threadsReady: number }

function TracePanel(p: { id: string }) {
  const [range, setRange] = useState(rangeFromPreset("all"));
  const [kinds, setKinds] = useState("both");
  const [run, setRun] = useState<Run | null>(null);
  const ac = useRef<AbortController | null>(null);
  const [, tick] = useState(0);
  const busy = !!run && !run.done && !run.error;

  async function start(target: "download" | "perfetto") {
    // The Perfetto tab must be opened inside the click, or the browser blocks it.
    const win = target === "perfetto" ? window.open(`${PERFETTO}/#!/`, "_blank") : null;
    if (target === "perfetto" && !win) {
      setRun({ received: 0, started: performance.now(), frames: 0, threadsReady: 0,
        error: "The browser blocked the Perfetto tab (pop-up blocker): allow pop-ups for this page, or use Download trace and open the file in ui.perfetto.dev." });
      return;
    }
    const ctl = new AbortController();
    ac.current = ctl;
    const r: Run = { received: 0, started: performance.now(), frames: 0, threadsReady: 0 };
    setRun({ ...r });
    const timer = setInterval(() => tick((x) => x + 1), 250);
    try {
      const res = await generateTrace(p.id, {
        range: resolveRange(range), thread: kinds !== "async", async: kinds !== "thread", signal: ctl.signal,
        onProgress: (pr, received) => {
          r.p = pr; r.received = received; r.frames++;
          if (pr.kind === "thread" && pr.index) { r.threadsReady = pr.index - 1; r.current = pr.name; }
          setRun({ ...r });
        },
      });
      r.received = res.bytes.length;
      r.threadsReady = Number(res.summary.threads ?? r.p?.count ?? 0);
      const name = `${p.id}.pftrace`;
      if (target === "download") {
        download(name, res.bytes, "application/octet-stream");
        r.done = `Downloaded ${name}: ${fmtBytes(res.bytes.length)}`;
      } else {
        r.done = await handToPerfetto(win!, res.bytes, name);
      }
      setRun({ ...r });
    } catch (e) {
      win?.close();
      const msg = ctl.signal.aborted ? "Cancelled." : String((e as Error).message ?? e);
      setRun({ ...r, error: msg });
    } finally {
      clearInterval(timer);
    }
  }

  const elapsed = run ? ((performance.now() - run.started) / 1000).toFixed(1) : "0";
  return (
    <div class="panel">
      <div class="toolbar">
        <RangePicker value={range} onChange={setRange} />
        <label>Spans <select id="trace-kinds" value={kinds} onChange={(e) => setKinds((e.target as HTMLSelectElement).value)}>
          <option value="both">thread and async</option><option value="thread">thread</option><option value="async">async</option>
        </select></label>
        <button id="open-perfetto" disabled={busy} onClick={() => start("perfetto")}>Open in Perfetto</button>
        <button id="download-trace" disabled={busy} onClick={() => start("download")}>Download trace</button>
        {busy && <button id="cancel-trace" onClick={() => ac.current?.abort()}>Cancel</button>}
      </div>
      {run && (
        <div id="trace-progress" data-frames={run.frames} data-state={run.done ? "done" : run.error ? "error" : "running"}>
          <span>threads {run.threadsReady}/{run.p?.count ?? "?"}</span>
          <span>{run.current && !run.done ? `current: ${run.current}` : ""}</span>
          <span>{fmtInt(run.p?.spans ?? 0)} spans</span>
          <span>{(run.received / 1048576).toFixed(2)} MB</span>
          <span>{elapsed} s</span>
          {run.done && <span class="ok">{run.done}</span>}
          {run.error && <span class="error">{run.error}</span>}
        </div>)}
    </div>
  );
}

// ui.perfetto.dev's handshake: PING until it answers PONG, then post the trace.
function handToPerfetto(win: Window, bytes: Uint8Array, title: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let tries = 0;
    const onMsg = (e: MessageEvent) => {
      if (e.source !== win || e.data !== "PONG") return;
      clearInterval(ping); removeEventListener("message", onMsg);
      const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
      win.postMessage({ perfetto: { buffer, title, keepApiOpen: false } }, PERFETTO);
      resolve(`Sent ${fmtBytes(bytes.length)} to the Perfetto tab.`);
    };
    addEventListener("message", onMsg);
    const ping = setInterval(() => {
      if (win.closed || ++tries > 60) {
        clearInterval(ping); removeEventListener("message", onMsg);
        reject(new Error(win.closed ? "The Perfetto tab was closed before it answered."
          : "ui.perfetto.dev did not answer the handshake in 30 s (offline, or blocked by the network): use Download trace and open the file there."));
        return;
      }
      try { win.postMessage("PING", PERFETTO); } catch { /* not loaded yet */ }
    }, 500);
  });
}
