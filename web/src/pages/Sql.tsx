import { useState } from "preact/hooks";
import { deleteQuery, HttpError, query, Result, saveQuery, savedQueries, SqlError } from "../api";
import { TimeChart } from "../chart";
import { csvOf, download, RangePicker, rangeFromPreset, RangeState, resolveRange, Status, useLoad } from "../util";

const HISTORY = "streamlake.sql.history";
const NUMERIC = /^(smallint|integer|bigint|real|double precision|numeric|int\d|float\d)/;
const TIME = /^(timestamp|date)/;

function history(): string[] {
  try { return JSON.parse(localStorage.getItem(HISTORY) ?? "[]"); } catch { return []; }
}

interface PlanNode { text: string; children: PlanNode[] }

/** EXPLAIN's lines as a tree: a line's parent is the nearest line above it indented less. */
function planTree(lines: string[]): PlanNode[] {
  const roots: PlanNode[] = [];
  const stack: { depth: number; node: PlanNode }[] = [];
  for (const line of lines) {
    const depth = line.length - line.trimStart().length;
    const node = { text: line.trim().replace(/^->\s*/, ""), children: [] };
    while (stack.length && stack[stack.length - 1].depth >= depth) stack.pop();
    (stack.length ? stack[stack.length - 1].node.children : roots).push(node);
    stack.push({ depth, node });
  }
  return roots;
}

function Plan(p: { nodes: PlanNode[] }) {
  return <ul class="plan">{p.nodes.map((n) => <li>{n.children.length
    ? <details open><summary>{n.text}</summary><Plan nodes={n.children} /></details>
    : <span>{n.text}</span>}</li>)}</ul>;
}

function ResultView(p: { r: Result; i: number }) {
  const { r } = p;
  if (r.error) return <div class="error">{r.error.message} ({r.error.sqlstate})</div>;
  const isPlan = r.columns.length === 1 && r.columns[0].name === "QUERY PLAN";
  const chartable = !isPlan && r.rows.length > 1 && r.columns.length >= 2 && TIME.test(r.columns[0].type) &&
    r.columns.slice(1).some((c) => NUMERIC.test(c.type));
  return (
    <div class="result">
      <div class="toolbar">
        <span class="muted">{r.tag ?? ""} {r.ms !== undefined ? `· ${r.ms} ms` : ""}</span>
        {r.columns.length > 0 && <button onClick={() => download(`result-${p.i + 1}.csv`, csvOf(r.columns.map((c) => c.name), r.rows), "text/csv")}>Download CSV</button>}
      </div>
      {isPlan && <div id="plan-tree"><Plan nodes={planTree(r.rows.map((x) => String(x[0])))} /></div>}
      {chartable && <TimeChart id="sql-chart" height={260} xs={r.rows.map((x) => Date.parse(String(x[0])) / 1000)}
        series={r.columns.slice(1).map((c, i) => ({ c, i })).filter(({ c }) => NUMERIC.test(c.type))
          .map(({ c, i }) => ({ label: c.name, ys: r.rows.map((x) => x[i + 1] === null ? null : Number(x[i + 1])) }))} />}
      {!isPlan && r.columns.length > 0 &&
        <table class="grid sql-result"><thead><tr>{r.columns.map((c) => <th title={c.type}>{c.name}</th>)}</tr></thead>
          <tbody>{r.rows.slice(0, 5000).map((row) => <tr>{row.map((v, i) =>
            <td class={NUMERIC.test(r.columns[i].type) ? "num" : ""}>{v === null ? <span class="null">NULL</span> : typeof v === "object" ? JSON.stringify(v) : String(v)}</td>)}</tr>)}
          </tbody></table>}
      {r.rows.length > 5000 && <p class="muted">Showing 5,000 of {r.rows.length} rows (the CSV has them all).</p>}
    </div>
  );
}

/** The statement with the error's character (1-based position) marked. */
function ErrorAt(p: { sql: string; err: SqlError }) {
  const pos = (p.err.position ?? 0) - 1;
  const chars = [...p.sql];
  return (
    <div class="error" id="sql-error" role="alert">
      <div>ERROR: {p.err.message} <span class="muted">({p.err.sqlstate})</span></div>
      {p.err.hint && <div>HINT: {p.err.hint}</div>}
      {p.err.detail && <div>DETAIL: {p.err.detail}</div>}
      {pos >= 0 && <pre class="sql-error-text">{chars.slice(0, pos).join("")}<mark id="sql-error-pos" data-position={pos + 1}>{chars[pos] ?? " "}</mark>{chars.slice(pos + 1).join("")}</pre>}
    </div>
  );
}

export function SqlPage() {
  const [sql, setSql] = useState(history()[0] ?? "SELECT exe, computer, start_time FROM processes ORDER BY start_time DESC LIMIT 20");
  const [range, setRange] = useState<RangeState>(rangeFromPreset("all"));
  const [results, setResults] = useState<Result[] | null>(null);
  const [err, setErr] = useState<{ sql: string; err: SqlError } | string | null>(null);
  const [busy, setBusy] = useState(false);
  const [hist, setHist] = useState(history());
  const [name, setName] = useState("");
  const [note, setNote] = useState("");
  const saved = useLoad(() => savedQueries(), []);

  async function run(text = sql) {
    setBusy(true); setErr(null); setResults(null);
    const h = [text, ...hist.filter((x) => x !== text)].slice(0, 50);
    setHist(h); localStorage.setItem(HISTORY, JSON.stringify(h));
    try {
      setResults(await query(text, { range: resolveRange(range) }));
    } catch (e) {
      setErr(e instanceof HttpError && e.sql ? { sql: text, err: e.sql } : String((e as Error).message));
    } finally { setBusy(false); }
  }

  async function save() {
    if (!name) { setNote("Give the query a name first."); return; }
    try {
      await saveQuery({ name, sql, range: range.preset }, true);
      setNote(`Saved “${name}”.`);
    } catch (e) {
      if (e instanceof HttpError && e.status === 412 && confirm(`A saved query named “${name}” exists. Replace it?`)) {
        await saveQuery({ name, sql, range: range.preset }, false);
        setNote(`Replaced “${name}”.`);
      } else setNote(String((e as Error).message));
    }
    saved.reload();
  }

  return (
    <section class="sql-page">
      <h1>SQL</h1>
      <div class="sql-layout">
        <div>
          <textarea id="sql-editor" spellcheck={false} value={sql} rows={8}
            onInput={(e) => setSql((e.target as HTMLTextAreaElement).value)}
            onKeyDown={(e) => { if ((e.ctrlKey || e.metaKey) && e.key === "Enter") { e.preventDefault(); run(); } }} />
          <div class="toolbar">
            <button id="sql-run" disabled={busy} onClick={() => run()}>Run (Ctrl+Enter)</button>
            <button disabled={busy} onClick={() => run(/^\s*explain/i.test(sql) ? sql : "EXPLAIN ANALYZE " + sql)}>EXPLAIN ANALYZE</button>
            <RangePicker value={range} onChange={setRange} />
            <select value="" onChange={(e) => { const v = (e.target as HTMLSelectElement).value; if (v) setSql(v); }}>
              <option value="">History ({hist.length})</option>
              {hist.map((h) => <option value={h}>{h.slice(0, 80)}</option>)}
            </select>
          </div>
          {busy && <div class="loading">Running…</div>}
          {err && (typeof err === "string" ? <div class="error">{err}</div> : <ErrorAt sql={err.sql} err={err.err} />)}
          <div id="sql-results">{results?.map((r, i) => <ResultView r={r} i={i} />)}</div>
        </div>
        <aside class="saved">
          <h2>Saved queries</h2>
          <div class="toolbar">
            <input id="saved-name" placeholder="name (A-Z a-z 0-9 _ - .)" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
            <button id="saved-save" onClick={save}>Save</button>
          </div>
          {note && <p class="muted">{note}</p>}
          <Status loading={saved.loading && !saved.data} error={saved.error} />
          <ul id="saved-list">{(saved.data ?? []).map((q) => (
            <li>
              <a href="#" title={q.sql} onClick={(e) => { e.preventDefault(); setSql(q.sql); setName(q.name); setRange(rangeFromPreset(q.range)); }}>{q.name}</a>
              <span class="muted"> {q.range || "all"}</span>
              <button class="small" title="Delete" onClick={async () => { if (confirm(`Delete “${q.name}”?`)) { await deleteQuery(q.name); saved.reload(); } }}>×</button>
            </li>))}
          </ul>
          <p class="muted">Saved on the server, shared by everyone using it; opened with their time range, which you can change before running.</p>
        </aside>
      </div>
    </section>
  );
}
