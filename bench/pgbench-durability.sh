#!/usr/bin/env bash
# pgbench TPC-B against three setups in one run, same PostgreSQL settings otherwise:
#   zenith     a zenith primary (commits wait for our WAL receiver's fsync into LMDB)
#   receivewal vanilla PostgreSQL 15 with pg_receivewal --synchronous as its synchronous standby
#   vanilla    vanilla PostgreSQL 15 alone (local fsync only)
# Usage: bench/pgbench-durability.sh [--append-results]   (SCALE, CLIENTS, DURATION override 10, 8, 60)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SCALE=${SCALE:-10}; CLIENTS=${CLIENTS:-8}; DURATION=${DURATION:-60}; THREADS=${THREADS:-2}
APPEND=${1:-}
PGBIN=${ZENITH_PG_BIN:-$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)}
[ -x "$PGBIN/postgres" ] || PGBIN=/usr/lib/postgresql/15/bin
AS_PG=(); [ "$(id -u)" -eq 0 ] && AS_PG=(runuser -u postgres --)
WORK=$(mktemp -d /tmp/zenith-bench-XXXXXX); chmod 755 "$WORK"
[ "$(id -u)" -eq 0 ] && chown postgres: "$WORK"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
COMMON=(-c shared_buffers=128MB -c max_connections=100 -c max_wal_size=1GB -c wal_level=replica
        -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c synchronous_commit=on)
cleanup() {
  for d in "$WORK"/vanilla "$WORK"/receivewal; do [ -f "$d/postmaster.pid" ] && "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1 || true; done
  [ -n "${RECV_PID:-}" ] && kill "$RECV_PID" 2>/dev/null || true
  ZENITH_HOME="$WORK/zhome" "$ROOT/zenith" stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

run_pgbench() { # port label -> prints "tps latency_ms"
  local port=$1 label=$2
  "$PGBIN/pgbench" -h 127.0.0.1 -p "$port" -U postgres -i -q -s "$SCALE" postgres >"$WORK/$label-init.log" 2>&1
  "$PGBIN/psql" -h 127.0.0.1 -p "$port" -U postgres -Atqc "CHECKPOINT" postgres
  "$PGBIN/pgbench" -h 127.0.0.1 -p "$port" -U postgres -c "$CLIENTS" -j "$THREADS" -T "$DURATION" postgres >"$WORK/$label.log" 2>&1
  local tps lat
  tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$WORK/$label.log" | head -1)
  lat=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$WORK/$label.log" | head -1)
  echo "$tps $lat"
}

initdb_at() { "${AS_PG[@]}" "$PGBIN/initdb" -D "$1" -U postgres --data-checksums --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null; }

echo "== vanilla PostgreSQL alone" >&2
P1=$(free_port); initdb_at "$WORK/vanilla"
"${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$WORK/vanilla" -l "$WORK/vanilla.pglog" -w -o "${COMMON[*]} -c port=$P1" start >/dev/null
read -r V_TPS V_LAT < <(run_pgbench "$P1" vanilla)
"${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$WORK/vanilla" -m fast -w stop >/dev/null

echo "== vanilla PostgreSQL + pg_receivewal --synchronous" >&2
P2=$(free_port); initdb_at "$WORK/receivewal"; mkdir -p "$WORK/recv"; chmod 777 "$WORK/recv"
"${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$WORK/receivewal" -l "$WORK/receivewal.pglog" -w \
  -o "${COMMON[*]} -c port=$P2 -c synchronous_standby_names=pg_receivewal" start >/dev/null
"$PGBIN/pg_receivewal" -h 127.0.0.1 -p "$P2" -U postgres -D "$WORK/recv" --synchronous -S benchslot --create-slot >/dev/null 2>&1
"$PGBIN/pg_receivewal" -h 127.0.0.1 -p "$P2" -U postgres -D "$WORK/recv" --synchronous -S benchslot --no-loop >"$WORK/recv.log" 2>&1 &
RECV_PID=$!
sleep 1
read -r R_TPS R_LAT < <(run_pgbench "$P2" receivewal)
"${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$WORK/receivewal" -m fast -w stop >/dev/null
wait "$RECV_PID" 2>/dev/null || true; RECV_PID=

echo "== zenith primary" >&2
export ZENITH_HOME="$WORK/zhome" ZENITH_HTTP_PORT=$(free_port) ZENITH_PG_PORT=$(free_port) ZENITH_COMPUTE_FIRST_PORT=$(free_port)
"$ROOT/zenith" start >/dev/null
ZPORT=$("$ROOT/zenith" pg create -n bench --json | sed -n 's/.*"port" : \([0-9]*\).*/\1/p')
read -r Z_TPS Z_LAT < <(run_pgbench "$ZPORT" zenith)
"$ROOT/zenith" stop >/dev/null

ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
REPORT=$(cat <<REP
### pgbench TPC-B, scale $SCALE, $CLIENTS clients, $THREADS threads, ${DURATION}s — $(date -u +%F)

Command: \`bench/pgbench-durability.sh\` (SCALE=$SCALE CLIENTS=$CLIENTS DURATION=$DURATION), one run, $(nproc) cores.

| setup | TPS | latency avg (ms) |
|---|---|---|
| zenith primary (commit waits for LMDB fsync in our WAL receiver) | $Z_TPS | $Z_LAT |
| (a) vanilla PG 15 + pg_receivewal --synchronous | $R_TPS | $R_LAT |
| (b) vanilla PG 15 alone | $V_TPS | $V_LAT |

Ratios: zenith / (a) = $(ratio "$Z_TPS" "$R_TPS") (target >= 1.0); zenith / (b) = $(ratio "$Z_TPS" "$V_TPS") (target >= 0.85).
REP
)
echo "$REPORT"
if [ "$APPEND" = "--append-results" ]; then printf '\n%s\n' "$REPORT" >> "$ROOT/bench/RESULTS.md"; fi
