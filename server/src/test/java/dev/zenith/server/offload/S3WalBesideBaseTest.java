package dev.zenith.server.offload;

import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.server.testing.PgbenchLedger;
import dev.zenith.testkit.PgCluster;
import dev.zenith.testkit.S3ProxyExtension;
import dev.zenith.wal.Lsn;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * WAL keeps going up to S3 while a base uploads (held here by {@link BaseHold}: a slow base made deterministic): its
 * {@code remote_lsn} follows the commits meanwhile, the base landing afterwards never moves it back, and after a kill -9
 * while a later base is held, a restore from the prefix (the earlier base and the WAL pieces shipped beside the held
 * one) holds every commit up to the {@code remote_lsn} the daemon reported. Most of its time is the restore's wait for
 * the dead daemon's lease (65 s: a restore never takes a lease over).
 */
@Tag("s3")
@Tag("pg")
@Tag("slow")
class S3WalBesideBaseTest {
    @RegisterExtension
    static final S3ProxyExtension proxy = new S3ProxyExtension("zen");

    @Test
    void walGoesUpWhileABaseIsHeldAndARestoreHoldsIt() throws Exception {
        Path work = DaemonFixture.reachableTempDir("zenith-s3-beside-");
        Path hold = work.resolve("hold-bases");
        try (DaemonFixture a = new DaemonFixture()) {
            a.jvmOptions.addAll(proxy.server().credentialOptions());
            a.jvmOptions.add("-D" + BaseHold.PROPERTY + "=" + hold);
            a.startProcess();
            try {
                holdAndRestore(a, hold, work);
            } finally {
                Files.deleteIfExists(hold); // else a failure's clean stop waits for the held base
            }
        } finally {
            PgCluster.deleteTree(work);
        }
    }

    private static void holdAndRestore(DaemonFixture a, Path hold, Path work) throws Exception {
        Phases phases = new Phases();
        S3TestStorages.attach(a, proxy.server(), "cloud", "beside");
        JsonObject pg = (JsonObject) a.ok(201, "PUT", "/pgs", new JsonObject().put("name", "main").put("storage_name", "cloud").encode());
        int port = pg.getInteger("port");
        String timeline = pg.getString("timeline_id");
        a.psql(port, PgbenchLedger.SETUP);
        a.awaitJson("/storages/cloud", j -> !j.getJsonObject("offload").getBoolean("base_pending"));

        phases.end("setup");
        // a base held: WAL written meanwhile goes up all the same
        String before = holdNextBase(a, hold, "main@held");
        List<Lsn> seen = new CopyOnWriteArrayList<>();
        try (RemoteLsnSampler sampler = new RemoteLsnSampler(a, timeline, seen)) {
            PgbenchLedger bench = new PgbenchLedger(a, work.resolve("bench1"));
            bench.start(port, 4, 6);
            bench.await();
            Lsn written = Lsn.parse(a.psql(port, "SELECT pg_current_wal_flush_lsn()"));
            awaitRemote(a, timeline, written);
            assertEquals(before, base(a), "the base was held all along");
            assertTrue(Files.exists(hold));
        }
        long advances = seen.stream().distinct().count() - 1;
        System.out.println("remote_lsn advanced " + advances + " times while the base was held: " + seen.stream().distinct().toList());
        assertTrue(advances >= 2, "WAL went up every interval beside the base, not once: " + seen.stream().distinct().toList());

        phases.end("held");
        // the held base lands: what the prefix holds of the WAL never moves back
        Lsn shipped = S3StorageRestoreTest.remoteLsn(a, "cloud", timeline);
        Files.delete(hold);
        JsonObject landed = a.awaitJson("/storages/cloud", j -> !before.equals(j.getJsonObject("offload").getString("base")));
        assertFalse(S3StorageRestoreTest.remoteLsnIn(landed, timeline).isBefore(shipped), landed.encode());
        a.psql(port, "INSERT INTO ledger (client) SELECT 2000 FROM generate_series(1, 100)");
        awaitRemote(a, timeline, Lsn.parse(a.psql(port, "SELECT pg_current_wal_flush_lsn()")));

        phases.end("landed");
        // a later base held when the daemon dies: the prefix has the landed base and the WAL shipped beside the held one
        String landedBase = holdNextBase(a, hold, "main@held2");
        S3StorageRestoreTest.Killed killed = S3StorageRestoreTest.killAfterPgbench(a, port, timeline, work);
        assertFalse(a.log().contains("base " + heldBaseId(a) + " is no longer held"), "the base was held at the kill");
        assertEquals(landedBase, killed.shown().getJsonObject("offload").getString("base"), killed.shown().encode());

        phases.end("killed");
        // the cache is lost; the same home restarts and restores it from the prefix once the dead daemon's lease ran out
        Files.delete(hold);
        PgCluster.deleteTree(a.home.resolve("s3-cache").resolve("cloud"));
        a.startProcess();
        int restored = a.awaitJson("/pgs/main", j -> "running".equals(j.getString("status"))).getInteger("port");
        killed.assertBack(a, restored);
        assertEquals("100", a.psql(restored, "SELECT count(*) FROM ledger WHERE client = 2000"));
        phases.end("restored");
        a.amcheck(restored, "--all", "--install-missing");
        phases.end("amcheck");
        System.out.println("phases (s): " + phases);
    }

    /** Creates the hold file and a snapshot (a new document: a base at once), waits until that base is held; the prefix's base before it. */
    private static String holdNextBase(DaemonFixture a, Path hold, String snapshot) throws Exception {
        String before = base(a);
        int held = count(a.log(), " is held while ");
        Files.writeString(hold, "");
        a.ok(201, "PUT", "/snapshots", new JsonObject().put("name", snapshot).encode());
        long t0 = System.nanoTime();
        while (count(a.log(), " is held while ") == held) {
            assertTrue(System.nanoTime() - t0 < 120_000_000_000L, "no base was taken for " + snapshot);
            Thread.sleep(100);
        }
        assertEquals(before, base(a));
        return before;
    }

    /** The id of the base the log last said is held. */
    private static String heldBaseId(DaemonFixture a) {
        String log = a.log();
        int at = log.lastIndexOf(" is held while ");
        String line = log.substring(log.lastIndexOf("base ", at) + "base ".length(), at);
        assertNotEquals("", line);
        return line;
    }

    private static int count(String text, String what) {
        int n = 0;
        for (int i = text.indexOf(what); i >= 0; i = text.indexOf(what, i + 1)) {
            n++;
        }
        return n;
    }

    private static String base(DaemonFixture a) throws Exception {
        return ((JsonObject) a.ok(200, "GET", "/storages/cloud", null)).getJsonObject("offload").getString("base");
    }

    /** Waits (3 minutes at most: a loaded machine) until S3 holds the timeline's WAL up to {@code written}. */
    private static void awaitRemote(DaemonFixture a, String timeline, Lsn written) throws Exception {
        long t0 = System.nanoTime();
        while (S3StorageRestoreTest.remoteLsn(a, "cloud", timeline).isBefore(written)) {
            assertTrue(System.nanoTime() - t0 < 180_000_000_000L, "S3 never got the WAL up to " + written + ": "
                    + ((JsonObject) a.ok(200, "GET", "/storages/cloud", null)).getJsonObject("offload").encode());
            Thread.sleep(100);
        }
    }

    /** Seconds each phase of the test took (for trimming it). */
    private static final class Phases {
        private final StringBuilder took = new StringBuilder();
        private long since = System.nanoTime();

        void end(String phase) {
            long now = System.nanoTime();
            took.append(took.isEmpty() ? "" : ", ").append(phase).append(' ').append((now - since) / 1_000_000_000L);
            since = now;
        }

        @Override
        public String toString() {
            return took.toString();
        }
    }

    /** Samples a timeline's {@code remote_lsn} every 100 ms into a list, until closed. */
    private static final class RemoteLsnSampler implements AutoCloseable {
        private volatile boolean sampling = true;
        private final Thread thread;

        RemoteLsnSampler(DaemonFixture a, String timeline, List<Lsn> into) {
            thread = new Thread(() -> {
                while (sampling) {
                    try {
                        into.add(S3StorageRestoreTest.remoteLsn(a, "cloud", timeline));
                        Thread.sleep(100);
                    } catch (Exception e) {
                        return;
                    }
                }
            }, "remote-lsn-sampler");
            thread.start();
        }

        @Override
        public void close() throws InterruptedException {
            sampling = false;
            thread.join();
        }
    }
}
