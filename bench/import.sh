#!/usr/bin/env bash
# snapshot import via basebackup:// against pg_basebackup to a local directory, in one run: a vanilla
# PostgreSQL 15 at pgbench scale SCALE runs; each round times `pg_basebackup -D DIR -Fp -X fetch -c fast` from it
# (a plain data directory with its WAL) and `zenith snapshot import bench@rN -s importN --from
# basebackup://postgres@127.0.0.1:PORT` (the CLI: the daemon's own BASE_BACKUP client, the recovery of the
# backup by PostgreSQL, and the storage's first image in LMDB), then detaches and deletes that storage.
# Prints each round's seconds and the median ratio. Needs the jars built (mvn -q -DskipTests package).
# Usage: bench/import.sh   (SCALE, ROUNDS override 50, 1)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SCALE=${SCALE:-50}; ROUNDS=${ROUNDS:-1}
source "$ROOT/bench/common.sh"
bench_workdir zenith-importbench
export ZENITH_NO_BUILD=1
now() { date +%s.%N; }

echo "== vanilla: pgbench -i -s $SCALE" >&2
VPORT=$(free_port)
"${AS_PG[@]}" "$PGBIN/initdb" -D "$WORK/vanilla" -U postgres --data-checksums --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
"${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$WORK/vanilla" -l "$WORK/vanilla.log" -w -o "-c port=$VPORT -c listen_addresses=127.0.0.1 \
  -c unix_socket_directories= -c shared_buffers=128MB -c max_wal_size=1GB" start >/dev/null
"$PGBIN/pgbench" -h 127.0.0.1 -p "$VPORT" -U postgres -i -q -s "$SCALE" postgres >"$WORK/init.log" 2>&1
Q "$VPORT" "CHECKPOINT" >/dev/null

export ZENITH_HOME="$WORK/zhome" ZENITH_HTTP_PORT=$(free_port) ZENITH_PG_PORT=$(free_port) ZENITH_COMPUTE_FIRST_PORT=$(free_port)
"$ROOT/zenith" start >/dev/null

basebackup_dir() { # -> "seconds bytes"
  rm -rf "$WORK/bb"
  local t0 t1; t0=$(now)
  "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$VPORT" -U postgres -w -D "$WORK/bb" -Fp -X fetch -c fast >"$WORK/bb.log" 2>&1
  t1=$(now); echo "$(python3 -c "print(f'{$t1-$t0:.3f}')") $(du -sb "$WORK/bb" | cut -f1)"
}
import_bb() { # ROUND -> "seconds bytes-of-storage"
  local t0 t1 size; t0=$(now)
  "$ROOT/zenith" snapshot import "bench@r$1" -s "import$1" --from "basebackup://postgres@127.0.0.1:$VPORT" >"$WORK/import.log" 2>&1
  t1=$(now); size=$(du -sb "$ZENITH_HOME/storages/import$1" | cut -f1)
  "$ROOT/zenith" storage detach "import$1" --yes >/dev/null 2>&1 || "$ROOT/zenith" storage detach -n "import$1" >/dev/null
  rm -rf "$ZENITH_HOME/storages/import$1"
  echo "$(python3 -c "print(f'{$t1-$t0:.3f}')") $size"
}

RATIOS=()
for r in $(seq 1 "$ROUNDS"); do
  read -r VS VB < <(basebackup_dir)
  read -r IS IB < <(import_bb "$r")
  RATIOS+=("$(python3 -c "print(f'{$IS/$VS:.2f}')")")
  echo "round $r: pg_basebackup -Fp ${VS}s ($VB bytes); import via basebackup:// ${IS}s (storage $IB bytes): ${RATIOS[-1]}"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "median import via basebackup:// / pg_basebackup to a directory: $(median "${RATIOS[@]}") (target at most 1.3)"
