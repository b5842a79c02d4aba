package dev.zenith.server.follower;

import java.time.Duration;

/**
 * {@code follower} in conf/zenith.json: whether latest reads under writes may be answered from a follower standby's
 * files ({@code enabled}, true), how long a follower no read asked lives on ({@code idle_seconds}, 120), how long a
 * read waits for a follower that has not replayed (or written out) its block yet before it takes a redo run
 * ({@code wait_ms}, 200: a run takes longer), and the followers' {@code shared_buffers} ("128kB", PostgreSQL's least: replay then writes
 * almost every page it touches out to the file, where reads find it, soon after).
 */
public record FollowerSettings(boolean enabled, Duration idle, Duration readWait, String sharedBuffers) {
    public static final FollowerSettings DEFAULTS = new FollowerSettings(true, Duration.ofSeconds(120),
            Duration.ofMillis(200), "128kB");
}
