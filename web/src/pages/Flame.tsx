import { useEffect, useRef, useState } from "preact/hooks";
import { select } from "d3-selection";
import { flamegraph, StackFrame } from "d3-flame-graph";
import "d3-flame-graph/dist/d3-flamegraph.css";
import { getJson, processes, streams } from "../api";
import { download, fmtNs, ProcessPicker, RangePicker, rangeFromPreset, resolveRange, Status, useLoad, useQueryParam } from "../util";

interface Node extends StackFrame { children: Node[] }

/** The d3-flame-graph tree of folded stacks ("a;b;c value", self time in ns). */
export function treeOf(folded: string[]): Node {
  const root: Node = { name: "all", value: 0, children: [] };
  for (const line of folded) {
    const sp = line.lastIndexOf(" ");
    const v = Number(line.slice(sp + 1));
    let node = root;
    node.value += v;
    for (const f of line.slice(0, sp).split(";")) {
      let c = node.children.find((x) => x.name === f);
      if (!c) { c = { name: f, value: 0, children: [] }; node.children.push(c); }
      c.value += v;
      node = c;
    }
  }
  return root;
}

export function FlamePage() {
  const [proc, setProc] = useState(useQueryParam("process") ?? "");
  const [thread, setThread] = useState(useQueryParam("thread") ?? "");
  const [kinds, setKinds] = useState(useQueryParam("kinds") ?? (useQueryParam("thread") ? "thread" : "both"));
  const [range, setRange] = useState(rangeFromPreset("all"));
  const [term, setTerm] = useState("");
  const [detail, setDetail] = useState("");
  const procs = useLoad((s) => processes(s), []);
  const threads = useLoad(async (s) => proc ? (await streams(proc, s)).filter((x) => x.tags.includes("cpu")) : [], [proc]);
  const rep = useLoad(async (s) => {
    if (!proc) return null;
    const q = new URLSearchParams({ kinds, top: "1" });
    const r = resolveRange(range);
    if (r.begin) q.set("begin", r.begin);
    if (r.end) q.set("end", r.end);
    return getJson<{ kinds: string; flame: { total_ns: number; folded: string[] } }>(`/api/analyze/${proc}?${q}`, s);
  }, [proc, kinds, range]);
  const tname = threads.data?.find((t) => t.stream_id === thread);
  const tlabel = tname ? (tname.thread_name ?? tname.thread_id ?? "") : "";
  const folded = (rep.data?.flame.folded ?? []).filter((l) => !tlabel || l.startsWith(tlabel + ";") || l.startsWith(tlabel + " "));
  const tree = treeOf(folded);
  const el = useRef<HTMLDivElement>(null);
  const chart = useRef<ReturnType<typeof flamegraph> | null>(null);
  useEffect(() => {
    if (!el.current || !rep.data) return;
    el.current.innerHTML = "";
    const fg = flamegraph().width(Math.max(600, el.current.clientWidth || 1000)).cellHeight(18)
      .transitionDuration(300).minFrameSize(1).sort(true).title("")
      .setDetailsHandler((d: unknown) => setDetail(d ? String(d) : ""));
    // The label is what hovering a frame shows (index.d.ts lacks setLabelHandler).
    (fg as unknown as { setLabelHandler(f: (d: { data: Node; value: number }) => string): void }).setLabelHandler((d: { data: Node; value: number }) => {
        const self = d.value - (d.data.children ?? []).reduce((a, c) => a + c.value, 0);
        return `${d.data.name}: total ${fmtNs(d.value)} (${((d.value / (tree.value || 1)) * 100).toFixed(2)}%), self ${fmtNs(self)}`;
      });
    select(el.current).datum(tree).call(fg);
    chart.current = fg;
    return () => { fg.destroy(); chart.current = null; };
  }, [rep.data, tlabel]);
  useEffect(() => { if (chart.current) { if (term) chart.current.search(term); else chart.current.clear(); } }, [term]);
  const base = `${proc}${tlabel ? "-" + tlabel : ""}`;
  return (
    <section>
      <h1>Flame graph</h1>
      <div class="toolbar">
        <ProcessPicker value={proc} onChange={(v) => { setProc(v); setThread(""); }} processes={procs.data ?? []} />
        <label>Thread <select value={thread} onChange={(e) => { const v = (e.target as HTMLSelectElement).value; setThread(v); if (v) setKinds("thread"); }}>
          <option value="">all</option>
          {(threads.data ?? []).map((t) => <option value={t.stream_id}>{t.thread_name ?? t.thread_id ?? t.stream_id.slice(0, 8)}</option>)}
        </select></label>
        <label>Spans <select id="flame-kinds" value={kinds} onChange={(e) => setKinds((e.target as HTMLSelectElement).value)}>
          <option value="both">thread and async</option><option value="thread">thread (call stacks)</option><option value="async">async (parent chains)</option>
        </select></label>
        <RangePicker value={range} onChange={setRange} />
        <input type="search" id="flame-search" placeholder="search frames" value={term} onInput={(e) => setTerm((e.target as HTMLInputElement).value)} />
        <button onClick={() => chart.current?.resetZoom()}>Reset zoom</button>
      </div>
      {!proc && <p class="muted">Choose a process.</p>}
      <Status loading={rep.loading && !!proc} error={rep.error} />
      {rep.data && <>
        <div class="toolbar">
          <span id="flame-total" data-ns={tree.value} data-kinds={rep.data.kinds}>Total: {fmtNs(tree.value)} in {folded.length} stacks</span>
          <button onClick={() => download(`${base}.folded`, folded.join("\n") + "\n", "text/plain")}>Export folded</button>
          <button onClick={() => download(`${base}.flame.json`, JSON.stringify(tree), "application/json")}>Export JSON</button>
          <button onClick={() => {
            const svg = el.current?.querySelector("svg");
            if (svg) download(`${base}.flame.svg`, new XMLSerializer().serializeToString(svg), "image/svg+xml");
          }}>Export SVG</button>
        </div>
        <div class="flame-detail" id="flame-detail">{detail || "Hover a frame for its total and self time; click to zoom."}</div>
        <div class="flame" id="flame" ref={el} />
      </>}
    </section>
  );
}
