#!/usr/bin/env bash
# WAL decoding throughput: zenith's decoder vs pg_waldump on the same pgbench WAL, same run.
# Usage: bench/wal-decode.sh [pgbench scale] [transactions] [rounds]   (defaults 3 3000 5)
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -q -B -o -pl wal install -DskipTests
mvn -q -B -o -pl bench compile
cp_file=$(mktemp)
trap 'rm -f "$cp_file"' EXIT
mvn -q -B -o -pl bench dependency:build-classpath -Dmdep.outputFile="$cp_file" >/dev/null
exec java ${JAVA_OPTS:--Xms1g -Xmx1g -XX:+UseSerialGC} -cp "bench/target/classes:$(cat "$cp_file")" dev.zenith.bench.walbench.WalDecodeBench "$@"
