package dev.zenith.objectstore.log;

import dev.zenith.objectstore.Interposed;
import dev.zenith.objectstore.ObjectInfo;
import dev.zenith.objectstore.ObjectStore;
import dev.zenith.objectstore.ObjectStoreException;
import dev.zenith.objectstore.TestStores;
import dev.zenith.objectstore.format.CorruptObjectException;
import dev.zenith.objectstore.format.Manifest;
import dev.zenith.objectstore.format.Manifest.Entry;
import dev.zenith.objectstore.format.ManifestCodec;
import dev.zenith.objectstore.format.ObjectNames;
import dev.zenith.objectstore.format.ObjectNames.ManifestName;
import dev.zenith.objectstore.lease.Lease;
import dev.zenith.objectstore.lease.LeaseHeldException;
import dev.zenith.objectstore.lease.LeaseSettings;
import dev.zenith.objectstore.s3.S3ObjectStore;
import dev.zenith.objectstore.transfer.Content;
import dev.zenith.objectstore.transfer.TransferSettings;
import dev.zenith.objectstore.transfer.Uploader;
import dev.zenith.testkit.S3ProxyServer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;

import static dev.zenith.objectstore.TestStores.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The manifest log of a prefix on a real S3Proxy: folding, full manifests, takeovers, lost leases, corruption. */
@Tag("s3")
class ManifestLogTest {
    // Quick to take (1 s settle); no test here waits for an expiry, so the ttl is long: on a loaded machine
    // (CI at load 20) renewals stalled past a 10 s ttl and a holder lost its lease mid-test.
    static final LeaseSettings FAST = new LeaseSettings(Duration.ofSeconds(60), Duration.ofSeconds(1),
            Duration.ofSeconds(1), Duration.ofSeconds(1), true);
    private static final S3ProxyServer s3 = TestStores.s3();

    @Test
    void appendsFoldIntoTheSameViewForAFreshReaderWithAFullManifestEveryFewDeltas() throws Exception {
        try (S3ObjectStore store = TestStores.open(s3, "s3://bucket/log-fold");
             Uploader up = new Uploader(store, TransferSettings.defaults());
             Lease lease = Lease.acquire(store, FAST, "a", ManifestLog.nextGeneration(store))) {
            assertTrue(ManifestLog.read(store).name().isEmpty(), "an empty prefix has an empty view");
            ManifestWriter w = ManifestWriter.open(store, lease, new ManifestWriter.Settings(3), null);
            assertEquals(Optional.of(new ManifestName(1, 0)), w.view().name());

            Entry wal1 = blob(up, "wal 1", Map.of("kind", "wal", "start", "0/1000000"));
            Entry wal2 = blob(up, "wal 2", Map.of("kind", "wal", "start", "0/2000000"));
            Entry image = blob(up, "image", Map.of("kind", "image", "timeline", "aa"));
            Entry sameBytesOtherUse = new Entry(image.key(), image.hash(), image.contentLength(), image.storedLength(),
                    Map.of("kind", "image", "timeline", "bb"));
            w.append(List.of(wal1), List.of(), Map.of("timeline.aa.remote_lsn", "0/1000000"));
            w.append(List.of(wal2, image, sameBytesOtherUse), List.of(), Map.of("timeline.aa.remote_lsn", "0/2000000",
                    "storage.format", "1"));
            assertEquals(4, w.view().entries().size(), "one blob listed twice, with other labels");
            Entry relabelled = new Entry(wal1.key(), wal1.hash(), wal1.contentLength(), wal1.storedLength(),
                    Map.of("kind", "wal", "start", "0/1000000", "sealed", "true"));
            w.append(List.of(relabelled), List.of(wal1.key()), Map.of("storage.format", ""));
            for (int i = 0; i < 5; i++) {
                w.append(List.of(blob(up, "more " + i, Map.of("n", "" + i))), List.of(), Map.of());
            }
            w.append(List.of(), List.of(wal2.key()), Map.of());

            ManifestView mine = w.view();
            ManifestView read = ManifestLog.read(store);
            assertEquals(mine, read);
            assertEquals(Map.of("timeline.aa.remote_lsn", "0/2000000"), read.properties());
            assertEquals(List.of(Map.of("kind", "wal", "start", "0/1000000", "sealed", "true")),
                    read.byKey().get(wal1.key()).stream().map(Entry::labels).toList());
            assertFalse(read.keys().contains(wal2.key()));
            assertEquals(2, read.byKey().get(image.key()).size());

            // 10 manifests (1-0 .. 1-9): the first is full, and never more than 3 deltas follow a full one
            // (sooner when the deltas outweigh it)
            List<Boolean> full = new ArrayList<>();
            for (ManifestName n : ManifestLog.list(store).keySet()) {
                full.add(ManifestCodec.decode(n.key(), await(store.get(n.key())).orElseThrow().bytes()).full());
            }
            assertEquals(10, full.size());
            assertTrue(full.get(0));
            int run = 0;
            for (boolean f : full) {
                run = f ? 0 : run + 1;
                assertTrue(run <= 3, "deltas in a row: " + full);
            }
            assertTrue(full.subList(1, 10).contains(true), "" + full);
            assertTrue(read.deltasSinceFull() <= 3);
        }
    }

    @Test
    void blobsUploadedWithoutTheirManifestAreNeverVisible() throws Exception {
        try (S3ObjectStore store = TestStores.open(s3, "s3://bucket/log-crash");
             Uploader up = new Uploader(store, TransferSettings.defaults())) {
            Lease first = Lease.acquire(store, FAST, "crashes", ManifestLog.nextGeneration(store));
            ManifestWriter w = ManifestWriter.open(store, first, ManifestWriter.Settings.defaults(), null);
            Entry listed = blob(up, "listed", Map.of());
            w.append(List.of(listed), List.of(), Map.of());
            Entry orphan = blob(up, "uploaded, then the daemon died", Map.of());
            first.close(); // the daemon is gone before its manifest

            assertTrue(await(store.head(orphan.key())).isPresent(), "the blob is in the bucket");
            assertEquals(List.of(listed), ManifestLog.read(store).entries(), "but no manifest lists it");
            try (Lease next = Lease.acquire(store, FAST, "restarted", ManifestLog.nextGeneration(store))) {
                ManifestWriter again = ManifestWriter.open(store, next, ManifestWriter.Settings.defaults(), null);
                assertEquals(List.of(listed), again.view().entries());
                assertEquals(Optional.of(new ManifestName(2, 0)), again.view().name());
            }
        }
    }

    @Test
    void aCorruptOrMissingManifestIsAClearErrorAndNothingIsWritten() throws Exception {
        try (S3ObjectStore store = TestStores.open(s3, "s3://bucket/log-corrupt");
             Uploader up = new Uploader(store, TransferSettings.defaults())) {
            try (Lease lease = Lease.acquire(store, FAST, "a", ManifestLog.nextGeneration(store))) {
                ManifestWriter w = ManifestWriter.open(store, lease, new ManifestWriter.Settings(10), null);
                for (int i = 0; i < 3; i++) {
                    w.append(List.of(blob(up, "b" + i, Map.of())), List.of(), Map.of());
                }
            }
            ManifestName middle = new ManifestName(1, 2);
            Path file = s3.objectFile("bucket", "log-corrupt/" + middle.key());
            byte[] good = Files.readAllBytes(file);
            byte[] bad = good.clone();
            bad[bad.length - 5] ^= 0x01;
            Files.write(file, bad);
            CorruptObjectException e = assertThrows(CorruptObjectException.class, () -> ManifestLog.read(store));
            assertTrue(e.getMessage().startsWith("manifest " + middle.key() + " is corrupt: "), e.getMessage());
            try (Lease lease = Lease.acquire(store, FAST, "b", ManifestLog.nextGeneration(store))) {
                assertThrows(CorruptObjectException.class,
                        () -> ManifestWriter.open(store, lease, ManifestWriter.Settings.defaults(), null));
            }
            assertEquals(4, ManifestLog.list(store).size(), "nothing was written on a corrupt chain");

            Files.delete(file);
            ObjectStoreException missing = assertThrows(ObjectStoreException.class, () -> ManifestLog.read(store));
            assertEquals(ObjectStoreException.Kind.CORRUPT, missing.kind());
            assertTrue(missing.getMessage().contains("follows " + middle.key() + ", which is not in s3://bucket/log-corrupt"),
                    missing.getMessage());

            Files.write(file, good);
            assertEquals(3, ManifestLog.read(store).entries().size(), "whole again once the bytes are back");
        }
    }

    @Test
    void aDeletedLeaseObjectStartsTheNextHolderAboveTheManifestsThere() throws Exception {
        try (S3ObjectStore store = TestStores.open(s3, "s3://bucket/log-nolease");
             Uploader up = new Uploader(store, TransferSettings.defaults())) {
            Entry b = blob(up, "kept across", Map.of());
            for (int g = 0; g < 3; g++) { // three holders one after the other: generations 1, 2, 3
                try (Lease lease = Lease.acquire(store, FAST, "holder " + g, ManifestLog.nextGeneration(store))) {
                    ManifestWriter.open(store, lease, ManifestWriter.Settings.defaults(), null)
                            .append(g == 0 ? List.of(b) : List.of(), List.of(), Map.of("holder", "" + g));
                }
            }
            await(store.delete(ObjectNames.LEASE)); // someone deleted the lease object
            try (Lease fresh = Lease.acquire(store, FAST, "without a floor")) {
                assertEquals(1, fresh.generation());
                ObjectStoreException e = assertThrows(ObjectStoreException.class,
                        () -> ManifestWriter.open(store, fresh, ManifestWriter.Settings.defaults(), null));
                assertTrue(e.getMessage().contains("nextGeneration"), e.getMessage());
            }
            await(store.delete(ObjectNames.LEASE));
            assertEquals(4, ManifestLog.nextGeneration(store));
            try (Lease lease = Lease.acquire(store, FAST, "next", ManifestLog.nextGeneration(store))) {
                assertEquals(4, lease.generation());
                ManifestWriter w = ManifestWriter.open(store, lease, ManifestWriter.Settings.defaults(), null);
                assertEquals(Optional.of(new ManifestName(4, 0)), w.view().name());
                assertEquals(List.of(b), w.view().entries());
                assertEquals("2", w.view().properties().get("holder"));
            }
        }
    }

    @Test
    void racingWritersOnlyTheLeaseHolderWritesAndAWriterThatLostItIsIgnored() throws Exception {
        try (S3ObjectStore a = TestStores.open(s3, "s3://bucket/log-race"); S3ObjectStore b = TestStores.open(s3, "s3://bucket/log-race");
             Uploader upA = new Uploader(a, TransferSettings.defaults()); Uploader upB = new Uploader(b, TransferSettings.defaults())) {
            Lease la = Lease.acquire(a, FAST, "daemon a", ManifestLog.nextGeneration(a));
            assertThrows(LeaseHeldException.class, () -> Lease.acquire(b, FAST, "daemon b", ManifestLog.nextGeneration(b)));
            ManifestWriter wa = ManifestWriter.open(a, la, ManifestWriter.Settings.defaults(), null);
            Entry early = blob(upA, "a before the pause", Map.of());
            wa.append(List.of(early), List.of(), Map.of());

            // a stops holding its lease (released here; a lease that ran out is the same to a and to b)
            la.close();
            ObjectStoreException lost = assertThrows(ObjectStoreException.class,
                    () -> wa.append(List.of(), List.of(), Map.of()));
            assertTrue(lost.getMessage().contains("no longer held"), lost.getMessage());
            try (Lease lb = Lease.acquire(b, FAST, "daemon b", ManifestLog.nextGeneration(b))) {
                assertEquals(2, lb.generation());
                ManifestWriter wb = ManifestWriter.open(b, lb, ManifestWriter.Settings.defaults(), null);
                // a write of a's that was in flight lands after b's takeover: a delta on a's chain
                Entry late = blob(upA, "a's late write", Map.of());
                ManifestName aLast = new ManifestName(1, 1);
                Manifest lateDelta = new Manifest(new ManifestName(1, 2), Optional.of(aLast), false, Instant.now(),
                        List.of(late), List.of(), Map.of("who", "a"));
                await(a.put(lateDelta.name().key(), ManifestCodec.encode(lateDelta)));

                ManifestView seen = ManifestLog.read(b);
                assertEquals(Optional.of(new ManifestName(2, 0)), seen.name());
                assertEquals(List.of(early), seen.entries(), "the lost holder's late manifest is off the chain");
                Entry mine = blob(upB, "b's", Map.of());
                wb.append(List.of(mine), List.of(), Map.of("who", "b"));
                assertEquals(List.of(early, mine).stream().map(Entry::key).sorted().toList(),
                        ManifestLog.read(a).entries().stream().map(Entry::key).toList());
                assertEquals(Map.of("who", "b"), ManifestLog.read(a).properties());
            }
        }
    }

    @Test
    void aHolderWhoseLeaseObjectWasTakenIsStoppedByTheNewHoldersTakeover() throws Exception {
        // a slow renewal: the old holder still counts itself valid when the new one has written
        LeaseSettings slow = new LeaseSettings(Duration.ofSeconds(60), Duration.ofSeconds(30), Duration.ofSeconds(1),
                Duration.ofSeconds(5), true);
        try (S3ObjectStore a = TestStores.open(s3, "s3://bucket/log-taken"); S3ObjectStore b = TestStores.open(s3, "s3://bucket/log-taken")) {
            try (Lease la = Lease.acquire(a, slow, "daemon a", ManifestLog.nextGeneration(a))) {
                ManifestWriter wa = ManifestWriter.open(a, la, ManifestWriter.Settings.defaults(), null);
                wa.append(List.of(), List.of(), Map.of("n", "1"));
                await(b.delete(ObjectNames.LEASE)); // without a lease object, b takes the prefix at once
                try (Lease lb = Lease.acquire(b, slow, "daemon b", ManifestLog.nextGeneration(b))) {
                    ManifestWriter.open(b, lb, ManifestWriter.Settings.defaults(), null);
                    assertTrue(la.isValid(), "a has not noticed yet");
                    ObjectStoreException e = assertThrows(ObjectStoreException.class,
                            () -> wa.append(List.of(), List.of(), Map.of("n", "2")));
                    assertTrue(e.getMessage().contains("another writer wrote " + new ManifestName(2, 0).key()), e.getMessage());
                    assertEquals(Map.of("n", "1"), ManifestLog.read(b).properties());
                }
            }
        }
    }

    @Test
    void anAppendWhoseAnswerWasLostIsAdoptedOnRetryNotWrittenTwice() throws Exception {
        AtomicBoolean loseNextPutAnswer = new AtomicBoolean();
        List<Interposed.Call> calls = Interposed.newLog();
        try (S3ObjectStore real = TestStores.open(s3, "s3://bucket/log-lost-answer")) {
            ObjectStore store = Interposed.wrap(real, calls, (call, realCall) -> {
                if (call.method().equals("putIfAbsent") && loseNextPutAnswer.getAndSet(false)) {
                    // the manifest lands, the caller hears a timeout
                    return realCall.get().thenCompose(v -> CompletableFuture.failedFuture(new ObjectStoreException(
                            ObjectStoreException.Kind.UNAVAILABLE, "timed out waiting for the answer")));
                }
                return realCall.get();
            });
            try (Lease lease = Lease.acquire(store, FAST, "a", ManifestLog.nextGeneration(store))) {
                ManifestWriter w = ManifestWriter.open(store, lease, ManifestWriter.Settings.defaults(), null);
                loseNextPutAnswer.set(true);
                assertThrows(ObjectStoreException.class, () -> w.append(List.of(), List.of(), Map.of("n", "1")));
                assertEquals(Optional.of(new ManifestName(1, 0)), w.view().name(), "not known to be written");
                ManifestView v = w.append(List.of(), List.of(), Map.of("n", "2"));
                assertEquals(Optional.of(new ManifestName(1, 2)), v.name(), "1-1 was adopted, 1-2 follows it");
                assertEquals(Map.of("n", "2"), v.properties());
                List<ManifestName> names = new ArrayList<>(ManifestLog.list(store).keySet());
                assertEquals(List.of(new ManifestName(1, 0), new ManifestName(1, 1), new ManifestName(1, 2)), names);
                assertEquals(v, ManifestLog.read(store));
            }
        }
    }

    static Entry blob(Uploader up, String text, Map<String, String> labels) throws Exception {
        return await(up.upload(Content.of(text.getBytes()), new HashMap<>(labels)));
    }

    static List<String> keys(List<ObjectInfo> listed) {
        return listed.stream().map(ObjectInfo::key).toList();
    }
}
