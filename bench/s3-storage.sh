#!/usr/bin/env bash
# pgbench TPC-B on a pg over an s3 storage vs a pg over a native storage, same daemon, same run: uploads to S3
# (S3Proxy on loopback, filesystem backend) must stay off the commit path. Rounds alternate (native, s3, ...),
# each after a CHECKPOINT; the report gives each one's median TPS and the ratio s3/native (target >= 0.95),
# and what the s3 storage had not uploaded at the end of its rounds. Where the CPU goes: per kind of round, the
# daemon's CPU (by thread group, from /proc/PID/task/*/stat) and S3Proxy's, per MB of WAL the round's pg wrote; on 2
# cores what offload spends comes out of the TPS. The WAL lag to S3 during the s3 rounds: storage show sampled every
# 200 ms; a sample's lag is how long until remote_lsn reached the local_lsn it showed (WAL that reached LMDB then).
# Usage: bench/s3-storage.sh
#   SCALE, CLIENTS, THREADS, ROUND_SECONDS, ROUNDS, WARMUP override 10, 8, 2, 20, 3, 1; RATE=N runs pgbench at N
#   transactions per second (-R): TPS then says nothing, the CPU per MB of WAL is the figure (for loaded machines)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SCALE=${SCALE:-10}; CLIENTS=${CLIENTS:-8}; THREADS=${THREADS:-2}; ROUND_SECONDS=${ROUND_SECONDS:-20}; ROUNDS=${ROUNDS:-3}; WARMUP=${WARMUP:-1}
LOAD_BEFORE=$(cut -d" " -f1-3 /proc/loadavg)
source "$ROOT/bench/common.sh"
bench_workdir zenith-s3-bench

start_s3proxy bench

echo "== zenith: a native storage and an s3 storage, a pg on each" >&2
export ZENITH_HOME="$WORK/zhome" ZENITH_HTTP_PORT=$(free_port) ZENITH_PG_PORT=$(free_port) ZENITH_COMPUTE_FIRST_PORT=$(free_port)
"$ROOT/zenith" start >/dev/null
"$ROOT/zenith" storage attach cloud --type s3 --path s3://bench/zenith --endpoint "http://127.0.0.1:$S3PORT" >/dev/null
NPORT=$("$ROOT/zenith" pg create native --json | sed -n 's/.*"port" : \([0-9]*\).*/\1/p')
SPORT=$("$ROOT/zenith" pg create s3 -s cloud --json | sed -n 's/.*"port" : \([0-9]*\).*/\1/p')
zenith_passwords
for p in "$NPORT" "$SPORT"; do "$PGBIN/pgbench" -h 127.0.0.1 -p "$p" -U postgres -i -q -s "$SCALE" postgres >"$WORK/init-$p.log" 2>&1; done

DAEMON=$(python3 -c "import json; print(json.load(open('$ZENITH_HOME/daemon.json'))['pid'])")
# CPU ticks per daemon thread group (names as the kernel truncates them, numbers dropped) and S3Proxy's, as JSON
ticks() {
  python3 - "$DAEMON" "$S3_PID" <<'PY'
import json, os, re, sys
def stat(path):
    st = open(path).read()
    f = st[st.rfind(')') + 2:].split()
    return st[st.find('(') + 1:st.rfind(')')], int(f[11]) + int(f[12])
groups = {}
for t in os.listdir(f'/proc/{sys.argv[1]}/task'):
    try:
        name, n = stat(f'/proc/{sys.argv[1]}/task/{t}/stat')
    except OSError:
        continue
    name = re.sub(r'[-#]?\d+$', '', name)
    groups[name] = groups.get(name, 0) + n
print(json.dumps({'daemon': groups, 's3proxy': stat(f'/proc/{sys.argv[2]}/stat')[1]}))
PY
}
# storage show of cloud every 200 ms until killed, a line each: epoch seconds, local_lsn, remote_lsn, base (as JSON)
sample_lag() {
  python3 - "http://127.0.0.1:$ZENITH_HTTP_PORT/storages/cloud" "$(head -1 "$ZENITH_HOME/api-token")" <<'PY'
import json, sys, time, urllib.request
req = urllib.request.Request(sys.argv[1], headers={'Authorization': 'Bearer ' + sys.argv[2]})
while True:
    try:
        o = json.load(urllib.request.urlopen(req, timeout=10))['offload']
        t = [x for x in o['timelines'] if x['local_lsn']]
        print(json.dumps([time.time(), t[0]['local_lsn'], t[0]['remote_lsn'], o['base']]), flush=True)
    except Exception:
        pass
    time.sleep(0.2)
PY
}
sample_lag >"$WORK/lag.samples" 2>/dev/null & LAG_PID=$!
trap 'kill "$LAG_PID" 2>/dev/null || true; bench_cleanup' EXIT
round() { # port label n -> prints tps; WORK/label-n.cpu: ticks before and after, WAL bytes written
  Q "$1" "CHECKPOINT"
  local l0 l1
  l0=$(Q "$1" "SELECT pg_current_wal_lsn()"); ticks >"$WORK/$2-$3.cpu"
  [ "$2" = s3 ] && date +%s.%N >>"$WORK/s3-rounds"
  "$PGBIN/pgbench" -h 127.0.0.1 -p "$1" -U postgres -n -c "$CLIENTS" -j "$THREADS" -T "$ROUND_SECONDS" ${RATE:+-R "$RATE"} postgres >"$WORK/$2-$3.log" 2>&1
  [ "$2" = s3 ] && date +%s.%N >>"$WORK/s3-rounds"
  ticks >>"$WORK/$2-$3.cpu"; l1=$(Q "$1" "SELECT pg_current_wal_lsn()")
  Q "$1" "SELECT pg_wal_lsn_diff('$l1', '$l0')" >>"$WORK/$2-$3.cpu"
  sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$WORK/$2-$3.log" | head -1
}
for n in $(seq 1 "$WARMUP"); do
  echo "== warm-up round $n of $WARMUP" >&2
  round "$NPORT" native "w$n" >/dev/null; round "$SPORT" s3 "w$n" >/dev/null
done
declare -a NT ST
for n in $(seq 1 "$ROUNDS"); do
  echo "== round $n of $ROUNDS (${ROUND_SECONDS}s each)" >&2
  NT+=("$(round "$NPORT" native "$n")"); ST+=("$(round "$SPORT" s3 "$n")")
done
sleep 3; kill "$LAG_PID" 2>/dev/null || true # a last round's WAL reaches S3 meanwhile
OFFLOAD=$(zenith_api /storages/cloud | python3 -c 'import json,sys; o=json.load(sys.stdin)["offload"]; print({k: o.get(k) for k in ("unuploaded_wal_bytes","uploaded_bytes","upload_retries","error")})')
median() { python3 -c "import statistics,sys; print(f'{statistics.median(map(float, sys.argv[1:])):.1f}')" "$@"; }
N=$(median "${NT[@]}"); S=$(median "${ST[@]}")
echo "pgbench TPC-B scale $SCALE, $CLIENTS clients, $ROUNDS x ${ROUND_SECONDS}s rounds (load before: $LOAD_BEFORE)"
echo "native storage TPS per round: ${NT[*]} (median $N)"
echo "s3 storage TPS per round:     ${ST[*]} (median $S)"
echo "s3 / native: $(python3 -c "print(f'{$S/$N:.2f}')") (target >= 0.95)"
echo "s3 storage at the end: $OFFLOAD"
python3 - "$WORK/lag.samples" "$WORK/s3-rounds" <<'PY'
import json, statistics, sys
lsn = lambda s: int(s.split('/')[0], 16) << 32 | int(s.split('/')[1], 16) if s else -1
samples = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
bounds = [float(l) for l in open(sys.argv[2]) if l.strip()]
rounds = list(zip(bounds[0::2], bounds[1::2]))
lags, open_ended = [], 0
for i, (t, local, _, _) in enumerate(samples):
    if not any(a <= t <= b for a, b in rounds):
        continue
    reached = next((u for u, _, remote, _ in samples[i:] if lsn(remote) >= lsn(local)), None)
    if reached is None:
        open_ended += 1
    else:
        lags.append(reached - t)
bases = len({b for t, _, _, b in samples if any(a <= t <= e for a, e in rounds)})
if lags:
    lags.sort()
    print(f"WAL lag to S3 in the s3 rounds (LMDB to remote_lsn, {len(lags)} samples every 200 ms): median "
          f"{statistics.median(lags):.1f} s, p90 {lags[int(len(lags) * 0.9)]:.1f} s, max {lags[-1]:.1f} s"
          f"{f', {open_ended} samples never reached' if open_ended else ''}; distinct bases current in them: {bases}")
PY
python3 - "$WORK" "$ROUNDS" "$(getconf CLK_TCK)" <<'PY'
import json, sys
work, rounds, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def kind(label):
    daemon, proxy, wal = {}, 0, 0
    for n in range(1, rounds + 1):
        b, a, w = open(f'{work}/{label}-{n}.cpu').read().split('\n')[:3]
        b, a = json.loads(b), json.loads(a)
        for k, v in a['daemon'].items():
            daemon[k] = daemon.get(k, 0) + (v - b['daemon'].get(k, 0)) / hz
        proxy += (a['s3proxy'] - b['s3proxy']) / hz
        wal += float(w) / 1e6
    return daemon, proxy, wal
nd, np_, nw = kind('native'); sd, sp, sw = kind('s3')
print(f"CPU per MB of WAL written (ms; the daemon serves both pgs in every round): native rounds daemon "
      f"{sum(nd.values()) / nw * 1000:.1f} + S3Proxy {np_ / nw * 1000:.1f} ({nw:.0f} MB); s3 rounds daemon "
      f"{sum(sd.values()) / sw * 1000:.1f} + S3Proxy {sp / sw * 1000:.1f} ({sw:.0f} MB)")
diff = {k: sd.get(k, 0) / sw - nd.get(k, 0) / nw for k in set(sd) | set(nd)}
offload = ('zenith-upload', 'zenith-s3-io', 'sdk-async-respo', 'zenith-offload', 'zenith-lease')
spent = sum(v for d in (nd, sd) for k, v in d.items() if k.startswith(offload)) + np_ + sp
print(f"offload over all rounds (its threads {', '.join(offload)}, and S3Proxy): {spent:.1f} s CPU, "
      f"{spent / sw * 1000:.1f} ms per MB of the s3 pg's WAL, {spent / (sum(nd.values()) + sum(sd.values()) + np_ + sp) * 100:.0f}% of daemon + S3Proxy")
print("daemon thread groups, s3 minus native rounds (ms per MB of WAL): " + ', '.join(
    f"{k} {v * 1000:+.1f}" for k, v in sorted(diff.items(), key=lambda x: -abs(x[1])) if abs(v * 1000) >= 0.5))
PY
