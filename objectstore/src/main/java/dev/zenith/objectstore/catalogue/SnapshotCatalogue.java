package dev.zenith.objectstore.catalogue;

import static dev.zenith.objectstore.Futures.join;

import dev.zenith.objectstore.ObjectInfo;
import dev.zenith.objectstore.Futures;
import dev.zenith.objectstore.ObjectStore;
import dev.zenith.objectstore.ObjectStoreException;
import dev.zenith.objectstore.StoredBytes;
import dev.zenith.objectstore.format.Manifest.Entry;

import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * The snapshots of a remote (S3 or a shared directory), which any number of daemons read and push
 * to at once, without a lease. Blocking (call from a worker thread).
 *
 * <p>A push uploads every object first (content-addressed blobs: what the remote holds already,
 * from this push interrupted or from another daemon's related history, is not sent again), then
 * {@link #publish}es the manifest, which makes the snapshot visible whole. Publishing, like the
 * lease, does not rely on conditional writes (several servers ignore them):
 *
 * <ol>
 *   <li>list the name's versions and resolve the current one ({@link CatalogueVersions}): the same
 *       content is already there (a push repeated or resumed after its manifest, or another daemon's
 *       push of the same snapshot): done once a second listing {@code settle} later still says so
 *       (the version seen may be in its own writer's settle time and lose yet); other content:
 *       refused ({@link SnapshotExistsException}) unless forced, and then the new version replaces it;</li>
 *   <li>check every object is on the remote (unless the pusher confirmed each, {@link #publishConfirmed});</li>
 *   <li>write the version under sequence (greatest listed + 1) and a random nonce; if more than
 *       {@code settle} passed since the listing began, delete it and start over;</li>
 *   <li>wait {@code settle}, list again: ours if it is the current version; else delete ours, and
 *       it is done if the current one has our content, refused if another.</li>
 * </ol>
 *
 * Two pushers A and B cannot both find their own version current: if A's write lands after B's
 * second listing, A's listing (at most {@code settle} before A's write) came after B's write
 * (which was at least {@code settle} before that listing), so A saw B's version and wrote a
 * greater sequence; the root is the smallest key, so A's is not current.
 */
public final class SnapshotCatalogue {
    private static final int MAX_SLOW_PUBLISHES = 5;
    private static final int HEADS_IN_FLIGHT = 16;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final ObjectStore store;
    private final Duration settle;

    public SnapshotCatalogue(ObjectStore store, Duration settle) {
        this.store = store;
        this.settle = settle;
    }

    /** One visible snapshot: its version's key and manifest. */
    public record Published(String key, SnapshotManifest manifest) {
    }

    /** The current version of every name, in name order. */
    public List<Published> list() {
        Map<SnapshotRef, List<String>> byName = new LinkedHashMap<>();
        for (ObjectInfo o : join(store.list(CatalogueNames.SNAPSHOTS))) {
            CatalogueNames.parse(o.key()).ifPresent(v -> byName.computeIfAbsent(v.ref(), r -> new ArrayList<>()).add(o.key()));
        }
        List<Published> out = new ArrayList<>();
        byName.forEach((ref, keys) -> current(load(keys)).ifPresent(out::add));
        return out;
    }

    public Optional<Published> get(SnapshotRef ref) {
        return current(versions(ref));
    }

    /**
     * Makes {@code manifest} the snapshot of its name (see the class comment); answers the version
     * that is current afterwards (ours, or an equal one pushed before or meanwhile).
     */
    public Published publish(SnapshotManifest manifest, boolean force) {
        requireObjects(manifest.objects());
        return publishConfirmed(manifest, force);
    }

    /**
     * {@link #publish} without looking for each object first (a HEAD each): for a pusher that saw every object on the
     * server itself (its PUT answered, a HEAD found it, or a published manifest lists it) and kept GC from deleting any
     * since (its mark, {@code ActivityMarks}).
     */
    public Published publishConfirmed(SnapshotManifest manifest, boolean force) {
        String contentId = manifest.contentId();
        for (int attempt = 1; ; attempt++) {
            long t0 = System.nanoTime();
            List<Published> before = versions(manifest.ref());
            Optional<Published> current = current(before);
            if (current.isPresent() && current.get().manifest().contentId().equals(contentId)) {
                // ours already, unless that version is still in its writer's settle time and loses: look again after it
                Futures.sleep(settle, "publishing a snapshot");
                Optional<Published> still = current(versions(manifest.ref()));
                if (still.isPresent() && still.get().manifest().contentId().equals(contentId)) {
                    return still.get();
                }
                continue;
            }
            if (current.isPresent() && !force) {
                throw exists(current.get());
            }
            SnapshotManifest mine = manifest.replacing(current.map(Published::key));
            long sequence = before.stream().mapToLong(p -> CatalogueNames.parse(p.key()).orElseThrow().sequence())
                    .max().orElse(0) + 1;
            String key = CatalogueNames.key(manifest.ref(), sequence, HexFormat.of().toHexDigits(RANDOM.nextLong()));
            join(store.putIfAbsent(key, SnapshotManifestCodec.encode(mine)));
            if (System.nanoTime() - t0 > settle.toNanos()) {
                join(store.delete(key));
                if (attempt >= MAX_SLOW_PUBLISHES) {
                    throw new ObjectStoreException(ObjectStoreException.Kind.UNAVAILABLE, manifest.ref() + " could not be published to "
                            + store.describe() + ": the server answers slower than the settle time (" + settle + ")");
                }
                continue;
            }
            Futures.sleep(settle, "publishing a snapshot");
            Optional<Published> after = current(versions(manifest.ref()));
            if (after.isPresent() && after.get().key().equals(key)) {
                return after.get();
            }
            join(store.delete(key));
            if (after.isPresent() && after.get().manifest().contentId().equals(contentId)) {
                return after.get();
            }
            throw new SnapshotExistsException(manifest.ref() + " was pushed to " + store.describe() + " with other contents by "
                    + after.map(p -> p.manifest().pushedBy()).orElse("another daemon") + " while this push published it"
                    + " (push again with --force to replace it)");
        }
    }

    private SnapshotExistsException exists(Published current) {
        SnapshotManifest m = current.manifest();
        return new SnapshotExistsException(m.ref() + " exists on " + store.describe() + " with other contents (pushed by "
                + m.pushedBy() + " at " + m.pushedAt() + ", LSN " + Lsns.format(m.lsn()) + ", cluster "
                + m.cluster().systemIdentifier() + "): push with --force to replace it, or push under another name");
    }

    private List<Published> versions(SnapshotRef ref) {
        List<String> keys = new ArrayList<>();
        for (ObjectInfo o : join(store.list(CatalogueNames.prefix(ref)))) {
            CatalogueNames.parse(o.key()).filter(v -> v.ref().equals(ref)).ifPresent(v -> keys.add(o.key()));
        }
        return load(keys);
    }

    /** The versions still there (one deleted since the listing is a loser that cleaned up: skipped). */
    private List<Published> load(List<String> keys) {
        List<Published> out = new ArrayList<>();
        for (String key : keys) {
            Optional<StoredBytes> stored = join(store.get(key));
            stored.ifPresent(s -> out.add(new Published(key, SnapshotManifestCodec.decode(key, s.bytes()))));
        }
        return out;
    }

    private static Optional<Published> current(List<Published> versions) {
        Map<String, Published> byKey = new LinkedHashMap<>();
        versions.forEach(p -> byKey.put(p.key(), p));
        return CatalogueVersions.current(versions.stream()
                        .map(p -> new CatalogueVersions.Listed(p.key(), p.manifest().replaces(), p.manifest().contentId())).toList())
                .map(l -> byKey.get(l.key()));
    }

    /** Every object must be on the remote before the manifest that names it. */
    private void requireObjects(List<Entry> objects) {
        List<String> missing = new ArrayList<>();
        for (int from = 0; from < objects.size(); from += HEADS_IN_FLIGHT) {
            List<Entry> batch = objects.subList(from, Math.min(objects.size(), from + HEADS_IN_FLIGHT));
            List<CompletableFuture<Optional<ObjectInfo>>> heads = batch.stream().map(e -> store.head(e.key())).toList();
            for (int i = 0; i < batch.size(); i++) {
                if (join(heads.get(i)).isEmpty()) {
                    missing.add(batch.get(i).key());
                }
            }
        }
        if (!missing.isEmpty()) {
            throw new ObjectStoreException(ObjectStoreException.Kind.REFUSED, missing.size() + " objects of the snapshot are not on "
                    + store.describe() + " (first: " + missing.get(0) + "): upload every object before publishing its manifest");
        }
    }
}
