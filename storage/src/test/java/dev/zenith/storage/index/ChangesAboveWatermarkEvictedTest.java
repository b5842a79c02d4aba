package dev.zenith.storage.index;

import dev.zenith.storage.Store;
import dev.zenith.storage.image.RelationFilter;
import dev.zenith.storage.image.SourceWal;
import dev.zenith.storage.lmdb.EvictedToMemory;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelFileNode;
import dev.zenith.wal.RelTag;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A question about block changes above the page index's watermark reads the packed per-append entries written with
 * the WAL ({@code changes_by_lsn}), which an s3 storage's eviction may have sent to S3. Such an entry is not downloaded
 * inside the question's read transaction (which would keep LMDB's freed pages from reuse, and a pooled reader, for a
 * download): the read says it cannot tell ({@link IndexNotReadyException}; a GetPage's version lookup then leaves it to
 * the WAL decoded since a base), and {@link PageIndex#changedIn(TimelineId, RelTag, int, Lsn, Lsn)} has the index
 * catch up, then answers from the index alone. The segment source is a map standing for the
 * storage's prefix, counting downloads.
 */
@Tag("pg")
class ChangesAboveWatermarkEvictedTest {
    @TempDir
    Path tmp;

    @Test
    void evictedChangesAboveTheWatermarkAreNotDownloadedInsideARead() throws Exception {
        try (PgCluster c = PgCluster.initdb(); Store store = Store.open(tmp.resolve("store"))) {
            c.start();
            c.psql("create table items(id int primary key, v text) with (fillfactor = 50);"
                    + " insert into items select g, md5(g::text) from generate_series(1, 4000) g");
            String path = c.psql("select pg_relation_filepath('items')").trim();
            c.stop();
            SourceWal.Checkpoint image = SourceWal.lastCheckpoint(c);
            TimelineId tl = store.timelines().create(null, Lsn.INVALID, 1).id();
            store.wal().append(List.of(SourceWal.append(c, tl, SourceWal.segmentStart(image.redo()), image.redo(), image.end())));
            store.images().importDataDirectory(tl, c.dataDir(), image.lsn(), image.redo(), RelationFilter.all());
            store.index().indexer().catchUp(tl, image.end());

            // WAL past the index's watermark: block 0 of items changes, the table's last block does not
            c.start();
            c.psql("update items set v = 'changed' where id <= 20");
            c.stop();
            SourceWal.Checkpoint end = SourceWal.lastCheckpoint(c);
            store.wal().append(List.of(SourceWal.append(c, tl, image.end(), image.end(), end.end())));
            RelTag items = new RelTag(new RelFileNode(1663, Integer.parseInt(path.split("/")[1]),
                    Integer.parseInt(path.split("/")[2])), ForkNumber.MAIN);
            int lastBlock = (int) store.index().nblocks(tl, items, image.lsn()).orElseThrow() - 1;

            // every evictable value evicted, the block changes above the watermark among them
            AtomicInteger downloads = new AtomicInteger();
            EvictedToMemory.evictAll(store.coldValues(), downloads::incrementAndGet);
            assertTrue(store.index().watermark(tl).orElseThrow().isBefore(end.end()), "the index is behind the WAL");

            // the index catches up and answers alone, exactly, with nothing downloaded (today's code downloaded the
            // entry inside the question's read transaction)
            assertTrue(store.index().changedIn(tl, items, 0, image.end(), end.end()), "block 0 changed");
            assertFalse(store.index().changedIn(tl, items, lastBlock, image.end(), end.end()), "the last block did not");
            assertEquals(0, downloads.get(), "no download: the index caught up instead");
            assertTrue(store.index().watermark(tl).orElseThrow().isAfter(image.end()), "the index caught up");
        }
    }
}
