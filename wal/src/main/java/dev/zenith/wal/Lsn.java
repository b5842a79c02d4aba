package dev.zenith.wal;

/**
 * A WAL position (PostgreSQL's XLogRecPtr): a byte offset into the WAL stream of a timeline.
 * Text form as PostgreSQL prints it: high and low 32 bits in upper-case hex, {@code 0/16B3748}.
 */
public record Lsn(long value) implements Comparable<Lsn> {
    public static final Lsn INVALID = new Lsn(0);

    public static Lsn of(long value) {
        return new Lsn(value);
    }

    /** Parses {@code X/Y}: one to eight hex digits each side (case-insensitive), nothing else, not even a sign. */
    public static Lsn parse(String text) {
        if (!HEX_PAIR.matcher(text).matches()) { // Long.parseLong alone would take "-1/5" and "+0/1"
            throw new IllegalArgumentException("not an LSN (expected X/Y in hex): '" + text + "'");
        }
        int slash = text.indexOf('/');
        long hi = Long.parseLong(text.substring(0, slash), 16);
        long lo = Long.parseLong(text.substring(slash + 1), 16);
        return new Lsn((hi << 32) | lo);
    }

    private static final java.util.regex.Pattern HEX_PAIR = java.util.regex.Pattern.compile("[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}");

    public boolean isValid() {
        return value != 0;
    }

    public Lsn plus(long bytes) {
        return new Lsn(value + bytes);
    }

    public long minus(Lsn other) {
        return value - other.value;
    }

    public boolean isAfter(Lsn other) {
        return Long.compareUnsigned(value, other.value) > 0;
    }

    public boolean isBefore(Lsn other) {
        return Long.compareUnsigned(value, other.value) < 0;
    }

    public static Lsn max(Lsn a, Lsn b) {
        return a.compareTo(b) >= 0 ? a : b;
    }

    public static Lsn min(Lsn a, Lsn b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    @Override
    public int compareTo(Lsn o) {
        return Long.compareUnsigned(value, o.value);
    }

    @Override
    public String toString() {
        return String.format("%X/%X", value >>> 32, value & 0xFFFFFFFFL);
    }
}
