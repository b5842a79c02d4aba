package dev.zenith.objectstore.lease;

import static dev.zenith.objectstore.Futures.join;

import dev.zenith.objectstore.Futures;
import dev.zenith.objectstore.ObjectStore;
import dev.zenith.objectstore.ObjectStoreException;
import dev.zenith.objectstore.StoredBytes;
import dev.zenith.objectstore.format.CorruptObjectException;
import dev.zenith.objectstore.format.ObjectNames;

import java.time.Duration;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.logging.Logger;

/**
 * One daemon's hold on a prefix: the {@code lease} object with an expiry, renewed in the
 * background. Safe on servers that ignore conditional writes (S3Proxy does, as do several others):
 *
 * <ol>
 *   <li>read the lease; refuse if another holder's expiry (plus the allowed clock skew) is ahead;</li>
 *   <li>write our record (a new random nonce, generation + 1), with If-None-Match / If-Match where
 *       the server honours them (a 412 ends the attempt: someone else won);</li>
 *   <li>if more than {@code settle} passed between sending that read and the write's answer, start over;</li>
 *   <li>wait {@code settle}, read back: the lease is ours only if the nonce there is ours.</li>
 * </ol>
 *
 * Two takers A and B cannot both read back their own nonce: for B's write to land after A's read-back,
 * B's read (which saw the lease free, so came before A's write) and B's write would be more than
 * {@code settle} apart, and B would have started over. The holder treats its lease as valid until
 * its last successful renewal's start plus ttl minus the clock skew; others take it only after the
 * expiry plus the skew. Callers check {@link #isValid()} before each write that must be fenced,
 * and put {@link #generation()} in the names of what they write.
 */
public final class Lease implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(Lease.class.getName());
    private static final int MAX_SLOW_TAKES = 5;
    private static final int TORN_READS = 4;

    private final ObjectStore store;
    private final LeaseSettings settings;
    private final String owner;
    private final Takeover takeover;
    private final String nonce = UUID.randomUUID().toString();
    private final ScheduledExecutorService timer;
    private volatile long generation;
    private volatile long validUntilNanos;
    private volatile boolean lost;
    private volatile Consumer<String> onLost = reason -> { };

    private Lease(ObjectStore store, LeaseSettings settings, String owner, Takeover takeover) {
        this.store = store;
        this.settings = settings;
        this.owner = owner;
        this.takeover = takeover;
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "zenith-lease");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Takes the prefix's lease (blocking for about {@code settle}: call it from a worker thread) and
     * renews it until {@link #close()}. Fails with {@link LeaseHeldException} when another daemon
     * holds it, or with the store's error when the store cannot be reached.
     */
    public static Lease acquire(ObjectStore store, LeaseSettings settings, String owner) {
        return acquire(store, settings, owner, 1);
    }

    /**
     * Like {@link #acquire(ObjectStore, LeaseSettings, String)}, with a generation of at least
     * {@code minGeneration}: a prefix whose lease object was deleted still holds manifests named with
     * older generations, and the new holder's must sort above them.
     */
    public static Lease acquire(ObjectStore store, LeaseSettings settings, String owner, long minGeneration) {
        return acquire(store, settings, owner, minGeneration, Takeover.NONE);
    }

    /**
     * Like {@link #acquire(ObjectStore, LeaseSettings, String, long)}; an unexpired lease that {@code takeover}
     * says a crashed predecessor left is taken at once (with the same write and read-back as any take).
     */
    public static Lease acquire(ObjectStore store, LeaseSettings settings, String owner, long minGeneration, Takeover takeover) {
        Lease l = new Lease(store, settings, owner, takeover);
        try {
            l.take(minGeneration);
        } catch (RuntimeException e) {
            l.timer.shutdownNow();
            throw e;
        }
        long every = settings.renewEvery().toMillis();
        l.timer.scheduleWithFixedDelay(l::renewQuietly, every, every, TimeUnit.MILLISECONDS);
        return l;
    }

    public long generation() {
        return generation;
    }

    /** Whether writes fenced by this lease may still be made now. */
    public boolean isValid() {
        return !lost && System.nanoTime() < validUntilNanos;
    }

    /**
     * Who may take the prefix again at once after this lease lapsed (S3 unreachable past its validity): this
     * process itself. Locally the lease ran out {@code ttl - clockSkew} after its last renewal, while its record
     * in S3 still counts as held until {@code ttl + clockSkew} after it; a retake in between found "in use by"
     * this very process and gave the prefix up. The record left by this lease (its nonce) is ours and is taken
     * with the usual write and read-back; any other record is left to {@code others}, whose identity the new
     * record carries.
     */
    public Takeover successor(Takeover others) {
        return new Takeover() {
            @Override
            public String holder() {
                return others.holder();
            }

            @Override
            public long pid() {
                return others.pid();
            }

            @Override
            public boolean leftByCrashedPredecessor(LeaseRecord held) {
                return (held.nonce().equals(nonce) && !isValid()) || others.leftByCrashedPredecessor(held);
            }
        };
    }

    /** Called once, from the renewal thread, when the lease is found taken or could not be renewed in time. */
    public void onLost(Consumer<String> listener) {
        this.onLost = listener;
    }

    private void take(long minGeneration) {
        for (int attempt = 1; ; attempt++) {
            long t0 = System.nanoTime();
            Read read = read();
            Optional<StoredBytes> current = read.stored();
            Optional<LeaseRecord> rec = read.record();
            if (rec.isPresent() && !rec.get().nonce().equals(nonce) && !rec.get().released()
                    && rec.get().expiresAt() + settings.clockSkew().toMillis() > System.currentTimeMillis()) {
                if (!takeover.leftByCrashedPredecessor(rec.get())) {
                    throw new LeaseHeldException(store.describe(), rec.get());
                }
                LOG.info("taking over the lease of " + store.describe() + " before its expiry: " + rec.get().owner()
                        + " held it: a predecessor of this process that is no longer running, or this process's own lease that lapsed");
            }
            // our own record is there when an earlier attempt of ours was too slow: keep its generation
            // (and never below minGeneration: manifests of a lease object that was deleted may be there)
            long gen = rec.map(r -> r.nonce().equals(nonce) ? r.generation() : Math.max(r.generation() + 1, minGeneration))
                    .orElse(Math.max(1L, minGeneration));
            LeaseRecord mine = record(gen, System.currentTimeMillis() + settings.ttl().toMillis());
            boolean written = write(mine, current.map(c -> c.info().etag()));
            if (!written) {
                throw new LeaseHeldException(store.describe(), readRecord().orElse(mine));
            }
            if (System.nanoTime() - t0 > settings.settle().toNanos()) {
                if (attempt >= MAX_SLOW_TAKES) {
                    throw new ObjectStoreException(ObjectStoreException.Kind.UNAVAILABLE, "the lease of " + store.describe()
                            + " could not be taken: the server answers slower than the settle time (" + settings.settle() + ")");
                }
                continue; // too slow to be sure no other taker read before our write: read again
            }
            Futures.sleep(settings.settle(), "taking the lease");
            Optional<LeaseRecord> back = readRecord();
            if (back.isEmpty() || !back.get().nonce().equals(nonce)) {
                throw new LeaseHeldException(store.describe(), back.orElse(mine));
            }
            generation = gen;
            validUntilNanos = t0 + settings.ttl().minus(settings.clockSkew()).toNanos();
            LOG.info("took the lease of " + store.describe() + " (generation " + gen + ")");
            return;
        }
    }

    /** Renews if still ours; declares the lease lost when it is not, or when validity ran out meanwhile. */
    void renew() {
        if (lost) {
            return;
        }
        long t0 = System.nanoTime();
        Read read = read();
        Optional<StoredBytes> current = read.stored();
        Optional<LeaseRecord> now = read.record();
        if (now.isEmpty() || !now.get().nonce().equals(nonce)) {
            lose("the lease of " + store.describe() + " was taken by " + now.map(LeaseRecord::owner).orElse("nobody (deleted)"));
            return;
        }
        boolean written = write(record(generation, System.currentTimeMillis() + settings.ttl().toMillis()),
                current.map(c -> c.info().etag()));
        if (!written) {
            lose("the lease of " + store.describe() + " changed under its holder");
        } else if (System.nanoTime() >= validUntilNanos) {
            lose("the lease of " + store.describe() + " ran out before its renewal was written");
        } else {
            validUntilNanos = t0 + settings.ttl().minus(settings.clockSkew()).toNanos();
        }
    }

    private void renewQuietly() {
        try {
            renew();
        } catch (RuntimeException e) {
            if (System.nanoTime() >= validUntilNanos) {
                lose("the lease of " + store.describe() + " could not be renewed in time: " + e.getMessage());
            } else {
                LOG.warning("lease renewal failed, will retry: " + e.getMessage());
            }
        }
    }

    private void lose(String reason) {
        if (!lost) {
            lost = true;
            LOG.warning(reason);
            onLost.accept(reason);
        }
    }

    private LeaseRecord record(long gen, long expiresAt) {
        return new LeaseRecord(nonce, owner, gen, expiresAt, takeover.holder(), takeover.pid());
    }

    private boolean write(LeaseRecord r, Optional<String> expectedEtag) {
        byte[] bytes = r.encode();
        if (!settings.conditional()) {
            join(store.put(ObjectNames.LEASE, bytes));
            return true;
        }
        return expectedEtag.isPresent()
                ? join(store.putIfMatch(ObjectNames.LEASE, bytes, expectedEtag.get()))
                : join(store.putIfAbsent(ObjectNames.LEASE, bytes));
    }

    private Optional<LeaseRecord> readRecord() {
        return read().record();
    }

    private record Read(Optional<StoredBytes> stored, Optional<LeaseRecord> record) {
    }

    /**
     * The lease object and its record. An answer that does not decode is read again a few times
     * before it is an error: S3Proxy's filesystem backend can answer a GET that races a PUT of the
     * same key with bytes of neither version (seen in the racing-takers test), while a lease that
     * stays damaged is never taken for a free one.
     */
    private Read read() {
        for (int attempt = 1; ; attempt++) {
            Optional<StoredBytes> stored = join(store.get(ObjectNames.LEASE));
            try {
                return new Read(stored, stored.map(c -> LeaseRecord.decode("lease of " + store.describe(), c.bytes())));
            } catch (CorruptObjectException e) {
                if (attempt >= TORN_READS) {
                    throw e;
                }
                Futures.sleep(Duration.ofMillis(50L * attempt), "reading the lease");
            }
        }
    }

    /** Stops renewing and, while still ours, releases the lease (keeping its generation for the next holder). */
    @Override
    public void close() {
        timer.shutdownNow();
        try {
            Optional<LeaseRecord> now = readRecord();
            if (!lost && now.isPresent() && now.get().nonce().equals(nonce)) {
                join(store.put(ObjectNames.LEASE, record(generation, 0).encode()));
            }
        } catch (RuntimeException e) {
            LOG.warning("could not release the lease of " + store.describe() + " (it expires by itself): " + e.getMessage());
        }
        lost = true;
    }

    /** Stops renewing without releasing: what a daemon killed with -9 (or paused) leaves behind; for tests. */
    void abandon() {
        timer.shutdownNow();
    }
}
