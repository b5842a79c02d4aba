package dev.zenith.server.redo;

import java.time.Duration;

/**
 * How redo runs' servers are sized and how long one may take.
 *
 * @param sharedBuffers PostgreSQL's shared_buffers for a run (pages beyond it are written out and read back)
 * @param timeout       for crash recovery, and again for the shutdown
 */
public record RedoSettings(String sharedBuffers, Duration timeout) {
    public static RedoSettings defaults() {
        return new RedoSettings("32MB", Duration.ofMinutes(10));
    }
}
