package dev.zenith.server.remote;

import dev.zenith.server.testing.CliRun;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.testkit.PgCluster;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The {@code zenith} commands of sharing against two real daemons and a shared directory: {@code remote add/list/remove},
 * {@code snapshot push}, {@code snapshot list --remote}, {@code snapshot pull}, and a branch of the pulled snapshot; bad
 * input (an unknown remote, a bad URL or name, an unknown snapshot) is an error on stderr that says what is wrong and
 * changes nothing.
 */
@Tag("pg")
class RemoteCliTest {
    DaemonFixture a;
    DaemonFixture b;
    Path shared;

    @BeforeEach
    void start() throws Exception {
        a = new DaemonFixture().startInProcess();
        b = new DaemonFixture().startInProcess();
        shared = DaemonFixture.reachableTempDir("cli-remote-");
    }

    @AfterEach
    void stop() throws Exception {
        System.clearProperty("zenith.home");
        a.close();
        b.close();
        PgCluster.deleteTree(shared);
    }

    /** The CLI of {@code d}'s home. */
    private static CliRun cli(DaemonFixture d, String... argv) {
        System.setProperty("zenith.home", d.home.toString());
        return CliRun.inProcess(argv);
    }

    private static void ok(CliRun r) {
        assertEquals(0, r.code(), r.toString());
    }

    /** An error: not 0, a message on stderr holding {@code says}, nothing on stdout. */
    private static void refused(CliRun r, String says) {
        assertTrue(r.code() != 0, r.toString());
        assertTrue(r.err().contains(says), "stderr should say '" + says + "': " + r);
        assertEquals("", r.out(), r.toString());
    }

    @Test
    void remotesAreAddedListedAndRemovedAndBadInputChangesNothing() throws Exception {
        String url = "file://" + shared;
        CliRun added = cli(a, "remote", "add", "team", url);
        ok(added);
        assertTrue(added.out().contains("remote team is " + url), added.out());

        refused(cli(a, "remote", "add", "other", "ftp://host/dir"), "invalid remote url 'ftp://host/dir'");
        refused(cli(a, "remote", "add", "bad/name", url), "invalid remote name 'bad/name'");
        refused(cli(a, "remote", "add", "nas", url, "--region", "eu-west-1"), "--endpoint and --region are for s3:// remotes");
        refused(cli(a, "remote", "add", "team", "file:///elsewhere"), "remote 'team' exists");
        refused(cli(a, "remote", "remove", "nosuch"), "no remote 'nosuch'");

        CliRun listed = cli(a, "remote", "list");
        ok(listed);
        assertTrue(listed.out().contains("team") && listed.out().contains(url), listed.out());
        JsonArray remotes = (JsonArray) a.ok(200, "GET", "/remotes", null);
        assertEquals(1, remotes.size(), "only team was added: " + remotes.encode());
        assertEquals(url, remotes.getJsonObject(0).getString("url"), "team is unchanged");
        CliRun json = cli(a, "remote", "list", "--json");
        ok(json);
        assertEquals(remotes, new JsonArray(json.out()));

        ok(cli(a, "remote", "remove", "team"));
        assertEquals(new JsonArray(), a.ok(200, "GET", "/remotes", null));
        refused(cli(a, "remote", "remove", "team"), "no remote 'team'");
    }

    @Test
    void aSnapshotIsPushedListedAndPulledThroughTheCli() throws Exception {
        String url = "file://" + shared;
        ok(cli(a, "remote", "add", "team", url));
        ok(cli(b, "remote", "add", "team", url));
        int port = a.createPg("main").getInteger("port");
        a.pgbench(port, "-i", "-s", "1", "-q");
        // a database sorting with ICU, whose pg_database row was updated once (a replaced row version stays in the heap)
        a.psql(port, "CREATE DATABASE app TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'");
        a.psql(port, "ALTER DATABASE app CONNECTION LIMIT 5");
        ok(cli(a, "snapshot", "create", "main@s"));
        String state = a.psql(port, SnapshotPushPullTest.STATE);

        refused(cli(a, "snapshot", "push", "main@s", "--to", "nosuch"), "no remote 'nosuch'");
        refused(cli(a, "snapshot", "push", "main@nosuch", "--to", "team"), "nosuch");
        refused(cli(a, "snapshot", "push", "no-at-sign", "--to", "team"), "PG@SNAP");
        refused(cli(a, "snapshot", "list", "--remote", "nosuch"), "no remote 'nosuch'");
        try (var left = Files.list(shared)) {
            assertEquals(0, left.filter(p -> p.getFileName().toString().equals("manifests")).flatMap(p -> {
                try {
                    return Files.list(p);
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }).count(), "no manifest on the remote after refused pushes");
        }
        CliRun emptyListing = cli(b, "snapshot", "list", "--remote", "team");
        ok(emptyListing);
        assertFalse(emptyListing.out().contains("main@s"), emptyListing.out());

        CliRun pushed = cli(a, "snapshot", "push", "main@s", "--to", "team");
        ok(pushed);
        assertTrue(pushed.out().contains("snapshot main@s") && pushed.out().contains("pushed to team"), pushed.out());
        CliRun listing = cli(b, "snapshot", "list", "--remote", "team");
        ok(listing);
        assertTrue(listing.out().contains("main@s"), listing.out());

        refused(cli(b, "snapshot", "pull", "main@nosuch", "--from", "team"), "remote 'team' has no snapshot main@nosuch");
        refused(cli(b, "snapshot", "pull", "main@s", "--from", "nosuch"), "no remote 'nosuch'");
        refused(cli(b, "snapshot", "pull", "main@s", "--from", "team", "-s", "bad/storage"), "storage");
        assertEquals(new JsonArray(), b.ok(200, "GET", "/snapshots", null), "nothing pulled by refused pulls");

        CliRun pulled = cli(b, "snapshot", "pull", "main@s", "--from", "team");
        ok(pulled);
        assertTrue(pulled.out().contains("pulled from team into storage local"), pulled.out());
        CliRun again = cli(b, "snapshot", "pull", "main@s", "--from", "team");
        ok(again);
        assertTrue(again.out().contains("was already here"), again.out());
        ok(cli(b, "pg", "create", "copy", "main@s"));
        int copy = ((JsonObject) b.ok(200, "GET", "/pgs/copy", null)).getInteger("port");
        assertEquals(state, b.psql(copy, SnapshotPushPullTest.STATE), "B's branch of the pulled snapshot");

        // pushed while its pg is stopped: the databases' collations are read from pg_database in the image, and are
        // what the running server answered for main@s
        a.action("main", "stop");
        ok(cli(a, "snapshot", "create", "main@stopped"));
        CliRun stopped = cli(a, "snapshot", "push", "main@stopped", "--to", "team");
        ok(stopped);
        assertFalse(stopped.err().contains("warning"), stopped.toString());
        var asked = databases("main@s");
        assertTrue(asked.stream().anyMatch(d -> d.name().equals("app") && d.provider().equals("icu")
                && d.icuLocale().equals(java.util.Optional.of("en-US"))), asked.toString());
        assertEquals(asked, databases("main@stopped"), "read from the image as the running server said");
    }

    private java.util.List<dev.zenith.objectstore.catalogue.ClusterFacts.DatabaseLocale> databases(String snapshot) throws Exception {
        try (var store = dev.zenith.objectstore.file.FileObjectStore.open(shared)) {
            return new dev.zenith.objectstore.catalogue.SnapshotCatalogue(store, java.time.Duration.ofSeconds(1))
                    .get(dev.zenith.objectstore.catalogue.SnapshotRef.parse(snapshot)).orElseThrow().manifest().cluster().databases();
        }
    }
}
