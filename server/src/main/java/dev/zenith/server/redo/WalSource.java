package dev.zenith.server.redo;

import dev.zenith.wal.Lsn;
import dev.zenith.wal.segment.WalGeometry;
import dev.zenith.wal.segment.WalSegmentWriter;
import dev.zenith.wal.segment.WalSegments;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Where a redo run gets its WAL (the store's {@code writeWalSegments} has this shape). */
@FunctionalInterface
public interface WalSource {
    /**
     * Writes into {@code walDir} the 16 MiB segment files, named for {@code pgTimeline}, that hold
     * the WAL from {@code from} to {@code to}: each from its segment's start (page headers
     * included), every byte after {@code to} zero. {@code from} is a redo point: the bytes between the
     * segment's first page and {@code from}'s page, which recovery never reads, may be zeros.
     */
    void writeSegments(int pgTimeline, Lsn from, Lsn to, Path walDir) throws IOException;

    /**
     * As above, where the records up to {@code checkedTo} (a record end) were checked before, by a run given an equal
     * source that {@link #growsOnly}: a source that checks the records it writes need check only those after it.
     */
    default void writeSegments(int pgTimeline, Lsn from, Lsn to, Path walDir, Lsn checkedTo) throws IOException {
        writeSegments(pgTimeline, from, to, walDir);
    }

    /**
     * Whether every source equal to this one ({@link Object#equals}) writes, up to any target it wrote before, the same
     * bytes again: a WAL that only grows (the store's, of one timeline's lineage: complete records are never rewritten).
     * Then a run needs to check only the WAL after an earlier run's target ({@link SparseRedo}). False unless said.
     */
    default boolean growsOnly() {
        return false;
    }

    /**
     * WAL stream bytes in memory (page headers included, as PostgreSQL streams them) starting at
     * {@code start}, which must be at or before the start of the segment holding the redo point.
     */
    static WalSource bytes(Lsn start, byte[] wal) {
        return (pgTimeline, from, to, walDir) -> {
            long first = WalSegments.segmentStart(WalSegments.segmentNumber(from.value()));
            if (start.value() > first || to.value() > start.value() + wal.length) {
                throw new IOException("the WAL given covers " + start + ".." + start.plus(wal.length)
                        + ", not " + Lsn.of(first) + ".." + to);
            }
            WalSegmentWriter writer = new WalSegmentWriter(pgTimeline, Lsn.of(first));
            writer.append(wal, (int) (first - start.value()), (int) (to.value() - first));
            List<WalSegmentWriter.SegmentFile> segments = new ArrayList<>(writer.takeCompleted());
            if (!WalSegments.isSegmentBoundary(to.value())) {
                segments.addAll(writer.finish(to));
            }
            for (WalSegmentWriter.SegmentFile f : segments) {
                Files.write(walDir.resolve(f.fileName()), f.contents());
            }
        };
    }

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
