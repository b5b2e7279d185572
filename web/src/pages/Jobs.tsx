import { useEffect, useState } from "preact/hooks";
import { apiFetch, query } from "../api";
import { Status, useLoad } from "../util";

// Continuous-SQL jobs: the `jobs` table through POST /api/query, refreshed every two
// seconds; Stop and Start call POST /api/jobs/{name}/stop|start (docs/internals/http-api.md).
export function JobsPage() {
  const st = useLoad(async (s) => {
    const [res] = await query("SELECT * FROM jobs ORDER BY name", { signal: s }).catch((e) => [{ columns: [], rows: [], error: { sqlstate: "", message: String(e.message) } }]);
    return res;
  }, []);
  const [actionError, setActionError] = useState<string | null>(null);
  useEffect(() => {
    const t = setInterval(() => st.reload(), 2000);
    return () => clearInterval(t);
  }, []);
  const missing = st.data?.error && /does not exist|unknown|42P01/i.test(st.data.error.message + st.data.error.sqlstate);
  const cols = st.data?.columns ?? [];
  const nameAt = cols.findIndex((c) => c.name === "name");
  const stateAt = cols.findIndex((c) => c.name === "state");
  async function act(name: string, op: "stop" | "start") {
    setActionError(null);
    const r = await apiFetch(`/api/jobs/${encodeURIComponent(name)}/${op}`, { method: "POST" });
    if (!r.ok) setActionError(`${op} ${name}: ${(await r.text()).trim() || r.statusText}`);
    st.reload();
  }
  return (
    <section>
      <h1>Jobs</h1>
      <div class="toolbar"><button onClick={st.reload}>Refresh</button></div>
      <Status loading={st.loading && !st.data} error={actionError ?? (st.data?.error && !missing ? st.data.error.message : st.error)} />
      {missing && <p class="muted" id="jobs-state">Jobs are not available on this server (no <code>jobs</code> table).</p>}
      {st.data && !st.data.error && st.data.rows.length === 0 && <p class="muted" id="jobs-state">No jobs.</p>}
      {st.data && !st.data.error && st.data.rows.length > 0 &&
        <table class="grid" id="jobs"><thead><tr><th></th>{cols.map((c) => <th>{c.name}</th>)}</tr></thead>
          <tbody>{st.data.rows.map((r) => {
            const name = String(r[nameAt]);
            const state = String(r[stateAt]);
            return <tr data-job={name} data-state={state}>
              <td>{state === "running"
                ? <button class="job-stop" onClick={() => act(name, "stop")}>Stop</button>
                : <button class="job-start" onClick={() => act(name, "start")}>Start</button>}</td>
              {r.map((v) => <td>{v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v)}</td>)}
            </tr>;
          })}</tbody></table>}
    </section>
  );
}
