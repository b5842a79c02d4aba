package dev.zenith.server.pageservice;

import io.netty.channel.SelectStrategy;
import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A page I/O thread polls before it blocks only while events come within the bound, for at most the bound, and
 * only one thread of the group at a time, only while the machine has a core to spare; with tasks queued it never
 * waits. On a clock of the test's own.
 */
class BoundedSpinTest {
    private static final long SPIN = 50_000;

    /** A clock that moves 1 µs per reading; polls that find {@code ready} on the given poll (0: never). */
    private static final class Polls {
        final AtomicLong now = new AtomicLong(1_000_000_000L);
        int polls;
        int readyOnPoll;

        long clock() {
            return now.addAndGet(1_000);
        }

        int poll() {
            polls++;
            return polls == readyOnPoll ? 3 : 0;
        }
    }

    @Test
    void pollsOnlyWhileEventsComeWithinTheBoundAndForAtMostIt() throws Exception {
        Polls p = new Polls();
        BoundedSpin spin = new BoundedSpin(SPIN, new AtomicInteger(), p::clock, () -> true);

        assertEquals(SelectStrategy.SELECT, spin.calculateStrategy(p::poll, false), "no wait before: it blocks");
        assertEquals(0, p.polls);

        p.readyOnPoll = 3; // the block ended at once (the next ask comes 1 µs later): poll, and the third finds events
        assertEquals(3, spin.calculateStrategy(p::poll, false));
        assertEquals(3, p.polls);

        p.polls = 0;
        p.readyOnPoll = 0; // nothing comes: polls for the bound (50 readings of 1 µs), then blocks
        long before = p.now.get();
        assertEquals(SelectStrategy.SELECT, spin.calculateStrategy(p::poll, false));
        assertTrue(p.polls > 0 && p.now.get() - before <= SPIN + 3_000, p.polls + " polls, " + (p.now.get() - before) + " ns");

        p.polls = 0;
        p.now.addAndGet(2 * SPIN); // that block lasted long: a client that sends seldom is waited for by blocking
        assertEquals(SelectStrategy.SELECT, spin.calculateStrategy(p::poll, false));
        assertEquals(0, p.polls);

        p.readyOnPoll = 1; // a quick block again earns a poll
        assertEquals(3, spin.calculateStrategy(p::poll, false));
        assertEquals(1, p.polls);
    }

    @Test
    void theRunningTasksAreReadFromProcLoadavg() {
        assertEquals(2, BoundedSpin.SpareCore.running("0.50 0.40 0.30 2/644 31016\n"));
        assertEquals(44, BoundedSpin.SpareCore.running("35.41 21.93 19.92 44/644 31016"));
        assertEquals(Integer.MAX_VALUE, BoundedSpin.SpareCore.running(""), "no /proc: never a core to spare");
        assertEquals(Integer.MAX_VALUE, BoundedSpin.SpareCore.running("garbage/"));
    }

    @Test
    void oneThreadPollsAtATimeAndQueuedTasksAreNeverWaitedFor() throws Exception {
        Polls p = new Polls();
        AtomicInteger spinners = new AtomicInteger();
        BoundedSpin spin = new BoundedSpin(SPIN, spinners, p::clock, () -> true);
        spin.calculateStrategy(p::poll, false);

        spinners.set(1); // another thread of the group polls
        assertEquals(SelectStrategy.SELECT, spin.calculateStrategy(p::poll, false));
        assertEquals(0, p.polls);
        spinners.set(0);

        p.readyOnPoll = 1;
        assertEquals(3, spin.calculateStrategy(p::poll, true), "tasks queued: one look, no wait");
        assertEquals(1, p.polls);
        assertEquals(0, spinners.get(), "a thread that polled lets the others");

        p.polls = 0;
        p.readyOnPoll = 0;
        assertEquals(0, spin.calculateStrategy(p::poll, true), "nothing ready: back to the tasks");
        assertEquals(1, p.polls);

        boolean[] spare = {false};
        BoundedSpin busy = new BoundedSpin(SPIN, new AtomicInteger(), p::clock, () -> spare[0]);
        p.polls = 0;
        p.readyOnPoll = 1;
        busy.calculateStrategy(p::poll, false);
        assertEquals(SelectStrategy.SELECT, busy.calculateStrategy(p::poll, false), "no core to spare: blocks");
        assertEquals(0, p.polls);
        spare[0] = true;
        assertEquals(3, busy.calculateStrategy(p::poll, false), "a core to spare again");

        BoundedSpin off = new BoundedSpin(0, new AtomicInteger(), p::clock, () -> true);
        p.polls = 0;
        off.calculateStrategy(p::poll, false);
        assertEquals(SelectStrategy.SELECT, off.calculateStrategy(p::poll, false), "0: never polls");
        assertEquals(0, p.polls);
    }
}
