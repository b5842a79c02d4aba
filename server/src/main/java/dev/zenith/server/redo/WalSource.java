package dev.zenith.server.redo;

import dev.zenith.wal.Lsn;
import dev.zenith.wal.segment.WalGeometry;
import dev.zenith.wal.segment.WalSegments;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/** Where a redo run gets its WAL (the store's {@code writeWalSegments} has this shape). */
@FunctionalInterface
public interface WalSource {
    /**
     * Writes into {@code walDir} the 16 MiB segment files, named for {@code pgTimeline}, that hold
     * the WAL from {@code from} to {@code to}: each from its segment's start (page headers
     * included), every byte after {@code to} zero.
     */
    void writeSegments(int pgTimeline, Lsn from, Lsn to, Path walDir) throws IOException;

    /** Segment files already on disk (a pg_wal or pg_receivewal directory), copied and cut at the target. */
    static WalSource segmentDirectory(Path dir) {
        return (pgTimeline, from, to, walDir) -> {
            long last = WalSegments.segmentNumber(to.value() - 1);
            for (long segno = WalSegments.segmentNumber(from.value()); segno <= last; segno++) {
                String name = WalSegments.fileName(pgTimeline, segno);
                Path file = dir.resolve(name);
                if (!Files.exists(file)) {
                    file = dir.resolve(name + ".partial"); // pg_receivewal's segment in progress
                }
                if (!Files.exists(file)) {
                    throw new IOException("WAL segment " + name + " is not in " + dir);
                }
                byte[] segment = Files.readAllBytes(file);
                if (segment.length != WalGeometry.WAL_SEGMENT_SIZE) {
                    throw new IOException(file + " is " + segment.length + " bytes, not a WAL segment");
                }
                if (segno == last) {
                    Arrays.fill(segment, WalSegments.segmentOffset(to.value() - 1) + 1, segment.length, (byte) 0);
                }
                Files.write(walDir.resolve(name), segment);
            }
        };
    }
}
