#!/usr/bin/env bash
# Where the CPU goes while pgbench runs on a zenith primary, next to vanilla PostgreSQL alone, in one run:
# per round, the TPS of each, then for zenith the daemon's CPU by thread group (percent of one core, from
# /proc/PID/task/*/stat), its voluntary context switches and WAL acknowledgements per second, its minor
# page faults per second, the compute's walsender CPU; for vanilla its WAL syncs per second (pg_stat_wal).
# This explains bench/pgbench-durability.sh's ratios; it is not a target of its own.
# Usage: bench/daemon-cpu.sh   (SCALE, CLIENTS, ROUND_SECONDS, ROUNDS, WARMUP override 10, 8, 15, 3, 3)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SCALE=${SCALE:-10}; CLIENTS=${CLIENTS:-8}; ROUND_SECONDS=${ROUND_SECONDS:-15}; ROUNDS=${ROUNDS:-3}; WARMUP=${WARMUP:-3}
source "$ROOT/bench/common.sh"
bench_workdir zenith-cpubench
export ZENITH_NO_BUILD=1

# Snapshot of CPU ticks, context switches and faults: per daemon thread group, and of the walsender.
snapshot() { # daemon-pid compute-port -> JSON on stdout
  python3 - "$1" "$2" <<'PY'
import json, os, re, sys
pid, port = sys.argv[1], sys.argv[2]
groups = {}
for t in os.listdir(f'/proc/{pid}/task'):
    try:
        st = open(f'/proc/{pid}/task/{t}/stat').read()
        status = open(f'/proc/{pid}/task/{t}/status').read()
    except OSError:
        continue
    name = re.sub(r'[-#]?\d+$', '', st[st.find('(') + 1:st.rfind(')')])
    f = st[st.rfind(')') + 2:].split()
    g = groups.setdefault(name, [0, 0, 0])
    g[0] += int(f[11]) + int(f[12])
    g[1] += int(re.search(r'\nvoluntary_ctxt_switches:\s*(\d+)', status).group(1))
    g[2] += int(re.search(r'\nnonvoluntary_ctxt_switches:\s*(\d+)', status).group(1))
minflt = int(open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[7])
walsender = 0
for p in os.listdir('/proc'):
    if p.isdigit():
        try:
            if b'walsender' in open(f'/proc/{p}/cmdline', 'rb').read():
                f = open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()
                walsender += int(f[11]) + int(f[12])
        except OSError:
            pass
print(json.dumps({'groups': groups, 'minflt': minflt, 'walsender': walsender}))
PY
}

echo "== set up: vanilla PostgreSQL alone and a zenith primary, scale $SCALE" >&2
start_vanilla_and_zenith
DAEMON=$(python3 -c "import json; print(json.load(open('$ZENITH_HOME/daemon.json'))['pid'])" 2>/dev/null || pgrep -f "zenith-server.jar" | head -1)

acks() { zenith_api /pgs/bench | python3 -c 'import json,sys; print(json.load(sys.stdin)["wal_receiver"]["commits"])'; }

for r in $(seq 1 "$WARMUP"); do
  echo "== warm-up round $r (not measured)" >&2
  pgbench_round "$VPORT" >/dev/null; pgbench_round "$ZPORT" >/dev/null
done
HZ=$(getconf CLK_TCK)
ROWS=""
for r in $(seq 1 "$ROUNDS"); do
  echo "== round $r" >&2
  s0=$(Q "$VPORT" "SELECT wal_sync FROM pg_stat_wal"); vt=$(pgbench_round "$VPORT"); s1=$(Q "$VPORT" "SELECT wal_sync FROM pg_stat_wal")
  a0=$(acks); before=$(snapshot "$DAEMON" "$ZPORT")
  zt=$(pgbench_round "$ZPORT")
  after=$(snapshot "$DAEMON" "$ZPORT"); a1=$(acks)
  ROWS+=$(python3 - "$before" "$after" "$ROUND_SECONDS" "$HZ" "$vt" "$zt" "$(( (s1 - s0) / ROUND_SECONDS ))" "$(( (a1 - a0) / ROUND_SECONDS ))" <<'PY'
import json, sys
b, a = json.loads(sys.argv[1]), json.loads(sys.argv[2])
secs, hz = float(sys.argv[3]), int(sys.argv[4])
vt, zt, syncs, acks = sys.argv[5], sys.argv[6], sys.argv[7], int(sys.argv[8])
zero = [0, 0, 0]
cpu = {k: (v[0] - b['groups'].get(k, zero)[0]) / hz / secs * 100 for k, v in a['groups'].items()}
cs = sum(v[1] - b['groups'].get(k, zero)[1] for k, v in a['groups'].items()) / secs
top = ', '.join(f'{k} {v:.0f}%' for k, v in sorted(cpu.items(), key=lambda x: -x[1]) if v >= 1)
per_ack = lambda k, i: (a['groups'][k][i] - b['groups'].get(k, zero)[i]) / secs / max(acks, 1)
busiest = [k for k, v in sorted(cpu.items(), key=lambda x: -x[1]) if v >= 3 and 'Compiler' not in k]
by_group = ', '.join(f'{k} {per_ack(k, 1):.1f}+{per_ack(k, 2):.1f}' for k in busiest)
print(f"| {vt} | {syncs} | {zt} | {acks} | {sum(cpu.values()):.0f}% ({top}) | {cs / max(acks, 1):.1f} ({by_group}) | "
      f"{(a['minflt'] - b['minflt']) / secs:.0f} | {(a['walsender'] - b['walsender']) / hz / secs * 100:.0f}% |")
PY
)$'\n'
done
cat <<REP
### Daemon CPU under pgbench, scale $SCALE, $CLIENTS clients, rounds of ${ROUND_SECONDS}s — $(date -u +%F)

Command: \`bench/daemon-cpu.sh\` (SCALE=$SCALE CLIENTS=$CLIENTS ROUND_SECONDS=$ROUND_SECONDS ROUNDS=$ROUNDS WARMUP=$WARMUP), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg).
CPU as percent of one core (thread names as the kernel truncates them); switches/ack: the daemon's voluntary context
switches per acknowledgement, then for its busiest thread groups voluntary+involuntary (preempted) switches per acknowledgement.

| vanilla TPS | vanilla WAL syncs/s | zenith TPS | acks/s | daemon CPU (by thread group) | switches/ack | daemon minor faults/s | walsender CPU |
|---|---|---|---|---|---|---|---|
${ROWS%$'\n'}
REP
echo "WAL receiver after the run: \`$(zenith_api /pgs/bench | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin).get("wal_receiver")))')\`"
