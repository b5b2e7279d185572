// Shared pieces: formatting, the time range picker, navigation.
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import type { Range } from "./api";

export function navigate(path: string) {
  history.pushState(null, "", path);
  dispatchEvent(new PopStateEvent("popstate"));
}

export function Link(p: { href: string; children: unknown; class?: string }) {
  return (
    <a href={p.href} class={p.class} onClick={(e) => {
      if (e.ctrlKey || e.metaKey || e.button !== 0) return;
      e.preventDefault(); navigate(p.href);
    }}>{p.children as never}</a>
  );
}

export function useQueryParam(name: string): string | null {
  return new URLSearchParams(location.search).get(name);
}

export function fmtNs(ns: number): string {
  const a = Math.abs(ns);
  if (a >= 3600e9) return (ns / 3600e9).toFixed(2) + " h";
  if (a >= 60e9) return (ns / 60e9).toFixed(2) + " min";
  if (a >= 1e9) return (ns / 1e9).toFixed(3) + " s";
  if (a >= 1e6) return (ns / 1e6).toFixed(3) + " ms";
  if (a >= 1e3) return (ns / 1e3).toFixed(1) + " µs";
  return ns + " ns";
}

export function fmtBytes(b: number): string {
  if (b >= 1 << 30) return (b / (1 << 30)).toFixed(2) + " GiB";
  if (b >= 1 << 20) return (b / (1 << 20)).toFixed(2) + " MiB";
  if (b >= 1 << 10) return (b / (1 << 10)).toFixed(1) + " KiB";
  return b + " B";
}

export function fmtTime(t: string | number | null | undefined): string {
  if (t === null || t === undefined || t === "") return "";
  const d = typeof t === "number" ? new Date(t / 1e6) : new Date(t);
  return isNaN(d.getTime()) ? String(t) : d.toISOString().replace("T", " ").replace("Z", "");
}

export const fmtInt = (n: number) => n.toLocaleString("en-US");

// Presets are relative to now; "custom" keeps the typed begin/end (RFC 3339 or ns).
const presets: [string, number][] = [["all", 0], ["5m", 300], ["15m", 900], ["1h", 3600], ["6h", 21600], ["24h", 86400], ["7d", 604800]];

export interface RangeState { preset: string; begin: string; end: string }

/** Integer ns since the epoch as RFC 3339 with nanoseconds (a JSON number would lose digits). */
export function nsText(v: string): string {
  const t = v.trim();
  if (!/^\d{1,19}$/.test(t)) return t;
  const n = BigInt(t), sec = n / 1000000000n;
  return new Date(Number(sec) * 1000).toISOString().slice(0, 19) + "." + (n % 1000000000n).toString().padStart(9, "0") + "Z";
}

export function resolveRange(r: RangeState): Range {
  if (r.preset === "custom") return { begin: r.begin ? nsText(r.begin) : undefined, end: r.end ? nsText(r.end) : undefined };
  const secs = presets.find((p) => p[0] === r.preset)?.[1] ?? 0;
  if (!secs) return {};
  return { begin: new Date(Date.now() - secs * 1000).toISOString() };
}

export function rangeFromPreset(preset: string): RangeState {
  return { preset: preset || "all", begin: "", end: "" };
}

/** A text box whose value is committed (onCommit) on change: Enter or leaving it.
 * The draft follows the value only when the value changes, in the render's own task:
 * an effect on mount ran a frame later and wiped what was typed meanwhile. */
export function CommitInput(p: { id?: string; class?: string; placeholder?: string; value: string; onCommit: (v: string) => void }) {
  const [draft, setDraft] = useState(p.value);
  const seen = useRef(p.value);
  useLayoutEffect(() => {
    if (seen.current !== p.value) { seen.current = p.value; setDraft(p.value); }
  }, [p.value]);
  return <input id={p.id} class={p.class} placeholder={p.placeholder} value={draft}
    onInput={(e) => setDraft((e.target as HTMLInputElement).value)}
    onChange={(e) => p.onCommit((e.target as HTMLInputElement).value)} />;
}

/** onChange is a state setter: each edit is applied to the newest range (an updater),
 * so two edits before a re-render (begin, then end) both stay. */
export function RangePicker(p: { value: RangeState; onChange: (f: (r: RangeState) => RangeState) => void }) {
  const v = p.value;
  return (
    <span class="range">
      <label>Time <select class="range-preset" value={v.preset} onChange={(e) => { const preset = (e.target as HTMLSelectElement).value; p.onChange((r) => ({ ...r, preset })); }}>
        {presets.map(([k]) => <option value={k}>{k === "all" ? "all time" : "last " + k}</option>)}
        <option value="custom">custom</option>
      </select></label>
      {v.preset === "custom" && <>
        <CommitInput class="time range-begin" placeholder="begin (RFC 3339 or ns)" value={v.begin}
          onCommit={(begin) => p.onChange((r) => ({ ...r, begin }))} />
        <CommitInput class="time range-end" placeholder="end" value={v.end}
          onCommit={(end) => p.onChange((r) => ({ ...r, end }))} />
      </>}
    </span>
  );
}

/** Runs load() when deps change; gives {data, error, loading, reload}. */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]) {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const ac = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    load(ac.signal).then(
      (data) => { if (!ac.signal.aborted) setState({ data, loading: false }); },
      (e) => { if (!ac.signal.aborted) setState({ error: String(e.message ?? e), loading: false }); });
    return () => ac.abort();
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

export function Status(p: { loading?: boolean; error?: string }) {
  if (p.error) return <div class="error" role="alert">{p.error}</div>;
  if (p.loading) return <div class="loading">Loading…</div>;
  return null;
}

export function download(name: string, data: BlobPart, type: string) {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const a = document.createElement("a");
  a.href = url; a.download = name; document.body.appendChild(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

export function csvOf(columns: string[], rows: unknown[][]): string {
  const cell = (v: unknown) => {
    if (v === null || v === undefined) return "";
    const s = typeof v === "object" ? JSON.stringify(v) : String(v);
    return /[",\n\r]/.test(s) || s === "" ? '"' + s.replace(/"/g, '""') + '"' : s;
  };
  return [columns.map(cell).join(","), ...rows.map((r) => r.map(cell).join(","))].join("\r\n") + "\r\n";
}

export function ProcessPicker(p: { value: string; onChange: (id: string) => void; processes: { process_id: string; exe: string; start_time: string }[] }) {
  return (
    <label>Process <select value={p.value} onChange={(e) => p.onChange((e.target as HTMLSelectElement).value)}>
      <option value="">(choose)</option>
      {p.processes.map((x) => <option value={x.process_id}>{x.exe.split("/").pop()} · {fmtTime(x.start_time)} · {x.process_id.slice(0, 8)}</option>)}
    </select></label>
  );
}
