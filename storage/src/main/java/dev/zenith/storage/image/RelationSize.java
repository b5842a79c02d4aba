package dev.zenith.storage.image;

import dev.zenith.wal.RelTag;

/** One relation fork in an image and its length in 8 KiB blocks. */
public record RelationSize(RelTag rel, long blocks) {
}
