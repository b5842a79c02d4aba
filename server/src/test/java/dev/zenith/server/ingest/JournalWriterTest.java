package dev.zenith.server.ingest;

import dev.zenith.server.testing.CheckedVertx;
import dev.zenith.storage.InitdbWal;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.WalAppend;
import dev.zenith.wal.Lsn;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The journal writer against a real store and initdb's real WAL: everything queued becomes durable in
 * order and is reported on the receiver's context, and after one failed write nothing more is written.
 */
@Tag("pg")
class JournalWriterTest {
    private static final String THREAD = "zenith-wal-journal test";
    private static InitdbWal initdb;

    @TempDir
    Path tmp;
    private Vertx vertx;
    private Context context;

    @BeforeAll
    static void initdb() throws IOException {
        initdb = InitdbWal.create();
    }

    @AfterAll
    static void cleanUp() {
        initdb.close();
    }

    @BeforeEach
    void startVertx() {
        vertx = CheckedVertx.create();
        context = vertx.getOrCreateContext();
    }

    @AfterEach
    void closeVertx() throws Exception {
        vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    /** Collects reports (on the context's event loop) until {@code expected} appends were reported. */
    private static final class Collected implements JournalWriter.Reports {
        final int expected;
        final List<WalAppend> batches = new ArrayList<>();
        final List<Integer> batchAppends = new ArrayList<>();
        final List<Throwable> failures = new ArrayList<>();
        int reported;
        boolean onEventLoop = true;
        final CompletableFuture<Void> done = new CompletableFuture<>();

        Collected(int expected) {
            this.expected = expected;
        }

        @Override
        public void journaled(WalAppend batch, int appends, long nanos) {
            onEventLoop &= Context.isOnEventLoopThread();
            batches.add(batch);
            batchAppends.add(appends);
            count(appends);
        }

        @Override
        public void failed(int appends, long bytes, Throwable cause) {
            onEventLoop &= Context.isOnEventLoopThread();
            failures.add(cause);
            count(appends);
        }

        private void count(int appends) {
            reported += appends;
            if (reported >= expected) {
                done.complete(null);
            }
        }
    }

    /** The rest of initdb's WAL after {@code from}, cut into {@code pieces} consecutive appends. */
    private static List<WalAppend> pieces(TimelineId tl, Lsn from, int pieces) {
        byte[] rest = initdb.slice(from, initdb.end());
        List<WalAppend> out = new ArrayList<>();
        int step = rest.length / pieces + 1;
        for (int at = 0; at < rest.length; at += step) {
            byte[] part = java.util.Arrays.copyOfRange(rest, at, Math.min(rest.length, at + step));
            out.add(WalAppend.raw(tl, from.plus(at), part));
        }
        return out;
    }

    @Test
    void everythingQueuedIsJournaledInOrderAndReportedOnTheEventLoop() throws Exception {
        Lsn split = initdb.recordEnd(1.0 / 3, 0);
        try (Store store = Store.open(tmp.resolve("store"))) {
            TimelineId tl = initdb.storeUpTo(store, split);
            List<WalAppend> appends = pieces(tl, split, 200);
            Collected reports = new Collected(appends.size());
            JournalWriter writer = new JournalWriter(THREAD, store, tl, 64 << 10, context, reports);
            appends.forEach(writer::submit);
            writer.close();
            reports.done.get(60, TimeUnit.SECONDS);

            assertTrue(reports.failures.isEmpty(), "no failures: " + reports.failures);
            assertTrue(reports.onEventLoop, "reports arrive on the receiver's context");
            assertEquals(appends.size(), reports.batchAppends.stream().mapToInt(Integer::intValue).sum());
            Lsn expected = split;
            for (int i = 0; i < reports.batches.size(); i++) {
                WalAppend batch = reports.batches.get(i);
                assertEquals(expected, batch.start(), "batches follow each other");
                assertTrue(batch.bytes().length <= 64 << 10 || reports.batchAppends.get(i) == 1,
                        "a batch holds at most maxBatchBytes, unless one append alone is bigger");
                expected = batch.end();
            }
            assertEquals(initdb.end(), expected, "everything was reported durable");
            awaitThreadGone();

            store.journals().replay(tl); // what a restart does: the journal's WAL moves into LMDB
            assertEquals(initdb.end(), store.wal().end(tl).orElseThrow());
            assertArrayEquals(initdb.bytes(), store.wal().read(tl, InitdbWal.SEG, (int) initdb.end().minus(InitdbWal.SEG)));
        }
    }

    @Test
    void afterAFailedWriteNothingMoreIsWrittenAndEverythingQueuedIsReportedFailed() throws Exception {
        Lsn split = initdb.recordEnd(1.0 / 3, 0);
        Lsn later = initdb.recordEnd(0.5, 0);
        try (Store store = Store.open(tmp.resolve("store"))) {
            TimelineId tl = initdb.storeUpTo(store, split);
            List<WalAppend> valid = pieces(tl, split, 20);
            Collected reports = new Collected(1 + valid.size());
            JournalWriter writer = new JournalWriter(THREAD, store, tl, 64 << 10, context, reports);
            // WAL that does not continue the store's: the store refuses it, so it is not durable
            writer.submit(WalAppend.raw(tl, later, initdb.slice(later, initdb.end())));
            valid.forEach(writer::submit); // valid on its own, but behind a hole now
            writer.close();
            reports.done.get(60, TimeUnit.SECONDS);

            assertTrue(reports.batches.isEmpty(), "nothing reported durable, yet " + reports.batches.size() + " batches were");
            assertFalse(reports.failures.isEmpty());
            assertInstanceOf(dev.zenith.storage.wal.WalGapException.class, reports.failures.get(0));
            assertEquals(1 + valid.size(), reports.reported, "every append is accounted for");
            awaitThreadGone();

            store.journals().replay(tl);
            assertEquals(split, store.wal().end(tl).orElseThrow(), "the store holds nothing of it");
        }
    }

    private static void awaitThreadGone() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().equals(THREAD))) {
            assertTrue(System.nanoTime() < deadline, "the writer's thread ends once closed and drained");
            Thread.sleep(10);
        }
    }
}
