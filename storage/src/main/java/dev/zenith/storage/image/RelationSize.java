package dev.zenith.storage.image;

import dev.zenith.wal.RelTag;
import dev.zenith.wal.segment.WalGeometry;

import java.util.Collection;

/** One relation fork in an image and its length in 8 KiB blocks. */
public record RelationSize(RelTag rel, long blocks) {
    /** The bytes of every page of these forks (what writing them out writes). */
    public static long pageBytes(Collection<RelationSize> forks) {
        return forks.stream().mapToLong(RelationSize::blocks).sum() * WalGeometry.BLCKSZ;
    }
}
