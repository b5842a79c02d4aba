package dev.zenith.cli.pagebench;

import org.HdrHistogram.Histogram;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * Drives connections for a while: per connection a sender keeps {@code depth} requests in flight and
 * a receiver times each answer from its send, into an HdrHistogram (after a warm-up). Counts answers
 * per second, errors and mismatches.
 */
final class LoadRun {
    /** One connection of the workload: sends the next request, reads the oldest answer. */
    interface Connection extends AutoCloseable {
        void send() throws IOException;

        /** Null when the answer is right; else what is wrong with it. */
        Problem receive() throws IOException;

        @Override
        void close() throws IOException;
    }

    /** A wrong answer: an error the server sent, or a page unlike the reference. */
    record Problem(boolean mismatch, String message) {
    }

    /** {@code answers}: every answer read, the warm-up's too (what the server did while the run lasted). */
    record Result(String name, int connections, int depth, double seconds, long requests, long errors, long mismatches,
                  String firstProblem, Histogram latencyNanos, List<Long> perSecond, long answers) {
        double requestsPerSecond() {
            return requests / seconds;
        }
    }

    private LoadRun() {
    }

    static Result run(String name, List<? extends Connection> connections, int depth, Duration warmup, Duration duration,
                      Consumer<String> progress) throws InterruptedException, IOException {
        AtomicLong answered = new AtomicLong();
        AtomicLong measured = new AtomicLong();
        AtomicLong errors = new AtomicLong();
        AtomicLong mismatches = new AtomicLong();
        AtomicReference<String> firstProblem = new AtomicReference<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        long start = System.nanoTime();
        long measureFrom = start + warmup.toNanos();
        long stopAt = measureFrom + duration.toNanos();
        List<Histogram> histograms = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (Connection c : connections) {
            Histogram h = new Histogram(TimeUnit.MINUTES.toNanos(10), 3);
            histograms.add(h);
            Semaphore inFlight = new Semaphore(depth);
            ConcurrentLinkedQueue<Long> sentAt = new ConcurrentLinkedQueue<>();
            // Requests sent and not yet read: the receiver blocks on it (no spinning next to the server).
            Semaphore unanswered = new Semaphore(0);
            Thread sender = new Thread(() -> {
                try {
                    while (System.nanoTime() < stopAt && failure.get() == null) {
                        if (!inFlight.tryAcquire(100, TimeUnit.MILLISECONDS)) {
                            continue;
                        }
                        sentAt.add(System.nanoTime());
                        c.send();
                        unanswered.release();
                    }
                } catch (IOException | InterruptedException e) {
                    failure.compareAndSet(null, e);
                }
            }, name + "-sender");
            Thread receiver = new Thread(() -> {
                try {
                    while (failure.get() == null) {
                        if (!unanswered.tryAcquire(100, TimeUnit.MILLISECONDS)) {
                            if (!sender.isAlive() && unanswered.availablePermits() == 0) {
                                break;
                            }
                            continue;
                        }
                        Problem p = c.receive();
                        long now = System.nanoTime();
                        long t = sentAt.poll();
                        inFlight.release();
                        answered.incrementAndGet();
                        if (p != null) {
                            (p.mismatch() ? mismatches : errors).incrementAndGet();
                            firstProblem.compareAndSet(null, p.message());
                        }
                        if (t >= measureFrom && t < stopAt) {
                            h.recordValue(now - t);
                            measured.incrementAndGet();
                        }
                    }
                } catch (IOException | InterruptedException e) {
                    failure.compareAndSet(null, e);
                }
            }, name + "-receiver");
            threads.add(sender);
            threads.add(receiver);
        }
        threads.forEach(Thread::start);
        List<Long> perSecond = new ArrayList<>();
        long last = 0;
        for (int second = 1; threads.stream().anyMatch(Thread::isAlive); second++) {
            long next = start + TimeUnit.SECONDS.toNanos(second);
            for (Thread t : threads) {
                t.join(Math.max(1, (next - System.nanoTime()) / 1_000_000));
            }
            if (System.nanoTime() >= next) {
                long now = answered.get();
                perSecond.add(now - last);
                progress.accept(name + "  t=" + second + "s  " + (now - last) + " answers/s"
                        + (System.nanoTime() < measureFrom ? "  (warm-up)" : ""));
                last = now;
            }
        }
        if (failure.get() != null) {
            Throwable f = failure.get();
            throw new IOException(name + ": " + (f.getMessage() == null ? f.toString() : f.getMessage()), f);
        }
        Histogram all = new Histogram(TimeUnit.MINUTES.toNanos(10), 3);
        histograms.forEach(all::add);
        return new Result(name, connections.size(), depth, duration.toNanos() / 1e9, measured.get(), errors.get(),
                mismatches.get(), firstProblem.get(), all, perSecond, answered.get());
    }
}
