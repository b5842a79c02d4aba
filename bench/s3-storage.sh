#!/usr/bin/env bash
# pgbench TPC-B on a pg over an s3 storage vs a pg over a native storage, same daemon, same run: uploads to S3
# (S3Proxy on loopback, filesystem backend) must stay off the commit path. Rounds alternate (native, s3, ...),
# each after a CHECKPOINT; the report gives each one's median TPS and the ratio s3/native (target >= 0.95),
# and what the s3 storage had not uploaded at the end of its rounds.
# Usage: bench/s3-storage.sh
#   SCALE, CLIENTS, THREADS, ROUND_SECONDS, ROUNDS, WARMUP override 10, 8, 2, 20, 3, 1
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SCALE=${SCALE:-10}; CLIENTS=${CLIENTS:-8}; THREADS=${THREADS:-2}; ROUND_SECONDS=${ROUND_SECONDS:-20}; ROUNDS=${ROUNDS:-3}; WARMUP=${WARMUP:-1}
LOAD_BEFORE=$(cut -d" " -f1-3 /proc/loadavg)
source "$ROOT/bench/common.sh"
bench_workdir zenith-s3-bench

start_s3proxy bench

echo "== zenith: a native storage and an s3 storage, a pg on each" >&2
export ZENITH_HOME="$WORK/zhome" ZENITH_HTTP_PORT=$(free_port) ZENITH_PG_PORT=$(free_port) ZENITH_COMPUTE_FIRST_PORT=$(free_port)
"$ROOT/zenith" start >/dev/null
"$ROOT/zenith" storage attach cloud --type s3 --path s3://bench/zenith --endpoint "http://127.0.0.1:$S3PORT" >/dev/null
NPORT=$("$ROOT/zenith" pg create native --json | sed -n 's/.*"port" : \([0-9]*\).*/\1/p')
SPORT=$("$ROOT/zenith" pg create s3 -s cloud --json | sed -n 's/.*"port" : \([0-9]*\).*/\1/p')
zenith_passwords
for p in "$NPORT" "$SPORT"; do "$PGBIN/pgbench" -h 127.0.0.1 -p "$p" -U postgres -i -q -s "$SCALE" postgres >"$WORK/init-$p.log" 2>&1; done

round() { # port label n -> prints tps
  Q "$1" "CHECKPOINT"
  "$PGBIN/pgbench" -h 127.0.0.1 -p "$1" -U postgres -n -c "$CLIENTS" -j "$THREADS" -T "$ROUND_SECONDS" postgres >"$WORK/$2-$3.log" 2>&1
  sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$WORK/$2-$3.log" | head -1
}
for n in $(seq 1 "$WARMUP"); do
  echo "== warm-up round $n of $WARMUP" >&2
  round "$NPORT" native "w$n" >/dev/null; round "$SPORT" s3 "w$n" >/dev/null
done
declare -a NT ST
for n in $(seq 1 "$ROUNDS"); do
  echo "== round $n of $ROUNDS (${ROUND_SECONDS}s each)" >&2
  NT+=("$(round "$NPORT" native "$n")"); ST+=("$(round "$SPORT" s3 "$n")")
done
OFFLOAD=$(zenith_api /storages/cloud | python3 -c 'import json,sys; o=json.load(sys.stdin)["offload"]; print({k: o.get(k) for k in ("unuploaded_wal_bytes","uploaded_bytes","upload_retries","error")})')
median() { python3 -c "import statistics,sys; print(f'{statistics.median(map(float, sys.argv[1:])):.1f}')" "$@"; }
N=$(median "${NT[@]}"); S=$(median "${ST[@]}")
echo "pgbench TPC-B scale $SCALE, $CLIENTS clients, $ROUNDS x ${ROUND_SECONDS}s rounds (load before: $LOAD_BEFORE)"
echo "native storage TPS per round: ${NT[*]} (median $N)"
echo "s3 storage TPS per round:     ${ST[*]} (median $S)"
echo "s3 / native: $(python3 -c "print(f'{$S/$N:.2f}')") (target >= 0.95)"
echo "s3 storage at the end: $OFFLOAD"
