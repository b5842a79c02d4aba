package dev.zenith.server.compute;

import dev.zenith.pgexec.FileTrees;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.server.testing.WalServiceClients;
import dev.zenith.wal.Lsn;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A branch's data directory is built from page versions at the nearest materialized anchor below its
 * snapshot, not from the last clean stop: a primary runs pgbench with checkpoints and never stops
 * cleanly (its only image is initdb's); a branch at a snapshot late in it replays only the WAL since the
 * last checkpoint before the snapshot (the redo point its rebuild wrote WAL from is that checkpoint's, as
 * the primary's pg_control said), and dumps equal to a branch built by the full path (image plus all WAL,
 * {@code redo.start_from_anchors} off) and to the primary at that point; pg_amcheck finds nothing. Where
 * no anchor is materialized (a snapshot before the first checkpoint) the full path is taken and says so.
 * A base backup of the branch (BASE_BACKUP on our port) starts at the anchor as well and restores equal; a
 * replica of the primary starts there and follows it.
 */
@Tag("pg")
@Tag("slow")
class AnchoredStartTest {
    private static final Pattern REBUILT = Pattern.compile(
            "rebuilt (\\S+) from (.*?) \\(.*?\\) plus WAL (\\S+)\\.\\.(\\S+) \\((\\d+) bytes to replay\\)");

    @Test
    void aBranchAtALateSnapshotReplaysOnlySinceTheNearestAnchorAndEqualsTheFullPath() throws Exception {
        try (DaemonFixture d = new DaemonFixture()) {
            d.pgSettings.put("replication_password", "anchored-secret");
            d.startProcess(); // its own JVM: it logs to ZENITH_HOME/zenith.log, where rebuilds are told
            int port = d.createPg("main").getInteger("port");
            d.pgbench(port, "-i", "-s", "2", "-q");
            String early = dump(d, port);
            // at a time (a past point: no checkpoint asked for, so no anchor lies below it; see "old" below)
            d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@early").put("time",
                    java.time.Instant.now().toString()).encode());

            Lsn lastRedo = null;
            for (int round = 1; round <= 3; round++) {
                d.pgbench(port, "-n", "-c", "4", "-j", "2", "-t", "50");
                d.psql(port, "CHECKPOINT");
                lastRedo = Lsn.parse(d.psql(port, "SELECT redo_lsn FROM pg_control_checkpoint()"));
            }
            d.pgbench(port, "-n", "-c", "4", "-j", "2", "-t", "50");
            String late = dump(d, port);
            Lsn snapshot = Lsn.parse(((JsonObject) d.ok(201, "PUT", "/snapshots",
                    new JsonObject().put("name", "main@late").encode())).getString("lsn"));
            // One more checkpoint: once its step is materialized, so is the one at lastRedo before it.
            d.psql(port, "CHECKPOINT");
            Lsn beyond = Lsn.parse(d.psql(port, "SELECT checkpoint_lsn FROM pg_control_checkpoint()"));
            awaitMaterializedPast(d, lastRedo, beyond);

            int fast = branch(d, "fast", "main@late");
            Matcher rebuilt = rebuildOf(d, "fast");
            // the WAL was written beside the data directory while its pages were, then moved in
            Path pgs = Path.of(((JsonObject) d.ok(200, "GET", "/pgs/fast", null)).getString("pgdata")).getParent();
            assertTrue(!Files.exists(pgs.resolve("fast.wal-staging")), "the rebuild left its WAL staging directory");
            assertTrue(rebuilt.group(2).startsWith("page versions at the anchor"), rebuilt.group());
            Lsn replayFrom = Lsn.parse(rebuilt.group(3));
            assertTrue(!replayFrom.isBefore(lastRedo), "replay started at " + replayFrom + ", before the last checkpoint's"
                    + " redo point " + lastRedo + " below the snapshot " + snapshot);
            long pastSnapshot = Lsn.parse(rebuilt.group(4)).minus(snapshot); // the branch point, MAXALIGNed
            assertTrue(pastSnapshot >= 0 && pastSnapshot < 8, rebuilt.group() + " / snapshot " + snapshot);
            // at most the WAL from the last checkpoint's redo point to the branch point: one checkpoint interval
            assertTrue(Long.parseLong(rebuilt.group(5)) <= Lsn.parse(rebuilt.group(4)).minus(lastRedo), rebuilt.group());
            String fastDump = dump(d, fast);
            assertEquals(late, fastDump);
            String fastFsm = freeSpaceMaps(d, fast); // before anything on the branch records free space
            assertTrue(fastFsm.contains("pgbench_accounts"), fastFsm);

            // A base backup of the branch (our BASE_BACKUP) starts at that anchor too, and restores to the same data.
            WalServiceClients clients = new WalServiceClients(d);
            Path work = DaemonFixture.reachableTempDir("anchored-backup-");
            try {
                Path backup = work.resolve("backup");
                clients.baseBackup("fast", backup);
                Matcher label = Pattern.compile("START WAL LOCATION: (\\S+) ").matcher(Files.readString(backup.resolve("backup_label")));
                assertTrue(label.find());
                assertTrue(!Lsn.parse(label.group(1)).isBefore(lastRedo), "the backup starts at " + label.group(1)
                        + ", before the last checkpoint's redo point " + lastRedo);
                assertEquals(fastDump, clients.onServer(backup, work.resolve("backup.log"), p -> dump(d, p)));
            } finally {
                FileTrees.delete(work);
            }
            d.amcheck(fast, "--all", "--install-missing");

            // A replica of the running primary starts from its newest materialized anchor and follows it.
            int rep = ((JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "rep").put("replica_of", "main")
                    .encode())).getInteger("port");
            assertTrue(rebuildOf(d, "rep").group(2).startsWith("page versions at the anchor"), rebuildOf(d, "rep").group());
            d.psql(port, "CREATE TABLE after_the_replica AS SELECT 42 AS x");
            long deadline = System.nanoTime() + 120_000_000_000L;
            while (!d.psql(rep, "SELECT count(*) FROM pg_class WHERE relname = 'after_the_replica'").equals("1")) {
                assertTrue(System.nanoTime() < deadline, "the replica did not catch up in 2 minutes");
                Thread.sleep(200);
            }
            assertEquals(dump(d, port), dump(d, rep));

            // A snapshot no anchor is materialized below: the image and all WAL since, as before.
            // what a rebuild that crashed left beside a data directory is not taken into it
            Path stale = Files.createDirectories(pgs.resolve("old.wal-staging")).resolve("000000010000000000000099");
            Files.write(stale, new byte[] {1, 2, 3});
            int old = branch(d, "old", "main@early");
            assertTrue(!Files.exists(stale.getParent()), "a stale WAL staging directory was left");
            assertTrue(!Files.exists(pgs.resolve("old/pg_wal/000000010000000000000099")), "a stale WAL file was taken in");
            assertTrue(d.log().contains("from the image at"), d.log());
            assertTrue(rebuildOf(d, "old").group(2).startsWith("image "), rebuildOf(d, "old").group());
            assertEquals(early, dump(d, old));
            d.amcheck(old, "--all", "--install-missing");

            // The reference: today's full path to the same snapshot, replaying everything since initdb.
            d.killProcess();
            d.redoSettings.put("start_from_anchors", false);
            d.startProcess();
            int full = branch(d, "full", "main@late");
            Matcher reference = rebuildOf(d, "full");
            assertTrue(reference.group(2).startsWith("image "), reference.group());
            assertTrue(Long.parseLong(reference.group(5)) > Long.parseLong(rebuilt.group(5)), reference.group()
                    + " / " + rebuilt.group());
            assertEquals(dump(d, full), fastDump);
            // FSM is not WAL-logged: the branch's free-space maps are the forks crash recovery leaves, as long
            // (all zeros at the anchor, what every redo run from there starts from) as the full path's
            assertEquals(freeSpaceMaps(d, full), fastFsm);
            d.amcheck(full, "--all", "--install-missing");
            System.out.println("from the anchor: " + rebuilt.group() + "\nfull path: " + reference.group());
        }
    }

    /**
     * Databases created (WAL_LOG and FILE_COPY) and dropped, and mapped catalogs rewritten (VACUUM FULL of pg_class
     * and of the shared pg_database: new relfilenodes, new pg_filenode.map files no page version carries) since the
     * last clean stop, before the anchor and between it and the snapshot: the branch still starts from the anchor
     * (the page index keeps each directory's relation map and which databases exist), and every database dumps
     * equal to the primary's; pg_amcheck finds nothing.
     */
    @Test
    void databasesCreatedAndDroppedAndMappedCatalogsRewrittenSinceTheImageStartFromTheAnchor() throws Exception {
        try (DaemonFixture d = new DaemonFixture()) {
            d.startProcess();
            int port = d.createPg("main").getInteger("port");
            d.psql(port, "CREATE DATABASE doomed");
            d.action("main", "stop"); // an image that has it
            port = d.action("main", "start").getInteger("port");
            d.psql(port, "CREATE TABLE t AS SELECT generate_series(1, 1000) AS id");
            d.psql(port, "VACUUM FULL pg_class");
            d.psql(port, "VACUUM FULL pg_database");
            d.psql(port, "DROP DATABASE doomed");
            d.psql(port, "CREATE DATABASE walcopy");
            sql(d, port, "walcopy", "CREATE TABLE w AS SELECT generate_series(1, 500) AS id");
            sql(d, port, "walcopy", "VACUUM FULL pg_class");
            d.psql(port, "CREATE DATABASE filecopy STRATEGY FILE_COPY");
            d.psql(port, "CHECKPOINT");
            d.psql(port, "INSERT INTO t SELECT generate_series(1001, 2000)");
            sql(d, port, "filecopy", "CREATE TABLE f AS SELECT generate_series(1, 300) AS id");
            d.psql(port, "CHECKPOINT");
            Lsn lastRedo = Lsn.parse(d.psql(port, "SELECT redo_lsn FROM pg_control_checkpoint()"));
            // after the anchor: replayed by the branch's own recovery
            d.psql(port, "INSERT INTO t SELECT generate_series(2001, 3000)");
            d.psql(port, "CREATE DATABASE late");
            sql(d, port, "late", "CREATE TABLE l AS SELECT 7 AS x");
            d.psql(port, "VACUUM FULL pg_class");
            List<String> names = List.of("postgres", "walcopy", "filecopy", "late");
            List<String> expected = new java.util.ArrayList<>();
            for (String db : names) {
                expected.add(dump(d, port, db));
            }
            String databases = d.psql(port, "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database");
            d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@s").encode());
            d.psql(port, "CHECKPOINT");
            awaitMaterializedPast(d, lastRedo, Lsn.parse(d.psql(port, "SELECT checkpoint_lsn FROM pg_control_checkpoint()")));

            int b = branch(d, "b", "main@s");
            Matcher rebuilt = rebuildOf(d, "b");
            assertTrue(rebuilt.group(2).startsWith("page versions at the anchor"), rebuilt.group() + "\n" + d.log());
            assertTrue(!Lsn.parse(rebuilt.group(3)).isBefore(lastRedo), rebuilt.group());
            assertEquals(databases, d.psql(b, "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database"));
            for (int i = 0; i < names.size(); i++) {
                assertEquals(expected.get(i), dump(d, b, names.get(i)), names.get(i));
            }
            assertEquals("3000", d.psql(b, "SELECT count(*) FROM t"));
            d.amcheck(b, "--all", "--install-missing");
        }
    }

    private static String sql(DaemonFixture d, int port, String db, String sql) throws Exception {
        return d.client(port, List.of(d.pg.bin("psql").toString(), "-X", "-w", "-h", "127.0.0.1", "-p",
                Integer.toString(port), "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql)).trim();
    }

    private static int branch(DaemonFixture d, String name, String snapshot) throws Exception {
        return ((JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", name).put("snapshot", snapshot)
                .encode())).getInteger("port");
    }

    /** The daemon's report of the rebuild of pg {@code name}'s data directory (its path ends in the name). */
    private static Matcher rebuildOf(DaemonFixture d, String name) {
        Matcher m = REBUILT.matcher(d.log());
        Matcher last = null;
        while (m.find()) {
            if (m.group(1).contains("/" + name + "/") || m.group(1).endsWith("/" + name)) {
                last = REBUILT.matcher(m.group());
                assertTrue(last.matches());
            }
        }
        assertTrue(last != null, "no rebuild of " + name + " in the log:\n" + d.log());
        return last;
    }

    /** Waits until background materialization has a step past {@code past}, an LSN of the WAL before {@code beyond}. */
    private static void awaitMaterializedPast(DaemonFixture d, Lsn past, Lsn beyond) throws InterruptedException {
        Pattern step = Pattern.compile("materialized up to (\\S+) ");
        long deadline = System.nanoTime() + 240_000_000_000L;
        while (true) {
            Matcher m = step.matcher(d.log());
            while (m.find()) {
                if (Lsn.parse(m.group(1)).isAfter(past)) {
                    return;
                }
            }
            assertTrue(System.nanoTime() < deadline, "nothing materialized past " + past + " (checkpoint " + beyond
                    + ") in 4 minutes:\n" + d.log());
            Thread.sleep(200);
        }
    }

    /** Every relation's free-space map fork length in bytes, those with one (a branch's just after its start). */
    private static String freeSpaceMaps(DaemonFixture d, int port) throws Exception {
        return d.psql(port, "SELECT string_agg(relname || ' ' || pg_relation_size(oid, 'fsm'), E'\\n' ORDER BY relname, oid)"
                + " FROM pg_class WHERE relpersistence = 'p' AND relkind IN ('r', 'i', 't', 'm')"
                + " AND pg_relation_size(oid, 'fsm') > 0");
    }

    /** pg_dump's output without its restrict lines, whose key each run draws at random. */
    private static String dump(DaemonFixture d, int port) throws Exception {
        return dump(d, port, "postgres");
    }

    private static String dump(DaemonFixture d, int port, String db) throws Exception {
        return d.client(port, List.of(d.pg.bin("pg_dump").toString(), "-w", "-h", "127.0.0.1", "-p",
                Integer.toString(port), "-U", "postgres", "-d", db)).replaceAll("(?m)^\\\\(un)?restrict .*$", "");
    }
}
