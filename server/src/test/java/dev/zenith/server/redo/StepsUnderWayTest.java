package dev.zenith.server.redo;

import dev.zenith.storage.Store;
import dev.zenith.storage.anchor.StoredAnchor;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * When a start waits for the background step under way (docs/page-versions.md, "Snapshots of a running primary"):
 * never before a step's time was measured, not when the step is expected to take longer than the replay it saves,
 * not for an anchor beyond the start's point, and otherwise until the step commits (then it says it waited).
 */
class StepsUnderWayTest {
    @TempDir
    Path tmp;

    private static final long MB = 1 << 20;

    @Test
    void waitsOnlyForAStepExpectedSoonerThanTheReplayItSaves() throws Exception {
        try (Store store = Store.open(tmp.resolve("store"))) {
            TimelineId tl = store.timelines().create(null, Lsn.INVALID, 1).id();
            Lsn older = Lsn.of(16 * MB);
            Lsn anchor = older.plus(1024 * MB); // the snapshot's checkpoint: 1 GiB of replay (~35 s) after the older anchor
            store.anchors().put(new StoredAnchor(tl, anchor.plus(4096), anchor, anchor.plus(4200), 1, new byte[8192],
                    Map.of()));
            Lsn end = anchor.plus(8192);
            StepsUnderWay steps = new StepsUnderWay();

            steps.stepStarting(store, tl, older, anchor);
            Optional<StepsUnderWay.Decision> d = steps.awaitIfCheaper(store, tl, end, older);
            assertFalse(d.orElseThrow().waited(), d.toString()); // no step measured yet
            steps.stepCommitted(store, tl);

            // a slow step (1 ms or more for 4 KiB: ~244 ns a byte): 1 GiB would take minutes, more than its replay
            steps.stepStarting(store, tl, Lsn.of(4096), Lsn.of(8192));
            Thread.sleep(1);
            steps.stepCommitted(store, tl);
            steps.stepStarting(store, tl, older, anchor);
            d = steps.awaitIfCheaper(store, tl, end, older);
            assertFalse(d.orElseThrow().waited(), d.toString());
            assertTrue(d.get().what().contains("more than"), d.get().what());
            steps.stepCommitted(store, tl);

            // a fast one (a 64 GiB step at once): it waits, until the step under way commits
            steps.stepStarting(store, tl, Lsn.of(4096), Lsn.of(4096 + 64 * 1024 * MB));
            steps.stepCommitted(store, tl);
            steps.stepStarting(store, tl, older, anchor);
            // not for a start whose point lies before the anchor's record
            assertEquals(Optional.empty(), steps.awaitIfCheaper(store, tl, anchor.plus(100), older));
            // not when the start's own anchor is as far
            assertEquals(Optional.empty(), steps.awaitIfCheaper(store, tl, end, anchor));
            waitsUntilTheStepCommits(steps, store, tl, end, older);
        }
    }

    /**
     * Round 1 of bench/branch-first-query.sh under load: the replay a wait saves is priced at the rate PostgreSQL
     * replayed in the last step measured, not the quiet constant, so a step that is slower than the quiet replay but
     * sooner than the replay at the machine's present rate is waited for.
     */
    @Test
    void theReplaySavedIsPricedAtTheLastStepsReplayRate() throws Exception {
        try (Store store = Store.open(tmp.resolve("store"))) {
            TimelineId tl = store.timelines().create(null, Lsn.INVALID, 1).id();
            Lsn older = Lsn.of(16 * MB);
            Lsn anchor = older.plus(1024 * MB); // 1 GiB: ~35 s of replay at the quiet 33 ns a byte
            store.anchors().put(new StoredAnchor(tl, anchor.plus(4096), anchor, anchor.plus(4200), 1, new byte[8192],
                    Map.of()));
            Lsn end = anchor.plus(8192);
            StepsUnderWay steps = new StepsUnderWay();
            // a step of 1 MiB that took 100 ms or more: ~95 ns a byte or more, 1 GiB in 100 s or more
            steps.stepStarting(store, tl, Lsn.of(4096), Lsn.of(4096 + MB));
            Thread.sleep(100);
            steps.stepCommitted(store, tl);
            steps.stepStarting(store, tl, older, anchor);
            Optional<StepsUnderWay.Decision> d = steps.awaitIfCheaper(store, tl, end, older);
            assertTrue(d.orElseThrow().what().contains("more than") && d.get().what().contains("(33 ns a byte)"), d.get().what());

            steps.stepReplayed(store, tl, 4096, Duration.ofSeconds(1)); // too little WAL to tell a rate: not taken
            d = steps.awaitIfCheaper(store, tl, end, older);
            assertTrue(d.orElseThrow().what().contains("more than"), d.get().what());

            // the step's PostgreSQL replayed 1 MiB in ~10.5 s (10,000 ns a byte): waiting saves ~3 hours of replay
            steps.stepReplayed(store, tl, MB, Duration.ofNanos(10_000 * MB));
            waitsUntilTheStepCommits(steps, store, tl, end, older);
        }
    }

    /** A start at {@code end} from {@code redo} waits for the step under way, until it commits, and says so. */
    private static void waitsUntilTheStepCommits(StepsUnderWay steps, Store store, TimelineId tl, Lsn end, Lsn redo)
            throws Exception {
        CompletableFuture<StepsUnderWay.Decision> waiting = new CompletableFuture<>();
        Thread starter = new Thread(() -> {
            try {
                waiting.complete(steps.awaitIfCheaper(store, tl, end, redo).orElseThrow());
            } catch (Throwable e) {
                waiting.completeExceptionally(e);
            }
        });
        starter.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (starter.getState() != Thread.State.TIMED_WAITING) { // in the wait for the step
            assertFalse(waiting.isDone(), () -> "it did not wait: " + waiting.join());
            assertTrue(System.nanoTime() < deadline, "it never waited");
            Thread.sleep(5);
        }
        steps.stepCommitted(store, tl);
        StepsUnderWay.Decision waited = waiting.get(60, TimeUnit.SECONDS);
        assertTrue(waited.waited() && waited.what().startsWith("waited "), waited.what());
    }
}
