package dev.zenith.objectstore.lease;

import java.time.Duration;

/**
 * @param ttl           how long a lease lasts after its last renewal (a daemon killed with -9 keeps its storage that long)
 * @param renewEvery    how often the holder renews (well below ttl, so a few failed renewals are survived)
 * @param settle        how long a new holder waits after its write before reading the lease back; a taker whose
 *                      read-to-written time exceeds it starts over, so no two takers can both read back their own nonce
 * @param clockSkew     how far apart the clocks of two daemons may be: others wait this much past the expiry, the
 *                      holder stops this much before it
 * @param conditional   also send If-None-Match / If-Match (servers that honour them refuse the loser at once)
 */
public record LeaseSettings(Duration ttl, Duration renewEvery, Duration settle, Duration clockSkew, boolean conditional) {
    public LeaseSettings {
        if (renewEvery.compareTo(ttl) >= 0 || ttl.compareTo(clockSkew.multipliedBy(2)) <= 0 || settle.isNegative()) {
            throw new IllegalArgumentException("need renewEvery < ttl, ttl > 2 * clockSkew, settle >= 0");
        }
    }

    /** 60 s to live, renewed every 10 s, 2 s settle, clocks within 5 s, conditional writes where honoured. */
    public static LeaseSettings defaults() {
        return new LeaseSettings(Duration.ofSeconds(60), Duration.ofSeconds(10), Duration.ofSeconds(2), Duration.ofSeconds(5), true);
    }
}
