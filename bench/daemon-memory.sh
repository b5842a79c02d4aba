#!/usr/bin/env bash
# The daemon's memory over branch create/destroy loops on a pgbench database: its RSS (anonymous and
# file-backed: LMDB's map), its Java heap (used and committed) and LMDB's used pages, after start, after
# pgbench -i, after each loop, and after an idle pause. Each loop creates a branch of main (a
# materialization), writes to it with pgbench, diffs two snapshots of main, takes a base backup of the
# branch from the replication port, destroys the branch and runs gc.
# Two daemons run the same steps one after the other: one with conf/zenith.json's memory bound, and
# its peer with the bound off (daemon.max_heap_mb and daemon.max_direct_memory_mb 0: the JVM's
# defaults, a heap of up to a quarter of RAM).
# Usage: bench/daemon-memory.sh   (SCALE, LOOPS, BRANCH_SECONDS, IDLE_SECONDS override 10, 5, 10, 60;
#        ONLY=bounded or ONLY=unbounded runs one of the two; NMT=1 with
#        ZENITH_JVM_OPTS=-XX:NativeMemoryTracking=summary prints the JVM's native memory when idle)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SCALE=${SCALE:-10}; LOOPS=${LOOPS:-5}; BRANCH_SECONDS=${BRANCH_SECONDS:-10}; IDLE_SECONDS=${IDLE_SECONDS:-60}
source "$ROOT/bench/common.sh"
bench_workdir zenith-membench
export ZENITH_NO_BUILD=1
Z() { "$ROOT/zenith" "$@"; }
port_of() { sed -n 's/.*"port" : \([0-9]*\).*/\1/p' | head -1; }

# MiB figures of the daemon: RSS, its anonymous and file-backed parts, heap used and committed, LMDB used pages.
measure() { # pid label; the seconds since the previous measurement come last
  local pid=$1 label=$2 heap used committed lmdb now=$SECONDS
  local took=$((now - ${LAST_MEASURE:-$now})); LAST_MEASURE=$now
  heap=$(jcmd "$pid" GC.heap_info 2>/dev/null | sed -n 's/.*garbage-first heap *total \([0-9]*\)K, used \([0-9]*\)K.*/\1 \2/p')
  committed=$(( ${heap% *} / 1024 )); used=$(( ${heap#* } / 1024 ))
  lmdb=$(curl -s "http://127.0.0.1:$ZENITH_HTTP_PORT/storages/local" | python3 -c \
    'import json,sys; s=json.load(sys.stdin).get("size",{}); print(s.get("used_bytes",0)//1048576)' 2>/dev/null || echo "?")
  awk -v l="$label" -v u="$used" -v c="$committed" -v m="$lmdb" -v t="$took" '
    /^VmRSS/ {rss=$2} /^RssAnon/ {anon=$2} /^RssFile/ {file=$2}
    END {printf "| %s | %d | %d | %d | %s | %s | %s | %s |\n", l, rss/1024, anon/1024, file/1024, u, c, m, t}' "/proc/$pid/status"
}

run() { # name conf-file -> table rows on stdout; peak RSS in PEAK
  local name=$1 conf=$2 pid port bport
  export ZENITH_HOME="$WORK/home-$name" ZENITH_HTTP_PORT=$(free_port) ZENITH_PG_PORT=$(free_port) ZENITH_COMPUTE_FIRST_PORT=$(free_port)
  LAST_MEASURE=$SECONDS
  ZENITH_CONF=$conf Z start >/dev/null
  pid=$(python3 -c "import json; print(json.load(open('$ZENITH_HOME/daemon.json'))['pid'])")
  echo "== $name: daemon $pid, pgbench -i -s $SCALE" >&2
  measure "$pid" "$name: started"
  port=$(Z pg create main --json | port_of)
  "$PGBIN/pgbench" -h 127.0.0.1 -p "$port" -U postgres -i -q -s "$SCALE" postgres >/dev/null 2>&1
  Z snapshot create main@s0 >/dev/null
  measure "$pid" "$name: pgbench -i"
  for i in $(seq 1 "$LOOPS"); do
    echo "== $name: loop $i" >&2
    bport=$(Z pg create "b$i" main --json | port_of)
    "$PGBIN/pgbench" -h 127.0.0.1 -p "$bport" -U postgres -n -c 4 -j 2 -T "$BRANCH_SECONDS" postgres >/dev/null 2>&1
    "$PGBIN/pgbench" -h 127.0.0.1 -p "$port" -U postgres -n -c 4 -j 2 -T 2 postgres >/dev/null 2>&1
    Z snapshot create "main@s$i" >/dev/null
    Z snapshot diff main@s0 "main@s$i" >/dev/null
    rm -rf "$WORK/backup"
    PGPASSWORD=zenith "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$ZENITH_PG_PORT" -U zenith -D "$WORK/backup" -Ft -X fetch \
      -d "options='-c zenith.pg=b$i'" >/dev/null 2>&1 || echo "warning: base backup of b$i failed" >&2
    Z pg destroy "b$i" --yes >/dev/null
    Z storage gc local >/dev/null
    measure "$pid" "$name: loop $i"
  done
  echo "== $name: idle ${IDLE_SECONDS}s" >&2
  sleep "$IDLE_SECONDS"
  measure "$pid" "$name: idle ${IDLE_SECONDS}s"
  # NMT=1 (ZENITH_JVM_OPTS=-XX:NativeMemoryTracking=summary): where the JVM's own memory is, on stderr
  if [ -n "${NMT:-}" ]; then jcmd "$pid" VM.native_memory summary >&2 || true; fi
  Z stop >/dev/null
}

BOUNDED=${ZENITH_CONF:-$ROOT/conf/zenith.json}
UNBOUNDED="$WORK/unbounded.json"
python3 - "$BOUNDED" "$UNBOUNDED" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c.setdefault("daemon", {}).update({"max_heap_mb": 0, "max_direct_memory_mb": 0})
json.dump(c, open(sys.argv[2], "w"), indent=2)
PY
ROWS=""
[ "${ONLY:-}" = unbounded ] || ROWS+=$(run bounded "$BOUNDED")$'\n'
[ "${ONLY:-}" = bounded ] || ROWS+=$(run unbounded "$UNBOUNDED")$'\n'
cat <<REP
### Daemon memory over branch loops, pgbench scale $SCALE — $(date -u +%F)

Command: \`bench/daemon-memory.sh\` (SCALE=$SCALE LOOPS=$LOOPS BRANCH_SECONDS=$BRANCH_SECONDS IDLE_SECONDS=$IDLE_SECONDS), $(nproc) cores,
$(free -g | awk '/^Mem/ {print $2}') GiB RAM. bounded: conf/zenith.json's daemon section ($(python3 -c "import json; print(json.load(open('$BOUNDED')).get('daemon', 'defaults'))"));
unbounded: the JVM's defaults. MiB; RSS = anonymous + file-backed (LMDB's map, shared with the page cache).

| step | RSS | anon | file | heap used | heap committed | LMDB used | seconds |
|---|---|---|---|---|---|---|---|
${ROWS%$'\n'}
REP
