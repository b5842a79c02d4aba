package dev.zenith.server.offload;

import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** How long the offload waits between bases taken for changes other than WAL. */
class BaseSpacingTest {
    @Test
    void aSlowBaseSpacesTheNextOnesOutAndAQuickOneKeepsTheInterval() {
        Duration interval = Duration.ofSeconds(10);
        assertEquals(Duration.ofSeconds(10).toNanos(), StorageOffload.baseSpacingNanos(interval, 0), "no base yet");
        assertEquals(Duration.ofSeconds(10).toNanos(), StorageOffload.baseSpacingNanos(interval, Duration.ofMillis(300).toNanos()));
        // a base that took 4 s (copying and hashing a large store beside a busy pg): the next no sooner than 40 s on
        assertEquals(Duration.ofSeconds(40).toNanos(), StorageOffload.baseSpacingNanos(interval, Duration.ofSeconds(4).toNanos()));
        assertEquals(Duration.ofSeconds(20).toNanos(), StorageOffload.baseSpacingNanos(Duration.ZERO, Duration.ofSeconds(2).toNanos()));
    }
}
