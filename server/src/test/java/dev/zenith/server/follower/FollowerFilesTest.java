package dev.zenith.server.follower;

import dev.zenith.storage.page.PageChecksum;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.segment.WalGeometry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A follower's file block answers only as the version wanted: its pd_lsn that change's, its checksum (of this block
 * number) right; older is "behind" (may come), newer "ahead" (read and checked as well: the read's source may take
 * it as a later change), damaged "unchecked"; a file too short or missing is
 * behind. Blocks past the first 1 GiB segment are read from the next segment file.
 */
class FollowerFilesTest {
    private static final RelTag REL = RelTag.of(1663, 5, 16384, ForkNumber.MAIN);
    private static final Lsn KEY = Lsn.parse("0/3000028");

    @TempDir
    Path data;

    @Test
    void aBlockIsExactOnlyWithTheWantedPdLsnAndAGoodChecksum() throws Exception {
        FollowerFiles files = new FollowerFiles(data);
        assertEquals(FollowerFiles.Outcome.BEHIND, files.read(REL, 2, KEY).outcome(), "no file yet");
        byte[] page = page(KEY, 2);
        write(REL.path(), 2, page);
        FollowerFiles.Read exact = files.read(REL, 2, KEY);
        assertEquals(FollowerFiles.Outcome.EXACT, exact.outcome());
        assertArrayEquals(page, exact.page());
        assertEquals(FollowerFiles.Outcome.BEHIND, files.read(REL, 3, KEY).outcome(), "past the end of the file");
        assertEquals(FollowerFiles.Outcome.BEHIND, files.read(REL, 2, KEY.plus(8)).outcome(), "an older pd_lsn");
        FollowerFiles.Read ahead = files.read(REL, 2, Lsn.parse("0/2000000"));
        assertEquals(FollowerFiles.Outcome.AHEAD, ahead.outcome(), "a newer pd_lsn");
        assertArrayEquals(page, ahead.page(), "a newer version is read and checked too (its source may answer it)");
        assertEquals(KEY, ahead.pageLsn());

        page[5000] ^= 1; // a byte the checksum covers
        write(REL.path(), 2, page);
        assertEquals(FollowerFiles.Outcome.UNCHECKED, files.read(REL, 2, KEY).outcome());
        assertEquals(FollowerFiles.Outcome.UNCHECKED, files.read(REL, 2, Lsn.parse("0/2000000")).outcome(),
                "a newer version failing its checksum");
        write(REL.path(), 2, page(KEY, 1)); // the checksum of another block
        assertEquals(FollowerFiles.Outcome.UNCHECKED, files.read(REL, 2, KEY).outcome());
    }

    @Test
    void blocksBeyondTheFirstSegmentAreInTheNextFile() throws Exception {
        int block = WalGeometry.RELSEG_SIZE + 1;
        byte[] page = page(KEY, block);
        write(REL.path() + ".1", 1, page);
        FollowerFiles.Read read = new FollowerFiles(data).read(REL, block, KEY);
        assertEquals(FollowerFiles.Outcome.EXACT, read.outcome());
        assertArrayEquals(page, read.page());
    }

    /** An initialized empty heap page with {@code lsn} and the checksum of {@code block}. */
    private static byte[] page(Lsn lsn, long block) {
        ByteBuffer b = ByteBuffer.allocate(WalGeometry.BLCKSZ).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, (int) (lsn.value() >>> 32));
        b.putInt(4, (int) lsn.value());
        b.putShort(12, (short) 24); // pd_lower
        b.putShort(14, (short) 8000); // pd_upper
        b.putShort(16, (short) WalGeometry.BLCKSZ); // pd_special
        b.putShort(18, (short) 0x2004); // page size and layout version
        byte[] page = b.array();
        page[8100] = 42;
        int sum = PageChecksum.compute(page, block);
        page[8] = (byte) sum;
        page[9] = (byte) (sum >>> 8);
        return page;
    }

    private void write(String path, long blockInFile, byte[] page) throws Exception {
        Path file = data.resolve(path);
        Files.createDirectories(file.getParent());
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(page), blockInFile * WalGeometry.BLCKSZ);
        }
    }
}
