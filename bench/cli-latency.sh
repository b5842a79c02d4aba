#!/usr/bin/env bash
# CLI latency: wall time of `zenith pg list` against `psql -c 'select 1'` on the same pg, measured with
# hyperfine in one run (each command a fresh process, as a person or a script runs them). The goal is a
# ratio of at most 2. `zenith pg list` takes the launcher's lean path (the running daemon answers it: no
# JVM starts); the same command in the CLI's own JVM (ZENITH_CLI=jvm) is measured beside them for reference.
# Usage: bench/cli-latency.sh      (RUNS overrides hyperfine's runs per command, default 40)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUNS=${RUNS:-40}
source "$ROOT/bench/common.sh"
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install -y hyperfine)" >&2; exit 1; }
bench_workdir zenith-clibench
export ZENITH_HOME="$WORK/zhome" ZENITH_HTTP_PORT=$(free_port) ZENITH_PG_PORT=$(free_port) ZENITH_COMPUTE_FIRST_PORT=$(free_port)
"$ROOT/zenith" start >/dev/null
"$ROOT/zenith" pg create main >/dev/null 2>&1
CONNSTR=$("$ROOT/zenith" pg connstr main)
ZENITH_CLI=jvm "$ROOT/zenith" pg list >/dev/null   # the first command after a build writes the CLI's class-data archive
ZENITH_CLI=daemon "$ROOT/zenith" pg list >/dev/null # fails (exit 70) unless the daemon answers it
hyperfine -N --warmup 5 --runs "$RUNS" --export-json "$WORK/hyperfine.json" \
  -n "zenith pg list" "$ROOT/zenith pg list" \
  -n "psql -c 'select 1'" "$PGBIN/psql -X $CONNSTR -c 'select 1'" \
  -n "zenith pg list (JVM)" "env ZENITH_CLI=jvm $ROOT/zenith pg list" >&2
python3 - "$WORK/hyperfine.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
lean, psql, jvm = r["zenith pg list"], r["psql -c 'select 1'"], r["zenith pg list (JVM)"]
def t(x): return f"{x['mean'] * 1000:.0f} ms (median {x['median'] * 1000:.0f})"
print(f"zenith pg list {t(lean)}, psql -c 'select 1' {t(psql)}: ratio {lean['mean'] / psql['mean']:.1f}"
      f" (medians {lean['median'] / psql['median']:.1f}; goal: at most 2); in the CLI's JVM {t(jvm)},"
      f" ratio {jvm['mean'] / psql['mean']:.1f}")
PY
