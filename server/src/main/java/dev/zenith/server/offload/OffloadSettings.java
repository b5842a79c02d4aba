package dev.zenith.server.offload;

import java.time.Duration;

/**
 * {@code offload} in conf/zenith.json: {@code interval_ms} (1000) between WAL uploads, {@code piece_bytes}
 * (16 MiB) per WAL object, {@code base_interval_ms} (10 s) at least between bases taken for changes other
 * than WAL, {@code stop_wait_ms} (10 min) a clean stop waits for S3 at most.
 */
public record OffloadSettings(Duration interval, int pieceBytes, Duration baseInterval, Duration stopWait) {
}
