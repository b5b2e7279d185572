#!/usr/bin/env bash
# The main job of `make demo`: a fresh server on a free loopback port, a 50-thread
# instrumented process recording into it, a summary of what was stored, reads of
# the lake and a Perfetto trace of the process (demo.pftrace), and questions
# answered in SQL (the slowest span names with their p99, logs per level); then a
# crash (kill -9) after more telemetry, from which a continuous job resumes.
# Keeps serving until Ctrl-C; with DEMO_ONCE=1 it stops once these steps are done.
#
#   DEMO_DATA=dir       data directory (default ./demo-data, emptied first)
#   DEMO_THREADS=50 DEMO_SPANS=20000 DEMO_ASYNC=200 DEMO_LOGS=200 DEMO_METRICS=200
#   DEMO_BIN=path       the streamlake binary (default build/streamlake)
#   DEMO_TRACE=path     where the Perfetto trace goes (default demo.pftrace)
#   DEMO_EVENTS=2000000 events of each Nexmark generator (the joins' input)
# A step that waits for a job and gives up says so on stderr ("demo: ...") and
# the demo then exits with status 3 once its steps are done.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${DEMO_BIN:-build/streamlake}
trace=${DEMO_TRACE:-demo.pftrace}
events=${DEMO_EVENTS:-2000000}
late=0
gave_up() { echo "demo: $*" >&2; late=1; }
data=${DEMO_DATA:-demo-data}
threads=${DEMO_THREADS:-50}
spans=${DEMO_SPANS:-20000}

rm -rf "$data"
mkdir -p "$data"
# start_server LOG: a server over $data logging to LOG; sets server_pid, url, pg_port
start_server() {
  log=$1
  "$bin" serve --data "$data" --listen 127.0.0.1:0 --pg-listen 127.0.0.1:0 >"$log" 2>&1 &
  server_pid=$!
  url=""
  for _ in $(seq 1 100); do
    url=$(sed -n 's/^streamlake: listening on \(http:[^ ]*\).*/\1/p' "$log" | head -1)
    [ -n "$url" ] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$url" ] || { echo "demo: the server did not start" >&2; cat "$log" >&2; exit 1; }
  pg_port=$(sed -n 's/^streamlake: postgres on [0-9.]*:\([0-9]*\)$/\1/p' "$log" | head -1)
}
stop_server() { kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true; }
start_server "$data/server.log"
trap stop_server EXIT
echo "== server on $url, data in $data/"

echo "== a continuous job over the live telemetry: span counts and p99 per name per 10 s window"
"$bin" sql --server "$url" "CREATE TABLE live_spans (name text, \"end\" timestamptz, duration bigint)
  WITH (connector = 'telemetry', view = 'thread_spans', event_time = 'end',
        max_delay = '2 seconds', idle_timeout = '1 second');
CREATE MATERIALIZED VIEW span_stats AS
  SELECT name, window_start, count(*) AS spans,
         round((approx_percentile(duration, 0.99) / 1000)::numeric, 1) AS p99_us
  FROM tumble(live_spans, \"end\", INTERVAL '10 seconds') GROUP BY name, window_start;
CREATE MATERIALIZED VIEW span_totals AS
  SELECT name, sum(spans) AS spans, max(p99_us) AS worst_p99_us
  FROM span_stats GROUP BY name;
CREATE TABLE live_logs (level int, time timestamptz)
  WITH (connector = 'telemetry', view = 'log_entries', event_time = 'time', max_delay = '1 minute');
CREATE MATERIALIZED VIEW logs_per_level WITH (emit = 'on_update') AS
  SELECT level, count(*) AS lines FROM live_logs GROUP BY level"
echo "   (span_totals reads the view span_stats as a stream: its rows, updated as each window closes;"
echo "    logs_per_level counts log lines per level as they come, with checkpoints)"
echo "== loadgen: $threads threads, $spans spans each"
"$bin" loadgen --server "$url" --threads "$threads" --spans "$spans" --depth 6 \
  --async "${DEMO_ASYNC:-200}" --logs "${DEMO_LOGS:-200}" --metrics "${DEMO_METRICS:-200}" \
  | tee "$data/loadgen.txt"
pid=$(awk '/^process_id/ {print $2}' "$data/loadgen.txt")

loadgen_end=$(date -u +%s)
echo "== the continuous job: its windows close once the telemetry stops (idle rule, docs/streaming.md)"
for _ in $(seq 1 40); do
  closed=$("$bin" sql --server "$url" --format csv "SELECT coalesce(extract(epoch FROM watermark) >= $loadgen_end + 10, false) FROM jobs WHERE name = 'span_stats'" | tail -1)
  [ "$closed" = "t" ] && break
  sleep 0.5
done
[ "$closed" = "t" ] || gave_up "span_stats's last window did not close within 20 s"
for _ in $(seq 1 40); do # the job reading the view catches up with its last windows
  same=$("$bin" sql --server "$url" --format csv "SELECT (SELECT sum(spans) FROM span_totals) = (SELECT sum(spans) FROM span_stats)" | tail -1)
  [ "$same" = "t" ] && break
  sleep 0.25
done
[ "$same" = "t" ] || gave_up "span_totals did not catch up with span_stats within 10 s"
"$bin" job list --server "$url"
"$bin" sql --server "$url" "SELECT * FROM span_stats ORDER BY window_start, spans DESC LIMIT 12;
SELECT * FROM span_totals ORDER BY spans DESC, name LIMIT 6"

echo "== a join of two streams on the server's workers: Nexmark q7, each 10 s window's highest bids"
"$bin" sql --server "$url" "CREATE TABLE bid (auction bigint, bidder bigint, price bigint, date_time timestamp)
  WITH (connector = 'nexmark', kind = 'bid', events = $events);
CREATE MATERIALIZED VIEW highest_bid AS
  SELECT b.auction, b.price, b.bidder, b.window_end
  FROM tumble(bid, date_time, INTERVAL '10 seconds') b
  JOIN (SELECT max(price) AS top, window_start, window_end
        FROM tumble(bid, date_time, INTERVAL '10 seconds') GROUP BY window_start, window_end) m
    ON b.window_start = m.window_start AND b.window_end = m.window_end AND b.price = m.top"
for _ in $(seq 1 120); do # the generator's events are bounded: the job finishes
  state=$("$bin" sql --server "$url" --format csv "SELECT state FROM jobs WHERE name = 'highest_bid'" | tail -1)
  [ "$state" != "running" ] && break
  sleep 0.25
done
[ "$state" = "finished" ] || gave_up "highest_bid is $state after 30 s, not finished"
"$bin" sql --server "$url" "SELECT name, state, rows_written FROM jobs WHERE name = 'highest_bid';
SELECT * FROM highest_bid ORDER BY window_end LIMIT 5"
echo "== an interval join's view read as a stream: auctions listed within 0.5 s of their seller joining, per minute"
"$bin" sql --server "$url" "CREATE TABLE person (id bigint, city text, date_time timestamp)
  WITH (connector = 'nexmark', kind = 'person', events = $events);
CREATE TABLE auction (id bigint, seller bigint, category bigint, date_time timestamp)
  WITH (connector = 'nexmark', kind = 'auction', events = $events);
CREATE MATERIALIZED VIEW new_sellers AS
  SELECT p.id AS seller, p.city, a.id AS auction, a.category, a.date_time AS listed
  FROM person p JOIN auction a ON a.seller = p.id
   AND a.date_time BETWEEN p.date_time AND p.date_time + INTERVAL '500 milliseconds';
CREATE MATERIALIZED VIEW new_sellers_per_minute AS
  SELECT window_start, count(*) AS auctions, count(DISTINCT seller) AS sellers
  FROM tumble(new_sellers, listed, INTERVAL '1 minute') GROUP BY window_start, window_end"
for _ in $(seq 1 120); do # bounded: the join ends, then the window job over its view
  state=$("$bin" sql --server "$url" --format csv "SELECT string_agg(state, ' ') FROM jobs WHERE name IN ('new_sellers', 'new_sellers_per_minute')" | tail -1)
  case "$state" in *running*) sleep 0.25 ;; *) break ;; esac
done
[ "$state" = "finished finished" ] || gave_up "new_sellers jobs are $state after 30 s, not finished"
"$bin" sql --server "$url" "SELECT name, state, rows_written FROM jobs WHERE name LIKE 'new_sellers%' ORDER BY name;
SELECT * FROM new_sellers_per_minute ORDER BY window_start"
echo "== what the server holds"
"$bin" processes --server "$url"
blob_bytes=$(du -sb "$data/blobs" | cut -f1)
echo "payload bytes on disk: $blob_bytes (blobs/), metadata: $(du -sb "$data"/*.sqlite* 2>/dev/null | awk '{s+=$1} END {print s+0}') bytes"

echo "== the lake: one thread's spans, read twice"
sid=$("$bin" view streams "$pid" --server "$url" --format csv | awk -F, '/cpu/ && !f {print $1; f = 1}')
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
t0=$(date +%s%N)
rows=$("$bin" view thread_spans "$sid" --server "$url" --format csv | tail -n +2 | wc -l)
first=$(ms "$t0")
t0=$(date +%s%N)
"$bin" view thread_spans "$sid" --server "$url" --format csv >/dev/null
second=$(ms "$t0")
echo "thread $sid: $rows spans; first read ${first} ms (partition built just in time), second read ${second} ms (built already, cached)"
echo "== a Perfetto trace of the process (every thread's partitions built in parallel, written in order)"
"$bin" trace "$pid" -o "$trace" --server "$url"
echo "open $trace in the Perfetto UI: https://ui.perfetto.dev -> Open trace file"
echo "== the lake: materializing every view of the process"
"$bin" materialize "$pid" --server "$url"
echo "== SQL: the slowest span names of the process, with their p99"
"$bin" sql --server "$url" --timing "SELECT name, count(*) AS spans,
       round(avg(duration) / 1000, 1) AS avg_us,
       round((approx_percentile(duration, 0.99) / 1000)::numeric, 1) AS p99_us,
       max(duration) / 1000 AS max_us
FROM process_spans('$pid', 'thread') GROUP BY name ORDER BY p99_us DESC LIMIT 8"
echo "== SQL: logs per level, and the busiest threads"
"$bin" sql --server "$url" "SELECT level, count(*) AS lines, min(time) AS first, max(time) AS last
FROM log_entries WHERE process_id = '$pid' GROUP BY level ORDER BY level;
SELECT thread_name, count(*) AS spans, round(sum(duration) / 1e6, 1) AS busy_ms
FROM process_spans('$pid', 'thread') WHERE depth = 0
GROUP BY thread_name ORDER BY busy_ms DESC LIMIT 5"
echo "== psql, through the PostgreSQL protocol (port $pg_port): spans per thread"
psql -X -h 127.0.0.1 -p "$pg_port" -U demo -d lake -c "SELECT thread_name, count(*) AS spans,
       max(duration) / 1000 AS longest_us
FROM process_spans('$pid', 'thread') GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5"
echo "== psql: the slowest spans exported with \\copy, loaded back into a table, queried"
demo_csv=$(mktemp /tmp/streamlake-demo-XXXXXX.csv)
psql -X -q -h 127.0.0.1 -p "$pg_port" -U demo -d lake <<SQL
\\copy (SELECT thread_name, name, duration FROM process_spans('$pid', 'thread') ORDER BY duration DESC LIMIT 1000) to '$demo_csv' with (format csv, header)
DROP TABLE IF EXISTS demo_slowest;
CREATE TABLE demo_slowest (thread_name text, name text, duration int8);
\\copy demo_slowest from '$demo_csv' with (format csv, header)
SELECT name, count(*) AS spans, max(duration) / 1000 AS longest_us
FROM demo_slowest GROUP BY 1 ORDER BY 3 DESC LIMIT 3;
SQL
rm -f "$demo_csv"
echo "== where the loadgen process's time went: streamlake analyze"
report_dir=$(mktemp -d /tmp/streamlake-report-XXXXXX)
"$bin" analyze "$pid" --server "$url" -o "$report_dir/report.md"
sed -n '1,12p' "$report_dir/report.md"
echo "== a crash: more telemetry, then the server is killed (SIGKILL) and started again"
"$bin" loadgen --server "$url" --threads 2 --spans 100 --async 5 --metrics 5 \
  --logs "${DEMO_LOGS:-200}" >/dev/null
kill -9 "$server_pid"
wait "$server_pid" 2>/dev/null || true
start_server "$data/server-restarted.log"
for _ in $(seq 1 80); do # the job resumes from its checkpoint and replays the logs after it
  same=$("$bin" sql --server "$url" --format csv "SELECT (SELECT array_agg(level || ':' || lines ORDER BY level) FROM logs_per_level) = (SELECT array_agg(level || ':' || n ORDER BY level) FROM (SELECT level, count(*) AS n FROM log_entries GROUP BY level) c)" | tail -1)
  [ "$same" = "t" ] && break
  sleep 0.25
done
[ "$same" = "t" ] || gave_up "logs_per_level did not equal log_entries's counts within 20 s of the restart"
grep -E "resuming from checkpoint|replayed" "$log" | sed 's/^[^ ]* [A-Z]* *//'
"$bin" sql --server "$url" "SELECT * FROM logs_per_level ORDER BY level;
SELECT level, count(*) AS lines FROM log_entries GROUP BY level ORDER BY level;
SELECT name, rows_read, late_dropped FROM jobs WHERE name = 'logs_per_level'"
[ "$same" = "t" ] && echo "   (the view after the crash equals the batch query: no log line lost or counted twice)"
want_spans=$((threads * spans + 2 * 100))
for _ in $(seq 1 80); do # the span job resumed too: every span read once, its windows closed
  same=$("$bin" sql --server "$url" --format csv "SELECT rows_read = $want_spans AND rows_read = late_dropped + (SELECT sum(spans) FROM span_stats) FROM jobs WHERE name = 'span_stats'" | tail -1)
  [ "$same" = "t" ] && break
  sleep 0.25
done
[ "$same" = "t" ] || gave_up "span_stats did not read each of the $want_spans spans once within 20 s of the restart"
"$bin" sql --server "$url" "SELECT name, rows_read, late_dropped, (SELECT sum(spans) FROM span_stats) AS spans_in_windows FROM jobs WHERE name = 'span_stats'"
[ "$same" = "t" ] && echo "   (the span job resumed with the spans open at its checkpoint: each of the $want_spans spans read once)"
echo "try: $bin view thread_spans $sid --server $url | head"
echo "     $bin view log_entries $pid --server $url --format csv | head"
echo "     $bin sql --server $url        (a SQL shell: \\dt lists the tables, \\? helps)"
echo "     psql -h 127.0.0.1 -p $pg_port -U you -d lake   (any PostgreSQL client: docs/pgwire.md)"
echo "     docs/sql.md: the tables, functions and settings"
echo "web app: $url/  (this process: $url/process/$pid; docs/web.md)"
echo "analysis report: $report_dir/report.md (flame graph next to it: report.flame.html, .flame.svg, .flame.json, .folded)"

if [ "${DEMO_ONCE:-0}" = 1 ]; then
  [ "$late" = 0 ] || exit 3
  exit 0
fi
echo "== serving on $url until Ctrl-C (try: curl $url/api/processes)"
trap 'echo; stop_server; exit 0' INT TERM
wait "$server_pid"
