package dev.zenith.storage.lmdb;

import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelFileNode;
import dev.zenith.wal.RelTag;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Key layouts. Every number is big-endian so LMDB's byte order is numeric order, and every key
 * starts with the timeline id so one timeline's data is one contiguous range (a branch reads its
 * own range, then its parent's below the branch LSN).
 */
public final class Keys {
    public static final int TL = TimelineId.BYTES;
    /** timeline, spc, db, rel, fork, block: the prefix shared by all versions of one page. */
    public static final int BLOCK_PREFIX = TL + 4 + 4 + 4 + 1 + 4;
    public static final int PAGE = BLOCK_PREFIX + 8;

    private Keys() {
    }

    public static byte[] timeline(TimelineId tl) {
        return tl.toBytes();
    }

    public static TimelineId timelineOf(byte[] key) {
        return TimelineId.fromBytes(Arrays.copyOf(key, TL));
    }

    /** (timeline, lsn): WAL chunks, images, checkpoints. */
    public static byte[] timelineLsn(TimelineId tl, Lsn lsn) {
        byte[] k = new byte[TL + 8];
        tl.copyTo(k, 0);
        putLong(k, TL, lsn.value());
        return k;
    }

    public static Lsn lsnAt(byte[] key, int offset) {
        return Lsn.of(getLong(key, offset));
    }

    /** (timeline, spc, db, rel, fork, block, lsn): page versions and the per-block change index. */
    public static byte[] page(TimelineId tl, RelTag rel, int block, Lsn lsn) {
        byte[] k = new byte[PAGE];
        tl.copyTo(k, 0);
        putRel(k, TL, rel);
        putInt(k, TL + 13, block);
        putLong(k, BLOCK_PREFIX, lsn.value());
        return k;
    }

    /** (timeline, spc, db, rel, fork): the start of one fork's page range. */
    public static byte[] forkPrefix(TimelineId tl, RelTag rel) {
        byte[] k = new byte[TL + 13];
        tl.copyTo(k, 0);
        putRel(k, TL, rel);
        return k;
    }

    /** (timeline, spc, db, rel, fork, lsn): a fork's size history ({@code rel_sizes}). */
    public static final int REL_SIZE = TL + 13 + 8;

    public static byte[] relSize(TimelineId tl, RelTag rel, Lsn lsn) {
        byte[] k = java.util.Arrays.copyOf(forkPrefix(tl, rel), REL_SIZE);
        putLong(k, TL + 13, lsn.value());
        return k;
    }

    /** The fork a {@code rel_sizes} key (or a page key) names. */
    public static RelTag relAt(byte[] k) {
        return RelTag.of(getInt(k, TL), getInt(k, TL + 4), getInt(k, TL + 8), ForkNumber.of(k[TL + 12]));
    }

    /** (timeline, spc, db, lsn): a database directory's history ({@code databases}). */
    public static final int DATABASE = TL + 8 + 8;

    public static byte[] database(TimelineId tl, int spcOid, int dbOid, Lsn lsn) {
        byte[] k = new byte[DATABASE];
        tl.copyTo(k, 0);
        putInt(k, TL, spcOid);
        putInt(k, TL + 4, dbOid);
        putLong(k, TL + 8, lsn.value());
        return k;
    }

    /** (timeline, commit time in PG microseconds with the sign bit flipped, lsn). */
    public static byte[] commit(TimelineId tl, long pgMicros, Lsn lsn) {
        byte[] k = new byte[TL + 16];
        tl.copyTo(k, 0);
        putLong(k, TL, pgMicros ^ Long.MIN_VALUE);
        putLong(k, TL + 8, lsn.value());
        return k;
    }

    public static long commitMicrosAt(byte[] k) {
        return getLong(k, TL) ^ Long.MIN_VALUE;
    }

    /** A page version's key as words: timeline, relation file, block and version LSN. */
    public static String describePage(byte[] k) {
        RelTag rel = relAt(k);
        return "timeline " + timelineOf(k) + ", " + rel.path() + " block " + Integer.toUnsignedString(getInt(k, TL + 13))
                + ", version at " + lsnAt(k, BLOCK_PREFIX);
    }

    public static boolean hasPrefix(byte[] key, byte[] prefix) {
        return key.length >= prefix.length && Arrays.equals(key, 0, prefix.length, prefix, 0, prefix.length);
    }

    public static boolean hasPrefix(byte[] key, byte[] prefix, int prefixLength) {
        return key.length >= prefixLength && Arrays.equals(key, 0, prefixLength, prefix, 0, prefixLength);
    }

    private static void putRel(byte[] k, int off, RelTag rel) {
        putInt(k, off, rel.node().spcOid());
        putInt(k, off + 4, rel.node().dbOid());
        putInt(k, off + 8, rel.node().relNode());
        k[off + 12] = (byte) rel.fork().id();
    }

    public static void putLong(byte[] b, int off, long v) {
        ByteBuffer.wrap(b, off, 8).putLong(v);
    }

    public static long getLong(byte[] b, int off) {
        return ByteBuffer.wrap(b, off, 8).getLong();
    }

    public static void putInt(byte[] b, int off, int v) {
        ByteBuffer.wrap(b, off, 4).putInt(v);
    }

    public static int getInt(byte[] b, int off) {
        return ByteBuffer.wrap(b, off, 4).getInt();
    }
}
