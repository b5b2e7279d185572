#!/usr/bin/env bash
# Runs every benchmark with the commands recorded in bench/RESULTS.md and prints
# their figures.  Nothing here is a test: numbers depend on the machine and its
# load.  Copy the figures you want to keep into bench/RESULTS.md by hand.
#   BENCH_ONLY="record capture"   run only some (record capture ingest lake trace parquet perfetto sql pgwire)
set -euo pipefail
cd "$(dirname "$0")/.."
only=${BENCH_ONLY:-"record capture ingest lake trace parquet perfetto sql pgwire"}
want() { [[ " $only " == *" $1 "* ]]; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"

if want record; then
  echo; echo "== record: cost per event in the calling thread (build/bench/bench_record)"
  build/bench/bench_record
fi

if want capture; then
  echo; echo "== capture: sustained capture into a live server (build/bench/bench_capture)"
  data=$(mktemp -d /tmp/sl-bench-capture.XXXXXX)
  build/streamlake serve --data "$data" --listen 127.0.0.1:0 >"$data/server.log" 2>&1 &
  pid=$!
  trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
  url=""
  for _ in $(seq 1 100); do
    url=$(sed -n 's/^streamlake: listening on \(http:[^ ]*\).*/\1/p' "$data/server.log")
    [ -n "$url" ] && break
    sleep 0.1
  done
  for rate in 5e6 10e6; do
    build/bench/bench_capture "$url" "$rate" 5 2 || true
    echo
  done
  kill $pid; wait $pid 2>/dev/null || true
  rm -rf "$data"
  trap - EXIT
fi

if want ingest; then
  echo; echo "== ingest: server ingestion of ready-made blocks (build/bench/ingest/bench_ingest)"
  build/bench/ingest/bench_ingest --blocks 1280 --connections 8
fi

if want lake; then
  echo; echo "== lake: JIT partitions and partition-index lookups (build/bench/bench_lake)"
  build/bench/bench_lake 50 200000 2
  build/bench/bench_lake 8 500000 2
fi

if want trace; then
  echo; echo "== trace: Perfetto traces of a 50-thread process from the lake (build/bench/bench_trace)"
  scripts/deps.sh test >/dev/null
  build/bench/bench_trace 50 100000 1000 2
fi

if want parquet; then
  echo; echo "== parquet: writer and reader against DuckDB (bench/parquet_bench.mjs)"
  scripts/deps.sh test >/dev/null
  node bench/parquet_bench.mjs --rows 3000000 --repeat 5
fi

if want perfetto; then
  echo; echo "== perfetto writer (build/bench/perfetto_writer)"
  build/bench/perfetto_writer
  echo; echo "== perfetto generate: trace generation from the synthetic source (build/bench/perfetto_generate)"
  build/bench/perfetto_generate
fi

if want sql; then
  echo; echo "== sql: the telemetry query suite against DuckDB, query setup (bench/sql/run.py)"
  scripts/deps.sh test >/dev/null
  /usr/bin/python3 bench/sql/run.py --reps 3
  echo; echo "== sql: 1BRC-style read_csv aggregation against DuckDB (bench/sql/brc.py)"
  /usr/bin/python3 bench/sql/brc.py --rows 100000000 --reps 3
fi

if want pgwire; then
  echo; echo "== pgwire: the PostgreSQL protocol against PostgreSQL 15 (bench/pgwire/run.py)"
  scripts/deps.sh test >/dev/null
  /usr/bin/python3 bench/pgwire/run.py --rows 10000000 --iters 10000
fi
