package dev.zenith.server.compute;

import dev.zenith.pgexec.FileTrees;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.server.testing.WalServiceClients;
import dev.zenith.wal.Lsn;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Garbage collection on pages in the daemon (docs/page-versions.md, "GC on pages"): a primary runs pgbench with
 * checkpoints and never stops cleanly (its only image is initdb's), two snapshots are taken along the way, and
 * {@code storage gc --pitr 0s} while it runs frees WAL (before page bases, every byte since initdb stayed). Then
 * every retained point is still exact: branches at both snapshots dump as the primary did there, the primary's
 * directory deleted and rebuilt dumps as before, a base backup of a branch restores equal, a snapshot pushed after
 * the collection and pulled by another daemon dumps equal; pg_amcheck finds nothing. {@code snapshot list}'s
 * retained sizes are meaningful: each snapshot keeps something only it needs, and the two differ.
 */
@Tag("pg")
@Tag("slow")
class GcOnPagesTest {

    @Test
    void collectingWhileAPgRunsFreesWalAndEveryRetainedPointStaysExact() throws Exception {
        Path shared = DaemonFixture.reachableTempDir("gc-remote-");
        try (DaemonFixture d = new DaemonFixture(); DaemonFixture other = new DaemonFixture()) {
            d.startProcess(); // its own JVM: materialization and rebuilds are told in ZENITH_HOME/zenith.log
            d.ok(201, "PUT", "/storages", new JsonObject().put("name", "short").put("pitr", "0s")
                    .put("path", d.home.resolve("short").toString()).encode());
            JsonObject main = (JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "main")
                    .put("storage_name", "short").encode());
            int port = main.getInteger("port");
            d.pgbench(port, "-i", "-s", "2", "-q");
            rounds(d, port, 2);
            String atA = d.dump(port);
            d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@a").encode());
            rounds(d, port, 2);
            String atB = d.dump(port);
            d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@b").encode());
            rounds(d, port, 2);
            Lsn lastRedo = Lsn.parse(d.psql(port, "SELECT redo_lsn FROM pg_control_checkpoint()"));
            d.psql(port, "CHECKPOINT"); // its anchor makes the step at lastRedo
            d.awaitMaterialized(lastRedo);

            // What each snapshot alone keeps: its base's versions no other point selects (and, when the WAL between
            // the two spans a segment, the older one that WAL: WAL is freed by whole segments).
            JsonArray listed = (JsonArray) d.ok(200, "GET", "/snapshots", null);
            long keepsA = retains(listed, "main@a");
            long keepsB = retains(listed, "main@b");
            assertTrue(keepsA > 0 && keepsB > 0, listed.encode());
            assertNotEquals(keepsA, keepsB, listed.encode());

            JsonObject freed = (JsonObject) d.ok(200, "POST", "/storages/short/gc", new JsonObject().put("pitr", "0s").encode());
            assertTrue(freed.getLong("wal_bytes_freed") > 0, "the WAL since initdb went while main runs: " + freed.encode());
            assertTrue(freed.getLong("page_versions_freed") > 0, freed.encode());
            String now = d.dump(port); // the primary goes on
            d.pgbench(port, "-n", "-c", "2", "-t", "75");
            String later = d.dump(port);

            int a = d.branch("ba", "main@a");
            assertEquals(atA, d.dump(a));
            d.amcheck(a, "--all", "--install-missing");
            int b = d.branch("bb", "main@b");
            assertEquals(atB, d.dump(b));
            d.amcheck(b, "--all", "--install-missing");
            assertNotEquals(atA, now);

            // the primary's directory lost: rebuilt from the store at its end
            startFromAnEmptyDirectory(d, "main", main);
            assertEquals(later, d.dump(port));
            d.amcheck(port, "--all", "--install-missing");

            // a base backup of the branch at the older snapshot (BASE_BACKUP on our port) restores to the same data
            String baNow = d.dump(a); // main@a's data, and the amcheck extension pg_amcheck installed
            WalServiceClients clients = new WalServiceClients(d);
            Path work = DaemonFixture.reachableTempDir("gc-backup-");
            try {
                Path backup = work.resolve("backup");
                clients.baseBackup("ba", backup);
                // the cluster of storage short has its own password, which the pass file names by port only
                Files.writeString(backup.resolve("pg_hba.conf"), "local all all trust\nhost all all 127.0.0.1/32 trust\n");
                assertEquals(baNow, clients.onServer(backup, work.resolve("backup.log"), p -> d.dump(p)));
            } finally {
                FileTrees.delete(work);
            }

            // pushed after the collection (from the base it kept), pulled by a daemon that never saw it
            JsonObject remote = new JsonObject().put("name", "team").put("url", "file://" + shared);
            d.ok(201, "PUT", "/remotes", remote.encode());
            d.ok(201, "POST", "/snapshots/main@a/actions", new JsonObject().put("action", "push").put("remote", "team").encode());
            other.startInProcess();
            other.ok(201, "PUT", "/remotes", remote.encode());
            other.ok(201, "POST", "/remotes/team/snapshots/main@a/actions", new JsonObject().put("action", "pull").encode());
            int copy = ((JsonObject) other.ok(201, "PUT", "/pgs", new JsonObject().put("name", "copy").put("snapshot", "main@a")
                    .encode())).getInteger("port");
            assertEquals(atA, other.dump(copy), "the pulled branch dumps as main did at main@a");
            other.amcheck(copy, "--all", "--install-missing");
        } finally {
            FileTrees.delete(shared);
        }
    }

    /**
     * A branch's first materialization step starts from its parent's base and stores, under the branch, the blocks
     * changed since that base, some at LSNs at or below the branch point (changed on the parent before it). Collections
     * of both timelines (the parent moving on, {@code --pitr 0s}) keep what the branch needs: a branch of the branch
     * at its snapshot, built from the branch's anchor (its first step's versions among them), dumps as the branch did
     * there; so does the branch's own directory rebuilt at its end; pg_amcheck finds nothing.
     */
    @Test
    void collectionsKeepWhatABranchsFirstStepStoredAtOrBelowItsBranchPoint() throws Exception {
        try (DaemonFixture d = new DaemonFixture()) {
            d.startProcess(); // its own JVM: materialization and rebuilds are told in ZENITH_HOME/zenith.log
            d.ok(201, "PUT", "/storages", new JsonObject().put("name", "short").put("pitr", "0s")
                    .put("path", d.home.resolve("short").toString()).encode());
            int main = ((JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "main")
                    .put("storage_name", "short").encode())).getInteger("port");
            d.pgbench(main, "-i", "-s", "2", "-q");
            rounds(d, main, 1);
            d.pgbench(main, "-n", "-c", "4", "-j", "2", "-t", "50"); // changed after main's last anchor, before the fork
            d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@fork").encode());
            JsonObject br = (JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "br").put("snapshot", "main@fork")
                    .encode());
            int port = br.getInteger("port");
            rounds(d, port, 1);
            Lsn firstRedo = Lsn.parse(d.psql(port, "SELECT redo_lsn FROM pg_control_checkpoint()"));
            d.psql(port, "CHECKPOINT");
            d.awaitMaterialized(firstRedo); // the branch's first step
            String atS = d.dump(port);
            Lsn s = Lsn.parse(((JsonObject) d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "br@s").encode()))
                    .getString("lsn"));
            rounds(d, port, 1);
            rounds(d, main, 2); // the parent moves on: its history before the branch point is the collection's
            Lsn lastRedo = Lsn.parse(d.psql(main, "SELECT redo_lsn FROM pg_control_checkpoint()"));
            d.psql(main, "CHECKPOINT");
            d.awaitMaterialized(lastRedo);
            String brEnd = d.dump(port);

            JsonObject freed = (JsonObject) d.ok(200, "POST", "/storages/short/gc", new JsonObject().put("pitr", "0s").encode());
            assertTrue(freed.getLong("wal_bytes_freed") > 0 && freed.getLong("page_versions_freed") > 0, freed.encode());

            // the snapshot is readable in place too: the horizon is at or below it, and the store lists its relations
            for (Object o : (JsonArray) d.ok(200, "GET", "/storages/short/timelines", null)) {
                JsonObject t = (JsonObject) o;
                if (t.getString("timeline_id").equals(brNow(d))) {
                    assertTrue(!Lsn.parse(t.getString("retention_horizon")).isAfter(s), t.encode() + " / br@s " + s);
                }
            }
            JsonObject listed = (JsonObject) d.ok(200, "GET", "/pgs/br/relations?lsn=" + s, null);
            assertTrue(listed.getJsonArray("relations").size() > 100, listed.getJsonArray("relations").size() + " relations");

            int bs = d.branch("bs", "br@s");
            assertTrue(d.log().contains("pgs/bs from page versions at the anchor"), d.log());
            assertEquals(atS, d.dump(bs));
            d.amcheck(bs, "--all", "--install-missing");

            JsonObject brNow = d.pg("br");
            startFromAnEmptyDirectory(d, "br", brNow);
            assertEquals(brEnd, d.dump(port));
            d.amcheck(port, "--all", "--install-missing");
        }
    }

    private static String brNow(DaemonFixture d) throws Exception {
        return d.pg("br").getString("timeline_id");
    }

    /** pgbench (counted: at any load it changes pages), then a checkpoint (an anchor, a materialization step), {@code n} times. */
    private static void rounds(DaemonFixture d, int port, int n) throws Exception {
        for (int i = 0; i < n; i++) {
            d.pgbench(port, "-n", "-c", "4", "-j", "2", "-t", "50");
            d.psql(port, "CHECKPOINT");
        }
    }

    private static long retains(JsonArray listed, String name) {
        JsonObject s = find(listed, name);
        return s.getLong("retains_wal_bytes") + s.getLong("retains_page_bytes");
    }

    private static JsonObject find(JsonArray listed, String name) {
        for (Object o : listed) {
            JsonObject s = (JsonObject) o;
            if (name.equals(s.getString("name")) || name.equals(s.getString("pg") + "@" + s.getString("name"))) {
                return s;
            }
        }
        throw new AssertionError(name + " not in " + listed.encode());
    }

    /** The pg killed and its directory lost: its next start rebuilds the directory from the store at its end. */
    private static void startFromAnEmptyDirectory(DaemonFixture d, String name, JsonObject pg) throws Exception {
        DaemonFixture.killCompute(pg);
        d.awaitJson("/pgs/" + name, j -> "stopped".equals(j.getString("status")));
        FileTrees.delete(Path.of(pg.getString("pgdata")));
        d.action(name, "start");
    }
}
