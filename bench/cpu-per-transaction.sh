#!/usr/bin/env bash
# Where a transaction's CPU goes, zenith primary against vanilla PostgreSQL alone, in one run: during the
# middle of each pgbench round (so that pgbench and its backends, which exit at the end, are counted),
# the CPU time of every process on the machine is taken from /proc and divided by the transactions
# committed in that window (pg_stat_database). Groups: pg backends, pgbench, the zenith daemon, the
# compute's walsender, other PostgreSQL processes, kernel threads, everything else. Also how busy the
# whole machine was (/proc/stat; iowait counts as idle). This explains bench/pgbench-durability.sh's
# ratio against vanilla: on a saturated machine, TPS is cores divided by CPU per transaction.
# Usage: bench/cpu-per-transaction.sh   (SCALE, CLIENTS, ROUNDS, WARMUP override 10, 8, 2, 2)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SCALE=${SCALE:-10}; CLIENTS=${CLIENTS:-8}; ROUNDS=${ROUNDS:-2}; WARMUP=${WARMUP:-2}; ROUND_SECONDS=16
WINDOW=10 # seconds measured, from the 3rd second of each round
source "$ROOT/bench/common.sh"
bench_workdir zenith-cpu-per-txn
export ZENITH_NO_BUILD=1

# Per process: its group and CPU ticks; plus the machine's busy and idle ticks. As JSON.
snapshot() {
  python3 - <<'PY'
import json, os
procs = {}
PF_KTHREAD = 0x00200000
for pid in filter(str.isdigit, os.listdir('/proc')):
    try:
        st = open(f'/proc/{pid}/stat').read()
        comm = st[st.find('(') + 1:st.rfind(')')]
        f = st[st.rfind(')') + 2:].split()
        cmd = ''
        for _ in range(3):  # PostgreSQL rewrites its title in place: a read can catch it half written
            cmd = open(f'/proc/{pid}/cmdline').read().replace('\0', ' ').strip()
            if cmd:
                break
    except OSError:
        continue
    if int(f[6]) & PF_KTHREAD:
        g = 'kernel threads'
    elif comm == 'pgbench':
        g = 'pgbench'
    elif comm == 'postgres' and 'walsender' in cmd:
        g = 'compute walsender'
    elif comm == 'postgres' and (' postgres postgres ' in cmd or not cmd):
        g = 'pg backends'
    elif comm == 'postgres':
        g = 'other PostgreSQL'
    elif 'zenith-server' in cmd:
        g = 'zenith daemon'
    else:
        g = 'other'
    procs[pid] = [g, int(f[11]) + int(f[12])]
cpu = open('/proc/stat').readline().split()[1:]
print(json.dumps({'procs': procs, 'busy': sum(int(x) for i, x in enumerate(cpu[:8]) if i not in (3, 4)),
                  'idle': int(cpu[3]) + int(cpu[4])}))
PY
}

commits() { Q "$1" "select xact_commit from pg_stat_database where datname = 'postgres'"; }

measured_round() { # port label
  Q "$1" "CHECKPOINT"
  pgbench_tpcb "$1" >"$WORK/round.log" 2>&1 &
  local bench=$!
  sleep 3
  local a c0 b c1
  a=$(snapshot); c0=$(commits "$1")
  sleep "$WINDOW"
  b=$(snapshot); c1=$(commits "$1")
  wait "$bench"
  python3 - "$2" "$a" "$b" "$c0" "$c1" "$WINDOW" "$(tps_of <"$WORK/round.log")" <<'PY'
import json, os, sys
label, a, b, c0, c1, window, tps = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]), sys.argv[7]
hz = os.sysconf('SC_CLK_TCK')
txns = c1 - c0
busy = (b['busy'] - a['busy']) / ((b['busy'] - a['busy']) + (b['idle'] - a['idle']))
ticks = {}
for pid, (group, t) in b['procs'].items():  # processes that exited in the window are not counted
    before = a['procs'].get(pid)
    ticks[group] = ticks.get(group, 0) + t - (before[1] if before else 0)
us = {g: t / hz / txns * 1e6 for g, t in ticks.items() if t > 0}
total = sum(us.values())
parts = ', '.join(f'{g} {v:.0f}' for g, v in sorted(us.items(), key=lambda kv: -kv[1]) if v >= 1)
print(f'| {label} | {tps} | {txns / window:.0f} | {busy * 100:.0f}% | {total:.0f} | {parts} |')
PY
}

start_vanilla_and_zenith
for ((i = 1; i <= WARMUP; i++)); do
  pgbench_round "$VPORT" >/dev/null; pgbench_round "$ZPORT" >/dev/null
done
echo "### CPU per transaction, pgbench scale $SCALE, $CLIENTS clients — $(date -u +%F)"
echo
echo "Command: \`bench/cpu-per-transaction.sh\` (SCALE=$SCALE CLIENTS=$CLIENTS ROUNDS=$ROUNDS WARMUP=$WARMUP), $(nproc) cores."
echo
echo "| setup | round TPS | commits/s in window | machine busy | CPU µs per commit | by group (µs per commit) |"
echo "|---|---|---|---|---|---|"
for ((r = 1; r <= ROUNDS; r++)); do
  measured_round "$VPORT" "vanilla alone"
  measured_round "$ZPORT" "zenith primary"
done
