#!/usr/bin/env bash
# The store's size under a steady write load with a PITR window: pgbench TPC-B at SCALE for MINUTES on a
# zenith primary (no clean stop; checkpoints every 60 s leave anchors, materialized in the background), a
# `zenith storage gc local --pitr PITR` every GC_SECONDS. After each collection: the storage's used bytes
# (`storage show`'s size.used_bytes, the LMDB pages holding data) and the databases' size
# (sum of pg_database_size), and their ratio. Prints the table, the ratio at the end (target at most 3) and
# how the store grew from the middle of the run to its end (target: flat, i.e. used bytes at the end /
# at the middle about 1 while the database's own size hardly grows).
# Needs the jars built (mvn -q -DskipTests package).
# Usage: bench/store-size.sh   (SCALE, MINUTES, PITR, GC_SECONDS, CLIENTS override 10, 30, 10m, 60, 4)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SCALE=${SCALE:-10}; MINUTES=${MINUTES:-30}; PITR=${PITR:-10m}; GC_SECONDS=${GC_SECONDS:-60}; CLIENTS=${CLIENTS:-4}
LOAD_BEFORE=$(cut -d" " -f1-3 /proc/loadavg)
source "$ROOT/bench/common.sh"
bench_workdir zenith-storesize
export ZENITH_NO_BUILD=1

start_zenith_bench
echo "== pgbench -i -s $SCALE, then $MINUTES min of pgbench ($CLIENTS clients) with gc --pitr $PITR every ${GC_SECONDS}s" >&2
"$PGBIN/pgbench" -h 127.0.0.1 -p "$ZPORT" -U postgres -i -q -s "$SCALE" postgres >"$WORK/init.log" 2>&1
DURATION=$(python3 -c "print(int($MINUTES * 60))")
"$PGBIN/pgbench" -h 127.0.0.1 -p "$ZPORT" -U postgres -n -c "$CLIENTS" -j 2 -T "$DURATION" postgres >"$WORK/pgbench.log" 2>&1 &
PGBENCH_PID=$!

used_bytes() { zenith_api /storages/local | python3 -c 'import json,sys; print(json.load(sys.stdin)["size"]["used_bytes"])'; }
ready_bytes() { d=$(zenith_api /storages/local | python3 -c 'import json,sys; print(json.load(sys.stdin)["path"])')/ready; \
  if [ -d "$d" ]; then du -sb "$d" | cut -f1; else echo 0; fi; }
db_bytes() { Q "$ZPORT" "SELECT sum(pg_database_size(oid)) FROM pg_database"; }
mb() { python3 -c "print(f'{$1 / 1048576:.1f}')"; }

START=$SECONDS
ROWS=""
declare -a MIN USED DB
while kill -0 "$PGBENCH_PID" 2>/dev/null; do
  sleep "$GC_SECONDS"
  kill -0 "$PGBENCH_PID" 2>/dev/null || break
  "$ROOT/zenith" storage gc local --pitr "$PITR" >>"$WORK/gc.log" 2>&1 || echo "== warning: gc failed (see $WORK/gc.log)" >&2
  m=$(python3 -c "print(f'{($SECONDS - $START) / 60:.1f}')"); u=$(used_bytes); b=$(db_bytes)
  MIN+=("$m"); USED+=("$u"); DB+=("$b")
  ROWS+="| $m | $(mb "$u") | $(mb "$b") | $(python3 -c "print(f'{$u / $b:.2f}')") |"$'\n'
  echo "== minute $m: store $(mb "$u") MB, databases $(mb "$b") MB" >&2
done
wait "$PGBENCH_PID" || true
[ ${#USED[@]} -ge 2 ] || { echo "too few collections in $MINUTES minutes (GC_SECONDS=$GC_SECONDS)" >&2; exit 1; }
MID=$(( ${#USED[@]} / 2 ))
LAST=$(( ${#USED[@]} - 1 ))
cat <<REP
### Store size under pgbench with gc --pitr $PITR, scale $SCALE, $CLIENTS clients, $MINUTES minutes — $(date -u +%F)

Command: \`bench/store-size.sh\` (SCALE=$SCALE MINUTES=$MINUTES PITR=$PITR GC_SECONDS=$GC_SECONDS CLIENTS=$CLIENTS), $(nproc) cores, load average before: $LOAD_BEFORE, after: $(cut -d" " -f1-3 /proc/loadavg).
pgbench: $(grep -m1 '^number of transactions actually processed' "$WORK/pgbench.log" || true)

| minute | store used (MB) | databases (MB) | store / databases |
|---|---|---|---|
$ROWS
Store / databases at the end: $(python3 -c "print(f'{${USED[$LAST]} / ${DB[$LAST]}:.2f}')") (target at most 3).
From minute ${MIN[$MID]} to ${MIN[$LAST]}: the store grew $(python3 -c "print(f'{${USED[$LAST]} / ${USED[$MID]}:.2f}')")x, the databases $(python3 -c "print(f'{${DB[$LAST]} / ${DB[$MID]}:.2f}')")x (target: flat).
Last collection: $(grep '^storage ' "$WORK/gc.log" | tail -1)
Ready data directories (redo.ready_directories, files beside LMDB, not in used bytes): $(mb "$(ready_bytes)") MB; store and them / databases at the end: $(python3 -c "print(f'{(${USED[$LAST]} + $(ready_bytes)) / ${DB[$LAST]}:.2f}')").
REP
