package dev.zenith.server.jobs;

import dev.zenith.server.remote.SnapshotPushPullTest;
import dev.zenith.server.testing.CliRun;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.testkit.PgCluster;
import dev.zenith.testkit.S3ProxyExtension;
import dev.zenith.testkit.S3ProxyServer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code POST /jobs/ID/actions {"action":"cancel"}} and {@code zenith job cancel ID} on an export, an import, a push and a
 * pull, each caught while it moves bytes: the job ends "cancelled" and nothing of it is left (no snapshot, no remote
 * snapshot, no export file, no storage, no temporary files); an ended job is a 409, an unknown one a 404.
 */
@Tag("pg")
@Tag("s3")
@TestMethodOrder(MethodOrderer.OrderAnnotation.class) // the pushes' tests want a remote without main@s
class JobCancelTest {
    @RegisterExtension
    static final S3ProxyExtension proxy = new S3ProxyExtension("bucket");
    static DaemonFixture a;
    static DaemonFixture b;
    static Path work;

    @BeforeAll
    static void start() throws Exception {
        a = new DaemonFixture().startInProcess();
        b = new DaemonFixture().startInProcess();
        work = DaemonFixture.reachableTempDir("cancel-");
        JsonObject remote = SnapshotPushPullTest.s3Remote(proxy.server(), "cancel-" + System.nanoTime());
        a.ok(201, "PUT", "/remotes", remote.encode());
        b.ok(201, "PUT", "/remotes", remote.encode());
        int port = a.createPg("main").getInteger("port");
        a.pgbench(port, "-i", "-s", "10", "-q"); // enough bytes that each transfer takes a while
        a.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@s").encode());
    }

    @AfterAll
    static void stop() throws Exception {
        System.clearProperty("zenith.home");
        a.close();
        b.close();
        PgCluster.deleteTree(work);
    }

    @Test
    @Order(1)
    void aPushCancelledShowsNothingOnTheRemote() throws Exception {
        String job = a.startJob("POST", "/snapshots/main%40s/actions", new JsonObject().put("action", "push").put("remote", "team"));
        cancelWhile(a, job, j -> j.getString("phase").startsWith("pushing"));
        assertEquals(new JsonArray(), b.ok(200, "GET", "/remotes/team/snapshots", null), "no snapshot on the remote");
        assertNothingIn(a.home.resolve("tmp"), "push-");
        refusesToCancelAgain(a, job);
    }

    @Test
    @Order(3)
    void aPullCancelledLeavesNothingHere() throws Exception {
        SnapshotPushPullTest.push(a, "main@s");
        String job = b.startJob("POST", "/remotes/team/snapshots/main%40s/actions", new JsonObject().put("action", "pull"));
        cancelWhile(b, job, j -> j.getString("phase").startsWith("pulling"));
        assertEquals(new JsonArray(), b.ok(200, "GET", "/snapshots", null), "no snapshot pulled");
        assertNothingIn(b.home.resolve("pulls"), "");
        refusesToCancelAgain(b, job);
    }

    @Test
    @Order(4)
    void anExportCancelledLeavesNoFile() throws Exception {
        Path dir = Files.createDirectories(work.resolve("export-" + System.nanoTime()));
        String job = a.startJob("POST", "/snapshots/main%40s/actions", new JsonObject().put("action", "export")
                .put("to", dir.resolve("main.tar").toString()));
        cancelWhile(a, job, j -> j.getString("phase").startsWith("writing the base backup"));
        assertNothingIn(dir, "");
    }

    @Test
    @Order(5)
    void anImportCancelledLeavesNoStorage() throws Exception {
        Path dir = Files.createDirectories(work.resolve("import-" + System.nanoTime()));
        Path tar = dir.resolve("main.tar");
        a.ok(201, "POST", "/snapshots/main@s/actions", new JsonObject().put("action", "export").put("to", tar.toString()).encode());
        String job = b.startJob("POST", "/imports", new JsonObject().put("snapshot", "imp@s").put("storage", "imp")
                .put("from", tar.toString()));
        cancelWhile(b, job, j -> j.getString("phase").startsWith("unpacking"));
        assertEquals(new JsonArray(), b.ok(200, "GET", "/snapshots", null));
        assertFalse(((JsonArray) b.ok(200, "GET", "/storages", null)).encode().contains("\"imp\""), "no storage imp");
        assertNothingIn(b.home.resolve("storages"), ".import-");
        assertNothingIn(b.home.resolve("tmp"), "import-");
    }

    @Test
    @Order(6)
    void unknownJobsAndActionsAreRefused() throws Exception {
        HttpResponse<String> unknown = a.request("POST", "/jobs/424242/actions", new JsonObject().put("action", "cancel").encode());
        assertEquals(404, unknown.statusCode(), unknown.body());
        String listing = a.startJob("GET", "/remotes/team/snapshots", null);
        a.awaitJson(listing, j -> !"running".equals(j.getString("state")));
        HttpResponse<String> badAction = a.request("POST", listing + "/actions", new JsonObject().put("action", "pause").encode());
        assertEquals(400, badAction.statusCode(), badAction.body());
        refusesToCancelAgain(a, listing);

        System.setProperty("zenith.home", a.home.toString());
        CliRun none = CliRun.inProcess("job", "cancel", "424242");
        assertTrue(none.code() != 0 && none.err().contains("not found"), none.toString());
        String id = listing.substring(listing.lastIndexOf('/') + 1);
        CliRun ended = CliRun.inProcess("job", "cancel", id);
        assertTrue(ended.code() != 0 && ended.err().contains("has ended"), ended.toString());
        CliRun list = CliRun.inProcess("job", "list");
        assertEquals(0, list.code(), list.toString());
        assertTrue(list.out().contains("GET /remotes/team/snapshots"), list.out());
    }

    /**
     * A push whose remote does not answer tries again until it is cancelled (its mark, then every upload, retried until
     * closed): a cancel ends it within moments (it used to wait for good on uploads retrying with every place in flight).
     * Two kinds of silence: a port nobody listens on (each try is refused at once), and a server that accepts
     * connections but never reads or answers (each of the SDK's tries waits out its I/O timeout: the cancel used to wait
     * for the mark's write, minutes).
     */
    @Test
    @Order(7)
    void aPushToARemoteThatDoesNotAnswerIsCancelled() throws Exception {
        pushAndCancel("refusing", PgCluster.freePort());
        try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) { // never accepts
            pushAndCancel("silent", silent.getLocalPort());
        }
    }

    private void pushAndCancel(String remote, int port) throws Exception {
        a.ok(201, "PUT", "/remotes", new JsonObject().put("name", remote).put("url", "s3://bucket/" + remote)
                .put("endpoint", "http://127.0.0.1:" + port).put("region", S3ProxyServer.REGION).encode());
        String job = a.startJob("POST", "/snapshots/main%40s/actions", new JsonObject().put("action", "push").put("remote", remote));
        Thread.sleep(5000); // what it sends fails or goes unanswered, and is tried again
        assertEquals("running", ((JsonObject) a.ok(200, "GET", job, null)).getString("state"), "it waits for " + remote);
        HttpResponse<String> asked = a.request("POST", job + "/actions", new JsonObject().put("action", "cancel").encode());
        assertEquals(202, asked.statusCode(), asked.body());
        // within a minute, not the SDK's three 30-second I/O timeouts of one write the old code waited out (and more)
        JsonObject ended = null;
        for (long deadline = System.nanoTime() + 60_000_000_000L; ended == null && System.nanoTime() < deadline; Thread.sleep(100)) {
            JsonObject now = (JsonObject) a.ok(200, "GET", job, null);
            ended = "running".equals(now.getString("state")) ? null : now;
        }
        assertTrue(ended != null, "the push to " + remote + " still ran a minute after its cancel");
        assertEquals("cancelled", ended.getString("state"), ended.encode());
        assertNothingIn(a.home.resolve("tmp"), "push-");
    }

    /**
     * Remote GC: what a cancelled push left is deleted (grace 0s); a GC while a push runs deletes nothing of it (the
     * push's mark), so the push publishes and B pulls it whole; afterwards GC finds nothing unlisted to delete.
     */
    @Test
    @Order(8)
    void remoteGcDeletesWhatACancelledPushLeftAndNeverHarmsAPushUnderWay() throws Exception {
        JsonObject remote = SnapshotPushPullTest.s3Remote(proxy.server(), "gc-" + System.nanoTime()).put("name", "gcr");
        a.ok(201, "PUT", "/remotes", remote.encode());
        b.ok(201, "PUT", "/remotes", remote.encode());
        JsonObject push = new JsonObject().put("action", "push").put("remote", "gcr");
        cancelWhile(a, a.startJob("POST", "/snapshots/main%40s/actions", push), j -> j.getString("phase").startsWith("pushing"));
        System.setProperty("zenith.home", a.home.toString());
        CliRun unknown = CliRun.inProcess("remote", "gc", "nosuch", "--grace", "0s");
        assertTrue(unknown.code() != 0 && unknown.err().contains("no remote 'nosuch'") && unknown.out().isEmpty(), unknown.toString());
        CliRun badGrace = CliRun.inProcess("remote", "gc", "gcr", "--grace", "soon");
        assertTrue(badGrace.code() != 0 && badGrace.err().contains("a duration is a number and a unit") && badGrace.out().isEmpty(),
                badGrace.toString());
        CliRun young = CliRun.inProcess("remote", "gc", "gcr"); // the default grace (1d) keeps what the push just left
        assertEquals(0, young.code(), young.toString());
        assertTrue(young.out().matches("(?s)remote gcr: 0 objects deleted \\(0 bytes\\), [1-9]\\d* unlisted ones kept as younger"
                + " than the grace period\\s*"), young.out());
        // S3 times have one-second granularity: an object of the mark's own second is not older than it, even at grace 0s
        Thread.sleep(1100);
        CliRun first = CliRun.inProcess("remote", "gc", "gcr", "--grace", "0s", "--json");
        assertEquals(0, first.code(), first.toString());
        JsonObject firstReport = new JsonObject(first.out());
        assertEquals(0, firstReport.getInteger("pushes_under_way"), first.out());
        assertTrue(firstReport.getInteger("blobs_deleted") > 0, "the cancelled push's objects: " + first.out());
        assertEquals(0, gc(a).getInteger("blobs_deleted"), "the CLI's GC deleted them all");

        String job = a.startJob("POST", "/snapshots/main%40s/actions", push);
        JsonObject seen = a.awaitJson(job, j -> j.getString("phase").startsWith("pushing") && j.getLong("done_bytes") > 0
                || !"running".equals(j.getString("state")));
        assertEquals("running", seen.getString("state"), seen.encode());
        JsonObject during = gc(a);
        assertEquals(1, during.getInteger("pushes_under_way"), during.encode());
        assertEquals(0, during.getInteger("blobs_deleted"), during.encode());
        JsonObject pushed = a.awaitJson(job, j -> !"running".equals(j.getString("state")));
        assertEquals("succeeded", pushed.getString("state"), pushed.encode());

        JsonObject after = gc(a);
        assertEquals(0, after.getInteger("blobs_deleted"), "every object is listed by main@s: " + after.encode());
        assertTrue(after.getInteger("blobs_referenced") > 0, after.encode());
        b.ok(201, "POST", "/remotes/gcr/snapshots/main@s/actions", new JsonObject().put("action", "pull")
                .put("storage", "gcpulled").encode());
    }

    /**
     * {@code zenith job cancel --wait}: a push cancelled while its server hangs (S3Proxy frozen with SIGSTOP: it takes
     * connections and answers nothing) stops its uploads at once, then takes its mark off the remote, a call that waits
     * for the server (30 s of I/O timeout a try), not at a safe point; the CLI gives up waiting at its deadline and says
     * the cancel stays requested, and the job ends cancelled once the server answers again.
     */
    @Test
    @Order(9)
    void theCliStopsWaitingForACancelAtItsDeadline() throws Exception {
        JsonObject remote = SnapshotPushPullTest.s3Remote(proxy.server(), "frozen-" + System.nanoTime()).put("name", "frozen");
        a.ok(201, "PUT", "/remotes", remote.encode());
        String job = a.startJob("POST", "/snapshots/main%40s/actions", new JsonObject().put("action", "push").put("remote", "frozen"));
        JsonObject seen = a.awaitJson(job, j -> j.getString("phase").startsWith("pushing") && j.getLong("done_bytes") > 0
                || !"running".equals(j.getString("state")));
        assertEquals("running", seen.getString("state"), seen.encode());
        proxy.server().pause();
        try {
            System.setProperty("zenith.home", a.home.toString());
            long t0 = System.nanoTime();
            CliRun gaveUp = CliRun.inProcess("job", "cancel", job.substring(job.lastIndexOf('/') + 1), "--wait", "2");
            long waited = System.nanoTime() - t0;
            assertTrue(gaveUp.code() != 0 && gaveUp.err().contains("is still running 2 s after its cancel was asked")
                    && gaveUp.err().contains("it stays requested") && gaveUp.out().isEmpty(), gaveUp.toString());
            assertTrue(waited < java.util.concurrent.TimeUnit.SECONDS.toNanos(20), "it waited " + waited / 1_000_000 + " ms");
            assertEquals("running", ((JsonObject) a.ok(200, "GET", job, null)).getString("state"), "stuck in the call");
        } finally {
            proxy.server().resume();
        }
        JsonObject ended = a.awaitJson(job, j -> !"running".equals(j.getString("state")));
        assertEquals("cancelled", ended.getString("state"), "the cancel stayed requested: " + ended.encode());
        assertNothingIn(a.home.resolve("tmp"), "push-");
    }

    private static JsonObject gc(DaemonFixture d) throws Exception {
        return (JsonObject) d.ok(200, "POST", "/remotes/gcr/actions", new JsonObject().put("action", "gc").put("grace", "0s")
                .encode());
    }

    @Test
    @Order(2)
    void theCliCancelsAPush() throws Exception {
        String job = a.startJob("POST", "/snapshots/main%40s/actions", new JsonObject().put("action", "push").put("remote", "team")
                .put("force", true));
        a.awaitJson(job, j -> j.getString("phase").startsWith("pushing") || !"running".equals(j.getString("state")));
        System.setProperty("zenith.home", a.home.toString());
        CliRun cancelled = CliRun.inProcess("job", "cancel", job.substring(job.lastIndexOf('/') + 1));
        JsonObject ended = a.awaitJson(job, j -> !"running".equals(j.getString("state")));
        assertEquals(0, cancelled.code(), cancelled + " " + ended.encode());
        assertTrue(cancelled.out().contains("cancelled"), cancelled.out());
        assertEquals("cancelled", ended.getString("state"), ended.encode());
    }

    /** Cancels the job once it is in the phase {@code during} and has moved bytes there; it must end cancelled. */
    static void cancelWhile(DaemonFixture d, String job, Predicate<JsonObject> during) throws Exception {
        JsonObject seen = d.awaitJson(job, j -> during.test(j) && j.getLong("done_bytes") > 0
                || !"running".equals(j.getString("state")));
        assertEquals("running", seen.getString("state"), "the job must still run when it is cancelled: " + seen.encode());
        HttpResponse<String> asked = d.request("POST", job + "/actions", new JsonObject().put("action", "cancel").encode());
        assertEquals(202, asked.statusCode(), asked.body());
        assertTrue(new JsonObject(asked.body()).getBoolean("cancel_requested"), asked.body());
        JsonObject ended = d.awaitJson(job, j -> !"running".equals(j.getString("state")));
        assertEquals("cancelled", ended.getString("state"), ended.encode());
    }

    static void refusesToCancelAgain(DaemonFixture d, String job) throws Exception {
        HttpResponse<String> again = d.request("POST", job + "/actions", new JsonObject().put("action", "cancel").encode());
        assertEquals(409, again.statusCode(), again.body());
        assertTrue(again.body().contains("has ended"), again.body());
    }

    /** No entry of {@code dir} (if it exists) starts with {@code prefix}. */
    static void assertNothingIn(Path dir, String prefix) throws Exception {
        if (!Files.isDirectory(dir)) {
            return;
        }
        try (var s = Files.list(dir)) {
            List<String> left = s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(prefix)).toList();
            assertEquals(List.of(), left, "left in " + dir);
        }
    }
}
