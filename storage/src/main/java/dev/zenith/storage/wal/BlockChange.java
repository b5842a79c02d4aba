package dev.zenith.storage.wal;

import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;

import java.util.Objects;

/** A WAL record at {@code recordLsn} touched block {@code block} of {@code rel}. */
public record BlockChange(RelTag rel, int block, Lsn recordLsn) {
    public BlockChange {
        Objects.requireNonNull(rel, "rel");
        Objects.requireNonNull(recordLsn, "recordLsn");
    }
}
