#!/usr/bin/env bash
# A/B of two builds of zenith under pgbench, in one run: a daemon from another checkout (A, e.g. the
# previous commit) and one from this repository (B), each with its own primary, next to vanilla
# PostgreSQL alone, in interleaved rounds. Per round: the TPS of each, and for A and B the CPU that the
# daemon and the compute's walsender spent per transaction. For changes too small for one
# bench/pgbench-durability.sh run to show: compare B/A round by round.
# Usage: BASE=/path/to/built/checkout bench/daemon-ab.sh   (SCALE, CLIENTS, ROUND_SECONDS, ROUNDS, WARMUP
#        override 10, 8, 20, 4, 2; B_ENV="NAME=value ..." is passed to daemon B only)
# Build A first, e.g.: git clone -q . /tmp/base && (cd /tmp/base && git checkout HEAD~1 && mvn -o -q package -DskipTests)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
: "${BASE:?set BASE to a built checkout of the version to compare against}"
SCALE=${SCALE:-10}; CLIENTS=${CLIENTS:-8}; ROUND_SECONDS=${ROUND_SECONDS:-20}; ROUNDS=${ROUNDS:-4}; WARMUP=${WARMUP:-2}
source "$ROOT/bench/common.sh"
bench_workdir zenith-ab
export ZENITH_NO_BUILD=1

ROOT=$BASE start_vanilla_and_zenith # vanilla and daemon A, homed in WORK/zhome
ZA=$ZPORT; PA=$(pgrep -f "$BASE/server/target/zenith-server.jar" | head -1)
export ZENITH_HOME="$WORK/home2" ZENITH_HTTP_PORT=$(free_port) ZENITH_PG_PORT=$(free_port) ZENITH_COMPUTE_FIRST_PORT=$(free_port)
env ${B_ENV:-} "$ROOT/zenith" start >/dev/null
ZB=$("$ROOT/zenith" pg create -n bench --json | sed -n 's/.*"port" : \([0-9]*\).*/\1/p')
zenith_passwords
PB=$(pgrep -f "$ROOT/server/target/zenith-server.jar" | head -1)
"$PGBIN/pgbench" -h 127.0.0.1 -p "$ZB" -U postgres -i -q -s "$SCALE" postgres >/dev/null 2>&1
WA=$(Q "$ZA" "select pid from pg_stat_replication limit 1"); WB=$(Q "$ZB" "select pid from pg_stat_replication limit 1")

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
round_with_cpu() { # port daemon-pid walsender-pid -> "TPS µs-per-transaction"
  local t0 t1 tps
  t0=$(( $(ticks "$2") + $(ticks "$3") )); tps=$(pgbench_round "$1"); t1=$(( $(ticks "$2") + $(ticks "$3") ))
  echo "$tps $(( (t1 - t0) * 1000000 / $(getconf CLK_TCK) / (tps * ROUND_SECONDS) ))"
}

for ((r = 1; r <= WARMUP; r++)); do
  pgbench_round "$VPORT" >/dev/null; pgbench_round "$ZA" >/dev/null; pgbench_round "$ZB" >/dev/null
done
echo "### A/B: $BASE (A) vs $ROOT (B${B_ENV:+ with $B_ENV}) — $(date -u +%F)"
echo
echo "Command: \`BASE=$BASE bench/daemon-ab.sh\` (SCALE=$SCALE CLIENTS=$CLIENTS ROUND_SECONDS=$ROUND_SECONDS ROUNDS=$ROUNDS WARMUP=$WARMUP), $(nproc) cores."
echo
echo "| round | vanilla TPS | A TPS (daemon+walsender µs/txn) | B TPS (daemon+walsender µs/txn) | A / vanilla | B / vanilla | B / A |"
echo "|---|---|---|---|---|---|---|"
for ((r = 1; r <= ROUNDS; r++)); do
  v=$(pgbench_round "$VPORT"); read -r a ca < <(round_with_cpu "$ZA" "$PA" "$WA"); read -r b cb < <(round_with_cpu "$ZB" "$PB" "$WB")
  echo "| $r | $v | $a ($ca) | $b ($cb) | $(echo "scale=2; $a / $v" | bc) | $(echo "scale=2; $b / $v" | bc) | $(echo "scale=3; $b / $a" | bc) |"
done
