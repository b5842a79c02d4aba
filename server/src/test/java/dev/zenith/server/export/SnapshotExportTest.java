package dev.zenith.server.export;

import dev.zenith.server.testing.CliRun;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.server.testing.WalServiceTestBase;

import dev.zenith.testkit.PgCluster;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URLEncoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code snapshot export}: a pgbench database snapshotted, then written on after the snapshot, exported as
 * a data directory, a tar and a tar.zst, each checked by pg_verifybackup and started by a vanilla
 * PostgreSQL 15 that answers with the data of the snapshot, not the later writes; as dumps restored into a
 * fresh vanilla cluster with the same contents; and bad requests refused with nothing written.
 */
@Tag("pg")
class SnapshotExportTest extends WalServiceTestBase {
    private static final String PGBENCH_STATE = "SELECT (SELECT count(*) || '/' || sum(abalance) FROM pgbench_accounts)"
            + " || ' ' || (SELECT count(*) || '/' || coalesce(sum(delta), 0) FROM pgbench_history)"
            + " || ' ' || (SELECT sum(tbalance) FROM pgbench_tellers)";

    private static final String ITEMS_STATE = "SELECT count(*) || ' ' || (SELECT pg_get_userbyid(datdba) FROM pg_database"
            + " WHERE datname = current_database()) || ' ' || md5(string_agg(name, ',' ORDER BY id)) FROM items";

    @Test
    void aBackupExportVerifiesAndStartsWithTheSnapshotsData() throws Exception {
        int port = d.createPg("main").getInteger("port");
        d.pgbench(port, "-i", "-s", "2", "-q");
        d.pgbench(port, "-c", "2", "-t", "300");
        String atSnapshot = d.psql(port, PGBENCH_STATE);
        d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@before").encode());
        d.pgbench(port, "-c", "2", "-t", "300"); // later writes, which no export of main@before may have
        assertNotEquals(atSnapshot, d.psql(port, PGBENCH_STATE));

        Path dir = work.resolve("dir");
        JsonObject e = export("main@before", dir, null);
        assertEquals("backup directory", e.getString("format"));
        assertStartsWithSnapshot(dir, atSnapshot);

        Path tar = work.resolve("backup.tar");
        export("main@before", tar, "backup");
        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(tar)),
                "only its owner reads a backup (it has the password hashes)");
        Path fromTar = extract(tar, "fromtar", List.of());
        assertStartsWithSnapshot(fromTar, atSnapshot);

        Path zst = work.resolve("backup.tar.zst");
        assertEquals("backup tar.zst", export("main@before", zst, null).getString("format"));
        assertTrue(Files.size(zst) < Files.size(tar) / 2, "zstd compresses: " + Files.size(zst) + " of " + Files.size(tar));
        Path fromZst = extract(zst, "fromzst", List.of("--zstd"));
        assertStartsWithSnapshot(fromZst, atSnapshot);
        assertNoLeftovers();
    }

    @Test
    void aSnapshotOfABranchExportsWithItsTimelineHistory() throws Exception {
        int port = d.createPg("main").getInteger("port");
        d.pgbench(port, "-i", "-s", "1", "-q");
        d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@base").encode());
        int branch = ((JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "b").put("snapshot", "main@base")
                .encode())).getInteger("port");
        d.pgbench(branch, "-c", "2", "-t", "200"); // on the branch's own PostgreSQL timeline
        String atSnapshot = d.psql(branch, PGBENCH_STATE);
        d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "b@x").encode());
        d.pgbench(branch, "-c", "2", "-t", "200");

        Path dir = work.resolve("branch");
        export("b@x", dir, null);
        assertTrue(listing(dir.resolve("pg_wal")).stream().anyMatch(n -> n.endsWith(".history")), listing(dir.resolve("pg_wal")).toString());
        assertStartsWithSnapshot(dir, atSnapshot);
    }

    @Test
    void aDumpExportRestoresIntoVanillaPostgres() throws Exception {
        int port = d.createPg("main").getInteger("port");
        d.pgbench(port, "-i", "-s", "1", "-q");
        d.pgbench(port, "-c", "2", "-t", "200");
        d.psql(port, "CREATE ROLE shopkeeper LOGIN");
        d.psql(port, "CREATE DATABASE \"shop/2\" OWNER shopkeeper");
        psqlIn(port, "shop/2", "CREATE TABLE items (id int PRIMARY KEY, name text);"
                + " INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 5000) g");
        String atSnapshot = d.psql(port, PGBENCH_STATE);
        String itemsAtSnapshot = psqlIn(port, "shop/2", ITEMS_STATE);
        d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@s1").encode());
        d.pgbench(port, "-c", "2", "-t", "200");
        psqlIn(port, "shop/2", "DELETE FROM items WHERE id % 3 = 0");

        Path dumps = work.resolve("dumps");
        Files.createDirectory(dumps); // an empty directory is a fine target
        JsonObject e = exportWatchingDumpProgress("main@s1", dumps);
        JsonArray databases = e.getJsonArray("databases");
        assertEquals(List.of("postgres", "shop/2"), databases.stream().map(o -> ((JsonObject) o).getString("database")).toList());
        assertTrue(Files.exists(dumps.resolve("globals.sql")));
        assertEquals(List.of("main"), ((JsonArray) d.ok(200, "GET", "/pgs", null)).stream()
                .map(o -> ((JsonObject) o).getString("name")).toList(), "the temporary read-only pg is gone");

        try (PgCluster vanilla = PgCluster.initdb().start()) {
            restore(vanilla, List.of("psql", "-X", "-q", "-f", dumps.resolve("globals.sql").toString(), "-d", "postgres"));
            restore(vanilla, List.of("pg_restore", "--exit-on-error", "-d", "postgres", dumps.resolve("postgres.dump").toString()));
            restore(vanilla, List.of("pg_restore", "--exit-on-error", "-C", "-d", "postgres",
                    dumps.resolve("shop%2F2.dump").toString()));
            assertEquals(atSnapshot, vanilla.psql(PGBENCH_STATE));
            assertEquals(itemsAtSnapshot, vanilla.psql("shop/2", ITEMS_STATE));
            assertTrue(itemsAtSnapshot.startsWith("5000 shopkeeper "), itemsAtSnapshot);
        }
        assertNoLeftovers();
    }

    @Test
    void badTargetsAndRequestsAreRefusedAndWriteNothing() throws Exception {
        d.createPg("main");
        d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@s").encode());
        Files.writeString(work.resolve("taken.tar"), "mine");
        Files.createDirectories(work.resolve("full"));
        Files.writeString(work.resolve("full/file"), "mine");

        refused(404, "main@nope", body(work.resolve("x.tar").toString(), null), "not found");
        refused(400, "main@s", body("relative/x.tar", null), "absolute");
        refused(400, "main@s", body(work.resolve("no/such/dir/x.tar").toString(), null), "does not exist");
        refused(409, "main@s", body(work.resolve("taken.tar").toString(), null), "exists");
        refused(409, "main@s", body(work.resolve("full").toString(), null), "not an empty directory");
        refused(409, "main@s", body(work.resolve("full").toString(), "dump"), "not an empty directory");
        refused(409, "main@s", body(d.home.resolve("x.tar").toString(), null), "ZENITH_HOME");
        refused(409, "main@s", body(d.home.resolve("pgs").resolve("main").resolve("y").toString(), null), "inside");
        refused(400, "main@s", body(work.resolve("x").toString(), "zip"), "unknown export format");
        refused(400, "main@s", new JsonObject().put("action", "explode").put("to", work.resolve("x").toString()), "unknown action");
        refused(400, "main@s", new JsonObject().put("action", "export"), "to");
        refused(400, "main@s", body(work.resolve("x").toString(), null).put("extra", 1), "extra");

        assertEquals("mine", Files.readString(work.resolve("taken.tar")));
        assertEquals("mine", Files.readString(work.resolve("full/file")));
        assertEquals(List.of("full", "taken.tar"), listing(work));
        assertTrue(Files.notExists(d.home.resolve("x.tar")));
    }

    @Test
    void theCliExportsWithProgressLinesAndSaysWhyItRefuses() throws Exception {
        int port = d.createPg("main").getInteger("port");
        d.pgbench(port, "-i", "-s", "1", "-q");
        String atSnapshot = d.psql(port, PGBENCH_STATE);
        System.setProperty("zenith.home", d.home.toString());
        try {
            assertEquals(0, cli("snapshot", "create", "main@s").code());
            d.pgbench(port, "-c", "1", "-t", "100");
            Path tar = work.resolve("s.tar.zst");
            CliRun exported = cli("snapshot", "export", "main@s", "--to", tar.toString());
            assertEquals(0, exported.code(), exported.err());
            assertTrue(exported.out().startsWith("snapshot main@s (") && exported.out().contains(") exported as backup tar.zst to "
                    + tar), exported.out());
            assertTrue(exported.err().contains("zenith: export main@s: laying out the base backup")
                    && exported.err().contains("zenith: export main@s: writing the base backup ("), "a line per phase: " + exported.err());
            assertStartsWithSnapshot(extract(tar, "s", List.of("--zstd")), atSnapshot);

            Path dumps = work.resolve("dumps");
            CliRun dumped = cli("snapshot", "export", "main@s", "--format", "dump", "--to", dumps.toString());
            assertEquals(0, dumped.code(), dumped.err());
            assertTrue(dumped.err().contains("zenith: export main@s: dumping database postgres"), dumped.err());
            assertEquals(List.of("globals.sql", "postgres.dump"), listing(dumps));

            CliRun again = cli("snapshot", "export", "main@s", "--to", tar.toString());
            assertEquals(1, again.code(), again.out());
            assertTrue(again.err().contains("exists; give a new path"), again.err());
            CliRun badFormat = cli("snapshot", "export", "main@s", "--to", work.resolve("d").toString(), "--format", "zip");
            assertTrue(badFormat.code() != 0 && badFormat.err().contains("unknown export format 'zip'"), badFormat.err());
            assertTrue(Files.notExists(work.resolve("d")));
        } finally {
            System.clearProperty("zenith.home");
        }
    }

    private static CliRun cli(String... argv) {
        return CliRun.inProcess(argv);
    }

    private String psqlIn(int port, String database, String sql) throws IOException {
        return d.client(port, List.of(d.pg.bin("psql").toString(), "-X", "-w", "-h", "127.0.0.1", "-p", Integer.toString(port),
                "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql)).trim();
    }

    private static JsonObject body(String to, String format) {
        JsonObject b = new JsonObject().put("action", "export").put("to", to);
        return format == null ? b : b.put("format", format);
    }

    private void refused(int status, String snapshot, JsonObject body, String says) throws Exception {
        HttpResponse<String> r = d.request("POST", "/snapshots/" + URLEncoder.encode(snapshot, StandardCharsets.UTF_8)
                + "/actions", body.encode());
        assertEquals(status, r.statusCode(), r.body());
        assertTrue(r.body().contains(says), r.body());
    }

    private JsonObject export(String snapshot, Path to, String format) throws Exception {
        return (JsonObject) d.ok(201, "POST", "/snapshots/" + URLEncoder.encode(snapshot, StandardCharsets.UTF_8) + "/actions",
                body(to.toString(), format).encode());
    }

    /**
     * A dump export as a job, polled closely: while database postgres is dumped, the job counts the bytes of
     * its tables (pgbench's, some MiB); answers the export.
     */
    private JsonObject exportWatchingDumpProgress(String snapshot, Path to) throws Exception {
        HttpResponse<String> accepted = d.unauthenticated("POST", "/snapshots/" + URLEncoder.encode(snapshot, StandardCharsets.UTF_8)
                        + "/actions", body(to.toString(), "dump").encode(), "Authorization", "Bearer " + d.apiToken(),
                "Content-Type", "application/json", "Prefer", "respond-async");
        assertEquals(202, accepted.statusCode(), accepted.body());
        String location = accepted.headers().firstValue("location").orElseThrow();
        long seenTotal = 0;
        while (true) {
            JsonObject job = (JsonObject) d.ok(200, "GET", location, null);
            if ("dumping database postgres".equals(job.getString("phase"))) {
                seenTotal = Math.max(seenTotal, job.getLong("total_bytes"));
                assertTrue(job.getLong("done_bytes") <= job.getLong("total_bytes"), job.encode());
            }
            if (!"running".equals(job.getString("state"))) {
                assertEquals("succeeded", job.getString("state"), job.encode());
                assertTrue(seenTotal > 1 << 20, "the dump of postgres counts its tables' bytes: " + seenTotal);
                return job.getJsonObject("result");
            }
            Thread.sleep(5);
        }
    }

    /** pg_verifybackup passes, and PostgreSQL 15 started on the backup holds the snapshot's data. */
    private void assertStartsWithSnapshot(Path backup, String atSnapshot) throws Exception {
        String verified = clients.offline("pg_verifybackup", backup.toString());
        assertTrue(verified.contains("successfully verified"), verified);
        int port = PgCluster.freePort();
        Path log = work.resolve(backup.getFileName() + ".log");
        clients.startServer(backup, port, log);
        try {
            assertEquals(atSnapshot, d.psql(port, PGBENCH_STATE), Files.readString(log));
            d.amcheck(port, "--all", "--install-missing");
        } finally {
            clients.stopServer(backup);
        }
    }

    private Path extract(Path tar, String name, List<String> options) throws IOException {
        Path dir = Files.createDirectory(work.resolve(name));
        List<String> cmd = new ArrayList<>(List.of("tar"));
        cmd.addAll(options);
        cmd.addAll(List.of("-xf", tar.toString(), "-C", dir.toString()));
        PgCluster.ProcessRunner.run(cmd, work);
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        return dir;
    }

    private void restore(PgCluster vanilla, List<String> tool) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(vanilla.installation().bin(tool.get(0)).toString(), "-h", "127.0.0.1",
                "-p", Integer.toString(vanilla.port()), "-U", "postgres"));
        cmd.addAll(tool.subList(1, tool.size()));
        PgCluster.ProcessRunner.run(cmd, work);
    }

    /** No temporary export (".NAME.zenith-export-...") stays behind. */
    private void assertNoLeftovers() throws IOException {
        assertTrue(listing(work).stream().noneMatch(n -> n.contains(".zenith-export-")), listing(work).toString());
    }

    private static List<String> listing(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
