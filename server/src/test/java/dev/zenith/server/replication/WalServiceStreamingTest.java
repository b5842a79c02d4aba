package dev.zenith.server.replication;

import dev.zenith.server.testing.WalServiceTestBase;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Real pg_receivewal against the daemon's WAL service: the compute's own segments, byte for byte, as they are written. */
@Tag("pg")
class WalServiceStreamingTest extends WalServiceTestBase {
    @Test
    void pgReceiveWalWritesTheComputesSegmentsAndKeepsFollowing() throws Exception {
        JsonObject pg = d.createPg("main");
        int port = pg.getInteger("port");
        Path computeWal = Path.of(pg.getString("pgdata")).resolve("pg_wal");
        d.psql(port, "CREATE TABLE t (id int, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 20000) g");
        String firstSegment = d.psql(port, "SELECT pg_walfile_name(pg_current_wal_flush_lsn())");

        Path out = Files.createDirectories(work.resolve("received"));
        Process receiver = clients.tool("pg_receivewal", "-D", out.toString(), "--no-loop", "-v")
                .redirectErrorStream(true).redirectOutput(work.resolve("pg_receivewal.log").toFile()).start();
        try {
            awaitFile(receiver, out.resolve(firstSegment + ".partial"));
            // WAL written after pg_receivewal connected must reach it through the store.
            for (int i = 0; i < 3; i++) {
                d.psql(port, "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 20000) g");
                d.psql(port, "SELECT pg_switch_wal()");
            }
            d.psql(port, "INSERT INTO t VALUES (0, 'after the last switch')");
            String current = d.psql(port, "SELECT pg_walfile_name(pg_current_wal_flush_lsn())");
            List<String> complete = segmentsBetween(firstSegment, current);
            assertTrue(complete.size() >= 3, "expected at least 3 completed segments, got " + complete);
            for (String name : complete) {
                awaitFile(receiver, out.resolve(name));
                assertArrayEquals(Files.readAllBytes(computeWal.resolve(name)), Files.readAllBytes(out.resolve(name)),
                        "segment " + name + " differs from the compute's pg_wal");
            }
            // And it keeps following: the segment in progress is there as .partial.
            awaitFile(receiver, out.resolve(current + ".partial"));
        } finally {
            receiver.destroy();
            receiver.waitFor(1, TimeUnit.MINUTES);
        }
        assertEquals(List.of(), Files.readAllLines(work.resolve("pg_receivewal.log")).stream()
                .filter(l -> l.contains("error") || l.contains("FATAL")).toList(), "pg_receivewal reported errors");
    }

    /** Every segment name from {@code first} up to, not including, {@code current} (one timeline, 16 MiB segments). */
    private static List<String> segmentsBetween(String first, String current) {
        List<String> names = new ArrayList<>();
        long from = segno(first);
        long to = segno(current);
        for (long s = from; s < to; s++) {
            names.add(first.substring(0, 8) + String.format("%08X%08X", s / 256, s % 256));
        }
        return names;
    }

    private static long segno(String name) {
        return Long.parseLong(name.substring(8, 16), 16) * 256 + Long.parseLong(name.substring(16, 24), 16);
    }

    private void awaitFile(Process receiver, Path file) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
        while (!Files.exists(file)) {
            if (!receiver.isAlive()) {
                throw new AssertionError("pg_receivewal exited " + receiver.exitValue() + ": "
                        + Files.readString(work.resolve("pg_receivewal.log")));
            }
            if (System.nanoTime() > deadline) {
                try (Stream<Path> s = Files.list(file.getParent())) {
                    throw new AssertionError(file.getFileName() + " never appeared; have " + s.toList() + "; log: "
                            + Files.readString(work.resolve("pg_receivewal.log")) + "\ndaemon log tail: " + tail(d.log()));
                }
            }
            Thread.sleep(100);
        }
    }

    static String tail(String s) {
        return s.length() > 4000 ? s.substring(s.length() - 4000) : s;
    }
}
