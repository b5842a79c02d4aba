package dev.zenith.server.ready;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Does a list of independent tasks on the calling thread and, when there is more than one, on a helper thread too,
 * each taking the next task left. Returns once both have stopped, also when one failed (the other then takes no new
 * task): tasks may read a store the caller closes after. Blocking.
 */
final class TwoThreads {
    /** One task; may throw. */
    @FunctionalInterface
    interface Task<T> {
        void run(T item) throws IOException;
    }

    private TwoThreads() {
    }

    static <T> void run(String helperName, List<T> items, Task<T> task) throws IOException {
        AtomicInteger next = new AtomicInteger();
        FutureTask<Void> helper = new FutureTask<>(() -> {
            takeAll(items, task, next);
            return null;
        });
        boolean helped = items.size() > 1;
        if (helped) {
            Thread t = new Thread(helper, helperName);
            t.setDaemon(true);
            t.start();
        }
        Throwable failed = null;
        try {
            takeAll(items, task, next);
        } catch (IOException | RuntimeException | Error e) {
            failed = e;
            next.set(items.size()); // the helper stops before its next task
        }
        if (helped) {
            failed = join(helper, failed);
        }
        if (failed instanceof IOException io) {
            throw io;
        }
        if (failed instanceof RuntimeException re) {
            throw re;
        }
        if (failed instanceof Error error) {
            throw error;
        }
        if (failed != null) {
            throw new IOException(failed);
        }
    }

    private static <T> void takeAll(List<T> items, Task<T> task, AtomicInteger next) throws IOException {
        for (int i = next.getAndIncrement(); i < items.size(); i = next.getAndIncrement()) {
            task.run(items.get(i));
        }
    }

    /** Waits for the helper uninterruptibly (it may be reading a store); its failure joins {@code failed}. */
    private static Throwable join(FutureTask<Void> helper, Throwable failed) {
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    helper.get();
                    return failed;
                } catch (InterruptedException e) {
                    interrupted = true;
                } catch (ExecutionException e) {
                    if (failed == null) {
                        return e.getCause();
                    }
                    failed.addSuppressed(e.getCause());
                    return failed;
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
