package dev.zenith.storage;

import dev.zenith.storage.failure.StoreCorruptException;
import dev.zenith.storage.failure.StoreException;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.CommitRecord;
import dev.zenith.wal.Lsn;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * WAL acknowledged from the journal but never committed to LMDB (a crash between the two steps) is in
 * the store, indexed, after it opens again; a cut of the WAL tail is not undone by the journal.
 * The WAL is real: initdb's first segment.
 */
@Tag("pg")
class JournalReplayTest {
    private static final Lsn SEG = InitdbWal.SEG;
    private static InitdbWal initdb;
    private static byte[] wal;

    @TempDir
    Path tmp;

    @BeforeAll
    static void initdb() throws IOException {
        initdb = InitdbWal.create();
        wal = initdb.bytes();
    }

    @AfterAll
    static void cleanUp() {
        initdb.close();
    }

    private static TimelineId storeWithWalUpTo(Store s, Lsn upTo) {
        return initdb.storeUpTo(s, upTo);
    }

    @Test
    void journaledWalIsReplayedAndIndexedWhenTheStoreOpens() throws IOException {
        Lsn split = initdb.recordEnd(1.0 / 3, 0);
        Lsn end = SEG.plus(wal.length);
        // The oracle: the same WAL appended to LMDB directly.
        Optional<CommitRecord> lastCommit;
        List<Lsn> checkpoints;
        try (Store oracle = Store.open(tmp.resolve("oracle"))) {
            TimelineId tl = storeWithWalUpTo(oracle, end);
            lastCommit = oracle.changes().lastCommitAtOrBefore(tl, Instant.now().plusSeconds(3600));
            checkpoints = oracle.changes().checkpoints(tl, Lsn.INVALID, end);
        }

        Path dir = tmp.resolve("store");
        TimelineId tl;
        try (Store s = Store.open(dir)) {
            tl = storeWithWalUpTo(s, split);
            // Journaled in pieces that split records (as streamed), never appended to LMDB: a crash here.
            int[] cuts = {(int) split.minus(SEG), (int) split.minus(SEG) + 1000, (int) split.minus(SEG) + 70_001, wal.length};
            for (int i = 0; i + 1 < cuts.length; i++) {
                s.journals().append(tl, SEG.plus(cuts[i]), Arrays.copyOfRange(wal, cuts[i], cuts[i + 1]));
            }
            assertEquals(split, s.wal().end(tl).orElseThrow(), "readers see LMDB only");
        }
        try (Store s = Store.open(dir)) {
            assertEquals(end, s.wal().end(tl).orElseThrow());
            assertEquals(end, s.wal().lastRecordEnd(tl).orElseThrow());
            assertArrayEquals(wal, s.wal().read(tl, SEG, wal.length));
            assertEquals(lastCommit, s.changes().lastCommitAtOrBefore(tl, Instant.now().plusSeconds(3600)));
            assertEquals(checkpoints, s.changes().checkpoints(tl, Lsn.INVALID, end));
            assertEquals(0, journalFiles(dir), "the journal is emptied once LMDB has it");
        }
        try (Store s = Store.open(dir)) {
            assertEquals(end, s.wal().end(tl).orElseThrow(), "opening again changes nothing");
        }
    }

    @Test
    void aCutTailStaysCutAndAJournalThatDoesNotContinueLmdbIsRefused() throws IOException {
        Lsn recordEnd = initdb.recordEnd(0.5, 0);
        Path dir = tmp.resolve("store");
        TimelineId tl;
        try (Store s = Store.open(dir)) {
            tl = storeWithWalUpTo(s, recordEnd);
            // A torn record: part of the next record journaled, then the tail is cut before a rebuild.
            s.journals().append(tl, recordEnd, Arrays.copyOfRange(wal, (int) recordEnd.minus(SEG), (int) recordEnd.minus(SEG) + 20));
            s.wal().truncate(tl, recordEnd);
            assertEquals(recordEnd, s.wal().end(tl).orElseThrow());
            assertThrows(StoreException.class, () -> s.journals().append(tl, recordEnd.plus(8), new byte[8]));
        }
        try (Store s = Store.open(dir)) {
            assertEquals(recordEnd, s.wal().end(tl).orElseThrow(), "the journal did not bring the cut bytes back");
        }
    }

    @Test
    void aDamagedFrameWithLaterFramesStopsTheStoreAndCutsNothing() throws IOException {
        Lsn split = initdb.recordEnd(1.0 / 3, 0);
        Lsn end = SEG.plus(wal.length);
        Path dir = tmp.resolve("store");
        TimelineId tl;
        int[] cuts = {(int) split.minus(SEG), (int) split.minus(SEG) + 5000, (int) split.minus(SEG) + 40_000,
                (int) split.minus(SEG) + 60_000, wal.length};
        try (Store s = Store.open(dir)) {
            tl = storeWithWalUpTo(s, split);
            for (int i = 0; i + 1 < cuts.length; i++) { // four acknowledged writes, then a crash before LMDB has them
                s.journals().append(tl, SEG.plus(cuts[i]), Arrays.copyOfRange(wal, cuts[i], cuts[i + 1]));
            }
        }
        Path journalFile = onlyJournalFile(dir);
        byte[] intact = Files.readAllBytes(journalFile);
        int block = dev.zenith.storage.journal.WalJournal.blockSize(journalFile.getParent());
        long second = dev.zenith.storage.journal.WalJournal.frameSpan(cuts[1] - cuts[0], block);
        byte[] damaged = intact.clone();
        damaged[(int) second + 100] ^= 0x01; // one bit of the second write's WAL
        Files.write(journalFile, damaged);

        StoreCorruptException e = assertThrows(StoreCorruptException.class, () -> Store.open(dir));
        String m = e.getMessage();
        assertTrue(m.contains(journalFile.toString()) && m.contains("offset " + second)
                && m.contains(SEG.plus(cuts[1]) + ".." + SEG.plus(cuts[2])) && m.contains("LMDB's WAL ends at " + split), m);
        assertArrayEquals(damaged, Files.readAllBytes(journalFile), "the journal is left as it is");

        Files.write(journalFile, intact); // repaired: every acknowledged byte was still there
        try (Store s = Store.open(dir)) {
            assertEquals(end, s.wal().end(tl).orElseThrow());
            assertArrayEquals(wal, s.wal().read(tl, SEG, wal.length));
        }
    }

    @Test
    void aTornLastWriteIsStillCutSilently() throws IOException {
        Lsn split = initdb.recordEnd(1.0 / 3, 0);
        Path dir = tmp.resolve("store");
        TimelineId tl;
        int[] cuts = {(int) split.minus(SEG), (int) split.minus(SEG) + 5000, (int) split.minus(SEG) + 40_000};
        try (Store s = Store.open(dir)) {
            tl = storeWithWalUpTo(s, split);
            for (int i = 0; i + 1 < cuts.length; i++) {
                s.journals().append(tl, SEG.plus(cuts[i]), Arrays.copyOfRange(wal, cuts[i], cuts[i + 1]));
            }
        }
        Path journalFile = onlyJournalFile(dir);
        byte[] torn = Files.readAllBytes(journalFile);
        int block = dev.zenith.storage.journal.WalJournal.blockSize(journalFile.getParent());
        long last = dev.zenith.storage.journal.WalJournal.frameSpan(cuts[1] - cuts[0], block);
        Arrays.fill(torn, (int) last + 2 * block, (int) last + 3 * block, (byte) 0); // a block that never reached the disk
        Files.write(journalFile, torn);
        try (Store s = Store.open(dir)) {
            assertEquals(SEG.plus(cuts[1]), s.wal().end(tl).orElseThrow(), "the first write replayed, the torn one cut");
        }
    }

    private static Path onlyJournalFile(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir.resolve("wal-journal"))) {
            List<Path> files = s.filter(p -> p.toString().endsWith(".journal")).toList();
            assertEquals(1, files.size(), files.toString());
            return files.get(0);
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
