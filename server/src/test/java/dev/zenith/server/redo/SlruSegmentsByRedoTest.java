package dev.zenith.server.redo;

import dev.zenith.pgexec.FileTrees;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.server.testing.RawPageClient;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.SlruKind;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * GetSlruSegment through pagestream v3 at an LSN between images (a running primary, no clean stop since
 * the last image): every pg_xact and pg_multixact segment equals the file of a reference data directory that
 * PostgreSQL recovered to that LSN from the image (full crash recovery, clean stop).
 */
@Tag("pg")
@Tag("slow")
class SlruSegmentsByRedoTest {
    @Test
    void slruSegmentsBetweenImagesEqualTheFilesOfPostgresRecoveredToThatLsn() throws Exception {
        try (DaemonFixture d = new DaemonFixture()) {
            GetPageByRedoTest.Primary p = GetPageByRedoTest.Primary.start(d, false);
            int port = p.port();
            try {
                d.pgbench(port, "-n", "-c", "2", "-t", "100");
                for (int i = 1; i <= 10; i++) {
                    // a row locked, then updated in a subtransaction: a multixact (locker and updater)
                    d.psql(port, "BEGIN; SELECT * FROM pgbench_branches WHERE bid = 1 FOR SHARE; SAVEPOINT s;"
                            + " UPDATE pgbench_branches SET filler = '" + i + "' WHERE bid = 1; COMMIT");
                }
                Lsn target = GetPageByRedoTest.flushLsn(d, port);
                d.pgbench(port, "-n", "-c", "2", "-t", "25"); // the LSN is history now
                Path reference = p.reference(target, "reference");

                String tenant = ((JsonObject) d.ok(200, "GET", "/storages/local", null)).getString("tenant_id");
                Map<SlruKind, Integer> compared = new HashMap<>();
                try (RawPageClient c = RawPageClient.login(d.pgPort, "zenith", "redo-secret")) {
                    c.openStream("v3", tenant, p.timeline());
                    long reqid = 0;
                    for (SlruKind kind : List.of(SlruKind.CLOG, SlruKind.MULTIXACT_OFFSETS, SlruKind.MULTIXACT_MEMBERS)) {
                        try (Stream<Path> files = Files.list(reference.resolve(kind.directory()))) {
                            for (Path f : files.sorted().toList()) {
                                int segment = Integer.parseInt(f.getFileName().toString(), 16);
                                c.sendCopy(RawPageClient.v3(4, ++reqid, target.value(), target.value(), 5)
                                        .put((byte) kind.id()).putInt(segment).array());
                                ByteBuffer answer = RawPageClient.v3Answer(c.copyData(), 105, reqid);
                                int blocks = answer.getInt(30);
                                byte[] got = Arrays.copyOfRange(answer.array(), 34, 34 + blocks * 8192);
                                assertArrayEquals(Files.readAllBytes(f), got, kind.segmentPath(segment) + " at " + target);
                                compared.merge(kind, 1, Integer::sum);
                            }
                        }
                    }
                }
                System.out.println("SLRU segments at " + target + " equal to the reference: " + compared);
                assertEquals(3, compared.size(), compared.toString());
            } finally {
                FileTrees.delete(p.work());
            }
        }
    }
}
