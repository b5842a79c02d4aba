package dev.zenith.objectstore.gc;

import dev.zenith.objectstore.ObjectInfo;
import dev.zenith.objectstore.ObjectStoreException;
import dev.zenith.objectstore.TestStores;
import dev.zenith.objectstore.format.ContentHash;
import dev.zenith.objectstore.format.Manifest.Entry;
import dev.zenith.objectstore.format.ObjectNames;
import dev.zenith.objectstore.format.ObjectNames.ManifestName;
import dev.zenith.objectstore.lease.Lease;
import dev.zenith.objectstore.lease.LeaseSettings;
import dev.zenith.objectstore.log.ManifestLog;
import dev.zenith.objectstore.log.ManifestView;
import dev.zenith.objectstore.log.ManifestWriter;
import dev.zenith.objectstore.s3.S3ObjectStore;
import dev.zenith.objectstore.transfer.BlobPins;
import dev.zenith.objectstore.transfer.Content;
import dev.zenith.objectstore.transfer.Downloader;
import dev.zenith.objectstore.transfer.TransferSettings;
import dev.zenith.objectstore.transfer.Uploader;
import dev.zenith.testkit.S3ProxyServer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Collectors;

import static dev.zenith.objectstore.TestStores.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** GC of a storage prefix on a real S3Proxy: what it deletes, what it keeps, and the race with the uploader. */
@Tag("s3")
class BucketGcTest {
    private static final LeaseSettings FAST = new LeaseSettings(Duration.ofSeconds(10), Duration.ofSeconds(2),
            Duration.ofSeconds(1), Duration.ofMillis(500), true);
    /** S3Proxy's object times have whole seconds: a grace of 2 s is "older than 1 to 3 s". */
    private static final Duration GRACE = Duration.ofSeconds(2);
    private static final S3ProxyServer s3 = TestStores.s3();

    @Test
    void deletesWhatNoKeptManifestListsOldManifestsAndStaleUploadsKeepingTheChain() throws Exception {
        BlobPins pins = new BlobPins(GRACE);
        try (S3ObjectStore store = TestStores.open(s3, "s3://bucket/gc-main");
             Uploader up = new Uploader(store, TransferSettings.defaults(), pins);
             Downloader down = new Downloader(store, TransferSettings.defaults());
             Lease lease = Lease.acquire(store, FAST, "gc", ManifestLog.nextGeneration(store))) {
            ManifestWriter w = ManifestWriter.open(store, lease, new ManifestWriter.Settings(2), pins);
            Entry a = blob(up, "a");
            Entry b = blob(up, "b");
            w.append(List.of(a, b), List.of(), Map.of());           // 1-1
            w.append(List.of(), List.of(a.key()), Map.of());        // 1-2: a no longer visible
            Entry c = blob(up, "c");
            w.append(List.of(c), List.of(), Map.of());              // 1-3
            Entry d = blob(up, "d");
            w.append(List.of(d), List.of(b.key()), Map.of());       // 1-4
            w.append(List.of(), List.of(), Map.of("x", "y"));       // 1-5
            Entry garbage = await(new Uploader(store, TransferSettings.defaults()).upload(
                    Content.of("a crashed upload's".getBytes()), Map.of()));
            String interrupted = ObjectNames.blob(ContentHash.ofContent("an interrupted upload's".getBytes()));
            String stale = await(store.startMultipart(interrupted));
            await(store.uploadPart(interrupted, stale, 1, new byte[100], 0, 100));
            ManifestView before = ManifestLog.read(store);
            Set<ManifestName> chainBefore = ManifestLog.list(store).keySet();
            assertEquals(6, chainBefore.size());
            assertEquals(0, pins.pinned(), "every pin was released by the manifest that lists its blob");

            BucketGc gc = new BucketGc(store, lease, pins, new BucketGc.Settings(2, Duration.ofSeconds(1)));
            BucketGc.Report first = gc.run(); // (sees the upload: S3Proxy says every upload started when it is listed)
            Thread.sleep(GRACE.toMillis() + 1500);
            BucketGc.Report r = gc.run();

            // kept: the newest 2 (1-4, 1-5) and the full one 1-4 needs... which is itself, or earlier
            Set<ManifestName> left = ManifestLog.list(store).keySet();
            assertTrue(left.contains(new ManifestName(1, 5)) && left.contains(new ManifestName(1, 4)), "" + left);
            assertEquals(chainBefore.size() - left.size(), first.manifestsDeleted() + r.manifestsDeleted());
            assertTrue(first.manifestsDeleted() >= 2, first.toString());
            assertEquals(before, ManifestLog.read(store), "the view is unchanged");
            Set<String> blobs = keys(await(store.list(ObjectNames.BLOBS)));
            for (Entry e : before.entries()) {
                assertTrue(blobs.contains(e.key()), "a visible blob was deleted: " + e.key());
                await(down.get(e.key(), e.hash(), e.contentLength())); // whole and verified
            }
            assertFalse(blobs.contains(garbage.key()), "an upload no manifest lists is deleted after the grace");
            assertFalse(blobs.contains(a.key()), "a blob removed by a manifest that is no longer kept is deleted");
            assertTrue(first.blobsDeleted() + r.blobsDeleted() >= 2, r.toString());
            assertEquals(1, first.uploadsAborted() + r.uploadsAborted());
            assertTrue(await(store.pendingUploads("")).isEmpty());
            assertFalse(r.cutShort());

            BucketGc.Report again = gc.run();
            assertEquals(0, again.manifestsDeleted() + again.blobsDeleted() + again.uploadsAborted(), again.toString());
        }
    }

    @Test
    void youngBlobsAndBlobsTheUploaderFoundForAManifestNotYetWrittenStay() throws Exception {
        Duration grace = Duration.ofSeconds(5); // "fresh" must stay young for the seconds between its upload and GC
        BlobPins pins = new BlobPins(grace);
        try (S3ObjectStore store = TestStores.open(s3, "s3://bucket/gc-race");
             Uploader up = new Uploader(store, TransferSettings.defaults(), pins);
             Downloader down = new Downloader(store, TransferSettings.defaults());
             Lease lease = Lease.acquire(store, FAST, "gc", ManifestLog.nextGeneration(store))) {
            ManifestWriter w = ManifestWriter.open(store, lease, ManifestWriter.Settings.defaults(), pins);
            byte[] content = "uploaded before a crash, long ago".getBytes();
            await(new Uploader(store, TransferSettings.defaults()).upload(Content.of(content), Map.of()));
            Entry oldUnlisted = await(new Uploader(store, TransferSettings.defaults()).upload(
                    Content.of("nobody lists this".getBytes()), Map.of()));
            Thread.sleep(grace.toMillis() + 1500);
            Entry fresh = await(new Uploader(store, TransferSettings.defaults()).upload(Content.of("fresh".getBytes()), Map.of()));

            // the uploader finds the old garbage blob there (HEAD) and skips sending it; its manifest is not written yet
            Entry found = await(up.upload(Content.of(content), Map.of("kind", "wal")));
            assertEquals(content.length, up.progress().snapshot().skippedBytes(), "not sent again");
            assertEquals(1, pins.pinned());
            BucketGc gc = new BucketGc(store, lease, pins, new BucketGc.Settings(1, Duration.ZERO));
            BucketGc.Report r = gc.run();
            assertEquals(1, r.blobsKeptPinned(), r.toString());
            assertEquals(1, r.blobsKeptYoung(), r.toString());
            assertTrue(await(store.head(found.key())).isPresent());
            assertTrue(await(store.head(fresh.key())).isPresent());
            assertFalse(await(store.head(oldUnlisted.key())).isPresent(), "unlisted and old: deleted");

            w.append(List.of(found), List.of(), Map.of());
            assertEquals(0, pins.pinned());
            gc.run();
            assertArrayEquals(content, await(down.get(found.key(), found.hash(), found.contentLength())),
                    "the manifest's blob survived both runs");
        }
    }

    @Test
    void withoutPinsTheSameInterleavingLosesABlobAManifestThenNames() throws Exception {
        // the race the pins close: an uploader that does not share them with GC
        BlobPins gcPins = new BlobPins(GRACE);
        try (S3ObjectStore store = TestStores.open(s3, "s3://bucket/gc-nopins");
             Uploader unpinned = new Uploader(store, TransferSettings.defaults());
             Lease lease = Lease.acquire(store, FAST, "gc", ManifestLog.nextGeneration(store))) {
            ManifestWriter w = ManifestWriter.open(store, lease, ManifestWriter.Settings.defaults(), null);
            byte[] content = "old garbage, about to be reused".getBytes();
            await(unpinned.upload(Content.of(content), Map.of()));
            Thread.sleep(GRACE.toMillis() + 1500);
            Entry found = await(unpinned.upload(Content.of(content), Map.of()));
            new BucketGc(store, lease, gcPins, new BucketGc.Settings(1, Duration.ZERO)).run();
            w.append(List.of(found), List.of(), Map.of());
            assertFalse(await(store.head(found.key())).isPresent(), "the manifest names a deleted blob");
        }
    }

    @Test
    void anUploadThatPinsABlobGcIsDeletingWaitsAndThenSendsIt() throws Exception {
        BlobPins pins = new BlobPins(GRACE);
        try (S3ObjectStore store = TestStores.open(s3, "s3://bucket/gc-wait");
             Uploader up = new Uploader(store, TransferSettings.defaults(), pins)) {
            byte[] content = "deleted while being found".getBytes();
            Entry old = await(new Uploader(store, TransferSettings.defaults()).upload(Content.of(content), Map.of()));
            assertTrue(pins.beginDelete(old.key()), "GC claims it");
            CompletableFuture<Entry> upload = up.upload(Content.of(content), Map.of());
            Thread.sleep(500);
            assertFalse(upload.isDone(), "the uploader's pin waits for GC's delete");
            await(store.delete(old.key()));
            pins.endDelete(old.key());
            Entry e = await(upload);
            assertTrue(await(store.head(e.key())).isPresent(), "sent again after the delete");
            assertTrue(up.progress().snapshot().sentBytes() > 0);
            assertEquals(0, up.progress().snapshot().skippedBytes());
            assertFalse(pins.beginDelete(e.key()), "and pinned until its manifest is written");
        }
    }

    @Test
    void gcStopsWhenItsLeaseIsGone() throws Exception {
        try (S3ObjectStore store = TestStores.open(s3, "s3://bucket/gc-lost")) {
            Lease lease = Lease.acquire(store, FAST, "gc", ManifestLog.nextGeneration(store));
            ManifestWriter.open(store, lease, ManifestWriter.Settings.defaults(), null);
            lease.close();
            ObjectStoreException e = assertThrows(ObjectStoreException.class,
                    () -> new BucketGc(store, lease, new BlobPins(GRACE), BucketGc.Settings.defaults()).run());
            assertTrue(e.getMessage().contains("no longer held"), e.getMessage());
        }
    }

    private static Entry blob(Uploader up, String text) throws Exception {
        return await(up.upload(Content.of(text.getBytes()), Map.of()));
    }

    private static Set<String> keys(List<ObjectInfo> listed) {
        return listed.stream().map(ObjectInfo::key).collect(Collectors.toCollection(TreeSet::new));
    }
}
