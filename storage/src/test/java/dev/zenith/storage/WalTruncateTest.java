package dev.zenith.storage;

import dev.zenith.storage.failure.StoreException;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.WalAppend;
import dev.zenith.wal.Lsn;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Cutting a torn WAL tail: only bytes after the last complete record, across chunk boundaries. */
class WalTruncateTest {
    private static final Lsn SEG = Lsn.parse("0/1000000");

    @TempDir
    Path tmp;

    @Test
    void cutsOnlyTheTornTailAndAcceptsTheRewrittenWal() {
        byte[] first = new byte[3 << 20]; // larger than a chunk, so the cut crosses chunks
        byte[] torn = new byte[5000];
        new Random(7).nextBytes(first);
        new Random(8).nextBytes(torn);
        try (Store s = Store.open(tmp.resolve("store"))) {
            TimelineId tl = s.timelines().create(null, Lsn.INVALID, 1).id();
            Lsn recordEnd = SEG.plus(first.length - 100);
            s.wal().append(List.of(new WalAppend(tl, SEG, first, List.of(), List.of(), List.of(), recordEnd)));
            s.wal().append(List.of(WalAppend.raw(tl, SEG.plus(first.length), torn)));

            StoreException refused = assertThrows(StoreException.class, () -> s.wal().truncate(tl, recordEnd.plus(-8)));
            assertEquals(true, refused.getMessage().contains("last complete record ends at " + recordEnd), refused.getMessage());
            assertEquals(SEG.plus(first.length + torn.length), s.wal().end(tl).orElseThrow(), "a refused cut changes nothing");

            s.wal().truncate(tl, recordEnd);
            assertEquals(recordEnd, s.wal().end(tl).orElseThrow());
            assertEquals(recordEnd, s.wal().lastRecordEnd(tl).orElseThrow());
            assertArrayEquals(Arrays.copyOf(first, first.length - 100), s.wal().read(tl, SEG, first.length));

            byte[] rewritten = new byte[300];
            new Random(9).nextBytes(rewritten);
            s.wal().append(List.of(WalAppend.raw(tl, recordEnd, rewritten)));
            assertArrayEquals(rewritten, s.wal().read(tl, recordEnd, 1000));
            assertThrows(StoreException.class, () -> s.wal().truncate(tl, SEG.plus(-1)));
        }
    }
}
