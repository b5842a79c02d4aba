#!/usr/bin/env bash
# CLI latency: wall time of `zenith pg list` against `psql -c 'select 1'` on the same pg, measured with
# hyperfine in one run (each command a fresh process, as a person or a script runs them). The goal is a
# ratio of at most 2.
# Usage: bench/cli-latency.sh      (RUNS overrides hyperfine's runs per command, default 20)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUNS=${RUNS:-20}
source "$ROOT/bench/common.sh"
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install -y hyperfine)" >&2; exit 1; }
bench_workdir zenith-clibench
export ZENITH_HOME="$WORK/zhome" ZENITH_HTTP_PORT=$(free_port) ZENITH_PG_PORT=$(free_port) ZENITH_COMPUTE_FIRST_PORT=$(free_port)
"$ROOT/zenith" start >/dev/null
"$ROOT/zenith" pg create main >/dev/null 2>&1
CONNSTR=$("$ROOT/zenith" pg connstr main)
"$ROOT/zenith" pg list >/dev/null   # the first command after a build writes the CLI's class-data archive
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$WORK/hyperfine.json" \
  -n "zenith pg list" "$ROOT/zenith pg list" \
  -n "psql -c 'select 1'" "$PGBIN/psql -X $CONNSTR -c 'select 1'" >&2
python3 - "$WORK/hyperfine.json" <<'PY'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
z, p = r["zenith pg list"], r["psql -c 'select 1'"]
print(f"zenith pg list {z*1000:.0f} ms, psql -c 'select 1' {p*1000:.0f} ms: ratio {z/p:.1f} (goal: at most 2)")
PY
