#!/usr/bin/env bash
# Runs the whole suite (unit, fuzz-corpus replay, e2e) with ctest in each build
# directory given, then prints one closing line for all of them:
#   N passed, N failed
set -uo pipefail
total_pass=0
total_fail=0
for dir in "$@"; do
  echo "== tests in $dir"
  log=$(mktemp)
  ctest --test-dir "$dir" --output-on-failure -j "${TEST_JOBS:-2}" 2>&1 | tee "$log"
  # ctest's own summary: "100% tests passed, 0 tests failed out of 12"
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1)
  rm -f "$log"
  if [ -z "$line" ]; then
    echo "run-tests: ctest in $dir printed no summary" >&2
    total_fail=$((total_fail + 1))
    continue
  fi
  failed=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/')
  out_of=$(echo "$line" | sed -E 's/.* failed out of ([0-9]+).*/\1/')
  total_pass=$((total_pass + out_of - failed))
  total_fail=$((total_fail + failed))
done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ] && [ "$total_pass" -gt 0 ]
