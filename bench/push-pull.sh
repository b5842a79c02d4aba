#!/usr/bin/env bash
# snapshot push and pull through S3 (S3Proxy on loopback, filesystem backend) against the peer a user would script:
# `pg_basebackup -Ft -X fetch` of the same pg piped to `aws s3 cp -` (multipart) to push, `aws s3 cp - | tar -x` to
# pull. Same data, same S3, same run; a fresh remote prefix per round, so every push sends everything. Reports
# seconds and MB/s (of the base backup's bytes) for each, and zenith time / peer time (lower is better).
# Then the incremental push the issue asks for: pgbench on A for MINUTES, a second snapshot, pushed to the first
# round's remote: its bytes sent (compressed, and before compression) / the WAL written between the two snapshots.
# Usage: bench/push-pull.sh      SCALE, ROUNDS, MINUTES override 50, 1, 1
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SCALE=${SCALE:-50}; ROUNDS=${ROUNDS:-1}; MINUTES=${MINUTES:-1}
LOAD_BEFORE=$(cut -d" " -f1-3 /proc/loadavg)
source "$ROOT/bench/common.sh"
bench_workdir zenith-push-pull-bench
command -v aws >/dev/null || { echo "the peer needs the aws CLI" >&2; exit 1; }

start_s3proxy bench
# S3Proxy refuses the flexible-checksum headers recent botocore sends by default (NotImplemented)
export AWS_REQUEST_CHECKSUM_CALCULATION=when_required AWS_RESPONSE_CHECKSUM_VALIDATION=when_required
S3=(aws s3 --endpoint-url "http://127.0.0.1:$S3PORT" --only-show-errors)

echo "== zenith A (pushes): pg main, pgbench scale $SCALE, snapshot main@bench; zenith B (pulls)" >&2
A=(env ZENITH_HOME="$WORK/zhome" ZENITH_HTTP_PORT=$(free_port) ZENITH_PG_PORT=$(free_port) ZENITH_COMPUTE_FIRST_PORT=$(free_port) "$ROOT/zenith")
B=(env ZENITH_HOME="$WORK/home2" ZENITH_HTTP_PORT=$(free_port) ZENITH_PG_PORT=$(free_port) ZENITH_COMPUTE_FIRST_PORT=$(free_port) "$ROOT/zenith")
"${A[@]}" start >/dev/null
"${B[@]}" start >/dev/null
PORT=$("${A[@]}" pg create main --json | sed -n 's/.*"port" : \([0-9]*\).*/\1/p')
zenith_passwords
"$PGBIN/pgbench" -h 127.0.0.1 -p "$PORT" -U postgres -i -q -s "$SCALE" postgres >"$WORK/init.log" 2>&1
"${A[@]}" snapshot create main@bench >/dev/null

now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2-$1:.2f}')"; }
declare -a ZP PP ZL PL
for n in $(seq 1 "$ROUNDS"); do
  echo "== round $n of $ROUNDS" >&2
  "${A[@]}" remote add "r$n" "s3://bench/zenith-$n" --endpoint "http://127.0.0.1:$S3PORT" --region us-east-1 >/dev/null
  "${B[@]}" remote add "r$n" "s3://bench/zenith-$n" --endpoint "http://127.0.0.1:$S3PORT" --region us-east-1 >/dev/null
  t0=$(now); "${A[@]}" snapshot push main@bench --to "r$n" --json >"$WORK/push-$n.json" 2>"$WORK/push-$n.err"; t1=$(now)
  ZP+=("$(secs "$t0" "$t1")")
  t0=$(now)
  "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$PORT" -U postgres -w -Ft -X fetch -D - 2>"$WORK/basebackup-$n.err" \
    | "${S3[@]}" cp --expected-size $((4 << 30)) - "s3://bench/peer-$n/base.tar"
  t1=$(now); PP+=("$(secs "$t0" "$t1")")
  t0=$(now); "${B[@]}" snapshot pull main@bench --from "r$n" -s "pulled$n" --json >"$WORK/pull-$n.json" 2>"$WORK/pull-$n.err"; t1=$(now)
  ZL+=("$(secs "$t0" "$t1")")
  mkdir -p "$WORK/peer-$n"
  t0=$(now); "${S3[@]}" cp "s3://bench/peer-$n/base.tar" - | tar -x -C "$WORK/peer-$n"; t1=$(now)
  PL+=("$(secs "$t0" "$t1")")
  rm -rf "$WORK/peer-$n"
done
echo "== incremental: pgbench for $MINUTES minute(s), snapshot main@bench2, pushed to r1" >&2
LSN1=$("${A[@]}" snapshot list --json | python3 -c "import json,sys; print([s['lsn'] for s in json.load(sys.stdin) if s['name']=='main@bench'][0])")
"$PGBIN/pgbench" -h 127.0.0.1 -p "$PORT" -U postgres -c 4 -j 2 -T $((MINUTES * 60)) postgres >"$WORK/pgbench.log" 2>&1
"${A[@]}" snapshot create main@bench2 >/dev/null
LSN2=$("${A[@]}" snapshot list --json | python3 -c "import json,sys; print([s['lsn'] for s in json.load(sys.stdin) if s['name']=='main@bench2'][0])")
"${A[@]}" snapshot push main@bench2 --to r1 --json >"$WORK/push-incremental.json" 2>"$WORK/push-incremental.err"
INCR=$(python3 - "$LSN1" "$LSN2" "$WORK/push-incremental.json" <<'PY'
import json, sys
def lsn(t):
    hi, lo = t.split('/')
    return (int(hi, 16) << 32) | int(lo, 16)
wal = lsn(sys.argv[2]) - lsn(sys.argv[1])
d = json.load(open(sys.argv[3]))
content = d['bytes'] - d['bytes_skipped']
print(f"WAL between the snapshots {wal} bytes; sent {d['bytes_sent']} bytes compressed ({d['bytes_sent']/wal:.2f} of it),"
      f" {content} before compression ({content/wal:.2f}); skipped {d['bytes_skipped']}")
PY
)
BYTES=$(aws s3 --endpoint-url "http://127.0.0.1:$S3PORT" ls "s3://bench/peer-1/base.tar" | awk '{print $3}')
SENT=$(python3 -c "import json; d=json.load(open('$WORK/push-1.json')); print(d['bytes_sent'], d['bytes'], d['objects'])")
median() { python3 -c "import statistics,sys; print(f'{statistics.median(map(float, sys.argv[1:])):.2f}')" "$@"; }
mbs() { python3 -c "print(f'{$BYTES/$1/1e6:.0f}')"; }
zp=$(median "${ZP[@]}"); pp=$(median "${PP[@]}"); zl=$(median "${ZL[@]}"); pl=$(median "${PL[@]}")
echo "snapshot push/pull through S3Proxy on loopback, pgbench scale $SCALE, $ROUNDS round(s) (load before: $LOAD_BEFORE)"
echo "base backup: $BYTES bytes; zenith's first push: bytes_sent, bytes, objects = $SENT"
echo "push:  zenith ${ZP[*]} s (median $zp, $(mbs "$zp") MB/s)  peer pg_basebackup | aws s3 cp ${PP[*]} s (median $pp, $(mbs "$pp") MB/s)"
echo "pull:  zenith ${ZL[*]} s (median $zl, $(mbs "$zl") MB/s)  peer aws s3 cp | tar -x ${PL[*]} s (median $pl, $(mbs "$pl") MB/s)"
echo "incremental push after $MINUTES minute(s) of pgbench: $INCR"
echo "zenith / peer time: push $(python3 -c "print(f'{$zp/$pp:.2f}')"), pull $(python3 -c "print(f'{$zl/$pl:.2f}')") (lower is better; 1.25 = peer's throughput at 0.8)"
