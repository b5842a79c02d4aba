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
 * marker names that start). A ready directory whose marker is gone (a crash mid-update) is not taken: a branch
 * writes its own, and the next step writes the ready one whole again. A branch at a snapshot at or after the
 * anchor takes it (renamed, nothing written) and dumps equal to the primary there, pg_amcheck clean; a branch
 * at an older snapshot (an earlier anchor) writes its own, equal too.
 */
@Tag("pg")
@Tag("slow")
class ReadyDirectoriesTest {
    private static final String TAKEN = "its ready directory renamed into place";

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
            d.pgbench(port, "-n", "-c", "2", "-j", "2", "-T", "2");
            awaitReady(d, checkpoint(d, port), "(written whole|updated from)"); // a timed checkpoint may come first

            d.pgbench(port, "-n", "-c", "2", "-j", "2", "-T", "2");
            String midDump = d.dump(port);
            d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@mid").encode());
            d.psql(port, "DROP TABLE doomed");
            d.psql(port, "TRUNCATE pgbench_history");
            d.psql(port, "DELETE FROM shrinking WHERE id > 1000");
            d.psql(port, "VACUUM shrinking"); // cuts its empty tail
            d.psql(port, "CREATE TABLE fresh AS SELECT generate_series(1, 30000) AS id");
            d.psql(port, "CREATE INDEX ON fresh (id)");
            d.pgbench(port, "-n", "-c", "2", "-j", "2", "-T", "2");
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

                // A crash mid-update: the marker went first; whatever the files hold, they are never taken.
                Files.delete(root.resolve(ReadyMarker.FILE));
                try (Stream<Path> s = Files.walk(root.resolve(ReadyDirectories.DATA).resolve("base"))) {
                    Path some = s.filter(Files::isRegularFile).filter(p -> p.getFileName().toString().matches("\\d+"))
                            .findFirst().orElseThrow();
                    Files.write(some, new byte[8192]);
                }
                Path target = reference.resolveSibling(reference.getFileName() + "-taken");
                try (ReadyDirectories ready = new ReadyDirectories(true)) {
                    assertFalse(ready.take(store, plan, target));
                }
                assertFalse(Files.exists(target));
            } finally {
                FileTrees.delete(reference);
            }

            // The next step writes it whole again (the restarted primary's own end-of-recovery checkpoint may be that step).
            long wholeBefore = count(d.log(), "written whole");
            d.startProcess();
            port = d.pg("main").getInteger("port");
            d.pgbench(port, "-n", "-c", "2", "-j", "2", "-T", "2");
            awaitReady(d, checkpoint(d, port), "(written whole|updated from)");
            assertTrue(count(d.log(), "written whole") > wholeBefore, d.log());
            String lastDump = d.dump(port);
            d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@last").encode());

            // A branch at an older point starts from an earlier anchor: not this ready directory, its own, as before.
            int mid = d.branch("mid", "main@mid");
            assertFalse(rebuildOf(d, "mid").contains(TAKEN), rebuildOf(d, "mid"));
            assertTrue(Files.isDirectory(root.resolve(ReadyDirectories.DATA)), "the ready directory went");
            assertEquals(midDump, d.dump(mid));
            d.amcheck(mid, "--all", "--install-missing");

            // A branch at or after its anchor takes it.
            int fast = d.branch("fast", "main@last");
            assertTrue(rebuildOf(d, "fast").contains(TAKEN), rebuildOf(d, "fast") + "\n" + d.log());
            assertEquals(lastDump, d.dump(fast));
            d.amcheck(fast, "--all", "--install-missing");
            // and a new one is written after the take, with no step of main in between (the branches' own timelines
            // get theirs too: the marker, not the log, tells)
            long deadline = System.nanoTime() + 240_000_000_000L;
            while (ReadyMarker.read(root).isEmpty() || !Files.isDirectory(root.resolve(ReadyDirectories.DATA))) {
                assertTrue(System.nanoTime() < deadline, "no new ready directory after the take:\n" + d.log());
                Thread.sleep(200);
            }
        }
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

    private static long count(String log, String what) {
        return Pattern.compile(Pattern.quote(what)).matcher(log).results().count();
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
