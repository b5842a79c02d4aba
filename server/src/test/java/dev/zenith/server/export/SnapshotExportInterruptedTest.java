package dev.zenith.server.export;

import dev.zenith.server.testing.DaemonFixture;

import dev.zenith.testkit.PgCluster;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A daemon killed (-9) in the middle of a dump export: the export's half-written directory and its
 * temporary read-only pg are gone once the daemon is back, and the target never appeared.
 */
@Tag("pg")
class SnapshotExportInterruptedTest {
    DaemonFixture d;
    Path work;

    @AfterEach
    void cleanUp() throws Exception {
        if (d != null) {
            d.close();
        }
        if (work != null) {
            PgCluster.deleteTree(work);
        }
    }

    @Test
    void aDaemonKilledMidExportLeavesNothingOnceBack() throws Exception {
        d = new DaemonFixture().startProcess();
        work = DaemonFixture.reachableTempDir("export-killed-");
        int port = d.createPg("main").getInteger("port");
        // enough rows that pg_dump takes seconds: the kill must land while the export runs, however idle the machine
        d.pgbench(port, "-i", "-s", "10", "-q");
        d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@s").encode());

        Path target = work.resolve("dumps");
        HttpResponse<String> accepted = d.unauthenticated("POST", "/snapshots/main%40s/actions",
                new JsonObject().put("action", "export").put("to", target.toString()).put("format", "dump").encode(),
                "Authorization", "Bearer " + d.apiToken(), "Content-Type", "application/json", "Prefer", "respond-async");
        assertEquals(202, accepted.statusCode(), accepted.body());
        String job = accepted.headers().firstValue("location").orElseThrow();
        // Killed while pg_dump copies the big database: the half-written directory and the temporary pg both exist.
        JsonObject seen = d.awaitJson(job, j -> j.getString("phase").startsWith("dumping database postgres")
                || !"running".equals(j.getString("state")));
        assertEquals("running", seen.getString("state"), "the export must still run when the daemon is killed: " + seen.encode());
        assertEquals(1, leftovers().size(), "the export is written under a temporary name: " + listing());
        d.killProcess();

        d.startProcess();
        assertEquals(List.of(), leftovers());
        assertTrue(Files.notExists(target));
        assertEquals(List.of("main"), ((JsonArray) d.ok(200, "GET", "/pgs", null)).stream()
                .map(o -> ((JsonObject) o).getString("name")).toList(), "the export's read-only pg is destroyed");
        assertEquals(List.of(), listing(d.home.resolve("exports")));

        // and an export works as ever
        JsonObject done = (JsonObject) d.ok(201, "POST", "/snapshots/main%40s/actions",
                new JsonObject().put("action", "export").put("to", target.toString()).put("format", "dump").encode());
        assertEquals(1, done.getJsonArray("databases").size(), done.encode());
        assertEquals(List.of("globals.sql", "postgres.dump"), listing(target));
    }

    private List<String> leftovers() throws Exception {
        return listing().stream().filter(n -> n.contains(".zenith-export-")).toList();
    }

    private List<String> listing() throws Exception {
        return listing(work);
    }

    private static List<String> listing(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
