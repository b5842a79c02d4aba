#!/usr/bin/env bash
# The WAL service against a vanilla PostgreSQL 15 primary holding the same WAL and the same database,
# in one run:
#   streaming   pg_receivewal from segment K up to a fixed end LSN (-E), from zenith's port and from vanilla
#   basebackup  pg_basebackup -X stream -c fast of the same database, from zenith's port and from vanilla
# The vanilla primary is a copy of the zenith compute's own data directory after a clean stop, so its
# pg_wal holds exactly the WAL the store received.
# Needs the jars built (./zenith start once, or mvn -pl server,cli package); ZENITH_NO_BUILD is set here.
# Usage: bench/walsender.sh   (SCALE, DURATION, ROUNDS, WARMUP override 10, 20, 5, 8)
# WARMUP rounds run both sides first, unmeasured (the daemon's JIT warms up as in a long-running daemon: a fresh
# daemon's base backups took 2.2 s, then shrank round by round to ~0.9 s by the eighth).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SCALE=${SCALE:-10}; DURATION=${DURATION:-20}; ROUNDS=${ROUNDS:-5}; WARMUP=${WARMUP:-8}
source "$ROOT/bench/common.sh"
bench_workdir zenith-walbench
export ZENITH_NO_BUILD=1
now() { date +%s.%N; }

echo "== zenith primary: pgbench -i -s $SCALE, pgbench -T $DURATION" >&2
export ZENITH_HOME="$WORK/zhome" ZENITH_HTTP_PORT=$(free_port) ZENITH_PG_PORT=$(free_port) ZENITH_COMPUTE_FIRST_PORT=$(free_port)
"$ROOT/zenith" start >/dev/null
JSON=$("$ROOT/zenith" pg create -n bench --json)
ZPORT=$(echo "$JSON" | sed -n 's/.*"port" : \([0-9]*\).*/\1/p')
zenith_passwords
RPW=$(head -1 "$ZENITH_HOME/replication-password") # the replication password the daemon generated
PGDATA=$(echo "$JSON" | sed -n 's/.*"pgdata" : "\([^"]*\)".*/\1/p')
FIRST=$(Q "$ZPORT" "SELECT pg_walfile_name(pg_current_wal_flush_lsn())")
"$PGBIN/pgbench" -h 127.0.0.1 -p "$ZPORT" -U postgres -i -q -s "$SCALE" postgres >"$WORK/init.log" 2>&1
"$PGBIN/pgbench" -h 127.0.0.1 -p "$ZPORT" -U postgres -c 4 -j 2 -T "$DURATION" postgres >"$WORK/run.log" 2>&1
ENDPOS=$(Q "$ZPORT" "SELECT pg_current_wal_flush_lsn()")
"$ROOT/zenith" pg stop -n bench >/dev/null

echo "== vanilla primary: a copy of the compute's directory" >&2
cp -a "$PGDATA" "$WORK/vanilla"; rm -f "$WORK/vanilla/zenith.conf" "$WORK/vanilla/postmaster.pid"
# Replication connections authenticate with SCRAM on both sides, as zenith's replication user does and as
# Debian's default pg_hba.conf has it for TCP (trust would skip the ~5 ms PBKDF2 a client pays); the script's
# own queries to it are trusted.
printf 'host replication postgres 127.0.0.1/32 scram-sha-256\nhost all postgres 127.0.0.1/32 trust\n' >"$WORK/vanilla/pg_hba.conf"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$WORK/vanilla"
VPORT=$(free_port)
"${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$WORK/vanilla" -l "$WORK/vanilla.log" -w -o "-c port=$VPORT -c listen_addresses=127.0.0.1 \
  -c unix_socket_directories= -c wal_keep_size=4GB -c max_wal_size=4GB -c shared_buffers=128MB" start >/dev/null
Q "$VPORT" "SET password_encryption = 'scram-sha-256'; ALTER ROLE postgres PASSWORD '$RPW'" >/dev/null
! PGPASSWORD=wrong "$PGBIN/psql" -X "host=127.0.0.1 port=$VPORT user=postgres replication=true" -c IDENTIFY_SYSTEM \
  >/dev/null 2>&1 || { echo "vanilla's replication connections do not ask for a password" >&2; exit 1; }
[ -f "$WORK/vanilla/pg_wal/$FIRST" ] || { echo "vanilla pg_wal lost $FIRST; lower SCALE/DURATION" >&2; exit 1; }

# pg_receivewal starts after the newest complete segment in its directory (ignoring segment 0): a 16 MiB
# placeholder named FIRST makes both runs stream from the start of the segment after FIRST to ENDPOS.
PREV=$FIRST
SEG=$((16#${FIRST:8:8} * 256 + 16#${FIRST:16:8} + 1))
START=$(printf '%s%08X%08X' "${FIRST:0:8}" $((SEG / 256)) $((SEG % 256)))
lsn_bytes() { python3 -c "h,l='$1'.split('/'); print((int(h,16)<<32)+int(l,16))"; }
STREAM_BYTES=$(( $(lsn_bytes "$ENDPOS") - SEG * 16777216 ))

receive() { # label host-args... -> seconds
  local label=$1; shift
  rm -rf "$WORK/recv-$label"; mkdir -p "$WORK/recv-$label"
  truncate -s 16M "$WORK/recv-$label/$PREV"
  local t0 t1; t0=$(now)
  "$PGBIN/pg_receivewal" "$@" -D "$WORK/recv-$label" --no-loop -E "$ENDPOS" >"$WORK/recv-$label.log" 2>&1
  t1=$(now); python3 -c "print(f'{$t1-$t0:.3f}')"
}
backup() { # label host-args... -> "seconds bytes"
  local label=$1; shift
  rm -rf "$WORK/bb-$label"
  local t0 t1; t0=$(now)
  "$PGBIN/pg_basebackup" "$@" -D "$WORK/bb-$label" -X stream -c fast >"$WORK/bb-$label.log" 2>&1
  t1=$(now); echo "$(python3 -c "print(f'{$t1-$t0:.3f}')") $(du -sb "$WORK/bb-$label" | cut -f1)"
}
Z=(-h 127.0.0.1 -p "$ZENITH_PG_PORT" -U zenith -w); export PGPASSWORD=$RPW
V=(-h 127.0.0.1 -p "$VPORT" -U postgres -w)  # SCRAM too, same password

for r in $(seq 1 "$WARMUP"); do
  echo "== warm-up round $r (not measured)" >&2
  receive zenith "${Z[@]}" >/dev/null; receive vanilla "${V[@]}" >/dev/null
  backup zenith "${Z[@]}" >/dev/null; backup vanilla "${V[@]}" >/dev/null
done
declare -a ZS VS ZB VB
for r in $(seq 1 "$ROUNDS"); do
  echo "== round $r" >&2
  ZS+=("$(receive zenith "${Z[@]}")"); VS+=("$(receive vanilla "${V[@]}")")
  [ -f "$WORK/recv-zenith/$START" ] || { echo "pg_receivewal did not start at $START" >&2; exit 1; }
  # Complete segments must be equal; the .partial one only up to ENDPOS (vanilla writes WAL of its own after it).
  for f in "$WORK"/recv-zenith/*; do
    n=$(basename "$f"); limit=(); [[ $n == *.partial ]] && limit=(-n $(( $(lsn_bytes "$ENDPOS") % 16777216 )))
    cmp "${limit[@]}" "$f" "$WORK/recv-vanilla/$n" >&2 || { echo "received WAL differs in $n" >&2; exit 1; }
  done
  ZB+=("$(backup zenith "${Z[@]}")"); VB+=("$(backup vanilla "${V[@]}")")
done

median() { python3 -c "import statistics,sys; print(f'{statistics.median(float(x) for x in sys.argv[1:]):.3f}')" "$@"; }
ZS_T=$(median "${ZS[@]}"); VS_T=$(median "${VS[@]}")
ZB_T=$(median $(printf '%s\n' "${ZB[@]}" | cut -d' ' -f1)); VB_T=$(median $(printf '%s\n' "${VB[@]}" | cut -d' ' -f1))
ZB_B=$(printf '%s\n' "${ZB[@]}" | tail -1 | cut -d' ' -f2); VB_B=$(printf '%s\n' "${VB[@]}" | tail -1 | cut -d' ' -f2)
mbs() { python3 -c "print(f'{$1/1e6/$2:.0f}')"; }
ratio() { python3 -c "print(f'{($1/$2)/($3/$4):.2f}')"; }
cat <<REP
### WAL service vs vanilla PostgreSQL 15, scale $SCALE, pgbench ${DURATION}s — $(date -u +%F)

Command: \`bench/walsender.sh\` (SCALE=$SCALE DURATION=$DURATION ROUNDS=$ROUNDS WARMUP=$WARMUP), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg).
Medians of $ROUNDS rounds after $WARMUP unmeasured, zenith and vanilla alternating. Streaming: pg_receivewal from $START's start to $ENDPOS
($((STREAM_BYTES / 1000000)) MB), files checked equal. Base backup: pg_basebackup -X stream -c fast, MB/s = bytes of the
resulting directory / wall time.

| what | zenith s | zenith MB/s | vanilla s | vanilla MB/s | zenith / vanilla |
|---|---|---|---|---|---|
| pg_receivewal | $ZS_T | $(mbs "$STREAM_BYTES" "$ZS_T") | $VS_T | $(mbs "$STREAM_BYTES" "$VS_T") | $(ratio "$STREAM_BYTES" "$ZS_T" "$STREAM_BYTES" "$VS_T") |
| pg_basebackup | $ZB_T | $(mbs "$ZB_B" "$ZB_T") | $VB_T | $(mbs "$VB_B" "$VB_T") | $(ratio "$ZB_B" "$ZB_T" "$VB_B" "$VB_T") |

All rounds (s): receivewal zenith ${ZS[*]} / vanilla ${VS[*]}; basebackup zenith $(printf '%s\n' "${ZB[@]}" | cut -d' ' -f1 | xargs) / vanilla $(printf '%s\n' "${VB[@]}" | cut -d' ' -f1 | xargs).
REP
