package dev.zenith.server.offload;

import dev.zenith.objectstore.lease.LeaseSettings;
import dev.zenith.objectstore.log.ManifestLog;
import dev.zenith.objectstore.log.ManifestView;
import dev.zenith.objectstore.s3.S3ObjectStore;
import dev.zenith.server.domain.ConflictException;
import dev.zenith.storage.Store;
import dev.zenith.testkit.PgCluster;
import dev.zenith.testkit.S3ProxyExtension;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A restore downloads the prefix's base while the lease is still being taken (the bucket probe and the lease's
 * settle were seconds of waiting before the download began), and keeps it only when the manifest read under the
 * lease names that same base. Real S3Proxy; the storages are bare stores (no PostgreSQL needed).
 */
@Tag("s3")
class BaseAheadTest {
    private static final LeaseSettings QUICK = new LeaseSettings(Duration.ofSeconds(60), Duration.ofSeconds(10),
            Duration.ofMillis(200), Duration.ofSeconds(5), true);
    /** A settle long enough that a download begun before the lease is seen while the lease is still being taken. */
    private static final LeaseSettings SLOW_SETTLE = new LeaseSettings(Duration.ofSeconds(60), Duration.ofSeconds(10),
            Duration.ofSeconds(20), Duration.ofSeconds(5), true);
    private static final OffloadSettings OFFLOAD = new OffloadSettings(Duration.ofMillis(200), 16 << 20, Duration.ofMillis(100),
            Duration.ofMinutes(2), Duration.ofMinutes(10), Duration.ofMinutes(10), 128, 0);
    private static final String DOC = "test/restored";

    @RegisterExtension
    final S3ProxyExtension proxy = new S3ProxyExtension("zen");

    private final Path work = createWork();

    private static Path createWork() {
        try {
            return Files.createTempDirectory("zenith-base-ahead-");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @AfterEach
    void clean() throws Exception {
        PgCluster.deleteTree(work);
    }

    private JsonObject remote(String prefix) {
        return S3Remote.parse("s3://zen/" + prefix, proxy.server().endpoint().toString(), null).toJson();
    }

    private static Path cacheOf(Path home) {
        return home.resolve("s3-cache").resolve("cloud");
    }

    private static Offloads offloads(Path home, LeaseSettings lease) throws java.io.IOException {
        Files.createDirectories(home);
        return new Offloads(home.resolve("s3-scratch"), OFFLOAD, lease);
    }

    /** Writes {@code value} as a document of storage cloud and waits until the prefix holds it (a new base). */
    private static void writeAndSync(Offloads o, Store s, String value) {
        s.documents().put(DOC, value.getBytes(StandardCharsets.UTF_8));
        assertTrue(o.sync("cloud", Duration.ofMinutes(2)), "the prefix did not catch up with the store");
    }

    private static String doc(Store s) {
        return new String(s.documents().get(DOC).orElseThrow(), StandardCharsets.UTF_8);
    }

    @Test
    void theBaseIsDownloadedWhileTheLeaseIsStillBeingTaken() throws Exception {
        Path homeA = work.resolve("a");
        Offloads a = offloads(homeA, QUICK);
        Store s = a.open("cloud", remote("ahead"), cacheOf(homeA), true);
        writeAndSync(a, s, "written by the first home");
        a.closing("cloud");
        s.close();

        Path homeB = work.resolve("b");
        Path ahead = BaseAhead.directory(cacheOf(homeB));
        AtomicLong tookLeaseAt = new AtomicLong();
        Handler leaseTaken = new Handler() {
            @Override
            public void publish(LogRecord r) {
                if (String.valueOf(r.getMessage()).startsWith("took the lease")) {
                    tookLeaseAt.compareAndSet(0, System.nanoTime());
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        Logger leaseLog = Logger.getLogger(dev.zenith.objectstore.lease.Lease.class.getName());
        leaseLog.addHandler(leaseTaken);
        Offloads b = offloads(homeB, SLOW_SETTLE);
        try {
            CompletableFuture<Store> restoring = CompletableFuture.supplyAsync(() -> b.open("cloud", remote("ahead"), cacheOf(homeB), true));
            long seenAt = 0;
            while (!restoring.isDone()) {
                if (Files.exists(ahead.resolve("data.mdb")) || Files.exists(ahead.resolve("data.mdb.restoring"))) {
                    seenAt = System.nanoTime();
                    break;
                }
                Thread.sleep(20);
            }
            Store restored = restoring.get(3, TimeUnit.MINUTES);
            try {
                assertNotEquals(0, seenAt, "the base was not downloaded ahead of the lease");
                assertTrue(tookLeaseAt.get() == 0 || seenAt < tookLeaseAt.get(),
                        "the base download began only after the lease was taken");
                assertEquals("written by the first home", doc(restored));
                assertFalse(Files.exists(ahead), "the download ahead left its directory behind");
            } finally {
                b.closing("cloud");
                restored.close();
            }
        } finally {
            leaseLog.removeHandler(leaseTaken);
        }
    }

    /** What a test does while a first home holds storage cloud on {@code s3://zen/PREFIX}, its document synced. */
    private interface WhileHeld {
        void run(Offloads a, Store s) throws Exception;
    }

    private void whileHeld(String prefix, String value, WhileHeld body) throws Exception {
        Path homeA = work.resolve("a");
        Offloads a = offloads(homeA, QUICK);
        Store s = a.open("cloud", remote(prefix), cacheOf(homeA), true);
        try {
            writeAndSync(a, s, value);
            body.run(a, s);
        } finally {
            a.closing("cloud");
            s.close();
        }
    }

    @Test
    void aBaseReplacedBeforeTheLeaseWasTakenIsNotKept() throws Exception {
        whileHeld("changed", "first", (a, s) -> {
            ManifestView first;
            ManifestView second;
            Path cacheB = cacheOf(work.resolve("b"));
            S3Remote r = S3Remote.fromJson(remote("changed"));
            try (var store = S3ObjectStore.open(r.settings())) {
                first = ManifestLog.read(store);
                try (BaseAhead ahead = BaseAhead.start(r, cacheB)) {
                    for (long t0 = System.nanoTime(); !Files.exists(BaseAhead.directory(cacheB).resolve("data.mdb")); Thread.sleep(20)) {
                        assertTrue(System.nanoTime() - t0 < TimeUnit.MINUTES.toNanos(2), "the base was never downloaded ahead");
                    }
                    writeAndSync(a, s, "second"); // another holder publishes a new base before "our" lease is taken
                    second = ManifestLog.read(store);
                    assertNotEquals(RemoteNames.currentBase(first), RemoteNames.currentBase(second));
                    Files.createDirectories(cacheB);
                    assertFalse(ahead.moveInto(second, cacheB), "a base the prefix no longer names was kept");
                    assertFalse(Files.exists(cacheB.resolve("data.mdb")));
                    assertTrue(ahead.moveInto(first, cacheB), "the base the manifest names was not kept");
                }
                assertFalse(Files.exists(BaseAhead.directory(cacheB)), "the download ahead left its directory behind");
            }
            try (Store kept = Store.open(cacheB)) {
                assertEquals("first", doc(kept), "the kept file is not the base it was downloaded for");
            }
        });
    }

    @Test
    void aPrefixInUseLeavesNoDownloadBehind() throws Exception {
        whileHeld("held", "held by the first home", (a, s) -> {
            Path homeB = work.resolve("b");
            Offloads b = offloads(homeB, QUICK);
            ConflictException refused = assertThrows(ConflictException.class, () -> b.open("cloud", remote("held"), cacheOf(homeB), true));
            assertTrue(refused.getMessage().contains("in use by another running daemon"), refused.getMessage());
            assertFalse(Files.exists(BaseAhead.directory(cacheOf(homeB))), "the refused attach left its download ahead behind");
            assertFalse(Files.exists(cacheOf(homeB).resolve("data.mdb")), "the refused attach left a cache behind");
        });
    }
}
