#!/usr/bin/env bash
# What background materialization costs pgbench: TPC-B TPS of a zenith primary whose daemon materializes
# page versions after each anchor (the default) against one whose daemon does not (redo.materialize =
# false: anchors are still captured, nothing else differs; both computes checkpoint every 60 s). Two
# daemons, initialized once, measured in interleaved rounds (on, off, on, ...) in one run, each round after
# a CHECKPOINT and once neither daemon has a redo run under way (so a step left over from one daemon's
# round is not charged to the other's). Prints each side's median TPS, the steps the materializing daemon
# made during the measured rounds, and the cost = 1 - on/off (target at most 5%).
# Needs the jars built (mvn -q -DskipTests package).
# Usage: bench/materialize-cost.sh   (SCALE, CLIENTS, THREADS, ROUND_SECONDS, ROUNDS, WARMUP override 10, 8, 2, 120, 3, 1)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SCALE=${SCALE:-10}; CLIENTS=${CLIENTS:-8}; THREADS=${THREADS:-2}; ROUND_SECONDS=${ROUND_SECONDS:-120}
ROUNDS=${ROUNDS:-3}; WARMUP=${WARMUP:-1}
LOAD_BEFORE=$(cut -d" " -f1-3 /proc/loadavg)
source "$ROOT/bench/common.sh"
bench_workdir zenith-materialize-cost
export ZENITH_NO_BUILD=1

# start_daemon NAME MATERIALIZE -> the port of its pg "bench"; the daemon is homed in WORK/home-NAME
start_daemon() {
  python3 - "$ROOT/conf/zenith.json" "$WORK/conf-$1.json" "$2" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c.setdefault("redo", {})["materialize"] = sys.argv[3] == "true"
json.dump(c, open(sys.argv[2], "w"), indent=2)
PY
  (export ZENITH_CONF="$WORK/conf-$1.json" ZENITH_HOME="$WORK/home-$1" ZENITH_HTTP_PORT=$(free_port) \
     ZENITH_PG_PORT=$(free_port) ZENITH_COMPUTE_FIRST_PORT=$(free_port)
   "$ROOT/zenith" start >/dev/null
   "$ROOT/zenith" pg create -n bench --json | port_of)
}

# Waits (at most WAIT_LIMIT s) until neither daemon has a redo run's scratch directory for 2 s in a row.
wait_no_redo() {
  local deadline=$((SECONDS + ${WAIT_LIMIT:-300})) quiet=0
  while [ $quiet -lt 2 ]; do
    if [ $SECONDS -ge $deadline ]; then echo "== warning: a redo run is still under way; measuring anyway" >&2; return; fi
    if compgen -G "$WORK/home-*/redo/run-*" >/dev/null; then quiet=0; else quiet=$((quiet + 1)); fi
    sleep 1
  done
}

round() { # port label n -> prints the round's TPS
  local port=$1 label=$2 n=$3
  wait_no_redo
  Q "$port" "CHECKPOINT"
  "$PGBIN/pgbench" -h 127.0.0.1 -p "$port" -U postgres -n -c "$CLIENTS" -j "$THREADS" -T "$ROUND_SECONDS" postgres \
    >"$WORK/$label-$n.log" 2>&1
  sed -n 's/^tps = \([0-9]*\.\?[0-9]\?\).*/\1/p' "$WORK/$label-$n.log" | head -1
}
steps() { grep -c "materialized up to" "$WORK/home-on/zenith.log" || true; }

echo "== set up: two daemons (materialization on, off), pgbench -i -s $SCALE on each" >&2
ON=$(start_daemon on true)
OFF=$(start_daemon off false)
zenith_passwords
for p in "$ON" "$OFF"; do
  "$PGBIN/pgbench" -h 127.0.0.1 -p "$p" -U postgres -i -q -s "$SCALE" postgres >"$WORK/init-$p.log" 2>&1
done

for n in $(seq 1 "$WARMUP"); do
  echo "== warm-up round $n of $WARMUP (${ROUND_SECONDS}s each, not measured)" >&2
  round "$ON" on "w$n" >/dev/null; round "$OFF" off "w$n" >/dev/null
done
declare -a T_ON T_OFF
STEPS_BEFORE=$(steps)
for n in $(seq 1 "$ROUNDS"); do
  echo "== round $n of $ROUNDS (${ROUND_SECONDS}s each)" >&2
  T_ON+=("$(round "$ON" on "$n")")
  T_OFF+=("$(round "$OFF" off "$n")")
done
STEPS=$(( $(steps) - STEPS_BEFORE ))
OFF_STEPS=$(grep -c "materialized up to" "$WORK/home-off/zenith.log" || true)
OFF_ANCHORS=$(grep -c "anchor stored, not materialized" "$WORK/home-off/zenith.log" || true)

median() { python3 -c "import statistics,sys; print(f'{statistics.median(map(float, sys.argv[1:])):.1f}')" "$@"; }
M_ON=$(median "${T_ON[@]}"); M_OFF=$(median "${T_OFF[@]}")
cat <<REP
### Background materialization's cost on pgbench TPC-B, scale $SCALE, $CLIENTS clients, $ROUNDS interleaved rounds of ${ROUND_SECONDS}s — $(date -u +%F)

Command: \`bench/materialize-cost.sh\` (SCALE=$SCALE CLIENTS=$CLIENTS THREADS=$THREADS ROUNDS=$ROUNDS ROUND_SECONDS=$ROUND_SECONDS WARMUP=$WARMUP), $(nproc) cores, load average before: $LOAD_BEFORE, after: $(cut -d" " -f1-3 /proc/loadavg).

| daemon | median TPS | TPS per round |
|---|---|---|
| materialization on (default) | $M_ON | ${T_ON[*]} |
| materialization off (redo.materialize = false) | $M_OFF | ${T_OFF[*]} |

Steps materialized during the measured rounds: $STEPS (the off daemon: $OFF_STEPS steps, $OFF_ANCHORS anchors stored).
Cost: 1 - on/off = $(python3 -c "print(f'{(1 - $M_ON / $M_OFF) * 100:.1f}%')") (target at most 5%).
REP
