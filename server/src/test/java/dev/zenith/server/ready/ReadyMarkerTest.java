package dev.zenith.server.ready;

import dev.zenith.pgexec.FileTrees;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A marker reads back as written in this boot of the machine; one written in another boot (whose files a crash of
 * the machine may have lost), a damaged one or none is no marker.
 */
class ReadyMarkerTest {
    @Test
    void onlyAWholeMarkerOfThisBootCounts() throws Exception {
        Path root = Files.createTempDirectory("ready-marker-");
        try {
            assertTrue(ReadyMarker.read(root).isEmpty());
            ReadyMarker m = new ReadyMarker("ab12", TimelineId.parse("0123456789abcdef0123456789abcdef"), Lsn.parse("0/1000"),
                    Lsn.parse("0/2000"));
            Files.createDirectories(root.resolve(ReadyDirectories.DATA));
            m.write(root);
            assertEquals(m, ReadyMarker.read(root).orElseThrow());

            Path file = root.resolve(ReadyMarker.FILE);
            JsonObject j = new JsonObject(Files.readString(file));
            assertTrue(ReadyMarker.bootId().isPresent(), "a Linux machine has a boot id");
            Files.writeString(file, j.copy().put("boot_id", "another-boot").encode());
            assertTrue(ReadyMarker.read(root).isEmpty(), "a marker of another boot counted");

            Files.writeString(file, j.encode().substring(0, j.encode().length() / 2));
            assertTrue(ReadyMarker.read(root).isEmpty(), "a damaged marker counted");

            Files.writeString(file, j.encode());
            ReadyMarker.remove(root);
            assertTrue(ReadyMarker.read(root).isEmpty());
        } finally {
            FileTrees.delete(root);
        }
    }
}
