package dev.zenith.objectstore.catalogue;

import dev.zenith.objectstore.Interposed;
import dev.zenith.objectstore.ObjectInfo;
import dev.zenith.objectstore.ObjectStore;
import dev.zenith.objectstore.ObjectStoreException;
import dev.zenith.objectstore.format.Manifest.Entry;
import dev.zenith.objectstore.transfer.Content;
import dev.zenith.objectstore.transfer.TransferSettings;
import dev.zenith.objectstore.transfer.Uploader;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static dev.zenith.objectstore.TestStores.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Pushing to and listing a remote's snapshots, the same test on S3Proxy (which ignores conditional
 * writes) and on a directory: several daemons at once, without a lease.
 */
public abstract class SnapshotCatalogueContract {
    private static final Duration SETTLE = Duration.ofSeconds(1);

    /** A fresh remote of its own (an unused prefix or directory); {@link #again} opens it once more. */
    protected abstract ObjectStore open(String name) throws Exception;

    protected abstract ObjectStore again(String name) throws Exception;

    private static String unique(String name) {
        return name + "-" + System.nanoTime();
    }

    @Test
    void aPushIsVisibleOnlyWithItsManifestAndIsResumedSendingOnlyWhatIsMissing() throws Exception {
        String name = unique("resume");
        try (ObjectStore remote = open(name); Uploader up = new Uploader(remote, TransferSettings.defaults())) {
            SnapshotCatalogue catalogue = new SnapshotCatalogue(remote, SETTLE);
            List<Snapshots.Spec> specs = Snapshots.specs("a");
            // the first push dies after half of its objects
            for (Snapshots.Spec s : specs.subList(0, 3)) {
                upload(up, s);
            }
            assertEquals(List.of(), catalogue.list(), "no manifest, no snapshot");
            SnapshotManifest m = Snapshots.manifest("main@s1", uploaded(up, specs), "alice@laptop");
            assertEquals(specs.subList(0, 3).stream().mapToLong(s -> s.content().length()).sum(),
                    up.progress().snapshot().skippedBytes(), "the second push sent only what the first did not");
            SnapshotCatalogue.Published p = catalogue.publish(m, false);
            assertEquals(List.of(p), catalogue.list());
            assertEquals(m, p.manifest());
            assertEquals(p, catalogue.publish(m, false), "pushing the same snapshot again changes nothing");
            assertEquals(1, versions(remote).size());
        }
    }

    @Test
    void objectsMissingFromTheRemoteAreRefusedBeforeAnythingIsVisible() throws Exception {
        try (ObjectStore remote = open(unique("missing"))) {
            SnapshotCatalogue catalogue = new SnapshotCatalogue(remote, SETTLE);
            ObjectStoreException e = assertThrows(ObjectStoreException.class,
                    () -> catalogue.publish(Snapshots.manifest("main@s1", Snapshots.objects("a"), "alice"), false));
            assertTrue(e.getMessage().contains("7 objects of the snapshot are not on"), e.getMessage());
            assertEquals(List.of(), versions(remote));
        }
    }

    @Test
    void aNameHeldWithOtherContentsIsRefusedUnlessForcedAndRelatedPushesShareBlobs() throws Exception {
        String name = unique("names");
        try (ObjectStore a = open(name); ObjectStore b = again(name);
             Uploader upA = new Uploader(a, TransferSettings.defaults()); Uploader upB = new Uploader(b, TransferSettings.defaults())) {
            SnapshotCatalogue.Published first = new SnapshotCatalogue(a, SETTLE)
                    .publish(Snapshots.manifest("main@s1", uploaded(upA, Snapshots.specs("a")), "alice@laptop"), false);
            // another daemon, a related history: everything but its branch WAL and versions is shared
            SnapshotManifest other = Snapshots.manifest("main@s1", uploaded(upB, Snapshots.specs("b")), "bob@desktop");
            List<String> firstContents = Snapshots.specs("a").stream().map(Snapshots.Spec::content).toList();
            long shared = Snapshots.specs("b").stream().filter(sp -> firstContents.contains(sp.content()))
                    .mapToLong(sp -> sp.content().length()).sum();
            assertEquals(5, Snapshots.specs("b").stream().filter(sp -> firstContents.contains(sp.content())).count());
            assertEquals(shared, upB.progress().snapshot().skippedBytes(), "the five blobs the remote had were not sent again");
            SnapshotCatalogue catalogue = new SnapshotCatalogue(b, SETTLE);
            SnapshotExistsException e = assertThrows(SnapshotExistsException.class, () -> catalogue.publish(other, false));
            assertTrue(e.getMessage().contains("main@s1 exists on " + b.describe() + " with other contents (pushed by alice@laptop"),
                    e.getMessage());
            assertTrue(e.getMessage().contains("push with --force to replace it"), e.getMessage());
            assertEquals(List.of(first), catalogue.list(), "the refused push changed nothing");

            SnapshotCatalogue.Published forced = catalogue.publish(other, true);
            assertEquals(java.util.Optional.of(first.key()), forced.manifest().replaces());
            assertEquals(List.of(forced), new SnapshotCatalogue(a, SETTLE).list());
            assertEquals(other.contentId(), new SnapshotCatalogue(a, SETTLE).get(other.ref()).orElseThrow().manifest().contentId());
        }
    }

    @Test
    void pushersRacingForOneNameWithoutALeaseHaveOneWinnerAndLeaveNoLosers() throws Exception {
        int pushers = 4;
        ExecutorService pool = Executors.newFixedThreadPool(pushers);
        try {
            for (int round = 0; round < 3; round++) {
                String name = unique("race-" + round);
                List<ObjectStore> stores = new ArrayList<>();
                List<SnapshotManifest> manifests = new ArrayList<>();
                for (int i = 0; i < pushers; i++) {
                    ObjectStore s = i == 0 ? open(name) : again(name);
                    stores.add(s);
                    try (Uploader up = new Uploader(s, TransferSettings.defaults())) {
                        // pushers 0 and 1 push the same snapshot, 2 and 3 others
                        manifests.add(Snapshots.manifest("main@s", uploaded(up, Snapshots.specs(i < 2 ? "same" : "other " + i)),
                                "daemon " + i));
                    }
                    await(s.list("")); // a warm connection, so the pushers really race
                }
                CountDownLatch go = new CountDownLatch(1);
                List<Future<SnapshotCatalogue.Published>> tries = new ArrayList<>();
                for (int i = 0; i < pushers; i++) {
                    SnapshotCatalogue c = new SnapshotCatalogue(stores.get(i), SETTLE);
                    SnapshotManifest m = manifests.get(i);
                    tries.add(pool.submit(() -> {
                        go.await();
                        return c.publish(m, false);
                    }));
                }
                go.countDown();
                List<String> answers = new ArrayList<>();
                int refused = 0;
                for (Future<SnapshotCatalogue.Published> f : tries) {
                    try {
                        answers.add(f.get().manifest().contentId());
                    } catch (ExecutionException e) {
                        assertTrue(e.getCause() instanceof SnapshotExistsException, String.valueOf(e.getCause()));
                        refused++;
                    }
                }
                SnapshotCatalogue.Published current = new SnapshotCatalogue(stores.get(0), SETTLE).get(manifests.get(0).ref())
                        .orElseThrow();
                for (String id : answers) {
                    assertEquals(current.manifest().contentId(), id, "every pusher told it succeeded pushed what is there");
                }
                assertEquals(pushers, answers.size() + refused);
                // either the shared snapshot won (its two pushers succeed) or one of the others did
                assertTrue(!answers.isEmpty() && refused >= 2, answers.size() + " succeeded, " + refused + " refused");
                assertEquals(List.of(current.key()), versions(stores.get(0)), "losers deleted their versions");
                for (ObjectStore s : stores) {
                    s.close();
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private static List<String> versions(ObjectStore remote) throws Exception {
        return await(remote.list(CatalogueNames.SNAPSHOTS)).stream().map(ObjectInfo::key).toList();
    }

    /**
     * A pusher that saw each of its objects on the server publishes without asking for each again (no HEAD); a later
     * push told what the published manifests list neither asks for nor sends those blobs.
     */
    @Test
    void aConfirmedPublishAndAPushOfListedBlobsAskNothingPerObject() throws Exception {
        String name = unique("confirmed");
        List<Interposed.Call> calls = new java.util.concurrent.CopyOnWriteArrayList<>();
        try (ObjectStore real = open(name); Uploader up = new Uploader(Interposed.wrap(real, calls, Interposed.PASS),
                TransferSettings.defaults())) {
            ObjectStore remote = Interposed.wrap(real, calls, Interposed.PASS); // closed as real is
            SnapshotCatalogue catalogue = new SnapshotCatalogue(remote, SETTLE);
            List<Snapshots.Spec> specs = Snapshots.specs("c");
            SnapshotManifest m = Snapshots.manifest("main@s1", uploaded(up, specs), "alice@laptop");
            assertEquals(specs.size(), heads(calls), "the uploader asks before it sends");
            calls.clear();
            SnapshotCatalogue.Published p = catalogue.publishConfirmed(m, false);
            assertEquals(0, heads(calls), "no object asked for again: " + calls);
            assertEquals(List.of(p), catalogue.list());

            calls.clear();
            try (Uploader later = new Uploader(remote, TransferSettings.defaults())) {
                later.knownStored(p.manifest().objects());
                assertEquals(m.objects(), uploaded(later, specs));
                assertEquals(List.of(), calls, "nothing asked for nor sent");
                assertEquals(later.progress().snapshot().totalBytes(), later.progress().snapshot().skippedBytes());
            }
        }
    }

    private static long heads(List<Interposed.Call> calls) {
        return calls.stream().filter(c -> c.method().equals("head")).count();
    }

    private static Entry upload(Uploader up, Snapshots.Spec s) throws Exception {
        return await(up.upload(Content.of(s.content().getBytes()), s.labels()));
    }

    private static List<Entry> uploaded(Uploader up, List<Snapshots.Spec> specs) throws Exception {
        List<Entry> out = new ArrayList<>();
        for (Snapshots.Spec s : specs) {
            out.add(upload(up, s));
        }
        return out;
    }
}
