package dev.zenith.storage;

import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.WalAppend;
import dev.zenith.wal.Lsn;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A process killed (SIGKILL) in the middle of WAL appends leaves a usable store holding every acknowledged byte. */
class CrashSafetyTest {
    @TempDir
    Path tmp;

    @Test
    void killedWriterLosesNothingAcknowledged() throws Exception {
        Path dir = tmp.resolve("store");
        TimelineId tl = CrashChild.newStore(dir);
        Lsn acknowledged = null;
        for (int round = 0; round < 2; round++) {
            Process child = CrashChild.start(dir, tl);
            try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (int i = 0; i < 30; i++) {
                    String line = out.readLine();
                    assertNotNull(line, "child ended early");
                    acknowledged = Lsn.parse(line.trim());
                }
            } finally {
                child.destroyForcibly(); // SIGKILL: no shutdown hooks, no env close
                child.waitFor();
            }
        }
        try (Store s = Store.open(dir)) {
            Lsn end = s.wal().end(tl).orElseThrow();
            assertTrue(!end.isBefore(acknowledged), "acknowledged " + acknowledged + " but store ends at " + end);
            Lsn start = Lsn.parse("0/1000000");
            long chunks = end.minus(start) / CrashChild.CHUNK;
            for (long i = 0; i < chunks; i++) {
                assertArrayEquals(CrashChild.chunk(i), s.wal().read(tl, start.plus(i * CrashChild.CHUNK), CrashChild.CHUNK));
            }
            s.wal().append(List.of(WalAppend.raw(tl, end, new byte[] {1, 2, 3})));
            assertEquals(end.plus(3), s.wal().end(tl).orElseThrow());
        }
    }
}
