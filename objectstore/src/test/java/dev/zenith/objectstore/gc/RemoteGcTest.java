package dev.zenith.objectstore.gc;

import dev.zenith.objectstore.TestStores;
import dev.zenith.objectstore.catalogue.SnapshotCatalogue;
import dev.zenith.objectstore.catalogue.Snapshots;
import dev.zenith.objectstore.format.Manifest.Entry;
import dev.zenith.objectstore.s3.S3ObjectStore;
import dev.zenith.objectstore.transfer.Content;
import dev.zenith.objectstore.transfer.TransferSettings;
import dev.zenith.objectstore.transfer.Uploader;
import dev.zenith.testkit.S3ProxyServer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.zenith.objectstore.TestStores.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * GC of a shared remote on a real S3Proxy: it deletes what no snapshot version lists once older than the grace, keeps
 * what one lists (a replaced version's too), deletes nothing while a push's mark is there, and a GC's mark is what a
 * push waits on.
 */
@Tag("s3")
class RemoteGcTest {
    /** S3Proxy's object times have whole seconds. */
    private static final Duration GRACE = Duration.ofSeconds(1);
    private static final S3ProxyServer s3 = TestStores.s3();

    @Test
    void deletesOnlyUnlistedOldBlobsAndNothingWhileAPushRuns() throws Exception {
        try (S3ObjectStore store = TestStores.open(s3, "s3://bucket/remote-gc-" + System.nanoTime());
             Uploader up = new Uploader(store, TransferSettings.defaults())) {
            SnapshotCatalogue catalogue = new SnapshotCatalogue(store, Duration.ofMillis(300));
            List<Entry> first = upload(up, "1");
            catalogue.publish(Snapshots.manifest("main@s", first, "a@host"), false);
            List<Entry> second = upload(up, "2");
            catalogue.publish(Snapshots.manifest("main@s", second, "a@host"), true); // replaces the first version
            Entry orphan = await(up.upload(Content.of("left by a cancelled push".getBytes()), Map.of()));

            RemoteGc gc = new RemoteGc(store, "gc@host");
            RemoteGc.Report young = gc.run(Duration.ofHours(1));
            assertEquals(0, young.blobsDeleted(), young.toString());
            assertEquals(1, young.blobsKeptYoung(), young.toString());

            Thread.sleep(GRACE.toMillis() + 1500);
            try (ActivityMarks.Mark push = ActivityMarks.begin(store, ActivityMarks.Kind.PUSH, "b@host")) {
                RemoteGc.Report during = gc.run(GRACE);
                assertEquals(1, during.pushesUnderWay(), during.toString());
                assertEquals(0, during.blobsDeleted(), during.toString());
                assertTrue(await(store.head(orphan.key())).isPresent(), "a push may rely on it");
                assertTrue(await(store.list(ActivityMarks.PREFIX)).stream().noneMatch(o -> o.key().contains("gc-")),
                        "the GC's own mark is gone when it ends");
            }
            RemoteGc.Report r = gc.run(GRACE);
            assertEquals(0, r.pushesUnderWay(), r.toString());
            assertEquals(1, r.blobsDeleted(), r.toString());
            assertFalse(await(store.head(orphan.key())).isPresent());
            for (Entry e : concat(first, second)) {
                assertTrue(await(store.head(e.key())).isPresent(), e.key() + " is listed by a version of main@s");
            }
            assertEquals(List.of(), await(store.list(ActivityMarks.PREFIX)), "no marks are left");
        }
    }

    @Test
    void aPushSeesAGcUnderWayAndAGcSeesAPush() throws Exception {
        try (S3ObjectStore store = TestStores.open(s3, "s3://bucket/remote-gc-marks-" + System.nanoTime());
             ActivityMarks.Mark gc = ActivityMarks.begin(store, ActivityMarks.Kind.GC, "gc@host");
             ActivityMarks.Mark push = ActivityMarks.begin(store, ActivityMarks.Kind.PUSH, "a@host")) {
            assertEquals(1, ActivityMarks.live(store, ActivityMarks.Kind.GC, push).size());
            assertEquals(1, ActivityMarks.live(store, ActivityMarks.Kind.PUSH, gc).size());
            assertEquals(0, ActivityMarks.live(store, ActivityMarks.Kind.PUSH, push).size(), "its own mark is not another's");
            assertFalse(push.lapsed());
        }
    }

    private static List<Entry> upload(Uploader up, String salt) throws Exception {
        List<Entry> out = new ArrayList<>();
        for (Snapshots.Spec s : Snapshots.specs(salt)) {
            out.add(await(up.upload(Content.of(s.content().getBytes()), s.labels())));
        }
        return out;
    }

    private static List<Entry> concat(List<Entry> a, List<Entry> b) {
        List<Entry> out = new ArrayList<>(a);
        out.addAll(b);
        return out;
    }
}
