package dev.zenith.server.redo;

import dev.zenith.pgexec.FileTrees;
import dev.zenith.pgexec.PgInstallation;
import dev.zenith.storage.Store;
import dev.zenith.storage.image.ImageManifest;
import dev.zenith.storage.timeline.PgTimelines;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.control.ControlFile;
import dev.zenith.wal.control.DbState;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The reference a redo result is held against: today's full path to a data directory at X, a copy
 * of the whole image plus all WAL from the image's checkpoint to X (zero after it), recovered by
 * PostgreSQL's crash recovery and stopped cleanly.
 */
final class ReferenceDirectory {
    private ReferenceDirectory() {
    }

    /** Builds it in {@code into} (a fresh directory the PostgreSQL user can write); returns its data directory. */
    static Path build(PgInstallation pg, Path image, WalSource wal, Lsn target, Path into) throws IOException {
        Path data = into.resolve("data");
        copyTree(image, data);
        Path walDir = data.resolve("pg_wal");
        FileTrees.delete(walDir);
        Files.createDirectories(walDir.resolve("archive_status"));
        ControlFile control = ControlFile.parse(Files.readAllBytes(data.resolve("global/pg_control")));
        wal.writeSegments(control.checkPointCopy().thisTimeLineId(), control.checkPointCopy().redo(), target, walDir);
        Files.write(data.resolve("global/pg_control"), control.withState(DbState.IN_PRODUCTION).toFile());
        Files.deleteIfExists(data.resolve("postgresql.auto.conf"));
        RecoveryServer.writeConfiguration(data, RecoveryServer.settings(control, into, "32MB"));
        pg.handOver(into);
        RecoveryServer server = new RecoveryServer(pg, data, into.resolve("postgres.log"), Duration.ofMinutes(10));
        server.start();
        server.stop();
        return data;
    }

    /**
     * The same from a store: the image a compute at {@code target} of timeline {@code tl} starts from (on its
     * lineage) and all WAL since, in segments named for the lineage's PostgreSQL timelines with their history
     * files; pg_control's minRecoveryPoint names the target's timeline when it is a later one, so that crash
     * recovery follows the switch (as a rebuild does). Returns its data directory.
     */
    static Path fromStore(PgInstallation pg, Store store, TimelineId tl, Lsn target, Path into) throws IOException {
        ImageManifest image = store.images().imageFor(tl, target).orElseThrow(() -> new IOException("no image below " + target));
        Path data = into.resolve("data");
        store.images().materialize(image, data);
        Path walDir = data.resolve("pg_wal");
        FileTrees.delete(walDir);
        Files.createDirectories(walDir.resolve("archive_status"));
        store.pgWal().writeSegments(tl, image.redoLsn(), target, walDir);
        for (Map.Entry<Integer, byte[]> h : store.pgTimelines().historyFiles(tl).entrySet()) {
            Files.write(walDir.resolve(String.format("%08X.history", h.getKey())), h.getValue());
        }
        ControlFile control = ControlFile.parse(Files.readAllBytes(data.resolve("global/pg_control"))).withState(DbState.IN_PRODUCTION);
        int tli = PgTimelines.tliAt(store.pgTimelines().entries(tl), target.plus(-1));
        if (control.checkPointCopy().thisTimeLineId() != tli) {
            control = control.withMinRecoveryPoint(target, tli);
        }
        Files.write(data.resolve("global/pg_control"), control.toFile());
        Files.deleteIfExists(data.resolve("postgresql.auto.conf"));
        RecoveryServer.writeConfiguration(data, RecoveryServer.settings(control, into, "32MB"));
        pg.handOver(into);
        RecoveryServer server = new RecoveryServer(pg, data, into.resolve("postgres.log"), Duration.ofMinutes(10));
        server.start();
        server.stop();
        return data;
    }

    /** Copies a data directory; the copy's top directory is 0700, as PostgreSQL requires. */
    static void copyTree(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        Files.setPosixFilePermissions(to, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        try (Stream<Path> paths = Files.walk(from)) {
            for (Path p : (Iterable<Path>) paths::iterator) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target, StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        }
    }
}
