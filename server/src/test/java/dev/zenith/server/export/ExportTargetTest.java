package dev.zenith.server.export;

import dev.zenith.server.domain.ConflictException;
import dev.zenith.server.domain.DomainException;
import dev.zenith.server.domain.InvalidRequestException;
import dev.zenith.testkit.PgCluster;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Where an export may go, on the real file system: new paths or empty directories outside the daemon's
 * own, through symbolic links too; the export appears only when committed, and a failed or refused one
 * leaves nothing.
 */
class ExportTargetTest {
    Path dir;
    Path home;

    @BeforeEach
    void makeDirectories() throws IOException {
        dir = Files.createTempDirectory("export-target-");
        home = Files.createDirectories(dir.resolve("home"));
    }

    @AfterEach
    void removeDirectories() {
        PgCluster.deleteTree(dir);
    }

    private Map<String, Path> forbidden() {
        return Map.of("ZENITH_HOME", home);
    }

    @Test
    void theExportAppearsOnlyWhenCommitted() throws IOException {
        Path tar = dir.resolve("out.tar");
        ExportTarget t = ExportTarget.check(tar, ExportFormat.TAR, forbidden());
        Files.writeString(t.temporary(), "archive");
        assertTrue(Files.notExists(tar));
        assertTrue(t.temporary().getFileName().toString().startsWith(".out.tar.zenith-export-"), t.temporary().toString());
        t.commit();
        assertEquals("archive", Files.readString(tar));
        assertEquals(List.of("home", "out.tar"), listing());
    }

    @Test
    void anEmptyDirectoryIsReplacedAndOneFilledMeanwhileIsKept() throws IOException {
        Path target = Files.createDirectory(dir.resolve("empty"));
        ExportTarget t = ExportTarget.check(target, ExportFormat.DIRECTORY, forbidden());
        Files.createDirectory(t.temporary());
        Files.writeString(t.temporary().resolve("PG_VERSION"), "15\n");
        t.commit();
        assertEquals("15\n", Files.readString(target.resolve("PG_VERSION")));

        Path other = Files.createDirectory(dir.resolve("other"));
        ExportTarget u = ExportTarget.check(other, ExportFormat.DUMP, forbidden());
        Files.createDirectory(u.temporary());
        Files.writeString(other.resolve("theirs"), "someone else's"); // written while the export ran
        assertThrows(ConflictException.class, u::commit);
        u.discard();
        assertEquals(List.of("theirs"), listing(other));
        assertEquals(List.of("empty", "home", "other"), listing());
    }

    @Test
    void aFileThatAppearedWhileExportingIsNotOverwritten() throws IOException {
        Path tar = dir.resolve("late.tar.zst");
        ExportTarget t = ExportTarget.check(tar, ExportFormat.TAR_ZSTD, forbidden());
        Files.writeString(t.temporary(), "archive");
        Files.writeString(tar, "theirs");
        assertThrows(ConflictException.class, t::commit);
        t.discard();
        assertEquals("theirs", Files.readString(tar));
        assertEquals(List.of("home", "late.tar.zst"), listing());
    }

    @Test
    void placesOfTheDaemonAndTakenPathsAreRefused() throws IOException {
        Files.createSymbolicLink(dir.resolve("link-to-home"), home);
        Files.writeString(dir.resolve("taken"), "x");
        Files.createSymbolicLink(dir.resolve("link-to-empty"), Files.createDirectory(dir.resolve("empty")));
        assertEquals(ConflictException.class, refused(home.resolve("x.tar"), ExportFormat.TAR));
        assertEquals(ConflictException.class, refused(dir.resolve("link-to-home").resolve("x"), ExportFormat.DIRECTORY)); // by real path
        assertEquals(ConflictException.class, refused(dir.resolve("taken"), ExportFormat.TAR));
        assertEquals(ConflictException.class, refused(dir.resolve("taken"), ExportFormat.DIRECTORY));
        assertEquals(ConflictException.class, refused(dir.resolve("link-to-empty"), ExportFormat.DIRECTORY)); // a link is not a directory of ours
        assertEquals(ConflictException.class, refused(dir.resolve("empty"), ExportFormat.TAR)); // a file format needs a new name
        assertEquals(InvalidRequestException.class, refused(Path.of("relative.tar"), ExportFormat.TAR));
        assertEquals(InvalidRequestException.class, refused(dir.resolve("missing/x.tar"), ExportFormat.TAR));
        assertEquals(List.of("empty", "home", "link-to-empty", "link-to-home", "taken"), listing());
    }

    private Class<?> refused(Path target, ExportFormat format) {
        return assertThrows(DomainException.class, () -> ExportTarget.check(target, format, forbidden())).getClass();
    }

    private List<String> listing() throws IOException {
        return listing(dir);
    }

    private static List<String> listing(Path d) throws IOException {
        try (Stream<Path> s = Files.list(d)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
