package dev.zenith.objectstore.s3;

import dev.zenith.objectstore.ObjectInfo;
import dev.zenith.objectstore.ObjectStoreException;
import dev.zenith.objectstore.TestStores;
import dev.zenith.testkit.S3ProxyServer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
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
@Tag("s3")
class S3ObjectStoreTest {
    private static S3ProxyServer s3;

    @BeforeAll
    static void start() throws Exception {
        s3 = TestStores.s3();
        s3.createBucket("faulty");
    }

    @Test
    void theServerHoldsExactlyOurBytesUnderThePrefix() throws Exception {
        try (S3ObjectStore store = TestStores.open(s3, "s3://bucket/team/dev/")) {
            byte[] a = random(100_000, 1);
            await(store.put("blobs/aa/one", a));
            // no aws-chunked framing or checksum trailer stored with them
            assertArrayEquals(a, Files.readAllBytes(s3.objectFile("bucket", "team/dev/blobs/aa/one")));
            assertEquals(List.of("blobs/aa/one"), await(store.list("")).stream().map(ObjectInfo::key).toList());
        }
    }

    /**
     * Closing a store ends its connections, not I/O threads of its own: a client that made its own threads shut them
     * down with Netty's graceful shutdown, a fixed 2 s quiet period before close returned (each push, pull and remote
     * listing waited it out). 1.5 s leaves room for a loaded machine and stays below that floor.
     */
    @Test
    void closingAStoreDoesNotWaitForItsIoThreadsToGoQuiet() throws Exception {
        for (int round = 0; round < 2; round++) { // the second store reuses what the first left running
            S3ObjectStore store = TestStores.open(s3, "s3://bucket/close-" + round);
            await(store.put("k", random(1000, round)));
            assertEquals(1000, await(store.get("k")).orElseThrow().bytes().length);
            long t0 = System.nanoTime();
            store.close();
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(ms < 1500, "close took " + ms + " ms");
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
