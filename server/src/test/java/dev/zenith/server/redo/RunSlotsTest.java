package dev.zenith.server.redo;

import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Reads' and steps' runs have slots of their own; a read waits only for reads, and a slot holder nests in its slot. */
class RunSlotsTest {
    @Test
    void aReadDoesNotWaitForARunningStepButForAnotherRead() throws Exception {
        RunSlots slots = new RunSlots(1, 1);
        CountDownLatch stepHolds = new CountDownLatch(1);
        CountDownLatch stepMayEnd = new CountDownLatch(1);
        CompletableFuture<Void> step = CompletableFuture.runAsync(() -> hold(slots, RunSlots.Kind.STEP, stepHolds, stepMayEnd));
        assertTrue(stepHolds.await(30, TimeUnit.SECONDS));

        // a read starts while the step holds its slot (this blocked until the step ended when the slots were shared)
        CountDownLatch readHolds = new CountDownLatch(1);
        CountDownLatch readMayEnd = new CountDownLatch(1);
        CompletableFuture<Void> read = CompletableFuture.runAsync(() -> hold(slots, RunSlots.Kind.READ, readHolds, readMayEnd));
        assertTrue(readHolds.await(30, TimeUnit.SECONDS), "a read got its slot while a step holds the step slot");

        // a second read waits for the first
        CountDownLatch secondHolds = new CountDownLatch(1);
        CompletableFuture<Void> second = CompletableFuture.runAsync(() -> hold(slots, RunSlots.Kind.READ, secondHolds,
                new CountDownLatch(0)));
        assertFalse(secondHolds.await(300, TimeUnit.MILLISECONDS), "a second read waits while the one read slot is held");
        readMayEnd.countDown();
        assertTrue(secondHolds.await(30, TimeUnit.SECONDS), "the second read runs once the first ended");
        stepMayEnd.countDown();
        CompletableFuture.allOf(step, read, second).get(30, TimeUnit.SECONDS);
    }

    @Test
    void workNestedInAHeldSlotRunsInIt() throws Exception {
        RunSlots slots = new RunSlots(1, 1);
        assertEquals("nested", slots.hold(RunSlots.Kind.READ, () -> slots.hold(RunSlots.Kind.READ, () -> "nested")));
        assertEquals("again", slots.hold(RunSlots.Kind.READ, () -> "again"), "the slot was given back");
    }

    private static void hold(RunSlots slots, RunSlots.Kind kind, CountDownLatch holds, CountDownLatch mayEnd) {
        try {
            slots.hold(kind, () -> {
                holds.countDown();
                try {
                    mayEnd.await(60, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return null;
            });
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
