package dev.zenith.server.replication;

import dev.zenith.server.testing.WalServiceClients;
import dev.zenith.server.testing.WalServiceTestBase;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * After a promotion the WAL service serves the new PostgreSQL timeline: its history file, and a
 * pg_receivewal that starts on the old timeline is led across the switch point (end of timeline)
 * onto the new one, getting the promoted compute's WAL.
 */
@Tag("pg")
class WalServicePromotionTest extends WalServiceTestBase {

    @Test
    void newTimelineHistoryAndEndOfTimelineForPgReceiveWal() throws Exception {
        JsonObject main = d.createPg("main");
        int primary = main.getInteger("port");
        d.psql(primary, "CREATE TABLE marks (id int); SELECT pg_switch_wal()");
        d.psql(primary, "INSERT INTO marks SELECT generate_series(1, 100)");
        d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "rep").put("start", false).encode());
        int replica = ((JsonObject) d.ok(200, "POST", "/pgs/rep/actions",
                new JsonObject().put("action", "start").put("is_replica", true).encode())).getInteger("port");
        for (int i = 0; i < 600 && !"100".equals(marksOn(replica)); i++) {
            Thread.sleep(100);
        }
        d.action("main", "stop");
        JsonObject rep = d.action("rep", "promote");
        assertEquals(2, rep.getInteger("pg_timeline"));
        d.psql(replica, "INSERT INTO marks SELECT generate_series(101, 2000)");
        Lsn end = Lsn.parse(d.psql(replica, "SELECT pg_current_wal_flush_lsn()"));
        Path repWal = Path.of(rep.getString("pgdata")).resolve("pg_wal");
        byte[] history = Files.readAllBytes(repWal.resolve("00000002.history"));
        Lsn switchPoint = Lsn.parse(new String(history).strip().split("\t")[1]);

        String options = "options='-c zenith.pg=rep'";
        assertTrue(clients.psql(options, "IDENTIFY_SYSTEM").output().contains("|2|"));
        WalServiceClients.Result h = clients.psql(options, "TIMELINE_HISTORY 2");
        assertEquals(0, h.exitCode(), h.output());
        assertEquals("00000002.history|" + new String(history).strip(), h.output());

        // Start on timeline 1 just before the switch: a complete placeholder segment of timeline 1
        // makes pg_receivewal ask for the next one, which holds the switch point.
        long switchSegment = switchPoint.value() / (16 << 20);
        Path out = Files.createDirectories(work.resolve("received"));
        try (var f = new java.io.RandomAccessFile(out.resolve(segmentName(1, switchSegment - 1)).toFile(), "rw")) {
            f.setLength(16 << 20);
        }
        String log = clients.run("pg_receivewal", "-d", "host=127.0.0.1 port=" + d.pgPort + " user=zenith " + options,
                "-D", out.toString(), "--no-loop", "-v", "-E", end.toString());
        assertTrue(log.contains("switched to timeline 2 at " + switchPoint), log);
        assertArrayEquals(history, Files.readAllBytes(out.resolve("00000002.history")));
        String newSegment = segmentName(2, end.value() / (16 << 20));
        Path received = Files.exists(out.resolve(newSegment)) ? out.resolve(newSegment) : out.resolve(newSegment + ".partial");
        int upTo = (int) (end.value() % (16 << 20));
        assertArrayEquals(Arrays.copyOf(Files.readAllBytes(repWal.resolve(newSegment)), upTo),
                Arrays.copyOf(Files.readAllBytes(received), upTo), "timeline 2 WAL differs from the promoted compute's");
    }

    private static String segmentName(int tli, long segno) {
        return String.format("%08X%08X%08X", tli, segno / 256, segno % 256);
    }

    /** The replica's count of marks; null while it has not replayed the table's creation yet. */
    private String marksOn(int replica) {
        try {
            return d.psql(replica, "SELECT count(*) FROM marks");
        } catch (java.io.IOException e) {
            if (e.getMessage().contains("relation \"marks\" does not exist")) {
                return null;
            }
            throw new java.io.UncheckedIOException(e);
        }
    }
}
