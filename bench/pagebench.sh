#!/usr/bin/env bash
# The page service against the physical limit, in one run: GetPage@LSN at the latest LSN of a pgbench
# database (scale 10) whose compute stopped cleanly (so every page is served from stored versions, the
# only ones the store answers exactly today), with zenith pagebench, and a loopback echo peer that answers
# a 42-byte request with 8 KiB (pagebench runs it first, with the same connections and queue depth).
# Each connection count runs twice: the first pass warms the daemon's JIT and is not reported. The last run
# checks every page against the stopped compute's own files (--verify).
# Measures only once the daemon's background work after pgbench -i is done (see wait_background).
# Reports per connection count: p50 against the echo's, p99, answers per second.
# Needs the jars built (./zenith start once, or mvn package); ZENITH_NO_BUILD is set here.
# Usage: bench/pagebench.sh   (SCALE, DURATION, CONNECTIONS, DEPTH override 10, 10, "1 8", 1)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SCALE=${SCALE:-10}; DURATION=${DURATION:-10}; CONNECTIONS=${CONNECTIONS:-"1 8"}; DEPTH=${DEPTH:-1}
source "$ROOT/bench/common.sh"
bench_workdir zenith-pagebench
export ZENITH_NO_BUILD=1

echo "== zenith primary: pgbench -i -s $SCALE, then a clean stop" >&2
export ZENITH_HOME="$WORK/zhome" ZENITH_HTTP_PORT=$(free_port) ZENITH_PG_PORT=$(free_port) ZENITH_COMPUTE_FIRST_PORT=$(free_port)
"$ROOT/zenith" start >/dev/null
JSON=$("$ROOT/zenith" pg create -n bench --json)
ZPORT=$(echo "$JSON" | sed -n 's/.*"port" : \([0-9]*\).*/\1/p')
PGDATA=$(echo "$JSON" | sed -n 's/.*"pgdata" : "\([^"]*\)".*/\1/p')
zenith_passwords # pgbench logs in to the compute with its password; pagebench reads the replication password itself
"$PGBIN/pgbench" -h 127.0.0.1 -p "$ZPORT" -U postgres -i -q -s "$SCALE" postgres >"$WORK/init.log" 2>&1
"$ROOT/zenith" pg stop -n bench >/dev/null

# After pgbench -i the daemon still indexes the WAL and materializes pages (the clean stop's anchor) in the
# background; measured meanwhile, the requests share the 2 cores with that work. Wait until the page index
# reaches the end of WAL of every timeline, then until the daemon's CPU stays under 5% of a core for 3 s in a row.
wait_background() {
  local deadline=$((SECONDS + ${WAIT_LIMIT:-300})) pid ticks prev quiet=0
  until zenith_api /storages/local/timelines | python3 -c '
import json, sys
lsn = lambda t: int(t.split("/")[0], 16) << 32 | int(t.split("/")[1], 16)
tls = [t for t in json.load(sys.stdin) if t.get("end_lsn")]
sys.exit(0 if tls and all(t.get("index_lsn") and lsn(t["index_lsn"]) >= lsn(t["end_lsn"]) for t in tls) else 1)'; do
    if [ $SECONDS -ge $deadline ]; then echo "== warning: the page index has not reached the end of WAL; measuring anyway" >&2; return; fi
    sleep 1
  done
  pid=$(cat "$ZENITH_HOME/zenith.pid")
  prev=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  while [ $quiet -lt 3 ]; do
    if [ $SECONDS -ge $deadline ]; then echo "== warning: the daemon is still busy; measuring anyway" >&2; return; fi
    sleep 1
    ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    # clock ticks are 1/100 s: 5 ticks in 1 s is 5% of a core
    if [ $((ticks - prev)) -lt 5 ]; then quiet=$((quiet + 1)); else quiet=0; fi
    prev=$ticks
  done
}
echo "== waiting for the daemon's background work (page index, materialization)" >&2
wait_started=$SECONDS
wait_background
echo "== background work done after $((SECONDS - wait_started)) s" >&2

bench() { # connections, extra args... -> pagebench's JSON
  "$ROOT/zenith" pagebench bench -c "$1" -d "$DEPTH" --duration "${DURATION}s" --warmup 2s --json "${@:2}" 2>>"$WORK/progress.log"
}
report() { # connections JSON
  python3 - "$1" "$2" <<'PY'
import json, sys
c, r = sys.argv[1], json.loads(sys.argv[2])
e, p = r["echo"], r["pages"]
print(f"{c} connection(s) x depth {r['depth']}: pages p50 {p['latency_us']['p50']:.0f} us = {r['p50_ratio_to_echo']:.2f}x echo "
      f"({e['latency_us']['p50']:.0f} us), p99 {p['latency_us']['p99']:.0f} us (echo {e['latency_us']['p99']:.0f}), "
      f"p99.9 {p['latency_us']['p99_9']:.0f} us, mean {p['latency_us']['mean']:.0f} us; "
      f"{p['requests_per_second']} pages/s (echo {e['requests_per_second']}/s); errors {p['errors']}, mismatches {p['mismatches']}")
PY
}

for c in $CONNECTIONS; do
  bench "$c" >/dev/null # warm-up pass
  report "$c" "$(bench "$c")"
done
echo "== verify: every page of a ${DURATION}s run at 8 connections against the stopped compute's files" >&2
bench 8 --verify "$PGDATA" --no-echo | python3 -c '
import json, sys
r = json.load(sys.stdin)
p = r["pages"]
print("verified, 8 connection(s) x depth %d: %d pages compared with the stopped compute files, %d mismatches, %d errors; %d pages/s"
      % (r["depth"], p["requests"], p["mismatches"], p["errors"], p["requests_per_second"]))
'
