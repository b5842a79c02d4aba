package dev.zenith.server.ready;

import dev.zenith.pgexec.FileTrees;
import dev.zenith.server.anchor.AnchoredStart;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.storage.Store;
import dev.zenith.storage.image.ImageManifest;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A primary runs pgbench with checkpoints, drops, truncates and new relations and never stops cleanly. Its
 * timeline's ready data directory is written whole at the first materialized anchor and then updated block by
 * block; at the next anchor it is byte-equal, file for file, to what a start there writes from the store (and its
 * marker names that start). Taken by a start at an earlier anchor (an older snapshot), it is brought back there,
 * byte-equal to what that start writes. A ready directory whose marker is gone (a crash mid-update) is not taken:
 * a start writes its own, and the next step writes the ready one whole again. A branch at a snapshot at or after the
 * anchor takes it (renamed, nothing written) and dumps equal to the primary there, pg_amcheck clean; its own ready
 * directory is written whole no sooner than 30 s after its start. A branch at an older snapshot dumps equal too,
 * whether it took the ready directory or wrote its own.
 */
@Tag("pg")
@Tag("slow")
class ReadyDirectoriesTest {
    @Test
    void keptCurrentByteEqualTakenByABranchAndNeverUsedHalfWritten() throws Exception {
        try (DaemonFixture d = new DaemonFixture()) {
            d.startProcess(); // its own JVM: it logs to ZENITH_HOME/zenith.log, where ready directories are told
            int port = d.createPg("main").getInteger("port");
            TimelineId tl = TimelineId.parse(d.pg("main").getString("timeline_id"));
            Path storage = Path.of(((JsonObject) d.ok(200, "GET", "/storages/local", null)).getString("path"));
            d.pgbench(port, "-i", "-s", "2", "-q");
            d.psql(port, "CREATE TABLE doomed AS SELECT generate_series(1, 20000) AS id");
            d.psql(port, "CREATE TABLE shrinking AS SELECT generate_series(1, 50000) AS id");
            d.pgbench(port, "-n", "-c", "2", "-j", "2", "-t", "75");
            awaitReady(d, checkpoint(d, port), "(written whole|updated from)"); // a timed checkpoint may come first

            d.pgbench(port, "-n", "-c", "2", "-j", "2", "-t", "75");
            String midDump = d.dump(port);
            Lsn midLsn = Lsn.parse(((JsonObject) d.ok(201, "PUT", "/snapshots",
                    new JsonObject().put("name", "main@mid").encode())).getString("lsn"));
            d.psql(port, "DROP TABLE doomed");
            d.psql(port, "TRUNCATE pgbench_history");
            d.psql(port, "DELETE FROM shrinking WHERE id > 1000");
            d.psql(port, "VACUUM shrinking"); // cuts its empty tail
            d.psql(port, "CREATE TABLE fresh AS SELECT generate_series(1, 30000) AS id");
            d.psql(port, "CREATE INDEX ON fresh (id)");
            d.pgbench(port, "-n", "-c", "2", "-j", "2", "-t", "75");
            awaitReady(d, checkpoint(d, port), "updated from");

            // Byte-equal to a start from the store at that anchor, with the daemon gone (the store is ours to open).
            d.killProcess();
            Path root = ReadyDirectories.root(storage, tl);
            Path reference = DaemonFixture.reachableTempDir("ready-reference-");
            try (Store store = Store.open(storage)) {
                Lsn end = store.wal().lastRecordEnd(tl).orElseThrow();
                ImageManifest image = store.images().imageFor(tl, end).orElseThrow();
                AnchoredStart.Plan plan = AnchoredStart.choose(store, tl, image, end).plan().orElseThrow();
                assertEquals(PlanDigest.of(plan), ReadyMarker.read(root).orElseThrow().digest());
                FileTrees.delete(reference);
                store.images().materialize(tl, plan.directory(), reference, bytes -> { });
                assertSameTree(reference, root.resolve(ReadyDirectories.DATA));

                // A start at the older snapshot (an earlier anchor: a table dropped, one truncated, one cut, one new
                // since) takes it and brings it back there: byte-equal to what that start writes from the store.
                AnchoredStart.Plan older = AnchoredStart.choose(store, tl, store.images().imageFor(tl, midLsn).orElseThrow(),
                        midLsn).plan().orElseThrow();
                assertTrue(older.directory().versionsAt().isBefore(plan.directory().versionsAt()), older.checkpoint()
                        + " / " + plan.checkpoint());
                Path back = reference.resolveSibling(reference.getFileName() + "-back");
                try (ReadyDirectories ready = new ReadyDirectories(true, 1.0)) {
                    String how = ready.take(store, older, back).orElseThrow();
                    assertTrue(how.startsWith(ReadyDirectories.TAKEN + " and brought from"), how);
                    System.out.println(how);
                    FileTrees.delete(reference);
                    store.images().materialize(tl, older.directory(), reference, bytes -> { });
                    assertSameTree(reference, back);
                    assertFalse(Files.exists(root.resolve(ReadyDirectories.DATA)), "a taken directory stayed");
                    ready.update(store, tl); // written whole again for what follows
                } finally {
                    FileTrees.delete(back);
                }
                assertEquals(PlanDigest.of(plan), ReadyMarker.read(root).orElseThrow().digest());

                // A crash mid-update: the marker went first; whatever the files hold, they are never taken.
                Files.delete(root.resolve(ReadyMarker.FILE));
                try (Stream<Path> s = Files.walk(root.resolve(ReadyDirectories.DATA).resolve("base"))) {
                    Path some = s.filter(Files::isRegularFile).filter(p -> p.getFileName().toString().matches("\\d+"))
                            .findFirst().orElseThrow();
                    Files.write(some, new byte[8192]);
                }
                Path target = reference.resolveSibling(reference.getFileName() + "-taken");
                try (ReadyDirectories ready = new ReadyDirectories(true)) {
                    assertTrue(ready.take(store, plan, target).isEmpty());
                }
                assertFalse(Files.exists(target));
            } finally {
                FileTrees.delete(reference);
            }

            // The next step writes it whole again.
            int logBefore = d.log().length();
            d.startProcess();
            port = d.pg("main").getInteger("port");
            d.pgbench(port, "-n", "-c", "2", "-j", "2", "-t", "75");
            checkpoint(d, port);
            awaitLine(d, logBefore, "ready data directory of timeline " + tl + " at the anchor \\S+ written whole");
            String lastDump = d.dump(port);
            d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@last").encode());
            awaitCurrent(d, root);

            // A branch at or after its anchor takes it.
            logBefore = d.log().length();
            int fast = d.branch("fast", "main@last");
            assertTrue(rebuildOf(d, "fast").contains(ReadyDirectories.TAKEN), rebuildOf(d, "fast") + "\n" + d.log());
            assertEquals(lastDump, d.dump(fast));
            d.amcheck(fast, "--all", "--install-missing");
            // and a new one is written after the take, with no step of main in between (the marker, not the log, tells)
            awaitCurrent(d, root);
            // The branch's own is written whole at its first step, though not in the 30 s after its start: its first
            // queries have the machine.
            LocalDateTime building = stamp(awaitLine(d, logBefore, "pg fast: building its data directory"));
            String own = awaitLine(d, logBefore, "ready data directory of timeline " + d.pg("fast").getString("timeline_id")
                    + " at the anchor \\S+ written whole");
            assertTrue(!stamp(own).isBefore(building.plusSeconds(30)), building + " / " + own);

            // A branch at an older point (an earlier anchor) takes it too when few enough blocks changed since (the
            // bringing back is checked byte for byte above), else writes its own: either way equal to the primary there.
            int mid = d.branch("mid", "main@mid");
            System.out.println("older branch: " + rebuildOf(d, "mid"));
            assertEquals(midDump, d.dump(mid));
            d.amcheck(mid, "--all", "--install-missing");
        }
    }

    /** Waits until the ready directory has its marker (written whole or updated, not taken). */
    private static void awaitCurrent(DaemonFixture d, Path root) throws InterruptedException {
        long deadline = System.nanoTime() + 240_000_000_000L;
        while (ReadyMarker.read(root).isEmpty() || !Files.isDirectory(root.resolve(ReadyDirectories.DATA))) {
            assertTrue(System.nanoTime() < deadline, "no ready directory in 4 minutes:\n" + d.log());
            Thread.sleep(200);
        }
    }

    /** The first line of the daemon's log past {@code from} (a length it had) matching {@code regex}, waited for. */
    private static String awaitLine(DaemonFixture d, int from, String regex) throws InterruptedException {
        Pattern line = Pattern.compile("(?m)^.*" + regex + ".*$");
        long deadline = System.nanoTime() + 240_000_000_000L;
        while (true) {
            String log = d.log();
            Matcher m = line.matcher(log.substring(Math.min(from, log.length())));
            if (m.find()) {
                return m.group();
            }
            assertTrue(System.nanoTime() < deadline, "no line " + regex + " in 4 minutes:\n" + log);
            Thread.sleep(200);
        }
    }

    /** When a line of the daemon's log was written (its stamp, to the millisecond). */
    private static LocalDateTime stamp(String line) {
        return LocalDateTime.parse(line.substring(0, 23).replace(' ', 'T'));
    }

    /** A CHECKPOINT on the primary; its checkpoint LSN. */
    private static Lsn checkpoint(DaemonFixture d, int port) throws Exception {
        d.psql(port, "CHECKPOINT");
        return Lsn.parse(d.psql(port, "SELECT checkpoint_lsn FROM pg_control_checkpoint()"));
    }

    /** Waits for the log line of the ready directory brought to the anchor at {@code checkpoint}. */
    private static void awaitReady(DaemonFixture d, Lsn checkpoint, String how) throws InterruptedException {
        Pattern line = Pattern.compile("ready data directory of timeline \\S+ at the anchor " + Pattern.quote(checkpoint.toString())
                + " " + how);
        long deadline = System.nanoTime() + 240_000_000_000L;
        while (!line.matcher(d.log()).find()) {
            assertTrue(System.nanoTime() < deadline, "no ready directory at " + checkpoint + " (" + how
                    + ") in 4 minutes:\n" + d.log());
            Thread.sleep(200);
        }
    }

    /** The daemon's report of the rebuild of pg {@code name}'s data directory. */
    private static String rebuildOf(DaemonFixture d, String name) {
        Matcher m = Pattern.compile("rebuilt \\S+/" + Pattern.quote(name) + " from .*bytes to replay\\)").matcher(d.log());
        String last = null;
        while (m.find()) {
            last = m.group();
        }
        assertTrue(last != null, "no rebuild of " + name + " in the log:\n" + d.log());
        return last;
    }

    /** Same paths (files and directories), same bytes in every file. */
    private static void assertSameTree(Path expected, Path actual) throws Exception {
        Map<String, Path> e = tree(expected);
        Map<String, Path> a = tree(actual);
        assertEquals(e.keySet(), a.keySet());
        int files = 0;
        for (Map.Entry<String, Path> f : e.entrySet()) {
            if (Files.isRegularFile(f.getValue())) {
                assertTrue(Files.isRegularFile(a.get(f.getKey())), f.getKey());
                byte[] want = Files.readAllBytes(f.getValue());
                byte[] got = Files.readAllBytes(a.get(f.getKey()));
                if (!Arrays.equals(want, got)) {
                    assertArrayEquals(want, got, f.getKey() + " differs (" + want.length + " / " + got.length + " bytes)");
                }
                files++;
            }
        }
        System.out.println("ready directory byte-equal to a start's: " + files + " files");
    }

    private static Map<String, Path> tree(Path root) throws Exception {
        Map<String, Path> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                out.put(root.relativize(p).toString(), p);
            }
        }
        return out;
    }
}
