#!/usr/bin/env bash
# The page service against the physical limit, in one run: GetPage@LSN at the latest LSN of a pgbench
# database (scale 10) whose compute stopped cleanly (so every page is served from stored versions), with
# zenith pagebench, and a loopback echo peer that answers a 42-byte request with 8 KiB (pagebench runs it
# first, with the same connections and queue depth).
# Each connection count runs twice: the first pass warms the daemon's JIT and is not reported. Then a
# verified run checks every page against the stopped compute's own files (--verify).
# Then (WRITES=1, the default): the compute runs pgbench (2 clients) and writes; while it writes, at the latest LSN
# and at the LSN where the compute had stopped (pages versioned: the ceiling under this write load), 8 connections,
# no echo, twice each interleaved, with pgbench's TPS during each pass and alone; and at a historical LSN whose pages are versioned (the checkpoint
# of that pgbench run, once the daemon materialized it), a cold and a warm pass.
# Measures only once the daemon's background work is done (see wait_background).
# Reports per pass: p50 against the echo's, p99, answers per second, the daemon's page I/O threads' CPU per answer
# (warm-up included); and the load average at the start.
# Needs the jars built (./zenith start once, or mvn package); ZENITH_NO_BUILD is set here.
# Usage: bench/pagebench.sh   (SCALE, DURATION, CONNECTIONS, DEPTH, WRITES override 10, 10, "1 8", 1, 1)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SCALE=${SCALE:-10}; DURATION=${DURATION:-10}; CONNECTIONS=${CONNECTIONS:-"1 8"}; DEPTH=${DEPTH:-1}; WRITES=${WRITES:-1}
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

# CPU time (ns) of the daemon's page I/O threads so far, from /proc (schedstat): what a page costs the server
page_io_ns() {
  local pid t ns=0
  pid=$(cat "$ZENITH_HOME/zenith.pid")
  for t in /proc/"$pid"/task/*; do
    case "$(cat "$t/comm" 2>/dev/null)" in zenith-page-io*) ns=$((ns + $(cut -d' ' -f1 "$t/schedstat" 2>/dev/null || echo 0))) ;; esac
  done
  echo "$ns"
}
bench() { # connections, extra args... -> pagebench's JSON, with the page I/O threads' CPU per answer (io_us_per_page)
  local before json
  before=$(page_io_ns)
  json=$("$ROOT/zenith" pagebench bench -c "$1" -d "$DEPTH" --duration "${DURATION}s" --warmup 2s --json "${@:2}" 2>>"$WORK/progress.log")
  python3 -c 'import json, sys; r = json.loads(sys.argv[1]); n = r["pages"]["answers_with_warmup"]
r["io_us_per_page"] = round((int(sys.argv[3]) - int(sys.argv[2])) / 1000 / max(n, 1), 2); print(json.dumps(r))' \
    "$json" "$before" "$(page_io_ns)"
}
report() { # label JSON
  python3 - "$1" "$2" <<'PY'
import json, sys
c, r = sys.argv[1], json.loads(sys.argv[2])
e, p = r["echo"], r["pages"]
print(f"{c}: {r['connections']} connection(s) x depth {r['depth']}: pages p50 {p['latency_us']['p50']:.0f} us = {r['p50_ratio_to_echo']:.2f}x echo "
      f"({e['latency_us']['p50']:.0f} us), p99 {p['latency_us']['p99']:.0f} us (echo {e['latency_us']['p99']:.0f}), "
      f"p99.9 {p['latency_us']['p99_9']:.0f} us, mean {p['latency_us']['mean']:.0f} us; "
      f"{p['requests_per_second']} pages/s (echo {e['requests_per_second']}/s); errors {p['errors']}, mismatches {p['mismatches']}; "
      f"page I/O CPU {r['io_us_per_page']} us/page")
PY
}

echo "== load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for c in $CONNECTIONS; do
  bench "$c" >/dev/null # warm-up pass
  report "latest, stopped pg" "$(bench "$c")"
done
echo "== verify: every page of a ${DURATION}s run at 8 connections against the stopped compute's files" >&2
bench 8 --verify "$PGDATA" --no-echo | python3 -c '
import json, sys
r = json.load(sys.stdin)
p = r["pages"]
print("verified, 8 connection(s) x depth %d: %d pages compared with the stopped compute files, %d mismatches, %d errors; %d pages/s"
      % (r["depth"], p["requests"], p["mismatches"], p["errors"], p["requests_per_second"]))
'

[ "$WRITES" = 1 ] || exit 0
# The page service's ceiling under this write load: reads at the LSN where the compute stopped (every page a stored
# version: no redo, no follower) while pgbench writes, with the same connections as the latest pass.
STOPPED=$(zenith_api /storages/local/timelines | python3 -c '
import json, sys
lsn = lambda t: int(t.split("/")[0], 16) << 32 | int(t.split("/")[1], 16)
print(max((t["end_lsn"] for t in json.load(sys.stdin) if t.get("end_lsn")), key=lsn))')
under_writes() { # label, bench args...: pgbench -c 2 writes during the pass (no echo); reports the pass and pgbench's TPS
  "$PGBIN/pgbench" -h 127.0.0.1 -p "$ZPORT" -U postgres -n -c 2 -T $((DURATION + 3)) postgres >"$WORK/writes.log" 2>&1 &
  local writer=$! json
  sleep 1
  json=$(bench 8 --no-echo "${@:2}")
  wait "$writer" || true
  python3 - "$1" "$json" "$(grep -m1 '^tps' "$WORK/writes.log" | cut -d' ' -f3)" <<'PY'
import json, sys
c, r, tps = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
p = r["pages"]
print(f"{c}: {r['connections']} connection(s) x depth {r['depth']}: {p['requests_per_second']} pages/s, p50 "
      f"{p['latency_us']['p50']:.0f} us, p99 {p['latency_us']['p99']:.0f} us, p99.9 {p['latency_us']['p99_9']:.0f} us, "
      f"mean {p['latency_us']['mean']:.0f} us; errors {p['errors']}; page I/O CPU {r['io_us_per_page']} us/page; "
      f"pgbench -c 2 meanwhile {tps or '?'} tps")
PY
}
echo "== the compute writes: pgbench -c 2 for 15 s, a checkpoint (the historical LSN), 5 s more" >&2
"$ROOT/zenith" pg start -n bench >/dev/null
"$PGBIN/pgbench" -h 127.0.0.1 -p "$ZPORT" -U postgres -n -c 2 -T 15 postgres >>"$WORK/init.log" 2>&1
HISTORICAL=$(Q "$ZPORT" "CHECKPOINT; SELECT checkpoint_lsn FROM pg_control_checkpoint()")
"$PGBIN/pgbench" -h 127.0.0.1 -p "$ZPORT" -U postgres -n -c 2 -T 5 postgres >>"$WORK/init.log" 2>&1
echo "== pgbench -c 2 alone for ${DURATION} s: $("$PGBIN/pgbench" -h 127.0.0.1 -p "$ZPORT" -U postgres -n -c 2 -T "$DURATION" postgres 2>&1 | grep -m1 '^tps' || echo '?')" >&2
echo "== while pgbench writes, 8 connections: at the latest LSN, then at the stopped compute's LSN $STOPPED (versioned: the ceiling), twice each, interleaved" >&2
for round in 1 2; do
  under_writes "latest, pgbench writing ($round)"
  under_writes "stopped compute's LSN $STOPPED, pgbench writing ($round)" --lsn "$STOPPED"
done
"$ROOT/zenith" pg stop -n bench >/dev/null
echo "== waiting for the daemon's background work (materialization of the checkpoints)" >&2
wait_background
echo "== historical LSN $HISTORICAL (a checkpoint, materialized): cold, then warm" >&2
report "historical $HISTORICAL, cold" "$(bench 8 --lsn "$HISTORICAL")"
report "historical $HISTORICAL, warm" "$(bench 8 --lsn "$HISTORICAL")"
