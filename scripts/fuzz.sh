#!/usr/bin/env bash
# Builds the fuzz targets with clang + libFuzzer (+ ASan/UBSan) in build-fuzz/
# and runs each for FUZZ_SECONDS (default 60) on a scratch copy of its corpus,
# so new finds do not land in the committed corpus by accident.  Not part of
# `make test`: the suite replays the corpus and a short deterministic
# mutation run with gcc instead (tests/fuzz/replay.c).
#
#   scripts/fuzz.sh [target...]      targets: wire frames parquet sql pgwire scram savedq
#                                    otlp checkpoint aggtab (default: the first four)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(wire frames parquet sql)

CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DSL_SANITIZE=ON -DSL_LIBFUZZER=ON \
  -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link" >/dev/null
for t in "${targets[@]}"; do
  cmake --build build-fuzz -j 2 --target "fuzz_$t"
  work="build-fuzz/corpus-$t"
  mkdir -p "$work"
  cp -n "tests/fuzz/corpus/$t"/* "$work"/ 2>/dev/null || true
  echo "fuzz: $t for ${secs}s (corpus $work, crashes in build-fuzz/)"
  "build-fuzz/tests/fuzz/fuzz_$t" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix=build-fuzz/ "$work"
done
