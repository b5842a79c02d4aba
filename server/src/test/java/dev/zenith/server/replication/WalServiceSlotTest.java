package dev.zenith.server.replication;

import dev.zenith.server.testing.WalServiceClients;
import dev.zenith.server.testing.WalServiceTestBase;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.segment.WalSegments;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A permanent physical slot used by a real pg_receivewal: it advances with the client's feedback and
 * survives a daemon restart (as PostgreSQL's slots do); a dropped one stays dropped. One made by
 * {@code pg_receivewal --create-slot} keeps its WAL from garbage collection across restarts, and
 * pg_receivewal finds where to resume with READ_REPLICATION_SLOT. A slot in use is refused to others,
 * or waited for (DROP_REPLICATION_SLOT ... WAIT); names are checked and answered as PostgreSQL does.
 */
@Tag("pg")
class WalServiceSlotTest extends WalServiceTestBase {
    @Test
    void aPermanentSlotAdvancesWithItsClientAndSurvivesRestarts() throws Exception {
        int port = d.createPg("main").getInteger("port");
        d.psql(port, "CREATE TABLE t (id int, v text)");
        WalServiceClients.Result created = clients.psql("", "CREATE_REPLICATION_SLOT keep PHYSICAL RESERVE_WAL");
        assertEquals(0, created.exitCode(), created.output());
        Lsn reserved = restartLsn("keep");

        Path out = Files.createDirectories(work.resolve("received"));
        Process receiver = clients.tool("pg_receivewal", "-D", out.toString(), "-S", "keep", "--synchronous",
                "--no-loop").redirectErrorStream(true).redirectOutput(work.resolve("pg_receivewal.log").toFile()).start();
        Lsn advanced;
        try {
            d.psql(port, "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 50000) g");
            Lsn written = Lsn.parse(d.psql(port, "SELECT pg_current_wal_flush_lsn()"));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            do {
                assertTrue(receiver.isAlive(), "pg_receivewal exited: " + Files.readString(work.resolve("pg_receivewal.log")));
                assertTrue(System.nanoTime() < deadline, "the slot never reached " + written + "; it is at "
                        + restartLsn("keep"));
                Thread.sleep(200);
                advanced = restartLsn("keep");
            } while (advanced.isBefore(written));
        } finally {
            receiver.destroy();
            receiver.waitFor(1, TimeUnit.MINUTES);
        }
        assertTrue(advanced.isAfter(reserved), advanced + " after " + reserved);

        d.restartInProcess();
        assertEquals(advanced, restartLsn("keep"), "the slot's position survives a restart");
        assertTrue(clients.psql("", "CREATE_REPLICATION_SLOT keep PHYSICAL").output().contains("already exists"));

        assertEquals(0, clients.psql("", "DROP_REPLICATION_SLOT keep").exitCode());
        d.restartInProcess();
        assertEquals("||", clients.psql("", "READ_REPLICATION_SLOT keep").output(), "a dropped slot stays dropped");
    }

    @Test
    void aSlotMadeByPgReceivewalKeepsItsWalThroughRestartsAndGarbageCollection() throws Exception {
        int port = d.createPg("main").getInteger("port");
        d.psql(port, "CREATE TABLE t (id int, v text)");
        writeAndTakeImage(port); // history before the slot, which gc may free
        assertTrue(clients.run("pg_receivewal", "--create-slot", "-S", "keep").isEmpty());
        // as in PostgreSQL, its restart LSN is set by the first position its client confirms
        assertEquals("physical||", clients.psql("", "READ_REPLICATION_SLOT keep").output());
        Lsn written = Lsn.parse(d.psql(port, "SELECT pg_current_wal_flush_lsn()"));
        Path first = Files.createDirectories(work.resolve("first"));
        Process receiver = clients.tool("pg_receivewal", "-D", first.toString(), "-S", "keep", "--no-loop",
                "--synchronous", "-s", "1").redirectErrorStream(true).redirectOutput(work.resolve("first.log").toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!clients.psql("", "READ_REPLICATION_SLOT keep").output().matches("physical\\|.+\\|1")
                    || restartLsn("keep").isBefore(written)) {
                assertTrue(receiver.isAlive() && System.nanoTime() < deadline, Files.readString(work.resolve("first.log")));
                Thread.sleep(200);
            }
        } finally {
            receiver.destroy();
            receiver.waitFor(1, TimeUnit.MINUTES);
        }
        Lsn reserved = restartLsn("keep");
        writeAndTakeImage(port); // newer images: without the slot, gc would free the WAL at its restart LSN
        writeAndTakeImage(port);
        d.restartInProcess();
        assertEquals(reserved, restartLsn("keep"), "the slot and its position survive a restart");

        JsonObject freed = gc();
        assertTrue(freed.getLong("wal_bytes_freed") > 0, "WAL from before the slot goes: " + freed.encode());
        // An empty directory: pg_receivewal asks READ_REPLICATION_SLOT where to start, from the segment of the
        // slot's restart LSN, which is still there.
        Lsn end = Lsn.parse(d.psql(d.pg("main").getInteger("port"), "SELECT pg_current_wal_flush_lsn()"));
        Path out = Files.createDirectories(work.resolve("resumed"));
        String log = clients.run("pg_receivewal", "-D", out.toString(), "-S", "keep", "--no-loop", "-v", "-E", end.toString());
        String segment = WalSegments.fileName(1, reserved);
        assertTrue(log.contains("starting log streaming at " + Lsn.of(reserved.value() - reserved.value() % (16 << 20))
                + " (timeline 1)"), log);
        assertTrue(Files.exists(out.resolve(segment)) || Files.exists(out.resolve(segment + ".partial")), log);

        assertTrue(clients.run("pg_receivewal", "--drop-slot", "-S", "keep").isEmpty());
        JsonObject withoutSlot = gc();
        assertTrue(withoutSlot.getLong("wal_bytes_freed") > 0, "the slot had kept that WAL: " + withoutSlot.encode());
    }

    /** Some WAL, then a clean stop and start: a new image, so the history before it can be collected. */
    private void writeAndTakeImage(int port) throws Exception {
        d.psql(port, "INSERT INTO t SELECT g, repeat(md5(g::text), 10) FROM generate_series(1, 60000) g"); // ~20 MB of WAL
        d.action("main", "stop");
        d.action("main", "start");
    }

    private JsonObject gc() throws Exception {
        return (JsonObject) d.ok(200, "POST", "/storages/local/gc", new JsonObject().put("pitr", "0s").encode());
    }

    @Test
    void aSlotInUseIsRefusedToOthersOrWaitedFor() throws Exception {
        int port = d.createPg("main").getInteger("port");
        assertEquals(0, clients.psql("", "CREATE_REPLICATION_SLOT busy PHYSICAL RESERVE_WAL").exitCode());
        Path out = Files.createDirectories(work.resolve("busy"));
        Process streaming = clients.tool("pg_receivewal", "-D", out.toString(), "-S", "busy", "--no-loop")
                .redirectErrorStream(true).redirectOutput(work.resolve("streaming.log").toFile()).start();
        Process waiting = null;
        try {
            d.psql(port, "CREATE TABLE t AS SELECT 1 AS x");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!streams(out)) { // its .partial segment: START_REPLICATION took the slot
                assertTrue(streaming.isAlive() && System.nanoTime() < deadline, Files.readString(work.resolve("streaming.log")));
                Thread.sleep(100);
            }
            WalServiceClients.Result refused = clients.psql("", "DROP_REPLICATION_SLOT busy");
            assertTrue(refused.exitCode() != 0 && refused.output().matches("(?s).*ERROR:  replication slot \"busy\" is active for PID \\d+.*"),
                    refused.output());
            Process second = clients.tool("pg_receivewal", "-D", Files.createDirectories(work.resolve("second")).toString(),
                    "-S", "busy", "--no-loop").redirectErrorStream(true).start();
            String secondLog = new String(second.getInputStream().readAllBytes());
            assertTrue(second.waitFor(60, TimeUnit.SECONDS) && second.exitValue() != 0, secondLog);
            assertTrue(secondLog.contains("replication slot \"busy\" is active for PID"), secondLog);

            waiting = psqlInBackground("DROP_REPLICATION_SLOT busy WAIT");
            assertFalse(waiting.waitFor(2, TimeUnit.SECONDS), "WAIT waits while the slot is in use");
            streaming.destroy();
            assertTrue(waiting.waitFor(60, TimeUnit.SECONDS), "and drops it once released");
            assertEquals(0, waiting.exitValue(), new String(waiting.getInputStream().readAllBytes()));
            assertEquals("||", clients.psql("", "READ_REPLICATION_SLOT busy").output());
        } finally {
            streaming.destroy();
            streaming.waitFor(1, TimeUnit.MINUTES);
            if (waiting != null) {
                waiting.destroyForcibly();
            }
        }
    }

    private static boolean streams(Path receiveDir) throws Exception {
        try (var files = Files.list(receiveDir)) {
            return files.anyMatch(f -> f.getFileName().toString().endsWith(".partial"));
        }
    }

    private Process psqlInBackground(String command) throws Exception {
        return d.withCredentials(new ProcessBuilder(d.pg.bin("psql").toString(), "-X", "-w", "-At", "-d", "host=127.0.0.1 port="
                + d.pgPort + " user=" + WalServiceClients.USER + " dbname=replication replication=true", "-c", command), d.pgPort)
                .redirectErrorStream(true).start();
    }

    /** What vanilla PostgreSQL 15 answers, we answer: bad names, a slot that reserved no WAL, no slot at all. */
    @Test
    void slotNamesAndReadsAnswerAsPostgreSqlDoes() throws Exception {
        d.createPg("main");
        try (PgCluster vanilla = PgCluster.initdb()) {
            vanilla.allowReplication().start();
            for (String command : List.of("CREATE_REPLICATION_SLOT \"../../x\" PHYSICAL",
                    "CREATE_REPLICATION_SLOT \"Bad Name; é\" PHYSICAL", "CREATE_REPLICATION_SLOT \"\" PHYSICAL", "DROP_REPLICATION_SLOT \"\"",
                    "CREATE_REPLICATION_SLOT lazy PHYSICAL", "READ_REPLICATION_SLOT lazy", "READ_REPLICATION_SLOT nothing",
                    "DROP_REPLICATION_SLOT nothing", "DROP_REPLICATION_SLOT lazy WAIT", "READ_REPLICATION_SLOT lazy")) {
                WalServiceClients.Result ours = clients.psql("", command);
                WalServiceClients.Result theirs = vanillaPsql(vanilla, command);
                assertEquals(theirs, ours, command);
            }
        }
        WalServiceClients.Result tooLong = clients.psql("", "CREATE_REPLICATION_SLOT " + "a".repeat(64) + " PHYSICAL");
        assertTrue(tooLong.output().contains("replication slot name \"" + "a".repeat(64) + "\" is too long"), tooLong.output());
        assertEquals(0, clients.psql("", "CREATE_REPLICATION_SLOT " + "a".repeat(63) + " PHYSICAL").exitCode());
        String refused = assertThrows(java.io.IOException.class,
                () -> clients.run("pg_receivewal", "--create-slot", "-S", "Bad Name")).getMessage();
        assertTrue(refused.contains("replication slot name \"Bad Name\" contains invalid character"), refused);
        assertTrue(clients.psql("", "READ_REPLICATION_SLOT bad").output().equals("||"));
    }

    private static WalServiceClients.Result vanillaPsql(PgCluster vanilla, String command) throws Exception {
        Process p = new ProcessBuilder(vanilla.installation().bin("psql").toString(), "-X", "-At", "-d",
                "host=127.0.0.1 port=" + vanilla.port() + " user=postgres dbname=replication replication=true", "-c", command)
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        return new WalServiceClients.Result(p.waitFor(), out);
    }

    private Lsn restartLsn(String slot) throws Exception {
        String row = clients.psql("", "READ_REPLICATION_SLOT " + slot).output();
        assertTrue(row.matches("physical\\|[0-9A-F]+/[0-9A-F]+\\|1"), row);
        return Lsn.parse(row.split("\\|")[1]);
    }
}
