package dev.zenith.protocol.replication;

import java.time.Instant;

/** PostgreSQL timestamps on the replication wire: microseconds since 2000-01-01 00:00:00 UTC. */
public final class PgTime {
    /** Seconds from the Unix epoch to the PostgreSQL epoch. */
    public static final long PG_EPOCH_UNIX_SECONDS = 946_684_800L;

    private PgTime() {
    }

    public static long fromInstant(Instant t) {
        return Math.subtractExact(Math.addExact(Math.multiplyExact(t.getEpochSecond(), 1_000_000L), t.getNano() / 1000),
                PG_EPOCH_UNIX_SECONDS * 1_000_000L);
    }

    public static Instant toInstant(long pgMicros) {
        long unixMicros = pgMicros + PG_EPOCH_UNIX_SECONDS * 1_000_000L;
        return Instant.ofEpochSecond(Math.floorDiv(unixMicros, 1_000_000L), Math.floorMod(unixMicros, 1_000_000L) * 1000);
    }

    public static long now() {
        return fromInstant(Instant.now());
    }
}
