package dev.zenith.server.ingest;

import dev.zenith.server.config.ZenithConfig;
import dev.zenith.server.testing.CheckedVertx;
import dev.zenith.storage.InitdbWal;
import dev.zenith.storage.Store;
import dev.zenith.storage.journal.WalJournal;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.decoder.DecodeResult;
import dev.zenith.wal.decoder.WalStreamDecoder;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.testing.WalCrafter;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The receiver's reconnect path, on WAL crafted record by record (WalCrafter): the first connection's
 * stream ends in invalid WAL in the middle of a message, after valid records, one of which began in the
 * message before. The receiver acknowledges and stores nothing of that message, reconnects where its
 * store ends, and the second connection's stream leaves the store with every record exactly once:
 * the same bytes, the same records decoded back, each record's block reference indexed at its own LSN.
 * And a journal found damaged when the receiver (re)connects stops it, its state saying why.
 */
@ExtendWith(VertxExtension.class)
class WalReceiverReconnectTest {
    private static final Lsn SEG = Lsn.of(16L << 20);
    private static final RelTag REL = RelTag.of(1663, 5, 16384, ForkNumber.MAIN);
    private static final int RECORDS = 400;

    @TempDir
    Path tmp;
    Vertx vertx;
    Path dir;
    Store store;

    @BeforeEach
    void open() {
        vertx = CheckedVertx.create();
        dir = tmp.resolve("store");
        store = Store.open(dir);
    }

    @AfterEach
    void close() throws Exception {
        vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS); // (stops what a failed test left running)
        store.close();
    }

    /** Records of 10 to about 3,000 bytes, many across page boundaries, each touching its own block (its index). */
    private static WalCrafter craft() {
        WalCrafter c = new WalCrafter(SEG, 1, 7000000000000000001L);
        for (int i = 0; i < RECORDS; i++) {
            c.noopTouching(REL, i, 10 + (i * 997) % 3000);
        }
        return c;
    }

    @Test
    @Timeout(value = 2, timeUnit = TimeUnit.MINUTES)
    void aRecordFailingItsChecksumMidMessage(VertxTestContext ctx) {
        reconnectsAndLosesNothing(ctx, (wal, bad) -> wal[(int) bad.start().minus(SEG) + 30] ^= 0x40);
    }

    @Test
    @Timeout(value = 2, timeUnit = TimeUnit.MINUTES)
    void aDamagedPageHeaderMidMessage(VertxTestContext ctx) {
        reconnectsAndLosesNothing(ctx, (wal, bad) -> {
            long page = (bad.start().value() + 8191) / 8192 * 8192; // the next page boundary: its xlp_magic
            wal[(int) (page - SEG.value())] ^= 0x01;
        });
    }

    interface Damage {
        void apply(byte[] wal, WalCrafter.Crafted firstBadRecord);
    }

    private void reconnectsAndLosesNothing(VertxTestContext ctx, Damage damage) {
        WalCrafter crafter = craft();
        List<WalCrafter.Crafted> records = crafter.records();
        Lsn end = crafter.end();
        byte[] wal = Arrays.copyOf(crafter.segments(), (int) end.minus(SEG));
        List<Lsn> ends = WalStreamDecoder.recordEnds(SEG, wal);
        Lsn split = ends.get(99);                               // the store holds this much before streaming
        WalCrafter.Crafted spanning = records.get(150);
        Lsn mid = spanning.start().plus(spanning.totalLength() / 2); // message 1 ends inside record 150
        Lsn badEnd = ends.get(220);                             // message 2: the rest of 150, valid ones, then damage
        WalCrafter.Crafted firstBad = records.get(180);
        byte[] damaged = wal.clone();
        damage.apply(damaged, firstBad);
        assertTrue(page(firstBad.start()) * 8192 + 8192 < badEnd.value(), "the damage lies inside message 2");

        List<FakeWalSender.Connection> connections = new CopyOnWriteArrayList<>();
        TimelineId tl = InitdbWal.storeIndexed(store, SEG, Arrays.copyOf(wal, (int) split.minus(SEG)));
        FakeWalSender.listen(vertx, end, connections, startLsn -> connections.size() == 1
                ? List.of(new FakeWalSender.Chunk(startLsn, slice(wal, startLsn, mid)),
                        new FakeWalSender.Chunk(mid, slice(damaged, mid, badEnd)))
                : List.of(new FakeWalSender.Chunk(startLsn, slice(wal, startLsn, end))))
        .compose(port -> FakeWalSender.receiveUntil(vertx, store, tl, port, tmp.resolve("home"), end))
        .compose(acknowledged -> {
            ctx.verify(() -> {
                assertEquals(end, acknowledged, "the second connection's WAL is acknowledged");
                assertEquals(2, connections.size(), "one reconnect: " + connections);
                for (Lsn reported : connections.get(0).flushReports()) {
                    assertTrue(!reported.isAfter(mid), "flushed " + reported + " reported from the damaged message");
                }
                assertEquals(mid, connections.get(1).startLsn(), "it resumes where its store ends: inside record 150");
            });
            return vertx.executeBlocking(() -> { // LMDB reads: off the event loop
                assertEquals(end, store.wal().end(tl).orElseThrow());
                assertEquals(end, store.wal().lastRecordEnd(tl).orElseThrow());
                assertArrayEquals(wal, store.wal().read(tl, SEG, wal.length), "the stored WAL is the intact stream");
                assertEquals(records.stream().map(WalCrafter.Crafted::start).toList(), recordStarts(store.wal().read(tl, SEG, wal.length)),
                        "every record once, in order");
                for (int i = 0; i < RECORDS; i++) {
                    assertEquals(records.get(i).start(), store.changes().lastChange(tl, REL, i, end).orElseThrow(),
                            "block " + i + " is indexed at its record");
                }
                assertEquals(RECORDS, store.changes().changedBlocks(tl, Lsn.INVALID, end).size());
                return null;
            });
        }).onComplete(ctx.succeedingThenComplete());
    }

    private static long page(Lsn lsn) {
        return lsn.value() / 8192;
    }

    @Test
    @Timeout(value = 1, timeUnit = TimeUnit.MINUTES)
    void aDamagedJournalStopsTheReceiverSayingWhy(VertxTestContext ctx) throws Exception {
        WalCrafter crafter = craft();
        byte[] wal = Arrays.copyOf(crafter.segments(), (int) crafter.end().minus(SEG));
        List<Lsn> ends = WalStreamDecoder.recordEnds(SEG, wal);
        TimelineId tl = InitdbWal.storeIndexed(store, SEG, slice(wal, SEG, ends.get(99)));
        for (int i = 100; i < 400; i += 100) { // three acknowledged writes LMDB has not taken in yet
            store.journals().append(tl, ends.get(i - 1), slice(wal, ends.get(i - 1), ends.get(i + 99 < 400 ? i + 99 : 399)));
        }
        Path journal;
        try (var files = Files.walk(dir.resolve("wal-journal"))) {
            journal = files.filter(f -> f.toString().endsWith(".journal")).findFirst().orElseThrow();
        }
        byte[] bytes = Files.readAllBytes(journal);
        int block = WalJournal.blockSize(journal.getParent());
        bytes[WalJournal.frameSpan((int) ends.get(199).minus(ends.get(99)), block) + 100] ^= 1;
        Files.write(journal, bytes);

        FakeWalSender.listen(vertx, crafter.end(), new CopyOnWriteArrayList<>(), startLsn -> List.of()).compose(port -> {
            WalReceiver receiver = new WalReceiver(vertx, store, tl, "127.0.0.1", port, null, "zenith_receiver", "zenith_test_slot",
                    ZenithConfig.fromJson(new JsonObject()
                            .put("home", tmp.resolve("home").toString())), () -> true);
            Promise<ReceiverFigures> failed = Promise.promise();
            vertx.setPeriodic(20, timer -> { // (its state is no event: it is looked at, as `pg show` does)
                ReceiverFigures stats = receiver.figures();
                if ("failed".equals(stats.state())) {
                    vertx.cancelTimer(timer);
                    failed.tryComplete(stats);
                }
            });
            vertx.setTimer(30_000, t -> failed.tryFail(new AssertionError("never failed: " + receiver.figures())));
            receiver.start();
            return failed.future().compose(stats -> {
                ctx.verify(() -> assertTrue(stats.reason().contains(journal.toString()), stats.toString()));
                return vertx.executeBlocking(() -> store.wal().end(tl).orElseThrow());
            }).compose(walEnd -> {
                ctx.verify(() -> assertEquals(ends.get(99), walEnd, "nothing was replayed around the damage"));
                return receiver.stop();
            });
        }).onComplete(ctx.succeedingThenComplete());
    }

    private static byte[] slice(byte[] wal, Lsn from, Lsn to) {
        return Arrays.copyOfRange(wal, (int) from.minus(SEG), (int) to.minus(SEG));
    }

    private static List<Lsn> recordStarts(byte[] wal) {
        WalStreamDecoder d = WalStreamDecoder.startingAt(SEG);
        d.feed(wal, 0, wal.length);
        List<Lsn> starts = new ArrayList<>();
        for (DecodeResult r = d.poll(); r instanceof DecodedRecord rec; r = d.poll()) {
            starts.add(rec.startLsn());
        }
        return starts;
    }
}
