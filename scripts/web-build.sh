#!/usr/bin/env bash
# Builds the web app (web/) into OUTDIR: `npm ci` first when node_modules is missing
# or older than package-lock.json, then the type check and `vite build`.  Called by
# CMake (src/server/CMakeLists.txt); two build directories may run it at once, so
# the install step holds a lock.
#
# Usage: scripts/web-build.sh OUTDIR
set -euo pipefail
out=${1:?usage: scripts/web-build.sh OUTDIR}
cd "$(dirname "$0")/../web"
exec 9<package-lock.json
flock 9
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
node_modules/.bin/tsc --noEmit -p tsconfig.json
node_modules/.bin/vite build --logLevel warn --outDir "$out" --emptyOutDir
flock -u 9
