package dev.zenith.server.security;

import java.util.HashMap;
import java.util.Map;

/**
 * Slows password guessing on the replication port, per source address. After a failed login, every
 * later login from that address (right or wrong: the timing must not tell them apart) is answered in
 * its own slot, each slot a delay after the previous one, the delay doubling with each failure from
 * {@value #FIRST_DELAY_MS} ms up to {@value #MAX_DELAY_MS} ms: parallel connections do not guess
 * faster than one. A minute without failures forgets the address. A login whose slot would be more
 * than {@code maxWaitMs} away is refused at once, before its answer is known, so an attacker cannot
 * make the owner's own tools wait for ever (nor learn anything from the refusal).
 *
 * <p>No I/O and no clock of its own: callers pass the time, in milliseconds.
 */
public final class LoginThrottle {
    static final long FIRST_DELAY_MS = 100;
    static final long MAX_DELAY_MS = 5_000;
    static final long FORGET_AFTER_MS = 60_000;
    private static final int MAX_SOURCES = 10_000;
    /** {@link #answerAt}'s answer for a login refused at once. */
    public static final long REFUSED = -1;

    private final long maxWaitMs;
    private final Map<String, Source> sources = new HashMap<>();

    private static final class Source {
        int failures;
        long lastFailure;
        long nextSlot;
    }

    public LoginThrottle(long maxWaitMs) {
        this.maxWaitMs = maxWaitMs;
    }

    /**
     * When the answer to a login from {@code source}, decided at {@code now}, may be sent: {@code now} when
     * that address has no recent failure, else its next free slot (which this takes), or {@link #REFUSED}.
     */
    public synchronized long answerAt(String source, long now) {
        Source s = sources.get(source);
        if (s == null || now - s.lastFailure > FORGET_AFTER_MS) {
            sources.remove(source);
            return now;
        }
        long at = Math.max(now, s.nextSlot);
        if (at - now > maxWaitMs) {
            return REFUSED;
        }
        s.nextSlot = at + delay(s.failures);
        return at;
    }

    /** A login from {@code source} failed; its answer goes out at {@code answeredAt}. */
    public synchronized void failed(String source, long answeredAt) {
        if (sources.size() >= MAX_SOURCES) {
            sources.values().removeIf(s -> answeredAt - s.lastFailure > FORGET_AFTER_MS);
        }
        Source s = sources.computeIfAbsent(source, k -> new Source());
        if (answeredAt - s.lastFailure > FORGET_AFTER_MS) {
            s.failures = 0;
        }
        s.failures++;
        s.lastFailure = Math.max(s.lastFailure, answeredAt);
        s.nextSlot = Math.max(s.nextSlot, answeredAt + delay(s.failures));
    }

    static long delay(int failures) {
        return Math.min(MAX_DELAY_MS, FIRST_DELAY_MS << Math.min(Math.max(failures - 1, 0), 16));
    }
}
