#!/usr/bin/env bash
# How long a commit waits for its WAL to be durable: on a zenith primary, the synchronous-replication
# round trip to our WAL receiver; on vanilla PostgreSQL 15 alone, its own WAL sync. Alternating pgbench
# rounds (after a CHECKPOINT each), and for each round:
#   zenith   TPS; pg_stat_replication.write_lag and flush_lag of our receiver, sampled every 0.2 s from one
#            psql session during the round (median, p90); the receiver's average journal write (avg_commit_ms)
#   vanilla  TPS; pg_stat_wal's WAL syncs and milliseconds per sync (track_wal_io_timing=on)
# This explains bench/pgbench-durability.sh's ratio to vanilla alone; it is not a target of its own.
# Usage: bench/commit-wait.sh   (SCALE, CLIENTS, ROUND_SECONDS, ROUNDS, WARMUP override 10, 8, 15, 3, 3)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SCALE=${SCALE:-10}; CLIENTS=${CLIENTS:-8}; ROUND_SECONDS=${ROUND_SECONDS:-15}; ROUNDS=${ROUNDS:-3}; WARMUP=${WARMUP:-3}
source "$ROOT/bench/common.sh"
bench_workdir zenith-commitwait
export ZENITH_NO_BUILD=1

echo "== set up: vanilla PostgreSQL alone and a zenith primary, scale $SCALE" >&2
start_vanilla_and_zenith -c track_wal_io_timing=on

receiver() { zenith_api /pgs/bench | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["wal_receiver"]))'; }

for r in $(seq 1 "$WARMUP"); do
  echo "== warm-up round $r (not measured)" >&2
  pgbench_round "$VPORT" >/dev/null; pgbench_round "$ZPORT" >/dev/null
done
ROWS=""
for r in $(seq 1 "$ROUNDS"); do
  echo "== round $r" >&2
  Q "$VPORT" "SELECT pg_stat_reset_shared('wal')" >/dev/null
  vt=$(pgbench_round "$VPORT")
  vsync=$(Q "$VPORT" "SELECT wal_sync || ' ' || round((wal_sync_time / greatest(wal_sync, 1))::numeric, 3) FROM pg_stat_wal")
  r0=$(receiver)
  # One psql session samples the lags (a psql start-up per sample would cost the compute measurable CPU).
  (for s in $(seq 1 $((ROUND_SECONDS * 5 - 5))); do
     echo "SELECT extract(epoch FROM write_lag) * 1000, extract(epoch FROM flush_lag) * 1000 FROM pg_stat_replication; SELECT pg_sleep(0.2);"
   done | "$PGBIN/psql" -X -h 127.0.0.1 -p "$ZPORT" -U postgres -Atq postgres | grep '|' >"$WORK/lags-$r" || true) &
  SAMPLER=$!
  zt=$(pgbench_round "$ZPORT")
  wait "$SAMPLER"
  r1=$(receiver)
  ROWS+=$(python3 - "$WORK/lags-$r" "$r0" "$r1" "$vt" "$vsync" "$zt" "$ROUND_SECONDS" <<'PY'
import json, statistics, sys
lags = []
for line in open(sys.argv[1]):
    try:
        lags.append(tuple(float(x) for x in line.strip().split('|')))
    except ValueError:
        pass  # no lag known yet (NULL) in that sample
r0, r1 = json.loads(sys.argv[2]), json.loads(sys.argv[3])
vt, (syncs, ms_per_sync), zt, secs = sys.argv[4], sys.argv[5].split(), sys.argv[6], float(sys.argv[7])
acks = r1['commits'] - r0['commits']
write_ms = (r1['avg_commit_ms'] * r1['commits'] - r0['avg_commit_ms'] * r0['commits']) / max(acks, 1)
def stats(xs):
    if not xs:
        return 'n/a'
    xs = sorted(xs)
    return f"{statistics.median(xs):.2f} / {xs[int(len(xs) * 0.9)]:.2f}"
print(f"| {zt} | {acks / secs:.0f} | {stats([w for w, f in lags])} | {stats([f for w, f in lags])} | {write_ms:.2f} "
      f"| {vt} | {int(syncs) / secs:.0f} | {float(ms_per_sync):.2f} |")
PY
)$'\n'
done
cat <<REP
### Commit wait, zenith primary vs vanilla PostgreSQL alone, scale $SCALE, $CLIENTS clients, rounds of ${ROUND_SECONDS}s — $(date -u +%F)

Command: \`bench/commit-wait.sh\` (SCALE=$SCALE CLIENTS=$CLIENTS ROUND_SECONDS=$ROUND_SECONDS ROUNDS=$ROUNDS WARMUP=$WARMUP), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg).
Lags in ms, median / p90 of the samples; journal write: the receiver's average per acknowledgement over the round
(weighted from its cumulative avg_commit_ms, which has two decimals).

| zenith TPS | acks/s | write_lag | flush_lag | journal write ms | vanilla TPS | vanilla WAL syncs/s | vanilla ms per sync |
|---|---|---|---|---|---|---|---|
${ROWS%$'\n'}
REP
