#!/usr/bin/env bash
# The page service at a historical LSN (issue 25, "Historical LSN"), in one run, on a pgbench database (SCALE,
# default 10) whose compute never stops cleanly: pgbench with checkpoints (anchors), a snapshot X in the middle of
# a checkpoint interval, more pgbench and a checkpoint past X. Then, with zenith pagebench at 8 connections:
#   versioned   - at the last background materialization step's target before X (every block has an exact version
#                 there: LMDB reads, the same path as latest), and at the latest LSN for comparison;
#   X, cold     - first look at X: the relations listing (one redo run to X for the free-space maps, which also
#                 stores every block changed since its base at X), timed apart, then the first pass;
#   X, warm     - the same LSN again.
# Also at a second mid-interval LSN Y, without the listing's run first (pagebench --lsn Y asks the listing too, so
# the first pass pays it): cold, then warm. Prints p50/p99/pages/s per pass. Needs the jars built.
# Usage: bench/pagebench-history.sh   (SCALE, DURATION, CONNECTIONS override 10, 10, 8)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SCALE=${SCALE:-10}; DURATION=${DURATION:-10}; CONNECTIONS=${CONNECTIONS:-8}
source "$ROOT/bench/common.sh"
bench_workdir zenith-pagebench-history
export ZENITH_NO_BUILD=1
export ZENITH_HOME="$WORK/zhome" ZENITH_HTTP_PORT=$(free_port) ZENITH_PG_PORT=$(free_port) ZENITH_COMPUTE_FIRST_PORT=$(free_port)
"$ROOT/zenith" start >/dev/null
ZPORT=$("$ROOT/zenith" pg create -n bench --json | sed -n 's/.*"port" : \([0-9]*\).*/\1/p')
zenith_passwords
echo "== pgbench -i -s $SCALE, then pgbench with checkpoints, no clean stop" >&2
"$PGBIN/pgbench" -h 127.0.0.1 -p "$ZPORT" -U postgres -i -q -s "$SCALE" postgres >"$WORK/init.log" 2>&1
run() { "$PGBIN/pgbench" -h 127.0.0.1 -p "$ZPORT" -U postgres -n -c 4 -j 2 -T "$1" postgres >>"$WORK/pgbench.log" 2>&1; }
snap() { "$ROOT/zenith" snapshot create "bench@$1" --json | sed -n 's/.*"lsn" : "\([^"]*\)".*/\1/p'; }
run 15; Q "$ZPORT" "CHECKPOINT" >/dev/null
run 10; X=$(snap mid1)
run 10; Q "$ZPORT" "CHECKPOINT" >/dev/null
run 10; Y=$(snap mid2)
run 10; Q "$ZPORT" "CHECKPOINT" >/dev/null
run 5
# the daemon's log says where each step got to; the last one at or below X is a versioned point
STEP=$(python3 - "$ZENITH_HOME/zenith.log" "$X" <<'PY'
import re, sys
lsn = lambda t: int(t.split("/")[0], 16) << 32 | int(t.split("/")[1], 16)
x = lsn(sys.argv[2]); best = None
for m in re.finditer(r"materialized up to (\S+) ", open(sys.argv[1]).read()):
    if lsn(m.group(1)) <= x and (best is None or lsn(m.group(1)) > lsn(best)): best = m.group(1)
print(best or "")
PY
)
echo "== X $X, Y $Y, last materialized step at or below X: ${STEP:-none}" >&2

bench() { # label, args... -> one line
  local json
  if ! json=$("$ROOT/zenith" pagebench bench -c "$CONNECTIONS" --duration "${DURATION}s" --warmup 0s --no-echo --json "${@:2}" 2>"$WORK/pass.log"); then
    echo "$1: pagebench failed: $(tail -3 "$WORK/pass.log")"; return 0
  fi
  python3 - "$1" "$json" <<'PY'
import json, sys
label, r = sys.argv[1], json.loads(sys.argv[2])
p = r["pages"]
print(f"{label}: {r['connections']} connections, p50 {p['latency_us']['p50']:.0f} us, p99 {p['latency_us']['p99']:.0f} us, "
      f"p99.9 {p['latency_us']['p99_9']:.0f} us, mean {p['latency_us']['mean']:.0f} us; {p['requests_per_second']} pages/s; errors {p['errors']}")
PY
}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
bench "latest            " --lsn latest >/dev/null # JIT warm-up, not reported
bench "latest            " --lsn latest
[ -n "$STEP" ] && bench "versioned $STEP " --lsn "$STEP"
t0=$(date +%s.%N); zenith_api "/pgs/bench/relations?lsn=$X" >/dev/null; t1=$(date +%s.%N)
echo "X $X: relations listing (the first look, one redo run) $(python3 -c "print(f'{$t1-$t0:.2f}')") s"
bench "X cold            " --lsn "$X"
bench "X warm            " --lsn "$X"
bench "Y cold (+listing) " --lsn "$Y"
bench "Y warm            " --lsn "$Y"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
