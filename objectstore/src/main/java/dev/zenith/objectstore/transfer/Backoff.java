package dev.zenith.objectstore.transfer;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * When to try again: exponential from {@code initial} to {@code max}, each delay drawn between half
 * and all of it (so many writers do not retry in step). {@code maxAttempts} 0: until the transfer is
 * closed (the background upload's choice: S3 may be down for minutes and come back).
 */
public record Backoff(Duration initial, Duration max, int maxAttempts) {
    public Backoff {
        if (initial.isNegative() || initial.isZero() || max.compareTo(initial) < 0 || maxAttempts < 0) {
            throw new IllegalArgumentException("backoff needs 0 < initial <= max and maxAttempts >= 0");
        }
    }

    /** 200 ms doubling to 10 s, forever: the uploader's default. */
    public static Backoff untilClosed() {
        return new Backoff(Duration.ofMillis(200), Duration.ofSeconds(10), 0);
    }

    /** The delay before attempt {@code attempt + 1}, after {@code attempt} failures (1-based). */
    public Duration delayAfter(int attempt) {
        long base = initial.toMillis();
        long cap = max.toMillis();
        long d = base;
        for (int i = 1; i < attempt && d < cap; i++) {
            d *= 2;
        }
        d = Math.min(d, cap);
        return Duration.ofMillis(d / 2 + ThreadLocalRandom.current().nextLong(d / 2 + 1));
    }

    public boolean exhausted(int attempts) {
        return maxAttempts > 0 && attempts >= maxAttempts;
    }
}
