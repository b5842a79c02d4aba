package dev.zenith.server.offload;

import dev.zenith.objectstore.Futures;
import dev.zenith.objectstore.format.ObjectNames;
import dev.zenith.objectstore.lease.LeaseRecord;
import dev.zenith.objectstore.lease.LeaseSettings;
import dev.zenith.testkit.PgCluster;
import dev.zenith.testkit.S3ProxyExtension;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * S3 unreachable past the lease's local validity, then back while the lease record in S3 still counts as
 * held (validity ends {@code ttl - clockSkew} after the last renewal, the record {@code ttl + clockSkew} after
 * it): the daemon takes its own prefix again. It used to refuse itself ("in use by zenith pid &lt;itself&gt;")
 * and stop uploading for good.
 */
@Tag("s3")
class LeaseLapseTest {
    /** Valid 25 s locally after a renewal; the record counts as held 55 s after it: a 30 s window. */
    private static final LeaseSettings SHORT = new LeaseSettings(Duration.ofSeconds(40), Duration.ofSeconds(1),
            Duration.ofMillis(200), Duration.ofSeconds(15), true);

    @RegisterExtension
    final S3ProxyExtension proxy = new S3ProxyExtension("zen");

    @Test
    void s3BackWhileItsOwnLapsedLeaseStillLooksHeldIsTakenAgain() throws Exception {
        Path home = Files.createTempDirectory("zenith-lease-lapse-");
        S3Remote remote = S3Remote.parse("s3://zen/lapse", proxy.server().endpoint().toString(), null);
        String owner = "zenith pid " + ProcessHandle.current().pid() + " (test)";
        try (RemoteHome h = RemoteHome.open(remote, owner, SHORT, Duration.ofMinutes(10), OptionalLong.empty(), g -> { },
                HomeTakeover.of(home, OptionalLong.empty()))) {
            h.manifests.append(List.of(), List.of(), Map.of("written", "before the outage"));
            long before = h.lease.generation();

            proxy.server().stop();
            long stopped = System.nanoTime();
            while (h.lease.isValid()) {
                assertTrue(System.nanoTime() - stopped < 30_000_000_000L, "the lease never lapsed while S3 was down");
                Thread.sleep(100);
            }
            proxy.server().startAgain();
            // the case of the bug: the record in S3 still names this process as a holder others must wait for
            LeaseRecord held = LeaseRecord.decode("lease", Futures.join(h.store.get(ObjectNames.LEASE)).orElseThrow().bytes());
            assertTrue(held.expiresAt() + SHORT.clockSkew().toMillis() > System.currentTimeMillis() + 2000,
                    "S3Proxy took too long to come back for this test: the lapsed record " + held + " has run out");

            h.retake();
            assertTrue(h.lease.isValid(), "the lease taken again is valid");
            assertTrue(h.lease.generation() > before, "a new generation fences what the lapsed lease wrote");
            h.manifests.append(List.of(), List.of(), Map.of("written", "after the outage"));
            assertFalse(h.manifests.view().properties().isEmpty());
        } finally {
            PgCluster.deleteTree(home);
        }
    }
}
