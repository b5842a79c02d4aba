package dev.zenith.storage.image;

import dev.zenith.storage.failure.StoreException;
import dev.zenith.storage.timeline.PgTimelines;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.timeline.TimelineStore;
import dev.zenith.storage.wal.RecordCheck;
import dev.zenith.storage.wal.WalLog;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.segment.WalGeometry;
import dev.zenith.wal.segment.WalSegments;

import java.io.RandomAccessFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongConsumer;

/**
 * The {@code pg_wal} of a data directory built from the store: stored WAL written at its offsets in segment
 * files (the rest of each zeros, left as holes), named for the PostgreSQL timelines along the lineage. Blocking.
 */
public final class PgWalWriter {
    /** Stored WAL is read, checked and written this much at a time at most. */
    private static final int PIECE_BYTES = 1 << 20;

    private final TimelineStore timelines;
    private final WalLog wal;
    private final PgTimelines pgTimelines;

    public PgWalWriter(TimelineStore timelines, WalLog wal, PgTimelines pgTimelines) {
        this.timelines = timelines;
        this.wal = wal;
        this.pgTimelines = pgTimelines;
    }

    /**
     * Writes 16 MiB WAL segment files into {@code walDir}, covering {@code from} up to {@code to}: stored
     * bytes where the store has them (from the segment start, so page headers before {@code from} are
     * there), zeros after {@code to}. Each file is named for the PostgreSQL timeline its WAL belongs to
     * along the lineage, as recovery looks for it: a segment in which a timeline begins carries the new
     * timeline's name, and the old one's too (pg_waldump reads the old timeline up to the switch there).
     * A timeline beginning at {@code to} or later has no WAL here yet and names nothing. {@code from} is a
     * record start: every record from there to {@code to} is checked as PostgreSQL will read it
     * ({@link RecordCheck}), so none it replays ends its recovery early.
     */
    public List<Path> writeSegments(TimelineId id, Lsn from, Lsn to, Path walDir) throws IOException {
        return writeSegments(id, from, to, walDir, bytes -> { });
    }

    /** The bytes of WAL {@link #writeSegments} writes from {@code from} up to {@code to}, for a progress total. */
    public long bytesToWrite(TimelineId id, Lsn from, Lsn to) {
        Lsn start = wal.start(id).orElse(to);
        return Math.max(0, to.minus(Lsn.max(Lsn.of(WalSegments.segmentStart(WalSegments.segmentNumber(from))), start)));
    }

    /** As above, telling {@code bytesRead} of each stretch of stored WAL read (they add up to {@link #bytesToWrite}). */
    public List<Path> writeSegments(TimelineId id, Lsn from, Lsn to, Path walDir, LongConsumer bytesRead)
            throws IOException {
        return write(id, from, to, walDir, bytesRead, false, from);
    }

    /**
     * As {@link #writeSegments}, for a data directory whose recovery starts at {@code from} (its checkpoint's redo
     * point): of the first segment's WAL before the page holding {@code from}, only the segment's first page is
     * written (PostgreSQL checks its long header whenever it opens a segment; it reads nothing else before where its
     * recovery starts), the rest left zero. Up to a segment less read from the store at each start.
     */
    public List<Path> writeSegmentsForRecovery(TimelineId id, Lsn from, Lsn to, Path walDir, LongConsumer bytesRead)
            throws IOException {
        return write(id, from, to, walDir, bytesRead, true, from);
    }

    /**
     * As above, checking only the records after {@code checkedTo}, a record end in [{@code from}, {@code to}] up to which
     * an earlier write from {@code from} checked them: stored WAL below the last complete record is never rewritten, and
     * a redo run after another from the same redo point decoded everything since it again.
     */
    public List<Path> writeSegmentsForRecovery(TimelineId id, Lsn from, Lsn to, Path walDir, LongConsumer bytesRead,
                                               Lsn checkedTo) throws IOException {
        if (checkedTo.isBefore(from) || checkedTo.isAfter(to)) {
            throw new IllegalArgumentException("records checked to " + checkedTo + ", outside " + from + ".." + to);
        }
        // the next record starts at the end MAXALIGNed
        return write(id, from, to, walDir, bytesRead, true, Lsn.of(WalGeometry.maxAlign(checkedTo.value())));
    }

    private List<Path> write(TimelineId id, Lsn from, Lsn to, Path walDir, LongConsumer bytesRead, boolean headPageOnly,
                             Lsn checkFrom) throws IOException {
        timelines.get(id).orElseThrow(() -> new StoreException("no timeline " + id));
        Lsn start = wal.start(id).orElseThrow(() -> new StoreException("timeline " + id + " has no WAL"));
        List<PgTimelines.Entry> tlis = pgTimelines.entries(id).stream().filter(e -> e.begin().isBefore(to)).toList();
        Lsn firstByte = Lsn.max(Lsn.of(WalSegments.segmentStart(WalSegments.segmentNumber(from))), start);
        List<Path> written = new ArrayList<>();
        if (!firstByte.isBefore(to)) {
            return written;
        }
        RecordCheck records = new RecordCheck(id, checkFrom, to);
        Lsn fromPage = Lsn.of(WalSegments.pageStart(Lsn.min(from, to).value()));
        Lsn at = firstByte;
        try (SegmentFiles files = new SegmentFiles(tlis, walDir, written)) {
            if (headPageOnly && WalSegments.isSegmentBoundary(firstByte.value())
                    && fromPage.minus(firstByte) > WalGeometry.XLOG_BLCKSZ) {
                for (ByteBuffer b : wal.readSlices(id, firstByte, WalGeometry.XLOG_BLCKSZ)) {
                    at = files.write(at, b);
                }
                at = fromPage;
                bytesRead.accept(fromPage.minus(firstByte)); // what bytesToWrite counted
            }
            // A piece at a time, so memory holds one piece whatever the range.
            while (at.isBefore(to)) {
                Lsn segmentEnd = Lsn.of(WalSegments.segmentStart(WalSegments.segmentNumber(at) + 1));
                int n = (int) Math.min(PIECE_BYTES, Lsn.min(segmentEnd, to).minus(at));
                Lsn pieceStart = at;
                for (ByteBuffer b : wal.readSlices(id, at, n)) {
                    records.feed(at, b.array(), b.arrayOffset() + b.position(), b.remaining());
                    bytesRead.accept(b.remaining());
                    at = files.write(at, b);
                }
                if (at.equals(pieceStart)) {
                    throw new StoreException("timeline " + id + " has no stored WAL at " + at + ", before " + to);
                }
            }
        }
        return written;
    }

    /**
     * The segment files being written: the stored WAL at its offsets, each file of the full segment size with its
     * zeros left as holes (they read back as zeros, as PostgreSQL's own segments made with wal_init_zero off): a
     * start replaying a few MB wrote 16 MiB of zeros and more before. Not through NIO: it copies a heap array
     * through a temporary direct buffer of its size and keeps it per thread; redo runs on many threads exhausted the
     * daemon's direct memory that way.
     */
    private static final class SegmentFiles implements AutoCloseable {
        private final List<PgTimelines.Entry> tlis;
        private final Path walDir;
        private final List<Path> written;
        private final List<RandomAccessFile> open = new ArrayList<>();
        private long segno = -1;

        SegmentFiles(List<PgTimelines.Entry> tlis, Path walDir, List<Path> written) {
            this.tlis = tlis;
            this.walDir = walDir;
            this.written = written;
        }

        /** Writes {@code bytes} (heap, within one segment) at {@code at}; returns where they end. */
        Lsn write(Lsn at, ByteBuffer bytes) throws IOException {
            long s = WalSegments.segmentNumber(at);
            if (s != segno) {
                closeSegment();
                segno = s;
                for (int tli : segmentTimelines(s, tlis)) {
                    Path file = walDir.resolve(WalSegments.fileName(tli, s));
                    RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw");
                    open.add(f);
                    f.setLength(0); // a file of an earlier attempt: none of its bytes stay
                    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
                    written.add(file);
                }
            }
            int n = bytes.remaining();
            for (RandomAccessFile f : open) {
                f.seek(WalSegments.segmentOffset(at.value()));
                f.write(bytes.array(), bytes.arrayOffset() + bytes.position(), n);
            }
            return at.plus(n);
        }

        private void closeSegment() throws IOException {
            IOException failed = null;
            for (RandomAccessFile f : open) {
                try (f) {
                    f.setLength(WalGeometry.WAL_SEGMENT_SIZE);
                } catch (IOException e) {
                    failed = failed == null ? e : failed;
                }
            }
            open.clear();
            if (failed != null) {
                throw failed;
            }
        }

        @Override
        public void close() throws IOException {
            closeSegment();
        }
    }

    /**
     * The timelines a segment is named for: the newest one beginning at or before its end, plus the one
     * before when that one begins inside it.
     */
    private static List<Integer> segmentTimelines(long segno, List<PgTimelines.Entry> tlis) {
        long segStart = WalSegments.segmentStart(segno);
        long segEnd = WalSegments.segmentStart(segno + 1);
        int i = 0;
        while (i + 1 < tlis.size() && tlis.get(i + 1).begin().value() < segEnd) {
            i++;
        }
        int newest = tlis.get(i).tli();
        return i > 0 && tlis.get(i).begin().value() > segStart ? List.of(newest, tlis.get(i - 1).tli()) : List.of(newest);
    }
}
