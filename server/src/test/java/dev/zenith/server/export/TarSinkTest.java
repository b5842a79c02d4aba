package dev.zenith.server.export;

import dev.zenith.testkit.PgCluster;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The export's own tar writer, read back by GNU tar: directories, an empty file, a file of a few MiB (more than
 * the writer's buffer) written in uneven pieces, a name too long for ustar (its pax header), modes and times;
 * plain and zstd-compressed. A member shorter or longer than its header said is an error, not a broken archive.
 */
class TarSinkTest {
    Path dir;

    @BeforeEach
    void makeDirectory() throws IOException {
        dir = Files.createTempDirectory("tar-sink-");
    }

    @AfterEach
    void removeDirectory() {
        PgCluster.deleteTree(dir);
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void gnuTarExtractsWhatWasWritten(boolean zstd) throws Exception {
        Path tar = dir.resolve(zstd ? "t.tar.zst" : "t.tar");
        Instant when = Instant.parse("2026-01-02T03:04:05.678Z");
        byte[] big = new byte[(3 << 20) + 1234];
        new Random(7).nextBytes(big);
        String longName = "pg_tblspc/16400/PG_15_202209061/16384/" + "x".repeat(90);
        byte[] small = "hello".getBytes(StandardCharsets.UTF_8);
        try (TarSink sink = new TarSink(tar, zstd)) {
            sink.directory("base", when);
            sink.directory("pg_tblspc/16400/PG_15_202209061/16384", when);
            try (OutputStream out = sink.file("base/empty", 0, when)) {
                assertTrue(out != null);
            }
            try (OutputStream out = sink.file("base/big", big.length, when)) {
                for (int off = 0, step = 1; off < big.length; off += step, step = step * 3 + 1) {
                    out.write(big, off, Math.min(step, big.length - off));
                }
            }
            try (OutputStream out = sink.file(longName, small.length, when)) {
                out.write(small);
            }
            sink.finish();
        }
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(tar)));
        Path to = Files.createDirectory(dir.resolve("x"));
        List<String> cmd = new ArrayList<>(List.of("tar"));
        if (zstd) {
            cmd.add("--zstd");
        }
        cmd.addAll(List.of("-xf", tar.toString(), "-C", to.toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String said = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), said);
        assertEquals("", said, "tar warns of nothing");
        assertEquals(0, Files.size(to.resolve("base/empty")));
        assertArrayEquals(big, Files.readAllBytes(to.resolve("base/big")));
        assertArrayEquals(small, Files.readAllBytes(to.resolve(longName)));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(to.resolve("base/big"))));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(to.resolve("base"))));
        assertEquals(Instant.parse("2026-01-02T03:04:05Z"), Files.getLastModifiedTime(to.resolve("base/big")).toInstant());
    }

    @ParameterizedTest
    @ValueSource(ints = {3, 5})
    void aMemberOfAnotherSizeThanItsHeaderIsAnError(int written) throws Exception {
        try (TarSink sink = new TarSink(dir.resolve("t.tar"), false)) {
            OutputStream out = sink.file("f", 4, Instant.now());
            assertThrows(IOException.class, () -> {
                out.write(new byte[written]);
                out.close();
            });
        }
    }
}
