package dev.zenith.storage.wal;

import dev.zenith.wal.RelTag;

import java.util.Comparator;

/** One block of one relation fork, without a version. */
public record BlockRef(RelTag rel, int block) implements Comparable<BlockRef> {
    private static final Comparator<BlockRef> ORDER = Comparator
            .comparingLong((BlockRef b) -> Integer.toUnsignedLong(b.rel.node().spcOid()))
            .thenComparingLong(b -> Integer.toUnsignedLong(b.rel.node().dbOid()))
            .thenComparingLong(b -> Integer.toUnsignedLong(b.rel.node().relNode()))
            .thenComparingInt(b -> b.rel.fork().id())
            .thenComparingLong(b -> Integer.toUnsignedLong(b.block));

    @Override
    public int compareTo(BlockRef o) {
        return ORDER.compare(this, o);
    }
}
