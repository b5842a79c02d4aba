package dev.zenith.storage.index;

import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import org.junit.jupiter.api.Test;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Catch-ups asked while one is made are gathered: the next takes each timeline once to the furthest point asked,
 * and answers every read gathered (before, each read made its own, one LMDB transaction each behind the indexer's
 * lock). A failure reaches every read of its round and the next round still runs.
 */
class IndexCatchUpsTest {
    private static final TimelineId A = TimelineId.random();
    private static final TimelineId B = TimelineId.random();

    private final Queue<Runnable> worker = new ArrayDeque<>();
    private final List<String> made = new ArrayList<>();

    @Test
    void readsAskedWhileOneCatchUpWaitsShareTheNextOne() {
        IndexCatchUps catchUps = new IndexCatchUps((t, at) -> made.add((t == A ? "A" : "B") + "@" + at), worker::add);
        CompletableFuture<Void> a1 = catchUps.reach(A, Lsn.of(0x1000));
        CompletableFuture<Void> a2 = catchUps.reach(A, Lsn.of(0x3000));
        CompletableFuture<Void> a3 = catchUps.reach(A, Lsn.of(0x2000));
        CompletableFuture<Void> b1 = catchUps.reach(B, Lsn.of(0x500));
        assertEquals(1, worker.size(), "one drain queued for all four");
        assertFalse(a1.isDone() || a2.isDone() || a3.isDone() || b1.isDone(), "nothing answered before the catch-up");

        worker.poll().run();
        assertEquals(2, made.size(), "one catch-up per timeline: " + made);
        assertTrue(made.contains("A@" + Lsn.of(0x3000)) && made.contains("B@" + Lsn.of(0x500)), "to the furthest point asked: " + made);
        assertTrue(a1.isDone() && a2.isDone() && a3.isDone() && b1.isDone());

        CompletableFuture<Void> later = catchUps.reach(A, Lsn.of(0x4000));
        assertEquals(1, worker.size(), "a read after the drain ended queues a new one");
        worker.poll().run();
        assertTrue(later.isDone());
        assertEquals("A@" + Lsn.of(0x4000), made.get(2));
    }

    @Test
    void aReadAskedDuringACatchUpIsAnsweredByTheNextRoundOfTheSameDrain() {
        CompletableFuture<?>[] askedDuring = new CompletableFuture<?>[1];
        IndexCatchUps[] self = new IndexCatchUps[1];
        self[0] = new IndexCatchUps((t, at) -> {
            made.add(at.toString());
            if (askedDuring[0] == null) {
                askedDuring[0] = self[0].reach(A, Lsn.of(0x9000)); // arrives while the first is being made
            }
        }, worker::add);
        CompletableFuture<Void> first = self[0].reach(A, Lsn.of(0x1000));
        worker.poll().run();
        assertTrue(first.isDone() && askedDuring[0].isDone(), "both answered by the one drain");
        assertEquals(List.of(Lsn.of(0x1000).toString(), Lsn.of(0x9000).toString()), made);
        assertTrue(worker.isEmpty(), "no second drain was queued while one ran");
    }

    @Test
    void aFailureReachesEveryReadOfItsRoundAndTheNextRoundStillRuns() {
        IndexCatchUps catchUps = new IndexCatchUps((t, at) -> {
            if (t == A) {
                throw new AssertionError("an Error, not only exceptions: no read may wait for ever");
            }
            made.add("B");
        }, worker::add);
        CompletableFuture<Void> a1 = catchUps.reach(A, Lsn.of(0x1000));
        CompletableFuture<Void> a2 = catchUps.reach(A, Lsn.of(0x2000));
        CompletableFuture<Void> b1 = catchUps.reach(B, Lsn.of(0x1000));
        worker.poll().run();
        assertTrue(a1.isCompletedExceptionally() && a2.isCompletedExceptionally());
        assertThrows(CompletionException.class, a1::join);
        assertTrue(b1.isDone() && !b1.isCompletedExceptionally(), "the other timeline's catch-up still ran");
        assertEquals(List.of("B"), made);
    }

    @Test
    void aWorkerThatRefusesFailsTheReadsInsteadOfLeavingThemWaiting() {
        IndexCatchUps catchUps = new IndexCatchUps((t, at) -> made.add("x"), r -> {
            throw new RejectedExecutionException("shut down");
        });
        CompletableFuture<Void> read = catchUps.reach(A, Lsn.of(0x1000));
        assertTrue(read.isCompletedExceptionally());
        assertTrue(made.isEmpty());
    }
}
