package dev.zenith.storage.wal;

import dev.zenith.storage.Store;
import dev.zenith.storage.failure.StoreException;
import dev.zenith.storage.lmdb.ReaderAtDownload;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Evicting WAL a remote home holds: whole chunks leave LMDB, the timeline's range is unchanged, reads below
 * the local start go to the remote (here the bytes the test wrote, standing for S3's verified pieces),
 * appends after it keep the eviction point, and it survives reopening the store.
 */
class WalEvictionTest {
    private static final Lsn SEG = Lsn.parse("0/1000000");

    @TempDir
    Path tmp;

    @Test
    void evictedWalIsReadBackFromTheRemoteAndStaysEvicted() {
        byte[] wal = new byte[5 * WalLog.MAX_WAL_CHUNK + 1234];
        new Random(11).nextBytes(wal);
        AtomicInteger fetches = new AtomicInteger();
        WalLog.RemoteWal remote = (id, pos) -> {
            fetches.incrementAndGet();
            int from = (int) pos.minus(SEG) / WalLog.MAX_WAL_CHUNK * WalLog.MAX_WAL_CHUNK; // a piece per chunk
            return new WalLog.RemoteWal.Piece(SEG.plus(from), Arrays.copyOfRange(wal, from, Math.min(wal.length, from + WalLog.MAX_WAL_CHUNK)));
        };
        Path dir = tmp.resolve("store");
        TimelineId tl;
        try (Store s = Store.open(dir)) {
            tl = s.timelines().create(null, Lsn.INVALID, 1).id();
            s.wal().append(List.of(WalAppend.raw(tl, SEG, Arrays.copyOf(wal, 4 * WalLog.MAX_WAL_CHUNK))));
            long freed = s.wal().evictBelow(tl, SEG.plus(3 * WalLog.MAX_WAL_CHUNK + 10));
            assertEquals(3L * WalLog.MAX_WAL_CHUNK, freed, "whole chunks only");
            assertEquals(SEG.plus(3 * WalLog.MAX_WAL_CHUNK), s.wal().localStart(tl).orElseThrow());
            assertEquals(SEG, s.wal().start(tl).orElseThrow(), "the timeline's range is unchanged");

            assertThrows(StoreException.class, () -> s.wal().read(tl, SEG, 100), "no remote: a clear error, not zeros");
            s.wal().remote(remote);
            assertArrayEquals(Arrays.copyOf(wal, 4 * WalLog.MAX_WAL_CHUNK), s.wal().read(tl, SEG, 4 * WalLog.MAX_WAL_CHUNK));
            assertTrue(fetches.get() >= 3, "the evicted chunks came from the remote: " + fetches);

            // appends go on and keep the eviction point
            s.wal().append(List.of(WalAppend.raw(tl, SEG.plus(4 * WalLog.MAX_WAL_CHUNK),
                    Arrays.copyOfRange(wal, 4 * WalLog.MAX_WAL_CHUNK, wal.length))));
            assertEquals(SEG.plus(3 * WalLog.MAX_WAL_CHUNK), s.wal().localStart(tl).orElseThrow());
            assertThrows(StoreException.class, () -> s.wal().truncate(tl, SEG.plus(100)), "evicted WAL is never cut");
        }
        try (Store s = Store.open(dir)) {
            s.wal().remote(remote);
            assertEquals(SEG.plus(3 * WalLog.MAX_WAL_CHUNK), s.wal().localStart(tl).orElseThrow());
            assertArrayEquals(wal, s.wal().read(tl, SEG, wal.length));
        }
    }

    /**
     * Evicted WAL is fetched with no read transaction open: one open across the download (a pg's recovery segments,
     * the page indexer's batches: up to 1.4 s each at a 48 MiB bound under load) kept every page eviction freed
     * meanwhile from reuse, so writes admitted then grew LMDB's file past the cache bound.
     */
    @Test
    void evictedWalIsFetchedWithNoReadTransactionOpen() {
        byte[] wal = new byte[4 * WalLog.MAX_WAL_CHUNK];
        new Random(12).nextBytes(wal);
        try (Store s = Store.open(tmp.resolve("store"))) {
            TimelineId tl = s.timelines().create(null, Lsn.INVALID, 1).id();
            s.wal().append(List.of(WalAppend.raw(tl, SEG, wal)));
            s.wal().evictBelow(tl, SEG.plus(3 * WalLog.MAX_WAL_CHUNK));
            ReaderAtDownload probe = new ReaderAtDownload(s.coldValues(), s.cacheRoom());
            s.wal().remote((id, pos) -> {
                probe.run();
                int from = (int) pos.minus(SEG) / WalLog.MAX_WAL_CHUNK * WalLog.MAX_WAL_CHUNK;
                return new WalLog.RemoteWal.Piece(SEG.plus(from), Arrays.copyOfRange(wal, from, from + WalLog.MAX_WAL_CHUNK));
            });
            // a filler for the probe's eviction to free while the first download runs
            byte[] page = new byte[8192];
            Random random = new Random(13);
            for (int b = 0; b < 200; b++) {
                random.nextBytes(page);
                s.pages().put(tl, RelTag.of(1663, 5, 20000, ForkNumber.MAIN), b, SEG, page);
            }

            assertArrayEquals(wal, s.wal().read(tl, SEG, wal.length), "three evicted chunks, then the stored one");
            assertArrayEquals(Arrays.copyOfRange(wal, 100, wal.length), s.wal().read(tl, SEG.plus(100), wal.length));
            assertTrue(probe.freedAtFirstDownload() > 0, "the probe's eviction freed pages: " + probe.freedAtFirstDownload());
            assertEquals(0, probe.pinnedAtFirstDownload(), "no read transaction was open across the download");
        }
    }
}
