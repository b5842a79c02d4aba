package dev.zenith.wal.rmgr;

import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;

/** PostgreSQL TimestampTz: microseconds since 2000-01-01 00:00:00 UTC. */
public final class PgTimestamp {
    /** Seconds from the Unix epoch to the PostgreSQL epoch. */
    public static final long POSTGRES_EPOCH_UNIX_SECONDS = 946_684_800L;

    private PgTimestamp() {
    }

    public static Instant toInstant(long pgMicros) {
        return Instant.ofEpochSecond(POSTGRES_EPOCH_UNIX_SECONDS + Math.floorDiv(pgMicros, 1_000_000L),
                Math.floorMod(pgMicros, 1_000_000L) * 1000L);
    }

    public static long fromInstant(Instant t) {
        return (t.getEpochSecond() - POSTGRES_EPOCH_UNIX_SECONDS) * 1_000_000L + t.getNano() / 1000;
    }

    /** Appends a separator and a two-digit field (String.format costs microseconds per call). */
    private static StringBuilder two(StringBuilder sb, char separator, int v) {
        return sb.append(separator).append((char) ('0' + v / 10)).append((char) ('0' + v % 10));
    }

    /**
     * As pg_waldump's timestamptz_to_str prints it with TZ=UTC: {@code 2026-11-25 14:17:28.653674 UTC}
     * (always six fraction digits).
     */
    public static String format(long pgMicros) {
        LocalDateTime t = LocalDateTime.ofInstant(toInstant(pgMicros), ZoneOffset.UTC);
        StringBuilder sb = new StringBuilder(32);
        two(two(two(two(two(sb.append(t.getYear()), '-', t.getMonthValue()), '-', t.getDayOfMonth()), ' ', t.getHour()),
                ':', t.getMinute()), ':', t.getSecond());
        String micros = Integer.toString(t.getNano() / 1000 + 1_000_000); // leading 1 gives the zero padding
        sb.append('.').append(micros, 1, 7);
        return sb.append(" UTC").toString();
    }
}
