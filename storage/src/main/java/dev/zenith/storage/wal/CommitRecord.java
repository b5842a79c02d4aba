package dev.zenith.storage.wal;

import dev.zenith.wal.Lsn;

import java.time.Instant;
import java.util.Objects;

/**
 * A transaction commit (or abort) record and its timestamp, in PostgreSQL's representation:
 * microseconds since 2000-01-01 00:00:00 UTC.
 */
public record CommitRecord(Lsn recordLsn, long pgMicros) {
    /** PostgreSQL's epoch (2000-01-01) in Unix seconds. */
    private static final long PG_EPOCH_UNIX_SECONDS = 946_684_800L;

    public CommitRecord {
        Objects.requireNonNull(recordLsn, "recordLsn");
    }

    public static CommitRecord of(Lsn recordLsn, Instant time) {
        return new CommitRecord(recordLsn, toPgMicros(time));
    }

    public Instant time() {
        return fromPgMicros(pgMicros);
    }

    public static long toPgMicros(Instant t) {
        return Math.addExact(Math.multiplyExact(t.getEpochSecond() - PG_EPOCH_UNIX_SECONDS, 1_000_000L),
                t.getNano() / 1000);
    }

    public static Instant fromPgMicros(long micros) {
        return Instant.ofEpochSecond(PG_EPOCH_UNIX_SECONDS + Math.floorDiv(micros, 1_000_000L),
                Math.floorMod(micros, 1_000_000L) * 1000L);
    }
}
