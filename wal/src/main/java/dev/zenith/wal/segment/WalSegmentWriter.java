package dev.zenith.wal.segment;

import dev.zenith.wal.Lsn;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Lays raw WAL stream bytes (as PostgreSQL streams them: page headers included) out as 16 MiB
 * segment files, everything after the end zeroed, so a compute's pg_wal holds WAL up to an exact
 * LSN. Bytes of the first segment before the first appended byte are zero too: start at a page
 * boundary (ideally the segment start) so PostgreSQL finds the page header it needs.
 * No I/O: completed segments are handed back as byte arrays for the caller to write.
 */
public final class WalSegmentWriter {
    /** A finished segment file: its name in pg_wal and its 16 MiB of contents. */
    public record SegmentFile(String fileName, long segno, byte[] contents) {
    }

    private final int timeline;
    private long next;
    private long segno = -1;
    private byte[] current;
    private final List<SegmentFile> completed = new ArrayList<>();

    /** @param start LSN of the first byte that will be appended */
    public WalSegmentWriter(int timeline, Lsn start) {
        this.timeline = timeline;
        this.next = start.value();
    }

    /** The LSN the next appended byte belongs at. */
    public Lsn position() {
        return Lsn.of(next);
    }

    /** Appends the next stream bytes (consumes the buffer). */
    public void append(ByteBuffer bytes) {
        while (bytes.hasRemaining()) {
            ensureSegment();
            int off = WalSegments.segmentOffset(next);
            int n = Math.min(bytes.remaining(), WalGeometry.WAL_SEGMENT_SIZE - off);
            bytes.get(current, off, n);
            next += n;
            if (WalSegments.isSegmentBoundary(next)) {
                completed.add(new SegmentFile(WalSegments.fileName(timeline, segno), segno, current));
                current = null;
            }
        }
    }

    public void append(byte[] bytes, int off, int len) {
        append(ByteBuffer.wrap(bytes, off, len));
    }

    /** Leaves the bytes from here up to {@code at} zero; {@code at} lies ahead, in the same segment. */
    public void skipTo(Lsn at) {
        if (at.value() < next || WalSegments.segmentNumber(at) != WalSegments.segmentNumber(next)) {
            throw new IllegalArgumentException("cannot skip from " + Lsn.of(next) + " to " + at);
        }
        ensureSegment();
        next = at.value();
    }

    private void ensureSegment() {
        long s = WalSegments.segmentNumber(next);
        if (current == null || s != segno) {
            segno = s;
            current = new byte[WalGeometry.WAL_SEGMENT_SIZE];
        }
    }

    /** Segments completely written so far, handed over once each. */
    public List<SegmentFile> takeCompleted() {
        List<SegmentFile> out = List.copyOf(completed);
        completed.clear();
        return out;
    }

    /**
     * Ends the WAL at {@code end} (at or before the appended position): zeroes everything from
     * there and returns the segments not yet taken, the one containing {@code end} last (a full
     * 16 MiB file even if it ends on its first byte).
     */
    public List<SegmentFile> finish(Lsn end) {
        long e = end.value();
        if (Long.compareUnsigned(e, next) > 0) {
            throw new IllegalArgumentException("end " + end + " is after the appended WAL, which ends at " + position());
        }
        List<SegmentFile> out = new ArrayList<>();
        long endSeg = WalSegments.segmentNumber(e);
        for (SegmentFile f : completed) {
            if (f.segno() < endSeg) {
                out.add(f);
            } else if (f.segno() == endSeg) {
                zeroFrom(f.contents(), WalSegments.segmentOffset(e));
                out.add(f);
            }
        }
        completed.clear();
        if (current != null && segno == endSeg) {
            zeroFrom(current, WalSegments.segmentOffset(e));
            out.add(new SegmentFile(WalSegments.fileName(timeline, segno), segno, current));
        } else if (out.isEmpty() || out.get(out.size() - 1).segno() != endSeg) {
            out.add(new SegmentFile(WalSegments.fileName(timeline, endSeg), endSeg, new byte[WalGeometry.WAL_SEGMENT_SIZE]));
        }
        current = null;
        return out;
    }

    private static void zeroFrom(byte[] segment, int offset) {
        java.util.Arrays.fill(segment, offset, segment.length, (byte) 0);
    }
}
