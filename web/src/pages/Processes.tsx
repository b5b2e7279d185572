import { useState } from "preact/hooks";
import { apiFetch, processes, Process } from "../api";
import { fmtBytes, fmtInt, fmtTime, Link, RangePicker, rangeFromPreset, resolveRange, Status, useLoad } from "../util";

type Key = "exe" | "computer" | "username" | "start_time_ns" | "last_ns" | "thread_count" | "event_count";

export function ProcessesPage() {
  const [search, setSearch] = useState("");
  const [range, setRange] = useState(rangeFromPreset("all"));
  const [sort, setSort] = useState<{ key: Key; desc: boolean }>({ key: "start_time_ns", desc: true });
  const st = useLoad(async (s) => {
    const list = await processes(s);
    // Last activity: the newest block end per process (GET /api/processes has none).
    const last = new Map<string, number>();
    try {
      const res = await apiFetch("/api/query?format=json", {
        method: "POST", signal: s, headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ sql: "SELECT process_id, max(end_time) AS last FROM blocks GROUP BY process_id" }),
      });
      if (res.ok) for (const line of (await res.text()).split("\n")) {
        if (line.startsWith("[")) { const [id, t] = JSON.parse(line); last.set(id, Date.parse(t) * 1e6); }
      }
    } catch { /* the column stays empty */ }
    return list.map((p) => ({ ...p, last_ns: last.get(p.process_id) ?? p.insert_time_ns }));
  }, []);
  const r = resolveRange(range);
  const b = r.begin ? Date.parse(r.begin) * 1e6 : -Infinity, e = r.end ? Date.parse(r.end) * 1e6 : Infinity;
  const q = search.toLowerCase();
  const list = (st.data ?? [])
    .filter((p) => p.last_ns >= b && p.start_time_ns <= e)
    .filter((p) => !q || [p.exe, p.computer, p.username, p.process_id, p.distro].some((f) => f.toLowerCase().includes(q)))
    .sort((x, y) => {
      const a = x[sort.key] as string | number, c = y[sort.key] as string | number;
      return (a < c ? -1 : a > c ? 1 : 0) * (sort.desc ? -1 : 1);
    });
  const th = (key: Key, label: string) => (
    <th class="sortable" onClick={() => setSort({ key, desc: sort.key === key ? !sort.desc : true })}>
      {label}{sort.key === key ? (sort.desc ? " ▼" : " ▲") : ""}</th>);
  return (
    <section>
      <h1>Processes</h1>
      <div class="toolbar">
        <input type="search" placeholder="Search exe, computer, user, id" value={search}
          onInput={(ev) => setSearch((ev.target as HTMLInputElement).value)} />
        <RangePicker value={range} onChange={setRange} />
        <button onClick={st.reload}>Refresh</button>
        <span class="muted">{list.length} of {st.data?.length ?? 0}</span>
      </div>
      <Status loading={st.loading && !st.data} error={st.error} />
      <table class="grid" id="process-list">
        <thead><tr>{th("exe", "Exe")}{th("computer", "Computer")}{th("username", "User")}
          {th("start_time_ns", "Start")}{th("last_ns", "Last activity")}{th("thread_count", "Threads")}
          {th("event_count", "Events")}<th>Data</th></tr></thead>
        <tbody>{list.map((p: Process & { last_ns: number }) => (
          <tr>
            <td><Link href={`/process/${p.process_id}`}>{p.exe}</Link></td>
            <td>{p.computer}</td><td>{p.username}</td><td>{fmtTime(p.start_time)}</td>
            <td>{fmtTime(p.last_ns)}</td><td class="num">{fmtInt(p.thread_count)}</td>
            <td class="num">{fmtInt(p.event_count)}</td><td class="num">{fmtBytes(p.payload_bytes)}</td>
          </tr>))}
        </tbody>
      </table>
      {st.data && list.length === 0 && <p class="muted">No process matches.</p>}
    </section>
  );
}
