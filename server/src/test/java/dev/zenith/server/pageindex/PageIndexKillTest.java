package dev.zenith.server.pageindex;

import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.storage.Store;
import dev.zenith.storage.image.DataDirectoryLayout;
import dev.zenith.storage.image.ImageManifest;
import dev.zenith.storage.image.RelationSize;
import dev.zenith.storage.index.PageIndex;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.WalIndexer;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.change.PageChange;
import dev.zenith.wal.change.PageChanges;
import dev.zenith.wal.change.RelationSizes;
import dev.zenith.wal.decoder.DecodeResult;
import dev.zenith.wal.decoder.WalStreamDecoder;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.segment.WalGeometry;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The daemon killed with -9 while its page index is being written (small batches, so a pass over a
 * pgbench load takes many transactions): the restarted daemon resumes from the watermark and the index
 * ends up whole. Checked with the daemon gone: every page change and every size change of every stored
 * record is in the index at its LSN (a decode of the stored WAL with PageChanges and RelationSizes), and
 * at the end the forks equal the stopped compute's files.
 */
@Tag("pg")
class PageIndexKillTest {
    DaemonFixture d;

    @AfterEach
    void stop() throws Exception {
        if (d != null) {
            d.close();
        }
    }

    @Test
    void aKillMidIndexingLosesNothingAndTheIndexResumes() throws Exception {
        d = new DaemonFixture();
        // small batches, a pass every 200 ms: while pgbench writes, the index trails its WAL by moments, moving
        d.pageIndexSettings.put("interval_ms", 200).put("batch_bytes", 16384);
        d.startProcess();
        JsonObject pg = d.createPg("main");
        TimelineId tl = TimelineId.parse(pg.getString("timeline_id"));
        int port = pg.getInteger("port");
        // the kill comes while pgbench still writes (a kill after it ended raced an index that had caught up): its
        // commit waits for the restarted daemon
        CompletableFuture<String> load = CompletableFuture.supplyAsync(() -> {
            try {
                return d.pgbench(port, "-i", "-s", "2", "-q"); // ~50 MB of WAL: a window of seconds
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        // kill while a pass is under way: the watermark moves, and is still below the WAL stored
        Lsn seen = null;
        Lsn killedAt = null;
        long deadline = System.nanoTime() + 120_000_000_000L;
        while (killedAt == null && System.nanoTime() < deadline) {
            JsonObject t = timeline(tl);
            Lsn now = t.getString("index_lsn") == null ? null : Lsn.parse(t.getString("index_lsn"));
            Lsn stored = Lsn.parse(t.getString("end_lsn"));
            if (seen != null && now != null && now.isAfter(seen) && now.isBefore(stored)) {
                d.killProcess();
                killedAt = now;
            } else if (load.isDone() && now != null && !now.isBefore(stored)) {
                break; // pgbench ended and the index caught up: no window left
            }
            seen = now;
            Thread.sleep(10);
        }
        if (killedAt == null && load.isCompletedExceptionally()) {
            load.join(); // pgbench's own failure
        }
        assertTrue(killedAt != null, "never saw the index part way while pgbench wrote (last " + seen + ", pgbench "
                + (load.isDone() ? "done" : "still running") + ")");
        d.startProcess();
        load.get(5, TimeUnit.MINUTES);
        Lsn end = Lsn.parse(timeline(tl).getString("end_lsn"));
        awaitIndexAt(tl, end);
        d.action("main", "stop"); // the compute's files are PostgreSQL's truth at the new end
        Lsn stopped = Lsn.parse(timeline(tl).getString("end_lsn"));
        awaitIndexAt(tl, stopped);
        Path pgdata = Path.of(d.pg("main").getString("pgdata"));
        d.killProcess();

        try (Store store = Store.open(d.home.resolve("storages").resolve("local"))) {
            PageIndex index = store.index();
            assertEquals(Optional.of(stopped), index.watermark(tl));
            long[] checked = everyChangeIsIndexed(store, index, tl, stopped);
            System.out.println("killed with the index at " + killedAt + " of " + end + "; " + checked[0]
                    + " page changes and " + checked[1] + " size changes found at their LSNs");
            assertTrue(checked[0] > 2_000 && checked[1] > 500, checked[0] + " / " + checked[1]);
            Map<RelTag, Long> files = new TreeMap<>(DataDirectoryLayout::compareTags);
            DataDirectoryLayout.scan(pgdata).forks().forEach((rel, segments) -> {
                if (rel.fork() != ForkNumber.FSM) {
                    files.put(rel, segments.stream().mapToLong(p -> p.toFile().length()).sum() / WalGeometry.BLCKSZ);
                }
            });
            Map<RelTag, Long> indexed = new TreeMap<>(DataDirectoryLayout::compareTags);
            indexed.putAll(index.forks(tl, stopped));
            assertEquals(files, indexed);
        }
    }

    /** Decodes the timeline's stored WAL from its first image and asks the index for each change; returns {pages, sizes}. */
    private static long[] everyChangeIsIndexed(Store store, PageIndex index, TimelineId tl, Lsn end) {
        ImageManifest image = store.images().of(tl).get(0);
        Map<RelTag, Long> seed = new HashMap<>();
        for (RelationSize r : image.relations()) {
            seed.put(r.rel(), r.blocks());
        }
        RelationSizes model = new RelationSizes(seed, Set.of());
        WalStreamDecoder decoder = WalStreamDecoder.startingAt(WalIndexer.nextRecordStart(image.lsn()));
        long pages = 0;
        long sizes = 0;
        for (Lsn at = WalIndexer.nextRecordStart(image.lsn()); at.isBefore(end); ) {
            byte[] chunk = store.wal().read(tl, at, (int) Math.min(1 << 20, end.minus(at)));
            decoder.feed(chunk, 0, chunk.length);
            at = at.plus(chunk.length);
            for (DecodeResult r = decoder.poll(); r instanceof DecodedRecord rec; r = decoder.poll()) {
                for (PageChange c : PageChanges.of(rec)) {
                    if (c.changedByRedo()) {
                        assertEquals(Optional.of(rec.alignedEndLsn()), index.lastChange(tl, c.rel(), (int) c.block(), rec.endLsn()),
                                c.rel().path() + " block " + c.block() + " at " + rec.endLsn());
                        pages++;
                    }
                }
                model.apply(rec);
                for (RelTag rel : model.takeChangedForks()) {
                    assertEquals(model.nblocks(rel), index.nblocks(tl, rel, rec.endLsn()), rel.path() + " at " + rec.endLsn());
                    sizes++;
                }
            }
        }
        return new long[] {pages, sizes};
    }

    private void awaitIndexAt(TimelineId tl, Lsn lsn) throws Exception {
        long deadline = System.nanoTime() + 180_000_000_000L;
        while (true) {
            String at = timeline(tl).getString("index_lsn");
            if (at != null && !Lsn.parse(at).isBefore(lsn)) {
                return;
            }
            assertTrue(System.nanoTime() < deadline, "the index stays at " + at + ", not " + lsn);
            Thread.sleep(100);
        }
    }

    private JsonObject timeline(TimelineId tl) throws Exception {
        for (Object o : (JsonArray) d.ok(200, "GET", "/storages/local/timelines", null)) {
            JsonObject t = (JsonObject) o;
            if (t.getString("timeline_id").equals(tl.toString())) {
                return t;
            }
        }
        throw new AssertionError("timeline " + tl + " not listed");
    }
}
