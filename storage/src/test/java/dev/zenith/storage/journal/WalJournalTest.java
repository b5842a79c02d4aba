package dev.zenith.storage.journal;

import dev.zenith.storage.StoreException;
import dev.zenith.wal.Lsn;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The journal's frames: read back exactly, torn frames and stale generations ignored, files reused. */
class WalJournalTest {
    private static final Lsn START = Lsn.parse("0/2000028");

    @TempDir
    Path tmp;

    private static byte[] bytes(int n, int seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void framesReadBackInOrderAndATornLastFrameIsDropped() throws IOException {
        Path dir = tmp.resolve("j");
        byte[] a = bytes(1000, 1);
        byte[] b = bytes(70_000, 2);
        byte[] c = bytes(10, 3);
        try (WalJournal j = WalJournal.create(dir, 1 << 20)) {
            j.append(START, a);
            j.append(START.plus(a.length), b);
            j.append(START.plus(a.length + b.length), c);
            assertEquals(START.plus(a.length + b.length + c.length), j.end());
            StoreException gap = assertThrows(StoreException.class, () -> j.append(START, a));
            assertTrue(gap.getMessage().contains("not at " + START), gap.getMessage());
        }
        List<WalJournal.Frame> frames = WalJournal.readAll(dir);
        assertEquals(3, frames.size());
        assertEquals(START, frames.get(0).start());
        assertArrayEquals(a, frames.get(0).bytes());
        assertArrayEquals(b, frames.get(1).bytes());
        assertEquals(START.plus(a.length + b.length), frames.get(2).start());
        assertArrayEquals(c, frames.get(2).bytes());

        // a crash in the middle of the last write: its payload is not what its CRC says
        Path file = onlyFile(dir);
        int block = WalJournal.blockSize(dir);
        long lastPayload = WalJournal.frameSpan(a.length, block) + WalJournal.frameSpan(b.length, block)
                + WalJournal.HEADER_BYTES;
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(lastPayload + 5);
            f.write(c[5] ^ 0xff);
        }
        assertEquals(2, WalJournal.readAll(dir).size());

        WalJournal.clear(dir);
        assertEquals(List.of(), WalJournal.readAll(dir));
    }

    @Test
    void filesRollOverAndAreReusedOnlyOnceIndexed() throws IOException {
        Path dir = tmp.resolve("j");
        Files.createDirectories(dir);
        int block = WalJournal.blockSize(dir);
        int payload = block - WalJournal.HEADER_BYTES; // a frame per block, three per file
        Lsn at = START;
        try (WalJournal j = WalJournal.create(dir, 3 * block)) {
            for (int i = 0; i < 5; i++) { // two files
                byte[] b = bytes(payload, i);
                j.append(at, b);
                at = at.plus(b.length);
            }
            assertEquals(2, fileCount(dir), "nothing indexed: every file kept");
            j.indexedUpTo(at); // LMDB holds it all: the oldest file is renamed into the next generation
            for (int i = 5; i < 8; i++) {
                byte[] b = bytes(payload, i);
                j.append(at, b);
                at = at.plus(b.length);
            }
            assertEquals(2, fileCount(dir), "the first file was reused, not a third created");
        }
        // The reused file still holds frames of its old generation after the new ones: they are not read.
        List<WalJournal.Frame> frames = WalJournal.readAll(dir);
        Lsn expected = frames.get(0).start();
        for (WalJournal.Frame f : frames) {
            assertEquals(expected, f.start(), "frames follow each other");
            expected = f.end();
        }
        assertEquals(at, expected);
        assertEquals(START.plus(3L * payload), frames.get(0).start(), "the reused file's stale frames were skipped");
    }

    @Test
    void aSparePreparedAheadBecomesTheNextFileAndIsNeverReadBack() throws IOException {
        Path dir = tmp.resolve("j");
        Files.createDirectories(dir);
        int block = WalJournal.blockSize(dir);
        int payload = block - WalJournal.HEADER_BYTES;
        try (WalJournal j = WalJournal.create(dir, 4 * block)) {
            assertTrue(j.prepareSpare(), "no file yet: a spare is prepared");
            assertTrue(!j.prepareSpare(), "one spare at a time");
            assertEquals(0, fileCount(dir) - 1, "the spare is no journal file");
            assertEquals(List.of(), WalJournal.readAll(dir));
            Lsn at = START;
            for (int i = 0; i < 3; i++) { // the spare became the first file; more than half of it used
                j.append(at, bytes(payload, i));
                at = at.plus(payload);
            }
            assertTrue(j.prepareSpare(), "past half of the current file: the next is prepared");
            for (int i = 3; i < 6; i++) {
                j.append(at, bytes(payload, i));
                at = at.plus(payload);
            }
            assertEquals(6, WalJournal.readAll(dir).size());
            assertEquals(at, WalJournal.readAll(dir).get(5).end());
        }
        WalJournal.clear(dir);
        assertEquals(0, fileCount(dir));
    }

    @Test
    void anAppendMeetingASpareBeingFilledWaitsForItInsteadOfFillingAnother() throws Exception {
        Path dir = tmp.resolve("j");
        Files.createDirectories(dir);
        int payload = WalJournal.blockSize(dir) - WalJournal.HEADER_BYTES;
        try (WalJournal j = WalJournal.create(dir, 128 << 20)) { // big enough that filling takes a while
            Thread preparer = new Thread(j::prepareSpare);
            preparer.start();
            while (!Files.exists(dir.resolve(WalJournal.SPARE)) && preparer.isAlive()) {
                Thread.onSpinWait();
            }
            j.append(START, bytes(payload, 1)); // as the first acknowledgement after a receiver connects
            preparer.join();
            assertTrue(!Files.exists(dir.resolve(WalJournal.SPARE)), "the spare became the first file");
            assertEquals(1, fileCount(dir), "no second file was filled on the append's path");
            assertEquals(START.plus(payload), WalJournal.readAll(dir).get(0).end());
        }
    }

    @Test
    void aFrameLargerThanAFileGetsAFileOfItsOwn() {
        Path dir = tmp.resolve("j");
        byte[] big = bytes(50_000, 9);
        try (WalJournal j = WalJournal.create(dir, 4096)) {
            j.append(START, big);
        }
        assertArrayEquals(big, WalJournal.readAll(dir).get(0).bytes());
    }

    @Test
    void createRefusesADirectoryThatStillHoldsFrames() {
        Path dir = tmp.resolve("j");
        try (WalJournal j = WalJournal.create(dir, 4096)) {
            j.append(START, bytes(10, 1));
        }
        assertThrows(StoreException.class, () -> WalJournal.create(dir, 4096));
    }

    private static Path onlyFile(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            List<Path> all = s.toList();
            assertEquals(1, all.size());
            return all.get(0);
        }
    }

    private static long fileCount(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.count();
        }
    }
}
