package dev.zenith.server.remote;

import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.testkit.S3ProxyExtension;
import dev.zenith.testkit.S3ProxyServer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The pulling daemon killed with -9 in the middle of a pull: after its restart nothing of the snapshot is visible (no
 * snapshot, no pg); with one of its staged objects torn (as a power cut can leave them: they are not synced) and
 * pulled again, the pull fetches only what the first attempt had not, completes, and the branch of
 * it dumps as the pushing daemon did at the snapshot.
 */
@Tag("pg")
@Tag("s3")
class SnapshotPullInterruptedTest {
    private static final Pattern OBJECTS = Pattern.compile("\\((\\d+) objects\\)");
    @RegisterExtension
    final S3ProxyExtension proxy = new S3ProxyExtension("bucket");
    DaemonFixture a;
    DaemonFixture b;

    @AfterEach
    void cleanUp() throws Exception {
        if (a != null) {
            a.close();
        }
        if (b != null) {
            b.close();
        }
    }

    @Test
    void aPullKilledHalfwayShowsNothingAndCompletesWhenPulledAgain() throws Exception {
        S3ProxyServer s3 = proxy.server();
        a = new DaemonFixture().startInProcess();
        b = new DaemonFixture();
        b.jvmOptions.addAll(s3.credentialOptions());
        b.startProcess();
        JsonObject remote = SnapshotPushPullTest.s3Remote(s3, "killed-pull");
        a.ok(201, "PUT", "/remotes", remote.encode());
        b.ok(201, "PUT", "/remotes", remote.encode());
        int port = a.createPg("main").getInteger("port");
        // enough data that the pull takes seconds: the kill must land while it downloads
        a.pgbench(port, "-i", "-s", "10", "-q");
        a.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@s").encode());
        String state = a.psql(port, SnapshotPushPullTest.STATE);
        String dump = SnapshotPushPullTest.dump(a, port);
        SnapshotPushPullTest.push(a, "main@s");

        String job = pullAsync();
        JsonObject seen = b.awaitJson(job, j -> j.getString("phase").startsWith("pulling") && j.getLong("done_bytes") > 0
                && j.getLong("done_bytes") > j.getLong("total_bytes") / 4 || !"running".equals(j.getString("state")));
        assertEquals("running", seen.getString("state"), "the pull must still run when the daemon is killed: " + seen.encode());
        assertTrue(seen.getLong("done_bytes") < seen.getLong("total_bytes"), seen.encode());
        int objectsAtFirst = objects(seen);
        b.killProcess();
        tearLargestStagedObject();

        b.startProcess();
        assertEquals(new JsonArray(), b.ok(200, "GET", "/snapshots", null), "no half-pulled snapshot");
        assertEquals(new JsonArray(), b.ok(200, "GET", "/pgs", null));

        JsonObject again = b.awaitJson(pullAsync(), j -> !"running".equals(j.getString("state")));
        assertEquals("succeeded", again.getString("state"), again.encode());
        int pulling = again.getJsonArray("phases").stream().map(Object::toString).filter(p -> p.startsWith("pulling"))
                .mapToInt(p -> objects(new JsonObject().put("phase", p))).findFirst().orElseThrow();
        assertTrue(pulling < objectsAtFirst, "the second pull fetched " + pulling + " of " + objectsAtFirst
                + " objects: what the killed one had is not fetched again; " + again.encode());
        int copy = ((JsonObject) b.ok(201, "PUT", "/pgs", new JsonObject().put("name", "copy").put("snapshot", "main@s")
                .encode())).getInteger("port");
        assertEquals(state, b.psql(copy, SnapshotPushPullTest.STATE));
        assertEquals(dump, SnapshotPushPullTest.dump(b, copy), "the branch dumps as A did at the snapshot");
        Path pulls = b.home.resolve("pulls");
        try (var left = Files.list(pulls)) {
            assertEquals(List.of(), left.toList(), "the staging of a completed pull is removed");
        }
    }

    /**
     * What a power cut can leave of a staged object (they are not synced as they arrive): its name, half its bytes.
     * The next pull must not trust it for being there.
     */
    private void tearLargestStagedObject() throws Exception {
        Path staging;
        try (var dirs = Files.list(b.home.resolve("pulls"))) {
            staging = dirs.findFirst().orElseThrow();
        }
        Path largest;
        try (var blobs = Files.list(staging)) {
            largest = blobs.filter(p -> Files.isRegularFile(p) && !p.getFileName().toString().endsWith(".part"))
                    .max(Comparator.comparingLong(p -> p.toFile().length())).orElseThrow();
        }
        byte[] bytes = Files.readAllBytes(largest);
        Files.write(largest, Arrays.copyOf(bytes, bytes.length / 2));
    }

    private String pullAsync() throws Exception {
        return b.startJob("POST", "/remotes/team/snapshots/main%40s/actions", new JsonObject().put("action", "pull"));
    }

    private static int objects(JsonObject job) {
        Matcher m = OBJECTS.matcher(job.getString("phase"));
        assertTrue(m.find(), job.encode());
        return Integer.parseInt(m.group(1));
    }
}
