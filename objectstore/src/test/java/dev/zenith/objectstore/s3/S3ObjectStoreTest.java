package dev.zenith.objectstore.s3;

import dev.zenith.objectstore.ObjectInfo;
import dev.zenith.objectstore.ObjectStoreException;
import dev.zenith.objectstore.PendingUpload;
import dev.zenith.objectstore.TestStores;
import dev.zenith.objectstore.UploadedPart;
import dev.zenith.testkit.S3ProxyServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

import static dev.zenith.objectstore.TestStores.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The object store calls against a real S3Proxy, including the faults the SDK turns into exceptions. */
class S3ObjectStoreTest {
    private static S3ProxyServer s3;

    @BeforeAll
    static void start() throws Exception {
        s3 = S3ProxyServer.start("bucket", "faulty");
    }

    @AfterAll
    static void stop() {
        s3.close();
    }

    @Test
    void putGetHeadListDeleteUnderAPrefix() throws Exception {
        try (S3ObjectStore store = TestStores.open(s3, "s3://bucket/team/dev/")) {
            byte[] a = random(100_000, 1);
            await(store.put("blobs/aa/one", a));
            await(store.put("blobs/ab/two", new byte[0]));
            await(store.put("other", new byte[]{1}));

            assertArrayEquals(a, await(store.get("blobs/aa/one")).orElseThrow().bytes());
            // the server holds exactly our bytes: no aws-chunked framing or checksum trailer stored with them
            assertArrayEquals(a, Files.readAllBytes(s3.objectFile("bucket", "team/dev/blobs/aa/one")));
            ObjectInfo info = await(store.head("blobs/aa/one")).orElseThrow();
            assertEquals(100_000, info.size());
            assertFalse(info.etag().contains("\""));

            List<ObjectInfo> listed = await(store.list("blobs/"));
            assertEquals(List.of("blobs/aa/one", "blobs/ab/two"), listed.stream().map(ObjectInfo::key).toList());
            assertEquals(0, listed.get(1).size());

            assertTrue(await(store.get("missing")).isEmpty());
            assertTrue(await(store.head("missing")).isEmpty());
            await(store.delete("blobs/aa/one"));
            await(store.delete("blobs/aa/one")); // deleting twice is fine
            assertTrue(await(store.head("blobs/aa/one")).isEmpty());
        }
    }

    @Test
    void listingFollowsContinuationPages() throws Exception {
        try (S3ObjectStore store = TestStores.open(s3, "s3://bucket/many")) {
            List<CompletableFuture<Void>> puts = new ArrayList<>();
            for (int i = 0; i < 1010; i++) { // S3 lists at most 1000 keys a page
                puts.add(store.put(String.format("k/%05d", i), new byte[]{(byte) i}));
            }
            await(CompletableFuture.allOf(puts.toArray(CompletableFuture[]::new)));
            List<ObjectInfo> all = await(store.list("k/"));
            assertEquals(1010, all.size());
            assertEquals("k/01009", all.get(1009).key());
        }
    }

    @Test
    void multipartUploadResumesFromItsListedParts() throws Exception {
        try (S3ObjectStore store = TestStores.open(s3, "s3://bucket/mp")) {
            byte[] data = random(11 << 20, 2);
            int part = 5 << 20;
            String id = await(store.startMultipart("big"));
            String e1 = await(store.uploadPart("big", id, 1, data, 0, part));
            assertEquals(List.of(id), await(store.pendingUploads("big")).stream().map(PendingUpload::uploadId).toList());
            List<UploadedPart> parts = await(store.listParts("big", id));
            assertEquals(List.of(new UploadedPart(1, e1, part)), parts);
            String e2 = await(store.uploadPart("big", id, 2, data, part, part));
            String e3 = await(store.uploadPart("big", id, 3, data, 2 * part, data.length - 2 * part));
            await(store.completeMultipart("big", id, List.of(e1, e2, e3)));
            assertArrayEquals(data, await(store.get("big")).orElseThrow().bytes());
            assertTrue(await(store.pendingUploads("big")).isEmpty());

            String aborted = await(store.startMultipart("gone"));
            await(store.abortMultipart("gone", aborted));
            assertTrue(await(store.pendingUploads("gone")).isEmpty());
        }
    }

    @Test
    void conditionalWritesAsThisServerHonoursThem() throws Exception {
        try (S3ObjectStore store = TestStores.open(s3, "s3://bucket/cond")) {
            assertTrue(await(store.putIfAbsent("lease", new byte[]{1})));
            boolean second = await(store.putIfAbsent("lease", new byte[]{2}));
            byte[] now = await(store.get("lease")).orElseThrow().bytes();
            // Whatever the server does with If-None-Match, its answer must match what it stored.
            assertEquals(second ? 2 : 1, now[0]);
            String etag = await(store.head("lease")).orElseThrow().etag();
            assertTrue(await(store.putIfMatch("lease", new byte[]{3}, etag)));
            boolean stale = await(store.putIfMatch("lease", new byte[]{4}, etag));
            assertEquals(stale ? 4 : 3, await(store.get("lease")).orElseThrow().bytes()[0]);
            System.out.println("S3Proxy honours If-None-Match: " + !second + ", If-Match: " + !stale);
        }
    }

    @Test
    void wrongCredentialsAreAccessDeniedNotRetryable() throws Exception {
        S3Settings wrong = TestStores.settings(s3, "s3://bucket/x").withCredentials(s3.accessKey(), "not-the-secret");
        try (S3ObjectStore store = S3ObjectStore.open(wrong)) {
            ObjectStoreException e = assertThrows(ObjectStoreException.class, () -> await(store.put("k", new byte[1])));
            assertEquals(ObjectStoreException.Kind.ACCESS_DENIED, e.kind(), e.getMessage());
            assertFalse(e.retryable());
            assertTrue(e.getMessage().contains("put k at s3://bucket/x (" + s3.endpoint()), e.getMessage());
        }
    }

    @Test
    void missingBucketIsNamed() throws Exception {
        try (S3ObjectStore store = TestStores.open(s3, "s3://no-such-bucket/x")) {
            ObjectStoreException e = assertThrows(ObjectStoreException.class, () -> await(store.put("k", new byte[1])));
            assertEquals(ObjectStoreException.Kind.NO_SUCH_BUCKET, e.kind(), e.getMessage());
            e = assertThrows(ObjectStoreException.class, () -> await(store.list("")));
            assertEquals(ObjectStoreException.Kind.NO_SUCH_BUCKET, e.kind(), e.getMessage());
        }
    }

    @Test
    void serverErrorsAndAStoppedServerAreRetryable() throws Exception {
        try (S3ObjectStore store = TestStores.open(s3, "s3://faulty/x")) {
            await(store.put("before", new byte[]{1}));
            Assumptions.assumeTrue(s3.canFailWrites(), "chattr +i not honoured here");
            s3.failWrites("faulty", true);
            try {
                ObjectStoreException e = assertThrows(ObjectStoreException.class, () -> await(store.put("during", new byte[]{1})));
                assertEquals(ObjectStoreException.Kind.UNAVAILABLE, e.kind(), e.getMessage());
                assertTrue(e.getMessage().contains("HTTP 500"), e.getMessage());
            } finally {
                s3.failWrites("faulty", false);
            }
            s3.stop();
            try {
                ObjectStoreException e = assertThrows(ObjectStoreException.class, () -> await(store.get("before")));
                assertEquals(ObjectStoreException.Kind.UNAVAILABLE, e.kind(), e.getMessage());
                assertTrue(e.retryable());
            } finally {
                s3.startAgain();
            }
            assertArrayEquals(new byte[]{1}, await(store.get("before")).orElseThrow().bytes());
        }
    }

    static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }
}
