#!/usr/bin/env bash
# pgbench TPC-B against three setups in one run, same PostgreSQL settings otherwise:
#   zenith     a zenith primary (commits wait until our WAL receiver has made their WAL durable)
#   receivewal vanilla PostgreSQL 15 with pg_receivewal --synchronous as its synchronous standby
#   vanilla    vanilla PostgreSQL 15 alone (local fsync only)
# All three are initialized once, then measured in interleaved rounds (vanilla, receivewal, zenith,
# vanilla, ...), each round after a CHECKPOINT, so that a noisy neighbour on this shared machine hits
# all three alike. The report gives each setup's median over the rounds and the ratios of the medians.
# Usage: bench/pgbench-durability.sh [--append-results]
#   SCALE, CLIENTS, THREADS, ROUND_SECONDS, ROUNDS, WARMUP override 10, 8, 2, 20, 3, 3 (3 x 20 s = 60 s
#   measured per setup, after WARMUP unmeasured rounds of each: a long-running daemon's JIT is warm; perf
#   showed C2 still compiling the receiver's path through the first minute of load)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SCALE=${SCALE:-10}; CLIENTS=${CLIENTS:-8}; THREADS=${THREADS:-2}; ROUND_SECONDS=${ROUND_SECONDS:-20}; ROUNDS=${ROUNDS:-3}; WARMUP=${WARMUP:-3}
APPEND=${1:-}
LOAD_BEFORE=$(cut -d" " -f1-3 /proc/loadavg)
source "$ROOT/bench/common.sh"
bench_workdir zenith-bench
COMMON=(-c shared_buffers=128MB -c max_connections=100 -c max_wal_size=1GB -c wal_level=replica
        -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c synchronous_commit=on)

init_pgbench() { # port label
  "$PGBIN/pgbench" -h 127.0.0.1 -p "$1" -U postgres -i -q -s "$SCALE" postgres >"$WORK/$2-init.log" 2>&1
}
round() { # port label n -> prints "tps latency_ms"
  local port=$1 label=$2 n=$3
  Q "$port" "CHECKPOINT"
  "$PGBIN/pgbench" -h 127.0.0.1 -p "$port" -U postgres -n -c "$CLIENTS" -j "$THREADS" -T "$ROUND_SECONDS" postgres \
    >"$WORK/$label-$n.log" 2>&1
  local tps lat
  tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$WORK/$label-$n.log" | head -1)
  lat=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$WORK/$label-$n.log" | head -1)
  echo "$tps $lat"
}
initdb_at() { "${AS_PG[@]}" "$PGBIN/initdb" -D "$1" -U postgres --data-checksums --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null; }

echo "== set up: vanilla PostgreSQL alone" >&2
P1=$(free_port); initdb_at "$WORK/vanilla"
"${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$WORK/vanilla" -l "$WORK/vanilla.pglog" -w -o "${COMMON[*]} -c port=$P1" start >/dev/null
init_pgbench "$P1" vanilla

echo "== set up: vanilla PostgreSQL + pg_receivewal --synchronous" >&2
P2=$(free_port); initdb_at "$WORK/receivewal"; mkdir -p "$WORK/recv"; chmod 777 "$WORK/recv"
"${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$WORK/receivewal" -l "$WORK/receivewal.pglog" -w \
  -o "${COMMON[*]} -c port=$P2 -c synchronous_standby_names=pg_receivewal" start >/dev/null
"$PGBIN/pg_receivewal" -h 127.0.0.1 -p "$P2" -U postgres -D "$WORK/recv" --synchronous -S benchslot --create-slot >/dev/null 2>&1
"$PGBIN/pg_receivewal" -h 127.0.0.1 -p "$P2" -U postgres -D "$WORK/recv" --synchronous -S benchslot --no-loop >"$WORK/recv.log" 2>&1 &
RECV_PID=$!
sleep 1
init_pgbench "$P2" receivewal

echo "== set up: zenith primary" >&2
export ZENITH_HOME="$WORK/zhome" ZENITH_HTTP_PORT=$(free_port) ZENITH_PG_PORT=$(free_port) ZENITH_COMPUTE_FIRST_PORT=$(free_port)
"$ROOT/zenith" start >/dev/null
ZPORT=$("$ROOT/zenith" pg create -n bench --json | sed -n 's/.*"port" : \([0-9]*\).*/\1/p')
zenith_passwords
init_pgbench "$ZPORT" zenith

for n in $(seq 1 "$WARMUP"); do
  echo "== warm-up round $n of $WARMUP (${ROUND_SECONDS}s each, not measured)" >&2
  round "$P1" vanilla "w$n" >/dev/null; round "$P2" receivewal "w$n" >/dev/null; round "$ZPORT" zenith "w$n" >/dev/null
done
declare -a ZT ZL RT RL VT VL
for n in $(seq 1 "$ROUNDS"); do
  echo "== round $n of $ROUNDS (${ROUND_SECONDS}s each)" >&2
  read -r t l < <(round "$P1" vanilla "$n"); VT+=("$t"); VL+=("$l")
  read -r t l < <(round "$P2" receivewal "$n"); RT+=("$t"); RL+=("$l")
  read -r t l < <(round "$ZPORT" zenith "$n"); ZT+=("$t"); ZL+=("$l")
done
RECEIVER=$(zenith_api /pgs/bench | python3 -c 'import json,sys; print(json.load(sys.stdin).get("wal_receiver"))' || true)

median() { python3 -c "import statistics,sys; print(f'{statistics.median(map(float, sys.argv[1:])):.1f}')" "$@"; }
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
list() { echo "$*"; }
per_round() { # NAME_A NAME_B -> each round's ratio A/B and their median
  local -n a=$1 b=$2
  python3 -c "import statistics,sys; n=len(sys.argv)//2; r=[float(x)/float(y) for x,y in zip(sys.argv[1:n+1], sys.argv[n+1:])]; print(' '.join(f'{x:.2f}' for x in r), f'(median {statistics.median(r):.2f})')" "${a[@]}" "${b[@]}"
}
Z_TPS=$(median "${ZT[@]}"); R_TPS=$(median "${RT[@]}"); V_TPS=$(median "${VT[@]}")
REPORT=$(cat <<REP
### pgbench TPC-B, scale $SCALE, $CLIENTS clients, $THREADS threads, $ROUNDS interleaved rounds of ${ROUND_SECONDS}s — $(date -u +%F)

Command: \`bench/pgbench-durability.sh\` (SCALE=$SCALE CLIENTS=$CLIENTS ROUNDS=$ROUNDS ROUND_SECONDS=$ROUND_SECONDS WARMUP=$WARMUP), $(nproc) cores, load average before: $LOAD_BEFORE.

| setup | median TPS | median latency (ms) | TPS per round |
|---|---|---|---|
| zenith primary (commit waits for our WAL receiver) | $Z_TPS | $(median "${ZL[@]}") | $(list "${ZT[@]}") |
| (a) vanilla PG 15 + pg_receivewal --synchronous | $R_TPS | $(median "${RL[@]}") | $(list "${RT[@]}") |
| (b) vanilla PG 15 alone | $V_TPS | $(median "${VL[@]}") | $(list "${VT[@]}") |

Ratios of medians: zenith / (a) = $(ratio "$Z_TPS" "$R_TPS") (target >= 1.0); zenith / (b) = $(ratio "$Z_TPS" "$V_TPS") (target >= 0.85).
Per round (each zenith round against the same round's peers): zenith / (a) $(per_round ZT RT), zenith / (b) $(per_round ZT VT).
WAL receiver after the run: \`$RECEIVER\`
REP
)
echo "$REPORT"
if [ "$APPEND" = "--append-results" ]; then printf '\n%s\n' "$REPORT" >> "$ROOT/bench/RESULTS.md"; fi
