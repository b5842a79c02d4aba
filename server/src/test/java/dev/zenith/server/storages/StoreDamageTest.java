package dev.zenith.server.storages;

import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.server.testing.RawPageClient;
import dev.zenith.server.testing.WalServiceClients;
import dev.zenith.storage.image.ImageManifest;
import dev.zenith.storage.image.ManifestCodec;
import dev.zenith.storage.lmdb.Keys;
import dev.zenith.storage.lmdb.StoredBytes;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A byte flipped in a storage's LMDB file while the daemon is down, as a disk flips one: nothing built
 * from it comes up or is sent. pg create --snapshot, pg start, base backups, pg_receivewal and the page
 * service's GetPage each fail with an error naming what is damaged (storage, table, timeline, key or LSN).
 * And a compute whose
 * PostgreSQL stops replaying short of its target (WAL it refuses though the store's checks pass) is
 * stopped and reported as failed, not as created.
 */
@Tag("pg")
class StoreDamageTest {
    DaemonFixture d;
    WalServiceClients clients;
    Path work;

    @BeforeEach
    void start() throws Exception {
        d = new DaemonFixture().startInProcess();
        clients = new WalServiceClients(d);
        work = DaemonFixture.reachableTempDir("damage-");
    }

    @AfterEach
    void stop() throws Exception {
        d.close();
        PgCluster.deleteTree(work);
    }

    private Path store() {
        return d.home.resolve("storages/local");
    }

    /** main with a table t of some MB, a snapshot main@s of it; returns main's JSON. */
    private JsonObject mainWithSnapshot(int rows) throws Exception {
        JsonObject pg = d.createPg("main");
        d.psql(pg.getInteger("port"), "CREATE TABLE t AS SELECT g, repeat(md5(g::text), 8) AS v FROM generate_series(1, " + rows + ") g");
        d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@s").encode());
        return pg;
    }

    private Lsn snapshotLsn() throws Exception {
        return Lsn.parse(((JsonObject) d.ok(200, "GET", "/snapshots/main@s", null)).getString("lsn"));
    }

    private HttpResponse<String> createBranch(String name) throws Exception {
        return d.request("PUT", "/pgs", new JsonObject().put("name", name).put("snapshot", "main@s").encode());
    }

    /** Runs a client tool that must fail; returns its output. */
    private String failing(ProcessBuilder pb) throws Exception {
        Process p = pb.redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        int rc = p.waitFor();
        assertNotEquals(0, rc, "it should have failed: " + out);
        return "exit " + rc + ": " + out;
    }

    private ProcessBuilder baseBackupOf(String pg, Path into) {
        ProcessBuilder pb = clients.tool("pg_basebackup", "-D", into.toString(), "-X", "fetch");
        pb.environment().put("PGOPTIONS", "-c zenith.pg=" + pg);
        return pb;
    }

    @Test
    void aFlippedByteInStoredWalIsServedToNobody() throws Exception {
        // Killed, not stopped: a clean stop would make main's pages an image past the damage; killed, all the
        // store has is initdb's image and the WAL since, which the branch and main's rebuild both replay.
        d.close();
        d = new DaemonFixture().startProcess();
        clients = new WalServiceClients(d);
        JsonObject main = mainWithSnapshot(20_000);
        TimelineId tl = TimelineId.parse(main.getString("timeline_id"));
        Lsn s = snapshotLsn();
        d.killProcess();
        DaemonFixture.killCompute(main);
        // A chunk the branch at main@s replays (between initdb's image and s), well inside the WAL.
        List<byte[]> chunks = StoredBytes.keys(store(), "wal_chunks", tl.toBytes());
        byte[] victim = chunks.stream().filter(k -> Keys.lsnAt(k, Keys.TL).isBefore(s.plus(-200_000))).reduce((a, b) -> b)
                .orElseThrow();
        Lsn at = Keys.lsnAt(victim, Keys.TL);
        StoredBytes.flipInValue(store(), StoredBytes.value(store(), "wal_chunks", victim));
        d.startProcess();
        String named = "wal_chunks entry of timeline " + tl + " at " + at;

        HttpResponse<String> created = createBranch("b");
        assertNotEquals(201, created.statusCode(), created.body());
        assertTrue(created.body().contains(named) && created.body().contains(store().toString()), created.body());
        HttpResponse<String> b = d.request("GET", "/pgs/b", null);
        assertTrue(b.statusCode() == 404 || new JsonObject(b.body()).getString("status").equals("stopped"), b.body());

        assertNotEquals("running", d.pg("main").getString("status"), "main's rebuild met the damage too");
        HttpResponse<String> started = d.request("POST", "/pgs/main/actions", new JsonObject().put("action", "start").encode());
        assertEquals(500, started.statusCode(), started.body());
        assertTrue(started.body().contains(named), started.body());

        String backup = failing(baseBackupOf("main", work.resolve("backup")));
        assertTrue(backup.contains(named), backup);

        // pg_receivewal from the first segment on (a .partial of full size makes it start there).
        Path received = Files.createDirectories(work.resolve("received"));
        Files.write(received.resolve("000000010000000000000001.partial"), new byte[16 << 20]);
        String streamed = failing(clients.tool("pg_receivewal", "-D", received.toString(), "--no-loop",
                "-E", s.toString()));
        assertTrue(streamed.contains(named), streamed);
        assertTrue(d.log().contains(named), "the daemon's log names it too");
    }

    @Test
    void aFlippedByteInAStoredPageOrImageFileStopsRebuildsAndBackups() throws Exception {
        JsonObject main = mainWithSnapshot(20_000);
        TimelineId tl = TimelineId.parse(main.getString("timeline_id"));
        String[] path = d.psql(main.getInteger("port"), "SELECT pg_relation_filepath('t')").split("/");
        RelTag t = RelTag.of(1663, Integer.parseInt(path[1]), Integer.parseInt(path[2]), ForkNumber.MAIN);
        d.inProcessShutdownKeepingHome(); // main stops cleanly: its pages become an image
        Path intact = work.resolve("data.mdb");
        Files.copy(store().resolve("data.mdb"), intact);

        byte[] page = StoredBytes.firstKey(store(), "pages", Arrays.copyOf(Keys.page(tl, t, 1, Lsn.INVALID), Keys.BLOCK_PREFIX), 100);
        StoredBytes.flipInValue(store(), StoredBytes.value(store(), "pages", page));
        PgCluster.deleteTree(Path.of(main.getString("pgdata"))); // so that its next start rebuilds it
        d.startInProcess();
        String named = t.path() + " block 1, version at " + Keys.lsnAt(page, Keys.BLOCK_PREFIX);
        HttpResponse<String> started = d.request("POST", "/pgs/main/actions", new JsonObject().put("action", "start").encode());
        assertEquals(500, started.statusCode(), started.body());
        assertTrue(started.body().contains("pages entry of timeline " + tl) && started.body().contains(named), started.body());
        assertEquals("stopped", d.pg("main").getString("status"));
        String backup = failing(baseBackupOf("main", work.resolve("backup")));
        assertTrue(backup.contains(named), backup);
        // Nor does the page service send it: its GetPage answer is an error naming the damage.
        String tenant = ((JsonObject) d.ok(200, "GET", "/storages/local", null)).getString("tenant_id");
        try (RawPageClient c = RawPageClient.login(d.pgPort, WalServiceClients.USER, clients.password())) {
            c.openStream("v3", tenant, tl.toString());
            c.sendCopy(RawPageClient.getPageV3(1, RawPageClient.LATEST, 0, 1663, Integer.parseInt(path[1]),
                    Integer.parseInt(path[2]), 0, 1));
            String error = RawPageClient.cstring(RawPageClient.v3Answer(c.copyData(), 103, 1));
            assertTrue(error.contains(named) && error.contains("pages entry of timeline " + tl), error);
            c.sendCopy(RawPageClient.v3(1, 2, RawPageClient.LATEST, 0, 13).putInt(1663).putInt(Integer.parseInt(path[1]))
                    .putInt(Integer.parseInt(path[2])).put((byte) 0).array());
            assertTrue(RawPageClient.v3Answer(c.copyData(), 101, 2).getInt(38) > 1, "the stream goes on");
        }

        d.inProcessShutdownKeepingHome();
        Files.copy(intact, store().resolve("data.mdb"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        ImageManifest image = ManifestCodec.decode(StoredBytes.value(store(), "images",
                StoredBytes.keys(store(), "images", tl.toBytes()).stream().reduce((a, b) -> b).orElseThrow()));
        var xact = image.files().stream().filter(f -> f.path().equals("pg_xact/0000")).findFirst().orElseThrow();
        StoredBytes.flipInValue(store(), StoredBytes.value(store(), "blobs", java.util.HexFormat.of().parseHex(xact.sha256())));
        d.startInProcess();
        started = d.request("POST", "/pgs/main/actions", new JsonObject().put("action", "start").encode());
        assertEquals(500, started.statusCode(), started.body());
        // the start builds from the image, or from an anchor (since page versions), whose pg_xact is the same content
        assertTrue((started.body().contains("file pg_xact/0000 of the image at " + image.lsn())
                || started.body().contains("file pg_xact/0000 of the anchor at "))
                && started.body().contains("blobs entry of file content with sha-256 " + xact.sha256()), started.body());
    }

    @Test
    void aComputeThatStopsReplayingShortOfItsTargetIsNotCreated() throws Exception {
        mainWithSnapshot(60_000); // more than a WAL segment, so the branch replays across a segment boundary
        JsonObject main = d.pg("main");
        TimelineId tl = TimelineId.parse(main.getString("timeline_id"));
        Lsn s = snapshotLsn();
        Lsn boundary = Lsn.of(0x2000000L);
        assertTrue(s.isAfter(boundary.plus(1 << 20)), "the snapshot should lie past " + boundary + ": " + s);
        d.inProcessShutdownKeepingHome();
        // The next segment's long page header names another database system. The store's checks do not look at
        // that (its own checksum is rewritten to match), but PostgreSQL ends its recovery there.
        byte[] chunk = StoredBytes.keys(store(), "wal_chunks", tl.toBytes()).stream()
                .filter(k -> !Keys.lsnAt(k, Keys.TL).isAfter(boundary)).reduce((a, b) -> b).orElseThrow();
        int offset = (int) boundary.minus(Keys.lsnAt(chunk, Keys.TL));
        StoredBytes.rewrite(store(), "wal_chunks", chunk, wal -> wal[offset + 24] ^= 0x01); // xlp_sysid
        d.startInProcess();

        HttpResponse<String> created = createBranch("b");
        assertEquals(500, created.statusCode(), created.body());
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("replayed the store's WAL only up to (\\S+), not to (\\S+) ")
                .matcher(created.body());
        assertTrue(m.find(), created.body());
        // The target is the end of the branch's stored WAL: the snapshot's point or just past it.
        assertTrue(Lsn.parse(m.group(1)).isBefore(boundary.plus(1)) && !Lsn.parse(m.group(2)).isBefore(s),
                "snapshot at " + s + ": " + created.body());
        JsonObject b = d.pg("b");
        assertEquals("stopped", b.getString("status"));
    }

    @Test
    void aDamagedPgRecordMakesItsStorageUnavailableNotTheDaemon() throws Exception {
        d.createPg("main");
        d.inProcessShutdownKeepingHome();
        byte[] key = "pg/main".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        StoredBytes.flipInValue(store(), StoredBytes.value(store(), "meta", key));
        d.startInProcess();
        JsonObject storage = (JsonObject) d.ok(200, "GET", "/storages/local", null);
        assertEquals("unavailable", storage.getString("status"), storage.encode());
        assertTrue(storage.getString("error").contains("meta entry of document 'pg/main'"), storage.encode());
        HttpResponse<String> pg = d.request("GET", "/pgs/main", null);
        assertEquals(409, pg.statusCode(), pg.body());
    }
}
