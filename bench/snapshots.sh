#!/usr/bin/env bash
# Snapshot and branch creation time at pgbench scale 1 and 50 (should not grow with the data: O(1)),
# and time from `pg create --snapshot` to the first query at scale 50, against `cp -a` of the same
# data directory plus `pg_ctl start`, and against `pg_basebackup` from a vanilla PostgreSQL plus start.
# Usage: bench/snapshots.sh [--append-results]    (BIG overrides the large scale, default 50)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIG=${BIG:-50}; REPS=${REPS:-5}; APPEND=${1:-}
source "$ROOT/bench/common.sh"
bench_workdir zenith-snapbench
now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
Z() { "$ROOT/zenith" "$@"; }
first_query() { Q "$1" "SELECT count(*) FROM pgbench_branches" >/dev/null; }

declare -A SNAP BRANCH
for SCALE in 1 "$BIG"; do
  export ZENITH_HOME="$WORK/home$SCALE" ZENITH_HTTP_PORT=$(free_port) ZENITH_PG_PORT=$(free_port) ZENITH_COMPUTE_FIRST_PORT=$(free_port)
  Z start >/dev/null
  PORT=$(Z pg create -n main --json | sed -n 's/.*"port" : \([0-9]*\).*/\1/p')
  zenith_passwords
  echo "== scale $SCALE: pgbench -i" >&2
  "$PGBIN/pgbench" -h 127.0.0.1 -p "$PORT" -U postgres -i -q -s "$SCALE" postgres >/dev/null 2>&1
  s=(); b=()
  for i in $(seq 1 "$REPS"); do
    t0=$(now_ms); Z snapshot create "main@s$i" >/dev/null; t1=$(now_ms); s+=($((t1 - t0)))
    t0=$(now_ms); Z pg create -n "b$i" --snapshot "main@s$i" --no-start >/dev/null; t1=$(now_ms); b+=($((t1 - t0)))
  done
  SNAP[$SCALE]=$(printf '%s\n' "${s[@]}" | median); BRANCH[$SCALE]=$(printf '%s\n' "${b[@]}" | median)
  if [ "$SCALE" = "$BIG" ]; then
    Z pg stop -n main >/dev/null                       # a clean stop: its pages become the newest image
    Z snapshot create main@stopped >/dev/null
    PGDATA_MAIN=$(Z pg show -n main --json | sed -n 's/.*"pgdata" : "\(.*\)".*/\1/p')
    SIZE_MB=$(du -sm "$PGDATA_MAIN" | cut -f1)
    echo "== scale $SCALE: zenith pg create --snapshot to first query" >&2
    t0=$(now_ms); P=$(Z pg create -n fast --snapshot main@stopped --json | sed -n 's/.*"port" : \([0-9]*\).*/\1/p'); zenith_passwords; first_query "$P"; t1=$(now_ms)
    Z_FIRST=$((t1 - t0)); Z pg stop -n fast >/dev/null
    echo "== cp -a + pg_ctl start" >&2
    CP=$(free_port); VP=$(free_port); BP=$(free_port) # copies of main's cluster: main's password
    for p in "$CP" "$VP" "$BP"; do zenith_same_password "$PORT" "$p"; done
    sync; t0=$(now_ms); cp -a "$PGDATA_MAIN" "$WORK/copy"
    "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$WORK/copy" -l "$WORK/copy.log" -w -o "-c port=$CP -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c synchronous_standby_names=" start >/dev/null
    first_query "$CP"; t1=$(now_ms); CP_FIRST=$((t1 - t0))
    echo "== pg_basebackup from vanilla + start" >&2
    "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$WORK/copy" -m fast -w stop >/dev/null
    mv "$WORK/copy" "$WORK/vanilla"
    "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$WORK/vanilla" -l "$WORK/vanilla.log" -w -o "-c port=$VP -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c synchronous_standby_names=" start >/dev/null
    t0=$(now_ms) # PostgreSQL's user cannot read our password file: the password in its environment
    PGPASSWORD=$(zenith_password_of "$PORT") "${AS_PG[@]}" "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$VP" -U postgres -D "$WORK/backup" -X stream -c fast >/dev/null
    "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$WORK/backup" -l "$WORK/backup.log" -w -o "-c port=$BP -c listen_addresses=127.0.0.1 -c unix_socket_directories=" start >/dev/null
    first_query "$BP"; t1=$(now_ms); BB_FIRST=$((t1 - t0))
  fi
  Z stop >/dev/null
done

ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
REPORT=$(cat <<REP
### Snapshots and branches — $(date -u +%F)

Command: \`bench/snapshots.sh\` (BIG=$BIG, REPS=$REPS), one run, $(nproc) cores. Times are medians of $REPS, in ms, through the CLI (each includes a JVM start of the CLI, ~0.5 s).

| | scale 1 | scale $BIG | ratio |
|---|---|---|---|
| \`snapshot create\` | ${SNAP[1]} | ${SNAP[$BIG]} | $(ratio "${SNAP[$BIG]}" "${SNAP[1]}") |
| \`pg create --snapshot --no-start\` (branch) | ${BRANCH[1]} | ${BRANCH[$BIG]} | $(ratio "${BRANCH[$BIG]}" "${BRANCH[1]}") |

Time to first query at scale $BIG (data directory $SIZE_MB MB, source pg cleanly stopped):

| | ms | zenith ratio |
|---|---|---|
| zenith \`pg create --snapshot\` + first query | $Z_FIRST | 1.00 |
| \`cp -a\` of the data directory + \`pg_ctl start\` + first query | $CP_FIRST | $(ratio "$Z_FIRST" "$CP_FIRST") (target <= 1.3) |
| \`pg_basebackup -X stream\` from vanilla PG 15 + start + first query | $BB_FIRST | $(ratio "$Z_FIRST" "$BB_FIRST") (target < 1.0) |
REP
)
echo "$REPORT"
if [ "$APPEND" = "--append-results" ]; then printf '\n%s\n' "$REPORT" >> "$ROOT/bench/RESULTS.md"; fi
