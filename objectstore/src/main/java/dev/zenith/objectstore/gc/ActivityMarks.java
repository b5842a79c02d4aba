package dev.zenith.objectstore.gc;

import static dev.zenith.objectstore.Futures.join;

import dev.zenith.objectstore.ObjectInfo;
import dev.zenith.objectstore.ObjectStore;
import dev.zenith.objectstore.ObjectStoreException;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Marks that a push or a GC of a shared remote is under way, so the two never overlap although no lease orders the
 * daemons that use a remote: each writes its mark ({@code activity/push-ID}, {@code activity/gc-ID}) first, then
 * lists the other kind. With a server that reads its own writes in order (S3 does), of a push and a GC that start
 * together at least one sees the other: the GC then deletes nothing, the push waits until the GC is done. A mark is
 * rewritten every {@link #REFRESH} while its holder runs; one not rewritten for {@link #STALE} (by the server's clock,
 * compared with the time of a mark just written) belongs to a holder that died. A holder whose rewrites stopped for
 * half of that ({@link Mark#lapsed}) must stop: others may take it for dead. Blocking (worker threads).
 */
public final class ActivityMarks {
    public static final String PREFIX = "activity/";
    public static final Duration REFRESH = Duration.ofSeconds(30);
    public static final Duration STALE = Duration.ofMinutes(5);

    public enum Kind {
        PUSH("push-"), GC("gc-");

        final String prefix;

        Kind(String prefix) {
            this.prefix = prefix;
        }
    }

    private ActivityMarks() {
    }

    /** Writes a mark of {@code kind} and keeps it fresh until it is closed. */
    public static Mark begin(ObjectStore store, Kind kind, String holder) {
        return new Mark(store, PREFIX + kind.prefix + UUID.randomUUID(), holder);
    }

    /** The marks of {@code kind} whose holders are alive, as the server's clock at {@code mine} says. */
    public static List<ObjectInfo> live(ObjectStore store, Kind kind, Mark mine) {
        Instant now = mine.serverTime();
        return join(store.list(PREFIX + kind.prefix)).stream()
                .filter(o -> !o.key().equals(mine.key) && o.lastModified().isAfter(now.minus(STALE))).toList();
    }

    /** One holder's mark. */
    public static final class Mark implements AutoCloseable {
        private final ObjectStore store;
        private final String key;
        private final byte[] content;
        private final ScheduledExecutorService timer;
        private volatile long lastWritten;
        private volatile boolean lapsed;
        private boolean closed;

        private Mark(ObjectStore store, String key, String holder) {
            this.store = store;
            this.key = key;
            this.content = holder.getBytes(StandardCharsets.UTF_8);
            write();
            this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "zenith-activity-mark");
                t.setDaemon(true);
                return t;
            });
            timer.scheduleWithFixedDelay(this::refresh, REFRESH.toMillis(), REFRESH.toMillis(), TimeUnit.MILLISECONDS);
        }

        private void write() {
            long before = System.nanoTime();
            join(store.put(key, content));
            lastWritten = before;
        }

        private synchronized void refresh() {
            if (closed) {
                return; // a write now would bring a deleted mark back
            }
            try {
                if (System.nanoTime() - lastWritten > STALE.toNanos() / 2) {
                    lapsed = true;
                }
                write();
            } catch (RuntimeException e) {
                // tried again at the next tick; a mark not written for long enough lapses
            }
        }

        /**
         * Whether the mark went unwritten for half of {@link #STALE} at some point (or has now): others may have taken
         * its holder for dead meanwhile, so what the holder relied on may be gone.
         */
        public boolean lapsed() {
            return lapsed || System.nanoTime() - lastWritten > STALE.toNanos() / 2;
        }

        /** The server's time of the mark's latest write. */
        Instant serverTime() {
            return join(store.head(key)).orElseThrow(() -> new ObjectStoreException(ObjectStoreException.Kind.UNAVAILABLE,
                    "the mark " + key + " vanished from " + store.describe())).lastModified();
        }

        @Override
        public synchronized void close() {
            if (closed) {
                return;
            }
            closed = true;
            timer.shutdownNow();
            try {
                join(store.delete(key));
            } catch (RuntimeException e) {
                // it goes stale
            }
        }
    }
}
