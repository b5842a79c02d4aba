package dev.zenith.server.remote;

import dev.zenith.objectstore.catalogue.ClusterFacts;
import dev.zenith.objectstore.catalogue.SnapshotCatalogue;
import dev.zenith.objectstore.catalogue.SnapshotManifest;
import dev.zenith.objectstore.catalogue.SnapshotRef;
import dev.zenith.objectstore.file.FileObjectStore;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.testkit.PgCluster;
import dev.zenith.testkit.S3ProxyExtension;
import dev.zenith.testkit.S3ProxyServer;
import dev.zenith.wal.Lsn;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two daemons with homes and ports of their own exchange snapshots through a remote (S3 on S3Proxy, and a
 * shared directory): A pushes a pgbench snapshot, B, which never saw A, pulls it and branches it: the branch
 * dumps as A did at the snapshot and pg_amcheck finds nothing. A writes more and pushes a later snapshot,
 * sending little more than the WAL written in between; B pulls it too and sees the change.
 */
@Tag("pg")
@Tag("s3")
public class SnapshotPushPullTest {
    static final String STATE = "SELECT (SELECT count(*) || '/' || sum(abalance) FROM pgbench_accounts)"
            + " || ' ' || (SELECT count(*) || '/' || coalesce(sum(delta), 0) FROM pgbench_history)";
    @RegisterExtension
    static final S3ProxyExtension proxy = new S3ProxyExtension("bucket");
    DaemonFixture a;
    DaemonFixture b;
    Path shared;

    @BeforeEach
    void startDaemons() throws Exception {
        a = new DaemonFixture().startInProcess();
        b = new DaemonFixture().startInProcess();
        shared = DaemonFixture.reachableTempDir("remote-");
    }

    @AfterEach
    void stopDaemons() throws Exception {
        a.close();
        b.close();
        PgCluster.deleteTree(shared);
    }

    public static JsonObject s3Remote(S3ProxyServer s3, String prefix) {
        return new JsonObject().put("name", "team").put("url", "s3://bucket/" + prefix)
                .put("endpoint", s3.endpoint().toString()).put("region", S3ProxyServer.REGION);
    }

    @Test
    void aSnapshotTravelsThroughS3AndALaterOneSendsOnlyWhatChanged() throws Exception {
        exchange(s3Remote(proxy.server(), "exchange-" + System.nanoTime()), true);
    }

    @Test
    void aSnapshotTravelsThroughASharedDirectory() throws Exception {
        exchange(new JsonObject().put("name", "team").put("url", "file://" + shared), false);
    }

    private void exchange(JsonObject remote, boolean again) throws Exception {
        a.ok(201, "PUT", "/remotes", remote.encode());
        b.ok(201, "PUT", "/remotes", remote.encode());
        int port = a.createPg("main").getInteger("port");
        a.pgbench(port, "-i", "-s", "2", "-q");
        a.pgbench(port, "-c", "2", "-t", "200");
        JsonObject s1 = (JsonObject) a.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@s1").encode());
        String stateAtS1 = a.psql(port, STATE);
        String dumpAtS1 = dump(a, port);

        JsonObject pushed = push(a, "main@s1");
        assertTrue(pushed.getLong("bytes_sent") > 0, pushed.encode());
        assertNoObjectHoldsThePassword(again ? proxy.server().dataDir() : shared, password(a, port));
        JsonArray listed = (JsonArray) b.ok(200, "GET", "/remotes/team/snapshots", null);
        assertEquals(List.of("main@s1"), listed.stream().map(o -> ((JsonObject) o).getString("name")).toList());

        String storage = null;
        if (!again) {
            recordAnotherGlibcCollation();
            // B's storage local holds a cluster of its own: the pull is refused there, and goes into a new storage
            b.createPg("own");
            HttpResponse<String> refused = b.request("POST", "/remotes/team/snapshots/main@s1/actions",
                    new JsonObject().put("action", "pull").encode());
            assertEquals(409, refused.statusCode(), refused.body());
            assertTrue(refused.body().contains("another cluster"), refused.body());
            assertEquals(new JsonArray(), b.ok(200, "GET", "/snapshots", null), "nothing named");
            storage = "shared";
        }
        JsonObject pulled = pull(b, "main@s1", storage);
        if (!again) {
            assertTrue(pulled.getJsonArray("warnings").encode().contains("database app of main@s1 sorts text with glibc 0.1"),
                    pulled.encode());
        }
        assertEquals(s1.getString("lsn"), pulled.getString("lsn"));
        if (again) {
            readOnlyPgsAtThePulledPointLogIn(stateAtS1);
        }
        int copy = ((JsonObject) b.ok(201, "PUT", "/pgs", new JsonObject().put("name", "copy").put("snapshot", "main@s1")
                .encode())).getInteger("port");
        assertEquals(stateAtS1, b.psql(copy, STATE));
        assertNotEquals(password(a, port), password(b, copy), "B logs in with a password of its own");
        assertEquals(dumpAtS1, dump(b, copy), "B's branch dumps as A did at the snapshot");
        b.amcheck(copy, "--all", "--install-missing");
        if (!again) {
            refusesAnotherSnapshotOfTheSameNameUnlessForced(port);
            return;
        }

        a.pgbench(port, "-c", "2", "-t", "300");
        JsonObject s2 = (JsonObject) a.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@s2").encode());
        String stateAtS2 = a.psql(port, STATE);
        assertNotEquals(stateAtS1, stateAtS2);
        long walBetween = Lsn.parse(s2.getString("lsn")).minus(Lsn.parse(s1.getString("lsn")));
        JsonObject second = push(a, "main@s2");
        assertTrue(second.getLong("bytes_sent") <= 1.2 * walBetween, "the second push sent " + second.getLong("bytes_sent")
                + " bytes for " + walBetween + " bytes of WAL written since the first: " + second.encode());
        assertTrue(second.getLong("bytes_skipped") > pushed.getLong("bytes_sent") / 2, second.encode());
        // before compression too: the WAL piece the first push ended with is reused, not cut again and resent
        long content = second.getLong("bytes") - second.getLong("bytes_skipped");
        assertTrue(content <= 1.2 * walBetween, "the second push sent " + content + " bytes of content for " + walBetween
                + " bytes of WAL written since the first: " + second.encode());

        pull(b, "main@s2");
        int copy2 = ((JsonObject) b.ok(201, "PUT", "/pgs", new JsonObject().put("name", "copy2").put("snapshot", "main@s2")
                .encode())).getInteger("port");
        assertEquals(stateAtS2, b.psql(copy2, STATE), "B sees what A wrote after the first snapshot");
        b.amcheck(copy2, "--all", "--install-missing");
        assertEquals(stateAtS1, b.psql(copy, STATE), "the first branch is untouched");
    }

    /**
     * Before anything on B gave its storage a password: a read-only pg at the pulled snapshot logs in with B's (its
     * role postgres had A's), and so a dump export of the pulled snapshot, which dumps from such a pg, works.
     */
    private void readOnlyPgsAtThePulledPointLogIn(String stateAtS1) throws Exception {
        int ro = ((JsonObject) b.ok(201, "PUT", "/pgs", new JsonObject().put("name", "ro").put("snapshot", "main@s1")
                .put("read_only", true).encode())).getInteger("port");
        assertEquals(stateAtS1, b.psql(ro, STATE));
        assertEquals("t", b.psql(ro, "SELECT pg_is_in_recovery()"), "still a read-only standby");
        b.ok(200, "DELETE", "/pgs/ro", null);
        Path dumps = DaemonFixture.reachableTempDir("dumps-");
        try {
            b.ok(201, "POST", "/snapshots/main@s1/actions", new JsonObject().put("action", "export")
                    .put("to", dumps.resolve("out").toString()).put("format", "dump").encode());
            assertTrue(java.nio.file.Files.size(dumps.resolve("out/postgres.dump")) > 100_000, "pgbench's tables dumped");
        } finally {
            PgCluster.deleteTree(dumps);
        }
    }

    /** The password of role postgres of the pg on {@code port}, from the daemon's password file. */
    static String password(DaemonFixture d, int port) throws java.io.IOException {
        for (String line : java.nio.file.Files.readAllLines(d.passFile())) {
            String[] f = line.split(":", 5);
            if (f.length == 5 && f[1].equals(Integer.toString(port)) && f[3].equals("postgres")) {
                return f[4];
            }
        }
        throw new AssertionError("no password for port " + port + " in " + d.passFile());
    }

    /**
     * Every file under {@code dir} (a remote's objects), as stored and, for our objects, decompressed as their frame says:
     * none holds the password. The scan reads the data: a table's name is in the decompressed catalogue pages.
     */
    static void assertNoObjectHoldsThePassword(Path dir, String password) throws java.io.IOException {
        byte[] secret = password.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] known = "pgbench_accounts".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        int objects = 0;
        boolean sawKnown = false;
        List<Path> files;
        try (var walk = java.nio.file.Files.walk(dir)) {
            files = walk.filter(java.nio.file.Files::isRegularFile).toList();
        }
        for (Path f : files) {
            byte[] stored = java.nio.file.Files.readAllBytes(f);
            assertEquals(-1, indexOf(stored, secret), f + " holds the password as stored");
            if (stored.length >= 4 && new String(stored, 0, 4, java.nio.charset.StandardCharsets.US_ASCII).equals("ZNOB")) {
                byte[] content = dev.zenith.objectstore.format.ObjectFrame.decode(f.toString(), stored, null);
                objects++;
                assertEquals(-1, indexOf(content, secret), f + " holds the password");
                sawKnown |= indexOf(content, known) >= 0;
            }
        }
        assertTrue(objects > 10, "objects scanned: " + objects);
        assertTrue(sawKnown, "the decompressed objects name pgbench_accounts somewhere");
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    /**
     * The pushed manifest names the databases' collations as PostgreSQL reports them; as if it had been pushed from a
     * machine with another glibc, its version is replaced (a version that replaces the first, as --force writes).
     */
    private void recordAnotherGlibcCollation() throws Exception {
        try (FileObjectStore store = FileObjectStore.open(shared)) {
            SnapshotCatalogue catalogue = new SnapshotCatalogue(store, java.time.Duration.ofSeconds(1));
            SnapshotManifest m = catalogue.get(SnapshotRef.parse("main@s1")).orElseThrow().manifest();
            assertTrue(m.cluster().databases().stream().anyMatch(db -> db.name().equals("postgres")), m.cluster().toString());
            List<ClusterFacts.DatabaseLocale> databases = new java.util.ArrayList<>(m.cluster().databases());
            databases.add(new ClusterFacts.DatabaseLocale("app", "libc", "en_US.UTF-8", "en_US.UTF-8", Optional.empty(),
                    Optional.of("0.1")));
            ClusterFacts c = m.cluster();
            catalogue.publish(new SnapshotManifest(m.ref(), m.lsn(), m.lineage(), new ClusterFacts(c.pgVersion(), c.pgVersionNum(),
                    c.systemIdentifier(), c.dataChecksums(), c.blockSize(), c.walSegmentSize(), databases), m.machine(), m.objects(),
                    Optional.empty(), m.pushedAt(), m.pushedBy()), true);
        }
    }

    /** main@s1 made again at a later point: the remote holds the name with other contents, so only --force replaces it. */
    private void refusesAnotherSnapshotOfTheSameNameUnlessForced(int port) throws Exception {
        a.ok(200, "DELETE", "/snapshots/main@s1", null);
        a.pgbench(port, "-c", "1", "-t", "50");
        JsonObject again = (JsonObject) a.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@s1").encode());
        HttpResponse<String> refused = a.request("POST", "/snapshots/main@s1/actions",
                new JsonObject().put("action", "push").put("remote", "team").encode());
        assertEquals(409, refused.statusCode(), refused.body());
        assertTrue(refused.body().contains("--force"), refused.body());
        JsonObject listed = ((JsonArray) b.ok(200, "GET", "/remotes/team/snapshots", null)).getJsonObject(0);
        assertNotEquals(again.getString("lsn"), listed.getString("lsn"), "the remote's main@s1 is unchanged");
        a.ok(201, "POST", "/snapshots/main@s1/actions", new JsonObject().put("action", "push").put("remote", "team")
                .put("force", true).encode());
        listed = ((JsonArray) b.ok(200, "GET", "/remotes/team/snapshots", null)).getJsonObject(0);
        assertEquals(again.getString("lsn"), listed.getString("lsn"), "--force replaced it");
    }

    public static JsonObject push(DaemonFixture d, String snapshot) throws Exception {
        return (JsonObject) d.ok(201, "POST", "/snapshots/" + snapshot + "/actions",
                new JsonObject().put("action", "push").put("remote", "team").encode());
    }

    static JsonObject pull(DaemonFixture d, String snapshot) throws Exception {
        return pull(d, snapshot, null);
    }

    static JsonObject pull(DaemonFixture d, String snapshot, String storage) throws Exception {
        JsonObject body = new JsonObject().put("action", "pull");
        if (storage != null) {
            body.put("storage", storage);
        }
        JsonObject pulled = (JsonObject) d.ok(201, "POST", "/remotes/team/snapshots/" + snapshot + "/actions", body.encode());
        assertEquals(storage == null ? "local" : storage, pulled.getString("storage_name"));
        return pulled;
    }

    /**
     * pg_dump of database postgres, as the SHA-256 of its text and its length (the text is megabytes), without the
     * "restrict" lines with the key each pg_dump run draws at random.
     */
    static String dump(DaemonFixture d, int port) throws Exception {
        String text = d.client(port, List.of(d.pg.bin("pg_dump").toString(), "-w", "-h", "127.0.0.1", "-p", Integer.toString(port),
                "-U", "postgres", "-d", "postgres", "--no-sync"));
        String kept = text.lines().filter(l -> !l.startsWith("\\restrict ") && !l.startsWith("\\unrestrict "))
                .collect(java.util.stream.Collectors.joining("\n"));
        byte[] sha = java.security.MessageDigest.getInstance("SHA-256").digest(kept.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        return java.util.HexFormat.of().formatHex(sha) + " (" + kept.length() + " characters)";
    }
}
