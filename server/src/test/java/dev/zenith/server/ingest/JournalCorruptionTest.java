package dev.zenith.server.ingest;

import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.server.testing.PgbenchLedger;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The scenario: acknowledged WAL still only in the journal (LMDB commits held back), daemon and
 * compute killed with -9, one byte flipped in the payload of a middle frame of the last journal file.
 * The storage must come up unavailable, saying which file, offset and WAL are damaged, and cut nothing:
 * once the byte is repaired, every commit pgbench saw acknowledged is there.
 */
@Tag("pg")
class JournalCorruptionTest {
    /** The journal's frame header (WalJournal): magic at 0, start LSN at 12, payload length at 20; 32 bytes. */
    private static final int HEADER_BYTES = 32;

    DaemonFixture d;

    @AfterEach
    void stop() throws Exception {
        if (d != null) {
            d.close();
        }
    }

    @Test
    void aDamagedMiddleFrameMakesTheStorageUnavailableAndLosesNothing() throws Exception {
        d = new DaemonFixture();
        // Nothing reaches LMDB while pgbench runs: the acknowledged WAL is in the journal only.
        d.receiverSettings.put("index_interval_ms", 3_600_000).put("max_batch_bytes", 1 << 28);
        d.startProcess();
        JsonObject pg = d.createPg("main");
        int port = pg.getInteger("port");
        d.psql(port, PgbenchLedger.SETUP);
        PgbenchLedger bench = new PgbenchLedger(d, d.home.resolve("bench"));
        bench.start(port, 4, 60);
        Thread.sleep(6000);
        d.killProcess();
        DaemonFixture.killCompute(pg);
        bench.await();

        Path journal = newestJournalWithFrames(d.home.resolve("storages/local/wal-journal"), 3);
        byte[] intact = Files.readAllBytes(journal);
        List<long[]> frames = frames(intact, Files.getFileStore(journal).getBlockSize());
        long[] victim = frames.get(frames.size() / 2); // {offset, start LSN, length}
        byte[] damaged = intact.clone();
        damaged[(int) (victim[0] + HEADER_BYTES + victim[2] / 2)] ^= 0x04;
        Files.write(journal, damaged);

        d.startProcess();
        JsonObject storage = (JsonObject) d.ok(200, "GET", "/storages/local", null);
        assertEquals("unavailable", storage.getString("status"), storage.encode());
        String error = storage.getString("error");
        String range = dev.zenith.wal.Lsn.of(victim[1]) + ".." + dev.zenith.wal.Lsn.of(victim[1] + victim[2]);
        assertTrue(error.contains(journal.toString()) && error.contains("offset " + victim[0]) && error.contains(range),
                "the error names the file, offset and WAL: " + error);
        assertTrue(d.log().contains(range), "and the log says it too");
        HttpResponse<String> show = d.request("GET", "/pgs/main", null);
        assertEquals(409, show.statusCode(), show.body());
        assertArrayEquals(damaged, Files.readAllBytes(journal), "the journal is left as it was");

        // Repaired, the storage opens and replays all of it; the pg that was running starts again.
        d.killProcess();
        Files.write(journal, intact);
        d.startProcess();
        d.awaitJson("/pgs/main", j -> "running".equals(j.getString("status")));
        bench.assertAcknowledgedStored(d.psql(port, PgbenchLedger.COUNTS));
    }

    /**
     * The newest journal file holding at least {@code atLeast} frames. The very newest can be empty: the
     * journal may have rotated to a fresh file just before the kill.
     */
    private static Path newestJournalWithFrames(Path root, int atLeast) throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.walk(root)) {
            files = s.filter(p -> p.getFileName().toString().endsWith(".journal")).sorted(Comparator.reverseOrder()).toList();
        }
        for (Path file : files) {
            if (frames(Files.readAllBytes(file), Files.getFileStore(file).getBlockSize()).size() >= atLeast) {
                return file;
            }
        }
        throw new AssertionError("no journal file under " + root + " has " + atLeast + " frames: " + files);
    }

    /** The frames of a journal file's generation, in order: {offset, start LSN, payload length}. */
    private static List<long[]> frames(byte[] file, long blockSize) {
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        List<long[]> out = new ArrayList<>();
        long generation = b.getLong(4);
        for (int at = 0; at + HEADER_BYTES <= file.length && b.getInt(at) == 0x5a574a32 && b.getLong(at + 4) == generation; ) {
            int length = b.getInt(at + 20);
            out.add(new long[] {at, b.getLong(at + 12), length});
            at += (int) ((HEADER_BYTES + length + blockSize - 1) / blockSize * blockSize);
        }
        return out;
    }
}
