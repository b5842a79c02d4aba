#!/usr/bin/env bash
# S3 upload throughput: zenith's Uploader vs the SDK's own (plain) multipart upload of the
# same WAL-like segment files to the same S3Proxy on loopback, alternating, same run.
# Usage: bench/s3-upload.sh [segments of 16 MiB] [rounds]   (defaults 64 2: 1 GiB)
set -euo pipefail
cd "$(dirname "$0")/.."
cp_file=$(mktemp)
trap 'rm -f "$cp_file"' EXIT
mvn -q -B -pl bench -am -DskipTests package dependency:build-classpath -Dmdep.outputFile="$cp_file" >/dev/null
exec java ${JAVA_OPTS:--Xms2g -Xmx2g} -cp "bench/target/classes:$(cat "$cp_file")" dev.zenith.bench.s3.S3UploadBench "$@"
