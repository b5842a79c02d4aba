#!/usr/bin/env bash
# Time to first query of `zenith pg create --snapshot` at a snapshot taken after MINUTES of pgbench with no
# clean stop in between (the primary's only image is initdb's; checkpoints every 60 s leave anchors, which
# background materialization turns into page versions), against its peer: `cp -a` of a stopped data
# directory of the same size plus `pg_ctl start` and the same first query. Both timed in this run; prints
# both, the WAL the branch's start replayed (from the daemon's log), where the branch's time went (CLI and REST,
# data directory and WAL, PostgreSQL's start, replay, end of recovery, the daemon's checks, the first query, and
# when the checkpoint after the promotion ran; from the daemon's and PostgreSQL's logs) and the ratio (target at
# most 1.0).
# Needs the jars built (mvn -q -DskipTests package).
# Usage: bench/branch-first-query.sh   (SCALE, MINUTES, CLIENTS override 50, 10, 4)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SCALE=${SCALE:-50}; MINUTES=${MINUTES:-10}; CLIENTS=${CLIENTS:-4}; ROUNDS=${ROUNDS:-3}
source "$ROOT/bench/common.sh"
bench_workdir zenith-branchbench
export ZENITH_NO_BUILD=1
now() { date +%s.%N; }

start_zenith_bench
echo "== pgbench -i -s $SCALE, then $MINUTES min of pgbench ($CLIENTS clients), no clean stop" >&2
"$PGBIN/pgbench" -h 127.0.0.1 -p "$ZPORT" -U postgres -i -q -s "$SCALE" postgres >"$WORK/init.log" 2>&1
"$PGBIN/pgbench" -h 127.0.0.1 -p "$ZPORT" -U postgres -n -c "$CLIENTS" -j 2 -T "$(python3 -c "print(int($MINUTES*60))")" \
  postgres >"$WORK/pgbench.log" 2>&1
# the snapshot of the running primary, timed (it asks the primary for a checkpoint: its latency is part of the cost)
s0=$(now)
"$ROOT/zenith" snapshot create bench@late >/dev/null
SNAP_SECONDS=$(python3 -c "print(f'{$(now)-$s0:.3f}')")
echo "snapshot create of the running primary: ${SNAP_SECONDS}s"

TL=$(zenith_api /pgs/bench | python3 -c 'import json,sys; print(json.load(sys.stdin)["timeline_id"])')
ready_writes() { grep -c "ready data directory of timeline $TL at the anchor" "$ZENITH_HOME/zenith.log" || true; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# zenith_round R: pg create fastR --snapshot, timed to its first query; sets ZS, FPORT, REBUILT and PHASES.
zenith_round() {
  local name="fast$1" t0 t1
  echo "== round $1: zenith pg create $name --snapshot bench@late, then SELECT 1" >&2
  t0=$(now)
  FPORT=$("$ROOT/zenith" pg create "$name" --snapshot bench@late --json | port_of)
  zenith_passwords
  Q "$FPORT" "SELECT 1" >/dev/null
  t1=$(now)
  ZS=$(python3 -c "print(f'{$t1-$t0:.3f}')")
  REBUILT=$(grep -o "rebuilt [^ ]*/$name from .*bytes to replay).*" "$ZENITH_HOME/zenith.log" | tail -1 || true)
  # Where the time went, from the daemon's log and the branch's PostgreSQL log (both stamped to the millisecond).
  PHASES=$(python3 - "$t0" "$t1" "$ZENITH_HOME/zenith.log" "$ZENITH_HOME/pgs/$name.log" "$name" <<'PY'
import re, sys, time, calendar
t0, t1 = float(sys.argv[1]), float(sys.argv[2])
def stamp(text, pattern, utc):
    m = re.search(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.(\d{3})[^\n]*" + pattern, text, re.M)
    if not m:
        return None
    st = time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")
    return (calendar.timegm(st) if utc else time.mktime(st)) + int(m.group(2)) / 1000
daemon, pg, name = open(sys.argv[3]).read(), open(sys.argv[4]).read(), sys.argv[5]
marks = [("CLI and REST until the build", stamp(daemon, f"pg {name}: building its data directory", False)),
         ("data directory and WAL", stamp(daemon, f"rebuilt [^ ]*/{name} ", False)),
         ("PostgreSQL start", stamp(pg, "redo starts at", True)),
         ("replay", stamp(pg, "redo done at", True)),
         ("end of recovery", stamp(pg, "database system is ready to accept connections", True)),
         ("daemon's checks", stamp(daemon, f"pg {name} running on port", False)),
         ("CLI exit and the first query", t1)]
out, prev = [], t0
for name, t in marks:
    if t is not None:
        out.append(f"{name} {t - prev:.3f}s")
        prev = t
# The checkpoint PostgreSQL requests once promoted (in the background, as it starts to accept connections): whether
# it overlaps the first query, from its log lines' stamps.
ready = pg.find("redo done at")
began = stamp(pg[ready:], "checkpoint starting:", True) if ready >= 0 else None
done = re.search(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})[^\n]*checkpoint complete: wrote (\d+) buffers.*?total=([0-9.]+) s",
                 pg[ready:], re.M) if began is not None else None
ckpt = (f" (the checkpoint after the promotion: began {began - t0:.3f}s after the create, {done.group(2)} buffers in"
        f" {done.group(3)} s; the first query answered at {t1 - t0:.3f}s)") if done else \
    (f" (the checkpoint after the promotion began {began - t0:.3f}s after the create, not complete when the log was"
     f" read)" if began is not None else "")
print("; ".join(out) + ckpt)
PY
) || PHASES="(no breakdown: $PHASES)"
}

# peer_round R: the branch's directory, stopped cleanly, copied with cp -a and started by pg_ctl; sets VS and SIZE.
peer_round() {
  local name="fast$1" fdata cport t0 t1
  fdata=$(zenith_api "/pgs/$name" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pgdata"])')
  "$ROOT/zenith" pg stop "$name" >/dev/null
  SIZE=$(du -sb "$fdata" | cut -f1)
  cport=$(free_port)
  zenith_same_password "$FPORT" "$cport"
  sync; echo "== round $1: cp -a of $SIZE bytes, pg_ctl start, SELECT 1" >&2
  t0=$(now)
  cp -a "$fdata" "$WORK/copy"
  "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$WORK/copy" -l "$WORK/copy$1.log" -w -o "-c port=$cport -c listen_addresses=127.0.0.1 \
    -c unix_socket_directories= -c synchronous_standby_names= -c primary_conninfo=" start >/dev/null
  Q "$cport" "SELECT 1" >/dev/null
  t1=$(now)
  VS=$(python3 -c "print(f'{$t1-$t0:.3f}')")
  "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$WORK/copy" -m fast -w stop >/dev/null
  rm -rf "$WORK/copy"
}

RATIOS=()
for r in $(seq 1 "$ROUNDS"); do
  if [ "$r" -gt 1 ]; then
    # the take of the last round left the primary without a ready directory: wait until it is written again
    waited=0
    while [ "$(ready_writes)" -le "$WRITES_BEFORE" ] && [ "$waited" -lt 600 ]; do sleep 2; waited=$((waited + 2)); done
    echo "== the primary's ready directory written again after ${waited}s" >&2
    sleep 5 # let its writes settle
  fi
  zenith_round "$r"
  # counted after the round's take: a write that ended during the round (the snapshot's own step bringing the ready
  # directory forward, which round 1 may wait for) is not the write again the next round waits for
  WRITES_BEFORE=$(ready_writes)
  peer_round "$r"
  RATIOS+=("$(python3 -c "print(f'{$ZS/$VS:.2f}')")")
  echo "round $r: zenith: ${REBUILT:-no rebuild line in the log}"
  echo "round $r: zenith's phases: $PHASES"
  echo "round $r: pg create --snapshot to first query: ${ZS}s; cp -a + pg_ctl start to first query: ${VS}s: ${RATIOS[-1]}"
done
echo "data directory: $SIZE bytes; pgbench: $(grep -m1 '^number of transactions actually processed' "$WORK/pgbench.log" || true)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "time to first query of a branch / cp -a + pg_ctl start, median of $ROUNDS rounds: $(median "${RATIOS[@]}") (target at most 1.0)"
