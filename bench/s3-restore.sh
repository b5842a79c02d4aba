#!/usr/bin/env bash
# S3 storage restore: an empty ZENITH_HOME to the first query of a pg over an s3 storage whose prefix holds a
# pgbench database (zenith start, storage attach --type s3 of the prefix, pg start, a query), against
# downloading the same bytes (every object under the prefix) with the AWS CLI plus `pg_ctl start` and the
# same query on a vanilla copy of the database, in one run, to one S3Proxy on loopback. Issue 20's target:
# at most 1.3.
# Usage: bench/s3-restore.sh   (SCALE, ROUNDS override 50, 1). Needs the jars built (mvn -q -DskipTests package).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SCALE=${SCALE:-50}; ROUNDS=${ROUNDS:-1}
LOAD_BEFORE=$(cut -d" " -f1-3 /proc/loadavg)
source "$ROOT/bench/common.sh"
bench_workdir zenith-s3-restore
export ZENITH_NO_BUILD=1
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2-$1:.3f}')"; }
QUERY="SELECT count(*) FROM pgbench_branches"

start_s3proxy bench
# S3Proxy refuses the flexible-checksum headers recent botocore sends by default (NotImplemented)
export AWS_REQUEST_CHECKSUM_CALCULATION=when_required AWS_RESPONSE_CHECKSUM_VALIDATION=when_required
S3=(aws s3 --endpoint-url "http://127.0.0.1:$S3PORT")

echo "== zenith: an s3 storage with a pgbench database at scale $SCALE, then a clean stop" >&2
export ZENITH_HOME="$WORK/home-src" ZENITH_HTTP_PORT=$(free_port) ZENITH_PG_PORT=$(free_port) ZENITH_COMPUTE_FIRST_PORT=$(free_port)
"$ROOT/zenith" start >/dev/null
"$ROOT/zenith" storage attach cloud --type s3 --path s3://bench/zenith --endpoint "http://127.0.0.1:$S3PORT" >/dev/null
ZPORT=$("$ROOT/zenith" pg create main -s cloud --json | sed -n 's/.*"port" : \([0-9]*\).*/\1/p')
zenith_passwords
"$PGBIN/pgbench" -h 127.0.0.1 -p "$ZPORT" -U postgres -i -q -s "$SCALE" postgres >"$WORK/init.log" 2>&1
Q "$ZPORT" "CHECKPOINT" >/dev/null
EXPECTED=$(Q "$ZPORT" "$QUERY")
"$ROOT/zenith" stop >/dev/null # waits until S3 holds everything; lets go of the prefix
PREFIX_BYTES=$("${S3[@]}" ls --recursive --summarize s3://bench/zenith/ | sed -n 's/.*Total Size: \([0-9]*\).*/\1/p')

echo "== vanilla: the same database in a cluster of its own, stopped cleanly" >&2
VPORT=$(free_port)
"${AS_PG[@]}" "$PGBIN/initdb" -D "$WORK/vanilla" -U postgres --data-checksums --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
VOPTS="-c port=$VPORT -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c shared_buffers=128MB -c max_wal_size=1GB"
"${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$WORK/vanilla" -l "$WORK/vanilla.log" -w -o "$VOPTS" start >/dev/null
"$PGBIN/pgbench" -h 127.0.0.1 -p "$VPORT" -U postgres -i -q -s "$SCALE" postgres >"$WORK/vinit.log" 2>&1
"${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$WORK/vanilla" -w stop >/dev/null

peer() { # ROUND -> seconds: download every object of the prefix, then start the vanilla copy and query it
  local t0 t1; rm -rf "$WORK/download"; sync; t0=$(now)
  "${S3[@]}" cp --only-show-errors --recursive --exclude '*/' s3://bench/zenith/ "$WORK/download/" >/dev/null
  "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$WORK/vanilla" -l "$WORK/vanilla.log" -w -o "$VOPTS" start >/dev/null
  [ "$(Q "$VPORT" "$QUERY")" = "$EXPECTED" ] || { echo "vanilla answered wrong" >&2; exit 1; }
  t1=$(now)
  "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$WORK/vanilla" -w stop >/dev/null
  secs "$t0" "$t1"
}
zenith_restore() { # ROUND -> seconds: an empty home to the first query of the restored pg
  local t0 t1 ta tb port; t0=$(now)
  export ZENITH_HOME="$WORK/home-r$1" ZENITH_HTTP_PORT=$(free_port) ZENITH_PG_PORT=$(free_port) ZENITH_COMPUTE_FIRST_PORT=$(free_port)
  "$ROOT/zenith" start >/dev/null
  ta=$(now)
  "$ROOT/zenith" storage attach cloud --type s3 --path s3://bench/zenith --endpoint "http://127.0.0.1:$S3PORT" >/dev/null
  tb=$(now)
  port=$("$ROOT/zenith" pg start main --json | sed -n 's/.*"port" : \([0-9]*\).*/\1/p')
  zenith_passwords
  [ "$(Q "$port" "$QUERY")" = "$EXPECTED" ] || { echo "the restored pg answered wrong" >&2; exit 1; }
  t1=$(now)
  echo "zenith round $1: daemon start $(secs "$t0" "$ta")s, attach (restore) $(secs "$ta" "$tb")s, pg start + query $(secs "$tb" "$t1")s" >&2
  "$ROOT/zenith" stop >/dev/null
  rm -rf "$ZENITH_HOME"
  secs "$t0" "$t1"
}

RATIOS=()
for r in $(seq 1 "$ROUNDS"); do
  P=$(peer "$r"); Z=$(zenith_restore "$r")
  RATIOS+=("$(python3 -c "print(f'{$Z/$P:.2f}')")")
  echo "round $r: zenith restore to first query ${Z}s; peer download + pg_ctl start + query ${P}s: ${RATIOS[-1]}"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "pgbench scale $SCALE; the prefix holds $PREFIX_BYTES bytes; load average before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "median zenith restore / (download + pg_ctl start): $(median "${RATIOS[@]}") (target at most 1.3)"
