package dev.zenith.storage.wal;

import dev.zenith.storage.Store;
import dev.zenith.storage.lmdb.EvictedToMemory;
import dev.zenith.storage.lmdb.ReaderAtDownload;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The block changes of a range read back from S3 (an s3 storage evicts the packed per-append entries of
 * {@code changes_by_lsn}) are downloaded with no read transaction open: one open across a download kept the pages
 * eviction freed meanwhile from reuse (at a pg's clean stop, the changed relations of its image), so writes admitted
 * then grew LMDB's file past the cache bound. The changes visited are the same, in the same order, as before eviction.
 */
class ChangeIndexEvictedTest {
    private static final Lsn SEG = Lsn.parse("0/1000000");
    /** More entries than one read transaction reads ({@link ChangeIndex#ENTRIES_PER_READ}). */
    private static final int APPENDS = 300;
    private static final int CHANGES_PER_APPEND = 40;
    private static final int APPEND_BYTES = 4096;

    @TempDir
    Path tmp;

    @Test
    void evictedEntriesAreDownloadedOutsideAnyReadTransactionAndVisitedInOrder() {
        try (Store store = Store.open(tmp.resolve("store"))) {
            TimelineId tl = store.timelines().create(null, Lsn.INVALID, 1).id();
            Random random = new Random(7);
            for (int a = 0; a < APPENDS; a++) {
                Lsn start = SEG.plus((long) a * APPEND_BYTES);
                List<BlockChange> changes = new ArrayList<>();
                for (int i = 0; i < CHANGES_PER_APPEND; i++) {
                    changes.add(new BlockChange(RelTag.of(1663, 5, 16384 + random.nextInt(3), ForkNumber.MAIN),
                            random.nextInt(100_000), start.plus(24 + i * 64)));
                }
                store.wal().append(List.of(new WalAppend(tl, start, new byte[APPEND_BYTES], changes, List.of(), List.of(),
                        start.plus(APPEND_BYTES))));
            }
            Lsn from = SEG.plus(10L * APPEND_BYTES + 100); // inside an entry: the range starts at the one holding it
            Lsn to = SEG.plus((long) (APPENDS - 1) * APPEND_BYTES);
            List<String> before = visits(store, tl, from, to);
            assertTrue(before.size() > (APPENDS - 12) * CHANGES_PER_APPEND, "changes in the range: " + before.size());

            ReaderAtDownload probe = new ReaderAtDownload(store.coldValues(), store.cacheRoom());
            AtomicInteger downloads = new AtomicInteger();
            EvictedToMemory.evictAll(store.coldValues(), () -> {
                downloads.incrementAndGet();
                probe.run();
            });
            // a filler for the probe's eviction to free while the first download runs
            byte[] page = new byte[8192];
            for (int b = 0; b < 200; b++) {
                random.nextBytes(page);
                store.pages().put(tl, RelTag.of(1663, 5, 20000, ForkNumber.MAIN), b, SEG, page);
            }

            assertEquals(before, visits(store, tl, from, to), "the same changes, in the same order");
            assertTrue(downloads.get() > 0, "the entries were read back from their segments");
            assertTrue(probe.freedAtFirstDownload() > 0, "the probe's eviction freed pages: " + probe.freedAtFirstDownload());
            assertEquals(0, probe.pinnedAtFirstDownload(), "no read transaction was open across the download");
        }
    }

    private static List<String> visits(Store store, TimelineId tl, Lsn from, Lsn to) {
        List<String> out = new ArrayList<>();
        store.changes().forEachChange(tl, from, to, (lsn, rel, block) -> out.add(lsn + " " + rel + " " + block));
        return out;
    }
}
