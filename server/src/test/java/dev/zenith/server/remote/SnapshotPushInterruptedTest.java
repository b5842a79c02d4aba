package dev.zenith.server.remote;

import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.testkit.S3ProxyExtension;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A daemon killed with -9 in the middle of a push: the remote shows nothing of that snapshot (its manifest is
 * written last); pushed again, it completes, sending only what the first attempt had not, and another daemon
 * pulls and branches it.
 */
@Tag("pg")
@Tag("s3")
class SnapshotPushInterruptedTest {
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
    void aPushKilledHalfwayShowsNothingAndCompletesWhenPushedAgain() throws Exception {
        a = new DaemonFixture();
        a.jvmOptions.addAll(proxy.server().credentialOptions());
        a.startProcess();
        b = new DaemonFixture().startInProcess();
        JsonObject remote = SnapshotPushPullTest.s3Remote(proxy.server(), "killed");
        a.ok(201, "PUT", "/remotes", remote.encode());
        b.ok(201, "PUT", "/remotes", remote.encode());
        int port = a.createPg("main").getInteger("port");
        // enough WAL that the push takes seconds: the kill must land while it sends
        a.pgbench(port, "-i", "-s", "10", "-q");
        a.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@s").encode());
        String state = a.psql(port, SnapshotPushPullTest.STATE);

        String job = a.startJob("POST", "/snapshots/main%40s/actions", new JsonObject().put("action", "push").put("remote", "team"));
        JsonObject seen = a.awaitJson(job, j -> j.getString("phase").startsWith("pushing") && j.getLong("done_bytes") > 0
                && j.getLong("done_bytes") > j.getLong("total_bytes") / 4 || !"running".equals(j.getString("state")));
        assertEquals("running", seen.getString("state"), "the push must still run when the daemon is killed: " + seen.encode());
        assertTrue(seen.getLong("done_bytes") < seen.getLong("total_bytes"), seen.encode());
        a.killProcess();
        assertEquals(new JsonArray(), b.ok(200, "GET", "/remotes/team/snapshots", null), "no half snapshot on the remote");

        a.startProcess();
        JsonObject pushed = SnapshotPushPullTest.push(a, "main@s");
        assertTrue(pushed.getLong("bytes_skipped") > 0, "what the killed push sent is not sent again: " + pushed.encode());
        assertEquals(List.of("main@s"), ((JsonArray) b.ok(200, "GET", "/remotes/team/snapshots", null)).stream()
                .map(o -> ((JsonObject) o).getString("name")).toList());
        SnapshotPushPullTest.pull(b, "main@s");
        int copy = ((JsonObject) b.ok(201, "PUT", "/pgs", new JsonObject().put("name", "copy").put("snapshot", "main@s")
                .encode())).getInteger("port");
        assertEquals(state, b.psql(copy, SnapshotPushPullTest.STATE));
    }
}
