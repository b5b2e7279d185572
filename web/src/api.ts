// Every call the app makes: the server's documented routes (docs/internals/http-api.md).

export interface Process {
  process_id: string; exe: string; computer: string; username: string; realname: string;
  distro: string; cpu_brand: string; start_time: string; start_time_ns: number;
  parent_process_id: string | null; properties: Record<string, string>;
  insert_time: string; insert_time_ns: number; thread_count: number; stream_count: number;
  block_count: number; event_count: number; payload_bytes: number; tsc_frequency: number;
}

export interface Stream {
  stream_id: string; process_id: string; tags: string[]; thread_id: string | null;
  thread_name: string | null; properties: Record<string, string>; insert_time: string;
  block_count: number; event_count: number; payload_bytes: number;
}

export interface Range { begin?: string; end?: string }

export interface Column { name: string; type: string; oid: number }
export interface SqlError { sqlstate: string; message: string; position?: number; detail?: string; hint?: string }
export interface Result { columns: Column[]; rows: unknown[][]; tag?: string; ms?: number; error?: SqlError }

export class HttpError extends Error {
  constructor(public status: number, message: string, public sql?: SqlError) { super(message); }
}

// API keys (docs/web.md): when the server has keys (serve --keys), every data route wants
// "Authorization: Bearer KEY". The key is asked once, on the first 401, and kept for the
// browser tab's session only (sessionStorage), never in the page's URL or on disk.
const KEY_ITEM = "streamlake.key";

function withKey(init: RequestInit): RequestInit {
  const key = sessionStorage.getItem(KEY_ITEM);
  if (!key) return init;
  const headers = new Headers(init.headers);
  headers.set("Authorization", `Bearer ${key}`);
  return { ...init, headers };
}

export async function apiFetch(path: string, init: RequestInit = {}): Promise<Response> {
  const r = await fetch(path, withKey(init));
  if (r.status !== 401 || typeof init.body === "object" && init.body !== null) return r;
  const key = window.prompt("This server wants an API key (streamlake keys add ...):");
  if (!key) return r;
  sessionStorage.setItem(KEY_ITEM, key.trim());
  return fetch(path, withKey(init));
}

async function check(r: Response): Promise<Response> {
  if (r.ok) return r;
  const text = await r.text();
  let sql: SqlError | undefined;
  try { sql = JSON.parse(text).error; } catch { /* a one-line text reason */ }
  throw new HttpError(r.status, sql ? sql.message : text.trim() || r.statusText, sql);
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  return (await check(await apiFetch(path, { signal }))).json();
}

export const processes = (s?: AbortSignal) => getJson<Process[]>("/api/processes", s);
export const streams = (id: string, s?: AbortSignal) => getJson<Stream[]>(`/api/processes/${id}/streams`, s);

// POST /api/query: JSON lines, one result per statement.
export async function query(sql: string, opts: { params?: unknown[]; range?: Range; signal?: AbortSignal } = {}): Promise<Result[]> {
  const body: Record<string, unknown> = { sql };
  if (opts.params) body.params = opts.params;
  if (opts.range?.begin) body.begin = opts.range.begin;
  if (opts.range?.end) body.end = opts.range.end;
  const r = await check(await apiFetch("/api/query?format=json", {
    method: "POST", body: JSON.stringify(body), signal: opts.signal,
    headers: { "Content-Type": "application/json" },
  }));
  const out: Result[] = [];
  let cur: Result | null = null;
  for (const line of (await r.text()).split("\n")) {
    if (!line) continue;
    const v = JSON.parse(line);
    if (Array.isArray(v)) {
      if (!cur) { cur = { columns: [], rows: [] }; out.push(cur); }
      cur.rows.push(v);
    } else if (v.columns) {
      cur = { columns: v.columns, rows: [] }; out.push(cur);
    } else if (v.end) {
      if (!cur) { cur = { columns: [], rows: [] }; out.push(cur); }
      cur.tag = v.end.tag; cur.ms = v.end.ms; cur = null;
    } else if (v.error) {
      if (!cur) { cur = { columns: [], rows: [] }; out.push(cur); }
      cur.error = v.error; cur = null;
    }
  }
  return out;
}

/** The rows of the first statement as objects; throws on an SQL error. */
export async function rows<T = Record<string, unknown>>(sql: string, opts: Parameters<typeof query>[1] = {}): Promise<T[]> {
  const [res] = await query(sql, opts);
  if (!res) return [];
  if (res.error) throw new HttpError(400, res.error.message, res.error);
  return res.rows.map((r) => Object.fromEntries(res.columns.map((c, i) => [c.name, r[i]])) as T);
}

export interface SavedQuery { name: string; sql: string; description: string; range: string; updated_ns: number }

export async function savedQueries(): Promise<SavedQuery[]> {
  return (await getJson<{ queries: SavedQuery[] }>("/api/saved-queries")).queries;
}

export async function saveQuery(q: { name: string; sql: string; description?: string; range?: string }, createOnly: boolean): Promise<SavedQuery> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (createOnly) headers["If-None-Match"] = "*";
  const r = await check(await apiFetch(`/api/saved-queries/${encodeURIComponent(q.name)}`, {
    method: "PUT", headers, body: JSON.stringify({ sql: q.sql, description: q.description ?? "", range: q.range ?? "" }),
  }));
  return r.json();
}

export async function deleteQuery(name: string): Promise<void> {
  await check(await apiFetch(`/api/saved-queries/${encodeURIComponent(name)}`, { method: "DELETE" }));
}

// POST /api/perfetto/{id}/generate: the frame stream (docs/internals/perfetto.md section 10).
export interface Progress {
  kind: string; index?: number; count: number; name?: string; spans: number; bytes: number;
  error?: string; message?: string;
}

export interface TraceRequest {
  range: Range; thread: boolean; async: boolean; signal: AbortSignal;
  onProgress: (p: Progress, received: number) => void;
}

export interface TraceResult { bytes: Uint8Array; summary: Record<string, unknown> }

function rangeValue(v?: string): string | number | null {
  if (!v) return null;
  return /^-?\d+$/.test(v) ? Number(v) : v;
}

export async function generateTrace(id: string, t: TraceRequest): Promise<TraceResult> {
  const body = {
    time_range: t.range.begin || t.range.end ? { begin: rangeValue(t.range.begin), end: rangeValue(t.range.end) } : null,
    include_thread_spans: t.thread, include_async_spans: t.async,
  };
  const r = await check(await apiFetch(`/api/perfetto/${id}/generate`, {
    method: "POST", body: JSON.stringify(body), signal: t.signal,
    headers: { "Content-Type": "application/json" },
  }));
  const reader = r.body!.getReader();
  const dec = new TextDecoder();
  let buf = new Uint8Array(1 << 16), len = 0;
  const parts: Uint8Array[] = [];
  let received = 0, headerSeen = false;
  let summary: Record<string, unknown> | null = null;
  for (;;) {
    const { done, value } = await reader.read();
    if (value) {
      if (len + value.length > buf.length) {
        const next = new Uint8Array(Math.max(buf.length * 2, len + value.length));
        next.set(buf.subarray(0, len)); buf = next;
      }
      buf.set(value, len); len += value.length;
    }
    let off = 0;
    if (!headerSeen && len >= 8) {
      if (dec.decode(buf.subarray(0, 4)) !== "SLPF") throw new Error("not a frame stream");
      headerSeen = true; off = 8;
    }
    while (headerSeen && len - off >= 8) {
      const dv = new DataView(buf.buffer, buf.byteOffset + off);
      const type = dv.getUint8(0);
      const flen = dv.getUint32(4, true);
      if (len - off < 8 + flen) break;
      const payload = buf.subarray(off + 8, off + 8 + flen);
      off += 8 + flen;
      if (type === 2) {
        const data = payload.slice(8);
        received += data.length; parts.push(data);
      } else if (type === 1) {
        t.onProgress(JSON.parse(dec.decode(payload)), received);
      } else if (type === 3) {
        summary = JSON.parse(dec.decode(payload));
      } else if (type === 4) {
        const err = JSON.parse(dec.decode(payload));
        throw new Error(`${err.error}: ${err.message}`);
      }
    }
    buf.copyWithin(0, off, len); len -= off;
    if (done) break;
  }
  if (!summary) throw new Error("the trace stream was cut short");
  const bytes = new Uint8Array(received);
  let at = 0;
  for (const p of parts) { bytes.set(p, at); at += p.length; }
  return { bytes, summary };
}
