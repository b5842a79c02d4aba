package dev.zenith.server.redo;

import java.io.IOException;
import java.util.concurrent.Semaphore;

/**
 * How many sparse redo runs go at once: reads (GetPage's, SLRU segments', free-space maps': a page-service
 * connection waits for each) and background materialization steps have slots of their own (conf
 * {@code redo.read_concurrency}, {@code redo.concurrency}), so a read never queues behind a step that replays
 * minutes of WAL. Fair: runs of one kind start in the order they asked. A thread holding a slot runs what it
 * nests in that slot (a read that chooses its target once it holds one). Thread-safe.
 */
public final class RunSlots {
    /** Which slots a run takes. */
    public enum Kind { READ, STEP }

    /** Work done while a slot is held. */
    @FunctionalInterface
    public interface SlotWork<T> {
        T run() throws IOException;
    }

    private final Semaphore reads;
    private final Semaphore steps;
    private final ThreadLocal<Boolean> holding = ThreadLocal.withInitial(() -> false);

    public RunSlots(int reads, int steps) {
        this(new Semaphore(reads, true), new Semaphore(steps, true));
    }

    private RunSlots(Semaphore reads, Semaphore steps) {
        this.reads = reads;
        this.steps = steps;
    }

    /** Both kinds share {@code one} (tests: exactly one run at a time). */
    public static RunSlots shared(Semaphore one) {
        return new RunSlots(one, one);
    }

    /** Runs {@code work} holding a slot of the kind (waiting for one), or in the slot this thread holds already. */
    public <T> T hold(Kind kind, SlotWork<T> work) throws IOException {
        if (holding.get()) {
            return work.run();
        }
        Semaphore s = kind == Kind.READ ? reads : steps;
        try {
            s.acquire();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for a redo slot");
        }
        holding.set(true);
        try {
            return work.run();
        } finally {
            holding.set(false);
            s.release();
        }
    }
}
