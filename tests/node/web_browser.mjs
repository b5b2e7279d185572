// Drives the web app in Debian's Chromium (playwright-core, no browser download) against
// a running `streamlake serve`; called by tests/e2e/test_web.py, which checks the
// figures this prints (one JSON object on stdout) against the CLI and SQL.
//
// usage: node web_browser.mjs SERVER_URL PROCESS_ID ARTIFACTS_DIR RANGE_BEGIN_NS RANGE_END_NS
//            BIG_PROCESS_ID
// BIG_PROCESS_ID: a process whose trace is large enough to cancel mid-generation.  While
// this runs, another loadgen process is writing log lines slowly (the logs page's live tail).
import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";

const [url, pid, outDir, rangeBegin, rangeEnd, bigPid] = process.argv.slice(2);
const chromiumPath = process.env.SL_CHROMIUM ?? "/usr/bin/chromium";
fs.mkdirSync(outDir, { recursive: true });
const out = { screenshots: [], errors: [] };
const T = Number(process.env.SL_WEB_TIMEOUT_MS ?? 120000);

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

const logCountOf = async (pg) => Number((await pg.locator("#log-count").innerText()).split(" ")[0]);

async function traceStats() {
  const st = await (await fetch(`${url}/api/stats`)).json();
  return st.traces;
}

async function until(what, fn) {
  const end = Date.now() + T;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});

// A stand-in for ui.perfetto.dev that speaks its postMessage protocol: it answers PING
// with PONG to the sender, then keeps the {perfetto: {buffer, title}} message it gets.
const FAKE_PERFETTO = `<!doctype html><title>Perfetto UI (test stand-in)</title><body><p id="state">waiting</p><script>
window.__pings = 0; window.__got = null;
addEventListener("message", (e) => {
  if (e.data === "PING") { window.__pings++; e.source.postMessage("PONG", e.origin); return; }
  const p = e.data && e.data.perfetto;
  if (!p || !(p.buffer instanceof ArrayBuffer)) return;
  const u8 = new Uint8Array(p.buffer);
  let bin = "";
  for (let i = 0; i < u8.length; i += 32768) bin += String.fromCharCode.apply(null, u8.subarray(i, i + 32768));
  window.__got = { title: p.title, origin: e.origin, size: u8.length, b64: btoa(bin) };
  document.getElementById("state").textContent = "received " + u8.length + " bytes: " + p.title;
});
</script></body>`;
try {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1400, height: 900 } });
  // Nothing leaves loopback: ui.perfetto.dev is served by the stand-in above, anything
  // else outside the server is aborted and reported.  (The later route wins.)
  const outside = [];
  out.perfetto_requests = 0;
  await context.route((u) => !u.href.startsWith(url), (route) => { outside.push(route.request().url()); return route.abort("blockedbyclient"); });
  await context.route((u) => u.hostname === "ui.perfetto.dev", (route) => {
    out.perfetto_requests++;
    return route.fulfill({ status: 200, contentType: "text/html; charset=utf-8", body: FAKE_PERFETTO });
  });
  const page = await context.newPage();
  page.setDefaultTimeout(T);
  page.on("pageerror", (e) => out.errors.push(`pageerror: ${e.message}`));
  // Failed requests the pages expect (a bad query is 400) are logged by Chromium; not errors here.
  page.on("console", (m) => { if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) out.errors.push(`console: ${m.text()}`); });
  // Nothing may be fetched from outside the server.
  page.on("request", (r) => { if (!r.url().startsWith(url)) out.errors.push(`outside request: ${r.url()}`); });
  const shot = async (name) => {
    const file = path.join(outDir, `${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    out.screenshots.push(file);
  };

  // Processes: the loadgen process is listed, with a link to its page.
  await page.goto(`${url}/processes`);
  await page.waitForSelector(`#process-list a[href="/process/${pid}"]`);
  out.process_list_rows = await page.locator("#process-list tbody tr").count();
  out.process_list_text = await page.locator(`#process-list tbody tr:has(a[href="/process/${pid}"])`).innerText();
  await page.fill('input[type="search"]', "no-such-process-xyz");
  await page.waitForFunction(() => document.querySelectorAll("#process-list tbody tr").length === 0);
  await page.fill('input[type="search"]', pid.slice(0, 13));
  await page.waitForSelector(`#process-list a[href="/process/${pid}"]`);
  await shot("processes");

  // Logs, live tail: a loadgen process still running writes a log line every few ms; with
  // live tail on, the page shows new rows without anything being clicked.
  const deadline = Date.now() + T;
  let live = null;
  while (!live && Date.now() < deadline) {
    const ps = await (await fetch(`${url}/api/processes`)).json();
    live = ps.find((p) => p.process_id !== pid && p.process_id !== bigPid && /loadgen/.test(p.properties?.program ?? ""));
    if (!live) await new Promise((r) => setTimeout(r, 200));
  }
  check(live, "the live loadgen process is listed");
  out.tail_process = live.process_id;
  await page.goto(`${url}/logs?process=${live.process_id}`);
  await page.waitForFunction(() => /entries/.test(document.querySelector("#log-count")?.textContent ?? ""));
  out.tail_first = await logCountOf(page);
  const newest0 = await page.locator("#logs tbody tr td").first().innerText().catch(() => "");
  await page.check("#log-tail");
  await page.waitForFunction((n) => Number(document.querySelector("#log-count").textContent.split(" ")[0]) > n, out.tail_first);
  out.tail_grew_at = Date.now();
  out.tail_second = await logCountOf(page);
  out.tail_newest_changed = (await page.locator("#logs tbody tr td").first().innerText()) !== newest0;
  await shot("logs-tail");
  await page.uncheck("#log-tail");

  // Process: first useful paint = properties and the thread rows drawn, from navigation start.
  await page.goto(`${url}/process/${pid}`);
  await page.waitForFunction(() => document.querySelector("#process-props tr") && document.querySelector("#threads tbody tr"), null, { polling: "raf" });
  out.process_first_paint_ms = await page.evaluate(() => performance.now());
  await page.waitForFunction(() => !document.querySelector("#threads").innerText.includes("…"));
  out.thread_rows = await page.locator("#threads tbody tr").count();
  out.thread_span_counts = await page.$$eval("#threads tbody tr", (rows) => rows.map((r) => Number(r.children[1].textContent.replace(/,/g, ""))));
  await shot("process");

  // Download trace, recording every state of the progress line as it changes.
  async function downloadTrace(file) {
    await page.evaluate(() => {
      window.__progress = [];
      const rec = () => {
        const el = document.querySelector("#trace-progress");
        if (el) window.__progress.push({ state: el.dataset.state, frames: Number(el.dataset.frames), text: el.innerText });
      };
      window.__obs?.disconnect();
      window.__obs = new MutationObserver(rec);
      window.__obs.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    });
    const t0 = Date.now();
    const [dl] = await Promise.all([page.waitForEvent("download", { timeout: T }), page.click("#download-trace")]);
    await dl.saveAs(file);
    const ms = Date.now() - t0;
    await page.waitForSelector('#trace-progress[data-state="done"]');
    const log = await page.evaluate(() => window.__progress);
    const firstDone = log.findIndex((x) => x.state === "done");
    const before = log.slice(0, firstDone < 0 ? log.length : firstDone);
    return { file, ms, progress_states: log.length,
      running_with_frames: before.filter((x) => x.state === "running" && x.frames > 0).length,
      last_running: before.filter((x) => x.state === "running").pop()?.text ?? "",
      done_text: log[firstDone]?.text ?? "" };
  }
  out.download_all = await downloadTrace(path.join(outDir, "web-all.pftrace"));
  await shot("process-downloaded");
  // Text typed into a new range box in the task that made it stays (an effect run a
  // frame after mounting once wiped it: a download then lost its begin).
  out.range_same_task = await page.evaluate(async () => {
    const sel = document.querySelector(".panel .range-preset");
    sel.value = "custom";
    sel.dispatchEvent(new Event("change", { bubbles: true }));
    for (let i = 0; i < 10 && !document.querySelector(".panel .range-begin"); i++) await Promise.resolve();
    const box = document.querySelector(".panel .range-begin");
    if (!box) return "no box";
    box.value = "123";
    box.dispatchEvent(new Event("input", { bubbles: true }));
    await new Promise((r) => setTimeout(r, 300));
    const kept = document.querySelector(".panel .range-begin").value;
    sel.value = "all";
    sel.dispatchEvent(new Event("change", { bubbles: true }));
    return kept;
  });
  // The same with a custom range and thread spans only.
  await page.selectOption("#trace-kinds", "thread");
  await page.selectOption(".panel .range-preset", "custom");
  // typed at once after the inputs appear (an effect that wiped a fresh input's text
  // a frame later lost the begin: the download then had every span before the end)
  await page.fill(".panel .range-begin", rangeBegin);
  await page.press(".panel .range-begin", "Tab");
  await page.fill(".panel .range-end", rangeEnd);
  await page.press(".panel .range-end", "Tab");
  await page.waitForTimeout(100);
  out.range_inputs = [await page.inputValue(".panel .range-begin"), await page.inputValue(".panel .range-end")];
  out.download_range = await downloadTrace(path.join(outDir, "web-range-thread.pftrace"));

  // Open in Perfetto, same kinds and range: a new tab (the stand-in) gets the PING/PONG
  // handshake and then the trace's bytes.
  const [tab] = await Promise.all([context.waitForEvent("page"), page.click("#open-perfetto")]);
  await tab.waitForFunction(() => window.__got !== null, null, { timeout: T });
  const got = await tab.evaluate(() => window.__got);
  out.perfetto = { file: path.join(outDir, "web-perfetto.pftrace"), title: got.title, origin: got.origin,
    size: got.size, pings: await tab.evaluate(() => window.__pings), url: tab.url() };
  fs.writeFileSync(out.perfetto.file, Buffer.from(got.b64, "base64"));
  await page.waitForSelector('#trace-progress[data-state="done"]');
  out.perfetto.done_text = await page.locator("#trace-progress").innerText();
  await tab.screenshot({ path: path.join(outDir, "perfetto-tab.png") });
  out.screenshots.push(path.join(outDir, "perfetto-tab.png"));
  await tab.close();
  await page.bringToFront(); // a tab in the background is not painted: no screenshot
  await shot("process-perfetto");

  // A pop-up blocker refusing the tab: window.open answers null, as it does when a
  // browser blocks it (headless Chromium under playwright lets every tab open); the page
  // says what happened and what to do, and opens nothing.
  const pagesBefore = context.pages().length;
  await page.evaluate(() => { window.__open = window.open; window.open = () => null; });
  await page.click("#open-perfetto");
  await page.waitForSelector('#trace-progress[data-state="error"]');
  out.popup_blocked_text = await page.locator("#trace-progress .error").innerText();
  out.popup_blocked_tabs = context.pages().length - pagesBefore;
  await shot("process-popup-blocked");
  await page.evaluate(() => { window.open = window.__open; });

  // Cancel: a large trace, read slowly (the network throttled to 64 KB/s, so the server's
  // generator waits on the connection), cancelled from the page after its first progress
  // frames; the server closes the generator (running back to 0, cancelled + 1, no trace
  // counted as served) and no progress arrives after.
  const before = await traceStats();
  await page.goto(`${url}/process/${bigPid}`);
  await page.waitForSelector("#download-trace");
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: 65536, uploadThroughput: -1 });
  await page.click("#download-trace");
  await page.waitForFunction(() => Number(document.querySelector("#trace-progress")?.dataset.frames ?? 0) > 0);
  out.cancel_running_seen = (await until("the generator running on the server", async () => (await traceStats()).running >= 1 && true)) === true;
  await page.click("#cancel-trace");
  await page.waitForSelector('#trace-progress[data-state="error"]');
  out.cancel_text = await page.locator("#trace-progress .error").innerText();
  const frames0 = Number(await page.getAttribute("#trace-progress", "data-frames"));
  const after = await until("the server to close the generator", async () => {
    const t = await traceStats();
    return t.running === 0 && t.cancelled > before.cancelled ? t : null;
  });
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await page.waitForTimeout(1500);
  out.cancel = { cancelled: after.cancelled - before.cancelled, served: after.count - before.count,
    frames_at_cancel: frames0, frames_later: Number(await page.getAttribute("#trace-progress", "data-frames")),
    mb_shown: await page.locator("#trace-progress").innerText() };
  await shot("process-cancelled");
  await cdp.detach();

  // Logs: all, then error and above, then a target and a text filter.
  const logCount = () => logCountOf(page);
  await page.goto(`${url}/logs?process=${pid}`);
  await page.waitForFunction(() => /entries/.test(document.querySelector("#log-count")?.textContent ?? ""));
  out.logs_all = await logCount();
  await page.selectOption("#log-level", "2");
  await page.waitForFunction((n) => /entries/.test(document.querySelector("#log-count").textContent) &&
    Number(document.querySelector("#log-count").textContent.split(" ")[0]) !== n, out.logs_all);
  out.logs_error = await logCount();
  out.logs_error_levels = [...new Set(await page.$$eval("#logs tbody tr", (rows) => rows.map((r) => r.children[1].textContent)))];
  await shot("logs-error");
  await page.selectOption("#log-level", "6");
  await page.fill("#log-text", "checkpoint");
  await page.press("#log-text", "Tab");
  await page.waitForFunction(() => [...document.querySelectorAll("#logs tbody tr td.msg")].every((td) => td.textContent.includes("checkpoint")) &&
    /entries/.test(document.querySelector("#log-count").textContent));
  out.logs_text = await logCount();
  await page.fill("#log-target", "no-such-target");
  await page.press("#log-target", "Tab");
  await page.waitForFunction(() => document.querySelector("#log-count").textContent.startsWith("0 entries"));
  out.logs_target_none = await logCount();
  await shot("logs");

  // Metrics: the chart's canvas is drawn with the first metric's points.
  await page.goto(`${url}/charts?process=${pid}`);
  await page.waitForSelector("#metric-chart canvas");
  out.metric_points = Number(await page.getAttribute("#metric-chart", "data-points"));
  out.metric_painted_pixels = await page.$eval("#metric-chart canvas", (c) => {
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i + 2] > 150 && d[i] < 80 && d[i + 3] > 0) n++; // the first series' blue
    return n;
  });
  await shot("metrics");
  // Dragging across the chart zooms: the range becomes that interval and the chart is redrawn.
  const box = await page.locator("#metric-chart .u-over").boundingBox();
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.7, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  await page.waitForSelector("text=Reset zoom");
  await page.waitForSelector("#metric-chart canvas");
  out.metric_zoom_begin = await page.inputValue(".range-begin");

  // Flame graph of the thread spans: its root's value.
  await page.goto(`${url}/flame?process=${pid}`);
  await page.waitForSelector('#flame-total[data-kinds="both"]');
  await page.selectOption("#flame-kinds", "thread");
  await page.waitForSelector('#flame-total[data-kinds="thread"]');
  await page.waitForSelector("#flame svg g");
  out.flame_root_ns = Number(await page.getAttribute("#flame-total", "data-ns"));
  const frame = page.locator("#flame svg g").nth(1);
  await frame.hover();
  out.flame_hover = await page.locator("#flame-detail").innerText();
  await frame.click();
  await page.fill("#flame-search", "step");
  await shot("flame");
  // Its exports: folded text, d3-flame-graph JSON and the SVG drawn.
  out.flame_exports = {};
  for (const [key, label] of [["folded", "Export folded"], ["json", "Export JSON"], ["svg", "Export SVG"]]) {
    const [dl] = await Promise.all([page.waitForEvent("download"), page.click(`text=${label}`)]);
    const file = path.join(outDir, `web-flame.${key}`);
    await dl.saveAs(file);
    out.flame_exports[key] = { file, name: dl.suggestedFilename() };
  }

  // Report.
  await page.goto(`${url}/report?process=${pid}`);
  await page.waitForSelector("#report h2");
  out.report_sections = await page.locator("#report h2").count();
  await shot("report");

  // SQL: a query, its EXPLAIN ANALYZE tree, a bad one with its position, a saved query.
  await page.goto(`${url}/sql`);
  await page.fill("#sql-editor", `SELECT count(*) AS n FROM log_entries WHERE process_id = '${pid}'`);
  await page.click("#sql-run");
  await page.waitForSelector(".sql-result tbody td");
  out.sql_value = Number(await page.locator(".sql-result tbody td").first().innerText());
  const [csv] = await Promise.all([page.waitForEvent("download"), page.click("text=Download CSV")]);
  out.sql_csv = fs.readFileSync(await csv.path(), "utf8");
  await page.click("text=EXPLAIN ANALYZE");
  await page.waitForSelector("#plan-tree li");
  out.plan_nodes = await page.locator("#plan-tree li").count();
  await page.fill("#sql-editor", "SELECT nme FROM processes");
  await page.click("#sql-run");
  await page.waitForSelector("#sql-error-pos");
  out.sql_error_position = Number(await page.getAttribute("#sql-error-pos", "data-position"));
  out.sql_error_char = await page.locator("#sql-error-pos").innerText();
  out.sql_error_text = await page.locator("#sql-error").innerText();
  await shot("sql-error");
  await page.fill("#sql-editor", "SELECT date_bin(interval '1 second', time, timestamptz '2000-01-01 00:00:00+00') AS t, count(*) AS n FROM log_entries GROUP BY 1 ORDER BY 1");
  await page.fill("#saved-name", "browser-test");
  await page.click("#saved-save");
  await page.waitForSelector('#saved-list a:has-text("browser-test")');
  await page.click("#sql-run");
  await page.waitForSelector(".sql-result tbody td");
  await shot("sql");

  // Jobs: a clear state when there are none; then a job over the live telemetry,
  // stopped and started again from its row.
  await page.goto(`${url}/jobs`);
  await page.waitForSelector("#jobs, #jobs-state");
  out.jobs_state = (await page.locator("#jobs-state").count()) ? await page.locator("#jobs-state").innerText() : "table";
  const made = await fetch(`${url}/api/query?format=json`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ sql: "CREATE TABLE web_spans (name text, \"end\" timestamptz) WITH (connector = 'telemetry', view = 'thread_spans', event_time = 'end', max_delay = '1 second'); CREATE MATERIALIZED VIEW web_counts AS SELECT name, window_start, count(*) AS n FROM tumble(web_spans, \"end\", INTERVAL '10 seconds') GROUP BY name, window_start" }),
  });
  check(made.ok, `job created: ${made.status} ${await made.text()}`);
  const row = 'tr[data-job="web_counts"]';
  await page.waitForSelector(`${row}[data-state="running"]`);
  await shot("jobs");
  await page.click(`${row} .job-stop`);
  await page.waitForSelector(`${row}[data-state="stopped"]`);
  out.job_stopped = true;
  await page.click(`${row} .job-start`);
  await page.waitForSelector(`${row}[data-state="running"]`);
  out.job_restarted = true;
  out.outside_requests = outside;
  check(out.errors.length === 0, `no page errors: ${out.errors.join("; ")}`);
} catch (e) {
  // Keep what the page showed when a step failed.
  for (const ctx of browser.contexts()) for (const pg of ctx.pages())
    await pg.screenshot({ path: path.join(outDir, "failure.png"), fullPage: true }).catch(() => {});
  console.error(`web_browser: ${e.message}; page errors: ${out.errors.join("; ") || "none"}; screenshot ${path.join(outDir, "failure.png")}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
if (!process.exitCode) console.log(JSON.stringify(out));
