import { query } from "../api";
import { Status, useLoad } from "../util";

// Continuous-SQL jobs, read from the `jobs` table through POST /api/query.
export function JobsPage() {
  const st = useLoad(async (s) => {
    const [res] = await query("SELECT * FROM jobs", { signal: s }).catch((e) => [{ columns: [], rows: [], error: { sqlstate: "", message: String(e.message) } }]);
    return res;
  }, []);
  const missing = st.data?.error && /does not exist|unknown|42P01/i.test(st.data.error.message + st.data.error.sqlstate);
  return (
    <section>
      <h1>Jobs</h1>
      <div class="toolbar"><button onClick={st.reload}>Refresh</button></div>
      <Status loading={st.loading && !st.data} error={st.data?.error && !missing ? st.data.error.message : st.error} />
      {missing && <p class="muted" id="jobs-state">Jobs are not available on this server (no <code>jobs</code> table).</p>}
      {st.data && !st.data.error && st.data.rows.length === 0 && <p class="muted" id="jobs-state">No jobs.</p>}
      {st.data && !st.data.error && st.data.rows.length > 0 &&
        <table class="grid" id="jobs"><thead><tr>{st.data.columns.map((c) => <th>{c.name}</th>)}</tr></thead>
          <tbody>{st.data.rows.map((r) => <tr>{r.map((v) => <td>{v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v)}</td>)}</tr>)}</tbody></table>}
    </section>
  );
}
