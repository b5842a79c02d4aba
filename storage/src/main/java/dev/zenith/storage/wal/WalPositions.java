package dev.zenith.storage.wal;

import dev.zenith.wal.Lsn;

import java.nio.ByteBuffer;

/**
 * A timeline's own stored WAL: [start, end), the end of its last complete record (null when none is
 * known), and where the WAL held locally starts ({@code localStart}, null: at {@code start}); below it
 * the bytes were evicted to a remote home and are fetched from there ({@link WalLog.RemoteWal}).
 * Stored as three big-endian longs, 0 meaning "none", and a fourth only when some WAL was evicted.
 */
public record WalPositions(Lsn start, Lsn end, Lsn lastRecordEnd, Lsn localStart) {
    public static final WalPositions EMPTY = new WalPositions(Lsn.INVALID, Lsn.INVALID, null);

    /** Positions of WAL held entirely locally. */
    public WalPositions(Lsn start, Lsn end, Lsn lastRecordEnd) {
        this(start, end, lastRecordEnd, null);
    }

    public boolean isEmpty() {
        return start.equals(end);
    }

    /** Whether the bytes at {@code pos} (within [start, end)) were evicted. */
    public boolean evicted(Lsn pos) {
        return localStart != null && pos.isBefore(localStart);
    }

    public byte[] encode() {
        ByteBuffer b = ByteBuffer.allocate(localStart == null ? 24 : 32).putLong(start.value()).putLong(end.value())
                .putLong(lastRecordEnd == null ? 0 : lastRecordEnd.value());
        if (localStart != null) {
            b.putLong(localStart.value());
        }
        return b.array();
    }

    public static WalPositions decode(byte[] b) {
        ByteBuffer buf = ByteBuffer.wrap(b);
        Lsn start = Lsn.of(buf.getLong());
        Lsn end = Lsn.of(buf.getLong());
        long last = buf.getLong();
        Lsn localStart = buf.remaining() >= 8 ? Lsn.of(buf.getLong()) : null;
        return new WalPositions(start, end, last == 0 ? null : Lsn.of(last), localStart);
    }
}
