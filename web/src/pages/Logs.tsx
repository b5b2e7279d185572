import { useEffect, useState } from "preact/hooks";
import { processes, rows } from "../api";
import { CommitInput, fmtTime, Link, ProcessPicker, RangePicker, rangeFromPreset, resolveRange, Status, useLoad, useQueryParam } from "../util";

const LEVELS = ["", "fatal", "error", "warn", "info", "debug", "trace"];

interface LogRow { time: string; level: number; target: string; msg: string; exe: string; process_id: string }

export function LogsPage() {
  const [proc, setProc] = useState(useQueryParam("process") ?? "");
  const [level, setLevel] = useState(6);
  const [target, setTarget] = useState("");
  const [text, setText] = useState("");
  const [range, setRange] = useState(rangeFromPreset("all"));
  const [tail, setTail] = useState(false);
  const [limit, setLimit] = useState(500);
  const procs = useLoad((s) => processes(s), []);
  const st = useLoad(async (s) => {
    const where = ["level <= $1"];
    const params: unknown[] = [level];
    if (proc) { params.push(proc); where.push(`process_id = $${params.length}`); }
    if (target) { params.push(`%${target}%`); where.push(`target ILIKE $${params.length}`); }
    if (text) { params.push(`%${text}%`); where.push(`msg ILIKE $${params.length}`); }
    return rows<LogRow>(`SELECT time, level, target, msg, exe, process_id FROM log_entries WHERE ${where.join(" AND ")} ORDER BY time DESC LIMIT ${limit}`,
      { params, range: resolveRange(range), signal: s });
  }, [proc, level, target, text, range, limit]);
  useEffect(() => {
    if (!tail) return;
    const t = setInterval(st.reload, 2000);
    return () => clearInterval(t);
  }, [tail, proc, level, target, text, range, limit]);
  return (
    <section>
      <h1>Logs</h1>
      <div class="toolbar">
        <ProcessPicker value={proc} onChange={setProc} processes={procs.data ?? []} />
        <label>Level <select id="log-level" value={level} onChange={(e) => setLevel(Number((e.target as HTMLSelectElement).value))}>
          {LEVELS.slice(1).map((l, i) => <option value={i + 1}>{l}{i + 1 < 6 ? " and above" : " (all)"}</option>)}
        </select></label>
        <CommitInput id="log-target" placeholder="target contains" value={target} onCommit={setTarget} />
        <CommitInput id="log-text" placeholder="message contains" value={text} onCommit={setText} />
        <RangePicker value={range} onChange={setRange} />
        <label><input type="checkbox" id="log-tail" checked={tail} onChange={(e) => setTail((e.target as HTMLInputElement).checked)} /> live tail</label>
      </div>
      <Status loading={st.loading && !st.data} error={st.error} />
      <p class="muted" id="log-count">{st.data ? `${st.data.length} entries, newest first${st.data.length === limit ? ` (first ${limit})` : ""}` : ""}</p>
      <table class="grid logs" id="logs">
        <thead><tr><th>Time</th><th>Level</th><th>Target</th><th>Message</th><th>Process</th></tr></thead>
        <tbody>{(st.data ?? []).map((r) => (
          <tr class={`lvl-${LEVELS[r.level] ?? r.level}`}>
            <td class="nowrap">{fmtTime(r.time)}</td><td>{LEVELS[r.level] ?? r.level}</td><td>{r.target}</td>
            <td class="msg">{r.msg}</td><td><Link href={`/process/${r.process_id}`}>{r.exe.split("/").pop()}</Link></td>
          </tr>))}
        </tbody>
      </table>
      {st.data?.length === limit && <button onClick={() => setLimit(limit * 2)}>More</button>}
    </section>
  );
}
