// Drives the web app in Debian's Chromium (playwright-core, no browser download) against
// a running `streamlake serve`; called by tests/e2e/test_web.py, which checks the
// figures this prints (one JSON object on stdout) against the CLI and SQL.
//
// usage: node web_browser.mjs SERVER_URL PROCESS_ID ARTIFACTS_DIR RANGE_BEGIN_NS RANGE_END_NS
import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";

const [url, pid, outDir, rangeBegin, rangeEnd] = process.argv.slice(2);
const chromiumPath = process.env.SL_CHROMIUM ?? "/usr/bin/chromium";
fs.mkdirSync(outDir, { recursive: true });
const out = { screenshots: [], errors: [] };
const T = Number(process.env.SL_WEB_TIMEOUT_MS ?? 120000);

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

const browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
try {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1400, height: 900 } });
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
  // The same with a custom range and thread spans only.
  await page.selectOption("#trace-kinds", "thread");
  await page.selectOption(".panel .range-preset", "custom");
  await page.fill(".panel .range-begin", rangeBegin);
  await page.press(".panel .range-begin", "Tab");
  await page.fill(".panel .range-end", rangeEnd);
  await page.press(".panel .range-end", "Tab");
  out.download_range = await downloadTrace(path.join(outDir, "web-range-thread.pftrace"));

  // Logs: all, then error and above, then a target and a text filter.
  const logCount = async () => Number((await page.locator("#log-count").innerText()).split(" ")[0]);
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
