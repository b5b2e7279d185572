#!/usr/bin/env bash
# Installs what the build, the demo and the tests need, and nothing that is already
# there. Debian packages come from apt (one `apt-get update`, only when something is
# missing); npm packages come from the lock files with `npm ci`.
#
# Usage: scripts/deps.sh [build|test]
#   build: compilers and libraries, nodejs and npm (the web app, web/, is built by
#          `make`), and psql (what `make demo` needs)
#   test:  build + test peers (protoc, python3, node packages for interop tests, pgjdbc
#          and a JDK for the JDBC test, chromium for the web app's browser test,
#          valgrind for the self-trace's instruction count, bench/ingest/selftrace_instr.py)
set -euo pipefail
what=${1:-build}

pkgs=(build-essential cmake pkg-config git curl ca-certificates
      libmicrohttpd-dev libcurl4-openssl-dev libsqlite3-dev
      libzstd-dev liblz4-dev libsnappy-dev libxxhash-dev zlib1g-dev
      libpg-query-dev libpq-dev libprotobuf-c-dev protobuf-c-compiler libedit-dev libssl-dev postgresql-client
      librdkafka-dev
      nodejs npm)
if [ "$what" = test ]; then
  pkgs+=(protobuf-compiler python3 jq clang openssl chromium
         postgresql postgresql-client python3-psycopg2 python3-pandas python3-sqlalchemy
         libpostgresql-jdbc-java openjdk-17-jdk-headless valgrind)
fi

missing=()
for p in "${pkgs[@]}"; do
  # dpkg-query prints "install ok installed" only for a fully installed package.
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$st" = "install ok installed" ] || missing+=("$p")
done
# npm may come with a nodejs that is not Debian's; accept any npm on PATH.
if [ ${#missing[@]} -gt 0 ]; then
  filtered=()
  for p in "${missing[@]}"; do
    case "$p" in
      nodejs) command -v node >/dev/null 2>&1 || filtered+=("$p") ;;
      npm) command -v npm >/dev/null 2>&1 || filtered+=("$p") ;;
      *) filtered+=("$p") ;;
    esac
  done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ "$what" = test ]; then
  # Node packages used only by tests (DuckDB as a Parquet peer) are pinned in
  # tests/node/package-lock.json; install them once, and again when the lock file
  # changed since (npm keeps its own copy in node_modules/.package-lock.json).
  if [ -f tests/node/package-lock.json ] && { [ ! -d tests/node/node_modules ] ||
     [ tests/node/package-lock.json -nt tests/node/node_modules/.package-lock.json ]; }; then
    (cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
