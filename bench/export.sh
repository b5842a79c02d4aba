#!/usr/bin/env bash
# snapshot export to a tar against pg_basebackup -Ft of the same database, in one run: a zenith pg at
# pgbench scale SCALE is stopped cleanly and snapshotted; a vanilla PostgreSQL 15 runs on a copy of its
# data directory. Each round times `pg_basebackup -Ft -X fetch -c fast` from the vanilla server (one base.tar
# with its WAL, and backup_manifest), the export as one REST request (curl, answered when the tar is written
# and fsynced), `zenith snapshot export bench@b --to X.tar` (the launcher, off a terminal: its lean path has
# the daemon run the command, which follows the job with GET /jobs/ID?wait_ms=, answered when the job ends) and the
# same with ZENITH_CLI=jvm (the CLI's JVM: its start, and the same following), all writing to WORK. Prints each round's seconds and the median ratios.
# Needs the jars built (mvn -q -DskipTests package); ZENITH_NO_BUILD is set here.
# Usage: bench/export.sh   (SCALE, ROUNDS, WARMUP override 10, 5, 1)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SCALE=${SCALE:-10}; ROUNDS=${ROUNDS:-5}; WARMUP=${WARMUP:-1}
source "$ROOT/bench/common.sh"
bench_workdir zenith-exportbench
export ZENITH_NO_BUILD=1
now() { date +%s.%N; }

echo "== zenith pg: pgbench -i -s $SCALE, stopped, snapshot bench@b" >&2
export ZENITH_HOME="$WORK/zhome" ZENITH_HTTP_PORT=$(free_port) ZENITH_PG_PORT=$(free_port) ZENITH_COMPUTE_FIRST_PORT=$(free_port)
"$ROOT/zenith" start >/dev/null
JSON=$("$ROOT/zenith" pg create -n bench --json)
ZPORT=$(echo "$JSON" | sed -n 's/.*"port" : \([0-9]*\).*/\1/p')
PGDATA=$(echo "$JSON" | sed -n 's/.*"pgdata" : "\([^"]*\)".*/\1/p')
zenith_passwords
"$PGBIN/pgbench" -h 127.0.0.1 -p "$ZPORT" -U postgres -i -q -s "$SCALE" postgres >"$WORK/init.log" 2>&1
"$ROOT/zenith" pg stop -n bench >/dev/null
"$ROOT/zenith" snapshot create bench@b >/dev/null

echo "== vanilla: a copy of the compute's directory" >&2
cp -a "$PGDATA" "$WORK/vanilla"; rm -f "$WORK/vanilla/zenith.conf" "$WORK/vanilla/postmaster.pid"
printf 'host replication postgres 127.0.0.1/32 trust\nhost all postgres 127.0.0.1/32 trust\n' >"$WORK/vanilla/pg_hba.conf"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$WORK/vanilla"
VPORT=$(free_port)
"${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$WORK/vanilla" -l "$WORK/vanilla.log" -w -o "-c port=$VPORT -c listen_addresses=127.0.0.1 \
  -c unix_socket_directories= -c shared_buffers=128MB" start >/dev/null

export_rest() { # -> "seconds bytes"
  rm -f "$WORK/export.tar"
  local t0 t1; t0=$(now)
  curl -sf -o "$WORK/export.json" -X POST -H "Authorization: Bearer $(head -1 "$ZENITH_HOME/api-token")" \
    -H 'Content-Type: application/json' -d "{\"action\":\"export\",\"to\":\"$WORK/export.tar\"}" \
    "http://127.0.0.1:$ZENITH_HTTP_PORT/snapshots/bench%40b/actions"
  t1=$(now); echo "$(python3 -c "print(f'{$t1-$t0:.3f}')") $(stat -c %s "$WORK/export.tar")"
}
export_tar() { # [ZENITH_CLI value] -> "seconds bytes"
  rm -f "$WORK/export.tar"
  local t0 t1; t0=$(now)
  ZENITH_CLI=${1:-} "$ROOT/zenith" snapshot export bench@b --to "$WORK/export.tar" >"$WORK/export.log" 2>&1
  t1=$(now); echo "$(python3 -c "print(f'{$t1-$t0:.3f}')") $(stat -c %s "$WORK/export.tar")"
}
basebackup_tar() { # -> "seconds bytes"
  rm -rf "$WORK/bb"
  local t0 t1; t0=$(now)
  "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$VPORT" -U postgres -w -D "$WORK/bb" -Ft -X fetch -c fast >"$WORK/bb.log" 2>&1
  t1=$(now); echo "$(python3 -c "print(f'{$t1-$t0:.3f}')") $(du -sb "$WORK/bb" | cut -f1)"
}

for r in $(seq 1 "$WARMUP"); do
  echo "== warm-up round $r (not measured)" >&2
  export_tar >/dev/null; export_tar jvm >/dev/null; export_rest >/dev/null; basebackup_tar >/dev/null
done
REST=(); CLI=(); JVM=()
for r in $(seq 1 "$ROUNDS"); do
  read -r VS VB < <(basebackup_tar)
  read -r RS RB < <(export_rest)
  read -r CS CB < <(export_tar)
  read -r JS JB < <(export_tar jvm)
  REST+=("$(python3 -c "print(f'{$RS/$VS:.2f}')")"); CLI+=("$(python3 -c "print(f'{$CS/$VS:.2f}')")")
  JVM+=("$(python3 -c "print(f'{$JS/$VS:.2f}')")")
  echo "round $r: pg_basebackup -Ft ${VS}s ($VB bytes); export: REST ${RS}s, CLI ${CS}s, CLI's JVM ${JS}s ($RB bytes):" \
    "${REST[-1]}, ${CLI[-1]}, ${JVM[-1]}"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "median export / pg_basebackup -Ft: REST $(median "${REST[@]}"), CLI $(median "${CLI[@]}") (target at most 1.2)," \
  "CLI's JVM $(median "${JVM[@]}")"
