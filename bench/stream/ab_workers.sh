#!/bin/bash
# ab_workers.sh - two streamlake binaries on one job, with 1 and 2 workers,
# interleaved round by round (so a slow spell of a shared machine hits both),
# and the median wall time of each.
#
#   bench/stream/ab_workers.sh OLD_BIN NEW_BIN DIR [ROUNDS]
#
# DIR holds job.sql and its input (e.g. the agg job of checkpoint.py and the
# bids.csv its gen() writes); each run is `BIN run job.sql --workers W` there.
set -euo pipefail
if [ $# -lt 3 ] || [ "$1" = "--help" ]; then
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
  exit $([ "${1:-}" = "--help" ] && echo 0 || echo 2)
fi
old=$(realpath "$1"); new=$(realpath "$2"); cd "$3"; rounds=${4:-9}
for i in $(seq "$rounds"); do
  for b in old new; do
    bin=$([ $b = old ] && echo "$old" || echo "$new")
    for w in 1 2; do
      s=$(date +%s%N); "$bin" run job.sql --workers $w >/dev/null; e=$(date +%s%N)
      echo "$b-w$w $(( (e - s) / 1000000 ))"
    done
  done
done | sort -k1,1 -k2,2n | awk '{c[$1]++; v[$1,c[$1]]=$2; a[$1]=a[$1]" "$2}
  END {for (k in c) print k": median " v[k,int((c[k]+1)/2)] " ms; all:" a[k]}' | sort
