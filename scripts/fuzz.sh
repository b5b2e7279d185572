#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer (clang), one target at a time.
#   scripts/fuzz.sh [target...]     targets: wire frames (default: all)
#   FUZZ_SECONDS=60                 time per target
# New inputs that libFuzzer finds go to build-fuzz/corpus-<target>/; copy the
# interesting ones (crashes, after fixing) into tests/fuzz/corpus/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(wire frames)
inc="-Isrc -Iinclude -D_GNU_SOURCE"
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
mkdir -p build-fuzz
for t in "${targets[@]}"; do
  case "$t" in
    wire) srcs="tests/fuzz/fuzz_wire.c src/wire/*.c src/base/*.c"; libs="-lzstd -llz4 -lpthread" ;;
    frames) srcs="tests/fuzz/fuzz_frames.c src/perfetto/*.c src/base/*.c"; libs="-lpthread" ;;
    *) echo "fuzz.sh: unknown target $t" >&2; exit 2 ;;
  esac
  # shellcheck disable=SC2086
  clang $flags $inc $srcs $libs -o "build-fuzz/fuzz_$t"
  mkdir -p "build-fuzz/corpus-$t"
  "build-fuzz/fuzz_$t" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 \
    "build-fuzz/corpus-$t" "tests/fuzz/corpus/$t"
done
