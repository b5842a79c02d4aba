package dev.zenith.storage.timeline;

import java.security.SecureRandom;
import java.util.Arrays;
import java.util.HexFormat;

/** A timeline's identity: 16 random bytes, written as 32 lower-case hex characters. */
public final class TimelineId implements Comparable<TimelineId> {
    public static final int BYTES = 16;
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final HexFormat HEX = HexFormat.of();

    private final byte[] bytes;
    /** Kept: every GetPage looks timelines up in maps (lineages, image windows) a few times. */
    private final int hash;

    private TimelineId(byte[] bytes) {
        this.bytes = bytes;
        this.hash = Arrays.hashCode(bytes);
    }

    public static TimelineId random() {
        byte[] b = new byte[BYTES];
        RANDOM.nextBytes(b);
        return new TimelineId(b);
    }

    public static TimelineId fromBytes(byte[] b) {
        if (b.length != BYTES) {
            throw new IllegalArgumentException("a timeline id has 16 bytes, not " + b.length);
        }
        return new TimelineId(b.clone());
    }

    /** Parses the 32-hex-character text form. */
    public static TimelineId parse(String text) {
        if (text.length() != 2 * BYTES) {
            throw new IllegalArgumentException("a timeline id is 32 hex characters: '" + text + "'");
        }
        try {
            return new TimelineId(HEX.parseHex(text));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("a timeline id is 32 hex characters: '" + text + "'", e);
        }
    }

    public byte[] toBytes() {
        return bytes.clone();
    }

    /** Copies the id into {@code target} at {@code offset} (key building without an extra copy). */
    public void copyTo(byte[] target, int offset) {
        System.arraycopy(bytes, 0, target, offset, BYTES);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TimelineId t && Arrays.equals(bytes, t.bytes);
    }

    @Override
    public int hashCode() {
        return hash;
    }

    @Override
    public int compareTo(TimelineId o) {
        return Arrays.compareUnsigned(bytes, o.bytes);
    }

    @Override
    public String toString() {
        return HEX.formatHex(bytes);
    }
}
