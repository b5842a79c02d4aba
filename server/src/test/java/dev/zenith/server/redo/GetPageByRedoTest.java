package dev.zenith.server.redo;

import dev.zenith.pgexec.FileTrees;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.server.testing.RawPageClient;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * GetPage@LSN through the daemon's page service (Neon pagestream v3) on a primary that keeps running
 * pgbench with checkpoints and no clean stop: the daemon captures an anchor at each checkpoint,
 * materializes in the background, and answers at LSNs after several checkpoints (and past the last
 * one, by a redo run on demand) with every main, visibility-map and init-fork block of a reference
 * data directory built by full crash recovery from the last clean stop to that LSN.
 */
@Tag("pg")
@Tag("slow")
class GetPageByRedoTest {
    @Test
    void getPageAfterCheckpointsOfARunningPrimaryEqualsFullCrashRecovery() throws Exception {
        try (DaemonFixture d = new DaemonFixture()) {
            Primary p = Primary.start(d);
            try {
                int port = p.port();
                Map<String, Lsn> targets = new LinkedHashMap<>();
                for (int round = 1; round <= 3; round++) {
                    d.pgbench(port, "-n", "-c", "4", "-j", "2", "-t", "75");
                    targets.put("after pgbench round " + round, flushLsn(d, port));
                    d.psql(port, "CHECKPOINT");
                }
                d.psql(port, "VACUUM pgbench_accounts");
                d.pgbench(port, "-n", "-c", "4", "-j", "2", "-t", "50");
                targets.put("past the last checkpoint", flushLsn(d, port));
                awaitSteps(d, 2);

                String tenant = ((JsonObject) d.ok(200, "GET", "/storages/local", null)).getString("tenant_id");
                PageComparison comparison = new PageComparison();
                int n = 0;
                for (Map.Entry<String, Lsn> t : targets.entrySet()) {
                    Path reference = p.reference(t.getValue(), "reference-" + n++);
                    String where = t.getValue() + " (" + t.getKey() + ")";
                    long started = System.nanoTime();
                    compare(d, tenant, p.timeline(), where, reference, t.getValue(), comparison);
                    System.out.println(where + ": every block through the page service in "
                            + (System.nanoTime() - started) / 1_000_000 + " ms");
                    FileTrees.delete(reference.getParent());
                }
                System.out.println("GetPage@LSN through pagestream against full crash recovery: " + comparison);
                assertEquals(List.of(), comparison.problems);
                assertTrue(comparison.byteEqual > 4 * 3_000, comparison.toString());
            } finally {
                FileTrees.delete(p.work());
            }
        }
    }

    /**
     * kill -9 of the daemon while a background step's redo run is under way (its scratch directory
     * exists): after the restart the leftover run is removed, the step is done again, and every page
     * answered equals the reference (nothing of the killed run was stored).
     */
    @Test
    void aStepCutShortByKillMinus9IsRedoneAfterRestart() throws Exception {
        try (DaemonFixture d = new DaemonFixture()) {
            Primary p = Primary.start(d);
            try {
                int port = p.port();
                d.pgbench(port, "-n", "-c", "4", "-j", "2", "-t", "100");
                Lsn target = flushLsn(d, port);
                Path scratch = d.home.resolve("redo");
                d.psql(port, "CHECKPOINT"); // its anchor starts a step (earlier ones may be under way too)
                long deadline = System.nanoTime() + 120_000_000_000L;
                int before = steps(d.log());
                while (!hasRun(scratch)) {
                    assertTrue(System.nanoTime() < deadline, "no redo run started:\n" + d.log());
                    before = steps(d.log());
                    Thread.sleep(5);
                }
                d.killProcess();
                String atKill = d.log();
                assertEquals(before, steps(atKill), "the step finished before the kill");
                d.startProcess();
                awaitSteps(d, before + 1);
                String sinceRestart = d.log().substring(atKill.length());
                assertTrue(sinceRestart.contains("removed 1 unfinished redo run directory"), sinceRestart);
                String tenant = ((JsonObject) d.ok(200, "GET", "/storages/local", null)).getString("tenant_id");
                java.util.regex.Matcher step = java.util.regex.Pattern.compile("materialized up to (\\S+) ").matcher(sinceRestart);
                assertTrue(step.find(), sinceRestart);
                PageComparison comparison = new PageComparison();
                int n = 0;
                // the redone step's own state (stored pages only), and a point before it (a run on demand)
                for (Lsn at : List.of(Lsn.parse(step.group(1)), target)) {
                    compare(d, tenant, p.timeline(), at.toString(), p.reference(at, "reference-" + n++), at, comparison);
                }
                System.out.println("after kill -9 and restart: " + comparison);
                assertEquals(List.of(), comparison.problems);
                assertTrue(comparison.byteEqual > 3_000, comparison.toString());
            } finally {
                FileTrees.delete(p.work());
            }
        }
    }

    /**
     * A daemon (its own JVM) with pg main: pgbench -i, a clean stop (its directory,
     * copied, is the image every reference starts from), started again; the references' WAL is its pg_wal.
     */
    record Primary(DaemonFixture d, int port, String timeline, Path pgdata, Path work, Path image) {
        static Primary start(DaemonFixture d) throws Exception {
            return start(d, true);
        }

        /** {@code ownJvm}: the daemon runs as a process, and logs to ZENITH_HOME/zenith.log (where steps are counted). */
        static Primary start(DaemonFixture d, boolean ownJvm) throws Exception {
            d.pgSettings.put("replication_password", "redo-secret");
            d.computeSettings.put("wal_keep_size", "4GB").put("max_wal_size", "4GB");
            if (ownJvm) {
                d.startProcess();
            } else {
                d.startInProcess();
            }
            int port = d.createPg("main").getInteger("port");
            d.pgbench(port, "-i", "-s", "1", "-q");
            d.action("main", "stop");
            JsonObject pg = d.pg("main");
            Path pgdata = Path.of(pg.getString("pgdata"));
            Path work = DaemonFixture.reachableTempDir("getpage-redo-");
            ReferenceDirectory.copyTree(pgdata, work.resolve("image"));
            // the daemon's replication slot: recovery with the references' settings (no slots) refuses it
            FileTrees.delete(work.resolve("image/pg_replslot"));
            java.nio.file.Files.createDirectory(work.resolve("image/pg_replslot"));
            d.action("main", "start");
            return new Primary(d, port, pg.getString("timeline_id"), pgdata, work, work.resolve("image"));
        }

        /** Full crash recovery from the image to {@code lsn}. */
        Path reference(Lsn lsn, String name) throws IOException {
            return ReferenceDirectory.build(d.pg, image, WalSource.segmentDirectory(pgdata.resolve("pg_wal")), lsn,
                    work.resolve(name));
        }
    }

    private static boolean hasRun(Path scratch) throws IOException {
        if (!java.nio.file.Files.isDirectory(scratch)) {
            return false;
        }
        try (var runs = java.nio.file.Files.newDirectoryStream(scratch, "run-*")) {
            return runs.iterator().hasNext();
        }
    }

    static Lsn flushLsn(DaemonFixture d, int port) throws IOException {
        return Lsn.parse(d.psql(port, "SELECT pg_current_wal_flush_lsn()").trim());
    }

    /** Background materialization's steps a log tells of (it logs each). */
    static int steps(String log) {
        return log.split("materialized up to", -1).length - 1;
    }

    /** Waits until background materialization has made {@code steps} steps. */
    static void awaitSteps(DaemonFixture d, int steps) throws InterruptedException {
        long deadline = System.nanoTime() + 180_000_000_000L;
        while (steps(d.log()) < steps) {
            assertTrue(System.nanoTime() < deadline, "background materialization made fewer than " + steps
                    + " steps in 3 minutes:\n" + d.log());
            Thread.sleep(200);
        }
    }

    /** Every compared block of the reference, asked at {@code lsn} through pagestream v3, pipelined. */
    static void compare(DaemonFixture d, String tenant, String timeline, String where, Path reference, Lsn lsn,
                        PageComparison comparison) throws IOException {
        try (RawPageClient c = RawPageClient.login(d.pgPort, "zenith", "redo-secret");
             ForkFiles ref = new ForkFiles(reference)) {
            c.openStream("v3", tenant, timeline);
            long reqid = 0;
            for (Map.Entry<RelTag, Long> fork : PageComparison.comparedForks(reference).entrySet()) {
                comparison.forks++;
                RelTag rel = fork.getKey();
                for (long first = 0; first < fork.getValue(); first += 64) {
                    List<Long> blocks = new ArrayList<>();
                    for (long b = first; b < Math.min(fork.getValue(), first + 64); b++) {
                        c.sendCopy(RawPageClient.getPageV3(reqid + blocks.size(), lsn.value(), lsn.value(),
                                rel.node().spcOid(), rel.node().dbOid(), rel.node().relNode(), rel.fork().id(), (int) b));
                        blocks.add(b);
                    }
                    for (long b : blocks) {
                        ByteBuffer answer = RawPageClient.v3Answer(c.copyData(), 102, reqid++);
                        byte[] got = Arrays.copyOfRange(answer.array(), 42, answer.array().length);
                        byte[] want = ref.read(rel, b);
                        if (Arrays.equals(want, got)) {
                            comparison.byteEqual++;
                        } else if (Arrays.equals(BufMask.mask(want, rel.fork(), b), BufMask.mask(got, rel.fork(), b))) {
                            comparison.maskedEqual++;
                        } else {
                            comparison.problem(where + ": " + rel.path() + " block " + b + " differs");
                        }
                    }
                }
            }
        }
    }
}
