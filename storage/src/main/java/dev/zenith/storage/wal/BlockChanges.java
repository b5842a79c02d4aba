package dev.zenith.storage.wal;

import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelFileNode;
import dev.zenith.wal.RelTag;

import java.nio.ByteBuffer;
import java.util.List;

/**
 * The block changes of one WAL append, packed into one index value: per change the record LSN (8),
 * tablespace, database, relfilenode (4 each), fork (1) and block number (4), big-endian.
 */
public final class BlockChanges {
    private static final int ENTRY = 8 + 4 + 4 + 4 + 1 + 4;

    /** Receives unpacked changes. */
    @FunctionalInterface
    public interface Visitor {
        void visit(Lsn recordLsn, RelTag rel, int block);
    }

    private BlockChanges() {
    }

    public static byte[] pack(List<BlockChange> changes) {
        ByteBuffer b = ByteBuffer.allocate(changes.size() * ENTRY);
        for (BlockChange c : changes) {
            RelFileNode n = c.rel().node();
            b.putLong(c.recordLsn().value()).putInt(n.spcOid()).putInt(n.dbOid()).putInt(n.relNode())
                    .put((byte) c.rel().fork().id()).putInt(c.block());
        }
        return b.array();
    }

    /** How many changes a packed value holds. */
    public static int count(byte[] packed) {
        return packed.length / ENTRY;
    }

    public static void unpack(byte[] packed, Visitor visitor) {
        if (packed.length % ENTRY != 0) {
            throw new IllegalArgumentException("block change index value of " + packed.length + " bytes is corrupt");
        }
        ByteBuffer b = ByteBuffer.wrap(packed);
        while (b.hasRemaining()) {
            Lsn lsn = Lsn.of(b.getLong());
            RelTag rel = new RelTag(new RelFileNode(b.getInt(), b.getInt(), b.getInt()), ForkNumber.of(b.get()));
            visitor.visit(lsn, rel, b.getInt());
        }
    }
}
