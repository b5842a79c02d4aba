package dev.zenith.server.api;

import dev.zenith.server.testing.CliRun;
import dev.zenith.server.testing.DaemonFixture;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;


import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The CLI against a real daemon: tables by default, the REST JSON with --json, errors on stderr. */
@Tag("pg")
public class CliTest {
    static DaemonFixture d;

    @BeforeAll
    static void start() throws Exception {
        d = new DaemonFixture().startInProcess();
        System.setProperty("zenith.home", d.home.toString());
    }

    @AfterAll
    static void stop() throws Exception {
        System.clearProperty("zenith.home");
        d.close();
    }

    private static CliRun cli(String... argv) {
        return CliRun.inProcess(argv);
    }

    @Test
    void pgLifecycleThroughTheCli() throws Exception {
        CliRun created = cli("pg", "create", "-n", "clipg", "--no-start");
        assertEquals(0, created.code(), created.err());
        assertTrue(created.out().contains("pg clipg created on storage local (stopped)"), created.out());

        CliRun list = cli("pg", "list");
        assertEquals(0, list.code());
        String[] lines = list.out().strip().split("\n");
        assertTrue(lines[0].matches("NAME\\s+STATUS\\s+ROLE\\s+PORT\\s+STORAGE\\s+LAST LSN\\s+SOURCE\\s+CREATED"), lines[0]);
        assertTrue(list.out().contains("clipg") && list.out().contains("stopped") && list.out().contains("primary"), list.out());

        CliRun json = cli("pg", "list", "--json");
        JsonArray arr = new JsonArray(json.out());
        assertEquals("clipg", arr.getJsonObject(0).getString("name"));

        CliRun started = cli("pg", "start", "-n", "clipg", "--json");
        assertEquals(0, started.code(), started.err());
        int port = new JsonObject(started.out()).getInteger("port");
        assertEquals("1", d.psql(port, "SELECT 1"));

        CliRun show = cli("pg", "show", "--name=clipg");
        assertTrue(show.out().contains("status:") && show.out().contains("running"), show.out());
        assertEquals(2, cli("pg", "destroy", "-n", "clipg").code(), "a running pg is destroyed only with --yes");
        CliRun stopped = cli("pg", "stop", "-n", "clipg");
        assertEquals(0, stopped.code(), stopped.err());
        assertTrue(stopped.out().contains("stopped"), stopped.out());
        assertEquals(new CliRun(0, "pg clipg destroyed\n", ""), cli("pg", "destroy", "-n", "clipg"));
    }

    @Test
    void aDaemonThatDoesNotAnswerIsReportedNotWaitedForForever() throws Exception {
        java.nio.file.Path home = java.nio.file.Files.createTempDirectory("zenith-stuck");
        try (java.net.ServerSocket stuck = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
            // a "daemon" that accepts connections and never answers, like one stopped with SIGSTOP
            java.nio.file.Files.writeString(home.resolve("daemon.json"), new JsonObject().put("pid", 1)
                    .put("http_host", "127.0.0.1").put("http_port", stuck.getLocalPort()).encode());
            System.setProperty("zenith.home", home.toString());
            System.setProperty("zenith.cliReadTimeoutMs", "1000");
            CliRun r = cli("pg", "list");
            assertEquals(1, r.code(), r.toString());
            assertTrue(r.err().contains("did not answer GET /pgs within 1000 ms; it may be stuck"), r.err());
            CliRun status = cli("status");
            assertEquals(1, status.code(), "a stuck daemon is not reported as not running: " + status);
            assertTrue(status.err().contains("did not answer GET /status"), status.err());
        } finally {
            System.setProperty("zenith.home", d.home.toString());
            System.clearProperty("zenith.cliReadTimeoutMs");
            dev.zenith.testkit.PgCluster.deleteTree(home);
        }
    }

    @Test
    void aStaleDaemonFileNamingAnotherHomesDaemonIsNotRunning() throws Exception {
        // A daemon of this home was killed with -9, and a daemon of another home took its port since.
        java.nio.file.Path home = java.nio.file.Files.createTempDirectory("zenith-stale");
        java.nio.file.Files.writeString(home.resolve("daemon.json"), new JsonObject().put("pid", 1)
                .put("http_host", "127.0.0.1").put("http_port", d.httpPort).encode());
        String before = d.ok(200, "GET", "/pgs", null).toString();
        try {
            System.setProperty("zenith.home", home.toString());
            CliRun status = cli("status");
            assertEquals(3, status.code(), status.toString());
            assertTrue(status.out().contains("zenith is not running (ZENITH_HOME=" + home), status.out());
            CliRun create = cli("pg", "create", "-n", "elsewhere", "--no-start");
            assertEquals(1, create.code(), create.toString());
            assertTrue(create.err().contains("is the zenith of ZENITH_HOME=" + d.home), create.err());
            CliRun stop = cli("stop");
            assertTrue(stop.out().contains("zenith is not running"), stop.toString());
            assertEquals(before, d.ok(200, "GET", "/pgs", null).toString()); // and the other daemon runs on, unchanged
        } finally {
            System.setProperty("zenith.home", d.home.toString());
            dev.zenith.testkit.PgCluster.deleteTree(home);
        }
    }

    @Test
    void errorsGoToStderrWithNonZeroExit() {
        CliRun missing = cli("pg", "show", "-n", "nope");
        assertEquals(1, missing.code());
        assertEquals("zenith: pg 'nope' not found (see: zenith pg list)\n", missing.err());
        assertEquals("", missing.out());

        CliRun bad = cli("pg", "create", "-n", "Bad Name");
        assertEquals(1, bad.code());
        assertTrue(bad.err().contains("must match"), bad.err());

        CliRun noName = cli("pg", "start");
        assertEquals(2, noName.code());
        assertTrue(noName.err().contains("missing pg name"), noName.err());
    }

    @Test
    void storagesAndStatus() {
        CliRun list = cli("storage", "list");
        assertTrue(list.out().contains("local") && list.out().contains("native"), list.out());
        assertTrue(list.out().contains("STATUS") && list.out().contains("available"), "a storage's status shows: " + list.out());
        CliRun status = cli("status");
        assertEquals(0, status.code(), status.err());
        assertTrue(status.out().contains("REST API:") && status.out().contains(":" + d.httpPort), status.out());
    }
}
