package dev.zenith.storage;

import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.CommitRecord;
import dev.zenith.storage.wal.WalIndex;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.decoder.DecodeResult;
import dev.zenith.wal.decoder.WalStreamDecoder;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.segment.WalSegments;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * WAL acknowledged from the journal but never committed to LMDB (a crash between the two steps) is in
 * the store, indexed, after it opens again; a cut of the WAL tail is not undone by the journal.
 * The WAL is real: initdb's first segment.
 */
class JournalReplayTest {
    private static PgCluster pg;
    private static byte[] wal;          // initdb's WAL from the segment start to the end of its last record
    private static List<Lsn> recordEnds;
    private static final Lsn SEG = Lsn.of(WalSegments.segmentStart(1));

    @TempDir
    Path tmp;

    @BeforeAll
    static void initdb() throws IOException {
        pg = PgCluster.initdb();
        byte[] segment = Files.readAllBytes(pg.walDir().resolve("000000010000000000000001"));
        WalStreamDecoder d = WalStreamDecoder.startingAt(SEG);
        d.feed(segment, 0, segment.length);
        recordEnds = new ArrayList<>();
        for (DecodeResult r = d.poll(); r instanceof DecodedRecord rec; r = d.poll()) {
            recordEnds.add(rec.endLsn());
        }
        Lsn end = recordEnds.get(recordEnds.size() - 1);
        wal = Arrays.copyOf(segment, (int) end.minus(SEG));
    }

    @AfterAll
    static void cleanUp() {
        pg.close();
    }

    /** A store holding the WAL up to {@code upTo} (a record end), indexed the way the receiver does. */
    private static TimelineId storeWithWalUpTo(Store s, Lsn upTo) {
        TimelineId tl = s.createTimeline(null, Lsn.INVALID, 1).id();
        WalStreamDecoder d = WalStreamDecoder.startingAt(SEG);
        d.feed(wal, 0, (int) upTo.minus(SEG));
        WalIndex index = new WalIndex();
        for (DecodeResult r = d.poll(); r instanceof DecodedRecord rec; r = d.poll()) {
            index.add(rec);
        }
        s.appendWal(List.of(index.drainInto(tl, SEG, Arrays.copyOf(wal, (int) upTo.minus(SEG)))));
        return tl;
    }

    @Test
    void journaledWalIsReplayedAndIndexedWhenTheStoreOpens() throws IOException {
        Lsn split = recordEnds.get(recordEnds.size() / 3);
        Lsn end = SEG.plus(wal.length);
        // The oracle: the same WAL appended to LMDB directly.
        Optional<CommitRecord> lastCommit;
        List<Lsn> checkpoints;
        try (Store oracle = Store.open(tmp.resolve("oracle"))) {
            TimelineId tl = storeWithWalUpTo(oracle, end);
            lastCommit = oracle.lastCommitAtOrBefore(tl, Instant.now().plusSeconds(3600));
            checkpoints = oracle.checkpoints(tl, Lsn.INVALID, end);
        }

        Path dir = tmp.resolve("store");
        TimelineId tl;
        try (Store s = Store.open(dir)) {
            tl = storeWithWalUpTo(s, split);
            // Journaled in pieces that split records (as streamed), never appended to LMDB: a crash here.
            int[] cuts = {(int) split.minus(SEG), (int) split.minus(SEG) + 1000, (int) split.minus(SEG) + 70_001, wal.length};
            for (int i = 0; i + 1 < cuts.length; i++) {
                s.journalWal(tl, SEG.plus(cuts[i]), Arrays.copyOfRange(wal, cuts[i], cuts[i + 1]));
            }
            assertEquals(split, s.walEnd(tl).orElseThrow(), "readers see LMDB only");
        }
        try (Store s = Store.open(dir)) {
            assertEquals(end, s.walEnd(tl).orElseThrow());
            assertEquals(end, s.lastRecordEnd(tl).orElseThrow());
            assertArrayEquals(wal, s.readWal(tl, SEG, wal.length));
            assertEquals(lastCommit, s.lastCommitAtOrBefore(tl, Instant.now().plusSeconds(3600)));
            assertEquals(checkpoints, s.checkpoints(tl, Lsn.INVALID, end));
            assertEquals(0, journalFiles(dir), "the journal is emptied once LMDB has it");
        }
        try (Store s = Store.open(dir)) {
            assertEquals(end, s.walEnd(tl).orElseThrow(), "opening again changes nothing");
        }
    }

    @Test
    void aCutTailStaysCutAndAJournalThatDoesNotContinueLmdbIsRefused() throws IOException {
        Lsn recordEnd = recordEnds.get(recordEnds.size() / 2);
        Path dir = tmp.resolve("store");
        TimelineId tl;
        try (Store s = Store.open(dir)) {
            tl = storeWithWalUpTo(s, recordEnd);
            // A torn record: part of the next record journaled, then the tail is cut before a rebuild.
            s.journalWal(tl, recordEnd, Arrays.copyOfRange(wal, (int) recordEnd.minus(SEG), (int) recordEnd.minus(SEG) + 20));
            s.truncateWal(tl, recordEnd);
            assertEquals(recordEnd, s.walEnd(tl).orElseThrow());
            assertThrows(StoreException.class, () -> s.journalWal(tl, recordEnd.plus(8), new byte[8]));
        }
        try (Store s = Store.open(dir)) {
            assertEquals(recordEnd, s.walEnd(tl).orElseThrow(), "the journal did not bring the cut bytes back");
        }
    }

    private static long journalFiles(Path dir) throws IOException {
        Path root = dir.resolve("wal-journal");
        if (!Files.isDirectory(root)) {
            return 0;
        }
        try (Stream<Path> s = Files.walk(root)) {
            return s.filter(Files::isRegularFile).count();
        }
    }
}
