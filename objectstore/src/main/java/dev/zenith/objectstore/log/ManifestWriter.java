package dev.zenith.objectstore.log;

import static dev.zenith.objectstore.Futures.join;

import dev.zenith.objectstore.ObjectInfo;
import dev.zenith.objectstore.ObjectStore;
import dev.zenith.objectstore.ObjectStoreException;
import dev.zenith.objectstore.StoredBytes;
import dev.zenith.objectstore.format.Manifest;
import dev.zenith.objectstore.format.Manifest.Entry;
import dev.zenith.objectstore.format.ManifestCodec;
import dev.zenith.objectstore.format.ObjectNames.ManifestName;
import dev.zenith.objectstore.lease.Lease;
import dev.zenith.objectstore.transfer.BlobPins;

import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.logging.Logger;

/**
 * The one writer of a prefix's manifest log: the lease holder. Its manifests are named
 * {@code <lease generation>-<sequence>}; it starts with a takeover manifest {@code <generation>-0}
 * (so from then on, whatever a writer that lost the lease still writes sorts below and is off the
 * chain), then writes one manifest per {@link #append}: a delta, or a full one every
 * {@code fullEvery} deltas or when the deltas since the last full one outweigh it.
 *
 * <p>Callers upload every blob an append adds and wait for all of them before calling it, so a
 * crash leaves unlisted blobs (garbage for GC), never a manifest naming a missing blob. Each append
 * first checks that the lease is still valid and that the newest manifest is still its own (a new
 * holder's takeover manifest ends this writer), and writes with If-None-Match where the server
 * honours it. An append that failed with an unknown outcome (a timeout) may be called again: the
 * manifest it may have written is found and adopted, not written twice. Blocking; one append at a time.
 */
public final class ManifestWriter {
    private static final Logger LOG = Logger.getLogger(ManifestWriter.class.getName());

    private final ObjectStore store;
    private final Lease lease;
    private final Settings settings;
    private final BlobPins pins;
    private ManifestView view;
    private Pending pending;

    /**
     * @param fullEvery at most this many deltas follow a full manifest (a restore reads at most this many plus one)
     */
    public record Settings(int fullEvery) {
        public Settings {
            if (fullEvery < 1) {
                throw new IllegalArgumentException("fullEvery is at least 1");
            }
        }

        public static Settings defaults() {
            return new Settings(64);
        }
    }

    /** A manifest whose write was sent but not confirmed. */
    private record Pending(Manifest manifest, byte[] bytes) {
    }

    private ManifestWriter(ObjectStore store, Lease lease, Settings settings, BlobPins pins, ManifestView view) {
        this.store = store;
        this.lease = lease;
        this.settings = settings;
        this.pins = pins;
        this.view = view;
    }

    /**
     * Opens the log for the holder of {@code lease} (taken with
     * {@code Lease.acquire(..., ManifestLog.nextGeneration(store))}) and writes its takeover manifest.
     * Refused when manifests of the lease's generation or a later one exist already.
     *
     * @param pins the pins its uploader holds, released as manifests list their blobs (null: none)
     */
    public static ManifestWriter open(ObjectStore store, Lease lease, Settings settings, BlobPins pins) {
        TreeMap<ManifestName, ObjectInfo> names = ManifestLog.list(store);
        if (!names.isEmpty() && names.lastKey().generation() >= lease.generation()) {
            throw new ObjectStoreException(ObjectStoreException.Kind.PRECONDITION_FAILED, store.describe() + " holds manifest "
                    + names.lastKey().key() + ", of a generation not below this lease's (" + lease.generation()
                    + "): take the lease with ManifestLog.nextGeneration as its least generation");
        }
        ManifestView base = ManifestLog.read(store);
        ManifestWriter w = new ManifestWriter(store, lease, settings, pins, base);
        w.write(new ManifestName(lease.generation(), 0), List.of(), List.of(), Map.of());
        LOG.info("writing the manifests of " + store.describe() + " from " + w.view.name().orElseThrow().key()
                + (base.name().isPresent() ? " (after " + base.name().get().key() + ")" : " (a new prefix)"));
        return w;
    }

    /** What the newest manifest this writer wrote (or adopted) shows. */
    public synchronized ManifestView view() {
        return view;
    }

    /**
     * Writes the next manifest: removes every entry of the {@code removed} keys, then adds
     * {@code added} (whose blobs must all be stored), and merges {@code properties} (an empty value
     * removes a key). Releases the added blobs' pins once written. Answers the new view.
     */
    public synchronized ManifestView append(List<Entry> added, List<String> removed, Map<String, String> properties) {
        for (String k : removed) {
            if (!view.keys().contains(k)) {
                throw new IllegalArgumentException("cannot remove " + k + ": the manifests do not list it");
            }
        }
        resolvePending();
        ManifestName last = view.name().orElseThrow();
        TreeMap<ManifestName, ObjectInfo> names = ManifestLog.listFrom(store, last);
        if (!names.isEmpty() && !names.lastKey().equals(last)) {
            throw superseded(names.lastKey());
        }
        return write(new ManifestName(last.generation(), last.sequence() + 1), added, removed, properties);
    }

    private ManifestView write(ManifestName next, List<Entry> added, List<String> removed, Map<String, String> properties) {
        requireLease();
        Instant now = Instant.now();
        Manifest delta = view.name().isEmpty() ? null
                : new Manifest(next, view.name(), false, now, added, removed, properties);
        ManifestView after = delta == null ? null : view.then(delta, 0);
        boolean full = delta == null || after.deltasSinceFull() > settings.fullEvery()
                || view.deltaBytesSinceFull() > view.fullBytes();
        Manifest m;
        if (full) {
            ManifestView everything = after != null ? after
                    : ManifestView.empty().then(new Manifest(next, Optional.empty(), true, now, added, List.of(), properties), 0);
            m = new Manifest(next, view.name(), true, now, everything.entries(), List.of(), everything.properties());
        } else {
            m = delta;
        }
        byte[] bytes = ManifestCodec.encode(m);
        requireLease();
        pending = new Pending(m, bytes);
        boolean written = join(store.putIfAbsent(next.key(), bytes));
        pending = null;
        if (!written) {
            throw superseded(next);
        }
        adopt(m, bytes);
        return view;
    }

    private void adopt(Manifest m, byte[] bytes) {
        view = view.then(m, bytes.length);
        if (pins != null) {
            m.added().forEach(e -> pins.release(e.key()));
        }
    }

    /** After a write that failed with an unknown outcome: adopt the manifest if it landed. */
    private void resolvePending() {
        if (pending == null) {
            return;
        }
        Optional<StoredBytes> there = join(store.get(pending.manifest().name().key()));
        if (there.isPresent() && Arrays.equals(there.get().bytes(), pending.bytes())) {
            adopt(pending.manifest(), pending.bytes());
        } else if (there.isPresent()) {
            throw superseded(pending.manifest().name());
        }
        pending = null;
    }

    private void requireLease() {
        if (!lease.isValid()) {
            throw new ObjectStoreException(ObjectStoreException.Kind.PRECONDITION_FAILED, "the lease of " + store.describe()
                    + " (generation " + lease.generation() + ") is no longer held: no manifest is written");
        }
    }

    private ObjectStoreException superseded(ManifestName other) {
        return new ObjectStoreException(ObjectStoreException.Kind.PRECONDITION_FAILED, "another writer wrote "
                + other.key() + " in " + store.describe() + " after this writer's "
                + view.name().map(ManifestName::key).orElse("(none)") + ": the lease (generation "
                + lease.generation() + ") was taken over; no manifest is written");
    }
}
