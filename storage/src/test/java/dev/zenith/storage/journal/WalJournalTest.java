package dev.zenith.storage.journal;

import dev.zenith.storage.failure.StoreException;
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

/**
 * The journal's frames: read back exactly, a torn last write and stale generations ignored, files reused;
 * a write that fails to read back while a later write follows it is damage, never a torn tail.
 */
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
        List<WalJournal.Frame> frames = WalJournal.readAll(dir).frames();
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
        assertEquals(2, WalJournal.readAll(dir).frames().size());
        assertEquals(List.of(), WalJournal.readAll(dir).damage(), "a torn last write is no damage");

        WalJournal.clear(dir);
        assertEquals(List.of(), WalJournal.readAll(dir).frames());
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
        List<WalJournal.Frame> frames = WalJournal.readAll(dir).frames();
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
            assertEquals(List.of(), WalJournal.readAll(dir).frames());
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
            assertEquals(6, WalJournal.readAll(dir).frames().size());
            assertEquals(at, WalJournal.readAll(dir).frames().get(5).end());
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
            assertEquals(START.plus(payload), WalJournal.readAll(dir).frames().get(0).end());
        }
    }

    @Test
    void aFrameLargerThanAFileGetsAFileOfItsOwn() {
        Path dir = tmp.resolve("j");
        byte[] big = bytes(50_000, 9);
        try (WalJournal j = WalJournal.create(dir, 4096)) {
            j.append(START, big);
        }
        assertArrayEquals(big, WalJournal.readAll(dir).frames().get(0).bytes());
    }

    @Test
    void createRefusesADirectoryThatStillHoldsFrames() {
        Path dir = tmp.resolve("j");
        try (WalJournal j = WalJournal.create(dir, 4096)) {
            j.append(START, bytes(10, 1));
        }
        assertThrows(StoreException.class, () -> WalJournal.create(dir, 4096));
    }

    /** Four frames in one file, returned with their offsets. */
    private long[] fourFrames(Path dir, byte[]... payloads) {
        long[] offsets = new long[payloads.length];
        try (WalJournal j = WalJournal.create(dir, 1 << 20)) {
            Lsn at = START;
            long offset = 0;
            for (int i = 0; i < payloads.length; i++) {
                j.append(at, payloads[i]);
                at = at.plus(payloads[i].length);
                offsets[i] = offset;
                offset += WalJournal.frameSpan(payloads[i].length, blockSizeOf(dir));
            }
        }
        return offsets;
    }

    private static int blockSizeOf(Path dir) {
        try {
            return WalJournal.blockSize(dir);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static void flip(Path file, long at) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(at);
            int b = f.read();
            f.seek(at);
            f.write(b ^ 0x10);
        }
    }

    @Test
    void aDamagedPayloadWithLaterFramesAfterItIsDamageNamingFileOffsetAndLsns() throws IOException {
        Path dir = tmp.resolve("j");
        byte[] a = bytes(1000, 1);
        byte[] b = bytes(9000, 2);
        byte[] c = bytes(300, 3);
        byte[] d = bytes(20, 4);
        long[] offsets = fourFrames(dir, a, b, c, d);
        Path file = onlyFile(dir);
        flip(file, offsets[1] + WalJournal.HEADER_BYTES + 4444);

        WalJournal.Contents read = WalJournal.readAll(dir);
        assertEquals(1, read.damage().size(), read.damage().toString());
        WalJournal.Damage damage = read.damage().get(0);
        assertEquals(file, damage.file());
        assertEquals(offsets[1], damage.offset());
        assertEquals(START.plus(a.length), damage.from());
        assertEquals(START.plus(a.length + b.length), damage.to());
        String text = damage.describe();
        assertTrue(text.contains(file.toString()) && text.contains("offset " + offsets[1])
                && text.contains(START.plus(a.length) + ".." + START.plus(a.length + b.length)), text);
        assertEquals(3, read.frames().size(), "the intact frames before and after it are read");
    }

    @Test
    void aDamagedHeaderWithLaterFramesAfterItIsDamageToo() throws IOException {
        Path dir = tmp.resolve("j");
        byte[] a = bytes(1000, 1);
        byte[] b = bytes(9000, 2);
        byte[] c = bytes(300, 3);
        long[] offsets = fourFrames(dir, a, b, c);
        flip(onlyFile(dir), offsets[1] + 13); // the start LSN: only the header's own CRC can tell

        List<WalJournal.Damage> damage = WalJournal.readAll(dir).damage();
        assertEquals(1, damage.size(), damage.toString());
        assertEquals(offsets[1], damage.get(0).offset());
        assertEquals(START.plus(a.length), damage.get(0).from());
        assertEquals(START.plus(a.length + b.length), damage.get(0).to());
    }

    @Test
    void aTornLastWriteWhoseHeaderNeverMadeItIsNoDamage() throws IOException {
        Path dir = tmp.resolve("j");
        byte[] a = bytes(1000, 1);
        byte[] b = bytes(9000, 2);
        long[] offsets = fourFrames(dir, a, b);
        try (RandomAccessFile f = new RandomAccessFile(onlyFile(dir).toFile(), "rw")) {
            f.seek(offsets[1]);
            f.write(new byte[WalJournal.HEADER_BYTES]); // its first block still held zeros at the crash
        }
        WalJournal.Contents read = WalJournal.readAll(dir);
        assertEquals(List.of(), read.damage());
        assertEquals(1, read.frames().size());
    }

    @Test
    void theLastFrameOfAFileWithALaterFileIsNoTornWrite() throws IOException {
        Path dir = tmp.resolve("j");
        Files.createDirectories(dir);
        int block = WalJournal.blockSize(dir);
        int payload = block - WalJournal.HEADER_BYTES;
        Lsn at = START;
        try (WalJournal j = WalJournal.create(dir, 2 * block)) {
            for (int i = 0; i < 3; i++) { // two frames in the first file, one in the second
                j.append(at, bytes(payload, i));
                at = at.plus(payload);
            }
        }
        Path first;
        try (Stream<Path> s = Files.list(dir)) {
            first = s.sorted().findFirst().orElseThrow();
        }
        flip(first, block + WalJournal.HEADER_BYTES + 7);
        List<WalJournal.Damage> damage = WalJournal.readAll(dir).damage();
        assertEquals(1, damage.size(), "a later file was begun only after this write returned: " + damage);
        assertEquals(first, damage.get(0).file());
        assertEquals(START.plus(payload), damage.get(0).from());
    }

    @Test
    void framesOfTheFirstFormatAreStillRead() throws IOException {
        Path dir = tmp.resolve("j");
        Files.createDirectories(dir);
        int block = WalJournal.blockSize(dir);
        byte[] a = bytes(100, 1);
        byte[] b = bytes(5000, 2);
        java.nio.ByteBuffer file = java.nio.ByteBuffer.allocate(4 * block).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        Lsn at = START;
        for (byte[] payload : List.of(a, b)) { // "ZWJ1": one CRC-32C over the 24 header bytes and the payload
            int frameStart = file.position();
            file.putInt(0x5a574a31).putLong(1).putLong(at.value()).putInt(payload.length);
            java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
            crc.update(file.array(), frameStart, 24);
            crc.update(payload);
            file.putInt((int) crc.getValue()).put(payload);
            file.position(frameStart + ((28 + payload.length + block - 1) / block) * block);
            at = at.plus(payload.length);
        }
        Files.write(dir.resolve("0000000000000001.journal"), file.array());
        WalJournal.Contents read = WalJournal.readAll(dir);
        assertEquals(List.of(), read.damage());
        assertEquals(2, read.frames().size());
        assertArrayEquals(b, read.frames().get(1).bytes());
        assertEquals(at, read.frames().get(1).end());
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
