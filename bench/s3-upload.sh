#!/usr/bin/env bash
# S3 upload throughput: zenith's Uploader vs the SDK's own (plain) multipart upload of the
# same segment files to the same S3Proxy on loopback, alternating, same run; once on WAL-like
# segments (zstd shrinks them) and once on incompressible random ones (the honest overhead figure).
# Usage: bench/s3-upload.sh [segments of 16 MiB] [rounds] [wal|random|both]   (defaults 64 2 both: 1 GiB each)
set -euo pipefail
cd "$(dirname "$0")/.."
cp_file=$(mktemp)
trap 'rm -f "$cp_file"' EXIT
mvn -q -B -pl bench -am -DskipTests package dependency:build-classpath -Dmdep.outputFile="$cp_file" >/dev/null
exec java ${JAVA_OPTS:--Xms2g -Xmx2g} -cp "bench/target/classes:$(cat "$cp_file")" dev.zenith.bench.s3.S3UploadBench "$@"
